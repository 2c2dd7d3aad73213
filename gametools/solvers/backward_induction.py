"""Subgame-perfect equilibria of finite-horizon (acyclic) stochastic games by backward induction.

Definitions
-----------
When no cycle of the state graph is reachable (every reachable state has a finite *height*, the
longest number of steps to termination), a stationary profile is a *subgame-perfect equilibrium*
(SPE) iff in every state ``s`` it plays a Nash equilibrium of the stage game

    u_i(s, a) = r_i(s, a) + gamma * sum_s' P(s' | s, a) V_i(s'),

where ``V`` are the continuation values that the profile itself induces (Kuhn's backward
induction; Fudenberg and Tirole 1991, ch. 3 and 13). :func:`backward_induction` processes the
reachable non-terminal states by increasing height, so every successor is solved before its
predecessors, and computes *all* equilibria of each stage game:

- two players: every extreme equilibrium, exactly (vertex enumeration,
  :func:`gametools.solvers.enumeration.vertex_enumeration`);
- more players: every pure equilibrium (:func:`gametools.solvers.pure.pure_equilibria`), or the
  logit solution (:func:`gametools.solvers.logit.logit_solve`) when there is none.

Each choice of one stage equilibrium per state is an SPE (of every subgame starting at a
reachable state). When a stage game has several equilibria either all combinations are
enumerated (``enumerate_all=True``, up to ``max_combinations``) or one is selected:

``"payoff_dominance"``
    Among the stage equilibria that no other stage equilibrium Pareto-dominates (weakly better for
    every player and strictly better for one, beyond ``tol``), the one with the highest sum of
    payoffs (Harsanyi and Selten's payoff dominance, completed by welfare so a choice always
    exists).
``"risk_dominance"``
    Among the *pure* stage equilibria, the one with the largest Nash product of deviation losses
    ``prod_i [u_i(e) - max_{a_i != e_i} u_i(a_i, e_-i)]``. In a 2x2 game with two strict pure
    equilibria this is exactly Harsanyi and Selten's (1988) risk-dominance criterion; for larger
    games it is the usual Nash-product generalisation (it uses each player's best deviation).
    Without a pure equilibrium it falls back to the highest welfare. Ties go to higher welfare.
``"max_welfare"``
    The highest sum of payoffs.
``"first"``
    The first equilibrium in the enumerator's order.
Ties that remain are broken by the enumerator's order.

References
----------
- J. C. Harsanyi and R. Selten (1988), A General Theory of Equilibrium Selection in Games, MIT
  Press.
- D. Fudenberg and J. Tirole (1991), Game Theory, MIT Press.

Examples
--------
A two-stage stag hunt (stag = 0, hare = 1), discount 1: the stage game has two strict pure
equilibria and one mixed, so there are 3 x 3 = 9 stationary subgame-perfect equilibria.

>>> import numpy as np
>>> from gametools import MarkovGame
>>> from gametools.solvers.backward_induction import backward_induction
>>> hunt = np.array([[4, 0], [3, 2]])
>>> transitions = np.zeros((3, 2, 2, 3))
>>> transitions[0, ..., 1] = transitions[1, ..., 2] = 1.0
>>> reward = np.stack([hunt, hunt, 0 * hunt])
>>> game = MarkovGame(transitions, np.stack([reward, reward.transpose(0, 2, 1)]),
...                   [1, 0, 0], 1.0, terminal=[False, False, True])
>>> len(backward_induction(game, enumerate_all=True).equilibria)
9
>>> backward_induction(game).equilibria[0].payoffs.tolist()  # payoff dominance: stag twice
[8.0, 8.0]
>>> backward_induction(game, selection="risk_dominance").equilibria[0].payoffs.tolist()
[4.0, 4.0]
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from gametools.errors import GametoolsError, InvalidArgumentError, UnsupportedGameError
from gametools.mdp import markov_arrays
from gametools.model import MarkovGame, NormalFormGame
from gametools.solvers.result import SolverResult, make_markov_equilibrium
from gametools.solvers.support import require_sees_state
from gametools.structure import heights as game_heights
from gametools.structure import observation_policies

__all__ = ["SELECTION_RULES", "NotAcyclicError", "Selection", "backward_induction"]

Selection = Literal["payoff_dominance", "risk_dominance", "max_welfare", "first"]
SELECTION_RULES: tuple[str, ...] = ("payoff_dominance", "risk_dominance", "max_welfare", "first")


class NotAcyclicError(UnsupportedGameError):
    """Backward induction needs a game whose reachable state graph has no cycle."""


@dataclass(frozen=True)
class _StageEquilibrium:
    strategies: tuple[np.ndarray, ...]
    payoffs: np.ndarray  # (N,)


@dataclass
class _Branch:
    values: np.ndarray  # (N, S)
    policies: list[np.ndarray]  # (S, n_i) per player
    choices: list[int]  # index of the chosen stage equilibrium, per processed state


#: Two-player stage games with more actions than this (n_1 + n_2) are not vertex-enumerated when
#: only a selection is needed: degenerate ones (Bertrand quoting games) have huge vertex sets.
ENUMERATION_SIZE_LIMIT = 24


def _stage_equilibria(stage: NormalFormGame, tol: float, enumerate_all: bool = True
                      ) -> tuple[list[_StageEquilibrium], bool, str]:
    """All (extreme) equilibria of a stage game, whether the list is complete, and the method.

    Without ``enumerate_all``, large two-player stage games get their pure equilibria (or, when
    there are none, Lemke-Howson's from every label): a candidate set, not the complete one.
    """
    if stage.num_players == 2 and not enumerate_all and \
            sum(stage.num_actions) > ENUMERATION_SIZE_LIMIT:
        from gametools.solvers.lemke_howson import lemke_howson_all
        from gametools.solvers.pure import pure_equilibria
        candidates = pure_equilibria(stage, tol=tol)
        method = "pure_equilibria"
        if not candidates.equilibria:
            candidates, method = lemke_howson_all(stage), "lemke_howson"
        return ([_StageEquilibrium(e.strategies, e.payoffs) for e in candidates.equilibria],
                False, method)
    if stage.num_players == 2:
        from gametools.solvers.enumeration import vertex_enumeration
        result = vertex_enumeration(stage)
        found = [_StageEquilibrium(e.strategies, e.payoffs) for e in result.equilibria]
        return found, bool(result.complete), "vertex_enumeration"
    from gametools.solvers.pure import pure_equilibria
    pure = pure_equilibria(stage, tol=tol)
    if pure.equilibria:
        return ([_StageEquilibrium(e.strategies, e.payoffs) for e in pure.equilibria], False,
                "pure_equilibria")
    from gametools.solvers.logit import logit_solve
    result = logit_solve(stage, tol=tol)
    if not result.success:
        raise GametoolsError(f"backward_induction: the logit solver found no equilibrium of a "
                             f"stage game within regret {tol:g} ({result.message})")
    return ([_StageEquilibrium(e.strategies, e.payoffs) for e in result.equilibria], False,
            "logit_solve")


def _deviation_losses(stage: NormalFormGame, equilibrium: _StageEquilibrium) -> float | None:
    """Nash product of the players' losses from their best deviation (None if not pure)."""
    actions = []
    for x in equilibrium.strategies:
        k = int(np.argmax(x))
        if x[k] < 1.0 - 1e-12:
            return None
        actions.append(k)
    product = 1.0
    for i in range(stage.num_players):
        index: list[Any] = list(actions)
        index[i] = slice(None)
        column = stage.payoffs[(i, *index)]
        others = np.delete(column, actions[i])
        loss = float(column[actions[i]] - others.max()) if others.size else 0.0
        product *= max(loss, 0.0)
    return product


def _select(stage: NormalFormGame, equilibria: list[_StageEquilibrium], rule: str,
            tol: float) -> int:
    payoffs = np.array([e.payoffs for e in equilibria])  # (K, N)
    welfare = payoffs.sum(axis=1)
    slack = tol * stage.payoff_range()
    if rule == "first" or len(equilibria) == 1:
        return 0
    if rule == "max_welfare":
        return int(np.argmax(welfare >= welfare.max() - slack))
    if rule == "payoff_dominance":
        weakly = (payoffs[:, None, :] >= payoffs[None, :, :] - slack).all(axis=2)  # f >= e
        strictly = (payoffs[:, None, :] > payoffs[None, :, :] + slack).any(axis=2)
        dominated = (weakly & strictly).any(axis=0)  # some f dominates e
        candidates = np.flatnonzero(~dominated)
        best = welfare[candidates].max()
        return int(candidates[np.argmax(welfare[candidates] >= best - slack)])
    # risk dominance
    scores = np.array([-np.inf if s is None else s for s in
                       (_deviation_losses(stage, e) for e in equilibria)])
    if not np.isfinite(scores).any():
        return int(np.argmax(welfare >= welfare.max() - slack))
    top = scores.max()
    scale = max(1.0, abs(top))
    tied = np.flatnonzero(scores >= top - 1e-12 * scale)
    best = welfare[tied].max()
    return int(tied[np.argmax(welfare[tied] >= best - slack)])


def backward_induction(game: MarkovGame, *, selection: Selection = "payoff_dominance",
                       enumerate_all: bool = False, max_combinations: int = 64,
                       tol: float = 1e-9) -> SolverResult:
    """Subgame-perfect equilibria of an acyclic (finite-horizon) stochastic game.

    Parameters
    ----------
    game : MarkovGame
        Any number of players, general-sum, fully observed (one-to-one observations, as from
        :func:`gametools.model.time_indexed`), with no reachable cycle (terminating).
    selection : {"payoff_dominance", "risk_dominance", "max_welfare", "first"}
        The rule that picks one stage equilibrium when there are several (module docstring);
        ignored when ``enumerate_all`` is true.
    enumerate_all : bool
        Enumerate every combination of stage equilibria (one SPE each), up to
        ``max_combinations``.
    max_combinations : int
        Cap on the number of SPE enumerated; ``status``/``message`` say when it truncated.
    tol : float
        Relative tolerance (of each stage game's payoff range) for payoff comparisons in the
        selection rules and for the N-player stage solvers.

    Returns
    -------
    SolverResult
        One SPE (selection) or all enumerated SPE, each certified by exact NashConv (policies
        ``(O_i, n_i)``, ``state_values`` ``(N, S)``). ``complete`` is True when ``enumerate_all``
        listed every combination and every stage enumeration was complete (two players: all
        extreme stage equilibria; for degenerate stage games the extreme points of the convex
        sets). ``extra["selection"]``: the rule and, for every state with several stage
        equilibria, ``{"state", "label", "num_equilibria", "stage_payoffs", "chosen",
        "decided"}`` (``decided`` is True where the rule picked something other than the first
        equilibrium). ``extra["order"]``: the processed states. Status ``"max_iterations"``
        when the cap truncated the enumeration.

    Raises
    ------
    NotAcyclicError, NotFullyObservedError, InvalidArgumentError
    """
    if selection not in SELECTION_RULES:
        raise InvalidArgumentError(f"selection must be one of {', '.join(SELECTION_RULES)}, "
                                 f"got {selection!r}")
    if int(max_combinations) != max_combinations or max_combinations < 1:
        raise InvalidArgumentError(f"max_combinations must be a positive integer, got "
                                 f"{max_combinations!r}")
    if not tol >= 0 or not np.isfinite(tol):
        raise InvalidArgumentError(f"tol must be finite and >= 0, got {tol!r}")
    game = require_sees_state(game, "backward_induction")
    heights = game_heights(game)
    if heights is None:
        raise NotAcyclicError("backward_induction needs a game with no reachable cycle (a finite "
                              "horizon); unroll it with gametools.model.time_indexed, or use "
                              "shapley_iteration / hoffman_karp (zero-sum) or "
                              "stochastic_fictitious_play")
    start = time.perf_counter()
    arrays = markov_arrays(game)
    num_players, num_states = game.num_players, game.num_states
    num_joint = game.num_joint_actions
    live = game.reachable_states() & arrays.live
    order = sorted(np.flatnonzero(live).tolist(), key=lambda s: (int(heights[s]), s))
    branches = [_Branch(np.zeros((num_players, num_states)),
                        [np.full((num_states, n), 1.0 / n) for n in game.num_actions], [])]
    truncated = False
    complete = True
    methods: set[str] = set()
    decisions: list[dict[str, Any]] = []
    for s in order:
        rows = arrays.transitions[s * num_joint:(s + 1) * num_joint]
        grown: list[_Branch] = []
        for branch in branches:
            payoffs = (arrays.rewards[:, s] + game.discount * (rows @ branch.values.T).T)
            stage = NormalFormGame(payoffs.reshape(num_players, *game.num_actions))
            found, stage_complete, method = _stage_equilibria(stage, tol, enumerate_all)
            complete &= stage_complete
            methods.add(method)
            if enumerate_all:
                picks = list(range(len(found)))
            else:
                pick = _select(stage, found, selection, tol)
                picks = [pick]
                if len(found) > 1:
                    decisions.append({
                        "state": int(s), "label": game.state_labels[s],
                        "num_equilibria": len(found),
                        "stage_payoffs": [e.payoffs.tolist() for e in found],
                        "chosen": pick, "decided": pick != 0})
            for k in picks:
                values = branch.values.copy()
                values[:, s] = found[k].payoffs
                policies = [p.copy() for p in branch.policies]
                for i, x in enumerate(found[k].strategies):
                    policies[i][s] = x
                grown.append(_Branch(values, policies, [*branch.choices, k]))
        if len(grown) > max_combinations:
            truncated = True
            grown = grown[:max_combinations]
        branches = grown
    equilibria = tuple(make_markov_equilibrium(game, observation_policies(game, b.policies))
                       for b in branches)
    solver = "/".join(sorted(methods)) or "none (no live reachable state)"
    if enumerate_all:
        status = "max_iterations" if truncated else "success"
        message = (f"{len(equilibria)} subgame-perfect equilibria from every combination of "
                   f"stage equilibria ({solver})"
                   + (f"; TRUNCATED at max_combinations={max_combinations}: more exist"
                      if truncated else ""))
        extra: dict[str, Any] = {"selection": {"rule": "all"},
                                 "choices": [b.choices for b in branches]}
    else:
        status = "success"
        mattered = [d for d in decisions if d["decided"]]
        message = (f"one subgame-perfect equilibrium by backward induction ({solver}); selection "
                   f"rule {selection!r}: {len(decisions)} state(s) had several stage equilibria, "
                   f"the rule departed from the first one in {len(mattered)}"
                   + (f" ({', '.join(d['label'] for d in mattered[:5])}"
                      f"{', ...' if len(mattered) > 5 else ''})" if mattered else ""))
        extra = {"selection": {"rule": selection, "states": decisions}}
    extra["order"] = [int(s) for s in order]
    extra["seconds"] = time.perf_counter() - start
    return SolverResult(equilibria, "backward-induction", status=status,  # type: ignore[arg-type]
                        complete=bool(enumerate_all and not truncated and complete),
                        exact=False, iterations=len(order), message=message, extra=extra)
