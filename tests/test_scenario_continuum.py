"""Linear-Gaussian insider games solved in the continuum (gametools/continuum.py).

Sources of expected numbers (REFERENCES.md): Kyle (1985) Thm 1 (one auction) and Thm 2 (N = 2,
3, 4 instances); Holden and Subrahmanyam (1992) one auction with M insiders (lambda = sqrt(M)
sigma_v / ((M + 1) sigma_u): 0.471405, 0.433013, 0.372678 for M = 2, 3, 5); Back (1992): as
N -> infinity, profit -> sigma_v sigma_u and lambda -> sigma_v / sigma_u. Hand-solved deviations
are derived in the comments.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.optimize import minimize_scalar

from gametools.continuum import (
    LinearGaussianMarket,
    LinearProfile,
    best_response_fixed_point,
    insider_best_response,
    linear_equilibrium,
    linear_exploitability,
    market_maker_best_response,
    policy_exploitability,
    posterior_mean,
)
from gametools.errors import InvalidArgumentError


@pytest.mark.parametrize("sigma_v, sigma_u", [(1.0, 1.0), (2.0, 10.0), (2.0, 0.5)])
def test_single_auction_is_kyle_theorem_1(sigma_v: float, sigma_u: float) -> None:
    # Kyle (1985) Thm 1: beta = sigma_u / sigma_v, lambda = sigma_v / (2 sigma_u),
    # profit sigma_v sigma_u / 2, Var(v | y) = sigma_v^2 / 2
    eq = linear_equilibrium(LinearGaussianMarket(sigma_v=sigma_v, sigma_u=sigma_u))
    assert eq.profile.beta_dt[0] == pytest.approx(sigma_u / sigma_v, rel=1e-12)
    assert eq.profile.lambda_[0] == pytest.approx(sigma_v / (2 * sigma_u), rel=1e-12)
    assert eq.insider_profit == pytest.approx(sigma_v * sigma_u / 2, rel=1e-12)
    assert eq.posterior_variance[0] == pytest.approx(sigma_v ** 2 / 2, rel=1e-12)
    assert eq.nash_conv < 1e-12 * sigma_v * sigma_u


@pytest.mark.parametrize("n_auctions, profit, first_lambda", [
    (2, 0.620555, 0.652882), (3, 0.687104, 0.722796), (4, 0.730741, 0.764797)])
def test_several_auctions_are_kyle_theorem_2(n_auctions: int, profit: float,
                                            first_lambda: float) -> None:
    # REFERENCES.md, Kyle (1985) Thm 2 instances, Sigma_0 = sigma_u^2 = 1
    eq = linear_equilibrium(LinearGaussianMarket(n_auctions=n_auctions))
    assert eq.insider_profit == pytest.approx(profit, abs=1e-6)
    assert eq.profile.lambda_[0] == pytest.approx(first_lambda, abs=1e-6)
    # certified: no deviation of any player gains (exact NashConv of the linear profile)
    assert eq.nash_conv < 1e-12


@pytest.mark.parametrize("n_insiders, expected", [(2, 0.471405), (3, 0.433013), (5, 0.372678)])
def test_several_insiders_are_holden_subrahmanyam(n_insiders: int, expected: float) -> None:
    # Holden and Subrahmanyam (1992), one auction: lambda = sqrt(M) sigma_v / ((M + 1) sigma_u),
    # beta = sigma_u / (sqrt(M) sigma_v), each insider earns sigma_v sigma_u / ((M + 1) sqrt(M)),
    # Var(v | y) = sigma_v^2 / (M + 1)
    eq = linear_equilibrium(LinearGaussianMarket(n_insiders=n_insiders))
    m = n_insiders
    assert eq.profile.lambda_[0] == pytest.approx(expected, abs=1e-6)
    assert eq.profile.beta_dt[0] == pytest.approx(1 / math.sqrt(m), rel=1e-12)
    assert eq.insider_profit == pytest.approx(1 / ((m + 1) * math.sqrt(m)), rel=1e-12)
    assert eq.posterior_variance[0] == pytest.approx(1 / (m + 1), rel=1e-12)
    assert eq.nash_conv < 1e-12


@pytest.mark.parametrize("n_auctions, n_insiders", [(2, 1), (5, 1), (3, 2), (4, 3)])
def test_fixed_point_of_best_responses_is_the_recursion(n_auctions: int, n_insiders: int) -> None:
    # two independent routes to the equilibrium: the backward recursion, and a numerical
    # fixed point of the best-response maps alone
    market = LinearGaussianMarket(sigma_v=2.0, sigma_u=10.0, n_auctions=n_auctions,
                                  n_insiders=n_insiders)
    eq = linear_equilibrium(market)
    found = best_response_fixed_point(market)
    assert found.lambda_ == pytest.approx(eq.profile.lambda_, rel=1e-8)
    assert found.beta_dt == pytest.approx(eq.profile.beta_dt, rel=1e-8)
    assert eq.nash_conv < 1e-10


def test_back_1992_is_the_limit_of_many_auctions() -> None:
    # Back (1992): continuous-time limit, profit sigma_v sigma_u, lambda sigma_v / sigma_u, all
    # information revealed by the end; the recursion's error falls monotonically with N
    errors = []
    for n in (1, 4, 16, 64, 256):
        eq = linear_equilibrium(LinearGaussianMarket(n_auctions=n))
        errors.append(1.0 - eq.insider_profit)
        assert eq.nash_conv < 1e-10
    assert all(a > b > 0 for a, b in itertools.pairwise(errors))
    eq = linear_equilibrium(LinearGaussianMarket(n_auctions=256))
    assert eq.insider_profit == pytest.approx(1.0, abs=0.02)
    assert eq.profile.lambda_[0] == pytest.approx(1.0, abs=0.02)
    assert eq.posterior_variance[-1] < 0.01


def test_hand_solved_deviations_from_a_linear_profile() -> None:
    market = LinearGaussianMarket()
    # insider twice too aggressive, b = 2, lambda = 1/2: it earns E[2 v (v - (2 v + u) / 2)] = 0;
    # its best response x = v / (2 lambda) = v earns E[v (v - (v + u) / 2)] = 1/2
    out = linear_exploitability(market, LinearProfile((2.0,), (0.5,)))
    assert out.insider_profit == pytest.approx(0.0, abs=1e-15)
    assert out.insider_best_profit == pytest.approx(0.5)
    # the market maker: loss E[(v - (2 v + u) / 2)^2] = 1/4; the posterior mean has gain
    # k = 2 / (4 + 1) = 0.4 and loss Var(v | y) = 1 / 5
    assert out.market_maker_loss == pytest.approx(0.25)
    assert out.market_maker_best_loss == pytest.approx(0.2)
    assert out.best_response.lambda_ == pytest.approx((0.4,))
    assert out.best_response.beta_dt == pytest.approx((1.0,))
    assert out.nash_conv == pytest.approx(0.55)
    # prices that do not move (lambda = 0): the insider's profit is unbounded
    assert math.isinf(linear_exploitability(market, LinearProfile((1.0,), (0.0,))).nash_conv)
    slopes, value = insider_best_response(market, LinearProfile((1.0,), (-0.1,)))
    assert math.isinf(value) and math.isnan(slopes[0])
    gains, variances = market_maker_best_response(market, LinearProfile((1.0,), (0.5,)))
    assert gains == pytest.approx((0.5,)) and variances == pytest.approx((0.5,))


def test_policy_exploitability_of_linear_policies_is_the_closed_form() -> None:
    market = LinearGaussianMarket(sigma_v=2.0, sigma_u=10.0)
    for beta, lam in ((5.0, 0.1), (6.0, 0.1), (5.0, 0.12), (3.0, 0.2)):
        exact = linear_exploitability(market, LinearProfile((beta,), (lam,)))
        out = policy_exploitability(lambda v, b=beta: b * v, lambda y, c=lam: c * y, market,
                                    order_bounds=(-200.0, 200.0))
        assert out.nash_conv == pytest.approx(exact.nash_conv, abs=1e-8)
        assert out.insider_gain == pytest.approx(exact.insider_gain, abs=1e-8)
        assert out.market_maker_gain == pytest.approx(exact.market_maker_gain, abs=1e-8)
        assert out.quadrature_error < 1e-8


def test_policy_exploitability_of_nonlinear_policies_by_independent_quadrature() -> None:
    # a nonlinear pricing rule and a cubic insider, checked against scipy's adaptive quadrature,
    # Gauss-Hermite nodes and bounded scalar minimisation (independent numerics); the pricing
    # rule keeps rising so the insider's optimum is interior and smooth in v (Gauss-Hermite is
    # accurate only for smooth integrands)
    market = LinearGaussianMarket()

    def pricing(y):
        return 0.4 * np.asarray(y) + 0.3 * np.tanh(np.asarray(y))

    def insider(v):
        return 0.8 * np.asarray(v) + 0.1 * np.asarray(v) ** 3

    bounds = (-40.0, 40.0)  # wide enough that no order is clipped before 7 sd of v
    out = policy_exploitability(insider, pricing, market, order_bounds=bounds)
    phi = (lambda z: math.exp(-0.5 * z * z) / math.sqrt(2 * math.pi))

    def expected_price(x: float) -> float:
        return quad(lambda u: float(pricing(x + u)) * phi(u), -9, 9, epsabs=1e-12)[0]

    nodes, weights = np.polynomial.hermite_e.hermegauss(60)
    weights = weights / weights.sum()
    best = []
    for v in nodes:
        res = minimize_scalar(lambda x, v=v: -x * (v - expected_price(x)), bounds=bounds,
                              method="bounded", options={"xatol": 1e-9})
        # the objective may have its maximum at an end of the interval
        best.append(max(-res.fun, *(x * (v - expected_price(x)) for x in bounds)))
    orders = np.clip(insider(nodes), *bounds)
    profit = sum(w * x * (v - expected_price(x)) for w, x, v in zip(weights, orders, nodes))
    assert out.insider_profit == pytest.approx(profit, abs=1e-4)
    assert out.insider_best_profit == pytest.approx(float(weights @ np.array(best)), abs=1e-4)
    # market maker: E[(P(y) - E[v | y])^2] over the flow's density
    flows = np.linspace(-60, 60, 12001)
    mean = posterior_mean(insider, flows, market)
    density = np.array([quad(lambda v, y=y: phi(y - float(np.clip(insider(v), *bounds)))
                             * phi(v), -9, 9)[0] for y in flows[::40]])
    gain = np.trapezoid(density * (pricing(flows[::40]) - mean[::40]) ** 2, flows[::40])
    assert out.market_maker_gain == pytest.approx(gain, rel=2e-3)
    assert out.quadrature_error < 1e-3


def test_invalid_input_is_rejected() -> None:
    with pytest.raises(InvalidArgumentError, match="sigma_v must be positive"):
        LinearGaussianMarket(sigma_v=0.0)
    with pytest.raises(InvalidArgumentError, match="n_insiders must be a positive integer"):
        LinearGaussianMarket(n_insiders=0)
    with pytest.raises(InvalidArgumentError, match="needs 2 slopes"):
        linear_exploitability(LinearGaussianMarket(n_auctions=2), LinearProfile((1.0,), (0.5,)))
    with pytest.raises(InvalidArgumentError, match="one insider and one auction"):
        policy_exploitability(lambda v: v, lambda y: y, LinearGaussianMarket(n_auctions=2),
                              order_bounds=(-1, 1))
    with pytest.raises(InvalidArgumentError, match="as many values"):
        policy_exploitability(lambda v: v[:3], lambda y: y, LinearGaussianMarket(),
                              order_bounds=(-1, 1))
