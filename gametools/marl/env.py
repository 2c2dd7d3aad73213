"""Batched (vectorised) multi-agent environments in torch.

One interface, :class:`VectorEnv`, serves every learner: ``num_envs`` episodes advance together
as tensor operations, finished episodes restart automatically, and randomness comes from the
environment's own ``torch.Generator`` (same seed, same trajectories). Two kinds implement it:

- :class:`TensorGameEnv` runs any :class:`~gametools.model.MarkovGame` (discrete actions,
  one-hot observations of each player's observation id, one-hot global state);
- the continuous scenarios' simulators (``games/``) run their own dynamics behind it.

Conventions
-----------
- ``observations`` is a tuple with one ``(B, observation_sizes[i])`` float tensor per agent;
  ``state`` is ``(B, state_size)`` (the global state for centralised critics).
- ``actions`` passed to :meth:`VectorEnv.step` are one tensor per agent: ``(B,)`` int64 for
  :class:`Discrete`, ``(B, *shape)`` float for :class:`Box`.
- ``rewards`` is ``(B, N)``; ``terminated`` (a terminal state was reached: do not bootstrap) and
  ``truncated`` (the step limit: bootstrap from ``final_state``) are ``(B,)`` bool. The returned
  observations already belong to the next episode where an episode ended; the observations of
  the state reached are in ``final_observations`` / ``final_state``.

Examples
--------
>>> import torch
>>> from gametools import NormalFormGame
>>> from gametools.marl.env import TensorGameEnv
>>> pennies = NormalFormGame.zero_sum([[1, -1], [-1, 1]]).to_markov_game()
>>> env = TensorGameEnv(pennies, num_envs=4, seed=0)
>>> first = env.reset()
>>> step = env.step([torch.zeros(4, dtype=torch.long), torch.ones(4, dtype=torch.long)])
>>> step.rewards.shape, bool(step.terminated.all()), step.rewards[0].tolist()
(torch.Size([4, 2]), True, [-1.0, 1.0])
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from gametools.errors import InvalidArgumentError
from gametools.model import MarkovGame

__all__ = ["Discrete", "Box", "Reset", "Step", "VectorEnv", "TensorGameEnv", "longest_episode"]


@dataclass(frozen=True)
class Discrete:
    """``n`` actions, passed as int64 indices."""

    n: int


@dataclass(frozen=True)
class Box:
    """Continuous actions in ``[low, high]`` of the given shape, passed as float tensors."""

    low: float
    high: float
    shape: tuple[int, ...] = (1,)


@dataclass(frozen=True)
class Reset:
    observations: tuple[torch.Tensor, ...]
    state: torch.Tensor


@dataclass(frozen=True)
class Step:
    observations: tuple[torch.Tensor, ...]
    state: torch.Tensor
    rewards: torch.Tensor
    terminated: torch.Tensor
    truncated: torch.Tensor
    final_observations: tuple[torch.Tensor, ...]
    final_state: torch.Tensor


class VectorEnv(abc.ABC):
    """``num_envs`` simultaneous-move episodes of an ``num_agents``-agent game, batched."""

    num_agents: int
    num_envs: int
    device: torch.device
    observation_sizes: tuple[int, ...]
    state_size: int
    action_spaces: tuple[Discrete | Box, ...]
    discount: float

    @abc.abstractmethod
    def reset(self, *, seed: int | None = None) -> Reset:
        """Start all episodes (reseeding the generator when ``seed`` is given)."""

    @abc.abstractmethod
    def step(self, actions: Sequence[torch.Tensor]) -> Step:
        """Advance every episode by one joint action; finished episodes restart."""

    @abc.abstractmethod
    def observe(self) -> Reset:
        """The current observations and state, without advancing (used after a resume)."""

    @abc.abstractmethod
    def state_dict(self) -> dict[str, torch.Tensor]:
        """Everything needed to continue the episodes in flight exactly (tensors only)."""

    @abc.abstractmethod
    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Restore what :meth:`state_dict` saved."""

    @property
    def cooperative(self) -> bool:
        """Whether all agents always receive the same reward (a team game)."""
        return False

    @property
    def episode_limit(self) -> int | None:
        """The most steps an episode can last (``None``: unknown or unbounded)."""
        return None

    @property
    def action_masks(self) -> bool:
        """Whether some agent has illegal actions somewhere (see :meth:`legal_actions`)."""
        return False

    def legal_actions(self, agent: int, observations: torch.Tensor) -> torch.Tensor | None:
        """Agent ``agent``'s legal actions at its observations ``(B, observation_sizes[i])``:
        ``(B, n_i)`` bool, or ``None`` when every action is legal (the default).

        A legal-action mask is a function of the agent's own observation, so a decentralised
        policy knows its legal actions where it acts; learners never take an illegal action.
        """
        return None


