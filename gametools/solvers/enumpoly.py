"""All isolated Nash equilibria of an N-player normal-form game, by support enumeration with exact
polynomial-system solving.

Definitions
-----------
For a support profile ``(S_1, ..., S_N)`` (a nonempty set of actions per player) a Nash
equilibrium with exactly that support solves the indifference system: every action in ``S_i`` earns
player ``i`` the same payoff against the others' mixtures. With ``x_i`` supported on ``S_i`` these
are ``sum_i (|S_i| - 1)`` polynomial equations (multilinear in the other players' probabilities)
in as many unknowns. A solution is an equilibrium when every probability in the support is
positive and no action outside ``S_i`` earns more than the support actions.

Method
------
Every support profile is visited, smallest first, after removing those in which some support action
is strictly dominated against the others' supports (Porter, Nudelman and Shoham 2008). On each,
the system is solved *exactly* over the rationals:

1. A separating coordinate ``t = sum_k c_k y_k`` (small integer ``c_k``) is added and the reduced
   lexicographic Groebner basis computed. For a zero-dimensional radical system in generic position
   it has the *shape* ``{y_k - g_k(t), f(t)}``, so every solution is ``y = g(t)`` at a real root
   ``t`` of the univariate ``f``.
2. The real roots of ``f`` are isolated in disjoint rational intervals (Sturm / Vincent-Akritas as
   implemented by SymPy) and refined as needed.
3. Every sign condition (support probabilities ``> 0``, deviation gains ``>= 0``) is a polynomial
   ``h(t) = H(g(t)) mod f`` evaluated by rational interval arithmetic on the root's interval; a
   sign the interval cannot decide after refinement is decided exactly: ``h(t) = 0`` at the root
   iff the root is a root of ``gcd(f, h)``, which is counted on the isolating interval.

No floating-point decision is made anywhere, so irrational equilibria are found and certified
as exactly as rational ones; they are reported as floats rounded from the exact root (their
``strategies_exact`` is None) with their algebraic description in ``extra``. Rational equilibria
carry exact strategies.

A support whose system has a positive-dimensional solution set (a continuum of equilibria, or a
degenerate system whose solutions lie outside the simplex) or no shape basis is reported in
``extra["unresolved_supports"]`` and the result is then not ``complete``; otherwise the list is the
complete set of Nash equilibria (all of them isolated).

Gambit's ``enumpoly`` enumerates the same supports but finds roots by subdividing the simplex in
floating point with a cap on the number of cells, which loses some isolated irrational equilibria
(sec5, sec6 and 2x2x2x2x2 in its collection have one each).

References
----------
- R. Porter, E. Nudelman and Y. Shoham, "Simple search methods for finding a Nash equilibrium",
  Games and Economic Behavior 63 (2008) 642-662.
- R. McKelvey and A. McLennan, "The maximal number of regular totally mixed Nash equilibria",
  Journal of Economic Theory 72 (1997) 411-425 (the 2x2x2 game with 9 equilibria).
- B. Sturmfels, "Solving Systems of Polynomial Equations", AMS (2002), chapter 6 (Nash equilibria).
- D. Cox, J. Little and D. O'Shea, "Ideals, Varieties, and Algorithms", Springer (2015): the
  shape lemma and lexicographic bases.

Examples
--------
McKelvey and McLennan's game with nine equilibria, two of them totally mixed:

>>> import numpy as np
>>> from gametools import NormalFormGame
>>> from gametools.solvers.enumpoly import polynomial_enumeration
>>> payoffs = np.zeros((3, 2, 2, 2))
>>> for profile, values in {(0, 0, 0): (9, 8, 12), (1, 1, 0): (9, 8, 2),
...                         (0, 1, 1): (3, 4, 6), (1, 0, 1): (3, 4, 6)}.items():
...     payoffs[(slice(None), *profile)] = values
>>> result = polynomial_enumeration(NormalFormGame(payoffs))
>>> len(result.equilibria), result.complete
(9, True)
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sequence
from fractions import Fraction
from typing import Any

import numpy as np

from gametools.errors import GameValidationError
from gametools.interop import as_game
from gametools.model import NormalFormGame
from gametools.solvers.result import Equilibrium, SolverResult, make_equilibrium

__all__ = ["MAX_SUPPORT_PROFILES", "SUPPORT_SECONDS", "polynomial_enumeration", "support_profiles"]

#: Default cap on the number of support profiles visited (after dominance pruning).
MAX_SUPPORT_PROFILES = 200_000

#: Default wall-clock budget (seconds) for one support profile's exact solution.
SUPPORT_SECONDS = 30.0

#: Width below which a root's interval is not refined further before the exact zero test.
_REFINE_WIDTH = Fraction(1, 10**40)


def _exact_payoffs(game: NormalFormGame) -> np.ndarray:
    """Payoffs as Fractions: the file's exact values, else the floats' exact binary values."""
    if game.payoffs_exact is not None:
        return game.payoffs_exact
    values = np.empty(game.payoffs.shape, dtype=object)
    values.ravel()[:] = [Fraction(float(v)) for v in game.payoffs.ravel()]
    return values


def _subsets(n: int) -> list[tuple[int, ...]]:
    """Nonempty subsets of ``range(n)``, smallest first."""
    return [s for k in range(1, n + 1) for s in itertools.combinations(range(n), k)]


def _dominated(payoffs: np.ndarray, player: int, supports: Sequence[tuple[int, ...]]) -> bool:
    """Whether some action in ``supports[player]`` is strictly dominated by a pure action of the
    same player against every pure profile of the others' supports (exact comparison)."""
    block = payoffs[player][np.ix_(*[np.arange(payoffs.shape[1 + j]) if j == player
                                     else np.array(s) for j, s in enumerate(supports)])]
    table = np.moveaxis(block, player, 0).reshape(block.shape[player], -1)
    for a in supports[player]:
        row = table[a]
        for b in range(table.shape[0]):
            if b != a and all(u > v for u, v in zip(table[b], row)):
                return True
    return False


