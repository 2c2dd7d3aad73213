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
    # figures number players from 1: the column player (index 1) is "player 2"
    assert axes[0].get_ylabel() == "NashConv" and axes[1].get_xlabel() == "player 2"
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
    # Big Match: exploitability vanishes at p* = (1 - d) / (2 - d) and only there; p* is on the
    # drawn grid, so the figure's curve touches 0 at the theory line
    curve = np.array(results["big_match"]["nash_conv"])
    assert results["big_match"]["nash_conv_at_theory"]["nash_conv"] == pytest.approx(0, abs=1e-9)
    assert curve.min() == pytest.approx(0, abs=1e-9)
    assert results["big_match"]["probabilities"][int(curve.argmin())] == pytest.approx(1 / 11)
    assert np.sum(curve < 1e-9) == 1


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


def test_importing_plotting_keeps_the_users_backend() -> None:
    # a notebook's inline backend must survive `import gametools.plotting` (and the studies that
    # import it); run in a fresh interpreter so no earlier import decides the backend
    import subprocess
    import sys

    code = ("import matplotlib; matplotlib.use('svg'); import gametools.plotting, analyses; "
            "import analyses.quickstart; print(matplotlib.get_backend())")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "svg"


def test_seed_band_is_a_clipped_t_interval_from_five_seeds_else_the_range() -> None:
    from gametools.plotting import seed_band

    # two seeds: the band is their range (a t-interval from 2 seeds, t_{0.975,1} = 12.71, would
    # run far below zero)
    assert seed_band([0.01, 0.5], bounds=(0.0, None))[1:] == (0.01, 0.5, 2, "range")
    # five seeds 1..5: mean 3, sd sqrt(2.5), t_{0.975,4} = 2.7764 (any t table): half-width 1.963
    band = seed_band([1.0, 2.0, 3.0, 4.0, 5.0])
    assert band.kind == "t" and band.n == 5
    assert band.high - band.mean == pytest.approx(2.7764 * np.sqrt(2.5) / np.sqrt(5), rel=1e-4)
    # a NashConv interval never goes below 0, the metric's lower bound
    clipped = seed_band([0.0, 0.0, 0.0, 0.0, 1.0], bounds=(0.0, None))
    assert clipped.low == 0.0 and clipped.high > clipped.mean
    # on a log axis: the t-interval of the mean of log values, mapped back. log10 of the values
    # is -2, -1, 0, 1, 2 (mean 0, sd sqrt(2.5)): the geometric mean is 1 and the band
    # 10 ** (+-2.7764 sqrt(2.5) / sqrt(5)), positive although a linear interval would not be
    logged = seed_band([0.01, 0.1, 1.0, 10.0, 100.0], bounds=(0.0, None), log=True)
    assert logged.kind == "t-log" and logged.mean == pytest.approx(1.0)
    half = 2.7764 * np.sqrt(2.5) / np.sqrt(5)
    assert (logged.low, logged.high) == pytest.approx((10 ** -half, 10 ** half), rel=1e-4)
    assert seed_band([0.01, 0.1, 1.0, 10.0, 100.0]).low < 0  # the linear one leaves the range
    # a seed at exactly 0 has no logarithm: the linear interval, clipped at 0
    assert seed_band([0.0, 1.0, 1.0, 1.0, 1.0], bounds=(0.0, None), log=True).kind == "t"


def test_training_curves_state_n_and_the_band_in_the_legend() -> None:
    from gametools.plotting import plot_exploitability_curves

    rows = [{"algorithm": algo, "seed": seed, "step": step, "nash_conv": 1.0 / (step + seed + 1)}
            for algo, seeds in (("mappo", 2), ("maddpg", 5)) for seed in range(seeds)
            for step in (0, 10, 20)]
    fig, ax = plt.subplots()
    plot_exploitability_curves(rows, ax=ax)
    legend = ax.get_legend()
    texts = [t.get_text() for t in legend.get_texts()]
    assert texts == ["mappo (n=2)", "maddpg (n=5)"]
    title = legend.get_title().get_text()
    # log axis: the five-seed line is a geometric mean with a log-scale interval
    assert "geometric mean, 95% t-interval on log scale" in title
    assert "min-max of seeds" in title
    # every band stays on the log axis: its lower edge is positive
    for band in ax.collections:
        assert band.get_paths()[0].vertices[:, 1].min() > 0
    plt.close(fig)


def test_estimates_with_different_units_get_separate_axes() -> None:
    from gametools.plotting import plot_estimates_vs_theory

    rows = [{"algorithm": "mappo", "seed": s, "lambda": 0.5 + 0.01 * s, "beta": 1.0 - 0.02 * s}
            for s in range(3)]
    fig, ax = plt.subplots()
    plot_estimates_vs_theory(rows, theory={"lambda": 0.5, "beta": 1.0},
                             names={"lambda": "price impact", "beta": "trading intensity"}, ax=ax)
    panels = ax.child_axes
    assert [panel.get_ylabel() for panel in panels] == ["price impact", "trading intensity"]
    # each panel's y range holds its own estimate and theory line only (0.5 vs 1.0 scales)
    assert panels[0].get_ylim()[1] < 1.0 and panels[1].get_ylim()[0] > 0.5
    plt.close(fig)


def test_a_zero_bar_is_visible_and_labelled() -> None:
    fig, ax = plt.subplots()
    plot_profile_bars(["equilibrium", "collusion"], [0.0, 450.0], ax=ax)
    labels = [t.get_text() for t in ax.texts]
    assert labels == ["0", "450"]
    assert len(ax.collections) == 1  # the zero marker on the axis
    plt.close(fig)
