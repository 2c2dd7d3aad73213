"""Proximal policy optimisation for several agents: MAPPO, IPPO and the fully centralised variant.

One learner, :class:`PPOLearner`, runs clipped PPO (Schulman et al. 2017) with GAE and value
normalisation for a list of *actors*. The variants differ only by the actors they compose in
(:meth:`PPOLearner.make_actors`: :func:`agent_actors` with a critic input, or one joint actor) and
by their config:

- :class:`MAPPO` (Yu et al. 2022): decentralised actors, each with a **centralised** critic that
  sees the global state;
- :class:`IPPO` (de Witt et al. 2020): the same actors with **local** critics (own observation);
- :class:`MAA2C` (Papoudakis et al. 2021): MAPPO's actors and critics with :class:`A2CConfig`,
  one gradient step per rollout (the advantage actor-critic baseline of EPyMARL);
- :class:`gametools.marl.central.CentralPPO`: one actor over the joint action, seeing the state.

Parameter sharing (one actor and one critic network for all agents, an agent one-hot appended to
the input; :class:`~gametools.marl.common.AgentNetworks`) is on by default for homogeneous agents.

Recurrent actors (``recurrent=True``; :class:`~gametools.marl.common.RecurrentAgentNetworks`)
carry their hidden state through the rollout, reset to zero where an episode ends; the rollout
keeps each environment's hidden state at its first step and the episode starts, and the update
re-unrolls the actor over each environment's whole rollout from there (minibatches are sets of
environments, as in CleanRL's recurrent PPO), so gradients flow through time within a rollout.
The critics stay feed-forward (MAPPO's sees the global state; IPPO's the current observation).

Examples
--------
>>> from gametools import NormalFormGame
>>> from gametools.marl.mappo import MAPPOConfig
>>> from gametools.marl.train import train
>>> pennies = NormalFormGame.zero_sum([[1, -1], [-1, 1]])
>>> result = train(pennies, MAPPOConfig(total_steps=512, num_envs=16,
...                eval_interval=256), algorithm="mappo", seed=0)
>>> result.steps >= 512, result.exploitability.kind
(True, 'exact')
"""

from __future__ import annotations

import abc
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple, cast

import torch
from torch import nn

from gametools.errors import InvalidArgumentError
from gametools.marl.common import (
    AgentNetworks,
    RecurrentAgentNetworks,
    RunningNormalizer,
    gae,
    reset_where,
    sample_categorical,
)
from gametools.marl.env import Discrete, Reset, VectorEnv
from gametools.marl.learner import Learner, LearnerConfig

__all__ = [
    "IPPO",
    "MAA2C",
    "MAPPO",
    "A2CConfig",
    "Actor",
    "CriticInput",
    "MAPPOConfig",
    "PPOConfig",
    "PPOLearner",
    "Rollout",
    "agent_actors",
    "centralised_critic_input",
    "local_critic_input",
]


@dataclass(frozen=True)
class PPOConfig(LearnerConfig):
    """PPO settings (shared by MAPPO, IPPO and the centralised learner).

    Attributes
    ----------
    rollout_steps : int
        Steps per environment collected before each update (``rollout_steps * num_envs``
        environment steps per iteration).
    epochs : int
        Passes over each rollout.
    minibatches : int
        Minibatches per pass.
    clip : float
        PPO ratio clipping.
    gae_lambda : float
    entropy_coef : float
    value_coef : float
    max_grad_norm : float
    value_normalization : bool
        Learn normalised value targets (running mean and variance of the returns).
    advantage_normalization : bool
        Standardise advantages in each minibatch.
    """

    rollout_steps: int = 16
    epochs: int = 4
    minibatches: int = 4
    clip: float = 0.2
    gae_lambda: float = 0.95
    entropy_coef: float = 0.01
    value_coef: float = 0.5
    max_grad_norm: float = 0.5
    value_normalization: bool = True
    advantage_normalization: bool = True

    @property
    def batch_size(self) -> int:
        """Environment steps per iteration."""
        return self.rollout_steps * self.num_envs


@dataclass(frozen=True)
class MAPPOConfig(PPOConfig):
    """Defaults for MAPPO and IPPO (see :class:`PPOConfig`)."""


