"""Pieces shared by every learner: networks, target updates, advantages, buffers, normalisers.

Algorithm modules hold only their losses and update steps and import everything else from here
(one ``mlp``, one ``soft_update``, one ``gae``, ...). All randomness goes through an explicit
``torch.Generator`` so that a seed, or a resumed checkpoint, reproduces a run exactly on CPU.

Examples
--------
>>> import torch
>>> from gametools.marl.common import mlp, gae
>>> net = mlp(4, (8,), 2, generator=torch.Generator().manual_seed(0))
>>> net(torch.zeros(3, 4)).shape
torch.Size([3, 2])
>>> advantages, returns = gae(torch.ones(2, 1), torch.zeros(2, 1), torch.zeros(2, 1),
...                          torch.zeros(2, 1), torch.zeros(1), discount=0.5, lam=1.0)
>>> advantages.flatten().tolist()
[1.5, 1.0]
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence

import torch
from torch import nn

from gametools.errors import InvalidArgumentError

__all__ = ["mlp", "AgentNetworks", "stack_padded", "agent_ids", "RecurrentNetwork", "RecurrentAgentNetworks", "reset_where", "SequenceRecorder", "homogeneous", "soft_update", "hard_update", "gae", "RunningNormalizer", "ReplayBuffer",
           "sample_categorical", "gumbel_softmax", "explained_variance", "single_thread"]


def _init_linear(layer: nn.Linear, gain: float, generator: torch.Generator) -> nn.Linear:
    # orthogonal init (Saxe et al. 2014), as PPO implementations use; drawn from our generator
    weight = torch.empty_like(layer.weight)
    rows, cols = weight.shape
    flat = torch.randn(max(rows, cols), min(rows, cols), generator=generator)
    q, r = torch.linalg.qr(flat)
    q = q * torch.sign(torch.diagonal(r))
    q = q if rows >= cols else q.T
    with torch.no_grad():
        layer.weight.copy_(gain * q[:rows, :cols])
        layer.bias.zero_()
    return layer


def mlp(input_size: int, hidden_sizes: Sequence[int], output_size: int, *,
        generator: torch.Generator, activation: type[nn.Module] = nn.Tanh,
        output_gain: float = 1.0) -> nn.Sequential:
    """Multi-layer perceptron with orthogonal initialisation from ``generator``.

    Parameters
    ----------
    input_size, output_size : int
    hidden_sizes : sequence of int
    generator : torch.Generator
        Source of the initial weights (same seed, same network).
    activation : nn.Module class
    output_gain : float
        Gain of the last layer (0.01 for policy logits, 1 for values).
    """
    layers: list[nn.Module] = []
    size = input_size
    for hidden in hidden_sizes:
        layers += [_init_linear(nn.Linear(size, hidden), math.sqrt(2.0), generator), activation()]
        size = hidden
    layers.append(_init_linear(nn.Linear(size, output_size), output_gain, generator))
    return nn.Sequential(*layers)


def homogeneous(input_sizes: Sequence[Hashable], output_sizes: Sequence[Hashable]) -> bool:
    """Whether several agents' networks can be one shared network (equal input and output sizes)."""
    return len(set(input_sizes)) == 1 and len(set(output_sizes)) == 1


