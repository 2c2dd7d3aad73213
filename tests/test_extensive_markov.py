"""Tests of gametools.extensive.markov (game trees and finite-horizon Markov games, both ways).

Ground truth from outside the conversion: the tree's own exact NashConv
(:func:`gametools.extensive.nash_conv`, equal to OpenSpiel's on Kuhn poker in
tests/test_extensive_openspiel.py) and the tree CFR (iterate for iterate OpenSpiel's in
tests/test_extensive_solve.py); the Markov game must give the same numbers through gametools'
Markov-game evaluator and CFR, which know nothing of trees. Beer-quiche is Cho and Kreps (1987),
with its beer-pooling equilibrium (NashConv 0).

The other direction (:func:`tree_from_markov`): truth is gametools' Markov-game evaluator, which
is checked against OpenSpiel's best responses on these games' OpenSpiel exports in
tests/test_openspiel_interop.py and tests/test_cfr.py; on scenario games whose observations are
information states the tree must give the same values and NashConv, and OpenSpiel's own tree of
the same game (:func:`gametools.interop.openspiel.extensive_from_markov`) the same NashConv.
Kuhn poker's value -1/18 is Kuhn (1950).
"""

from __future__ import annotations

import numpy as np
import pytest
from test_efg_legacy import BEER_QUICHE_CURRENT

from gametools import nash_conv
from gametools.errors import InvalidArgumentError, ResourceLimitError, UnsupportedGameError
from gametools.extensive import ExtensiveGame
from gametools.extensive import nash_conv as tree_nash_conv
from gametools.extensive.markov import markov_from_extensive, tree_from_markov
from gametools.formats.efg import parse_efg
from gametools.model import MarkovGame
from gametools.solvers.cfr import cfr


def random_profile(game: ExtensiveGame, rng: np.random.Generator) -> list[np.ndarray]:
    return [np.concatenate([rng.dirichlet(np.ones(int(game.infoset_num_actions[k])))
                            for k in game.player_infosets(i)])
            for i in range(game.num_players)]


def assert_same_nash_conv(game: ExtensiveGame, seed: int = 0) -> None:
    view = markov_from_extensive(game)
    rng = np.random.default_rng(seed)
    for profile in [list(game.uniform_profile())] + [random_profile(game, rng)
                                                     for _ in range(3)]:
        tree = tree_nash_conv(game, profile)
        markov = nash_conv(view.markov, view.policies(profile))
        assert markov.kind == "exact"
        assert markov.nash_conv == pytest.approx(tree.nash_conv, abs=1e-12)
        np.testing.assert_allclose(markov.values, tree.values, atol=1e-12)


def test_beer_quiche_evaluators_agree() -> None:
    game = parse_efg(BEER_QUICHE_CURRENT)
    view = markov_from_extensive(game)
    # start (chance: the sender's type), two sender nodes, two x two receiver nodes, end
    assert view.markov.num_states == 1 + 2 + 4 + 1
    assert view.markov.num_actions == (2, 2)
    assert_same_nash_conv(game)
    # Cho-Kreps: pooling on beer, the receiver flees beer and duels quiche, is an equilibrium
    pooling = view.policies([np.array([1.0, 0.0, 1.0, 0.0]), np.array([0.0, 1.0, 1.0, 0.0])])
    assert nash_conv(view.markov, pooling).nash_conv == pytest.approx(0.0, abs=1e-12)


def test_kuhn_poker_evaluators_and_cfr_agree() -> None:
    pytest.importorskip("pyspiel", reason="OpenSpiel supplies Kuhn poker")
    from gametools.interop.openspiel import extensive_from_openspiel

    game = extensive_from_openspiel("kuhn_poker").game
    assert_same_nash_conv(game)
    view = markov_from_extensive(game)
    for iterations in (1, 5, 20):
        markov = cfr(view.markov, iterations=iterations, check_every=iterations).extra
        tree = cfr(game, iterations=iterations, check_every=iterations).extra
        for key in ("nash_conv_average", "nash_conv_last_iterate"):
            assert markov[key] == pytest.approx(tree[key], abs=1e-12), (iterations, key)


