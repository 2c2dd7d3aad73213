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


def test_cli_trains_on_an_efg_file(tmp_path, capsys) -> None:
    from test_efg_legacy import BEER_QUICHE_CURRENT

    from gametools.cli import main

    (tmp_path / "beer_quiche.efg").write_text(BEER_QUICHE_CURRENT)
    assert main(["train", str(tmp_path / "beer_quiche.efg"), "--algo", "ippo", "--steps", "128",
                 "--set", "num_envs=8", "--out", str(tmp_path / "runs"), "--json"]) == 0
    run = json.loads(capsys.readouterr().out)["runs"][0]
    assert run["exploitability"]["kind"] == "exact"
    # the tree's own evaluator (gametools.extensive.nash_conv) on the final policy mapped back
    # to the tree agrees with the Markov game's NashConv
    summary = json.loads((tmp_path / "runs" / "beer_quiche-ippo" / "seed0" / "result.json")
                         .read_text())
    assert summary["tree"]["nash_conv"]["nash_conv"] == pytest.approx(
        run["exploitability"]["nash_conv"], abs=1e-9)


def test_a_tree_that_is_no_markov_game_is_refused() -> None:
    from gametools.formats.efg import parse_efg

    # player 2's infoset "b" is reached right away or after player 1 moves again: a Markov
    # game's observations would count the steps (different action counts are legal-action
    # masks instead: tests/test_marl_masks.py)
    tree = parse_efg('''EFG 2 R "" { "A" "B" }
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
''')
    config = make_config("ippo", total_steps=64, num_envs=2, eval_interval=64)
    with pytest.raises(ValueError, match="not a Markov game the learners can run on"):
        train(tree, config, algorithm="ippo")


class TeamVectorEnv:
    """A hand-written multi-agent vector environment (the protocol of
    :class:`~gametools.marl.parallel_env.VectorParallelEnvAdapter`): ``num_envs`` copies of a
    coordination game played ``horizon`` times. Both agents receive 10 at (0, 0), 4 at (1, 1),
    0 otherwise; each observes the stage number (``horizon`` after the last stage)."""

    possible_agents = ["a", "b"]

    def __init__(self, num_envs: int, horizon: int = 2) -> None:
        from gymnasium import spaces

        self.num_envs, self.horizon = num_envs, horizon
        self.stage = np.zeros(num_envs, dtype=np.int64)
        self._observation = spaces.Discrete(horizon + 1)
        self._action = spaces.Discrete(2)

    def observation_space(self, agent: str):
        return self._observation

    def action_space(self, agent: str):
        return self._action

    def reset(self, seed=None):
        self.stage[:] = 0
        return {a: self.stage.copy() for a in self.possible_agents}, {}

    def step(self, actions):
        a, b = np.asarray(actions["a"]), np.asarray(actions["b"])
        reward = np.where((a == 0) & (b == 0), 10.0, np.where((a == 1) & (b == 1), 4.0, 0.0))
        self.stage += 1
        done = self.stage == self.horizon
        final = {agent: self.stage.copy() for agent in self.possible_agents}
        self.stage[done] = 0  # same-step autoreset
        observations = {agent: self.stage.copy() for agent in self.possible_agents}
        flags = {agent: done.copy() for agent in self.possible_agents}
        never = {agent: np.zeros(self.num_envs, dtype=bool) for agent in self.possible_agents}
        return (observations, {agent: reward for agent in self.possible_agents}, flags, never,
                {"final_observation": final})


def test_vector_env_adapter_follows_the_protocol() -> None:
    from gametools.marl.parallel_env import (VectorParallelEnvAdapter, make_vector_env,
                                             resolve_environment)

    source = resolve_environment(TeamVectorEnv, cooperative=True)
    assert source.vectorised  # the constructor names num_envs
    env = make_vector_env(source, num_envs=3, seed=0)
    assert isinstance(env, VectorParallelEnvAdapter)
    assert env.observation_sizes == (3, 3) and env.state_size == 6  # one-hot stages, concatenated
    first = env.step([torch.tensor([0, 1, 0]), torch.tensor([0, 1, 1])])
    # the game's payoffs: (0, 0) -> 10, (1, 1) -> 4, (0, 1) -> 0, to both agents
    assert first.rewards.tolist() == [[10.0, 10.0], [4.0, 4.0], [0.0, 0.0]]
    assert not bool(first.terminated.any()) and first.observations[0].argmax(1).tolist() == [1] * 3
    second = env.step([torch.zeros(3, dtype=torch.long)] * 2)
    assert second.terminated.tolist() == [True] * 3
    # autoreset: the new episode's stage 0 is returned, the last stage (2) is the final observation
    assert second.observations[0].argmax(1).tolist() == [0] * 3
    assert second.final_observations[0].argmax(1).tolist() == [2] * 3


