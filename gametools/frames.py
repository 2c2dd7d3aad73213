"""Results as pandas DataFrames (tidy: one row per observation), for analysis in the ecosystem.

pandas is optional (``pip install 'gametools[frames]'``); :func:`to_frame` imports it when
called and raises :class:`~gametools.optional.MissingDependencyError` naming the extra when it is
absent. The result types call it from their ``to_frame()`` methods:

- :class:`~gametools.solvers.result.SolverResult`: one row per (equilibrium, player): the
  equilibrium's index, the player's label, payoff, the strategy (a list; per observation for a
  Markov game), its support size, the equilibrium's regret and whether it is exact;
- :class:`~gametools.exploitability.ExploitabilityResult`: one row per player: value, best
  response value, gain and its kind;
- :class:`~gametools.studies.StudyResult`: the rows of ``results.csv``;
- :class:`~gametools.marl.train.TrainResult`: the metrics, one row per evaluation point.

>>> import pytest; _ = pytest.importorskip("pandas")
>>> from gametools import NormalFormGame, nash_conv
>>> game = NormalFormGame.zero_sum([[1, -1], [-1, 1]])
>>> frame = nash_conv(game, ([1.0, 0.0], [1.0, 0.0])).to_frame()
>>> frame[["player", "gain"]].to_dict("records")
[{'player': 0, 'gain': 0.0}, {'player': 1, 'gain': 2.0}]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gametools.optional import require

__all__ = ["to_frame"]


def to_frame(result: Any) -> Any:
    """``result`` as a tidy :class:`pandas.DataFrame` (see the module docstring for the columns).

    Raises
    ------
    MissingDependencyError
        Without pandas (``pip install 'gametools[frames]'``).
    TypeError
        For an object that is not one of the result types above.
    """
    pandas = require("pandas", extra="frames")
    kind = type(result).__name__
    if kind == "SolverResult":
        return pandas.DataFrame(_solver_rows(result))
    if kind == "ExploitabilityResult":
        return pandas.DataFrame({
            "player": np.arange(len(result.per_player)),
            "value": np.asarray(result.values, dtype=float),
            "best_response_value": np.asarray(result.best_response_values, dtype=float),
            "gain": np.asarray(result.per_player, dtype=float),
            "kind": list(result.per_player_kind)})
    if kind == "StudyResult":
        return pandas.DataFrame(list(result.rows))
    if kind == "TrainResult":
        return pandas.DataFrame(list(result.metrics))
    raise TypeError(f"to_frame accepts SolverResult, ExploitabilityResult, StudyResult or "
                    f"TrainResult, got {kind}")


def _solver_rows(result: Any) -> list[dict[str, Any]]:
    rows = []
    for k, equilibrium in enumerate(result.equilibria):
        for i, strategy in enumerate(equilibrium.strategies):
            array = np.asarray(strategy, dtype=float)
            rows.append({"equilibrium": k, "player": i, "payoff": float(equilibrium.payoffs[i]),
                         "strategy": array.tolist(),
                         "support_size": int(np.count_nonzero(array > 1e-9)),
                         "regret": float(equilibrium.regret), "exact": equilibrium.exact,
                         "method": result.method, "status": result.status})
    return rows
