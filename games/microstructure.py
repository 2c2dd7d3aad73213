"""Market microstructure: Glosten-Milgrom sequential trade and competing inventory dealers.

Two scenarios, both finite Markov games whose players (the liquidity providers) observe the
whole state, so every best response is an exact MDP solve (:func:`gametools.nash_conv` reports
kind ``"exact"``). Traders are not players: their behaviour is chance.

Glosten-Milgrom (``glosten_milgrom``)
-------------------------------------
An asset is worth ``V in {v_low, v_high}`` with prior ``theta = P(V = v_high)``. In each of
``n_trades`` rounds one trader arrives: informed with probability ``mu`` (buys iff
``V = v_high``, else sells) or uninformed (buys or sells with probability 1/2). ``n_market_makers``
competing market makers post an ask and a bid on the price grid ``linspace(v_low, v_high,
n_prices)``; a buyer trades one unit at the lowest ask, a seller at the highest bid, and tied
market makers split the order (each fills it with equal probability). A market maker earns
``ask - V`` when it sells and ``V - bid`` when it buys. The trade direction is public; ``V`` is
never observed.

*States and information.* The state is the public trade history ``h`` (``"B"``, ``"S"``
strings, first trade first); every market maker observes it. ``V`` is not a state component: no
player observes it and the trader is not strategic, so for market makers (whose policies can
depend only on ``h``) the game is exactly its public-belief form -- chance draws the next trade
with the predictive probability ``P(buy | h) = (1 + mu (2 theta_h - 1)) / 2`` and a market
maker's reward is its expected profit ``P(buy | h) share (ask - E[V | h, buy])`` with
``theta_h = P(V_H | h)`` by Bayes' rule. Values and best responses are the same as in the game
with ``V`` drawn up front (law of iterated expectations).

*Timing.* Each round has two quoting steps: the *ask step* (actions: ask prices) then the *bid
step* (actions: bid prices); after the bid step chance draws the trade. Posting the two sides in
two steps changes no payoff and no best response -- the trader's arrival does not depend on the
quotes and each side's profit depends only on that side's quotes -- and it keeps the action set
at ``n_prices`` instead of ``n_prices^2`` pairs. Horizon ``2 n_trades`` steps, discount 1.
(Quotes are capped at ``v_high`` / floored at ``v_low``, so the informed trader always trades.)

*Reference* (Glosten and Milgrom 1985; REFERENCES.md "Glosten-Milgrom"): Bertrand competition
drives quotes to the zero-profit quotes ``ask = E[V | h, buy] = v_low + (v_high - v_low)
theta_{hB}``, ``bid = E[V | h, sell]``, with ``theta_{hB} = theta (1 + mu) / (1 + mu (2 theta -
1))`` and ``theta_{hS} = theta (1 - mu) / (1 - mu (2 theta - 1))``; the spread is ``4 mu theta
(1 - theta) (v_high - v_low) / (1 - mu^2 (1 - 2 theta)^2)``. Instance ``V in {90, 110}``,
``mu = 0.3``, ``theta = 0.5``: quotes 97/103; after a buy ``theta = 0.65`` and quotes
100/105.5046; at ``theta = 0.9`` the spread is 2.292020. On the grid, every market maker quoting
the grid point nearest the zero-profit quote is an approximate equilibrium (exact when the quotes
lie on the grid, as 97/103 do on the default grid of step 1); rounding outward (ask up, bid down)
gives an exact grid equilibrium.

Competing dealers with inventory (``market_making``)
----------------------------------------------------
In the spirit of Ho and Stoll (1981), Avellaneda and Stoikov (2008) and Das (2005), kept small.
``n_dealers`` dealers each hold an inventory ``q_i in {-max_inventory..max_inventory}`` (units).
The public mid-price ``m_t`` is the current fundamental; it moves by ``Delta = +-volatility``
(probability 1/2 each) at the end of every period; by default the widest quote offset equals the
move, so quoting it (``m +- volatility``, the bounds of the next value) shuts informed traders
out. In each period:

1. Every dealer quotes ``ask_i = m_t + a_i tick`` and ``bid_i = m_t - b_i tick`` with
   ``a_i, b_i in {1..n_quotes}`` (action ``(a_i - 1) n_quotes + (b_i - 1)``; the half-spread is
   ``(a_i + b_i) tick / 2`` and the skew ``(b_i - a_i) tick / 2``).
2. One order arrives: *informed* with probability ``informed_fraction`` -- it knows ``Delta``,
   buys if ``Delta > 0`` and sells if ``Delta < 0``, but only when profitable (best quote offset
   ``< volatility``; otherwise it does not trade) -- or *noise*, buying or selling with
   probability 1/2 whatever the quotes.
3. The order goes to the best quote among dealers able to take it (a dealer at
   ``-max_inventory`` cannot sell, one at ``+max_inventory`` cannot buy; an order nobody can
   take is lost); ties are split at random.
4. Dealer ``i`` is paid ``spread captured + q_i' Delta - inventory_penalty q_i'^2``: the quote
   offset it traded at (in price units), the mark-to-market of its post-trade inventory
   ``q_i'``, and a quadratic inventory cost (a risk-aversion proxy). The first two sum to the
   change in its wealth ``cash + q m``.

*States and information.* The state is ``(t, q_1, ..., q_N)`` and every dealer observes it
(inventories are public). The level of ``m_t`` is not a state component: quotes are set relative
to it and every payoff is invariant to shifting it, so it would only label states. Finite horizon
``n_periods`` (default; discount may be 1) or, with ``n_periods = 0``, an infinite horizon with
``discount < 1`` (state ``(q_1, ..., q_N)``). Rewards are expectations over the period's chance
(move, order type and direction, tie-break); transitions carry the inventory outcome.

*Reference.* No closed form beyond limits. With ``inventory_penalty = 0`` and inventory limits
that do not bind, a period is a Glosten-Milgrom Bertrand game with ``V = m +- volatility`` and
``theta = 1/2``: a buy order is informed with probability ``informed_fraction``, so filling it
at offset ``a`` earns ``a tick - informed_fraction volatility`` in expectation (whatever the
inventory), the zero-profit half-spread is ``informed_fraction volatility``, and on the grid the
lowest non-losing offset (at least one tick) is an equilibrium quote
(:func:`market_making_reference`). Spreads widen with the informed fraction; with no
informed flow and no inventory penalty Bertrand competition drives the spread to the minimum,
one tick each side. An inventory penalty makes dealers skew quotes against their inventory.
Measured (default parameters, equilibria found by alternating exact best responses from the
competitive profile, NashConv 0): mean inside spread 2.58, 4.17, 5.17, 6.37 ticks at
``informed_fraction`` 0, 0.2, 0.4, 0.6. Pure equilibria need not exist or be reached by
best-response dynamics (with no informed flow and no penalty the infinite-horizon dynamics
cycle), as usual for Bertrand games on grids.

References
----------
L. R. Glosten and P. R. Milgrom, "Bid, ask and transaction prices in a specialist market with
heterogeneously informed traders", J. Financial Economics 14(1), 1985.
T. Ho and H. R. Stoll, "Optimal dealer pricing under transactions and return uncertainty",
J. Financial Economics 9(1), 1981. M. Avellaneda and S. Stoikov, "High-frequency trading in a
limit order book", Quantitative Finance 8(3), 2008. S. Das, "A learning market-maker in the
Glosten-Milgrom model", Quantitative Finance 5(2), 2005.

Examples
--------
>>> from games.microstructure import (glosten_milgrom, glosten_milgrom_reference,
...                                   glosten_milgrom_profile, glosten_milgrom_summary)
>>> ref = glosten_milgrom_reference()
>>> round(ref["bid"], 6), round(ref["ask"], 6), round(ref["theta_after_buy"], 6)
(97.0, 103.0, 0.65)
>>> game = glosten_milgrom()
>>> game.num_actions
(21, 21)
>>> stats = glosten_milgrom_summary(game, glosten_milgrom_profile(game))
>>> round(stats["bid"], 6), round(stats["ask"], 6)
(97.0, 103.0)
>>> from gametools import nash_conv
>>> from games.microstructure import market_making, market_making_profile
>>> dealers = market_making(informed_fraction=0.0, inventory_penalty=0.0, n_periods=1)
>>> float(nash_conv(dealers, market_making_profile(dealers, informed_fraction=0.0,
...                                                inventory_penalty=0.0, n_periods=1)).nash_conv)
0.0
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

from gametools.exploitability import policy_values, state_visits
from gametools.mdp import joint_policy
from gametools.model import MarkovGame
from gametools.policies import validate_profile
from gametools.scenarios import Parameter, Scenario, ScenarioError

__all__ = ["SCENARIOS", "build", "glosten_milgrom", "glosten_milgrom_profile",
           "glosten_milgrom_reference", "glosten_milgrom_select", "glosten_milgrom_summary",
           "history_labels",
           "market_making", "market_making_profile", "market_making_reference",
           "market_making_summary", "posterior", "reference", "reference_profile",
           "spread_formula", "summarize", "zero_profit_quotes"]

#: Largest ``states x joint actions`` (rows of the sparse transition matrix) a builder accepts.
MAX_ROWS = 2_000_000


# ------------------------------------------------------------------------------------------
# Glosten-Milgrom: closed forms
# ------------------------------------------------------------------------------------------

def _as_output(value: np.ndarray) -> float | np.ndarray:
    return float(value) if np.ndim(value) == 0 else value


def posterior(theta: Any, mu: float, *, buy: bool) -> float | np.ndarray:
    """Bayes update of ``theta = P(V_H)`` after one buy (``buy=True``) or one sell.

    ``theta (1 + mu) / (1 + mu (2 theta - 1))`` after a buy, ``theta (1 - mu) / (1 - mu (2 theta
    - 1))`` after a sell; a trade of probability zero leaves ``theta`` unchanged.

    Parameters
    ----------
    theta : float or array_like
    mu : float
        Informed fraction.
    """
    theta = np.asarray(theta, dtype=float)
    sign = 1.0 if buy else -1.0
    numerator = theta * (1 + sign * mu)
    denominator = 1 + sign * mu * (2 * theta - 1)
    safe = denominator > 0
    return _as_output(np.where(safe, numerator / np.where(safe, denominator, 1.0), theta))


def _buy_probability(theta: np.ndarray, mu: float) -> np.ndarray:
    """Predictive ``P(buy | theta) = (1 + mu (2 theta - 1)) / 2``."""
    return (1 + mu * (2 * np.asarray(theta, dtype=float) - 1)) / 2


def zero_profit_quotes(theta: Any, *, mu: float, v_low: float, v_high: float
                       ) -> tuple[float | np.ndarray, float | np.ndarray]:
    """``(bid, ask) = (E[V | sell], E[V | buy])`` at belief ``theta``."""
    width = v_high - v_low
    bid = v_low + width * np.asarray(posterior(theta, mu, buy=False))
    ask = v_low + width * np.asarray(posterior(theta, mu, buy=True))
    return _as_output(bid), _as_output(ask)


def spread_formula(theta: Any, *, mu: float, v_low: float, v_high: float) -> float | np.ndarray:
    """``4 mu theta (1 - theta) (v_high - v_low) / (1 - mu^2 (1 - 2 theta)^2)``."""
    theta = np.asarray(theta, dtype=float)
    denominator = 1 - mu ** 2 * (1 - 2 * theta) ** 2
    safe = denominator > 0
    value = 4 * mu * theta * (1 - theta) * (v_high - v_low) / np.where(safe, denominator, 1.0)
    return _as_output(np.where(safe, value, 0.0))


def history_labels(n_trades: int) -> list[str]:
    """Public histories before each round, in state order: ``"", "B", "S", "BB", "BS", ...``."""
    labels = []
    for t in range(n_trades):
        for code in range(2 ** t):
            labels.append("".join("BS"[(code >> (t - 1 - k)) & 1] for k in range(t)))
    return labels


def _history_beliefs(theta: float, mu: float, n_trades: int) -> np.ndarray:
    """``theta_h`` for every history of :func:`history_labels`, shape ``(2^n_trades - 1,)``."""
    levels = [np.array([theta])]
    for _ in range(n_trades - 1):
        last = levels[-1]
        children = np.stack([posterior(last, mu, buy=True), posterior(last, mu, buy=False)],
                            axis=1)
        levels.append(np.asarray(children).ravel())  # child code 2 c + (0 buy, 1 sell)
    return np.concatenate(levels)


def _history_probabilities(theta: float, mu: float, n_trades: int) -> np.ndarray:
    """``P(h)`` of every history, shape ``(2^n_trades - 1,)``."""
    beliefs = _history_beliefs(theta, mu, n_trades)
    levels = [np.array([1.0])]
    start = 0
    for t in range(n_trades - 1):
        buy = _buy_probability(beliefs[start:start + 2 ** t], mu)
        levels.append((levels[-1][:, None] * np.stack([buy, 1 - buy], axis=1)).ravel())
        start += 2 ** t
    return np.concatenate(levels)


def _gm_resolve(params: dict[str, Any]) -> dict[str, Any]:
    q = SCENARIOS[0].resolve(**params)
    if q["v_low"] >= q["v_high"]:
        raise ScenarioError(f"scenario 'glosten_milgrom': v_low must be below v_high, got "
                            f"v_low={q['v_low']!r}, v_high={q['v_high']!r}")
    return q


def _quotes_by_round(probabilities: np.ndarray, bids: np.ndarray, asks: np.ndarray,
                     n_trades: int) -> dict[str, list[float]]:
    """Expected bid, ask and spread in each round; histories are stored round by round."""
    by_round: dict[str, list[float]] = {"bid": [], "ask": [], "spread": []}
    for t in range(n_trades):
        level = slice(2 ** t - 1, 2 ** (t + 1) - 1)
        weights = probabilities[level]
        by_round["bid"].append(float(weights @ bids[level]))
        by_round["ask"].append(float(weights @ asks[level]))
        by_round["spread"].append(float(weights @ (asks[level] - bids[level])))
    return by_round


def glosten_milgrom_reference(**params: Any) -> dict[str, Any]:
    """The Glosten-Milgrom zero-profit quotes for the parameters (grid parameters ignored).

    Returns
    -------
    dict
        ``bid``, ``ask``, ``spread`` at the prior ``theta``; ``spread_formula`` (the closed
        form, equal to ``spread``); ``theta_after_buy``, ``theta_after_sell``;
        ``bid_by_round``, ``ask_by_round``, ``spread_by_round`` (lists, expectations over the
        histories before each round); ``history_quotes`` (``{history: [bid, ask]}``, histories
        as in :func:`history_labels`, ``""`` the first round) and ``history_theta``.
    """
    q = _gm_resolve(params)
    mu, theta, n_trades = q["mu"], q["theta"], q["n_trades"]
    bounds = {"mu": mu, "v_low": q["v_low"], "v_high": q["v_high"]}
    beliefs = _history_beliefs(theta, mu, n_trades)
    probabilities = _history_probabilities(theta, mu, n_trades)
    bids, asks = (np.asarray(x) for x in zero_profit_quotes(beliefs, **bounds))
    labels = history_labels(n_trades)
    by_round = _quotes_by_round(probabilities, bids, asks, n_trades)
    return {"bid": float(bids[0]), "ask": float(asks[0]), "spread": float(asks[0] - bids[0]),
            "spread_formula": float(spread_formula(theta, **bounds)),
            "theta_after_buy": float(posterior(theta, mu, buy=True)),
            "theta_after_sell": float(posterior(theta, mu, buy=False)),
            "bid_by_round": by_round["bid"], "ask_by_round": by_round["ask"],
            "spread_by_round": by_round["spread"],
            "history_quotes": {h: [float(b), float(a)] for h, b, a in zip(labels, bids, asks)},
            "history_theta": {h: float(x) for h, x in zip(labels, beliefs)}}


# ------------------------------------------------------------------------------------------
# Glosten-Milgrom: the grid game
# ------------------------------------------------------------------------------------------

def _price_grid(q: dict[str, Any]) -> np.ndarray:
    return np.linspace(q["v_low"], q["v_high"], q["n_prices"])


def _best_quote_shares(num_prices: int, num_players: int, *, lowest: bool
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Best price index of every joint action ``(J,)`` and each player's share ``(N, J)``.

    Joint actions are flattened in C order; ``lowest`` picks the minimum (asks) or maximum
    (bids); tied players share equally.
    """
    digits = np.stack(np.unravel_index(np.arange(num_prices ** num_players),
                                       (num_prices,) * num_players))  # (N, J)
    best = digits.min(axis=0) if lowest else digits.max(axis=0)
    winners = digits == best[None, :]
    return best, winners / winners.sum(axis=0, keepdims=True)


