"""The learning view of a market: controlled traders among strategy-library opponents.

``C`` *controlled* agents of one role act through a discrete action set; every other agent plays
a fixed strategy drawn per episode from a role-wise mixture over the strategy library (the
*meta-strategy* of PSRO; :func:`gametools.market.egta.sample_opponents`). ``B`` markets run in
lockstep as one :class:`~gametools.market.simulator.MarketSimulator`, paused whenever a
controlled agent arrives (:meth:`~gametools.market.simulator.MarketSimulator.episode`).

Observations and actions (:class:`TraderInterface`)
---------------------------------------------------
The design follows the deep-RL traders of Wellman's EGTA studies (Wright and Wellman 2018,
"Evaluating the stability of non-adaptive trading in continuous double auctions", AAMAS): at
each arrival the agent picks a *surplus demand* (how far from its own valuation to place a
limit order) instead of a raw price, so one policy transfers across fundamental levels. With
``K`` offsets ``d_1 < ... < d_K`` (ticks) there are ``2K + 1`` actions:

- ``0``: no order (the agent's resting orders are cancelled on arrival, as for every strategy);
- ``1..K``: buy one unit, limit ``floor(value of the next unit) - d_k``;
- ``K+1..2K``: sell one unit, limit ``ceil(value of the unit given up) + d_k``.

A limit at the valuation (``d = 0``) takes any resting quote that gives the agent surplus, at the
resting price. Orders the role may not send (a buyer's sell, a position bound) are dropped. The
default offsets are ``(0, 0.1, 0.25, 0.5, 1) x`` the market's *price scale* (the private value
standard deviation in ``order_book``, a quarter of the value range in ``double_auction``).

The observation (15 floats, prices in price scales) is: 1 on arrival (0 otherwise), the time
``t / T``, the position over the position bound, whether the agent can buy / sell, its fixed side,
the private value of buying / selling the next unit (valuation minus the fundamental estimate),
whether a bid / ask rests in the book, the surplus of taking the best ask / hitting the best bid,
the gap between its valuation and the best bid / ask, and the fundamental estimate's deviation
from its mean (clipped to ``[-5, 5]``).

Rewards
-------
At each step every controlled agent receives the change of its marked-to-market value
``cash + q F_hat_t + PV(q)`` (``F_hat_t`` the fundamental estimate at the pause) since the last
step, in price scales; the last step of an episode pays the change to the final profit, so an
episode's rewards sum exactly to the agent's profit (potential-based shaping, Ng et al. 1999).

Lockstep
--------
A learner steps all ``B`` markets at once, so the controlled agents' arrival *times* are drawn
once per batch and shared by its markets (each market's own schedule is still distributed as
the simulator's: agent ``i`` arrives at each step with probability proportional to its arrival
weight); the other agents' arrivals are drawn per market. An episode's ``D`` decisions are
``D`` steps; a batch where no controlled agent arrives is drawn again. Evaluation does not use
this view: a trained policy becomes a :class:`LearnedStrategy` and plays in ordinary simulations
(independent schedules), e.g. in :func:`gametools.market.psro.estimate_gain`.

:class:`MarketParallelEnv` is the PettingZoo ``ParallelEnv`` view of one market (``B = 1``), so
:func:`gametools.marl.train.train` accepts it as an outside environment; :class:`MarketVectorEnv`
is the batched :class:`~gametools.marl.env.VectorEnv` the learners use directly.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from gametools._io import atomic_open
from gametools.errors import InvalidArgumentError
from gametools.marl.env import Discrete, Reset, Step, VectorEnv
from gametools.market.egta import sample_opponents
from gametools.market.simulator import (ArrivalView, EpisodeStatistics, MarketConfig,
                                        MarketSimulator, Orders, Pause, position_values)
from gametools.market.strategies import Strategy, make_strategy

__all__ = ["TraderInterface", "ExternalStrategy", "LearnedStrategy", "MarketVectorEnv",
           "MarketParallelEnv", "price_scale", "save_learned", "load_learned",
           "OBSERVATION_SIZE", "DEFAULT_OFFSETS"]

OBSERVATION_SIZE = 15
#: surplus offsets of the actions, in price scales
DEFAULT_OFFSETS = (0.0, 0.1, 0.25, 0.5, 1.0)
LEARNED_FORMAT = 1


def price_scale(config: MarketConfig) -> float:
    """Ticks per observation unit: the private value standard deviation of a fundamental
    market (the shock's when there are no private values), a quarter of the value range of a
    private-value market."""
    if config.fundamental:
        for variance in (config.private_variance, config.shock_variance):
            if variance > 0:
                return float(math.sqrt(variance))
        return max(1.0, config.mean_fundamental / 100)
    return max(1.0, (config.value_high - config.value_low) / 4)


@dataclass(frozen=True)
class TraderInterface:
    """Observation features and discrete actions of a learning trader (module docstring).

    Attributes
    ----------
    offsets : tuple of int
        Surplus offsets ``d_k`` in ticks, increasing.
    scale : float
        Ticks per observation unit.
    horizon : int
        Arrivals per episode ``T``.
    mean_fundamental : float
    position_scale : float
        Positions are observed divided by this.
    """

    offsets: tuple[int, ...]
    scale: float
    horizon: int
    mean_fundamental: float
    position_scale: float

    @classmethod
    def for_market(cls, config: MarketConfig, offsets: Sequence[float] | None = None
                   ) -> TraderInterface:
        """The interface for ``config``; ``offsets`` in price scales (default
        :data:`DEFAULT_OFFSETS`)."""
        scale = price_scale(config)
        fractions = DEFAULT_OFFSETS if offsets is None else tuple(offsets)
        ticks = tuple(round(f * scale) for f in fractions)
        if not ticks or any(t < 0 for t in ticks) or len(set(ticks)) != len(ticks):
            raise InvalidArgumentError(f"action offsets must be distinct and >= 0 ticks, got "
                                       f"{ticks} ticks from {fractions}")
        return cls(tuple(sorted(ticks)), scale, config.n_arrivals,
                   float(config.mean_fundamental if config.fundamental else 0),
                   float(max(1, config.max_units)))

    @property
    def num_actions(self) -> int:
        return 1 + 2 * len(self.offsets)

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TraderInterface:
        return cls(tuple(int(x) for x in data["offsets"]), float(data["scale"]),
                   int(data["horizon"]), float(data["mean_fundamental"]),
                   float(data["position_scale"]))

    def observe(self, view: ArrivalView) -> torch.Tensor:
        """The ``(M, OBSERVATION_SIZE)`` float32 observations of the arriving agents."""
        s = self.scale
        buy, sell, estimate = view.buy_value, view.sell_value, view.fundamental_estimate
        has_bid, has_ask = torch.isfinite(view.best_bid), torch.isfinite(view.best_ask)
        bid = torch.where(has_bid, view.best_bid, 0.0)
        ask = torch.where(has_ask, view.best_ask, 0.0)

        def clipped(x: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
            return torch.where(present, (x / s).clamp(-5.0, 5.0), 0.0)

        ones = torch.ones_like(buy)
        columns = [
            ones, ones * (view.time / max(1, self.horizon)),
            (view.position.to(torch.float64) / self.position_scale).clamp(-5.0, 5.0),
            view.can_buy.to(torch.float64), view.can_sell.to(torch.float64),
            view.fixed_side.to(torch.float64),
            ((buy - estimate) / s).clamp(-5.0, 5.0), ((sell - estimate) / s).clamp(-5.0, 5.0),
            has_bid.to(torch.float64), has_ask.to(torch.float64),
            clipped(buy - ask, has_ask), clipped(bid - sell, has_bid),
            clipped(buy - bid, has_bid), clipped(ask - sell, has_ask),
            ((estimate - self.mean_fundamental) / s).clamp(-5.0, 5.0)]
        return torch.stack(columns, 1).to(torch.float32)

    def orders(self, actions: torch.Tensor, view: ArrivalView) -> Orders:
        """The orders of actions ``(M,)`` (module docstring)."""
        k = len(self.offsets)
        actions = actions.to(device=view.agents.device, dtype=torch.int64)
        if bool(((actions < 0) | (actions > 2 * k)).any()):
            raise InvalidArgumentError(f"market actions must lie in 0..{2 * k}")
        offsets = torch.tensor(self.offsets, dtype=torch.int64, device=actions.device)
        offset = offsets[((actions - 1) % k).clamp(min=0)]
        side = torch.where(actions == 0, 0, torch.where(actions <= k, 1, -1)).to(torch.int64)
        allowed = torch.where(side > 0, view.can_buy, view.can_sell) & (
            (view.fixed_side == 0) | (view.fixed_side == side))
        side = torch.where(allowed, side, 0)
        bid = torch.floor(view.buy_value).to(torch.int64) - offset
        ask = torch.ceil(view.sell_value).to(torch.int64) + offset
        return Orders.single(side, torch.where(side > 0, bid, ask))


class ExternalStrategy(Strategy):
    """The controlled agents of :class:`MarketVectorEnv`: the episode pauses before they act
    and their actions ``pending`` ``(B,)`` (set by the environment) become orders."""

    name = "external"
    external = True

    def __init__(self, interface: TraderInterface) -> None:
        self.interface = interface
        self.pending: torch.Tensor | None = None
        self.private_values: torch.Tensor | None = None

    def reset(self, simulator: MarketSimulator, private_values: torch.Tensor) -> None:
        self.private_values = private_values

    def orders(self, view: ArrivalView) -> Orders:
        if self.pending is None:
            raise InvalidArgumentError("the controlled agents act only through the environment")
        return self.interface.orders(self.pending[view.markets], view)


class LearnedStrategy(Strategy):
    """A trained policy playing as a library strategy.

    Parameters
    ----------
    name : str
    interface : TraderInterface
    policy : callable
        Observations ``(M, OBSERVATION_SIZE)`` -> action probabilities ``(M, 2K + 1)``
        (e.g. ``lambda obs: learner.policy(agent, obs)``).
    roles : tuple of str, optional
        The roles it may play (default: any).

    Actions are sampled from the probabilities with the simulator's generator (a greedy
    learner's one-hot probabilities play its greedy action).
    """

    def __init__(self, name: str, interface: TraderInterface,
                 policy: Callable[[torch.Tensor], torch.Tensor],
                 roles: tuple[str, ...] | None = None) -> None:
        self.name = name
        self.interface = interface
        self.policy = policy
        self.roles = roles

    @torch.no_grad()
    def orders(self, view: ArrivalView) -> Orders:
        probabilities = self.policy(self.interface.observe(view)).to(torch.float64)
        probabilities = probabilities.clamp(min=0.0).to(view.agents.device)
        actions = torch.multinomial(probabilities, 1, generator=view.generator)[:, 0]
        return self.interface.orders(actions, view)


class _ShapeEnv(VectorEnv):
    """Only the sizes of an environment: enough to rebuild a learner's networks."""

    def __init__(self, num_agents: int, observation_size: int, num_actions: int) -> None:
        self.num_agents = num_agents
        self.num_envs = 1
        self.device = torch.device("cpu")
        self.observation_sizes = (observation_size,) * num_agents
        self.state_size = observation_size * num_agents
        self.action_spaces = (Discrete(num_actions),) * num_agents
        self.discount = 1.0

    def reset(self, *, seed: int | None = None) -> Reset:
        raise InvalidArgumentError("a rebuilt policy has no environment")

    def step(self, actions: Sequence[torch.Tensor]) -> Step:
        raise InvalidArgumentError("a rebuilt policy has no environment")

    def observe(self) -> Reset:
        raise InvalidArgumentError("a rebuilt policy has no environment")

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        return None


def save_learned(path: str | Path, learner: Any, *, algorithm: str, agent: int,
                 interface: TraderInterface, role: str | None = None) -> None:
    """Write agent ``agent``'s policy of a trained ``learner`` to ``path`` (atomically), for
    :func:`load_learned` and ``learned:PATH`` strategy names."""
    modules = {name: module.state_dict() for name, module in learner.modules().items()
               if isinstance(module, nn.Module)}
    document = {"format": LEARNED_FORMAT, "algorithm": algorithm,
                "config": learner.config.to_dict(), "agent": int(agent),
                "num_agents": int(learner.env.num_agents),
                "observation_size": OBSERVATION_SIZE, "interface": interface.to_dict(),
                "role": role or "", "modules": modules}
    with atomic_open(Path(path), "wb") as handle:
        torch.save(document, handle)


def load_learned(path: str | Path, name: str | None = None) -> LearnedStrategy:
    """The :class:`LearnedStrategy` stored by :func:`save_learned` (``weights_only`` load)."""
    from gametools.marl.train import learner_class, make_config

    path = Path(path)
    try:
        document = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise InvalidArgumentError(f"learned strategy {str(path)!r}: no such file") from None
    except Exception as exc:  # noqa: BLE001 - torch raises many types for foreign files
        raise InvalidArgumentError(f"learned strategy {str(path)!r}: not a readable policy "
                                   f"file ({type(exc).__name__})") from None
    if not isinstance(document, dict) or document.get("format") != LEARNED_FORMAT:
        raise InvalidArgumentError(f"learned strategy {str(path)!r}: not a gametools market "
                                   "policy file")
    try:
        interface = TraderInterface.from_dict(document["interface"])
        fields = {k: tuple(v) if isinstance(v, list) else v
                  for k, v in document["config"].items()}
        algorithm = str(document["algorithm"])
        config = make_config(algorithm, **fields)
        shape = _ShapeEnv(int(document["num_agents"]), int(document["observation_size"]),
                          interface.num_actions)
        learner = learner_class(algorithm)(shape, config, seed=0)
        modules = learner.modules()
        for key, state in document["modules"].items():
            modules[key].load_state_dict(state)
        agent = int(document["agent"])
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise InvalidArgumentError(f"learned strategy {str(path)!r}: damaged policy file "
                                   f"({type(exc).__name__}: {str(exc)[:200]})") from None
    role = str(document.get("role") or "")

    def policy(observations: torch.Tensor) -> torch.Tensor:
        return learner.policy(agent, observations)

    return LearnedStrategy(name or f"learned:{path}", interface, policy,
                           roles=(role,) if role else None)




class MarketVectorEnv(VectorEnv):
    """``num_envs`` markets with ``controlled`` learning agents of ``role`` (module docstring).

    Parameters
    ----------
    config : MarketConfig
    role : str
        The controlled agents' role; the first ``controlled`` agents of it are controlled.
    strategies : sequence of sequence of str, optional
        The opponents' strategy names per role (default: each role's default strategy).
    mixture : sequence of sequence of float, optional
        Their probabilities per role (default: uniform).
    players : sequence of int, optional
        Reduced players per role: with one controlled agent, opponents are drawn as in the DPR
        game (:func:`~gametools.market.egta.sample_opponents`); otherwise independently.
    controlled : int
    num_envs : int
    seed : int
    interface : TraderInterface, optional
    resolve : callable, optional
        Strategy name -> object (default :func:`~gametools.market.strategies.make_strategy`).
    """

    def __init__(self, config: MarketConfig, *, role: str,
                 strategies: Sequence[Sequence[str]] | None = None,
                 mixture: Sequence[Sequence[float]] | None = None,
                 players: Sequence[int] | None = None, controlled: int = 1, num_envs: int = 64,
                 seed: int = 0, device: str | torch.device = "cpu",
                 interface: TraderInterface | None = None,
                 resolve: Callable[[str], Strategy] = make_strategy) -> None:
        if role not in config.roles:
            raise InvalidArgumentError(f"unknown role {role!r}; roles: {', '.join(config.roles)}")
        members = config.agents_of(role)
        if not 1 <= controlled <= len(members):
            raise InvalidArgumentError(f"role {role!r} has {len(members)} agents; cannot control "
                                       f"{controlled}")
        if num_envs < 1:
            raise InvalidArgumentError(f"num_envs must be >= 1, got {num_envs}")
        if strategies is None:
            if not config.default_strategies:
                raise InvalidArgumentError("the market has no default strategies; give them")
            strategies = [[name] for name in config.default_strategies]
        strategies = [list(names) for names in strategies]
        if mixture is None:
            mixture = [[1.0 / len(names)] * len(names) if names else [] for names in strategies]
        self.config = config
        self.role = role
        self.controlled = members[:controlled]
        self.strategies = strategies
        self.mixture = [list(map(float, m)) for m in mixture]
        self.players = None if players is None else tuple(players)
        self.interface = interface or TraderInterface.for_market(config)
        self.external = ExternalStrategy(self.interface)
        self._resolve = resolve
        self._objects: dict[str, Strategy] = {}
        for names in strategies:
            for name in names:
                self._strategy(name)
        self.num_agents = controlled
        self.num_envs = int(num_envs)
        self.device = torch.device(device)
        self.observation_sizes = (OBSERVATION_SIZE,) * controlled
        self.state_size = OBSERVATION_SIZE * controlled
        self.action_spaces = (Discrete(self.interface.num_actions),) * controlled
        self.discount = 1.0
        self._seed = int(seed)
        self._episodes = 0
        self._observations: tuple[torch.Tensor, ...] = ()
        #: the statistics of the last finished batch of episodes
        self.last_statistics: EpisodeStatistics | None = None
        self.reset(seed=seed)

    def _strategy(self, name: str) -> Strategy:
        if name not in self._objects:
            self._objects[name] = self._resolve(name)
        return self._objects[name]

    # ---------------------------------------------------------------- episodes
    def _schedule(self, rng: np.random.Generator) -> torch.Tensor:
        """``(B, T)`` arrivals: the controlled agents' times shared by the batch (module
        docstring), the others' drawn per market."""
        c, b = self.config, self.num_envs
        weights = np.asarray(c.arrival_weights, dtype=np.float64)
        template = rng.choice(c.num_agents, size=c.n_arrivals, p=weights / weights.sum())
        others = np.ones(c.num_agents, dtype=bool)
        others[self.controlled] = False
        rest = np.where(others, weights, 0.0)
        arrivals = np.repeat(template[None, :], b, axis=0)
        free = ~np.isin(template, self.controlled)
        if rest.sum() > 0 and free.any():
            arrivals[:, free] = rng.choice(c.num_agents, size=(b, int(free.sum())),
                                           p=rest / rest.sum())
        return torch.as_tensor(arrivals, dtype=torch.int64, device=self.device)

    def _start(self) -> None:
        """Draw opponents and schedules until a batch has a controlled arrival; pause there."""
        while True:
            self._episodes += 1
            seed = (self._seed * 1_000_003 + self._episodes) % 2 ** 62
            rng = np.random.default_rng(seed)
            names = sample_opponents(self.config, self.strategies, self.mixture,
                                     self.controlled, count=self.num_envs, rng=rng,
                                     players=self.players)
            profiles = [[self.external if name is None else self._strategy(name)
                         for name in row] for row in names]
            simulator = MarketSimulator(self.config, profiles[0], num_markets=self.num_envs,
                                        seed=seed, device=self.device, profiles=profiles)
            episode = simulator.episode(arrivals=self._schedule(rng))
            try:
                pause = next(episode)
            except StopIteration:
                continue
            self._episode = episode
            self._pause = pause
            self._values = torch.zeros(self.num_envs, len(self.controlled), dtype=torch.float64,
                                       device=self.device)
            self._observations = self._observe(pause)
            return

    def _observe(self, pause: Pause) -> tuple[torch.Tensor, ...]:
        view = pause.view
        if view.markets.numel() != self.num_envs:
            raise AssertionError("controlled arrivals must be shared by the batch")
        features = self.interface.observe(view)
        arriving = int(view.agents[0])
        return tuple(features if agent == arriving else torch.zeros_like(features)
                     for agent in self.controlled)

    def _marked_values(self, pause: Pause) -> torch.Tensor:
        """``cash + q F_hat + PV(q)`` of the controlled agents, ``(B, C)`` ticks."""
        pv = self.external.private_values
        assert pv is not None
        agents = torch.tensor(self.controlled, device=self.device)
        position = pause.position[:, agents]
        private = position_values(pv[:, agents], position)
        private = torch.where(torch.tensor([self.config.value_model[i] == "none"
                                            for i in self.controlled], device=self.device),
                              0, private)
        estimate = pause.view.fundamental_estimate if self.config.fundamental else \
            torch.zeros(self.num_envs, dtype=torch.float64, device=self.device)
        return (pause.cash[:, agents] + private).to(torch.float64) \
            + position.to(torch.float64) * estimate[:, None]

    def _state(self, observations: Sequence[torch.Tensor]) -> torch.Tensor:
        return torch.cat(list(observations), 1)

    def reset(self, *, seed: int | None = None) -> Reset:
        if seed is not None:
            self._seed, self._episodes = int(seed), 0
        self._start()
        return self.observe()

    def observe(self) -> Reset:
        return Reset(self._observations, self._state(self._observations))

    def step(self, actions: Sequence[torch.Tensor]) -> Step:
        if len(actions) != len(self.controlled):
            raise InvalidArgumentError(f"step needs one action tensor per controlled agent "
                                       f"({len(self.controlled)}), got {len(actions)}")
        arriving = self.controlled.index(int(self._pause.view.agents[0]))
        self.external.pending = torch.as_tensor(actions[arriving], device=self.device)
        try:
            pause = next(self._episode)
        except StopIteration as finished:
            statistics = finished.value
            self.last_statistics = statistics
            values = torch.as_tensor(statistics.profit_ticks[:, self.controlled],
                                     dtype=torch.float64, device=self.device)
            rewards = ((values - self._values) / self.interface.scale).to(torch.float32)
            final = tuple(torch.zeros(self.num_envs, OBSERVATION_SIZE, device=self.device)
                          for _ in self.controlled)
            for obs in final:
                obs[:, 1] = 1.0  # the time at the end of the episode
            self._start()
            done = torch.ones(self.num_envs, dtype=torch.bool, device=self.device)
            return Step(self._observations, self._state(self._observations), rewards, done,
                        torch.zeros_like(done), final, self._state(final))
        self._pause = pause
        values = self._marked_values(pause)
        rewards = ((values - self._values) / self.interface.scale).to(torch.float32)
        self._values = values
        self._observations = self._observe(pause)
        not_done = torch.zeros(self.num_envs, dtype=torch.bool, device=self.device)
        state = self._state(self._observations)
        return Step(self._observations, state, rewards, not_done, not_done,
                    self._observations, state)

    def state_dict(self) -> dict[str, torch.Tensor]:
        # a paused Python generator cannot be saved: a resume restarts the episodes in flight
        return {"episodes": torch.tensor(self._episodes)}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self._episodes = int(state.get("episodes", torch.tensor(0)))
        self._start()


def _parallel_env_base() -> type:
    try:
        from pettingzoo import ParallelEnv
    except ImportError:  # the view works without PettingZoo installed, as a duck-typed class
        return object
    return ParallelEnv  # type: ignore[no-any-return]


class MarketParallelEnv(_parallel_env_base()):  # type: ignore[misc]
    """PettingZoo ``ParallelEnv`` view of one market with controlled agents.

    Agents are named ``"<role>_<k>"``; observations are ``Box(-5, 5, (15,))``, actions
    ``Discrete(2K + 1)``; an episode ends (``terminations`` all true) after the market's last
    arrival. ``state()`` concatenates the observations. Keyword arguments are those of
    :class:`MarketVectorEnv` (``num_envs`` is 1); ``scenario`` and ``params`` build the market
    from a registered scenario instead of ``config``.
    """

    metadata: ClassVar[dict[str, Any]] = {"name": "gametools_market_v0", "render_modes": [],
                                          "is_parallelizable": True}

    def __init__(self, config: MarketConfig | None = None, *, scenario: str | None = None,
                 params: Mapping[str, Any] | None = None, role: str, **kwargs: Any) -> None:
        from gymnasium import spaces

        if config is None:
            if scenario is None:
                raise InvalidArgumentError("give a market config or a scenario name")
            from gametools.scenarios import get_scenario

            found = get_scenario(scenario)
            if "simulation" not in found.tags:
                raise InvalidArgumentError(f"scenario {scenario!r} is not a market simulation")
            config = found.builder(**found.resolve(**dict(params or {})))
        kwargs.pop("num_envs", None)
        self.env = MarketVectorEnv(config, role=role, num_envs=1, **kwargs)
        self.possible_agents = [f"{role}_{k}" for k in range(self.env.num_agents)]
        self.agents: list[str] = []
        self._observation_space = spaces.Box(-5.0, 5.0, (OBSERVATION_SIZE,), np.float32)
        self._action_space = spaces.Discrete(self.env.interface.num_actions)
        self._current: tuple[torch.Tensor, ...] = ()

    def observation_space(self, agent: str) -> Any:
        return self._observation_space

    def action_space(self, agent: str) -> Any:
        return self._action_space

    def _dict(self, observations: Sequence[torch.Tensor]) -> dict[str, np.ndarray]:
        return {a: o[0].cpu().numpy().astype(np.float32)
                for a, o in zip(self.possible_agents, observations)}

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[dict[str, np.ndarray], dict[str, dict[str, Any]]]:
        current = self.env.reset(seed=seed) if seed is not None else self.env.reset()
        self._current = current.observations
        self.agents = list(self.possible_agents)
        return self._dict(current.observations), {a: {} for a in self.agents}

    def step(self, actions: Mapping[str, Any]) -> tuple[dict[str, np.ndarray], dict[str, float],
                                                         dict[str, bool], dict[str, bool],
                                                         dict[str, dict[str, Any]]]:
        if not self.agents:
            raise InvalidArgumentError("the episode is over; call reset()")
        missing = [a for a in self.agents if a not in actions]
        if missing:
            raise InvalidArgumentError(f"no action for {missing}")
        joint = [torch.tensor([int(actions[a])], dtype=torch.int64) for a in self.possible_agents]
        step = self.env.step(joint)
        done = bool(step.terminated[0])
        observations = step.final_observations if done else step.observations
        self._current = observations
        rewards = {a: float(step.rewards[0, i]) for i, a in enumerate(self.possible_agents)}
        terminations = {a: done for a in self.possible_agents}
        truncations = {a: False for a in self.possible_agents}
        out = self._dict(observations)
        if done:
            self.agents = []
        return out, rewards, terminations, truncations, {a: {} for a in self.possible_agents}

    def state(self) -> np.ndarray:
        return torch.cat(list(self._current), 1)[0].cpu().numpy().astype(np.float32)

    def close(self) -> None:
        return None
