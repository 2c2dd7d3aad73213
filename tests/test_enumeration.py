"""Tests for gametools.solvers.enumeration (vertex / support enumeration) and dominance (IESDS)."""

from __future__ import annotations

import json
import os
import warnings
from fractions import Fraction
from pathlib import Path

import known_games
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gametools import NormalFormGame
from gametools.errors import GameValidationError
from gametools.solvers import _polytope
from gametools.solvers import enumeration as enumeration_module
from gametools.solvers.dominance import iterated_elimination
from gametools.solvers.enumeration import (
    support_enumeration,
    vertex_enumeration,
    vertex_enumeration_gen,
)
from gametools.solvers.result import exact_regret

SHARED = Path(os.environ.get("GAMETOOLS_SHARED", Path(__file__).resolve().parents[2] / "shared"))
GAMBIT_DIR = SHARED / "fixtures" / "gambit"
F = Fraction


def exact_set(result) -> set[tuple[tuple[Fraction, ...], ...]]:
    return {e.strategies_exact for e in result.equilibria}


def profile_set(profiles) -> set[tuple[tuple[Fraction, ...], ...]]:
    return {tuple(tuple(Fraction(v) for v in x) for x in p) for p in profiles}


def small_integer_games(max_actions: int = 5, low: int = -3, high: int = 3):
    """Hypothesis strategy: bimatrix games with small integer payoffs (often degenerate)."""
    return st.tuples(st.integers(1, max_actions), st.integers(1, max_actions)).flatmap(
        lambda shape: st.tuples(
            *[st.lists(st.integers(low, high), min_size=shape[0] * shape[1],
                       max_size=shape[0] * shape[1]) for _ in range(2)]).map(
            lambda ab: NormalFormGame.from_bimatrix(np.array(ab[0]).reshape(shape),
                                                    np.array(ab[1]).reshape(shape))))


# ------------------------------------------------------------------------------------------------
# known games
# ------------------------------------------------------------------------------------------------

TWO_PLAYER_KNOWN = [known_games.von_stengel_3x2(), known_games.battle_of_the_sexes(),
                    known_games.matching_pennies(), known_games.prisoners_dilemma(),
                    known_games.degenerate_von_stengel(), known_games.constant_game()]


@pytest.mark.parametrize("known", TWO_PLAYER_KNOWN, ids=lambda k: k.name)
def test_known_games_exact_extreme_set(known):
    # expected sets: tests/known_games.py (sources cited there; REFERENCES.md for von Stengel)
    result = vertex_enumeration(known.game)
    assert result.complete and result.exact and result.success
    assert exact_set(result) == profile_set(known.equilibria)
    for equilibrium in result.equilibria:
        assert exact_regret(known.game, equilibrium.strategies_exact) == 0


def test_von_stengel_nondegenerate_and_payoffs():
    # REFERENCES.md: ((1,0,0),(1,0)), ((4/5,1/5,0),(2/3,1/3)), ((0,1/3,2/3),(1/3,2/3))
    result = vertex_enumeration(known_games.von_stengel_3x2().game)
    assert result.degenerate is False
    assert sorted(e.payoffs_exact for e in result.equilibria) == sorted(
        [(F(3), F(3)), (F(3), F(14, 5)), (F(4), F(8, 3))])


def test_degenerate_von_stengel_cliques():
    # hand-derived (tests/known_games.py): the segment {(1,0,0)} x [(1,0), (2/3,1/3)] and the
    # isolated ((0,1/3,2/3),(1/3,2/3)): two maximal convex sets.
    result = vertex_enumeration(known_games.degenerate_von_stengel().game)
    assert result.degenerate is True
    rows = [tuple(F(v) for v in x) for x in result.extra["row_vertices"]]
    cols = [tuple(F(v) for v in y) for y in result.extra["column_vertices"]]
    cliques = {(frozenset(rows[i] for i in c.row), frozenset(cols[j] for j in c.column))
               for c in result.cliques}
    assert cliques == {
        (frozenset({(1, 0, 0)}), frozenset({(1, 0), (F(2, 3), F(1, 3))})),
        (frozenset({(0, F(1, 3), F(2, 3))}), frozenset({(F(1, 3), F(2, 3))}))}
    for clique in result.cliques:
        for k in clique.equilibrium_indices:
            e = result.equilibria[k]
            assert rows.index(e.strategies_exact[0]) in clique.row
            assert cols.index(e.strategies_exact[1]) in clique.column


