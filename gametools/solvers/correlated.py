"""Correlated and coarse correlated equilibria of N-player normal-form games by linear programming.

Definitions
-----------
A *correlated distribution* ``mu`` is a probability distribution over joint actions, shape
``(n_1, ..., n_N)``. A mediator draws ``a ~ mu`` and tells each player ``i`` only ``a_i``.

- ``mu`` is a *correlated equilibrium* (CE; Aumann 1974) when no player gains by replacing a
  recommendation by another action: for every player ``i`` and own actions ``a != a'``,
  ``sum_{a_-i} mu(a, a_-i) [u_i(a', a_-i) - u_i(a, a_-i)] <= 0``.
- ``mu`` is a *coarse correlated equilibrium* (CCE; Hannan set, Moulin-Vial 1978) when no
  player gains by committing to a fixed action before the draw: for every ``i`` and ``a'``,
  ``sum_a mu(a) [u_i(a', a_-i) - u_i(a)] <= 0``.

Every Nash equilibrium's product distribution is a CE and every CE is a CCE. Both sets are
polytopes, so an optimal one is found by one LP (HiGHS, through :func:`scipy.optimize.linprog`);
CE needs ``sum_i n_i (n_i - 1)`` incentive constraints, CCE ``sum_i n_i``. The time-averaged
joint play of no-(swap-)regret learners converges to the (C)CE set, which is what
:func:`correlated_violation` measures.

Representation in :class:`~gametools.solvers.result.SolverResult`
-----------------------------------------------------------------------
A correlated distribution is not a profile of independent strategies, so it is *not* put in
``equilibria`` (whose entries promise Nash regret and product payoffs): ``equilibria`` is empty
and the typed field ``correlated`` (:class:`~gametools.solvers.result.CorrelatedEquilibrium`)
holds

- ``distribution``: ndarray ``(n_1, ..., n_N)``, the joint distribution;
- ``marginals``: tuple of ndarray ``(n_i,)`` (for display only; their product is generally no
  equilibrium);
- ``payoffs``: ndarray ``(N,)``, each player's expected payoff under the distribution;
- ``welfare``: their sum; ``objective_value``: the weighted sum that was maximised;
- ``max_violation``: the largest incentive-constraint violation divided by the payoff range
  (the certificate; ``status == "success"`` only when it is at most ``tol``);
- ``coarse``: whether CCE constraints were used;
- with exact payoffs, when the LP vertex rounds to a rational point that satisfies every
  constraint exactly: ``distribution_exact`` (nested lists of Fraction), ``payoffs_exact``
  and ``result.exact == True``.

References
----------
R. J. Aumann, "Subjectivity and correlation in randomized strategies", J. Math. Econ. 1 (1974).
H. Moulin and J.-P. Vial, "Strategically zero-sum games", Int. J. Game Theory 7 (1978).
C. H. Papadimitriou and T. Roughgarden, "Computing correlated equilibria in multi-player games",
J. ACM 55 (2008).

Examples
--------
Chicken (payoffs (6,6), (2,7), (7,2), (0,0)): the welfare-maximising CE puts 1/2 on (C, C) and 1/4
on each of (C, D), (D, C).

>>> from gametools import NormalFormGame
>>> from gametools.solvers.correlated import correlated_equilibrium, correlated_violation
>>> chicken = NormalFormGame.from_bimatrix([[6, 2], [7, 0]], [[6, 7], [2, 0]])
>>> result = correlated_equilibrium(chicken)
>>> result.exact, [[str(p) for p in row] for row in result.correlated.distribution_exact]
(True, [['1/2', '1/4'], ['1/4', '0']])
>>> float(result.correlated.welfare)
10.5
>>> correlated_violation(chicken, [[0.0, 0.5], [0.5, 0.0]])  # mixing the two pure equilibria
0.0
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np
import scipy.optimize
import scipy.sparse as sp

from gametools.errors import InvalidArgumentError, PolicyValidationError
from gametools.interop import as_game
from gametools.model import ROW_SUM_TOLERANCE, NormalFormGame
from gametools.solvers.result import CorrelatedEquilibrium, SolverResult

__all__ = ["correlated_equilibrium", "correlated_violation", "incentive_constraints"]

#: Exact certification is attempted only up to this many joint actions (it is quadratic in n_i).
EXACT_MAX_OUTCOMES = 20_000

# Denominator bounds tried when rounding the LP vertex to rationals.
_DENOMINATOR_BOUNDS = (10**3, 10**6, 10**9)



# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------

def _normal_form(game: Any) -> NormalFormGame:
    game = as_game(game)
    if not isinstance(game, NormalFormGame):
        raise TypeError(f"correlated equilibria need a NormalFormGame, got {type(game).__name__}"
                        " (use MarkovGame.stage_game for a stage of a Markov game)")
    return game


def _own_axis_first(tensor: np.ndarray, player: int) -> np.ndarray:
    """``(n_1, ..., n_N)`` -> ``(n_i, prod_{j != i} n_j)``; columns enumerate ``a_-i``."""
    return np.moveaxis(tensor, player, 0).reshape(tensor.shape[player], -1)


def _gains(payoffs: np.ndarray, distribution: np.ndarray, coarse: bool) -> list[np.ndarray]:
    """Per player, the expected gain of every deviation (works on float and Fraction arrays).

    CE: ``(n_i, n_i)`` with entry ``[a, a']`` the gain of playing ``a'`` when told ``a``.
    CCE: ``(n_i,)`` with entry ``[a']`` the gain of committing to ``a'``.
    """
    out = []
    for i in range(payoffs.shape[0]):
        mass = _own_axis_first(distribution, i)
        utility = _own_axis_first(payoffs[i], i)
        if coarse:
            others = mass.sum(axis=0)
            out.append(utility @ others - (mass * utility).sum())
        else:
            values = mass @ utility.T  # [a, a'] = sum_m mu(a, m) u_i(a', m)
            out.append(values - np.diagonal(values)[:, None])
    return out


def _validate_distribution(game: NormalFormGame, distribution: Any, atol: float) -> np.ndarray:
    try:
        mu = np.array(distribution, dtype=float)
    except (TypeError, ValueError) as exc:
        raise PolicyValidationError("distribution", f"must be an array of real numbers ({exc})"
                                    ) from None
    if mu.shape != game.num_actions:
        raise PolicyValidationError("distribution", f"must have the game's joint-action shape "
                                    f"{game.num_actions}", None, mu.shape)
    if not np.isfinite(mu).all():
        raise PolicyValidationError("distribution", "must be finite")
    if (mu < -atol).any():
        index = tuple(int(k) for k in np.argwhere(mu < -atol)[0])
        raise PolicyValidationError("distribution", "probabilities must be non-negative", index,
                                    float(mu[index]))
    if abs(mu.sum() - 1.0) > atol:
        raise PolicyValidationError("distribution", "must sum to 1", None, float(mu.sum()))
    return mu


def _weights(game: NormalFormGame, objective: Any) -> np.ndarray:
    if isinstance(objective, str):
        if objective == "welfare":
            return np.ones(game.num_players)
        if objective == "feasibility":
            return np.zeros(game.num_players)
        raise InvalidArgumentError(f"objective: expected 'welfare', 'feasibility' or an array of "
                           f"{game.num_players} player weights, got {objective!r}")
    try:
        weights = np.array(objective, dtype=float)
    except (TypeError, ValueError):
        raise InvalidArgumentError(f"objective: expected 'welfare', 'feasibility' or an array of "
                           f"{game.num_players} player weights, got {objective!r}") from None
    if weights.shape != (game.num_players,) or not np.isfinite(weights).all():
        raise InvalidArgumentError(f"objective: weights must be {game.num_players} finite numbers, one "
                           f"per player, got shape {weights.shape}")
    return weights


def _certify_exact(game: NormalFormGame, mu: np.ndarray, coarse: bool, weights: np.ndarray,
                   tol: float) -> np.ndarray | None:
    """A rational distribution near ``mu`` that satisfies every constraint exactly, or None.

    The rounded point must also keep the weighted objective within ``tol`` (relative), so the
    certificate never trades optimality for exactness.
    """
    exact_payoffs = game.payoffs_exact
    if exact_payoffs is None or mu.size > EXACT_MAX_OUTCOMES:
        return None
    weighted = np.tensordot(weights, game.payoffs, axes=1)
    target = float((weighted * mu).sum())
    for bound in _DENOMINATOR_BOUNDS:
        flat = [Fraction(float(p)).limit_denominator(bound) for p in mu.ravel()]
        total = sum(flat, Fraction(0))
        if total == 0:
            continue
        candidate = np.empty(mu.shape, dtype=object)
        candidate.ravel()[:] = [p / total for p in flat]
        gains = _gains(exact_payoffs, candidate, coarse)
        feasible = all(g.size == 0 or max(g.ravel()) <= 0 for g in gains)
        if feasible and abs(float((weighted * candidate.astype(float)).sum()) - target) \
                <= tol * game.payoff_range() * max(1.0, float(np.abs(weights).sum())):
            return candidate
    return None


# --------------------------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------------------------

def incentive_constraints(game: Any, *, coarse: bool = False) -> sp.csr_array:
    """The incentive constraints ``G @ mu.ravel() <= 0`` as a sparse matrix.

    Parameters
    ----------
    game : NormalFormGame (or nashpy Game)
    coarse : bool
        CCE constraints instead of CE constraints.

    Returns
    -------
    scipy.sparse.csr_array, shape (K, prod n_i)
        Columns follow the joint action flattened in C order. CE: one row per player ``i`` and
        ordered pair ``a != a'`` of own actions (``K = sum_i n_i (n_i - 1)``), rows of player
        ``i`` ordered by ``(a, a')``, with ``sum_{a_-i}`` entries. CCE: one dense row per
        player ``i`` and action ``a'`` (``K = sum_i n_i``). Entries are payoff differences
        (not normalised).
    """
    game = _normal_form(game)
    shape = game.num_actions
    total = int(np.prod(shape))
    flat_index = np.arange(total).reshape(shape)
    blocks = []
    for i, n in enumerate(shape):
        index = _own_axis_first(flat_index, i)          # (n_i, M): variable of (a, a_-i)
        utility = _own_axis_first(game.payoffs[i], i)   # (n_i, M)
        if coarse:
            # Row a': coefficient of mu(a, m) is u_i(a', m) - u_i(a, m).
            data = utility[:, None, :] - utility[None, :, :]          # (a', a, m)
            columns = np.broadcast_to(index[None], data.shape)
            rows = np.broadcast_to(np.arange(n)[:, None, None], data.shape)
            blocks.append(sp.csr_array((data.ravel(), (rows.ravel(), columns.ravel())),
                                       shape=(n, total)))
        else:
            off = ~np.eye(n, dtype=bool)
            recommended, deviation = np.nonzero(off)                  # row order (a, a')
            data = utility[deviation] - utility[recommended]          # (K_i, M)
            columns = index[recommended]
            rows = np.broadcast_to(np.arange(len(recommended))[:, None], data.shape)
            blocks.append(sp.csr_array((data.ravel(), (rows.ravel(), columns.ravel())),
                                       shape=(len(recommended), total)))
    return sp.csr_array(sp.vstack(blocks, format="csr"))


def correlated_violation(game: Any, distribution: Any, *, coarse: bool = False,
                         atol: float = ROW_SUM_TOLERANCE) -> float:
    """Largest incentive-constraint violation of a joint distribution, relative to payoff range.

    Zero exactly when ``distribution`` is a correlated (``coarse=False``) or coarse correlated
    (``coarse=True``) equilibrium. For CE the violation of ``(a, a')`` is the unconditional
    expected gain ``sum_{a_-i} mu(a, a_-i)[u_i(a', a_-i) - u_i(a, a_-i)]`` (as in the LP), so a
    rarely recommended action weighs little.

    Parameters
    ----------
    game : NormalFormGame (or nashpy Game)
    distribution : array_like, shape (n_1, ..., n_N)
        Any joint distribution, e.g. the empirical frequency of learned joint play; not
        renormalised.
    coarse : bool
    atol : float
        Tolerance on the distribution summing to one and on negative entries.

    Returns
    -------
    float
        ``max(0, largest gain) / game.payoff_range()``.

    Raises
    ------
    PolicyValidationError
        When ``distribution`` has the wrong shape or is not a probability distribution.
    """
    game = _normal_form(game)
    mu = _validate_distribution(game, distribution, atol)
    worst = max(float(np.max(g)) if g.size else 0.0 for g in _gains(game.payoffs, mu, coarse))
    return max(0.0, worst) / game.payoff_range()


def correlated_equilibrium(game: Any, *, objective: str | Any = "welfare", coarse: bool = False,
                           tol: float = 1e-9, exact: bool = True) -> SolverResult:
    """An optimal correlated (or coarse correlated) equilibrium, by linear programming.

    Parameters
    ----------
    game : NormalFormGame (or nashpy Game)
    objective : {"welfare", "feasibility"} or array_like, shape (N,)
        Maximise the sum of expected payoffs, find any point of the polytope, or maximise
        ``sum_i weights[i] * E_mu[u_i]``.
    coarse : bool
        Compute a coarse correlated equilibrium (CCE) instead of a CE.
    tol : float
        Largest accepted incentive-constraint violation, relative to the payoff range; a larger
        one (numerical trouble) gives ``status == "failed"``.
    exact : bool
        With exact payoffs (and at most :data:`EXACT_MAX_OUTCOMES` joint actions), round the LP
        vertex to rationals and check every constraint in exact arithmetic; on success the
        result is ``exact`` and carries ``distribution_exact``.

    Returns
    -------
    SolverResult
        ``equilibria`` is empty (a correlated distribution is not a product profile); the
        distribution and its certificate are in ``correlated`` (see the module docstring).

    Raises
    ------
    ValueError (GametoolsError)
        On an unknown objective or weights of the wrong shape.
    TypeError
        When ``game`` is not a normal-form game.
    """
    game = _normal_form(game)
    weights = _weights(game, objective)
    scale = game.payoff_range()
    shape, num_players = game.num_actions, game.num_players
    payoffs = game.payoffs.reshape(num_players, -1)
    method = "cce" if coarse else "ce"

    # Scaling by the payoff range makes HiGHS' absolute feasibility tolerance a relative one.
    constraints = incentive_constraints(game, coarse=coarse) / scale
    cost = -(weights @ payoffs) / scale
    total = payoffs.shape[1]
    solution = scipy.optimize.linprog(
        cost, A_ub=constraints, b_ub=np.zeros(constraints.shape[0]),
        A_eq=np.ones((1, total)), b_eq=[1.0], bounds=(0, None), method="highs",
        options={"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10})
    iterations = int(getattr(solution, "nit", 0) or 0)
    if solution.status != 0 or solution.x is None:
        return SolverResult((), method, status="failed", iterations=iterations,
                            message=f"HiGHS: {solution.message}")

    mu = np.clip(solution.x, 0.0, None)
    mu = (mu / mu.sum()).reshape(shape)
    exact_mu = _certify_exact(game, mu, coarse, weights, tol) if exact else None
    exact_payoffs = None
    if exact_mu is not None:
        mu = exact_mu.astype(float)
        exact_payoffs = tuple(Fraction((exact_mu * game.payoffs_exact[i]).sum())
                              for i in range(num_players))
    mu.flags.writeable = False
    violation = correlated_violation(game, mu, coarse=coarse)
    expected = payoffs @ mu.ravel()
    correlated = CorrelatedEquilibrium(
        distribution=mu,
        marginals=tuple(mu.sum(axis=tuple(j for j in range(num_players) if j != i))
                        for i in range(num_players)),
        payoffs=expected, welfare=float(expected.sum()),
        objective_value=float(weights @ expected), max_violation=violation, coarse=coarse,
        distribution_exact=None if exact_mu is None else exact_mu.tolist(),
        payoffs_exact=exact_payoffs)
    kind = "coarse correlated" if coarse else "correlated"
    if violation > tol:
        return SolverResult((), method, status="failed", iterations=iterations,
                            correlated=correlated,
                            message=f"LP solution violates the {kind} equilibrium constraints by "
                                    f"{violation:.3g} of the payoff range (tol {tol:g})")
    return SolverResult((), method, status="success", exact=exact_mu is not None,
                        iterations=iterations, correlated=correlated,
                        message=f"{kind} equilibrium maximising "
                                f"{objective if isinstance(objective, str) else 'weighted payoffs'}"
                                f"; equilibria is empty, the joint distribution is in "
                                f"correlated.distribution")
