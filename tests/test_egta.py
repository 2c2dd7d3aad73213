"""Empirical game-theoretic analysis: DPR, equilibria with regret intervals, resumable sampling."""

from __future__ import annotations

import json

import numpy as np
import pytest

from games.order_book import build_double_auction
from gametools.cli import main
from gametools.errors import InvalidArgumentError
from gametools.market import egta
from gametools.market.egta import (EmpiricalGame, build_empirical_game, default_players,
                                   dpr_full_profile, reduced_profiles, solve_empirical_game)
from gametools.scenarios import get_scenario


def test_dpr_scales_the_other_players_and_keeps_the_deviator() -> None:
    # Wiedenbeck and Wellman (2012), Sec. 3: in a 64-player symmetric game reduced to 4
    # players, each of the deviator's 3 reduced opponents stands for (64 - 1) / (4 - 1) = 21.
    assert dpr_full_profile(((2, 1, 1),), 0, 0, [64], [4]) == ((22, 21, 21),)
    assert dpr_full_profile(((2, 1, 1),), 0, 1, [64], [4]) == ((42, 1, 21),)
    # two roles: the other role scales by N / n
    assert dpr_full_profile(((1, 1), (2, 0)), 0, 1, [32, 32], [2, 2]) == ((31, 1), (32, 0))
    with pytest.raises(InvalidArgumentError):
        dpr_full_profile(((2, 0),), 0, 1, [5], [2])
    # multisets of 4 players over 3 strategies: C(6, 2) = 15
    assert len(reduced_profiles([4], [3])) == 15


def test_default_players_make_the_scaling_integral() -> None:
    # 32 buyers and 32 sellers: n = 3 and n = 4 leave 31/2 and 31/3; n = 2 gives 31 and 16
    config = build_double_auction(**get_scenario("double_auction").resolve(n_buyers=32,
                                                                           n_sellers=32))
    assert default_players(config) == (2, 2)
    # 64 background traders alone (one role): (64 - 1) / (4 - 1) = 21
    from games.order_book import build_order_book
    market = build_order_book(**get_scenario("order_book").resolve(n_background=64,
                                                                  n_market_makers=0))
    assert default_players(market) == (4, 0)
    # 63 background traders and a market maker: n = 3 gives 62 / 2 = 31 and 63 / 3 = 21
    market = build_order_book(**get_scenario("order_book").resolve(n_background=63))
    assert default_players(market) == (3, 1)


def hawk_dove_game(noise: float = 0.0, samples: int = 8) -> EmpiricalGame:
    """One role of N = 5 agents, strategies A and B, reduced to n = 3 players.

    u_A = 2 - 3 x, u_B = 1, where x is the fraction of the *other* agents playing A. Solved by
    hand: in the DPR game a deviator to A faces m of 2 reduced opponents on A, x = m / 2, so
    against the symmetric mixture p, E[u_A] = 2 - 3 p = 1 = E[u_B] at p = 1/3.
    """
    rng = np.random.default_rng(0)
    samples_by_profile = {}
    for profile in reduced_profiles([3], [2]):
        for s in range(2):
            if profile[0][s]:
                full = dpr_full_profile(profile, 0, s, [5], [3])
                a = full[0][0]
                u_a = 2 - 3 * (a - 1) / 4 if a else np.nan
                u_b = 1.0 if full[0][1] else np.nan
                data = np.tile([u_a, u_b], (samples, 1))
                samples_by_profile[full] = data + noise * rng.standard_normal(data.shape)
    return EmpiricalGame(("trader",), (("A", "B"),), (3,), (5,), samples_by_profile)


def test_replicator_finds_the_hand_solved_mixed_equilibrium() -> None:
    result = solve_empirical_game(hawk_dove_game(), bootstrap=10, time=100.0, steps=300)
    best = result.equilibria[0]
    assert best.solver_status == "success"
    assert best.mixture[0][0] == pytest.approx(1 / 3, abs=2e-3)
    assert best.regret == pytest.approx(0.0, abs=1e-3)
    assert best.payoffs[0] == pytest.approx(1.0, abs=1e-3)
    # noiseless payoffs: every bootstrap game is the same game
    assert best.regret_interval[1] == pytest.approx(best.regret, abs=1e-9)


