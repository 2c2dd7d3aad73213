"""Tests of the zero-sum LP solver and the pure-equilibrium enumerator.

Expected numbers come from OpenSpiel's lp_solver tests (open_spiel/python/algorithms/
lp_solver_test.py: matching pennies, RPS, biased RPS after Bosansky et al. 2016, an asymmetric
pure game), hand-solved classics, QuantEcon's Lemke-Howson (any equilibrium of a zero-sum game
pays the value) and brute-force enumeration of pure profiles.
"""

from __future__ import annotations

import itertools
import json
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import gametools.solvers.pure as pure_module
from gametools import GameValidationError, NormalFormGame
from gametools.solvers.pure import pure_equilibria, pure_equilibria_gen
from gametools.solvers.result import exact_regret
from gametools.solvers.zero_sum import matrix_game_value, zero_sum_lp

F = Fraction
FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# OpenSpiel lp_solver_test.test_biased_rock_paper_scissors (sec. 6.2 of Bosansky et al. 2016,
# "Algorithms for computing strategies in two-player simultaneous move games"): row payoffs
# [[0, -0.25, 0.5], [0.25, 0, -0.05], [-0.5, 0.05, 0]], equilibrium (1/16, 10/16, 5/16) for both.
BIASED_RPS = [[F(0), F("-0.25"), F("0.5")], [F("0.25"), F(0), F("-0.05")],
              [F("-0.5"), F("0.05"), F(0)]]


# --------------------------------------------------------------------------------------------
# zero-sum LP: known games
# --------------------------------------------------------------------------------------------

def test_matching_pennies():
    # OpenSpiel lp_solver_test.test_matching_pennies: value 0, (1/2, 1/2) for both
    result = zero_sum_lp(NormalFormGame.zero_sum([[1, -1], [-1, 1]]))
    assert result.exact and result.status == "success"
    assert result.extra["value_exact"] == 0
    assert result.equilibria[0].strategies_exact == ((F(1, 2), F(1, 2)), (F(1, 2), F(1, 2)))


def test_rock_paper_scissors_is_uniform():
    result = zero_sum_lp(NormalFormGame.zero_sum([[0, -1, 1], [1, 0, -1], [-1, 1, 0]]))
    third = (F(1, 3),) * 3
    assert result.equilibria[0].strategies_exact == (third, third)
    assert result.extra["value"] == 0.0


def test_biased_rock_paper_scissors_exact():
    result = zero_sum_lp(NormalFormGame.zero_sum(np.array(BIASED_RPS, dtype=object)))
    expected = (F(1, 16), F(10, 16), F(5, 16))
    assert result.exact
    assert result.equilibria[0].strategies_exact == (expected, expected)
    assert result.extra["value_exact"] == 0


def test_biased_rock_paper_scissors_float():
    matrix = np.array(BIASED_RPS, dtype=float)
    result = zero_sum_lp(NormalFormGame.zero_sum(matrix))
    assert not result.exact
    for strategy in result.equilibria[0].strategies:
        np.testing.assert_allclose(strategy, [1 / 16, 10 / 16, 5 / 16], atol=1e-7)
    assert abs(result.extra["value"]) <= 1e-9


def test_asymmetric_pure_game_with_nonzero_value():
    # OpenSpiel lp_solver_test.test_asymmetric_pure_nonzero_val: pure (r0, c1), value 1
    result = zero_sum_lp(NormalFormGame.zero_sum([[2, 1, 5], [-3, -4, -2]]))
    assert result.extra["value_exact"] == 1
    assert result.equilibria[0].strategies_exact == ((F(1), F(0)), (F(0), F(1), F(0)))
    assert result.equilibria[0].payoffs_exact == (F(1), F(-1))


def test_matrix_game_value_helper():
    value, x, y = matrix_game_value([[3, -1], [-2, 1]])
    # hand-solved 2x2: x = (3/7, 4/7), y = (2/7, 5/7), value = (3*1 - (-1)(-2)) / 7 = 1/7
    assert value == pytest.approx(1 / 7, abs=1e-9)
    np.testing.assert_allclose(x, [3 / 7, 4 / 7], atol=1e-9)
    np.testing.assert_allclose(y, [2 / 7, 5 / 7], atol=1e-9)


