"""``gametools train SCENARIO --algo A``: train multi-agent learners, measure exploitability."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from gametools.cli.common import (CommandError, add_json_flag, add_param_flag, limited_count,
                                  positive_int, print_json)

__all__ = ["register"]


def register(commands: Any) -> None:
    parser = commands.add_parser("train", help="train MARL agents and measure exploitability")
    parser.add_argument("scenario", help="scenario name (see `gametools games`), game file "
                        "(.npz, .nfg, .efg), openspiel:GAME_STRING (e.g. openspiel:kuhn_poker), "
                        "or an environment import path (pettingzoo:mpe2.simple_spread_v3, "
                        "package.module:factory)")
    parser.add_argument("--algo", required=True,
                        choices=("maddpg", "mappo", "ippo", "maa2c", "qmix", "vdn", "iql",
                                 "central"))
    add_param_flag(parser)
    parser.add_argument("--set", action="append", default=[], metavar="K=V",
                        help="algorithm config field, e.g. learning_rate=1e-3 or recurrent=true "
                        "(GRU agents) (repeatable)")
    parser.add_argument("--steps", type=int, default=None, help="environment steps")
    parser.add_argument("--seed", type=int, default=0, help="first seed")
    parser.add_argument("--seeds", type=limited_count("max_seeds"), default=1, help="number of seeds")
    parser.add_argument("--out", default="runs", help="output folder")
    parser.add_argument("--resume", action="store_true",
                        help="continue from the checkpoints in --out")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--threads", type=limited_count("max_workers"), default=None,
                        help="torch/BLAS threads (default: the CPUs available to this process)")
    parser.add_argument("--tensorboard", action="store_true",
                        help="also write the metrics as TensorBoard events in OUT/.../tensorboard")
    parser.add_argument("--team-reward", action="store_true",
                        help="declare an outside environment cooperative (every agent receives "
                        "the same reward), as VDN, QMIX and central need")
    parser.add_argument("--best-response", choices=("auto", "on", "off"), default="auto",
                        help="outside environments (no exact NashConv): estimate learned "
                        "best-response lower bounds on each agent's gain at the end (auto: for "
                        "runs up to 100,000 steps with discrete actions)")
    parser.add_argument("--best-response-steps", type=positive_int, default=None,
                        help="training steps of each agent's learned best responder "
                        "(default: the run's steps, clipped to [1024, 20000])")
    parser.add_argument("--best-response-episodes", type=positive_int, default=1000,
                        help="evaluation episodes per agent for the lower bounds")
    add_json_flag(parser)
    parser.set_defaults(handler=run)


def _environment_value(text: str) -> Any:
    """An environment keyword argument from the command line: JSON (numbers, true/false,
    lists), else the text itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def run(args: argparse.Namespace) -> int:
    from gametools.marl.correlated import CorrelatedGap
    from gametools._io import folder_lock
    from gametools.limits import configure_threads
    from gametools.marl.parallel_env import is_environment_spec, resolve_environment
    from gametools.marl.train import make_config, train

    configure_threads(args.threads)
    from gametools.scenarios import get_scenario, parse_parameter_assignments

    spec = args.scenario
    params: dict[str, Any] = dict(parse_parameter_assignments(args.param))
    target: Any
    path = Path(spec)
    if spec.startswith("openspiel:"):
        if params:
            raise CommandError("--param applies to scenarios and environments; put OpenSpiel "
                               "parameters in the game string, e.g. "
                               "openspiel:goofspiel(num_cards=4)")
        target, label = spec, spec[len("openspiel:"):].partition("(")[0]
    elif path.suffix.lower() in (".npz", ".nfg", ".efg") or path.is_file():
        if params:
            raise CommandError("--param applies to scenarios and environments, not to game files")
        if not path.is_file():
            raise CommandError(f"no such game file: {spec}")
        target, label = spec, path.stem
    elif is_environment_spec(spec):
        target = resolve_environment(spec, {k: _environment_value(v) for k, v in params.items()},
                                     cooperative=args.team_reward)
        params, label = {}, spec.rpartition(":")[2].rpartition(".")[2] or "environment"
    else:
        scenario = get_scenario(spec)
        target, label = scenario, scenario.name
    if args.team_reward and not is_environment_spec(spec):
        raise CommandError("--team-reward applies to outside environments (module:attribute)")
    changes = parse_parameter_assignments(args.set)
    if args.steps is not None:
        changes["total_steps"] = str(args.steps)
    config = make_config(args.algo, **changes)
    best_response: Any = {"auto": None, "on": True, "off": False}[args.best_response]
    if args.best_response_steps is not None:
        if args.best_response == "off":
            raise CommandError("--best-response-steps needs --best-response auto or on")
        from gametools.marl.responders import LearnedResponder
        best_response = LearnedResponder(budget=args.best_response_steps)
    if args.best_response_episodes < 2:
        raise CommandError("--best-response-episodes must be at least 2")
    seeds = [args.seed + k for k in range(args.seeds)]
    summaries = []
    for seed in seeds:
        out = Path(args.out) / f"{label}-{args.algo}" / f"seed{seed}"
        with folder_lock(out):  # a second run into the same folder is refused, not merged
            result = train(target, config, algorithm=args.algo, seed=seed, params=params,
                           out=out, resume=args.resume,
                           progress=not args.json and sys.stderr.isatty(), device=args.device,
                           tensorboard=args.tensorboard, best_response=best_response,
                           best_response_episodes=args.best_response_episodes)
        report = result.exploitability
        approximate = result.approximate
        summaries.append({"seed": seed, "out": str(out), "steps": result.steps,
                          "wall_time": result.wall_time,
                          "exploitability": None if report is None else report.to_dict(),
                          "approximate_exploitability": None if approximate is None
                          else approximate.to_dict()})
        if not args.json:
            if approximate is not None:
                low, high = approximate.nash_conv_interval
                measured = (f"NashConv lower bound {approximate.nash_conv:.6g} (learned best "
                            f"responses, {approximate.confidence:.0%} CI [{low:.6g}, "
                            f"{high:.6g}]; no tabular game: no exact NashConv)")
            elif report is None:
                last = result.metrics[-1]
                returns = [v for k, v in last.items() if k.startswith("return_")]
                reason = ("recurrent agents have no tabular policy" if config.recurrent else
                          "no tabular game")
                measured = f"mean return {sum(returns) / len(returns):.6g} ({reason}: no NashConv)"
            elif isinstance(report, CorrelatedGap):
                measured = f"CCE gap of the joint policy {report.gap:.6g} ({report.kind})"
            else:
                measured = f"NashConv {report.nash_conv:.6g} ({report.kind})"
            print(f"seed {seed}: {measured} after {result.steps} steps in "
                  f"{result.wall_time:.1f} s -> {out}")
    if args.json:
        print_json({"scenario": label, "algorithm": args.algo,
                    "config": config.to_dict(), "runs": summaries})
    return 0
