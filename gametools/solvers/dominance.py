"""Iterated elimination of strictly dominated strategies (IESDS), N players.

Definitions
-----------
Action ``a`` of player ``i`` is *strictly dominated* (against the opponents' surviving actions)
when some strategy ``s`` of ``i`` that does not use ``a`` earns strictly more than ``a`` against
every surviving opponent profile: by a pure action (``s`` a single action) or, with ``mixed=True``,
by a mixed strategy (found by the linear program ``max eps s.t. s . U >= U_a + eps``, ``s`` on the
simplex). Removing strictly dominated actions never removes a Nash equilibrium, and the result of
iterating to a fixed point does not depend on the order of removal (Gilboa, Kalai, Zemel 1990).

Exact games (integer / rational payoffs) are decided in exact arithmetic: pure domination
directly, mixed domination by checking the LP's strategy after rounding it to rationals, so an
action is removed only with an exact proof. Float games use the margin ``> tol``.

Examples
--------
>>> from gametools import NormalFormGame
>>> from gametools.solvers.dominance import iterated_elimination
>>> dilemma = NormalFormGame.from_bimatrix([[3, 0], [5, 1]], [[3, 5], [0, 1]])
>>> reduced, surviving = iterated_elimination(dilemma)
>>> [s.tolist() for s in surviving], reduced.num_actions
([[1], [1]], (1, 1))
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np
from scipy.optimize import linprog

from gametools.interop import as_game
from gametools.model import NormalFormGame

__all__ = ["iterated_elimination"]


def _payoff_rows(tensor: np.ndarray, player: int) -> np.ndarray:
    """Player's payoffs as ``(n_i, K)``: own action by flattened opponents' profile."""
    return np.moveaxis(tensor, player, 0).reshape(tensor.shape[player], -1)


def _pure_dominated(rows: np.ndarray, exact: np.ndarray | None, tol: float) -> np.ndarray:
    """Mask of actions strictly dominated by another pure action."""
    if exact is not None:
        better = np.array([[all(x > y for x, y in zip(b, a)) for a in exact] for b in exact],
                          dtype=bool)
    else:
        better = ((rows[:, None, :] - rows[None, :, :]) > tol).all(axis=2)  # [b, a]
    np.fill_diagonal(better, False)
    return np.asarray(better.any(axis=0), dtype=bool)


def _mixed_dominated(rows: np.ndarray, exact: np.ndarray | None, action: int,
                     alive: np.ndarray, tol: float) -> bool:
    """Whether ``action`` is strictly dominated by a mixture of the other ``alive`` actions."""
    others = np.flatnonzero(alive & (np.arange(len(alive)) != action))
    if len(others) < 2:
        return False
    spread = float(np.ptp(rows)) or 1.0
    u = rows[others] / spread
    target = rows[action] / spread
    count, profiles = u.shape
    # variables (s_1..s_k, eps): maximise eps s.t. -s.U + eps <= -U_a, sum s = 1
    cost = np.zeros(count + 1)
    cost[-1] = -1.0
    result = linprog(cost, A_ub=np.hstack([-u.T, np.ones((profiles, 1))]), b_ub=-target,
                     A_eq=np.append(np.ones(count), 0.0)[None, :], b_eq=[1.0],
                     bounds=[(0, None)] * count + [(None, None)], method="highs")
    if result.status != 0 or -result.fun <= 0:
        return False
    weights = np.clip(result.x[:count], 0.0, None)
    if exact is not None:
        for limit in (10 ** 6, 10 ** 12):
            rational = [Fraction(float(w)).limit_denominator(limit) for w in weights]
            total = sum(rational)
            if total == 0:
                continue
            rational = [w / total for w in rational]
            mixed = [sum((w * exact[o][k] for w, o in zip(rational, others)), Fraction(0))
                     for k in range(profiles)]
            if all(v > t for v, t in zip(mixed, exact[action])):
                return True
        return False
    weights = weights / weights.sum()
    margin = float((weights @ rows[others] - rows[action]).min())
    return margin > tol


def iterated_elimination(game: Any, *, mixed: bool = True, tol: float = 0.0
                         ) -> tuple[NormalFormGame, tuple[np.ndarray, ...]]:
    """Remove strictly dominated actions of every player until none is left.

    Parameters
    ----------
    game : NormalFormGame (any number of players) or nashpy.Game
    mixed : bool
        Also remove actions dominated by mixed strategies (one LP per action and round, HiGHS).
    tol : float
        Float games only: an action is removed when it is beaten by more than ``tol`` against
        every surviving opponent profile. Exact games are decided exactly.

    Returns
    -------
    reduced : NormalFormGame
        The game restricted to the surviving actions (exact payoffs kept; labels kept).
    surviving : tuple of ndarray of int
        For each player, the surviving ORIGINAL action indices, ascending, shapes ``(n_i',)``.
    """
    game = as_game(game)
    if not isinstance(game, NormalFormGame):
        raise TypeError(f"iterated_elimination needs a NormalFormGame, got {type(game).__name__}")
    if tol < 0:
        raise ValueError(f"tol must be >= 0, got {tol}")
    alive = [np.ones(n, dtype=bool) for n in game.num_actions]
    changed = True
    while changed:
        changed = False
        for player in range(game.num_players):
            index = np.ix_(*[np.flatnonzero(mask) for mask in alive])
            rows_all = _payoff_rows(game.payoffs[player][index], player)
            exact_all = None if game.payoffs_exact is None else \
                _payoff_rows(game.payoffs_exact[player][index], player).tolist()
            survivors = np.flatnonzero(alive[player])
            dominated = _pure_dominated(rows_all, exact_all, tol)
            if mixed and not dominated.any():
                local_alive = np.ones(len(survivors), dtype=bool)
                for action in range(len(survivors)):
                    if _mixed_dominated(rows_all, exact_all, action, local_alive, tol):
                        dominated[action] = True
                        break  # remove one and re-derive: other mixtures may have used it
            if dominated.any():
                alive[player][survivors[dominated]] = False
                changed = True
    surviving = tuple(np.flatnonzero(mask) for mask in alive)
    index = np.ix_(*surviving)
    payoffs: Any = game.payoffs_exact if game.payoffs_exact is not None else game.payoffs
    reduced = NormalFormGame(
        np.stack([payoffs[i][index] for i in range(game.num_players)]),
        player_labels=game.player_labels,
        action_labels=[[game.action_labels[i][a] for a in surviving[i]]
                       for i in range(game.num_players)],
        title=game.title)
    return reduced, surviving
