"""Oligopoly: Cournot quantity competition with linear inverse demand.

Economics
---------
``n`` firms choose quantities ``q_i`` from a grid; the price is ``max(a - b Q, 0)`` with
``Q = sum_i q_i``; firm ``i`` earns ``(P - c) q_i``. The one-shot game is a normal-form game on the
grid.

Reference (Cournot 1838; any IO textbook, e.g. Tirole 1988 ch. 5): the symmetric equilibrium is
``q = (a - c) / (b (n + 1))``, price ``(a + n c) / (n + 1)``, profit ``(a - c)^2 / (b (n + 1)^2)``.
With ``a = 100, b = 1, c = 10`` and two firms: ``q = 30``, price 40, profit 900.

Examples
--------
>>> from games.oligopoly import cournot, cournot_reference
>>> game = cournot(n_firms=2, quantity_step=5.0, max_quantity=60.0)
>>> game.num_actions
(13, 13)
>>> cournot_reference(n_firms=2)["quantity"]
30.0
"""

from __future__ import annotations

import numpy as np

from gametools.model import NormalFormGame
from gametools.scenarios import Parameter, Scenario

__all__ = ["cournot", "cournot_reference", "quantity_grid", "SCENARIOS"]


def quantity_grid(*, quantity_step: float, max_quantity: float) -> np.ndarray:
    """The quantities firms may choose: ``0, step, 2 step, ..., max_quantity``."""
    return np.arange(0.0, max_quantity + 0.5 * quantity_step, quantity_step)


def cournot(*, n_firms: int = 2, a: float = 100.0, b: float = 1.0, c: float = 10.0,
            quantity_step: float = 5.0, max_quantity: float = 60.0) -> NormalFormGame:
    """One-shot Cournot game on a quantity grid, payoffs of shape ``(n, K, ..., K)``."""
    grid = quantity_grid(quantity_step=quantity_step, max_quantity=max_quantity)
    mesh = np.stack(np.meshgrid(*([grid] * n_firms), indexing="ij"))  # (n, K, ..., K)
    price = np.maximum(a - b * mesh.sum(axis=0), 0.0)
    labels = [f"{q:g}" for q in grid]
    return NormalFormGame((price - c) * mesh, action_labels=[labels] * n_firms,
                          player_labels=[f"firm {i}" for i in range(n_firms)],
                          title=f"Cournot, {n_firms} firms")


def cournot_reference(*, n_firms: int = 2, a: float = 100.0, b: float = 1.0, c: float = 10.0,
                      **_: float) -> dict[str, float]:
    """Closed-form symmetric Cournot equilibrium."""
    return {"quantity": (a - c) / (b * (n_firms + 1)),
            "price": (a + n_firms * c) / (n_firms + 1),
            "profit": (a - c) ** 2 / (b * (n_firms + 1) ** 2)}


SCENARIOS = (
    Scenario("cournot", "Cournot quantity competition, linear demand, one shot on a grid.",
             cournot,
             (Parameter("n_firms", 2, "number of firms", low=1, high=4),
              Parameter("a", 100.0, "demand intercept", low=0.0),
              Parameter("b", 1.0, "demand slope", low=1e-9),
              Parameter("c", 10.0, "marginal cost", low=0.0),
              Parameter("quantity_step", 5.0, "grid spacing", low=1e-6),
              Parameter("max_quantity", 60.0, "largest quantity on the grid", low=0.0)),
             reference=cournot_reference),
)
