"""Textbook games, kept as scenarios for quick experiments and the command line.

- ``matching_pennies``, ``rock_paper_scissors``: zero-sum, unique uniform equilibrium.
- ``prisoners_dilemma``: unique equilibrium (defect, defect).
- ``battle_of_the_sexes``: two pure equilibria and one mixed (2/3, 1/3), (1/3, 2/3).
- ``big_match``: Gillette's (1957) absorbing game; discounted value 1/2 per step for every
  discount (Blackwell and Ferguson 1968): player 1 plays Top with probability
  ``(1 - discount) / (2 - discount)``, player 2 mixes 1/2-1/2.

Examples
--------
>>> from games.classic import big_match
>>> game = big_match(discount=0.9)
>>> game.num_states, game.num_actions
(3, (2, 2))
"""

from __future__ import annotations

import numpy as np

from gametools.model import MarkovGame, NormalFormGame
from gametools.scenarios import Parameter, Scenario

__all__ = ["matching_pennies", "rock_paper_scissors", "prisoners_dilemma",
           "battle_of_the_sexes", "big_match", "SCENARIOS"]


def matching_pennies(*, stake: int = 1) -> NormalFormGame:
    """Row wins ``stake`` on a match, column wins on a mismatch."""
    return NormalFormGame.zero_sum([[stake, -stake], [-stake, stake]],
                                   action_labels=[["heads", "tails"], ["heads", "tails"]])


def rock_paper_scissors() -> NormalFormGame:
    """Rock-paper-scissors, win 1, lose -1."""
    labels = ["rock", "paper", "scissors"]
    return NormalFormGame.zero_sum([[0, -1, 1], [1, 0, -1], [-1, 1, 0]],
                                   action_labels=[labels, labels])


def prisoners_dilemma(*, reward: int = 3, temptation: int = 5, sucker: int = 0,
                      punishment: int = 1) -> NormalFormGame:
    """Symmetric prisoner's dilemma, actions (cooperate, defect)."""
    row = np.array([[reward, sucker], [temptation, punishment]])
    return NormalFormGame.symmetric(row, action_labels=[["cooperate", "defect"]] * 2)


def battle_of_the_sexes() -> NormalFormGame:
    """Coordination with conflicting preferences: (2, 1) at (A, A), (1, 2) at (B, B)."""
    return NormalFormGame.from_bimatrix([[2, 0], [0, 1]], [[1, 0], [0, 2]],
                                        action_labels=[["A", "B"], ["A", "B"]])


def big_match(*, discount: float = 0.9) -> MarkovGame:
    """The Big Match with per-step rewards (state 0 plays; states 1 and 2 absorb paying 1 and 0).

    Player 1 (rows Top/Bottom) receives, player 2 (Left/Right) pays. Top ends the play in the
    absorbing state paying 1 per step (Left) or 0 (Right); Bottom pays 0 (Left) or 1 (Right) and
    play continues. The state values are ``0.5 / (1 - discount)`` in state 0.
    """
    transitions = np.zeros((3, 2, 2, 3))
    transitions[0, 0, 0, 1] = transitions[0, 0, 1, 2] = 1.0
    transitions[0, 1, :, 0] = 1.0
    transitions[1, :, :, 1] = transitions[2, :, :, 2] = 1.0
    rewards = np.zeros((2, 3, 2, 2))
    rewards[0, 0, 0, 0] = rewards[0, 0, 1, 1] = 1.0
    rewards[0, 1] = 1.0
    rewards[1] = -rewards[0]
    return MarkovGame(transitions, rewards, [1.0, 0.0, 0.0], discount,
                      state_labels=["play", "absorbed at 1", "absorbed at 0"],
                      action_labels=[["top", "bottom"], ["left", "right"]])


SCENARIOS = (
    Scenario("matching_pennies", "Zero-sum 2x2; unique equilibrium mixes 1/2-1/2.",
             matching_pennies, (Parameter("stake", 1, "amount won or lost", low=1),)),
    Scenario("rock_paper_scissors", "Zero-sum 3x3; unique equilibrium is uniform.",
             rock_paper_scissors),
    Scenario("prisoners_dilemma", "Symmetric 2x2; unique equilibrium (defect, defect).",
             prisoners_dilemma,
             (Parameter("reward", 3, "payoff of mutual cooperation"),
              Parameter("temptation", 5, "payoff of defecting on a cooperator"),
              Parameter("sucker", 0, "payoff of cooperating with a defector"),
              Parameter("punishment", 1, "payoff of mutual defection"))),
    Scenario("battle_of_the_sexes", "Coordination 2x2; two pure and one mixed equilibrium.",
             battle_of_the_sexes),
    Scenario("big_match", "Gillette's absorbing stochastic game; value 1/2 per step.",
             big_match, (Parameter("discount", 0.9, "discount factor", low=0.0, high=0.999),)),
)
