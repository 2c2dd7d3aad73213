"""The scenario library: one module per scenario family, builders only (no solver code).

``SCENARIOS`` is the project's one name table of scenarios; it is registered with gametools under
the ``gametools.scenarios`` entry point, and the conformance tests iterate it.
"""

from games import (
    adversarial_market_making,
    asymmetric_auction,
    auctions,
    avellaneda_stoikov,
    bank_run,
    classic,
    execution,
    holden_subrahmanyam,
    kyle,
    microstructure,
    oligopoly,
    order_book,
    portfolio,
)

SCENARIOS = (
    *classic.SCENARIOS,
    *oligopoly.SCENARIOS,
    *auctions.SCENARIOS,
    *asymmetric_auction.SCENARIOS,
    *bank_run.SCENARIOS,
    *kyle.SCENARIOS,
    *holden_subrahmanyam.SCENARIOS,
    *microstructure.SCENARIOS,
    *avellaneda_stoikov.SCENARIOS,
    *adversarial_market_making.SCENARIOS,
    *execution.SCENARIOS,
    *portfolio.SCENARIOS,
    *order_book.SCENARIOS,
)

__all__ = ["SCENARIOS"]
