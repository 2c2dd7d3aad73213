"""Conformance of every registered scenario, and parameter validation."""

from __future__ import annotations

import numpy as np
import pytest

from games import SCENARIOS
from gametools import MarkovGame, NormalFormGame, nash_conv, uniform_profile
from gametools.scenarios import ScenarioError, available_scenarios, get_scenario


def test_entry_point_registers_the_scenario_table() -> None:
    assert list(available_scenarios()) == [s.name for s in SCENARIOS]


@pytest.mark.parametrize("scenario", [s for s in SCENARIOS if "simulation" not in s.tags],
                         ids=lambda s: s.name)  # market simulations: tests/test_market.py
def test_every_scenario_builds_a_valid_game_with_defaults(scenario) -> None:
    game = scenario.build()
    assert isinstance(game, (NormalFormGame, MarkovGame))
    assert scenario.description and "\n" not in scenario.description
    result = nash_conv(game, uniform_profile(game))
    assert result.nash_conv >= 0.0
    for parameter in scenario.parameters:
        assert parameter.coerce(parameter.default, scenario.name) == parameter.default


@pytest.mark.parametrize("scenario", [s for s in SCENARIOS if s.parameters], ids=lambda s: s.name)
def test_unknown_parameter_lists_the_valid_ones(scenario) -> None:
    with pytest.raises(ScenarioError, match="valid parameters: " + scenario.parameters[0].name):
        scenario.build(no_such_parameter=1)


def test_out_of_range_and_mistyped_parameters_are_rejected() -> None:
    cournot = get_scenario("cournot")
    with pytest.raises(ScenarioError, match=r"'n_firms' must be in \[1, 4\]"):
        cournot.build(n_firms=7)
    with pytest.raises(ScenarioError, match="'n_firms' must be of type int"):
        cournot.build(n_firms="two")
    with pytest.raises(ScenarioError, match="NaN"):
        cournot.build(a=float("nan"))
    with pytest.raises(ScenarioError, match="unknown scenario 'kyle2'"):
        get_scenario("kyle2")


def test_cournot_grid_equilibrium_matches_closed_form() -> None:
    # Cournot closed form (REFERENCES.md, Oligopoly): q = (a - c) / (b (n + 1)) = 30 for
    # a = 100, b = 1, c = 10, n = 2; price 40, profit 900. 30 is on the default grid (step 5).
    scenario = get_scenario("cournot")
    game = scenario.build()
    reference = scenario.reference(**scenario.resolve())
    assert reference == {"quantity": 30.0, "price": 40.0, "profit": 900.0}
    grid = np.arange(0.0, 60.0 + 2.5, 5.0)
    k = int(np.flatnonzero(grid == 30.0)[0])
    profile = (np.eye(len(grid))[k], np.eye(len(grid))[k])
    assert nash_conv(game, profile).nash_conv == pytest.approx(0.0, abs=1e-9)
    assert game.expected_payoffs(profile) == pytest.approx([900.0, 900.0])


@pytest.mark.parametrize("discount", [0.5, 0.9, 0.99])
def test_big_match_value_is_one_half_per_step(discount: float) -> None:
    # Blackwell-Ferguson (1968), REFERENCES.md: value 1/2 (normalised) for every discount;
    # player 1 plays Top w.p. (1 - d) / (2 - d), player 2 mixes 1/2-1/2.
    game = get_scenario("big_match").build(discount=discount)
    top = (1 - discount) / (2 - discount)
    profile = (np.tile([top, 1 - top], (3, 1)), np.full((3, 2), 0.5))
    result = nash_conv(game, profile)
    assert result.nash_conv == pytest.approx(0.0, abs=1e-9 / (1 - discount))
    assert result.values[0] == pytest.approx(0.5 / (1 - discount), rel=1e-10)
