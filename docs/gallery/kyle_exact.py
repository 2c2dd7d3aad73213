"""Kyle (1985): price impact and trading intensity of the exact grid game against the closed form."""

from gametools.scenarios import get_scenario
from gametools.solvers import solve

scenario = get_scenario("kyle")
params = scenario.resolve(n_values=3)
game = scenario.builder(**params)
result = solve(game)
summary = scenario.summarize(game, result.equilibria[0].strategies, **params)
reference = scenario.reference(**params)
print(f"method {result.method}, certified regret {result.equilibria[0].regret:.2e}")
for key in ("lambda", "beta"):
    print(f"{key}: grid equilibrium {summary[key]:.4f}, closed form {reference[key]:.4f}")

import matplotlib.pyplot as plt

from gametools.plotting import paper_style, save_figure

with paper_style():
    fig, axes = plt.subplots(1, 2, figsize=(3.4, 2.0))
    for ax, key, name in zip(axes, ("lambda", "beta"), ("price impact λ", "trading intensity β")):
        ax.bar(["grid game", "closed form"], [summary[key], reference[key]], color=["#0072B2", "#000000"])
        ax.set_ylabel(name)
    fig.suptitle("Kyle (1985), one auction", fontsize=8)
    fig.tight_layout()
    save_figure(fig, FIGURE.with_suffix(""), formats=("png",))  # noqa: F821 (set by the build)