def test_indifferent_row_player_continuum():
    # Hand-solved: A constant, B = identity (column matches row). Extreme equilibria
    # ((1,0),(1,0)), ((1/2,1/2),(1,0)), ((1/2,1/2),(0,1)), ((0,1),(0,1)); three cliques.
    game = NormalFormGame.from_bimatrix([[1, 1], [1, 1]], [[1, 0], [0, 1]])
    result = vertex_enumeration(game)
    half = (F(1, 2), F(1, 2))
    assert exact_set(result) == {((1, 0), (1, 0)), (half, (1, 0)), (half, (0, 1)),
                                 ((0, 1), (0, 1))}
    assert len(result.cliques) == 3 and result.degenerate is True
    midpoint = ((F(1, 2), F(1, 2)), (F(1, 3), F(2, 3)))  # inside the clique {half} x Delta
    assert exact_regret(game, midpoint) == 0


def test_generator_twin_matches():
    game = known_games.degenerate_von_stengel().game
    assert {e.strategies_exact for e in vertex_enumeration_gen(game)} == \
        exact_set(vertex_enumeration(game))


def test_rejects_three_players_and_non_games():
    with pytest.raises(GameValidationError):
        vertex_enumeration(NormalFormGame(np.zeros((3, 2, 2, 2), dtype=int)))
    with pytest.raises(TypeError):
        vertex_enumeration([[1, 2], [3, 4]])


def test_float_payoffs_solved_exactly():
    known = known_games.von_stengel_3x2()
    a = np.array([[3, 3], [2, 5], [0, 6]])
    b = np.array([[3, 2], [2, 6], [3, 1]])
    # scaling by 0.25 is exact in binary: exactly the same equilibria
    result = vertex_enumeration(NormalFormGame.from_bimatrix(a * 0.25, b * 0.25))
    assert result.extra["float_payoffs"] is True and result.complete
    assert exact_set(result) == profile_set(known.equilibria)
    # 0.1 is not: the float game's exact equilibria are near, not equal to, the rational ones
    result = vertex_enumeration(NormalFormGame.from_bimatrix(a * 0.1, b * 0.1))
    assert len(result.equilibria) == 3 and all(e.regret == 0 for e in result.equilibria)
    for e, expected in zip(result.equilibria, known.equilibria):
        for got, want in zip(e.strategies, expected):
            np.testing.assert_allclose(got, np.asarray(want, dtype=float), atol=1e-12)


def test_nashpy_game_accepted():
    nashpy = pytest.importorskip("nashpy")
    result = vertex_enumeration(nashpy.Game([[1, -1], [-1, 1]]))
    assert exact_set(result) == {((F(1, 2), F(1, 2)), (F(1, 2), F(1, 2)))}


# ------------------------------------------------------------------------------------------------
# Gambit fixtures
# ------------------------------------------------------------------------------------------------

def _gambit_cases():
    path = GAMBIT_DIR / "expected.json"
    if not path.is_file():
        return [pytest.param(None, marks=pytest.mark.skip(
            reason=f"Gambit fixtures not found in {GAMBIT_DIR} (set GAMETOOLS_SHARED)"))]
    return [pytest.param(entry, id=entry["file"]) for entry in json.loads(path.read_text())
            if "extreme_equilibria" in entry]


@pytest.mark.parametrize("entry", _gambit_cases())
def test_gambit_fixture_exact_set(entry):
    # Expected: Gambit 16.7.0 enummixed_solve (rational), shared/fixtures/gambit/expected.json
    from gametools.formats.nfg import read_nfg
    game = NormalFormGame(read_nfg(GAMBIT_DIR / entry["file"]).payoffs)
    result = vertex_enumeration(game)
    expected = {tuple(tuple(Fraction(v) for v in x) for x in e)
                for e in entry["extreme_equilibria"]}
    assert result.complete
    assert exact_set(result) == expected
    assert len(result.equilibria) == len(expected)  # no duplicates


