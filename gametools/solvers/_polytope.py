"""Exact vertex enumeration of best-response polytopes (private helper of ``enumeration``).

A best-response polytope here is ``{z in R^d : z >= 0, M z <= 1}`` with ``M`` an ``(r, d)`` matrix
of positive integers. Its constraints are numbered ``0 .. d-1`` (``z_i >= 0``) and
``d .. d+r-1`` (row ``j`` of ``M z <= 1``); a vertex's *tight set* is the bitmask of the
constraints holding with equality.

Method
------
1. Floating point: Qhull (through :class:`scipy.spatial.ConvexHull`) computes the facets of the
   polar polytope, whose triangulated facets are bases (``d`` constraints) of the vertices.
2. Proof of each simplex's vertex and FULL tight set, by the cheapest route that succeeds:

   a. entries below ``2^52``: float solve, then exact int64 checks (``_kernels.prove_bases``);
   b. larger entries (float payoffs made integer are typically ``2^60``-``2^70``): a rigorous
      floating-point enclosure (``_kernels.enclose_bases``: verified approximate inverse,
      residual bound, every rounding and the float image's own error bounded) proves that the
      basis is nonsingular, that its exact solution has strictly positive free coordinates and
      strictly positive slack in every other row; it is then a feasible *nondegenerate* vertex
      whose tight set is exactly the simplex. Its exact coordinates are computed on demand,
      from the basis, only where needed (the vertices of equilibria);
   c. everything else (degenerate or ill-conditioned vertices, zero-volume simplices of Qhull's
      triangulation that lie on no proved face): exact fraction-free elimination in Python
      integers, with the full tight set evaluated exactly.

   A simplex counts as proved only through (a), (b) or (c); zero-volume simplices of the
   triangulation need only lie on the face of a proved vertex.
3. Certificate of completeness: the verified bases are simplices on the boundary of the polar
   polytope (each lies in the face of an exactly verified vertex); if every ridge is shared by an even number of them they form a mod-2
   cycle on that sphere, and since the facet of the (always nondegenerate) vertex ``z = 0`` is
   covered exactly once, the cycle has degree one, so it covers the whole boundary: every facet of
   the polar, i.e. every vertex, has been found. Float rounding in Qhull can therefore make the
   certificate fail, never make a wrong claim.
4. Fallback when the certificate fails: enumerate every basis exactly (complete but exponential,
   used only up to a size cap).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from functools import cached_property
from itertools import combinations

import numpy as np
import scipy.spatial

from gametools.numerics import UNIT_ROUNDOFF, power_of_two_at_least, solve_square_integers
from gametools.solvers import _kernels

_INT64_SAFE = 2 ** 62
#: Largest number of bases the exact brute-force fallback may visit.
BRUTE_FORCE_LIMIT = 400_000


@dataclass(frozen=True)
class PolytopeVertices:
    """Exact vertices of ``{z >= 0, M z <= 1}``, each once, with their exact tight sets.

    A vertex is either stored with its exact coordinates or, when it was proved by the
    interval route (see :func:`_certified_from_intervals`), by a nonsingular basis whose
    exact solution is the vertex; its coordinates are then computed exactly on demand
    (:meth:`exact_rows`), so only the vertices a caller needs pay for rational arithmetic.

    Attributes
    ----------
    tight_array : ndarray of bool, shape (V, d + r)
        Tight constraints per vertex (column ``i < d``: ``z_i = 0``; ``d + j``: row ``j``).
    complete : bool
        Whether the list is certified to contain every vertex.
    method : str
        ``"qhull+certificate"``, ``"bases"`` (exact brute force) or ``"qhull"`` (uncertified).
    stored_numerators : ndarray of int64 or object, shape (V, d), or None
        ``z = numerators / denominator`` in lowest terms (None: computed from ``bases``).
    stored_denominators : ndarray, shape (V,), or None
    matrix : ndarray, shape (r, d), or None
        The exact ``M`` (needed with ``bases``).
    bases : ndarray of int64, shape (V, d), or None
        A nonsingular basis (constraint indices) of each vertex.
    simple_keys : ndarray of int64, shape (V,), or None
        Set only when every vertex is proved nondegenerate (its tight set is exactly its
        basis, ``d`` constraints): the tight sets as bitmasks (bit ``c`` for constraint ``c``).
    tight_keys : ndarray of int64, shape (V,), or None
        The tight sets as bitmasks, when the route computed them (``d + r <= 62``).
    """

    tight_array: np.ndarray
    complete: bool
    method: str
    stored_numerators: np.ndarray | None = None
    stored_denominators: np.ndarray | None = None
    matrix: np.ndarray | None = None
    bases: np.ndarray | None = None
    simple_keys: np.ndarray | None = None
    tight_keys: np.ndarray | None = None

    @property
    def dimension(self) -> int:
        """``d``, the number of coordinates."""
        if self.stored_numerators is not None:
            return int(self.stored_numerators.shape[1])
        assert self.matrix is not None
        return int(self.matrix.shape[1])

    def exact_rows(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Exact numerators ``(len(indices), d)`` and denominators of the chosen vertices."""
        indices = np.asarray(indices, dtype=np.int64)
        if self.stored_numerators is not None:
            assert self.stored_denominators is not None
            return self.stored_numerators[indices], self.stored_denominators[indices]
        assert self.matrix is not None and self.bases is not None
        return _solve_bases_exact(self.matrix, self.bases[indices])

    def exact_lists(self, indices: list[int]) -> list[tuple[list[int], int]]:
        """``(numerators, denominator)`` of the chosen vertices as Python ints, lowest terms."""
        if self.stored_numerators is not None:
            assert self.stored_denominators is not None
            return list(zip(self.stored_numerators[indices].tolist(),
                            self.stored_denominators[indices].tolist()))
        assert self.matrix is not None and self.bases is not None
        return _solve_bases_lists(self.matrix, self.bases[indices].tolist())

    @cached_property
    def numerator_array(self) -> np.ndarray:
        """Numerators of every vertex, shape (V, d) (int64 or Python ints)."""
        return self._all_exact[0]

    @cached_property
    def denominator_array(self) -> np.ndarray:
        """Positive denominators, shape (V,)."""
        return self._all_exact[1]

    @cached_property
    def _all_exact(self) -> tuple[np.ndarray, np.ndarray]:
        return self.exact_rows(np.arange(len(self.tight_array)))

    @cached_property
    def numerators(self) -> list[tuple[int, ...]]:
        """Numerators as tuples of Python ints."""
        return [tuple(int(v) for v in row) for row in self.numerator_array.tolist()]

    @cached_property
    def denominators(self) -> list[int]:
        return [int(v) for v in self.denominator_array.tolist()]

    @cached_property
    def tight(self) -> list[int]:
        """Tight sets as bitmasks (bit ``i < d``: ``z_i = 0``; bit ``d + j``: row ``j``)."""
        return _bitmasks(self.tight_array)


