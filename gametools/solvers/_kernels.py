"""Compiled (numba) inner loops of the exact solvers (private).

Profiling showed two loops dominated by per-element Python/NumPy call overhead rather than
arithmetic: proving thousands of tiny ``d x d`` vertex systems in ``_polytope`` and the
Lemke-Howson pivots on 200x200 tableaux in ``lemke_howson``. Both are kernels here, called only
through the validating public functions of those modules; each module keeps a NumPy route used
when numba is not installed (``NUMBA_AVAILABLE``). Kernels are compiled on first use and cached
on disk (``cache=True``).

Nothing in this module decides exactness on its own terms: the polytope kernels report a vertex
as *proved* only after exact int64 checks (:func:`prove_bases`) or rigorous floating-point error
bounds that hold for every matrix in the given enclosure (:func:`enclose_bases`), and the
Lemke-Howson kernel only pivots in floating point; the caller certifies its final basis.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from gametools.numerics import UNIT_ROUNDOFF

#: Whether numba is installed. It is imported only when a kernel first runs (importing it costs
#: a good part of a second, which a command that needs no kernel should not pay).
NUMBA_AVAILABLE = importlib.util.find_spec("numba") is not None

#: Below this many elementary steps (bases to prove) a caller takes its NumPy route unless numba
#: is already loaded: importing numba and loading the cached kernels costs about half a second
#: of CPU, more than the NumPy route spends on a small game (``gametools solve`` on a small file
#: then never imports numba).
COMPILE_WORTHWHILE = 20_000


def worthwhile(steps: int) -> bool:
    """Whether to run a kernel for ``steps`` steps of work: numba is installed and either
    already imported (no start-up cost left) or the work is large."""
    return NUMBA_AVAILABLE and ("numba" in sys.modules or steps >= COMPILE_WORTHWHILE)


#: Prime for the nonsingularity proof (residues below 2^31, products below 2^62).
_PRIME = 2_147_483_647
#: The same prime, for callers that prepare residues.
PRIME = _PRIME


#: Python functions of the kernels, by name, in definition order (callees first).
_SOURCES: dict[str, Callable[..., Any]] = {}


class _Lazy:
    """Stand-in for a kernel until numba is imported: the first call compiles every kernel
    (``numba.njit(cache=True)``, so later processes load them from the on-disk cache) and
    rebinds the module's names to the compiled dispatchers, which kernels calling each other
    then see as globals."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, *args: Any) -> Any:
        _compile_all()
        return globals()[self.name](*args)


def _compile_all() -> None:
    numba = importlib.import_module("numba")
    names = globals()
    for name, function in _SOURCES.items():
        if isinstance(names[name], _Lazy):
            names[name] = numba.njit(cache=True, nogil=True)(function)


def _jit(function):  # type: ignore[no-untyped-def]
    _SOURCES[function.__name__] = function
    return _Lazy(function.__name__)


@_jit
def _split_basis(simplex, d, is_zero, rows, in_basis, support):  # pragma: no cover
    """Decode a basis: ``is_zero[j]`` for its coordinate constraints ``z_j = 0``, ``rows[:size]``
    and ``in_basis`` for its rows of ``M z = 1``, ``support[:free]`` for the other coordinates;
    returns ``(size, free)`` (a square reduced system needs ``size == free``)."""
    for j in range(d):
        is_zero[j] = False
    for i in range(in_basis.shape[0]):
        in_basis[i] = False
    size = 0
    for i in range(d):
        c = simplex[i]
        if c < d:
            is_zero[c] = True
        else:
            rows[size] = c - d
            in_basis[c - d] = True
            size += 1
    free = 0
    for j in range(d):
        if not is_zero[j]:
            support[free] = j
            free += 1
    return size, free


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
    in_basis = np.empty(matrix.shape[0], dtype=np.bool_)
    for k in range(count):
        proved[k] = False
        # the basis fixes z_i = 0 for its coordinate constraints; the rest is a k x k system
        # (rows of M restricted to the support)
        size, free = _split_basis(simplices[k], d, is_zero, rows, in_basis, support)
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
def _next_combination(chosen, size, total):  # pragma: no cover
    """Advance ``chosen[:size]`` (increasing indices below ``total``) to the next combination in
    lexicographic order; False after the last one."""
    i = size - 1
    while i >= 0 and chosen[i] == total - size + i:
        i -= 1
    if i < 0:
        return False
    chosen[i] += 1
    for j in range(i + 1, size):
        chosen[j] = chosen[j - 1] + 1
    return True


@_jit
def _gcd(a, b):  # pragma: no cover
    """Greatest common divisor of two nonnegative int64 values."""
    while b:
        a, b = b, a % b
    return a


