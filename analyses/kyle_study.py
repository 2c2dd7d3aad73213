"""Kyle study: do MADDPG and MAPPO learn Kyle's (1985) insider-trading equilibrium?

Both algorithms train on the ``kyle`` scenario (one auction, default grids: 5 value bins,
9 orders, 17 order-flow points, 11 prices) over several seeds; at every evaluation point the
exact NashConv of the learned tabular policies is measured on the grid game. MAPPO trains on the
tabular game (stochastic policies); MADDPG trains on the scenario's continuous simulator (exact
normal value and noise, continuous orders and prices) and its deterministic actors are projected
onto the grids for evaluation.

The final policies' price impact ``lambda`` (slope of the price change on the order flow) and
trading intensity ``beta`` (slope of the order on ``v - p0``), computed exactly by
:func:`games.kyle.summarize`, are compared with Kyle's closed form ``lambda = sigma_v /
(2 sigma_u) = 1/2``, ``beta = sigma_u / sigma_v = 1``. A reference cell measures the same
statistics, and the NashConv, of the closed-form equilibrium projected onto the grids (NashConv
about 3e-4: the floor a learner can approach on these grids).

MADDPG's final actors are also measured without a grid: the exact NashConv of the same
deterministic actors in the continuous one-auction game (best responses by quadrature and
one-dimensional optimisation, :func:`maddpg_continuum_exploitability`), in the rows as
``continuum_nash_conv`` and drawn beside the grid curve's last point.

Five seeds per algorithm, in quick and full runs. Figures: ``kyle_nash_conv`` (NashConv over
training on a log axis, one line per algorithm: the geometric mean across seeds and the 95%
Student-t interval computed on the log scale, so positive; the legend gives ``n``; MADDPG's
final continuous-game NashConv as diamonds, one hollow per seed, filled with its band) and
``kyle_estimates`` (learned ``lambda`` and ``beta``, each on its own axis: every seed's value,
their mean and its 95% Student-t interval, against theory).

Run ``gametools run kyle --quick`` (about 500 s of CPU, measured on two cores in Dec 2026: a
few minutes of wall time on an idle two-core machine, its 11 cells two at a time) or
``gametools run kyle`` (about 3 hours of CPU, extrapolated from the quick run's cost per step).

References
----------
A. S. Kyle, "Continuous Auctions and Insider Trading", Econometrica 53(6), 1985.
R. Lowe et al., "Multi-Agent Actor-Critic for Mixed Cooperative-Competitive Environments",
NeurIPS 2017 (MADDPG). C. Yu et al., "The Surprising Effectiveness of PPO in Cooperative
Multi-Agent Games", NeurIPS 2022 (MAPPO).

Examples
--------
>>> from analyses.kyle_study import STUDY
>>> cells = STUDY.cells(True)
>>> sorted({c.algorithm for c in cells if c.task == "train"}), len({c.seed for c in cells})
(['maddpg', 'mappo'], 5)
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from gametools.studies import Cell, Study

__all__ = ["BUDGETS", "PARAMS", "REFERENCE", "SCENARIO", "STUDY", "cells", "figures",
           "maddpg_continuum_exploitability", "maddpg_rows", "reference_rows", "summarize"]

SCENARIO = "kyle"
#: Scenario parameters (the defaults, spelled out so the study does not drift with them).
PARAMS: dict[str, Any] = {"sigma_v": 1.0, "sigma_u": 1.0, "p0": 0.0, "n_auctions": 1,
                          "n_values": 5, "n_orders": 9, "n_flows": 17, "n_prices": 11,
                          "lattice_step": 0.5}
REFERENCE = "theory (on the grid)"

#: Learner settings per algorithm, for quick (True) and full (False) runs. The quick budgets are
#: the full ones cut by 25 (MAPPO) and 20 (MADDPG) so that five seeds fit in a few minutes: both
#: learners still cut NashConv from about 2.3 (untrained) by more than an order of magnitude.
BUDGETS: dict[str, dict[bool, dict[str, Any]]] = {
    "mappo": {True: {"total_steps": 80_000, "eval_interval": 5_000},
              False: {"total_steps": 2_000_000, "eval_interval": 50_000}},
    "maddpg": {True: {"total_steps": 50_000, "eval_interval": 2_500},
               False: {"total_steps": 1_000_000, "eval_interval": 25_000}},
}
#: Seeds, quick and full: five, the fewest from which the figures draw Student-t intervals
#: (:data:`gametools.plotting.MIN_SEEDS_FOR_INTERVAL`).
SEEDS = {True: (0, 1, 2, 3, 4), False: (0, 1, 2, 3, 4)}


def cells(quick: bool) -> list[Cell]:
    """Every algorithm x seed, plus the projected closed-form equilibrium.

    MAPPO cells are plain ``"train"`` cells; MADDPG cells are ``"call"`` cells of
    :func:`maddpg_rows`, which train the same way and add the exact NashConv of the final
    actors in the continuous game.
    """
    grid = [Cell("train", SCENARIO, algorithm, seed=seed, params=PARAMS,
                 config=BUDGETS[algorithm][quick]) if algorithm != "maddpg" else
            Cell("call", SCENARIO, algorithm, seed=seed, params=PARAMS,
                 config=BUDGETS[algorithm][quick], function="analyses.kyle_study:maddpg_rows")
            for algorithm in BUDGETS for seed in SEEDS[quick]]
    grid.append(Cell("call", SCENARIO, REFERENCE, params=PARAMS,
                     function="analyses.kyle_study:reference_rows"))
    return grid


def reference_rows(cell: Cell, out: Path) -> list[dict[str, Any]]:
    """NashConv and statistics of Kyle's linear equilibrium projected onto the grids."""
    from games.kyle import build, reference, reference_profile
    from games.kyle import summarize as kyle_summary
    from gametools.exploitability import nash_conv

    game = build(**cell.params)
    profile = reference_profile(game, **cell.params)
    report = nash_conv(game, profile)
    row: dict[str, Any] = {"step": 0, "nash_conv": report.nash_conv,
                           **{f"gain_{i}": float(g) for i, g in enumerate(report.per_player)},
                           "kind": report.kind}
    # the summary's numbers; its notes (text saying which grid reaches the theory) stay out of
    # the numeric rows
    row.update({k: float(v) for k, v in kyle_summary(game, profile, **cell.params).items()
                if isinstance(v, numbers.Real)})
    row.update({f"reference_{k}": float(v) for k, v in reference(**cell.params).items()})
    return [row]


