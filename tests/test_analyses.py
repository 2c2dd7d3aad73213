"""The selection, paradigms and algorithms studies: grids, cell functions, figure functions."""

from __future__ import annotations

import dataclasses
from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace

import matplotlib
import numpy as np
import pytest

from gametools.exploitability import policy_distance, state_visits

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from gametools import NormalFormGame
from gametools.marl.train import ALGORITHMS, learner_class
from gametools.plotting import (
    PALETTE,
    mean_interval,
    paper_style,
    plot_equilibrium_map,
    plot_heatmap_with_intervals,
    plot_metric_vs_agents,
    plot_outcome_shares,
    plot_simplex_trajectories,
    save_figure,
    wilson_interval,
)
from gametools.scenarios import get_scenario

studies = pytest.importorskip("gametools.studies", reason="gametools.studies not written yet")

from analyses import algorithms, paradigms, selection

STUDY_MODULES = (selection, paradigms, algorithms)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def cell(**fields):
    """A stand-in with Cell's fields (the call functions only read them)."""
    base = {"task": "call", "scenario": "", "algorithm": "", "seed": 0, "params": {},
            "config": {}, "function": "", "label": ""}
    return SimpleNamespace(**{**base, **fields})


# ------------------------------------------------------------------------------------------
# figure functions on synthetic data
# ------------------------------------------------------------------------------------------

def test_mean_interval_matches_the_t_table() -> None:
    # values 1, 2, 3: mean 2, sd 1, n 3; t_{0.975, 2} = 4.303 (any t table), half-width
    # 4.303 / sqrt(3) = 2.484
    mean, low, high = mean_interval([1.0, 2.0, 3.0])
    assert mean == pytest.approx(2.0)
    assert high - mean == pytest.approx(4.3027 / np.sqrt(3), rel=1e-4)
    assert mean - low == pytest.approx(high - mean)
    assert mean_interval([5.0]) == (5.0, 5.0, 5.0)
    assert all(np.isnan(mean_interval([])))
    assert mean_interval(["1", "", None, 3.0])[0] == pytest.approx(2.0)  # CSV-style entries


def test_outcome_shares_stack_to_the_observed_fractions(tmp_path: Path) -> None:
    rows = ([{"algorithm": "a", "equilibrium": "stag"}] * 2
            + [{"algorithm": "a", "equilibrium": "hare"}]
            + [{"algorithm": "b", "equilibrium": "hare"}] * 4)
    with paper_style():
        ax = plot_outcome_shares(rows, outcomes=("stag", "hare"))
        files = save_figure(ax.figure, tmp_path / "shares")
    heights = {(p.get_x().__round__(3), p.get_facecolor()[:3]): p.get_height()
               for p in ax.patches}
    stag_colour = matplotlib.colors.to_rgb(PALETTE[0])
    assert heights[(round(-0.4, 3), stag_colour)] == pytest.approx(2 / 3)
    assert heights[(round(0.6, 3), stag_colour)] == pytest.approx(0.0)
    assert sum(p.get_height() for p in ax.patches) == pytest.approx(2.0)  # two full bars
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a (n=3)", "b (n=4)"]
    assert ax.get_ylabel() and ax.get_xlabel()
    assert all(f.exists() and f.stat().st_size > 0 for f in files)
    # one Wilson error bar per bar, at the stag/hare boundary: a's 2 of 3, b's 0 of 4
    segments = sorted(tuple(np.round(seg[:, 1], 4)) for bars in ax.collections
                      for seg in bars.get_segments() if seg[0, 0] == seg[1, 0])
    assert segments == sorted([tuple(np.round(wilson_interval(2, 3), 4)),
                               tuple(np.round(wilson_interval(0, 4), 4))])
    assert "Wilson" in ax.get_legend().get_title().get_text()


def test_wilson_interval_matches_the_closed_form() -> None:
    # Wilson (1927) / Brown, Cai and DasGupta (2001), eq. (4): with z = 1.959964, p = k / n,
    # centre (p + z^2 / 2n) / (1 + z^2 / n), half-width z sqrt(p q / n + z^2 / 4n^2) / (...);
    # 3 of 10: [0.1078, 0.6032] (Brown et al.'s Table, and R's prop.test(correct=FALSE))
    assert wilson_interval(3, 10) == pytest.approx((0.10779, 0.60322), abs=1e-5)
    low, high = wilson_interval(0, 5)  # never empty at 0 successes: upper z^2 / (n + z^2)
    assert low == 0.0 and high == pytest.approx(1.959964 ** 2 / (5 + 1.959964 ** 2), rel=1e-6)
    assert wilson_interval(5, 5)[1] == 1.0
    assert all(np.isnan(wilson_interval(0, 0)))
    with pytest.raises(ValueError, match="successes"):
        wilson_interval(4, 3)