@_jit
def all_basic_solutions(matrix, numerators, denominators, tight, keys, table, dedupe
                        ):  # pragma: no cover
    """Every vertex of ``{z >= 0, M z <= 1}``, exactly, in int64, each once; returns how many
    were written.

    For every support ``S`` and every equally large set ``R`` of rows, ``M[R, S] z_S = 1`` is
    solved by fraction-free Gauss-Jordan elimination (Bareiss): every intermediate entry is a
    minor of ``[M | 1]``, so the caller's Hadamard bound on those minors excludes overflow and
    every division is exact. A nonsingular system whose solution is nonnegative and satisfies
    every row exactly is a vertex; every vertex has a nonsingular basis, so the list is
    complete. With ``dedupe`` a degenerate vertex, which has several bases, is written once, at
    its first basis, recognised by its full tight set (which determines the point, since it
    contains a nonsingular basis) in the open-addressing set ``table``; without it (``d + r >
    62``: no bitmask) every feasible basis is written. Each is written as
    ``numerators / denominator`` in lowest terms with its full tight set and (with ``dedupe``)
    that set's bitmask.

    Parameters
    ----------
    matrix : int64 (r, d); minors of ``[M | 1]`` and ``d max|M|`` times them below 2^62
    numerators : int64 (C(d + r, d), d), out
    denominators : int64 (C(d + r, d),), out
    tight : bool (C(d + r, d), d + r), out
    keys : int64 (C(d + r, d),), out: bit ``c`` set when constraint ``c`` is tight
    table : int64 (T + 1,), zeros, ``T`` a power of two at least ``2 C(d + r, d)``
    dedupe : bool, only when ``d + r <= 62``
    """
    r, d = matrix.shape
    work = np.empty((d, d + 1), dtype=np.int64)
    support = np.empty(d, dtype=np.int64)
    rows = np.empty(r, dtype=np.int64)
    solution = np.empty(d, dtype=np.int64)
    # the origin (empty support) is always a vertex
    key = np.int64(0)
    for j in range(d):
        numerators[0, j] = 0
        tight[0, j] = True
        key |= np.int64(1) << j
    for i in range(r):
        tight[0, d + i] = False
    denominators[0] = 1
    keys[0] = key
    if dedupe:
        _remember(table, key)
    count = 1
    for size in range(1, min(d, r) + 1):
        for j in range(size):
            support[j] = j
        while True:
            for i in range(size):
                rows[i] = i
            while True:
                for i in range(size):
                    for j in range(size):
                        work[i, j] = matrix[rows[i], support[j]]
                    work[i, size] = 1
                previous = np.int64(1)
                singular = False
                for col in range(size):
                    pivot_row = -1
                    for i in range(col, size):
                        if work[i, col] != 0:
                            pivot_row = i
                            break
                    if pivot_row < 0:
                        singular = True
                        break
                    if pivot_row != col:
                        for j in range(size + 1):
                            work[col, j], work[pivot_row, j] = work[pivot_row, j], work[col, j]
                    pivot = work[col, col]
                    for i in range(size):
                        if i != col:
                            factor = work[i, col]
                            for j in range(size + 1):
                                work[i, j] = (pivot * work[i, j] - factor * work[col, j]) \
                                    // previous
                    previous = pivot
                if not singular:
                    determinant = work[0, 0]
                    sign = 1 if determinant > 0 else -1
                    determinant *= sign
                    feasible = True
                    for j in range(size):
                        solution[j] = sign * work[j, size]
                        if solution[j] < 0:
                            feasible = False
                    key = np.int64(0)
                    if feasible:
                        for i in range(r):
                            value = np.int64(0)
                            for j in range(size):
                                value += matrix[i, support[j]] * solution[j]
                            if value > determinant:
                                feasible = False
                                break
                            tight[count, d + i] = value == determinant
                            if dedupe and value == determinant:
                                key |= np.int64(1) << (d + i)
                    if feasible:
                        for j in range(d):
                            numerators[count, j] = 0
                            tight[count, j] = True
                        for j in range(size):
                            tight[count, support[j]] = solution[j] == 0
                        for j in range(d):
                            if dedupe and tight[count, j]:
                                key |= np.int64(1) << j
                        if not dedupe or not _remember(table, key):  # not met before
                            divisor = determinant
                            for j in range(size):
                                divisor = _gcd(divisor, solution[j])
                            for j in range(size):
                                numerators[count, support[j]] = solution[j] // divisor
                            denominators[count] = determinant // divisor
                            keys[count] = key
                            count += 1
                if not _next_combination(rows, size, r):
                    break
            if not _next_combination(support, size, d):
                break
    return count


@_jit
def _enclose_basis(values, radius, simplex, system, lu, inverse, column, perm, solution, bound,
                   support, rows, is_zero, in_basis):  # pragma: no cover
    """The proof of :func:`enclose_bases` for one basis; returns the size ``s`` of its reduced
    system when proved, else -1. A proved basis leaves, for the caller's further use, its free
    coordinates in ``support[:s]``, its tight rows in ``rows[:s]`` (and ``in_basis``), the
    float solution ``z~`` in ``solution[:s]`` and the approximate inverse ``R`` of
    ``M[rows, support]`` in ``inverse[:s, :s]``."""
    r, d = values.shape
    inflate = 1.0 + 4.0 * (d + 4) * UNIT_ROUNDOFF
    tiny = 1e-300
    size, free = _split_basis(simplex, d, is_zero, rows, in_basis, support)
    if free != size:
        return -1
    if size == 0:
        # z = 0: every row has slack exactly 1
        return 0
    gamma = 1.01 * (size + 1) * UNIT_ROUNDOFF
    for i in range(size):
        perm[i] = i
        for j in range(size):
            system[i, j] = values[rows[i], support[j]]
            lu[i, j] = system[i, j]
    # LU with partial pivoting (row swaps recorded in perm)
    singular = False
    for col in range(size):
        best, pivot_row = 0.0, col
        for i in range(col, size):
            if abs(lu[i, col]) > best:
                best, pivot_row = abs(lu[i, col]), i
        if not best > 0.0:
            singular = True
            break
        if pivot_row != col:
            for j in range(size):
                lu[col, j], lu[pivot_row, j] = lu[pivot_row, j], lu[col, j]
            perm[col], perm[pivot_row] = perm[pivot_row], perm[col]
        for i in range(col + 1, size):
            factor = lu[i, col] / lu[col, col]
            lu[i, col] = factor
            if factor != 0.0:
                for j in range(col + 1, size):
                    lu[i, j] -= factor * lu[col, j]
    if singular:
        return -1
    # approximate inverse R, column by column; the solution of B z = 1 is R 1
    for e in range(size):
        for i in range(size):
            column[i] = 1.0 if perm[i] == e else 0.0
        for i in range(size):
            total = column[i]
            for j in range(i):
                total -= lu[i, j] * column[j]
            column[i] = total
        for i in range(size - 1, -1, -1):
            total = column[i]
            for j in range(i + 1, size):
                total -= lu[i, j] * column[j]
            column[i] = total / lu[i, i]
        for i in range(size):
            inverse[i, e] = column[i]
    for i in range(size):
        total = 0.0
        for j in range(size):
            total += inverse[i, j]
        solution[i] = total
    # 1. alpha >= ||I - R B||_inf for every B in the enclosure
    alpha = 0.0
    for i in range(size):
        row_sum = 0.0
        for j in range(size):
            product = 0.0
            magnitude = 0.0
            spread = 0.0
            for t in range(size):
                product += inverse[i, t] * system[t, j]
                magnitude += abs(inverse[i, t]) * abs(system[t, j])
                spread += abs(inverse[i, t]) * radius[rows[t], support[j]]
            identity = 1.0 if i == j else 0.0
            row_sum += abs(identity - product) + gamma * (identity + magnitude) + spread
        alpha = max(alpha, row_sum)
    alpha = alpha * inflate + tiny
    if not alpha < 0.5:
        return -1
    # 2. bound on the residual 1 - B z~, then eps >= |z* - z~|_inf
    for i in range(size):
        residual = 1.0
        magnitude = 0.0
        spread = 0.0
        for j in range(size):
            residual -= system[i, j] * solution[j]
            magnitude += abs(system[i, j]) * abs(solution[j])
            spread += radius[rows[i], support[j]] * abs(solution[j])
        bound[i] = abs(residual) + gamma * (1.0 + magnitude) + spread
    eps = 0.0
    for i in range(size):
        total = 0.0
        for j in range(size):
            total += abs(inverse[i, j]) * bound[j]
        eps = max(eps, total)
    eps = (eps * inflate + tiny) / (1.0 - alpha) * inflate
    # 3. strictly positive free coordinates and non-basis slacks
    ok = True
    for j in range(size):
        if not solution[j] > eps * inflate:
            ok = False
            break
    if not ok:
        return -1
    for i in range(r):
        if in_basis[i]:
            continue
        slack = 1.0
        magnitude = 0.0
        spread = 0.0
        for j in range(size):
            value = values[i, support[j]]
            slack -= value * solution[j]
            magnitude += abs(value) * abs(solution[j])
            spread += radius[i, support[j]] * abs(solution[j]) \
                + (abs(value) + radius[i, support[j]]) * eps
        error = (gamma * (1.0 + magnitude) + spread) * inflate + tiny
        if not slack > error:
            ok = False
            break
    return size if ok else -1