def maddpg_rows(cell: Cell, out: Path) -> list[dict[str, Any]]:
    """Train MADDPG as a ``"train"`` cell does, then measure the final actors in the continuum.

    The rows are :func:`gametools.studies.train_rows`' (grid NashConv over training); the last
    one also gets ``continuum_nash_conv``, ``continuum_gain_0`` (insider),
    ``continuum_gain_1`` (market maker) and ``continuum_quadrature_error`` from
    :func:`maddpg_continuum_exploitability` of the final checkpoint: the exact NashConv of the
    same actors in the continuous game, without a grid.
    """
    from gametools.studies import train_rows

    rows = train_rows(cell, out)
    exact = maddpg_continuum_exploitability(out / "checkpoint.pt", **cell.params)
    if exact["steps"] != rows[-1]["step"]:
        raise ValueError(f"checkpoint at step {exact['steps']}, last metrics row at step "
                         f"{rows[-1]['step']}")
    rows[-1].update(continuum_nash_conv=exact["nash_conv"],
                    continuum_gain_0=exact["insider_gain"],
                    continuum_gain_1=exact["market_maker_gain"],
                    continuum_quadrature_error=exact["quadrature_error"])
    return rows


def maddpg_continuum_exploitability(checkpoint: str | Path, *, grid_points: int = 1025,
                                    **params: Any) -> dict[str, Any]:
    """Exact NashConv, in the continuous one-auction game, of a trained MADDPG Kyle profile.

    ``checkpoint`` is the ``checkpoint.pt`` that :func:`gametools.marl.train.train` writes into
    its ``out`` folder for the ``kyle`` scenario with ``params``. The deterministic actors are
    rebuilt from it and evaluated without a grid by
    :func:`games.kyle.actor_exploitability` (best responses by quadrature and one-dimensional
    optimisation, in the simulator's action boxes); the grid figure's NashConv is the projected
    tabular profile's. Loading uses ``torch.load(weights_only=True)``.

    Returns
    -------
    dict
        :meth:`gametools.continuum.PolicyExploitability.to_dict` plus ``steps``.
    """
    import torch

    from games.kyle import actor_exploitability, simulator
    from gametools.marl.maddpg import MADDPG, MADDPGConfig

    document = torch.load(Path(checkpoint), map_location="cpu", weights_only=True)
    saved = dict(document["config"])
    config = MADDPGConfig().replace(**{k: tuple(v) if isinstance(v, list) else v
                                       for k, v in saved.items()})
    learner = MADDPG(simulator(num_envs=1, seed=0, **params), config, seed=0)
    learner.load_state_dict(document["learner"])

    def actor(agent: int) -> Any:
        def act(observations: Any) -> Any:
            with torch.no_grad():
                return learner.policy(agent, torch.as_tensor(observations, dtype=torch.float32))
        return act

    out = actor_exploitability(actor(0), actor(1), grid_points=grid_points, **params)
    return {**out.to_dict(), "steps": int(document["steps"])}


