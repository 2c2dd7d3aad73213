"""The scenario library: one module per scenario family, builders only (no solver code).

``SCENARIOS`` is the project's one name table of scenarios; it is registered with gametools under
the ``gametools.scenarios`` entry point, and the conformance tests iterate it.
"""

from games import classic, oligopoly

SCENARIOS = (*classic.SCENARIOS, *oligopoly.SCENARIOS)

__all__ = ["SCENARIOS"]
