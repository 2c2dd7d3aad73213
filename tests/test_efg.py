"""Tests of gametools.formats.efg (Gambit's extensive-form file format).

Ground truth from outside the reader: Gambit's format definition and its own test files
(``src/games/file.cc``, ``tests/test_games/*.efg`` of github:gambitproject/gambit, copied
inline where used), and payoffs computed by hand from the trees written here.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from gametools.errors import GameValidationError
from gametools.extensive import ImperfectRecallError, nash_conv
from gametools.formats import read_game
from gametools.formats.efg import EfgFormatError, format_efg, parse_efg, read_efg, write_efg

# A chance move (1/3, 2/3), then player 1 guesses without seeing it; outcome labels repeat
# ("win" twice) and so do action labels across infosets, as in many Gambit files.
GUESS = '''EFG 2 R "Guess the coin" { "Alice" "Bob" }
"a comment"

c "root" 1 "coin" { "H" 1/3 "T" 2/3 } 0
p "" 1 1 "guess" { "h" "t" } 0
t "" 1 "win" { 1, -1 }
t "" 2 "lose" { -1/2, 1/2 }
p "" 1 1 0
t "" 2
t "" 3 "win" { 1 -1 }
'''


def test_reads_players_chance_infosets_and_exact_payoffs() -> None:
    game = parse_efg(GUESS)
    assert game.title == "Guess the coin"
    assert game.player_labels == ("Alice", "Bob")
    assert game.num_infosets == 1 and game.action_labels == (("h", "t"),)
    assert game.chance_exact is not None
    assert game.chance_exact[1:3] == (Fraction(1, 3), Fraction(2, 3))
    assert game.chance_labels[1:3] == ("H", "T")
    assert game.payoffs_exact is not None
    # terminals in breadth-first order: (H,h) (H,t) (T,h) (T,t)
    assert game.payoffs_exact[0].tolist() == [1, Fraction(-1, 2), Fraction(-1, 2), 1]
    assert game.perfect_recall == (True, True)
    # by hand: guessing t wins 2/3 * 1 - 1/3 * 1/2 = 1/2; guessing h wins 1/3 - 2/3 * 1/2 = 0
    result = nash_conv(game, ([1.0, 0.0], []))
    assert result.best_response_values[0] == pytest.approx(0.5, abs=1e-15)
    assert result.values[0] == pytest.approx(0.0, abs=1e-15)


def test_round_trip_is_identical(tmp_path: Path) -> None:
    game = parse_efg(GUESS)
    path = tmp_path / "guess.efg"
    write_efg(path, game)
    again = read_game(path)
    for name in ("parent", "player", "infoset", "payoffs", "chance_probabilities"):
        np.testing.assert_array_equal(getattr(game, name), getattr(again, name))
    assert again.payoffs_exact.tolist() == game.payoffs_exact.tolist()
    assert again.chance_exact == game.chance_exact
    assert again.action_labels == game.action_labels and again.node_labels == game.node_labels
    assert format_efg(again) == format_efg(game)


def test_outcome_at_an_internal_node_is_added_below() -> None:
    # an entry fee of -1 for both at the root decision, then the leaves' own outcomes
    text = '''EFG 2 R "" { "A" "B" }
p "" 1 1 "" { "L" "R" } 1 "fee" { -1, -1 }
t "" 2 "x" { 3, 0 }
t "" 0
'''
    game = parse_efg(text)
    assert game.payoffs_exact.tolist() == [[2, -1], [-1, -1]]


def test_decimal_numbers_and_exponents_are_exact() -> None:
    text = 'EFG 2 D "" { "A" } p "" 1 1 "" { "a" "b" } 0 t "" 1 "" { 0.1 } t "" 2 "" { 1.5e3 }'
    game = parse_efg(text)
    assert game.payoffs_exact.tolist() == [[Fraction(1, 10), Fraction(1500)]]


def test_imperfect_recall_is_read_and_flagged() -> None:
    # Gambit tests/test_games/not_perfect_recall.efg (absent-minded driver, one action)
    text = '''EFG 2 R "A small test game without perfect recall" { "Player 1" }
""

p "" 1 1 "" { "1" } 0
p "" 1 1 "" { "1" } 0
t "" 0
'''
    game = parse_efg(text)
    assert game.perfect_recall == (False,)
    with pytest.raises(ImperfectRecallError, match="player 1"):
        nash_conv(game, game.uniform_profile())


def test_forgetting_an_own_action_is_imperfect_recall() -> None:
    # player 1 chooses, then chooses again without knowing its first choice (Gambit's
    # noPR-action examples; imperfect recall without absent-mindedness)
    text = '''EFG 2 R "" { "P1" }
p "" 1 1 "" { "a" "b" } 0
p "" 1 2 "" { "c" "d" } 0
t "" 1 "" { 1 }
t "" 2 "" { 0 }
p "" 1 2 "" { "c" "d" } 0
t "" 3 "" { 0 }
t "" 4 "" { 1 }
'''
    assert parse_efg(text).perfect_recall == (False,)


@pytest.mark.parametrize("text, message", [
    ('NFG 1 R "" { "A" }', "EFG"),
    ('EFG 3 R "" { "A" } t "" 0', "versions 1 .legacy. and 2"),
    ('EFG 2 R "" { "A" } p "" 2 1 "" { "a" } 0 t "" 0', "player 2 does not exist"),
    ('EFG 2 R "" { "A" } p "" 1 1 0 t "" 0', "before its actions"),
    ('EFG 2 R "" { "A" } p "" 1 1 "" { "a" "b" } 0 t "" 0', "ends inside the tree"),
    ('EFG 2 R "" { "A" } t "" 1', "outcome 1 is used before"),
    ('EFG 2 R "" { "A" "B" } t "" 1 "" { 1 }', "exactly 2 payoffs"),
    ('EFG 2 R "" { "A" } t "" 0 t "" 0', "after the end"),
    ('EFG 2 R "" { "A" } t "" 1 "" { 1e99999 }', "exponent"),
    ('EFG 2 R "" { "A" } p "" 1 1 "" { "a" } 0 p "" 1 1 "" { "a" "b" } 0 t "" 0 t "" 0',
     "defined with 1 actions"),
])
def test_malformed_files_name_the_problem(text: str, message: str) -> None:
    with pytest.raises(EfgFormatError, match=message):
        parse_efg(text)


def test_chance_probabilities_must_sum_to_one() -> None:
    text = 'EFG 2 R "" { "A" } c "" 1 "" { "x" 1/2 "y" 1/3 } 0 t "" 0 t "" 0'
    with pytest.raises(GameValidationError, match="sum"):
        parse_efg(text)


def test_large_file_is_refused_before_reading(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from gametools.formats import efg

    path = tmp_path / "big.efg"
    path.write_text(GUESS)
    monkeypatch.setattr(efg, "MAX_FILE_BYTES", 10)
    with pytest.raises(EfgFormatError, match="larger than 10 bytes"):
        read_efg(path)


def test_deep_tree_does_not_recurse() -> None:
    # a 1500-move chain (Python's default recursion limit is 1000)
    depth = 1500
    lines = ['EFG 2 R "" { "A" }'] + [f'p "" 1 {k + 1} "" {{ "go" "stop" }} 0\nt "" 0'
                                      for k in range(depth)]
    lines.append('t "" 1 "" { 1 }')
    game = parse_efg("\n".join(lines))
    assert game.num_terminals == depth + 1
    assert nash_conv(game, game.uniform_profile()).best_response_values[0] == 1.0


@pytest.mark.parametrize("version", [1, 2])
def test_chance_nodes_without_ids_are_written_readably(version: int) -> None:
    # a tree built without chance infoset ids (as the OpenSpiel import builds Kuhn poker):
    # chance nodes with different moves must land in different chance infosets of the file,
    # which Gambit's format requires (pygambit 17 refused such a file: "Infoset action count
    # mismatch"); each gets its own (pygambit counts a chance infoset spanning Leduc's two
    # deals as imperfect recall)
    from gametools.extensive.model import TreeBuilder

    builder = TreeBuilder(1)
    root = builder.chance(None, probabilities=[Fraction(1, 2), Fraction(1, 2)])
    builder.terminal((root, 0), payoffs=[1])
    second = builder.chance((root, 1), probabilities=[Fraction(1, 3)] * 3)
    for k in range(3):
        builder.terminal((second, k), payoffs=[k])
    game = builder.build()
    text = format_efg(game, version=version)
    assert text.count('c "" "1"' if version == 1 else 'c "" 1 ') == 1
    again = parse_efg(text)
    np.testing.assert_array_equal(again.parent, game.parent)
    assert again.chance_exact == game.chance_exact
    assert again.payoffs_exact.tolist() == game.payoffs_exact.tolist()
