"""Algorithms study: final exploitability of every algorithm on every small scenario.

Every learner of :data:`gametools.marl.train.ALGORITHMS` is trained on every small scenario it
can run on (QMIX and the centralised learner need a team game; the centralised learner also needs
a fully observed one) with several seeds. Each cell records the final exact NashConv, the
*relative* NashConv (divided by ``N`` times the game's reward range, so scenarios with different
payoff scales share one colour scale) and the **distance to the nearest computed equilibrium**:

    ``d(pi, pi*) = sum_i sum_s w(s) ||pi_i(o_i(s)) - pi*_i(o_i(s))||_1 / sum_s w(s)``,

the L1 distance in policy space averaged over the states ``s`` the equilibrium ``pi*`` visits,
weighted by its expected (discounted) visits ``w``; for a normal-form game it is
``sum_i ||x_i - x*_i||_1`` (2 per player between different pure strategies). The equilibria come
from the solvers (all extreme equilibria by vertex enumeration for two-player normal-form games,
all pure equilibria for more players) or from the scenario's reference profiles (bank runs: the
no-run, run and mixed equilibria; portfolio: the team optimum). A learned profile can sit close to
the convex hull of several extreme equilibria and still be far from each; the distance is to the
listed profiles, not to the hull.

Outputs: ``results.csv`` (one row per cell), the table ``exploitability`` (mean and 95%
t-intervals across seeds per scenario and algorithm, via :func:`summarize`) and a heatmap of
relative NashConv with intervals (:func:`gametools.plotting.plot_heatmap_with_intervals`).

Examples
--------
>>> from gametools.exploitability import policy_distance
>>> import numpy as np
>>> from gametools import NormalFormGame
>>> game = NormalFormGame.from_bimatrix([[1, 0], [0, 1]], [[1, 0], [0, 1]]).to_markov_game()
>>> pure = (np.array([[1.0, 0.0]] * 2), np.array([[1.0, 0.0]] * 2))
>>> other = (np.array([[0.0, 1.0]] * 2), np.array([[1.0, 0.0]] * 2))
>>> float(policy_distance(game, other, pure))
2.0
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from gametools.exploitability import policy_distance
from gametools.marl.train import ALGORITHMS, learner_class, make_config, train
from gametools.model import MarkovGame, NormalFormGame
from gametools.scenarios import get_scenario
from gametools.solvers import solve
from gametools.solvers.result import reward_range
from gametools.studies import Cell, Study

__all__ = [
    "QUICK_SCENARIOS",
    "SCENARIOS",
    "STUDY",
    "budget",
    "cells",
    "equilibrium_candidates",
    "figures",
    "nearest_equilibrium",
    "summarize",
    "train_and_measure",
    "valid_algorithm",
]

#: (scenario, parameters, label) of the full grid; small enough for exact NashConv in seconds.
SCENARIOS: tuple[tuple[str, Mapping[str, Any], str], ...] = (
    ("matching_pennies", {}, "matching pennies"),
    ("rock_paper_scissors", {}, "rock-paper-scissors"),
    ("prisoners_dilemma", {}, "prisoner's dilemma"),
    ("battle_of_the_sexes", {}, "battle of the sexes"),
    ("cournot", {"n_firms": 2}, "Cournot duopoly"),
    ("bank_run", {}, "bank run"),
    # fully observed so that every learner, the centralised one included, runs on the same game
    ("portfolio", {"n_agents": 2, "n_periods": 2, "observation": "full"}, "team portfolio"),
)
QUICK_SCENARIOS = ("matching_pennies", "prisoners_dilemma", "bank_run", "portfolio")
#: Seeds per (scenario, algorithm): five in quick runs too, the fewest from which figures draw
#: t-intervals (:data:`gametools.plotting.MIN_SEEDS_FOR_INTERVAL`).
QUICK_SEEDS, FULL_SEEDS = 5, 5

_QUICK = {"total_steps": 2048, "num_envs": 32, "eval_interval": 1024, "checkpoint_interval": 0}
_FULL = {"total_steps": 40_960, "num_envs": 32, "eval_interval": 4096,
         "checkpoint_interval": 8192}
_PER_ALGORITHM: dict[str, dict[str, Any]] = {
    "mappo": {"learning_rate": 3e-3}, "ippo": {"learning_rate": 3e-3},
    "central": {"learning_rate": 3e-3},
    "maddpg": {"learning_starts": 256, "batch_size": 64, "updates_per_iteration": 2},
    "qmix": {"learning_starts": 256, "batch_size": 64, "epsilon_fraction": 0.3,
             "updates_per_iteration": 4},
    "iql": {"learning_starts": 256, "batch_size": 64, "epsilon_fraction": 0.3,
            "updates_per_iteration": 4},
}


def budget(algorithm: str, *, quick: bool) -> dict[str, Any]:
    """Config overrides (``make_config(algorithm, **budget(...))``) for a quick or full run."""
    if algorithm not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {algorithm!r}; available: {', '.join(ALGORITHMS)}")
    return {**(_QUICK if quick else _FULL), **_PER_ALGORITHM.get(algorithm, {})}


# ------------------------------------------------------------------------------------------
# which learner can run on which game
# ------------------------------------------------------------------------------------------

def _as_markov(game: NormalFormGame | MarkovGame) -> MarkovGame:
    return game.to_markov_game() if isinstance(game, NormalFormGame) else game


def _cooperative(game: MarkovGame, *, tol: float = 1e-12) -> bool:
    rewards = game.rewards
    return bool(np.all(np.abs(rewards - rewards[:1]) <= tol * (1 + np.abs(rewards).max())))


def _fully_observed(game: MarkovGame) -> bool:
    return all(len(np.unique(row)) == game.num_states for row in game.observations)


def valid_algorithm(algorithm: str, game: NormalFormGame | MarkovGame) -> bool:
    """Whether ``algorithm`` can train on ``game``.

    Team learners (``requires_cooperative``) need identical rewards; the centralised learner's
    per-agent view of its joint policy also needs every agent to observe the state.
    """
    markov = _as_markov(game)
    if learner_class(algorithm).requires_cooperative and not _cooperative(markov):
        return False
    return not (algorithm == "central" and not _fully_observed(markov))


# ------------------------------------------------------------------------------------------
# equilibria and distances
# ------------------------------------------------------------------------------------------

def _lift(markov: MarkovGame, strategies: Sequence[np.ndarray]) -> tuple[np.ndarray, ...]:
    """Normal-form strategies ``(n_i,)`` as policies ``(O_i, n_i)`` of the one-shot Markov game."""
    return tuple(np.tile(np.asarray(s, dtype=float), (o, 1))
                 for s, o in zip(strategies, markov.num_observations))


def _profile_label(game: NormalFormGame, strategies: Sequence[np.ndarray], *,
                   tol: float = 1e-9) -> str | None:
    """``"a/b"`` (action labels) for a pure profile, None for a mixed one."""
    actions = []
    for player, strategy in enumerate(strategies):
        strategy = np.asarray(strategy, dtype=float)
        if strategy.max() < 1.0 - tol:
            return None
        actions.append(game.action_labels[player][int(np.argmax(strategy))])
    return "/".join(actions)


def normal_form_equilibria(game: NormalFormGame) -> list[tuple[str, tuple[np.ndarray, ...]]]:
    """Labelled equilibria of a normal-form game from the solvers.

    Two players: all extreme equilibria (vertex enumeration, exact and complete); more players:
    all pure equilibria. Pure profiles are labelled by their actions (``"stag/stag"``), mixed
    ones ``"mixed"`` (numbered when there are several).
    """
    method = "vertex" if game.num_players == 2 else "pure"
    result = solve(game, method=method, all_equilibria=True)
    labelled: list[tuple[str, tuple[np.ndarray, ...]]] = []
    mixed = [e for e in result.equilibria if _profile_label(game, e.strategies) is None]
    for equilibrium in result.equilibria:
        label = _profile_label(game, equilibrium.strategies)
        if label is None:
            label = "mixed" if len(mixed) == 1 else \
                f"mixed {[m is equilibrium for m in mixed].index(True) + 1}"
        labelled.append((label, tuple(np.asarray(s, dtype=float)
                                      for s in equilibrium.strategies)))
    return labelled


def equilibrium_candidates(scenario: str, params: Mapping[str, Any] | None = None, *,
                           game: NormalFormGame | MarkovGame | None = None
                           ) -> list[tuple[str, tuple[np.ndarray, ...]]]:
    """Labelled equilibrium profiles ``(O_i, n_i)`` on the Markov form of a scenario's game.

    Parameters
    ----------
    scenario : str
        A registered scenario name, or ``""`` when ``game`` is given directly.
    params : mapping, optional
        Scenario parameters.
    game : NormalFormGame or MarkovGame, optional
        The game (built from the scenario when absent).

    Returns
    -------
    list of (str, tuple of ndarray)
        Bank runs: the reference ``no_run``, ``run`` and (when it exists) ``mixed`` profiles;
        portfolio: the reference team-optimal profile (``team optimum``); normal-form games:
        :func:`normal_form_equilibria`; other Markov games: the default solver's equilibria.
    """
    params = dict(params or {})
    if game is None:
        game = get_scenario(scenario).build(**params)
    markov = _as_markov(game)
    if isinstance(game, NormalFormGame):
        return [(label, _lift(markov, strategies))
                for label, strategies in normal_form_equilibria(game)]
    if scenario == "bank_run":
        from games.bank_run import reference_profile
        from gametools.scenarios import ScenarioError

        found = []
        for name in ("no_run", "run", "mixed"):
            try:
                found.append((name.replace("_", "-"), reference_profile(game, equilibrium=name,
                                                                        **params)))
            except ScenarioError:  # no interior symmetric equilibrium for these parameters
                continue
        return found
    if scenario == "portfolio":
        from games.portfolio import reference_profile as portfolio_reference

        return [("team optimum", portfolio_reference(game, **params))]
    result = solve(game)
    return [(f"{result.method} {k + 1}" if len(result.equilibria) > 1 else result.method,
             tuple(np.asarray(s, dtype=float) for s in e.strategies))
            for k, e in enumerate(result.equilibria)]


def nearest_equilibrium(game: MarkovGame, profile: Sequence[Any],
                        candidates: Sequence[tuple[str, Sequence[Any]]]
                        ) -> tuple[str, float]:
    """Label of and distance to the candidate equilibrium closest to ``profile``."""
    if not candidates:
        raise ValueError("no candidate equilibria to compare with")
    distances = [(policy_distance(game, profile, eq), label) for label, eq in candidates]
    distance, label = min(distances, key=lambda pair: pair[0])
    return label, distance


# ------------------------------------------------------------------------------------------
# the study
# ------------------------------------------------------------------------------------------

def _base_row(cell: Any) -> dict[str, Any]:
    return {"scenario": cell.scenario, "algorithm": cell.algorithm, "seed": int(cell.seed),
            "label": cell.label}


def train_and_measure(cell: Cell, out_dir: Path) -> list[dict[str, Any]]:
    """Call cell: train ``cell.algorithm`` on the scenario and measure the final profile.

    Returns one row: ``step``, ``nash_conv``, ``relative_nash_conv``, ``kind``, ``gain_i``,
    ``value_i``, ``distance`` and ``nearest_equilibrium`` (see the module docstring),
    ``num_equilibria``. Learning curves stay in ``out_dir/metrics.csv``.
    """
    params = dict(cell.params)
    game = get_scenario(cell.scenario).build(**params)
    markov = _as_markov(game)
    candidates = equilibrium_candidates(cell.scenario, params, game=game)
    result = train(cell.scenario, make_config(cell.algorithm, **dict(cell.config)),
                   algorithm=cell.algorithm, seed=int(cell.seed), params=params, out=out_dir,
                   resume=True)
    _, profile, report = result.nash_report()
    label, distance = nearest_equilibrium(markov, profile, candidates)
    row = _base_row(cell)
    row.update({"step": int(result.steps), "nash_conv": float(report.nash_conv),
                "relative_nash_conv": float(report.nash_conv)
                / (markov.num_players * max(reward_range(markov), 1e-300)),
                "kind": report.kind})
    row.update({f"gain_{i}": float(g) for i, g in enumerate(report.per_player)})
    row.update({f"value_{i}": float(v) for i, v in enumerate(report.values)})
    row.update({"distance": distance, "nearest_equilibrium": label,
                "num_equilibria": len(candidates)})
    return [row]


def cells(quick: bool) -> list[Cell]:
    """Every valid (scenario, algorithm) pair, ``QUICK_SEEDS`` or ``FULL_SEEDS`` seeds each."""
    grid = []
    seeds = range(QUICK_SEEDS if quick else FULL_SEEDS)
    for scenario, params, label in SCENARIOS:
        if quick and scenario not in QUICK_SCENARIOS:
            continue
        game = get_scenario(scenario).build(**params)
        for algorithm in ALGORITHMS:
            if not valid_algorithm(algorithm, game):
                continue
            for seed in seeds:
                grid.append(Cell(task="call", scenario=scenario, algorithm=algorithm, seed=seed,
                                 params=dict(params), config=budget(algorithm, quick=quick),
                                 function="analyses.algorithms:train_and_measure", label=label))
    return grid


def _final_rows(rows: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [row for row in rows if str(row.get("nash_conv", "")) not in ("", "nan")]


def summarize(rows: Sequence[Mapping[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Table ``exploitability``: per scenario and algorithm, mean and 95% interval across seeds."""
    from gametools.plotting import mean_interval

    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for row in _final_rows(rows):
        groups.setdefault((str(row.get("label") or row["scenario"]), str(row["algorithm"])),
                          []).append(row)
    table = []
    for (scenario, algorithm), members in sorted(groups.items()):
        entry: dict[str, Any] = {"scenario": scenario, "algorithm": algorithm,
                                 "seeds": len(members)}
        for metric in ("nash_conv", "relative_nash_conv", "distance"):
            values = [float(m[metric]) for m in members if str(m.get(metric, "")) != ""]
            # all three are >= 0: the interval is clipped to the metric's range
            mean, low, high = mean_interval(values, bounds=(0.0, None))
            entry.update({f"{metric}_mean": mean, f"{metric}_low": low,
                          f"{metric}_high": high})
        nearest = [str(m.get("nearest_equilibrium", "")) for m in members]
        entry["nearest_equilibrium"] = max(set(nearest), key=nearest.count)
        table.append(entry)
    return {"exploitability": table}


