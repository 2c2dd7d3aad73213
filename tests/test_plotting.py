"""Figure functions on synthetic data, and the demo study end to end."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest

from gametools import NormalFormGame
from gametools.plotting import (
    paper_style,
    plot_nash_conv_curve,
    plot_payoff_heatmap,
    plot_profile_bars,
    save_figure,
)


def test_figures_are_written_as_pdf_and_png(tmp_path: Path) -> None:
    with paper_style():
        fig, axes = plt.subplots(1, 3)
        plot_nash_conv_curve([0, 0.5, 1], [1.0, 0.0, 1.0], reference=0.5, ax=axes[0])
        game = NormalFormGame.from_bimatrix([[2, 0], [0, 1]], [[1, 0], [0, 2]])
        plot_payoff_heatmap(game, profile=(np.array([1.0, 0.0]), np.array([1.0, 0.0])),
                            ax=axes[1])
        plot_profile_bars(["a", "b"], [0.1, 0.2], ax=axes[2])
        written = save_figure(fig, tmp_path / "figure")
        plt.close(fig)
    assert [p.suffix for p in written] == [".pdf", ".png"]
    assert (tmp_path / "figure.pdf").read_bytes().startswith(b"%PDF")
    assert (tmp_path / "figure.png").read_bytes().startswith(b"\x89PNG")
    assert not list(tmp_path.glob("*.tmp"))
    assert axes[0].get_ylabel() == "NashConv" and axes[1].get_xlabel() == "player 1"
    # the equilibrium cell (0, 0) is outlined
    assert len(axes[1].patches) == 1


def test_heatmap_rejects_games_that_are_not_two_player() -> None:
    game = NormalFormGame(np.zeros((3, 2, 2, 2)))
    with pytest.raises(ValueError, match="two-player"):
        plot_payoff_heatmap(game)


def test_quickstart_demo_writes_figures_and_recovers_theory(tmp_path: Path) -> None:
    from analyses.quickstart import main

    assert main(["--out", str(tmp_path)]) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    for stem in ("cournot_nash_conv", "cournot_payoffs", "big_match_nash_conv"):
        assert (tmp_path / f"{stem}.pdf").is_file() and (tmp_path / f"{stem}.png").is_file()
    # Cournot closed form q = (a - c) / (3 b) = 30 (REFERENCES.md, Oligopoly)
    assert results["cournot"]["equilibrium_quantities"] == [30.0, 30.0]
    assert results["cournot"]["nash_conv"]["equilibrium"]["nash_conv"] == pytest.approx(0, abs=1e-9)
    assert results["cournot"]["nash_conv"]["collusion"]["nash_conv"] > 0
    # Big Match: exploitability vanishes at p* = (1 - d) / (2 - d) and only there on the grid
    curve = np.array(results["big_match"]["nash_conv"])
    assert results["big_match"]["nash_conv_at_theory"]["nash_conv"] == pytest.approx(0, abs=1e-9)
    assert curve.min() > 0 or np.isclose(
        results["big_match"]["probabilities"][int(curve.argmin())],
        results["big_match"]["theory_probability"])


def test_policy_vs_equilibrium_outlines_the_support(tmp_path: Path) -> None:
    from gametools.plotting import plot_policy_vs_equilibrium

    learned = np.array([[0.9, 0.1, 0.0], [0.2, 0.3, 0.5]])
    equilibrium = np.array([[1.0, 0.0, 0.0], [0.0, 0.5, 0.5]])
    with paper_style():
        fig, ax = plt.subplots()
        plot_policy_vs_equilibrium(learned, equilibrium, ax=ax)
        save_figure(fig, tmp_path / "policy")
        plt.close(fig)
    # three support cells: (0, 0), (1, 1), (1, 2)
    assert len(ax.patches) == 3
    assert ax.get_xlabel() == "action" and ax.get_ylabel() == "observation"
    with pytest.raises(ValueError, match="same shape"):
        plot_policy_vs_equilibrium(learned, equilibrium[:1])


def test_solver_benchmark_chart_marks_incomplete_runs() -> None:
    from gametools.plotting import plot_solver_benchmark

    rows = [{"solver": "ours", "size": 4, "seconds": 0.01},
            {"solver": "ours", "size": 8, "seconds": 0.02},
            {"solver": "peer", "size": 4, "seconds": 0.02},
            {"solver": "peer", "size": 8, "seconds": 0.5, "incomplete": True}]
    with paper_style():
        ax = plot_solver_benchmark(rows)
    assert [line.get_label() for line in ax.get_lines()] == ["ours", "peer"]
    assert ax.get_yscale() == "log" and len(ax.collections) == 1  # one open marker
    plt.close(ax.figure)
