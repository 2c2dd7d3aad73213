"""Tests of gametools.extensive: the tree model, its validation and exact NashConv.

Ground truth from outside the code: games solved by hand here (matching pennies with a hidden
first move, a one-card signalling game), Kuhn poker's value -1/18 (Kuhn 1950), and OpenSpiel's
``exploitability.nash_conv`` / ``best_response`` on the same games (tests/test_openspiel_*).
"""

from __future__ import annotations

import numpy as np
import pytest

from gametools.errors import GameValidationError, PolicyValidationError
from gametools.extensive import ExtensiveGame, TreeBuilder, best_response, nash_conv


def hidden_pennies() -> ExtensiveGame:
    """Matching pennies: player 2 moves without seeing player 1's coin (simultaneous)."""
    tree = TreeBuilder(num_players=2)
    root = tree.decision(None, player=0, infoset="P1", actions=("H", "T"))
    for a in range(2):
        node = tree.decision((root, a), player=1, infoset="P2", actions=("h", "t"))
        for b in range(2):
            u = 1 if a == b else -1
            tree.terminal((node, b), payoffs=(u, -u))
    return tree.build(title="pennies")


def test_breadth_first_layout() -> None:
    game = hidden_pennies()
    assert game.parent.tolist() == [-1, 0, 0, 1, 1, 2, 2]
    assert game.player.tolist() == [0, 1, 1, -2, -2, -2, -2]
    assert game.first_child.tolist() == [1, 3, 5, -1, -1, -1, -1]
    assert game.num_sequences == (3, 3)
    assert game.perfect_recall == (True, True)


def test_pennies_nash_conv_by_hand() -> None:
    game = hidden_pennies()
    # uniform is the equilibrium (value 0); (H, h): player 2 gains 2 by switching to t
    assert nash_conv(game, game.uniform_profile()).nash_conv == 0.0
    result = nash_conv(game, ([1.0, 0.0], [1.0, 0.0]))
    assert result.per_player.tolist() == [0.0, 2.0]
    assert result.values.tolist() == [1.0, -1.0]
    response = best_response(game, ([1.0, 0.0], [1.0, 0.0]), 1)
    assert response.policy.tolist() == [0.0, 1.0] and response.value == 1.0


def test_seen_move_is_a_different_infoset() -> None:
    # when player 2 sees the coin it always matches against it: player 1's best is -1
    tree = TreeBuilder(num_players=2)
    root = tree.decision(None, player=0, infoset="P1", actions=2)
    for a in range(2):
        node = tree.decision((root, a), player=1, infoset=f"saw {a}", actions=2)
        for b in range(2):
            tree.terminal((node, b), payoffs=(1 - 2 * (a != b), 2 * (a != b) - 1))
    game = tree.build()
    result = nash_conv(game, game.uniform_profile())
    assert result.best_response_values.tolist() == [0.0, 1.0]


def signalling_game() -> ExtensiveGame:
    """Chance deals high (1/2) or low (1/2); player 1 sees it and bets or folds; player 2 sees
    only the action and calls or folds after a bet. Fold: -1 for player 1; bet-fold: +1;
    bet-call: +2 with high, -2 with low (a one-card poker; solved by hand below)."""
    tree = TreeBuilder(num_players=2)
    deal = tree.chance(None, probabilities=("1/2", "1/2"), labels=("high", "low"))
    for card, sign in ((0, 1), (1, -1)):
        me = tree.decision((deal, card), player=0, infoset=f"card {card}", actions=("bet", "fold"))
        other = tree.decision((me, 0), player=1, infoset="bet", actions=("call", "fold"))
        tree.terminal((other, 0), payoffs=(2 * sign, -2 * sign))
        tree.terminal((other, 1), payoffs=(1, -1))
        tree.terminal((me, 1), payoffs=(-1, 1))
    return tree.build()


