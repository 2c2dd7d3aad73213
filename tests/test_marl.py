"""Learners, in process on tiny budgets: exploitability falls, seeds reproduce, resume is exact."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gametools import NormalFormGame, nash_conv, uniform_profile
from gametools.marl.train import ALGORITHMS, CheckpointError, make_config, train

torch.set_num_threads(1)


def dominance_game() -> NormalFormGame:
    """A 3x3 general-sum game solvable by iterated strict dominance.

    Row: action 2 strictly dominates 0 and 1 (payoffs 3 > 2 > 0 in every column); given row 2,
    column 1 is the unique best response (payoff 4). The unique equilibrium is (2, 1), and the
    uniform profile's NashConv is positive (hand-checked below), so learning has room to improve.
    """
    row = np.array([[0, 0, 0], [2, 2, 2], [3, 3, 3]], dtype=float)
    column = np.array([[1, 0, 0], [0, 1, 0], [1, 4, 2]], dtype=float)
    return NormalFormGame.from_bimatrix(row, column)


def team_game() -> NormalFormGame:
    """A 2x2 cooperative coordination game: both receive 10 at (0, 0), 4 at (1, 1), 0 otherwise."""
    team = np.array([[10, 0], [0, 4]], dtype=float)
    return NormalFormGame(np.stack([team, team]))


def assert_same_metrics(first, second) -> None:
    """Equal rows except wall time (nan returns, before any episode ends, count as equal)."""
    strip = [[{k: v for k, v in row.items() if k != "wall_time"} for row in rows]
             for rows in (first, second)]
    np.testing.assert_equal(strip[0], strip[1])


TINY = {"total_steps": 3072, "num_envs": 32, "eval_interval": 1024}
BUDGETS = {
    "mappo": dict(TINY, learning_rate=3e-3),
    "ippo": dict(TINY, learning_rate=3e-3),
    "maa2c": dict(TINY, total_steps=6144, eval_interval=2048, learning_rate=1e-2),
    "central": dict(TINY, learning_rate=3e-3),
    "maddpg": dict(TINY, total_steps=12288, eval_interval=4096, learning_starts=256,
                   batch_size=64, updates_per_iteration=2),
    "qmix": dict(TINY, learning_starts=256, batch_size=64, epsilon_fraction=0.3,
                 updates_per_iteration=4),
    "iql": dict(TINY, learning_starts=256, batch_size=64, epsilon_fraction=0.3,
                updates_per_iteration=4),
    "vdn": dict(TINY, learning_starts=256, batch_size=64, epsilon_fraction=0.3,
                updates_per_iteration=4),
}


def test_every_registered_algorithm_has_a_budget() -> None:
    assert set(BUDGETS) == set(ALGORITHMS)


@pytest.mark.parametrize("algorithm", ["mappo", "ippo", "maa2c", "maddpg", "iql"])
def test_learning_lowers_nash_conv(algorithm: str) -> None:
    game = dominance_game()
    # uniform: row gains 3 - 5/3 = 4/3; column against row uniform gets (2/3, 5/3, 2/3) for its
    # actions, uniform earns 1, gain 2/3: NashConv 2 (hand computation)
    assert nash_conv(game, uniform_profile(game)).nash_conv == pytest.approx(2.0)
    result = train(game, make_config(algorithm, **BUDGETS[algorithm]), algorithm=algorithm,
                   seed=0)
    assert result.exploitability.kind == "exact"
    assert result.exploitability.nash_conv <= 0.1 * 2.0
    assert result.metrics[0]["step"] == 0 and result.metrics[-1]["step"] >= 3072


@pytest.mark.parametrize("algorithm", ["qmix", "vdn", "central"])
def test_team_learners_reach_the_team_optimum(algorithm: str) -> None:
    result = train(team_game(), make_config(algorithm, **BUDGETS[algorithm]),
                   algorithm=algorithm, seed=1)
    # the team optimum (0, 0) pays 10 to both; it is the payoff-dominant equilibrium
    assert [int(np.argmax(p[0])) for p in result.profile] == [0, 0]
    # stochastic policies are near-deterministic after a tiny budget: within 1% of the payoff 10
    report = result.exploitability
    assert min(report.values) >= 9.9
    if algorithm == "central":  # a correlated policy: its gap to a coarse correlated equilibrium
        assert report.concept == "coarse_correlated" and report.gap <= 0.1
    else:
        assert report.nash_conv <= 0.1


@pytest.mark.parametrize("algorithm", ["qmix", "vdn", "central"])
def test_team_learners_refuse_general_sum_games(algorithm: str) -> None:
    with pytest.raises(ValueError, match="cooperative game"):
        train(dominance_game(), make_config(algorithm, **BUDGETS[algorithm]),
              algorithm=algorithm, seed=0)


@pytest.mark.parametrize("algorithm", ["mappo", "iql"])
def test_same_seed_same_metrics(algorithm: str) -> None:
    config = make_config(algorithm, **dict(BUDGETS[algorithm], total_steps=1024))
    first = train(dominance_game(), config, algorithm=algorithm, seed=5)
    second = train(dominance_game(), config, algorithm=algorithm, seed=5)
    assert_same_metrics(first.metrics, second.metrics)
    assert all(np.array_equal(a, b) for a, b in zip(first.profile, second.profile))


@pytest.mark.parametrize("algorithm", ["mappo", "maddpg", "qmix"])
def test_resume_equals_uninterrupted(algorithm: str, tmp_path, monkeypatch) -> None:
    from gametools.marl import train as train_module

    game = team_game() if algorithm == "qmix" else dominance_game()
    budget = dict(BUDGETS[algorithm], total_steps=1024, checkpoint_interval=512,
                  eval_interval=256)
    if "learning_starts" in budget:
        budget["learning_starts"] = 128
    config = make_config(algorithm, **budget)
    whole = train(game, config, algorithm=algorithm, seed=3, out=tmp_path / "whole")
    # a run killed right after its first checkpoint: later checkpoints never reach the disk
    original = train_module._save_checkpoint
    saved: list[int] = []

    def keep_first(path, payload):
        if not saved:
            saved.append(payload["steps"])
            original(path, payload)

    monkeypatch.setattr(train_module, "_save_checkpoint", keep_first)
    train(game, config, algorithm=algorithm, seed=3, out=tmp_path / "resumed")
    monkeypatch.setattr(train_module, "_save_checkpoint", original)
    assert saved == [512]
    resumed = train(game, config, algorithm=algorithm, seed=3, out=tmp_path / "resumed",
                    resume=True)
    assert all(np.array_equal(a, b) for a, b in zip(whole.profile, resumed.profile))
    assert_same_metrics(whole.metrics, resumed.metrics)


def test_mismatched_and_corrupt_checkpoints_are_refused(tmp_path) -> None:
    config = make_config("mappo", **dict(BUDGETS["mappo"], total_steps=512,
                                         checkpoint_interval=256))
    train(dominance_game(), config, algorithm="mappo", seed=0, out=tmp_path)
    with pytest.raises(CheckpointError, match="different seed"):
        train(dominance_game(), config, algorithm="mappo", seed=1, out=tmp_path, resume=True)
    with pytest.raises(CheckpointError, match="different game"):
        train(team_game(), config, algorithm="mappo", seed=0, out=tmp_path, resume=True)
    (tmp_path / "checkpoint.pt").write_bytes(b"\x00garbage, not a checkpoint")
    with pytest.raises(CheckpointError, match="not a readable gametools checkpoint"):
        train(dominance_game(), config, algorithm="mappo", seed=0, out=tmp_path, resume=True)


def test_output_folder_can_be_reevaluated_independently(tmp_path) -> None:
    from gametools.formats import load_game, load_profile

    config = make_config("ippo", **dict(BUDGETS["ippo"], total_steps=512))
    result = train(dominance_game(), config, algorithm="ippo", seed=0, out=tmp_path)
    game = load_game(tmp_path / "game.npz")
    profile = load_profile(tmp_path / "policy.npz", game=game)
    again = nash_conv(game, profile)
    assert again.nash_conv == pytest.approx(result.exploitability.nash_conv, abs=1e-12)
    header = (tmp_path / "metrics.csv").read_text().splitlines()[0].split(",")
    assert header[:2] == ["step", "wall_time"] and "nash_conv" in header and "gain_1" in header
    # the comparison with the computed equilibrium: the dominance game's unique equilibrium is
    # (2, 1) with values (3, 4) (iterated strict dominance, see dominance_game)
    import json
    comparison = json.loads((tmp_path / "result.json").read_text())["equilibrium"]
    assert comparison["equilibrium_values"] == pytest.approx([3.0, 4.0])
    values = result.exploitability.values
    assert comparison["value_differences"] == pytest.approx([values[0] - 3.0, values[1] - 4.0])
    assert 0.0 <= comparison["distance"] <= 4.0


def test_unknown_algorithm_and_config_field_are_named() -> None:
    with pytest.raises(ValueError, match="unknown algorithm 'ppo2'"):
        make_config("ppo2")
    with pytest.raises(ValueError, match="has no field 'learning_rat'"):
        make_config("mappo", learning_rat=0.1)


@pytest.mark.parametrize("algorithm", ["mappo", "iql"])
def test_learner_discount_is_independent_of_the_game(algorithm: str) -> None:
    from gametools import MarkovGame
    from gametools.marl.matrix_games import two_step_game

    # Rashid et al. (2018) two-step game, undiscounted; the same game rebuilt with discount 1/2
    # is what training with gamma = 1/2 used to need. The learner sees only its own discount, so
    # the two runs learn bit-identical policies; each is measured with its game's discount.
    game = two_step_game()
    halved = MarkovGame(game.transitions, game.rewards, game.initial, 0.5, terminal=game.terminal)
    budget = dict(BUDGETS[algorithm], total_steps=1024, eval_interval=512)
    ours = train(game, make_config(algorithm, **budget, gamma=0.5), algorithm=algorithm, seed=2)
    rebuilt = train(halved, make_config(algorithm, **budget), algorithm=algorithm, seed=2)
    assert all(np.array_equal(a, b) for a, b in zip(ours.profile, rebuilt.profile))
    # values: the second step's payoff counts fully in the undiscounted game, half in the other
    assert ours.exploitability.values == pytest.approx(2 * rebuilt.exploitability.values)
    assert make_config(algorithm, gamma="0.99").gamma == 0.99
    with pytest.raises(ValueError, match="gamma must be in"):
        make_config(algorithm, gamma=1.5)


def test_a_finished_run_is_extended_to_more_steps(tmp_path) -> None:
    # PPO has no schedule tied to total_steps: extending a finished 1024-step run to 2048 steps
    # reproduces an uninterrupted 2048-step run exactly (1024 is an evaluation point of both)
    budget = dict(BUDGETS["mappo"], eval_interval=256, checkpoint_interval=512)
    short = make_config("mappo", **dict(budget, total_steps=1024))
    long = make_config("mappo", **dict(budget, total_steps=2048))
    whole = train(dominance_game(), long, algorithm="mappo", seed=4, out=tmp_path / "whole")
    first = train(dominance_game(), short, algorithm="mappo", seed=4, out=tmp_path / "extended")
    assert first.steps == 1024
    extended = train(dominance_game(), long, algorithm="mappo", seed=4,
                     out=tmp_path / "extended", resume=True)
    assert extended.steps == 2048
    assert all(np.array_equal(a, b) for a, b in zip(whole.profile, extended.profile))
    assert_same_metrics(whole.metrics, extended.metrics)
    # going back below the steps already done is refused, naming the remedy
    with pytest.raises(CheckpointError, match="raise total_steps"):
        train(dominance_game(), short, algorithm="mappo", seed=4, out=tmp_path / "extended",
              resume=True)


@pytest.mark.parametrize("algorithm", ["mappo", "maddpg", "iql"])
def test_parameter_sharing_defaults_to_homogeneous_agents(algorithm: str) -> None:
    from gametools.marl.env import TensorGameEnv
    from gametools.marl.train import learner_class

    def networks(learner):
        return {"mappo": "actor_nets", "maddpg": "actors", "iql": "agents"}[algorithm]

    # the dominance game's players both have 3 actions (homogeneous): shared by default, and
    # the shared learner still learns the asymmetric equilibrium (2, 1) (test above)
    square = TensorGameEnv(dominance_game().to_markov_game(), num_envs=2)
    learner = learner_class(algorithm)(square, make_config(algorithm), seed=0)
    assert getattr(learner, networks(learner)).shared
    unshared = learner_class(algorithm)(square, make_config(algorithm, share_parameters=False),
                                        seed=0)
    assert not getattr(unshared, networks(unshared)).shared
    # 2 actions against 3: heterogeneous, separate networks; forcing sharing is refused
    uneven = TensorGameEnv(NormalFormGame.from_bimatrix(np.zeros((2, 3)), np.zeros((2, 3)))
                           .to_markov_game(), num_envs=2)
    learner = learner_class(algorithm)(uneven, make_config(algorithm), seed=0)
    assert not getattr(learner, networks(learner)).shared
    with pytest.raises(ValueError, match="parameter sharing needs"):
        learner_class(algorithm)(uneven, make_config(algorithm, share_parameters="true"), seed=0)


@pytest.mark.parametrize("algorithm", ["mappo", "qmix", "maddpg"])
def test_metrics_log_learner_statistics_and_greedy_evaluation(algorithm: str, tmp_path) -> None:
    budget = dict(BUDGETS[algorithm], total_steps=1024, eval_interval=512, eval_episodes=4)
    if "learning_starts" in budget:
        budget["learning_starts"] = 128
    result = train(team_game(), make_config(algorithm, **budget), algorithm=algorithm, seed=0,
                   out=tmp_path)
    header = (tmp_path / "metrics.csv").read_text().splitlines()[0].split(",")
    expected = {"mappo": {"policy_loss", "value_loss", "entropy", "grad_norm", "approx_kl"},
                "qmix": {"loss", "grad_norm", "epsilon", "q_mean"},
                "maddpg": {"critic_loss", "actor_loss", "critic_grad_norm",
                           "actor_grad_norm"}}[algorithm]
    assert expected <= set(header) and {"eval_return_0", "eval_return_1"} <= set(header)
    last = result.metrics[-1]
    assert all(np.isfinite(last[name]) for name in expected)
    # a greedy one-shot episode pays the team game's entry of the greedy joint action (the
    # game's payoffs are 10, 4 or 0), and the exact value of that deterministic profile
    greedy = [int(np.argmax(p[0])) for p in result.profile]
    payoff = team_game().payoffs[0][tuple(greedy)]
    assert last["eval_return_0"] == payoff == last["eval_return_1"]
    if algorithm == "qmix":  # the exploration rate anneals from 1 towards 0.05
        assert 0.05 <= last["epsilon"] < 1.0


def test_tensorboard_is_optional(tmp_path) -> None:
    config = make_config("mappo", **dict(BUDGETS["mappo"], total_steps=256, eval_interval=128))
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        with pytest.raises(ValueError, match="pip install tensorboard"):
            train(team_game(), config, algorithm="mappo", out=tmp_path, tensorboard=True)
        return
    train(team_game(), config, algorithm="mappo", out=tmp_path, tensorboard=True)
    assert any((tmp_path / "tensorboard").iterdir())


@pytest.mark.parametrize("shared", [True, False])
def test_batched_agent_networks_equal_one_agent_at_a_time(shared: bool) -> None:
    # the batched pass (all agents in one call, cached one-hot ids) against the per-agent call,
    # a separate code path: the same outputs; separate networks of uneven agents pad their
    # inputs with zeros and their outputs with the lowest float (never the argmax)
    from gametools.marl.common import AgentNetworks, RecurrentAgentNetworks, stack_padded

    sizes, actions = ([3, 3], [4, 4]) if shared else ([2, 3], [4, 2])
    generator = torch.Generator().manual_seed(0)
    inputs = [torch.randn(5, size, generator=generator) for size in sizes]
    nets = AgentNetworks(sizes, actions, (8,), shared=shared, generator=generator)
    batched = nets.forward_all(stack_padded(inputs, 0.0))
    assert batched.shape == (2, 5, max(actions))
    for i, x in enumerate(inputs):
        torch.testing.assert_close(batched[i, :, :actions[i]], nets(i, x))
        assert bool((batched[i, :, actions[i]:] == torch.finfo(torch.float32).min).all())
    recurrent = RecurrentAgentNetworks(sizes, actions, 8, shared=shared, generator=generator)
    hidden = torch.randn(2, 5, 8, generator=generator)
    outputs, after = recurrent.step_all(inputs, hidden)
    for i, x in enumerate(inputs):
        out, h = recurrent(i, x, hidden[i])
        torch.testing.assert_close(outputs[i], out)
        torch.testing.assert_close(after[i], h)


@pytest.mark.parametrize("algorithm", ["mappo", "iql"])
def test_uneven_agents_learn_through_the_batched_path(algorithm: str) -> None:
    # 2 actions against 3 (separate, padded networks). Row action 0 strictly dominates 1
    # (1 > 0 in every column); column action 2 strictly dominates (1 > 0 in every row): the
    # unique equilibrium is (0, 2). Uniform profile: each gains 1 - 1/2 resp. 1 - 1/3 = 7/6
    game = NormalFormGame.from_bimatrix(np.array([[1.0, 1, 1], [0, 0, 0]]),
                                        np.array([[0.0, 0, 1], [0, 0, 1]]))
    assert nash_conv(game, uniform_profile(game)).nash_conv == pytest.approx(7 / 6)
    result = train(game, make_config(algorithm, **BUDGETS[algorithm]), algorithm=algorithm,
                   seed=0)
    assert result.profile[0].shape[-1] == 2 and result.profile[1].shape[-1] == 3
    assert result.exploitability.nash_conv <= 0.1 * 7 / 6
