"""Proximal policy optimisation for several agents: MAPPO, IPPO and the fully centralised variant.

One learner, :class:`PPOLearner`, runs clipped PPO (Schulman et al. 2017) with GAE and value
normalisation for a set of *actors* (:class:`Actors`), read and stored as stacked tensors with an
actor axis, so every actor goes through its network in the same call. The variants differ only by
the actors they compose in (:meth:`PPOLearner.make_actors`: :func:`agent_actors` with a critic
input, or one joint actor) and by their config:

- :class:`MAPPO` (Yu et al. 2022): decentralised actors, each with a **centralised** critic that
  sees the global state;
- :class:`IPPO` (de Witt et al. 2020): the same actors with **local** critics (own observation);
- :class:`MAA2C` (Papoudakis et al. 2021): MAPPO's actors and critics with :class:`A2CConfig`,
  one gradient step per rollout (the advantage actor-critic baseline of EPyMARL);
- :class:`gametools.marl.central.CentralPPO`: one actor over the joint action, seeing the state.

Parameter sharing (one actor and one critic network for all agents, an agent one-hot appended to
the input; :class:`~gametools.marl.common.AgentNetworks`) is on by default for homogeneous agents;
a shared network then runs all agents as one batch ``[n_agents * batch, ...]``.

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
    stack_padded,
)
from gametools.marl.env import Discrete, Reset, VectorEnv
from gametools.marl.learner import Learner, LearnerConfig

__all__ = [
    "IPPO",
    "MAA2C",
    "MAPPO",
    "A2CConfig",
    "Actors",
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
class Actors:
    """The ``K`` decision makers of a PPO learner, read as stacked tensors.

    ``observe(reset)`` gives the actors' inputs ``(K, B, obs)``, ``critic_input(reset)`` their
    critics' inputs ``(K, B, critic)`` (narrower inputs zero-padded on the right, as
    :func:`~gametools.marl.common.stack_padded`), ``reward(rewards)`` their rewards ``(K, B)``
    from the environment's ``(B, N)``; the sizes are per actor.
    """

    observe: Callable[[Reset], torch.Tensor]
    critic_input: Callable[[Reset], torch.Tensor]
    reward: Callable[[torch.Tensor], torch.Tensor]
    observation_sizes: tuple[int, ...]
    critic_sizes: tuple[int, ...]
    action_counts: tuple[int, ...]

    @property
    def count(self) -> int:
        return len(self.action_counts)


class Rollout(NamedTuple):
    """A rollout of ``K`` actors over ``T`` steps of ``B`` parallel episodes: tensors
    ``(K, T, B, ...)`` allocated once and filled in place step by step."""

    observations: torch.Tensor  # (K, T, B, observation width)
    critic_inputs: torch.Tensor  # (K, T, B, critic width)
    final_critic_inputs: torch.Tensor  # (K, T, B, critic width), of the state each step reached
    actions: torch.Tensor  # (K, T, B) int64
    log_probs: torch.Tensor  # (K, T, B)
    rewards: torch.Tensor  # (K, T, B)
    terminated: torch.Tensor  # (T, B) bool
    truncated: torch.Tensor  # (T, B) bool
    legal: torch.Tensor  # (K, T, B, max actions) bool; (0,) without legal-action masks

    @classmethod
    def empty(cls, actors: Actors, steps: int, envs: int, device: torch.device, *,
              masked: bool = False) -> Rollout:
        def zeros(*shape: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
            return torch.zeros(actors.count, steps, envs, *shape, dtype=dtype, device=device)
        observation, critic = max(actors.observation_sizes), max(actors.critic_sizes)
        done = torch.zeros(steps, envs, dtype=torch.bool, device=device)
        legal = zeros(max(actors.action_counts), dtype=torch.bool) if masked else \
            torch.zeros(0, dtype=torch.bool, device=device)
        return cls(zeros(observation), zeros(critic), zeros(critic), zeros(dtype=torch.int64),
                   zeros(), zeros(), done, done.clone(), legal)


#: A critic input for agent actors: ``critic_input(env) -> (input of a Reset (N, B, d), the
#: width per agent)``.
CriticInput = Callable[[VectorEnv], tuple[Callable[[Reset], torch.Tensor], tuple[int, ...]]]


def centralised_critic_input(env: VectorEnv) -> tuple[Callable[[Reset], torch.Tensor],
                                                      tuple[int, ...]]:
    """MAPPO's critic input: the global state, for every agent."""
    count = env.num_agents

    def state(reset: Reset) -> torch.Tensor:
        return reset.state[None].expand(count, *reset.state.shape)
    return state, (env.state_size,) * count


