"""Robustness of the default solve: certified equilibria or a loud failure, never a silent one.

The full random sets (200 normal-form games, 100 stochastic games) run in
``bench/bench_robustness.py``; here a small sample of each, plus the regressions that motivated
the loud-failure contract (exit 3 from ``gametools solve`` when nothing is certified).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from gametools import MarkovGame, NormalFormGame, nash_conv
from gametools.cli import main
from gametools.formats import write_nfg
from gametools.formats.npz import save_game
from gametools.solvers import solve
from gametools.solvers.result import max_regret, reward_range

BENCH = Path(__file__).resolve().parents[1] / "bench"

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


def random_normal_game(seed: int, shape: tuple[int, ...], kind: str) -> NormalFormGame:
    """Random N-player game: Gaussian payoffs, small integers (degenerate: ties), or integers."""
    rng = np.random.default_rng(seed)
    size = (len(shape), *shape)
    if kind == "gaussian":
        return NormalFormGame(rng.standard_normal(size))
    high = 3 if kind == "degenerate" else 100
    return NormalFormGame(rng.integers(0, high, size=size))


def random_markov_game(seed: int, num_states: int, num_players: int, num_actions: int,
                       discount: float, *, successors: int | None = None) -> MarkovGame:
    """Random discounted game: uniform rewards, transitions dense or on ``successors`` states."""
    rng = np.random.default_rng(seed)
    shape = (num_states,) + (num_actions,) * num_players
    rewards = rng.uniform(0.0, 1.0, (num_players,) + shape)
    transitions = rng.uniform(0.0, 1.0, shape + (num_states,))
    if successors is not None:
        keep = rng.permuted(np.arange(num_states) < successors
                            * np.ones(shape + (1,), dtype=bool), axis=-1)
        transitions *= keep
    transitions /= transitions.sum(axis=-1, keepdims=True)
    return MarkovGame(transitions, rewards, np.full(num_states, 1.0 / num_states), discount)


def test_mckelvey_mclennan_default_solve_is_certified() -> None:
    game = mckelvey_mclennan()
    result = solve(game)
    assert result.status == "success" and result.certified
    strategies = result.equilibria[0].strategies
    assert max_regret(game, strategies) <= 1e-8
    # Gambit's logit reaches the pure profile (1, 1, 1), payoffs (9, 8, 12) from the table above
    for strategy in strategies:
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
    write_nfg(path, mckelvey_mclennan().payoffs_exact)
    code = main(["solve", str(path), "--json"])
    document = json.loads(capsys.readouterr().out)
    assert code == 0 and document["certified"] is True
    assert max(e["regret"] for e in document["equilibria"]) <= 1e-8


def test_stochastic_64_states_certifies_or_exits_3(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    # the shape of the report: 64 states, 2 players x 4 actions, transitions over all 64
    # successors, discount 0.95; exit 0 must mean a certified equilibrium (independent check)
    game = random_markov_game(4, 64, 2, 4, 0.95)
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


@pytest.mark.parametrize("seed,shape,kind", [
    (0, (2, 2, 2), "gaussian"), (1, (2, 2, 2), "degenerate"), (2, (3, 3, 3), "integer"),
    (3, (3, 3, 3), "degenerate"), (4, (4, 4, 4), "gaussian"), (5, (2, 2, 2, 2, 2), "integer"),
    (6, (2, 2, 2, 2, 2), "degenerate"), (7, (2, 3, 4), "gaussian"),
])
def test_random_normal_form_default_solve_certifies(seed: int, shape: tuple[int, ...],
                                                    kind: str) -> None:
    game = random_normal_game(seed, shape, kind)
    result = solve(game)
    assert result.status == "success", result.message
    assert max_regret(game, result.equilibria[0].strategies) <= 1e-8


@pytest.mark.parametrize("seed,states,players,actions,discount,successors", [
    (0, 4, 2, 2, 0.8, None), (1, 8, 3, 2, 0.9, 2), (2, 16, 2, 3, 0.95, 3),
    (3, 6, 2, 4, 0.99, None),
])
def test_random_stochastic_default_solve_certifies(seed: int, states: int, players: int,
                                                   actions: int, discount: float,
                                                   successors: int | None) -> None:
    game = random_markov_game(seed, states, players, actions, discount, successors=successors)
    result = solve(game)
    assert result.status == "success", result.message
    report = nash_conv(game, result.equilibria[0].strategies)
    assert report.per_player.max() / reward_range(game) <= 1e-8
