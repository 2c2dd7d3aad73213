"""First-price auction with two asymmetric bidders, values uniform on ``[0, w_0]`` and ``[0, w_1]``.

Economics
---------
One object, two risk-neutral bidders with independent private values, bidder ``i``'s uniform on
``[0, w_i]`` (``w_i`` = ``max_value_i``); the highest bid wins and pays its bid, ties split. The
bidder with the larger ``w`` is the *strong* bidder, the other the *weak* one.

Closed form (Griesmer, Levitan and Shubik 1967; Krishna 2010, section 4.3)
--------------------------------------------------------------------------
With ``phi_i`` bidder ``i``'s inverse bid function, the first-order conditions are
``(phi_i(b) - b) phi_j'(b) = phi_j(b)`` with ``phi_i(0) = 0`` and a common highest bid
``b_max = w_0 w_1 / (w_0 + w_1)``. Their solution is

    phi_i(b) = 2 b / (1 + k_i b^2),   k_i = 1 / w_i^2 - 1 / w_j^2,

so bidder ``i`` of value ``v`` bids ``b_i(v) = v / (1 + sqrt(1 - k_i v^2))`` (``v / 2`` when
``w_0 = w_1``). The weak bidder (``k > 0``) bids more aggressively than the strong one at the
same value, so the object sometimes goes to the lower value (the equilibrium is inefficient).
Expected revenue (derived here from ``P(max bid <= b) = phi_0(b) phi_1(b) / (w_0 w_1)``, with
``k = |k_i|``; checked against quadrature in the tests):

    R = b_max - 2 (artanh(sqrt(k) b_max) - arctan(sqrt(k) b_max)) / (k^(3/2) w_0 w_1)

(``1/3`` when ``w_0 = w_1 = 1``). The second-price auction's revenue, ``E min(v_0, v_1) =
w/2 - w^2 / (6 W)`` with ``w <= W`` the two bounds, is given for comparison (first price raises
more here, as Maskin and Riley 2000 show for such "stretched" distributions).

The grid game
-------------
:func:`games.auctions.auction_game` with per-bidder value grids: bidder ``i``'s ``K`` equally
likely nodes ``w_i (k + 1/2) / K`` (bin midpoints) and ``M`` bids equally spaced on ``[0, w]``
(``w`` the smaller bound: a higher bid wins for sure and costs more). :func:`reference_profile`
projects the closed form onto it (mean-preserving mixes of the two grid bids around ``b_i(v)``);
``solve`` finds the grid equilibrium, and the continuum block (:func:`continuum_solution`) gives
the closed form's statistics, its NashConv in the continuous game
(:func:`gametools.continuum.auction_exploitability`) and the grid's discretisation error.
:func:`bid_function_exploitability` evaluates any bid functions (linear, learned) in the
continuous game.

References
----------
F. M. Griesmer, R. E. Levitan and M. Shubik, "Toward a study of bidding processes, part IV: games
with unknown costs", Naval Research Logistics Quarterly 14(4), 1967. V. Krishna, *Auction
Theory*, 2nd ed., Academic Press, 2010, section 4.3. E. Maskin and J. Riley, "Asymmetric
auctions", Review of Economic Studies 67(3), 2000. T. R. Kaplan and S. Zamir, "Asymmetric
first-price auctions with uniform distributions: analytic solutions to the general case",
Economic Theory 50(2), 2012.

Examples
--------
>>> from games.asymmetric_auction import bid_functions, reference
>>> ref = reference(max_value_0=1.0, max_value_1=2.0)
>>> round(ref["max_bid"], 6), round(ref["revenue"], 6)
(0.666667, 0.459005)
>>> weak, strong = bid_functions(max_value_0=1.0, max_value_1=2.0)
>>> bool(weak(0.5) > strong(0.5))
True
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from games.auctions import auction_game, profile_statistics
from gametools.continuum import AuctionExploitability, auction_exploitability, discretisation_error
from gametools.model import MarkovGame
from gametools.policies import validate_profile
from gametools.scenarios import Parameter, Scenario, ScenarioError

__all__ = ["SCENARIOS", "bid_function_exploitability", "bid_functions", "bid_grid", "build",
           "continuum_solution", "reference", "reference_profile", "summarize", "value_grids"]


def _resolve(params: dict[str, Any]) -> dict[str, Any]:
    return SCENARIO.resolve(**params)


def _bounds(q: dict[str, Any]) -> tuple[float, float]:
    return float(q["max_value_0"]), float(q["max_value_1"])


def _slopes(w0: float, w1: float) -> tuple[float, float]:
    """``k_i = 1 / w_i^2 - 1 / w_j^2`` of the inverse bid functions ``2 b / (1 + k_i b^2)``."""
    k0 = 1.0 / w0 ** 2 - 1.0 / w1 ** 2
    return k0, -k0


def value_grids(**params: Any) -> np.ndarray:
    """Each bidder's ``K`` value nodes ``w_i (k + 1/2) / K``, shape ``(2, K)``."""
    q = _resolve(params)
    unit = (np.arange(q["n_values"]) + 0.5) / q["n_values"]
    return np.stack([w * unit for w in _bounds(q)])