def test_outcome_shares_draw_no_error_bars_for_exact_groups() -> None:
    rows = [{"algorithm": "basins", "equilibrium": "stag"}] * 3
    with paper_style():
        ax = plot_outcome_shares(rows, exact=["basins"])
    assert not ax.collections and "Wilson" not in ax.get_legend().get_title().get_text()


def test_equilibrium_map_colours_each_start_by_its_outcome(tmp_path: Path) -> None:
    grid = (np.arange(4) + 0.5) / 4
    rows = [{"x0": x, "y0": y, "equilibrium": "stag/stag" if min(x, y) > 0.5 else "hare/hare"}
            for x in grid for y in grid]
    with paper_style():
        ax = plot_equilibrium_map(rows, outcomes=("stag/stag", "hare/hare"),
                                  equilibria={"stag/stag": (1.0, 1.0), "hare/hare": (0, 0)})
        files = save_figure(ax.figure, tmp_path / "map")
    mesh = ax.collections[0].get_array().reshape(4, 4)  # rows: y0, columns: x0
    expected = np.array([[0 if min(x, y) > 0.5 else 1 for x in grid] for y in grid])
    np.testing.assert_array_equal(mesh, expected)
    assert len(ax.lines) == 2  # the two equilibrium stars
    assert ax.get_xlabel() and ax.get_ylabel()
    assert all(f.exists() for f in files)


def test_simplex_trajectories_square_and_triangle() -> None:
    square = plot_simplex_trajectories([np.array([[0.2, 0.3], [0.1, 0.1], [0.0, 0.0]])])
    assert square.get_xlim() == (0.0, 1.0) and square.get_xlabel()
    np.testing.assert_allclose(square.lines[0].get_xydata(), [[0.2, 0.3], [0.1, 0.1],
                                                             [0.0, 0.0]])
    triangle = plot_simplex_trajectories([np.array([[1 / 3] * 3, [1.0, 0.0, 0.0]])],
                                         vertex_labels=("R", "P", "S"))
    # barycentric (1, 0, 0) is the first corner (0, 0); the centroid is (1/2, sqrt(3)/6)
    np.testing.assert_allclose(triangle.lines[0].get_xydata(),
                               [[0.5, np.sqrt(3) / 6], [0.0, 0.0]], atol=1e-12)
    with pytest.raises(ValueError, match="shape"):
        plot_simplex_trajectories([np.zeros((3, 2)), np.zeros((3, 3))])


def test_metric_vs_agents_draws_means_and_intervals(tmp_path: Path) -> None:
    rows = [{"algorithm": "mappo", "label": f"n_agents={n}", "seed": s, "step": step,
             "nash_conv": float(n + s) if step else 100.0}
            for n in (2, 3) for s in range(3) for step in (0, 10)]
    with paper_style():
        ax = plot_metric_vs_agents(rows, metric="nash_conv")
        files = save_figure(ax.figure, tmp_path / "agents")
    # the last step of each seed counts: means (2+3+4)/3 = 3 at n = 2 and 4 at n = 3
    np.testing.assert_allclose(ax.lines[0].get_xydata(), [[2, 3.0], [3, 4.0]])
    band = ax.collections[0].get_paths()[0].vertices
    # 3 seeds (< 5, gametools.plotting.MIN_SEEDS_FOR_INTERVAL): the band is the seeds' range,
    # [2, 4] at n = 2 and [3, 5] at n = 3, and the legend says so and gives n
    assert band[:, 1].max() == pytest.approx(5.0)
    assert band[:, 1].min() == pytest.approx(2.0)
    legend = ax.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["mappo (n=3)"]
    assert "min-max of seeds" in legend.get_title().get_text()
    assert ax.get_xlabel() == "number of agents" and ax.get_ylabel()
    assert all(f.exists() for f in files)


