"""Linear-Gaussian insider-trading games solved in the continuum (no grids).

The model (Kyle 1985; Holden and Subrahmanyam 1992 for several insiders)
-----------------------------------------------------------------------
An asset is worth ``v ~ N(p0, sigma_v^2)``. ``M`` insiders know ``v``; noise traders submit
``u_n ~ N(0, sigma_u^2 dt)`` in each of ``N`` equally spaced auctions (``dt = 1 / N``); a
competitive market maker sees the total order flow ``y_n`` and sets the price ``p_n``. Payoffs:
insider ``sum_n (v - p_n) x_n``, market maker ``-sum_n (p_n - v)^2`` (its best response is the
posterior mean, the zero-profit competitive price).

*Linear profiles* (:class:`LinearProfile`): every insider orders ``x_n = b_n (v - p_{n-1})``
(``b_n = beta_n dt``) and the market maker prices ``p_n = p_{n-1} + lambda_n y_n``. Both best
responses to a linear profile are linear, so everything here is closed-form algebra:

- the market maker's best response is the Kalman filter of ``v`` from ``y_1..y_n``;
- one insider's best response (the others fixed) is a linear-quadratic dynamic programme with
  value ``alpha_{n-1} d^2 + delta_{n-1}`` in ``d = v - p_{n-1}``; it is unbounded (infinite
  profit) when a second-order condition ``lambda_n (1 - alpha_n lambda_n) > 0`` fails.

:func:`linear_exploitability` therefore gives the *exact* NashConv of any linear profile, and
:func:`linear_equilibrium` the equilibrium by Kyle's backward recursion (generalised to ``M``
insiders), certified by that NashConv. :func:`best_response_fixed_point` finds the same fixed point numerically from the
best-response maps alone.

*Arbitrary policies* (one insider, one auction): :func:`policy_exploitability` takes any
vectorised callables ``x = X(v)`` and ``p = P(y)`` (e.g. trained neural actors) and computes both
best responses by quadrature (trapezoid rules on fine uniform grids, spectrally accurate for
smooth integrands against Gaussian densities) and one-dimensional optimisation (a global scan
refined by golden-section search); the quadrature error is estimated by halving the grids.

References
----------
A. S. Kyle, "Continuous Auctions and Insider Trading", Econometrica 53(6), 1985, Thms 1-2.
C. W. Holden and A. Subrahmanyam, "Long-lived private information and imperfect competition",
J. Finance 47(1), 1992. K. Back, "Insider trading in continuous time", RFS 5(3), 1992.

Examples
--------
>>> from gametools.continuum import LinearGaussianMarket, linear_equilibrium
>>> eq = linear_equilibrium(LinearGaussianMarket(sigma_v=2.0, sigma_u=10.0))
>>> round(eq.profile.lambda_[0], 12), round(eq.profile.beta_dt[0], 12)
(0.1, 5.0)
>>> eq.nash_conv < 1e-12
True
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from gametools.errors import InvalidArgumentError

__all__ = ["AuctionExploitability", "LinearEquilibrium", "LinearExploitability", "LinearGaussianMarket", "LinearProfile",
           "PolicyExploitability", "auction_exploitability", "best_response_fixed_point", "discretisation_error",
           "insider_best_response",
           "linear_equilibrium", "linear_exploitability", "market_maker_best_response",
           "policy_exploitability", "posterior_mean"]


@dataclass(frozen=True)
class LinearGaussianMarket:
    """Parameters of the linear-Gaussian insider-trading model.

    Attributes
    ----------
    sigma_v : float
        Standard deviation of the value.
    sigma_u : float
        Standard deviation of the total noise flow (``sigma_u^2 dt`` per auction).
    p0 : float
        Prior mean of the value (the opening price).
    n_auctions : int
    n_insiders : int
    """

    sigma_v: float = 1.0
    sigma_u: float = 1.0
    p0: float = 0.0
    n_auctions: int = 1
    n_insiders: int = 1

    def __post_init__(self) -> None:
        for name in ("sigma_v", "sigma_u"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise InvalidArgumentError(f"{name} must be positive and finite, got {value!r}")
        if not math.isfinite(self.p0):
            raise InvalidArgumentError(f"p0 must be finite, got {self.p0!r}")
        for name in ("n_auctions", "n_insiders"):
            value = getattr(self, name)
            if int(value) != value or value < 1:
                raise InvalidArgumentError(f"{name} must be a positive integer, got {value!r}")

    @property
    def dt(self) -> float:
        return 1.0 / self.n_auctions

    @property
    def noise_variance(self) -> float:
        """Noise variance of one auction, ``sigma_u^2 dt``."""
        return self.sigma_u ** 2 * self.dt


@dataclass(frozen=True)
class LinearProfile:
    """A linear profile: each insider orders ``b_n (v - p_{n-1})``, prices ``p_{n-1} + lambda_n y_n``.

    Attributes
    ----------
    beta_dt : tuple of float, length N
        ``b_n = beta_n dt``, every insider's slope on ``v - p_{n-1}`` (Kyle's ``beta_n dt_n``).
    lambda_ : tuple of float, length N
        Price impact of each auction.
    """

    beta_dt: tuple[float, ...]
    lambda_: tuple[float, ...]

    def check(self, market: LinearGaussianMarket) -> None:
        n = market.n_auctions
        if len(self.beta_dt) != n or len(self.lambda_) != n:
            raise InvalidArgumentError(f"a linear profile of {n} auctions needs {n} slopes and "
                                       f"{n} price impacts, got {len(self.beta_dt)} and "
                                       f"{len(self.lambda_)}")
        if not all(math.isfinite(x) for x in self.beta_dt + self.lambda_):
            raise InvalidArgumentError("linear profile coefficients must be finite")


def _numbers(result: Any) -> dict[str, Any]:
    """The fields of an exploitability result but its best-response profile, in declaration
    order (for ``to_dict``)."""
    return {f.name: getattr(result, f.name) for f in fields(result) if f.name != "best_response"}


@dataclass(frozen=True)
class LinearExploitability:
    """Exact NashConv of a linear profile (closed-form algebra, floating-point rounding only).

    Attributes
    ----------
    nash_conv : float
        ``M * insider_gain + market_maker_gain`` (``inf`` when an insider's best response is
        unbounded).
    insider_gain : float
        What one insider gains by deviating to its best response (the others fixed).
    market_maker_gain : float
    insider_profit : float
        Each insider's expected profit under the profile.
    insider_best_profit : float
    market_maker_loss : float
        ``E sum_n (p_n - v)^2`` under the profile.
    market_maker_best_loss : float
        The same for the market maker's best response (``sum_n Var(v | y_1..y_n)``).
    best_response : LinearProfile
        Each player's best response: the deviating insider's slopes (``inf`` where unbounded)
        and the market maker's Kalman gains.
    """

    nash_conv: float
    insider_gain: float
    market_maker_gain: float
    insider_profit: float
    insider_best_profit: float
    market_maker_loss: float
    market_maker_best_loss: float
    best_response: LinearProfile

    def to_dict(self) -> dict[str, Any]:
        return _numbers(self) | {"kind": "exact"}


@dataclass(frozen=True)
class LinearEquilibrium:
    """The linear equilibrium of a :class:`LinearGaussianMarket`.

    Attributes
    ----------
    profile : LinearProfile
    posterior_variance : tuple of float
        ``Sigma_n = Var(v | y_1..y_n)``, ``n = 1..N``.
    alpha, delta : tuple of float
        Each insider's value-to-go ``alpha_{n-1} (v - p_{n-1})^2 + delta_{n-1}``, ``n = 1..N``.
    insider_profit : float
        Each insider's expected profit ``alpha_0 sigma_v^2 + delta_0``.
    nash_conv : float
        Exact NashConv of ``profile`` (:func:`linear_exploitability`): the certificate.
    """

    profile: LinearProfile
    posterior_variance: tuple[float, ...]
    alpha: tuple[float, ...]
    delta: tuple[float, ...]
    insider_profit: float
    nash_conv: float


# ------------------------------------------------------------------------------------------
# best responses and exploitability of linear profiles
# ------------------------------------------------------------------------------------------

def market_maker_best_response(market: LinearGaussianMarket, profile: LinearProfile
                               ) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The market maker's best response to linear insiders: the Kalman filter of ``v``.

    With ``M`` insiders ordering ``b_n (v - p_{n-1})`` the flow reveals ``M b_n v + u_n`` (the
    market maker knows its own past prices), so ``E[v | y_1..y_n]`` is
    ``p_{n-1} + k_n y_n`` on the best response's path, ``k_n = M b_n Sigma_{n-1} /
    (M^2 b_n^2 Sigma_{n-1} + sigma_u^2 dt)``, and ``Sigma_n = Sigma_{n-1} sigma_u^2 dt /
    (M^2 b_n^2 Sigma_{n-1} + sigma_u^2 dt)``. Its expected loss is ``sum_n Sigma_n``.

    Returns
    -------
    (gains, posterior variances)
        ``(k_1..k_N)`` and ``(Sigma_1..Sigma_N)``.
    """
    profile.check(market)
    m, noise = market.n_insiders, market.noise_variance
    sigma = market.sigma_v ** 2
    gains, variances = [], []
    for b in profile.beta_dt:
        denominator = m * m * b * b * sigma + noise
        gains.append(m * b * sigma / denominator)
        sigma = sigma * noise / denominator
        variances.append(sigma)
    return tuple(gains), tuple(variances)


