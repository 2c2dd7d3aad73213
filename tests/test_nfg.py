"""Tests for gametools.formats.nfg (Gambit .nfg reader/writer)."""

from __future__ import annotations

import json
import os
import re
import stat
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gametools.errors import GameValidationError, ResourceLimitError
from gametools.formats.nfg import (
    NfgData,
    NfgFormatError,
    format_nfg,
    parse_nfg,
    read_nfg,
    write_nfg,
)

SHARED = Path(os.environ.get("GAMETOOLS_SHARED", Path(__file__).resolve().parents[2] / "shared"))
GAMBIT_DIR = SHARED / "fixtures" / "gambit"
FIXTURES = sorted(GAMBIT_DIR.glob("*.nfg")) if GAMBIT_DIR.is_dir() else []
_NO_FIXTURES = pytest.param(
    None, marks=pytest.mark.skip(reason=f"Gambit fixtures not found in {GAMBIT_DIR} "
                                        "(set GAMETOOLS_SHARED)"))


def F(*args: object) -> Fraction:
    return Fraction(*args)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------------------------
# Gambit fixtures
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", FIXTURES or [_NO_FIXTURES],
                         ids=lambda p: p.name if p else "missing")
def test_fixture_parses_with_shape_from_name(path: Path) -> None:
    game = read_nfg(path)
    sizes = tuple(int(n) for n in path.stem.split("_")[1].split("x"))
    assert game.payoffs.shape == (len(sizes), *sizes)
    assert game.num_actions == sizes
    assert game.player_labels == tuple(str(i + 1) for i in range(len(sizes)))
    assert game.action_labels == tuple(tuple(str(k + 1) for k in range(n)) for n in sizes)
    assert game.comment == ""
    assert all(type(v) is Fraction for v in game.payoffs.flat)
    assert not game.payoffs.flags.writeable
    # Gambit 16 wrote these files; writing the parsed game reproduces them byte for byte.
    text = path.read_text()
    assert format_nfg(game.payoffs, title=game.title, player_labels=game.player_labels,
                      action_labels=game.action_labels, comment=game.comment) == text


def test_fixture_first_outcomes_in_gambit_order() -> None:
    if not (GAMBIT_DIR / "t0_2x2x2.nfg").exists():
        pytest.skip(f"Gambit fixtures not found in {GAMBIT_DIR}")
    game = read_nfg(GAMBIT_DIR / "t0_2x2x2.nfg")
    # Outcomes 1, 2, 3 of the file are profiles (1,1,1), (2,1,1), (1,2,1): first player fastest.
    assert list(game.payoffs[:, 0, 0, 0]) == [0, 7, 9]
    assert list(game.payoffs[:, 1, 0, 0]) == [-3, -4, -5]
    assert list(game.payoffs[:, 0, 1, 0]) == [-9, 5, -9]
    assert list(game.payoffs[:, 1, 1, 1]) == [-9, -4, -1]


def _pure_values(payoffs: np.ndarray, profile: list[list], player: int) -> list:
    """Payoff of each pure strategy of `player` against the others' mixed strategies."""
    values = [0] * payoffs.shape[player + 1]
    for cell in np.ndindex(payoffs.shape[1:]):
        weight = 1
        for j, a in enumerate(cell):
            if j != player:
                weight = weight * profile[j][a]
        values[cell[player]] += weight * payoffs[(player, *cell)]
    return values


def _expected() -> list[dict]:
    path = GAMBIT_DIR / "expected.json"
    if not path.exists():
        pytest.skip(f"Gambit fixtures not found in {GAMBIT_DIR}")
    return json.loads(path.read_text())


