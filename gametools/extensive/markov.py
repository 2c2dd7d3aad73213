"""Game trees and finite-horizon, partially observed Markov games, both ways.

:func:`markov_from_extensive` gives a tree as a Markov game where the two coincide;
:func:`tree_from_markov` gives a finite-horizon Markov game as its perfect-recall game tree
(without OpenSpiel; :func:`gametools.interop.openspiel.extensive_from_markov` builds the same
game through OpenSpiel's encoding, for OpenSpiel's algorithms).

Construction
------------
Every decision node of the tree is a state, plus one absorbing terminal state (and a start state
when the root is a chance move). At the node of player ``i`` the joint action's ``i``-th
component is that player's move; every other player's component changes nothing (an *idle*
move, which :class:`~gametools.model.MarkovGame` solvers need not remember). Chance moves below
a decision are folded into its transition: the next state is drawn with the product of the
chance probabilities down to the next decision node, and the reward is the expected payoff of
the terminals reached before the next decision. Discount 1.

Player ``i`` observes its infoset where it moves. Elsewhere it observes ``(sigma, k)``: its own
last (infoset, action) pair (none at the start) and the number of steps since then. This makes
the observations perfect recall in the Markov sense (each observation determines the previous
one and the own action taken) exactly when the tree has perfect recall and every infoset's nodes
lie the same number of steps after the player's own last move.

Legal-action masks
------------------
A player whose infosets have different numbers of actions (Leduc poker: fold is not offered
when no bet is pending) gets the largest number in every state: action ``k`` is the infoset's
``k``-th action, and the padded actions ``k >= n_I`` are *illegal* there. They are marked in
:attr:`MarkovView.legal` (``(O_i, n_i)`` bool per player, by observation: a player knows its
legal actions from what it observes), which the learners read to never take them
(:class:`~gametools.marl.env.TensorGameEnv`'s ``legal_actions``). So that the Markov game stays
a complete game, an illegal action moves as the infoset's first action (an alias, no penalty):
it adds no deviation, so a profile's NashConv in the Markov game still equals the tree's, and
:meth:`MarkovView.behaviour` reads probability on an illegal action as probability on the first
action. Observations where the player does not move allow all its actions (they change
nothing).

Where the two coincide
----------------------
Every player has perfect recall, and the nodes of one infoset are the same number of steps
(decision nodes of any player) after the player's own previous move. Otherwise
:func:`markov_from_extensive` raises ``UnsupportedGameError`` naming the first offending
infoset. On the overlap, a behaviour profile maps to Markov policies row by row
(:meth:`MarkovView.policies`), and gametools' Markov-game NashConv equals the tree's.

The perfect-recall tree of a Markov game
----------------------------------------
:func:`tree_from_markov` unrolls stage ``t = 0, 1, ...`` from every reachable history::

    chance   s_0 ~ initial                       (left out when one state is certain)
    player 0 chooses a_0 ~ policy_0[o_0(s_t)]
    player 1 chooses a_1 ~ policy_1[o_1(s_t)]    (without seeing a_0)
    ...
             every player i is credited gamma**t * r_i(s_t, a)
    chance   s_{t+1} ~ P(. | s_t, a)             (positive probabilities only; left out when
                                                  one successor is certain)

ending at a terminal state (which pays nothing) or after ``horizon`` stages, with the payoffs
credited along the path. Player ``i``'s information set is its own observation history
``o_i(s_0), ..., o_i(s_t)`` and its own past actions (OpenSpiel's information states in
:mod:`gametools.interop.openspiel`), so every player has perfect recall. A player whose action
changes neither a reward nor a transition at every reachable state with its current observation
(a waiting player, or a player with one action) gets no decision node there and no entry in its
action history: it plays nothing that matters and knows it, so no value and no best response
changes, and the tree shrinks by that player's branching factor.

Where the Markov game's observations are information states (perfect recall over
observations, counting every move that changes a reward or a transition) or it is fully
observed, a Markov profile (``(O_i, n_i)`` per player) played in the tree
(:meth:`MarkovTree.profile`) has the same values and the same NashConv as in the Markov game:
gametools' Markov evaluator and the tree's evaluator agree there. Elsewhere the tree's
NashConv is the one against history-dependent deviations, at least the Markov game's.

Example
-------
>>> from gametools.formats.efg import parse_efg
>>> tree = parse_efg('EFG 2 R "" { "A" "B" } c "" 1 "" { "x" 1/2 "y" 1/2 } 0 '
...                  'p "" 1 1 "" { "l" "r" } 0 t "" 1 "" { 1 -1 } t "" 2 "" { 0 0 } '
...                  'p "" 1 2 "" { "l" "r" } 0 t "" 3 "" { 0 0 } t "" 4 "" { 2 -2 }')
>>> view = markov_from_extensive(tree)
>>> view.markov.num_states, view.markov.num_actions
(4, (2, 1))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from gametools.errors import InvalidArgumentError, ResourceLimitError, UnsupportedGameError
from gametools.extensive.model import CHANCE, TERMINAL, ExtensiveGame, TreeBuilder
from gametools.limits import check, current
from gametools.model import MarkovGame
from gametools.structure import heights, idle_states

__all__ = ["MarkovTree", "MarkovView", "markov_from_extensive", "tree_from_markov"]


@dataclass(frozen=True)
class MarkovView:
    """A game tree as a Markov game, and where each infoset went.

    Attributes
    ----------
    markov : MarkovGame
    game : ExtensiveGame
        The tree it came from.
    state_node : numpy.ndarray
        The tree node of every state (``-1`` for the terminal and the start state).
    infoset_observation : numpy.ndarray
        The observation (of the infoset's player) of every infoset.
    legal : tuple of numpy.ndarray or None
        Legal-action masks ``(O_i, n_i)`` bool per player (module docstring), read-only;
        ``None`` when every action is legal everywhere (each player's infosets have the same
        number of actions).
    """

    markov: MarkovGame
    game: ExtensiveGame
    state_node: np.ndarray
    infoset_observation: np.ndarray
    legal: tuple[np.ndarray, ...] | None = None

    def policies(self, profile: Sequence[Any]) -> list[np.ndarray]:
        """A behaviour profile (flat vector per player) as Markov policies ``(O_i, n_i)``.

        Illegal actions get probability zero; observations where the player does not move get
        the uniform row (never used).
        """
        game, markov = self.game, self.markov
        out = []
        for i in range(game.num_players):
            n_i = markov.num_actions[i]
            policy = np.full((markov.num_observations[i], n_i), 1.0 / n_i)
            vector = np.asarray(profile[i], dtype=float)
            for infoset in game.player_infosets(i).tolist():
                row = policy[self.infoset_observation[infoset]]
                row[:] = 0.0
                row[:int(game.infoset_num_actions[infoset])] = vector[game.infoset_slice(infoset)]
            out.append(policy)
        return out

    def behaviour(self, policies: Sequence[Any]) -> list[np.ndarray]:
        """Markov policies ``(O_i, n_i)`` as the tree's behaviour profile (the inverse of
        :meth:`policies`): every infoset plays its observation's row, probability on an
        illegal action counting for the infoset's first action (what it does in the Markov
        game)."""
        game = self.game
        out = []
        for i in range(game.num_players):
            policy = np.asarray(policies[i], dtype=float)
            vector = np.zeros(int(game.infoset_num_actions[game.player_infosets(i)].sum()))
            for infoset in game.player_infosets(i).tolist():
                row = policy[self.infoset_observation[infoset]]
                count = int(game.infoset_num_actions[infoset])
                played = row[:count].copy()
                played[0] += row[count:].sum()
                vector[game.infoset_slice(infoset)] = played
            out.append(vector)
        return out


def markov_from_extensive(game: ExtensiveGame) -> MarkovView:
    """The tree as a finite-horizon, partially observed Markov game (module docstring).

    A player whose infosets have different numbers of actions gets the largest in every state,
    the padded ones illegal (:attr:`MarkovView.legal`; module docstring).

    Raises
    ------
    UnsupportedGameError
        Where the two do not coincide: an infoset whose nodes lie at different distances from
        the player's own last move (the message names the infoset); imperfect recall
        (``ImperfectRecallError``).
    """
    game.require_perfect_recall("markov_from_extensive")
    num_players = game.num_players
    shape: list[int] = []
    for i in range(num_players):
        counts = game.infoset_num_actions[game.player_infosets(i)]
        shape.append(int(counts.max()) if counts.size else 1)
    player, parent = game.player, game.parent
    decision = np.flatnonzero(player >= 0)
    root_is_chance = int(player[0]) == CHANCE
    start = 1 if root_is_chance else 0
    state_of = np.full(game.num_nodes, -1, dtype=np.int64)
    state_of[decision] = np.arange(start, start + decision.size)
    num_states = start + decision.size + 1
    end = num_states - 1
    terminal_index = np.full(game.num_nodes, -1, dtype=np.int64)
    terminal_index[game.terminals] = np.arange(game.num_terminals)
    # own last (infoset, action) and steps since, per player, at every node (nodes are in
    # breadth-first order, so parents come first); a step is a decision node passed
    last = np.full((num_players, game.num_nodes), -1, dtype=np.int64)  # sequence id or -1
    steps = np.zeros((num_players, game.num_nodes), dtype=np.int64)
    edge_action = np.zeros(game.num_nodes, dtype=np.int64)
    children = np.flatnonzero(parent >= 0)
    edge_action[children] = children - game.first_child[parent[children]]
    for v in children.tolist():
        p = int(parent[v])
        owner = int(player[p])
        last[:, v] = last[:, p]
        steps[:, v] = steps[:, p] + (1 if owner >= 0 else 0)
        if owner >= 0:
            infoset = int(game.infoset[p])
            last[owner, v] = int(game.infoset_offset[infoset]) + int(edge_action[v])
            steps[owner, v] = 0
    # observations: the infoset where the player moves, else (last, steps)
    observations = np.zeros((num_players, num_states), dtype=np.int64)
    infoset_observation = np.full(game.num_infosets, -1, dtype=np.int64)
    for i in range(num_players):
        table: dict[tuple[Any, ...], int] = {}
        witness: dict[int, tuple[int, int, int]] = {}
        for v in decision.tolist():
            s = int(state_of[v])
            if int(player[v]) == i:
                infoset = int(game.infoset[v])
                key: tuple[Any, ...] = ("infoset", infoset)
                seen = witness.setdefault(infoset, (int(last[i, v]), int(steps[i, v]), v))
                if seen[1] != steps[i, v]:
                    raise UnsupportedGameError(
                        f"markov_from_extensive: infoset {game.infoset_labels[infoset]!r} of "
                        f"player {i + 1} has nodes {seen[2]} and {v} at {seen[1]} and "
                        f"{int(steps[i, v])} steps after the player's own last move; a Markov "
                        "game's observations would tell them apart")
            else:
                key = ("idle", int(last[i, v]), int(steps[i, v]))
            observations[i, s] = table.setdefault(key, len(table))
            if key[0] == "infoset":
                infoset_observation[key[1]] = observations[i, s]
        if root_is_chance:
            observations[i, 0] = table.setdefault(("start",), len(table))
        observations[i, end] = table.setdefault(("end",), len(table))
    # transitions and rewards: from every decision node (and the start), per own action,
    # follow chance down to the next decision nodes and terminals
    num_joint = int(np.prod(shape))
    rows: list[int] = []
    cols: list[int] = []
    data: list[float] = []
    rewards = np.zeros((num_players, num_states, num_joint))
    joint_digits = np.unravel_index(np.arange(num_joint), shape)

    def follow(node: int) -> tuple[dict[int, float], np.ndarray]:
        """Next states (with probabilities) and expected terminal payoffs below ``node``."""
        successors: dict[int, float] = {}
        payoff = np.zeros(num_players)
        stack = [(node, 1.0)]
        while stack:
            v, probability = stack.pop()
            kind = int(player[v])
            if kind == TERMINAL:
                payoff += probability * game.payoffs[:, terminal_index[v]]
                successors[end] = successors.get(end, 0.0) + probability
            elif kind == CHANCE:
                first = int(game.first_child[v])
                for c in range(first, first + int(game.num_children[v])):
                    if game.chance_probabilities[c] > 0:
                        stack.append((c, probability * float(game.chance_probabilities[c])))
            else:
                s = int(state_of[v])
                successors[s] = successors.get(s, 0.0) + probability
        return successors, payoff

    def add(state: int, joints: np.ndarray, successors: dict[int, float],
            payoff: np.ndarray) -> None:
        for joint in joints.tolist():
            for target, probability in successors.items():
                rows.append(state * num_joint + joint)
                cols.append(target)
                data.append(probability)
        rewards[:, state, joints] = payoff[:, None]

    if root_is_chance:
        add(0, np.arange(num_joint), *follow(0))
    for v in decision.tolist():
        s = int(state_of[v])
        owner = int(player[v])
        first = int(game.first_child[v])
        count = int(game.num_children[v])
        for a in range(shape[owner]):  # an illegal (padded) action moves as the first one
            add(s, np.flatnonzero(joint_digits[owner] == a),
                *follow(first + (a if a < count else 0)))
    rows.extend(end * num_joint + j for j in range(num_joint))
    cols.extend([end] * num_joint)
    data.extend([1.0] * num_joint)
    transitions = sp.csr_array((np.asarray(data), (np.asarray(rows), np.asarray(cols))),
                               shape=(num_states * num_joint, num_states))
    initial = np.zeros(num_states)
    initial[0] = 1.0
    state_node = np.full(num_states, -1, dtype=np.int64)
    state_node[state_of[decision]] = decision
    markov = MarkovGame(transitions, rewards.reshape(num_players, num_states, *shape), initial,
                        1.0, terminal=np.arange(num_states) == end, observations=observations,
                        player_labels=list(game.player_labels))
    return MarkovView(markov, game, state_node, infoset_observation,
                      _legal_masks(game, markov, infoset_observation))


def _legal_masks(game: ExtensiveGame, markov: MarkovGame, infoset_observation: np.ndarray
                 ) -> tuple[np.ndarray, ...] | None:
    """Per player ``(O_i, n_i)``: the first ``n_I`` actions legal at an infoset's observation,
    every action elsewhere; ``None`` when nothing is illegal."""
    masks = []
    for i in range(game.num_players):
        mask = np.ones((markov.num_observations[i], markov.num_actions[i]), dtype=bool)
        for infoset in game.player_infosets(i).tolist():
            mask[infoset_observation[infoset], int(game.infoset_num_actions[infoset]):] = False
        mask.flags.writeable = False
        masks.append(mask)
    return None if all(mask.all() for mask in masks) else tuple(masks)


@dataclass(frozen=True)
class MarkovTree:
    """A finite-horizon Markov game as its perfect-recall game tree (:func:`tree_from_markov`).

    Attributes
    ----------
    game : ExtensiveGame
        The tree.
    markov : MarkovGame
        The Markov game it came from.
    horizon : int
        The number of stages unrolled.
    infoset_observation : numpy.ndarray
        The current observation (of the infoset's player) at every infoset.
    """

    game: ExtensiveGame
    markov: MarkovGame
    horizon: int
    infoset_observation: np.ndarray

    def profile(self, policies: Sequence[Any]) -> tuple[np.ndarray, ...]:
        """Markov policies (``(O_i, n_i)`` per player) as behaviour vectors of the tree: every
        infoset plays its current observation's row."""
        game = self.game
        out = []
        for i in range(game.num_players):
            policy = np.asarray(policies[i], dtype=float)
            expected = (self.markov.num_observations[i], self.markov.num_actions[i])
            if policy.shape != expected:
                raise InvalidArgumentError(f"policy of player {i + 1} must have shape "
                                           f"{expected}, got {policy.shape}")
            mine = game.player_infosets(i)
            out.append(policy[self.infoset_observation[mine]].reshape(-1))
        return tuple(out)


def _fixed_observations(markov: MarkovGame, player: int, live: np.ndarray) -> np.ndarray:
    """``(O_i,)`` bool: observations at whose every live reachable state the player's action
    changes no reward and no transition (exactly: no tolerance)."""
    idle = idle_states(markov, player, tol=0.0)
    observed = markov.observations[player]
    busy = np.zeros(markov.num_observations[player], dtype=bool)
    busy[observed[live & ~idle]] = True
    return ~busy


def tree_from_markov(markov: MarkovGame, *, horizon: int | None = None,
                     max_nodes: int | None = None) -> MarkovTree:
    """A finite-horizon Markov game as its perfect-recall game tree (module docstring).

    Parameters
    ----------
    markov : MarkovGame
    horizon : int, optional
        Stages to unroll; ``None`` takes the longest path to termination from a start state
        (the game's own horizon; a game with a reachable cycle then has none and needs one).
        A shorter horizon truncates the game after ``horizon`` stages.
    max_nodes : int, optional
        Largest tree built; default the limit ``max_tree_nodes`` of :mod:`gametools.limits`.

    Raises
    ------
    UnsupportedGameError
        For a game with a reachable cycle and no ``horizon``.
    ResourceLimitError
        When the tree would have more than ``max_nodes`` nodes (checked while building).
    InvalidArgumentError
        For a horizon that is not a positive integer.
    """
    if not isinstance(markov, MarkovGame):
        raise InvalidArgumentError(f"tree_from_markov: expected a MarkovGame, got "
                                   f"{type(markov).__name__}")
    starts = np.flatnonzero(markov.initial > 0)
    if horizon is None:
        levels = heights(markov)
        if levels is None:
            raise UnsupportedGameError(
                "tree_from_markov: the game has a reachable cycle, so it has no finite horizon; "
                "pass horizon= to unroll it that many stages (a truncated game)")
        stages = max(int(levels[starts].max(initial=0)), 1)
    else:
        if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)) \
                or horizon < 1:
            raise InvalidArgumentError(f"tree_from_markov: horizon must be a positive integer, "
                                       f"got {horizon!r}")
        stages = int(horizon)
    limit = current().max_tree_nodes if max_nodes is None else int(max_nodes)
    num_players = markov.num_players
    shape = markov.num_actions
    num_joint = markov.num_joint_actions
    matrix = markov.transition_matrix
    indptr, indices, probabilities = matrix.indptr, matrix.indices, matrix.data
    rewards = markov.rewards.reshape(num_players, markov.num_states, num_joint)
    terminal = markov.terminal
    observed = markov.observations
    live = markov.reachable_states() & ~terminal
    fixed = [_fixed_observations(markov, i, live) for i in range(num_players)]
    multipliers = np.ones(num_players, dtype=np.int64)  # C-order joint action index
    for i in range(num_players - 2, -1, -1):
        multipliers[i] = multipliers[i + 1] * shape[i + 1]
    gamma = float(markov.discount)
    labels = [tuple(markov.action_labels[i]) for i in range(num_players)]
    builder = TreeBuilder(num_players)
    infoset_observation: dict[tuple[int, Any], int] = {}
    count = 0
    zero = (0.0,) * num_players
    empty: tuple[tuple[int, ...], ...] = ((),) * num_players
    # tasks: ("stage", at, state, t, payoffs, observation histories, action histories) and
    # ("move", at, state, t, payoffs, observation histories, action histories, movers, joint)
    stack: list[tuple[Any, ...]] = []
    if starts.size == 1:
        stack.append(("stage", None, int(starts[0]), 0, zero, empty, empty))
    else:
        root = builder.chance(None, probabilities=[float(markov.initial[s]) for s in starts],
                              labels=[markov.state_labels[s] for s in starts])
        count += 1
        for k, s in enumerate(starts.tolist()):
            stack.append(("stage", (root, k), s, 0, zero, empty, empty))
    while stack:
        task = stack.pop()
        count += 1
        if count > limit:
            if max_nodes is None:
                check("max_tree_nodes", count, "nodes of the tree unrolled from the Markov game")
            raise ResourceLimitError(f"tree_from_markov: the tree has more than {limit} nodes "
                                     "(max_nodes)")
        if task[0] == "stage":
            _, at, state, t, payoffs, seen, acted = task
            if terminal[state] or t >= stages:
                builder.terminal(at, payoffs=payoffs)
                continue
            seen = tuple(h + (int(observed[i, state]),) for i, h in enumerate(seen))
            movers = tuple(i for i in range(num_players)
                           if not fixed[i][observed[i, state]])
            task = ("move", at, state, t, payoffs, seen, acted, movers, 0)
        _, at, state, t, payoffs, seen, acted, movers, joint = task
        if movers:
            i = movers[0]
            key = (seen[i], acted[i])
            if (i, key) not in infoset_observation:
                infoset_observation[(i, key)] = int(observed[i, state])
                label = f"{markov.player_labels[i]} obs={list(seen[i])} acts={list(acted[i])}"
            else:
                label = None
            node = builder.decision(at, player=i, infoset=key, actions=labels[i],
                                    infoset_label=label)
            for a in range(shape[i] - 1, -1, -1):
                now = acted[:i] + (acted[i] + (a,),) + acted[i + 1:]
                stack.append(("move", (node, a), state, t, payoffs, seen, now, movers[1:],
                              joint + a * int(multipliers[i])))
            continue
        weight = gamma ** t
        paid = tuple(p + weight * float(rewards[j, state, joint]) for j, p in enumerate(payoffs))
        row = state * num_joint + joint
        successors = indices[indptr[row]:indptr[row + 1]]
        chances = probabilities[indptr[row]:indptr[row + 1]]
        keep = chances > 0
        successors, chances = successors[keep], chances[keep]
        if t + 1 >= stages or bool(terminal[successors].all()):
            builder.terminal(at, payoffs=paid)
            continue
        if successors.size == 1:
            stack.append(("stage", at, int(successors[0]), t + 1, paid, seen, acted))
            continue
        node = builder.chance(at, probabilities=[float(c) for c in chances],
                              labels=[markov.state_labels[s] for s in successors.tolist()])
        for k in range(successors.size - 1, -1, -1):
            stack.append(("stage", (node, k), int(successors[k]), t + 1, paid, seen, acted))
    game = builder.build(title=f"Markov game unrolled for {stages} stages",
                         player_labels=list(markov.player_labels))
    ids = np.full(game.num_infosets, -1, dtype=np.int64)
    # TreeBuilder numbers infosets in order of creation, which is the order of the dict
    ids[:] = list(infoset_observation.values())
    ids.flags.writeable = False
    return MarkovTree(game, markov, stages, ids)
