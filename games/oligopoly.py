"""Oligopoly: Cournot quantity and Bertrand price competition with linear demand.

Cournot
-------
``n`` firms choose quantities ``q_i`` from a grid; the price is ``max(a - b Q, 0)`` with
``Q = sum_i q_i``; firm ``i`` earns ``(P - c) q_i``. One shot, it is a normal-form game on the grid.
With ``markov_demand`` the intercept follows a two-state Markov chain (``a_low`` / ``a_high``,
staying with probabilities ``stay_low`` / ``stay_high``), firms see the demand state and play
repeatedly with discount ``discount``; actions do not affect the chain, so the stationary
equilibrium plays the static equilibrium of each state and values solve
``V = (I - discount P)^-1 pi``.

Reference (Cournot 1838; Tirole 1988 ch. 5): ``q = (a - c) / (b (n + 1))``, price
``(a + n c) / (n + 1)``, profit ``(a - c)^2 / (b (n + 1)^2)``; with ``a = 100, b = 1, c = 10`` and
two firms ``q = 30``, price 40, profit 900. Markov demand [C, REFERENCES.md]: intercepts 80/120,
chain ``[[0.8, 0.2], [0.3, 0.7]]``, ``c = 10``, discount 0.9: ``V = (8062.626, 9517.172)``.

Bertrand
--------
Differentiated products: firm ``i`` sells ``q_i = max(alpha - beta p_i + gamma sum_{j != i} p_j,
0)`` at its price ``p_i`` on a grid and earns ``(p_i - c) q_i``. Reference [D, REFERENCES.md]:
``p = (alpha + beta c) / (2 beta - (n - 1) gamma)`` (40 for ``alpha = 100, beta = 2,
gamma = 0.5, c = 10, n = 3``).

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

from collections.abc import Sequence
from typing import Any

import numpy as np

from gametools.model import MarkovGame, NormalFormGame
from gametools.scenarios import Parameter, Scenario

__all__ = ["cournot", "cournot_reference", "bertrand", "bertrand_reference", "quantity_grid",
           "price_grid",
           "summarize_cournot", "summarize_bertrand", "select_cournot", "select_bertrand",
           "SCENARIOS"]


def quantity_grid(*, quantity_step: float, max_quantity: float) -> np.ndarray:
    """The quantities firms may choose: ``0, step, 2 step, ..., max_quantity``."""
    return np.arange(0.0, max_quantity + 0.5 * quantity_step, quantity_step)


def _cournot_profits(n_firms: int, a: float, b: float, c: float, grid: np.ndarray
                     ) -> np.ndarray:
    mesh = np.stack(np.meshgrid(*([grid] * n_firms), indexing="ij"))  # (n, K, ..., K)
    price = np.maximum(a - b * mesh.sum(axis=0), 0.0)
    return (price - c) * mesh


def cournot(*, n_firms: int = 2, a: float = 100.0, b: float = 1.0, c: float = 10.0,
            quantity_step: float = 5.0, max_quantity: float = 60.0, markov_demand: bool = False,
            a_low: float = 80.0, a_high: float = 120.0, stay_low: float = 0.8,
            stay_high: float = 0.7, discount: float = 0.9) -> NormalFormGame | MarkovGame:
    """Cournot on a quantity grid: one shot (normal form), or repeated under Markov demand."""
    grid = quantity_grid(quantity_step=quantity_step, max_quantity=max_quantity)
    labels = [f"{q:g}" for q in grid]
    players = [f"firm {i}" for i in range(n_firms)]
    if not markov_demand:
        return NormalFormGame(_cournot_profits(n_firms, a, b, c, grid),
                              action_labels=[labels] * n_firms, player_labels=players,
                              title=f"Cournot, {n_firms} firms")
    chain = np.array([[stay_low, 1 - stay_low], [1 - stay_high, stay_high]])
    actions = (len(grid),) * n_firms
    rewards = np.stack([_cournot_profits(n_firms, intercept, b, c, grid)
                        for intercept in (a_low, a_high)], axis=1)  # (n, 2, K, ..., K)
    transitions = np.broadcast_to(chain.reshape(2, *(1,) * n_firms, 2), (2, *actions, 2)).copy()
    stationary = np.linalg.solve(np.vstack([chain.T - np.eye(2), np.ones(2)])[1:],
                                 np.array([0.0, 1.0]))
    return MarkovGame(transitions, rewards, stationary, discount,
                      state_labels=[f"demand {a_low:g}", f"demand {a_high:g}"],
                      action_labels=[labels] * n_firms, player_labels=players)


def cournot_reference(*, n_firms: int = 2, a: float = 100.0, b: float = 1.0, c: float = 10.0,
                      markov_demand: bool = False, a_low: float = 80.0, a_high: float = 120.0,
                      stay_low: float = 0.8, stay_high: float = 0.7, discount: float = 0.9,
                      **_: float) -> dict[str, Any]:
    """Closed-form symmetric Cournot equilibrium (per demand state under Markov demand)."""
    def static(intercept: float) -> dict[str, float]:
        return {"quantity": (intercept - c) / (b * (n_firms + 1)),
                "price": (intercept + n_firms * c) / (n_firms + 1),
                "profit": (intercept - c) ** 2 / (b * (n_firms + 1) ** 2)}
    if not markov_demand:
        return static(a)
    per_state = [static(a_low), static(a_high)]
    chain = np.array([[stay_low, 1 - stay_low], [1 - stay_high, stay_high]])
    values = np.linalg.solve(np.eye(2) - discount * chain,
                             np.array([s["profit"] for s in per_state]))
    return {"quantity": [s["quantity"] for s in per_state],
            "price": [s["price"] for s in per_state],
            "profit": [s["profit"] for s in per_state], "values": values.tolist()}


def _expected_action_values(game: NormalFormGame | MarkovGame, profile: Sequence[np.ndarray],
                            grid: np.ndarray) -> list[float]:
    return [float(np.asarray(policy).reshape(-1, len(grid))[0] @ grid) for policy in profile]


def summarize_cournot(game: NormalFormGame | MarkovGame, profile: Sequence[np.ndarray],
                      **params: Any) -> dict[str, Any]:
    """Expected quantity per firm, expected price and profit per firm (first demand state)."""
    from gametools.exploitability import policy_values

    grid = quantity_grid(quantity_step=params.get("quantity_step", 5.0),
                         max_quantity=params.get("max_quantity", 60.0))
    quantities = _expected_action_values(game, profile, grid)
    intercept = params.get("a_low", 80.0) if params.get("markov_demand") else params.get("a", 100.)
    total = np.sum(quantities)
    return {"quantity": quantities,
            "price": float(max(intercept - params.get("b", 1.0) * total, 0.0)),
            "profit": [float(v) for v in policy_values(game, profile)]}


def price_grid(*, price_step: float, max_price: float) -> np.ndarray:
    """The prices firms may set: ``0, step, ..., max_price``."""
    return np.arange(0.0, max_price + 0.5 * price_step, price_step)


def bertrand(*, n_firms: int = 3, alpha: float = 100.0, beta: float = 2.0, gamma: float = 0.5,
             c: float = 10.0, price_step: float = 5.0, max_price: float = 80.0
             ) -> NormalFormGame:
    """One-shot differentiated Bertrand game on a price grid."""
    grid = price_grid(price_step=price_step, max_price=max_price)
    mesh = np.stack(np.meshgrid(*([grid] * n_firms), indexing="ij"))
    others = mesh.sum(axis=0, keepdims=True) - mesh
    demand = np.maximum(alpha - beta * mesh + gamma * others, 0.0)
    labels = [f"{p:g}" for p in grid]
    return NormalFormGame((mesh - c) * demand, action_labels=[labels] * n_firms,
                          player_labels=[f"firm {i}" for i in range(n_firms)],
                          title=f"Bertrand, {n_firms} firms")


def bertrand_reference(*, n_firms: int = 3, alpha: float = 100.0, beta: float = 2.0,
                       gamma: float = 0.5, c: float = 10.0, **_: float) -> dict[str, float]:
    """Symmetric equilibrium price, quantity and profit of the differentiated Bertrand game."""
    price = (alpha + beta * c) / (2 * beta - (n_firms - 1) * gamma)
    quantity = alpha - beta * price + gamma * (n_firms - 1) * price
    return {"price": price, "quantity": quantity, "profit": (price - c) * quantity}


def summarize_bertrand(game: NormalFormGame, profile: Sequence[np.ndarray], **params: Any
                       ) -> dict[str, Any]:
    """Expected price per firm and expected profit per firm."""
    grid = price_grid(price_step=params.get("price_step", 5.0),
                      max_price=params.get("max_price", 80.0))
    return {"price": _expected_action_values(game, profile, grid),
            "profit": [float(v) for v in game.expected_payoffs(profile)]}


def _symmetric_pure(game: NormalFormGame, grid: np.ndarray, target: float
                    ) -> tuple[np.ndarray, ...]:
    index = int(np.argmin(np.abs(grid - target)))
    return tuple(np.eye(len(grid))[index] for _ in range(game.num_players))


def select_cournot(game: NormalFormGame | MarkovGame, result: Any, **params: Any) -> Any:
    """The solver's result with the symmetric equilibrium at the closed-form quantity first
    (Cournot 1838; the grid game may also have asymmetric equilibria). Markov demand: unchanged.
    """
    if params.get("markov_demand") or not isinstance(game, NormalFormGame):
        return result
    from games.selection import select_theory_equilibrium

    grid = quantity_grid(quantity_step=params.get("quantity_step", 5.0),
                         max_quantity=params.get("max_quantity", 60.0))
    target = float(cournot_reference(**params)["quantity"])
    return select_theory_equilibrium(
        game, result, _symmetric_pure(game, grid, target),
        rule="symmetric equilibrium at the closed-form Cournot quantity (a - c) / (b (n + 1))",
        summarize=summarize_cournot, params=params)


def select_bertrand(game: NormalFormGame, result: Any, **params: Any) -> Any:
    """The solver's result with the symmetric equilibrium at the closed-form price first."""
    from games.selection import select_theory_equilibrium

    grid = price_grid(price_step=params.get("price_step", 5.0),
                      max_price=params.get("max_price", 80.0))
    target = bertrand_reference(**params)["price"]
    return select_theory_equilibrium(
        game, result, _symmetric_pure(game, grid, target),
        rule="symmetric equilibrium at the closed-form Bertrand price (alpha + beta c) / "
             "(2 beta - (n - 1) gamma)", summarize=summarize_bertrand, params=params)


