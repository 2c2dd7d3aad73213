"""Tests of gametools.model: one test per validation rule (array, index and rule in the message),
immutability, exact payoffs, stage games and time-indexed unrolling."""

from __future__ import annotations

import re
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest
import scipy.sparse as sp
from known_games import two_state_game

from gametools import MarkovGame, NormalFormGame, nash_conv, state_values, time_indexed
from gametools.errors import GameValidationError
from gametools.model import ROW_SUM_TOLERANCE


def _msg(text: str) -> str:
    return re.escape(text)


def _base() -> dict:
    """A valid 2-state, 2x2-action discounted game (every row uniform)."""
    return {"transitions": np.full((2, 2, 2, 2), 0.5), "rewards": np.zeros((2, 2, 2, 2)),
            "initial": [1.0, 0.0], "discount": 0.5}


def _build(**changes) -> MarkovGame:
    arguments = _base()
    arguments.update(changes)
    return MarkovGame(arguments.pop("transitions"), arguments.pop("rewards"),
                      arguments.pop("initial"), arguments.pop("discount"), **arguments)


def _with(array: np.ndarray, index: tuple, value: float) -> np.ndarray:
    out = np.array(array, dtype=float)
    out[index] = value
    return out


# ------------------------------------------------------------------------------------------
# shapes
# ------------------------------------------------------------------------------------------

def test_payoffs_player_axis_must_match_number_of_action_axes() -> None:
    with pytest.raises(GameValidationError, match=_msg("payoffs: has 2 action axes but 3 "
                                                       "players on axis 0")):
        NormalFormGame(np.zeros((3, 2, 2)))


def test_payoffs_need_a_player_axis() -> None:
    with pytest.raises(GameValidationError, match=r"^payoffs: must have shape \(num_players"):
        NormalFormGame(np.zeros(3))


def test_bimatrix_shapes_must_agree() -> None:
    with pytest.raises(GameValidationError, match=r"payoffs: a bimatrix game needs two matrices"):
        NormalFormGame.from_bimatrix(np.zeros((2, 2)), np.zeros((2, 3)))


def test_transitions_shape_must_match_rewards() -> None:
    with pytest.raises(GameValidationError, match=_msg("transitions: must have shape "
                                                       "(S, n_1, ..., n_N, S) = (2, 2, 2, 2)")):
        _build(transitions=np.full((2, 2, 1, 2), 0.5))


def test_rewards_need_one_action_axis_per_player() -> None:
    with pytest.raises(GameValidationError, match=r"^rewards: must have shape \(num_players, S"):
        _build(rewards=np.zeros((1, 2, 2, 2)))


def test_initial_shape() -> None:
    with pytest.raises(GameValidationError, match=_msg("initial: must have shape (S,) = (2,) "
                                                       "(got (3,))")):
        _build(initial=[1.0, 0.0, 0.0])


def test_observations_shape() -> None:
    with pytest.raises(GameValidationError, match=_msg("observations: must have shape (N, S) = "
                                                       "(2, 2) (got (1, 2))")):
        _build(observations=[[0, 1]])


def test_terminal_shape() -> None:
    with pytest.raises(GameValidationError, match=_msg("terminal: must have shape (S,) = (2,)")):
        _build(terminal=[False, False, True])


def test_terminal_must_be_boolean() -> None:
    with pytest.raises(GameValidationError, match=r"^terminal: must be booleans"):
        _build(terminal=[0, 2])


def test_sparse_transitions_shape() -> None:
    with pytest.raises(GameValidationError, match=_msg("transitions: a sparse transition matrix "
                                                       "must have shape (S * A, S) = (8, 2)")):
        _build(transitions=sp.csr_array(np.full((7, 2), 0.5)))


