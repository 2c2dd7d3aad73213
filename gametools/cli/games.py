"""``gametools games``: the registered scenarios and their parameters."""

from __future__ import annotations

import argparse
from typing import Any

from gametools.cli.common import add_json_flag, print_json

__all__ = ["register"]


def register(commands: Any) -> None:
    parser = commands.add_parser("games", help="list scenarios and their parameters")
    add_json_flag(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from gametools.scenarios import available_scenarios

    scenarios = available_scenarios()
    if args.json:
        print_json([s.to_dict() for s in scenarios.values()])
        return 0
    for scenario in scenarios.values():
        print(f"{scenario.name}: {scenario.description}")
        for p in scenario.parameters:
            print(f"    {p.name} = {p.default!r}  {p.range_text()}  {p.description}")
    return 0
