"""Sealed-bid private-value auctions (first price, second price, all pay) on grids and in torch.

Economics
---------
One object is sold to ``n`` risk-neutral bidders. Bidder ``i`` has a private value ``v_i``, drawn
independently from the same distribution (``U[0, 1]`` in the continuous model); it knows only its
own value. All bidders submit sealed bids at once; the highest bid wins and

- *first price*: the winner pays its bid;
- *second price*: the winner pays the highest other bid (Vickrey);
- *all pay*: every bidder pays its bid, win or lose.

A *reserve* price ``r`` (default 0) rejects every bid below ``r``: a rejected bid neither wins nor
pays (in the all-pay auction too, so bidding below ``r`` is abstaining); the second-price winner
pays ``max(r, highest other accepted bid)``; with no accepted bid the object stays unsold.
*Ties* among the highest accepted bids are split equally: each of ``k`` tied bidders receives
``1 / k`` of the object and pays ``1 / k`` of the price (the expected payoff of a uniformly random
tie-break; in the all-pay auction every bidder pays its whole bid regardless). Bidder ``i``'s reward
is ``share_i v_i - payment_i``.

As a MarkovGame (one step)
--------------------------
Chance draws the value profile: the initial distribution puts probability ``prod_i P(v_i)`` on the
state of each value profile (``K^n`` states, bidder 0's value the most significant digit); bidder
``i`` observes only its own value index (``observations[i, s] = k_i(s)``, ``K`` observations); all
bidders bid at once, rewards are paid and the game ends in one terminal state (whose observation
is 0 for every bidder; nobody acts there). Each bidder's observation is its whole history, so the
game has perfect recall and :func:`gametools.exploitability.nash_conv` is exact.

Discretisation
--------------
- *Values*: ``n_values = K`` equally likely midpoints ``v_k = (k + 1/2) / K``: the node of value
  bin ``[k / K, (k + 1) / K)`` is its conditional mean, so the discrete game is the continuous
  model in which each bidder sees only the bin of its value (rewards are linear in ``v_i``).
- *Bids*: ``n_bids = M`` equally spaced points ``b_j = j / (M - 1)`` in ``[0, 1]``. The default
  ``M = 2 K + 1`` makes the bid grid contain the value grid (aligned grids), so truthful bidding in
  the second-price auction is exactly an equilibrium (weakly dominant).

Closed forms (REFERENCES.md "Auctions"; Krishna, *Auction Theory*, 2nd ed., ch. 2-3)
------------------------------------------------------------------------------------
Values iid ``U[0, 1]``, reserve ``r``. In the symmetric equilibrium only values at or above a
cutoff ``c`` bid: ``c = r`` in the first- and second-price auctions and ``c = r^(1/n)`` in the
all-pay auction (the marginal bidder pays ``r`` win or lose, so ``c`` solves ``c G(c) = r`` with
``G(c) = c^(n-1)`` the probability of winning). A bidder of value ``v >= c`` bids

- first price: ``b(v) = ((n - 1) v^n + c^n) / (n v^(n-1))`` (``(n - 1) v / n`` at ``r = 0``);
- second price: ``b(v) = v`` (weakly dominant);
- all pay: ``b(v) = ((n - 1) v^n + c^n) / n`` (``(n - 1) v^n / n`` at ``r = 0``).

Revenue is the same in all three (revenue equivalence):
``(n - 1)/(n + 1) + c^n - 2 n c^(n+1)/(n + 1)``, i.e. ``(n - 1)/(n + 1)`` at ``r = 0`` (the
revenue-maximising cutoff is ``1/2`` for every ``n``, Myerson 1981). Each bidder's expected
surplus is ``(1 - c^(n+1)) / (n (n + 1)) - c^n (1 - c) / n`` (``1 / (n (n + 1))`` at ``r = 0``);
the object goes to the highest-value bidder unless all values are below ``c``: efficiency
``1 - c^n``. On the grids the closed form is only approximately an equilibrium (with finitely
many values, first-price and all-pay equilibria are generally mixed); its mean-preserving
projection (:func:`reference_profile`) has a NashConv and statistics errors that shrink as the
value and bid grids are refined together.

Complete-information instances (REFERENCES.md [C])
--------------------------------------------------
:func:`common_value_all_pay`: all-pay auction of a prize ``V`` known to all, integer bids
``0..V``, ties split; for ``V = 3`` and two bidders the unique equilibrium mixes uniformly on
``{0, 1, 2}`` with payoff ``1/2`` each. :func:`auction_game` with ``values=(1, 2, 3)``,
``bids=(0, 1, 2)`` rebuilds OpenSpiel's ``first_sealed_auction`` (``max_value=3``): OpenSpiel only
lets a bidder bid below its value, bids at or above it are weakly dominated by bidding 0 here, so
equilibria of OpenSpiel's game stay equilibria; the unique one bids ``(0, 1, 1)`` for values
``(1, 2, 3)``, payoff ``13/18`` each.

The continuous game (exact ``U[0, 1]`` values, Box bids in ``[0, 1]``, one-step episodes) runs
batched in torch as :class:`AuctionEnv` (:func:`simulator`; ``value_grid=True`` draws values from
the grid's nodes instead, for agreement tests); :func:`observation_index` (value -> bin),
:func:`project_actions` (bid -> nearest grid bid), :func:`grid_observations` and
:data:`PROJECTION` translate between it and the grid game.

Sizes: ``K^n`` states by ``M^n`` joint bids, limited to :data:`MAX_ROWS` rows (defaults: 36 x 169;
three bidders 216 x 2197; four bidders need smaller grids, e.g. 4 values and 9 bids).

References
----------
V. Krishna, *Auction Theory*, 2nd ed., Academic Press, 2010, ch. 2 (first and second price),
ch. 3 (revenue equivalence, all-pay, reserve prices). W. Vickrey, "Counterspeculation, auctions,
and competitive sealed tenders", J. Finance 16(1), 1961. R. B. Myerson, "Optimal auction
design", Math. Oper. Res. 6(1), 1981. M. R. Baye, D. Kovenock and C. G. de Vries, "The all-pay
auction with complete information", Economic Theory 8, 1996.

Examples
--------
>>> from games.auctions import build, reference, reference_profile, summarize
>>> game = build(auction="first_price")
>>> game.num_states, game.num_actions, game.num_observations
(37, (13, 13), (6, 6))
>>> round(reference(auction="first_price")["revenue"], 6)
0.333333
>>> stats = summarize(game, reference_profile(game, auction="first_price"), auction="first_price")
>>> abs(stats["revenue"] - 1 / 3) < 0.02, stats["efficiency"] > 0.8
(True, True)
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from gametools.continuum import AuctionExploitability, auction_exploitability, discretisation_error
from gametools.errors import GametoolsError
from gametools.model import MarkovGame, NormalFormGame
from gametools.policies import validate_profile
from gametools.scenarios import Parameter, Scenario, ScenarioError

if TYPE_CHECKING:
    import torch

    from games.auction_env import AuctionEnv

__all__ = [
    "AUCTIONS",
    "PROJECTION",
    "SCENARIOS",
    "AuctionEnv",
    "AuctionProjection",
    "auction_game",
    "bid_function",
    "bid_function_exploitability",
    "bid_grid",
    "build",
    "common_value_all_pay",
    "continuum_solution",
    "cutoff_value",
    "grid_observations",
    "observation_index",
    "profile_statistics",
    "project_actions",
    "reference",
    "reference_profile",
    "simulator",
    "summarize",
    "value_grid",
]

#: The auction formats, as passed to ``auction=``.
AUCTIONS = ("first_price", "second_price", "all_pay")

#: Largest ``states x joint bids`` the builders accept (reward table rows per bidder).
MAX_ROWS = 4_000_000

#: A bid counts as meeting the reserve when ``bid >= reserve - RESERVE_TOLERANCE`` (grid bids
#: such as ``3 / 10`` are not exact binary numbers).
RESERVE_TOLERANCE = 1e-9


# ------------------------------------------------------------------------------------------
# parameters and grids
# ------------------------------------------------------------------------------------------

def _check_auction(auction: str) -> str:
    if auction not in AUCTIONS:
        raise ScenarioError(f"auction must be one of {list(AUCTIONS)}, got {auction!r}")
    return auction


def _resolve(auction: str, params: dict[str, Any]) -> dict[str, Any]:
    """Defaults filled in and ranges checked by the auction's scenario."""
    return _SCENARIO_BY_AUCTION[_check_auction(auction)].resolve(**params)


