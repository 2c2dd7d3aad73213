"""Every learner on a CUDA device: device-consistent generators, the same results as on CPU."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gametools import NormalFormGame
from gametools.marl.train import ALGORITHMS, make_config, train

torch.set_num_threads(1)

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(),
                                reason="needs a CUDA GPU (torch.cuda.is_available() is False)")


def team_game() -> NormalFormGame:
    """Both receive 10 at (0, 0), 4 at (1, 1), 0 otherwise: the team optimum is (0, 0)."""
    team = np.array([[10, 0], [0, 4]], dtype=float)
    return NormalFormGame(np.stack([team, team]))


BUDGET = {"total_steps": 3072, "num_envs": 32, "eval_interval": 1024, "eval_episodes": 4}
REPLAY = {"learning_starts": 256, "batch_size": 64, "updates_per_iteration": 4}
EXTRA = {"maddpg": dict(REPLAY, total_steps=8192, eval_interval=4096, updates_per_iteration=2),
         "qmix": dict(REPLAY, epsilon_fraction=0.3), "vdn": dict(REPLAY, epsilon_fraction=0.3),
         "iql": dict(REPLAY, epsilon_fraction=0.3), "maa2c": {"total_steps": 6144,
                                                             "learning_rate": 1e-2}}


@pytest.mark.parametrize("algorithm", sorted(ALGORITHMS))
def test_every_learner_trains_on_cuda(algorithm: str, tmp_path) -> None:
    config = make_config(algorithm, **{"learning_rate": 3e-3, **BUDGET,
                                       **EXTRA.get(algorithm, {})})
    result = train(team_game(), config, algorithm=algorithm, seed=0, device="cuda",
                   out=tmp_path)
    report = result.exploitability
    assert report is not None and report.kind == "exact"
    assert np.all(np.isfinite(report.values))
    # a greedy one-shot episode pays one of the game's entries
    assert result.metrics[-1]["eval_return_0"] in (0.0, 4.0, 10.0)
    if algorithm in ("qmix", "vdn", "central"):
        # team learners reach the team optimum (0, 0), paying 10 to both (as on CPU)
        assert min(report.values) >= 9.0
    # a checkpoint written on CUDA holds the device generator's state and resumes on CUDA
    resumed = train(team_game(), config, algorithm=algorithm, seed=0, device="cuda",
                    out=tmp_path, resume=True)
    assert resumed.steps == result.steps


def test_device_generators_live_on_the_device() -> None:
    from gametools.marl.env import TensorGameEnv
    from gametools.marl.train import learner_class

    env = TensorGameEnv(team_game().to_markov_game(), num_envs=4, device="cuda")
    learner = learner_class("maddpg")(env, make_config("maddpg"), seed=0)
    assert learner.device_generator.device.type == "cuda"
    assert learner.generator.device.type == "cpu"
    env.reset(seed=0)
    assert learner.iterate()["env_steps"] == 4.0  # discrete MADDPG samples Gumbel noise on cuda


@pytest.mark.parametrize("algorithm", ["iql", "qmix", "mappo", "maa2c", "maddpg"])
def test_recurrent_agents_train_on_cuda(algorithm: str, tmp_path) -> None:
    from gametools.marl.matrix_games import recall_game

    extra = {"iql": dict(REPLAY, epsilon_fraction=0.3), "qmix": dict(REPLAY, epsilon_fraction=0.3),
             "mappo": {}, "maa2c": {"learning_rate": 1e-2},
             "maddpg": dict(REPLAY, updates_per_iteration=2, actor_learning_rate=3e-3)
             }[algorithm]
    config = make_config(algorithm, **{"learning_rate": 3e-3, **BUDGET, "eval_episodes": 16,
                                       "recurrent": True, **extra})
    result = train(recall_game(), config, algorithm=algorithm, seed=0, device="cuda",
                   out=tmp_path)
    # every memoryless policy earns 1/2 in the recall game; recalling the cue earns 1 (the
    # CPU test, tests/test_marl_recurrent.py, reaches 1 with these budgets)
    assert result.metrics[-1]["eval_return_0"] >= 0.9
    resumed = train(recall_game(), config, algorithm=algorithm, seed=0, device="cuda",
                    out=tmp_path, resume=True)
    assert resumed.steps == result.steps
