"""Shared pieces of the solvers: option checks, game checks and normal-form numerics.

Public for the solver modules (one definition each), not part of the user-facing API:

- option and game checks: :func:`positive_option`, :func:`positive_count`,
  :func:`normal_form_game`, :func:`require_sees_state` (raising :class:`NotFullyObservedError`);
- :func:`lift_to_observations`: a state-indexed solver's result on
  :func:`gametools.structure.state_game` turned into one on the game with observations;
- normal-form numerics of the path-following and learning solvers (logit, global Newton,
  learning dynamics): :func:`unit_payoffs`, :func:`payoff_blocks`, :func:`split_vector`,
  :func:`support_polish` (Newton's method on a support's Nash equations) and
  :func:`accept_polished` (the certificate of a polished profile).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from gametools.errors import InvalidArgumentError, UnsupportedGameError
from gametools.interop import as_game
from gametools.model import MarkovGame, NormalFormGame
from gametools.solvers.result import SolverResult, make_markov_equilibrium, max_regret
from gametools.structure import observation_policies, sees_state

__all__ = ["NotFullyObservedError", "accept_polished", "lift_to_observations",
           "normal_form_game", "payoff_blocks",
           "positive_count", "positive_option", "require_sees_state", "split_vector",
           "support_polish", "unit_payoffs"]


class NotFullyObservedError(UnsupportedGameError):
    """The solver needs every player to observe the state (one-to-one observations)."""


# ------------------------------------------------------------------------------------------
# option and game checks
# ------------------------------------------------------------------------------------------

def positive_count(name: str, value: int) -> int:
    """``value`` as an int, checked to be a positive integer (``InvalidArgumentError`` if not)."""
    if int(value) != value or value < 1:
        raise InvalidArgumentError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def require_sees_state(game: Any, solver: str) -> MarkovGame:
    """``game``, checked to be a Markov game in which every player sees the state.

    See :func:`gametools.structure.sees_state`. Solvers that compute state-indexed stationary
    policies need it; they lift their policies onto the observations with
    :func:`gametools.structure.observation_policies`.

    Raises
    ------
    TypeError
        When ``game`` is not a :class:`MarkovGame`.
    NotFullyObservedError
        Naming the first player whose observation is shared by two acting states.
    """
    if not isinstance(game, MarkovGame):
        raise TypeError(f"{solver} needs a MarkovGame, got {type(game).__name__}")
    for i in range(game.num_players):
        if not sees_state(game, i):
            raise NotFullyObservedError(
                f"{solver} computes state-dependent stationary policies and needs a fully "
                f"observed game, but player {i} observes the same observation id in several "
                "reachable non-terminal states; use a best-response bound from "
                "gametools.exploitability or a solver for imperfect information instead")
    return game


def lift_to_observations(game: MarkovGame, result: SolverResult) -> SolverResult:
    """``result`` (state-indexed policies, from :func:`gametools.structure.state_game`) with
    every equilibrium's policies lifted onto ``game``'s observations and certified on ``game``.
    """
    return dataclasses.replace(result, equilibria=tuple(
        make_markov_equilibrium(game, observation_policies(game, e.strategies))
        for e in result.equilibria))


# ------------------------------------------------------------------------------------------
# normal-form numerics (logit, global Newton, learning dynamics)
# ------------------------------------------------------------------------------------------

def normal_form_game(game: Any, solver: str) -> NormalFormGame:
    """``game`` as a :class:`NormalFormGame` (nashpy and OpenSpiel games converted).

    Raises
    ------
    TypeError
        When ``game`` is not a normal-form game (``solver`` names the caller).
    """
    converted = as_game(game)
    if not isinstance(converted, NormalFormGame):
        raise TypeError(f"{solver} needs a NormalFormGame, got {type(converted).__name__}")
    return converted


def positive_option(name: str, value: float, *, allow_zero: bool = False) -> float:
    """``value`` as a float, checked finite and ``> 0`` (``>= 0`` with ``allow_zero``).

    Raises
    ------
    InvalidArgumentError
        Naming the option ``name``.
    """
    value = float(value)
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        rule = "must be a finite number >= 0" if allow_zero else "must be a finite number > 0"
        raise InvalidArgumentError(f"{name}: {rule} (got {value!r})")
    return value


def unit_payoffs(game: NormalFormGame) -> tuple[np.ndarray, float]:
    """Payoffs mapped affinely onto ``[0, 1]`` and the scale (payoff range) used."""
    scale = game.payoff_range()
    return (np.asarray(game.payoffs) - float(game.payoffs.min())) / scale, scale


def payoff_blocks(payoffs: np.ndarray, strategies: Sequence[np.ndarray]
                   ) -> tuple[list[np.ndarray], list[list[np.ndarray | None]]]:
    """Action payoffs ``u_i`` ``(n_i,)`` and their derivatives ``du_i/dx_j`` ``(n_i, n_j)``.

    ``blocks[i][j][a, b]`` is player ``i``'s payoff of action ``a`` when player ``j`` plays ``b``
    and everybody else plays ``strategies``; ``blocks[i][i]`` is None. Since payoffs are
    multilinear, ``u_i = blocks[i][j] @ strategies[j]`` for any ``j != i``.
    """
    num_players = len(strategies)
    if num_players == 1:
        return [np.array(payoffs[0], dtype=float)], [[None]]
    blocks: list[list[np.ndarray | None]] = [[None] * num_players for _ in range(num_players)]
    for i in range(num_players):
        for j in range(num_players):
            if j == i:
                continue
            tensor = payoffs[i]
            for k in reversed(range(num_players)):
                if k != i and k != j:
                    tensor = np.tensordot(tensor, strategies[k], axes=([k], [0]))
            blocks[i][j] = tensor if i < j else tensor.T
    other = [(i + 1) % num_players for i in range(num_players)]
    values = [blocks[i][other[i]] @ strategies[other[i]] for i in range(num_players)]
    return values, blocks


def split_vector(vector: np.ndarray, offsets: np.ndarray) -> list[np.ndarray]:
    """``vector`` cut at ``offsets`` (``offsets[i]:offsets[i + 1]`` is player ``i``'s block)."""
    return [vector[offsets[i]:offsets[i + 1]] for i in range(len(offsets) - 1)]


def support_polish(payoffs: np.ndarray, strategies: Sequence[np.ndarray],
                    supports: Sequence[np.ndarray], *, max_iterations: int = 30,
                    tol: float = 1e-14) -> tuple[list[np.ndarray], bool, int]:
    """Newton's method on the Nash equations restricted to ``supports``.

    Unknowns: the probabilities on each support and each player's value ``w_i``; equations:
    ``u_ia(x) = w_i`` for ``a`` in the support and ``sum_a x_ia = 1``. Returns the profile
    (zero off the supports), whether Newton converged, and the number of iterations.
    """
    num_players = len(strategies)
    xs = [np.zeros_like(x, dtype=float) for x in strategies]
    for x, start, support in zip(xs, strategies, supports):
        x[support] = start[support] / start[support].sum()
    sizes = np.array([len(s) for s in supports])
    offsets = np.concatenate([[0], np.cumsum(sizes + 1)])
    dim = int(offsets[-1])
    values, _ = payoff_blocks(payoffs, xs)
    levels = np.array([float(u @ x) for u, x in zip(values, xs)])
    for iteration in range(1, max_iterations + 1):
        values, blocks = payoff_blocks(payoffs, xs)
        residual = np.empty(dim)
        jacobian = np.zeros((dim, dim))
        for i, support in enumerate(supports):
            o, k = offsets[i], sizes[i]
            # rows o..o+k-1: u_ia - w_i; row o+k: sum - 1; column o+k is the unknown w_i.
            residual[o:o + k] = values[i][support] - levels[i]
            residual[o + k] = xs[i][support].sum() - 1.0
            jacobian[o:o + k, o + k] = -1.0
            jacobian[o + k, o:o + k] = 1.0
            for j in range(num_players):
                if j != i:
                    block = blocks[i][j]
                    assert block is not None
                    jacobian[o:o + k, offsets[j]:offsets[j] + sizes[j]] = \
                        block[np.ix_(support, supports[j])]
        if np.abs(residual).max() <= tol:
            return xs, True, iteration - 1
        try:
            step = np.linalg.solve(jacobian, -residual)
        except np.linalg.LinAlgError:
            step = np.linalg.lstsq(jacobian, -residual, rcond=None)[0]
        if not np.all(np.isfinite(step)):
            return xs, False, iteration
        for i, support in enumerate(supports):
            xs[i][support] += step[offsets[i]:offsets[i] + sizes[i]]
            levels[i] += step[offsets[i] + sizes[i]]
        if np.abs(step).max() <= tol:
            return xs, True, iteration
    values, _ = payoff_blocks(payoffs, xs)
    worst = max(float(np.ptp(values[i][s])) if len(s) > 1 else 0.0
                for i, s in enumerate(supports))
    return xs, worst <= 1e3 * tol, max_iterations


def accept_polished(game: NormalFormGame, polished: Sequence[np.ndarray], *,
                     tol: float, negative_tol: float = 1e-12
                     ) -> list[np.ndarray] | None:
    """The polished profile, cleaned onto the simplex, if it is a certified equilibrium."""
    cleaned = []
    for x in polished:
        if not np.all(np.isfinite(x)) or x.min() < -negative_tol:
            return None
        x = np.clip(x, 0.0, None)
        total = x.sum()
        if total <= 0:
            return None
        cleaned.append(x / total)
    if max_regret(game, cleaned) > tol:
        return None
    return cleaned
