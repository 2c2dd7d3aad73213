"""Convergence study: the grid error of every closed-form scenario as its grids are refined.

For each scenario with a closed form, one cell refines the scenario's grids (or time steps) and
measures, at every level, the distance between the grid game and the theory:

- ``kyle``: Kyle's (1985) linear equilibrium projected onto the grids (3, 5, 9 value bins with
  5, 9, 17 prices): its exact NashConv on the grid game, and its insider profit against Kyle's;
- ``kyle`` recursion: Kyle's N-auction insider profit against Back's (1992) continuous-time
  limit, N = 1, 2, 4, 8, 16;
- ``first_price_auction``, ``second_price_auction``, ``all_pay_auction``: the projected
  symmetric equilibrium on ``K`` value nodes and ``2 K + 1`` bids (K = 3, 6, 12): revenue and
  bidder-surplus error together; and the grid equilibrium the solver finds (CFR) at the same
  grids, whose revenue error need not fall monotonically (grid equilibria are mixed);
- ``predatory_execution``: the discrete open-loop equilibrium against Carlin, Lobo and
  Viswanathan's (2007) continuous one (2 to 6 steps), and the lot rounding (6, 12, 24 lots);
- ``adversarial_avellaneda_stoikov``: the grid game's value against the continuum's (10, 20, 40
  steps, small inventory bound);
- ``cournot``: distance of the grid's nearest pure equilibrium from ``q = 30`` (steps 9, 4, 2);
- ``glosten_milgrom``: quote error of the nearest-rounded zero-profit quotes (11 to 161 prices).

Every series states whether theory says its error falls monotonically (``expected_monotone``):
it does for the projected equilibria (finer grids contain better approximations), for the
recursion (Kyle's profit rises to Back's limit with N), for first-order time stepping and for
the Cournot grids chosen by hand; it need not for grid equilibria (mixed, Kuhn and Lorenz 2023)
nor for nearest rounding (the closed form may sit on a coarse grid and not on a finer one). The
summary lists each series' errors, whether they fell monotonically and the ratio first / last.

Run ``gametools run convergence`` (both modes run the same grid; 19 s of CPU, measured in Dec
2026 on a shared two-core machine: 3.6 minutes of wall time at load average 16).

Examples
--------
>>> from analyses.convergence import STUDY
>>> sorted({c.scenario for c in STUDY.cells(True)})[:3]
['adversarial_avellaneda_stoikov', 'all_pay_auction', 'cournot']
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from itertools import pairwise
from pathlib import Path
from typing import Any

from gametools.studies import Cell, Study

__all__ = ["SERIES", "STUDY", "cells", "figures", "refinement_rows", "summarize"]

Row = dict[str, Any]


def _row(level: int, grid: str, statistic: str, error: float, expected: bool) -> Row:
    return {"step": level, "grid": grid, "statistic": statistic, "error": float(error),
            "expected_monotone": expected}


def _kyle() -> list[Row]:
    from games.kyle import build, reference, reference_profile, summarize
    from gametools.exploitability import nash_conv

    rows = []
    theory = reference()["insider_profit"]
    for level, (n_values, n_prices) in enumerate(((3, 5), (5, 9), (9, 17))):
        params = {"n_values": n_values, "n_prices": n_prices}
        game = build(**params)
        profile = reference_profile(game, **params)
        grid = f"n_values={n_values}, n_prices={n_prices}"
        rows.append(_row(level, grid, "NashConv of the projected equilibrium",
                         nash_conv(game, profile).nash_conv, True))
        profit = summarize(game, profile, **params)["insider_profit"]
        rows.append(_row(level, grid, "insider profit, relative", abs(profit / theory - 1),
                         False))
    return rows


def _number(value: Any) -> float:
    if isinstance(value, tuple):
        raise TypeError(f"a number expected, got {value!r}")
    return float(value)


def _back() -> list[Row]:
    from games.kyle import kyle_recursion

    # a panel of its own: the scenario column names the limit (call rows may override it)
    return [dict(_row(level, f"n_auctions={n}", "insider profit vs Back's limit, relative",
                      abs(_number(kyle_recursion(n_auctions=n)["insider_profit"]) - 1.0), True),
                 scenario="kyle: N auctions to Back (1992)")
            for level, n in enumerate((1, 2, 4, 8, 16))]


def _auction(auction: str) -> list[Row]:
    from games.auctions import build, reference, reference_profile, summarize
    from gametools.solvers import solve

    ref = reference(auction=auction)
    rows = []
    for level, k in enumerate((3, 6, 12)):
        params = {"n_values": k, "n_bids": 2 * k + 1}
        game = build(auction=auction, **params)
        grid = f"n_values={k}, n_bids={2 * k + 1}"
        stats = summarize(game, reference_profile(game, auction=auction, **params),
                          auction=auction, **params)
        rows.append(_row(level, grid, "projected equilibrium: revenue + surplus error",
                         abs(stats["revenue"] - ref["revenue"])
                         + abs(stats["bidder_surplus"] - ref["bidder_surplus"]), True))
        solved = solve(game).equilibria[0].strategies
        stats = summarize(game, solved, auction=auction, **params)
        rows.append(_row(level, grid, "grid equilibrium (solver): revenue, relative",
                         abs(stats["revenue"] / ref["revenue"] - 1), False))
    return rows


def _execution() -> list[Row]:
    from games.execution import build, reference, reference_profile, summarize

    rows = []
    for level, n_steps in enumerate((2, 3, 4, 5, 6)):
        ref = reference(n_steps=n_steps)
        rows.append(_row(level, f"n_steps={n_steps}",
                         "open-loop shortfall vs CLV (2007), relative",
                         abs(ref["open_loop_shortfall"] / ref["seller_shortfall"] - 1), True))
    for level, lots in enumerate((6, 12, 24)):
        params = {"n_lots": lots, "predator_lots": lots // 2}
        game = build(**params)
        stats = summarize(game, reference_profile(game, **params), **params)
        rows.append(_row(level, f"n_lots={lots}", "lot rounding: shortfall vs open loop",
                         abs(stats["seller_shortfall"]
                             - reference(**params)["open_loop_shortfall"]), True))
    return rows


def _adversarial() -> list[Row]:
    from games.adversarial_market_making import build, continuum_solution, summarize
    from gametools.solvers import solve

    rows = []
    for level, steps in enumerate((10, 20, 40)):
        params = {"max_inventory": 3, "n_quotes": 21, "n_steps": steps}
        game = build(**params)
        stats = summarize(game, solve(game).equilibria[0].strategies, **params)
        error = continuum_solution(stats, **params)["discretisation_error"]["value"]
        rows.append(_row(level, f"n_steps={steps} (max_inventory=3, n_quotes=21)",
                         "value vs continuum, absolute", abs(error), True))
    return rows


def _cournot() -> list[Row]:
    import numpy as np

    from games.oligopoly import cournot, quantity_grid
    from gametools.solvers.pure import pure_equilibria

    rows = []
    for level, step in enumerate((9.0, 4.0, 2.0)):
        grid = quantity_grid(quantity_step=step, max_quantity=60.0)
        found = pure_equilibria(cournot(quantity_step=step, max_quantity=60.0))
        error = min(max(abs(grid[int(np.argmax(s))] - 30.0) for s in e.strategies)
                    for e in found.equilibria)
        rows.append(_row(level, f"quantity_step={step:g}", "quantity vs q = 30", error, True))
    return rows


def _glosten_milgrom() -> list[Row]:
    from games.microstructure import (
        glosten_milgrom,
        glosten_milgrom_profile,
        glosten_milgrom_summary,
    )

    rows = []
    for level, n_prices in enumerate((11, 21, 41, 81, 161)):
        params: dict[str, Any] = {"n_trades": 2, "n_prices": n_prices}
        game = glosten_milgrom(**params)
        stats = glosten_milgrom_summary(game, glosten_milgrom_profile(game, **params), **params)
        rows.append(_row(level, f"n_prices={n_prices}", "quote error (nearest rounding)",
                         stats["quote_error"], False))
    return rows


#: Scenario -> function measuring its series (rows of ``step`` = refinement level).
SERIES: dict[str, Callable[[], list[Row]]] = {
    "kyle": lambda: _kyle() + _back(),
    "first_price_auction": lambda: _auction("first_price"),
    "second_price_auction": lambda: _auction("second_price"),
    "all_pay_auction": lambda: _auction("all_pay"),
    "predatory_execution": _execution,
    "adversarial_avellaneda_stoikov": _adversarial,
    "cournot": _cournot,
    "glosten_milgrom": _glosten_milgrom,
}


def cells(quick: bool) -> list[Cell]:
    """One cell per scenario (quick and full runs are the same: every series is cheap)."""
    return [Cell("call", scenario, "refinement", function="analyses.convergence:refinement_rows")
            for scenario in SERIES]


def refinement_rows(cell: Cell, out: Path) -> list[Row]:
    """The rows of one scenario's series (:data:`SERIES`)."""
    return SERIES[cell.scenario]()