def support_profiles(game: NormalFormGame, *, prune: bool = True
                     ) -> Iterator[tuple[tuple[int, ...], ...]]:
    """Support profiles in order of total size, skipping (with ``prune``) those in which a support
    action is strictly dominated against the other players' supports."""
    payoffs = _exact_payoffs(game)
    per_player = [_subsets(n) for n in game.num_actions]
    profiles = sorted(itertools.product(*per_player), key=lambda p: sum(len(s) for s in p))
    for profile in profiles:
        if prune and any(_dominated(payoffs, i, profile) for i in range(game.num_players)):
            continue
        yield profile


# ---------------------------------------------------------------------------------------------
# exact univariate root handling


def _fraction(value: Any) -> Fraction:
    return Fraction(int(value.numerator), int(value.denominator))


class _Root:
    """A real root of a square-free rational polynomial ``f``, held in an isolating interval."""

    def __init__(self, poly: Any, low: Fraction, high: Fraction) -> None:
        self.poly = poly
        self.low, self.high = low, high

    @property
    def exact(self) -> bool:
        return self.low == self.high

    def refine(self) -> None:
        if self.exact:
            return
        width = (self.high - self.low) / 2**16
        low, high = self.poly.refine_root(self.low, self.high, eps=width)
        self.low, self.high = _fraction(low), _fraction(high)

    def sign_of(self, h: Any) -> int:
        """Exact sign of the polynomial ``h`` at this root."""
        if h.is_zero:
            return 0
        coefficients = [_fraction(c) for c in h.all_coeffs()]
        while True:
            low, high = _interval_horner(coefficients, self.low, self.high)
            if low > 0:
                return 1
            if high < 0:
                return -1
            if self.exact:
                return 0
            if self.high - self.low < _REFINE_WIDTH:
                break
            self.refine()
        # the interval cannot separate h(root) from 0: decide h(root) == 0 exactly
        common = self.poly.gcd(h)
        if common.degree() > 0 and common.count_roots(self.low, self.high) > 0:
            return 0
        while True:  # nonzero: refinement terminates
            self.refine()
            low, high = _interval_horner(coefficients, self.low, self.high)
            if low > 0:
                return 1
            if high < 0:
                return -1

    def value(self, h: Any) -> Fraction:
        """``h`` at the root: exact for a rational root, else the interval's midpoint image."""
        coefficients = [_fraction(c) for c in h.all_coeffs()]
        point = (self.low + self.high) / 2
        total = Fraction(0)
        for c in coefficients:
            total = total * point + c
        return total


def _interval_horner(coefficients: Sequence[Fraction], low: Fraction, high: Fraction
                     ) -> tuple[Fraction, Fraction]:
    """A rigorous enclosure of a polynomial (highest degree first) over ``[low, high]``."""
    lo = hi = Fraction(0)
    for c in coefficients:
        products = (lo * low, lo * high, hi * low, hi * high)
        lo, hi = min(products) + c, max(products) + c
    return lo, hi


# ---------------------------------------------------------------------------------------------
# one support profile


class _Outcome:
    """What solving one support profile produced."""

    def __init__(self) -> None:
        self.solutions: list[tuple[list[Fraction], bool, dict[str, Any] | None]] = []
        self.unresolved: str | None = None


