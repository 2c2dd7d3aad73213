"""Cooperative portfolio management: a team of sector managers sharing one reward.

Economics
---------
``n_agents`` managers each run one sector (asset) of a fund and are paid the fund's risk-adjusted
return, so the game is a *team* (identical rewards, the cooperative MARL setting of QMIX and
centralised learners). Sector ``i`` has a *regime* ``r_i`` (0 = bad, 1 = good), an independent
two-state Markov chain: it starts good with probability ``p_good`` and keeps its regime from one
period to the next with probability ``persistence``. A unit held in sector ``i`` returns
``mu_good`` in a good regime and ``mu_bad`` in a bad one.

Timing, actions and reward (period ``t = 0..n_periods - 1``)
--------------------------------------------------------------
1. Every manager observes its own sector's regime ``r_i,t`` and chooses an allocation
   ``a_i,t in {0, 1, ..., n_levels - 1}`` units (the same actions in every state); allocations
   start at 0.
2. The team is paid the mean-variance return of the fund

       ``sum_i a_i,t mu(r_i,t) - risk_aversion * variance * (sum_i a_i,t)^2
       - cost * sum_i |a_i,t - a_i,t-1|``:

   expected return, a risk penalty on the *total* exposure (the sectors load on one common
   factor with return variance ``variance`` per unit squared) and proportional transaction
   costs. The penalty couples the managers: how much one should hold depends on what the others
   hold, i.e. on regimes it cannot see (credit assignment).
3. Regimes move on; the game ends after ``n_periods`` periods (discount 1).

Information
-----------
``observation="own"`` (default, decentralised execution): manager ``i`` observes the period, its
own sector's regimes so far and its own past allocations, a perfect-recall observation (so
:func:`gametools.exploitability.nash_conv` is exact). ``observation="full"``: everyone observes
the state (all sectors' regime histories and allocations): the team problem is then one MDP over
joint actions.

The state at period ``t`` is the tuple of every manager's history ``(r_0, a_0, ..., r_t)``; there
are ``(2^(t + 1) n_levels^t)^n_agents`` of them, so keep ``n_periods`` and ``n_agents`` small
(``n_agents = 3`` with ``n_periods <= 2`` at three levels).

Reference solutions
-------------------
The team optimum with full information is a single-agent MDP over joint actions, solved exactly
by backward induction (Bellman 1957; Puterman 1994, ch. 4) in :func:`team_optimum`; a team
optimum is a Nash equilibrium of the team game (every unilateral deviation is a team deviation),
so its NashConv is 0. With decentralised observations the managers cannot condition on the
others' regimes and some centralised team values are unreachable: the decentralised optimum is
strictly below the centralised one at the defaults (e.g. both sectors good calls for splitting
the exposure unevenly, which a manager who sees only its own sector cannot coordinate). The
decentralised team problem is a Dec-POMDP (NEXP-complete in general, Bernstein et al. 2002);
:func:`reference_profile` returns its *person-by-person optimum* (Marschak and Radner 1972):
exact best responses iterated from every constant allocation until no manager can improve,
the best of these — a Nash equilibrium, verified globally optimal by brute force on tiny
instances in the tests.

References
----------
J. Marschak and R. Radner, Economic Theory of Teams, Yale UP, 1972. D. S. Bernstein, R. Givan,
N. Immerman and S. Zilberstein, "The complexity of decentralized control of Markov decision
processes", Math. Oper. Res. 27(4), 2002. T. Rashid et al., "QMIX", ICML 2018. H. Markowitz,
"Portfolio selection", J. Finance 7(1), 1952 (mean-variance).

Examples
--------
>>> from games.portfolio import build, reference, reference_profile, summarize
>>> game = build()
>>> game.num_actions, game.num_observations
((3, 3), (87, 87))
>>> ref = reference()
>>> ref["team_value"] > ref["decentralised_value"]
True
>>> stats = summarize(game, reference_profile(game))
>>> abs(stats["team_return"] - ref["decentralised_value"]) < 1e-9
True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

from gametools.exploitability import best_response, policy_values
from gametools.mdp import joint_policy, markov_arrays
from gametools.model import MarkovGame
from gametools.policies import validate_profile
from gametools.scenarios import Parameter, Scenario, ScenarioError

__all__ = ["SCENARIOS", "build", "reference", "reference_profile", "summarize", "team_optimum"]

REGIMES = 2  # 0 = bad, 1 = good

#: Largest ``states x joint actions`` the builder accepts.
MAX_ROWS = 3_000_000


def _resolve(params: dict[str, Any]) -> dict[str, Any]:
    return SCENARIOS[0].resolve(**params)


def _history_counts(q: dict[str, Any]) -> list[int]:
    """Histories ``(r_0, a_0, ..., r_t)`` of one manager at every period."""
    return [REGIMES ** (t + 1) * q["n_levels"] ** t for t in range(q["n_periods"])]


def _offsets(q: dict[str, Any]) -> np.ndarray:
    counts = [h ** q["n_agents"] for h in _history_counts(q)]
    return np.concatenate([[0], np.cumsum(counts)])


def _decode(q: dict[str, Any], t: int) -> np.ndarray:
    """Every manager's history index at period ``t``, ``(M, N)`` (manager 0 most significant)."""
    h = _history_counts(q)[t]
    local = np.arange(h ** q["n_agents"])
    digits = []
    for _ in range(q["n_agents"]):
        local, digit = np.divmod(local, h)
        digits.append(digit)
    return np.stack(digits[::-1], axis=1)


