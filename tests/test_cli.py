"""The command-line contract of DESIGN.md: JSON shapes, exit codes, errors on stderr."""

from __future__ import annotations

import json
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from gametools.cli import main
from gametools.formats import write_nfg
from gametools.formats.npz import save_game, save_profile
from gametools.model import MarkovGame, NormalFormGame


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def von_stengel_nfg(tmp_path: Path) -> Path:
    # von Stengel's 3x2 game (REFERENCES.md; nashpy and QuantEcon docs): three equilibria.
    game = NormalFormGame.from_bimatrix([[3, 3], [2, 5], [0, 6]], [[3, 2], [2, 6], [3, 1]])
    path = tmp_path / "von_stengel.nfg"
    write_nfg(path, game.payoffs_exact)
    return path


def test_games_lists_scenarios_with_parameters(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "games", "--json")
    assert code == 0
    listing = json.loads(out)
    names = [entry["name"] for entry in listing]
    assert "matching_pennies" in names and "big_match" in names
    for entry in listing:
        assert set(entry) >= {"name", "description", "params"}
        for param in entry["params"]:
            assert {"name", "default", "description"} <= set(param)


def test_solve_zero_sum_scenario_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "solve", "rock_paper_scissors", "--json")
    assert code == 0, err
    document = json.loads(out)
    assert set(document) >= {"equilibria", "method", "complete"}
    (equilibrium,) = document["equilibria"]
    # RPS has the unique equilibrium (1/3, 1/3, 1/3) for both players, value 0.
    for strategy in equilibrium["strategies"]:
        assert np.allclose(strategy, [1 / 3] * 3, atol=1e-9)
    assert np.allclose(equilibrium["payoffs"], [0.0, 0.0], atol=1e-9)


def test_solve_pure_with_scenario_parameter(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "solve", "cournot", "--param", "quantity_step=10",
                         "--method", "pure", "--json")
    assert code == 0, err
    document = json.loads(out)
    # Cournot closed form (a - c) / (3 b) = 30 for a = 100, c = 10, b = 1; 30 is on the grid and
    # (30, 30) is a grid equilibrium (best-reply ties on this grid add asymmetric ones)
    found = [[10 * int(np.argmax(s)) for s in e["strategies"]] for e in document["equilibria"]]
    assert [30, 30] in found
    assert document["complete"] is True


def test_solve_nfg_file_reports_exact_strategies(capsys: pytest.CaptureFixture[str],
                                                 von_stengel_nfg: Path) -> None:
    code, out, err = run(capsys, "solve", str(von_stengel_nfg), "--all", "--json")
    assert code == 0, err
    document = json.loads(out)
    found = {tuple(tuple(Fraction(v) for v in s) for s in e["strategies_exact"])
             for e in document["equilibria"]}
    # The three equilibria listed in REFERENCES.md (von Stengel's 3x2 game).
    expected = {
        ((Fraction(1), Fraction(0), Fraction(0)), (Fraction(1), Fraction(0))),
        ((Fraction(4, 5), Fraction(1, 5), Fraction(0)), (Fraction(2, 3), Fraction(1, 3))),
        ((Fraction(0), Fraction(1, 3), Fraction(2, 3)), (Fraction(1, 3), Fraction(2, 3))),
    }
    assert found == expected
    assert document["complete"] is True


