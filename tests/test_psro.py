"""PSRO over a market's strategy library: the paired gain estimator against EGTA's deviation
gains, PSRO end to end with resume, and the command line's exit codes."""

from __future__ import annotations

import json
from math import comb
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from games.order_book import build_double_auction
from gametools.cli import main
from gametools.errors import InvalidArgumentError
from gametools.market import psro
from gametools.market.egta import build_empirical_game
from gametools.market.psro import estimate_gain, exploitability_lower_bound, run_psro
from gametools.market.strategies import make_strategy
from gametools.scenarios import get_scenario

TINY = {"n_buyers": 3, "n_sellers": 3, "n_arrivals": 60}


def auction() -> Any:
    return build_double_auction(**get_scenario("double_auction").resolve(**TINY))


def test_a_strategy_against_itself_gains_exactly_zero() -> None:
    # common random numbers: with the deviator's strategy unchanged both runs of every episode
    # are the same simulation, so each paired difference is exactly 0
    gain = estimate_gain(auction(), "buyer", make_strategy("zi_c"), [["zi_c"], ["zi_c"]],
                         [[1.0], [1.0]], episodes=16, seed=5)
    assert gain.gain == 0.0 and gain.stderr == 0.0 and gain.lower == 0.0
    assert gain.side == "lower" and gain.confidence == 0.95


def test_gain_of_a_library_strategy_matches_the_egta_deviation_gain() -> None:
    # The truth is EGTA's own estimate: in the DPR game with 3 buyers (players (3, 3), no
    # reduction), a buyer deviating to zi_c from sigma = (zi_c 1/2, zi_u 1/2) faces a of its 2
    # buyer opponents on zi_c with probability C(2, a) / 4, so
    # u(s, sigma) = sum_a C(2, a) / 4 * u(s | a zi_c opponents) and the gain of zi_c is
    # u(zi_c, sigma) - (u(zi_c, sigma) + u(zi_u, sigma)) / 2 = (u(zi_c) - u(zi_u)) / 2.
    config = auction()
    strategies, p = [["zi_c", "zi_u"], ["zi_c"]], 0.5
    game = build_empirical_game(config, strategies, players=(3, 3), samples=100, seed=0)
    table = game.payoff_table()

    def value(s: int) -> tuple[float, float]:
        mean, variance = 0.0, 0.0
        for a in range(3):
            weight = comb(2, a) * p ** a * (1 - p) ** (2 - a)
            counts = [a, 2 - a]
            counts[s] += 1
            m, error = table[((tuple(counts), (3,)), 0, s)]
            mean += weight * m
            variance += (weight * error) ** 2
        return mean, variance

    (u_c, v_c), (u_u, v_u) = value(0), value(1)
    truth, truth_error = (1 - p) * (u_c - u_u), (1 - p) * np.sqrt(v_c + v_u)
    gain = estimate_gain(config, "buyer", make_strategy("zi_c"), strategies, [[p, 1 - p], [1.0]],
                         players=(3, 3), episodes=400, seed=5)
    # Gode and Sunder's constrained traders beat unconstrained ones by a wide margin
    assert truth > 10 * truth_error
    assert abs(gain.gain - truth) < 4 * np.hypot(gain.stderr, truth_error)
    assert gain.lower < gain.gain and gain.lower > 0


def test_estimator_rejects_bad_input() -> None:
    with pytest.raises(InvalidArgumentError):
        estimate_gain(auction(), "buyer", make_strategy("zi_c"), [["zi_c"], ["zi_c"]],
                      [[1.0], [1.0]], episodes=1)
    with pytest.raises(InvalidArgumentError):
        estimate_gain(auction(), "nobody", make_strategy("zi_c"), [["zi_c"], ["zi_c"]],
                      [[1.0], [1.0]], episodes=8)
    with pytest.raises(InvalidArgumentError):
        estimate_gain(auction(), "buyer", make_strategy("zi_c"), [["zi_c"], ["zi_c"]],
                      [[0.5], [1.0]], episodes=8)


SMALL = {"samples": 8, "train_steps": 64, "num_envs": 8, "gain_episodes": 64, "bootstrap": 10,
         "learner_changes": {"rollout_steps": 8}}


