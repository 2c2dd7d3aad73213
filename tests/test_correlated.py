"""Tests for gametools.solvers.correlated (CE / CCE by linear programming)."""

from __future__ import annotations

import itertools
import json
from fractions import Fraction

import numpy as np
import pytest
import scipy.optimize
from hypothesis import given, settings
from hypothesis import strategies as st

from gametools import GametoolsError, NormalFormGame, PolicyValidationError
from gametools.solvers.correlated import (
    correlated_equilibrium,
    correlated_violation,
    incentive_constraints,
)
from gametools.solvers.result import SolverResult

TOL = 1e-9

# Chicken as in Aumann (1974) / Wikipedia "Correlated equilibrium": (C,C) = (6,6), (C,D) = (2,7),
# (D,C) = (7,2), (D,D) = (0,0); action 0 = C (swerve), 1 = D (dare).
CHICKEN = NormalFormGame.from_bimatrix([[6, 2], [7, 0]], [[6, 7], [2, 0]])
RPS = NormalFormGame.zero_sum([[0, -1, 1], [1, 0, -1], [-1, 1, 0]])
# von Stengel's 3x2 game (nashpy and QuantEcon docs; REFERENCES.md): three equilibria.
VON_STENGEL = NormalFormGame.from_bimatrix([[3, 3], [2, 5], [0, 6]], [[3, 2], [2, 6], [3, 1]])
VON_STENGEL_EQUILIBRIA = [
    ((1, 0, 0), (1, 0)),
    ((Fraction(4, 5), Fraction(1, 5), 0), (Fraction(2, 3), Fraction(1, 3))),
    ((0, Fraction(1, 3), Fraction(2, 3)), (Fraction(1, 3), Fraction(2, 3))),
]
# Battle of the sexes: pure (0,0), (1,1) and mixed ((2/3,1/3), (1/3,2/3)) (solved by hand:
# column indifferent when 1*p = 2*(1-p), row when 2q = 1 - q).
BATTLE = NormalFormGame.from_bimatrix([[2, 0], [0, 1]], [[1, 0], [0, 2]])
BATTLE_EQUILIBRIA = [((1, 0), (1, 0)), ((0, 1), (0, 1)),
                     ((Fraction(2, 3), Fraction(1, 3)), (Fraction(1, 3), Fraction(2, 3)))]


def _jordan_game() -> NormalFormGame:
    """Jordan's (1993) 3-player matching pennies: 1 matches 2, 2 matches 3, 3 mismatches 1.

    Its unique Nash equilibrium is every player uniform (each player is indifferent exactly when
    the player they react to is uniform).
    """
    payoffs = np.zeros((3, 2, 2, 2), dtype=int)
    for a in itertools.product(range(2), repeat=3):
        payoffs[(0, *a)] = 1 if a[0] == a[1] else -1
        payoffs[(1, *a)] = 1 if a[1] == a[2] else -1
        payoffs[(2, *a)] = 1 if a[2] != a[0] else -1
    return NormalFormGame(payoffs)


def _product(strategies) -> np.ndarray:
    out = np.ones(())
    for x in strategies:
        out = np.multiply.outer(out, np.array([float(v) for v in x]))
    return out


def _reference_gains(payoffs: np.ndarray, mu: np.ndarray, coarse: bool) -> list:
    """The CE / CCE deviation gains straight from the definitions, by loops (independent code).

    ``payoffs`` may be a float array or an object array of Fractions (then gains are exact).
    """
    gains = []
    shape = payoffs.shape[1:]
    for i, n in enumerate(shape):
        if coarse:  # one row per fixed deviation a'
            gains.extend(_gain(payoffs, mu, i, d, None) for d in range(n))
        else:  # rows ordered by (recommended a, deviation a'), a != a'
            gains.extend(_gain(payoffs, mu, i, d, r) for r in range(n) for d in range(n) if d != r)
    return gains


