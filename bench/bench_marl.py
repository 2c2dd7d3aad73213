"""MARL benchmarks: environment throughput and training time to the exploitability goals.

1. Environment steps per second of the batched :class:`TensorGameEnv` against a PettingZoo
   Python loop (:class:`MarkovGameParallelEnv`, one episode at a time, the way outside tools drive
   environments) on the same scenario, at 1, 64 and 4096 parallel episodes, with ratios from one run.
2. Training with default configs: final NashConv as a fraction of the uniform profile's, and wall
   time, for the goals of the MARL issue (cournot with mappo/ippo/maddpg/iql, portfolio with qmix,
   kyle with mappo).
3. The EPyMARL matrix games (Papoudakis et al. 2021; payoffs from uoe-agents/matrix-games,
   25-step episodes, constant observations) and the two-step game of Rashid et al. (2018): the
   greedy evaluation return (best over evaluation points, as the paper's table reports maximum
   returns) and the exact value of the final policy, beside the known result: decentralised
   learners settle on the safe (1, 1) cell of the penalty games (2 x 25 = 50) and on (1, 1) of
   the climbing game (7 x 25 = 175, relative overgeneralisation); QMIX reaches 8 on the two-step
   game, VDN and independent learners 7. The paper's metrics (maximum and average returns over
   evaluation points, EPyMARL's settings, a column for the paper's own numbers) are in
   ``bench/bench_epymarl.py``. The full mode adds recurrent (GRU, EPyMARL's default agent) rows.
4. Memory: the recall game (:func:`gametools.marl.matrix_games.recall_game`), where every
   memoryless policy is worth exactly 1/2 and recalling the cue earns 1, for feed-forward and
   recurrent (GRU) agents of the same learner in the same run, with their wall times.

Run ``python bench/bench_marl.py [--quick] [--skip-training] [--skip-matrix] [--skip-memory]``. Nothing here
asserts a time.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
import torch

from gametools import NormalFormGame, nash_conv, uniform_profile
from gametools.exploitability import ExploitabilityResult
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
        report = result.exploitability
        assert isinstance(report, ExploitabilityResult)  # a tabular game, independent agents
        fraction = report.nash_conv / uniform
        ok = fraction <= goal and (time_goal is None or result.wall_time <= time_goal)
        print(f"{scenario:<10} {algorithm:<7} {result.steps:>8} {result.wall_time:>8.1f} "
              f"{report.nash_conv:>10.4g} {uniform:>10.4g} {fraction:>9.3f} "
              f"{goal:>6.2f}  {'PASS' if ok else 'MISS'}")


def _matrix_cases(quick: bool) -> list[tuple[str, Any, dict[str, float]]]:
    """(label, game, known return per episode by algorithm) of the matrix-game table."""
    from gametools.marl.matrix_games import (
        CLIMBING,
        penalty_payoff,
        repeated_matrix_game,
        two_step_game,
    )

    learners = ("iql", "ippo", "mappo", "maa2c", "maddpg", "vdn", "qmix")
    cases: list[tuple[str, Any, dict[str, float]]] = [
        ("climbing", repeated_matrix_game(CLIMBING), dict.fromkeys(learners, 175.0))]
    for k in ((-100,) if quick else (0, -25, -50, -75, -100)):
        known = 250.0 if k == 0 else 50.0
        cases.append((f"penalty {k}", repeated_matrix_game(penalty_payoff(k)),
                      dict.fromkeys(learners, known)))
    cases.append(("two-step", two_step_game(), {"qmix": 8.0, "vdn": 7.0, "iql": 7.0}))
    return cases


MATRIX_BUDGET: dict[str, dict[str, Any]] = {
    "iql": {"learning_starts": 500, "batch_size": 64, "epsilon_fraction": 0.5},
    "vdn": {"learning_starts": 500, "batch_size": 64, "epsilon_fraction": 0.5},
    "qmix": {"learning_starts": 500, "batch_size": 64, "epsilon_fraction": 0.5},
    "mappo": {"learning_rate": 3e-3}, "ippo": {"learning_rate": 3e-3},
    "maa2c": {"learning_rate": 1e-2}, "central": {"learning_rate": 3e-3},
    "maddpg": {"learning_starts": 500, "batch_size": 64},
}


def matrix_game_table(quick: bool) -> None:
    print("\n== EPyMARL matrix games and the two-step game (return per episode) ==")
    algorithms = ("iql", "vdn", "qmix", "mappo") if quick else \
        ("iql", "vdn", "qmix", "mappo", "ippo", "maa2c", "maddpg", "central")
    seeds = (0,) if quick else (0, 1, 2)
    steps = 20_000 if quick else 200_000
    print(f"{'game':<12} {'algo':<8} {'seeds':>5} {'steps':>8} {'greedy max':>14} "
          f"{'final value':>14} {'known':>7} {'time s':>7}")
    for label, game, known in _matrix_cases(quick):
        for algorithm in algorithms:
            if algorithm != "central" and algorithm not in known:
                continue
            for recurrent in ((False,) if quick or algorithm in ("maddpg", "central")
                              else (False, True)):
                best, values, times = [], [], []
                for seed in seeds:
                    config = make_config(algorithm, total_steps=steps, num_envs=16,
                                         eval_interval=steps // 4, checkpoint_interval=0,
                                         eval_episodes=4, recurrent=recurrent,
                                         **MATRIX_BUDGET[algorithm])
                    result = train(game, config, algorithm=algorithm, seed=seed)
                    best.append(max(row["eval_return_0"] for row in result.metrics))
                    # a recurrent policy has no tabular value: its final greedy return instead
                    values.append(result.metrics[-1]["eval_return_0"] if recurrent else
                                  float(result.exploitability.values[0]))  # type: ignore
                    times.append(result.wall_time)
                reference = known.get(algorithm)
                name = algorithm + ("+gru" if recurrent else "")
                print(f"{label:<12} {name:<8} {len(seeds):>5} {steps:>8} "
                      f"{np.mean(best):>8.1f}±{np.std(best):<5.1f} "
                      f"{np.mean(values):>8.1f}±{np.std(values):<5.1f} "
                      f"{'-' if reference is None else f'{reference:g}':>7} "
                      f"{np.mean(times):>7.1f}")


def memory_table(quick: bool) -> None:
    """Feed-forward against recurrent agents on the recall game (memoryless bound 1/2)."""
    from gametools.marl.matrix_games import recall_game

    print("\n== memory: the recall game (every memoryless policy earns exactly 0.5, recall 1) ==")
    algorithms = ("iql", "qmix", "mappo") if quick else \
        ("iql", "vdn", "qmix", "mappo", "ippo", "maa2c")
    seeds = (0,) if quick else (0, 1, 2)
    steps = 4096
    print(f"{'algo':<7} {'agent':<6} {'seeds':>5} {'steps':>6} {'greedy final':>14} "
          f"{'exact value':>12} {'bound':>6} {'time s':>7} {'cpu s':>7}")
    for algorithm in algorithms:
        for recurrent in (False, True):
            returns, values, times, cpu = [], [], [], []
            for seed in seeds:
                started = time.process_time()
                config = make_config(algorithm, total_steps=steps, num_envs=32,
                                     eval_interval=steps // 2, checkpoint_interval=0,
                                     eval_episodes=16, recurrent=recurrent,
                                     **MATRIX_BUDGET[algorithm])
                result = train(recall_game(), config, algorithm=algorithm, seed=seed)
                returns.append(result.metrics[-1]["eval_return_0"])
                if not recurrent:
                    values.append(float(result.exploitability.values[0]))  # type: ignore
                times.append(result.wall_time)
                cpu.append(time.process_time() - started)
            value = f"{np.mean(values):.3f}" if values else "-"
            print(f"{algorithm:<7} {'gru' if recurrent else 'mlp':<6} {len(seeds):>5} "
                  f"{steps:>6} {np.mean(returns):>8.3f}±{np.std(returns):<5.3f} {value:>12} "
                  f"{'1' if recurrent else '0.5':>6} {np.mean(times):>7.1f} "
                  f"{np.mean(cpu):>7.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="shorter measurements")
    parser.add_argument("--skip-training", action="store_true")
    parser.add_argument("--skip-matrix", action="store_true")
    parser.add_argument("--skip-memory", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    environment_table(0.5 if args.quick else 2.0)
    if not args.skip_training:
        training_table(args.quick)
    if not args.skip_matrix:
        matrix_game_table(args.quick)
    if not args.skip_memory:
        memory_table(args.quick)


if __name__ == "__main__":
    main()
