"""Finite extensive-form games held in flat arrays.

Definitions
-----------
A finite extensive-form game is a rooted tree. Every non-terminal node is a *decision node* of
one of the ``N`` players or a *chance node*; its outgoing edges are its actions. Decision nodes
are partitioned into *information sets* (infosets): the nodes of one infoset belong to one
player, have the same number of actions, and the player cannot tell them apart. Chance nodes
carry a probability for each outgoing edge. Every terminal node pays each player a payoff.
Simultaneous moves are information sets: the second mover's infoset holds every node the first
mover's actions lead to.

Player ``i`` has *perfect recall* when all nodes of each of its infosets share the same history
of its own (infoset, action) pairs. Its *sequences* are the empty sequence and the pairs
``(I, a)`` with ``I`` one of its infosets; with perfect recall every node has a well-defined
last own sequence, and the infosets form a tree under "``J`` follows sequence ``(I, a)``"
(von Stengel 1996). All exact computations of :mod:`gametools.extensive` (best responses,
NashConv, CFR, the sequence-form LP) run over terminals and these sequence trees, level by
level; no Python recursion visits histories.

Layout
------
``V`` nodes in breadth-first order: node 0 is the root, the children of a node are contiguous
and ordered by action, and children of lower-numbered nodes come first (so ``parent`` is
non-decreasing). Arrays (integers stored in the narrowest type that holds them: 32-bit node
and infoset ids, 8-bit players):

- ``parent`` ``(V,)``: parent node (``-1`` for the root), ``parent[v] < v``;
- ``player`` ``(V,)``: ``0 .. N-1`` for a decision node, :data:`CHANCE` (``-1``) for a chance
  node, :data:`TERMINAL` (``-2``) for a leaf;
- ``infoset`` ``(V,)``: the infoset of a decision node (``0 .. I-1``), ``-1`` elsewhere;
- ``chance_probabilities`` ``(V,)``: probability of the edge into ``v`` when its parent is a
  chance node (``1.0`` elsewhere);
- ``payoffs`` ``(N, Z)``: payoffs at the ``Z`` terminal nodes, in increasing node order
  (``terminals``).

Derived (read-only): ``first_child``/``num_children`` per node, ``infoset_player``,
``infoset_num_actions``, ``infoset_offset`` (the position of an infoset's first action in its
player's flat policy vector), ``num_sequences`` and per-terminal own sequences.

A *behaviour profile* is one flat vector per player: the concatenation, over the player's
infosets in increasing id, of the action distributions. ``game.uniform_profile()`` builds one;
``game.infoset_slice(I)`` gives an infoset's slice.

References
----------
- B. von Stengel, "Efficient computation of behavior strategies", GEB 14 (1996).
- D. Koller, N. Megiddo and B. von Stengel, "Efficient computation of equilibria for extensive
  two-person games", GEB 14 (1996).

Examples
--------
Matching pennies with player 2 moving second without seeing player 1's move:

>>> from gametools.extensive import TreeBuilder
>>> tree = TreeBuilder(num_players=2)
>>> root = tree.decision(None, player=0, infoset="P1", actions=("H", "T"))
>>> for a in range(2):
...     node = tree.decision((root, a), player=1, infoset="P2", actions=("h", "t"))
...     for b in range(2):
...         u = 1 if a == b else -1
...         _ = tree.terminal((node, b), payoffs=(u, -u))
>>> game = tree.build(title="pennies")
>>> game.num_nodes, game.num_infosets, game.perfect_recall
(7, 2, (True, True))
>>> [float(v) for v in game.expected_payoffs(game.uniform_profile())]
[0.0, 0.0]
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from gametools.errors import GameValidationError, UnsupportedGameError

__all__ = [
    "CHANCE",
    "PROBABILITY_TOLERANCE",
    "TERMINAL",
    "ExtensiveGame",
    "ImperfectRecallError",
    "LabelColumn",
    "TreeBuilder",
]

CHANCE = -1
TERMINAL = -2

#: Absolute tolerance on chance probabilities summing to one (never renormalised).
PROBABILITY_TOLERANCE = 1e-9

#: Largest tree accepted (nodes); larger trees are refused before anything is allocated.
MAX_NODES = 200_000_000


class ImperfectRecallError(UnsupportedGameError):
    """A method needs perfect recall and some player of the game forgets (message names it)."""


def _readonly(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


def _int_array(name: str, values: Any, size: int | None = None) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1:
        raise GameValidationError(name, "must be one-dimensional", None, array.shape)
    if array.size and not np.issubdtype(array.dtype, np.integer):
        raise GameValidationError(name, "must hold integers", None, str(array.dtype))
    if size is not None and array.size != size:
        raise GameValidationError(name, f"must have one entry per node ({size})", None,
                                  array.size)
    # a private copy (the game's arrays cannot change under it), narrow integer types kept
    # (a tree of millions of nodes is checked without 64-bit copies of 8- and 32-bit arrays)
    if array.dtype in (np.int8, np.int16, np.int32):
        return array.copy()
    return array.astype(np.int64)


@dataclass(frozen=True, eq=False, init=False)
class ExtensiveGame:
    """A finite extensive-form game (layout in the module docstring).

    Parameters
    ----------
    num_players : int
    parent, player, infoset : array_like of int, shape (V,)
    chance_probabilities : array_like of float, shape (V,)
    payoffs : array_like, shape (N, Z)
        Floats, or exact numbers (ints, Fractions, decimal strings), which are then kept in
        ``payoffs_exact``.
    chance_exact : sequence of Fraction, optional
        Exact chance probabilities per node (``1`` where the parent is not chance); checked to
        sum to exactly one.
    title, player_labels, infoset_labels, action_labels, node_labels, chance_labels
        Optional labels: ``action_labels`` one tuple per infoset, ``chance_labels`` one label per
        node for the edge from a chance parent (empty elsewhere). Duplicates are allowed.
    chance_infoset : array_like of int, shape (V,), optional
        Chance "infoset" ids (Gambit numbers chance moves); kept only for writing files.
    outcomes : array_like of int, shape (Z,), optional
        Each terminal's column in ``payoffs``, which then holds one column per distinct
        outcome ``(N, K)`` (large trees repeat a few outcomes: they are checked and converted
        once each).

    Raises
    ------
    GameValidationError
        Naming the array, index and rule: a malformed tree, an infoset whose nodes differ in
        player or number of actions, chance probabilities off the simplex, non-finite payoffs.
    """

    num_players: int
    parent: np.ndarray
    player: np.ndarray
    infoset: np.ndarray
    chance_probabilities: np.ndarray
    payoffs: np.ndarray
    _exact_payoffs: Any  # None, an (N, Z) array, or (an (N, K) table, (Z,) columns)
    chance_exact: tuple[Fraction, ...] | None
    first_child: np.ndarray
    num_children: np.ndarray
    terminals: np.ndarray
    infoset_player: np.ndarray
    infoset_num_actions: np.ndarray
    infoset_offset: np.ndarray
    infoset_node: np.ndarray
    title: str
    player_labels: tuple[str, ...]
    infoset_labels: tuple[str, ...]
    action_labels: tuple[tuple[str, ...], ...]
    node_labels: LabelColumn
    chance_labels: LabelColumn
    chance_infoset: np.ndarray
    _sequences: _SequenceData | None

    def __init__(self, num_players: int, parent: Any, player: Any, infoset: Any,
                 chance_probabilities: Any, payoffs: Any, *,
                 chance_exact: Sequence[Fraction] | None = None, title: str = "",
                 player_labels: Sequence[str] | None = None,
                 infoset_labels: Sequence[str] | None = None,
                 action_labels: Sequence[Sequence[str]] | None = None,
                 node_labels: Sequence[str] | None = None,
                 chance_labels: Sequence[str] | None = None,
                 chance_infoset: Any = None, outcomes: Any = None) -> None:
        if isinstance(num_players, bool) or not isinstance(num_players, (int, np.integer)) \
                or num_players < 1:
            raise GameValidationError("num_players", "must be a positive integer", None,
                                      num_players)
        num_players = int(num_players)
        parent_a = _int_array("parent", parent)
        size = parent_a.size
        if size == 0:
            raise GameValidationError("parent", "the tree needs at least one node (the root)")
        if size > MAX_NODES:
            raise GameValidationError("parent", f"at most {MAX_NODES} nodes are supported",
                                      None, size)
        player_a = _int_array("player", player, size)
        infoset_a = _int_array("infoset", infoset, size)
        self._check_tree(parent_a)
        # node indices fit 32 bits below MAX_NODES: the derived per-node arrays use them
        num_children = np.bincount(parent_a[1:], minlength=size).astype(np.int32)
        first_child = np.searchsorted(parent_a[1:], np.arange(size)).astype(np.int32) + 1
        first_child[num_children == 0] = -1
        self._check_players(player_a, num_children, num_players)
        infoset_player, infoset_num_actions, infoset_node = self._check_infosets(
            infoset_a, player_a, num_children)
        probabilities = np.asarray(chance_probabilities, dtype=float)
        if probabilities.shape != (size,):
            raise GameValidationError("chance_probabilities", f"must have shape ({size},)",
                                      None, probabilities.shape)
        chance_child = np.zeros(size, dtype=bool)
        chance_child[1:] = player_a[parent_a[1:]] == CHANCE
        if chance_child.any():
            self._check_chance(probabilities, chance_child, parent_a, player_a)
            probabilities = np.where(chance_child, probabilities, 1.0)
        else:
            # a game without chance: one shared value, no array
            probabilities = np.broadcast_to(np.float64(1.0), (size,))
        exact_chance = None
        if chance_exact is not None:
            exact_chance = self._check_chance_exact(chance_exact, probabilities, chance_child,
                                                    parent_a, size)
        terminals = np.flatnonzero(player_a == TERMINAL)
        if outcomes is None:
            payoff_float, payoff_exact = self._check_payoffs(payoffs, num_players,
                                                             terminals.size)
        else:
            payoff_float, payoff_exact = self._check_outcomes(payoffs, outcomes, num_players,
                                                              terminals.size)
        offsets = np.zeros(infoset_player.size, dtype=np.int64)
        for i in range(num_players):
            mine = np.flatnonzero(infoset_player == i)
            counts = infoset_num_actions[mine]
            offsets[mine] = np.concatenate(([0], np.cumsum(counts)[:-1])) if mine.size else []
        object.__setattr__(self, "num_players", num_players)
        # stored in the narrowest integer types that hold them (node and infoset ids below
        # MAX_NODES fit 32 bits): a few bytes per node of a tree of millions
        parent_a = parent_a.astype(np.int32, copy=False)
        player_a = player_a.astype(np.int8 if num_players < 127 else np.int64, copy=False)
        infoset_a = infoset_a.astype(np.int32, copy=False)
        for name, value in (("parent", parent_a), ("player", player_a), ("infoset", infoset_a),
                            ("chance_probabilities", probabilities), ("payoffs", payoff_float),
                            ("first_child", first_child), ("num_children", num_children),
                            ("terminals", terminals), ("infoset_player", infoset_player),
                            ("infoset_num_actions", infoset_num_actions),
                            ("infoset_offset", offsets), ("infoset_node", infoset_node)):
            object.__setattr__(self, name, _readonly(value))
        object.__setattr__(self, "_exact_payoffs",
                           payoff_exact if isinstance(payoff_exact, tuple) or payoff_exact is None
                           else _readonly(payoff_exact))
        object.__setattr__(self, "chance_exact", exact_chance)
        num_infosets = infoset_player.size
        object.__setattr__(self, "title", str(title))
        object.__setattr__(self, "player_labels", _labels(
            "player_labels", player_labels, num_players, lambda k: f"Player {k + 1}"))
        object.__setattr__(self, "infoset_labels", _labels(
            "infoset_labels", infoset_labels, num_infosets, lambda k: ""))
        if action_labels is None:
            actions = tuple(tuple(str(a + 1) for a in range(int(n)))
                            for n in infoset_num_actions)
        else:
            if len(action_labels) != num_infosets:
                raise GameValidationError("action_labels", "needs one tuple per infoset", None,
                                          len(action_labels))
            # tuples of str are kept as given (callers share one tuple among infosets)
            actions = tuple(row if isinstance(row, tuple) and all(type(x) is str for x in row)
                            else tuple(str(x) for x in row) for row in action_labels)
            for k, row in enumerate(actions):
                if len(row) != infoset_num_actions[k]:
                    raise GameValidationError("action_labels", "needs one label per action",
                                              k, len(row))
        object.__setattr__(self, "action_labels", actions)
        object.__setattr__(self, "node_labels", LabelColumn.of("node_labels", node_labels, size))
        object.__setattr__(self, "chance_labels", LabelColumn.of("chance_labels", chance_labels,
                                                                 size))
        if chance_infoset is None:
            chance_ids = np.where(player_a == CHANCE, np.cumsum(player_a == CHANCE), 0)
        else:
            chance_ids = _int_array("chance_infoset", chance_infoset, size)
        # Gambit numbers few chance infosets: the smallest integer type that holds them (one
        # shared zero when there are none)
        if not chance_ids.any():
            stored = np.broadcast_to(np.int8(0), (size,))
        else:
            small = np.int8 if chance_ids.min() >= -128 and chance_ids.max() < 128 else np.int64
            stored = _readonly(chance_ids.astype(small))
        object.__setattr__(self, "chance_infoset", stored)
        object.__setattr__(self, "_sequences", None)

    # ------------------------------------------------------------------ validation helpers

    @staticmethod
    def _check_tree(parent: np.ndarray) -> None:
        if parent[0] != -1:
            raise GameValidationError("parent", "node 0 must be the root (parent -1)", 0,
                                      int(parent[0]))
        rest = parent[1:]
        index = np.arange(1, parent.size)
        bad = np.flatnonzero((rest < 0) | (rest >= index))
        if bad.size:
            v = int(bad[0]) + 1
            raise GameValidationError("parent", "every non-root node needs a parent with a "
                                      "smaller index", v, int(parent[v]))
        bad = np.flatnonzero(np.diff(rest) < 0)
        if bad.size:
            v = int(bad[0]) + 2
            raise GameValidationError("parent", "nodes must be in breadth-first order (parents "
                                      "non-decreasing; TreeBuilder orders any tree)", v,
                                      int(parent[v]))

    @staticmethod
    def _check_players(player: np.ndarray, num_children: np.ndarray, num_players: int) -> None:
        bad = np.flatnonzero((player < TERMINAL) | (player >= num_players))
        if bad.size:
            v = int(bad[0])
            raise GameValidationError("player", f"must be 0..{num_players - 1}, -1 (chance) or "
                                      "-2 (terminal)", v, int(player[v]))
        leaf = num_children == 0
        bad = np.flatnonzero(leaf != (player == TERMINAL))
        if bad.size:
            v = int(bad[0])
            rule = ("a node without children must be terminal (-2)" if leaf[v]
                    else "a terminal node (-2) cannot have children")
            raise GameValidationError("player", rule, v, int(player[v]))

    @staticmethod
    def _check_infosets(infoset: np.ndarray, player: np.ndarray, num_children: np.ndarray
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        decision = player >= 0
        bad = np.flatnonzero(decision & (infoset < 0))
        if bad.size:
            raise GameValidationError("infoset", "every decision node needs an infoset >= 0",
                                      int(bad[0]), int(infoset[bad[0]]))
        bad = np.flatnonzero(~decision & (infoset != -1))
        if bad.size:
            raise GameValidationError("infoset", "chance and terminal nodes have infoset -1",
                                      int(bad[0]), int(infoset[bad[0]]))
        nodes = np.flatnonzero(decision)
        ids = infoset[nodes]
        count = int(ids.max()) + 1 if ids.size else 0
        if count > nodes.size:
            raise GameValidationError("infoset", "infoset ids must be 0..I-1, each used", None,
                                      count)
        first = np.full(count, -1, dtype=np.int64)
        # the first node of every infoset (reverse assignment keeps the smallest index)
        first[ids[::-1]] = nodes[::-1]
        if (first < 0).any():
            missing = int(np.flatnonzero(first < 0)[0])
            raise GameValidationError("infoset", "infoset ids must be 0..I-1, each used; "
                                      "unused id", None, missing)
        owner = player[first]
        actions = num_children[first]
        bad = np.flatnonzero(player[nodes] != owner[ids])
        if bad.size:
            v = int(nodes[bad[0]])
            raise GameValidationError("player", f"all nodes of infoset {int(infoset[v])} must "
                                      "belong to one player", v, int(player[v]))
        bad = np.flatnonzero(num_children[nodes] != actions[ids])
        if bad.size:
            v = int(nodes[bad[0]])
            raise GameValidationError("infoset", f"all nodes of infoset {int(infoset[v])} must "
                                      f"have the same number of actions "
                                      f"({int(actions[infoset[v]])})", v,
                                      int(num_children[v]))
        return owner.astype(np.int64), actions.astype(np.int64), first

    @staticmethod
    def _check_chance(probabilities: np.ndarray, chance_child: np.ndarray, parent: np.ndarray,
                      player: np.ndarray) -> None:
        values = probabilities[chance_child]
        bad = np.flatnonzero(~np.isfinite(values) | (values < 0) | (values > 1))
        if bad.size:
            v = int(np.flatnonzero(chance_child)[bad[0]])
            raise GameValidationError("chance_probabilities", "must lie in [0, 1]", v,
                                      float(probabilities[v]))
        sums = np.bincount(parent[1:], weights=np.where(chance_child[1:], probabilities[1:], 0),
                           minlength=player.size)
        chance_nodes = np.flatnonzero(player == CHANCE)
        bad = np.flatnonzero(np.abs(sums[chance_nodes] - 1.0) > PROBABILITY_TOLERANCE)
        if bad.size:
            v = int(chance_nodes[bad[0]])
            raise GameValidationError("chance_probabilities", "the probabilities of a chance "
                                      "node's children must sum to 1", v, float(sums[v]))

    @staticmethod
    def _check_chance_exact(chance_exact: Sequence[Any], probabilities: np.ndarray,
                            chance_child: np.ndarray, parent: np.ndarray, size: int
                            ) -> tuple[Fraction, ...]:
        if len(chance_exact) != size:
            raise GameValidationError("chance_exact", f"needs one entry per node ({size})",
                                      None, len(chance_exact))
        one = Fraction(1)
        exact = tuple((x if type(x) is Fraction else Fraction(x)) if chance_child[k] else one
                      for k, x in enumerate(chance_exact))
        totals: dict[int, Fraction] = {}
        for v in np.flatnonzero(chance_child):
            totals[int(parent[v])] = totals.get(int(parent[v]), Fraction(0)) + exact[v]
            if exact[v] < 0:
                raise GameValidationError("chance_exact", "must be non-negative", int(v),
                                          str(exact[v]))
        for node, total in totals.items():
            if total != 1:
                raise GameValidationError("chance_exact", "the exact probabilities of a chance "
                                          "node's children must sum to exactly 1", node,
                                          str(total))
        return exact

    @staticmethod
    def _check_payoffs(payoffs: Any, num_players: int, num_terminals: int
                       ) -> tuple[np.ndarray, np.ndarray | None]:
        raw = np.asarray(payoffs, dtype=object if _is_exact(payoffs) else float)
        if raw.shape != (num_players, num_terminals):
            raise GameValidationError("payoffs", f"must have shape (num_players, num_terminals)"
                                      f" = ({num_players}, {num_terminals})", None, raw.shape)
        exact = None
        if raw.dtype == object:
            exact = np.empty(raw.shape, dtype=object)
            flat = exact.reshape(-1)
            for k, value in enumerate(raw.reshape(-1)):
                try:
                    flat[k] = value if type(value) is Fraction else Fraction(value)
                except (TypeError, ValueError, ZeroDivisionError):
                    raise GameValidationError("payoffs", "must be finite numbers",
                                              tuple(int(x) for x in np.unravel_index(k, raw.shape)),
                                              value) from None
            cache: dict[Fraction, float] = {}
            floats = np.array([cache[v] if v in cache else cache.setdefault(v, _to_float(v))
                               for v in flat], dtype=float).reshape(raw.shape)
        else:
            floats = raw.astype(float, copy=True)
        bad = np.argwhere(~np.isfinite(floats))
        if bad.size:
            index = tuple(int(x) for x in bad[0])
            raise GameValidationError("payoffs", "must be finite", index, floats[index])
        return floats, exact

    @classmethod
    def _check_outcomes(cls, payoffs: Any, outcomes: Any, num_players: int,
                        num_terminals: int) -> tuple[np.ndarray, Any]:
        index = _int_array("outcomes", outcomes)
        if index.size != num_terminals:
            raise GameValidationError("outcomes", f"needs one entry per terminal "
                                      f"({num_terminals})", None, index.size)
        if np.ndim(payoffs) != 2:
            raise GameValidationError("payoffs", "with outcomes, must have shape (num_players, "
                                      "num_outcomes)", None, np.shape(payoffs))
        width = np.shape(payoffs)[1]
        table_float, table_exact = cls._check_payoffs(payoffs, num_players, width)
        bad = np.flatnonzero((index < 0) | (index >= table_float.shape[1]))
        if bad.size:
            raise GameValidationError("outcomes", f"must index the columns of payoffs "
                                      f"(0..{table_float.shape[1] - 1})", int(bad[0]),
                                      int(index[bad[0]]))
        # gathered columns: shared objects in the exact array, no per-terminal conversion
        # the exact payoffs are gathered when first asked for (exact solvers), not here
        return (table_float[:, index],
                None if table_exact is None else (table_exact, index.astype(np.int32)))

    @property
    def payoffs_exact(self) -> np.ndarray | None:
        """Exact payoffs ``(N, Z)`` (Fractions), or None when the payoffs are floats."""
        stored = self._exact_payoffs
        if isinstance(stored, tuple):
            table, index = stored
            stored = _readonly(table[:, index])
            object.__setattr__(self, "_exact_payoffs", stored)
        return stored  # type: ignore[no-any-return]

    # ------------------------------------------------------------------ sizes

    @property
    def num_nodes(self) -> int:
        return int(self.parent.size)

    @property
    def num_terminals(self) -> int:
        return int(self.terminals.size)

    @property
    def num_infosets(self) -> int:
        return int(self.infoset_player.size)

    @property
    def num_actions_per_player(self) -> tuple[int, ...]:
        """Length of each player's flat behaviour vector (sum of its infosets' actions)."""
        cached: tuple[int, ...] | None = self.__dict__.get("_num_actions")
        if cached is None:
            cached = tuple(int(self.infoset_num_actions[self.infoset_player == i].sum())
                           for i in range(self.num_players))
            object.__setattr__(self, "_num_actions", cached)
        return cached

    @property
    def num_sequences(self) -> tuple[int, ...]:
        """Each player's number of sequences (its actions plus the empty sequence)."""
        cached: tuple[int, ...] | None = self.__dict__.get("_num_sequences")
        if cached is None:
            cached = tuple(n + 1 for n in self.num_actions_per_player)
            object.__setattr__(self, "_num_sequences", cached)
        return cached

    @property
    def has_chance(self) -> bool:
        return bool((self.player == CHANCE).any())

    @property
    def is_exact(self) -> bool:
        """Whether payoffs (and chance probabilities, if any) are known exactly."""
        return self._exact_payoffs is not None and (self.chance_exact is not None
                                                   or not self.has_chance)

    def payoff_range(self) -> float:
        spread = float(self.payoffs.max() - self.payoffs.min()) if self.payoffs.size else 0.0
        return spread if spread > 0 else 1.0

    def is_zero_sum(self, *, tol: float = 0.0) -> bool:
        """Two-player game whose payoffs sum to zero at every terminal (within ``tol``)."""
        return self.num_players == 2 and bool(
            np.abs(self.payoffs.sum(axis=0)).max(initial=0.0) <= tol)

    def player_infosets(self, player: int) -> np.ndarray:
        """Infoset ids of ``player`` in increasing order."""
        return np.flatnonzero(self.infoset_player == player)

    def infoset_slice(self, infoset: int) -> slice:
        """The slice of an infoset's actions in its player's flat behaviour vector."""
        start = int(self.infoset_offset[infoset])
        return slice(start, start + int(self.infoset_num_actions[infoset]))

    def uniform_profile(self) -> tuple[np.ndarray, ...]:
        """Every player uniform at every infoset (flat behaviour vectors)."""
        out = []
        for i in range(self.num_players):
            mine = self.player_infosets(i)
            counts = self.infoset_num_actions[mine]
            out.append(np.repeat(1.0 / np.maximum(counts, 1), counts))
        return tuple(out)

    def __repr__(self) -> str:
        return (f"ExtensiveGame({self.title!r}, players={self.num_players}, "
                f"nodes={self.num_nodes}, terminals={self.num_terminals}, "
                f"infosets={self.num_infosets})")

    # ------------------------------------------------------------------ sequences

    @property
    def sequences(self) -> _SequenceData:
        """Sequence-form tables (own sequences per terminal and per infoset), built once."""
        if self._sequences is None:
            object.__setattr__(self, "_sequences", _build_sequences(self))
        assert self._sequences is not None
        return self._sequences

    @property
    def perfect_recall(self) -> tuple[bool, ...]:
        """Per player: whether it has perfect recall."""
        return self.sequences.perfect_recall

    def require_perfect_recall(self, method: str) -> None:
        """Raise :class:`ImperfectRecallError` naming the first forgetful player and infoset."""
        data = self.sequences
        for i, ok in enumerate(data.perfect_recall):
            if not ok:
                infoset = data.recall_witness[i]
                label = self.infoset_labels[infoset] if infoset >= 0 else ""
                raise ImperfectRecallError(
                    f"{method} needs perfect recall, but player {i + 1} "
                    f"({self.player_labels[i]!r}) forgets at infoset {infoset} ({label!r}): "
                    "its nodes differ in the player's own earlier moves")

    def realization_plan(self, player: int, behaviour: np.ndarray) -> np.ndarray:
        """Realization plan ``(num_sequences[player],)`` of a flat behaviour vector.

        Entry 0 is the empty sequence (1); entry ``1 + offset[I] + a`` is the product of the
        player's own probabilities along the path to ``I`` times ``behaviour(a | I)``.
        """
        data = self.sequences
        if not data.perfect_recall[player]:
            self.require_perfect_recall("realization_plan")
        exact = behaviour.dtype == object
        plan = np.empty(self.num_sequences[player], dtype=object if exact else float)
        plan[0] = Fraction(1) if exact else 1.0
        for level in reversed(data.levels[player]):
            plan[level.actions + 1] = plan[level.action_parents] * behaviour[level.actions]
        return plan

    def terminal_reach(self, profile: Sequence[np.ndarray], *, skip: int | None = None
                       ) -> np.ndarray:
        """Probability of reaching each terminal ``(Z,)`` (chance included), optionally with
        player ``skip``'s own probabilities replaced by one (counterfactual reach)."""
        data = self.sequences
        exact = any(np.asarray(p).dtype == object for p in profile)
        reach = self.terminal_chance_exact() if exact else data.terminal_chance.copy()
        for j in range(self.num_players):
            if j != skip:
                reach *= self.realization_plan(j, profile[j])[data.terminal_sequence[j]]
        return reach

    def terminal_chance_exact(self) -> np.ndarray:
        """Exact chance probability of reaching each terminal (object array of Fractions).

        Raises
        ------
        GameValidationError
            When the game's chance probabilities are not exact.
        """
        if self.chance_exact is None:
            if self.has_chance:
                raise GameValidationError("chance_exact", "the game's chance probabilities are "
                                          "floats, so exact arithmetic is unavailable")
            return np.array([Fraction(1)] * self.num_terminals, dtype=object)
        probability = np.array(self.chance_exact, dtype=object)
        reach = np.empty(self.num_nodes, dtype=object)
        reach[0] = Fraction(1)
        for level in _depth_levels(self.parent)[1:]:
            reach[level] = reach[self.parent[level]] * probability[level]
        return reach[self.terminals]

    def expected_payoffs(self, profile: Sequence[Any]) -> np.ndarray:
        """Each player's expected payoff ``(N,)`` under a behaviour profile."""
        checked = self.check_profile(profile)
        return self.payoffs @ self.terminal_reach(checked)

    def check_profile(self, profile: Sequence[Any], *, tol: float = 1e-9
                      ) -> tuple[np.ndarray, ...]:
        """Validate a behaviour profile (one flat vector per player, rows on the simplex)."""
        from gametools.errors import PolicyValidationError

        if len(profile) != self.num_players:
            raise PolicyValidationError("profile", f"needs one behaviour vector per player "
                                        f"({self.num_players})", None, len(profile))
        out = []
        for i, (vector, size) in enumerate(zip(profile, self.num_actions_per_player)):
            array = np.asarray(vector, dtype=float).reshape(-1)
            if array.size != size:
                raise PolicyValidationError(f"profile[{i}]", f"needs {size} entries (the actions"
                                            " of the player's infosets)", None, array.size)
            if not array.size:
                out.append(array)
                continue
            # one reduction each on the valid path; the offender is located only on failure
            if not (np.isfinite(array).all() and array.min() >= -tol):
                bad = np.flatnonzero(~np.isfinite(array) | (array < -tol))
                raise PolicyValidationError(f"profile[{i}]", "entries must be finite and >= 0",
                                            int(bad[0]), float(array[bad[0]]))
            sums = np.add.reduceat(array, self.sequences.segments[i][0])
            if np.abs(sums - 1.0).max() > max(tol, 1e-9):
                bad = np.flatnonzero(np.abs(sums - 1.0) > max(tol, 1e-9))
                raise PolicyValidationError(
                    f"profile[{i}]", f"the actions of infoset "
                    f"{int(self.player_infosets(i)[bad[0]])} must sum to 1", None,
                    float(sums[bad[0]]))
            out.append(np.maximum(array, 0.0))
        return tuple(out)