def value_grid(n_values: int) -> np.ndarray:
    """The ``K`` value nodes ``(k + 1/2) / K``, equally likely, shape ``(K,)``."""
    return (np.arange(n_values) + 0.5) / n_values


def bid_grid(n_bids: int) -> np.ndarray:
    """The ``M`` bids ``j / (M - 1)``, shape ``(M,)``."""
    return np.linspace(0.0, 1.0, n_bids)


# ------------------------------------------------------------------------------------------
# the tabular game
# ------------------------------------------------------------------------------------------

def _outcomes(auction: str, bids: np.ndarray, n_bidders: int, reserve: float
              ) -> tuple[np.ndarray, np.ndarray]:
    """Object shares and payments of every joint bid, each ``(n, M^n)`` (C order).

    Ties are decided on bid indices (equal grid points), so no float comparison decides a tie.
    """
    m = len(bids)
    index = np.stack(np.unravel_index(np.arange(m ** n_bidders), (m,) * n_bidders))  # (n, M^n)
    amount = bids[index]
    accepted = amount >= reserve - RESERVE_TOLERANCE
    ranked = np.where(accepted, index, -1)
    top = ranked.max(axis=0)
    winners = accepted & (ranked == top)
    count = winners.sum(axis=0)
    share = winners / np.maximum(count, 1)
    if auction == "first_price":
        payment = share * amount
    elif auction == "second_price":
        # the price is the second-highest accepted bid with multiplicity (the top bid on a tie)
        second = np.sort(ranked, axis=0)[-2] if n_bidders > 1 else np.full(top.shape, -1)
        price = np.where(second >= 0, bids[np.maximum(second, 0)], 0.0)
        payment = share * np.maximum(price, reserve)
    else:
        payment = accepted * amount
    return share, payment