def test_gambit_equilibria_are_equilibria_of_parsed_games() -> None:
    """Independent check of the profile ordering: Gambit's own equilibria must be Nash."""
    for entry in _expected():
        game = read_nfg(GAMBIT_DIR / entry["file"])
        if "extreme_equilibria" in entry:  # exact rationals
            for eq in entry["extreme_equilibria"]:
                profile = [[Fraction(p) for p in s] for s in eq]
                for i in range(game.num_players):
                    values = _pure_values(game.payoffs, profile, i)
                    best = max(values)
                    assert all(values[a] == best for a, p in enumerate(profile[i]) if p > 0), \
                        entry["file"]
        else:  # floats
            floats = game.payoffs.astype(float)
            for eq in entry["equilibria"]:
                for i in range(game.num_players):
                    values = _pure_values(floats, eq, i)
                    best = max(values)
                    assert all(values[a] >= best - 1e-6
                               for a, p in enumerate(eq[i]) if p > 1e-9), entry["file"]


# ----------------------------------------------------------------------------------------------
# Hand-written ground truth
# ----------------------------------------------------------------------------------------------

# Prisoner's dilemma, strategies C (index 0) and D (index 1):
#            Col C      Col D
# Row C    (-1, -1)   (-3,  0)
# Row D    ( 0, -3)   (-2, -2)
PD_ROW = [[-1, -3], [0, -2]]
PD_COL = [[-1, 0], [-3, -2]]
# Profiles in file order: (C,C), (D,C), (C,D), (D,D) -- Row's strategy changes fastest.
PD_PAYOFF_VERSION = 'NFG 1 R "PD" { "Row" "Col" } { 2 2 }\n-1 -1 0 -3 -3 0 -2 -2\n'
PD_OUTCOME_VERSION = """NFG 1 R "PD" { "Row" "Col" }
{ { "C" "D" } { "C" "D" } }
"the classic"
{
  { "both cooperate" -1, -1 }
  { "sucker col" -3 0 }
  { "sucker row" 0, -3, }
  { "" -2, -2 }
}
1 2
3 4
"""


def test_prisoners_dilemma_payoff_and_outcome_versions_agree() -> None:
    a = parse_nfg(PD_PAYOFF_VERSION)
    b = parse_nfg(PD_OUTCOME_VERSION.replace("1 2\n3 4", "1 3 2 4"))
    expected = np.array([PD_ROW, PD_COL])
    assert a.payoffs.shape == (2, 2, 2)
    assert np.array_equal(a.payoffs, expected)
    assert np.array_equal(b.payoffs, expected)
    # Row plays D (index 1), Col plays C (index 0): Row gets 0, Col gets -3.
    assert a.payoffs[0, 1, 0] == 0 and a.payoffs[1, 1, 0] == -3
    assert a.title == b.title == "PD"
    assert a.player_labels == b.player_labels == ("Row", "Col")
    assert a.action_labels == (("1", "2"), ("1", "2"))
    assert b.action_labels == (("C", "D"), ("C", "D"))
    assert (a.comment, b.comment) == ("", "the classic")


def test_outcome_indices_map_profiles_in_order() -> None:
    game = parse_nfg(PD_OUTCOME_VERSION)  # indices 1 2 3 4 -> (C,C), (D,C), (C,D), (D,D)
    assert list(game.payoffs[:, 0, 0]) == [-1, -1]
    assert list(game.payoffs[:, 1, 0]) == [-3, 0]
    assert list(game.payoffs[:, 0, 1]) == [0, -3]
    assert list(game.payoffs[:, 1, 1]) == [-2, -2]


def test_rationals_decimals_and_exponents_are_exact() -> None:
    game = parse_nfg('NFG 1 D "" { "a" "b" } { 2 2 }\n'
                     "0.1 3/4  -7/2 1e3  -.5 +2  1.5e-2 5.\n")
    values = [game.payoffs[p, i, j] for j in (0, 1) for i in (0, 1) for p in (0, 1)]
    assert values == [F("1/10"), F("3/4"), F("-7/2"), F(1000), F("-1/2"), F(2),
                      F("3/200"), F(5)]
    assert all(type(v) is Fraction for v in game.payoffs.flat)
    assert game.payoffs[0, 0, 0] != 0.1  # exactly one tenth, not the double nearest to it
    assert float(game.payoffs[0, 0, 0]) == 0.1