def glosten_milgrom(**params: Any) -> MarkovGame:
    """The Glosten-Milgrom game on the price grid (parameters as in :data:`SCENARIOS`).

    Returns
    -------
    MarkovGame
        ``n_market_makers`` players with ``n_prices`` actions each (price grid indices, labels
        the prices), fully observed, discount 1. State ``2 k`` is the ask step and ``2 k + 1``
        the bid step of history ``k`` of :func:`history_labels`; the last state is terminal.
    """
    q = _gm_resolve(params)
    mu, n_trades, num_players = q["mu"], q["n_trades"], q["n_market_makers"]
    prices = _price_grid(q)
    num_prices = len(prices)
    num_histories = 2 ** n_trades - 1
    num_states = 2 * num_histories + 1
    num_joint = num_prices ** num_players
    if num_states * num_joint > MAX_ROWS:
        raise ScenarioError(f"scenario 'glosten_milgrom': {num_states} states x {num_joint} "
                            f"joint actions exceed the limit of {MAX_ROWS} rows; use fewer "
                            "prices, market makers or trades")
    beliefs = _history_beliefs(q["theta"], mu, n_trades)
    buy = _buy_probability(beliefs, mu)
    bids, asks = (np.asarray(x) for x in zero_profit_quotes(beliefs, mu=mu, v_low=q["v_low"],
                                                             v_high=q["v_high"]))
    best_ask, ask_share = _best_quote_shares(num_prices, num_players, lowest=True)
    best_bid, bid_share = _best_quote_shares(num_prices, num_players, lowest=False)
    rewards = np.zeros((num_players, num_states, num_joint))
    # expected profit: P(order) x share x (quote - E[V | h, order])
    rewards[:, 0:-1:2] = (buy[None, :, None] * ask_share[:, None, :]
                          * (prices[best_ask][None, None, :] - asks[None, :, None]))
    rewards[:, 1:-1:2] = ((1 - buy)[None, :, None] * bid_share[:, None, :]
                          * (bids[None, :, None] - prices[best_bid][None, None, :]))
    rows, cols, data = [], [], []
    joint = np.arange(num_joint)
    terminal_state = num_states - 1
    for k in range(num_histories):
        ask_state, bid_state = 2 * k, 2 * k + 1
        rows.append(ask_state * num_joint + joint)
        cols.append(np.full(num_joint, bid_state))
        data.append(np.ones(num_joint))
        level = int(math.log2(k + 1))
        if level == n_trades - 1:
            rows.append(bid_state * num_joint + joint)
            cols.append(np.full(num_joint, terminal_state))
            data.append(np.ones(num_joint))
            continue
        code = k - (2 ** level - 1)
        for direction, probability in ((0, buy[k]), (1, 1 - buy[k])):
            if probability <= 0.0:
                continue
            child = 2 ** (level + 1) - 1 + 2 * code + direction
            rows.append(bid_state * num_joint + joint)
            cols.append(np.full(num_joint, 2 * child))
            data.append(np.full(num_joint, probability))
    transitions = sp.csr_array((np.concatenate(data), (np.concatenate(rows),
                                                       np.concatenate(cols))),
                               shape=(num_states * num_joint, num_states))
    initial = np.zeros(num_states)
    initial[0] = 1.0
    terminal = np.zeros(num_states, dtype=bool)
    terminal[terminal_state] = True
    labels = [f"{h or '-'}:{side}" for h in history_labels(n_trades) for side in ("ask", "bid")]
    return MarkovGame(transitions, rewards.reshape(num_players, num_states,
                                                   *(num_prices,) * num_players),
                      initial, 1.0, terminal=terminal, state_labels=labels + ["end"],
                      player_labels=[f"market maker {i + 1}" for i in range(num_players)],
                      action_labels=[[f"{p:.12g}" for p in prices]] * num_players)