def test_non_zero_sum_game_is_rejected_with_a_message():
    dilemma = NormalFormGame.from_bimatrix([[3, 0], [5, 1]], [[3, 5], [0, 1]])
    with pytest.raises(GameValidationError, match="zero-sum"):
        zero_sum_lp(dilemma)
    with pytest.raises(GameValidationError, match="two-player"):
        zero_sum_lp(NormalFormGame(np.zeros((3, 2, 2, 2))))


def test_float_zero_sum_within_tolerance_is_accepted():
    matrix = np.array([[0.1, 0.7], [0.2, 0.3]])
    game = NormalFormGame(np.stack([matrix, -matrix + 1e-13]))
    assert zero_sum_lp(game).status == "success"
    with pytest.raises(GameValidationError):
        zero_sum_lp(game, tol=1e-15)


# --------------------------------------------------------------------------------------------
# zero-sum LP: properties
# --------------------------------------------------------------------------------------------

@FAST
@given(st.integers(1, 7), st.integers(1, 7), st.integers(0, 2 ** 32 - 1), st.booleans())
def test_value_is_max_min_from_both_sides(m, n, seed, integer):
    rng = np.random.default_rng(seed)
    matrix = rng.integers(-4, 5, size=(m, n)) if integer else rng.standard_normal((m, n))
    game = NormalFormGame.zero_sum(matrix)
    result = zero_sum_lp(game)
    x, y = result.equilibria[0].strategies
    value = result.extra["value"]
    scale = max(1.0, float(np.abs(matrix).max()))
    # x guarantees the value against every column, y concedes at most the value to every row
    assert float((x @ matrix).min()) >= value - 1e-8 * scale
    assert float((matrix @ y).max()) <= value + 1e-8 * scale
    # the column player's own LP (solved separately, on -A^T) gives the same value
    column_value, _, _ = matrix_game_value(-matrix.T)
    assert -column_value == pytest.approx(value, abs=1e-8 * scale)
    assert result.extra["value_column"] == pytest.approx(value, abs=1e-8 * scale)
    assert result.equilibria[0].regret <= 1e-8
    # small integer games are often degenerate; when certified, the certificate is exact
    if integer and result.exact:
        assert exact_regret(game, result.equilibria[0].strategies_exact) == 0
        assert result.extra["value_exact"] == Fraction(value).limit_denominator(10 ** 6)


@FAST
@given(st.integers(1, 6), st.integers(1, 6), st.integers(0, 2 ** 32 - 1))
def test_value_matches_quantecon_equilibrium_payoff(m, n, seed):
    # any Nash equilibrium of a zero-sum game pays the value; QuantEcon's Lemke-Howson gives one
    quantecon = pytest.importorskip("quantecon.game_theory")
    matrix = np.random.default_rng(seed).standard_normal((m, n))
    reference = quantecon.NormalFormGame((quantecon.Player(matrix), quantecon.Player(-matrix.T)))
    x, y = quantecon.lemke_howson(reference)
    assert zero_sum_lp(NormalFormGame.zero_sum(matrix)).extra["value"] == \
        pytest.approx(float(x @ matrix @ y), abs=1e-8)


def test_value_matches_nashpy_linear_program():
    nashpy = pytest.importorskip("nashpy")
    rng = np.random.default_rng(11)
    for _ in range(5):
        matrix = rng.standard_normal((4, 6))
        x, y = nashpy.Game(matrix).linear_program()
        value = zero_sum_lp(NormalFormGame.zero_sum(matrix)).extra["value"]
        assert value == pytest.approx(float(x @ matrix @ y), abs=1e-7)


