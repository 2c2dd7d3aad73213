"""Tests of gametools.solvers.cfr (counterfactual regret minimisation over observations).

Ground truth from outside the solver:

- Kuhn poker's value for the first player is -1/18 (Kuhn 1950; OpenSpiel's kuhn_poker docs and
  tests), and in a zero-sum game a profile's value is within its NashConv of the game value;
- OpenSpiel's own CFR / CFR+ (``open_spiel.python.algorithms.cfr``) on its native
  ``kuhn_poker`` and on our game converted by :func:`gametools.interop.openspiel.to_openspiel`:
  the same algorithm on the same information states must produce the same iterates, so the
  NashConv sequences agree to rounding;
- hand-solved games from ``tests/known_games.py`` (bluffing game, biased RPS) and REFERENCES.md
  (auction revenue);
- Glosten-Milgrom (games/microstructure.py): the same game unrolled into its perfect-recall
  tree (OpenSpiel's information states, :func:`gametools.interop.openspiel.extensive_from_markov`)
  and solved by the tree CFR, itself checked iterate for iterate against OpenSpiel's CFR in
  tests/test_extensive_solve.py; the Bertrand zero-profit quotes (Glosten and Milgrom 1985) are
  an exact equilibrium.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from known_games import (
    biased_rock_paper_scissors,
    bluffing_game,
    bluffing_game_dummy_moves,
    float_profile,
)

from gametools import MarkovGame, NormalFormGame
from gametools.errors import InvalidArgumentError, UnsupportedGameError
from gametools.exploitability import nash_conv
from gametools.solvers.cfr import ImperfectRecallError, NotAcyclicError, Variant, cfr

KUHN_VALUE = -1.0 / 18.0  # Kuhn (1950): the first player's value of Kuhn poker


def kuhn_poker(discount: float = 1.0) -> MarkovGame:
    """Kuhn poker as a partially observed Markov game with perfect recall.

    Cards J < Q < K (0, 1, 2); both players ante 1; chance deals one card to each (6 deals,
    1/6 each). Player 0 passes (0) or bets (1); after a pass player 1 passes (showdown for 1)
    or bets; after pass-bet player 0 folds (loses 1) or calls (showdown for 2); after a bet
    player 1 folds (player 0 wins 1) or calls (showdown for 2). Rewards are player 0's net
    winnings (zero-sum).

    States ``deal * 4 + h`` for the histories h = "", "p", "b", "pb", and one terminal state.
    In each history only one player moves; the other's action changes nothing (it is idle, so
    it need not be remembered). Each player observes its card and the public history
    (``card * 4 + h``), which gives perfect recall.
    """
    deals = [(a, b) for a in range(3) for b in range(3) if a != b]
    num_states = 4 * len(deals) + 1
    end = num_states - 1
    transitions = np.zeros((num_states, 2, 2, num_states))
    reward = np.zeros((num_states, 2, 2))
    observations = np.full((2, num_states), 12)
    for d, (card0, card1) in enumerate(deals):
        root, passed, bet, pass_bet = 4 * d, 4 * d + 1, 4 * d + 2, 4 * d + 3
        showdown = 1.0 if card0 > card1 else -1.0
        observations[0, root:root + 4] = 4 * card0 + np.arange(4)
        observations[1, root:root + 4] = 4 * card1 + np.arange(4)
        transitions[root, 0, :, passed] = transitions[root, 1, :, bet] = 1.0
        transitions[passed, :, 0, end] = transitions[passed, :, 1, pass_bet] = 1.0
        reward[passed, :, 0] = showdown
        transitions[bet, :, :, end] = 1.0
        reward[bet, :, 0], reward[bet, :, 1] = 1.0, 2 * showdown
        transitions[pass_bet, :, :, end] = 1.0
        reward[pass_bet, 0, :], reward[pass_bet, 1, :] = -1.0, 2 * showdown
    initial = np.zeros(num_states)
    initial[0:end:4] = 1.0 / len(deals)
    return MarkovGame(transitions, np.stack([reward, -reward]), initial, discount,
                      terminal=np.arange(num_states) == end, observations=observations)


def _history(result) -> np.ndarray:
    return np.array([row[1] for row in result.extra["history"]])


# ------------------------------------------------------------------------------------------
# convergence and ground truth
# ------------------------------------------------------------------------------------------

def test_kuhn_cfr_plus_reaches_the_game_value() -> None:
    game = kuhn_poker()
    result = cfr(game, iterations=300, variant="cfr+")
    assert result.status == "success" and result.method == "cfr"
    conv = result.extra["nash_conv"]
    assert conv < 1e-3
    # the certificate is the evaluator's exact NashConv of the returned profile
    strategies = result.equilibria[0].strategies
    assert nash_conv(game, strategies).nash_conv == pytest.approx(conv, abs=1e-12)
    # zero-sum: a profile's value lies within its NashConv of the game value
    value = result.equilibria[0].payoffs[0]
    assert abs(value - KUHN_VALUE) <= conv + 1e-12
    assert f"{conv:.3e}" in result.message


@pytest.mark.parametrize("variant", ["cfr", "cfr+", "linear"])
def test_every_variant_converges_on_kuhn(variant: Variant) -> None:
    result = cfr(kuhn_poker(), iterations=400, variant=variant, check_every=100)
    history = _history(result)
    assert history[-1] < history[0] / 3  # the average's NashConv falls
    assert result.extra["nash_conv"] < 1e-2
    assert abs(result.equilibria[0].payoffs[0] - KUHN_VALUE) <= result.extra["nash_conv"] + 1e-12


def test_identical_iterates_to_openspiel_on_native_kuhn_poker() -> None:
    pyspiel = pytest.importorskip("pyspiel")
    from open_spiel.python.algorithms import cfr as os_cfr
    from open_spiel.python.algorithms import exploitability as os_exploitability

    native = pyspiel.load_game("kuhn_poker")
    game = kuhn_poker()
    # (variant, alternating) -> OpenSpiel's solver of the same algorithm
    solvers: dict[tuple[Variant, bool], Any] = {
        ("cfr+", True): os_cfr.CFRPlusSolver(native),
        ("cfr", True): os_cfr.CFRSolver(native),
        ("cfr", False): os_cfr._CFRSolver(native, regret_matching_plus=False,
                                          alternating_updates=False, linear_averaging=False),
        ("cfr+", False): os_cfr._CFRSolver(native, regret_matching_plus=True,
                                           alternating_updates=False, linear_averaging=True),
    }
    for (variant, alternating), solver in solvers.items():
        expected = []
        for iteration in range(1, 61):
            solver.evaluate_and_update_policy()
            if iteration % 20 == 0:
                expected.append(os_exploitability.nash_conv(native, solver.average_policy()))
        result = cfr(game, iterations=60, variant=variant, alternating=alternating,
                     check_every=20)
        np.testing.assert_allclose(_history(result), expected, rtol=1e-9, atol=1e-12,
                                   err_msg=f"{variant}, alternating={alternating}")


@pytest.mark.parametrize("discount", [1.0, 0.9])
def test_agrees_with_openspiel_cfr_plus_on_the_converted_game(discount: float) -> None:
    pytest.importorskip("pyspiel")
    from open_spiel.python.algorithms import cfr as os_cfr
    from open_spiel.python.algorithms import exploitability as os_exploitability

    from gametools.interop.openspiel import openspiel_nash_conv, to_openspiel

    # the converted game makes both players move at every stage and folds the discount into
    # the rewards; idle moves change nothing, so CFR+ must follow the same path
    game = kuhn_poker(discount)
    converted = to_openspiel(game)
    solver = os_cfr.CFRPlusSolver(converted)
    expected = []
    for iteration in range(1, 41):
        solver.evaluate_and_update_policy()
        if iteration % 20 == 0:
            expected.append(os_exploitability.nash_conv(converted, solver.average_policy()))
    result = cfr(game, iterations=40, check_every=20)
    np.testing.assert_allclose(_history(result), expected, rtol=1e-9, atol=1e-12)
    assert expected[-1] < expected[0]
    # OpenSpiel's history-dependent best responses certify the returned profile too
    assert openspiel_nash_conv(game, result.equilibria[0].strategies) == pytest.approx(
        result.extra["nash_conv"], abs=1e-9)


@pytest.mark.parametrize("dummy_moves", [False, True])
def test_bluffing_game_hand_solution(dummy_moves: bool) -> None:
    known = bluffing_game()
    # known_games: high always bets, low bluffs 1/3, player 1 calls 2/3; value 1/3
    game = bluffing_game_dummy_moves() if dummy_moves else known.game
    result = cfr(game, iterations=400)
    conv = result.extra["nash_conv"]
    assert conv < 2e-3
    assert abs(result.equilibria[0].payoffs[0] - 1 / 3) <= conv + 1e-12
    first, second = result.equilibria[0].strategies
    assert first[0, 1] == pytest.approx(1.0, abs=1e-2)
    assert first[1, 1] == pytest.approx(1 / 3, abs=2e-2)
    assert second[1, 1] == pytest.approx(2 / 3, abs=2e-2)


def test_first_price_auction() -> None:
    auctions = pytest.importorskip("games.auctions")
    params = {"auction": "first_price", "n_values": 4, "n_bids": 9}
    game = auctions.build(**params)
    uniform = tuple(np.full((o, n), 1 / n) for o, n in zip(game.num_observations,
                                                            game.num_actions))
    start = nash_conv(game, uniform).nash_conv
    result = cfr(game, iterations=300)
    assert result.extra["nash_conv"] <= 1e-3 * start
    assert result.extra["nash_conv_average"] <= 1e-2 * start
    stats = auctions.summarize(game, result.equilibria[0].strategies, **params)
    # REFERENCES.md: revenue (n - 1)/(n + 1) = 1/3 for two bidders; the bid grid has step 1/8,
    # so the grid game's equilibrium revenue may differ by a fraction of a step
    assert stats["revenue"] == pytest.approx(auctions.reference(**params)["revenue"], abs=0.05)
    # equilibrium bids rise with the value (Krishna 2010, ch. 2)
    assert np.all(np.diff(stats["bid_function"], axis=1) >= -1e-6)


def test_three_bidder_certificate_is_honest() -> None:
    auctions = pytest.importorskip("games.auctions")
    game = auctions.build(auction="first_price", n_bidders=3, n_values=3, n_bids=5)
    result = cfr(game, iterations=100, check_every=50)
    strategies = result.equilibria[0].strategies
    # general-sum, three players: no convergence guarantee, but the reported number is exact
    assert result.extra["nash_conv"] == pytest.approx(nash_conv(game, strategies).nash_conv,
                                                      abs=1e-12)
    assert result.extra["history"][-1][0] == 100


def test_matching_pennies_stays_uniform() -> None:
    pennies = NormalFormGame.zero_sum([[1, -1], [-1, 1]])
    result = cfr(pennies, iterations=50)
    # uniform play has zero regret, so regret matching never leaves it
    for strategy in result.equilibria[0].strategies:
        assert strategy.shape == (2,)
        np.testing.assert_allclose(strategy, [0.5, 0.5], atol=1e-12)
    assert result.extra["nash_conv"] == pytest.approx(0.0, abs=1e-12)
    markov = cfr(pennies.to_markov_game(), iterations=50)
    np.testing.assert_allclose(markov.equilibria[0].strategies[1][0], [0.5, 0.5], atol=1e-12)
    # from a random start the average still approaches the unique equilibrium
    randomised = cfr(pennies, iterations=2000, rng=3)
    for strategy in randomised.equilibria[0].strategies:
        np.testing.assert_allclose(strategy, [0.5, 0.5], atol=2e-2)


def test_biased_rock_paper_scissors() -> None:
    known = biased_rock_paper_scissors()
    result = cfr(known.game, iterations=2000)
    # OpenSpiel lp_solver tests: unique equilibrium (1/16, 10/16, 5/16) for both players
    expected = float_profile(known.equilibria[0])
    for strategy, target in zip(result.equilibria[0].strategies, expected):
        np.testing.assert_allclose(strategy, target, atol=2e-2)


def test_tolerance_stops_early_and_sets_the_status() -> None:
    game = kuhn_poker()
    early = cfr(game, iterations=5000, tol=1e-2, check_every=10)
    assert early.status == "success" and early.iterations < 5000
    assert early.extra["nash_conv"] <= 1e-2 and "met" in early.message
    late = cfr(game, iterations=20, tol=1e-9)
    assert late.status == "max_iterations" and "not met" in late.message


def test_last_iterate_is_returned_when_better() -> None:
    auctions = pytest.importorskip("games.auctions")
    game = auctions.build(auction="first_price", n_values=4, n_bids=9)
    result = cfr(game, iterations=200)
    extra = result.extra
    assert extra["nash_conv"] == min(extra["nash_conv_average"], extra["nash_conv_last_iterate"])
    which = "last iterate" if extra["returned"] == "last_iterate" else "average"
    assert f"returned the {which}" in result.message


def test_deterministic() -> None:
    game = kuhn_poker()
    for rng in (None, 7):
        first, second = (cfr(game, iterations=50, rng=rng, check_every=25),
                         cfr(game, iterations=50, rng=rng, check_every=25))
        for a, b in zip(first.equilibria[0].strategies, second.equilibria[0].strategies):
            np.testing.assert_array_equal(a, b)
        assert first.extra["history"] == second.extra["history"]


def test_progress_callback() -> None:
    seen: list[tuple[int, float, float]] = []
    cfr(kuhn_poker(), iterations=30, check_every=10,
        progress=lambda t, average, last: seen.append((t, average, last)))
    assert [t for t, _, _ in seen] == [10, 20, 30]


# ------------------------------------------------------------------------------------------
# moves that change only rewards (Glosten-Milgrom quotes)
# ------------------------------------------------------------------------------------------

def test_glosten_milgrom_matches_cfr_on_its_perfect_recall_tree() -> None:
    # a market maker does not observe its own ask at the bid step (the state is the public
    # trade history), but its ask changes only that step's rewards; splitting the bid step by
    # the market maker's own ask gives OpenSpiel's perfect-recall tree, on which CFR must reach
    # the same exact NashConv, average and last iterate, at every iteration
    pytest.importorskip("pyspiel", reason="OpenSpiel builds the perfect-recall tree")
    from games.microstructure import glosten_milgrom
    from gametools.interop.openspiel import extensive_from_markov

    game = glosten_milgrom(n_prices=3, n_trades=1)
    tree = extensive_from_markov(game).game
    assert tree.perfect_recall == (True, True)
    for iterations in (1, 2, 5, 20):
        ours = cfr(game, iterations=iterations, check_every=iterations).extra
        theirs = cfr(tree, iterations=iterations, check_every=iterations).extra
        for key in ("nash_conv_average", "nash_conv_last_iterate"):
            assert ours[key] == pytest.approx(theirs[key], abs=1e-12), (iterations, key)


def test_glosten_milgrom_scenario_cfr_converges() -> None:
    # the scenario as shipped (21 prices, 2 trades) used to raise ImperfectRecallError; the
    # Bertrand zero-profit quotes are an exact equilibrium (NashConv 0), and CFR+'s exact
    # NashConv falls towards it (measured: 2.25 after 10 iterations, 0.25 after 100)
    from games.microstructure import glosten_milgrom, glosten_milgrom_profile

    game = glosten_milgrom()
    assert nash_conv(game, glosten_milgrom_profile(game)).nash_conv == pytest.approx(0.0,
                                                                                     abs=1e-9)
    result = cfr(game, iterations=100)
    assert result.extra["nash_conv_kind"] == "exact"  # fully observed: exact MDP solves
    history = np.asarray(result.extra["history"])
    assert history[-1, 1] < 0.2 * history[0, 1]
    assert nash_conv(game, result.equilibria[0].strategies).nash_conv == pytest.approx(
        result.extra["nash_conv"], abs=1e-12)


def test_forgotten_reward_only_moves_under_partial_observation_are_labelled_a_bound() -> None:
    # market maker 2 does not see the trade direction (one observation per round and step):
    # still perfect recall counting moves that change transitions, but gametools' Markov
    # evaluator is exact only counting reward-changing moves too, and answers with an upper
    # bound there; CFR must say so. The perfect-recall tree's exact NashConv (OpenSpiel's
    # information states) is below the bound.
    pytest.importorskip("pyspiel", reason="OpenSpiel builds the perfect-recall tree")
    from games.microstructure import glosten_milgrom
    from gametools.extensive import nash_conv as tree_nash_conv
    from gametools.interop.openspiel import extensive_from_markov, markov_profile_to_extensive

    game = glosten_milgrom(n_prices=3, n_trades=2)
    rounds = np.floor(np.log2(np.arange(game.num_states - 1) // 2 + 1)).astype(int)
    blind = np.append(2 * rounds + np.arange(game.num_states - 1) % 2, 2 * rounds.max() + 2)
    partial = MarkovGame(game.transition_matrix, game.rewards, game.initial, game.discount,
                         terminal=game.terminal, observations=[game.observations[0], blind])
    result = cfr(partial, iterations=5)
    assert result.extra["nash_conv_kind"] == "upper_bound"
    assert "upper bound" in result.message and "exact NashConv" not in result.message
    tree = extensive_from_markov(partial)
    profile = markov_profile_to_extensive(tree, partial, result.equilibria[0].strategies)
    assert tree_nash_conv(tree.game, profile).nash_conv <= result.extra["nash_conv"] + 1e-12


# ------------------------------------------------------------------------------------------
# invalid input
# ------------------------------------------------------------------------------------------

def test_imperfect_recall_is_rejected_naming_the_player() -> None:
    game = bluffing_game().game
    assert isinstance(game, MarkovGame)
    # player 1 now sees the same observation before and after a bet: it forgets the bet
    forgetful = MarkovGame(game.transitions, game.rewards, game.initial, game.discount,
                           terminal=game.terminal,
                           observations=[game.observations[0], [0, 0, 0, 0, 0, 0, 1]])
    with pytest.raises(ImperfectRecallError, match="player 1"):
        cfr(forgetful)
    assert issubclass(ImperfectRecallError, UnsupportedGameError)


def test_cyclic_game_is_rejected() -> None:
    loop = MarkovGame(np.ones((1, 2, 2, 1)), np.ones((2, 1, 2, 2)), [1.0], 0.9)
    with pytest.raises(NotAcyclicError, match="time_indexed"):
        cfr(loop)


@pytest.mark.parametrize("options", [{"iterations": 0}, {"iterations": 2.5},
                                     {"variant": "dcfr"}, {"tol": -1.0}, {"tol": float("nan")},
                                     {"check_every": 0}])
def test_bad_options(options: dict) -> None:
    with pytest.raises(InvalidArgumentError):
        cfr(kuhn_poker(), **options)


def test_bad_game_type() -> None:
    with pytest.raises(InvalidArgumentError):
        cfr("not a game")
