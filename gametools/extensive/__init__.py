"""Extensive-form games: the model, exact best responses and NashConv, sequence-form solvers.

See :mod:`gametools.extensive.model` for the representation.
"""

from __future__ import annotations

from gametools.extensive.exploitability import best_response, nash_conv
from gametools.extensive.markov import (
    MarkovTree,
    MarkovView,
    markov_from_extensive,
    tree_from_markov,
)
from gametools.extensive.model import (
    CHANCE,
    TERMINAL,
    ExtensiveGame,
    ImperfectRecallError,
    TreeBuilder,
)

__all__ = ["CHANCE", "TERMINAL", "ExtensiveGame", "ImperfectRecallError", "MarkovTree",
           "MarkovView", "TreeBuilder", "best_response", "markov_from_extensive", "nash_conv",
           "tree_from_markov"]
