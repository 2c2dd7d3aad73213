"""Benchmark: does the default ``solve`` certify an equilibrium on every game of a random set?

Usage::

    PYTHONPATH=. python bench/bench_robustness.py [--quick] [--only normal|stochastic|gambit]
                                                  [--cpu-limit S] [--workers K] [--gambit DIR]

Three sets, every game solved by :func:`gametools.solvers.solve` with no method named (the
default method and its fallbacks), each in a fresh process with a CPU-time limit (independent
of the machine's load; a game past it counts as a failure). Stochastic games pass 90% of the
limit to ``solve`` as its budget (``cpu_seconds``; the rest covers start-up and the
certificate), which gives the Markov-QRE homotopy 75% of it and its fallback, the tracing
procedure, what is left:

- ``normal``: 200 random N-player normal-form games, 2x2x2 up to 4x4x4 and 5 players x 2
  actions; Gaussian payoffs, integers in [0, 100) and integers in {0, 1, 2} (degenerate: ties).
- ``stochastic``: 100 random discounted stochastic games, 4 to 128 states, 2-3 players, 2-4
  actions, dense transitions or 3 successors per state and joint action, discount 0.8-0.99,
  uniform or integer rewards.
- ``gambit``: every game with 3 or more players in Gambit's collection (16 ``.nfg`` files at
  commit 8883f75), to regret <= 1e-8 of the payoff range. The collection is not shipped: pass
  ``--gambit DIR``, a checkout of github.com/gambitproject/gambit (its ``.nfg`` files are found
  anywhere below DIR); without it the set is skipped with a message.

The certificate is recomputed here, independently of the result's own ``regret``: the largest
deviation gain over the payoff range (normal form) or NashConv over the reward range (the exact
policy evaluator, stochastic games). ``--quick`` runs the first 24 / 12 / 16 games.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
# the Gambit checkout, passed to the per-game subprocesses through the environment
GAMBIT_VARIABLE = "GAMETOOLS_BENCH_GAMBIT"
# the CPU limit of a game, passed to the subprocess: the Markov homotopy gets most of it as its
# budget (``cpu_seconds``), so that it can return a certified profile found along its path
# before the limit kills it
LIMIT_VARIABLE = "GAMETOOLS_BENCH_CPU_LIMIT"
TOLERANCE = 1e-8

NORMAL_SHAPES = [(2, 2, 2), (2, 2, 3), (2, 3, 3), (3, 3, 3), (3, 3, 4), (3, 4, 4), (4, 4, 4),
                 (2, 2, 2, 2, 2)]
NORMAL_KINDS = ["gaussian", "integer", "degenerate"]
STATES = [4, 8, 16, 32, 64, 128]


def normal_game(seed: int) -> tuple[str, Any]:
    """The ``seed``-th game of the normal-form set and its description."""
    from gametools import NormalFormGame

    shape = NORMAL_SHAPES[seed % len(NORMAL_SHAPES)]
    kind = NORMAL_KINDS[(seed // len(NORMAL_SHAPES)) % len(NORMAL_KINDS)]
    rng = np.random.default_rng(seed)
    size = (len(shape), *shape)
    if kind == "gaussian":
        game = NormalFormGame(rng.standard_normal(size))
    else:
        game = NormalFormGame(rng.integers(0, 3 if kind == "degenerate" else 100, size=size))
    return f"{'x'.join(map(str, shape))} {kind}", game


def stochastic_game(seed: int) -> tuple[str, Any]:
    """The ``seed``-th game of the stochastic set and its description."""
    rng = np.random.default_rng(1000 + seed)
    num_states = STATES[seed % len(STATES)]
    num_players = 2 + (seed // len(STATES)) % 2
    num_actions = 2 + (seed // (2 * len(STATES))) % 3
    discount = round(float(rng.uniform(0.8, 0.99)), 3)
    sparse = bool(seed % 2)
    integer = bool((seed // 7) % 2)
    game = markov_game(rng, num_states, num_players, num_actions, discount, sparse=sparse,
                       integer=integer)
    label = (f"S={num_states} N={num_players} n={num_actions} d={discount} "
             f"{'sparse' if sparse else 'dense'} {'int' if integer else 'unif'}")
    return label, game


def markov_game(rng: np.random.Generator, num_states: int, num_players: int, num_actions: int,
                discount: float, *, sparse: bool = False, integer: bool = False) -> Any:
    """Random discounted game: rewards uniform on [0, 1] (or integers in [-10, 10]),
    transitions uniform over all states (or over 3 random successors), uniform start."""
    from gametools import MarkovGame

    shape = (num_states,) + (num_actions,) * num_players
    rewards = (rng.integers(-10, 11, (num_players,) + shape).astype(float) if integer
               else rng.uniform(0.0, 1.0, (num_players,) + shape))
    transitions = rng.uniform(0.0, 1.0, shape + (num_states,))
    if sparse:
        ranks = rng.random(shape + (num_states,)).argsort(axis=-1).argsort(axis=-1)
        transitions = np.where(ranks < 3, transitions, 0.0)
    transitions /= transitions.sum(axis=-1, keepdims=True)
    return MarkovGame(transitions, rewards, np.full(num_states, 1.0 / num_states), discount)


def gambit_files(root: str | None) -> list[Path]:
    """The ``.nfg`` files with 3 or more players below ``root`` (sorted; none without a root)."""
    from gametools.formats import read_game

    if not root:
        return []
    found = []
    for path in sorted(Path(root).rglob("*.nfg")):
        try:
            if read_game(path).num_players >= 3:
                found.append(path)
        except Exception as error:  # a file our reader refuses is reported, not skipped silently
            print(f"  cannot read {path.relative_to(root)}: {error}")
    return found


def gambit_game(index: int) -> tuple[str, Any]:
    from gametools.formats import read_game

    root = os.environ[GAMBIT_VARIABLE]
    path = gambit_files(root)[index]
    return str(path.relative_to(root)), read_game(path)


def run_one(kind: str, index: int) -> dict[str, Any]:
    """Solve one game with the default method; certify independently."""
    from gametools import nash_conv
    from gametools.model import MarkovGame
    from gametools.solvers import solve
    from gametools.solvers.result import max_regret, reward_range

    label, game = {"normal": normal_game, "stochastic": stochastic_game,
                   "gambit": gambit_game}[kind](index)
    options: dict[str, Any] = {}
    if isinstance(game, MarkovGame) and os.environ.get(LIMIT_VARIABLE):
        options["cpu_seconds"] = 0.9 * float(os.environ[LIMIT_VARIABLE]) - time.process_time()
    started, cpu = time.perf_counter(), time.process_time()
    result = solve(game, **options)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    if not result.equilibria:
        certificate = float("inf")
    elif isinstance(game, MarkovGame):
        report = nash_conv(game, result.equilibria[0].strategies)
        certificate = float(report.per_player.max()) / reward_range(game)
    else:
        certificate = max_regret(game, result.equilibria[0].strategies)
    return {"kind": kind, "index": index, "label": label, "status": result.status,
            "method": result.method, "fallback": list(result.extra.get("fallback_from", [])),
            "certificate": certificate, "wall_s": wall, "cpu_s": cpu,
            "steps": result.extra.get("steps"), "recoveries": result.extra.get("recoveries", 0)}


def _child_limits(cpu_seconds: float) -> None:
    import resource

    limit = int(cpu_seconds) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (limit, limit))


def run_isolated(kind: str, index: int, cpu_limit: float) -> dict[str, Any]:
    """:func:`run_one` in a fresh process limited to ``cpu_limit`` CPU seconds (a limit that
    does not depend on how loaded the machine is); a game past it counts as a failure."""
    command = [sys.executable, __file__, "--one", kind, str(index)]
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env[LIMIT_VARIABLE] = str(cpu_limit)
    failure = {"kind": kind, "index": index, "label": "?", "method": "-", "fallback": [],
               "certificate": float("inf"), "wall_s": float("nan"), "cpu_s": float("nan")}
    try:
        completed = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT,
                                   timeout=20.0 * cpu_limit,
                                   preexec_fn=lambda: _child_limits(cpu_limit))
    except subprocess.TimeoutExpired:
        return dict(failure, status="timeout")
    if completed.returncode != 0:
        killed = completed.returncode in (-signal.SIGXCPU, -signal.SIGKILL)
        return dict(failure, status="cpu-limit" if killed else "error",
                    label=(completed.stderr.strip().splitlines() or ["?"])[-1][:44])
    return dict(json.loads(completed.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small prefix of each set")
    parser.add_argument("--only", choices=["normal", "stochastic", "gambit"], action="append")
    parser.add_argument("--cpu-limit", type=float, default=300.0,
                        help="CPU seconds per game (a game past it counts as a failure)")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--start", type=int, default=0, help="first game index of each set")
    parser.add_argument("--stop", type=int, default=None, help="last game index + 1")
    parser.add_argument("--indices", type=int, nargs="+", default=None,
                        help="run these game indices of each set instead of --start/--stop")
    parser.add_argument("--gambit", default=None,
                        help="a checkout of github.com/gambitproject/gambit (the gambit set)")
    parser.add_argument("--one", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.gambit:
        os.environ[GAMBIT_VARIABLE] = str(Path(args.gambit).resolve())
    if args.one:
        print(json.dumps(run_one(args.one[0], int(args.one[1]))))
        return
    sizes = {"normal": 24 if args.quick else 200, "stochastic": 12 if args.quick else 100,
             "gambit": len(gambit_files(os.environ.get(GAMBIT_VARIABLE)))}
    kinds = args.only or ["gambit", "normal", "stochastic"]
    print(f"default solve on random games; {os.cpu_count()} CPUs, {args.workers} worker(s), "
          f"load average at start {', '.join(f'{x:.1f}' for x in os.getloadavg())}", flush=True)
    for kind in kinds:
        if kind == "gambit" and not sizes["gambit"]:
            print("\n== gambit: skipped: pass --gambit DIR, a checkout of "
                  "github.com/gambitproject/gambit ==")
            continue
        stop = sizes[kind] if args.stop is None else min(args.stop, sizes[kind])
        chosen = (" ".join(map(str, args.indices)) if args.indices
                  else f"{args.start}..{stop - 1}")
        print(f"\n== {kind}: games {chosen} ==")
        print(f"{'#':>4} {'game':<44} {'status':>9} {'method':>14} {'certificate':>12} "
              f"{'wall s':>8} {'cpu s':>7}  fallback", flush=True)
        rows: list[dict[str, Any]] = []
        with concurrent.futures.ThreadPoolExecutor(args.workers) as pool:
            indices = ([i for i in args.indices if i < sizes[kind]] if args.indices
                       else range(args.start, stop))
            futures = [pool.submit(run_isolated, kind, index, args.cpu_limit)
                       for index in indices]
            for future in futures:
                row = future.result()
                rows.append(row)
                print(f"{row['index']:>4} {row['label']:<44} {row['status']:>9} "
                      f"{row['method']:>14} {row['certificate']:>12.2e} {row['wall_s']:>8.2f} "
                      f"{row['cpu_s']:>7.2f}  {','.join(row['fallback'])}", flush=True)
        certified = [r for r in rows if r["status"] == "success"
                     and r["certificate"] <= TOLERANCE]
        silent = [r for r in rows if r["status"] == "success" and r["certificate"] > TOLERANCE]
        cpus = [r["cpu_s"] for r in rows if np.isfinite(r["cpu_s"])]
        print(f"{kind}: certified {len(certified)}/{len(rows)}; reported failures "
              f"{sum(r['status'] == 'failed' for r in rows)}; over the CPU limit or crashed "
              f"{sum(r['status'] not in ('success', 'failed') for r in rows)}; silent failures "
              f"(success but certificate > {TOLERANCE:g}) {len(silent)}; fallbacks used "
              f"{sum(bool(r['fallback']) for r in rows)}; CPU s median "
              f"{statistics.median(cpus) if cpus else float('nan'):.2f} max "
              f"{max(cpus) if cpus else float('nan'):.2f} total {sum(cpus):.1f}; load average "
              f"now {', '.join(f'{x:.1f}' for x in os.getloadavg())}", flush=True)


if __name__ == "__main__":
    main()