def insider_best_response(market: LinearGaussianMarket, profile: LinearProfile
                          ) -> tuple[tuple[float, ...], float]:
    """One insider's best response when the other insiders and the market maker play ``profile``.

    Backward induction on the value ``alpha_{n-1} d^2 + delta_{n-1}``, ``d = v - p_{n-1}``: with
    the others' flow ``o d``, ``o = (M - 1) b_n``, and ``r = 1 - lambda_n o``, the stage
    objective ``E[(r d - lambda x - lambda u) x + alpha_n (r d - lambda x - lambda u)^2]`` is
    concave in ``x`` iff ``lambda_n (1 - alpha_n lambda_n) > 0``; then
    ``x = c_n d``, ``c_n = r (1 - 2 alpha_n lambda_n) / (2 lambda_n (1 - alpha_n lambda_n))``,
    ``alpha_{n-1} = (r - lambda c) c + alpha_n (r - lambda c)^2``,
    ``delta_{n-1} = delta_n + alpha_n lambda_n^2 sigma_u^2 dt``. Otherwise the profit is
    unbounded.

    Returns
    -------
    (slopes, value)
        The best response's slopes ``c_1..c_N`` (``nan`` after an unbounded stage) and its
        expected profit ``alpha_0 sigma_v^2 + delta_0`` (``inf`` when unbounded).
    """
    profile.check(market)
    m, noise = market.n_insiders, market.noise_variance
    alpha = delta = 0.0
    slopes: list[float] = []
    for b, lam in zip(reversed(profile.beta_dt), reversed(profile.lambda_)):
        curvature = lam * (1.0 - alpha * lam)
        if not curvature > 0:
            return (math.nan,) * market.n_auctions, math.inf
        r = 1.0 - lam * (m - 1) * b
        c = r * (1.0 - 2.0 * alpha * lam) / (2.0 * curvature)
        residual = r - lam * c
        delta = delta + alpha * lam * lam * noise
        alpha = residual * c + alpha * residual * residual
        slopes.append(c)
    return tuple(reversed(slopes)), alpha * market.sigma_v ** 2 + delta