def _solve_bases_exact(matrix: np.ndarray, bases: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact vertices (lowest terms, Python ints) of nonsingular bases, shape (K, d) and (K,)."""
    d = matrix.shape[1]
    numerators = np.zeros((len(bases), d), dtype=object)
    denominators = np.ones(len(bases), dtype=object)
    for k, (row, denominator) in enumerate(_solve_bases_lists(matrix, bases.tolist())):
        numerators[k] = row
        denominators[k] = denominator
    return numerators, denominators


def _solve_bases_lists(matrix: np.ndarray, bases: list[list[int]]) -> list[tuple[list[int], int]]:
    """Exact vertices of nonsingular bases as ``(numerators, denominator)`` in lowest terms.

    One small fraction-free solve per basis in plain Python integers (the callers need a few
    vertices; batching them through NumPy object arrays cost more than the arithmetic).
    """
    d = matrix.shape[1]
    entries = matrix.tolist()  # Python ints (int64 and object arrays alike)
    out = []
    for basis in bases:
        zero = {c for c in basis if c < d}
        support = [j for j in range(d) if j not in zero]
        block = [[entries[c - d][j] for j in support] for c in basis if c >= d]
        solved = _integer_solve(block)
        if solved is None:  # the bases were proved nonsingular
            raise AssertionError("a proved basis is singular")
        values, denominator = solved
        row = [0] * d
        for j, value in zip(support, values):
            row[j] = value
        out.append((row, denominator))
    return out


def _integer_solve(block: list[list[int]]) -> tuple[list[int], int] | None:
    """``block @ (numerators / denominator) = 1`` in lowest terms, in Python integers; None if
    singular."""
    solved = solve_square_integers(block, [1] * len(block))
    if solved is None:
        return None
    numerators, determinant = solved
    g = math.gcd(determinant, *numerators)
    return [v // g for v in numerators], determinant // g


# ------------------------------------------------------------------------------------------------
# exact linear algebra
# ------------------------------------------------------------------------------------------------

def _hadamard_ok(matrices: np.ndarray) -> bool:
    """Whether fraction-free elimination of ``[M | 1]`` provably stays inside int64."""
    norms = np.sqrt((matrices.astype(float) ** 2).sum(axis=2) + 1.0)
    log_bound = np.log2(norms).sum(axis=1).max(initial=0.0)
    # Bareiss forms p*a - b*c with |p|, |a|, |b|, |c| <= H: needs 2 H^2 < 2^63.
    return 2 * log_bound + 1 < 62


def solve_exact(matrices: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Solve ``M x = 1`` exactly for a batch of integer matrices.

    Parameters
    ----------
    matrices : ndarray of int (int64 or object), shape (K, k, k)

    Returns
    -------
    numerators : ndarray, shape (K, k)
    denominators : ndarray, shape (K,)
        ``M @ numerators = denominators * 1``, ``denominators > 0`` where nonsingular.
    singular : ndarray of bool, shape (K,)
    """
    count, k = matrices.shape[0], matrices.shape[1]
    dtype = np.int64 if matrices.dtype != object and _hadamard_ok(matrices) else object
    aug = np.empty((count, k, k + 1), dtype=dtype)
    aug[:, :, :k] = matrices.astype(dtype)
    aug[:, :, k] = 1
    singular = np.zeros(count, dtype=bool)
    previous = np.ones(count, dtype=dtype)
    rows = np.arange(count)
    for col in range(k):
        nonzero = aug[:, col:, col] != 0
        has = nonzero.any(axis=1)
        singular |= ~has
        pivot_row = col + np.argmax(nonzero, axis=1)
        swap = pivot_row != col
        if swap.any():
            idx = rows[swap]
            saved = aug[idx, col].copy()
            aug[idx, col] = aug[idx, pivot_row[swap]]
            aug[idx, pivot_row[swap]] = saved
        # Singular systems get a dummy pivot so the batch keeps going; they are discarded.
        aug[~has, col, col] = 1
        pivot = aug[:, col, col].copy()
        others = [i for i in range(k) if i != col]
        if others:
            block = aug[:, others, :]
            factor = block[:, :, col][:, :, None]
            aug[:, others, :] = (pivot[:, None, None] * block
                                 - factor * aug[:, col, :][:, None, :]) // previous[:, None, None]
        previous = pivot
    det = aug[:, 0, 0] if k else np.ones(count, dtype=dtype)
    numerators = aug[:, :, k]
    negative = det < 0
    numerators = np.where(negative[:, None], -numerators, numerators)
    det = np.where(negative, -det, det)
    return numerators, det, singular


# ------------------------------------------------------------------------------------------------
# exact evaluation of bases
# ------------------------------------------------------------------------------------------------

def _evaluate_bases(matrix: np.ndarray, zero_masks: np.ndarray, row_masks: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Solve bases exactly and evaluate feasibility and tight sets.

    Parameters
    ----------
    matrix : ndarray of int, shape (r, d)
    zero_masks : ndarray of bool, shape (K, d)
        Coordinates fixed at zero by each basis.
    row_masks : ndarray of bool, shape (K, r)
        Rows of ``M z <= 1`` tight by each basis (as many as the free coordinates).

    Returns
    -------
    numerators : ndarray of object (Python int), shape (K, d)
    denominators : ndarray of object, shape (K,)
    tight : ndarray of bool, shape (K, d + r)
    valid : ndarray of bool, shape (K,)
        Nonsingular and feasible.
    """
    count = zero_masks.shape[0]
    r, d = matrix.shape
    numerators = np.zeros((count, d), dtype=object)
    denominators = np.ones(count, dtype=object)
    tight = np.zeros((count, d + r), dtype=bool)
    valid = np.zeros(count, dtype=bool)
    sizes = (~zero_masks).sum(axis=1)
    for k in np.unique(sizes):
        members = np.flatnonzero(sizes == k)
        support = np.nonzero(~zero_masks[members])[1].reshape(len(members), k)
        rows_idx = np.nonzero(row_masks[members])[1].reshape(len(members), k)
        columns = matrix.T[support]                                # (K, k, r)
        square = np.take_along_axis(columns, rows_idx[:, None, :], axis=2).transpose(0, 2, 1)
        num, det, singular = solve_exact(square)
        if num.dtype != object:
            bound = float(np.abs(matrix).max()) * k * float(max(1, np.abs(num).max(initial=1),
                                                                 det.max(initial=1)))
            if bound >= _INT64_SAFE:
                num, det = num.astype(object), det.astype(object)
        # slack of each row: det - M[:, S] num  (exact)
        values = np.einsum("kcr,kc->kr", columns.astype(num.dtype), num) if k else \
            np.zeros((len(members), r), dtype=num.dtype)
        slack = det[:, None] - values
        feasible = ~singular & (num >= 0).all(axis=1) & (slack >= 0).all(axis=1)
        full = np.zeros((len(members), d), dtype=object)
        np.put_along_axis(full, support, num.astype(object), axis=1)
        numerators[members] = full
        denominators[members] = det.astype(object)
        tight[members, :d] = full == 0
        tight[members, d:] = slack == 0
        valid[members] = feasible
    return numerators, denominators, tight, valid


#: Float denominators (rounded determinants) must be exact integers well inside float64.
_FLOAT_DET_LIMIT = 2.0 ** 50


def _fast_evaluate(matrix: np.ndarray, simplices: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Float-solve bases, then prove the result exactly in int64 where possible.

    For each basis (``d`` constraint indices) the system is solved in floating point, the
    solution is rounded to ``numerators / denominator`` with ``denominator = round(|det|)``, and
    then *proved*:

    - ``N_B numerators = denominator * rhs_B`` is checked in exact int64 arithmetic (with an
      a-priori bound excluding overflow), so ``numerators / denominator`` solves the basis system;
    - the basis matrix is proved nonsingular by a rigorous floating-point bound: for the computed
      approximate inverse ``R``, ``||I - R N_B||_inf < 1/2`` including the worst-case rounding
      error ``2 (d + 2) u |R| |N_B|`` of the product (Rump's criterion), so the solution is the
      unique one, i.e. the vertex of that basis;
    - feasibility and the full tight set follow exactly from the same int64 products.

    Parameters
    ----------
    matrix : ndarray of int64, shape (r, d)
        Positive entries.
    simplices : ndarray of int, shape (K, d)
        Constraint indices (``i < d``: ``z_i >= 0``; ``d + j``: row ``j``).

    Returns
    -------
    numerators : ndarray of int64, shape (K, d)
    denominators : ndarray of int64, shape (K,)
    tight : ndarray of bool, shape (K, d + r)
    proved : ndarray of bool, shape (K,)
        Nonsingular, feasible and verified; the other rows are undecided (use the exact route).
    """
    r, d = matrix.shape
    constraints = np.vstack([np.eye(d, dtype=np.int64), matrix.astype(np.int64)])
    rhs = np.concatenate([np.zeros(d), np.ones(r)])
    systems = constraints[simplices].astype(float)                       # (K, d, d)
    determinant = np.linalg.det(systems)
    usable = (np.abs(determinant) >= 0.5) & (np.abs(determinant) < _FLOAT_DET_LIMIT)
    # singular systems would stop the batched inverse: replace them by the identity
    systems[~usable] = np.eye(d)
    inverse = np.linalg.inv(systems)
    product = inverse @ systems
    rounding = 2.0 * (d + 2) * UNIT_ROUNDOFF * (np.abs(inverse) @ np.abs(systems))
    defect = (np.abs(np.eye(d) - product) + rounding).sum(axis=2).max(axis=1)
    nonsingular = usable & (defect < 0.5)
    denominators = np.where(nonsingular, np.rint(np.abs(determinant)), 1.0).astype(np.int64)
    solution = np.einsum("kij,kj->ki", inverse, rhs[simplices])
    numerators = np.where(nonsingular[:, None], np.rint(solution * denominators[:, None]), 0.0)
    # int64 products M @ numerators stay below 2^62 (exact)
    limit = 2.0 ** 62 / (float(np.abs(matrix).max(initial=1)) * d + 1.0)
    small = np.abs(numerators).max(axis=1, initial=0.0) < limit
    nonsingular &= small
    numerators[~nonsingular] = 0
    numerators = numerators.astype(np.int64)
    values = numerators @ matrix.T.astype(np.int64)                      # (K, r)
    tight = np.concatenate([numerators == 0, values == denominators[:, None]], axis=1)
    feasible = (numerators >= 0).all(axis=1) & (values <= denominators[:, None]).all(axis=1)
    basis_tight = np.take_along_axis(tight, simplices, axis=1).all(axis=1)
    proved = nonsingular & basis_tight & feasible
    return numerators, denominators, tight, proved


def _evaluate_simplices(matrix: np.ndarray, simplices: np.ndarray, *, exact_rest: bool = True,
                        fast: bool = True
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_evaluate_bases` on simplices, through the fast proof where it succeeds.

    Same outputs as :func:`_evaluate_bases` (numerators int64 unless some exact rows need
    Python integers). ``exact_rest=False`` leaves the rows the fast route could not prove as
    invalid instead of solving them by exact elimination; ``fast=False`` skips the fast route.
    """
    r, d = matrix.shape
    count = len(simplices)
    # the fast route needs the matrix exactly representable in float64
    if fast and matrix.dtype != object and count and np.abs(matrix).max(initial=0) < 2 ** 52:
        if _kernels.worthwhile(count):
            num = np.zeros((count, d), dtype=np.int64)
            den = np.ones(count, dtype=np.int64)
            tight = np.zeros((count, d + r), dtype=bool)
            valid = np.zeros(count, dtype=bool)
            _kernels.prove_bases(np.ascontiguousarray(matrix, dtype=np.int64),
                                 np.ascontiguousarray(simplices, dtype=np.int64),
                                 num, den, tight, valid)
        else:
            num, den, tight, valid = _fast_evaluate(matrix, simplices)
        rest = np.flatnonzero(~valid)
        if not len(rest) or not exact_rest:
            return num, den, tight, valid
    else:
        rest = np.arange(count)
        num = np.zeros((count, d), dtype=object)
        den = np.ones(count, dtype=object)
        tight = np.zeros((count, d + r), dtype=bool)
        valid = np.zeros(count, dtype=bool)
    zero_masks, row_masks = _masks(simplices[rest], d, r)
    n_, q_, t_, v_ = _evaluate_bases(matrix, zero_masks, row_masks)
    if num.dtype != object and n_.size and not _fits_int64(n_, q_):
        num, den = num.astype(object), den.astype(object)
    num[rest] = n_ if num.dtype == object else n_.astype(np.int64)
    den[rest] = q_ if den.dtype == object else q_.astype(np.int64)
    tight[rest], valid[rest] = t_, v_
    return num, den, tight, valid


def _fits_int64(numerators: np.ndarray, denominators: np.ndarray) -> bool:
    largest = max((abs(v) for v in numerators.ravel().tolist()), default=0)
    return max(largest, max(denominators.tolist(), default=1)) < _INT64_SAFE


def _bitmasks(tight: np.ndarray) -> list[int]:
    width = tight.shape[1]
    if width <= 63:
        weights = np.left_shift(np.uint64(1), np.arange(width, dtype=np.uint64))
        return (tight.astype(np.uint64) * weights).sum(axis=1, dtype=np.uint64).tolist()
    powers = [1 << i for i in range(width)]
    return [sum(w for w, t in zip(powers, row) if t) for row in tight.tolist()]


def _ridges_even(simplices: np.ndarray, width: int) -> bool:
    """Whether every ``(d-1)``-subset of the simplices occurs an even number of times."""
    d = simplices.shape[1]
    if width <= 63:
        bits = np.left_shift(np.uint64(1), simplices.astype(np.uint64))
        total = np.bitwise_or.reduce(bits, axis=1)
        ridges = np.sort((total[:, None] ^ bits).ravel())
        # sorted values all have even counts iff they pair up as (0, 1), (2, 3), ...
        return len(ridges) % 2 == 0 and bool((ridges[0::2] == ridges[1::2]).all())
    ordered = np.sort(simplices, axis=1)
    ridges = np.concatenate([np.delete(ordered, j, axis=1) for j in range(d)])
    _, counts = np.unique(ridges, axis=0, return_counts=True)
    return bool((counts % 2 == 0).all())


# ------------------------------------------------------------------------------------------------
# enumeration
# ------------------------------------------------------------------------------------------------

def _qhull_bases(matrix: np.ndarray, options: str | None) -> tuple[np.ndarray, np.ndarray]:
    """Triangulated facets of the polar polytope: ``(K, d)`` constraint indices and float vertices."""
    d = matrix.shape[1]
    floats = matrix.astype(float)
    # {z : M z <= 1} = {w / s : (M / s) w <= 1} has the same tight sets; a power of two s keeps
    # the entries near 1 (float games made integer reach 2^64, and Qhull then slows down
    # severalfold) without any rounding
    scale = power_of_two_at_least(float(floats.max()))
    floats /= scale
    row_sums = floats.sum(axis=1)
    shift = 1.0 / (2.0 * row_sums.max())  # z = w + shift * 1 is interior
    normals = np.vstack([-np.eye(d), floats])
    offsets = np.concatenate([np.full(d, shift), 1.0 - shift * row_sums])
    hull = scipy.spatial.ConvexHull(normals / offsets[:, None], qhull_options=options)
    with np.errstate(divide="ignore", invalid="ignore"):  # 'Po' may keep degenerate facets
        vertices = (-hull.equations[:, :-1] / hull.equations[:, -1:] + shift) / scale
    return hull.simplices.astype(np.int64), vertices


def _masks(simplices: np.ndarray, d: int, r: int) -> tuple[np.ndarray, np.ndarray]:
    count = simplices.shape[0]
    member = np.zeros((count, d + r), dtype=bool)
    np.put_along_axis(member, simplices, True, axis=1)
    return member[:, :d], member[:, d:]


def _certified_from_qhull(matrix: np.ndarray, options: str | None, tol: float
                          ) -> tuple[PolytopeVertices | None, str]:
    r, d = matrix.shape
    try:
        simplices, _ = _qhull_bases(matrix, options)
    except (scipy.spatial.QhullError, ValueError) as exc:  # precision or input errors
        return None, f"qhull failed ({type(exc).__name__})"
    # d distinct constraints: as many free coordinates as tight rows
    if not (np.diff(np.sort(simplices, axis=1), axis=1) > 0).all():
        return None, "qhull returned a malformed simplex"
    count = len(simplices)
    num: np.ndarray | None
    den: np.ndarray | None
    # 1. int64 matrices: every simplex solved and proved exactly (nonsingular, feasible, full
    #    tight set) by the int64 kernel where its numbers fit
    if matrix.dtype != object and np.abs(matrix).max(initial=0) < 2 ** 52:
        num, den, tight, valid = _evaluate_simplices(matrix, simplices, exact_rest=False)
    else:
        num = den = None
        tight, valid = np.zeros((count, d + r), dtype=bool), np.zeros(count, dtype=bool)
    # 2. numbers too large (e.g. float payoffs made integer): rigorous float enclosures prove
    #    nondegenerate vertices, whose tight set is their simplex; their exact coordinates are
    #    left for later (only equilibrium vertices need them)
    enclosed = np.zeros(count, dtype=bool)
    rest = np.flatnonzero(~valid)
    if len(rest) and _kernels.worthwhile(len(rest)):
        enclosure = _float_enclosure(matrix)
        if enclosure is not None:
            proved = np.zeros(len(rest), dtype=bool)
            _kernels.enclose_bases(*enclosure, np.ascontiguousarray(simplices[rest],
                                                                    dtype=np.int64), proved)
            done = rest[proved]
            enclosed[done] = True
            tight[done[:, None], simplices[done]] = True
            valid |= enclosed
            rest = rest[~proved]
    if len(rest):
        if num is None or den is None:
            num, den = np.zeros((count, d), dtype=object), np.ones(count, dtype=object)
        # 3. Qhull's triangulation ('Qt') may add zero-volume simplices: those need only lie on
        # the face of a proved vertex. The others (degenerate or ill-conditioned vertices) are
        # solved in exact rational arithmetic.
        on_face = _on_proved_face(simplices[rest], tight[valid])
        redo = rest[~on_face]
        if len(redo):
            n_, q_, t_, v_ = _evaluate_simplices(matrix, simplices[redo], exact_rest=True,
                                                 fast=False)
            if n_.dtype == object and num.dtype != object:
                num, den = num.astype(object), den.astype(object)
            num[redo], den[redo], tight[redo], valid[redo] = n_, q_, t_, v_
            unsolved = redo[~v_]
            if len(unsolved) and not _on_proved_face(simplices[unsolved], tight[valid]).all():
                return None, "a qhull basis is not tight at any exactly proved vertex"
    why = _cycle_failure(simplices, d, r)
    if why:
        return None, why
    keep = np.flatnonzero(valid)
    if not enclosed.any():
        assert num is not None and den is not None
        return _collect(num[keep], den[keep], tight[keep], True, "qhull+certificate"), ""
    # distinct vertices have distinct tight sets (a tight set contains a nonsingular basis,
    # which determines the point), so repeated vertices are dropped by tight set
    _, first = np.unique(_tight_keys(tight[keep]), return_index=True)
    chosen = keep[np.sort(first)]
    return PolytopeVertices(tight[chosen], True, "qhull+certificate", matrix=matrix,
                            bases=simplices[chosen]), ""


def _tight_keys(tight: np.ndarray) -> np.ndarray:
    """One key per row of a boolean array, equal exactly for equal rows, shape (K,)."""
    if tight.shape[1] <= 64:
        weights = np.left_shift(np.uint64(1), np.arange(tight.shape[1], dtype=np.uint64))
        return tight.astype(np.uint64) @ weights
    return _row_groups(tight.astype(np.int64))


def _cycle_failure(simplices: np.ndarray, d: int, r: int) -> str:
    """Why the simplices fail the mod-2 cycle certificate (empty when they pass)."""
    if not _ridges_even(simplices, d + r):
        return "qhull's triangulation is not a closed cycle"
    at_origin = (np.sort(simplices, axis=1) == np.arange(d)).all(axis=1)
    if int(at_origin.sum()) != 1:
        return "the facet of the origin is not covered exactly once"
    return ""


def _float_enclosure(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Float64 image of an exact integer matrix and a bound on its error, or None if out of range.

    ``float(int)`` rounds to nearest, so ``|M - values| <= u |values| <= 2 u |values|``; entries
    below ``2^53`` are exact (radius 0).
    """
    if matrix.dtype != object:
        values = matrix.astype(float)  # rounds to nearest, as float(int)
        # int64 entries are below 2^63: finite and far from the overflow guard below
        radius = 2.0 * UNIT_ROUNDOFF * np.abs(values)
        radius[radius < 2.0 * UNIT_ROUNDOFF * 2.0 ** 53] = 0.0
        return values, radius
    try:
        values = np.array([float(v) for v in matrix.ravel().tolist()]).reshape(matrix.shape)
    except (OverflowError, TypeError):
        return None
    magnitude = np.abs(values)
    # keep every bound computed in the kernel far from overflow
    if not np.isfinite(values).all() or magnitude.max(initial=0.0) > 2.0 ** 600:
        return None
    radius = np.where(magnitude < 2.0 ** 53, 0.0, 2.0 * UNIT_ROUNDOFF * magnitude)
    return values, radius


def _on_proved_face(simplices: np.ndarray, tight: np.ndarray) -> np.ndarray:
    """Whether each simplex's constraints are all tight at one of the proved vertices."""
    if not len(tight):
        return np.zeros(len(simplices), dtype=bool)
    out = np.empty(len(simplices), dtype=bool)
    for k, simplex in enumerate(simplices):
        out[k] = tight[:, simplex].all(axis=1).any()
    return out


@functools.lru_cache(maxsize=64)
def _hash_weights(width: int) -> np.ndarray:
    """Fixed odd 62-bit weights of the row hash (cached: drawing them costs more than hashing
    a few hundred rows)."""
    weights = np.random.default_rng(0).integers(1, 2 ** 62, size=width) | 1
    weights.flags.writeable = False
    return weights


def _row_groups(keys: np.ndarray) -> np.ndarray:
    """Group index of each row of an integer array (equal rows, equal index), shape (K,).

    Lexicographic sort on the columns: much faster than ``np.unique(axis=0)``, which sorts rows
    as opaque byte strings.
    """
    if not len(keys):
        return np.zeros(0, dtype=np.int64)
    # Usually a 64-bit hash of each row separates distinct rows; equality is then verified
    # exactly against each group's first row, and only a collision needs the full sort.
    weights = _hash_weights(keys.shape[1])
    hashes = (keys * weights).sum(axis=1)  # wraps modulo 2^64: a hash, not a value
    _, first, labels = np.unique(hashes, return_index=True, return_inverse=True)
    labels = labels.ravel()
    if (keys == keys[first[labels]]).all():
        return labels
    order = np.lexsort(keys.T[::-1])
    ordered = keys[order]
    new = np.empty(len(keys), dtype=bool)
    new[0] = True
    new[1:] = (ordered[1:] != ordered[:-1]).any(axis=1)
    labels = np.empty(len(keys), dtype=np.int64)
    labels[order] = np.cumsum(new) - 1
    return labels


def _collect(num: np.ndarray, den: np.ndarray, tight: np.ndarray, complete: bool, method: str
             ) -> PolytopeVertices:
    """Reduce ``num / den`` to lowest terms and drop repeated vertices."""
    if num.dtype != object:
        divisor = np.gcd.reduce(np.concatenate([num, den[:, None]], axis=1), axis=1)
        divisor[divisor == 0] = 1
        reduced = np.concatenate([num, den[:, None]], axis=1) // divisor[:, None]
        _, first = np.unique(_row_groups(reduced), return_index=True)
        first.sort()
        return PolytopeVertices(tight[first], complete, method, reduced[first, :-1],
                                reduced[first, -1])
    seen: dict[tuple[tuple[int, ...], int], int] = {}
    rows: list[list[int]] = []
    keep: list[int] = []
    for k, (row, q) in enumerate(zip(num.tolist(), den.tolist())):
        g = math.gcd(q, *row)
        key = (tuple(v // g for v in row), q // g)
        if key in seen:
            continue
        seen[key] = len(rows)
        rows.append([*key[0], key[1]])
        keep.append(k)
    reduced = np.empty((len(rows), num.shape[1] + 1), dtype=object)
    reduced[:] = rows if rows else reduced
    return PolytopeVertices(tight[keep], complete, method, reduced[:, :-1], reduced[:, -1])


def _all_bases(matrix: np.ndarray) -> PolytopeVertices:
    """Every basic feasible solution, exactly (complete; exponential in the size)."""
    r, d = matrix.shape
    zero_list, row_list = [], []
    for k in range(min(d, r) + 1):
        for support in combinations(range(d), k):
            zeros = np.ones(d, dtype=bool)
            zeros[list(support)] = False
            for tight_rows in combinations(range(r), k):
                rows = np.zeros(r, dtype=bool)
                rows[list(tight_rows)] = True
                zero_list.append(zeros)
                row_list.append(rows)
    num, den, tight, valid = _evaluate_bases(matrix, np.array(zero_list), np.array(row_list))
    keep = np.flatnonzero(valid)
    return _collect(num[keep], den[keep], tight[keep], True, "bases")


def count_bases(d: int, r: int) -> int:
    return math.comb(d + r, d)


#: Polytopes with at most this many bases are enumerated basis by basis in the compiled kernel
#: (complete by construction, exact, and degenerate vertices cost nothing extra); above it Qhull
#: and the completeness certificate are cheaper. C(12, 6) = 924: up to 6x6 games.
SMALL_BASES = 924


def _small_bases(matrix: np.ndarray) -> PolytopeVertices | None:
    """Every vertex by :func:`_kernels.all_basic_solutions`, or None when the polytope is not
    small, its entries are not int64, int64 minors could overflow, or the kernel would cost
    more to load than it saves (see :func:`_kernels.worthwhile`)."""
    if matrix.dtype == object:
        return None
    r, d = matrix.shape
    bases = count_bases(d, r)
    if bases > SMALL_BASES or not _kernels.worthwhile(bases):
        return None
    largest = float(np.abs(matrix).max(initial=1))
    if largest >= 2.0 ** 31:  # a minor bound below 2^30.5 needs every entry below it
        return None
    # Hadamard: every minor of [M | 1] is at most the product of its rows' norms
    norms = np.sort(np.log2(np.sqrt((matrix.astype(float) ** 2).sum(axis=1) + 1.0)))[::-1]
    log_minor = float(norms[:min(d, r)].sum())
    # Bareiss forms p*a - b*c of minors (2 H^2), slacks sum d products of M and a minor
    if 2 * log_minor + 1 >= 62 or log_minor + math.log2(d * largest + 1) >= 62:
        return None
    numerators = np.zeros((bases, d), dtype=np.int64)
    denominators = np.ones(bases, dtype=np.int64)
    tight = np.zeros((bases, d + r), dtype=bool)
    keys = np.zeros(bases, dtype=np.int64)
    dedupe = d + r <= 62
    table = np.zeros(int(power_of_two_at_least(2.0 * bases)) + 1 if dedupe else 1,
                     dtype=np.int64)
    count = _kernels.all_basic_solutions(np.ascontiguousarray(matrix, dtype=np.int64),
                                         numerators, denominators, tight, keys, table, dedupe)
    if not dedupe:
        return _collect(numerators[:count], denominators[:count], tight[:count], True, "bases")
    # each vertex once, in lowest terms (the kernel dropped the repeats of degenerate ones)
    return PolytopeVertices(tight[:count], True, "bases", numerators[:count],
                            denominators[:count], tight_keys=keys[:count])


#: Vertex lists longer than this are left to Qhull (the graph search stops and reports it).
GRAPH_LIMIT = 1 << 18


def _graph_search(matrix: np.ndarray) -> PolytopeVertices | None:
    """Every vertex by :func:`_kernels.graph_vertices` (a search of the vertex graph, each vertex
    proved nondegenerate by rigorous float bounds, complete by the graph's connectivity), or None
    when that route does not apply or does not succeed.

    It is tried only for matrices outside the exact int64 routes (entries from ``2^31``, as float
    payoffs made integer are): small-integer games are often degenerate, which this route does
    not handle, and have exact routes of their own.
    """
    r, d = matrix.shape
    if d + r > 62 or not _kernels.worthwhile(count_bases(d, r)):
        return None
    if matrix.dtype != object and float(np.abs(matrix).max(initial=0)) < 2.0 ** 31:
        return None
    enclosure = _float_enclosure(matrix)
    if enclosure is None:
        return None
    capacity = 1024
    while True:
        bases = np.empty((capacity, d), dtype=np.int64)
        keys = np.empty(capacity, dtype=np.int64)
        table = np.zeros(2 * capacity + 1, dtype=np.int64)
        count = _kernels.graph_vertices(*enclosure, bases, keys, table)
        if count != _kernels.GRAPH_FULL or capacity >= GRAPH_LIMIT:
            break
        capacity *= 16
    if count < 0:
        return None
    keys = keys[:count]
    tight = ((keys[:, None] >> np.arange(d + r, dtype=np.int64)) & 1).astype(bool)
    return PolytopeVertices(tight, True, "graph+enclosure", matrix=matrix, bases=bases[:count],
                            simple_keys=keys, tight_keys=keys)


#: Qhull options tried in turn. 'Q0' (no pre-merging of nearly coplanar facets) is about twice
#: as fast as the default merging, and 'Po' makes Qhull return its output despite precision
#: errors instead of stopping. Whatever it returns must still pass the exact checks and the
#: certificate; a failure only moves on to the default options.
QHULL_OPTIONS: tuple[str | None, ...] = ("Q0 Po", None, "QJ Qbb Q12")


def polytope_vertices(matrix: np.ndarray, *, tol: float = 1e-9) -> tuple[PolytopeVertices, str]:
    """All vertices of ``{z >= 0, M z <= 1}`` (``M`` positive integers, ``(r, d)``), exactly.

    ``tol`` only groups Qhull's float vertices (how many bases are solved exactly); results are
    exact whatever its value. Returns the vertices and a note on why a certificate failed.
    """
    r, d = matrix.shape
    notes = []
    small = _small_bases(matrix)
    if small is not None:
        return small, ""
    found = _graph_search(matrix)
    if found is not None:
        return found, ""
    if count_bases(d, r) > 64:
        for options in QHULL_OPTIONS:
            found, why = _certified_from_qhull(matrix, options, tol)
            if found is not None:
                return found, ""
            notes.append(f"{options or 'default'}: {why}")
    if count_bases(d, r) <= BRUTE_FORCE_LIMIT:
        return _all_bases(matrix), "; ".join(notes)
    # Uncertified: exact vertices from the qhull bases that verify, completeness not proven.
    simplices, _ = _qhull_bases(matrix, "QJ Qbb Q12")
    num, den, tight, valid = _evaluate_simplices(matrix, simplices)
    keep = np.flatnonzero(valid)
    return _collect(num[keep], den[keep], tight[keep], False, "qhull"), "; ".join(notes)
