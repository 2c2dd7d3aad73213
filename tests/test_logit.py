"""Tests of the logit QRE path (logit_solve, logit_qre) and the global Newton method."""

from __future__ import annotations

import itertools
import json
import os
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gametools import NormalFormGame
from gametools.errors import InvalidArgumentError
from gametools.solvers.global_newton import global_newton
from gametools.solvers.logit import logit_qre, logit_solve
from gametools.solvers.result import exact_regret, max_regret

SHARED = Path(os.environ.get("GAMETOOLS_SHARED", Path(__file__).resolve().parents[2] / "shared"))
GAMBIT = SHARED / "fixtures" / "gambit"

# Matching pennies and rock-paper-scissors: unique equilibrium, uniform (textbook).
PENNIES = NormalFormGame.zero_sum([[1, -1], [-1, 1]])
RPS = NormalFormGame.zero_sum([[0, -1, 1], [1, 0, -1], [-1, 1, 0]])
# von Stengel's 3x2 game, equilibria from REFERENCES.md (nashpy / QuantEcon docs).
STENGEL = NormalFormGame.from_bimatrix([[3, 3], [2, 5], [0, 6]], [[3, 2], [2, 6], [3, 1]])
STENGEL_EQUILIBRIA = [
    ([1, 0, 0], [1, 0]),
    ([Fraction(4, 5), Fraction(1, 5), 0], [Fraction(2, 3), Fraction(1, 3)]),
    ([0, Fraction(1, 3), Fraction(2, 3)], [Fraction(1, 3), Fraction(2, 3)]),
]
# Battle of the sexes, hand-solved: two pure equilibria and the mixed one where the row player
# is indifferent (2 q = 1 - q, q = 1/3) and the column player too (p = 2 (1 - p), p = 2/3).
SEXES = NormalFormGame.from_bimatrix([[2, 0], [0, 1]], [[1, 0], [0, 2]])
SEXES_EQUILIBRIA = [([1, 0], [1, 0]), ([0, 1], [0, 1]),
                    ([Fraction(2, 3), Fraction(1, 3)], [Fraction(1, 3), Fraction(2, 3)])]


def _close_to_one_of(strategies, equilibria, atol):
    return any(all(np.allclose(np.asarray(x, dtype=float), np.asarray(e, dtype=float), atol=atol)
                   for x, e in zip(strategies, eq)) for eq in equilibria)


def _gaussian_game(seed: int, shape: tuple[int, ...]) -> NormalFormGame:
    rng = np.random.default_rng(seed)
    return NormalFormGame(rng.standard_normal((len(shape), *shape)))


def _softmax(values: np.ndarray) -> np.ndarray:
    weights = np.exp(values - values.max())
    return weights / weights.sum()


def _action_payoffs(payoffs: np.ndarray, profile, player: int) -> np.ndarray:
    # Independent of the library: contract every other player's axis with her strategy.
    tensor = payoffs[player]
    for j in reversed(range(len(profile))):
        if j != player:
            tensor = np.tensordot(tensor, profile[j], axes=([j], [0]))
    return tensor


# --------------------------------------------------------------------------------- logit_solve

@pytest.mark.parametrize("game", [PENNIES, RPS], ids=["pennies", "rps"])
def test_logit_zero_sum_classics_reach_uniform(game):
    result = logit_solve(game)
    assert result.status == "success"
    for x, n in zip(result.equilibria[0].strategies, game.num_actions):
        np.testing.assert_allclose(x, np.full(n, 1.0 / n), atol=1e-9)
    assert result.max_regret <= 1e-8


@pytest.mark.parametrize("game, known", [(STENGEL, STENGEL_EQUILIBRIA),
                                         (SEXES, SEXES_EQUILIBRIA)], ids=["stengel", "sexes"])
def test_logit_reaches_a_known_equilibrium(game, known):
    result = logit_solve(game)
    assert result.status == "success"
    assert result.max_regret <= 1e-8
    assert _close_to_one_of(result.equilibria[0].strategies, known, atol=1e-8)
    assert result.extra["steps"] > 0 and result.extra["lambda"] > 0


def test_logit_polish_agrees_with_the_bare_path():
    # The polish must select the limit of the branch, not another equilibrium near it: compare
    # with the path followed (without polish) until its own regret is small.
    for seed in range(4):
        game = _gaussian_game(seed, (4, 4, 4))
        polished = logit_solve(game)
        bare = logit_solve(game, polish=False, max_regret=1e-6)
        assert polished.status == bare.status == "success"
        assert not bare.extra["polished"]
        distance = max(float(np.abs(a - b).max()) for a, b in zip(
            polished.equilibria[0].strategies, bare.equilibria[0].strategies))
        assert distance <= 1e-3


