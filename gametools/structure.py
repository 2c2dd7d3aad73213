"""Structural facts of a Markov game, each defined once.

Every solver, evaluator and learner that asks one of these questions calls the function here;
a second definition would be a bug waiting to diverge.

Definitions
-----------
- *Acting states*: the non-terminal states reachable from the initial distribution under some
  joint policy (:func:`acting_states`). Only there do policies matter for values.
- Player ``i`` *sees the state* when its observation map is one-to-one on the acting states
  (:func:`sees_state`): every observation-indexed policy is then a state-indexed one and back
  (:func:`observation_states` maps observations to states, :func:`observation_policies` lifts
  state-indexed policies onto observations, :func:`state_game` drops the observation map).
- The *height* of a state is the largest number of steps to termination from it (0 at terminal
  states); a game has heights exactly when no cycle is reachable (:func:`heights`,
  :func:`topological_order`).
- Player ``i`` has *perfect recall* when its observation determines its own past observations
  and actions (:func:`has_perfect_recall`), ignoring actions that change nothing
  (:func:`idle_states`: the player's action changes neither rewards nor transitions there, as a
  waiting player's moves in a turn-based game).

Facts are computed once per game object (games are immutable) and cached weakly.

Examples
--------
>>> import numpy as np
>>> from gametools import NormalFormGame
>>> from gametools.structure import heights, sees_state
>>> game = NormalFormGame.zero_sum([[1, -1], [-1, 1]]).to_markov_game()
>>> sees_state(game), heights(game).tolist()
(True, [1, 0])
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np
import scipy.sparse as sp

from gametools.model import MarkovGame

__all__ = ["acting_states", "has_perfect_recall", "heights", "idle_states", "observation_policies",
           "observation_states", "reachable", "sees_state", "state_game", "topological_order"]

_T = TypeVar("_T")

# structural facts of a game, computed once per game object (games are immutable)
_FACTS: weakref.WeakKeyDictionary[MarkovGame, dict[Any, Any]] = weakref.WeakKeyDictionary()


def _cached(game: MarkovGame, key: Any, compute: Callable[[], _T]) -> _T:
    facts = _FACTS.setdefault(game, {})
    if key not in facts:
        facts[key] = compute()
    return facts[key]  # type: ignore[no-any-return]


def reachable(game: MarkovGame) -> np.ndarray:
    """States reachable from the support of ``initial``, ``(S,)`` bool, read-only.

    The same set as :meth:`MarkovGame.reachable_states` (a transition counts when it is stored,
    and terminal states lead nowhere), found by a breadth-first search that reads the
    successors of each newly reached state straight from the transition matrix's index arrays:
    every stored entry is read at most once and no state-to-state matrix is built.
    """
    def compute() -> np.ndarray:
        matrix = game.transition_matrix
        num_joint = game.num_joint_actions
        indptr = matrix.indptr
        reached = np.asarray(game.initial > 0).copy()
        frontier = np.flatnonzero(reached & ~game.terminal)
        while frontier.size:
            found = []
            for chunk in _chunks(frontier, indptr, num_joint):
                successors = matrix.indices[_ranges(indptr[chunk * num_joint],
                                                    indptr[(chunk + 1) * num_joint])]
                fresh = successors[~reached[successors]]
                reached[fresh] = True
                found.append(fresh)
            fresh = np.concatenate(found)
            if fresh.size > game.num_states // 8:  # deduplicate by a scan: O(S), paid by the gather
                mark = np.zeros(game.num_states, dtype=bool)
                mark[fresh] = True
                targets = np.flatnonzero(mark)
            else:
                targets = np.unique(fresh)
            frontier = targets[~game.terminal[targets]]
        reached.flags.writeable = False
        return reached
    return _cached(game, "reachable", compute)


#: Entries of the transition matrix gathered at once by :func:`reachable` (bounds its memory).
_GATHER_ENTRIES = 1 << 22


def _chunks(states: np.ndarray, indptr: np.ndarray, num_joint: int) -> list[np.ndarray]:
    """``states`` split into runs whose transition rows hold about ``_GATHER_ENTRIES`` entries."""
    sizes = indptr[(states + 1) * num_joint] - indptr[states * num_joint]
    cuts = np.searchsorted(np.cumsum(sizes), np.arange(_GATHER_ENTRIES, int(sizes.sum()),
                                                       _GATHER_ENTRIES))
    return [chunk for chunk in np.split(states, np.unique(cuts) + 1) if chunk.size]


def _ranges(starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
    """Concatenation of ``arange(start, stop)`` over the pairs, vectorised."""
    lengths = (stops - starts).astype(np.int64)
    total = int(lengths.sum())
    if total == 0:
        return np.empty(0, dtype=np.int64)
    offsets = np.cumsum(lengths) - lengths
    return np.repeat(starts.astype(np.int64) - offsets, lengths) + np.arange(total)


def acting_states(game: MarkovGame) -> np.ndarray:
    """Reachable non-terminal states, ``(S,)`` bool, read-only: where policies matter."""
    def compute() -> np.ndarray:
        states = reachable(game) & ~game.terminal
        states.flags.writeable = False
        return states
    return _cached(game, "acting", compute)


def sees_state(game: MarkovGame, player: int | None = None) -> bool:
    """Whether ``player`` (every player when None) observes the state.

    True when the player's observation map is one-to-one on :func:`acting_states`; always true
    for a game built without observations.

    Parameters
    ----------
    game : MarkovGame
    player : int, optional

    Returns
    -------
    bool
    """
    if game.fully_observed:
        return True
    players = range(game.num_players) if player is None else (player,)
    return all(_one_to_one(game, i) for i in players)


def _one_to_one(game: MarkovGame, player: int) -> bool:
    def compute() -> bool:
        acting = acting_states(game)
        return int(np.unique(game.observations[player][acting]).size) == int(acting.sum())
    return _cached(game, ("sees", player), compute)


def observation_states(game: MarkovGame, player: int) -> np.ndarray:
    """The state each of ``player``'s observations identifies, ``(O_i,)`` int.

    Meant for players that :func:`sees_state`. An observation of an acting state maps to that
    state; one used only by other non-terminal states maps to one of them (an acting state wins
    a shared observation); ids no non-terminal state uses map to ``-1``.
    """
    acting = acting_states(game)
    out = np.full(game.num_observations[player], -1, dtype=np.int64)
    observed = game.observations[player]
    for states in (~game.terminal & ~acting, acting):  # acting states last: they win
        indices = np.flatnonzero(states)
        out[observed[indices]] = indices
    return out


def observation_policies(game: MarkovGame, state_policies: Sequence[np.ndarray]
                         ) -> tuple[np.ndarray, ...]:
    """Turn state-indexed policies ``(S, n_i)`` into observation-indexed ones ``(O_i, n_i)``.

    Meant for players that :func:`sees_state`: each observation takes the distribution of the
    state it identifies (:func:`observation_states`); ids no non-terminal state uses get the
    uniform distribution.

    Parameters
    ----------
    game : MarkovGame
    state_policies : sequence of array_like, shape (S, n_i) each

    Returns
    -------
    tuple of ndarray, shape (O_i, n_i) each
    """
    out = []
    for i, policy in enumerate(state_policies):
        n_i = game.num_actions[i]
        states = observation_states(game, i)
        rows = np.full((game.num_observations[i], n_i), 1.0 / n_i)
        used = states >= 0
        rows[used] = np.asarray(policy, dtype=float)[states[used]]
        out.append(rows)
    return tuple(out)


def state_game(game: MarkovGame) -> MarkovGame:
    """The same game with its observation map dropped: every player acts on the state.

    For a game in which every player :func:`sees_state`, solvers of state-indexed policies run
    on this copy and lift their policies back with :func:`observation_policies`.
    """
    if game.fully_observed:
        return game
    return MarkovGame(game.transitions, game.rewards, game.initial, game.discount,
                      terminal=game.terminal, state_labels=game.state_labels,
                      player_labels=game.player_labels, action_labels=game.action_labels)


def heights(game: MarkovGame) -> np.ndarray | None:
    """Largest number of steps to termination from every state, or None if a cycle is reachable.

    Terminal states have height 0; unreachable states on or leading to cycles get 0 too (they
    never matter). A reachable cycle is looked for first by following one stored successor of
    every state (pointer doubling, ``O(S log S)``): on a cyclic game this usually answers None
    without building anything. Otherwise heights are computed level by level, one vectorised
    pass per level.

    Returns
    -------
    ndarray of int, shape (S,), read-only, or None
    """
    return _cached(game, "heights", lambda: _compute_heights(game))


def _compute_heights(game: MarkovGame) -> np.ndarray | None:
    if _follows_into_cycle(game):
        return None
    matrix = game.transition_matrix
    num_joint = game.num_joint_actions
    rows = np.repeat(np.arange(matrix.shape[0]) // num_joint, np.diff(matrix.indptr))
    live = ~game.terminal
    successor = sp.csr_array((np.ones(rows.size), (rows, matrix.indices)),
                             shape=(game.num_states, game.num_states))
    successor = sp.csr_array(sp.diags_array(live.astype(float)) @ successor)
    reached = reachable(game)
    out = np.where(live, -1, 0)
    unresolved = live.copy()
    level = 0
    while unresolved.any():
        level += 1
        pending = successor @ unresolved.astype(float)
        ready = unresolved & (pending == 0)
        if not ready.any():
            # the remaining states lie on or lead to cycles; fine only if none is reachable
            if (unresolved & reached).any():
                return None
            out = np.where(out < 0, 0, out)
            break
        out[ready] = level
        unresolved &= ~ready
    out.flags.writeable = False
    return out


def _follows_into_cycle(game: MarkovGame) -> bool:
    """Whether following the first stored successor from some reachable state never ends.

    Every non-terminal state points to the target of its first stored transition entry (none if
    it has no entry); a walk along these pointers from a reachable state that does not reach a
    state without a pointer within ``S`` steps is on a cycle, and that cycle is reachable. A
    True answer proves a reachable cycle; False proves nothing.
    """
    matrix = game.transition_matrix
    num_states, num_joint = game.num_states, game.num_joint_actions
    starts = matrix.indptr[np.arange(num_states) * num_joint]
    stops = matrix.indptr[(np.arange(num_states) + 1) * num_joint]
    has_entry = (stops > starts) & ~game.terminal
    pointer = np.full(num_states + 1, num_states, dtype=np.int64)  # num_states: the walk ended
    pointer[:num_states][has_entry] = matrix.indices[starts[has_entry]]
    steps = 1
    while steps < num_states + 1:
        pointer = pointer[pointer]
        steps *= 2
    return bool(np.any(pointer[:num_states][reachable(game)] < num_states))


def topological_order(game: MarkovGame) -> np.ndarray | None:
    """States by decreasing height (every transition goes forward), or None if cyclic."""
    def compute() -> np.ndarray | None:
        levels = heights(game)
        return None if levels is None else np.argsort(-levels, kind="stable")
    return _cached(game, "order", compute)


def has_perfect_recall(game: MarkovGame, player: int) -> bool:
    """Whether ``player``'s observation determines its own past observations and actions.

    Holds when every acting state has exactly one predecessor record ``(observation, own
    action)`` (or is only an initial state), and all states sharing an observation share it.
    An action that changes nothing (:func:`idle_states`) is not part of the record: forgetting
    it loses nothing.
    """
    return _cached(game, ("recall", player), lambda: _compute_perfect_recall(game, player))


def _compute_perfect_recall(game: MarkovGame, player: int) -> bool:
    reachable = acting_states(game)
    matrix = game.transition_matrix
    num_joint = game.num_joint_actions
    n_i = game.num_actions[player]
    observed = game.observations[player]
    idle = idle_states(game, player)
    coo = matrix.tocoo()
    source, joint = np.divmod(coo.row, num_joint)
    keep = reachable[source] & ~game.terminal[source] & (coo.data > 0)
    source = source[keep]
    own = np.unravel_index(joint[keep], game.num_actions)[player]
    own = np.where(idle[source], n_i, own)  # n_i stands for "any action"
    record = observed[source] * (n_i + 1) + own
    target = coo.col[keep]
    roots = np.flatnonzero(game.initial > 0)
    target = np.concatenate([target, roots])
    record = np.concatenate([record, np.full(roots.size, -1)])
    # unique (state, record) pairs, packed into one integer each: 1-D unique is much faster
    width = int(observed.max() + 1) * (n_i + 1) + 1
    packed = np.unique(target.astype(np.int64) * width + (record + 1))
    states, records = np.divmod(packed, width)
    live = ~game.terminal[states]
    states, records = states[live], records[live]
    if np.unique(states).size != states.size:
        return False  # some state is reached with two different own histories
    by_observation = np.unique(observed[states].astype(np.int64) * width + records)
    return bool(np.unique(by_observation // width).size == by_observation.size)


def idle_states(game: MarkovGame, player: int, tol: float = 1e-12) -> np.ndarray:
    """States where ``player``'s action changes neither rewards nor transitions, ``(S,)`` bool.

    Rewards are compared within ``tol`` times the largest reward magnitude (games at payoff
    scale 1e-13 have real differences below 1e-12), transition probabilities within ``tol``.
    """
    shape = (game.num_states, *game.num_actions)
    rewards = game.rewards.reshape(game.num_players, *shape)
    first = np.take(rewards, [0], axis=player + 2)
    reward_tol = tol * (float(np.abs(rewards).max()) if rewards.size else 1.0)
    same_rewards = (np.abs(rewards - first) <= reward_tol).reshape(game.num_players, game.num_states,
                                                            -1).all(axis=(0, 2))
    # compare every row P(. | s, a) with the row where the player's action is replaced by 0
    joint = np.arange(game.num_joint_actions)
    digits = list(np.unravel_index(joint, game.num_actions))
    digits[player] = np.zeros_like(joint)
    base = np.ravel_multi_index(digits, game.num_actions)
    rows = (np.arange(game.num_states)[:, None] * game.num_joint_actions + base).ravel()
    matrix = game.transition_matrix
    difference = abs(matrix - matrix[rows])
    same_transitions = (difference.max(axis=1).toarray().ravel() <= tol
                        ).reshape(game.num_states, -1).all(axis=1)
    return np.asarray(same_rewards & same_transitions)