def test_certificate_failure_falls_back(monkeypatch):
    # Drop one of Qhull's simplices: the certificate must fail and the exact fallback must still
    # return the complete set (expected set from Gambit, fixture f00).
    original = _polytope._qhull_bases

    def damaged(matrix, options):
        simplices, vertices = original(matrix, options)
        keep = np.ones(len(simplices), dtype=bool)
        keep[np.flatnonzero((simplices >= matrix.shape[1]).any(axis=1))[0]] = False
        return simplices[keep], vertices[keep]

    matrix = np.random.default_rng(0).integers(1, 4, size=(5, 5))
    # the compiled small-polytope route is taken once its kernel is loaded (by any earlier test in
    # this process); this test is about the Qhull route, so keep it off
    monkeypatch.setattr(_polytope, "_small_bases", lambda matrix: None)
    intact, _ = _polytope.polytope_vertices(matrix)
    assert intact.method == "qhull+certificate"
    monkeypatch.setattr(_polytope, "_qhull_bases", damaged)
    found, note = _polytope.polytope_vertices(matrix)
    assert found.method == "bases" and found.complete and "closed cycle" in note
    assert set(zip(found.numerators, found.denominators)) == \
        set(zip(intact.numerators, intact.denominators))
    if not (GAMBIT_DIR / "f00_8x4.nfg").is_file():
        pytest.skip("Gambit fixtures not found")
    from gametools.formats.nfg import read_nfg
    entry = next(e for e in json.loads((GAMBIT_DIR / "expected.json").read_text())
                 if e["file"] == "f00_8x4.nfg")
    result = vertex_enumeration(NormalFormGame(read_nfg(GAMBIT_DIR / "f00_8x4.nfg").payoffs))
    assert result.complete
    assert exact_set(result) == {tuple(tuple(Fraction(v) for v in x) for x in e)
                                 for e in entry["extreme_equilibria"]}


# ------------------------------------------------------------------------------------------------
# properties
# ------------------------------------------------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(small_integer_games())
def test_property_exact_regret_zero_and_matches_exact_bases(game):
    result = vertex_enumeration(game)
    assert result.complete and len(result.equilibria) >= 1  # Nash: at least one equilibrium
    for equilibrium in result.equilibria:
        assert exact_regret(game, equilibrium.strategies_exact) == 0
    # independent route: exact enumeration of every basis (no Qhull)
    a, b = (game.payoffs_exact[i] for i in range(2))
    shift = lambda m: np.array([[int(v - min(m.ravel())) + 1 for v in row] for row in m])
    p = _polytope._all_bases(shift(b).T)
    q = _polytope._all_bases(shift(a))
    got_p = set(zip(_polytope.polytope_vertices(shift(b).T)[0].numerators,
                    _polytope.polytope_vertices(shift(b).T)[0].denominators))
    assert got_p == set(zip(p.numerators, p.denominators))
    got_q = _polytope.polytope_vertices(shift(a))[0]
    assert set(zip(got_q.numerators, got_q.denominators)) == set(zip(q.numerators,
                                                                      q.denominators))


@settings(max_examples=40, deadline=None)
@given(small_integer_games(), st.integers(1, 5), st.integers(-7, 7), st.integers(1, 5),
       st.integers(-7, 7), st.randoms(use_true_random=False))