@_jit
def _enclosure_workspace(r, d):  # pragma: no cover
    """The work arrays of :func:`_enclose_basis` for ``r`` rows and ``d`` columns: system, lu,
    inverse, column, perm, solution, bound, support, rows, is_zero, in_basis."""
    system = np.empty((d, d))
    lu = np.empty((d, d))
    inverse = np.empty((d, d))
    column = np.empty(d)
    perm = np.empty(d, dtype=np.int64)
    solution = np.empty(d)
    bound = np.empty(d)
    support = np.empty(d, dtype=np.int64)
    rows = np.empty(d, dtype=np.int64)
    is_zero = np.empty(d, dtype=np.bool_)
    in_basis = np.empty(r, dtype=np.bool_)
    return (system, lu, inverse, column, perm, solution, bound, support, rows, is_zero,
            in_basis)


@_jit
def enclose_bases(values, radius, simplices, proved):  # pragma: no cover
    """Prove, in floating point with rigorous error bounds, nondegenerate vertices of bases.

    The polytope is ``{z >= 0, M z <= 1}`` with ``M`` known only as an enclosure: the exact
    matrix satisfies ``|M - values| <= radius`` entrywise (``values`` float64, e.g. the rounded
    image of huge exact integers). For basis ``k`` (as in :func:`prove_bases`) with ``S`` its
    free coordinates and ``B`` its tight rows of ``M`` on ``S``, ``proved[k]`` is set True only
    when all of the following are established for every exact ``M`` in the enclosure:

    1. ``B`` is nonsingular: for the computed approximate inverse ``R``,
       ``alpha >= ||I - R B||_inf`` with ``alpha < 1/2`` (Rump's criterion), where ``alpha``
       bounds the computed ``|I - R B~|``, its rounding error ``gamma_{s+1} (I + |R| |B~|)`` and the
       enclosure term ``|R| radius``;
    2. the exact solution ``z*`` of ``B z = 1`` lies within ``eps`` of the computed ``z~``
       (infinity norm): ``|z* - z~| <= ||R r|| / (1 - alpha)`` with ``|r|`` bounded by the computed
       residual plus its rounding and enclosure terms;
    3. every free coordinate is strictly positive (``z~_j > eps``) and every row of ``M`` not in
       the basis has strictly positive slack (its computed slack exceeds a bound on the slack's
       rounding, enclosure and ``eps`` error).

    Then ``z*`` is a feasible vertex whose tight set is exactly the basis (nondegenerate).
    Every bound is a sum of nonnegative floating-point terms; it is inflated by the factor
    ``1 + 4 (d + 4) u`` (``u = 2^-53``), which exceeds the relative rounding error of such sums,
    and an absolute ``1e-300`` guards against underflow. A basis that is degenerate,
    ill-conditioned or infeasible is simply left unproved (the caller decides it exactly).

    Parameters
    ----------
    values : float64 (r, d), positive and finite
    radius : float64 (r, d), nonnegative
    simplices : int64 (K, d)
    proved : bool (K,), out
    """
    r, d = values.shape
    count = simplices.shape[0]
    (system, lu, inverse, column, perm, solution, bound, support, rows, is_zero,
     in_basis) = _enclosure_workspace(r, d)
    for k in range(count):
        proved[k] = _enclose_basis(values, radius, simplices[k], system, lu, inverse, column,
                                   perm, solution, bound, support, rows, is_zero,
                                   in_basis) >= 0


@_jit
def _inverse_mod(value):  # pragma: no cover
    """Inverse of ``value`` (in ``1.._PRIME-1``) modulo the prime, by Fermat's little theorem."""
    result = np.int64(1)
    base = np.int64(value)
    exponent = _PRIME - 2
    while exponent > 0:
        if exponent & 1:
            result = result * base % _PRIME
        base = base * base % _PRIME
        exponent >>= 1
    return result


