"""Compiled (numba) episodes of the batched order-book market (private).

:func:`play_markets` plays one whole episode in each of ``B`` markets in one call: every arrival's
cancellations, the arriving agent's orders (the library's zero-intelligence traders, ladder
market makers and informed traders, see :mod:`gametools.market.strategies`), matching by
price-time priority with partial fills, post-only quotes, accounts and the volume-weighted
price statistics. It is the CPU route of :meth:`gametools.market.MarketSimulator.run`; the
torch route (CUDA, strategies with memory or learners) is the reference it is tested against:
both read the same random numbers, drawn in batch before the episode, and compute every
floating-point value with the same operations in the same order, so the results are
bit-identical. The sums of the price statistics add integer (or quarter-integer) terms, exact in
float64 below 2^51, so their order does not matter either.

The book of a market is a fixed set of slots (an agent's orders of one arrival use its slots
``slot_start[i] .. slot_start[i] + K_i - 1``); a resting order's priority key is
``+-price * scale - time`` in the key array of its side, ``NO_KEY`` elsewhere, and the best
quote is the largest key, found by a scan of the slots (70 for 64 agents and a market maker).

Kernels are compiled on first use (``numba.njit(cache=True)``, later processes load them from
the on-disk cache); :data:`NUMBA_AVAILABLE` says whether numba is installed.
"""

from __future__ import annotations

import importlib.util
import math
from typing import Any

import numpy as np

__all__ = [
    "NUMBA_AVAILABLE",
    "RULE_INFORMED",
    "RULE_LADDER",
    "RULE_SCHEDULED",
    "RULE_ZI_CONSTRAINED",
    "RULE_ZI_SURPLUS",
    "RULE_ZI_UNCONSTRAINED",
    "STATISTIC_COLUMNS",
    "competitive_allocation",
    "fundamental_paths",
    "play_markets",
    "round_sort_rows",
    "sort_rows_descending",
]

#: Whether numba is installed (imported only when a kernel first runs).
NUMBA_AVAILABLE = importlib.util.find_spec("numba") is not None

# order rules the kernel plays: a row (rule, p1, p2, p3) per strategy
RULE_ZI_CONSTRAINED = 0      # Gode and Sunder's zi_c
RULE_ZI_UNCONSTRAINED = 1    # zi_u
RULE_ZI_SURPLUS = 2          # Wellman's zi_A_B: p1 = A, p2 = B
RULE_LADDER = 3              # ladder market maker: p1 = rungs, p2 = spacing, p3 = spread
RULE_INFORMED = 4            # informed trader: p1 = margin
RULE_SCHEDULED = 5           # orders read from the schedule: p1 = orders per arrival

#: Columns of the kernel's ``(B, 12)`` statistics, the sums of the torch route's
#: ``_trade_statistics`` and spread accumulators.
STATISTIC_COLUMNS = ("volume", "trades", "sq_fund", "sq_final", "sq_eq", "eq_sum",
                     "sq_eq_early", "vol_early", "sq_eq_late", "vol_late", "spread_sum",
                     "spread_n")

_NO_KEY = np.iinfo(np.int64).min
_SENTINEL = 1 << 60  # a unit that cannot trade (as the torch route's sentinels)


def _best(keys: np.ndarray) -> tuple[int, int]:  # pragma: no cover - compiled by numba
    """Largest key and its slot (``_NO_KEY`` and slot 0 when the side is empty)."""
    top = _NO_KEY
    at = 0
    for s in range(keys.shape[0]):
        if keys[s] > top:
            top = keys[s]
            at = s
    return top, at


def _uniform_ticks(low: int, high: int, u: float) -> int:  # pragma: no cover - compiled
    """``strategies._uniform_ticks`` for one draw."""
    span = float(max(high - low + 1, 1))
    return low + min(math.floor(u * span), max(high - low, 0))