# ------------------------------------------------------------------------------------------
# finite numbers
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_payoffs_must_be_finite(bad: float) -> None:
    payoffs = _with(np.zeros((2, 2, 3)), (1, 0, 2), bad)
    with pytest.raises(GameValidationError, match=_msg("payoffs[1, 0, 2]: must be finite")):
        NormalFormGame(payoffs)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_rewards_must_be_finite(bad: float) -> None:
    with pytest.raises(GameValidationError, match=_msg("rewards[0, 1, 1, 0]: must be finite")):
        _build(rewards=_with(np.zeros((2, 2, 2, 2)), (0, 1, 1, 0), bad))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_dense_transitions_must_be_finite(bad: float) -> None:
    with pytest.raises(GameValidationError, match=_msg("transitions[1, 0, 1, 0]: must be "
                                                       "finite")):
        _build(transitions=_with(np.full((2, 2, 2, 2), 0.5), (1, 0, 1, 0), bad))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_sparse_transitions_must_be_finite(bad: float) -> None:
    # CSR row 5 = state 1, joint action 1 = (0, 1); column 1
    dense = _with(np.full((8, 2), 0.5), (5, 1), bad)
    with pytest.raises(GameValidationError, match=_msg("transitions[1, 0, 1, 1]: must be "
                                                       "finite")):
        _build(transitions=sp.csr_array(dense))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_initial_must_be_finite(bad: float) -> None:
    with pytest.raises(GameValidationError, match=_msg("initial[1]: must be finite")):
        _build(initial=[1.0, bad])


# ------------------------------------------------------------------------------------------
# probabilities
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("low, high", [(-0.25, 1.25), (1.5, -0.5)])
def test_dense_probabilities_in_unit_interval(low: float, high: float) -> None:
    transitions = np.full((2, 2, 2, 2), 0.5)
    transitions[1, 1, 0] = [low, high]
    bad_column = 0 if low < 0 else 1
    with pytest.raises(GameValidationError,
                       match=_msg(f"transitions[1, 1, 0, {bad_column}]: probabilities must be in "
                                  "[0, 1]")):
        _build(transitions=transitions)


def test_probability_above_one_is_named() -> None:
    transitions = np.full((2, 2, 2, 2), 0.5)
    transitions[0, 1, 1] = [1.5, 0.0]  # sums to 1.5, but the entry rule is checked first
    with pytest.raises(GameValidationError, match=_msg("transitions[0, 1, 1, 0]: probabilities "
                                                       "must be in [0, 1] (got 1.5)")):
        _build(transitions=transitions)


def test_sparse_probabilities_in_unit_interval() -> None:
    dense = np.full((8, 2), 0.5)
    dense[6] = [-0.5, 1.5]  # state 1, joint action 2 = (1, 0)
    with pytest.raises(GameValidationError, match=_msg("transitions[1, 1, 0, 0]: probabilities "
                                                       "must be in [0, 1] (got -0.5)")):
        _build(transitions=sp.csr_array(dense))


def test_dense_rows_must_sum_to_one() -> None:
    transitions = np.full((2, 2, 2, 2), 0.5)
    transitions[1, 0, 1] = [0.5, 0.499]
    with pytest.raises(GameValidationError, match=_msg("transitions[1, 0, 1]: each row "
                                                       "P(. | s, a) of a non-terminal state must "
                                                       "sum to 1 (got 0.999)")):
        _build(transitions=transitions)


def test_sparse_rows_must_sum_to_one() -> None:
    dense = np.full((8, 2), 0.5)
    dense[3] = [0.5, 0.499]  # state 0, joint action 3 = (1, 1)
    with pytest.raises(GameValidationError, match=_msg("transitions[0, 1, 1]: each row "
                                                       "P(. | s, a) of a non-terminal state must "
                                                       "sum to 1")):
        _build(transitions=sp.csr_array(dense))


def test_terminal_rows_may_be_empty_but_others_may_not() -> None:
    transitions = np.full((2, 2, 2, 2), 0.5)
    transitions[1] = 0.0
    game = _build(transitions=transitions, terminal=[False, True])
    assert game.terminal.tolist() == [False, True]
    with pytest.raises(GameValidationError, match=_msg("transitions[1, 0, 0]: each row")):
        _build(transitions=transitions)


