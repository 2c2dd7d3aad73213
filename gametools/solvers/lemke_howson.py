"""The Lemke-Howson algorithm for two-player games, degeneracy-safe and exactly certified.

Definitions
-----------
Let ``A`` and ``B`` (shape ``(m, n)``) be the payoff matrices of the row and column player, shifted
and scaled so every entry is positive (a positive affine change keeps the equilibria and the
Lemke-Howson path). The best-response polytopes are

    P = {x in R^m : x >= 0, B^T x <= 1},        Q = {y in R^n : y >= 0, A y <= 1}.

Label ``i < m`` is carried by a point where ``x_i = 0`` (in ``P``) or ``(A y)_i = 1`` (in ``Q``),
label ``m + j`` where ``(B^T x)_j = 1`` or ``y_j = 0``. A pair ``(x, y) != (0, 0)`` carrying all
``m + n`` labels is, after normalising ``x`` and ``y`` to sum 1, a Nash equilibrium.

Starting from the artificial equilibrium ``(0, 0)``, Lemke-Howson drops ``initial_label``: the
variable with that label enters the basis of its polytope's tableau, the variable that leaves
carries a label now present twice, and its complement enters the other tableau; this
complementary pivoting stops when ``initial_label`` itself leaves, at a Nash equilibrium.

Degeneracy. The leaving variable is chosen by the *lexicographic* minimum-ratio test: ties in
the ratio ``rhs / pivot column`` are broken by comparing the rows of the current basis inverse
(the tableau columns of the initial slack basis), divided by the pivot-column entry. This is the
classical perturbation ``rhs = (1 + eps, 1 + eps^2, ...)``; it makes every basis nondegenerate,
so the path never cycles on a degenerate game (von Stengel 2002, section 6).

Arithmetic. Small integer and rational games pivot in exact integer arithmetic (fraction-free
"integer pivoting", as in Bareiss elimination). Larger ones first try a short path without
tableaux (each pivot recomputes its few columns from the payoffs; it hands over after 40 pivots,
at supports above 12 or at a tie it cannot decide), then pivot in floating point in a compiled
kernel: first with ratio ties within a float tolerance; float noise can then miss or invent a
tie, which breaks the lexicographic rule and can make the path cycle (it does on most random
30x30 games with payoffs in 0..3), so every visited pair of bases is hashed and a repeated one
stops the run. The path is then followed again with the tableaux also kept modulo a prime, so
every tie is decided exactly (the exact lexicographic path, which cannot cycle); integer
pivoting is the last resort. Whatever path ends, its final basis is rebuilt and certified:
the support systems are solved in rational arithmetic, every other action is proved not better
by a rigorous floating-point error bound, and actions the bound cannot separate (exact ties) are
compared in rationals. Float games pivot in floating point, are certified by
their (float) maximum regret, and use the same exactly decided ties (their float payoffs are
dyadic rationals) when float ties send the path around a cycle.

References
----------
- C. E. Lemke and J. T. Howson, "Equilibrium points of bimatrix games", SIAM Journal on Applied
  Mathematics 12 (1964) 413-423.
- B. von Stengel, "Computing equilibria for two-person games", Handbook of Game Theory with
  Economic Applications, vol. 3, ch. 45, 2002, sections 3-6 (labels, tableaux, lexicographic
  degeneracy resolution, integer pivoting).
- QuantEcon.py ``game_theory.lemke_howson`` and nashpy ``lemke_howson`` (same labelling of
  ``initial_label``: ``0..m-1`` row actions, ``m..m+n-1`` column actions).

Examples
--------
von Stengel's 3x2 game has three equilibria; dropping label 0 finds the pure one, label 1 finds
a mixed one. The third, ((4/5, 1/5, 0), (2/3, 1/3)), lies on no path from the artificial
equilibrium, so running from every label finds two.

>>> from gametools import NormalFormGame
>>> from gametools.solvers.lemke_howson import lemke_howson, lemke_howson_all
>>> game = NormalFormGame.from_bimatrix([[3, 3], [2, 5], [0, 6]], [[3, 2], [2, 6], [3, 1]])
>>> result = lemke_howson(game, initial_label=1)
>>> result.status, result.exact
('success', True)
>>> [[str(p) for p in x] for x in result.equilibria[0].strategies_exact]
[['0', '1/3', '2/3'], ['1/3', '2/3']]
>>> len(lemke_howson_all(game).equilibria)
2
"""

from __future__ import annotations

import functools
import itertools
import operator
from fractions import Fraction
from typing import Any

import numpy as np

from gametools.errors import GameValidationError
from gametools.model import NormalFormGame
from gametools.numerics import UNIT_ROUNDOFF, gamma, integer_array, solve_square_integers
from gametools.solvers import _kernels
from gametools.solvers.result import Equilibrium, SolverResult, Status, max_regret, two_player_game

__all__ = ["DEFAULT_MAX_PIVOTS", "EXACT_PIVOTING_SIZE", "lemke_howson", "lemke_howson_all"]

#: Pivot cap used when ``max_iterations`` is None (the lexicographic rule never cycles, but the
#: Lemke-Howson path can be exponentially long).
DEFAULT_MAX_PIVOTS = 1_000_000

#: Exact games with ``m + n`` at most this many actions pivot in exact integer arithmetic from
#: the start; larger ones pivot in floats and are certified exactly afterwards.
EXACT_PIVOTING_SIZE = 40


#: Entries per BLAS rank-one update call. OpenBLAS runs ``?ger`` multi-threaded above about
#: 8192 entries; for tableaux of a few ten thousand entries the thread start-up (and spinning on
#: a busy machine) costs 10-100x the arithmetic, so updates are issued in column blocks below it.
_BLAS_BLOCK = 8000
#: Tableaux larger than this are updated in one call (threads pay off there).
_BLAS_LARGE = 4_000_000


# --------------------------------------------------------------------------------------------
# input handling
# --------------------------------------------------------------------------------------------