@_jit
def _remember(table, key):  # pragma: no cover
    """Insert ``key`` (nonzero) into the open-addressing set ``table[1:]`` (``table[0]`` counts
    the entries); returns True if it was already there. The caller grows full tables."""
    size = table.shape[0] - 1
    slot = (key ^ (key >> 29)) & (size - 1)
    while True:
        value = table[1 + slot]
        if value == 0:
            table[1 + slot] = key
            table[0] += 1
            return False
        if value == key:
            return True
        slot = (slot + 1) & (size - 1)


@_jit
def _grown(table):  # pragma: no cover
    size = table.shape[0] - 1
    bigger = np.zeros(2 * size + 1, dtype=np.int64)
    for slot in range(size):
        if table[1 + slot] != 0:
            _remember(bigger, table[1 + slot])
    return bigger


#: Statuses of :func:`graph_vertices` (a nonnegative return value is the vertex count).
GRAPH_UNPROVED, GRAPH_FULL = -1, -2


@_jit
def graph_vertices(values, radius, bases, keys, table):  # pragma: no cover
    """Every vertex of ``{z >= 0, M z <= 1}`` by a search of its vertex graph, each vertex proved
    nondegenerate with rigorous floating-point bounds; returns the vertex count, or
    ``GRAPH_UNPROVED`` / ``GRAPH_FULL``.

    ``M`` is known as in :func:`enclose_bases` (``|M - values| <= radius``, entries positive, so
    the polytope is bounded and full-dimensional). The search starts at the origin (basis: the
    ``d`` coordinate constraints, nondegenerate since every row has slack 1). For each vertex
    taken from the queue, its basis is proved by :func:`_enclose_basis` (a feasible vertex whose
    tight set is exactly the basis); then, for each of its ``d`` constraints ``c``, the edge that
    leaves ``c`` is followed in floating point (direction from the approximate inverse, ratio
    test over the other constraints) to the constraint ``c'`` it meets first, and the basis
    ``B - c + c'`` joins the queue unless already seen (a bitmask key in the open-addressing set
    ``table``).

    Why the list is complete when every queued basis is proved: a proved basis ``B'`` shares the
    ``d - 1`` constraints ``B - c`` with the proved nondegenerate vertex of ``B``, which span
    the line of the edge of ``c``; a vertex of the polytope on that edge other than its start is
    its other end, so ``B'`` is the neighbour along that edge, whether or not the float ratio test
    was right (a wrong choice gives an unproved basis). A nondegenerate vertex has exactly ``d``
    edges, those of its ``d`` constraints, so every neighbour of every listed vertex is listed;
    the graph of a polytope is connected (Balinski), hence every vertex is listed, once (its
    tight set, which is its basis, determines it). Any unproved basis (degenerate,
    ill-conditioned or a wrong ratio test) stops the search with ``GRAPH_UNPROVED``; the caller
    then takes a route that handles degeneracy.

    Parameters
    ----------
    values, radius : float64 (r, d), as in :func:`enclose_bases`; ``d + r <= 62``
    bases : int64 (capacity, d), out: the proved bases (sorted constraint indices), in the order
        found; ``GRAPH_FULL`` when more than ``capacity`` vertices exist
    keys : int64 (capacity,), out: bitmask of each basis (bit ``c`` for constraint ``c``)
    table : int64 (T + 1,), zeros, ``T`` a power of two at least ``2 * capacity``
    """
    r, d = values.shape
    capacity = bases.shape[0]
    (system, lu, inverse, column, perm, solution, bound, support, rows, is_zero,
     in_basis) = _enclosure_workspace(r, d)
    slack = np.empty(r)
    step = np.empty(d)
    key = np.int64(0)
    for j in range(d):
        bases[0, j] = j
        key |= np.int64(1) << j
    keys[0] = key
    _remember(table, key)
    count = 1
    head = 0
    while head < count:
        size = _enclose_basis(values, radius, bases[head], system, lu, inverse, column, perm,
                              solution, bound, support, rows, is_zero, in_basis)
        if size < 0:
            return GRAPH_UNPROVED
        for i in range(r):
            total = 1.0
            for t in range(size):
                total -= values[i, support[t]] * solution[t]
            slack[i] = total
        for e in range(d):
            leaving = bases[head, e]
            # the edge: step[:size] on the free coordinates; a leaving coordinate constraint
            # also moves that coordinate up at unit rate, a leaving row moves off its bound
            for t in range(size):
                total = 0.0
                if leaving < d:
                    for u in range(size):
                        total -= inverse[t, u] * values[rows[u], leaving]
                else:
                    for u in range(size):
                        if rows[u] == leaving - d:
                            total = -inverse[t, u]
                step[t] = total
            best = np.inf
            entering = -1
            for t in range(size):  # free coordinates that decrease
                if step[t] < 0.0:
                    ratio = solution[t] / -step[t]
                    if ratio < best:
                        best, entering = ratio, support[t]
            for i in range(r):  # rows that rise towards their bound
                if in_basis[i]:
                    continue
                rate = 0.0
                for t in range(size):
                    rate += values[i, support[t]] * step[t]
                if leaving < d:
                    rate += values[i, leaving]
                if rate > 0.0:
                    ratio = slack[i] / rate
                    if ratio < best:
                        best, entering = ratio, d + i
            if entering < 0:  # no bound met: impossible on a polytope, so float trouble
                return GRAPH_UNPROVED
            key = keys[head] ^ (np.int64(1) << leaving) ^ (np.int64(1) << entering)
            if _remember(table, key):
                continue
            if count == capacity:
                return GRAPH_FULL
            keys[count] = key
            position = 0
            for c in range(d + r):
                if (key >> c) & 1:
                    bases[count, position] = c
                    position += 1
            count += 1
        head += 1
    return count


#: Statuses of :func:`lemke_howson_path`.
LH_SUCCESS, LH_UNBOUNDED, LH_CAP, LH_CYCLE = 0, 1, 2, 4


