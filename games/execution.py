"""Predatory trading: a distressed seller liquidates while predators trade the same asset.

Economics
---------
A *seller* must sell ``position`` units within the horizon ``T`` (``horizon``); ``n_predators``
*predators* know it, trade the same asset and must end flat (Brunnermeier and Pedersen 2005;
Carlin, Lobo and Viswanathan 2007, "CLV"). Prices follow CLV's linear impact model
``p(t) = p0 + gamma (X(t) - X(0)) + lambda X'(t)``: ``X`` is the aggregate position of all
traders, ``gamma`` the permanent and ``lambda`` (``lam``) the temporary impact.

Discrete time (the game)
------------------------
``n_steps`` steps of length ``dt = T / n_steps``. At step ``t`` every trader ``i`` trades
``x_i,t`` (a sale is negative) at a constant rate over the step; the net flow is
``Q_t = sum_i x_i,t`` and everyone executes at the step's average CLV price

    ``e_t = p0 + gamma (X_t - X_0 + Q_t / 2) + lam Q_t / dt``,

with ``X_t - X_0`` the net flow of the earlier steps. This is CLV's continuous-time game
restricted to piecewise-constant trading rates, so it converges to it as ``n_steps`` grows and
``p0`` drops out of every payoff. Trader ``i``'s reward at step ``t`` is
``-x_i,t (e_t - p0)``, so the seller's total is ``-(shortfall)`` with
``shortfall = position p0 - revenue`` and a predator's total is its trading profit.

Players, actions, timing, information
-------------------------------------
- Trades are in *lots* of ``h = position / n_lots``. The seller's actions are "sell ``j``
  lots", ``j = 0..n_lots``; a sale beyond the remaining inventory sells the inventory. The seller
  never buys. A predator's actions are "trade ``j`` lots", ``|j| <= predator_lots``; its position
  is capped at ``predator_lots`` lots either way (a trade beyond the cap stops at the cap).
- All trade simultaneously at steps ``0..n_steps - 2``. At the last step everyone is *forced* to
  close: the seller sells its remaining inventory and each predator trades back to zero, at that
  step's price ``e_t`` (temporary impact included). The actions there have no effect (the
  players keep their action sets; the evaluator treats them as idle).
- The state is ``(t, seller inventory, predator positions)`` and everyone observes it (the game
  is fully observed: prices and flows are public, so positions can be inferred). Transitions are
  deterministic; the horizon is ``n_steps``.

Closed forms and references
---------------------------
CLV's open-loop Nash equilibrium with ``n`` traders (``n - 1`` predators, REFERENCES.md
"Execution games"): rates ``x_i'(t) = a e^(-kappa t) + b_i e^(rho t)``,
``kappa = ((n - 1) / (n + 1)) gamma / lambda``, ``rho = gamma / lambda``,
``a = kappa dX / (n (1 - e^(-kappa T)))``, ``b_i = rho (dx_i - dX / n) / (e^(rho T) - 1)``
(:func:`clv_equilibrium`). At ``gamma = 1``, ``lambda = 0.5``, ``T = 1``, selling one unit, the
seller's cost is 1.0 alone (TWAP), 1.087450 with one predator (who earns 0.069070) and
1.118008 with two. Alone, a seller with linear temporary impact splits equally (TWAP), in
discrete time too: ``shortfall = gamma X^2 / 2 + (lam / dt) sum_t x_t^2`` is minimised by equal
trades, with value ``gamma X^2 / 2 + lam X^2 / T`` for every ``n_steps`` (exact on the grid when
``n_lots`` is a multiple of ``n_steps``).

Discrete analogue: :func:`open_loop_equilibrium` solves the discrete-time open-loop game
(each trader commits to a trade sequence) exactly as a linear-quadratic game; it converges to
CLV as ``n_steps`` grows. :func:`reference_profile` rounds its holdings to the lot grid and plays
those trades whatever the state: against such time-only policies a deviator's best response is
itself open-loop, so the profile is an approximate Nash equilibrium of the grid game whose
NashConv is the lot rounding error. The grid game's *subgame-perfect* (closed-loop) equilibria,
e.g. from :func:`gametools.solvers.backward_induction.backward_induction`, differ from the
open-loop ones (predators react to inventories) but show the same predation: the predator goes
short while the seller sells, buys back at the end, and the seller's shortfall rises (checked at
``n_steps = 2, 3`` in the tests).

References
----------
B. I. Carlin, M. S. Lobo and S. Viswanathan, "Episodic liquidity crises: cooperative and
predatory trading", J. Finance 62(5), 2007. M. K. Brunnermeier and L. H. Pedersen, "Predatory
trading", J. Finance 60(4), 2005. R. Almgren and N. Chriss, "Optimal execution of portfolio
transactions", J. Risk 3, 2000 (TWAP under linear temporary impact).

Examples
--------
>>> from games.execution import build, reference, reference_profile, summarize
>>> game = build()
>>> game.num_actions, game.player_labels
((7, 7), ('seller', 'predator 1'))
>>> ref = reference()
>>> round(ref["seller_shortfall"], 6), round(ref["predator_profit"], 5)
(1.08745, 0.06907)
>>> stats = summarize(game, reference_profile(game))
>>> stats["holdings"][1][1] < 0 < stats["seller_shortfall"] - 1.0  # front-running raises cost
True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

from gametools.exploitability import state_visits
from gametools.mdp import joint_policy
from gametools.model import MarkovGame
from gametools.policies import validate_profile
from gametools.scenarios import Parameter, Scenario, ScenarioError

__all__ = [
    "SCENARIOS",
    "build",
    "clv_equilibrium",
    "open_loop_equilibrium",
    "reference",
    "reference_profile",
    "summarize",
]

SELLER = 0

#: Largest ``states x joint actions`` the builder accepts.
MAX_ROWS = 5_000_000


def _resolve(params: dict[str, Any]) -> dict[str, Any]:
    return SCENARIOS[0].resolve(**params)


def _layout(q: dict[str, Any]) -> tuple[int, int, int, int]:
    """``(inventory levels, predator position levels, states per step, number of states)``."""
    inventory_levels = q["n_lots"] + 1
    position_levels = 2 * q["predator_lots"] + 1
    per_step = inventory_levels * position_levels ** q["n_predators"]
    return inventory_levels, position_levels, per_step, q["n_steps"] * per_step + 1


def _decode(q: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Seller inventory (lots) ``(M,)`` and predator positions (lots) ``(M, P)`` of one step's
    states, in local index order."""
    _, position_levels, per_step, _ = _layout(q)
    local = np.arange(per_step)
    positions = []
    for _ in range(q["n_predators"]):
        local, digit = np.divmod(local, position_levels)
        positions.append(digit - q["predator_lots"])
    positions.reverse()
    stacked = (np.stack(positions, axis=1) if positions
               else np.zeros((per_step, 0), dtype=np.int64))
    return local, stacked


