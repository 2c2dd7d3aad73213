"""Outside environments for the learners: PettingZoo ``ParallelEnv`` as a :class:`VectorEnv`.

:class:`ParallelVectorEnv` runs ``num_envs`` copies of any PettingZoo parallel environment (made
by a factory) behind the batched interface every learner uses: observations are flattened to
float vectors (``Discrete`` observations one-hot), the global state is ``env.state()`` when the
environment defines it and the concatenated observations otherwise, finished episodes restart
automatically. An episode ends for all agents when any agent terminates or is truncated (agents
that leave mid-episode are not supported).

:func:`resolve_environment` turns what a user passes (a factory, a ``ParallelEnv`` class, a
module with ``parallel_env`` such as ``mpe2.simple_spread_v3``, or an import path
``"pettingzoo:mpe2.simple_spread_v3"`` / ``"package.module:attribute"``) into an
:class:`EnvironmentSource`.

Multi-agent vector environments
-------------------------------
Gymnasium's ``VectorEnv`` is single-agent (one reward per copy). For environments that step
``num_envs`` copies themselves (on arrays, a GPU, a simulator), gametools takes the PettingZoo
parallel API batched over copies, with gymnasium's same-step autoreset; see
:class:`VectorParallelEnvAdapter` for the protocol. A factory is taken as such an environment
when its signature names ``num_envs`` (it is called as ``factory(num_envs=N, **params)``), or
when :func:`resolve_environment` is told ``vectorised=True``.

There is no tabular game behind such an environment, so training reports returns (and
deterministic evaluation returns), never a NashConv; at the end of a run it can estimate
learned best-response lower bounds on each agent's gain (see
:func:`gametools.marl.train.train`). Episodes in flight live in Python objects that cannot be
checkpointed: a resumed run restarts them (reseeded from the seed and the step count), so it is
reproducible but not bit-identical to an uninterrupted run.

Examples
--------
>>> from gametools import NormalFormGame
>>> from gametools.interop.pettingzoo import MarkovGameParallelEnv
>>> from gametools.marl.parallel_env import EnvironmentSource, ParallelVectorEnv
>>> pennies = NormalFormGame.zero_sum([[1, -1], [-1, 1]]).to_markov_game()
>>> source = EnvironmentSource(lambda: MarkovGameParallelEnv(pennies), "pennies")
>>> env = ParallelVectorEnv(source, num_envs=2, seed=0)
>>> env.observation_sizes, env.action_spaces
((2, 2), (Discrete(n=2), Discrete(n=2)))
"""

from __future__ import annotations

import hashlib
import importlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from gametools.errors import InvalidArgumentError
from gametools.marl.env import Box, Discrete, Reset, Step, VectorEnv

__all__ = ["EnvironmentSource", "ParallelVectorEnv", "VectorParallelEnvAdapter",
           "is_environment_spec", "is_vector_env_factory", "make_vector_env",
           "resolve_environment"]


