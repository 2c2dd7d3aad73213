"""The ``gametools`` command line: a thin layer over the library.

::

    gametools solve GAME [--method M] [--all] [--param k=v ...] [--json]
    gametools exploit GAME POLICY [--bound upper|lower] [--param k=v ...] [--json]
    gametools train SCENARIO --algo {maddpg,mappo,qmix,iql,ippo,central} [--param k=v] [--set k=v]
                    [--steps T] [--seed S] [--seeds K] [--out DIR] [--resume] [--device cpu|cuda]
    gametools run STUDY [--quick] [--out DIR] [--backend local|ray] [--address ADDR] [--workers K]
    gametools games [--json]

``GAME`` is a Gambit ``.nfg`` file, a ``.npz`` game or a scenario name (see ``gametools games``).
With ``--json`` exactly one JSON document is printed on stdout. User mistakes (missing files,
malformed input, unknown scenario, method or parameter) print one message on stderr and exit
with status 2; no traceback.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from gametools._io import jsonable
from gametools.errors import GametoolsError

__all__ = ["main", "load_game_argument"]

EXIT_USER_ERROR = 2


class CommandError(GametoolsError):
    """A mistake in how the command was called."""


def load_game_argument(spec: str, params: Sequence[str] = ()) -> tuple[Any, Any, dict[str, Any]]:
    """Load ``GAME``: a ``.nfg`` / ``.npz`` file or a registered scenario name.

    Returns
    -------
    (game, scenario, params)
        ``scenario`` is the :class:`~gametools.scenarios.Scenario` when ``spec`` names one (else
        None) and ``params`` its resolved parameters.
    """
    from gametools.formats import read_game
    from gametools.scenarios import available_scenarios, parse_parameter_assignments

    path = Path(spec)
    if path.suffix.lower() in (".nfg", ".npz") or path.exists():
        if params:
            raise CommandError("--param applies to scenarios, not to game files")
        if path.is_dir():
            raise CommandError(f"{spec} is a directory, not a game file")
        if not path.is_file():
            raise CommandError(f"no such game file: {spec}")
        return read_game(path), None, {}
    scenarios = available_scenarios()
    if spec not in scenarios:
        raise CommandError(f"{spec!r} is neither a game file (.nfg, .npz) nor a scenario; "
                           f"scenarios: {', '.join(scenarios) or '(none installed)'}")
    scenario = scenarios[spec]
    resolved = scenario.resolve(**parse_parameter_assignments(params))
    return scenario.builder(**resolved), scenario, resolved


def _print_json(document: Any) -> None:
    # the whole document is built before anything is written: stdout never holds half of one
    try:
        text = json.dumps(document, indent=2, allow_nan=False)
    except ValueError:
        raise CommandError("the result holds non-finite numbers (inf/nan), which JSON cannot "
                           "represent; are the payoffs too large for floating point?") from None
    sys.stdout.write(text + "\n")


def _format_vector(values: Any) -> str:
    return "[" + ", ".join(f"{float(v):.6g}" for v in np.ravel(values)) + "]"


def _command_solve(args: argparse.Namespace) -> int:
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
        _print_json(document)
        return 0
    print(f"method: {result.method}   status: {result.status}   complete: {result.complete}   "
          f"exact: {result.exact}")
    if result.message:
        print(result.message)
    for k, equilibrium in enumerate(result.equilibria):
        print(f"equilibrium {k}: payoffs {_format_vector(equilibrium.payoffs)}  "
              f"regret {equilibrium.regret:.2e}")
        exact = equilibrium.strategies_exact
        for i, strategy in enumerate(equilibrium.strategies):
            shown = ("[" + ", ".join(map(str, exact[i])) + "]" if exact is not None
                     else _format_vector(strategy))
            print(f"  player {i}: {shown}")
    if not result.equilibria:
        print("no equilibrium found" + (" (the set is complete: there is none of this kind)"
                                         if result.complete else ""))
    for key in ("summary", "reference"):
        if key in document:
            print(f"{key}: {json.dumps(document[key])}")
    return 0


def _command_exploit(args: argparse.Namespace) -> int:
    from gametools.exploitability import nash_conv
    from gametools.formats.npz import load_profile

    game, _, _ = load_game_argument(args.game, args.param)
    policy_path = Path(args.policy)
    if not policy_path.is_file():
        raise CommandError(f"no such policy file: {args.policy}")
    profile = load_profile(policy_path)
    result = nash_conv(game, profile, bound=args.bound)
    if args.json:
        _print_json(result.to_dict())
        return 0
    print(f"NashConv {result.nash_conv:.10g} ({result.kind}, tolerance {result.tolerance:.1e})")
    print(f"exploitability (NashConv / N) {result.exploitability:.10g}")
    for i, gain in enumerate(result.per_player):
        print(f"  player {i}: value {result.values[i]:.10g}  best response "
              f"{result.best_response_values[i]:.10g}  gain {gain:.10g}  "
              f"[{result.per_player_kind[i]}]")
    return 0


def _command_train(args: argparse.Namespace) -> int:
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
            print(f"seed {seed}: NashConv {result.exploitability.nash_conv:.6g} "
                  f"({result.exploitability.kind}) after {result.steps} steps in "
                  f"{result.wall_time:.1f} s -> {out}")
    if args.json:
        _print_json({"scenario": scenario.name, "algorithm": args.algo,
                     "config": config.to_dict(), "runs": summaries})
    return 0


def _command_run(args: argparse.Namespace) -> int:
    from gametools.studies import run_from_cli

    return run_from_cli(args.study, quick=args.quick, out=args.out, backend=args.backend,
                        address=args.address, workers=args.workers, json=args.json,
                        list_studies=args.list)


def _command_games(args: argparse.Namespace) -> int:
    from gametools.scenarios import available_scenarios

    scenarios = available_scenarios()
    if args.json:
        _print_json([s.to_dict() for s in scenarios.values()])
        return 0
    for scenario in scenarios.values():
        print(f"{scenario.name}: {scenario.description}")
        for p in scenario.parameters:
            print(f"    {p.name} = {p.default!r}  {p.range_text()}  {p.description}")
    return 0


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gametools", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    solve = commands.add_parser("solve", help="compute equilibria of a game")
    solve.add_argument("game", help=".nfg or .npz file, or a scenario name")
    solve.add_argument("--method", default=None,
                       help="solver (default: chosen from the game; see README)")
    solve.add_argument("--all", action="store_true",
                       help="all extreme equilibria (two players) / all equilibria of the kind")
    solve.add_argument("--param", action="append", default=[], metavar="K=V",
                       help="scenario parameter (repeatable)")
    solve.add_argument("--json", action="store_true", help="print one JSON document")
    solve.set_defaults(handler=_command_solve)

    exploit = commands.add_parser("exploit", help="NashConv of a joint policy")
    exploit.add_argument("game", help=".nfg or .npz file, or a scenario name")
    exploit.add_argument("policy", help=".npz with arrays policy_0 ... policy_{N-1}")
    exploit.add_argument("--bound", choices=("upper", "lower"), default="upper",
                         help="bound reported where an exact best response is intractable")
    exploit.add_argument("--param", action="append", default=[], metavar="K=V",
                         help="scenario parameter (repeatable)")
    exploit.add_argument("--json", action="store_true", help="print one JSON document")
    exploit.set_defaults(handler=_command_exploit)

    train = commands.add_parser("train", help="train MARL agents and measure exploitability")
    train.add_argument("scenario", help="scenario name (see `gametools games`)")
    train.add_argument("--algo", required=True,
                       choices=("maddpg", "mappo", "qmix", "iql", "ippo", "central"))
    train.add_argument("--param", action="append", default=[], metavar="K=V",
                       help="scenario parameter (repeatable)")
    train.add_argument("--set", action="append", default=[], metavar="K=V",
                       help="algorithm config field, e.g. learning_rate=1e-3 (repeatable)")
    train.add_argument("--steps", type=int, default=None, help="environment steps")
    train.add_argument("--seed", type=int, default=0, help="first seed")
    train.add_argument("--seeds", type=_positive_int, default=1, help="number of seeds")
    train.add_argument("--out", default="runs", help="output folder")
    train.add_argument("--resume", action="store_true",
                       help="continue from the checkpoints in --out")
    train.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    train.add_argument("--json", action="store_true", help="print one JSON document")
    train.set_defaults(handler=_command_train)

    run = commands.add_parser("run", help="run a study from analyses/ and draw its figures")
    run.add_argument("study", nargs="?", help="study name (see `gametools run --list`)")
    run.add_argument("--list", action="store_true", help="list the registered studies")
    run.add_argument("--quick", action="store_true", help="the study's small grid")
    run.add_argument("--out", default=None, help="output folder (default runs/STUDY[-quick])")
    run.add_argument("--backend", choices=("local", "ray"), default="local")
    run.add_argument("--address", default=None, help="Ray cluster address (--backend ray)")
    run.add_argument("--workers", type=int, default=None,
                     help="cells run in parallel (default: min(2, CPUs))")
    run.add_argument("--json", action="store_true", help="print one JSON document")
    run.set_defaults(handler=_command_run)

    games = commands.add_parser("games", help="list scenarios and their parameters")
    games.add_argument("--json", action="store_true", help="print one JSON document")
    games.set_defaults(handler=_command_games)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``gametools`` command; returns the exit status."""
    args = _parser().parse_args(argv)
    if hasattr(signal, "SIGPIPE"):  # `gametools ... | head` ends quietly, as Unix tools do
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    try:
        return int(args.handler(args))
    except (GametoolsError, ValueError, TypeError, OSError) as exc:
        # user mistakes (bad files, names, parameters, shapes) read as one line, not a traceback
        print(f"gametools {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
