"""Stationary equilibria of stochastic (Markov) games.

Definitions
-----------
A *stationary* policy picks a mixed action from the current state only. In a two-player zero-sum
discounted stochastic game (``r_0 = -r_1``) the *Shapley operator*

    (T v)(s) = val[ r_0(s, .) + gamma * sum_s' P(s' | s, .) v(s') ],

where ``val`` is the value of the ``n_0 x n_1`` matrix game (player 0 maximises), is a
``gamma``-contraction; its fixed point ``v*`` is the game's value and optimal strategies of the
stage games at ``v*`` form a stationary equilibrium (Shapley 1953). In a terminating game
(discount 1 allowed because every joint policy ends almost surely) ``T`` is a contraction in a
weighted sup norm (stochastic shortest paths; Bertsekas and Tsitsiklis 1991).

Solvers
-------
- :func:`shapley_iteration` iterates ``v <- T v`` (value iteration with a linear-programming stage
  solver). Linear convergence at rate ``gamma``: slow when ``gamma`` is close to 1.
- :func:`hoffman_karp` is strategy iteration (Hoffman and Karp 1966, discounted form of Rao,
  Chandrasekaran and Nair 1973) accelerated by safeguarded Newton steps. A *strategy step* takes
  player 0's optimal stage strategies ``f`` at ``v`` and replaces ``v`` by player 0's exact
  guaranteed value with ``f`` (player 1's MDP against ``f``, solved by policy iteration with
  linear solves); repeated strategy steps increase ``v`` monotonically to ``v*``. A *Newton
  step* (Pollatschek and Avi-Itzhak 1969) replaces ``v`` by the exact value of the pair of
  optimal stage strategies at ``v`` (one linear solve); it converges quadratically near ``v*``
  but can cycle far from it, so it is accepted only when it halves the smallest Shapley
  residual ``|T v - v|`` seen so far, and a strategy step is taken otherwise (Filar and
  Tolwinski 1991 discuss such safeguards). Finitely many Newton steps are accepted before the
  tolerance is met, and between them the strategy steps converge, so the method always
  converges. It terminates finitely only when ``v*`` is reached exactly (e.g. pure optimal
  strategies); values can be irrational, so in general it stops on the residual bound.
- :func:`stochastic_fictitious_play` (general-sum, any number of players, approximate): every
  player best-responds (smoothly) to the others' average stationary policies in the stage games
  built from her own slowly-updated continuation values (two-timescale fictitious play,
  Leslie, Perkins and Xu 2020; Sayin, Parise and Ozdaglar 2022). Converges in zero-sum and
  identical-interest games; in general-sum games it may not, so the result is labelled
  approximate and carries its exact NashConv certificate (the best iterate is returned).

The stage matrix games are solved for all states at once: a guessed square support (the one
that was optimal at the previous iterate) is solved by batched linear algebra and verified
exactly against all pure replies; only stage games whose support changed go to one block-diagonal
linear program (:func:`~gametools.solvers.zero_sum.matrix_game_values`, one HiGHS call), whose
solution is then polished the same way.

Every profile returned is certified by
:func:`~gametools.solvers.result.make_markov_equilibrium` (exact NashConv by the library's
evaluator, regret relative to :func:`~gametools.solvers.result.reward_range`).
These solvers need fully observed games: a state-dependent stationary policy must be
expressible as an observation-indexed one.

References
----------
- L. S. Shapley (1953), Stochastic games, PNAS 39, 1095-1100.
- A. J. Hoffman and R. M. Karp (1966), On nonterminating stochastic games, Management Science 12,
  359-370.
- S. S. Rao, R. Chandrasekaran and K. P. K. Nair (1973), Algorithms for discounted stochastic
  games, J. Optimization Theory and Applications 11, 627-637.
- M. A. Pollatschek and B. Avi-Itzhak (1969), Algorithms for stochastic games with geometrical
  interpretation, Management Science 15, 399-415.
- J. A. Filar and B. Tolwinski (1991), On the algorithm of Pollatschek and Avi-Itzhak, in
  Stochastic Games and Related Topics, Kluwer, 59-70.
- J. A. Filar and K. Vrieze (1997), Competitive Markov Decision Processes, Springer, ch. 3 and 6.
- D. S. Leslie, S. Perkins and Z. Xu (2020), Best-response dynamics in zero-sum stochastic games,
  J. Economic Theory 189.
- M. O. Sayin, F. Parise and A. Ozdaglar (2022), Fictitious play in zero-sum stochastic games,
  SIAM J. Control and Optimization 60, 2095-2114.

Examples
--------
The Big Match at discount 0.9 has value 0.5 per step, i.e. 0.5 / (1 - 0.9) = 5 in the playing
state:

>>> import numpy as np
>>> from gametools import MarkovGame
>>> from gametools.solvers.stochastic import hoffman_karp, shapley_iteration
>>> transitions = np.zeros((3, 2, 2, 3))
>>> transitions[0, 0, 0, 1] = transitions[0, 0, 1, 2] = 1.0
>>> transitions[0, 1, :, 0] = 1.0
>>> transitions[1, :, :, 1] = transitions[2, :, :, 2] = 1.0
>>> reward = np.zeros((3, 2, 2))
>>> reward[0] = [[1, 0], [0, 1]]
>>> reward[1] = 1.0
>>> game = MarkovGame(transitions, np.stack([reward, -reward]), [1, 0, 0], 0.9)
>>> result = hoffman_karp(game)
>>> round(float(result.extra["state_values"][0]), 10), result.max_regret <= 1e-10
(5.0, True)
>>> np.round(result.equilibria[0].strategies[0][0], 6).tolist()  # T w.p. (1-d)/(2-d)
[0.090909, 0.909091]
>>> abs(float(shapley_iteration(game).extra["state_values"][0]) - 5.0) < 1e-9
True
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from gametools.errors import InvalidArgumentError, UnsupportedGameError
from gametools.exploitability import nash_conv
from gametools.mdp import (
    MarkovArrays,
    contract_players,
    evaluate_policy,
    markov_arrays,
    policy_iteration,
)
from gametools.model import MarkovGame
from gametools.solvers.result import SolverResult, make_markov_equilibrium, reward_range
from gametools.solvers.support import (
    NotFullyObservedError,
    positive_count,
    positive_option,
    require_sees_state,
)
from gametools.solvers.zero_sum import matrix_game_values
from gametools.structure import observation_policies

__all__ = [
    "NotFullyObservedError",
    "NotZeroSumError",
    "hoffman_karp",
    "shapley_iteration",
    "stochastic_fictitious_play",
]


class NotZeroSumError(UnsupportedGameError):
    """A zero-sum solver was given a game whose rewards do not sum to zero."""



# ------------------------------------------------------------------------------------------
# shared preparation
# ------------------------------------------------------------------------------------------

def _check_zero_sum(game: MarkovGame, solver: str, tol: float) -> None:
    if game.num_players != 2:
        raise NotZeroSumError(f"{solver} solves two-player zero-sum games; this game has "
                              f"{game.num_players} players")
    total = np.abs(game.rewards[0] + game.rewards[1])[~game.terminal]
    bound = tol * reward_range(game)
    if total.size and float(total.max()) > bound:
        index = np.unravel_index(int(np.argmax(total)), total.shape)
        state = int(np.flatnonzero(~game.terminal)[index[0]])
        raise NotZeroSumError(
            f"{solver} needs rewards[0] + rewards[1] == 0 (within {bound:.3g}); at state {state}, "
            f"joint action {tuple(int(k) for k in index[1:])} they sum to "
            f"{float((game.rewards[0] + game.rewards[1])[(state, *index[1:])]):.6g}; use a "
            "general-sum solver (stochastic_fictitious_play, backward_induction)")


def _horizon_factor(arrays: MarkovArrays) -> float:
    """Factor ``c`` in the stopping bound ``|v - v*| <= c * |T v - v|``.

    ``1 / (1 - gamma)`` for discounted games (the contraction bound); for discount 1 the longest
    expected time to termination over all joint policies (finite: every policy terminates), the
    analogous bound for stochastic shortest paths.
    """
    game = arrays.game
    if game.discount < 1.0:
        return 1.0 / (1.0 - game.discount)
    ones = np.ones((game.num_states, game.num_joint_actions)) * arrays.live[:, None]
    longest, _, _ = policy_iteration(arrays.transitions, ones, 1.0)
    return float(max(1.0, longest.max()))


def _rounding_floor(values: np.ndarray, scale: float) -> float:
    """Smallest Shapley residual that floating-point rounding lets us resolve at ``values``."""
    return 1e3 * float(np.finfo(float).eps) * max(float(np.abs(values).max()), scale)


# ------------------------------------------------------------------------------------------
# batched matrix games
# ------------------------------------------------------------------------------------------

@dataclass
class _StageSolution:
    values: np.ndarray  # (B,)
    row: np.ndarray  # (B, m) maximiser's strategies
    column: np.ndarray  # (B, n) minimiser's strategies
    row_support: np.ndarray  # (B, m) bool
    column_support: np.ndarray  # (B, n) bool
    lp_solved: int  # how many games needed the LP


def _square_solve(payoffs: np.ndarray, row_support: np.ndarray, column_support: np.ndarray,
                  atol: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Solve matrix games on guessed square supports and verify optimality against all replies.

    Parameters: payoffs ``(B, m, n)``; supports ``(B, m)``, ``(B, n)`` bool with equal counts per
    game; ``atol`` ``(B,)``. Returns ``ok (B,)``, values ``(B,)``, ``x (B, m)``, ``y (B, n)``.
    """
    count, m, n = payoffs.shape
    ok = np.zeros(count, dtype=bool)
    values = np.zeros(count)
    rows = np.zeros((count, m))
    columns = np.zeros((count, n))
    sizes = row_support.sum(axis=1)
    for k in np.unique(sizes):
        group = np.flatnonzero((sizes == k) & (column_support.sum(axis=1) == k))
        if k == 0 or group.size == 0:
            continue
        row_index = np.nonzero(row_support[group])[1].reshape(group.size, k)
        column_index = np.nonzero(column_support[group])[1].reshape(group.size, k)
        sub = payoffs[group[:, None, None], row_index[:, :, None], column_index[:, None, :]]
        # [[A_IJ, -1], [1, 0]] [y; v] = [0; 1] and the same with A_IJ transposed for x
        system = np.zeros((group.size, k + 1, k + 1))
        system[:, :k, :k] = sub
        system[:, :k, k] = -1.0
        system[:, k, :k] = 1.0
        rhs = np.zeros((group.size, k + 1))
        rhs[:, k] = 1.0
        transposed = system.copy()
        transposed[:, :k, :k] = np.swapaxes(sub, 1, 2)
        solved = np.ones(group.size, dtype=bool)
        try:
            column_part = np.linalg.solve(system, rhs[..., None])[..., 0]
            row_part = np.linalg.solve(transposed, rhs[..., None])[..., 0]
        except np.linalg.LinAlgError:  # some square support is singular: go one by one
            column_part = np.zeros((group.size, k + 1))
            row_part = np.zeros((group.size, k + 1))
            for g in range(group.size):
                try:
                    column_part[g] = np.linalg.solve(system[g], rhs[g])
                    row_part[g] = np.linalg.solve(transposed[g], rhs[g])
                except np.linalg.LinAlgError:
                    solved[g] = False
        x = np.zeros((group.size, m))
        y = np.zeros((group.size, n))
        np.put_along_axis(x, row_index, row_part[:, :k], axis=1)
        np.put_along_axis(y, column_index, column_part[:, :k], axis=1)
        value = 0.5 * (row_part[:, k] + column_part[:, k])
        tol = atol[group]
        game = payoffs[group]
        guaranteed = np.einsum("gm,gmn->gn", x, game).min(axis=1)  # row player's floor
        conceded = np.einsum("gmn,gn->gm", game, y).max(axis=1)  # column player's ceiling
        good = (solved & np.isfinite(value) & (x.min(axis=1) >= -1e-13)
                & (y.min(axis=1) >= -1e-13) & (guaranteed >= value - tol)
                & (conceded <= value + tol))
        x = np.clip(x, 0.0, None)
        y = np.clip(y, 0.0, None)
        x /= np.where(good, x.sum(axis=1), 1.0)[:, None]
        y /= np.where(good, y.sum(axis=1), 1.0)[:, None]
        ok[group] = good
        values[group] = value
        rows[group] = x
        columns[group] = y
    return ok, values, rows, columns


