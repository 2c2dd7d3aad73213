"""Benchmark: stationary equilibria of random general-sum stochastic games, ours beside sgamesolver.

Usage::

    PYTHONPATH=. python bench/bench_stochastic.py [--quick] [--threads K] [--repeat R]
        [--sgamesolver PYTHON] [--cpu-limit S] [--rows S,N,n,seed ...]

Each row solves one random game (fixed seed) in a fresh subprocess, so that its peak memory
(``ru_maxrss``) is its own: rewards uniform on [0, 1], dense Dirichlet(1) transitions, discount
0.95, uniform initial distribution (the shape of sgamesolver's ``SGame.random_game``). Columns:
wall and CPU seconds of :func:`gametools.solvers.homotopy.markov_qre_homotopy` (best of
``--repeat``), accepted / rejected path steps, NashConv divided by the reward range from the
independent evaluator :func:`gametools.nash_conv`, peak resident memory of the process and the
part of it added by the solve.

Peer, measured in the same run: with ``--sgamesolver PYTHON`` (the interpreter of a separate
virtual environment where sgamesolver is installed: it needs ``numpy < 2``; ``python3 -m venv
DIR; DIR/bin/pip install wheel; DIR/bin/pip install sgamesolver "numpy<2" "pandas<3"``), every
game is also written to a neutral ``.npz`` file and solved by sgamesolver's QRE homotopy
(Eibelshaeuser and Poensgen) through ``bench/sgamesolver_driver.py`` in a subprocess of that
interpreter, one BLAS/OpenMP thread like ours. Its answer is certified here by the same exact
evaluator (NashConv over the reward range; ours must reach 1e-8, sgamesolver stops at its own
path-following criterion, ``convergence_tol``, default 1e-7 or ``--sgamesolver-tol``, so its
certificate is reported as it comes: ``cert`` when it is within 1e-8, ``uncert`` otherwise,
``/fail`` when sgamesolver itself reports no equilibrium). Both sides run under the
same CPU-time limit (``--cpu-limit``, ``RLIMIT_CPU``); a side that passes it, crashes or does not
certify to 1e-8 is listed as such, and ratios (sgamesolver / ours, CPU and wall) are given for the
games where both finish.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

TOLERANCE = 1e-8

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


def write_neutral(path: str, num_states: int, num_players: int, num_actions: int,
                  seed: int) -> None:
    """The game as plain arrays (``transitions``, ``rewards``, ``discount``) for the peer."""
    import numpy as np

    game = random_game(num_states, num_players, num_actions, seed)
    np.savez(path, transitions=game.dense_transitions(), rewards=np.asarray(game.rewards),
             discount=np.float64(game.discount))


def certify_peer(num_states: int, num_players: int, num_actions: int, seed: int,
                 answer: str) -> dict:
    """NashConv / reward range of the peer's strategies (``answer``: the driver's output)."""
    import numpy as np

    from gametools import nash_conv
    from gametools.solvers.result import reward_range

    game = random_game(num_states, num_players, num_actions, seed)
    with np.load(answer, allow_pickle=False) as data:
        strategies = np.asarray(data["strategies"], dtype=float)
        measured = {key: float(data[key]) for key in ("wall_s", "cpu_s", "setup_s")}
        success = bool(data["success"])
    policies = []
    for i, n in enumerate(game.num_actions):
        policy = np.clip(strategies[:, i, :n], 0.0, None)
        policies.append(policy / policy.sum(axis=1, keepdims=True))
    certificate = nash_conv(game, policies).nash_conv / reward_range(game)
    return dict(measured, peer_success=success, nash_conv=float(certificate))


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
    parser.add_argument("--sgamesolver", metavar="PYTHON", default=None,
                        help="interpreter of a virtual environment with sgamesolver installed")
    parser.add_argument("--sgamesolver-tol", type=float, default=None,
                        help="sgamesolver's convergence_tol (default: its own, 1e-7)")
    parser.add_argument("--cpu-limit", type=float, default=600.0,
                        help="CPU seconds per solve, each side (past it: a failure)")
    parser.add_argument("--rows", nargs="+", default=None, metavar="S,N,n,seed",
                        help="games to run instead of the default rows")
    parser.add_argument("--one", nargs=4, type=int, help=argparse.SUPPRESS)
    parser.add_argument("--write", nargs=5, help=argparse.SUPPRESS)
    parser.add_argument("--certify", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        num_states, num_players, num_actions, seed = args.one
        print(json.dumps(run_one(num_states, num_players, num_actions, seed,
                                 repeat=args.repeat)))
        return
    if args.write:
        write_neutral(args.write[0], *map(int, args.write[1:]))
        return
    if args.certify:
        num_states, num_players, num_actions, seed = map(int, args.certify[:4])
        print(json.dumps(certify_peer(num_states, num_players, num_actions, seed,
                                      args.certify[4])))
        return

    rows = QUICK_ROWS if args.quick else FULL_ROWS
    if args.rows:
        rows = [tuple(int(x) for x in row.split(",")) for row in args.rows]  # type: ignore[misc]
    env = dict(os.environ)
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[name] = str(args.threads)
    root = Path(__file__).resolve().parents[1]
    env["PYTHONPATH"] = str(root) + os.pathsep + env.get("PYTHONPATH", "")
    print(f"markov_qre_homotopy on random games (discount 0.95); {os.cpu_count()} CPUs, "
          f"{args.threads} BLAS thread(s), CPU limit {args.cpu_limit:g} s per solve, load "
          f"average at start {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    peer = args.sgamesolver
    if peer is not None:
        print(f"sgamesolver: QRE homotopy, convergence_tol "
              f"{args.sgamesolver_tol if args.sgamesolver_tol is not None else '1e-7 (default)'}")
    else:
        print("sgamesolver: skipped (pass --sgamesolver PYTHON, the interpreter of a virtual "
              "environment where it is installed)")
    header = (f"{'S':>4} {'N':>2} {'n':>2} {'seed':>4} {'status':>8} {'wall s':>8} {'cpu s':>8} "
              f"{'steps':>6} {'rej':>5} {'NashConv/range':>15} {'peak MB':>8} {'solve MB':>8}")
    if peer:
        header += (f" | {'sgs status':>10} {'wall s':>8} {'cpu s':>8} {'NashConv/range':>15}"
                   f" {'cpu ratio':>9} {'wall ratio':>10}")
    print(header)
    print("-" * len(header))
    ratios: list[tuple[tuple[int, ...], float, float]] = []
    for num_states, num_players, num_actions, seed in rows:
        game_args = [str(num_states), str(num_players), str(num_actions), str(seed)]
        command = [sys.executable, __file__, "--one", *game_args, "--repeat", str(args.repeat)]
        ours = _limited(command, env, root, args.cpu_limit)
        line = f"{num_states:>4} {num_players:>2} {num_actions:>2} {seed:>4} "
        if "error" in ours:
            line += f"{ours['error']:>8} {'':>8} {'':>8} {'':>6} {'':>5} {'':>15} {'':>8} {'':>8}"
        else:
            line += (f"{ours['status']:>8} {ours['wall_s']:>8.2f} {ours['cpu_s']:>8.2f} "
                     f"{ours['steps']:>6} {ours['rejected']:>5} {ours['nash_conv']:>15.2e} "
                     f"{ours['peak_mb']:>8.0f} {ours['solver_mb']:>8.0f}")
        if peer:
            theirs = _run_peer(peer, game_args, env, root, args.cpu_limit, args.sgamesolver_tol)
            if "error" in theirs:
                line += f" | {theirs['error']:>10}"
            else:
                certified = theirs["nash_conv"] <= TOLERANCE
                label = ("cert" if certified else "uncert") + ("" if theirs["peer_success"]
                                                              else "/fail")
                line += (f" | {label:>10} {theirs['wall_s']:>8.2f} {theirs['cpu_s']:>8.2f} "
                         f"{theirs['nash_conv']:>15.2e}")
                if "error" not in ours:
                    cpu_ratio = theirs["cpu_s"] / ours["cpu_s"]
                    wall_ratio = theirs["wall_s"] / ours["wall_s"]
                    line += f" {cpu_ratio:>8.1f}x {wall_ratio:>9.1f}x"
                    ratios.append(((num_states, num_players, num_actions), cpu_ratio,
                                   wall_ratio))
        print(line, flush=True)
    if ratios:
        cpu = sorted(r[1] for r in ratios)
        print(f"\nsgamesolver / ours where both finished ({len(ratios)} games): CPU ratio "
              f"min {cpu[0]:.1f}x median {cpu[len(cpu) // 2]:.1f}x max {cpu[-1]:.1f}x")
        for size in sorted({r[0] for r in ratios}):
            chosen = [r for r in ratios if r[0] == size]
            print(f"  S={size[0]} N={size[1]} n={size[2]}: CPU "
                  f"{', '.join(f'{r[1]:.1f}x' for r in chosen)}; wall "
                  f"{', '.join(f'{r[2]:.1f}x' for r in chosen)}")
    print("Timings on a shared machine vary with its load; CPU seconds are the steadier column.")


def _cpu_limit(seconds: float) -> None:
    import resource

    limit = int(seconds) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (limit, limit))


def _limited(command: list[str], env: dict[str, str], root: Path, cpu_limit: float, *,
             document: bool = True) -> dict:
    """Run ``command`` under the CPU limit; its last stdout line is a JSON document (when
    ``document``; otherwise an empty dict stands for success)."""
    import signal

    try:
        completed = subprocess.run(command, capture_output=True, text=True, env=env, cwd=root,
                                   check=False,
                                   timeout=30.0 * cpu_limit,
                                   preexec_fn=lambda: _cpu_limit(cpu_limit))
    except subprocess.TimeoutExpired:
        return {"error": "timeout"}
    if completed.returncode in (-signal.SIGXCPU, -signal.SIGKILL):
        return {"error": "cpu-limit"}
    if completed.returncode != 0:
        tail = completed.stderr.strip().splitlines()[-1:]
        print(f"    error: {tail}", file=sys.stderr)
        return {"error": "error"}
    if not document:
        return {}
    return dict(json.loads(completed.stdout.strip().splitlines()[-1]))


def _run_peer(python: str, game_args: list[str], env: dict[str, str], root: Path,
              cpu_limit: float, convergence_tol: float | None) -> dict:
    """Write the game, solve it with sgamesolver in its own interpreter, certify the answer."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        game_path, answer = os.path.join(folder, "game.npz"), os.path.join(folder, "answer.npz")
        subprocess.run([sys.executable, __file__, "--write", game_path, *game_args], env=env,
                       cwd=root, check=True)
        peer_env = {key: value for key, value in env.items() if key != "PYTHONPATH"}
        tail = [] if convergence_tol is None else [repr(convergence_tol)]
        outcome = _limited([python, str(root / "bench" / "sgamesolver_driver.py"), game_path,
                            answer, *tail], peer_env, root, cpu_limit, document=False)
        if outcome.get("error") and outcome["error"] != "error":
            return outcome
        if not os.path.exists(answer):
            return {"error": outcome.get("error", "no answer")}
        return _limited([sys.executable, __file__, "--certify", *game_args, answer], env, root,
                        cpu_limit)


if __name__ == "__main__":
    main()