def _solve_support(payoffs: np.ndarray, num_actions: tuple[int, ...],
                   supports: tuple[tuple[int, ...], ...], attempts: int = 4) -> _Outcome:
    from sympy import QQ
    from sympy.polys.orderings import lex
    from sympy.polys.rings import ring

    players = len(num_actions)
    outcome = _Outcome()
    sizes = [len(s) - 1 for s in supports]
    unknowns = sum(sizes)
    names = [f"y{k}" for k in range(unknowns)] + ["t"]
    R, *gens = ring(",".join(names), QQ, lex)
    ys = gens[:-1]  # the last generator is the separating coordinate of _real_solutions
    # each player's probabilities on their support, as polynomials in the unknowns
    mixes: list[dict[int, Any]] = []
    position = 0
    for i, support in enumerate(supports):
        own = ys[position:position + sizes[i]]
        position += sizes[i]
        mix = {a: own[k - 1] for k, a in enumerate(support) if k > 0}
        mix[support[0]] = R.one - sum(own, R.zero)
        mixes.append(mix)
    # U[i][a]: player i's payoff of pure action a against the others' mixtures
    payoff_polys: list[list[Any]] = []
    for i in range(players):
        others = [j for j in range(players) if j != i]
        weights: list[tuple[tuple[int, ...], Any]] = []
        for combo in itertools.product(*(supports[j] for j in others)):
            weight = R.one
            for j, a in zip(others, combo):
                weight = weight * mixes[j][a]
            weights.append((combo, weight))
        row = []
        for a in range(num_actions[i]):
            total = R.zero
            for combo, weight in weights:
                index = list(combo)
                index.insert(i, a)
                value = payoffs[(i, *index)]
                if value != 0:
                    total += R.domain_new(QQ(value.numerator, value.denominator)) * weight
            row.append(total)
        payoff_polys.append(row)
    equations = [payoff_polys[i][a] - payoff_polys[i][supports[i][0]]
                 for i in range(players) for a in supports[i][1:]]
    equations = [e for e in equations if not e.is_zero]
    # sign conditions: positive support probabilities, non-negative deviation gains
    positive = [mixes[i][a] for i in range(players) for a in supports[i]]
    nonnegative = [payoff_polys[i][supports[i][0]] - payoff_polys[i][b]
                   for i in range(players) for b in range(num_actions[i]) if b not in supports[i]]

    if unknowns == 0:  # a pure profile: every condition is a constant
        value = [p.coeff(1) if not p.is_zero else 0 for p in nonnegative]
        if all(_fraction(QQ.convert(v)) >= 0 for v in value):
            outcome.solutions.append(([], True, None))
        return outcome

    solutions, reason = _real_solutions(R, equations, positive, nonnegative, attempts)
    outcome.solutions.extend(solutions)
    if reason == "positive-dimensional solution set":
        # points of a positive-dimensional set where some deviation is tied: the ends of
        # segments of equilibria, and isolated equilibria the equations alone cannot pin down
        outcome.unresolved = reason
        seen: set[tuple[Fraction, ...]] = set()
        for size in (1, 2):
            for tight in itertools.combinations(range(len(nonnegative)), size):
                found, _ = _real_solutions(R, equations + [nonnegative[k] for k in tight],
                                           positive, nonnegative, attempts)
                for solution in found:
                    key = tuple(solution[0])
                    if key not in seen:
                        seen.add(key)
                        outcome.solutions.append(solution)
    elif reason is not None:
        outcome.unresolved = reason
    return outcome