def bid_grid(**params: Any) -> np.ndarray:
    """The ``M`` bids equally spaced on ``[0, min(w_0, w_1)]``, shape ``(M,)``."""
    q = _resolve(params)
    return np.linspace(0.0, min(_bounds(q)), q["n_bids"])


def build(**params: Any) -> MarkovGame:
    """The grid game (module docstring): ``K^2 + 1`` states, ``M`` bids per bidder."""
    q = _resolve(params)
    return auction_game(auction="first_price", values=value_grids(**q), bids=bid_grid(**q),
                        n_bidders=2)


def bid_functions(**params: Any) -> tuple[Callable[[Any], np.ndarray], ...]:
    """The equilibrium bid functions ``b_i(v) = v / (1 + sqrt(1 - k_i v^2))``, one per bidder.

    Each maps an array of values (clipped to the bidder's support) to bids of the same shape.
    """
    q = _resolve(params)
    w = _bounds(q)
    slopes = _slopes(*w)

    def make(k: float, high: float) -> Callable[[Any], np.ndarray]:
        def bid(values: Any) -> np.ndarray:
            v = np.clip(np.asarray(values, dtype=float), 0.0, high)
            return v / (1.0 + np.sqrt(1.0 - k * v * v))
        return bid

    return tuple(make(k, high) for k, high in zip(slopes, w))


def _revenue(w0: float, w1: float) -> float:
    """The closed-form first-price revenue (module docstring)."""
    top = w0 * w1 / (w0 + w1)
    k = abs(1.0 / w0 ** 2 - 1.0 / w1 ** 2)
    x = k * top * top  # = |w1 - w0| / (w1 + w0) < 1
    if x < 1e-4:  # artanh(y) - arctan(y) = 2 sum_m y^(4m+3) / (4m+3): the series near w0 = w1
        series = sum(4 * x ** (2 * m) / (4 * m + 3) for m in range(4))
        return top - series * top ** 3 / (w0 * w1)
    y = math.sqrt(x)
    return top - 2 * (math.atanh(y) - math.atan(y)) / (k ** 1.5 * w0 * w1)


