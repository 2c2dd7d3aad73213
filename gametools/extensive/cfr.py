"""Counterfactual regret minimisation on extensive-form games, over sequence trees.

Every iteration, for each player ``i`` in turn (alternating updates, as OpenSpiel's
``CFRSolver`` and ``CFRPlusSolver``): terminal weights ``pi_c(z) pi_{-i}(z) u_i(z)`` are summed
onto player ``i``'s sequences, and a pass from its deepest infosets up gives each action's
counterfactual value ``q(I, a)``, the infoset value ``v(I) = sum_a pi(a | I) q(I, a)`` and the
instantaneous regret ``q(I, a) - v(I)`` (Zinkevich et al. 2007). The average policy accumulates
``w_t * rho_i(I) * pi_t(a | I)`` with ``rho_i`` the player's own reach. No history is visited:
the steps are NumPy operations over a level of infosets, or, for long runs, one compiled (numba)
loop over all iterations that sums in the same order (see :func:`cfr_iterations`).

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
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from gametools.errors import InvalidArgumentError
from gametools.extensive.exploitability import nash_conv
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


@dataclass(frozen=True)
class _PlayerTables:
    """What one CFR update of one player reads, gathered once per game."""

    num_sequences: int
    terminal_sequence: np.ndarray  # (Z,)
    payoffs: np.ndarray  # (Z,) chance-weighted payoffs of the player
    levels: tuple[tuple[np.ndarray, np.ndarray, np.ndarray], ...]  # (actions, parents, starts)
    starts: np.ndarray  # first action of each infoset
    action_infoset: np.ndarray  # position of every action's infoset in ``starts``
    uniform: np.ndarray  # every action's probability under the uniform policy
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
            starts, np.repeat(np.arange(starts.size), counts), 1.0 / np.repeat(counts, counts),
            parents))
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
    return np.add.reduceat(values, table.starts)[table.action_infoset]


def _matching(table: _PlayerTables, regrets: np.ndarray) -> np.ndarray:
    positive = np.maximum(regrets, 0.0)
    totals = _infoset_sums(table, positive)
    some = totals > 0
    return np.where(some, positive / np.where(some, totals, 1.0), table.uniform)


def _numpy_iterations(game: ExtensiveGame, state: CFRState, iterations: int, *,
                      variant: str, alternating: bool) -> None:
    """:func:`cfr_iterations` with NumPy operations over each level of infosets."""
    tables = _tables(game)
    num_players = game.num_players
    # realization plans of the current policies, in full and on the terminals
    full = [_plan(t, p) for t, p in zip(tables, state.policies)]
    plans = [f[t.terminal_sequence] for t, f in zip(tables, full)]
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
            contribution = full[i][table.action_parents] * policy
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
                full[i] = _plan(table, updated)
                plans[i] = full[i][table.terminal_sequence]
            state.policies[i] = updated
        if not alternating:
            full = [_plan(tb, p) for tb, p in zip(tables, state.policies)]
            plans = [f[tb.terminal_sequence] for tb, f in zip(tables, full)]


VARIANT_CODES = {"cfr": 0, "cfr+": 1, "linear": 2, "dcfr": 3}


def _cfr_kernel(iterations: int, first: int, variant: int, alternating: bool,
                num_sequences: np.ndarray, sequence_offset: np.ndarray,
                action_offset: np.ndarray, order_offset: np.ndarray,
                order_start: np.ndarray, order_count: np.ndarray, order_parent: np.ndarray,
                action_parent: np.ndarray, terminal_sequence: np.ndarray,
                payoffs: np.ndarray, policy: np.ndarray, regrets: np.ndarray,
                averages: np.ndarray) -> None:  # pragma: no cover - compiled by numba
    """``iterations`` CFR iterations over flat arrays, in place (compiled by numba).

    Players' arrays are concatenated: player ``i``'s sequences start at
    ``sequence_offset[i]`` (``num_sequences[i]`` of them, 0 the empty one), its actions at
    ``action_offset[i]`` (action ``a`` is sequence ``a + 1``), its infosets, deepest first, at
    ``order_offset[i]`` (``order_start`` the local position of the first action,
    ``order_count`` the number of actions, ``order_parent`` the parent sequence).
    ``payoffs[i, z]`` are chance-weighted. Every sum runs in the order of the NumPy route
    (``bincount``, ``reduceat``).
    """
    num_players, num_terminals = payoffs.shape
    values = np.empty(sequence_offset[num_players])
    plan = np.empty(sequence_offset[num_players])  # realization plans of ``current``
    reach = np.empty((num_players, num_terminals))  # reach[j, z]: player j's plan at z
    stale = np.ones(num_players, dtype=np.bool_)  # plan and reach to recompute
    current = policy.copy()
    updated = policy.copy()
    for step in range(iterations):
        t = first + step
        weight = 1.0 if variant == 0 else (float(t) ** 2 if variant == 3 else float(t))
        power = float(t) ** 1.5
        positive_discount = power / (power + 1.0)
        for i in range(num_players):
            for j in range(num_players):
                if not stale[j]:
                    continue
                stale[j] = False
                s0 = sequence_offset[j]
                a0 = action_offset[j]
                plan[s0] = 1.0
                for k in range(order_offset[j + 1] - 1, order_offset[j] - 1, -1):
                    start = order_start[k]
                    base = plan[s0 + order_parent[k]]
                    for a in range(start, start + order_count[k]):
                        plan[s0 + 1 + a] = base * current[a0 + a]
                for z in range(num_terminals):
                    reach[j, z] = plan[s0 + terminal_sequence[j, z]]
            s0 = sequence_offset[i]
            a0 = action_offset[i]
            for s in range(num_sequences[i]):
                values[s0 + s] = 0.0
            for z in range(num_terminals):
                w = payoffs[i, z]
                for j in range(num_players):
                    if j != i:
                        w *= reach[j, z]
                values[s0 + terminal_sequence[i, z]] += w
            for k in range(order_offset[i], order_offset[i + 1]):
                start = order_start[k]
                acc = 0.0
                for a in range(start, start + order_count[k]):
                    acc += values[s0 + 1 + a] * current[a0 + a]
                values[s0 + order_parent[k]] += acc
            for k in range(order_offset[i], order_offset[i + 1]):
                start = order_start[k]
                stop = start + order_count[k]
                expected = 0.0
                for a in range(start, stop):
                    expected += values[s0 + 1 + a] * current[a0 + a]
                positive_total = 0.0
                for a in range(start, stop):
                    flat = a0 + a
                    instant = values[s0 + 1 + a] - expected
                    contribution = plan[s0 + action_parent[flat]] * current[flat]
                    regret = regrets[flat]
                    if variant == 0:
                        regret += instant
                    elif variant == 1:
                        regret = max(regret + instant, 0.0)
                    elif variant == 2:
                        regret += t * instant
                    else:
                        regret += instant
                        regret *= positive_discount if regret >= 0 else 0.5
                    averages[flat] += contribution if variant == 0 else weight * contribution
                    regrets[flat] = regret
                    if regret > 0.0:
                        positive_total += regret
                for a in range(start, stop):
                    flat = a0 + a
                    if positive_total > 0.0:
                        updated[flat] = max(regrets[flat], 0.0) / positive_total
                    else:
                        updated[flat] = 1.0 / (stop - start)
            if alternating:
                for a in range(a0, action_offset[i + 1]):
                    current[a] = updated[a]
                stale[i] = True
        if not alternating:
            for a in range(current.size):
                current[a] = updated[a]
            stale[:] = True
    for a in range(current.size):
        policy[a] = updated[a]


_KERNEL: list[Any] = []


def _compiled_kernel() -> Any:
    """:func:`_cfr_kernel` compiled by numba (cached on disk), or None without numba."""
    if not _KERNEL:
        import importlib.util

        if importlib.util.find_spec("numba") is None:
            _KERNEL.append(None)
        else:
            import numba

            _KERNEL.append(numba.njit(cache=True, nogil=True)(_cfr_kernel))
    return _KERNEL[0]


@dataclass(frozen=True)
class _FlatTables:
    """The arguments of :func:`_cfr_kernel` that depend on the game only."""

    num_sequences: np.ndarray
    sequence_offset: np.ndarray
    action_offset: np.ndarray
    order_offset: np.ndarray
    order_start: np.ndarray
    order_count: np.ndarray
    order_parent: np.ndarray
    action_parent: np.ndarray
    terminal_sequence: np.ndarray
    payoffs: np.ndarray


_FLAT: weakref.WeakKeyDictionary[ExtensiveGame, _FlatTables] = weakref.WeakKeyDictionary()


def _flat_tables(game: ExtensiveGame) -> _FlatTables:
    """Concatenated per-player tables, built once per game (kept while the game lives)."""
    cached = _FLAT.get(game)
    if cached is not None:
        return cached
    data = game.sequences
    num_players = game.num_players
    sizes = np.asarray(game.num_sequences, dtype=np.int64)
    starts_list, counts_list, parents_list, action_parents = [], [], [], []
    order_sizes = []
    for i in range(num_players):
        levels = data.levels[i]  # deepest first
        starts_list.append(np.concatenate(
            [np.asarray(level.actions[level.boundaries], dtype=np.int64) for level in levels]
            or [np.zeros(0, dtype=np.int64)]))
        counts_list.append(np.concatenate(
            [np.asarray(level.counts, dtype=np.int64) for level in levels]
            or [np.zeros(0, dtype=np.int64)]))
        parents_list.append(np.concatenate(
            [np.asarray(level.parents, dtype=np.int64) for level in levels]
            or [np.zeros(0, dtype=np.int64)]))
        order_sizes.append(starts_list[-1].size)
        action_parents.append(np.asarray(data.segments[i][2], dtype=np.int64))
    flat = _FlatTables(
        num_sequences=sizes,
        sequence_offset=np.concatenate(([0], np.cumsum(sizes))).astype(np.int64),
        action_offset=np.concatenate(([0], np.cumsum(sizes - 1))).astype(np.int64),
        order_offset=np.concatenate(([0], np.cumsum(order_sizes))).astype(np.int64),
        order_start=np.concatenate(starts_list),
        order_count=np.concatenate(counts_list),
        order_parent=np.concatenate(parents_list),
        action_parent=np.concatenate(action_parents),
        terminal_sequence=np.ascontiguousarray(data.terminal_sequence, dtype=np.int64),
        payoffs=np.ascontiguousarray(data.terminal_chance * game.payoffs, dtype=float))
    _FLAT[game] = flat
    return flat


#: Projected seconds of the NumPy route above which the compiled loop is used by default: the
#: first compiled call of a process pays about a second (importing numba, loading the kernel
#: from its on-disk cache; several seconds the first time ever, when it is compiled).
COMPILE_WORTHWHILE_S = 0.5


def _worth_compiling(game: ExtensiveGame, iterations: int) -> bool:
    """Whether the compiled loop should run ``iterations`` iterations on ``game``: it is loaded
    already, or the NumPy route would take longer than :data:`COMPILE_WORTHWHILE_S` (about
    2 microseconds per NumPy call, 25 calls plus 6 per infoset level per player and
    iteration, and some nanoseconds per terminal and action; measured on Kuhn and Leduc)."""
    if _KERNEL and (_KERNEL[0] is None or _KERNEL[0].signatures):
        return _KERNEL[0] is not None
    data = game.sequences
    players = game.num_players
    calls = sum(25 + 6 * len(levels) for levels in data.levels)
    elements = players * players * game.terminals.size + 8 * sum(game.num_sequences)
    projected = iterations * (2e-6 * calls + 1e-8 * elements)
    if projected <= COMPILE_WORTHWHILE_S:
        return False
    return _compiled_kernel() is not None


def cfr_iterations(game: ExtensiveGame, state: CFRState, iterations: int, *,
                   variant: str = "cfr+", alternating: bool = True,
                   compiled: bool | None = None) -> None:
    """Run ``iterations`` CFR iterations in place on ``state``.

    Per player update: the others' reach on every terminal (products of their realization
    plans, cached between updates), one sum onto the player's sequences, and one pass up its
    infosets (``q``), then the regret and average updates.

    Parameters
    ----------
    compiled : bool, optional
        Run the iterations in one compiled (numba) loop, compiled on first use and cached on
        disk, with no Python work per iteration, or with NumPy operations over each level of
        infosets (``False``). Both sum in the same order and give the same iterates (to
        rounding: 1e-14 relative on Leduc poker). By default the compiled loop runs when it
        is loaded already or when the NumPy route would take more than
        :data:`COMPILE_WORTHWHILE_S` seconds (and numba is installed).
    """
    game.require_perfect_recall("cfr")
    if variant not in VARIANT_CODES:
        raise InvalidArgumentError(f"cfr: unknown variant {variant!r}; choose one of "
                                   f"{', '.join(EXTENSIVE_VARIANTS)}")
    if compiled is None:
        compiled = _worth_compiling(game, iterations)
    kernel = _compiled_kernel() if compiled else None
    if compiled and kernel is None:
        raise InvalidArgumentError("cfr: compiled=True needs numba, which is not installed")
    if kernel is None:
        _numpy_iterations(game, state, iterations, variant=variant, alternating=alternating)
        return
    if iterations < 1:
        return
    flat = _flat_tables(game)
    policy = np.concatenate([np.asarray(p, dtype=float) for p in state.policies]) \
        if state.policies else np.zeros(0)
    regrets = np.concatenate(state.regrets) if state.regrets else np.zeros(0)
    averages = np.concatenate(state.averages) if state.averages else np.zeros(0)
    kernel(int(iterations), state.iteration + 1, VARIANT_CODES[variant], bool(alternating),
           flat.num_sequences, flat.sequence_offset, flat.action_offset, flat.order_offset,
           flat.order_start, flat.order_count, flat.order_parent, flat.action_parent,
           flat.terminal_sequence, flat.payoffs, policy, regrets, averages)
    state.iteration += int(iterations)
    offsets = flat.action_offset
    for i in range(game.num_players):
        part = slice(int(offsets[i]), int(offsets[i + 1]))
        state.policies[i] = policy[part].copy()
        state.regrets[i][...] = regrets[part]
        state.averages[i][...] = averages[part]


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
    compiled = _worth_compiling(game, iterations)  # decided once, for all the chunks
    history: list[list[float]] = []
    seconds = 0.0
    best: tuple[float, float, tuple[np.ndarray, ...], tuple[np.ndarray, ...]] | None = None
    done = 0
    while done < iterations:
        step = min(check_every - done % check_every, iterations - done)
        start = time.perf_counter()
        cfr_iterations(game, state, step, variant=variant, alternating=alternating,
                       compiled=compiled)
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