def test_null_outcome_gives_zero_payoffs() -> None:
    game = parse_nfg('NFG 1 R "" { "1" "2" } { { "a" "b" } { "x" } } { { "" 5 6 } } 0 1')
    assert list(game.payoffs[:, 0, 0]) == [0, 0]
    assert list(game.payoffs[:, 1, 0]) == [5, 6]
    empty = parse_nfg('NFG 1 R "" { "1" } { 2 } { } 0 0')
    assert list(empty.payoffs.flat) == [0, 0]


def test_three_player_ordering_on_asymmetric_game() -> None:
    # 2 x 3 x 2; player p's payoff at (a, b, c) is 1000(p+1) + 100a + 10b + c.
    shape = (2, 3, 2)
    tokens = [str(1000 * (p + 1) + 100 * a + 10 * b + c)
              for c in range(2) for b in range(3) for a in range(2) for p in range(3)]
    game = parse_nfg('NFG 1 R "asym" { "A" "B" "C" } { 2 3 2 } ' + " ".join(tokens))
    assert game.payoffs.shape == (3, *shape)
    for p, a, b, c in np.ndindex(game.payoffs.shape):
        assert game.payoffs[p, a, b, c] == 1000 * (p + 1) + 100 * a + 10 * b + c
    # The second profile in the file is (A2, B1, C1); the third is (A1, B2, C1).
    assert tokens[3:6] == ["1100", "2100", "3100"] and tokens[6:9] == ["1010", "2010", "3010"]


def test_three_player_literal_outcome_file() -> None:
    text = """NFG 1 R "" { "x" "y" "z" } { { "x1" "x2" } { "y1" } { "z1" "z2" } } ""
    { { "" 1 2 3 } { "" 4 5 6 } { "" 7 8 9 } }
    3 0 1 2"""
    game = parse_nfg(text)  # profiles (x1,y1,z1), (x2,y1,z1), (x1,y1,z2), (x2,y1,z2)
    assert list(game.payoffs[:, 0, 0, 0]) == [7, 8, 9]
    assert list(game.payoffs[:, 1, 0, 0]) == [0, 0, 0]
    assert list(game.payoffs[:, 0, 0, 1]) == [1, 2, 3]
    assert list(game.payoffs[:, 1, 0, 1]) == [4, 5, 6]


def test_one_player_game() -> None:
    game = parse_nfg('NFG 1 R "solo" { "me" } { 3 } 1 2 3')
    assert game.payoffs.shape == (1, 3)
    assert list(game.payoffs[0]) == [1, 2, 3]


def test_whitespace_escapes_and_layout_freedom() -> None:
    text = ('\ufeffNFG\t1\r\nR "say \\"hi\\"" {"P \\"one\\""\n"P2"}{{"a b" "c\\\\d"}{"e"}}'
            '"multi\nline"\n\n{{"o"1,2}{""3 4}}\n\n1\n2\n')
    game = parse_nfg(text)
    assert game.title == 'say "hi"'
    assert game.player_labels == ('P "one"', "P2")
    assert game.action_labels == (("a b", "c\\d"), ("e",))
    assert game.comment == "multi\nline"
    assert list(game.payoffs[:, 1, 0]) == [3, 4]


def test_labels_with_counts_and_labels_with_payoffs_both_accepted() -> None:
    # Gambit chooses the body by its first token, independently of the strategy block.
    a = parse_nfg('NFG 1 R "" { "1" "2" } { 1 2 } { { "" 1 2 } { "" 3 4 } } 1 2')
    b = parse_nfg('NFG 1 R "" { "1" "2" } { { "s" } { "t" "u" } } 1 2 3 4')
    assert np.array_equal(a.payoffs, b.payoffs)
    assert b.action_labels == (("s",), ("t", "u"))


