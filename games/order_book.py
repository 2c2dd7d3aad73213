"""Order-book markets with many agents: Wellman's fundamental market and Gode-Sunder's auction.

Both scenarios build a :class:`gametools.market.MarketConfig` (a market *design*, not a finite
game): its strategies are analysed by simulation (``gametools simulate``) and empirical game
theory (``gametools egta``), not by the exact solvers. The rules (tick grid, price-time
priority, limit and market orders, cancellations, partial fills, one arrival per market per time
step) are those of :mod:`gametools.market.simulator`.

``order_book``
    ``n_background`` background traders (role ``background``, Wellman's ZI family by default
    ``zi_0_1000``) with private values for positions up to ``max_position`` drawn from
    ``N(0, private_variance)``, and ``n_market_makers`` ladder market makers (role
    ``market_maker``, default ``mm``), trading one asset whose fundamental mean-reverts to
    ``mean_fundamental`` at rate ``mean_reversion`` with shocks of variance ``shock_variance``
    per time step (after Wah, Wright and Wellman 2017, with a time step per arrival).
    ``market_maker_rate`` scales a market maker's arrival probability relative to a background
    trader's. ``n_informed`` informed traders (role ``informed``, present only when
    ``n_informed > 0``, default strategy ``informed``) hold no private values and a position
    bound of ``max_position``; each receives a signal of the final fundamental with noise of
    standard deviation ``signal_noise`` ticks and arrives as often as a background trader.

``double_auction``
    Gode and Sunder's (1993) private-value continuous double auction: ``n_buyers`` buyers with
    ``units`` unit values each and ``n_sellers`` sellers with ``units`` unit costs each, drawn
    uniformly from ``[value_low, value_high]`` per episode; prices on ``[1, max_price]`` (their
    200); no fundamental; every trade cancels the book (their rule). Default strategy ``zi_c``.
"""

from __future__ import annotations

from typing import Any

from gametools.scenarios import Parameter, Scenario

__all__ = ["SCENARIOS", "build_order_book", "build_double_auction"]


def build_order_book(*, n_background: int, n_market_makers: int, n_arrivals: int,
                     mean_fundamental: int, mean_reversion: float, shock_variance: float,
                     private_variance: float, max_position: int, market_maker_rate: float,
                     n_informed: int = 0, signal_noise: float = 0.0) -> Any:
    """The ``order_book`` market design (see the module docstring)."""
    from gametools.market.simulator import MarketConfig

    n = n_background + n_market_makers + n_informed
    roles = ("background", "market_maker") + (("informed",) if n_informed else ())
    agent_roles = (0,) * n_background + (1,) * n_market_makers + (2,) * n_informed
    return MarketConfig(
        roles=roles, agent_roles=agent_roles, n_arrivals=n_arrivals, min_price=0,
        max_price=4 * mean_fundamental, max_units=max_position,
        position_low=(-max_position,) * n_background + (0,) * n_market_makers
        + (-max_position,) * n_informed,
        position_high=(max_position,) * n_background + (0,) * n_market_makers
        + (max_position,) * n_informed,
        fixed_side=(0,) * n,
        value_model=("wellman",) * n_background + ("none",) * (n_market_makers + n_informed),
        arrival_weights=(1.0,) * n_background + (market_maker_rate,) * n_market_makers
        + (1.0,) * n_informed,
        fundamental=True, mean_fundamental=mean_fundamental, mean_reversion=mean_reversion,
        shock_variance=shock_variance, private_variance=private_variance,
        default_strategies=("zi_0_1000", "mm") + (("informed",) if n_informed else ()),
        informed=(False,) * (n_background + n_market_makers) + (True,) * n_informed,
        signal_noise=signal_noise)


def build_double_auction(*, n_buyers: int, n_sellers: int, units: int, value_low: int,
                         value_high: int, max_price: int, n_arrivals: int,
                         clear_after_trade: bool) -> Any:
    """The ``double_auction`` market design (see the module docstring)."""
    from gametools.market.simulator import MarketConfig
    from gametools.scenarios import ScenarioError

    if value_low > value_high:
        raise ScenarioError(f"scenario 'double_auction': value_low ({value_low}) must not "
                            f"exceed value_high ({value_high})")
    if value_high > max_price:
        raise ScenarioError(f"scenario 'double_auction': value_high ({value_high}) must not "
                            f"exceed max_price ({max_price})")
    n = n_buyers + n_sellers
    return MarketConfig(
        roles=("buyer", "seller"), agent_roles=(0,) * n_buyers + (1,) * n_sellers,
        n_arrivals=n_arrivals, min_price=1, max_price=max_price, max_units=units,
        position_low=(0,) * n_buyers + (-units,) * n_sellers,
        position_high=(units,) * n_buyers + (0,) * n_sellers,
        fixed_side=(1,) * n_buyers + (-1,) * n_sellers, value_model=("units",) * n,
        arrival_weights=(1.0,) * n, value_low=value_low, value_high=value_high,
        clear_after_trade=clear_after_trade, default_strategies=("zi_c", "zi_c"))


SCENARIOS = (
    Scenario(
        "order_book", "Continuous double auction: ZI background traders and ladder market "
        "makers around a mean-reverting fundamental (simulation).",
        build_order_book,
        (Parameter("n_background", 24, "background traders", low=1, high=4096),
         Parameter("n_market_makers", 1, "ladder market makers", low=0, high=64),
         Parameter("n_arrivals", 1000, "time steps per episode (one arrival each)",
                   low=1, high=1_000_000),
         Parameter("mean_fundamental", 100_000, "mean of the fundamental, in ticks",
                   low=1, high=10**9),
         Parameter("mean_reversion", 0.05, "mean reversion per time step kappa", low=0.0,
                   high=1.0),
         Parameter("shock_variance", 1e6, "variance of the fundamental shock per step (ticks^2)",
                   low=0.0, high=1e15),
         Parameter("private_variance", 5e6, "variance of the private value draws (ticks^2)",
                   low=0.0, high=1e15),
         Parameter("max_position", 10, "position bound of a background trader (units)", low=1,
                   high=1000),
         Parameter("market_maker_rate", 1.0, "a market maker's arrival rate relative to a "
                   "background trader's", low=0.0, high=1e6),
         Parameter("n_informed", 0, "informed traders (signal of the final fundamental)",
                   low=0, high=4096),
         Parameter("signal_noise", 0.0, "standard deviation of an informed trader's signal "
                   "(ticks)", low=0.0, high=1e12)),
        tags=("simulation", "market making")),
    Scenario(
        "double_auction", "Gode-Sunder private-value double auction: unit buyers and sellers "
        "(simulation).",
        build_double_auction,
        (Parameter("n_buyers", 6, "buyers", low=1, high=4096),
         Parameter("n_sellers", 6, "sellers", low=1, high=4096),
         Parameter("units", 3, "units each trader may trade", low=1, high=1000),
         Parameter("value_low", 20, "lowest unit value / cost (ticks)", low=1, high=10**9),
         Parameter("value_high", 180, "highest unit value / cost (ticks)", low=1, high=10**9),
         Parameter("max_price", 200, "highest price on the grid (Gode and Sunder: 200)",
                   low=2, high=10**9),
         Parameter("n_arrivals", 600, "time steps per episode (one arrival each)", low=1,
                   high=1_000_000),
         Parameter("clear_after_trade", True, "every trade cancels all resting orders")),
        tags=("simulation",)),
)
