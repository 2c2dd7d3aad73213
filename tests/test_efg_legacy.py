"""Tests of the legacy Gambit ``.efg`` format (version 1) in gametools.formats.efg.

Ground truth from outside the reader: the legacy syntax is Gambit's own, from its 1995 parser
and writer (``sources/readefg.yy`` and ``BaseExtForm::WriteEfgFile`` in ``sources/efg.cc`` at
commit 9f5053985 of github:gambitproject/gambit); every legacy file here is hand-written in
that syntax next to the same game written by hand in the current format (version 2), and the
two must give the same game. The first legacy variant, without a version number
(``EFG R "title" ...``), is Gambit's reader at 6990b9e08 (1995-05-30) and writer at a40a8ded9
(1995-06-01), before 4275be822 added the version field; its body is the same. The beer-quiche payoffs and its beer-pooling equilibrium are Cho
and Kreps (1987), "Signaling games and stable equilibria", QJE 102(2), section II.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from test_efg import GUESS as GUESS_CURRENT

from gametools.extensive import ExtensiveGame, nash_conv
from gametools.formats import read_game
from gametools.formats.efg import EfgFormatError, format_efg, parse_efg

# the guessing game of tests/test_efg.py (its current-format text, GUESS_CURRENT, is shared),
# written here again in the legacy syntax: a chance move (1/3, 2/3), then player 1 guesses
# without seeing it, as Gambit's 1995 writer laid it out: names instead of numbers, "" for no outcome, the
# infoset's actions left out at its second node, the outcome "win" given again (same payoffs)
GUESS_LEGACY = '''EFG 1 R "Guess the coin" { "Alice" "Bob" }

c "root" "coin" { "H" 1/3 "T" 2/3 } ""
p "" "Alice" "guess" { "h" "t" } ""
t "" "win" { 1 -1 }
t "" "lose" { -1/2 1/2 }
p "" "Alice" "guess" ""
t "" "lose"
t "" "win" { 1 -1 }
'''

# Beer-quiche (Cho-Kreps): sender strong (9/10) or weak; breakfast beer or quiche; the
# receiver sees the breakfast, duels or flees. Sender: 1 for the preferred breakfast (strong:
# beer, weak: quiche) + 2 if not dueled; receiver: 1 for dueling the weak or fleeing the strong.
BEER_QUICHE_CURRENT = '''EFG 2 R "Beer-quiche" { "Sender" "Receiver" }
""

c "" 1 "type" { "strong" 9/10 "weak" 1/10 } 0
p "" 1 1 "strong" { "beer" "quiche" } 0
p "" 2 1 "saw beer" { "duel" "flee" } 0
t "" 1 "" { 1, 0 }
t "" 2 "" { 3, 1 }
p "" 2 2 "saw quiche" { "duel" "flee" } 0
t "" 3 "" { 0, 0 }
t "" 4 "" { 2, 1 }
p "" 1 2 "weak" { "beer" "quiche" } 0
p "" 2 1 0
t "" 5 "" { 0, 1 }
t "" 6 "" { 2, 0 }
p "" 2 2 "saw quiche" { "duel" "flee" } 0
t "" 7 "" { 1, 1 }
t "" 8 "" { 3, 0 }
'''
BEER_QUICHE_LEGACY = '''EFG 1 R "Beer-quiche" { "Sender" "Receiver" }
// Cho and Kreps (1987); the 1995 lexer skipped comments like this one
c "" "type" { "strong" 9/10 "weak" 1/10 } ""
p "" "Sender" "strong" { "beer" "quiche" } ""
p "" "Receiver" "saw beer" { "duel" "flee" } ""
t "" "strong beer duel" { 1 0 }
t "" "strong beer flee" { 3 1 }
p "" "Receiver" "saw quiche" { "duel" "flee" } ""
t "" "strong quiche duel" { 0 0 }
t "" "strong quiche flee" { 2 1 }
p "" "Sender" "weak" { "beer" "quiche" } ""
p "" "Receiver" "saw beer" ""   /* same infoset: the actions may be left out */
t "" "weak beer duel" { 0 1 }
t "" "weak beer flee" { 2 0 }
p "" "Receiver" "saw quiche" { "duel" "flee" } ""
t "" "weak quiche duel" { 1 1 }
t "" "weak quiche flee" { 3 0 }
'''


def assert_same_game(a: ExtensiveGame, b: ExtensiveGame, *, labels: bool = True) -> None:
    for name in ("parent", "player", "infoset", "payoffs", "chance_probabilities"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert a.payoffs_exact is not None and b.payoffs_exact is not None
    assert a.payoffs_exact.tolist() == b.payoffs_exact.tolist()
    assert a.chance_exact == b.chance_exact
    assert a.action_labels == b.action_labels and a.chance_labels == b.chance_labels
    assert a.title == b.title
    if labels:
        assert a.player_labels == b.player_labels and a.infoset_labels == b.infoset_labels
        assert a.node_labels == b.node_labels


@pytest.mark.parametrize("legacy, current", [(GUESS_LEGACY, GUESS_CURRENT),
                                             (BEER_QUICHE_LEGACY, BEER_QUICHE_CURRENT)])
def test_legacy_file_is_the_same_game_as_the_current_one(legacy: str, current: str) -> None:
    assert_same_game(parse_efg(legacy), parse_efg(current))


def test_legacy_guess_reads_exact_numbers() -> None:
    game = parse_efg(GUESS_LEGACY)
    assert game.player_labels == ("Alice", "Bob")
    assert game.chance_exact is not None and game.payoffs_exact is not None
    assert game.chance_exact[1:3] == (Fraction(1, 3), Fraction(2, 3))
    # terminals in breadth-first order: (H,h) (H,t) (T,h) (T,t)
    assert game.payoffs_exact[0].tolist() == [1, Fraction(-1, 2), Fraction(-1, 2), 1]


def test_beer_quiche_pooling_on_beer_is_an_equilibrium() -> None:
    # Cho-Kreps: both types drink beer, the receiver flees after beer and duels after quiche;
    # sender gets 9/10 * 3 + 1/10 * 2 = 29/10, receiver 9/10 * 1 = 9/10, nobody gains
    game = parse_efg(BEER_QUICHE_LEGACY)
    sender = game.player_infosets(0).tolist()   # strong, weak
    receiver = game.player_infosets(1).tolist()  # saw beer, saw quiche
    assert [game.infoset_labels[k] for k in sender] == ["strong", "weak"]
    assert [game.infoset_labels[k] for k in receiver] == ["saw beer", "saw quiche"]
    result = nash_conv(game, ([1.0, 0.0, 1.0, 0.0], [0.0, 1.0, 1.0, 0.0]))
    assert result.values == pytest.approx([2.9, 0.9], abs=1e-15)
    assert result.nash_conv == pytest.approx(0.0, abs=1e-15)


@pytest.mark.parametrize("text", [GUESS_CURRENT, BEER_QUICHE_CURRENT])
def test_legacy_writer_round_trips(text: str) -> None:
    game = parse_efg(text)
    written = format_efg(game, version=1)
    assert written.startswith('EFG 1 R "')
    assert_same_game(parse_efg(written), game)


def test_legacy_writer_makes_names_unique_as_gambit_does(tmp_path: Path) -> None:
    # two players called "P", two infosets of one player labelled "" and a chance infoset used
    # twice: the legacy format identifies all of these by name, so the writer renames as
    # Gambit 16+'s NormalizeLabels does ("P" -> "P_1", "P_2"; "" -> "_1", "_2")
    text = '''EFG 2 R "" { "P" "P" }
""
c "" 1 "" { "l" 1/2 "r" 1/2 } 0
p "" 1 1 "" { "a" "b" } 0
c "" 1 "" { "l" 1/2 "r" 1/2 } 0
t "" 1 "" { 1, 0 }
t "" 2 "" { 0, 1 }
t "" 3 "" { 2, 2 }
p "" 1 2 "" { "a" "b" } 0
p "" 2 1 "x" { "c" "d" } 0
t "" 4 "" { 1, 1 }
t "" 5 "" { 0, 0 }
t "" 6 "" { 3, 1 }
'''
    game = parse_efg(text)
    written = format_efg(game, version=1)
    assert '{ "P_1" "P_2" }' in written
    path = tmp_path / "legacy.efg"
    path.write_text(written)
    again = read_game(path)
    assert isinstance(again, ExtensiveGame)
    assert_same_game(again, game, labels=False)
    assert again.player_labels == ("P_1", "P_2")
    assert [again.infoset_labels[k] for k in again.player_infosets(0)] == ["_1", "_2"]
    assert again.perfect_recall == game.perfect_recall


# the guessing game as Gambit's writer of 1 June 1995 (a40a8ded9) laid it out: "EFG D" or
# "EFG R" with no version number, payoffs repeated at every use of an outcome
GUESS_PRE_VERSION = '''EFG R "Guess the coin" { "Alice" "Bob" }

c "root" "coin" { "H" 1/3 "T" 2/3 } ""
p "" "Alice" "guess" { "h" "t" } ""
t "" "win" { 1 -1 }
t "" "lose" { -1/2 1/2 }
p "" "Alice" "guess" { "h" "t" } ""
t "" "lose" { -1/2 1/2 }
t "" "win" { 1 -1 }
'''


def test_legacy_file_without_version_number_is_read() -> None:
    assert_same_game(parse_efg(GUESS_PRE_VERSION), parse_efg(GUESS_CURRENT))
    # the D (floating point) type and a comment, which that lexer skipped as well
    double = GUESS_PRE_VERSION.replace("EFG R", "EFG D").replace('"root"', '/* c */ "root"')
    assert_same_game(parse_efg(double), parse_efg(GUESS_CURRENT))


@pytest.mark.parametrize("text", [GUESS_CURRENT, BEER_QUICHE_CURRENT])
def test_legacy_writer_without_version_number_round_trips(text: str) -> None:
    game = parse_efg(text)
    written = format_efg(game, version=0)
    assert written.startswith('EFG R "')
    assert written.splitlines()[1:] == format_efg(game, version=1).splitlines()[1:]
    assert_same_game(parse_efg(written), game)


def test_version_zero_needs_the_header_without_a_number() -> None:
    with pytest.raises(EfgFormatError, match="got 0"):
        parse_efg(GUESS_PRE_VERSION.replace("EFG R", "EFG 0 R"))
    with pytest.raises(EfgFormatError, match="got 3"):
        parse_efg(GUESS_PRE_VERSION.replace("EFG R", "EFG 3 R"))


def test_legacy_writer_has_no_comment_field() -> None:
    with pytest.raises(EfgFormatError, match="no comment"):
        format_efg(parse_efg(GUESS_CURRENT), comment="x", version=1)


HEAD = 'EFG 1 R "" { "A" "B" }\n'


@pytest.mark.parametrize("body, message", [
    ('p "" "C" "i" { "a" } "" t "" ""', "no player is named 'C'"),
    ('p "" "A" "i" "" t "" ""', "infoset 'i' of player 1 is used before its actions"),
    ('p "" "A" "i" { "a" "b" } "" p "" "A" "i" { "a" "c" } "" t "" "" t "" "" t "" ""',
     r"infoset 'i' of player 1 was defined with the actions \['a', 'b'\]"),
    (('c "" "k" { "x" 1/2 "y" 1/2 } "" c "" "k" { "x" 1/3 "y" 2/3 } "" t "" "" t "" ""'
      ' t "" ""'), "chance infoset 'k' was defined with other probabilities"),
    ('c "" "k" "" t "" ""', "infoset 'k' of chance is used before"),
    ('t "" "o"', "outcome 'o' is used before its payoffs"),
    ('p "" "A" "i" { "a" "b" } "" t "" "o" { 1 2 } t "" "o" { 1 3 }',
     "outcome 'o' was defined with other payoffs"),
    ('t "" "o" { 1 }', "exactly 2 payoffs"),
    ('p "" "A" "i" { "a" "b" } "" t "" ""', "ends inside the tree"),
    ('t "" "" t "" ""', "after the end"),
    ('q "" ""', "unknown node type 'q'"),
    ('p "" 1 1 "" { "a" } 0 t "" 0', "expected the player name"),
    ('/* never closed\nt "" ""', "line 2: unexpected character '/'"),
])
def test_malformed_legacy_files_name_the_problem(body: str, message: str) -> None:
    with pytest.raises(EfgFormatError, match=message):
        parse_efg(HEAD + body)


def test_ambiguous_player_name_is_refused() -> None:
    # Gambit's 1995 reader silently gave every node of "P" to the first player named "P"
    with pytest.raises(EfgFormatError, match="line 2: two players are named 'P'"):
        parse_efg('EFG 1 R "" { "P" "P" }\np "" "P" "i" { "a" } "" t "" ""')


def test_unnamed_outcome_with_payoffs_is_local() -> None:
    # "" names no outcome; given with payoffs it is used only at that node
    game = parse_efg(HEAD + 'p "" "A" "i" { "a" "b" } "" t "" "" { 1 2 } t "" "" { 3 4 }')
    assert game.payoffs_exact is not None
    assert game.payoffs_exact.tolist() == [[1, 3], [2, 4]]


def test_cli_solves_a_legacy_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # gametools solve reads the legacy format through the same .efg suffix; beer-quiche is
    # general-sum, so the exact sequence-form LCP answers with a certified equilibrium
    import json

    from gametools.cli import main

    path = tmp_path / "beer_quiche.efg"
    path.write_text(BEER_QUICHE_LEGACY)
    code = main(["solve", str(path), "--json"])
    document = json.loads(capsys.readouterr().out)
    assert code == 0 and document["method"] == "lcp" and document["exact"]
    game = parse_efg(BEER_QUICHE_CURRENT)
    strategies = [np.asarray(s, dtype=float) for s in document["equilibria"][0]["strategies"]]
    assert nash_conv(game, strategies).nash_conv == pytest.approx(0.0, abs=1e-12)


def test_gambit_reads_what_we_write_and_its_equilibrium_is_exact_for_us() -> None:
    # pygambit (an optional benchmark peer) reads the current-format text we write from the
    # legacy file, and its rational lcp equilibrium has exact NashConv 0 by our evaluator
    gbt = pytest.importorskip("pygambit", reason="pygambit is an optional benchmark peer")
    import io

    from gametools.extensive.exploitability import exact_nash_conv

    game = parse_efg(BEER_QUICHE_LEGACY)
    theirs = gbt.read_efg(io.StringIO(format_efg(game)))
    equilibrium = gbt.nash.lcp_solve(theirs, rational=True).equilibrium
    rows = [[Fraction(str(p)) for _, actions in equilibrium[label] for _, p in actions]
            for label in game.player_labels]
    values, best = exact_nash_conv(game, rows)
    assert values == best
