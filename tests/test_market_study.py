"""The market study's learned-agent part: exploitability lower bounds of an equilibrium mixture
and of other strategies measured alike, on a hand-checkable case, their figure, and the command
line route to the same bound for a MARL-trained agent."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from games.order_book import build_double_auction
from gametools.cli import main
from gametools.market.env import LearnedStrategy, TraderInterface, save_learned
from gametools.market.psro import train_traders
from gametools.scenarios import get_scenario

TINY = {"n_buyers": 3, "n_sellers": 3, "n_arrivals": 60}
BUDGET = {"steps": 64, "num_envs": 8, "episodes": 64}


def auction() -> Any:
    return build_double_auction(**get_scenario("double_auction").resolve(**TINY))


def never_trades(config: Any) -> LearnedStrategy:
    """A buyer whose policy always picks action 0 (no order)."""
    interface = TraderInterface.for_market(config)

    def policy(observations: torch.Tensor) -> torch.Tensor:
        probabilities = torch.zeros(len(observations), interface.num_actions)
        probabilities[:, 0] = 1.0
        return probabilities

    return LearnedStrategy("never_trades", interface, policy, roles=("buyer",))


def test_bounds_of_an_equilibrium_and_of_a_dominated_strategy_are_measured_alike() -> None:
    from analyses.market_study import exploitability_rows

    config = auction()
    rows = exploitability_rows(
        config, "buyer", {"zi_c": 1.0},
        {"zi_c (pure)": ("library", "zi_c"), "never trades": ("library", never_trades(config))},
        others={"seller": {"zi_c": 1.0}}, algorithm="ippo", seed=3,
        egta_regret=(0.0, 5.0), **BUDGET)  # type: ignore[arg-type]
    assert [r["kind"] for r in rows] == ["equilibrium", "library", "library"]
    assert rows[0]["strategy"] == "zi_c:1.000"
    for row in rows:
        # a one-sided lower bound lies below its point estimate; the reported bound is
        # max(0, lower) and says its level and side
        assert row["lower"] <= row["gain"] and row["confidence"] == 0.95
        assert row["exploitability_lower_bound"] == max(0.0, row["lower"])
        assert row["label"] == (f"exploitability >= {row['exploitability_lower_bound']:.4g} "
                                "(95% one-sided)")
        assert row["episodes"] == BUDGET["episodes"]
    # like for like: the pure strategy zi_c is the mixture {zi_c: 1}, and every row uses the
    # same learner, budget and seeds, so the two rows are the same measurement
    assert rows[1]["gain"] == rows[0]["gain"] and rows[1]["lower"] == rows[0]["lower"]
    # only the equilibrium row carries its EGTA regret
    assert rows[0]["egta_regret_upper"] == 5.0 and rows[2]["egta_regret_upper"] != 5.0
    # hand-checkable: a buyer that never trades earns exactly 0 in every episode, and every
    # order of the trained buyer is a limit at or below its unit value (the learning view's
    # actions, gametools.market.env), so it never trades at a loss: each paired difference is
    # >= 0, and > 0 whenever it buys below its value from a zi_c seller (asks uniform between
    # cost and the top price, Gode and Sunder 1993), which happens in many of the episodes
    never = rows[2]
    assert never["baseline_payoff"] == 0.0 and never["candidate_payoff"] >= 0.0
    assert never["lower"] > 0.0 and never["exploitability_lower_bound"] > 0.0


def test_learned_bounds_figure() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from analyses.market_study import plot_learned_bounds

    nan = float("nan")
    rows = [{"agent": "EGTA equilibrium", "kind": "equilibrium", "gain": 40.0, "lower": -10.0,
             "confidence": 0.95, "exploitability_lower_bound": 0.0, "egta_regret": 0.0,
             "egta_regret_upper": 900.0},
            {"agent": "MAPPO traders", "kind": "learned", "gain": 300.0, "lower": 220.0,
             "confidence": 0.95, "exploitability_lower_bound": 220.0, "egta_regret": nan,
             "egta_regret_upper": nan}]
    ax = plot_learned_bounds(rows)
    bounds = [line for line in ax.lines if line.get_marker() == "^"]
    assert [float(line.get_ydata()[0]) for line in bounds] == [0.0, 220.0]
    texts = [t.get_text() for t in ax.texts]
    assert [t for t in texts if t.startswith("exploitability")] == [
        "exploitability\n>= 0\n(95% one-sided)", "exploitability\n>= 220\n(95% one-sided)"]
    assert "EGTA regret\n<= 900" in texts  # the equilibrium's EGTA bound, written out
    assert [t.get_text() for t in ax.get_xticklabels()] == ["EGTA equilibrium",
                                                             "MAPPO traders"]
    assert "EGTA regret (library deviations), 95% upper bound" in \
        ax.get_legend_handles_labels()[1]
    plt.close("all")


def test_equilibrium_read_from_egta_rows() -> None:
    from analyses.market_study import egta_equilibrium

    rows = [{"agents": 16, "market_maker": True, "strategy": s, "probability": p,
             "regret": 1.0, "regret_upper": 9.0, "certified": True}
            for s, p in (("zi_0_250", 0.25), ("zi_0_1000", 0.75), ("zip", 0.0))]
    assert egta_equilibrium(rows, 16, 1) == ({"zi_0_250": 0.25, "zi_0_1000": 0.75}, 1.0, 9.0)
    assert egta_equilibrium(rows, 16, 0) is None  # no such market
    # rows read back from the CSV hold text; an uncertified market has no equilibrium
    text = [{k: str(v) for k, v in row.items()} for row in rows]
    assert egta_equilibrium(text, 16, 1) == ({"zi_0_250": 0.25, "zi_0_1000": 0.75}, 1.0, 9.0)
    failed = [{**row, "certified": False} for row in rows]
    assert egta_equilibrium(failed, 16, 1) is None


def test_command_line_bounds_a_trained_agent(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    # the buyers learn together (self-play, 3 controlled agents); agent 0's policy is saved
    # and `gametools psro --strategies buyer:learned:PATH --iterations 1` bounds the
    # exploitability of the market where every buyer plays it
    config = auction()
    learner = train_traders(config, "buyer", [["zi_c"], ["zi_c"]], [[1.0], [1.0]],
                            algorithm="ippo", controlled=3, steps=64, num_envs=8, seed=0,
                            learner_changes={"rollout_steps": 8})
    assert learner.env.num_agents == 3
    path = tmp_path / "buyer.pt"
    save_learned(path, learner, algorithm="ippo", agent=0, interface=learner.env.interface,
                 role="buyer")
    code = main(["psro", "double_auction", "--param", "n_buyers=3", "--param", "n_sellers=3",
                 "--param", "n_arrivals=60", "--role", "buyer", "--algo", "iql",
                 "--strategies", f"buyer:learned:{path},seller:zi_c", "--iterations", "1",
                 "--samples", "4", "--bootstrap", "5", "--train-steps", "64", "--num-envs",
                 "8", "--gain-episodes", "32", "--json"])
    assert code == 0
    document = json.loads(capsys.readouterr().out)
    first = document["iterations"][0]
    assert first["meta_mixture"][0] == [1.0]  # the only strategy of the buyers: the learned one
    gain = first["responses"][0]["gain"]
    assert gain["lower"] <= gain["gain"] and gain["side"] == "lower"
    assert first["exploitability_lower_bound"] == max(0.0, gain["lower"])
