"""``gametools solve GAME``: equilibria of a game file or scenario."""

from __future__ import annotations

import argparse
import json
from typing import Any

from gametools._io import jsonable
from gametools.cli.common import (
    add_json_flag,
    add_param_flag,
    format_vector,
    load_game_argument,
    nonempty_text,
    print_json,
)

__all__ = ["register"]


def register(commands: Any) -> None:
    parser = commands.add_parser("solve", help="compute equilibria of a game")
    parser.add_argument("game", help=".nfg or .npz file, or a scenario name")
    parser.add_argument("--method", default=None, type=nonempty_text,
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
    print(f"method: {result.method}   status: {result.status}   complete: {result.complete}   "
          f"exact: {result.exact}")
    if result.message:
        print(result.message)
    for k, equilibrium in enumerate(result.equilibria):
        print(f"equilibrium {k}: payoffs {format_vector(equilibrium.payoffs)}  "
              f"regret {equilibrium.regret:.2e}")
        exact = equilibrium.strategies_exact
        for i, strategy in enumerate(equilibrium.strategies):
            shown = ("[" + ", ".join(map(str, exact[i])) + "]" if exact is not None
                     else format_vector(strategy))
            print(f"  player {i}: {shown}")
    if not result.equilibria:
        print("no equilibrium found" + (" (the set is complete: there is none of this kind)"
                                         if result.complete else ""))
    for key in ("summary", "reference"):
        if key in document:
            print(f"{key}: {json.dumps(document[key])}")
    return 0