def test_initial_probabilities_and_sum() -> None:
    with pytest.raises(GameValidationError, match=_msg("initial[1]: probabilities must be in "
                                                       "[0, 1] (got -0.5)")):
        _build(initial=[1.5, -0.5])
    with pytest.raises(GameValidationError, match=_msg("initial: must sum to 1 (got 1.1)")):
        _build(initial=[0.5, 0.6])


def test_nothing_is_renormalised() -> None:
    # a row summing to 0.999 is rejected (see above); a row inside the tolerance is kept verbatim
    transitions = np.full((2, 2, 2, 2), 0.5)
    transitions[0, 0, 0] = [0.5, 0.5 + ROW_SUM_TOLERANCE / 2]
    game = _build(transitions=transitions)
    assert np.array_equal(game.transitions, transitions)
    initial = np.array([0.25, 0.75])
    assert np.array_equal(_build(initial=initial).initial, initial)


# ------------------------------------------------------------------------------------------
# discount and termination
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("discount", [-0.1, 1.5, np.nan, np.inf])
def test_discount_range(discount: float) -> None:
    with pytest.raises(GameValidationError, match=r"^discount: must be in \[0, 1\]"):
        _build(discount=discount)


def test_discount_must_be_a_number() -> None:
    with pytest.raises(GameValidationError, match=r"^discount: must be a real number"):
        _build(discount="high")


def test_discount_one_without_termination_is_rejected() -> None:
    with pytest.raises(GameValidationError, match=r"^discount: discount = 1 needs every joint "
                                                  r"policy to terminate almost surely, but from "
                                                  r"reachable state 0 \('s0'\)"):
        _build(discount=1.0)


def test_discount_one_rejected_when_one_joint_action_avoids_termination() -> None:
    # from state 0, joint action (1, 1) loops forever; every other action ends the game
    transitions = np.zeros((2, 2, 2, 2))
    transitions[0, :, :, 1] = 1.0
    transitions[0, 1, 1] = [1.0, 0.0]
    with pytest.raises(GameValidationError, match=r"^discount: discount = 1"):
        _build(transitions=transitions, terminal=[False, True], discount=1.0)


def test_discount_one_accepted_when_termination_is_guaranteed() -> None:
    # every joint action ends the game with probability 1/2 per step: terminates almost surely
    transitions = np.zeros((2, 2, 2, 2))
    transitions[0] = [0.5, 0.5]
    game = _build(transitions=transitions, terminal=[False, True], discount=1.0)
    assert game.discount == 1.0
    # and a loop in an unreachable state does not matter
    transitions = np.zeros((3, 2, 2, 3))
    transitions[0, :, :, 1] = 1.0
    transitions[2, :, :, 2] = 1.0
    MarkovGame(transitions, np.zeros((2, 3, 2, 2)), [1.0, 0.0, 0.0], 1.0,
               terminal=[False, True, False])


# ------------------------------------------------------------------------------------------
# observations and labels
# ------------------------------------------------------------------------------------------

def test_negative_observation_ids() -> None:
    with pytest.raises(GameValidationError, match=_msg("observations[1, 0]: observation ids "
                                                       "must be >= 0 (got -1)")):
        _build(observations=[[0, 1], [-1, 0]])


def test_observation_ids_must_be_integers() -> None:
    with pytest.raises(GameValidationError, match=r"^observations: must be integers"):
        _build(observations=[[0, 0.5], [0, 0]])


@pytest.mark.parametrize("option, labels, expected", [
    ("state_labels", ["a"], "state_labels: needs 2 labels, one per entry (got 1)"),
    ("player_labels", ["a", "b", "c"], "player_labels: needs 2 labels, one per entry (got 3)"),
    ("action_labels", [["a", "b"]], "action_labels: needs one list of labels per player (got 1)"),
    ("action_labels", [["a", "b"], ["c"]], "action_labels[1]: needs 2 labels, one per entry"),
])
def test_label_counts(option: str, labels: list, expected: str) -> None:
    with pytest.raises(GameValidationError, match=_msg(expected)):
        _build(**{option: labels})
    if option != "state_labels":
        with pytest.raises(GameValidationError, match=_msg(expected)):
            NormalFormGame(np.zeros((2, 2, 2)), **{option: labels})