def _one_market(m, arrivals, draws, path, factor, signal, informed, pv, low, high,
                fixed, strategy_of, rules, schedule, slot_start, slot_count, owner, max_orders, scale,
                min_price, max_price, mean_fundamental, fundamental, clear_after_trade,
                final, ce_offset, half_quantity, cash, position, traded,
                stats):  # pragma: no cover - compiled by numba
    """One market's episode (see :func:`play_markets`)."""
    steps = arrivals.shape[1]
    slots = owner.shape[0]
    q = pv.shape[2] // 2
    book_price = np.zeros(slots, np.int64)
    book_quantity = np.zeros(slots, np.int64)
    bid_key = np.full(slots, _NO_KEY, np.int64)
    ask_key = np.full(slots, _NO_KEY, np.int64)
    o_side = np.zeros(max_orders, np.int64)
    o_price = np.zeros(max_orders, np.int64)
    o_quantity = np.zeros(max_orders, np.int64)
    o_post = np.zeros(max_orders, np.int64)
    o_market = np.zeros(max_orders, np.bool_)
    o_passive = np.zeros(max_orders, np.bool_)
    volume = 0.0
    trades = 0.0
    sq_fund = 0.0
    sq_final = 0.0
    sq_eq = 0.0
    eq_sum = 0.0
    sq_eq_early = 0.0
    vol_early = 0.0
    sq_eq_late = 0.0
    vol_late = 0.0
    spread_sum = 0.0
    spread_n = 0.0
    ce = ce_offset[m]
    half = half_quantity[m]
    final_m = final[m]
    mean_f = float(mean_fundamental)
    # the best key and slot of each side, kept between scans: valid until the best order
    # leaves (a fill or a cancellation); a new order only needs a comparison
    bid_top = _NO_KEY
    bid_at = 0
    bid_ok = True
    ask_top = _NO_KEY
    ask_at = 0
    ask_ok = True
    for t in range(steps):
        agent = arrivals[m, t]
        start = slot_start[agent]
        # the arriving agent withdraws all its resting orders
        for j in range(slot_count[agent]):
            book_quantity[start + j] = 0
            bid_key[start + j] = _NO_KEY
            ask_key[start + j] = _NO_KEY
            if start + j == bid_at:
                bid_ok = False
            if start + j == ask_at:
                ask_ok = False
        if not bid_ok:
            bid_top, bid_at = _best(bid_key)
            bid_ok = True
        if not ask_ok:
            ask_top, ask_at = _best(ask_key)
            ask_ok = True
        best_bid = float(book_price[bid_at]) if bid_top != _NO_KEY else -np.inf
        best_ask = float(book_price[ask_at]) if ask_top != _NO_KEY else np.inf
        if bid_top != _NO_KEY and ask_top != _NO_KEY:
            spread_sum += best_ask - best_bid
            spread_n += 1.0
        fundamental_t = path[m, t] if fundamental else 0.0
        if fundamental:
            estimate = mean_f + factor[t] * (fundamental_t - mean_f)
        else:
            estimate = 0.0
        if informed[agent]:
            estimate = signal[m, agent]
        pos = position[m, agent]
        buy_value = estimate + float(pv[m, agent, min(max(pos + q, 0), 2 * q - 1)])
        sell_value = estimate + float(pv[m, agent, min(max(pos - 1 + q, 0), 2 * q - 1)])
        high_a = high[agent]
        low_a = low[agent]
        can_buy = pos < high_a
        can_sell = pos > low_a
        u_side = draws[m, t, 0]
        u_price = draws[m, t, 1]
        rule = strategy_of[m, agent]
        kind = rules[rule, 0]
        # ---- the arriving agent's orders (strategies.py, rule by rule)
        count = 1
        if kind == RULE_SCHEDULED:
            count = rules[rule, 1]
            for k in range(count):
                o_side[k] = schedule[m, t, k, 0]
                o_price[k] = schedule[m, t, k, 1]
                o_quantity[k] = schedule[m, t, k, 2]
                o_market[k] = schedule[m, t, k, 3] != 0
                o_passive[k] = schedule[m, t, k, 4] != 0
        elif kind == RULE_LADDER:
            rungs = rules[rule, 1]
            spacing = rules[rule, 2]
            spread = rules[rule, 3]
            count = 2 * rungs
            for k in range(rungs):
                offset = spread / 2 + spacing * float(k)
                bid = np.int64(math.floor(estimate - offset))
                ask = np.int64(math.ceil(estimate + offset))
                o_side[k] = 1 if (float(bid) < best_ask and can_buy) else 0
                o_price[k] = bid
                o_side[rungs + k] = -1 if (float(ask) > best_bid and can_sell) else 0
                o_price[rungs + k] = ask
            for k in range(count):
                o_quantity[k] = 1 if o_side[k] != 0 else 0
                o_market[k] = False
                o_passive[k] = True
        else:
            # a fair coin unless the market fixes the side; 0 if the position bound bars it
            side = fixed[agent]
            if side == 0:
                side = 1 if u_side < 0.5 else -1
            if not (can_buy if side > 0 else can_sell):
                side = 0
            if kind == RULE_INFORMED:
                margin = rules[rule, 1]
                bid = np.int64(math.floor(buy_value)) - margin
                ask = np.int64(math.ceil(sell_value)) + margin
                take_ask = can_buy and best_ask <= float(bid)
                take_bid = can_sell and best_bid >= float(ask) and not take_ask
                if take_ask:
                    side = 1
                elif take_bid:
                    side = -1
                price = bid if side > 0 else ask
            elif kind == RULE_ZI_UNCONSTRAINED:
                price = _uniform_ticks(min_price, max_price, u_price)
            elif kind == RULE_ZI_CONSTRAINED:
                value = np.int64(math.floor(buy_value))
                cost = np.int64(math.ceil(sell_value))
                bid = _uniform_ticks(min_price, min(max(value, min_price), max_price), u_price)
                ask = _uniform_ticks(min(max(cost, min_price), max_price), max_price, u_price)
                if side > 0 and value < min_price:
                    side = 0
                if side < 0 and cost > max_price:
                    side = 0
                price = bid if side > 0 else ask
            else:  # RULE_ZI_SURPLUS
                surplus = _uniform_ticks(rules[rule, 1], rules[rule, 2], u_price)
                bid = np.int64(math.floor(buy_value)) - surplus
                ask = np.int64(math.ceil(sell_value)) + surplus
                price = bid if side > 0 else ask
            o_side[0] = side
            o_price[0] = price
            o_quantity[0] = 1 if side != 0 else 0
            o_market[0] = False
            o_passive[0] = False
        # ---- MarketSimulator._prepare: grid, position bounds, post-only split
        buys_before = 0
        sells_before = 0
        any_post = False
        for k in range(count):
            side = o_side[k]
            quantity = max(o_quantity[k], 0)
            market = o_market[k]
            price = min(max(o_price[k], min_price), max_price)
            # room left by the position bound after the arrival's earlier orders on this side
            if side > 0:
                room = (high_a - pos) - buys_before
                buys_before += quantity
            else:
                room = (pos - low_a) - sells_before
                if side < 0:
                    sells_before += quantity
            quantity = min(quantity, max(room, 0)) if side != 0 else 0
            if market:  # the limit price of a market order: the grid's far end
                price = max_price if side > 0 else min_price
            o_price[k] = price
            if o_passive[k] and not market:
                o_post[k] = quantity
                o_quantity[k] = 0
                any_post = any_post or quantity > 0
            else:
                o_post[k] = 0
                o_quantity[k] = quantity
        # ---- MarketSimulator._submit: each order in turn against the book
        traded_now = False
        for k in range(count):
            remaining = o_quantity[k]
            if remaining <= 0:
                continue
            side = o_side[k]
            limit = o_price[k]
            threshold = -(limit + 1) * scale if side > 0 else (limit - 1) * scale
            while remaining > 0:
                if side > 0:
                    if not ask_ok:
                        ask_top, ask_at = _best(ask_key)
                        ask_ok = True
                    key, at = ask_top, ask_at
                else:
                    if not bid_ok:
                        bid_top, bid_at = _best(bid_key)
                        bid_ok = True
                    key, at = bid_top, bid_at
                if not key > threshold:
                    break
                resting = book_quantity[at]
                fill = min(remaining, resting)
                left = resting - fill
                book_quantity[at] = left
                if left == 0:  # the best order leaves its side
                    if side > 0:
                        ask_key[at] = _NO_KEY
                        ask_ok = False
                    else:
                        bid_key[at] = _NO_KEY
                        bid_ok = False
                trade_price = book_price[at]
                counterparty = owner[at]
                buyer = agent if side > 0 else counterparty
                seller = counterparty if side > 0 else agent
                value = fill * trade_price
                cash[m, buyer] -= value
                cash[m, seller] += value
                position[m, buyer] += fill
                position[m, seller] -= fill
                traded[m, buyer] += fill
                traded[m, seller] += fill
                f = float(fill)
                p = float(trade_price)
                equilibrium = fundamental_t + ce if fundamental else ce
                deviation = f * (p - equilibrium) ** 2
                if volume < half:  # units traded before this fill < half the competitive
                    sq_eq_early += deviation
                    vol_early += f
                else:
                    sq_eq_late += deviation
                    vol_late += f
                volume += f
                trades += 1.0
                sq_fund += f * (p - fundamental_t) ** 2
                sq_final += f * (p - final_m) ** 2
                sq_eq += deviation
                eq_sum += f * equilibrium
                remaining -= fill
                traded_now = True
            if remaining > 0 and not o_market[k]:
                time = t * max_orders + k
                slot = start + k
                book_price[slot] = limit
                book_quantity[slot] = remaining
                key = side * limit * scale - time
                bid_key[slot] = key if side > 0 else _NO_KEY
                ask_key[slot] = key if side < 0 else _NO_KEY
                if side > 0 and bid_ok and key > bid_top:
                    bid_top = key
                    bid_at = slot
                if side < 0 and ask_ok and key > ask_top:
                    ask_top = key
                    ask_at = slot
        if clear_after_trade and traded_now:
            for s in range(slots):
                book_quantity[s] = 0
                bid_key[s] = _NO_KEY
                ask_key[s] = _NO_KEY
            bid_top = _NO_KEY
            ask_top = _NO_KEY
            bid_ok = True
            ask_ok = True
        # ---- MarketSimulator._post: post-only quotes rest unless they cross
        if any_post:
            if not bid_ok:
                bid_top, bid_at = _best(bid_key)
                bid_ok = True
            if not ask_ok:
                ask_top, ask_at = _best(ask_key)
                ask_ok = True
            best_bid = float(book_price[bid_at]) if bid_top != _NO_KEY else -np.inf
            best_ask = float(book_price[ask_at]) if ask_top != _NO_KEY else np.inf
            for k in range(count):
                quantity = o_post[k]
                if quantity <= 0:
                    continue
                side = o_side[k]
                limit = o_price[k]
                if (float(limit) < best_ask) if side > 0 else (float(limit) > best_bid):
                    time = t * max_orders + k
                    slot = start + k
                    book_price[slot] = limit
                    book_quantity[slot] = quantity
                    key = side * limit * scale - time
                    bid_key[slot] = key if side > 0 else _NO_KEY
                    ask_key[slot] = key if side < 0 else _NO_KEY
                    # (every post is judged by the quotes before the first: best_bid, best_ask)
                    if side > 0 and key > bid_top:
                        bid_top = key
                        bid_at = slot
                    if side < 0 and key > ask_top:
                        ask_top = key
                        ask_at = slot
    stats[m, 0] = volume
    stats[m, 1] = trades
    stats[m, 2] = sq_fund
    stats[m, 3] = sq_final
    stats[m, 4] = sq_eq
    stats[m, 5] = eq_sum
    stats[m, 6] = sq_eq_early
    stats[m, 7] = vol_early
    stats[m, 8] = sq_eq_late
    stats[m, 9] = vol_late
    stats[m, 10] = spread_sum
    stats[m, 11] = spread_n