def _series(rows: Sequence[Mapping[str, Any]]) -> dict[tuple[str, str], list[Mapping[str, Any]]]:
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for row in rows:
        groups.setdefault((str(row["scenario"]), str(row["statistic"])), []).append(row)
    return {key: sorted(members, key=lambda r: int(r["step"])) for key, members in
            groups.items()}


def summarize(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Per scenario and statistic: grids, errors, observed and expected monotonicity."""
    table: dict[str, Any] = {}
    for (scenario, statistic), members in _series(rows).items():
        errors = [float(r["error"]) for r in members]
        falls = all(b <= a for a, b in pairwise(errors)) and errors[-1] < errors[0]
        expected = str(members[0]["expected_monotone"]).lower() in ("true", "1", "1.0")
        table.setdefault(scenario, {})[statistic] = {
            "grids": [str(r["grid"]) for r in members], "errors": errors,
            "falls_monotonically": falls, "expected_monotone": expected,
            "first_over_last": errors[0] / errors[-1] if errors[-1] > 0 else math.inf,
            "as_theory_says": falls or not expected}
    return table


def figures(rows: Sequence[Mapping[str, Any]], out: Path) -> list[Path]:
    """``convergence``: one panel per scenario, error against refinement level, log axis."""
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.ticker import MaxNLocator

    from gametools.plotting import PALETTE, save_figure

    series = _series(rows)
    scenarios = list(dict.fromkeys(s for s, _ in series))
    columns = 3
    lines = math.ceil(len(scenarios) / columns)
    fig, axes = plt.subplots(lines, columns, figsize=(3.0 * columns, 2.3 * lines),
                             squeeze=False, layout="constrained")
    for ax, scenario in zip(axes.ravel(), scenarios):
        statistics = [s for (name, s) in series if name == scenario]
        positive = [float(r["error"]) for s in statistics for r in series[(scenario, s)]
                    if float(r["error"]) > 0]
        floor = 0.3 * min(positive) if positive else 1e-12
        for k, statistic in enumerate(statistics):
            members = series[(scenario, statistic)]
            levels = np.array([int(r["step"]) for r in members])
            errors = np.array([float(r["error"]) for r in members])
            expected = str(members[0]["expected_monotone"]).lower() in ("true", "1", "1.0")
            colour = PALETTE[k % len(PALETTE)]
            ax.plot(levels + 1, np.maximum(errors, floor), marker="o", markersize=3,
                    color=colour, linestyle="-" if expected else ":",
                    label=statistic + ("" if expected else " (need not fall)"))
            zero = errors <= 0
            if zero.any():  # exact on this grid: drawn at the floor as a downward triangle
                ax.scatter(levels[zero] + 1, np.full(int(zero.sum()), floor), marker="v",
                           color=colour, zorder=3)
        ax.set_yscale("log")
        top = max(positive) if positive else 1.0
        ax.set_ylim(0.5 * floor, top * 30)  # headroom on the log axis: the legend sits above
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(scenario, fontsize=7)
        ax.set_xlabel("refinement level (grid ids in summary.json)", fontsize=6)
        ax.set_ylabel("error (absolute; 'relative' where named)", fontsize=6)
        ax.legend(frameon=False, fontsize=5, loc="upper right")
    for ax in axes.ravel()[len(scenarios):]:
        ax.set_visible(False)
    fig.suptitle("Grid error as grids refine (solid: theory says it falls; dotted: need not; "
                 "triangles: exact, error 0)", fontsize=7)
    written = save_figure(fig, Path(out) / "convergence")
    plt.close(fig)
    return written


STUDY = Study(
    "convergence",
    "Grid error of every closed-form scenario as its grids are refined, against theory's "
    "expectation of a monotone fall.",
    cells, figures, summarize)
