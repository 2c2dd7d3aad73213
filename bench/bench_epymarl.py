"""The EPyMARL matrix-game table, learner speed against CleanRL-style loops, and simple_spread.

Three measurements of gametools' MARL learners as a MARL researcher would make them:

1. **The matrix games of Papoudakis et al. (2021)**, "Benchmarking Multi-Agent Deep
   Reinforcement Learning Algorithms in Cooperative Tasks" (NeurIPS Datasets and Benchmarks;
   arXiv 2006.07869): climbing and penalty ``k = 0, -25, -50, -75, -100``, payoffs from
   uoe-agents/matrix-games, 25-step episodes with a constant observation (EPyMARL's README:
   ``env_args.time_limit=25``, keys ``matrixgames:climbing-nostate-v0`` and
   ``matrixgames:penalty-{0,25,50,75,100}-nostate-v0``). For IQL, VDN, QMIX, MAPPO, IPPO,
   MADDPG and MAA2C it prints, per game, the paper's metrics computed on our runs: the maximum
   over evaluation points of the greedy evaluation return ("maximum returns") and its mean over
   evaluation points ("average returns"), as mean +- std over seeds, beside the value of the
   outcome the literature reports (decentralised learners settle on the safe cell: 2 x 25 = 50
   on the penalty games with k < 0, 7 x 25 = 175 on climbing, relative overgeneralisation;
   250 on penalty k = 0) and beside the paper's own numbers where a table of them is given
   with ``--paper-table FILE.json`` (see :data:`PAPER_TABLE`), with a "within 1 std" column.
2. **Steps per CPU second** of each learner's ``train()`` against a minimal CleanRL-style
   implementation (``bench/cleanrl_marl.py``) on the same vectorised environment with the same
   network sizes and batches, both evaluating the exact NashConv of their policy at the start
   and the end, and the ratio (goal: within 10%, i.e. ratio >= 0.9).
3. **mpe2's simple_spread_v3** (a PettingZoo ``ParallelEnv`` passed to ``train()`` by import
   path) with MAPPO and IQL at a modest budget. No published return for it was found in the
   stored sources (see the note in :func:`spread_table`), so none is printed beside ours.

Modes: the default is the quick version run by ``make bench`` (penalty -100 and climbing, small
budget, 2 seeds, a short speed run). ``--full`` is **long** (hours to days on CPU): all six games,
all seven learners, EPyMARL's hyperparameters (:data:`EPYMARL_SETTINGS`), ``--steps`` (default
:data:`FULL_STEPS`) and ``--seeds`` (default 5). Every run is appended to ``--results`` (JSON
lines) and skipped when already there, so a long table can be computed in pieces
(``--games``, ``--algorithms``) and resumed; the table is printed from that file.

Run ``python bench/bench_epymarl.py [--full] [--skip-matrix] [--skip-speed] [--skip-spread]``.
Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cleanrl_marl import dqn, ppo

from gametools.exploitability import nash_conv
from gametools.marl.adapters import as_tabular
from gametools.marl.env import TensorGameEnv
from gametools.marl.matrix_games import (
    CLIMBING,
    EPYMARL_EPISODE_STEPS,
    penalty_payoff,
    repeated_matrix_game,
)
from gametools.marl.train import make_config, train

ALGORITHMS = ("iql", "vdn", "qmix", "mappo", "ippo", "maddpg", "maa2c")
GAMES = ("climbing", "penalty 0", "penalty -25", "penalty -50", "penalty -75", "penalty -100")

#: Budget of ``--full`` in environment steps (each step is one joint action of both agents).
#: The paper's matrix-game budget could not be read from a stored copy of the paper while this
#: benchmark was written: set ``--steps`` to it (and ``--seeds``) when reproducing its table.
FULL_STEPS = 2_000_000
FULL_SEEDS = 5

#: The paper's matrix-game table (Papoudakis et al. 2021, arXiv 2006.07869, the table of
#: maximum returns with parameter sharing, rows "Climbing" and "Penalty k=..."), as
#: ``{game: {algorithm: [mean, spread]}}``. EMPTY ON PURPOSE: the text of that table was not
#: available in any stored source searched (arXiv/ar5iv/vdocument copies are indexed only by
#: their opening pages; the uoe-agents/epymarl and uoe-agents/matrix-games repositories hold no
#: results), and numbers are not typed from memory. Give them with ``--paper-table FILE.json``
#: in this layout (the game names of :data:`GAMES`); ``spread`` is the table's ``+-`` value.
PAPER_TABLE: dict[str, dict[str, list[float]]] = {}


def known_outcome(game: str) -> float:
    """Return per episode of the outcome the literature reports for decentralised learners.

    Climbing: the (B, B) cell, 7 per step (relative overgeneralisation, Claus & Boutilier
    1998); penalty k < 0: the safe (B, B) cell, 2 per step; penalty k = 0: either coordinated
    optimum, 10 per step (no penalty to avoid). Times the 25 steps of an episode. In the
    matrix-games climbing payoff (C, C) pays 5 but is no equilibrium (the column player gains 1
    at (C, B)): short runs that stop there (125 per episode, NashConv 25) have not yet climbed
    from the cell that uniform exploration favours to the safe equilibrium.
    """
    if game == "climbing":
        return 7.0 * EPYMARL_EPISODE_STEPS
    return (10.0 if game == "penalty 0" else 2.0) * EPYMARL_EPISODE_STEPS


def build_game(game: str) -> Any:
    payoff = CLIMBING if game == "climbing" else penalty_payoff(float(game.split()[1]))
    return repeated_matrix_game(payoff, steps=EPYMARL_EPISODE_STEPS)


# ------------------------------------------------------------------------------------------
# hyperparameters
# ------------------------------------------------------------------------------------------

def epymarl_settings(algorithm: str, steps: int) -> dict[str, Any]:
    """EPyMARL's defaults for ``algorithm`` mapped onto our config fields.

    Source: uoe-agents/epymarl ``src/config/default.yaml`` and ``src/config/algs/<alg>.yaml``
    (commit cbc38c0). Mapping: EPyMARL counts batches and buffers in episodes of 25 steps, we
    count transitions (x 25); its episode runner plays one episode and then makes one update,
    so Q-learners and MADDPG run 25 parallel episodes with one update per vectorised step (one
    update per 25 environment steps); its parallel runner collects ``batch_size_run = 10`` whole
    episodes per update, so the actor-critics run 10 environments for 25-step rollouts with
    one minibatch. Its hard target update every 200 episodes becomes Polyak ``tau = 1/200``
    per update; its epsilon annealing time becomes ``epsilon_fraction`` (capped at 1). Its
    GRU agents (``use_rnn: True`` for IQL, MAPPO, IPPO, MAA2C, MADDPG) are kept feed-forward
    here (constant observations, one state: memory cannot help except to count time) with its
    ``hidden_dim`` as the width; EPyMARL's ``q_nstep: 5`` returns become GAE. ``gamma = 0.99``
    (EPyMARL's default; the game itself is undiscounted).
    """
    episode = EPYMARL_EPISODE_STEPS
    common: dict[str, Any] = {"gamma": 0.99, "share_parameters": True}
    if algorithm in ("iql", "vdn", "qmix"):
        anneal = 200_000 if algorithm == "iql" else 50_000
        width = 128 if algorithm == "iql" else 64
        return {**common, "learning_rate": 3e-4 if algorithm == "iql" else 5e-4,
                "hidden_sizes": (width, width), "num_envs": episode,
                "updates_per_iteration": 1, "batch_size": 32 * episode,
                "buffer_size": 5000 * episode, "learning_starts": 32 * episode,
                "epsilon_start": 1.0, "epsilon_end": 0.05,
                "epsilon_fraction": min(1.0, anneal / steps), "target_tau": 1 / 200,
                "max_grad_norm": 10.0}
    if algorithm == "maddpg":
        return {**common, "learning_rate": 5e-4, "actor_learning_rate": 5e-4,
                "hidden_sizes": (128, 128), "num_envs": episode, "updates_per_iteration": 1,
                "batch_size": 32 * episode, "buffer_size": min(50_000 * episode, 1_000_000),
                "learning_starts": 32 * episode, "tau": 1 / 200, "logit_penalty": 1e-3,
                "max_grad_norm": 10.0}
    entropy = {"mappo": 0.001, "ippo": 0.001, "maa2c": 0.01}[algorithm]
    settings = {**common, "learning_rate": 5e-4 if algorithm == "maa2c" else 3e-4,
                "hidden_sizes": (128, 128), "num_envs": 10, "rollout_steps": episode,
                "minibatches": 1, "entropy_coef": entropy, "max_grad_norm": 10.0}
    if algorithm != "maa2c":
        settings.update(epochs=4, clip=0.2)
    return settings


def quick_settings(algorithm: str, steps: int) -> dict[str, Any]:
    """The short-budget settings of the default ``make bench`` run (not EPyMARL's)."""
    if algorithm in ("iql", "vdn", "qmix"):
        return {"learning_starts": 500, "batch_size": 64, "epsilon_fraction": 0.5,
                "num_envs": 16}
    if algorithm == "maddpg":
        return {"learning_starts": 500, "batch_size": 64, "num_envs": 16}
    return {"learning_rate": 1e-2 if algorithm == "maa2c" else 3e-3, "num_envs": 16}


# ------------------------------------------------------------------------------------------
# 1. the matrix-game table
# ------------------------------------------------------------------------------------------

def run_cell(game: str, algorithm: str, seed: int, steps: int, settings: str) -> dict[str, Any]:
    """Train one (game, algorithm, seed) and return its record."""
    fields = (epymarl_settings if settings == "epymarl" else quick_settings)(algorithm, steps)
    evaluations = 20
    config = make_config(algorithm, total_steps=steps, checkpoint_interval=0,
                         eval_interval=max(1, steps // evaluations), eval_episodes=4, **fields)
    cpu, wall = time.process_time(), time.perf_counter()
    result = train(build_game(game), config, algorithm=algorithm, seed=seed)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    returns = [row["eval_return_0"] for row in result.metrics
               if math.isfinite(row.get("eval_return_0", math.nan))]
    exact = getattr(result.exploitability, "values", None)
    return {"game": game, "algorithm": algorithm, "seed": seed, "budget": steps,
            "steps": int(result.steps),  # rounded up to whole iterations
            "settings": settings, "max_return": max(returns), "mean_return": float(np.mean(returns)),
            "final_value": None if exact is None else float(exact[0]),
            "cpu_s": cpu, "wall_s": wall}


def load_results(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def append_result(path: Path, record: dict[str, Any]) -> None:
    # one JSON line per run; a line is written whole (runs are minutes apart)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def mean_std(values: list[float]) -> tuple[float, float]:
    return float(np.mean(values)), float(np.std(values))


def matrix_table(games: Iterable[str], algorithms: Iterable[str], seeds: int, steps: int,
                 settings: str, results: Path, paper: dict[str, dict[str, list[float]]]) -> None:
    games, algorithms = list(games), list(algorithms)
    done = {(r["game"], r["algorithm"], r["seed"], r["budget"], r["settings"])
            for r in load_results(results)}
    for game in games:
        for algorithm in algorithms:
            for seed in range(seeds):
                if (game, algorithm, seed, steps, settings) in done:
                    continue
                record = run_cell(game, algorithm, seed, steps, settings)
                append_result(results, record)
                print(f"  ran {game} {algorithm} seed {seed}: max {record['max_return']:.1f} "
                      f"cpu {record['cpu_s']:.0f}s", flush=True)
    print(f"\n== EPyMARL matrix games ({settings} settings, {steps:,} steps, {seeds} seeds; "
          f"return per 25-step episode) ==")
    print("maximum / average: the paper's metrics (greedy evaluation return, max / mean over "
          "the evaluation points, the first at step 0 as EPyMARL's first test precedes any "
          "update), mean+-std over seeds; final exact: exact value of the final policy")
    print(f"{'game':<13} {'algo':<7} {'seeds':>5} {'maximum':>14} {'average':>14} "
          f"{'final exact':>14} {'known':>6} {'paper max':>14} {'within 1 std':>12} "
          f"{'cpu s/run':>9}")
    records = load_results(results)
    for game in games:
        for algorithm in algorithms:
            rows = [r for r in records if (r["game"], r["algorithm"], r["budget"],
                                           r["settings"]) == (game, algorithm, steps, settings)
                    and r["seed"] < seeds]
            if not rows:
                continue
            best, best_sd = mean_std([r["max_return"] for r in rows])
            average, average_sd = mean_std([r["mean_return"] for r in rows])
            published = paper.get(game, {}).get(algorithm)
            if published is None:
                paper_text, within = "n/a", "n/a"
            else:
                paper_text = f"{published[0]:.1f}+-{published[1]:.1f}"
                within = "yes" if abs(best - published[0]) <= max(best_sd, published[1]) \
                    else "no"
            cpu = float(np.mean([r["cpu_s"] for r in rows]))
            finals = [r["final_value"] for r in rows if r["final_value"] is not None]
            final = "-" if not finals else "{:>8.1f}+-{:<5.1f}".format(*mean_std(finals))
            print(f"{game:<13} {algorithm:<7} {len(rows):>5} {best:>8.1f}+-{best_sd:<5.1f} "
                  f"{average:>8.1f}+-{average_sd:<5.1f} {final:>14} {known_outcome(game):>6.0f} "
                  f"{paper_text:>14} {within:>12} {cpu:>9.1f}")
    if not paper:
        print("paper max: n/a — the paper's table was not available to this benchmark (see "
              "PAPER_TABLE); pass --paper-table FILE.json to print it and the 'within 1 std' "
              "column (|ours - paper| <= max(our std, the paper's +-))")


# ------------------------------------------------------------------------------------------
# 2. speed against CleanRL-style loops
# ------------------------------------------------------------------------------------------

#: learner -> (reference loop, its keyword arguments); the same sizes as our config's defaults.
def _references(num_envs: int) -> dict[str, tuple[Callable[..., int], dict[str, Any]]]:
    ppo_like = {"rollout_steps": 16, "epochs": 4, "minibatches": 4, "hidden_sizes": (64, 64),
                "learning_rate": 5e-4}
    a2c_like = {"rollout_steps": 5, "epochs": 1, "minibatches": 1, "gae_lambda": 1.0,
                "normalize_advantages": False, "hidden_sizes": (64, 64), "learning_rate": 5e-4}
    q_like = {"hidden_sizes": (64, 64), "learning_rate": 1e-3, "buffer_size": 50_000,
              "batch_size": 256, "learning_starts": 1_000}
    return {"mappo": (ppo, {**ppo_like, "critic": "state"}),
            "ippo": (ppo, {**ppo_like, "critic": "observation"}),
            "maa2c": (ppo, {**a2c_like, "critic": "state"}),
            "iql": (dqn, {**q_like, "mixer": "none"}),
            "vdn": (dqn, {**q_like, "mixer": "vdn"}),
            "qmix": (dqn, {**q_like, "mixer": "qmix"})}


def _train_steps(game: Any, config: Any, algorithm: str, seed: int) -> int:
    return train(game, config, algorithm=algorithm, seed=seed).steps


def _exact_nash_conv(game: Any, policies: Any) -> float:
    """The evaluation both sides pay: the exact NashConv of the current policy (what
    ``train()`` computes at its evaluation points)."""
    return nash_conv(game, as_tabular(policies, game)).nash_conv


def _measure(function: Callable[[], int]) -> tuple[float, float, int]:
    cpu, wall = time.process_time(), time.perf_counter()
    steps = function()
    return time.process_time() - cpu, time.perf_counter() - wall, steps


def speed_table(steps_on_policy: int, steps_replay: int, repeats: int, num_envs: int = 32,
                learners: Iterable[str] | None = None) -> None:
    """Steps per CPU second of ``train()`` against the reference loop, same environment."""
    game = build_game("penalty -100")
    print(f"\n== steps per CPU second: train() against a CleanRL-style loop (bench/cleanrl_marl.py)"
          f", penalty -100, {num_envs} parallel episodes, torch threads 1 ==")
    print("same environment, network sizes (64, 64; shared, one-hot ids), batch, epochs and "
          "minibatches, both one batched pass over all agents, both evaluate the exact NashConv "
          "of their policy at the start and at the end (train()'s schedule with "
          "eval_interval = steps, no evaluation episodes); ours also pays train()'s setup, "
          "return logging, reading the final tabular policy once more, and for PPO value "
          "normalisation and truncation bootstrap values; CPU seconds of the whole call, "
          f"median of {repeats} alternating repeats")
    print(f"{'learner':<8} {'steps':>7} {'ours steps/cpu-s':>17} {'ref steps/cpu-s':>16} "
          f"{'ratio':>6} {'ours cpu s':>10} {'ours wall s':>11} {'ref cpu s':>9} {'goal':>6}")
    for algorithm, (reference, kwargs) in _references(num_envs).items():
        if learners is not None and algorithm not in learners:
            continue
        steps = steps_replay if reference is dqn else steps_on_policy
        # warm-up: imports and first-call costs are paid once, outside the measurement
        train(game, make_config(algorithm, total_steps=2 * num_envs * 16, num_envs=num_envs,
                                eval_interval=2 * num_envs * 16, eval_episodes=0,
                                checkpoint_interval=0), algorithm=algorithm, seed=0)
        reference(TensorGameEnv(game, num_envs=num_envs, seed=0), total_steps=2 * num_envs * 16,
                  **kwargs)
        ours_rate, ref_rate, ours_cpu, ours_wall, ref_cpu = [], [], [], [], []
        for repeat in range(repeats):
            config = make_config(algorithm, total_steps=steps, num_envs=num_envs,
                                 eval_interval=steps, eval_episodes=0, checkpoint_interval=0,
                                 share_parameters=True, gamma=0.99)
            cpu, wall, done = _measure(functools.partial(_train_steps, game, config,
                                                         algorithm, repeat))
            ours_rate.append(done / cpu)
            ours_cpu.append(cpu)
            ours_wall.append(wall)
            env = TensorGameEnv(game, num_envs=num_envs, seed=repeat)
            cpu, _, done = _measure(functools.partial(
                reference, env, total_steps=steps, seed=repeat,
                evaluate=functools.partial(_exact_nash_conv, game), **kwargs))
            ref_rate.append(done / cpu)
            ref_cpu.append(cpu)
        ours, ref = statistics.median(ours_rate), statistics.median(ref_rate)
        ratio = ours / ref
        print(f"{algorithm:<8} {steps:>7} {ours:>17,.0f} {ref:>16,.0f} {ratio:>6.2f} "
              f"{statistics.median(ours_cpu):>10.2f} {statistics.median(ours_wall):>11.2f} "
              f"{statistics.median(ref_cpu):>9.2f} {'PASS' if ratio >= 0.9 else 'MISS':>6}")
    print("maddpg: no CleanRL-style MADDPG reference here (CleanRL has none); not compared")
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


# ------------------------------------------------------------------------------------------
# 3. simple_spread
# ------------------------------------------------------------------------------------------

def spread_table(steps: int, seeds: int, algorithms: Iterable[str]) -> None:
    """MAPPO and IQL on mpe2's simple_spread_v3 (3 agents, 25 steps, local_ratio 0.5).

    Published reference: none found. EPyMARL's benchmark reports MPE "Spread" with its own
    environment fork and rewards summed over agents; BenchMARL (facebookresearch/BenchMARL)
    ships a ``pettingzoo/simple_spread`` task config but publishes its results as W&B reports,
    not numbers in the repository. Neither table was readable in the stored sources, so ours is
    printed alone, per agent (mpe2's rewards are per agent: local distance term mixed 50/50
    with the shared global term).
    """
    try:
        import mpe2  # noqa: F401
    except ImportError:
        print("\n== simple_spread_v3: skipped, mpe2 is not installed (pip install mpe2) ==")
        return
    print(f"\n== mpe2 simple_spread_v3 ({steps:,} steps, {seeds} seeds, 8 parallel episodes; "
          f"greedy evaluation return of agent 0 per 25-step episode) ==")
    print(f"{'algo':<7} {'seeds':>5} {'first eval':>14} {'final eval':>14} {'best eval':>14} "
          f"{'cpu s/run':>9} {'wall s/run':>10} {'published':>9}")
    for algorithm in algorithms:
        first, final, best, cpu, wall = [], [], [], [], []
        for seed in range(seeds):
            config = make_config(algorithm, total_steps=steps, num_envs=8,
                                 eval_interval=max(1, steps // 10), eval_episodes=8,
                                 checkpoint_interval=0)
            c, w = time.process_time(), time.perf_counter()
            result = train("pettingzoo:mpe2.simple_spread_v3", config, algorithm=algorithm,
                           seed=seed)
            cpu.append(time.process_time() - c)
            wall.append(time.perf_counter() - w)
            returns = [row["eval_return_0"] for row in result.metrics]
            first.append(returns[0])
            final.append(returns[-1])
            best.append(max(returns))
        print(f"{algorithm:<7} {seeds:>5} " + " ".join(
            f"{np.mean(v):>8.2f}+-{np.std(v):<5.2f}" for v in (first, final, best))
            + f" {np.mean(cpu):>9.1f} {np.mean(wall):>10.1f} {'n/a':>9}")


# ------------------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", action="store_true",
                        help="LONG: all games and learners at --steps with EPyMARL settings")
    parser.add_argument("--steps", type=int, help="matrix-game budget per run")
    parser.add_argument("--seeds", type=int, help="seeds per matrix-game cell")
    parser.add_argument("--games", help="comma-separated subset of: " + ", ".join(GAMES))
    parser.add_argument("--algorithms", help="comma-separated subset of: "
                        + ", ".join(ALGORITHMS))
    parser.add_argument("--settings", choices=("epymarl", "quick"),
                        help="hyperparameters (default: epymarl with --full, else quick)")
    parser.add_argument("--results", type=Path,
                        help="JSON-lines file of runs (appended, resumable; default: a fresh "
                             "temporary file)")
    parser.add_argument("--paper-table", type=Path,
                        help="JSON {game: {algorithm: [mean, +-]}} of the paper's table")
    parser.add_argument("--speed-steps", type=int,
                        help="environment steps per speed run (every learner)")
    parser.add_argument("--speed-repeats", type=int)
    parser.add_argument("--speed-algorithms",
                        help="comma-separated subset of: mappo, ippo, maa2c, iql, vdn, qmix")
    parser.add_argument("--spread-steps", type=int)
    parser.add_argument("--spread-seeds", type=int)
    parser.add_argument("--skip-matrix", action="store_true")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--skip-spread", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    paper = PAPER_TABLE
    if args.paper_table is not None:
        paper = json.loads(args.paper_table.read_text())
    if not args.skip_matrix:
        games = args.games.split(",") if args.games else \
            (GAMES if args.full else ("climbing", "penalty -100"))
        algorithms = args.algorithms.split(",") if args.algorithms else ALGORITHMS
        bad = sorted(set(games) - set(GAMES)) + sorted(set(algorithms) - set(ALGORITHMS))
        if bad:
            parser.error(f"unknown game or algorithm: {', '.join(bad)}")
        steps = args.steps or (FULL_STEPS if args.full else 10_000)
        seeds = args.seeds or (FULL_SEEDS if args.full else 2)
        results = args.results
        if results is None:
            import tempfile
            results = Path(tempfile.mkdtemp(prefix="bench_epymarl_")) / "runs.jsonl"
        matrix_table(games, algorithms, seeds, steps,
                     args.settings or ("epymarl" if args.full else "quick"), results, paper)
    if not args.skip_speed:
        on_policy = args.speed_steps or (102_400 if args.full else 20_480)
        speed_table(on_policy, on_policy,
                    repeats=args.speed_repeats or (3 if args.full else 1),
                    learners=args.speed_algorithms.split(",") if args.speed_algorithms else None)
    if not args.skip_spread:
        spread_table(args.spread_steps or (200_000 if args.full else 10_000),
                     args.spread_seeds or (3 if args.full else 1), ("mappo", "iql"))


if __name__ == "__main__":
    main()
