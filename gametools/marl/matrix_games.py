"""The cooperative matrix games of the EPyMARL benchmark and the two-step game of QMIX.

Payoffs from uoe-agents/matrix-games (``matrixgames/__init__.py``, used by Papoudakis et al.
2021, "Benchmarking Multi-Agent Deep Reinforcement Learning Algorithms in Cooperative Tasks"):

- climbing (Claus & Boutilier 1998): ``[[11, -30, 0], [-30, 7, 0], [0, 6, 5]]``;
- penalty ``k`` (Claus & Boutilier 1998): ``[[k, 0, 10], [0, 2, 0], [10, 0, k]]`` for
  ``k in (0, -25, -50, -75, -100)``.

Both players receive the payoff. EPyMARL plays each as a 25-step episode with a constant
observation (the ``nostate`` variants); :func:`repeated_matrix_game` builds that episode as a
finite-horizon :class:`~gametools.model.MarkovGame` (states = time steps, one terminal state),
optionally letting the agents observe the time step. The two-step game of Rashid et al. (2018)
is :func:`two_step_game`. :func:`recall_game` is a two-step memory test for recurrent agents.

Examples
--------
>>> from gametools.marl.matrix_games import penalty_payoff, repeated_matrix_game
>>> game = repeated_matrix_game(penalty_payoff(-100), steps=25)
>>> game.num_states, game.num_actions, game.discount
(26, (3, 3), 1.0)
"""

from __future__ import annotations

import numpy as np

from gametools.errors import InvalidArgumentError
from gametools.model import MarkovGame

__all__ = ["CLIMBING", "penalty_payoff", "repeated_matrix_game", "two_step_game",
           "recall_game", "EPYMARL_EPISODE_STEPS"]

#: Episode length of the EPyMARL matrix games.
EPYMARL_EPISODE_STEPS = 25

#: Climbing game payoff (row player's action first).
CLIMBING = np.array([[11.0, -30.0, 0.0], [-30.0, 7.0, 0.0], [0.0, 6.0, 5.0]])


def penalty_payoff(k: float) -> np.ndarray:
    """The penalty game's payoff ``[[k, 0, 10], [0, 2, 0], [10, 0, k]]`` (``k <= 0``)."""
    return np.array([[k, 0.0, 10.0], [0.0, 2.0, 0.0], [10.0, 0.0, k]], dtype=float)


def repeated_matrix_game(payoff: np.ndarray, *, steps: int = EPYMARL_EPISODE_STEPS,
                         observe_time: bool = False) -> MarkovGame:
    """A common-payoff matrix game played ``steps`` times in one episode (discount 1).

    Parameters
    ----------
    payoff : ndarray, shape (n_1, ..., n_N)
        The team payoff of each joint action, paid to every agent.
    steps : int
        Episode length (EPyMARL: 25).
    observe_time : bool
        Agents observe the time step (else a constant observation, as EPyMARL's ``nostate``).
    """
    payoff = np.asarray(payoff, dtype=float)
    if payoff.ndim < 2 or steps < 1:
        raise InvalidArgumentError("payoff needs one axis per agent (at least two) and steps >= 1")
    shape = payoff.shape
    num_players, num_states = payoff.ndim, steps + 1
    transitions = np.zeros((num_states, *shape, num_states))
    for t in range(num_states):
        transitions[(t,) + (slice(None),) * num_players + (min(t + 1, steps),)] = 1.0
    rewards = np.zeros((num_players, num_states, *shape))
    rewards[:, :steps] = payoff
    terminal = np.zeros(num_states, dtype=bool)
    terminal[steps] = True
    initial = np.eye(num_states)[0]
    observations = (np.tile(np.arange(num_states), (num_players, 1)) if observe_time
                    else np.zeros((num_players, num_states), dtype=int))
    return MarkovGame(transitions, rewards, initial, 1.0, terminal=terminal,
                      observations=observations)


def two_step_game() -> MarkovGame:
    """Rashid et al. (2018), Figure 3: agent 1's first action picks state 2A (every joint action
    pays 7) or 2B (payoffs ``[[0, 1], [1, 8]]``); the first step pays nothing.

    States: 0 (start), 1 (2A), 2 (2B), 3 (terminal); the agents observe the state. The optimum
    is 8 (reach 2B, both play action 1); independent and VDN learners settle for 7.
    """
    transitions = np.zeros((4, 2, 2, 4))
    transitions[0, 0, :, 1] = 1.0
    transitions[0, 1, :, 2] = 1.0
    transitions[1:, :, :, 3] = 1.0
    team = np.zeros((4, 2, 2))
    team[1] = 7.0
    team[2] = [[0.0, 1.0], [1.0, 8.0]]
    terminal = np.array([False, False, False, True])
    return MarkovGame(transitions, np.stack([team, team]), np.eye(4)[0], 1.0, terminal=terminal)


def recall_game(num_agents: int = 2) -> MarkovGame:
    """A two-step team game that needs memory: recall at step 2 the cue seen at step 1.

    A fair coin picks the cue A or B, which every agent observes at step 1 (nothing is paid).
    At step 2 every agent observes the same blank observation whatever the cue, and each agent
    that names the cue (action 0 for A, 1 for B) adds ``1 / num_agents`` to the team reward.

    States: 0 (cue A), 1 (cue B), 2 (blank after A), 3 (blank after B), 4 (terminal);
    observations: 0 (A), 1 (B), 2 (blank). The optimal return is 1 (recall the cue). A
    memoryless policy plays one distribution ``p`` at the blank observation whatever the cue,
    so each agent names the cue with probability ``p_A / 2 + p_B / 2 = 1/2``: every policy of
    the current observation earns exactly ``1/2``.
    """
    if num_agents < 1:
        raise InvalidArgumentError(f"num_agents must be >= 1, got {num_agents}")
    shape = (2,) * num_agents
    transitions = np.zeros((5, *shape, 5))
    transitions[0, ..., 2] = 1.0
    transitions[1, ..., 3] = 1.0
    transitions[2:, ..., 4] = 1.0
    team = np.zeros((5, *shape))
    for joint in np.ndindex(*shape):
        named = np.array(joint)
        team[(2, *joint)] = np.mean(named == 0)
        team[(3, *joint)] = np.mean(named == 1)
    observations = np.tile(np.array([0, 1, 2, 2, 2]), (num_agents, 1))
    terminal = np.array([False, False, False, False, True])
    return MarkovGame(transitions, np.stack([team] * num_agents), np.array([0.5, 0.5, 0, 0, 0]),
                      1.0, terminal=terminal, observations=observations)
