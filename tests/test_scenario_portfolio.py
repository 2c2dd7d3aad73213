"""The cooperative portfolio scenario: team optimum, decentralised optimum, summaries.

Ground truth is computed outside the game's arrays: a hand-solved one-period instance (below),
a dynamic programme over the Markov state (period, regimes, previous allocations) written
directly from the model's definition, and brute force over deterministic policies on tiny
instances.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from games.portfolio import SCENARIOS, build, reference, reference_profile, summarize, team_optimum
from gametools import nash_conv, policy_values, uniform_profile
from gametools.marl.env import TensorGameEnv
from gametools.scenarios import ScenarioError

SECOND = {"n_agents": 3, "n_periods": 2, "mu_good": 0.8, "mu_bad": -0.3, "variance": 0.1,
          "cost": 0.05, "persistence": 0.6, "p_good": 0.4}
IDS = ["default", "second"]


def resolved(params: dict) -> dict:
    return SCENARIOS[0].resolve(**params)


def stage_reward(q: dict, regimes: tuple, allocation: tuple, previous: tuple) -> float:
    mu = (q["mu_bad"], q["mu_good"])
    total = sum(allocation)
    return (sum(a * mu[r] for a, r in zip(allocation, regimes))
            - q["risk_aversion"] * q["variance"] * total ** 2
            - q["cost"] * sum(abs(a - b) for a, b in zip(allocation, previous)))


def markov_dp(params: dict) -> float:
    """Centralised optimum by DP over (t, regimes, previous allocations), from the definition."""
    q = resolved(params)
    n, levels, stay = q["n_agents"], q["n_levels"], q["persistence"]
    regime_sets = list(itertools.product((0, 1), repeat=n))
    actions = list(itertools.product(range(levels), repeat=n))
    move = {(r, s): float(np.prod([stay if a == b else 1 - stay for a, b in zip(r, s)]))
            for r in regime_sets for s in regime_sets}
    value: dict = {}
    for t in reversed(range(q["n_periods"])):
        new = {}
        for r in regime_sets:
            for prev in actions:
                new[r, prev] = max(
                    stage_reward(q, r, a, prev)
                    + sum(move[r, s] * value.get((s, a), 0.0) for s in regime_sets)
                    for a in actions)
        value = new
    start = {r: float(np.prod([q["p_good"] if x else 1 - q["p_good"] for x in r]))
             for r in regime_sets}
    return sum(p * value[r, (0,) * n] for r, p in start.items())


# ------------------------------------------------------------------------------------------
# hand-solved one-period instance
# ------------------------------------------------------------------------------------------
# Defaults (mu_good 1, mu_bad -0.5, variance 0.15, risk aversion 1, cost 0.1), one period, two
# managers. Bad sectors hold nothing. Centralised: one good sector holds 2 (2 - 0.6 - 0.2 = 1.2);
# both good hold 3 in total (3 - 1.35 - 0.3 = 1.35): value 0.5 * 1.2 + 0.25 * 1.35 = 0.9375.
# Decentralised: each good manager holds 2 (one good 1.2, both good 4 - 2.4 - 0.4 = 1.2):
# value 0.5 * 1.2 + 0.25 * 1.2 = 0.9 (holding 1 gives 0.675, holding 2 or 1 by role 0.825).
ONE = {"n_periods": 1}


def test_one_period_team_values_by_hand_and_brute_force() -> None:
    ref = reference(**ONE)
    assert ref["team_value"] == pytest.approx(0.9375)
    assert ref["decentralised_value"] == pytest.approx(0.9)
    assert markov_dp(ONE) == pytest.approx(0.9375)
    # brute force over deterministic decentralised policies (own regime -> level), 9 x 9 pairs
    game = build(**ONE)
    assert game.num_observations == (3, 3)  # two regimes and the end
    best = -np.inf
    for first in itertools.product(range(3), repeat=2):
        for second in itertools.product(range(3), repeat=2):
            profile = tuple(np.eye(3)[list(p) + [0]] for p in (first, second))
            best = max(best, float(policy_values(game, profile)[0]))
    assert best == pytest.approx(0.9)
    # brute force over centralised joint policies (joint regimes -> joint action), 9^4
    q = resolved(ONE)
    regimes = list(itertools.product((0, 1), repeat=2))
    actions = list(itertools.product(range(3), repeat=2))
    table = np.array([[stage_reward(q, r, a, (0, 0)) for a in actions] for r in regimes])
    assert 0.25 * table.max(axis=1).sum() == pytest.approx(0.9375)


def test_three_managers_one_period_brute_force() -> None:
    # levels 0/1, variance 0.35: one unit pays 1 - 0.35 - 0.1 = 0.55, two units 0.4, three
    # -0.45; centralised: hold one unit when some sector is good, 0.875 * 0.55 = 0.48125
    params = {"n_agents": 3, "n_periods": 1, "n_levels": 2, "variance": 0.35}
    game = build(**params)
    best = -np.inf
    for policies in itertools.product(itertools.product(range(2), repeat=2), repeat=3):
        profile = tuple(np.eye(2)[list(p) + [0]] for p in policies)
        best = max(best, float(policy_values(game, profile)[0]))
    ref = reference(**params)
    assert ref["decentralised_value"] == pytest.approx(best)
    assert ref["team_value"] == pytest.approx(markov_dp(params))
    assert ref["team_value"] == pytest.approx(0.48125)
    assert ref["team_value"] > best + 1e-6  # coordination is lost without the others' regimes


# ------------------------------------------------------------------------------------------
# the team optimum
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("params", [{}, SECOND], ids=IDS)
def test_team_optimum_equals_independent_dp_and_is_nash(params: dict) -> None:
    full = {**params, "observation": "full"}
    game = build(**full)
    profile = reference_profile(game, **full)
    expected = markov_dp(params)
    assert team_optimum(game)[0] == pytest.approx(expected, abs=1e-10)
    assert reference(**params)["team_value"] == pytest.approx(expected, abs=1e-10)
    values = policy_values(game, profile)
    assert values == pytest.approx([expected] * game.num_players, abs=1e-10)
    # a team optimum is a Nash equilibrium: no manager can improve the shared reward alone
    result = nash_conv(game, profile)
    assert result.kind == "exact" and result.nash_conv == pytest.approx(0.0, abs=1e-10)


@pytest.mark.parametrize("params", [{}, SECOND], ids=IDS)
def test_decentralised_reference_is_nash_and_below_the_centralised_optimum(params: dict) -> None:
    game = build(**params)
    assert not game.fully_observed
    profile = reference_profile(game, **params)
    result = nash_conv(game, profile)
    # own-history observations have perfect recall: the evaluator is exact
    assert result.kind == "exact" and result.nash_conv == pytest.approx(0.0, abs=1e-10)
    ref = reference(**params)
    assert float(policy_values(game, profile)[0]) == pytest.approx(ref["decentralised_value"])
    # decentralised observation makes the centralised team value unreachable here
    assert ref["coordination_gap"] > 0.01
    assert ref["decentralised_value"] < ref["team_value"]
    # and the decentralised optimum beats the uniform profile by a wide margin
    assert ref["decentralised_value"] > float(policy_values(game, uniform_profile(game))[0]) + 0.5


def test_no_coordination_gap_without_coupling() -> None:
    # with no risk penalty the reward is additive across sectors: each manager's own information
    # suffices, so the decentralised optimum reaches the centralised one
    params = {"variance": 0.0, "n_periods": 2}
    ref = reference(**params)
    assert ref["coordination_gap"] == pytest.approx(0.0, abs=1e-10)


def test_rewards_are_identical_across_managers() -> None:
    game = build(**SECOND)
    assert np.array_equal(game.rewards[0], game.rewards[1])
    assert np.array_equal(game.rewards[0], game.rewards[2])
    assert TensorGameEnv(game).cooperative


# ------------------------------------------------------------------------------------------
# summaries
# ------------------------------------------------------------------------------------------

def test_summary_of_one_period_decentralised_optimum() -> None:
    game = build(**ONE)
    stats = summarize(game, reference_profile(game, **ONE), **ONE)
    # each manager holds 2 when good (probability 1/2), 0 when bad
    assert stats["mean_allocation"] == pytest.approx([1.0, 1.0])
    # risk: 0.15 * E[(sum a)^2] = 0.15 * (0.5 * 4 + 0.25 * 16) = 0.9; costs 0.1 * E[sum a] = 0.2
    assert stats["risk"] == pytest.approx(0.9)
    assert stats["transaction_costs"] == pytest.approx(0.2)
    assert stats["gross_return"] == pytest.approx(2.0)
    assert stats["team_return"] == pytest.approx(0.9)


@pytest.mark.parametrize("params", [{}, {**SECOND, "observation": "full"}], ids=IDS)
def test_summary_accounts_add_up(params: dict) -> None:
    game = build(**params)
    for profile in (reference_profile(game, **params), uniform_profile(game)):
        stats = summarize(game, profile, **params)
        assert stats["team_return"] == pytest.approx(float(policy_values(game, profile)[0]))
        assert stats["team_return"] == pytest.approx(
            stats["gross_return"] - stats["risk_penalty"] - stats["transaction_costs"])
        by_period = np.array(stats["allocation_by_period"])
        assert by_period.shape == (game.num_players, params.get("n_periods", 3))
        assert (by_period >= 0).all() and (by_period <= 2).all()
    uniform = summarize(game, uniform_profile(game), **params)
    assert uniform["mean_allocation"] == pytest.approx([1.0] * game.num_players)


# ------------------------------------------------------------------------------------------
# parameters
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("bad", [{"n_agents": 4}, {"n_agents": 1}, {"observation": "partial"},
                                 {"persistence": 1.5}, {"n_levels": 5}, {"n_periods": 0},
                                 {"regimes": 3}])
def test_invalid_parameters_are_rejected(bad: dict) -> None:
    with pytest.raises(ScenarioError):
        SCENARIOS[0].build(**bad)


def test_oversized_game_is_rejected_and_mismatched_game_detected() -> None:
    with pytest.raises(ScenarioError, match="rows"):
        build(n_agents=3, n_periods=4)
    game = build()
    with pytest.raises(ScenarioError, match="not built"):
        summarize(game, uniform_profile(game), n_periods=2)