def _real_solutions(R: Any, equations: list[Any], positive: list[Any], nonnegative: list[Any],
                    attempts: int) -> tuple[list[tuple[list[Fraction], bool, dict[str, Any] | None]],
                                            str | None]:
    """The real solutions of ``equations`` (polynomials in the ring ``R``, whose last generator is
    the separating coordinate) at which every ``positive`` polynomial is > 0 and every
    ``nonnegative`` one >= 0, decided exactly; with the reason when the system is not solved."""
    from sympy import QQ, Poly, Symbol
    from sympy.polys.fglmtools import matrix_fglm
    from sympy.polys.groebnertools import groebner
    from sympy.polys.orderings import grevlex, lex

    gens = R.gens
    ys, t = gens[:-1], gens[-1]
    unknowns = len(ys)
    equations = [e for e in equations if not e.is_zero]
    for attempt in range(attempts):
        weights_c = [1 + (k * (attempt + 2)) % (unknowns + 3 + attempt) for k in range(unknowns)]
        separator = t - sum((c * y for c, y in zip(weights_c, ys)), R.zero)
        # a degree-reverse-lexicographic basis (F5B) converted to the lexicographic one by FGLM:
        # far faster than a direct lexicographic Buchberger run
        graded = R.clone(order=grevlex)
        basis = groebner([graded(dict(e)) for e in equations + [separator]], graded,
                         method="f5b")
        if len(basis) == 1 and basis[0] == graded.one:
            return [], None  # no complex solution at all
        leading = [g.LM for g in basis]
        zero_dimensional = all(any(m[k] > 0 and sum(m) == m[k] for m in leading)
                               for k in range(len(gens)))
        if not zero_dimensional:
            return [], "positive-dimensional solution set"
        basis = [R(dict(g)) for g in matrix_fglm(basis, graded, lex)]
        shape = (len(basis) == unknowns + 1
                 and all(basis[k].LM == tuple(int(j == k) for j in range(len(gens)))
                         and all(m[j] == 0 for m in basis[k].monoms() for j in range(unknowns)
                                 if j != k)
                         for k in range(unknowns))
                 and all(m[j] == 0 for m in basis[-1].monoms() for j in range(unknowns)))
        if shape:
            break
    else:
        return [], "no shape basis (multiple roots or non-generic coordinates)"

    symbol = Symbol("t")

    def univariate(p: Any) -> Any:
        reduced = p.rem(basis)
        coefficients = {monomial[-1]: c for monomial, c in reduced.terms()}
        if not coefficients:
            return Poly(0, symbol, domain="QQ")
        return Poly([coefficients.get(d, QQ(0)) for d in range(max(coefficients), -1, -1)],
                    symbol, domain="QQ")

    last = {m[-1]: c for m, c in basis[-1].terms()}
    f = Poly([last.get(d, QQ(0)) for d in range(basis[-1].degree(t), -1, -1)], symbol,
             domain="QQ").sqf_part()
    coordinates = [univariate(y) for y in ys]
    positive_u = [univariate(p) for p in positive]
    nonnegative_u = [univariate(p) for p in nonnegative]
    solutions: list[tuple[list[Fraction], bool, dict[str, Any] | None]] = []
    for (low, high), _multiplicity in f.intervals():
        root = _Root(f, _fraction(low), _fraction(high))
        if not all(root.sign_of(h) > 0 for h in positive_u):
            continue
        if not all(root.sign_of(h) >= 0 for h in nonnegative_u):
            continue
        while not root.exact and root.high - root.low > Fraction(1, 10**30):
            root.refine()
        if root.exact:
            solutions.append(([root.value(c) for c in coordinates], True, None))
            continue
        algebraic = {"minimal_polynomial": [str(c) for c in f.all_coeffs()],
                     "root_interval": [str(root.low), str(root.high)],
                     "coordinates": [[str(c) for c in g.all_coeffs()] for g in coordinates]}
        solutions.append(([root.value(c) for c in coordinates], False, algebraic))
    return solutions, None


def _strategies(num_actions: tuple[int, ...], supports: tuple[tuple[int, ...], ...],
                unknowns: Sequence[Fraction]) -> list[list[Fraction]]:
    strategies, position = [], 0
    for n, support in zip(num_actions, supports):
        own = list(unknowns[position:position + len(support) - 1])
        position += len(support) - 1
        x = [Fraction(0)] * n
        for k, a in enumerate(support[1:]):
            x[a] = own[k]
        x[support[0]] = 1 - sum(own, Fraction(0))
        strategies.append(x)
    return strategies


def _solve_in_worker(connection: Any, payoffs: np.ndarray, num_actions: tuple[int, ...],
                     supports: tuple[tuple[int, ...], ...]) -> None:
    connection.send(_solve_support(payoffs, num_actions, supports))
    connection.close()


def _solve_with_budget(payoffs: np.ndarray, num_actions: tuple[int, ...],
                       supports: tuple[tuple[int, ...], ...], seconds: float | None) -> _Outcome:
    """:func:`_solve_support`, in a child process killed after ``seconds`` when the system has
    three or more unknowns (smaller ones take milliseconds and run here)."""
    unknowns = sum(len(s) - 1 for s in supports)
    if seconds is None or unknowns < 3:
        return _solve_support(payoffs, num_actions, supports)
    import multiprocessing

    methods = multiprocessing.get_all_start_methods()
    context: Any = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    receiver, sender = context.Pipe(duplex=False)
    worker = context.Process(target=_solve_in_worker, args=(sender, payoffs, num_actions,
                                                           supports), daemon=True)
    worker.start()
    sender.close()
    try:
        if receiver.poll(seconds):
            try:
                outcome: _Outcome = receiver.recv()
                return outcome
            except EOFError:
                pass
        outcome = _Outcome()
        outcome.unresolved = f"time budget of {seconds:g} s per support exceeded"
        return outcome
    finally:
        if worker.is_alive():
            worker.kill()
        worker.join()
        receiver.close()


