"""Compiled (numba) inner loops of the exact solvers (private).

Profiling showed two loops dominated by per-element Python/NumPy call overhead rather than
arithmetic: proving thousands of tiny ``d x d`` vertex systems in ``_polytope`` and the
Lemke-Howson pivots on 200x200 tableaux in ``lemke_howson``. Both are kernels here, called only
through the validating public functions of those modules; each module keeps a NumPy route used
when numba is not installed (``NUMBA_AVAILABLE``). Kernels are compiled on first use and cached
on disk (``cache=True``).

Nothing in this module decides exactness on its own terms: the polytope kernel reports a vertex
as *proved* only after exact int64 checks (see :func:`prove_bases`), and the Lemke-Howson kernel
only pivots in floating point; the caller certifies its final basis.
"""

from __future__ import annotations

import numpy as np

try:
    import numba
except ImportError:  # pragma: no cover - exercised only without numba
    numba = None  # type: ignore[assignment]

NUMBA_AVAILABLE = numba is not None

#: Prime for the nonsingularity proof (residues below 2^31, products below 2^62).
_PRIME = 2_147_483_647


def _jit(function):  # type: ignore[no-untyped-def]
    if numba is None:  # pragma: no cover
        return function
    return numba.njit(cache=True, nogil=True)(function)


@_jit
def prove_bases(matrix, simplices, numerators, denominators, tight, proved):  # pragma: no cover
    """Solve and prove the vertex of each basis of ``{z >= 0, M z <= 1}``; outputs in place.

    For basis ``k`` (``d`` constraint indices: ``i < d`` is ``z_i = 0``, ``d + j`` is row ``j``
    of ``M z = 1``) the system (reduced to the support of ``z``: the tight rows of ``M`` on the
    free coordinates) is solved by LU with partial pivoting in float64, rounded to
    ``numerators / denominator`` with ``denominator = round(|det|)``, and proved:

    1. every basis constraint holds with equality in exact int64 arithmetic (the bound
       ``|numerators| * max|M| * d < 2^62`` is checked first, so no product overflows), so the
       rational point solves the basis system;
    2. the basis matrix is nonsingular: its determinant is nonzero modulo the prime ``2^31 - 1``
       (division-free elimination on residues), so that solution is the unique one (a vertex);
    3. feasibility and the full tight set are then exact int64 comparisons.

    ``proved[k]`` is False when any step cannot be completed (the caller then uses exact
    rational elimination); it never reports a wrong vertex.

    Parameters
    ----------
    matrix : int64 (r, d), entries of absolute value below 2^52
    simplices : int64 (K, d)
    numerators : int64 (K, d), out
    denominators : int64 (K,), out
    tight : bool (K, d + r), out
    proved : bool (K,), out
    """
    r, d = matrix.shape
    count = simplices.shape[0]
    largest = 1
    for i in range(r):
        for j in range(d):
            largest = max(largest, abs(matrix[i, j]))
    limit = 2.0 ** 62 / (largest * d + 1.0)
    system = np.empty((d, d))
    rhs = np.empty(d)
    solution = np.empty(d)
    residues = np.empty((d, d), dtype=np.int64)
    support = np.empty(d, dtype=np.int64)
    rows = np.empty(d, dtype=np.int64)
    is_zero = np.empty(d, dtype=np.bool_)
    for k in range(count):
        proved[k] = False
        # the basis fixes z_i = 0 for its coordinate constraints; the rest is a k x k system
        # (rows of M restricted to the support)
        for j in range(d):
            is_zero[j] = False
        size = 0
        for i in range(d):
            c = simplices[k, i]
            if c < d:
                is_zero[c] = True
            else:
                rows[size] = c - d
                size += 1
        free = 0
        for j in range(d):
            if not is_zero[j]:
                support[free] = j
                free += 1
        if free != size:
            continue
        for i in range(size):
            for j in range(size):
                value = matrix[rows[i], support[j]]
                system[i, j] = value
                residues[i, j] = value % _PRIME
            rhs[i] = 1.0
        # float LU with partial pivoting: determinant and solution
        det = 1.0
        for col in range(size):
            best, pivot_row = 0.0, col
            for i in range(col, size):
                if abs(system[i, col]) > best:
                    best, pivot_row = abs(system[i, col]), i
            if best == 0.0:
                det = 0.0
                break
            if pivot_row != col:
                det = -det
                for j in range(size):
                    system[col, j], system[pivot_row, j] = system[pivot_row, j], system[col, j]
                rhs[col], rhs[pivot_row] = rhs[pivot_row], rhs[col]
            det *= system[col, col]
            reciprocal = 1.0 / system[col, col]
            for i in range(col + 1, size):
                factor = system[i, col] * reciprocal
                if factor != 0.0:
                    for j in range(col + 1, size):
                        system[i, j] -= factor * system[col, j]
                    rhs[i] -= factor * rhs[col]
        magnitude = abs(det)
        if not (magnitude >= 0.5 and magnitude < 2.0 ** 50):
            continue
        for i in range(size - 1, -1, -1):
            total = rhs[i]
            for j in range(i + 1, size):
                total -= system[i, j] * solution[j]
            solution[i] = total / system[i, i]
        denominator = np.int64(np.rint(magnitude))
        fits = True
        for j in range(d):
            numerators[k, j] = 0
        for j in range(size):
            value = np.rint(solution[j] * denominator)
            if not abs(value) < limit:
                fits = False
                break
            numerators[k, support[j]] = np.int64(value)
        if not fits:
            continue
        denominators[k] = denominator
        # exact tight set and feasibility (int64, no overflow by the bound above)
        feasible = True
        for j in range(d):
            tight[k, j] = numerators[k, j] == 0
            feasible = feasible and numerators[k, j] >= 0
        for i in range(r):
            value = np.int64(0)
            for j in range(size):
                value += matrix[i, support[j]] * numerators[k, support[j]]
            tight[k, d + i] = value == denominator
            feasible = feasible and value <= denominator
        if not feasible:
            continue
        basis_tight = True
        for i in range(d):
            basis_tight = basis_tight and tight[k, simplices[k, i]]
        if not basis_tight:
            continue
        # nonsingular modulo a prime (hence over the integers): division-free elimination
        nonsingular = True
        for col in range(size):
            pivot_row = -1
            for i in range(col, size):
                if residues[i, col] != 0:
                    pivot_row = i
                    break
            if pivot_row < 0:
                nonsingular = False
                break
            if pivot_row != col:
                for j in range(size):
                    residues[col, j], residues[pivot_row, j] = \
                        residues[pivot_row, j], residues[col, j]
            pivot = residues[col, col]
            for i in range(col + 1, size):
                factor = residues[i, col]
                if factor != 0:
                    for j in range(col + 1, size):
                        # both products < 2^62: the difference fits in int64
                        residues[i, j] = (pivot * residues[i, j]
                                          - factor * residues[col, j]) % _PRIME
        proved[k] = nonsingular


