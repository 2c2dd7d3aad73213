"""Tests of the stochastic-game solvers: Shapley iteration, Hoffman-Karp, backward induction and
stochastic fictitious play.

Ground truth comes from outside the solvers: REFERENCES.md ("Stochastic games", "Markov-demand
Cournot"), games solved by hand in the comments, and an independent plain value iteration with one
scipy ``linprog`` per state written here (slow, obviously correct).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from games.classic import big_match
from gametools import MarkovGame, NormalFormGame, nash_conv
from gametools.errors import InvalidArgumentError
from gametools.model import time_indexed
from gametools.solvers.backward_induction import NotAcyclicError, backward_induction
from gametools.solvers.pure import pure_equilibria
from gametools.solvers.result import reward_range
from gametools.solvers.stochastic import (
    NotFullyObservedError,
    NotZeroSumError,
    hoffman_karp,
    shapley_iteration,
    stochastic_fictitious_play,
)

EXACT_METHODS = [shapley_iteration, hoffman_karp]


# ------------------------------------------------------------------------------------------
# games and an independent reference solver
# ------------------------------------------------------------------------------------------

def two_state_game() -> MarkovGame:
    """REFERENCES.md two-state game [C]: state 0 pays [[2, -1], [-1, 1]]; matching actions stay in
    state 0, mismatched ones go to state 1; state 1 pays 1/2 and returns w.p. 1/2; discount 0.9."""
    transitions = np.zeros((2, 2, 2, 2))
    transitions[0, 0, 0, 0] = transitions[0, 1, 1, 0] = 1.0
    transitions[0, 0, 1, 1] = transitions[0, 1, 0, 1] = 1.0
    transitions[1] = 0.5
    reward = np.zeros((2, 2, 2))
    reward[0] = [[2, -1], [-1, 1]]
    reward[1] = 0.5
    return MarkovGame(transitions, np.stack([reward, -reward]), [1.0, 0.0], 0.9)


def random_zero_sum(rng: np.random.Generator, states: int, rows: int, columns: int,
                    discount: float, *, stop: float = 0.0) -> MarkovGame:
    """Random dense zero-sum game; with ``stop > 0`` a terminal state is reached w.p. ``stop``."""
    live = states - (1 if stop > 0 else 0)
    transitions = np.zeros((states, rows, columns, states))
    transitions[:live, :, :, :live] = rng.dirichlet(np.full(live, 0.5), size=(live, rows, columns))
    if stop > 0:
        transitions[:live] *= 1.0 - stop
        transitions[:live, :, :, -1] = stop
    reward = rng.normal(size=(states, rows, columns))
    reward[live:] = 0.0
    terminal = np.arange(states) >= live
    initial = np.zeros(states)
    initial[:live] = 1.0 / live
    return MarkovGame(transitions, np.stack([reward, -reward]), initial, discount,
                      terminal=terminal)


def _matrix_value(matrix: np.ndarray) -> float:
    """Value of a matrix game (row maximises) by one textbook LP: max v, A^T x >= v, sum x = 1."""
    m, n = matrix.shape
    cost = np.zeros(m + 1)
    cost[-1] = -1.0
    a_ub = np.hstack([-matrix.T, np.ones((n, 1))])
    a_eq = np.hstack([np.ones((1, m)), np.zeros((1, 1))])
    result = linprog(cost, A_ub=a_ub, b_ub=np.zeros(n), A_eq=a_eq, b_eq=[1.0],
                     bounds=[(0, None)] * m + [(None, None)], method="highs")
    assert result.status == 0
    return float(result.x[-1])


def reference_values(game: MarkovGame, *, residual: float = 1e-12) -> np.ndarray:
    """Plain Shapley value iteration, one scipy LP per state: independent of the solvers."""
    transitions = game.dense_transitions()
    values = np.zeros(game.num_states)
    for _ in range(100_000):
        updated = np.zeros_like(values)
        for s in np.flatnonzero(~game.terminal):
            stage = game.rewards[0, s] + game.discount * transitions[s] @ values
            updated[s] = _matrix_value(stage)
        done = np.abs(updated - values).max() <= residual
        values = updated
        if done:
            return values
    raise AssertionError("reference value iteration did not converge")


def assert_certified(result, game: MarkovGame, tol: float = 1e-8) -> None:
    """Every returned profile: NashConv <= tol * reward range, re-measured independently."""
    assert result.equilibria
    for equilibrium in result.equilibria:
        report = nash_conv(game, equilibrium.strategies)
        assert report.kind == "exact"
        assert report.nash_conv <= tol * reward_range(game)
        assert equilibrium.regret <= tol


# ------------------------------------------------------------------------------------------
# zero-sum: published and hand-solved values
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("method", EXACT_METHODS)
@pytest.mark.parametrize("discount", [0.5, 0.9, 0.99])
def test_big_match_value_and_strategies(method, discount):
    # REFERENCES.md "Stochastic games" (Blackwell-Ferguson 1968): normalised value 1/2 for every
    # discount, so V(play) = 0.5 / (1 - d); T w.p. (1 - d)/(2 - d); player 2 plays L w.p. 1/2.
    game = big_match(discount=discount)
    result = method(game)
    assert result.status == "success"
    values = result.extra["state_values"]
    scale = 1.0 / (1.0 - discount)
    np.testing.assert_allclose(values, [0.5 * scale, scale, 0.0], atol=1e-10 * scale)
    row, column = result.equilibria[0].strategies
    assert row[0, 0] == pytest.approx((1 - discount) / (2 - discount), abs=1e-9)
    assert column[0, 0] == pytest.approx(0.5, abs=1e-9)
    np.testing.assert_allclose(result.equilibria[0].state_values[0], values, atol=1e-9 * scale)
    assert_certified(result, game)


@pytest.mark.parametrize("method", EXACT_METHODS)
def test_two_state_game_matches_closed_form(method):
    # REFERENCES.md two-state game [C]: v1 = (-479 + 11 sqrt(7561))/144 = 3.3159313831,
    # v2 = (-29 + sqrt(7561))/16 = 3.6221256771; both mix (0.387611, 0.612389) in state 1.
    # Hand check that the description is read right (mismatch -> state 2, values of the row
    # player): in state 2, v2 = 1/2 + 0.9 (v1 + v2)/2, i.e. v2 = (1 + 0.9 v1)/1.1.
    v1 = (-479 + 11 * math.sqrt(7561)) / 144
    v2 = (-29 + math.sqrt(7561)) / 16
    assert v2 == pytest.approx((1 + 0.9 * v1) / 1.1, abs=1e-12)
    game = two_state_game()
    result = method(game)
    np.testing.assert_allclose(result.extra["state_values"], [v1, v2], atol=1e-9)
    assert v1 == pytest.approx(3.3159313831, abs=1e-10)
    for strategy in result.equilibria[0].strategies:
        np.testing.assert_allclose(strategy[0], [0.387611, 0.612389], atol=5e-7)
    assert_certified(result, game)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_zero_sum_against_independent_value_iteration(seed):
    rng = np.random.default_rng(seed)
    game = random_zero_sum(rng, 4, 3, 2 + seed, 0.7)
    expected = reference_values(game)
    for method in EXACT_METHODS:
        result = method(game)
        assert result.status == "success"
        np.testing.assert_allclose(result.extra["state_values"], expected, atol=1e-8)
        # the certified state values of the returned profile are the game's values too
        np.testing.assert_allclose(result.equilibria[0].state_values[0], expected, atol=1e-8)
        assert_certified(result, game)


@pytest.mark.parametrize("seed", [3, 4])
def test_hoffman_karp_equals_shapley_near_discount_one(seed):
    rng = np.random.default_rng(seed)
    game = random_zero_sum(rng, 12, 3, 4, 0.98)
    slow, fast = shapley_iteration(game), hoffman_karp(game)
    assert slow.status == fast.status == "success"
    scale = reward_range(game) / (1 - game.discount)
    np.testing.assert_allclose(fast.extra["state_values"], slow.extra["state_values"],
                               atol=1e-9 * scale)
    # strategy iteration needs far fewer iterations than value iteration at discount 0.98
    assert fast.iterations * 10 < slow.iterations
    assert_certified(slow, game)
    assert_certified(fast, game)


@pytest.mark.parametrize("method", EXACT_METHODS)
def test_terminating_game_with_discount_one(method):
    # every step ends the game w.p. 0.3, so discount 1 is allowed; the reference iteration
    # converges because every policy terminates
    rng = np.random.default_rng(7)
    game = random_zero_sum(rng, 5, 3, 3, 1.0, stop=0.3)
    expected = reference_values(game)
    result = method(game)
    assert result.status == "success"
    np.testing.assert_allclose(result.extra["state_values"], expected, atol=1e-8)
    assert result.extra["state_values"][-1] == 0.0  # terminal state
    assert_certified(result, game)


@pytest.mark.parametrize("method", EXACT_METHODS)
def test_discount_one_pennies_then_stop(method):
    # matching pennies twice (acyclic, discount 1): value 0 in both stages, uniform play; the
    # stage value after the first stage is still 0, so the first stage is pennies again.
    pennies = np.array([[1.0, -1.0], [-1.0, 1.0]])
    transitions = np.zeros((3, 2, 2, 3))
    transitions[0, ..., 1] = transitions[1, ..., 2] = 1.0
    reward = np.stack([pennies, pennies, 0 * pennies])
    game = MarkovGame(transitions, np.stack([reward, -reward]), [1, 0, 0], 1.0,
                      terminal=[False, False, True])
    result = method(game)
    np.testing.assert_allclose(result.extra["state_values"], 0.0, atol=1e-12)
    np.testing.assert_allclose(result.equilibria[0].strategies[0][:2], 0.5, atol=1e-12)
    assert_certified(result, game)


def test_action_independent_transitions_zero_sum():
    # transitions ignore actions: the stationary equilibrium plays the static equilibrium of
    # r(s, .) in every state and V = (I - gamma P)^-1 val(r(s, .))
    rng = np.random.default_rng(11)
    chain = rng.dirichlet(np.ones(4), size=4)
    reward = rng.normal(size=(4, 3, 3))
    transitions = np.broadcast_to(chain[:, None, None, :], (4, 3, 3, 4)).copy()
    game = MarkovGame(transitions, np.stack([reward, -reward]), np.full(4, 0.25), 0.95)
    static = np.array([_matrix_value(reward[s]) for s in range(4)])
    expected = np.linalg.solve(np.eye(4) - 0.95 * chain, static)
    for method in EXACT_METHODS:
        result = method(game)
        np.testing.assert_allclose(result.extra["state_values"], expected, atol=1e-9)
        row, column = result.equilibria[0].strategies
        for s in range(4):
            # the per-state strategies guarantee the static value of r(s, .)
            assert (row[s] @ reward[s]).min() >= static[s] - 1e-9
            assert (reward[s] @ column[s]).max() <= static[s] + 1e-9
        assert_certified(result, game)


@pytest.mark.parametrize("seed", range(4))
def test_degenerate_zero_sum_games(seed):
    # payoffs in {-1, 0, 1} and deterministic transitions: ties, saddle points, dominated and
    # duplicated actions, sometimes a single action (degenerate stage games for the LP)
    rng = np.random.default_rng(100 + seed)
    rows, columns = int(rng.integers(1, 4)), int(rng.integers(2, 4))
    transitions = np.zeros((4, rows, columns, 4))
    np.put_along_axis(transitions, rng.integers(0, 4, size=(4, rows, columns, 1)), 1.0, axis=-1)
    reward = rng.integers(-1, 2, size=(4, rows, columns)).astype(float)
    game = MarkovGame(transitions, np.stack([reward, -reward]), np.full(4, 0.25),
                      (0.5, 0.8)[seed % 2])
    expected = reference_values(game)
    for method in EXACT_METHODS:
        result = method(game)
        assert result.status == "success"
        np.testing.assert_allclose(result.extra["state_values"], expected, atol=1e-8)
        assert_certified(result, game)


def test_zero_sum_time_indexed_agrees_with_backward_induction():
    # a finite-horizon zero-sum game (sparse transitions, one-to-one observations): the stage
    # values are unique, so backward induction, Shapley and Hoffman-Karp must agree
    game = time_indexed(two_state_game(), 4)
    by_induction = backward_induction(game)
    for method in EXACT_METHODS:
        result = method(game)
        np.testing.assert_allclose(result.extra["state_values"],
                                   by_induction.equilibria[0].state_values[0], atol=1e-9)
        assert_certified(result, game)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), scale=st.floats(0.1, 10.0), shift=st.floats(-5.0, 5.0),
       discount=st.sampled_from([0.0, 0.6, 0.95]))
def test_zero_sum_values_are_affine_equivariant_and_antisymmetric(seed, scale, shift, discount):
    # properties of the value: V(a r + b) = a V(r) + b / (1 - gamma) for a > 0, and swapping the
    # players (transpose the actions, negate the rewards) negates the value
    rng = np.random.default_rng(seed)
    game = random_zero_sum(rng, 3, 2, 3, discount)
    reward = game.rewards[0]
    transitions = game.dense_transitions()
    moved = MarkovGame(transitions, np.stack([scale * reward + shift, -(scale * reward + shift)]),
                       game.initial, discount)
    swapped = MarkovGame(transitions.transpose(0, 2, 1, 3),
                         np.stack([-reward.transpose(0, 2, 1), reward.transpose(0, 2, 1)]),
                         game.initial, discount)
    values = hoffman_karp(game).extra["state_values"]
    np.testing.assert_allclose(hoffman_karp(moved).extra["state_values"],
                               scale * values + shift / (1 - discount), atol=1e-8 * (1 + scale))
    np.testing.assert_allclose(shapley_iteration(swapped).extra["state_values"], -values,
                               atol=1e-8)


def test_zero_sum_solvers_reject_bad_games():
    pennies = np.array([[1.0, -1.0], [-1.0, 1.0]])
    transitions = np.zeros((2, 2, 2, 2))
    transitions[..., 1] = 1.0
    general = MarkovGame(transitions, np.stack([np.stack([pennies, 0 * pennies])] * 2),
                         [1, 0], 0.9, terminal=[False, True])
    with pytest.raises(NotZeroSumError, match="rewards\\[0\\] \\+ rewards\\[1\\]"):
        shapley_iteration(general)
    with pytest.raises(NotZeroSumError):
        hoffman_karp(general)
    hidden = MarkovGame(np.full((2, 2, 2, 2), 0.5), np.stack([np.stack([pennies] * 2),
                                                             -np.stack([pennies] * 2)]),
                        [1, 0], 0.9, observations=[[0, 0], [0, 1]])
    with pytest.raises(NotFullyObservedError, match="player 0"):
        hoffman_karp(hidden)
    with pytest.raises(InvalidArgumentError, match="tol"):
        shapley_iteration(big_match(discount=0.9), tol=-1.0)


def test_shapley_reports_max_iterations():
    result = shapley_iteration(big_match(discount=0.99), max_iterations=5)
    assert result.status == "failed"
    assert result.equilibria  # still a certified profile, never None
    assert result.equilibria[0].regret > 0


# ------------------------------------------------------------------------------------------
# approximate general-sum: Markov-demand Cournot
# ------------------------------------------------------------------------------------------

def markov_cournot(grid: np.ndarray) -> MarkovGame:
    """REFERENCES.md Markov-demand Cournot [C]: price a_s - Q, a = (80, 120) by the chain
    [[0.8, 0.2], [0.3, 0.7]], cost 10, discount 0.9; actions do not affect transitions."""
    q1, q2 = np.meshgrid(grid, grid, indexing="ij")
    margin = np.array([80.0, 120.0])[:, None, None] - q1[None] - q2[None] - 10.0
    rewards = np.stack([q1[None] * margin, q2[None] * margin])
    chain = np.array([[0.8, 0.2], [0.3, 0.7]])
    transitions = np.broadcast_to(chain[:, None, None, :], (2, *q1.shape, 2)).copy()
    return MarkovGame(transitions, rewards, [1.0, 0.0], 0.9)


def test_markov_cournot_by_fictitious_play():
    # grid step 10/3 contains the Cournot quantities (a - c)/3 = 70/3 and 110/3. On this grid
    # each static game also has two asymmetric pure equilibria (ties of the discrete best
    # response), but fictitious play from uniform beliefs is symmetric and stays symmetric.
    grid = np.arange(13) * 10.0 / 3.0
    game = markov_cournot(grid)
    for s, a in enumerate((80.0, 120.0)):
        static = NormalFormGame(game.rewards[:, s])
        profiles = pure_equilibria(static, tol=1e-12).extra["profiles"]
        assert (round(3 * (a - 10) / 10 / 3), round(3 * (a - 10) / 10 / 3)) in profiles
    result = stochastic_fictitious_play(game, iterations=400, tol=1e-9)
    assert result.status == "success" and not result.exact
    assert "approximate" in result.message
    equilibrium = result.equilibria[0]
    # REFERENCES.md: V = (I - 0.9 P)^-1 pi = (8062.626, 9517.172) for each firm
    np.testing.assert_allclose(equilibrium.state_values, [[8062.626, 9517.172]] * 2, atol=1e-3)
    for policy in equilibrium.strategies:
        np.testing.assert_allclose(grid @ policy.T, [70 / 3, 110 / 3], atol=1e-9)
    assert_certified(result, game, tol=1e-9)


def test_fictitious_play_zero_sum_converges_and_is_labelled_approximate():
    game = two_state_game()
    result = stochastic_fictitious_play(game, iterations=1000, tol=1e-12,
                                        rng=np.random.default_rng(0))
    assert result.status == "failed"  # approximate: tol 1e-12 is out of reach
    assert not result.exact and "approximate" in result.message
    history = [regret for _, regret in result.extra["regret_history"]]
    assert history[-1] < 0.05 < history[0]
    # the certificate is honest: it equals the independently measured NashConv
    report = nash_conv(game, result.equilibria[0].strategies)
    assert result.equilibria[0].regret == pytest.approx(
        report.per_player.max() / reward_range(game), abs=1e-12)
    # same seed, same numbers
    again = stochastic_fictitious_play(game, iterations=1000, tol=1e-12,
                                       rng=np.random.default_rng(0))
    np.testing.assert_array_equal(again.equilibria[0].strategies[0],
                                  result.equilibria[0].strategies[0])


def test_fictitious_play_three_players_returns_certified_profile():
    rng = np.random.default_rng(5)
    transitions = rng.dirichlet(np.ones(3), size=(3, 2, 2, 2))
    rewards = rng.normal(size=(3, 3, 2, 2, 2))
    game = MarkovGame(transitions, rewards, np.full(3, 1 / 3), 0.8)
    result = stochastic_fictitious_play(game, iterations=200)
    report = nash_conv(game, result.equilibria[0].strategies)
    assert result.equilibria[0].regret == pytest.approx(
        report.per_player.max() / reward_range(game), abs=1e-12)
    assert result.status in ("success", "failed")


# ------------------------------------------------------------------------------------------
# finite horizon: backward induction
# ------------------------------------------------------------------------------------------

STAG_HUNT = np.array([[4.0, 0.0], [3.0, 2.0]])  # symmetric; actions stag = 0, hare = 1


def two_stage(stage: np.ndarray, discount: float = 1.0) -> MarkovGame:
    """The symmetric stage game ``stage`` played twice (states t0, t1, end)."""
    transitions = np.zeros((3, 2, 2, 3))
    transitions[0, ..., 1] = transitions[1, ..., 2] = 1.0
    reward = np.stack([stage, stage, 0 * stage])
    return MarkovGame(transitions, np.stack([reward, reward.transpose(0, 2, 1)]), [1, 0, 0],
                      discount, terminal=[False, False, True], state_labels=["t0", "t1", "end"])


def test_backward_induction_enumerates_all_subgame_perfect_equilibria():
    # stag hunt stage: (S, S) payoff 4, (H, H) payoff 2, mixed with P(stag) = 2/3 (4p = 3p + 2(1-p))
    # and payoff 8/3. Actions do not move the state, so each stage keeps its 3 equilibria:
    # 3 x 3 = 9 SPE with values {4, 2, 8/3} + {4, 2, 8/3}.
    game = two_stage(STAG_HUNT)
    result = backward_induction(game, enumerate_all=True)
    assert result.status == "success" and result.complete
    assert len(result.equilibria) == 9
    values = sorted(round(float(e.payoffs[0]), 9) for e in result.equilibria)
    expected = sorted(round(a + b, 9) for a in (4, 2, 8 / 3) for b in (4, 2, 8 / 3))
    assert values == expected
    mixed = [e for e in result.equilibria if abs(e.strategies[0][1, 0] - 2 / 3) < 1e-12]
    assert len(mixed) == 3
    assert_certified(result, game, tol=1e-9)


def test_backward_induction_cap_truncates_and_says_so():
    result = backward_induction(two_stage(STAG_HUNT), enumerate_all=True, max_combinations=4)
    assert len(result.equilibria) == 4
    assert result.status == "max_iterations" and not result.complete
    assert "TRUNCATED" in result.message


@pytest.mark.parametrize("selection, value", [
    # payoff dominance and welfare: (stag, stag) twice = 8 each
    ("payoff_dominance", 8.0), ("max_welfare", 8.0),
    # risk dominance (Harsanyi-Selten 2x2): deviation-loss products (4-3)^2 = 1 at (S, S) and
    # (2-0)^2 = 4 at (H, H): hare twice = 4 each
    ("risk_dominance", 4.0)])
def test_backward_induction_selection_rules(selection, value):
    game = two_stage(STAG_HUNT)
    result = backward_induction(game, selection=selection)
    assert len(result.equilibria) == 1
    np.testing.assert_allclose(result.equilibria[0].payoffs, [value, value])
    assert result.extra["selection"]["rule"] == selection
    states = result.extra["selection"]["states"]
    assert [d["num_equilibria"] for d in states] == [3, 3]
    assert selection in result.message
    assert_certified(result, game, tol=1e-9)


def test_payoff_dominance_differs_from_welfare():
    # battle of the sexes with asymmetric stakes: (A, A) pays (5, 1), (B, B) pays (2, 2), mixed
    # is Pareto-dominated by both. Welfare picks (A, A) (6 > 4); neither pure equilibrium
    # Pareto-dominates the other, so payoff dominance also takes the higher welfare (A, A);
    # "first" follows the enumerator's order and must be one of the three.
    row = np.array([[5.0, 0.0], [0.0, 2.0]])
    column = np.array([[1.0, 0.0], [0.0, 2.0]])
    transitions = np.zeros((2, 2, 2, 2))
    transitions[0, ..., 1] = 1.0
    game = MarkovGame(transitions, np.stack([np.stack([row, 0 * row]),
                                             np.stack([column, 0 * column])]),
                      [1, 0], 1.0, terminal=[False, True])
    for rule in ("payoff_dominance", "max_welfare"):
        np.testing.assert_allclose(backward_induction(game, selection=rule).equilibria[0].payoffs,
                                   [5.0, 1.0])
    first = backward_induction(game, selection="first")
    assert first.extra["selection"]["states"][0]["chosen"] == 0


def test_backward_induction_on_time_indexed_game_and_continuation_values():
    # a one-state game unrolled for 3 steps: observations are one-to-one (not the identity)
    base = MarkovGame(np.ones((1, 2, 2, 1)), np.stack([STAG_HUNT[None], STAG_HUNT.T[None]]),
                      [1.0], 0.5)
    game = time_indexed(base, 3)
    assert not game.fully_observed
    result = backward_induction(game)
    # (stag, stag) every step: 4 + 0.5 * 4 + 0.25 * 4 = 7
    np.testing.assert_allclose(result.equilibria[0].payoffs, [7.0, 7.0])
    assert result.equilibria[0].strategies[0].shape == (game.num_observations[0], 2)
    assert_certified(result, game, tol=1e-9)


def test_backward_induction_state_dependent_continuation():
    # the first-stage action moves the state: after (stag, stag) the second stage pays double.
    # Second stage: normal state values {4, 2, 8/3}, doubled state {8, 4, 16/3}; payoff
    # dominance picks 4 and 8, so stage 1 becomes the stag hunt plus 4, with (S, S) + 4 more:
    # [[4 + 8, 0 + 4], [3 + 4, 2 + 4]] -> (S, S) still an equilibrium with value 12.
    transitions = np.zeros((4, 2, 2, 4))
    transitions[0, :, :, 1] = 1.0
    transitions[0, 0, 0, 1], transitions[0, 0, 0, 2] = 0.0, 1.0
    transitions[1:3, :, :, 3] = 1.0
    stage = np.stack([STAG_HUNT, STAG_HUNT, 2 * STAG_HUNT, 0 * STAG_HUNT])
    game = MarkovGame(transitions, np.stack([stage, stage.transpose(0, 2, 1)]), [1, 0, 0, 0],
                      1.0, terminal=[False, False, False, True])
    result = backward_induction(game)
    np.testing.assert_allclose(result.equilibria[0].state_values[0, :3], [12.0, 4.0, 8.0])
    all_spe = backward_induction(game, enumerate_all=True)
    assert all_spe.complete
    assert_certified(all_spe, game, tol=1e-9)


def test_backward_induction_three_players():
    # 3-player unanimity game: everyone gets 1 if all choose the same action, else 0; pure
    # equilibria are the two unanimous profiles (found by pure_equilibria).
    payoff = np.zeros((2, 2, 2))
    payoff[0, 0, 0] = payoff[1, 1, 1] = 1.0
    transitions = np.zeros((2, 2, 2, 2, 2))
    transitions[0, ..., 1] = 1.0
    rewards = np.stack([np.stack([payoff, 0 * payoff])] * 3)
    game = MarkovGame(transitions, rewards, [1, 0], 1.0, terminal=[False, True])
    result = backward_induction(game, enumerate_all=True)
    assert len(result.equilibria) == 2 and not result.complete  # mixed ones are not listed
    assert_certified(result, game, tol=1e-9)


def test_backward_induction_rejects_cycles_and_bad_options():
    with pytest.raises(NotAcyclicError, match="cycle"):
        backward_induction(big_match(discount=0.9))
    with pytest.raises(InvalidArgumentError, match="selection"):
        backward_induction(two_stage(STAG_HUNT), selection="nicest")  # type: ignore[arg-type]
