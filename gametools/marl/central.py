"""The fully centralised paradigm: one PPO policy over the joint action (cooperative games).

A single actor sees the global state and picks a joint action from all ``n_1 * ... * n_N``
combinations; the team reward is the agents' common reward. It is the PPO learner of
:mod:`gametools.marl.mappo` composed with one *joint* actor instead of one actor per agent, and it
shows where centralisation stops scaling: the output layer grows exponentially with the number of
agents.

Its tabular profile gives each agent the marginal of the joint policy in each state, so it needs
fully observed games (each agent's observation determines the state); correlation between the
agents' actions is not representable in a product profile and is lost in that view.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from gametools.errors import InvalidArgumentError
from gametools.marl.env import Discrete, TensorGameEnv, VectorEnv
from gametools.marl.mappo import Actor, MAPPOConfig, PPOLearner

__all__ = ["CentralPPO"]


class CentralPPO(PPOLearner):
    """One PPO actor over the joint action, with a state critic; needs a team game."""

    name = "central"
    config_type = MAPPOConfig
    requires_cooperative = True

    def make_actors(self, env: VectorEnv) -> list[Actor]:
        if not all(isinstance(space, Discrete) for space in env.action_spaces):
            raise InvalidArgumentError("central needs discrete actions")
        self.num_actions = tuple(space.n for space in env.action_spaces)  # type: ignore
        strides = [math.prod(self.num_actions[k + 1:]) for k in range(len(self.num_actions))]
        self.strides = torch.tensor(strides, dtype=torch.int64)
        return [Actor(observe=lambda reset: reset.state, critic_input=lambda reset: reset.state,
                      observation_size=env.state_size, critic_size=env.state_size,
                      num_actions=math.prod(self.num_actions),
                      reward=lambda rewards: rewards.mean(dim=1))]

    def decode(self, actions: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        (joint,) = actions
        return [(joint // int(stride)) % n for stride, n in zip(self.strides, self.num_actions)]

    def policy(self, agent: int, observations: torch.Tensor) -> torch.Tensor:
        env = self.env.inner if hasattr(self.env, "inner") else self.env
        if not isinstance(env, TensorGameEnv):
            raise InvalidArgumentError("central's per-agent policies are defined on tabular games")
        observed = env.game.observations[agent]
        if len(set(observed.tolist())) != env.game.num_states:
            raise InvalidArgumentError("central's per-agent marginals need each agent to observe "
                                       "the state (a fully observed game)")
        # observation id -> the state it identifies, as the state one-hot the actor reads
        states = torch.zeros(env.game.num_observations[agent], dtype=torch.int64)
        states[torch.as_tensor(np.array(observed))] = torch.arange(env.game.num_states)
        ids = observations.argmax(dim=1).cpu()
        state_inputs = torch.eye(env.game.num_states)[states[ids]]
        joint = torch.softmax(self.logits(0, state_inputs.to(env.device)), dim=-1)
        joint = joint.reshape(-1, *self.num_actions)
        others = tuple(k + 1 for k in range(len(self.num_actions)) if k != agent)
        return joint.sum(dim=others)
