"""The predatory-execution scenario: CLV closed form, discrete analogue, grid game, summaries.

Expected numbers come from REFERENCES.md ("Execution games", Carlin-Lobo-Viswanathan 2007):
gamma = 1, lambda = 0.5, T = 1, the seller sells one unit: its cost is 1.0 alone (TWAP),
1.087450 with one predator (who earns 0.069070) and 1.118008 with two. The second parameter set
(gamma = 2, lambda = 1, position = 2) has the same kappa T and rho T, so by the model's scaling
(costs are gamma X^2 times a function of gamma T / lambda) every cost is 8 times the published one.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from games.execution import (
    SCENARIOS,
    build,
    clv_equilibrium,
    open_loop_equilibrium,
    reference,
    reference_profile,
    summarize,
)
from gametools import nash_conv, uniform_profile
from gametools.scenarios import ScenarioError
from gametools.solvers.backward_induction import backward_induction

SECOND = {"gamma": 2.0, "lam": 1.0, "position": 2.0}
CASES = [({}, 1.0), (SECOND, 8.0)]
IDS = ["default", "second"]


# ------------------------------------------------------------------------------------------
# closed forms
# ------------------------------------------------------------------------------------------

def test_clv_reproduces_published_costs() -> None:
    # REFERENCES.md: 1.0 alone, 1.087450 with one predator, 1.118008 with two
    assert clv_equilibrium(n_predators=0)["seller_shortfall"] == pytest.approx(1.0, abs=1e-12)
    one = clv_equilibrium(n_predators=1)
    assert one["seller_shortfall"] == pytest.approx(1.087450, abs=1e-6)
    # published 0.069070; the closed form integrates to 0.0690674 (the discrete open-loop
    # equilibrium converges to the same number, see below), so the tolerance is 5e-6
    assert one["predator_profit"][0] == pytest.approx(0.069070, abs=5e-6)
    two = clv_equilibrium(n_predators=2)
    assert two["seller_shortfall"] == pytest.approx(1.118008, abs=1e-6)
    # CLV: kappa = ((n - 1) / (n + 1)) gamma / lambda, rho = gamma / lambda
    assert one["kappa"] == pytest.approx(2 / 3) and one["rho"] == pytest.approx(2.0)
    assert two["kappa"] == pytest.approx(1.0)


@pytest.mark.parametrize("params, scale", CASES, ids=IDS)
def test_reference_scales_with_the_published_numbers(params: dict, scale: float) -> None:
    ref = reference(**params)
    assert ref["seller_shortfall"] == pytest.approx(scale * 1.087450, abs=scale * 1e-6)
    assert ref["predator_profit"] == pytest.approx(scale * 0.069070, abs=scale * 5e-6)
    assert ref["seller_shortfall_alone"] == pytest.approx(scale * 1.0)
    assert reference(n_predators=2, **params)["seller_shortfall"] == pytest.approx(
        scale * 1.118008, abs=scale * 1e-6)
    # holdings start at (position, 0) and end flat
    holdings = np.array(ref["holdings"])
    assert holdings[:, 0] == pytest.approx([params.get("position", 1.0), 0.0])
    assert holdings[:, -1] == pytest.approx([0.0, 0.0], abs=1e-12)


@pytest.mark.parametrize("params, scale", CASES, ids=IDS)
def test_discrete_open_loop_converges_to_clv(params: dict, scale: float) -> None:
    clv = clv_equilibrium(n_predators=1, **params)
    errors = [abs(open_loop_equilibrium(n_steps=n, n_predators=1, **params)["seller_shortfall"]
                  - clv["seller_shortfall"]) for n in (2, 4, 8, 16, 32, 64, 256)]
    assert all(a > b for a, b in itertools.pairwise(errors))
    assert errors[-1] < 2e-6 * scale
    profit = open_loop_equilibrium(n_steps=256, n_predators=1, **params)["predator_profit"][0]
    assert profit == pytest.approx(clv["predator_profit"][0], abs=3e-6 * scale)
    # the holdings path converges too (CLV holdings at the step times)
    steps = 64
    discrete = np.array(open_loop_equilibrium(n_steps=steps, n_predators=1,
                                              **params)["holdings"])
    continuous = clv["holdings_at"](np.linspace(0, 1, steps + 1))
    assert np.abs(discrete - continuous).max() < 1e-3 * params.get("position", 1.0)


@pytest.mark.parametrize("n_steps", [2, 3, 4, 5])
def test_seller_alone_splits_equally_in_discrete_time(n_steps: int) -> None:
    # linear temporary impact: TWAP is optimal; shortfall gamma X^2 / 2 + lam X^2 / T = 1.0
    out = open_loop_equilibrium(n_steps=n_steps, n_predators=0)
    assert out["trades"][0] == pytest.approx([-1.0 / n_steps] * n_steps, abs=1e-12)
    assert out["seller_shortfall"] == pytest.approx(1.0, abs=1e-12)


def test_predation_direction_in_the_closed_forms() -> None:
    alone, one, two = (reference(n_predators=p) for p in (0, 1, 2))
    # predation raises the seller's cost, more with more predators (CLV)
    assert alone["seller_shortfall"] < one["seller_shortfall"] < two["seller_shortfall"]
    assert alone["open_loop_shortfall"] < one["open_loop_shortfall"] < two["open_loop_shortfall"]
    # the predator front-runs: it is short while the seller sells, then buys back
    predator = np.array(one["open_loop_holdings"][1])
    assert predator[1] < 0 and predator[-2] < 0 and np.diff(predator)[-1] > 0
    assert np.array(one["holdings"][1])[1:-1].max() < 0
    assert one["predator_profit"] > 0 and one["open_loop_predator_profit"] > 0


# ------------------------------------------------------------------------------------------
# the grid game
# ------------------------------------------------------------------------------------------

def test_rewards_match_a_hand_computed_path() -> None:
    # n_steps = 2, lot 0.5, dt = 0.5. Step 0: seller sells a lot, predator sells a lot: Q = -1,
    # e - p0 = gamma Q / 2 + lam Q / dt = -0.5 - 1 = -1.5. Step 1 (forced): seller sells its last
    # lot, predator buys back: Q = 0, e - p0 = gamma (X_1 - X_0) = -1.
    params = {"n_steps": 2, "n_lots": 2, "predator_lots": 1}
    game = build(**params)
    seller, predator = np.eye(3)[[1]], np.eye(3)[[0]]  # sell one lot; trade -1 lot
    profile = (np.repeat(seller, game.num_states, 0), np.repeat(predator, game.num_states, 0))
    stats = summarize(game, profile, **params)
    # seller: 0.5 * 1.5 + 0.5 * 1 below p0 -> shortfall 1.25; predator: -0.75 + 0.5 = -0.25
    assert stats["seller_shortfall"] == pytest.approx(1.25)
    assert stats["predator_profit"] == pytest.approx([-0.25])
    assert np.allclose(stats["holdings"], [[1.0, 0.5, 0.0], [0.0, -0.5, 0.0]])


@pytest.mark.parametrize("params", [{}, SECOND], ids=IDS)
def test_seller_alone_grid_equilibrium_is_twap(params: dict) -> None:
    params = {**params, "n_predators": 0}
    game = build(**params)
    result = backward_induction(game)
    assert result.status == "success"
    stats = summarize(game, result.equilibria[0].strategies, **params)
    x = params.get("position", 1.0)
    assert np.allclose(stats["holdings"][0], [x, 2 * x / 3, x / 3, 0.0])
    assert stats["seller_shortfall"] == pytest.approx(reference(**params)["seller_shortfall_alone"])
    # the projected reference is the same TWAP and an exact equilibrium
    profile = reference_profile(game, **params)
    assert nash_conv(game, profile).nash_conv == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("params", [{"n_steps": 2, "n_lots": 4, "predator_lots": 2},
                                    {"n_steps": 3, "n_lots": 6, "predator_lots": 2}],
                         ids=["two_steps", "three_steps"])
def test_subgame_perfect_grid_equilibrium_shows_predation(params: dict) -> None:
    # closed-loop (Markov perfect) equilibria differ from CLV's open-loop ones, but predation
    # shows the same way
    game = build(**params)
    result = backward_induction(game)
    assert result.status == "success"
    equilibrium = result.equilibria[0]
    assert nash_conv(game, equilibrium.strategies).nash_conv < 1e-9
    stats = summarize(game, equilibrium.strategies, **params)
    # the seller pays more than TWAP's 1.0 and the predator profits
    assert stats["seller_shortfall"] > 1.0 + 1e-6
    assert stats["predator_profit"][0] > 1e-6
    # front-running: the predator goes short, then buys back at the end
    predator = np.array(stats["holdings"][1])
    assert predator.min() < 0 and stats["trades"][1][-1] > 0


@pytest.mark.parametrize("params", [{}, SECOND, {"n_predators": 2}], ids=IDS + ["two"])
def test_projected_reference_is_an_approximate_equilibrium(params: dict) -> None:
    game = build(**params)
    result = nash_conv(game, reference_profile(game, **params))
    assert result.kind == "exact"
    uniform = nash_conv(game, uniform_profile(game)).nash_conv
    assert result.nash_conv < 0.05 * uniform


@pytest.mark.parametrize("params", [{}, SECOND], ids=IDS)
def test_refining_the_lots_shrinks_the_error(params: dict) -> None:
    gaps, errors = [], []
    for lots in (6, 12, 24):
        p = {**params, "n_lots": lots, "predator_lots": lots // 2}
        game = build(**p)
        profile = reference_profile(game, **p)
        gaps.append(nash_conv(game, profile).nash_conv)
        stats = summarize(game, profile, **p)
        errors.append(abs(stats["seller_shortfall"] - reference(**p)["open_loop_shortfall"]))
    assert gaps[0] >= gaps[1] >= gaps[2] and gaps[2] < gaps[0]
    assert errors[0] > errors[1] > errors[2]


@pytest.mark.parametrize("params", [{}, SECOND, {"n_steps": 4, "n_lots": 12}],
                         ids=IDS + ["four_steps"])
def test_summary_of_projected_reference_matches_open_loop(params: dict) -> None:
    game = build(**params)
    stats = summarize(game, reference_profile(game, **params), **params)
    ref = reference(**params)
    x = params.get("position", 1.0)
    lot = x / params.get("n_lots", 6)
    # holdings are the open-loop ones rounded to the nearest lot
    assert np.abs(np.array(stats["holdings"]) - np.array(ref["open_loop_holdings"])).max() \
        <= lot / 2 + 1e-12
    # the cost error is of the order of the rounding (at 6 lots: about 5% of the cost)
    assert stats["seller_shortfall"] == pytest.approx(ref["open_loop_shortfall"], rel=0.06)
    assert stats["seller_shortfall"] > ref["seller_shortfall_alone"]


# ------------------------------------------------------------------------------------------
# parameters
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("bad", [{"n_steps": 1}, {"n_predators": 3}, {"lam": 0.0},
                                 {"gamma": -1.0}, {"n_lots": 0}, {"volatility": 1.0},
                                 {"n_steps": 2.5}])
def test_invalid_parameters_are_rejected(bad: dict) -> None:
    with pytest.raises(ScenarioError):
        SCENARIOS[0].build(**bad)
    with pytest.raises(ScenarioError):
        reference(**bad)


def test_oversized_grid_is_rejected_and_mismatched_game_detected() -> None:
    with pytest.raises(ScenarioError, match="rows"):
        build(n_predators=2, n_lots=48, predator_lots=24)
    game = build()
    with pytest.raises(ScenarioError, match="not built"):
        summarize(game, uniform_profile(game), n_lots=8)


def test_scenario_entry() -> None:
    (scenario,) = SCENARIOS
    assert scenario.name == "predatory_execution"
    assert scenario.reference is reference and scenario.summarize is summarize
    game = scenario.build()
    assert game.player_labels == ("seller", "predator 1") and game.fully_observed


def test_summary_says_why_the_grid_equilibrium_is_not_clv_and_where_it_is_within_two_percent(
        ) -> None:
    # CLV (2007) at gamma = 1, lambda = 0.5, T = 1, one predator: seller shortfall 1.087450
    # (module docstring). The solver's subgame-perfect equilibrium is a different equilibrium;
    # the note names n_steps=2, n_lots=6 as within 2% (measured -0.4%): solved here
    from gametools.solvers import solve

    game = build()
    stats = summarize(game, reference_profile(game))
    assert stats["seller_shortfall_vs_theory"] == pytest.approx(
        stats["seller_shortfall"] / 1.087450 - 1, abs=1e-6)
    note = stats["seller_shortfall_note"]
    assert "subgame-perfect" in note and "n_steps=2, n_lots=6" in note
    assert "-0.7%" in note  # the discrete open-loop equilibrium at 3 steps (REFERENCES.md CLV)
    small = build(n_steps=2)
    solved = summarize(small, solve(small).equilibria[0].strategies, n_steps=2)
    assert abs(solved["seller_shortfall_vs_theory"]) < 0.02