def _to_float(value: Fraction) -> float:
    """``float(value)``, or infinity beyond the float range (which ``float`` raises for)."""
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def _is_exact(values: Any) -> bool:
    array = np.asarray(values, dtype=object)
    return array.size > 0 and all(isinstance(v, (int, Fraction, str, np.integer))
                                  and not isinstance(v, bool) for v in array.reshape(-1))


class LabelColumn(Sequence[str]):
    """One label per node, stored as distinct labels and a 32-bit index per node (most nodes
    of a large tree share a handful of labels, most of them empty). Reads like a tuple of str:
    indexing (a slice gives a tuple), iteration, ``len`` and ``==`` with any sequence."""

    __slots__ = ("_index", "_table")

    def __init__(self, table: Sequence[str], index: np.ndarray | int) -> None:
        """``index``: the position in ``table`` of every node's label, or a node count (all
        nodes then carry ``table[0]``, and no per-node array is stored)."""
        self._table = tuple(table)
        self._index: np.ndarray | int = (int(index) if isinstance(index, (int, np.integer))
                                         else _readonly(np.asarray(index, dtype=np.int32)))

    def _indices(self) -> np.ndarray:
        if isinstance(self._index, int):
            return np.zeros(self._index, dtype=np.int32)
        return self._index

    @classmethod
    def of(cls, name: str, labels: Sequence[Any] | None, count: int) -> LabelColumn:
        """Labels given per node (or None: all empty), checked for their number."""
        if isinstance(labels, LabelColumn):
            if len(labels) != count:
                raise GameValidationError(name, f"needs {count} labels", None, len(labels))
            return labels
        if labels is None:
            return cls(("",), count)
        if len(labels) != count:
            raise GameValidationError(name, f"needs {count} labels", None, len(labels))
        ids: dict[str, int] = {"": 0}
        index = np.fromiter((ids.setdefault(str(x), len(ids)) for x in labels),
                            dtype=np.int32, count=count)
        return cls(tuple(ids), count if len(ids) == 1 else index)

    def __len__(self) -> int:
        return self._index if isinstance(self._index, int) else int(self._index.size)

    def __getitem__(self, key: Any) -> Any:
        if isinstance(self._index, int):
            if isinstance(key, slice):
                return (self._table[0],) * len(range(*key.indices(self._index)))
            if not -self._index <= key < self._index:
                raise IndexError("label index out of range")
            return self._table[0]
        if isinstance(key, slice):
            table = self._table
            return tuple(table[k] for k in self._index[key].tolist())
        return self._table[self._index[key]]

    def __iter__(self) -> Any:
        table = self._table
        return (table[k] for k in self._indices().tolist())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, LabelColumn):
            if len(self) != len(other):
                return False
            return bool((np.array(self._table, dtype=object)[self._indices()]
                         == np.array(other._table, dtype=object)[other._indices()]).all())
        if isinstance(other, Sequence) and not isinstance(other, str):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"LabelColumn({len(self)} labels, {len(self._table)} distinct)"


