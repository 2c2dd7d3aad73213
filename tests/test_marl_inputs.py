"""train() on OpenSpiel games and game trees, on multi-agent vector environments, and the learned
best-response lower bounds reported for outside environments.

Ground truth from outside the training code: OpenSpiel's own ``exploitability.nash_conv`` and
gametools' tree evaluator (:func:`gametools.extensive.nash_conv`) on the learned policy, and
hand-solved one-shot games.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from gametools.marl.train import make_config, train

torch.set_num_threads(1)


def test_openspiel_kuhn_poker_reports_the_trees_exact_nash_conv(tmp_path) -> None:
    pytest.importorskip("pyspiel", reason="OpenSpiel supplies Kuhn poker")
    from open_spiel.python.algorithms import exploitability as os_exploitability

    from gametools.extensive import nash_conv as tree_nash_conv
    from gametools.interop.openspiel import extensive_from_openspiel, policy_to_openspiel_tabular

    config = make_config("ippo", total_steps=1024, num_envs=8, eval_interval=512,
                         checkpoint_interval=0)
    result = train("openspiel:kuhn_poker", config, algorithm="ippo", seed=0, out=tmp_path)
    report = result.exploitability
    assert report is not None and report.kind == "exact"
    assert all(row["kind"] == "exact" for row in result.metrics)
    # the same learned policy on the tree, evaluated by the tree's evaluator and by OpenSpiel
    behaviour = result.behaviour_profile()
    tree = extensive_from_openspiel("kuhn_poker")
    assert tree.game.infoset_labels == result.tree.game.infoset_labels  # type: ignore[union-attr]
    on_tree = tree_nash_conv(tree.game, behaviour)
    openspiel = os_exploitability.nash_conv(tree.openspiel_game,
                                            policy_to_openspiel_tabular(tree, behaviour))
    assert report.nash_conv == pytest.approx(on_tree.nash_conv, abs=1e-9)
    assert report.nash_conv == pytest.approx(openspiel, abs=1e-9)
    # a short run is not an equilibrium of Kuhn poker (its NashConv is positive) and its game
    # value for player 1 is -1/18 only at equilibrium (Kuhn 1950): the number is not trivial
    assert report.nash_conv > 1e-3
    summary = json.loads((tmp_path / "result.json").read_text())
    assert summary["exploitability"]["kind"] == "exact"
    assert summary["tree"]["nash_conv"]["nash_conv"] == pytest.approx(report.nash_conv, abs=1e-9)


def test_cli_trains_on_an_openspiel_game(tmp_path, capsys) -> None:
    pytest.importorskip("pyspiel", reason="OpenSpiel supplies Kuhn poker")
    from gametools.cli import main

    assert main(["train", "openspiel:kuhn_poker", "--algo", "iql", "--steps", "256",
                 "--set", "learning_starts=64", "--set", "num_envs=8",
                 "--out", str(tmp_path), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["runs"][0]["exploitability"]["kind"] == "exact"
    assert (tmp_path / "kuhn_poker-iql" / "seed0" / "metrics.csv").exists()
    # an unknown OpenSpiel game is a one-line user error (exit 2)
    assert main(["train", "openspiel:no_such_game_xyz", "--algo", "iql", "--steps", "64",
                 "--out", str(tmp_path)]) == 2
    assert "no_such_game_xyz" in capsys.readouterr().err


def test_a_tree_that_is_no_markov_game_is_refused() -> None:
    from gametools.formats.efg import parse_efg

    # player 1 has two actions at one infoset and three at the other: a MarkovGame gives a
    # player the same actions everywhere
    tree = parse_efg('EFG 2 R "" { "A" "B" } c "" 1 "" { "x" 1/2 "y" 1/2 } 0 '
                     'p "" 1 1 "" { "l" "r" } 0 t "" 1 "" { 1 -1 } t "" 2 "" { 0 0 } '
                     'p "" 1 2 "" { "l" "m" "r" } 0 t "" 3 "" { 0 0 } t "" 4 "" { 2 -2 } '
                     't "" 5 "" { 1 1 }')
    config = make_config("ippo", total_steps=64, num_envs=2, eval_interval=64)
    with pytest.raises(ValueError, match="not a Markov game the learners can run on"):
        train(tree, config, algorithm="ippo")
