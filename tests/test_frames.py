"""Results as pandas DataFrames (`to_frame()`); pandas is optional."""

from __future__ import annotations

import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest

from gametools import NormalFormGame, nash_conv
from gametools.solvers import solve

pd = pytest.importorskip("pandas", reason="pandas is optional (pip install 'gametools[frames]')")


def test_solver_result_frame_has_one_row_per_equilibrium_and_player() -> None:
    # von Stengel's 3x2 game (von Stengel 2007, AGT ch. 3): three equilibria, payoffs (3, 3),
    # (3, 14/5), (4, 8/3)
    game = NormalFormGame.from_bimatrix([[3, 3], [2, 5], [0, 6]], [[3, 2], [2, 6], [3, 1]])
    frame = solve(game, all_equilibria=True).to_frame()
    assert len(frame) == 6
    payoffs = sorted(tuple(group.sort_values("player")["payoff"])
                     for _, group in frame.groupby("equilibrium"))
    expected = sorted([(3.0, 3.0), (3.0, float(Fraction(14, 5))), (4.0, float(Fraction(8, 3)))])
    assert np.allclose(payoffs, expected)
    assert set(frame["support_size"]) == {1, 2}
    assert (frame["regret"] == 0).all() and frame["exact"].all()


def test_exploitability_frame_rows_are_the_per_player_gains() -> None:
    # prisoner's dilemma (3, 5, 0, 1) at mutual cooperation: each player gains T - R = 2
    game = NormalFormGame.from_bimatrix([[3, 0], [5, 1]], [[3, 5], [0, 1]])
    frame = nash_conv(game, ([1.0, 0.0], [1.0, 0.0])).to_frame()
    assert frame["gain"].tolist() == [2.0, 2.0]
    assert frame["kind"].tolist() == ["exact", "exact"]


def test_without_pandas_the_error_names_the_extra() -> None:
    code = ("import sys\n"
            "from importlib.abc import MetaPathFinder\n"
            "class NoPandas(MetaPathFinder):\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name == 'pandas' or name.startswith('pandas.'):\n"
            "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
            "sys.meta_path.insert(0, NoPandas())\n"
            "from gametools import NormalFormGame, nash_conv\n"
            "game = NormalFormGame.zero_sum([[1, -1], [-1, 1]])\n"
            "try:\n"
            "    nash_conv(game, ([1.0, 0.0], [1.0, 0.0])).to_frame()\n"
            "except ImportError as error:\n"
            "    print(error)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, check=False)
    assert "pip install 'gametools[frames]'" in result.stdout, result.stderr