@_jit
def lemke_howson_path(tables, residues, tracked, basics, nonbasics, row_of, col_of, slacks,
                      keys, initial_label, m, max_pivots, tol_pivot, tol_ratio, ratios,
                      entering_col, pivot_row_values, entering_res, pivot_row_res, candidates,
                      out):  # pragma: no cover
    """Complementary pivoting on two float tableaux, in place (see ``lemke_howson``).

    ``tables[s]`` is tableau ``s`` (rows x (cols + 1), last column the right-hand side),
    flattened in column-major order, ``basics``/``nonbasics`` the labels of its basic rows
    and nonbasic columns, ``row_of``/``col_of`` their inverses (-1 when absent), ``slacks`` the
    labels of the initial basis (whose full-tableau columns form the basis inverse used by the
    lexicographic rule).

    Ties. With ``tracked`` the same tableaux are also kept modulo the prime ``2^31 - 1``
    (``residues``, same layout; the game's payoffs must then be integers whose float tableau is
    a positive multiple of the integer one): a ratio tie is then decided *exactly* (up to the
    negligible chance that the prime divides a nonzero numerator), by cross-multiplying residues,
    and floating point only orders values that are exactly different. Without it, ties are
    ratios within ``tol_ratio`` (relative).

    Cycling. Every visited pair of bases is remembered by a 64-bit Zobrist hash (``keys[s,
    label]``); the exact lexicographic path never visits a pair twice, so a repetition means
    floating point misled the rule and the run stops with status :data:`LH_CYCLE`.

    ``out`` receives ``(status, pivots, ties)``.
    """
    shapes = np.empty((2, 2), dtype=np.int64)
    shapes[0, 0], shapes[0, 1] = basics[0].shape[0], nonbasics[0].shape[0]
    shapes[1, 0], shapes[1, 1] = basics[1].shape[0], nonbasics[1].shape[0]
    state = np.int64(0)
    for s in range(2):
        for i in range(basics[s].shape[0]):
            state ^= keys[s, basics[s][i]]
    seen = np.zeros(1 + 4096, dtype=np.int64)
    _remember(seen, state | 1)
    side = 0 if initial_label < m else 1
    entering = initial_label
    pivots = 0
    ties = 0
    while pivots < max_pivots:
        table = tables[side]
        residue = residues[side]
        rows, cols = shapes[side, 0], shapes[side, 1]
        basic, nonbasic = basics[side], nonbasics[side]
        column = col_of[side, entering]
        rhs = cols * rows
        start = column * rows
        # minimum-ratio test: candidates have a positive pivot-column entry
        best = np.inf
        best_row = -1
        count = 0
        zero_rhs = -1
        for i in range(rows):
            value = table[start + i]
            if tracked and residue[start + i] == 0:
                continue  # exactly zero
            if value > (0.0 if tracked else tol_pivot):
                ratio = table[rhs + i] / value
                if tracked and residue[rhs + i] == 0:
                    ratio = 0.0
                    zero_rhs = i
                ratios[i] = ratio
                candidates[count] = i
                count += 1
                if ratio < best:
                    best, best_row = ratio, i
        if best_row < 0:
            out[0], out[1], out[2] = LH_UNBOUNDED, pivots, ties
            return
        row = best_row
        kept = 0
        if tracked:
            if zero_rhs >= 0:
                best_row = zero_rhs
            # rows whose ratio equals the best one exactly: rhs_k c_r - rhs_r c_k = 0 (mod p)
            c_best = residue[start + best_row]
            r_best = residue[rhs + best_row]
            for c in range(count):
                i = candidates[c]
                cross = (residue[rhs + i] * c_best - r_best * residue[start + i]) % _PRIME
                if cross == 0:
                    candidates[kept] = i
                    kept += 1
            row = best_row
        else:
            threshold = best + tol_ratio * max(1.0, abs(best))
            for c in range(count):
                i = candidates[c]
                if ratios[i] <= threshold:
                    candidates[kept] = i
                    kept += 1
        count = kept
        if count > 1:
            ties += 1
            # lexicographic rule over the columns of the initial basis (the basis inverse)
            entering_label = nonbasic[column]
            for s in range(slacks[side].shape[0]):
                label = slacks[side][s]
                if label == entering_label:
                    continue  # its column is the pivot column: every ratio equals 1
                slack_col = col_of[side, label]
                slack_row = row_of[side, label]
                smallest = np.inf
                arg = candidates[0]
                for c in range(count):
                    i = candidates[c]
                    if slack_col >= 0:
                        value = table[slack_col * rows + i]
                        if tracked and residue[slack_col * rows + i] == 0:
                            value = 0.0
                    else:
                        value = 1.0 if i == slack_row else 0.0
                    value /= table[start + i]
                    ratios[i] = value
                    if value < smallest:
                        smallest, arg = value, i
                kept = 0
                if tracked:
                    if slack_col >= 0:
                        s_arg = residue[slack_col * rows + arg]
                    else:
                        s_arg = 1 if arg == slack_row else 0
                    c_arg = residue[start + arg]
                    for c in range(count):
                        i = candidates[c]
                        if slack_col >= 0:
                            s_i = residue[slack_col * rows + i]
                        else:
                            s_i = 1 if i == slack_row else 0
                        if (s_i * c_arg - s_arg * residue[start + i]) % _PRIME == 0:
                            candidates[kept] = i
                            kept += 1
                else:
                    for c in range(count):
                        i = candidates[c]
                        if ratios[i] <= smallest + tol_ratio:
                            candidates[kept] = i
                            kept += 1
                count = kept
                if count <= 1:
                    break
            row = candidates[0]
        # pivot: rows i != row become T_i - T_ic * T_row / p
        pivot = table[start + row]
        for i in range(rows):
            entering_col[i] = table[start + i]
        inverse = 1.0 / pivot
        for j in range(cols + 1):
            pivot_row_values[j] = table[j * rows + row] * inverse
        for j in range(cols + 1):
            factor = pivot_row_values[j]
            if factor != 0.0:
                base = j * rows
                for i in range(rows):
                    table[base + i] -= entering_col[i] * factor
        for j in range(cols + 1):
            table[j * rows + row] = pivot_row_values[j]
        for i in range(rows):
            table[start + i] = -entering_col[i] * inverse
        table[start + row] = inverse
        if tracked:
            # the same pivot modulo the prime (all residues in 0..p-1; products below 2^62)
            inverse_res = _inverse_mod(residue[start + row])
            for i in range(rows):
                entering_res[i] = residue[start + i]
            for j in range(cols + 1):
                pivot_row_res[j] = residue[j * rows + row] * inverse_res % _PRIME
            for j in range(cols + 1):
                factor_res = pivot_row_res[j]
                if factor_res != 0:
                    base = j * rows
                    for i in range(rows):
                        # Mersenne reduction of the product (below 2^62) by two folds
                        product = entering_res[i] * factor_res
                        product = (product & _PRIME) + (product >> 31)
                        product = (product & _PRIME) + (product >> 31)
                        product = product - _PRIME if product >= _PRIME else product
                        value_res = residue[base + i] - product
                        residue[base + i] = value_res + _PRIME if value_res < 0 else value_res
            for j in range(cols + 1):
                residue[j * rows + row] = pivot_row_res[j]
            for i in range(rows):
                residue[start + i] = (_PRIME - entering_res[i] * inverse_res % _PRIME) % _PRIME
            residue[start + row] = inverse_res
        entering_label = nonbasic[column]
        leaving_label = basic[row]
        basic[row], nonbasic[column] = entering_label, leaving_label
        row_of[side, entering_label], col_of[side, entering_label] = row, -1
        row_of[side, leaving_label], col_of[side, leaving_label] = -1, column
        pivots += 1
        if leaving_label == initial_label:
            out[0], out[1], out[2] = LH_SUCCESS, pivots, ties
            return
        state ^= keys[side, entering_label] ^ keys[side, leaving_label]
        if 2 * seen[0] >= seen.shape[0] - 1:
            seen = _grown(seen)
        if _remember(seen, state | 1):
            out[0], out[1], out[2] = LH_CYCLE, pivots, ties
            return
        entering, side = leaving_label, 1 - side
    out[0], out[1], out[2] = LH_CAP, pivots, ties


