"""Multi-agent reinforcement learning (torch only): environments, learners, evaluation."""
