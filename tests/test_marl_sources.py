"""What train() and `gametools train` accept: game files, PettingZoo environments, import paths."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from gametools import NormalFormGame, nash_conv
from gametools.interop.pettingzoo import MarkovGameParallelEnv
from gametools.marl.parallel_env import EnvironmentSource, ParallelVectorEnv, resolve_environment
from gametools.marl.train import make_config, train

torch.set_num_threads(1)


def team_game() -> NormalFormGame:
    """Both receive 10 at (0, 0), 4 at (1, 1), 0 otherwise (a cooperative coordination game)."""
    team = np.array([[10, 0], [0, 4]], dtype=float)
    return NormalFormGame(np.stack([team, team]))


def test_parallel_env_adapter_pays_the_game_payoffs() -> None:
    # matching pennies through PettingZoo: (heads, tails) pays (-1, +1) (the game's definition)
    pennies = NormalFormGame.zero_sum([[1, -1], [-1, 1]]).to_markov_game()
    env = ParallelVectorEnv(EnvironmentSource(lambda: MarkovGameParallelEnv(pennies), "pennies"),
                            num_envs=3, seed=0)
    step = env.step([torch.zeros(3, dtype=torch.long), torch.ones(3, dtype=torch.long)])
    assert step.rewards.tolist() == [[-1.0, 1.0]] * 3
    assert bool(step.terminated.all()) and not bool(step.truncated.any())
    # one-hot observation ids of the one-shot game's two states (play, end); state() is the id
    assert env.observation_sizes == (2, 2) and env.state_size == 1


def test_train_on_a_parallel_env_factory_reports_returns_not_nash_conv(tmp_path) -> None:
    game = team_game().to_markov_game()
    source = EnvironmentSource(lambda: MarkovGameParallelEnv(game), "team", cooperative=True)
    config = make_config("qmix", total_steps=1536, num_envs=16, eval_interval=512,
                         learning_starts=128, batch_size=64, epsilon_fraction=0.3,
                         updates_per_iteration=4)
    result = train(source, config, algorithm="qmix", seed=1, out=tmp_path)
    assert result.exploitability is None and result.game is None and result.profile is None
    assert all(row["kind"] == "none" and "nash_conv" not in row for row in result.metrics)
    summary = json.loads((tmp_path / "result.json").read_text())
    assert summary["exploitability"] is None and "no tabular game" in summary[
        "exploitability_note"]
    # the greedy team learned on the PettingZoo copy is the team optimum (0, 0) of the game
    # itself (payoff 10 to both): NashConv 0 on the tabular game
    probe = ParallelVectorEnv(source, num_envs=1)
    reset = probe.reset(seed=0)
    learner_actions = []
    from gametools.marl.train import learner_class
    learner = learner_class("qmix")(probe, config, seed=1)
    learner.load_state_dict(torch.load(tmp_path / "checkpoint.pt", weights_only=True)["learner"])
    for agent in range(2):
        learner_actions.append(int(learner.policy(agent, reset.observations[agent]).argmax()))
    assert learner_actions == [0, 0]
    assert nash_conv(team_game(), [np.eye(2)[0], np.eye(2)[0]]).nash_conv == 0.0


def test_import_paths_and_game_files_are_accepted(tmp_path) -> None:
    from gametools.formats.npz import save_game

    source = resolve_environment("gametools.interop.pettingzoo:MarkovGameParallelEnv",
                                 {"game": team_game().to_markov_game()})
    assert source.name == "gametools.interop.pettingzoo:MarkovGameParallelEnv"
    config = make_config("ippo", total_steps=256, num_envs=8, eval_interval=128)
    result = train("gametools.interop.pettingzoo:MarkovGameParallelEnv", config,
                   algorithm="ippo", params={"game": team_game().to_markov_game()}, seed=0)
    assert result.steps >= 256 and result.exploitability is None
    # an .npz game is trained on as the game itself: exact NashConv
    save_game(tmp_path / "team.npz", team_game().to_markov_game())
    from_file = train(str(tmp_path / "team.npz"), config, algorithm="ippo", seed=0)
    assert from_file.exploitability is not None and from_file.exploitability.kind == "exact"
    with pytest.raises(ValueError, match="cannot import"):
        train("no_such_module_xyz:env", config, algorithm="ippo")


def test_cli_trains_on_a_game_file_and_an_environment(tmp_path, capsys) -> None:
    from gametools.cli import main
    from gametools.formats.npz import save_game

    save_game(tmp_path / "team.npz", team_game().to_markov_game())
    assert main(["train", str(tmp_path / "team.npz"), "--algo", "vdn", "--steps", "512",
                 "--set", "learning_starts=128", "--set", "num_envs=8",
                 "--out", str(tmp_path / "runs"), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["runs"][0]["exploitability"]["kind"] == "exact"
    assert (tmp_path / "runs" / "team-vdn" / "seed0" / "metrics.csv").exists()


def test_mpe2_simple_spread_runs() -> None:
    pytest.importorskip("mpe2", reason="mpe2 (PettingZoo's MPE) is not installed")
    config = make_config("mappo", total_steps=200, num_envs=2, eval_interval=100,
                         rollout_steps=25)
    result = train("pettingzoo:mpe2.simple_spread_v3", config, algorithm="mappo", seed=0,
                   params={"N": 2, "max_cycles": 25, "continuous_actions": False})
    # 2 episodes of 25 steps per copy finished; simple_spread's rewards are negative distances
    assert result.steps >= 200 and result.metrics[-1]["return_0"] < 0
