"""Learning dynamics as approximate equilibrium solvers: fictitious play, regret matching and
the replicator dynamics.

These are *approximate* solvers: they return the profile the dynamics reach after a fixed
budget, and the returned equilibrium's ``regret`` (largest deviation gain relative to the payoff
range) says how close to a Nash equilibrium it is. ``status`` is ``"success"`` when that regret
is at most ``tol`` and ``"failed"`` otherwise; none of them is guaranteed to converge in
general-sum games (Shapley's 3x3 game defeats fictitious play).

Definitions
-----------
- *Fictitious play* (Brown 1951): at every round each player best-responds to the empirical
  frequencies of the others' past actions (simultaneous updating, ties broken at random by
  ``rng``). The result is each player's empirical frequency of play; it converges to Nash in
  two-player zero-sum games (Robinson 1951), 2x2 games and potential games.
- *Regret matching* (Hart and Mas-Colell 2000): each player draws her action with probability
  proportional to the positive part of her cumulative external regrets. Empirical joint play
  converges to the set of coarse correlated equilibria; the result is each player's marginal
  empirical frequency, a Nash equilibrium in the limit for two-player zero-sum games.
- *Replicator dynamics* (Taylor and Jonker 1978), one population per player:
  ``dx_ia/dt = x_ia (u_ia(x_-i) - x_i . u_i(x_-i))``, integrated with classical fourth-order
  Runge-Kutta steps on payoffs rescaled to ``[0, 1]`` (so ``time`` is in units of the inverse
  payoff range). Interior starting points stay interior; the flow can stop at any rest point,
  including non-Nash pure profiles, which the regret exposes.

Examples
--------
>>> import numpy as np
>>> from gametools import NormalFormGame
>>> from gametools.solvers.dynamics import fictitious_play, replicator_dynamics
>>> rps = NormalFormGame.zero_sum([[0, -1, 1], [1, 0, -1], [-1, 1, 0]])
>>> result = fictitious_play(rps, iterations=5000, rng=0)
>>> result.max_regret < 0.01
True
>>> coordination = NormalFormGame.from_bimatrix([[2, 0], [0, 1]], [[2, 0], [0, 1]])
>>> final = replicator_dynamics(coordination, x0=([0.6, 0.4], [0.6, 0.4]), time=50.0)
>>> [np.round(x, 6).tolist() for x in final.equilibria[0].strategies]
[[1.0, 0.0], [1.0, 0.0]]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from gametools.errors import InvalidArgumentError
from gametools.policies import validate_profile
from gametools.solvers.result import SolverResult, make_equilibrium
from gametools.solvers.support import (
    normal_form_game,
    payoff_blocks,
    positive_option,
    unit_payoffs,
)

__all__ = ["fictitious_play", "regret_matching", "replicator_dynamics"]


def _iterations(value: int) -> int:
    if int(value) != value or int(value) < 1:
        raise InvalidArgumentError(f"iterations: must be a positive integer (got {value!r})")
    return int(value)


def _action_values(payoffs: np.ndarray, strategies: Sequence[np.ndarray]) -> list[np.ndarray]:
    values, _ = payoff_blocks(payoffs, strategies)
    return values


def _finish(game: Any, profile: Sequence[np.ndarray], method: str, iterations: int, tol: float,
            extra: dict[str, Any]) -> SolverResult:
    equilibrium = make_equilibrium(game, profile)
    converged = equilibrium.regret <= tol
    message = (f"approximate: regret {equilibrium.regret:.3g} "
               f"{'<=' if converged else '>'} tol {tol:g} after {iterations} iterations")
    return SolverResult((equilibrium,), method=method,
                        status="success" if converged else "failed",
                        iterations=iterations, message=message, extra=extra)


def fictitious_play(game: Any, *, iterations: int = 10000,
                    rng: np.random.Generator | int | None = None, tol: float = 1e-2
                    ) -> SolverResult:
    """Simultaneous fictitious play; returns the players' empirical frequencies.

    Parameters
    ----------
    game : NormalFormGame or nashpy.Game
        Any number of players.
    iterations : int
        Rounds of play (the first round is uniformly random).
    rng : numpy.random.Generator or int or None
        Breaks ties among best responses and draws the first round.
    tol : float
        ``status`` is ``"success"`` iff the result's relative regret is at most ``tol``.

    Returns
    -------
    SolverResult
        One approximate equilibrium: the time-average profile, shapes ``(n_i,)``.
    """
    game = normal_form_game(game, "fictitious_play")
    iterations = _iterations(iterations)
    tol = positive_option("tol", tol)
    generator = np.random.default_rng(rng)
    payoffs, _ = unit_payoffs(game)
    counts = [np.zeros(n) for n in game.num_actions]
    for i, n in enumerate(game.num_actions):
        counts[i][generator.integers(n)] += 1.0
    for _ in range(iterations - 1):
        beliefs = [c / c.sum() for c in counts]
        values = _action_values(payoffs, beliefs)
        for i, u in enumerate(values):
            best = np.flatnonzero(u >= u.max() - 1e-12)
            counts[i][best[generator.integers(len(best))] if len(best) > 1 else best[0]] += 1.0
    profile = [c / c.sum() for c in counts]
    return _finish(game, profile, "fictitious-play", iterations, tol, {})


def regret_matching(game: Any, *, iterations: int = 10000,
                    rng: np.random.Generator | int | None = None, tol: float = 1e-2
                    ) -> SolverResult:
    """Hart and Mas-Colell's regret matching; returns the marginal empirical frequencies.

    Parameters
    ----------
    game : NormalFormGame or nashpy.Game
        Any number of players.
    iterations : int
        Rounds of (sampled) play.
    rng : numpy.random.Generator or int or None
        Draws every player's action each round.
    tol : float
        ``status`` is ``"success"`` iff the result's relative regret is at most ``tol``.

    Returns
    -------
    SolverResult
        One approximate equilibrium (the marginals of empirical play). ``extra``:
        ``average_regret`` (largest average external regret over players, relative to the
        payoff range: the coarse-correlated-equilibrium gap of empirical joint play).
    """
    game = normal_form_game(game, "regret_matching")
    iterations = _iterations(iterations)
    tol = positive_option("tol", tol)
    generator = np.random.default_rng(rng)
    payoffs, _ = unit_payoffs(game)
    num_players = game.num_players
    regrets = [np.zeros(n) for n in game.num_actions]
    counts = [np.zeros(n) for n in game.num_actions]
    draws = generator.random((iterations, num_players))
    for t in range(iterations):
        actions = []
        for i, regret in enumerate(regrets):
            positive = np.maximum(regret, 0.0)
            total = positive.sum()
            probabilities = positive / total if total > 0 else np.full(len(regret),
                                                                         1.0 / len(regret))
            cumulative = np.cumsum(probabilities)
            actions.append(min(int(np.searchsorted(cumulative, draws[t, i] * cumulative[-1],
                                                   side="right")), len(regret) - 1))
        for i in range(num_players):
            index: list[Any] = list(actions)
            index[i] = slice(None)
            against = payoffs[i][tuple(index)]
            regrets[i] += against - against[actions[i]]
            counts[i][actions[i]] += 1.0
    profile = [c / iterations for c in counts]
    average_regret = max(float(np.maximum(r, 0.0).max()) for r in regrets) / iterations
    return _finish(game, profile, "regret-matching", iterations, tol,
                   {"average_regret": average_regret})


def replicator_dynamics(game: Any, *, x0: Sequence[Any] | None = None, time: float = 100.0,
                        steps: int = 10000, record: bool = False, tol: float = 1e-6
                        ) -> SolverResult:
    """Multi-population replicator dynamics integrated by fixed-step RK4.

    Parameters
    ----------
    game : NormalFormGame or nashpy.Game
        Any number of players.
    x0 : sequence of array_like, shapes (n_i,), optional
        Starting profile (default uniform). Actions with zero probability stay at zero.
    time : float
        Integration horizon, in units of the inverse payoff range.
    steps : int
        Number of RK4 steps.
    record : bool
        Store the trajectory in ``extra["trajectory"]`` as a list of arrays ``(steps + 1, n_i)``
        and the times in ``extra["times"]``.
    tol : float
        ``status`` is ``"success"`` iff the final point's relative regret is at most ``tol``.

    Returns
    -------
    SolverResult
        The final point, certified by its regret.
    """
    game = normal_form_game(game, "replicator_dynamics")
    time = positive_option("time", time)
    steps = _iterations(steps)
    tol = positive_option("tol", tol)
    payoffs, _ = unit_payoffs(game)
    if x0 is None:
        state = [np.full(n, 1.0 / n) for n in game.num_actions]
    else:
        state = [np.array(x, dtype=float) for x in validate_profile(game, x0)]
    sizes = np.cumsum([0, *game.num_actions])

    def field(flat: np.ndarray) -> np.ndarray:
        xs = [flat[sizes[i]:sizes[i + 1]] for i in range(len(sizes) - 1)]
        values = _action_values(payoffs, xs)
        return np.concatenate([x * (u - x @ u) for x, u in zip(xs, values)])

    point = np.concatenate(state)
    dt = time / steps
    trajectory = [point.copy()] if record else []
    for _ in range(steps):
        k1 = field(point)
        k2 = field(point + 0.5 * dt * k1)
        k3 = field(point + 0.5 * dt * k2)
        k4 = field(point + dt * k3)
        point = point + dt / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
        # RK4 keeps each block's sum exactly up to rounding but may undershoot zero near the
        # boundary; clip and renormalise so the state stays a profile.
        point = np.clip(point, 0.0, None)
        for i in range(len(sizes) - 1):
            point[sizes[i]:sizes[i + 1]] /= point[sizes[i]:sizes[i + 1]].sum()
        if record:
            trajectory.append(point.copy())
    profile = [point[sizes[i]:sizes[i + 1]] for i in range(len(sizes) - 1)]
    extra: dict[str, Any] = {}
    if record:
        stacked = np.array(trajectory)
        extra["times"] = np.linspace(0.0, time, steps + 1)
        extra["trajectory"] = [stacked[:, sizes[i]:sizes[i + 1]] for i in range(len(sizes) - 1)]
    return _finish(game, profile, "replicator", steps, tol, extra)
