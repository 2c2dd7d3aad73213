"""Responders: objects that find a player's best responder against the frozen others.

:func:`gametools.marl.best_response.approximate_gains` takes one of them and asks it, player by
player, to :meth:`find` a responder; the responder is then evaluated on fresh episodes
(:mod:`gametools.marl.evaluation`), so whatever a responder does to find it biases nothing.

- :class:`LearnedResponder` trains the responder by single-agent RL on the one-agent view
  :class:`~gametools.marl.evaluation.FrozenOpponents`: PPO (:class:`~gametools.marl.mappo.IPPO`)
  or DQN (:class:`~gametools.marl.qlearning.IQL` with one agent), for discrete actions.
- :class:`GridResponder`, for one-shot decisions with continuous (``Box``) actions, grid-searches
  one action per observation bin on common random numbers; it finds a :class:`GridResponse`.

Both share one protocol: ``find(make, frozen, player, own, *, seed, horizon, own_generator,
own_seed) -> (actor, found)``, with ``make(num_envs, seed)`` the environment maker, ``frozen``
every agent's frozen policy, ``own`` the player's own frozen policy as an
:data:`~gametools.marl.evaluation.Actor` (sampling with ``own_generator``, seeded ``own_seed``),
``seed`` the run's seed; it returns the responder as an ``Actor`` and what it found (the trained
learner, or the :class:`GridResponse`), for inspection. Each uses seeds derived from ``seed``
and ``player`` that no evaluation uses, so the responder is found on other episodes than those
it is measured on.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch

from gametools.errors import InvalidArgumentError
from gametools.marl.adapters import Policy
from gametools.marl.env import Box, Discrete, VectorEnv
from gametools.marl.evaluation import (
    Actor,
    FrozenOpponents,
    derive_seed,
    episode_returns,
    sample_action,
    seeded_generator,
)
from gametools.marl.learner import Learner, LearnerConfig

__all__ = ["DEFAULT_SEARCH_EPISODES", "DEFAULT_TRAINING_STEPS", "GridResponder", "GridResponse",
           "LearnedResponder", "Responder"]

#: Default environment steps spent training a PPO / DQN responder.
DEFAULT_TRAINING_STEPS = 20_000
#: Default search episodes per candidate action of the grid search.
DEFAULT_SEARCH_EPISODES = 4096


def _check_budget(budget: Any) -> None:
    if isinstance(budget, bool) or int(budget) != budget or budget < 1:
        raise InvalidArgumentError(f"budget must be a positive integer, got {budget}")


# ------------------------------------------------------------------------------------------
# learned responders
# ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LearnedResponder:
    """A best responder trained by single-agent RL against the frozen others.

    Single-agent PPO (:class:`~gametools.marl.mappo.IPPO`) or DQN
    (:class:`~gametools.marl.qlearning.IQL`) on :class:`FrozenOpponents`, for discrete actions.

    Attributes
    ----------
    method : {"ppo", "dqn"}
    budget : int
        Training environment steps.
    config : LearnerConfig, optional
        ppo: a ``PPOConfig``; dqn: a ``QConfig`` (``total_steps`` is set to ``budget``).
    greedy : bool
        ppo: evaluate the trained responder's most likely action (else sample its policy); dqn
        is always greedy.
    """

    method: Literal["ppo", "dqn"] = "ppo"
    budget: int = DEFAULT_TRAINING_STEPS
    config: LearnerConfig | None = None
    greedy: bool = True

    def __post_init__(self) -> None:
        if self.method not in ("ppo", "dqn"):
            raise InvalidArgumentError(f"method must be 'ppo', 'dqn' (LearnedResponder) or "
                                       f"'grid' (GridResponder), got {self.method!r}")
        _check_budget(self.budget)
        if self.config is not None:
            from gametools.marl.mappo import PPOConfig
            from gametools.marl.qlearning import QConfig
            expected = PPOConfig if self.method == "ppo" else QConfig
            if not isinstance(self.config, expected):
                raise InvalidArgumentError(f"method {self.method!r} needs a "
                                           f"{expected.__name__}, got "
                                           f"{type(self.config).__name__}")
            if self.config.recurrent:
                raise InvalidArgumentError("a responder is evaluated by its policy of the "
                                           "current observation: recurrent=True is not "
                                           "supported here")

    def learner_config(self) -> LearnerConfig:
        """The training config (``total_steps = budget``)."""
        if self.config is not None:
            return self.config.replace(total_steps=self.budget)
        if self.method == "ppo":
            from gametools.marl.mappo import MAPPOConfig
            return MAPPOConfig(total_steps=self.budget, num_envs=32, eval_interval=self.budget,
                               checkpoint_interval=0, learning_rate=3e-3, entropy_coef=0.0)
        from gametools.marl.qlearning import QConfig
        return QConfig(total_steps=self.budget, num_envs=16, eval_interval=self.budget,
                       checkpoint_interval=0, learning_starts=min(1000, max(1, self.budget // 8)),
                       batch_size=64, updates_per_iteration=2, epsilon_fraction=0.3,
                       target_tau=0.05)

    def find(self, make: Callable[[int, int], VectorEnv], frozen: Sequence[Policy | None],
             player: int, own: Actor, *, seed: int, horizon: int | None,
             own_generator: torch.Generator, own_seed: int) -> tuple[Actor, Learner]:
        """Train the responder of ``player``; return it as an :data:`Actor` and the learner
        (the protocol of the module docstring; ``own`` and its generator are unused here)."""
        config = self.learner_config()
        train_seed = derive_seed(seed, player, 3)
        env = FrozenOpponents(make(config.num_envs, train_seed), frozen, player, seed=train_seed)
        if not isinstance(env.action_spaces[0], Discrete):
            raise InvalidArgumentError(f"method {self.method!r} trains a discrete-action "
                                       "responder; this player has continuous (Box) actions "
                                       "(use GridResponder)")
        if self.method == "ppo":
            from gametools.marl.mappo import IPPO as learner_type
        else:
            from gametools.marl.qlearning import IQL as learner_type  # type: ignore[assignment]
        learner = learner_type(env, config, seed=train_seed)  # type: ignore[arg-type]
        env.reset(seed=train_seed)
        steps = 0
        while steps < self.budget:
            steps += int(learner.iterate()["env_steps"])
        generator = seeded_generator(derive_seed(seed, player, 4))
        greedy = self.greedy or self.method == "dqn"
        space = env.action_spaces[0]

        def act(observations: torch.Tensor, t: int) -> torch.Tensor:
            if greedy:
                with torch.no_grad():
                    return learner.policy(0, observations).argmax(dim=1)
            return sample_action(lambda obs: learner.policy(0, obs), space, observations,
                                 generator)
        return act, learner


# ------------------------------------------------------------------------------------------
# grid search for one-shot continuous decisions
# ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class GridResponder:
    """A best responder grid-searched over actions per observation bin, for one-shot decisions
    with continuous (``Box``) actions (see :class:`GridResponse`, the responder it finds).

    Attributes
    ----------
    grid : int or array_like
        Number of equally spaced candidate actions over the box, or the candidates
        ``(C, *shape)``.
    bins : int or callable
        Equal-count bins of the one observation column that varies at the decision step, or
        ``bins(observations) -> bin ids`` (e.g. a scenario's ``observation_index``).
    decision_step : int
        The step of the episode at which the responder deviates (its frozen policy acts at every
        other step, so the responder stays achievable).
    budget : int
        Search episodes per candidate action, shared by all candidates (common random numbers).
    """

    grid: int | Any = 101
    bins: int | Callable[[torch.Tensor], Any] = 16
    decision_step: int = 0
    budget: int = DEFAULT_SEARCH_EPISODES
    method: Literal["grid"] = field(default="grid", init=False)

    def __post_init__(self) -> None:
        _check_budget(self.budget)

    def find(self, make: Callable[[int, int], VectorEnv], frozen: Sequence[Policy | None],
             player: int, own: Actor, *, seed: int, horizon: int | None,
             own_generator: torch.Generator, own_seed: int) -> tuple[Actor, GridResponse]:
        """Search the responder of ``player``; return it as an :data:`Actor` and the search
        (the protocol of the module docstring; ``own`` is the fallback policy)."""
        search_seed = derive_seed(seed, player, 2)
        env = FrozenOpponents(make(self.budget, search_seed), frozen, player, seed=search_seed)
        response = _grid_search(env, own, own_generator, own_seed, grid=self.grid,
                                bins=self.bins, decision_step=self.decision_step,
                                seed=search_seed, horizon=horizon)
        return response.actor(own), response


#: What :func:`~gametools.marl.best_response.approximate_gains` accepts as its way of finding
#: best responses.
Responder = LearnedResponder | GridResponder


@dataclass(frozen=True, eq=False)
class GridResponse:
    """A grid-searched responder: one action per observation bin at ``decision_step``.

    The search simulates ``budget`` episodes (one batch of that many environments) once per
    candidate action, plus once with the frozen policy, re-seeding the environment, the frozen
    opponents and the player's own sampling identically each time: every candidate meets the
    same episodes (common random numbers), and the frozen policy's row makes the responder no
    worse than the profile on the search sample in any bin. Candidates are simulated one batch
    after another rather than as one ``candidates x samples`` batch because environments draw
    their randomness batch-wide from one generator: only equal-size, equally seeded batches
    share draws. Each bin then takes the candidate with the highest mean return. The
    responder's gain is measured afterwards on fresh episodes, so the winner's curse of the
    search biases nothing.

    At step ``decision_step`` of an episode the responder plays ``actions[bin(obs)]`` where
    ``use_frozen[bin]`` is false and its frozen policy otherwise (a bin where no candidate beat
    it, or that the search never saw); at every other step it plays its frozen policy.

    Attributes
    ----------
    candidates : Tensor, shape (C, *shape)
    actions : Tensor, shape (n_bins, *shape)
    use_frozen : Tensor of bool, shape (n_bins,)
    bin_of : callable
        ``observations (B, d) -> bin ids (B,)``.
    decision_step : int
    bin_values : ndarray, shape (C + 1, n_bins)
        Mean search return of each candidate (last row: the frozen policy) in each bin.
    bin_counts : ndarray, shape (n_bins,)
    """

    candidates: torch.Tensor
    actions: torch.Tensor
    use_frozen: torch.Tensor
    bin_of: Callable[[torch.Tensor], torch.Tensor]
    decision_step: int
    bin_values: np.ndarray
    bin_counts: np.ndarray

    def actor(self, frozen: Actor) -> Actor:
        """The responder as an :data:`Actor`, falling back on ``frozen``."""
        def act(observations: torch.Tensor, t: int) -> torch.Tensor:
            fallback = frozen(observations, t)
            if t != self.decision_step:
                return fallback
            bins = self.bin_of(observations).to(torch.int64).cpu()
            known = (bins >= 0) & (bins < self.actions.shape[0])
            safe = bins.clamp(0, self.actions.shape[0] - 1)
            chosen = self.actions[safe].to(fallback.device, fallback.dtype)
            keep = (~known | self.use_frozen[safe]).to(fallback.device)
            keep = keep.reshape(-1, *([1] * (fallback.dim() - 1)))
            return torch.where(keep, fallback, chosen.reshape(fallback.shape))
        return act


def _grid_search(env: FrozenOpponents, frozen: Actor, own_generator: torch.Generator,
                 own_seed: int, *, grid: int | Any, bins: int | Callable[[torch.Tensor], Any],
                 decision_step: int, seed: int, horizon: int | None) -> GridResponse:
    """The search of :class:`GridResponse` on ``env`` (``budget`` parallel episodes)."""
    space = env.action_spaces[0]
    if not isinstance(space, Box):
        raise InvalidArgumentError("method 'grid' searches continuous (Box) actions; this player "
                                   "has discrete actions (use 'ppo' or 'dqn')")
    candidates = _candidates(space, grid)
    recorded: list[torch.Tensor] = []

    def frozen_recording(observations: torch.Tensor, t: int) -> torch.Tensor:
        if t == decision_step:
            recorded.append(observations.clone())
        return frozen(observations, t)

    # every pass re-seeds the environment, the opponents and the player's own sampling alike, so
    # every candidate meets the same episodes up to the decision (common random numbers)
    own_generator.manual_seed(own_seed)
    baseline = episode_returns(env, frozen_recording, seed=seed, horizon=horizon)
    if not recorded:
        raise InvalidArgumentError(f"no episode reached decision_step={decision_step}")
    bin_of, num_bins = _make_binning(bins, recorded[0])
    ids = bin_of(recorded[0]).numpy()
    counts = np.bincount(ids, minlength=num_bins).astype(float)
    totals = np.zeros((len(candidates) + 1, num_bins))
    for c, action in enumerate(candidates):
        constant = action.to(torch.float32)

        def act(observations: torch.Tensor, t: int, constant: torch.Tensor = constant
                ) -> torch.Tensor:
            if t == decision_step:
                frozen(observations, t)  # keep the player's own random stream aligned
                return constant.expand(observations.shape[0], *constant.shape).to(
                    observations.device)
            return frozen(observations, t)

        own_generator.manual_seed(own_seed)
        returns = episode_returns(env, act, seed=seed, horizon=horizon)
        totals[c] = np.bincount(ids, weights=returns, minlength=num_bins)
    totals[-1] = np.bincount(ids, weights=baseline, minlength=num_bins)
    means = totals / np.maximum(counts, 1.0)
    best = np.argmax(means, axis=0)
    use_frozen = (best == len(candidates)) | (counts == 0)
    actions = candidates[np.minimum(best, len(candidates) - 1)]
    return GridResponse(candidates, actions, torch.as_tensor(use_frozen), bin_of, decision_step,
                        means, counts)


def _candidates(space: Box, grid: int | Any) -> torch.Tensor:
    """The candidate actions ``(C, *shape)``: ``grid`` points over a one-dimensional box, or
    the given array."""
    if isinstance(grid, int):
        if grid < 2:
            raise InvalidArgumentError(f"grid needs at least 2 points, got {grid}")
        if math.prod(space.shape) != 1:
            raise InvalidArgumentError(f"an integer grid spans one-dimensional actions; this "
                                       f"action space has shape {space.shape}: pass the "
                                       "candidate actions as an array (C, *shape)")
        points = torch.linspace(space.low, space.high, grid, dtype=torch.float64)
        return points.reshape(grid, *space.shape)
    points = torch.as_tensor(np.asarray(grid, dtype=float))
    if points.ndim == 1 and math.prod(space.shape) == 1:
        points = points.reshape(-1, *space.shape)
    if points.ndim < 1 or tuple(points.shape[1:]) != tuple(space.shape) or points.shape[0] < 1:
        raise InvalidArgumentError(f"grid must be an integer or candidate actions of shape "
                                   f"(C, *{space.shape}), got shape {tuple(points.shape)}")
    return points


def _make_binning(bins: int | Callable[[torch.Tensor], Any], observations: torch.Tensor
                  ) -> tuple[Callable[[torch.Tensor], torch.Tensor], int]:
    """The bin function and the number of bins, from ``bins`` and the search's observations at
    the decision step."""
    if callable(bins):
        def bin_of(obs: torch.Tensor) -> torch.Tensor:
            ids = bins(obs)
            return torch.as_tensor(np.asarray(ids) if not isinstance(ids, torch.Tensor) else ids
                                   ).to(torch.int64).reshape(-1).cpu()
        ids = bin_of(observations)
        if bool((ids < 0).any()):
            raise InvalidArgumentError("bins returned negative bin ids")
        return bin_of, int(ids.max()) + 1
    if int(bins) != bins or bins < 1:
        raise InvalidArgumentError(f"bins must be a positive integer or a callable, got {bins!r}")
    values = observations.to(torch.float64).cpu()
    spread = values.max(dim=0).values - values.min(dim=0).values
    varying = torch.nonzero(spread > 0).flatten()
    if varying.numel() > 1:
        raise InvalidArgumentError(
            f"the observations at the decision step vary in {varying.numel()} columns "
            f"({varying.tolist()}); integer bins split one column into quantiles — pass a "
            "callable bins(observations) -> bin ids for several")
    column = int(varying[0]) if varying.numel() else 0
    levels = torch.arange(1, int(bins), dtype=torch.float64) / int(bins)
    edges = torch.unique(torch.quantile(values[:, column], levels))
    return _QuantileBins(column, edges), int(edges.numel()) + 1


@dataclass(frozen=True)
class _QuantileBins:
    """Equal-count bins of one observation column (edges from the search sample)."""

    column: int
    edges: torch.Tensor

    def __call__(self, observations: torch.Tensor) -> torch.Tensor:
        values = observations[:, self.column].to(torch.float64).cpu()
        return torch.searchsorted(self.edges, values.contiguous(), right=True)
