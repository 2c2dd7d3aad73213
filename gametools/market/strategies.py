"""Trading strategies for the batched market (:mod:`gametools.market.simulator`).

A strategy is vectorised over the markets where one of its agents arrives: :meth:`Strategy.orders`
maps an :class:`~gametools.market.simulator.ArrivalView` of ``M`` markets to ``M`` rows of
orders. Strategies with memory (ZIP) keep ``(B, N)`` tensors set up in :meth:`Strategy.reset`
and updated after every arrival in :meth:`Strategy.observe`.

Names (:func:`make_strategy`)
-----------------------------
``zi_c``
    Gode and Sunder's (1993) budget-constrained zero-intelligence trader: a buyer bids uniformly
    on ``[min_price, value]``, a seller asks uniformly on ``[cost, max_price]`` (integer ticks).
``zi_u``
    Their unconstrained trader: uniform on ``[min_price, max_price]`` whatever its value.
``zi_A_B``
    Wellman's background trader with surplus range ``[A, B]`` ticks (e.g. ``zi_0_1000``): it
    buys at ``value - U[A, B]`` or sells at ``value + U[A, B]``, its value being the estimated
    final fundamental plus its private value of the next unit (Wah, Wright and Wellman 2017).
``zip``
    Cliff's (1997) zero-intelligence-plus trader: a profit margin per side adapted by the
    Widrow-Hoff rule with momentum after every shout (learning rate ``beta ~ U[0.1, 0.5]``,
    momentum ``gamma ~ U[0, 0.1]``, initial margins ``U[0.05, 0.35]``, targets ``R q + A`` with
    ``R ~ U[1, 1.05]``, ``A ~ U[0, 0.05]`` (price units) to raise a price and ``R ~ U[0.95, 1]``,
    ``A ~ U[-0.05, 0]`` to lower it).
``mm`` / ``mm_K_XI_OMEGA``
    A market maker quoting a ladder of ``K`` unit bids and ``K`` unit asks around the estimated
    fundamental: bids at ``F - OMEGA/2 - k XI``, asks at ``F + OMEGA/2 + k XI``, ``k = 0..K-1``,
    rungs that would cross the other side of the book dropped (post-only orders; Wah, Wright
    and Wellman 2017's ladder market maker). ``mm`` is ``mm_4_200_400``.
``informed`` / ``informed_M``
    A trader holding a signal of the final fundamental (role ``informed``; the signal is its
    ``fundamental_estimate``, see :mod:`gametools.market.simulator`) with margin ``M`` ticks:
    it buys (one unit) when the best ask is at least ``M`` below its value, sells when the
    best bid is at least ``M`` above it, and otherwise posts a unit limit order ``M`` inside its
    value on a side chosen by a fair coin (bid at ``value - M`` or ask at ``value + M``).
    Taking mispriced quotes earns it the mispricing; its resting quotes pull prices toward
    the final fundamental. ``informed`` is ``informed_250``.

Traders whose side is not fixed by the market (background traders) pick buy or sell with
probability 1/2 at each arrival and do not trade when the chosen side would break their position
bound.
"""

from __future__ import annotations

import abc
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from gametools.errors import InvalidArgumentError
from gametools.market._kernel import (
    RULE_INFORMED,
    RULE_LADDER,
    RULE_SCHEDULED,
    RULE_ZI_CONSTRAINED,
    RULE_ZI_SURPLUS,
    RULE_ZI_UNCONSTRAINED,
)
from gametools.market.simulator import ArrivalView, MarketConfig, MarketEvent, Orders

if TYPE_CHECKING:
    from gametools.market.simulator import MarketSimulator

__all__ = ["Strategy", "ZeroIntelligence", "ZeroIntelligencePlus", "LadderMarketMaker",
           "InformedTrader", "ScheduledOrders", "INFORMED_ROLES",
           "make_strategy", "assign_strategies", "parse_strategy_spec", "split_role",
           "StrategySpec",
           "STRATEGY_NAMES", "TRADER_ROLES", "MARKET_MAKER_ROLES"]