def test_signalling_game_equilibrium_by_hand() -> None:
    # by hand: player 1 always bets high and bluffs low with probability 1/3; player 2 calls
    # with probability 2/3 (indifference), value 1/3 for player 1
    game = signalling_game()
    assert game.is_exact and game.has_chance
    profile = (np.array([1.0, 0.0, 1 / 3, 2 / 3]), np.array([2 / 3, 1 / 3]))
    result = nash_conv(game, profile)
    assert result.nash_conv == pytest.approx(0.0, abs=1e-12)
    assert result.values[0] == pytest.approx(1 / 3, abs=1e-12)
    np.testing.assert_allclose(game.expected_payoffs(profile), [1 / 3, -1 / 3], atol=1e-12)


@pytest.mark.parametrize("change, message", [
    ({"parent": [-1, 0, 1, 0], "player": [0, 0, -2, -2], "infoset": [0, 1, -1, -1],
          "chance_probabilities": [1.0] * 4}, "breadth-first"),
    ({"parent": [0, 0, 0]}, "root"),
    ({"player": [0, -2, 0]}, "without children must be terminal"),
    ({"player": [1, -2, -2]}, "must be 0..0"),
    ({"infoset": [-1, -1, -1]}, "needs an infoset"),
    ({"chance_probabilities": [1.0, 0.5, 0.4], "player": [-1, -2, -2], "infoset": [-1, -1, -1]},
     "sum to 1"),
    ({"payoffs": [[1.0, np.nan]]}, "finite"),
    ({"payoffs": [[1.0, 2.0, 3.0]]}, "shape"),
])
def test_validation_names_the_rule(change: dict, message: str) -> None:
    arguments = {"parent": [-1, 0, 0], "player": [0, -2, -2], "infoset": [0, -1, -1],
                 "chance_probabilities": [1.0, 1.0, 1.0], "payoffs": [[1.0, 0.0]]}
    arguments.update(change)
    with pytest.raises(GameValidationError, match=message):
        ExtensiveGame(1, **arguments)


def test_infoset_nodes_must_agree() -> None:
    # chance, then two nodes of one infoset with 2 and 1 actions
    with pytest.raises(GameValidationError, match="same number of actions"):
        ExtensiveGame(2, [-1, 0, 0, 1, 1, 2], [-1, 0, 0, -2, -2, -2], [-1, 0, 0, -1, -1, -1],
                      [1, .5, .5, 1, 1, 1], np.zeros((2, 3)))
    with pytest.raises(GameValidationError, match="belong to one player"):
        ExtensiveGame(2, [-1, 0, 0, 1, 2], [-1, 0, 1, -2, -2], [-1, 0, 0, -1, -1],
                      [1, .5, .5, 1, 1], np.zeros((2, 2)))


def test_profile_validation() -> None:
    game = hidden_pennies()
    with pytest.raises(PolicyValidationError, match="sum to 1"):
        nash_conv(game, ([0.5, 0.6], [0.5, 0.5]))
    with pytest.raises(PolicyValidationError, match="needs 2 entries"):
        nash_conv(game, ([1.0], [0.5, 0.5]))
    with pytest.raises(PolicyValidationError, match="finite and >= 0") as error:
        nash_conv(game, ([0.5, 0.5], [1.5, -0.5]))
    assert "profile[1]" in str(error.value)
    with pytest.raises(PolicyValidationError, match="finite and >= 0"):
        nash_conv(game, ([np.nan, 1.0], [0.5, 0.5]))
    # entries within 1e-9 below zero are accepted as zero
    assert nash_conv(game, ([1.0 + 1e-10, -1e-10], [0.5, 0.5])).nash_conv >= 0.0