def _closed_form_statistics(w0: float, w1: float) -> dict[str, Any]:
    """Surplus and win probability of each bidder and the efficiency, in closed form.

    Derived here from the inverse bid functions: against ``b_i``, the other bidder's inverse bid
    is ``phi_j(b_i(v)) = v / s_i(v)`` with ``s_i(v) = sqrt(1 - k_i v^2)``, so bidder ``i`` wins
    with probability ``w_i / (w_0 + w_1)`` overall and its surplus is
    ``int_0^{w_i} (1 - s_i(v)) dv / (k_i w_0 w_1)``; the lower value wins with probability
    ``w (W - w) / (2 W (W + w))`` (``w <= W`` the bounds). The tests check each against
    quadrature of its definition.
    """
    bounds = (w0, w1)
    surplus = []
    for i, k in enumerate(_slopes(w0, w1)):
        w = bounds[i]
        root = math.sqrt(abs(k))
        if abs(k) * w * w < 1e-6:  # symmetric limit: (1 - s) / k -> v^2 / 2, surplus w^2/6 / W
            surplus.append(w ** 3 / (6 * w0 * w1))
            continue
        s = math.sqrt(1.0 - k * w * w)
        arc = math.asin(root * w) if k > 0 else math.asinh(root * w)
        integral_s = 0.5 * (w * s + arc / root)  # int_0^w sqrt(1 - k v^2) dv
        surplus.append((w - integral_s) / (k * w0 * w1))
    low, high = sorted(bounds)
    return {"surplus_by_bidder": tuple(surplus),
            "win_probability_by_bidder": (w0 / (w0 + w1), w1 / (w0 + w1)),
            "efficiency": 1.0 - low * (high - low) / (2 * high * (high + low))}


def reference(**params: Any) -> dict[str, Any]:
    """The closed-form equilibrium (module docstring).

    Returns
    -------
    dict
        ``revenue``, ``surplus_by_bidder``, ``win_probability_by_bidder``, ``efficiency``
        (probability that the higher value wins), ``max_bid`` (``w_0 w_1 / (w_0 + w_1)``),
        ``inverse_bid_slopes`` (``k_i``), ``second_price_revenue``, ``values`` (each bidder's
        grid nodes) and ``bid_function`` (the closed-form bid at each node, per bidder).
    """
    q = _resolve(params)
    w0, w1 = _bounds(q)
    low, high = sorted((w0, w1))
    nodes = value_grids(**q)
    bids = bid_functions(**q)
    return {"revenue": _revenue(w0, w1), **_closed_form_statistics(w0, w1),
            "max_bid": w0 * w1 / (w0 + w1), "inverse_bid_slopes": _slopes(w0, w1),
            "second_price_revenue": low / 2 - low ** 2 / (6 * high),
            "values": tuple(tuple(float(v) for v in row) for row in nodes),
            "bid_function": tuple(tuple(float(b) for b in f(row)) for f, row in zip(bids, nodes))}


def _check_game(game: MarkovGame, q: dict[str, Any]) -> None:
    k, m = q["n_values"], q["n_bids"]
    if game.num_players != 2 or tuple(game.num_actions) != (m, m) or \
            game.num_states != k ** 2 + 1:
        raise ScenarioError(f"game does not match the parameters (2 bidders, {k} values, {m} "
                            f"bids): build it with the same parameters")


