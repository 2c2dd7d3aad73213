"""Tests of the Lemke-Howson solver (gametools.solvers.lemke_howson).

Ground truth comes from outside the code: von Stengel's 3x2 game (equilibria published in his
survey and in the QuantEcon / nashpy documentation), Gambit's exact extreme-equilibrium sets
(/work/shared/fixtures/gambit, computed by Gambit 16.7.0 ``enummixed_solve``), QuantEcon's and
nashpy's own Lemke-Howson implementations, and exact rational regret.
"""

from __future__ import annotations

import json
import os
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gametools.solvers.lemke_howson as lh_module
from gametools import GameValidationError, NormalFormGame
from gametools.solvers.lemke_howson import lemke_howson, lemke_howson_all
from gametools.solvers.result import exact_regret, max_regret

SHARED = Path(os.environ.get("GAMETOOLS_SHARED", Path(__file__).resolve().parents[2] / "shared"))
GAMBIT = SHARED / "fixtures" / "gambit"

F = Fraction

# von Stengel (2002, 2007) 3x2 example, as in REFERENCES.md ("Normal-form classics"), the
# QuantEcon lemke_howson docstring and nashpy's documentation.
STENGEL_A = [[3, 3], [2, 5], [0, 6]]
STENGEL_B = [[3, 2], [2, 6], [3, 1]]
STENGEL_EQUILIBRIA = {
    ((F(1), F(0), F(0)), (F(1), F(0))),
    ((F(4, 5), F(1, 5), F(0)), (F(2, 3), F(1, 3))),
    ((F(0), F(1, 3), F(2, 3)), (F(1, 3), F(2, 3))),
}

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def stengel() -> NormalFormGame:
    return NormalFormGame.from_bimatrix(STENGEL_A, STENGEL_B)


def bimatrix_games(max_actions: int = 5, low: int = -3, high: int = 3):
    """Small integer bimatrix games: ties everywhere, so most are degenerate."""
    return st.tuples(st.integers(1, max_actions), st.integers(1, max_actions)).flatmap(
        lambda shape: st.tuples(
            st.lists(st.lists(st.integers(low, high), min_size=shape[1], max_size=shape[1]),
                     min_size=shape[0], max_size=shape[0]),
            st.lists(st.lists(st.integers(low, high), min_size=shape[1], max_size=shape[1]),
                     min_size=shape[0], max_size=shape[0])))


# --------------------------------------------------------------------------------------------
# known games
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("label", range(5))
@pytest.mark.parametrize("exact", [None, False])
def test_stengel_every_label_lands_in_the_known_set(label, exact):
    result = lemke_howson(stengel(), initial_label=label, exact=exact)
    assert result.status == "success" and len(result.equilibria) == 1
    equilibrium = result.equilibria[0]
    if exact is None:
        assert result.exact and equilibrium.strategies_exact in STENGEL_EQUILIBRIA
        assert equilibrium.regret == 0.0
    else:
        assert not result.exact
        assert any(all(np.allclose(s, [float(v) for v in t], atol=1e-12)
                       for s, t in zip(equilibrium.strategies, known))
                   for known in STENGEL_EQUILIBRIA)


def test_stengel_label_one_matches_quantecon_docstring():
    # QuantEcon lemke_howson docstring: init_pivot=1 gives ((0, 1/3, 2/3), (1/3, 2/3)) in 4 pivots
    result = lemke_howson(stengel(), initial_label=1)
    assert result.equilibria[0].strategies_exact == ((F(0), F(1, 3), F(2, 3)), (F(1, 3), F(2, 3)))
    assert result.iterations == 4
    assert result.equilibria[0].payoffs_exact == (F(4), F(8, 3))


def test_stengel_all_labels_finds_the_two_reachable_equilibria():
    # The mixed equilibrium ((4/5, 1/5, 0), (2/3, 1/3)) has the "wrong" index and lies on no
    # Lemke-Howson path from the artificial equilibrium (von Stengel 2002, section 6).
    result = lemke_howson_all(stengel())
    found = {e.strategies_exact for e in result.equilibria}
    assert found == STENGEL_EQUILIBRIA - {((F(4, 5), F(1, 5), F(0)), (F(2, 3), F(1, 3)))}
    assert result.complete is False and result.exact
    assert len(result.extra["label_equilibrium"]) == 5


