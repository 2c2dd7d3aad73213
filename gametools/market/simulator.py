"""A batched continuous double auction: ``B`` independent order-book markets of ``N`` agents.

Market rules
------------
Prices live on an integer tick grid ``[min_price, max_price]`` (price units = ticks x
``tick``). Every market keeps a limit order book with price-time priority: an incoming order
executes against the best resting order on the other side (highest bid / lowest ask, earliest
first among equal prices) at the *resting* order's price, as often as its quantity and the book
allow (partial fills); a limit order's unfilled remainder rests in the book, a market order's is
cancelled. Each time step one agent *arrives* in every market (drawn independently per market
with probabilities proportional to ``arrival_weights``); an arriving agent first cancels all its
resting orders, then submits new ones chosen by its strategy (a trader one order, a market maker
a ladder). With ``clear_after_trade`` every trade cancels all resting orders of its market, the
rule of Gode and Sunder's (1993) markets.

Valuations
----------
Agent ``i`` holds a position ``q`` in ``[position_low_i, position_high_i]`` (start 0) and a
vector of *marginal private values* ``pv[i, j]``, ``j = 0 .. 2Q - 1``, non-increasing in ``j``:
the unit that moves the position from ``q`` to ``q + 1`` is worth ``F + pv[i, q + Q]``, where
``F`` is the final fundamental (Wellman's background traders, e.g. Wah, Wright and Wellman
2017); with no fundamental (``F = 0``) a buyer's ``pv[i, Q + k]`` is its value of its
``(k+1)``-th unit and a seller's ``pv[i, Q - 1 - k]`` its cost of its ``(k+1)``-th unit (Gode and
Sunder's private-value market). The private value of a position is
``PV_i(q) = sum_{j=Q}^{Q+q-1} pv[i, j]`` (negated sum over ``Q+q .. Q-1`` for ``q < 0``).

The fundamental follows ``r_t = max(0, round(kappa rbar + (1 - kappa) r_{t-1} + u_t))``,
``u_t ~ N(0, shock_variance)``, ``r_0 = rbar`` (Wellman's mean-reverting process, rounded to the
grid); at time ``t`` traders estimate the final value as
``rbar + (1 - kappa)^(T - t) (r_t - rbar)``.

Informed traders
----------------
An agent marked ``informed`` receives, at the start of the episode, a private signal of the
final fundamental ``s_i = r_T + e_i``, ``e_i ~ N(0, signal_noise^2)`` (independent across agents
and markets), and values units at ``s_i`` instead of the public estimate (``s_i + pv``; informed
traders are usually given no private values, ``value_model = "none"``, so they trade only on
information, as the informed traders of Kyle (1985) and of Wellman's agent-based studies).
Unlike market makers (the other ``"none"`` agents, unbounded), informed traders keep their
position bounds.

Accounting
----------
Cash is kept in integer ticks, so every identity is exact: each agent's profit is
``cash_i + q_i r_T + PV_i(q_i)``; cash and positions are transfers, so
``sum_i profit_i = sum_i PV_i(q_i)``, the realised gains from trade, exactly. The maximum gains
from trade among agents with private values (market makers excluded) pair the k-th highest buy
unit value with the k-th lowest sell unit value while the first exceeds the second (the
competitive allocation; with non-increasing marginal values no agent both buys and sells in it);
the competitive equilibrium price is the midpoint of the interval of market-clearing prices.
Agents without private values (market makers, informed traders) are not part of that
allocation: their profits are transfers from the others.
*Allocative efficiency* is realised gains over that maximum (market makers can raise it above
1 by absorbing inventory). *Smith's alpha* (Smith 1962) is ``100 x`` the root-mean-square
deviation of transaction prices from the competitive price, in percent of that price;
``smith_alpha_early`` counts the units traded before half the competitive quantity had traded,
``smith_alpha_late`` the rest.

Two routes, one set of numbers
------------------------------
:meth:`MarketSimulator.run` plays all ``B`` markets either with batched torch operations, one
time step at a time (any device and any strategy: the reference route), or on the CPU with a
compiled numba kernel that plays every market's whole episode in one call (the library's ZI,
ladder market-maker, informed and scheduled strategies; ``backend="auto"`` takes it when it
applies). Each arrival's random numbers (the side coin and the price draw) are drawn in batch
before the episode, ``(B, T, 2)`` uniforms from the simulator's generator after the values,
arrivals, fundamental and signals, so both routes read the same numbers and, doing the same
floating-point operations, return the same accounts and statistics bit for bit.

References: Gode and Sunder (1993), JPE 101(1); Cliff (1997), HP Labs HPL-97-91; Wah, Wright and
Wellman (2017), JAAMAS 31; Smith (1962), JPE 70(2).
"""

from __future__ import annotations

import math
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import torch

from gametools.errors import InvalidArgumentError
from gametools.limits import check_memory
from gametools.market._kernel import (
    NUMBA_AVAILABLE,
    STATISTIC_COLUMNS,
    competitive_allocation,
    fundamental_paths,
    play_markets,
    round_sort_rows,
    sort_rows_descending,
)

if TYPE_CHECKING:
    from gametools.market.strategies import Strategy

__all__ = ["MarketConfig", "ArrivalView", "Pause", "Orders", "MarketEvent", "EpisodeStatistics",
           "MarketSimulator", "simulate", "simulate_profiles", "position_values",
           "mean_and_error", "STATISTICS", "BACKENDS"]

#: How :meth:`MarketSimulator.run` plays (see :class:`MarketSimulator`).
BACKENDS = ("auto", "compiled", "torch")

# per-episode statistics reported by :func:`simulate`, in a fixed order
STATISTICS = ("surplus", "max_surplus", "allocative_efficiency", "volume", "trades",
              "price_rmsd_fundamental", "price_rmsd_final", "price_rmsd_equilibrium",
              "smith_alpha",
              "smith_alpha_early", "smith_alpha_late", "spread", "mean_abs_inventory")


