"""Listing scenarios and solving the non-learning ones must not import torch (it is only needed by
the simulators and the learners, and importing it costs seconds)."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import sys
from gametools.scenarios import available_scenarios
from gametools.solvers import solve
scenarios = available_scenarios()
assert 'kyle' in scenarios and 'first_price_auction' in scenarios
for name in ('kyle', 'first_price_auction', 'glosten_milgrom', 'cournot'):
    scenario = scenarios[name]
    params = scenario.resolve()
    game = scenario.builder(**params)
    if name != 'kyle':
        solve(game)
print('torch' in sys.modules)
"""


def test_listing_and_building_scenarios_does_not_import_torch() -> None:
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                         timeout=300, check=True)
    assert out.stdout.strip() == "False", out.stdout + out.stderr


def test_simulators_still_build_with_torch() -> None:
    from games.auctions import AuctionEnv
    from games.kyle import KyleEnv, simulator

    assert isinstance(simulator(num_envs=2, seed=0), KyleEnv)
    assert AuctionEnv.__name__ == "AuctionEnv"
