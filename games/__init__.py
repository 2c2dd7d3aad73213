"""The scenario library: one module per scenario family, builders only (no solver code).

``SCENARIOS`` is the project's one name table of scenarios; it is registered with gametools under
the ``gametools.scenarios`` entry point, and the conformance tests iterate it.
"""

from games import bank_run, classic, kyle, oligopoly

SCENARIOS = (*classic.SCENARIOS, *oligopoly.SCENARIOS, *bank_run.SCENARIOS, *kyle.SCENARIOS)

__all__ = ["SCENARIOS"]