def _gain(payoffs: np.ndarray, mu: np.ndarray, i: int, deviation: int,
          recommended: int | None) -> object:
    u = payoffs[i]
    return sum(mu[a] * (u[a[:i] + (deviation,) + a[i + 1:]] - u[a])
               for a in itertools.product(*(range(n) for n in payoffs.shape[1:]))
               if recommended is None or a[i] == recommended)


def _pure_equilibria(game: NormalFormGame) -> list[tuple[int, ...]]:
    out = []
    for a in itertools.product(*(range(n) for n in game.num_actions)):
        if all(game.payoffs[i][a] >= game.payoffs[i][a[:i] + (slice(None),) + a[i + 1:]].max()
               for i in range(game.num_players)):
            out.append(a)
    return out


def _maximin_value(matrix: np.ndarray) -> float:
    """Row player's value of a zero-sum game by the textbook LP max v s.t. x^T A >= v."""
    m, n = matrix.shape
    cost = np.zeros(m + 1)
    cost[-1] = -1.0
    a_ub = np.hstack([-matrix.T, np.ones((n, 1))])
    a_eq = np.hstack([np.ones((1, m)), np.zeros((1, 1))])
    res = scipy.optimize.linprog(cost, A_ub=a_ub, b_ub=np.zeros(n), A_eq=a_eq, b_eq=[1.0],
                                 bounds=[(0, None)] * m + [(None, None)], method="highs")
    return float(-res.fun)


games_strategy = st.integers(1, 3).flatmap(lambda n: st.tuples(
    st.lists(st.integers(1, 3), min_size=n, max_size=n), st.integers(0, 2**32 - 1)))


def _random_game(spec, *, integer: bool) -> NormalFormGame:
    shape, seed = spec
    rng = np.random.default_rng(seed)
    size = (len(shape), *shape)
    return NormalFormGame(rng.integers(-5, 6, size=size) if integer else rng.normal(size=size))


# ----------------------------------------------------------------------------------------------
# known games
# ----------------------------------------------------------------------------------------------

def test_chicken_welfare_maximising_ce():
    # Expected: mu(C,C) = 1/2, mu(C,D) = mu(D,C) = 1/4, welfare 10.5, 5.25 each (Aumann 1974;
    # Wikipedia "Correlated equilibrium", Chicken example). Hand check of the incentive
    # constraints (unconditional form): row told C: 6 mu_CC + 2 mu_CD >= 7 mu_CC, i.e.
    # 2 mu_CD >= mu_CC (1/2 >= 1/2, tight); row told D: 7 mu_DC + 0 mu_DD >= 6 mu_DC + 2 mu_DD,
    # i.e. mu_DC >= 2 mu_DD (1/4 >= 0); column symmetric. Optimality: welfare = 12 mu_CC +
    # 9 (mu_CD + mu_DC) + 0 mu_DD = 9 + 3 mu_CC - 9 mu_DD, and mu_CC <= 2 mu_CD, mu_CC <= 2 mu_DC
    # with the sum 1 give mu_CC <= 1/2, so the maximum 10.5 is attained only at this point.
    result = correlated_equilibrium(CHICKEN)
    assert isinstance(result, SolverResult) and result.success and result.exact
    assert result.equilibria == ()
    half, quarter = Fraction(1, 2), Fraction(1, 4)
    assert result.correlated.distribution_exact == [[half, quarter], [quarter, 0]]
    assert result.correlated.payoffs_exact == (Fraction(21, 4), Fraction(21, 4))
    assert result.correlated.welfare == pytest.approx(10.5, abs=1e-12)
    np.testing.assert_allclose(result.correlated.distribution, [[0.5, 0.25], [0.25, 0.0]],
                               atol=1e-12)
    np.testing.assert_allclose(result.correlated.marginals[0], [0.75, 0.25], atol=1e-12)
    assert result.correlated.max_violation <= TOL
    # The row constraint "told C, deviate to D" is tight; perturbing towards (C,C) breaks it.
    assert correlated_violation(CHICKEN, [[0.6, 0.2], [0.2, 0.0]]) > 1e-3