def test_heatmap_annotates_means_and_intervals(tmp_path: Path) -> None:
    rows = [{"scenario": sc, "algorithm": al, "seed": s, "step": 1,
             "nash_conv": {"a": 1.0, "b": 2.0}[al] + s}
            for sc in ("pennies", "cournot") for al in ("a", "b") for s in range(3)]
    rows.append({"scenario": "team", "algorithm": "a", "seed": 0, "step": 1, "nash_conv": 0.5})
    # five seeds 0, 0, 0, 0, 1: mean 0.2, sd sqrt(0.2), t_{0.975,4} = 2.7764 (any t table):
    # half-width 0.555, so [-0.355, 0.755], clipped to NashConv's range [0, inf)
    rows += [{"scenario": "team", "algorithm": "b", "seed": s, "step": 1,
              "nash_conv": float(s == 4)} for s in range(5)]
    with paper_style():
        ax = plot_heatmap_with_intervals(rows, metric="nash_conv", bounds=(0.0, None))
        files = save_figure(ax.figure, tmp_path / "heat")
    texts = [t.get_text() for t in ax.texts]
    assert "0.2\n[0, 0.76]\nn=5" in texts
    # three seeds (< 5): the band is their range, 1 + (0, 1, 2)
    assert "2\n[1, 3]\nn=3" in texts
    assert "0.5\nn=1" in texts  # a single seed: no interval
    colorbar = ax.figure.axes[-1].get_ylabel()
    assert "t-interval" in colorbar and "min-max of seeds" in colorbar
    assert ax.get_xlabel() == "algorithm" and ax.get_ylabel() == "scenario"
    assert all(f.exists() for f in files)


# ------------------------------------------------------------------------------------------
# equilibria and distances
# ------------------------------------------------------------------------------------------

def test_policy_distance_on_the_stag_hunt() -> None:
    game = selection.stag_hunt()
    candidates = algorithms.equilibrium_candidates("", game=game)
    labels = {label: [p[0] for p in profile] for label, profile in candidates}
    # the stag hunt's equilibria (hand-solved: stag is a best reply iff the other hunts stag
    # with probability >= 3/4)
    assert set(labels) == {"stag/stag", "hare/hare", "mixed"}
    np.testing.assert_allclose(labels["mixed"], [[0.75, 0.25]] * 2)
    markov = game.to_markov_game()
    profile = (np.array([[0.9, 0.1]] * 2), np.array([[0.8, 0.2]] * 2))
    label, distance = algorithms.nearest_equilibrium(markov, profile, candidates)
    # |0.9-1| + |0.1-0| + |0.8-1| + |0.2-0| = 0.6 to stag/stag; to mixed 0.3 + 0.1 = 0.4
    assert label == "mixed" and distance == pytest.approx(0.4)
    assert policy_distance(markov, profile, dict(candidates)["stag/stag"]) == \
        pytest.approx(0.6)


def test_bank_run_candidates_follow_the_reference() -> None:
    candidates = dict(algorithms.equilibrium_candidates("bank_run"))
    assert set(candidates) == {"no-run", "run", "mixed"}
    # REFERENCES.md "Bank runs": the symmetric mixed equilibrium withdraws w.p. about 0.53
    assert candidates["mixed"][0][0, 0] == pytest.approx(0.53, abs=0.01)


def test_state_visits_count_one_per_period() -> None:
    portfolio = get_scenario("portfolio").build(n_agents=2, n_periods=2, observation="full")
    profile = algorithms.equilibrium_candidates("portfolio", {"n_agents": 2, "n_periods": 2,
                                                              "observation": "full"})[0][1]
    weights = state_visits(portfolio, profile)
    # one visit per period of a two-period episode, then the end
    assert weights[~portfolio.terminal].sum() == pytest.approx(2.0)
    assert weights[portfolio.terminal].sum() == pytest.approx(1.0)


# ------------------------------------------------------------------------------------------
# the grids
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("module", STUDY_MODULES, ids=lambda m: m.__name__)
def test_quick_grid_schedules_only_valid_pairs(module) -> None:
    grid = module.STUDY.cells(True)
    assert grid and all(isinstance(c, studies.Cell) for c in grid)
    assert len({c.key for c in grid}) == len(grid)
    assert len(grid) < len(module.STUDY.cells(False))
    for c in grid:
        if c.task == "call":
            module_name, _, name = c.function.partition(":")
            assert module_name == module.__name__ and callable(getattr(module, name))
        if c.algorithm not in ALGORITHMS or not c.scenario:
            continue
        game = get_scenario(c.scenario).build(**c.params)
        markov = game.to_markov_game() if isinstance(game, NormalFormGame) else game
        if learner_class(c.algorithm).requires_cooperative:
            assert np.allclose(markov.rewards, markov.rewards[:1]), c.key
        if c.algorithm == "central":
            assert all(len(set(row)) == markov.num_states for row in markov.observations)