def _solve_matrix_games(payoffs: np.ndarray, *, row_support: np.ndarray | None = None,
                        column_support: np.ndarray | None = None, rtol: float = 1e-12
                        ) -> _StageSolution:
    """Values and optimal strategies of ``B`` matrix games ``(B, m, n)`` (rows maximise).

    Games whose previous supports (if given) still verify are solved by linear algebra; the
    rest by one LP, polished on the LP's support when it is square. Certification is against
    every pure reply with absolute tolerance ``rtol * max|A_b|``.
    """
    count, m, n = payoffs.shape
    atol = rtol * np.maximum(np.abs(payoffs).max(axis=(1, 2)), 1e-300)
    values = np.zeros(count)
    x = np.zeros((count, m))
    y = np.zeros((count, n))
    done = np.zeros(count, dtype=bool)
    if row_support is None or column_support is None:
        row_support = np.zeros((count, m), dtype=bool)
        column_support = np.zeros((count, n), dtype=bool)
    else:
        ok, v, xs, ys = _square_solve(payoffs, row_support, column_support, atol)
        done = ok
        values[ok], x[ok], y[ok] = v[ok], xs[ok], ys[ok]
    todo = np.flatnonzero(~done)
    row_support = row_support.copy()
    column_support = column_support.copy()
    if todo.size:
        v, xs, ys = matrix_game_values(payoffs[todo])
        rs, cs = xs > 1e-9, ys > 1e-9
        ok, pv, px, py = _square_solve(payoffs[todo], rs, cs, atol[todo])
        values[todo] = np.where(ok, pv, v)
        x[todo] = np.where(ok[:, None], px, xs)
        y[todo] = np.where(ok[:, None], py, ys)
        # remember the LP supports even when degenerate (a later iterate may make them square)
        row_support[todo] = rs
        column_support[todo] = cs
    return _StageSolution(values, x, y, row_support, column_support, int(todo.size))