def test_chicken_weighted_objective_and_feasibility():
    # Weights (1, 0): player 1's best CE payoff is 7, at the pure Nash equilibrium (D, C)
    # (7 is player 1's largest payoff in the game, so nothing can do better).
    best_for_row = correlated_equilibrium(CHICKEN, objective=[1.0, 0.0])
    assert best_for_row.success
    assert best_for_row.correlated.payoffs[0] == pytest.approx(7.0, abs=1e-9)
    assert best_for_row.correlated.objective_value == pytest.approx(7.0, abs=1e-9)
    feasible = correlated_equilibrium(CHICKEN, objective="feasibility")
    assert feasible.success and feasible.correlated.max_violation <= TOL
    assert feasible.correlated.welfare <= 10.5 + 1e-9


def test_result_is_json_serialisable():
    document = correlated_equilibrium(CHICKEN).to_dict()
    text = json.dumps(document)
    assert json.loads(text)["correlated"]["distribution_exact"] == [["1/2", "1/4"], ["1/4", "0"]]
    assert document["equilibria"] == [] and document["method"] == "ce"  # its METHODS key


@pytest.mark.parametrize("game, equilibria", [(VON_STENGEL, VON_STENGEL_EQUILIBRIA),
                                              (BATTLE, BATTLE_EQUILIBRIA),
                                              (_jordan_game(), [((Fraction(1, 2),) * 2,) * 3])])
def test_nash_products_are_correlated_equilibria(game, equilibria):
    for strategies in equilibria:
        mu = _product(strategies)
        assert correlated_violation(game, mu) <= 1e-12
        assert correlated_violation(game, mu, coarse=True) <= 1e-12
        constraints = incentive_constraints(game)
        assert (constraints @ mu.ravel()).max() <= 1e-12 * game.payoff_range()


def test_non_equilibrium_product_is_detected():
    # von Stengel: ((1,0,0), (0,1)) is no equilibrium; the row player gains 6 - 3 = 3 by playing
    # the third row against the second column (range 6 - 0 = 6, so violation 1/2).
    mu = _product(((1, 0, 0), (0, 1)))
    assert correlated_violation(VON_STENGEL, mu) == pytest.approx(0.5)
    assert correlated_violation(VON_STENGEL, mu, coarse=True) == pytest.approx(0.5)


def test_rps_off_diagonal_is_cce_but_not_ce():
    # Uniform over the six non-tie outcomes of rock-paper-scissors (cf. Roughgarden, "Twenty
    # Lectures on Algorithmic Game Theory", lecture 13). Marginals are uniform, so committing
    # to any fixed action earns 0, the same as obeying (3 wins, 3 losses): a CCE. Told "rock",
    # the row player knows the column plays paper or scissors with 1/2 each: rock earns 0,
    # scissors earns (1 + 0)/2, so the unconditional gain is 1/3 * 1/2 = 1/6; range 2 -> 1/12.
    mu = (1 - np.eye(3)) / 6
    assert correlated_violation(RPS, mu, coarse=True) <= 1e-15
    assert correlated_violation(RPS, mu) == pytest.approx(1 / 12)


def test_every_ce_found_is_a_cce_and_cce_welfare_dominates():
    rng = np.random.default_rng(7)
    for _ in range(20):
        game = NormalFormGame(rng.integers(-5, 6, size=(2, 3, 3)))
        ce = correlated_equilibrium(game)
        cce = correlated_equilibrium(game, coarse=True)
        assert ce.success and cce.success
        assert correlated_violation(game, ce.correlated.distribution, coarse=True) <= TOL
        assert cce.correlated.welfare >= ce.correlated.welfare - 1e-9 * game.payoff_range()


