"""Tests of the learning dynamics (fictitious play, regret matching, replicator dynamics)."""

from __future__ import annotations

import numpy as np
import pytest

from gametools import NormalFormGame
from gametools.errors import InvalidArgumentError
from gametools.solvers.dynamics import fictitious_play, regret_matching, replicator_dynamics

# Matching pennies and rock-paper-scissors: unique equilibrium, uniform (textbook).
PENNIES = NormalFormGame.zero_sum([[1, -1], [-1, 1]])
RPS = NormalFormGame.zero_sum([[0, -1, 1], [1, 0, -1], [-1, 1, 0]])
# 2x2 coordination game: pure equilibria (A0, A0) and (A1, A1), mixed one at p = q = 1/3.
COORDINATION = NormalFormGame.from_bimatrix([[2, 0], [0, 1]], [[2, 0], [0, 1]])


def test_fictitious_play_on_rps_approaches_uniform():
    result = fictitious_play(RPS, iterations=5000, rng=0)
    for x in result.equilibria[0].strategies:
        np.testing.assert_allclose(x, np.full(3, 1 / 3), atol=0.02)
    assert result.max_regret <= 0.02
    assert result.status == "success"   # regret <= tol = 1e-2 by default


def test_fictitious_play_three_players_and_determinism():
    game = NormalFormGame(np.random.default_rng(0).standard_normal((3, 3, 3, 3)))
    first = fictitious_play(game, iterations=300, rng=7)
    second = fictitious_play(game, iterations=300, rng=np.random.default_rng(7))
    for a, b in zip(first.equilibria[0].strategies, second.equilibria[0].strategies):
        np.testing.assert_array_equal(a, b)
        assert a.shape == (3,) and abs(a.sum() - 1) < 1e-12


def test_regret_matching_on_pennies_averages_to_half():
    result = regret_matching(PENNIES, iterations=20000, rng=1)
    for x in result.equilibria[0].strategies:
        np.testing.assert_allclose(x, [0.5, 0.5], atol=0.02)
    # Hart and Mas-Colell: average external regret vanishes (a CCE of empirical play).
    assert result.extra["average_regret"] <= 0.02


def test_regret_matching_seeds():
    first = regret_matching(RPS, iterations=500, rng=3)
    again = regret_matching(RPS, iterations=500, rng=3)
    other = regret_matching(RPS, iterations=500, rng=4)
    for a, b in zip(first.equilibria[0].strategies, again.equilibria[0].strategies):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, b) for a, b in
               zip(first.equilibria[0].strategies, other.equilibria[0].strategies))


def _coordination_basin(p: float, q: float) -> int:
    """Which pure equilibrium the replicator flow from (p, q) reaches (hand-computed).

    With p, q the probabilities of action 0, dp/dt = p(1-p)(3q-1) and dq/dt = q(1-q)(3p-1)
    (up to the same positive factor), so (3p-1)/(p(1-p)) dp = (3q-1)/(q(1-q)) dq: the first
    integral is g(p)/g(q) with g(t) = t (1-t)^2. The saddle (1/3, 1/3) has C = 0; its stable
    manifold is the branch of g(p) = g(q) off the diagonal. For p < 1/3 < q, points with
    g(p) > g(q) lie on the side of the diagonal's upper half, the basin of (A0, A0).
    """
    g = lambda t: t * (1 - t) ** 2
    low, high = sorted((p, q))
    assert low < 1 / 3 < high
    return 0 if g(low) > g(high) else 1


@pytest.mark.parametrize("p, q", [(0.2, 0.46), (0.2, 0.52), (0.46, 0.2), (0.52, 0.2),
                                  (0.1, 0.7), (0.3, 0.36)])
def test_replicator_converges_to_the_pure_equilibrium_of_its_basin(p, q):
    # The boundary for p = 0.2 is at q = 0.48769 (root of g(q) = g(0.2) above 1/3).
    winner = _coordination_basin(p, q)
    result = replicator_dynamics(COORDINATION, x0=([p, 1 - p], [q, 1 - q]), time=100.0,
                                 steps=2000)
    expected = np.eye(2)[winner]
    for x in result.equilibria[0].strategies:
        np.testing.assert_allclose(x, expected, atol=1e-6)
    assert result.status == "success"


def test_replicator_records_trajectory_and_reports_cycles_honestly():
    x0 = ([0.5, 0.3, 0.2], [0.2, 0.5, 0.3])
    result = replicator_dynamics(RPS, x0=x0, time=20.0, steps=400, record=True)
    trajectory = result.extra["trajectory"]
    assert trajectory[0].shape == (401, 3)
    np.testing.assert_allclose(trajectory[0][0], x0[0])
    np.testing.assert_allclose(trajectory[1].sum(axis=1), 1.0, atol=1e-12)
    # Zero-sum RPS replicator orbits are closed cycles around uniform: no convergence.
    assert result.status == "failed"
    assert result.max_regret > 1e-3


def test_dynamics_validate_options():
    with pytest.raises(InvalidArgumentError, match="iterations"):
        fictitious_play(RPS, iterations=0)
    with pytest.raises(InvalidArgumentError, match="time"):
        replicator_dynamics(RPS, time=-1.0)
    with pytest.raises(ValueError):
        replicator_dynamics(RPS, x0=([1.0, 0.0], [0.5, 0.5]))
