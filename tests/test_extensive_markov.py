"""Tests of gametools.extensive.markov (a game tree as a finite-horizon Markov game).

Ground truth from outside the conversion: the tree's own exact NashConv
(:func:`gametools.extensive.nash_conv`, equal to OpenSpiel's on Kuhn poker in
tests/test_extensive_openspiel.py) and the tree CFR (iterate for iterate OpenSpiel's in
tests/test_extensive_solve.py); the Markov game must give the same numbers through gametools'
Markov-game evaluator and CFR, which know nothing of trees. Beer-quiche is Cho and Kreps (1987),
with its beer-pooling equilibrium (NashConv 0).
"""

from __future__ import annotations

import numpy as np
import pytest
from test_efg_legacy import BEER_QUICHE_CURRENT

from gametools import nash_conv
from gametools.errors import UnsupportedGameError
from gametools.extensive import ExtensiveGame
from gametools.extensive import nash_conv as tree_nash_conv
from gametools.extensive.markov import markov_from_extensive
from gametools.formats.efg import parse_efg
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


def test_different_action_counts_are_refused() -> None:
    text = '''EFG 2 R "" { "A" }
p "" 1 1 "two" { "a" "b" } 0
p "" 1 2 "three" { "x" "y" "z" } 0
t "" 1 "" { 1 }
t "" 2 "" { 2 }
t "" 3 "" { 3 }
t "" 4 "" { 4 }
'''
    with pytest.raises(UnsupportedGameError, match="player 1 .A. has infosets with 2 and 3"):
        markov_from_extensive(parse_efg(text))


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