# ------------------------------------------------------------------------------------------
# zero-sum solvers
# ------------------------------------------------------------------------------------------

def _zero_sum_setup(game: Any, solver: str, zero_sum_tol: float) -> MarkovArrays:
    game = require_sees_state(game, solver)
    _check_zero_sum(game, solver, zero_sum_tol)
    return markov_arrays(game)


def _stage(arrays: MarkovArrays, values: np.ndarray, live: np.ndarray,
           previous: _StageSolution | None) -> _StageSolution:
    """Solve the stage games of the live states at continuation values ``values`` ``(S,)``."""
    game = arrays.game
    n0, n1 = game.num_actions
    stage = arrays.stage_payoffs(np.stack([values, -values]))[0][live].reshape(-1, n0, n1)
    if previous is None:
        return _solve_matrix_games(stage)
    return _solve_matrix_games(stage, row_support=previous.row_support,
                               column_support=previous.column_support)


def _full_policies(arrays: MarkovArrays, solution: _StageSolution) -> tuple[np.ndarray, np.ndarray]:
    game = arrays.game
    policies = []
    for i, strategies in enumerate((solution.row, solution.column)):
        policy = np.full((game.num_states, game.num_actions[i]), 1.0 / game.num_actions[i])
        policy[arrays.live] = strategies
        policies.append(policy)
    return policies[0], policies[1]


