"""``gametools run STUDY``: a registered study, its grid of cells and its figures."""

from __future__ import annotations

import argparse
from typing import Any

from gametools.cli.common import add_json_flag, limited_count

__all__ = ["register"]


def register(commands: Any) -> None:
    parser = commands.add_parser("run", help="run a study from analyses/ and draw its figures")
    parser.add_argument("study", nargs="?", help="study name (see `gametools run --list`)")
    parser.add_argument("--list", action="store_true", help="list the registered studies")
    parser.add_argument("--quick", action="store_true", help="the study's small grid")
    parser.add_argument("--out", default=None, help="output folder (default runs/STUDY[-quick])")
    parser.add_argument("--backend", choices=("local", "ray"), default="local")
    parser.add_argument("--address", default=None, help="Ray cluster address (--backend ray)")
    parser.add_argument("--workers", type=limited_count("max_workers"), default=None,
                        help="cells run in parallel (default: min(2, CPUs))")
    add_json_flag(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from gametools.studies import run_from_cli

    return run_from_cli(args.study, quick=args.quick, out=args.out, backend=args.backend,
                        address=args.address, workers=args.workers, json=args.json,
                        list_studies=args.list)