def test_nashpy_game_is_accepted():
    nashpy = pytest.importorskip("nashpy")
    game = nashpy.Game(np.array(STENGEL_A), np.array(STENGEL_B))
    result = lemke_howson(game, initial_label=1)
    np.testing.assert_allclose(result.equilibria[0].strategies[0], [0, 1 / 3, 2 / 3])


# --------------------------------------------------------------------------------------------
# Gambit's exact sets
# --------------------------------------------------------------------------------------------

def _gambit_cases():
    expected = GAMBIT / "expected.json"
    if not expected.exists():
        return []
    return [case for case in json.loads(expected.read_text()) if case["file"].startswith("f")]


@pytest.mark.skipif(not (GAMBIT / "expected.json").exists(),
                    reason="shared Gambit fixtures not found (set GAMETOOLS_SHARED)")
@pytest.mark.parametrize("float_pivoting", [False, True])
def test_every_result_is_one_of_gambits_extreme_equilibria(float_pivoting, monkeypatch):
    from gametools.formats.nfg import read_nfg
    if float_pivoting:
        # force "pivot in floats, rebuild the basis exactly, certify" on these small games
        monkeypatch.setattr(lh_module, "EXACT_PIVOTING_SIZE", 0)
    for case in _gambit_cases():
        game = NormalFormGame(read_nfg(GAMBIT / case["file"]).payoffs)
        gambit = {tuple(tuple(F(v) for v in s) for s in eq) for eq in case["extreme_equilibria"]}
        result = lemke_howson_all(game)
        assert result.status == "success" and result.exact, case["file"]
        assert result.equilibria, case["file"]
        for equilibrium in result.equilibria:
            assert equilibrium.strategies_exact in gambit, case["file"]


# --------------------------------------------------------------------------------------------
# properties
# --------------------------------------------------------------------------------------------

@FAST
@given(bimatrix_games())
def test_degenerate_integer_games_exact_equilibrium_from_every_label(matrices):
    row, column = matrices
    game = NormalFormGame.from_bimatrix(row, column)
    m, n = game.num_actions
    for label in range(m + n):
        # a cycle would hit this generous cap (paths in games this small are far shorter)
        result = lemke_howson(game, initial_label=label, max_iterations=2000)
        assert result.status == "success", (label, result.message)
        equilibrium = result.equilibria[0]
        assert result.exact and exact_regret(game, equilibrium.strategies_exact) == 0
        assert all(min(x) >= 0 and sum(x) == 1 for x in equilibrium.strategies_exact)


@FAST
@given(bimatrix_games(max_actions=4, low=0, high=1))
def test_zero_one_games_never_cycle_in_float_pivoting(matrices):
    # {0, 1} payoffs are as degenerate as games get; float pivoting must still terminate
    row, column = matrices
    game = NormalFormGame.from_bimatrix(np.array(row, dtype=float), np.array(column, dtype=float))
    m, n = game.num_actions
    for label in range(m + n):
        result = lemke_howson(game, initial_label=label, max_iterations=2000)
        assert result.status == "success"
        assert result.equilibria[0].regret <= 1e-9


def test_highly_degenerate_games_terminate():
    games = [
        NormalFormGame.from_bimatrix(np.ones((4, 4), dtype=int), np.ones((4, 4), dtype=int)),
        NormalFormGame.from_bimatrix([[1, 1, 0], [1, 1, 0], [0, 0, 1]],
                                     [[1, 1, 0], [1, 1, 0], [0, 0, 1]]),
        # von Stengel's degenerate variant: column 1 of B has a tie at the pure strategy row 0
        NormalFormGame.from_bimatrix([[3, 3], [2, 5], [0, 6]], [[3, 3], [2, 6], [3, 1]]),
    ]
    for game in games:
        result = lemke_howson_all(game, max_iterations=500)
        assert result.status == "success" and result.exact
        for equilibrium in result.equilibria:
            assert exact_regret(game, equilibrium.strategies_exact) == 0
    assert lemke_howson_all(games[0]).degenerate is True