def _check_gm_game(game: MarkovGame, q: dict[str, Any]) -> None:
    expected = (q["n_prices"],) * q["n_market_makers"]
    num_states = 2 * (2 ** q["n_trades"] - 1) + 1
    if game.num_actions != expected or game.num_states != num_states:
        raise ScenarioError(f"scenario 'glosten_milgrom': the game ({game.num_states} states, "
                            f"actions {game.num_actions}) was not built with these parameters "
                            f"({num_states} states, actions {expected}); pass the parameters "
                            "used to build it")


def _round_to_grid(grid: np.ndarray, targets: np.ndarray, rounding: str) -> np.ndarray:
    """Grid indices of targets: ``nearest``, ``up`` (smallest >= target) or ``down``."""
    tol = 1e-9 * (grid[-1] - grid[0])
    if rounding == "up":
        return np.clip(np.searchsorted(grid, targets - tol, side="left"), 0, len(grid) - 1)
    if rounding == "down":
        return np.clip(np.searchsorted(grid, targets + tol, side="right") - 1, 0, len(grid) - 1)
    right = np.clip(np.searchsorted(grid, targets), 1, len(grid) - 1)
    left = right - 1
    return np.where(np.abs(targets - grid[left]) <= np.abs(grid[right] - targets), left, right)


