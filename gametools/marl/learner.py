"""The interface every learner implements, and the configuration fields they share.

A learner owns its networks, optimisers, buffers and one ``torch.Generator``; :meth:`Learner.iterate`
collects some experience from a :class:`~gametools.marl.env.VectorEnv` and updates. It keeps no
state between iterations that :meth:`Learner.state_dict` does not save (it re-reads the current
observations with ``env.observe()``), which is what makes a resumed run identical to an
uninterrupted one on CPU.
"""

from __future__ import annotations

import abc
import dataclasses
import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Self

import torch
from torch import nn

from gametools.errors import InvalidArgumentError
from gametools.limits import check
from gametools.marl.common import ReplayBuffer, SequenceRecorder, homogeneous
from gametools.marl.env import Box, Discrete, Reset, Step, VectorEnv

__all__ = ["DEFAULT_SEQUENCE_LENGTH", "Learner", "LearnerConfig", "ReplayLearner"]

#: Replayed sequence length of recurrent agents on environments without an episode bound.
DEFAULT_SEQUENCE_LENGTH = 64


#: Config fields that must be at least 1 wherever an algorithm defines them.
_AT_LEAST_ONE = ("total_steps", "num_envs", "eval_interval", "rollout_steps", "minibatches",
                 "epochs", "batch_size", "updates_per_iteration", "buffer_size", "rnn_hidden_dim")


@dataclass(frozen=True)
class LearnerConfig:
    """Settings shared by every algorithm (each algorithm's config extends these).

    Attributes
    ----------
    total_steps : int
        Environment steps to train for (summed over parallel episodes).
    num_envs : int
        Parallel episodes in the vectorised environment.
    eval_interval : int
        Environment steps between exact exploitability evaluations.
    checkpoint_interval : int
        Environment steps between checkpoints (0: only at the end).
    hidden_sizes : tuple of int
        Hidden layers of every network.
    learning_rate : float
    max_episode_steps : int or None
        Truncate episodes of non-terminating games after this many steps (default: the
        environment's, ``ceil(10 / (1 - discount))``).
    eval_episodes : int
        Deterministic evaluation episodes (greedy actions, a separately seeded environment) run
        at every evaluation point; their mean undiscounted return is logged as
        ``eval_return_i`` (0: none).
    share_parameters : bool or None
        One network for all agents, each agent's one-hot id appended to its input (EPyMARL's
        default). ``None`` (default): shared exactly when the agents are homogeneous (equal
        observation sizes and action spaces); ``True`` refuses heterogeneous agents.
    gamma : float or None
        The learner's discount in its returns, targets and advantages (default: the game's).
        Exploitability is always measured with the game's own discount: ``gamma = 0.99`` on an
        undiscounted episodic game trains as deep-RL practice does without rebuilding the game.
    recurrent : bool
        Recurrent (GRU) agents, EPyMARL's ``rnn`` agent: ``Linear -> ReLU -> GRUCell ->
        Linear`` of width ``rnn_hidden_dim`` (``hidden_sizes`` then shapes only the critics and
        mixers). The hidden state starts at zero in every episode. A recurrent policy depends on
        the observation history, so no tabular NashConv is computed for it (the run reports its
        returns). Supported by iql, vdn, qmix, mappo, ippo, maa2c and maddpg.
    rnn_hidden_dim : int
        Width of the GRU of recurrent agents (EPyMARL's default 64).
    """

    total_steps: int = 100_000
    num_envs: int = 32
    eval_interval: int = 10_000
    checkpoint_interval: int = 50_000
    hidden_sizes: tuple[int, ...] = (64, 64)
    learning_rate: float = 5e-4
    max_episode_steps: int | None = None
    eval_episodes: int = 8
    share_parameters: bool | None = None
    gamma: float | None = None
    recurrent: bool = False
    rnn_hidden_dim: int = 64

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.type in ("int", int) and (not isinstance(value, int) or value < 0):
                raise InvalidArgumentError(f"{type(self).__name__}.{field.name} must be a "
                                           f"non-negative integer, got {value!r}")
            if field.type in ("float", float) and (not isinstance(value, (int, float))
                                                   or not math.isfinite(value) or value < 0):
                raise InvalidArgumentError(f"{type(self).__name__}.{field.name} must be a "
                                           f"finite non-negative number, got {value!r}")
        for name in _AT_LEAST_ONE:  # counts that divide or size the work: 0 is meaningless
            if getattr(self, name, 1) < 1:
                raise InvalidArgumentError(f"{type(self).__name__}.{name} must be >= 1, got "
                                           f"{getattr(self, name)!r}")
        if self.gamma is not None and (not isinstance(self.gamma, (int, float))
                                       or not 0.0 <= self.gamma <= 1.0):
            raise InvalidArgumentError(f"gamma must be in [0, 1] (or None: the game's discount), "
                                       f"got {self.gamma!r}")
        if not self.hidden_sizes or any(int(h) < 1 for h in self.hidden_sizes):
            raise InvalidArgumentError(f"hidden_sizes must be positive integers, got "
                                       f"{self.hidden_sizes!r}")
        sequence_length = getattr(self, "sequence_length", None)  # replay learners' field
        if sequence_length is not None and (not isinstance(sequence_length, int)
                                            or isinstance(sequence_length, bool)
                                            or sequence_length < 1):
            raise InvalidArgumentError(f"sequence_length must be a positive integer (or None), "
                                       f"got {sequence_length!r}")
        if not isinstance(self.recurrent, bool):
            raise InvalidArgumentError(f"recurrent must be true or false, got {self.recurrent!r}")
        check("max_hidden_size", self.rnn_hidden_dim, "rnn_hidden_dim")
        check("max_num_envs", self.num_envs, "num_envs")
        for size in self.hidden_sizes:
            check("max_hidden_size", int(size), "a hidden layer size")
        widths = [int(h) for h in self.hidden_sizes]
        check("max_parameters", sum(a * b for a, b in zip(widths, widths[1:])),
              "weights between the hidden layers")

    def replace(self, **changes: Any) -> Self:
        """A copy with some fields changed (unknown names are an error that lists the valid)."""
        names = {f.name: f for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - set(names))
        if unknown:
            raise InvalidArgumentError(f"{type(self).__name__} has no field {unknown[0]!r}; "
                                       f"fields: {', '.join(names)}")
        converted = {}
        for name, value in changes.items():
            current = getattr(self, name)
            if isinstance(value, str) and not isinstance(current, str):
                value = _parse_text(name, value, current)
            converted[name] = value
        return dataclasses.replace(self, **converted)

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v
                for k, v in dataclasses.asdict(self).items()}


