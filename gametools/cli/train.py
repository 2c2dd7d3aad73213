"""``gametools train SCENARIO --algo A``: train multi-agent learners, measure exploitability."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from gametools.cli.common import add_json_flag, add_param_flag, positive_int, print_json

__all__ = ["register"]


def register(commands: Any) -> None:
    parser = commands.add_parser("train", help="train MARL agents and measure exploitability")
    parser.add_argument("scenario", help="scenario name (see `gametools games`)")
    parser.add_argument("--algo", required=True,
                        choices=("maddpg", "mappo", "ippo", "maa2c", "qmix", "vdn", "iql",
                                 "central"))
    add_param_flag(parser)
    parser.add_argument("--set", action="append", default=[], metavar="K=V",
                        help="algorithm config field, e.g. learning_rate=1e-3 (repeatable)")
    parser.add_argument("--steps", type=int, default=None, help="environment steps")
    parser.add_argument("--seed", type=int, default=0, help="first seed")
    parser.add_argument("--seeds", type=positive_int, default=1, help="number of seeds")
    parser.add_argument("--out", default="runs", help="output folder")
    parser.add_argument("--resume", action="store_true",
                        help="continue from the checkpoints in --out")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    add_json_flag(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from gametools.marl.correlated import CorrelatedGap
    from gametools.marl.train import make_config, train
    from gametools.scenarios import get_scenario, parse_parameter_assignments

    scenario = get_scenario(args.scenario)
    params = parse_parameter_assignments(args.param)
    changes = parse_parameter_assignments(args.set)
    if args.steps is not None:
        changes["total_steps"] = str(args.steps)
    config = make_config(args.algo, **changes)
    seeds = [args.seed + k for k in range(args.seeds)]
    summaries = []
    for seed in seeds:
        out = Path(args.out) / f"{scenario.name}-{args.algo}" / f"seed{seed}"
        result = train(scenario, config, algorithm=args.algo, seed=seed, params=params, out=out,
                       resume=args.resume, progress=not args.json and sys.stderr.isatty(),
                       device=args.device)
        summaries.append({"seed": seed, "out": str(out), "steps": result.steps,
                          "wall_time": result.wall_time,
                          "exploitability": result.exploitability.to_dict()})
        if not args.json:
            report = result.exploitability
            measured = (f"CCE gap of the joint policy {report.gap:.6g}"
                        if isinstance(report, CorrelatedGap) else f"NashConv {report.nash_conv:.6g}")
            print(f"seed {seed}: {measured} ({report.kind}) after {result.steps} steps in "
                  f"{result.wall_time:.1f} s -> {out}")
    if args.json:
        print_json({"scenario": scenario.name, "algorithm": args.algo,
                    "config": config.to_dict(), "runs": summaries})
    return 0