TRADER_ROLES = ("background", "buyer", "seller")
MARKET_MAKER_ROLES = ("market_maker",)
INFORMED_ROLES = ("informed",)
STRATEGY_NAMES = ("zi_c", "zi_u", "zi_A_B", "zip", "mm", "mm_K_XI_OMEGA", "informed",
                  "informed_M")


class Strategy(abc.ABC):
    """A vectorised trading rule.

    Attributes
    ----------
    name : str
    roles : tuple of str or None
        The roles it can play (None: any).
    max_orders : int
        Orders submitted per arrival at most (the book reserves that many slots per agent).
    external : bool
        Whether a learner outside the simulator sets its orders.
    """

    name: str = ""
    roles: tuple[str, ...] | None = None
    max_orders: int = 1
    #: whether a learner outside the simulator sets its orders (the episode pauses first;
    #: :meth:`~gametools.market.simulator.MarketSimulator.episode`)
    external: bool = False

    def reset(self, simulator: MarketSimulator, private_values: torch.Tensor) -> None:
        """Called at the start of every episode (``private_values`` is ``(B, N, 2Q)`` ticks)."""

    @abc.abstractmethod
    def orders(self, view: ArrivalView) -> Orders:
        """The orders of the arriving agents."""

    def observe(self, event: MarketEvent, position: torch.Tensor,
                estimate: torch.Tensor) -> None:
        """Called after every arrival with its public outcome, positions ``(B, N)`` and the
        fundamental estimate ``(B,)``."""

    def compiled_rule(self) -> tuple[int, int, int, int] | None:
        """The row ``(rule, p1, p2, p3)`` of the compiled market kernel that plays this
        strategy exactly as :meth:`orders` does (:mod:`gametools.market._kernel`), or None
        when the kernel cannot play it (the simulator then takes its torch route)."""
        return None

    def compiled_schedule(self) -> torch.Tensor | None:
        """``(B, T, K, 5)`` int64 orders fixed in advance, for the kernel's scheduled rule
        (:class:`ScheduledOrders`); None for every other strategy."""
        return None

    def __repr__(self) -> str:
        return f"<strategy {self.name}>"


def _draw(view: ArrivalView, column: int) -> torch.Tensor:
    """Uniforms ``(M,)`` float64 of the arrivals: the simulator's batch draws (column 0 the side
    coin, 1 the price), or fresh ones from its generator when the view carries none."""
    if view.draws is not None:
        return view.draws[:, column]
    return torch.rand(view.agents.shape, generator=view.generator, device=view.agents.device,
                      dtype=torch.float64)


def _choose_side(view: ArrivalView) -> torch.Tensor:
    """The side of each arriving trader: fixed by the market, else a fair coin; 0 if barred."""
    coin = _draw(view, 0) < 0.5
    side = torch.where(view.fixed_side != 0, view.fixed_side,
                       torch.where(coin, 1, -1).to(torch.int64))
    allowed = torch.where(side > 0, view.can_buy, view.can_sell)
    return torch.where(allowed, side, 0)


