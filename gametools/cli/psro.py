"""``gametools psro SCENARIO --role ROLE --algo ALGO``: PSRO over a market's strategy library.

::

    gametools psro SCENARIO --role ROLE[,ROLE...] --algo mappo|ippo|maddpg|iql [--iterations K]
                   [--out DIR] [--strategies [ROLE:]NAME,...] [--samples K] [--seed S]
                   [--players N|ROLE=N,...] [--train-steps T] [--num-envs B]
                   [--gain-episodes K] [--confidence C] [--bootstrap R] [--set k=v]...
                   [--param k=v]... [--device cpu|cuda] [--threads N] [--json]

Each iteration builds (or extends) the DPR empirical game of the strategy sets, solves it for a
meta-equilibrium by replicator dynamics, trains a best response for each ``ROLE`` with the
learner (``--role background,market_maker`` or ``--role`` repeated: one per role, all against
the same meta-equilibrium), and estimates each one's gain over the meta-equilibrium with paired
episodes (common random numbers): a one-sided lower confidence bound on that role's regret, so
on the meta-equilibrium's exploitability. The run stops when every bound reaches 0 (converged)
or after ``--iterations``. With ``--out`` finished iterations
and simulated profiles are kept and not redone. Exit status 3 when an iteration's empirical
game has no certified equilibrium.

The exploitability of a trained agent: give its policy file as its role's only strategy
(``--strategies buyer:learned:PATH,seller:zi_c``) and ``--iterations 1``; the first
iteration's meta-equilibrium is then every agent of that role playing the policy, and the
best response's gain is a one-sided lower bound on that profile's exploitability
(``gametools.market.psro.exploitability_lower_bound`` in Python).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from gametools.cli.common import CommandError, add_json_flag, add_param_flag, positive_int, \
    print_json

__all__ = ["register"]

EXIT_NOT_CERTIFIED = 3
# the budget defaults of gametools.market.psro (kept here so that --help imports no torch)
TRAIN_STEPS, NUM_ENVS, GAIN_EPISODES = 49_152, 1024, 4096


def _probability(text: str) -> float:
    value = float(text)
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"must lie strictly between 0 and 1, got {text}")
    return value


def register(commands: Any) -> None:
    parser = commands.add_parser("psro", help="PSRO: best responses trained against the "
                                              "empirical game's equilibrium (markets)")
    parser.add_argument("scenario", help="market scenario (order_book, double_auction)")
    add_param_flag(parser)
    parser.add_argument("--role", required=True, action="append", metavar="ROLE[,ROLE...]",
                        help="the role(s) whose best responses are trained (repeatable)")
    parser.add_argument("--algo", required=True, choices=("mappo", "ippo", "maddpg", "iql"))
    parser.add_argument("--iterations", type=positive_int, default=3,
                        help="best responses at most (default 3)")
    parser.add_argument("--out", default=None, help="folder for resumable results")
    parser.add_argument("--strategies", default=None, metavar="[ROLE:]NAME,...",
                        help="initial strategies (default: each role's default strategy)")
    parser.add_argument("--samples", type=positive_int, default=16,
                        help="episodes per simulated profile of the empirical game (16)")
    parser.add_argument("--players", default=None, metavar="N|ROLE=N,...",
                        help="reduced players per role (deviation-preserving reduction)")
    parser.add_argument("--train-steps", type=positive_int, default=TRAIN_STEPS,
                        help=f"decisions per best-response training ({TRAIN_STEPS})")
    parser.add_argument("--num-envs", type=positive_int, default=NUM_ENVS,
                        help=f"parallel markets while training ({NUM_ENVS})")
    parser.add_argument("--gain-episodes", type=positive_int, default=GAIN_EPISODES,
                        help=f"paired episodes per gain estimate ({GAIN_EPISODES})")
    parser.add_argument("--confidence", type=_probability, default=0.95,
                        help="level of the one-sided lower bound on the gain (0.95)")
    parser.add_argument("--bootstrap", type=positive_int, default=100,
                        help="bootstrap resamples of the meta-equilibrium's regret bound (100)")
    parser.add_argument("--set", action="append", default=[], metavar="K=V",
                        help="learner config field, e.g. learning_rate=1e-3 (repeatable)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--threads", type=positive_int, default=None,
                        help="torch/BLAS threads (default: the CPUs available)")
    add_json_flag(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from gametools.cli.egta import parse_players, strategy_lists
    from gametools.cli.simulate import load_market
    from gametools.limits import configure_threads
    from gametools.errors import InvalidArgumentError
    from gametools.market.psro import learner_config, parse_roles, run_psro
    from gametools.scenarios import parse_parameter_assignments

    config, resolved = load_market(args.scenario, args.param)
    present = [r for r in config.roles if config.agents_of(r)]
    for name in (part.strip() for item in args.role for part in item.split(",")):
        if name and name not in present:
            raise CommandError(f"--role {name!r}: roles of this market: {', '.join(present)}")
    try:
        roles = parse_roles(config, args.role)
    except InvalidArgumentError as exc:
        raise CommandError(f"--role: {exc}") from None
    if args.strategies is None:
        strategies = [[config.default_strategies[r]] if config.agents_of(r) else []
                      for r in range(len(config.roles))]
    else:
        strategies = strategy_lists(config, args.strategies)
    players = parse_players(config, args.players)
    changes = dict(parse_parameter_assignments(args.set))
    learner_config(args.algo, steps=args.train_steps, num_envs=args.num_envs,
                   **changes)  # validates the fields before any simulation
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise CommandError("--device cuda: no CUDA device is available")
    configure_threads(args.threads)
    label = args.scenario + "".join(f" {k}={v}" for k, v in sorted(resolved.items()))
    result = run_psro(config, roles, strategies, algorithm=args.algo,
                      iterations=args.iterations, out=args.out, samples=args.samples,
                      seed=args.seed, players=players, train_steps=args.train_steps,
                      num_envs=args.num_envs, gain_episodes=args.gain_episodes,
                      confidence=args.confidence, bootstrap=args.bootstrap,
                      learner_changes=changes, device=args.device,
                      progress=not args.json and sys.stderr.isatty(), label=label)
    if args.json:
        print_json({"scenario": args.scenario, "params": resolved, **result.to_dict()})
    else:
        print(f"{args.scenario}: PSRO for role{'s' if len(roles) > 1 else ''} "
              f"{', '.join(roles)} with {args.algo}: {result.status} after "
              f"{len(result.iterations)} iteration(s)")
        for item in result.iterations:
            for name in roles:
                r = config.roles.index(name)
                mix = ", ".join(f"{s} {p:.3f}" for s, p in
                                zip(item.strategies[r], item.meta_mixture[r]) if p > 1e-3)
                print(f"  [{item.iteration}] meta-equilibrium of {name} ({item.meta_status}): "
                      f"{mix}")
            for response in item.responses:
                gain = response.gain
                print(f"      {response.role}: best response {response.name}: gain "
                      f"{gain.gain:.4g} +- {gain.stderr:.4g}; regret of {response.role} >= "
                      f"{max(0.0, gain.lower):.4g} with {100 * gain.confidence:.0f}% confidence "
                      f"(one-sided lower bound, {gain.episodes} paired episodes)")
            bound = item.exploitability_lower_bound
            if bound is not None:
                joint = " (all roles' bounds together, Bonferroni)" if len(roles) > 1 else ""
                print(f"      exploitability >= {bound:.4g} with {100 * args.confidence:.0f}% "
                      f"confidence{joint}{' -> converged' if item.converged else ''}")
            print(f"      {item.wall_time:.1f} s wall, {item.cpu_time:.1f} s CPU")
    if result.status == "failed":
        print("gametools psro: replicator dynamics certified no meta-equilibrium of the "
              "empirical game", file=sys.stderr)
        return EXIT_NOT_CERTIFIED
    return 0