def glosten_milgrom_profile(game: MarkovGame, *, rounding: str = "nearest", **params: Any
                            ) -> tuple[np.ndarray, ...]:
    """Every market maker quoting the zero-profit quotes, projected onto the price grid.

    Parameters
    ----------
    game : MarkovGame
        Built by :func:`glosten_milgrom` with ``params``.
    rounding : {"nearest", "outward"}
        ``nearest`` grid price (the projected closed form; its NashConv is the grid error and
        vanishes when the quotes lie on the grid), or ``outward`` (ask rounded up, bid down: an
        exact equilibrium of the grid game, each market maker earning at most one tick).

    Returns
    -------
    tuple of ndarray
        One deterministic policy ``(S, n_prices)`` per market maker (the terminal row quotes
        the lowest price; it is never used).
    """
    if rounding not in ("nearest", "outward"):
        raise ScenarioError(f"rounding must be 'nearest' or 'outward', got {rounding!r}")
    q = _gm_resolve(params)
    _check_gm_game(game, q)
    prices = _price_grid(q)
    beliefs = _history_beliefs(q["theta"], q["mu"], q["n_trades"])
    bids, asks = (np.asarray(x) for x in zero_profit_quotes(beliefs, mu=q["mu"],
                                                             v_low=q["v_low"],
                                                             v_high=q["v_high"]))
    choice = np.zeros(game.num_states, dtype=int)
    choice[0:-1:2] = _round_to_grid(prices, asks, "nearest" if rounding == "nearest" else "up")
    choice[1:-1:2] = _round_to_grid(prices, bids, "nearest" if rounding == "nearest" else "down")
    policy = np.eye(len(prices))[choice]
    return tuple(policy.copy() for _ in range(q["n_market_makers"]))