def _encode(q: dict[str, Any], t: int, histories: np.ndarray) -> np.ndarray:
    h = _history_counts(q)[t]
    key = np.zeros(histories.shape[:-1], dtype=np.int64)
    for i in range(q["n_agents"]):
        key = key * h + histories[..., i]
    return _offsets(q)[t] + key


# ------------------------------------------------------------------------------------------
# the game
# ------------------------------------------------------------------------------------------

def build(**params: Any) -> MarkovGame:
    """The portfolio team game (parameters as in :data:`SCENARIOS`).

    Returns
    -------
    MarkovGame
        ``n_agents`` players with ``n_levels`` actions each, identical rewards, sparse
        transitions, discount 1, horizon ``n_periods``. With ``observation="own"`` manager
        ``i``'s observation id at period ``t`` is ``sum_{u < t} H_u + h_i`` (``H_u`` its number
        of histories at period ``u``, ``h_i`` its history index); with ``"full"`` the game is
        fully observed.
    """
    q = _resolve(params)
    n, levels, periods = q["n_agents"], q["n_levels"], q["n_periods"]
    offsets = _offsets(q)
    num_states = int(offsets[-1]) + 1
    terminal_state = num_states - 1
    num_actions = (levels,) * n
    num_joint = levels ** n
    if num_states * num_joint > MAX_ROWS:
        raise ScenarioError(f"scenario 'portfolio': {num_states} states x {num_joint} joint "
                            f"actions exceed the limit of {MAX_ROWS} rows; use fewer agents, "
                            "periods or allocation levels")
    allocations = np.stack(np.unravel_index(np.arange(num_joint), num_actions), axis=1)  # (A, N)
    mu = np.array([q["mu_bad"], q["mu_good"]])
    stay, p_good = q["persistence"], q["p_good"]
    regime_move = np.array([[stay, 1 - stay], [1 - stay, stay]])  # P(r' | r)
    # every combination of next regimes, (K, N), and its probability given the current ones
    next_regimes = np.stack(np.unravel_index(np.arange(REGIMES ** n), (REGIMES,) * n), axis=1)
    rewards = np.zeros((num_states, num_joint))
    rows, cols, data = [], [], []
    obs = np.zeros((n, num_states), dtype=np.int64)
    obs_offsets = np.concatenate([[0], np.cumsum(_history_counts(q))])
    for t in range(periods):
        histories = _decode(q, t)  # (M, N)
        states = offsets[t] + np.arange(len(histories))
        obs[:, states] = (obs_offsets[t] + histories).T
        regimes = histories % REGIMES
        previous = (histories // REGIMES) % levels if t > 0 else np.zeros_like(histories)
        exposure = allocations.sum(axis=1)  # (A,)
        gross = (mu[regimes] @ allocations.T)  # (M, A)
        trading = np.abs(allocations[None, :, :] - previous[:, None, :]).sum(axis=2)
        rewards[states] = (gross - q["risk_aversion"] * q["variance"] * exposure[None, :] ** 2
                           - q["cost"] * trading)
        base = (states[:, None] * num_joint + np.arange(num_joint)[None, :])  # (M, A)
        if t == periods - 1:
            rows.append(base.ravel())
            cols.append(np.full(base.size, terminal_state))
            data.append(np.ones(base.size))
            continue
        probability = np.prod(regime_move[regimes[:, None, :], next_regimes[None, :, :]],
                              axis=2)  # (M, K)
        grown = ((histories[:, None, None, :] * levels + allocations[None, :, None, :])
                 * REGIMES + next_regimes[None, None, :, :])  # (M, A, K, N)
        rows.append(np.broadcast_to(base[:, :, None], grown.shape[:3]).ravel())
        cols.append(_encode(q, t + 1, grown).ravel())
        data.append(np.broadcast_to(probability[:, None, :], grown.shape[:3]).ravel())
    transitions = sp.csr_array((np.concatenate(data), (np.concatenate(rows),
                                                       np.concatenate(cols))),
                               shape=(num_states * num_joint, num_states))
    first = _decode(q, 0) % REGIMES  # (M0, N)
    initial = np.zeros(num_states)
    initial[:offsets[1]] = np.prod(np.where(first == 1, p_good, 1 - p_good), axis=1)
    obs[:, terminal_state] = obs_offsets[-1]
    terminal = np.zeros(num_states, dtype=bool)
    terminal[terminal_state] = True
    shared = np.broadcast_to(rewards.reshape(1, num_states, *num_actions),
                             (n, num_states, *num_actions))
    return MarkovGame(transitions, shared, initial, 1.0, terminal=terminal,
                      observations=obs if q["observation"] == "own" else None,
                      player_labels=[f"manager {i + 1}" for i in range(n)],
                      action_labels=[[str(k) for k in range(levels)]] * n)


def _check_game(game: MarkovGame, q: dict[str, Any]) -> None:
    states = int(_offsets(q)[-1]) + 1
    if game.num_actions != (q["n_levels"],) * q["n_agents"] or game.num_states != states:
        raise ScenarioError(f"scenario 'portfolio': the game (actions {game.num_actions}, "
                            f"{game.num_states} states) was not built with these parameters")


# ------------------------------------------------------------------------------------------
# reference solutions
# ------------------------------------------------------------------------------------------

def team_optimum(game: MarkovGame) -> tuple[float, np.ndarray, np.ndarray]:
    """Centralised team optimum of a finite-horizon team game by backward induction.

    ``V(s) = max_a [r(s, a) + sum_s' P(s' | s, a) V(s')]`` over joint actions, iterated once
    per step of the longest episode (exact for an acyclic game).

    Returns
    -------
    value : float
        ``sum_s initial(s) V(s)``.
    values : ndarray, shape (S,)
    joint_actions : ndarray of int, shape (S,)
        An optimal joint action (flattened, C order) in every state.
    """
    num_joint = game.num_joint_actions
    reward = game.rewards[0].reshape(game.num_states, num_joint)
    live = ~game.terminal
    values = np.zeros(game.num_states)
    best = np.zeros(game.num_states, dtype=np.int64)
    for _ in range(game.num_states):
        q_values = reward + (game.transition_matrix @ values).reshape(game.num_states, num_joint)
        updated = np.where(live, q_values.max(axis=1), 0.0)
        best = q_values.argmax(axis=1)
        if np.allclose(updated, values, rtol=0.0, atol=1e-13):
            break
        values = updated
    return float(game.initial @ values), values, best


def _person_by_person(game: MarkovGame, start: Sequence[np.ndarray], tol: float
                      ) -> tuple[tuple[np.ndarray, ...], float]:
    profile = [np.array(p, dtype=float) for p in start]
    value = float(policy_values(game, profile)[0])
    improved = True
    while improved:
        improved = False
        for i in range(game.num_players):
            response = best_response(game, profile, i)
            if response.value > value + tol:
                profile[i] = np.array(response.policy, dtype=float)
                value = float(policy_values(game, profile)[0])
                improved = True
    return tuple(profile), value


def reference_profile(game: MarkovGame, **params: Any) -> tuple[np.ndarray, ...]:
    """Team-optimal policies ``(O_i, n_i)``.

    ``observation="full"``: the centralised optimum (:func:`team_optimum`), every manager
    playing its part of the optimal joint action. ``"own"``: the best person-by-person optimum
    (module docstring) reached from the constant allocations ``0..n_levels - 1``.
    """
    q = _resolve(params)
    _check_game(game, q)
    if q["observation"] == "full":
        _, _, joint = team_optimum(game)
        digits = np.unravel_index(joint, game.num_actions)
        return tuple(np.eye(n)[d] for n, d in zip(game.num_actions, digits))
    scale = max(1.0, float(np.abs(game.rewards).max()))
    best: tuple[tuple[np.ndarray, ...], float] | None = None
    for level in range(q["n_levels"]):
        start = [np.eye(n)[np.full(o, level)]
                 for n, o in zip(game.num_actions, game.num_observations)]
        found = _person_by_person(game, start, 1e-10 * scale)
        if best is None or found[1] > best[1] + 1e-10 * scale:
            best = found
    assert best is not None
    return best[0]


def reference(**params: Any) -> dict[str, Any]:
    """Optimal team values (computed on the game, which is small).

    Returns
    -------
    dict
        ``team_value``: the centralised optimum (the best any profile can reach with full
        information, an upper bound with decentralised observations); ``decentralised_value``:
        the value of the ``observation="own"`` reference profile; ``coordination_gap``: their
        difference (what decentralised observation makes unreachable).
    """
    q = _resolve(params)
    full = build(**{**q, "observation": "full"})
    own = build(**{**q, "observation": "own"})
    central, _, _ = team_optimum(full)
    decentral = float(policy_values(own, reference_profile(own, **{**q, "observation": "own"}))[0])
    return {"team_value": central, "decentralised_value": decentral,
            "coordination_gap": central - decentral}


# ------------------------------------------------------------------------------------------
# statistics
# ------------------------------------------------------------------------------------------

def summarize(game: MarkovGame, profile: Sequence[Any], **params: Any) -> dict[str, Any]:
    """The fund's statistics under a profile, exactly from its state distribution.

    Returns
    -------
    dict
        - ``allocation_by_period``: ``(N, n_periods)`` expected allocations;
        - ``mean_allocation``: ``(N,)`` their averages over the periods;
        - ``team_return``: the expected total reward (the team value);
        - ``gross_return``: expected ``sum_t sum_i a_i,t mu(r_i,t)``;
        - ``risk``: expected ``sum_t variance (sum_i a_i,t)^2`` (return variance of the fund);
        - ``risk_penalty``: ``risk_aversion * risk``;
        - ``transaction_costs``: expected ``cost * sum_t sum_i |a_i,t - a_i,t-1|``.
    """
    q = _resolve(params)
    _check_game(game, q)
    policies = validate_profile(game, profile)
    n, levels = q["n_agents"], q["n_levels"]
    joint = joint_policy(game, policies)
    step = markov_arrays(game).chain(joint).T.tocsr()
    reach = game.initial.copy()
    visits = reach.copy()
    for _ in range(q["n_periods"]):
        reach = step @ reach
        visits += reach
    weights = visits[:, None] * joint  # (S, A): P(s, a)
    allocations = np.stack(np.unravel_index(np.arange(levels ** n), (levels,) * n), axis=1)
    mu = np.array([q["mu_bad"], q["mu_good"]])
    offsets = _offsets(q)
    by_period = np.zeros((n, q["n_periods"]))
    gross = risk = trading = 0.0
    for t in range(q["n_periods"]):
        histories = _decode(q, t)
        w = weights[offsets[t]:offsets[t + 1]]  # (M, A)
        by_period[:, t] = w.sum(axis=0) @ allocations
        gross += float(np.sum(w * (mu[histories % REGIMES] @ allocations.T)))
        risk += float(w.sum(axis=0) @ (q["variance"] * allocations.sum(axis=1) ** 2))
        previous = (histories // REGIMES) % levels if t > 0 else np.zeros_like(histories)
        moved = np.abs(allocations[None, :, :] - previous[:, None, :]).sum(axis=2)
        trading += float(np.sum(w * moved)) * q["cost"]
    team = float(np.sum(weights * game.rewards[0].reshape(game.num_states, -1)))
    return {"allocation_by_period": by_period.tolist(),
            "mean_allocation": by_period.mean(axis=1).tolist(), "team_return": team,
            "gross_return": gross, "risk": risk, "risk_penalty": q["risk_aversion"] * risk,
            "transaction_costs": trading}


SCENARIOS = (
    Scenario(
        "portfolio",
        "Cooperative multi-sector portfolio: a team of managers, each seeing only its sector, "
        "sharing a mean-variance reward (QMIX setting).",
        build,
        (Parameter("n_agents", 2, "managers, one sector each", low=2, high=3),
         Parameter("n_periods", 3, "periods (the state count grows as "
                   "(2^t n_levels^(t-1))^n_agents)", low=1, high=4),
         Parameter("n_levels", 3, "allocation levels 0..n_levels-1 units", low=2, high=4),
         Parameter("mu_good", 1.0, "expected return per unit in the good regime",
                   low=-1e6, high=1e6),
         Parameter("mu_bad", -0.5, "expected return per unit in the bad regime",
                   low=-1e6, high=1e6),
         Parameter("variance", 0.15, "factor return variance per unit of total exposure squared",
                   low=0.0, high=1e6),
         Parameter("risk_aversion", 1.0, "weight of the variance penalty", low=0.0, high=1e6),
         Parameter("cost", 0.1, "transaction cost per unit of allocation change",
                   low=0.0, high=1e6),
         Parameter("persistence", 0.8, "probability that a sector keeps its regime",
                   low=0.0, high=1.0),
         Parameter("p_good", 0.5, "probability that a sector starts in the good regime",
                   low=0.0, high=1.0),
         Parameter("observation", "own", "what a manager observes: its own sector's history "
                   "('own', decentralised) or the whole state ('full')",
                   choices=("own", "full"))),
        reference=reference, summarize=summarize, tags=("finance", "cooperative", "team")),
)
