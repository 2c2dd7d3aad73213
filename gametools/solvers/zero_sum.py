"""Two-player zero-sum games by linear programming (minimax theorem).

Definitions
-----------
In a zero-sum game the row player receives ``A[i, j]`` (shape ``(m, n)``) and the column player
``-A[i, j]``. The row player's maximin strategy solves

    maximise v  subject to  x^T A >= v 1,  sum(x) = 1,  x >= 0,

and the column player's minimax strategy solves

    minimise w  subject to  A y <= w 1,  sum(y) = 1,  y >= 0.

By von Neumann's minimax theorem (LP duality) ``max_x min_y x^T A y = min_y max_x x^T A y``:
the optimal ``v`` and ``w`` coincide and equal the *value* of the game, and every pair of optimal
strategies is a Nash equilibrium. The two programs are dual to each other, so one call of HiGHS
(``scipy.optimize.linprog``: the dual simplex without presolve, or for games above
:data:`INTERIOR_POINT_SIZE` payoffs the interior-point method with crossover) on the payoffs
shifted into ``[1, 2]`` gives both strategies (the primal solution and the constraint
marginals). For exact (integer or rational)
games with supports of at most :data:`EXACT_SUPPORT_LIMIT` actions, the supports are re-solved in
exact rational arithmetic (only the support rows and columns of ``A`` are made exact) and, when
the rational solution passes the optimality certificate, the equilibrium is returned exactly.
Otherwise the float strategies come with a rigorous upper bound on their duality gap (hence on
each player's regret), computed in floating point with its rounding errors bounded.

References
----------
- J. von Neumann, "Zur Theorie der Gesellschaftsspiele", Mathematische Annalen 100 (1928).
- OpenSpiel ``open_spiel/python/algorithms/lp_solver.py`` (``solve_zero_sum_matrix_game``).

Examples
--------
>>> from gametools import NormalFormGame
>>> from gametools.solvers.zero_sum import zero_sum_lp, matrix_game_value
>>> rps = NormalFormGame.zero_sum([[0, -1, 1], [1, 0, -1], [-1, 1, 0]])
>>> result = zero_sum_lp(rps)
>>> result.exact, str(result.extra["value_exact"])
(True, '0')
>>> [[str(p) for p in x] for x in result.equilibria[0].strategies_exact]
[['1/3', '1/3', '1/3'], ['1/3', '1/3', '1/3']]
>>> value, x, y = matrix_game_value([[1, -1], [-1, 1]])
>>> abs(round(value, 9)), x.round(6).tolist()
(0.0, [0.5, 0.5])
"""

from __future__ import annotations

import operator
from fractions import Fraction
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

from gametools.errors import GametoolsError, GameValidationError
from gametools.interop import as_game
from gametools.model import NormalFormGame
from gametools.numerics import UNIT_ROUNDOFF, gamma, integer_array, solve_indifference
from gametools.solvers.result import Equilibrium, SolverResult

__all__ = ["LinearProgramError", "matrix_game_value", "matrix_game_values", "zero_sum_lp"]


class LinearProgramError(GametoolsError, RuntimeError):
    """HiGHS did not solve a matrix game's linear program (should not happen: it is feasible)."""


#: Above this many payoff entries the interior-point solver (with crossover to a basic solution)
#: is used; below it the dual simplex without presolve. Measured with
#: ``bench/bench_normal_form.py``: presolve finds nothing to remove in a dense matrix game and
#: costs up to half of the simplex time at 200x200; at 1000x1000 the interior-point method
#: takes about 0.4x the time of the dual simplex.
INTERIOR_POINT_SIZE = 250_000


def _highs_choice(entries: int) -> tuple[str, dict[str, Any]]:
    """HiGHS method and options for one matrix game with ``entries`` payoffs (batches of games,
    block-diagonal and sparse, keep HiGHS's defaults)."""
    if entries > INTERIOR_POINT_SIZE:
        return "highs-ipm", {}
    return "highs-ds", {"presolve": False}