def _encode(q: dict[str, Any], inventory: np.ndarray, positions: np.ndarray) -> np.ndarray:
    _, position_levels, _, _ = _layout(q)
    key = inventory.astype(np.int64)
    for p in range(q["n_predators"]):
        key = key * position_levels + positions[..., p] + q["predator_lots"]
    return key


# ------------------------------------------------------------------------------------------
# the grid game
# ------------------------------------------------------------------------------------------

def build(**params: Any) -> MarkovGame:
    """The predatory-trading game on the lot grid (parameters as in :data:`SCENARIOS`).

    Returns
    -------
    MarkovGame
        Players ``(seller, predator 1, ...)`` with ``(n_lots + 1, 2 predator_lots + 1, ...)``
        actions, fully observed, deterministic sparse transitions, discount 1, horizon
        ``n_steps``. State ``t * M + key`` holds step ``t`` (``M`` states per step, ``key``
        the seller's inventory and the predators' positions in mixed radix); the last state is
        terminal. Action labels are the signed trades in units (a sale is negative).
    """
    q = _resolve(params)
    num_players = 1 + q["n_predators"]
    n_lots, m, n_steps = q["n_lots"], q["predator_lots"], q["n_steps"]
    _, position_levels, per_step, num_states = _layout(q)
    num_actions = (n_lots + 1,) + (position_levels,) * q["n_predators"]
    num_joint = math.prod(num_actions)
    if num_states * num_joint > MAX_ROWS:
        raise ScenarioError(f"scenario 'predatory_execution': {num_states} states x {num_joint} "
                            f"joint actions exceed the limit of {MAX_ROWS} rows; use fewer lots "
                            "or fewer predators")
    lot = q["position"] / n_lots
    dt = q["horizon"] / n_steps
    terminal_state = num_states - 1
    inventory, positions = _decode(q)  # (M,), (M, P)
    # joint action digits in C order: (A, N)
    digits = np.stack(np.unravel_index(np.arange(num_joint), num_actions), axis=1)
    rewards = np.zeros((num_players, num_states, num_joint))
    rows, cols = [], []
    for t in range(n_steps):
        if t == n_steps - 1:
            # forced liquidation: whatever the actions, everyone closes
            trades = np.concatenate([-inventory[:, None], -positions], axis=1)[:, None, :]
            trades = np.broadcast_to(trades, (per_step, num_joint, num_players))
            following = np.full((per_step, num_joint), terminal_state)
        else:
            sold = np.minimum(digits[None, :, 0], inventory[:, None])  # (M, A)
            new_positions = np.clip(positions[:, None, :] + digits[None, :, 1:] - m, -m, m)
            trades = np.concatenate([-sold[..., None], new_positions - positions[:, None, :]],
                                    axis=2)  # (M, A, N) lots
            following = (t + 1) * per_step + _encode(q, inventory[:, None] - sold,
                                                     new_positions)
        earlier = (inventory - n_lots + positions.sum(axis=1)) * lot  # X_t - X_0, (M,)
        flow = trades.sum(axis=2) * lot  # (M, A)
        impact = q["gamma"] * (earlier[:, None] + flow / 2) + q["lam"] * flow / dt
        rewards[:, t * per_step:(t + 1) * per_step] = np.moveaxis(
            -trades * lot * impact[..., None], 2, 0)
        rows.append(np.arange(t * per_step * num_joint, (t + 1) * per_step * num_joint))
        cols.append(following.ravel())
    row = np.concatenate(rows)
    transitions = sp.csr_array((np.ones(row.size), (row, np.concatenate(cols))),
                               shape=(num_states * num_joint, num_states))
    initial = np.zeros(num_states)
    initial[_encode(q, np.array([n_lots]), np.zeros((1, q["n_predators"]), dtype=np.int64))] = 1
    terminal = np.zeros(num_states, dtype=bool)
    terminal[terminal_state] = True
    labels = [[f"{-j * lot:g}" for j in range(n_lots + 1)]]
    labels += [[f"{j * lot:g}" for j in range(-m, m + 1)]] * q["n_predators"]
    state_labels = [f"t{t}:inv{i}:" + ",".join(map(str, p))
                    for t in range(n_steps) for i, p in zip(inventory, positions.tolist())]
    return MarkovGame(transitions, rewards.reshape(num_players, num_states, *num_actions),
                      initial, 1.0, terminal=terminal, state_labels=state_labels + ["end"],
                      player_labels=["seller"] + [f"predator {p + 1}"
                                                  for p in range(q["n_predators"])],
                      action_labels=labels)