def test_different_action_counts_become_legal_action_masks() -> None:
    text = '''EFG 2 R "" { "A" }
p "" 1 1 "two" { "a" "b" } 0
p "" 1 2 "three" { "x" "y" "z" } 0
t "" 1 "" { 1 }
t "" 2 "" { 2 }
t "" 3 "" { 3 }
t "" 4 "" { 4 }
'''
    game = parse_efg(text)
    view = markov_from_extensive(game)
    # A has 2 actions at "two" and 3 at "three": 3 in every state, the third illegal at "two"
    assert view.markov.num_actions == (3,)
    assert view.legal is not None
    two, three = (int(view.infoset_observation[k]) for k in range(2))
    assert view.legal[0][two].tolist() == [True, True, False]
    assert view.legal[0][three].tolist() == [True, True, True]
    # the alias adds no deviation: the Markov game's exact NashConv is still the tree's
    assert_same_nash_conv(game)
    # a Markov policy's weight on an illegal action counts for the infoset's first action
    policy = np.full((view.markov.num_observations[0], 3), 1.0 / 3)
    behaviour = view.behaviour([policy])[0]
    np.testing.assert_allclose(behaviour[game.infoset_slice(0)], [2 / 3, 1 / 3])
    np.testing.assert_allclose(view.policies([behaviour])[0][two], [2 / 3, 1 / 3, 0.0])
    # a tree where every infoset of a player has the same count has no masks
    assert markov_from_extensive(parse_efg(BEER_QUICHE_CURRENT)).legal is None


def test_infoset_at_two_timings_is_refused() -> None:
    # B moves either right away or after A moves again; B cannot tell, but a Markov game's
    # observations count the steps
    text = '''EFG 2 R "" { "A" "B" }
p "" 1 1 "" { "now" "later" } 0
p "" 2 1 "b" { "l" "r" } 0
t "" 1 "" { 1, 0 }
t "" 2 "" { 0, 1 }
p "" 1 2 "" { "u" "d" } 0
p "" 2 1 "b" { "l" "r" } 0
t "" 3 "" { 2, 0 }
t "" 4 "" { 0, 2 }
p "" 2 1 "b" { "l" "r" } 0
t "" 5 "" { 3, 0 }
t "" 6 "" { 0, 3 }
'''
    with pytest.raises(UnsupportedGameError, match="infoset 'b' of player 2 .* steps"):
        markov_from_extensive(parse_efg(text))


# ------------------------------------------------------------------------------------------
# Markov game -> perfect-recall tree
# ------------------------------------------------------------------------------------------

def markov_random_profile(game: MarkovGame, rng: np.random.Generator) -> list[np.ndarray]:
    return [rng.dirichlet(np.ones(n), size=o)
            for o, n in zip(game.num_observations, game.num_actions)]


def scenario_games() -> list[tuple[str, MarkovGame]]:
    from test_cfr import kuhn_poker

    from games import auctions, kyle
    from games.microstructure import glosten_milgrom

    return [
        ("kuhn poker", kuhn_poker()),
        ("first-price auction", auctions.build(n_bidders=2, n_values=3, n_bids=3)),
        ("all-pay auction", auctions.build(auction="all_pay", n_bidders=2, n_values=3,
                                           n_bids=4)),
        ("kyle", kyle.build(n_auctions=1, n_values=2, n_flows=3, n_orders=3, n_prices=3)),
        ("glosten-milgrom", glosten_milgrom(n_prices=3, n_trades=1)),
        ("discounted kuhn poker", kuhn_poker(discount=0.9)),
    ]


@pytest.mark.parametrize("index", range(6), ids=[
    "kuhn poker", "first-price auction", "all-pay auction", "kyle", "glosten-milgrom",
    "discounted kuhn poker"])
