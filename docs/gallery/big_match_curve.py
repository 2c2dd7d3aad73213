"""Big Match: exact NashConv along the row player's stationary strategies."""

import numpy as np

from games.classic import big_match
from gametools import nash_conv
from gametools.plotting import paper_style, plot_nash_conv_curve, save_figure

discount = 0.9
game = big_match(discount=discount)
half = np.full((3, 2), 0.5)
probabilities = np.linspace(0.0, 0.4, 41)
values = [nash_conv(game, (np.array([[p, 1 - p], [0.5, 0.5], [0.5, 0.5]]), half)).nash_conv
          for p in probabilities]
theory = (1 - discount) / (2 - discount)  # Blackwell and Ferguson (1968)
print(f"theory P(top) = {theory:.4f}; minimum NashConv on the grid at "
      f"{probabilities[int(np.argmin(values))]:.2f}")

import matplotlib.pyplot as plt

with paper_style():
    fig, ax = plt.subplots()
    plot_nash_conv_curve(probabilities, values, reference=theory, xlabel="P(top) of player 1",
                         ax=ax)
    ax.set_title(f"Big Match, discount {discount}")
    save_figure(fig, FIGURE.with_suffix(""), formats=("png",))  # noqa: F821 (set by the build)