def _uniform_ticks(low: torch.Tensor, high: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Integers uniform on ``[low, high]`` (element-wise; ``high >= low`` assumed) from
    uniforms ``u`` on ``[0, 1)``."""
    span = (high - low + 1).clamp(min=1).to(torch.float64)
    return low + torch.floor(u * span).to(torch.int64).clamp(max=(high - low).clamp(min=0))


class ZeroIntelligence(Strategy):
    """Zero-intelligence traders: Gode-Sunder ``zi_c`` / ``zi_u`` and Wellman's ``zi_A_B``.

    Parameters
    ----------
    kind : {"constrained", "unconstrained", "surplus"}
    surplus_low, surplus_high : int
        The surplus range in ticks (``kind="surplus"``).
    """

    roles = TRADER_ROLES

    def __init__(self, kind: str, surplus_low: int = 0, surplus_high: int = 0) -> None:
        if kind not in ("constrained", "unconstrained", "surplus"):
            raise InvalidArgumentError(f"unknown zero-intelligence kind {kind!r}")
        if not 0 <= surplus_low <= surplus_high:
            raise InvalidArgumentError(f"zi surplus range needs 0 <= A <= B, got "
                                       f"[{surplus_low}, {surplus_high}]")
        self.kind = kind
        self.surplus_low, self.surplus_high = int(surplus_low), int(surplus_high)
        self.name = {"constrained": "zi_c", "unconstrained": "zi_u"}.get(
            kind, f"zi_{surplus_low}_{surplus_high}")

    def orders(self, view: ArrivalView) -> Orders:
        side = _choose_side(view)
        lo = torch.full_like(view.agents, view.min_price)
        hi = torch.full_like(view.agents, view.max_price)
        # one price draw: a bid or an ask is drawn from it, whichever the side needs
        u = _draw(view, 1)
        if self.kind == "unconstrained":
            price = _uniform_ticks(lo, hi, u)
        elif self.kind == "constrained":
            value = torch.floor(view.buy_value).to(torch.int64)
            cost = torch.ceil(view.sell_value).to(torch.int64)
            bid = _uniform_ticks(lo, value.clamp(view.min_price, view.max_price), u)
            ask = _uniform_ticks(cost.clamp(view.min_price, view.max_price), hi, u)
            # a unit worth less than the lowest price (or costing more than the highest) is
            # not offered: the constraint forbids every price
            side = torch.where((side > 0) & (value < view.min_price), 0, side)
            side = torch.where((side < 0) & (cost > view.max_price), 0, side)
            price = torch.where(side > 0, bid, ask)
        else:
            surplus = _uniform_ticks(torch.full_like(view.agents, self.surplus_low),
                                     torch.full_like(view.agents, self.surplus_high), u)
            bid = torch.floor(view.buy_value).to(torch.int64) - surplus
            ask = torch.ceil(view.sell_value).to(torch.int64) + surplus
            price = torch.where(side > 0, bid, ask)
        return Orders.single(side, price)

    def compiled_rule(self) -> tuple[int, int, int, int] | None:
        if type(self) is not ZeroIntelligence:  # a subclass may order otherwise
            return None
        rule = {"constrained": RULE_ZI_CONSTRAINED, "unconstrained": RULE_ZI_UNCONSTRAINED,
                "surplus": RULE_ZI_SURPLUS}[self.kind]
        return rule, self.surplus_low, self.surplus_high, 0


class ZeroIntelligencePlus(Strategy):
    """Cliff's (1997) ZIP trader (see the module docstring for its constants)."""

    name = "zip"
    roles = TRADER_ROLES

    def reset(self, simulator: MarketSimulator, private_values: torch.Tensor) -> None:
        b, n, _ = private_values.shape
        dev, gen = private_values.device, simulator.generator
        self.pv = private_values
        self.max_units = simulator.config.max_units
        self.tick = simulator.config.tick
        index = simulator.strategy_objects.index(self)
        self.mine = simulator.agent_strategy == index

        def uniform(low: float, high: float) -> torch.Tensor:
            return low + (high - low) * torch.rand(b, n, generator=gen, device=dev,
                                                   dtype=torch.float64)

        self.margin_sell = uniform(0.05, 0.35)
        self.margin_buy = -uniform(0.05, 0.35)
        self.beta = uniform(0.1, 0.5)
        self.momentum = uniform(0.0, 0.1)
        self.change_sell = torch.zeros(b, n, dtype=torch.float64, device=dev)
        self.change_buy = torch.zeros(b, n, dtype=torch.float64, device=dev)
        self.generator = gen
        self.low = torch.tensor(simulator.config.position_low, device=dev)
        self.high = torch.tensor(simulator.config.position_high, device=dev)

    def orders(self, view: ArrivalView) -> Orders:
        side = _choose_side(view)
        m_buy = self.margin_buy[view.markets, view.agents]
        m_sell = self.margin_sell[view.markets, view.agents]
        bid = torch.floor(view.buy_value * (1 + m_buy)).to(torch.int64)
        ask = torch.ceil(view.sell_value * (1 + m_sell)).to(torch.int64)
        return Orders.single(side, torch.where(side > 0, bid, ask))

    def observe(self, event: MarketEvent, position: torch.Tensor,
                estimate: torch.Tensor) -> None:
        q_units = self.max_units
        index_buy = (position + q_units).clamp(0, 2 * q_units - 1)
        index_sell = (position - 1 + q_units).clamp(0, 2 * q_units - 1)
        buy_limit = estimate[:, None] + self.pv.gather(2, index_buy[:, :, None])[:, :, 0]
        sell_limit = estimate[:, None] + self.pv.gather(2, index_sell[:, :, None])[:, :, 0]
        can_buy = position < self.high[None, :]
        can_sell = position > self.low[None, :]
        q = event.shout_price[:, None]
        accepted = event.accepted[:, None]
        bid_shout = (event.shout_side > 0)[:, None]
        ask_shout = (event.shout_side < 0)[:, None]
        shouted = bid_shout | ask_shout
        b, n = position.shape
        dev = position.device

        def draw(low: float, high: float) -> torch.Tensor:
            return low + (high - low) * torch.rand(b, n, generator=self.generator, device=dev,
                                                   dtype=torch.float64)

        up = q * draw(1.0, 1.05) + draw(0.0, 0.05) / self.tick
        down = q * draw(0.95, 1.0) - draw(0.0, 0.05) / self.tick
        # compare the prices as shouted, on the grid: with unrounded prices a trader whose bid
        # rounds down onto the market's last shout would never see itself at it and stall
        # sellers
        price = torch.ceil(sell_limit * (1 + self.margin_sell))
        raise_ = shouted & accepted & (price <= q)
        lower = shouted & ((accepted & bid_shout) | (~accepted & ask_shout)) & (price >= q) \
            & can_sell
        self.margin_sell, self.change_sell = self._update(
            self.margin_sell, self.change_sell, sell_limit, price, raise_, lower, up, down,
            low=0.0, high=math.inf)
        # buyers: raising the margin lowers the price
        price = torch.floor(buy_limit * (1 + self.margin_buy))
        raise_ = shouted & accepted & (price >= q)
        lower = shouted & ((accepted & ask_shout) | (~accepted & bid_shout)) & (price <= q) \
            & can_buy
        self.margin_buy, self.change_buy = self._update(
            self.margin_buy, self.change_buy, buy_limit, price, raise_, lower, down, up,
            low=-1.0, high=0.0)

    def _update(self, margin: torch.Tensor, change: torch.Tensor, limit: torch.Tensor,
                price: torch.Tensor, raise_: torch.Tensor, lower: torch.Tensor,
                raise_target: torch.Tensor, lower_target: torch.Tensor, *, low: float,
                high: float) -> tuple[torch.Tensor, torch.Tensor]:
        """Widrow-Hoff with momentum toward the target price, for the agents that adapt."""
        adapt = (raise_ | lower) & self.mine & (limit.abs() > 0)
        target = torch.where(raise_, raise_target, lower_target)
        new_change = self.momentum * change + (1 - self.momentum) * self.beta * (target - price)
        safe = torch.where(limit.abs() > 0, limit, 1.0)
        new_margin = ((price + new_change) / safe - 1).clamp(low, high)
        return (torch.where(adapt, new_margin, margin), torch.where(adapt, new_change, change))


class LadderMarketMaker(Strategy):
    """A ladder of ``rungs`` unit quotes per side around the estimated fundamental."""

    roles = MARKET_MAKER_ROLES

    def __init__(self, rungs: int = 4, spacing: int = 200, spread: int = 400) -> None:
        if rungs < 1 or spacing < 0 or spread < 0:
            raise InvalidArgumentError(f"market maker needs rungs >= 1, spacing >= 0, "
                                       f"spread >= 0; got {rungs}, {spacing}, {spread}")
        self.rungs, self.spacing, self.spread = int(rungs), int(spacing), int(spread)
        self.max_orders = 2 * self.rungs
        self.name = "mm" if (rungs, spacing, spread) == (4, 200, 400) else \
            f"mm_{rungs}_{spacing}_{spread}"

    def orders(self, view: ArrivalView) -> Orders:
        m, k = view.agents.shape[0], self.rungs
        dev = view.agents.device
        offsets = self.spread / 2 + self.spacing * torch.arange(k, device=dev, dtype=torch.float64)
        centre = view.fundamental_estimate[:, None]
        bids = torch.floor(centre - offsets[None, :]).to(torch.int64)
        asks = torch.ceil(centre + offsets[None, :]).to(torch.int64)
        bid_ok = (bids.to(torch.float64) < view.best_ask[:, None]) & view.can_buy[:, None]
        ask_ok = (asks.to(torch.float64) > view.best_bid[:, None]) & view.can_sell[:, None]
        side = torch.cat([torch.where(bid_ok, 1, 0), torch.where(ask_ok, -1, 0)], 1
                         ).to(torch.int64)
        price = torch.cat([bids, asks], 1)
        quantity = (side != 0).to(torch.int64)
        return Orders(side, price, quantity, torch.zeros(m, 2 * k, dtype=torch.bool, device=dev),
                      post_only=torch.ones(m, 2 * k, dtype=torch.bool, device=dev))

    def compiled_rule(self) -> tuple[int, int, int, int] | None:
        if type(self) is not LadderMarketMaker:
            return None
        return RULE_LADDER, self.rungs, self.spacing, self.spread


class InformedTrader(Strategy):
    """A trader on a signal of the final fundamental (see the module docstring).

    Parameters
    ----------
    margin : int
        Ticks of edge it demands on every trade, taken or posted.
    """

    roles = INFORMED_ROLES

    def __init__(self, margin: int = 250) -> None:
        if margin < 0:
            raise InvalidArgumentError(f"informed trader needs margin >= 0, got {margin}")
        self.margin = int(margin)
        self.name = "informed" if self.margin == 250 else f"informed_{self.margin}"

    def orders(self, view: ArrivalView) -> Orders:
        bid = torch.floor(view.buy_value).to(torch.int64) - self.margin
        ask = torch.ceil(view.sell_value).to(torch.int64) + self.margin
        take_ask = view.can_buy & (view.best_ask <= bid.to(torch.float64))
        take_bid = view.can_sell & (view.best_bid >= ask.to(torch.float64)) & ~take_ask
        posted = _choose_side(view)
        side = torch.where(take_ask, 1, torch.where(take_bid, -1, posted)).to(torch.int64)
        return Orders.single(side, torch.where(side > 0, bid, ask))

    def compiled_rule(self) -> tuple[int, int, int, int] | None:
        if type(self) is not InformedTrader:
            return None
        return RULE_INFORMED, self.margin, 0, 0


class ScheduledOrders(Strategy):
    """Orders fixed in advance for every market and time step: the agent arriving in market
    ``m`` at step ``t`` submits the ``K`` orders ``[m, t, :]`` (a replay of recorded order flow,
    or a book driven by hand). The simulator bounds them by the grid and the positions as any
    strategy's orders.

    Parameters
    ----------
    side, price, quantity : int tensors, shape (B, T, K)
        ``+1`` buy / ``-1`` sell / ``0`` none; limit price in ticks; units.
    market_order, post_only : bool tensors, shape (B, T, K), optional
        (default: limit orders that may take liquidity)
    name : str
    """

    def __init__(self, side: torch.Tensor, price: torch.Tensor, quantity: torch.Tensor, *,
                 market_order: torch.Tensor | None = None,
                 post_only: torch.Tensor | None = None, name: str = "scheduled") -> None:
        shape = tuple(side.shape)
        parts = [side, price, quantity] + [x for x in (market_order, post_only) if x is not None]
        if len(shape) != 3 or shape[2] < 1 or any(tuple(x.shape) != shape for x in parts):
            raise InvalidArgumentError(f"scheduled orders need (markets, steps, orders) tensors "
                                       f"of one shape, got {[tuple(x.shape) for x in parts]}")
        self.side = side.to(torch.int64)
        self.price = price.to(torch.int64)
        self.quantity = quantity.to(torch.int64)
        self.market_order = (torch.zeros(shape, dtype=torch.bool) if market_order is None
                             else market_order.to(torch.bool))
        self.post_only = (torch.zeros(shape, dtype=torch.bool) if post_only is None
                          else post_only.to(torch.bool))
        self.max_orders = shape[2]
        self.name = name

    def reset(self, simulator: MarketSimulator, private_values: torch.Tensor) -> None:
        expected = (simulator.num_markets, simulator.config.n_arrivals)
        if tuple(self.side.shape[:2]) != expected:
            raise InvalidArgumentError(f"scheduled orders are for {tuple(self.side.shape[:2])} "
                                       f"markets x steps; the simulator runs {expected}")

    def orders(self, view: ArrivalView) -> Orders:
        rows, dev = view.markets.cpu(), view.agents.device
        side, price, quantity, market, post = (x[rows, view.time].to(dev) for x in (
            self.side, self.price, self.quantity, self.market_order, self.post_only))
        return Orders(side, price, quantity, market, post_only=post)

    def compiled_rule(self) -> tuple[int, int, int, int] | None:
        if type(self) is not ScheduledOrders:
            return None
        return RULE_SCHEDULED, self.max_orders, 0, 0

    def compiled_schedule(self) -> torch.Tensor | None:
        return torch.stack([self.side, self.price, self.quantity,
                            self.market_order.to(torch.int64), self.post_only.to(torch.int64)],
                           -1)


_ZI_RANGE = re.compile(r"zi_(\d+)_(\d+)$")
_INFORMED = re.compile(r"informed_(\d+)$")
_MM_LADDER = re.compile(r"mm_(\d+)_(\d+)_(\d+)$")


def make_strategy(name: str) -> Strategy:
    """A new strategy object from its name (see the module docstring).

    Examples
    --------
    >>> make_strategy("zi_0_1000").name, make_strategy("mm").max_orders
    ('zi_0_1000', 8)
    """
    if name.startswith("learned:"):
        from gametools.market.env import load_learned

        return load_learned(name[len("learned:"):], name)
    if name == "zi_c":
        return ZeroIntelligence("constrained")
    if name == "zi_u":
        return ZeroIntelligence("unconstrained")
    if name == "zip":
        return ZeroIntelligencePlus()
    if name == "mm":
        return LadderMarketMaker()
    match = _ZI_RANGE.match(name)
    if match:
        return ZeroIntelligence("surplus", int(match[1]), int(match[2]))
    match = _MM_LADDER.match(name)
    if match:
        return LadderMarketMaker(int(match[1]), int(match[2]), int(match[3]))
    if name == "informed":
        return InformedTrader()
    match = _INFORMED.match(name)
    if match:
        return InformedTrader(int(match[1]))
    raise InvalidArgumentError(f"unknown strategy {name!r}; strategies: zi_c, zi_u, zip, "
                               f"zi_A_B (surplus range in ticks, e.g. zi_0_1000), mm, "
                               f"mm_K_XI_OMEGA (ladder rungs, spacing, spread), informed, "
                               f"informed_M (margin in ticks), learned:PATH "
                               f"(a policy trained by gametools psro)")


@dataclass(frozen=True)
class StrategySpec:
    """``[ROLE:]NAME[=COUNT]``: play ``NAME`` with ``COUNT`` agents (all remaining when None)
    of ``ROLE`` (every role the strategy can play when None)."""

    name: str
    count: int | None = None
    role: str | None = None


def parse_strategy_spec(text: str) -> StrategySpec:
    """Parse ``[ROLE:]NAME[=COUNT]`` (the command line's ``--strategy``).

    Examples
    --------
    >>> parse_strategy_spec("market_maker:mm=2")
    StrategySpec(name='mm', count=2, role='market_maker')
    """
    role, rest = split_role(text)
    name, sep, count_text = rest.partition("=")
    count: int | None = None
    if sep:
        try:
            count = int(count_text)
        except ValueError:
            count = -1
        if count < 1:
            raise InvalidArgumentError(f"strategy count must be a positive integer, got "
                                       f"{text!r}")
    if not name:
        raise InvalidArgumentError(f"strategies are given as [ROLE:]NAME[=COUNT], got {text!r}")
    make_strategy(name)  # validates the name
    return StrategySpec(name.strip(), count, role)


def split_role(text: str) -> tuple[str | None, str]:
    """``"[ROLE:]NAME"`` -> ``(ROLE or None, NAME)``, where ``NAME`` may be ``learned:PATH``.

    Examples
    --------
    >>> split_role("market_maker:mm"), split_role("learned:runs/br.pt")
    (('market_maker', 'mm'), (None, 'learned:runs/br.pt'))
    """
    if text.startswith("learned:") or ":" not in text:
        return None, text
    role, _, name = text.partition(":")
    return role.strip() or None, name


def assign_strategies(config: MarketConfig, specs: Sequence[StrategySpec | str]
                      ) -> list[Strategy]:
    """One strategy per agent: the specs in order, each taking the next unassigned agents of
    the roles it can play; agents left over play their role's default strategy.

    Agents playing the same name share one strategy object.
    """
    objects: dict[str, Strategy] = {}

    def get(name: str) -> Strategy:
        if name not in objects:
            objects[name] = make_strategy(name)
        return objects[name]

    assigned: list[Strategy | None] = [None] * config.num_agents
    for spec in specs:
        spec = parse_strategy_spec(spec) if isinstance(spec, str) else spec
        strategy = get(spec.name)
        if spec.role is not None and spec.role not in config.roles:
            raise InvalidArgumentError(f"unknown role {spec.role!r}; roles: "
                                       f"{', '.join(config.roles)}")
        eligible = [i for i in range(config.num_agents) if assigned[i] is None
                    and (spec.role is None or config.roles[config.agent_roles[i]] == spec.role)
                    and (strategy.roles is None
                         or config.roles[config.agent_roles[i]] in strategy.roles)]
        if not eligible:
            raise InvalidArgumentError(f"strategy {spec.name!r} can play none of the agents left "
                                       f"(roles {', '.join(config.roles)}; it plays "
                                       f"{', '.join(strategy.roles or ('any',))})")
        count = len(eligible) if spec.count is None else spec.count
        if count > len(eligible):
            raise InvalidArgumentError(
                f"strategy {spec.name!r} asks for {count} agents but only {len(eligible)} "
                f"unassigned agents can play it")
        for i in eligible[:count]:
            assigned[i] = strategy
    out: list[Strategy] = []
    for i, s in enumerate(assigned):
        if s is None:
            role = config.agent_roles[i]
            if not config.default_strategies:
                raise InvalidArgumentError(f"agent {i} has no strategy and the market no "
                                           f"default")
            s = get(config.default_strategies[role])
        out.append(s)
    return out
