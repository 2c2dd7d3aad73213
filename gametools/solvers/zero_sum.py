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
strategies is a Nash equilibrium. Both programs are solved with HiGHS
(``scipy.optimize.linprog(method="highs")``). For exact (integer or rational) games the supports
found by the LP are re-solved in exact rational arithmetic and, when the rational solution passes
the optimality certificate, the equilibrium is returned exactly.

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
>>> round(value, 9), x.round(6).tolist()
(0.0, [0.5, 0.5])
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import numpy as np
from scipy.optimize import linprog

from gametools.errors import GametoolsError, GameValidationError
from gametools.interop import as_game
from gametools.model import NormalFormGame
from gametools.solvers.lemke_howson import _solve_integer_system
from gametools.solvers.result import Equilibrium, SolverResult, max_regret

__all__ = ["LinearProgramError", "matrix_game_value", "zero_sum_lp"]


class LinearProgramError(GametoolsError, RuntimeError):
    """HiGHS did not solve a matrix game's linear program (should not happen: it is feasible)."""


def _row_player_lp(matrix: np.ndarray) -> tuple[float, np.ndarray]:
    """Maximin strategy of the row player of ``matrix`` (m, n) and its guaranteed value."""
    m, n = matrix.shape
    cost = np.zeros(m + 1)
    cost[-1] = -1.0  # maximise v
    upper = np.hstack([-matrix.T, np.ones((n, 1))])  # v - (x^T A)_j <= 0
    equality = np.hstack([np.ones((1, m)), np.zeros((1, 1))])
    bounds = [(0.0, None)] * m + [(None, None)]
    result = linprog(cost, A_ub=upper, b_ub=np.zeros(n), A_eq=equality, b_eq=[1.0],
                     bounds=bounds, method="highs")
    if result.status != 0:
        raise LinearProgramError(f"HiGHS failed on the maximin program: {result.message}")
    x = np.clip(result.x[:m], 0.0, None)
    return float(result.x[-1]), x / x.sum()


def matrix_game_value(payoffs: Any) -> tuple[float, np.ndarray, np.ndarray]:
    """Value and optimal strategies of the zero-sum matrix game ``A`` (row player maximises).

    Parameters
    ----------
    payoffs : array_like, shape (m, n)
        The row player's payoffs ``A``; the column player receives ``-A``.

    Returns
    -------
    value : float
        ``max_x min_y x^T A y`` (from the row player's program).
    x : ndarray, shape (m,)
        A maximin strategy of the row player.
    y : ndarray, shape (n,)
        A minimax strategy of the column player (solved from its own program).
    """
    matrix = np.asarray(payoffs, dtype=float)
    if matrix.ndim != 2 or min(matrix.shape) < 1 or not np.all(np.isfinite(matrix)):
        raise GameValidationError("payoffs", "must be a finite matrix of shape (m, n)", None,
                                  matrix.shape)
    # rescaling into [0, 1] keeps HiGHS's tolerances meaningful for any payoff unit
    low, high = float(matrix.min()), float(matrix.max())
    spread = high - low if high > low else 1.0
    scaled = (matrix - low) / spread
    value, x = _row_player_lp(scaled)
    negative_value, y = _row_player_lp(-scaled.T)  # the column player maximises -A^T
    del negative_value
    return value * spread + low, x, y


def _fraction_matrix_to_ints(exact: np.ndarray) -> np.ndarray:
    flat = exact.ravel().tolist()
    scale = math.lcm(*{v.denominator for v in flat})
    ints = np.empty(len(flat), dtype=object)
    ints[:] = [v.numerator * (scale // v.denominator) for v in flat]
    return ints.reshape(exact.shape)


def _exact_strategy(matrix: np.ndarray, own_support: np.ndarray,
                    other_support: np.ndarray) -> tuple[list[Fraction], Fraction] | None:
    """Column strategy ``y`` on ``own_support`` making every row of ``other_support`` pay ``w``.

    Solves ``A[I, J] y_J - w 1 = 0, sum(y_J) = 1`` exactly (integer ``matrix``); None when the
    system does not pin down a unique solution.
    """
    rows = len(other_support) + 1
    cols = len(own_support) + 1
    system = np.zeros((rows, cols), dtype=object)
    system[:-1, :-1] = matrix[np.ix_(other_support, own_support)]
    system[:-1, -1] = -1
    system[-1, :-1] = 1
    rhs = np.zeros(rows, dtype=object)
    rhs[-1] = 1
    solution = _solve_integer_system(system, rhs)
    if solution is None:
        return None
    return solution[:-1], solution[-1]


def _exact_equilibrium(game: NormalFormGame, x: np.ndarray, y: np.ndarray, tol: float
                       ) -> tuple[Equilibrium, Fraction] | None:
    """Re-solve the LP's supports in rationals and certify optimality exactly."""
    assert game.payoffs_exact is not None
    matrix = _fraction_matrix_to_ints(game.payoffs_exact[0])  # positive multiple of A
    m, n = matrix.shape
    x_support = np.flatnonzero(x > tol)
    y_support = np.flatnonzero(y > tol)
    # binding constraints (a superset of the other player's support) pin down a vertex solution
    # even when the supports have different sizes
    payoffs = game.payoffs[0]
    slack = tol * game.payoff_range()
    row_values = payoffs @ y
    column_values = x @ payoffs
    binding_rows = np.flatnonzero(row_values >= row_values.max() - slack)
    binding_columns = np.flatnonzero(column_values <= column_values.min() + slack)
    column = _exact_strategy(matrix, y_support, binding_rows)
    row = _exact_strategy(matrix.T, x_support, binding_columns)
    if column is None or row is None:
        return None
    y_part, _ = column
    x_part, _ = row
    if min(x_part) < 0 or min(y_part) < 0:
        return None
    x_exact = [Fraction(0)] * m
    y_exact = [Fraction(0)] * n
    for i, v in zip(x_support, x_part):
        x_exact[int(i)] = v
    for j, v in zip(y_support, y_part):
        y_exact[int(j)] = v
    # certificate: min_j (x^T A)_j >= max_i (A y)_i  <=>  both strategies optimal
    a_exact = game.payoffs_exact[0]
    x_object = np.array(x_exact, dtype=object)
    y_object = np.array(y_exact, dtype=object)
    guaranteed = min(x_object.dot(a_exact))
    conceded = max(a_exact.dot(y_object))
    if guaranteed != conceded:
        return None
    value = Fraction(guaranteed)
    floats = (np.array([float(v) for v in x_exact]), np.array([float(v) for v in y_exact]))
    payoffs = np.array([float(value), -float(value)])
    for array in (*floats, payoffs):
        array.flags.writeable = False
    equilibrium = Equilibrium(floats, payoffs, 0.0, (tuple(x_exact), tuple(y_exact)),
                              (value, -value))
    return equilibrium, value


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
    zero_sum = game.is_zero_sum() if game.is_exact else \
        game.is_zero_sum(tol=tol * game.payoff_range())
    if not zero_sum:
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
    equilibrium = Equilibrium((x, y), payoffs, max_regret(game, (x, y)))
    message = "float solution (rational re-solve of the supports did not certify)" \
        if want_exact else ""
    return SolverResult((equilibrium,), "lp", "success", False, False, None, 0, message,
                        extra=extra)
