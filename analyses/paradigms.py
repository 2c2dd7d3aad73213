"""Paradigms study: independent learners vs CTDE vs full centralisation as agents are added.

Learning paradigms (Oliehoek and Amato 2016; Lowe et al. 2017; Rashid et al. 2018):

- **independent** — ``iql``, ``ippo``: each agent learns alone, the others are part of its
  (non-stationary) environment;
- **CTDE** (centralised training, decentralised execution) — ``maddpg``, ``mappo`` (centralised
  critics), ``qmix`` (monotonic mixing of per-agent values; team games only);
- **centralised** — ``central``: one policy over the joint action (team games only; its output
  grows as ``prod_i n_i``).

Two scenarios: the cooperative ``portfolio`` team (every manager is paid the fund's
risk-adjusted return; fully observed so that every paradigm, the centralised one included, learns
on the same game; 2 periods so that 3 managers stay small) with 2 and 3 managers, and the
competitive ``cournot`` oligopoly with 2 and 3 firms (``qmix`` and ``central`` need a team game
and are not scheduled there). Measured per cell (plain ``train`` cells; the runner's rows): final
exact NashConv, return per agent (the team return in the portfolio game; sampled episodes since
the last evaluation) and wall time (read from each cell's ``result.json``: wall times are kept out
of ``results.csv`` so that it is reproducible byte for byte).

Figures: one per metric, NashConv / return / wall time against the number of agents, one panel
per scenario, across five seeds (quick and full runs): on the log axes of NashConv and wall time
the geometric mean and a 95% t-interval on the log scale, on the linear return axis the mean and
its 95% t-interval (:func:`gametools.plotting.plot_metric_vs_agents`; legends give ``n``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from analyses.algorithms import budget, valid_algorithm
from gametools.scenarios import get_scenario
from gametools.studies import Cell, Study

__all__ = [
    "PARADIGMS",
    "SCENARIOS",
    "STUDY",
    "cells",
    "figures",
    "summarize",
    "team_return",
    "wall_times",
]

#: algorithm -> paradigm.
PARADIGMS = {"iql": "independent", "ippo": "independent", "maddpg": "CTDE", "mappo": "CTDE",
             "qmix": "CTDE", "central": "centralised"}

#: scenario -> (parameter naming the number of agents, fixed parameters, counts (full), quick).
SCENARIOS: dict[str, tuple[str, Mapping[str, Any], tuple[int, ...], tuple[int, ...]]] = {
    "portfolio": ("n_agents", {"n_periods": 2, "observation": "full"}, (2, 3), (2,)),
    "cournot": ("n_firms", {}, (2, 3), (2,)),
}
#: Seeds per cell group: five in quick runs too, the fewest from which figures draw t-intervals
#: (:data:`gametools.plotting.MIN_SEEDS_FOR_INTERVAL`).
QUICK_SEEDS, FULL_SEEDS = 5, 5


def cells(quick: bool) -> list[Cell]:
    """Train cells: every valid (scenario, number of agents, algorithm) with several seeds."""
    grid = []
    for scenario, (count_name, fixed, counts, quick_counts) in SCENARIOS.items():
        for count in quick_counts if quick else counts:
            params = {**fixed, count_name: count}
            game = get_scenario(scenario).build(**params)
            for algorithm in PARADIGMS:
                if not valid_algorithm(algorithm, game):
                    continue
                for seed in range(QUICK_SEEDS if quick else FULL_SEEDS):
                    grid.append(Cell(task="train", scenario=scenario, algorithm=algorithm,
                                     seed=seed, params=params,
                                     config=budget(algorithm, quick=quick),
                                     label=f"n_agents={count}"))
    return grid


def team_return(row: Mapping[str, Any]) -> float:
    """Mean over agents of the ``return_i`` columns (the team return in a team game)."""
    values = [float(v) for k, v in row.items()
              if k.startswith("return_") and k[7:].isdigit() and v is not None
              and str(v) not in ("", "nan")]
    return float(np.mean(values)) if values else float("nan")


def wall_times(rows: Sequence[Mapping[str, Any]], out: Path) -> dict[str, float]:
    """Training wall time of every cell, from ``cells/<cell>/result.json`` near ``out``.

    ``out`` is the figures folder (``<study>/figures``) or the study folder itself; cells
    without a readable file are left out.
    """
    out = Path(out)
    roots = [root / "cells" for root in (out, out.parent) if (root / "cells").is_dir()]
    found: dict[str, float] = {}
    for cell in {str(row.get("cell", "")) for row in rows} - {""}:
        for root in roots:
            path = root / cell / "result.json"
            try:
                found[cell] = float(json.loads(path.read_text(encoding="utf-8"))["wall_time"])
                break
            except (OSError, ValueError, KeyError, TypeError):
                continue
    return found


def _final_rows(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The last evaluation of every cell, with ``team_return`` and ``paradigm`` added."""
    last: dict[str, Mapping[str, Any]] = {}
    for row in rows:
        key = str(row.get("cell") or (row["scenario"], row["algorithm"], row["label"],
                                      row["seed"]))
        if key not in last or float(row["step"]) > float(last[key]["step"]):
            last[key] = row
    return [dict(row, team_return=team_return(row),
                 paradigm=PARADIGMS.get(str(row["algorithm"]), ""))
            for row in last.values()]