def figures(rows: Sequence[Mapping[str, Any]], out: Path) -> list[Path]:
    """Heatmaps of relative NashConv and of the distance to the nearest equilibrium."""
    import matplotlib.pyplot as plt

    from gametools.plotting import paper_style, plot_heatmap_with_intervals, save_figure

    final = [dict(row, scenario=row.get("label") or row["scenario"])
             for row in _final_rows(rows)]
    written: list[Path] = []
    if not final:
        return written
    n_rows = len({row["scenario"] for row in final})
    n_columns = len({row["algorithm"] for row in final})
    with paper_style():
        for metric, colorbar, title in (
                ("relative_nash_conv", "NashConv / (N x reward range)",
                 "Final relative NashConv"),
                ("distance", "L1 distance", "Distance to the nearest equilibrium")):
            fig, ax = plt.subplots(figsize=(1.0 + 0.9 * n_columns, 0.8 + 0.45 * n_rows))
            plot_heatmap_with_intervals(final, metric=metric, colorbar_label=colorbar,
                                        rows_order=[label for _, _, label in SCENARIOS],
                                        columns_order=list(ALGORITHMS), bounds=(0.0, None),
                                        ax=ax)
            ax.set_title(f"{title} across seeds: mean [interval], n seeds")
            written += save_figure(fig, Path(out) / f"algorithms_{metric}")
            plt.close(fig)
    return written


STUDY = Study(
    name="algorithms",
    description="Final exploitability and distance to the nearest equilibrium of every MARL "
                "algorithm on every small scenario.",
    cells=cells, figures=figures, summarize=summarize)
