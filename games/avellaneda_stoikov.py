"""Avellaneda and Stoikov (2008): optimal quotes of a market maker with inventory risk.

Economics
---------
The mid-price follows ``dS = sigma dW`` from ``S_0 = mid_price``. Over ``[0, T]`` (``T =
horizon``) a market maker quotes a bid ``S - delta_b`` and an ask ``S + delta_a``; market orders
hit them at Poisson rates ``A exp(-k delta)``. Avellaneda and Stoikov maximise
``-E exp(-gamma (X_T + q_T S_T))`` (cash ``X``, inventory ``q``, risk aversion ``gamma``).

Closed form (Avellaneda and Stoikov 2008, eqs. (29)-(30))
---------------------------------------------------------
To first order in the inventory, the *reservation price* is ``r = s - q gamma sigma^2 (T - t)``
and the optimal total spread, quoted around ``r``, is
``delta_a + delta_b = gamma sigma^2 (T - t) + (2 / gamma) ln(1 + gamma / k)``: at time 0 with zero
inventory ``r = mid_price``. The formula is an approximation: the exact optimum of the same model
(Guéant, Lehalle and Fernandez-Tapia 2013, with inventory bound ``Q``) is
``delta_b = (1 / gamma) ln(1 + gamma / k) + (1 / k) ln(w_q / w_{q+1})`` (``delta_a`` with
``w_{q-1}``), ``w(t) = exp(-M (T - t)) 1``, ``M`` tridiagonal with ``M_qq = k gamma sigma^2 q^2 / 2``
and off-diagonals ``-A (1 + gamma / k)^(-(1 + k / gamma))``; :func:`exact_quotes` computes it.
The two agree as ``gamma sigma^2 T`` becomes small; at the defaults (AS's own parameters with
``gamma = 0.01``) the approximation's spread is 1.5% above the exact one, at ``gamma = 0.1``
25% (the exact spread saturates in ``T``, the approximation grows linearly);
:func:`continuum_solution` reports the gap with numbers.

The game on a grid (one player, finite horizon)
------------------------------------------------
Tabular solvers need additive rewards, so the grid game uses the *risk-adjusted expectation*
``E[X_T + q_T S_T - (gamma sigma^2 / 2) int q_t^2 dt]`` (Guéant 2017; Cartea, Jaimungal and
Penalva 2015, ch. 10), whose exact optimum is the formula above with ``xi = 0`` in place of the
utility's ``gamma`` (``1 / k`` for ``(1 / gamma) ln(1 + gamma / k)`` and ``A / e`` for the
off-diagonals): it agrees with the CARA optimum to first order in ``gamma / k``. Time steps
``dt = T / n_steps`` are split in a bid phase and an ask phase (states ``(t, phase, q)``,
``|q| <= max_inventory``): the market maker picks an offset from ``n_quotes`` values in
``[delta_min, delta_min + 1.5 / k]`` (``delta_min = max(0, ln(A dt) / k)`` keeps fill probabilities
``A dt exp(-k delta) <= 1``); the quote is filled with that probability (never beyond the
inventory bound) and pays its offset (the trade's profit against the mid); the bid phase
charges ``(gamma sigma^2 / 2) q^2 dt``. The mid-price's martingale moves have mean zero and are
left out of the expected rewards.

References
----------
M. Avellaneda and S. Stoikov, "High-frequency trading in a limit order book", Quantitative
Finance 8(3), 2008. O. Guéant, C.-A. Lehalle and J. Fernandez-Tapia, "Dealing with the inventory
risk", Math. Financ. Econ. 7, 2013. O. Guéant, "Optimal market making", Appl. Math. Finance
24(2), 2017. T. Spooner and R. Savani, "Robust market making via adversarial reinforcement
learning", IJCAI 2020.

Examples
--------
>>> from games.avellaneda_stoikov import reference
>>> ref = reference(gamma=0.1, sigma=2.0, k=1.5, horizon=1.0)
>>> round(ref["spread"], 4), ref["reservation_price"]
(1.6908, 100.0)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

from gametools.errors import GametoolsError
from gametools.model import MarkovGame
from gametools.policies import validate_profile
from gametools.scenarios import Parameter, Scenario

__all__ = ["SCENARIOS", "build", "continuum_solution", "exact_quotes", "penalised_quotes",
           "quote_grid", "quoting_game", "reference", "summarize"]

BID, ASK = 0, 1


def _resolve(params: dict[str, Any]) -> dict[str, Any]:
    return SCENARIOS[0].resolve(**params)


def quote_grid(**params: Any) -> np.ndarray:
    """The offsets the market maker may quote, ``(n_quotes,)``."""
    q = _resolve(params)
    dt = q["horizon"] / q["n_steps"]
    low = max(0.0, math.log(q["A"] * dt) / q["k"])
    return np.linspace(low, low + 1.5 / q["k"], q["n_quotes"])


def _state(t: int, phase: int, inventory: int, bound: int) -> int:
    return (2 * t + phase) * (2 * bound + 1) + inventory + bound


def build(**params: Any) -> MarkovGame:
    """The quoting game on the grids (parameters as in :data:`SCENARIOS`).

    Returns
    -------
    MarkovGame
        One player (the market maker) with ``n_quotes`` actions; states ``(t, phase, q)`` then one
        terminal state; the player observes the state.
    """
    q = _resolve(params)
    return quoting_game(quotes=quote_grid(**q), k=q["k"], A=q["A"], horizon=q["horizon"],
                        n_steps=q["n_steps"], max_inventory=q["max_inventory"],
                        inventory_penalty=0.5 * q["gamma"] * q["sigma"] ** 2)


def quoting_game(*, quotes: np.ndarray, k: float, A: float, horizon: float, n_steps: int,
                 max_inventory: int, inventory_penalty: float,
                 adversary: Sequence[tuple[float, float]] | None = None,
                 fills: str = "bernoulli") -> MarkovGame:
    """The grid quoting game (module docstring), alone or against an adversary.

    Parameters
    ----------
    quotes : ndarray, shape (n_quotes,)
        The market maker's offsets.
    k, A, horizon : float
    n_steps, max_inventory : int
    inventory_penalty : float
        Running cost ``inventory_penalty * q^2`` per unit time (``gamma sigma^2 / 2``).
    adversary : sequence of (drift, scale), optional
        A second player's actions: the mid-price drift ``b`` (the market maker earns its expected
        mark-to-market ``q b dt / 2`` in each phase) and a factor on the fill intensity ``A``;
        the game is zero-sum.
    fills : {"bernoulli", "poisson"}
        Fills of a quote in one phase: at most one, with probability ``min(A dt e^(-k delta),
        1)``; or a Poisson number with that mean (the continuous-time count), stopped at the
        inventory bound.

    Returns
    -------
    MarkovGame
        States ``(t, phase, q)`` then one terminal state; actions ``(n_quotes,)`` or
        ``(n_quotes, len(adversary))``; every player observes the state.
    """
    bound, steps = max_inventory, n_steps
    dt = horizon / steps
    options = [(0.0, 1.0)] if adversary is None else list(adversary)
    drift = np.array([b for b, _ in options])
    scale = np.array([x for _, x in options])
    n, m = len(quotes), len(options)
    fill = np.minimum(A * dt * scale[None, :] * np.exp(-k * quotes)[:, None], 1.0)  # (n, m)
    levels = 2 * bound + 1
    num_states = 2 * steps * levels + 1
    terminal_state = num_states - 1
    inventory = np.arange(-bound, bound + 1)
    t, phase, level = (a.ravel() for a in np.meshgrid(np.arange(steps), (BID, ASK),
                                                        np.arange(levels), indexing="ij"))
    held = inventory[level].astype(float)
    move = np.where(phase == BID, 1, -1)
    allowed = np.abs(inventory[level] + move) <= bound
    # bid phase -> ask phase of the same step; ask phase -> bid phase of the next step
    following_t = np.where(phase == BID, t, t + 1)
    following_phase = 1 - phase
    last = following_t == steps

    def target(shift: np.ndarray) -> np.ndarray:
        index = (2 * following_t + following_phase) * levels + level + shift
        return np.where(last, terminal_state, index)

    states = (2 * t + phase) * levels + level
    joint = n * m
    rows = (states[:, None] * joint + np.arange(joint)[None, :]).ravel()
    if fills == "bernoulli":
        here = target(np.zeros_like(level))
        there = np.where(allowed, target(move), here)
        p = fill[None, :, :] * allowed[:, None, None]  # (states, n, m)
        cols = np.concatenate([np.repeat(there, joint), np.repeat(here, joint)])
        data = np.concatenate([p.ravel(), (1.0 - p).ravel()])
        all_rows = np.concatenate([rows, rows])
        executed = p
    elif fills == "poisson":
        from scipy.stats import poisson

        mean = A * dt * scale[None, :] * np.exp(-k * quotes)[:, None]  # (n, m)
        room = np.where(move > 0, bound - inventory[level], inventory[level] + bound)  # (states,)
        count = np.arange(2 * bound + 1)  # fills 0..2Q
        pmf = poisson.pmf(count[:, None, None], mean[None])  # (C, n, m)
        tail = poisson.sf(count[:, None, None] - 1, mean[None])  # P(N >= c)
        # P(c fills executed) = pmf below the room, the whole tail at the room
        probability = np.where((count[None, :] < room[:, None])[:, :, None, None],
                               pmf[None], tail[None])  # (states, C, n, m)
        probability *= (count[None, :] <= room[:, None])[:, :, None, None]
        executed = np.einsum("c,scnm->snm", count.astype(float), probability)
        probability /= probability.sum(axis=1, keepdims=True)
        # the last phase ends the game whatever the fills: one entry to the terminal state
        probability[last] = 0.0
        probability[last, 0] = 1.0
        destination = np.stack([target(np.minimum(c, room) * move) for c in count], axis=1)
        keep = probability > 0
        all_rows = np.broadcast_to(states[:, None, None, None] * joint
                                   + np.arange(joint).reshape(1, 1, n, m),
                                   probability.shape)[keep]
        cols = np.broadcast_to(destination[:, :, None, None], probability.shape)[keep]
        data = probability[keep]
    else:
        raise GametoolsError(f"fills must be 'bernoulli' or 'poisson', got {fills!r}")
    reward = executed * quotes[None, :, None] \
        + (held[:, None] * drift[None, :] * dt / 2)[:, None, :]
    reward -= np.where(phase == BID, inventory_penalty * held ** 2 * dt, 0.0)[:, None, None]
    transitions = sp.csr_array((data, (all_rows, cols)),
                               shape=(num_states * joint, num_states))
    transitions.sum_duplicates()
    initial = np.zeros(num_states)
    initial[_state(0, BID, 0, bound)] = 1.0
    terminal = np.zeros(num_states, dtype=bool)
    terminal[terminal_state] = True
    quote_labels = [f"{x:.6g}" for x in quotes]
    if adversary is None:
        rewards = np.zeros((1, num_states, n))
        rewards[0, states] = reward[:, :, 0]
        return MarkovGame(transitions, rewards, initial, 1.0, terminal=terminal,
                          player_labels=["market maker"], action_labels=[quote_labels])
    rewards = np.zeros((2, num_states, n, m))
    rewards[0, states] = reward
    rewards[1] = -rewards[0]
    return MarkovGame(transitions, rewards, initial, 1.0, terminal=terminal,
                      player_labels=["market maker", "adversary"],
                      action_labels=[quote_labels,
                                     [f"drift {b:.6g}, arrival x{x:.6g}" for b, x in options]])


def reference(**params: Any) -> dict[str, Any]:
    """Avellaneda and Stoikov's closed form at time 0 and zero inventory.

    Returns
    -------
    dict
        ``reservation_price`` (``mid_price``), ``spread``
        (``gamma sigma^2 T + (2 / gamma) ln(1 + gamma / k)``), ``bid``, ``ask`` (prices) and
        ``reservation_price_slope`` (``dr / dq = -gamma sigma^2 T``).
    """
    q = _resolve(params)
    gamma, sigma, k, horizon = q["gamma"], q["sigma"], q["k"], q["horizon"]
    spread = gamma * sigma ** 2 * horizon + 2.0 / gamma * math.log1p(gamma / k)
    mid = q["mid_price"]
    return {"reservation_price": mid, "spread": spread, "bid": mid - spread / 2,
            "ask": mid + spread / 2, "reservation_price_slope": -gamma * sigma ** 2 * horizon}


def penalised_quotes(penalty: np.ndarray, *, eta: float, k: float, horizon: float, base: float
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Optimal offsets at time 0 for a running inventory penalty, by the matrix exponential.

    The value ``V(t, q)`` of quoting against fill intensities ``A exp(-k delta)`` with running
    cost ``penalty[q]`` per unit time and inventory ``|q| <= Q`` (no quote beyond the bound)
    solves ``dV/dt - penalty(q) + sum_sides sup_delta A e^(-k delta) (delta + V(q +- 1) - V(q)) =
    0``; with ``w = exp(k V)`` the equation is linear, ``dw/dt = M w``, ``M`` tridiagonal with
    ``M_qq = k penalty(q)`` and off-diagonals ``-eta`` (``eta = A / e`` for the risk-neutral
    criterion; Guéant, Lehalle and Fernandez-Tapia 2013 for the CARA one), so
    ``w(0) = exp(-M T) 1`` and the optimal offsets are ``base + (1 / k) ln(w_q / w_{q+-1})``.

    Parameters
    ----------
    penalty : ndarray, shape (2 Q + 1,)
        Running cost at ``q = -Q..Q``.
    eta, k, horizon, base : float

    Returns
    -------
    bid, ask, log_w : ndarray, shape (2 Q + 1,)
        Offsets (``nan`` where the bound forbids the quote) and ``ln w(0)`` (``k V(0, q)`` for
        the risk-neutral criterion).
    """
    from scipy.linalg import expm  # on first use: importing the scenarios stays cheap

    size = penalty.size
    matrix = np.diag(k * np.asarray(penalty, dtype=float)) - eta * (np.eye(size, k=1)
                                                                     + np.eye(size, k=-1))
    log_w = np.log(expm(-matrix * horizon) @ np.ones(size))
    bid = np.full(size, np.nan)
    ask = np.full(size, np.nan)
    bid[:-1] = base + (log_w[:-1] - log_w[1:]) / k
    ask[1:] = base + (log_w[1:] - log_w[:-1]) / k
    return bid, ask, log_w