def test_team_learners_stay_off_competitive_games() -> None:
    for module in STUDY_MODULES:
        for c in module.STUDY.cells(False):
            if c.algorithm in ("qmix", "central"):
                assert c.scenario == "portfolio", c.key


# ------------------------------------------------------------------------------------------
# call cells
# ------------------------------------------------------------------------------------------

REQUIRED = {"scenario", "algorithm", "seed", "step", "label"}


def test_replicator_cells_converge_inside_the_obvious_basins(tmp_path: Path) -> None:
    rows = selection.replicator_basins(cell(params={"game": "stag_hunt", "x0": 0.9, "grid": 4},
                                            label="stag hunt"), tmp_path)
    assert all(REQUIRED | {"x0", "y0", "x", "y", "equilibrium"} <= set(r) for r in rows)
    final = {r["y0"]: r for r in rows if r["step"] == max(q["step"] for q in rows)}
    assert sorted(final) == [0.125, 0.375, 0.625, 0.875]
    # both above 3/4: stag is each player's strict best reply throughout -> stag/stag;
    # y0 = 1/8: hunter 2 prefers hare and pulls hunter 1 down -> hare/hare
    assert final[0.875]["equilibrium"] == "stag/stag"
    assert final[0.125]["equilibrium"] == "hare/hare"
    assert final[0.875]["x"] > 0.99 and final[0.125]["x"] < 0.01


def test_solver_cells_list_the_equilibria(tmp_path: Path) -> None:
    stag = selection.solver_equilibria(cell(params={"game": "stag_hunt"}), tmp_path)
    assert {r["equilibrium"] for r in stag} == {"stag/stag", "hare/hare", "mixed"}
    assert all(r["exact"] and r["regret"] == 0 for r in stag)
    bank = selection.solver_equilibria(cell(scenario="bank_run"), tmp_path)
    pure = {r["equilibrium"] for r in bank if r["method"] == "pure"}
    assert pure == {"run", "no-run"}  # Diamond-Dybvig's two pure equilibria
    assert all(REQUIRED <= set(r) for r in stag + bank)


def test_train_cells_return_classified_rows(tmp_path: Path) -> None:
    config = algorithms.budget("iql", quick=True)
    rows = selection.train_and_classify(cell(params={"game": "stag_hunt"}, algorithm="iql",
                                             config=config), tmp_path / "s")
    (row,) = rows
    assert REQUIRED | {"nash_conv", "equilibrium", "distance"} <= set(row)
    assert row["equilibrium"] in {"stag/stag", "hare/hare", "mixed", "unconverged"}
    (measured,) = algorithms.train_and_measure(
        cell(scenario="prisoners_dilemma", algorithm="iql", config=config), tmp_path / "a")
    assert REQUIRED | {"nash_conv", "relative_nash_conv", "distance",
                       "nearest_equilibrium"} <= set(measured)
    # the prisoner's dilemma has one equilibrium; distance 0 <=> NashConv 0 there
    assert measured["nearest_equilibrium"] == "defect/defect"
    assert (measured["distance"] < 1e-6) == (measured["nash_conv"] < 1e-6)
    assert (tmp_path / "a" / "policy.npz").exists()


# ------------------------------------------------------------------------------------------
# study figures and one end-to-end run
# ------------------------------------------------------------------------------------------

def test_paradigm_and_algorithm_figures_from_synthetic_rows(tmp_path: Path) -> None:
    rows = [{"scenario": sc, "algorithm": al, "label": f"n_agents={n}", "seed": s, "step": 5,
             "cell": f"{sc}-{al}-{n}-{s}", "nash_conv": 1.0 + s, "return_0": 2.0,
             "return_1": 4.0, "relative_nash_conv": 0.1 * s, "distance": 0.5,
             "nearest_equilibrium": "x"}
            for sc in ("portfolio", "cournot") for al in ("mappo", "iql")
            for n in (2, 3) for s in range(2)]
    written = paradigms.figures(rows, tmp_path / "p")
    assert {f.stem for f in written} == {"paradigms_nash_conv", "paradigms_team_return"}
    assert paradigms.team_return(rows[0]) == pytest.approx(3.0)
    written = algorithms.figures(rows, tmp_path / "a")
    assert {f.stem for f in written} == {"algorithms_relative_nash_conv", "algorithms_distance"}
    table = algorithms.summarize(rows)["exploitability"]
    assert len(table) == 4 and all(entry["seeds"] == 4 for entry in table)


