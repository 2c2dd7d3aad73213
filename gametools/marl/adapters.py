"""The one policy adapter: learned modules, callables and tables -> callables or tabular policies.

Every tool that reads policies (the training driver's exact NashConv, the approximate best
responses, the studies) goes through these two functions, so a policy means the same thing
everywhere:

- :func:`as_callables` gives one callable per agent, ``observations (B, d) -> probabilities
  (B, n)`` (discrete) or ``-> actions (B, *shape)`` (continuous): a learner's current policy, a
  callable as given, or a tabular policy read at one-hot observation ids;
- :func:`as_tabular` gives the tabular profile ``(O_i, n_i)`` per agent on a
  :class:`~gametools.model.MarkovGame`: discrete policies are read at the one-hot encoding of
  every observation id; continuous ones through the scenario's ``projection`` (a representative
  continuous observation per id, the deterministic action there mapped to the nearest grid
  action).

Recurrent learners (``recurrent=True``) act on the observation history and have neither form;
both functions refuse them with the reason.

Examples
--------
>>> import numpy as np, torch
>>> from gametools import NormalFormGame
>>> from gametools.marl.adapters import as_callables, as_tabular
>>> game = NormalFormGame.zero_sum([[1, -1], [-1, 1]]).to_markov_game()
>>> policies = as_callables([np.array([0.8, 0.2]), lambda obs: torch.full((len(obs), 2), 0.5)], 2)
>>> policies[0](torch.eye(1)).tolist()
[[0.800000011920929, 0.20000000298023224]]
>>> game.num_observations  # the play state and the terminal state
(2, 2)
>>> [table.tolist() for table in as_tabular(policies, game)]
[[[0.8, 0.2], [0.8, 0.2]], [[0.5, 0.5], [0.5, 0.5]]]
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from gametools.errors import InvalidArgumentError
from gametools.marl.learner import Learner
from gametools.model import MarkovGame
from gametools.policies import Profile, validate_profile
from gametools.scenarios import Scenario

__all__ = ["Policy", "PolicySource", "as_callables", "as_tabular"]

#: A policy: observations ``(B, obs_size)`` -> action probabilities ``(B, n)`` (discrete) or
#: actions ``(B, *shape)`` (continuous).
Policy = Callable[[torch.Tensor], torch.Tensor]

#: What the adapters accept: a learner, or one entry per agent (a :data:`Policy`, a tabular
#: policy ``(O_i, n_i)`` or strategy ``(n_i,)``, or ``None`` where no policy is needed).
PolicySource = Learner | Sequence[Policy | np.ndarray | None]


@dataclass(frozen=True)
class _LearnerPolicy:
    """A learner's current policy of one agent, as a callable."""

    learner: Learner
    agent: int

    def __call__(self, observations: torch.Tensor) -> torch.Tensor:
        return self.learner.policy(self.agent, observations)


@dataclass(frozen=True)
class _TablePolicy:
    """A tabular policy read at one-hot observations (``obs @ table``); a strategy ``(n,)`` is
    the same distribution at every observation."""

    table: torch.Tensor

    def __call__(self, observations: torch.Tensor) -> torch.Tensor:
        if self.table.dim() == 1:
            return self.table.to(observations.device).expand(observations.shape[0], -1)
        if observations.shape[-1] != self.table.shape[0]:
            raise InvalidArgumentError(f"a tabular policy with {self.table.shape[0]} observations "
                                       f"cannot read observations of size "
                                       f"{observations.shape[-1]} (one-hot observation ids "
                                       "expected)")
        return observations.to(torch.float32) @ self.table.to(observations.device)