def auction_game(*, auction: str, values: npt.ArrayLike, bids: npt.ArrayLike, n_bidders: int,
                 reserve: float = 0.0, value_probabilities: npt.ArrayLike | None = None
                 ) -> MarkovGame:
    """An independent-private-values auction on given value and bid grids, as a MarkovGame.

    Parameters
    ----------
    auction : {"first_price", "second_price", "all_pay"}
    values : array_like, shape (K,) or (n_bidders, K)
        Each bidder's possible values: one row for all (iid across bidders) or one row per
        bidder (independent, asymmetric bidders).
    bids : sequence of float, shape (M,)
        The bids every bidder may submit, strictly increasing.
    n_bidders : int
    reserve : float
        Bids below it are rejected (they neither win nor pay).
    value_probabilities : array_like, shape (K,) or (n_bidders, K), optional
        ``P(v_i = values[i, k])``; uniform by default.

    Returns
    -------
    MarkovGame
        ``K^n + 1`` states (value profiles, then the terminal state), ``M`` actions per bidder,
        sparse transitions, discount 1; bidder ``i`` observes its value index.

    Raises
    ------
    GametoolsError
        On an unknown auction, unsorted bids, bad probabilities or a game above
        :data:`MAX_ROWS` rows.
    """
    _check_auction(auction)
    if int(n_bidders) != n_bidders or n_bidders < 1:
        raise GametoolsError(f"n_bidders must be a positive integer, got {n_bidders!r}")
    n = int(n_bidders)
    values_ = np.asarray(values, dtype=float)
    bids_ = np.asarray(bids, dtype=float)
    if values_.ndim not in (1, 2) or values_.size < 1 or not np.isfinite(values_).all() or \
            (values_.ndim == 2 and values_.shape[0] != n):
        raise GametoolsError(f"values must be a non-empty array of finite numbers of shape (K,) "
                             f"or ({n}, K), got {values!r}")
    values_ = np.broadcast_to(values_, (n, values_.shape[-1]))
    if bids_.ndim != 1 or bids_.size < 1 or not np.isfinite(bids_).all() or \
            (np.diff(bids_) <= 0).any():
        raise GametoolsError(f"bids must be a strictly increasing 1-d array, got {bids!r}")
    k, m = values_.shape[1], bids_.size
    probabilities = np.full((n, k), 1.0 / k) if value_probabilities is None else \
        np.asarray(value_probabilities, dtype=float)
    if probabilities.ndim not in (1, 2) or probabilities.shape[-1] != k or \
            (probabilities.ndim == 2 and probabilities.shape[0] != n) or \
            not np.isfinite(probabilities).all() or (probabilities < 0).any() or \
            (abs(probabilities.sum(axis=-1) - 1.0) > 1e-9).any():
        raise GametoolsError(f"value_probabilities must be {k} probabilities summing to 1 (one "
                             f"row, or one row per bidder), got {value_probabilities!r}")
    probabilities = np.broadcast_to(probabilities, (n, k))
    live, joint = k ** n, m ** n
    if live * joint > MAX_ROWS:
        raise ScenarioError(f"the auction has {live} value profiles x {joint} joint bids, above "
                            f"the limit of {MAX_ROWS} rows; use fewer values, bids or bidders")
    profiles = np.stack(np.unravel_index(np.arange(live), (k,) * n))  # (n, K^n) value indices
    share, payment = _outcomes(auction, bids_, n, float(reserve))
    rewards = np.zeros((n, live + 1, joint))
    own_value = np.take_along_axis(values_, profiles, axis=1)  # (n, K^n): v_i of each profile
    rewards[:, :live] = own_value[:, :, None] * share[:, None, :] - payment[:, None, :]
    transitions = sp.csr_array((np.ones(live * joint), np.full(live * joint, live),
                                np.concatenate([np.arange(live * joint + 1),
                                                np.full(joint, live * joint)])),
                               shape=((live + 1) * joint, live + 1))
    initial = np.append(np.prod(np.take_along_axis(probabilities, profiles, axis=1), axis=0), 0.0)
    terminal = np.zeros(live + 1, dtype=bool)
    terminal[live] = True
    observations = np.concatenate([profiles, np.zeros((n, 1), dtype=profiles.dtype)], axis=1)
    state_labels = ["v=(" + ",".join(f"{v:.6g}" for v in column) + ")"
                    for column in own_value.T] + ["end"]
    return MarkovGame(transitions, rewards.reshape(n, live + 1, *(m,) * n), initial, 1.0,
                      terminal=terminal, observations=observations, state_labels=state_labels,
                      player_labels=[f"bidder {i}" for i in range(n)],
                      action_labels=[[f"{b:.12g}" for b in bids_]] * n)


