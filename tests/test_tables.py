"""Plain-text output of `gametools solve` / `exploit`: labels, supports, no -0, comparison table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gametools.cli import main
from gametools.cli.tables import MAX_ROWS, comparison_table, format_number, solve_report
from gametools.examples import example_path
from gametools.model import MarkovGame
from gametools.solvers import solve


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(list(argv)) == 0
    return capsys.readouterr().out


def test_negative_zero_prints_as_zero() -> None:
    assert format_number(-0.0) == "0"
    assert format_number(np.float64(-0.0)) == "0"
    assert format_number(-1e-17) == "-1e-17"  # a small number is not rounded away


def test_solve_table_uses_the_file_labels_and_exact_supports(
        capsys: pytest.CaptureFixture[str]) -> None:
    out = run(capsys, "solve", str(example_path("game.nfg")), "--all")
    # von Stengel's 3x2 game (von Stengel 2007, AGT ch. 3): equilibria (T, L),
    # (4/5 T + 1/5 M, 2/3 L + 1/3 R) with payoffs (3, 14/5), (1/3 M + 2/3 B, 1/3 L + 2/3 R)
    # with payoffs (4, 8/3); the file labels players Row/Column and actions T M B / L R
    assert "4/5 T + 1/5 M" in out and "2/3 L + 1/3 R" in out
    assert "1/3 M + 2/3 B" in out and "1/3 L + 2/3 R" in out
    assert "14/5" in out and "8/3" in out
    assert "Row" in out and "Column" in out
    assert "equilibrium 3 of 3" in out


def test_exploit_table_rows_per_player(capsys: pytest.CaptureFixture[str]) -> None:
    out = run(capsys, "exploit", str(example_path("game.npz")), str(example_path("policy.npz")))
    # Big Match, discount 0.9, both players 1/2-1/2: NashConv 45/11 = 4.090909091 (hand
    # computation in tests/test_without_torch.py); player 0's gain is 0
    assert out.startswith("NashConv 4.090909091 (exact")
    rows = {line.split()[0] + " " + line.split()[1]: line.split()[2:]
            for line in out.splitlines() if line.startswith("player ")}
    assert rows["player 0"][-2:] == ["0", "exact"]
    assert rows["player 1"][-2:] == ["4.090909091", "exact"]
    assert "-0 " not in out


def test_scenario_summary_and_closed_form_are_one_table(
        capsys: pytest.CaptureFixture[str]) -> None:
    out = run(capsys, "solve", "cournot", "--param", "quantity_step=10", "--method", "pure")
    # Cournot closed form (a - c) / (3 b) = 30, price 40, profit 900 for a = 100, c = 10, b = 1
    table = out[out.index("statistic"):]
    rows = {line.split()[0]: line.split()[1:] for line in table.splitlines()[2:]}
    # every grid equilibrium clears at price 40 (total quantity 60 on this grid)
    assert rows["price"] == ["40", "40", "0%"]
    assert rows["quantity"][-2] == "30" and rows["profit"][-2] == "900"


def test_comparison_table_relative_error_against_the_closed_form() -> None:
    # 0.45 against the closed form 0.5 is 10% off; a per-player vector is compared entrywise with
    # a scalar closed form (25 and 35 against 30: 16.7%); a zero closed form shows absolute error
    text = comparison_table({"lambda": 0.45, "quantity": [25.0, 35.0], "bias": 0.01},
                            {"lambda": 0.5, "quantity": 30.0, "bias": 0.0, "beta": 1.0})
    lines = {line.split()[0]: line.split()[1:] for line in text.splitlines()[2:]}
    assert lines["lambda"] == ["0.45", "0.5", "10%"]
    assert lines["quantity"] == ["25,", "35", "30", "16.7%"]
    assert lines["bias"] == ["0.01", "0", "0.01", "(absolute)"]
    assert lines["beta"] == ["-", "1"]


def test_large_policies_print_supports_and_elide_rows() -> None:
    # a 40-state chain whose every state is a matching-pennies stage: the unique stationary
    # equilibrium mixes 1/2-1/2 everywhere (each stage is zero-sum with value 0)
    states = 40
    transitions = np.zeros((states, 2, 2, states))
    for s in range(states):
        transitions[s, :, :, (s + 1) % states] = 1.0
    rewards = np.zeros((2, states, 2, 2))
    rewards[0, :] = [[1.0, -1.0], [-1.0, 1.0]]
    rewards[1] = -rewards[0]
    initial = np.eye(states)[0]
    game = MarkovGame(transitions, rewards, initial, 0.5,
                      action_labels=[["heads", "tails"], ["heads", "tails"]])
    result = solve(game)
    text = solve_report(game, result)
    assert "0.5 heads + 0.5 tails" in text
    assert f"... {states - MAX_ROWS} more rows" in text
    assert len(text) < 4000  # supports and an elided table, not 40 probability vectors x 2


def test_json_output_is_unchanged_by_the_tables(capsys: pytest.CaptureFixture[str],
                                                tmp_path: Path) -> None:
    import json

    document = json.loads(run(capsys, "solve", str(example_path("game.nfg")), "--all", "--json"))
    assert set(document) >= {"equilibria", "method", "complete"}
    assert document["equilibria"][1]["strategies_exact"] == [["4/5", "1/5", "0"], ["2/3", "1/3"]]