def _trained(rows: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [r for r in rows if r["algorithm"] in BUDGETS]


def _final(rows: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The last row of every (algorithm, seed) run."""
    last: dict[tuple[str, Any], Mapping[str, Any]] = {}
    for row in rows:
        key = (row["algorithm"], row["seed"])
        if key not in last or row["step"] >= last[key]["step"]:
            last[key] = row
    return list(last.values())


def figures(rows: Sequence[Mapping[str, Any]], out: Path) -> list[Path]:
    """NashConv over training, and learned lambda / beta against theory."""
    import matplotlib.pyplot as plt

    from gametools.plotting import (
        plot_estimates_vs_theory,
        plot_exploitability_curves,
        save_figure,
    )

    reference = [r for r in rows if r["algorithm"] == REFERENCE]
    floor = reference[0]["nash_conv"] if reference else None
    written: list[Path] = []

    fig, ax = plt.subplots()
    plot_exploitability_curves(_trained(rows), floor=floor, groups=list(BUDGETS), ax=ax)
    _continuum_points(_final(_trained(rows)), ax)
    ax.set_title("Kyle (1985): exploitability during training")
    written += save_figure(fig, out / "kyle_nash_conv")
    plt.close(fig)

    fig, ax = plt.subplots()
    plot_estimates_vs_theory(_final(_trained(rows)) + reference, estimates=("lambda", "beta"),
                             names={"lambda": "price impact λ", "beta": "trading intensity β"},
                             groups=[*BUDGETS, REFERENCE], exact=[REFERENCE],
                             theory_label="Kyle (1985) closed form", ax=ax)
    ax.set_title("Final price impact and trading intensity")
    written += save_figure(fig, out / "kyle_estimates")
    plt.close(fig)
    return written


def _continuum_points(final: Sequence[Mapping[str, Any]], ax: Any) -> None:
    """MADDPG's final NashConv in the continuous game, beside its grid curve's last point.

    One marker per seed just after the final step (hollow diamonds) and their geometric mean with the
    band :func:`gametools.plotting.seed_band` draws on a log axis; the legend is redrawn with the
    entry added (its title, the bands' meaning, kept).
    """
    import numpy as np

    from gametools.plotting import PALETTE, seed_band

    members = [r for r in final if r.get("continuum_nash_conv") is not None
               and math.isfinite(float(r["continuum_nash_conv"]))]
    if not members:
        return
    # just right of the curves' last point, which the markers would otherwise hide
    step = max(float(r["step"]) for r in members) * 1.04
    values = [float(r["continuum_nash_conv"]) for r in members]
    band = seed_band(values, bounds=(0.0, None), log=True)
    colour = PALETTE[list(BUDGETS).index("maddpg") % len(PALETTE)]
    bottom = ax.get_ylim()[0]
    ax.scatter(np.full(len(values), step), np.maximum(values, bottom), marker="D", s=12,
               facecolors="white", edgecolors=colour, linewidths=0.8, zorder=3)
    ax.errorbar([step], [band.mean], yerr=[[band.mean - max(band.low, bottom)],
                                           [band.high - band.mean]],
                fmt="D", markersize=4, color=colour, capsize=2, zorder=4,
                label=f"maddpg final actors, continuous\ngame: exact, no grid (n={band.n})")
    legend = ax.get_legend()
    title = legend.get_title().get_text() if legend is not None else ""
    ax.legend(frameon=False, title=title or None, title_fontsize=6, loc="upper left",
              bbox_to_anchor=(1.02, 1.0))


def summarize(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Final NashConv, lambda and beta per algorithm: mean and band across seeds.

    The band is :func:`gametools.plotting.seed_band`'s, named by ``band``: ``"t"``, the 95%
    Student-t interval of the mean (from five seeds; NashConv's clipped at 0), or ``"range"``,
    the smallest and largest seed (fewer seeds).
    """
    from gametools.plotting import seed_band

    table: dict[str, Any] = {}
    final = _final(_trained(rows))
    for algorithm in BUDGETS:
        members = [r for r in final if r["algorithm"] == algorithm]
        if not members:
            continue
        entry: dict[str, Any] = {"seeds": len(members), "steps": max(r["step"] for r in members)}
        columns = ["nash_conv", "lambda", "beta", "insider_profit"]
        if any(r.get("continuum_nash_conv") is not None for r in members):
            columns.append("continuum_nash_conv")  # MADDPG: the final actors, no grid
        for column in columns:
            band = seed_band([math.nan if r.get(column) is None else float(r[column])
                              for r in members],
                             bounds=(0.0, None) if "nash_conv" in column else (None, None))
            entry[column] = {"mean": band.mean, "low": band.low, "high": band.high,
                             "band": band.kind}
        table[algorithm] = entry
    for row in rows:
        if row["algorithm"] == REFERENCE:
            table["reference"] = {k: row[k] for k in ("nash_conv", "lambda", "beta",
                                                      "reference_lambda", "reference_beta")}
    return table


STUDY = Study(
    "kyle",
    "MADDPG and MAPPO on Kyle's insider-trading game: NashConv over training; learned "
    "price impact and trading intensity against Kyle (1985).",
    cells, figures, summarize)
