"""Bank runs: Diamond-Dybvig depositors with sequential service.

Economics
---------
``n_depositors`` depositors each placed one unit in a bank that invests in a technology paying
``R`` per unit at date 2, or 1 if liquidated at date 1. The bank offers the optimal deposit
contract for CRRA utility with relative risk aversion ``risk_aversion`` and an ``impatient_share``
of impatient depositors (Diamond and Dybvig 1983): ``c1`` at date 1, ``c2`` at date 2, from
``u'(c1) = R u'(c2)`` and the budget ``pi c1 + (1 - pi) c2 / R = 1``.

Players are the ``n_players`` depositors whose patience is private: each is impatient with
probability ``shock_probability`` (chance; it then withdraws whatever it chooses — its action is
idle). ``n_impatient`` further depositors are impatient for sure and are not players. At date 1
every patient player chooses *withdraw* (action 0) or *wait* (action 1). Withdrawers are served in
random order (sequential service): each receives ``c1`` while the bank's ``n_depositors`` units
last, and the one who exhausts them receives the remainder; the assets left are invested and
their proceeds ``R`` per unit are shared equally by those who waited. Payoffs are consumption
(expected over the service order, computed exactly).

Equilibria (Diamond-Dybvig; REFERENCES.md "Bank runs"): all patient depositors waiting is an
equilibrium (no run, each receives ``(N - k c1) R / (N - k)`` with ``k`` impatient withdrawers),
and so is all withdrawing (a run, each receives about 1); a symmetric mixed equilibrium lies
between. With 4 deposits, one impatient depositor and three patient players: 1.8123 (no run),
1.0 (run), mixed withdrawal probability about 0.53.

Examples
--------
>>> from games.bank_run import build, reference
>>> game = build()
>>> game.num_players, game.num_actions
(3, (2, 2, 2))
>>> round(reference()["c1"], 6), round(reference()["c2"], 6)
(1.281509, 1.812327)
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from gametools.model import MarkovGame
from gametools.scenarios import Parameter, Scenario, ScenarioError

__all__ = ["build", "reference", "reference_profile", "summarize", "contract", "select",
           "SCENARIOS"]

WITHDRAW, WAIT = 0, 1


def contract(*, R: float, risk_aversion: float, impatient_share: float) -> tuple[float, float]:
    """Optimal Diamond-Dybvig deposit contract ``(c1, c2)`` for CRRA utility."""
    ratio = R ** (1.0 / risk_aversion)  # c2 / c1 from u'(c1) = R u'(c2)
    c1 = 1.0 / (impatient_share + (1.0 - impatient_share) * ratio / R)
    return c1, ratio * c1


def _payoffs(withdrawing: int, deposits: int, c1: float, R: float) -> tuple[float, float]:
    """Expected consumption of one withdrawer and of one waiter when ``withdrawing`` withdraw."""
    if withdrawing * c1 <= deposits:
        per_withdrawer = c1
        left = deposits - withdrawing * c1
    else:  # the bank runs out: in a random order the average withdrawer gets deposits / k
        per_withdrawer = deposits / withdrawing
        left = 0.0
    waiters = deposits - withdrawing
    per_waiter = left * R / waiters if waiters > 0 else 0.0
    return per_withdrawer, per_waiter


def build(*, n_players: int = 3, n_impatient: int = 1, shock_probability: float = 0.0,
          R: float = 2.0, risk_aversion: float = 2.0, impatient_share: float = 0.25
          ) -> MarkovGame:
    """The bank-run game: chance draws liquidity shocks, then depositors withdraw or wait."""
    deposits = n_players + n_impatient
    c1, _ = contract(R=R, risk_aversion=risk_aversion, impatient_share=impatient_share)
    shocks = list(itertools.product((0, 1), repeat=n_players)) if shock_probability > 0 \
        else [(0,) * n_players]
    num_types = len(shocks)
    num_states = num_types + 1  # one state per shock profile, then the end
    actions = (2,) * n_players
    rewards = np.zeros((n_players, num_states, *actions))
    for state, shock in enumerate(shocks):
        for joint in itertools.product((WITHDRAW, WAIT), repeat=n_players):
            withdraws = [bool(shock[i]) or joint[i] == WITHDRAW for i in range(n_players)]
            k = n_impatient + sum(withdraws)
            per_withdrawer, per_waiter = _payoffs(k, deposits, c1, R)
            for i in range(n_players):
                rewards[(i, state, *joint)] = per_withdrawer if withdraws[i] else per_waiter
    transitions = np.zeros((num_states, *actions, num_states))
    transitions[..., -1] = 1.0
    probabilities = np.array([math.prod(shock_probability if s else 1 - shock_probability
                                        for s in shock) for shock in shocks] + [0.0])
    # each player observes only its own shock: observation 0 = patient, 1 = impatient
    observations = np.array([[shock[i] for shock in shocks] + [0] for i in range(n_players)])
    labels = ["types " + "".join("I" if s else "P" for s in shock) for shock in shocks] + ["end"]
    return MarkovGame(transitions, rewards, probabilities, 1.0,
                      terminal=[False] * num_types + [True], observations=observations,
                      state_labels=labels, action_labels=[["withdraw", "wait"]] * n_players,
                      player_labels=[f"depositor {i}" for i in range(n_players)])


def _withdrawal_gain(p: float, n_players: int, n_impatient: int, c1: float, R: float) -> float:
    """Waiting minus withdrawing for one patient player when the others withdraw w.p. ``p``."""
    deposits = n_players + n_impatient
    others = n_players - 1
    gain = 0.0
    for j in range(others + 1):
        weight = math.comb(others, j) * p ** j * (1 - p) ** (others - j)
        _, wait = _payoffs(n_impatient + j, deposits, c1, R)
        withdraw, _ = _payoffs(n_impatient + j + 1, deposits, c1, R)
        gain += weight * (wait - withdraw)
    return gain


def reference(*, n_players: int = 3, n_impatient: int = 1, shock_probability: float = 0.0,
              R: float = 2.0, risk_aversion: float = 2.0, impatient_share: float = 0.25
              ) -> dict[str, Any]:
    """Contract, the no-run and run payoffs, and the symmetric mixed equilibrium (no shocks)."""
    c1, c2 = contract(R=R, risk_aversion=risk_aversion, impatient_share=impatient_share)
    deposits = n_players + n_impatient
    out: dict[str, Any] = {
        "c1": c1, "c2": c2,
        # waiting beats withdrawing while the withdrawing fraction f < (R - c1) / (c1 (R - 1))
        "run_threshold": (R - c1) / (c1 * (R - 1)),
        "no_run_payoff": _payoffs(n_impatient, deposits, c1, R)[1],
        "run_payoff": _payoffs(deposits, deposits, c1, R)[0],
    }
    if shock_probability == 0.0:
        from scipy.optimize import brentq  # on first use: importing the scenarios stays cheap

        gain = lambda p: _withdrawal_gain(p, n_players, n_impatient, c1, R)  # noqa: E731
        out["mixed_withdrawal_probability"] = (brentq(gain, 1e-12, 1 - 1e-12)
                                               if gain(1e-12) > 0 > gain(1 - 1e-12) else None)
    return out


def reference_profile(game: MarkovGame, *, equilibrium: str = "no_run", **params: Any
                      ) -> tuple[np.ndarray, ...]:
    """``no_run`` (patient players wait), ``run`` (everyone withdraws) or ``mixed``."""
    if equilibrium == "mixed":
        p = reference(**params)["mixed_withdrawal_probability"]
        if p is None:
            raise ScenarioError("this parameter set has no interior symmetric equilibrium")
        row = [p, 1 - p]
    elif equilibrium in ("no_run", "run"):
        row = [0.0, 1.0] if equilibrium == "no_run" else [1.0, 0.0]
    else:
        raise ScenarioError(f"equilibrium must be 'no_run', 'run' or 'mixed', got {equilibrium!r}")
    # impatient players withdraw (their action is idle; withdrawing states the obvious)
    return tuple(np.array([row, [1.0, 0.0]])[: n] for n in game.num_observations)


def summarize(game: MarkovGame, profile: Sequence[np.ndarray], **params: Any) -> dict[str, Any]:
    """Withdrawal probability of patient players, expected payoffs and the probability of a run."""
    from gametools.exploitability import policy_values

    payoffs = policy_values(game, profile)
    patient = [float(np.asarray(policy)[0, WITHDRAW]) for policy in profile]
    run = float(np.prod(patient))
    return {"withdrawal_probability": float(np.mean(patient)),
            "withdrawal_probability_by_player": patient,
            "payoffs": [float(v) for v in payoffs], "run_probability": run}


def select(game: MarkovGame, result: Any, **params: Any) -> Any:
    """The solver's result with the no-run equilibrium first (it Pareto-dominates the run;
    Diamond and Dybvig 1983), the run and mixed equilibria listed after it."""
    from games.selection import select_theory_equilibrium

    return select_theory_equilibrium(
        game, result, reference_profile(game, equilibrium="no_run", **params),
        rule="no-run equilibrium (patient depositors wait; Pareto-dominant, Diamond-Dybvig 1983)",
        summarize=summarize, params=params,
        alternatives=[reference_profile(game, equilibrium="run", **params)])


SCENARIOS = (
    Scenario("bank_run", "Diamond-Dybvig depositors, sequential service: run and no-run "
             "equilibria.", build,
             (Parameter("n_players", 3, "patient depositors who choose (players)", low=1, high=6),
              Parameter("n_impatient", 1, "depositors impatient for sure (not players)", low=0,
                        high=6),
              Parameter("shock_probability", 0.0, "chance that a player is hit by a liquidity "
                        "shock (private)", low=0.0, high=1.0),
              Parameter("R", 2.0, "return of the long asset per unit", low=1.0),
              Parameter("risk_aversion", 2.0, "CRRA coefficient used to design the contract",
                        low=1.0),
              Parameter("impatient_share", 0.25, "share of impatient depositors the contract "
                        "plans for", low=0.01, high=0.99)),
             reference=reference, summarize=summarize, select=select),
)