@FAST
@given(st.integers(1, 8), st.integers(1, 8), st.integers(0, 2 ** 32 - 1))
def test_gaussian_games_regret_and_quantecon_agreement(m, n, seed):
    quantecon = pytest.importorskip("quantecon.game_theory")
    rng = np.random.default_rng(seed)
    row, column = rng.standard_normal((m, n)), rng.standard_normal((m, n))
    game = NormalFormGame.from_bimatrix(row, column)
    reference = quantecon.NormalFormGame((quantecon.Player(row), quantecon.Player(column.T)))
    for label in range(m + n):
        result = lemke_howson(game, initial_label=label)
        assert result.status == "success" and not result.exact
        equilibrium = result.equilibria[0]
        assert equilibrium.regret <= 1e-9
        # Gaussian games are nondegenerate almost surely: the path is unique, so QuantEcon's
        # Lemke-Howson (quantecon.game_theory.lemke_howson, same label convention) must agree
        expected = quantecon.lemke_howson(reference, init_pivot=label)
        for ours, theirs in zip(equilibrium.strategies, expected):
            np.testing.assert_allclose(ours, theirs, atol=1e-8)


@pytest.mark.parametrize("seed", range(8))
def test_agrees_with_nashpy_on_gaussian_games(seed):
    # nashpy.Game.lemke_howson (lexicographic integer-style pivoting, same label convention).
    # Gaussian payoffs: nondegenerate almost surely, so the Lemke-Howson path is unique. (On
    # integer games nashpy 0.0.4x overflows int64 tableaux, raises KeyError or loops, and when
    # m > n it returns a shifted column strategy that is no equilibrium; so only m <= n here.)
    nashpy = pytest.importorskip("nashpy")
    rng = np.random.default_rng(seed)
    m = int(rng.integers(1, 6))
    n = int(rng.integers(m, 7))
    row, column = rng.standard_normal((m, n)), rng.standard_normal((m, n))
    game = NormalFormGame.from_bimatrix(row, column)
    for label in range(m + n):
        ours = lemke_howson(game, initial_label=label).equilibria[0]
        theirs = nashpy.Game(row, column).lemke_howson(initial_dropped_label=label)
        for x, y in zip(ours.strategies, theirs):
            np.testing.assert_allclose(x, y, atol=1e-9)


def test_equilibrium_where_nashpy_returns_a_non_equilibrium():
    # Found while cross-checking: nashpy's lemke_howson returns a shifted column strategy on this
    # 5x4 game (m > n; regret about 0.2 of the payoff range); QuantEcon and we agree.
    quantecon = pytest.importorskip("quantecon.game_theory")
    rng = np.random.default_rng(1)
    for _ in range(20):
        m, n = (int(k) for k in rng.integers(1, 6, size=2))
        row = rng.integers(-10 ** 6, 10 ** 6, size=(m, n))
        column = rng.integers(-10 ** 6, 10 ** 6, size=(m, n))
        if (m, n) == (5, 4):
            break
    game = NormalFormGame.from_bimatrix(row, column)
    reference = quantecon.NormalFormGame((quantecon.Player(row), quantecon.Player(column.T)))
    result = lemke_howson(game, initial_label=0)
    assert result.exact and exact_regret(game, result.equilibria[0].strategies_exact) == 0
    for ours, theirs in zip(result.equilibria[0].strategies,
                            quantecon.lemke_howson(reference, init_pivot=0)):
        np.testing.assert_allclose(ours, theirs, atol=1e-9)


@FAST
@given(bimatrix_games(max_actions=4), st.integers(1, 5), st.integers(-5, 5), st.integers(1, 3),
       st.integers(-5, 5))
def test_positive_affine_payoff_changes_keep_the_result(matrices, a, b, c, d):
    row, column = (np.array(x, dtype=object) for x in matrices)
    game = NormalFormGame.from_bimatrix(row, column)
    changed = NormalFormGame.from_bimatrix(row * a + b, column * c + d)
    m, n = game.num_actions
    for label in range(m + n):
        first = lemke_howson(game, initial_label=label).equilibria[0]
        second = lemke_howson(changed, initial_label=label).equilibria[0]
        assert first.strategies_exact == second.strategies_exact