def test_tree_of_a_markov_game_has_the_markov_evaluators_nash_conv(index: int) -> None:
    name, game = scenario_games()[index]
    tree = tree_from_markov(game)
    assert all(tree.game.perfect_recall), name
    rng = np.random.default_rng(index)
    uniform = [np.full((o, n), 1.0 / n) for o, n in zip(game.num_observations,
                                                       game.num_actions)]
    for profile in [uniform] + [markov_random_profile(game, rng) for _ in range(3)]:
        markov = nash_conv(game, profile)
        assert markov.kind == "exact", name
        ours = tree_nash_conv(tree.game, tree.profile(profile))
        assert ours.nash_conv == pytest.approx(markov.nash_conv, abs=1e-12), name
        np.testing.assert_allclose(ours.values, markov.values, atol=1e-12, err_msg=name)


def test_kuhn_poker_from_its_markov_game_has_value_minus_one_eighteenth() -> None:
    from test_cfr import kuhn_poker

    from gametools.extensive.solve import sequence_form_lp

    tree = tree_from_markov(kuhn_poker())
    # the first player's infosets: its card, then its card after pass-bet (the Markov game
    # observes both; waiting moves get no decision node)
    assert tree.game.num_infosets == 12
    result = sequence_form_lp(tree.game)
    assert result.extra["value"] == pytest.approx(-1 / 18, abs=1e-9)
    assert tree_nash_conv(tree.game, result.equilibria[0].strategies).nash_conv < 1e-9


def test_cfr_on_the_tree_repeats_the_markov_cfr() -> None:
    # Kuhn poker's observations are its information states, so CFR over observations and CFR
    # over the tree's infosets run the same iterates: the same exact NashConv at every check
    from test_cfr import kuhn_poker

    game = kuhn_poker()
    tree = tree_from_markov(game)
    markov = cfr(game, iterations=30, check_every=10).extra["history"]
    ours = cfr(tree.game, iterations=30, check_every=10).extra["history"]
    np.testing.assert_allclose(ours, markov, atol=1e-12)


def test_tree_matches_openspiels_tree_of_the_same_game() -> None:
    pytest.importorskip("pyspiel", reason="OpenSpiel builds its own tree of the Markov game")
    from test_cfr import kuhn_poker

    from games.microstructure import glosten_milgrom
    from gametools.interop.openspiel import extensive_from_markov, markov_profile_to_extensive

    rng = np.random.default_rng(7)
    for game in (kuhn_poker(), glosten_milgrom(n_prices=3, n_trades=1)):
        ours = tree_from_markov(game)
        theirs = extensive_from_markov(game)
        # waiting moves (Kuhn: the player not to move) are left out of ours, not of OpenSpiel's
        assert ours.game.num_nodes <= theirs.game.num_nodes
        for _ in range(2):
            profile = markov_random_profile(game, rng)
            a = tree_nash_conv(ours.game, ours.profile(profile)).nash_conv
            b = tree_nash_conv(theirs.game,
                               markov_profile_to_extensive(theirs, game, profile)).nash_conv
            assert a == pytest.approx(b, abs=1e-12)