@dataclass(frozen=True)
class EnvironmentSource:
    """How to make one copy of an outside environment.

    Attributes
    ----------
    factory : callable
        ``factory(**kwargs)`` returns a PettingZoo ``ParallelEnv``.
    name : str
        Identifies the environment in checkpoints and results (its import path).
    kwargs : mapping
        Keyword arguments of the factory (``params`` of :func:`~gametools.marl.train.train`).
    cooperative : bool
        Declare that every agent always receives the same reward (needed by VDN, QMIX and the
        centralised learner, which cannot check it on an outside environment).
    vectorised : bool
        The factory makes a multi-agent vector environment (``factory(num_envs=N, **kwargs)``,
        the protocol of :class:`VectorParallelEnvAdapter`) instead of one ``ParallelEnv``.
    """

    factory: Callable[..., Any]
    name: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    cooperative: bool = False
    vectorised: bool = False

    def make(self) -> Any:
        return self.factory(**dict(self.kwargs))

    def make_vectorised(self, num_envs: int) -> Any:
        return self.factory(num_envs=int(num_envs), **dict(self.kwargs))

    def fingerprint(self) -> str:
        document: dict[str, Any] = {"name": self.name, "kwargs": {
            k: repr(v) for k, v in sorted(self.kwargs.items())}, "cooperative": self.cooperative}
        if self.vectorised:  # absent otherwise: earlier checkpoints keep their fingerprint
            document["vectorised"] = True
        text = json.dumps(document, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()


def is_environment_spec(text: str) -> bool:
    """Whether ``text`` is an import path ``module:attribute`` (not an ``openspiel:`` game)."""
    prefix, colon, rest = text.partition(":")
    return bool(colon) and bool(rest) and prefix != "openspiel" and "/" not in prefix \
        and "\\" not in prefix and len(prefix) > 1


def _import(spec: str) -> Any:
    module_name, _, attribute = spec.partition(":")
    if module_name == "pettingzoo" and "." in attribute:
        # pettingzoo:mpe2.simple_spread_v3 -> the module mpe2.simple_spread_v3
        module_name, attribute = attribute, ""
    try:
        target: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise InvalidArgumentError(f"cannot import {module_name!r} for environment {spec!r} "
                                   f"({exc})") from None
    for part in filter(None, attribute.split(".")):
        if not hasattr(target, part):
            raise InvalidArgumentError(f"{module_name!r} has no attribute {part!r} "
                                       f"(environment {spec!r})")
        target = getattr(target, part)
    return target


def is_vector_env_factory(factory: Any) -> bool:
    """Whether the factory's signature has a parameter named ``num_envs``."""
    import inspect

    try:
        parameters = inspect.signature(factory).parameters
    except (TypeError, ValueError):  # builtins and some extension types have no signature
        return False
    return "num_envs" in parameters and parameters["num_envs"].kind not in (
        inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)


def resolve_environment(target: Any, kwargs: Mapping[str, Any] | None = None, *,
                        cooperative: bool = False, vectorised: bool | None = None
                        ) -> EnvironmentSource:
    """An :class:`EnvironmentSource` from an import path, a module, a class or a factory.

    ``vectorised=None`` takes a factory whose signature names ``num_envs`` as a multi-agent
    vector environment (:class:`VectorParallelEnvAdapter`), any other as a ``ParallelEnv``.
    """
    name = target if isinstance(target, str) else getattr(
        target, "__qualname__", getattr(target, "__name__", type(target).__name__))
    if isinstance(target, str):
        if not is_environment_spec(target):
            raise InvalidArgumentError(f"{target!r} is not an import path 'module:attribute'")
        target = _import(target)
    if isinstance(target, EnvironmentSource):
        return target
    if hasattr(target, "parallel_env") and callable(target.parallel_env):
        target = target.parallel_env  # a PettingZoo environment module
    if not callable(target):
        raise InvalidArgumentError(f"environment {name!r} is neither a ParallelEnv factory nor "
                                   "a module with parallel_env")
    if vectorised is None:
        vectorised = is_vector_env_factory(target)
    return EnvironmentSource(target, str(name), dict(kwargs or {}), cooperative, vectorised)


def make_vector_env(source: EnvironmentSource, *, num_envs: int, seed: int,
                    device: str | torch.device = "cpu") -> VectorEnv:
    """The :class:`VectorEnv` of an outside environment: ``num_envs`` copies of a
    ``ParallelEnv``, or the source's own vector environment."""
    if source.vectorised:
        return VectorParallelEnvAdapter(source, num_envs=num_envs, seed=seed, device=device)
    return ParallelVectorEnv(source, num_envs=num_envs, seed=seed, device=device)


def _flat_size(space: Any) -> int:
    from gymnasium import spaces

    if isinstance(space, spaces.Discrete):
        return int(space.n)
    if isinstance(space, spaces.Box):
        return int(np.prod(space.shape))
    raise InvalidArgumentError(f"unsupported observation space {space!r} (Box or Discrete)")


def _action_space(space: Any) -> Discrete | Box:
    from gymnasium import spaces

    if isinstance(space, spaces.Discrete):
        if int(space.start) != 0:
            raise InvalidArgumentError("Discrete action spaces must start at 0")
        return Discrete(int(space.n))
    if isinstance(space, spaces.Box):
        low, high = np.unique(space.low), np.unique(space.high)
        if low.size != 1 or high.size != 1:
            raise InvalidArgumentError("Box action spaces need one low and one high bound")
        return Box(float(low[0]), float(high[0]), tuple(int(d) for d in space.shape))
    raise InvalidArgumentError(f"unsupported action space {space!r} (Box or Discrete)")


class OutsideVectorEnv(VectorEnv):
    """A :class:`VectorEnv` over environments written in Python outside gametools.

    Their episodes cannot be checkpointed: a resumed run restarts the episodes in flight with
    seeds that differ from the first run's (``seed + 7919 * resumes``). Subclasses set
    ``self._seed`` and implement :meth:`reset`.
    """

    _seed: int
    source: EnvironmentSource

    def _describe(self, source: EnvironmentSource, env: Any, *, num_envs: int, seed: int,
                  device: str | torch.device) -> None:
        """Agents, spaces and settings read from ``env``, which answers PettingZoo's
        ``possible_agents``, ``observation_space(agent)`` and ``action_space(agent)``."""
        self.source = source
        self.agent_names = list(env.possible_agents)
        self.num_agents = len(self.agent_names)
        self.num_envs = int(num_envs)
        self.device = torch.device(device)
        self.discount = 1.0
        self._observation_spaces = [env.observation_space(a) for a in self.agent_names]
        self.observation_sizes = tuple(_flat_size(s) for s in self._observation_spaces)
        self.action_spaces = tuple(_action_space(env.action_space(a)) for a in self.agent_names)
        self._seed = int(seed)

    @property
    def cooperative(self) -> bool:
        return self.source.cooperative

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.reset(seed=self._seed + 7919 * int(state.get("resumes", torch.tensor(1))))


class ParallelVectorEnv(OutsideVectorEnv):
    """``num_envs`` copies of a PettingZoo parallel environment as one :class:`VectorEnv`.

    Parameters
    ----------
    source : EnvironmentSource
    num_envs : int
    seed : int
        Copy ``k`` is reset with seed ``seed + k`` at the first reset.
    device : str or torch.device
    """

    def __init__(self, source: EnvironmentSource, *, num_envs: int = 1, seed: int = 0,
                 device: str | torch.device = "cpu") -> None:
        if num_envs < 1:
            raise InvalidArgumentError(f"num_envs must be >= 1, got {num_envs}")
        self.envs = [source.make() for _ in range(num_envs)]
        self._describe(source, self.envs[0], num_envs=num_envs, seed=seed, device=device)
        self._current: list[dict[str, Any]] = []
        self._states: list[np.ndarray] = []
        self.reset(seed=seed)
        self.state_size = int(self._states[0].size)

    def _encode_one(self, agent: int, value: Any) -> np.ndarray:
        from gymnasium import spaces

        space = self._observation_spaces[agent]
        if isinstance(space, spaces.Discrete):
            out = np.zeros(int(space.n), dtype=np.float32)
            out[int(value) - int(space.start)] = 1.0
            return out
        return np.asarray(value, dtype=np.float32).reshape(-1)

    def _state_of(self, env: Any, observations: dict[str, Any]) -> np.ndarray:
        try:
            state = env.state()
        except (NotImplementedError, AttributeError):
            state = None
        if state is None:
            return np.concatenate([self._encode_one(i, observations[a])
                                   for i, a in enumerate(self.agent_names)])
        return np.asarray(state, dtype=np.float32).reshape(-1)

    def _batch(self, observations: Sequence[dict[str, Any]], states: Sequence[np.ndarray]
               ) -> tuple[tuple[torch.Tensor, ...], torch.Tensor]:
        encoded = tuple(
            torch.as_tensor(np.stack([self._encode_one(i, obs[a]) for obs in observations]),
                            device=self.device)
            for i, a in enumerate(self.agent_names))
        return encoded, torch.as_tensor(np.stack(states), device=self.device)

    def reset(self, *, seed: int | None = None) -> Reset:
        base = self._seed if seed is None else int(seed)
        self._current, self._states = [], []
        for k, env in enumerate(self.envs):
            observations, _ = env.reset(seed=base + k)
            self._current.append(observations)
            self._states.append(self._state_of(env, observations))
        observations_t, state = self._batch(self._current, self._states)
        return Reset(observations_t, state)

    def observe(self) -> Reset:
        observations, state = self._batch(self._current, self._states)
        return Reset(observations, state)

    def step(self, actions: Sequence[torch.Tensor]) -> Step:
        if len(actions) != self.num_agents:
            raise InvalidArgumentError(f"step needs one action tensor per agent "
                                       f"({self.num_agents}), got {len(actions)}")
        host = [a.detach().cpu().numpy() for a in actions]  # one copy per step, not per env
        rewards = np.zeros((self.num_envs, self.num_agents), dtype=np.float32)
        terminated = np.zeros(self.num_envs, dtype=bool)
        truncated = np.zeros(self.num_envs, dtype=bool)
        finals, final_states = [], []
        for k, env in enumerate(self.envs):
            joint = {}
            for i, agent in enumerate(self.agent_names):
                value = host[i][k]
                joint[agent] = int(value) if isinstance(self.action_spaces[i], Discrete) \
                    else np.asarray(value, dtype=np.float32)
            observations, reward, terms, truncs, _ = env.step(joint)
            rewards[k] = [float(reward.get(a, 0.0)) for a in self.agent_names]
            terminated[k] = any(bool(terms.get(a, False)) for a in self.agent_names)
            truncated[k] = not terminated[k] and (
                any(bool(truncs.get(a, False)) for a in self.agent_names)
                or not env.agents)
            missing = [a for a in self.agent_names if a not in observations]
            final = {a: observations.get(a, self._current[k][a]) for a in self.agent_names}
            if missing and not (terminated[k] or truncated[k]):
                raise InvalidArgumentError(f"agents {missing} left the episode early; "
                                           "environments with changing agents are not supported")
            finals.append(final)
            final_states.append(self._state_of(env, final))
            if terminated[k] or truncated[k]:
                fresh, _ = env.reset()
                self._current[k] = fresh
                self._states[k] = self._state_of(env, fresh)
            else:
                self._current[k] = final
                self._states[k] = final_states[-1]
        final_obs, final_state = self._batch(finals, final_states)
        observations_t, state = self._batch(self._current, self._states)
        device = self.device
        return Step(observations_t, state, torch.as_tensor(rewards, device=device),
                    torch.as_tensor(terminated, device=device),
                    torch.as_tensor(truncated, device=device), final_obs, final_state)

    def close(self) -> None:
        for env in self.envs:
            env.close()


class VectorParallelEnvAdapter(OutsideVectorEnv):
    """A multi-agent vector environment (batched PettingZoo parallel API) as a :class:`VectorEnv`.

    The protocol (all arrays batched over the ``num_envs`` copies, first axis):

    - made by ``factory(num_envs=N, **params)``; attributes ``num_envs`` and
      ``possible_agents`` (agent names, fixed: every agent acts at every step);
    - ``observation_space(agent)`` and ``action_space(agent)``: the gymnasium space of *one*
      copy (``Box`` or ``Discrete`` observations; ``Discrete`` from 0 or ``Box`` actions);
    - ``reset(seed=None) -> (observations, infos)``, ``observations[agent]`` of shape
      ``(N, *space.shape)`` (``(N,)`` integers for ``Discrete``);
    - ``step(actions) -> (observations, rewards, terminations, truncations, infos)`` with
      ``actions[agent]`` of shape ``(N,)`` (``Discrete``) or ``(N, *shape)`` (``Box``),
      ``rewards[agent]`` ``(N,)`` floats, ``terminations[agent]`` / ``truncations[agent]``
      ``(N,)`` bools; a copy's episode ends when any agent's does;
    - *same-step autoreset*: a copy whose episode ended is reset inside ``step``, and the
      returned observation is the new episode's first; ``infos["final_observation"][agent]``
      (optional, ``(N, ...)``) holds the ended episodes' last observations (used to bootstrap
      truncated episodes; absent, the new episode's are used);
    - optional ``state() -> (N, state_size)`` (the critics' global state; default: the
      concatenated observations) and ``infos["final_state"]``; optional ``close()``.

    Episodes in flight cannot be checkpointed: a resumed run restarts them (reseeded).

    Parameters
    ----------
    source : EnvironmentSource
        With ``vectorised=True``.
    num_envs : int
    seed : int
        The first reset's seed.
    device : str or torch.device
    """

    def __init__(self, source: EnvironmentSource, *, num_envs: int = 1, seed: int = 0,
                 device: str | torch.device = "cpu") -> None:
        if num_envs < 1:
            raise InvalidArgumentError(f"num_envs must be >= 1, got {num_envs}")
        self.env = source.make_vectorised(num_envs)
        made = int(getattr(self.env, "num_envs", -1))
        if made != num_envs:
            raise InvalidArgumentError(f"environment {source.name!r} was asked for {num_envs} "
                                       f"copies and has num_envs={made}")
        self._describe(source, self.env, num_envs=num_envs, seed=seed, device=device)
        self._current = self.reset(seed=seed)
        self.state_size = int(self._current.state.shape[1])

    def _encode(self, observations: Mapping[str, Any]) -> tuple[torch.Tensor, ...]:
        from gymnasium import spaces

        out = []
        for agent, space in zip(self.agent_names, self._observation_spaces):
            value = torch.as_tensor(np.asarray(observations[agent]), device=self.device)
            if isinstance(space, spaces.Discrete):
                value = torch.nn.functional.one_hot(value.long().reshape(self.num_envs)
                                                    - int(space.start), int(space.n))
            out.append(value.reshape(self.num_envs, -1).float())
        return tuple(out)

    def _state(self, encoded: Sequence[torch.Tensor], given: Any = None) -> torch.Tensor:
        if given is None and hasattr(self.env, "state"):
            given = self.env.state()
        if given is None:
            return torch.cat(list(encoded), dim=1)
        return torch.as_tensor(np.asarray(given, dtype=np.float32),
                               device=self.device).reshape(self.num_envs, -1)

    def reset(self, *, seed: int | None = None) -> Reset:
        observations, _ = self.env.reset(seed=self._seed if seed is None else int(seed))
        encoded = self._encode(observations)
        self._current = Reset(encoded, self._state(encoded))
        return self._current

    def observe(self) -> Reset:
        return self._current

    def _flags(self, flags: Mapping[str, Any]) -> np.ndarray:
        return np.any([np.asarray(flags.get(a, False), dtype=bool).reshape(self.num_envs)
                       for a in self.agent_names], axis=0)

    def step(self, actions: Sequence[torch.Tensor]) -> Step:
        if len(actions) != self.num_agents:
            raise InvalidArgumentError(f"step needs one action tensor per agent "
                                       f"({self.num_agents}), got {len(actions)}")
        joint = {agent: action.detach().cpu().numpy()
                 for agent, action in zip(self.agent_names, actions)}
        observations, rewards, terminations, truncations, infos = self.env.step(joint)
        reward = np.stack([np.asarray(rewards[a], dtype=np.float32).reshape(self.num_envs)
                           for a in self.agent_names], axis=1)
        terminated = self._flags(terminations)
        truncated = self._flags(truncations) & ~terminated
        encoded = self._encode(observations)
        state = self._state(encoded)
        infos = infos or {}
        if "final_observation" in infos:
            final = self._encode(infos["final_observation"])
            final_state = self._state(final, infos.get("final_state"))
        else:
            final, final_state = encoded, state
        self._current = Reset(encoded, state)
        device = self.device
        return Step(encoded, state, torch.as_tensor(reward, device=device),
                    torch.as_tensor(terminated, device=device),
                    torch.as_tensor(truncated, device=device), final, final_state)

    def close(self) -> None:
        if hasattr(self.env, "close"):
            self.env.close()
