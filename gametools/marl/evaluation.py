"""Monte-Carlo evaluation against frozen opponents: one player's view, its returns, their intervals.

The approximate best responses (:mod:`gametools.marl.best_response`) measure a player's value
under two policies, its own frozen one and a found responder, while every other agent plays a
frozen policy. This module holds that measurement:

- :class:`FrozenOpponents`, the one-agent view of a :class:`~gametools.marl.env.VectorEnv` whose
  other agents act from frozen policies (read through the one adapter,
  :func:`gametools.marl.adapters.as_callables`);
- :func:`episode_returns`, the one evaluator: the discounted return of the first episode of every
  parallel environment;
- :func:`paired_returns`, the profile and a responder evaluated on the **same** episodes, and
  :func:`estimate` / :func:`normal_quantile` for the means, standard errors and normal-approximation
  confidence intervals built from them.

Monte-Carlo evaluation
----------------------
A value is the mean over ``episodes`` independent episodes of the *discounted* return
``sum_t discount^t r_t`` (``t`` counted from the episode start, ``discount = env.discount``).
Each of the ``num_envs = episodes`` parallel environments plays exactly one episode: rewards
after its first termination or truncation are ignored (the environment auto-restarts). An episode
*truncated* by the environment's step limit is cut there, so values are those of the truncated
game (the tail is at most ``discount^T max|r| / (1 - discount)``); with ``discount = 1`` every
episode must terminate within ``horizon`` steps or an error is raised.

The profile and the best responder are evaluated on the same episodes (common random numbers):
the environment and the frozen opponents are re-seeded identically, and discrete frozen policies
are sampled by inverting their cumulative distribution with one uniform per agent and step
(:func:`sample_action`), so the two rollouts share every random number and the paired difference
has a small variance (Glasserman, "Monte Carlo Methods in Financial Engineering", 2004, sec. 4.2).

Every random draw comes from a seeded generator derived from the run's seed
(:func:`derive_seed`: same seed, same numbers).

Examples
--------
>>> import numpy as np, torch
>>> from gametools import NormalFormGame
>>> from gametools.marl.env import TensorGameEnv
>>> from gametools.marl.evaluation import FrozenOpponents, episode_returns, estimate
>>> pennies = NormalFormGame.zero_sum([[1, -1], [-1, 1]]).to_markov_game()
>>> view = FrozenOpponents(TensorGameEnv(pennies, num_envs=4000, seed=0),
...                        [None, np.array([0.75, 0.25])], player=0, seed=0)
>>> heads = lambda observations, t: torch.zeros(len(observations), dtype=torch.int64)
>>> value = estimate(episode_returns(view, heads, seed=0))   # exact value 0.75 - 0.25 = 0.5
>>> bool(abs(value.mean - 0.5) < 4 * value.stderr)
True
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np
import scipy.stats
import torch

from gametools.errors import GametoolsError, InvalidArgumentError
from gametools.marl.adapters import Policy, as_callables
from gametools.marl.env import Box, Discrete, Reset, Step, VectorEnv
from gametools.marl.learner import Learner

__all__ = [
    "DEFAULT_UNDISCOUNTED_HORIZON",
    "Actor",
    "Estimate",
    "FrozenOpponents",
    "default_horizon",
    "derive_seed",
    "episode_returns",
    "estimate",
    "frozen_policies",
    "normal_quantile",
    "paired_returns",
    "policy_actor",
    "sample_action",
    "seeded_generator",
]

#: Longest evaluation episode for ``discount = 1`` unless ``horizon`` says otherwise.
DEFAULT_UNDISCOUNTED_HORIZON = 10_000


# ------------------------------------------------------------------------------------------
# seeds
# ------------------------------------------------------------------------------------------

def derive_seed(seed: int, *path: int) -> int:
    """An independent 63-bit seed for one purpose (``path``) of a run seeded by ``seed``."""
    state = np.random.SeedSequence([int(seed) & 0xFFFFFFFF, int(seed) >> 32, *path])
    return int(state.generate_state(2, dtype=np.uint32).astype(np.uint64) @
               np.array([1, 1 << 32], dtype=np.uint64)) & ((1 << 63) - 1)


def seeded_generator(seed: int, device: torch.device | str = "cpu") -> torch.Generator:
    """A ``torch.Generator`` on ``device`` seeded with ``seed``."""
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


def sample_action(policy: Policy, space: Discrete | Box, observations: torch.Tensor,
                  generator: torch.Generator) -> torch.Tensor:
    """The policy's action at ``observations``; discrete ones sampled from ``generator``.

    Discrete draws invert the cumulative distribution with one uniform per episode, always
    drawn, so two rollouts seeded alike consume identical random numbers (common random numbers)
    whatever the probabilities are. Continuous policies return their action as it is.
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

    @property
    def action_masks(self) -> bool:
        return self.inner.action_masks

    def legal_actions(self, agent: int, observations: torch.Tensor) -> torch.Tensor | None:
        return self.inner.legal_actions(self.player, observations)

    def _seed_generator(self, seed: int) -> None:
        self.generator.manual_seed(derive_seed(seed, 0xF0))

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
                actions.append(sample_action(policy, self.inner.action_spaces[agent],  # type: ignore
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

#: A player's behaviour in evaluation: ``act(observations, t)`` with ``t`` the step of the
#: episode.
Actor = Callable[[torch.Tensor, int], torch.Tensor]


def policy_actor(policy: Policy, space: Discrete | Box, generator: torch.Generator) -> Actor:
    """A frozen policy as an :data:`Actor`, sampling discrete actions from ``generator``."""
    return lambda observations, t: sample_action(policy, space, observations, generator)


def default_horizon(discount: float) -> int:
    """Most steps of an evaluation episode: where ``discount^t < 1e-8``, or
    :data:`DEFAULT_UNDISCOUNTED_HORIZON` for ``discount = 1``."""
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
        Most steps simulated (default: :func:`default_horizon`).

    Returns
    -------
    ndarray of float64, shape (num_envs,)

    Raises
    ------
    GametoolsError
        With ``discount = 1``, when some episode has not ended after ``horizon`` steps.
    """
    horizon = default_horizon(env.discount) if horizon is None else int(horizon)
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


def paired_returns(env: FrozenOpponents, own: Actor, response: Actor, *,
                   own_generator: torch.Generator, own_seed: int, seed: int,
                   horizon: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The returns of the player's own policy and of a responder on the same episodes.

    Both rollouts reset ``env`` with ``seed`` and re-seed ``own_generator`` (the player's own
    sampling, used by ``own`` and possibly by ``response`` as its fallback) with ``own_seed``,
    so they share every random number (common random numbers).

    Returns
    -------
    own_returns, response_returns : ndarray of float64, shape (num_envs,)
    """
    own_generator.manual_seed(own_seed)
    own_returns = episode_returns(env, own, seed=seed, horizon=horizon)
    own_generator.manual_seed(own_seed)
    response_returns = episode_returns(env, response, seed=seed, horizon=horizon)
    return own_returns, response_returns


# ------------------------------------------------------------------------------------------
# estimates and intervals
# ------------------------------------------------------------------------------------------

class Estimate(NamedTuple):
    """A Monte-Carlo mean and its standard error."""

    mean: float
    stderr: float


def estimate(samples: np.ndarray) -> Estimate:
    """The sample mean of independent draws and its standard error ``std(ddof=1) / sqrt(n)``."""
    return Estimate(float(samples.mean()), float(samples.std(ddof=1) / math.sqrt(samples.size)))


def normal_quantile(confidence: float) -> float:
    """Half-width of a two-sided normal interval at level ``confidence``, in standard errors
    (1.96 at 0.95)."""
    return float(scipy.stats.norm.ppf(0.5 + confidence / 2.0))