def test_two_action_games_ce_equals_cce():
    # With two actions per player, the CCE constraint for a' is the single CE constraint
    # (other action -> a'), so both LPs have the same optimal welfare.
    rng = np.random.default_rng(11)
    for num_players in (2, 3):
        for _ in range(5):
            game = NormalFormGame(rng.normal(size=(num_players,) + (2,) * num_players))
            ce, cce = correlated_equilibrium(game), correlated_equilibrium(game, coarse=True)
            assert ce.correlated.welfare == pytest.approx(cce.correlated.welfare, abs=1e-9)


@pytest.mark.parametrize("coarse", [False, True])
def test_rps_value(coarse):
    # Zero-sum: every CCE (hence CE) gives each player the game value, 0 for RPS.
    for objective in ("welfare", [1.0, 0.0], [0.0, 1.0]):
        result = correlated_equilibrium(RPS, objective=objective, coarse=coarse)
        assert result.success
        np.testing.assert_allclose(result.correlated.payoffs, [0.0, 0.0], atol=1e-9)
        assert result.correlated.welfare == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("coarse", [False, True])
def test_zero_sum_value_nonzero(coarse):
    # [[3, -1], [-2, 1]] has no saddle point; by hand the row mixes (3/7, 4/7), the column
    # (2/7, 5/7) and the value is 1/7. Maximising either player's payoff gives the value.
    game = NormalFormGame.zero_sum([[3, -1], [-2, 1]])
    for objective in ([1.0, 0.0], [0.0, 1.0]):
        payoffs = correlated_equilibrium(game, objective=objective, coarse=coarse).correlated.payoffs
        np.testing.assert_allclose(payoffs, [1 / 7, -1 / 7], atol=1e-9)


def test_three_player_ce():
    game = _jordan_game()
    for coarse in (False, True):
        result = correlated_equilibrium(game, coarse=coarse)
        assert result.success and result.correlated.max_violation <= TOL
        mu = result.correlated.distribution
        assert mu.shape == (2, 2, 2)
        gains = _reference_gains(game.payoffs, mu, coarse)
        assert max(gains) <= TOL * game.payoff_range()
        assert result.correlated.welfare == pytest.approx(1.0, abs=1e-9)


def test_jordan_game_max_welfare_by_hand():
    # Hand derivation for the welfare-maximising (C)CE value 1 of Jordan's game. The three
    # wishes (1 matches 2, 2 matches 3, 3 mismatches 1) can never all hold (the number of
    # mismatched pairs is even), so every outcome has welfare <= 1: +1 when exactly one wish
    # fails, -3 on the two outcomes a1 == a3 != a2. Uniform on the other six outcomes is a CE:
    # e.g. player 1 told 0 sees (0,0,0), (0,0,1), (0,1,1), so player 2 matches with
    # probability 2/3 (obeying: +1/3, deviating: -1/3); the other players' cases are
    # symmetric. Its welfare 1 meets the bound. (The uniform Nash equilibrium has welfare 0.)
    game = _jordan_game()
    mu = np.zeros((2, 2, 2))
    for a in itertools.product(range(2), repeat=3):
        if not (a[0] == a[2] != a[1]):
            mu[a] = 1 / 6
    assert correlated_violation(game, mu) == 0.0
    assert float((game.payoffs.sum(axis=0) * mu).sum()) == pytest.approx(1.0)
    assert correlated_equilibrium(game).correlated.welfare == pytest.approx(1.0, abs=1e-9)


def test_incentive_constraints_match_definition():
    rng = np.random.default_rng(3)
    for shape in [(3,), (2, 3), (3, 2, 2), (2, 2, 1, 3)]:
        game = NormalFormGame(rng.normal(size=(len(shape), *shape)))
        mu = rng.dirichlet(np.ones(int(np.prod(shape)))).reshape(shape)
        for coarse in (False, True):
            reference = np.array(_reference_gains(game.payoffs, mu, coarse))
            np.testing.assert_allclose(incentive_constraints(game, coarse=coarse) @ mu.ravel(),
                                       reference, atol=1e-12)
            assert correlated_violation(game, mu, coarse=coarse) == pytest.approx(
                max(0.0, reference.max()) / game.payoff_range(), abs=1e-12)