def _check_game(game: MarkovGame, q: dict[str, Any]) -> None:
    expected = (q["n_lots"] + 1,) + (2 * q["predator_lots"] + 1,) * q["n_predators"]
    if game.num_actions != expected or game.num_states != _layout(q)[3]:
        raise ScenarioError(f"scenario 'predatory_execution': the game (actions "
                            f"{game.num_actions}, {game.num_states} states) was not built with "
                            f"these parameters (actions {expected}, {_layout(q)[3]} states)")


# ------------------------------------------------------------------------------------------
# closed forms
# ------------------------------------------------------------------------------------------

def clv_equilibrium(*, n_predators: int = 1, position: float = 1.0, gamma: float = 1.0,
                    lam: float = 0.5, horizon: float = 1.0) -> dict[str, Any]:
    """Carlin-Lobo-Viswanathan (2007) open-loop equilibrium, seller + ``n_predators``.

    Rates ``x_i'(t) = a e^(-kappa t) + b_i e^(rho t)`` (module docstring) with
    ``dx = (-position, 0, ..., 0)``; costs ``int_0^T x_i'(t) (gamma (X(t) - X(0)) +
    lam X'(t)) dt``, integrated by 64-point Gauss-Legendre quadrature (exact to rounding for
    these smooth exponential integrands).

    Returns
    -------
    dict
        ``kappa``, ``rho``, ``a``, ``b`` (per trader, seller first), ``seller_shortfall``,
        ``predator_profit`` (per predator, a list), and ``holdings_at``: a function mapping
        times ``(K,)`` to holdings ``(N, K)`` (seller: remaining inventory).
    """
    n = n_predators + 1
    dx = np.array([-position] + [0.0] * n_predators)
    total = float(dx.sum())
    kappa = (n - 1) / (n + 1) * gamma / lam
    rho = gamma / lam
    a = kappa * total / (n * -math.expm1(-kappa * horizon)) if kappa > 0 else total / (n * horizon)
    b = rho * (dx - total / n) / math.expm1(rho * horizon)

    def rates(t: np.ndarray) -> np.ndarray:
        return a * np.exp(-kappa * t)[None, :] + b[:, None] * np.exp(rho * t)[None, :]

    def holdings_at(t: Any) -> np.ndarray:
        t = np.asarray(t, dtype=float)
        drift = (-np.expm1(-kappa * t) / kappa) if kappa > 0 else t
        start = np.array([position] + [0.0] * n_predators)
        # the seller's holding is its remaining inventory; x_i(t) - x_i(0) = int rates
        return start[:, None] + a * drift[None, :] + b[:, None] * (np.expm1(rho * t) / rho)[None]

    nodes, weights = np.polynomial.legendre.leggauss(64)
    t = (nodes + 1) * horizon / 2
    w = weights * horizon / 2
    r = rates(t)
    aggregate = r.sum(axis=0)
    moved = n * a * ((-np.expm1(-kappa * t) / kappa) if kappa > 0 else t)
    costs = (r * (gamma * moved + lam * aggregate)[None, :] * w[None, :]).sum(axis=1)
    return {"kappa": float(kappa), "rho": float(rho), "a": float(a), "b": b.tolist(),
            "seller_shortfall": float(costs[0]), "predator_profit": (-costs[1:]).tolist(),
            "holdings_at": holdings_at}