def test_logit_three_players_ten_actions():
    game = _gaussian_game(2024, (10, 10, 10))
    result = logit_solve(game)
    assert result.status == "success"
    assert max_regret(game, result.equilibria[0].strategies) <= 1e-8


def test_logit_budget_exhausted_is_a_status_not_an_exception():
    game = _gaussian_game(3, (5, 5, 5))
    result = logit_solve(game, max_steps=3)
    assert result.status == "failed"
    assert result.max_regret > 1e-8
    assert len(result.equilibria) == 1   # the last point, certified by its (large) regret


def test_logit_return_path_records_the_branch():
    result = logit_solve(STENGEL, return_path=True)
    path = result.extra["path"]
    assert path["lambda"][0] == 0.0
    np.testing.assert_allclose(path["strategies"][0][0], np.full(3, 1 / 3))
    assert len(path["lambda"]) == result.extra["steps"] + 1
    for strategies in path["strategies"]:
        np.testing.assert_allclose(strategies.sum(axis=1), 1.0, atol=1e-6)


def test_logit_is_deterministic():
    game = _gaussian_game(5, (3, 4, 3))
    first, second = logit_solve(game), logit_solve(game)
    for a, b in zip(first.equilibria[0].strategies, second.equilibria[0].strategies):
        np.testing.assert_array_equal(a, b)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1),
       shape=st.lists(st.integers(2, 4), min_size=2, max_size=3).map(tuple))
def test_logit_random_games_reach_tolerance(seed, shape):
    game = _gaussian_game(seed, shape)
    result = logit_solve(game)
    assert result.status == "success"
    assert max_regret(game, result.equilibria[0].strategies) <= 1e-8


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), scale=st.floats(0.1, 100.0),
       shift=st.floats(-50.0, 50.0))
def test_logit_invariant_under_affine_payoff_changes_and_permutations(seed, scale, shift):
    game = _gaussian_game(seed, (3, 3, 2))
    reference = logit_solve(game).equilibria[0].strategies
    moved = logit_solve(NormalFormGame(game.payoffs * scale + shift)).equilibria[0].strategies
    for a, b in zip(reference, moved):
        np.testing.assert_allclose(a, b, atol=1e-7)
    # Reversing player 0's actions permutes the branch, so its limit is permuted too.
    flipped = logit_solve(NormalFormGame(game.payoffs[:, ::-1])).equilibria[0].strategies
    np.testing.assert_allclose(flipped[0][::-1], reference[0], atol=1e-7)
    np.testing.assert_allclose(flipped[1], reference[1], atol=1e-7)


def test_logit_invalid_options():
    with pytest.raises(InvalidArgumentError, match="max_regret"):
        logit_solve(PENNIES, max_regret=0.0)
    with pytest.raises(ValueError, match="max_accel"):
        logit_solve(PENNIES, max_accel=1.0)
    with pytest.raises(TypeError):
        logit_solve([[1, 0], [0, 1]])
    with pytest.raises(InvalidArgumentError, match="lam"):
        logit_qre(PENNIES, -1.0)


# ----------------------------------------------------------------------------------- logit_qre

def test_qre_at_zero_is_uniform():
    for game in (STENGEL, _gaussian_game(1, (2, 3, 4))):
        result = logit_qre(game, 0.0)
        assert result.status == "success"
        for x, n in zip(result.equilibria[0].strategies, game.num_actions):
            np.testing.assert_array_equal(x, np.full(n, 1.0 / n))


@pytest.mark.parametrize("game, lam", [
    (SEXES, 0.7), (SEXES, 5.0), (STENGEL, 1.3),
    (NormalFormGame.from_bimatrix([[4.0, -1.0], [0.5, 2.0]], [[-2.0, 3.0], [1.0, 0.25]]), 2.5),
    (_gaussian_game(7, (2, 2, 2)), 3.0),
])
def test_qre_satisfies_the_logit_fixed_point_equations(game, lam):
    result = logit_qre(game, lam)
    assert result.status == "success"
    profile = result.equilibria[0].strategies
    payoffs = np.asarray(game.payoffs)
    for i, x in enumerate(profile):
        expected = _softmax(lam * _action_payoffs(payoffs, profile, i))
        np.testing.assert_allclose(x, expected, rtol=0, atol=1e-10)
    assert result.extra["lambda"] == lam