def matrix_game_values(payoffs: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Values and optimal strategies of ``B`` zero-sum matrix games, from *one* LP.

    Each game ``A_b`` (row player maximises) is rescaled into ``[1, 2]`` (HiGHS's tolerances
    then mean the same for any payoff unit, and the value is positive), and the games are
    solved together as one block-diagonal program: ``min 1^T u_b  s.t.  A_b'^T u_b >= 1,
    u_b >= 0`` has value ``1 / v_b`` and ``x_b = v_b u_b``; its dual ``max 1^T w_b  s.t.
    A_b' w_b <= 1, w_b >= 0`` (HiGHS's constraint marginals) gives ``y_b = v_b w_b``.

    Parameters
    ----------
    payoffs : array_like, shape (B, m, n)
        The row player's payoffs of each game; the column player receives their negation.

    Returns
    -------
    values : ndarray, shape (B,)
    x : ndarray, shape (B, m)
        Maximin strategies of the row player.
    y : ndarray, shape (B, n)
        Minimax strategies of the column player (the dual solution).

    Raises
    ------
    LinearProgramError
        When HiGHS does not solve the program (it is always feasible and bounded).
    """
    games = np.asarray(payoffs, dtype=float)
    count, m, n = games.shape
    low = games.min(axis=(1, 2))
    spread = games.max(axis=(1, 2)) - low
    spread = np.where(spread > 0, spread, 1.0)
    scaled = 1.0 + (games - low[:, None, None]) / spread[:, None, None]
    if count == 1:
        constraints: Any = -scaled[0].T
    else:
        # row b * n + j, column b * m + i holds -A'_b[i, j]
        block = np.arange(count)[:, None, None]
        rows = np.broadcast_to(block * n + np.arange(n)[None, None, :], scaled.shape)
        columns = np.broadcast_to(block * m + np.arange(m)[None, :, None], scaled.shape)
        constraints = sp.csr_array((-scaled.ravel(), (rows.ravel(), columns.ravel())),
                                   shape=(count * n, count * m))
    method, options = _highs_choice(m * n) if count == 1 else ("highs", {})
    result = linprog(np.ones(count * m), A_ub=constraints, b_ub=-np.ones(count * n),
                     bounds=(0.0, None), method=method, options=options)
    if result.status != 0:
        raise LinearProgramError(f"HiGHS failed on the matrix games' program: {result.message}")
    u = np.clip(result.x.reshape(count, m), 0.0, None)
    w = np.clip(-np.asarray(result.ineqlin.marginals, dtype=float).reshape(count, n), 0.0, None)
    totals, dual_totals = u.sum(axis=1), w.sum(axis=1)
    if not (totals > 0).all() or not (dual_totals > 0).all():  # pragma: no cover
        raise LinearProgramError("HiGHS returned a zero primal or dual solution")
    values = (1.0 / result.x.reshape(count, m).sum(axis=1) - 1.0) * spread + low
    return values, u / totals[:, None], w / dual_totals[:, None]


def _rigorous_gap(matrix: np.ndarray, x: np.ndarray, y: np.ndarray) -> float:
    """Upper bound, valid despite rounding, on ``max_i (A y)_i - min_j (x^T A)_j``.

    The strategies are the rational points ``x / sum(x)`` and ``y / sum(y)`` of the given
    floats. Each inner product of length ``k`` and each sum is computed in float64 with error at
    most ``gamma_k = k u / (1 - k u)`` times the sum of absolute terms (Higham, *Accuracy and
    Stability of Numerical Algorithms*, 2nd ed., sec. 3.1); the bounds are widened by these
    terms and inflated once more for the rounding of the bound itself. The gap bounds both
    players' regrets (each is at most the gap). For an exact game whose payoffs are not floats,
    each entry's rounding (at most ``u |A_ij|``) is included too.
    """
    unit = UNIT_ROUNDOFF
    m, n = matrix.shape
    gamma_m = gamma(m + 2)
    gamma_n = gamma(n + 2)
    absolute = np.abs(matrix)
    row_values = matrix @ y                          # n-term products
    # (+ unit: an exact game's payoffs may differ from their float images by that much)
    row_error = (gamma_n + unit) * (absolute @ np.abs(y))
    column_values = x @ matrix                       # m-term products
    column_error = (gamma_m + unit) * (np.abs(x) @ absolute)
    y_sum, x_sum = float(y.sum()), float(x.sum())
    y_low = y_sum * (1 - gamma_n)
    x_low = x_sum * (1 - gamma_m)
    upper = float(np.max(row_values + row_error))
    lower = float(np.min(column_values - column_error))
    # divide by the normalising sums, rounding the quotient bounds outward
    upper = upper / y_low if upper >= 0 else upper / (y_sum * (1 + gamma_n))
    lower = lower / (x_sum * (1 + gamma_m)) if lower >= 0 else lower / x_low
    return max(0.0, (upper - lower) * (1 + 4 * unit) + 1e-300)


def matrix_game_value(payoffs: Any) -> tuple[float, np.ndarray, np.ndarray]:
    """Value and optimal strategies of the zero-sum matrix game ``A`` (row player maximises).

    One linear program (and its dual) is solved by HiGHS.

    Parameters
    ----------
    payoffs : array_like, shape (m, n)
        The row player's payoffs ``A``; the column player receives ``-A``.

    Returns
    -------
    value : float
        ``max_x min_y x^T A y`` (from the LP's optimum).
    x : ndarray, shape (m,)
        A maximin strategy of the row player.
    y : ndarray, shape (n,)
        A minimax strategy of the column player (the LP's dual solution).
    """
    matrix = np.asarray(payoffs, dtype=float)
    if matrix.ndim != 2 or min(matrix.shape) < 1 or not np.all(np.isfinite(matrix)):
        raise GameValidationError("payoffs", "must be a finite matrix of shape (m, n)", None,
                                  matrix.shape)
    values, x, y = matrix_game_values(matrix[None])
    return float(values[0]), x[0], y[0]


#: Exact certification is attempted only when both optimal supports have at most this many
#: actions (exact elimination on the supports costs their size cubed in big integers); larger
#: solutions keep the rigorous float bound.
EXACT_SUPPORT_LIMIT = 40


def _exact_equilibrium(game: NormalFormGame, x: np.ndarray, y: np.ndarray, tol: float
                       ) -> tuple[Equilibrium, Fraction] | None:
    """Re-solve the LP's supports in rationals and certify optimality exactly.

    Only the support rows and columns of ``A`` are made exact (``(m + n) k`` entries); None when
    a support exceeds :data:`EXACT_SUPPORT_LIMIT` or the rational solution does not certify.
    """
    assert game.payoffs_exact is not None
    m, n = game.num_actions
    x_support = np.flatnonzero(x > tol)
    y_support = np.flatnonzero(y > tol)
    if max(len(x_support), len(y_support)) > EXACT_SUPPORT_LIMIT:
        return None
    # binding constraints (a superset of the other player's support) pin down a vertex solution
    # even when the supports have different sizes
    payoffs = game.payoffs[0]
    slack = tol * game.payoff_range()
    row_values = payoffs[:, y_support] @ y[y_support]
    column_values = x[x_support] @ payoffs[x_support]
    binding_rows = np.flatnonzero(row_values >= row_values.max() - slack)
    binding_columns = np.flatnonzero(column_values <= column_values.min() + slack)
    # the support rows and columns over one common denominator
    rows_exact = game.payoffs_exact[0][x_support, :]
    columns_exact = game.payoffs_exact[0][:, y_support]
    ints, scale = integer_array(np.concatenate([rows_exact.ravel(), columns_exact.ravel()]))
    rows_block = ints[:rows_exact.size].reshape(rows_exact.shape)
    columns_block = ints[rows_exact.size:].reshape(columns_exact.shape)
    # y on its support making every binding row pay the same; x likewise
    column = solve_indifference(columns_block[binding_rows])
    row = solve_indifference(rows_block.T[binding_columns])
    if column is None or row is None:
        return None
    y_part, _ = column
    x_part, _ = row
    if min(x_part) < 0 or min(y_part) < 0:
        return None
    p, x_den = integer_array(np.array(x_part, dtype=object))
    q, y_den = integer_array(np.array(y_part, dtype=object))
    # certificate: min_j (x^T A)_j >= max_i (A y)_i  <=>  both strategies optimal
    guaranteed = Fraction(int(min(p.dot(rows_block))), x_den * scale)
    conceded = Fraction(int(max(columns_block.dot(q))), y_den * scale)
    if guaranteed != conceded:
        return None
    value = guaranteed
    x_exact = [Fraction(0)] * m
    y_exact = [Fraction(0)] * n
    for i, v in zip(x_support.tolist(), x_part):
        x_exact[i] = v
    for j, v in zip(y_support.tolist(), y_part):
        y_exact[j] = v
    floats = (np.array([float(v) for v in x_exact]), np.array([float(v) for v in y_exact]))
    payoffs_float = np.array([float(value), -float(value)])
    for array in (*floats, payoffs_float):
        array.flags.writeable = False
    equilibrium = Equilibrium(floats, payoffs_float, 0.0, (tuple(x_exact), tuple(y_exact)),
                              (value, -value))
    return equilibrium, value


_DENOMINATOR = operator.attrgetter("denominator")


def _is_zero_sum(game: NormalFormGame, tol: float) -> bool:
    """Zero-sum check; exact games with integer payoffs below 2^52 are checked in int64."""
    if not game.is_exact:
        return game.is_zero_sum(tol=tol * game.payoff_range())
    assert game.payoffs_exact is not None
    if float(np.abs(game.payoffs).max()) < 2.0 ** 52 and \
            set(map(_DENOMINATOR, game.payoffs_exact.ravel().tolist())) == {1}:
        # every float payoff equals its integer value exactly
        ints = game.payoffs.astype(np.int64)
        return not np.any(ints[0] + ints[1])
    return game.is_zero_sum()


def zero_sum_lp(game: Any, *, tol: float = 1e-9, exact: bool | None = None) -> SolverResult:
    """Optimal (maximin / minimax) strategies and the value of a two-player zero-sum game.

    Parameters
    ----------
    game : NormalFormGame or nashpy.Game
        Two players; ``payoffs[0] + payoffs[1]`` must vanish (exactly for exact games, within
        ``tol * payoff_range()`` for float games).
    tol : float, default 1e-9
        Relative tolerance of the zero-sum check and of the support detection used by the exact
        re-solve.
    exact : bool, optional
        Certify in rational arithmetic (needs exact payoffs). None (default): try whenever the
        payoffs are exact, fall back to the float solution when the rational re-solve fails
        (``result.exact`` says which).

    Returns
    -------
    SolverResult
        One equilibrium (a pair of optimal strategies; the optimal sets are convex, so
        ``complete=False``). ``extra``: ``value`` (row player's maximin value, float),
        ``value_column`` (the column player's minimax value from its own program; equal to
        ``value`` up to solver tolerance), ``value_exact`` (Fraction, when certified).

    Raises
    ------
    GameValidationError
        If the game does not have two players or is not zero-sum.
    """
    game = as_game(game)
    if not isinstance(game, NormalFormGame):
        raise TypeError(f"zero_sum_lp needs a NormalFormGame, got {type(game).__name__}")
    if game.num_players != 2:
        raise GameValidationError("payoffs", "zero_sum_lp needs a two-player game", None,
                                  game.num_players)
    sums = game.payoffs.sum(axis=0)
    if not _is_zero_sum(game, tol):
        worst = tuple(int(i) for i in np.unravel_index(int(np.abs(sums).argmax()), sums.shape))
        raise GameValidationError(
            "payoffs", "zero_sum_lp needs a zero-sum game (payoffs[0] + payoffs[1] == 0 at every "
            "profile); use lemke_howson or an enumeration method for general-sum games",
            worst, float(sums[worst]))
    want_exact = game.is_exact if exact is None else bool(exact)
    if want_exact and not game.is_exact:
        raise GameValidationError("payoffs", "exact=True needs exact (integer or rational) payoffs")

    value, x, y = matrix_game_value(game.payoffs[0])
    column_value = float(np.max(game.payoffs[0] @ y))
    extra: dict[str, Any] = {"value": value, "value_column": column_value}
    if want_exact:
        certified = _exact_equilibrium(game, x, y, tol)
        if certified is not None:
            equilibrium, exact_value = certified
            extra.update(value=float(exact_value), value_column=float(exact_value),
                         value_exact=exact_value)
            return SolverResult((equilibrium,), "lp", "success", False, True, None, 0,
                                "optimal strategies certified in rational arithmetic",
                                extra=extra)
    for array in (x, y):
        array.flags.writeable = False
    payoffs = game.expected_payoffs((x, y))
    payoffs.flags.writeable = False
    bound = _rigorous_gap(game.payoffs[0], x, y)
    extra["regret_bound"] = bound
    equilibrium = Equilibrium((x, y), payoffs, bound)
    message = ("float solution; regret at most the rigorous bound extra['regret_bound'] = "
               f"{bound:.3g} (rounding accounted for)")
    if want_exact:
        message += "; the rational re-solve of the supports did not certify (or was too large)"
    return SolverResult((equilibrium,), "lp", "success", False, False, None, 0, message,
                        extra=extra)
