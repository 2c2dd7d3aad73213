"""Asymmetric first-price auction (games/asymmetric_auction.py) and the auction evaluator of
gametools.continuum.

Ground truth: the closed-form inverse bid functions ``phi_i(b) = 2 b / (1 + k_i b^2)``,
``k_i = 1/w_i^2 - 1/w_j^2``, and the common highest bid ``w_0 w_1 / (w_0 + w_1)`` (Griesmer,
Levitan and Shubik 1967; Krishna, *Auction Theory*, 2nd ed., section 4.3); the symmetric
closed forms of REFERENCES.md "Auctions" (bid ``(n-1) v / n``, revenue ``(n-1)/(n+1)``); every
other expected number is recomputed here by independent numerics (brute-force best responses on
samples, 2-d midpoint rules, scipy quadrature of the definitions) or derived by hand in a comment.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import quad

from games.asymmetric_auction import (
    SCENARIO,
    bid_function_exploitability,
    bid_functions,
    bid_grid,
    build,
    continuum_solution,
    reference,
    reference_profile,
    summarize,
    value_grids,
)
from gametools.continuum import auction_exploitability
from gametools.errors import GametoolsError
from gametools.exploitability import nash_conv
from gametools.scenarios import ScenarioError
from gametools.solvers import solve

BOUNDS = [(1.0, 2.0), (2.0, 1.0), (0.5, 3.0)]


def params(w0: float, w1: float) -> dict[str, float]:
    return {"max_value_0": w0, "max_value_1": w1}


# ------------------------------------------------------------------------------------------
# the closed form
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("w0, w1", BOUNDS)
def test_bid_functions_invert_the_published_inverse_bid_functions(w0: float, w1: float) -> None:
    # Griesmer-Levitan-Shubik (1967) / Krishna (2010) section 4.3: phi_i(b) = 2b / (1 + k_i b^2),
    # k_i = 1/w_i^2 - 1/w_j^2, and both bidders' highest bid is w0 w1 / (w0 + w1)
    bounds = (w0, w1)
    ref = reference(**params(w0, w1))
    assert ref["max_bid"] == pytest.approx(w0 * w1 / (w0 + w1), rel=1e-14)
    for i, bid in enumerate(bid_functions(**params(w0, w1))):
        k = 1 / bounds[i] ** 2 - 1 / bounds[1 - i] ** 2
        v = np.linspace(0.0, bounds[i], 101)
        b = bid(v)
        np.testing.assert_allclose(2 * b / (1 + k * b * b), v, rtol=1e-12, atol=1e-14)
        assert b[-1] == pytest.approx(ref["max_bid"], rel=1e-12)
    # the weak bidder bids more than the strong one at the same value (Maskin-Riley 2000)
    weak = int(np.argmin(bounds))
    v = np.linspace(0.01, min(bounds), 50)
    assert np.all(bid_functions(**params(w0, w1))[weak](v) >
                  bid_functions(**params(w0, w1))[1 - weak](v))


def test_each_bid_is_a_best_response_on_a_sample() -> None:
    # brute force, independent of the closed form's algebra: the opponent's bid distribution
    # from 200 000 equally spaced quantiles of its value pushed through its bid function, then
    # a scan of 4001 bids; the closed-form bid earns the scan's best payoff (the payoff is flat
    # at its maximum, so the bids themselves agree only to about 1e-2)
    bounds = (1.0, 2.0)
    bids = bid_functions(**params(*bounds))
    quantiles = (np.arange(200_000) + 0.5) / 200_000
    for i in range(2):
        other = np.sort(bids[1 - i](quantiles * bounds[1 - i]))
        scan = np.linspace(0.0, 1.0, 4001)
        win = np.searchsorted(other, scan) / other.size
        for v in (0.2, 0.5, 0.9):
            value = v * bounds[i]
            payoff = (value - scan) * win
            own = float(bids[i](value))
            own_payoff = (value - own) * np.searchsorted(other, own) / other.size
            assert payoff.max() - own_payoff < 1e-5
            assert scan[np.argmax(payoff)] == pytest.approx(own, abs=1e-2)


@pytest.mark.parametrize("w0, w1", BOUNDS)
def test_closed_form_statistics_match_quadrature_of_their_definitions(w0: float,
                                                                      w1: float) -> None:
    # revenue = E max(b_0(v_0), b_1(v_1)), surplus_i = E (v_i - b_i) 1{i wins},
    # P(i wins), efficiency = P(higher value wins): a 2-d midpoint rule on 3000 x 3000 values
    # (the winner switches along a curve, so the rule is first order there: tolerance 1e-3)
    ref = reference(**params(w0, w1))
    bids = bid_functions(**params(w0, w1))
    n = 3000
    v0 = (np.arange(n) + 0.5) / n * w0
    v1 = (np.arange(n) + 0.5) / n * w1
    b0, b1 = bids[0](v0)[:, None], bids[1](v1)[None, :]
    zero_wins = b0 > b1
    assert np.mean(np.maximum(b0, b1)) == pytest.approx(ref["revenue"], abs=1e-3)
    assert np.mean(zero_wins) == pytest.approx(ref["win_probability_by_bidder"][0], abs=1e-3)
    assert np.mean((v0[:, None] - b0) * zero_wins) == \
        pytest.approx(ref["surplus_by_bidder"][0], abs=1e-3)
    assert np.mean((v1[None, :] - b1) * ~zero_wins) == \
        pytest.approx(ref["surplus_by_bidder"][1], abs=1e-3)
    higher = v0[:, None] > v1[None, :]
    assert np.mean(zero_wins == higher) == pytest.approx(ref["efficiency"], abs=1e-3)
    # second price: E min(v_0, v_1) (a continuous integrand: the midpoint rule is 2nd order)
    assert np.mean(np.minimum(v0[:, None], v1[None, :])) == \
        pytest.approx(ref["second_price_revenue"], abs=1e-6)


def test_revenue_closed_form_against_scipy_quad() -> None:
    # revenue = b_max - int_0^b_max P(max bid <= b) db, P = phi_0(b) phi_1(b) / (w0 w1)
    # (Krishna 2010 section 4.3 for phi), integrated by scipy instead of the artanh/arctan form
    w0, w1 = 1.0, 2.0
    k = 1 / w0 ** 2 - 1 / w1 ** 2
    top = w0 * w1 / (w0 + w1)
    area = quad(lambda b: (2 * b / (1 + k * b * b)) * (2 * b / (1 - k * b * b)) / (w0 * w1),
                0.0, top, epsabs=1e-14)[0]
    assert reference(**params(w0, w1))["revenue"] == pytest.approx(top - area, rel=1e-12)
    # and the numbers of the default instance, derived by hand from the closed forms:
    # P(i wins) = w_i / (w0 + w1) = 1/3, 2/3; efficiency 1 - w(W-w) / (2W(W+w)) = 11/12
    ref = reference()
    assert ref["revenue"] == pytest.approx(0.459005055702835, rel=1e-12)
    assert ref["win_probability_by_bidder"] == pytest.approx((1 / 3, 2 / 3), rel=1e-14)
    assert ref["efficiency"] == pytest.approx(11 / 12, rel=1e-14)
    # first price raises more than second price here (Maskin-Riley 2000, stretched uniform)
    assert ref["revenue"] > ref["second_price_revenue"] == pytest.approx(5 / 12)


def test_symmetric_limit_recovers_the_symmetric_closed_form() -> None:
    # REFERENCES.md "Auctions": n = 2, U[0, 1]: bid v / 2, revenue 1/3, surplus 1/6 each
    for w1 in (1.0, 1.0 + 1e-9):
        ref = reference(**params(1.0, w1))
        assert ref["revenue"] == pytest.approx(1 / 3, rel=1e-8)
        assert ref["surplus_by_bidder"] == pytest.approx((1 / 6, 1 / 6), rel=1e-8)
        assert ref["efficiency"] == pytest.approx(1.0, abs=1e-8)
        np.testing.assert_allclose(bid_functions(**params(1.0, w1))[0](np.array([0.3, 0.8])),
                                   [0.15, 0.4], rtol=1e-8)


# ------------------------------------------------------------------------------------------
# the continuous game's exploitability
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("w0, w1", BOUNDS)
def test_closed_form_is_an_equilibrium_of_the_continuous_game(w0: float, w1: float) -> None:
    out = bid_function_exploitability(bid_functions(**params(w0, w1)), **params(w0, w1))
    # payoffs up to about w1: quadrature errors of a few 1e-6 (measured <= 2.8e-6)
    assert out.nash_conv < 1e-5 and out.quadrature_error < 1e-5
    ref = reference(**params(w0, w1))
    # the evaluator's payoffs (interpolated bid distributions, trapezoid rule) against the
    # closed form: independent numerics
    assert out.payoffs == pytest.approx(ref["surplus_by_bidder"], abs=1e-5)
    assert out.revenue == pytest.approx(ref["revenue"], abs=1e-5)


def linear_nash_conv(c: tuple[float, float], bounds: tuple[float, float]) -> float:
    """Derived by hand: against bids c_j v_j (uniform on [0, c_j w_j]) bidding b wins with
    probability min(b / (c_j w_j), 1), so the best response is min(v/2, c_j w_j) with payoff
    v^2 / (4 c_j w_j) or v - c_j w_j; own payoff (1 - c_i) v min(c_i v / (c_j w_j), 1)."""
    total = 0.0
    for i in range(2):
        top = c[1 - i] * bounds[1 - i]
        w = bounds[i]
        mine = c[i]
        best = quad(lambda v, t=top: v * v / (4 * t) if v <= 2 * t else v - t, 0.0, w,
                    points=[min(2 * top, w)])[0] / w
        own = quad(lambda v, t=top, s=mine: (1 - s) * v * min(s * v / t, 1.0), 0.0, w,
                   points=[min(top / mine, w)])[0] / w
        total += best - own
    return total


@pytest.mark.parametrize("c", [(0.5, 0.5), (0.6, 0.4), (0.3, 0.9)])
def test_linear_bid_functions_nash_conv_matches_the_hand_derivation(c) -> None:
    bounds = (1.0, 2.0)
    out = bid_function_exploitability([lambda v: c[0] * v, lambda v: c[1] * v],
                                      **params(*bounds))
    assert out.nash_conv == pytest.approx(linear_nash_conv(c, bounds), abs=1e-6)
    assert out.quadrature_error < 1e-5


def test_auction_exploitability_symmetric_closed_forms_and_ties() -> None:
    # REFERENCES.md: n = 3, U[0, 1]: b = 2v/3 is an equilibrium, revenue 1/2
    out = auction_exploitability([lambda v: 2 * v / 3] * 3, [(0.0, 1.0)] * 3)
    assert out.nash_conv < 1e-6 and out.revenue == pytest.approx(0.5, abs=1e-6)
    # truthful bidding, n = 3: the best response to two truthful opponents maximises
    # (v - b) b^2, b = 2v/3, payoff 4 v^3 / 27, mean 1/27 each; truthful payoff 0
    out = auction_exploitability([lambda v: v] * 3, [(0.0, 1.0)] * 3)
    assert out.nash_conv == pytest.approx(3 / 27, abs=1e-6)
    # everybody bids 0: ties split, payoff v/2, mean 1/4; bidding just above 0 wins: mean 1/2
    out = auction_exploitability([lambda v: 0 * v] * 2, [(0.0, 1.0)] * 2)
    assert out.payoffs == pytest.approx((0.25, 0.25), abs=1e-12)
    assert out.best_payoffs == pytest.approx((0.5, 0.5), abs=1e-12)


def test_auction_exploitability_rejects_bad_input() -> None:
    with pytest.raises(GametoolsError, match="at least two bidders"):
        auction_exploitability([lambda v: v], [(0.0, 1.0)])
    with pytest.raises(GametoolsError, match="finite intervals"):
        auction_exploitability([lambda v: v] * 2, [(0.0, 1.0), (1.0, 1.0)])
    with pytest.raises(GametoolsError, match="odd"):
        auction_exploitability([lambda v: v] * 2, [(0.0, 1.0)] * 2, grid_points=64)
    with pytest.raises(GametoolsError, match="non-finite"):
        auction_exploitability([lambda v: np.full(v.shape, np.nan)] * 2, [(0.0, 1.0)] * 2)
    with pytest.raises(ScenarioError, match="two bid functions"):
        bid_function_exploitability([lambda v: v])


# ------------------------------------------------------------------------------------------
# the grid game
# ------------------------------------------------------------------------------------------

def test_parameters_are_validated() -> None:
    with pytest.raises(ScenarioError, match="max_value_0"):
        SCENARIO.resolve(max_value_0=0.0)
    with pytest.raises(ScenarioError, match="no parameter"):
        SCENARIO.resolve(n_bidders=3)
    with pytest.raises(ScenarioError):
        build(n_values=30, n_bids=201)  # above the auction builders' MAX_ROWS


def test_grid_game_layout() -> None:
    game = build(n_values=3, n_bids=5)
    assert game.num_players == 2 and game.num_states == 10 and game.num_actions == (5, 5)
    np.testing.assert_allclose(value_grids(n_values=3), [[1 / 6, 1 / 2, 5 / 6],
                                                          [1 / 3, 1, 5 / 3]])
    np.testing.assert_allclose(bid_grid(n_bids=5), [0, 0.25, 0.5, 0.75, 1.0])
    # values (1/6, 5/3), bids (0.5, 0.25): bidder 0 wins and pays 0.5
    state = 0 * 3 + 2
    assert game.rewards[0, state, 2, 1] == pytest.approx(1 / 6 - 0.5)
    assert game.rewards[1, state, 2, 1] == 0.0
    with pytest.raises(ScenarioError, match="does not match"):
        summarize(game, reference_profile(build()))


def test_solve_at_defaults_is_within_two_percent_and_reports_the_grid_error() -> None:
    # the grid equilibrium's revenue against the closed form (measured: +1.03% at 8 x 17)
    game = build()
    result = solve(game)
    assert result.certified
    stats = summarize(game, result.equilibria[0].strategies)
    ref = reference()
    assert abs(stats["revenue"] / ref["revenue"] - 1) < 0.02
    block = continuum_solution(stats)
    assert block["discretisation_error"]["revenue"] == pytest.approx(
        stats["revenue"] - ref["revenue"], abs=1e-15)
    assert block["nash_conv"] < 1e-6 and "grid revenue" in block["grid_note"]
    # the projected closed form: exact grid NashConv falls from 6 x 13 to 16 x 33
    coarse, fine = build(n_values=6, n_bids=13), build(n_values=16, n_bids=33)
    gap_coarse = nash_conv(coarse, reference_profile(coarse, n_values=6, n_bids=13)).nash_conv
    gap_fine = nash_conv(fine, reference_profile(fine, n_values=16, n_bids=33)).nash_conv
    assert gap_fine < gap_coarse
