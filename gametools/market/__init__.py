"""Many-agent order-book markets in torch, their strategies, and empirical game analysis.

- :mod:`gametools.market.simulator`: the batched continuous double auction and its statistics;
- :mod:`gametools.market.strategies`: zero-intelligence (Gode-Sunder, Wellman), ZIP (Cliff) and
  ladder market makers;
- :mod:`gametools.market.egta`: role-symmetric empirical games with deviation-preserving
  reduction, their equilibria and regret;
- :mod:`gametools.market.env`: the learning view (a batched ``VectorEnv`` and a PettingZoo
  ``ParallelEnv``) where controlled traders act among strategy-library opponents, and trained
  policies as library strategies (``learned:PATH``);
- :mod:`gametools.market.psro`: PSRO with MARL best responses, and lower bounds on the
  exploitability of any market strategy from paired (common random numbers) gain estimates.
"""

from gametools.market.simulator import (STATISTICS, ArrivalView, EpisodeStatistics, MarketConfig,
                                        MarketEvent, MarketSimulator, Orders, simulate)
from gametools.market.strategies import Strategy, make_strategy

__all__ = ["STATISTICS", "ArrivalView", "EpisodeStatistics", "MarketConfig", "MarketEvent",
           "MarketSimulator", "Orders", "Strategy", "make_strategy", "simulate"]
