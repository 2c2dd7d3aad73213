"""Benchmark: two-player solvers against peer libraries, side by side in one run.

Usage::

    python bench/bench_normal_form.py [--quick] [--only enumeration|lp|lemke-howson|other]

Every time is the best of a few repeats (sub-10 ms calls: as many as fit in about 0.05 s of
CPU, at most 200), printed as wall seconds and CPU seconds
(``time.process_time``, this process only); every ratio is **our CPU time / the peer's CPU time
in the same run** (below 1: ours is faster), so a loaded machine changes both sides alike. The
load average is printed at the start and the end.

1. All extreme equilibria of random bimatrix games (fixed seeds), small-integer payoffs in
   [-5, 5] (degenerate) and Gaussian payoffs, sizes 4x4 .. 8x8 (to 14x14 in full mode): ours
   (``vertex_enumeration``, exact and certified complete; ``support_enumeration``) against
   QuantEcon (vertex / support enumeration, Lemke-Howson), nashpy (support / vertex
   enumeration) and pygambit (``enummixed_solve``; rational for integer games, floating point
   for Gaussian ones) when importable. "count!=" flags a peer whose number of equilibria
   differs from ours (ours is exact and complete). Goal: ours <= 2x QuantEcon's vertex
   enumeration. Peers expected to take longer than ~30 s at a size are skipped.
2. Zero-sum LP (``zero_sum_lp``) against one direct ``scipy.optimize.linprog`` call (HiGHS,
   default method) of the textbook maximin program and nashpy's ``linear_program``, at 200x200
   and 1000x1000 (nashpy at 200x200 only). Goal: ratio <= 1 against linprog.
3. Lemke-Howson from label 0 against QuantEcon's ``lemke_howson`` on Gaussian and 0..9 integer
   games (200x200; also 500x500 in full mode); the stages column shows which arithmetic produced
   the certified result. Goal: ratio <= 0.7.
4. The earlier Lemke-Howson and logit lines. No timing is asserted anywhere.
"""


from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gametools import NormalFormGame
from gametools.solvers.enumeration import support_enumeration, vertex_enumeration

# Largest size (max(m, n)) at which each peer is run; beyond it the peer would take > ~30 s.
LIMITS = {"ours support": 10, "nashpy support": 8, "nashpy vertex": 9, "qe support": 11,
          "qe vertex": 99, "qe lemke-howson": 99, "gambit enummixed": 10}


class Timing(NamedTuple):
    wall: float
    cpu: float


#: Sub-millisecond calls are repeated until about this many CPU seconds (at most 200 calls):
#: a best of 3-5 single calls of 0.2 ms is mostly scheduler noise on a loaded machine.
_SHORT_CALLS_SECONDS = 0.05


def _timed(fn: Callable[[], Any], repeat: int) -> tuple[Timing, Any]:
    """Best wall and best CPU seconds of ``repeat`` calls (more for calls under 10 ms, see
    ``_SHORT_CALLS_SECONDS``; ours and the peers alike), and the last result."""
    wall, cpu, out = float("inf"), float("inf"), None
    start_cpu = time.process_time()
    out = fn()
    first = time.process_time() - start_cpu
    if first < 0.01:
        repeat = max(repeat, min(200, int(_SHORT_CALLS_SECONDS / max(first, 1e-6))))
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        out = fn()
        cpu = min(cpu, time.process_time() - start_cpu)
        wall = min(wall, time.perf_counter() - start)
    return Timing(wall, cpu), out


def _ratio(ours: Timing, peer: Timing) -> float:
    """Our CPU time over the peer's (below 1: ours is faster)."""
    return ours.cpu / peer.cpu if peer.cpu > 0 else float("nan")


def _load() -> str:
    try:
        return "load average " + " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "load average unavailable"