@dataclass(frozen=True)
class MarketConfig:
    """A market design: agents, roles, valuations and rules (shared by all ``B`` markets).

    Attributes
    ----------
    roles : tuple of str
        Role names.
    agent_roles : tuple of int, length N
        Role index of every agent.
    n_arrivals : int
        Time steps per episode ``T`` (one arrival per market per step).
    min_price, max_price : int
        The tick grid.
    tick : float
        Price units per tick (statistics are reported in price units).
    max_units : int
        ``Q``: marginal values are stored for positions ``-Q .. Q``.
    position_low, position_high : tuple of int, length N
        Position bounds of every agent.
    fixed_side : tuple of int, length N
        ``+1`` buyer only, ``-1`` seller only, ``0`` either.
    value_model : {"units", "wellman", "none"} per agent
        ``units``: unit values (buyers) or costs (sellers) drawn uniformly from
        ``[value_low, value_high]`` per episode, sorted; ``wellman``: ``pv`` = ``2Q`` draws from
        ``N(0, private_variance)`` sorted in decreasing order; ``none``: ``pv = 0`` (market
        makers).
    arrival_weights : tuple of float, length N
    fundamental : bool
        Whether a fundamental process runs (otherwise ``F = 0``).
    default_strategies : tuple of str
        The strategy name each role plays unless told otherwise (one per role).
    informed : tuple of bool, length N or empty
        Which agents receive a signal of the final fundamental (see the module docstring;
        empty: nobody). Needs ``fundamental``.
    signal_noise : float
        Standard deviation of the informed traders' signal noise, in ticks.
    """

    roles: tuple[str, ...]
    agent_roles: tuple[int, ...]
    n_arrivals: int
    min_price: int
    max_price: int
    max_units: int
    position_low: tuple[int, ...]
    position_high: tuple[int, ...]
    fixed_side: tuple[int, ...]
    value_model: tuple[str, ...]
    arrival_weights: tuple[float, ...]
    tick: float = 1.0
    value_low: int = 1
    value_high: int = 200
    fundamental: bool = False
    mean_fundamental: int = 0
    mean_reversion: float = 0.05
    shock_variance: float = 0.0
    private_variance: float = 0.0
    clear_after_trade: bool = False
    default_strategies: tuple[str, ...] = field(default_factory=tuple)
    informed: tuple[bool, ...] = field(default_factory=tuple)
    signal_noise: float = 0.0

    def __post_init__(self) -> None:
        n = len(self.agent_roles)
        if n < 2:
            raise InvalidArgumentError(f"a market needs at least 2 agents, got {n}")
        for name in ("position_low", "position_high", "fixed_side", "value_model",
                     "arrival_weights"):
            if len(getattr(self, name)) != n:
                raise InvalidArgumentError(f"MarketConfig.{name} needs one entry per agent ({n})")
        if any(not 0 <= r < len(self.roles) for r in self.agent_roles):
            raise InvalidArgumentError("MarketConfig.agent_roles holds an unknown role index")
        if self.n_arrivals < 1:
            raise InvalidArgumentError(f"n_arrivals must be >= 1, got {self.n_arrivals}")
        if not 0 <= self.min_price < self.max_price:
            raise InvalidArgumentError("the price grid needs 0 <= min_price < max_price")
        for i in range(n):
            if not -self.max_units <= self.position_low[i] <= 0 <= self.position_high[i] \
                    <= self.max_units and self.value_model[i] != "none":
                raise InvalidArgumentError(f"agent {i}: position bounds must lie in "
                                           f"[-max_units, max_units] around 0")
        if any(w < 0 or not math.isfinite(w) for w in self.arrival_weights) or \
                sum(self.arrival_weights) <= 0:
            raise InvalidArgumentError("arrival_weights must be finite, >= 0, not all 0")
        if self.default_strategies and len(self.default_strategies) != len(self.roles):
            raise InvalidArgumentError("MarketConfig.default_strategies needs one name per role")
        if not 0.0 <= self.mean_reversion <= 1.0:
            raise InvalidArgumentError("mean_reversion must be in [0, 1]")
        if self.informed:
            if len(self.informed) != n:
                raise InvalidArgumentError(f"MarketConfig.informed needs one entry per agent "
                                           f"({n}) or none")
            if any(self.informed) and not self.fundamental:
                raise InvalidArgumentError("informed traders need a fundamental "
                                           "(fundamental=True)")
            for i in range(n):
                if self.informed[i] and not self.position_low[i] <= 0 <= self.position_high[i]:
                    raise InvalidArgumentError(f"agent {i}: position bounds must lie around 0")
        if not (self.signal_noise >= 0 and math.isfinite(self.signal_noise)):
            raise InvalidArgumentError(f"signal_noise must be finite and >= 0, got "
                                       f"{self.signal_noise}")

    @property
    def num_agents(self) -> int:
        return len(self.agent_roles)

    def is_informed(self, agent: int) -> bool:
        """Whether ``agent`` receives a signal of the final fundamental."""
        return bool(self.informed) and bool(self.informed[agent])

    def agents_of(self, role: int | str) -> list[int]:
        """The agents holding ``role`` (an index or a name), in agent order."""
        index = self.roles.index(role) if isinstance(role, str) else role
        return [i for i, r in enumerate(self.agent_roles) if r == index]


@dataclass
class ArrivalView:
    """What the strategy of the arriving agents sees (``M`` markets, one arriving agent each).

    Prices are float ticks; ``best_bid`` is ``-inf`` on an empty bid side, ``best_ask`` ``+inf``.
    """

    markets: torch.Tensor         # (M,) int64 market indices
    agents: torch.Tensor          # (M,) int64 arriving agent
    time: int
    buy_value: torch.Tensor       # (M,) float64: F_hat + pv[q + Q] (unit value of one more)
    sell_value: torch.Tensor      # (M,) float64: F_hat + pv[q - 1 + Q] (unit value given up)
    can_buy: torch.Tensor         # (M,) bool
    can_sell: torch.Tensor        # (M,) bool
    fixed_side: torch.Tensor      # (M,) int64
    position: torch.Tensor        # (M,) int64
    # (M,) float64: the agent's estimate of the final fundamental (an informed trader's signal)
    fundamental_estimate: torch.Tensor
    best_bid: torch.Tensor        # (M,) float64
    best_ask: torch.Tensor        # (M,) float64
    min_price: int
    max_price: int
    tick: float
    generator: torch.Generator
    # (M, 2) float64 uniforms of these arrivals, drawn in batch before the episode: the side
    # coin and the price draw of the library's strategies (None: draw from ``generator``)
    draws: torch.Tensor | None = None


@dataclass
class Pause:
    """An episode paused before an external strategy acts (see :meth:`MarketSimulator.episode`).

    ``view`` is what the arriving agents see; ``cash`` and ``position`` ``(B, N)`` int64 are the
    live accounts of every market (read them, do not write them).
    """

    view: ArrivalView
    cash: torch.Tensor
    position: torch.Tensor


@dataclass
class Orders:
    """Up to ``K`` new orders per arriving agent: side ``+1`` buy / ``-1`` sell / ``0`` none.

    A *post-only* limit order rests in the book if it does not cross the other side and is
    dropped if it does (it never takes liquidity; the rule exchanges offer market makers). The
    post-only orders of an arrival are placed together after its other orders.
    """

    side: torch.Tensor            # (M, K) int64
    price: torch.Tensor           # (M, K) int64 ticks (ignored for market orders)
    quantity: torch.Tensor        # (M, K) int64 >= 0
    market_order: torch.Tensor    # (M, K) bool
    post_only: torch.Tensor | None = None  # (M, K) bool: rest or drop, never take

    @staticmethod
    def single(side: torch.Tensor, price: torch.Tensor, quantity: torch.Tensor | None = None,
               market_order: torch.Tensor | None = None) -> Orders:
        """One order per arriving agent (``(M,)`` tensors)."""
        if quantity is None:
            quantity = (side != 0).to(torch.int64)
        if market_order is None:
            market_order = torch.zeros_like(side, dtype=torch.bool)
        return Orders(side[:, None], price[:, None], quantity[:, None], market_order[:, None])


@dataclass
class MarketEvent:
    """One arrival's public outcome in every market (for learning strategies such as ZIP).

    In Cliff's (1997) terms: ``shout_side`` is the side of the last shout (``+1`` bid, ``-1``
    offer, ``0`` none) and ``accepted`` whether it was accepted. When the arriving order trades,
    the accepted shout is the resting order it hit (side opposite to the arriving order's) and
    ``shout_price`` the trade price; otherwise the arriving order is the shout.
    """

    shout_price: torch.Tensor     # (B,) float64 ticks
    shout_side: torch.Tensor      # (B,) int64
    accepted: torch.Tensor        # (B,) bool