def build(*, auction: str = "first_price", **params: Any) -> MarkovGame:
    """The auction on the value and bid grids of the module docstring.

    Parameters
    ----------
    auction : {"first_price", "second_price", "all_pay"}
    **params
        ``n_bidders``, ``n_values``, ``n_bids``, ``reserve`` (see :data:`SCENARIOS`).

    Returns
    -------
    MarkovGame
        See :func:`auction_game`.
    """
    q = _resolve(auction, params)
    return auction_game(auction=auction, values=value_grid(q["n_values"]),
                        bids=bid_grid(q["n_bids"]), n_bidders=q["n_bidders"],
                        reserve=q["reserve"])


def _check_game(game: MarkovGame, q: dict[str, Any]) -> None:
    n, k, m = q["n_bidders"], q["n_values"], q["n_bids"]
    if game.num_actions != (m,) * n or game.num_states != k ** n + 1:
        raise GametoolsError(f"the game ({game.num_states} states, actions {game.num_actions}) "
                             f"was not built with these parameters ({k ** n + 1} states, actions "
                             f"{(m,) * n}); pass the parameters used to build it")


# ------------------------------------------------------------------------------------------
# closed forms
# ------------------------------------------------------------------------------------------

def cutoff_value(auction: str, *, n_bidders: int, reserve: float) -> float:
    """The lowest value that bids in the symmetric equilibrium with reserve (minimum bid) ``r``.

    ``r`` in the first- and second-price auctions; ``r^(1/n)`` in the all-pay auction, whose
    marginal bidder pays its bid whether or not it wins, so it bids ``r`` only when
    ``r = c G(c) = c^n`` (Krishna 2010, section 2.5 and ch. 3).
    """
    _check_auction(auction)
    return float(reserve) ** (1.0 / n_bidders) if auction == "all_pay" else float(reserve)


def bid_function(auction: str, values: Any, *, n_bidders: int, reserve: float = 0.0
                 ) -> np.ndarray:
    """The symmetric equilibrium bid of each value (``U[0, 1]`` values), same shape as ``values``.

    With ``c`` the :func:`cutoff_value`, a bidder of value ``v >= c`` bids ``v`` (second price),
    ``((n - 1) v^n + c^n) / (n v^(n-1))`` (first price) or ``((n - 1) v^n + c^n) / n`` (all pay);
    values below ``c`` do not bid (bid 0 here).
    """
    v = np.asarray(values, dtype=float)
    n = n_bidders
    c = cutoff_value(auction, n_bidders=n, reserve=reserve)
    if auction == "second_price":
        bid = v.copy()
    elif auction == "all_pay":
        bid = ((n - 1) * v ** n + c ** n) / n
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            bid = np.where(v > 0, ((n - 1) * v ** n + c ** n) / (n * v ** (n - 1)), 0.0)
    return np.where(v >= c, bid, 0.0)


def reference(*, auction: str = "first_price", **params: Any) -> dict[str, Any]:
    """The closed-form symmetric equilibrium with ``U[0, 1]`` values (module docstring).

    With the cutoff ``c`` (:func:`cutoff_value`; ``c = r`` except in the all-pay auction), revenue
    is ``(n - 1)/(n + 1) + c^n - 2 n c^(n+1)/(n + 1)`` and each bidder's surplus
    ``(1 - c^(n+1)) / (n (n + 1)) - c^n (1 - c) / n`` (revenue equivalence).

    Returns
    -------
    dict
        ``revenue``, ``bidder_surplus`` (per bidder), ``efficiency`` (probability that a
        highest-value bidder gets the object), ``sale_probability``, ``cutoff_value``,
        ``optimal_reserve`` (the revenue-maximising cutoff value, 1/2), ``values`` (the grid's
        value nodes) and ``bid_function`` (the closed-form bid at each node, 0 below the cutoff).
    """
    q = _resolve(auction, params)
    n = q["n_bidders"]
    c = cutoff_value(auction, n_bidders=n, reserve=q["reserve"])
    nodes = value_grid(q["n_values"])
    return {"revenue": (n - 1) / (n + 1) + c ** n - 2 * n * c ** (n + 1) / (n + 1),
            "bidder_surplus": (1 - c ** (n + 1)) / (n * (n + 1)) - c ** n * (1 - c) / n,
            "efficiency": 1 - c ** n, "sale_probability": 1 - c ** n, "cutoff_value": c,
            "optimal_reserve": 0.5, "values": tuple(float(v) for v in nodes),
            "bid_function": tuple(float(b) for b in bid_function(auction, nodes, n_bidders=n,
                                                                 reserve=q["reserve"]))}


def _nearest(grid: np.ndarray, targets: np.ndarray, tol: float = 1e-12) -> np.ndarray:
    """Index of the nearest point of a sorted grid; exact halfway ties go to the lower point."""
    targets = np.asarray(targets, dtype=float)
    if grid.size == 1:
        return np.zeros(targets.shape, dtype=np.int64)
    right = np.clip(np.searchsorted(grid, targets), 1, grid.size - 1)
    left = right - 1
    return np.where(targets - grid[left] <= grid[right] - targets + tol, left, right)


