"""The ABIDES side of ``bench/bench_market.py --abides``: our ``order_book`` design in ABIDES.

Run under a Python environment that has ABIDES (github:jpmorganchase/abides-jpmc-public,
``abides-core`` and ``abides-markets``; nothing of it is part of gametools); this file imports
only ABIDES and NumPy. It plays ``--episodes`` independent ABIDES simulations (a fresh kernel,
exchange, oracle and agents each) of one market with ``--agents`` Wellman zero-intelligence
background traders (``zi_A_B`` in gametools, Wah, Wright and Wellman 2017) and prints one JSON
line: arrivals (agent wake-ups at which a trader acted while the market was open), trades,
process CPU and wall seconds.

The trader, written here against ABIDES's ``TradingAgent`` API, follows
:class:`gametools.market.strategies.ZeroIntelligence` (``kind="surplus"``) and the
``order_book`` scenario: private values ``pv`` (``2Q`` draws from ``N(0, private_variance)``,
sorted decreasing), a position bound ``Q``; at each arrival it cancels its resting orders,
observes the fundamental exactly, estimates the final fundamental
``rbar + exp(-gamma (T - t)) (r_t - rbar)``, picks buy or sell by a fair coin and posts a unit
limit order at ``value -/+ U{A..B}``. The fundamental is ABIDES's ``SparseMeanRevertingOracle``
(an Ornstein-Uhlenbeck process) with megashocks switched off, its rate and volatility set so
that between two consecutive arrivals of the market it moves as gametools' per-arrival AR(1)
(mean reversion ``kappa`` and shock variance ``shock_variance`` per arrival).

Usage: ``python bench/abides_zi_market.py --agents 64 --arrivals 1000 --episodes 3``.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import time

import numpy as np
from abides_core import Kernel
from abides_core.utils import str_to_ns
from abides_markets.agents import ExchangeAgent, TradingAgent
from abides_markets.oracles import SparseMeanRevertingOracle
from abides_markets.orders import Side

SYMBOL = "ABM"  # the symbol ABIDES's exchange reports on at the close


class WellmanZI(TradingAgent):  # type: ignore[misc]
    """Wellman's background trader with surplus range ``[low, high]`` ticks."""

    def __init__(self, id: int, *, random_state: np.random.RandomState, rate: float,
                 r_bar: int, gamma: float, private_variance: float, max_position: int,
                 surplus: tuple[int, int]) -> None:
        super().__init__(id, f"zi {id}", "WellmanZI", random_state, starting_cash=10**12,
                         log_orders=False)
        self.rate, self.r_bar, self.gamma = rate, r_bar, gamma
        self.max_position = max_position
        self.surplus = surplus
        draws = random_state.normal(0.0, math.sqrt(private_variance), 2 * max_position)
        self.pv = np.sort(np.round(draws).astype(np.int64))[::-1]
        self.arrivals = 0
        self.fills = 0

    def kernel_starting(self, start_time: int) -> None:
        super().kernel_starting(start_time)
        self.oracle = self.kernel.oracle

    def get_wake_frequency(self) -> int:
        return math.floor(self.random_state.exponential(1.0 / self.rate) + 0.5)

    def wakeup(self, current_time: int) -> None:
        can_trade = super().wakeup(current_time)
        if not can_trade:
            return
        self.set_wakeup(current_time + self.get_wake_frequency())
        self.arrivals += 1
        self.cancel_all_orders()
        r_t = self.oracle.observe_price(SYMBOL, current_time, sigma_n=0,
                                        random_state=self.random_state)
        estimate = self.r_bar + math.exp(-self.gamma * (self.mkt_close - current_time)) * (
            r_t - self.r_bar)
        q = self.get_holdings(SYMBOL)
        buy = self.random_state.randint(2) == 0
        shade = self.random_state.randint(self.surplus[0], self.surplus[1] + 1)
        if buy and q < self.max_position:
            price = math.floor(estimate + self.pv[q + self.max_position]) - shade
            self.place_limit_order(SYMBOL, 1, Side.BID, max(price, 0))
        elif not buy and q > -self.max_position:
            price = math.ceil(estimate + self.pv[q - 1 + self.max_position]) + shade
            self.place_limit_order(SYMBOL, 1, Side.ASK, max(price, 0))

    def order_executed(self, order: object) -> None:
        super().order_executed(order)
        self.fills += 1