def _labels(name: str, labels: Sequence[Any] | None, count: int, default: Any
            ) -> tuple[str, ...]:
    if labels is None:
        return tuple(default(k) for k in range(count))
    if len(labels) != count:
        raise GameValidationError(name, f"needs {count} labels", None, len(labels))
    return tuple(str(x) for x in labels)


# --------------------------------------------------------------------------------------------
# sequence form
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class InfosetLevel:
    """Infosets of one player at one own depth, with the flat positions of their actions.

    ``actions`` are positions in the player's behaviour vector (sequence ``actions + 1``),
    grouped by infoset; ``boundaries`` the start of each infoset's group (for ``reduceat``);
    ``parents`` the own sequence leading to each infoset, ``action_parents`` repeated per
    action.
    """

    infosets: np.ndarray
    actions: np.ndarray
    boundaries: np.ndarray
    counts: np.ndarray
    parents: np.ndarray
    action_parents: np.ndarray


@dataclass(frozen=True)
class _SequenceData:
    """Per-player sequence tables of a game (see :attr:`ExtensiveGame.sequences`).

    ``terminal_sequence[i, z]``: player ``i``'s last own sequence (0 = empty) on the path to
    terminal ``z``; ``infoset_parent[I]``: the own sequence leading to infoset ``I``;
    ``levels[i]``: player ``i``'s infosets grouped by own depth, deepest first (empty without
    perfect recall); ``segments[i]``: ``(offsets, counts, parent sequence per action)`` of all
    its infosets in id order.
    """

    terminal_chance: np.ndarray  # (Z,)
    terminal_sequence: np.ndarray  # (N, Z)
    infoset_parent: np.ndarray  # (I,)
    perfect_recall: tuple[bool, ...]
    recall_witness: tuple[int, ...]
    levels: tuple[tuple[InfosetLevel, ...], ...]
    segments: tuple[tuple[np.ndarray, np.ndarray, np.ndarray], ...]