def _peers() -> dict[str, Callable[[np.ndarray, np.ndarray], int]]:
    peers: dict[str, Callable[[np.ndarray, np.ndarray], int]] = {}
    try:
        import nashpy

        def nashpy_support(a: np.ndarray, b: np.ndarray) -> int:
            return len(list(nashpy.Game(a, b).support_enumeration()))

        def nashpy_vertex(a: np.ndarray, b: np.ndarray) -> int:
            return len(list(nashpy.Game(a, b).vertex_enumeration()))

        peers["nashpy support"] = nashpy_support
        peers["nashpy vertex"] = nashpy_vertex
    except ImportError:
        print("nashpy not available")
    try:
        from quantecon import game_theory as qe

        def qe_game(a: np.ndarray, b: np.ndarray) -> Any:
            return qe.NormalFormGame(np.stack([a, b], axis=-1))

        peers["qe vertex"] = lambda a, b: len(qe.vertex_enumeration(qe_game(a, b)))
        peers["qe support"] = lambda a, b: len(qe.support_enumeration(qe_game(a, b)))
        peers["qe lemke-howson"] = lambda a, b: int(
            qe.lemke_howson(qe_game(a, b), init_pivot=0, full_output=True)[1].converged)
    except ImportError:
        print("quantecon not available")
    try:
        import tempfile

        import pygambit as gbt

        def gambit(a: np.ndarray, b: np.ndarray) -> int:
            # payoff-version .nfg text (first player's strategy changes fastest)
            m, n = a.shape
            rows, cols = a.tolist(), b.tolist()
            body = " ".join(f"{rows[i][j]!r} {cols[i][j]!r}" for j in range(n) for i in range(m))
            with tempfile.NamedTemporaryFile("w", suffix=".nfg", delete=False) as handle:
                handle.write(f'NFG 1 R "bench" {{ "1" "2" }} {{ {m} {n} }}\n{body}\n')
            game = gbt.read_nfg(handle.name)
            Path(handle.name).unlink()
            rational = a.dtype.kind == "i"
            found = gbt.nash.enummixed_solve(game, rational=rational).equilibria
            # pygambit 17.0.0b2 can list the same equilibrium more than once: count distinct
            return len({str(profile) for profile in found})

        peers["gambit enummixed"] = gambit
    except ImportError:
        print("pygambit not available (pip install --pre pygambit==17.0.0b2)")
    return peers


def _games(sizes: list[int], kind: str, seed: int) -> list[tuple[int, np.ndarray, np.ndarray]]:
    out = []
    for size in sizes:
        rng = np.random.default_rng([seed, size])
        if kind == "integer":
            a, b = rng.integers(-5, 6, size=(2, size, size))
        else:
            a, b = rng.standard_normal(size=(2, size, size))
        out.append((size, a, b))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, fewer repeats")
    sections = {"enumeration": _enumeration, "lp": _zero_sum, "lemke-howson": _lemke_howson,
                "other": _other_solvers}
    parser.add_argument("--only", choices=sorted(sections), action="append",
                        help="run only this section (repeatable); default: all")
    args = parser.parse_args()
    print(f"start: {_load()}; {os.cpu_count()} CPUs; ratios are our CPU time / the peer's")
    for name, section in sections.items():
        if args.only is None or name in args.only:
            section(args.quick)
    print(f"end: {_load()}")