# ------------------------------------------------------------------------------------------
# immutability and exact payoffs
# ------------------------------------------------------------------------------------------

def test_arrays_are_read_only_and_copied() -> None:
    arguments = _base()
    rewards = np.ones((2, 2, 2, 2))
    game = MarkovGame(arguments["transitions"], rewards, np.array([1.0, 0.0]), 0.5,
                      terminal=np.array([False, False]), observations=np.array([[0, 1], [0, 0]]))
    for array in (game.transitions, game.rewards, game.initial, game.terminal, game.observations):
        assert not array.flags.writeable
        with pytest.raises(ValueError):
            array.flat[0] = 0
    rewards[0, 0, 0, 0] = 99.0  # the caller's array is not shared
    assert game.rewards[0, 0, 0, 0] == 1.0
    payoffs = np.arange(8).reshape(2, 2, 2)
    normal = NormalFormGame(payoffs)
    payoffs[0, 0, 0] = 99
    assert normal.payoffs[0, 0, 0] == 0.0 and normal.payoffs_exact[0, 0, 0] == 0
    assert not normal.payoffs.flags.writeable and not normal.payoffs_exact.flags.writeable


def test_sparse_transitions_are_copied_and_read_only() -> None:
    matrix = sp.csr_array(np.full((8, 2), 0.5))
    game = _build(transitions=matrix)
    matrix.data[0] = 7.0
    assert game.transitions.toarray()[0, 0] == 0.5
    assert not game.transitions.indices.flags.writeable
    assert not game.transitions.indptr.flags.writeable


def test_exact_payoffs_are_kept() -> None:
    game = NormalFormGame.from_bimatrix([[3, 0], [5, 1]], [[3, 5], [0, 1]])
    assert game.is_exact and game.payoffs_exact[0, 1, 0] == 5
    assert all(type(v) is Fraction for v in game.payoffs_exact.flat)
    fractions = NormalFormGame.zero_sum(np.array([[Fraction(1, 3), Fraction(-1, 7)],
                                                  [Fraction(0), Fraction(2)]], dtype=object))
    assert fractions.payoffs_exact[1, 0, 0] == Fraction(-1, 3)
    assert fractions.is_zero_sum()
    decimals = NormalFormGame(np.array([[Decimal("0.1"), Decimal(2)]], dtype=object))
    assert decimals.payoffs_exact[0, 0] == Fraction(1, 10)  # not the double nearest 0.1
    assert not NormalFormGame(np.array([[[0.1, 1.0]], [[1.0, 0.0]]])).is_exact
    # one float matrix makes the whole game inexact rather than half exact
    assert not NormalFormGame.from_bimatrix([[1, 2]], [[0.5, 1.0]]).is_exact


@pytest.mark.parametrize("bad", ["NaN", "Infinity"])
def test_non_finite_decimal_payoffs_are_validation_errors(bad: str) -> None:
    with pytest.raises(GameValidationError, match=r"payoffs\[0, 0\]: must be finite"):
        NormalFormGame(np.array([[Decimal(bad), Decimal(1)]], dtype=object))


# ------------------------------------------------------------------------------------------
# stage games, normal form as Markov game, time-indexed unrolling
# ------------------------------------------------------------------------------------------