def _zero_sum_result(arrays: MarkovArrays, method: str, values: np.ndarray, solution: _StageSolution,
                     *, status: str, iterations: int, message: str, extra: dict[str, Any]
                     ) -> SolverResult:
    game = arrays.game
    policies = observation_policies(game, _full_policies(arrays, solution))
    equilibrium = make_markov_equilibrium(game, policies)
    state_values = values.copy()
    state_values.flags.writeable = False
    extra = {"state_values": state_values, **extra}
    text = (f"{message}; certified regret {equilibrium.regret:.3g} of the reward range "
            f"(exact NashConv evaluation)")
    return SolverResult((equilibrium,), method, status=status,  # type: ignore[arg-type]
                        complete=False, exact=False, iterations=iterations, message=text,
                        extra=extra)


def shapley_iteration(game: MarkovGame, *, tol: float = 1e-10, max_iterations: int = 100_000,
                      zero_sum_tol: float = 1e-12) -> SolverResult:
    """Shapley's value iteration for a two-player zero-sum stochastic game.

    Parameters
    ----------
    game : MarkovGame
        Two players, ``rewards[0] + rewards[1] == 0`` (within ``zero_sum_tol`` of the reward
        range) at every non-terminal state, fully observed.
    tol : float
        Stop when the bound on ``max_s |v(s) - v*(s)|`` (``|T v - v| / (1 - gamma)``, or times
        the longest expected time to termination when ``gamma = 1``) is at most
        ``tol * reward_range(game)``; or when the residual reaches floating-point rounding
        level (``1e3 * eps * max|v|``; the message then says so).
    max_iterations : int
    zero_sum_tol : float
        Allowed ``|rewards[0] + rewards[1]|``, relative to the reward range.

    Returns
    -------
    SolverResult
        One stationary equilibrium: the optimal stage strategies at the final values (policies
        ``(O_i, n_i)``), certified by exact NashConv. ``extra["state_values"]`` ``(S,)`` is player
        0's value in every state (0 at terminal states), ``extra["error_bound"]`` the bound on
        the value error, ``extra["lp_calls"]`` how many stage games needed the LP (the others
        reused their previous support). Status ``"failed"`` if the bound was not reached.

    Raises
    ------
    NotZeroSumError, NotFullyObservedError, InvalidArgumentError
    """
    tol = positive_option("tol", tol)
    max_iterations = positive_count("max_iterations", max_iterations)
    arrays = _zero_sum_setup(game, "shapley_iteration", zero_sum_tol)
    start = time.perf_counter()
    scale = reward_range(arrays.game)
    factor = _horizon_factor(arrays)
    live = arrays.live
    values = np.zeros(arrays.game.num_states)
    solution = None
    lp_calls = 0
    bound = np.inf
    status = "failed"
    limited = False
    iteration = 0
    for iteration in range(1, max_iterations + 1):
        solution = _stage(arrays, values, live, solution)
        lp_calls += solution.lp_solved
        updated = np.zeros_like(values)
        updated[live] = solution.values
        residual = float(np.abs(updated - values).max())
        values = updated
        bound = residual * factor
        if bound <= tol * scale:
            status = "success"
            break
        if residual <= _rounding_floor(values, scale):
            # tol asks for more than floating point can resolve (discount very close to 1)
            status = "success"
            limited = True
            break
    # stage strategies at the final values (the last solve used the previous values)
    solution = _stage(arrays, values, live, solution)
    lp_calls += solution.lp_solved
    message = (f"Shapley value iteration {'converged' if status == 'success' else 'stopped'} "
               f"after {iteration} iterations (value error bound {bound:.3g}"
               f"{', limited by floating-point rounding' if limited else ''})")
    return _zero_sum_result(arrays, "shapley", values, solution, status=status,
                            iterations=iteration, message=message,
                            extra={"error_bound": bound, "lp_calls": lp_calls,
                                   "seconds": time.perf_counter() - start})


