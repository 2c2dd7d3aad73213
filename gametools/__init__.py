"""gametools: game-theoretic analysis of multi-agent finance.

Encode a financial scenario as a normal-form or Markov game, compute its equilibria, measure how
exploitable a profile (computed or learned) is, and draw research figures.

>>> import numpy as np
>>> from gametools import NormalFormGame, nash_conv
>>> game = NormalFormGame.from_bimatrix([[3, 0], [5, 1]], [[3, 5], [0, 1]])  # prisoner's dilemma
>>> float(nash_conv(game, (np.array([0.0, 1.0]), np.array([0.0, 1.0]))).nash_conv)
0.0
"""

from gametools.errors import GametoolsError, GameValidationError, PolicyValidationError
from gametools.exploitability import (
                                      BestResponse,
                                      ExploitabilityResult,
                                      best_response,
                                      nash_conv,
                                      policy_values,
                                      state_values,
)
from gametools.model import MarkovGame, NormalFormGame, time_indexed
from gametools.policies import Profile, deterministic_profile, uniform_profile, validate_profile

__version__ = "0.1.0"

__all__ = [
    "NormalFormGame", "MarkovGame", "time_indexed",
    "Profile", "validate_profile", "uniform_profile", "deterministic_profile",
    "nash_conv", "best_response", "policy_values", "state_values", "ExploitabilityResult",
    "BestResponse", "GametoolsError", "GameValidationError", "PolicyValidationError",
]