def episode(seed: int, agents: int, arrivals: int, r_bar: int, kappa: float,
            shock_variance: float, private_variance: float, max_position: int,
            surplus: tuple[int, int]) -> tuple[int, int]:
    """One ABIDES simulation; returns (arrivals, trades)."""
    np.random.seed(seed)  # ABIDES draws its megashock times from the global generator
    rng = np.random.RandomState(seed)
    open_ns = str_to_ns("09:30:00")
    duration = str_to_ns("01:00:00")
    close_ns = open_ns + duration
    step = duration / arrivals                # mean time between two arrivals in the market
    gamma = -math.log(1.0 - kappa) / step     # OU rate: exp(-gamma step) = 1 - kappa
    # OU variance over one step theta^2 / (2 gamma) (1 - (1 - kappa)^2) = shock_variance
    theta = math.sqrt(shock_variance * 2 * gamma / (1 - (1 - kappa) ** 2))
    symbols = {SYMBOL: {"r_bar": r_bar, "kappa": gamma, "sigma_s": 0, "fund_vol": theta,
                        "megashock_lambda_a": 1e-30, "megashock_mean": 0,
                        "megashock_var": 0, "random_state": np.random.RandomState(
                            rng.randint(2**31))}}
    oracle = SparseMeanRevertingOracle(open_ns, close_ns, symbols)
    exchange = ExchangeAgent(0, open_ns, close_ns, [SYMBOL], name="exchange",
                             type="ExchangeAgent", random_state=np.random.RandomState(
                                 rng.randint(2**31)), book_logging=False, pipeline_delay=0,
                             computation_delay=0, stream_history=0, log_orders=False,
                             use_metric_tracker=True)
    rate = arrivals / (agents * duration)     # each agent's Poisson arrival rate per ns
    traders = [WellmanZI(i, random_state=np.random.RandomState(rng.randint(2**31)), rate=rate,
                         r_bar=r_bar, gamma=gamma, private_variance=private_variance,
                         max_position=max_position, surplus=surplus)
               for i in range(1, agents + 1)]
    kernel = Kernel(agents=[exchange, *traders], start_time=open_ns - str_to_ns("00:01:00"),
                    stop_time=close_ns + str_to_ns("00:00:01"), default_computation_delay=0,
                    default_latency=0, skip_log=True, custom_properties={"oracle": oracle},
                    random_state=np.random.RandomState(rng.randint(2**31)))
    kernel.run()
    return sum(t.arrivals for t in traders), sum(t.fills for t in traders) // 2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=64)
    parser.add_argument("--arrivals", type=int, default=1000,
                        help="expected arrivals per episode (the market's Poisson rate)")
    parser.add_argument("--episodes", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--r-bar", type=int, default=100_000)
    parser.add_argument("--kappa", type=float, default=0.05)
    parser.add_argument("--shock-variance", type=float, default=1e6)
    parser.add_argument("--private-variance", type=float, default=5e6)
    parser.add_argument("--max-position", type=int, default=10)
    parser.add_argument("--surplus", default="0,1000")
    args = parser.parse_args()
    logging.disable(logging.CRITICAL)
    low, high = (int(x) for x in args.surplus.split(","))
    start, cpu = time.perf_counter(), time.process_time()
    arrivals = trades = 0
    for e in range(args.episodes):
        a, t = episode(args.seed + e, args.agents, args.arrivals, args.r_bar, args.kappa,
                       args.shock_variance, args.private_variance, args.max_position,
                       (low, high))
        arrivals += a
        trades += t
    print(json.dumps({"arrivals": arrivals, "trades": trades, "episodes": args.episodes,
                      "wall_s": time.perf_counter() - start,
                      "cpu_s": time.process_time() - cpu}))


if __name__ == "__main__":
    main()