def exact_quotes(*, xi: float | None = None, **params: Any) -> dict[str, Any]:
    """The exact optimal quotes at time 0 (Guéant, Lehalle and Fernandez-Tapia 2013; Guéant 2017).

    Parameters
    ----------
    xi : float, optional
        ``gamma`` (default): the CARA utility of Avellaneda and Stoikov; ``0``: the risk-adjusted
        expectation of the grid game.

    Returns
    -------
    dict
        ``bid_offset``, ``ask_offset`` (arrays over ``q = -Q..Q``; ``nan`` where the bound
        forbids the quote), ``reservation_price`` and ``spread`` at ``q = 0``.
    """
    q = _resolve(params)
    gamma, sigma, k, big_a = q["gamma"], q["sigma"], q["k"], q["A"]
    xi = gamma if xi is None else float(xi)
    bound = q["max_inventory"]
    levels = np.arange(-bound, bound + 1)
    if xi > 0:
        eta = big_a * (1 + xi / k) ** (-(1 + k / xi))
        base = math.log1p(xi / k) / xi
    else:
        eta, base = big_a / math.e, 1.0 / k
    penalty = 0.5 * gamma * sigma ** 2 * levels.astype(float) ** 2
    bid, ask, _ = penalised_quotes(penalty, eta=eta, k=k, horizon=q["horizon"], base=base)
    zero = bound
    return {"bid_offset": bid, "ask_offset": ask,
            "reservation_price": q["mid_price"] + (ask[zero] - bid[zero]) / 2,
            "spread": float(bid[zero] + ask[zero])}


