"""OpenSpiel games unrolled into gametools.extensive: NashConv against OpenSpiel's own.

Ground truth: ``open_spiel.python.algorithms.exploitability.nash_conv`` on the native OpenSpiel
game (its Python best response, which handles simultaneous nodes) for the uniform policy and
for OpenSpiel CFR's average policy; Kuhn poker's value -1/18 (Kuhn 1950).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

pyspiel = pytest.importorskip("pyspiel", reason="OpenSpiel is an optional peer")

from open_spiel.python import policy as os_policy
from open_spiel.python.algorithms import cfr as os_cfr
from open_spiel.python.algorithms import exploitability as os_exploitability

from gametools.extensive import nash_conv
from gametools.interop import as_game
from gametools.interop.openspiel import (
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
    "goofspiel(num_cards=4,points_order=descending)",
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
    if game.get_type().dynamics == pyspiel.GameType.Dynamics.SIMULTANEOUS:
        return
    # OpenSpiel's own uniform policy object, converted, is our uniform profile
    for ours_row, uniform in zip(policy_from_openspiel(tree, os_policy.UniformRandomPolicy(game)),
                                 tree.game.uniform_profile()):
        np.testing.assert_allclose(ours_row, uniform, atol=1e-15)


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
    if name == "kuhn_poker":
        # and back: the TabularPolicy written from our profile has OpenSpiel's NashConv
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


def test_goofspiel_information_states_are_refined_to_perfect_recall() -> None:
    # goofspiel's public-information strings forget the order in which cards were played
    # (e.g. "P0 hand: 2 3, P1 hand: 1 4, Win sequence: 1 0" after 4-vs-2 or 4-vs-3 first):
    # kept as is, the game has imperfect recall; refined, it has perfect recall and the same
    # NashConv as OpenSpiel's best response (what is forgotten does not matter later)
    name = "goofspiel(num_cards=4,points_order=descending)"
    kept = extensive_from_openspiel(name, recall="keep").game
    refined = extensive_from_openspiel(name).game
    assert not all(kept.perfect_recall) and all(refined.perfect_recall)
    assert refined.num_infosets > kept.num_infosets


@pytest.mark.parametrize("seed", [0, 1])
def test_markov_game_and_its_tree_agree(seed: int) -> None:
    # the existing Markov-game evaluator (exact for perfect recall in the observations) and
    # the new tree evaluator on the same game: Kuhn poker as a Markov game (tests/test_cfr.py)
    from test_cfr import kuhn_poker

    from gametools.exploitability import nash_conv as markov_nash_conv
    from gametools.interop.openspiel import extensive_from_markov, markov_profile_to_extensive

    markov = kuhn_poker()
    rng = np.random.default_rng(seed)
    profile = [rng.dirichlet(np.ones(n), size=o)
               for o, n in zip(markov.num_observations, markov.num_actions)]
    tree = extensive_from_markov(markov)
    converted = markov_profile_to_extensive(tree, markov, profile)
    assert nash_conv(tree.game, converted).nash_conv == pytest.approx(
        markov_nash_conv(markov, profile).nash_conv, abs=1e-9)


def test_openspiel_kuhn_efg_file() -> None:
    # OpenSpiel ships Kuhn poker as a Gambit .efg text (pyspiel.get_kuhn_poker_efg_data);
    # our reader, OpenSpiel's efg_game loader and the value -1/18 (Kuhn 1950) must agree
    from gametools.extensive.solve import sequence_form_lp
    from gametools.formats.efg import format_efg, parse_efg

    text = pyspiel.get_kuhn_poker_efg_data()
    game = parse_efg(text)
    theirs = os_exploitability.nash_conv(pyspiel.load_efg_game(text),
                                         os_policy.UniformRandomPolicy(
                                             pyspiel.load_efg_game(text)))
    assert nash_conv(game, game.uniform_profile()).nash_conv == pytest.approx(theirs, abs=1e-12)
    assert sequence_form_lp(game).equilibria[0].payoffs_exact[0] == -Fraction(1, 18)
    # what we write, OpenSpiel reads, with the same NashConv
    again = pyspiel.load_efg_game(format_efg(game))
    assert os_exploitability.nash_conv(again, os_policy.UniformRandomPolicy(again)) == \
        pytest.approx(theirs, abs=1e-12)


@pytest.mark.parametrize("name", ["goofspiel(num_cards=3,imp_info=True)", "leduc_poker",
                                  "liars_dice(numdice=1,dice_sides=3)"])
def test_random_tabular_policy_nash_conv_equals_openspiel(name: str) -> None:
    # a non-uniform policy catches action-order and simultaneous-node mix-ups that the
    # uniform policy cannot (public-information goofspiel is left out: OpenSpiel's
    # TabularPolicy gives both players one shared row there, see the next test)
    game = pyspiel.load_game(name)
    tabular = os_policy.TabularPolicy(game)
    rng = np.random.default_rng(7)
    weights = rng.random(tabular.action_probability_array.shape) * tabular.legal_actions_mask
    tabular.action_probability_array[:] = weights / weights.sum(axis=1, keepdims=True)
    tree = extensive_from_openspiel(game)
    ours = nash_conv(tree.game, policy_from_openspiel(tree, tabular)).nash_conv
    assert ours == pytest.approx(os_exploitability.nash_conv(game, tabular), abs=1e-9)


def test_shared_tabular_rows_are_refused() -> None:
    game = pyspiel.load_game("goofspiel(num_cards=3)")
    tabular = os_policy.TabularPolicy(game)
    rng = np.random.default_rng(7)
    weights = rng.random(tabular.action_probability_array.shape) * tabular.legal_actions_mask
    tabular.action_probability_array[:] = weights / weights.sum(axis=1, keepdims=True)
    with pytest.raises(OpenSpielConversionError, match="cannot tell players apart"):
        policy_from_openspiel(extensive_from_openspiel(game), tabular)


def _reference_tree(name: str) -> tuple[object, list[tuple[int, str]]]:
    """The tree by a plain recursive walk through ``TreeBuilder`` (the construction the
    streaming import replaced): infosets keyed by (player, information-state string, the
    player's own history of (string, action) pairs), numbered by first appearance in preorder;
    a simultaneous node is the players' decisions in turn."""
    from gametools.extensive import TreeBuilder
    from gametools.interop.openspiel import _exact_number

    game = pyspiel.load_game(name)
    num_players = game.num_players()
    builder = TreeBuilder(num_players)
    keys: list[tuple[int, str]] = []
    seen: dict[tuple[int, str, tuple[tuple[str, int], ...]], int] = {}

    def infoset(state: object, player: int, own: tuple[tuple[str, int], ...]) -> tuple[int, str]:
        key = state.information_state_string(player)
        ident = (player, key, own)
        if ident not in seen:
            seen[ident] = len(seen)
            keys.append((player, key))
        return seen[ident], key

    def walk(state: object, at: object, own: tuple[tuple[tuple[str, int], ...], ...]) -> None:
        if state.is_terminal():
            builder.terminal(at, payoffs=tuple(_exact_number(r) for r in state.returns()))
        elif state.is_chance_node():
            outcomes = state.chance_outcomes()
            node = builder.chance(at, probabilities=[_exact_number(p) for _, p in outcomes],
                                  labels=[state.action_to_string(-1, a) for a, _ in outcomes])
            for k, (action, _) in enumerate(outcomes):
                walk(state.child(action), (node, k), own)
        elif state.is_simultaneous_node():
            legal = [state.legal_actions(p) for p in range(num_players)]
            parents: list[tuple[object, tuple[int, ...]]] = [(at, ())]
            found = []
            for p in range(num_players):
                ident, key = infoset(state, p, own[p])
                found.append(key)
                labels = [state.action_to_string(p, a) for a in legal[p]]
                following = []
                for where, chosen in parents:
                    node = builder.decision(where, player=p, infoset=ident, actions=labels,
                                            infoset_label=key)
                    following.extend(((node, k), chosen + (a,)) for k, a in enumerate(legal[p]))
                parents = following
            for where, joint in parents:
                child = state.clone()
                child.apply_actions(list(joint))
                walk(child, where, tuple(own[p] + ((found[p], joint[p]),)
                                         for p in range(num_players)))
        else:
            player = state.current_player()
            ident, key = infoset(state, player, own[player])
            legal = state.legal_actions()
            node = builder.decision(at, player=player, infoset=ident, infoset_label=key,
                                    actions=[state.action_to_string(player, a) for a in legal])
            for k, action in enumerate(legal):
                after = list(own)
                after[player] = own[player] + ((key, action),)
                walk(state.child(action), (node, k), tuple(after))

    walk(game.new_initial_state(), None, ((),) * num_players)
    return builder.build(title=game.get_type().long_name,
                         player_labels=[f"Player {i}" for i in range(num_players)]), keys


@pytest.mark.parametrize("name", ["goofspiel(num_cards=4)", "leduc_poker", "kuhn_poker(players=3)",
                                  "goofspiel(num_cards=3,imp_info=True,points_order=descending)",
                                  "liars_dice(numdice=1,dice_sides=3)"])
def test_streamed_tree_equals_the_recursive_builder_tree(name: str) -> None:
    # the compact streaming walk builds the very tree (node order, infoset numbering, exact
    # payoffs and chance, labels) that a recursive TreeBuilder walk builds
    reference, keys = _reference_tree(name)
    tree = extensive_from_openspiel(name)
    ours = tree.game
    for field in ("parent", "player", "infoset", "chance_probabilities", "payoffs",
                  "terminals", "infoset_player", "infoset_num_actions", "chance_infoset"):
        np.testing.assert_array_equal(getattr(ours, field), getattr(reference, field), field)
    assert ours.payoffs_exact.tolist() == reference.payoffs_exact.tolist()
    if reference.has_chance:
        assert ours.chance_exact == reference.chance_exact
    assert ours.is_exact and reference.is_exact
    for field in ("title", "player_labels", "infoset_labels", "action_labels", "node_labels",
                  "chance_labels"):
        assert getattr(ours, field) == getattr(reference, field), field
    assert list(tree.infoset_keys) == keys
    assert all(len(actions) == n for actions, n in zip(tree.legal_actions,
                                                       ours.infoset_num_actions))


def test_streamed_tree_of_the_big_family_matches_openspiel() -> None:
    # the benchmark's large game (goofspiel, 7 cards, 5 rounds) in a size OpenSpiel's Python
    # best response evaluates in a second: NashConv of the uniform profile is OpenSpiel's
    name = "goofspiel(num_cards=5,points_order=descending,num_turns=3)"
    game = pyspiel.load_game(name)
    tree = extensive_from_openspiel(game)
    assert tree.game.num_nodes == 5331  # 1 + 5 + 25 + 100 + 400 + 1200 + 3600 (by hand)
    theirs = os_exploitability.nash_conv(game, os_policy.UniformRandomPolicy(game))
    assert nash_conv(tree.game, tree.game.uniform_profile()).nash_conv == pytest.approx(
        theirs, abs=1e-9)