def _profile_payoffs(market: LinearGaussianMarket, profile: LinearProfile) -> tuple[float, float]:
    """(each insider's expected profit, the market maker's expected loss) under ``profile``."""
    m, noise = market.n_insiders, market.noise_variance
    spread = market.sigma_v ** 2  # E (v - p_{n-1})^2
    profit = loss = 0.0
    for b, lam in zip(profile.beta_dt, profile.lambda_):
        kept = 1.0 - lam * m * b
        profit += b * kept * spread
        spread = kept * kept * spread + lam * lam * noise
        loss += spread
    return profit, loss


def linear_exploitability(market: LinearGaussianMarket, profile: LinearProfile
                          ) -> LinearExploitability:
    """Exact NashConv of a linear profile (every insider plays ``beta_dt``).

    The deviations are unrestricted (any measurable strategy): both best responses to a linear
    profile are linear (:func:`insider_best_response`, :func:`market_maker_best_response`).

    Examples
    --------
    >>> from gametools.continuum import LinearGaussianMarket, LinearProfile, linear_exploitability
    >>> market = LinearGaussianMarket()
    >>> linear_exploitability(market, LinearProfile((1.0,), (0.5,))).nash_conv
    0.0
    >>> # twice too aggressive, it earns 2 (1 - 0.5 * 2) = 0 where x = v would earn 1/2
    >>> round(linear_exploitability(market, LinearProfile((2.0,), (0.5,))).insider_gain, 12)
    0.5
    """
    slopes, best_profit = insider_best_response(market, profile)
    gains, variances = market_maker_best_response(market, profile)
    profit, loss = _profile_payoffs(market, profile)
    best_loss = float(sum(variances))
    insider_gain = max(best_profit - profit, 0.0)
    mm_gain = max(loss - best_loss, 0.0)
    return LinearExploitability(market.n_insiders * insider_gain + mm_gain, insider_gain, mm_gain,
                                profit, best_profit, loss, best_loss,
                                LinearProfile(slopes, gains))


# ------------------------------------------------------------------------------------------
# the equilibrium
# ------------------------------------------------------------------------------------------