def test_exploit_json_contract(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    game = NormalFormGame.zero_sum([[1, -1], [-1, 1]])
    save_game(tmp_path / "pennies.npz", game.to_markov_game())
    # Player 0 plays heads in both states, player 1 mixes: by hand, player 0's value is 0 and
    # player 1 gains 1 by switching to tails (NashConv 1).
    save_profile(tmp_path / "policy.npz", (np.array([[1.0, 0.0], [1.0, 0.0]]),
                                           np.array([[0.5, 0.5], [0.5, 0.5]])))
    code, out, err = run(capsys, "exploit", str(tmp_path / "pennies.npz"),
                         str(tmp_path / "policy.npz"), "--json")
    assert code == 0, err
    document = json.loads(out)
    assert set(document) >= {"nash_conv", "per_player", "values", "best_response_values", "kind"}
    assert document["kind"] == "exact"
    assert document["nash_conv"] == pytest.approx(1.0, abs=1e-12)
    assert document["per_player"] == pytest.approx([0.0, 1.0], abs=1e-12)


def test_exploit_partially_observed_reports_bound(capsys: pytest.CaptureFixture[str],
                                                  tmp_path: Path) -> None:
    # Two states that player 0 cannot tell apart, looping forever: exact best responses are
    # intractable in general, so the kind must be a bound (upper by default, lower on request).
    transitions = np.full((2, 2, 1, 2), 0.5)
    rewards = np.zeros((2, 2, 2, 1))
    rewards[0, 0] = [[1.0], [0.0]]
    rewards[0, 1] = [[0.0], [1.0]]
    game = MarkovGame(transitions, rewards, [0.5, 0.5], 0.9, observations=[[0, 0], [0, 1]])
    save_game(tmp_path / "g.npz", game)
    save_profile(tmp_path / "p.npz", (np.array([[1.0, 0.0]]), np.ones((2, 1))))
    code, out, _ = run(capsys, "exploit", str(tmp_path / "g.npz"), str(tmp_path / "p.npz"),
                       "--json")
    upper = json.loads(out)
    code_lower, out_lower, _ = run(capsys, "exploit", str(tmp_path / "g.npz"),
                                   str(tmp_path / "p.npz"), "--bound", "lower", "--json")
    lower = json.loads(out_lower)
    assert code == code_lower == 0
    assert upper["kind"] == "upper_bound" and lower["kind"] == "lower_bound"
    # Seeing the state player 0 earns 1 per step (10 in total); any observation-based policy
    # earns 1/2 per step (5), so the gains are 5 (upper) and 0 (lower) against value 5.
    assert upper["nash_conv"] == pytest.approx(5.0, abs=1e-9)
    assert lower["nash_conv"] == pytest.approx(0.0, abs=1e-9)


def test_exploit_on_a_torch_device_equals_the_default(capsys: pytest.CaptureFixture[str],
                                                     tmp_path: Path) -> None:
    # --device runs the passes over the transitions on torch (CPU here); the result must be the
    # default evaluator's, and a device that does not exist is a user error (exit 2).
    pytest.importorskip("torch", reason="the device path needs torch")
    rng = np.random.default_rng(3)
    transitions = rng.dirichlet(np.ones(4), size=(4, 2, 2))
    rewards = rng.normal(size=(2, 4, 2, 2))  # (players, states, actions, actions)
    game = MarkovGame(transitions, rewards, [1.0, 0.0, 0.0, 0.0], 0.9)
    save_game(tmp_path / "g.npz", game)
    save_profile(tmp_path / "p.npz", (np.full((4, 2), 0.5), np.full((4, 2), 0.5)))
    args = ("exploit", str(tmp_path / "g.npz"), str(tmp_path / "p.npz"), "--json")
    code, out, _ = run(capsys, *args)
    code_torch, out_torch, _ = run(capsys, *args, "--device", "cpu")
    plain, torch_doc = json.loads(out), json.loads(out_torch)
    assert code == code_torch == 0
    assert plain["kind"] == torch_doc["kind"] == "exact"
    assert torch_doc["nash_conv"] == pytest.approx(
        plain["nash_conv"], abs=plain["tolerance"] + torch_doc["tolerance"])
    code_bad, _, err = run(capsys, *args, "--device", "no-such-device")
    assert code_bad == 2 and "device" in err


@pytest.mark.parametrize("argv, fragment", [
    (["solve", "no_such_scenario"], "neither a game file"),
    (["solve", "missing.nfg"], "no such game file"),
    (["solve", "cournot", "--param", "n_firms=99"], "n_firms"),
    (["solve", "cournot", "--param", "colour=red"], "no parameter 'colour'"),
    (["solve", "rock_paper_scissors", "--method", "magic"], "unknown method 'magic'"),
    (["solve", "big_match", "--method", "lp"], "method 'lp' solves normal-form games"),
    (["solve", "rock_paper_scissors", "--method", "shapley"], "solves markov-form games"),
])
def test_user_errors_exit_2_with_message(capsys: pytest.CaptureFixture[str], argv: list[str],
                                         fragment: str) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert fragment in err and "Traceback" not in err


def test_malformed_files_are_rejected_with_location(capsys: pytest.CaptureFixture[str],
                                                    tmp_path: Path) -> None:
    bad = tmp_path / "bad.nfg"
    bad.write_text('NFG 1 R "broken" { "1" "2" } { 2 2 }\n1 2 3\n')
    code, _, err = run(capsys, "solve", str(bad))
    assert code == 2 and "bad.nfg" in err
    not_a_zip = tmp_path / "game.npz"
    not_a_zip.write_bytes(b"definitely not a zip archive")
    code, _, err = run(capsys, "solve", str(not_a_zip))
    assert code == 2 and "game.npz" in err


def test_exploit_rejects_policy_of_wrong_shape(capsys: pytest.CaptureFixture[str],
                                               tmp_path: Path) -> None:
    save_game(tmp_path / "g.npz", NormalFormGame.zero_sum([[1, -1], [-1, 1]]).to_markov_game())
    save_profile(tmp_path / "p.npz", (np.array([[1.0, 0.0, 0.0]] * 2),
                                      np.array([[0.5, 0.5]] * 2)))
    code, _, err = run(capsys, "exploit", str(tmp_path / "g.npz"), str(tmp_path / "p.npz"))
    assert code == 2 and "policy_0" in err and "shape" in err


def test_solve_markov_scenario_default_is_exact_zero_sum(capsys: pytest.CaptureFixture[str]
                                                        ) -> None:
    # Big Match (REFERENCES.md): value 1/2 per step, i.e. 0.5 / (1 - 0.9) = 5 in state 0
    code, out, err = run(capsys, "solve", "big_match", "--json")
    assert code == 0, err
    document = json.loads(out)
    assert document["method"] == "hoffman-karp"
    (equilibrium,) = document["equilibria"]
    assert equilibrium["payoffs"][0] == pytest.approx(5.0, abs=1e-8)
    assert equilibrium["state_values"][0][0] == pytest.approx(5.0, abs=1e-8)
    assert equilibrium["regret"] <= 1e-10


def test_console_script_entry_point(tmp_path: Path) -> None:
    completed = subprocess.run([sys.executable, "-m", "gametools.cli", "solve",
                                "matching_pennies", "--json"], capture_output=True, text=True,
                               check=False, cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout)["equilibria"]


def test_observations_that_identify_states_are_solved(capsys: pytest.CaptureFixture[str],
                                                      tmp_path: Path) -> None:
    # an explicit observation map that only relabels the states: the state-based solvers apply
    rng = np.random.default_rng(0)
    transitions = rng.dirichlet(np.ones(2), size=(2, 2, 2))
    rewards = rng.normal(size=(2, 2, 2, 2))
    game = MarkovGame(transitions, rewards, [0.5, 0.5], 0.9, observations=[[1, 0], [0, 1]])
    save_game(tmp_path / "relabelled.npz", game)
    code, out, err = run(capsys, "solve", str(tmp_path / "relabelled.npz"), "--json")
    assert code == 0, err
    (equilibrium,) = json.loads(out)["equilibria"]
    assert equilibrium["regret"] <= 1e-8
    assert np.array(equilibrium["strategies"][0]).shape == (2, 2)


def test_all_on_an_infinite_horizon_game_says_why(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "solve", "big_match", "--all")
    assert code == 2 and "no method enumerates the equilibria of infinite-horizon" in err


def test_directory_and_bad_seed_count_are_user_errors(capsys: pytest.CaptureFixture[str],
                                                      tmp_path: Path) -> None:
    folder = tmp_path / "games.npz"
    folder.mkdir()
    code, _, err = run(capsys, "solve", str(folder))
    assert code == 2 and "is a directory" in err
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "cournot", "--algo", "mappo", "--seeds", "0"])
    assert exit_info.value.code == 2
    assert "must be a positive integer" in capsys.readouterr().err