def _expected_extreme(prices: np.ndarray, marginals: np.ndarray, *, lowest: bool) -> float:
    """``E[min_i p_i]`` (or max) for independent quotes with marginals ``(N, G)``."""
    if lowest:
        # P(min index >= k) = prod_i P(index_i >= k)
        tail = np.prod(np.cumsum(marginals[:, ::-1], axis=1)[:, ::-1], axis=0)
        mass = tail - np.append(tail[1:], 0.0)
    else:
        head = np.prod(np.cumsum(marginals, axis=1), axis=0)
        mass = head - np.insert(head[:-1], 0, 0.0)
    return float(mass @ prices)


def glosten_milgrom_summary(game: MarkovGame, profile: Sequence[Any], **params: Any
                            ) -> dict[str, Any]:
    """Quotes and profits of a profile, computed exactly (no sampling).

    Returns
    -------
    dict
        ``bid``, ``ask``, ``spread``: the expected best (inside) quotes in the first round;
        ``bid_by_round``, ``ask_by_round``, ``spread_by_round``: their expectations over the
        histories before each round (lists); ``history_quotes``: ``{history: [bid, ask]}``
        expected inside quotes per history (as in :func:`history_labels`);
        ``market_maker_profit``: expected total profit of each market maker (list);
        ``quote_error``: the largest ``|inside quote - zero-profit quote|`` over histories of
        positive probability.
    """
    q = _gm_resolve(params)
    _check_gm_game(game, q)
    policies = validate_profile(game, profile)
    prices = _price_grid(q)
    n_trades = q["n_trades"]
    probabilities = _history_probabilities(q["theta"], q["mu"], n_trades)
    beliefs = _history_beliefs(q["theta"], q["mu"], n_trades)
    zero_bids, zero_asks = (np.asarray(x) for x in zero_profit_quotes(
        beliefs, mu=q["mu"], v_low=q["v_low"], v_high=q["v_high"]))
    num_histories = len(probabilities)
    asks, bids = np.zeros(num_histories), np.zeros(num_histories)
    for k in range(num_histories):
        asks[k] = _expected_extreme(prices, np.stack([p[2 * k] for p in policies]), lowest=True)
        bids[k] = _expected_extreme(prices, np.stack([p[2 * k + 1] for p in policies]),
                                    lowest=False)
    by_round = _quotes_by_round(probabilities, bids, asks, n_trades)
    seen = probabilities > 0
    error = np.maximum(np.abs(asks - zero_asks), np.abs(bids - zero_bids))[seen]
    return {"bid": float(bids[0]), "ask": float(asks[0]), "spread": float(asks[0] - bids[0]),
            "bid_by_round": by_round["bid"], "ask_by_round": by_round["ask"],
            "spread_by_round": by_round["spread"],
            "history_quotes": {h: [float(b), float(a)]
                               for h, b, a in zip(history_labels(n_trades), bids, asks)},
            "market_maker_profit": policy_values(game, policies).tolist(),
            "quote_error": float(error.max())}


# ------------------------------------------------------------------------------------------
# competing dealers with inventory
# ------------------------------------------------------------------------------------------

def _mm_resolve(params: dict[str, Any]) -> dict[str, Any]:
    q = SCENARIOS[1].resolve(**params)
    if q["n_periods"] == 0 and q["discount"] >= 1.0:
        raise ScenarioError("scenario 'market_making': the infinite horizon (n_periods=0) needs "
                            f"discount < 1, got discount={q['discount']!r}")
    return q


def _mm_layout(q: dict[str, Any]) -> tuple[int, int, int, int]:
    """``(inventory levels, inventory configurations M, joint actions J, number of states)``."""
    levels = 2 * q["max_inventory"] + 1
    configurations = levels ** q["n_dealers"]
    num_joint = q["n_quotes"] ** (2 * q["n_dealers"])
    periods = max(q["n_periods"], 1)
    num_states = periods * configurations + (1 if q["n_periods"] else 0)
    return levels, configurations, num_joint, num_states


def _mm_inventories(q: dict[str, Any]) -> np.ndarray:
    """Inventories ``(M, N)`` of the configurations, dealer 1 the most significant digit."""
    levels, configurations, _, _ = _mm_layout(q)
    digits = np.unravel_index(np.arange(configurations), (levels,) * q["n_dealers"])
    return np.stack(digits, axis=1) - q["max_inventory"]