def as_callables(policies: PolicySource, num_agents: int) -> list[Policy | None]:
    """One callable (or ``None``) per agent.

    Parameters
    ----------
    policies : Learner or sequence
        A trained learner (its current ``policy(agent, obs)``), or one entry per agent: a
        callable ``obs -> probabilities / actions``, a tabular policy ``(O_i, n_i)`` (read at
        one-hot observation ids) or strategy ``(n_i,)``, or ``None``.
    num_agents : int

    Returns
    -------
    list of callables or None, length ``num_agents``
    """
    if isinstance(policies, Learner):
        policies.require_feedforward()
        return [_LearnerPolicy(policies, agent) for agent in range(num_agents)]
    if isinstance(policies, (str, bytes)) or not isinstance(policies, Sequence):
        raise InvalidArgumentError(f"policies must be a Learner or a sequence with one policy per "
                                   f"agent, got {type(policies).__name__}")
    if len(policies) != num_agents:
        raise InvalidArgumentError(f"policies needs one entry per agent ({num_agents}), got "
                                   f"{len(policies)}")
    out: list[Policy | None] = []
    for agent, policy in enumerate(policies):
        if policy is None or callable(policy):
            out.append(policy)
            continue
        table = np.asarray(policy, dtype=float)
        if table.ndim not in (1, 2):
            raise InvalidArgumentError(f"policy {agent} must be callable or a tabular policy "
                                       f"(O_i, n_i), got an array of shape {table.shape}")
        out.append(_TablePolicy(torch.tensor(table, dtype=torch.float32)))
    return out


@torch.no_grad()
def as_tabular(policies: PolicySource | Any, game: MarkovGame, *,
               scenario: Scenario | None = None, params: Mapping[str, Any] | None = None,
               discrete: bool | None = None) -> Profile:
    """The tabular profile of ``policies`` on ``game`` (see the module docstring).

    Parameters
    ----------
    policies : Learner or sequence
        As for :func:`as_callables` (every agent needs an entry), or any object with a
        ``policy(agent, observations)`` method and a ``discrete`` attribute.
    game : MarkovGame
    scenario : Scenario, optional
        Continuous policies are projected with its ``projection``.
    params : mapping, optional
        The scenario's parameters.
    discrete : bool, optional
        Whether the policies return probabilities (default: the learner's action spaces;
        ``True`` for a sequence).

    Returns
    -------
    Profile
        ``(O_i, n_i)`` per agent, validated.
    """
    if isinstance(policies, Learner):
        policies.require_feedforward()
    entries: list[Any]
    source: Any = policies
    if hasattr(source, "policy"):  # a learner, or an object that reads like one
        read: Callable[[int, torch.Tensor], torch.Tensor] = source.policy
        discrete = bool(source.discrete) if discrete is None else discrete
        entries = [None] * game.num_players
    else:
        as_callables(source, game.num_players)  # validates the entries
        entries = list(source)
        if any(entry is None for entry in entries):
            raise InvalidArgumentError("every agent needs a policy for a tabular profile")
        read = lambda agent, observations: entries[agent](observations)
        discrete = True if discrete is None else discrete
    tables = []
    for agent in range(game.num_players):
        if entries[agent] is not None and not callable(entries[agent]):
            table = np.asarray(entries[agent], dtype=float)  # tables stay in float64
            if table.ndim == 1:  # a strategy: the same distribution at every observation
                table = np.tile(table, (game.num_observations[agent], 1))
            tables.append(table)
            continue
        if discrete:
            output = read(agent, torch.eye(game.num_observations[agent]))
            table = output.to(torch.float64).cpu().numpy()
            # float32 network outputs sum to one up to rounding: renormalising in float64 is
            # the representation change, not a repair of an invalid policy
            tables.append(table / table.sum(axis=1, keepdims=True))
            continue
        projection = None if scenario is None else scenario.projection
        if projection is None:
            raise InvalidArgumentError("continuous actions need the scenario's projection onto "
                                       "its discretised game")
        resolved = dict(params or {})
        observations = torch.as_tensor(
            np.asarray(projection.observations(game, agent, **resolved)), dtype=torch.float32)
        actions = read(agent, observations).double().cpu().numpy()
        index = np.asarray(projection.actions(game, agent, actions, **resolved), dtype=int)
        tables.append(np.eye(game.num_actions[agent])[index])
    return validate_profile(game, tables, atol=1e-6)