class AgentNetworks(nn.Module):
    """One network per agent, or one network shared by all agents (parameter sharing).

    A shared network reads the agent's one-hot id appended to its input (as EPyMARL and
    MAPPO do), so shared agents can still act differently; it needs equal input and output
    sizes. ``networks(i, x)`` is agent ``i``'s output.

    Parameters
    ----------
    input_sizes, output_sizes : sequence of int
        One entry per agent.
    hidden_sizes : sequence of int
    shared : bool
    generator : torch.Generator
    activation, output_gain
        As for :func:`mlp`.
    """

    def __init__(self, input_sizes: Sequence[int], output_sizes: Sequence[int],
                 hidden_sizes: Sequence[int], *, shared: bool, generator: torch.Generator,
                 activation: type[nn.Module] = nn.Tanh, output_gain: float = 1.0) -> None:
        super().__init__()
        count = len(input_sizes)
        if shared and not homogeneous(input_sizes, output_sizes):
            raise InvalidArgumentError("parameter sharing needs agents with equal observation sizes and "
                             "action counts")
        self.count, self.shared = count, bool(shared)
        # each agent's input width (without the id of a shared network)
        self.input_sizes = [int(size) for size in input_sizes]
        if self.shared:
            self.nets = nn.ModuleList([mlp(input_sizes[0] + count, hidden_sizes, output_sizes[0],
                                           generator=generator, activation=activation,
                                           output_gain=output_gain)])
        else:
            self.nets = nn.ModuleList(
                mlp(size, hidden_sizes, out, generator=generator, activation=activation,
                    output_gain=output_gain) for size, out in zip(input_sizes, output_sizes))

    def forward(self, index: int, inputs: torch.Tensor) -> torch.Tensor:  # noqa: D102
        if not self.shared:
            return self.nets[index](inputs)
        return self.nets[0](append_identity(inputs, index, self.count))

    def forward_all(self, inputs: torch.Tensor) -> torch.Tensor:
        """Every agent's outputs at once: ``inputs`` ``(N, M, d)`` -> ``(N, M, out)``.

        A shared network runs all ``N * M`` rows as one batch, each row with its agent's one-hot
        id appended (the id tensor is cached per batch size). Separate networks read agent
        ``i``'s first ``input_sizes[i]`` columns (inputs padded by :func:`stack_padded`) and
        fill the first ``output_sizes[i]`` outputs; the rest hold the lowest float, so that a
        padded action is never the argmax and has probability zero under a softmax.
        """
        return self.forward_prepared(self.prepare(inputs))

    def prepare(self, inputs: torch.Tensor) -> torch.Tensor:
        """The network input of stacked ``inputs`` ``(N, M, d)``: the agents' ids appended for a
        shared network (reusable by every network of the same layout, e.g. a target copy)."""
        if self.shared:
            return torch.cat([inputs, agent_ids(self.count, inputs)], dim=-1)
        return inputs

    def forward_prepared(self, prepared: torch.Tensor) -> torch.Tensor:
        """:meth:`forward_all` of an input made by :meth:`prepare`."""
        if self.shared:
            return self.nets[0](prepared)
        return stack_padded([net(x[:, :size]) for net, x, size in
                             zip(self.nets, prepared, self.input_sizes)])


def stack_padded(tensors: Sequence[torch.Tensor], fill: float | None = None) -> torch.Tensor:
    """Stack ``(..., d_i)`` tensors into ``(N, ..., max d_i)``, padding the last axis with
    ``fill`` (default: the lowest float of the dtype, a logit or value never chosen)."""
    width = max(t.shape[-1] for t in tensors)
    if all(t.shape[-1] == width for t in tensors):
        return torch.stack(list(tensors))
    value = torch.finfo(tensors[0].dtype).min if fill is None else fill
    return torch.stack([nn.functional.pad(t, (0, width - t.shape[-1]), value=value)
                        for t in tensors])  # out of place: gradients flow through


_IDS: dict[tuple[int, int, torch.device, torch.dtype], torch.Tensor] = {}


def agent_ids(count: int, like: torch.Tensor) -> torch.Tensor:
    """The one-hot agent ids ``(N, M, N)`` matching ``like`` ``(N, M, d)`` (cached, read-only)."""
    key = (count, like.shape[1], like.device, like.dtype)
    ids = _IDS.get(key)
    if ids is None:
        if len(_IDS) > 64:  # a bounded cache: batch sizes of one run are few
            _IDS.clear()
        ids = torch.eye(count, dtype=like.dtype, device=like.device)[:, None, :].expand(
            count, like.shape[1], count)
        _IDS[key] = ids
    return ids


def append_identity(inputs: torch.Tensor, index: int, count: int) -> torch.Tensor:
    """``inputs`` ``(..., d)`` with agent ``index``'s one-hot id of ``count`` agents appended."""
    identity = torch.zeros(*inputs.shape[:-1], count, device=inputs.device, dtype=inputs.dtype)
    identity[..., index] = 1.0
    return torch.cat([inputs, identity], dim=-1)


