"""Evaluation of a *correlated* joint policy: its values and its coarse-correlated-equilibrium gap.

A centralised learner picks a joint action from one distribution ``pi(a | s)`` over all joint
actions; the agents' actions are correlated, so the product of the per-agent marginals is a
different policy with different values (in the penalty game of Claus & Boutilier 1998 the joint
policy ``1/2 (0, 2) + 1/2 (2, 0)`` earns 10 a step, the product of its marginals -45). This module
evaluates the joint policy itself:

- :func:`correlated_values`: ``value_i(pi) = E[sum_t gamma^t r_i(s_t, a_t)]`` with ``a_t ~ pi(. | s_t)``;
- :func:`cce_gap`: each agent's best gain from ignoring the recommendation and playing a policy
  of its own while the others keep playing their part of ``pi`` (their joint marginal
  ``pi_-i(a_-i | s)``, still correlated among themselves). ``pi`` is a coarse correlated
  equilibrium (Moulin & Vial 1978; the Markov version of e.g. Daskalakis et al. 2023) exactly when
  no agent gains; the gap is ``sum_i max(0, gain_i)``. A gain can be negative: the
  recommendation is then strictly better than any unilateral deviation.

Both reduce to the public evaluators of :mod:`gametools.exploitability` on derived games: the
value, on a game in which one "team" player picks the joint action (the others have a single
action); a deviation, on the two-player game of agent ``i`` against the merged others. The
deviation's kind (``exact``, or an ``upper_bound`` when agent ``i`` does not observe the state and
the horizon or recall rules out an exact best response) is that of
:func:`gametools.exploitability.best_response`.

Examples
--------
>>> import numpy as np
>>> from gametools import NormalFormGame
>>> from gametools.marl.correlated import cce_gap
>>> penalty = NormalFormGame(np.stack([np.array([[-100, 0, 10], [0, 2, 0], [10, 0, -100]])] * 2))
>>> joint = np.zeros((3, 3)); joint[0, 2] = joint[2, 0] = 0.5
>>> report = cce_gap(penalty, joint)
>>> report.values.tolist(), report.per_player.tolist(), report.gap
([10.0, 10.0], [-10.0, -10.0], 0.0)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp

from gametools.errors import InvalidArgumentError
from gametools.exploitability import Kind, best_response, policy_values
from gametools.model import MarkovGame, NormalFormGame

__all__ = ["CorrelatedGap", "correlated_values", "cce_gap", "joint_policy_array"]


@dataclass(frozen=True)
class CorrelatedGap:
    """Values and deviation gains of a correlated joint policy.

    Attributes
    ----------
    gap : float
        ``sum_i max(0, per_player[i])``: zero exactly at a coarse correlated equilibrium.
    per_player : ndarray, shape (N,)
        ``value_i(best deviation, pi_-i) - value_i(pi)``; negative when following the joint
        policy is strictly better than any unilateral deviation.
    values : ndarray, shape (N,)
        ``value_i(pi)`` of the joint policy (exact).
    best_response_values : ndarray, shape (N,)
        Value of each agent's best deviation (a bound when the kind says so).
    kind : {"exact", "upper_bound", "lower_bound"}
    per_player_kind : tuple of str
    concept : str
        Always ``"coarse_correlated"``: the gap is not a NashConv.
    """

    gap: float
    per_player: np.ndarray
    values: np.ndarray
    best_response_values: np.ndarray
    kind: Kind
    per_player_kind: tuple[Kind, ...]
    tolerance: float
    concept: Literal["coarse_correlated"] = "coarse_correlated"

    def to_dict(self) -> dict[str, Any]:
        return {"concept": self.concept, "cce_gap": float(self.gap),
                "per_player": [float(v) for v in self.per_player],
                "values": [float(v) for v in self.values],
                "best_response_values": [float(v) for v in self.best_response_values],
                "kind": self.kind, "per_player_kind": list(self.per_player_kind),
                "tolerance": float(self.tolerance)}


def _as_markov(game: NormalFormGame | MarkovGame) -> MarkovGame:
    if isinstance(game, NormalFormGame):
        return game.to_markov_game()
    if not isinstance(game, MarkovGame):
        raise InvalidArgumentError(f"expected a NormalFormGame or MarkovGame, got "
                                   f"{type(game).__name__}")
    return game


def joint_policy_array(game: NormalFormGame | MarkovGame, joint: Any) -> np.ndarray:
    """Validate a joint policy and return it as ``(S, A)`` rows over flattened joint actions.

    ``joint`` has shape ``(S, n_1, ..., n_N)`` or ``(S, A)``, or for a normal-form game
    ``(n_1, ..., n_N)`` or ``(A,)``; rows of non-terminal states must be distributions.
    """
    markov = _as_markov(game)
    array = np.asarray(joint, dtype=float)
    num_states, num_joint = markov.num_states, markov.num_joint_actions
    if isinstance(game, NormalFormGame) and array.size == num_joint:
        # the one-shot game's Markov form has a play state and a terminal state
        array = np.stack([array.reshape(num_joint), np.full(num_joint, 1.0 / num_joint)])
    if array.size != num_states * num_joint:
        raise InvalidArgumentError(f"joint policy must have {num_states} x {num_joint} entries "
                                   f"(states x joint actions), got shape {array.shape}")
    array = array.reshape(num_states, num_joint)
    live = ~markov.terminal
    if not np.all(np.isfinite(array)) or np.any(array < -1e-9) or not np.allclose(
            array[live].sum(axis=1), 1.0, atol=1e-6):
        raise InvalidArgumentError("joint policy rows must be probability distributions")
    return np.clip(array, 0.0, None) / array.sum(axis=1, keepdims=True).clip(1e-300)


def _team_game(game: MarkovGame) -> MarkovGame:
    """Agent 0 picks the joint action (observing the state); agents 1..N-1 have one action."""
    num_players, num_states = game.num_players, game.num_states
    rewards = game.rewards.reshape(num_players, num_states, game.num_joint_actions,
                                   *([1] * (num_players - 1)))
    observations = np.zeros((num_players, num_states), dtype=int)
    observations[0] = np.arange(num_states)
    # rows s * A + a are the same: the singleton actions do not change the flattening
    return MarkovGame(game.transition_matrix, rewards, game.initial, game.discount,
                      terminal=game.terminal, observations=observations)


def _deviation_game(game: MarkovGame, player: int) -> tuple[MarkovGame, np.ndarray]:
    """Agent ``player`` against the merged others (who observe the state), and the permutation
    from (own action, others' joint action) rows to the original joint actions."""
    shape = game.num_actions
    others = [j for j in range(game.num_players) if j != player]
    order = [player, *others]
    num_states, num_joint = game.num_states, game.num_joint_actions
    # index of the original joint action for every (a_i, a_-i) in the merged order
    permutation = np.arange(num_joint).reshape(shape).transpose(order).reshape(-1)
    rows = (np.arange(num_states)[:, None] * num_joint + permutation[None, :]).reshape(-1)
    transitions = sp.csr_array(game.transition_matrix[rows])
    own = game.rewards[player].reshape(num_states, num_joint)[:, permutation]
    merged = shape[player], math.prod(shape[j] for j in others)
    rewards = np.stack([own, own]).reshape(2, num_states, *merged)
    observations = np.stack([game.observations[player], np.arange(num_states)])
    return MarkovGame(transitions, rewards, game.initial, game.discount, terminal=game.terminal,
                      observations=observations), permutation


def correlated_values(game: NormalFormGame | MarkovGame, joint: Any) -> np.ndarray:
    """Every agent's value of the correlated joint policy ``joint`` (see module docstring)."""
    markov = _as_markov(game)
    rows = joint_policy_array(game, joint)
    dummies = [np.ones((1, 1))] * (markov.num_players - 1)
    return np.asarray(policy_values(_team_game(markov), [rows, *dummies]), dtype=float)


def cce_gap(game: NormalFormGame | MarkovGame, joint: Any, *,
            bound: Literal["upper", "lower"] = "upper") -> CorrelatedGap:
    """Values of a correlated joint policy and every agent's best unilateral deviation gain.

    Parameters
    ----------
    game : NormalFormGame or MarkovGame
    joint : array_like
        ``(S, n_1, ..., n_N)`` or ``(S, A)`` (a normal-form game also takes ``(n_1, ..., n_N)``).
    bound : {"upper", "lower"}
        The bound reported where an agent's exact best deviation is intractable.

    Returns
    -------
    CorrelatedGap
    """
    markov = _as_markov(game)
    rows = joint_policy_array(game, joint)
    values = correlated_values(game, rows)
    best, kinds, tolerance = [], [], 0.0
    for player in range(markov.num_players):
        deviation, permutation = _deviation_game(markov, player)
        n_own = markov.num_actions[player]
        others = rows[:, permutation].reshape(markov.num_states, n_own, -1).sum(axis=1)
        others = others / others.sum(axis=1, keepdims=True).clip(1e-300)
        start = np.full((deviation.num_observations[0], n_own), 1.0 / n_own)
        response = best_response(deviation, [start, others], 0, bound=bound)
        best.append(response.value)
        kinds.append(response.kind)
        tolerance = max(tolerance, response.tolerance)
    best_values = np.array(best, dtype=float)
    gains = best_values - values
    scale = 1e-9 * (1.0 + np.abs(values))
    gains = np.where(np.abs(gains) <= 10 * tolerance + scale, 0.0, gains)
    kind: Kind = "exact"
    for candidate in ("upper_bound", "lower_bound"):
        if candidate in kinds:
            kind = candidate  # type: ignore[assignment]
    for array in (gains, values, best_values):
        array.flags.writeable = False
    return CorrelatedGap(float(np.maximum(gains, 0.0).sum()), gains, values, best_values, kind,
                         tuple(kinds), float(tolerance))
