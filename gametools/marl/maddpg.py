"""MADDPG (Lowe et al. 2017): decentralised deterministic actors, centralised critics.

Homogeneous agents share one actor and one critic network by default (agent id appended;
:class:`~gametools.marl.common.AgentNetworks`).

Each agent ``i`` has an actor ``mu_i(o_i)`` and a critic ``Q_i(o_1..o_N, a_1..a_N)`` that sees every
agent's observation and action; target copies of both are tracked by Polyak averaging. Continuous
actions (``Box``) are native: ``tanh`` outputs scaled to the box, Gaussian exploration noise.
Discrete actions use the straight-through Gumbel-softmax relaxation (Jang et al. 2017), as the
original paper did for its communication tasks; the executed policy samples the softmax, so the
tabular policy of a discrete agent is ``softmax(logits)``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn

from gametools.marl.common import AgentNetworks, ReplayBuffer, gumbel_softmax, soft_update
from gametools.marl.env import Box, Discrete, VectorEnv
from gametools.marl.learner import LearnerConfig, ReplayLearner

__all__ = ["MADDPGConfig", "MADDPG"]


@dataclass(frozen=True)
class MADDPGConfig(LearnerConfig):
    """MADDPG settings.

    Attributes
    ----------
    actor_learning_rate : float
    buffer_size, batch_size, learning_starts : int
        Replay capacity, minibatch size, environment steps before the first update.
    updates_per_iteration : int
        Gradient steps after each environment step of all ``num_envs`` episodes.
    tau : float
        Polyak rate of the target networks.
    exploration_noise : float
        Standard deviation of the Gaussian noise, as a fraction of the action box's half-width.
    gumbel_temperature : float
    logit_penalty : float
        Weight of the squared-logit regulariser on discrete actors (as in the reference code).
    max_grad_norm : float
    """

    learning_rate: float = 1e-3
    actor_learning_rate: float = 1e-3
    buffer_size: int = 100_000
    batch_size: int = 256
    learning_starts: int = 1_000
    updates_per_iteration: int = 1
    tau: float = 0.01
    exploration_noise: float = 0.1
    gumbel_temperature: float = 1.0
    logit_penalty: float = 1e-3
    max_grad_norm: float = 0.5


class MADDPG(ReplayLearner):
    """Multi-agent deep deterministic policy gradient."""

    name = "maddpg"
    config_type = MADDPGConfig
    supports_continuous = True
    recurrent_refusal = ("recurrent MADDPG needs episode replay for the actors and the "
                         "centralised critics, unrolled jointly over every agent's history, and "
                         "is not implemented; use mappo or maa2c with recurrent=True")

    def __init__(self, env: VectorEnv, config: MADDPGConfig, *, seed: int) -> None:
        super().__init__(env, config, seed=seed)
        self.spaces = env.action_spaces
        self.action_sizes = [space.n if isinstance(space, Discrete) else int(space.shape[0])
                             for space in self.spaces]
        hidden = config.hidden_sizes
        critic_input = sum(env.observation_sizes) + sum(self.action_sizes)
        count = env.num_agents
        shared = self.shares_parameters([*zip(env.observation_sizes, self.spaces)],
                                        self.action_sizes)
        self.actors = AgentNetworks(env.observation_sizes, self.action_sizes, hidden,
                                    shared=shared, generator=self.generator,
                                    activation=nn.ReLU, output_gain=0.01).to(env.device)
        self.critics = AgentNetworks([critic_input] * count, [1] * count, hidden, shared=shared,
                                     generator=self.generator, activation=nn.ReLU
                                     ).to(env.device)
        self.target_actors = copy.deepcopy(self.actors)
        self.target_critics = copy.deepcopy(self.critics)
        self.actor_optimizer = torch.optim.Adam(self.actors.parameters(),
                                                lr=config.actor_learning_rate)
        self.critic_optimizer = torch.optim.Adam(self.critics.parameters(),
                                                 lr=config.learning_rate)
        shapes: dict[str, tuple[tuple[int, ...], torch.dtype]] = {
            "reward": ((env.num_agents,), torch.float32), "terminated": ((), torch.float32)}
        for i, (size, action) in enumerate(zip(env.observation_sizes, self.action_sizes)):
            shapes[f"obs{i}"] = ((size,), torch.float32)
            shapes[f"next_obs{i}"] = ((size,), torch.float32)
            shapes[f"action{i}"] = ((action,), torch.float32)
        self.buffer = ReplayBuffer(config.buffer_size, shapes, device=env.device)
        self.env_steps = 0

    # actions --------------------------------------------------------------------------------

    def _act(self, networks: AgentNetworks, agent: int, observations: torch.Tensor, *,
             explore: bool) -> torch.Tensor:
        """Action encoding fed to critics: one-hot (discrete) or a point of the box."""
        output = networks(agent, observations)
        space = self.spaces[agent]
        if isinstance(space, Discrete):
            if explore:
                return gumbel_softmax(output, self.device_generator,
                                      temperature=self.config.gumbel_temperature)  # type: ignore
            return torch.nn.functional.one_hot(output.argmax(dim=1), space.n).float()
        assert isinstance(space, Box)
        half, middle = (space.high - space.low) / 2, (space.high + space.low) / 2
        action = middle + half * torch.tanh(output)
        if explore:
            noise = torch.randn(action.shape, generator=self.device_generator,
                                device=action.device)
            action = (action + self.config.exploration_noise * half * noise  # type: ignore
                      ).clamp(space.low, space.high)
        return action

    def policy(self, agent: int, observations: torch.Tensor) -> torch.Tensor:
        output = self.actors(agent, observations.to(self.env.device))
        space = self.spaces[agent]
        if isinstance(space, Discrete):
            return torch.softmax(output, dim=-1)
        assert isinstance(space, Box)
        return (space.high + space.low) / 2 + (space.high - space.low) / 2 * torch.tanh(output)

    def modules(self) -> dict[str, nn.Module | torch.optim.Optimizer]:
        return {"actors": self.actors, "critics": self.critics,
                "target_actors": self.target_actors, "target_critics": self.target_critics,
                "actor_optimizer": self.actor_optimizer,
                "critic_optimizer": self.critic_optimizer}

    # one iteration ----------------------------------------------------------------------------

    def iterate(self) -> dict[str, float]:
        config: MADDPGConfig = self.config  # type: ignore[assignment]
        env = self.env
        current = env.observe()
        with torch.no_grad():
            encoded = [self._act(self.actors, i, obs, explore=True)
                       for i, obs in enumerate(current.observations)]
        actions = [e.argmax(dim=1) if isinstance(space, Discrete) else e
                   for e, space in zip(encoded, self.spaces)]
        step = env.step(actions)
        self.store(current, encoded, step)
        statistics = {"env_steps": float(env.num_envs)}
        if self.env_steps >= config.learning_starts and self.buffer.size >= config.batch_size:
            for _ in range(config.updates_per_iteration):
                statistics.update(self._update(self.buffer.sample(config.batch_size,
                                                                  self.device_generator)))
        return statistics

    def _update(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        config: MADDPGConfig = self.config  # type: ignore[assignment]
        count = self.env.num_agents
        observations = [batch[f"obs{i}"] for i in range(count)]
        next_observations = [batch[f"next_obs{i}"] for i in range(count)]
        actions = [batch[f"action{i}"] for i in range(count)]
        with torch.no_grad():
            next_actions = [self._act(self.target_actors, i, next_observations[i], explore=False)
                            for i in range(count)]
            next_input = torch.cat(next_observations + next_actions, dim=1)
        state_input = torch.cat(observations + actions, dim=1)
        critic_loss = torch.zeros(())
        for i in range(count):
            with torch.no_grad():
                target = batch["reward"][:, i] + self.discount * (1 - batch["terminated"]) \
                    * self.target_critics(i, next_input).squeeze(-1)
            critic_loss = critic_loss + (self.critics(i, state_input).squeeze(-1)
                                         - target).pow(2).mean()
        self.critic_optimizer.zero_grad()
        critic_loss.backward()
        critic_grad_norm = nn.utils.clip_grad_norm_(self.critics.parameters(),
                                                    config.max_grad_norm)
        self.critic_optimizer.step()

        actor_loss = torch.zeros(())
        for i in range(count):
            own = self._act(self.actors, i, observations[i], explore=True)
            joint = actions[:i] + [own] + actions[i + 1:]
            value = self.critics(i, torch.cat(observations + joint, dim=1)).mean()
            actor_loss = actor_loss - value
            if isinstance(self.spaces[i], Discrete):
                actor_loss = actor_loss + config.logit_penalty * \
                    self.actors(i, observations[i]).pow(2).mean()
        self.actor_optimizer.zero_grad()
        actor_loss.backward()
        actor_grad_norm = nn.utils.clip_grad_norm_(self.actors.parameters(), config.max_grad_norm)
        self.actor_optimizer.step()
        soft_update(self.target_actors, self.actors, config.tau)
        soft_update(self.target_critics, self.critics, config.tau)
        return {"critic_loss": float(critic_loss.detach()),
                "actor_loss": float(actor_loss.detach()),
                "critic_grad_norm": float(critic_grad_norm), "actor_grad_norm":
                float(actor_grad_norm)}