def test_payoffs_are_read_only_and_data_is_frozen() -> None:
    game = parse_nfg(PD_PAYOFF_VERSION)
    with pytest.raises(ValueError):
        game.payoffs[0, 0, 0] = 5
    with pytest.raises(AttributeError):
        game.title = "x"  # type: ignore[misc]
    assert game == parse_nfg(PD_PAYOFF_VERSION)
    assert game != parse_nfg(PD_PAYOFF_VERSION.replace("-2 -2", "-2 -1"))


# ----------------------------------------------------------------------------------------------
# Writing
# ----------------------------------------------------------------------------------------------

def test_number_formatting() -> None:
    payoffs = np.array([[[1, 0.1, 3.0, -0.0, 1e-5, 2.5e20, F("3/4"), F(6, 2), np.int64(7),
                          True]]], dtype=object).reshape(1, 10)
    text = format_nfg(payoffs, version="payoff")
    assert text.splitlines()[-10:] == ["1", "0.1", "3", "0", "1e-05", "2.5e+20", "3/4", "3",
                                       "7", "1"]
    assert list(parse_nfg(text).payoffs[0]) == [1, F("0.1"), 3, 0, F("1e-5"), F("2.5e20"),
                                                F(3, 4), 3, 7, 1]


def test_payoff_version_writes_counts_or_labels() -> None:
    payoffs = np.array([PD_ROW, PD_COL])
    assert format_nfg(payoffs, title="PD", player_labels=["Row", "Col"], version="payoff") \
        == 'NFG 1 R "PD" { "Row" "Col" } { 2 2 }\n\n-1 -1\n0 -3\n-3 0\n-2 -2\n'
    text = format_nfg(payoffs, action_labels=[["C", "D"], ["C", "D"]], comment="hi",
                      version="payoff")
    game = parse_nfg(text)
    assert game.action_labels == (("C", "D"), ("C", "D")) and game.comment == "hi"
    assert np.array_equal(game.payoffs, payoffs)


def test_write_is_atomic_and_replaces(tmp_path: Path) -> None:
    path = tmp_path / "pd.nfg"
    write_nfg(path, np.array([PD_ROW, PD_COL]), title="PD")
    assert read_nfg(path).title == "PD"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    os.chmod(path, 0o600)
    write_nfg(path, np.array([PD_COL, PD_ROW]), title="swapped", version="payoff")
    assert read_nfg(path).title == "swapped"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with pytest.raises(GameValidationError, match="finite"):
        write_nfg(path, np.array([[[np.nan, 1.0]], [[1.0, 1.0]]]))
    assert read_nfg(path).title == "swapped"  # untouched by the failed write
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pd.nfg"]  # no temp files left


def test_writer_rejects_bad_arguments() -> None:
    with pytest.raises(GameValidationError, match="shape"):
        format_nfg(np.zeros((3, 2, 2)))
    with pytest.raises(GameValidationError, match=r"payoffs\[1, 0, 1\]: payoffs must be finite"):
        format_nfg(np.array([[[0.0, 0.0]], [[0.0, np.inf]]]).reshape(2, 1, 2))
    with pytest.raises(GameValidationError, match="player_labels"):
        format_nfg(np.zeros((2, 2, 2)), player_labels=["only one"])
    with pytest.raises(GameValidationError, match=r"action_labels\[1\]"):
        format_nfg(np.zeros((2, 2, 2)), action_labels=[["a", "b"], ["c"]])
    with pytest.raises(GameValidationError, match="real numbers"):
        format_nfg(np.array([[["x"]]], dtype=object).reshape(1, 1))
    with pytest.raises(ValueError, match="version"):
        format_nfg(np.zeros((1, 2)), version="tabular")  # type: ignore[arg-type]


# ----------------------------------------------------------------------------------------------
# Round trips
# ----------------------------------------------------------------------------------------------

_label = st.text(st.characters(blacklist_categories=("Cs",)), max_size=6)
_tricky_label = st.one_of(_label, st.sampled_from(['a "quoted" label', "ends\\", '\\"', "x\\\\y",
                                                   "  spaced  ", "", "{ } ,", "new\nline"]))


