"""Equilibrium selection that follows the economics of a scenario.

Grid games often have several equilibria (a Bertrand quoting game has collusive ones beside the
competitive one; a bank has a run and a no-run equilibrium). When theory predicts one of them,
:func:`select_theory_equilibrium` certifies the theory's profile with the exact evaluator, puts it
first in the solver's result, names the selection rule in the message, and lists every equilibrium
found (the theory's and the solver's, and for small normal-form games every pure equilibrium) with
its payoffs and the scenario's statistics in ``extra["selection"]``. Scenarios expose it as their
``select`` hook, which ``gametools solve`` consults.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from gametools.model import MarkovGame, NormalFormGame
from gametools.solvers.result import (
    Equilibrium,
    SolverResult,
    make_equilibrium,
    make_markov_equilibrium,
)

__all__ = ["select_theory_equilibrium"]

#: A profile counts as an equilibrium when its regret (relative to the payoff range) is below.
TOLERANCE = 1e-9

#: Normal-form games up to this many pure profiles also list all their pure equilibria.
PURE_ENUMERATION_LIMIT = 200_000


def _same(a: Equilibrium, b: Equilibrium) -> bool:
    return all(x.shape == y.shape and np.allclose(x, y, atol=1e-9)
               for x, y in zip(a.strategies, b.strategies))


def _pure_equilibria(game: NormalFormGame) -> tuple[Equilibrium, ...]:
    from gametools.solvers import solve

    if int(np.prod(game.num_actions)) > PURE_ENUMERATION_LIMIT:
        return ()
    return tuple(solve(game, method="pure", all_equilibria=True).equilibria)


def select_theory_equilibrium(game: NormalFormGame | MarkovGame, result: SolverResult,
                              candidate: Sequence[Any], *, rule: str,
                              summarize: Callable[..., Any] | None = None,
                              params: dict[str, Any] | None = None,
                              alternatives: Sequence[Sequence[Any]] = ()) -> SolverResult:
    """``result`` with the theory's equilibrium first, when the theory's profile is one.

    Parameters
    ----------
    game : NormalFormGame or MarkovGame
    result : SolverResult
        What the solver found.
    candidate : sequence of ndarray
        The profile theory predicts (one strategy or policy per player).
    rule : str
        The selection rule in words (it appears in the message and in ``extra``).
    summarize : callable, optional
        ``summarize(game, profile, **params)``: statistics listed for each equilibrium.
    params : dict, optional
    alternatives : sequence of profiles
        Other equilibria theory knows (a bank run, ...): listed when they certify.

    Returns
    -------
    SolverResult
        Equilibria reordered (theory first, then the others found, duplicates dropped); the
        message says which rule chose the first one; the status becomes ``"success"`` when the
        theory's profile certifies (even if the solver itself failed); ``extra["selection"]`` has ``rule``,
        ``selected`` (``"theory"`` or ``"solver"`` when the theory's profile is not an
        equilibrium of this grid), ``candidate_regret`` and ``equilibria`` (payoffs and summary
        of each, in the new order).
    """
    params = params or {}
    def certify(profile: Sequence[Any]) -> Equilibrium:
        return (make_markov_equilibrium(game, profile) if isinstance(game, MarkovGame)
                else make_equilibrium(game, profile))

    theory = certify(candidate)
    found = list(result.equilibria)
    for profile in alternatives:
        known = certify(profile)
        if known.regret <= TOLERANCE and not any(_same(known, f) for f in found):
            found.append(known)
    if isinstance(game, NormalFormGame):
        found += [e for e in _pure_equilibria(game) if not any(_same(e, f) for f in found)]
    if theory.regret <= TOLERANCE:
        ordered = [theory] + [e for e in found if not _same(e, theory)]
        selected = "theory"
        note = f"selection: {rule}"
    else:
        ordered = found
        selected = "solver"
        note = (f"selection: {rule} is not an equilibrium of this grid (regret "
                f"{theory.regret:.3g}); the solver's equilibrium is shown first")
    listing = []
    for equilibrium in ordered:
        entry: dict[str, Any] = {"payoffs": [float(v) for v in equilibrium.payoffs],
                                 "regret": float(equilibrium.regret)}
        if summarize is not None:
            entry["summary"] = summarize(game, equilibrium.strategies, **params)
        listing.append(entry)
    others = len(ordered) - 1
    message = "; ".join(x for x in (result.message, note + (
        f"; {others} other equilibri{'um' if others == 1 else 'a'} found, listed with payoffs "
        f"in extra.selection" if others else "")) if x)
    status = result.status
    if selected == "theory" and status != "success":
        # the theory's profile is certified by the exact evaluator whatever the solver did
        message += (f"; the solver stopped with status {status!r}, the selected profile is "
                    f"certified by the exact evaluator")
        status = "success"
    extra = dict(result.extra)
    extra["selection"] = {"rule": rule, "selected": selected,
                          "candidate_regret": float(theory.regret), "equilibria": listing}
    return dataclasses.replace(result, equilibria=tuple(ordered), message=message, extra=extra,
                               status=status)
