"""All pure-strategy Nash equilibria of an N-player normal-form game, by vectorised enumeration.

Definitions
-----------
A pure profile ``a = (a_1, ..., a_N)`` is a Nash equilibrium when no player gains by a unilateral
deviation: ``u_i(a) >= max_b u_i(b, a_-i)`` for every player ``i``. With the payoff tensor
``payoffs`` of shape ``(N, n_1, ..., n_N)``, player ``i``'s best-response payoff against every
``a_-i`` is ``payoffs[i].max(axis=i)``, so the set of equilibria is the conjunction over players
of ``payoffs[i] >= payoffs[i].max(axis=i, keepdims=True)`` — no loop over profiles.
With ``tol > 0`` a profile is kept when every player's deviation gain is at most
``tol * payoff_range()`` (an epsilon-equilibrium in the units of :class:`Equilibrium.regret`).

Exact games (integer or rational payoffs) are compared in exact integer arithmetic (each
player's payoffs scaled by the common denominator), so distinct rationals never merge.

The joint-action space is scanned in slabs along the first player's axis, so the memory beyond
the payoff tensor itself is one slab plus player 0's best-response table
(``prod(n) / n_1`` entries).

References
----------
- J. Nash, "Non-cooperative games", Annals of Mathematics 54 (1951) 286-295.
- QuantEcon.py ``game_theory.pure_nash_brute`` (the profile-by-profile loop replaced here).

Examples
--------
>>> from gametools import NormalFormGame
>>> from gametools.solvers.pure import pure_equilibria
>>> dilemma = NormalFormGame.from_bimatrix([[3, 0], [5, 1]], [[3, 5], [0, 1]])
>>> result = pure_equilibria(dilemma)
>>> result.extra["profiles"], result.complete, result.exact
([(1, 1)], True, True)
>>> len(pure_equilibria(NormalFormGame.zero_sum([[1, -1], [-1, 1]])).equilibria)
0
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from fractions import Fraction
from typing import Any

import numpy as np

from gametools.errors import GameValidationError
from gametools.interop import as_game
from gametools.model import NormalFormGame
from gametools.numerics import integer_array, narrow_integers
from gametools.solvers.result import Equilibrium, SolverResult

__all__ = ["SLAB_ENTRIES", "pure_equilibria", "pure_equilibria_gen"]

#: Joint profiles examined per slab (bounds the temporary memory of the scan).
SLAB_ENTRIES = 1 << 22


def _comparable_payoffs(game: NormalFormGame, exact: bool) -> np.ndarray:
    """Payoffs in a dtype where ``>=`` is exact: scaled integers for exact games, else floats."""
    if not exact:
        return game.payoffs
    assert game.payoffs_exact is not None
    # each player's payoffs over its own common denominator (keeps its comparisons)
    players = [narrow_integers(integer_array(game.payoffs_exact[i])[0])
               for i in range(game.num_players)]
    if all(p.dtype == np.int64 for p in players):
        return np.stack(players)
    return np.stack([p.astype(object) for p in players])


def _validate(game: Any, tol: float) -> NormalFormGame:
    game = as_game(game)
    if not isinstance(game, NormalFormGame):
        raise TypeError(f"pure_equilibria needs a NormalFormGame, got {type(game).__name__}")
    if not (np.isfinite(tol) and tol >= 0):
        raise GameValidationError("tol", "must be a finite number >= 0", None, tol)
    return game


def _equilibrium(game: NormalFormGame, profile: tuple[int, ...], regret: float,
                 exact: bool) -> Equilibrium:
    strategies = []
    for n, action in zip(game.num_actions, profile):
        x = np.zeros(n)
        x[action] = 1.0
        x.flags.writeable = False
        strategies.append(x)
    index: tuple[Any, ...] = (slice(None), *profile)
    payoffs = game.payoffs[index].copy()
    payoffs.flags.writeable = False
    if not exact:
        return Equilibrium(tuple(strategies), payoffs, regret)
    assert game.payoffs_exact is not None
    strategies_exact = tuple(tuple(Fraction(int(k == action)) for k in range(n))
                             for n, action in zip(game.num_actions, profile))
    payoffs_exact = tuple(Fraction(v) for v in game.payoffs_exact[index])
    return Equilibrium(tuple(strategies), payoffs, regret, strategies_exact, payoffs_exact)


def pure_equilibria_gen(game: Any, *, tol: float = 0.0) -> Iterator[Equilibrium]:
    """Yield every pure Nash equilibrium, in lexicographic order of the action profiles.

    Parameters
    ----------
    game : NormalFormGame or nashpy.Game
        Any number of players, payoffs of shape ``(N, n_1, ..., n_N)``.
    tol : float, default 0.0
        Largest deviation gain allowed, relative to ``game.payoff_range()``. With ``tol == 0`` and
        exact payoffs the comparison is exact and every equilibrium carries
        ``strategies_exact``.

    Yields
    ------
    Equilibrium
        Degenerate (one-hot) strategies ``(n_i,)``; ``regret`` the relative deviation gain.
    """
    game = _validate(game, tol)
    yield from _scan(game, tol)


def _scan(game: NormalFormGame, tol: float) -> Iterator[Equilibrium]:
    exact = game.is_exact and tol == 0.0
    values = _comparable_payoffs(game, exact)
    players = game.num_players
    spread = game.payoff_range()
    slack: Any = 0 if exact else tol * spread
    # player 0 deviates along axis 0, which the slabs cut: its best responses are tabulated once
    best_first = values[0].max(axis=0)
    first_axis = game.num_actions[0]
    per_action = max(1, values[0][0].size)
    step = max(1, SLAB_ENTRIES // per_action)
    for low in range(0, first_axis, step):
        high = min(first_axis, low + step)
        gain = best_first[None] - values[0, low:high]
        keep = gain <= slack
        worst = gain.astype(float) if not exact else None
        for i in range(1, players):
            if not keep.any():
                break
            slab = values[i, low:high]
            gain_i = slab.max(axis=i, keepdims=True) - slab
            keep &= gain_i <= slack
            if worst is not None:
                np.maximum(worst, gain_i.astype(float), out=worst)
        for index in np.argwhere(keep):
            profile = (int(index[0]) + low, *(int(k) for k in index[1:]))
            regret = 0.0 if worst is None else max(0.0, float(worst[tuple(index)])) / spread
            yield _equilibrium(game, profile, regret, exact)


def pure_equilibria(game: Any, *, tol: float = 0.0) -> SolverResult:
    """All pure Nash equilibria of an N-player normal-form game.

    Parameters
    ----------
    game : NormalFormGame or nashpy.Game
        Any number of players, payoffs of shape ``(N, n_1, ..., n_N)``.
    tol : float, default 0.0
        Largest deviation gain allowed, relative to ``game.payoff_range()`` (0: exact Nash).

    Returns
    -------
    SolverResult
        ``equilibria`` in lexicographic profile order, ``complete=True`` (the enumeration is
        exhaustive; an empty tuple means the game has no pure equilibrium), ``exact`` when the
        payoffs are exact and ``tol == 0``; ``extra["profiles"]`` lists the action tuples.

    Examples
    --------
    >>> from gametools import NormalFormGame
    >>> sexes = NormalFormGame.from_bimatrix([[3, 0], [0, 2]], [[2, 0], [0, 3]])
    >>> pure_equilibria(sexes).extra["profiles"]
    [(0, 0), (1, 1)]
    """
    game = _validate(game, tol)
    found = tuple(_scan(game, tol))
    profiles = [tuple(int(np.flatnonzero(x)[0]) for x in e.strategies) for e in found]
    exact = game.is_exact and tol == 0.0
    message = f"{len(found)} pure equilibria" + ("" if tol == 0.0 else f" (tol={tol})")
    return SolverResult(found, "pure", "success", True, exact, None,
                        math.prod(game.num_actions), message, extra={"profiles": profiles})
