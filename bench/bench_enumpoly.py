"""Every isolated equilibrium of N-player games: gametools' ``enumpoly`` beside Gambit's.

Usage::

    PYTHONPATH=. python bench/bench_enumpoly.py --gambit DIR [--support-seconds 30] [--only NAME]

``DIR`` is a checkout of github.com/gambitproject/gambit (or any folder of ``.nfg`` files); every
file with three or more players is solved by :func:`gametools.solvers.enumpoly.polynomial_enumeration`
and, when pygambit is importable (``pip install --pre pygambit==17.0.0b2``), by Gambit's
``enumpoly_solve`` on the same file in the same run. Printed per game: the number of equilibria
each finds, how many of ours are irrational, whether our list is complete (else the number of
unresolved supports), Gambit's equilibria that we miss (max-norm distance > 1e-6 from all of ours;
expected 0) and ours that Gambit misses, our largest regret recomputed in floats, and wall / CPU
seconds of both. Nothing here is a test: the suite covers the same properties on games it builds.
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import time
from pathlib import Path
from typing import Any

import numpy as np


def _cpu() -> float:
    """CPU seconds of this process and its finished children (the per-support workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _ours(path: Path, support_seconds: float) -> dict[str, Any]:
    from gametools.formats import read_game
    from gametools.solvers.enumpoly import polynomial_enumeration

    game = read_game(path)
    wall, cpu = time.perf_counter(), _cpu()
    result = polynomial_enumeration(game, support_seconds=support_seconds)
    wall, cpu = time.perf_counter() - wall, _cpu() - cpu
    regret = 0.0
    for equilibrium in result.equilibria:
        payoffs = game.action_payoffs(equilibrium.strategies)
        regret = max(regret, max(float(u.max() - u @ x)
                                 for u, x in zip(payoffs, equilibrium.strategies)))
    return {"game": game, "profiles": [np.concatenate(e.strategies) for e in result.equilibria],
            "irrational": len(result.extra["algebraic"]), "complete": result.complete,
            "unresolved": len(result.extra["unresolved_supports"]), "regret": regret,
            "wall": wall, "cpu": cpu}


def _gambit_worker(path: str, queue: Any) -> None:
    import pygambit

    game = pygambit.read_nfg(path)
    wall, cpu = time.perf_counter(), _cpu()
    result = pygambit.nash.enumpoly_solve(game, use_strategic=True)
    wall, cpu = time.perf_counter() - wall, _cpu() - cpu
    profiles = []
    for profile in result.equilibria:
        # pygambit 17: players are labels, a profile maps a player to {strategy label: prob}
        profiles.append(np.array([float(v) for player in game.players
                                  for _, v in profile[player]]))
    queue.put({"profiles": profiles, "wall": wall, "cpu": cpu})


def _gambit(path: Path, limit: float) -> dict[str, Any] | str:
    try:
        import pygambit  # noqa: F401
    except ImportError:
        return "pygambit not installed"
    queue: Any = multiprocessing.get_context("fork").Queue()
    worker = multiprocessing.get_context("fork").Process(target=_gambit_worker,
                                                          args=(str(path), queue))
    worker.start()
    worker.join(limit)
    if worker.is_alive():
        worker.kill()
        worker.join()
        return f"over {limit:.0f} s"
    if queue.empty():
        return "failed (refused the file)"
    found: dict[str, Any] = queue.get()
    return found


def _missing(reference: list[np.ndarray], found: list[np.ndarray]) -> int:
    return sum(1 for p in reference
               if not any(p.shape == q.shape and np.abs(p - q).max() <= 1e-6 for q in found))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gambit", required=True, help="a folder holding Gambit's .nfg files")
    parser.add_argument("--support-seconds", type=float, default=30.0)
    parser.add_argument("--gambit-seconds", type=float, default=600.0)
    parser.add_argument("--only", default=None, help="only files whose name contains this")
    args = parser.parse_args()
    from gametools.formats import read_game

    paths = []
    for path in sorted(Path(args.gambit).rglob("*.nfg")):
        if args.only and args.only not in path.name:
            continue
        try:
            if read_game(path).num_players >= 3:
                paths.append(path)
        except Exception as error:  # reported, not skipped silently
            print(f"cannot read {path}: {error}")
    print(f"{'game':42s} {'actions':13s} {'ours':>5s} {'irr':>4s} {'complete':>9s} "
          f"{'gambit':>7s} {'we miss':>8s} {'gambit misses':>13s} {'regret':>8s} "
          f"{'ours s (cpu)':>14s} {'gambit s (cpu)':>15s}")
    for path in paths:
        ours = _ours(path, args.support_seconds)
        theirs = _gambit(path, args.gambit_seconds)
        complete = "yes" if ours["complete"] else f"no ({ours['unresolved']})"
        ours_time = f"{ours['wall']:.1f} ({ours['cpu']:.1f})"
        if isinstance(theirs, str):
            gambit_count, missed, extra, their_time = "-", "-", "-", theirs
        else:
            gambit_count = str(len(theirs["profiles"]))
            missed = str(_missing(theirs["profiles"], ours["profiles"]))
            extra = str(_missing(ours["profiles"], theirs["profiles"]))
            their_time = f"{theirs['wall']:.1f} ({theirs['cpu']:.1f})"
        print(f"{path.name[:42]:42s} {'x'.join(map(str, ours['game'].num_actions)):13s} "
              f"{len(ours['profiles']):5d} {ours['irrational']:4d} {complete:>9s} "
              f"{gambit_count:>7s} {missed:>8s} {extra:>13s} {ours['regret']:8.1e} "
              f"{ours_time:>14s} {their_time:>15s}", flush=True)


if __name__ == "__main__":
    main()