def summarize(game: MarkovGame, profile: Sequence[Any], **params: Any) -> dict[str, Any]:
    """Quotes of a policy at time 0 (expected offsets where it mixes).

    Returns
    -------
    dict
        ``reservation_price`` and ``spread`` at zero inventory (the mid of the quotes and their
        distance), ``spread_vs_formula`` (relative to Avellaneda-Stoikov's spread) with
        ``spread_note`` (why they differ, in numbers), ``bid_offset`` / ``ask_offset`` at zero
        inventory, ``reservation_price_by_inventory`` (``q = -Q..Q``, ``nan`` where a side may
        not quote) and ``value`` (the expected risk-adjusted profit).
    """
    q = _resolve(params)
    (policy,) = validate_profile(game, profile)
    quotes = quote_grid(**q)
    bound = q["max_inventory"]
    offsets = policy @ quotes
    bids = np.array([offsets[_state(0, BID, i, bound)] if i < bound else np.nan
                     for i in range(-bound, bound + 1)])
    asks = np.array([offsets[_state(0, ASK, i, bound)] if i > -bound else np.nan
                     for i in range(-bound, bound + 1)])
    from gametools.exploitability import policy_values

    mid = q["mid_price"]
    spread = float(asks[bound] + bids[bound])
    formula = reference(**q)["spread"]
    exact = exact_quotes(**q)["spread"]
    return {"reservation_price": float(mid + (asks[bound] - bids[bound]) / 2),
            "spread": spread,
            "spread_vs_formula": (spread - formula) / formula,
            "spread_note": (f"Avellaneda-Stoikov's spread {formula:.6g} is a first-order "
                            f"approximation, {100 * (formula - exact) / exact:+.2f}% from the "
                            f"exact optimum {exact:.6g} of their model; the grid game adds a "
                            f"time-step error O(horizon / n_steps) (n_steps=400 roughly "
                            f"halves it at the defaults)"),
            "bid_offset": float(bids[bound]), "ask_offset": float(asks[bound]),
            "reservation_price_by_inventory": [float(x) for x in mid + (asks - bids) / 2],
            "value": float(policy_values(game, (policy,))[0])}