def local_critic_input(env: VectorEnv) -> tuple[Callable[[Reset], torch.Tensor],
                                                tuple[int, ...]]:
    """IPPO's critic input: each agent's own observation."""
    return _own_observations, tuple(env.observation_sizes)


def _own_observations(reset: Reset) -> torch.Tensor:
    return stack_padded(reset.observations, 0.0)


def _own_rewards(rewards: torch.Tensor) -> torch.Tensor:
    return rewards.T


def agent_actors(env: VectorEnv, critic_input: CriticInput, name: str) -> Actors:
    """One actor per agent (its own observation, action space and reward), with the critic
    input ``critic_input(env)``; ``name`` is the learner's, for the error message."""
    if not all(isinstance(space, Discrete) for space in env.action_spaces):
        raise InvalidArgumentError(f"{name} needs discrete actions")
    make_input, critic_sizes = critic_input(env)
    return Actors(observe=_own_observations, critic_input=make_input, reward=_own_rewards,
                  observation_sizes=tuple(env.observation_sizes), critic_sizes=critic_sizes,
                  action_counts=tuple(space.n for space in env.action_spaces))  # type: ignore


class PPOLearner(Learner):
    """Clipped PPO over a set of actors (see the module docstring); a variant composes in its
    actors (:meth:`make_actors`). All actors go through their networks together: one batched
    forward pass per step with shared parameters."""

    config_type: ClassVar[type[LearnerConfig]] = MAPPOConfig
    supports_recurrent = True
    supports_action_masks = True

    def __init__(self, env: VectorEnv, config: PPOConfig, *, seed: int) -> None:
        super().__init__(env, config, seed=seed)
        if config.recurrent and env.num_envs < config.minibatches:
            raise InvalidArgumentError(
                f"recurrent {self.name} splits its minibatches by environment: num_envs "
                f"({env.num_envs}) must be at least minibatches ({config.minibatches})")
        self.actors = actors = self.make_actors(env)
        hidden = config.hidden_sizes
        shared = self.shares_parameters([*zip(actors.observation_sizes, actors.critic_sizes)],
                                        actors.action_counts)
        self.actor_nets: AgentNetworks | RecurrentAgentNetworks
        if config.recurrent:
            self.actor_nets = RecurrentAgentNetworks(
                actors.observation_sizes, actors.action_counts, config.rnn_hidden_dim,
                shared=shared, generator=self.generator, output_gain=0.01)
        else:
            self.actor_nets = AgentNetworks(actors.observation_sizes, actors.action_counts,
                                            hidden, shared=shared, generator=self.generator,
                                            output_gain=0.01)
        self.critic_nets = AgentNetworks(actors.critic_sizes, [1] * actors.count, hidden,
                                         shared=shared, generator=self.generator)
        self.actor_nets.to(env.device)
        self.critic_nets.to(env.device)
        self.normalizers = nn.ModuleList(RunningNormalizer()
                                         for _ in range(actors.count)).to(env.device)
        self.optimizer = torch.optim.Adam([*self.actor_nets.parameters(),
                                           *self.critic_nets.parameters()],
                                          lr=config.learning_rate, eps=1e-5)
        # recurrent actors: each actor's hidden state in every episode, (actors, B, width)
        self.memory = torch.zeros(actors.count if config.recurrent else 0, env.num_envs,
                                  config.rnn_hidden_dim, device=env.device)
        self.rollout = Rollout.empty(actors, config.rollout_steps, env.num_envs, env.device,
                                     masked=self.masked)

    # actors ---------------------------------------------------------------------------------

    @abc.abstractmethod
    def make_actors(self, env: VectorEnv) -> Actors:
        """The decision makers of this variant: one per agent with its critic input
        (:func:`agent_actors`), or one joint actor (:class:`~gametools.marl.central.CentralPPO`)."""

    def decode(self, actions: torch.Tensor) -> list[torch.Tensor]:
        """The environment's per-agent actions from the actors' actions ``(K, B)``."""
        return list(actions.unbind(0))

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
        observations = observations.to(self.env.device)
        logits, hidden = self.recurrent_logits(agent, observations, hidden)
        return torch.softmax(self.mask(agent, observations, logits), dim=-1), hidden

    def value(self, index: int, inputs: torch.Tensor) -> torch.Tensor:
        return self.critic_nets(index, inputs).squeeze(-1)

    def policy(self, agent: int, observations: torch.Tensor) -> torch.Tensor:
        observations = observations.to(self.env.device)
        return torch.softmax(self.mask(agent, observations, self.logits(agent, observations)),
                             dim=-1)

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

    def _scale(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Every actor's running return mean and standard deviation, ``(K, 1)`` float64."""
        normalizers = [self._normalizer(k) for k in range(self.actors.count)]
        mean = torch.stack([n.mean for n in normalizers])[:, None]
        std = torch.sqrt(torch.stack([n.var for n in normalizers]) + 1e-8)[:, None]
        return mean, std

    def _values(self, inputs: torch.Tensor) -> torch.Tensor:
        """The critics' denormalised values ``(K, M)`` of inputs ``(K, M, critic)``."""
        values = self.critic_nets.forward_all(inputs).squeeze(-1)
        if self.config.value_normalization:  # type: ignore[attr-defined]
            mean, std = self._scale()
            values = (values * std + mean).to(values.dtype)
        return values

    def iterate(self) -> dict[str, float]:
        config: PPOConfig = self.config  # type: ignore[assignment]
        env, steps, actors, rollout = self.env, config.rollout_steps, self.actors, self.rollout
        count, envs = actors.count, env.num_envs
        current = env.observe()
        first_memory = self.memory  # recurrent actors: the hidden state at the rollout's start
        with torch.no_grad():
            for t in range(steps):
                inputs = actors.observe(current)  # (K, B, obs)
                if isinstance(self.actor_nets, RecurrentAgentNetworks):
                    logits, hidden = self.actor_nets.step_stacked(inputs, self.memory)
                else:
                    logits = self.actor_nets.forward_all(inputs)
                if self.masked:  # illegal actions: probability zero
                    legal = self.legal_stacked(inputs)
                    assert legal is not None
                    rollout.legal[:, t] = legal
                    logits = logits.masked_fill(~legal, torch.finfo(logits.dtype).min)
                probabilities = torch.softmax(logits, dim=-1)
                action = sample_categorical(probabilities.flatten(0, 1),
                                            self.device_generator).view(count, envs)
                rollout.observations[:, t] = inputs
                rollout.critic_inputs[:, t] = actors.critic_input(current)
                rollout.actions[:, t] = action
                rollout.log_probs[:, t] = torch.log(
                    probabilities.gather(2, action[..., None]).squeeze(2).clamp_min(1e-12))
                step = env.step(self.decode(action))
                rollout.final_critic_inputs[:, t] = actors.critic_input(
                    Reset(step.final_observations, step.final_state))
                rollout.rewards[:, t] = actors.reward(step.rewards)
                rollout.terminated[t], rollout.truncated[t] = step.terminated, step.truncated
                current = Reset(step.observations, step.state)
                if self.recurrent:
                    self.memory = reset_where(hidden, step.terminated | step.truncated, axis=1)
            # the critics do not change during the rollout: value every step in one pass
            values = self._values(rollout.critic_inputs.flatten(1, 2)).view(count, steps, envs)
            final_values = self._values(rollout.final_critic_inputs.flatten(1, 2)
                                        ).view(count, steps, envs)
            next_value = self._values(actors.critic_input(current))
            advantages, returns = gae(rollout.rewards.transpose(0, 1), values.transpose(0, 1),
                                      rollout.terminated, rollout.truncated, next_value,
                                      discount=self.discount, lam=config.gae_lambda,
                                      final_values=final_values.transpose(0, 1))
            advantages, returns = advantages.transpose(0, 1), returns.transpose(0, 1)
        if config.value_normalization:
            for k in range(count):
                self._normalizer(k).update(returns[k].transpose(0, 1))
        batch = {"obs": rollout.observations, "critic": rollout.critic_inputs,
                 "action": rollout.actions, "log_prob": rollout.log_probs,
                 "advantage": advantages, "return": returns, "legal": rollout.legal}
        if self.recurrent:
            # step t begins an episode where step t - 1 ended one (step 0: first_memory)
            ended = rollout.terminated | rollout.truncated
            batch.update(first_memory=first_memory,
                         starts=torch.cat([torch.zeros_like(ended[:1]), ended[:-1]]))
        statistics: dict[str, float] = {"env_steps": float(steps * envs)}
        statistics.update(self._update(batch))
        return statistics

    def _minibatch_logits(self, batch: dict[str, torch.Tensor], index: torch.Tensor
                          ) -> torch.Tensor:
        """Every actor's logits ``(K, M, n)`` on a minibatch: rows ``index`` of the flattened
        rollout (feed-forward), or the environments ``index`` re-unrolled over the rollout from
        their first hidden state, reset at episode starts (recurrent), flattened time-major."""
        if not isinstance(self.actor_nets, RecurrentAgentNetworks):
            return self.actor_nets.forward_all(batch["obs"].flatten(1, 2)[:, index])
        hidden = batch["first_memory"][:, index]
        starts = batch["starts"][:, index]
        outputs = []
        for t in range(starts.shape[0]):
            hidden = reset_where(hidden, starts[t], axis=1)
            logits, hidden = self.actor_nets.step_stacked(batch["obs"][:, t, index], hidden)
            outputs.append(logits)
        return torch.stack(outputs, dim=1).flatten(1, 2)

    def _update(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        config: PPOConfig = self.config  # type: ignore[assignment]
        count, steps, envs = batch["action"].shape
        # feed-forward: minibatches of steps; recurrent: of environments (whole rollouts)
        size = envs if self.recurrent else steps * envs

        def select(values: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
            """Rows ``index`` of ``(K, T, B, ...)``, as ``(K, M, ...)`` time-major."""
            if self.recurrent:
                return values[:, :, index].flatten(1, 2)
            return values.flatten(1, 2)[:, index]

        minibatch = max(1, size // config.minibatches)
        parameters = [*self.actor_nets.parameters(), *self.critic_nets.parameters()]
        # summed as tensors and read once at the end: no host synchronisation per minibatch
        names = ("policy_loss", "value_loss", "entropy", "approx_kl")
        totals = {name: torch.zeros((), device=self.env.device) for name in names}
        grad_norm = torch.zeros((), device=self.env.device)
        mean, std = self._scale()  # the return normalisers, fixed during the update
        updates = 0
        for _ in range(config.epochs):
            order = torch.randperm(size, generator=self.device_generator,
                                   device=self.env.device)
            for start in range(0, size, minibatch):
                index = order[start:start + minibatch]
                # every actor's terms at once, (K, M); the loss sums the actors' losses
                advantage = select(batch["advantage"], index)
                if config.advantage_normalization and advantage.shape[1] > 1:
                    advantage = (advantage - advantage.mean(1, keepdim=True)) \
                        / (advantage.std(1, keepdim=True) + 1e-8)
                logits = self._minibatch_logits(batch, index)
                if self.masked:  # the illegal actions' terms are exactly zero
                    logits = logits.masked_fill(~select(batch["legal"], index),
                                                torch.finfo(logits.dtype).min)
                log_all = torch.log_softmax(logits, dim=-1)
                new_log = log_all.gather(2, select(batch["action"], index)[..., None]
                                         ).squeeze(2)
                old_log = select(batch["log_prob"], index)
                ratio = torch.exp(new_log - old_log)
                surrogate = torch.minimum(
                    ratio * advantage, ratio.clamp(1 - config.clip, 1 + config.clip) * advantage
                ).mean(1)
                entropy = -(log_all.exp() * log_all).sum(-1).mean(1)
                target = select(batch["return"], index)
                if config.value_normalization:
                    target = ((target - mean) / std).to(target.dtype)
                predicted = self.critic_nets.forward_all(select(batch["critic"], index))
                value_loss = (predicted.squeeze(-1) - target).pow(2).mean(1)
                loss = (-surrogate + config.value_coef * value_loss
                        - config.entropy_coef * entropy).sum()
                with torch.no_grad():
                    totals["policy_loss"] += -surrogate.sum()
                    totals["value_loss"] += value_loss.sum()
                    totals["entropy"] += entropy.sum()
                    # Schulman's estimator of KL(old || new), always >= 0
                    log_ratio = new_log - old_log
                    totals["approx_kl"] += ((log_ratio.exp() - 1) - log_ratio).mean(1).sum()
                self.optimizer.zero_grad()
                loss.backward()
                grad_norm += nn.utils.clip_grad_norm_(parameters, config.max_grad_norm).detach()
                self.optimizer.step()
                updates += 1
        statistics = {k: float(v) / max(1, updates * count) for k, v in totals.items()}
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

    def make_actors(self, env: VectorEnv) -> Actors:
        return agent_actors(env, centralised_critic_input, self.name)


class MAPPO(PPOLearner):
    """Multi-agent PPO: decentralised actors, centralised critics (global state)."""

    name = "mappo"

    def make_actors(self, env: VectorEnv) -> Actors:
        return agent_actors(env, centralised_critic_input, self.name)


class IPPO(PPOLearner):
    """Independent PPO: the same actors with local critics (own observation)."""

    name = "ippo"

    def make_actors(self, env: VectorEnv) -> Actors:
        return agent_actors(env, local_critic_input, self.name)
