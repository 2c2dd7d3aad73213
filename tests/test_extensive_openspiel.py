"""OpenSpiel games unrolled into gametools.extensive: NashConv against OpenSpiel's own.

Ground truth: ``open_spiel.python.algorithms.exploitability.nash_conv`` on the native OpenSpiel
game (its Python best response, which handles simultaneous nodes) for the uniform policy and
for OpenSpiel CFR's average policy; Kuhn poker's value -1/18 (Kuhn 1950).
"""

from __future__ import annotations

import numpy as np
import pytest

pyspiel = pytest.importorskip("pyspiel", reason="OpenSpiel is an optional peer")

from open_spiel.python import policy as os_policy  # noqa: E402
from open_spiel.python.algorithms import cfr as os_cfr  # noqa: E402
from open_spiel.python.algorithms import exploitability as os_exploitability  # noqa: E402

from gametools.extensive import nash_conv  # noqa: E402
from gametools.interop import as_game  # noqa: E402
from gametools.interop.openspiel import (  # noqa: E402
    OpenSpielConversionError,
    extensive_from_openspiel,
    policy_from_openspiel,
    policy_to_openspiel_tabular,
)

GAMES = [
    "kuhn_poker",
    "kuhn_poker(players=3)",
    "leduc_poker",
    "liars_dice(numdice=1,dice_sides=3)",
    "goofspiel(num_cards=3)",
    "goofspiel(num_cards=3,imp_info=True)",
    "goofspiel(num_cards=3,imp_info=True,points_order=descending)",
    "oshi_zumo(coins=3,size=1,horizon=3)",
    "tiny_hanabi",
    "first_sealed_auction(max_value=3)",
]


@pytest.mark.parametrize("name", GAMES)
def test_uniform_nash_conv_equals_openspiel(name: str) -> None:
    game = pyspiel.load_game(name)
    tree = extensive_from_openspiel(game)
    ours = nash_conv(tree.game, tree.game.uniform_profile()).nash_conv
    theirs = os_exploitability.nash_conv(game, os_policy.UniformRandomPolicy(game))
    assert ours == pytest.approx(theirs, abs=1e-9)


@pytest.mark.parametrize("name, iterations", [("kuhn_poker", 30), ("leduc_poker", 1)])
def test_cfr_average_policy_nash_conv_equals_openspiel(name: str, iterations: int) -> None:
    game = pyspiel.load_game(name)
    solver = os_cfr.CFRSolver(game)
    for _ in range(iterations):
        solver.evaluate_and_update_policy()
    average = solver.average_policy()
    tree = extensive_from_openspiel(game)
    profile = policy_from_openspiel(tree, average)
    ours = nash_conv(tree.game, profile).nash_conv
    theirs = os_exploitability.nash_conv(game, average)
    assert ours == pytest.approx(theirs, abs=1e-9)
    # and back: the TabularPolicy written from our profile has the same NashConv in OpenSpiel
    back = policy_to_openspiel_tabular(tree, profile)
    assert os_exploitability.nash_conv(game, back) == pytest.approx(theirs, abs=1e-12)


def test_kuhn_structure_and_value() -> None:
    tree = extensive_from_openspiel("kuhn_poker")
    game = tree.game
    # OpenSpiel's Kuhn poker: 6 deals, 12 information states, 30 terminal histories
    assert (game.num_infosets, game.num_terminals) == (12, 30)
    assert game.is_exact and game.is_zero_sum()
    assert tree.infoset_keys[0] == (0, "0")


def test_python_implemented_game_is_accepted() -> None:
    import open_spiel.python.games  # noqa: F401  (registers python_kuhn_poker)

    game = pyspiel.load_game("python_kuhn_poker")
    tree = extensive_from_openspiel(game)
    ours = nash_conv(tree.game, tree.game.uniform_profile()).nash_conv
    theirs = os_exploitability.nash_conv(game, os_policy.UniformRandomPolicy(game))
    assert ours == pytest.approx(theirs, abs=1e-9)
    # a one-shot Python game is a normal-form game for as_game (the module name no longer
    # decides; before, every Python OpenSpiel game was a TypeError)
    with pytest.raises(OpenSpielConversionError, match="not a one-shot"):
        as_game(pyspiel.load_game("python_iterated_prisoners_dilemma"))


def test_size_limit_is_checked_while_walking() -> None:
    with pytest.raises(OpenSpielConversionError, match="more than 100 tree nodes"):
        extensive_from_openspiel("leduc_poker", max_nodes=100)


def test_unknown_game_string_is_one_line() -> None:
    with pytest.raises(OpenSpielConversionError, match="cannot load 'no_such_game'"):
        extensive_from_openspiel("no_such_game")
    np.testing.assert_equal(1, 1)
