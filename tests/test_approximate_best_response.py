"""Approximate best responses: Monte-Carlo lower bounds bracket the exact gains from below.

Ground truth comes from games solved by hand (a two-stage signalling game, matching pennies) and
from Kyle's (1985) closed form for the insider's best response to a linear pricing rule; the
tabular exact best responses of :mod:`gametools.exploitability` give the upper side.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gametools import MarkovGame, NormalFormGame, nash_conv
from gametools.errors import InvalidArgumentError
from gametools.marl.best_response import (
    ApproximateExploitability,
    FrozenOpponents,
    GridResponder,
    LearnedResponder,
    approximate_gains,
    frozen_policies,
)
from gametools.marl.env import TensorGameEnv

torch.set_num_threads(1)

DISCOUNT = 0.9
#: Player 0's frozen policy in the signalling game: row c = the coin.
SENDER = np.array([[0.9, 0.1], [0.4, 0.6]])


def signalling_game() -> MarkovGame:
    """Two stages of a coin-guessing game; only player 0 sees the coin.

    Chance draws a coin ``c`` (1/2 each) that stays for both stages. In each stage player 0 earns
    1 if its action equals ``c`` and player 1 earns 1 if its action equals player 0's action.
    Player 0 observes the state; player 1 observes the stage and its own previous action (so it
    has perfect recall). Discount 0.9.

    States: 0, 1 = stage 1 with ``c``; ``2 + 2 c + a_1`` = stage 2 after player 1 played ``a_1``;
    6 = terminal.

    Hand-solved gains against ``(SENDER, uniform)`` (per stage, then times ``1 + 0.9 = 1.9``):
    player 0's best response plays ``c``, earning 1 instead of ``(0.9 + 0.6) / 2 = 0.75``: gain
    ``0.25 * 1.9 = 0.475``. Player 1 cannot see ``c``; player 0 plays 0 with probability
    ``(0.9 + 0.4) / 2 = 0.65``, so player 1's best response plays 0 and earns 0.65 instead of
    0.5: gain ``0.15 * 1.9 = 0.285``. Seeing the state, player 1 would match 0 when ``c = 0``
    (0.9) and 1 when ``c = 1`` (0.6): gain ``0.25 * 1.9 = 0.475`` (the state-observing bound).
    """
    transitions = np.zeros((7, 2, 2, 7))
    rewards = np.zeros((2, 7, 2, 2))
    for c in range(2):
        for a0 in range(2):
            for a1 in range(2):
                transitions[c, a0, a1, 2 + 2 * c + a1] = 1.0
                for state in (c, 2 + 2 * c, 3 + 2 * c):
                    rewards[0, state, a0, a1] = float(a0 == c)
                    rewards[1, state, a0, a1] = float(a1 == a0)
    transitions[2:6, :, :, 6] = 1.0
    transitions[6, :, :, 6] = 1.0
    observations = np.array([np.arange(7), [0, 0, 1, 2, 1, 2, 3]])
    initial = np.array([0.5, 0.5, 0, 0, 0, 0, 0])
    terminal = np.arange(7) == 6
    return MarkovGame(transitions, rewards, initial, DISCOUNT, terminal=terminal,
                      observations=observations)


def signalling_profile(game: MarkovGame) -> tuple[np.ndarray, np.ndarray]:
    sender = np.full((7, 2), 0.5)
    sender[[0, 2, 3]] = SENDER[0]
    sender[[1, 4, 5]] = SENDER[1]
    return sender, np.full((game.num_observations[1], 2), 0.5)


#: hand-solved (see signalling_game)
EXACT_GAINS = np.array([0.475, 0.285])
STATE_OBSERVING_GAINS = np.array([0.475, 0.475])


def test_hand_solved_gains_match_the_exact_tabular_tools() -> None:
    game = signalling_game()
    report = nash_conv(game, signalling_profile(game))
    assert report.per_player_kind == ("exact", "exact")
    np.testing.assert_allclose(report.per_player, EXACT_GAINS, atol=1e-9)


# ------------------------------------------------------------------------------------------
# the one-agent view
# ------------------------------------------------------------------------------------------

def test_frozen_opponents_exposes_one_agent_and_resumes_exactly() -> None:
    game = signalling_game()
    env = FrozenOpponents(TensorGameEnv(game, num_envs=64, seed=0), signalling_profile(game),
                          player=1, seed=3)
    assert env.num_agents == 1 and env.action_spaces[0].n == 2
    assert env.observation_sizes == (game.num_observations[1],)
    reset = env.reset(seed=5)
    assert len(reset.observations) == 1 and reset.observations[0].shape == (64, 4)
    ones = torch.ones(64, dtype=torch.long)
    step = env.step([ones])
    assert step.rewards.shape == (64, 1)
    # player 1 plays 1 and matches player 0's action: its reward says what player 0 played,
    # whose frequency given the coin is SENDER[c, 1] (0.1 or 0.6): about 0.35 overall
    assert 0.15 < float(step.rewards.mean()) < 0.55
    saved = env.state_dict()
    first = [env.step([ones]).rewards.clone() for _ in range(3)]
    env.load_state_dict(saved)
    second = [env.step([ones]).rewards.clone() for _ in range(3)]
    for a, b in zip(first, second):
        assert torch.equal(a, b)


def test_frozen_opponents_needs_a_policy_for_every_other_agent() -> None:
    game = signalling_game()
    with pytest.raises(InvalidArgumentError, match="agent 0 needs a frozen policy"):
        FrozenOpponents(TensorGameEnv(game, num_envs=2), [None, None], player=1)


# ------------------------------------------------------------------------------------------
# learned responders on a hand-solved game
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["ppo", "dqn"])
def test_learned_lower_bound_brackets_the_exact_gain(method: str) -> None:
    game = signalling_game()
    result = approximate_gains(game, signalling_profile(game),
                               LearnedResponder(method, budget=4096), episodes=4000, seed=1)
    assert isinstance(result, ApproximateExploitability)
    assert result.kind == "lower_bound"
    half = result.gain_intervals[:, 1] - result.gains
    # an achievable policy cannot beat the best response (up to Monte-Carlo error) ...
    assert np.all(result.gains <= EXACT_GAINS + half)
    # ... and a tiny budget already finds most of it
    assert np.all(result.gains >= 0.8 * EXACT_GAINS)
    # the profile's Monte-Carlo values agree with the exact ones
    exact_values = nash_conv(game, signalling_profile(game)).values
    assert np.all(np.abs(result.values - exact_values) <= 4 * result.value_stderr)
    # the state-observing bound: exact for player 0 (it sees the state), a bound for player 1
    assert result.upper_bound_kinds == ("exact", "upper_bound")
    assert result.upper_bound_scope == "game"
    np.testing.assert_allclose(result.upper_bounds, STATE_OBSERVING_GAINS, atol=1e-9)
    document = result.to_dict()
    assert document["lower_bound"]["kind"] == "lower_bound"
    assert document["upper_bound"]["per_player_kind"] == ["exact", "upper_bound"]
    assert document["tabular"]["per_player_kind"] == ["exact", "exact"]


def test_same_seed_same_numbers() -> None:
    game = NormalFormGame.zero_sum([[1, -1], [-1, 1]])
    profile = (np.array([0.8, 0.2]), np.array([0.5, 0.5]))
    runs = [approximate_gains(game, profile, LearnedResponder("ppo", budget=512), episodes=500,
                              seed=s)
            for s in (7, 7, 8)]
    np.testing.assert_array_equal(runs[0].gains, runs[1].gains)
    np.testing.assert_array_equal(runs[0].values, runs[1].values)
    assert not np.array_equal(runs[0].values, runs[2].values)


def test_matching_pennies_learner_input() -> None:
    """A learner's own policies are accepted as the frozen profile (here an untrained one)."""
    from gametools.marl.mappo import IPPO, MAPPOConfig
    from gametools.marl.train import tabular_profile
    game = NormalFormGame.zero_sum([[1, -1], [-1, 1]]).to_markov_game()
    learner = IPPO(TensorGameEnv(game, num_envs=4), MAPPOConfig(num_envs=4), seed=0)
    result = approximate_gains(game, learner, LearnedResponder("dqn", budget=1024), episodes=2000,
                               seed=0)
    profile = tabular_profile(learner, game)
    exact = nash_conv(game, profile)
    half = result.gain_intervals[:, 1] - result.gains
    assert np.all(result.gains <= exact.per_player + half)
    np.testing.assert_allclose(result.tabular.per_player, exact.per_player)