def test_float_pivoting_then_exact_certificate_on_a_larger_integer_game():
    rng = np.random.default_rng(7)
    row, column = rng.integers(0, 4, size=(25, 25)), rng.integers(0, 4, size=(25, 25))
    game = NormalFormGame.from_bimatrix(row, column)  # m + n = 50 > EXACT_PIVOTING_SIZE
    result = lemke_howson(game, initial_label=3)
    assert result.status == "success" and result.exact
    assert exact_regret(game, result.equilibria[0].strategies_exact) == 0


def test_200x200_gaussian_game():
    rng = np.random.default_rng(0)
    game = NormalFormGame.from_bimatrix(rng.standard_normal((200, 200)),
                                        rng.standard_normal((200, 200)))
    result = lemke_howson(game)
    assert result.status == "success"
    assert max_regret(game, result.equilibria[0].strategies) <= 1e-9
    # QuantEcon's Lemke-Howson needs 423 pivots on this game from label 0 (measured)
    assert result.iterations == 423


# --------------------------------------------------------------------------------------------
# status and validation
# --------------------------------------------------------------------------------------------

def test_pivot_cap_gives_max_iterations_status():
    result = lemke_howson(stengel(), initial_label=1, max_iterations=2)
    assert result.status == "max_iterations" and result.equilibria == () and result.iterations == 2
    assert not result.success and "cap" in result.message
    everything = lemke_howson_all(stengel(), max_iterations=2)
    assert everything.status == "max_iterations"
    assert -1 in everything.extra["label_equilibrium"]


def test_result_is_json_serialisable():
    json.dumps(lemke_howson_all(stengel()).to_dict())


@pytest.mark.parametrize("label", [-1, 5, 1.5, True, "0"])
def test_bad_initial_label_is_rejected(label):
    with pytest.raises(GameValidationError, match="initial_label"):
        lemke_howson(stengel(), initial_label=label)


def test_three_player_game_is_rejected():
    game = NormalFormGame(np.zeros((3, 2, 2, 2)))
    with pytest.raises(GameValidationError, match="two-player"):
        lemke_howson(game)
    with pytest.raises(GameValidationError, match="two-player"):
        lemke_howson_all(game)


def test_exact_requested_for_float_game_is_rejected():
    game = NormalFormGame.from_bimatrix([[0.5, 1.0]], [[1.0, 0.25]])
    with pytest.raises(GameValidationError, match="exact"):
        lemke_howson(game, exact=True)


# --------------------------------------------------------------------------------------------
# degenerate games: the path never cycles (exact lexicographic ties)
# --------------------------------------------------------------------------------------------

def _small_integer_game(size: int, high: int, seed: int) -> NormalFormGame:
    rng = np.random.default_rng([seed, size, high])
    row, column = rng.integers(0, high + 1, size=(2, size, size))
    return NormalFormGame.from_bimatrix(row, column)


@pytest.mark.parametrize(("size", "high", "seed"), [(30, 3, 2), (30, 1, 6), (40, 9, 3)])
def test_degenerate_integer_games_certified_from_every_label(size, high, seed):
    # Payoffs in {0..high} tie everywhere. Floating-point ratio tests with a tolerance cycle on
    # these games (they did: a basis repeated within a few hundred pivots, found by the kernel's
    # cycle detection); the exact lexicographic rule cannot cycle (von Stengel 2002, sec. 6).
    # Truth: exact rational regret 0 on the certified profile.
    game = _small_integer_game(size, high, seed)
    handed_over = 0
    for label in range(2 * size):
        result = lemke_howson(game, initial_label=label)
        assert result.status == "success" and result.exact, (label, result.message)
        assert 0 < result.iterations < lh_module.DEFAULT_MAX_PIVOTS
        assert result.extra["attempts"][-1] == (result.extra["arithmetic"], result.iterations,
                                                "certified")
        handed_over += len(result.extra["attempts"]) > 1
        assert exact_regret(game, result.equilibria[0].strategies_exact) == 0
    assert handed_over >= 1  # at least one float run cycled and was handed to exact ties


