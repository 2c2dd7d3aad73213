"""The learning view of the market: its VectorEnv and PettingZoo contracts, seeds, rewards,
the action decoder, DPR opponent draws, and trained policies as library strategies."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from games.order_book import build_order_book
from gametools.errors import InvalidArgumentError
from gametools.market.egta import sample_opponents
from gametools.market.env import (OBSERVATION_SIZE, MarketParallelEnv, MarketVectorEnv,
                                  TraderInterface, load_learned, save_learned)
from gametools.market.simulator import ArrivalView, simulate
from gametools.market.strategies import make_strategy
from gametools.scenarios import get_scenario


def tiny_market(**changes: object) -> object:
    params = {"n_background": 4, "n_market_makers": 0, "n_arrivals": 40, **changes}
    return build_order_book(**get_scenario("order_book").resolve(**params))


def play(env: MarketVectorEnv, seed: int, steps: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    generator = torch.Generator().manual_seed(seed)
    current = env.reset(seed=seed)
    observations, rewards = [current.observations[0].numpy()], []
    for _ in range(steps):
        action = torch.randint(0, env.action_spaces[0].n, (env.num_envs,),  # type: ignore
                               generator=generator)
        step = env.step([action])
        observations.append(step.observations[0].numpy())
        rewards.append(step.rewards.numpy())
    return observations, rewards


def test_vector_env_contract_and_rewards_sum_to_the_profit() -> None:
    env = MarketVectorEnv(tiny_market(), role="background",
                          strategies=[["zi_0_250", "zi_0_2000"], []], num_envs=8, seed=3)
    assert env.num_agents == 1 and env.observation_sizes == (OBSERVATION_SIZE,)
    assert env.action_spaces[0].n == 11  # type: ignore[union-attr]  # 1 + 2 x 5 offsets
    current = env.reset(seed=3)
    assert current.observations[0].shape == (8, OBSERVATION_SIZE)
    assert current.state.shape == (8, env.state_size)
    assert bool((current.observations[0][:, 0] == 1).all())  # the agent is arriving
    totals = torch.zeros(8, dtype=torch.float64)
    generator = torch.Generator().manual_seed(0)
    for _ in range(200):
        step = env.step([torch.randint(0, 11, (8,), generator=generator)])
        totals += step.rewards[:, 0].double()
        if bool(step.terminated.any()):
            assert bool(step.terminated.all()) and not bool(step.truncated.any())
            break
    else:
        raise AssertionError("no episode ended in 200 decisions of a 40-arrival market")
    # potential-based shaping: an episode's rewards sum to the agent's profit (exact in
    # integer ticks; float32 rewards per step, so compared to a float tolerance)
    stats = env.last_statistics
    assert stats is not None
    profit = stats.profit_ticks[:, env.controlled[0]] / env.interface.scale
    np.testing.assert_allclose(totals.numpy(), profit, rtol=1e-4, atol=1e-4)
    # every market's accounting identity holds exactly with a learning agent in it
    assert np.array_equal(stats.profit_ticks.sum(1), stats.gains_ticks)


def test_same_seed_same_trajectory() -> None:
    def make() -> MarketVectorEnv:
        return MarketVectorEnv(tiny_market(), role="background",
                               strategies=[["zi_0_250", "zip"], []], num_envs=4, seed=0)

    first, second = play(make(), 11, 30), play(make(), 11, 30)
    for a, b in zip(first[0] + first[1], second[0] + second[1]):
        assert np.array_equal(a, b)
    other = play(make(), 12, 30)
    assert not all(np.array_equal(a, b) for a, b in zip(first[1], other[1]))


def test_action_decoder_on_a_hand_made_arrival() -> None:
    # offsets 0, 10, 25 ticks (scale 100): action 2 buys at floor(1000.7) - 10 = 990, action 6
    # sells at ceil(1005.2) + 25 = 1031; a buyer-only agent's sell becomes no order
    interface = TraderInterface((0, 10, 25), 100.0, 50, 1000.0, 10.0)
    view = ArrivalView(torch.arange(3), torch.arange(3), 10,
                       torch.full((3,), 1000.7, dtype=torch.float64),
                       torch.full((3,), 1005.2, dtype=torch.float64),
                       torch.ones(3, dtype=torch.bool), torch.ones(3, dtype=torch.bool),
                       torch.tensor([0, 0, 1]), torch.zeros(3, dtype=torch.int64),
                       torch.full((3,), 1000.0, dtype=torch.float64),
                       torch.tensor([980.0, -math.inf, 990.0], dtype=torch.float64),
                       torch.tensor([1020.0, math.inf, 1010.0], dtype=torch.float64),
                       0, 4000, 1.0, torch.Generator())
    orders = interface.orders(torch.tensor([2, 6, 6]), view)
    assert orders.side[:, 0].tolist() == [1, -1, 0]
    assert orders.price[:, 0].tolist()[:2] == [990, 1031]
    observed = interface.observe(view)
    assert observed.shape == (3, OBSERVATION_SIZE)
    # surplus of taking the best ask: (1000.7 - 1020) / 100; no ask in market 1 -> 0
    assert observed[0, 10].item() == pytest.approx(-0.193, abs=1e-6)
    assert observed[1, 9].item() == 0.0 and observed[1, 10].item() == 0.0
    with pytest.raises(InvalidArgumentError):
        interface.orders(torch.tensor([0, 7, 1]), view)


def test_dpr_opponent_draws_follow_the_reduced_game() -> None:
    # 5 agents of one role reduced to 3 players (Wiedenbeck and Wellman 2012): the deviator's
    # 2 reduced opponents stand for 2 agents each, so 0, 2 or 4 of its 4 opponents play A,
    # with binomial(2, p) probabilities (1-p)^2, 2p(1-p), p^2
    config = tiny_market(n_background=5)
    rows = sample_opponents(config, [["zi_0_250", "zi_0_2000"], []], [[0.3, 0.7], []], [0],
                            count=4000, rng=np.random.default_rng(0), players=(3, 0))
    counts = np.array([sum(name == "zi_0_250" for name in row[1:]) for row in rows])
    assert all(row[0] is None for row in rows)
    assert set(np.unique(counts)) <= {0, 2, 4}
    for value, p in ((0, 0.49), (2, 0.42), (4, 0.09)):
        frequency = float(np.mean(counts == value))
        # 4 binomial standard errors of a frequency over 4000 draws
        assert abs(frequency - p) < 4 * math.sqrt(p * (1 - p) / 4000)


def test_parallel_env_passes_pettingzoo_api_test_and_trains() -> None:
    from pettingzoo.test import parallel_api_test

    from gametools.marl.mappo import MAPPOConfig
    from gametools.marl.parallel_env import EnvironmentSource
    from gametools.marl.train import train

    params = {"n_buyers": 2, "n_sellers": 2, "n_arrivals": 16}
    # PettingZoo's own conformance test of the ParallelEnv API
    parallel_api_test(MarketParallelEnv(scenario="double_auction", params=params, role="buyer"),
                      num_cycles=20)
    source = EnvironmentSource(MarketParallelEnv, "market", {
        "scenario": "double_auction", "params": params, "role": "buyer", "seed": 0})
    result = train(source, MAPPOConfig(total_steps=64, num_envs=2, rollout_steps=8,
                                       eval_interval=64, eval_episodes=0), algorithm="mappo",
                   seed=0)
    assert result.steps >= 64 and result.exploitability is None


def test_learned_policy_roundtrip_plays_as_a_strategy(tmp_path: object) -> None:
    from pathlib import Path

    from gametools.marl.train import learner_class
    from gametools.market.psro import learner_config

    config = tiny_market()
    env = MarketVectorEnv(config, role="background", strategies=[["zi_0_250"], []],
                          num_envs=4, seed=0)
    learner = learner_class("ippo")(env, learner_config("ippo", steps=64, num_envs=4), seed=0)
    learner.iterate()
    path = Path(str(tmp_path)) / "policy.pt"
    save_learned(path, learner, algorithm="ippo", agent=0, interface=env.interface,
                 role="background")
    strategy = make_strategy(f"learned:{path}")
    probe = torch.randn(16, OBSERVATION_SIZE, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.allclose(strategy.policy(probe), learner.policy(0, probe))  # type: ignore
    assert strategy.roles == ("background",)
    stats = simulate(config, [strategy] + [make_strategy("zi_0_250")] * 3, episodes=8, seed=1)
    assert np.array_equal(stats.profit_ticks.sum(1), stats.gains_ticks)
    assert stats.strategies[0] == f"learned:{path}"
    with pytest.raises(InvalidArgumentError):
        load_learned(Path(str(tmp_path)) / "missing.pt")
    bogus = Path(str(tmp_path)) / "bogus.pt"
    bogus.write_bytes(b"not a policy")
    with pytest.raises(InvalidArgumentError):
        make_strategy(f"learned:{bogus}")
