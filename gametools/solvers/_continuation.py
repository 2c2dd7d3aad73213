"""The one predictor-corrector continuation engine of the package.

Both logit paths (the normal-form QRE path of :mod:`gametools.solvers.logit` and the Markov-QRE
path of :mod:`gametools.solvers.homotopy`) follow the zero curve of a homotopy
``H: R^(m+1) -> R^m`` whose last unknown is the precision ``lam``, from a start at ``lam = 0``.

Numerics (Allgower and Georg 2003, ch. 6-8)
------------------------------------------
- Euler predictor along the unit tangent. The Jacobian is evaluated once per step, at the
  predicted point; bordered with the previous tangent ``tau`` it gives the new tangent (solving
  ``[DH; tau] t = e``, which keeps the direction of travel through turning points in ``lam``) and
  a chord-Newton corrector in the hyperplane orthogonal to ``tau``.
- Step control: the step adapts so that the first correction, the chord contraction rate and
  the turning angle approach nominal values; a step exceeding twice one is rejected and halved.
- The tangent kept after an accepted step is the one at the predicted point; after four
  rejected steps in a row it is recomputed at the current point (where the path bends sharply
  the two differ by more than a step may turn, and the step would otherwise collapse).
- Orientation: the sign of ``det [DH; t]`` is recorded at every accepted point. It is constant
  along a regular arc; a change means the step jumped over a simple bifurcation point (the
  determinant vanishes there). The engine then locates the point by bisection on the sign and
  switches branch (Allgower and Georg 2003, sec. 8.2): the kernel of ``DH`` is two-dimensional
  there, spanned by the tangents of the two crossing branches, and the path leaves along the
  kernel direction orthogonal to the one it came in on, on the half that a uniform perturbation
  of the equations connects to the incoming half (from the reduced bifurcation equation; see
  ``_switch_branch``).
  Where the switch fails the first equation is perturbed by ``bifurcation_shift`` for an arc
  length of twice the step and the path jumps over. A sign change of the tangent's ``lam``
  component is a turning point.
- A step that would take ``lam`` below ``lambda_min`` is rejected (the QRE correspondence is a
  single point at ``lam = 0``: a path that comes back there has jumped onto another branch).
- When the step collapses below ``min_step`` the engine stops with status ``"collapsed"``; the
  callers recover by tracing a slightly perturbed game and certifying on the original one, and
  :func:`gametools.solvers.solve` hands over to global Newton when that fails too.

References
----------
- E. L. Allgower and K. Georg (2003), Introduction to Numerical Continuation Methods, SIAM.
- Gambit, ``src/solvers/logit/path.cc`` (bifurcation handling of the logit tracer).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np
import scipy.linalg

__all__ = ["Linearization", "Homotopy", "PathState", "trace_path", "DenseLinearization",
           "unit_tangent", "orientation_sign"]

#: After this many consecutive rejected steps the tangent is recomputed at the current point.
_REFRESH_AFTER = 4

PathStatus = Literal["running", "stopped", "max_iterations", "collapsed"]


class Linearization(Protocol):
    """A factorization of the bordered Jacobian ``[DH(y); border]`` at one point."""

    def solve(self, rhs: np.ndarray) -> np.ndarray:
        """Solve ``[DH; border] z = rhs``."""
        ...

    def determinant_sign(self) -> float:
        """Sign of ``det [DH; border]`` (0 when singular)."""
        ...


class Homotopy(Protocol):
    """``H`` with ``dim`` equations in ``dim + 1`` unknowns; the last unknown is ``lam``."""

    dim: int

    def residual(self, y: np.ndarray) -> np.ndarray:
        ...

    def linearize(self, y: np.ndarray, border: np.ndarray) -> tuple[np.ndarray, Linearization]:
        """The residual at ``y`` and the factorization of ``[DH(y); border]``."""
        ...

    def jacobian(self, y: np.ndarray) -> np.ndarray:
        """The dense Jacobian ``(dim, dim + 1)`` (used only at bifurcation points)."""
        ...


class DenseLinearization:
    """LU factorization of a dense bordered Jacobian ``[J; border]`` (``J`` is ``(m, m+1)``)."""

    def __init__(self, jacobian: np.ndarray, border: np.ndarray) -> None:
        matrix = np.vstack([jacobian, border[None, :]])
        if not np.all(np.isfinite(matrix)):
            raise np.linalg.LinAlgError("non-finite Jacobian")
        self.lu, self.pivots = scipy.linalg.lu_factor(matrix, check_finite=False)
        diagonal = np.diag(self.lu)
        if np.any(diagonal == 0):
            raise np.linalg.LinAlgError("singular Jacobian")
        swaps = int(np.count_nonzero(self.pivots != np.arange(len(self.pivots))))
        self.sign = float(np.prod(np.sign(diagonal))) * (-1.0) ** swaps

    def solve(self, rhs: np.ndarray) -> np.ndarray:
        return scipy.linalg.lu_solve((self.lu, self.pivots), rhs, check_finite=False)

    def determinant_sign(self) -> float:
        return self.sign


def unit_tangent(jacobian: np.ndarray) -> np.ndarray:
    """Unit null vector of a full-rank ``(m, m + 1)`` Jacobian (last column of Q in J^T = QR)."""
    q, _ = np.linalg.qr(jacobian.T, mode="complete")
    return q[:, -1]


def orientation_sign(jacobian: np.ndarray, tangent: np.ndarray) -> float:
    """Sign of ``det [J; t]``: the orientation of ``t`` along the curve of ``J``."""
    return float(np.sign(np.linalg.det(np.vstack([jacobian, tangent]))))


@dataclass
class PathState:
    """Where the engine is. ``previous`` is the accepted point before ``point``."""

    point: np.ndarray
    tangent: np.ndarray
    previous: np.ndarray
    steps: int = 0
    rejected: int = 0
    corrector_iterations: int = 0
    jacobians: int = 0
    arc_length: float = 0.0
    turning_points: int = 0
    bifurcations: int = 0
    branch_switches: int = 0
    status: PathStatus = "running"
    message: str = ""
    path: list[np.ndarray] = field(default_factory=list)


@dataclass(frozen=True)
class StepControl:
    """Nominal first correction, chord contraction and turning angle (radians); step bounds."""

    distance: float = 0.3
    contraction: float = 0.3
    angle: float = 0.3
    max_accel: float = 2.0
    min_step: float = 1e-10
    max_corrector: int = 12
    corrector_tol: float = 1e-7
    bifurcation_shift: float = 1e-7


def trace_path(homotopy: Homotopy, start: np.ndarray, *, first_step: float, max_iterations: int,
               stop: Callable[[PathState], bool], control: StepControl = StepControl(),
               lambda_min: float | None = 0.0, record: bool = False) -> PathState:
    """Follow ``H = 0`` from ``start`` towards increasing ``lam`` until ``stop`` says so.

    ``stop`` is called at the start and after every accepted step; it may set the state's
    ``status``/``message`` itself (the engine then reports them). The result's status is
    ``"stopped"`` (``stop`` returned True), ``"max_iterations"`` or ``"collapsed"`` (the step fell
    below ``control.min_step``: a singularity the engine could not pass).
    """
    with np.errstate(all="ignore"):
        return _trace(homotopy, start, first_step=first_step, max_iterations=max_iterations, stop=stop,
                      control=control, lambda_min=lambda_min, record=record)


def _trace(homotopy: Homotopy, start: np.ndarray, *, first_step: float, max_iterations: int,
           stop: Callable[[PathState], bool], control: StepControl, lambda_min: float | None,
           record: bool) -> PathState:
    unit_last = np.zeros(homotopy.dim + 1)
    unit_last[-1] = 1.0
    _, linear = homotopy.linearize(start, unit_last)
    tangent = linear.solve(unit_last)  # towards increasing lam
    tangent /= np.linalg.norm(tangent)
    state = PathState(start.copy(), tangent, start.copy(), jacobians=1)
    if record:
        state.path.append(start.copy())
    orientation = 0.0
    step = first_step
    shift = np.zeros(homotopy.dim)  # perturbation of the first equation near a bifurcation
    countdown = 0.0
    failures = 0  # consecutive rejected steps
    while True:
        if stop(state):
            if state.status == "running":
                state.status = "stopped"
            return state
        if state.status != "running":
            return state
        if state.steps >= max_iterations:
            state.status, state.message = "max_iterations", f"stopped after max_iterations = {max_iterations}"
            return state
        if step < control.min_step:
            state.status = "collapsed"
            state.message = (f"step size fell below {control.min_step:g} at lambda "
                             f"{float(state.point[-1]):.6g} (a singularity the path could not "
                             f"pass)")
            return state
        accepted, candidate, new_tangent, sign, ratio = _step(homotopy, state, step, control,
                                                              unit_last, shift)
        if accepted and lambda_min is not None and candidate[-1] < lambda_min \
                and state.steps > 0:
            accepted = False
        if not accepted:
            state.rejected += 1
            step *= 0.5
            failures += 1
            if failures == _REFRESH_AFTER:
                # The tangent kept from the last step was computed at the predicted point, not
                # at the corrected one; where the path bends sharply the two differ by more
                # than the angle a step may turn, and every step from here would be rejected
                # however short. Recompute it where the path actually is (once per point).
                refreshed = _tangent_at(homotopy, state, unit_last)
                if refreshed is not None:
                    state.tangent = refreshed
            continue
        failures = 0
        if orientation != 0.0 and sign != 0.0 and sign != orientation:
            state.bifurcations += 1
            switched = _switch_branch(homotopy, state, step, control, unit_last, shift,
                                      orientation)
            if switched is not None:
                state.branch_switches += 1
                candidate, new_tangent, sign = switched
                orientation = sign
                ratio = 2.0  # start the new branch cautiously
            elif countdown == 0.0:
                # jumped over a simple bifurcation: retry on the perturbed (unfolded) curve
                shift[0], countdown = control.bifurcation_shift, 2.0 * step
                state.rejected += 1
                continue
        if sign != 0.0:
            orientation = sign
        if new_tangent[-1] * state.tangent[-1] < 0:
            state.turning_points += 1
        state.steps += 1
        state.arc_length += float(np.linalg.norm(candidate - state.point))
        state.previous, state.point, state.tangent = state.point, candidate, new_tangent
        if countdown > 0.0:
            countdown -= step
            if countdown <= 0.0:
                shift[0], countdown = 0.0, 0.0
        if record:
            state.path.append(candidate.copy())
        step = step / min(ratio, 2.0)


def _tangent_at(homotopy: Homotopy, state: PathState, unit_last: np.ndarray
                ) -> np.ndarray | None:
    """The unit tangent at the current point, oriented like the current tangent."""
    state.jacobians += 1
    try:
        _, linear = homotopy.linearize(state.point, state.tangent)
        tangent = linear.solve(unit_last)
    except (np.linalg.LinAlgError, ValueError):
        return None
    norm = float(np.linalg.norm(tangent))
    if not math.isfinite(norm) or norm == 0.0:
        return None
    return tangent / norm  # [DH; t_old] t = e gives t . t_old = 1 > 0: same direction


def _step(homotopy: Homotopy, state: PathState, step: float, control: StepControl,
          unit_last: np.ndarray, shift: np.ndarray, *, chord: bool = True
          ) -> tuple[bool, np.ndarray, np.ndarray, float, float]:
    """One predictor-corrector step: (accepted, point, tangent, det sign, step ratio)."""
    tangent = state.tangent
    candidate = state.point + step * tangent
    state.jacobians += 1
    try:
        current, linear = homotopy.linearize(candidate, tangent)
        current = current + shift
        new_tangent = linear.solve(unit_last)
        new_tangent /= np.linalg.norm(new_tangent)
        cosine = float(new_tangent @ tangent)
        angle = math.acos(min(1.0, cosine)) if math.isfinite(cosine) else math.inf
    except (np.linalg.LinAlgError, ValueError):
        return False, candidate, tangent, 0.0, 2.0
    first_distance, worst_contraction, previous_distance = 0.0, 0.0, 0.0
    for iteration in range(1, control.max_corrector + 1):
        if angle > 2.0 * control.angle or not np.all(np.isfinite(current)):
            return False, candidate, tangent, 0.0, 2.0
        state.corrector_iterations += 1
        correction = linear.solve(np.concatenate([-current, [0.0]]))
        distance = float(np.linalg.norm(correction))
        candidate = candidate + correction
        if not math.isfinite(distance) or distance > 2.0 * control.distance:
            return False, candidate, tangent, 0.0, 2.0
        if iteration == 1:
            first_distance = distance
        # Rounding in the residual grows with the point's size (log-probabilities of vanishing
        # actions fall like -lam * gap) times the conditioning (about lam).
        noise = 1e-13 * max(1.0, abs(float(candidate[-1]))) * float(np.abs(candidate).max())
        if distance <= max(control.corrector_tol, noise):
            if not chord:  # the tangent where the corrector ended
                _, linear = homotopy.linearize(candidate, tangent)
                new_tangent = linear.solve(unit_last)
                new_tangent /= np.linalg.norm(new_tangent)
                angle = math.acos(min(1.0, max(-1.0, float(new_tangent @ tangent))))
            ratio = max(math.sqrt(first_distance / control.distance),
                        math.sqrt(worst_contraction / control.contraction),
                        angle / control.angle, 1.0 / control.max_accel)
            return True, candidate, new_tangent, linear.determinant_sign(), ratio
        if iteration >= 2:
            contraction = distance / (previous_distance + 1e-300)
            worst_contraction = max(worst_contraction, contraction)
            if contraction > 2.0 * control.contraction:
                return False, candidate, tangent, 0.0, 2.0
        previous_distance = distance
        if chord:
            current = homotopy.residual(candidate) + shift
        else:
            try:
                current, linear = homotopy.linearize(candidate, tangent)
            except (np.linalg.LinAlgError, ValueError):
                break
            current = current + shift
    return False, candidate, tangent, 0.0, 2.0


def _switch_branch(homotopy: Homotopy, state: PathState, step: float, control: StepControl,
                   unit_last: np.ndarray, shift: np.ndarray, orientation: float
                   ) -> tuple[np.ndarray, np.ndarray, float] | None:
    """Leave a simple bifurcation point between ``state.point`` and ``step`` along the branch
    that crosses the current one; None when that fails. Returns (point, tangent, det sign)."""
    low, high = 0.0, step
    for _ in range(30):  # bisection on the sign of det [DH; t] along the current branch
        middle = 0.5 * (low + high)
        accepted, _, _, sign, _ = _step(homotopy, state, middle, control, unit_last, shift)
        if not accepted or sign == 0.0:
            break
        if sign == orientation:
            low = middle
        else:
            high = middle
        if high - low <= 1e-6 * step:
            break
    accepted, point, _, _, _ = _step(homotopy, state, 0.5 * (low + high), control, unit_last,
                                     shift)
    if not accepted:
        return None
    jacobian = homotopy.jacobian(point)
    u, _, vt = np.linalg.svd(jacobian)
    kernel = vt[-2:]  # right singular vectors of the two smallest singular values
    incoming = kernel.T @ (kernel @ state.tangent)
    if np.linalg.norm(incoming) < 0.5:
        return None  # the kernel does not contain the incoming direction: not a simple branch
    incoming /= np.linalg.norm(incoming)
    # the kernel vector orthogonal to the incoming tangent
    other = kernel[0] - (kernel[0] @ incoming) * incoming
    if np.linalg.norm(other) < 1e-3:
        other = kernel[1] - (kernel[1] @ incoming) * incoming
    other /= np.linalg.norm(other)
    # Which half of the crossing branch the perturbed equations H + eps * r = 0 (r = (1, ..,
    # 1), eps > 0) connect to the incoming half: with psi the left kernel vector of DH and
    # b = psi . D^2H[incoming, other], the reduced bifurcation equation near the point is
    # beta (b alpha + c beta / 2) = -eps psi . r, so on the incoming side (alpha < 0) the
    # perturbed curve has sign(beta) = sign((psi . r) b) and keeps it onto the crossing branch.
    # (Perturbing the first equation alone, as Gambit does, need not unfold a bifurcation that
    # a symmetry of the game causes; on McKelvey and McLennan's 2x2x2 game this rule ends
    # where Gambit's tracer does.)
    psi = u[:, -1]
    delta = 1e-6
    bend = float(psi @ ((homotopy.jacobian(point + delta * other)
                         - homotopy.jacobian(point - delta * other)) @ incoming)) / (2 * delta)
    preferred = float(np.sign(float(psi.sum()) * bend)) or float(np.sign(psi[0] * bend)) or 1.0
    length = max(10.0 * (high - low), 1e-3)
    # full Newton with loose acceptance: the chord corrector is poor this close to a singular
    # Jacobian, and what counts is landing on the other branch (checked just below)
    loose = StepControl(distance=0.5, contraction=0.45, angle=math.inf,
                        max_corrector=3 * control.max_corrector,
                        corrector_tol=control.corrector_tol)
    found = []
    for direction in (preferred * other, -preferred * other):
        for size in (length, 10.0 * length, 100.0 * length):
            branch = PathState(point.copy(), direction, point.copy())
            accepted, candidate, tangent, sign, _ = _step(homotopy, branch, size, loose,
                                                          unit_last, shift, chord=False)
            if not accepted or sign == 0.0:
                continue
            if float(tangent @ (candidate - point)) < 0:
                tangent, sign = -tangent, -sign
            # on the other branch: its tangent is not the incoming one
            if abs(float(tangent @ incoming)) < 1.0 - 1e-3:
                found.append((candidate, tangent, sign))
                break
    return found[0] if found else None
