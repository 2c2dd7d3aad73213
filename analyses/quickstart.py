"""Quickstart study: encode games, solve them, measure exploitability, draw figures.

1. A Cournot duopoly on a quantity grid: solve for its equilibria, compare with the closed form
   ``q = (a - c) / (3 b)``, and measure the NashConv of the equilibrium, of collusion (each firm
   produces half the monopoly quantity) and of uniform play.
2. The Big Match (a stochastic game): exact NashConv of player 1's stationary strategies
   ``Top with probability p`` against player 2's optimal 1/2-1/2, which vanishes exactly at the
   theoretical ``p* = (1 - discount) / (2 - discount)``.

Run ``python -m analyses.quickstart --out out/demo``; it writes ``results.json`` and figures
(PDF and PNG) and prints where they are.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from games.classic import big_match
from games.oligopoly import cournot, cournot_reference, quantity_grid
from gametools import deterministic_profile, nash_conv, uniform_profile
from gametools._io import atomic_write
from gametools.plotting import (
    paper_style,
    plot_nash_conv_curve,
    plot_payoff_heatmap,
    plot_profile_bars,
    save_figure,
)
from gametools.solvers import solve

COURNOT: dict[str, Any] = {"n_firms": 2, "a": 100.0, "b": 1.0, "c": 10.0, "quantity_step": 5.0,
           "max_quantity": 60.0}
DISCOUNT = 0.9


def _write_json(path: Path, document: Any) -> None:
    atomic_write(path, json.dumps(document, indent=2))


def cournot_study() -> dict[str, Any]:
    """Equilibria of the gridded Cournot duopoly and the NashConv of three candidate profiles."""
    game = cournot(**COURNOT)
    grid = quantity_grid(quantity_step=COURNOT["quantity_step"],
                         max_quantity=COURNOT["max_quantity"])
    result = solve(game, method="pure")
    theory = cournot_reference(**COURNOT)
    monopoly_half = (COURNOT["a"] - COURNOT["c"]) / (4 * COURNOT["b"])
    collusive = int(np.argmin(np.abs(grid - monopoly_half)))
    # the grid game has several pure equilibria (best-reply ties); compare the one nearest theory
    nearest = min(result.equilibria, key=lambda e: max(
        abs(grid[int(np.argmax(s))] - theory["quantity"]) for s in e.strategies))
    candidates = {
        "equilibrium": nearest.strategies,
        "collusion": deterministic_profile(game, [collusive, collusive]),
        "uniform": uniform_profile(game),
    }
    measured = {name: nash_conv(game, profile) for name, profile in candidates.items()}
    return {
        "game": game,
        "profiles": candidates,
        "equilibrium_quantities": [float(grid[np.argmax(s)]) for s in nearest.strategies],
        "theory": theory,
        "nash_conv": {name: m.to_dict() for name, m in measured.items()},
        "solver": {"method": result.method, "complete": result.complete,
                   "number_of_equilibria": len(result.equilibria)},
    }


def big_match_study(points: int = 81) -> dict[str, Any]:
    """Exact NashConv along player 1's one-parameter family of stationary strategies.

    The ``points`` evenly spaced probabilities plus the theoretical optimum, so that the curve
    reaches its minimum 0 where theory puts it instead of between two grid points.
    """
    game = big_match(discount=DISCOUNT)
    column = np.full((game.num_states, 2), 0.5)
    optimum = (1 - DISCOUNT) / (2 - DISCOUNT)
    probabilities = np.union1d(np.linspace(0.0, 1.0, points), [optimum])
    curve = []
    for p in probabilities:
        row = np.tile([p, 1.0 - p], (game.num_states, 1))
        curve.append(nash_conv(game, (row, column)).nash_conv)
    at_optimum = nash_conv(game, (np.tile([optimum, 1 - optimum], (game.num_states, 1)), column))
    return {"probabilities": probabilities.tolist(), "nash_conv": curve,
            "theory_probability": optimum, "nash_conv_at_theory": at_optimum.to_dict()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="out/demo", help="output folder")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    print("[1/3] Cournot duopoly on a quantity grid: all pure equilibria, exact NashConv of "
          "equilibrium, collusion and uniform play", flush=True)
    cournot_results = cournot_study()
    print("[2/3] Big Match: exact NashConv along player 1's stationary strategies", flush=True)
    big_match_results = big_match_study()
    print(f"[3/3] figures -> {out}", flush=True)
    figures = []
    with paper_style():
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots()
        names = list(cournot_results["nash_conv"])
        plot_profile_bars(names, [cournot_results["nash_conv"][n]["nash_conv"] for n in names],
                          ax=ax)
        ax.set_title("Cournot duopoly: exploitability of candidate profiles")
        ax.set_ylabel("NashConv (profit units)")
        figures += save_figure(fig, out / "cournot_nash_conv")
        plt.close(fig)

        fig, ax = plt.subplots(figsize=(3.4, 3.0))
        plot_payoff_heatmap(cournot_results["game"], player=0,
                            profile=cournot_results["profiles"]["equilibrium"], ax=ax)
        ax.set_title("Firm 1 profit; equilibrium outlined")
        ax.set_xlabel("firm 2 quantity")  # the action labels are quantities
        ax.set_ylabel("firm 1 quantity")
        figures += save_figure(fig, out / "cournot_payoffs")
        plt.close(fig)

        fig, ax = plt.subplots()
        plot_nash_conv_curve(big_match_results["probabilities"], big_match_results["nash_conv"],
                             reference=big_match_results["theory_probability"],
                             xlabel="P(top) of player 1", ax=ax)
        ax.set_title(f"Big Match, discount {DISCOUNT}")
        figures += save_figure(fig, out / "big_match_nash_conv")
        plt.close(fig)

    summary = {
        "cournot": {k: v for k, v in cournot_results.items() if k not in ("game", "profiles")},
        "big_match": big_match_results,
        "figures": [str(f) for f in figures],
    }
    _write_json(out / "results.json", summary)
    q = cournot_results["equilibrium_quantities"]
    print(f"Cournot: equilibrium quantities {q} (theory {cournot_results['theory']['quantity']:g});"
          f" NashConv of collusion "
          f"{cournot_results['nash_conv']['collusion']['nash_conv']:.1f}, of uniform play "
          f"{cournot_results['nash_conv']['uniform']['nash_conv']:.1f}")
    print(f"Big Match: NashConv at theory p* = {big_match_results['theory_probability']:.4f} is "
          f"{big_match_results['nash_conv_at_theory']['nash_conv']:.2e}")
    print(f"figures and results.json written to {out.resolve()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
