"""PettingZoo ``ParallelEnv`` view of a Markov game, for outside tools.

Each agent observes its observation id (``Discrete(O_i)``) and acts with ``Discrete(n_i)``; the
global state (``state()``) is the state id. Episodes end on reaching a terminal state
(termination) or after ``max_steps`` steps (truncation). This is a plain Python/numpy loop, one
episode at a time; for training use the batched :class:`gametools.marl.env.TensorGameEnv`.

Examples
--------
>>> from gametools import NormalFormGame
>>> from gametools.interop.pettingzoo import MarkovGameParallelEnv
>>> pennies = NormalFormGame.zero_sum([[1, -1], [-1, 1]]).to_markov_game()
>>> env = MarkovGameParallelEnv(pennies, max_steps=5)
>>> observations, infos = env.reset(seed=0)
>>> sorted(observations)
['player_0', 'player_1']
>>> _, rewards, terminations, truncations, _ = env.step({"player_0": 1, "player_1": 1})
>>> rewards
{'player_0': 1.0, 'player_1': -1.0}
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from gametools.errors import InvalidArgumentError
from gametools.model import MarkovGame

__all__ = ["MarkovGameParallelEnv"]


class MarkovGameParallelEnv(ParallelEnv):  # type: ignore[misc]
    """A :class:`~gametools.model.MarkovGame` as a PettingZoo parallel environment.

    Parameters
    ----------
    game : MarkovGame
    max_steps : int, optional
        Truncation limit (default: none for discount 1, else ``ceil(10 / (1 - discount))``).
    """

    metadata = {"name": "gametools_markov_game_v0", "render_modes": ["ansi"],
                "is_parallelizable": True}

    def __init__(self, game: MarkovGame, *, max_steps: int | None = None,
                 render_mode: str | None = None) -> None:
        if render_mode not in (None, "ansi"):
            raise InvalidArgumentError(f"render_mode must be None or 'ansi', got {render_mode!r}")
        self.game = game
        self.render_mode = render_mode
        self.possible_agents = [f"player_{i}" for i in range(game.num_players)]
        self.agents: list[str] = []
        if max_steps is None and game.discount < 1.0:
            max_steps = int(np.ceil(10.0 / (1.0 - game.discount)))
        self.max_steps = max_steps
        self._observation_spaces = {agent: spaces.Discrete(n) for agent, n in
                                    zip(self.possible_agents, game.num_observations)}
        self._action_spaces = {agent: spaces.Discrete(n) for agent, n in
                               zip(self.possible_agents, game.num_actions)}
        self.state_space = spaces.Discrete(game.num_states)
        self._matrix = game.transition_matrix
        self._rng = np.random.default_rng()
        self._state = 0
        self._steps = 0

    def observation_space(self, agent: str) -> spaces.Discrete:
        return self._observation_spaces[agent]

    def action_space(self, agent: str) -> spaces.Discrete:
        return self._action_spaces[agent]

    def _observe(self) -> dict[str, np.int64]:
        return {agent: np.int64(self.game.observations[i, self._state])
                for i, agent in enumerate(self.possible_agents)}

    def state(self) -> np.int64:
        return np.int64(self._state)

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[dict[str, np.int64], dict[str, dict[str, Any]]]:
        if seed is not None:
            self._rng = np.random.default_rng(seed)
            for i, agent in enumerate(self.possible_agents):
                self._action_spaces[agent].seed(seed + i)
                self._observation_spaces[agent].seed(seed + i)
        live = self.game.initial * ~self.game.terminal
        if live.sum() <= 0:
            raise InvalidArgumentError("every initial state is terminal: there is nothing to play")
        self._state = int(self._rng.choice(self.game.num_states, p=live / live.sum()))
        self._steps = 0
        self.agents = list(self.possible_agents)
        return self._observe(), {agent: {} for agent in self.agents}

    def step(self, actions: dict[str, Any]) -> tuple[dict[str, np.int64], dict[str, float],
                                                     dict[str, bool], dict[str, bool],
                                                     dict[str, dict[str, Any]]]:
        if not self.agents:
            raise InvalidArgumentError("step called after the episode ended; call reset()")
        missing = [agent for agent in self.agents if agent not in actions]
        if missing:
            raise InvalidArgumentError(f"step needs an action for every agent; missing {missing}")
        joint = tuple(int(actions[agent]) for agent in self.possible_agents)
        for agent, action, n in zip(self.possible_agents, joint, self.game.num_actions):
            if not 0 <= action < n:
                raise InvalidArgumentError(f"action of {agent} must be in [0, {n}), got {action}")
        flat = int(np.ravel_multi_index(joint, self.game.num_actions))
        reward_vector = self.game.rewards.reshape(self.game.num_players, -1)[
            :, self._state * self.game.num_joint_actions + flat]
        row = self._state * self.game.num_joint_actions + flat
        start, stop = self._matrix.indptr[row], self._matrix.indptr[row + 1]
        probabilities = self._matrix.data[start:stop]
        self._state = int(self._rng.choice(self._matrix.indices[start:stop],
                                           p=probabilities / probabilities.sum()))
        self._steps += 1
        terminated = bool(self.game.terminal[self._state])
        truncated = (not terminated and self.max_steps is not None
                     and self._steps >= self.max_steps)
        observations = self._observe()
        rewards = {agent: float(reward_vector[i]) for i, agent in enumerate(self.possible_agents)}
        terminations = {agent: terminated for agent in self.possible_agents}
        truncations = {agent: truncated for agent in self.possible_agents}
        infos: dict[str, dict[str, Any]] = {agent: {} for agent in self.possible_agents}
        if terminated or truncated:
            self.agents = []
        return observations, rewards, terminations, truncations, infos

    def render(self) -> str | None:
        if self.render_mode == "ansi":
            return f"step {self._steps}: state {self.game.state_labels[self._state]}"
        return None

    def close(self) -> None:
        pass