@st.composite
def _games(draw: st.DrawFn) -> tuple[np.ndarray, list[Fraction], dict]:
    n_players = draw(st.integers(1, 3))
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=n_players, max_size=n_players)))
    kind = draw(st.sampled_from(["int", "fraction", "float", "mixed"]))
    size = n_players * int(np.prod(shape))
    ints = st.integers(-10**30, 10**30)
    fracs = st.fractions(max_denominator=10**6).filter(lambda f: abs(f) < 10**12)
    floats = st.floats(allow_nan=False, allow_infinity=False)
    element = {"int": ints, "fraction": fracs, "float": floats,
               "mixed": st.one_of(ints, fracs, floats)}[kind]
    values = draw(st.lists(element, min_size=size, max_size=size))
    if kind == "float":
        payoffs = np.array(values, dtype=float).reshape((n_players, *shape))
    elif kind == "int" and all(abs(v) < 2**62 for v in values):
        payoffs = np.array(values, dtype=np.int64).reshape((n_players, *shape))
    else:
        payoffs = np.empty(size, dtype=object)
        payoffs[:] = values
        payoffs = payoffs.reshape((n_players, *shape))
    # What reading must give back: floats through their shortest repr, the rest exactly.
    exact = [Fraction(repr(float(v))) if isinstance(v, float) else Fraction(v)
             for v in payoffs.flat]
    labels = {
        "title": draw(_tricky_label),
        "comment": draw(_tricky_label),
        "player_labels": draw(st.lists(_tricky_label, min_size=n_players, max_size=n_players)),
        "action_labels": [draw(st.lists(_tricky_label, min_size=n, max_size=n)) for n in shape],
    }
    if draw(st.booleans()):
        labels["action_labels"] = None
    return payoffs, exact, labels


@settings(max_examples=150, deadline=None, database=None)
@given(game=_games(), version=st.sampled_from(["outcome", "payoff"]))
def test_round_trip(game: tuple[np.ndarray, list[Fraction], dict], version: str) -> None:
    payoffs, exact, labels = game
    parsed = parse_nfg(format_nfg(payoffs, version=version, **labels))  # type: ignore[arg-type]
    assert parsed.payoffs.shape == payoffs.shape
    assert list(parsed.payoffs.flat) == exact
    if payoffs.dtype.kind == "f":
        assert np.array_equal(parsed.payoffs.astype(float), payoffs)  # bit-exact floats
    assert parsed.title == labels["title"]
    assert parsed.comment == labels["comment"]
    assert parsed.player_labels == tuple(labels["player_labels"])
    expected_actions = labels["action_labels"] or [[str(k + 1) for k in range(n)]
                                                   for n in payoffs.shape[1:]]
    assert parsed.action_labels == tuple(tuple(a) for a in expected_actions)


def test_round_trip_through_file(tmp_path: Path) -> None:
    payoffs = np.array([[[F(1, 3), 2], [0.25, -1]], [[0, F(-5, 7)], [1e300, 5e-324]]],
                       dtype=object)
    labels = {"title": 'the "game"', "player_labels": ["Ann", "Bob \\ Jr."],
              "action_labels": [["up", "down"], ["left", "right"]], "comment": "c"}
    for version in ("outcome", "payoff"):
        write_nfg(tmp_path / "g.nfg", payoffs, version=version, **labels)  # type: ignore[arg-type]
        game = read_nfg(tmp_path / "g.nfg")
        assert game == NfgData(labels["title"], "c", ("Ann", "Bob \\ Jr."),
                               (("up", "down"), ("left", "right")), game.payoffs)
        assert list(game.payoffs.flat) == [F(1, 3), 2, F("0.25"), -1, 0, F(-5, 7),
                                           F("1e300"), F("5e-324")]
        assert game.payoffs.astype(float)[1, 1, 1] == 5e-324


# ----------------------------------------------------------------------------------------------
# Errors: one per class, each message naming the problem and the line
# ----------------------------------------------------------------------------------------------

HEAD = 'NFG 1 R "g" { "1" "2" } { 2 3 }\n'


