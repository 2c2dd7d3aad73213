"""Benchmark: stationary equilibria of random general-sum stochastic games by the Markov QRE path.

Usage::

    PYTHONPATH=. python bench/bench_stochastic.py [--quick] [--threads K] [--repeat R]

Each row solves one random game (fixed seed) in a fresh subprocess, so that its peak memory
(``ru_maxrss``) is its own: rewards uniform on [0, 1], dense Dirichlet(1) transitions, discount
0.95, uniform initial distribution (the shape of sgamesolver's ``SGame.random_game``). Columns:
wall and CPU seconds of :func:`gametools.solvers.homotopy.markov_qre_homotopy` (best of
``--repeat``), accepted / rejected path steps, NashConv divided by the reward range from the
independent evaluator :func:`gametools.nash_conv`, peak resident memory of the process and the
part of it added by the solve.

Reference: sgamesolver's QRE homotopy (Eibelshaeuser and Poensgen) needed 30 s for 64 states,
2 players, 4 actions on this machine kind (docs/DESIGN.md, "Performance ground"). sgamesolver
cannot be installed in this environment (no wheel for this Python, and it needs numpy < 2), so
the 30 s is quoted, not re-measured; the ratio column divides it by our wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REFERENCE = (64, 2, 4)
SGAMESOLVER_SECONDS = 30.0

QUICK_ROWS = [(16, 2, 3, 0), (16, 3, 2, 1), (32, 2, 4, 2), (32, 3, 3, 3), (64, 2, 4, 0),
              (64, 2, 4, 1), (64, 2, 4, 2)]
FULL_ROWS = QUICK_ROWS + [(64, 3, 3, 4), (64, 2, 5, 5), (128, 2, 4, 6), (128, 3, 2, 7),
                          (256, 2, 4, 8)]


def random_game(num_states: int, num_players: int, num_actions: int, seed: int):
    import numpy as np

    from gametools import MarkovGame

    rng = np.random.default_rng(seed)
    shape = (num_states,) + (num_actions,) * num_players
    rewards = rng.uniform(0.0, 1.0, (num_players,) + shape)
    transitions = rng.exponential(1.0, shape + (num_states,))
    transitions /= transitions.sum(axis=-1, keepdims=True)
    return MarkovGame(transitions, rewards, np.full(num_states, 1.0 / num_states), 0.95)


def run_one(num_states: int, num_players: int, num_actions: int, seed: int, repeat: int) -> dict:
    """Solve one game in this process and return the measurements."""
    import resource

    from gametools import nash_conv
    from gametools.solvers.homotopy import markov_qre_homotopy
    from gametools.solvers.result import reward_range

    game = random_game(num_states, num_players, num_actions, seed)
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    best_wall, best_cpu, result = float("inf"), float("inf"), None
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        result = markov_qre_homotopy(game)
        best_wall = min(best_wall, time.perf_counter() - wall)
        best_cpu = min(best_cpu, time.process_time() - cpu)
    assert result is not None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    certificate = nash_conv(game, result.equilibria[0].strategies).nash_conv / reward_range(game)
    return {"states": num_states, "players": num_players, "actions": num_actions, "seed": seed,
            "status": result.status, "wall_s": best_wall, "cpu_s": best_cpu,
            "steps": result.extra["steps"], "rejected": result.extra["rejected_steps"],
            "polish_attempts": result.extra["polish_attempts"],
            "lambda": result.extra["lambda"], "nash_conv": certificate,
            "peak_mb": peak / 1024.0, "solver_mb": (peak - baseline) / 1024.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="only games up to 64 states")
    parser.add_argument("--threads", type=int, default=1,
                        help="BLAS threads per solve (default 1: the matrices are small)")
    parser.add_argument("--repeat", type=int, default=1, help="report the best of R runs")
    parser.add_argument("--one", nargs=4, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(*args.one, repeat=args.repeat)))
        return

    rows = QUICK_ROWS if args.quick else FULL_ROWS
    env = dict(os.environ)
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[name] = str(args.threads)
    root = Path(__file__).resolve().parents[1]
    env["PYTHONPATH"] = str(root) + os.pathsep + env.get("PYTHONPATH", "")
    print(f"markov_qre_homotopy on random games (discount 0.95); {os.cpu_count()} CPUs, "
          f"{args.threads} BLAS thread(s), load average at start "
          f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    header = (f"{'S':>4} {'N':>2} {'n':>2} {'seed':>4} {'status':>8} {'wall s':>8} {'cpu s':>8} "
              f"{'steps':>6} {'rej':>5} {'NashConv/range':>15} {'peak MB':>8} {'solve MB':>8}"
              f" {'sgamesolver 30 s / ours':>24}")
    print(header)
    print("-" * len(header))
    reference_walls = []
    for num_states, num_players, num_actions, seed in rows:
        command = [sys.executable, __file__, "--one", str(num_states), str(num_players),
                   str(num_actions), str(seed), "--repeat", str(args.repeat)]
        completed = subprocess.run(command, capture_output=True, text=True, env=env, cwd=root)
        if completed.returncode != 0:
            print(f"{num_states:>4} {num_players:>2} {num_actions:>2} {seed:>4}  ERROR: "
                  f"{completed.stderr.strip().splitlines()[-1:]}")
            continue
        row = json.loads(completed.stdout.strip().splitlines()[-1])
        ratio = ""
        if (num_states, num_players, num_actions) == REFERENCE:
            reference_walls.append(row["wall_s"])
            ratio = f"{SGAMESOLVER_SECONDS / row['wall_s']:.1f}x"
        print(f"{num_states:>4} {num_players:>2} {num_actions:>2} {seed:>4} {row['status']:>8} "
              f"{row['wall_s']:>8.2f} {row['cpu_s']:>8.2f} {row['steps']:>6} {row['rejected']:>5} "
              f"{row['nash_conv']:>15.2e} {row['peak_mb']:>8.0f} {row['solver_mb']:>8.0f} "
              f"{ratio:>24}", flush=True)
    if reference_walls:
        worst = max(reference_walls)
        print(f"\nreference 64 states x 2 players x 4 actions: sgamesolver 30 s (quoted from "
              f"DESIGN.md; sgamesolver is not installable here: no wheel for this Python and it "
              f"requires numpy < 2). Ours: {min(reference_walls):.2f}-{worst:.2f} s over "
              f"{len(reference_walls)} seeds -> {SGAMESOLVER_SECONDS / worst:.1f}x faster in the "
              f"worst case.")
    print("Timings on a shared machine vary with its load; CPU seconds are the steadier column.")


if __name__ == "__main__":
    main()
