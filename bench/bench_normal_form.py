"""Benchmark: two-player equilibrium enumeration against peer libraries, in one run.

Usage::

    python bench/bench_normal_form.py [--quick]

Random bimatrix games (fixed seeds), small-integer payoffs in [-5, 5] (degenerate) and Gaussian
payoffs, sizes 4x4 .. 14x14. For each game: time and number of equilibria of ours
(``vertex_enumeration``, ``support_enumeration``) and of nashpy (support / vertex enumeration),
QuantEcon (vertex / support enumeration, Lemke-Howson), pygambit (``enummixed_solve``; rational for integer
games, floating point for Gaussian ones) if importable. Ratios are peer time / our vertex-enumeration time; "count!=" flags a peer whose number
of equilibria differs from ours (our set is exact and certified complete). Peers expected to take
longer than ~30 s at a size are skipped. Then the zero-sum LP against one direct
``scipy.optimize.linprog`` (HiGHS) call of the textbook maximin program and nashpy's
``linear_program`` (200x200; 1000x1000 in full mode), Lemke-Howson from label 0 against
QuantEcon's ``lemke_howson`` on Gaussian and 0..9 integer games (200x200; 500x500 in full mode;
"ratio" is our time / QuantEcon's, the stages column shows which arithmetic produced the
certified result), then the earlier Lemke-Howson and logit lines. No timing is asserted.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gametools import NormalFormGame
from gametools.solvers.enumeration import support_enumeration, vertex_enumeration

# Largest size (max(m, n)) at which each peer is run; beyond it the peer would take > ~30 s.
LIMITS = {"ours support": 10, "nashpy support": 8, "nashpy vertex": 9, "qe support": 11,
          "qe vertex": 99, "qe lemke-howson": 99, "gambit enummixed": 10}


def _timed(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


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
    parser.add_argument("--quick", action="store_true", help="small sizes, one repeat")
    args = parser.parse_args()
    sizes = [4, 6, 8] if args.quick else [4, 6, 8, 10, 12, 14]
    if args.quick:  # quick mode stays quick: no peer run that takes minutes
        LIMITS.update({"nashpy support": 6, "nashpy vertex": 6})
    repeat = 1 if args.quick else 3
    peers = _peers()
    warm_a, warm_b = np.array([[3, 3], [2, 5], [0, 6]]), np.array([[3, 2], [2, 6], [3, 1]])
    for fn in peers.values():  # exclude one-off costs (numba JIT compilation, imports)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fn(warm_a, warm_b)
            fn(warm_a.astype(float), warm_b.astype(float))
    header = f"{'payoffs':8} {'size':>5} {'method':18} {'seconds':>9} {'#eq':>5} " \
             f"{'ratio':>8} {'flag':8}"
    print(header)
    print("-" * len(header))
    for kind in ("integer", "gaussian"):
        for size, a, b in _games(sizes, kind, seed=2024):
            game = NormalFormGame.from_bimatrix(a, b)
            vertex_enumeration(game)  # warm imports / caches
            ours_time, ours = _timed(lambda: vertex_enumeration(game), repeat)
            count = len(ours.equilibria)
            note = "complete" if ours.complete else "INCOMPLETE"
            print(f"{kind:8} {size:>2}x{size:<2} {'ours vertex':18} {ours_time:9.4f} "
                  f"{count:5d} {'1.00':>8} {note}")
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
                shown = "(1 eq)" if name == "qe lemke-howson" else f"{found:5d}"
                print(f"{kind:8} {size:>2}x{size:<2} {name:18} {seconds:9.4f} {shown:>5} "
                      f"{seconds / ours_time:8.2f} {flag}")
    print()
    _other_solvers(args.quick)


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
    print(f"{'zero-sum LP':14} {'size':>9} {'ours s':>8} {'linprog s':>9} {'ratio':>6} "
          f"{'nashpy s':>8}  certificate")
    for size in ([200] if quick else [200, 1000]):
        for kind in ("integer", "gaussian"):
            rng = np.random.default_rng([11, size])
            a = rng.integers(-5, 6, size=(size, size)) if kind == "integer" \
                else rng.standard_normal((size, size))
            game = NormalFormGame.zero_sum(a)
            ours, result = _timed(lambda: zero_sum_lp(game), 1 if size > 200 else 3)
            direct, _ = _timed(lambda: _direct_linprog(a.astype(float)), 1 if size > 200 else 3)
            nash = float("nan")
            if size <= 200:
                try:
                    import nashpy
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        nash, _ = _timed(lambda: next(iter(
                            nashpy.Game(a.astype(float)).linear_program())), 1)
                except (ImportError, AttributeError):
                    pass
            cert = "exact" if result.exact else \
                f"float, regret <= {result.extra['regret_bound']:.1e} (rigorous)"
            print(f"{kind:14} {size:>4}x{size:<4} {ours:8.3f} {direct:9.3f} "
                  f"{ours / direct:6.2f} {nash:8.3f}  {cert}")
    print()


def _lemke_howson(quick: bool) -> None:
    try:
        from quantecon import game_theory as qe
    except ImportError:
        qe = None
    from gametools.solvers.lemke_howson import lemke_howson
    print(f"{'Lemke-Howson':14} {'size':>9} {'seed':>4} {'ours s':>8} {'pivots':>7} "
          f"{'qe s':>8} {'qe piv':>7} {'ratio':>6}  result / QuantEcon")
    for size in ([200] if quick else [200, 500]):
        for kind in ("gaussian", "integer"):
            for seed in range(2 if quick else 3):
                rng = np.random.default_rng([seed, size])
                a, b = (rng.integers(0, 10, size=(2, size, size)) if kind == "integer"
                        else rng.standard_normal(size=(2, size, size)))
                game = NormalFormGame.from_bimatrix(a, b)
                ours, result = _timed(lambda: lemke_howson(game, initial_label=0), 1)
                line = (f"{kind:14} {size:>4}x{size:<4} {seed:>4} {ours:8.3f} "
                        f"{result.iterations:7d}")
                stages = "->".join(f"{s}:{p}" for s, p, _ in result.extra.get("attempts", []))
                what = f"{result.status}{' exact' if result.exact else ''} {stages}"
                if qe is not None:
                    qg = qe.NormalFormGame(np.stack([a, b], axis=-1).astype(float))
                    cap = max(10 * result.iterations, 10_000)
                    seconds, (_, info) = _timed(lambda: qe.lemke_howson(
                        qg, init_pivot=0, max_iter=cap, full_output=True), 1)
                    line += f" {seconds:8.3f} {info.num_iter:7d} {ours / seconds:6.2f}"
                    what += f" / qe {'converged' if info.converged else 'NOT converged'}"
                print(f"{line}  {what}")
    print()


def _other_solvers(quick: bool) -> None:
    _zero_sum(quick)
    _lemke_howson(quick)
    rng = np.random.default_rng(7)
    try:
        from gametools.solvers.lemke_howson import lemke_howson
        size = 50 if quick else 200
        game = NormalFormGame.from_bimatrix(*rng.standard_normal(size=(2, size, size)))
        seconds, result = _timed(lambda: lemke_howson(game, initial_label=0), 1)
        extra = ""
        try:
            from quantecon import game_theory as qe
            qg = qe.NormalFormGame(np.stack([game.payoffs[0], game.payoffs[1]], axis=-1))
            qe_seconds, _ = _timed(lambda: qe.lemke_howson(qg, init_pivot=0), 1)
            extra = f"  quantecon {qe_seconds:.4f} s (ours / quantecon {seconds / qe_seconds:.2f})"
        except ImportError:
            pass
        print(f"lemke_howson {size}x{size}: {seconds:.4f} s, status {result.status}, "
              f"regret {result.max_regret:.2e}{extra}")
    except ImportError:
        print("lemke_howson: not available")
    try:
        from gametools.solvers.logit import logit_solve
        game = NormalFormGame(rng.standard_normal(size=(3, 10, 10, 10)))
        seconds, result = _timed(lambda: logit_solve(game), 1)
        print(f"logit_solve 3 players x 10 actions: {seconds:.4f} s, status {result.status}, "
              f"regret {result.max_regret:.2e}")
    except ImportError:
        print("logit_solve: not available")


if __name__ == "__main__":
    main()