@pytest.mark.parametrize(("text", "message"), [
    ('EFG 2 R "tree"', r"^line 1: unknown header: expected 'NFG'.*found 'EFG'"),
    ("", r"^line 1: unknown header.*found end of file"),
    ('NFG 2 R "x" { "1" } { 1 } 0', r"^line 1: unsupported NFG version '2'"),
    ('NFG 1 Q "x" { "1" } { 1 } 0', r"^line 1: expected the number type 'R' or 'D'.*'Q'"),
    ("NFG 1 R { } ", r"^line 1: expected the quoted game title, found '\{'"),
    ('NFG 1 R "x"\n\n x "1" }', r"^line 3: expected '\{' to open the player list, found 'x'"),
    ('NFG 1 R "x" { "1" 2 }', r"^line 1: expected a quoted player name or '\}'.*found '2'"),
    ('NFG 1 R "x" { } { }', r"^line 1: the player list is empty"),
    ('NFG 1 R "x" { "1" "2" } { 2\n } 1 2', (r"^line 2: the strategy block gives 1 strategy "
                                             r"count\(s\) but there are 2 players")),
    ('NFG 1 R "x" { "1" } { 2 3 } 1 2', (r"^line 1: expected '\}' to close the strategy block "
                                         r"after 1 counts \(more strategy counts than players\)")),
    ('NFG 1 R "x" { "1" } { 0 }', r"^line 1: player 1 has no strategies"),
    ('NFG 1 R "x" { "1" } { 1.5 }', (r"number of strategies of player 1 \(a non-negative "
                                     r"integer\), found '1.5'")),
    ('NFG 1 R "x" { "1" "2" } { { "a" } }', (r"^line 1: expected '\{' to open the strategy list "
                                             r'of player 2 \("2"\), found \'\}\'')),
    ('NFG 1 R "x" { "1" } { { } } ', r'^line 1: player 1 \("1"\) has no strategies'),
    ('NFG 1 R "x" { "1" } { { "a" } { "b" } }', r"more strategy lists than players"),
    ('NFG 1 R "x" { "1" } { { "a" 3 } }', r"expected a quoted strategy label or '\}'"),
    ('NFG 1 R "x" { "1" } { 1 } "c" }', (r"^line 1: expected '\{' to open the outcome list or "
                                         r"a payoff number .*found '\}'")),
    ('NFG 1 R "x" { "1" } { 1 }', r"found end of file"),
])
def test_structure_errors(text: str, message: str) -> None:
    with pytest.raises(NfgFormatError, match=message):
        parse_nfg(text)


def test_wrong_payoff_count() -> None:
    with pytest.raises(NfgFormatError, match=r"^line 3: expected 12 payoffs \(2 player\(s\) x "
                                             r"6 strategy profile\(s\)\), found 11"):
        parse_nfg(HEAD + "1 2 3 4 5 6 7 8 9 10\n11\n")
    with pytest.raises(NfgFormatError, match=r"^line 3: expected 12 payoffs .*found 14"):
        parse_nfg(HEAD + " ".join(["1"] * 12) + "\n 13 14")  # line of the first extra payoff


def test_bad_number_token() -> None:
    with pytest.raises(NfgFormatError, match=r"^line 2: bad number token '1.2.3' for a payoff "
                                             r"number: not an integer, decimal or rational"):
        parse_nfg(HEAD + "1 2 1.2.3")
    with pytest.raises(NfgFormatError, match=r"bad number token '3/0'.*zero denominator"):
        parse_nfg(HEAD + "3/0")
    with pytest.raises(NfgFormatError, match=r"bad number token '1e'.*malformed exponent"):
        parse_nfg(HEAD + "1e")
    with pytest.raises(ResourceLimitError, match=r"^line 2: the number 1e99999 has exponent 99999, "
                                                 r"beyond the limit max_exponent"):
        parse_nfg(HEAD + "1e99999")
    with pytest.raises(NfgFormatError, match=r"^line 2: expected a payoff number, found ','"):
        parse_nfg(HEAD + "1, 2")


