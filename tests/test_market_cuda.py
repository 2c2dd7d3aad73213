"""The torch market route on a CUDA device: the CPU's numbers where no random draw is involved,
and exact accounting everywhere. Runs only where CUDA is present."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gametools.market import EpisodeStatistics, MarketConfig, MarketSimulator, simulate
from gametools.market.strategies import assign_strategies
from gametools.scenarios import get_scenario
from test_market import random_schedule

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(),
                                reason="needs a CUDA GPU (torch.cuda.is_available() is False)")


def scheduled_flow(device: str, seed: int) -> EpisodeStatistics:
    """A random multi-unit order flow (limit and market orders, post-only quotes, partial fills,
    re-arrivals that cancel) with the arrival order given: nothing is drawn on ``device``, so
    every account and statistic is a function of the schedule alone."""
    n, b, t, k = 6, 8, 120, 3
    config = MarketConfig(roles=("trader",), agent_roles=(0,) * n, n_arrivals=t, min_price=1,
                          max_price=200_000, max_units=1, position_low=(0,) * n,
                          position_high=(0,) * n, fixed_side=(0,) * n,
                          value_model=("none",) * n, arrival_weights=(1.0,) * n)
    schedule = random_schedule(b, t, k, seed)
    arrivals = torch.randint(0, n, (b, t), generator=torch.Generator().manual_seed(seed))
    simulator = MarketSimulator(config, [schedule] * n, num_markets=b, seed=seed,
                                device=device, backend="torch")
    return simulator.run(arrivals=arrivals.to(device))


@pytest.mark.parametrize("seed", [1, 2])
def test_scheduled_flow_on_cuda_gives_the_cpu_numbers(seed: int) -> None:
    # integer ticks and a given schedule: the device changes nothing, bit for bit (the CPU
    # route is the reference checked against hand-built books in test_market.py)
    cpu, cuda = scheduled_flow("cpu", seed), scheduled_flow("cuda", seed)
    assert cpu.values["volume"].sum() > 0
    for name in ("profit_ticks", "cash_ticks", "positions", "gains_ticks", "traded_units"):
        np.testing.assert_array_equal(getattr(cpu, name), getattr(cuda, name), err_msg=name)
    for name, values in cpu.values.items():
        np.testing.assert_array_equal(values, cuda.values[name], err_msg=name)


def test_accounting_is_exact_on_cuda() -> None:
    # cash and units only change hands, so the sum of profits equals the realised gains from
    # trade exactly (integer ticks), whatever the device's random streams
    from games.order_book import build_order_book

    params = get_scenario("order_book").resolve(n_background=8, n_market_makers=1,
                                                n_arrivals=100, n_informed=2)
    config = build_order_book(**params)
    strategies = assign_strategies(config, ["zi_0_1000=4", "zip", "mm_3_100_200",
                                            "informed_100=1"])
    stats = simulate(config, strategies, episodes=64, seed=3, device="cuda", backend="torch")
    assert (stats.cash_ticks.sum(1) == 0).all() and (stats.positions.sum(1) == 0).all()
    assert (stats.profit_ticks.sum(1) == stats.gains_ticks).all()
    assert stats.values["volume"].sum() > 0
