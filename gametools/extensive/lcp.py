"""Sequence-form LCP for two-player general-sum games, solved by Lemke's algorithm, exactly.

Formulation (Koller, Megiddo and von Stengel 1996; von Stengel, "Computing equilibria for
two-person games", Handbook of Game Theory 3, 2002, section 6): with realization plans ``x``
(``E x = e, x >= 0``), ``y`` (``F y = f, y >= 0``) and sequence-form payoff matrices ``A``,
``B``, a Nash equilibrium is a solution of

    E^T p - A y >= 0  complementary to  x,        F^T q - B^T x >= 0  complementary to  y,

with ``p``, ``q`` free. Free variables are split (``p = p' - p''``) and the equality
constraints doubled, which gives a standard LCP ``w = c + M z, z, w >= 0, z^T w = 0`` with
``z = (x, y, p', p'', q', q'')``. Payoffs are first shifted to be strictly negative, which
changes no equilibrium. Lemke's algorithm with covering vector ``d = 1`` and lexicographic
minimum-ratio tie-breaking (so degenerate games do not cycle) runs in exact rational arithmetic;
the equilibrium found is then certified by the exact NashConv. A ray termination (which the
theory does not exclude for every covering vector) is reported as a failure, never as an
equilibrium.
"""

from __future__ import annotations

import time
from fractions import Fraction

import numpy as np

from gametools.errors import UnsupportedGameError
from gametools.extensive.exploitability import exact_nash_conv
from gametools.extensive.model import ExtensiveGame
from gametools.solvers.result import SolverResult

__all__ = ["sequence_form_lcp"]


def _exact_sequence_matrices(game: ExtensiveGame, shift: Fraction
                             ) -> tuple[list[np.ndarray], list[np.ndarray]]:
    data = game.sequences
    chance = game.terminal_chance_exact()
    assert game.payoffs_exact is not None
    rows, cols = data.terminal_sequence
    n1, n2 = game.num_sequences
    matrices = []
    for i in range(2):
        matrix = np.array([[Fraction(0)] * n2 for _ in range(n1)], dtype=object)
        for z in range(game.num_terminals):
            matrix[rows[z], cols[z]] += chance[z] * (game.payoffs_exact[i, z] + shift)
        matrices.append(matrix)
    constraints = []
    for i in range(2):
        offsets, counts, parents = data.segments[i]
        e = np.array([[Fraction(0)] * game.num_sequences[i] for _ in range(offsets.size + 1)],
                     dtype=object)
        e[0, 0] = Fraction(1)
        for k, (start, count) in enumerate(zip(offsets, counts)):
            e[k + 1, 1 + start:1 + start + count] = Fraction(1)
            e[k + 1, parents[start]] -= 1
        constraints.append(e)
    return matrices, constraints


def _lemke(matrix: np.ndarray, constant: np.ndarray, max_pivots: int
           ) -> tuple[np.ndarray | None, int, str]:
    """Solve ``w = c + M z`` (integer ``M``, ``c``) by Lemke's algorithm with covering vector 1.

    The tableau stays integral (fraction-free pivoting: every entry is the true entry times
    the current pivot determinant, which divides exactly), so the arithmetic is exact and
    Python integers are all it needs. Returns ``(z, pivots, message)``; ``z`` is None on ray
    termination or at the pivot cap.
    """
    n = constant.size
    # tableau columns: w (n), z (n), z0, rhs;   w - M z - 1 z0 = c
    tableau = np.zeros((n, 2 * n + 2), dtype=object)
    tableau[:, :] = 0
    for i in range(n):
        tableau[i, i] = 1
    tableau[:, n:2 * n] = -matrix
    tableau[:, 2 * n] = -1
    tableau[:, 2 * n + 1] = constant
    basis = list(range(n))
    determinant = 1
    if all(v >= 0 for v in constant):
        return np.array([Fraction(0)] * n, dtype=object), 0, "trivial solution"

    def pivot(row: int, column: int) -> None:
        nonlocal determinant
        element = tableau[row, column]
        pivot_row = tableau[row, :]
        factors = tableau[:, column].copy()
        others = np.array([i for i in range(n) if i != row and factors[i] != 0], dtype=int)
        columns = np.flatnonzero([v != 0 for v in pivot_row])
        rest = np.array([i for i in range(n) if i != row and factors[i] == 0], dtype=int)
        if rest.size:  # rows without the entering column only rescale
            tableau[rest, :] = tableau[rest, :] * element // determinant
        if others.size:
            block = tableau[np.ix_(others, np.arange(2 * n + 2))] * element
            block[:, columns] -= np.outer(factors[others], pivot_row[columns])
            tableau[others, :] = block // determinant
        determinant = element
        basis[row] = column

    def leaving(column: int) -> int | None:
        sign = 1 if determinant > 0 else -1
        entries = tableau[:, column]
        candidates = [i for i in range(n) if entries[i] * sign > 0]
        if not candidates:
            return None
        # lexicographic minimum ratio over (rhs, inverse-basis row) / entry
        best, key = candidates[0], None
        for i in candidates:
            row_key = [Fraction(tableau[i, 2 * n + 1], entries[i])] + \
                [Fraction(tableau[i, j], entries[i]) for j in range(n)]
            if key is None or row_key < key:
                key, best = row_key, i
        return best

    # first pivot: z0 enters at the most negative c_i (covering vector 1)
    first = min(range(n), key=lambda i: (constant[i], i))
    pivot(first, 2 * n)
    entering = n + first  # the complement of w_first, which just left
    for count in range(1, max_pivots + 1):
        row = leaving(entering)
        if row is None:
            return None, count, "ray termination (no equilibrium found from this start)"
        left = basis[row]
        pivot(row, entering)
        if left == 2 * n:
            z = np.array([Fraction(0)] * n, dtype=object)
            for i, variable in enumerate(basis):
                if n <= variable < 2 * n:
                    z[variable - n] = Fraction(tableau[i, 2 * n + 1], determinant)
            return z, count, "complementary solution"
        entering = left + n if left < n else left - n
    return None, max_pivots, f"stopped after {max_pivots} pivots"