@_jit
def rows_not_better(payoffs, player, support, weights, target, error_factor, tight, undecided
                    ):  # pragma: no cover
    """Float half of the Lemke-Howson certificate: the actions of one player that a rigorous
    bound cannot prove to pay at most ``target`` against the other player's strategy.

    Player 0's action ``i`` pays ``sum_j A[i, support[j]] w_j``; player 1's action ``i`` pays
    ``sum_j B[support[j], i] w_j`` (``A, B = payoffs[0], payoffs[1]``, float images of the exact
    payoffs, ``w`` the rounded strategy on ``support``). With ``error_factor = gamma_{k+4}`` the
    action is proved not better when ``target - estimate`` exceeds
    ``2 (gamma_{k+4} sum_j |a_j| w_j + (k + sum_j |a_j|) 2^-1070) + 4u (|target| + |estimate|)
    + 2^-1070``: the bound of ``lemke_howson._proved_not_better`` (which states why it holds),
    evaluated here row by row. The actions in ``tight`` are not examined; the indices of the
    undecided ones are written to ``undecided`` (in increasing order), and their count is
    returned.
    """
    k = support.shape[0]
    count = payoffs.shape[1] if player == 0 else payoffs.shape[2]
    skip = np.zeros(count, dtype=np.bool_)
    for i in tight:
        skip[i] = True
    tiny = 2.0 ** -1070
    found = 0
    for i in range(count):
        if skip[i]:
            continue
        estimate = 0.0
        magnitude = 0.0
        size = 0.0
        for j in range(k):
            if player == 0:
                a = payoffs[0, i, support[j]]
            else:
                a = payoffs[1, support[j], i]
            estimate += a * weights[j]
            magnitude += abs(a) * weights[j]
            size += abs(a)
        bound = 2.0 * (error_factor * magnitude + (k + size) * tiny)
        slack = bound + 4.0 * UNIT_ROUNDOFF * (abs(target) + abs(estimate)) + tiny
        if not target - estimate > slack:
            undecided[found] = i
            found += 1
    return found



@_jit
def rows_at_most(integers, player, support, weights, limit, reference):  # pragma: no cover
    """Exact half of the Lemke-Howson certificate for integer payoffs: 1 when no action of one
    player pays more than action ``reference`` against the other player's strategy
    ``weights / total`` (on ``support``), 0 when one does, -1 when an entry exceeds ``limit``.

    Player 0's action ``i`` pays ``sum_j A[i, support[j]] w_j / total``, player 1's
    ``sum_j B[support[j], i] w_j / total`` (``A, B = integers[0], integers[1]``, int64); the
    common ``total > 0`` is left out. The caller passes ``w_j >= 0`` summing to ``total`` and
    ``limit = floor(2^62 / total)``: while every entry read is at most ``limit`` in magnitude,
    every sum stays below ``2^62`` in magnitude, so int64 arithmetic is exact; an entry beyond
    it stops the test (-1) before any product that could overflow.
    """
    k = support.shape[0]
    count = integers.shape[1] if player == 0 else integers.shape[2]
    bound = 0
    for j in range(k):
        a = integers[0, reference, support[j]] if player == 0 else \
            integers[1, support[j], reference]
        if a > limit or a < -limit:
            return -1
        bound += a * weights[j]
    for i in range(count):
        total = 0
        for j in range(k):
            a = integers[0, i, support[j]] if player == 0 else integers[1, support[j], i]
            if a > limit or a < -limit:
                return -1
            total += a * weights[j]
        if total > bound:
            return 0
    return 1

#: Status of :func:`lemke_howson_short` when it hands the path over to the tableau kernel.
LH_HANDOVER = 5