def test_exact_certification_on_integer_games_is_common():
    rng = np.random.default_rng(5)
    certified = 0
    for _ in range(30):
        game = NormalFormGame.zero_sum(rng.integers(-20, 21, size=(5, 5)))
        result = zero_sum_lp(game)
        if result.exact:
            certified += 1
            assert exact_regret(game, result.equilibria[0].strategies_exact) == 0
    assert certified >= 25


def test_zero_sum_result_is_json_serialisable():
    json.dumps(zero_sum_lp(NormalFormGame.zero_sum([[1, -1], [-1, 1]])).to_dict())


# --------------------------------------------------------------------------------------------
# pure equilibria: known games
# --------------------------------------------------------------------------------------------

def test_prisoners_dilemma_has_unique_defect_defect():
    result = pure_equilibria(NormalFormGame.from_bimatrix([[3, 0], [5, 1]], [[3, 5], [0, 1]]))
    assert result.extra["profiles"] == [(1, 1)]
    assert result.complete and result.exact and result.status == "success"
    assert result.equilibria[0].payoffs_exact == (F(1), F(1))


def test_battle_of_the_sexes_has_two():
    result = pure_equilibria(NormalFormGame.from_bimatrix([[3, 0], [0, 2]], [[2, 0], [0, 3]]))
    assert result.extra["profiles"] == [(0, 0), (1, 1)]


def test_matching_pennies_has_none():
    result = pure_equilibria(NormalFormGame.zero_sum([[1, -1], [-1, 1]]))
    assert result.equilibria == () and result.complete and result.status == "success"


def test_three_player_coordination_game_hand_count():
    # Three players, three actions each; everyone gets 1 if all choose the same action, else 0.
    # Unanimous profiles (3) are equilibria. In a 2-1 split the odd player gains by joining, so
    # no equilibrium. When all three differ (3! = 6 profiles) any single deviation still leaves
    # a split, so nobody gains: equilibria. Total 3 + 6 = 9.
    same = np.zeros((3, 3, 3), dtype=int)
    for a in range(3):
        same[a, a, a] = 1
    result = pure_equilibria(NormalFormGame(np.stack([same] * 3)))
    expected = [(a, a, a) for a in range(3)] + list(itertools.permutations(range(3)))
    assert sorted(result.extra["profiles"]) == sorted(expected)
    assert len(result.equilibria) == 9


def test_exact_comparison_separates_rationals_that_floats_merge():
    tiny = F(1, 3) + F(1, 10 ** 20)
    assert float(tiny) == float(F(1, 3))  # the premise: floats cannot tell them apart
    row = np.array([[F(1, 3)], [tiny]], dtype=object)
    column = np.array([[F(0)], [F(0)]], dtype=object)
    game = NormalFormGame.from_bimatrix(row, column)
    assert pure_equilibria(game).extra["profiles"] == [(1, 0)]


def test_tolerance_admits_epsilon_equilibria():
    game = NormalFormGame.from_bimatrix([[1.0, 0.0], [0.999, 0.0]], [[1.0, 1.0], [1.0, 1.0]])
    assert pure_equilibria(game).extra["profiles"] == [(0, 0), (0, 1), (1, 1)]
    loose = pure_equilibria(game, tol=0.01)
    assert loose.extra["profiles"] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert not loose.exact
    assert loose.equilibria[2].regret == pytest.approx(0.001)
    with pytest.raises(GameValidationError):
        pure_equilibria(game, tol=-1.0)


# --------------------------------------------------------------------------------------------
# pure equilibria: properties
# --------------------------------------------------------------------------------------------

def brute_force_pure(payoffs: np.ndarray) -> list[tuple[int, ...]]:
    """Profiles where no player has a strictly profitable unilateral deviation (loops)."""
    num_players = payoffs.shape[0]
    shape = payoffs.shape[1:]
    found = []
    for profile in itertools.product(*(range(n) for n in shape)):
        stable = True
        for i in range(num_players):
            for action in range(shape[i]):
                deviation = list(profile)
                deviation[i] = action
                if payoffs[(i, *deviation)] > payoffs[(i, *profile)]:
                    stable = False
        if stable:
            found.append(profile)
    return found