def _mean_preserving(grid: np.ndarray, targets: np.ndarray, tol: float = 1e-12) -> np.ndarray:
    """Mix the two grid points around each target so the mean is the target, ``(T, len(grid))``.

    Targets beyond the grid get its end point; targets on a grid point (within ``tol``) get it
    alone.
    """
    targets = np.clip(np.asarray(targets, dtype=float), grid[0], grid[-1])
    out = np.zeros((targets.size, grid.size))
    rows = np.arange(targets.size)
    if grid.size == 1:
        out[:, 0] = 1.0
        return out
    low = np.clip(np.searchsorted(grid, targets, side="right") - 1, 0, grid.size - 2)
    weight = (targets - grid[low]) / (grid[low + 1] - grid[low])
    weight = np.where(weight < tol, 0.0, np.where(weight > 1 - tol, 1.0, weight))
    out[rows, low] += 1.0 - weight
    out[rows, low + 1] += weight
    return out


def reference_profile(game: MarkovGame, *, auction: str = "first_price", **params: Any
                      ) -> tuple[np.ndarray, ...]:
    """The closed-form bid function projected onto the bid grid, mean-preserving.

    A bidder with value node ``v`` at or above the cutoff mixes the two grid bids around ``b(v)``
    (among those meeting the reserve) with the weights that make its mean bid exactly ``b(v)``
    (a pure bid when ``b(v)`` is a grid point, as truthful second-price bids are on aligned
    grids); a bidder below the cutoff bids 0. Rounding to the nearest grid bid instead would
    bias bids systematically (on aligned grids every first-price bid ``v / 2`` is halfway between
    grid points), and its NashConv does not decrease smoothly with refinement.

    Returns
    -------
    tuple of ndarray
        One ``(K, M)`` policy per bidder (the same for all).
    """
    q = _resolve(auction, params)
    _check_game(game, q)
    nodes, bids, r = value_grid(q["n_values"]), bid_grid(q["n_bids"]), q["reserve"]
    n = q["n_bidders"]
    target = bid_function(auction, nodes, n_bidders=n, reserve=r)
    first_accepted = int(np.argmax(bids >= r - RESERVE_TOLERANCE))
    policy = np.zeros((q["n_values"], q["n_bids"]))
    policy[:, first_accepted:] = _mean_preserving(bids[first_accepted:], target)
    below = nodes < cutoff_value(auction, n_bidders=n, reserve=r)
    policy[below] = np.eye(q["n_bids"])[0]
    policy.flags.writeable = False
    return (policy,) * n


def summarize(game: MarkovGame, profile: Sequence[Any], *, auction: str = "first_price",
              **params: Any) -> dict[str, Any]:
    """Economic statistics of a tabular profile, exact (by enumerating values and bids).

    Returns
    -------
    dict
        - ``revenue``: the seller's expected revenue;
        - ``bidder_surplus``: expected surplus per bidder (mean over bidders);
        - ``surplus_by_bidder``: tuple, one entry per bidder;
        - ``bid_function``: ``(n, K)`` array, bidder ``i``'s mean bid at each value node;
        - ``values``: the value nodes, tuple ``(K,)``;
        - ``efficiency``: probability that the object goes to a bidder of the highest value;
        - ``sale_probability``: probability that the object is sold;
        - ``revenue_vs_theory``: ``revenue`` relative to the continuous model's (the grids'
          discretisation error for an equilibrium), with ``revenue_note`` naming the grid that
          brings the first-price equilibrium within 2%.
    """
    q = _resolve(auction, params)
    _check_game(game, q)
    nodes = value_grid(q["n_values"])
    stats = profile_statistics(game, profile, auction=auction,
                               values=np.broadcast_to(nodes, (q["n_bidders"], nodes.size)),
                               bids=bid_grid(q["n_bids"]), reserve=q["reserve"])
    theory = reference(auction=auction, **q)
    relative = _relative(stats["revenue"], theory["revenue"])
    surplus = _relative(stats["bidder_surplus"], theory["bidder_surplus"])
    return {"revenue": stats["revenue"], "bidder_surplus": stats["bidder_surplus"],
            "surplus_by_bidder": stats["surplus_by_bidder"], "bid_function": stats["bid_function"],
            "values": tuple(float(v) for v in nodes), "efficiency": stats["efficiency"],
            "sale_probability": stats["sale_probability"], "revenue_vs_theory": relative,
            "revenue_note": _grid_note(auction, q, relative, surplus)}


def _relative(value: float, theory: float) -> float:
    return (value - theory) / theory if theory else 0.0


def _grid_note(auction: str, q: dict[str, Any], relative: float, surplus: float) -> str:
    """How far a grid's revenue and surplus are from the continuous theory; which grid reaches 2%."""
    reach = GRID_WITHIN_2_PERCENT.get((auction, q["n_bidders"]), "")
    return (f"revenue {100 * relative:+.1f}%, bidder surplus {100 * surplus:+.1f}% from the "
            f"continuous theory (value and bid grids {q['n_values']} x {q['n_bids']}: discrete "
            "values and bids with ties)"
            + (f"; the grid equilibrium {reach}" if reach else
               "; no grid measured for this number of bidders"))


