"""Logit quantal response equilibria (QRE) and the logit path to a Nash equilibrium.

Definitions
-----------
A *logit quantal response equilibrium* at precision ``lam >= 0`` of an N-player normal-form game
is a profile ``x`` with, for every player ``i``,

    x_i = softmax(lam * u_i(x_-i)),

where ``u_i(x_-i)`` ``(n_i,)`` are player ``i``'s expected payoffs of her pure actions against
the others' strategies (McKelvey and Palfrey 1995). At ``lam = 0`` the unique QRE is the uniform
profile. For generic games the QRE correspondence contains a unique smooth curve (the *principal
branch*) that starts there and converges, as ``lam -> infinity``, to a Nash equilibrium: the
*logit solution* (Turocy 2005 shows this is a homotopy path that may turn back in ``lam``).

The path is traced in log-probability coordinates ``(log x, lam)`` with Gambit's equations
(``gambit-logit``): per player ``sum_a x_ia = 1`` and
``log x_ia - log x_i0 = lam (u_ia - u_i0)`` for ``a >= 1``. Tracing is by predictor-corrector
continuation: an Euler predictor along the unit tangent (the null vector of the analytic
Jacobian), Newton corrector steps with the Moore-Penrose pseudo-inverse, and step-size control
from the corrector's first step and contraction rate (Allgower and Georg 2003, ch. 6).

A QRE at large ``lam`` approximates a Nash equilibrium only to ``O(1/lam)``. To reach
``max_regret`` without following the path to astronomically large ``lam``, every accepted step
with a new candidate support tries a *support polish*: Newton's method on the Nash equations
restricted to the actions with non-negligible probability (each player indifferent on her
support, probabilities summing to one). A polished profile is accepted only when its
probabilities are non-negative and its regret is at most ``max_regret``, so the result is always
certified by its regret, never by the heuristic.

Internally payoffs are rescaled to ``[0, 1]`` (divided by the payoff range); every ``lam`` that
goes in or comes out is in the game's own payoff units.

References
----------
- R. D. McKelvey and T. R. Palfrey (1995), Quantal response equilibria for normal form games,
  Games and Economic Behavior 10, 6-38.
- T. L. Turocy (2005), A dynamic homotopy interpretation of the logistic quantal response
  equilibrium correspondence, Games and Economic Behavior 51, 243-263.
- E. L. Allgower and K. Georg (2003), Introduction to Numerical Continuation Methods, SIAM.
- Gambit, ``src/solvers/logit/nfglogit.cc`` and ``path.cc`` (the reference implementation).

Examples
--------
>>> import numpy as np
>>> from gametools import NormalFormGame
>>> from gametools.solvers.logit import logit_solve, logit_qre
>>> game = NormalFormGame.from_bimatrix([[3, 3], [2, 5], [0, 6]], [[3, 2], [2, 6], [3, 1]])
>>> result = logit_solve(game)
>>> result.status, result.max_regret <= 1e-8
('success', True)
>>> [np.round(x, 6).tolist() for x in result.equilibria[0].strategies]
[[0.0, 0.333333, 0.666667], [0.333333, 0.666667]]
>>> qre = logit_qre(game, 0.0)
>>> qre.equilibria[0].strategies[1].tolist()
[0.5, 0.5]
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gametools.errors import InvalidArgumentError
from gametools.interop import as_game
from gametools.model import NormalFormGame
from gametools.solvers.result import SolverResult, Status, make_equilibrium
from gametools.solvers.result import max_regret as _max_regret

__all__ = ["logit_qre", "logit_solve"]

ProgressCallback = Callable[[int, float, float], None]



# ---------------------------------------------------------------------------------------------
# shared numerical pieces (also used by global_newton and dynamics)
# ---------------------------------------------------------------------------------------------

def _check_game(game: Any, solver: str) -> NormalFormGame:
    converted = as_game(game)
    if not isinstance(converted, NormalFormGame):
        raise TypeError(f"{solver} needs a NormalFormGame, got {type(converted).__name__}")
    return converted


def _positive(name: str, value: float, *, allow_zero: bool = False) -> float:
    value = float(value)
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        rule = "must be a finite number >= 0" if allow_zero else "must be a finite number > 0"
        raise InvalidArgumentError(f"{name}: {rule} (got {value!r})")
    return value


def _scaled_payoffs(game: NormalFormGame) -> tuple[np.ndarray, float]:
    """Payoffs mapped affinely onto ``[0, 1]`` and the scale (payoff range) used."""
    scale = game.payoff_range()
    return (np.asarray(game.payoffs) - float(game.payoffs.min())) / scale, scale


def _payoff_blocks(payoffs: np.ndarray, strategies: Sequence[np.ndarray]
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


def _split(vector: np.ndarray, offsets: np.ndarray) -> list[np.ndarray]:
    return [vector[offsets[i]:offsets[i + 1]] for i in range(len(offsets) - 1)]


def _support_polish(payoffs: np.ndarray, strategies: Sequence[np.ndarray],
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
    values, _ = _payoff_blocks(payoffs, xs)
    levels = np.array([float(u @ x) for u, x in zip(values, xs)])
    for iteration in range(1, max_iterations + 1):
        values, blocks = _payoff_blocks(payoffs, xs)
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
    values, _ = _payoff_blocks(payoffs, xs)
    worst = max(float(np.ptp(values[i][s])) if len(s) > 1 else 0.0
                for i, s in enumerate(supports))
    return xs, worst <= 1e3 * tol, max_iterations


def _accept_polished(game: NormalFormGame, polished: Sequence[np.ndarray], *,
                     max_regret: float, negative_tol: float = 1e-12
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
    if _max_regret(game, cleaned) > max_regret:
        return None
    return cleaned


# ---------------------------------------------------------------------------------------------
# predictor-corrector path tracing
# ---------------------------------------------------------------------------------------------

Homotopy = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


@dataclass
class _TraceState:
    """Where the tracer is; ``previous`` is the last accepted point before ``point``."""

    point: np.ndarray
    tangent: np.ndarray
    previous: np.ndarray
    steps: int = 0
    newton_iterations: int = 0
    status: str = "running"
    message: str = ""
    path: list[np.ndarray] = field(default_factory=list)


def _tangent(jacobian: np.ndarray) -> np.ndarray:
    """Unit null vector of a full-rank ``(m, m + 1)`` Jacobian (last column of Q in J^T = QR)."""
    q, _ = np.linalg.qr(jacobian.T, mode="complete")
    return q[:, -1]


def _orientation(jacobian: np.ndarray, tangent: np.ndarray) -> float:
    return float(np.sign(np.linalg.det(np.vstack([jacobian, tangent]))))


def _trace(homotopy: Homotopy, start: np.ndarray, *, direction_index: int, direction_sign: float,
           first_step: float, max_accel: float, max_steps: int,
           stop: Callable[[_TraceState], bool], corrector_tol: float = 1e-7,
           min_step: float = 1e-12, max_distance: float = 0.4, max_contraction: float = 0.6,
           min_cosine: float | None = 0.5, record: bool = False) -> _TraceState:
    """Follow the zero curve of ``homotopy`` (``z -> (H(z), DH(z))``, ``H: R^(m+1) -> R^m``).

    The starting tangent is oriented so that its ``direction_index`` component has
    ``direction_sign``; afterwards the sign of ``det [DH; t]`` is kept, which orients the curve
    consistently through turning points (and through the kinks of piecewise-smooth homotopies,
    where ``min_cosine`` must be None). The step size ``h`` grows by at most ``max_accel`` per
    accepted step, and is halved when the corrector drifts more than ``max_distance``,
    contracts slower than ``max_contraction`` or turns more than ``arccos(min_cosine)``.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        return _trace_loop(homotopy, start, direction_index=direction_index,
                           direction_sign=direction_sign, first_step=first_step,
                           max_accel=max_accel, max_steps=max_steps, stop=stop,
                           corrector_tol=corrector_tol, min_step=min_step,
                           max_distance=max_distance, max_contraction=max_contraction,
                           min_cosine=min_cosine, record=record)


