"""Polynomial enumeration of every isolated equilibrium of N-player games (solvers/enumpoly.py)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from gametools import NormalFormGame
from gametools.errors import GameValidationError
from gametools.solvers import default_method, solve
from gametools.solvers.enumpoly import polynomial_enumeration


def _game(cells: dict[tuple[int, ...], tuple[int, ...]], shape: tuple[int, ...]) -> NormalFormGame:
    payoffs = np.zeros((len(shape), *shape), dtype=int)
    for profile, values in cells.items():
        payoffs[(slice(None), *profile)] = values
    return NormalFormGame(payoffs)


def _gambit_order(rows: list[tuple[int, ...]], shape: tuple[int, ...]) -> NormalFormGame:
    """A game from payoff rows in Gambit's .nfg order (first player's action varies fastest)."""
    payoffs = np.zeros((len(shape), *shape), dtype=int)
    for k, values in enumerate(rows):
        profile = np.unravel_index(k, shape, order="F")
        payoffs[(slice(None), *profile)] = values
    return NormalFormGame(payoffs)


def _regret(game: NormalFormGame, strategies: list[np.ndarray]) -> float:
    """Largest deviation gain in plain float arithmetic, independent of the solver."""
    worst = 0.0
    for i, u in enumerate(game.action_payoffs(strategies)):
        worst = max(worst, float(u.max() - u @ strategies[i]))
    return worst


# McKelvey and McLennan (1997): the 2x2x2 game of Gambit's collection (contrib/games/2x2x2.nfg,
# "with 9 Nash equilibria, 2 totally mixed"); payoffs as in that file.
MCKELVEY_MCLENNAN = _gambit_order(
    [(9, 8, 12), (0, 0, 0), (0, 0, 0), (9, 8, 2), (0, 0, 0), (3, 4, 6), (3, 4, 6), (0, 0, 0)],
    (2, 2, 2))


def test_mckelvey_mclennan_nine_equilibria_two_totally_mixed() -> None:
    result = polynomial_enumeration(MCKELVEY_MCLENNAN)
    assert result.status == "success" and result.complete and result.method == "enumpoly"
    assert len(result.equilibria) == 9  # McKelvey and McLennan (1997); Gambit's file title
    totally_mixed = [e for e in result.equilibria if all((x > 0).all() for x in e.strategies)]
    assert len(totally_mixed) == 2
    for equilibrium in result.equilibria:
        assert equilibrium.regret == 0.0  # exact rational certificate
        assert _regret(MCKELVEY_MCLENNAN, list(equilibrium.strategies)) < 1e-12
    # distinct profiles
    keys = {tuple(np.round(np.concatenate(e.strategies), 9)) for e in result.equilibria}
    assert len(keys) == 9


# Gambit 16.7.0's enumpoly_solve on shared/fixtures/gambit/t3_2x2x2.nfg finds one equilibrium,
# the pure ((1,0),(0,1),(0,1)); payoffs copied from that file (Gambit order).
T3 = _gambit_order([(4, 0, -1), (3, 9, 7), (0, 1, -4), (-4, -4, -7), (-8, -4, 0), (7, -8, -6),
                    (7, 4, 2), (-1, 7, -2)], (2, 2, 2))


def test_finds_the_irrational_equilibria_gambit_misses() -> None:
    result = polynomial_enumeration(T3)
    assert result.complete
    profiles = [tuple(np.round(np.concatenate(e.strategies), 9)) for e in result.equilibria]
    assert (1.0, 0.0, 0.0, 1.0, 0.0, 1.0) in profiles  # Gambit's one equilibrium
    irrational = result.extra["algebraic"]
    assert len(irrational) == 2 and len(result.equilibria) == 3
    for index, description in irrational.items():
        equilibrium = result.equilibria[index]
        assert all((x > 0.05).all() for x in equilibrium.strategies)  # totally mixed
        # an independent float check of the equilibrium conditions
        assert _regret(T3, list(equilibrium.strategies)) < 1e-12
        # irrational: the defining polynomial is a quadratic with a non-square discriminant
        a, b, c = (Fraction(v) for v in description["minimal_polynomial"])
        discriminant = b * b - 4 * a * c
        assert discriminant > 0
        numerator, denominator = discriminant.numerator, discriminant.denominator
        assert not (_is_square(numerator) and _is_square(denominator))
        assert equilibrium.strategies_exact is None


def _is_square(n: int) -> bool:
    import math
    return n >= 0 and math.isqrt(n) ** 2 == n


# Nau, Gomez Canovas and Hansen (2004), section 5 (Gambit's catalog sec5.nfg): "3 pure, 2
# incompletely mixed, and a continuum of completely mixed Nash equilibria".
NAU_SECTION_5 = _gambit_order([(0, 0, 2), (3, 0, 0), (0, 3, 0), (0, 0, 0), (1, 1, 0), (0, 0, 0),
                               (0, 0, 0), (0, 0, 3)], (2, 2, 2))


def test_degenerate_game_is_reported_incomplete_with_its_isolated_equilibria() -> None:
    result = polynomial_enumeration(NAU_SECTION_5)
    assert result.status == "success" and not result.complete
    pure = [e for e in result.equilibria if all(set(x.tolist()) <= {0.0, 1.0}
                                                for x in e.strategies)]
    assert len(pure) == 3 and len(result.equilibria) == 5  # Nau et al. (2004), section 5
    for equilibrium in result.equilibria:
        assert _regret(NAU_SECTION_5, list(equilibrium.strategies)) < 1e-12
    supports = [entry["supports"] for entry in result.extra["unresolved_supports"]]
    assert [[0, 1], [0, 1], [0, 1]] in supports  # the continuum of totally mixed equilibria
    assert "incomplete" in result.message


def test_pure_equilibria_match_the_pure_method() -> None:
    rng = np.random.default_rng(5)
    game = NormalFormGame(rng.integers(-3, 4, size=(3, 2, 3, 2)))
    result = polynomial_enumeration(game)
    pure = solve(game, method="pure")
    found = {tuple(np.concatenate(e.strategies)) for e in result.equilibria
             if all(set(x.tolist()) <= {0.0, 1.0} for x in e.strategies)}
    expected = {tuple(np.concatenate(e.strategies)) for e in pure.equilibria}
    # pure supports have no unknowns, so they are always decided, complete or not
    assert found == expected
    for equilibrium in result.equilibria:
        assert _regret(game, list(equilibrium.strategies)) < 1e-9


def test_four_players_and_the_time_budget() -> None:
    # a 2x2x2x2 game whose only equilibrium is totally mixed: matching pennies between players
    # 1 and 2 and between players 3 and 4 (hand-solved: everyone mixes 1/2)
    payoffs = np.zeros((4, 2, 2, 2, 2))
    for profile in np.ndindex(2, 2, 2, 2):
        a, b, c, d = profile
        payoffs[(slice(None), *profile)] = (1 if a == b else -1, -1 if a == b else 1,
                                             1 if c == d else -1, -1 if c == d else 1)
    game = NormalFormGame(payoffs)
    result = polynomial_enumeration(game)
    mixed = [e for e in result.equilibria if all(np.allclose(x, 0.5) for x in e.strategies)]
    assert len(mixed) == 1
    starved = polynomial_enumeration(game, support_seconds=1e-4)
    assert not starved.complete
    assert any("time budget" in entry["reason"]
               for entry in starved.extra["unresolved_supports"])


def test_solve_all_defaults_to_enumpoly_for_three_players() -> None:
    assert default_method(MCKELVEY_MCLENNAN, all_equilibria=True) == "enumpoly"
    assert default_method(NormalFormGame(np.zeros((3, 12, 12, 12))),
                          all_equilibria=True) == "pure"
    result = solve(MCKELVEY_MCLENNAN, all_equilibria=True)
    assert result.method == "enumpoly" and len(result.equilibria) == 9


def test_bad_options() -> None:
    with pytest.raises(GameValidationError):
        polynomial_enumeration(MCKELVEY_MCLENNAN, max_supports=0)
    with pytest.raises(GameValidationError):
        polynomial_enumeration(MCKELVEY_MCLENNAN, support_seconds=float("nan"))
