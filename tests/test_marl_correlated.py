"""The centralised learner is evaluated on the joint policy it plays (values, CCE gap)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from gametools import NormalFormGame, policy_values
from gametools.marl.correlated import cce_gap, correlated_values
from gametools.marl.matrix_games import CLIMBING, penalty_payoff, repeated_matrix_game
from gametools.marl.train import make_config, train

torch.set_num_threads(1)


def team(payoff: np.ndarray) -> NormalFormGame:
    return NormalFormGame(np.stack([payoff] * payoff.ndim))


def anti_diagonal() -> np.ndarray:
    """``1/2 (0, 2) + 1/2 (2, 0)``: the penalty game's two optima (payoff 10), correlated."""
    joint = np.zeros((3, 3))
    joint[0, 2] = joint[2, 0] = 0.5
    return joint


def test_penalty_game_joint_policy_value_and_deviation_gains() -> None:
    # Claus & Boutilier (1998) penalty game, k = -100 (uoe-agents/matrix-games payoffs).
    # Hand computation: the joint policy earns 10; the product of its marginals (1/2, 0, 1/2)
    # earns (k + 10 + 10 + k) / 4 = -45. A deviator facing the other's marginal earns
    # (k + 10) / 2 = -45 with action 0 or 2 and 0 with action 1: best 0, gain 0 - 10 = -10.
    game = team(penalty_payoff(-100))
    report = cce_gap(game, anti_diagonal())
    assert report.values.tolist() == pytest.approx([10.0, 10.0])
    assert report.best_response_values.tolist() == pytest.approx([0.0, 0.0])
    assert report.per_player.tolist() == pytest.approx([-10.0, -10.0])
    assert report.gap == 0.0 and report.kind == "exact"
    assert report.concept == "coarse_correlated"
    marginal = np.array([0.5, 0.0, 0.5])
    assert policy_values(game, [marginal, marginal]).tolist() == pytest.approx([-45.0, -45.0])


def test_penalty_episode_of_25_steps() -> None:
    # EPyMARL plays the matrix games as 25-step episodes with constant observations: the joint
    # policy earns 25 * 10 = 250, the product of its marginals 25 * -45 = -1125, and the best
    # deviation (action 1 throughout) 0, so each gain is -250 (hand computation as above)
    game = repeated_matrix_game(penalty_payoff(-100), steps=25)
    joint = np.tile(anti_diagonal().ravel(), (game.num_states, 1))
    report = cce_gap(game, joint)
    assert report.values.tolist() == pytest.approx([250.0, 250.0])
    assert report.per_player.tolist() == pytest.approx([-250.0, -250.0])
    assert report.gap == 0.0
    marginal = np.array([[0.5, 0.0, 0.5]])
    assert policy_values(game, [marginal, marginal]).tolist() == pytest.approx([-1125.0] * 2)
    # a deviator who sees the time step does no better against a stationary partner: exact
    timed = repeated_matrix_game(penalty_payoff(-100), steps=25, observe_time=True)
    exact = cce_gap(timed, joint)
    assert exact.kind == "exact" and exact.per_player.tolist() == pytest.approx([-250.0] * 2)


def test_a_profitable_deviation_is_a_positive_gap() -> None:
    # climbing game (Claus & Boutilier 1998), everyone on (2, 2) paying 5: the row player's
    # best reply to column 2 is row 2 (payoffs 0, 0, 5): gain 0; the column player's best reply
    # to row 2 is column 1 (payoffs 0, 6, 5): gain 6 - 5 = 1. CCE gap 1.
    joint = np.zeros((3, 3))
    joint[2, 2] = 1.0
    report = cce_gap(team(CLIMBING), joint)
    assert report.values.tolist() == pytest.approx([5.0, 5.0])
    assert report.per_player.tolist() == pytest.approx([0.0, 1.0])
    assert report.gap == pytest.approx(1.0)


def test_the_others_stay_correlated_among_themselves() -> None:
    # three agents, 2 actions, team payoff 1 when all three agree; joint 1/2 (0,0,0) + 1/2 (1,1,1)
    # earns 1. A deviator faces the others' joint marginal 1/2 (0,0) + 1/2 (1,1) (still
    # correlated): either action matches with probability 1/2, gain 1/2 - 1 = -1/2. Treating
    # the others as independent (1/4 per pair) would give 1/4 - 1 instead (hand computation).
    payoff = np.zeros((2, 2, 2))
    payoff[0, 0, 0] = payoff[1, 1, 1] = 1.0
    joint = np.zeros((2, 2, 2))
    joint[0, 0, 0] = joint[1, 1, 1] = 0.5
    report = cce_gap(team(payoff), joint)
    assert report.values.tolist() == pytest.approx([1.0] * 3)
    assert report.per_player.tolist() == pytest.approx([-0.5] * 3)
    assert correlated_values(team(payoff), joint).tolist() == pytest.approx([1.0] * 3)


def test_invalid_joint_policies_are_refused() -> None:
    with pytest.raises(ValueError, match="entries"):
        cce_gap(team(CLIMBING), np.ones(4) / 4)
    with pytest.raises(ValueError, match="distributions"):
        cce_gap(team(CLIMBING), np.ones((3, 3)))


def test_central_learner_reports_the_value_of_the_policy_it_plays(tmp_path) -> None:
    # penalty -100, 25-step episodes: the centralised learner coordinates on the two optima
    # (a mixture of (0, 2) and (2, 0)), worth close to 250; the product of its marginals, which
    # it used to report, is worth far less (-1125 for the even mixture, see above)
    game = repeated_matrix_game(penalty_payoff(-100), steps=25)
    config = make_config("central", total_steps=8192, num_envs=32, eval_interval=4096,
                         learning_rate=3e-3, checkpoint_interval=0)
    result = train(game, config, algorithm="central", seed=0, out=tmp_path)
    report = result.exploitability
    assert report.concept == "coarse_correlated"
    assert result.joint_policy is not None and result.profile is None  # time not observed
    assert report.values.tolist() == pytest.approx(
        correlated_values(game, result.joint_policy).tolist(), abs=1e-9)
    assert report.values[0] > 225.0  # above 9 a step: mostly on the payoff-10 cells
    assert report.gap == 0.0  # both optima are followed; deviating earns at most ~0
    row = result.metrics[-1]
    assert "cce_gap" in row and "nash_conv" not in row and row["value_0"] == report.values[0]
    # greedy evaluation plays the most probable joint action, (0, 2) or (2, 0), every step:
    # 25 x 10 = 250 per episode (the product of the marginals' modes could collide on -100)
    assert row["eval_return_0"] == 250.0
    saved = np.load(tmp_path / "joint_policy.npz", allow_pickle=False)["joint"]
    assert saved.shape == (26, 3, 3)
    summary = json.loads((tmp_path / "result.json").read_text())
    assert summary["exploitability"]["concept"] == "coarse_correlated"
    assert not (tmp_path / "policy.npz").exists()