@pytest.mark.parametrize(("size", "high", "seed", "label"),
                         [(30, 3, 2, 47), (30, 1, 6, 6), (40, 9, 3, 22)])
def test_exact_tie_decisions_follow_the_integer_lexicographic_path(size, high, seed, label,
                                                                 monkeypatch):
    # Fraction-free integer pivoting is the textbook exact lexicographic rule (von Stengel 2002,
    # sec. 6); the float path with ties decided modulo a prime must take the same path: same
    # pivot count, same equilibrium.
    game = _small_integer_game(size, high, seed)
    monkeypatch.setattr(lh_module, "_STAGES", ("float+modular",))
    tracked = lemke_howson(game, initial_label=label)
    monkeypatch.setattr(lh_module, "_STAGES", ("integer",))
    integer = lemke_howson(game, initial_label=label)
    assert tracked.status == integer.status == "success"
    assert tracked.iterations == integer.iterations
    assert tracked.equilibria[0].strategies_exact == integer.equilibria[0].strategies_exact


def test_float_game_with_ties_does_not_cycle():
    # The same degenerate payoffs given as floats: float ties cycle, the exact path of the
    # (dyadic rational) float payoffs does not. Truth: regret of the profile below 1e-9.
    game = _small_integer_game(30, 3, 2)
    floats = NormalFormGame.from_bimatrix(game.payoffs[0], game.payoffs[1])
    assert not floats.is_exact
    result = lemke_howson(floats, initial_label=47)
    assert result.status == "success" and result.iterations < lh_module.DEFAULT_MAX_PIVOTS
    assert max_regret(floats, result.equilibria[0].strategies) <= 1e-9


@pytest.mark.parametrize("seed", range(2))
def test_wide_range_integer_games_match_quantecon_from_every_label(seed):
    # Payoffs spread over 10^6 values: no ties, so the Lemke-Howson path is unique and
    # QuantEcon's lemke_howson (which does not cycle here) must reach the same equilibrium,
    # which we certify exactly.
    quantecon = pytest.importorskip("quantecon.game_theory")
    rng = np.random.default_rng(seed)
    row, column = rng.integers(0, 10 ** 6, size=(2, 25, 25))
    game = NormalFormGame.from_bimatrix(row, column)
    reference = quantecon.NormalFormGame((quantecon.Player(row.astype(float)),
                                          quantecon.Player(column.T.astype(float))))
    for label in range(50):
        result = lemke_howson(game, initial_label=label)
        assert result.exact
        expected, info = quantecon.lemke_howson(reference, init_pivot=label, full_output=True)
        assert info.converged and info.num_iter == result.iterations
        for ours, theirs in zip(result.equilibria[0].strategies, expected):
            np.testing.assert_allclose(ours, theirs, atol=1e-9)


def test_all_labels_on_a_degenerate_game_give_exact_payoffs():
    # Truth: each player's expected payoff x^T M y computed in Fractions from the certified
    # strategies, with negative payoffs so the internal shift to positive entries must be undone.
    rng = np.random.default_rng(12)
    row, column = rng.integers(-4, 3, size=(2, 25, 25))
    game = NormalFormGame.from_bimatrix(row, column)
    result = lemke_howson_all(game)
    assert result.status == "success" and result.exact and result.equilibria
    for equilibrium in result.equilibria:
        x, y = equilibrium.strategies_exact
        expected = tuple(sum(x[i] * int(matrix[i, j]) * y[j] for i in range(25) for j in range(25))
                         for matrix in (row, column))
        assert tuple(equilibrium.payoffs_exact) == expected
        assert exact_regret(game, equilibrium.strategies_exact) == 0


