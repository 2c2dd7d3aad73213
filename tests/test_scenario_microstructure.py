"""The market-microstructure scenarios: Glosten-Milgrom sequential trade and competing dealers.

Expected numbers: REFERENCES.md "Glosten-Milgrom (1985) sequential trade" (V = {90, 110},
mu = 0.3, theta_0 = 0.5: quotes 97/103; after a buy theta = 0.65, quotes 100/105.5046; at
theta = 0.9 the spread is 2.292020), and grid Bertrand equilibria derived by hand in the tests
below. The dealers' game has no closed form: its limits (Bertrand to the minimum tick without
informed flow or inventory cost; spreads widening with the informed fraction) are checked, and
its rewards / transitions against a brute-force enumeration of each period's chance outcomes.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pettingzoo.test import parallel_api_test

from games.microstructure import (
    SCENARIOS,
    build,
    glosten_milgrom,
    glosten_milgrom_profile,
    glosten_milgrom_reference,
    glosten_milgrom_summary,
    history_labels,
    market_making,
    market_making_profile,
    market_making_reference,
    market_making_summary,
    posterior,
    reference,
    spread_formula,
    summarize,
    zero_profit_quotes,
)
from gametools import best_response, nash_conv, policy_values, uniform_profile
from gametools.interop.pettingzoo import MarkovGameParallelEnv
from gametools.scenarios import ScenarioError

GM_SECOND = {"theta": 0.9, "mu": 0.3, "n_trades": 1}


def best_response_iteration(game, profile, *, rounds: int = 30, tol: float = 1e-9
                            ) -> tuple[np.ndarray, ...]:
    """Alternating exact best responses until nobody gains more than ``tol`` by deviating.

    A player whose current policy is already a best response keeps it (switching between tied
    best responses can cycle in games with weak equilibria).
    """
    profile = list(profile)
    for _ in range(rounds):
        result = nash_conv(game, tuple(profile))
        assert result.kind == "exact"
        if result.nash_conv <= tol:
            return tuple(profile)
        for i in range(game.num_players):
            response = best_response(game, tuple(profile), i)
            current = policy_values(game, tuple(profile))[i]
            if response.value > current + tol:
                profile[i] = response.policy
    raise AssertionError("best-response iteration did not settle")


def constant_profile(game, action: int) -> tuple[np.ndarray, ...]:
    policy = np.zeros((game.num_states, game.num_actions[0]))
    policy[:, action] = 1.0
    return tuple(policy.copy() for _ in range(game.num_players))


# ------------------------------------------------------------------------------------------
# Glosten-Milgrom: closed forms
# ------------------------------------------------------------------------------------------

def test_reference_reproduces_the_published_instance() -> None:
    ref = glosten_milgrom_reference()
    # REFERENCES.md: V = {90, 110}, mu = 0.3, theta_0 = 0.5 -> quotes 97/103, spread
    # mu (V_H - V_L) = 6 at theta = 1/2
    assert (ref["bid"], ref["ask"], ref["spread"]) == pytest.approx((97.0, 103.0, 6.0), abs=1e-9)
    assert ref["spread_formula"] == pytest.approx(6.0, abs=1e-9)
    # after a buy theta = 0.65 and quotes 100/105.5046
    assert ref["theta_after_buy"] == pytest.approx(0.65, abs=1e-12)
    assert ref["history_theta"]["B"] == pytest.approx(0.65, abs=1e-12)
    assert ref["history_quotes"]["B"] == pytest.approx([100.0, 105.5046], abs=5e-5)
    # after a sell, by symmetry of theta_0 = 1/2: theta = 0.35, quotes 94.4954/100
    assert ref["history_quotes"]["S"] == pytest.approx([94.4954, 100.0], abs=5e-5)
    # at theta = 0.9 the spread is 2.292020
    second = glosten_milgrom_reference(**GM_SECOND)
    assert second["spread"] == pytest.approx(2.292020, abs=1e-6)
    assert second["spread_formula"] == pytest.approx(2.292020, abs=1e-6)


@settings(max_examples=60, deadline=None)
@given(theta=st.floats(0.0, 1.0), mu=st.floats(0.0, 0.99))
def test_quotes_are_bayesian_and_match_the_spread_formula(theta: float, mu: float) -> None:
    bid, ask = zero_profit_quotes(theta, mu=mu, v_low=90.0, v_high=110.0)
    assert 90.0 - 1e-9 <= bid <= 90.0 + 20 * theta + 1e-9 <= ask + 2e-9 <= 110.0 + 3e-9
    assert ask - bid == pytest.approx(spread_formula(theta, mu=mu, v_low=90.0, v_high=110.0),
                                      abs=1e-9)
    # beliefs are a martingale: P(buy) theta_B + P(sell) theta_S = theta
    buy = (1 + mu * (2 * theta - 1)) / 2
    mean = buy * posterior(theta, mu, buy=True) + (1 - buy) * posterior(theta, mu, buy=False)
    assert mean == pytest.approx(theta, abs=1e-12)


def test_history_layout() -> None:
    assert history_labels(3) == ["", "B", "S", "BB", "BS", "SB", "SS"]
    ref = glosten_milgrom_reference(n_trades=3)
    # two buys then a sell return to the belief after one buy (the updates commute and cancel)
    assert ref["history_theta"]["BS"] == pytest.approx(0.5, abs=1e-12)
    assert ref["history_theta"]["BB"] == pytest.approx(
        posterior(0.65, 0.3, buy=True), abs=1e-12)
    # the expected spread shrinks as information is revealed (theta moves away from 1/2)
    assert ref["spread_by_round"][0] > ref["spread_by_round"][1] > ref["spread_by_round"][2]


# ------------------------------------------------------------------------------------------
# Glosten-Milgrom: the grid game
# ------------------------------------------------------------------------------------------

def brute_force_gm_reward(history: str, *, ask_step: bool, quotes: tuple[float, ...],
                          theta: float, mu: float, v_low: float, v_high: float
                          ) -> np.ndarray:
    """Expected profit of each market maker at one step, with V drawn explicitly (by hand)."""
    values = {v_high: theta, v_low: 1 - theta}
    likelihood = {}
    for v in values:
        buy = mu * (v == v_high) + (1 - mu) / 2
        likelihood[v] = np.prod([buy if d == "B" else 1 - buy for d in history])
    norm = sum(values[v] * likelihood[v] for v in values)
    out = np.zeros(len(quotes))
    best = min(quotes) if ask_step else max(quotes)
    winners = [i for i, p in enumerate(quotes) if p == best]
    for v, prior in values.items():
        weight = prior * likelihood[v] / norm
        buy = mu * (v == v_high) + (1 - mu) / 2
        for i in winners:
            if ask_step:
                out[i] += weight * buy * (best - v) / len(winners)
            else:
                out[i] += weight * (1 - buy) * (v - best) / len(winners)
    return out


def test_game_rewards_match_the_game_with_the_value_drawn() -> None:
    params = {"n_trades": 3, "theta": 0.6, "mu": 0.4, "n_prices": 11}
    game = glosten_milgrom(**params)
    prices = np.linspace(90, 110, 11)
    rng = np.random.default_rng(0)
    for k, history in enumerate(history_labels(3)):
        for side in (0, 1):
            for _ in range(5):
                action = tuple(rng.integers(0, 11, size=2))
                expected = brute_force_gm_reward(history, ask_step=side == 0,
                                                 quotes=tuple(prices[list(action)]),
                                                 theta=0.6, mu=0.4, v_low=90, v_high=110)
                assert game.rewards[(slice(None), 2 * k + side) + action] == pytest.approx(
                    expected, abs=1e-12)
    # histories are reached with the predictive probabilities:
    # P(buy) = 0.6 (0.4 + 0.3) + 0.4 (0.3) = 0.54 at theta = 0.6, mu = 0.4
    bid_state = game.dense_transitions()[1, 0, 0]
    assert bid_state[2] == pytest.approx(0.54) and bid_state[4] == pytest.approx(0.46)


@pytest.mark.parametrize("params", [{}, {"n_trades": 3}, {"n_market_makers": 3}],
                         ids=["default", "three_trades", "three_market_makers"])
def test_zero_profit_quotes_are_a_grid_equilibrium(params: dict) -> None:
    game = glosten_milgrom(**params)
    # outward rounding: an exact equilibrium of the grid game
    result = nash_conv(game, glosten_milgrom_profile(game, rounding="outward", **params))
    assert result.kind == "exact"
    assert result.nash_conv == pytest.approx(0.0, abs=1e-9)
    # nearest rounding: the projected closed form; 97/103 are on the default grid (step 1)
    profile = glosten_milgrom_profile(game, **params)
    stats = glosten_milgrom_summary(game, profile, **params)
    assert (stats["bid"], stats["ask"]) == pytest.approx((97.0, 103.0), abs=1e-9)
    # after a buy: 100 and the grid price nearest 105.5046 (106); after a sell 94 / 100
    assert stats["history_quotes"]["B"] == pytest.approx([100.0, 106.0], abs=1e-9)
    assert stats["history_quotes"]["S"] == pytest.approx([94.0, 100.0], abs=1e-9)
    # each side's error is at most half a tick (1), so NashConv <= n_trades / 2
    assert stats["quote_error"] <= 0.5 + 1e-9
    assert nash_conv(game, profile).nash_conv <= params.get("n_trades", 2) * 0.5
    # quotes at zero profit (or rounded up to the grid): the market makers earn (almost) nothing
    assert max(stats["market_maker_profit"]) < 0.5
    assert all(p >= -1e-9 for p in stats["market_maker_profit"])


def test_tighter_quotes_lose_money_and_wider_quotes_lose_the_trade() -> None:
    params = {"n_trades": 1}
    game = glosten_milgrom(**params)
    profile = glosten_milgrom_profile(game, **params)
    prices = np.linspace(90, 110, 21)
    ask, bid = int(np.flatnonzero(prices == 103)[0]), int(np.flatnonzero(prices == 97)[0])
    mm1 = profile[1]

    def value(ask_index: int, bid_index: int) -> float:
        deviation = np.zeros_like(mm1)
        deviation[0, ask_index] = deviation[1, bid_index] = 1.0
        deviation[2, 0] = 1.0
        return float(policy_values(game, (deviation, mm1))[0])

    assert value(ask, bid) == pytest.approx(0.0, abs=1e-12)
    # one tick tighter on each side: wins every order at a loss; P(buy) = 1/2, each side
    # loses one unit per trade: -0.5 - 0.5
    assert value(ask - 1, bid + 1) == pytest.approx(-1.0, abs=1e-12)
    assert value(ask - 1, bid) < 0 and value(ask, bid + 1) < 0
    # wider: the competitor gets every order, profit zero
    assert value(ask + 1, bid - 1) == pytest.approx(0.0, abs=1e-12)
    assert value(20, 0) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("n_market_makers, equilibrium_asks", [(2, [103, 104, 105]),
                                                               (3, [103, 104])])
def test_symmetric_grid_equilibria_of_bertrand_quoting(n_market_makers: int,
                                                      equilibrium_asks: list[float]) -> None:
    # By hand (one round, tick 1, zero-profit ask 103): a common ask c is an equilibrium iff
    # nobody loses (c >= 103) and undercutting to c - 1 does not pay:
    # c - 1 - 103 <= (c - 103) / N, i.e. c <= 105 for N = 2 and c <= 104.5 for N = 3.
    params = {"n_trades": 1, "n_market_makers": n_market_makers}
    game = glosten_milgrom(**params)
    prices = np.linspace(90, 110, 21)
    bid = int(np.flatnonzero(prices == 97)[0])
    found = []
    for c in range(21):
        policy = np.zeros((3, 21))
        policy[0, c] = policy[1, bid] = policy[2, 0] = 1.0
        if nash_conv(game, (policy,) * n_market_makers).nash_conv <= 1e-9:
            found.append(prices[c])
    assert found == pytest.approx(equilibrium_asks)
    # best-response iteration from the widest quotes lands in that set, bid side mirrored
    widest = np.zeros((3, 21))
    widest[:, 20], widest[1] = 1.0, np.eye(21)[0]
    settled = best_response_iteration(game, (widest,) * n_market_makers)
    stats = glosten_milgrom_summary(game, settled, **params)
    assert nash_conv(game, settled).nash_conv == pytest.approx(0.0, abs=1e-9)
    assert min(equilibrium_asks) <= stats["ask"] <= max(equilibrium_asks)
    assert 200 - max(equilibrium_asks) <= stats["bid"] <= 200 - min(equilibrium_asks)


@pytest.mark.parametrize("params", [{"n_trades": 2}, GM_SECOND], ids=["after_trades",
                                                                      "theta_0.9"])
def test_grid_error_shrinks_with_refinement(params: dict) -> None:
    errors, rents = [], []
    for n_prices in (11, 21, 41, 81, 161):
        tick = 20.0 / (n_prices - 1)
        grid = dict(params, n_prices=n_prices)
        game = glosten_milgrom(**grid)
        nearest = glosten_milgrom_profile(game, **grid)
        stats = glosten_milgrom_summary(game, nearest, **grid)
        # the nearest-rounded quotes are within half a tick of the closed form; a market
        # maker's gain from deviating is at most P(order) tick / (2N) per side and round
        assert stats["quote_error"] <= tick / 2 + 1e-9
        assert nash_conv(game, nearest).nash_conv <= params["n_trades"] * tick / 2 + 1e-9
        errors.append(stats["quote_error"])
        # the exact grid equilibrium (outward rounding) leaves at most one tick of rent
        outward = glosten_milgrom_profile(game, rounding="outward", **grid)
        assert nash_conv(game, outward).nash_conv == pytest.approx(0.0, abs=1e-9)
        rents.append(sum(glosten_milgrom_summary(game, outward, **grid)["market_maker_profit"]))
        assert rents[-1] <= params["n_trades"] * tick + 1e-9
    # nearest rounding is not monotone in the grid (the closed form may sit on one grid and
    # not on a finer one), but over a 16-fold refinement both errors fall by a factor above 10
    assert errors[-1] < 0.1 * errors[0] and rents[-1] < 0.1 * rents[0]


def test_dispatch_and_summaries_are_plain_data() -> None:
    import json
    game = build(scenario="glosten_milgrom")
    stats = summarize(game, glosten_milgrom_profile(game), scenario="glosten_milgrom")
    json.dumps(stats)
    json.dumps(reference(scenario="glosten_milgrom"))
    dealers = build(scenario="market_making")
    json.dumps(summarize(dealers, market_making_profile(dealers), scenario="market_making"))
    json.dumps(reference(scenario="market_making"))
    with pytest.raises(ScenarioError, match="scenario must be one of"):
        build(scenario="kyle")


# ------------------------------------------------------------------------------------------
# competing dealers
# ------------------------------------------------------------------------------------------

def brute_force_period(q: dict, inventory: tuple[int, ...], asks: tuple[int, ...],
                       bids: tuple[int, ...]) -> tuple[np.ndarray, dict[tuple[int, ...], float]]:
    """Expected rewards and next-inventory distribution of one period, enumerated by hand."""
    n, cap = len(inventory), q["max_inventory"]
    alpha, sigma, tick, kappa = (q["informed_fraction"], q["volatility"], q["tick"],
                                 q["inventory_penalty"])
    rewards = np.zeros(n)
    following: dict[tuple[int, ...], float] = {}
    for move, informed in itertools.product((sigma, -sigma), (True, False)):
        p_move_type = 0.5 * (alpha if informed else 1 - alpha)
        directions = [("buy" if move > 0 else "sell", 1.0)] if informed else [("buy", 0.5),
                                                                             ("sell", 0.5)]
        for direction, p_direction in directions:
            if direction == "buy":
                able = [i for i in range(n) if inventory[i] > -cap]
                offers = {i: asks[i] for i in able}
            else:
                able = [i for i in range(n) if inventory[i] < cap]
                offers = {i: bids[i] for i in able}
            best = min(offers.values()) if offers else None
            trades = best is not None and not (informed and best * tick >= sigma)
            winners = [i for i in able if offers[i] == best] if trades else [None]
            for winner in winners:
                p = p_move_type * p_direction / len(winners)
                after = list(inventory)
                earned = np.zeros(n)
                if winner is not None:
                    after[winner] += -1 if direction == "buy" else 1
                    earned[winner] = best * tick
                after_array = np.array(after)
                rewards += p * (earned + after_array * move - kappa * after_array ** 2)
                following[tuple(after)] = following.get(tuple(after), 0.0) + p
    return rewards, following


@pytest.mark.parametrize("params", [{}, {"n_dealers": 3, "n_quotes": 2, "n_periods": 1,
                                         "informed_fraction": 0.7, "volatility": 1.5,
                                         "max_inventory": 1}], ids=["default", "three"])
def test_dealer_rewards_and_transitions_match_brute_force(params: dict) -> None:
    q = SCENARIOS[1].resolve(**params)
    game = market_making(**params)
    n, k, cap = q["n_dealers"], q["n_quotes"], q["max_inventory"]
    levels = 2 * cap + 1
    rng = np.random.default_rng(1)
    matrix = game.transition_matrix
    for _ in range(40):
        inventory = tuple(int(x) for x in rng.integers(-cap, cap + 1, size=n))
        asks = tuple(int(x) for x in rng.integers(1, k + 1, size=n))
        bids = tuple(int(x) for x in rng.integers(1, k + 1, size=n))
        config = int(np.ravel_multi_index(tuple(np.array(inventory) + cap), (levels,) * n))
        actions = tuple((a - 1) * k + (b - 1) for a, b in zip(asks, bids))
        expected, following = brute_force_period(q, inventory, asks, bids)
        assert game.rewards[(slice(None), config) + actions] == pytest.approx(expected,
                                                                             abs=1e-12)
        if q["n_periods"] > 1:
            row = matrix[[config * game.num_joint_actions
                          + int(np.ravel_multi_index(actions, game.num_actions))]].toarray()[0]
            configurations = levels ** n
            for after, p in following.items():
                target = configurations + int(np.ravel_multi_index(
                    tuple(np.array(after) + cap), (levels,) * n))
                assert row[target] == pytest.approx(p, abs=1e-12)
            assert row.sum() == pytest.approx(1.0, abs=1e-12)


def test_bertrand_drives_the_spread_to_the_minimum_tick_without_informed_flow() -> None:
    # no informed flow, no inventory cost, two periods (the inventory limit of 2 cannot bind):
    # every period is a Bertrand game in which quoting one tick on both sides is an equilibrium
    params = {"informed_fraction": 0.0, "inventory_penalty": 0.0, "n_periods": 2}
    game = market_making(**params)
    profile = market_making_profile(game, **params)
    result = nash_conv(game, profile)
    assert result.kind == "exact" and result.nash_conv == pytest.approx(0.0, abs=1e-12)
    stats = market_making_summary(game, profile, **params)
    assert market_making_reference(**params)["competitive_spread"] == 2.0
    assert stats["initial_spread"] == pytest.approx(2.0) and stats["mean_spread"] == pytest.approx(
        2.0)
    # each dealer wins half the orders at one tick: 1/2 per period, two periods
    assert stats["dealer_profit"] == pytest.approx([1.0, 1.0], abs=1e-12)
    # any common wider quote is undercut (3 ticks and more: c - 1 > c / 2)
    for offset in (3, 4):
        wide = constant_profile(game, (offset - 1) * 4 + (offset - 1))
        assert nash_conv(game, wide).nash_conv > 0.1
    # with three dealers undercutting pays down to one tick, so best-response iteration from the
    # widest quotes ends there
    three = {**params, "n_dealers": 3, "n_quotes": 3, "n_periods": 1}
    game = market_making(**three)
    settled = best_response_iteration(game, constant_profile(game, 8))
    assert nash_conv(game, settled).nash_conv == pytest.approx(0.0, abs=1e-12)
    assert market_making_summary(game, settled, **three)["initial_spread"] == pytest.approx(2.0)


def test_equilibrium_spreads_widen_with_the_informed_fraction() -> None:
    spreads, initial = [], []
    for alpha in (0.0, 0.2, 0.4, 0.6):
        params = {"informed_fraction": alpha}
        game = market_making(**params)
        settled = best_response_iteration(game, market_making_profile(game, **params))
        result = nash_conv(game, settled)
        assert result.kind == "exact" and result.nash_conv == pytest.approx(0.0, abs=1e-9)
        stats = market_making_summary(game, settled, **params)
        spreads.append(stats["mean_spread"])
        initial.append(stats["initial_spread"])
        # the equilibrium half-spread covers the adverse selection informed_fraction * volatility
        assert stats["initial_spread"] >= 2 * market_making_reference(**params)[
            "zero_profit_half_spread"]
    assert all(a < b for a, b in itertools.pairwise(spreads))
    assert all(a <= b for a, b in itertools.pairwise(initial)) and initial[-1] > initial[0]


def pure_equilibria(stage, tol: float = 1e-9) -> list[tuple[int, int]]:
    """Pure Nash equilibria of a two-player normal-form game, by enumeration."""
    first, second = stage.payoffs
    best_first = first >= first.max(axis=0, keepdims=True) - tol
    best_second = second >= second.max(axis=1, keepdims=True) - tol
    return [tuple(int(x) for x in pair) for pair in np.argwhere(best_first & best_second)]


@pytest.mark.parametrize("long", [True, False], ids=["long", "short"])
def test_inventory_penalty_makes_dealers_skew_quotes(long: bool) -> None:
    # One period, no informed flow, inventory_penalty 1; dealer 1 holds +1 (or -1), dealer 2 is
    # flat. By hand: reducing |q| is worth 1 to dealer 1 and a trade costs dealer 2 1, so
    # dealer 1 wins the side that unwinds its position at one tick (asymmetric-cost Bertrand);
    # adding a unit costs dealer 1 (2^2 - 1^2) = 3, more than the 1 tick dealer 2 needs, so
    # dealer 2 takes that side at 2 or 3 ticks and dealer 1 quotes it at 3 ticks or more.
    params = {"informed_fraction": 0.0, "inventory_penalty": 1.0, "n_periods": 1}
    game = market_making(**params)
    state = int(np.ravel_multi_index((3 if long else 1, 2), (5, 5)))
    stage = game.stage_game(state, np.zeros((2, game.num_states)))
    equilibria = pure_equilibria(stage)
    assert equilibria
    for first, second in equilibria:
        ask_1, bid_1 = (x + 1 for x in divmod(first, 4))
        ask_2, bid_2 = (x + 1 for x in divmod(second, 4))
        unwind, add = (ask_1, bid_1) if long else (bid_1, ask_1)
        other_add = bid_2 if long else ask_2
        assert unwind == 1 and add >= 3 and other_add in (2, 3)


def test_summary_accounts_for_the_dealers_values() -> None:
    game = market_making()
    for profile in (market_making_profile(game), uniform_profile(game)):
        stats = market_making_summary(game, profile)
        total = (np.array(stats["spread_revenue"]) + np.array(stats["adverse_selection"])
                 + np.array(stats["inventory_cost"]))
        assert total == pytest.approx(stats["dealer_profit"], abs=1e-10)
        assert stats["dealer_profit"] == pytest.approx(policy_values(game, profile).tolist())
        assert 0 <= stats["mean_abs_inventory"] <= 2
    # the uniform profile quotes 5 ticks on average per dealer: (a + b) with a, b uniform on 1..4
    assert market_making_summary(game, uniform_profile(game))["mean_quoted_spread"] == \
        pytest.approx([5.0, 5.0])


def test_infinite_horizon_variant() -> None:
    params = {"n_periods": 0, "discount": 0.9}
    game = market_making(**params)
    assert game.num_states == 25 and not game.terminal.any()
    settled = best_response_iteration(game, market_making_profile(game, **params))
    result = nash_conv(game, settled)
    assert result.kind == "exact" and result.nash_conv == pytest.approx(0.0, abs=1e-8)
    stats = market_making_summary(game, settled, **params)
    ref = market_making_reference(**params)
    # a stationary equilibrium: spreads between the competitive one and the widest grid quote,
    # values below the monopoly profit of 4 ticks per order, discounted
    assert ref["competitive_spread"] <= stats["initial_spread"] <= 8.0
    assert ref["competitive_spread"] <= stats["mean_spread"] <= 8.0
    assert 0.0 < sum(stats["dealer_profit"]) < 4 / (1 - 0.9)
    assert sum(stats["adverse_selection"]) < 0.0


# ------------------------------------------------------------------------------------------
# both scenarios: validation, conformance, PettingZoo
# ------------------------------------------------------------------------------------------

def test_parameter_validation() -> None:
    gm, mm = SCENARIOS
    assert [s.name for s in SCENARIOS] == ["glosten_milgrom", "market_making"]
    assert gm.reference is glosten_milgrom_reference and mm.summarize is market_making_summary
    with pytest.raises(ScenarioError, match="v_low must be below v_high"):
        glosten_milgrom(v_low=110.0, v_high=90.0)
    with pytest.raises(ScenarioError, match=r"'n_market_makers' must be in \[2, 4\]"):
        glosten_milgrom(n_market_makers=1)
    with pytest.raises(ScenarioError, match=r"'mu' must be in \[0.0, 1.0\]"):
        glosten_milgrom(mu=1.5)
    with pytest.raises(ScenarioError, match="exceed the limit"):
        glosten_milgrom(n_market_makers=4, n_prices=41, n_trades=3)
    with pytest.raises(ScenarioError, match="valid parameters: mu"):
        glosten_milgrom_reference(sigma=1.0)
    with pytest.raises(ScenarioError, match="rounding must be"):
        glosten_milgrom_profile(glosten_milgrom(), rounding="up")
    with pytest.raises(ScenarioError, match="was not built with these parameters"):
        glosten_milgrom_summary(glosten_milgrom(), glosten_milgrom_profile(glosten_milgrom()),
                                n_prices=11)
    with pytest.raises(ScenarioError, match="needs discount < 1"):
        market_making(n_periods=0)
    with pytest.raises(ScenarioError, match="'informed_fraction' must be in"):
        market_making(informed_fraction=-0.1)
    with pytest.raises(ScenarioError, match="'n_dealers' must be of type int"):
        mm.build(n_dealers="two")
    with pytest.raises(ScenarioError, match="exceed the limit"):
        market_making(n_dealers=3, n_quotes=6, max_inventory=4)
    with pytest.raises(ScenarioError, match="was not built with these parameters"):
        market_making_profile(market_making(), n_periods=2)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_conformance_and_pettingzoo_view(scenario) -> None:
    game = scenario.build()
    result = nash_conv(game, uniform_profile(game))
    # fully observed players: every best response is exact
    assert result.kind == "exact" and result.nash_conv > 0
    for parameter in scenario.parameters:
        assert parameter.coerce(parameter.default, scenario.name) == parameter.default
    parallel_api_test(MarkovGameParallelEnv(game, max_steps=25), num_cycles=50)
    env = MarkovGameParallelEnv(game)
    env.reset(seed=0)
    steps = 0
    while env.agents:
        env.step({agent: 0 for agent in env.agents})
        steps += 1
    # Glosten-Milgrom: two quoting steps per trade; dealers: one step per period
    assert steps == (2 * 2 if scenario.name == "glosten_milgrom" else 3)


def test_default_games_are_small_and_fast() -> None:
    import time
    for build_game, profile_of in ((glosten_milgrom, glosten_milgrom_profile),
                                   (market_making, market_making_profile)):
        game = build_game()
        start = time.perf_counter()
        nash_conv(game, profile_of(game))
        assert time.perf_counter() - start < 1.0