def linear_equilibrium(market: LinearGaussianMarket) -> LinearEquilibrium:
    """The linear equilibrium by Kyle's (1985, Thm 2) backward recursion, ``M`` insiders.

    From ``alpha_N = delta_N = 0`` and ``Sigma_N = 1`` backwards: ``lambda_n`` is the root in
    ``(0, 1 / (2 alpha_n))`` of
    ``lambda^2 sigma_u^2 dt ((M + 1) - 2 M alpha_n lambda) = M Sigma_n (1 - 2 alpha_n lambda)``
    (the insiders' first-order condition meets the market maker's ``lambda_n = M b_n Sigma_n /
    (sigma_u^2 dt)``), ``b_n = lambda_n sigma_u^2 dt / (M Sigma_n)``,
    ``Sigma_{n-1} = Sigma_n / (1 - M b_n lambda_n)``,
    ``alpha_{n-1} = b_n (1 - M b_n lambda_n) + alpha_n (1 - M b_n lambda_n)^2``,
    ``delta_{n-1} = delta_n + alpha_n lambda_n^2 sigma_u^2 dt``; then everything is rescaled to
    ``Sigma_0 = sigma_v^2`` (``lambda``, ``delta`` by ``sqrt(s)``, ``b``, ``alpha`` by
    ``1 / sqrt(s)``, ``Sigma`` by ``s``). ``M = 1`` is Kyle's recursion; ``N = 1`` gives
    ``lambda = sqrt(M) sigma_v / ((M + 1) sigma_u)``, ``b = sigma_u / (sqrt(M) sigma_v)``
    (Holden and Subrahmanyam 1992).

    The result is certified by its exact NashConv (:func:`linear_exploitability`).
    """
    from scipy.optimize import brentq  # on first use: importing the scenarios stays cheap

    m, noise = market.n_insiders, market.noise_variance
    alpha, delta, sigma = 0.0, 0.0, 1.0
    lambdas, slopes, sigmas, alphas, deltas = [], [], [], [], []
    for _ in range(market.n_auctions):
        if alpha == 0.0:
            lam = math.sqrt(m * sigma / ((m + 1) * noise))
        else:
            def condition(x: float, a: float = alpha, s: float = sigma) -> float:
                return x * x * noise * ((m + 1) - 2 * m * a * x) - m * s * (1 - 2 * a * x)
            lam = brentq(condition, 0.0, 1.0 / (2 * alpha), xtol=1e-15, rtol=1e-15)
        b = lam * noise / (m * sigma)
        kept = 1.0 - m * b * lam
        lambdas.append(lam)
        slopes.append(b)
        sigmas.append(sigma)
        sigma = sigma / kept
        delta = delta + alpha * lam * lam * noise
        alpha = b * kept + alpha * kept * kept
        alphas.append(alpha)
        deltas.append(delta)
    scale = market.sigma_v ** 2 / sigma  # sigma now holds Sigma_0 of the normalised solution
    root = math.sqrt(scale)

    def forward(values: list[float], factor: float) -> tuple[float, ...]:
        return tuple(float(v * factor) for v in reversed(values))

    profile = LinearProfile(forward(slopes, 1 / root), forward(lambdas, root))
    return LinearEquilibrium(profile, forward(sigmas, scale), forward(alphas, 1 / root),
                             forward(deltas, root),
                             float((alphas[-1] * sigma + deltas[-1]) * root),
                             linear_exploitability(market, profile).nash_conv)


def best_response_fixed_point(market: LinearGaussianMarket, start: LinearProfile | None = None,
                              *, tol: float = 1e-10) -> LinearProfile:
    """The profile that is a best response to itself, found numerically (no closed form used).

    Solves ``BR(profile) = profile`` for the symmetric linear profile, the unknowns being the
    logarithms of the ``2 N`` coefficients (both are positive in equilibrium), with Powell's
    hybrid method (:func:`scipy.optimize.root`); ``BR`` is :func:`insider_best_response` (one
    insider against the others' slopes) and :func:`market_maker_best_response`. Pure
    best-response iteration is not used because for ``N > 1`` it can step to prices against
    which the insider's profit is unbounded.

    Parameters
    ----------
    market : LinearGaussianMarket
    start : LinearProfile, optional
        Default: ``b_n = dt``, ``lambda_n = sigma_v / sigma_u``.
    tol : float
        Required exact NashConv of the answer (relative to ``sigma_v sigma_u``).

    Raises
    ------
    InvalidArgumentError
        When no profile with NashConv ``<= tol sigma_v sigma_u`` was found.
    """
    from scipy.optimize import root

    n = market.n_auctions
    start = start or LinearProfile((market.sigma_u / market.sigma_v * market.dt,) * n,
                                   (market.sigma_v / market.sigma_u,) * n)
    start.check(market)

    def residual(z: np.ndarray) -> np.ndarray:
        profile = LinearProfile(tuple(np.exp(z[:n])), tuple(np.exp(z[n:])))
        slopes, value = insider_best_response(market, profile)
        gains, _ = market_maker_best_response(market, profile)
        if not math.isfinite(value) or min(slopes) <= 0:
            return np.full(2 * n, 1e3)  # unbounded or wrong-signed: far from a fixed point
        return np.log(np.concatenate([slopes, gains])) - z

    guess = np.log(np.abs(np.array(start.beta_dt + start.lambda_, dtype=float)))
    solution = root(residual, guess, method="hybr", options={"xtol": 1e-14})
    profile = LinearProfile(tuple(float(x) for x in np.exp(solution.x[:n])),
                            tuple(float(x) for x in np.exp(solution.x[n:])))
    nash = linear_exploitability(market, profile).nash_conv
    if not nash <= tol * market.sigma_v * market.sigma_u:
        raise InvalidArgumentError(f"no fixed point of the best responses found from this start "
                                   f"(NashConv {nash:.3g})")
    return profile


