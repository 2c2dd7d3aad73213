"""``gametools simulate SCENARIO``: statistics of a market scenario over many episodes.

::

    gametools simulate SCENARIO [--param k=v]... [--strategy [ROLE:]NAME[=COUNT]]...
                       [--episodes K] [--seed S] [--device cpu|cuda] [--json]

Each episode is one independent market (all of them simulated as one batch); every per-episode
statistic is reported as its mean and standard error over the episodes where it is defined.
"""

from __future__ import annotations

import argparse
from typing import Any

from gametools.cli.common import CommandError, add_json_flag, add_param_flag, positive_int, \
    print_json

__all__ = ["register", "load_market"]


def register(commands: Any) -> None:
    parser = commands.add_parser("simulate", help="simulate a market scenario's statistics")
    parser.add_argument("scenario", help="market scenario (order_book, double_auction)")
    add_param_flag(parser)
    parser.add_argument("--strategy", action="append", default=[], metavar="[ROLE:]NAME[=COUNT]",
                        help="strategy for the next COUNT agents (all remaining without COUNT) "
                             "of the roles it can play; repeatable; others play the role's "
                             "default (zi_c, zi_u, zip, zi_A_B, mm, mm_K_XI_OMEGA)")
    parser.add_argument("--episodes", type=positive_int, default=100,
                        help="independent episodes (default 100)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    add_json_flag(parser)
    parser.set_defaults(handler=run)


def load_market(name: str, params: list[str]) -> tuple[Any, dict[str, Any]]:
    """The :class:`~gametools.market.MarketConfig` of market scenario ``name`` and its resolved
    parameters; a scenario that is not a market simulation is a :class:`CommandError`."""
    from gametools.scenarios import get_scenario, parse_parameter_assignments

    scenario = get_scenario(name)
    if "simulation" not in scenario.tags:
        raise CommandError(f"scenario {name!r} is a game, not a market simulation; market "
                           f"scenarios: order_book, double_auction")
    resolved = scenario.resolve(**parse_parameter_assignments(params))
    return scenario.builder(**resolved), resolved


def run(args: argparse.Namespace) -> int:
    from gametools.market import simulate
    from gametools.market.strategies import assign_strategies

    config, resolved = load_market(args.scenario, args.param)
    strategies = assign_strategies(config, args.strategy)
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise CommandError("--device cuda: no CUDA device is available")
    stats = simulate(config, strategies, episodes=args.episodes, seed=args.seed,
                     device=args.device)
    summary = stats.summary()
    if args.json:
        print_json({"scenario": args.scenario, "params": resolved, "episodes": args.episodes,
                    "seed": args.seed, "strategies": list(stats.strategies),
                    "statistics": {k: {kk: (None if isinstance(vv, float) and vv != vv else vv)
                                       for kk, vv in v.items()} for k, v in summary.items()},
                    "profit_per_agent": [
                        {k: (None if isinstance(v, float) and v != v else v)
                         for k, v in _mean_error(stats.profits[:, i]).items()}
                        for i in range(config.num_agents)]})
        return 0
    counts: dict[str, int] = {}
    for name in stats.strategies:
        counts[name] = counts.get(name, 0) + 1
    print(f"{args.scenario}: {config.num_agents} agents "
          f"({', '.join(f'{n} x {k}' for k, n in counts.items())}), {args.episodes} episodes "
          f"of {config.n_arrivals} arrivals, seed {args.seed}")
    width = max(len(k) for k in summary)
    for name, value in summary.items():
        print(f"  {name:<{width}}  {value['mean']:12.6g} +- {value['stderr']:.3g}"
              f"  (n={value['n']})")
    return 0


def _mean_error(values: Any) -> dict[str, float | int]:
    from gametools.market.simulator import mean_and_error

    return mean_and_error(values)