def test_regret_interval_widens_with_payoff_noise() -> None:
    quiet = solve_empirical_game(hawk_dove_game(noise=0.01), bootstrap=20, time=100.0,
                                 steps=300).equilibria[0]
    loud = solve_empirical_game(hawk_dove_game(noise=0.5), bootstrap=20, time=100.0,
                                steps=300).equilibria[0]
    assert loud.regret_interval[1] > quiet.regret_interval[1]
    assert quiet.mixture[0][0] == pytest.approx(1 / 3, abs=0.02)


def small_market():
    return build_double_auction(**get_scenario("double_auction").resolve(
        n_buyers=4, n_sellers=4, n_arrivals=40))


def test_sampling_resumes_without_simulating_finished_profiles(tmp_path, monkeypatch) -> None:
    config = small_market()
    strategies = [["zi_c", "zi_u"], ["zi_c"]]
    first = build_empirical_game(config, strategies, players=(2, 2), samples=4, seed=1,
                                 out=tmp_path, batch_markets=8)
    stored = sorted(p.name for p in (tmp_path / "profiles").iterdir())
    assert len(stored) == len(first.samples) and not any(n.endswith(".tmp") for n in stored)

    def fail(*args, **kwargs):
        raise AssertionError("a finished profile was simulated again")

    monkeypatch.setattr(egta, "_simulate_profiles", fail)
    again = build_empirical_game(config, strategies, players=(2, 2), samples=4, seed=1,
                                 out=tmp_path, batch_markets=8)
    for full, data in first.samples.items():
        np.testing.assert_array_equal(data, again.samples[full])


def test_a_resumed_run_gives_the_numbers_of_a_fresh_run(tmp_path) -> None:
    config = small_market()
    strategies = [["zi_c", "zi_u"], ["zi_c"]]
    fresh = build_empirical_game(config, strategies, players=(2, 2), samples=4, seed=2,
                                 batch_markets=8)
    build_empirical_game(config, strategies, players=(2, 2), samples=4, seed=2,
                         out=tmp_path, batch_markets=8)
    victim = sorted((tmp_path / "profiles").iterdir())[0]
    victim.unlink()  # as if interrupted before this profile
    resumed = build_empirical_game(config, strategies, players=(2, 2), samples=4, seed=2,
                                   out=tmp_path, batch_markets=8)
    for full, data in fresh.samples.items():
        np.testing.assert_array_equal(data, resumed.samples[full])


def test_an_extended_game_simulates_only_its_new_profiles(tmp_path, monkeypatch) -> None:
    # PSRO appends strategies to the sets: the profiles of the smaller game are read back, not
    # simulated again, and hold the numbers a run of the smaller game alone draws
    config = small_market()
    small = build_empirical_game(config, [["zi_c", "zi_u"], ["zi_c"]], players=(2, 2),
                                 samples=4, seed=4, batch_markets=8)
    build_empirical_game(config, [["zi_c", "zi_u"], ["zi_c"]], players=(2, 2), samples=4,
                         seed=4, batch_markets=8, out=tmp_path)
    simulated: list = []
    real = egta._simulate_profiles

    def counting(config, strategies, profiles, **kwargs):
        simulated.extend(profiles)
        return real(config, strategies, profiles, **kwargs)

    monkeypatch.setattr(egta, "_simulate_profiles", counting)
    extended = build_empirical_game(config, [["zi_c", "zi_u", "zip"], ["zi_c", "zi_u"]],
                                    players=(2, 2), samples=4, seed=4, batch_markets=8,
                                    out=tmp_path)

    def padded(full):  # a profile of the small game in the extended game's strategy sets
        return ((*full[0], 0), (*full[1], 0))

    old = {padded(full): data for full, data in small.samples.items()}
    assert simulated and not set(simulated) & set(old)
    assert set(simulated) | set(old) == set(extended.samples)
    for full, data in old.items():
        columns = extended.samples[full]  # (buyer zi_c, zi_u, zip, seller zi_c, zi_u)
        np.testing.assert_array_equal(data, columns[:, [0, 1, 3]])
        assert np.isnan(columns[:, [2, 4]]).all()


