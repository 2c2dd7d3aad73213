"""Approximate best responses: Monte-Carlo lower bounds on deviation gains, tabular upper bounds.

When a game is too large or too continuous for :func:`gametools.exploitability.nash_conv`, a
player's deviation gain ``max_{pi_i'} value_i(pi_i', pi_-i) - value_i(pi)`` is bracketed:

- **lower bound** (kind ``"lower_bound"``): a best responder is *found* against the frozen
  policies of the others by a responder object passed to :func:`approximate_gains`:
  :class:`LearnedResponder` trains it by PPO (:class:`~gametools.marl.mappo.IPPO` on the
  one-agent view :class:`FrozenOpponents`) or DQN (:class:`~gametools.marl.qlearning.IQL`, one
  agent); :class:`GridResponder`, for one-shot decisions with continuous (``Box``) actions,
  grid-searches actions per observation bin. Policies of every kind are read through the one
  adapter :mod:`gametools.marl.adapters`, and :func:`episode_returns` is the one evaluator. Any achievable policy's gain is at most the best response's gain, so the
  estimated gain of the found policy is a lower bound *up to Monte-Carlo error*: the estimate is
  reported raw (never clipped at 0), with its standard error and a confidence interval; the
  interval's lower end is the conservative lower bound (one-sided level ``(1 + confidence) / 2``).
- **upper bound** (kind ``"upper_bound"``, or ``"exact"`` for a player that observes the state):
  where a tabular game is available (a :class:`~gametools.model.MarkovGame`, or a scenario's
  discretised game with its ``projection``), the exact best response of a deviator that *sees the
  state* is computed on it with :func:`gametools.exploitability.best_response`. Seeing more can
  only help, so this bounds the observation-based gain from above **on that tabular game**. For a
  continuous simulator the tabular game is a projection: the bound then holds for the projected
  profile on the grid game and only approximately for the continuous game (``upper_bound_scope``
  says which). The tabular game's own :func:`~gametools.exploitability.nash_conv` (exact where
  the game allows it) is reported alongside as ``tabular``.

Monte-Carlo evaluation
----------------------
A value is the mean over ``episodes`` independent episodes of the *discounted* return
``sum_t discount^t r_t`` (``t`` counted from the episode start, ``discount = env.discount``).
Each of the ``num_envs = episodes`` parallel environments plays exactly one episode: rewards
after its first termination or truncation are ignored (the environment auto-restarts). An episode
*truncated* by the environment's step limit is cut there, so values are those of the truncated
game (the tail is at most ``discount^T max|r| / (1 - discount)``); with ``discount = 1`` every
episode must terminate within ``horizon`` steps or an error is raised.

The profile and the best responder are evaluated on the **same** episodes (common random numbers):
the environment and the frozen opponents are re-seeded identically, and discrete frozen policies
are sampled by inverting their cumulative distribution with one uniform per agent and step, so the
two rollouts share every random number and the paired difference has a small variance. The
responder is found on episodes disjoint from the evaluation episodes (other seeds), so its
evaluation is unbiased. Different players use independent seeds, so the NashConv interval adds
per-player variances.

Every random draw comes from a seeded generator derived from ``seed`` (same seed, same numbers).

References
----------
Lanctot et al., "A Unified Game-Theoretic Approach to Multiagent Reinforcement Learning", NeurIPS
2017 (approximate best responses by RL, NashConv). Timbers et al., "Approximate Exploitability:
Learning a Best Response", IJCAI 2022 (learned best responses give lower bounds). Glasserman,
"Monte Carlo Methods in Financial Engineering", 2004, sec. 4.2 (common random numbers).

Examples
--------
>>> import numpy as np, torch
>>> torch.set_num_threads(1)
>>> from gametools import NormalFormGame
>>> from gametools.marl.best_response import LearnedResponder, approximate_gains
>>> pennies = NormalFormGame.zero_sum([[1, -1], [-1, 1]])
>>> profile = (np.array([0.8, 0.2]), np.array([0.5, 0.5]))   # exact gains: 0 and 0.6
>>> result = approximate_gains(pennies, profile, LearnedResponder("dqn", budget=1024),
...                            episodes=2000)
>>> result.kind, result.upper_bound_kinds
('lower_bound', ('exact', 'exact'))
>>> bool(result.gain_intervals[1, 0] <= 0.6 <= result.gain_intervals[1, 1] + 0.05)
True
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np
import scipy.stats
import torch

from gametools.errors import GametoolsError, InvalidArgumentError
from gametools.exploitability import ExploitabilityResult, Kind, best_response, nash_conv
from gametools.marl.adapters import Policy, as_callables, as_tabular
from gametools.marl.env import Box, Discrete, Reset, Step, TensorGameEnv, VectorEnv
from gametools.marl.learner import Learner, LearnerConfig
from gametools.model import MarkovGame, NormalFormGame
from gametools.policies import Profile, validate_profile
from gametools.scenarios import Scenario, get_scenario
from gametools.structure import sees_state

__all__ = [
    "ApproximateExploitability",
    "EnvFactory",
    "FrozenOpponents",
    "GridResponder",
    "GridResponse",
    "LearnedResponder",
    "Policy",
    "Responder",
    "approximate_gains",
    "episode_returns",
    "frozen_policies",
]


#: Default environment steps spent training a PPO / DQN responder.
DEFAULT_TRAINING_STEPS = 20_000
#: Default search episodes per candidate action of the grid search.
DEFAULT_SEARCH_EPISODES = 4096
#: Longest evaluation episode for ``discount = 1`` unless ``horizon`` says otherwise.
DEFAULT_UNDISCOUNTED_HORIZON = 10_000


class EnvFactory(Protocol):
    """Builds a fresh batched environment: ``factory(num_envs=..., seed=...)``."""

    def __call__(self, *, num_envs: int, seed: int) -> VectorEnv: ...


def _derive_seed(seed: int, *path: int) -> int:
    """An independent 63-bit seed for one purpose (``path``) of a run seeded by ``seed``."""
    state = np.random.SeedSequence([int(seed) & 0xFFFFFFFF, int(seed) >> 32, *path])
    return int(state.generate_state(2, dtype=np.uint32).astype(np.uint64) @
               np.array([1, 1 << 32], dtype=np.uint64)) & ((1 << 63) - 1)


def _generator(seed: int, device: torch.device) -> torch.Generator:
    generator = torch.Generator(device=device)
    generator.manual_seed(int(seed))
    return generator


# ------------------------------------------------------------------------------------------
# frozen policies and acting
# ------------------------------------------------------------------------------------------

def frozen_policies(policies: Learner | Sequence[Policy | np.ndarray | None],
                    num_agents: int) -> list[Policy | None]:
    """One callable (or ``None``) per agent: :func:`gametools.marl.adapters.as_callables`."""
    return as_callables(policies, num_agents)


def _act(policy: Policy, space: Discrete | Box, observations: torch.Tensor,
         generator: torch.Generator) -> torch.Tensor:
    """The policy's action at ``observations``; discrete ones sampled from ``generator``.

    Discrete draws invert the cumulative distribution with one uniform per episode, always
    drawn, so two rollouts seeded alike consume identical random numbers (common random numbers)
    whatever the probabilities are.
    """
    with torch.no_grad():
        output = policy(observations)
    if isinstance(space, Box):
        return output.reshape(observations.shape[0], *space.shape)
    probabilities = output.to(torch.float64)
    if probabilities.shape != (observations.shape[0], space.n):
        raise InvalidArgumentError(f"a discrete policy must return probabilities of shape "
                                   f"(B, {space.n}), got {tuple(probabilities.shape)}")
    cumulative = probabilities.cumsum(dim=1)
    uniform = torch.rand(observations.shape[0], generator=generator, dtype=torch.float64,
                         device=generator.device).to(cumulative.device)
    target = uniform[:, None] * cumulative[:, -1:]
    return (cumulative <= target).sum(dim=1).clamp(max=space.n - 1)


# ------------------------------------------------------------------------------------------
# the one-agent view
# ------------------------------------------------------------------------------------------

class FrozenOpponents(VectorEnv):
    """One agent's view of a :class:`VectorEnv` whose other agents act from frozen policies.

    The view has one agent: ``player``'s observations, action space and reward column. On each
    :meth:`step` the other agents' actions are computed from their frozen policies at the current
    observations (discrete ones sampled with this view's own generator, one uniform per agent and
    step); the global ``state`` is passed through for centralised critics.

    Parameters
    ----------
    env : VectorEnv
        The multi-agent environment (it is advanced in place).
    policies : Learner or sequence
        Frozen policies, one per agent (see :func:`frozen_policies`); ``player``'s entry is
        ignored.
    player : int
    seed : int
        Seeds this view's generator (a seed derived from it, so that it never shares a stream
        with an environment seeded with the same number).
    """

    def __init__(self, env: VectorEnv, policies: Learner | Sequence[Policy | np.ndarray | None],
                 player: int, *, seed: int = 0) -> None:
        if not 0 <= player < env.num_agents:
            raise InvalidArgumentError(f"player must be in [0, {env.num_agents}), got {player}")
        self.inner = env
        self.player = int(player)
        self.policies = frozen_policies(policies, env.num_agents)
        for agent, policy in enumerate(self.policies):
            if agent != player and policy is None:
                raise InvalidArgumentError(f"agent {agent} needs a frozen policy")
        self.num_agents = 1
        self.num_envs = env.num_envs
        self.device = env.device
        self.observation_sizes = (env.observation_sizes[player],)
        self.state_size = env.state_size
        self.action_spaces = (env.action_spaces[player],)
        self.discount = env.discount
        self.generator = torch.Generator(device="cpu")
        self._seed_generator(seed)

    @property
    def cooperative(self) -> bool:
        return True  # one agent: trivially a team

    def _seed_generator(self, seed: int) -> None:
        self.generator.manual_seed(_derive_seed(seed, 0xF0))

    def _view(self, observations: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor]:
        return (observations[self.player],)

    def reset(self, *, seed: int | None = None) -> Reset:
        """Reset the episodes; ``seed`` reseeds the environment and this view's generator."""
        if seed is not None:
            self._seed_generator(seed)
        reset = self.inner.reset(seed=seed)
        return Reset(self._view(reset.observations), reset.state)

    def observe(self) -> Reset:
        reset = self.inner.observe()
        return Reset(self._view(reset.observations), reset.state)

    def joint_actions(self, action: torch.Tensor, observations: Sequence[torch.Tensor]
                      ) -> list[torch.Tensor]:
        """Every agent's action: ``action`` for the player, frozen policies for the others."""
        actions = []
        for agent, policy in enumerate(self.policies):
            if agent == self.player:
                actions.append(action)
            else:
                actions.append(_act(policy, self.inner.action_spaces[agent],  # type: ignore
                                    observations[agent], self.generator))
        return actions

    def step(self, actions: Sequence[torch.Tensor]) -> Step:
        if len(actions) != 1:
            raise InvalidArgumentError(f"a FrozenOpponents view has one agent; step needs one "
                                       f"action tensor, got {len(actions)}")
        # the observations are re-read, not cached, so a restored state_dict resumes exactly
        current = self.inner.observe()
        step = self.inner.step(self.joint_actions(actions[0], current.observations))
        column = slice(self.player, self.player + 1)
        return Step(self._view(step.observations), step.state, step.rewards[:, column],
                    step.terminated, step.truncated, self._view(step.final_observations),
                    step.final_state)

    def state_dict(self) -> dict[str, Any]:
        return {"inner": self.inner.state_dict(), "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.inner.load_state_dict(state["inner"])
        self.generator.set_state(state["generator"])


# ------------------------------------------------------------------------------------------
# Monte-Carlo returns
# ------------------------------------------------------------------------------------------

#: A responder for evaluation: ``act(observations, t)`` with ``t`` the step of the episode.
Actor = Callable[[torch.Tensor, int], torch.Tensor]


def _default_horizon(discount: float) -> int:
    if discount < 1.0:
        # beyond this many steps the discount weight is below 1e-8
        return math.ceil(math.log(1e-8) / math.log(discount)) if discount > 0 else 1
    return DEFAULT_UNDISCOUNTED_HORIZON


@torch.no_grad()
def episode_returns(env: FrozenOpponents, act: Actor, *, seed: int,
                    horizon: int | None = None) -> np.ndarray:
    """Discounted return of the first episode of every parallel environment, ``(num_envs,)``.

    Parameters
    ----------
    env : FrozenOpponents
        Reset with ``seed`` first (so equal seeds give common random numbers).
    act : callable
        ``act(observations, t) -> actions`` for the player, ``t`` the step within the episode.
    seed : int
    horizon : int, optional
        Most steps simulated (default: where ``discount^t < 1e-8``, or 10 000 for
        ``discount = 1``).

    Returns
    -------
    ndarray of float64, shape (num_envs,)

    Raises
    ------
    GametoolsError
        With ``discount = 1``, when some episode has not ended after ``horizon`` steps.
    """
    horizon = _default_horizon(env.discount) if horizon is None else int(horizon)
    observations = env.reset(seed=seed).observations[0]
    returns = torch.zeros(env.num_envs, dtype=torch.float64)
    alive = torch.ones(env.num_envs, dtype=torch.bool)
    weight = 1.0
    for t in range(horizon):
        step = env.step([act(observations, t)])
        reward = step.rewards[:, 0].to(torch.float64).cpu()
        returns += torch.where(alive, weight * reward, torch.zeros_like(reward))
        alive &= ~(step.terminated | step.truncated).cpu()
        weight *= env.discount
        if not bool(alive.any()):
            break
        observations = step.observations[0]
    if bool(alive.any()) and env.discount >= 1.0:
        raise GametoolsError(f"{int(alive.sum())} of {env.num_envs} undiscounted episodes did "
                             f"not end within horizon={horizon} steps; pass a larger horizon")
    return returns.numpy()


def _policy_actor(policy: Policy, space: Discrete | Box, generator: torch.Generator) -> Actor:
    return lambda observations, t: _act(policy, space, observations, generator)


# ------------------------------------------------------------------------------------------
# grid search for one-shot continuous decisions
# ------------------------------------------------------------------------------------------

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


@dataclass(frozen=True)
class _QuantileBins:
    """Equal-count bins of one observation column (edges from the search sample)."""

    column: int
    edges: torch.Tensor

    def __call__(self, observations: torch.Tensor) -> torch.Tensor:
        values = observations[:, self.column].to(torch.float64).cpu()
        return torch.searchsorted(self.edges, values.contiguous(), right=True)


def _make_binning(bins: int | Callable[[torch.Tensor], Any], observations: torch.Tensor
                  ) -> tuple[Callable[[torch.Tensor], torch.Tensor], int]:
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


def _candidates(space: Box, grid: int | Any) -> torch.Tensor:
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


def _grid_search(env: FrozenOpponents, frozen: Actor, own_generator: torch.Generator,
                 own_seed: int, *, grid: int | Any, bins: int | Callable[[torch.Tensor], Any],
                 decision_step: int, seed: int, horizon: int | None) -> GridResponse:
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
        """Train the responder of ``player``; return it as an :data:`Actor` and the learner.

        ``make(num_envs, seed)`` builds the environment, ``frozen`` are every agent's frozen
        policies, ``own`` the player's own frozen policy as an :data:`Actor` (sampling with
        ``own_generator``, seeded ``own_seed``; unused here), ``seed`` the run's seed."""
        config = self.learner_config()
        train_seed = _derive_seed(seed, player, 3)
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
        generator = _generator(_derive_seed(seed, player, 4), torch.device("cpu"))
        greedy = self.greedy or self.method == "dqn"
        space = env.action_spaces[0]

        def act(observations: torch.Tensor, t: int) -> torch.Tensor:
            if greedy:
                with torch.no_grad():
                    return learner.policy(0, observations).argmax(dim=1)
            return _act(lambda obs: learner.policy(0, obs), space, observations, generator)
        return act, learner


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
        (arguments as for :meth:`LearnedResponder.find`; ``own`` is the fallback policy)."""
        search_seed = _derive_seed(seed, player, 2)
        env = FrozenOpponents(make(self.budget, search_seed), frozen, player, seed=search_seed)
        response = _grid_search(env, own, own_generator, own_seed, grid=self.grid,
                                bins=self.bins, decision_step=self.decision_step,
                                seed=search_seed, horizon=horizon)
        return response.actor(own), response


#: What :func:`approximate_gains` accepts as its way of finding best responses.
Responder = LearnedResponder | GridResponder


def _check_budget(budget: Any) -> None:
    if isinstance(budget, bool) or int(budget) != budget or budget < 1:
        raise InvalidArgumentError(f"budget must be a positive integer, got {budget}")


# ------------------------------------------------------------------------------------------
# results
# ------------------------------------------------------------------------------------------

def _readonly(array: Any) -> np.ndarray:
    out = np.array(array, dtype=float)
    out.flags.writeable = False
    return out


@dataclass(frozen=True, eq=False)
class ApproximateExploitability:
    """Monte-Carlo lower bounds on deviation gains, with tabular upper bounds where computable.

    Per-player arrays follow ``players``.

    Attributes
    ----------
    players : tuple of int
    method : {"ppo", "dqn", "grid"}
    kind : "lower_bound"
        What ``gains`` are: achievable gains, lower bounds on the best-response gains up to
        Monte-Carlo error (the lower ends of ``gain_intervals``).
    confidence : float
        Two-sided level of the normal-approximation intervals.
    episodes : int
        Evaluation episodes per player (the same ones for the profile and the responder).
    budget : int
        Training steps (ppo, dqn) or search episodes per candidate action (grid).
    values, value_stderr : ndarray, shape (P,)
        Monte-Carlo value of the profile and its standard error.
    best_response_values, best_response_stderr : ndarray, shape (P,)
        Monte-Carlo value of the found responder (fresh episodes) and its standard error.
    gains, gain_stderr : ndarray, shape (P,)
        Paired difference ``best_response_value - value`` (not clipped) and its standard error.
    gain_intervals : ndarray, shape (P, 2)
    upper_bounds : ndarray, shape (P,), or None
        Gain of the exact state-observing best response on the tabular game (None when no
        tabular game is available).
    upper_bound_kinds : tuple of str, or None
        ``"upper_bound"``, or ``"exact"`` for a player that observes the state.
    upper_bound_scope : {"game", "tabular_projection"} or None
        ``"game"``: the tabular game is the game the episodes ran on, so the bound is rigorous;
        ``"tabular_projection"``: it is a discretisation of a continuous simulator, and the bound
        holds for the projected profile on the grid game (approximately for the simulator).
    upper_bound_tolerance : float or None
        Numerical error bound of the tabular values.
    tabular : ExploitabilityResult or None
        :func:`~gametools.exploitability.nash_conv` of the tabular profile (all players; its own
        kinds say exact or bound).
    responders : tuple
        The found responders (:class:`GridResponse` or trained learners), for inspection.
    """

    players: tuple[int, ...]
    method: str
    kind: Literal["lower_bound"]
    confidence: float
    episodes: int
    budget: int
    values: np.ndarray
    value_stderr: np.ndarray
    best_response_values: np.ndarray
    best_response_stderr: np.ndarray
    gains: np.ndarray
    gain_stderr: np.ndarray
    gain_intervals: np.ndarray
    upper_bounds: np.ndarray | None
    upper_bound_kinds: tuple[Kind, ...] | None
    upper_bound_scope: Literal["game", "tabular_projection"] | None
    upper_bound_tolerance: float | None
    tabular: ExploitabilityResult | None
    responders: tuple[Any, ...] = field(repr=False, default=())

    @property
    def lower_bounds(self) -> np.ndarray:
        """Conservative lower bounds: the lower ends of ``gain_intervals``, shape ``(P,)``."""
        return self.gain_intervals[:, 0]

    @property
    def nash_conv(self) -> float:
        """Sum of the estimated gains (a lower bound on NashConv when every player is listed)."""
        return float(self.gains.sum())

    @property
    def nash_conv_interval(self) -> tuple[float, float]:
        """Interval for :attr:`nash_conv` (players' estimates are independent)."""
        half = _z(self.confidence) * float(np.sqrt(np.sum(self.gain_stderr ** 2)))
        return (self.nash_conv - half, self.nash_conv + half)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready document with the lower and upper bounds named and labelled."""
        lower = {"kind": self.kind, "method": self.method, "confidence": self.confidence,
                 "episodes": self.episodes, "budget": self.budget,
                 "per_player": [float(g) for g in self.gains],
                 "stderr": [float(s) for s in self.gain_stderr],
                 "intervals": [[float(a), float(b)] for a, b in self.gain_intervals],
                 "conservative": [float(v) for v in self.lower_bounds],
                 "values": [float(v) for v in self.values],
                 "value_stderr": [float(v) for v in self.value_stderr],
                 "best_response_values": [float(v) for v in self.best_response_values],
                 "best_response_stderr": [float(v) for v in self.best_response_stderr],
                 "nash_conv": self.nash_conv, "nash_conv_interval": list(self.nash_conv_interval)}
        upper = None
        if self.upper_bounds is not None:
            upper = {"kind": ("exact" if all(k == "exact" for k in self.upper_bound_kinds or ())
                              else "upper_bound"),
                     "per_player_kind": list(self.upper_bound_kinds or ()),
                     "per_player": [float(v) for v in self.upper_bounds],
                     "scope": self.upper_bound_scope, "tolerance": self.upper_bound_tolerance,
                     "deviator": "observes the state"}
        return {"players": list(self.players), "lower_bound": lower, "upper_bound": upper,
                "tabular": None if self.tabular is None else self.tabular.to_dict()}


def _z(confidence: float) -> float:
    return float(scipy.stats.norm.ppf(0.5 + confidence / 2.0))


# ------------------------------------------------------------------------------------------
# tabular bounds
# ------------------------------------------------------------------------------------------

def _state_observing_gains(game: MarkovGame, profile: Profile, players: Sequence[int],
                           values: ExploitabilityResult
                           ) -> tuple[np.ndarray, tuple[Kind, ...], float]:
    """Gains of exact best responses that see the state, and their kinds and tolerance."""
    gains: list[float] = []
    kinds: list[Kind] = []
    tolerance = float(values.tolerance)
    for player in players:
        observed = game.observations[player]
        seen = sees_state(game, player)
        if seen:
            seeing, policies = game, profile
        else:
            rows = np.array(game.observations)
            rows[player] = np.arange(game.num_states)
            seeing = MarkovGame(game.transitions, game.rewards, game.initial, game.discount,
                                terminal=game.terminal, observations=rows)
            policies = tuple(p if j != player else p[observed] for j, p in enumerate(profile))
        response = best_response(seeing, policies, player)
        gains.append(response.value - float(values.values[player]))
        kinds.append("exact" if seen else "upper_bound")
        tolerance = max(tolerance, response.tolerance)
    return np.array(gains), tuple(kinds), tolerance


# ------------------------------------------------------------------------------------------
# the driver
# ------------------------------------------------------------------------------------------

def _resolve_source(source: Any, policies: Any, params: Mapping[str, Any], device: str,
                    tabular: tuple[MarkovGame, Sequence[Any]] | None
                    ) -> tuple[Callable[[int, int], VectorEnv], MarkovGame | None,
                               Profile | None, Literal["game", "tabular_projection"] | None]:
    """Environment maker, tabular game and profile, and the scope of the tabular bound."""
    if isinstance(source, str):
        source = get_scenario(source)
    scenario = None
    if isinstance(source, Scenario):
        scenario = source
        resolved = scenario.resolve(**params)
        built = scenario.builder(**resolved)
        game = built.to_markov_game() if isinstance(built, NormalFormGame) else built
        tabular_inputs = isinstance(policies, Sequence) and all(
            p is not None and not callable(p) for p in policies)
        discrete_learner = isinstance(policies, Learner) and policies.discrete
        if scenario.simulator is not None and not (tabular_inputs or discrete_learner):
            simulator = scenario.simulator

            def make(num_envs: int, seed: int) -> VectorEnv:
                return simulator(num_envs=num_envs, seed=seed, device=device, **resolved)
            if tabular is not None:
                return make, tabular[0], validate_profile(tabular[0], tabular[1]), \
                    "tabular_projection"
            if scenario.projection is None:
                return make, None, None, None
            return (make, game, as_tabular(policies, game, scenario=scenario, params=resolved,
                                           discrete=False), "tabular_projection")
        source = game
    elif params:
        raise InvalidArgumentError("params apply to scenarios, not to games or environment "
                                   "factories")
    if isinstance(source, NormalFormGame):
        source = source.to_markov_game()
    if isinstance(source, MarkovGame):
        game = source

        def make_tabular(num_envs: int, seed: int) -> VectorEnv:
            return TensorGameEnv(game, num_envs=num_envs, seed=seed, device=device)
        if tabular is not None:
            raise InvalidArgumentError("tabular is for environment factories; a game is its own "
                                       "tabular game")
        return make_tabular, game, as_tabular(policies, game), "game"
    if callable(source):
        factory = source

        def make_from_factory(num_envs: int, seed: int) -> VectorEnv:
            return factory(num_envs=num_envs, seed=seed)
        if tabular is None:
            return make_from_factory, None, None, None
        return make_from_factory, tabular[0], validate_profile(tabular[0], tabular[1]), \
            "tabular_projection"
    raise InvalidArgumentError(f"source must be a MarkovGame, NormalFormGame, scenario (or its "
                               f"name) or an environment factory, got {type(source).__name__}")


def approximate_gains(source: MarkovGame | NormalFormGame | Scenario | str | EnvFactory,
                      policies: Learner | Sequence[Policy | np.ndarray],
                      responder: Responder | None = None, *,
                      players: Sequence[int] | None = None, episodes: int = 4096, seed: int = 0,
                      confidence: float = 0.95, params: Mapping[str, Any] | None = None,
                      horizon: int | None = None,
                      tabular: tuple[MarkovGame, Sequence[Any]] | None = None,
                      device: str = "cpu", **legacy: Any) -> ApproximateExploitability:
    """Each player's deviation gain against the frozen others: a lower bound with a confidence
    interval, and a tabular upper bound where a tabular game is available.

    Parameters
    ----------
    source : MarkovGame, NormalFormGame, Scenario, str or callable
        A tabular game (run by :class:`~gametools.marl.env.TensorGameEnv`; it is also its own
        tabular game), a scenario or its name (its simulator runs continuous policies — callables
        or a continuous learner — and its projection gives the tabular profile; tabular policies
        and discrete learners run on its built game), or an environment factory
        ``factory(num_envs=..., seed=...) -> VectorEnv``.
    policies : Learner or sequence
        The frozen profile: a trained learner, or one entry per agent — a callable
        ``obs (B, d) -> probabilities (B, n)`` (discrete) or ``-> actions (B, *shape)`` (Box),
        or a tabular policy ``(O_i, n_i)`` for a tabular game
        (:func:`gametools.marl.adapters.as_callables`).
    responder : LearnedResponder or GridResponder, optional
        How each player's best responder is found (default: ``LearnedResponder()``, PPO).
    players : sequence of int, optional
        The deviating players (default: all).
    episodes : int
        Fresh evaluation episodes per player, shared by the profile and the responder.
    seed : int
        Seeds everything (same seed, same numbers).
    confidence : float
        Two-sided level of the intervals, in ``(0, 1)``.
    params : mapping, optional
        Scenario parameters.
    horizon : int, optional
        Most steps of an evaluation episode (see :func:`episode_returns`).
    tabular : (MarkovGame, profile), optional
        For an environment factory (or to override a scenario's projection): the discretised
        game and the frozen profile projected onto it, for the upper bound.
    device : str
    **legacy
        Deprecated (before the responder objects): ``method``, ``budget``, ``config``,
        ``greedy``, ``grid``, ``bins``, ``decision_step``; they build the responder and warn.

    Returns
    -------
    ApproximateExploitability
    """
    responder = _legacy_responder(responder, legacy)
    if not 0.0 < confidence < 1.0:
        raise InvalidArgumentError(f"confidence must be in (0, 1), got {confidence}")
    if int(episodes) != episodes or episodes < 2:
        raise InvalidArgumentError(f"episodes must be an integer >= 2, got {episodes}")
    if int(seed) != seed or seed < 0:
        raise InvalidArgumentError(f"seed must be a non-negative integer, got {seed!r}")
    episodes = int(episodes)
    make, game, profile, scope = _resolve_source(source, policies, dict(params or {}), device,
                                                 tabular)
    probe = make(1, 0)
    num_agents = probe.num_agents
    frozen = as_callables(policies, num_agents)
    if any(p is None for p in frozen):
        raise InvalidArgumentError("every agent needs a frozen policy (the profile's values are "
                                   "evaluated too)")
    players = tuple(range(num_agents)) if players is None else tuple(int(p) for p in players)
    if not players or any(not 0 <= p < num_agents for p in players) or \
            len(set(players)) != len(players):
        raise InvalidArgumentError(f"players must be distinct indices in [0, {num_agents}), "
                                   f"got {players}")

    rows: list[tuple[float, ...]] = []
    responders: list[Any] = []
    for player in players:
        space = probe.action_spaces[player]
        own = frozen[player]
        own_seed = _derive_seed(seed, player, 1)
        own_generator = torch.Generator(device="cpu")
        frozen_actor = _policy_actor(own, space, own_generator)  # type: ignore[arg-type]
        responder_actor, found = responder.find(make, frozen, player, frozen_actor, seed=seed,
                                                horizon=horizon, own_generator=own_generator,
                                                own_seed=own_seed)
        responders.append(found)
        eval_seed = _derive_seed(seed, player, 5)
        eval_env = FrozenOpponents(make(episodes, eval_seed), frozen, player, seed=eval_seed)
        own_generator.manual_seed(own_seed)
        base_returns = episode_returns(eval_env, frozen_actor, seed=eval_seed, horizon=horizon)
        own_generator.manual_seed(own_seed)
        response_returns = episode_returns(eval_env, responder_actor, seed=eval_seed,
                                           horizon=horizon)
        difference = response_returns - base_returns
        root = math.sqrt(episodes)
        rows.append((base_returns.mean(), base_returns.std(ddof=1) / root,
                     response_returns.mean(), response_returns.std(ddof=1) / root,
                     difference.mean(), difference.std(ddof=1) / root))
    table = np.array(rows)
    half = _z(confidence) * table[:, 5]
    intervals = np.stack([table[:, 4] - half, table[:, 4] + half], axis=1)

    upper, kinds, tolerance, report = None, None, None, None
    if game is not None and profile is not None:
        report = nash_conv(game, profile)
        upper, kinds, tolerance = _state_observing_gains(game, profile, players, report)
    return ApproximateExploitability(
        players, responder.method, "lower_bound", float(confidence), episodes, responder.budget,
        _readonly(table[:, 0]), _readonly(table[:, 1]), _readonly(table[:, 2]),
        _readonly(table[:, 3]), _readonly(table[:, 4]), _readonly(table[:, 5]),
        _readonly(intervals), None if upper is None else _readonly(upper), kinds,
        scope if upper is not None else None, tolerance, report, tuple(responders))


#: The keyword arguments of :func:`approximate_gains` before the responder objects.
_LEGACY_OPTIONS = ("method", "budget", "config", "greedy", "grid", "bins", "decision_step")


def _legacy_responder(responder: Responder | None, legacy: Mapping[str, Any]) -> Responder:
    """The responder, built from the deprecated keyword arguments when they are given."""
    unknown = sorted(set(legacy) - set(_LEGACY_OPTIONS))
    if unknown:
        raise InvalidArgumentError(f"approximate_gains got an unexpected argument {unknown[0]!r}")
    if not legacy:
        return LearnedResponder() if responder is None else responder
    if responder is not None:
        raise InvalidArgumentError(f"pass either a responder or the deprecated options "
                                   f"({', '.join(sorted(legacy))}), not both")
    import warnings

    warnings.warn("approximate_gains(method=..., budget=..., ...) is deprecated: pass "
                  "responder=LearnedResponder(method, budget, config, greedy) or "
                  "GridResponder(grid, bins, decision_step, budget)", DeprecationWarning,
                  stacklevel=3)
    options = dict(legacy)
    method = options.pop("method", "ppo")
    if method == "grid":
        grid_options = {k: options.pop(k) for k in ("grid", "bins", "decision_step", "budget")
                        if k in options}
        options.pop("greedy", None)
        if options:
            raise InvalidArgumentError(f"method 'grid' takes no {min(options)!r}")
        return GridResponder(**grid_options)
    if method not in ("ppo", "dqn"):
        raise InvalidArgumentError(f"method must be 'ppo', 'dqn' or 'grid', got {method!r}")
    learned = {k: options.pop(k) for k in ("budget", "config", "greedy") if k in options}
    if options:
        raise InvalidArgumentError(f"method {method!r} takes no {min(options)!r} "
                                   "(grid options)")
    return LearnedResponder(method, **learned)
