"""Pieces every ``gametools`` command shares: the user-error type, game loading, JSON output."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from gametools.errors import GametoolsError

__all__ = ["EXIT_USER_ERROR", "CommandError", "add_json_flag", "add_param_flag", "format_vector",
           "load_game_argument", "positive_int", "print_json"]

EXIT_USER_ERROR = 2


class CommandError(GametoolsError):
    """A mistake in how the command was called."""


def load_game_argument(spec: str, params: Sequence[str] = ()) -> tuple[Any, Any, dict[str, Any]]:
    """Load ``GAME``: a ``.nfg`` / ``.efg`` / ``.npz`` file, ``openspiel:GAME_STRING`` (e.g.
    ``openspiel:kuhn_poker``, ``openspiel:goofspiel(num_cards=4)``) or a scenario name.

    Returns
    -------
    (game, scenario, params)
        ``scenario`` is the :class:`~gametools.scenarios.Scenario` when ``spec`` names one (else
        None) and ``params`` its resolved parameters.
    """
    from gametools.formats import read_game
    from gametools.scenarios import available_scenarios, parse_parameter_assignments

    if spec.startswith("openspiel:"):
        return _load_openspiel(spec[len("openspiel:"):], params), None, {}
    path = Path(spec)
    if path.suffix.lower() in (".nfg", ".npz", ".efg") or path.exists():
        if params:
            raise CommandError("--param applies to scenarios, not to game files")
        if path.is_dir():
            raise CommandError(f"{spec} is a directory, not a game file")
        if not path.is_file():
            raise CommandError(f"no such game file: {spec}")
        return read_game(path), None, {}
    scenarios = available_scenarios()
    if spec not in scenarios:
        raise CommandError(f"{spec!r} is neither a game file (.nfg, .efg, .npz), nor "
                           "openspiel:GAME_STRING, nor a scenario; "
                           f"scenarios: {', '.join(scenarios) or '(none installed)'}")
    scenario = scenarios[spec]
    if "simulation" in scenario.tags:  # a market design, not a game: simulate / egta take it
        raise CommandError(f"scenario {spec!r} is a market simulation, not a game; use "
                           f"`gametools simulate {spec}` or `gametools egta {spec}`")
    resolved = scenario.resolve(**parse_parameter_assignments(params))
    return scenario.builder(**resolved), scenario, resolved


def _load_openspiel(game_string: str, params: Sequence[str]) -> Any:
    """An OpenSpiel game: normal-form when one-shot, else its unrolled game tree."""
    if params:
        raise CommandError("--param applies to scenarios; put OpenSpiel parameters in the game "
                           "string, e.g. openspiel:goofspiel(num_cards=4)")
    try:
        from gametools.interop.openspiel import (
            extensive_from_openspiel,
            from_openspiel,
            is_normal_form,
            load_openspiel,
        )
    except ImportError:
        raise CommandError("openspiel:GAME needs OpenSpiel: pip install open_spiel") from None
    game = load_openspiel(game_string)
    return from_openspiel(game) if is_normal_form(game) else extensive_from_openspiel(game).game


def print_json(document: Any) -> None:
    """Write ``document`` as one JSON document on stdout."""
    # the whole document is built before anything is written: stdout never holds half of one
    try:
        text = json.dumps(document, indent=2, allow_nan=False)
    except ValueError:
        raise CommandError("the result holds non-finite numbers (inf/nan), which JSON cannot "
                           "represent; are the payoffs too large for floating point?") from None
    sys.stdout.write(text + "\n")


def format_vector(values: Any) -> str:
    return "[" + ", ".join(f"{float(v):.6g}" for v in np.ravel(values)) + "]"


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON document")


def add_param_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--param", action="append", default=[], metavar="K=V",
                        help="scenario parameter (repeatable)")
