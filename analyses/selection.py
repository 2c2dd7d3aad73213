"""Selection study: which equilibrium do learners reach when a game has several?

Two games with several equilibria:

- **Bank run** (``bank_run`` scenario, Diamond-Dybvig with sequential service; three patient
  depositors): *no run* (everyone waits), *run* (everyone withdraws) and a symmetric *mixed*
  equilibrium (reference profiles of :mod:`games.bank_run`).
- **Stag hunt** (built here; Skyrms 2004): ``(stag, stag)`` pays 4 to both, hare pays 3 whatever
  the other does, stag against hare pays 0. Equilibria: *stag/stag* (payoff dominant),
  *hare/hare* (risk dominant, Harsanyi and Selten 1988) and the mixed equilibrium where each
  hunts stag with probability 3/4.

For each game the study lists the equilibria the solvers find (all extreme equilibria by vertex
enumeration for the stag hunt; all pure equilibria and a logit-path equilibrium of the bank run's
stage game), trains ``mappo``, ``ippo``, ``iql`` and ``maddpg`` from several seeds and labels
each final tabular profile by its nearest equilibrium (L1 distance in policy space,
:func:`analyses.algorithms.nearest_equilibrium`), and integrates the replicator dynamics of the
stag hunt from a grid of interior starting points to map each equilibrium's basin of attraction
(the separatrix is ``x = 3/4`` and ``y = 3/4``: a player's best reply is stag exactly when the
other hunts stag with probability above 3/4). A run farther than :data:`UNCONVERGED_DISTANCE`
from every equilibrium is labelled ``unconverged``.

Figures: stacked bars of the equilibrium reached per algorithm (with the replicator basins'
shares as a reference bar) and the stag hunt's basin map with replicator trajectories.

Examples
--------
>>> from analyses.selection import stag_hunt
>>> from gametools.solvers import solve
>>> len(solve(stag_hunt(), method="vertex", all_equilibria=True).equilibria)
3
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from analyses.algorithms import budget, equilibrium_candidates, nearest_equilibrium
from gametools.marl.train import make_config, train
from gametools.model import NormalFormGame
from gametools.scenarios import get_scenario
from gametools.solvers import solve
from gametools.solvers.dynamics import replicator_dynamics
from gametools.studies import Cell, Study

__all__ = [
    "ALGORITHMS",
    "STUDY",
    "UNCONVERGED_DISTANCE",
    "cells",
    "figures",
    "replicator_basins",
    "solver_equilibria",
    "stag_hunt",
    "summarize",
    "train_and_classify",
]

#: Learners compared (the team learners need a cooperative game; neither game is one).
ALGORITHMS = ("mappo", "ippo", "iql", "maddpg")
#: Sum over players of L1 distances above which a profile is called ``unconverged`` (half of
#: the distance 2 between two pure strategies of one player).
UNCONVERGED_DISTANCE = 1.0
#: Seeds per (game, algorithm); the bars' tick labels give the count.
QUICK_SEEDS, FULL_SEEDS = 5, 10
QUICK_GRID, FULL_GRID = 7, 19
#: Replicator dynamics: horizon (in inverse payoff ranges), RK4 steps, recorded points.
REPLICATOR_TIME, REPLICATOR_STEPS, RECORDED_POINTS = 60.0, 1200, 25

_GAMES = {"stag_hunt": "stag hunt", "bank_run": "bank run"}
#: Display order (and so colours) of the outcomes, shared by every panel.
_OUTCOMES = ("stag/stag", "hare/hare", "mixed", "unconverged", "no-run", "run")


def stag_hunt() -> NormalFormGame:
    """The stag hunt: stag/stag pays 4, hare always pays 3, stag against hare pays 0."""
    return NormalFormGame.from_bimatrix([[4, 0], [3, 3]], [[4, 3], [0, 3]],
                                        action_labels=[["stag", "hare"]] * 2,
                                        player_labels=["hunter 1", "hunter 2"],
                                        title="stag hunt")


def _game_name(cell: Any) -> str:
    name = cell.scenario or str(dict(cell.params).get("game", ""))
    if name not in _GAMES:
        raise ValueError(f"selection cells play one of {sorted(_GAMES)}, got {name!r}")
    return name


def _scenario_params(cell: Any) -> dict[str, Any]:
    return {k: v for k, v in dict(cell.params).items() if k not in ("game", "x0")}


def _row(cell: Any, game: str, **values: Any) -> dict[str, Any]:
    return {"scenario": cell.scenario, "algorithm": cell.algorithm, "seed": int(cell.seed),
            "label": cell.label, "game": _GAMES[game], "step": 0, **values}


def _candidates(game: str, params: Mapping[str, Any]) -> tuple[Any, list[tuple[str, Any]]]:
    if game == "stag_hunt":
        normal = stag_hunt()
        return normal, equilibrium_candidates("", game=normal)
    built = get_scenario(game).build(**params)
    return built, equilibrium_candidates(game, params, game=built)


def train_and_classify(cell: Cell, out_dir: Path) -> list[dict[str, Any]]:
    """Call cell: train ``cell.algorithm`` and label its final profile by the nearest equilibrium.

    Returns one row with ``step``, ``nash_conv``, ``equilibrium`` (label, or ``unconverged``),
    ``distance`` and ``first_action`` (mean probability of each player's first action: stag, or
    withdraw, in the playing state).
    """
    name = _game_name(cell)
    params = _scenario_params(cell)
    game, candidates = _candidates(name, params)
    config = make_config(cell.algorithm, **dict(cell.config))
    target: Any = game if name == "stag_hunt" else name
    result = train(target, config, algorithm=cell.algorithm, seed=int(cell.seed),
                   params=params if name != "stag_hunt" else None, out=out_dir, resume=True)
    trained, profile, report = result.nash_report()
    label, distance = nearest_equilibrium(trained, profile, candidates)
    if distance > UNCONVERGED_DISTANCE:
        label = "unconverged"
    first = float(np.mean([np.asarray(p)[0, 0] for p in profile]))
    return [_row(cell, name, step=int(result.steps),
                 nash_conv=float(report.nash_conv), equilibrium=label,
                 distance=float(distance), first_action=first)]


def _nearest_normal(candidates: Sequence[tuple[str, Sequence[np.ndarray]]],
                    strategies: Sequence[np.ndarray]) -> tuple[str, float]:
    best = min(((sum(float(np.abs(np.asarray(eq[i])[0] - np.asarray(s)).sum())
                     for i, s in enumerate(strategies)), label) for label, eq in candidates),
               key=lambda pair: pair[0])
    return best[1], best[0]


def replicator_basins(cell: Cell, out_dir: Path) -> list[dict[str, Any]]:
    """Call cell: replicator trajectories of the stag hunt from ``x0`` and a column of ``y0``.

    ``cell.params``: ``x0`` (player 1's initial probability of stag) and ``grid`` (the number of
    ``y0`` values, evenly spaced strictly inside (0, 1)). Returns ``RECORDED_POINTS`` rows per
    trajectory (``step`` = index of the recorded point, ``x``, ``y`` the current probabilities
    of stag) each carrying the final classification ``equilibrium`` and its ``distance``.
    """
    params = dict(cell.params)
    x0 = float(params["x0"])
    game = stag_hunt()
    candidates = equilibrium_candidates("", game=game)
    # geometric spacing: the flow moves fast first and then creeps into the equilibrium
    recorded = np.unique(np.concatenate([[0], np.geomspace(1, REPLICATOR_STEPS,
                                                           RECORDED_POINTS - 1).round()])
                         ).astype(int)
    rows = []
    for y0 in _grid(int(params["grid"])):
        result = replicator_dynamics(game, x0=([x0, 1 - x0], [y0, 1 - y0]),
                                     time=REPLICATOR_TIME, steps=REPLICATOR_STEPS, record=True)
        trajectory = [np.asarray(t) for t in result.extra["trajectory"]]
        final = [t[-1] for t in trajectory]
        label, distance = _nearest_normal(candidates, final)
        if distance > UNCONVERGED_DISTANCE:
            label = "unconverged"
        for k, index in enumerate(recorded):
            rows.append(_row(cell, "stag_hunt", step=k, x0=round(x0, 6), y0=round(float(y0), 6),
                             x=float(trajectory[0][index, 0]), y=float(trajectory[1][index, 0]),
                             equilibrium=label, distance=float(distance)))
    return rows


def solver_equilibria(cell: Cell, out_dir: Path) -> list[dict[str, Any]]:
    """Call cell: the equilibria the solvers find, labelled like the learners' outcomes.

    Stag hunt: vertex enumeration (exact, complete). Bank run: all pure equilibria of the stage
    game plus the logit-path (QRE homotopy) equilibrium. Rows: ``method``, ``equilibrium``,
    ``distance`` (to the labelled reference; 0 for the stag hunt), ``exact``, ``regret``,
    ``first_action`` (mean probability of the first action), ``x``/``y`` (each player's
    first-action probability, for the map).
    """
    name = _game_name(cell)
    game, candidates = _candidates(name, _scenario_params(cell))
    if name == "stag_hunt":
        normal, runs = game, [("vertex", solve(game, method="vertex", all_equilibria=True))]
    else:
        normal = game.stage_game(0, np.zeros((game.num_players, game.num_states)))
        runs = [("pure", solve(normal, method="pure", all_equilibria=True)),
                ("logit", solve(normal, method="logit"))]
    rows = []
    for method, result in runs:
        for equilibrium in result.equilibria:
            strategies = [np.asarray(s, dtype=float) for s in equilibrium.strategies]
            label, distance = _nearest_normal(candidates, strategies)
            rows.append(_row(cell, name, method=method, equilibrium=label,
                             distance=float(distance), exact=bool(equilibrium.exact),
                             regret=float(equilibrium.regret),
                             first_action=float(np.mean([s[0] for s in strategies])),
                             x=float(strategies[0][0]), y=float(strategies[1][0])))
    return rows


def _grid(points: int) -> np.ndarray:
    """``points`` evenly spaced values strictly inside (0, 1) (interior starting points)."""
    return (np.arange(points) + 0.5) / points


def cells(quick: bool) -> list[Cell]:
    """Training cells (4 algorithms x 2 games x seeds), replicator columns and solver cells."""
    seeds = range(QUICK_SEEDS if quick else FULL_SEEDS)
    grid = QUICK_GRID if quick else FULL_GRID
    out = []
    for game, label in _GAMES.items():
        scenario, params = (game, {}) if game == "bank_run" else ("", {"game": game})
        out.append(Cell(task="call", scenario=scenario, params=params, label=label,
                        function="analyses.selection:solver_equilibria"))
        for algorithm in ALGORITHMS:
            for seed in seeds:
                out.append(Cell(task="call", scenario=scenario, algorithm=algorithm, seed=seed,
                                params=params, config=budget(algorithm, quick=quick),
                                label=label,
                                function="analyses.selection:train_and_classify"))
    for x0 in _grid(grid):
        out.append(Cell(task="call", scenario="", params={"game": "stag_hunt",
                                                           "x0": round(float(x0), 6),
                                                           "grid": grid},
                        label="stag hunt", function="analyses.selection:replicator_basins"))
    return out


def _present(value: Any) -> bool:
    """Whether a row entry holds a value (rows read back from CSV hold None for empty ones)."""
    return value is not None and str(value) not in ("", "nan", "None")


def _kind(row: Mapping[str, Any]) -> str:
    if _present(row.get("method")):
        return "solver"
    if _present(row.get("x0")):
        return "replicator"
    return "train"


def summarize(rows: Sequence[Mapping[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Tables ``outcomes`` (share of seeds per equilibrium, per game and algorithm, and the
    replicator basins' shares) and ``solver_equilibria``."""
    counts: dict[tuple[str, str, str], int] = {}
    totals: dict[tuple[str, str], int] = {}
    for row in rows:
        kind = _kind(row)
        if kind == "solver" or (kind == "replicator" and int(float(row["step"])) != 0):
            continue
        who = "replicator basins" if kind == "replicator" else str(row["algorithm"])
        key = (str(row["game"]), who)
        outcome = (*key, str(row["equilibrium"]))
        counts[outcome] = counts.get(outcome, 0) + 1
        totals[key] = totals.get(key, 0) + 1
    outcomes = [{"game": g, "learner": who, "equilibrium": eq, "count": n,
                 "share": n / totals[(g, who)]} for (g, who, eq), n in sorted(counts.items())]
    solvers = [{k: row.get(k) for k in ("game", "method", "equilibrium", "exact", "regret",
                                         "first_action")}
               for row in rows if _kind(row) == "solver"]
    return {"outcomes": outcomes, "solver_equilibria": solvers}


