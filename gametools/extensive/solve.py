"""Equilibria of extensive-form games: sequence-form LP, CFR, and the method table.

Sequence-form LP (two-player zero-sum, perfect recall)
-------------------------------------------------------
With realization plans ``x`` (player 1, ``E x = e, x >= 0``) and ``y`` (player 2,
``F y = f, y >= 0``) and the sequence-form payoff matrix ``A[s1, s2] = sum_z pi_c(z) u_1(z)``
over terminals whose last sequences are ``(s1, s2)``, player 1's maximin problem is the LP
(Koller, Megiddo and von Stengel 1996; von Stengel 1996)::

    max_{x, q} f^T q   subject to   F^T q - A^T x <= 0,   E x = e,   x >= 0,

and player 2's is the symmetric one. Both are solved with HiGHS (sparse); behaviour strategies
are ``x(I, a) / x(parent(I))``. The profile is certified by the exact NashConv of
:func:`~gametools.extensive.nash_conv`. When the game is exact (rational payoffs and chance
probabilities), the behaviour probabilities are rounded to nearby fractions and, if the exact
NashConv of the rounded profile is zero, the result is an exact equilibrium with the exact
value (``exact=True``, ``strategies_exact``, ``payoffs_exact``).

References
----------
- D. Koller, N. Megiddo and B. von Stengel, "Efficient computation of equilibria for extensive
  two-person games", GEB 14 (1996).
- B. von Stengel, "Efficient computation of behavior strategies", GEB 14 (1996).

Examples
--------
Kuhn poker's value for the first player is -1/18 (Kuhn 1950):

>>> from gametools.interop.openspiel import extensive_from_openspiel
>>> result = sequence_form_lp(extensive_from_openspiel("kuhn_poker").game)
>>> result.exact, str(result.equilibria[0].payoffs_exact[0])
(True, '-1/18')
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

from gametools.errors import InvalidArgumentError, UnsupportedGameError
from gametools.extensive.cfr import EXTENSIVE_VARIANTS, run_cfr
from gametools.extensive.exploitability import exact_nash_conv, nash_conv
from gametools.extensive.model import ExtensiveGame
from gametools.solvers.result import Equilibrium, SolverResult

__all__ = ["EXTENSIVE_METHODS", "extensive_cfr", "make_extensive_equilibrium", "sequence_form",
           "sequence_form_lp", "solve_extensive"]

#: Methods for extensive-form games (``gametools solve GAME.efg --method``).
EXTENSIVE_METHODS: dict[str, str] = {
    "lcp": "sequence-form LCP by Lemke's algorithm (two players, general-sum, perfect recall; "
           "exact rational arithmetic)",
    "lp": "sequence-form linear program (two-player zero-sum, perfect recall; exact on rational "
          "games)",
    "cfr": "counterfactual regret minimisation (variants cfr+, cfr, linear, dcfr; certified by "
           "the exact NashConv)",
}


def make_extensive_equilibrium(game: ExtensiveGame, profile: Sequence[Any], *,
                               exact: Sequence[Sequence[Fraction]] | None = None
                               ) -> Equilibrium:
    """Certify a behaviour profile: payoffs and the largest deviation gain over the payoff
    range (exact when ``exact`` strategies are given and the game is exact)."""
    report = nash_conv(game, profile)
    strategies = tuple(np.array(p, dtype=float) for p in profile)
    for array in strategies:
        array.flags.writeable = False
    if exact is not None:
        values, best = exact_nash_conv(game, exact)
        gain = max(b - v for b, v in zip(best, values))
        return Equilibrium(strategies, np.array([float(v) for v in values]),
                           float(gain) / game.payoff_range(),
                           tuple(tuple(Fraction(v) for v in row) for row in exact), values)
    return Equilibrium(strategies, np.array(report.values, dtype=float),
                       float(report.per_player.max(initial=0.0)) / game.payoff_range())


# --------------------------------------------------------------------------------------------
# sequence form
# --------------------------------------------------------------------------------------------

def sequence_form(game: ExtensiveGame) -> tuple[list[sp.csr_array], list[sp.csr_array]]:
    """Sequence-form payoff matrices ``A_i`` ``(|Sigma_1|, |Sigma_2|)`` and constraint matrices
    ``E_i`` ``(1 + I_i, |Sigma_i|)`` of a two-player perfect-recall game (floats)."""
    if game.num_players != 2:
        raise UnsupportedGameError(f"the sequence form here is for two players, the game has "
                                   f"{game.num_players}")
    game.require_perfect_recall("the sequence form")
    data = game.sequences
    rows, cols = data.terminal_sequence
    shape = tuple(game.num_sequences)
    payoff = [sp.csr_array(sp.coo_array((data.terminal_chance * game.payoffs[i], (rows, cols)),
                                        shape=shape)) for i in range(2)]
    constraints = []
    for i in range(2):
        offsets, counts, parents = data.segments[i]
        num = offsets.size
        infoset_row = np.repeat(np.arange(1, num + 1), counts)
        r = np.concatenate(([0], infoset_row, np.arange(1, num + 1)))
        c = np.concatenate(([0], np.arange(1, game.num_sequences[i]), parents[offsets]))
        v = np.concatenate(([1.0], np.ones(infoset_row.size), -np.ones(num)))
        constraints.append(sp.csr_array(sp.coo_array((v, (r, c)),
                                                     shape=(num + 1, game.num_sequences[i]))))
    return payoff, constraints


def _maximin(payoff: sp.csr_array, own: sp.csr_array, other: sp.csr_array
             ) -> tuple[np.ndarray, float]:
    """max_x min_y x^T A y over the realization plans: returns ``(x, value)``."""
    n_own, n_other = own.shape[1], other.shape[0]
    # variables [x (n_own), q (n_other)]; minimise -f^T q
    cost = np.concatenate((np.zeros(n_own), -np.eye(1, n_other).ravel()))
    upper = sp.hstack([-payoff.T, other.T]).tocsr()
    equal = sp.hstack([own, sp.csr_array((own.shape[0], n_other))]).tocsr()
    rhs = np.eye(1, own.shape[0]).ravel()
    bounds = [(0, None)] * n_own + [(None, None)] * n_other
    solution = linprog(cost, A_ub=upper, b_ub=np.zeros(upper.shape[0]), A_eq=equal, b_eq=rhs,
                       bounds=bounds, method="highs")
    if solution.status != 0:
        raise UnsupportedGameError(f"the sequence-form LP failed: {solution.message}")
    return np.clip(solution.x[:n_own], 0.0, None), float(-solution.fun)


def _behaviour(game: ExtensiveGame, player: int, plan: np.ndarray) -> np.ndarray:
    offsets, counts, parents = game.sequences.segments[player]
    parent_mass = plan[parents]
    own = plan[1:]
    uniform = np.repeat(1.0 / np.maximum(counts, 1), counts)
    behaviour = np.where(parent_mass > 1e-12, own / np.where(parent_mass > 1e-12, parent_mass,
                                                             1.0), uniform)
    # exact renormalisation of each infoset row (rounding noise of the LP)
    totals = np.repeat(np.add.reduceat(behaviour, offsets), counts) if own.size else behaviour
    return np.where(totals > 0, behaviour / np.where(totals > 0, totals, 1.0), uniform)


def _rational_profile(game: ExtensiveGame, profile: Sequence[np.ndarray], denominator: int
                      ) -> list[list[Fraction]] | None:
    out = []
    for i, vector in enumerate(profile):
        offsets, counts, _ = game.sequences.segments[i]
        row: list[Fraction] = []
        for start, count in zip(offsets, counts):
            block = [Fraction(float(v)).limit_denominator(denominator)
                     for v in vector[start:start + count]]
            block[-1] = 1 - sum(block[:-1], Fraction(0))
            if block[-1] < 0:
                return None
            row.extend(block)
        out.append(row)
    return out


def sequence_form_lp(game: ExtensiveGame, *, exact: bool = True) -> SolverResult:
    """Nash equilibrium of a two-player zero-sum perfect-recall game by the sequence-form LP.

    Parameters
    ----------
    game : ExtensiveGame
    exact : bool
        On an exact game, try to certify the equilibrium and value in rational arithmetic.

    Returns
    -------
    SolverResult
        One equilibrium (flat behaviour vectors); ``extra``: ``value`` (player 1's LP value),
        ``nash_conv`` (exact NashConv of the float profile), ``seconds``; on an exact game
        whose rounded profile is not an exact equilibrium (Leduc poker, say) also
        ``nash_conv_exact`` (Fraction: the profile's NashConv in rational arithmetic, a
        certified bound) and, when the payoffs sum to exactly zero, ``value_bounds_exact``
        (two Fractions enclosing the game value), see :func:`_exact_bound`.

    Raises
    ------
    UnsupportedGameError
        For a game that is not two-player zero-sum, or lacks perfect recall.
    """
    if game.num_players != 2 or not game.is_zero_sum(tol=1e-12 * game.payoff_range()):
        raise UnsupportedGameError("the sequence-form LP needs a two-player zero-sum game; "
                                   "use method 'cfr' for other games")
    start = time.perf_counter()
    (payoff, _), (e_matrix, f_matrix) = sequence_form(game)
    # HiGHS treats coefficients beyond 1e15 as infinite: solve with payoffs scaled to [-1, 1]
    scale = float(np.abs(game.payoffs).max(initial=0.0)) or 1.0
    x, value = _maximin(payoff / scale, e_matrix, f_matrix)
    y, negative = _maximin(sp.csr_array(-payoff.T / scale), f_matrix, e_matrix)
    value, negative = value * scale, negative * scale
    profile = (_behaviour(game, 0, x), _behaviour(game, 1, y))
    seconds = time.perf_counter() - start
    report = nash_conv(game, profile)
    certified = None
    if exact and game.is_exact:
        for denominator in (1_000, 1_000_000, 10 ** 9):
            rational = _rational_profile(game, profile, denominator)
            if rational is None:
                continue
            values, best = exact_nash_conv(game, rational)
            if values == best:
                certified = rational
                break
    bound: dict[str, Any] = {}
    if exact and game.is_exact and certified is None:
        bound = _exact_bound(game, profile)
    equilibrium = make_extensive_equilibrium(game, profile if certified is None else
                                             [np.array([float(v) for v in row])
                                              for row in certified], exact=certified)
    tolerance = 1e-7 * game.payoff_range()
    ok = certified is not None or report.nash_conv <= tolerance
    message = (f"sequence-form LP: value {value:.12g} for player 1 (dual {-negative:.12g}); "
               + ("exact equilibrium certified in rational arithmetic" if certified is not None
                  else f"NashConv {report.nash_conv:.3e}"))
    if bound:
        message += (f"; in rational arithmetic the profile's NashConv is at most "
                    f"{float(bound['nash_conv_exact']):.3e}")
        if "value_bounds_exact" in bound:
            low, high = bound["value_bounds_exact"]
            message += f" and the game value lies in [{float(low):.15g}, {float(high):.15g}]"
    return SolverResult((equilibrium,), method="lp", status="success" if ok else "failed",
                        complete=False, exact=certified is not None, iterations=1,
                        message=message,
                        extra={"value": value, "nash_conv": report.nash_conv,
                               "seconds": seconds, **bound})


def _exact_bound(game: ExtensiveGame, profile: Sequence[np.ndarray]) -> dict[str, Any]:
    """Exact NashConv of a float profile, and exact bounds on a zero-sum game's value.

    Every float is a rational number: the profile, clipped at zero and divided by its exact
    row sums, is an exact profile within rounding of the float one, whose exact NashConv
    ``eps`` (rational arithmetic) makes it a certified ``eps``-equilibrium. In an exactly
    zero-sum game the value lies between player 1's payoff against player 2's best response
    and player 1's best-response payoff against player 2: ``[-best_2, best_1]``, exact.
    Costs a few seconds on Leduc poker (Python Fractions).
    """
    rows = []
    for i, vector in enumerate(profile):
        offsets, counts, _ = game.sequences.segments[i]
        row: list[Fraction] = []
        for start, count in zip(offsets, counts):
            block = [Fraction(max(float(v), 0.0)) for v in vector[start:start + count]]
            total = sum(block, Fraction(0))
            if total == 0:
                return {}
            row.extend(x / total for x in block)
        rows.append(row)
    values, best = exact_nash_conv(game, rows)
    out: dict[str, Any] = {"nash_conv_exact": sum(best, Fraction(0)) - sum(values, Fraction(0))}
    payoffs = game.payoffs_exact
    if payoffs is not None and all(sum(column, Fraction(0)) == 0 for column in payoffs.T):
        out["value_bounds_exact"] = (-best[1], best[0])
    return out


def extensive_cfr(game: ExtensiveGame, *, iterations: int = 1000, variant: str = "cfr+",
                  alternating: bool = True, tol: float | None = None,
                  check_every: int | None = None,
                  progress: bool | Callable[[int, float, float], None] = False
                  ) -> SolverResult:
    """CFR on an extensive-form game (see :mod:`gametools.extensive.cfr`), certified.

    Returns the average policy or the last iterate, whichever has the lower exact NashConv.
    Status ``"success"`` when ``tol`` is None or met, else ``"max_iterations"``.
    """
    import sys

    if isinstance(iterations, bool) or not isinstance(iterations, (int, np.integer)) \
            or iterations < 1:
        raise InvalidArgumentError(f"cfr: iterations must be a positive integer, got "
                                   f"{iterations!r}")
    if variant not in EXTENSIVE_VARIANTS:
        raise InvalidArgumentError(f"cfr: unknown variant {variant!r}; choose one of "
                                   f"{', '.join(EXTENSIVE_VARIANTS)}")
    if tol is not None and not (np.isfinite(tol) and tol > 0):
        raise InvalidArgumentError(f"cfr: tol must be a positive number or None, got {tol!r}")
    every = max(1, int(iterations) // 10) if check_every is None else int(check_every)
    if every < 1:
        raise InvalidArgumentError(f"cfr: check_every must be positive, got {check_every!r}")
    callback: Callable[[int, float, float], None] | None
    if callable(progress):
        callback = progress
    elif progress:
        def callback(k: int, average: float, last: float) -> None:
            print(f"cfr: iteration {k:7d}  NashConv average {average:.3e}  last {last:.3e}",
                  file=sys.stderr)
    else:
        callback = None
    run = run_cfr(game, iterations=int(iterations), variant=variant, alternating=alternating,
                  tol=tol, check_every=every, callback=callback)
    use_last = run["last_nash_conv"] < run["average_nash_conv"]
    chosen = run["last"] if use_last else run["average"]
    achieved = min(run["average_nash_conv"], run["last_nash_conv"])
    status = "success" if tol is None or achieved <= tol else "max_iterations"
    returned = "last iterate" if use_last else "average"
    message = (f"{variant} after {run['iterations']} iterations: returned the {returned} with "
               f"exact NashConv {achieved:.3e}")
    if tol is not None:
        message += f"; tol {tol:g} {'met' if achieved <= tol else 'not met'}"
    seconds = run["seconds"]
    extra = {"variant": variant, "nash_conv": achieved,
             "nash_conv_average": run["average_nash_conv"],
             "nash_conv_last_iterate": run["last_nash_conv"],
             "returned": returned.replace(" ", "_"), "history": run["history"],
             "seconds": seconds,
             "iterations_per_second": run["iterations"] / seconds if seconds > 0 else 0.0}
    return SolverResult((make_extensive_equilibrium(game, chosen),), method="cfr",
                        status=status,  # type: ignore[arg-type]
                        complete=False, exact=False, iterations=run["iterations"],
                        message=message, extra=extra)


#: Largest two-player game (total sequences) the default method solves with the exact LCP.
LCP_DEFAULT_LIMIT = 400


def default_extensive_method(game: ExtensiveGame) -> str:
    """``lp`` for two-player zero-sum games, ``lcp`` for small two-player general-sum games
    (at most :data:`LCP_DEFAULT_LIMIT` sequences), ``cfr`` otherwise."""
    if game.num_players == 2 and game.is_zero_sum(tol=1e-12 * game.payoff_range()):
        return "lp"
    if game.num_players == 2 and sum(game.num_sequences) <= LCP_DEFAULT_LIMIT:
        return "lcp"
    return "cfr"


def solve_extensive(game: ExtensiveGame, *, method: str | None = None,
                    all_equilibria: bool = False, **options: Any) -> SolverResult:
    """Solve an extensive-form game with a method of :data:`EXTENSIVE_METHODS`.

    Raises
    ------
    InvalidArgumentError
        For an unknown method or ``all_equilibria`` (no enumeration method yet).
    ImperfectRecallError
        For a game whose players do not all have perfect recall (every method needs it).
    """
    name = method or default_extensive_method(game)
    if name not in EXTENSIVE_METHODS:
        raise InvalidArgumentError(f"method {name!r} does not solve extensive-form games; "
                                   f"available: {', '.join(EXTENSIVE_METHODS)}")
    if all_equilibria:
        raise InvalidArgumentError("no method enumerates all equilibria of extensive-form "
                                   "games yet; drop --all")
    game.require_perfect_recall(f"method {name!r}")
    if name == "lp":
        return sequence_form_lp(game, **options)
    if name == "lcp":
        from gametools.extensive.lcp import sequence_form_lcp
        return sequence_form_lcp(game, **options)
    if "tol" not in options and not (game.num_players == 2 and game.is_zero_sum(
            tol=1e-12 * game.payoff_range())):
        # general-sum: CFR need not converge to Nash; certify against a tolerance
        options["tol"] = 1e-6 * game.payoff_range()
    return extensive_cfr(game, **options)