def _all_markets(arrivals, draws, path, factor, signal, informed, pv, low, high,
                 fixed, strategy_of, rules, schedule, slot_start, slot_count, owner, max_orders, scale,
                 min_price, max_price, mean_fundamental, fundamental, clear_after_trade,
                 final, ce_offset, half_quantity, cash, position, traded,
                 stats):  # pragma: no cover - compiled by numba
    for m in range(arrivals.shape[0]):
        _one_market(m, arrivals, draws, path, factor, signal, informed, pv, low, high, fixed,
                    strategy_of, rules, schedule, slot_start, slot_count, owner, max_orders, scale,
                    min_price, max_price, mean_fundamental, fundamental, clear_after_trade,
                    final, ce_offset, half_quantity, cash, position, traded, stats)


def _sort_rows(values):  # pragma: no cover - compiled by numba
    """Sort every row (last axis) of a 2-D int64 array in decreasing order, in place
    (insertion sort: the rows are short)."""
    for r in range(values.shape[0]):
        for j in range(1, values.shape[1]):
            x = values[r, j]
            i = j - 1
            while i >= 0 and values[r, i] < x:
                values[r, i + 1] = values[r, i]
                i -= 1
            values[r, i + 1] = x


def _round_sort_rows(draws, scale, out):  # pragma: no cover - compiled by numba
    """``out[r] = rint(draws[r] * scale)`` sorted in decreasing order, row by row (2-D)."""
    for r in range(draws.shape[0]):
        for j in range(draws.shape[1]):
            out[r, j] = np.int64(np.rint(draws[r, j] * scale))
    _sort_rows(out)


