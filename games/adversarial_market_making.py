"""Adversarial Avellaneda-Stoikov market making (Spooner and Savani 2020): a zero-sum game.

Economics
---------
The market maker of :mod:`games.avellaneda_stoikov` quotes a bid ``S - delta_b`` and an ask
``S + delta_a`` over ``[0, T]``; market orders hit them at Poisson rates ``A exp(-k delta)``.
Spooner and Savani turn the model into a zero-sum game: an *adversary* (a proxy for the other
market participants) chooses the mid-price drift ``b`` in ``dS = b dt + sigma dW`` with
``|b| <= max_drift``, and here may also lower the fill intensity to ``A (1 - arrival_control)``.
The market maker earns its mark-to-market profit, ``sum_fills delta + int q dS`` minus an optional
running inventory penalty ``(gamma sigma^2 / 2) int q^2 dt`` (``gamma = 0``, risk neutral, is
Spooner and Savani's setting); the adversary earns the negative. Inventory stays in ``[-Q, Q]``
and is marked to the mid at ``T``.

The equilibrium (derived here; the tests check it against independent numerics)
-------------------------------------------------------------------------------
The drift enters the market maker's expected reward only through ``q b dt``, linearly, and the
rest of the model is invariant to the level of ``S``, so in every state the adversary's drift
best response is *bang-bang against the inventory*: ``b = -max_drift sign(q)`` (any drift at
``q = 0``); against a quote of positive value it also picks the lowest intensity. The market
maker therefore faces the single-agent problem with running cost
``pi(q) = max_drift |q| + (gamma sigma^2 / 2) q^2`` and intensity ``A' = A (1 - arrival_control)``:
with ``w = exp(k V)`` its HJB equation is linear, ``w(0) = exp(-M T) 1``, ``M`` tridiagonal with
``M_qq = k pi(q)`` and off-diagonals ``-A' / e``, and its quotes are
``delta_b(q) = 1/k + (1/k) ln(w_q / w_{q+1})``, ``delta_a(q) = 1/k + (1/k) ln(w_q / w_{q-1})``
(:func:`games.avellaneda_stoikov.penalised_quotes`; Guéant, Lehalle and Fernandez-Tapia 2013 for
the quadratic penalty). The optimal offset ``1/k - Delta V`` keeps ``1/k > 0`` per fill, so the
lowest intensity is indeed the adversary's best response and the profile is a saddle point;
the game's value is ``V(0, 0) = ln(w_0) / k``. Consequence, the robust market maker's
*inventory skew*: even when risk neutral it quotes around a reservation price below the mid
when long and above it when short, more so the stronger the adversary (Spooner and Savani's
"risk-averse behaviour without constraints or domain-specific penalties"; Cartea, Donnelly and
Jaimungal 2017 derive the same linear penalty from ambiguity aversion about the drift).

The game on a grid
------------------
:func:`games.avellaneda_stoikov.quoting_game` with a second player: states ``(t, phase, q)``
(a bid phase and an ask phase per step ``dt = T / n_steps``), the market maker's ``n_quotes``
offsets in ``[-1/k, 2.5/k]`` (:func:`quote_grid`), the adversary's ``n_drifts`` drifts equally
spaced in ``[-max_drift, max_drift]`` (times the intensity factors ``{1 - arrival_control, 1}``
when ``arrival_control > 0``); the drift's expected mark-to-market ``q b dt / 2`` is paid in each
phase, and a quote is filled a Poisson number of times (mean ``A dt e^(-k delta)``, stopped at
the inventory bound): the continuous-time count, so inventory risk is not understated by a
one-fill-per-step cap. ``solve`` finds its equilibrium exactly (zero-sum, state observed); the
continuum block compares it with the matrix-exponential solution. Measured at the defaults
(``n_steps = 50``, ``n_quotes = 41``): value -1.5%, spread at ``q = 0`` +3.6%; the value error
falls as ``dt`` (-3.5%, -1.5%, -0.6%, -0.3% at 25, 50, 100, 200 steps). So does the quotes'
bias (a quote held for a phase may be filled several times, so it is set wider): on a small
instance (``max_inventory = 3``, 121 quotes) the bid offset at ``q = 0`` is +0.150, +0.073,
+0.034, +0.014 above the continuum's at 25, 50, 100, 200 steps. At the defaults the quote
spacing ``3.5 / (k (n_quotes - 1)) = 0.058`` hides the last halvings: the equilibrium quotes
0.792 (continuum 0.764) at 50, 100 and 200 steps; with 81 quotes (spacing 0.029) the time-step
bias shows at 50 steps: 0.821, a spread +7.4% from the continuum's; 200 steps with 161 quotes
bring the spread within 2% (+1.7%, value -0.3%; 191 s of CPU), all measured.

Learners against the adversary
------------------------------
Spooner and Savani train the market maker against a learning adversary. Here any learner of
:mod:`gametools.marl` trains both players on the grid game, and the trained profile's exact
NashConv is measured on it (the game is fully observed and finite-horizon)::

    gametools train adversarial_avellaneda_stoikov --algo ippo --steps 6000 --param n_steps=5 --param max_inventory=2 --param n_quotes=9

On that small instance IPPO (seed 0) cuts the exact NashConv from 31.59 (uniform profile) to
4.23 (measured with this command: 95 s of CPU;
tests/test_scenario_adversarial_market_making.py holds it below a quarter of the uniform
profile's); ``gametools exploit`` re-evaluates the written ``policy.npz``.

References
----------
T. Spooner and R. Savani, "Robust market making via adversarial reinforcement learning",
IJCAI 2020 (their code bounds the drift by 10 with A = 140, k = 1.5, sigma = 2, T = 1).
M. Avellaneda and S. Stoikov, "High-frequency trading in a limit order book", Quantitative
Finance 8(3), 2008. O. Guéant, C.-A. Lehalle and J. Fernandez-Tapia, "Dealing with the inventory
risk", Math. Financ. Econ. 7, 2013. Á. Cartea, R. Donnelly and S. Jaimungal, "Algorithmic
trading with model uncertainty", SIAM J. Financial Math. 8, 2017.

Examples
--------
>>> from games.adversarial_market_making import reference
>>> ref = reference()
>>> ref["reservation_price"], ref["adversary_drift_by_inventory"][:2]
(100.0, (5.0, 5.0))
>>> skew = ref["reservation_price_by_inventory"]
>>> bool(skew[11] < 100.0 < skew[9])   # long one unit: quotes centred below the mid
True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from games.avellaneda_stoikov import ASK, BID, penalised_quotes, quoting_game
from gametools.model import MarkovGame
from gametools.policies import validate_profile
from gametools.scenarios import Parameter, Scenario, ScenarioError

__all__ = ["SCENARIOS", "adversary_actions", "build", "continuum_solution", "quote_grid",
           "reference", "summarize"]


def _resolve(params: dict[str, Any]) -> dict[str, Any]:
    return SCENARIO.resolve(**params)


def adversary_actions(**params: Any) -> list[tuple[float, float]]:
    """The adversary's ``(drift, intensity factor)`` pairs, drift-major."""
    q = _resolve(params)
    drifts = np.linspace(-q["max_drift"], q["max_drift"], q["n_drifts"])
    factors = (1.0 - q["arrival_control"], 1.0) if q["arrival_control"] > 0 else (1.0,)
    return [(float(b), float(x)) for b in drifts for x in factors]