def _sample_rows(cumulative: torch.Tensor, indptr: torch.Tensor, indices: torch.Tensor,
                 rows: torch.Tensor, uniform: torch.Tensor) -> torch.Tensor:
    """Sample a column from each CSR row by inverting its cumulative distribution.

    ``cumulative`` is the running sum of the CSR data over the whole matrix (float64), so the
    target mass of row ``r`` is ``cumulative[start - 1] + u * (row mass)``; one ``searchsorted``
    serves the whole batch.
    """
    start, stop = indptr[rows], indptr[rows + 1]
    base = torch.where(start > 0, cumulative[(start - 1).clamp(min=0)],
                       torch.zeros((), dtype=cumulative.dtype, device=cumulative.device))
    mass = cumulative[stop - 1] - base
    target = base + uniform * mass
    position = torch.searchsorted(cumulative, target, right=True)
    position = torch.minimum(torch.maximum(position, start), stop - 1)
    return indices[position]


def longest_episode(game: MarkovGame) -> int | None:
    """The most steps an episode of ``game`` can last: the longest path from an initial state to
    a terminal one, or ``None`` when the reachable non-terminal states hold a cycle (episodes of
    unbounded length)."""
    matrix = game.transition_matrix.tocoo()
    joint = game.num_joint_actions
    sources = np.asarray(matrix.row) // joint
    targets = np.asarray(matrix.col)
    positive = np.asarray(matrix.data) > 0
    reachable = game.reachable_states()
    live = reachable & ~game.terminal
    keep = positive & live[sources] & live[targets]
    edges = np.unique(np.stack([sources[keep], targets[keep]], axis=1), axis=0)
    successors: dict[int, list[int]] = {}
    indegree = np.zeros(game.num_states, dtype=np.int64)
    for source, target in edges:
        if source == target:
            return None
        successors.setdefault(int(source), []).append(int(target))
        indegree[target] += 1
    ready = [int(s) for s in np.flatnonzero(live) if indegree[s] == 0]
    order: list[int] = []
    while ready:  # Kahn's topological sort of the live states
        state = ready.pop()
        order.append(state)
        for target in successors.get(state, ()):
            indegree[target] -= 1
            if indegree[target] == 0:
                ready.append(target)
    if len(order) < int(live.sum()):
        return None
    steps = np.zeros(game.num_states, dtype=np.int64)  # a live state's episode lasts >= 1 step
    for state in reversed(order):
        steps[state] = 1 + max((steps[t] for t in successors.get(state, ())), default=0)
    starts = np.flatnonzero(np.asarray(game.initial) > 0)
    return int(max(steps[starts], default=0))


def _check_legal(game: MarkovGame, tables: Sequence[np.ndarray]) -> list[np.ndarray]:
    """The legal-action tables as bool arrays, validated against the game."""
    if len(tables) != game.num_players:
        raise InvalidArgumentError(f"legal_actions needs one table per player "
                                   f"({game.num_players}), got {len(tables)}")
    out = []
    for i, table in enumerate(tables):
        array = np.asarray(table)
        expected = (game.num_observations[i], game.num_actions[i])
        if array.shape != expected or array.dtype != bool:
            raise InvalidArgumentError(f"legal_actions[{i}] must be a bool array of shape "
                                       f"{expected}, got {array.dtype} {array.shape}")
        empty = np.flatnonzero(~array.any(axis=1))
        if empty.size:
            raise InvalidArgumentError(f"legal_actions[{i}]: observation {int(empty[0])} has "
                                       "no legal action")
        out.append(array)
    return out