def test_property_affine_and_permutation_invariance(game, s1, c1, s2, c2, random):
    base = exact_set(vertex_enumeration(game))
    a, b = game.payoffs_exact
    transformed = NormalFormGame.from_bimatrix(a * s1 + c1, b * s2 + c2)
    assert exact_set(vertex_enumeration(transformed)) == base
    m, n = game.num_actions
    rows, cols = list(range(m)), list(range(n))
    random.shuffle(rows)
    random.shuffle(cols)
    permuted = NormalFormGame.from_bimatrix(a[np.ix_(rows, cols)], b[np.ix_(rows, cols)])
    expected = {(tuple(x[i] for i in rows), tuple(y[j] for j in cols)) for x, y in base}
    assert exact_set(vertex_enumeration(permuted)) == expected


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 4), st.integers(2, 4), st.integers(0, 2 ** 32 - 1))
def test_property_gaussian_games_agree_with_nashpy_and_support_enumeration(m, n, seed):
    nashpy = pytest.importorskip("nashpy")
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=(m, n)), rng.normal(size=(m, n))
    game = NormalFormGame.from_bimatrix(a, b)
    ours = vertex_enumeration(game)
    assert ours.degenerate is False  # Gaussian games are nondegenerate almost surely
    # support enumeration (independent method) finds exactly the same exact set
    assert exact_set(support_enumeration(game)) == exact_set(ours)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs_vertex = list(nashpy.Game(a, b).vertex_enumeration())
        theirs_support = list(nashpy.Game(a, b).support_enumeration())
    floats = [np.concatenate(e.strategies) for e in ours.equilibria]

    def found(profile):
        point = np.concatenate(profile)
        return any(np.allclose(point, f, atol=1e-7) for f in floats)

    assert len(theirs_vertex) == len(floats) and all(found(p) for p in theirs_vertex)
    # nashpy's support enumeration can MISS equilibria of Gaussian games (its default tolerance
    # 1e-16; see DESIGN.md "Performance ground"), so only check that what it finds is ours.
    assert all(found(p) for p in theirs_support)


def test_support_enumeration_on_degenerate_game_is_not_complete():
    result = support_enumeration(known_games.degenerate_von_stengel().game)
    assert result.complete is False
    # equilibria it does return are exact equilibria (here a subset of the extreme ones)
    expected = profile_set(known_games.degenerate_von_stengel().equilibria)
    assert exact_set(result) <= expected and len(result.equilibria) >= 1
    assert result.degenerate is True  # (1,0,0) has two best responses


# ------------------------------------------------------------------------------------------------
# iterated elimination of strictly dominated strategies
# ------------------------------------------------------------------------------------------------

def test_iesds_prisoners_dilemma():
    # textbook: defect (action 1) strictly dominates cooperate for both players
    reduced, surviving = iterated_elimination(known_games.prisoners_dilemma().game)
    assert [s.tolist() for s in surviving] == [[1], [1]]
    assert reduced.payoffs_exact[:, 0, 0].tolist() == [1, 1]


def test_iesds_needs_mixed_domination():
    # Row 2 pays 1 against both columns; the 50-50 mix of rows 0 and 1 pays 3/2 > 1, while
    # neither pure row dominates it (Fudenberg-Tirole 1991, fig. 2.1 style example).
    game = NormalFormGame.from_bimatrix([[3, 0], [0, 3], [1, 1]], [[1, 0], [0, 1], [0, 0]])
    _, pure_only = iterated_elimination(game, mixed=False)
    assert [s.tolist() for s in pure_only] == [[0, 1, 2], [0, 1]]
    reduced, surviving = iterated_elimination(game)
    assert [s.tolist() for s in surviving] == [[0, 1], [0, 1]]
    assert reduced.num_actions == (2, 2) and reduced.is_exact


def test_iesds_keeps_weakly_dominated_and_iterates():
    # Row 1 only weakly dominated (ties against column 0): kept. Iteration: column 1 is strictly
    # dominated by column 0; then nothing else goes.
    game = NormalFormGame.from_bimatrix([[1, 1], [1, 0]], [[2, 1], [2, 1]])
    _, surviving = iterated_elimination(game)
    assert [s.tolist() for s in surviving] == [[0, 1], [0]]
    # a mixture that ties exactly is not strict: (1/2, 1/2) of rows 0, 1 vs row 2 = 3/2 each
    tie = NormalFormGame.from_bimatrix([[3, 0], [0, 3], [F(3, 2), F(3, 2)]], np.zeros((3, 2), int))
    assert iterated_elimination(tie)[1][0].tolist() == [0, 1, 2]


