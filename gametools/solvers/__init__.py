"""Equilibrium solvers.

Every solver is a free function with keyword-only options returning a
:class:`~gametools.solvers.result.SolverResult`; :func:`solve` picks one by name from
:data:`METHODS`, the one method table of the package (iterated by the tests and the command line).
A result's ``method`` is its key in this table.

Certification
-------------
A result with ``status == "success"`` holds profiles whose regret is within the solver's
tolerance; a solver that did not get there returns ``status == "failed"`` and its profile is only
the best point it reached (its ``regret`` says how far from equilibrium it is). When no method is
named, :func:`solve` falls back along :data:`FALLBACKS` (e.g. ``logit`` -> ``global-newton``)
before it gives up.

Normal-form games
-----------------
=====================  ===================================================================
``vertex``             all extreme equilibria of a 2-player game, exact and complete, cliques
``lemke-howson``       Lemke-Howson from every initial label (lexicographic pivoting)
``support``            support enumeration (2 players; a cross-check)
``lp``                 zero-sum linear program (2 players)
``pure``               all pure equilibria (N players)
``enumpoly``           every isolated equilibrium, exact polynomial solving (N players)
``logit``              logit QRE path to a Nash equilibrium (N players)
``global-newton``      Govindan-Wilson global Newton method (N players)
``ce`` / ``cce``       welfare-maximising (coarse) correlated equilibrium by LP (N players)
``fictitious-play``, ``regret-matching``, ``replicator``   learning dynamics (approximate)
=====================  ===================================================================

Markov (stochastic) games
-------------------------
=====================  ===================================================================
``hoffman-karp``       two-player zero-sum: strategy iteration, exact values and policies
``shapley``            two-player zero-sum: Shapley's value iteration
``backward-induction`` finite horizon: subgame-perfect equilibria with a selection rule
``homotopy``           discounted general-sum: logit Markov-QRE path to a stationary equilibrium
``tracing``            discounted general-sum: logit tracing procedure from a prior (centroid,
                       then random priors)
``stochastic-fp``      discounted general-sum: two-timescale fictitious play (approximate)
``cfr``                finite horizon, partially observed (perfect recall): counterfactual regret
                       minimisation (exact NashConv certificate; equilibrium in zero-sum games)
=====================  ===================================================================
"""

from __future__ import annotations

import dataclasses
import importlib
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from gametools.errors import InvalidArgumentError
from gametools.model import MarkovGame, NormalFormGame
from gametools.solvers.result import (
    Clique,
    Equilibrium,
    SolverResult,
    make_equilibrium,
)
from gametools.structure import heights, sees_state, state_game

__all__ = ["Clique", "Equilibrium", "SolverResult", "make_equilibrium", "solve", "METHODS",
           "Method", "default_method", "FALLBACKS"]


@dataclass(frozen=True)
class Method:
    """Where a solver lives, which games it takes and the options :func:`solve` adds."""

    module: str
    function: str
    games: Literal["normal", "markov"]
    options: Mapping[str, Any] = field(default_factory=dict)
    enumerates: bool = False


_S = "gametools.solvers."

#: method name -> solver; modules are imported on first use.
METHODS: dict[str, Method] = {
    "vertex": Method(_S + "enumeration", "vertex_enumeration", "normal", enumerates=True),
    "lemke-howson": Method(_S + "lemke_howson", "lemke_howson_all", "normal"),
    "support": Method(_S + "enumeration", "support_enumeration", "normal", enumerates=True),
    "lp": Method(_S + "zero_sum", "zero_sum_lp", "normal"),
    "pure": Method(_S + "pure", "pure_equilibria", "normal", enumerates=True),
    "enumpoly": Method(_S + "enumpoly", "polynomial_enumeration", "normal", enumerates=True),
    "logit": Method(_S + "logit", "logit_solve", "normal"),
    "global-newton": Method(_S + "global_newton", "global_newton", "normal"),
    "ce": Method(_S + "correlated", "correlated_equilibrium", "normal"),
    "cce": Method(_S + "correlated", "correlated_equilibrium", "normal", {"coarse": True}),
    "fictitious-play": Method(_S + "dynamics", "fictitious_play", "normal"),
    "regret-matching": Method(_S + "dynamics", "regret_matching", "normal"),
    "replicator": Method(_S + "dynamics", "replicator_dynamics", "normal"),
    "hoffman-karp": Method(_S + "stochastic", "hoffman_karp", "markov"),
    "shapley": Method(_S + "stochastic", "shapley_iteration", "markov"),
    "backward-induction": Method(_S + "backward_induction", "backward_induction", "markov"),
    "homotopy": Method(_S + "homotopy", "markov_qre_homotopy", "markov"),
    "tracing": Method(_S + "homotopy", "markov_tracing", "markov"),
    "stochastic-fp": Method(_S + "stochastic", "stochastic_fictitious_play", "markov"),
    "cfr": Method(_S + "cfr", "cfr", "markov"),
}