@pytest.mark.slow  # starting Ray takes ~30 s on a loaded 2-core machine
def test_ray_backend_gives_the_numbers_of_the_local_backend() -> None:
    # each chunk of profiles is seeded by its profiles alone, so simulating the chunks as Ray
    # tasks (in whatever order they finish) must reproduce the local game exactly (the fast
    # test of the same property: test_a_resumed_run_gives_the_numbers_of_a_fresh_run)
    ray = pytest.importorskip("ray", reason="the ray backend needs ray (optional extra)")
    config = small_market()
    strategies = [["zi_c", "zi_u"], ["zi_c"]]
    local = build_empirical_game(config, strategies, players=(2, 2), samples=4, seed=3,
                                 batch_markets=8)
    remote = build_empirical_game(config, strategies, players=(2, 2), samples=4, seed=3,
                                  batch_markets=8, backend="ray", workers=1)
    assert not ray.is_initialized()  # started and shut down by the call
    assert set(remote.samples) == set(local.samples)
    for full, data in local.samples.items():
        np.testing.assert_array_equal(data, remote.samples[full])


def test_ray_backend_errors(monkeypatch, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(InvalidArgumentError, match="'local' or 'ray'"):
        build_empirical_game(small_market(), [["zi_c"], ["zi_c"]], players=(2, 2),
                             backend="dask")
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "ray" else real(name, *a))
    assert main(["egta", "double_auction", "--strategies", "zi_c", "--backend", "ray"]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "needs Ray" in error[0]


def test_bad_reductions_are_rejected() -> None:
    config = small_market()
    with pytest.raises(InvalidArgumentError, match="do not divide"):
        build_empirical_game(config, [["zi_c"], ["zi_c"]], players=(3, 2), samples=4)
    with pytest.raises(InvalidArgumentError, match="cannot play role"):
        build_empirical_game(config, [["mm"], ["zi_c"]], players=(2, 2), samples=4)


def test_egta_command_json(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    # one buyer and one seller: the reduced game is the full 2-player game (fast to solve)
    code = main(["egta", "double_auction", "--param", "n_buyers=1", "--param", "n_sellers=1",
                 "--param", "units=4", "--param", "n_arrivals=60", "--strategies", "zi_c,zi_u",
                 "--samples", "4", "--steps", "300", "--time", "100",
                 "--bootstrap", "5", "--out", str(tmp_path), "--json"])
    document = json.loads(capsys.readouterr().out)
    assert code in (0, 3)
    assert document["reduced_players"] == [1, 1] and document["equilibria"]
    first = document["equilibria"][0]
    assert set(first["mixture"]) == {"buyer", "seller"}
    assert first["regret_interval"][0] <= first["regret_interval"][1]
    assert (tmp_path / "egta.json").exists()
    assert main(["egta", "double_auction", "--strategies", "zi_c", "--players", "x"]) == 2


def test_deviation_payoffs_equal_the_expanded_normal_form_game() -> None:
    # Outside truth: the library's NormalFormGame.action_payoffs on the reduced game expanded
    # to one player per reduced player, at the role-symmetric profile (every player of a role
    # plays its role's mixture).
    from gametools.market.egta import DeviationPayoffs

    rng = np.random.default_rng(3)
    samples = {}
    roles, strategies, players, sizes = ("a", "b"), (("x", "y", "z"), ("u", "v")), (3, 2), (7, 4)
    for profile in reduced_profiles(players, [3, 2]):
        for r, counts in enumerate(profile):
            for s, c in enumerate(counts):
                if c:
                    full = dpr_full_profile(profile, r, s, sizes, players)
                    samples.setdefault(full, rng.normal(size=(4, 5)))
    game = EmpiricalGame(roles, strategies, players, sizes, samples)
    normal, player_roles = game.to_normal_form()
    payoffs = DeviationPayoffs(game)
    mixture = [np.array([0.2, 0.5, 0.3]), np.array([0.6, 0.4])]
    expected = normal.action_payoffs([mixture[r] for r in player_roles])
    got = payoffs(payoffs.table(), mixture)
    for p, r in enumerate(player_roles):
        np.testing.assert_allclose(got[r], expected[p], rtol=1e-12, atol=1e-12)