def _depth_levels(parent: np.ndarray) -> list[slice]:
    """Contiguous node ranges of equal depth (breadth-first order)."""
    levels = [slice(0, 1)]
    start = 1
    while start < parent.size:
        last = levels[-1].stop - 1
        stop = int(np.searchsorted(parent, last, side="right"))
        levels.append(slice(start, stop))
        start = stop
    return levels


def _build_sequences(game: ExtensiveGame) -> _SequenceData:
    parent, player, infoset = game.parent, game.player, game.infoset
    size = parent.size
    num_players = game.num_players
    terminals = game.terminals
    # every player's last own sequence and the chance reach, one depth level at a time (only
    # the previous level is held): kept at the terminals, and the mover's at decision nodes
    terminal_sequence = np.zeros((num_players, terminals.size), dtype=np.int64)
    terminal_chance = np.ones(terminals.size)
    mover_sequence = np.zeros(size, dtype=np.int32)
    previous_own = np.zeros((num_players, 1), dtype=np.int32)
    previous_chance = np.ones(1)
    previous_start = 0
    # a level's nodes in blocks, so that temporaries stay small beside the tree
    block_size = 1 << 20
    for level in _depth_levels(parent):
        if level.start == 0:
            own, chance = previous_own, previous_chance
        else:
            own = np.empty((num_players, level.stop - level.start), dtype=np.int32)
            chance = np.empty(level.stop - level.start)
            for low in range(level.start, level.stop, block_size):
                high = min(low + block_size, level.stop)
                up = parent[low:high]
                local = up - previous_start
                block = previous_own[:, local]
                mover = player[up]
                moved = np.flatnonzero(mover >= 0)
                if moved.size:
                    # the edge's sequence: 1 + the parent infoset's offset + the action's index
                    edge = up[moved]
                    block[mover[moved], moved] = (1 + game.infoset_offset[infoset[edge]]
                                                  + (low + moved) - game.first_child[edge])
                at = slice(low - level.start, high - level.start)
                own[:, at] = block
                chance[at] = previous_chance[local] * game.chance_probabilities[low:high]
        kind = player[level]
        here = np.flatnonzero(kind == TERMINAL)
        if here.size:
            first = int(np.searchsorted(terminals, level.start))
            terminal_sequence[:, first:first + here.size] = own[:, here]
            terminal_chance[first:first + here.size] = chance[here]
        here = np.flatnonzero(kind >= 0)
        if here.size:
            mover_sequence[level.start + here] = own[kind[here], here]
        previous_own, previous_chance, previous_start = own, chance, level.start
    del previous_own, previous_chance
    num_infosets = game.num_infosets
    infoset_parent = np.zeros(num_infosets, dtype=np.int64)
    recall: list[bool] = []
    witness: list[int] = []
    decision = np.flatnonzero(player >= 0)
    levels: list[tuple[InfosetLevel, ...]] = []
    segments: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for i in range(num_players):
        mine_nodes = decision[player[decision] == i]
        mine_ids = infoset[mine_nodes]
        parents_seq = mover_sequence[mine_nodes]
        reference = np.zeros(num_infosets, dtype=np.int64)
        reference[mine_ids] = parents_seq
        mismatch = np.flatnonzero(parents_seq != reference[mine_ids])
        mine = game.player_infosets(i)
        infoset_parent[mine] = reference[mine]
        # sequence -> infoset it belongs to (sequence 0: none)
        seq_infoset = np.full(game.num_sequences[i], -1, dtype=np.int64)
        seq_infoset[1:] = np.repeat(mine, game.infoset_num_actions[mine])
        ok = mismatch.size == 0
        bad_infoset = int(mine_ids[mismatch[0]]) if mismatch.size else -1
        depth = np.zeros(num_infosets, dtype=np.int64)
        if ok:
            # own depth of every infoset by pointer doubling (O(log depth) passes); with
            # absent-mindedness the chain of own parent infosets has a cycle and never ends
            above = seq_infoset[reference[mine]]
            position = np.full(num_infosets, -1, dtype=np.int64)
            position[mine] = np.arange(mine.size)
            pointer = np.where(above >= 0, position[np.maximum(above, 0)], -1)
            depth_mine = (pointer >= 0).astype(np.int64)
            for _ in range(int(np.log2(max(mine.size, 1))) + 3):
                alive = pointer >= 0
                if not alive.any():
                    break
                target = pointer[alive]
                new_depth = depth_mine.copy()
                new_depth[alive] += depth_mine[target]
                new_pointer = pointer.copy()
                new_pointer[alive] = pointer[target]
                depth_mine, pointer = new_depth, new_pointer
            else:
                ok = False
                bad_infoset = int(mine[np.flatnonzero(pointer >= 0)[0]])
            depth[mine] = depth_mine
        recall.append(ok)
        witness.append(bad_infoset)
        if ok and mine.size:
            groups = []
            for d in range(int(depth[mine].max()) + 1):
                group = mine[depth[mine] == d]
                counts = game.infoset_num_actions[group]
                boundaries = np.concatenate(([0], np.cumsum(counts)[:-1])).astype(np.int64)
                actions = np.repeat(game.infoset_offset[group] - boundaries, counts) \
                    + np.arange(int(counts.sum()))
                parents = reference[group]
                groups.append(InfosetLevel(group, actions, boundaries, counts, parents,
                                           np.repeat(parents, counts)))
            levels.append(tuple(reversed(groups)))
        else:
            levels.append(())
        counts = game.infoset_num_actions[mine]
        segments.append((game.infoset_offset[mine], counts,
                         np.repeat(reference[mine], counts)))
    if not game.has_chance:
        terminal_chance = np.broadcast_to(np.float64(1.0), terminal_chance.shape)
    return _SequenceData(
        terminal_chance=_readonly(terminal_chance),
        terminal_sequence=_readonly(terminal_sequence),
        infoset_parent=_readonly(infoset_parent),
        perfect_recall=tuple(recall), recall_witness=tuple(witness),
        levels=tuple(levels), segments=tuple(segments))