def _integer_matrix(exact: np.ndarray) -> tuple[np.ndarray, int, int]:
    """Positive integer matrix ``scale * M - shift`` (entries >= 1) from a Fraction matrix.

    Returns the object array of Python ints, ``scale`` and ``shift``.
    """
    ints, scale = integer_array(exact)
    shift = min(ints.ravel().tolist()) - 1
    return ints - shift, scale, shift


def _float_matrix(values: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Entries rescaled into ``[1, 2]``: positive and of unit size, for well-scaled tableaux.

    ``1 + (values - low) / spread``, written into ``out`` when given (same rounding either way).
    """
    low, high = float(values.min()), float(values.max())
    spread = high - low if high > low else 1.0
    out = np.subtract(values, low, out=out)
    out /= spread
    out += 1.0
    return out


# --------------------------------------------------------------------------------------------
# tableaux
# --------------------------------------------------------------------------------------------

class _Tableau:
    """One polytope's dictionary ``x_B + T x_N = rhs`` (only nonbasic columns are stored).

    ``labels`` are global (``0..m+n-1``); ``slacks`` are the labels of the initial basis, whose
    full-tableau columns form the current basis inverse used by the lexicographic rule.
    Exact tableaux hold Python ints scaled by ``denominator`` (fraction-free form).
    """

    def __init__(self, coefficients: np.ndarray, basic: np.ndarray, nonbasic: np.ndarray,
                 total: int, exact: bool, *, rescale: bool = False) -> None:
        rows, cols = coefficients.shape
        self.exact = exact
        if exact:
            self.table = np.empty((rows, cols + 1), dtype=object)
            self.table[:, :cols] = coefficients
            self.table[:, cols] = 1
        else:
            self.table = np.empty((rows, cols + 1), order="F")
            if rescale:  # _float_matrix(coefficients), computed in place in the table
                _float_matrix(coefficients, out=self.table[:, :cols])
            else:
                self.table[:, :cols] = coefficients
            self.table[:, cols] = 1.0
            width = max(1, _BLAS_BLOCK // max(rows, 1)) if rows * (cols + 1) <= _BLAS_LARGE \
                else cols + 1
            edges = list(range(0, cols + 1, width)) + [cols + 1]
            # views stay valid: every update below writes into self.table in place
            self.blocks = [(self.table[:, a:b], slice(a, b))
                           for a, b in itertools.pairwise(edges) if b > a]
            self.ratios = np.empty(rows)
        self.denominator = 1
        self.basic = basic.copy()
        self.nonbasic = nonbasic.copy()
        self.slacks = basic.copy()
        self.row_of = [-1] * total
        self.col_of = [-1] * total
        for row, label in enumerate(basic.tolist()):
            self.row_of[label] = row
        for col, label in enumerate(nonbasic.tolist()):
            self.col_of[label] = col
        self.ties = 0

    def slack_column(self, label: int, rows: np.ndarray) -> np.ndarray:
        """Full-tableau column of initial-basis variable ``label`` restricted to ``rows``."""
        col = self.col_of[label]
        if col >= 0:
            return self.table[rows, col]
        values = np.zeros(len(rows), dtype=object if self.exact else float)
        values[rows == self.row_of[label]] = self.denominator if self.exact else 1.0
        return values

    def leaving_row(self, column: int, tol_pivot: float, tol_ratio: float) -> int:
        """Lexicographic minimum-ratio test for the entering ``column``; -1 if unbounded."""
        if self.exact:
            return self._exact_leaving_row(column)
        entering = self.table[:, column]
        positive = entering > tol_pivot
        ratios = self.ratios
        ratios.fill(np.inf)
        np.divide(self.table[:, -1], entering, out=ratios, where=positive)
        best_row = int(ratios.argmin())
        best = float(ratios[best_row])
        if best == np.inf:
            return -1
        tied = ratios <= best + tol_ratio * max(1.0, abs(best))
        if np.count_nonzero(tied) == 1:
            return best_row
        self.ties += 1
        ties = np.flatnonzero(tied)
        entering_label = self.nonbasic[column]
        for label in self.slacks:
            if label == entering_label:
                continue  # its column is the pivot column: every ratio equals 1
            values = self.slack_column(int(label), ties) / entering[ties]
            ties = ties[values <= values.min() + tol_ratio]
            if ties.size == 1:
                break
        return int(ties[0])

    def _exact_leaving_row(self, column: int) -> int:
        entering = self.table[:, column]
        candidates = np.flatnonzero(np.array([v > 0 for v in entering], dtype=bool))
        if candidates.size == 0:
            return -1
        ratios = [Fraction(self.table[r, -1], entering[r]) for r in candidates]
        best = min(ratios)
        ties = candidates[[q == best for q in ratios]]
        if ties.size == 1:
            return int(ties[0])
        self.ties += 1
        entering_label = self.nonbasic[column]
        for label in self.slacks:
            if label == entering_label:
                continue  # its column is the pivot column: every ratio equals 1
            values = self.slack_column(int(label), ties)
            ratios = [Fraction(v, entering[r]) for v, r in zip(values, ties)]
            best = min(ratios)
            ties = ties[[q == best for q in ratios]]
            if ties.size == 1:
                break
        return int(ties[0])

    def pivot(self, row: int, column: int) -> int:
        """Exchange basic ``row`` and nonbasic ``column``; returns the leaving label."""
        table = self.table
        entering_col = table[:, column].copy()
        pivot = entering_col[row]
        if self.exact:
            # integer pivoting: rows i != row become (p T_i - T_ic T_row) / d, exactly
            pivot_row = table[row].copy()
            table[:] = (pivot * table - np.multiply.outer(entering_col, pivot_row)) \
                // self.denominator
            table[row] = pivot_row
            table[:, column] = -entering_col
            table[row, column] = self.denominator
            self.denominator = pivot
        else:
            from scipy.linalg.blas import dger  # only the NumPy route (no numba) pivots here

            pivot_row = table[row] / pivot
            for block, columns in self.blocks:
                # in place on each Fortran-contiguous column block (see _BLAS_BLOCK)
                dger(-1.0, entering_col, pivot_row[columns], a=block, overwrite_a=1)
            table[row] = pivot_row
            entering_col *= -1.0 / pivot
            entering_col[row] = 1.0 / pivot
            table[:, column] = entering_col
        entering_label = int(self.nonbasic[column])
        leaving_label = int(self.basic[row])
        self.basic[row], self.nonbasic[column] = entering_label, leaving_label
        self.row_of[entering_label], self.col_of[entering_label] = row, -1
        self.row_of[leaving_label], self.col_of[leaving_label] = -1, column
        return leaving_label


def _complementary_pivoting(tableaux: tuple[_Tableau, _Tableau], initial_label: int, m: int,
                            max_pivots: int, tol_pivot: float, tol_ratio: float
                            ) -> tuple[Status, int]:
    """Run Lemke-Howson in place; returns (status, number of pivots)."""
    side = 0 if initial_label < m else 1  # x_k is nonbasic in P's tableau, y_j in Q's
    entering = initial_label
    pivots = 0
    while pivots < max_pivots:
        tableau = tableaux[side]
        column = tableau.col_of[entering]
        row = tableau.leaving_row(column, tol_pivot, tol_ratio)
        if row < 0:
            return "failed", pivots
        leaving = tableau.pivot(row, column)
        pivots += 1
        if leaving == initial_label:
            return "success", pivots
        entering, side = leaving, 1 - side
    return "max_iterations", pivots


#: Fixed Zobrist keys of (tableau, label) for the kernel's cycle detection (any fixed random
#: 64-bit values do; a seed keeps runs reproducible).
_KEYS_SEED = 20240611


@functools.lru_cache(maxsize=8)
def _zobrist_keys(total: int) -> np.ndarray:
    """The ``(2, total)`` keys, cached (drawing them cost as much as a short path). The kernel
    only reads them; they stay writeable so its compiled signature does not change."""
    return np.random.default_rng(_KEYS_SEED).integers(
        np.iinfo(np.int64).min, np.iinfo(np.int64).max, size=(2, total), dtype=np.int64)


def _compiled_pivoting(tableaux: tuple[_Tableau, _Tableau], initial_label: int, m: int,
                       max_pivots: int, tol_pivot: float, tol_ratio: float, *,
                       residues: tuple[np.ndarray, np.ndarray] | None = None
                       ) -> tuple[int, int]:
    """:func:`_complementary_pivoting` for float tableaux, in the compiled kernel.

    Same pivoting rules; with ``residues`` (the tableaux modulo the kernel's prime, column-major
    like the float ones) ties are decided exactly. The tableaux's state is updated in place, so
    the final basis is read as usual. Returns the kernel's status code
    (``_kernels.LH_SUCCESS`` ...) and the number of pivots.
    """
    first, second = tableaux
    total = len(first.row_of)
    row_of = np.array([first.row_of, second.row_of], dtype=np.int64)
    col_of = np.array([first.col_of, second.col_of], dtype=np.int64)
    size = max(first.table.shape[0], second.table.shape[0], first.table.shape[1],
               second.table.shape[1]) + 1
    keys = _zobrist_keys(total)
    tracked = residues is not None
    if residues is None:
        residues = (np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.int64))
    out = np.zeros(3, dtype=np.int64)
    _kernels.lemke_howson_path(
        # column-major flat views: updates land in the tableaux themselves
        (first.table.reshape(-1, order="F"), second.table.reshape(-1, order="F")),
        (residues[0].reshape(-1, order="F"), residues[1].reshape(-1, order="F")),
        tracked, (first.basic, second.basic),
        (first.nonbasic, second.nonbasic), row_of, col_of, (first.slacks, second.slacks), keys,
        initial_label, m, max_pivots, tol_pivot, tol_ratio, np.empty(size),
        np.empty(size), np.empty(size), np.empty(size, dtype=np.int64),
        np.empty(size, dtype=np.int64), np.empty(size, dtype=np.int64), out)
    for side, tableau in enumerate(tableaux):
        tableau.row_of = row_of[side].tolist()
        tableau.col_of = col_of[side].tolist()
    first.ties, second.ties = int(out[2]), 0
    return int(out[0]), int(out[1])


def _basis_supports(tableaux: tuple[_Tableau, _Tableau], m: int, n: int
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Support of x, tight columns of B^T x <= 1, support of y, tight rows of A y <= 1."""
    first, second = tableaux
    x_support = np.sort(first.basic[first.basic < m])
    tight_columns = np.sort(first.nonbasic[first.nonbasic >= m]) - m
    y_support = np.sort(second.basic[second.basic >= m]) - m
    tight_rows = np.sort(second.nonbasic[second.nonbasic < m])
    return x_support, tight_columns, y_support, tight_rows


def _tableau_strategy(tableau: _Tableau, low: int, high: int) -> np.ndarray:
    values = np.zeros(high - low)
    mask = (tableau.basic >= low) & (tableau.basic < high)
    values[tableau.basic[mask] - low] = np.asarray(tableau.table[mask, -1], dtype=float)
    total = values.sum()
    return values / total if total > 0 else values


def _float_equilibrium(game: NormalFormGame, tableaux: tuple[_Tableau, _Tableau],
                       row_matrix: np.ndarray, column_matrix: np.ndarray) -> Equilibrium:
    """Equilibrium from the final basis: the better of the tableau values and a fresh solve."""
    m, n = row_matrix.shape
    candidates = [(_tableau_strategy(tableaux[0], 0, m), _tableau_strategy(tableaux[1], m, m + n))]
    x_support, tight_columns, y_support, tight_rows = _basis_supports(tableaux, m, n)
    try:
        x = np.zeros(m)
        x[x_support] = np.linalg.solve(column_matrix[np.ix_(x_support, tight_columns)].T,
                                       np.ones(len(x_support)))
        y = np.zeros(n)
        y[y_support] = np.linalg.solve(row_matrix[np.ix_(tight_rows, y_support)],
                                       np.ones(len(y_support)))
        x, y = np.clip(x, 0.0, None), np.clip(y, 0.0, None)
        if x.sum() > 0 and y.sum() > 0:
            candidates.append((x / x.sum(), y / y.sum()))
    except np.linalg.LinAlgError:
        pass
    best: Equilibrium | None = None
    for x, y in candidates:
        x.flags.writeable = False
        y.flags.writeable = False
        regret = max_regret(game, (x, y))
        if best is None or regret < best.regret:
            payoffs = game.expected_payoffs((x, y))
            payoffs.flags.writeable = False
            best = Equilibrium((x, y), payoffs, regret)
    assert best is not None
    return best


def _exact_equilibrium(game: NormalFormGame,
                       supports: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
                       ) -> Equilibrium | None:
    """Rebuild the final basis in exact arithmetic and certify it; None if it is no equilibrium.

    Each strategy is the exact solution of the indifference system of its basis: the column
    player's ``y`` on its support makes the row player's *tight* actions (nonbasic slacks)
    indifferent, and symmetrically for ``x``; only these ``k x k`` payoff blocks are made exact.
    The certificate then needs, exactly: ``x, y >= 0``, every action played is tight (the
    complementarity of the final basis), and no other action pays more than the tight ones.
    The last condition is proved for all other actions at once: for games given as integer
    arrays (:attr:`NormalFormGame.integer_payoffs`) by comparing every action's payoff with a
    tight one's in int64 (:func:`_kernels.rows_at_most`, under a proven overflow bound);
    otherwise by a rigorous floating-point bound (:func:`_proved_not_better`), where only
    actions it cannot separate (ties, i.e. degenerate best responses) are compared in
    rational arithmetic, on their support entries only.
    """
    assert game.payoffs_exact is not None
    m, n = game.payoffs.shape[1:]
    x_support, tight_columns, y_support, tight_rows = supports
    if not len(x_support) or not len(y_support):
        return None
    if len(x_support) != len(tight_columns) or len(y_support) != len(tight_rows):
        return None
    integers = game.integer_payoffs
    if integers is not None:
        y_solution = _integer_support_solution(
            integers[0][tight_rows[:, None], y_support].tolist(), 1)
        x_solution = _integer_support_solution(
            integers[1][x_support[:, None], tight_columns].T.tolist(), 1)
    else:
        exact = game.payoffs_exact
        y_solution = _support_solution(exact[0][tight_rows[:, None], y_support])
        x_solution = _support_solution(exact[1][x_support[:, None], tight_columns].T)
    if x_solution is None or y_solution is None:
        return None
    (x_part, x_total, column_top, column_bottom) = x_solution
    (y_part, y_total, row_top, row_bottom) = y_solution
    if min(x_part) < 0 or min(y_part) < 0:
        return None
    # no other action pays more
    for player, support, solution, tight in ((0, y_support, y_solution, tight_rows),
                                             (1, x_support, x_solution, tight_columns)):
        decided = _integer_not_better(integers, player, support, solution[0], solution[1],
                                      int(tight[0])) if integers is not None else -1
        if decided < 0:
            decided = int(_proved_not_better(game, player, support, solution, tight))
        if not decided:
            return None
    # every action played is a tight one (so it pays the common value)
    if not {i for i, v in zip(x_support.tolist(), x_part) if v} <= set(tight_rows.tolist()) or \
            not {j for j, v in zip(y_support.tolist(), y_part) if v} <= \
            set(tight_columns.tolist()):
        return None
    zero = Fraction(0)
    x = [zero] * m
    y = [zero] * n
    floats = (np.zeros(m), np.zeros(n))
    for strategy, values, floats_out, support, total in ((x, x_part, floats[0], x_support, x_total),
                                                         (y, y_part, floats[1], y_support, y_total)):
        for i, v in zip(support.tolist(), values):
            if v:
                strategy[i] = Fraction(v, total)
                floats_out[i] = v / total  # correctly rounded, as float(Fraction)
    payoffs_exact = (Fraction(row_top, row_bottom), Fraction(column_top, column_bottom))
    payoffs = np.array([row_top / row_bottom, column_top / column_bottom])
    for array in (*floats, payoffs):
        array.flags.writeable = False
    return Equilibrium(floats, payoffs, 0.0, (tuple(x), tuple(y)), payoffs_exact)


#: An exact strategy on a support with its common payoff, in integers: ``(numerators, total,
#: value_top, value_bottom)`` is the strategy ``numerators / total`` (``total > 0``, the sum of
#: the numerators) and the payoff ``value_top / value_bottom`` (``value_bottom > 0``).
_IntegerSolution = tuple[list[int], int, int, int]


def _support_solution(block: np.ndarray) -> _IntegerSolution | None:
    """Exact ``z`` (summing to 1) making the rows of the Fraction ``block`` pay one value ``w``,
    and ``w`` in payoff units, as integers; None when the system has no unique solution.

    The indifference system ``[[S B, -1], [1, 0]] (z, w') = (0, 1)`` of the integer block
    ``S B`` (``S`` the common denominator) is solved in Python integers
    (:func:`solve_square_integers`).
    """
    ints, scale = integer_array(block)
    if block.shape[0] != block.shape[1]:
        return None
    return _integer_support_solution(ints.tolist(), scale)


def _integer_support_solution(rows: list[list[int]], scale: int) -> _IntegerSolution | None:
    """:func:`_support_solution` of the square block ``rows / scale`` (Python ints)."""
    size = len(rows)
    system = [row + [-1] for row in rows] + [[1] * size + [0]]
    solved = solve_square_integers(system, [0] * size + [1])
    if solved is None:
        return None
    numerators, determinant = solved
    return numerators[:size], determinant, numerators[size], determinant * scale


def _integer_not_better(integers: np.ndarray, player: int, support: np.ndarray,
                        numerators: list[int], total: int, reference: int) -> int:
    """Whether no action of ``player`` pays more than the tight action ``reference`` against
    the other player's strategy ``numerators / total`` (nonnegative, on ``support``), decided
    exactly in int64 on the integer payoffs: 1 (none does), 0 (one does), or -1 when the int64
    route does not apply (numba not loaded, or the overflow bound fails: the caller then
    decides in floating point and rationals).

    Every action's payoff times ``total`` is ``sum_j a_ij n_j``; the kernel compares these
    integers, which the bound ``|a_ij| <= limit = floor(2^62 / total)`` (checked entry by entry
    as they are read) keeps below ``2^62`` in magnitude (``n_j >= 0`` with sum ``total``).
    """
    if not _kernels.worthwhile(integers.shape[1 + player] * len(numerators)) or \
            not 0 < total < 2 ** 62:
        return -1
    weights = np.array(numerators, dtype=np.int64)  # each n_j <= total < 2^62
    return int(_kernels.rows_at_most(integers, player, support, weights, 2 ** 62 // total,
                                     reference))


def _proved_not_better(game: NormalFormGame, player: int, support: np.ndarray,
                       solution: _IntegerSolution, tight: np.ndarray) -> bool:
    """Whether no action of ``player`` outside ``tight`` pays more than the value of
    ``solution`` against the other player's exact strategy of ``solution`` (nonnegative, on
    ``support``), decided exactly.

    The payoffs are read in floating point first: with ``s`` the rounded strategy and
    ``payoffs`` the correctly rounded images of the exact ``a_ij``, ``|a_ij| <= |fl(a_ij)| /
    (1-u)`` and Higham's bound for a ``k``-term product give ``|exact[i] . strategy -
    fl(payoffs[i] @ s)| <= (gamma_k + 3u) (|payoffs[i]| @ s) + (k + sum_j |a_ij|) 2^-1070`` (the
    last term covers subnormal rounding); the bound is doubled, which also covers the rounding
    of its own evaluation. Actions whose float margin below the value exceeds it are proved (in
    the compiled :func:`_kernels.rows_not_better` when numba is loaded); the rest (ties, i.e.
    degenerate best responses) are compared in integers, on the support entries only.
    """
    numerators, total, top, bottom = solution
    count = game.payoffs.shape[1 + player]
    k = len(numerators)
    weights = np.array([v / total for v in numerators])  # correctly rounded
    target = top / bottom
    if _kernels.worthwhile(count * k):
        undecided = np.empty(count, dtype=np.int64)
        found = _kernels.rows_not_better(game.payoffs, player, support, weights, target,
                                         gamma(k + 4), tight, undecided)
        rows = undecided[:found]
    else:
        skip = np.zeros(count, dtype=bool)
        skip[tight] = True
        rows = np.flatnonzero(~skip)
        block = game.payoffs[0][rows][:, support] if player == 0 else \
            game.payoffs[1][support][:, rows].T
        estimate = block @ weights
        magnitude = np.abs(block)
        # subnormal roundings: |a - fl(a)| <= 2^-1075 and |z - fl(z)| <= 2^-1075 (absolute)
        tiny = (k + magnitude.sum(axis=1)) * 2.0 ** -1070
        bound = 2.0 * (gamma(k + 4) * (magnitude @ weights) + tiny)
        # |target - value| <= u |target|; the subtraction below rounds by at most u of its result
        margin = target - estimate
        slack = bound + 4.0 * UNIT_ROUNDOFF * (abs(target) + np.abs(estimate)) + 2.0 ** -1070
        rows = rows[~(margin > slack)]
    if not len(rows):
        return True
    # ties (degenerate best responses), exactly: row i pays (a_i . numerators) / total, where
    # a_i = ints_i / scale over a common denominator; it pays at most top / bottom iff
    # (ints_i . numerators) bottom <= top total scale (all denominators positive)
    exact = game.payoffs_exact
    assert exact is not None
    block = exact[0][rows[:, None], support] if player == 0 else exact[1][support[:, None], rows].T
    ints, scale = integer_array(block)
    limit = top * total * scale
    return all(sum(map(operator.mul, row, numerators)) * bottom <= limit
               for row in ints.tolist())


def _build_tableaux(row_matrix: np.ndarray, column_matrix: np.ndarray, exact: bool, *,
                    rescale: bool = False) -> tuple[_Tableau, _Tableau]:
    """The two tableaux; ``rescale`` applies :func:`_float_matrix` to each matrix first."""
    m, n = row_matrix.shape
    total = m + n
    # P: rows are the column player's actions (slack labels m..m+n-1), columns x (labels 0..m-1)
    first = _Tableau(column_matrix.T, np.arange(m, total), np.arange(m), total, exact,
                     rescale=rescale)
    # Q: rows are the row player's actions (slack labels 0..m-1), columns y (labels m..m+n-1)
    second = _Tableau(row_matrix, np.arange(m), np.arange(m, total), total, exact,
                      rescale=rescale)
    return first, second


def _check_label(initial_label: int, total: int) -> int:
    try:
        valid = not isinstance(initial_label, bool) and int(initial_label) == initial_label \
            and 0 <= initial_label < total
    except (TypeError, ValueError):
        valid = False
    if not valid:
        raise GameValidationError(
            "initial_label", f"must be an integer in 0..{total - 1} (0..m-1 drop a row action, "
            "m..m+n-1 a column action)", None, initial_label)
    return int(initial_label)


def lemke_howson(game: Any, *, initial_label: int = 0, max_iterations: int | None = None,
                 exact: bool | None = None, tol_pivot: float = 1e-10,
                 tol_ratio: float = 1e-13) -> SolverResult:
    """One Nash equilibrium of a two-player game by the Lemke-Howson algorithm.

    Parameters
    ----------
    game : NormalFormGame or nashpy.Game
        A two-player game with payoff matrices of shape ``(m, n)``.
    initial_label : int, default 0
        The label dropped first: ``0..m-1`` are the row player's actions, ``m..m+n-1`` the column
        player's (QuantEcon's ``init_pivot``, nashpy's ``initial_dropped_label``).
    max_iterations : int, optional
        Pivot cap; None means :data:`DEFAULT_MAX_PIVOTS`. Reaching it gives status
        ``"max_iterations"`` and no equilibrium.
    exact : bool, optional
        Exact certification (needs exact payoffs). None (default): exact whenever the game's
        payoffs are exact. ``False`` skips the rational arithmetic.
    tol_pivot : float, default 1e-10
        Float pivoting only: pivot-column entries at or below this are treated as nonpositive
        (entries are of order 1: payoffs are rescaled into ``[1, 2]`` first).
    tol_ratio : float, default 1e-13
        Float pivoting only: relative tolerance under which two ratios tie and the lexicographic
        rule decides.

    Returns
    -------
    SolverResult
        ``equilibria`` holds one equilibrium on success (none otherwise), ``exact`` says whether
        it is certified in rationals (``strategies_exact`` set, regret 0), ``iterations`` is the
        number of pivots. ``degenerate`` is True when a ratio tie was met (exactly, for exact
        pivoting), None otherwise (no tie says nothing about the rest of the game).
        ``extra``: ``initial_label``, ``arithmetic`` ("float" or "integer"), ``ratio_ties``.

    Raises
    ------
    GameValidationError
        If the game does not have two players or ``initial_label`` is out of range.
    """
    game = two_player_game(game, "lemke_howson")
    m, n = game.num_actions
    initial_label = _check_label(initial_label, m + n)
    cap = DEFAULT_MAX_PIVOTS if max_iterations is None else int(max_iterations)
    return _run(game, initial_label, cap, exact, tol_pivot, tol_ratio)


#: Arithmetic stages tried in turn for exact games larger than :data:`EXACT_PIVOTING_SIZE`.
_STAGES = ("float", "float+modular", "integer")

_KERNEL_STATUS: dict[int, Status] = {0: "success", 1: "failed", 2: "max_iterations",
                                     4: "failed"}
_KERNEL_MESSAGE = {
    1: "unbounded ray: no positive pivot-column entry (numerical failure)",
    4: "a basis repeated: floating-point ties sent the path around a cycle",
}


def _small_integers(game: NormalFormGame) -> tuple[np.ndarray, np.ndarray] | None:
    """The payoff matrices as int64 arrays shifted to entries >= 1 (as :func:`_integer_matrix`
    with scale 1), when every payoff is an integer of magnitude below 2^52; else None."""
    assert game.payoffs_exact is not None
    if float(np.abs(game.payoffs).max()) >= 2.0 ** 52 or \
            any(v.denominator != 1 for v in game.payoffs_exact.ravel().tolist()):
        return None
    # every float payoff equals its exact integer value (below 2^53)
    ints = game.payoffs.astype(np.int64)
    return ints[0] - ints[0].min() + 1, ints[1] - ints[1].min() + 1


def _tracked_tableaux(game: NormalFormGame, integers: tuple[np.ndarray, np.ndarray] | None,
                      small: tuple[np.ndarray, np.ndarray] | None
                      ) -> tuple[tuple[_Tableau, _Tableau], tuple[np.ndarray, np.ndarray]]:
    """Float tableaux proportional to the positive integer matrices, and their residues
    modulo the kernel's prime (column-major, ones appended), for the tracked kernel."""
    assert game.payoffs_exact is not None
    if small is not None:
        row, column = small
        largest = (float(row.max()), float(column.max()))
        floats = (row / largest[0], column / largest[1])
        modular = (row % _kernels.PRIME, column % _kernels.PRIME)
    else:
        row, column = integers if integers is not None else (
            _integer_matrix(game.payoffs_exact[0])[0], _integer_matrix(game.payoffs_exact[1])[0])
        floats_list, modular_list = [], []
        for ints in (row, column):
            flat = ints.ravel().tolist()
            top = max(flat)
            floats_list.append(np.array([v / top for v in flat]).reshape(ints.shape))
            modular_list.append(np.array([v % _kernels.PRIME for v in flat],
                                         dtype=np.int64).reshape(ints.shape))
        floats = (floats_list[0], floats_list[1])
        modular = (modular_list[0], modular_list[1])
    residues = []
    for matrix in (modular[1].T, modular[0]):   # P's tableau holds B^T, Q's holds A
        rows, cols = matrix.shape
        table = np.empty((rows, cols + 1), dtype=np.int64, order="F")
        table[:, :cols] = matrix
        table[:, cols] = 1
        residues.append(table)
    return _build_tableaux(*floats, exact=False), (residues[0], residues[1])


def _run(game: NormalFormGame, initial_label: int, cap: int, exact: bool | None,
         tol_pivot: float, tol_ratio: float, cache: dict[str, Any] | None = None
         ) -> SolverResult:
    m, n = game.num_actions
    want_exact = game.is_exact if exact is None else bool(exact)
    if want_exact and not game.is_exact:
        raise GameValidationError("payoffs", "exact=True needs exact (integer or rational) payoffs")
    if not want_exact:
        return _run_float(game, initial_label, cap, tol_pivot, tol_ratio)
    return _run_exact(game, initial_label, cap, tol_pivot, tol_ratio, {} if cache is None else cache)


def _run_float(game: NormalFormGame, initial_label: int, cap: int, tol_pivot: float,
               tol_ratio: float) -> SolverResult:
    """Float payoffs: float pivoting, ties within ``tol_ratio``; certified by float regret."""
    m, n = game.num_actions
    row_float, column_float = _float_matrix(game.payoffs[0]), _float_matrix(game.payoffs[1])
    tableaux = _build_tableaux(row_float, column_float, exact=False)
    if _kernels.NUMBA_AVAILABLE:
        code, pivots = _compiled_pivoting(tableaux, initial_label, m, cap, tol_pivot, tol_ratio)
        status, message = _KERNEL_STATUS[code], _KERNEL_MESSAGE.get(code, "")
    else:
        status, pivots = _complementary_pivoting(tableaux, initial_label, m, cap, tol_pivot,
                                                 tol_ratio)
        message = _KERNEL_MESSAGE[1] if status == "failed" else ""
    arithmetic = "float"
    if status == "failed" and message == _KERNEL_MESSAGE[4]:
        # float ties led around a cycle: every float is a dyadic rational, so follow the exact
        # lexicographic path of the given (float) payoffs with exactly decided ties
        exact_game = NormalFormGame(np.vectorize(Fraction, otypes=[object])(game.payoffs))
        tableaux, residues = _tracked_tableaux(exact_game, None, _small_integers(exact_game))
        code, pivots = _compiled_pivoting(tableaux, initial_label, m, cap, tol_pivot, tol_ratio,
                                          residues=residues)
        status, message = _KERNEL_STATUS[code], _KERNEL_MESSAGE.get(code, "")
        arithmetic = "float+modular"
    ties = tableaux[0].ties + tableaux[1].ties
    extra: dict[str, Any] = {"initial_label": initial_label, "arithmetic": arithmetic,
                             "ratio_ties": ties}
    if status != "success":
        if status == "max_iterations":
            message = f"pivot cap {cap} reached"
        return SolverResult((), "lemke_howson", status, False, False, None, pivots, message,
                            extra=extra)
    equilibrium = _float_equilibrium(game, tableaux, row_float, column_float)
    if ties:
        message = "ratio ties met (float tolerance): the game may be degenerate"
    return SolverResult((equilibrium,), "lemke_howson", "success", False, False, None, pivots,
                        message, extra=extra)


#: Largest support (and pivot count) :func:`_short_path` follows before it hands over.
SHORT_PATH_SUPPORT = 12
SHORT_PATH_PIVOTS = 40


def _short_path(game: NormalFormGame, initial_label: int, cap: int, tol_pivot: float,
                tol_ratio: float) -> SolverResult | None:
    """A short float path without tableaux (:func:`_kernels.lemke_howson_short`), certified
    exactly; None when the kernel hands over (long path, large support, undecided tie) or the
    certificate fails, so that the tableau stages run from the start.

    Building the two tableaux costs more than a path of a few pivots; this route recomputes
    each pivot's few columns from the payoffs instead. Its path is the float tableau route's
    (same rescaled payoffs, same ratio and lexicographic tie rules), and its final basis gets
    the same exact certificate.
    """
    size = SHORT_PATH_SUPPORT
    structural = np.zeros((2, size + 1), dtype=np.int64)
    tight = np.zeros((2, size + 1), dtype=np.int64)
    sizes = np.zeros(2, dtype=np.int64)
    out = np.zeros(3, dtype=np.int64)
    payoffs = np.ascontiguousarray(game.payoffs)
    # the tableau route's rescaling (_float_matrix): the same path needs the same numbers
    low, spread = np.empty(2), np.empty(2)
    _kernels.payoff_range(payoffs, low, spread)
    _kernels.lemke_howson_short(payoffs, low, spread, initial_label,
                                min(cap, SHORT_PATH_PIVOTS), size, tol_pivot, tol_ratio,
                                structural, tight, sizes, np.empty((size + 1, size + 3)), out)
    code, pivots, ties = out.tolist()
    if code != _kernels.LH_SUCCESS:
        return None
    k_p, k_q = sizes.tolist()
    # the kernel leaves the final bases sorted
    supports = (structural[0, :k_p], tight[0, :k_p], structural[1, :k_q], tight[1, :k_q])
    certified = _exact_equilibrium(game, supports)
    if certified is None:
        return None
    extra = {"initial_label": initial_label, "arithmetic": "float", "ratio_ties": ties,
             "attempts": [("float", pivots, "certified")]}
    return SolverResult((certified,), "lemke_howson", "success", False, True, None, pivots, "",
                        extra=extra)


def _run_exact(game: NormalFormGame, initial_label: int, cap: int, tol_pivot: float,
               tol_ratio: float, cache: dict[str, Any]) -> SolverResult:
    """Exact payoffs: the exact lexicographic path, by the cheapest arithmetic that follows it.

    1. float pivoting, ties within ``tol_ratio`` broken lexicographically (nondegenerate paths,
       and most degenerate ones, finish here);
    2. float pivoting with exact tie decisions from the same tableaux kept modulo a prime
       (the exact lexicographic rule, up to a chance of about 1e-9 per tie test that the prime
       divides a nonzero number, which the certificate below would catch);
    3. fraction-free integer pivoting (always exact; first for small games).

    Each stage's final basis is certified exactly (:func:`_exact_equilibrium`), so a result is
    an equilibrium whatever path found it; a stage that stops early (unbounded ray, repeated
    basis, failed certificate) hands over to the next one. The
    pivot cap applies to each stage; ``iterations`` counts the pivots of the path that
    produced the result, ``extra["attempts"]`` every stage's ``(arithmetic, pivots, outcome)``.
    ``cache`` keeps the game's int64 payoffs (``"small"``) across the runs of one call of
    :func:`lemke_howson_all`; a single run computes them only when stage 2 needs them.
    """
    assert game.payoffs_exact is not None
    m, n = game.num_actions
    stages = ["integer"] if m + n <= EXACT_PIVOTING_SIZE or not _kernels.NUMBA_AVAILABLE \
        else list(_STAGES)
    attempts: list[tuple[str, int, str]] = []
    integers: tuple[np.ndarray, np.ndarray] | None = None
    status: Status = "failed"
    pivots, ties, message = 0, 0, ""
    if stages[0] == "float":
        short = _short_path(game, initial_label, cap, tol_pivot, tol_ratio)
        if short is not None:
            return short
    for arithmetic in stages:
        if arithmetic == "float":
            tableaux = _build_tableaux(game.payoffs[0], game.payoffs[1], exact=False,
                                       rescale=True)
            code, pivots = _compiled_pivoting(tableaux, initial_label, m, cap, tol_pivot,
                                              tol_ratio)
        elif arithmetic == "float+modular":
            if "small" not in cache:
                cache["small"] = _small_integers(game)
            tableaux, residues = _tracked_tableaux(game, integers, cache["small"])
            code, pivots = _compiled_pivoting(tableaux, initial_label, m, cap, tol_pivot,
                                              tol_ratio, residues=residues)
        else:
            if integers is None:
                integers = (_integer_matrix(game.payoffs_exact[0])[0],
                            _integer_matrix(game.payoffs_exact[1])[0])
            tableaux = _build_tableaux(*integers, exact=True)
            integer_status, pivots = _complementary_pivoting(
                tableaux, initial_label, m, cap, tol_pivot, tol_ratio)
            code = {"success": 0, "failed": 1, "max_iterations": 2}[integer_status]
        ties = tableaux[0].ties + tableaux[1].ties
        status = _KERNEL_STATUS[code]
        if status == "max_iterations":
            attempts.append((arithmetic, pivots, "pivot cap"))
            message = f"pivot cap {cap} reached"
            if arithmetic != "float" or not ties:
                break  # the exact path itself is at least this long
            continue  # a float tie may have led astray: the exact rule may end sooner
        if status != "success":
            attempts.append((arithmetic, pivots, _KERNEL_MESSAGE[code]))
            message = _KERNEL_MESSAGE[code]
            continue
        certified = _exact_equilibrium(game, _basis_supports(tableaux, m, n))
        if certified is None:
            attempts.append((arithmetic, pivots, "final basis failed the exact certificate"))
            status, message = "failed", "exact certification failed"
            continue
        attempts.append((arithmetic, pivots, "certified"))
        degenerate = True if ties and arithmetic != "float" else None
        extra = {"initial_label": initial_label, "arithmetic": arithmetic, "ratio_ties": ties,
                 "attempts": attempts}
        return SolverResult((certified,), "lemke_howson", "success", False, True, degenerate,
                            pivots, "", extra=extra)
    extra = {"initial_label": initial_label, "arithmetic": attempts[-1][0], "ratio_ties": ties,
             "attempts": attempts}
    return SolverResult((), "lemke_howson", status, False, False, None, pivots, message,
                        extra=extra)


def lemke_howson_all(game: Any, *, max_iterations: int | None = None, exact: bool | None = None,
                     tol_pivot: float = 1e-10, tol_ratio: float = 1e-13,
                     tol_distinct: float = 1e-9) -> SolverResult:
    """The equilibria Lemke-Howson reaches from every initial label, without duplicates.

    This is not the complete set (``complete=False``): some equilibria lie on no path from the
    artificial equilibrium. Use an enumeration method for all extreme equilibria.

    Parameters
    ----------
    game : NormalFormGame or nashpy.Game
        A two-player game, payoff matrices of shape ``(m, n)``.
    max_iterations : int, optional
        Pivot cap per initial label (None: :data:`DEFAULT_MAX_PIVOTS`).
    exact, tol_pivot, tol_ratio
        As in :func:`lemke_howson`.
    tol_distinct : float, default 1e-9
        Float results closer than this (max abs difference) count as one equilibrium; exact
        results are compared exactly.

    Returns
    -------
    SolverResult
        ``equilibria`` in order of first discovery; ``extra["label_equilibrium"][k]`` is the index
        of the equilibrium reached from label ``k`` (-1 if that run hit the cap);
        ``iterations`` is the total number of pivots; status ``"max_iterations"`` when any run
        hit the cap.
    """
    game = two_player_game(game, "lemke_howson_all")
    m, n = game.num_actions
    cap = DEFAULT_MAX_PIVOTS if max_iterations is None else int(max_iterations)
    found: list[Equilibrium] = []
    label_equilibrium: list[int] = []
    total_pivots, ties, all_exact = 0, 0, True
    cache: dict[str, Any] = {}
    if game.is_exact and exact is not False:
        cache["small"] = _small_integers(game)  # once for all m + n runs
    status: Status = "success"
    degenerate: bool | None = None
    for label in range(m + n):
        result = _run(game, label, cap, exact, tol_pivot, tol_ratio, cache)
        total_pivots += result.iterations
        ties += int(result.extra.get("ratio_ties", 0))
        if result.degenerate:
            degenerate = True
        if not result.equilibria:
            status = result.status if status == "success" else status
            label_equilibrium.append(-1)
            continue
        candidate = result.equilibria[0]
        all_exact = all_exact and candidate.exact
        index = next((k for k, old in enumerate(found) if _same(old, candidate, tol_distinct)), -1)
        if index < 0:
            found.append(candidate)
            index = len(found) - 1
        label_equilibrium.append(index)
    return SolverResult(tuple(found), "lemke-howson", status,
                        False, all_exact and bool(found), degenerate, total_pivots,
                        "equilibria reachable by Lemke-Howson from each initial label; "
                        "not necessarily all equilibria",
                        extra={"label_equilibrium": label_equilibrium, "ratio_ties": ties})


def _same(first: Equilibrium, second: Equilibrium, tol: float) -> bool:
    if first.strategies_exact is not None and second.strategies_exact is not None:
        return first.strategies_exact == second.strategies_exact
    return all(float(np.max(np.abs(a - b))) <= tol
               for a, b in zip(first.strategies, second.strategies))
