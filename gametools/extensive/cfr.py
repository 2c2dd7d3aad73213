"""Counterfactual regret minimisation on extensive-form games, over sequence trees.

Every iteration, for each player ``i`` in turn (alternating updates, as OpenSpiel's
``CFRSolver`` and ``CFRPlusSolver``): terminal weights ``pi_c(z) pi_{-i}(z) u_i(z)`` are summed
onto player ``i``'s sequences, and a pass from its deepest infosets up gives each action's
counterfactual value ``q(I, a)``, the infoset value ``v(I) = sum_a pi(a | I) q(I, a)`` and the
instantaneous regret ``q(I, a) - v(I)`` (Zinkevich et al. 2007). The average policy accumulates
``w_t * rho_i(I) * pi_t(a | I)`` with ``rho_i`` the player's own reach. All steps are NumPy
operations over a level of infosets; no history is visited in Python.

Variants, each with iterates identical to OpenSpiel's Python solver named in brackets:
``"cfr"`` (regret matching, uniform averaging; ``CFRSolver``), ``"cfr+"`` (regrets clipped at
zero after each update, averaging weight ``t``; Tammelin 2014; ``CFRPlusSolver``),
``"linear"`` (regrets and average weighted by ``t``; Brown and Sandholm 2019; ``LCFRSolver``,
whose regrets are a positive multiple of ours, so the policies coincide), ``"dcfr"``
(discounted CFR, ``alpha = 3/2, beta = 0, gamma = 2``: after adding iteration ``t``'s regrets,
non-negative accumulated regrets are multiplied by ``t^1.5 / (t^1.5 + 1)`` and negative ones by
``1/2``; the average weights iteration ``t`` by ``t^2``; same paper; ``DCFRSolver``).

The result is certified by the exact NashConv of :func:`gametools.extensive.nash_conv`; in
two-player zero-sum games the average converges to a Nash equilibrium, elsewhere only to a
coarse correlated equilibrium, and the certificate tells which.

References
----------
- M. Zinkevich, M. Johanson, M. Bowling and C. Piccione, NeurIPS 2007.
- O. Tammelin, "Solving Large Imperfect Information Games Using CFR+", arXiv:1407.5042, 2014.
- N. Brown and T. Sandholm, "Solving Imperfect-Information Games via Discounted Regret
  Minimization", AAAI 2019.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from gametools.errors import InvalidArgumentError
from gametools.extensive.exploitability import nash_conv, sequence_values
from gametools.extensive.model import ExtensiveGame

__all__ = ["EXTENSIVE_VARIANTS", "CFRState", "cfr_iterations"]

ExtensiveVariant = Literal["cfr", "cfr+", "linear", "dcfr"]
EXTENSIVE_VARIANTS: tuple[str, ...] = ("cfr+", "cfr", "linear", "dcfr")


@dataclass
class CFRState:
    """Mutable CFR state: per player flat arrays over its actions."""

    policies: list[np.ndarray]
    regrets: list[np.ndarray]
    averages: list[np.ndarray]
    iteration: int = 0

    def average_profile(self, game: ExtensiveGame) -> tuple[np.ndarray, ...]:
        """The average policy (uniform at infosets never reached by the player)."""
        out = []
        for i, total in enumerate(self.averages):
            out.append(_normalise(game, i, total))
        return tuple(out)


def _segment_sum(game: ExtensiveGame, player: int, values: np.ndarray) -> np.ndarray:
    starts, counts, _ = game.sequences.segments[player]
    if values.size == 0:
        return np.zeros(0)
    return np.repeat(np.add.reduceat(values, starts), counts)


def _normalise(game: ExtensiveGame, player: int, weights: np.ndarray) -> np.ndarray:
    counts = game.sequences.segments[player][1]
    totals = _segment_sum(game, player, weights)
    uniform = np.repeat(1.0 / np.maximum(counts, 1), counts)
    return np.where(totals > 0, weights / np.where(totals > 0, totals, 1.0), uniform)


def _regret_matching(game: ExtensiveGame, player: int, regrets: np.ndarray) -> np.ndarray:
    return _normalise(game, player, np.maximum(regrets, 0.0))


def _counterfactual_values(game: ExtensiveGame, policies: list[np.ndarray], player: int
                           ) -> tuple[np.ndarray, np.ndarray]:
    """``q(I, a)`` for every action of ``player`` (flat, weighted by the others' and chance's
    reach) and the player's own realization plan."""
    data = game.sequences
    reach = data.terminal_chance.copy()
    own = np.empty(0)
    for j in range(game.num_players):
        plan = game.realization_plan(j, policies[j])
        if j == player:
            own = plan
        else:
            reach *= plan[data.terminal_sequence[j]]
    values = sequence_values(game, player, reach * game.payoffs[player])
    policy = policies[player]
    for level in data.levels[player]:
        weighted = values[1 + level.actions] * policy[level.actions]
        np.add.at(values, level.parents, np.add.reduceat(weighted, level.boundaries))
    return values[1:], own


@dataclass(frozen=True)
class _PlayerTables:
    """What one CFR update of one player reads, gathered once per game."""

    num_sequences: int
    terminal_sequence: np.ndarray  # (Z,)
    payoffs: np.ndarray  # (Z,) chance-weighted payoffs of the player
    levels: tuple[tuple[np.ndarray, np.ndarray, np.ndarray], ...]  # (actions, parents, starts)
    starts: np.ndarray  # first action of each infoset
    counts: np.ndarray
    action_parents: np.ndarray  # own parent sequence of every action