def test_certificate_with_tied_actions_outside_the_basis():
    # Copies of actions tie exactly with the originals, so wherever an original is a best
    # response its copy is one too and the float bound of the certificate cannot separate them:
    # the rational comparison decides. Truth: exact rational regret 0 (computed independently
    # by exact_regret), and the copies of every best response played are best responses too.
    rng = np.random.default_rng(12)
    row, column = rng.integers(0, 10, size=(2, 24, 24))
    row = np.vstack([row, row[:24]])            # 48 rows: row 24 + i copies row i
    column = np.vstack([column, column[:24]])
    game = NormalFormGame.from_bimatrix(row, column)
    for label in (0, 3, 50):
        result = lemke_howson(game, initial_label=label)
        assert result.status == "success" and result.exact
        assert result.extra["arithmetic"] != "integer"  # m + n = 72: the float path certified
        x, y = result.equilibria[0].strategies_exact
        assert exact_regret(game, (x, y)) == 0
        payoffs = [sum(F(int(a)) * q for a, q in zip(r, y)) for r in row.tolist()]
        best = max(payoffs)
        played = [i for i, p in enumerate(x) if p > 0]
        assert all(payoffs[(i + 24) % 48] == best for i in played)


def test_short_paths_without_tableaux_match_the_tableau_route(monkeypatch):
    # Exact games above EXACT_PIVOTING_SIZE first try a short path without tableaux
    # (_kernels.lemke_howson_short). Truth: the tableau route (independent code, the same
    # lexicographic rule) on the same game and label, and the exact certificate (regret 0).
    # Degenerate payoffs (0..2) force ratio ties, decided by the kernel's lexicographic rule.
    from gametools.solvers import _kernels

    if not _kernels.NUMBA_AVAILABLE:
        pytest.skip("numba is not installed: the short-path kernel does not exist")
    original = lh_module._short_path
    taken = []

    def counted(*args):
        result = original(*args)
        taken.append(result is not None)
        return result

    for seed in range(8):
        rng = np.random.default_rng([seed, 31])
        high = [3, 10][seed % 2]
        a, b = rng.integers(0, high, size=(2, 24, 27))
        game = NormalFormGame.from_bimatrix(a, b)
        for label in (0, 30, int(rng.integers(0, 51))):
            monkeypatch.setattr(lh_module, "_short_path", counted)
            short = lemke_howson(game, initial_label=label)
            monkeypatch.setattr(lh_module, "_short_path", lambda *args: None)
            tableau = lemke_howson(game, initial_label=label)
            assert short.status == tableau.status == "success"
            assert short.exact and exact_regret(game, short.equilibria[0].strategies_exact) == 0
            assert short.equilibria[0].strategies_exact == tableau.equilibria[0].strategies_exact
            assert short.iterations == tableau.iterations
    assert any(taken) and not all(taken)  # both the short route and a handover were exercised


def test_integer_certificate_agrees_with_the_rational_one(monkeypatch):
    # Games given as integer arrays are certified in int64 (NormalFormGame.integer_payoffs);
    # truth: the same game given as Fractions (the float bound plus rational ties), on the
    # final bases of Lemke-Howson paths (equilibria) and on altered bases (no equilibrium).
    import numba  # noqa: F401  (the int64 kernel runs once numba is loaded)

    original = lh_module._exact_equilibrium
    seen = []

    def recorded(game, supports):
        seen.append(tuple(np.array(s, dtype=np.int64) for s in supports))
        return original(game, supports)

    monkeypatch.setattr(lh_module, "_exact_equilibrium", recorded)
    checked = rejected = 0
    for seed in range(6):
        rng = np.random.default_rng([seed, 77])
        a, b = rng.integers(0, 4, size=(2, 30, 25))
        game = NormalFormGame.from_bimatrix(a, b)
        assert game.integer_payoffs is not None
        rational = NormalFormGame.from_bimatrix(a.astype(object) + Fraction(0), b.astype(object))
        assert rational.integer_payoffs is None
        seen.clear()
        assert lemke_howson(game, initial_label=int(rng.integers(0, 55))).status == "success"
        x_support, columns, y_support, rows = seen[-1]
        altered = (x_support, columns, y_support, (rows + 1) % 30)
        for supports in (seen[-1], altered):
            fast = original(game, supports)
            slow = original(rational, supports)
            assert (fast is None) == (slow is None)
            if fast is not None:
                assert fast.strategies_exact == slow.strategies_exact
                assert fast.payoffs_exact == slow.payoffs_exact
                assert exact_regret(game, fast.strategies_exact) == 0
                checked += 1
            else:
                rejected += 1
    assert checked and rejected
