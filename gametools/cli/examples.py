"""``gametools examples [--copy DIR]``: the sample game files shipped with the package."""

from __future__ import annotations

import argparse
from typing import Any

from gametools.cli.common import add_json_flag, print_json

__all__ = ["register"]


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "examples", help="paths of the shipped sample games (or copy them with --copy DIR)")
    parser.add_argument("--copy", metavar="DIR", default=None,
                        help="copy game.nfg, game.npz and policy.npz into DIR")
    add_json_flag(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from gametools.examples import EXAMPLES, copy_examples, example_path

    if args.copy is not None:
        paths = copy_examples(args.copy)
    else:
        paths = [example_path(name) for name in EXAMPLES]
    if args.json:
        print_json([{"name": path.name, "path": str(path), "description": EXAMPLES[path.name]}
                    for path in paths])
        return 0
    width = max(len(str(path)) for path in paths)
    for path in paths:
        print(f"{path!s:<{width}}  {EXAMPLES[path.name]}")
    return 0