def test_iesds_three_players_keeps_equilibria():
    # 3 players, 2 actions: action 1 strictly dominant for everyone (payoff own action + noise
    # independent of others), so only profile (1, 1, 1) survives.
    payoffs = np.zeros((3, 2, 2, 2))
    for i in range(3):
        payoffs[i] = np.moveaxis(np.broadcast_to(np.array([0.0, 1.0]).reshape(2, 1, 1),
                                                 (2, 2, 2)), 0, i)
    payoffs += 0.25 * np.arange(8).reshape(1, 2, 2, 2) / 8
    _, surviving = iterated_elimination(NormalFormGame(payoffs), tol=1e-12)
    assert [s.tolist() for s in surviving] == [[1], [1], [1]]


@settings(max_examples=40, deadline=None)
@given(small_integer_games(max_actions=4))
def test_property_iesds_keeps_every_equilibrium(game):
    _, surviving = iterated_elimination(game)
    for equilibrium in vertex_enumeration(game).equilibria:
        for strategy, kept in zip(equilibrium.strategies_exact, surviving):
            support = {i for i, v in enumerate(strategy) if v > 0}
            assert support <= set(kept.tolist())


@pytest.mark.parametrize("seed", range(4))
def test_float_games_match_the_fully_exact_route(seed: int, monkeypatch: pytest.MonkeyPatch
                                                 ) -> None:
    # Float (Gaussian) games prove most vertices with rigorous floating-point enclosures; the
    # fully exact route (no compiled kernels) must give the same complete set.
    from gametools.solvers import _kernels

    rng = np.random.default_rng(100 + seed)
    game = NormalFormGame.from_bimatrix(rng.normal(size=(7, 7)), rng.normal(size=(7, 7)))
    fast = vertex_enumeration(game)
    monkeypatch.setattr(_kernels, "NUMBA_AVAILABLE", False)
    exact = vertex_enumeration(game)
    as_set = lambda result: {e.strategies_exact for e in result.equilibria}  # noqa: E731
    assert fast.complete and exact.complete
    assert as_set(fast) == as_set(exact)


def test_small_game_does_not_load_numba() -> None:
    # `gametools solve` on a small file must not pay numba's start-up (about half a second of
    # CPU): small polytopes are proved by the NumPy route unless numba is already loaded.
    # Truth: the fresh interpreter's module table after a complete, exact enumeration.
    import subprocess
    import sys

    code = ("import sys\n"
            "import numpy as np\n"
            "from gametools import NormalFormGame\n"
            "from gametools.solvers.enumeration import vertex_enumeration\n"
            "rng = np.random.default_rng(5)\n"
            "for a, b in (rng.integers(-5, 6, size=(2, 6, 6)), rng.normal(size=(2, 6, 6))):\n"
            "    result = vertex_enumeration(NormalFormGame.from_bimatrix(a, b))\n"
            "    assert result.complete and result.equilibria\n"
            "    assert result.extra['vertex_counts'][0] > 20  # Qhull route, not all bases\n"
            "print('numba' in sys.modules)\n")
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         check=True, cwd=root)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize(("rows", "cols", "high", "seed"),
                         [(4, 4, 2, 0), (5, 5, 3, 1), (6, 6, 10, 2), (6, 6, 1, 3), (5, 4, 6, 4),
                          (3, 6, 2, 5)])
