"""Multi-agent reinforcement learning (torch only): environments, learners, evaluation."""

from gametools.optional import require

require("torch", extra="marl")  # without torch: one error naming `pip install 'gametools[marl]'`