# ------------------------------------------------------------------------------------------
# grid search on continuous simulators
# ------------------------------------------------------------------------------------------

def _auction_setup(slope: float):
    """First-price auction on the value grid with bids ``slope * v`` rounded onto the bid grid.

    On the grid values (``value_grid=True``) such an on-grid policy is the same profile in the
    simulator and on the tabular game, so the grid-searched responder (bid-grid candidates,
    value-bin bins) is a policy of the tabular game and its gain is at most the exact one.
    """
    from games import auctions
    game = auctions.build(auction="first_price")
    bids = np.array([float(label) for label in game.action_labels[0]])
    nodes = auctions.grid_observations(game, 0).numpy()[:, 0]
    index = auctions.project_actions(game, 0, slope * nodes)
    table = np.eye(len(bids))[index]

    def policy(observations: torch.Tensor) -> torch.Tensor:
        ids = auctions.observation_index(game, 0, observations)
        return torch.tensor(bids[index[ids]], dtype=torch.float32)

    def factory(*, num_envs: int, seed: int):
        return auctions.simulator(num_envs=num_envs, seed=seed, auction="first_price",
                                  value_grid=True)

    def bins(observations: torch.Tensor) -> np.ndarray:
        return auctions.observation_index(game, 0, observations)

    return game, bids, (table, table), [policy, policy], factory, bins