def profile_statistics(game: MarkovGame, profile: Sequence[Any], *, auction: str,
                       values: npt.ArrayLike, bids: npt.ArrayLike, reserve: float = 0.0
                       ) -> dict[str, Any]:
    """Exact statistics of a tabular profile of an :func:`auction_game` (values and bids enumerated).

    Parameters
    ----------
    game : MarkovGame
        Built by :func:`auction_game` with these ``values``, ``bids`` and ``reserve``.
    profile : sequence of array_like
        One ``(K, M)`` policy per bidder (a terminal row may follow).
    auction : {"first_price", "second_price", "all_pay"}
    values : array_like, shape (n, K)
        Each bidder's value nodes.
    bids : array_like, shape (M,)
    reserve : float

    Returns
    -------
    dict
        ``revenue``, ``bidder_surplus`` (mean over bidders), ``surplus_by_bidder``,
        ``win_probability_by_bidder`` (expected share of the object), ``bid_function`` (``(n, K)``
        mean bid at each value node), ``efficiency`` (probability that the object goes to a
        bidder of the highest value) and ``sale_probability``.
    """
    policies = validate_profile(game, profile)
    values_ = np.asarray(values, dtype=float)
    bids_ = np.asarray(bids, dtype=float)
    n, k = values_.shape
    m = bids_.size
    live = k ** n
    profiles = np.stack(np.unravel_index(np.arange(live), (k,) * n))
    own_value = np.take_along_axis(values_, profiles, axis=1)  # (n, K^n)
    # P(value profile, joint bid), (K^n, M^n)
    joint = game.initial[:live].copy()
    joint = joint.reshape(live, *(1,) * n)
    for i in range(n):
        shape = [live] + [1] * n
        shape[1 + i] = m
        joint = joint * policies[i][profiles[i]].reshape(shape)
    joint = joint.reshape(live, -1)
    share, payment = _outcomes(auction, bids_, n, float(reserve))
    bid_mass = joint.sum(axis=0)  # (M^n,)
    revenue = float(payment.sum(axis=0) @ bid_mass)
    expected_share = joint @ share.T  # (K^n, n)
    surplus = (expected_share * own_value.T).sum(axis=0) - payment @ bid_mass
    best = own_value == own_value.max(axis=0)  # (n, K^n): bidders of the highest value
    efficiency = float(np.sum(expected_share * best.T))
    return {"revenue": revenue, "bidder_surplus": float(surplus.mean()),
            "surplus_by_bidder": tuple(float(x) for x in surplus),
            "win_probability_by_bidder": tuple(float(x) for x in expected_share.sum(axis=0)),
            "bid_function": np.stack([p[:k] @ bids_ for p in policies]),
            "efficiency": efficiency, "sale_probability": float(share.sum(axis=0) @ bid_mass)}


#: Grid settings measured to bring the grid equilibrium's revenue (and, where stated, the bidder
#: surplus) within 2% of the continuous theory: ``gametools solve`` (CFR on the grid game),
#: errors and CPU time in parentheses. The bid grid matters most: the defaults (6 x 13) give
#: first price -13.2% (n = 2) and -6.9% (n = 3), second price +2.1% / surplus -3.5% (n = 2),
#: all pay -7.2% / surplus +3.7% (n = 2). Grid equilibria are mixed and their errors do not
#: fall monotonically with the grids (all pay, n = 2: revenue +1.4% at 6 x 25, -3.2% at 6 x 33,
#: -6.0% at 8 x 25, -6.3% at 12 x 25).
GRID_WITHIN_2_PERCENT = {
    ("first_price", 2): "within 2% at n_bids=25 (revenue and surplus -0.7% with n_values=6, "
                        "0.7 s CPU; n_values=8, n_bids=33: -0.4%, -0.4%)",
    ("first_price", 3): "within 2% at n_values=5, n_bids=21 (revenue -0.5%, 14 s CPU; 4 x 25: "
                        "+1.2%)",
    ("second_price", 2): "within 2% at n_values=8, n_bids=25 (revenue +0.4%, surplus -1.2%, "
                         "1.9 s CPU; 8 x 13: -1.6%, +0.8%)",
    ("second_price", 3): "not within 2% on the grids measured (surplus -2.9% at the defaults, "
                         "-4.1% at n_values=5, n_bids=21, 15.5 s CPU; 8 x 25 is over the size "
                         "limit); revenue is within 0.1% on both",
    ("all_pay", 2): "within 2% at n_values=12, n_bids=49 (revenue -1.1%, surplus +0.5%, "
                    "4.5 s CPU)",
}


