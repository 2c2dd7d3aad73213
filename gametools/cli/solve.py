"""``gametools solve GAME``: equilibria of a game file or scenario."""

from __future__ import annotations

import argparse
from typing import Any

from gametools._io import jsonable
from gametools.cli.common import (
    add_json_flag,
    add_param_flag,
    load_game_argument,
    print_json,
)
from gametools.cli.tables import solve_report

__all__ = ["register"]


def register(commands: Any) -> None:
    parser = commands.add_parser("solve", help="compute equilibria of a game")
    parser.add_argument("game", help=".nfg or .npz file, or a scenario name")
    parser.add_argument("--method", default=None,
                        help="solver (default: chosen from the game; see README)")
    parser.add_argument("--all", action="store_true",
                        help="all extreme equilibria (two players) / all equilibria of the kind")
    add_param_flag(parser)
    add_json_flag(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from gametools.solvers import solve

    game, scenario, params = load_game_argument(args.game, args.param)
    result = solve(game, method=args.method, all_equilibria=args.all)
    document = result.to_dict()
    if scenario is not None:
        # the scenario's own statistics of the first equilibrium, and the closed form if known
        if scenario.summarize is not None and result.equilibria:
            document["summary"] = jsonable(scenario.summarize(
                game, result.equilibria[0].strategies, **params))
        if scenario.reference is not None:
            document["reference"] = jsonable(scenario.reference(**params))
    if args.json:
        print_json(document)
        return 0
    print(solve_report(game, result, summary=document.get("summary"),
                       reference=document.get("reference")))
    return 0
