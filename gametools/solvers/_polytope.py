"""Exact vertex enumeration of best-response polytopes (private helper of ``enumeration``).

A best-response polytope here is ``{z in R^d : z >= 0, M z <= 1}`` with ``M`` an ``(r, d)`` matrix
of positive integers. Its constraints are numbered ``0 .. d-1`` (``z_i >= 0``) and
``d .. d+r-1`` (row ``j`` of ``M z <= 1``); a vertex's *tight set* is the bitmask of the
constraints holding with equality.

Method
------
1. Floating point: Qhull (through :class:`scipy.spatial.ConvexHull`) computes the facets of the
   polar polytope, whose triangulated facets are bases (``d`` constraints) of the vertices.
2. Exact: one basis per distinct float vertex is solved in integer arithmetic (fraction-free
   Gauss-Jordan elimination, batched; ``int64`` when a Hadamard bound proves it cannot
   overflow, Python integers otherwise); the full tight set and feasibility are evaluated
   exactly, and every other basis is checked to be tight at its group's exact vertex (Qhull's
   triangulation may add zero-volume simplices; they need only lie on a verified face).
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

import math
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import scipy.spatial

_INT64_SAFE = 2 ** 62
#: Largest number of bases the exact brute-force fallback may visit.
BRUTE_FORCE_LIMIT = 400_000


@dataclass(frozen=True)
class PolytopeVertices:
    """Exact vertices of ``{z >= 0, M z <= 1}``.

    Attributes
    ----------
    numerators : list of tuple of int
        ``z = numerators / denominator`` for each vertex.
    denominators : list of int
        Positive.
    tight : list of int
        Bitmask of tight constraints per vertex (bit ``i < d``: ``z_i = 0``; bit ``d + j``: row
        ``j`` tight).
    complete : bool
        Whether the list is certified to contain every vertex.
    method : str
        ``"qhull+certificate"``, ``"bases"`` (exact brute force) or ``"qhull"`` (uncertified).
    """

    numerators: list[tuple[int, ...]]
    denominators: list[int]
    tight: list[int]
    complete: bool
    method: str


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
        _, counts = np.unique((total[:, None] ^ bits).ravel(), return_counts=True)
    else:
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
    row_sums = floats.sum(axis=1)
    shift = 1.0 / (2.0 * row_sums.max())  # z = w + shift * 1 is interior
    normals = np.vstack([-np.eye(d), floats])
    offsets = np.concatenate([np.full(d, shift), 1.0 - shift * row_sums])
    hull = scipy.spatial.ConvexHull(normals / offsets[:, None], qhull_options=options)
    vertices = -hull.equations[:, :-1] / hull.equations[:, -1:] + shift
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
        simplices, float_vertices = _qhull_bases(matrix, options)
    except (scipy.spatial.QhullError, ValueError) as exc:  # precision or input errors
        return None, f"qhull failed ({type(exc).__name__})"
    zero_masks, row_masks = _masks(simplices, d, r)
    if not ((~zero_masks).sum(axis=1) == row_masks.sum(axis=1)).all():
        return None, "qhull returned a malformed simplex"
    scale = np.maximum(np.abs(float_vertices).max(axis=1, keepdims=True), 1e-300)
    keys = np.round(float_vertices / scale / max(tol, 1e-14)).astype(np.int64)
    keys = np.concatenate([keys, np.round(np.log2(scale)).astype(np.int64)], axis=1)
    _, inverse = np.unique(keys, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    groups = int(inverse.max()) + 1
    # One exactly solved, nonsingular and feasible basis per float vertex. Qhull's triangulation
    # ('Qt') may add zero-volume simplices; those only need to lie on a verified face (below).
    order = np.argsort(inverse, kind="stable")
    starts = np.searchsorted(inverse[order], np.arange(groups))
    ends = np.append(starts[1:], len(order))
    num = np.zeros((groups, d), dtype=object)
    den = np.ones(groups, dtype=object)
    tight = np.zeros((groups, d + r), dtype=bool)
    done = np.zeros(groups, dtype=bool)
    attempt = 0
    while not done.all():
        pending = np.flatnonzero(~done & (starts + attempt < ends))
        if len(pending) < (~done).sum():
            return None, "a float vertex has no nonsingular qhull basis"
        chosen = order[starts[pending] + attempt]
        n_, q_, t_, v_ = _evaluate_bases(matrix, zero_masks[chosen], row_masks[chosen])
        num[pending], den[pending], tight[pending] = n_, q_, t_
        done[pending] = v_
        attempt += 1
    # every basis, degenerate ones included, must be tight at its group's exact vertex
    if not np.take_along_axis(tight[inverse], simplices, axis=1).all():
        return None, "a qhull basis is not tight at its vertex in exact arithmetic"
    if not _ridges_even(simplices, d + r):
        return None, "qhull's triangulation is not a closed cycle"
    origin = np.zeros(d + r, dtype=bool)
    origin[:d] = True
    at_origin = (np.sort(simplices, axis=1) == np.arange(d)).all(axis=1)
    if int(at_origin.sum()) != 1:
        return None, "the facet of the origin is not covered exactly once"
    return _collect(num, den, _bitmasks(tight), True, "qhull+certificate"), ""


def _collect(num: np.ndarray, den: np.ndarray, masks: list[int], complete: bool, method: str
             ) -> PolytopeVertices:
    seen: dict[tuple[tuple[int, ...], int], int] = {}
    numerators: list[tuple[int, ...]] = []
    denominators: list[int] = []
    tight: list[int] = []
    for row, q, mask in zip(num.tolist(), den.tolist(), masks):
        g = math.gcd(q, *row)
        key = (tuple(v // g for v in row), q // g)
        if key in seen:
            continue
        seen[key] = len(numerators)
        numerators.append(key[0])
        denominators.append(key[1])
        tight.append(mask)
    return PolytopeVertices(numerators, denominators, tight, complete, method)


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
    return _collect(num[keep], den[keep], _bitmasks(tight[keep]), True, "bases")


def count_bases(d: int, r: int) -> int:
    return math.comb(d + r, d)


def polytope_vertices(matrix: np.ndarray, *, tol: float = 1e-9) -> tuple[PolytopeVertices, str]:
    """All vertices of ``{z >= 0, M z <= 1}`` (``M`` positive integers, ``(r, d)``), exactly.

    ``tol`` only groups Qhull's float vertices (how many bases are solved exactly); results are
    exact whatever its value. Returns the vertices and a note on why a certificate failed.
    """
    r, d = matrix.shape
    notes = []
    if count_bases(d, r) > 64:
        for options in (None, "QJ Qbb Q12"):
            found, why = _certified_from_qhull(matrix, options, tol)
            if found is not None:
                return found, ""
            notes.append(why)
    if count_bases(d, r) <= BRUTE_FORCE_LIMIT:
        return _all_bases(matrix), "; ".join(notes)
    # Uncertified: exact vertices from the qhull bases that verify, completeness not proven.
    simplices, _ = _qhull_bases(matrix, "QJ Qbb Q12")
    zero_masks, row_masks = _masks(simplices, d, r)
    num, den, tight, valid = _evaluate_bases(matrix, zero_masks, row_masks)
    keep = np.flatnonzero(valid)
    return (_collect(num[keep], den[keep], _bitmasks(tight[keep]), False, "qhull"),
            "; ".join(notes))
