"""Equilibrium solvers.

Every solver is a free function with keyword-only options returning a
:class:`~gametools.solvers.result.SolverResult`; :func:`solve` picks one by name (the one method
table of the package, iterated by the tests and the command line).

Methods for normal-form games
-----------------------------
=================  ======================================================================
``vertex``         all extreme equilibria of a 2-player game, exact and complete, cliques
``lemke-howson``   Lemke-Howson from every initial label (2 players, lexicographic pivoting)
``support``        support enumeration (2 players; cross-check)
``lp``             zero-sum linear program (2 players)
``pure``           all pure equilibria (N players)
``logit``          logit QRE path to a Nash equilibrium (N players)
``simpdiv``        simplicial subdivision (N players)
``ce`` / ``cce``   welfare-maximising (coarse) correlated equilibrium by LP (N players)
``fictitious-play``, ``regret-matching``, ``replicator``   learning dynamics (approximate)
=================  ======================================================================
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from gametools.errors import GametoolsError
from gametools.model import MarkovGame, NormalFormGame
from gametools.solvers.result import Clique, Equilibrium, SolverResult, make_equilibrium

__all__ = ["Clique", "Equilibrium", "SolverResult", "make_equilibrium", "solve", "METHODS",
           "default_method"]

#: method name -> (module, function); modules are imported on first use.
METHODS: dict[str, tuple[str, str]] = {
    "vertex": ("gametools.solvers.enumeration", "vertex_enumeration"),
    "lemke-howson": ("gametools.solvers.lemke_howson", "lemke_howson_all"),
    "support": ("gametools.solvers.enumeration", "support_enumeration"),
    "lp": ("gametools.solvers.zero_sum", "zero_sum_lp"),
    "pure": ("gametools.solvers.pure", "pure_equilibria"),
    "logit": ("gametools.solvers.logit", "logit_solve"),
    "simpdiv": ("gametools.solvers.simplicial", "simplicial_subdivision"),
    "ce": ("gametools.solvers.correlated", "correlated_equilibrium"),
    "cce": ("gametools.solvers.correlated", "coarse_correlated_equilibrium"),
    "fictitious-play": ("gametools.solvers.dynamics", "fictitious_play"),
    "regret-matching": ("gametools.solvers.dynamics", "regret_matching"),
    "replicator": ("gametools.solvers.dynamics", "replicator_dynamics"),
}


class UnknownMethodError(GametoolsError, ValueError):
    """A solver name that is not in :data:`METHODS`."""


def _resolve(method: str) -> Callable[..., SolverResult]:
    if method not in METHODS:
        raise UnknownMethodError(f"unknown method {method!r}; available: {', '.join(METHODS)}")
    module, name = METHODS[method]
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise UnknownMethodError(f"method {method!r} is not available in this installation "
                                 f"({exc})") from None


def default_method(game: NormalFormGame, *, all_equilibria: bool = False) -> str:
    """The method :func:`solve` uses when none is named.

    Two players: ``vertex`` for ``--all`` or small games, ``lp`` for zero-sum games,
    ``lemke-howson`` for large ones. More players: ``pure`` for ``--all``, else ``logit``.
    """
    if game.num_players == 2:
        if all_equilibria:
            return "vertex"
        if game.is_zero_sum(tol=1e-12 * game.payoff_range()):
            return "lp"
        return "vertex" if sum(game.num_actions) <= 30 else "lemke-howson"
    return "pure" if all_equilibria else "logit"


def solve(game: Any, *, method: str | None = None, all_equilibria: bool = False,
          **options: Any) -> SolverResult:
    """Solve ``game`` with the named method (or the default for its kind).

    Parameters
    ----------
    game : NormalFormGame, nashpy.Game or OpenSpiel matrix/tensor game
    method : str, optional
        A key of :data:`METHODS`.
    all_equilibria : bool
        Ask for the complete set (``vertex`` for two players, ``pure`` otherwise).
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
    from gametools.interop import as_game

    game = as_game(game)
    if isinstance(game, MarkovGame):
        raise GametoolsError("this version solves normal-form games only; for a Markov game, "
                             "measure a profile with `gametools exploit`")
    name = method or default_method(game, all_equilibria=all_equilibria)
    if all_equilibria and method is not None and method not in ("vertex", "pure", "support"):
        raise UnknownMethodError(f"--all needs an enumeration method (vertex, support, pure), "
                                 f"not {method!r}")
    return _resolve(name)(game, **options)