@st.composite
def small_games(draw, elements=None, dtype=np.int64):
    elements = st.integers(-2, 2) if elements is None else elements
    players = draw(st.integers(1, 3))
    shape = tuple(draw(st.lists(st.integers(1, 3), min_size=players, max_size=players)))
    payoffs = draw(arrays(dtype, (players, *shape), elements=elements))
    return payoffs


@FAST
@given(small_games())
def test_returned_set_equals_brute_force(payoffs):
    game = NormalFormGame(payoffs)
    result = pure_equilibria(game)
    assert result.extra["profiles"] == brute_force_pure(payoffs)
    for equilibrium in result.equilibria:
        assert exact_regret(game, equilibrium.strategies_exact) == 0
    assert [e.payoffs_exact for e in pure_equilibria_gen(game)] == \
        [e.payoffs_exact for e in result.equilibria]


@FAST
@given(small_games(elements=st.floats(-1, 1, allow_nan=False, width=32), dtype=np.float32))
def test_float_games_equal_brute_force(payoffs):
    game = NormalFormGame(payoffs.astype(float))
    result = pure_equilibria(game)
    assert result.extra["profiles"] == brute_force_pure(payoffs.astype(float))
    assert all(e.regret == 0.0 for e in result.equilibria)


def test_slabs_give_the_same_answer(monkeypatch):
    rng = np.random.default_rng(3)
    payoffs = rng.integers(0, 3, size=(3, 6, 5, 4))
    game = NormalFormGame(payoffs)
    whole = pure_equilibria(game).extra["profiles"]
    monkeypatch.setattr(pure_module, "SLAB_ENTRIES", 7)  # one player-0 action per slab
    assert pure_equilibria(game).extra["profiles"] == whole == brute_force_pure(payoffs)


def test_larger_game_is_vectorised():
    rng = np.random.default_rng(4)
    payoffs = rng.standard_normal((4, 12, 12, 12, 12))
    result = pure_equilibria(NormalFormGame(payoffs))
    for profile in result.extra["profiles"]:
        for i in range(4):
            others = list(profile)
            others[i] = slice(None)
            assert payoffs[(i, *profile)] >= payoffs[(i, *others)].max()


def test_float_certificate_is_a_rigorous_upper_bound_on_the_exact_duality_gap():
    # Truth: the duality gap max_i (A y)_i - min_j (x^T A)_j of the returned floats, computed in
    # exact rational arithmetic (every float is a rational); it bounds both regrets.
    rng = np.random.default_rng(3)
    matrix = rng.standard_normal((30, 40))
    result = zero_sum_lp(NormalFormGame.zero_sum(matrix))
    assert not result.exact
    x, y = result.equilibria[0].strategies
    xs = [Fraction(float(v)) for v in x]
    ys = [Fraction(float(v)) for v in y]
    exact_a = [[Fraction(float(v)) for v in row] for row in matrix]
    sx, sy = sum(xs), sum(ys)
    conceded = max(sum(a * b for a, b in zip(row, ys)) for row in exact_a) / sy
    guaranteed = min(sum(exact_a[i][j] * xs[i] for i in range(30)) for j in range(40)) / sx
    gap = conceded - guaranteed
    bound = result.extra["regret_bound"]
    assert 0 <= gap <= Fraction(bound) and bound < 1e-8
    assert result.equilibria[0].regret == bound


def test_large_integer_game_exact_when_supports_are_small():
    # A 60x60 integer game with a saddle point planted at (0, 0): its value is exactly A[0, 0]
    # (a pure saddle point: row 0's minimum equals column 0's maximum).
    rng = np.random.default_rng(5)
    matrix = rng.integers(-5, 6, size=(60, 60))
    matrix[0, :] = np.maximum(matrix[0, :], 6)
    matrix[:, 0] = np.minimum(matrix[:, 0], 6)
    matrix[0, 0] = 6
    result = zero_sum_lp(NormalFormGame.zero_sum(matrix))
    assert result.exact and result.extra["value_exact"] == 6