@_jit
def payoff_range(payoffs, low, spread):  # pragma: no cover
    """Each player's smallest payoff and payoff range (1 when constant) in one pass over the
    finite ``payoffs`` (float64 ``(players, ...)``, C-contiguous), written into ``low`` and
    ``spread``: the numbers ``min`` and ``max - min`` of NumPy, exactly."""
    for s in range(payoffs.shape[0]):
        flat = payoffs[s].ravel()
        smallest = flat[0]
        largest = flat[0]
        for value in flat:
            smallest = min(smallest, value)
            largest = max(largest, value)
        low[s] = smallest
        spread[s] = largest - smallest if largest > smallest else 1.0

@_jit
def _transformed(payoffs, player, low, spread, i, j):  # pragma: no cover
    """Entry ``(i, j)`` of player ``player``'s matrix rescaled into ``[1, 2]`` (as the tableau
    route's ``_float_matrix``)."""
    return 1.0 + (payoffs[player, i, j] - low[player]) / spread[player]


@_jit
def _position(tight, side, k, row):  # pragma: no cover
    """Index of ``row`` in ``tight[side, :k]``, or -1."""
    for a in range(k):
        if tight[side, a] == row:
            return a
    return -1


@_jit
def _lu_solve(lu, k, rhs):  # pragma: no cover
    """Solve ``L U x = rhs`` in place (``rhs`` already permuted; ``lu`` as factored in
    :func:`lemke_howson_short`, unit lower triangle holding the multipliers)."""
    for a in range(k):
        total = rhs[a]
        for b in range(a):
            total -= lu[a, b] * rhs[b]
        rhs[a] = total
    for a in range(k - 1, -1, -1):
        total = rhs[a]
        for b in range(a + 1, k):
            total -= lu[a, b] * rhs[b]
        rhs[a] = total / lu[a, a]