def _enumeration(quick: bool) -> None:
    sizes = [4, 6, 8] if quick else [4, 6, 8, 10, 12, 14]
    if quick:  # quick mode stays quick: no peer run that takes minutes
        LIMITS.update({"nashpy support": 6, "nashpy vertex": 6})
    repeat = 5 if quick else 7
    peers = _peers()
    warm_a, warm_b = np.array([[3, 3], [2, 5], [0, 6]]), np.array([[3, 2], [2, 6], [3, 1]])
    for fn in peers.values():  # exclude one-off costs (numba JIT compilation, imports)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fn(warm_a, warm_b)
            fn(warm_a.astype(float), warm_b.astype(float))
    print("All extreme equilibria (ours: vertex_enumeration, exact and certified complete); "
          "goal: ours <= 2x qe vertex")
    header = f"{'payoffs':8} {'size':>5} {'method':18} {'wall s':>9} {'cpu s':>9} {'#eq':>5} " \
             f"{'ours/peer':>9} {'flag':8}"
    print(header)
    print("-" * len(header))
    for kind in ("integer", "gaussian"):
        for size, a, b in _games(sizes, kind, seed=2024):
            game = NormalFormGame.from_bimatrix(a, b)
            vertex_enumeration(game)  # warm imports / caches
            ours_time, ours = _timed(lambda: vertex_enumeration(game), repeat)
            count = len(ours.equilibria)
            note = "complete" if ours.complete else "INCOMPLETE"
            print(f"{kind:8} {size:>2}x{size:<2} {'ours vertex':18} {ours_time.wall:9.4f} "
                  f"{ours_time.cpu:9.4f} {count:5d} {'1.00':>9} {note}")
            rows = [("ours support", lambda: len(support_enumeration(game).equilibria))]
            rows += [(name, (lambda fn=fn: fn(a, b))) for name, fn in peers.items()]
            for name, fn in rows:
                if size > LIMITS.get(name, 99):
                    print(f"{kind:8} {size:>2}x{size:<2} {name:18} {'skipped':>9}")
                    continue
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    try:
                        seconds, found = _timed(fn, 1 if size >= 10 else repeat)
                    except Exception as exc:  # a peer failing is a result, not a crash
                        print(f"{kind:8} {size:>2}x{size:<2} {name:18} failed: "
                              f"{type(exc).__name__}")
                        continue
                flag = "" if name == "qe lemke-howson" or found == count else "count!="
                if name == "qe vertex":
                    flag += " goal met" if _ratio(ours_time, seconds) <= 2.0 else \
                        " goal NOT met"
                shown = "(1 eq)" if name == "qe lemke-howson" else f"{found:5d}"
                print(f"{kind:8} {size:>2}x{size:<2} {name:18} {seconds.wall:9.4f} "
                      f"{seconds.cpu:9.4f} {shown:>5} {_ratio(ours_time, seconds):9.2f} {flag}")
    print()


def _direct_linprog(a: np.ndarray) -> float:
    """The textbook maximin LP in one direct scipy.optimize.linprog (HiGHS) call."""
    from scipy.optimize import linprog
    m, n = a.shape
    cost = np.zeros(m + 1)
    cost[-1] = -1.0
    upper = np.hstack([-a.T, np.ones((n, 1))])
    equality = np.hstack([np.ones((1, m)), np.zeros((1, 1))])
    result = linprog(cost, A_ub=upper, b_ub=np.zeros(n), A_eq=equality, b_eq=[1.0],
                     bounds=[(0.0, None)] * m + [(None, None)], method="highs")
    return float(result.x[-1])


def _zero_sum(quick: bool) -> None:
    from gametools.solvers.zero_sum import zero_sum_lp
    print("Zero-sum LP; goal: ours/linprog <= 1")
    print(f"{'zero-sum LP':9} {'size':>9} {'ours wall':>9} {'ours cpu':>9} {'linprog cpu':>11} "
          f"{'ours/linprog':>12} {'nashpy cpu':>10} {'ours/nashpy':>11}  certificate")
    for size in [200, 1000]:
        for kind in ("integer", "gaussian"):
            rng = np.random.default_rng([11, size])
            a = rng.integers(-5, 6, size=(size, size)) if kind == "integer" \
                else rng.standard_normal((size, size))
            game = NormalFormGame.zero_sum(a)
            repeat = 1 if size > 200 else (3 if quick else 5)
            floats = a.astype(float)
            ours, result = _timed(lambda: zero_sum_lp(game), repeat)
            direct, value = _timed(lambda: _direct_linprog(floats), repeat)
            nash_text, nash_ratio = f"{'-':>10}", f"{'-':>11}"
            if size <= 200:
                try:
                    import nashpy
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        nash, _ = _timed(lambda: next(iter(
                            nashpy.Game(floats).linear_program())), 1)
                    nash_text, nash_ratio = f"{nash.cpu:10.3f}", f"{_ratio(ours, nash):11.2f}"
                except (ImportError, AttributeError):
                    pass
            cert = "exact" if result.exact else \
                f"float, regret <= {result.extra['regret_bound']:.1e} (rigorous)"
            agree = abs(result.extra["value"] - value) <= 1e-6 * max(1.0, abs(value))
            print(f"{kind:9} {size:>4}x{size:<4} {ours.wall:9.3f} {ours.cpu:9.3f} "
                  f"{direct.cpu:11.3f} {_ratio(ours, direct):12.2f} {nash_text} {nash_ratio}  "
                  f"{cert}{'' if agree else '; VALUE DIFFERS from linprog'}")
    print()