def _paths(shocks, pull, keep, start, out):  # pragma: no cover - compiled by numba
    """``r_t = max(0, rint(pull + keep r_{t-1} + shock_t))``, ``r_0 = start``, row by row."""
    for m in range(shocks.shape[0]):
        value = start
        for t in range(shocks.shape[1]):
            value = max(np.rint(pull + keep * value + shocks[m, t]), 0.0)
            out[m, t] = value


def _sift_down(keys, who, size, i):  # pragma: no cover - compiled by numba
    """Restore the max-heap ``keys[:size]`` (with payload ``who``) below position ``i``."""
    while True:
        child = 2 * i + 1
        if child >= size:
            return
        if child + 1 < size and keys[child + 1] > keys[child]:
            child += 1
        if keys[child] <= keys[i]:
            return
        keys[i], keys[child] = keys[child], keys[i]
        who[i], who[child] = who[child], who[i]
        i = child


def _competitive_markets(pv, buy_units, sell_units, max_gain, offset,
                         quantity):  # pragma: no cover - compiled by numba
    """Competitive allocation of every market: agent ``i`` buys its units
    ``pv[m, i, Q .. Q + buy_units[i] - 1]`` (non-increasing) and sells
    ``pv[m, i, Q - 1 .. Q - sell_units[i]]`` (non-decreasing); the k-th highest buy value pairs
    with the k-th lowest sell value while the first exceeds the second. Merges the agents'
    sorted lists with two heaps; the same numbers as sorting all units (the torch route)."""
    b, n, width = pv.shape
    q = width // 2
    total = n * q
    bkeys = np.empty(n, np.int64)
    bwho = np.empty(n, np.int64)
    skeys = np.empty(n, np.int64)
    swho = np.empty(n, np.int64)
    bnext = np.empty(n, np.int64)
    snext = np.empty(n, np.int64)
    for m in range(b):
        nb = 0
        ns = 0
        for i in range(n):
            bnext[i] = 1
            snext[i] = 1
            if buy_units[i] > 0:
                bkeys[nb] = pv[m, i, q]
                bwho[nb] = i
                nb += 1
            if sell_units[i] > 0:
                skeys[ns] = -pv[m, i, q - 1]  # a max-heap of negated costs
                swho[ns] = i
                ns += 1
        for i in range(nb // 2 - 1, -1, -1):
            _sift_down(bkeys, bwho, nb, i)
        for i in range(ns // 2 - 1, -1, -1):
            _sift_down(skeys, swho, ns, i)
        trades = 0
        gain = 0
        demand_last = 0
        supply_last = 0
        while True:
            if trades == total:
                demand_next = -np.inf
                supply_next = np.inf
                break
            demand = bkeys[0] if nb > 0 else -_SENTINEL
            supply = -skeys[0] if ns > 0 else _SENTINEL
            if not demand > supply:
                demand_next = float(demand)
                supply_next = float(supply)
                break
            gain += demand - supply
            trades += 1
            demand_last = demand
            supply_last = supply
            i = bwho[0]
            if bnext[i] < buy_units[i]:
                bkeys[0] = pv[m, i, q + bnext[i]]
                bnext[i] += 1
            else:
                nb -= 1
                bkeys[0] = bkeys[nb]
                bwho[0] = bwho[nb]
            _sift_down(bkeys, bwho, nb, 0)
            i = swho[0]
            if snext[i] < sell_units[i]:
                skeys[0] = -pv[m, i, q - 1 - snext[i]]
                snext[i] += 1
            else:
                ns -= 1
                skeys[0] = skeys[ns]
                swho[0] = swho[ns]
            _sift_down(skeys, swho, ns, 0)
        # clearing prices p: D_{k*} >= p >= S_{k*} and D_{k*+1} <= p <= S_{k*+1}
        if trades == 0:
            low = max(demand_next, -np.inf)
            high = min(supply_next, np.inf)
        else:
            low = max(demand_next, float(supply_last))
            high = min(supply_next, float(demand_last))
        max_gain[m] = gain
        offset[m] = 0.5 * (low + high)
        quantity[m] = trades


_COMPILED: dict[str, Any] = {}
_NAMES = ("_best", "_uniform_ticks", "_one_market", "_all_markets", "_sort_rows",
          "_round_sort_rows", "_paths", "_sift_down", "_competitive_markets")


def _compiled(name: str) -> Any:
    if not _COMPILED:
        import numba

        jit = numba.njit(cache=True, nogil=True)
        # callees first: the compiled callers see them as globals
        for known in _NAMES:
            _COMPILED[known] = globals()[known] = jit(globals()[known])
    return _COMPILED[name]


def sort_rows_descending(values: np.ndarray) -> np.ndarray:
    """``values`` (int64, any shape) with its last axis sorted in decreasing order, in place
    (returned)."""
    if values.size:
        _compiled("_sort_rows")(values.reshape(-1, values.shape[-1]))
    return values


def round_sort_rows(draws: np.ndarray, scale: float) -> np.ndarray:
    """``round(draws * scale)`` (float64, to nearest, ties to even) as int64, the last axis
    sorted in decreasing order (torch's ``(draws * scale).round()`` sorted, in one pass)."""
    draws = np.ascontiguousarray(draws, dtype=np.float64)
    out = np.empty(draws.shape, np.int64)
    if draws.size:
        _compiled("_round_sort_rows")(draws.reshape(-1, draws.shape[-1]), float(scale),
                                      out.reshape(-1, draws.shape[-1]))
    return out


def fundamental_paths(shocks: np.ndarray, pull: float, keep: float, start: float
                      ) -> np.ndarray:
    """``(B, T)`` paths ``r_t = max(0, round(pull + keep r_{t-1} + shock_t))`` from
    ``r_0 = start`` (rounded to nearest, ties to even: torch's ``round``)."""
    shocks = np.ascontiguousarray(shocks, dtype=np.float64)
    out = np.empty(shocks.shape, np.float64)
    _compiled("_paths")(shocks, float(pull), float(keep), float(start), out)
    return out


def competitive_allocation(private_values: np.ndarray, buy_units: np.ndarray,
                           sell_units: np.ndarray
                           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Maximum gains from trade ``(B,)`` int64, competitive price (offset) ``(B,)`` float64 and
    competitive quantity ``(B,)`` int64 of ``private_values`` ``(B, N, 2Q)`` (non-increasing
    along the last axis), agent ``i`` able to buy ``buy_units[i]`` and sell ``sell_units[i]``
    units (each at least one somewhere)."""
    pv = np.ascontiguousarray(private_values, dtype=np.int64)
    b = pv.shape[0]
    max_gain = np.zeros(b, np.int64)
    offset = np.zeros(b, np.float64)
    quantity = np.zeros(b, np.int64)
    _compiled("_competitive_markets")(pv, np.ascontiguousarray(buy_units, dtype=np.int64),
                                      np.ascontiguousarray(sell_units, dtype=np.int64),
                                      max_gain, offset, quantity)
    return max_gain, offset, quantity


def play_markets(*, arrivals: np.ndarray, draws: np.ndarray, path: np.ndarray,
                 factor: np.ndarray, signal: np.ndarray, informed: np.ndarray,
                 private_values: np.ndarray, low: np.ndarray, high: np.ndarray,
                 fixed: np.ndarray, strategy_of: np.ndarray, rules: np.ndarray,
                 schedule: np.ndarray,
                 slot_start: np.ndarray, slot_count: np.ndarray, owner: np.ndarray,
                 max_orders: int, scale: int, min_price: int, max_price: int,
                 mean_fundamental: int, fundamental: bool, clear_after_trade: bool,
                 final: np.ndarray, ce_offset: np.ndarray, half_quantity: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One episode in each of ``B`` markets.

    Parameters
    ----------
    arrivals : (B, T) int64
    draws : (B, T, 2) float64
        Uniforms of each arrival: the side coin and the price draw.
    path : (B, T) float64
        Fundamental (zeros without one).
    factor : (T,) float64
        ``(1 - kappa)^(T - 1 - t)``, the estimate's weight on the current deviation.
    signal : (B, N) float64
        Informed traders' signals (read where ``informed``).
    informed : (N,) bool
    private_values : (B, N, 2Q) int64
    low, high, fixed : (N,) int64
        Position bounds (market makers' already widened) and fixed sides.
    strategy_of : (B, N) int64
        Row of ``rules`` each agent plays.
    rules : (R, 4) int64
        ``(rule, p1, p2, p3)`` per strategy (``RULE_*``).
    schedule : (B, T, K, 5) int64
        The orders of the ``RULE_SCHEDULED`` strategy (side, price, quantity, market order,
        post-only) at every market and step (any shape ``(1, 1, 1, 5)`` without one).
    slot_start, slot_count : (N,) int64
    owner : (S,) int64
    max_orders, scale, min_price, max_price, mean_fundamental : int
    fundamental, clear_after_trade : bool
    final, ce_offset, half_quantity : (B,) float64

    Returns
    -------
    cash, position, traded : (B, N) int64
    statistics : (B, 12) float64
        Columns :data:`STATISTIC_COLUMNS`.
    """
    b, n = strategy_of.shape
    cash = np.zeros((b, n), np.int64)
    position = np.zeros((b, n), np.int64)
    traded = np.zeros((b, n), np.int64)
    statistics = np.zeros((b, len(STATISTIC_COLUMNS)), np.float64)
    # one compiled signature: C-contiguous arrays of fixed dtypes
    c = np.ascontiguousarray
    arrivals, strategy_of, rules, schedule = (c(x, dtype=np.int64) for x in (
        arrivals, strategy_of, rules, schedule))
    low, high, fixed = (c(x, dtype=np.int64) for x in (low, high, fixed))
    slot_start, slot_count, owner = (c(x, dtype=np.int64) for x in (slot_start, slot_count, owner))
    private_values, informed = c(private_values, dtype=np.int64), c(informed, dtype=np.bool_)
    draws, path, factor, signal, final, ce_offset, half_quantity = (
        c(x, dtype=np.float64) for x in (draws, path, factor, signal, final, ce_offset,
                                         half_quantity))
    _compiled("_all_markets")(
        arrivals, draws, path, factor, signal, informed, private_values, low, high, fixed,
        strategy_of, rules, schedule, slot_start, slot_count, owner, int(max_orders), int(scale),
        int(min_price), int(max_price), int(mean_fundamental), bool(fundamental),
        bool(clear_after_trade), final, ce_offset, half_quantity, cash, position, traded,
        statistics)
    return cash, position, traded, statistics
