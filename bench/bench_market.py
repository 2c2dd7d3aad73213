"""Market simulator throughput: order arrivals per second summed over batched markets.

The ``order_book`` scenario with 63 ZI background traders (``zi_0_1000``) and one ladder market
maker (``mm``, 4 rungs a side) per market -- 64 agents -- at B = 1, 64, 1024 and 4096 parallel
markets (``--quick``: 1, 64, 256 and fewer steps), and the ``double_auction`` (12 unit traders,
``zi_c``) at the largest B. Arrivals per second count one arrival per market per time step;
the per-episode set-up (value draws, competitive equilibrium) is included. Both wall-clock and
process-CPU rates are printed (on a shared machine the second is the steadier). CPU threads:
``torch.get_num_threads()``; ``--device cuda`` where a GPU exists.

Not done here: the ABIDES comparison the issue asks for (no ABIDES run beside ours yet).

PSRO section (``--section psro``): :func:`gametools.market.psro.run_psro` for the background
role of ``order_book`` with the market maker fixed, best responses trained by MAPPO, iterations
run to the budget (``stop_at_convergence=False``) so every iteration is timed. Full mode: 63
background traders and one market maker (64 agents, DPR 3 + 1 players), 200 arrivals, three
initial ZI strategies, 3 iterations, against the issue's goal of 3 iterations in 30 minutes;
``--quick``: 15 + 1 agents, 100 arrivals, 2 iterations. It prints each iteration's wall and CPU
time, the meta-equilibrium and the best response's gain with its one-sided 95% lower bound.

Run ``python bench/bench_market.py [--quick] [--section throughput|psro|all] [--sizes 1,64,4096]
[--steps T] [--device cpu|cuda] [--threads N] [--out DIR]``. Nothing here asserts a time.
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


def psro_section(quick: bool, device: str, out: str | None) -> None:
    from gametools.market.psro import run_psro

    if quick:
        params = {"n_background": 15, "n_market_makers": 1, "n_arrivals": 100}
        initial, iterations = ["zi_0_250", "zi_0_1000"], 2
        budget = {"samples": 8, "train_steps": 2_000, "num_envs": 16, "gain_episodes": 256}
    else:
        params = {"n_background": 63, "n_market_makers": 1, "n_arrivals": 200}
        initial, iterations = ["zi_0_250", "zi_0_1000", "zi_250_1000"], 3
        budget = {"samples": 12, "train_steps": 6_000, "num_envs": 32,
                  "gain_episodes": 1024}
    config = get_scenario("order_book").build(**params)
    n = config.num_agents
    print(f"PSRO: order_book {params}, role background, mappo, {iterations} iterations, "
          f"{budget}")
    start, cpu = time.perf_counter(), time.process_time()
    result = run_psro(config, "background", [initial, ["mm"]], algorithm="mappo",
                      iterations=iterations, out=out, seed=0, bootstrap=50, device=device,
                      stop_at_convergence=False, label=f"bench order_book {params}",
                      **budget)  # type: ignore[arg-type]
    wall, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
    for item in result.iterations:
        mix = ", ".join(f"{name} {p:.2f}" for name, p in zip(item.strategies[0],
                                                            item.meta_mixture[0]) if p > 5e-3)
        gain = item.gain
        text = "no best response" if gain is None else (
            f"gain {gain.gain:9.1f} +- {gain.stderr:7.1f} ticks, exploitability >= "
            f"{max(0.0, gain.lower):8.1f} (one-sided {100 * gain.confidence:.0f}%)"
            f"{' converged' if item.converged else ''}")
        print(f"  [{item.iteration}] {item.wall_time:7.1f} s wall {item.cpu_time:7.1f} s CPU; "
              f"meta ({item.meta_status}, regret {item.meta_regret:.3g}): {mix}; {text}")
    print(f"  total: {wall:.0f} s wall ({wall / 60:.1f} min; goal: 3 iterations in 30 min), "
          f"{cpu_seconds:.0f} s CPU, {n} agents, status {result.status}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--sizes", default=None, help="comma-separated B values")
    parser.add_argument("--steps", type=int, default=None, help="arrivals per market")
    parser.add_argument("--section", default="throughput", choices=("throughput", "psro", "all"))
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: the CPUs available)")
    parser.add_argument("--out", default=None, help="PSRO results folder (resumable)")
    args = parser.parse_args()
    from gametools.limits import configure_threads

    configure_threads(args.threads)
    if args.section in ("psro", "all"):
        psro_section(args.quick, args.device, args.out)
        if args.section == "psro":
            return
    sizes: tuple[int, ...] = (1, 64, 256) if args.quick else (1, 64, 1024, 4096)
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