@dataclass(frozen=True)
class EpisodeStatistics:
    """Per-episode results of ``B`` markets (one episode each), numpy arrays.

    ``values`` maps each name of :data:`STATISTICS` to a ``(B,)`` float array (price units; NaN
    where undefined, e.g. no trade); ``profits`` is ``(B, N)`` in price units, ``cash_ticks``,
    ``positions``, ``gains_ticks`` (realised gains from trade, ``(B,)``) are the exact integer
    accounts. ``assignment`` ``(B, N)`` indexes ``strategy_set``, the names of the strategies
    played; ``strategies`` names the strategy of each agent in the first market.
    ``traded_units`` ``(B, N)`` counts the units each agent bought plus sold.
    """

    config: MarketConfig
    strategies: tuple[str, ...]
    values: dict[str, np.ndarray]
    profits: np.ndarray
    profit_ticks: np.ndarray
    cash_ticks: np.ndarray
    positions: np.ndarray
    gains_ticks: np.ndarray
    assignment: np.ndarray
    strategy_set: tuple[str, ...]
    traded_units: np.ndarray

    @property
    def episodes(self) -> int:
        return int(self.profits.shape[0])

    def summary(self) -> dict[str, dict[str, float | int]]:
        """Mean, standard error and count of every per-episode statistic over the episodes
        where it is defined: the :data:`STATISTICS`, per role ``profit_<role>`` (mean profit
        per agent of the role), ``volume_<role>`` (mean units bought plus sold per agent) and
        ``inventory_<role>`` (mean absolute final position per agent),
        ``profit_strategy_<name>``, and ``accounting_error`` (``sum of profits - realised
        gains``, in ticks; 0 exactly)."""
        columns: dict[str, np.ndarray] = dict(self.values)
        for role, values in self.role_profits().items():
            columns[f"profit_{role}"] = values
        for r, role in enumerate(self.config.roles):
            members = self.config.agents_of(r)
            if members:
                columns[f"volume_{role}"] = self.traded_units[:, members].mean(axis=1)
                columns[f"inventory_{role}"] = np.abs(self.positions[:, members]).mean(axis=1)
        for name, values in self.strategy_profits().items():
            columns[f"profit_strategy_{name}"] = values
        columns["accounting_error"] = (self.profit_ticks.sum(1) - self.gains_ticks).astype(
            np.float64)
        return {name: mean_and_error(values) for name, values in columns.items()}

    def role_profits(self) -> dict[str, np.ndarray]:
        """Mean profit per agent of each role, ``(B,)`` per role present."""
        out = {}
        for r, role in enumerate(self.config.roles):
            members = self.config.agents_of(r)
            if members:
                out[role] = self.profits[:, members].mean(axis=1)
        return out

    def strategy_profits(self) -> dict[str, np.ndarray]:
        """Mean profit per agent playing each strategy, ``(B,)`` per strategy (NaN in an
        episode where nobody plays it)."""
        out = {}
        for k, name in enumerate(self.strategy_set):
            playing = self.assignment == k
            count = playing.sum(axis=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                out[name] = np.where(count > 0, (self.profits * playing).sum(axis=1)
                                     / np.maximum(count, 1), np.nan)
        return out


def mean_and_error(values: np.ndarray) -> dict[str, float | int]:
    """``{"mean", "stderr", "n"}`` over the finite entries (NaN mean / error when too few)."""
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    n = int(finite.size)
    mean = float(finite.mean()) if n else float("nan")
    stderr = float(finite.std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan")
    return {"mean": mean, "stderr": stderr, "n": n}


_NO_KEY = torch.iinfo(torch.int64).min
_NO_MAX = torch.iinfo(torch.int64).max
_SENTINEL = 1 << 60


@dataclass
class _Book:
    """``B`` limit order books over a fixed set of slots (see :meth:`MarketSimulator.run`).

    A resting order's slot holds its price and remaining quantity and, in the key tensor of its
    side, its priority key (higher = better for a counterparty: price first, then earlier time);
    every other slot holds ``_NO_KEY`` there. Keys are unique, and a key names its order's time
    stamp ``t K + k`` (``k``-th order of the arrival at step ``t``), hence its slot
    ``slot_start[arrivals[market, t]] + k``: the best bid and the best ask are one row-wise
    ``amax`` each, and every update touches only the slots of the markets concerned (flat
    indices ``market * S + slot``).
    """

    price: torch.Tensor        # (B, S) int64 ticks
    quantity: torch.Tensor     # (B, S) int64 >= 0 remaining
    bid_key: torch.Tensor      # (B, S) int64: price * scale - time, or _NO_KEY
    ask_key: torch.Tensor      # (B, S) int64: -price * scale - time, or _NO_KEY
    scale: int                 # exceeds every time stamp
    arrivals: torch.Tensor     # (B, T) int64: who arrives at each step
    slot_start: torch.Tensor   # (N,) int64: each agent's first slot
    orders: int                # K: time stamps per arrival

    @property
    def slots(self) -> int:
        return int(self.price.shape[1])

    def best(self, markets: torch.Tensor | None = None
             ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Best bid key and flat slot index, best ask key and flat slot index, ``(M,)`` each
        (all markets when None); a key of ``_NO_KEY`` marks an empty side (its index is any
        valid slot of the market)."""
        bid, ask = self.bid_key, self.ask_key
        if markets is None:
            markets = torch.arange(bid.shape[0], device=bid.device)
        else:
            bid, ask = bid.index_select(0, markets), ask.index_select(0, markets)
        bid_top = bid.amax(1)
        ask_top = ask.amax(1)
        return bid_top, self._flat(bid_top, markets), ask_top, self._flat(ask_top, markets)

    def _flat(self, key: torch.Tensor, markets: torch.Tensor) -> torch.Tensor:
        steps = self.arrivals.shape[1]
        # -key = -+price * scale + time, so time = (-key) mod scale (also for _NO_KEY: some
        # valid stamp, whose slot is never filled since no key exceeds a threshold)
        time = torch.remainder(-key, self.scale)
        step = torch.div(time, self.orders, rounding_mode="floor").clamp(max=steps - 1)
        agent = self.arrivals.view(-1).index_select(0, markets * steps + step)
        slot = (self.slot_start.index_select(0, agent) + time % self.orders).clamp(
            max=self.slots - 1)
        return markets * self.slots + slot

    def prices(self, flat: torch.Tensor, top: torch.Tensor, empty: float) -> torch.Tensor:
        """Float prices at flat slot indices; ``empty`` where ``top`` is ``_NO_KEY``."""
        return torch.where(top != _NO_KEY, self.price.view(-1).index_select(0, flat).to(
            torch.float64), empty)

    def place(self, flat: torch.Tensor, side: torch.Tensor, price: torch.Tensor,
              quantity: torch.Tensor, time: torch.Tensor | int) -> None:
        """Rest orders at flat slot indices (distinct)."""
        key = side * price * self.scale - time
        self.price.view(-1).index_copy_(0, flat, price)
        self.quantity.view(-1).index_copy_(0, flat, quantity)
        self.bid_key.view(-1).index_copy_(0, flat, torch.where(side > 0, key, _NO_KEY))
        self.ask_key.view(-1).index_copy_(0, flat, torch.where(side < 0, key, _NO_KEY))

    def clear(self, markets: torch.Tensor | None, slots: torch.Tensor) -> None:
        """Empty ``slots`` ``(M, J)`` of ``markets`` (all when None; repeats allowed)."""
        for tensor, value in ((self.quantity, 0), (self.bid_key, _NO_KEY),
                              (self.ask_key, _NO_KEY)):
            if markets is None:
                tensor.scatter_(1, slots, value)
            else:
                tensor.view(-1).scatter_(0, (markets[:, None] * self.slots + slots).view(-1),
                                         value)


@dataclass
class _Prepared:
    """One strategy's orders for its ``M`` markets, ready for the book (``(M, K)``)."""

    side: torch.Tensor
    limit: torch.Tensor          # limit price (market orders: the grid's far end)
    quantity: torch.Tensor       # what goes to matching (bounded by the position limits)
    market: torch.Tensor         # market orders (their remainder does not rest)
    post: torch.Tensor           # post-only quantity
    posts: bool                  # any post-only quantity
    shout_side: torch.Tensor     # (M,) the last order sent to matching, 0 if none
    shout_price: torch.Tensor    # (M,) float64


@dataclass
class _Setup:
    """An episode's draws and what follows from them (:meth:`MarketSimulator._setup`)."""

    private_values: torch.Tensor  # (B, N, 2Q) int64
    max_gain: torch.Tensor        # (B,) int64
    ce_offset: torch.Tensor       # (B,) float64 competitive price (minus the fundamental)
    half_quantity: torch.Tensor   # (B,) float64 half the competitive quantity
    arrivals: torch.Tensor        # (B, T) int64
    path: torch.Tensor            # (B, T) float64 fundamental (zeros without one)
    final: torch.Tensor           # (B,) float64
    informed: torch.Tensor        # (N,) bool
    signal: torch.Tensor | None   # (B, N) float64 informed traders' signals
    draws: torch.Tensor           # (B, T, 2) float64 uniforms of every arrival
    low: torch.Tensor             # (N,) int64 position bounds (market makers': unbounded)
    high: torch.Tensor


@dataclass
class _Ledger:
    """Accounts and running statistics updated by each fill."""

    cash: torch.Tensor
    position: torch.Tensor
    traded: torch.Tensor
    # per matching round, in time order: its step and every market's fill and price (0 where
    # the market did not trade); the price statistics are computed from it after the episode
    fills: list[torch.Tensor]
    prices: list[torch.Tensor]
    steps: list[int]


class MarketSimulator:
    """``B`` markets of one design run in lockstep; :meth:`run` plays one episode in each.

    Parameters
    ----------
    config : MarketConfig
    strategies : sequence of Strategy, length N
        Agent ``i`` plays ``strategies[i]`` (instances may be shared between agents).
    num_markets : int
    seed : int
    device : str or torch.device
    profiles : sequence of strategy sequences, optional
        Several profiles, each played in an equal block of markets (see
        :func:`simulate_profiles`).
    backend : {"auto", "compiled", "torch"}
        How :meth:`run` plays: ``compiled`` one numba kernel call for all markets and steps
        (CPU; the library's ZI, ladder market-maker, informed and scheduled strategies:
        :meth:`Strategy.compiled_rule`), ``torch`` batched
        tensor operations step by step (any device and strategy; the reference), ``auto`` the
        compiled kernel when it applies and numba is installed, torch otherwise. Both give the
        same numbers for the same seed (:meth:`episode`, the learners' pausing view, is torch
        always).
    """

    def __init__(self, config: MarketConfig, strategies: Sequence[Strategy], *,
                 num_markets: int, seed: int = 0, device: str | torch.device = "cpu",
                 profiles: Sequence[Sequence[Strategy]] | None = None,
                 backend: str = "auto") -> None:
        if num_markets < 1:
            raise InvalidArgumentError(f"num_markets must be >= 1, got {num_markets}")
        if backend not in BACKENDS:
            raise InvalidArgumentError(f"unknown market backend {backend!r}; backends: "
                                       f"{', '.join(BACKENDS)}")
        groups = [list(strategies)] if profiles is None else [list(p) for p in profiles]
        if not groups or num_markets % len(groups):
            raise InvalidArgumentError(f"num_markets ({num_markets}) must be a multiple of the "
                                       f"number of profiles ({len(groups)})")
        for group in groups:
            if len(group) != config.num_agents:
                raise InvalidArgumentError(f"need one strategy per agent ({config.num_agents}), "
                                           f"got {len(group)}")
        self.config = config
        self.device = torch.device(device)
        self.num_markets = int(num_markets)
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(int(seed))
        # distinct strategy objects, in first-use order; (market, agent) -> strategy index
        self.strategy_objects: list[Strategy] = []
        index = np.zeros((len(groups), config.num_agents), dtype=np.int64)
        for g, group in enumerate(groups):
            for i, strategy in enumerate(group):
                for k, known in enumerate(self.strategy_objects):
                    if known is strategy:
                        index[g, i] = k
                        break
                else:
                    self.strategy_objects.append(strategy)
                    index[g, i] = len(self.strategy_objects) - 1
                allowed = strategy.roles
                role = config.roles[config.agent_roles[i]]
                if allowed is not None and role not in allowed:
                    raise InvalidArgumentError(f"strategy {strategy.name!r} cannot play role "
                                               f"{role!r} (it plays {list(allowed)})")
        slots = [max(self.strategy_objects[k].max_orders for k in set(index[:, i].tolist()))
                 for i in range(config.num_agents)]
        # int64 words per market: the book and its per-step temporaries, per-agent cash,
        # positions, values and strategy state, and the arrival schedule, fundamental path,
        # fill log and its statistics
        words = 16 * sum(slots) + 80 * config.num_agents + 14 * config.n_arrivals + 64
        check_memory(8.0 * words * num_markets, f"{num_markets} markets of this design")
        per_market = np.repeat(index, num_markets // len(groups), axis=0)
        self.assignment = per_market
        self.agent_strategy = torch.tensor(per_market, dtype=torch.int64, device=self.device)
        self.strategy_names = tuple(self.strategy_objects[k].name for k in index[0])
        self.slot_start = torch.tensor(np.concatenate([[0], np.cumsum(slots)[:-1]]),
                                       dtype=torch.int64, device=self.device)
        self.num_slots = int(sum(slots))
        self.max_orders = max(slots)
        self.owner = torch.tensor(np.repeat(np.arange(config.num_agents), slots),
                                  dtype=torch.int64, device=self.device)
        self.slot_count = torch.tensor(slots, dtype=torch.int64, device=self.device)
        # priority keys are price * scale - time in int64
        scale = (config.n_arrivals + 1) * self.max_orders + 1
        if (config.max_price + 2) * scale >= 2 ** 62:
            raise InvalidArgumentError(
                f"max_price ({config.max_price}) x arrivals ({config.n_arrivals}) x orders per "
                f"arrival ({self.max_orders}) is too large for 64-bit order priorities")
        self.compiled_rules = self._compiled_rules()
        if backend == "compiled":
            if self.compiled_rules is None:
                others = sorted({s.name for s in self.strategy_objects
                                 if s.compiled_rule() is None})
                raise InvalidArgumentError(
                    "the compiled market backend plays only the library's zi, mm, informed "
                    "strategies and one scheduled strategy; use backend='torch' for "
                    + (", ".join(others) if others else "several scheduled strategies"))
            if self.device.type != "cpu":
                raise InvalidArgumentError("the compiled market backend runs on the CPU; use "
                                           "backend='torch' on " + str(self.device))
            if not NUMBA_AVAILABLE:
                raise InvalidArgumentError("the compiled market backend needs numba "
                                           "(pip install numba); use backend='torch'")
        #: the route :meth:`run` takes, ``"compiled"`` or ``"torch"``
        self.backend = "compiled" if backend == "compiled" or (
            backend == "auto" and self.compiled_rules is not None
            and self.device.type == "cpu" and NUMBA_AVAILABLE) else "torch"

    def _compiled_rules(self) -> np.ndarray | None:
        """``(R, 4)`` int64 kernel rules of the strategy objects, None if one has none (or
        more than one strategy brings a schedule)."""
        rules = [s.compiled_rule() for s in self.strategy_objects]
        schedules = [s for s in self.strategy_objects if s.compiled_schedule() is not None]
        if any(r is None for r in rules) or len(schedules) > 1:
            return None
        self.schedule = np.zeros((1, 1, 1, 5), dtype=np.int64)
        if schedules:
            table = schedules[0].compiled_schedule()
            assert table is not None
            self.schedule = table.cpu().numpy()
        return np.array(rules, dtype=np.int64).reshape(len(rules), 4)

    # ------------------------------------------------------------------ episode set-up
    def _private_values(self) -> torch.Tensor:
        """``(B, N, 2Q)`` int64 marginal private values, non-increasing along the last axis."""
        c, b, q = self.config, self.num_markets, self.config.max_units
        pv = torch.zeros(b, c.num_agents, 2 * q, dtype=torch.int64, device=self.device)
        units = [i for i, m in enumerate(c.value_model) if m == "units"]
        if units:
            draws = torch.randint(c.value_low, c.value_high + 1, (b, len(units), q),
                                  generator=self.generator, device=self.device)
            buyer = torch.tensor([c.fixed_side[i] > 0 for i in units], device=self.device)
            values = self._sorted(draws)  # units 1..Q, decreasing
            costs = values.flip(2)        # units 1..Q, increasing
            # a buyer's value of unit k+1 at Q + k (positions below 0 repeat the first value);
            # a seller's cost of unit k+1 at Q - 1 - k (positions above 0 repeat the first cost)
            as_buyer = torch.cat([values[:, :, :1].expand(b, len(units), q), values], 2)
            as_seller = torch.cat([costs.flip(2), costs[:, :, :1].expand(b, len(units), q)], 2)
            pv[:, units] = torch.where(buyer[None, :, None], as_buyer, as_seller)
        wellman = [i for i, m in enumerate(c.value_model) if m == "wellman"]
        if wellman:
            draws = torch.randn(b, len(wellman), 2 * q, generator=self.generator,
                                device=self.device, dtype=torch.float64)
            scale = math.sqrt(c.private_variance)
            if self.backend == "compiled":  # the same numbers in one pass
                pv[:, wellman] = torch.from_numpy(round_sort_rows(draws.numpy(), scale))
            else:
                pv[:, wellman] = self._sorted((draws * scale).round().to(torch.int64))
        return pv

    def _sorted(self, values: torch.Tensor) -> torch.Tensor:
        """Integers ``values`` sorted in decreasing order along the last axis (the compiled
        route sorts the short rows in numba; integers sort to the same numbers either way)."""
        if self.backend == "compiled":
            return torch.from_numpy(sort_rows_descending(values.contiguous().numpy().copy()))
        return torch.sort(values, dim=-1, descending=True).values

    def _competitive(self, pv: torch.Tensor
                     ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Maximum gains from trade ``(B,)`` int64, the competitive price offset ``(B,)`` and
        the competitive quantity ``(B,)``."""
        c, q = self.config, self.config.max_units
        traders = [m != "none" for m in c.value_model]
        high = torch.tensor([h if t else 0 for h, t in zip(c.position_high, traders)],
                            device=self.device)
        low = torch.tensor([lo if t else 0 for lo, t in zip(c.position_low, traders)],
                           device=self.device)
        b = pv.shape[0]
        if not bool((high > 0).any()) or not bool((low < 0).any()):
            zero = torch.zeros(b, dtype=torch.int64, device=self.device)
            return zero, torch.full((b,), float("nan"), dtype=torch.float64,
                                    device=self.device), zero
        if self.backend == "compiled":
            gain_, offset_, quantity_ = competitive_allocation(pv.numpy(), high.numpy(),
                                                               (-low).numpy())
            return (torch.from_numpy(gain_), torch.from_numpy(offset_),
                    torch.from_numpy(quantity_))
        # units an agent cannot trade get sentinels that sort last and never pair
        j = torch.arange(q, device=self.device)
        buy_units = torch.where((j[None, :] < high[:, None])[None], pv[:, :, q:], -_SENTINEL)
        sell_units = torch.where((j[None, :] >= (q + low)[:, None])[None], pv[:, :, :q],
                                 _SENTINEL)
        d = torch.sort(buy_units.reshape(b, -1), dim=1, descending=True).values
        s = torch.sort(sell_units.reshape(b, -1), dim=1).values
        k = min(d.shape[1], s.shape[1])
        gain = (d[:, :k] - s[:, :k]).clamp(min=0)
        trades = (d[:, :k] > s[:, :k]).sum(1)  # efficient quantity
        max_gain = gain.sum(1)
        df, sf = d.to(torch.float64), s.to(torch.float64)
        pad_d = torch.cat([df, torch.full((b, 1), -math.inf, device=self.device,
                                          dtype=torch.float64)], 1)
        pad_s = torch.cat([sf, torch.full((b, 1), math.inf, device=self.device,
                                          dtype=torch.float64)], 1)
        last = (trades - 1).clamp(min=0)[:, None]
        # clearing prices p: D_{k*} >= p >= S_{k*} for the k* traded units, and no further
        # unit wants to trade: p >= D_{k*+1}, p <= S_{k*+1} (with no trade: D_1 <= p <= S_1)
        none = trades == 0
        low = torch.maximum(pad_d.gather(1, trades[:, None])[:, 0],
                            torch.where(none, -math.inf, sf.gather(1, last)[:, 0]))
        high = torch.minimum(pad_s.gather(1, trades[:, None])[:, 0],
                             torch.where(none, math.inf, df.gather(1, last)[:, 0]))
        return max_gain, 0.5 * (low + high), trades

    # ------------------------------------------------------------------ one episode
    def run(self, *, arrivals: torch.Tensor | None = None) -> EpisodeStatistics:
        """Play one episode in every market and return its statistics.

        Parameters
        ----------
        arrivals : tensor, shape (B, T), optional
            Who arrives in each market at each step (default: drawn from ``arrival_weights``).
        """
        if self.backend == "compiled":
            return self._run_compiled(arrivals)
        episode = self.episode(arrivals=arrivals)
        while True:
            try:
                next(episode)
            except StopIteration as finished:
                return finished.value  # type: ignore[no-any-return]

    def episode(self, *, arrivals: torch.Tensor | None = None
                ) -> Generator[Pause, None, EpisodeStatistics]:
        """One episode in every market as a generator: it yields a :class:`Pause` just before an
        *external* strategy (``Strategy.external``) chooses its orders, so that a learner can set
        them (the learning view, :mod:`gametools.market.env`), and returns the statistics.

        :meth:`run` is this generator driven to its end; without external strategies it never
        pauses. Parameters as :meth:`run`.
        """
        c, dev, gen = self.config, self.device, self.generator
        b, n, q, t_max = self.num_markets, c.num_agents, c.max_units, c.n_arrivals
        rows = torch.arange(b, device=dev)
        setup = self._setup(arrivals)
        pv, arrivals, path, draws = setup.private_values, setup.arrivals, setup.path, setup.draws
        low, high, informed, signal = setup.low, setup.high, setup.informed, setup.signal
        fixed = torch.tensor(c.fixed_side, dtype=torch.int64, device=dev)
        slots = self.num_slots
        book = _Book(torch.zeros(b, slots, dtype=torch.int64, device=dev),
                     torch.zeros(b, slots, dtype=torch.int64, device=dev),
                     torch.full((b, slots), _NO_KEY, dtype=torch.int64, device=dev),
                     torch.full((b, slots), _NO_KEY, dtype=torch.int64, device=dev),
                     (t_max + 1) * self.max_orders + 1, arrivals.contiguous(), self.slot_start,
                     self.max_orders)
        row_n = rows * n
        ladder = torch.arange(self.max_orders, device=dev)
        flat_pv = pv.reshape(-1)
        flat_strategy = self.agent_strategy.reshape(-1)
        single = len(self.strategy_objects) == 1
        cash = torch.zeros(b, n, dtype=torch.int64, device=dev)
        position = torch.zeros(b, n, dtype=torch.int64, device=dev)
        traded_units = torch.zeros(b, n, dtype=torch.int64, device=dev)
        fundamental = torch.zeros(b, dtype=torch.float64, device=dev)
        stats = {k: torch.zeros(b, dtype=torch.float64, device=dev) for k in (
            "spread_sum", "spread_n")}
        ledger = _Ledger(cash, position, traded_units, [], [], [])
        for t in range(t_max):
            if c.fundamental:
                fundamental = path[:, t]
                estimate = c.mean_fundamental + (1 - c.mean_reversion) ** (t_max - 1 - t) * (
                    fundamental - c.mean_fundamental)
            else:
                estimate = fundamental
            agent = arrivals[:, t]
            # the arriving agent withdraws all its resting orders (its own slots; slots past
            # its count repeat its last one)
            own = self.slot_start.index_select(0, agent)
            book.clear(None, own[:, None])
            if self.max_orders > 1:
                count = self.slot_count.index_select(0, agent)
                several = torch.nonzero(count > 1)[:, 0]
                if several.numel():
                    book.clear(several, own.index_select(0, several)[:, None] + torch.minimum(
                        ladder[None, :], (count.index_select(0, several) - 1)[:, None]))
            top = book.best()
            bid_top, bid_at, ask_top, ask_at = top
            best_bid = book.prices(bid_at, bid_top, -math.inf)
            best_ask = book.prices(ask_at, ask_top, math.inf)
            both = (bid_top != _NO_KEY) & (ask_top != _NO_KEY)
            stats["spread_sum"] += torch.where(both, best_ask - best_bid, 0.0)
            stats["spread_n"] += both.to(torch.float64)

            cell = row_n + agent  # flat (market, agent) index
            pos = position.view(-1).index_select(0, cell)
            if signal is not None:
                estimate = torch.where(informed.index_select(0, agent),
                                       signal.view(-1).index_select(0, cell), estimate)
            # flat indices of pv[market, agent, q + pos] and pv[market, agent, q + pos - 1]
            buy_value = estimate + flat_pv.index_select(
                0, cell * (2 * q) + (pos + q).clamp(0, 2 * q - 1)).to(torch.float64)
            sell_value = estimate + flat_pv.index_select(
                0, cell * (2 * q) + (pos - 1 + q).clamp(0, 2 * q - 1)).to(torch.float64)
            can_buy = pos < high.index_select(0, agent)
            can_sell = pos > low.index_select(0, agent)
            high_agent = high.index_select(0, agent)
            low_agent = low.index_select(0, agent)
            which = None if single else flat_strategy.index_select(0, cell)
            step_draws = draws[:, t]
            # each strategy's orders, (M, width) for its M markets
            parts: list[tuple[torch.Tensor | None, _Prepared]] = []
            for k, strategy in enumerate(self.strategy_objects):
                if which is None:
                    idx: torch.Tensor | None = None
                    view = ArrivalView(rows, agent, t, buy_value, sell_value, can_buy,
                                       can_sell, fixed.index_select(0, agent), pos, estimate,
                                       best_bid, best_ask, c.min_price, c.max_price, c.tick,
                                       gen, step_draws)
                else:
                    idx = torch.nonzero(which == k)[:, 0]
                    if idx.numel() == 0:
                        continue
                    arriving = agent.index_select(0, idx)
                    (buy_k, sell_k, can_buy_k, can_sell_k, pos_k, estimate_k, bid_k,
                     ask_k) = (x.index_select(0, idx) for x in (
                         buy_value, sell_value, can_buy, can_sell, pos, estimate, best_bid,
                         best_ask))
                    view = ArrivalView(idx, arriving, t, buy_k, sell_k, can_buy_k, can_sell_k,
                                       fixed.index_select(0, arriving), pos_k, estimate_k,
                                       bid_k, ask_k, c.min_price, c.max_price, c.tick, gen,
                                       step_draws.index_select(0, idx))
                if strategy.external:
                    yield Pause(view, cash, position)
                orders = strategy.orders(view)
                if idx is None:
                    parts.append((None, self._prepare(orders, pos, high_agent, low_agent)))
                else:
                    parts.append((idx, self._prepare(orders, pos.index_select(0, idx),
                                                     high_agent.index_select(0, idx),
                                                     low_agent.index_select(0, idx))))
            # every market's first order, then the later orders of the markets that have them
            if len(parts) == 1 and parts[0][0] is None:
                first = parts[0][1]
                side0, limit0, qty0, market0 = (first.side[:, 0], first.limit[:, 0],
                                                first.quantity[:, 0], first.market[:, 0])
                shout_side, shout_price = first.shout_side, first.shout_price
            else:
                side0 = torch.zeros(b, dtype=torch.int64, device=dev)
                limit0, qty0 = torch.zeros_like(side0), torch.zeros_like(side0)
                market0 = torch.zeros(b, dtype=torch.bool, device=dev)
                shout_side = torch.zeros_like(side0)
                shout_price = torch.zeros(b, dtype=torch.float64, device=dev)
                for idx, part in parts:
                    assert idx is not None
                    for full, mine in ((side0, part.side[:, 0]), (limit0, part.limit[:, 0]),
                                       (qty0, part.quantity[:, 0]),
                                       (market0, part.market[:, 0]),
                                       (shout_side, part.shout_side),
                                       (shout_price, part.shout_price)):
                        full.index_copy_(0, idx, mine)
            hit, hit_price = self._submit(book, ledger, None, agent, side0, limit0, qty0,
                                          ~market0, t * self.max_orders, top)
            traded = hit
            # the accepted shout is the resting order hit, on the other side
            shout_price = torch.where(hit, hit_price, shout_price)
            shout_side = torch.where(hit, -side0, shout_side)
            for idx, part in parts:
                markets = rows if idx is None else idx
                for k in range(1, part.side.shape[1]):
                    local = torch.nonzero(part.quantity[:, k] > 0)[:, 0]
                    if local.numel() == 0:
                        continue
                    subset = markets.index_select(0, local)
                    side_k, limit_k, qty_k, rests_k = (
                        torch.zeros(b, dtype=x.dtype, device=dev).index_copy_(
                            0, subset, x.index_select(0, local))
                        for x in (part.side[:, k], part.limit[:, k], part.quantity[:, k],
                                  ~part.market[:, k]))
                    hit, hit_price = self._submit(book, ledger, subset, agent, side_k,
                                                  limit_k, qty_k, rests_k,
                                                  t * self.max_orders + k)
                    traded[subset] |= hit
                    shout_price[subset] = torch.where(hit, hit_price, shout_price[subset])
                    shout_side[subset] = torch.where(hit, -side_k[subset], shout_side[subset])
            if c.clear_after_trade:
                cleared = torch.nonzero(traded)[:, 0]
                if cleared.numel():
                    book.clear(cleared, torch.arange(slots, device=dev)[None, :].expand(
                        cleared.shape[0], slots))
            for idx, part in parts:
                if part.posts:
                    markets = rows if idx is None else idx
                    self._post(book, markets, agent.index_select(0, markets), part.side,
                               part.limit, part.post, t)
            event = MarketEvent(shout_price, shout_side, traded)
            for s in self.strategy_objects:
                s.observe(event, position, estimate)

        stats.update(_trade_statistics(ledger, path if c.fundamental else None, setup.final,
                                       setup.ce_offset, setup.half_quantity))
        return self._finish(setup, stats, cash, position, traded_units)

    def _setup(self, arrivals: torch.Tensor | None) -> _Setup:
        """Every random draw of an episode but ZIP's, in a fixed order, and what follows from
        them; then the strategies' :meth:`~Strategy.reset`."""
        c, dev, gen = self.config, self.device, self.generator
        b, n, t_max = self.num_markets, c.num_agents, c.n_arrivals
        pv = self._private_values()
        max_gain, ce_offset, ce_quantity = self._competitive(pv)
        weights = torch.tensor(c.arrival_weights, dtype=torch.float64, device=dev)
        cumulative = torch.cumsum(weights / weights.sum(), 0)
        uniform = torch.rand(b, t_max, generator=gen, device=dev, dtype=torch.float64)
        if self.backend == "compiled":  # numpy's binary search: the same side, faster
            drawn = torch.from_numpy(np.searchsorted(cumulative.numpy(), uniform.numpy(),
                                                     side="left")).clamp(max=n - 1)
        else:
            drawn = torch.searchsorted(cumulative, uniform).clamp(max=n - 1)
        if arrivals is None:
            arrivals = drawn
        elif tuple(arrivals.shape) != (b, t_max) or not bool(
                ((arrivals >= 0) & (arrivals < n)).all()):
            raise InvalidArgumentError(f"arrivals must be ({b}, {t_max}) agent indices")
        arrivals = arrivals.to(device=dev, dtype=torch.int64).contiguous()
        path = self._fundamental_path(b)
        final = path[:, -1] if c.fundamental else torch.zeros(b, dtype=torch.float64, device=dev)
        informed = torch.tensor([c.is_informed(i) for i in range(n)], device=dev)
        signal = None
        if bool(informed.any()):
            signal = final[:, None] + c.signal_noise * torch.randn(
                b, n, generator=gen, device=dev, dtype=torch.float64)
        # the side coin and the price draw of every arrival, in batch (the same numbers for
        # the torch route and the compiled kernel)
        draws = torch.rand(b, t_max, 2, generator=gen, device=dev, dtype=torch.float64)
        # market makers (no private values, not informed) hold unbounded positions
        unbounded = torch.tensor([m == "none" for m in c.value_model], device=dev) & ~informed
        low = torch.tensor(c.position_low, dtype=torch.int64, device=dev)
        high = torch.tensor(c.position_high, dtype=torch.int64, device=dev)
        low = torch.where(unbounded, torch.full_like(low, -(1 << 40)), low)
        high = torch.where(unbounded, torch.full_like(high, 1 << 40), high)
        for s in self.strategy_objects:
            s.reset(self, pv)
        # Smith's alpha early / late: trades before / after half the competitive quantity
        return _Setup(pv, max_gain, ce_offset, ce_quantity.to(torch.float64) / 2, arrivals,
                      path, final, informed, signal, draws, low, high)

    def _finish(self, setup: _Setup, stats: dict[str, torch.Tensor], cash: torch.Tensor,
                position: torch.Tensor, traded_units: torch.Tensor) -> EpisodeStatistics:
        c = self.config
        final_ticks = setup.final.to(torch.int64)
        no_values = torch.tensor([m == "none" for m in c.value_model], device=cash.device)
        private = torch.where(no_values[None, :], 0,
                              position_values(setup.private_values, position))
        profit = cash + position * final_ticks[:, None] + private
        gains = private.sum(1)
        return self._statistics(stats, profit, cash, position, gains, setup.max_gain,
                                traded_units)

    def _run_compiled(self, arrivals: torch.Tensor | None) -> EpisodeStatistics:
        """:meth:`run` by the numba kernel (:mod:`gametools.market._kernel`)."""
        c = self.config
        setup = self._setup(arrivals)
        assert self.compiled_rules is not None
        t_max = c.n_arrivals
        factor = np.array([(1 - c.mean_reversion) ** (t_max - 1 - t) for t in range(t_max)],
                          dtype=np.float64)
        signal = setup.signal if setup.signal is not None else torch.zeros(
            self.num_markets, c.num_agents, dtype=torch.float64)
        cash, position, traded, sums = play_markets(
            arrivals=setup.arrivals.numpy(), draws=setup.draws.numpy(),
            path=setup.path.numpy(), factor=factor, signal=signal.numpy(),
            informed=setup.informed.numpy(), private_values=setup.private_values.numpy(),
            low=setup.low.numpy(), high=setup.high.numpy(),
            fixed=np.array(c.fixed_side, dtype=np.int64),
            strategy_of=self.agent_strategy.numpy(), rules=self.compiled_rules,
            schedule=self.schedule,
            slot_start=self.slot_start.numpy(), slot_count=self.slot_count.numpy(),
            owner=self.owner.numpy(), max_orders=self.max_orders,
            scale=(t_max + 1) * self.max_orders + 1, min_price=c.min_price,
            max_price=c.max_price, mean_fundamental=c.mean_fundamental,
            fundamental=c.fundamental, clear_after_trade=c.clear_after_trade,
            final=setup.final.numpy(), ce_offset=setup.ce_offset.numpy(),
            half_quantity=setup.half_quantity.numpy())
        stats = {name: torch.from_numpy(np.ascontiguousarray(sums[:, j]))
                 for j, name in enumerate(STATISTIC_COLUMNS)}
        return self._finish(setup, stats, torch.from_numpy(cash), torch.from_numpy(position),
                            torch.from_numpy(traded))

    def _fundamental_path(self, b: int) -> torch.Tensor:
        """``(B, T)`` float64 fundamental ``r_1 .. r_T`` (integer-valued; zeros without a
        fundamental), drawn from the simulator's generator."""
        c, dev = self.config, self.device
        path = torch.zeros(b, c.n_arrivals, dtype=torch.float64, device=dev)
        if not c.fundamental:
            return path
        shocks = torch.randn(b, c.n_arrivals, generator=self.generator, device=dev,
                             dtype=torch.float64) * math.sqrt(c.shock_variance)
        if self.backend == "compiled":  # the same operations, market by market
            return torch.from_numpy(fundamental_paths(
                shocks.numpy(), c.mean_reversion * c.mean_fundamental, 1 - c.mean_reversion,
                float(c.mean_fundamental)))
        value = torch.full((b,), float(c.mean_fundamental), dtype=torch.float64, device=dev)
        for t in range(c.n_arrivals):
            value = (c.mean_reversion * c.mean_fundamental + (1 - c.mean_reversion) * value
                     + shocks[:, t]).round().clamp(min=0)
            path[:, t] = value
        return path

    def _prepare(self, orders: Orders, position: torch.Tensor, high: torch.Tensor,
                 low: torch.Tensor) -> _Prepared:
        """Clamp a strategy's orders ``(M, K)`` to the grid and the position bounds (an
        arrival's earlier orders count as if they had filled), split off the post-only ones,
        and find each market's shout (its last order that goes to matching)."""
        c = self.config
        side = orders.side
        price = orders.price.clamp(c.min_price, c.max_price)
        quantity = orders.quantity.clamp(min=0)
        market = orders.market_order
        buys = torch.where(side > 0, quantity, 0)
        sells = torch.where(side < 0, quantity, 0)
        if side.shape[1] > 1:
            buys_before, sells_before = buys.cumsum(1) - buys, sells.cumsum(1) - sells
        else:
            buys_before, sells_before = torch.zeros_like(buys), torch.zeros_like(sells)
        room = torch.where(side > 0, (high - position)[:, None] - buys_before,
                           (position - low)[:, None] - sells_before)
        quantity = torch.where(side != 0, torch.minimum(quantity, room.clamp(min=0)), 0)
        limit = torch.where(market, torch.where(side > 0, c.max_price, c.min_price), price)
        if orders.post_only is not None:
            passive = orders.post_only & ~market
            post = torch.where(passive, quantity, 0)
            quantity = torch.where(passive, 0, quantity)
            posts = bool((post > 0).any())
        else:
            post, posts = torch.zeros_like(quantity), False
        shouting = quantity > 0
        last = shouting.any(1)
        if side.shape[1] > 1:
            last_k = (shouting.to(torch.int64) * torch.arange(
                1, side.shape[1] + 1, device=side.device)).argmax(1, keepdim=True)
            shout_side = side.gather(1, last_k)[:, 0]
            shout_price = limit.gather(1, last_k)[:, 0]
        else:
            shout_side, shout_price = side[:, 0], limit[:, 0]
        return _Prepared(side, limit, quantity, market, post, posts,
                         torch.where(last, shout_side, 0),
                         torch.where(last, shout_price, 0).to(torch.float64))

    def _post(self, book: _Book, markets: torch.Tensor, agent: torch.Tensor,
              side: torch.Tensor, limit: torch.Tensor, quantity: torch.Tensor, t: int) -> None:
        """Rest the post-only orders ``(M, K)`` of ``markets`` that do not cross the book; drop
        the others."""
        local = torch.nonzero((quantity > 0).any(1))[:, 0]
        if local.numel() == 0:
            return
        subset = markets.index_select(0, local)
        agent, side, limit, quantity = (x.index_select(0, local) for x in (agent, side, limit,
                                                                          quantity))
        slots = book.slots
        bid_top, bid_at, ask_top, ask_at = book.best(subset)
        best_bid = book.prices(bid_at, bid_top, -math.inf)
        best_ask = book.prices(ask_at, ask_top, math.inf)
        limit_f = limit.to(torch.float64)
        rest = (quantity > 0) & torch.where(side > 0, limit_f < best_ask[:, None],
                                            limit_f > best_bid[:, None])
        k = torch.arange(quantity.shape[1], device=quantity.device)
        flat = subset[:, None] * slots + self.slot_start[agent][:, None] + k[None, :]
        time = t * self.max_orders + k[None, :].expand_as(flat)
        book.place(flat[rest], side[rest], limit[rest], quantity[rest], time[rest])

    def _submit(self, book: _Book, ledger: _Ledger, subset: torch.Tensor | None,
                agent: torch.Tensor, side: torch.Tensor, limit: torch.Tensor,
                quantity: torch.Tensor, rests: torch.Tensor, time: int,
                top: tuple[torch.Tensor, ...] | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """Match one incoming order per market (in ``subset``, all when None) against the book,
        fill by price-time priority at resting prices, and rest a limit order's remainder.

        ``top`` is the book's current :meth:`_Book.best` of all markets, when known. Returns
        whether each order traded and its last trade price, ``(M,)`` each.
        """
        if subset is not None:
            agent, side, limit = agent[subset], side[subset], limit[subset]
            quantity, rests = quantity[subset], rests[subset]
            markets = subset
        else:
            markets = torch.arange(agent.shape[0], device=agent.device)
        scale, slots = book.scale, book.slots
        # a resting ask at price p (key -p*scale - time) is acceptable to a bid at L iff
        # p <= L iff key > -(L + 1) * scale; a bid at p to an ask at L iff key > (L - 1) * scale
        threshold = torch.where(side > 0, -(limit + 1) * scale, (limit - 1) * scale)
        remaining = quantity.clone()
        hit_any = torch.zeros_like(side, dtype=torch.bool)
        hit_price = torch.zeros_like(side, dtype=torch.float64)
        n = ledger.cash.shape[1]
        active = remaining > 0
        first = True
        while True:
            if first and top is not None:
                local = None  # every market, best quotes known
                bid_top, bid_at, ask_top, ask_at = top
            else:
                local = torch.nonzero(active)[:, 0]
                if local.numel() == 0:
                    break
                bid_top, bid_at, ask_top, ask_at = book.best(markets[local])
            first = False
            if local is None:
                m, s_, th, rem, ag, act = markets, side, threshold, remaining, agent, active
            else:
                m, s_, th, rem, ag, act = (markets[local], side[local], threshold[local],
                                           remaining[local], agent[local], active[local])
            buy = s_ > 0
            key = torch.where(buy, ask_top, bid_top)
            flat = torch.where(buy, ask_at, bid_at)
            hit = act & (key > th)
            resting = book.quantity.view(-1).index_select(0, flat)
            fill = torch.where(hit, torch.minimum(rem, resting), 0)
            left = resting - fill
            book.quantity.view(-1).index_copy_(0, flat, left)
            gone = hit & (left == 0)
            # the filled order leaves its side's keys (the key tensor of the other side holds
            # _NO_KEY at that slot already)
            book.ask_key.view(-1).index_copy_(0, flat, torch.where(
                gone & buy, _NO_KEY, book.ask_key.view(-1).index_select(0, flat)))
            book.bid_key.view(-1).index_copy_(0, flat, torch.where(
                gone & ~buy, _NO_KEY, book.bid_key.view(-1).index_select(0, flat)))
            trade_price = book.price.view(-1).index_select(0, flat)
            counterparty = self.owner.index_select(0, flat - m * slots)
            buyer = torch.where(buy, ag, counterparty)
            seller = torch.where(buy, counterparty, ag)
            value = fill * trade_price
            ledger.cash.view(-1).index_add_(0, m * n + buyer, -value)
            ledger.cash.view(-1).index_add_(0, m * n + seller, value)
            ledger.position.view(-1).index_add_(0, m * n + buyer, fill)
            ledger.position.view(-1).index_add_(0, m * n + seller, -fill)
            ledger.traded.view(-1).index_add_(0, m * n + buyer, fill)
            ledger.traded.view(-1).index_add_(0, m * n + seller, fill)
            p = trade_price.to(torch.float64)
            if m.shape[0] == ledger.cash.shape[0]:  # every market, in order
                ledger.fills.append(fill)
                ledger.prices.append(p)
            else:
                ledger.fills.append(torch.zeros(ledger.cash.shape[0], dtype=fill.dtype,
                                                device=fill.device).index_copy_(0, m, fill))
                ledger.prices.append(torch.zeros(ledger.cash.shape[0], dtype=p.dtype,
                                                 device=p.device).index_copy_(0, m, p))
            ledger.steps.append(time // self.max_orders)
            if local is None:
                remaining = remaining - fill
                hit_any |= hit
                hit_price = torch.where(hit, p, hit_price)
                active = hit & (remaining > 0)
            else:
                remaining[local] = rem - fill
                hit_any[local] |= hit
                hit_price[local] = torch.where(hit, p, hit_price[local])
                active = torch.zeros_like(active)
                active[local] = hit & (rem - fill > 0)
        rest = torch.nonzero((remaining > 0) & rests)[:, 0]
        if rest.numel():
            # the order's own slot
            slot = self.slot_start[agent[rest]] + time % self.max_orders
            book.place(markets[rest] * slots + slot, side[rest], limit[rest], remaining[rest],
                       time)
        return hit_any, hit_price

    def _statistics(self, stats: dict[str, torch.Tensor], profit: torch.Tensor,
                    cash: torch.Tensor, position: torch.Tensor, gains: torch.Tensor,
                    max_gain: torch.Tensor, traded: torch.Tensor) -> EpisodeStatistics:
        c = self.config
        tick = c.tick

        def np64(x: torch.Tensor) -> np.ndarray:
            return x.detach().cpu().numpy().astype(np.float64)

        def ratio(num: torch.Tensor, den: torch.Tensor) -> np.ndarray:
            n_, d_ = np64(num), np64(den)
            with np.errstate(invalid="ignore", divide="ignore"):
                return np.where(d_ > 0, n_ / np.where(d_ > 0, d_, 1.0), np.nan)

        volume = np64(stats["volume"])
        mean_eq = ratio(stats["eq_sum"], stats["volume"])
        rmsd_eq = np.sqrt(ratio(stats["sq_eq"], stats["volume"]))
        with np.errstate(invalid="ignore", divide="ignore"):
            alpha = 100.0 * rmsd_eq / mean_eq
            alpha_early = 100.0 * np.sqrt(ratio(stats["sq_eq_early"], stats["vol_early"])) / mean_eq
            alpha_late = 100.0 * np.sqrt(ratio(stats["sq_eq_late"], stats["vol_late"])) / mean_eq
        traders = [i for i in range(c.num_agents) if c.value_model[i] != "none"]
        values = {
            "surplus": np64(gains) * tick,
            "max_surplus": np64(max_gain) * tick,
            "allocative_efficiency": ratio(gains, max_gain),
            "volume": volume,
            "trades": np64(stats["trades"]),
            "price_rmsd_fundamental": (np.sqrt(ratio(stats["sq_fund"], stats["volume"])) * tick
                                       if c.fundamental else np.full(len(volume), np.nan)),
            "price_rmsd_final": (np.sqrt(ratio(stats["sq_final"], stats["volume"])) * tick
                                 if c.fundamental else np.full(len(volume), np.nan)),
            "price_rmsd_equilibrium": rmsd_eq * tick,
            "smith_alpha": alpha,
            "smith_alpha_early": alpha_early,
            "smith_alpha_late": alpha_late,
            "spread": ratio(stats["spread_sum"], stats["spread_n"]) * tick,
            "mean_abs_inventory": np64(position[:, traders].abs().to(torch.float64).mean(1))
            if traders else np.zeros(len(volume)),
        }
        profit_ticks = profit.cpu().numpy()
        return EpisodeStatistics(c, self.strategy_names, values, profit_ticks * tick,
                                 profit_ticks, cash.cpu().numpy(), position.cpu().numpy(),
                                 gains.cpu().numpy(), self.assignment,
                                 tuple(s.name for s in self.strategy_objects),
                                 traded.cpu().numpy())


def _trade_statistics(ledger: _Ledger, path: torch.Tensor | None, final: torch.Tensor,
                      ce_offset: torch.Tensor, half_quantity: torch.Tensor
                      ) -> dict[str, torch.Tensor]:
    """Volume-weighted sums of the trade prices' deviations ``(B,)`` each, from the fills
    logged in ``ledger`` (``path`` the ``(B, T)`` fundamental, None without one)."""
    b = ledger.cash.shape[0]
    dev = ledger.cash.device
    if not ledger.fills:
        fills = torch.zeros(b, 1, dtype=torch.float64, device=dev)
        prices = torch.zeros_like(fills)
        steps = torch.zeros(1, dtype=torch.int64, device=dev)
    else:
        fills = torch.stack(ledger.fills, 1).to(torch.float64)
        prices = torch.stack(ledger.prices, 1)
        steps = torch.tensor(ledger.steps, dtype=torch.int64, device=dev)
    if path is None:
        fundamental = torch.zeros_like(fills)
        equilibrium = ce_offset[:, None].expand_as(fills)
    else:
        fundamental = path.index_select(1, steps)
        equilibrium = fundamental + ce_offset[:, None]
    # Smith's alpha early / late: units traded before / after half the competitive quantity
    early = ((fills.cumsum(1) - fills) < half_quantity[:, None]).to(torch.float64)
    deviation = fills * (prices - equilibrium) ** 2
    return {"volume": fills.sum(1), "trades": (fills > 0).sum(1).to(torch.float64),
            "sq_fund": (fills * (prices - fundamental) ** 2).sum(1),
            "sq_final": (fills * (prices - final[:, None]) ** 2).sum(1),
            "sq_eq": deviation.sum(1), "eq_sum": (fills * equilibrium).sum(1),
            "sq_eq_early": (early * deviation).sum(1), "vol_early": (early * fills).sum(1),
            "sq_eq_late": ((1 - early) * deviation).sum(1),
            "vol_late": ((1 - early) * fills).sum(1)}


def position_values(private_values: torch.Tensor, position: torch.Tensor) -> torch.Tensor:
    """``PV_i(q_i)``: the private value of each agent's position, ``(B, N)`` int64 ticks.

    ``private_values`` is ``(B, N, 2Q)`` (marginal values, see the module docstring) and
    ``position`` ``(B, N)``; positions beyond ``+-Q`` count as ``+-Q``.
    """
    q = private_values.shape[2] // 2
    # PV(q) = C[Q + q - 1] - C[Q - 1] with C the cumulative sum and C[-1] = 0
    cumulative = torch.cumsum(private_values, 2)
    index = (position.clamp(-q, q) + q - 1)[:, :, None]
    upto = torch.where(index >= 0, cumulative.gather(2, index.clamp(min=0)), 0)
    return (upto - cumulative[:, :, q - 1:q])[:, :, 0]


def simulate(config: MarketConfig, strategies: Sequence[Strategy], *, episodes: int,
             seed: int = 0, device: str | torch.device = "cpu",
             backend: str = "auto") -> EpisodeStatistics:
    """Run ``episodes`` independent episodes (one per batched market) and return their statistics.

    Same ``seed``, same numbers (on the same device, by either ``backend``: see
    :class:`MarketSimulator`).
    """
    return MarketSimulator(config, strategies, num_markets=episodes, seed=seed,
                           device=device, backend=backend).run()


def simulate_profiles(config: MarketConfig, profiles: Sequence[Sequence[Strategy]], *,
                      episodes: int, seed: int = 0, device: str | torch.device = "cpu",
                      backend: str = "auto") -> EpisodeStatistics:
    """``episodes`` episodes of each strategy profile, all in one batch: markets
    ``g * episodes .. (g + 1) * episodes - 1`` play ``profiles[g]``."""
    return MarketSimulator(config, profiles[0] if profiles else [], num_markets=episodes
                           * max(len(profiles), 1), seed=seed, device=device,
                           profiles=profiles, backend=backend).run()