def _lemke_howson(quick: bool) -> None:
    try:
        from quantecon import game_theory as qe
    except ImportError:
        qe = None
        print("quantecon not available: Lemke-Howson has no peer in this run")
    from gametools.solvers.lemke_howson import lemke_howson
    print("Lemke-Howson from label 0; goal: ours/qe <= 0.7")
    print(f"{'Lemke-Howson':9} {'size':>9} {'seed':>4} {'ours wall':>9} {'ours cpu':>9} "
          f"{'pivots':>7} {'qe cpu':>9} {'qe piv':>7} {'ours/qe':>7}  result / QuantEcon")
    for size in ([200] if quick else [200, 500]):
        for kind in ("gaussian", "integer"):
            for seed in range(2 if quick else 3):
                rng = np.random.default_rng([seed, size])
                a, b = (rng.integers(0, 10, size=(2, size, size)) if kind == "integer"
                        else rng.standard_normal(size=(2, size, size)))
                game = NormalFormGame.from_bimatrix(a, b)
                ours, result = _timed(lambda: lemke_howson(game, initial_label=0), 3)
                line = (f"{kind:9} {size:>4}x{size:<4} {seed:>4} {ours.wall:9.4f} {ours.cpu:9.4f} "
                        f"{result.iterations:7d}")
                stages = "->".join(f"{s}:{p}" for s, p, _ in result.extra.get("attempts", []))
                what = f"{result.status}{' exact' if result.exact else ''} {stages}"
                if qe is not None:
                    qg = qe.NormalFormGame(np.stack([a, b], axis=-1).astype(float))
                    cap = max(10 * result.iterations, 10_000)
                    seconds, (_, info) = _timed(lambda: qe.lemke_howson(
                        qg, init_pivot=0, max_iter=cap, full_output=True), 3)
                    line += f" {seconds.cpu:9.4f} {info.num_iter:7d} {_ratio(ours, seconds):7.2f}"
                    what += f" / qe {'converged' if info.converged else 'NOT converged'}"
                print(f"{line}  {what}")
    print()


def _other_solvers(quick: bool) -> None:
    rng = np.random.default_rng(7)
    try:
        from gametools.solvers.lemke_howson import lemke_howson
        size = 50 if quick else 200
        game = NormalFormGame.from_bimatrix(*rng.standard_normal(size=(2, size, size)))
        seconds, result = _timed(lambda: lemke_howson(game, initial_label=0), 3)
        extra = ""
        try:
            from quantecon import game_theory as qe
            qg = qe.NormalFormGame(np.stack([game.payoffs[0], game.payoffs[1]], axis=-1))
            qe_seconds, _ = _timed(lambda: qe.lemke_howson(qg, init_pivot=0), 3)
            extra = f"  quantecon cpu {qe_seconds.cpu:.4f} s (ours/quantecon " \
                    f"{_ratio(seconds, qe_seconds):.2f})"
        except ImportError:
            pass
        print(f"lemke_howson {size}x{size}: cpu {seconds.cpu:.4f} s, status {result.status}, "
              f"regret {result.max_regret:.2e}{extra}")
    except ImportError:
        print("lemke_howson: not available")
    try:
        from gametools.solvers.logit import logit_solve
        game = NormalFormGame(rng.standard_normal(size=(3, 10, 10, 10)))
        seconds, result = _timed(lambda: logit_solve(game), 1)
        print(f"logit_solve 3 players x 10 actions: cpu {seconds.cpu:.4f} s, status "
              f"{result.status}, regret {result.max_regret:.2e}")
    except ImportError:
        print("logit_solve: not available")


if __name__ == "__main__":
    main()