def test_train_on_a_vector_env_learns_the_team_optimum(tmp_path, capsys) -> None:
    from gametools.cli import main

    config = make_config("ippo", total_steps=1024, num_envs=16, eval_interval=512,
                         eval_episodes=4, checkpoint_interval=0)
    result = train(TeamVectorEnv, config, algorithm="ippo", seed=0, best_response=False)
    assert result.exploitability is None and result.game is None
    # greedy evaluation episodes: two stages at the team optimum (0, 0), 10 each (hand-solved)
    assert result.metrics[-1]["eval_return_0"] == pytest.approx(20.0)
    # the command line takes the class by its import path (tests/ is on sys.path under pytest)
    # and, by default (--best-response auto, a small run), reports learned lower bounds
    assert main(["train", "test_marl_inputs:TeamVectorEnv", "--algo", "ippo", "--steps", "256",
                 "--set", "num_envs=8", "--best-response-steps", "256",
                 "--best-response-episodes", "64", "--out", str(tmp_path), "--json"]) == 0
    run = json.loads(capsys.readouterr().out)["runs"][0]
    assert run["steps"] >= 256 and run["exploitability"] is None
    lower = run["approximate_exploitability"]["lower_bound"]
    assert lower["kind"] == "lower_bound" and len(lower["intervals"]) == 2
    assert main(["train", "test_marl_inputs:TeamVectorEnv", "--algo", "ippo", "--steps", "128",
                 "--set", "num_envs=8", "--best-response", "off", "--out",
                 str(tmp_path / "off")]) == 0
    assert "no NashConv" in capsys.readouterr().out


def test_outside_environment_reports_labelled_learned_lower_bounds(tmp_path) -> None:
    from gametools import NormalFormGame
    from gametools.interop.pettingzoo import MarkovGameParallelEnv
    from gametools.marl.best_response import LearnedResponder
    from gametools.marl.parallel_env import EnvironmentSource
    from gametools.marl.train import learner_class

    # a one-shot game wrapped as a PettingZoo ParallelEnv: the row player earns 1 for action 1
    # and 0 for action 0 whatever the column player does; the column player earns the negative,
    # which its own action does not change. Against row mix p = P(action 1), the true gains
    # are 1 - p (row: play 1) and exactly 0 (column), in closed form.
    row = np.array([[0.0, 0.0], [1.0, 1.0]])
    game = NormalFormGame.zero_sum(row)
    source = EnvironmentSource(lambda: MarkovGameParallelEnv(game.to_markov_game()), "one-shot")
    # a barely trained (exploitable) profile: tiny learning rate, few steps
    config = make_config("ippo", total_steps=256, num_envs=8, eval_interval=256,
                         learning_rate=1e-5, eval_episodes=2)
    result = train(source, config, algorithm="ippo", seed=0, out=tmp_path,
                   best_response=LearnedResponder("ppo", budget=512),
                   best_response_episodes=200)
    bounds = result.approximate
    assert result.exploitability is None and bounds is not None and bounds.kind == "lower_bound"
    # the trained row mix, read from the saved learner at the game's one observation
    probe = learner_class("ippo")(
        __import__("gametools.marl.parallel_env", fromlist=["x"]).ParallelVectorEnv(source),
        config, seed=0)
    probe.load_state_dict(torch.load(tmp_path / "checkpoint.pt", weights_only=True)["learner"])
    with torch.no_grad():
        p = float(probe.policy(0, torch.eye(2)[:1])[0, 1])
    true_gains = np.array([1.0 - p, 0.0])
    # lower bounds: the interval's lower end never exceeds the true gain; the row player's
    # exploitability (about 1/2) is detected, the column player's gain is exactly 0 under
    # common random numbers
    assert np.all(bounds.gain_intervals[:, 0] <= true_gains + 1e-9)
    assert bounds.gain_intervals[0, 0] > 0.25
    assert bounds.gains[1] == pytest.approx(0.0, abs=1e-12)
    last = result.metrics[-1]
    assert last["kind"] == "lower_bound" and last["gain_ci_low_0"] == bounds.gain_intervals[0, 0]
    summary = json.loads((tmp_path / "result.json").read_text())
    assert summary["exploitability"] is None
    assert summary["approximate_exploitability"]["lower_bound"]["kind"] == "lower_bound"
    assert "lower bounds" in summary["exploitability_note"]
