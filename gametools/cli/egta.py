"""``gametools egta SCENARIO --strategies A,B,...``: the empirical game of market strategies.

::

    gametools egta SCENARIO --strategies [ROLE:]NAME,... [--players N | ROLE=N,...]
                   [--samples K] [--out DIR] [--backend local|ray] [--workers W] [--seed S]
                   [--param k=v]...
                   [--bootstrap R] [--time T] [--steps K] [--device cpu|cuda] [--json]

Strategies without a role go to every role that can play them; a role given none plays its
default strategy only. The game is reduced by deviation-preserving reduction to ``--players``
players per role (default: the largest of at most 4 that the agent counts allow), every needed
profile is simulated ``--samples`` times, and the equilibria found by replicator dynamics are
reported with their regret and its one-sided bootstrap upper confidence bound. With ``--out``
finished profiles are stored and not simulated again. Exit status 3 when no rest point was certified.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from gametools.cli.common import CommandError, add_json_flag, add_param_flag, positive_int, \
    print_json

__all__ = ["register", "strategy_lists", "parse_players"]

EXIT_NOT_CERTIFIED = 3


def register(commands: Any) -> None:
    parser = commands.add_parser("egta", help="empirical game of market strategies (DPR)")
    parser.add_argument("scenario", help="market scenario (order_book, double_auction)")
    add_param_flag(parser)
    parser.add_argument("--strategies", required=True, metavar="[ROLE:]NAME,...",
                        help="comma-separated strategy names")
    parser.add_argument("--players", default=None, metavar="N|ROLE=N,...",
                        help="reduced players per role")
    parser.add_argument("--samples", type=positive_int, default=32,
                        help="episodes per simulated profile (default 32)")
    parser.add_argument("--bootstrap", type=positive_int, default=200,
                        help="bootstrap resamples for the regret intervals (default 200)")
    parser.add_argument("--time", type=float, default=1000.0,
                        help="replicator dynamics horizon in inverse payoff ranges (1000)")
    parser.add_argument("--steps", type=positive_int, default=1000,
                        help="replicator dynamics RK4 steps (1000)")
    parser.add_argument("--out", default=None, help="folder for resumable results")
    parser.add_argument("--backend", default="local", choices=("local", "ray"),
                        help="where profiles are simulated: this process, or Ray tasks "
                             "(same numbers; needs ray)")
    parser.add_argument("--workers", type=positive_int, default=None,
                        help="CPUs of a local Ray instance (default: the CPUs available)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    add_json_flag(parser)
    parser.set_defaults(handler=run)


def strategy_lists(config: Any, text: str) -> list[list[str]]:
    from gametools.market.strategies import make_strategy, split_role

    lists: list[list[str]] = [[] for _ in config.roles]
    for item in (t.strip() for t in text.split(",")):
        if not item:
            raise CommandError(f"--strategies has an empty entry: {text!r}")
        role, name = split_role(item)
        allowed = make_strategy(name).roles
        if role:
            if role not in config.roles:
                raise CommandError(f"unknown role {role!r}; roles: {', '.join(config.roles)}")
            targets = [config.roles.index(role)]
        else:
            targets = [r for r, rn in enumerate(config.roles)
                       if allowed is None or rn in allowed]
        for r in targets:
            if config.agents_of(r) and name not in lists[r]:
                lists[r].append(name)
    for r, names in enumerate(lists):
        if config.agents_of(r) and not names:
            names.append(config.default_strategies[r])
    return lists


def parse_players(config: Any, text: str | None) -> tuple[int, ...] | None:
    if text is None:
        return None
    sizes = [len(config.agents_of(r)) for r in range(len(config.roles))]
    try:
        if "=" not in text:
            n = int(text)
            return tuple(n if size > 1 else size for size in sizes)
        out = [size if size <= 1 else None for size in sizes]
        for pair in text.split(","):
            role, _, value = pair.partition("=")
            if role.strip() not in config.roles:
                raise CommandError(f"unknown role {role!r}; roles: {', '.join(config.roles)}")
            out[config.roles.index(role.strip())] = int(value)
    except ValueError:
        raise CommandError(f"--players takes N or ROLE=N,..., got {text!r}") from None
    from gametools.market.egta import default_players

    defaults = default_players(config)
    return tuple(defaults[r] if v is None else v for r, v in enumerate(out))


def run(args: argparse.Namespace) -> int:
    from gametools.cli.simulate import load_market
    from gametools.market.egta import run_egta

    config, resolved = load_market(args.scenario, args.param)
    strategies = strategy_lists(config, args.strategies)
    players = parse_players(config, args.players)
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise CommandError("--device cuda: no CUDA device is available")
    if args.backend == "ray":
        import importlib.util

        if importlib.util.find_spec("ray") is None:
            raise CommandError("--backend ray needs Ray, which is not installed; install it "
                               "with `pip install 'gametools[ray]'` or use --backend local")
    result = run_egta(config, strategies, players=players, samples=args.samples, seed=args.seed,
                      out=args.out, device=args.device, bootstrap=args.bootstrap,
                      progress=not args.json and sys.stderr.isatty(), time=args.time,
                      steps=args.steps, backend=args.backend, workers=args.workers)
    certified = any(e.solver_status == "success" for e in result.equilibria)
    if args.json:
        print_json({"scenario": args.scenario, "params": resolved, "samples": args.samples,
                    "seed": args.seed, **result.to_dict()})
    else:
        g = result.game
        print(f"{args.scenario}: roles {', '.join(f'{r} ({n} agents -> {m} players)' for r, n, m in zip(g.roles, g.full_sizes, g.players))}; "
              f"{len(g.samples)} profiles x {args.samples} episodes")
        for k, e in enumerate(result.equilibria, 1):
            mix = "; ".join(f"{role}: " + ", ".join(f"{name} {p:.3f}" for name, p in
                                                    zip(g.strategies[r], e.mixture[r]) if p > 1e-3)
                            for r, role in enumerate(g.roles) if g.players[r])
            print(f"  [{k}] {mix}")
            print(f"      regret {e.regret:.4g}, at most {e.regret_interval[1]:.4g} with "
                  f"{100 * e.confidence:.0f}% confidence (one-sided bootstrap upper bound)"
                  f"{'' if e.solver_status == 'success' else ' (not certified: ' + e.solver_status + ')'}")
    if not certified:
        print("gametools egta: replicator dynamics certified no rest point as an equilibrium",
              file=sys.stderr)
        return EXIT_NOT_CERTIFIED
    return 0