def hoffman_karp(game: MarkovGame, *, tol: float = 1e-10, max_iterations: int = 1000,
                 zero_sum_tol: float = 1e-12) -> SolverResult:
    """Hoffman-Karp strategy iteration with safeguarded Newton steps (zero-sum, two players).

    Each step either evaluates the current pair of optimal stage strategies exactly (Newton /
    Pollatschek-Avi-Itzhak; kept when it halves the best Shapley residual so far) or fixes
    player 0's optimal stage strategies and solves player 1's MDP against them exactly
    (Hoffman-Karp; policy iteration with linear solves, warm-started), which gives player 0's
    guaranteed values. See the module docstring for why this always converges.

    Parameters
    ----------
    game : MarkovGame
        Two players, zero-sum, fully observed (as for :func:`shapley_iteration`).
    tol : float
        Stop when the Shapley residual bound ``|T v - v| / (1 - gamma)`` (times the longest
        expected time to termination when ``gamma = 1``) is at most ``tol * reward_range``, or
        when the residual stops decreasing or reaches floating-point rounding level (the exact
        fixed point up to rounding; the message then says so).
    max_iterations : int
    zero_sum_tol : float

    Returns
    -------
    SolverResult
        One stationary equilibrium (both players' optimal stage strategies at the final values),
        certified by exact NashConv; ``extra["state_values"]`` ``(S,)`` player 0's values,
        ``extra["error_bound"]``, ``extra["lp_calls"]``, ``extra["newton_steps"]`` and
        ``extra["strategy_steps"]`` (``iterations`` is their sum). Status ``"failed"`` only if
        rounding stalls the residual above ``tol`` (the profile is still certified).

    Raises
    ------
    NotZeroSumError, NotFullyObservedError, InvalidArgumentError
    """
    tol = positive_option("tol", tol)
    max_iterations = positive_count("max_iterations", max_iterations)
    arrays = _zero_sum_setup(game, "hoffman_karp", zero_sum_tol)
    start = time.perf_counter()
    markov = arrays.game
    scale = reward_range(markov)
    factor = _horizon_factor(arrays)
    live = arrays.live
    num_states = markov.num_states
    n0, n1 = markov.num_actions
    # player 1's rewards by (state, own action, player 0's action): r_1 = -r_0
    rewards_0 = arrays.rewards[0].reshape(num_states, n0, n1)
    # mixers that contract (S, n0, n1) rows of the transition matrix with one player's strategy
    flat = np.arange(num_states * n0 * n1).reshape(num_states, n0, n1)
    rows_1 = np.broadcast_to(np.arange(num_states)[:, None, None] * n1
                             + np.arange(n1)[None, None, :], flat.shape)
    rows_joint = np.broadcast_to(np.arange(num_states)[:, None, None], flat.shape)

    def mix(rows: np.ndarray, weights: np.ndarray, size: int) -> sp.csr_array:
        mixer = sp.csr_array((weights.ravel(), (rows.ravel(), flat.ravel())),
                             shape=(size, flat.size))
        return sp.csr_array(mixer @ arrays.transitions)

    def residual_of(values: np.ndarray, solution: _StageSolution) -> float:
        shapley = np.zeros(num_states)
        shapley[live] = solution.values
        return float(np.abs(shapley - values).max())

    values = np.zeros(num_states)
    solution = _stage(arrays, values, live, None)
    lp_calls = solution.lp_solved
    residual = residual_of(values, solution)
    best_residual = residual
    responses = None
    newton_steps = strategy_steps = 0
    status = "failed"
    bound = residual * factor
    iteration = 0
    stalled = 0
    limited = False
    for iteration in range(1, max_iterations + 1):
        if bound <= tol * scale:
            status = "success"
            break
        x, y = _full_policies(arrays, solution)
        # Pollatschek-Avi-Itzhak (Newton) candidate: the exact values of the stage-optimal pair
        joint = x[:, :, None] * y[:, None, :]
        chain = mix(rows_joint, joint, num_states)
        stage_rewards = np.einsum("sab,sab->s", joint, rewards_0)[:, None]
        candidate, _, _ = evaluate_policy(chain, stage_rewards, markov.discount)
        candidate = candidate[0]
        candidate_solution = _stage(arrays, candidate, live, solution)
        lp_calls += candidate_solution.lp_solved
        candidate_residual = residual_of(candidate, candidate_solution)
        if candidate_residual <= 0.5 * best_residual:
            newton_steps += 1
            updated, solution, updated_residual = candidate, candidate_solution, candidate_residual
        else:
            # Hoffman-Karp step: player 0's exact guarantee with x (player 1's MDP against x)
            transitions = mix(rows_1, np.broadcast_to(x[:, :, None], flat.shape),
                              num_states * n1)
            mdp_rewards = -np.einsum("sa,sab->sb", x, rewards_0)
            minus_values, responses, _ = policy_iteration(transitions, mdp_rewards,
                                                          markov.discount, responses)
            strategy_steps += 1
            updated = -minus_values
            solution = _stage(arrays, updated, live, solution)
            lp_calls += solution.lp_solved
            updated_residual = residual_of(updated, solution)
        stalled = stalled + 1 if updated_residual >= residual else 0
        values, residual = updated, updated_residual
        best_residual = min(best_residual, residual)
        bound = residual * factor
        if stalled >= 3 or (bound > tol * scale and residual <= _rounding_floor(values, scale)):
            # no progress, or a residual at rounding level: tol asks for more than floating
            # point can resolve (discount very close to 1)
            limited = residual <= _rounding_floor(values, scale)
            status = "success" if bound <= tol * scale or limited else "failed"
            break
    else:
        if bound <= tol * scale:
            status = "success"
    message = (f"Hoffman-Karp strategy iteration {'converged' if status == 'success' else 'stopped'}"
               f" after {newton_steps + strategy_steps} steps ({newton_steps} Newton, {strategy_steps} "
               f"strategy) (value error bound {bound:.3g}"
               f"{', limited by floating-point rounding' if limited else ''})")
    return _zero_sum_result(arrays, "hoffman-karp", values, solution, status=status,
                            iterations=newton_steps + strategy_steps, message=message,
                            extra={"error_bound": bound, "lp_calls": lp_calls,
                                   "newton_steps": newton_steps,
                                   "strategy_steps": strategy_steps,
                                   "seconds": time.perf_counter() - start})


