"""Exact and complete equilibrium enumeration for two-player (bimatrix) games.

Definitions
-----------
For a bimatrix game with row payoffs ``A`` and column payoffs ``B`` (both ``(m, n)``, shifted to be
positive, which changes no equilibrium), the *best-response polytopes* are (von Stengel 2007)

    P = {x in R^m : x >= 0, B^T x <= 1},       Q = {y in R^n : A y <= 1, y >= 0}.

Labels ``0..m-1`` are the row actions, ``m..m+n-1`` the column actions. A point ``x`` of ``P``
has label ``i`` when ``x_i = 0`` and label ``m + j`` when ``(B^T x)_j = 1`` (column ``j`` is a best
response); ``y`` in ``Q`` has label ``i`` when ``(A y)_i = 1`` and ``m + j`` when ``y_j = 0``.
A pair ``(x, y) != (0, 0)`` is *completely labeled* when every label appears at ``x`` or ``y``;
the completely labeled vertex pairs, normalised to sum one, are exactly the *extreme* Nash
equilibria, and every equilibrium is a convex combination of extreme ones lying in a common
maximal convex set (*clique*: a maximal complete bipartite subgraph of the graph that joins
``x`` and ``y`` when ``(x, y)`` is an extreme equilibrium; Avis et al. 2010, section 5).
A game is *degenerate* when some mixed strategy with support size ``k`` has more than ``k`` pure
best responses, i.e. some vertex of ``P`` or ``Q`` has more labels than its dimension.

Methods
-------
:func:`vertex_enumeration` enumerates the vertices of ``P`` and ``Q`` with Qhull (floating point),
proves every vertex and its FULL set of tight constraints (exact integer arithmetic, or for
nondegenerate vertices of float games rigorous floating-point error bounds), proves
the vertex lists complete with a combinatorial certificate (see
``gametools.solvers._polytope``), falls back to exact enumeration of all bases when the
certificate fails, and pairs vertices by label bitmasks. Unlike pairing by Qhull's triangulated
label sets (QuantEcon), this finds every extreme equilibrium of degenerate games too.

:func:`support_enumeration` solves the indifference equations of every pair of equal-size
supports. It finds every equilibrium of a nondegenerate game but can miss equilibria of degenerate
ones (those whose supports differ in size or whose equations are singular), so it never claims a
complete set; it serves as an independent cross-check.

References
----------
- B. von Stengel, "Equilibrium computation for two-player games in strategic and extensive form",
  ch. 3 of Algorithmic Game Theory (Nisan et al., eds.), 2007.
- D. Avis, G. Rosenberg, R. Savani, B. von Stengel, "Enumeration of Nash equilibria for two-player
  games", Economic Theory 42 (2010) 9-37.
- C. B. Barber, D. P. Dobkin, H. Huhdanpaa, "The Quickhull algorithm for convex hulls", ACM TOMS
  22 (1996) (Qhull).

Examples
--------
von Stengel's 3x2 game has three equilibria:

>>> from gametools import NormalFormGame
>>> from gametools.solvers.enumeration import vertex_enumeration
>>> game = NormalFormGame.from_bimatrix([[3, 3], [2, 5], [0, 6]], [[3, 2], [2, 6], [3, 1]])
>>> result = vertex_enumeration(game)
>>> result.complete, result.degenerate, len(result.equilibria)
(True, False, 3)
>>> [[str(v) for v in e.strategies_exact[0]] for e in result.equilibria]
[['1', '0', '0'], ['4/5', '1/5', '0'], ['0', '1/3', '2/3']]
"""

from __future__ import annotations

import functools
import math
import operator
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property
from itertools import combinations
from typing import Any

import numpy as np

from gametools._io import integer_text
from gametools.model import NormalFormGame
from gametools.numerics import integer_array, narrow_integers, solve_indifference
from gametools.solvers._polytope import PolytopeVertices, polytope_vertices
from gametools.solvers.result import (
    Clique,
    Equilibrium,
    SolverResult,
    make_equilibrium,
    two_player_game,
)

__all__ = [
    "support_enumeration",
    "support_enumeration_gen",
    "vertex_enumeration",
    "vertex_enumeration_gen",
]