# ------------------------------------------------------------------------------------------
# arbitrary policies (one insider, one auction) by quadrature
# ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PolicyExploitability:
    """NashConv of an arbitrary profile ``(X, P)`` of the one-auction game, by quadrature.

    Attributes
    ----------
    nash_conv : float
        ``insider_gain + market_maker_gain``.
    insider_gain, market_maker_gain : float
    insider_profit, insider_best_profit : float
    market_maker_loss, market_maker_best_loss : float
    quadrature_error : float
        Estimated absolute error of ``nash_conv``: the change when the grids are halved.
    grid_points : int
    """

    nash_conv: float
    insider_gain: float
    market_maker_gain: float
    insider_profit: float
    insider_best_profit: float
    market_maker_loss: float
    market_maker_best_loss: float
    quadrature_error: float
    grid_points: int

    def to_dict(self) -> dict[str, Any]:
        return _numbers(self) | {"kind": "quadrature"}


def _normal_weights(points: np.ndarray, mean: float, sd: float) -> np.ndarray:
    """Trapezoid weights of ``N(mean, sd^2)`` on a uniform grid, normalised to sum 1."""
    density = np.exp(-0.5 * ((points - mean) / sd) ** 2)
    density[[0, -1]] *= 0.5
    return density / density.sum()


def _call(function: Callable[[np.ndarray], Any], points: np.ndarray, name: str) -> np.ndarray:
    out = function(points)
    if hasattr(out, "detach"):
        out = out.detach().cpu().double().numpy()
    values = np.asarray(out, dtype=float).reshape(-1)
    if values.shape != points.shape:
        raise InvalidArgumentError(f"{name} must map {points.shape[0]} points to as many values, "
                                   f"got shape {np.shape(out)}")
    if not np.all(np.isfinite(values)):
        raise InvalidArgumentError(f"{name} returned non-finite values")
    return values


def posterior_mean(insider: Callable[[np.ndarray], Any], flows: np.ndarray,
                   market: LinearGaussianMarket, *, grid_points: int = 2049) -> np.ndarray:
    """``E[v | y]`` at each flow when one insider orders ``insider(v)`` (one auction).

    Parameters
    ----------
    insider : callable
        Vectorised ``v (K,) -> x (K,)``.
    flows : ndarray, shape (J,)
    market : LinearGaussianMarket
    grid_points : int
        Points of the value grid (``p0 +- 8 sigma_v``).

    Returns
    -------
    ndarray, shape (J,)
    """
    values = np.linspace(market.p0 - 8 * market.sigma_v, market.p0 + 8 * market.sigma_v,
                         grid_points)
    weights = _normal_weights(values, market.p0, market.sigma_v)
    orders = _call(insider, values, "insider")
    return _posterior(values, weights, orders, np.asarray(flows, dtype=float),
                      market.sigma_u)[0]


def _posterior(values: np.ndarray, weights: np.ndarray, orders: np.ndarray, flows: np.ndarray,
               sigma_u: float) -> tuple[np.ndarray, np.ndarray]:
    """Posterior mean of ``v`` and (unnormalised) density of the flow, per flow."""
    z = (flows[:, None] - orders[None, :]) / sigma_u
    log_like = -0.5 * z * z
    shift = log_like.max(axis=1, keepdims=True)
    like = np.exp(log_like - shift) * weights[None, :]
    mass = like.sum(axis=1)
    mean = like @ values / mass
    density = mass * np.exp(shift[:, 0]) / (math.sqrt(2 * math.pi) * sigma_u)
    return mean, density


