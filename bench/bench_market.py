"""Market simulator throughput: order arrivals per second summed over batched markets.

The ``order_book`` scenario with 63 ZI background traders (``zi_0_1000``) and one ladder market
maker (``mm``, 4 rungs a side) per market -- 64 agents -- at B = 1, 64, 1024 and 4096 parallel
markets (``--quick``: 1, 64, 256 and fewer steps), and the ``double_auction`` (12 unit traders,
``zi_c``) at the largest B. Arrivals per second count one arrival per market per time step;
the per-episode set-up (value draws, competitive equilibrium) is included. Both wall-clock and
process-CPU rates are printed (on a shared machine the second is the steadier). CPU threads:
``torch.get_num_threads()``; ``--device cuda`` where a GPU exists.

Not done here: the ABIDES comparison the issue asks for (no ABIDES run beside ours yet).

Run ``python bench/bench_market.py [--quick] [--sizes 1,64,4096] [--steps T] [--device cpu|cuda]``. Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import time

import torch

from gametools.market import simulate
from gametools.market.strategies import assign_strategies
from gametools.scenarios import get_scenario


def arrivals_per_second(scenario: str, params: dict, strategies: list[str], markets: int,
                        device: str) -> tuple[float, float]:
    config = get_scenario(scenario).build(**params)
    agents = assign_strategies(config, strategies)
    start, cpu = time.perf_counter(), time.process_time()
    stats = simulate(config, agents, episodes=markets, seed=0, device=device)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
    assert (stats.profit_ticks.sum(1) == stats.gains_ticks).all()  # accounting identity
    arrivals = markets * config.n_arrivals
    return arrivals / seconds, arrivals / cpu_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--sizes", default=None, help="comma-separated B values")
    parser.add_argument("--steps", type=int, default=None, help="arrivals per market")
    args = parser.parse_args()
    sizes = (1, 64, 256) if args.quick else (1, 64, 1024, 4096)
    if args.sizes:
        sizes = tuple(int(x) for x in args.sizes.split(","))
    steps = args.steps or (50 if args.quick else 200)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, device "
          f"{args.device}")
    print(f"order_book: 63 x zi_0_1000 + 1 x mm (64 agents), {steps} arrivals per market")
    for markets in sizes:
        rate, cpu_rate = arrivals_per_second(
            "order_book", {"n_background": 63, "n_market_makers": 1, "n_arrivals": steps},
            [], markets, args.device)
        print(f"  B = {markets:5d}: {rate:12,.0f} arrivals/s wall, {cpu_rate:12,.0f} per "
              f"CPU-second")
    markets = sizes[-1]
    rate, cpu_rate = arrivals_per_second("double_auction", {"n_arrivals": steps}, ["zi_c"],
                                         markets, args.device)
    print(f"double_auction: 12 x zi_c, B = {markets}: {rate:,.0f} arrivals/s wall, "
          f"{cpu_rate:,.0f} per CPU-second")


if __name__ == "__main__":
    main()