# ------------------------------------------------------------------------------------------------
# exact game data
# ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Bimatrix:
    game: NormalFormGame                # the game as given
    row: np.ndarray                     # (m, n) positive integers, a positive affine image of A
    column: np.ndarray                  # (m, n) positive integers, a positive affine image of B
    from_floats: bool
    # (scale, offset) per player: payoff = (integer + offset) / scale
    transforms: tuple[tuple[int, int], tuple[int, int]] = ((1, 0), (1, 0))

    @cached_property
    def row_lists(self) -> tuple[list[list[int]], list[list[int]]]:
        """Rows of ``row`` and columns of ``column`` as lists of Python ints."""
        return self.row.tolist(), self.column.T.tolist()  # Python ints from int64 or object

    @cached_property
    def exact_game(self) -> NormalFormGame:
        """The game with exact (Fraction) payoffs; for float games, exactly the floats given."""
        game = self.game
        if not self.from_floats:
            return game
        # Fraction(float) is exact: the game solved is exactly the float game given.
        exact = np.vectorize(Fraction, otypes=[object])(game.payoffs)
        return NormalFormGame(exact, player_labels=game.player_labels,
                              action_labels=game.action_labels, title=game.title)


def _scaled_integers(game: NormalFormGame, player: int) -> tuple[list[int], int]:
    """``scale * payoffs[player]`` as Python ints (flattened), with the least such ``scale``."""
    if game.payoffs_exact is None:
        # every float is n / 2^k exactly: the common denominator is the largest 2^k
        ratios = [v.as_integer_ratio() for v in game.payoffs[player].ravel().tolist()]
        scale = max(d for _, d in ratios)
        return [n * (scale // d) for n, d in ratios], scale
    ints, scale = integer_array(game.payoffs_exact[player])
    return ints.ravel().tolist(), scale


def _float_integers(payoffs: np.ndarray) -> tuple[np.ndarray, int, int] | None:
    """For float payoffs: ``scale * payoffs - low + 1`` with ``scale`` the least power of two
    making every entry an integer and ``low`` the least such integer (int64 below ``2^62``, else
    Python integers, as :func:`narrow_integers` stores them), or None when ``scale * payoffs``
    does not fit int64 (the caller then takes the general route).

    The same numbers as :func:`_scaled_integers` followed by the shift, without a Python loop:
    ``v = s 2^e`` with ``s`` an integer of at most 53 bits, whose trailing zero bits reduce the
    denominator ``2^-e``; multiplying by a power of two is exact in float64.
    """
    values = payoffs.ravel()
    mantissa, exponent = np.frexp(values)
    significand = (mantissa * 2.0 ** 53).astype(np.int64)          # exact: |mantissa| < 1
    lowest = significand & -significand                               # lowest set bit
    trailing = np.frexp(lowest.astype(float))[1] - 1
    needed = np.where(significand != 0, 53 - exponent - trailing, 0)
    power = max(int(needed.max(initial=0)), 0)
    if power > 1000:  # a tiny entry: 2^power is no float; the Python route handles it
        return None
    scaled = values * 2.0 ** power                                    # exact integers
    high, low = float(scaled.max()), float(scaled.min())
    if max(abs(high), abs(low)) >= 2.0 ** 63:
        return None
    integers = scaled.astype(np.int64)
    low_int = int(integers.min())
    if high - low + 1 < 2.0 ** 62:
        shifted = integers - low_int + 1
    else:  # as narrow_integers: Python integers from 2^62
        shifted = np.array([v - low_int + 1 for v in integers.tolist()], dtype=object)
    return shifted.reshape(payoffs.shape), 1 << power, low_int


def _shifted(integers: np.ndarray) -> tuple[np.ndarray, int]:
    """``integers - low + 1`` (int64 below 2^62, else Python integers, as
    :func:`narrow_integers` stores them) and ``low``, for an int64 array."""
    low = int(integers.min())
    if int(integers.max()) - low + 1 < 2 ** 62:
        return integers - low + 1, low
    return np.array([v - low + 1 for v in integers.ravel().tolist()],
                    dtype=object).reshape(integers.shape), low


def _exact_bimatrix(game: NormalFormGame) -> _Bimatrix:
    integers = game.integer_payoffs
    if integers is not None:  # integer arrays: no Fraction is read
        (row, row_low), (column, column_low) = _shifted(integers[0]), _shifted(integers[1])
        return _Bimatrix(game, row, column, False, ((1, row_low - 1), (1, column_low - 1)))
    if game.payoffs_exact is None:
        first, second = (_float_integers(game.payoffs[player]) for player in range(2))
        if first is not None and second is not None:
            (row, row_scale, row_low), (column, column_scale, column_low) = first, second
            return _Bimatrix(game, row, column, True,
                             ((row_scale, row_low - 1), (column_scale, column_low - 1)))
    integer = []
    transforms = []
    for player in range(2):
        ints, scale = _scaled_integers(game, player)
        low = min(ints)
        shifted = np.array([v - low + 1 for v in ints], dtype=object).reshape(game.num_actions)
        integer.append(narrow_integers(shifted))
        transforms.append((scale, low - 1))
    return _Bimatrix(game, integer[0], integer[1], game.payoffs_exact is None,
                     (transforms[0], transforms[1]))


# ------------------------------------------------------------------------------------------------
# vertex enumeration
# ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Enumeration:
    bimatrix: _Bimatrix
    pairs: list[tuple[int, int]]                  # indices into row/column vertex lists
    row_vertices: list[tuple[Fraction, ...]]      # normalised, only those in equilibria
    column_vertices: list[tuple[Fraction, ...]]
    row_integers: list[_Strategy]                 # the same strategies as integers
    column_integers: list[_Strategy]
    complete: bool
    degenerate: bool
    counts: tuple[int, int]
    notes: str


def _game_labels(vertices: PolytopeVertices, own_first: bool) -> np.ndarray:
    """Polytope tight sets (coordinates, then rows) as game labels, shape ``(V, m + n)``.

    ``P``'s coordinates are the row actions (labels first); ``Q``'s are the column actions, so
    its rows (the row actions) come first.
    """
    tight = vertices.tight_array
    if own_first:
        return tight
    dim = vertices.dimension
    return np.concatenate([tight[:, dim:], tight[:, :dim]], axis=1)


#: A mixed strategy ``numerators / total`` with ``gcd(numerators..., total) == 1`` (unique).
_Strategy = tuple[tuple[int, ...], int]


def _exact_strategies(vertices: PolytopeVertices, indices: list[int]) -> dict[int, _Strategy]:
    """Normalised exact strategies of the chosen vertices, as integers, by index."""
    out: dict[int, _Strategy] = {}
    if not indices:
        return out
    for k, (values, _) in zip(indices, vertices.exact_lists(indices)):
        total = sum(values)
        g = math.gcd(total, *values)
        out[k] = (tuple([v // g for v in values]), total // g)
    return out


_ZERO = Fraction(0)


def _fractions(strategy: _Strategy) -> tuple[Fraction, ...]:
    numerators, total = strategy
    # zeros share one object (most coordinates of a small support are zero)
    return tuple(Fraction(v, total) if v else _ZERO for v in numerators)


def _compare(first: _Strategy, second: _Strategy) -> int:
    """Lexicographic comparison of the exact strategies ``a / A`` and ``b / B`` (integers only:
    ``a_i / A < b_i / B`` iff ``a_i B < b_i A``)."""
    (a, a_total), (b, b_total) = first, second
    for x, y in zip(a, b):
        left, right = x * b_total, y * a_total
        if left != right:
            return -1 if left < right else 1
    return 0


def _sorted_strategies(strategies: dict[int, _Strategy]
                       ) -> tuple[list[_Strategy], list[tuple[Fraction, ...]]]:
    """Distinct strategies in descending order of their exact values, with their Fractions."""
    order = sorted(set(strategies.values()), key=functools.cmp_to_key(_compare), reverse=True)
    return order, [_fractions(key) for key in order]


def _strategy_text(strategy: _Strategy) -> list[str]:
    """``"p/q"`` text of each coordinate (as :func:`fraction_text`, from the integers)."""
    numerators, total = strategy
    out = []
    for v in numerators:
        if not v:
            out.append("0")
            continue
        g = math.gcd(v, total)
        q = total // g
        out.append(integer_text(v // g) if q == 1 else f"{integer_text(v // g)}/{integer_text(q)}")
    return out


def _enumerate(game: NormalFormGame, tol: float) -> _Enumeration:
    data = _exact_bimatrix(game)
    m, n = game.num_actions
    p_vertices, p_note = polytope_vertices(data.column.T, tol=tol)   # x: B^T x <= 1
    q_vertices, q_note = polytope_vertices(data.row, tol=tol)        # y: A y <= 1
    if p_vertices.simple_keys is not None and q_vertices.simple_keys is not None:
        # every vertex proved nondegenerate: the game is nondegenerate and each vertex's labels
        # are its basis, so only exact complements pair (one dictionary lookup per vertex)
        pairs_raw = _match_simple(p_vertices.simple_keys, q_vertices.simple_keys, m, n)
        return _collect_pairs(data, p_vertices, q_vertices, pairs_raw, True, False, "")
    if p_vertices.tight_keys is not None and q_vertices.tight_keys is not None:
        pairs_raw, degenerate = _match_keys(p_vertices, q_vertices, m, n)
        notes = "; ".join(f"{who}: {note}" for who, note in (("P", p_note), ("Q", q_note))
                          if note)
        return _collect_pairs(data, p_vertices, q_vertices, pairs_raw,
                              p_vertices.complete and q_vertices.complete, degenerate, notes)
    p_labels = _game_labels(p_vertices, True)
    q_labels = _game_labels(q_vertices, False)
    p_count, q_count = p_labels.sum(axis=1), q_labels.sum(axis=1)
    degenerate = bool((p_count > m).any() or (q_count > n).any())
    # z = 0 exactly when every coordinate constraint is tight (tight sets are exact)
    p_nonzero = ~p_vertices.tight_array[:, :m].all(axis=1)
    q_nonzero = ~q_vertices.tight_array[:, :n].all(axis=1)
    # Both nondegenerate: the partner's labels are exactly the complement (hash lookup). A pair
    # with a degenerate side (more labels than its dimension) is matched by bitmask supersets.
    p_plain = np.flatnonzero(p_nonzero & (p_count <= m))
    q_plain = np.flatnonzero(q_nonzero & (q_count <= n))
    p_degenerate = np.flatnonzero(p_nonzero & (p_count > m))
    q_degenerate = np.flatnonzero(q_nonzero & (q_count > n))
    pairs_raw = _match_complements(p_labels[p_plain], q_labels[q_plain])
    pairs_raw = [(int(p_plain[a]), int(q_plain[b])) for a, b in pairs_raw]
    for p_side, q_side in ((p_degenerate, np.flatnonzero(q_nonzero)), (p_plain, q_degenerate)):
        matched = _match_supersets(p_labels[p_side], q_labels[q_side])
        pairs_raw += [(int(p_side[a]), int(q_side[b])) for a, b in matched]
    notes = "; ".join(f"{who}: {note}" for who, note in (("P", p_note), ("Q", q_note)) if note)
    return _collect_pairs(data, p_vertices, q_vertices, pairs_raw,
                          p_vertices.complete and q_vertices.complete, degenerate, notes)


def _collect_pairs(data: _Bimatrix, p_vertices: PolytopeVertices, q_vertices: PolytopeVertices,
                   pairs_raw: list[tuple[int, int]], complete: bool, degenerate: bool,
                   notes: str) -> _Enumeration:
    """The enumeration from the completely labeled vertex pairs (indices into both lists)."""
    # distinct strategies, sorted so the output order does not depend on Qhull's
    # exact coordinates only of the vertices in equilibria (the others may be known only by
    # their proved tight sets)
    p_strategies = _exact_strategies(p_vertices, sorted({a for a, _ in pairs_raw}))
    q_strategies = _exact_strategies(q_vertices, sorted({b for _, b in pairs_raw}))
    row_integers, rows = _sorted_strategies(p_strategies)
    column_integers, cols = _sorted_strategies(q_strategies)
    row_index = {v: i for i, v in enumerate(row_integers)}
    col_index = {v: i for i, v in enumerate(column_integers)}
    pairs = sorted({(row_index[p_strategies[a]], col_index[q_strategies[b]])
                    for a, b in pairs_raw})
    return _Enumeration(data, pairs, rows, cols, row_integers, column_integers, complete,
                        degenerate, (len(p_vertices.tight_array), len(q_vertices.tight_array)),
                        notes)


def _match_keys(p_vertices: PolytopeVertices, q_vertices: PolytopeVertices, m: int, n: int
                ) -> tuple[list[tuple[int, int]], bool]:
    """Completely labeled pairs (``P`` vertex, ``Q`` vertex), neither the origin, from the
    tight-set keys, and whether the game is degenerate (a vertex with more labels than its
    dimension). A pair is completely labeled when its label sets cover every label; ``Q``'s
    keys are rotated into game labels as in :func:`_match_simple`."""
    assert p_vertices.tight_keys is not None and q_vertices.tight_keys is not None
    p_keys, q_keys = p_vertices.tight_keys, q_vertices.tight_keys
    degenerate = bool((p_vertices.tight_array.sum(axis=1) > m).any() or
                      (q_vertices.tight_array.sum(axis=1) > n).any())
    p_origin, q_origin = (1 << m) - 1, (1 << n) - 1
    # z = 0 exactly when every coordinate constraint is tight
    p_side = np.flatnonzero((p_keys & p_origin) != p_origin)
    q_side = np.flatnonzero((q_keys & q_origin) != q_origin)
    q_labels = ((q_keys[q_side] & q_origin) << m) | (q_keys[q_side] >> n)
    matched = _match_words(((1 << (m + n)) - 1) ^ p_keys[p_side], q_labels)
    return [(int(p_side[a]), int(q_side[b])) for a, b in matched], degenerate


def _match_words(needed: np.ndarray, have: np.ndarray) -> list[tuple[int, int]]:
    """All ``(a, b)`` with every bit of ``needed[a]`` set in ``have[b]`` (integer bitmasks)."""
    out: list[tuple[int, int]] = []
    if not len(needed) or not len(have):
        return out
    chunk = max(1, 4_000_000 // len(have))
    for start in range(0, len(needed), chunk):
        need = needed[start:start + chunk, None]
        a, b = np.nonzero((have[None, :] & need) == need)
        out.extend(zip((a + start).tolist(), b.tolist()))
    return out


def _match_simple(p_keys: np.ndarray, q_keys: np.ndarray, m: int, n: int
                  ) -> list[tuple[int, int]]:
    """Completely labeled pairs of two lists of nondegenerate vertices, by their tight-set keys.

    ``P``'s constraints are numbered as the game labels (row actions, then columns); ``Q``'s
    coordinates are the column actions and its rows the row actions, so its keys are rotated
    into game labels. The pair of origins is the only completely labeled pair that is not an
    equilibrium (the origin's labels are all of one player's actions, whose complement is the
    other origin), so it is left out.
    """
    labels = (((q_keys & ((1 << n) - 1)) << m) | (q_keys >> n)).tolist()
    lookup = dict(zip(labels, range(len(labels))))
    full, origin = (1 << (m + n)) - 1, (1 << m) - 1
    out = []
    for a, key in enumerate(p_keys.tolist()):
        b = lookup.get(full ^ key)
        if b is not None and key != origin:
            out.append((a, b))
    return out


def _label_words(labels: np.ndarray) -> np.ndarray:
    """Boolean label sets ``(V, L)`` as one uint64 bitmask each (``L <= 64``), shape (V,)."""
    weights = np.left_shift(np.uint64(1), np.arange(labels.shape[1], dtype=np.uint64))
    return (labels.astype(np.uint64) * weights).sum(axis=1, dtype=np.uint64)


def _match_complements(p_labels: np.ndarray, q_labels: np.ndarray) -> list[tuple[int, int]]:
    """All ``(a, b)`` with ``q_labels[b]`` exactly the complement of ``p_labels[a]``.

    Nondegenerate vertices are determined by their label sets, so each ``a`` has at most one
    partner.
    """
    if not len(p_labels) or not len(q_labels):
        return []
    if p_labels.shape[1] <= 64:
        wanted, keys = _label_words(~p_labels), _label_words(q_labels)
        order = np.argsort(keys)
        position = np.minimum(np.searchsorted(keys[order], wanted), len(keys) - 1)
        hit = keys[order][position] == wanted
        return list(zip(np.flatnonzero(hit).tolist(), order[position[hit]].tolist()))
    lookup = {key.tobytes(): k for k, key in enumerate(np.packbits(q_labels, axis=1))}
    wanted_bytes = [key.tobytes() for key in np.packbits(~p_labels, axis=1)]
    return [(a, lookup[key]) for a, key in enumerate(wanted_bytes) if key in lookup]


def _match_supersets(p_labels: np.ndarray, q_labels: np.ndarray) -> list[tuple[int, int]]:
    """All ``(a, b)`` with ``p_labels[a] | q_labels[b]`` covering every label (vectorised).

    ``p_labels`` ``(Vp, L)`` and ``q_labels`` ``(Vq, L)`` are boolean label sets.
    """
    if not len(p_labels) or not len(q_labels):
        return []
    if p_labels.shape[1] <= 64:
        return _match_words(_label_words(~p_labels), _label_words(q_labels))
    q_words = np.packbits(q_labels, axis=1)
    needed = np.packbits(~p_labels, axis=1)                        # (Vp, W), padding bits 0
    result: list[tuple[int, int]] = []
    chunk = max(1, 4_000_000 // max(1, q_words.size))
    for start in range(0, len(needed), chunk):
        need = needed[start:start + chunk, None, :]
        ok = ((q_words[None, :, :] & need) == need).all(axis=2)
        a, b = np.nonzero(ok)
        result.extend(zip((a + start).tolist(), b.tolist()))
    return result


def _maximal_bicliques(pairs: list[tuple[int, int]]) -> list[tuple[tuple[int, ...],
                                                                     tuple[int, ...]]]:
    """Maximal complete bipartite subgraphs (closed pairs ``X = N(Y)``, ``Y = N(X)``)."""
    neighbours_row: dict[int, int] = {}
    neighbours_col: dict[int, int] = {}
    for a, b in pairs:
        neighbours_row[a] = neighbours_row.get(a, 0) | (1 << b)
        neighbours_col[b] = neighbours_col.get(b, 0) | (1 << a)
    # Column sets closed under intersection, seeded with each row's neighbourhood.
    closed = set(neighbours_row.values())
    frontier = list(closed)
    while frontier:
        new = []
        for left in frontier:
            for right in list(closed):
                meet = left & right
                if meet and meet not in closed:
                    closed.add(meet)
                    new.append(meet)
        frontier = new
    out = []
    for cols in closed:
        rows_mask = ~0
        for b in _bits(cols):
            rows_mask &= neighbours_col[b]
        out.append((tuple(_bits(rows_mask)), tuple(_bits(cols))))
    return sorted(set(out))


def _bits(mask: int) -> list[int]:
    out, k = [], 0
    while mask:
        if mask & 1:
            out.append(k)
        mask >>= 1
        k += 1
    return out


def _certified(data: _Bimatrix, row: _Strategy, column: _Strategy,
               row_fractions: tuple[Fraction, ...], column_fractions: tuple[Fraction, ...]
               ) -> Equilibrium:
    """Certify ``(row, column)`` as an exact equilibrium in integer arithmetic.

    With ``x = p / P`` and ``y = q / Q`` and ``A'``, ``B'`` the positive integer images of the
    payoffs, ``(x, y)`` is an equilibrium iff ``max(A' q) P = p . A' q`` and
    ``max(p B') Q = p B' q`` (exact regret 0 for both players; a positive affine change keeps
    best responses). The products run in Python integers; the payoffs are mapped back exactly.
    """
    (p, p_den), (q, q_den) = row, column
    # plain Python integers: exact whatever the size, and for the few equilibria of a small
    # game cheaper than NumPy object arrays
    row_rows, column_columns = data.row_lists
    row_values = [sum(map(operator.mul, entries, q)) for entries in row_rows]
    column_values = [sum(map(operator.mul, entries, p)) for entries in column_columns]
    row_value = sum(map(operator.mul, p, row_values))
    column_value = sum(map(operator.mul, q, column_values))
    if max(row_values) * p_den != row_value or max(column_values) * q_den != column_value:
        # an internal error, never a property of the input
        raise AssertionError("an enumerated equilibrium failed its exact certificate")
    (row_scale, row_offset), (column_scale, column_offset) = data.transforms
    total = p_den * q_den
    # (value / total + offset) / scale, as one Fraction each
    payoffs_exact = (Fraction(row_value + row_offset * total, total * row_scale),
                     Fraction(column_value + column_offset * total, total * column_scale))
    floats = (np.array([v / p_den for v in p]), np.array([v / q_den for v in q]))
    payoffs = np.array([float(v) for v in payoffs_exact])
    for array in (*floats, payoffs):
        array.flags.writeable = False
    return Equilibrium(floats, payoffs, 0.0, (row_fractions, column_fractions), payoffs_exact)


def _certified_pair(found: _Enumeration, a: int, b: int) -> Equilibrium:
    return _certified(found.bimatrix, found.row_integers[a], found.column_integers[b],
                      found.row_vertices[a], found.column_vertices[b])


def vertex_enumeration_gen(game: Any, *, tol: float = 1e-9) -> Iterator[Equilibrium]:
    """Generator twin of :func:`vertex_enumeration`: yields each extreme equilibrium.

    The vertex lists are computed (and certified) before the first equilibrium is yielded; only
    the per-equilibrium certification is lazy. Use :func:`vertex_enumeration` for the
    completeness flag, the degeneracy flag and the cliques.

    Yields
    ------
    Equilibrium
        Exact (``strategies_exact`` set), with exact regret 0.
    """
    game = two_player_game(game, "vertex_enumeration")
    found = _enumerate(game, tol)
    for a, b in found.pairs:
        yield _certified_pair(found, a, b)


def vertex_enumeration(game: Any, *, tol: float = 1e-9) -> SolverResult:
    """All extreme Nash equilibria of a two-player game, exactly, with the maximal convex sets.

    Parameters
    ----------
    game : NormalFormGame (2 players) or nashpy.Game
        Exact (integer / rational) payoffs are used as given. Float payoffs are converted to the
        exact rationals they represent (``Fraction(float)`` is exact), so the equilibria are
        those of exactly the float game given, certified in rational arithmetic. For float
        games (integers too large for int64 proofs) the vertices of the best-response
        polytopes are proved by rigorous floating-point error bounds where they are
        nondegenerate and well conditioned (tight set proved equal to the basis, nonsingularity
        and strict slacks with every rounding error bounded) and by exact rational elimination
        otherwise; the completeness certificate, the label sets used for pairing and every
        returned equilibrium (exact coordinates, exact regret 0) are then exact statements
        about the float game, as for integer games.
    tol : float
        Only groups Qhull's floating-point vertices before they are recomputed exactly; it
        affects speed, never the result.

    Returns
    -------
    SolverResult
        ``equilibria``: every extreme equilibrium once, each with ``strategies_exact`` and exact
        regret 0, sorted by row strategy then column strategy (descending). ``complete`` is True
        when both vertex lists were proved complete (always, except for games too large for the
        exact fallback after a failed certificate; ``message`` then says so). ``degenerate`` as
        defined in the module docstring. ``cliques``: the maximal convex sets of equilibria;
        their indices refer to ``extra["row_vertices"]`` and ``extra["column_vertices"]``
        (distinct extreme strategies as lists of ``"p/q"`` strings) and to ``equilibria``.
        ``extra["vertex_counts"]``: the numbers of vertices of ``P`` and ``Q``;
        ``extra["float_payoffs"]``: whether the payoffs were converted from floats.

    Raises
    ------
    GameValidationError
        If the game does not have two players.
    TypeError
        If ``game`` is not a game.
    """
    game = two_player_game(game, "vertex_enumeration")
    found = _enumerate(game, tol)
    equilibria = tuple(_certified_pair(found, a, b) for a, b in found.pairs)
    index = {pair: k for k, pair in enumerate(found.pairs)}
    cliques = tuple(
        Clique(rows, cols, tuple(sorted(index[(a, b)] for a in rows for b in cols)))
        for rows, cols in _maximal_bicliques(found.pairs))
    message = "complete: vertex lists certified" if found.complete else \
        "INCOMPLETE: the vertex lists could not be certified (" + found.notes + ")"
    if found.bimatrix.from_floats:
        message += "; float payoffs solved as their exact rational values"
    return SolverResult(
        equilibria=equilibria, method="vertex", status="success",
        complete=found.complete, exact=True, degenerate=found.degenerate,
        iterations=sum(found.counts), message=message, cliques=cliques,
        extra={"row_vertices": [_strategy_text(x) for x in found.row_integers],
               "column_vertices": [_strategy_text(y) for y in found.column_integers],
               "vertex_counts": list(found.counts),
               "float_payoffs": found.bimatrix.from_floats})


# ------------------------------------------------------------------------------------------------
# support enumeration
# ------------------------------------------------------------------------------------------------

def _indifference_batch(payoff: np.ndarray, own: np.ndarray, other: np.ndarray
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Solve ``payoff[own][:, other] s = v 1, sum(s) = 1`` for a batch of support pairs.

    Parameters
    ----------
    payoff : ndarray, shape (n_own, n_other)
    own, other : ndarray of int, shape (K, k)

    Returns
    -------
    strategies : ndarray, shape (K, k)
        On ``other`` (NaN where singular).
    values : ndarray, shape (K,)
    """
    count, k = own.shape
    system = np.zeros((count, k + 1, k + 1))
    system[:, :k, :k] = payoff[own[:, :, None], other[:, None, :]]
    system[:, :k, k] = -1.0
    system[:, k, :k] = 1.0
    rhs = np.zeros((count, k + 1))
    rhs[:, k] = 1.0
    scale = np.abs(system).max(axis=(1, 2))
    regular = np.abs(np.linalg.det(system / scale[:, None, None])) > 1e-12
    out = np.full((count, k + 1), np.nan)
    if regular.any():
        out[regular] = np.linalg.solve(system[regular], rhs[regular][..., None])[..., 0]
    return out[:, :k], out[:, k]


def _solve_exact_support(payoff: np.ndarray, own: tuple[int, ...], other: tuple[int, ...]
                         ) -> list[Fraction] | None:
    """Exact strategy on ``other`` making the rows ``own`` indifferent, or None if singular."""
    block, _ = integer_array(payoff[np.ix_(own, other)])
    solution = solve_indifference(block)
    return None if solution is None else solution[0]

def support_enumeration_gen(game: Any, *, tol: float = 1e-9) -> Iterator[Equilibrium]:
    """Generator twin of :func:`support_enumeration`."""
    game = two_player_game(game, "support_enumeration")
    yield from _support_enumeration(game, tol, {})


def _support_enumeration(game: NormalFormGame, tol: float, stats: dict[str, Any]
                         ) -> Iterator[Equilibrium]:
    data = _exact_bimatrix(game)
    exact = data.exact_game.payoffs_exact
    assert exact is not None  # _exact_bimatrix always builds an exact game
    m, n = game.num_actions
    a, b = game.payoffs[0], game.payoffs[1]
    scale = game.payoff_range()
    stats.setdefault("rejected", 0)
    stats.setdefault("degenerate", False)
    seen: set[tuple[tuple[Fraction, ...], ...]] = set()
    for k in range(1, min(m, n) + 1):
        rows_all = np.array(list(combinations(range(m), k)), dtype=np.int64)
        cols_all = np.array(list(combinations(range(n), k)), dtype=np.int64)
        per_chunk = max(1, 200_000 // (len(cols_all) * (k + 1) ** 2))
        for start in range(0, len(rows_all), per_chunk):
            rows = np.repeat(rows_all[start:start + per_chunk], len(cols_all), axis=0)
            cols = np.tile(cols_all, (min(per_chunk, len(rows_all) - start), 1))
            y, u = _indifference_batch(a, rows, cols)            # column strategy on cols
            x, v = _indifference_batch(b.T, cols, rows)          # row strategy on rows
            ok = np.isfinite(u) & np.isfinite(v) & (y >= -tol).all(1) & (x >= -tol).all(1)
            if not ok.any():
                continue
            idx = np.flatnonzero(ok)
            y_full = np.zeros((len(idx), n))
            np.put_along_axis(y_full, cols[idx], y[idx], axis=1)
            x_full = np.zeros((len(idx), m))
            np.put_along_axis(x_full, rows[idx], x[idx], axis=1)
            best_row = (y_full @ a.T <= u[idx, None] + tol * scale).all(1)
            best_col = (x_full @ b <= v[idx, None] + tol * scale).all(1)
            for c in idx[best_row & best_col]:
                equilibrium = _exact_support_equilibrium(data, exact, rows[c], cols[c])
                if equilibrium is None:
                    stats["rejected"] += 1
                    continue
                key = equilibrium.strategies_exact
                if key is None or key in seen:
                    continue
                seen.add(key)
                support_sizes = k
                best_responses = max(int((np.abs(game.action_payoffs(equilibrium.strategies)[i]
                                                 - equilibrium.payoffs[i]) <= tol * scale).sum())
                                     for i in range(2))
                if best_responses > support_sizes:
                    stats["degenerate"] = True
                yield equilibrium


def _exact_support_equilibrium(data: _Bimatrix, exact: np.ndarray, rows: np.ndarray,
                               cols: np.ndarray) -> Equilibrium | None:
    m, n = data.exact_game.num_actions
    rows_t, cols_t = tuple(int(i) for i in rows), tuple(int(j) for j in cols)
    y_part = _solve_exact_support(exact[0], rows_t, cols_t)
    x_part = _solve_exact_support(exact[1].T, cols_t, rows_t)
    if y_part is None or x_part is None or min(y_part) < 0 or min(x_part) < 0:
        return None
    x = [Fraction(0)] * m
    y = [Fraction(0)] * n
    for i, value in zip(rows_t, x_part):
        x[i] = value
    for j, value in zip(cols_t, y_part):
        y[j] = value
    equilibrium = make_equilibrium(data.exact_game, (tuple(x), tuple(y)), exact=True)
    return equilibrium if equilibrium.regret == 0 else None


def support_enumeration(game: Any, *, tol: float = 1e-9) -> SolverResult:
    """Equilibria of a two-player game from all pairs of equal-size supports.

    For every pair of supports of equal size ``k`` the indifference equations are solved in
    floating point (batched); candidates within ``tol`` of being an equilibrium are then solved
    and certified exactly (rationals), so every returned profile is exact with regret 0.

    What it misses: on a *nondegenerate* game it finds every equilibrium. On a degenerate game
    it can miss equilibria whose supports have different sizes or whose indifference systems are
    singular (e.g. every equilibrium of a continuum except pure ones), and may return
    non-extreme points of a continuum. It therefore never claims ``complete=True``; use
    :func:`vertex_enumeration` for the certified complete set.

    Parameters
    ----------
    game : NormalFormGame (2 players) or nashpy.Game
    tol : float
        Float feasibility / best-response tolerance for candidates, relative to the payoff range.

    Returns
    -------
    SolverResult
        ``complete=False``; ``degenerate=True`` when an equilibrium found has more pure best
        responses than its support size, else None (not established);
        ``extra["rejected_candidates"]``: float candidates that failed the exact check.
    """
    game = two_player_game(game, "support_enumeration")
    stats: dict[str, Any] = {}
    equilibria = tuple(_support_enumeration(game, tol, stats))
    return SolverResult(
        equilibria=equilibria, method="support", status="success", complete=False,
        exact=True, degenerate=True if stats.get("degenerate") else None,
        message="equal-size supports: complete only for nondegenerate games (not checked)",
        extra={"rejected_candidates": int(stats.get("rejected", 0))})