def test_forgotten_moves_give_the_history_dependent_nash_conv_below_the_markov_bound() -> None:
    # market maker 2 does not see the trade direction (tests/test_cfr.py): the Markov
    # evaluator answers with an upper bound, the tree with the exact NashConv against
    # history-dependent deviations, which lies below it
    from games.microstructure import glosten_milgrom

    game = glosten_milgrom(n_prices=3, n_trades=2)
    rounds = np.floor(np.log2(np.arange(game.num_states - 1) // 2 + 1)).astype(int)
    blind = np.append(2 * rounds + np.arange(game.num_states - 1) % 2, 2 * rounds.max() + 2)
    partial = MarkovGame(game.transition_matrix, game.rewards, game.initial, game.discount,
                         terminal=game.terminal, observations=[game.observations[0], blind])
    tree = tree_from_markov(partial)
    rng = np.random.default_rng(3)
    profile = markov_random_profile(partial, rng)
    bound = nash_conv(partial, profile)
    assert bound.kind == "upper_bound"
    exact = tree_nash_conv(tree.game, tree.profile(profile))
    assert exact.nash_conv <= bound.nash_conv + 1e-12
    # values of a fixed profile do not depend on what the players could have remembered
    np.testing.assert_allclose(exact.values, bound.values, atol=1e-12)


def test_beer_quiche_round_trip_keeps_nash_conv() -> None:
    # tree -> Markov game -> tree: every profile keeps its exact NashConv
    game = parse_efg(BEER_QUICHE_CURRENT)
    view = markov_from_extensive(game)
    again = tree_from_markov(view.markov)
    rng = np.random.default_rng(1)
    for profile in [list(game.uniform_profile())] + [random_profile(game, rng)
                                                     for _ in range(3)]:
        expected = tree_nash_conv(game, profile).nash_conv
        got = tree_nash_conv(again.game, again.profile(view.policies(profile))).nash_conv
        assert got == pytest.approx(expected, abs=1e-12)


def test_horizon_truncates_and_limits_are_enforced() -> None:
    from known_games import big_match

    cyclic = big_match().game  # discounted, with a reachable cycle
    assert isinstance(cyclic, MarkovGame)
    with pytest.raises(UnsupportedGameError, match="horizon="):
        tree_from_markov(cyclic)
    one = tree_from_markov(cyclic, horizon=1)
    two = tree_from_markov(cyclic, horizon=2)
    assert one.horizon == 1 and two.horizon == 2
    assert two.game.num_nodes > one.game.num_nodes
    # one stage: the stage game at the start state, paid once
    profile = [np.full((o, n), 1.0 / n) for o, n in zip(cyclic.num_observations,
                                                       cyclic.num_actions)]
    start = int(np.flatnonzero(cyclic.initial)[0])
    stage = cyclic.rewards[(slice(None), start)].reshape(cyclic.num_players, -1).mean(axis=1)
    np.testing.assert_allclose(tree_nash_conv(one.game, one.profile(profile)).values, stage,
                               atol=1e-12)
    with pytest.raises(ResourceLimitError, match="max_nodes"):
        tree_from_markov(cyclic, horizon=6, max_nodes=100)
    with pytest.raises(InvalidArgumentError, match="horizon"):
        tree_from_markov(cyclic, horizon=0)
    with pytest.raises(InvalidArgumentError, match="shape"):
        one.profile([np.ones((1, 1))] * cyclic.num_players)


def test_forgetful_markov_game_is_solved_on_its_perfect_recall_tree() -> None:
    # the bluffing game (tests/known_games.py) with player 1 seeing one observation before and
    # after a bet: its observations are not information states, so the Markov CFR refuses it
    # and names the tree; in the tree player 1 remembers its own observation history (the
    # stage tells a bet), which is the original game: hand-solved value 1/3 to player 0
    from known_games import bluffing_game

    from gametools.extensive.solve import sequence_form_lp
    from gametools.solvers.cfr import ImperfectRecallError

    game = bluffing_game().game
    assert isinstance(game, MarkovGame)
    forgetful = MarkovGame(game.transitions, game.rewards, game.initial, game.discount,
                           terminal=game.terminal,
                           observations=[game.observations[0], [0, 0, 0, 0, 0, 0, 1]])
    with pytest.raises(ImperfectRecallError, match="tree_from_markov"):
        cfr(forgetful)
    tree = tree_from_markov(forgetful)
    assert all(tree.game.perfect_recall)
    assert sequence_form_lp(tree.game).extra["value"] == pytest.approx(1 / 3, abs=1e-9)
    result = cfr(tree.game, iterations=200)
    assert result.extra["nash_conv"] < 0.05  # CFR+ on a 6-infoset game; certified exactly
