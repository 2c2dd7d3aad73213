"""Value-based multi-agent learners: independent Q-learning, VDN and QMIX.

All are :class:`QLearner`: per-agent utility networks ``Q_i(o_i, .)`` (shared by homogeneous
agents by default, see :class:`~gametools.marl.common.AgentNetworks`) trained from a replay
buffer with double-Q targets and target networks, acting epsilon-greedily. The variants differ by
the *mixer* composed in (:meth:`QLearner.make_mixer`):

- :class:`IQL` (Tan 1993; Tampuu et al. 2017): no mixer, each agent regresses its own reward —
  the non-stationarity baseline;
- :class:`VDN` (Sunehag et al. 2018): ``Q_tot = sum_i Q_i``, regressing the team reward;
- :class:`QMIX` (Rashid et al. 2018): a monotonic mixing network whose non-negative weights come
  from hypernetworks of the global state, regressing the team reward.

VDN and QMIX refuse games whose agents' rewards differ (their factorisation assumes one team
value).

Recurrent agents (``recurrent=True``, EPyMARL's default ``rnn`` agent) replay whole episodes, as
EPyMARL does: the steps of every episode are collected into one sequence (episodes longer than
``sequence_length`` into consecutive sequences that start from the stored hidden state), and an
update unrolls the online and the target agent networks over each sampled sequence from its
start, hidden state zero at an episode's first step.

The greedy policies are deterministic; their tabular profile is one-hot.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from gametools.errors import InvalidArgumentError
from gametools.marl.common import (
    AgentNetworks,
    RecurrentAgentNetworks,
    ReplayBuffer,
    mlp,
    reset_where,
    soft_update,
    stack_padded,
)
from gametools.marl.env import Discrete, Reset, Step, VectorEnv
from gametools.marl.learner import DEFAULT_SEQUENCE_LENGTH, LearnerConfig, ReplayLearner

__all__ = [
    "DEFAULT_SEQUENCE_LENGTH",
    "IQL",
    "QMIX",
    "VDN",
    "QConfig",
    "QLearner",
    "QMixer",
    "SumMixer",
]



@dataclass(frozen=True)
class QConfig(LearnerConfig):
    """Settings of the value-based learners.

    Attributes
    ----------
    buffer_size : int
        Replay capacity in transitions (one transition is one step of one environment).
    batch_size : int
    learning_starts : int
        Environment steps collected before the first update.
    updates_per_iteration : int
        Gradient steps after each environment step of all ``num_envs`` episodes.
    epsilon_start, epsilon_end : float
        Exploration rate, annealed linearly...
    epsilon_fraction : float
        ...over this fraction of ``total_steps``.
    target_tau : float
        Polyak rate of the target networks (1 = hard copy every update).
    double_q : bool
        Choose next actions with the online networks (van Hasselt et al. 2016).
    mixing_embed : int
        QMIX: width of the mixing network.
    max_grad_norm : float
    sequence_length : int or None
        Recurrent agents: steps per replayed sequence (default: the environment's longest
        episode, so whole episodes are replayed; 64 when the environment does not bound its
        episodes). ``buffer_size`` and ``batch_size`` stay in transitions: the buffer keeps
        ``buffer_size // sequence_length`` sequences and a minibatch holds
        ``ceil(batch_size / sequence_length)`` of them.
    """

    learning_rate: float = 1e-3
    buffer_size: int = 50_000
    batch_size: int = 256
    learning_starts: int = 1_000
    updates_per_iteration: int = 1
    epsilon_start: float = 1.0
    epsilon_end: float = 0.05
    epsilon_fraction: float = 0.5
    target_tau: float = 0.01
    double_q: bool = True
    mixing_embed: int = 32
    max_grad_norm: float = 10.0
    sequence_length: int | None = None


class QMixer(nn.Module):
    """QMIX's monotonic mixer: ``Q_tot = elu(q W_1(s) + b_1(s)) W_2(s) + V(s)``, ``W >= 0``."""

    def __init__(self, num_agents: int, state_size: int, embed: int, *,
                 generator: torch.Generator) -> None:
        super().__init__()
        self.num_agents, self.embed = num_agents, embed
        self.weights_1 = mlp(state_size, (embed,), num_agents * embed, generator=generator)
        self.bias_1 = mlp(state_size, (), embed, generator=generator)
        self.weights_2 = mlp(state_size, (embed,), embed, generator=generator)
        self.value = mlp(state_size, (embed,), 1, generator=generator)

    def forward(self, agent_values: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        """``agent_values`` ``(B, N)``, ``state`` ``(B, state)`` -> ``Q_tot`` ``(B,)``."""
        batch = agent_values.shape[0]
        w1 = self.weights_1(state).abs().reshape(batch, self.num_agents, self.embed)
        hidden = torch.nn.functional.elu(torch.bmm(agent_values[:, None, :], w1).squeeze(1)
                                         + self.bias_1(state))
        w2 = self.weights_2(state).abs()
        return (hidden * w2).sum(dim=1) + self.value(state).squeeze(-1)


class SumMixer(nn.Module):
    """VDN's mixer: ``Q_tot = sum_i Q_i`` (no parameters)."""

    def forward(self, agent_values: torch.Tensor, state: torch.Tensor | None = None
                ) -> torch.Tensor:
        """``agent_values`` ``(B, N)`` -> ``Q_tot`` ``(B,)`` (``state`` unused)."""
        return agent_values.sum(dim=1)


class QLearner(ReplayLearner):
    """Replay-based Q-learning for several agents, with an optional mixer."""

    config_type = QConfig
    supports_recurrent = True
    supports_action_masks = True

    def make_mixer(self, env: VectorEnv, config: QConfig) -> nn.Module | None:
        """The mixing network of the team value (none: independent learners)."""
        return None

    def __init__(self, env: VectorEnv, config: QConfig, *, seed: int) -> None:
        super().__init__(env, config, seed=seed)
        if not all(isinstance(space, Discrete) for space in env.action_spaces):
            raise InvalidArgumentError(f"{self.name} needs discrete actions")
        self.num_actions = [space.n for space in env.action_spaces]  # type: ignore[union-attr]
        self.action_counts = torch.tensor(self.num_actions, device=env.device)[:, None]
        self.last_actions = self.action_counts - 1
        shared = self.shares_parameters(env.observation_sizes, self.num_actions)
        self.agents: AgentNetworks | RecurrentAgentNetworks
        if config.recurrent:
            self.agents = RecurrentAgentNetworks(env.observation_sizes, self.num_actions,
                                                 config.rnn_hidden_dim, shared=shared,
                                                 generator=self.generator).to(env.device)
        else:
            self.agents = AgentNetworks(env.observation_sizes, self.num_actions,
                                        config.hidden_sizes, shared=shared,
                                        generator=self.generator,
                                        activation=nn.ReLU).to(env.device)
        mixer = self.make_mixer(env, config)
        self.mixer = None if mixer is None else mixer.to(env.device)
        online = nn.ModuleList([self.agents] + ([self.mixer] if self.mixer is not None else []))
        self.online = online
        self.target = copy.deepcopy(online)
        self.optimizer = torch.optim.Adam(online.parameters(), lr=config.learning_rate)
        # parameter lists kept once (the same tensors after load_state_dict)
        self.online_parameters = list(online.parameters())
        self.target_parameters = list(self.target.parameters())
        # transitions with the agents stacked (every agent's observation zero-padded to the
        # widest, as stack_padded), so that a minibatch is a few gathers and no restacking
        count, width = env.num_agents, max(env.observation_sizes)
        shapes: dict[str, tuple[tuple[int, ...], torch.dtype]] = {
            "obs": ((count, width), torch.float32), "next_obs": ((count, width), torch.float32),
            "action": ((count,), torch.int64)}
        shapes["state"] = ((env.state_size,), torch.float32)
        shapes["next_state"] = ((env.state_size,), torch.float32)
        shapes["reward"] = ((env.num_agents,), torch.float32)
        shapes["terminated"] = ((), torch.float32)
        self.env_steps = 0
        # the observations after the last step (None: read them from the environment, as after
        # a resume); they are the environment's current ones, which only iterate() advances
        self.current: Reset | None = None
        # recurrent agents: every agent's hidden state in every episode, (N, B, rnn_hidden_dim)
        self.memory = torch.zeros(env.num_agents if config.recurrent else 0, env.num_envs,
                                  config.rnn_hidden_dim, device=env.device)
        # the replayed fields an update reads (only QMIX's mixer reads the state)
        self.replayed = [name for name in shapes
                         if isinstance(self.mixer, QMixer) or "state" not in name]
        if not config.recurrent:
            self.buffer = ReplayBuffer(config.buffer_size, shapes, device=env.device)
            return
        # recurrent agents: sequences of whole episodes (or of sequence_length steps)
        self.replay_episodes([((), torch.int64)] * env.num_agents,
                             buffer_size=config.buffer_size, batch_size=config.batch_size,
                             sequence_length=config.sequence_length)

    # acting ---------------------------------------------------------------------------------

    def epsilon(self) -> float:
        config: QConfig = self.config  # type: ignore[assignment]
        horizon = max(1.0, config.epsilon_fraction * config.total_steps)
        fraction = min(1.0, self.env_steps / horizon)
        return config.epsilon_start + fraction * (config.epsilon_end - config.epsilon_start)

    def policy(self, agent: int, observations: torch.Tensor) -> torch.Tensor:
        self.require_feedforward()
        observations = observations.to(self.env.device)
        values = self.agents(agent, observations)  # type: ignore[call-arg]
        return self._greedy(agent, self.mask(agent, observations, values))

    def policy_step(self, agent: int, observations: torch.Tensor, hidden: torch.Tensor
                    ) -> tuple[torch.Tensor, torch.Tensor]:
        assert isinstance(self.agents, RecurrentAgentNetworks), "feed-forward agents"
        observations = observations.to(self.env.device)
        values, hidden = self.agents(agent, observations, hidden)
        return self._greedy(agent, self.mask(agent, observations, values)), hidden

    def _greedy(self, agent: int, values: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.one_hot(values.argmax(dim=1),
                                           self.num_actions[agent]).to(torch.float32)

    def modules(self) -> dict[str, nn.Module | torch.optim.Optimizer]:
        return {"online": self.online, "target": self.target, "optimizer": self.optimizer}

    # learning -------------------------------------------------------------------------------

    def iterate(self) -> dict[str, float]:
        config: QConfig = self.config  # type: ignore[assignment]
        env = self.env
        current = env.observe() if self.current is None else self.current
        epsilon = self.epsilon()
        observations = stack_padded(current.observations, 0.0)  # (N, B, obs)
        with torch.no_grad():  # every agent at once: one batched pass with shared parameters
            if isinstance(self.agents, RecurrentAgentNetworks):
                values, hidden = self.agents.step_stacked(observations, self.memory)
            else:
                values = self.agents.forward_all(observations)  # (N, B, actions)
            shape = values.shape[:2]
            explore = torch.rand(shape, generator=self.device_generator,
                                 device=env.device) < epsilon
            if self.masked:  # greedy and random over the legal actions only
                legal = self.legal_stacked(observations)
                assert legal is not None
                values = values.masked_fill(~legal, torch.finfo(values.dtype).min)
                # the largest of independent uniforms on the legal actions: uniform over them
                random = torch.rand(values.shape, generator=self.device_generator,
                                    device=env.device).masked_fill(~legal, -1.0).argmax(dim=2)
            else:  # uniform over each agent's own actions
                random = torch.minimum((torch.rand(shape, generator=self.device_generator,
                                                   device=env.device)
                                        * self.action_counts).long(), self.last_actions)
            actions = list(torch.where(explore, random, values.argmax(dim=2)).unbind(0))
        step = env.step(actions)
        self.current = Reset(step.observations, step.state)
        if self.recurrent:
            self.record_episodes(current, actions, step)
            self.memory = reset_where(hidden, step.terminated | step.truncated, axis=1)
        else:
            self._store(observations, current.state, actions, step)
        statistics = {"env_steps": float(env.num_envs), "epsilon": epsilon}
        batch_size = self.sequences_per_batch if self.recurrent else config.batch_size
        update = self._update_sequences if self.recurrent else self._update
        if self.env_steps >= config.learning_starts and self.buffer.size >= batch_size:
            names = None if self.recurrent else self.replayed
            updates = [update(self.buffer.sample(batch_size, self.device_generator, names))
                       for _ in range(config.updates_per_iteration)]
            keys = ("loss", "grad_norm", "q_mean")
            means = torch.stack([torch.stack([u[key] for key in keys]) for u in updates]
                                ).mean(0).tolist()  # one read from the device
            statistics.update(zip(keys, means))
        return statistics

    def _unroll(self, agents: RecurrentAgentNetworks, batch: dict[str, torch.Tensor]
                ) -> list[torch.Tensor]:
        """Every agent's values ``(B, L + 1, n_i)`` along the sequences, from their stored start
        hidden state (zero at an episode's first step)."""
        return agents.unroll([batch[f"obs{i}"] for i in range(self.env.num_agents)],
                             batch["hidden"].transpose(0, 1))

    def _update_sequences(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The update of :meth:`_update` on sequences ``(B, L, ...)``, masked to real steps."""
        config: QConfig = self.config  # type: ignore[assignment]
        online_agents: RecurrentAgentNetworks = self.online[0]  # type: ignore[assignment]
        target_agents: RecurrentAgentNetworks = self.target[0]  # type: ignore[assignment]
        online = self._unroll(online_agents, batch)
        chosen = torch.stack([values[:, :-1].gather(2, batch[f"action{i}"][..., None])
                              .squeeze(2) for i, values in enumerate(online)], dim=2)
        with torch.no_grad():
            following = self._unroll(target_agents, batch)
            choose = online if config.double_q else following
            if self.masked:  # next actions chosen among the legal ones
                choose = [self.mask(i, batch[f"obs{i}"].flatten(0, 1), values.flatten(0, 1)
                                    ).view_as(values) for i, values in enumerate(choose)]
            next_values = torch.stack([values[:, 1:].gather(
                2, pick[:, 1:].argmax(dim=2, keepdim=True)).squeeze(2)
                for values, pick in zip(following, choose)], dim=2)  # (B, L, N)
            alive = 1.0 - batch["terminated"]
        mask = batch["mask"]
        sequences, length = mask.shape
        if self.mixer is not None:
            def mix(mixer: nn.Module, values: torch.Tensor, state: torch.Tensor
                    ) -> torch.Tensor:
                return mixer(values.flatten(0, 1), state.flatten(0, 1)).reshape(sequences,
                                                                                  length)
            predicted = mix(self.online[1], chosen, batch["state"][:, :-1])
            with torch.no_grad():
                target = batch["reward"][..., 0] + self.discount * alive * mix(
                    self.target[1], next_values, batch["state"][:, 1:])
        else:
            predicted = chosen
            target = batch["reward"] + self.discount * alive[..., None] * next_values
            mask = mask[..., None].expand_as(predicted)
        loss = ((predicted - target).pow(2) * mask).sum() / mask.sum()
        self.optimizer.zero_grad()
        loss.backward()
        grad_norm = nn.utils.clip_grad_norm_(self.online_parameters, config.max_grad_norm)
        self.optimizer.step()
        soft_update(self.target_parameters, self.online_parameters, config.target_tau)
        return {"loss": loss.detach(), "grad_norm": grad_norm.detach(),
                "q_mean": ((predicted.detach() * mask).sum() / mask.sum())}

    def _store(self, observations: torch.Tensor, state: torch.Tensor,
               actions: Sequence[torch.Tensor], step: Step) -> None:
        """Append one step of every episode: ``observations`` ``(N, B, d)`` stacked before it."""
        record = {"obs": observations.transpose(0, 1),
                  "next_obs": stack_padded(step.final_observations, 0.0).transpose(0, 1),
                  "action": torch.stack(list(actions), dim=1), "reward": step.rewards,
                  "terminated": step.terminated}
        if "state" in self.buffer.data:
            record["state"], record["next_state"] = state, step.final_state
        self.buffer.add(**record)
        self.env_steps += self.env.num_envs

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.current = None  # the environment is restored after the learner: read it then
        buffer = state["buffer"]
        if not self.recurrent and "data.obs0" in buffer:
            # the per-agent layout (obs{i}, next_obs{i}, action{i}) of checkpoints written
            # before transitions were stored stacked
            count = self.env.num_agents
            stacked = {key: value for key, value in buffer.items()
                       if not any(key.startswith(f"data.{prefix}")
                                  for prefix in ("obs", "next_obs", "action"))}
            for prefix in ("obs", "next_obs"):
                stacked[f"data.{prefix}"] = stack_padded(
                    [buffer[f"data.{prefix}{i}"] for i in range(count)], 0.0).transpose(0, 1)
            stacked["data.action"] = torch.stack([buffer[f"data.action{i}"]
                                                  for i in range(count)], dim=1)
            state = {**state, "buffer": stacked}
        super().load_extra_state(state)

    def _update(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        config: QConfig = self.config  # type: ignore[assignment]
        discount = self.discount
        online_agents: AgentNetworks = self.online[0]  # type: ignore[assignment]
        target_agents: AgentNetworks = self.target[0]  # type: ignore[assignment]
        # every agent at once, (N, S, actions); chosen and next values (S, N)
        actions = batch["action"].T
        chosen = online_agents.forward_all(batch["obs"].transpose(0, 1)).gather(
            2, actions[..., None]).squeeze(2).T
        with torch.no_grad():
            next_observations = batch["next_obs"].transpose(0, 1)
            prepared = target_agents.prepare(next_observations)  # ids appended once for both
            next_target = target_agents.forward_prepared(prepared)
            pick = online_agents.forward_prepared(prepared) if config.double_q \
                else next_target
            if self.masked:  # next actions chosen among the legal ones
                legal = self.legal_stacked(next_observations)
                assert legal is not None
                pick = pick.masked_fill(~legal, torch.finfo(pick.dtype).min)
            next_values = next_target.gather(2, pick.argmax(dim=2, keepdim=True)).squeeze(2).T
            alive = 1.0 - batch["terminated"]
        if self.mixer is not None:
            predicted = self.online[1](chosen, batch.get("state"))
            with torch.no_grad():
                target = batch["reward"][:, 0] + discount * alive * self.target[1](
                    next_values, batch.get("next_state"))
        else:
            predicted = chosen
            target = batch["reward"] + discount * alive[:, None] * next_values
        loss = torch.nn.functional.mse_loss(predicted, target)
        self.optimizer.zero_grad()
        loss.backward()
        grad_norm = nn.utils.clip_grad_norm_(self.online_parameters, config.max_grad_norm)
        self.optimizer.step()
        soft_update(self.target_parameters, self.online_parameters, config.target_tau)
        return {"loss": loss.detach(), "grad_norm": grad_norm.detach(),
                "q_mean": predicted.detach().mean()}


class IQL(QLearner):
    """Independent Q-learners: each agent regresses its own reward, no mixing."""

    name = "iql"


class VDN(QLearner):
    """Value decomposition networks: the team value is the sum of the agents' utilities."""

    name = "vdn"
    requires_cooperative = True

    def make_mixer(self, env: VectorEnv, config: QConfig) -> nn.Module | None:
        return SumMixer()


class QMIX(QLearner):
    """QMIX: per-agent utilities mixed monotonically by state-conditioned hypernetworks."""

    name = "qmix"
    requires_cooperative = True

    def make_mixer(self, env: VectorEnv, config: QConfig) -> nn.Module | None:
        return QMixer(env.num_agents, env.state_size, config.mixing_embed,
                      generator=self.generator)
