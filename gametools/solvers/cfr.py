"""Counterfactual regret minimisation for finite-horizon, partially observed Markov games.

Definitions
-----------
A *Bayesian* (partially observed) Markov game with a finite horizon (no reachable cycle) in which
every player has *perfect recall* — its observation ``o_i(s)`` determines its own past
observations and its own past actions — is an extensive-form game with simultaneous moves:
player ``i``'s information states are its observations, and a policy ``(O_i, n_i)`` is a
behaviour strategy. Auctions with private values, Kyle's insider-trading game and poker-like
games are of this kind.

For a profile ``pi``, write ``rho_{-i}(s) = E[gamma^t 1{s_t = s}]`` computed with player ``i``'s
own action probabilities replaced by one (the *counterfactual* reach of ``s``: chance and the
others), ``Q_i(s, a_i)`` player ``i``'s expected discounted value from ``s`` on when it plays
``a_i`` in ``s`` and everybody follows ``pi`` afterwards, and ``V_i(s) = sum_a pi_i(a | s)
Q_i(s, a)``. The *counterfactual regret* of action ``a`` at observation ``o`` is

    r_i(o, a) = sum_{s : o_i(s) = o} rho_{-i}(s) [Q_i(s, a) - V_i(s)].

Counterfactual regret minimisation (CFR, Zinkevich et al. 2007) accumulates ``r_i`` over
iterations and plays *regret matching* (each action with probability proportional to its
positive accumulated regret; uniform when none is positive). By default the players update in
turn within an iteration (*alternating* updates: player ``i`` computes its regrets against the
policies players ``0..i-1`` have just adopted), as in CFR+ and OpenSpiel; ``alternating=False``
gives the original simultaneous updates, which converge markedly slower. The output is the
*average policy*, weighted at every observation by the player's own reach probability
``rho_i(o)`` (the product of its own action probabilities along the unique own history that
perfect recall gives ``o``), i.e. the average of the realisation plans. Variants:

``"cfr"``
    Plain accumulation, uniform averaging.
``"cfr+"``
    CFR+ (Tammelin 2014): accumulated regrets are clipped at zero after every iteration and
    iteration ``t`` enters the average with weight ``t``.
``"linear"``
    Linear CFR (Brown and Sandholm 2019): iteration ``t``'s regrets and its contribution to
    the average are both weighted by ``t``.

Every iteration runs level by level over the states grouped by *height* (longest number of
steps to termination), vectorised over the states of a level: per player, a backward sweep
computes ``Q_i``, a forward sweep the counterfactual reach ``rho_{-i}``, and a sparse sum
aggregates per observation. The cost per iteration is linear in the number of
nonzero transitions. A player whose action changes no transition in a state (a waiting player in
a turn-based game, or a market maker whose quote changes only this step's rewards, as in
Glosten-Milgrom) need not remember that action: what follows is the same whatever it played, so
splitting the observation by that action (which restores perfect recall) gives copies with the
same counterfactual values and regrets, and the average policy here is their average weighted
by own reach, which gives every player the same payoffs against every strategy. Such *idle*
moves are left out of the own history, count with the player's own probabilities in the
counterfactual reach, and keep their immediate rewards in ``Q_i``. Games in which histories merge (a fully observed game where two paths lead to one
state, say) are not perfect-recall games over observations and are rejected; backward
induction solves the fully observed ones.

What the result means
---------------------
In two-player zero-sum games the average policy converges to a Nash equilibrium
(exploitability ``O(1/sqrt(T))`` for CFR, much faster in practice for CFR+ and linear CFR). In
general-sum or ``N``-player games the empirical *joint* play converges only to a coarse
correlated equilibrium, and the average (product) policy need not approach a Nash equilibrium.
The result is therefore always certified by the exact NashConv of
:func:`gametools.exploitability.nash_conv` (exact for perfect-recall, finite-horizon games),
which tells the truth either way. The last iterate (the regret-matching policy after the final
update) is certified too, and the better of the two is returned; ``message`` and
``extra["returned"]`` say which.

References
----------
- M. Zinkevich, M. Johanson, M. Bowling and C. Piccione, "Regret Minimization in Games with
  Incomplete Information", NeurIPS 2007.
- O. Tammelin, "Solving Large Imperfect Information Games Using CFR+", arXiv:1407.5042, 2014.
- N. Brown and T. Sandholm, "Solving Imperfect-Information Games via Discounted Regret
  Minimization", AAAI 2019.
- H. W. Kuhn, "A Simplified Two-Person Poker", Contributions to the Theory of Games I, 1950
  (the value of Kuhn poker, -1/18 for the first player).

Examples
--------
A zero-sum 2x2 game as a one-shot Markov game; its unique equilibrium has the row player play
``(2/5, 3/5)`` and value ``1/5``:

>>> import numpy as np
>>> from gametools import NormalFormGame
>>> from gametools.solvers.cfr import cfr
>>> game = NormalFormGame.zero_sum([[2, -1], [-1, 1]]).to_markov_game()
>>> result = cfr(game, iterations=1000)
>>> result.status, np.round(result.equilibria[0].strategies[0][0], 2).tolist()
('success', [0.4, 0.6])
>>> round(float(result.equilibria[0].payoffs[0]), 2), result.extra["nash_conv"] < 1e-2
(0.2, True)
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp

from gametools.errors import InvalidArgumentError, UnsupportedGameError
from gametools.exploitability import nash_conv
from gametools.mdp import contract_players, joint_distribution, markov_arrays
from gametools.model import MarkovGame, NormalFormGame
from gametools.solvers.backward_induction import NotAcyclicError
from gametools.solvers.result import SolverResult, make_equilibrium, make_markov_equilibrium
from gametools.structure import has_perfect_recall, idle_states
from gametools.structure import heights as game_heights

__all__ = ["VARIANTS", "ImperfectRecallError", "NotAcyclicError", "Variant", "cfr"]

Variant = Literal["cfr+", "cfr", "linear"]
VARIANTS: tuple[str, ...] = ("cfr+", "cfr", "linear")

#: ``progress`` callables receive ``(iteration, nash_conv_of_average, nash_conv_of_last_iterate)``.
ProgressCallback = Callable[[int, float, float], None]


class ImperfectRecallError(UnsupportedGameError):
    """CFR over observations needs every player to have perfect recall."""


# ------------------------------------------------------------------------------------------
# the tables one game needs (built once)
# ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Level:
    states: np.ndarray  # (n,) reachable non-terminal states of one height
    forward: sp.csr_array  # (n * A, S): rows s * A + a of the transition matrix
    backward: sp.csr_array  # (S, n * A): its transpose, for the reach sweep
    rewards: np.ndarray  # (N, n, A)


@dataclass(frozen=True)
class _Player:
    observed: np.ndarray  # (S,)
    idle: np.ndarray  # (S,) bool: the player's action changes nothing there
    aggregate: sp.csr_array  # (O_i, S): 1 where observation o holds reachable live state s
    # own reach: roots have reach 1; every other observation o is reached from parent[o] by
    # playing action[o] there (action -1: the parent was idle, any action leads on)
    roots: np.ndarray
    schedule: tuple[tuple[np.ndarray, np.ndarray, np.ndarray], ...]  # (obs, parent, action)


@dataclass(frozen=True)
class _Tables:
    game: MarkovGame
    levels: tuple[_Level, ...]  # by increasing height
    players: tuple[_Player, ...]
    num_joint: int


def _check_game(game: Any) -> tuple[MarkovGame, NormalFormGame | None]:
    if isinstance(game, NormalFormGame):
        return game.to_markov_game(), game
    if isinstance(game, MarkovGame):
        return game, None
    from gametools.interop import as_game  # nashpy / OpenSpiel normal-form games

    try:
        converted = as_game(game)
    except Exception as error:  # as_game names what it could not read
        raise InvalidArgumentError(f"cfr: expected a MarkovGame or NormalFormGame, got "
                                   f"{type(game).__name__} ({error})") from error
    return _check_game(converted)


def _tables(game: MarkovGame) -> _Tables:
    heights = game_heights(game)
    if heights is None:
        raise NotAcyclicError(
            "cfr: the game has a reachable cycle, so it has no finite horizon; unroll it with "
            "gametools.time_indexed(game, horizon) (which also gives players perfect recall of "
            "time), or use 'homotopy' / 'stochastic-fp' (discounted, fully observed) or "
            "'hoffman-karp' (two-player zero-sum)")
    reachable = game.reachable_states() & ~game.terminal
    # recall and idle moves are judged on the transitions alone (module docstring)
    moves = _transitions_only(game)
    for i in range(game.num_players):
        if not has_perfect_recall(moves, i):
            raise ImperfectRecallError(
                f"cfr: player {i} ({game.player_labels[i]}) does not have perfect recall: some "
                f"of its observations do not determine its own past observations and actions, "
                f"so its observations are not information states. Include the player's own "
                f"history in its observations (perfect recall), run CFR on the game's "
                f"perfect-recall tree (gametools.extensive.tree_from_markov(game).game), or, "
                f"for a fully observed game, use 'backward-induction' (finite horizon) or "
                f"'homotopy'")
    model = markov_arrays(game)
    matrix = sp.csr_array(model.transitions)
    num_joint = game.num_joint_actions
    levels = []
    for height in range(1, int(heights[reachable].max(initial=0)) + 1):
        states = np.flatnonzero(reachable & (heights == height))
        if states.size == 0:
            continue
        rows = (states[:, None] * num_joint + np.arange(num_joint)[None, :]).ravel()
        # terminal successors carry neither value nor decisions: dropping them empties the
        # lowest level's matrix (often the largest) and its products are skipped
        forward = sp.csr_array(matrix[rows] @ sp.diags_array(reachable.astype(float)))
        forward.eliminate_zeros()
        levels.append(_Level(states, forward, sp.csr_array(forward.T),
                             np.ascontiguousarray(model.rewards[:, states])))
    players = tuple(_player_tables(moves, i, reachable, heights) for i in range(game.num_players))
    return _Tables(game, tuple(levels), players, num_joint)


def _transitions_only(game: MarkovGame) -> MarkovGame:
    """The game with every reward zero: its idle moves are the moves that change no transition."""
    return MarkovGame(game.transition_matrix, np.zeros(game.rewards.shape), game.initial,
                      game.discount, terminal=game.terminal, observations=game.observations)


def _player_tables(game: MarkovGame, player: int, reachable: np.ndarray, heights: np.ndarray
                   ) -> _Player:
    observed = game.observations[player].astype(np.int64)
    num_obs = game.num_observations[player]
    idle = idle_states(game, player)
    states = np.flatnonzero(reachable)
    aggregate = sp.csr_array((np.ones(states.size), (observed[states], states)),
                             shape=(num_obs, game.num_states))
    # each reachable live state's predecessor record (observation, own action); perfect recall
    # (checked before) makes it the same for all states of one observation
    coo = game.transition_matrix.tocoo()
    source, joint = np.divmod(coo.row, game.num_joint_actions)
    keep = reachable[source] & reachable[coo.col] & (coo.data > 0)
    source, target = source[keep], coo.col[keep]
    own = np.unravel_index(joint[keep], game.num_actions)[player]
    parent = np.full(num_obs, -1, dtype=np.int64)
    action = np.full(num_obs, -1, dtype=np.int64)
    parent[observed[target]] = observed[source]
    action[observed[target]] = np.where(idle[source], -1, own)
    present = np.zeros(num_obs, dtype=bool)
    present[observed[states]] = True
    # a parent's height exceeds its children's, so decreasing height is a valid order
    info_height = np.zeros(num_obs, dtype=np.int64)
    np.maximum.at(info_height, observed[states], heights[states])
    children = present & (parent >= 0)
    schedule = []
    for height in np.unique(info_height[children])[::-1]:
        group = np.flatnonzero(children & (info_height == height))
        schedule.append((group, parent[group], action[group]))
    return _Player(observed, idle, aggregate, np.flatnonzero(present & (parent < 0)),
                   tuple(schedule))


# ------------------------------------------------------------------------------------------
# one iteration
# ------------------------------------------------------------------------------------------

def _sweep(tables: _Tables, per_state: list[np.ndarray], player: int
           ) -> tuple[np.ndarray, np.ndarray]:
    """Player ``i``'s action values ``Q_i`` ``(S, n_i)`` and counterfactual reach ``(S,)``.

    ``per_state[j]`` is player ``j``'s action distribution in every state, ``(S, n_j)``.
    """
    game = tables.game
    shape = game.num_actions
    gamma = game.discount
    idle = tables.players[player].idle
    q_values = np.zeros((game.num_states, shape[player]))
    values = np.zeros(game.num_states)
    for level in tables.levels:
        states = level.states
        stage = level.rewards[player]
        if level.forward.nnz:
            stage = stage + gamma * (level.forward @ values).reshape(states.size, -1)
        factors = [x[states] for x in per_state]
        q = contract_players(stage.reshape(states.size, *shape), factors, (player,))
        q_values[states] = q
        values[states] = np.einsum("sa,sa->s", q, factors[player])
    reach = game.initial.copy()
    for level in reversed(tables.levels):
        if not level.backward.nnz:
            continue
        states = level.states
        factors = [x[states] for x in per_state]
        # own probabilities count as one, except where the player is idle: there every own
        # action leads to the same successors, and the sum over them must stay one
        factors[player] = np.where(idle[states, None], factors[player], 1.0)
        flow = reach[states, None] * joint_distribution(factors)
        reach += gamma * (level.backward @ flow.ravel())
    return q_values, reach


def _own_reach(player: _Player, policy: np.ndarray) -> np.ndarray:
    """``rho_i(o)``: product of the player's own action probabilities along its history."""
    reach = np.zeros(policy.shape[0])
    reach[player.roots] = 1.0
    for group, parent, action in player.schedule:
        step = np.where(action >= 0, policy[parent, np.maximum(action, 0)], 1.0)
        reach[group] = reach[parent] * step
    return reach