#: default method -> the globally convergent methods :func:`solve` tries next, in order, when the
#: default one does not certify (only when no method was named).
FALLBACKS: dict[str, tuple[str, ...]] = {
    "logit": ("global-newton",),
    "lemke-howson": ("global-newton",),
    "homotopy": ("tracing",),
}

#: Share of a ``cpu_seconds`` budget given to the default method when fallbacks follow it; each
#: fallback gets what is left of the budget when it starts.
FIRST_METHOD_SHARE = 0.75

#: Largest number of support profiles for which ``all_equilibria`` on a game with three or more
#: players defaults to ``enumpoly`` (every isolated equilibrium) rather than ``pure``.
ENUMPOLY_SUPPORT_PROFILES = 4096

#: Tolerance (relative regret) below which a profile of a result stopped by an iteration cap
#: still counts as certified; used by :func:`solve` when the caller gives none.
CERTIFIED_REGRET = 1e-8


class UnknownMethodError(InvalidArgumentError):
    """A solver name that is not in :data:`METHODS`, or one that does not fit the game."""


def _resolve(method: str) -> Callable[..., SolverResult]:
    if method not in METHODS:
        raise UnknownMethodError(f"unknown method {method!r}; available: {', '.join(METHODS)}")
    entry = METHODS[method]
    try:
        return getattr(importlib.import_module(entry.module), entry.function)
    except (ImportError, AttributeError) as exc:
        raise UnknownMethodError(f"method {method!r} is not available in this installation "
                                 f"({exc})") from None


def _is_zero_sum_markov(game: MarkovGame) -> bool:
    if game.num_players != 2:
        return False
    scale = float(abs(game.rewards).max()) or 1.0
    return bool(abs(game.rewards.sum(axis=0)).max() <= 1e-12 * scale)


def default_method(game: NormalFormGame | MarkovGame, *, all_equilibria: bool = False) -> str:
    """The method :func:`solve` uses when none is named.

    Normal form, two players: ``vertex`` for ``all_equilibria`` or small games, ``lp`` for
    zero-sum games, ``lemke-howson`` for large ones; more players: ``enumpoly`` for
    ``all_equilibria`` (``pure`` when the game has more than
    :data:`ENUMPOLY_SUPPORT_PROFILES` support profiles), else ``logit``. Markov games where
    every player sees the state: ``hoffman-karp`` for two-player zero-sum games,
    ``backward-induction`` for finite-horizon (terminating, acyclic) games, else ``homotopy``;
    partially observed finite-horizon games: ``cfr``.
    """
    if isinstance(game, MarkovGame):
        finite = heights(game) is not None
        if not sees_state(game):
            if finite:
                return "cfr"
            raise UnknownMethodError("no solver handles partially observed games without a "
                                     "finite horizon; unroll it with gametools.time_indexed")
        if _is_zero_sum_markov(game) and not all_equilibria:
            return "hoffman-karp"
        if all_equilibria and not finite:
            raise UnknownMethodError("no method enumerates the equilibria of infinite-horizon "
                                     "stochastic games; drop --all (or unroll the game with "
                                     "gametools.time_indexed)")
        return "backward-induction" if finite else "homotopy"
    if game.num_players == 2:
        if all_equilibria:
            return "vertex"
        if game.is_zero_sum(tol=1e-12 * game.payoff_range()):
            return "lp"
        return "vertex" if sum(game.num_actions) <= 30 else "lemke-howson"
    if all_equilibria:
        supports = math.prod(2**n - 1 for n in game.num_actions)
        return "enumpoly" if supports <= ENUMPOLY_SUPPORT_PROFILES else "pure"
    return "logit"


