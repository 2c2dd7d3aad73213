"""Market simulator throughput: order arrivals per second summed over batched markets.

The ``order_book`` scenario with 63 ZI background traders (``zi_0_1000``) and one ladder market
maker (``mm``, 4 rungs a side) per market -- 64 agents -- at B = 1, 64, 1024 and 4096 parallel
markets (``--quick``: 1, 64, 256 and fewer steps), and the ``double_auction`` (12 unit traders,
``zi_c``) at the largest B. Arrivals per second count one arrival per market per time step;
the per-episode set-up (value draws, competitive equilibrium) is included. Both wall-clock and
process-CPU rates are printed (on a shared machine the second is the steadier). CPU threads:
``torch.get_num_threads()``; ``--device cuda`` where a GPU exists. Each size runs both routes of
the simulator in this run (``--backends torch,compiled``): ``torch``, batched tensor operations
step by step (the reference, and the route on CUDA), and ``compiled``, the numba kernel that
plays every market's episode in one call (same numbers bit for bit); numba's import and the
kernels' load from the disk cache happen once per process in a warm-up whose time is printed.

ABIDES section (``--abides PYTHON``, PYTHON an interpreter with ABIDES installed,
github:jpmorganchase/abides-jpmc-public): the same market design run by both simulators in this
run -- 64 Wellman ZI background traders (``zi_0_1000``), no market maker, private values
``N(0, 5e6)`` for positions up to 10 units, a fundamental mean-reverting to 100000 ticks at
``kappa = 0.05`` per arrival with shock variance ``1e6`` per arrival, 1000 arrivals per episode
-- ours as B batched markets (``--abides-markets``, default the largest size), ABIDES as
``--abides-episodes`` sequential simulations of ``bench/abides_zi_market.py`` in a subprocess
(its own CPU and wall time, measured inside it). It prints arrivals per second (wall and CPU)
for both, the ratio, and trades per 1000 arrivals as a check that the two markets behave alike.
What differs between the two designs (see also ``bench/abides_zi_market.py``):

- arrivals: ours one arrival per market per time step, the agent drawn uniformly; ABIDES each
  agent on its own Poisson clock (same expected count per episode, random total);
- time: ABIDES is a discrete-event simulator with messages between agents and the exchange
  (computation delay and latency set to 0 here); ours has no messages, an arrival's orders
  reach the book at once;
- fundamental: ours the per-step AR(1) rounded to ticks; ABIDES an Ornstein-Uhlenbeck process
  observed at arrival times (rate and volatility matched per mean inter-arrival time,
  megashocks off), so its increments between arrivals vary with the random gaps;
- estimate of the final fundamental: both ``rbar + (1 - kappa)^(T - t) (r_t - rbar)``, in ABIDES
  with the continuous-time exponent;
- order handling: ABIDES cancels resting orders by messages processed before the new order
  (same result here as the delays are 0), tracks cash and holdings per agent object, logs
  events; ours keeps integer cash and positions in tensors and computes per-episode statistics
  (surplus, efficiency, spread, price deviations) that the ABIDES run does not;
- cash: ABIDES agents start with cash and could be cash-constrained (set to 10^12 so they are
  not); ours has no cash constraint.

The PSRO benchmark is ``bench/bench_psro.py``.

Run ``python bench/bench_market.py [--quick] [--sizes 1,64,4096]
[--steps T] [--device cpu|cuda] [--threads N] [--out DIR] [--abides PYTHON]
[--ours-abides-design] [--backends torch,compiled] [--repeats R]``. Nothing here asserts a
time. ``OMP_WAIT_POLICY=passive`` is set before torch loads: with spinning OpenMP threads a
loaded 2-core machine spent 13x the CPU per arrival (the previous simulator measured 12.2k
arrivals per CPU-second at B = 4096 with spinning threads, 162k with passive ones).

Measured (one run, ``--threads 1 --ours-abides-design --repeats 3``, medians, load average 23
on 2 cores, torch 2.13 CPU): B = 4096, 63 ZI + 1 market maker, 200 arrivals: compiled 1.12M
arrivals per CPU-second (294k wall), torch 244k (59k wall), 4.6x; B = 1024: 1.79M against
161k; B = 64: 1.04M against 16.7k; double_auction B = 4096: 7.96M against 618k; the ABIDES
design (64 ZI, 1000 arrivals, B = 4096, one run each): compiled 3.86M, torch 491k per
CPU-second, 57.9 trades per 1000 arrivals in both. With ABIDES in the same run
(``--sizes 4096 --threads 1 --abides PYTHON``, load average 13.6-13.9, ABIDES at commit
f9cbe51 of github:jpmorganchase/abides-jpmc-public under Python 3.9, numpy 1.22, pandas
1.2.4): ours
compiled 3.88M and torch 458k arrivals per CPU-second, ABIDES 1,127 (3 episodes, 2948
arrivals, 2.6 s CPU): 3,443x (compiled) and 406x (torch) per CPU-second, 3,985x and 454x
wall; 57.9 against 57.3 trades per 1000 arrivals. A run
at load 12-13 (one repeat): B = 4096 compiled 1.29M, torch 299k per CPU-second.
An earlier run of the torch route: 295k arrivals per CPU-second
with 2 threads, 302k with 1 (load 22-25); the ABIDES section then: ours 449k, ABIDES 1.85k
(243x; 252x wall).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

# spinning OpenMP threads burn CPU on a loaded machine; read when the OpenMP runtime loads
os.environ.setdefault("OMP_WAIT_POLICY", "passive")

import torch

from gametools.market import simulate
from gametools.market.strategies import assign_strategies
from gametools.scenarios import get_scenario


def arrivals_per_second(scenario: str, params: dict, strategies: list[str], markets: int,
                        device: str, backend: str = "auto", repeats: int = 1
                        ) -> tuple[float, float]:
    """Median arrivals per wall and per CPU second over ``repeats`` runs."""
    runs = [timed_run(scenario, params, strategies, markets, device, backend)[:2]
            for _ in range(repeats)]
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)


def timed_run(scenario: str, params: dict, strategies: list[str], markets: int,
              device: str, backend: str = "auto") -> tuple[float, float, float]:
    """Arrivals per wall and per CPU second, and trades per 1000 arrivals."""
    config = get_scenario(scenario).build(**params)
    agents = assign_strategies(config, strategies)
    start, cpu = time.perf_counter(), time.process_time()
    stats = simulate(config, agents, episodes=markets, seed=0, device=device, backend=backend)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
    assert (stats.profit_ticks.sum(1) == stats.gains_ticks).all()  # accounting identity
    arrivals = markets * config.n_arrivals
    trades = float(stats.values["trades"].sum())
    return arrivals / seconds, arrivals / cpu_seconds, 1000 * trades / arrivals


def warm_up(backends: list[str], device: str) -> None:
    """Load numba and the compiled kernels from their disk cache (compile them on the first run
    ever) outside the timings; the time it takes is printed."""
    if "compiled" not in backends:
        return
    start, cpu = time.perf_counter(), time.process_time()
    for scenario, strategies in (("order_book", []), ("double_auction", ["zi_c"])):
        timed_run(scenario, {"n_arrivals": 5}, strategies, 2, device, "compiled")
    print(f"compiled kernels loaded in {time.perf_counter() - start:.2f} s wall, "
          f"{time.process_time() - cpu:.2f} s CPU (once per process; not in the rates below)")


def abides_section(python: str | None, markets: int, episodes: int, steps: int, device: str,
                   backends: list[str]) -> None:
    """The same market design in gametools (batched) and in ABIDES (a subprocess)."""
    params = {"n_background": 64, "n_market_makers": 0, "n_arrivals": steps}
    print(f"ABIDES comparison: 64 x zi_0_1000, no market maker, {steps} arrivals per episode")
    ours = {}
    for backend in backends:
        rate, cpu_rate, trades = timed_run("order_book", params, [], markets, device, backend)
        ours[backend] = rate, cpu_rate
        print(f"  gametools {backend:8s} B = {markets:5d}: {rate:12,.0f} arrivals/s wall, "
              f"{cpu_rate:12,.0f} per CPU-second; {trades:.1f} trades per 1000 arrivals")
    if python is None:
        print("  ABIDES not run (no --abides PYTHON)")
        return
    script = Path(__file__).with_name("abides_zi_market.py").resolve()
    with tempfile.TemporaryDirectory() as scratch:  # ABIDES writes log/<time>/ into its cwd
        done = subprocess.run([python, str(script), "--agents", "64", "--arrivals", str(steps),
                               "--episodes", str(episodes)], capture_output=True, text=True,
                              check=False, cwd=scratch)
    if done.returncode != 0:
        print(f"  ABIDES failed ({python}): {done.stderr.strip().splitlines()[-1:]}")
        return
    result = json.loads(done.stdout.strip().splitlines()[-1])
    a_rate = result["arrivals"] / result["wall_s"]
    a_cpu = result["arrivals"] / result["cpu_s"]
    print(f"  ABIDES {episodes} episodes: {a_rate:12,.0f} arrivals/s wall, {a_cpu:12,.0f} per "
          f"CPU-second; {1000 * result['trades'] / result['arrivals']:.1f} trades per 1000 "
          f"arrivals ({result['arrivals']} arrivals, {result['cpu_s']:.1f} s CPU, "
          f"{result['wall_s']:.1f} s wall)")
    for backend, (rate, cpu_rate) in ours.items():
        print(f"  ratio gametools {backend} / ABIDES: {rate / a_rate:,.0f}x wall, "
              f"{cpu_rate / a_cpu:,.0f}x CPU (goal: 100x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--sizes", default=None, help="comma-separated B values")
    parser.add_argument("--steps", type=int, default=None, help="arrivals per market")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: the CPUs available)")
    parser.add_argument("--abides", default=None, metavar="PYTHON",
                        help="an interpreter with ABIDES installed: run the ABIDES comparison")
    parser.add_argument("--abides-markets", type=int, default=None,
                        help="gametools markets in the ABIDES comparison (default: largest B)")
    parser.add_argument("--abides-episodes", type=int, default=3)
    parser.add_argument("--abides-steps", type=int, default=1000,
                        help="arrivals per episode in the ABIDES comparison")
    parser.add_argument("--ours-abides-design", action="store_true",
                        help="time our side of the ABIDES comparison even without --abides")
    parser.add_argument("--repeats", type=int, default=1,
                        help="runs per size and route in the throughput table (median printed)")
    parser.add_argument("--backends", default="torch,compiled",
                        help="simulator routes to time, in this run (torch: the reference "
                             "route, compiled: the numba kernel; default both)")
    args = parser.parse_args()
    from gametools.limits import configure_threads

    configure_threads(args.threads)
    sizes: tuple[int, ...] = (1, 64, 256) if args.quick else (1, 64, 1024, 4096)
    if args.sizes:
        sizes = tuple(int(x) for x in args.sizes.split(","))
    steps = args.steps or (50 if args.quick else 200)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if args.device != "cpu":
        backends = [b for b in backends if b != "compiled"]  # the kernel runs on the CPU
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, device "
          f"{args.device}, load average {os.getloadavg()[0]:.1f} at the start")
    warm_up(backends, args.device)
    print(f"order_book: 63 x zi_0_1000 + 1 x mm (64 agents), {steps} arrivals per market, "
          f"median of {args.repeats} run(s)")
    rates: dict[tuple[str, int], float] = {}
    for markets in sizes:
        for backend in backends:
            rate, cpu_rate = arrivals_per_second(
                "order_book", {"n_background": 63, "n_market_makers": 1, "n_arrivals": steps},
                [], markets, args.device, backend, args.repeats)
            rates[backend, markets] = cpu_rate
            print(f"  {backend:8s} B = {markets:5d}: {rate:12,.0f} arrivals/s wall, "
                  f"{cpu_rate:12,.0f} per CPU-second")
        if "torch" in backends and "compiled" in backends:
            print(f"  compiled / torch at B = {markets}: "
                  f"{rates['compiled', markets] / rates['torch', markets]:.1f}x per CPU-second")
    markets = sizes[-1]
    for backend in backends:
        rate, cpu_rate = arrivals_per_second("double_auction", {"n_arrivals": steps}, ["zi_c"],
                                             markets, args.device, backend)
        print(f"double_auction: 12 x zi_c, {backend:8s} B = {markets}: {rate:,.0f} arrivals/s "
              f"wall, {cpu_rate:,.0f} per CPU-second")
    if args.abides or args.ours_abides_design:
        abides_section(args.abides, args.abides_markets or markets, args.abides_episodes,
                       args.abides_steps, args.device, backends)
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