def _mm_tables(q: dict[str, Any]) -> dict[str, np.ndarray]:
    """Per (configuration, joint action) expectations of one period, vectorised.

    Returns arrays of shape ``(M, J)`` (``best_ask``, ``best_bid`` offsets in ticks,
    ``buy``, ``sell`` probabilities of an executed buy / sell order, ``both_sides``) and
    ``(N, M, J)`` (``spread``, ``adverse``, ``cost`` reward components, ``win_buy``,
    ``win_sell`` probabilities), plus the quote offsets ``ask_offsets``, ``bid_offsets``
    ``(N, J)`` in ticks.
    """
    n, k, cap = q["n_dealers"], q["n_quotes"], q["max_inventory"]
    alpha, sigma, tick = q["informed_fraction"], q["volatility"], q["tick"]
    num_joint = _mm_layout(q)[2]
    inventory = _mm_inventories(q)  # (M, N)
    digits = np.stack(np.unravel_index(np.arange(num_joint), (k,) * (2 * n)))  # (2N, J)
    ask_offsets, bid_offsets = digits[0::2] + 1, digits[1::2] + 1  # (N, J) ticks
    big = k + 1
    out: dict[str, np.ndarray] = {"ask_offsets": ask_offsets, "bid_offsets": bid_offsets}
    for side, offsets, able in (("buy", ask_offsets, inventory > -cap),
                                ("sell", bid_offsets, inventory < cap)):
        # (M, N, J): offsets of dealers able to take the order
        quoted = np.where(able[:, :, None], offsets[None, :, :], big)
        best = quoted.min(axis=1)  # (M, J)
        winners = (quoted == best[:, None, :]) & able[:, :, None]
        count = winners.sum(axis=1)
        share = winners / np.maximum(count, 1)[:, None, :]
        available = count > 0
        # the informed trader trades only when the best quote is inside the move
        informed = available & (best * tick < sigma - 1e-12 * sigma)
        executed = available * (1 - alpha) / 2 + informed * alpha / 2
        out[f"best_{'ask' if side == 'buy' else 'bid'}"] = np.where(available, best, 0)
        out[side] = executed
        out[f"win_{side}"] = np.moveaxis(share, 1, 0) * executed[None]
        # E[Delta 1{order executed by the winner}]: noise orders are independent of Delta,
        # informed buys come with Delta = +sigma and informed sells with -sigma
        out[f"informed_{side}"] = np.moveaxis(share, 1, 0) * (informed * alpha / 2)[None]
        out[f"{side}_available"] = available
    out["both_sides"] = out.pop("buy_available") & out.pop("sell_available")
    q_i = inventory.T[:, :, None]  # (N, M, 1)
    out["spread"] = tick * (out["win_buy"] * out["best_ask"][None]
                            + out["win_sell"] * out["best_bid"][None])
    # mark-to-market E[q' Delta] = q E[Delta] - E[Delta 1{sold}] + E[Delta 1{bought}]
    out["adverse"] = -sigma * (out.pop("informed_buy") + out.pop("informed_sell"))
    out["cost"] = -q["inventory_penalty"] * (q_i ** 2 + out["win_buy"] * (1 - 2 * q_i)
                                             + out["win_sell"] * (1 + 2 * q_i))
    return out


def market_making(**params: Any) -> MarkovGame:
    """The competing-dealers game (parameters as in :data:`SCENARIOS`).

    Returns
    -------
    MarkovGame
        ``n_dealers`` players with ``n_quotes^2`` actions each (action ``(a - 1) n_quotes +
        (b - 1)``: ask ``a`` and bid ``b`` ticks from the mid), fully observed, sparse
        transitions. Finite horizon: state ``t M + c`` is period ``t`` with inventory
        configuration ``c`` (mixed radix, dealer 1 most significant, ``M = (2 max_inventory +
        1)^n_dealers``) and the last state is terminal; infinite horizon: state ``c``.
    """
    q = _mm_resolve(params)
    n, periods = q["n_dealers"], q["n_periods"]
    levels, configurations, num_joint, num_states = _mm_layout(q)
    if num_states * num_joint > MAX_ROWS:
        raise ScenarioError(f"scenario 'market_making': {num_states} states x {num_joint} joint "
                            f"actions exceed the limit of {MAX_ROWS} rows; use fewer quotes, "
                            "dealers, periods or inventory levels")
    tables = _mm_tables(q)
    per_period = tables["spread"] + tables["adverse"] + tables["cost"]  # (N, M, J)
    strides = levels ** np.arange(n - 1, -1, -1)
    config = np.arange(configurations)[:, None]
    # next configuration and probability: dealer w sells (fills a buy) / buys, or no trade
    outcomes = [(config - strides[w], tables["win_buy"][w]) for w in range(n)]
    outcomes += [(config + strides[w], tables["win_sell"][w]) for w in range(n)]
    outcomes.append((config, 1 - tables["buy"] - tables["sell"]))
    rows, cols, data = [], [], []
    local_rows = config * num_joint + np.arange(num_joint)[None, :]  # (M, J)
    for t in range(max(periods, 1)):
        for following, probability in outcomes:
            keep = probability > 0
            target = np.broadcast_to(following, keep.shape)[keep]
            if periods == 0:
                cols.append(target)
            elif t + 1 < periods:
                cols.append((t + 1) * configurations + target)
            else:
                cols.append(np.full(int(keep.sum()), num_states - 1))
            rows.append(t * configurations * num_joint + local_rows[keep])
            data.append(probability[keep])
    transitions = sp.csr_array((np.concatenate(data), (np.concatenate(rows),
                                                       np.concatenate(cols))),
                               shape=(num_states * num_joint, num_states))
    rewards = np.zeros((n, num_states, num_joint))
    rewards[:, :max(periods, 1) * configurations] = np.tile(per_period, (1, max(periods, 1), 1))
    inventory = _mm_inventories(q)
    start = int(np.ravel_multi_index(tuple(np.full(n, q["max_inventory"])), (levels,) * n))
    initial = np.zeros(num_states)
    initial[start] = 1.0
    terminal = None
    names = ["q=" + ",".join(map(str, row)) for row in inventory.tolist()]
    if periods:
        terminal = np.zeros(num_states, dtype=bool)
        terminal[-1] = True
        names = [f"t{t}:{name}" for t in range(periods) for name in names] + ["end"]
    k, tick = q["n_quotes"], q["tick"]
    actions = [f"ask+{a * tick:g}/bid-{b * tick:g}" for a in range(1, k + 1)
               for b in range(1, k + 1)]
    return MarkovGame(transitions, rewards.reshape(n, num_states, *(k * k,) * n), initial,
                      q["discount"], terminal=terminal, state_labels=names,
                      player_labels=[f"dealer {i + 1}" for i in range(n)],
                      action_labels=[actions] * n)