def solve(game: Any, *, method: str | None = None, all_equilibria: bool = False,
          **options: Any) -> SolverResult:
    """Solve ``game`` with the named method (or the default for its kind).

    Parameters
    ----------
    game : NormalFormGame, MarkovGame, nashpy.Game or OpenSpiel matrix/tensor game
    method : str, optional
        A key of :data:`METHODS`.
    all_equilibria : bool
        Ask for the complete set (an enumeration method for normal-form games; all
        combinations of stage equilibria for backward induction).
    **options
        Passed to the solver.

    Examples
    --------
    >>> from gametools import NormalFormGame
    >>> from gametools.solvers import solve
    >>> result = solve(NormalFormGame.zero_sum([[1, -1], [-1, 1]]))
    >>> result.method, [s.tolist() for s in result.equilibria[0].strategies]
    ('lp', [[0.5, 0.5], [0.5, 0.5]])
    """
    from gametools.interop import as_extensive_game, as_game

    extensive = as_extensive_game(game)
    if extensive is not None:  # game trees (.efg, OpenSpiel): gametools.extensive.solve
        from gametools.extensive.solve import solve_extensive
        return solve_extensive(extensive, method=method, all_equilibria=all_equilibria,
                               **options)
    game = as_game(game)
    name = method or default_method(game, all_equilibria=all_equilibria)
    function = _resolve(name)
    entry = METHODS[name]
    kind = "markov" if isinstance(game, MarkovGame) else "normal"
    if entry.games != kind:
        suitable = [k for k, m in METHODS.items() if m.games == kind]
        raise UnknownMethodError(f"method {name!r} solves {entry.games}-form games; for this "
                                 f"{'Markov' if kind == 'markov' else 'normal-form'} game use "
                                 f"one of: {', '.join(suitable)}")
    fallbacks = () if method is not None else FALLBACKS.get(name, ())
    budget = options.get("cpu_seconds")
    started = time.process_time()
    first_options = dict(options)
    if fallbacks and budget is not None:
        first_options["cpu_seconds"] = FIRST_METHOD_SHARE * float(budget)
    result = _solve_named(game, name, entry, function, all_equilibria, first_options)
    if method is not None or result.success:
        return result
    failures = [result]
    for fallback in fallbacks:
        entry = METHODS[fallback]
        fallback_options = _accepted_options(entry, options)
        if budget is not None and "cpu_seconds" in fallback_options:
            left = float(budget) - (time.process_time() - started)
            if left <= 0.0:
                break
            fallback_options["cpu_seconds"] = left
        candidate = _solve_named(game, fallback, entry, _resolve(fallback), all_equilibria,
                                 fallback_options)
        failures.append(candidate)
        if candidate.success:
            break
    chosen = failures[-1] if failures[-1].success else min(failures, key=lambda r: r.max_regret)
    history = "; ".join(f"{r.method}: {r.message or r.status}" for r in failures
                        if r is not chosen)
    return dataclasses.replace(chosen, message=f"{chosen.message} (after {history})",
                               extra=dict(chosen.extra, fallback_from=[
                                   r.method for r in failures if r is not chosen]))


def _accepted_options(entry: Method, options: Mapping[str, Any]) -> dict[str, Any]:
    """The options a fallback solver accepts (the default method's own tuning is dropped)."""
    import inspect

    function = getattr(importlib.import_module(entry.module), entry.function)
    accepted = inspect.signature(function).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in accepted.values()):
        return dict(options)  # a solver taking **options takes them all
    return {key: value for key, value in options.items() if key in accepted}


def _solve_named(game: Any, name: str, entry: Method, function: Callable[..., SolverResult],
                 all_equilibria: bool, options: Mapping[str, Any]) -> SolverResult:
    arguments = dict(entry.options, **options)
    if isinstance(game, MarkovGame) and name != "cfr" and not game.fully_observed \
            and sees_state(game):
        from gametools.solvers.support import lift_to_observations

        # the state-based solvers need no observation map; lift their policies back onto the
        # observations (which identify the states) and certify them on the original game
        result = _solve_checked(function, state_game(game), name, all_equilibria, entry,
                                arguments)
        return lift_to_observations(game, result)
    return _solve_checked(function, game, name, all_equilibria, entry, arguments)


def _solve_checked(function: Callable[..., SolverResult], game: Any, name: str,
                   all_equilibria: bool, entry: Method, arguments: dict[str, Any]
                   ) -> SolverResult:
    if all_equilibria:
        if name == "backward-induction":
            arguments.setdefault("enumerate_all", True)
        elif not entry.enumerates:
            raise UnknownMethodError(f"--all needs an enumeration method (vertex, support, pure"
                                     f" or backward-induction), not {name!r}")
    result = function(game, **arguments)
    status = result.status
    if status == "max_iterations":
        # a cap stopped the method: its profiles still count only when each is certified
        given = arguments.get("tol")
        tolerance = CERTIFIED_REGRET if given is None else float(given)
        if not result.equilibria or result.max_regret > tolerance:
            status = "failed"
    return dataclasses.replace(result, method=name, status=status)
