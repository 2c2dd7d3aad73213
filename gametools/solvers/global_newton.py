"""Global Newton method (Govindan and Wilson 2003) for N-player normal-form games.

Definitions
-----------
Write ``U(x)`` ``(m,)``, ``m = n_1 + ... + n_N``, for the stacked action payoffs of a profile
``x`` and ``r(z)`` for the Euclidean projection of each player's block of ``z`` onto her simplex.
By the Kohlberg-Mertens structure theorem, ``x`` is a Nash equilibrium of the game whose
payoffs are raised by a *bonus* ``lam * b`` (``b`` ``(m,)``, one bonus per pure action) iff
``x = r(z)`` for a zero ``z`` of

    H(z, lam) = z - r(z) - U(r(z)) - lam * b.

For ``lam`` large the bonus makes one pure profile strictly dominant, so there is exactly one
zero; for a generic ``b`` the zeros form a piecewise-smooth curve from there, and every point
where it crosses ``lam = 0`` is a Nash equilibrium of the game itself (Govindan and Wilson call
following it a *global Newton method*). The curve is followed by predictor-corrector
continuation on the piecewise-polynomial ``H`` (semismooth Newton corrector; orientation kept
by the sign of ``det [DH; t]``, which is how the curve passes kinks where a support changes).
Each crossing is refined by Newton's method at ``lam = 0`` and by a support polish, and is
certified by its regret.

Global convergence holds for a generic ``b``: the bonus is ``e_s`` (a unit bonus on a pure
profile ``s``) plus a small random perturbation from ``rng``; with ``rng=None`` a fixed seed is
used, so results are reproducible.

References
----------
- S. Govindan and R. Wilson (2003), A global Newton method to compute Nash equilibria, Journal
  of Economic Theory 110, 65-86.
- E. Kohlberg and J.-F. Mertens (1986), On the strategic stability of equilibria,
  Econometrica 54, 1003-1037.
- Gambit, ``src/solvers/gnm`` (``gambit-gnm``), the reference implementation.

Examples
--------
>>> import numpy as np
>>> from gametools import NormalFormGame
>>> from gametools.solvers.global_newton import global_newton
>>> pennies = NormalFormGame.zero_sum([[1, -1], [-1, 1]])
>>> result = global_newton(pennies)
>>> result.status, [np.round(x, 9).tolist() for x in result.equilibria[0].strategies]
('success', [[0.5, 0.5], [0.5, 0.5]])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from gametools.errors import InvalidArgumentError
from gametools.solvers._continuation import PathState, orientation_sign, unit_tangent
from gametools.solvers.result import SolverResult, Status, make_equilibrium
from gametools.solvers.support import (
    accept_polished,
    normal_form_game,
    payoff_blocks,
    positive_option,
    split_vector,
    support_polish,
    unit_payoffs,
)

__all__ = ["global_newton"]


class _StructureSystem:
    """``H(z, lam)`` of the module docstring restricted to one cell (fixed supports).

    On the cell where player ``i``'s projection has support ``S_i``, ``r(z)_ia = z_ia - tau_i``
    on ``S_i`` (``tau_i = (sum_{S_i} z_i - 1) / |S_i|``) and 0 elsewhere, so ``H`` is a
    polynomial there; the path is traced cell by cell, switching supports at the boundaries.
    """

    def __init__(self, payoffs: np.ndarray, bonus: np.ndarray) -> None:
        self.payoffs = payoffs
        self.bonus = bonus
        self.num_actions = payoffs.shape[1:]
        self.offsets = np.concatenate([[0], np.cumsum(self.num_actions)]).astype(int)
        self.dim = int(self.offsets[-1])
        self.supports = [np.zeros(n, dtype=bool) for n in self.num_actions]

    def levels(self, point: np.ndarray) -> list[float]:
        return [float((z[s].sum() - 1.0) / s.sum())
                for z, s in zip(split_vector(point[:-1], self.offsets), self.supports)]

    def strategies(self, point: np.ndarray) -> list[np.ndarray]:
        """``r_S(z)``: may be negative outside the cell (that is how leaving it is detected)."""
        out = []
        for z, s, tau in zip(split_vector(point[:-1], self.offsets), self.supports,
                             self.levels(point)):
            x = np.zeros(len(z))
            x[s] = z[s] - tau
            out.append(x)
        return out

    def violation(self, point: np.ndarray) -> tuple[float, int, int]:
        """Most negative cell slack (``x_ia`` on supports, ``tau_i - z_ia`` off them)."""
        worst, where = np.inf, (-1, -1)
        for i, (z, s, tau) in enumerate(zip(split_vector(point[:-1], self.offsets), self.supports,
                                            self.levels(point))):
            slack = np.where(s, z - tau, tau - z)
            a = int(np.argmin(slack))
            if slack[a] < worst:
                worst, where = float(slack[a]), (i, a)
        return worst, where[0], where[1]

    def __call__(self, point: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        m, offsets = self.dim, self.offsets
        xs = self.strategies(point)
        values, blocks = payoff_blocks(self.payoffs, xs)
        residual = point[:-1] - np.concatenate(xs) - np.concatenate(values) \
            - point[-1] * self.bonus
        # M = I + DU(x); DH_z = I - M Dr(z) with Dr the projection's derivative: on each
        # player's support it is I - 11^T / |S|, zero elsewhere.
        coupling = np.eye(m)
        for i, row in enumerate(blocks):
            for j, block in enumerate(row):
                if block is not None:
                    coupling[offsets[i]:offsets[i + 1], offsets[j]:offsets[j + 1]] = block
        jacobian = np.zeros((m, m + 1))
        jacobian[:, :m] = np.eye(m)
        for j, support in enumerate(self.supports):
            columns = offsets[j] + np.flatnonzero(support)
            part = coupling[:, columns]
            jacobian[:, columns] -= part - part.mean(axis=1, keepdims=True)
        jacobian[:, m] = -self.bonus
        return residual, jacobian


def _correct(system: _StructureSystem, candidate: np.ndarray, tol: float = 1e-11,
             max_distance: float = 0.4, max_contraction: float = 0.6
             ) -> tuple[np.ndarray | None, int]:
    """Newton corrector (minimum-norm steps); None when it diverges or stalls."""
    previous = np.inf
    for iteration in range(1, 12):
        residual, jacobian = system(candidate)
        correction = np.linalg.lstsq(jacobian, -residual, rcond=None)[0]
        distance = float(np.linalg.norm(correction))
        candidate = candidate + correction
        if not np.isfinite(distance) or distance >= max_distance or \
                (iteration >= 2 and distance > max_contraction * previous + 1e-14):
            return None, iteration
        if distance <= tol * max(1.0, float(np.abs(candidate).max())):
            return candidate, iteration
        previous = distance
    return None, 11


def _trace_cells(system: _StructureSystem, start: np.ndarray, *, first_step: float,
                 max_accel: float, max_iterations: int, stop_lambda: float, max_crossings: int
                 ) -> tuple[list[tuple[np.ndarray, np.ndarray]], PathState]:
    """Follow ``H = 0`` from ``start`` (lam decreasing), cell by cell; collect lam = 0 crossings.

    A step that leaves the current cell is shortened by the secant rule until it ends on the
    boundary (slack ``<= 1e-10``); there the support gains or loses the action whose slack
    vanished and the new tangent keeps the sign of ``det [DH; t]``, which orients the
    piecewise-smooth curve consistently (Govindan and Wilson 2003, section 3).
    """
    _, jacobian = system(start)
    tangent = unit_tangent(jacobian)
    if tangent[-1] > 0:
        tangent = -tangent
    orientation = orientation_sign(jacobian, tangent)
    state = PathState(start.copy(), tangent, start.copy())
    crossings: list[tuple[np.ndarray, np.ndarray]] = []
    step, min_step = first_step, 1e-13
    while True:
        if state.steps >= max_iterations:
            state.status, state.message = "max_iterations", f"stopped after {max_iterations} steps"
            break
        if step < min_step:
            state.status, state.message = "collapsed", f"step size fell below {min_step:g}"
            break
        point, iterations = _correct(system, state.point + step * state.tangent)
        state.corrector_iterations += iterations
        if point is None:
            step *= 0.5
            continue
        slack, player, action = system.violation(point)
        switched = False
        if slack < -1e-10:
            # Secant search for the step that lands on the cell boundary.
            low, high, slack_high = 0.0, step, slack
            slack_low = system.violation(state.point)[0]
            landed = None
            for _ in range(40):
                trial = high if slack_high == slack_low else \
                    low + (high - low) * slack_low / (slack_low - slack_high)
                trial = min(max(trial, low + 0.01 * (high - low)), high - 0.01 * (high - low))
                candidate, iterations = _correct(system, state.point + trial * state.tangent)
                state.corrector_iterations += iterations
                if candidate is None:
                    high = trial
                    continue
                value, player, action = system.violation(candidate)
                if abs(value) <= 1e-10 or (value >= 0 and high - low < 1e-14):
                    landed = candidate
                    break
                if value > 0:
                    low, slack_low = trial, value
                else:
                    high, slack_high = trial, value
            if landed is None:
                step *= 0.5
                continue
            point, switched = landed, True
        _, jacobian = system(point)
        new_tangent = unit_tangent(jacobian)
        if orientation_sign(jacobian, new_tangent) != orientation:
            new_tangent = -new_tangent
        if switched:
            support = system.supports[player]
            if support[action] and support.sum() == 1:
                state.status, state.message = "collapsed", "a support would become empty"
                break
            support[action] = not support[action]
            _, jacobian = system(point)
            candidate_tangent = unit_tangent(jacobian)
            if orientation_sign(jacobian, candidate_tangent) != orientation:
                candidate_tangent = -candidate_tangent
            new_tangent = candidate_tangent
        state.previous, state.point, state.tangent = state.point, point, new_tangent
        state.steps += 1
        if state.previous[-1] > 0 >= point[-1] or state.previous[-1] < 0 <= point[-1]:
            crossings.append((state.previous.copy(), point.copy()))
            if len(crossings) >= max_crossings:
                state.status = "stopped"
                break
        if point[-1] < stop_lambda:
            state.status = "stopped"
            break
        step = first_step if switched else min(step * max_accel, 1.0)
    return crossings, state


def _project(block: np.ndarray) -> np.ndarray:
    """Euclidean projection of ``block`` ``(n,)`` onto the probability simplex."""
    ordered = np.sort(block)[::-1]
    cumulative = np.cumsum(ordered) - 1.0
    ranks = np.arange(1, len(block) + 1)
    count = int(np.flatnonzero(ordered - cumulative / ranks > 0)[-1]) + 1
    return np.maximum(block - cumulative[count - 1] / count, 0.0)


def _project_all(system: _StructureSystem, point: np.ndarray) -> list[np.ndarray]:
    return [_project(z) for z in split_vector(point[:-1], system.offsets)]


def global_newton(game: Any, *, start: Sequence[int] | None = None,
                  rng: np.random.Generator | int | None = None, perturbation: float = 0.05,
                  tol: float = 1e-8, max_equilibria: int = 1, first_step: float = 0.03,
                  max_accel: float = 1.5, max_iterations: int = 20000) -> SolverResult:
    """Nash equilibria where the Govindan-Wilson bonus path crosses ``lam = 0``.

    Parameters
    ----------
    game : NormalFormGame or nashpy.Game
        Any number of players.
    start : sequence of int, optional
        The pure profile that receives the unit bonus (by default each player's best reply to
        the uniform profile).
    rng : numpy.random.Generator or int or None
        Source of the generic perturbation of the bonus (None: a fixed seed, reproducible).
    perturbation : float
        Size of the random part of the bonus, in ``(0, 0.5)``.
    tol : float
        A crossing counts as an equilibrium when its regret (relative to the payoff range) is at
        most this after refinement.
    max_equilibria : int
        Keep following the path through further crossings until this many are found (the path
        crosses ``lam = 0`` an odd number of times, once per equilibrium it meets).
    first_step, max_accel, max_iterations : float, float, int
        Continuation controls (arclength of the first step, largest step growth per step, step
        budget).

    Returns
    -------
    SolverResult
        The certified equilibria found (status ``"success"`` when at least one reached
        ``tol``). ``extra``: ``steps``, ``newton_iterations``, ``crossings``, ``start``.
    """
    game = normal_form_game(game, "global_newton")
    tol = positive_option("tol", tol)
    first_step = positive_option("first_step", first_step)
    if not 0.0 < perturbation < 0.5:
        raise InvalidArgumentError(f"perturbation: must be in (0, 0.5) (got {perturbation!r})")
    if int(max_equilibria) < 1:
        raise InvalidArgumentError(f"max_equilibria: must be >= 1 (got {max_equilibria!r})")
    if not max_accel > 1.0:
        raise InvalidArgumentError(f"max_accel: must be > 1 (got {max_accel!r})")
    payoffs, _ = unit_payoffs(game)
    num_actions = game.num_actions
    if start is None:
        uniform = [np.full(n, 1.0 / n) for n in num_actions]
        values, _ = payoff_blocks(payoffs, uniform)
        start = [int(np.argmax(u)) for u in values]
    start = [int(a) for a in start]
    if len(start) != game.num_players or any(not 0 <= a < n for a, n in zip(start, num_actions)):
        raise InvalidArgumentError(f"start: must hold one action index per player within "
                                 f"{num_actions} (got {start!r})")
    generator = np.random.default_rng(0 if rng is None else rng)
    bonus_blocks = []
    for a, n in zip(start, num_actions):
        block = perturbation * generator.uniform(size=n)
        block[a] += 1.0
        bonus_blocks.append(block)
    bonus = np.concatenate(bonus_blocks)
    system = _StructureSystem(payoffs, bonus)

    # With payoffs in [0, 1] and bonus gaps >= 1 - perturbation, lam0 makes `start` strictly
    # dominant, so it is the unique equilibrium there and the path starts at its KM point.
    lam0 = 2.0 / (1.0 - perturbation)
    pure = [np.eye(n)[a] for a, n in zip(start, num_actions)]
    values, _ = payoff_blocks(payoffs, pure)
    point = np.concatenate([np.concatenate(pure) + np.concatenate(values) + lam0 * bonus, [lam0]])

    for support, a in zip(system.supports, start):
        support[a] = True
    crossings, state = _trace_cells(system, point, first_step=first_step, max_accel=max_accel,
                                    max_iterations=max_iterations, stop_lambda=-lam0,
                                    max_crossings=int(max_equilibria))
    equilibria = []
    refine_iterations = 0
    for low, high in crossings:
        span = float(high[-1] - low[-1])
        weight = -float(low[-1]) / span if span != 0 else 1.0
        candidates: list[list[np.ndarray]] = []
        # The crossing step may also cross a cell boundary, so Newton at lam = 0 is tried in
        # the cells of both ends; the end points' projections are polished as well.
        for cell_source in (high, low):
            point = low + weight * (high - low)
            point[-1] = 0.0
            system.supports = [x > 0 for x in _project_all(system, cell_source)]
            for _ in range(30):
                residual, jacobian = system(point)
                refine_iterations += 1
                if np.abs(residual).max() <= 1e-13:
                    break
                point[:-1] += np.linalg.lstsq(jacobian[:, :-1], -residual, rcond=None)[0]
            candidates.append(_project_all(system, point))
        candidates += [_project_all(system, high), _project_all(system, low)]
        for xs in list(candidates):
            for threshold in (0.0, 1e-9, 1e-6):
                supports = tuple(np.flatnonzero(x > threshold) for x in xs)
                polished, _, iterations = support_polish(payoffs, xs, supports)
                refine_iterations += iterations
                accepted = accept_polished(game, polished, tol=tol)
                if accepted is not None:
                    candidates.insert(0, accepted)
                    break
            if len(candidates) > 4:
                break
        best = min((make_equilibrium(game, c) for c in candidates), key=lambda e: e.regret)
        equilibria.append(best)
    good = [e for e in equilibria if e.regret <= tol]
    status: Status
    if good:
        status, message = "success", f"{len(good)} crossing(s) of lam = 0 certified"
    elif state.status == "collapsed":
        status, message = "failed", state.message
    elif crossings:
        status, message = "failed", "crossings found but none reached tol"
    else:
        status = "failed"
        message = state.message or "the path ended without crossing lam = 0"
    if not equilibria:
        # No crossing: report where the path stopped, certified by its (large) regret.
        equilibria.append(make_equilibrium(game, _project_all(system, state.point)))
    return SolverResult(tuple(good) if good else tuple(equilibria), method="global-newton",
                        status=status, iterations=state.steps, message=message,
                        extra={"steps": state.steps,
                               "newton_iterations": state.corrector_iterations + refine_iterations,
                               "crossings": len(crossings), "start": start})