def _parse_text(name: str, text: str, current: Any) -> Any:
    try:
        if isinstance(current, bool):
            if text.lower() not in ("true", "false", "1", "0"):
                raise ValueError(text)
            return text.lower() in ("true", "1")
        if isinstance(current, int):
            return int(float(text)) if float(text).is_integer() else int(text)
        if isinstance(current, float):
            return float(text)
        if isinstance(current, tuple):
            return tuple(int(part) for part in text.replace("(", "").replace(")", "")
                         .split(",") if part.strip())
        if current is None:  # optional int or float fields: the text decides
            if text.lower() in ("none", "auto"):
                return None
            if text.lower() in ("true", "false"):
                return text.lower() == "true"
            number = float(text)
            return int(number) if number.is_integer() and "." not in text and "e" not in \
                text.lower() else number
    except ValueError:
        pass
    raise InvalidArgumentError(f"cannot read {text!r} as the value of {name!r} "
                               f"(current value {current!r})")


class Learner(abc.ABC):
    """Base class of the MARL algorithms.

    Subclasses set ``name`` and ``config_type``, build their modules in ``__init__`` (drawing
    every random number from ``self.generator``) and implement :meth:`iterate` and
    :meth:`policy`. ``continuous`` says whether they act in ``Box`` action spaces. Random
    numbers drawn on the environment's device come from ``self.device_generator`` (a generator
    on that device; ``self.generator`` itself on CPU), so nothing is copied to the host to
    sample.
    """

    name: ClassVar[str]
    config_type: ClassVar[type[LearnerConfig]]
    supports_continuous: ClassVar[bool] = False
    requires_cooperative: ClassVar[bool] = False
    #: whether the learner plays one correlated joint policy (see :meth:`joint_policy`)
    correlated: ClassVar[bool] = False
    #: whether ``config.recurrent`` is supported; else why not (``recurrent_refusal``)
    supports_recurrent: ClassVar[bool] = False
    recurrent_refusal: ClassVar[str] = "it has no recurrent agents"
    #: whether legal-action masks (``env.action_masks``) are supported; else why not
    supports_action_masks: ClassVar[bool] = False
    action_mask_refusal: ClassVar[str] = "it has no legal-action masks"

    def __init__(self, env: VectorEnv, config: LearnerConfig, *, seed: int) -> None:
        if not isinstance(config, self.config_type):
            raise InvalidArgumentError(f"{self.name} needs a {self.config_type.__name__}, got "
                                       f"{type(config).__name__}")
        continuous = any(isinstance(space, Box) for space in env.action_spaces)
        if continuous and not self.supports_continuous:
            raise InvalidArgumentError(f"{self.name} needs discrete actions; this environment "
                                       "has continuous ones (use maddpg, or the discretised game)")
        if self.requires_cooperative and not env.cooperative:
            raise InvalidArgumentError(
                f"{self.name} learns a team value and needs a cooperative game (every agent "
                "receives the same reward); this game's rewards differ between agents")
        if config.recurrent and not self.supports_recurrent:
            raise InvalidArgumentError(f"{self.name} does not support recurrent=True: "
                                       f"{self.recurrent_refusal}")
        if env.action_masks and not self.supports_action_masks:
            raise InvalidArgumentError(
                f"{self.name} cannot train here: this game has illegal actions in some states "
                f"(legal-action masks) and {self.name} {self.action_mask_refusal}; use mappo, "
                "ippo, maa2c, iql, vdn or qmix")
        #: whether the environment has illegal actions (every policy masks them)
        self.masked = bool(env.action_masks)
        self.env = env
        self.config = config
        self.generator = torch.Generator(device="cpu")
        self.generator.manual_seed(int(seed))
        # draws made on the environment's device (sampling, exploration, minibatch order) use a
        # generator on that device; on CPU it is the same generator
        self.device_generator = self.generator
        if env.device.type != "cpu":
            self.device_generator = torch.Generator(device=env.device)
            self.device_generator.manual_seed(int(seed) + 1)

    def mask(self, agent: int, observations: torch.Tensor, outputs: torch.Tensor
             ) -> torch.Tensor:
        """``outputs`` ``(B, n)`` (logits or values at ``observations``) with the agent's
        illegal actions set to the lowest float: never an argmax, probability exactly zero
        under a softmax, entropy term ``0 * lowest = 0``."""
        if not self.masked:
            return outputs
        legal = self.env.legal_actions(agent, observations)
        assert legal is not None
        return outputs.masked_fill(~legal, torch.finfo(outputs.dtype).min)

    def legal_stacked(self, observations: torch.Tensor) -> torch.Tensor | None:
        """Every agent's legal actions ``(N, M, max n)`` at stacked observations ``(N, M,
        d)`` (padded as :func:`~gametools.marl.common.stack_padded`; padded actions illegal),
        or ``None`` when every action is legal."""
        if not self.masked:
            return None
        env = self.env
        masks: list[torch.Tensor] = []
        for i, size in enumerate(env.observation_sizes):
            legal = env.legal_actions(i, observations[i, ..., :size].flatten(0, -2))
            assert legal is not None
            masks.append(legal)
        width = max(int(m.shape[-1]) for m in masks)
        stacked = torch.zeros(len(masks), masks[0].shape[0], width, dtype=torch.bool,
                              device=observations.device)
        for i, legal in enumerate(masks):
            stacked[i, :, :legal.shape[-1]] = legal
        return stacked.reshape(*observations.shape[:-1], width)

    def shares_parameters(self, input_sizes: Sequence[Hashable],
                          output_sizes: Sequence[Hashable]) -> bool:
        """Whether networks with these per-agent sizes are shared (``config.share_parameters``,
        resolved for homogeneous agents when ``None``)."""
        choice = self.config.share_parameters
        if choice is None:
            return len(input_sizes) > 1 and homogeneous(input_sizes, output_sizes)
        return bool(choice)

    @property
    def discount(self) -> float:
        """The learner's discount: ``config.gamma``, else the environment's."""
        gamma = self.config.gamma
        return float(self.env.discount if gamma is None else gamma)

    @property
    def recurrent(self) -> bool:
        """Whether the agents are recurrent (their policies depend on the history)."""
        return bool(self.config.recurrent)

    def require_feedforward(self) -> None:
        """Refuse questions that only a memoryless policy answers (its tabular policy)."""
        if self.recurrent:
            raise InvalidArgumentError(
                f"{self.name}'s recurrent agents act on the observation history, not on the "
                "current observation alone: they have no tabular policy (use act() with its "
                "memory)")

    @property
    def discrete(self) -> bool:
        return all(isinstance(space, Discrete) for space in self.env.action_spaces)

    @abc.abstractmethod
    def iterate(self) -> dict[str, float]:
        """Collect experience and update once; return statistics including ``env_steps``."""

    @abc.abstractmethod
    def policy(self, agent: int, observations: torch.Tensor) -> torch.Tensor:
        """The agent's current policy at a batch of observations ``(K, obs_size)``.

        Returns action probabilities ``(K, n)`` for discrete actions, or deterministic actions
        ``(K, *shape)`` for continuous ones (the mean action of a stochastic policy). Recurrent
        learners refuse (:meth:`require_feedforward`): use :meth:`act`.
        """

    def policy_step(self, agent: int, observations: torch.Tensor, hidden: torch.Tensor
                    ) -> tuple[torch.Tensor, torch.Tensor]:
        """A recurrent agent's policy after ``observations`` ``(K, obs_size)``, from the hidden
        state ``(K, rnn_hidden_dim)`` before them: ``(probabilities (K, n), next hidden)``, or
        ``(deterministic actions (K, *shape), next hidden)`` for continuous actions."""
        raise InvalidArgumentError(f"{self.name} has no recurrent agents")

    def initial_memory(self, batch: int) -> torch.Tensor | None:
        """Every agent's hidden state at an episode's start, ``(N, batch, rnn_hidden_dim)``
        (``None`` for memoryless agents)."""
        if not self.recurrent:
            return None
        return torch.zeros(self.env.num_agents, batch, self.config.rnn_hidden_dim,
                           device=self.env.device)

    @torch.no_grad()
    def act(self, current: Reset, memory: torch.Tensor | None = None
            ) -> tuple[list[torch.Tensor], torch.Tensor | None]:
        """Deterministic actions at ``current``: the most probable action of each agent's
        policy (discrete), or its deterministic action (continuous).

        ``memory`` is the agents' hidden state before this step (recurrent agents; ``None``:
        the start of the episodes, :meth:`initial_memory`); the hidden state after it is
        returned beside the actions. The caller resets it where episodes end
        (:func:`~gametools.marl.common.reset_where` on axis 1).
        """
        if self.recurrent:
            batch = current.observations[0].shape[0]
            memory = self.initial_memory(batch) if memory is None else memory
            assert memory is not None
            actions, hidden = [], []
            for agent, observations in enumerate(current.observations):
                output, after = self.policy_step(agent, observations, memory[agent])
                space = self.env.action_spaces[agent]
                actions.append(output.argmax(dim=1) if isinstance(space, Discrete) else output)
                hidden.append(after)
            return actions, torch.stack(hidden)
        actions = []
        for agent, observations in enumerate(current.observations):
            output = self.policy(agent, observations)
            space = self.env.action_spaces[agent]
            actions.append(output.argmax(dim=1) if isinstance(space, Discrete) else output)
        return actions, None

    def joint_policy(self) -> Any:
        """A correlated learner's joint policy ``(S, A)`` on its tabular game (others: none)."""
        raise InvalidArgumentError(f"{self.name} plays independent per-agent policies; use "
                                   "policy()")

    @abc.abstractmethod
    def modules(self) -> dict[str, nn.Module | torch.optim.Optimizer]:
        """Every network and optimiser, by name (their state is checkpointed)."""

    def extra_state(self) -> dict[str, Any]:
        """Other state to checkpoint (replay buffers, counters), tensors and numbers only."""
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        """Restore :meth:`extra_state`."""

    def state_dict(self) -> dict[str, Any]:
        return {"modules": {name: m.state_dict() for name, m in self.modules().items()},
                "generator": self.generator.get_state(),
                "device_generator": self.device_generator.get_state(),
                "extra": self.extra_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        modules = self.modules()
        if set(state["modules"]) != set(modules):
            raise InvalidArgumentError(f"checkpoint holds modules {sorted(state['modules'])}, "
                                       f"{self.name} has {sorted(modules)}")
        for name, module in modules.items():
            module.load_state_dict(state["modules"][name])
        self.generator.set_state(state["generator"])
        if self.device_generator is not self.generator and "device_generator" in state:
            self.device_generator.set_state(state["device_generator"])
        self.load_extra_state(state["extra"])


class ReplayLearner(Learner):
    """A learner that trains from a replay buffer (MADDPG, IQL, VDN, QMIX).

    Memoryless agents replay transitions: subclasses create ``self.buffer`` (a
    :class:`~gametools.marl.common.ReplayBuffer`; for :meth:`store`, with fields ``obs{i}``,
    ``next_obs{i}``, ``action{i}``, ``reward``, ``terminated`` and optionally
    ``state``/``next_state``; the Q-learners keep the agents stacked in their own layout) and
    store each step. Recurrent agents replay episodes (EPyMARL's episode buffer): the
    subclass calls :meth:`replay_episodes` to create ``self.recorder`` and ``self.buffer``, keeps
    its agents' hidden state in ``self.memory`` ``(N, num_envs, width)`` and calls
    :meth:`record_episodes` each step. The buffer, the step counter and, for recurrent agents, the
    sequences in flight and the memory are checkpointed here (a run may stop mid-episode).
    """

    buffer: Any
    env_steps: int = 0
    recorder: SequenceRecorder
    memory: torch.Tensor
    sequences_per_batch: int

    def extra_state(self) -> dict[str, Any]:
        state: dict[str, Any] = {"buffer": self.buffer.state_dict(), "env_steps": self.env_steps}
        if self.recurrent:
            state.update(recorder=self.recorder.state_dict(), memory=self.memory)
        return state

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.buffer.load_state_dict(state["buffer"])
        self.env_steps = int(state["env_steps"])
        if self.recurrent:
            self.recorder.load_state_dict(state["recorder"])
            self.memory = state["memory"].to(self.env.device).clone()

    def store(self, current: Reset, actions: Sequence[torch.Tensor], step: Step) -> None:
        """Append one step of every episode to the buffer (``actions`` as the buffer keeps them)."""
        record: dict[str, torch.Tensor] = {"reward": step.rewards,
                                           "terminated": step.terminated.float()}
        if "state" in self.buffer.data:
            record["state"], record["next_state"] = current.state, step.final_state
        for i in range(self.env.num_agents):
            record[f"obs{i}"] = current.observations[i]
            record[f"next_obs{i}"] = step.final_observations[i]
            record[f"action{i}"] = actions[i]
        self.buffer.add(**record)
        self.env_steps += self.env.num_envs

    def replay_episodes(self, actions: Sequence[tuple[tuple[int, ...], torch.dtype]], *,
                        buffer_size: int, batch_size: int, sequence_length: int | None) -> None:
        """Create the episode replay of recurrent agents: ``self.recorder`` and ``self.buffer``.

        Every episode's steps are collected into one sequence of ``length`` steps:
        ``sequence_length``, else the environment's longest episode (whole episodes are
        replayed), else :data:`DEFAULT_SEQUENCE_LENGTH` (longer episodes are cut into
        consecutive sequences that start from the stored hidden state). A sequence holds
        ``obs{i}`` and ``state`` at its ``length + 1`` observation points, ``action{i}``
        (shapes and dtypes ``actions``, one per agent), ``reward`` ``(N,)``, ``terminated`` and
        ``mask`` at its steps, and the agents' ``hidden`` state ``(N, width)`` at its start.
        ``buffer_size`` and ``batch_size`` count transitions: the buffer keeps
        ``buffer_size // length`` sequences and a minibatch ``self.sequences_per_batch =
        ceil(batch_size / length)`` of them.
        """
        env = self.env
        length = sequence_length or env.episode_limit or DEFAULT_SEQUENCE_LENGTH
        self.sequences_per_batch = -(-batch_size // length)
        step_fields: dict[str, tuple[tuple[int, ...], torch.dtype]] = {
            f"action{i}": action for i, action in enumerate(actions)}
        step_fields["reward"] = ((env.num_agents,), torch.float32)
        step_fields["terminated"] = ((), torch.float32)
        observation_fields: dict[str, tuple[tuple[int, ...], torch.dtype]] = {
            f"obs{i}": ((size,), torch.float32) for i, size in enumerate(env.observation_sizes)}
        observation_fields["state"] = ((env.state_size,), torch.float32)
        hidden = (env.num_agents, self.config.rnn_hidden_dim)
        self.recorder = SequenceRecorder(env.num_envs, length, step_fields, observation_fields,
                                         {"hidden": (hidden, torch.float32)}, device=env.device)
        self.buffer = ReplayBuffer(max(self.sequences_per_batch, buffer_size // length),
                                   self.recorder.shapes, device=env.device)

    def record_episodes(self, current: Reset, actions: Sequence[torch.Tensor], step: Step
                        ) -> None:
        """Append one step of every episode to its sequence, ``self.memory`` (the hidden state
        before the step) starting a new one; store the sequences completed by it."""
        count = self.env.num_agents
        self.recorder.begin(hidden=self.memory.transpose(0, 1))
        finished = self.recorder.record(
            before={"state": current.state, **{f"obs{i}": current.observations[i]
                                               for i in range(count)}},
            after={"state": step.final_state, **{f"obs{i}": step.final_observations[i]
                                                 for i in range(count)}},
            step={"reward": step.rewards, "terminated": step.terminated.float(),
                  **{f"action{i}": actions[i] for i in range(count)}},
            done=step.terminated | step.truncated)
        if finished is not None:
            self.buffer.add(**finished)
        self.env_steps += self.env.num_envs