def test_psro_two_iterations_and_resume(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # buyers start with Gode and Sunder's unconstrained ZI, which pays any price up to 200: any
    # trained buyer that bids below its value gains, so iteration 1 does not converge
    config = auction()
    out = tmp_path / "psro"
    result = run_psro(config, "buyer", [["zi_u"], ["zi_c"]], algorithm="ippo", iterations=2,
                      out=out, seed=0, **SMALL)  # type: ignore[arg-type]
    assert len(result.iterations) == 2 and result.status in ("converged", "max_iterations")
    first, second = result.iterations
    assert first.gain is not None and first.gain.lower > 0 and not first.converged
    assert first.meta_mixture[0] == (1.0,)
    assert second.strategies[0] == ("zi_u", "psro1")
    assert (out / "iteration_1" / "best_response.pt").exists()
    stored = json.loads((out / "psro.json").read_text())
    assert len(stored["iterations"]) == 2 and stored["status"] == result.status
    # the stored best response is a library strategy: learned:PATH plays in simulations
    make_strategy(f"learned:{out / 'iteration_1' / 'best_response.pt'}")

    # resume: finished iterations are read back, nothing is simulated or trained again
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a finished iteration was redone")

    monkeypatch.setattr(psro, "train_best_response", refuse)
    monkeypatch.setattr(psro, "build_empirical_game", refuse)
    again = run_psro(config, "buyer", [["zi_u"], ["zi_c"]], algorithm="ippo", iterations=2,
                     out=out, seed=0, **SMALL)  # type: ignore[arg-type]
    assert [it.to_dict() for it in again.iterations] == [it.to_dict() for it in
                                                         result.iterations]
    # other settings in the same folder are refused
    with pytest.raises(InvalidArgumentError, match="other settings"):
        run_psro(config, "buyer", [["zi_u"], ["zi_c"]], algorithm="ippo", iterations=2,
                 out=out, seed=1, **SMALL)  # type: ignore[arg-type]


def test_exploitability_lower_bound_of_a_fixed_profile() -> None:
    # every buyer plays zi_u: the trained buyer's gain is a positive lower bound
    gain = exploitability_lower_bound(auction(), "buyer", "zi_u", algorithm="iql", steps=64,
                                      num_envs=8, episodes=64, seed=0)
    assert gain.lower > 0 and gain.side == "lower"


def test_cli_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                        monkeypatch: pytest.MonkeyPatch) -> None:
    base = ["psro", "double_auction", "--param", "n_buyers=3", "--param", "n_sellers=3",
            "--param", "n_arrivals=60"]
    assert main([*base, "--role", "nobody", "--algo", "mappo"]) == 2
    assert "roles of this market" in capsys.readouterr().err
    assert main([*base, "--role", "buyer", "--algo", "mappo", "--set", "nope=1"]) == 2
    assert main(["psro", "matching_pennies", "--role", "buyer", "--algo", "iql"]) == 2
    with pytest.raises(SystemExit) as exit_info:
        main([*base, "--role", "buyer", "--algo", "mappo", "--confidence", "1.5"])
    assert exit_info.value.code == 2
    capsys.readouterr()

    # no certified meta-equilibrium: exit 3, and --json still prints the document
    real = psro.solve_empirical_game

    def uncertified(*args: Any, **kwargs: Any) -> Any:
        import dataclasses

        result = real(*args, **kwargs)
        return dataclasses.replace(result, equilibria=tuple(
            dataclasses.replace(e, solver_status="max_iterations") for e in result.equilibria))

    monkeypatch.setattr(psro, "solve_empirical_game", uncertified)
    code = main([*base, "--role", "buyer", "--algo", "mappo", "--samples", "4", "--bootstrap",
                 "5", "--json"])
    captured = capsys.readouterr()
    assert code == 3 and "certified no meta-equilibrium" in captured.err
    document = json.loads(captured.out)
    assert document["status"] == "failed" and document["iterations"][0]["gain"] is None