def test_builder_orders_any_insertion_order_and_rejects_broken_trees() -> None:
    """The builder's breadth-first reordering and its errors, on trees drawn by hand."""
    # children added before their siblings and deeper nodes first: the same game
    tree = TreeBuilder(num_players=2)
    root = tree.decision(None, player=0, infoset="P1", actions=("H", "T"))
    right = tree.decision((root, 1), player=1, infoset="P2", actions=("h", "t"))
    tree.terminal((right, 1), payoffs=(1, -1))
    tree.terminal((right, 0), payoffs=(-1, 1))
    left = tree.decision((root, 0), player=1, infoset="P2", actions=2)
    tree.terminal((left, 1), payoffs=(-1, 1))
    tree.terminal((left, 0), payoffs=(1, -1))
    game = tree.build()
    reference = hidden_pennies()
    assert game.parent.tolist() == reference.parent.tolist()
    assert game.payoffs.tolist() == reference.payoffs.tolist()
    assert game.action_labels == reference.action_labels

    def broken(mistake: str) -> TreeBuilder:
        tree = TreeBuilder(num_players=1)
        root = tree.decision(None, player=0, infoset="I", actions=2)
        tree.terminal((root, 0), payoffs=(0,))
        if mistake == "two children":
            tree.terminal((root, 0), payoffs=(1,))
        elif mistake == "missing edge":
            tree.terminal((root, 2), payoffs=(1,))
        elif mistake == "not connected":
            tree.terminal((root, 1), payoffs=(1,))
            # nodes 3 and 4 hang from each other, a cycle away from the root
            tree.decision((4, 0), player=0, infoset="J", actions=1)
            tree.decision((3, 0), player=0, infoset="J", actions=1)
        return tree

    with pytest.raises(GameValidationError, match="action 1 of node 0 leads nowhere"):
        broken("").build()
    with pytest.raises(GameValidationError, match="edge 0 of node 0 has two children"):
        broken("two children").build()
    with pytest.raises(GameValidationError, match="node 2 hangs from a missing edge"):
        broken("missing edge").build()
    with pytest.raises(GameValidationError, match="not connected to the root"):
        broken("not connected").build()
    with pytest.raises(GameValidationError, match="one root"):
        broken("").decision(None, player=0, infoset="K", actions=1)


def test_outcome_table_and_compact_columns_give_the_same_game() -> None:
    # hidden pennies given as arrays: payoffs per terminal, and the same as two distinct
    # outcomes plus each terminal's column (the compact form large imports use)
    from fractions import Fraction

    from gametools.extensive.model import LabelColumn

    parent = np.array([-1, 0, 0, 1, 1, 2, 2], dtype=np.int32)
    player = np.array([0, 1, 1, -2, -2, -2, -2], dtype=np.int8)
    infoset = np.array([0, 1, 1, -1, -1, -1, -1], dtype=np.int32)
    full = ExtensiveGame(2, parent, player, infoset, np.ones(7),
                         [[1, -1, -1, 1], [-1, 1, 1, -1]])
    table = ExtensiveGame(2, parent, player, infoset, np.ones(7), [[1, -1], [-1, 1]],
                          outcomes=[0, 1, 1, 0])
    np.testing.assert_array_equal(table.payoffs, full.payoffs)
    assert table.is_exact and full.is_exact
    assert table.payoffs_exact.tolist() == full.payoffs_exact.tolist() == [
        [Fraction(1), Fraction(-1), Fraction(-1), Fraction(1)],
        [Fraction(-1), Fraction(1), Fraction(1), Fraction(-1)]]
    # matching pennies by hand: (H, h) leaves player 2 a gain of 2
    assert nash_conv(table, ([1.0, 0.0], [1.0, 0.0])).nash_conv == 2.0
    # blank labels read like a tuple of empty strings; the caller's arrays stay its own
    assert table.node_labels == ("",) * 7 and table.node_labels[2:4] == ("", "")
    assert isinstance(table.node_labels, LabelColumn)
    parent[3] = 2
    assert table.parent[3] == 1 and parent.flags.writeable
    with pytest.raises(GameValidationError, match="outcomes"):
        ExtensiveGame(2, [-1, 0, 0, 1, 1, 2, 2], [0, 1, 1, -2, -2, -2, -2],
                      [0, 1, 1, -1, -1, -1, -1], np.ones(7), [[1, -1], [-1, 1]],
                      outcomes=[0, 1, 2, 0])


def test_label_column_reads_like_a_tuple() -> None:
    from gametools.extensive.model import LabelColumn

    labels = ["", "a", "", "b", "a"]
    column = LabelColumn.of("node_labels", labels, 5)
    assert column == labels and column == tuple(labels) and list(column) == labels
    assert column[1:4] == ("a", "", "b") and column[-1] == "a" and len(column) == 5
    assert column != LabelColumn.of("node_labels", None, 5)
    with pytest.raises(GameValidationError, match="needs 4 labels"):
        LabelColumn.of("node_labels", labels, 4)
