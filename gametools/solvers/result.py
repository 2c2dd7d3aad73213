"""The one result type every equilibrium solver returns.

A solver never returns ``None`` or switches its return type on a flag: it returns a frozen
:class:`SolverResult` whose ``status`` says whether it succeeded, and every profile in it carries
its certification (max regret relative to the payoff range; exact rationals when exact).
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Literal

import numpy as np

from gametools._io import fraction_text, jsonable
from gametools.errors import GameValidationError
from gametools.exploitability import nash_conv, state_values
from gametools.model import MarkovGame, NormalFormGame, contract_others
from gametools.numerics import integer_array

__all__ = ["Equilibrium", "Clique", "CorrelatedEquilibrium", "SolverResult", "make_equilibrium",
           "make_markov_equilibrium", "reward_range", "max_regret", "exact_regret", "Status",
           "two_player_game"]

Status = Literal["success", "max_iterations", "failed"]


@dataclass(frozen=True)
class Equilibrium:
    """One (approximate or exact) equilibrium profile with its certificate.

    Attributes
    ----------
    strategies : tuple of ndarray
        Shapes ``(n_i,)`` for a normal-form game, ``(O_i, n_i)`` (per observation; ``(S, n_i)``
        when fully observed) for a Markov game.
    payoffs : ndarray, shape (N,)
        Expected payoff of each player (values from the initial distribution for Markov games).
    regret : float
        Largest gain any player gets from deviating, divided by the game's payoff range
        (NashConv-type certificate; 0 for an exact equilibrium).
    strategies_exact : tuple of tuple of Fraction, or None
        The exact rational strategies when the method is exact.
    payoffs_exact : tuple of Fraction, or None
    state_values : ndarray, shape (N, S), or None
        Markov games: each player's value in every state.
    """

    strategies: tuple[np.ndarray, ...]
    payoffs: np.ndarray
    regret: float
    strategies_exact: tuple[tuple[Fraction, ...], ...] | None = None
    payoffs_exact: tuple[Fraction, ...] | None = None
    state_values: np.ndarray | None = None

    @property
    def exact(self) -> bool:
        return self.strategies_exact is not None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "strategies": [np.asarray(x, dtype=float).tolist() for x in self.strategies],
            "payoffs": [float(v) for v in self.payoffs],
            "regret": float(self.regret),
            "exact": self.exact,
        }
        if self.strategies_exact is not None:
            out["strategies_exact"] = [[fraction_text(v) for v in x]
                                       for x in self.strategies_exact]
        if self.payoffs_exact is not None:
            out["payoffs_exact"] = [fraction_text(v) for v in self.payoffs_exact]
        if self.state_values is not None:
            out["state_values"] = np.asarray(self.state_values, dtype=float).tolist()
        return out


@dataclass(frozen=True)
class Clique:
    """A maximal convex set of equilibria of a two-player game (Gambit's "clique").

    Every pair ``(x, y)`` with ``x`` in the convex hull of ``row`` and ``y`` in the convex hull of
    ``column`` is an equilibrium. Entries are indices into the distinct extreme strategies of
    each player, as listed in :attr:`SolverResult.extra` ``["row_vertices"]`` and
    ``["column_vertices"]``, and also into ``equilibria`` through ``equilibrium_indices``.
    """

    row: tuple[int, ...]
    column: tuple[int, ...]
    equilibrium_indices: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"row": list(self.row), "column": list(self.column),
                "equilibria": list(self.equilibrium_indices)}


@dataclass(frozen=True)
class CorrelatedEquilibrium:
    """A (coarse) correlated equilibrium: a joint distribution over action profiles.

    Attributes
    ----------
    distribution : ndarray, shape (n_1, ..., n_N)
    marginals : tuple of ndarray
        Each player's marginal ``(n_i,)``.
    payoffs : ndarray, shape (N,)
        Expected payoffs under the distribution.
    welfare : float
        Sum of the expected payoffs.
    objective_value : float
        Value of the LP objective (weighted expected payoffs).
    max_violation : float
        Largest incentive-constraint violation relative to the payoff range (the certificate).
    coarse : bool
        Whether the constraints are those of a coarse correlated equilibrium.
    distribution_exact : nested list of Fraction, or None
        The exact rational distribution when certified in exact arithmetic.
    payoffs_exact : tuple of Fraction, or None
    """

    distribution: np.ndarray
    marginals: tuple[np.ndarray, ...]
    payoffs: np.ndarray
    welfare: float
    objective_value: float
    max_violation: float
    coarse: bool
    distribution_exact: list[Any] | None = None
    payoffs_exact: tuple[Fraction, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = jsonable({
            "distribution": self.distribution, "marginals": list(self.marginals),
            "payoffs": self.payoffs, "welfare": self.welfare,
            "objective_value": self.objective_value, "max_violation": self.max_violation,
            "coarse": self.coarse})
        if self.distribution_exact is not None:
            out["distribution_exact"] = jsonable(self.distribution_exact)
        if self.payoffs_exact is not None:
            out["payoffs_exact"] = [fraction_text(v) for v in self.payoffs_exact]
        return out


@dataclass(frozen=True)
class SolverResult:
    """What every solver returns.

    Attributes
    ----------
    equilibria : tuple of Equilibrium
    method : str
    status : {"success", "max_iterations", "failed"}
        ``"success"``: every profile is certified (regret within the solver's tolerance);
        ``"max_iterations"``: an iteration cap stopped an enumeration, the profiles returned are
        certified but the list may be incomplete; ``"failed"``: no certified profile (the one
        returned, if any, is the best point reached, *not* an equilibrium).
    complete : bool
        True only when ``equilibria`` is provably the complete set the method promises (e.g. all
        extreme equilibria of a two-player game, all pure equilibria).
    exact : bool
        Whether every profile is certified in exact rational arithmetic.
    degenerate : bool or None
        Whether the game was found degenerate (None when the method does not check).
    iterations : int
    message : str
        Human-readable detail (why a method stopped, which selection rule was used, ...).
    cliques : tuple of Clique
        Maximal convex sets of equilibria (two-player enumeration methods only).
    correlated : CorrelatedEquilibrium or None
        The (coarse) correlated equilibrium of the ``ce`` / ``cce`` methods (``equilibria`` is
        empty for them: a correlated distribution is not a product profile).
    extra : mapping
        Method-specific statistics (path length, state values, ...), JSON-serialisable.
    """

    equilibria: tuple[Equilibrium, ...]
    method: str
    status: Status = "success"
    complete: bool = False
    exact: bool = False
    degenerate: bool | None = None
    iterations: int = 0
    message: str = ""
    cliques: tuple[Clique, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)
    correlated: CorrelatedEquilibrium | None = None

    @property
    def success(self) -> bool:
        return self.status == "success"

    @property
    def certified(self) -> bool:
        """Whether the result may be presented as equilibria: ``status`` is not ``"failed"`` and
        some profile (or a complete, possibly empty, set) is there, or the method succeeded."""
        if self.status == "failed":
            return False
        return self.status == "success" or bool(self.equilibria) or self.complete \
            or self.correlated is not None

    @property
    def max_regret(self) -> float:
        return max((e.regret for e in self.equilibria), default=0.0)

    def to_frame(self) -> Any:
        """One row per (equilibrium, player) as a pandas DataFrame (:func:`gametools.frames.to_frame`)."""
        from gametools.frames import to_frame
        return to_frame(self)

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of ``gametools solve --json``."""
        out: dict[str, Any] = {
            "equilibria": [e.to_dict() for e in self.equilibria],
            "method": self.method, "complete": bool(self.complete), "status": self.status,
            "certified": self.certified,
            "exact": bool(self.exact), "degenerate": self.degenerate,
            "iterations": int(self.iterations), "message": self.message,
        }
        if self.cliques:
            out["cliques"] = [c.to_dict() for c in self.cliques]
        if self.correlated is not None:
            out["correlated"] = self.correlated.to_dict()
        if self.extra:
            out["extra"] = jsonable(dict(self.extra))
        return out


def two_player_game(game: Any, method: str) -> NormalFormGame:
    """``game`` as a two-player :class:`NormalFormGame` (nashpy/OpenSpiel games accepted)."""
    from gametools.interop import as_game

    game = as_game(game)
    if not isinstance(game, NormalFormGame):
        raise TypeError(f"{method} needs a NormalFormGame, got {type(game).__name__}")
    if game.num_players != 2:
        raise GameValidationError("payoffs", f"{method} needs a two-player game", None,
                                  game.num_players)
    return game


def max_regret(game: NormalFormGame, strategies: Sequence[np.ndarray]) -> float:
    """Largest deviation gain over players, relative to the payoff range (float arithmetic).

    The gains are computed on the payoffs shifted to start at 0 and divided by their range, so
    a gain far below the payoffs' magnitude (payoffs near 1e12 that differ by units) is
    computed rather than rounded away; the shift cancels in every gain.
    """
    spread = game.payoff_range()
    normalised = (game.payoffs - float(game.payoffs.min())) / spread
    floats = [np.asarray(x, dtype=float) for x in strategies]
    gains = []
    for i, x in enumerate(floats):
        u = contract_others(normalised[i], floats, i)
        gains.append(float(u.max() - u @ x))
    return max(0.0, max(gains))


_INTEGER_PAYOFFS: weakref.WeakKeyDictionary[NormalFormGame, tuple[np.ndarray, int]] = \
    weakref.WeakKeyDictionary()


def _integer_payoffs(game: NormalFormGame) -> tuple[np.ndarray, int]:
    """Exact payoffs as Python integers over one common denominator (cached per game)."""
    if game not in _INTEGER_PAYOFFS:
        exact = game.payoffs_exact
        assert exact is not None
        integers, denominator = integer_array(exact)
        _INTEGER_PAYOFFS[game] = (integers, denominator)
    return _INTEGER_PAYOFFS[game]


def _exact_payoffs_and_regret(game: NormalFormGame, strategies: Sequence[Sequence[Fraction]]
                              ) -> tuple[tuple[Fraction, ...], Fraction]:
    """Each player's exact expected payoff and the largest exact deviation gain.

    Payoffs and strategies are scaled to integers over common denominators, so the
    contractions run on Python integers rather than Fractions.
    """
    integers, payoff_denominator = _integer_payoffs(game)
    scaled, denominators = [], []
    for x in strategies:
        ints, denominator = integer_array(np.array([Fraction(v) for v in x], dtype=object))
        scaled.append(ints)
        denominators.append(denominator)
    total = payoff_denominator * math.prod(denominators)
    payoffs, worst = [], Fraction(0)
    for i in range(game.num_players):
        tensor = integers[i]
        for j in reversed(range(game.num_players)):
            if j != i:
                tensor = np.tensordot(tensor, scaled[j], axes=([j], [0]))
        value = int(np.dot(tensor, scaled[i]))
        payoffs.append(Fraction(value, total))
        worst = max(worst, Fraction(int(max(tensor)) * denominators[i] - value, total))
    return tuple(payoffs), worst


def exact_regret(game: NormalFormGame, strategies: Sequence[Sequence[Fraction]]) -> Fraction:
    """Largest deviation gain over players in exact rational arithmetic (not normalised).

    Requires ``game.payoffs_exact``; a zero result certifies an exact Nash equilibrium.
    """
    if game.payoffs_exact is None:
        raise ValueError("exact_regret needs a game with exact payoffs")
    return _exact_payoffs_and_regret(game, strategies)[1]


def make_equilibrium(game: NormalFormGame, strategies: Sequence[Any], *,
                     exact: bool = False) -> Equilibrium:
    """Build a certified :class:`Equilibrium` from strategies.

    Parameters
    ----------
    game : NormalFormGame
    strategies : sequence
        One strategy ``(n_i,)`` per player; with ``exact=True`` the entries must be Fractions
        (or ints) and the game must have exact payoffs: the regret is then computed exactly.
    """
    floats = tuple(np.array([float(v) for v in x]) for x in strategies)
    for array in floats:
        array.flags.writeable = False
    payoffs = game.expected_payoffs(floats)
    payoffs.flags.writeable = False
    if exact and game.payoffs_exact is not None:
        rationals = tuple(tuple(Fraction(v) for v in x) for x in strategies)
        exact_payoffs, worst = _exact_payoffs_and_regret(game, rationals)
        return Equilibrium(floats, payoffs, float(worst) / game.payoff_range(), rationals,
                           exact_payoffs)
    return Equilibrium(floats, payoffs, max_regret(game, floats))


def reward_range(game: MarkovGame) -> float:
    """``max - min`` of the one-step rewards over all players, states and joint actions
    (1.0 for a constant game): the scale that Markov-game regrets are relative to."""
    spread = float(game.rewards.max() - game.rewards.min())
    return spread if spread > 0 else 1.0


def make_markov_equilibrium(game: MarkovGame, policies: Sequence[Any]) -> Equilibrium:
    """Certify stationary policies of a Markov game with the exact NashConv evaluator.

    ``regret`` is the largest per-player deviation gain divided by :func:`reward_range`;
    ``payoffs`` are the values from the initial distribution and ``state_values`` the values in
    every state.
    """
    report = nash_conv(game, policies)
    values = state_values(game, policies)
    floats = tuple(np.array(p, dtype=float) for p in policies)
    for array in (*floats, values):
        array.flags.writeable = False
    return Equilibrium(floats, report.values, float(report.per_player.max()) / reward_range(game),
                       state_values=values)