# --------------------------------------------------------------------------------------------
# building trees in any order
# --------------------------------------------------------------------------------------------

class TreeBuilder:
    """Build an :class:`ExtensiveGame` node by node, in any order (depth-first is natural).

    Nodes are referred to by the integers the adding methods return; a child is attached by
    ``(parent, action_index)``. Infosets are named by any hashable key, per player; the chance
    "player" needs none. :meth:`build` reorders the nodes breadth-first and validates.

    Storage is compact (machine integers per node; chance moves, payoffs and labels only where
    a node has them), so that trees of millions of nodes are built in a few hundred bytes per
    node at the peak of :meth:`build`.
    """

    def __init__(self, num_players: int) -> None:
        self.num_players = int(num_players)
        # per node: kind, infoset id (-1 for chance and terminal nodes), the edge it hangs
        # from (parent -1 for the root), number of actions
        self._kind = array("q")
        self._key = array("q")
        self._parent = array("q")
        self._index = array("q")
        self._actions = array("q")
        self._roots = 0
        # only where present: node -> probabilities / labels / chance infoset / label
        self._chance: dict[int, tuple[Any, ...]] = {}
        self._chance_labels: dict[int, tuple[str, ...]] = {}
        self._chance_infoset: dict[int, int] = {}
        self._node_labels: dict[int, str] = {}
        # terminals in order of creation and their payoff tuples
        self._terminal_nodes = array("q")
        self._payoffs: list[tuple[Any, ...]] = []
        self._infoset_ids: dict[tuple[int, Any], int] = {}
        self._infoset_labels: list[str] = []
        self._infoset_actions: list[tuple[str, ...]] = []

    def _add(self, at: tuple[int, int] | None, kind: int, key: int, actions: int,
             label: str) -> int:
        if at is None:
            if self._roots:
                raise GameValidationError("tree", "the tree has one root; attach nodes with "
                                          "(parent, action)")
            self._roots += 1
            parent, index = -1, -1
        else:
            parent, index = at
        node = len(self._kind)
        self._kind.append(kind)
        self._key.append(key)
        self._parent.append(int(parent))
        self._index.append(int(index))
        self._actions.append(actions)
        if label:
            self._node_labels[node] = label
        return node

    def decision(self, at: tuple[int, int] | None, *, player: int, infoset: Any,
                 actions: Sequence[str] | int, infoset_label: str | None = None,
                 label: str = "") -> int:
        """Add a decision node of ``player`` in the infoset keyed ``infoset``.

        ``actions`` (labels, or a count for labels "1", "2", ...) is read only at the
        infoset's first node; later nodes may pass just the count.
        """
        key = (int(player), infoset)
        ident = self._infoset_ids.get(key)
        count = actions if isinstance(actions, int) else len(actions)
        if ident is None:
            if isinstance(actions, int):
                names = tuple(str(a + 1) for a in range(actions))
            elif isinstance(actions, tuple) and all(type(a) is str for a in actions):
                names = actions  # kept as given: callers may share one tuple among infosets
            else:
                names = tuple(str(a) for a in actions)
            ident = self._infoset_ids[key] = len(self._infoset_labels)
            self._infoset_labels.append(str(infoset) if infoset_label is None else infoset_label)
            self._infoset_actions.append(names)
        return self._add(at, int(player), ident, count, label)

    def chance(self, at: tuple[int, int] | None, *, probabilities: Sequence[Any],
               labels: Sequence[str] | None = None, label: str = "",
               chance_infoset: int = 0) -> int:
        """Add a chance node; probabilities may be floats or exact (Fraction, int, str)."""
        node = self._add(at, CHANCE, -1, len(probabilities), label)
        self._chance[node] = tuple(probabilities)
        if labels is None:
            names = tuple(str(a + 1) for a in range(len(probabilities)))
        elif isinstance(labels, tuple) and all(type(x) is str for x in labels):
            names = labels  # kept as given (may be shared)
        else:
            names = tuple(str(x) for x in labels)
        self._chance_labels[node] = names
        if chance_infoset:
            self._chance_infoset[node] = int(chance_infoset)
        return node

    def terminal(self, at: tuple[int, int] | None, *, payoffs: Sequence[Any],
                 label: str = "") -> int:
        """Add a leaf paying ``payoffs`` (one per player; floats or exact numbers; a tuple is
        kept as given, so that callers may share one tuple among leaves)."""
        if len(payoffs) != self.num_players:
            raise GameValidationError("payoffs", f"a terminal needs {self.num_players} payoffs",
                                      len(self._kind), len(payoffs))
        node = self._add(at, TERMINAL, -1, 0, label)
        self._terminal_nodes.append(node)
        self._payoffs.append(tuple(payoffs))
        return node

    def _children(self, count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each node's first slot in the child table, the table (-1 where empty), and the
        actions per node; errors for edges that are missing or taken twice."""
        actions = np.frombuffer(self._actions, dtype=np.int64)
        parent = np.frombuffer(self._parent, dtype=np.int64)
        index = np.frombuffer(self._index, dtype=np.int64)
        offset = np.zeros(count + 1, dtype=np.int64)
        np.cumsum(actions, out=offset[1:])
        nodes = np.arange(1, count)
        p, a = parent[1:], index[1:]
        valid = (p >= 0) & (p < count)
        valid[valid] &= (a[valid] >= 0) & (a[valid] < actions[p[valid]])
        if not valid.all():
            node = int(nodes[np.argmin(valid)])
            raise GameValidationError("tree", f"node {node} hangs from a missing edge", node,
                                      (int(parent[node]), int(index[node])))
        slot = offset[p] + a
        table = np.full(int(offset[-1]), -1, dtype=np.int64)
        table[slot[::-1]] = nodes[::-1]  # the first node wins each slot
        taken_twice = table[slot] != nodes
        if taken_twice.any():
            node = int(nodes[np.argmax(taken_twice)])
            raise GameValidationError("tree", f"edge {int(index[node])} of node "
                                      f"{int(parent[node])} has two children", node,
                                      (int(parent[node]), int(index[node])))
        return offset, table, actions

    def build(self, *, title: str = "", player_labels: Sequence[str] | None = None
              ) -> ExtensiveGame:
        """Validate and return the game (nodes in breadth-first order)."""
        count = len(self._kind)
        if count == 0 or self._parent[0] != -1:
            raise GameValidationError("tree", "the first node added must be the root")
        offset, table, actions = self._children(count)
        # breadth-first order, a level at a time: children in action order
        levels = [np.zeros(1, dtype=np.int64)]
        while True:
            frontier = levels[-1]
            counts = actions[frontier]
            total = int(counts.sum())
            if total == 0:
                break
            starts = np.repeat(offset[frontier] - np.cumsum(counts) + counts, counts)
            slots = starts + np.arange(total)
            children = table[slots]
            if (children < 0).any():
                slot = int(slots[np.argmax(children < 0)])
                node = int(np.searchsorted(offset, slot, side="right") - 1)
                action = slot - int(offset[node])
                raise GameValidationError("tree", f"action {action} of node {node} leads "
                                          "nowhere", node)
            levels.append(children)
        order = np.concatenate(levels)
        if order.size != count:
            raise GameValidationError("tree", "some nodes are not connected to the root")
        new_index = np.empty(count, dtype=np.int64)
        new_index[order] = np.arange(count)
        old_parent = np.frombuffer(self._parent, dtype=np.int64)[order]
        parent = np.where(old_parent >= 0, new_index[np.maximum(old_parent, 0)], -1)
        kinds = np.frombuffer(self._kind, dtype=np.int64)[order]
        infoset = np.frombuffer(self._key, dtype=np.int64)[order]
        one = 1
        chance_p: list[Any] = [one] * count
        chance_labels = [""] * count
        probabilities = np.ones(count)
        exact_chance = True
        as_float: dict[Any, float] = {}
        for node, moves in self._chance.items():
            names = self._chance_labels[node]
            first = int(offset[node])
            for a, x in enumerate(moves):
                child = int(new_index[table[first + a]])
                chance_p[child] = x
                chance_labels[child] = names[a]
                if exact_chance and not (isinstance(x, (int, Fraction, str))
                                         and not isinstance(x, bool)):
                    exact_chance = False
                value = as_float.get(x)
                if value is None:
                    value = as_float[x] = _to_float(Fraction(x)) \
                        if isinstance(x, (str, Fraction)) else float(x)
                probabilities[child] = value
        del table
        terminal_order = np.argsort(new_index[np.frombuffer(self._terminal_nodes,
                                                            dtype=np.int64)], kind="stable")
        rows = self._payoffs
        payoffs = [[rows[k][i] for k in terminal_order] for i in range(self.num_players)]
        node_labels = [""] * count
        for node, label in self._node_labels.items():
            node_labels[int(new_index[node])] = label
        chance_infoset = np.zeros(count, dtype=np.int64)
        for node, ident in self._chance_infoset.items():
            chance_infoset[int(new_index[node])] = ident
        exact: list[Fraction] | None = None
        if exact_chance:
            cache: dict[Any, Fraction] = {}
            exact = [cache[x] if x in cache else cache.setdefault(
                x, x if type(x) is Fraction else Fraction(x)) for x in chance_p]
        return ExtensiveGame(
            self.num_players, parent, kinds, infoset, probabilities, payoffs,
            chance_exact=exact,
            title=title, player_labels=player_labels, infoset_labels=self._infoset_labels,
            action_labels=self._infoset_actions, node_labels=node_labels,
            chance_labels=chance_labels, chance_infoset=chance_infoset)
