"""The fully centralised paradigm: one PPO policy over the joint action (cooperative games).

A single actor sees the global state and picks a joint action from all ``n_1 * ... * n_N``
combinations; the team reward is the agents' common reward. It is the PPO learner of
:mod:`gametools.marl.mappo` composed with one *joint* actor instead of one actor per agent, and it
shows where centralisation stops scaling: the output layer grows exponentially with the number of
agents.

The learned policy is *correlated*: :meth:`CentralPPO.joint_policy` gives it as one distribution
over joint actions per state, and the training driver evaluates that joint policy (its values,
and the coarse-correlated-equilibrium gap of :func:`gametools.marl.correlated.cce_gap`), never
the product of its marginals, which is a different policy (in the penalty game the joint policy
``1/2 (0, 2) + 1/2 (2, 0)`` earns 10 a step and the product of its marginals -45).
:meth:`CentralPPO.policy` still gives each agent's marginal, for fully observed games, as a view
for tools that need per-agent policies; it is not what the learner plays.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from gametools.errors import InvalidArgumentError
from gametools.marl.env import Discrete, Reset, TensorGameEnv, VectorEnv
from gametools.marl.mappo import Actors, MAPPOConfig, PPOLearner
from gametools.structure import observation_states, sees_state

__all__ = ["CentralPPO"]


def _state(reset: Reset) -> torch.Tensor:
    return reset.state[None]


def _team_reward(rewards: torch.Tensor) -> torch.Tensor:
    return rewards.mean(dim=1)[None]


class CentralPPO(PPOLearner):
    """One PPO actor over the joint action, with a state critic; needs a team game."""

    name = "central"
    config_type = MAPPOConfig
    requires_cooperative = True
    correlated = True
    supports_recurrent = False
    recurrent_refusal = ("its one actor sees the global state, which already holds everything "
                         "an agent's memory could recover")
    supports_action_masks = False
    action_mask_refusal = "plays one joint action, which has no per-agent legal-action masks"

    def make_actors(self, env: VectorEnv) -> Actors:
        if not all(isinstance(space, Discrete) for space in env.action_spaces):
            raise InvalidArgumentError("central needs discrete actions")
        self.num_actions = tuple(space.n for space in env.action_spaces)  # type: ignore
        strides = [math.prod(self.num_actions[k + 1:]) for k in range(len(self.num_actions))]
        self.strides = torch.tensor(strides, dtype=torch.int64)
        return Actors(observe=_state, critic_input=_state, reward=_team_reward,
                      observation_sizes=(env.state_size,), critic_sizes=(env.state_size,),
                      action_counts=(math.prod(self.num_actions),))

    def decode(self, actions: torch.Tensor) -> list[torch.Tensor]:
        joint = actions[0]
        return [(joint // int(stride)) % n for stride, n in zip(self.strides, self.num_actions)]

    @torch.no_grad()
    def act(self, current: Reset, memory: torch.Tensor | None = None
            ) -> tuple[list[torch.Tensor], torch.Tensor | None]:
        """The most probable joint action at each state, decoded into per-agent actions (no
        memory: the actor sees the state)."""
        return self.decode(self.logits(0, current.state).argmax(dim=1)[None]), None

    def _game_env(self) -> TensorGameEnv:
        env = getattr(self.env, "inner", self.env)
        if not isinstance(env, TensorGameEnv):
            raise InvalidArgumentError("central's tabular policies are defined on tabular games")
        return env

    @torch.no_grad()
    def joint_policy(self) -> np.ndarray:
        """The learned correlated policy, ``(S, n_1 * ... * n_N)`` (C-order joint actions)."""
        env = self._game_env()
        states = torch.arange(env.game.num_states, device=env.device)
        inputs = env.encode_states(states).state
        joint = torch.softmax(self.logits(0, inputs), dim=-1).double().cpu().numpy()
        return joint / joint.sum(axis=1, keepdims=True)

    def policy(self, agent: int, observations: torch.Tensor) -> torch.Tensor:
        """Agent ``agent``'s marginal of the joint policy (a view, not the policy played)."""
        env = self._game_env()
        if not sees_state(env.game, agent):
            raise InvalidArgumentError("central's per-agent marginals need each agent to observe "
                                       "the state (a fully observed game)")
        # observation id -> the state it identifies, as the state one-hot the actor reads
        states = torch.as_tensor(np.maximum(observation_states(env.game, agent), 0))
        ids = observations.argmax(dim=1).cpu()
        state_inputs = torch.eye(env.game.num_states)[states[ids]]
        joint = torch.softmax(self.logits(0, state_inputs.to(env.device)), dim=-1)
        joint = joint.reshape(-1, *self.num_actions)
        others = tuple(k + 1 for k in range(len(self.num_actions)) if k != agent)
        return joint.sum(dim=others)