def figures(rows: Sequence[Mapping[str, Any]], out: Path) -> list[Path]:
    """``selection_outcomes`` (stacked bars per game) and ``selection_basins`` (stag hunt map)."""
    import matplotlib.pyplot as plt

    from gametools.plotting import (
        paper_style,
        plot_equilibrium_map,
        plot_outcome_shares,
        plot_simplex_trajectories,
        save_figure,
    )

    trained = [dict(row) for row in rows if _kind(row) == "train"]
    replicator = [row for row in rows if _kind(row) == "replicator"]
    solvers = [row for row in rows if _kind(row) == "solver"]
    written: list[Path] = []
    games = list(dict.fromkeys(str(row["game"]) for row in trained))
    with paper_style():
        if games:
            fig, axes = plt.subplots(1, len(games), figsize=(4.2 * len(games), 2.6),
                                     squeeze=False, layout="constrained")
            for ax, game in zip(axes[0], games):
                members = [row for row in trained if str(row["game"]) == game]
                if game == "stag hunt":
                    members += [dict(row, algorithm="replicator\n(basin share)")
                                for row in replicator if int(float(row["step"])) == 0]
                plot_outcome_shares(members, group="algorithm", outcome="equilibrium",
                                    groups=ALGORITHMS, outcomes=_OUTCOMES, xlabel="learner",
                                    exact=["replicator\n(basin share)"], ax=ax)
                ax.set_title(f"{game}: equilibrium reached across seeds")
            written += save_figure(fig, Path(out) / "selection_outcomes")
            plt.close(fig)
        if replicator:
            fig, ax = plt.subplots(figsize=(3.6, 2.8))
            starts = [row for row in replicator if int(float(row["step"])) == 0]
            marked = {str(row["equilibrium"]): (float(row["x"]), float(row["y"]))
                      for row in solvers if str(row["game"]) == "stag hunt"}
            plot_equilibrium_map(starts, x="x0", y="y0", equilibria=marked or None,
                                 outcomes=_OUTCOMES,
                                 xlabel="initial P(hunter 1 hunts stag)",
                                 ylabel="initial P(hunter 2 hunts stag)", ax=ax)
            by_start: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
            for row in replicator:
                by_start.setdefault((str(row["x0"]), str(row["y0"])), []).append(
                    (float(row["step"]), float(row["x"]), float(row["y"])))
            keys = sorted(by_start)
            shown = keys[:: max(1, len(keys) // 12)]  # a readable subset of the trajectories
            plot_simplex_trajectories([np.array(sorted(by_start[k]))[:, 1:] for k in shown],
                                      xlabel="P(hunter 1 hunts stag)",
                                      ylabel="P(hunter 2 hunts stag)", ax=ax)
            ax.set_title("Stag hunt: replicator basins")
            written += save_figure(fig, Path(out) / "selection_basins")
            plt.close(fig)
    return written


STUDY = Study(
    name="selection",
    description="Equilibrium selection in bank runs and the stag hunt: learners vs solvers vs "
                "replicator basins.",
    cells=cells, figures=figures, summarize=summarize)
