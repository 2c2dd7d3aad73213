"""Research figures: one :func:`paper_style`, pure ``plot_*(data, ax=None)`` functions.

Nothing runs at import beyond importing matplotlib; every plotting function draws on the axes it
is given (or on new ones) and returns them, so figures compose. :func:`save_figure` writes vector
(PDF) and raster (PNG) files atomically. The palette is Okabe-Ito (colour-blind safe).

Examples
--------
>>> import numpy as np
>>> from gametools.plotting import paper_style, plot_nash_conv_curve
>>> with paper_style():
...     ax = plot_nash_conv_curve(np.linspace(0, 1, 5), [1, 0.5, 0, 0.5, 1], reference=0.5)
>>> ax.get_ylabel()
'NashConv'
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # figures are files; never require a display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from gametools.model import NormalFormGame  # noqa: E402

__all__ = ["PALETTE", "paper_style", "save_figure", "plot_nash_conv_curve", "plot_payoff_heatmap",
           "plot_profile_bars"]

#: Okabe-Ito colour-blind-safe palette.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442",
           "#000000")

_STYLE = {
    "figure.figsize": (3.4, 2.5),  # one column of a two-column paper
    "figure.dpi": 150,
    "savefig.dpi": 300,
    "savefig.bbox": "tight",
    "font.size": 8,
    "axes.titlesize": 8,
    "axes.labelsize": 8,
    "legend.fontsize": 7,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "lines.linewidth": 1.4,
    "pdf.fonttype": 42,  # embed TrueType so journals accept the PDF
    "axes.prop_cycle": matplotlib.cycler(color=PALETTE),
}


@contextlib.contextmanager
def paper_style() -> Iterator[None]:
    """Matplotlib settings for figures readable at column width."""
    with matplotlib.rc_context(_STYLE):
        yield


def save_figure(figure: Figure, stem: str | Path, *, formats: Sequence[str] = ("pdf", "png")
                ) -> list[Path]:
    """Write ``stem.pdf`` and ``stem.png`` atomically; return the paths written."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    written = []
    for fmt in formats:
        target = stem.with_suffix(f".{fmt}")
        handle, temporary = tempfile.mkstemp(dir=stem.parent, suffix=f".{fmt}.tmp")
        os.close(handle)
        try:
            figure.savefig(temporary, format=fmt)
            os.replace(temporary, target)
        finally:
            if os.path.exists(temporary):
                os.unlink(temporary)
        written.append(target)
    return written


def _axes(ax: Axes | None) -> Axes:
    if ax is not None:
        return ax
    _, new = plt.subplots()
    return new


def plot_nash_conv_curve(x: Sequence[float] | np.ndarray, nash_conv: Sequence[float] | np.ndarray,
                         *, reference: float | None = None, label: str | None = None,
                         xlabel: str = "strategy parameter", log: bool = False,
                         ax: Axes | None = None) -> Axes:
    """NashConv of a one-parameter family of profiles, with the theoretical equilibrium marked.

    Parameters
    ----------
    x : array_like, shape (K,)
    nash_conv : array_like, shape (K,)
    reference : float, optional
        Parameter value of the known equilibrium (a dashed vertical line).
    """
    ax = _axes(ax)
    ax.plot(np.asarray(x), np.asarray(nash_conv), label=label)
    if reference is not None:
        ax.axvline(reference, color=PALETTE[3], linestyle="--", linewidth=1,
                   label="equilibrium (theory)")
    if log:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("NashConv")
    if label is not None or reference is not None:
        ax.legend(frameon=False)
    return ax


def plot_payoff_heatmap(game: NormalFormGame, *, player: int = 0,
                        profile: Sequence[np.ndarray] | None = None,
                        ax: Axes | None = None) -> Axes:
    """Heatmap of one player's payoffs in a two-player game, with a profile's support marked.

    Parameters
    ----------
    game : NormalFormGame
        Two players.
    player : int
        Whose payoffs to show.
    profile : sequence of ndarray, optional
        Cells where both strategies put positive mass are outlined.
    """
    if game.num_players != 2:
        raise ValueError("plot_payoff_heatmap draws two-player games")
    ax = _axes(ax)
    image = ax.imshow(game.payoffs[player], cmap="viridis", origin="upper", aspect="auto")
    ax.figure.colorbar(image, ax=ax, label=f"payoff of {game.player_labels[player]}")
    rows, cols = game.num_actions
    ax.set_xticks(range(cols), game.action_labels[1], rotation=90)
    ax.set_yticks(range(rows), game.action_labels[0])
    ax.set_xlabel(game.player_labels[1])
    ax.set_ylabel(game.player_labels[0])
    ax.grid(False)
    if profile is not None:
        for r in np.flatnonzero(np.asarray(profile[0]) > 1e-9):
            for c in np.flatnonzero(np.asarray(profile[1]) > 1e-9):
                ax.add_patch(plt.Rectangle((c - 0.5, r - 0.5), 1, 1, fill=False,
                                           edgecolor=PALETTE[3], linewidth=2))
    return ax


def plot_profile_bars(labels: Sequence[str], values: Sequence[float] | np.ndarray, *,
                      errors: Sequence[float] | None = None, ylabel: str = "NashConv",
                      ax: Axes | None = None, **bar_options: Any) -> Axes:
    """Bar chart of one number per profile (e.g. NashConv of several candidate profiles)."""
    ax = _axes(ax)
    positions = np.arange(len(labels))
    colors = [PALETTE[k % len(PALETTE)] for k in range(len(labels))]
    ax.bar(positions, np.asarray(values, dtype=float), yerr=errors, color=colors, **bar_options)
    ax.set_xticks(positions, labels, rotation=20, ha="right")
    ax.set_ylabel(ylabel)
    return ax