def continuum_solution(grid_summary: Any = None, *, auction: str = "first_price",
                       **params: Any) -> dict[str, Any]:
    """The symmetric equilibrium of the continuous auction (``U[0, 1]`` values), no grid.

    The bid function comes from the envelope condition by numerical quadrature (not from the
    closed forms): with ``G(v) = v^(n-1)`` the probability of winning and ``c`` the cutoff, the
    expected payment of value ``v >= c`` is ``m(v) = v G(v) - int_c^v G`` (every format, revenue
    equivalence), the first-price bid ``m(v) / G(v)``, the all-pay bid ``m(v)``, the second-price
    bid ``v``; revenue ``n int_c^1 m``, each bidder's surplus ``int_c^1 (v G(v) - m(v))``.

    Returns
    -------
    dict
        ``method``, ``summary`` (``revenue``, ``bidder_surplus``, ``efficiency``,
        ``sale_probability``), ``discretisation_error`` (grid minus continuum, given the grid
        summary) and ``grid_note`` (how far the grid is and which grid reaches 2%).
    """
    from scipy.integrate import quad

    q = _resolve(auction, params)
    n, r = q["n_bidders"], q["reserve"]
    c = cutoff_value(auction, n_bidders=n, reserve=r)

    def payment(v: float) -> float:
        return v * v ** (n - 1) - quad(lambda x: x ** (n - 1), c, v, epsabs=1e-14)[0]

    revenue = n * quad(payment, c, 1.0, epsabs=1e-13)[0]
    surplus = quad(lambda v: v * v ** (n - 1) - payment(v), c, 1.0, epsabs=1e-13)[0]
    summary = {"revenue": revenue, "bidder_surplus": surplus, "efficiency": 1 - c ** n,
               "sale_probability": 1 - c ** n}
    out: dict[str, Any] = {
        "method": "continuum: symmetric equilibrium from the envelope condition, by quadrature",
        "summary": summary}
    if grid_summary is not None:
        out["discretisation_error"] = discretisation_error(grid_summary, summary)
        out["grid_note"] = "grid " + _grid_note(
            auction, q, _relative(grid_summary["revenue"], revenue),
            _relative(grid_summary["bidder_surplus"], surplus))
    return out


def bid_function_exploitability(functions: Sequence[Any], *, auction: str = "first_price",
                                grid_points: int = 1025, **params: Any) -> AuctionExploitability:
    """NashConv of any bid functions (linear, learned) in the continuous first-price auction.

    Values are iid ``U[0, 1]``; a thin wrapper of
    :func:`gametools.continuum.auction_exploitability` (no grid: quadrature, with its error
    estimate). First price without a reserve only.

    Parameters
    ----------
    functions : sequence of callable
        One per bidder: a vectorised map of values ``(K,)`` to bids ``(K,)``.

    Examples
    --------
    >>> from games.auctions import bid_function_exploitability
    >>> out = bid_function_exploitability([lambda v: 2 * v / 3] * 3, n_bidders=3)
    >>> out.nash_conv < 1e-6
    True
    """
    q = _resolve(auction, params)
    if auction != "first_price" or q["reserve"] > 0:
        raise ScenarioError("bid_function_exploitability handles the first-price auction "
                            "without a reserve")
    if len(functions) != q["n_bidders"]:
        raise ScenarioError(f"{q['n_bidders']} bid functions expected, got {len(functions)}")
    return auction_exploitability(functions, [(0.0, 1.0)] * q["n_bidders"],
                                  grid_points=grid_points)


# ------------------------------------------------------------------------------------------
# complete information
# ------------------------------------------------------------------------------------------

def common_value_all_pay(*, prize: int = 3, n_bidders: int = 2) -> NormalFormGame:
    """All-pay auction of a commonly known prize, integer bids ``0..prize``, ties split.

    Bidder ``i`` pays its bid and receives ``prize / k`` when it is one of ``k`` highest bidders.
    Payoffs are exact (Fractions), shape ``(n, prize + 1, ..., prize + 1)``. For ``prize = 3`` and
    two bidders the unique equilibrium mixes uniformly on ``{0, 1, 2}`` (payoff 1/2 each;
    REFERENCES.md [C]).
    """
    if int(prize) != prize or not 1 <= prize <= 20:
        raise GametoolsError(f"prize must be an integer in [1, 20], got {prize!r}")
    if int(n_bidders) != n_bidders or not 2 <= n_bidders <= 4:
        raise GametoolsError(f"n_bidders must be an integer in [2, 4], got {n_bidders!r}")
    prize, n = int(prize), int(n_bidders)
    shape = (prize + 1,) * n
    bids = np.stack(np.unravel_index(np.arange(int(np.prod(shape))), shape))  # (n, (V+1)^n)
    winners = bids == bids.max(axis=0)
    count = winners.sum(axis=0)
    payoffs = np.empty((n, bids.shape[1]), dtype=object)
    for i in range(n):
        payoffs[i] = [Fraction(prize, int(c)) * bool(w) - int(b)
                      for w, c, b in zip(winners[i], count, bids[i])]
    labels = [str(b) for b in range(prize + 1)]
    return NormalFormGame(payoffs.reshape(n, *shape), action_labels=[labels] * n,
                          player_labels=[f"bidder {i}" for i in range(n)],
                          title=f"all-pay auction, common prize {prize}")


# ------------------------------------------------------------------------------------------
# the continuous game and the maps between it and the grid game
# ------------------------------------------------------------------------------------------