@_jit
def lemke_howson_pivots(tables, basics, nonbasics, row_of, col_of, slacks, initial_label,
                        m, max_pivots, tol_pivot, tol_ratio, ratios, entering_col,
                        pivot_row_values, out):  # pragma: no cover
    """Complementary pivoting on two float tableaux, in place (see ``lemke_howson``).

    ``tables[s]`` is tableau ``s`` (rows x (cols + 1), last column the right-hand side),
    flattened in column-major order, ``basics``/``nonbasics`` the labels of its basic rows
    and nonbasic columns, ``row_of``/``col_of`` their inverses (-1 when absent), ``slacks`` the
    labels of the initial basis (whose full-tableau columns form the basis inverse used by the
    lexicographic rule). ``out`` receives ``(status, pivots, ties)`` with status 0 success, 1
    unbounded ray, 2 pivot cap.
    """
    shapes = np.empty((2, 2), dtype=np.int64)
    shapes[0, 0], shapes[0, 1] = basics[0].shape[0], nonbasics[0].shape[0]
    shapes[1, 0], shapes[1, 1] = basics[1].shape[0], nonbasics[1].shape[0]
    side = 0 if initial_label < m else 1
    entering = initial_label
    pivots = 0
    ties = 0
    while pivots < max_pivots:
        table = tables[side]
        rows, cols = shapes[side, 0], shapes[side, 1]
        basic, nonbasic = basics[side], nonbasics[side]
        column = col_of[side, entering]
        # minimum-ratio test
        best = np.inf
        best_row = -1
        for i in range(rows):
            value = table[(column) * rows + i]
            if value > tol_pivot:
                ratio = table[(cols) * rows + i] / value
                ratios[i] = ratio
                if ratio < best:
                    best, best_row = ratio, i
            else:
                ratios[i] = np.inf
        if best_row < 0:
            out[0], out[1], out[2] = 1, pivots, ties
            return
        threshold = best + tol_ratio * max(1.0, abs(best))
        tied = 0
        for i in range(rows):
            if ratios[i] <= threshold:
                tied += 1
        row = best_row
        if tied > 1:
            ties += 1
            # lexicographic rule over the columns of the initial basis (the basis inverse)
            candidates = np.empty(tied, dtype=np.int64)
            count = 0
            for i in range(rows):
                if ratios[i] <= threshold:
                    candidates[count] = i
                    count += 1
            entering_label = nonbasic[column]
            for s in range(slacks[side].shape[0]):
                label = slacks[side][s]
                if label == entering_label:
                    continue  # its column is the pivot column: every ratio equals 1
                slack_col = col_of[side, label]
                slack_row = row_of[side, label]
                smallest = np.inf
                for c in range(count):
                    i = candidates[c]
                    if slack_col >= 0:
                        value = table[(slack_col) * rows + i]
                    else:
                        value = 1.0 if i == slack_row else 0.0
                    value /= table[(column) * rows + i]
                    ratios[i] = value
                    smallest = min(smallest, value)
                kept = 0
                for c in range(count):
                    i = candidates[c]
                    if ratios[i] <= smallest + tol_ratio:
                        candidates[kept] = i
                        kept += 1
                count = kept
                if count == 1:
                    break
            row = candidates[0]
        # pivot: rows i != row become T_i - T_ic * T_row / p
        pivot = table[(column) * rows + row]
        for i in range(rows):
            entering_col[i] = table[(column) * rows + i]
        inverse = 1.0 / pivot
        for j in range(cols + 1):
            pivot_row_values[j] = table[(j) * rows + row] * inverse
        for j in range(cols + 1):
            factor = pivot_row_values[j]
            if factor != 0.0:
                for i in range(rows):
                    table[(j) * rows + i] -= entering_col[i] * factor
        for j in range(cols + 1):
            table[(j) * rows + row] = pivot_row_values[j]
        for i in range(rows):
            table[(column) * rows + i] = -entering_col[i] * inverse
        table[(column) * rows + row] = inverse
        entering_label = nonbasic[column]
        leaving_label = basic[row]
        basic[row], nonbasic[column] = entering_label, leaving_label
        row_of[side, entering_label], col_of[side, entering_label] = row, -1
        row_of[side, leaving_label], col_of[side, leaving_label] = -1, column
        pivots += 1
        if leaving_label == initial_label:
            out[0], out[1], out[2] = 0, pivots, ties
            return
        entering, side = leaving_label, 1 - side
    out[0], out[1], out[2] = 2, pivots, ties