class RecurrentNetwork(nn.Module):
    """EPyMARL's recurrent agent: ``Linear -> ReLU -> GRUCell -> Linear``.

    ``network(inputs, hidden)`` maps one step's inputs ``(B, input_size)`` and the hidden state
    ``(B, hidden_size)`` before it to the outputs ``(B, output_size)`` and the hidden state after
    it. Every weight is drawn from ``generator`` (orthogonal, as :func:`mlp`), so the same seed
    gives the same network.

    Parameters
    ----------
    input_size, hidden_size, output_size : int
    generator : torch.Generator
    output_gain : float
        Gain of the output layer (0.01 for policy logits, 1 for values).
    """

    def __init__(self, input_size: int, hidden_size: int, output_size: int, *,
                 generator: torch.Generator, output_gain: float = 1.0) -> None:
        super().__init__()
        self.hidden_size = int(hidden_size)
        self.encoder = _init_linear(nn.Linear(input_size, hidden_size), math.sqrt(2.0), generator)
        self.cell = nn.GRUCell(hidden_size, hidden_size)
        with torch.no_grad():  # torch's default draws from the global generator: redraw ours
            for weight in (self.cell.weight_ih, self.cell.weight_hh):
                for gate in weight.chunk(3, dim=0):  # reset, update and new gates
                    layer = nn.Linear(hidden_size, hidden_size)
                    _init_linear(layer, 1.0, generator)
                    gate.copy_(layer.weight)
            self.cell.bias_ih.zero_()
            self.cell.bias_hh.zero_()
        self.head = _init_linear(nn.Linear(hidden_size, output_size), output_gain, generator)

    def forward(self, inputs: torch.Tensor, hidden: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = self.cell(torch.relu(self.encoder(inputs)), hidden)
        return self.head(hidden), hidden


class RecurrentAgentNetworks(nn.Module):
    """:class:`AgentNetworks` of :class:`RecurrentNetwork`: one per agent, or one shared.

    ``networks(i, x, h)`` is agent ``i``'s output and next hidden state; ``initial_state(B)`` the
    zero hidden state ``(B, hidden_size)`` every episode starts from.

    Parameters
    ----------
    input_sizes, output_sizes : sequence of int
    hidden_size : int
        Width of the GRU (EPyMARL's ``rnn_hidden_dim``).
    shared : bool
    generator : torch.Generator
    output_gain : float
    """

    def __init__(self, input_sizes: Sequence[int], output_sizes: Sequence[int],
                 hidden_size: int, *, shared: bool, generator: torch.Generator,
                 output_gain: float = 1.0) -> None:
        super().__init__()
        count = len(input_sizes)
        if shared and not homogeneous(input_sizes, output_sizes):
            raise InvalidArgumentError("parameter sharing needs agents with equal observation sizes and "
                             "action counts")
        self.count, self.shared, self.hidden_size = count, bool(shared), int(hidden_size)
        self.input_sizes = [int(size) for size in input_sizes]
        self.output_sizes = [int(size) for size in output_sizes]
        if self.shared:
            self.nets = nn.ModuleList([RecurrentNetwork(
                input_sizes[0] + count, hidden_size, output_sizes[0], generator=generator,
                output_gain=output_gain)])
        else:
            self.nets = nn.ModuleList(
                RecurrentNetwork(size, hidden_size, out, generator=generator,
                                 output_gain=output_gain)
                for size, out in zip(input_sizes, output_sizes))

    def initial_state(self, batch: int, device: torch.device | str = "cpu") -> torch.Tensor:
        """The hidden state at the start of an episode: zeros ``(batch, hidden_size)``."""
        return torch.zeros(batch, self.hidden_size, device=device)

    def forward(self, index: int, inputs: torch.Tensor, hidden: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.shared:
            return self.nets[index](inputs, hidden)
        return self.nets[0](append_identity(inputs, index, self.count), hidden)

    def step_all(self, inputs: Sequence[torch.Tensor], hidden: torch.Tensor
                 ) -> tuple[list[torch.Tensor], torch.Tensor]:
        """Every agent's step at once: ``inputs`` one ``(B, d_i)`` per agent, ``hidden``
        ``(N, B, hidden_size)`` -> (one output per agent, the next hidden ``(N, B, hidden)``)."""
        outputs, after = self.step_stacked(stack_padded(inputs, 0.0), hidden)
        return [out[:, :size] for out, size in zip(outputs, self.output_sizes)], after

    def step_stacked(self, inputs: torch.Tensor, hidden: torch.Tensor
                     ) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`step_all` on stacked inputs ``(N, B, d)`` (padded as :func:`stack_padded`):
        outputs ``(N, B, out)`` (padded likewise) and the next hidden state. A shared network
        runs all agents as one batch, with cached one-hot ids."""
        if not self.shared:
            steps = [net(x[:, :size], h)
                     for net, x, h, size in zip(self.nets, inputs, hidden, self.input_sizes)]
            return stack_padded([out for out, _ in steps]), torch.stack([h for _, h in steps])
        joined = torch.cat([inputs, agent_ids(self.count, inputs)], dim=-1)
        outputs, after = self.nets[0](joined.flatten(0, 1), hidden.flatten(0, 1))
        return outputs.reshape(*inputs.shape[:2], -1), after.reshape(hidden.shape)

    def unroll(self, inputs: Sequence[torch.Tensor], hidden: torch.Tensor) -> list[torch.Tensor]:
        """Every agent's outputs along batches of sequences: ``inputs`` one ``(B, T, d_i)`` per
        agent, ``hidden`` ``(N, B, hidden_size)`` before their first step -> one ``(B, T,
        out_i)`` per agent (gradients flow through time)."""
        stacked = stack_padded(inputs, 0.0)  # (N, B, T, d)
        steps = []
        for t in range(stacked.shape[2]):
            outputs, hidden = self.step_stacked(stacked[:, :, t], hidden)
            steps.append(outputs)
        joined = torch.stack(steps, dim=2)  # (N, B, T, out)
        return [joined[i, ..., :size] for i, size in enumerate(self.output_sizes)]


def reset_where(hidden: torch.Tensor, done: torch.Tensor, *, axis: int = 0) -> torch.Tensor:
    """``hidden`` with the entries of finished episodes zeroed along ``axis`` (``done`` ``(B,)``,
    ``hidden.shape[axis] == B``), so the episodes restarting there begin from the initial
    hidden state."""
    shape = [1] * hidden.dim()
    shape[axis] = -1
    return hidden.masked_fill(done.reshape(shape), 0.0)


@torch.no_grad()
def soft_update(target: nn.Module | Sequence[torch.Tensor],
                source: nn.Module | Sequence[torch.Tensor], tau: float) -> None:
    """Polyak averaging ``target <- (1 - tau) target + tau source`` (modules, or their
    parameter lists kept by the caller to skip walking the modules on every update)."""
    targets: list[torch.Tensor] = list(target.parameters() if isinstance(target, nn.Module)
                                       else target)
    sources: list[torch.Tensor] = list(source.parameters() if isinstance(source, nn.Module)
                                       else source)
    torch._foreach_lerp_(targets, sources, tau)


@torch.no_grad()
def hard_update(target: nn.Module, source: nn.Module) -> None:
    """Copy ``source``'s parameters into ``target``."""
    target.load_state_dict(source.state_dict())


def gae(rewards: torch.Tensor, values: torch.Tensor, terminated: torch.Tensor,
        truncated: torch.Tensor, next_value: torch.Tensor, *, discount: float, lam: float,
        final_values: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimation (Schulman et al. 2016) over a rollout.

    Parameters
    ----------
    rewards, values, terminated, truncated : Tensor, shape (T, B, ...)
        ``terminated`` stops bootstrapping; ``truncated`` bootstraps from ``final_values``.
    next_value : Tensor, shape (B, ...)
        Value of the observation after the last step.
    final_values : Tensor, shape (T, B, ...), optional
        Values of the states reached at truncated steps (zero when absent).

    Returns
    -------
    advantages, returns : Tensor, shape (T, B, ...)
    """
    steps = rewards.shape[0]
    advantages = torch.zeros_like(rewards)
    running = torch.zeros_like(next_value)
    terminated = terminated.to(rewards.dtype)
    truncated = truncated.to(rewards.dtype)
    for t in reversed(range(steps)):
        following = next_value if t == steps - 1 else values[t + 1]
        # at an episode boundary the next row belongs to a new episode: do not chain through it
        boundary = torch.maximum(terminated[t], truncated[t])
        bootstrap = following * (1 - boundary)
        if final_values is not None:
            bootstrap = bootstrap + final_values[t] * truncated[t]
        delta = rewards[t] + discount * bootstrap - values[t]
        running = delta + discount * lam * (1 - boundary) * running
        advantages[t] = running
    return advantages, advantages + values


class RunningNormalizer(nn.Module):
    """Running mean and variance (Chan et al. parallel update), for value normalisation."""

    mean: torch.Tensor
    var: torch.Tensor
    count: torch.Tensor

    def __init__(self, shape: Sequence[int] = (), epsilon: float = 1e-5) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(shape, dtype=torch.float64))
        self.register_buffer("var", torch.ones(shape, dtype=torch.float64))
        self.register_buffer("count", torch.tensor(epsilon, dtype=torch.float64))

    @torch.no_grad()
    def update(self, batch: torch.Tensor) -> None:
        batch = batch.double().reshape(-1, *tuple(self.mean.shape))
        batch_mean, batch_var, n = batch.mean(0), batch.var(0, unbiased=False), batch.shape[0]
        delta = batch_mean - self.mean
        total = self.count + n
        self.mean += delta * n / total
        self.var = (self.var * self.count + batch_var * n
                    + delta ** 2 * self.count * n / total) / total
        self.count = total

    def normalize(self, values: torch.Tensor) -> torch.Tensor:
        return ((values - self.mean) / torch.sqrt(self.var + 1e-8)).to(values.dtype)

    def denormalize(self, values: torch.Tensor) -> torch.Tensor:
        return (values * torch.sqrt(self.var + 1e-8) + self.mean).to(values.dtype)


class ReplayBuffer:
    """Fixed-capacity ring buffer of named tensors, sampled with an explicit generator.

    Parameters
    ----------
    capacity : int
    shapes : dict of str to (shape, dtype)
        One entry per stored field, shapes without the batch axis.
    """

    def __init__(self, capacity: int,
                 shapes: Mapping[str, tuple[Sequence[int], torch.dtype]],
                 device: torch.device | str = "cpu") -> None:
        self.capacity = int(capacity)
        self.data = {name: torch.zeros((self.capacity, *shape), dtype=dtype, device=device)
                     for name, (shape, dtype) in shapes.items()}
        self.position = 0
        self.size = 0
        self._offsets = torch.zeros(0, dtype=torch.int64, device=device)

    def add(self, **batch: torch.Tensor) -> None:
        """Append a batch (first axis) of every field."""
        count = next(iter(batch.values())).shape[0]
        start = self.position
        if start + count <= self.capacity:  # no wrap: slice copies, no index tensor
            for name, values in batch.items():
                self.data[name][start:start + count] = values
            self.position = (start + count) % self.capacity
            self.size = min(self.size + count, self.capacity)
            return
        if self._offsets.shape[0] != count:
            self._offsets = torch.arange(count, device=self._offsets.device)
        index = (self._offsets + self.position) % self.capacity
        for name, values in batch.items():
            self.data[name][index] = values.to(self.data[name].dtype)
        self.position = (self.position + count) % self.capacity
        self.size = min(self.size + count, self.capacity)

    def sample(self, batch_size: int, generator: torch.Generator,
               names: Iterable[str] | None = None) -> dict[str, torch.Tensor]:
        """A minibatch drawn with ``generator`` (on the buffer's device), of the fields
        ``names`` (default: all)."""
        device = self._offsets.device
        index = torch.randint(0, self.size, (batch_size,), generator=generator, device=device)
        return {name: self.data[name][index] for name in (self.data if names is None else names)}

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {**{f"data.{k}": v[:self.size].clone() for k, v in self.data.items()},
                "position": torch.tensor(self.position), "size": torch.tensor(self.size)}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.size = int(state["size"])
        self.position = int(state["position"])
        for name in self.data:
            self.data[name][:self.size] = state[f"data.{name}"]


class SequenceRecorder:
    """Cuts each parallel episode into sequences of at most ``length`` steps, for episode replay.

    Every call to :meth:`record` appends one step of every episode; a sequence is complete when
    its episode ends or it reaches ``length`` steps, and :meth:`record` then returns the complete
    ones (to be added to a :class:`ReplayBuffer` whose shapes are :attr:`shapes`). Episodes of at
    most ``length`` steps are stored whole (EPyMARL's episode buffer); longer ones as consecutive
    sequences, each starting from the hidden state the agents had there (R2D2's stored state,
    Kapturowski et al. 2019).

    Fields per sequence: ``step_fields`` ``(length, *shape)`` (actions, rewards); 
    ``observation_fields`` ``(length + 1, *shape)``, the observation before each step and the
    one after the last; ``start_fields`` ``shape`` (the hidden state at the first step, set by
    :meth:`begin`); ``mask`` ``(length,)``, 1 on the steps that happened.

    Parameters
    ----------
    num_envs, length : int
    step_fields, observation_fields, start_fields : dict of str to (shape, dtype)
    device : torch.device or str
    """

    def __init__(self, num_envs: int, length: int,
                 step_fields: Mapping[str, tuple[Sequence[int], torch.dtype]],
                 observation_fields: Mapping[str, tuple[Sequence[int], torch.dtype]],
                 start_fields: Mapping[str, tuple[Sequence[int], torch.dtype]],
                 device: torch.device | str = "cpu") -> None:
        self.length = int(length)
        self.shapes: dict[str, tuple[tuple[int, ...], torch.dtype]] = {"mask": ((length,),
                                                                                 torch.float32)}
        self.shapes.update({name: ((length, *shape), dtype)
                            for name, (shape, dtype) in step_fields.items()})
        self.shapes.update({name: ((length + 1, *shape), dtype)
                            for name, (shape, dtype) in observation_fields.items()})
        self.shapes.update({name: (tuple(shape), dtype)
                            for name, (shape, dtype) in start_fields.items()})
        self.observation_names = tuple(observation_fields)
        self.start_names = tuple(start_fields)
        self.data = {name: torch.zeros((num_envs, *shape), dtype=dtype, device=device)
                     for name, (shape, dtype) in self.shapes.items()}
        self.position = torch.zeros(num_envs, dtype=torch.int64, device=device)
        self.rows = torch.arange(num_envs, device=device)

    def begin(self, **start: torch.Tensor) -> None:
        """Set the start fields ``(B, *shape)`` of the sequences that begin at this step."""
        fresh = self.position == 0
        for name, values in start.items():
            stored = self.data[name]
            mask = fresh.reshape(-1, *[1] * (stored.dim() - 1))
            self.data[name] = torch.where(mask, values.to(stored.dtype), stored)

    def record(self, *, before: Mapping[str, torch.Tensor], step: Mapping[str, torch.Tensor],
               after: Mapping[str, torch.Tensor], done: torch.Tensor
               ) -> dict[str, torch.Tensor] | None:
        """Append one step (observation fields ``before`` and ``after`` it, step fields); return
        the sequences completed by it, or ``None``. ``done`` ``(B,)`` marks episodes that ended."""
        rows, position = self.rows, self.position
        for name, values in before.items():
            self.data[name][rows, position] = values.to(self.data[name].dtype)
        for name, values in after.items():
            self.data[name][rows, position + 1] = values.to(self.data[name].dtype)
        for name, values in step.items():
            self.data[name][rows, position] = values.to(self.data[name].dtype)
        self.data["mask"][rows, position] = 1.0
        self.position = position + 1
        complete = done | (self.position >= self.length)
        if not bool(complete.any()):  # one host synchronisation per step
            return None
        finished = {name: values[complete].clone() for name, values in self.data.items()}
        for values in self.data.values():
            values[complete] = 0
        self.position = self.position.masked_fill(complete, 0)
        return finished

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {**{f"data.{k}": v.clone() for k, v in self.data.items()},
                "position": self.position.clone()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        for name in self.data:
            self.data[name] = state[f"data.{name}"].to(self.data[name].device).clone()
        self.position = state["position"].to(self.position.device).clone()


def sample_categorical(probabilities: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """One draw per row of ``probabilities`` ``(B, n)``, as int64 ``(B,)``."""
    return torch.multinomial(probabilities, 1, generator=generator).squeeze(-1)


def gumbel_softmax(logits: torch.Tensor, generator: torch.Generator, *, temperature: float = 1.0,
                   hard: bool = True) -> torch.Tensor:
    """Straight-through Gumbel-softmax (Jang et al. 2017) with noise from ``generator``, which
    must live on ``logits``' device."""
    uniform = torch.rand(logits.shape, generator=generator, device=logits.device)
    gumbel = -torch.log(-torch.log(uniform.clamp(1e-10, 1.0 - 1e-10)))
    soft = torch.softmax((logits + gumbel) / temperature, dim=-1)
    if not hard:
        return soft
    index = soft.argmax(dim=-1, keepdim=True)
    hard_sample = torch.zeros_like(soft).scatter_(-1, index, 1.0)
    return hard_sample - soft.detach() + soft


@contextlib.contextmanager
def single_thread() -> Iterator[None]:
    """Run torch on one intra-op thread inside the block (restored afterwards)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def explained_variance(predicted: torch.Tensor, target: torch.Tensor) -> float:
    """``1 - Var(target - predicted) / Var(target)`` (nan when the target is constant)."""
    variance = target.var()
    return float("nan") if variance == 0 else float(1 - (target - predicted).var() / variance)


def parameters_of(*modules: nn.Module) -> Iterable[nn.Parameter]:
    """All parameters of several modules, for one optimiser."""
    for module in modules:
        yield from module.parameters()