def _check_mm_game(game: MarkovGame, q: dict[str, Any]) -> None:
    expected = (q["n_quotes"] ** 2,) * q["n_dealers"]
    num_states = _mm_layout(q)[3]
    if game.num_actions != expected or game.num_states != num_states:
        raise ScenarioError(f"scenario 'market_making': the game ({game.num_states} states, "
                            f"actions {game.num_actions}) was not built with these parameters "
                            f"({num_states} states, actions {expected}); pass the parameters "
                            "used to build it")


def _competitive_offset(q: dict[str, Any]) -> int:
    """Lowest grid offset (ticks, >= 1) whose half-spread covers the adverse selection."""
    target = q["informed_fraction"] * q["volatility"] / q["tick"]
    return int(min(max(math.ceil(target - 1e-9), 1), q["n_quotes"]))


def market_making_reference(**params: Any) -> dict[str, Any]:
    """Competitive benchmarks of the dealers' game (no closed form beyond these limits).

    Returns
    -------
    dict
        - ``zero_profit_half_spread``: ``informed_fraction * volatility``, the Glosten-Milgrom
          competitive half-spread at ``theta = 1/2`` with ``V = m +- volatility`` (valid with no
          inventory penalty and slack inventory limits);
        - ``zero_profit_spread``: twice that;
        - ``competitive_half_spread``, ``competitive_spread``: the lowest non-losing grid offset
          (at least one tick, at most ``n_quotes`` ticks) and twice it: with no inventory
          penalty every dealer quoting it on both sides is an equilibrium of one period;
        - ``minimum_spread``: ``2 tick``, the competitive spread without informed flow.
    """
    q = _mm_resolve(params)
    half = q["informed_fraction"] * q["volatility"]
    offset = _competitive_offset(q) * q["tick"]
    return {"zero_profit_half_spread": half, "zero_profit_spread": 2 * half,
            "competitive_half_spread": offset, "competitive_spread": 2 * offset,
            "minimum_spread": 2 * q["tick"]}


def market_making_profile(game: MarkovGame, **params: Any) -> tuple[np.ndarray, ...]:
    """Every dealer quoting the competitive offset on both sides in every state.

    The benchmark of :func:`market_making_reference`: an exact equilibrium of one period without
    inventory penalty; otherwise (penalty, binding inventory limits, several periods) a
    benchmark whose NashConv measures how far inventory effects move the equilibrium.

    Returns
    -------
    tuple of ndarray
        One deterministic policy ``(S, n_quotes^2)`` per dealer.
    """
    q = _mm_resolve(params)
    _check_mm_game(game, q)
    k = q["n_quotes"]
    offset = _competitive_offset(q)
    policy = np.zeros((game.num_states, k * k))
    policy[:, (offset - 1) * k + (offset - 1)] = 1.0
    return tuple(policy.copy() for _ in range(q["n_dealers"]))


def market_making_summary(game: MarkovGame, profile: Sequence[Any], **params: Any
                          ) -> dict[str, Any]:
    """Spreads, inventories and profits of a profile, computed exactly (no sampling).

    Averages are over the (discounted) state-visit distribution of the profile, one visit per
    period.

    Returns
    -------
    dict
        - ``initial_spread``: expected inside spread (best ask - best bid) in the first period;
        - ``mean_spread``: expected inside spread per period (over periods where both sides can
          trade);
        - ``mean_quoted_spread``: each dealer's mean own spread ``(a + b) tick`` (list);
        - ``mean_abs_inventory``: mean ``|q|`` over dealers and periods (start of period), and
          ``abs_inventory_by_dealer`` (list);
        - ``dealer_profit``: expected total (discounted) reward of each dealer (list), the sum
          of ``spread_revenue``, ``adverse_selection`` (mark-to-market) and
          ``inventory_cost`` (lists).
    """
    q = _mm_resolve(params)
    _check_mm_game(game, q)
    policies = validate_profile(game, profile)
    _, configurations, num_joint, _ = _mm_layout(q)
    tables = _mm_tables(q)
    joint = joint_policy(game, policies)
    # discounted expected visits, zero at terminal states
    visits = np.where(game.terminal, 0.0, state_visits(game, policies))
    periods = max(q["n_periods"], 1)
    live = slice(0, periods * configurations)
    weights = (visits[live, None] * joint[live]).reshape(periods, configurations, num_joint)
    weights = weights.sum(axis=0)  # (M, J): rewards do not depend on the period
    total = float(weights.sum())
    tick = q["tick"]
    inside = tick * (tables["best_ask"] + tables["best_bid"]) * tables["both_sides"]
    quoted = tick * (tables["ask_offsets"] + tables["bid_offsets"])  # (N, J)
    start = int(np.flatnonzero(game.initial)[0])
    first = joint[start].reshape(1, num_joint)
    first_config = start % configurations
    inventory = np.abs(_mm_inventories(q))  # (M, N)
    components = {name: np.einsum("mj,nmj->n", weights, tables[name]).tolist()
                  for name in ("spread", "adverse", "cost")}
    abs_inventory = (weights.sum(axis=1) @ inventory) / total
    both = float((weights * tables["both_sides"]).sum())
    return {"initial_spread": float(first[0] @ inside[first_config]),
            "mean_spread": float((weights * inside).sum() / both) if both > 0 else float("nan"),
            "mean_quoted_spread": (np.einsum("mj,nj->n", weights, quoted) / total).tolist(),
            "mean_abs_inventory": float(abs_inventory.mean()),
            "abs_inventory_by_dealer": abs_inventory.tolist(),
            "dealer_profit": policy_values(game, policies).tolist(),
            "spread_revenue": components["spread"],
            "adverse_selection": components["adverse"],
            "inventory_cost": components["cost"]}