def _evaluate(insider: Callable[[np.ndarray], Any], pricing: Callable[[np.ndarray], Any],
              market: LinearGaussianMarket, order_bounds: tuple[float, float],
              price_bounds: tuple[float, float], points: int) -> dict[str, float]:
    from scipy.interpolate import CubicSpline  # on first use: importing stays cheap


    sigma_v, sigma_u, p0 = market.sigma_v, market.sigma_u, market.p0
    lo, hi = order_bounds
    values = np.linspace(p0 - 8 * sigma_v, p0 + 8 * sigma_v, points)
    value_weights = _normal_weights(values, p0, sigma_v)
    orders = np.clip(_call(insider, values, "insider"), lo, hi)
    flows = np.linspace(lo - 8 * sigma_u, hi + 8 * sigma_u, 2 * points - 1)
    step = flows[1] - flows[0]
    prices = np.clip(_call(pricing, flows, "pricing"), *price_bounds)

    def expected_price(x: np.ndarray) -> np.ndarray:
        # E_u P(x + u) by the trapezoid rule on the flow grid (its ends are 8 sd away)
        kernel = np.exp(-0.5 * ((flows[None, :] - x[:, None]) / sigma_u) ** 2)
        kernel[:, [0, -1]] *= 0.5
        return (kernel @ prices) / kernel.sum(axis=1)

    profit = float(value_weights @ (orders * (values - expected_price(orders))))
    # the insider's best response: a scan of the order interval, then golden-section search on
    # a cubic spline of E_u P(x + u) (a Gaussian convolution, so smooth at the scale sigma_u);
    # the maximisers found are evaluated exactly at the end
    scan = np.linspace(lo, hi, points)
    smooth = CubicSpline(scan, expected_price(scan))
    objective = scan[None, :] * (values[:, None] - smooth(scan)[None, :])
    best = objective.argmax(axis=1)
    left = scan[np.maximum(best - 1, 0)]
    right = scan[np.minimum(best + 1, len(scan) - 1)]
    ratio = (math.sqrt(5) - 1) / 2
    for _ in range(40):
        a = right - ratio * (right - left)
        b = left + ratio * (right - left)
        keep_left = a * (values - smooth(a)) >= b * (values - smooth(b))
        right = np.where(keep_left, b, right)
        left = np.where(keep_left, left, a)
    candidates = np.stack([(left + right) / 2, scan[best], orders])
    prices_at = expected_price(candidates.ravel()).reshape(candidates.shape)
    best_objective = (candidates * (values[None, :] - prices_at)).max(axis=0)
    best_profit = float(value_weights @ best_objective)
    # the market maker's best response: the posterior mean, clipped to the price interval
    mean, density = _posterior(values, value_weights, orders, flows, sigma_u)
    flow_weights = density * step
    flow_weights[[0, -1]] *= 0.5
    second = float(value_weights @ (values - p0) ** 2)  # E (v - p0)^2 on the grid
    residual = second - float(flow_weights @ (mean - p0) ** 2)  # E Var(v | y)
    clipped = np.clip(mean, *price_bounds)
    loss = residual + float(flow_weights @ (prices - mean) ** 2)
    best_loss = residual + float(flow_weights @ (clipped - mean) ** 2)
    return {"insider_profit": profit, "insider_best_profit": best_profit,
            "market_maker_loss": loss, "market_maker_best_loss": best_loss,
            "insider_gain": max(best_profit - profit, 0.0),
            "market_maker_gain": max(loss - best_loss, 0.0)}


