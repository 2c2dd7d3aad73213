"""Recurrent (GRU) agents: memory beats the memoryless bound, resume stays exact, bad input fails.

The task is :func:`gametools.marl.matrix_games.recall_game`: a fair coin shows cue A or B at step
1, step 2 shows a blank observation, and each agent earns ``1/N`` for naming the cue there. A
policy of the current observation plays one distribution at the blank whatever the cue, so it
names the cue with probability exactly 1/2: every memoryless profile is worth exactly 1/2 per
episode (hand derivation in the game's docstring), the optimum 1.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gametools import policy_values, uniform_profile
from gametools.errors import InvalidArgumentError
from gametools.marl.common import SequenceRecorder
from gametools.marl.env import TensorGameEnv, longest_episode
from gametools.marl.matrix_games import recall_game, repeated_matrix_game, two_step_game
from gametools.marl.train import learner_class, make_config, tabular_profile, train

torch.set_num_threads(1)

RECURRENT = {"total_steps": 2048, "num_envs": 32, "eval_interval": 1024, "eval_episodes": 16,
             "recurrent": True}
REPLAY = {"learning_starts": 256, "batch_size": 64, "epsilon_fraction": 0.3,
          "learning_rate": 3e-3}
BUDGETS = {"iql": REPLAY, "vdn": REPLAY, "qmix": REPLAY,
           "mappo": {"learning_rate": 3e-3},
           "ippo": {"learning_rate": 3e-3},
           "maa2c": {"learning_rate": 1e-2, "total_steps": 3072},
           "maddpg": {"learning_starts": 256, "batch_size": 64, "updates_per_iteration": 2,
                      "learning_rate": 3e-3, "actor_learning_rate": 3e-3}}


def recurrent_config(algorithm: str, **changes):
    return make_config(algorithm, **{**RECURRENT, **BUDGETS[algorithm], **changes})


def test_every_memoryless_profile_of_the_recall_game_is_worth_one_half() -> None:
    game = recall_game()
    # the uniform profile and random tabular profiles: 1/2 each (module docstring)
    rng = np.random.default_rng(0)
    profiles = [uniform_profile(game)]
    for _ in range(5):
        profiles.append(tuple(rng.dirichlet(np.ones(2), size=3) for _ in range(2)))
    for profile in profiles:
        np.testing.assert_allclose(policy_values(game, profile), 0.5, atol=1e-12)


# ippo runs mappo's recurrent actor code with a local critic: the mappo case covers it
@pytest.mark.parametrize("algorithm", sorted(set(BUDGETS) - {"ippo"}))
def test_recurrent_agents_recall_the_cue(algorithm: str) -> None:
    result = train(recall_game(), recurrent_config(algorithm), algorithm=algorithm, seed=0)
    final = result.metrics[-1]
    # 16 greedy evaluation episodes, each worth 1 exactly when both agents name the cue: a mean
    # of 1 means every episode was solved (both cues occur among 16 fair draws: probability
    # 1 - 2^-15); a memoryless policy's expected return is 1/2
    assert final["eval_return_0"] == pytest.approx(1.0, abs=1e-12)
    # no tabular NashConv for a history-dependent policy: returns only, labelled
    assert result.exploitability is None and final["kind"] == "none"
    assert result.profile is None


def test_the_feedforward_learner_stays_at_the_memoryless_bound() -> None:
    config = make_config("iql", **{**RECURRENT, **REPLAY, "recurrent": False})
    result = train(recall_game(), config, algorithm="iql", seed=0)
    # exact value of the learned tabular profile: 1/2 whatever it learned (module docstring)
    np.testing.assert_allclose(result.exploitability.values, 0.5, atol=1e-9)


@pytest.mark.parametrize("algorithm,changes", [
    # 16 episodes of 2 steps, one step per iteration: the checkpoint at 272 steps (17
    # iterations) falls in the middle of every episode (memory and sequences in flight)
    ("qmix", {"num_envs": 16, "checkpoint_interval": 272, "total_steps": 448,
              "eval_interval": 160, "learning_starts": 64}),
    # the same cut for MADDPG's recurrent actors (memory, sequences in flight, Gumbel noise)
    ("maddpg", {"num_envs": 16, "checkpoint_interval": 272, "total_steps": 448,
                "eval_interval": 160, "learning_starts": 64}),
    # rollouts of 3 steps over 2-step episodes: the checkpoint after 3 iterations (144 steps)
    # falls in the middle of every episode
    ("mappo", {"num_envs": 16, "rollout_steps": 3, "checkpoint_interval": 144,
               "total_steps": 288, "eval_interval": 96}),
])
def test_recurrent_resume_equals_uninterrupted(algorithm: str, changes, tmp_path,
                                               monkeypatch) -> None:
    from gametools.marl import train as train_module

    game = recall_game()
    config = recurrent_config(algorithm, **changes)
    whole = train(game, config, algorithm=algorithm, seed=3, out=tmp_path / "whole")
    original = train_module._save_checkpoint
    saved: list[int] = []

    def keep_first(path, payload):  # a run killed right after its first checkpoint
        if not saved:
            saved.append(payload["steps"])
            original(path, payload)

    monkeypatch.setattr(train_module, "_save_checkpoint", keep_first)
    train(game, config, algorithm=algorithm, seed=3, out=tmp_path / "resumed")
    monkeypatch.setattr(train_module, "_save_checkpoint", original)
    assert saved and saved[0] % 2 == 0 and saved[0] < config.total_steps
    resumed = train(game, config, algorithm=algorithm, seed=3, out=tmp_path / "resumed",
                    resume=True)
    strip = [[{k: v for k, v in row.items() if k != "wall_time"} for row in rows]
             for rows in (whole.metrics, resumed.metrics)]
    np.testing.assert_equal(strip[0], strip[1])
    assert len(strip[0]) >= 3


def test_parameter_sharing_with_recurrent_agents() -> None:
    env = TensorGameEnv(recall_game(), num_envs=4)
    shared = learner_class("mappo")(env, recurrent_config("mappo"), seed=0)
    # homogeneous agents share one GRU actor reading the observation and the agent's one-hot id
    assert shared.actor_nets.shared and len(shared.actor_nets.nets) == 1
    assert shared.actor_nets.nets[0].encoder.in_features == 3 + 2
    separate = learner_class("qmix")(env, recurrent_config("qmix", share_parameters=False),
                                     seed=0)
    assert not separate.agents.shared and len(separate.agents.nets) == 2
    # the same seed gives the same recurrent network (weights drawn from the learner's generator)
    again = learner_class("mappo")(env, recurrent_config("mappo"), seed=0)
    for a, b in zip(shared.actor_nets.parameters(), again.actor_nets.parameters()):
        assert torch.equal(a, b)


def test_recurrent_settings_are_validated() -> None:
    env = TensorGameEnv(recall_game(), num_envs=4)
    with pytest.raises(InvalidArgumentError, match="global state"):
        learner_class("central")(env, make_config("central", recurrent=True), seed=0)
    with pytest.raises(InvalidArgumentError, match="rnn_hidden_dim"):
        make_config("iql", rnn_hidden_dim=0)
    with pytest.raises(InvalidArgumentError, match="recurrent"):
        make_config("iql", recurrent=1)
    for algorithm in ("qmix", "maddpg"):
        with pytest.raises(InvalidArgumentError, match="sequence_length"):
            make_config(algorithm, sequence_length=0)
    with pytest.raises(InvalidArgumentError, match="minibatches"):
        learner_class("mappo")(env, make_config("mappo", recurrent=True, minibatches=8),
                               seed=0)
    # the command line's --set text is parsed
    assert make_config("vdn", recurrent="true", rnn_hidden_dim="16").recurrent is True
    learner = learner_class("iql")(env, make_config("iql", recurrent=True), seed=0)
    with pytest.raises(InvalidArgumentError, match="observation history"):
        tabular_profile(learner, recall_game())
    # the approximate best responses read policies through the same adapter: refused alike
    from gametools.marl.adapters import as_callables
    with pytest.raises(InvalidArgumentError, match="observation history"):
        as_callables(learner, 2)


def test_whole_episodes_are_replayed() -> None:
    # longest episodes by construction: two steps (Rashid et al. 2018), 25 (EPyMARL), 2
    assert longest_episode(two_step_game()) == 2
    assert longest_episode(repeated_matrix_game(np.eye(2), steps=25)) == 25
    assert longest_episode(recall_game()) == 2
    # a game that can loop forever (discount < 1, no terminal state) has no bound
    from gametools import NormalFormGame
    from gametools.model import MarkovGame
    looping = MarkovGame(np.ones((1, 2, 2, 1)), np.zeros((2, 1, 2, 2)), [1.0], 0.9)
    assert longest_episode(looping) is None
    assert longest_episode(NormalFormGame.zero_sum([[1, -1], [-1, 1]]).to_markov_game()) == 1
    env = TensorGameEnv(recall_game(), num_envs=4)
    learner = learner_class("qmix")(env, make_config("qmix", recurrent=True), seed=0)
    assert learner.recorder.length == 2


def test_long_episodes_are_cut_into_sequences_with_their_start_memory() -> None:
    # one environment, sequences of 2 steps, an episode of 3 steps: [s0, s1] then [s2, pad]
    recorder = SequenceRecorder(1, 2, {"action": ((), torch.int64)},
                                {"obs": ((1,), torch.float32)}, {"hidden": ((1,), torch.float32)})
    finished = []
    for t in range(3):
        recorder.begin(hidden=torch.tensor([[10.0 * t]]))
        out = recorder.record(before={"obs": torch.tensor([[float(t)]])},
                              after={"obs": torch.tensor([[t + 1.0]])},
                              step={"action": torch.tensor([t])},
                              done=torch.tensor([t == 2]))
        if out is not None:
            finished.append(out)
    assert len(finished) == 2
    first, second = finished
    assert first["mask"].tolist() == [[1.0, 1.0]] and second["mask"].tolist() == [[1.0, 0.0]]
    assert first["obs"].flatten().tolist() == [0.0, 1.0, 2.0]  # before each step, and after
    assert second["obs"].flatten().tolist() == [2.0, 3.0, 0.0]
    assert first["action"].tolist() == [[0, 1]] and second["action"].tolist() == [[2, 0]]
    # the first sequence starts an episode (memory 0); the second at step 2, where it was 20
    assert first["hidden"].item() == 0.0 and second["hidden"].item() == 20.0


def test_cli_trains_recurrent_agents_and_says_why_there_is_no_nash_conv(tmp_path,
                                                                         capsys) -> None:
    import json

    from gametools.cli import main
    from gametools.formats.npz import save_game

    save_game(tmp_path / "recall.npz", recall_game())
    assert main(["train", str(tmp_path / "recall.npz"), "--algo", "maa2c", "--steps", "320",
                 "--set", "recurrent=true", "--set", "rnn_hidden_dim=16", "--set",
                 "num_envs=8", "--threads", "1", "--out", str(tmp_path / "runs")]) == 0
    assert "recurrent agents have no tabular policy" in capsys.readouterr().out
    summary = json.loads((tmp_path / "runs" / "recall-maa2c" / "seed0" / "result.json")
                         .read_text())
    assert summary["exploitability"] is None and "observation history" in \
        summary["exploitability_note"]
    assert not (tmp_path / "runs" / "recall-maa2c" / "seed0" / "policy.npz").exists()


def test_recurrent_q_learning_on_an_outside_environment() -> None:
    pytest.importorskip("mpe2", reason="mpe2 (PettingZoo's MPE) is not installed")
    # simple_spread does not bound its episodes for the learner (max_cycles is the factory's
    # own): sequences of the default length, 25-step episodes each stored whole and padded
    config = make_config("iql", total_steps=150, num_envs=2, eval_interval=150,
                         eval_episodes=1, learning_starts=100, batch_size=64, recurrent=True,
                         rnn_hidden_dim=16)
    result = train("pettingzoo:mpe2.simple_spread_v3", config, algorithm="iql", seed=0,
                   params={"N": 2, "max_cycles": 25, "continuous_actions": False})
    last = result.metrics[-1]
    assert result.steps >= 150 and last["return_0"] < 0 and np.isfinite(last["loss"])


def test_recurrent_maddpg_acts_in_a_box() -> None:
    # continuous (Box) actions: the one-shot first-price auction of games.auction_env, bids in
    # [0, 1]; its episodes last one step, so sequences of one step hold them whole
    from games.auction_env import AuctionEnv

    env = AuctionEnv(auction="first_price", n_bidders=2, n_values=8, reserve=0.0,
                     value_grid=False, num_envs=8, seed=0, device="cpu")
    config = make_config("maddpg", recurrent=True, num_envs=8, learning_starts=16,
                         batch_size=8, sequence_length=1, rnn_hidden_dim=8)
    learner = learner_class("maddpg")(env, config, seed=0)
    env.reset(seed=0)
    statistics = [learner.iterate() for _ in range(4)]
    # updates start once 16 steps are stored (two iterations of 8 episodes)
    assert "actor_loss" not in statistics[0] and "actor_loss" in statistics[-1]
    assert all(np.isfinite(statistics[-1][name]) for name in
               ("critic_loss", "actor_loss", "critic_grad_norm", "actor_grad_norm"))
    # every episode ended at each step, so every hidden state was reset to zero
    assert learner.memory.shape == (2, 8, 8) and not bool(learner.memory.any())
    actions, memory = learner.act(env.observe())
    assert memory is not None and memory.shape == (2, 8, 8) and bool(memory.any())
    for bids in actions:  # deterministic bids inside the box, one per episode
        assert bids.shape == (8, 1) and bool(((bids >= 0) & (bids <= 1)).all())
    with pytest.raises(InvalidArgumentError, match="observation history"):
        learner.policy(0, env.observe().observations[0])