def test_qre_moves_towards_the_logit_solution():
    # Along the (monotone, here) principal branch the regret of the QRE falls with lambda.
    regrets = [logit_qre(STENGEL, lam).max_regret for lam in (0.5, 2.0, 8.0, 32.0)]
    assert all(b < a for a, b in itertools.pairwise(regrets))


# ------------------------------------------------------------------------------ Gambit fixtures

def _gambit_cases():
    if not (GAMBIT / "expected.json").exists():
        return []
    expected = json.loads((GAMBIT / "expected.json").read_text())
    return [case for case in expected if case["file"].startswith("t")]


def _read_fixture(name: str) -> NormalFormGame:
    from gametools.formats.nfg import read_nfg
    return NormalFormGame(read_nfg(GAMBIT / name).payoffs)


@pytest.mark.skipif(not (GAMBIT / "expected.json").exists(),
                    reason="shared Gambit fixtures not found (set GAMETOOLS_SHARED)")
@pytest.mark.parametrize("case", _gambit_cases(), ids=lambda c: c["file"])
def test_three_player_fixtures_match_gambit(case):
    # Expected: Gambit 16.7.0 enumpoly_solve's isolated equilibria (expected.json).
    game = _read_fixture(case["file"])
    for result in (logit_solve(game), global_newton(game, max_equilibria=3)):
        assert result.status == "success"
        for equilibrium in result.equilibria:
            assert equilibrium.regret <= 1e-8
            assert _close_to_one_of(equilibrium.strategies, case["equilibria"], atol=1e-6) \
                or _on_t5_component(game, case["file"], equilibrium.strategies)


def _on_t5_component(game, name, strategies):
    """t5 is degenerate: with players 1 and 3 at (A2, A1) player 2 gets -9 whatever she plays
    (payoffs[1][1, :, 0] in the file), so Gambit's isolated point ((0,1), (0,1), (1,0)) lies on
    a segment of equilibria that enumpoly does not list. A point of it is accepted when its
    rational rounding has exact regret 0 (certified in exact arithmetic, not by the solver)."""
    if name != "t5_2x2x2.nfg" or not (np.allclose(strategies[0], [0, 1], atol=1e-9)
                                       and np.allclose(strategies[2], [1, 0], atol=1e-9)):
        return False
    assert len(set(game.payoffs_exact[1][1, :, 0])) == 1
    q = Fraction(float(strategies[1][0])).limit_denominator(10**6)
    return exact_regret(game, [(0, 1), (q, 1 - q), (1, 0)]) == 0


# ------------------------------------------------------------------------------- global Newton

def test_global_newton_finds_all_three_stengel_equilibria():
    result = global_newton(STENGEL, max_equilibria=5)
    assert result.status == "success"
    assert len(result.equilibria) == 3
    for known in STENGEL_EQUILIBRIA:
        assert _close_to_one_of(known, [e.strategies for e in result.equilibria], atol=1e-9)


@pytest.mark.parametrize("game, known", [(PENNIES, [([0.5, 0.5], [0.5, 0.5])]),
                                         (SEXES, SEXES_EQUILIBRIA),
                                         (STENGEL, STENGEL_EQUILIBRIA)],
                         ids=["pennies", "sexes", "stengel"])
def test_global_newton_known_games(game, known):
    result = global_newton(game)
    assert result.status == "success"
    assert result.max_regret <= 1e-8
    assert _close_to_one_of(result.equilibria[0].strategies, known, atol=1e-8)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1),
       shape=st.lists(st.integers(2, 4), min_size=2, max_size=3).map(tuple),
       rng=st.integers(0, 1000))
def test_global_newton_random_games_reach_tolerance(seed, shape, rng):
    game = _gaussian_game(seed, shape)
    result = global_newton(game, rng=rng)
    assert result.status == "success"
    for equilibrium in result.equilibria:
        assert max_regret(game, equilibrium.strategies) <= 1e-8


def test_global_newton_is_reproducible_and_validates():
    game = _gaussian_game(11, (4, 3, 3))
    first, second = global_newton(game, rng=3), global_newton(game, rng=3)
    for a, b in zip(first.equilibria[0].strategies, second.equilibria[0].strategies):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(InvalidArgumentError, match="start"):
        global_newton(game, start=[0, 0])
    with pytest.raises(InvalidArgumentError, match="perturbation"):
        global_newton(game, perturbation=0.7)