def test_stage_game_matches_hand_computation() -> None:
    known = two_state_game()
    v1, v2 = known.state_values[0]
    values = np.array([[v1, v2], [-v1, -v2]])
    stage = known.game.stage_game(0, values)
    # REFERENCES.md two-state game: state 0 stage payoffs r + 0.9 * V(next) by hand
    expected = np.array([[2 + 0.9 * v1, -1 + 0.9 * v2], [-1 + 0.9 * v2, 1 + 0.9 * v1]])
    np.testing.assert_allclose(stage.payoffs[0], expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(stage.payoffs[1], -expected, rtol=0, atol=1e-12)
    # the stage game's value at the published mixing is v1 (Shapley's equation)
    p = known.equilibria[0][0][0]
    assert p @ stage.payoffs[0] @ p == pytest.approx(v1, abs=1e-9)
    np.testing.assert_allclose(p, known.extra["published_mixing"], atol=1e-6)


def test_stage_game_ignores_values_of_terminal_states() -> None:
    # one player with two actions (a one-player game is allowed: rewards (1, S, n_1))
    transitions = np.zeros((2, 2, 2))
    transitions[0, 0] = [0.25, 0.75]
    transitions[0, 1] = [1.0, 0.0]
    rewards = np.zeros((1, 2, 2))
    rewards[0, 0] = [1.0, 2.0]
    game = MarkovGame(transitions, rewards, [1.0, 0.0], 0.5, terminal=[False, True])
    stage = game.stage_game(0, [[4.0, 1000.0]])
    # action 0: 1 + 0.5 * 0.25 * 4 = 1.5; action 1: 2 + 0.5 * 4 = 4 (the terminal value is 0)
    np.testing.assert_allclose(stage.payoffs[0], [1.5, 4.0])
    with pytest.raises(GameValidationError, match=r"^values: must have shape \(N, S\)"):
        game.stage_game(0, [1.0, 2.0])
    with pytest.raises(GameValidationError, match=r"^state: must be in \[0, 2\)"):
        game.stage_game(2, [[0.0, 0.0]])


def test_normal_form_as_markov_game() -> None:
    game = NormalFormGame.from_bimatrix([[3, 0], [5, 1]], [[3, 5], [0, 1]])
    markov = game.to_markov_game()
    assert markov.num_states == 2 and markov.discount == 1.0
    assert markov.terminal.tolist() == [False, True]
    np.testing.assert_array_equal(markov.rewards[:, 0], game.payoffs)
    np.testing.assert_array_equal(markov.stage_game(0, np.zeros((2, 2))).payoffs, game.payoffs)


def test_time_indexed_values_equal_truncated_values_by_hand() -> None:
    # one action each; state 0 pays 1 and moves to state 1 with probability 1/2; state 1 pays 2
    # and stays. Discount 1/2, horizon 3. By hand (V_h = h-step truncated value):
    # V_1 = (1, 2); V_2 = (1 + .5 (.5 * 1 + .5 * 2), 2 + .5 * 2) = (1.75, 3);
    # V_3 = (1 + .5 (.5 * 1.75 + .5 * 3), 2 + .5 * 3) = (2.1875, 3.5).
    transitions = np.zeros((2, 1, 1, 2))
    transitions[0, 0, 0] = [0.5, 0.5]
    transitions[1, 0, 0] = [0.0, 1.0]
    rewards = np.zeros((2, 2, 1, 1))
    rewards[:, 0], rewards[:, 1] = 1.0, 2.0
    game = MarkovGame(transitions, rewards, [1.0, 0.0], 0.5)
    unrolled = time_indexed(game, 3)
    assert unrolled.num_states == 7 and unrolled.is_sparse
    assert unrolled.terminal.tolist() == [False] * 6 + [True]
    policy = (np.ones((unrolled.num_observations[0], 1)), np.ones((unrolled.num_observations[1],
                                                                   1)))
    values = state_values(unrolled, policy)[0]
    np.testing.assert_allclose(values, [2.1875, 3.5, 1.75, 3.0, 1.0, 2.0, 0.0], atol=1e-12)


def test_time_indexed_best_response_is_finite_horizon() -> None:
    # player 0 decides: action 0 pays 1 and stays; action 1 pays 0 but moves to a state paying
    # 3 per step. Discount 0.9. From "always 0" (worth 1 at horizon 1, 1 + 0.9 = 1.9 at
    # horizon 2) the best deviation gains, by hand: horizon 1: 0 (moving pays 0 < 1);
    # horizon 2: 0 + 0.9 * 3 - 1.9 = 0.8.
    transitions = np.zeros((2, 2, 1, 2))
    transitions[0, 0, 0] = [1.0, 0.0]
    transitions[0, 1, 0] = [0.0, 1.0]
    transitions[1, :, 0] = [0.0, 1.0]
    rewards = np.zeros((2, 2, 2, 1))
    rewards[0, 0, 0] = 1.0
    rewards[0, 1] = 3.0
    game = MarkovGame(transitions, rewards, [1.0, 0.0], 0.9)
    for horizon, gain in ((1, 0.0), (2, 0.8)):
        unrolled = time_indexed(game, horizon)
        stay = np.tile([1.0, 0.0], (unrolled.num_observations[0], 1))
        result = nash_conv(unrolled, (stay, np.ones((unrolled.num_observations[1], 1))))
        assert result.kind == "exact"
        assert result.per_player[0] == pytest.approx(gain, abs=1e-12)


def test_time_indexed_rejects_bad_horizon() -> None:
    with pytest.raises(GameValidationError, match=r"^horizon: must be a positive integer"):
        time_indexed(MarkovGame(**_base()), 0)


@pytest.mark.parametrize("seed", range(5))
def test_sparse_and_dense_games_give_identical_nash_conv(seed: int) -> None:
    rng = np.random.default_rng(seed)
    num_states, actions = 4, (2, 3)
    transitions = rng.dirichlet(np.full(num_states, 0.3), size=(num_states, *actions))
    rewards = rng.normal(size=(2, num_states, *actions))
    dense = MarkovGame(transitions, rewards, np.full(num_states, 0.25), 0.8)
    sparse = MarkovGame(sp.csr_array(transitions.reshape(-1, num_states)), rewards,
                        np.full(num_states, 0.25), 0.8)
    assert sparse.is_sparse and not dense.is_sparse
    np.testing.assert_array_equal(sparse.dense_transitions(), dense.transitions)
    profile = (rng.dirichlet(np.ones(2), size=num_states), rng.dirichlet(np.ones(3),
                                                                         size=num_states))
    a, b = nash_conv(dense, profile), nash_conv(sparse, profile)
    assert a.nash_conv == pytest.approx(b.nash_conv, abs=1e-10)
    np.testing.assert_allclose(a.per_player, b.per_player, atol=1e-10)
    np.testing.assert_allclose(a.values, b.values, atol=1e-10)


def test_payoff_and_reward_ranges_must_not_overflow() -> None:
    # regrets are differences of payoffs: a range beyond float64 would make them infinite
    with pytest.raises(GameValidationError, match=r"payoffs: the range max - min overflows"):
        NormalFormGame.zero_sum([[1e308, -1e308], [-1e308, 1e308]])
    rewards = np.zeros((1, 1, 2))
    rewards[0, 0] = [1e308, -1e308]
    with pytest.raises(GameValidationError, match=r"rewards: the range max - min overflows"):
        MarkovGame(np.ones((1, 2, 1)), rewards, [1.0], 0.5)


def test_discount_one_rejects_an_exit_probability_that_rounds_away() -> None:
    # stay with probability 1 - 1e-17 (which rounds to 1.0 in float64) and leave with 1e-17:
    # the expected stay of 1e17 steps cannot be evaluated, so validation refuses it
    transitions = np.zeros((2, 2, 2, 2))
    transitions[0, :, :, 0] = 1.0 - 1e-17
    transitions[0, :, :, 1] = 1e-17
    with pytest.raises(GameValidationError, match=r"leave with probability below 1e-12"):
        _build(transitions=transitions, terminal=[False, True], discount=1.0)
    # a small but representable exit probability is evaluated; expected steps 1 / 1e-6 (by hand)
    transitions[0, :, :, 0] = 1.0 - 1e-6
    transitions[0, :, :, 1] = 1e-6
    game = MarkovGame(transitions, np.ones((2, 2, 2, 2)), [1.0, 0.0], 1.0,
                      terminal=[False, True])
    from gametools import nash_conv, uniform_profile
    result = nash_conv(game, uniform_profile(game))
    assert abs(result.values[0] - 1e6) <= result.tolerance + 1e-6 * 1e6 * 1e-6
