"""Many-agent order-book markets in torch, their strategies, and empirical game analysis.

- :mod:`gametools.market.simulator`: the batched continuous double auction and its statistics;
- :mod:`gametools.market.strategies`: zero-intelligence (Gode-Sunder, Wellman), ZIP (Cliff) and
  ladder market makers;
- :mod:`gametools.market.egta`: role-symmetric empirical games with deviation-preserving
  reduction, their equilibria and regret.
"""

from gametools.market.simulator import (STATISTICS, ArrivalView, EpisodeStatistics, MarketConfig,
                                        MarketEvent, MarketSimulator, Orders, simulate)
from gametools.market.strategies import Strategy, make_strategy

__all__ = ["STATISTICS", "ArrivalView", "EpisodeStatistics", "MarketConfig", "MarketEvent",
           "MarketSimulator", "Orders", "Strategy", "make_strategy", "simulate"]
