"""Tests of gametools.formats.npz: round trips and every error path with its message."""

from __future__ import annotations

import os
import re
import zipfile
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from known_games import bluffing_game, float_profile, two_state_game

from gametools import MarkovGame, NormalFormGame, nash_conv, time_indexed
from gametools.errors import GameValidationError, PolicyValidationError
from gametools.formats.npz import FileFormatError, load_game, load_profile, save_game, save_profile


def _assert_same_markov(a: MarkovGame, b: MarkovGame) -> None:
    assert a.is_sparse == b.is_sparse
    np.testing.assert_array_equal(a.dense_transitions(), b.dense_transitions())
    for name in ("rewards", "initial", "terminal", "observations"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert a.discount == b.discount and a.fully_observed == b.fully_observed
    assert (a.state_labels, a.player_labels, a.action_labels) == \
        (b.state_labels, b.player_labels, b.action_labels)


def _arrays(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as archive:
        return {key: archive[key] for key in archive.files}


def _write(path: Path, **arrays: np.ndarray) -> Path:
    np.savez(path, **arrays)
    return path


@pytest.fixture()
def markov_arrays(tmp_path: Path) -> dict[str, np.ndarray]:
    save_game(tmp_path / "g.npz", two_state_game().game)
    return _arrays(tmp_path / "g.npz")


# ------------------------------------------------------------------------------------------
# round trips
# ------------------------------------------------------------------------------------------

def test_dense_markov_round_trip(tmp_path: Path) -> None:
    game = two_state_game().game
    save_game(tmp_path / "game.npz", game)
    arrays = _arrays(tmp_path / "game.npz")
    assert {"transitions", "rewards", "initial", "discount", "terminal"} <= set(arrays)
    assert "observations" not in arrays  # fully observed games store no observations
    assert arrays["discount"].shape == () and arrays["state_labels"].dtype.kind == "U"
    loaded = load_game(tmp_path / "game.npz")
    assert isinstance(loaded, MarkovGame)
    _assert_same_markov(loaded, game)


def test_sparse_markov_round_trip(tmp_path: Path) -> None:
    game = time_indexed(two_state_game().game, 3)
    assert game.is_sparse
    save_game(tmp_path / "sparse.npz", game, compressed=False)
    arrays = _arrays(tmp_path / "sparse.npz")
    assert "transitions" not in arrays
    assert arrays["transitions_shape"].tolist() == [game.num_states * 4, game.num_states]
    loaded = load_game(tmp_path / "sparse.npz")
    _assert_same_markov(loaded, game)
    profile = tuple(np.full((o, 2), 0.5) for o in game.num_observations)
    assert nash_conv(loaded, profile).nash_conv == nash_conv(game, profile).nash_conv


def test_partially_observed_round_trip_with_labels(tmp_path: Path) -> None:
    game = bluffing_game().game
    save_game(tmp_path / "bluff.npz", game)
    arrays = _arrays(tmp_path / "bluff.npz")
    assert arrays["observations"].dtype == np.int64
    assert arrays["action_labels_1"].tolist() == ["fold", "call"]
    loaded = load_game(tmp_path / "bluff.npz")
    _assert_same_markov(loaded, game)
    assert loaded.state_labels[2] == "bet_high_0"
    profile = float_profile(bluffing_game().equilibria[0])
    assert nash_conv(loaded, profile).kind == "exact"


def test_unicode_labels_round_trip(tmp_path: Path) -> None:
    game = NormalFormGame.from_bimatrix([[1, 0], [0, 1]], [[1, 0], [0, 1]],
                                        player_labels=["Bänk", "市場"],
                                        action_labels=[["β", "long"], ["", "x y"]])
    save_game(tmp_path / "labels.npz", game)
    loaded = load_game(tmp_path / "labels.npz")
    assert loaded.player_labels == ("Bänk", "市場")
    assert loaded.action_labels == (("β", "long"), ("", "x y"))


def test_normal_form_exact_integers_round_trip(tmp_path: Path) -> None:
    game = NormalFormGame.from_bimatrix([[3, 0], [5, -2**40]], [[3, 5], [0, 1]])
    game = NormalFormGame(game.payoffs_exact, title="PD")
    save_game(tmp_path / "pd.npz", game)
    arrays = _arrays(tmp_path / "pd.npz")
    assert arrays["payoffs"].dtype == np.int64
    loaded = load_game(tmp_path / "pd.npz")
    assert isinstance(loaded, NormalFormGame) and loaded.is_exact and loaded.title == "PD"
    assert loaded.payoffs_exact.tolist() == game.payoffs_exact.tolist()


def test_normal_form_rationals_round_trip(tmp_path: Path) -> None:
    a = np.array([[Fraction(1, 3), Fraction(-5, 7)], [Fraction(0), Fraction(11, 2)]],
                 dtype=object)
    game = NormalFormGame.zero_sum(a)
    save_game(tmp_path / "q.npz", game)
    arrays = _arrays(tmp_path / "q.npz")
    assert "payoffs" not in arrays
    assert arrays["payoffs_numerator"].dtype == arrays["payoffs_denominator"].dtype == np.int64
    loaded = load_game(tmp_path / "q.npz")
    assert loaded.payoffs_exact.tolist() == game.payoffs_exact.tolist()


def test_huge_rationals_stay_exact(tmp_path: Path) -> None:
    big = Fraction(10**30 + 1, 3)
    game = NormalFormGame(np.array([[big, Fraction(1, 10**25)]], dtype=object))
    save_game(tmp_path / "big.npz", game)
    assert _arrays(tmp_path / "big.npz")["payoffs_rational"].dtype.kind == "U"
    assert load_game(tmp_path / "big.npz").payoffs_exact.tolist() == [[big, Fraction(1, 10**25)]]


def test_normal_form_float_round_trip(tmp_path: Path) -> None:
    payoffs = np.random.default_rng(0).normal(size=(3, 2, 3, 2))
    save_game(tmp_path / "f.npz", NormalFormGame(payoffs))
    loaded = load_game(tmp_path / "f.npz")
    assert not loaded.is_exact
    np.testing.assert_array_equal(loaded.payoffs, payoffs)  # bit for bit


def test_profile_round_trip(tmp_path: Path) -> None:
    known = bluffing_game()
    profile = float_profile(known.equilibria[0])
    save_profile(tmp_path / "p.npz", profile)
    assert sorted(_arrays(tmp_path / "p.npz")) == ["policy_0", "policy_1"]
    loaded = load_profile(tmp_path / "p.npz")
    assert all(not x.flags.writeable for x in loaded)
    for a, b in zip(loaded, profile):
        np.testing.assert_array_equal(a, b)
    validated = load_profile(tmp_path / "p.npz", game=known.game)
    assert nash_conv(known.game, validated).nash_conv == pytest.approx(0.0, abs=1e-12)
    save_profile(tmp_path / "s.npz", ([1, 0], [0.25, 0.75]))  # integer lists are fine
    assert load_profile(tmp_path / "s.npz")[0].dtype == np.float64


def test_writes_are_atomic_and_leave_no_temporary_files(tmp_path: Path) -> None:
    target = tmp_path / "g.npz"
    save_game(target, two_state_game().game)
    with pytest.raises(TypeError):
        save_game(target, "not a game")  # type: ignore[arg-type]
    assert isinstance(load_game(target), MarkovGame)  # the old file is intact
    assert sorted(os.listdir(tmp_path)) == ["g.npz"]
    save_game(tmp_path / "no_suffix", two_state_game().game)
    assert (tmp_path / "no_suffix").is_file()  # written at exactly the given path


# ------------------------------------------------------------------------------------------
# error paths
# ------------------------------------------------------------------------------------------

def test_not_a_zip_file(tmp_path: Path) -> None:
    path = tmp_path / "text.npz"
    path.write_text("hello")
    with pytest.raises(FileFormatError, match=re.escape(f"{path}: not an .npz archive")):
        load_game(path)
    with pytest.raises(FileFormatError, match="not an .npz archive"):
        load_profile(path)


def test_npy_file_is_not_an_npz_archive(tmp_path: Path) -> None:
    path = tmp_path / "array.npy"
    np.save(path, np.zeros(3))
    with pytest.raises(FileFormatError, match="not an .npz archive"):
        load_game(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nothing.npz"):
        load_game(tmp_path / "nothing.npz")


def test_zip_without_arrays(tmp_path: Path) -> None:
    path = tmp_path / "z.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "not an array")
    with pytest.raises(FileFormatError, match=re.escape(f"{path}: array 'readme.txt': not an "
                                                        ".npz archive")):
        load_game(path)


@pytest.mark.parametrize("missing", ["rewards", "initial", "discount"])
def test_missing_markov_array_is_named(tmp_path: Path, markov_arrays: dict, missing: str) -> None:
    del markov_arrays[missing]
    path = _write(tmp_path / "m.npz", **markov_arrays)
    with pytest.raises(FileFormatError, match=re.escape(f"missing array {missing!r}")):
        load_game(path)


def test_missing_sparse_part_is_named(tmp_path: Path) -> None:
    save_game(tmp_path / "s.npz", time_indexed(two_state_game().game, 2))
    arrays = _arrays(tmp_path / "s.npz")
    del arrays["transitions_indptr"]
    with pytest.raises(FileFormatError, match="missing array 'transitions_indptr'"):
        load_game(_write(tmp_path / "bad.npz", **arrays))


def test_malformed_sparse_matrix(tmp_path: Path) -> None:
    save_game(tmp_path / "s.npz", time_indexed(two_state_game().game, 2))
    arrays = _arrays(tmp_path / "s.npz")
    arrays["transitions_indices"] = arrays["transitions_indices"] + 100
    with pytest.raises(FileFormatError, match=r"malformed sparse transition matrix: "
                                              r"transitions_indices must be column numbers"):
        load_game(_write(tmp_path / "bad.npz", **arrays))


def test_game_and_nothing_else(tmp_path: Path) -> None:
    path = _write(tmp_path / "e.npz", something=np.zeros(2))
    with pytest.raises(FileFormatError, match="missing array 'transitions' .* or 'payoffs'"):
        load_game(path)


def test_unexpected_array_is_named(tmp_path: Path, markov_arrays: dict) -> None:
    markov_arrays["observation"] = np.zeros((2, 2), dtype=int)  # misspelt optional array
    with pytest.raises(FileFormatError, match="unexpected array.*'observation'"):
        load_game(_write(tmp_path / "u.npz", **markov_arrays))


def test_object_arrays_are_refused(tmp_path: Path, markov_arrays: dict) -> None:
    markov_arrays["state_labels"] = np.array(["a", 1], dtype=object)
    path = tmp_path / "o.npz"
    np.savez(path, **markov_arrays)  # np.savez pickles object arrays
    with pytest.raises(FileFormatError, match="array 'state_labels': object arrays are refused"):
        load_game(path)


def test_pickled_payload_is_never_unpickled(tmp_path: Path) -> None:
    class Boom:
        def __reduce__(self):  # would run on unpickling
            return (os.remove, (str(tmp_path / "canary"),))

    (tmp_path / "canary").write_text("alive")
    payload = np.empty(1, dtype=object)
    payload[0] = Boom()
    path = tmp_path / "evil.npz"
    np.savez(path, payoffs=payload)
    with pytest.raises(FileFormatError, match="object arrays are refused"):
        load_game(path)
    np.savez(path, policy_0=payload)
    with pytest.raises(FileFormatError, match="object arrays are refused"):
        load_profile(path)
    assert (tmp_path / "canary").exists()


@pytest.mark.parametrize("name, value, expected", [
    ("rewards", np.array([["a"]]), "array 'rewards': wrong dtype <U1: must be real numbers"),
    ("transitions", np.zeros((2, 2, 2, 2), dtype=complex),
     "array 'transitions': wrong dtype complex128"),
    ("terminal", np.array([0.0, 1.0]), "array 'terminal': wrong dtype float64: must be bool"),
    ("observations", np.zeros((2, 2)),
     "array 'observations': wrong dtype float64: must be integers"),
    ("state_labels", np.array([1, 2]), "array 'state_labels': wrong dtype int64: must be unicode"),
    ("discount", np.array([0.9]), "array 'discount': must be a scalar"),
])
def test_wrong_dtype_or_shape_is_named(tmp_path: Path, markov_arrays: dict, name: str,
                                       value: np.ndarray, expected: str) -> None:
    markov_arrays[name] = value
    with pytest.raises(FileFormatError, match=re.escape(expected)):
        load_game(_write(tmp_path / "w.npz", **markov_arrays))


def test_bool_payoffs_are_a_wrong_dtype(tmp_path: Path) -> None:
    path = _write(tmp_path / "b.npz", payoffs=np.ones((2, 2, 2), dtype=bool))
    with pytest.raises(FileFormatError, match="array 'payoffs': wrong dtype bool"):
        load_game(path)


def test_rational_payoff_errors(tmp_path: Path) -> None:
    numerator = np.ones((2, 1, 1), dtype=np.int64)
    path = _write(tmp_path / "r.npz", payoffs_numerator=numerator,
                  payoffs_denominator=np.array([[[1]], [[0]]]))
    with pytest.raises(FileFormatError, match=r"'payoffs_denominator': denominators must be "
                                              r"positive \(entry \(1, 0, 0\) is 0\)"):
        load_game(path)
    path = _write(tmp_path / "r2.npz", payoffs_numerator=numerator)
    with pytest.raises(FileFormatError, match="missing array 'payoffs_denominator'"):
        load_game(path)
    path = _write(tmp_path / "r3.npz", payoffs_numerator=numerator.astype(float),
                  payoffs_denominator=numerator)
    with pytest.raises(FileFormatError, match="'payoffs_numerator': wrong dtype float64"):
        load_game(path)


def test_both_kinds_of_game_is_an_error(tmp_path: Path, markov_arrays: dict) -> None:
    path = _write(tmp_path / "both.npz", payoffs=np.zeros((2, 2, 2)), **markov_arrays)
    with pytest.raises(FileFormatError, match="holds both a Markov game"):
        load_game(path)


def test_dense_and_sparse_transitions_is_an_error(tmp_path: Path, markov_arrays: dict) -> None:
    path = _write(tmp_path / "twice.npz", transitions_data=np.zeros(1), **markov_arrays)
    with pytest.raises(FileFormatError, match="holds transitions twice"):
        load_game(path)


def test_game_validation_errors_propagate_with_the_file_named(tmp_path: Path,
                                                              markov_arrays: dict) -> None:
    markov_arrays["transitions"] = markov_arrays["transitions"].copy()
    markov_arrays["transitions"][0, 1, 0] = [0.5, 0.499]
    path = _write(tmp_path / "v.npz", **markov_arrays)
    with pytest.raises(GameValidationError, match=re.escape(
            "transitions[0, 1, 0]: each row P(. | s, a) of a non-terminal state must sum to "
            "1")) as info:
        load_game(path)
    assert any(str(path) in note for note in info.value.__notes__)
    markov_arrays["transitions"][0, 1, 0] = [0.5, 0.5]
    markov_arrays["discount"] = np.array(1.5)
    with pytest.raises(GameValidationError, match=r"^discount: must be in \[0, 1\]"):
        load_game(_write(tmp_path / "d.npz", **markov_arrays))


def test_action_labels_must_cover_every_player(tmp_path: Path, markov_arrays: dict) -> None:
    del markov_arrays["action_labels_1"]
    with pytest.raises(FileFormatError, match="missing array 'action_labels_1'"):
        load_game(_write(tmp_path / "l.npz", **markov_arrays))
    markov_arrays["action_labels_1"] = np.array(["a", "b"])
    markov_arrays["action_labels_2"] = np.array(["a", "b"])
    with pytest.raises(FileFormatError, match="'action_labels_2': unexpected array for a "
                                              "2-player game"):
        load_game(_write(tmp_path / "l2.npz", **markov_arrays))


def test_profile_errors(tmp_path: Path) -> None:
    path = _write(tmp_path / "gap.npz", policy_0=np.ones(1), policy_2=np.ones(1))
    with pytest.raises(FileFormatError, match="missing array 'policy_1'"):
        load_profile(path)
    path = _write(tmp_path / "extra.npz", policy_0=np.ones(1), strategy_1=np.ones(1))
    with pytest.raises(FileFormatError, match="unexpected array.*'strategy_1'"):
        load_profile(path)
    path = _write(tmp_path / "text.npz", policy_0=np.array(["a"]))
    with pytest.raises(FileFormatError, match="'policy_0': wrong dtype <U1"):
        load_profile(path)
    path = _write(tmp_path / "empty.npz")
    with pytest.raises(FileFormatError, match="missing array 'policy_0'"):
        load_profile(path)


def test_profile_is_validated_against_the_game(tmp_path: Path) -> None:
    game = bluffing_game().game
    save_profile(tmp_path / "p.npz", (np.full((7, 2), 0.5), np.array([[0.5, 0.6]] * 4)))
    with pytest.raises(PolicyValidationError, match=re.escape("policy_1[0]: each row must sum "
                                                              "to 1")):
        load_profile(tmp_path / "p.npz", game=game)
    save_profile(tmp_path / "q.npz", (np.full((7, 2), 0.5),))
    with pytest.raises(PolicyValidationError, match=r"profile: needs one entry per player"):
        load_profile(tmp_path / "q.npz", game=game)


def test_save_profile_rejects_non_numbers(tmp_path: Path) -> None:
    with pytest.raises(PolicyValidationError, match="policy_1: must be an array of real numbers"):
        save_profile(tmp_path / "p.npz", (np.ones(2), np.array(["a"])))
    with pytest.raises(PolicyValidationError, match="policy_0: must be finite"):
        save_profile(tmp_path / "p.npz", (np.array([np.nan, 1.0]),))
    assert not (tmp_path / "p.npz").exists()


def test_save_game_keeps_sparse_matrix_canonical(tmp_path: Path) -> None:
    # duplicate entries are summed by the model; the stored CSR arrays reload unchanged
    rows = np.array([0, 0, 1])
    matrix = sp.csr_array((np.array([0.25, 0.75, 1.0]), (rows, np.array([0, 0, 1]))),
                          shape=(2, 2))
    game = MarkovGame(matrix, np.zeros((1, 2, 1)), [1.0, 0.0], 0.5)
    save_game(tmp_path / "c.npz", game)
    arrays = _arrays(tmp_path / "c.npz")
    assert arrays["transitions_data"].tolist() == [1.0, 1.0]
    _assert_same_markov(load_game(tmp_path / "c.npz"), game)