def polynomial_enumeration(game: Any, *, max_supports: int = MAX_SUPPORT_PROFILES,
                           support_seconds: float | None = SUPPORT_SECONDS,
                           prune: bool = True) -> SolverResult:
    """Every isolated Nash equilibrium of an N-player game, each certified in exact arithmetic.

    Parameters
    ----------
    game : NormalFormGame
        Any number of players; float payoffs are solved as the exact binary rationals they are.
    max_supports : int
        Cap on the number of support profiles solved; when reached the result has
        ``status="max_iterations"`` and ``complete=False``.
    support_seconds : float or None
        Wall-clock budget for the exact solution of one support profile with three or more
        unknowns (solved in a child process, killed when the budget is spent; the support is then
        listed as unresolved and the result is not ``complete``). None: no budget.
    prune : bool
        Skip support profiles with a strictly dominated support action (sound: such a profile
        holds no equilibrium).

    Returns
    -------
    SolverResult
        ``method="enumpoly"``. ``complete`` is True when every support profile was solved (no
        positive-dimensional or unresolved system and no cap reached): the list is then the whole
        set of Nash equilibria. ``exact`` is True when every equilibrium is rational (then each
        carries ``strategies_exact``). ``extra``: ``supports_solved``, ``supports_pruned``,
        ``unresolved_supports`` (support profile and reason), ``on_unresolved_supports``
        (indices of the equilibria found on a positive-dimensional support where a deviation is
        tied: each is certified, but may be the end of a continuum), ``algebraic`` (for each irrational
        equilibrium, by index: the square-free polynomial ``f`` whose root ``t`` in
        ``root_interval`` gives the unknowns ``y_k = g_k(t)``).
    """
    game = as_game(game)
    if not isinstance(game, NormalFormGame):
        raise TypeError(f"enumpoly needs a NormalFormGame, got {type(game).__name__}")
    if not (isinstance(max_supports, int) and max_supports >= 1):
        raise GameValidationError("max_supports", "must be a positive integer", None, max_supports)
    if support_seconds is not None and not (math.isfinite(support_seconds)
                                            and support_seconds > 0):
        raise GameValidationError("support_seconds", "must be a positive number or None", None,
                                  support_seconds)
    payoffs = _exact_payoffs(game)
    total = math.prod(2**n - 1 for n in game.num_actions)
    equilibria: list[Equilibrium] = []
    algebraic: dict[int, Any] = {}
    unresolved: list[dict[str, Any]] = []
    on_unresolved: list[int] = []
    solved = 0
    capped = False
    all_rational = True
    for supports in support_profiles(game, prune=prune):
        if solved >= max_supports:
            capped = True
            break
        solved += 1
        outcome = _solve_with_budget(payoffs, game.num_actions, supports, support_seconds)
        if outcome.unresolved is not None:
            unresolved.append({"supports": [list(s) for s in supports],
                               "reason": outcome.unresolved})
        for unknowns, rational, description in outcome.solutions:
            strategies = _strategies(game.num_actions, supports, unknowns)
            if outcome.unresolved is not None:
                on_unresolved.append(len(equilibria))
            if rational:
                equilibria.append(make_equilibrium(game, strategies,
                                                   exact=game.payoffs_exact is not None))
            else:
                all_rational = False
                algebraic[len(equilibria)] = {"supports": [list(s) for s in supports],
                                              **(description or {})}
                equilibria.append(make_equilibrium(game, strategies))
    complete = not capped and not unresolved
    pruned = total - solved if not capped else None
    parts = [f"{len(equilibria)} equilibria from {solved} of {total} support profiles"]
    if unresolved:
        parts.append(f"{len(unresolved)} support profile(s) unresolved (see "
                     f"extra['unresolved_supports']): the list may be incomplete")
    if capped:
        parts.append(f"stopped at max_supports={max_supports}")
    return SolverResult(
        equilibria=tuple(equilibria), method="enumpoly",
        status="max_iterations" if capped else "success", complete=complete,
        exact=bool(all_rational and game.payoffs_exact is not None), iterations=solved,
        message="; ".join(parts),
        extra={"supports_solved": solved, "supports_pruned": pruned,
               "unresolved_supports": unresolved, "on_unresolved_supports": on_unresolved,
               "algebraic": algebraic})
