"""Holden and Subrahmanyam (1992): M insiders in Kyle's one-auction model.

Expected numbers: REFERENCES.md ("M identical insiders, one auction"): beta = sigma_u / (sqrt(M)
sigma_v), lambda = sqrt(M) sigma_v / ((M + 1) sigma_u) (0.471405, 0.433013 for M = 2, 3 at unit
variances), total profit sqrt(M) sigma_v sigma_u / (M + 1), Var(v | y) = sigma_v^2 / (M + 1);
M = 1 is Kyle (1985) Thm 1.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from games.holden_subrahmanyam import (
    SCENARIOS,
    build,
    continuum_solution,
    grids,
    reference,
    summarize,
)
from games.kyle import reference as kyle_reference
from gametools import nash_conv
from gametools.scenarios import ScenarioError
from gametools.solvers import solve


@pytest.mark.parametrize("n_insiders, expected", [(2, 0.471405), (3, 0.433013)])
def test_reference_is_the_published_closed_form(n_insiders: int, expected: float) -> None:
    ref = reference(n_insiders=n_insiders)
    m = n_insiders
    assert ref["lambda"] == pytest.approx(expected, abs=1e-6)
    assert ref["beta"] == pytest.approx((1 / math.sqrt(m),) * m)
    assert ref["total_insider_profit"] == pytest.approx(math.sqrt(m) / (m + 1))
    assert ref["posterior_variance"] == pytest.approx(1 / (m + 1))
    # scaling: lambda ~ sigma_v / sigma_u, beta ~ sigma_u / sigma_v, profit ~ sigma_v sigma_u
    scaled = reference(n_insiders=m, sigma_v=2.0, sigma_u=10.0)
    assert scaled["lambda"] == pytest.approx(expected * 0.2, rel=1e-5)
    assert scaled["insider_profit"][0] == pytest.approx(20 / ((m + 1) * math.sqrt(m)))


def test_one_insider_is_kyle() -> None:
    ref, kyle = reference(n_insiders=1), kyle_reference()
    assert ref["lambda"] == pytest.approx(kyle["lambda"])
    assert ref["beta"][0] == pytest.approx(kyle["beta"])
    assert ref["insider_profit"][0] == pytest.approx(kyle["insider_profit"])


def test_prices_reveal_more_as_insiders_compete() -> None:
    # Holden-Subrahmanyam: revealed share M / (M + 1) rises with M; total profit falls after M = 1
    shares = [reference(n_insiders=m)["revealed_share"] for m in (1, 2, 3, 4)]
    assert shares == pytest.approx([1 / 2, 2 / 3, 3 / 4, 4 / 5])
    totals = [reference(n_insiders=m)["total_insider_profit"] for m in (1, 2, 3, 4)]
    assert all(a > b for a, b in itertools.pairwise(totals))


@pytest.mark.parametrize("n_insiders", [1, 2, 3])
def test_closed_form_is_an_exact_equilibrium_of_the_grid_game(n_insiders: int) -> None:
    params = {"n_insiders": n_insiders, "sigma_v": 2.0, "sigma_u": 0.5}
    game = build(**params)
    slopes, impacts = grids(**params)
    ref = reference(**params)
    # odd grids contain the closed form at their middle points
    assert slopes[5] == pytest.approx(ref["beta"][0]) and impacts[5] == pytest.approx(ref["lambda"])
    profile = [np.eye(11)[5]] * n_insiders + [np.eye(11)[5]]
    assert nash_conv(game, profile).nash_conv < 1e-12
    stats = summarize(game, profile, **params)
    for key in ("lambda", "beta", "insider_profit", "total_insider_profit",
                "posterior_variance", "revealed_share"):
        assert np.atleast_1d(stats[key]) == pytest.approx(np.atleast_1d(ref[key]), rel=1e-9)


def test_solver_recovers_the_closed_form_at_defaults() -> None:
    scenario = SCENARIOS[0]
    params = scenario.resolve()
    game = scenario.build()
    result = solve(game)
    stats = summarize(game, result.equilibria[0].strategies, **params)
    ref = reference(**params)
    assert stats["lambda"] == pytest.approx(ref["lambda"], rel=0.02)
    assert stats["beta"] == pytest.approx(ref["beta"], rel=0.02)
    assert stats["insider_profit"] == pytest.approx(ref["insider_profit"], rel=0.02)


def test_continuum_solution_matches_and_reports_grid_error() -> None:
    out = continuum_solution({"lambda": 0.5, "beta": (0.7, 0.7)}, n_insiders=2)
    assert out["summary"]["lambda"] == pytest.approx(0.471405, abs=1e-6)
    assert out["nash_conv"] < 1e-12
    assert out["discretisation_error"]["lambda"] == pytest.approx(0.5 - 0.4714045, abs=1e-6)
    assert out["discretisation_error"]["beta"] == pytest.approx((0.7 - 2 ** -0.5,) * 2)


def test_parameter_validation() -> None:
    with pytest.raises(ScenarioError, match="'n_insiders' must be in"):
        SCENARIOS[0].build(n_insiders=0)
    with pytest.raises(ScenarioError, match="valid parameters"):
        reference(n_traders=2)