def test_small_polytopes_kernel_matches_exact_bases(rows: int, cols: int, high: int, seed: int,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    # Small polytopes are enumerated basis by basis in the compiled kernel (int64 Bareiss).
    # Truth: the same enumeration in Python rationals (_all_bases, exact object arithmetic),
    # vertex by vertex with the full tight sets, on degenerate matrices (entries 1..high+1).
    from gametools.solvers import _kernels

    if not _kernels.NUMBA_AVAILABLE:
        pytest.skip("numba is not installed: the kernel route does not exist")
    monkeypatch.setattr(_kernels, "worthwhile", lambda steps: True)
    rng = np.random.default_rng([seed, rows, cols])
    matrix = rng.integers(1, high + 2, size=(rows, cols))
    fast, _ = _polytope.polytope_vertices(matrix)
    assert fast.method == "bases" and fast.complete
    truth = _polytope._all_bases(matrix.astype(object))
    as_set = lambda found: {(tuple(num), den, tuple(tight)) for num, den, tight in zip(  # noqa
        found.numerators, found.denominators, found.tight_array.tolist())}
    assert as_set(fast) == as_set(truth)


def test_square_integer_solve_hand_solved_and_random() -> None:
    # solve_square_integers serves the polytope vertices and the Lemke-Howson support systems.
    # Hand-solved: [[2, 1], [1, 3]] z = (3, 5) has z = (4/5, 7/5) (det 5); a zero first pivot
    # needs a row exchange; a singular matrix has no solution.
    from gametools.numerics import solve_square_integers

    assert solve_square_integers([[2, 1], [1, 3]], [3, 5]) == ([4, 7], 5)
    assert solve_square_integers([[0, 1], [1, 0]], [2, 3]) == ([3, 2], 1)
    assert solve_square_integers([[1, 2], [2, 4]], [1, 1]) is None
    # Random systems (entries up to 2^62, as float payoffs made integer): the defining property
    # M @ numerators == det * rhs with det > 0, checked in Python integers, and det equal to
    # |det M| from Fraction Gaussian elimination (numerators/det need not be reduced).
    rng = np.random.default_rng(7)
    for trial in range(200):
        k = int(rng.integers(1, 8))
        high = [3, 1000, 2 ** 62][trial % 3]
        matrix = [[int(v) for v in row] for row in rng.integers(-high, high, size=(k, k))]
        matrix = [[v if rng.random() < 0.8 else 0 for v in row] for row in matrix]
        rhs = [int(v) for v in rng.integers(-5, 6, size=k)]
        work = [[Fraction(v) for v in row] for row in matrix]
        det = Fraction(1)
        for col in range(k):
            pivot = next((i for i in range(col, k) if work[i][col] != 0), None)
            if pivot is None:
                det = Fraction(0)
                break
            if pivot != col:
                work[col], work[pivot] = work[pivot], work[col]
                det = -det
            det *= work[col][col]
            for i in range(col + 1, k):
                factor = work[i][col] / work[col][col]
                work[i] = [a - factor * b for a, b in zip(work[i], work[col])]
        solved = solve_square_integers(matrix, rhs)
        if det == 0:
            assert solved is None
            continue
        assert solved is not None
        numerators, determinant = solved
        assert determinant == abs(det)
        assert all(sum(a * z for a, z in zip(row, numerators)) == determinant * b
                   for row, b in zip(matrix, rhs))


@pytest.mark.parametrize("seed", range(3))
def test_graph_search_matches_exact_bases_and_declines_degenerate(seed: int) -> None:
    # Float games: the vertex-graph search (each vertex proved nondegenerate, completeness from
    # the graph's connectivity). Truth: every basis enumerated in Python rationals (_all_bases).
    from gametools.solvers import _kernels

    if not _kernels.NUMBA_AVAILABLE:
        pytest.skip("numba is not installed: the graph search does not exist")
    import numba  # noqa: F401  (loaded: the kernel route is taken whatever the size)

    rng = np.random.default_rng([seed, 5])
    game = NormalFormGame.from_bimatrix(rng.normal(size=(5, 6)), rng.normal(size=(5, 6)))
    data = enumeration_module._exact_bimatrix(game)
    for matrix in (data.column.T, data.row):
        found = _polytope._graph_search(matrix)
        assert found is not None and found.method == "graph+enclosure"
        truth = _polytope._all_bases(np.asarray(matrix, dtype=object))
        assert set(zip(found.numerators, found.denominators)) == \
            set(zip(truth.numerators, truth.denominators))
        assert len(found.numerators) == len(truth.numerators)
    # a repeated row: either it is never tight (then the list must still be exact) or it
    # makes degenerate vertices, where the search declines (another route decides)
    repeated = data.row.copy()
    repeated[1] = repeated[0]
    found = _polytope._graph_search(repeated)
    if found is not None:
        truth = _polytope._all_bases(np.asarray(repeated, dtype=object))
        assert sorted(zip(found.numerators, found.denominators)) == \
            sorted(zip(truth.numerators, truth.denominators))
    # every vertex but the origin of a constant matrix is degenerate: declined
    assert _polytope._graph_search(np.full((4, 5), 2 ** 40, dtype=np.int64)) is None