def _regret_matching(regrets: np.ndarray) -> np.ndarray:
    positive = np.maximum(regrets, 0.0)
    total = positive.sum(axis=1, keepdims=True)
    uniform = np.full_like(regrets, 1.0 / regrets.shape[1])
    return np.where(total > 0, positive / np.where(total > 0, total, 1.0), uniform)


def _normalise(weights: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    total = weights.sum(axis=1, keepdims=True)
    # observations the player never reaches keep the last iterate's rows
    return np.where(total > 0, weights / np.where(total > 0, total, 1.0), fallback)


def _progress_printer(iteration: int, average: float, last: float) -> None:
    print(f"cfr: iteration {iteration:7d}  NashConv average {average:.3e}  last {last:.3e}",
          file=sys.stderr)


# ------------------------------------------------------------------------------------------
# the solver
# ------------------------------------------------------------------------------------------

def cfr(game: MarkovGame | NormalFormGame | Any, *, iterations: int = 1000,
        variant: Variant | Literal["dcfr"] = "cfr+", alternating: bool = True, tol: float | None = None,
        check_every: int | None = None,
        rng: np.random.Generator | int | None = None,
        progress: bool | ProgressCallback = False) -> SolverResult:
    """Counterfactual regret minimisation over observations (information states).

    Parameters
    ----------
    game : MarkovGame, NormalFormGame, ExtensiveGame, nashpy or OpenSpiel game
        Finite horizon (no reachable cycle); every player has perfect recall. A normal-form
        game is solved as a one-shot Markov game. An
        :class:`~gametools.extensive.ExtensiveGame` (or an OpenSpiel game tree) is solved by
        :func:`gametools.extensive.solve.extensive_cfr`, starting from uniform policies as
        OpenSpiel does (``rng`` is not used; ``variant`` may also be ``"dcfr"``); its CFR and
        CFR+ iterates are OpenSpiel's ``CFRSolver`` / ``CFRPlusSolver`` iterates.
    iterations : int
        Largest number of CFR iterations (all players update simultaneously in each).
    variant : {"cfr+", "cfr", "linear"}
        The regret accumulation and averaging rule (module docstring).
    alternating : bool
        True (default): within an iteration the players update in turn, each against the
        policies the previous players have just adopted (as OpenSpiel's ``CFRSolver`` and
        ``CFRPlusSolver`` do; much faster in practice, Tammelin 2014). False: every player
        updates against the same profile (Zinkevich et al.'s simultaneous updates; identical
        to OpenSpiel's ``_CFRSolver(..., alternating_updates=False)``). Same cost per iteration.
    tol : float, optional
        Stop as soon as the exact NashConv (sum of the players' deviation gains, in payoff
        units) of the average policy or of the last iterate is at most ``tol``.
    check_every : int, optional
        Certify the average policy and the last iterate with the exact NashConv every this
        many iterations (default ``max(1, iterations // 10)``) and at the end; the history is
        kept in ``extra["history"]``. A check costs two NashConv evaluations, often more
        than many iterations, so checking rarely is cheaper.
    rng : numpy Generator, int or None
        Only used to draw the first iteration's policies (Dirichlet per observation); ``None``
        starts from uniform policies. The iterations themselves are deterministic.
    progress : bool or callable
        True prints one line to stderr at every check; a callable is called at every check
        with ``(iteration, nash_conv_average, nash_conv_last_iterate)``.

    Returns
    -------
    SolverResult
        One profile: policies ``(O_i, n_i)`` (strategies ``(n_i,)`` for a normal-form game),
        certified by :func:`~gametools.solvers.result.make_markov_equilibrium`. It is the
        average policy or the last iterate, whichever has the lower exact NashConv
        (``extra["returned"]``). Status ``"success"`` when ``tol`` is None (``message`` states
        the NashConv reached) or when the NashConv is at most ``tol``; otherwise
        ``"max_iterations"``. ``extra``: ``variant``, ``nash_conv`` (of the returned profile),
        ``nash_conv_kind`` (``"exact"``, or the bound :func:`~gametools.exploitability.nash_conv`
        gave where forgotten reward-only moves meet partial observation),
        ``nash_conv_average``, ``nash_conv_last_iterate``, ``returned``, ``history`` (rows
        ``[iteration, nash_conv_average, nash_conv_last_iterate]``), ``seconds`` and
        ``iterations_per_second`` (iterations alone, without the certification).

    Raises
    ------
    NotAcyclicError
        When a cycle of the state graph is reachable (no finite horizon).
    ImperfectRecallError
        When some player's observations are not information states (the message names it).
    InvalidArgumentError
        For a bad option value or an unsupported game type.
    """
    from gametools.interop import as_extensive_game

    extensive = as_extensive_game(game)
    if extensive is not None:  # game trees: CFR over sequence trees, from uniform policies
        from gametools.extensive.solve import extensive_cfr
        return extensive_cfr(extensive, iterations=iterations, variant=variant,
                             alternating=alternating, tol=tol, check_every=check_every,
                             progress=progress)
    if isinstance(iterations, bool) or not isinstance(iterations, (int, np.integer)) \
            or iterations < 1:
        raise InvalidArgumentError(f"cfr: iterations must be a positive integer, got "
                                   f"{iterations!r}")
    iterations = int(iterations)
    if variant not in VARIANTS:
        raise InvalidArgumentError(f"cfr: unknown variant {variant!r}; choose one of "
                                   f"{', '.join(VARIANTS)}")
    if tol is not None and not (np.isfinite(tol) and tol > 0):
        raise InvalidArgumentError(f"cfr: tol must be a positive number or None, got {tol!r}")
    if check_every is None:
        check_every = max(1, iterations // 10)
    elif isinstance(check_every, bool) or not isinstance(check_every, (int, np.integer)) \
            or check_every < 1:
        raise InvalidArgumentError(f"cfr: check_every must be a positive integer, got "
                                   f"{check_every!r}")
    callback: ProgressCallback | None
    if callable(progress):
        callback = progress
    else:
        callback = _progress_printer if progress else None
    markov, normal = _check_game(game)
    tables = _tables(markov)
    shape = markov.num_actions
    num_obs = markov.num_observations
    if rng is None:
        policies = [np.full((o, n), 1.0 / n) for o, n in zip(num_obs, shape)]
    else:
        generator = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        policies = [generator.dirichlet(np.ones(n), size=o) for o, n in zip(num_obs, shape)]
    regrets = [np.zeros((o, n)) for o, n in zip(num_obs, shape)]
    averages = [np.zeros((o, n)) for o, n in zip(num_obs, shape)]

    kinds: set[str] = set()  # of every certificate: "exact" unless the evaluator bounded

    def certify() -> tuple[float, float, list[np.ndarray], list[np.ndarray]]:
        average = [_normalise(s, p) for s, p in zip(averages, policies)]
        reports = nash_conv(markov, average), nash_conv(markov, policies)
        kinds.update(report.kind for report in reports)
        return (reports[0].nash_conv, reports[1].nash_conv, average,
                [p.copy() for p in policies])

    history: list[list[float]] = []
    solve_seconds = 0.0
    iteration = 0
    best: tuple[float, float, list[np.ndarray], list[np.ndarray]] | None = None
    for iteration in range(1, iterations + 1):
        start = time.perf_counter()
        weight = 1.0 if variant == "cfr" else float(iteration)
        per_state = [p[t.observed] for p, t in zip(policies, tables.players)]
        updated = []
        for i, player in enumerate(tables.players):
            q_values, reach = _sweep(tables, per_state, i)
            counterfactual = player.aggregate @ (reach[:, None] * q_values)  # (O_i, n_i)
            expected = np.einsum("oa,oa->o", counterfactual, policies[i])
            instant = counterfactual - expected[:, None]
            averages[i] += weight * _own_reach(player, policies[i])[:, None] * policies[i]
            if variant == "cfr+":
                regrets[i] = np.maximum(regrets[i] + instant, 0.0)
            elif variant == "linear":
                regrets[i] += iteration * instant
            else:
                regrets[i] += instant
            updated.append(_regret_matching(regrets[i]))
            if alternating:
                # the next player responds to this player's new policy
                policies[i] = updated[i]
                per_state[i] = policies[i][player.observed]
        policies = updated
        solve_seconds += time.perf_counter() - start
        if iteration % check_every == 0 or iteration == iterations:
            best = certify()
            history.append([iteration, best[0], best[1]])
            if callback is not None:
                callback(iteration, best[0], best[1])
            if tol is not None and min(best[0], best[1]) <= tol:
                break
    assert best is not None
    average_conv, last_conv, average, last = best
    use_last = last_conv < average_conv
    chosen = last if use_last else average
    returned = "last_iterate" if use_last else "average"
    achieved = min(average_conv, last_conv)
    if normal is not None:
        equilibrium = make_equilibrium(normal, [p[0] for p in chosen])
    else:
        equilibrium = make_markov_equilibrium(markov, chosen)
    status: Literal["success", "max_iterations"] = (
        "success" if tol is None or achieved <= tol else "max_iterations")
    # the evaluator is exact where observations have perfect recall counting every move that
    # changes a reward; forgotten reward-only moves under partial observation give a bound
    kind = min(kinds - {"exact"}, default="exact")
    label = {"exact": "exact NashConv", "upper_bound": "NashConv at most (upper bound)"}.get(
        kind, f"NashConv ({kind.replace('_', ' ')})")
    message = (f"{variant} after {iteration} iterations: returned the {returned.replace('_', ' ')}"
               f" with {label} {achieved:.3e} (average {average_conv:.3e}, last iterate "
               f"{last_conv:.3e})")
    if tol is not None:
        message += (f"; tol {tol:g} {'met' if achieved <= tol else 'not met'}")
    extra = {"variant": variant, "nash_conv": achieved, "nash_conv_kind": kind,
             "nash_conv_average": average_conv,
             "nash_conv_last_iterate": last_conv, "returned": returned, "history": history,
             "seconds": solve_seconds,
             "iterations_per_second": iteration / solve_seconds if solve_seconds > 0 else 0.0}
    return SolverResult((equilibrium,), method="cfr", status=status, complete=False,
                        exact=False, iterations=iteration, message=message, extra=extra)
