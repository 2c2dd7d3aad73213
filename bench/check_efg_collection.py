"""Read every ``.efg`` file of Gambit's game collection and print counts.

Usage::

    python bench/check_efg_collection.py GAMBIT_GIT_DIR_OR_CHECKOUT [--roundtrip] [--legacy]
        [--openspiel] [--solve] [--gambit]

The collection is not vendored: fetch Gambit's repository (github:gambitproject/gambit) first;
a bare git directory (read with ``git show``) or a checkout both work. Prints one line per
failure and a summary: files read, imperfect-recall games, games with chance, two-player
games, and (with ``--roundtrip``) files whose written-and-reread game has identical arrays
(``--legacy``: the same through the legacy EFG 1 format). ``--gambit`` (pygambit installed, a
peer only) checks Gambit's own rational ``lcp`` equilibrium of every two-player perfect-recall
game with our exact NashConv, and Gambit's rational ``lp`` value against ours on zero-sum ones.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np

from gametools.formats.efg import format_efg, parse_efg


def _files(source: Path) -> list[tuple[str, str]]:
    if (source / "HEAD").is_file() and not (source / ".git").exists():
        names = subprocess.run(["git", "--git-dir", str(source), "ls-tree", "-r", "--name-only",
                                "HEAD"], check=True, capture_output=True, text=True).stdout
        out = []
        for name in sorted(n for n in names.splitlines() if n.lower().endswith(".efg")):
            text = subprocess.run(["git", "--git-dir", str(source), "show", f"HEAD:{name}"],
                                  check=True, capture_output=True).stdout
            out.append((name, text.decode("utf-8", errors="replace")))
        return out
    return [(str(p.relative_to(source)), p.read_text(encoding="utf-8", errors="replace"))
            for p in sorted(source.rglob("*.efg"))]


def _same(a, b, labels=True) -> bool:  # type: ignore[no-untyped-def]
    return (np.array_equal(a.parent, b.parent) and np.array_equal(a.player, b.player)
            and np.array_equal(a.infoset, b.infoset) and np.array_equal(a.payoffs, b.payoffs)
            and np.array_equal(a.chance_probabilities, b.chance_probabilities)
            and a.action_labels == b.action_labels
            and (not labels or a.player_labels == b.player_labels))


def _openspiel_uniform_nash_conv(text: str) -> float:
    import os
    import tempfile

    import pyspiel
    from open_spiel.python import policy as os_policy
    from open_spiel.python.algorithms import exploitability

    saved = os.dup(2)  # OpenSpiel prints its parse errors on stderr
    try:
        with tempfile.TemporaryFile() as sink:
            os.dup2(sink.fileno(), 2)
            try:
                game = pyspiel.load_efg_game(text)
            finally:
                os.dup2(saved, 2)
    finally:
        os.close(saved)
    return float(exploitability.nash_conv(game, os_policy.UniformRandomPolicy(game)))


def _gambit_check(text, game):  # type: ignore[no-untyped-def]
    """(Gambit's rational lcp equilibrium certified by our exact NashConv, Gambit's rational lp
    value equal to ours, or None when not zero-sum)."""
    import io
    from fractions import Fraction

    import pygambit as gbt

    from gametools.extensive.exploitability import exact_nash_conv
    from gametools.extensive.solve import sequence_form_lp

    theirs = gbt.read_efg(io.StringIO(text))
    labels = [player.label if hasattr(player, "label") else str(player)
              for player in theirs.players]

    def rows(profile):  # type: ignore[no-untyped-def]
        # infosets come in preorder of first visit, as our ids per player; actions in order
        return [[Fraction(str(p)) for _, actions in profile[label] for _, p in actions]
                for label in labels]

    equilibrium = gbt.nash.lcp_solve(theirs, rational=True).equilibrium
    values, best = exact_nash_conv(game, rows(equilibrium))
    certified = values == best
    lp_equal = None
    if game.is_zero_sum():
        value = gbt.nash.lp_solve(theirs, rational=True).equilibrium
        gambit_value = Fraction(str(next(iter(value.payoffs))[1]))
        ours = sequence_form_lp(game)
        if ours.exact:
            lp_equal = ours.equilibria[0].payoffs_exact[0] == gambit_value
        else:
            low, high = ours.extra["value_bounds_exact"]
            lp_equal = bool(low <= gambit_value <= high)
    return certified, lp_equal


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("--roundtrip", action="store_true")
    parser.add_argument("--gambit", action="store_true",
                        help="with pygambit installed: certify Gambit's own rational lcp "
                             "equilibrium of every two-player perfect-recall game with our exact "
                             "NashConv, and compare Gambit's rational lp value with ours on the "
                             "zero-sum ones")
    parser.add_argument("--legacy", action="store_true",
                        help="also write every game in the legacy format (EFG 1) and read it "
                             "back (player labels may be renamed to be unique)")
    parser.add_argument("--openspiel", action="store_true",
                        help="compare the uniform profile's NashConv with OpenSpiel's on its own "
                             "efg_game loader (perfect-recall games it loads)")
    parser.add_argument("--solve", action="store_true",
                        help="also solve every two-player perfect-recall game exactly with the "
                             "sequence-form LCP (and the LP when zero-sum); count certificates")
    args = parser.parse_args()
    files = _files(args.source)
    read = imperfect = chance = two = roundtrip = legacy = 0
    solved = attempted = lp_solved = lp_attempted = 0
    compared = agreed = os_failed = 0
    gambit_tried = gambit_certified = gambit_lp = gambit_lp_equal = 0
    gambit_failed: list[str] = []
    worst = 0.0
    for name, text in files:
        try:
            game = parse_efg(text)
        except Exception as exc:  # noqa: BLE001 - a report, not a program
            print(f"FAILED {name}: {type(exc).__name__}: {exc}")
            continue
        read += 1
        imperfect += not all(game.perfect_recall)
        chance += game.has_chance
        two += game.num_players == 2
        if args.roundtrip and _same(game, parse_efg(format_efg(game))):
            roundtrip += 1
        if args.legacy and _same(game, parse_efg(format_efg(game, version=1)), labels=False):
            legacy += 1
        if args.openspiel and all(game.perfect_recall):
            from gametools.extensive import nash_conv

            ours = nash_conv(game, game.uniform_profile()).nash_conv
            try:
                theirs = _openspiel_uniform_nash_conv(text)
            except Exception:  # noqa: BLE001 - OpenSpiel's own parser refuses some files
                os_failed += 1
            else:
                compared += 1
                worst = max(worst, abs(ours - theirs))
                agreed += abs(ours - theirs) <= 1e-9
        if args.gambit and game.num_players == 2 and all(game.perfect_recall):
            gambit_tried += 1
            try:
                certified, lp_equal = _gambit_check(text, game)
            except Exception as exc:  # noqa: BLE001 - a report, not a program
                gambit_failed.append(f"{name}: {type(exc).__name__}: {str(exc)[:80]}")
            else:
                gambit_certified += certified
                if lp_equal is not None:
                    gambit_lp += 1
                    gambit_lp_equal += lp_equal
                if not certified or lp_equal is False:
                    print(f"GAMBIT {name}: certified {certified}, lp value equal {lp_equal}")
        if args.solve and game.num_players == 2 and all(game.perfect_recall):
            from gametools.extensive.lcp import sequence_form_lcp
            from gametools.extensive.solve import sequence_form_lp

            attempted += 1
            result = sequence_form_lcp(game, max_pivots=20_000)
            if result.status == "success" and result.exact:
                solved += 1
            else:
                print(f"LCP {name}: {result.message}")
            if game.is_zero_sum():
                lp_attempted += 1
                lp = sequence_form_lp(game)
                lp_solved += lp.status == "success"
    print(f"efg files: {len(files)}  read: {read}  imperfect recall: {imperfect}  "
          f"with chance: {chance}  two-player: {two}"
          + (f"  round trip identical: {roundtrip}" if args.roundtrip else "")
          + (f"  legacy (EFG 1) round trip identical: {legacy}" if args.legacy else "")
          + (f"\nOpenSpiel efg_game: compared {compared}, equal to 1e-9: {agreed} (largest "
             f"difference {worst:.1e}), not loaded by OpenSpiel: {os_failed}"
             if args.openspiel else "")
          + (f"\ntwo-player perfect recall: {attempted}, LCP exact equilibria: {solved}; "
             f"zero-sum: {lp_attempted}, LP certified: {lp_solved}" if args.solve else "")
          + (f"\nGambit (pygambit) on two-player perfect recall: {gambit_tried}, its rational "
             f"lcp equilibrium has exact NashConv 0 by ours: {gambit_certified}; zero-sum: "
             f"{gambit_lp}, its rational lp value equals ours exactly: {gambit_lp_equal}; "
             f"pygambit failed: {len(gambit_failed)}" if args.gambit else ""))
    for line in gambit_failed:
        print(f"  pygambit failed on {line}")
    return 0 if read == len(files) else 1


if __name__ == "__main__":
    sys.exit(main())
