"""Adversarial Avellaneda-Stoikov market making (games/adversarial_market_making.py).

Ground truth: the equilibrium derived in the module docstring (the adversary's drift is
bang-bang against the inventory; the market maker solves the Avellaneda-Stoikov problem with the
running cost ``max_drift |q|``), checked here against independent numerics: a pure max-min /
min-max backward induction written in this file on the grid game, and scipy's ODE integrator on
the nonlinear HJB equation of the continuous-time game. Spooner and Savani (2020) report that
the robust market maker skews its quotes against its inventory without any inventory penalty;
the tests check the sign and monotonicity of that skew. Avellaneda-Stoikov's own scenario gives
the no-adversary case (Guéant, Lehalle and Fernandez-Tapia 2013, risk-adjusted criterion).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from games.adversarial_market_making import (
    SCENARIO,
    adversary_actions,
    build,
    continuum_solution,
    reference,
    summarize,
)
from games.avellaneda_stoikov import exact_quotes
from gametools.scenarios import ScenarioError
from gametools.solvers import solve

SMALL = {"n_steps": 8, "max_inventory": 3, "n_quotes": 15}


def pure_max_min(game, *, min_first: bool) -> float:
    """Backward induction over the acyclic grid game (later states have larger indices) with
    pure strategies: max over quotes of min over adversary actions (or min-max)."""
    rewards = game.rewards[0]  # (S, n, m), the market maker's
    n, m = rewards.shape[1:]
    transitions = game.transitions.tocsr()
    values = np.zeros(game.num_states)
    for state in range(game.num_states - 1, -1, -1):
        if game.terminal[state]:
            continue
        block = transitions[state * n * m:(state + 1) * n * m]
        q = rewards[state] + (block @ values).reshape(n, m)
        values[state] = q.max(axis=0).min() if min_first else q.min(axis=1).max()
    return float(game.initial @ values)


def test_grid_equilibrium_is_a_pure_saddle_with_a_bang_bang_adversary() -> None:
    game = build(**SMALL)
    result = solve(game)
    assert result.certified and result.method == "hoffman-karp"
    stats = summarize(game, result.equilibria[0].strategies, **SMALL)
    # derived: the drift only enters the reward as q b dt / 2, so the adversary pushes the price
    # against the inventory at full strength (q = 0: indifferent)
    drifts = stats["adversary_drift_by_inventory"]
    for q, drift in zip(range(-3, 4), drifts):
        if q != 0:
            assert drift == pytest.approx(-5.0 * math.copysign(1.0, q), abs=1e-9)
    # max-min = min-max over pure strategies, equal to the solver's value: a pure saddle point
    upper = pure_max_min(game, min_first=True)
    lower = pure_max_min(game, min_first=False)
    assert upper == pytest.approx(lower, rel=1e-12)
    assert stats["value"] == pytest.approx(lower, rel=1e-9)


def test_arrival_control_is_used_at_its_bound() -> None:
    # derived: every fill at the market maker's chosen quote is worth 1/k > 0 to it, so the
    # adversary lowers the intensity as far as it may
    params = SMALL | {"arrival_control": 0.3}
    assert len(adversary_actions(**params)) == 6
    game = build(**params)
    result = solve(game)
    stats = summarize(game, result.equilibria[0].strategies, **params)
    assert stats["adversary_arrival_factor"] == pytest.approx(0.7, abs=1e-9)
    assert reference(**params)["value"] < reference(**SMALL)["value"]


def hjb_by_ode(max_drift: float, bound: int, *, A: float = 140.0, k: float = 1.5,
               horizon: float = 1.0) -> np.ndarray:
    """V(0, q) of the risk-neutral market maker against the bang-bang adversary from the
    nonlinear HJB dV/dt = b |q| - sum_sides A / (k e) exp(k (V(q +- 1) - V(q))), V(T) = 0,
    integrated backwards by scipy (no linearisation)."""
    levels = np.arange(-bound, bound + 1)

    def rhs(_: float, v: np.ndarray) -> np.ndarray:
        gain = np.zeros_like(v)
        gain[:-1] += np.exp(k * (v[1:] - v[:-1]))   # buy: q -> q + 1
        gain[1:] += np.exp(k * (v[:-1] - v[1:]))    # sell: q -> q - 1
        return max_drift * np.abs(levels) - A / (k * math.e) * gain

    out = solve_ivp(rhs, (horizon, 0.0), np.zeros(levels.size), rtol=1e-11, atol=1e-11,
                    method="LSODA")
    return out.y[:, -1]


@pytest.mark.parametrize("max_drift", [0.0, 5.0, 10.0])
def test_matrix_exponential_solves_the_nonlinear_hjb(max_drift: float) -> None:
    bound = 6
    ref = reference(max_drift=max_drift, max_inventory=bound)
    values = hjb_by_ode(max_drift, bound)
    assert ref["value"] == pytest.approx(values[bound], rel=1e-8)
    # optimal offsets 1/k - (V(q +- 1) - V(q)); reservation price = mid + (ask - bid) / 2
    k = 1.5
    bid = 1 / k - (values[1:] - values[:-1])
    ask = 1 / k - (values[:-1] - values[1:])
    mids = 100.0 + (ask[:-1] - bid[1:]) / 2  # q = -Q+1 .. Q-1
    np.testing.assert_allclose(ref["reservation_price_by_inventory"][1:-1], mids, atol=1e-7)


def test_robust_market_maker_skews_against_its_inventory() -> None:
    # Spooner and Savani (2020): risk-averse quoting emerges without an inventory penalty.
    # Derived: the reservation price falls with the inventory, is the mid at q = 0, and the
    # skew grows with the adversary's strength
    skews = []
    for drift in (1.0, 5.0, 10.0):
        ref = reference(max_drift=drift)
        prices = np.array(ref["reservation_price_by_inventory"][1:-1])
        assert np.all(np.diff(prices) < 0)
        assert ref["reservation_price"] == pytest.approx(100.0, abs=1e-12)
        skews.append(100.0 - prices[10])  # q = +1
        assert ref["value"] < ref["value_without_adversary"]
    assert skews[0] < skews[1] < skews[2]


def test_without_adversary_it_is_the_avellaneda_stoikov_optimum() -> None:
    # max_drift = 0: the risk-adjusted Avellaneda-Stoikov optimum of games.avellaneda_stoikov
    # (Gueant-Lehalle-Fernandez-Tapia with xi = 0), for a risk-averse market maker too
    for gamma in (1e-6, 0.05):  # avellaneda_stoikov needs gamma > 0
        ref = reference(max_drift=0.0, gamma=gamma)
        exact = exact_quotes(xi=0.0, gamma=gamma)
        assert ref["spread"] == pytest.approx(exact["spread"], rel=1e-12)
        assert ref["bid_offset"] == pytest.approx(exact["bid_offset"][10], rel=1e-12)


def test_grid_value_converges_to_the_continuum() -> None:
    # first order in dt: the value error roughly halves as n_steps doubles (measured on this
    # instance: -11.40, -5.14, -2.26, -1.01 at 10, 20, 40, 80 steps; continuum value 58.378)
    params = {"max_inventory": 3, "n_quotes": 21}
    errors = []
    for steps in (10, 20, 40):
        game = build(n_steps=steps, **params)
        result = solve(game)
        stats = summarize(game, result.equilibria[0].strategies, n_steps=steps, **params)
        block = continuum_solution(stats, n_steps=steps, **params)
        errors.append(abs(block["discretisation_error"]["value"]))
    assert errors[0] > errors[1] > errors[2]
    assert 1.5 < errors[0] / errors[1] < 3 and 1.5 < errors[1] / errors[2] < 3


def test_parameters_are_validated() -> None:
    with pytest.raises(ScenarioError, match="arrival_control"):
        SCENARIO.resolve(arrival_control=1.0)
    with pytest.raises(ScenarioError, match="max_drift"):
        SCENARIO.resolve(max_drift=-1.0)
    with pytest.raises(ScenarioError, match="does not match"):
        game = build(**SMALL)
        summarize(game, solve(game).equilibria[0].strategies)


def test_learners_trained_against_the_adversary_approach_the_equilibrium() -> None:
    # adversarial RL (Spooner and Savani 2020): both players learn (IPPO, 6000 steps, seed 0) on
    # a tiny instance; the exact NashConv of the learned profile falls well below the uniform
    # profile's (measured: 31.59 -> 4.23)
    pytest.importorskip("torch", reason="the learners need torch (gametools[marl])")
    from gametools.exploitability import nash_conv
    from gametools.marl.train import make_config, train
    from gametools.policies import uniform_profile

    params = {"n_steps": 5, "max_inventory": 2, "n_quotes": 9}
    game = build(**params)
    start = nash_conv(game, uniform_profile(game)).nash_conv
    result = train("adversarial_avellaneda_stoikov", make_config("ippo", total_steps=6000),
                   algorithm="ippo", params=params, seed=0)
    assert result.exploitability is not None and result.exploitability.kind == "exact"
    assert result.exploitability.nash_conv < 0.25 * start


def test_summary_note_gives_the_errors_and_the_grid_within_two_percent() -> None:
    # the note's first numbers are the summary's own errors against the continuum equilibrium
    # (reference); the grid it names (200 steps x 161 quotes, measured +1.7%) is too large to
    # solve in a test
    game = build(**SMALL)
    stats = summarize(game, solve(game).equilibria[0].strategies, **SMALL)
    ref = reference(**SMALL)
    spread = 100 * (stats["spread"] / ref["spread"] - 1)
    assert stats["spread_note"].startswith(f"spread at q = 0 {spread:+.1f}%")
    assert "n_steps=200, n_quotes=161" in stats["spread_note"]
