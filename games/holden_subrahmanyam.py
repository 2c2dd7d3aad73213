"""Holden and Subrahmanyam (1992): ``M`` identical insiders in Kyle's one-auction model.

Economics
---------
An asset is worth ``v ~ N(p0, sigma_v^2)``. ``M`` risk-neutral insiders all know ``v``; noise
traders submit ``u ~ N(0, sigma_u^2)``; a competitive market maker sees the total flow
``y = sum_m x_m + u`` and sets ``p = E[v | y]``. Insider ``m`` earns ``(v - p) x_m``; the market
maker's payoff is ``-(p - v)^2`` (its best response is the posterior mean).

The game on a grid: linear strategies
-------------------------------------
Every best response to linear strategies is linear (:mod:`gametools.continuum`), so the game is
played in *linear strategies*: insider ``m`` chooses its intensity ``beta_m`` (orders
``beta_m (v - p0)``) from ``n_slopes`` equally spaced values in ``[0, 2 beta*]`` and the market
maker its price impact ``lambda`` (prices ``p0 + lambda y``) from ``n_impacts`` values in
``[0, 2 lambda*]``, where ``beta*, lambda*`` are the closed form below (with odd grid sizes the
grids contain it). Payoffs are the exact expectations: with ``B = sum_m beta_m``,
insider ``m`` earns ``beta_m sigma_v^2 (1 - lambda B)`` and the market maker
``-(sigma_v^2 (1 - lambda B)^2 + lambda^2 sigma_u^2)``. The game is a normal-form game of
``M + 1`` players (``n_slopes^M n_impacts`` profiles).

Closed form (Holden and Subrahmanyam 1992; REFERENCES.md "Kyle (1985)")
-----------------------------------------------------------------------
``beta = sigma_u / (sqrt(M) sigma_v)``, ``lambda = sqrt(M) sigma_v / ((M + 1) sigma_u)``; each
insider earns ``sigma_v sigma_u / ((M + 1) sqrt(M))`` (total ``sqrt(M) sigma_v sigma_u /
(M + 1)``); ``Var(v | y) = sigma_v^2 / (M + 1)``: the price reveals the share ``M / (M + 1)`` of
the insiders' information, which tends to one as competition grows (``M = 1`` is Kyle).
:func:`continuum_solution` solves the continuous game without a grid
(:func:`gametools.continuum.linear_equilibrium`) and certifies it by its exact NashConv.

References
----------
C. W. Holden and A. Subrahmanyam, "Long-lived private information and imperfect competition",
J. Finance 47(1), 1992, 247-270. A. S. Kyle, Econometrica 53(6), 1985.

Examples
--------
>>> from games.holden_subrahmanyam import build, reference
>>> game = build(n_insiders=2)
>>> game.num_players, game.num_actions
(3, (11, 11, 11))
>>> round(reference(n_insiders=2)["lambda"], 6)
0.471405
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from gametools.continuum import (
    LinearGaussianMarket,
    discretisation_error,
    linear_equilibrium,
)
from gametools.model import NormalFormGame
from gametools.policies import validate_profile
from gametools.scenarios import Parameter, Scenario, ScenarioError

__all__ = ["SCENARIOS", "build", "continuum_solution", "grids", "reference", "summarize"]

#: Largest number of pure profiles the builder accepts.
MAX_PROFILES = 2_000_000


def _resolve(params: dict[str, Any]) -> dict[str, Any]:
    return SCENARIOS[0].resolve(**params)


def grids(**params: Any) -> tuple[np.ndarray, np.ndarray]:
    """The intensity grid ``[0, 2 beta*]`` and the price-impact grid ``[0, 2 lambda*]``."""
    q = _resolve(params)
    ref = reference(**q)
    return (np.linspace(0.0, 2 * ref["beta"][0], q["n_slopes"]),
            np.linspace(0.0, 2 * ref["lambda"], q["n_impacts"]))


def build(**params: Any) -> NormalFormGame:
    """The linear-strategy game: ``M`` insiders choose ``beta_m``, the market maker ``lambda``.

    Returns
    -------
    NormalFormGame
        Players ``insider 1..M, market maker``; payoffs the exact expected profits / minus the
        expected squared pricing error of the linear profile.
    """
    q = _resolve(params)
    m = q["n_insiders"]
    slopes, impacts = grids(**q)
    size = len(slopes) ** m * len(impacts)
    if size > MAX_PROFILES:
        raise ScenarioError(f"scenario 'holden_subrahmanyam': {size} pure profiles exceed the "
                            f"limit of {MAX_PROFILES}; use fewer grid points or insiders")
    mesh = np.meshgrid(*([slopes] * m), impacts, indexing="ij")
    betas, lam = np.stack(mesh[:m]), mesh[m]
    variance_v, variance_u = q["sigma_v"] ** 2, q["sigma_u"] ** 2
    kept = 1.0 - lam * betas.sum(axis=0)
    payoffs = np.concatenate([betas * variance_v * kept,
                              -(variance_v * kept ** 2 + lam ** 2 * variance_u)[None]])
    labels = [[f"{b:.6g}" for b in slopes]] * m + [[f"{x:.6g}" for x in impacts]]
    return NormalFormGame(payoffs, action_labels=labels,
                          player_labels=[f"insider {i + 1}" for i in range(m)] + ["market maker"],
                          title=f"Holden-Subrahmanyam, {m} insiders, linear strategies")


def reference(**params: Any) -> dict[str, Any]:
    """The closed form (grid parameters are ignored).

    Returns
    -------
    dict
        ``lambda``; ``beta`` and ``insider_profit`` (tuples, one entry per insider);
        ``total_insider_profit``; ``posterior_variance`` ``sigma_v^2 / (M + 1)``;
        ``revealed_share`` ``1 - Var(v | y) / sigma_v^2 = M / (M + 1)``.
    """
    q = _resolve(params)
    m, sigma_v, sigma_u = q["n_insiders"], q["sigma_v"], q["sigma_u"]
    each = sigma_v * sigma_u / ((m + 1) * math.sqrt(m))
    return {"lambda": math.sqrt(m) * sigma_v / ((m + 1) * sigma_u),
            "beta": (sigma_u / (math.sqrt(m) * sigma_v),) * m, "insider_profit": (each,) * m,
            "total_insider_profit": m * each, "posterior_variance": sigma_v ** 2 / (m + 1),
            "revealed_share": m / (m + 1)}


def summarize(game: NormalFormGame, profile: Sequence[Any], **params: Any) -> dict[str, Any]:
    """Statistics of a (mixed) profile of the linear-strategy game.

    Returns
    -------
    dict
        ``lambda`` (expected price impact), ``beta`` and ``insider_profit`` (tuples, one entry
        per insider: expected intensity and expected payoff), ``total_insider_profit``,
        ``posterior_variance`` (``Var(v | y)`` when the insiders trade with their expected
        intensities, ``sigma_v^2 sigma_u^2 / (B^2 sigma_v^2 + sigma_u^2)``, ``B = sum_m beta_m``)
        and ``revealed_share`` (``1 - posterior_variance / sigma_v^2``).
    """
    q = _resolve(params)
    m = q["n_insiders"]
    slopes, impacts = grids(**q)
    strategies = validate_profile(game, profile)
    betas = tuple(float(s @ slopes) for s in strategies[:m])
    payoffs = game.expected_payoffs(strategies)
    variance_v, variance_u = q["sigma_v"] ** 2, q["sigma_u"] ** 2
    aggregate = sum(betas)
    posterior = variance_v * variance_u / (aggregate ** 2 * variance_v + variance_u)
    return {"lambda": float(strategies[m] @ impacts), "beta": betas,
            "insider_profit": tuple(float(x) for x in payoffs[:m]),
            "total_insider_profit": float(np.sum(payoffs[:m])),
            "posterior_variance": posterior, "revealed_share": 1.0 - posterior / variance_v}


def continuum_solution(grid_summary: Any = None, **params: Any) -> dict[str, Any]:
    """The equilibrium of the continuous game (no grid), its exact NashConv and the grid's error.

    See :func:`games.kyle.continuum_solution`; here with ``M`` insiders.
    """
    q = _resolve(params)
    eq = linear_equilibrium(LinearGaussianMarket(sigma_v=q["sigma_v"], sigma_u=q["sigma_u"],
                                                 n_insiders=q["n_insiders"]))
    m = q["n_insiders"]
    summary = {"lambda": eq.profile.lambda_[0], "beta": (eq.profile.beta_dt[0],) * m,
               "insider_profit": (eq.insider_profit,) * m,
               "total_insider_profit": m * eq.insider_profit,
               "posterior_variance": eq.posterior_variance[0]}
    out: dict[str, Any] = {
        "method": "continuum: linear fixed point (backward recursion), certified by the exact "
                  "NashConv against unrestricted deviations",
        "summary": summary, "nash_conv": eq.nash_conv}
    if grid_summary is not None:
        out["discretisation_error"] = discretisation_error(grid_summary, summary)
    return out


SCENARIOS = (
    Scenario(
        "holden_subrahmanyam",
        "Holden-Subrahmanyam (1992): M competing insiders in Kyle's auction, linear strategies.",
        build,
        (Parameter("n_insiders", 2, "number of identical insiders M", low=1, high=4),
         Parameter("sigma_v", 1.0, "standard deviation of the asset value", low=1e-6, high=1e6),
         Parameter("sigma_u", 1.0, "standard deviation of the noise-trader flow", low=1e-6,
                   high=1e6),
         Parameter("p0", 0.0, "prior mean of the value", low=-1e9, high=1e9),
         Parameter("n_slopes", 11, "trading intensities in [0, 2 beta*] (odd: contains beta*)",
                   low=2, high=201),
         Parameter("n_impacts", 11, "price impacts in [0, 2 lambda*] (odd: contains lambda*)",
                   low=2, high=401)),
        reference=reference, summarize=summarize, continuum=continuum_solution,
        tags=("continuous", "information")),
)
