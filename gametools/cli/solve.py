"""``gametools solve GAME``: equilibria of a game file or scenario.

Exit status: 0 when the result is certified, 2 for a user error, 3 when the solver (and, without
``--method``, every fallback method) did not certify an equilibrium: one line on stderr, and
``--json`` still prints the document (``"status": "failed"``, ``"certified": false``).
"""

from __future__ import annotations

import argparse
import json
import sys
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
    parser = commands.add_parser(
        "solve", help="compute equilibria of a game",
        description="Compute equilibria of a game file or scenario.",
        epilog="exit status: 0 certified result; 2 user error (bad file, method or option); "
               "3 the solver did not certify an equilibrium within its tolerance (without "
               "--method after trying the fallback methods too): a one-line message on stderr, "
               "and --json still prints the document with \"certified\": false")
    parser.add_argument("game", help=".nfg, .efg or .npz file, openspiel:GAME_STRING, or a "
                        "scenario name")
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
    if scenario is not None and scenario.select is not None:  # the theory's equilibrium first
        result = scenario.select(game, result, **params)
    document = result.to_dict()
    certified = result.certified
    if scenario is not None:
        # the scenario's own statistics of the first equilibrium, and the closed form if known
        if scenario.summarize is not None and result.equilibria:
            document["summary"] = jsonable(scenario.summarize(
                game, result.equilibria[0].strategies, **params))
        if scenario.reference is not None:
            document["reference"] = jsonable(scenario.reference(**params))
        if scenario.continuum is not None:  # solved without a grid; the grid's error beside it
            document["continuum"] = jsonable(scenario.continuum(document.get("summary"), **params))
    if args.json:
        print_json(document)
        return _exit_status(result, certified)
    from gametools.extensive import ExtensiveGame

    if isinstance(game, ExtensiveGame):  # game trees: one table of infosets per player
        from gametools.extensive.report import extensive_solve_report
        print(extensive_solve_report(game, result))
        return _exit_status(result, certified)
    print(solve_report(game, result, summary=document.get("summary"),
                       reference=document.get("reference")))
    if "continuum" in document:
        print("\nsolved in the continuum (no grid): " + json.dumps(document["continuum"]))
    return _exit_status(result, certified)


def _exit_status(result: Any, certified: bool) -> int:
    """3 (with one line on stderr) when the result is not certified, else 0."""
    if certified:
        return 0
    regret = f"; best regret {result.max_regret:.3g} of the payoff range" \
        if result.equilibria else ""
    print(f"gametools solve: not certified: {result.method} failed{regret} "
          f"({result.message or 'no reason given'})".replace("\n", " "), file=sys.stderr)
    return 3
