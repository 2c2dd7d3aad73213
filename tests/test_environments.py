"""Environments: the batched torch environment and the PettingZoo view agree with the game."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pettingzoo.test import parallel_api_test

from games import SCENARIOS
from games.classic import big_match
from gametools import MarkovGame, NormalFormGame
from gametools.interop.pettingzoo import MarkovGameParallelEnv
from gametools.marl.env import TensorGameEnv


def random_game(seed: int, num_states: int = 6, actions: tuple[int, ...] = (2, 3)) -> MarkovGame:
    rng = np.random.default_rng(seed)
    transitions = rng.dirichlet(np.ones(num_states), size=(num_states, *actions))
    rewards = rng.normal(size=(len(actions), num_states, *actions))
    return MarkovGame(transitions, rewards, rng.dirichlet(np.ones(num_states)), 0.9)


def test_tensor_env_transition_frequencies_match_the_game() -> None:
    game = random_game(0)
    batch = 100_000
    env = TensorGameEnv(game, num_envs=batch, seed=1)
    env.reset()
    env.state_indices[:] = 2  # start every episode in state 2
    step = env.step([torch.full((batch,), 1), torch.full((batch,), 2)])
    reached = step.final_state.argmax(dim=1).numpy()
    frequencies = np.bincount(reached, minlength=game.num_states) / batch
    expected = game.transitions[2, 1, 2]
    # each frequency is within 5 standard errors of P(s' | s = 2, a = (1, 2))
    standard_error = np.sqrt(expected * (1 - expected) / batch)
    assert np.all(np.abs(frequencies - expected) <= 5 * standard_error + 1e-12)
    assert torch.allclose(step.rewards[0], torch.tensor(game.rewards[:, 2, 1, 2],
                                                        dtype=torch.float32))


def test_tensor_env_is_seeded_and_resets_finished_episodes() -> None:
    game = NormalFormGame.zero_sum([[1, -1], [-1, 1]]).to_markov_game()
    first, second = (TensorGameEnv(game, num_envs=8, seed=3) for _ in range(2))
    first.reset(), second.reset()
    actions = [torch.zeros(8, dtype=torch.long), torch.ones(8, dtype=torch.long)]
    a, b = first.step(actions), second.step(actions)
    # one-shot game: every episode terminates after one step and restarts in the playing state
    assert bool(a.terminated.all()) and not bool(a.truncated.any())
    assert torch.equal(a.state, b.state) and torch.equal(a.rewards, b.rewards)
    assert torch.all(a.state.argmax(dim=1) == 0) and torch.all(a.final_state.argmax(dim=1) == 1)
    assert a.rewards[:, 0].eq(-1).all()  # heads vs tails: row loses 1


def test_tensor_env_monte_carlo_value_matches_exact_value() -> None:
    # Big Match at discount 0.5 with the optimal stationary profile: exact value 0.5 / (1 - 0.5)
    # (REFERENCES.md). The Monte-Carlo discounted return must agree within 5 standard errors.
    discount = 0.5
    game = big_match(discount=discount)
    top = (1 - discount) / (2 - discount)
    batch, horizon = 50_000, 40
    env = TensorGameEnv(game, num_envs=batch, seed=7, max_steps=horizon)
    env.reset()
    generator = torch.Generator().manual_seed(11)
    returns = torch.zeros(batch, dtype=torch.float64)
    for t in range(horizon):
        row = (torch.rand(batch, generator=generator) >= top).long()
        column = (torch.rand(batch, generator=generator) >= 0.5).long()
        step = env.step([row, column])
        returns += discount ** t * step.rewards[:, 0].double()
    mean, error = returns.mean().item(), returns.std().item() / np.sqrt(batch)
    assert abs(mean - 0.5 / (1 - discount)) <= 5 * error


def test_tensor_env_rejects_wrong_number_of_actions() -> None:
    env = TensorGameEnv(random_game(1), num_envs=2)
    env.reset()
    with pytest.raises(ValueError, match="one action tensor per agent"):
        env.step([torch.zeros(2, dtype=torch.long)])


@pytest.mark.parametrize("scenario", [s for s in SCENARIOS if "simulation" not in s.tags],
                         ids=lambda s: s.name)  # market simulations: tests/test_market.py
def test_pettingzoo_view_passes_the_parallel_api_test(scenario) -> None:
    game = scenario.build()
    if isinstance(game, NormalFormGame):
        game = game.to_markov_game()
    parallel_api_test(MarkovGameParallelEnv(game, max_steps=25), num_cycles=50)


def test_pettingzoo_view_follows_the_game() -> None:
    game = big_match(discount=0.9)
    env = MarkovGameParallelEnv(game, max_steps=3)
    observations, _ = env.reset(seed=0)
    assert observations == {"player_0": 0, "player_1": 0}
    # (top, left) absorbs in the state paying 1 per step
    observations, rewards, terminations, truncations, _ = env.step({"player_0": 0,
                                                                    "player_1": 0})
    assert rewards == {"player_0": 1.0, "player_1": -1.0} and observations["player_0"] == 1
    env.step({"player_0": 0, "player_1": 0})
    _, _, terminations, truncations, _ = env.step({"player_0": 0, "player_1": 0})
    assert truncations["player_0"] and not terminations["player_0"] and env.agents == []
    with pytest.raises(ValueError, match="call reset"):
        env.step({"player_0": 0, "player_1": 0})