# ------------------------------------------------------------------------------------------
# one entry point per role
# ------------------------------------------------------------------------------------------

_BUILDERS = {"glosten_milgrom": (glosten_milgrom, glosten_milgrom_reference,
                                 glosten_milgrom_profile, glosten_milgrom_summary),
             "market_making": (market_making, market_making_reference, market_making_profile,
                               market_making_summary)}


def _family(scenario: str) -> tuple[Any, ...]:
    if scenario not in _BUILDERS:
        raise ScenarioError(f"scenario must be one of {list(_BUILDERS)}, got {scenario!r}")
    return _BUILDERS[scenario]


def build(*, scenario: str = "glosten_milgrom", **params: Any) -> MarkovGame:
    """Build ``scenario`` (``"glosten_milgrom"`` or ``"market_making"``) with ``params``."""
    return _family(scenario)[0](**params)


def reference(*, scenario: str = "glosten_milgrom", **params: Any) -> dict[str, Any]:
    """The reference statistics of ``scenario`` (see the per-scenario functions)."""
    return _family(scenario)[1](**params)


def reference_profile(game: MarkovGame, *, scenario: str = "glosten_milgrom", **params: Any
                      ) -> tuple[np.ndarray, ...]:
    """The reference profile of ``scenario`` on ``game`` (see the per-scenario functions)."""
    return _family(scenario)[2](game, **params)


def summarize(game: MarkovGame, profile: Sequence[Any], *, scenario: str = "glosten_milgrom",
              **params: Any) -> dict[str, Any]:
    """The economic statistics of ``profile`` in ``scenario`` (see the per-scenario functions)."""
    return _family(scenario)[3](game, profile, **params)


def glosten_milgrom_select(game: MarkovGame, result: Any, **params: Any) -> Any:
    """The solver's result with the zero-profit (competitive) quotes first.

    Bertrand competition among market makers drives quotes to ``E[V | h, trade]`` (Glosten and
    Milgrom 1985); the grid game also has collusive equilibria (wider quotes that no market
    maker gains from undercutting by one tick). The candidate is the zero-profit quotes at the
    nearest grid prices when that is an exact equilibrium, else rounded outward (always one).
    """
    from games.selection import select_theory_equilibrium
    from gametools import nash_conv

    candidate = glosten_milgrom_profile(game, rounding="nearest", **params)
    rule = "zero-profit quotes (Bertrand competition among market makers, Glosten-Milgrom 1985)"
    if nash_conv(game, candidate).nash_conv > 1e-9:
        candidate = glosten_milgrom_profile(game, rounding="outward", **params)
        rule += ", rounded outward to the grid"
    return select_theory_equilibrium(game, result, candidate, rule=rule,
                                     summarize=glosten_milgrom_summary, params=params)


SCENARIOS = (
    Scenario(
        "glosten_milgrom", "Glosten-Milgrom (1985) sequential trade: competing market makers "
        "quote against informed and noise traders.",
        glosten_milgrom,
        (Parameter("mu", 0.3, "probability that a trader is informed", low=0.0, high=1.0),
         Parameter("theta", 0.5, "prior probability of the high value", low=0.0, high=1.0),
         Parameter("v_low", 90.0, "low value of the asset", low=-1e9, high=1e9),
         Parameter("v_high", 110.0, "high value of the asset (> v_low)", low=-1e9, high=1e9),
         Parameter("n_market_makers", 2, "competing market makers", low=2, high=4),
         Parameter("n_trades", 2, "trading rounds (the state count is 2^(n_trades + 1) - 1)",
                   low=1, high=3),
         Parameter("n_prices", 21, "quote grid points, equally spaced from v_low to v_high",
                   low=2, high=201)),
        reference=glosten_milgrom_reference, summarize=glosten_milgrom_summary,
        select=glosten_milgrom_select, tags=("information", "market making")),
    Scenario(
        "market_making", "Competing dealers with inventory quote spreads against informed and "
        "noise order flow.",
        market_making,
        (Parameter("n_dealers", 2, "competing dealers", low=2, high=3),
         Parameter("informed_fraction", 0.3, "probability that an order is informed (knows the "
                   "next fundamental move)", low=0.0, high=1.0),
         Parameter("volatility", 4.0, "size of the fundamental's move each period (price units)",
                   low=1e-9, high=1e9),
         Parameter("tick", 1.0, "quote grid step (price units)", low=1e-9, high=1e9),
         Parameter("n_quotes", 4, "quote offsets 1..n_quotes ticks on each side", low=1, high=8),
         Parameter("max_inventory", 2, "inventory limit (units) on either side", low=1, high=4),
         Parameter("inventory_penalty", 0.1, "per-period cost per squared unit of inventory",
                   low=0.0, high=1e9),
         Parameter("n_periods", 3, "finite horizon in periods; 0 for an infinite horizon "
                   "(needs discount < 1)", low=0, high=20),
         Parameter("discount", 1.0, "per-period discount factor", low=0.0, high=1.0)),
        reference=market_making_reference, summarize=market_making_summary,
        tags=("market making", "inventory")),
)