@pytest.mark.parametrize("slope", [1.0, 0.5])
def test_grid_lower_bound_below_the_tabular_bounds_in_a_first_price_auction(slope: float) -> None:
    game, bids, table, policies, factory, bins = _auction_setup(slope)
    result = approximate_gains(factory, policies,
                               GridResponder(grid=bids, bins=bins, budget=2048),
                               episodes=4096, seed=0, tabular=(game, table))
    half = result.gain_intervals[:, 1] - result.gains
    exact = nash_conv(game, table)
    assert exact.per_player_kind == ("exact", "exact")  # bidders have perfect recall
    assert result.upper_bound_kinds == ("upper_bound", "upper_bound")
    assert result.upper_bound_scope == "tabular_projection"
    assert np.all(result.gains <= exact.per_player + half)
    assert np.all(exact.per_player <= result.upper_bounds + 1e-12)
    # the searched responder finds most of the exact gain
    assert np.all(result.gains >= 0.8 * exact.per_player)
    if slope == 1.0:
        # bidding one's value in a first-price auction earns nothing: shading pays (Krishna
        # 2010, ch. 2)
        assert np.all(result.lower_bounds > 0)
    else:
        # common random numbers: the paired gain is far more precise than the two values apart
        # (with slope 1 the profile's value is exactly 0 in every episode, nothing to pair)
        unpaired = np.sqrt(result.value_stderr ** 2 + result.best_response_stderr ** 2)
        assert np.all(result.gain_stderr < 0.5 * unpaired)


def test_grid_on_the_auction_scenario_labels_its_projection() -> None:
    result = approximate_gains("first_price_auction", [lambda v: 0.0 * v] * 2,
                               GridResponder(budget=512), episodes=2000, seed=0)
    # bidding zero against a zero bidder: any small positive bid wins the whole object
    assert np.all(result.lower_bounds > 0.15)
    assert result.upper_bound_scope == "tabular_projection"
    assert result.to_dict()["upper_bound"]["scope"] == "tabular_projection"


def test_grid_finds_the_kyle_insiders_best_response_to_a_linear_price() -> None:
    """Insider trading zero against ``p = lambda y``: the gain is ``E[v^2] / (4 lambda)``.

    Kyle (1985): against ``p = p0 + lambda (x + u)`` the insider maximises ``(v - lambda x) x``,
    so ``x = v / (2 lambda)`` and its profit is ``sigma_v^2 / (4 lambda) = 0.5`` for
    ``sigma_v = 1, lambda = 0.5``, against 0 when it does not trade. The market maker, facing
    ``y = u`` alone, loses ``E[(lambda u - v)^2] = 1.25`` and would lose ``Var(v) = 1`` quoting
    ``E[v | y] = 0``: gain 0.25. The simulator clips orders to ``[-2, 2]`` and prices to the price
    grid, which moves these numbers by a few hundredths.
    """
    from games import kyle
    game = kyle.build()

    def insider(observations: torch.Tensor) -> torch.Tensor:
        return torch.zeros(observations.shape[0])

    def market_maker(observations: torch.Tensor) -> torch.Tensor:
        return 0.5 * observations[:, 0]  # column 0: the order flow of the (single) auction

    table = (kyle.tabular_policy(game, 0, lambda o: np.zeros(len(o))),
             kyle.tabular_policy(game, 1, lambda o: 0.5 * o[:, 0]))

    def factory(*, num_envs: int, seed: int):
        return kyle.simulator(num_envs=num_envs, seed=seed)

    insider_gain = approximate_gains(factory, [insider, market_maker],
                                     GridResponder(bins=32, budget=2048), players=[0],
                                     episodes=4096, seed=0, tabular=(game, table))
    assert insider_gain.lower_bounds[0] > 0.4
    assert abs(insider_gain.gains[0] - 0.5) < 0.05
    # the insider sees the whole state of the tabular game: its tabular response is exact there
    assert insider_gain.upper_bound_kinds == ("exact",)
    maker_gain = approximate_gains(factory, [insider, market_maker],
                                   GridResponder(bins=32, decision_step=1, budget=2048),
                                   players=[1], episodes=4096, seed=0, tabular=(game, table))
    assert abs(maker_gain.gains[0] - 0.25) < 0.05
    assert maker_gain.upper_bound_kinds == ("upper_bound",)
    # a market maker seeing v loses nothing: the state-observing bound is far above
    assert maker_gain.upper_bounds[0] > maker_gain.gain_intervals[0, 1]