class TensorGameEnv(VectorEnv):
    """A :class:`~gametools.model.MarkovGame` as a batched torch environment.

    Parameters
    ----------
    game : MarkovGame
    num_envs : int
        Parallel episodes.
    seed : int
        Seeds the environment's own generator.
    max_steps : int, optional
        Truncate episodes after this many steps (default: none for terminating games, else
        ``ceil(10 / (1 - discount))``, beyond which the discount weight is below ``e^-10``).
    device : str or torch.device
    legal_actions : sequence of array_like, optional
        Legal-action masks, one ``(O_i, n_i)`` bool table per player indexed by its
        observation id (:attr:`gametools.extensive.MarkovView.legal` for a game tree); every
        row needs a legal action. Absent: every action is legal everywhere.
    """

    def __init__(self, game: MarkovGame, *, num_envs: int = 1, seed: int = 0,
                 max_steps: int | None = None, device: str | torch.device = "cpu",
                 legal_actions: Sequence[np.ndarray] | None = None) -> None:
        if num_envs < 1:
            raise InvalidArgumentError(f"num_envs must be >= 1, got {num_envs}")
        self.game = game
        self.num_agents = game.num_players
        self.num_envs = int(num_envs)
        self.device = torch.device(device)
        self.discount = game.discount
        self.observation_sizes = game.num_observations
        # one-hot global states for centralised critics up to this size; the index beyond it
        self._one_hot_state = game.num_states <= 4096
        self.state_size = game.num_states if self._one_hot_state else 1
        self.action_spaces = tuple(Discrete(n) for n in game.num_actions)
        if max_steps is None and game.discount < 1.0:
            max_steps = int(np.ceil(10.0 / (1.0 - game.discount)))
        self.max_steps = max_steps
        matrix = game.transition_matrix
        def as_tensor(array: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
            return torch.tensor(np.array(array), dtype=dtype, device=self.device)

        self._indptr = as_tensor(matrix.indptr, torch.int64)
        self._indices = as_tensor(matrix.indices, torch.int64)
        self._cumulative = as_tensor(np.cumsum(matrix.data, dtype=np.float64), torch.float64)
        self._rewards = as_tensor(game.rewards.reshape(game.num_players, game.num_states, -1)
                                  .transpose(1, 2, 0), torch.float32)  # (S, A, N)
        self._observations = as_tensor(game.observations, torch.int64)  # (N, S)
        self._terminal = as_tensor(game.terminal, torch.bool)
        self._initial_cumulative = as_tensor(np.cumsum(game.initial), torch.float64)
        strides = np.cumprod((1,) + game.num_actions[::-1])[:-1][::-1].copy()
        self._strides = as_tensor(strides, torch.int64)
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(int(seed))
        self._state = torch.zeros(self.num_envs, dtype=torch.int64, device=self.device)
        self._steps = torch.zeros(self.num_envs, dtype=torch.int64, device=self.device)
        self._legal = None if legal_actions is None else tuple(
            as_tensor(table, torch.bool) for table in _check_legal(game, legal_actions))

    @property
    def action_masks(self) -> bool:
        return self._legal is not None

    def legal_actions(self, agent: int, observations: torch.Tensor) -> torch.Tensor | None:
        """The rows of the agent's mask table at its one-hot observations."""
        if self._legal is None:
            return None
        return self._legal[agent][observations.argmax(dim=-1)]

    @property
    def cooperative(self) -> bool:
        rewards = self.game.rewards
        return bool(np.all(np.abs(rewards - rewards[:1]) <= 1e-12 * (1 + np.abs(rewards).max())))

    @property
    def episode_limit(self) -> int | None:
        """``max_steps``, else the longest path to a terminal state of an acyclic game."""
        if self.max_steps is not None:
            return self.max_steps
        if not hasattr(self, "_longest"):
            self._longest = longest_episode(self.game)
        return self._longest

    @property
    def state_indices(self) -> torch.Tensor:
        """Current state index of every episode, ``(B,)`` int64."""
        return self._state

    def observation_indices(self, state: torch.Tensor | None = None) -> torch.Tensor:
        """Observation id of every agent in every episode, ``(N, B)`` int64."""
        return self._observations[:, self._state if state is None else state]

    def _one_hot(self, index: torch.Tensor, size: int) -> torch.Tensor:
        # scatter writes B entries; gathering rows of an identity matrix would copy B * size
        out = torch.zeros(index.shape[0], size, device=self.device)
        return out.scatter_(1, index[:, None], 1.0)

    def _encode(self, state: torch.Tensor) -> tuple[tuple[torch.Tensor, ...], torch.Tensor]:
        ids = self._observations[:, state]
        observations = tuple(self._one_hot(ids[i], n) for i, n in
                             enumerate(self.observation_sizes))
        if self._one_hot_state:
            encoded_state = self._one_hot(state, self.state_size)
        else:  # very large games: the state index itself (embed it downstream)
            encoded_state = state.to(torch.float32)[:, None]
        return observations, encoded_state

    def encode_states(self, states: torch.Tensor) -> Reset:
        """Observations and global-state inputs of the given state indices ``(K,)`` int64."""
        observations, state = self._encode(states.to(self.device))
        return Reset(observations, state)

    def _sample_initial(self, count: int) -> torch.Tensor:
        u = torch.rand(count, generator=self.generator, device=self.device, dtype=torch.float64)
        index = torch.searchsorted(self._initial_cumulative, u * self._initial_cumulative[-1],
                                   right=True)
        return index.clamp(max=self.game.num_states - 1)

    def reset(self, *, seed: int | None = None) -> Reset:
        if seed is not None:
            self.generator.manual_seed(int(seed))
        self._state = self._sample_initial(self.num_envs)
        # episodes starting in a terminal state end at once; resample so every episode plays
        for _ in range(100):
            stuck = self._terminal[self._state]
            if not bool(stuck.any()):
                break
            self._state = torch.where(stuck, self._sample_initial(self.num_envs), self._state)
        self._steps.zero_()
        observations, state = self._encode(self._state)
        return Reset(observations, state)

    def observe(self) -> Reset:
        observations, state = self._encode(self._state)
        return Reset(observations, state)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {"state": self._state.clone(), "steps": self._steps.clone(),
                "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        if state["state"].shape != (self.num_envs,):
            raise InvalidArgumentError(f"saved environment has {state['state'].shape[0]} "
                                       f"episodes, this one {self.num_envs}")
        self._state = state["state"].to(self.device).clone()
        self._steps = state["steps"].to(self.device).clone()
        self.generator.set_state(state["generator"])

    def step(self, actions: Sequence[torch.Tensor]) -> Step:
        if len(actions) != self.num_agents:
            raise InvalidArgumentError(f"step needs one action tensor per agent ({self.num_agents}), "
                                 f"got {len(actions)}")
        joint = torch.zeros(self.num_envs, dtype=torch.int64, device=self.device)
        for i, action in enumerate(actions):
            joint = joint + action.to(torch.int64).reshape(self.num_envs) * self._strides[i]
        rewards = self._rewards[self._state, joint]  # (B, N)
        rows = self._state * self._rewards.shape[1] + joint
        u = torch.rand(self.num_envs, generator=self.generator, device=self.device,
                       dtype=torch.float64)
        following = _sample_rows(self._cumulative, self._indptr, self._indices, rows, u)
        self._steps += 1
        terminated = self._terminal[following]
        truncated = torch.zeros_like(terminated) if self.max_steps is None else \
            (self._steps >= self.max_steps) & ~terminated
        final_observations, final_state = self._encode(following)
        observations, state = final_observations, final_state
        done = terminated | truncated
        if self.device.type != "cpu":
            # no nonzero() on an accelerator (it synchronises with the host every step): draw a
            # restart for every episode and keep those of the finished ones
            restart = self._sample_initial(self.num_envs)
            self._steps = torch.where(done, 0, self._steps)
            following = torch.where(done, restart, following)
            fresh_observations, fresh_state = self._encode(following)
            observations, state = fresh_observations, fresh_state
            self._state = following
            return Step(observations, state, rewards, terminated, truncated, final_observations,
                        final_state)
        finished = torch.nonzero(done).flatten()
        if finished.numel():
            restart = self._sample_initial(int(finished.numel()))
            following = following.clone()
            following[finished] = restart
            self._steps[finished] = 0
            fresh_observations, fresh_state = self._encode(restart)
            observations = tuple(o.index_copy(0, finished, f)
                                 for o, f in zip(final_observations, fresh_observations))
            state = final_state.index_copy(0, finished, fresh_state)
        self._state = following
        return Step(observations, state, rewards, terminated, truncated, final_observations,
                    final_state)