def sequence_form_lcp(game: ExtensiveGame, *, max_pivots: int = 100_000) -> SolverResult:
    """A Nash equilibrium of a two-player perfect-recall game, exactly, by Lemke's algorithm.

    Returns
    -------
    SolverResult
        Status ``"success"`` with one exact equilibrium (``exact=True``) certified by the exact
        NashConv, or ``"failed"`` with no profile (ray termination or the pivot cap).

    Raises
    ------
    UnsupportedGameError
        For a game without two players.
    ImperfectRecallError
        Without perfect recall.
    """
    from gametools.extensive.solve import make_extensive_equilibrium

    if game.num_players != 2:
        raise UnsupportedGameError("the sequence-form LCP is for two-player games")
    game.require_perfect_recall("the sequence-form LCP")
    start = time.perf_counter()
    assert game.payoffs_exact is not None
    shift = -max(max(game.payoffs_exact.reshape(-1)), Fraction(0)) - 1
    (a, b), (e, f) = _exact_sequence_matrices(game, shift)
    n1, n2 = game.num_sequences
    r1, r2 = e.shape[0], f.shape[0]
    size = n1 + n2 + 2 * r1 + 2 * r2
    zero = Fraction(0)
    matrix = np.array([[zero] * size for _ in range(size)], dtype=object)
    x, y = slice(0, n1), slice(n1, n1 + n2)
    p1 = slice(n1 + n2, n1 + n2 + r1)
    p2 = slice(p1.stop, p1.stop + r1)
    q1 = slice(p2.stop, p2.stop + r2)
    q2 = slice(q1.stop, q1.stop + r2)
    matrix[x, y] = -a
    matrix[x, p1] = e.T
    matrix[x, p2] = -e.T
    matrix[y, x] = -b.T
    matrix[y, q1] = f.T
    matrix[y, q2] = -f.T
    matrix[p1, x] = -e
    matrix[p2, x] = e
    matrix[q1, y] = -f
    matrix[q2, y] = f
    constant = np.array([zero] * size, dtype=object)
    constant[p1] = [Fraction(1)] + [zero] * (r1 - 1)
    constant[p2] = [Fraction(-1)] + [zero] * (r1 - 1)
    constant[q1] = [Fraction(1)] + [zero] * (r2 - 1)
    constant[q2] = [Fraction(-1)] + [zero] * (r2 - 1)
    import math

    scale = math.lcm(*(Fraction(v).denominator for v in matrix.reshape(-1)))
    integer = np.array([[int(v * scale) for v in row] for row in matrix], dtype=object)
    # scaling the payoff blocks (and the constraint blocks and constants alike) by one positive
    # number keeps every solution's x and y; only p and q scale
    z, pivots, message = _lemke(integer, np.array([int(v * scale) for v in constant],
                                                  dtype=object), max_pivots)
    seconds = time.perf_counter() - start
    if z is None:
        return SolverResult((), method="lcp", status="failed", iterations=pivots,
                            message=f"sequence-form LCP: {message}",
                            extra={"seconds": seconds})
    profile = [_exact_behaviour(game, 0, z[x]), _exact_behaviour(game, 1, z[y])]
    values, best = exact_nash_conv(game, profile)
    if values != best:
        return SolverResult((), method="lcp", status="failed", iterations=pivots,
                            message="sequence-form LCP: the complementary solution failed the "
                                    "exact certificate (a bug; please report)",
                            extra={"seconds": seconds})
    floats = [np.array([float(v) for v in row]) for row in profile]
    equilibrium = make_extensive_equilibrium(game, floats, exact=profile)
    return SolverResult((equilibrium,), method="lcp", status="success", exact=True,
                        iterations=pivots,
                        message=f"sequence-form LCP (Lemke): exact equilibrium after {pivots} "
                                "pivots",
                        extra={"seconds": seconds, "pivots": pivots})


def _exact_behaviour(game: ExtensiveGame, player: int, plan: np.ndarray) -> list[Fraction]:
    offsets, counts, parents = game.sequences.segments[player]
    out: list[Fraction] = []
    for start, count in zip(offsets, counts):
        mass = plan[parents[start]]
        block = plan[1 + start:1 + start + count]
        if mass > 0:
            out.extend(Fraction(v) / mass for v in block)
        else:
            out.extend([Fraction(1, int(count))] * int(count))
    return out