# ------------------------------------------------------------------------------------------
# errors
# ------------------------------------------------------------------------------------------

def test_methods_refuse_the_wrong_action_spaces() -> None:
    game = signalling_game()
    profile = signalling_profile(game)
    with pytest.raises(InvalidArgumentError, match="Box"):
        approximate_gains(game, profile, GridResponder(budget=8), episodes=8)
    _, _, _, policies, factory, _ = _auction_setup(1.0)
    with pytest.raises(InvalidArgumentError, match="discrete-action"):
        approximate_gains(factory, policies, LearnedResponder("dqn", budget=8), episodes=8)
    with pytest.raises(InvalidArgumentError, match="method"):
        LearnedResponder("sgd")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="budget"):
        GridResponder(budget=0)
    with pytest.raises(InvalidArgumentError, match="QConfig"):
        from gametools.marl.mappo import MAPPOConfig
        LearnedResponder("dqn", config=MAPPOConfig())
    with pytest.raises(InvalidArgumentError, match="confidence"):
        approximate_gains(game, profile, LearnedResponder(budget=8), confidence=1.0,
                          episodes=8)


def test_the_deprecated_options_build_the_same_responder() -> None:
    # the keyword options of approximate_gains before the responder objects still work, warn,
    # and give the very numbers of the responder they stand for (same seed, same numbers)
    game = NormalFormGame.zero_sum([[1, -1], [-1, 1]])
    profile = (np.array([0.8, 0.2]), np.array([0.5, 0.5]))
    with pytest.warns(DeprecationWarning, match="responder"):
        old = approximate_gains(game, profile, method="dqn", budget=256, episodes=100, seed=2)
    new = approximate_gains(game, profile, LearnedResponder("dqn", budget=256), episodes=100,
                            seed=2)
    np.testing.assert_array_equal(old.gains, new.gains)
    assert old.method == new.method == "dqn" and old.budget == new.budget == 256
    with pytest.raises(InvalidArgumentError, match="not both"):
        approximate_gains(game, profile, LearnedResponder(), budget=8, episodes=8)
    with pytest.raises(InvalidArgumentError, match="method"), \
            pytest.warns(DeprecationWarning):
        approximate_gains(game, profile, method="sgd", budget=8, episodes=8)
    with pytest.raises(InvalidArgumentError, match="unexpected"):
        approximate_gains(game, profile, budgte=8, episodes=8)
    # the old helper name is the adapter
    assert frozen_policies(profile, 2)[1](torch.eye(1)).tolist() == [[0.5, 0.5]]


def test_the_driver_re_exports_the_evaluator_and_the_responders() -> None:
    # user imports from gametools.marl.best_response keep working after the split: each name is
    # the very object of the module that now defines it
    from gametools.marl import best_response, evaluation, responders

    for name in ("FrozenOpponents", "episode_returns", "frozen_policies", "Actor",
                 "DEFAULT_UNDISCOUNTED_HORIZON"):
        assert getattr(best_response, name) is getattr(evaluation, name)
    for name in ("GridResponder", "GridResponse", "LearnedResponder", "Responder",
                 "DEFAULT_TRAINING_STEPS", "DEFAULT_SEARCH_EPISODES"):
        assert getattr(best_response, name) is getattr(responders, name)
    assert set(best_response.__all__) <= set(dir(best_response))


def test_paired_returns_share_their_random_numbers() -> None:
    # the same actor evaluated twice through paired_returns meets the same episodes (common
    # random numbers), so the paired difference is exactly 0; the signalling game's frozen
    # opponent samples, the environment draws the coin
    from gametools.marl.evaluation import paired_returns, policy_actor

    game = signalling_game()
    env = FrozenOpponents(TensorGameEnv(game, num_envs=64, seed=0), [None, np.full((4, 2), 0.5)],
                          0, seed=0)
    generator = torch.Generator()
    own = policy_actor(lambda obs: torch.full((len(obs), 2), 0.5), env.action_spaces[0],
                       generator)
    first, second = paired_returns(env, own, own, own_generator=generator, own_seed=7, seed=3)
    np.testing.assert_array_equal(first, second)
    assert np.unique(first).size > 1  # the episodes do differ from one another