def test_market_study_tables_and_figures_from_stored_runs(tmp_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from analyses.market_study import (plot_egta_equilibria, plot_psro_bounds, psro_rows,
                                       write_rows)

    # two iterations as PsroIteration.to_dict() stores them; the bound is max(0, lower)
    rows = psro_rows([
        {"iteration": 1, "gain": {"gain": 65.0, "stderr": 6.0, "lower": 55.1,
                                  "confidence": 0.95}, "exploitability_lower_bound": 55.1,
         "meta_regret": 0.0, "converged": False, "wall_time": 1.0, "cpu_time": 1.0},
        {"iteration": 2, "gain": {"gain": -3.0, "stderr": 4.0, "lower": -9.6,
                                  "confidence": 0.95}, "exploitability_lower_bound": 0.0,
         "meta_regret": 0.0, "converged": True, "wall_time": 1.0, "cpu_time": 1.0}])
    write_rows(tmp_path / "psro.csv", rows)
    assert (tmp_path / "psro.csv").read_text().splitlines()[0].startswith(
        "iteration,role,gain")
    ax = plot_psro_bounds(rows)
    assert list(ax.lines[1].get_ydata()) == [55.1, 0.0]  # the lower bound clipped at 0
    # two roles: one row per role, one gain line per role, then the joint bound
    two = psro_rows([{"iteration": 1, "responses": [
        {"role": "background", "gain": {"gain": 5.0, "stderr": 1.0, "lower": 3.3,
                                        "confidence": 0.95}},
        {"role": "market_maker", "gain": {"gain": 9.0, "stderr": 1.0, "lower": 7.3,
                                          "confidence": 0.95}}],
        "exploitability_lower_bound": 7.0, "meta_regret": 0.0, "converged": False,
        "wall_time": 1.0, "cpu_time": 1.0}])
    assert [r["role"] for r in two] == ["background", "market_maker"]
    ax = plot_psro_bounds(two)
    assert list(ax.lines[2].get_ydata()) == [7.0]
    egta = [{"agents": 16, "market_maker": m, "strategy": s, "probability": p, "regret": 0.0,
             "regret_upper": 1.0} for m in (False, True) for s, p in (("a", 0.3), ("b", 0.7))]
    ax = plot_egta_equilibria(egta)
    assert len(ax.patches) == 4
    plt.close("all")


def test_multi_role_psro_trains_one_best_response_per_role(tmp_path: Path) -> None:
    # both roles start with Gode and Sunder's unconstrained ZI, which pays (asks) any price up
    # to 200 (down to 1) regardless of its value (cost): a trained buyer that never bids above
    # its value, and a trained seller that never asks below its cost, gain, so each role's
    # lower bound is positive (the single-role test's argument, for each role)
    config = auction()
    out = tmp_path / "psro"
    result = run_psro(config, "buyer,seller", [["zi_u"], ["zi_u"]], algorithm="ippo",
                      iterations=2, out=out, seed=0, **SMALL)  # type: ignore[arg-type]
    assert result.roles == ("buyer", "seller") and len(result.iterations) == 2
    first, second = result.iterations
    assert [(b.role, b.name) for b in first.responses] == [("buyer", "psro1_buyer"),
                                                            ("seller", "psro1_seller")]
    assert all(b.gain.lower > 0 and b.gain.side == "lower" for b in first.responses)
    assert not first.converged
    # each role's set grows by its own best response
    assert second.strategies == (("zi_u", "psro1_buyer"), ("zi_u", "psro1_seller"))
    for role in ("buyer", "seller"):
        assert (out / "iteration_1" / f"best_response_{role}.pt").exists()
    # the joint bound holds both roles' bounds at once (Bonferroni level 1 - 0.05 / 2), so it
    # lies below the larger single-role bound and above 0 here
    bound = first.exploitability_lower_bound
    assert bound is not None and 0 < bound < max(b.gain.lower for b in first.responses)
    stored = json.loads((out / "iteration_1" / "result.json").read_text())
    assert [b["role"] for b in stored["responses"]] == ["buyer", "seller"]
    # resume reads both roles' best responses back
    again = run_psro(config, ["buyer", "seller"], [["zi_u"], ["zi_u"]], algorithm="ippo",
                     iterations=2, out=out, seed=0, **SMALL)  # type: ignore[arg-type]
    assert [it.to_dict() for it in again.iterations] == [it.to_dict() for it in
                                                         result.iterations]


def test_simultaneous_bound_of_one_role_is_its_own_bound() -> None:
    # one role: the bound is max(0, lower); two equal roles: Bonferroni's t quantile at
    # 1 - 0.05 / 2 with 99 degrees of freedom is 1.9842 (scipy.stats.t.ppf(0.975, 99))
    gain = psro.GainEstimate(10.0, 2.0, 10.0 - 1.6604 * 2.0, 0.95, 100, 0.0, 0.0)
    assert psro.simultaneous_lower_bound([gain]) == gain.lower
    assert abs(psro.simultaneous_lower_bound([gain, gain]) - (10.0 - 1.9842 * 2.0)) < 1e-3
    negative = psro.GainEstimate(-1.0, 2.0, -4.3, 0.95, 100, 0.0, 0.0)
    assert psro.simultaneous_lower_bound([negative]) == 0.0


def test_cli_several_roles(capsys: pytest.CaptureFixture[str]) -> None:
    base = ["psro", "double_auction", "--param", "n_buyers=3", "--param", "n_sellers=3",
            "--param", "n_arrivals=60", "--algo", "iql", "--strategies", "zi_u",
            "--samples", "4", "--bootstrap", "5", "--train-steps", "64", "--num-envs", "8",
            "--gain-episodes", "32", "--iterations", "1"]
    assert main([*base, "--role", "buyer", "--role", "buyer"]) == 2
    assert "listed twice" in capsys.readouterr().err
    assert main([*base, "--role", "buyer,nobody"]) == 2
    assert "roles of this market" in capsys.readouterr().err
    assert main([*base, "--role", "buyer", "--role", "seller", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["roles"] == ["buyer", "seller"]
    assert [b["role"] for b in document["iterations"][0]["responses"]] == ["buyer", "seller"]


def test_market_maker_welfare_at_equilibrium_strategies(capsys: pytest.CaptureFixture[str]
                                                        ) -> None:
    from analyses.market_study import (market_maker_equilibrium_rows,
                                       print_market_maker_comparison)

    rows = market_maker_equilibrium_rows(quick=True, markets=(("thin", 3),),
                                         strategies=["zi_0_250", "zi_0_1000"], arrivals=60,
                                         episodes=16, samples=4)
    assert [r["market_maker"] for r in rows] == [False, True]
    for row in rows:
        if not row["certified"]:
            continue
        # profits are transfers plus realised gains: the market's total is exactly the
        # background traders' surplus plus the market maker's profit (the simulator's identity)
        assert abs(row["total_surplus"] - row["background_surplus"]
                   - row["market_maker_profit"]) < 1e-6 * max(1.0, abs(row["total_surplus"]))
        assert sum(float(x.split(":")[1]) for x in row["equilibrium"].split()) == \
            pytest.approx(1.0, abs=2e-3)  # the printed mixture, rounded to 3 decimals
    assert rows[0]["market_maker_profit"] == 0.0 and rows[0]["total_change"] == 0.0
    if rows[0]["certified"] and rows[1]["certified"]:
        # the paired change is the difference of the two arms' means (same episodes)
        assert rows[1]["total_change"] == pytest.approx(rows[1]["total_surplus"]
                                                        - rows[0]["total_surplus"])
        print_market_maker_comparison(rows)
        assert "Wah, Wright and Wellman: total surplus increases" in capsys.readouterr().out


def test_a_single_role_document_without_the_responses_list_is_read() -> None:
    # iteration documents written before several roles were trained hold best_response and
    # gain at the top level; they are read as that role's response
    gain = {"gain": 5.0, "stderr": 1.0, "lower": 3.3, "confidence": 0.95, "episodes": 64,
            "candidate_payoff": 6.0, "baseline_payoff": 1.0}
    item = psro.PsroIteration.from_dict(
        {"iteration": 1, "strategies": [["zi_u"], ["zi_c"]], "meta_mixture": [[1.0], [1.0]],
         "meta_status": "success", "meta_regret": 0.0, "meta_regret_upper": 0.0,
         "meta_payoffs": [1.0, 2.0], "best_response": "psro1", "gain": gain,
         "converged": False, "wall_time": 1.0, "cpu_time": 1.0}, role="buyer")
    assert item.best_response == "psro1" and item.responses[0].role == "buyer"
    assert item.exploitability_lower_bound == 3.3
    assert psro.PsroIteration.from_dict(item.to_dict()) == item


def test_the_command_line_defaults_are_the_library_defaults() -> None:
    # the CLI keeps its own copy so that --help imports no torch; they must not diverge
    from gametools.cli import psro as command

    assert (command.TRAIN_STEPS, command.NUM_ENVS, command.GAIN_EPISODES) == \
        (psro.TRAIN_STEPS, psro.NUM_ENVS, psro.GAIN_EPISODES)
