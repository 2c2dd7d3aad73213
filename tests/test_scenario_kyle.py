"""The Kyle (1985) scenario: closed forms, grid game, summaries and the torch simulator.

Expected numbers come from REFERENCES.md ("Kyle (1985) insider trading"): single auction
beta = sigma_u / sigma_v, lambda = sigma_v / (2 sigma_u), profit sigma_v sigma_u / 2, posterior
variance sigma_v^2 / 2; N = 2, 3, 4 auctions from Kyle's Theorem 2 recursion.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from games.kyle import (
    SCENARIOS,
    build,
    grid_observations,
    grids,
    kyle_recursion,
    observation_index,
    project_actions,
    reference,
    reference_profile,
    simulator,
    summarize,
    tabular_policy,
)
from games.kyle import market as kyle_market
from gametools import best_response, nash_conv, policy_values, uniform_profile
from gametools.scenarios import ScenarioError

SECOND = {"sigma_v": 2.0, "sigma_u": 0.5, "p0": 10.0}


def require_exact(result) -> None:
    """The evaluator must be exact: the market maker's no-effect action in the insider step is a
    dummy move that perfect recall ignores, so its best response is exact, not an upper bound."""
    kinds = getattr(result, "per_player_kind", (result.kind,))
    assert all(kind == "exact" for kind in kinds), kinds


# ------------------------------------------------------------------------------------------
# closed forms
# ------------------------------------------------------------------------------------------

def test_recursion_reproduces_kyle_two_auction_instance() -> None:
    # REFERENCES.md, Kyle (1985) Thm 2, Sigma_0 = sigma_u^2 = 1, N = 2 equally spaced auctions
    out = kyle_recursion(n_auctions=2)
    assert out["lambda"] == pytest.approx((0.652882, 0.588227), abs=1e-6)
    assert out["beta_dt"] == pytest.approx((0.471721, 0.850012), abs=1e-6)
    assert out["posterior_variance"] == pytest.approx((0.692021, 0.346011), abs=1e-6)
    assert out["insider_profit"] == pytest.approx(0.620555, abs=1e-6)


@pytest.mark.parametrize("n_auctions, profit, first_lambda", [
    (3, 0.687104, 0.722796),  # REFERENCES.md, N = 3
    (4, 0.730741, 0.764797),  # REFERENCES.md, N = 4
])
def test_recursion_reproduces_published_profits(n_auctions: int, profit: float,
                                                first_lambda: float) -> None:
    out = kyle_recursion(n_auctions=n_auctions)
    assert out["insider_profit"] == pytest.approx(profit, abs=1e-6)
    assert out["lambda"][0] == pytest.approx(first_lambda, abs=1e-6)
    # second-order condition lambda_n (1 - alpha_n lambda_n) > 0, alpha_n the next value-to-go
    alphas = out["alpha"][1:] + (0.0,)
    assert all(lam * (1 - a * lam) > 0 for lam, a in zip(out["lambda"], alphas))


def test_recursion_with_one_auction_and_rescaling_is_the_single_auction_formula() -> None:
    # single auction (REFERENCES.md): lambda = sigma_v / (2 sigma_u) = 2, beta = 0.25,
    # profit sigma_v sigma_u / 2 = 0.5, Var(v | y) = sigma_v^2 / 2 = 2 at sigma_v = 2, sigma_u = 0.5
    out = kyle_recursion(n_auctions=1, sigma_v=2.0, sigma_u=0.5)
    assert out["lambda"] == pytest.approx((2.0,)) and out["beta_dt"] == pytest.approx((0.25,))
    assert out["insider_profit"] == pytest.approx(0.5)
    assert out["posterior_variance"] == pytest.approx((2.0,))
    # rescaling Sigma_0: lambda scales by sigma_v, profit too (Kyle's homogeneity)
    two = kyle_recursion(n_auctions=2, sigma_v=3.0)
    assert two["lambda"] == pytest.approx(tuple(3 * x for x in (0.652882, 0.588227)), abs=1e-5)
    assert two["insider_profit"] == pytest.approx(3 * 0.620555, abs=1e-5)


def test_reference_single_auction_instances() -> None:
    # REFERENCES.md instance sigma_v = sigma_u = 1, p0 = 0
    assert reference() == pytest.approx({"beta": 1.0, "lambda": 0.5, "insider_profit": 0.5,
                                         "posterior_variance": 0.5})
    # formulas at sigma_v = 2, sigma_u = 0.5: beta 0.25, lambda 2, profit 0.5, variance 2
    assert reference(**SECOND) == pytest.approx({"beta": 0.25, "lambda": 2.0,
                                                 "insider_profit": 0.5, "posterior_variance": 2.0})


# ------------------------------------------------------------------------------------------
# the grid game
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("params", [{}, SECOND], ids=["default", "second"])
def test_projected_reference_is_an_approximate_equilibrium(params: dict) -> None:
    game = build(**params)
    profile = reference_profile(game, **params)
    result = nash_conv(game, profile)
    require_exact(result)
    uniform = nash_conv(game, uniform_profile(game)).nash_conv
    # discretisation error only: far below what the uniform profile leaves on the table
    assert result.nash_conv < 0.01 * uniform
    # the market maker's pricing error is about the posterior variance sigma_v^2 / 2
    assert result.nash_conv < 0.01 * params.get("sigma_v", 1.0) ** 2


def test_nash_conv_of_projected_reference_shrinks_with_refinement() -> None:
    values = []
    for n_values, n_prices in ((3, 5), (5, 9), (9, 17)):
        params = {"n_values": n_values, "n_prices": n_prices}
        game = build(**params)
        result = nash_conv(game, reference_profile(game, **params))
        require_exact(result)
        values.append(result.nash_conv)
    assert values[0] > values[1] > values[2]
    assert values[2] < 0.3 * values[0]


@pytest.mark.parametrize("params", [{}, SECOND], ids=["default", "second"])
def test_summary_of_projected_reference_matches_closed_form(params: dict) -> None:
    game = build(**params)
    stats = summarize(game, reference_profile(game, **params), **params)
    ref = reference(**params)
    # the value grid keeps E[v] but loses the within-bin variance (10% of sigma_v^2 at 5 bins);
    # the order lattice has step 0.5 sigma_u: tolerances are those discretisation errors
    assert stats["lambda"] == pytest.approx(ref["lambda"], rel=0.05)
    assert stats["beta"] == pytest.approx(ref["beta"], rel=0.10)
    kept = 1.0 - grids(**params).within_bin_variance / params.get("sigma_v", 1.0) ** 2
    assert stats["posterior_variance"] == pytest.approx(kept * ref["posterior_variance"], rel=0.03)
    assert stats["insider_profit"] == pytest.approx(ref["insider_profit"], rel=0.15)
    # the competitive market maker's loss is (close to) the posterior variance
    assert stats["pricing_error"] == pytest.approx(stats["posterior_variance"], rel=0.05)


def test_summary_error_shrinks_with_refinement() -> None:
    ref = reference()
    errors = []
    for params in ({"n_values": 3, "n_orders": 5, "n_flows": 9, "n_prices": 6,
                    "lattice_step": 1.0}, {}):
        game = build(**params)
        stats = summarize(game, reference_profile(game, **params), **params)
        errors.append(abs(stats["insider_profit"] - ref["insider_profit"])
                      + abs(stats["lambda"] - ref["lambda"]))
    assert errors[1] < 0.6 * errors[0]


def posterior_mean_prices(game, insider_policy, g) -> np.ndarray:
    """Grid price nearest E[v | y] per market-maker observation (computed here, by hand)."""
    k, n_x, n_y, n_p = g.sizes
    # P(v_k, y_l) = 1/K sum_j pi(x_j | v_k) P(y_l | x_j)
    joint = insider_policy[:k] @ g.flow_probabilities / k  # (K, n_y)
    mean = (g.values @ joint) / joint.sum(axis=0)
    return np.abs(g.prices[None, :] - mean[:, None]).argmin(axis=1)


@pytest.mark.parametrize("params", [{}, SECOND], ids=["default", "second"])
def test_best_responses_to_the_reference_are_close_to_linear(params: dict) -> None:
    game = build(**params)
    g = grids(**params)
    ref = reference(**params)
    profile = reference_profile(game, **params)
    # market maker against the reference insider: price nearest E[v | y]
    response = best_response(game, profile, 1)
    require_exact(response)
    ids = g.mm_level_offsets()[1] + np.arange(len(g.flows))
    chosen = response.policy[ids].argmax(axis=1)
    support = (profile[0][:len(g.values)] @ g.flow_probabilities).sum(axis=0) > 1e-12
    expected = posterior_mean_prices(game, profile[0], g)
    assert np.array_equal(chosen[support], expected[support])
    stats = summarize(game, (profile[0], response.policy), **params)
    assert stats["lambda"] == pytest.approx(ref["lambda"], rel=0.06)
    # insider against the reference price rule: (close to) x = beta (v - p0)
    response = best_response(game, profile, 0)
    assert response.kind == "exact"
    stats = summarize(game, (response.policy, profile[1]), **params)
    assert stats["beta"] == pytest.approx(ref["beta"], rel=0.10)


def test_two_auctions_on_a_small_grid() -> None:
    params = {"n_auctions": 2, "n_values": 3, "n_orders": 5, "n_flows": 7, "n_prices": 7,
              "lattice_step": 0.8}
    game = build(**params)
    profile = reference_profile(game, **params)
    stats = summarize(game, profile, **params)
    ref = reference(**params)
    # REFERENCES.md N = 2: lambda = (0.652882, 0.588227), beta dt = (0.471721, 0.850012)
    assert ref["lambda"] == pytest.approx((0.652882, 0.588227), abs=1e-6)
    assert len(stats["lambda"]) == 2 and len(stats["beta"]) == 2
    # three value bins and seven prices: coarse, so only the shape of the solution is checked
    assert stats["beta"][0] < stats["beta"][1]  # the insider trades more as time runs out
    assert stats["posterior_variance"][0] > stats["posterior_variance"][1]
    assert stats["lambda"] == pytest.approx(ref["lambda"], rel=0.35)
    result = nash_conv(game, profile)
    require_exact(result)
    assert result.nash_conv < 0.05 * nash_conv(game, uniform_profile(game)).nash_conv


def test_game_structure_and_rewards() -> None:
    game = build()
    g = grids()
    assert game.num_actions == (9, 11)
    assert game.num_states == 5 + 5 * 9 * 17 + 1
    assert game.initial[:5] == pytest.approx([0.2] * 5)
    assert g.values.mean() == pytest.approx(0.0, abs=1e-12)
    # equal-probability bins: node k is E[v | bin k]; the grid variance plus the within-bin
    # variance is sigma_v^2
    assert np.mean(g.values ** 2) + g.within_bin_variance == pytest.approx(1.0, abs=1e-12)
    assert g.flow_probabilities.sum(axis=1) == pytest.approx(np.ones(9), abs=1e-12)
    # the insider at value node 0 ordering the middle action (x = 0) earns nothing, and the market
    # maker's reward is minus the squared pricing error
    state = 5 + 0 * 9 * 17 + 4 * 17 + 8  # market-maker step, v bin 0, x = 0, y = 0
    assert game.rewards[0, state] == pytest.approx(np.zeros((9, 11)))
    assert game.rewards[1, state, 0] == pytest.approx(-(g.prices - g.values[0]) ** 2)
    # the uniform-profile values are finite and the game is one-shot per auction
    assert np.all(np.isfinite(policy_values(game, uniform_profile(game))))


def test_parameter_validation() -> None:
    scenario = SCENARIOS[0]
    with pytest.raises(ScenarioError, match="'n_orders' must be odd"):
        build(n_orders=8)
    with pytest.raises(ScenarioError, match="n_flows must be >= n_orders"):
        build(n_orders=9, n_flows=7)
    with pytest.raises(ScenarioError, match=r"'n_auctions' must be in \[1, 3\]"):
        scenario.build(n_auctions=4)
    with pytest.raises(ScenarioError, match="'sigma_v' must be in"):
        build(sigma_v=0.0)
    with pytest.raises(ScenarioError, match="valid parameters: sigma_v"):
        reference(lambda_=1.0)
    with pytest.raises(ScenarioError, match="above the limit"):
        build(n_auctions=3)
    assert scenario.reference is reference and scenario.summarize is summarize


# ------------------------------------------------------------------------------------------
# the continuous simulator and the maps to the grid
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("params", [{}, {"n_auctions": 2, "n_values": 3, "n_orders": 5,
                                         "n_flows": 7, "n_prices": 5}], ids=["one", "two"])
def test_observation_maps_round_trip(params: dict) -> None:
    game = build(**params)
    for player in (0, 1):
        representatives = grid_observations(game, player, **params)
        assert representatives.shape[0] == game.num_observations[player]
        ids = observation_index(game, player, representatives, **params)
        assert np.array_equal(ids, np.arange(game.num_observations[player]))


def test_project_actions_and_tabular_policy() -> None:
    game = build()
    g = grids()
    assert project_actions(game, 0, [-100.0, 0.1, 0.26, 100.0]).tolist() == [0, 4, 5, 8]
    assert project_actions(game, 1, torch.tensor([g.prices[3] + 1e-3])).tolist() == [3]
    # the linear insider x = beta (v - p0) as a continuous actor is the reference insider
    policy = tabular_policy(game, 0, lambda obs: obs[:, 0] * 1.0)
    reference_insider = reference_profile(game)[0]
    assert np.array_equal(policy[:5], reference_insider[:5])


def run_tabular(env, game, profile, params, episodes_steps: int) -> np.ndarray:
    """Total reward per episode of a tabular profile played in the simulator, ``(B, 2)``."""
    state = env.reset(seed=1)
    observations = state.observations
    totals = torch.zeros(env.num_envs, 2, dtype=torch.float64)
    g = grids(**params)
    grids_by_player = (g.orders, g.prices)
    for _ in range(episodes_steps):
        actions = []
        for player in (0, 1):
            ids = observation_index(game, player, observations[player], **params)
            chosen = profile[player][ids].argmax(axis=1)
            actions.append(torch.tensor(grids_by_player[player][chosen]))
        step = env.step(actions)
        totals += step.rewards.to(torch.float64)
        observations = step.observations
    return totals.numpy()


@pytest.mark.parametrize("params", [{}, {"n_auctions": 2, "n_values": 3, "n_orders": 5,
                                         "n_flows": 7, "n_prices": 5, **SECOND}],
                         ids=["one", "two"])
def test_simulator_agrees_with_the_tensor_game(params: dict) -> None:
    game = build(**params)
    profile = reference_profile(game, **params)
    exact = policy_values(game, profile)
    # 10^5 episodes of one auction; 3 * 10^4 of two (each step maps observations to grid ids)
    env = simulator(num_envs=100_000 if "n_auctions" not in params else 30_000, seed=0, **params)
    n_auctions = params.get("n_auctions", 1)
    totals = run_tabular(env, game, profile, params, 2 * n_auctions)
    mean, error = totals.mean(axis=0), totals.std(axis=0) / np.sqrt(len(totals))
    # v is continuous in the simulator but the policies see only its bin, and node = E[v | bin]:
    # the insider's mean reward is the game's; the market maker loses the within-bin variance too
    shift = np.array([0.0, -n_auctions * grids(**params).within_bin_variance])
    assert np.all(np.abs(mean - (exact + shift)) < 4 * error + 1e-6)


def test_simulator_interface_and_seeding() -> None:
    env = simulator(num_envs=8, seed=3, n_auctions=2, n_values=3, n_orders=5, n_flows=7,
                    n_prices=5)
    first = env.reset()
    assert [o.shape for o in first.observations] == [(8, 11), (8, 8)]
    assert first.state.shape == (8, 11)
    assert env.action_spaces[0].low == pytest.approx(grids(n_auctions=2, n_values=3, n_orders=5,
                                                           n_flows=7, n_prices=5).orders[0])
    action = (torch.zeros(8), torch.zeros(8))
    ends = [bool(env.step(action).terminated.all()) for _ in range(4)]
    assert ends == [False, False, False, True]
    again = simulator(num_envs=8, seed=3, n_auctions=2, n_values=3, n_orders=5, n_flows=7,
                      n_prices=5).reset()
    assert torch.equal(again.state, first.state)


# ------------------------------------------------------------------------------------------
# the continuum solution and exact exploitability of continuous actors
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("params", [{}, SECOND, {"sigma_v": 2.0, "sigma_u": 10.0},
                                    {"n_auctions": 2}], ids=["default", "second", "issue", "two"])
def test_continuum_solution_is_the_closed_form(params: dict) -> None:
    # Kyle (1985) Thms 1-2 (REFERENCES.md): the continuum equilibrium within 0.5% (it is exact
    # up to rounding), certified by an exact NashConv of zero
    from games.kyle import continuum_solution

    out = continuum_solution(None, **params)
    ref = reference(**params)
    for key in ("lambda", "beta", "insider_profit", "posterior_variance"):
        assert np.atleast_1d(out["summary"][key]) == pytest.approx(np.atleast_1d(ref[key]),
                                                                   rel=1e-9)
    assert out["nash_conv"] < 1e-12
    assert "discretisation_error" not in out


def test_continuum_solution_reports_the_grid_error() -> None:
    from games.kyle import continuum_solution

    game = build()
    grid = summarize(game, reference_profile(game))
    out = continuum_solution(grid)
    # grid minus continuum, key by key; Kyle's lambda = 1/2, beta = 1 (REFERENCES.md)
    assert out["discretisation_error"]["lambda"] == pytest.approx(grid["lambda"] - 0.5)
    assert out["discretisation_error"]["beta"] == pytest.approx(grid["beta"] - 1.0)
    assert set(out["discretisation_error"]) == {"lambda", "beta", "insider_profit",
                                                "posterior_variance"}


def test_solve_command_reports_the_continuum_equilibrium(capsys) -> None:
    import json

    from gametools.cli import main

    # the instance sigma_v = 2, sigma_u = 10: lambda = 0.1, beta = 5 (Kyle 1985 Thm 1)
    assert main(["solve", "kyle", "--param", "sigma_v=2", "--param", "sigma_u=10",
                 "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    continuum = document["continuum"]
    assert continuum["summary"]["lambda"] == pytest.approx(0.1, rel=0.005)
    assert continuum["summary"]["beta"] == pytest.approx(5.0, rel=0.005)
    for key in ("lambda", "beta"):
        assert continuum["discretisation_error"][key] == pytest.approx(
            document["summary"][key] - continuum["summary"][key])


def test_linear_profile_exploitability_hand_solved() -> None:
    from games.kyle import linear_profile_exploitability

    # beta = 2, lambda = 1/2 at unit variances: the insider forgoes 1/2 (it earns 0, x = v
    # earns 1/2); the market maker loses 1/4 where the posterior mean loses 1/5
    out = linear_profile_exploitability(2.0, 0.5)
    assert out["nash_conv"] == pytest.approx(0.55) and out["kind"] == "exact"
    assert linear_profile_exploitability(1.0, 0.5)["nash_conv"] == pytest.approx(0.0, abs=1e-15)


def test_actor_exploitability_reads_the_simulator_observations() -> None:
    from games.kyle import actor_exploitability
    from gametools.continuum import policy_exploitability

    params = {"n_orders": 41, "n_flows": 41, "n_values": 41, "n_prices": 41}
    g = grids(**params)
    env = simulator(num_envs=4, seed=0, **params)
    insider_columns, mm_columns = env.observation_sizes

    def insider(obs):
        assert obs.shape[1] == insider_columns and np.all(obs[:, -2] == 1.0)
        return torch.tensor(obs[:, 0])  # x = v (Kyle's beta = 1); torch output is accepted

    def market_maker(obs):
        assert obs.shape[1] == mm_columns and np.all(obs[:, -1] == 1.0)
        return 0.5 * obs[:, 0]  # p = y / 2

    out = actor_exploitability(insider, market_maker, **params)
    direct = policy_exploitability(lambda v: v, lambda y: 0.5 * y, kyle_market(**params),
                                   order_bounds=(g.orders[0], g.orders[-1]),
                                   price_bounds=(g.prices[0], g.prices[-1]))
    assert out.nash_conv == pytest.approx(direct.nash_conv, abs=1e-12)
    # the simulator's boxes clip prices to the value nodes' range (about +-2.3 sd here), so the
    # unclipped equilibrium is a near-equilibrium of the clipped game only
    assert 0 <= out.nash_conv < 0.02 and out.quadrature_error < 1e-4  # kinks at the clips


def test_back_1992_limit_and_the_recursion_gap() -> None:
    from games.kyle import back_1992

    # Back (1992) / REFERENCES.md: N -> infinity, profit -> sigma_v sigma_u, lambda -> sigma_v /
    # sigma_u; at N = 3 the recursion's profit is 0.687104 (Kyle 1985 Thm 2 instance)
    out = back_1992(n_auctions=3)
    assert out["lambda"] == 1.0 and out["insider_profit"] == 1.0
    assert out["limit_gap"]["insider_profit"] == pytest.approx(0.687104 - 1.0, abs=1e-6)
    scaled = back_1992(sigma_v=2.0, sigma_u=10.0, n_auctions=2)
    assert scaled["lambda"] == pytest.approx(0.2) and scaled["insider_profit"] == pytest.approx(20)
    assert scaled["limit_gap"]["insider_profit"] == pytest.approx(20 * (0.620555 - 1), abs=1e-4)


def test_exact_continuum_exploitability_of_a_trained_maddpg_profile(tmp_path) -> None:
    # a tiny MADDPG run: the plumbing from checkpoint to exact continuous NashConv; a NashConv
    # is non-negative and the continuum evaluation agrees with itself at two quadrature grids
    from analyses.kyle_study import maddpg_continuum_exploitability
    from gametools.marl.maddpg import MADDPGConfig
    from gametools.marl.train import train

    config = MADDPGConfig(total_steps=600, eval_interval=600, learning_starts=200,
                          batch_size=32)
    result = train("kyle", config, seed=0, out=tmp_path)
    assert result.exploitability.kind == "exact"  # the grid figure's number
    out = maddpg_continuum_exploitability(tmp_path / "checkpoint.pt")
    fine = maddpg_continuum_exploitability(tmp_path / "checkpoint.pt", grid_points=2049)
    assert out["steps"] == result.steps
    assert out["nash_conv"] >= 0 and np.isfinite(out["nash_conv"])
    assert out["nash_conv"] == pytest.approx(fine["nash_conv"], abs=10 * out["quadrature_error"]
                                             + 1e-9)


def test_summary_names_the_grid_that_brings_the_insider_profit_within_two_percent() -> None:
    # Kyle (1985): profit sigma_v sigma_u / 2 = 0.5. The defaults' grid equilibrium is 10% low
    # (five value bins keep 90% of Var(v)); the summary says so and names n_values=9, whose CFR
    # equilibrium is measured at -1.0%: solved here to hold the claim to it
    from gametools.solvers import solve

    game = build()
    stats = summarize(game, solve(game).equilibria[0].strategies)
    assert stats["insider_profit_vs_theory"] == pytest.approx(stats["insider_profit"] / 0.5 - 1)
    assert "n_values=9" in stats["insider_profit_note"]
    fine = build(n_values=9)
    finer = summarize(fine, solve(fine).equilibria[0].strategies, n_values=9)
    assert abs(finer["insider_profit_vs_theory"]) < 0.02