@dataclass(frozen=True)
class Actor:
    """One decision maker of a PPO learner.

    ``observe(reset)`` gives the actor's input ``(B, obs)``, ``critic_input(reset)`` its critic's
    input, ``num_actions`` its action count and ``reward(rewards)`` its reward ``(B,)`` from the
    environment's ``(B, N)``; ``decode(actions)`` turns its actions into the environment's
    per-agent action tensors (identity for agent actors).
    """

    observe: Callable[[Reset], torch.Tensor]
    critic_input: Callable[[Reset], torch.Tensor]
    observation_size: int
    critic_size: int
    num_actions: int
    reward: Callable[[torch.Tensor], torch.Tensor]


class Rollout(NamedTuple):
    """One actor's rollout: ``(T, B, ...)`` tensors preallocated before collection (``T``
    steps of ``B`` parallel episodes), filled in place step by step."""

    observations: torch.Tensor  # (T, B, observation_size)
    critic_inputs: torch.Tensor  # (T, B, critic_size)
    actions: torch.Tensor  # (T, B) int64
    log_probs: torch.Tensor  # (T, B)
    values: torch.Tensor  # (T, B), the critic's (denormalised) value of each step's input
    rewards: torch.Tensor  # (T, B)
    final_values: torch.Tensor  # (T, B), the value of the state each step reached

    @classmethod
    def empty(cls, steps: int, envs: int, observation_size: int, critic_size: int,
              device: torch.device) -> Rollout:
        def zeros(*shape: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
            return torch.zeros(steps, envs, *shape, dtype=dtype, device=device)
        return cls(zeros(observation_size), zeros(critic_size), zeros(dtype=torch.int64),
                   zeros(), zeros(), zeros(), zeros())


#: A critic input for an agent: ``critic_input(env, agent) -> (input of a Reset, its size)``.
CriticInput = Callable[[VectorEnv, int], tuple[Callable[[Reset], torch.Tensor], int]]


def centralised_critic_input(env: VectorEnv, agent: int) -> tuple[Callable[[Reset], torch.Tensor],
                                                                   int]:
    """MAPPO's critic input: the global state."""
    return (lambda reset: reset.state), env.state_size


def local_critic_input(env: VectorEnv, agent: int) -> tuple[Callable[[Reset], torch.Tensor], int]:
    """IPPO's critic input: the agent's own observation."""
    return (lambda reset: reset.observations[agent]), env.observation_sizes[agent]


def _own_observation(agent: int, reset: Reset) -> torch.Tensor:
    return reset.observations[agent]


def _own_reward(agent: int, rewards: torch.Tensor) -> torch.Tensor:
    return rewards[:, agent]


def agent_actors(env: VectorEnv, critic_input: CriticInput, name: str) -> list[Actor]:
    """One actor per agent (its own observation, action space and reward), each with the critic
    input ``critic_input(env, agent)``; ``name`` is the learner's, for the error message."""
    actors = []
    for agent, space in enumerate(env.action_spaces):
        if not isinstance(space, Discrete):
            raise InvalidArgumentError(f"{name} needs discrete actions")
        make_input, critic_size = critic_input(env, agent)
        actors.append(Actor(
            observe=functools.partial(_own_observation, agent), critic_input=make_input,
            observation_size=env.observation_sizes[agent], critic_size=critic_size,
            num_actions=space.n, reward=functools.partial(_own_reward, agent)))
    return actors


class PPOLearner(Learner):
    """Clipped PPO over a list of actors (see the module docstring); a variant composes in its
    actors (:meth:`make_actors`)."""

    config_type: ClassVar[type[LearnerConfig]] = MAPPOConfig
    supports_recurrent = True

    def __init__(self, env: VectorEnv, config: PPOConfig, *, seed: int) -> None:
        super().__init__(env, config, seed=seed)
        if config.recurrent and env.num_envs < config.minibatches:
            raise InvalidArgumentError(
                f"recurrent {self.name} splits its minibatches by environment: num_envs "
                f"({env.num_envs}) must be at least minibatches ({config.minibatches})")
        self.actors = self.make_actors(env)
        hidden = config.hidden_sizes
        observation_sizes = [a.observation_size for a in self.actors]
        critic_sizes = [a.critic_size for a in self.actors]
        action_counts = [a.num_actions for a in self.actors]
        shared = self.shares_parameters([*zip(observation_sizes, critic_sizes)], action_counts)
        self.actor_nets: AgentNetworks | RecurrentAgentNetworks
        if config.recurrent:
            self.actor_nets = RecurrentAgentNetworks(observation_sizes, action_counts,
                                                     config.rnn_hidden_dim, shared=shared,
                                                     generator=self.generator, output_gain=0.01)
        else:
            self.actor_nets = AgentNetworks(observation_sizes, action_counts, hidden,
                                            shared=shared, generator=self.generator,
                                            output_gain=0.01)
        self.critic_nets = AgentNetworks(critic_sizes, [1] * len(self.actors), hidden,
                                         shared=shared, generator=self.generator)
        self.actor_nets.to(env.device)
        self.critic_nets.to(env.device)
        self.normalizers = nn.ModuleList(RunningNormalizer() for _ in self.actors).to(env.device)
        self.optimizer = torch.optim.Adam([*self.actor_nets.parameters(),
                                           *self.critic_nets.parameters()],
                                          lr=config.learning_rate, eps=1e-5)
        # recurrent actors: each actor's hidden state in every episode, (actors, B, width)
        self.memory = torch.zeros(len(self.actors) if config.recurrent else 0, env.num_envs,
                                  config.rnn_hidden_dim, device=env.device)

    # actors ---------------------------------------------------------------------------------

    @abc.abstractmethod
    def make_actors(self, env: VectorEnv) -> list[Actor]:
        """The decision makers of this variant: one per agent with its critic input
        (:func:`agent_actors`), or one joint actor (:class:`~gametools.marl.central.CentralPPO`)."""

    def decode(self, actions: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """The environment's per-agent actions from the actors' actions."""
        return list(actions)

    def logits(self, index: int, observations: torch.Tensor) -> torch.Tensor:
        self.require_feedforward()
        return self.actor_nets(index, observations)  # type: ignore[call-arg]

    def recurrent_logits(self, index: int, observations: torch.Tensor, hidden: torch.Tensor
                         ) -> tuple[torch.Tensor, torch.Tensor]:
        """A recurrent actor's logits and next hidden state."""
        assert isinstance(self.actor_nets, RecurrentAgentNetworks), "feed-forward actors"
        return self.actor_nets(index, observations, hidden)

    def policy_step(self, agent: int, observations: torch.Tensor, hidden: torch.Tensor
                    ) -> tuple[torch.Tensor, torch.Tensor]:
        logits, hidden = self.recurrent_logits(agent, observations.to(self.env.device), hidden)
        return torch.softmax(logits, dim=-1), hidden

    def value(self, index: int, inputs: torch.Tensor) -> torch.Tensor:
        return self.critic_nets(index, inputs).squeeze(-1)

    def policy(self, agent: int, observations: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.logits(agent, observations.to(self.env.device)), dim=-1)

    def modules(self) -> dict[str, nn.Module | torch.optim.Optimizer]:
        return {"actors": self.actor_nets, "critics": self.critic_nets,
                "normalizers": self.normalizers, "optimizer": self.optimizer}

    def extra_state(self) -> dict[str, Any]:
        return {"memory": self.memory} if self.recurrent else {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        if self.recurrent:
            self.memory = state["memory"].to(self.env.device).clone()

    # one iteration ----------------------------------------------------------------------------

    def _normalizer(self, index: int) -> RunningNormalizer:
        return cast(RunningNormalizer, self.normalizers[index])

    def _denormalized_value(self, index: int, inputs: torch.Tensor) -> torch.Tensor:
        value = self.value(index, inputs)
        if self.config.value_normalization:  # type: ignore[attr-defined]
            value = self._normalizer(index).denormalize(value)
        return value

    def iterate(self) -> dict[str, float]:
        config: PPOConfig = self.config  # type: ignore[assignment]
        env, steps = self.env, config.rollout_steps
        current = env.observe()
        rollouts = [Rollout.empty(steps, env.num_envs, actor.observation_size, actor.critic_size,
                                  env.device) for actor in self.actors]
        terminated = torch.zeros(steps, env.num_envs, dtype=torch.bool, device=env.device)
        truncated = torch.zeros_like(terminated)
        first_memory = self.memory  # recurrent actors: the hidden state at the rollout's start
        with torch.no_grad():
            for t in range(steps):
                chosen = []
                inputs = [actor.observe(current) for actor in self.actors]
                if isinstance(self.actor_nets, RecurrentAgentNetworks):
                    all_logits, hidden = self.actor_nets.step_all(inputs, self.memory)
                else:
                    all_logits = [self.logits(k, obs) for k, obs in enumerate(inputs)]
                for k, (actor, rollout) in enumerate(zip(self.actors, rollouts)):
                    critic_in = actor.critic_input(current)
                    probabilities = torch.softmax(all_logits[k], dim=-1)
                    action = sample_categorical(probabilities, self.device_generator)
                    rollout.observations[t] = inputs[k]
                    rollout.critic_inputs[t] = critic_in
                    rollout.actions[t] = action
                    rollout.log_probs[t] = torch.log(probabilities.gather(1, action[:, None])
                                                     .squeeze(1).clamp_min(1e-12))
                    rollout.values[t] = self._denormalized_value(k, critic_in)
                    chosen.append(action)
                step = env.step(self.decode(chosen))
                final = Reset(step.final_observations, step.final_state)
                for k, (actor, rollout) in enumerate(zip(self.actors, rollouts)):
                    rollout.rewards[t] = actor.reward(step.rewards)
                    rollout.final_values[t] = self._denormalized_value(k,
                                                                       actor.critic_input(final))
                terminated[t], truncated[t] = step.terminated, step.truncated
                current = Reset(step.observations, step.state)
                if self.recurrent:
                    self.memory = reset_where(hidden, step.terminated | step.truncated, axis=1)
        # step t begins an episode where step t - 1 ended one (step 0 starts from first_memory)
        starts = torch.cat([torch.zeros_like(terminated[:1]), (terminated | truncated)[:-1]])
        statistics: dict[str, float] = {"env_steps": float(steps * env.num_envs)}
        batches = []
        for k, (actor, rollout) in enumerate(zip(self.actors, rollouts)):
            with torch.no_grad():
                next_value = self._denormalized_value(k, actor.critic_input(current))
                advantages, returns = gae(rollout.rewards, rollout.values, terminated, truncated,
                                          next_value, discount=self.discount,
                                          lam=config.gae_lambda,
                                          final_values=rollout.final_values)
            if config.value_normalization:
                self._normalizer(k).update(returns)
            batches.append({  # (T, B, ...) tensors
                "obs": rollout.observations, "critic": rollout.critic_inputs,
                "action": rollout.actions, "log_prob": rollout.log_probs,
                "advantage": advantages, "return": returns})
            if self.recurrent:
                batches[-1].update(first_memory=first_memory[k], starts=starts)
        statistics.update(self._update(batches))
        return statistics

    def _minibatch_logits(self, batches: list[dict[str, torch.Tensor]], index: torch.Tensor
                          ) -> list[torch.Tensor]:
        """Every actor's logits on a minibatch: rows ``index`` of the flattened rollout
        (feed-forward), or the environments ``index`` re-unrolled over the rollout from their
        first hidden state, reset at episode starts (recurrent), flattened time-major."""
        if not isinstance(self.actor_nets, RecurrentAgentNetworks):
            return [self.logits(k, batch["obs"].flatten(0, 1)[index])
                    for k, batch in enumerate(batches)]
        hidden = torch.stack([batch["first_memory"][index] for batch in batches])
        starts = batches[0]["starts"][:, index]
        outputs: list[list[torch.Tensor]] = []
        for t in range(starts.shape[0]):
            hidden = reset_where(hidden, starts[t], axis=1)
            logits, hidden = self.actor_nets.step_all([batch["obs"][t, index]
                                                       for batch in batches], hidden)
            outputs.append(logits)
        return [torch.stack([step[k] for step in outputs]).flatten(0, 1)
                for k in range(len(batches))]

    def _update(self, batches: list[dict[str, torch.Tensor]]) -> dict[str, float]:
        config: PPOConfig = self.config  # type: ignore[assignment]
        steps, envs = batches[0]["obs"].shape[:2]
        # feed-forward: minibatches of steps; recurrent: of environments (whole rollouts)
        size = envs if self.recurrent else steps * envs
        minibatch = max(1, size // config.minibatches)

        def select(values: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
            if self.recurrent:
                return values[:, index].flatten(0, 1)
            return values.flatten(0, 1)[index]

        # summed as tensors and read once at the end: no host synchronisation per minibatch
        names = ("policy_loss", "value_loss", "entropy", "approx_kl")
        totals = {name: torch.zeros((), device=self.env.device) for name in names}
        grad_norm = torch.zeros((), device=self.env.device)
        updates = 0
        for _ in range(config.epochs):
            order = torch.randperm(size, generator=self.device_generator,
                                   device=self.env.device)
            for start in range(0, size, minibatch):
                index = order[start:start + minibatch]
                loss = torch.zeros(())
                all_logits = self._minibatch_logits(batches, index)
                for k, batch in enumerate(batches):
                    advantage = select(batch["advantage"], index)
                    if config.advantage_normalization and advantage.numel() > 1:
                        advantage = (advantage - advantage.mean()) / (advantage.std() + 1e-8)
                    logits = all_logits[k]
                    log_all = torch.log_softmax(logits, dim=-1)
                    new_log = log_all.gather(1, select(batch["action"], index)[:, None]
                                             ).squeeze(1)
                    old_log = select(batch["log_prob"], index)
                    ratio = torch.exp(new_log - old_log)
                    surrogate = torch.minimum(
                        ratio * advantage,
                        ratio.clamp(1 - config.clip, 1 + config.clip) * advantage)
                    entropy = -(log_all.exp() * log_all).sum(-1).mean()
                    target = select(batch["return"], index)
                    if config.value_normalization:
                        target = self._normalizer(k).normalize(target)
                    value_loss = (self.value(k, select(batch["critic"], index))
                                  - target).pow(2).mean()
                    loss = loss - surrogate.mean() + config.value_coef * value_loss \
                        - config.entropy_coef * entropy
                    with torch.no_grad():
                        totals["policy_loss"] += -surrogate.mean()
                        totals["value_loss"] += value_loss
                        totals["entropy"] += entropy
                        # Schulman's estimator of KL(old || new), always >= 0
                        log_ratio = new_log - old_log
                        totals["approx_kl"] += ((log_ratio.exp() - 1) - log_ratio).mean()
                self.optimizer.zero_grad()
                loss.backward()
                grad_norm += nn.utils.clip_grad_norm_([*self.actor_nets.parameters(),
                                                       *self.critic_nets.parameters()],
                                                      config.max_grad_norm).detach()
                self.optimizer.step()
                updates += 1
        statistics = {k: float(v) / max(1, updates * len(batches)) for k, v in totals.items()}
        statistics["grad_norm"] = float(grad_norm) / max(1, updates)
        return statistics


@dataclass(frozen=True)
class A2CConfig(PPOConfig):
    """Advantage actor-critic defaults, as EPyMARL's MAA2C: 5-step rollouts, one gradient step
    per rollout on the whole batch (the PPO ratio is then exactly 1 and the clipped objective
    is the plain policy gradient ``A grad log pi``), lambda = 1 (n-step returns), no
    normalisation of values or advantages."""

    rollout_steps: int = 5
    epochs: int = 1
    minibatches: int = 1
    gae_lambda: float = 1.0
    value_normalization: bool = False
    advantage_normalization: bool = False


class MAA2C(PPOLearner):
    """Multi-agent advantage actor-critic (Papoudakis et al. 2021): decentralised actors,
    centralised critics, one on-policy gradient step per rollout."""

    name = "maa2c"
    config_type = A2CConfig

    def make_actors(self, env: VectorEnv) -> list[Actor]:
        return agent_actors(env, centralised_critic_input, self.name)


class MAPPO(PPOLearner):
    """Multi-agent PPO: decentralised actors, centralised critics (global state)."""

    name = "mappo"

    def make_actors(self, env: VectorEnv) -> list[Actor]:
        return agent_actors(env, centralised_critic_input, self.name)


class IPPO(PPOLearner):
    """Independent PPO: the same actors with local critics (own observation)."""

    name = "ippo"

    def make_actors(self, env: VectorEnv) -> list[Actor]:
        return agent_actors(env, local_critic_input, self.name)