def open_loop_equilibrium(*, n_steps: int, n_predators: int = 1, position: float = 1.0,
                          gamma: float = 1.0, lam: float = 0.5, horizon: float = 1.0
                          ) -> dict[str, Any]:
    """The discrete-time open-loop equilibrium of the game's price model (continuous trades).

    Trader ``i`` commits to trades ``x_i`` ``(n_steps,)`` with ``sum_t x_i,t = dx_i`` and pays
    ``x_i^T M Q`` (``Q = sum_j x_j``, ``M = gamma (L + I / 2) + (lam / dt) I``, ``L`` the strictly
    lower-triangular matrix of ones). Costs are convex in own trades (``M + M^T`` is positive
    definite), so the equilibrium is the unique solution of the first-order conditions
    ``M Q + M^T x_i = mu_i 1``, ``1^T x_i = dx_i``: one linear system.

    Returns
    -------
    dict
        ``trades`` ``(N, n_steps)`` and ``holdings`` ``(N, n_steps + 1)`` (seller: inventory)
        as lists, ``seller_shortfall``, ``predator_profit`` (list).
    """
    n = n_predators + 1
    dt = horizon / n_steps
    lower = np.tril(np.ones((n_steps, n_steps)), -1)
    impact = gamma * (lower + np.eye(n_steps) / 2) + (lam / dt) * np.eye(n_steps)
    size = n * (n_steps + 1)
    system = np.zeros((size, size))
    rhs = np.zeros(size)
    dx = np.array([-position] + [0.0] * n_predators)
    for i in range(n):
        r = slice(i * n_steps, (i + 1) * n_steps)
        for j in range(n):
            system[r, j * n_steps:(j + 1) * n_steps] += impact
        system[r, r] += impact.T
        system[r, n * n_steps + i] = -1.0
        system[n * n_steps + i, r] = 1.0
        rhs[n * n_steps + i] = dx[i]
    trades = np.linalg.solve(system, rhs)[:n * n_steps].reshape(n, n_steps)
    costs = trades @ impact @ trades.sum(axis=0)
    start = np.array([position] + [0.0] * n_predators)
    holdings = np.concatenate([start[:, None], start[:, None] + np.cumsum(trades, axis=1)], axis=1)
    return {"trades": trades.tolist(), "holdings": holdings.tolist(),
            "seller_shortfall": float(costs[0]), "predator_profit": (-costs[1:]).tolist()}