def _tables(game: ExtensiveGame) -> tuple[_PlayerTables, ...]:
    data = game.sequences
    out = []
    for i in range(game.num_players):
        starts, counts, parents = data.segments[i]
        out.append(_PlayerTables(
            game.num_sequences[i], data.terminal_sequence[i],
            data.terminal_chance * game.payoffs[i],
            tuple((level.actions, level.action_parents, level.boundaries)
                  for level in data.levels[i]),
            starts, counts, parents))
    return tuple(out)


def _plan(table: _PlayerTables, behaviour: np.ndarray) -> np.ndarray:
    plan = np.empty(table.num_sequences)
    plan[0] = 1.0
    for actions, parents, _ in reversed(table.levels):
        plan[actions + 1] = plan[parents] * behaviour[actions]
    return plan


def _infoset_sums(table: _PlayerTables, values: np.ndarray) -> np.ndarray:
    if values.size == 0:
        return values
    return np.repeat(np.add.reduceat(values, table.starts), table.counts)


def _matching(table: _PlayerTables, regrets: np.ndarray) -> np.ndarray:
    positive = np.maximum(regrets, 0.0)
    totals = _infoset_sums(table, positive)
    uniform = 1.0 / np.repeat(table.counts, table.counts)
    return np.where(totals > 0, positive / np.where(totals > 0, totals, 1.0), uniform)


def cfr_iterations(game: ExtensiveGame, state: CFRState, iterations: int, *,
                   variant: str = "cfr+", alternating: bool = True) -> None:
    """Run ``iterations`` CFR iterations in place on ``state``.

    Per player update: the others' reach on every terminal (products of their realization
    plans, cached between updates), one ``bincount`` onto the player's sequences, and one
    pass up its infoset levels (``q``), then the regret and average updates.
    """
    game.require_perfect_recall("cfr")
    tables = _tables(game)
    num_players = game.num_players
    plans = [_plan(t, p)[t.terminal_sequence] for t, p in zip(tables, state.policies)]
    for _ in range(iterations):
        state.iteration += 1
        t = state.iteration
        current = list(state.policies)
        for i, table in enumerate(tables):
            policy = current[i]
            weights = table.payoffs.copy()
            for j in range(num_players):
                if j != i:
                    weights *= plans[j]
            values = np.bincount(table.terminal_sequence, weights=weights,
                                 minlength=table.num_sequences)
            for actions, parents, starts in table.levels:
                np.add.at(values, parents[starts],
                          np.add.reduceat(values[actions + 1] * policy[actions], starts))
            q = values[1:]
            instant = q - _infoset_sums(table, q * policy)
            own = _plan(table, policy)
            contribution = own[table.action_parents] * policy
            regrets = state.regrets[i]
            if variant == "cfr":
                regrets += instant
                state.averages[i] += contribution
            elif variant == "cfr+":
                np.maximum(regrets + instant, 0.0, out=regrets)
                state.averages[i] += t * contribution
            elif variant == "linear":
                regrets += t * instant
                state.averages[i] += t * contribution
            else:  # dcfr (alpha 3/2, beta 0, gamma 2), in OpenSpiel's order: add, discount
                regrets += instant
                regrets *= np.where(regrets >= 0, t ** 1.5 / (t ** 1.5 + 1.0), 0.5)
                state.averages[i] += float(t) ** 2 * contribution
            updated = _matching(table, regrets)
            if alternating:
                current[i] = updated
                plans[i] = _plan(table, updated)[table.terminal_sequence]
            state.policies[i] = updated
        if not alternating:
            plans = [_plan(tb, p)[tb.terminal_sequence] for tb, p in zip(tables, state.policies)]


def new_state(game: ExtensiveGame) -> CFRState:
    sizes = game.num_actions_per_player
    return CFRState(list(game.uniform_profile()), [np.zeros(n) for n in sizes],
                    [np.zeros(n) for n in sizes])


ProgressCallback = Callable[[int, float, float], None]


def run_cfr(game: ExtensiveGame, *, iterations: int, variant: str, alternating: bool,
            tol: float | None, check_every: int,
            callback: ProgressCallback | None) -> dict[str, Any]:
    """The CFR loop with certification every ``check_every`` iterations (see solvers.cfr)."""
    if variant not in EXTENSIVE_VARIANTS:
        raise InvalidArgumentError(f"cfr: unknown variant {variant!r}; choose one of "
                                   f"{', '.join(EXTENSIVE_VARIANTS)}")
    game.require_perfect_recall("cfr")
    state = new_state(game)
    history: list[list[float]] = []
    seconds = 0.0
    best: tuple[float, float, tuple[np.ndarray, ...], tuple[np.ndarray, ...]] | None = None
    done = 0
    while done < iterations:
        step = min(check_every - done % check_every, iterations - done)
        start = time.perf_counter()
        cfr_iterations(game, state, step, variant=variant, alternating=alternating)
        seconds += time.perf_counter() - start
        done += step
        average = state.average_profile(game)
        last = tuple(p.copy() for p in state.policies)
        best = (nash_conv(game, average).nash_conv, nash_conv(game, last).nash_conv, average,
                last)
        history.append([done, best[0], best[1]])
        if callback is not None:
            callback(done, best[0], best[1])
        if tol is not None and min(best[0], best[1]) <= tol:
            break
    assert best is not None
    return {"iterations": done, "average_nash_conv": best[0], "last_nash_conv": best[1],
            "average": best[2], "last": best[3], "history": history, "seconds": seconds}
