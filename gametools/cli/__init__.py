"""The ``gametools`` command line: a thin layer over the library.

::

    gametools solve GAME [--method M] [--all] [--param k=v ...] [--json]
    gametools exploit GAME POLICY [--bound upper|lower] [--param k=v ...] [--json]
    gametools train SCENARIO --algo {maddpg,mappo,qmix,iql,ippo,central} [--param k=v] [--set k=v]
                    [--steps T] [--seed S] [--seeds K] [--out DIR] [--resume] [--device cpu|cuda]
    gametools run STUDY [--quick] [--out DIR] [--backend local|ray] [--address ADDR] [--workers K]
    gametools games [--json]
    gametools examples [--copy DIR] [--json]
    gametools --version

``GAME`` is a Gambit ``.nfg`` file, a ``.npz`` game or a scenario name (see ``gametools games``).
With ``--json`` exactly one JSON document is printed on stdout. User mistakes (missing files,
malformed input, unknown scenario, method or parameter) print one message on stderr and exit
with status 2; no traceback.

Each command lives in its own module (``gametools.cli.solve``, ...) with a ``register(commands)``
that adds its sub-parser; this module only assembles them and maps errors to exit codes.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence

from gametools import __version__
from gametools.cli import egta, examples, exploit, games, psro, run, simulate, solve, train
from gametools.cli.common import EXIT_USER_ERROR, CommandError, load_game_argument
from gametools.errors import GametoolsError

__all__ = ["EXIT_USER_ERROR", "CommandError", "build_parser", "load_game_argument", "main"]

# the order in which `gametools --help` lists the commands
COMMANDS = (solve, exploit, train, run, simulate, egta, psro, games, examples)


def build_parser() -> argparse.ArgumentParser:
    """The `gametools` argument parser with every command's sub-parser (the docs print its help)."""
    parser = argparse.ArgumentParser(prog="gametools", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"gametools {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``gametools`` command; returns the exit status."""
    args = build_parser().parse_args(argv)
    if hasattr(signal, "SIGPIPE"):  # `gametools ... | head` ends quietly, as Unix tools do
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    try:
        return int(args.handler(args))
    except (GametoolsError, ValueError, TypeError, OSError) as exc:
        # user mistakes (bad files, names, parameters, shapes) read as one line, not a traceback
        print(f"gametools {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
