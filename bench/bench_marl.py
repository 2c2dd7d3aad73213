"""MARL benchmarks: environment throughput and training time to the exploitability goals.

1. Environment steps per second of the batched :class:`TensorGameEnv` against a PettingZoo
   Python loop (:class:`MarkovGameParallelEnv`, one episode at a time, the way outside tools drive
   environments) on the same scenario, at 1, 64 and 4096 parallel episodes, with ratios from one run.
2. Training with default configs: final NashConv as a fraction of the uniform profile's, and wall
   time, for the goals of the MARL issue (cournot with mappo/ippo/maddpg/iql, portfolio with qmix,
   kyle with mappo).

Run ``python bench/bench_marl.py [--quick] [--skip-training]``. Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from gametools import NormalFormGame, nash_conv, uniform_profile
from gametools.interop.pettingzoo import MarkovGameParallelEnv
from gametools.marl.env import TensorGameEnv
from gametools.marl.train import make_config, train
from gametools.scenarios import get_scenario

GOALS = [
    # (scenario, params, algorithm, goal fraction of uniform NashConv, time goal in seconds)
    ("cournot", {"n_firms": 2}, "mappo", 0.10, 120),
    ("cournot", {"n_firms": 2}, "ippo", 0.10, 120),
    ("cournot", {"n_firms": 2}, "maddpg", 0.10, 120),
    ("cournot", {"n_firms": 2}, "iql", 0.10, 120),
    ("portfolio", {}, "qmix", 0.10, None),
    ("kyle", {}, "mappo", 0.20, None),
]


def as_markov(game):
    return game.to_markov_game() if isinstance(game, NormalFormGame) else game


def pettingzoo_steps_per_second(game, seconds: float) -> float:
    env = MarkovGameParallelEnv(game)
    rng = np.random.default_rng(0)
    env.reset(seed=0)
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        actions = {agent: int(rng.integers(env.action_space(agent).n)) for agent in env.agents}
        _, _, terminations, truncations, _ = env.step(actions)
        steps += 1
        if any(terminations.values()) or any(truncations.values()):
            env.reset()
    return steps / (time.perf_counter() - start)


def tensor_steps_per_second(game, num_envs: int, seconds: float) -> float:
    env = TensorGameEnv(game, num_envs=num_envs, seed=0)
    env.reset()
    generator = torch.Generator().manual_seed(0)
    actions = [torch.randint(0, n, (num_envs,), generator=generator) for n in game.num_actions]
    for _ in range(10):
        env.step(actions)
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        env.step(actions)
        steps += num_envs
    return steps / (time.perf_counter() - start)


def environment_table(seconds: float) -> None:
    print("\n== environment steps per second (same scenario, same run) ==")
    print(f"{'scenario':<12} {'states':>7} {'PettingZoo loop':>16} {'envs':>6} "
          f"{'TensorGameEnv':>14} {'ratio':>8}")
    for name in ("cournot", "portfolio"):
        game = as_markov(get_scenario(name).build())
        baseline = pettingzoo_steps_per_second(game, seconds)
        for num_envs in (1, 64, 4096):
            ours = tensor_steps_per_second(game, num_envs, seconds)
            print(f"{name:<12} {game.num_states:>7} {baseline:>16,.0f} {num_envs:>6} "
                  f"{ours:>14,.0f} {ours / baseline:>8.1f}x")
    print("goal: >= 1,000,000 steps/s at 4096 parallel episodes on CPU")


def training_table(quick: bool) -> None:
    print("\n== training with default configs (2 CPU cores) ==")
    print(f"{'scenario':<10} {'algo':<7} {'steps':>8} {'time s':>8} {'NashConv':>10} "
          f"{'uniform':>10} {'fraction':>9} {'goal':>6}  status")
    for scenario, params, algorithm, goal, time_goal in GOALS:
        if quick and scenario != "cournot":
            continue
        spec = get_scenario(scenario)
        game = as_markov(spec.build(**params))
        uniform = nash_conv(game, uniform_profile(game)).nash_conv
        result = train(spec, make_config(algorithm), algorithm=algorithm, seed=0, params=params)
        fraction = result.exploitability.nash_conv / uniform
        ok = fraction <= goal and (time_goal is None or result.wall_time <= time_goal)
        print(f"{scenario:<10} {algorithm:<7} {result.steps:>8} {result.wall_time:>8.1f} "
              f"{result.exploitability.nash_conv:>10.4g} {uniform:>10.4g} {fraction:>9.3f} "
              f"{goal:>6.2f}  {'PASS' if ok else 'MISS'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="shorter measurements")
    parser.add_argument("--skip-training", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    environment_table(0.5 if args.quick else 2.0)
    if not args.skip_training:
        training_table(args.quick)


if __name__ == "__main__":
    main()