SCENARIOS = (
    Scenario("cournot", "Cournot quantity competition, linear demand, one shot on a grid.",
             cournot,
             (Parameter("n_firms", 2, "number of firms", low=1, high=4),
              Parameter("a", 100.0, "demand intercept", low=0.0),
              Parameter("b", 1.0, "demand slope", low=1e-9),
              Parameter("c", 10.0, "marginal cost", low=0.0),
              Parameter("quantity_step", 5.0, "grid spacing", low=1e-6),
              Parameter("max_quantity", 60.0, "largest quantity on the grid", low=0.0),
              Parameter("markov_demand", False, "repeat under a two-state Markov demand"),
              Parameter("a_low", 80.0, "low demand intercept (Markov demand)", low=0.0),
              Parameter("a_high", 120.0, "high demand intercept (Markov demand)", low=0.0),
              Parameter("stay_low", 0.8, "P(low -> low)", low=0.0, high=1.0),
              Parameter("stay_high", 0.7, "P(high -> high)", low=0.0, high=1.0),
              Parameter("discount", 0.9, "discount factor (Markov demand)", low=0.0,
                        high=0.999)),
             reference=cournot_reference, summarize=summarize_cournot, select=select_cournot),
    Scenario("bertrand", "Differentiated Bertrand price competition, one shot on a grid.",
             bertrand,
             (Parameter("n_firms", 3, "number of firms", low=1, high=4),
              Parameter("alpha", 100.0, "demand intercept", low=0.0),
              Parameter("beta", 2.0, "own-price sensitivity", low=1e-9),
              Parameter("gamma", 0.5, "cross-price sensitivity (substitutes)", low=0.0),
              Parameter("c", 10.0, "marginal cost", low=0.0),
              Parameter("price_step", 5.0, "grid spacing", low=1e-6),
              Parameter("max_price", 80.0, "largest price on the grid", low=0.0)),
             reference=bertrand_reference, summarize=summarize_bertrand,
             select=select_bertrand),
)