def _mean_preserving(grid: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Mix the two grid points around each target so the mean bid is the target, ``(T, M)``."""
    targets = np.clip(targets, grid[0], grid[-1])
    low = np.clip(np.searchsorted(grid, targets, side="right") - 1, 0, grid.size - 2)
    weight = (targets - grid[low]) / (grid[low + 1] - grid[low])
    out = np.zeros((targets.size, grid.size))
    rows = np.arange(targets.size)
    out[rows, low] += 1.0 - weight
    out[rows, low + 1] += weight
    return out


def reference_profile(game: MarkovGame, **params: Any) -> tuple[np.ndarray, ...]:
    """The closed-form bid functions projected onto the bid grid, mean-preserving.

    Returns
    -------
    tuple of ndarray
        One ``(K, M)`` policy per bidder.
    """
    q = _resolve(params)
    _check_game(game, q)
    grid = bid_grid(**q)
    out = []
    for f, nodes in zip(bid_functions(**q), value_grids(**q)):
        policy = _mean_preserving(grid, f(nodes))
        policy.flags.writeable = False
        out.append(policy)
    return tuple(out)


def summarize(game: MarkovGame, profile: Sequence[Any], **params: Any) -> dict[str, Any]:
    """Exact statistics of a tabular profile (values and bids enumerated).

    Returns
    -------
    dict
        ``revenue``, ``surplus_by_bidder``, ``win_probability_by_bidder``, ``efficiency``
        (probability that a bidder of the higher value gets the object), ``sale_probability``,
        ``bid_function`` (``(2, K)`` mean bid at each value node) and ``values`` (``(2, K)``).
    """
    q = _resolve(params)
    _check_game(game, q)
    validate_profile(game, profile)
    nodes = value_grids(**q)
    stats = profile_statistics(game, profile, auction="first_price", values=nodes,
                               bids=bid_grid(**q))
    return {"revenue": stats["revenue"], "surplus_by_bidder": stats["surplus_by_bidder"],
            "win_probability_by_bidder": stats["win_probability_by_bidder"],
            "efficiency": stats["efficiency"], "sale_probability": stats["sale_probability"],
            "bid_function": stats["bid_function"],
            "values": tuple(tuple(float(v) for v in row) for row in nodes)}


def bid_function_exploitability(functions: Sequence[Callable[[np.ndarray], Any]], *,
                                grid_points: int = 1025, **params: Any) -> AuctionExploitability:
    """NashConv of any two bid functions in the continuous game (values uniform on ``[0, w_i]``).

    A thin wrapper of :func:`gametools.continuum.auction_exploitability` with this scenario's
    supports; the closed-form :func:`bid_functions` give ``nash_conv`` near 0 (within the
    reported ``quadrature_error``).
    """
    q = _resolve(params)
    w0, w1 = _bounds(q)
    if len(functions) != 2:
        raise ScenarioError(f"two bid functions expected, got {len(functions)}")
    return auction_exploitability(functions, [(0.0, w0), (0.0, w1)], grid_points=grid_points)


def continuum_solution(grid_summary: Any = None, **params: Any) -> dict[str, Any]:
    """The closed-form equilibrium of the continuous game, certified, and the grid's error.

    Returns
    -------
    dict
        ``method``, ``summary`` (``revenue``, ``surplus_by_bidder``,
        ``win_probability_by_bidder``, ``efficiency``), ``nash_conv`` and its
        ``quadrature_error`` (the closed form evaluated by
        :func:`gametools.continuum.auction_exploitability`), and, given the grid summary,
        ``discretisation_error`` (grid minus continuum) and ``grid_note``.
    """
    q = _resolve(params)
    ref = reference(**q)
    summary = {key: ref[key] for key in ("revenue", "surplus_by_bidder",
                                         "win_probability_by_bidder", "efficiency")}
    check = bid_function_exploitability(bid_functions(**q), **q)
    out: dict[str, Any] = {
        "method": "continuum: closed form (Griesmer-Levitan-Shubik 1967), NashConv by quadrature",
        "summary": summary, "nash_conv": check.nash_conv,
        "quadrature_error": check.quadrature_error}
    if grid_summary is not None:
        out["discretisation_error"] = discretisation_error(grid_summary, summary)
        relative = (grid_summary["revenue"] - ref["revenue"]) / ref["revenue"]
        out["grid_note"] = (f"grid revenue {100 * relative:+.1f}% from the continuum (value and "
                            f"bid grids {q['n_values']} x {q['n_bids']})")
    return out


_PARAMETERS = (
    Parameter("max_value_0", 1.0, "bidder 0's values are uniform on [0, max_value_0]",
              low=0.01, high=100.0),
    Parameter("max_value_1", 2.0, "bidder 1's values are uniform on [0, max_value_1]",
              low=0.01, high=100.0),
    Parameter("n_values", 8, "value nodes per bidder (bin midpoints, equally likely)",
              low=2, high=30),
    Parameter("n_bids", 17, "bids equally spaced on [0, min(max_value_0, max_value_1)]",
              low=2, high=201),
)

SCENARIO = Scenario(
    "asymmetric_first_price_auction",
    "First-price auction, two bidders with values uniform on [0, w0] and [0, w1] "
    "(Griesmer-Levitan-Shubik closed form).",
    build, _PARAMETERS, reference=reference, summarize=summarize,
    continuum=continuum_solution, tags=("continuous", "information"))

SCENARIOS = (SCENARIO,)
