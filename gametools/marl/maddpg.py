"""MADDPG (Lowe et al. 2017): decentralised deterministic actors, centralised critics.

Homogeneous agents share one actor and one critic network by default (agent id appended;
:class:`~gametools.marl.common.AgentNetworks`).

Each agent ``i`` has an actor ``mu_i(o_i)`` and a critic ``Q_i(o_1..o_N, a_1..a_N)`` that sees every
agent's observation and action; target copies of both are tracked by Polyak averaging. Continuous
actions (``Box``) are native: ``tanh`` outputs scaled to the box, Gaussian exploration noise.
Discrete actions use the straight-through Gumbel-softmax relaxation (Jang et al. 2017), as the
original paper did for its communication tasks; the executed policy samples the softmax, so the
tabular policy of a discrete agent is ``softmax(logits)``.

Recurrent actors (``recurrent=True``, EPyMARL's ``rnn`` agent with its MADDPG): each actor is a
GRU over the agent's observation history (:class:`~gametools.marl.common.RecurrentAgentNetworks`),
its hidden state reset to zero where an episode ends and checkpointed with the episodes in
flight. Experience is replayed as whole episodes, as for the recurrent value learners
(:meth:`~gametools.marl.learner.ReplayLearner.replay_episodes`): an update unrolls the online and
the target actors over each sampled sequence from its stored start hidden state, so the actor
gradient flows through time. The critics stay feed-forward but see the **global state** and every
agent's action, ``Q_i(s, a_1..a_N)`` (EPyMARL's MADDPG critic; Lowe et al. allow the critic any
extra information): a critic of the current observations cannot value a history-dependent policy
where the observation hides what the history told the agents (in
:func:`~gametools.marl.matrix_games.recall_game` the blank observation hides the cue, and every
action is worth 1/2 there on average).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn

from gametools.errors import InvalidArgumentError
from gametools.marl.common import (
    AgentNetworks,
    RecurrentAgentNetworks,
    ReplayBuffer,
    gumbel_softmax,
    reset_where,
    soft_update,
)
from gametools.marl.env import Box, Discrete, VectorEnv
from gametools.marl.learner import LearnerConfig, ReplayLearner

__all__ = ["MADDPG", "MADDPGConfig"]


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
    sequence_length : int or None
        Recurrent actors: steps per replayed sequence (default: the environment's longest
        episode, so whole episodes are replayed; 64 when the environment does not bound its
        episodes). ``buffer_size`` and ``batch_size`` stay in transitions (see
        :class:`~gametools.marl.qlearning.QConfig`).
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
    sequence_length: int | None = None


class MADDPG(ReplayLearner):
    """Multi-agent deep deterministic policy gradient."""

    name = "maddpg"
    config_type = MADDPGConfig
    supports_continuous = True
    supports_recurrent = True
    supports_action_masks = True

    def __init__(self, env: VectorEnv, config: MADDPGConfig, *, seed: int) -> None:
        super().__init__(env, config, seed=seed)
        if self.masked and config.recurrent:
            raise InvalidArgumentError("maddpg supports legal-action masks with feed-forward "
                                       "actors only (recurrent=False)")
        self.spaces = env.action_spaces
        self.action_sizes = [space.n if isinstance(space, Discrete) else int(space.shape[0])
                             for space in self.spaces]
        hidden = config.hidden_sizes
        count = env.num_agents
        shared = self.shares_parameters([*zip(env.observation_sizes, self.spaces)],
                                        self.action_sizes)
        self.actors: AgentNetworks | RecurrentAgentNetworks
        if config.recurrent:
            self.actors = RecurrentAgentNetworks(env.observation_sizes, self.action_sizes,
                                                 config.rnn_hidden_dim, shared=shared,
                                                 generator=self.generator,
                                                 output_gain=0.01).to(env.device)
            critic_input = env.state_size + sum(self.action_sizes)  # Q_i(s, a_1..a_N)
        else:
            self.actors = AgentNetworks(env.observation_sizes, self.action_sizes, hidden,
                                        shared=shared, generator=self.generator,
                                        activation=nn.ReLU, output_gain=0.01).to(env.device)
            critic_input = sum(env.observation_sizes) + sum(self.action_sizes)
        self.critics = AgentNetworks([critic_input] * count, [1] * count, hidden, shared=shared,
                                     generator=self.generator, activation=nn.ReLU
                                     ).to(env.device)
        self.target_actors = copy.deepcopy(self.actors)
        self.target_critics = copy.deepcopy(self.critics)
        self.actor_optimizer = torch.optim.Adam(self.actors.parameters(),
                                                lr=config.actor_learning_rate)
        self.critic_optimizer = torch.optim.Adam(self.critics.parameters(),
                                                 lr=config.learning_rate)
        self.env_steps = 0
        if config.recurrent:
            # every agent's hidden state in every episode, (N, B, rnn_hidden_dim); episodes are
            # replayed whole (or in sequences of sequence_length steps)
            self.memory = torch.zeros(count, env.num_envs, config.rnn_hidden_dim,
                                      device=env.device)
            self.replay_episodes([((size,), torch.float32) for size in self.action_sizes],
                                 buffer_size=config.buffer_size, batch_size=config.batch_size,
                                 sequence_length=config.sequence_length)
            return
        shapes: dict[str, tuple[tuple[int, ...], torch.dtype]] = {
            "reward": ((env.num_agents,), torch.float32), "terminated": ((), torch.float32)}
        for i, (size, action) in enumerate(zip(env.observation_sizes, self.action_sizes)):
            shapes[f"obs{i}"] = ((size,), torch.float32)
            shapes[f"next_obs{i}"] = ((size,), torch.float32)
            shapes[f"action{i}"] = ((action,), torch.float32)
        self.buffer = ReplayBuffer(config.buffer_size, shapes, device=env.device)

    # actions --------------------------------------------------------------------------------

    def _encode(self, agent: int, output: torch.Tensor, *, explore: bool) -> torch.Tensor:
        """The action encoding fed to critics, from the actor's output ``(..., size)``: one-hot
        (discrete; a straight-through Gumbel-softmax sample when exploring) or a point of the box
        (Gaussian noise when exploring)."""
        config: MADDPGConfig = self.config  # type: ignore[assignment]
        space = self.spaces[agent]
        if isinstance(space, Discrete):
            if explore:
                return gumbel_softmax(output, self.device_generator,
                                      temperature=config.gumbel_temperature)
            return torch.nn.functional.one_hot(output.argmax(dim=-1), space.n).float()
        assert isinstance(space, Box)
        half, middle = (space.high - space.low) / 2, (space.high + space.low) / 2
        action = middle + half * torch.tanh(output)
        if explore:
            noise = torch.randn(action.shape, generator=self.device_generator,
                                device=action.device)
            action = (action + config.exploration_noise * half * noise
                      ).clamp(space.low, space.high)
        return action

    def _executed(self, agent: int, output: torch.Tensor) -> torch.Tensor:
        """The executed policy from the actor's output: probabilities ``softmax(logits)``
        (discrete) or the deterministic action in the box."""
        space = self.spaces[agent]
        if isinstance(space, Discrete):
            return torch.softmax(output, dim=-1)
        assert isinstance(space, Box)
        return (space.high + space.low) / 2 + (space.high - space.low) / 2 * torch.tanh(output)

    def policy(self, agent: int, observations: torch.Tensor) -> torch.Tensor:
        self.require_feedforward()
        assert isinstance(self.actors, AgentNetworks)
        observations = observations.to(self.env.device)
        return self._executed(agent, self.mask(agent, observations,
                                               self.actors(agent, observations)))

    def policy_step(self, agent: int, observations: torch.Tensor, hidden: torch.Tensor
                    ) -> tuple[torch.Tensor, torch.Tensor]:
        assert isinstance(self.actors, RecurrentAgentNetworks), "feed-forward actors"
        output, hidden = self.actors(agent, observations.to(self.env.device), hidden)
        return self._executed(agent, output), hidden

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
            if isinstance(self.actors, RecurrentAgentNetworks):
                outputs, hidden = self.actors.step_all(current.observations, self.memory)
            else:
                outputs = [self.mask(i, obs, self.actors(i, obs))
                           for i, obs in enumerate(current.observations)]
            encoded = [self._encode(i, output, explore=True) for i, output in enumerate(outputs)]
        actions = [e.argmax(dim=1) if isinstance(space, Discrete) else e
                   for e, space in zip(encoded, self.spaces)]
        step = env.step(actions)
        if self.recurrent:
            self.record_episodes(current, encoded, step)
            self.memory = reset_where(hidden, step.terminated | step.truncated, axis=1)
        else:
            self.store(current, encoded, step)
        statistics = {"env_steps": float(env.num_envs)}
        batch_size = self.sequences_per_batch if self.recurrent else config.batch_size
        update = self._update_sequences if self.recurrent else self._update
        if self.env_steps >= config.learning_starts and self.buffer.size >= batch_size:
            for _ in range(config.updates_per_iteration):
                statistics.update(update(self.buffer.sample(batch_size, self.device_generator)))
        return statistics

    def _update(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        """One update of the critics and actors on transitions (feed-forward actors)."""
        config: MADDPGConfig = self.config  # type: ignore[assignment]
        count = self.env.num_agents
        actors: AgentNetworks = self.actors  # type: ignore[assignment]
        target_actors: AgentNetworks = self.target_actors  # type: ignore[assignment]
        observations = [batch[f"obs{i}"] for i in range(count)]
        next_observations = [batch[f"next_obs{i}"] for i in range(count)]
        actions = [batch[f"action{i}"] for i in range(count)]
        with torch.no_grad():
            next_actions = [self._encode(i, self.mask(i, next_observations[i], target_actors(
                i, next_observations[i])), explore=False) for i in range(count)]
            next_input = torch.cat(next_observations + next_actions, dim=1)
        state_input = torch.cat(observations + actions, dim=1)
        critic_loss = torch.zeros(())
        for i in range(count):
            with torch.no_grad():
                target = batch["reward"][:, i] + self.discount * (1 - batch["terminated"]) \
                    * self.target_critics(i, next_input).squeeze(-1)
            critic_loss = critic_loss + (self.critics(i, state_input).squeeze(-1)
                                         - target).pow(2).mean()
        critic_grad_norm = self._step(self.critic_optimizer, self.critics, critic_loss)

        actor_loss = torch.zeros(())
        for i in range(count):
            output = actors(i, observations[i])
            own = self._encode(i, self.mask(i, observations[i], output), explore=True)
            joint = actions[:i] + [own] + actions[i + 1:]
            value = self.critics(i, torch.cat(observations + joint, dim=1)).mean()
            actor_loss = actor_loss - value
            if isinstance(self.spaces[i], Discrete):
                actor_loss = actor_loss + config.logit_penalty * output.pow(2).mean()
        actor_grad_norm = self._step(self.actor_optimizer, self.actors, actor_loss)
        return self._finish(critic_loss, actor_loss, critic_grad_norm, actor_grad_norm)

    def _update_sequences(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        """The update of :meth:`_update` on sequences ``(B, L, ...)`` (recurrent actors), each
        step's loss masked to the steps that happened; the critics read the global state."""
        config: MADDPGConfig = self.config  # type: ignore[assignment]
        count = self.env.num_agents
        actors: RecurrentAgentNetworks = self.actors  # type: ignore[assignment]
        target_actors: RecurrentAgentNetworks = self.target_actors  # type: ignore[assignment]
        mask, states = batch["mask"], batch["state"]  # (B, L), (B, L + 1, state)
        steps = mask.sum()
        observations = [batch[f"obs{i}"] for i in range(count)]  # (B, L + 1, obs_i)
        actions = [batch[f"action{i}"] for i in range(count)]  # (B, L, size_i)
        start = batch["hidden"].transpose(0, 1)  # (N, B, width)
        with torch.no_grad():
            following = target_actors.unroll(observations, start)
            next_actions = [self._encode(i, following[i][:, 1:], explore=False)
                            for i in range(count)]
            next_input = torch.cat([states[:, 1:], *next_actions], dim=-1)
        state_input = torch.cat([states[:, :-1], *actions], dim=-1)
        critic_loss = torch.zeros(())
        for i in range(count):
            with torch.no_grad():
                target = batch["reward"][..., i] + self.discount * (1 - batch["terminated"]) \
                    * self.target_critics(i, next_input).squeeze(-1)
            error = (self.critics(i, state_input).squeeze(-1) - target).pow(2)
            critic_loss = critic_loss + (error * mask).sum() / steps
        critic_grad_norm = self._step(self.critic_optimizer, self.critics, critic_loss)

        # the online actors re-unrolled from the stored start state: gradients through time
        outputs = actors.unroll([obs[:, :-1] for obs in observations], start)
        actor_loss = torch.zeros(())
        for i in range(count):
            own = self._encode(i, outputs[i], explore=True)
            joint = actions[:i] + [own] + actions[i + 1:]
            value = self.critics(i, torch.cat([states[:, :-1], *joint], dim=-1)).squeeze(-1)
            actor_loss = actor_loss - (value * mask).sum() / steps
            if isinstance(self.spaces[i], Discrete):
                penalty = outputs[i].pow(2).mean(dim=-1)
                actor_loss = actor_loss + config.logit_penalty * (penalty * mask).sum() / steps
        actor_grad_norm = self._step(self.actor_optimizer, self.actors, actor_loss)
        return self._finish(critic_loss, actor_loss, critic_grad_norm, actor_grad_norm)

    def _step(self, optimizer: torch.optim.Optimizer, networks: nn.Module,
              loss: torch.Tensor) -> torch.Tensor:
        """One clipped gradient step of ``networks`` on ``loss``; the gradient norm before
        clipping."""
        config: MADDPGConfig = self.config  # type: ignore[assignment]
        optimizer.zero_grad()
        loss.backward()
        grad_norm = nn.utils.clip_grad_norm_(networks.parameters(), config.max_grad_norm)
        optimizer.step()
        return grad_norm

    def _finish(self, critic_loss: torch.Tensor, actor_loss: torch.Tensor,
                critic_grad_norm: torch.Tensor, actor_grad_norm: torch.Tensor
                ) -> dict[str, float]:
        """Track the targets (Polyak averaging); the update's statistics."""
        config: MADDPGConfig = self.config  # type: ignore[assignment]
        soft_update(self.target_actors, self.actors, config.tau)
        soft_update(self.target_critics, self.critics, config.tau)
        return {"critic_loss": float(critic_loss.detach()),
                "actor_loss": float(actor_loss.detach()),
                "critic_grad_norm": float(critic_grad_norm), "actor_grad_norm":
                float(actor_grad_norm)}
