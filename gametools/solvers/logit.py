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
``log x_ia - log x_i0 = lam (u_ia - u_i0)`` for ``a >= 1``, by the package's continuation
engine (:func:`gametools.solvers._continuation.trace_path`, shared with the Markov-QRE path):
Euler predictor, chord-Newton corrector with step control (Allgower and Georg 2003, ch. 6),
orientation by the sign of the bordered Jacobian's determinant and branch switching at simple
bifurcations (McKelvey and McLennan's 2x2x2 game has one near ``lam = 7`` in scaled units).
When the step still collapses, the path of a slightly perturbed game is traced and its end is
polished and certified on the original game.

A QRE at large ``lam`` approximates a Nash equilibrium only to ``O(1/lam)``. To reach
``tol`` without following the path to astronomically large ``lam``, every accepted step
with a new candidate support tries a *support polish*: Newton's method on the Nash equations
restricted to the actions with non-negligible probability (each player indifferent on her
support, probabilities summing to one). A polished profile is accepted only when its
probabilities are non-negative and its regret is at most ``tol``, so the result is always
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
from typing import Any

import numpy as np

from gametools.errors import InvalidArgumentError
from gametools.solvers._continuation import (
    DenseLinearization,
    PathState,
    StepControl,
    trace_path,
)
from gametools.solvers.result import SolverResult, Status, make_equilibrium
from gametools.solvers.result import max_regret as _max_regret
from gametools.solvers.support import (
    accept_polished,
    normal_form_game,
    payoff_blocks,
    positive_option,
    split_vector,
    support_polish,
    unit_payoffs,
)

__all__ = ["logit_qre", "logit_solve"]

ProgressCallback = Callable[[int, float, float], None]

#: Nominal first corrector distance, chord contraction rate and turning angle of the
#: continuation engine's step control for the logit path.
_STEP_CONTROL = (0.2, 0.3, 0.2)



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
        return split_vector(np.exp(point[:-1]), self.offsets)

    def start(self) -> np.ndarray:
        return np.concatenate([np.full(n, -math.log(n)) for n in self.num_actions] + [[0.0]])

    def residual(self, point: np.ndarray) -> np.ndarray:
        return self(point)[0]

    def jacobian(self, point: np.ndarray) -> np.ndarray:
        return self(point)[1]

    def linearize(self, point: np.ndarray, border: np.ndarray
                  ) -> tuple[np.ndarray, DenseLinearization]:
        residual, jacobian = self(point)
        return residual, DenseLinearization(jacobian, border)

    def __call__(self, point: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lam = float(point[-1])
        logs = split_vector(point[:-1], self.offsets)
        xs = [np.exp(v) for v in logs]
        values, blocks = payoff_blocks(self.payoffs, xs)
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


def logit_solve(game: Any, *, tol: float = 1e-8, first_step: float = 0.03,
                max_accel: float = 1.1, max_lambda: float = 1e8, max_iterations: int = 20000,
                polish: bool = True, return_path: bool = False,
                progress: bool | ProgressCallback = False) -> SolverResult:
    """Nash equilibrium at the end of the principal branch of the logit QRE correspondence.

    Parameters
    ----------
    game : NormalFormGame or nashpy.Game
        Any number of players.
    tol : float
        Stop when the largest deviation gain, divided by the payoff range, is at most this.
    first_step : float
        First arclength step in ``(log x, lam * payoff_range)`` coordinates.
    max_accel : float
        Largest factor (> 1) by which the step size may grow from one step to the next.
    max_lambda : float
        Give up (status ``"max_iterations"``) when ``lam`` exceeds this (payoff units).
    max_iterations : int
        Give up (status ``"max_iterations"``) after this many accepted steps.
    polish : bool
        Try the support polish (module docstring) along the path; without it the path alone
        must reach ``tol``, which needs ``lam`` of order ``1 / tol``.
    return_path : bool
        Store the accepted points in ``extra["path"]`` as ``{"lambda": (K,),
        "strategies": [(K, n_i), ...]}``.
    progress : bool or callable
        True prints one line to stderr every 50 steps; a callable is called after every step
        with ``(step, lam, max regret)``.

    Returns
    -------
    SolverResult
        One equilibrium (the terminal profile, certified by its regret). ``extra`` holds
        ``steps``, ``newton_iterations``, ``lambda`` (final, payoff units), ``polished``
        (whether the support polish produced the profile), ``polish_attempts`` and, on
        request, ``path``. Status ``"success"`` iff the regret is at most ``tol``.

    Raises
    ------
    InvalidArgumentError
        For non-positive tolerances or step options.
    """
    game = normal_form_game(game, "logit_solve")
    tol = positive_option("tol", tol)
    first_step = positive_option("first_step", first_step)
    max_lambda = positive_option("max_lambda", max_lambda)
    if not max_accel > 1.0:
        raise InvalidArgumentError(f"max_accel: must be > 1 (got {max_accel!r})")
    payoffs, scale = unit_payoffs(game)
    callback: ProgressCallback | None
    if callable(progress):
        callback = progress
    else:
        callback = _progress_printer if progress else None
    control = StepControl(distance=_STEP_CONTROL[0], contraction=_STEP_CONTROL[1],
                          angle=_STEP_CONTROL[2], max_accel=float(max_accel), min_step=1e-12)

    def follow(system: _LogitSystem) -> tuple[PathState, dict[str, Any]]:
        """Trace ``system``'s path; polish and certify on the original game."""
        found: dict[str, Any] = {"profile": None, "attempts": 0, "polish_iterations": 0,
                                 "candidates": [], "message": ""}
        tried: dict[tuple[Any, ...], float] = {}

        def stop(state: PathState) -> bool:
            lam = float(state.point[-1]) / scale
            xs = system.strategies(state.point)
            xs = [x / x.sum() for x in xs]
            regret = _max_regret(game, xs)
            if callback is not None and (callable(progress) or state.steps % 50 == 0):
                callback(state.steps, lam, regret)
            if regret <= tol:
                found["profile"] = xs
                if not polish:
                    return True
                # The path point is good enough; snapping it onto the exact equilibrium of its
                # support costs a few Newton steps and removes the O(exp(-lam)) residue.
                for threshold in (1e-2, 1e-4, 1e-6):
                    polished, _, _ = support_polish(payoffs, xs, _supports(xs, threshold))
                    accepted = accept_polished(game, polished, tol=regret)
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
                    polished, _, iterations = support_polish(payoffs, xs, supports)
                    found["polish_iterations"] += iterations
                    accepted = accept_polished(game, polished, tol=tol)
                    if accepted is not None and not any(
                            _distance(accepted, c[0]) <= 1e-9 for c in found["candidates"]):
                        found["candidates"].append(
                            [accepted, float(state.point[-1]), _distance(accepted, xs), 0])
            if lam > max_lambda:
                found["profile"] = xs
                found["message"] = (f"lambda exceeded max_lambda = {max_lambda:g} before max "
                                    f"regret was reached")
                return True
            return False

        state = trace_path(system, system.start(), first_step=first_step, max_iterations=max_iterations,
                           stop=stop, control=control, lambda_min=0.0, record=return_path)
        found["message"] = found["message"] or state.message
        return state, found

    system = _LogitSystem(payoffs)
    state, found = follow(system)
    recoveries = 0
    if found["profile"] is None and polish and state.status == "collapsed":
        # recovery: the path of a slightly perturbed (generic) game passes the singularity;
        # what it finds is polished and certified on the original game (as Gambit does)
        recoveries = 1
        noise = np.random.default_rng(0).uniform(-1.0, 1.0, payoffs.shape)
        retry_system = _LogitSystem(payoffs + 1e-6 * noise)
        retry_state, retry_found = follow(retry_system)
        if retry_found["profile"] is not None:
            retry_found["message"] = (f"{retry_found['message']} (on a perturbed game after the "
                                      f"path of the original collapsed: {state.message})")
            system, state, found = retry_system, retry_state, retry_found
    profile = found["profile"]
    if profile is None:
        profile = [x / x.sum() for x in system.strategies(state.point)]
    equilibrium = make_equilibrium(game, profile)
    status: Status
    if equilibrium.regret <= tol:
        status, message = "success", "regret within tol" + (
            " after support polish" if found.get("polished") else " on the path")
    else:
        status = "failed"
        message = found["message"] or "stopped before reaching tol"
    extra: dict[str, Any] = {
        "steps": state.steps, "newton_iterations": state.corrector_iterations,
        "rejected_steps": state.rejected, "turning_points": state.turning_points,
        "bifurcations": state.bifurcations, "branch_switches": state.branch_switches,
        "recoveries": recoveries,
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
              max_accel: float = 1.1, max_iterations: int = 20000) -> SolverResult:
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
    game = normal_form_game(game, "logit_qre")
    lam = positive_option("lam", lam, allow_zero=True)
    tol = positive_option("tol", tol)
    payoffs, scale = unit_payoffs(game)
    system = _LogitSystem(payoffs)
    target = lam * scale
    start = system.start()
    if target == 0.0:
        profile = system.strategies(start)
        return SolverResult((make_equilibrium(game, profile),), method="logit_qre",
                            extra={"lambda": 0.0, "residual": 0.0, "steps": 0,
                                   "newton_iterations": 0})

    control = StepControl(distance=_STEP_CONTROL[0], contraction=_STEP_CONTROL[1],
                          angle=_STEP_CONTROL[2], max_accel=float(max_accel), min_step=1e-12)
    state = trace_path(system, start, first_step=first_step, max_iterations=max_iterations,
                       stop=lambda s: float(s.point[-1]) >= target, control=control)
    low, high = state.previous, state.point
    if state.status != "stopped":
        profile = [x / x.sum() for x in system.strategies(state.point)]
        return SolverResult((make_equilibrium(game, profile),), method="logit_qre",
                            status="failed",
                            iterations=state.steps, message=state.message,
                            extra={"lambda": float(state.point[-1]) / scale,
                                   "residual": float("nan"), "steps": state.steps,
                                   "newton_iterations": state.corrector_iterations})
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
    values, _ = payoff_blocks(payoffs, xs)
    logit_residual = max(float(np.abs(np.log(x) - (target * u - _logsumexp(target * u))).max())
                         for x, u in zip(xs, values))
    converged = bool(np.abs(residual).max() <= tol)
    profile = [x / x.sum() for x in xs]
    return SolverResult(
        (make_equilibrium(game, profile),), method="logit_qre",
        status="success" if converged else "failed", iterations=state.steps,
        message="QRE on the principal branch" if converged else "Newton did not reach tol",
        extra={"lambda": lam, "residual": logit_residual, "steps": state.steps,
               "newton_iterations": state.corrector_iterations + newton})


def _logsumexp(values: np.ndarray) -> float:
    top = float(values.max())
    return top + math.log(float(np.exp(values - top).sum()))
