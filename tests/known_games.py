"""The shared library of games with known equilibria (ground truth for every solver test).

Each :class:`KnownGame` carries the game, its equilibria (exact ``Fraction`` profiles where the
source gives them exactly), each equilibrium's values and the source of every number. Expected
numbers come from outside gametools: published results, OpenSpiel's tests, or hand derivations
written out in the docstring of the builder (so a reader can re-check them).

Conventions
-----------
- Normal-form profiles are tuples of ``(n_i,)`` arrays; Markov profiles tuples of ``(O_i, n_i)``
  arrays (for the fully observed games here ``O_i = S``; rows of terminal or irrelevant states
  are filled with an arbitrary distribution, as noted).
- ``values[k]`` is the ``(N,)`` vector of expected payoffs of ``equilibria[k]`` (values from the
  initial distribution for Markov games). ``state_values``, when given, is ``(N, S)`` for the
  first equilibrium.
- ``complete`` says whether ``equilibria`` lists *all* extreme equilibria (for a degenerate game,
  the extreme points of every component; ``components`` describes them in words).
- ``tolerance``: how precisely the listed numbers are known (0 for exact; the published decimals
  otherwise).

Use :func:`float_profile` to turn an exact profile into float arrays.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

from games import classic
from gametools.model import MarkovGame, NormalFormGame

F = Fraction
NINE_TENTHS = Fraction(9, 10)

__all__ = [
    "ALL_GAMES",
    "MARKOV_GAMES",
    "NORMAL_FORM_GAMES",
    "KnownGame",
    "battle_of_the_sexes",
    "biased_rock_paper_scissors",
    "big_match",
    "bluffing_game",
    "bluffing_game_dummy_moves",
    "by_name",
    "constant_game",
    "degenerate_von_stengel",
    "float_profile",
    "markov_cournot",
    "matching_pennies",
    "prisoners_dilemma",
    "rock_paper_scissors",
    "two_state_game",
    "von_stengel_3x2",
]


@dataclass(frozen=True)
class KnownGame:
    """A game with known equilibria and the source of every expected number."""

    name: str
    game: NormalFormGame | MarkovGame
    equilibria: tuple[tuple[np.ndarray, ...], ...]
    values: tuple[np.ndarray, ...]
    source: str
    complete: bool = False
    components: str = ""
    tolerance: float = 0.0
    state_values: np.ndarray | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:  # keeps pytest ids short
        return f"KnownGame({self.name})"


def _exact(values: Any) -> np.ndarray:
    """Object array of Fractions."""
    array = np.array(values, dtype=object)
    return np.vectorize(Fraction, otypes=[object])(array)


def _profile(*strategies: Any) -> tuple[np.ndarray, ...]:
    return tuple(_exact(x) for x in strategies)


def float_profile(profile: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
    """The profile as float arrays (exact Fractions rounded to the nearest double)."""
    return tuple(np.asarray(x, dtype=float) for x in profile)


# ------------------------------------------------------------------------------------------
# normal-form classics
# ------------------------------------------------------------------------------------------

def matching_pennies() -> KnownGame:
    """Matching pennies; unique equilibrium (1/2, 1/2) for both, value 0.

    Source: textbook (von Neumann-Morgenstern 1944; Osborne, "An Introduction to Game Theory",
    2004, sec. 4.1). Hand check: against (1/2, 1/2) both rows pay 0.
    """
    game = NormalFormGame.zero_sum([[1, -1], [-1, 1]])
    return KnownGame("matching_pennies", game, (_profile([F(1, 2)] * 2, [F(1, 2)] * 2),),
                     (_exact([0, 0]),), "textbook; hand-checked", complete=True)


def rock_paper_scissors() -> KnownGame:
    """Rock-paper-scissors; unique equilibrium uniform for both, value 0.

    Source: textbook. Uniqueness: the payoff matrix is skew-symmetric with a one-dimensional
    kernel spanned by (1, 1, 1).
    """
    game = NormalFormGame.zero_sum([[0, -1, 1], [1, 0, -1], [-1, 1, 0]])
    third = [F(1, 3)] * 3
    return KnownGame("rock_paper_scissors", game, (_profile(third, third),), (_exact([0, 0]),),
                     "textbook; hand-checked", complete=True)


def biased_rock_paper_scissors() -> KnownGame:
    """Biased RPS; unique equilibrium (1/16, 10/16, 5/16) for both players, value 0.

    Source: OpenSpiel ``python/algorithms/lp_solver_test.py::test_biased_rock_paper_scissors``
    (after Bosansky et al. 2016, sec. 6.2): row matrix
    ``[[0, -0.25, 0.5], [0.25, 0, -0.05], [-0.5, 0.05, 0]]``, kept exact here.
    Hand check: A @ (1/16, 10/16, 5/16) = 0; A is skew-symmetric with a one-dimensional
    kernel, so the interior equilibrium is the only one.
    """
    a = [[F(0), F(-1, 4), F(1, 2)], [F(1, 4), F(0), F(-1, 20)], [F(-1, 2), F(1, 20), F(0)]]
    game = NormalFormGame.zero_sum(np.array(a, dtype=object))
    x = [F(1, 16), F(10, 16), F(5, 16)]
    return KnownGame("biased_rock_paper_scissors", game, (_profile(x, x),), (_exact([0, 0]),),
                     "OpenSpiel lp_solver_test.py (Bosansky et al. 2016, sec. 6.2)",
                     complete=True)


def von_stengel_3x2() -> KnownGame:
    """von Stengel's nondegenerate 3x2 game with exactly three equilibria.

    Source: /work/shared/REFERENCES.md "Normal-form classics" (nashpy and QuantEcon docs;
    von Stengel 2007, AGT book ch. 3). Payoffs of each equilibrium computed by hand:
    ((1,0,0),(1,0)) -> (3, 3); ((4/5,1/5,0),(2/3,1/3)) -> (3, 14/5);
    ((0,1/3,2/3),(1/3,2/3)) -> (4, 8/3).
    """
    game = NormalFormGame.from_bimatrix([[3, 3], [2, 5], [0, 6]], [[3, 2], [2, 6], [3, 1]])
    equilibria = (_profile([1, 0, 0], [1, 0]),
                  _profile([F(4, 5), F(1, 5), 0], [F(2, 3), F(1, 3)]),
                  _profile([0, F(1, 3), F(2, 3)], [F(1, 3), F(2, 3)]))
    values = (_exact([3, 3]), _exact([3, F(14, 5)]), _exact([4, F(8, 3)]))
    return KnownGame("von_stengel_3x2", game, equilibria, values,
                     "REFERENCES.md (von Stengel 2007; nashpy/QuantEcon docs)", complete=True)


def battle_of_the_sexes() -> KnownGame:
    """Battle of the sexes: two pure equilibria and one mixed.

    A = [[3, 0], [0, 2]], B = [[2, 0], [0, 3]] (Osborne 2004, sec. 2.7 with these numbers).
    Hand derivation of the mixed one: the column player is indifferent when the row player puts
    p on row 0 with 2p = 3(1 - p), p = 3/5; the row player when 3q = 2(1 - q), q = 2/5;
    payoffs (6/5, 6/5).
    """
    game = NormalFormGame.from_bimatrix([[3, 0], [0, 2]], [[2, 0], [0, 3]])
    equilibria = (_profile([1, 0], [1, 0]), _profile([0, 1], [0, 1]),
                  _profile([F(3, 5), F(2, 5)], [F(2, 5), F(3, 5)]))
    values = (_exact([3, 2]), _exact([2, 3]), _exact([F(6, 5), F(6, 5)]))
    return KnownGame("battle_of_the_sexes", game, equilibria, values,
                     "textbook (Osborne 2004); mixed equilibrium by hand", complete=True)


def prisoners_dilemma() -> KnownGame:
    """Prisoner's dilemma; unique equilibrium (defect, defect) with payoffs (1, 1).

    A = [[3, 0], [5, 1]], B = A transposed: defecting (action 1) strictly dominates.
    Source: textbook (Axelrod 1984 payoffs T=5, R=3, P=1, S=0).
    """
    game = NormalFormGame.from_bimatrix([[3, 0], [5, 1]], [[3, 5], [0, 1]])
    return KnownGame("prisoners_dilemma", game, (_profile([0, 1], [0, 1]),), (_exact([1, 1]),),
                     "textbook (Axelrod 1984); strict dominance", complete=True)


def degenerate_von_stengel() -> KnownGame:
    """von Stengel's degenerate 3x2 game: a line segment of equilibria plus an isolated one.

    A = [[3, 3], [2, 5], [0, 6]], B = [[3, 3], [2, 6], [3, 1]] (von Stengel 2007, AGT book ch. 3,
    the degenerate variant of the 3x2 game: row 0 of B is constant, so the pure strategy
    (1, 0, 0) has two best responses).

    Equilibria (derived by hand):
    - component 1: x = (1, 0, 0), y = (t, 1 - t) for t in [2/3, 1]. Row 0 pays 3; row 1 pays
      5 - 3t <= 3 iff t >= 2/3; row 2 pays 6(1 - t) <= 3 iff t >= 1/2. Extreme points t = 1 and
      t = 2/3, payoffs (3, 3) at both.
    - isolated: x = (0, 1/3, 2/3), y = (1/3, 2/3), payoffs (4, 8/3) (rows 1 and 2 pay 4, row 0
      pays 3; columns pay 8/3 each).
    No other: mixing rows 0 and 1 makes column 1 strictly better, then row 2 is the only best
    reply; mixing rows 0 and 2 makes column 0 strictly better, then row 0 is the only best reply.
    """
    game = NormalFormGame.from_bimatrix([[3, 3], [2, 5], [0, 6]], [[3, 3], [2, 6], [3, 1]])
    equilibria = (_profile([1, 0, 0], [1, 0]), _profile([1, 0, 0], [F(2, 3), F(1, 3)]),
                  _profile([0, F(1, 3), F(2, 3)], [F(1, 3), F(2, 3)]))
    values = (_exact([3, 3]), _exact([3, 3]), _exact([4, F(8, 3)]))
    return KnownGame("degenerate_von_stengel", game, equilibria, values,
                     "von Stengel 2007 (AGT ch. 3) degenerate example; equilibria by hand",
                     complete=True,
                     components="{(1,0,0)} x {(t, 1-t): 2/3 <= t <= 1} (extreme points listed) "
                                "and the isolated ((0,1/3,2/3),(1/3,2/3))",
                     extra={"interior_of_component": _profile([1, 0, 0], [F(5, 6), F(1, 6)])})


def constant_game() -> KnownGame:
    """A 2x3 game where every payoff is 1: every profile is an equilibrium (one component).

    Maximally degenerate: the single component is the whole product of simplices, whose extreme
    points are the 6 pure profiles (listed). Hand check: every deviation gains exactly 0.
    """
    game = NormalFormGame(np.ones((2, 2, 3), dtype=int))
    equilibria = tuple(_profile(np.eye(2, dtype=int)[r], np.eye(3, dtype=int)[c])
                       for r in range(2) for c in range(3))
    values = tuple(_exact([1, 1]) for _ in equilibria)
    return KnownGame("constant_game", game, equilibria, values, "trivial; hand-checked",
                     complete=True, components="the whole strategy space")


# ------------------------------------------------------------------------------------------
# stochastic games
# ------------------------------------------------------------------------------------------

def big_match(discount: Fraction = NINE_TENTHS) -> KnownGame:
    """The Big Match (Gillette 1957; Blackwell-Ferguson 1968) at a given discount.

    Rows T/B (player 0), columns L/R (player 1), zero-sum. States: 0 = play, 1 = absorbed with
    payoff 1 per step, 2 = absorbed with payoff 0. In state 0: (T, L) pays 1 and absorbs in 1,
    (T, R) pays 0 and absorbs in 2, (B, L) pays 0 and stays, (B, R) pays 1 and stays.

    Source: REFERENCES.md "Stochastic games": normalised discounted value 1/2 for every discount,
    so with per-step rewards the value of state 0 is 0.5 / (1 - discount); player 0 plays T with
    probability (1 - d)/(2 - d), player 1 plays L with probability 1/2. Hand check of both
    indifferences: with V = 1/(2(1-d)), T pays 1/(2(1-d)) and B pays 1/2 + d V = V against
    (1/2, 1/2); against (p, 1-p) column L pays p/(1-d) + (1-p) d V and R pays (1-p)(1 + d V),
    equal iff p = (1-d)/(2-d). State values: (V, 1/(1-d), 0) for player 0.
    The rows of the absorbing states (actions irrelevant there) are uniform.
    """
    d = Fraction(discount)
    game = classic.big_match(discount=float(d))  # the game under test is the scenario's
    p = (1 - d) / (2 - d)
    half = [F(1, 2), F(1, 2)]
    profile = _profile([[p, 1 - p], half, half], [half, half, half])
    value = F(1, 2) / (1 - d)
    state_values = np.array([[value, 1 / (1 - d), 0], [-value, -1 / (1 - d), 0]], dtype=object)
    return KnownGame(f"big_match_{float(d):g}", game, (profile,), (_exact([value, -value]),),
                     "REFERENCES.md Big Match [P]; indifferences checked by hand",
                     complete=True, state_values=state_values)


def two_state_game() -> KnownGame:
    """The two-state zero-sum game [C] of REFERENCES.md, discount 0.9.

    State 0 pays player 0 ``[[2, -1], [-1, 1]]`` (player 1 receives the negative); matching
    actions stay in state 0, others move to state 1. State 1 pays 1/2 (actions irrelevant) and
    returns to state 0 with probability 1/2. Source: REFERENCES.md: v1 = (-479 + 11 sqrt(7561))/144
    = 3.3159313831, v2 = (-29 + sqrt(7561))/16 = 3.6221256771, both players mix
    (0.387611, 0.612389) in state 0. The mixing is computed here from the closed-form values
    (the stage matrix is symmetric, so p = (d - b)/(a + d - 2b) with a = 2 + 0.9 v1,
    d = 1 + 0.9 v1, b = -1 + 0.9 v2), which reproduces the published 0.387611.
    """
    v1 = (-479 + 11 * math.sqrt(7561)) / 144
    v2 = (-29 + math.sqrt(7561)) / 16
    a, d, b = 2 + 0.9 * v1, 1 + 0.9 * v1, -1 + 0.9 * v2
    p = (d - b) / (a + d - 2 * b)
    transitions = np.zeros((2, 2, 2, 2))
    transitions[0, 0, 0, 0] = transitions[0, 1, 1, 0] = 1.0
    transitions[0, 0, 1, 1] = transitions[0, 1, 0, 1] = 1.0
    transitions[1, :, :, :] = 0.5
    reward = np.zeros((2, 2, 2))
    reward[0] = [[2, -1], [-1, 1]]
    reward[1] = 0.5
    game = MarkovGame(transitions, np.stack([reward, -reward]), [1.0, 0.0], 0.9)
    policy = np.array([[p, 1 - p], [0.5, 0.5]])
    return KnownGame("two_state_game", game, ((policy, policy.copy()),), (np.array([v1, -v1]),),
                     "REFERENCES.md two-state game [C] (closed-form values)", complete=True,
                     tolerance=1e-9, state_values=np.array([[v1, v2], [-v1, -v2]]),
                     extra={"published_mixing": (0.387611, 0.612389)})


def markov_cournot() -> KnownGame:
    """Markov-demand Cournot [C] of REFERENCES.md on a three-point quantity grid.

    Two firms, inverse demand a_s - Q with a = (80, 120) following the chain
    [[0.8, 0.2], [0.3, 0.7]], marginal cost 10, discount 0.9; actions do not affect transitions.
    Quantities {70/3, 110/3, 30} for both firms contain the static Cournot quantity
    (a - c)/3 of each state, which stays a best response on the grid (it maximises over all
    reals). Source: REFERENCES.md, V = (I - 0.9 P)^-1 pi = (8062.626, 9517.172) per firm, with
    pi = ((a - c)/3)^2 = (4900/9, 12100/9).
    """
    grid = np.array([70 / 3, 110 / 3, 30.0])
    intercept = np.array([80.0, 120.0])
    q1, q2 = np.meshgrid(grid, grid, indexing="ij")
    margin = intercept[:, None, None] - q1[None] - q2[None] - 10.0  # (S, n, n)
    rewards = np.stack([q1[None] * margin, q2[None] * margin])
    chain = np.array([[0.8, 0.2], [0.3, 0.7]])
    transitions = np.broadcast_to(chain[:, None, None, :], (2, 3, 3, 2)).copy()
    game = MarkovGame(transitions, rewards, [1.0, 0.0], 0.9, state_labels=["low", "high"])
    policy = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    state_values = np.array([[8062.626262626, 9517.171717172]] * 2)
    return KnownGame("markov_cournot", game, ((policy, policy.copy()),),
                     (np.array([8062.626262626] * 2),),
                     "REFERENCES.md Markov-demand Cournot [C]", complete=False, tolerance=1e-6,
                     state_values=state_values)


def _bluffing_arrays() -> tuple[np.ndarray, np.ndarray]:
    # states: 0 high card (player 0 to act), 1 low card, 2 high after a bet, 3 low after a bet,
    # 4 end. Player 0: action 0 = check, 1 = bet; player 1: action 0 = fold, 1 = call.
    transitions = np.zeros((5, 2, 2, 5))
    rewards = np.zeros((5, 2, 2))
    transitions[0, 0, :, 4] = transitions[1, 0, :, 4] = 1.0  # check: showdown for 1
    rewards[0, 0, :], rewards[1, 0, :] = 1.0, -1.0
    transitions[0, 1, :, 2] = transitions[1, 1, :, 3] = 1.0  # bet
    transitions[2, :, :, 4] = transitions[3, :, :, 4] = 1.0
    rewards[2, :, 0] = rewards[3, :, 0] = 1.0  # fold
    rewards[2, :, 1], rewards[3, :, 1] = 2.0, -2.0  # call: showdown for 2
    return transitions, rewards


def bluffing_game() -> KnownGame:
    """A two-step bluffing game (Kuhn-poker-like), partially observed, perfect recall.

    Chance deals player 0 a high or low card (1/2 each); player 0 sees it, player 1 does not.
    Step 1: player 0 checks (showdown for 1: +1 high, -1 low) or bets. Step 2 after a bet:
    player 1, seeing only that a bet was made, folds (player 0 wins 1) or calls (showdown for
    2). Zero-sum, discount 1. Player 1 moves at step 1 too, but the model needs an action there;
    to keep perfect recall the post-bet states remember player 1's step-1 action (states
    ``bet_high_k`` / ``bet_low_k`` for k = 0, 1), which changes nothing else.

    States: 0 high, 1 low, 2/3 high after a bet (player 1 played 0/1 at step 1), 4/5 low after a
    bet, 6 end. Observations: player 0 sees the state; player 1 sees 0 at step 1, 1 + k after a
    bet with its own step-1 action k, 3 at the end.

    Hand solution: high always bets (bet pays >= 1 = check). Low bluffs with b, player 1 calls
    with c. Low is indifferent when 1 - 3c = -1, c = 2/3; player 1 when calling, worth
    (-2 + 2b)/(1 + b), equals folding, -1: b = 1/3. Value 1/3 to player 0:
    1/2 (1/3 * 1 + 2/3 * 2) + 1/2 (-1) = 1/3.

    ``extra["non_equilibria"]``: (profile, per-player gains) computed by hand:
    - always bet, call 1/2: values (1/2, -1/2) [high 1/2*1 + 1/2*2 = 3/2, low 1 - 3/2 = -1/2].
      Player 0's best response also always bets (high 3/2 > 1, low -1/2 > -1): gain 0.
      Player 1 after a bet believes high with 1/2: calling is worth 0, folding -1, so always
      calling gives value 0: gain 1/2. NashConv 1/2. (A deviator seeing the card would fold on
      high and call on low, worth 1/2: gain 1, the upper bound.)
    - high bets, low checks, call 1/2: values (1/4, -1/4). Player 0's best response bets on both
      (1/2 (3/2) + 1/2 (-1/2) = 1/2): gain 1/4; player 1 folds after a bet (the bettor is
      always high): value 1/2(-1) + 1/2(1) = 0: gain 1/4. NashConv 1/2.
    """
    _, base_r = _bluffing_arrays()
    # state 2 (high, bet) becomes 2/3 and state 3 (low, bet) 4/5; the end state becomes 6
    transitions = np.zeros((7, 2, 2, 7))
    rewards = np.zeros((7, 2, 2))
    for card, (old_bet, new_bets) in enumerate(((2, (2, 3)), (3, (4, 5)))):
        transitions[card, 0, :, 6] = 1.0
        rewards[card] = base_r[card]
        for k in range(2):
            transitions[card, 1, k, new_bets[k]] = 1.0
            transitions[new_bets[k], :, :, 6] = 1.0
            rewards[new_bets[k]] = base_r[old_bet]
    observations = np.array([[0, 1, 2, 3, 4, 5, 6], [0, 0, 1, 2, 1, 2, 3]])
    game = MarkovGame(transitions, np.stack([rewards, -rewards]), [0.5, 0.5, 0, 0, 0, 0, 0], 1.0,
                      terminal=[False] * 6 + [True], observations=observations,
                      state_labels=["high", "low", "bet_high_0", "bet_high_1", "bet_low_0",
                                    "bet_low_1", "end"],
                      action_labels=[["check", "bet"], ["fold", "call"]])

    def profile(high_bet: Any, low_bet: Any, call: Any) -> tuple[np.ndarray, ...]:
        half = [F(1, 2), F(1, 2)]
        first = [[1 - F(high_bet), F(high_bet)], [1 - F(low_bet), F(low_bet)]] + [half] * 5
        second = [half, [1 - F(call), F(call)], [1 - F(call), F(call)], half]
        return _profile(first, second)

    equilibrium = profile(1, F(1, 3), F(2, 3))
    non_equilibria = [(profile(1, 1, F(1, 2)), (F(0), F(1, 2))),
                      (profile(1, 0, F(1, 2)), (F(1, 4), F(1, 4)))]
    return KnownGame("bluffing_game", game, (equilibrium,), (_exact([F(1, 3), F(-1, 3)]),),
                     "hand-solved (Kuhn-poker-like one-card bluffing game)", complete=True,
                     extra={"non_equilibria": non_equilibria, "profile": profile})


def bluffing_game_dummy_moves() -> MarkovGame:
    """The bluffing game with player 1's step-1 action forgotten (no state copies).

    States: 0 high, 1 low, 2 high after a bet, 3 low after a bet, 4 end; player 1 observes
    (0, 0, 1, 1, 2). Strictly, player 1 does not recall its (payoff-irrelevant) step-1 action.
    """
    transitions, rewards = _bluffing_arrays()
    return MarkovGame(transitions, np.stack([rewards, -rewards]), [0.5, 0.5, 0, 0, 0], 1.0,
                      terminal=[False] * 4 + [True],
                      observations=[[0, 1, 2, 3, 4], [0, 0, 1, 1, 2]])


# ------------------------------------------------------------------------------------------
# collections
# ------------------------------------------------------------------------------------------

NORMAL_FORM_GAMES: tuple[KnownGame, ...] = (
    matching_pennies(), rock_paper_scissors(), biased_rock_paper_scissors(), von_stengel_3x2(),
    battle_of_the_sexes(), prisoners_dilemma(), degenerate_von_stengel(), constant_game())

MARKOV_GAMES: tuple[KnownGame, ...] = (
    big_match(F(1, 2)), big_match(F(9, 10)), big_match(F(99, 100)), two_state_game(),
    markov_cournot(), bluffing_game())

ALL_GAMES: tuple[KnownGame, ...] = NORMAL_FORM_GAMES + MARKOV_GAMES


def by_name(name: str) -> KnownGame:
    """The known game called ``name`` (raises KeyError listing the names)."""
    for known in ALL_GAMES:
        if known.name == name:
            return known
    raise KeyError(f"no known game {name!r}; have {[k.name for k in ALL_GAMES]}")
