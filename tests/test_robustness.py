"""Robustness of the default solve: certified equilibria or a loud failure, never a silent one.

The full random sets (200 normal-form games, 100 stochastic games) run in
``bench/bench_robustness.py``; here a small sample of each, plus the regressions that motivated
the loud-failure contract (exit 3 from ``gametools solve`` when nothing is certified).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from gametools import NormalFormGame, nash_conv
from gametools.cli import main
from gametools.formats import write_nfg
from gametools.formats.npz import save_game
from gametools.solvers import solve
from gametools.solvers.result import max_regret, reward_range

_SPEC = importlib.util.spec_from_file_location(
    "bench_robustness", Path(__file__).resolve().parents[1] / "bench" / "bench_robustness.py")
assert _SPEC is not None and _SPEC.loader is not None
bench = importlib.util.module_from_spec(_SPEC)  # the random sets live in the benchmark
_SPEC.loader.exec_module(bench)

# McKelvey and McLennan's 2x2x2 game with 9 Nash equilibria (2 totally mixed), Gambit's
# contrib/games/2x2x2.nfg (github:gambitproject/gambit, commit 8883f75), payoffs in Gambit's
# order (player 1's action varies fastest). Gambit's logit follows the principal branch past a
# bifurcation near lambda 0.6 to the pure equilibrium (1, 1, 1): everybody plays action 1.
_MM_OUTCOMES = [(9, 8, 12), (0, 0, 0), (0, 0, 0), (9, 8, 2),
                (0, 0, 0), (3, 4, 6), (3, 4, 6), (0, 0, 0)]


def mckelvey_mclennan() -> NormalFormGame:
    payoffs = np.zeros((3, 2, 2, 2), dtype=int)
    for k, outcome in enumerate(_MM_OUTCOMES):
        a, b, c = k % 2, (k // 2) % 2, k // 4
        payoffs[:, a, b, c] = outcome
    return NormalFormGame(payoffs)


def test_mckelvey_mclennan_default_solve_is_certified() -> None:
    game = mckelvey_mclennan()
    result = solve(game)
    assert result.status == "success" and result.certified
    strategies = result.equilibria[0].strategies
    assert max_regret(game, strategies) <= 1e-8
    # Gambit's logit reaches the pure profile (1, 1, 1), payoffs (9, 8, 12) from the table above
    for strategy in strategies:
        np.testing.assert_allclose(strategy, [1.0, 0.0], atol=1e-8)


def test_logit_path_switches_branch_at_the_bifurcation() -> None:
    # the logit path itself (no fallback) passes the bifurcation and ends at (1, 1, 1)
    from gametools.solvers.logit import logit_solve

    result = logit_solve(mckelvey_mclennan())
    assert result.status == "success"
    assert result.extra["bifurcations"] >= 1 and result.extra["branch_switches"] == 1
    for strategy in result.equilibria[0].strategies:
        np.testing.assert_allclose(strategy, [1.0, 0.0], atol=1e-8)


def test_cli_exit_status_3_when_not_certified(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    # Shapley's (1964) 3x3 game: fictitious play cycles and never approaches the unique (uniform)
    # equilibrium, so the approximate method cannot certify.
    path = tmp_path / "shapley.nfg"
    write_nfg(path, [[[1, 0, 0], [0, 1, 0], [0, 0, 1]], [[0, 1, 0], [0, 0, 1], [1, 0, 0]]])
    code = main(["solve", str(path), "--method", "fictitious-play", "--json"])
    captured = capsys.readouterr()
    assert code == 3
    document = json.loads(captured.out)  # --json still prints the document
    assert document["status"] == "failed" and document["certified"] is False
    assert len(captured.err.strip().splitlines()) == 1 and "not certified" in captured.err
    code = main(["solve", str(path), "--method", "fictitious-play"])
    assert code == 3 and "NOT CERTIFIED" in capsys.readouterr().out


def test_cli_mckelvey_mclennan_exits_0(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "2x2x2.nfg"
    exact = mckelvey_mclennan().payoffs_exact
    assert exact is not None
    write_nfg(path, exact)
    code = main(["solve", str(path), "--json"])
    document = json.loads(capsys.readouterr().out)
    assert code == 0 and document["certified"] is True
    assert max(e["regret"] for e in document["equilibria"]) <= 1e-8


def test_stochastic_64_states_certifies_or_exits_3(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    # the shape of the report: 64 states, 2 players x 4 actions, transitions over all 64
    # successors, discount 0.95; exit 0 must mean a certified equilibrium (independent check)
    game = bench.markov_game(np.random.default_rng(4), 64, 2, 4, 0.95)
    path = tmp_path / "game.npz"
    save_game(path, game)
    code = main(["solve", str(path), "--json"])
    document = json.loads(capsys.readouterr().out)
    assert code in (0, 3)
    policies = [np.asarray(p) for p in document["equilibria"][0]["strategies"]]
    certificate = nash_conv(game, policies).per_player.max() / reward_range(game)
    if code == 0:
        assert certificate <= 1e-8
    else:
        assert document["certified"] is False


# a sample of the benchmark's sets (bench/bench_robustness.py runs all 200 + 100 + 16):
# 2x2x2 Gaussian, 5 x 2 Gaussian, 3x3x3 integer, 3x3x3 / 4x4x4 / 5 x 2 degenerate
@pytest.mark.parametrize("index", [0, 7, 11, 19, 22, 23])
def test_random_normal_form_default_solve_certifies(index: int) -> None:
    _, game = bench.normal_game(index)
    result = solve(game)
    assert result.status == "success", result.message
    assert max_regret(game, result.equilibria[0].strategies) <= 1e-8


# 4 and 8 states, 2 and 3 players, dense and sparse, uniform and integer rewards
@pytest.mark.parametrize("index", [0, 1, 6, 7, 12, 13])
def test_random_stochastic_default_solve_certifies(index: int) -> None:
    _, game = bench.stochastic_game(index)
    result = solve(game)
    assert result.status == "success", result.message
    report = nash_conv(game, result.equilibria[0].strategies)
    assert report.per_player.max() / reward_range(game) <= 1e-8


class _Cubic:
    """H(x, lam) = x^3 - 3x + 18 - lam: from (-3, 0) lam rises to a fold at x = -1 (lam = 20),
    falls to a fold at x = 1 (lam = 16) and rises again (calculus: dlam/dx = 3x^2 - 3)."""

    dim = 1

    def residual(self, y: np.ndarray) -> np.ndarray:
        return np.array([y[0] ** 3 - 3 * y[0] + 18 - y[1]])

    def jacobian(self, y: np.ndarray) -> np.ndarray:
        return np.array([[3 * y[0] ** 2 - 3, -1.0]])

    def linearize(self, y: np.ndarray, border: np.ndarray):  # type: ignore[no-untyped-def]
        from gametools.solvers._continuation import DenseLinearization

        return self.residual(y), DenseLinearization(self.jacobian(y), border)


def test_engine_follows_the_path_through_both_folds() -> None:
    from gametools.solvers._continuation import trace_path

    lambdas: list[float] = []

    def stop(state) -> bool:  # type: ignore[no-untyped-def]
        lambdas.append(float(state.point[-1]))
        return bool(state.point[-1] > 30.0)

    state = trace_path(_Cubic(), np.array([-3.0, 0.0]), first_step=0.1, max_iterations=10_000,
                       stop=stop, lambda_min=None)
    assert state.status == "stopped" and state.turning_points == 2
    x, lam = state.point
    # on the curve to the corrector's tolerance (1e-7 in step length, relative to the size)
    assert x > 1.0 and abs(x ** 3 - 3 * x + 18 - lam) <= 1e-7 * lam
    # the folds are where the closed form puts them
    top = int(np.argmax(lambdas[:len(lambdas) // 2]))
    assert lambdas[top] == pytest.approx(20.0, abs=1e-2)
    assert min(lambdas[top:]) == pytest.approx(16.0, abs=1e-2)


def test_solver_certificate_is_computed_at_the_payoff_range_not_its_magnitude() -> None:
    # Battle of the sexes shifted by 1e12: the mixed equilibrium (1/3, 2/3) for both players is
    # exact (hand-solved: each player is indifferent, 2 * (1/3) = 1 * (2/3)). At magnitude 1e12 a
    # float expected payoff is off by ~1e-4, which used to show as a relative regret of 6e-5 and
    # fail certification; the shift cancels in every gain, so the certificate must be ~0.
    from gametools.solvers.result import max_regret

    battle = np.array([[2.0, 0.0], [0.0, 1.0]])
    game = NormalFormGame.from_bimatrix(battle + 1e12, battle + 1e12)
    mixed = [np.array([1 / 3, 2 / 3]), np.array([1 / 3, 2 / 3])]
    assert max_regret(game, mixed) < 1e-15
    # a real deviation gain is still seen: both playing the first action is an equilibrium,
    # the profile ((0, 1), (1, 0)) is not (gain 2 for the first player, range 2 -> 1.0)
    assert max_regret(game, [np.array([0.0, 1.0]), np.array([1.0, 0.0])]) == 1.0


def test_default_solve_falls_back_to_tracing_within_the_budget(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # The homotopy is cut to one step so that it fails for real; solve must hand over to the
    # tracing procedure, give the homotopy FIRST_METHOD_SHARE of cpu_seconds and the tracing
    # what is left, and the answer must pass the exact evaluator (not the solver's own regret).
    from gametools.solvers import FIRST_METHOD_SHARE, homotopy

    budgets: dict[str, float] = {}
    original, tracing = homotopy.markov_qre_homotopy, homotopy.markov_tracing

    def short_homotopy(game, **options):  # type: ignore[no-untyped-def]
        budgets["homotopy"] = options["cpu_seconds"]
        return original(game, **dict(options, max_iterations=1))

    def recorded_tracing(game, **options):  # type: ignore[no-untyped-def]
        budgets["tracing"] = options["cpu_seconds"]
        return tracing(game, **options)

    monkeypatch.setattr(homotopy, "markov_qre_homotopy", short_homotopy)
    monkeypatch.setattr(homotopy, "markov_tracing", recorded_tracing)
    _, game = bench.stochastic_game(13)  # 8 states, 3 players, dense, integer rewards
    result = solve(game, cpu_seconds=100.0)
    assert result.status == "success" and result.method == "tracing", result.message
    assert result.extra["fallback_from"] == ["homotopy"]
    assert budgets["homotopy"] == FIRST_METHOD_SHARE * 100.0
    assert 0.0 < budgets["tracing"] <= 100.0
    report = nash_conv(game, result.equilibria[0].strategies)
    assert report.per_player.max() / reward_range(game) <= 1e-8
    # a named method never falls back
    named = solve(game, method="homotopy", cpu_seconds=100.0)
    assert named.status == "failed" and named.method == "homotopy"