@_jit
def lemke_howson_short(payoffs, low, spread, initial_label, max_pivots, max_support, tol_pivot,
                       tol_ratio, structural, tight, sizes, work, out):  # pragma: no cover
    """Lemke-Howson without tableaux, for short paths; hands over when the path is not short.

    The tableau route builds two ``(m + 1) x n``-size tableaux before its first pivot; on a path
    of a few pivots that costs more than the path. Here each polytope's basis is kept as its
    basic structural variables ``X`` and tight rows ``T`` (``|X| = |T| = k``), and every
    pivot recomputes what it needs from the payoffs: the current point solves the ``k x k``
    system ``C[T, X] z = 1``, the entering direction solves the same system with the entering
    column's right-hand side, and the other rows' slacks follow from ``C[r, X]``. Polytope 0
    is ``P`` (``C = B^T`` rescaled, structural labels ``0..m-1``, row ``j`` has slack label
    ``m + j``), polytope 1 is ``Q`` (``C = A`` rescaled, structural labels ``m..m+n-1``, row
    ``i`` has slack label ``i``); entries are rescaled into ``[1, 2]`` as in the tableau route.

    The run hands over (status :data:`LH_HANDOVER`, nothing decided) at the first ratio tie
    within ``tol_ratio`` (the lexicographic rule needs the basis inverse), when ``k`` would
    exceed ``max_support``, when a basis system is singular in floating point, when no
    pivot-column entry exceeds ``tol_pivot``, or after ``max_pivots`` pivots. On success
    (:data:`LH_SUCCESS`) ``structural[s, :sizes[s]]`` and ``tight[s, :sizes[s]]`` hold the final
    bases, each in increasing order; the caller certifies them exactly.

    Parameters
    ----------
    payoffs : float64 (2, m, n)
    low, spread : float64 (2,)
        Each player's smallest payoff and payoff range (1 if constant), for the rescaling.
    structural, tight : int64 (2, max_support + 1), out
    sizes : int64 (2,), out
    work : float64 (max_support + 1, max_support + 3), scratch
    out : int64 (3,), out: status, pivots and ratio ties met
    """
    m, n = payoffs.shape[1], payoffs.shape[2]
    sizes[0], sizes[1] = 0, 0
    point = np.empty(max_support + 1)
    direction = np.empty(max_support + 1)
    unit = np.empty(max_support + 1)
    perm = np.empty(max_support + 1, dtype=np.int64)
    size = max(m, n) + max_support + 1
    candidates = np.empty(size, dtype=np.int64)
    ratios = np.empty(size)
    slopes = np.empty(size)
    ties = 0
    side = 0 if initial_label < m else 1
    entering = initial_label
    pivots = 0
    while pivots < max_pivots:
        # polytope 0 holds player 1's payoffs transposed, polytope 1 player 0's
        player = 1 - side
        rows = n if side == 0 else m
        k = sizes[side]
        # decode the entering label: a structural column or the slack of a tight row
        if side == 0:
            enter_col = entering if entering < m else -1
            enter_row = entering - m if entering >= m else -1
        else:
            enter_col = entering - m if entering >= m else -1
            enter_row = entering if entering < m else -1
        position = -1
        if enter_row >= 0:
            position = _position(tight, side, k, enter_row)
            if position < 0:  # not a tight row: not a nonbasic slack (cannot happen)
                out[0], out[1], out[2] = LH_HANDOVER, pivots, ties
                return
        # the k x k system C[T, X] with two right-hand sides: ones, and the entering column
        for a in range(k):
            r = tight[side, a]
            for b in range(k):
                c = structural[side, b]
                work[a, b] = _transformed(payoffs, player, low, spread,
                                          c if side == 0 else r, r if side == 0 else c)
            work[a, k] = 1.0
            if enter_col >= 0:
                work[a, k + 1] = _transformed(payoffs, player, low, spread,
                                              enter_col if side == 0 else r,
                                              r if side == 0 else enter_col)
            else:
                work[a, k + 1] = 1.0 if a == position else 0.0
        for a in range(k):
            perm[a] = a
        for col in range(k):
            best, pivot_row = 0.0, col
            for a in range(col, k):
                if abs(work[a, col]) > best:
                    best, pivot_row = abs(work[a, col]), a
            if not best > 1e-12:
                out[0], out[1], out[2] = LH_HANDOVER, pivots, ties
                return
            if pivot_row != col:
                for b in range(k + 2):
                    work[col, b], work[pivot_row, b] = work[pivot_row, b], work[col, b]
                perm[col], perm[pivot_row] = perm[pivot_row], perm[col]
            for a in range(col + 1, k):
                factor = work[a, col] / work[col, col]
                work[a, col] = factor
                if factor != 0.0:
                    for b in range(col + 1, k + 2):
                        work[a, b] -= factor * work[col, b]
        for a in range(k - 1, -1, -1):
            total_point, total_direction = work[a, k], work[a, k + 1]
            for b in range(a + 1, k):
                total_point -= work[a, b] * point[b]
                total_direction -= work[a, b] * direction[b]
            point[a] = total_point / work[a, a]
            direction[a] = total_direction / work[a, a]
        # minimum-ratio test over the basic variables: structural ones (candidate index q < k),
        # then the slacks of the rows not in T (candidate k + r; value 1 - C[r, X] z, direction
        # C[r, c] - C[r, X] d, or -C[r, X] d for an entering slack)
        count = 0
        for q in range(k):
            if direction[q] > tol_pivot:
                candidates[count] = q
                ratios[count] = point[q] / direction[q]
                slopes[count] = direction[q]
                count += 1
        for r in range(rows):
            if _position(tight, side, k, r) >= 0:
                continue
            value = 1.0
            slope = 0.0
            if enter_col >= 0:
                slope = _transformed(payoffs, player, low, spread,
                                     enter_col if side == 0 else r, r if side == 0 else enter_col)
            for b in range(k):
                c = structural[side, b]
                entry = _transformed(payoffs, player, low, spread,
                                     c if side == 0 else r, r if side == 0 else c)
                value -= entry * point[b]
                slope -= entry * direction[b]
            if slope > tol_pivot:
                candidates[count] = k + r
                ratios[count] = value / slope
                slopes[count] = slope
                count += 1
        if count == 0:
            out[0], out[1], out[2] = LH_HANDOVER, pivots, ties
            return
        best = np.inf
        for c in range(count):
            best = min(best, ratios[c])
        threshold = best + tol_ratio * max(1.0, abs(best))
        kept = 0
        for c in range(count):
            if ratios[c] <= threshold:
                candidates[kept] = candidates[c]
                slopes[kept] = slopes[c]
                kept += 1
        count = kept
        if count > 1:
            ties += 1
            # lexicographic rule: compare the rows of the basis inverse (columns of the initial
            # slacks, in row order) divided by the pivot-column entry
            for t in range(rows):
                if count == 1:
                    break
                p_t = _position(tight, side, k, t)
                if p_t < 0:
                    # a basic slack: a unit column, so every candidate's value is 0 except the
                    # slack of row t itself (1 / slope), if it is a candidate; the rule below
                    # then drops just that one when 1 / slope exceeds the tolerance (the others
                    # have ratio 0, the smallest). Decided here without the divisions.
                    for c in range(count):
                        if candidates[c] == k + t:
                            if 1.0 / slopes[c] > tol_ratio:
                                for e in range(c, count - 1):
                                    candidates[e] = candidates[e + 1]
                                    slopes[e] = slopes[e + 1]
                                count -= 1
                            break
                    continue
                if p_t >= 0:  # a nonbasic slack: its column is the basis inverse's column p_t
                    for a in range(k):
                        unit[a] = 1.0 if perm[a] == p_t else 0.0
                    _lu_solve(work, k, unit)
                smallest = np.inf
                for c in range(count):
                    q = candidates[c]
                    if p_t < 0:  # a basic slack: a unit column
                        value = 1.0 if q == k + t else 0.0
                    elif q < k:
                        value = unit[q]
                    else:
                        value = 0.0
                        for b in range(k):
                            cb = structural[side, b]
                            value -= _transformed(payoffs, player, low, spread,
                                                  cb if side == 0 else q - k,
                                                  q - k if side == 0 else cb) * unit[b]
                    ratios[c] = value / slopes[c]
                    smallest = min(smallest, ratios[c])
                kept = 0
                for c in range(count):
                    if ratios[c] <= smallest + tol_ratio:
                        candidates[kept] = candidates[c]
                        slopes[kept] = slopes[c]
                        kept += 1
                count = kept
            if count > 1:  # undecided in floating point: the tableau route decides exactly
                out[0], out[1], out[2] = LH_HANDOVER, pivots, ties
                return
        leave_col, leave_row = -1, -1
        if candidates[0] < k:
            leave_col = candidates[0]
        else:
            leave_row = candidates[0] - k
        # leaving label, then the new basis: removals first, then appends (|X| = |T| after)
        count_x, count_t = k, k
        if leave_col >= 0:
            c = structural[side, leave_col]
            leaving = c if side == 0 else m + c
            for b in range(leave_col, count_x - 1):
                structural[side, b] = structural[side, b + 1]
            count_x -= 1
        else:
            leaving = m + leave_row if side == 0 else leave_row
        if enter_row >= 0:
            for a in range(position, count_t - 1):
                tight[side, a] = tight[side, a + 1]
            count_t -= 1
        if leave_col < 0:
            tight[side, count_t] = leave_row
            count_t += 1
        if enter_col >= 0:
            structural[side, count_x] = enter_col
            count_x += 1
        k = count_x
        sizes[side] = k
        pivots += 1
        if k > max_support:
            out[0], out[1], out[2] = LH_HANDOVER, pivots, ties
            return
        if leaving == initial_label:
            for s in range(2):  # the final bases in increasing order, for the caller
                structural[s, :sizes[s]].sort()
                tight[s, :sizes[s]].sort()
            out[0], out[1], out[2] = LH_SUCCESS, pivots, ties
            return
        entering, side = leaving, 1 - side
    out[0], out[1], out[2] = LH_HANDOVER, pivots, ties