def test_accepts_nashpy_game():
    nashpy = pytest.importorskip("nashpy")
    result = correlated_equilibrium(nashpy.Game([[6, 2], [7, 0]], [[6, 7], [2, 0]]))
    assert result.correlated.welfare == pytest.approx(10.5, abs=1e-9)


# ----------------------------------------------------------------------------------------------
# invalid input
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("objective", ["welfares", "max", [1.0], [[1.0, 1.0]], [1.0, np.nan]])
def test_bad_objective_rejected(objective):
    with pytest.raises(ValueError, match="objective") as info:
        correlated_equilibrium(CHICKEN, objective=objective)
    assert isinstance(info.value, GametoolsError)


def test_bad_distribution_rejected():
    with pytest.raises(PolicyValidationError, match="shape"):
        correlated_violation(CHICKEN, np.full((2, 3), 1 / 6))
    with pytest.raises(PolicyValidationError, match="sum to 1"):
        correlated_violation(CHICKEN, np.full((2, 2), 0.3))
    with pytest.raises(PolicyValidationError, match="non-negative"):
        correlated_violation(CHICKEN, [[1.5, -0.5], [0.0, 0.0]])


def test_markov_game_rejected():
    with pytest.raises(TypeError, match="NormalFormGame"):
        correlated_equilibrium(CHICKEN.to_markov_game())


# ----------------------------------------------------------------------------------------------
# properties
# ----------------------------------------------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(spec=games_strategy, integer=st.booleans(), coarse=st.booleans())
def test_lp_solution_is_certified_and_beats_pure_equilibria(spec, integer, coarse):
    game = _random_game(spec, integer=integer)
    result = correlated_equilibrium(game, coarse=coarse)
    assert result.success
    mu = result.correlated.distribution
    assert mu.min() >= 0 and mu.sum() == pytest.approx(1.0, abs=1e-12)
    assert result.correlated.max_violation <= TOL
    assert max(_reference_gains(game.payoffs, mu, coarse), default=0) <= TOL * game.payoff_range()
    for a in _pure_equilibria(game):
        assert result.correlated.welfare >= game.payoffs[(slice(None), *a)].sum() - 1e-9
    if result.exact:
        exact = np.array(result.correlated.distribution_exact, dtype=object)
        assert sum(exact.ravel()) == 1 and min(exact.ravel()) >= 0
        assert max(_reference_gains(game.payoffs_exact, exact, coarse), default=0) <= 0


@settings(max_examples=30, deadline=None)
@given(spec=games_strategy, seed=st.integers(0, 2**32 - 1))
def test_ce_invariant_under_affine_payoff_changes(spec, seed):
    # Positive affine changes of each player's payoffs leave the CE polytope unchanged.
    game = _random_game(spec, integer=False)
    rng = np.random.default_rng(seed)
    scales = rng.uniform(0.1, 10.0, size=game.num_players)
    shifts = rng.normal(size=game.num_players) * 10
    changed = NormalFormGame(game.payoffs * scales.reshape((-1,) + (1,) * game.num_players)
                             + shifts.reshape((-1,) + (1,) * game.num_players))
    mu = correlated_equilibrium(game, objective="feasibility").correlated.distribution
    assert correlated_violation(changed, mu) <= 1e-8


@settings(max_examples=30, deadline=None)
@given(size=st.tuples(st.integers(1, 4), st.integers(1, 4)), seed=st.integers(0, 2**32 - 1),
       coarse=st.booleans())
def test_zero_sum_payoffs_equal_minimax_value(size, seed, coarse):
    matrix = np.random.default_rng(seed).integers(-5, 6, size=size).astype(float)
    game = NormalFormGame.zero_sum(matrix)
    value = _maximin_value(matrix)
    for objective in ([1.0, 0.0], [0.0, 1.0]):
        payoffs = correlated_equilibrium(game, objective=objective, coarse=coarse).correlated.payoffs
        assert payoffs[0] == pytest.approx(value, abs=1e-8)