def continuum_solution(grid_summary: Any = None, **params: Any) -> dict[str, Any]:
    """The exact optimum of the continuous-time model, the formula's gap and the grid's error.

    Returns
    -------
    dict
        ``summary``: the exact CARA optimum (``reservation_price``, ``spread``); ``as_formula_gap``:
        Avellaneda-Stoikov's spread minus the exact one (absolute and relative);
        ``risk_adjusted``: the exact optimum of the grid game's criterion (its continuous-time
        limit); ``discretisation_error``: the grid summary minus that limit.
    """
    q = _resolve(params)
    cara = exact_quotes(**q)
    adjusted = exact_quotes(xi=0.0, **q)
    formula = reference(**q)["spread"]
    out: dict[str, Any] = {
        "method": "continuum: exact optimal quotes (Gueant-Lehalle-Fernandez-Tapia matrix "
                  "exponential, inventory bound max_inventory)",
        "summary": {"reservation_price": cara["reservation_price"], "spread": cara["spread"]},
        "as_formula_gap": {"spread": formula - cara["spread"],
                           "relative": (formula - cara["spread"]) / cara["spread"],
                           "note": "Avellaneda-Stoikov's spread is first order in the inventory; "
                                   "it approaches the exact optimum as gamma sigma^2 horizon -> 0"},
        "risk_adjusted": {"reservation_price": adjusted["reservation_price"],
                          "spread": adjusted["spread"]}}
    if grid_summary is not None:
        out["discretisation_error"] = {
            key: float(grid_summary[key] - adjusted[key])
            for key in ("reservation_price", "spread") if key in grid_summary}
    return out


SCENARIOS = (
    Scenario(
        "avellaneda_stoikov",
        "Avellaneda-Stoikov (2008) market making: quotes under inventory risk, finite horizon.",
        build,
        (Parameter("gamma", 0.01, "risk aversion", low=1e-6, high=10.0),
         Parameter("sigma", 2.0, "volatility of the mid-price (price units per sqrt(time))",
                   low=1e-6, high=1e6),
         Parameter("k", 1.5, "decay of the fill intensity A exp(-k delta)", low=1e-3, high=1e3),
         Parameter("A", 140.0, "fill intensity at zero offset (per unit time)", low=1e-3,
                   high=1e6),
         Parameter("horizon", 1.0, "trading horizon T", low=1e-4, high=1e3),
         Parameter("mid_price", 100.0, "initial mid-price", low=-1e9, high=1e9),
         Parameter("max_inventory", 10, "inventory bound Q (|q| <= Q)", low=1, high=50),
         Parameter("n_steps", 100, "time steps of the grid game", low=1, high=2000),
         Parameter("n_quotes", 101, "quote offsets on the grid", low=2, high=401)),
        reference=reference, summarize=summarize, continuum=continuum_solution,
        tags=("continuous",)),
)