def _trace_loop(homotopy: Homotopy, start: np.ndarray, *, direction_index: int,
                direction_sign: float, first_step: float, max_accel: float, max_steps: int,
                stop: Callable[[_TraceState], bool], corrector_tol: float, min_step: float,
                max_distance: float, max_contraction: float, min_cosine: float | None,
                record: bool) -> _TraceState:
    _, jacobian = homotopy(start)
    tangent = _tangent(jacobian)
    if tangent[direction_index] * direction_sign < 0:
        tangent = -tangent
    orientation = _orientation(jacobian, tangent)
    state = _TraceState(start.copy(), tangent, start.copy())
    if record:
        state.path.append(start.copy())
    step = first_step
    while not stop(state):
        if state.steps >= max_steps:
            state.status, state.message = "max_iterations", f"stopped after {max_steps} steps"
            return state
        if step < min_step:
            state.status = "failed"
            state.message = f"step size fell below {min_step:g} (a bifurcation or a singularity)"
            return state
        candidate = state.point + step * state.tangent
        accepted = False
        decel = 1.0 / max_accel
        previous_distance = 0.0
        for iteration in range(1, 16):
            residual, jacobian = homotopy(candidate)
            state.newton_iterations += 1
            if not np.all(np.isfinite(residual)) or not np.all(np.isfinite(jacobian)):
                break
            correction = np.linalg.lstsq(jacobian, -residual, rcond=None)[0]
            distance = float(np.linalg.norm(correction))
            candidate = candidate + correction
            if distance >= max_distance:
                break
            decel = max(decel, math.sqrt(distance / max_distance) * max_accel)
            if iteration >= 2:
                contraction = distance / (previous_distance + 1e-12)
                if contraction > max_contraction:
                    break
                decel = max(decel, math.sqrt(contraction / max_contraction) * max_accel)
            # The residual is only accurate to rounding times the size of the coordinates
            # (lam * payoffs), so the tolerance is relative to the point's size.
            if distance <= corrector_tol * max(1.0, float(np.abs(candidate).max())):
                accepted = True
                break
            previous_distance = distance
        if accepted:
            _, jacobian = homotopy(candidate)
            new_tangent = _tangent(jacobian)
            if _orientation(jacobian, new_tangent) != orientation:
                new_tangent = -new_tangent
            if min_cosine is not None and float(new_tangent @ state.tangent) < min_cosine:
                accepted = False
        if not accepted:
            step *= 0.5
            continue
        state.previous = state.point
        state.point, state.tangent = candidate, new_tangent
        state.steps += 1
        if record:
            state.path.append(candidate.copy())
        step = step / min(decel, max_accel)
    if state.status == "running":
        state.status = "success"
    return state