@pytest.mark.parametrize("token", ["nan", "NaN", "inf", "-inf", "+Infinity"])
def test_nan_and_infinity_are_errors(token: str) -> None:
    pattern = re.escape(f"bad number token '{token}'") + ".*NaN and infinite payoffs"
    with pytest.raises(NfgFormatError, match=pattern):
        parse_nfg(HEAD + f"1 {token}")
    with pytest.raises(NfgFormatError, match="NaN and infinite"):
        parse_nfg(f'NFG 1 R "" {{ "1" }} {{ 1 }} {{ {{ "" {token} }} }} 1')


def test_unterminated_string() -> None:
    with pytest.raises(NfgFormatError, match=r"^line 2: unterminated string"):
        parse_nfg('NFG 1 R "g" { "1"\n "2 } { 2 3 }\n1 2 3')
    with pytest.raises(NfgFormatError, match="unterminated string"):
        parse_nfg('NFG 1 R "ends with escaped quote\\"')


def test_outcome_index_out_of_range() -> None:
    text = 'NFG 1 R "" { "1" } { 3 }\n{ { "" 1 } { "" 2 } }\n1 2\n3'
    with pytest.raises(NfgFormatError, match=r"^line 4: outcome index 3 out of range: the file "
                                             r"defines 2 outcome\(s\)"):
        parse_nfg(text)
    with pytest.raises(NfgFormatError, match=r"^line 3: expected an outcome index \(a "
                                             r"non-negative integer\), found '-1'"):
        parse_nfg(text.replace("1 2\n3", "1 2 -1"))


def test_wrong_outcome_index_count() -> None:
    text = 'NFG 1 R "" { "1" "2" } { 2 3 }\n{ { "" 1 2 } }\n1 1 1 1 1'
    with pytest.raises(NfgFormatError, match=r"^line 3: expected 6 outcome indices \(one per "
                                             r"strategy profile: 2 x 3\), found 5"):
        parse_nfg(text)


def test_malformed_outcomes() -> None:
    head = 'NFG 1 R "" { "1" "2" } { 1 1 }\n'
    with pytest.raises(NfgFormatError, match=r"^line 2: outcome 1 has 3 payoff\(s\), expected 2"):
        parse_nfg(head + '{ { "" 1, 2, 3 } } 1')
    with pytest.raises(NfgFormatError, match=r"^line 2: expected the quoted name of outcome 1"):
        parse_nfg(head + "{ { 1 2 } } 1")
    with pytest.raises(NfgFormatError, match=r"expected a payoff or '\}' to close outcome 2, "
                                             r"found ','"):
        parse_nfg(head + '{ { "" 1 2 } { "" 1,, 2 } } 1')
    with pytest.raises(NfgFormatError, match=r"expected '\{' to open outcome 2 or '\}'"):
        parse_nfg(head + '{ { "" 1 2 } "x" } 1')


def test_read_nfg_error_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.nfg"
    path.write_text(HEAD + "1 2 3")
    with pytest.raises(NfgFormatError, match=r"bad\.nfg: line 2: expected 12 payoffs") as info:
        read_nfg(path)
    assert info.value.line == 2 and info.value.source == str(path)
    assert isinstance(info.value, ValueError)


def test_tiny_exact_payoff_solves_and_prints_json(tmp_path, capsys) -> None:
    # 1e-5000 is an exact rational with a 5001-digit denominator: beyond str(int)'s default
    # 4300-digit limit, it must still print exactly (the game is pure coordination, by hand
    # (row 0, col 0) is an equilibrium)
    import json

    from gametools.cli import main
    path = tmp_path / "tiny.nfg"
    path.write_text('NFG 1 R "t" { "a" "b" } { 2 2 }\n1e-5000 0 0 1 1 0 0 1\n')
    assert main(["solve", str(path), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["status"] == "success" and document["equilibria"]
    assert main(["solve", str(path)]) == 0
