"""Oligopoly and bank-run scenarios against their published closed forms."""

from __future__ import annotations

import numpy as np
import pytest

from games.bank_run import build as bank_run
from games.bank_run import reference as bank_reference
from games.bank_run import reference_profile
from games.bank_run import summarize as bank_summary
from games.oligopoly import (
    bertrand,
    bertrand_reference,
    cournot,
    cournot_reference,
    price_grid,
    quantity_grid,
    summarize_cournot,
)
from gametools import nash_conv, state_values
from gametools.solvers.pure import pure_equilibria


def pure(grid: np.ndarray, value: float, players: int, rows: int = 0) -> tuple[np.ndarray, ...]:
    k = int(np.argmin(np.abs(grid - value)))
    strategy = np.eye(len(grid))[k]
    return tuple(np.tile(strategy, (rows, 1)) if rows else strategy for _ in range(players))


@pytest.mark.parametrize("n_firms, a, c, quantity", [
    (2, 100.0, 10.0, 30.0),   # REFERENCES.md: a=100, b=1, c=10, n=2 -> q=30, P=40, profit 900
    (3, 90.0, 10.0, 20.0),    # second set: (90 - 10) / 4 = 20
])
def test_cournot_closed_form_is_the_grid_equilibrium(n_firms, a, c, quantity) -> None:
    game = cournot(n_firms=n_firms, a=a, c=c, quantity_step=5.0, max_quantity=60.0)
    reference = cournot_reference(n_firms=n_firms, a=a, c=c)
    assert reference["quantity"] == pytest.approx(quantity)
    profile = pure(quantity_grid(quantity_step=5.0, max_quantity=60.0), quantity, n_firms)
    assert nash_conv(game, profile).nash_conv == pytest.approx(0.0, abs=1e-9)
    summary = summarize_cournot(game, profile, n_firms=n_firms, a=a, c=c)
    assert summary["price"] == pytest.approx(reference["price"])
    assert summary["profit"] == pytest.approx([reference["profit"]] * n_firms)
    # and it is the only symmetric pure equilibrium on the grid
    found = pure_equilibria(game)
    symmetric = [e for e in found.equilibria
                 if len({int(np.argmax(s)) for s in e.strategies}) == 1]
    assert len(symmetric) == 1


def test_cournot_grid_error_shrinks_when_the_grid_is_refined() -> None:
    # distance from the closed form q = 30 to the nearest pure equilibrium of the grid game; by
    # hand: step 9 has (27, 27) (27 and 36 tie as best replies), step 4 has (28, 32) but no
    # symmetric one, step 2 contains (30, 30)
    errors = []
    for step in (9.0, 4.0, 2.0):
        grid = quantity_grid(quantity_step=step, max_quantity=60.0)
        found = pure_equilibria(cournot(quantity_step=step, max_quantity=60.0))
        errors.append(min(max(abs(grid[int(np.argmax(s))] - 30.0) for s in e.strategies)
                          for e in found.equilibria))
    assert errors == pytest.approx([3.0, 2.0, 0.0])


def test_markov_demand_cournot_values() -> None:
    # REFERENCES.md [C]: intercepts 80/120, chain [[0.8, 0.2], [0.3, 0.7]], c = 10, discount 0.9,
    # static Cournot in each state: V = (I - 0.9 P)^-1 pi = (8062.626, 9517.172). The grid step
    # 10/3 contains both static quantities 70/3 and 110/3.
    game = cournot(markov_demand=True, quantity_step=10 / 3, max_quantity=50.0)
    grid = quantity_grid(quantity_step=10 / 3, max_quantity=50.0)
    policy = np.zeros((2, len(grid)))
    policy[0, int(np.argmin(np.abs(grid - 70 / 3)))] = 1.0
    policy[1, int(np.argmin(np.abs(grid - 110 / 3)))] = 1.0
    profile = (policy, policy)
    assert nash_conv(game, profile).nash_conv == pytest.approx(0.0, abs=1e-6)
    assert state_values(game, profile)[0] == pytest.approx([8062.626, 9517.172], abs=1e-3)
    assert cournot_reference(markov_demand=True)["values"] == pytest.approx(
        [8062.626, 9517.172], abs=1e-3)


@pytest.mark.parametrize("params, price", [
    ({}, 40.0),  # REFERENCES.md [D]: alpha=100, beta=2, gamma=0.5, c=10, n=3 -> p = 40
    ({"n_firms": 2, "alpha": 60.0, "beta": 1.0, "gamma": 0.5, "c": 10.0}, 140.0 / 3),
])
def test_bertrand_closed_form(params, price) -> None:
    # second set by hand: p = (60 + 10) / (2 - 0.5) = 46.67
    reference = bertrand_reference(**params)
    assert reference["price"] == pytest.approx(price)
    errors = []
    for step in (5.0, 2.5, 1.0):
        game = bertrand(price_step=step, max_price=80.0, **params)
        profile = pure(price_grid(price_step=step, max_price=80.0), price,
                       params.get("n_firms", 3))
        errors.append(nash_conv(game, profile).nash_conv)
    if price == 40.0:
        assert errors == pytest.approx([0.0, 0.0, 0.0], abs=1e-9)  # 40 is on every grid
    else:
        assert errors[-1] <= errors[0]  # 46.67 is on none: the error shrinks with the grid


def test_bank_run_contract_and_equilibria() -> None:
    # REFERENCES.md "Bank runs": CRRA 2, R = 2, 25% impatient: c1 = 1.281509, c2 = 1.812327;
    # threshold (R - r1) / (r1 (R - 1)) = 0.560660; 4 deposits, 1 impatient, 3 patient players:
    # all-wait pays 1.8123 each, all-withdraw 1.0 each, symmetric mixed withdraws w.p. 0.530954.
    reference = bank_reference()
    assert reference["c1"] == pytest.approx(1.281509, abs=1e-6)
    assert reference["c2"] == pytest.approx(1.812327, abs=1e-6)
    assert reference["run_threshold"] == pytest.approx(0.560660, abs=1e-6)
    # our exact root of the stated model is 0.5309286; REFERENCES.md prints 0.530954 (they agree
    # to 3e-5, i.e. to the four digits the rounded contract supports)
    assert reference["mixed_withdrawal_probability"] == pytest.approx(0.530954, abs=1e-4)
    game = bank_run()
    for equilibrium, payoff in (("no_run", 1.812327), ("run", 1.0)):
        profile = reference_profile(game, equilibrium=equilibrium)
        result = nash_conv(game, profile)
        assert result.nash_conv == pytest.approx(0.0, abs=1e-12)
        assert result.values == pytest.approx([payoff] * 3, abs=1e-6)
    mixed = reference_profile(game, equilibrium="mixed")
    assert nash_conv(game, mixed).nash_conv == pytest.approx(0.0, abs=1e-9)
    summary = bank_summary(game, mixed)
    assert summary["run_probability"] == pytest.approx(reference[
        "mixed_withdrawal_probability"] ** 3)
    # a lone deviation from no-run: withdrawing early pays c1 < c2 (waiting is a best response)
    deviation = (np.array([[1.0, 0.0]]),) + reference_profile(game, equilibrium="no_run")[1:]
    assert nash_conv(game, deviation).per_player[0] == pytest.approx(1.812327 - 1.281509,
                                                                      abs=1e-6)


def test_bank_run_with_private_liquidity_shocks_is_evaluated_exactly() -> None:
    game = bank_run(shock_probability=0.2)
    result = nash_conv(game, reference_profile(game, equilibrium="run"))
    assert result.kind == "exact" and result.nash_conv == pytest.approx(0.0, abs=1e-12)