# ---------------------------------------------------------------------------------------------
# the logit homotopy
# ---------------------------------------------------------------------------------------------

class _LogitSystem:
    """Gambit's logit equations in ``z = (log x, lam)`` with their analytic Jacobian."""

    def __init__(self, payoffs: np.ndarray) -> None:
        self.payoffs = payoffs
        self.num_actions = payoffs.shape[1:]
        self.offsets = np.concatenate([[0], np.cumsum(self.num_actions)]).astype(int)
        self.dim = int(self.offsets[-1])

    def strategies(self, point: np.ndarray) -> list[np.ndarray]:
        return _split(np.exp(point[:-1]), self.offsets)

    def start(self) -> np.ndarray:
        return np.concatenate([np.full(n, -math.log(n)) for n in self.num_actions] + [[0.0]])

    def __call__(self, point: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lam = float(point[-1])
        logs = _split(point[:-1], self.offsets)
        xs = [np.exp(v) for v in logs]
        values, blocks = _payoff_blocks(self.payoffs, xs)
        m, offsets = self.dim, self.offsets
        residual = np.empty(m)
        jacobian = np.zeros((m, m + 1))
        for i, (v, x, u) in enumerate(zip(logs, xs, values)):
            o, n = offsets[i], len(x)
            residual[o] = x.sum() - 1.0
            jacobian[o, o:o + n] = x
            residual[o + 1:o + n] = v[1:] - v[0] - lam * (u[1:] - u[0])
            rows = np.arange(o + 1, o + n)
            jacobian[rows, rows] = 1.0
            jacobian[rows, o] = -1.0
            jacobian[o + 1:o + n, m] = -(u[1:] - u[0])
            for j, block in enumerate(blocks[i]):
                if block is not None:
                    jacobian[o + 1:o + n, offsets[j]:offsets[j + 1]] = \
                        -lam * (block[1:] - block[0]) * xs[j]
        return residual, jacobian


def _supports(strategies: Sequence[np.ndarray], threshold: float) -> tuple[np.ndarray, ...]:
    out = []
    for x in strategies:
        support = np.flatnonzero(x >= threshold * x.max())
        out.append(support)
    return tuple(out)


def _distance(first: Sequence[np.ndarray], second: Sequence[np.ndarray]) -> float:
    return max(float(np.abs(a - b).max()) for a, b in zip(first, second))


def _confirm_candidates(candidates: list[list[Any]], strategies: Sequence[np.ndarray],
                        lam: float, lam_velocity: float, *, confirmations: int = 2) -> bool:
    """Keep polished equilibria that the path is converging to; True when one is confirmed.

    Near a regular equilibrium the branch approaches it like ``1 / lam``. Each candidate is
    ``[profile, lam_ref, distance_ref, confirmed]``; whenever ``lam`` has doubled since
    ``lam_ref`` (with ``lam`` still increasing) the distance must have shrunk to ``0.6`` times
    ``distance_ref``, else the candidate is dropped; ``confirmations`` such halvings confirm it.
    This stops the polish from selecting an equilibrium the branch passes near before turning
    back. The confirmed candidate is moved to the front of the list.
    """
    kept: list[list[Any]] = []
    winner: list[Any] | None = None
    for candidate in candidates:
        profile, lam_ref, distance_ref, confirmed = candidate
        if lam < 2.0 * lam_ref:
            kept.append(candidate)
            continue
        distance = _distance(profile, strategies)
        if lam_velocity > 0 and (distance <= 0.6 * distance_ref or distance <= 1e-12):
            candidate[1:] = [lam, distance, confirmed + 1]
            kept.append(candidate)
            if winner is None and confirmed + 1 >= confirmations:
                winner = candidate
    candidates[:] = kept
    if winner is not None:
        candidates.sort(key=lambda c: c is not winner)
        return True
    return False


def _progress_printer(step: int, lam: float, regret: float) -> None:
    print(f"logit: step {step:6d}  lambda {lam:12.6g}  max regret {regret:.3e}", file=sys.stderr)


def logit_solve(game: Any, *, max_regret: float = 1e-8, first_step: float = 0.03,
                max_accel: float = 1.1, max_lambda: float = 1e8, max_steps: int = 20000,
                polish: bool = True, return_path: bool = False,
                progress: bool | ProgressCallback = False) -> SolverResult:
    """Nash equilibrium at the end of the principal branch of the logit QRE correspondence.

    Parameters
    ----------
    game : NormalFormGame or nashpy.Game
        Any number of players.
    max_regret : float
        Stop when the largest deviation gain, divided by the payoff range, is at most this.
    first_step : float
        First arclength step in ``(log x, lam * payoff_range)`` coordinates.
    max_accel : float
        Largest factor (> 1) by which the step size may grow from one step to the next.
    max_lambda : float
        Give up (status ``"max_iterations"``) when ``lam`` exceeds this (payoff units).
    max_steps : int
        Give up (status ``"max_iterations"``) after this many accepted steps.
    polish : bool
        Try the support polish (module docstring) along the path; without it the path alone
        must reach ``max_regret``, which needs ``lam`` of order ``1 / max_regret``.
    return_path : bool
        Store the accepted points in ``extra["path"]`` as ``{"lambda": (K,),
        "strategies": [(K, n_i), ...]}``.
    progress : bool or callable
        True prints one line to stderr every 50 steps; a callable is called after every step
        with ``(step, lam, max_regret)``.

    Returns
    -------
    SolverResult
        One equilibrium (the terminal profile, certified by its regret). ``extra`` holds
        ``steps``, ``newton_iterations``, ``lambda`` (final, payoff units), ``polished``
        (whether the support polish produced the profile), ``polish_attempts`` and, on
        request, ``path``. Status ``"success"`` iff the regret is at most ``max_regret``.

    Raises
    ------
    InvalidArgumentError
        For non-positive tolerances or step options.
    """
    game = _check_game(game, "logit_solve")
    max_regret = _positive("max_regret", max_regret)
    first_step = _positive("first_step", first_step)
    max_lambda = _positive("max_lambda", max_lambda)
    if not max_accel > 1.0:
        raise InvalidArgumentError(f"max_accel: must be > 1 (got {max_accel!r})")
    payoffs, scale = _scaled_payoffs(game)
    system = _LogitSystem(payoffs)
    callback: ProgressCallback | None
    if callable(progress):
        callback = progress
    else:
        callback = _progress_printer if progress else None

    found: dict[str, Any] = {"profile": None, "attempts": 0, "polish_iterations": 0,
                             "candidates": []}
    tried: dict[tuple[Any, ...], float] = {}

    def stop(state: _TraceState) -> bool:
        lam = float(state.point[-1]) / scale
        xs = system.strategies(state.point)
        xs = [x / x.sum() for x in xs]
        regret = _max_regret(game, xs)
        if callback is not None and (callable(progress) or state.steps % 50 == 0):
            callback(state.steps, lam, regret)
        if regret <= max_regret:
            found["profile"] = xs
            if not polish:
                return True
            # The path point is good enough; snapping it onto the exact equilibrium of its
            # support costs a few Newton steps and removes the O(exp(-lam)) residue.
            for threshold in (1e-2, 1e-4, 1e-6):
                polished, _, _ = _support_polish(payoffs, xs, _supports(xs, threshold))
                accepted = _accept_polished(game, polished, max_regret=regret)
                if accepted is not None and _distance(accepted, xs) <= 1e-3:
                    found["profile"], found["polished"] = accepted, True
                    break
            return True
        if polish and state.steps > 0 and state.point[-1] > 1.0:
            if _confirm_candidates(found["candidates"], xs, float(state.point[-1]),
                                   float(state.tangent[-1])):
                found["profile"], found["polished"] = found["candidates"][0][0], True
                return True
            for threshold in (1e-2, 1e-4, 1e-6):
                supports = _supports(xs, threshold)
                key = tuple(tuple(s.tolist()) for s in supports)
                # Retry a support that failed only once lambda has grown, since Newton may
                # have failed because the start was still too far from the equilibrium.
                if key in tried and state.point[-1] < 2.0 * tried[key]:
                    continue
                tried[key] = float(state.point[-1])
                found["attempts"] += 1
                polished, _, iterations = _support_polish(payoffs, xs, supports)
                found["polish_iterations"] += iterations
                accepted = _accept_polished(game, polished, max_regret=max_regret)
                if accepted is not None and not any(
                        _distance(accepted, c[0]) <= 1e-9 for c in found["candidates"]):
                    found["candidates"].append(
                        [accepted, float(state.point[-1]), _distance(accepted, xs), 0])
        if lam > max_lambda:
            found["profile"] = xs
            state.status, state.message = "max_iterations", \
                f"lambda exceeded max_lambda = {max_lambda:g} before max regret was reached"
            return True
        return False

    state = _trace(system, system.start(), direction_index=system.dim, direction_sign=1.0,
                   first_step=first_step, max_accel=max_accel, max_steps=max_steps, stop=stop,
                   record=return_path)
    profile = found["profile"]
    if profile is None:
        profile = [x / x.sum() for x in system.strategies(state.point)]
    equilibrium = make_equilibrium(game, profile)
    status: Status
    if equilibrium.regret <= max_regret:
        status, message = "success", "reached max_regret" + (
            " after support polish" if found.get("polished") else " on the path")
    else:
        status = "failed"
        message = state.message or "stopped before reaching max_regret"
    extra: dict[str, Any] = {
        "steps": state.steps, "newton_iterations": state.newton_iterations,
        "lambda": float(state.point[-1]) / scale, "polished": bool(found.get("polished")),
        "polish_attempts": found["attempts"], "polish_iterations": found["polish_iterations"],
    }
    if return_path:
        points = np.array(state.path)
        extra["path"] = {"lambda": points[:, -1] / scale,
                         "strategies": [np.exp(points[:, system.offsets[i]:system.offsets[i + 1]])
                                        for i in range(game.num_players)]}
    return SolverResult((equilibrium,), method="logit", status=status,
                        iterations=state.steps, message=message, extra=extra)


def logit_qre(game: Any, lam: float, *, tol: float = 1e-12, first_step: float = 0.03,
              max_accel: float = 1.1, max_steps: int = 20000) -> SolverResult:
    """The logit QRE at precision ``lam`` on the principal branch.

    The path from ``lam = 0`` is followed until it first reaches ``lam``; the point is then
    solved to ``tol`` by Newton's method with ``lam`` fixed. Where the branch turns back, it may
    cross ``lam`` several times; this is the first crossing.

    Parameters
    ----------
    game : NormalFormGame or nashpy.Game
    lam : float
        Precision ``>= 0``, in the game's payoff units: ``x_i = softmax(lam * u_i(x_-i))``.
    tol : float
        Largest absolute residual of the QRE equations (in log coordinates).

    Returns
    -------
    SolverResult
        One profile (a QRE, *not* a Nash equilibrium: its ``regret`` says how far from Nash it
        is). ``extra``: ``lambda``, ``residual`` (max absolute residual of
        ``log x_i - log softmax(lam u_i)``), ``steps``, ``newton_iterations``.
    """
    game = _check_game(game, "logit_qre")
    lam = _positive("lam", lam, allow_zero=True)
    tol = _positive("tol", tol)
    payoffs, scale = _scaled_payoffs(game)
    system = _LogitSystem(payoffs)
    target = lam * scale
    start = system.start()
    if target == 0.0:
        profile = system.strategies(start)
        return SolverResult((make_equilibrium(game, profile),), method="logit_qre",
                            extra={"lambda": 0.0, "residual": 0.0, "steps": 0,
                                   "newton_iterations": 0})

    state = _trace(system, start, direction_index=system.dim, direction_sign=1.0,
                   first_step=first_step, max_accel=max_accel, max_steps=max_steps,
                   stop=lambda s: float(s.point[-1]) >= target)
    low, high = state.previous, state.point
    if state.status != "success":
        profile = [x / x.sum() for x in system.strategies(state.point)]
        return SolverResult((make_equilibrium(game, profile),), method="logit_qre",
                            status="failed",
                            iterations=state.steps, message=state.message,
                            extra={"lambda": float(state.point[-1]) / scale,
                                   "residual": float("nan"), "steps": state.steps,
                                   "newton_iterations": state.newton_iterations})
    span = float(high[-1] - low[-1])
    weight = 1.0 if span <= 0 else (target - float(low[-1])) / span
    point = low + weight * (high - low)
    point[-1] = target
    residual = np.full(system.dim, np.inf)
    newton = 0
    for newton in range(1, 51):
        residual, jacobian = system(point)
        if np.abs(residual).max() <= tol:
            break
        point[:-1] += np.linalg.solve(jacobian[:, :-1], -residual)
    residual, _ = system(point)
    xs = system.strategies(point)
    values, _ = _payoff_blocks(payoffs, xs)
    logit_residual = max(float(np.abs(np.log(x) - (target * u - _logsumexp(target * u))).max())
                         for x, u in zip(xs, values))
    converged = bool(np.abs(residual).max() <= tol)
    profile = [x / x.sum() for x in xs]
    return SolverResult(
        (make_equilibrium(game, profile),), method="logit_qre",
        status="success" if converged else "failed", iterations=state.steps,
        message="QRE on the principal branch" if converged else "Newton did not reach tol",
        extra={"lambda": lam, "residual": logit_residual, "steps": state.steps,
               "newton_iterations": state.newton_iterations + newton})


def _logsumexp(values: np.ndarray) -> float:
    top = float(values.max())
    return top + math.log(float(np.exp(values - top).sum()))
