"""Training on game trees whose infosets have different numbers of actions (legal-action masks).

Ground truth from outside the learners: the tree itself (which action an infoset offers is read
from :class:`~gametools.extensive.ExtensiveGame`, not from the masks the learners use),
OpenSpiel's ``exploitability.nash_conv`` of the learned policy exported to a ``TabularPolicy``
(Leduc poker), and OpenSpiel's NashConv of the uniform policy of Kuhn poker.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gametools.extensive import ExtensiveGame, TreeBuilder
from gametools.extensive import nash_conv as tree_nash_conv
from gametools.extensive.markov import markov_from_extensive
from gametools.marl.env import TensorGameEnv
from gametools.marl.train import make_config, train

torch.set_num_threads(1)

REPLAY = {"learning_starts": 64, "batch_size": 32}


def masked_tree(*, team: bool) -> ExtensiveGame:
    """A card x or y (1/2 each) to player 1, who has 2 actions holding x and 3 holding y; player
    2 sees player 1's action (l, m or r) but not the card, with 2 actions after l and 3 after r;
    m ends the game. Zero-sum, or the same payoff to both (``team``)."""
    builder = TreeBuilder(num_players=2)
    root = builder.chance(None, probabilities=[0.5, 0.5], labels=["x", "y"])
    payoff = {("x", "l"): [3, -1], ("x", "r"): [0, 2, -2], ("y", "l"): [-2, 4],
              ("y", "r"): [1, -3, 5], ("y", "m"): 1}
    for card_index, card in enumerate(("x", "y")):
        moves = ["l", "r"] if card == "x" else ["l", "m", "r"]
        first = builder.decision((root, card_index), player=0, infoset=f"P1 {card}",
                                 actions=moves)
        for k, move in enumerate(moves):
            value = payoff[(card, move)]
            if isinstance(value, int):
                builder.terminal((first, k), payoffs=(value, value if team else -value))
                continue
            second = builder.decision((first, k), player=1, infoset=f"P2 {move}",
                                      actions=["u", "d"] if move == "l" else ["u", "c", "d"])
            for j, v in enumerate(value):
                builder.terminal((second, j), payoffs=(v, v if team else -v))
    return builder.build()


@pytest.fixture
def recorded(monkeypatch):
    """Every (state, joint action) every TensorGameEnv is stepped with, training and evaluation
    episodes alike."""
    steps: list[tuple[np.ndarray, list[np.ndarray]]] = []
    original = TensorGameEnv.step

    def step(self, actions):
        steps.append((self.state_indices.cpu().numpy().copy(),
                      [a.cpu().numpy().copy() for a in actions]))
        return original(self, actions)

    monkeypatch.setattr(TensorGameEnv, "step", step)
    return steps


def illegal_moves(game: ExtensiveGame, steps) -> tuple[int, int]:
    """(illegal actions taken, decisions taken where some padded action was illegal), read from
    the tree: the mover's infoset at each state's node and its number of actions."""
    view = markov_from_extensive(game)  # the same state numbering as the run's
    most = [int(game.infoset_num_actions[game.player_infosets(i)].max())
            for i in range(game.num_players)]
    illegal = constrained = 0
    for states, actions in steps:
        nodes = view.state_node[states]
        for b, node in enumerate(nodes.tolist()):
            if node < 0:  # the start (chance) and the end state: nobody moves
                continue
            mover = int(game.player[node])
            count = int(game.infoset_num_actions[game.infoset[node]])
            illegal += int(actions[mover][b] >= count)
            constrained += int(count < most[mover])
    return illegal, constrained


@pytest.mark.parametrize("algorithm,team", [("mappo", False), ("ippo", False), ("maa2c", False),
                                            ("iql", False), ("maddpg", False), ("vdn", True),
                                            ("qmix", True)])
def test_no_learner_takes_an_illegal_action(algorithm, team, recorded) -> None:
    game = masked_tree(team=team)
    extra = REPLAY if algorithm in ("iql", "vdn", "qmix", "maddpg") else {}
    config = make_config(algorithm, total_steps=1024, num_envs=8, eval_interval=512,
                         eval_episodes=4, checkpoint_interval=0, **extra)
    result = train(game, config, algorithm=algorithm, seed=0)
    illegal, constrained = illegal_moves(game, recorded)
    assert constrained > 100  # the masks mattered: many decisions had an illegal action
    assert illegal == 0
    # the tabular policies give illegal actions probability exactly zero
    view = result.tree
    assert view is not None and view.legal is not None and result.profile is not None
    for policy, legal in zip(result.profile, view.legal):
        assert np.all(policy[~legal] == 0.0)
    # NashConv is measured exactly on the tree, and labelled so
    report = result.exploitability
    assert report is not None and report.kind == "exact"
    assert all(row["measured_on"] == "tree" for row in result.metrics)
    on_tree = tree_nash_conv(game, result.behaviour_profile())
    assert report.nash_conv == pytest.approx(on_tree.nash_conv, abs=1e-12)


def test_learners_without_masks_refuse_clearly() -> None:
    config = make_config("central", total_steps=64, num_envs=2, eval_interval=64)
    with pytest.raises(ValueError, match="central cannot train here: this game has illegal "
                                         "actions"):
        train(masked_tree(team=True), config, algorithm="central")
    config = make_config("maddpg", total_steps=64, num_envs=2, eval_interval=64,
                         recurrent=True)
    with pytest.raises(ValueError, match="maddpg supports legal-action masks with feed-forward"):
        train(masked_tree(team=False), config, algorithm="maddpg")


@pytest.mark.parametrize("algorithm", ["ippo", "iql"])
def test_leduc_nash_conv_equals_openspiel(algorithm, recorded) -> None:
    pytest.importorskip("pyspiel", reason="OpenSpiel supplies Leduc poker")
    from open_spiel.python.algorithms import exploitability as os_exploitability

    from gametools.interop.openspiel import extensive_from_openspiel, policy_to_openspiel_tabular

    extra = REPLAY if algorithm == "iql" else {}
    config = make_config(algorithm, total_steps=512, num_envs=8, eval_interval=256,
                         eval_episodes=4, checkpoint_interval=0, **extra)
    result = train("openspiel:leduc_poker", config, algorithm=algorithm, seed=0)
    tree = extensive_from_openspiel("leduc_poker")
    assert result.tree is not None
    assert tree.game.infoset_labels == result.tree.game.infoset_labels
    illegal, constrained = illegal_moves(tree.game, recorded)
    assert constrained > 0 and illegal == 0
    report = result.exploitability
    assert report is not None and report.kind == "exact"
    behaviour = result.behaviour_profile()
    openspiel = os_exploitability.nash_conv(tree.openspiel_game,
                                            policy_to_openspiel_tabular(tree, behaviour))
    assert report.nash_conv == pytest.approx(openspiel, abs=1e-9)
    assert report.nash_conv > 0.1  # a short run is far from Leduc's equilibrium


@pytest.mark.parametrize("algorithm", ["mappo", "ippo"])
def test_short_run_on_kuhn_lowers_nash_conv_below_uniform(algorithm) -> None:
    pytest.importorskip("pyspiel", reason="OpenSpiel supplies Kuhn poker")
    import pyspiel
    from open_spiel.python import policy as os_policy
    from open_spiel.python.algorithms import exploitability as os_exploitability

    kuhn = pyspiel.load_game("kuhn_poker")
    uniform = os_exploitability.nash_conv(kuhn, os_policy.UniformRandomPolicy(kuhn))  # 11/12
    config = make_config(algorithm, total_steps=2048, num_envs=16, eval_interval=1024,
                         checkpoint_interval=0, learning_rate=3e-3)
    result = train(kuhn, config, algorithm=algorithm, seed=0)
    first, last = result.metrics[0]["nash_conv"], result.metrics[-1]["nash_conv"]
    # the initial policy (logits of gain 0.01) is nearly uniform; training lowers NashConv well
    # below the uniform policy's
    assert first == pytest.approx(uniform, abs=0.01)
    assert last < uniform - 0.2