# ------------------------------------------------------------------------------------------
# approximate general-sum solver
# ------------------------------------------------------------------------------------------

def stochastic_fictitious_play(game: MarkovGame, *, max_iterations: int = 2000,
                               tol: float = 1e-6, check_every: int | None = None,
                               policy_rate: float = 1.0, value_rate: float = 1.0,
                               value_delay: float = 1.0,
                               rng: np.random.Generator | int | None = None) -> SolverResult:
    """Two-timescale fictitious play for general-sum stochastic games (approximate).

    Every player keeps the empirical average of the others' stationary policies (beliefs) and
    her own continuation values ``V_i (S,)``. At iteration ``t`` each player best-responds, state
    by state, in her stage game ``r_i(s, .) + gamma E[V_i(s')]`` against the beliefs; beliefs
    move towards the best responses with step ``alpha_t = (t + 1)^-policy_rate`` and values
    towards the stage value of the belief profile with the slower step
    ``beta_t = alpha_t / (1 + value_delay * log(t + 1))^value_rate`` (Sayin et al. 2022).

    Parameters
    ----------
    game : MarkovGame
        Any number of players, general-sum, fully observed.
    max_iterations : int
        Largest number of fictitious-play updates.
    tol : float
        Stop early once the certified regret (largest deviation gain over the reward range)
        of the current beliefs is at most this.
    check_every : int, optional
        Certify the beliefs with the exact NashConv evaluator every this many iterations
        (default ``max(1, max_iterations // 20)``); the best certified profile is returned.
    policy_rate, value_rate, value_delay : float
        Step-size schedules (above).
    rng : numpy Generator, int or None
        Only used to draw the initial beliefs (Dirichlet); ``None`` starts from uniform beliefs.

    Returns
    -------
    SolverResult
        ``exact=False``; one profile, the best certified one, with its regret (an exact
        NashConv-based certificate of how far it is from an equilibrium). Status ``"success"``
        iff the regret is at most ``tol``, else ``"failed"``. ``extra`` holds
        ``regret_history`` (pairs ``(iteration, best regret so far)``), ``best_iteration`` and ``purified``
        (whether rounding the best beliefs to pure policies gave the returned, lower-regret
        profile).

    Raises
    ------
    NotFullyObservedError, InvalidArgumentError
    """
    max_iterations = positive_count("max_iterations", max_iterations)
    tol = positive_option("tol", tol)
    check_every = max(1, max_iterations // 20) if check_every is None else \
        positive_count("check_every", check_every)
    for name, value in (("policy_rate", policy_rate), ("value_rate", value_rate)):
        positive_option(name, value)
    if not np.isfinite(value_delay) or value_delay < 0:
        raise InvalidArgumentError(f"value_delay must be finite and >= 0, got {value_delay!r}")
    if rng is not None and not isinstance(rng, np.random.Generator):
        rng = np.random.default_rng(rng)
    game = require_sees_state(game, "stochastic_fictitious_play")
    arrays = markov_arrays(game)
    start = time.perf_counter()
    num_players, num_states, shape = game.num_players, game.num_states, game.num_actions
    if rng is None:
        beliefs = [np.full((num_states, n), 1.0 / n) for n in shape]
    else:
        beliefs = [rng.dirichlet(np.ones(n), size=num_states) for n in shape]
    values = np.zeros((num_players, num_states))
    history: list[tuple[int, float]] = []
    best: tuple[float, int, tuple[np.ndarray, ...], bool] | None = None
    iteration = 0
    for iteration in range(1, max_iterations + 1):
        stage = arrays.stage_payoffs(values).reshape(num_players, num_states, *shape)
        alpha = (iteration + 1.0) ** -policy_rate
        beta = alpha / (1.0 + value_delay * np.log(iteration + 1.0)) ** value_rate
        responses = []
        for i in range(num_players):
            payoffs = contract_players(stage[i], beliefs, (i,))  # (S, n_i)
            stage_value = np.einsum("sa,sa->s", payoffs, beliefs[i])
            values[i] += beta * (stage_value - values[i]) * arrays.live
            responses.append(np.eye(shape[i])[np.argmax(payoffs, axis=1)])
        for i in range(num_players):
            beliefs[i] += alpha * (responses[i] - beliefs[i])
        if iteration % check_every == 0 or iteration == max_iterations:
            # fictitious play approaches a pure equilibrium only at rate 1/t, so the rounding of
            # the beliefs (most likely action everywhere) is certified as well
            mixed = observation_policies(game, beliefs)
            rounded = tuple(np.eye(p.shape[1])[np.argmax(p, axis=1)] for p in mixed)
            for candidate, purified in ((mixed, False), (rounded, True)):
                report = nash_conv(game, candidate)
                regret = float(report.per_player.max()) / reward_range(game)
                if best is None or regret < best[0]:
                    best = (regret, iteration, tuple(p.copy() for p in candidate), purified)
            assert best is not None
            history.append((iteration, best[0]))
            if best[0] <= tol:
                break
    assert best is not None
    equilibrium = make_markov_equilibrium(game, best[2])
    polished = best[3]
    status = "success" if equilibrium.regret <= tol else "failed"
    message = (f"approximate: stochastic fictitious play, {iteration} iterations; the best "
               f"certified profile (iteration {best[1]}) has regret {equilibrium.regret:.3g} of "
               f"the reward range (exact NashConv); {'within' if status == 'success' else 'above'}"
               f" tol {tol:.3g}"
               + ("; the rounded (pure) beliefs certified best" if polished else ""))
    return SolverResult((equilibrium,), "stochastic-fp",
                        status=status,  # type: ignore[arg-type]
                        complete=False, exact=False, iterations=iteration, message=message,
                        extra={"regret_history": history, "best_iteration": best[1],
                               "purified": polished,
                               "seconds": time.perf_counter() - start})