def reference(**params: Any) -> dict[str, Any]:
    """CLV's continuous-time equilibrium and the game's discrete open-loop analogue.

    Returns
    -------
    dict
        - ``seller_shortfall``, ``predator_profit`` (each predator's, a float; symmetric):
          CLV's closed form; ``seller_shortfall_alone``: ``gamma X^2 / 2 + lam X^2 / T`` (TWAP);
        - ``kappa``, ``rho``, ``a``, ``b`` (per trader): CLV's rate coefficients;
        - ``holdings``: CLV holdings at the step times ``t T / n_steps``, ``(N, n_steps + 1)``;
        - ``open_loop_shortfall``, ``open_loop_predator_profit``, ``open_loop_holdings``: the
          discrete-time open-loop equilibrium (:func:`open_loop_equilibrium`), continuous trades.
    """
    q = _resolve(params)
    model = {k: q[k] for k in ("n_predators", "position", "gamma", "lam", "horizon")}
    clv = clv_equilibrium(**model)
    discrete = open_loop_equilibrium(n_steps=q["n_steps"], **model)
    times = np.linspace(0.0, q["horizon"], q["n_steps"] + 1)
    x = q["position"]
    return {"seller_shortfall": clv["seller_shortfall"],
            "predator_profit": clv["predator_profit"][0] if q["n_predators"] else 0.0,
            "seller_shortfall_alone": q["gamma"] * x * x / 2 + q["lam"] * x * x / q["horizon"],
            "kappa": clv["kappa"], "rho": clv["rho"], "a": clv["a"], "b": clv["b"],
            "holdings": clv["holdings_at"](times).tolist(),
            "open_loop_shortfall": discrete["seller_shortfall"],
            "open_loop_predator_profit": (discrete["predator_profit"][0]
                                          if q["n_predators"] else 0.0),
            "open_loop_holdings": discrete["holdings"]}