def test_bertrand_quoting_scenario_solves_quickly(capsys: pytest.CaptureFixture[str]) -> None:
    # Glosten-Milgrom's stage games are degenerate Bertrand games on a 21-point grid: the default
    # (a selection, not --all) must not enumerate their huge vertex sets
    code, out, err = run(capsys, "solve", "glosten_milgrom", "--json")
    assert code == 0, err
    document = json.loads(out)
    assert document["equilibria"][0]["regret"] <= 1e-9
    # REFERENCES.md: zero-profit quotes 97/103 at theta = 1/2; Bertrand grid equilibria quote at
    # least as wide (weakly dominated wider quotes are equilibria on a grid)
    assert document["summary"]["bid"] <= 97 and document["summary"]["ask"] >= 103


def test_exploit_scenario_accepts_the_policy_shape_training_writes(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # training plays a one-shot game as its Markov form (states play, end) and writes policies
    # of shape (2, n_i); `exploit SCENARIO policy.npz` evaluates them on that form.
    path = tmp_path / "policy.npz"
    cooperate = [[1.0, 0.0], [0.5, 0.5]]  # row 0: the playing state; row 1: the terminal state
    save_profile(path, [np.array(cooperate), np.array(cooperate)])
    code, out, err = run(capsys, "exploit", "prisoners_dilemma", str(path), "--json")
    assert code == 0, err
    report = json.loads(out)
    # prisoner's dilemma (R, T, S, P) = (3, 5, 0, 1): against cooperation each player gains
    # T - R = 2 by defecting (textbook), so NashConv = 4, exact
    assert report["kind"] == "exact"
    assert report["per_player"] == pytest.approx([2.0, 2.0], abs=1e-12)
    assert report["nash_conv"] == pytest.approx(4.0, abs=1e-12)


def test_version_and_python_dash_m(capsys: pytest.CaptureFixture[str]) -> None:
    import gametools

    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"gametools {gametools.__version__}"
    result = subprocess.run([sys.executable, "-m", "gametools", "--version"], capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0 and result.stdout.strip() == f"gametools {gametools.__version__}"


def test_examples_copy_then_the_readme_commands_run_as_written(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, err = run(capsys, "examples", "--copy", str(tmp_path), "--json")
    assert code == 0, err
    assert sorted(entry["name"] for entry in json.loads(out)) == ["game.nfg", "game.npz",
                                                                   "policy.npz"]
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "solve", "game.nfg", "--all", "--json")
    assert code == 0, err
    # von Stengel's 3x2 game has exactly three equilibria (von Stengel 2007, AGT ch. 3)
    assert len(json.loads(out)["equilibria"]) == 3
    code, out, err = run(capsys, "exploit", "game.npz", "policy.npz", "--json")
    assert code == 0, err
    # Big Match at discount 0.9, both players 1/2-1/2: NashConv 45/11 by hand (see
    # tests/test_without_torch.py for the computation)
    assert json.loads(out)["nash_conv"] == pytest.approx(45 / 11, abs=1e-9)
