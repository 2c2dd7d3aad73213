"""Exact and rigorously bounded arithmetic shared by the solvers and evaluators.

One home for three recurring pieces:

- *Rounding bounds.* :data:`UNIT_ROUNDOFF` and Higham's :func:`gamma` (the relative error bound
  of ``k`` chained float64 roundings), and :func:`power_of_two_at_least`, the exact (power of
  two) scale that brings values to magnitude 1 without rounding.
- *Fraction scaling.* :func:`integer_array` turns an array of ``Fraction`` into Python integers
  over one common denominator, so exact contractions and eliminations run on integers;
  :func:`narrow_integers` stores them as int64 when they fit (vectorised exact comparisons).
- *Exact linear solves.* :func:`solve_integer_system` solves an integer system by fraction-free
  (Bareiss) elimination and returns exact ``Fraction`` solutions; :func:`solve_indifference`
  solves the indifference system of a support (the strategy that makes the other player
  indifferent), the step every exact two-player certificate takes.

References
----------
N. J. Higham, *Accuracy and Stability of Numerical Algorithms*, 2nd ed., SIAM 2002, sec. 3.1
(``gamma_k``). E. H. Bareiss, "Sylvester's identity and multistep integer-preserving Gaussian
elimination", Math. Comp. 22 (1968), 565-578.

Examples
--------
>>> from fractions import Fraction
>>> import numpy as np
>>> from gametools.numerics import integer_array, solve_integer_system
>>> integer_array(np.array([Fraction(1, 2), Fraction(2, 3)], dtype=object))
(array([3, 4], dtype=object), 6)
>>> solve_integer_system(np.array([[2, 1], [1, 3]], dtype=object), np.array([3, 5], dtype=object))
[Fraction(4, 5), Fraction(7, 5)]
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

__all__ = ["UNIT_ROUNDOFF", "gamma", "integer_array", "narrow_integers", "power_of_two_at_least",
           "solve_indifference", "solve_integer_system", "solve_square_integers"]

#: Unit roundoff of float64 (half the machine epsilon): a rounded operation's relative error.
UNIT_ROUNDOFF = 2.0 ** -53


def gamma(operations: int) -> float:
    """Higham's ``gamma_k = k u / (1 - k u)``: the relative error bound of ``k`` chained roundings.

    Parameters
    ----------
    operations : int
        ``k``, the number of roundings along one term.

    Returns
    -------
    float
        ``inf`` once ``k u >= 1/2`` (no bound).
    """
    ku = operations * UNIT_ROUNDOFF
    return ku / (1.0 - ku) if ku < 0.5 else math.inf


def power_of_two_at_least(value: float) -> float:
    """Smallest power of two ``>= value`` (``value > 0``): dividing by it is exact in float64."""
    mantissa, exponent = math.frexp(value)
    return math.ldexp(1.0, exponent if mantissa != 0.5 else exponent - 1)


def integer_array(exact: np.ndarray) -> tuple[np.ndarray, int]:
    """``scale * exact`` as Python integers, with ``scale`` the lcm of the denominators.

    Parameters
    ----------
    exact : ndarray of Fraction or int (object dtype), any shape

    Returns
    -------
    integers : ndarray of int (object dtype), same shape
    scale : int
        The common denominator (1 for an empty or integer array).
    """
    flat = exact.ravel().tolist()
    # Fraction and int both carry numerator / denominator
    denominators = {v.denominator for v in flat}
    integers = np.empty(len(flat), dtype=object)
    if denominators <= {1}:
        integers[:] = [v.numerator for v in flat]
        return integers.reshape(exact.shape), 1
    scale = math.lcm(*denominators)
    integers[:] = [v.numerator * (scale // v.denominator) for v in flat]
    return integers.reshape(exact.shape), scale


#: Integers of magnitude below this fit int64 with room for one addition or subtraction.
INT64_SAFE = 2 ** 62


def narrow_integers(integers: np.ndarray) -> np.ndarray:
    """``integers`` (Python ints, object dtype) as int64 when every magnitude is below 2^62.

    int64 keeps exact comparisons vectorised; larger values stay Python integers (object dtype).
    """
    bound = max((abs(int(v)) for v in integers.ravel().tolist()), default=0)
    return integers.astype(np.int64) if bound < INT64_SAFE else integers


def _bareiss_eliminate(work: list[list[int]], cols: int) -> bool:
    """Fraction-free (Bareiss) forward elimination of the first ``cols`` columns of ``work``
    (rows of Python ints, the right-hand side appended), in place, with row exchanges.

    Every entry stays an integer minor, so every division is exact; the last pivot is
    ``+-det`` of the leading ``cols x cols`` block. Returns False when a column has no pivot
    (the columns are linearly dependent).
    """
    rows = len(work)
    previous = 1
    for col in range(cols):
        top = work[col]
        if top[col] == 0:
            for r in range(col + 1, rows):
                if work[r][col] != 0:
                    work[col], work[r] = work[r], top
                    top = work[col]
                    break
            else:
                return False
        pivot = top[col]
        tail = top[col + 1:]
        for r in range(col + 1, rows):
            row = work[r]
            factor = row[col]
            if not factor:  # Bareiss still scales the row by pivot / previous (exact)
                row[col + 1:] = [pivot * a // previous for a in row[col + 1:]]
            elif previous == 1:  # the first column: nothing to divide
                row[col + 1:] = [pivot * a - factor * b for a, b in zip(row[col + 1:], tail)]
            else:
                row[col + 1:] = [(pivot * a - factor * b) // previous
                                 for a, b in zip(row[col + 1:], tail)]
            row[col] = 0
        previous = pivot
    return True


def solve_integer_system(matrix: np.ndarray, rhs: np.ndarray) -> list[Fraction] | None:
    """Exact solution of ``matrix @ z = rhs`` (integer object arrays, rows >= columns).

    Fraction-free Bareiss elimination with row exchanges: every intermediate entry is an integer
    minor of the system, so the divisions are exact and the integers stay as small as the
    determinants.

    Parameters
    ----------
    matrix : ndarray of int (object or integer dtype), shape (m, k), ``m >= k``
    rhs : ndarray of int, shape (m,)

    Returns
    -------
    list of Fraction, length k, or None
        None when the columns are linearly dependent or the system is inconsistent.
    """
    rows, cols = matrix.shape
    if rows < cols:
        return None
    # plain lists of Python ints: for the small systems of certificates, NumPy object arrays
    # cost more in per-call overhead than the arithmetic itself
    work = [[int(v) for v in row] + [int(b)] for row, b in zip(matrix.tolist(), rhs.tolist())]
    if not _bareiss_eliminate(work, cols):
        return None
    if any(work[r][cols] != 0 for r in range(cols, rows)):
        return None
    solution: list[Fraction] = [Fraction(0)] * cols
    for k in reversed(range(cols)):
        row = work[k]
        total = Fraction(row[cols])
        for j in range(k + 1, cols):
            if row[j] != 0:
                total -= row[j] * solution[j]
        solution[k] = total / row[k]
    return solution


def solve_square_integers(matrix: list[list[int]], rhs: list[int]
                          ) -> tuple[list[int], int] | None:
    """Exact solution of a square integer system as ``numerators / determinant``.

    Fraction-free (Bareiss) forward elimination with row exchanges leaves an upper triangular
    system whose last pivot is ``+-det``; back substitution then computes the integers
    ``det * z_i`` (integers by Cramer's rule, so every division is exact). No Fractions are
    built: for the small systems of certificates this costs a fraction of
    :func:`solve_integer_system`.

    Parameters
    ----------
    matrix : list of k lists of k Python ints (not modified)
    rhs : list of k Python ints

    Returns
    -------
    (numerators, determinant) or None
        ``matrix @ numerators = determinant * rhs`` with ``determinant > 0`` (not reduced to
        lowest terms); None when the matrix is singular.
    """
    k = len(matrix)
    # Cramer's rule up to 3 x 3: the same numbers, without the elimination's bookkeeping
    if k == 0:
        return [], 1
    if k == 1:
        (a,), (b,) = matrix[0], rhs
        if a == 0:
            return None
        return ([b], a) if a > 0 else ([-b], -a)
    if k == 2:
        (a, b), (c, d) = matrix
        e, f = rhs
        determinant = a * d - b * c
        if determinant == 0:
            return None
        first, second = e * d - b * f, a * f - c * e
        if determinant < 0:
            return [-first, -second], -determinant
        return [first, second], determinant
    if k == 3:  # the adjugate (cofactors) times rhs
        (a, b, c), (d, e, f), (g, h, i) = matrix
        p, q, r = rhs
        co_a, co_b, co_c = e * i - f * h, f * g - d * i, d * h - e * g
        determinant = a * co_a + b * co_b + c * co_c
        if determinant == 0:
            return None
        numerators = [co_a * p + (c * h - b * i) * q + (b * f - c * e) * r,
                      co_b * p + (a * i - c * g) * q + (c * d - a * f) * r,
                      co_c * p + (b * g - a * h) * q + (a * e - b * d) * r]
        if determinant < 0:
            return [-v for v in numerators], -determinant
        return numerators, determinant
    work = [list(row) + [b] for row, b in zip(matrix, rhs)]
    if not _bareiss_eliminate(work, k):
        return None
    determinant = work[k - 1][k - 1] if k else 1
    numerators = [0] * k
    for i in range(k - 1, -1, -1):
        row = work[i]
        total = determinant * row[k]
        for j in range(i + 1, k):
            total -= row[j] * numerators[j]
        numerators[i] = total // row[i]
    if determinant < 0:
        return [-v for v in numerators], -determinant
    return numerators, determinant


def solve_indifference(block: np.ndarray) -> tuple[list[Fraction], Fraction] | None:
    """Exact ``z`` with ``sum(z) = 1`` and ``block @ z = w * 1``, and the common value ``w``.

    ``block`` holds one player's payoffs on the rows that must be indifferent (rows) against the
    other player's support (columns). Scaling ``block`` by a positive constant scales ``w`` and
    leaves ``z`` unchanged, so integer blocks from :func:`integer_array` serve for Fraction
    payoffs.

    Parameters
    ----------
    block : ndarray of int (object or integer dtype), shape (r, k), ``r >= k``

    Returns
    -------
    (z, w) or None
        ``z`` of length ``k`` (not necessarily nonnegative); None when the system has no unique
        solution.
    """
    rows, cols = block.shape
    system = np.empty((rows + 1, cols + 1), dtype=object)
    system[:rows, :cols] = block
    system[:rows, cols] = -1
    system[rows, :cols] = 1
    system[rows, cols] = 0
    rhs = np.zeros(rows + 1, dtype=object)
    rhs[rows] = 1
    solution = solve_integer_system(system, rhs)
    return None if solution is None else (solution[:cols], solution[cols])