def simulator(*, num_envs: int = 1, seed: int = 0, device: str | torch.device = "cpu",
              auction: str = "first_price", value_grid: bool = False, **params: Any
              ) -> AuctionEnv:
    """The batched continuous auction for MADDPG (parameters as in :data:`SCENARIOS`).

    ``value_grid=True`` draws values from the grid's nodes (for exact agreement tests); the bid
    grid parameter is ignored (bids are continuous).
    """
    from games.auction_env import AuctionEnv

    q = _resolve(auction, params)
    return AuctionEnv(auction=auction, n_bidders=q["n_bidders"], n_values=q["n_values"],
                      reserve=q["reserve"], value_grid=value_grid, num_envs=num_envs, seed=seed,
                      device=device)


def _as_numpy(values: Any) -> np.ndarray:
    """A float64 array of an array-like or a torch tensor (without importing torch)."""
    if hasattr(values, "detach"):
        values = values.detach().cpu().double().numpy()
    return np.asarray(values, dtype=float)


def _check_player(game: MarkovGame, player: int) -> None:
    if not 0 <= player < game.num_players:
        raise GametoolsError(f"player must be in [0, {game.num_players - 1}], got {player}")


def project_actions(game: MarkovGame, player: int, values: Any) -> np.ndarray:
    """Grid bid ids nearest to continuous bids (halfway ties go down; beyond the grid: its ends).

    Parameters
    ----------
    game : MarkovGame
        Built by :func:`build` (the bid grid is read from its action labels).
    player : int
    values : array_like or torch.Tensor, shape (B,) or (B, 1)

    Returns
    -------
    ndarray of int, shape (B,)
    """
    _check_player(game, player)
    grid = np.array([float(label) for label in game.action_labels[player]])
    return _nearest(grid, _as_numpy(values).reshape(-1))


def observation_index(game: MarkovGame, player: int, observations: Any) -> np.ndarray:
    """Grid observation ids (value bins) of :class:`AuctionEnv` observations.

    A value ``v`` maps to bin ``floor(v K)`` (clipped to ``[0, K - 1]``), whose node is the
    midpoint ``(k + 1/2) / K``.

    Parameters
    ----------
    game : MarkovGame
        Built by :func:`build` (``K`` is its number of observations).
    player : int
    observations : array_like or torch.Tensor, shape (B, 1)

    Returns
    -------
    ndarray of int, shape (B,)
    """
    _check_player(game, player)
    obs = _as_numpy(observations)
    if obs.ndim != 2 or obs.shape[1] != 1:
        raise GametoolsError(f"observations must have shape (B, 1), got {obs.shape}")
    k = game.num_observations[player]
    return np.clip(np.floor(obs[:, 0] * k), 0, k - 1).astype(np.int64)


def grid_observations(game: MarkovGame, player: int) -> torch.Tensor:
    """The :class:`AuctionEnv` observation of each grid observation id (its value node), ``(K, 1)``.
    """
    import torch

    _check_player(game, player)
    nodes = value_grid(game.num_observations[player])
    return torch.tensor(nodes[:, None], dtype=torch.float32)


@dataclass(frozen=True)
class AuctionProjection:
    """The :class:`gametools.scenarios.Projection` of the auction scenarios.

    ``observations`` is :func:`grid_observations` (value nodes), ``actions`` is
    :func:`project_actions` (nearest grid bid).
    """

    def observations(self, game: MarkovGame, player: int, **params: Any) -> torch.Tensor:
        return grid_observations(game, player)

    def actions(self, game: MarkovGame, player: int, values: Any, **params: Any) -> np.ndarray:
        return project_actions(game, player, values)


PROJECTION = AuctionProjection()

_PARAMETERS = (
    Parameter("n_bidders", 2, "number of bidders", low=2, high=4),
    Parameter("n_values", 6, "value nodes (k + 1/2) / K, equally likely", low=2, high=40),
    Parameter("n_bids", 13, "bids equally spaced in [0, 1] (2 n_values + 1 contains the value "
              "nodes)", low=2, high=201),
    Parameter("reserve", 0.0, "reserve price: lower bids are rejected", low=0.0, high=1.0),
)

_DESCRIPTIONS = {
    "first_price": "First-price sealed-bid auction, iid private values on a grid.",
    "second_price": "Second-price (Vickrey) sealed-bid auction, iid private values on a grid.",
    "all_pay": "All-pay sealed-bid auction, iid private values on a grid.",
}

SCENARIOS = tuple(
    Scenario(f"{auction}_auction", _DESCRIPTIONS[auction],
             functools.partial(build, auction=auction), _PARAMETERS,
             reference=functools.partial(reference, auction=auction),
             summarize=functools.partial(summarize, auction=auction),
             simulator=functools.partial(simulator, auction=auction),
             continuum=functools.partial(continuum_solution, auction=auction),
             projection=PROJECTION, tags=("continuous", "information"))
    for auction in AUCTIONS)

_SCENARIO_BY_AUCTION = dict(zip(AUCTIONS, SCENARIOS))


def __getattr__(name: str) -> Any:
    # AuctionEnv lives in games.auction_env so that importing this module does not import torch
    if name == "AuctionEnv":
        from games.auction_env import AuctionEnv

        return AuctionEnv
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