def test_selection_study_end_to_end(tmp_path: Path) -> None:
    def tiny(quick: bool) -> list:
        return [c for c in selection.cells(True)
                if c.function.endswith("solver_equilibria") and not c.scenario
                or c.function.endswith("replicator_basins") and c.params["x0"] > 0.9]

    study = dataclasses.replace(selection.STUDY, cells=tiny)
    result = studies.run_study(study, out=tmp_path, quick=True, workers=1, progress=False)
    assert (tmp_path / "results.csv").exists() and result.ran == 2
    assert {p.stem for p in result.figures} == {"selection_basins"}
    outcomes = result.summary["outcomes"]
    assert {o["learner"] for o in outcomes} == {"replicator basins"}
    assert sum(o["share"] for o in outcomes) == pytest.approx(1.0)


def test_stag_hunt_exact_mixed_equilibrium() -> None:
    from gametools.solvers import solve

    result = solve(selection.stag_hunt(), method="vertex", all_equilibria=True)
    exact = {tuple(e.strategies_exact[0]) for e in result.equilibria}
    assert (Fraction(3, 4), Fraction(1, 4)) in exact


# ------------------------------------------------------------------------------------------
# the convergence study
# ------------------------------------------------------------------------------------------

def test_convergence_series_fall_where_theory_says() -> None:
    # the cheap series, run as the study runs them. Cournot by hand (tests of the scenario): the
    # nearest pure equilibrium is 3, 2, 0 from q = 30 at steps 9, 4, 2. Back (1992): Kyle's
    # N-auction profit (0.5 at N = 1, Kyle 1985 Thm 1; 0.620555 at N = 2, Thm 2) rises to the
    # limit sigma_v sigma_u = 1
    from analyses import convergence
    from gametools.studies import Cell

    rows = []
    for scenario in ("cournot", "kyle"):
        cell = Cell("call", scenario, "refinement",
                    function="analyses.convergence:refinement_rows")
        rows += [{"scenario": scenario, **row} for row in convergence.refinement_rows(cell,
                                                                                     Path("."))]
    table = convergence.summarize(rows)
    assert table["cournot"]["quantity vs q = 30"]["errors"] == pytest.approx([3.0, 2.0, 0.0])
    back = table["kyle: N auctions to Back (1992)"]["insider profit vs Back's limit, relative"]
    assert back["errors"][:2] == pytest.approx([0.5, 1 - 0.620555], abs=1e-6)
    assert back["falls_monotonically"] and back["expected_monotone"]
    projected = table["kyle"]["NashConv of the projected equilibrium"]
    assert projected["falls_monotonically"] and projected["as_theory_says"]
    assert all(entry["as_theory_says"] for series in table.values() for entry in series.values())


def test_convergence_figure_and_summary_from_synthetic_rows(tmp_path: Path) -> None:
    from analyses import convergence

    rows = [{"scenario": "a", "statistic": "falls", "step": k, "grid": f"g{k}",
             "error": e, "expected_monotone": True} for k, e in enumerate((1.0, 0.5, 0.0))]
    rows += [{"scenario": "b", "statistic": "need not", "step": k, "grid": f"g{k}",
              "error": e, "expected_monotone": False} for k, e in enumerate((0.1, 0.2))]
    rows += [{"scenario": "c", "statistic": "should", "step": k, "grid": f"g{k}",
              "error": e, "expected_monotone": True} for k, e in enumerate((0.1, 0.2))]
    table = convergence.summarize(rows)
    assert table["a"]["falls"]["falls_monotonically"] and table["a"]["falls"]["as_theory_says"]
    assert not table["b"]["need not"]["falls_monotonically"]
    assert table["b"]["need not"]["as_theory_says"]
    assert not table["c"]["should"]["as_theory_says"]  # a regression would show here
    written = convergence.figures(rows, tmp_path)
    assert sorted(p.name for p in written) == ["convergence.pdf", "convergence.png"]