def quote_grid(**params: Any) -> np.ndarray:
    """The market maker's offsets, ``n_quotes`` equally spaced in ``[-1/k, 2.5/k]``.

    Negative offsets quote through the mid (the robust market maker does so to unload a large
    inventory against a strong adversary).
    """
    q = _resolve(params)
    return np.linspace(-1.0 / q["k"], 2.5 / q["k"], q["n_quotes"])


def build(**params: Any) -> MarkovGame:
    """The zero-sum grid game (module docstring): market maker (player 0) vs adversary."""
    q = _resolve(params)
    return quoting_game(quotes=quote_grid(**q), k=q["k"], A=q["A"], horizon=q["horizon"],
                        n_steps=q["n_steps"], max_inventory=q["max_inventory"],
                        inventory_penalty=0.5 * q["gamma"] * q["sigma"] ** 2,
                        adversary=adversary_actions(**q), fills="poisson")


def _robust_quotes(q: dict[str, Any], *, max_drift: float | None = None
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bid and ask offsets and ``ln w(0)`` of the market maker's equilibrium (module docstring)."""
    drift = q["max_drift"] if max_drift is None else max_drift
    levels = np.arange(-q["max_inventory"], q["max_inventory"] + 1).astype(float)
    penalty = drift * np.abs(levels) + 0.5 * q["gamma"] * q["sigma"] ** 2 * levels ** 2
    intensity = q["A"] * (1.0 - q["arrival_control"])
    return penalised_quotes(penalty, eta=intensity / math.e, k=q["k"], horizon=q["horizon"],
                            base=1.0 / q["k"])


def reference(**params: Any) -> dict[str, Any]:
    """The equilibrium of the continuous-time game at time 0 (module docstring).

    Returns
    -------
    dict
        ``reservation_price`` and ``spread`` at zero inventory, ``bid_offset`` / ``ask_offset``
        there, ``reservation_price_by_inventory`` (``q = -Q..Q``, the mid of the quotes; ``nan``
        where a side may not quote), ``adversary_drift_by_inventory`` (``-max_drift sign(q)``;
        ``nan`` at ``q = 0``, where every drift is a best response), ``adversary_arrival_factor``,
        ``value`` (the market maker's expected profit, ``ln(w_0) / k``) and
        ``value_without_adversary`` (the same model with ``max_drift = 0``: what the adversary
        takes).
    """
    q = _resolve(params)
    bid, ask, log_w = _robust_quotes(q)
    _, _, calm = _robust_quotes(q, max_drift=0.0)
    bound, mid = q["max_inventory"], q["mid_price"]
    levels = np.arange(-bound, bound + 1)
    return {"reservation_price": float(mid + (ask[bound] - bid[bound]) / 2),
            "spread": float(ask[bound] + bid[bound]),
            "bid_offset": float(bid[bound]), "ask_offset": float(ask[bound]),
            "reservation_price_by_inventory": tuple(float(x) for x in mid + (ask - bid) / 2),
            "adversary_drift_by_inventory": tuple(float(-q["max_drift"] * np.sign(x))
                                                  if x else math.nan for x in levels),
            "adversary_arrival_factor": 1.0 - q["arrival_control"],
            "value": float(log_w[bound] / q["k"]),
            "value_without_adversary": float(calm[bound] / q["k"])}


def _check_game(game: MarkovGame, q: dict[str, Any]) -> None:
    levels = 2 * q["max_inventory"] + 1
    if game.num_players != 2 or game.num_states != 2 * q["n_steps"] * levels + 1 or \
            tuple(game.num_actions) != (q["n_quotes"], len(adversary_actions(**q))):
        raise ScenarioError("game does not match the parameters: build it with the same "
                            "parameters")


def summarize(game: MarkovGame, profile: Sequence[Any], **params: Any) -> dict[str, Any]:
    """Quotes and adversary moves of a profile at time 0 (means where a policy mixes).

    Returns
    -------
    dict
        ``reservation_price``, ``spread``, ``bid_offset``, ``ask_offset`` at zero inventory,
        ``reservation_price_by_inventory`` (``q = -Q..Q``, ``nan`` where a side may not quote),
        ``adversary_drift_by_inventory`` (mean drift in the bid phase of step 0),
        ``adversary_arrival_factor`` (mean at zero inventory), ``value`` (the market maker's
        expected profit) and ``spread_note`` (how far the spread and the value are from the
        continuous-time equilibrium, and which grids were measured).
    """
    from gametools.exploitability import policy_values

    q = _resolve(params)
    _check_game(game, q)
    maker, adversary = validate_profile(game, profile)
    bound, mid = q["max_inventory"], q["mid_price"]
    levels = 2 * bound + 1
    offsets = maker @ quote_grid(**q)
    options = adversary_actions(**q)
    drifts = adversary @ np.array([b for b, _ in options])
    factors = adversary @ np.array([x for _, x in options])
    bid_states = [BID * levels + i for i in range(levels)]  # t = 0, bid phase
    ask_states = [ASK * levels + i for i in range(levels)]
    bids = np.array([offsets[s] if i < levels - 1 else np.nan for i, s in enumerate(bid_states)])
    asks = np.array([offsets[s] if i > 0 else np.nan for i, s in enumerate(ask_states)])
    spread = float(asks[bound] + bids[bound])
    value = float(policy_values(game, (maker, adversary))[0])
    theory = reference(**q)
    return {"reservation_price": float(mid + (asks[bound] - bids[bound]) / 2),
            "spread": spread, "bid_offset": float(bids[bound]), "ask_offset": float(asks[bound]),
            "reservation_price_by_inventory": tuple(float(x) for x in mid + (asks - bids) / 2),
            "adversary_drift_by_inventory": tuple(float(drifts[s]) for s in bid_states),
            "adversary_arrival_factor": float(factors[bid_states[bound]]),
            "value": value,
            "spread_note": (f"spread at q = 0 {100 * (spread / theory['spread'] - 1):+.1f}%, "
                            f"value {100 * (value / theory['value'] - 1):+.1f}% from the "
                            f"continuous-time equilibrium (n_steps={q['n_steps']}, "
                            f"n_quotes={q['n_quotes']}); {GRID_WITHIN_2_PERCENT}")}


def continuum_solution(grid_summary: Any = None, **params: Any) -> dict[str, Any]:
    """The continuous-time equilibrium (:func:`reference`) and the grid's error.

    Returns
    -------
    dict
        ``method``, ``summary`` (``reservation_price``, ``spread``, ``bid_offset``,
        ``ask_offset``, ``value``) and, given the grid summary, ``discretisation_error`` (grid
        minus continuum).
    """
    from gametools.continuum import discretisation_error

    ref = reference(**params)
    summary = {key: ref[key] for key in ("reservation_price", "spread", "bid_offset",
                                         "ask_offset", "value")}
    out: dict[str, Any] = {
        "method": "continuum: the adversary's bang-bang drift turned into the running cost "
                  "max_drift |q|, the market maker's HJB solved by the matrix exponential",
        "summary": summary}
    if grid_summary is not None:
        out["discretisation_error"] = discretisation_error(grid_summary, summary)
        value, spread = (grid_summary[key] / summary[key] - 1 for key in ("value", "spread"))
        out["grid_note"] = (f"grid value {100 * value:+.1f}%, spread at q = 0 {100 * spread:+.1f}% "
                            f"from the continuum; the value's error is first order in dt = "
                            f"horizon / n_steps (measured at the defaults: value -1.5% at "
                            f"n_steps=50, -0.6% at 100, -0.3% at 200); {GRID_WITHIN_2_PERCENT}")
    return out


#: What the measurements say about reaching 2% (value and spread at q = 0; ``gametools solve``
#: on the default model, errors against :func:`reference`).
GRID_WITHIN_2_PERCENT = (
    "the value is within 2% at the defaults (-1.5%); the spread is not: a quote held for a "
    "whole phase may be filled several times, so the grid's quotes are wider, a bias first order "
    "in dt = horizon / n_steps, and the quote grid rounds them (+3.6% at the defaults, 50 steps "
    "x 41 quotes; +7.4% at 50 x 81, 17 s CPU, the finer quote grid exposing the time-step bias). "
    "Within 2%: n_steps=200, n_quotes=161 (spread +1.7%, value -0.3%; 191 s CPU, measured)")


_PARAMETERS = (
    Parameter("max_drift", 5.0, "the adversary's drift bound |b| <= max_drift", low=0.0,
              high=1e3),
    Parameter("n_drifts", 3, "drifts on the grid, equally spaced in [-max_drift, max_drift]",
              low=2, high=21),
    Parameter("arrival_control", 0.0, "the adversary may lower the fill intensity to "
              "A (1 - arrival_control)", low=0.0, high=0.9),
    Parameter("gamma", 0.0, "running inventory penalty gamma sigma^2 q^2 / 2 (0: risk neutral)",
              low=0.0, high=10.0),
    Parameter("sigma", 2.0, "volatility of the mid-price", low=1e-6, high=1e6),
    Parameter("k", 1.5, "decay of the fill intensity A exp(-k delta)", low=1e-3, high=1e3),
    Parameter("A", 140.0, "fill intensity at zero offset (per unit time)", low=1e-3, high=1e6),
    Parameter("horizon", 1.0, "trading horizon T", low=1e-4, high=1e3),
    Parameter("mid_price", 100.0, "initial mid-price", low=-1e9, high=1e9),
    Parameter("max_inventory", 10, "inventory bound Q (|q| <= Q)", low=1, high=50),
    Parameter("n_steps", 50, "time steps of the grid game", low=1, high=2000),
    Parameter("n_quotes", 41, "quote offsets on the grid", low=2, high=401),
)

SCENARIO = Scenario(
    "adversarial_avellaneda_stoikov",
    "Zero-sum market making (Spooner-Savani 2020): Avellaneda-Stoikov market maker against an "
    "adversary controlling the drift (and arrival rate).",
    build, _PARAMETERS, reference=reference, summarize=summarize, continuum=continuum_solution,
    tags=("continuous",))

SCENARIOS = (SCENARIO,)