def summarize(rows: Sequence[Mapping[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Table ``paradigms``: mean and 95% interval of the final metrics per cell group."""
    from gametools.plotting import mean_interval

    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for row in _final_rows(rows):
        groups.setdefault((str(row["scenario"]), str(row["label"]), str(row["algorithm"])),
                          []).append(row)
    table = []
    for (scenario, label, algorithm), members in sorted(groups.items()):
        entry: dict[str, Any] = {"scenario": scenario, "agents": label,
                                 "algorithm": algorithm, "paradigm": PARADIGMS.get(algorithm),
                                 "seeds": len(members)}
        for metric, bounds in (("nash_conv", (0.0, None)), ("team_return", (None, None))):
            mean, low, high = mean_interval([m.get(metric, float("nan")) for m in members],
                                            bounds=bounds)
            entry.update({f"{metric}_mean": mean, f"{metric}_low": low,
                          f"{metric}_high": high})
        table.append(entry)
    return {"paradigms": table}


def figures(rows: Sequence[Mapping[str, Any]], out: Path) -> list[Path]:
    """``paradigms_nash_conv``, ``paradigms_team_return`` and (when the cells' result files
    are found) ``paradigms_wall_time``: metric vs number of agents, one panel per scenario."""
    import matplotlib.pyplot as plt

    from gametools.plotting import paper_style, plot_metric_vs_agents, save_figure

    final = _final_rows(rows)
    times = wall_times(rows, out)
    for row in final:
        row["wall_time_s"] = times.get(str(row.get("cell", "")), float("nan"))
        row["algorithm"] = f"{row['algorithm']} ({row['paradigm']})"
    present = {str(row["scenario"]) for row in final}
    scenarios = [s for s in SCENARIOS if s in present] + sorted(present - set(SCENARIOS))
    order = [f"{a} ({p})" for a, p in PARADIGMS.items()]
    written: list[Path] = []
    # (column, axis label, log axis, the metric's range)
    metrics: list[tuple[str, str, bool, tuple[float | None, float | None]]] = [
        ("nash_conv", "final NashConv", True, (0.0, None)),
        ("team_return", "return per agent", False, (None, None))]
    if times:
        metrics.append(("wall_time_s", "training wall time (s)", True, (0.0, None)))
    with paper_style():
        for metric, ylabel, log, bounds in metrics:
            fig, axes = plt.subplots(1, len(scenarios), figsize=(3.0 * len(scenarios) + 1.4,
                                                                 2.4),
                                     squeeze=False, layout="constrained")
            for k, (ax, scenario) in enumerate(zip(axes[0], scenarios)):
                members = [row for row in final if row["scenario"] == scenario
                           and np.isfinite(float(row[metric]))]
                if not members:
                    ax.set_axis_off()
                    continue
                positive = all(float(row[metric]) > 0 for row in members)
                plot_metric_vs_agents(members, metric=metric, groups=order, ylabel=ylabel,
                                      log=log and positive, bounds=bounds, ax=ax)
                if k > 0 and ax.get_legend() is not None:  # the first panel lists every learner
                    ax.get_legend().remove()
                ax.set_title(scenario)
            written += save_figure(fig, Path(out) / f"paradigms_{metric.removesuffix('_s')}")
            plt.close(fig)
    return written


STUDY = Study(
    name="paradigms",
    description="Independent learners vs CTDE vs fully centralised learning: exploitability, "
                "team return and wall time as agents are added (portfolio team, Cournot).",
    cells=cells, figures=figures, summarize=summarize)
