"""PSRO on the 64-agent order book: 3 iterations end to end, against the goal of 3 iterations
in 30 minutes, with the exploitability lower bound plotted.

:func:`gametools.market.psro.run_psro` for the background role of ``order_book`` (63
background traders, one ladder market maker fixed; 200 arrivals; DPR 3 + 1 players), initial
strategies ``zi_0_250``, ``zi_0_1000``, ``zi_250_1000``, best responses trained by MAPPO with the
module's default budget, iterations run to the budget (``stop_at_convergence=False``) so every
iteration is timed. It prints each iteration's wall and CPU time, the meta-equilibrium and the
best response's gain with its one-sided 95% lower bound, and writes ``psro.json`` and the
figure ``psro_bound.{pdf,png}`` (``analyses.market_study.plot_psro_bounds``) to ``--out``.

``--baseline`` instead runs one iteration with the budget PSRO had before (32 markets, 6000
decisions, PPO updates every 16 steps at learning rate 3e-4, 1024 paired episodes in batches
of 1024) and one with the defaults, in the same process, and prints the ratio of their CPU
times and both gains (the comparison measured in one run). ``--roles background,market_maker`` trains both
roles each iteration (multi-role PSRO). ``--quick``: 15 + 1 agents, 100 arrivals, 2 iterations.

Run ``OMP_NUM_THREADS=1 python bench/bench_psro.py [--quick] [--baseline] [--out DIR]``.
Nothing here asserts a time.

Measured (``/usr/bin/time``, one thread, load average 12-23 on 2 shared cores, torch CPU):
3 iterations in 17.7 min wall, 151 s CPU (145.6 user + 5.4 system). Iteration 1: meta
zi_0_250 0.41 / zi_0_1000 0.15 / zi_250_1000 0.44, best response gain 300 +- 49 ticks,
exploitability >= 218 (one-sided 95%); iteration 2: meta psro1, gain 120 +- 46, bound 44;
iteration 3: meta psro1, gain 9 +- 48, bound 0 (converged). 43, 43 and 59 s CPU per
iteration: training most of it (about 20-25 s for 49152 decisions against ZI opponents; more
once the opponents play a learned policy, which runs its network at every arrival), the gain's
8192 simulated episodes about 6 s, the empirical game's new profiles and the replicator
dynamics a few seconds. The previous budget measured 72.9
min wall and 22.7 min CPU for 3 iterations at load 12-19 (with the simulator of that time).
``--baseline`` in one run (load 13-18): previous budget 56 s CPU, gain -65 +- 105 (no bound);
defaults 37 s CPU, gain 300 +- 49, bound 218 (ratio 1.51; the first run carries the imports).
``--roles background,market_maker --iterations 1``: 72 s CPU, 12.8 min wall at 9% of a CPU;
the market maker's best response gains 2070 +- 113 (bound 1885) over the ladder market maker.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_WAIT_POLICY", "passive")

from gametools.scenarios import get_scenario  # noqa: E402

OLD_BUDGET = {"train_steps": 6_000, "num_envs": 32, "gain_episodes": 1024,
              "learner_changes": {"rollout_steps": 16, "learning_rate": 3e-4}}


def show(result: Any, roles: list[str], config: Any) -> None:
    for item in result.iterations:
        mixes = "; ".join(
            ", ".join(f"{name} {p:.2f}" for name, p in zip(item.strategies[r],
                                                           item.meta_mixture[r]) if p > 5e-3)
            for r in range(len(config.roles)) if config.agents_of(r))
        print(f"  [{item.iteration}] {item.wall_time:7.1f} s wall {item.cpu_time:7.1f} s CPU; "
              f"meta ({item.meta_status}, regret {item.meta_regret:.3g}): {mixes}")
        for response in item.responses:
            gain = response.gain
            print(f"      {response.role} {response.name}: gain {gain.gain:9.1f} +- "
                  f"{gain.stderr:7.1f} ticks, lower bound {gain.lower:9.1f} (one-sided "
                  f"{100 * gain.confidence:.0f}%, {gain.episodes} paired episodes)")
        bound = item.exploitability_lower_bound
        if bound is not None:
            print(f"      exploitability >= {bound:.1f}{' converged' if item.converged else ''}")


def run(config: Any, roles: list[str], initial: list[list[str]], iterations: int,
        out: Path | None, samples: int, **budget: Any) -> tuple[Any, float, float]:
    from gametools.market.psro import run_psro

    start, cpu = time.perf_counter(), time.process_time()
    result = run_psro(config, roles, initial, algorithm="mappo", iterations=iterations,
                      out=out, seed=0, bootstrap=50, samples=samples,
                      stop_at_convergence=False, label="bench_psro", **budget)
    return result, time.perf_counter() - start, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--baseline", action="store_true")
    parser.add_argument("--roles", default="background")
    parser.add_argument("--iterations", type=int, default=None)
    parser.add_argument("--out", default=None, help="results folder (resumable)")
    args = parser.parse_args()
    from gametools.limits import configure_threads

    configure_threads(1)
    if args.quick:
        params = {"n_background": 15, "n_market_makers": 1, "n_arrivals": 100}
        initial, iterations, samples = [["zi_0_250", "zi_0_1000"], ["mm"]], 2, 64
    else:
        params = {"n_background": 63, "n_market_makers": 1, "n_arrivals": 200}
        initial, iterations = [["zi_0_250", "zi_0_1000", "zi_250_1000"], ["mm"]], 3
        # a single deviating agent's payoff is noisy (three arrivals per episode): 256
        # episodes per profile resolve gains of a few hundred ticks (12 did not: the first best
        # response's gain of 234 +- 50 was invisible to the empirical game), for seconds of CPU
        samples = 256
    iterations = args.iterations or iterations
    roles = args.roles.split(",")
    config = get_scenario("order_book").build(**params)
    out = None if args.out is None else Path(args.out)
    print(f"PSRO: order_book {params} ({config.num_agents} agents), roles {roles}, mappo, "
          f"{iterations} iterations, load average {os.getloadavg()}")
    if args.baseline:
        for label, budget in (("previous budget", OLD_BUDGET), ("defaults", {})):
            result, wall, cpu = run(config, roles, initial, 1, None, samples, **budget)
            print(f"one iteration, {label} {budget}: {wall:.0f} s wall, {cpu:.0f} s CPU")
            show(result, roles, config)
            if label == "previous budget":
                old_cpu = cpu
        print(f"  CPU ratio previous / defaults: {old_cpu / cpu:.2f}")
        return
    result, wall, cpu = run(config, roles, initial, iterations, out, samples)
    show(result, roles, config)
    print(f"  total: {wall:.0f} s wall ({wall / 60:.1f} min; goal: 3 iterations in 30 min), "
          f"{cpu:.0f} s CPU ({cpu / 60:.1f} min), status {result.status}, load average "
          f"{os.getloadavg()}")
    if out is not None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from analyses.market_study import plot_psro_bounds, psro_rows
        from gametools.plotting import paper_style, save_figure

        with paper_style():
            figure, ax = plt.subplots(figsize=(5.0, 3.2))
            plot_psro_bounds(psro_rows([it.to_dict() for it in result.iterations]), ax=ax)
            figure.tight_layout()
            for path in save_figure(figure, out / "psro_bound"):
                print(path)
            plt.close(figure)


if __name__ == "__main__":
    main()
