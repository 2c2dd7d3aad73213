"""Tests of the Markov logit-QRE homotopy (gametools.solvers.homotopy).

Certificates come from code paths other than the solver's: ``gametools.nash_conv`` (exact best
responses by policy iteration), normal-form regrets of stage games, an independent Shapley value
iteration with scipy's LP below, and published values (REFERENCES.md).
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.optimize
import scipy.sparse as sp

from gametools import MarkovGame, NormalFormGame, nash_conv
from gametools.solvers.homotopy import (
    HomotopyInputError,
    _Blocks,
    _Factorization,
    _MarkovQRE,
    _MarkovTracing,
    markov_qre_homotopy,
    markov_tracing,
)
from gametools.solvers.result import max_regret, reward_range


def random_game(num_states: int, num_players: int, num_actions: int, seed: int, *,
                discount: float = 0.95, terminal: bool = False) -> MarkovGame:
    """Uniform rewards in [0, 1], dense Dirichlet(1) transitions (as sgamesolver's random games)."""
    rng = np.random.default_rng(seed)
    shape = (num_states,) + (num_actions,) * num_players
    rewards = rng.uniform(0.0, 1.0, (num_players,) + shape)
    transitions = rng.exponential(1.0, shape + (num_states,))
    terminal_mask = None
    if terminal:
        # the last state ends the episode; every other state may reach it
        terminal_mask = np.zeros(num_states, dtype=bool)
        terminal_mask[-1] = True
        transitions[..., -1] *= 0.3
    transitions /= transitions.sum(axis=-1, keepdims=True)
    return MarkovGame(transitions, rewards, np.full(num_states, 1.0 / num_states), discount,
                      terminal=terminal_mask)


def relative_nash_conv(game: MarkovGame, policies) -> float:
    return nash_conv(game, policies).nash_conv / reward_range(game)


# --------------------------------------------------------------------------------------------
# equilibria of random general-sum games, certified by the independent NashConv evaluator
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("num_states, num_players, num_actions, seed", [
    (4, 2, 2, 0), (6, 2, 3, 1), (8, 2, 4, 2), (16, 2, 3, 3), (4, 3, 2, 4), (8, 3, 3, 5),
    (12, 3, 2, 6), (16, 2, 2, 7),
])
def test_random_general_sum_games_reach_nash(num_states, num_players, num_actions, seed):
    game = random_game(num_states, num_players, num_actions, seed)
    result = markov_qre_homotopy(game)
    assert result.status == "success", result.message
    equilibrium = result.equilibria[0]
    assert relative_nash_conv(game, equilibrium.strategies) <= 1e-8
    assert equilibrium.regret <= 1e-8
    assert equilibrium.strategies[0].shape == (num_states, num_actions)
    # the reported values are the profile's values (independent linear solve)
    assert equilibrium.state_values is not None
    assert result.extra["steps"] > 0 and result.extra["lambda"] > 0


def test_terminal_states_and_sparse_transitions():
    game = random_game(6, 2, 3, 11, discount=0.9, terminal=True)
    sparse = MarkovGame(sp.csr_array(game.transitions.reshape(-1, 6)), game.rewards,
                        game.initial, game.discount, terminal=game.terminal)
    dense_result = markov_qre_homotopy(game)
    sparse_result = markov_qre_homotopy(sparse)
    for result in (dense_result, sparse_result):
        assert result.success and relative_nash_conv(game, result.equilibria[0].strategies) <= 1e-8
    for a, b in zip(dense_result.equilibria[0].strategies, sparse_result.equilibria[0].strategies):
        np.testing.assert_allclose(a[:-1], b[:-1], atol=1e-10)



def assert_matches_central_differences(system, point, jacobian):
    """The analytic Jacobian equals central finite differences (step 1e-6) of the residual."""
    numeric = np.empty_like(jacobian)
    for k in range(system.dim + 1):
        delta = np.zeros(system.dim + 1)
        delta[k] = 1e-6
        numeric[:, k] = (system.residual(point + delta) - system.residual(point - delta)) / 2e-6
    np.testing.assert_allclose(jacobian, numeric, atol=1e-6)

def test_analytic_jacobian_matches_finite_differences():
    game = random_game(3, 3, 2, 21)
    system = _MarkovQRE(game)
    rng = np.random.default_rng(0)
    point = system.start() + 0.3 * rng.normal(size=system.dim + 1)
    point[-1] = 2.5
    _, blocks = system.evaluate(point)
    jacobian = blocks.dense()
    assert_matches_central_differences(system, point, jacobian)


def test_sparse_transitions_use_the_nonzeros_and_keep_the_jacobian():
    # 2 successors per state and joint action: the transition products go through the nonzeros;
    # the chains must equal the dense contraction and the Jacobian the finite differences
    from gametools.mdp import contract_players

    rng = np.random.default_rng(5)
    game = random_game(9, 3, 2, 22)
    transitions = np.array(game.transitions)
    keep = rng.random(transitions.shape).argsort(axis=-1).argsort(axis=-1) < 2
    transitions = np.where(keep, transitions, 0.0)
    transitions /= transitions.sum(axis=-1, keepdims=True)
    game = MarkovGame(transitions, game.rewards, game.initial, game.discount)
    system = _MarkovQRE(game)
    assert system.sparse_rows is not None
    sigmas = [rng.dirichlet(np.ones(2), size=9) for _ in range(3)]
    for i in range(3):
        np.testing.assert_allclose(system.own_chain(sigmas, i),
                                   contract_players(system.transitions, sigmas, (i,)),
                                   atol=1e-14)
    point = system.start() + 0.3 * rng.normal(size=system.dim + 1)
    point[-1] = 1.5
    jacobian = system.evaluate(point)[1].dense()
    assert_matches_central_differences(system, point, jacobian)


def test_cpu_budget_ends_the_call_loudly():
    game = random_game(8, 2, 3, 10)
    # a budget spent before the first step: no equilibrium, status failed, the budget named
    result = markov_qre_homotopy(game, cpu_seconds=1e-9)
    assert result.status == "failed" and "cpu_seconds" in result.message
    assert result.equilibria[0].regret > 1e-8
    # a generous budget changes nothing
    plain, budgeted = markov_qre_homotopy(game), markov_qre_homotopy(game, cpu_seconds=600.0)
    assert budgeted.success and budgeted.extra["steps"] == plain.extra["steps"]
    with pytest.raises(HomotopyInputError):
        markov_qre_homotopy(game, cpu_seconds=-1.0)


def test_structured_solve_agrees_with_dense_solve_with_singular_blocks():
    rng = np.random.default_rng(3)
    states, m, players = 5, 4, 2
    k = states * players
    a = rng.normal(size=(states, m, m))
    a[1, 2] = 0.0  # an exactly singular per-state block must be kept in the Schur complement
    blocks = _Blocks(a, rng.normal(size=(states, m, k)), rng.normal(size=(states, players, m)),
                     rng.normal(size=(k, k)) + 4 * np.eye(k), rng.normal(size=(states, m)))
    border = rng.normal(size=states * m + k + 1)
    matrix = np.vstack([blocks.dense(), border])
    factorization = _Factorization(blocks, border)
    assert factorization.dense
    rhs = rng.normal(size=matrix.shape[0])
    np.testing.assert_allclose(matrix @ factorization.solve(rhs), rhs, atol=1e-10)


# --------------------------------------------------------------------------------------------
# the start of the path, determinism, failure reporting
# --------------------------------------------------------------------------------------------

def test_path_starts_at_uniform_profile_with_linear_system_values():
    game = random_game(5, 2, 3, 8, discount=0.8)
    result = markov_qre_homotopy(game, return_path=True)
    path = result.extra["path"]
    assert path["lambda"][0] == 0.0
    for policies in path["policies"]:
        np.testing.assert_allclose(policies[0], np.full((5, 3), 1.0 / 3.0), atol=1e-15)
    # values of the uniform profile: (I - gamma P_uniform)^-1 r_uniform, computed here directly
    chain = game.transitions.mean(axis=(1, 2))
    rewards = game.rewards.mean(axis=(2, 3))
    expected = np.linalg.solve(np.eye(5) - 0.8 * chain, rewards.T).T
    np.testing.assert_allclose(path["values"][0], expected, rtol=1e-12)
    assert path["lambda"][1] > 0.0
    # the last recorded path point is close to the equilibrium returned
    final = [p[-1] for p in path["policies"]]
    distance = max(np.abs(a - b).max() for a, b in zip(final, result.equilibria[0].strategies))
    assert distance < 0.2


def test_deterministic():
    game = random_game(8, 2, 3, 9)
    first, second = markov_qre_homotopy(game), markov_qre_homotopy(game)
    for a, b in zip(first.equilibria[0].strategies, second.equilibria[0].strategies):
        np.testing.assert_array_equal(a, b)
    assert first.extra["steps"] == second.extra["steps"]


def test_budget_exhaustion_is_a_status_with_a_certified_point():
    game = random_game(8, 2, 3, 10)
    result = markov_qre_homotopy(game, max_iterations=3)
    assert result.status == "failed"
    assert not result.success
    equilibrium = result.equilibria[0]
    # the regret reported is the true one, far from equilibrium: never a silent non-equilibrium
    assert equilibrium.regret == pytest.approx(
        nash_conv(game, equilibrium.strategies).per_player.max() / reward_range(game))
    assert equilibrium.regret > 1e-8


def test_path_alone_without_polish():
    game = random_game(3, 2, 2, 12, discount=0.5)
    result = markov_qre_homotopy(game, polish=False, tol=1e-6)
    assert result.status == "success" and not result.extra["polished"]
    assert relative_nash_conv(game, result.equilibria[0].strategies) <= 1e-6


def test_progress_callback_and_bar(capsys):
    game = random_game(3, 2, 2, 13)
    seen = []
    markov_qre_homotopy(game, progress=lambda step, lam: seen.append((step, lam)))
    assert seen and seen[0][0] == 1 and all(lam > 0 for _, lam in seen)
    assert markov_qre_homotopy(game, progress=True).success


# --------------------------------------------------------------------------------------------
# repeated games: actions do not affect transitions, so the equilibrium is a stage equilibrium
# --------------------------------------------------------------------------------------------

def exogenous_game(stage_payoffs: np.ndarray, chain: np.ndarray, discount: float) -> MarkovGame:
    """``stage_payoffs`` (N, S, n_1, ..., n_N); ``chain`` (S, S) does not depend on actions."""
    num_states = chain.shape[0]
    action_shape = stage_payoffs.shape[2:]
    transitions = np.broadcast_to(chain.reshape((num_states,) + (1,) * len(action_shape)
                                                + (num_states,)),
                                  (num_states,) + action_shape + (num_states,))
    return MarkovGame(transitions.copy(), stage_payoffs, np.full(num_states, 1.0 / num_states),
                      discount)


def test_repeated_game_is_a_stage_equilibrium_with_linear_values():
    rng = np.random.default_rng(14)
    payoffs = rng.integers(0, 10, size=(2, 3, 3, 3)).astype(float)
    chain = np.array([[0.5, 0.3, 0.2], [0.1, 0.8, 0.1], [0.3, 0.3, 0.4]])
    game = exogenous_game(payoffs, chain, 0.9)
    result = markov_qre_homotopy(game)
    assert result.success
    policies = result.equilibria[0].strategies
    stage_rewards = np.empty((2, 3))
    for s in range(3):
        stage = NormalFormGame(payoffs[:, s])
        strategies = [policies[0][s], policies[1][s]]
        assert max_regret(stage, strategies) <= 1e-8  # a Nash equilibrium of r(s, .)
        stage_rewards[:, s] = stage.expected_payoffs(strategies)
    # V = (I - gamma P)^-1 r (REFERENCES.md, "Markov-demand Cournot": static play in each state)
    expected = np.linalg.solve(np.eye(3) - 0.9 * chain, stage_rewards.T).T
    np.testing.assert_allclose(result.equilibria[0].state_values, expected, rtol=1e-9)


def test_repeated_game_selects_the_logit_equilibrium_of_each_stage():
    logit = pytest.importorskip("gametools.solvers.logit")
    # With exogenous transitions Q_i(s, .) = r_i(s, .) + const, so the Markov QRE is the product
    # of the stage games' QREs and the path's limit is each stage game's logit solution, which
    # the normal-form logit tracer (a separate implementation) computes. Generic (Gaussian)
    # stage games: symmetric ones can put a bifurcation on the principal branch.
    rng = np.random.default_rng(15)
    payoffs = rng.normal(size=(2, 3, 3, 3))
    game = exogenous_game(payoffs, np.array([[0.6, 0.3, 0.1], [0.5, 0.5, 0.0], [0.2, 0.2, 0.6]]), 0.9)
    result = markov_qre_homotopy(game)
    assert result.success
    for s in range(3):
        expected = logit.logit_solve(NormalFormGame(payoffs[:, s]))
        assert expected.success
        for i in range(2):
            np.testing.assert_allclose(result.equilibria[0].strategies[i][s],
                                       expected.equilibria[0].strategies[i], atol=1e-7)


def test_markov_demand_cournot_matches_reference_values():
    # REFERENCES.md [C]: two firms, demand intercept 80 or 120 by the chain
    # [[0.8, 0.2], [0.3, 0.7]], marginal cost 10, discount 0.9; static Cournot in each state
    # (q = (a - c) / 3), V = (I - 0.9 P)^-1 pi = (8062.626, 9517.172). Quantities on the grid
    # k * 10/3 contain both Cournot quantities (70/3 and 110/3).
    grid = np.arange(13) * 10.0 / 3.0
    intercepts = np.array([80.0, 120.0])
    q1, q2 = grid[:, None], grid[None, :]
    price = intercepts[:, None, None] - q1[None] - q2[None] - 10.0  # price minus cost
    payoffs = np.stack([price * q1[None], price * q2[None]])
    game = exogenous_game(payoffs, np.array([[0.8, 0.2], [0.3, 0.7]]), 0.9)
    result = markov_qre_homotopy(game)
    assert result.success
    np.testing.assert_allclose(result.equilibria[0].state_values[0], [8062.626, 9517.172],
                               atol=1e-3)
    assert relative_nash_conv(game, result.equilibria[0].strategies) <= 1e-8


# --------------------------------------------------------------------------------------------
# zero-sum games reach the minimax value (independent Shapley value iteration)
# --------------------------------------------------------------------------------------------

def matrix_game_value(payoffs: np.ndarray) -> float:
    """Value of the zero-sum matrix game (row maximises) by linear programming."""
    rows, cols = payoffs.shape
    # maximise v subject to x^T A >= v, sum x = 1, x >= 0; variables (x, v)
    cost = np.zeros(rows + 1)
    cost[-1] = -1.0
    upper = np.hstack([-payoffs.T, np.ones((cols, 1))])
    equality = np.hstack([np.ones((1, rows)), np.zeros((1, 1))])
    bounds = [(0, None)] * rows + [(None, None)]
    solution = scipy.optimize.linprog(cost, A_ub=upper, b_ub=np.zeros(cols), A_eq=equality,
                                      b_eq=[1.0], bounds=bounds, method="highs")
    return float(solution.x[-1])


def shapley_values(game: MarkovGame, *, tol: float = 1e-9) -> np.ndarray:
    """Shapley's (1953) value iteration for a two-player zero-sum discounted game."""
    values = np.zeros(game.num_states)
    while True:
        new = np.array([matrix_game_value(game.rewards[0, s] + game.discount
                                          * game.transitions[s] @ values)
                        for s in range(game.num_states)])
        if np.abs(new - values).max() <= tol * (1 - game.discount):
            return new
        values = new


def test_big_match_reaches_minimax_value():
    games = pytest.importorskip("games.classic")
    game = games.big_match(discount=0.9)
    result = markov_qre_homotopy(game)
    assert result.success
    values = result.equilibria[0].state_values
    # REFERENCES.md [P]: discounted value 1/2 per step, 0.5 / (1 - discount) as a MarkovGame
    assert values[0, 0] == pytest.approx(0.5 / (1 - 0.9), abs=1e-8)
    np.testing.assert_allclose(values[0], shapley_values(game), atol=1e-7)
    # player 1 plays Top with probability (1 - delta) / (2 - delta), delta = 0.9
    assert result.equilibria[0].strategies[0][0, 0] == pytest.approx(0.1 / 1.1, abs=1e-8)
    assert result.equilibria[0].strategies[1][0, 0] == pytest.approx(0.5, abs=1e-8)


def test_two_state_zero_sum_game_reference_values():
    # REFERENCES.md [C]: discount 0.9; state 1 pays [[2, -1], [-1, 1]], matching actions stay,
    # otherwise go to state 2; state 2 pays 1/2 and returns with probability 1/2 (both actions
    # of state 2 are identical). v1 = 3.3159313831, v2 = 3.6221256771, mixing (0.387611, ...).
    transitions = np.zeros((2, 2, 2, 2))
    transitions[0, 0, 0, 0] = transitions[0, 1, 1, 0] = 1.0
    transitions[0, 0, 1, 1] = transitions[0, 1, 0, 1] = 1.0
    transitions[1, :, :, :] = 0.5
    rewards = np.zeros((2, 2, 2, 2))
    rewards[0, 0] = [[2.0, -1.0], [-1.0, 1.0]]
    rewards[0, 1] = 0.5
    rewards[1] = -rewards[0]
    game = MarkovGame(transitions, rewards, [1.0, 0.0], 0.9)
    result = markov_qre_homotopy(game)
    assert result.success
    values = result.equilibria[0].state_values[0]
    np.testing.assert_allclose(values, [3.3159313831, 3.6221256771], atol=1e-9)
    np.testing.assert_allclose(values, shapley_values(game), atol=1e-7)
    for policy in result.equilibria[0].strategies:
        np.testing.assert_allclose(policy[0], [0.387611, 0.612389], atol=1e-6)


def test_random_zero_sum_game_reaches_shapley_value():
    game = random_game(4, 2, 3, 16, discount=0.8)
    zero_sum = MarkovGame(game.transitions, np.stack([game.rewards[0], -game.rewards[0]]),
                          game.initial, game.discount)
    result = markov_qre_homotopy(zero_sum)
    assert result.success
    np.testing.assert_allclose(result.equilibria[0].state_values[0], shapley_values(zero_sum),
                               atol=1e-7)


# --------------------------------------------------------------------------------------------
# invalid inputs
# --------------------------------------------------------------------------------------------

def test_rejects_partially_observed_games():
    game = random_game(4, 2, 2, 17)
    observed = MarkovGame(game.transitions, game.rewards, game.initial, game.discount,
                          observations=[[0, 0, 1, 1], [0, 1, 2, 3]])
    with pytest.raises(HomotopyInputError, match="fully observed"):
        markov_qre_homotopy(observed)


def test_rejects_discount_one_pointing_to_backward_induction():
    transitions = np.zeros((2, 2, 2, 2))
    transitions[:, :, :, 1] = 1.0
    rewards = np.ones((2, 2, 2, 2))
    game = MarkovGame(transitions, rewards, [1.0, 0.0], 1.0, terminal=[False, True])
    with pytest.raises(HomotopyInputError, match="backward induction"):
        markov_qre_homotopy(game)


def test_rejects_other_inputs():
    with pytest.raises(TypeError, match="MarkovGame"):
        markov_qre_homotopy(NormalFormGame.zero_sum([[1, -1], [-1, 1]]))
    game = random_game(2, 2, 2, 18)
    with pytest.raises(HomotopyInputError, match="tol"):
        markov_qre_homotopy(game, tol=0.0)
    with pytest.raises(HomotopyInputError, match="max_accel"):
        markov_qre_homotopy(game, max_accel=1.0)
    with pytest.raises(HomotopyInputError, match="max_lambda"):
        markov_qre_homotopy(game, max_lambda=-1.0)


# --------------------------------------------------------------------------------------------
# the logit tracing procedure from a prior (markov_tracing)
# --------------------------------------------------------------------------------------------

def stag_hunt(discount: float = 0.9) -> MarkovGame:
    """Stag hunt repeated forever (one state that loops to itself): stag pays 4 against stag and
    0 against hare, hare pays 3 whatever the other does."""
    row = np.array([[4.0, 0.0], [3.0, 3.0]])
    return exogenous_game(np.stack([row, row.T])[:, None], np.ones((1, 1)), discount)


def test_tracing_jacobian_matches_finite_differences():
    # the lam column of the value rows is nonzero here (prior weight and smoothing move with
    # lam), unlike the QRE system's
    game = random_game(3, 3, 2, 23)
    rng = np.random.default_rng(1)
    prior = [rng.dirichlet(np.ones(2), size=3) for _ in range(3)]
    system = _MarkovTracing(game, prior, 0.3)
    start = system.start()
    assert np.abs(system.residual(start)).max() <= 1e-12  # the start solves the equations
    point = start + 0.3 * rng.normal(size=system.dim + 1)
    point[-1] = 1.7
    _, blocks = system.evaluate(point)
    assert blocks.d is not None and np.abs(blocks.d).max() > 1e-3
    assert_matches_central_differences(system, point, blocks.dense())
    # the block elimination solves the bordered system with the value rows' lam column
    border = rng.normal(size=system.dim + 1)
    rhs = rng.normal(size=system.dim + 1)
    matrix = np.vstack([blocks.dense(), border])
    factorization = _Factorization(blocks, border)
    np.testing.assert_allclose(matrix @ factorization.solve(rhs), rhs, atol=1e-10)
    assert factorization.determinant_sign() == np.sign(np.linalg.det(matrix))


@pytest.mark.parametrize("num_states, num_players, num_actions, seed", [
    (4, 2, 2, 0), (8, 2, 4, 2), (8, 3, 3, 5), (12, 3, 2, 6),
])
def test_tracing_reaches_nash_on_random_games(num_states, num_players, num_actions, seed):
    game = random_game(num_states, num_players, num_actions, seed)
    result = markov_tracing(game)
    assert result.status == "success" and result.method == "tracing", result.message
    # certified by the exact evaluator, not by the solver's own regret
    assert relative_nash_conv(game, result.equilibria[0].strategies) <= 1e-8


def test_tracing_selects_the_equilibrium_the_prior_favours():
    # Hand-solved: against the uniform prior, hare (3) beats stag (0.5 * 4 = 2), and (hare, hare)
    # is an equilibrium, so the tracing procedure stays there (the risk-dominant equilibrium);
    # against a prior putting 0.9 on stag, stag (3.6) beats hare (3) and the path stays at
    # (stag, stag). Stationary values 3 / (1 - 0.9) = 30 and 4 / (1 - 0.9) = 40.
    game = stag_hunt()
    hare = markov_tracing(game)
    assert hare.success
    for policy in hare.equilibria[0].strategies:
        np.testing.assert_allclose(policy, [[0.0, 1.0]], atol=1e-9)
    np.testing.assert_allclose(hare.equilibria[0].state_values, [[30.0], [30.0]], rtol=1e-9)
    stag = markov_tracing(game, prior=[np.array([[0.9, 0.1]])] * 2)
    assert stag.success and stag.extra["prior"] == "given"
    for policy in stag.equilibria[0].strategies:
        np.testing.assert_allclose(policy, [[1.0, 0.0]], atol=1e-9)
    np.testing.assert_allclose(stag.equilibria[0].state_values, [[40.0], [40.0]], rtol=1e-9)
    # the QRE path starts at the centroid as well and selects (hare, hare) too: a check that
    # the two methods are not trivially the same is the prior above


def test_tracing_tries_random_priors_within_the_budget():
    game = random_game(6, 2, 3, 24)
    # no budget left: failed loudly, nothing presented as certified
    empty = markov_tracing(game, cpu_seconds=1e-9)
    assert empty.status == "failed" and "cpu_seconds" in empty.message
    # one step per path: every path stops uncertified, the restarts are all tried
    capped = markov_tracing(game, max_iterations=1, restarts=2)
    assert capped.status == "failed" and capped.extra["paths"] == 3
    assert capped.extra["prior"] == "random 2"
    assert relative_nash_conv(game, capped.equilibria[0].strategies) > 1e-8


def test_tracing_rejects_bad_priors_and_options():
    game = random_game(2, 2, 2, 25)
    with pytest.raises(HomotopyInputError, match="prior"):
        markov_tracing(game, prior=[np.array([[0.5, 0.5]])] * 2)  # one row for two states
    with pytest.raises(HomotopyInputError, match="prior"):
        markov_tracing(game, prior=[np.array([[1.0, 0.0], [0.5, 0.5]])] * 2)  # an entry 0
    with pytest.raises(HomotopyInputError, match="prior"):
        markov_tracing(game, prior="uniform")
    with pytest.raises(HomotopyInputError, match="eta"):
        markov_tracing(game, eta=0.0)
    with pytest.raises(HomotopyInputError, match="restarts"):
        markov_tracing(game, restarts=-1)