def policy_exploitability(insider: Callable[[np.ndarray], Any],
                          pricing: Callable[[np.ndarray], Any], market: LinearGaussianMarket, *,
                          order_bounds: tuple[float, float],
                          price_bounds: tuple[float, float] = (-math.inf, math.inf),
                          grid_points: int = 1025) -> PolicyExploitability:
    """NashConv of any insider ``X(v)`` and pricing rule ``P(y)`` in the one-auction game.

    Deviations range over every order in ``order_bounds`` (orders are clipped to it, as the
    simulator clips them) and every price in ``price_bounds``; the market maker's best response
    is ``clip(E[v | y])``. The insider's best response maximises
    ``x (v - E_u P(x + u))`` for every value on the grid: a scan of ``grid_points`` orders, refined by
    golden-section search on a spline of ``E_u P(x + u)``, the maximisers evaluated exactly.
    Expectations use trapezoid rules on uniform grids of ``v`` (``p0 +-
    8 sigma_v``, ``grid_points`` points) and of the flow (``order_bounds`` widened by
    ``8 sigma_u``); the error estimate is the change when both grids are halved.

    Parameters
    ----------
    insider, pricing : callable
        Vectorised maps of ``(K,)`` float64 arrays to ``(K,)`` (numpy or torch outputs).
    market : LinearGaussianMarket
        One insider, one auction.
    order_bounds, price_bounds : (float, float)
    grid_points : int
        Odd, at least 65.

    Examples
    --------
    >>> from gametools.continuum import LinearGaussianMarket, policy_exploitability
    >>> market = LinearGaussianMarket()
    >>> out = policy_exploitability(lambda v: v, lambda y: 0.5 * y, market, order_bounds=(-8, 8))
    >>> out.nash_conv < 1e-6, out.quadrature_error < 1e-6
    (True, True)
    """
    if market.n_auctions != 1 or market.n_insiders != 1:
        raise InvalidArgumentError("policy_exploitability handles one insider and one auction")
    if grid_points < 65 or grid_points % 2 == 0:
        raise InvalidArgumentError(f"grid_points must be odd and >= 65, got {grid_points}")
    lo, hi = (float(x) for x in order_bounds)
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise InvalidArgumentError(f"order_bounds must be a finite interval, got {order_bounds}")
    if not price_bounds[0] < price_bounds[1]:
        raise InvalidArgumentError(f"price_bounds must be an interval, got {price_bounds}")
    fine = _evaluate(insider, pricing, market, (lo, hi), price_bounds, grid_points)
    coarse = _evaluate(insider, pricing, market, (lo, hi), price_bounds, (grid_points + 1) // 2)
    nash = fine["insider_gain"] + fine["market_maker_gain"]
    error = abs(nash - coarse["insider_gain"] - coarse["market_maker_gain"])
    return PolicyExploitability(nash, fine["insider_gain"], fine["market_maker_gain"],
                                fine["insider_profit"], fine["insider_best_profit"],
                                fine["market_maker_loss"], fine["market_maker_best_loss"],
                                error, grid_points)


# ------------------------------------------------------------------------------------------
# first-price auctions with independent uniform private values
# ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class AuctionExploitability:
    """NashConv of arbitrary bid functions in a first-price auction, by quadrature.

    Attributes
    ----------
    nash_conv : float
        The sum of the bidders' gains.
    gains : tuple of float
        Per bidder: its best-response payoff minus its payoff (the others fixed).
    payoffs, best_payoffs : tuple of float
        Per bidder: expected payoff under the profile, and the supremum over every bid function.
    revenue : float
        The seller's expected revenue under the profile.
    quadrature_error : float
        Estimated absolute error of ``nash_conv``: the change when the value grids are halved.
    grid_points : int
    """

    nash_conv: float
    gains: tuple[float, ...]
    payoffs: tuple[float, ...]
    best_payoffs: tuple[float, ...]
    revenue: float
    quadrature_error: float
    grid_points: int

    def to_dict(self) -> dict[str, Any]:
        return _numbers(self) | {"kind": "quadrature"}


#: Rows per block when tabulating bid distributions (memory ~ _CHUNK x cells floats).
_CHUNK = 256


def _bid_distribution(bids: np.ndarray, at: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``P(B < a)`` and ``P(B = a)`` at each ``a`` for ``B = beta(V)``, ``V`` uniform, ``beta``
    the piecewise-linear interpolant of ``bids`` (its values at equally spaced quantiles).

    A cell on which ``beta`` is constant is an atom; elsewhere the bid is spread over the cell's
    bid interval with the density of a linear map.
    """
    # on a cell the bid runs linearly between its end bids, so the share of the cell bidding
    # at most a is a ramp from the smaller end bid to the larger one (either direction)
    low = np.minimum(bids[:-1], bids[1:])
    high = np.maximum(bids[:-1], bids[1:])
    flat = high == low
    ramp_low, ramp_span = low[~flat], (high - low)[~flat]
    atoms = np.sort(low[flat])
    cells = bids.size - 1
    less = np.empty(at.shape)
    for start in range(0, at.size, _CHUNK):  # bounded memory: a chunk of bids x all cells
        part = at[start:start + _CHUNK]
        less[start:start + _CHUNK] = np.clip((part[:, None] - ramp_low[None, :])
                                             / ramp_span[None, :], 0.0, 1.0).sum(axis=1)
    strictly = np.searchsorted(atoms, at, side="left")
    equal = np.searchsorted(atoms, at, side="right") - strictly
    return (less + strictly) / cells, equal / cells


def _win_probability(others: list[np.ndarray], at: np.ndarray, *, ties: bool) -> np.ndarray:
    """Probability of winning with bid ``a`` against independent opponents.

    ``ties=True``: ties split equally, ``E[1 / (1 + #tied)] = int_0^1 prod_j (P_j(<) + t
    P_j(=)) dt`` (exact by Gauss-Legendre on the polynomial in ``t``); ``ties=False``: the
    supremum over bids just above ``a`` (``prod_j P_j(<=)``).
    """
    if not ties:
        out = np.ones(at.shape)
        for bids in others:
            less, equal = _bid_distribution(bids, at)
            out = out * (less + equal)
        return out
    nodes, weights = np.polynomial.legendre.leggauss(max(1, (len(others) + 2) // 2))
    parts = [_bid_distribution(bids, at) for bids in others]
    total = np.zeros(at.shape)
    for t, w in zip((nodes + 1) / 2, weights / 2):
        term = np.ones(at.shape)
        for less, equal in parts:
            term = term * (less + t * equal)
        total += w * term
    return total


def _trapezoid_mean(values: np.ndarray) -> float:
    """Mean over a uniform distribution from values at equally spaced points (trapezoid rule)."""
    return float((values.sum() - 0.5 * (values[0] + values[-1])) / (values.size - 1))


def _auction_values(bid_functions: list[Callable[[np.ndarray], Any]],
                    supports: list[tuple[float, float]], cells: int
                    ) -> tuple[list[np.ndarray], list[np.ndarray]]:
    values = [np.linspace(lo, hi, cells + 1) for lo, hi in supports]
    bids = [_call(f, v, f"bid function {i}") for i, (f, v) in
            enumerate(zip(bid_functions, values))]
    return values, bids


def _evaluate_auction(bid_functions: list[Callable[[np.ndarray], Any]],
                      supports: list[tuple[float, float]], cells: int) -> dict[str, Any]:
    values, bids = _auction_values(bid_functions, supports, cells)
    payoffs, best, revenue = [], [], 0.0
    for i in range(len(bids)):
        others = bids[:i] + bids[i + 1:]
        win = _win_probability(others, bids[i], ties=True)
        payoffs.append(_trapezoid_mean((values[i] - bids[i]) * win))
        revenue += _trapezoid_mean(bids[i] * win)
        # sup_b (v - b) P(win at b+): on a segment between consecutive opponent bids the
        # objective is a polynomial of low degree in b, so candidates at the breakpoints and
        # three interior points of every segment bound it to O(segment^2)
        points = np.unique(np.concatenate(others))
        inner = [points[:-1] + f * np.diff(points) for f in (0.25, 0.5, 0.75)]
        candidates = np.concatenate([points, *inner])
        sure = _win_probability(others, candidates, ties=False)
        top = np.zeros(values[i].shape)  # bidding below every opponent: payoff 0
        for start in range(0, candidates.size, _CHUNK):
            block = slice(start, start + _CHUNK)
            objective = (values[i][:, None] - candidates[None, block]) * sure[None, block]
            top = np.maximum(top, objective.max(axis=1))
        best.append(_trapezoid_mean(top))
    gains = [max(b - p, 0.0) for b, p in zip(best, payoffs)]
    return {"payoffs": payoffs, "best": best, "gains": gains, "revenue": revenue}


def auction_exploitability(bid_functions: Sequence[Callable[[np.ndarray], Any]],
                           supports: Sequence[tuple[float, float]], *,
                           grid_points: int = 1025) -> AuctionExploitability:
    """NashConv of any bid functions in a first-price auction with uniform private values.

    Bidder ``i``'s value is uniform on ``supports[i]``, independent across bidders; the highest
    bid wins and pays its bid, ties are split equally. A bidder's deviation ranges over every
    bid function (its best response bids, for each value, the best bid against the others' bid
    distribution). Each bid function is evaluated at ``grid_points`` equally spaced values and
    interpolated linearly between them (so its bid distribution is exact for piecewise-linear
    bid functions, with atoms where it is flat); the best response maximises
    ``(v - b) P(win at b)`` over the opponents' bids at those points and three points between
    consecutive ones; expectations over the own value use the trapezoid rule. The error
    estimate is the change when the grids are halved.

    Parameters
    ----------
    bid_functions : sequence of callable
        Vectorised maps of a ``(K,)`` float64 array of values to ``(K,)`` bids (numpy or torch
        outputs), one per bidder (at least two).
    supports : sequence of (float, float)
        ``(low, high)`` of each bidder's uniform value distribution.
    grid_points : int
        Odd, at least 65.

    Returns
    -------
    AuctionExploitability

    Examples
    --------
    Two bidders with values uniform on ``[0, 1]`` bidding ``v / 2`` (Vickrey 1961) are in
    equilibrium; truthful bidding is not (each gains ``E[v^2 / 4] = 1 / 12`` by bidding ``v / 2``).

    >>> from gametools.continuum import auction_exploitability
    >>> out = auction_exploitability([lambda v: v / 2] * 2, [(0.0, 1.0)] * 2)
    >>> out.nash_conv < 1e-6, round(out.revenue, 6)
    (True, 0.333333)
    >>> round(auction_exploitability([lambda v: v] * 2, [(0.0, 1.0)] * 2).nash_conv, 6)
    0.166667
    """
    functions = list(bid_functions)
    ranges = [tuple(float(x) for x in support) for support in supports]
    if len(functions) < 2 or len(functions) != len(ranges):
        raise InvalidArgumentError(f"auction_exploitability needs one bid function and one "
                                   f"support per bidder, at least two bidders; got "
                                   f"{len(functions)} and {len(ranges)}")
    for lo, hi in ranges:
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise InvalidArgumentError(f"value supports must be finite intervals (low < high), "
                                       f"got {(lo, hi)}")
    if grid_points < 65 or grid_points % 2 == 0:
        raise InvalidArgumentError(f"grid_points must be odd and >= 65, got {grid_points}")
    pairs = [(lo, hi) for lo, hi in ranges]
    fine = _evaluate_auction(functions, pairs, grid_points - 1)
    coarse = _evaluate_auction(functions, pairs, (grid_points - 1) // 2)
    nash = float(sum(fine["gains"]))
    return AuctionExploitability(nash, tuple(fine["gains"]), tuple(fine["payoffs"]),
                                 tuple(fine["best"]), fine["revenue"],
                                 abs(nash - float(sum(coarse["gains"]))), grid_points)


def discretisation_error(grid_summary: Mapping[str, Any],
                         summary: Mapping[str, Any]) -> dict[str, Any]:
    """Grid minus continuum for every statistic both summaries hold (scalars, or tuples of them
    per player or per auction).

    >>> discretisation_error({"lambda": 0.098, "beta": (5.27,), "other": 1}, {"lambda": 0.1,
    ...                                                                      "beta": (5.0,)})
    {'lambda': -0.0020000000000000018, 'beta': (0.2699999999999996,)}
    """
    return {key: (float(grid_summary[key] - value) if np.ndim(value) == 0 else
                  tuple(float(g - c) for g, c in zip(grid_summary[key], value)))
            for key, value in summary.items() if key in grid_summary}