def reference_profile(game: MarkovGame, **params: Any) -> tuple[np.ndarray, ...]:
    """The discrete open-loop equilibrium on the lot grid, as time-only policies ``(S, n_i)``.

    Each trader's open-loop holdings are rounded to the nearest lot (the seller's to
    ``0..n_lots``, a predator's to ``|j| <= predator_lots``); at step ``t`` it trades the
    difference of consecutive rounded holdings in every state (the trade is clipped by the
    game's inventory and position rules off the path). At the last step the action is idle.
    """
    q = _resolve(params)
    _check_game(game, q)
    model = {k: q[k] for k in ("n_predators", "position", "gamma", "lam", "horizon")}
    holdings = np.array(open_loop_equilibrium(n_steps=q["n_steps"], **model)["holdings"])
    lots = np.rint(holdings * q["n_lots"] / q["position"]).astype(np.int64)
    lots[0] = np.clip(lots[0], 0, q["n_lots"])
    lots[1:] = np.clip(lots[1:], -q["predator_lots"], q["predator_lots"])
    lots[:, -1] = 0
    trades = np.diff(lots, axis=1)  # (N, n_steps)
    per_step = _layout(q)[2]
    steps = np.minimum(np.arange(game.num_states) // per_step, q["n_steps"] - 1)
    profile = []
    for i, n_i in enumerate(game.num_actions):
        action = -trades[0] if i == SELLER else trades[i] + q["predator_lots"]
        action = np.clip(action, 0, n_i - 1)
        action[-1] = 0  # forced liquidation: any action
        profile.append(np.eye(n_i)[action[steps]])
    return tuple(profile)


# ------------------------------------------------------------------------------------------
# statistics
# ------------------------------------------------------------------------------------------

def summarize(game: MarkovGame, profile: Sequence[Any], **params: Any) -> dict[str, Any]:
    """Trajectories and payoffs of a profile, exactly from its state distribution.

    Returns
    -------
    dict
        - ``holdings``: ``(N, n_steps + 1)`` expected holdings at the start of every step and
          at the end (seller: remaining inventory; predators: position), in units;
        - ``trades``: ``(N, n_steps)`` expected signed trades per step;
        - ``seller_shortfall``: expected ``position p0 - revenue``;
        - ``predator_profit``: expected trading profit of each predator (a list);
        - ``seller_shortfall_vs_theory``: ``seller_shortfall`` relative to CLV's closed form,
          with ``seller_shortfall_note`` saying why a grid equilibrium differs from it and which
          settings are within 2%.
    """
    q = _resolve(params)
    _check_game(game, q)
    policies = validate_profile(game, profile)
    joint = joint_policy(game, policies)
    reach = state_visits(game, policies)
    num_players = game.num_players
    values = np.einsum("s,sa,nsa->n", reach, joint,
                       game.rewards.reshape(num_players, game.num_states, -1))
    inventory, positions = _decode(q)
    lot = q["position"] / q["n_lots"]
    per_step = _layout(q)[2]
    held = np.concatenate([inventory[:, None], positions], axis=1) * lot  # (M, N)
    holdings = np.zeros((num_players, q["n_steps"] + 1))
    for t in range(q["n_steps"]):
        holdings[:, t] = reach[t * per_step:(t + 1) * per_step] @ held
    shortfall = float(-values[SELLER])
    ref = reference(**q)
    relative = shortfall / ref["seller_shortfall"] - 1
    open_loop = ref["open_loop_shortfall"] / ref["seller_shortfall"] - 1
    return {"holdings": holdings.tolist(), "trades": np.diff(holdings, axis=1).tolist(),
            "seller_shortfall": shortfall, "predator_profit": values[1:].tolist(),
            "seller_shortfall_vs_theory": relative,
            "seller_shortfall_note": (
                f"seller shortfall {100 * relative:+.1f}% from CLV's continuous-time open-loop "
                f"equilibrium; the discrete open-loop equilibrium at n_steps={q['n_steps']} is "
                f"{100 * open_loop:+.1f}% (reference open_loop_shortfall; it converges to CLV as "
                f"n_steps grows). {SHORTFALL_WITHIN_2_PERCENT}")}


#: Why the solver's equilibrium differs from CLV's closed form, and the measured settings.
SHORTFALL_WITHIN_2_PERCENT = (
    "The solver's equilibrium of the grid game is subgame-perfect (closed loop: predators react "
    "to inventories), a different equilibrium from CLV's open-loop one, so refining the grid "
    "does not bring it to CLV's number; measured (backward induction, one predator): -2.9% at "
    "the defaults (n_steps=3, n_lots=6); within 2%: +1.5% at n_steps=3, n_lots=12 (44 s CPU), "
    "-1.7% at n_steps=2, n_lots=12, -0.4% at n_steps=2, n_lots=6. The open-loop equilibrium on "
    "the lot grid (reference_profile) approaches the discrete open-loop one as n_lots grows")


SCENARIOS = (
    Scenario(
        "predatory_execution",
        "Predatory trading (Carlin-Lobo-Viswanathan 2007): a distressed seller and predators "
        "with linear permanent and temporary impact.",
        build,
        (Parameter("n_steps", 3, "trading steps (the last one is a forced liquidation)",
                   low=2, high=6),
         Parameter("n_predators", 1, "predators (0: the seller alone)", low=0, high=2),
         Parameter("position", 1.0, "units the seller must sell", low=1e-6, high=1e6),
         Parameter("gamma", 1.0, "permanent price impact per unit", low=0.0, high=1e6),
         Parameter("lam", 0.5, "temporary impact lambda per unit of trading rate (CLV's "
                   "lambda X'(t))", low=1e-6, high=1e6),
         Parameter("horizon", 1.0, "trading horizon T", low=1e-6, high=1e6),
         Parameter("n_lots", 6, "lots per position: trades are multiples of position / n_lots",
                   low=1, high=48),
         Parameter("predator_lots", 3, "a predator's largest trade and |position|, in lots",
                   low=1, high=24)),
        reference=reference, summarize=summarize, tags=("finance", "dynamic")),
)
