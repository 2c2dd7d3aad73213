"""Research figures: one :func:`paper_style`, pure ``plot_*(data, ax=None)`` functions.

Nothing runs at import beyond importing matplotlib, and importing this module never changes the
user's matplotlib backend (in Jupyter, figures keep showing inline; on a machine without a display
matplotlib falls back to a file backend by itself). Every plotting function draws on the axes it
is given (or on new ones) and returns them, so figures compose. :func:`save_figure` writes vector
(PDF) and raster (PNG) files atomically. The palette is Okabe-Ito (colour-blind safe).

Intervals across seeds (:func:`seed_band`) are Student-t 95% intervals from
:data:`MIN_SEEDS_FOR_INTERVAL` seeds on: of the mean on a linear axis, clipped to the metric's
range (NashConv is never below 0); of the mean of the logarithm on a log axis (the line is then
the geometric mean, and the band is positive by construction). With fewer seeds a band shows
the range of the seeds instead. Legends give the number of seeds ``n`` of every line and say what
the line and the band are. Players and agents are numbered from 1 in figures.

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
import math
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from cycler import cycler
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from gametools._io import atomic_open
from gametools.model import NormalFormGame

__all__ = [
    "MIN_SEEDS_FOR_INTERVAL",
    "PALETTE",
    "SeedBand",
    "band_description",
    "mean_interval",
    "paper_style",
    "player_label",
    "plot_equilibrium_map",
    "plot_estimates_vs_theory",
    "plot_exploitability_curves",
    "plot_heatmap_with_intervals",
    "plot_metric_vs_agents",
    "plot_nash_conv_curve",
    "plot_outcome_shares",
    "plot_payoff_heatmap",
    "plot_policy_vs_equilibrium",
    "plot_profile_bars",
    "plot_simplex_trajectories",
    "plot_solver_benchmark",
    "save_figure",
    "seed_band",
    "wilson_interval",
]

#: Okabe-Ito colour-blind-safe palette.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442",
           "#000000")

_STYLE: dict[str, Any] = {
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
    "axes.prop_cycle": cycler(color=PALETTE),
}


@contextlib.contextmanager
def paper_style() -> Iterator[None]:
    """Matplotlib settings for figures readable at column width."""
    with matplotlib.rc_context(_STYLE):  # type: ignore[arg-type]
        yield


def save_figure(figure: Figure, stem: str | Path, *, formats: Sequence[str] = ("pdf", "png")
                ) -> list[Path]:
    """Write ``stem.pdf`` and ``stem.png`` atomically; return the paths written."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    written = []
    for fmt in formats:
        target = stem.with_suffix(f".{fmt}")
        with atomic_open(target, "wb") as handle:
            figure.savefig(handle, format=fmt)
        written.append(target)
    return written


def player_label(game: Any, player: int) -> str:
    """The label figures show for a player: numbered from 1.

    Games label players ``"player 0"``, ``"firm 0"``, ... (the index in arrays); figures number
    agents from 1 everywhere, so a label that ends in its own 0-based index shows that index + 1.
    Other labels (``"insider"``, ``"Row"``) show unchanged.

    >>> from gametools import NormalFormGame
    >>> game = NormalFormGame.from_bimatrix([[1]], [[1]])
    >>> [player_label(game, i) for i in range(2)]
    ['player 1', 'player 2']
    """
    label = str(game.player_labels[player])
    stem, _, number = label.rpartition(" ")
    if stem and number == str(player):
        return f"{stem} {player + 1}"
    return label


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
    ax.figure.colorbar(image, ax=ax, label=f"payoff of {player_label(game, player)}")
    rows, cols = game.num_actions
    ax.set_xticks(range(cols), game.action_labels[1], rotation=90)
    ax.set_yticks(range(rows), game.action_labels[0])
    ax.set_xlabel(player_label(game, 1))
    ax.set_ylabel(player_label(game, 0))
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
    """Bar chart of one number per profile (e.g. NashConv of several candidate profiles).

    Every bar carries its value as text, so a bar of height 0 (an equilibrium's NashConv) is
    visible as a marked ``0`` rather than as no bar.
    """
    ax = _axes(ax)
    positions = np.arange(len(labels))
    colors = [PALETTE[k % len(PALETTE)] for k in range(len(labels))]
    heights = np.asarray(values, dtype=float)
    bars = ax.bar(positions, heights, yerr=errors, color=colors, **bar_options)
    ax.bar_label(bars, labels=[f"{v:.3g}" if v != 0 else "0" for v in heights], padding=2,
                 fontsize=6)
    zero = np.flatnonzero(heights == 0)
    if zero.size:  # a zero-height bar: a short line on the axis in the bar's colour
        ax.scatter(positions[zero], heights[zero], marker="_", s=200, linewidths=2.5,
                   color=[colors[k] for k in zero], zorder=3, clip_on=False)
    ax.set_ylim(bottom=min(0.0, float(np.nanmin(heights))) if heights.size else 0.0)
    ax.margins(y=0.15)
    ax.set_xticks(positions, labels, rotation=20, ha="right")
    ax.set_ylabel(ylabel)
    return ax


# ------------------------------------------------------------------------------------------
# study figures: tidy rows (mappings; numbers may be strings read back from a CSV) in, axes out
# ------------------------------------------------------------------------------------------



def _number(value: Any) -> float:
    """A row entry as a float (nan for empty or missing entries of a CSV)."""
    if value is None or (isinstance(value, str) and value.strip() in ("", "nan", "None")):
        return float("nan")
    return float(value)


def mean_interval(values: Sequence[float] | np.ndarray, *, confidence: float = 0.95,
                  bounds: tuple[float | None, float | None] = (None, None)
                  ) -> tuple[float, float, float]:
    """Mean and two-sided Student-t confidence interval of the mean, ignoring NaNs.

    Returns ``(mean, low, high)``; ``low == high == mean`` for a single value and all three are
    nan for none. ``bounds`` is the metric's range (e.g. ``(0, None)`` for NashConv): the
    interval is clipped to it, since the mean cannot leave it.

    >>> mean_interval([1.0, 2.0, 3.0])[0]
    2.0
    >>> mean_interval([0.0, 0.1], bounds=(0.0, None))[1]
    0.0
    """
    from scipy.stats import t as student

    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    data = np.asarray([_number(v) for v in values], dtype=float)
    data = data[~np.isnan(data)]
    if data.size == 0:
        return float("nan"), float("nan"), float("nan")
    mean = float(data.mean())
    if data.size == 1:
        return mean, mean, mean
    half = float(student.ppf(0.5 + confidence / 2, data.size - 1) * data.std(ddof=1)
                 / np.sqrt(data.size))
    return mean, _clip(mean - half, bounds), _clip(mean + half, bounds)


def wilson_interval(successes: int, trials: int, *, confidence: float = 0.95
                    ) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion ``successes / trials``.

    Unlike the normal (Wald) interval it stays inside ``[0, 1]`` and is not empty at 0 or
    ``trials`` successes: with 5 of 5 seeds the 95% interval is ``[0.57, 1]``. ``(nan, nan)``
    for no trials.

    References: E. B. Wilson, "Probable inference, the law of succession, and statistical
    inference", JASA 22, 1927; L. D. Brown, T. T. Cai and A. DasGupta, "Interval estimation for
    a binomial proportion", Statistical Science 16, 2001.

    >>> [round(x, 4) for x in wilson_interval(5, 5)]
    [0.5655, 1.0]
    >>> [round(x, 4) for x in wilson_interval(3, 10)]
    [0.1078, 0.6032]
    """
    from scipy.stats import norm

    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    if trials < 0 or not 0 <= successes <= trials:
        raise ValueError(f"need 0 <= successes <= trials, got {successes} of {trials}")
    if trials == 0:
        return float("nan"), float("nan")
    z = float(norm.ppf(0.5 + confidence / 2))
    share = successes / trials
    denominator = 1.0 + z * z / trials
    centre = (share + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(share * (1 - share) / trials + z * z / (4 * trials * trials)) \
        / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def _clip(value: float, bounds: tuple[float | None, float | None]) -> float:
    low, high = bounds
    if low is not None:
        value = max(value, low)
    if high is not None:
        value = min(value, high)
    return value


#: Seeds from which :func:`seed_band` draws a Student-t interval of the mean (fewer: the range).
MIN_SEEDS_FOR_INTERVAL = 5


class SeedBand(NamedTuple):
    """A statistic across seeds: the mean, a band ``[low, high]``, the count and the band's kind.

    ``kind`` is ``"t"`` (Student-t interval of the mean at ``confidence``), ``"t-log"`` (``mean``
    is the geometric mean and the band the Student-t interval of the mean of the logarithm,
    mapped back) or ``"range"`` (the arithmetic mean, and the smallest and largest seed: used
    below :data:`MIN_SEEDS_FOR_INTERVAL` seeds).
    """

    mean: float
    low: float
    high: float
    n: int
    kind: str


def seed_band(values: Sequence[float] | np.ndarray, *, confidence: float = 0.95,
              bounds: tuple[float | None, float | None] = (None, None),
              min_seeds: int = MIN_SEEDS_FOR_INTERVAL, log: bool = False) -> SeedBand:
    """Mean across seeds with an honest band: a t-interval from ``min_seeds`` seeds, else the range.

    A Student-t interval from two or three seeds is wide enough to leave the metric's range (a
    negative NashConv) and says little; below ``min_seeds`` the band is the range of the seeds,
    which is what the data show. The t-interval is clipped to ``bounds``.

    With ``log`` (a quantity drawn on a log axis) and positive values, the interval is computed
    on the log scale: ``exp`` of the t-interval of the mean of ``log(values)``, around the
    geometric mean (kind ``"t-log"``). It is positive, as the axis needs, and not dominated by one
    seed that is ten times worse than the others. A zero or negative value falls back to the
    linear interval clipped to ``bounds``.

    >>> seed_band([1.0, 3.0])
    SeedBand(mean=2.0, low=1.0, high=3.0, n=2, kind='range')
    >>> band = seed_band([1.0, 2.0, 3.0, 4.0, 5.0])
    >>> band.kind, band.n, round(band.high - band.mean, 3)   # t_{0.975, 4} = 2.776; sd 1.581
    ('t', 5, 1.963)
    >>> band = seed_band([0.01, 0.1, 1.0, 10.0, 100.0], log=True)   # log10: -2..2, sd 1.581
    >>> band.kind, round(band.mean, 12), round(float(np.log10(band.high)), 3)
    ('t-log', 1.0, 1.963)
    """
    data = np.asarray([_number(v) for v in values], dtype=float)
    data = data[~np.isnan(data)]
    if data.size >= max(min_seeds, 2):
        if log and bool(np.all(data > 0)):
            center, low, high = mean_interval(np.log(data), confidence=confidence)
            return SeedBand(float(np.exp(center)), _clip(float(np.exp(low)), bounds),
                            _clip(float(np.exp(high)), bounds), int(data.size), "t-log")
        mean, low, high = mean_interval(data, confidence=confidence, bounds=bounds)
        return SeedBand(mean, low, high, int(data.size), "t")
    if data.size == 0:
        nan = float("nan")
        return SeedBand(nan, nan, nan, 0, "range")
    return SeedBand(float(data.mean()), float(data.min()), float(data.max()), int(data.size),
                    "range")


def band_description(kinds: Sequence[str], confidence: float = 0.95) -> str:
    """Legend title saying what the lines (or points) and the bands (or error bars) are.

    One line per kind of :class:`SeedBand` among ``kinds``:

    >>> print(band_description(["t-log", "range"]))
    geometric mean, 95% t-interval on log scale
    mean, min-max of seeds (n < 5)
    """
    found = set(kinds)
    parts = []
    if "t" in found:
        parts.append(f"mean, {confidence:.0%} t-interval of the mean")
    if "t-log" in found:
        parts.append(f"geometric mean, {confidence:.0%} t-interval on log scale")
    if "range" in found:
        parts.append(f"mean, min-max of seeds (n < {MIN_SEEDS_FOR_INTERVAL})")
    return "\n".join(parts)


def _last_steps(rows: Sequence[Any], keys: Sequence[str]) -> list[Any]:
    """The row with the largest ``step`` for every combination of ``keys`` and ``seed``."""
    last: dict[tuple[str, ...], Any] = {}
    for row in rows:
        identity = tuple(str(row.get(k, "")) for k in (*keys, "seed"))
        step = _number(row.get("step", 0))
        if identity not in last or step > _number(last[identity].get("step", 0)):
            last[identity] = row
    return list(last.values())


def _ordered(values: Any, order: Sequence[str] | None) -> list[str]:
    seen = list(dict.fromkeys(str(v) for v in values))
    if order is None:
        return seen
    return [v for v in order if v in seen] + [v for v in seen if v not in order]


def _category_colour(kind: str, order: Sequence[str] | None, present: Sequence[str]) -> str:
    """A category's colour: its position in ``order`` when given (stable across panels)."""
    full = [*(order or ()), *(k for k in present if k not in (order or ()))]
    return PALETTE[full.index(kind) % len(PALETTE)]


def plot_outcome_shares(rows: Sequence[Any], *, group: str = "algorithm",
                        outcome: str = "equilibrium", groups: Sequence[str] | None = None,
                        outcomes: Sequence[str] | None = None, ylabel: str = "share of seeds",
                        xlabel: str | None = None, confidence: float | None = 0.95,
                        exact: Sequence[str] = (), ax: Axes | None = None) -> Axes:
    """Stacked bars: for every ``group`` (e.g. algorithm), the share of rows per ``outcome``.

    Parameters
    ----------
    rows : sequence of mapping
        One row per run (e.g. the final row of every seed), with columns ``group`` and
        ``outcome``.
    groups, outcomes : sequence of str, optional
        Display order; an outcome keeps the colour of its position in ``outcomes`` (so panels
        agree). Default: order of appearance.
    confidence : float or None
        Level of the error bars: at every boundary between two segments, the
        :func:`wilson_interval` of the share below it (the cumulative share of the outcomes
        stacked under the boundary, itself a binomial proportion of the group's ``n`` runs).
        ``None`` draws no error bars.
    exact : sequence of str
        Groups whose shares are not samples (e.g. basin shares on a grid of starting points):
        drawn without error bars.

    Every bar's tick label gives its number of rows ``n`` (the denominator of its shares), and
    the legend title says what the error bars are.
    """
    ax = _axes(ax)
    names = _ordered((row[group] for row in rows), groups)
    kinds = _ordered((row[outcome] for row in rows), outcomes)
    counts = np.zeros((len(names), len(kinds)))
    for row in rows:
        counts[names.index(str(row[group])), kinds.index(str(row[outcome]))] += 1
    totals = counts.sum(axis=1)
    shares = counts / np.maximum(totals[:, None], 1)
    positions = np.arange(len(names))
    bottom = np.zeros(len(names))
    for k, kind in enumerate(kinds):
        ax.bar(positions, shares[:, k], bottom=bottom, color=_category_colour(kind, outcomes,
                                                                              kinds),
               label=kind, edgecolor="white", linewidth=0.5)
        bottom += shares[:, k]
    drawn = False
    if confidence is not None:
        cumulative = np.cumsum(counts, axis=1)
        for g, name in enumerate(names):
            if name in exact or totals[g] == 0:
                continue
            for k in range(len(kinds) - 1):  # the top boundary is 1 for every sample
                if k > 0 and counts[g, k] == 0:
                    continue  # an empty segment adds no boundary (the one below is drawn)
                low, high = wilson_interval(int(cumulative[g, k]), int(totals[g]),
                                            confidence=confidence)
                share = cumulative[g, k] / totals[g]
                # side by side when a bar has several boundaries, so the intervals stay apart
                shift = 0.12 * (k - (len(kinds) - 2) / 2)
                ax.errorbar([positions[g] + shift], [share], yerr=[[share - low], [high - share]],
                            fmt="none", ecolor="black", elinewidth=0.7, capsize=2, zorder=3)
                drawn = True
    ax.set_axisbelow(True)  # grid lines behind the bars
    ax.set_xticks(positions, [f"{name} (n={int(total)})" for name, total in
                              zip(names, totals)], rotation=20, ha="right")
    ax.set_ylim(0, 1)
    ax.set_ylabel(ylabel)
    ax.set_xlabel(xlabel if xlabel is not None else group)
    title = outcome
    if drawn:
        title += (f"\nerror bars: {confidence:.0%} Wilson interval\nof the share below each "
                  "boundary")
    ax.legend(frameon=False, title=title, title_fontsize=6, loc="upper left",
              bbox_to_anchor=(1.0, 1.0))
    return ax


def plot_equilibrium_map(rows: Sequence[Any], *, x: str = "x0", y: str = "y0",
                         outcome: str = "equilibrium", outcomes: Sequence[str] | None = None,
                         equilibria: Mapping[str, tuple[float, float]] | None = None,
                         xlabel: str = "initial P(player 1 plays action 1)",
                         ylabel: str = "initial P(player 2 plays action 1)",
                         ax: Axes | None = None) -> Axes:
    """Basin map of a 2x2 game: the equilibrium reached from every starting point of a grid.

    Parameters
    ----------
    rows : sequence of mapping
        Columns ``x``, ``y`` (the starting point: each player's probability of its first action)
        and ``outcome`` (the equilibrium label reached). Repeated starting points (e.g. several
        recorded steps of one trajectory) must agree; the last one is drawn.
    equilibria : mapping of label to (x, y), optional
        Equilibria to mark (stars), coloured like their basins.
    """
    from matplotlib.colors import BoundaryNorm, ListedColormap
    from matplotlib.patches import Patch

    ax = _axes(ax)
    kinds = _ordered((row[outcome] for row in rows), outcomes)
    if equilibria:
        kinds += [k for k in equilibria if k not in kinds]
    xs = np.unique([round(_number(row[x]), 12) for row in rows])
    ys = np.unique([round(_number(row[y]), 12) for row in rows])
    grid = np.full((len(ys), len(xs)), np.nan)
    for row in rows:
        i = int(np.searchsorted(ys, round(_number(row[y]), 12)))
        j = int(np.searchsorted(xs, round(_number(row[x]), 12)))
        grid[i, j] = kinds.index(str(row[outcome]))

    def edges(centres: np.ndarray) -> np.ndarray:
        if centres.size == 1:
            return np.array([centres[0] - 0.5, centres[0] + 0.5])
        middle = (centres[1:] + centres[:-1]) / 2
        return np.concatenate([[2 * centres[0] - middle[0]], middle,
                               [2 * centres[-1] - middle[-1]]])

    colours = [_category_colour(kind, outcomes, kinds) for kind in kinds]
    ax.pcolormesh(edges(xs), edges(ys), np.ma.masked_invalid(grid),
                  cmap=ListedColormap(colours),
                  norm=BoundaryNorm(np.arange(len(kinds) + 1) - 0.5, len(kinds)), alpha=0.45)
    handles = [Patch(facecolor=c, alpha=0.45, label=k) for k, c in zip(kinds, colours)]
    for label, (ex, ey) in (equilibria or {}).items():
        # not clipped: pure equilibria sit on the corners of the unit square
        ax.plot([ex], [ey], marker="*", markersize=10, color=colours[kinds.index(label)],
                markeredgecolor="black", markeredgewidth=0.6, linestyle="none", clip_on=False,
                zorder=4)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_aspect("equal")
    ax.grid(False)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(handles=handles, frameon=False, title=outcome, loc="upper left",
              bbox_to_anchor=(1.0, 1.0))
    return ax


def _ternary(points: np.ndarray) -> np.ndarray:
    """Barycentric points ``(T, 3)`` on the 2-simplex as plane coordinates ``(T, 2)``."""
    corners = np.array([[0.0, 0.0], [1.0, 0.0], [0.5, np.sqrt(3) / 2]])
    return points @ corners


def plot_simplex_trajectories(trajectories: Sequence[np.ndarray], *,
                              color: str | None = None,
                              vertex_labels: Sequence[str] | None = None,
                              xlabel: str = "P(player 1 plays action 1)",
                              ylabel: str = "P(player 2 plays action 1)",
                              ax: Axes | None = None) -> Axes:
    """Trajectories of a learning dynamic, start marked by a dot and end by an arrow.

    Parameters
    ----------
    trajectories : sequence of ndarray
        Either ``(T, 2)`` points ``(x, y)`` in the unit square (a 2x2 game: each player's
        probability of its first action), or ``(T, 3)`` mixed strategies of a three-action
        population drawn on the 2-simplex (ternary coordinates).
    vertex_labels : sequence of 3 str, optional
        Simplex corners' labels (three-action case).
    """
    ax = _axes(ax)
    colour = color or PALETTE[7]
    if not trajectories:
        raise ValueError("plot_simplex_trajectories needs at least one trajectory")
    width = np.asarray(trajectories[0]).shape[1]
    if width not in (2, 3) or any(np.asarray(t).ndim != 2 or np.asarray(t).shape[1] != width
                                  for t in trajectories):
        raise ValueError("trajectories must all have shape (T, 2) (unit square) or all (T, 3) "
                         "(simplex)")
    for trajectory in trajectories:
        points = np.asarray(trajectory, dtype=float)
        if width == 3:
            points = _ternary(points)
        ax.plot(points[:, 0], points[:, 1], color=colour, linewidth=0.8, alpha=0.8)
        ax.plot(points[:1, 0], points[:1, 1], marker="o", markersize=2.5, color=colour,
                linestyle="none")
        if len(points) >= 2:
            ax.annotate("", xy=points[-1], xytext=points[-2],
                        arrowprops={"arrowstyle": "-|>", "color": colour, "lw": 0.8})
    if width == 3:
        corners = _ternary(np.eye(3))
        ax.plot(*np.vstack([corners, corners[:1]]).T, color="black", linewidth=0.8)
        for corner, text in zip(corners, vertex_labels or ("1", "2", "3")):
            ax.annotate(text, corner, textcoords="offset points", xytext=(0, 4),
                        ha="center", fontsize=7)
        ax.set_aspect("equal")
        ax.axis("off")
        ax.set_xlabel("")
        ax.set_ylabel("")
    else:
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_aspect("equal")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
    return ax


def _agents(row: Any, column: str) -> float:
    """Number of agents from ``row[column]``, else from ``"column=K"`` in the row's label."""
    import re

    value = _number(row.get(column)) if row.get(column) not in (None, "") else float("nan")
    if np.isnan(value):
        found = re.search(rf"{re.escape(column)}\s*=\s*(\d+)", str(row.get("label", "")))
        if found:
            value = float(found.group(1))
    return value


def plot_metric_vs_agents(rows: Sequence[Any], *, metric: str = "nash_conv",
                          agents: str = "n_agents", group: str = "algorithm",
                          groups: Sequence[str] | None = None, ylabel: str | None = None,
                          xlabel: str = "number of agents", log: bool = False,
                          confidence: float = 0.95,
                          bounds: tuple[float | None, float | None] = (None, None),
                          ax: Axes | None = None) -> Axes:
    """Mean of ``metric`` across seeds against the number of agents, one line per ``group``.

    The last step of every seed counts; the shaded band is :func:`seed_band`'s (a Student-t
    interval from :data:`MIN_SEEDS_FOR_INTERVAL` seeds, on the log scale when ``log``, clipped
    to the metric's range ``bounds``; else the seeds' range), and the legend gives each line's
    number of seeds and says what the band is. The number of agents is the ``agents`` column or
    ``"n_agents=K"`` in ``label``.
    """
    ax = _axes(ax)
    usable = [row for row in rows if not np.isnan(_agents(row, agents))
              and not np.isnan(_number(row.get(metric)))]
    final = _last_steps(usable, (group, agents, "label", "scenario"))
    names = _ordered((row[group] for row in final), groups)
    kinds: list[str] = []
    for name in names:
        members = [row for row in final if str(row[group]) == name]
        counts = sorted({_agents(row, agents) for row in members})
        bands = [seed_band([row[metric] for row in members if _agents(row, agents) == n],
                           confidence=confidence, bounds=bounds, log=log) for n in counts]
        kinds += [band.kind for band in bands if band.n > 1]
        seeds = max(band.n for band in bands)
        colour = _category_colour(name, groups, names)
        ax.plot(counts, [band.mean for band in bands], marker="o", markersize=3, color=colour,
                label=f"{name} (n={seeds})")
        ax.fill_between(counts, [band.low for band in bands], [band.high for band in bands],
                        color=colour, alpha=0.2, linewidth=0)
    ax.set_xticks(sorted({_agents(row, agents) for row in final}))
    if log:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel if ylabel is not None else metric.replace("_", " "))
    ax.legend(frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0),
              title=band_description(kinds, confidence) or None, title_fontsize=6)
    return ax


def plot_heatmap_with_intervals(rows: Sequence[Any], *, metric: str = "nash_conv",
                                row: str = "scenario", column: str = "algorithm",
                                rows_order: Sequence[str] | None = None,
                                columns_order: Sequence[str] | None = None,
                                colorbar_label: str | None = None, confidence: float = 0.95,
                                digits: int = 2,
                                bounds: tuple[float | None, float | None] = (None, None),
                                ax: Axes | None = None) -> Axes:
    """Heatmap of the mean of ``metric`` across seeds, each cell annotated ``mean [low, high]``.

    The last step of every seed counts; ``[low, high]`` is :func:`seed_band`'s band (the
    Student-t interval of the mean from :data:`MIN_SEEDS_FOR_INTERVAL` seeds, clipped to the
    metric's range ``bounds``; the seeds' range with fewer; omitted for one seed). Every cell
    also shows its number of seeds ``n``, and the colour bar's label says what the brackets are.
    Missing (row, column) pairs are left blank and marked "n/a". Colours: viridis (colour-blind
    safe, monotone in lightness).
    """
    ax = _axes(ax)
    usable = [r for r in rows if not np.isnan(_number(r.get(metric)))]
    final = _last_steps(usable, (row, column))
    names = _ordered((r[row] for r in final), rows_order)
    columns = _ordered((r[column] for r in final), columns_order)
    means = np.full((len(names), len(columns)), np.nan)
    text = [["n/a"] * len(columns) for _ in names]
    kinds: list[str] = []
    for i, name in enumerate(names):
        for j, col in enumerate(columns):
            values = [r[metric] for r in final if str(r[row]) == name and str(r[column]) == col]
            if not values:
                continue
            band = seed_band(values, confidence=confidence, bounds=bounds)
            means[i, j] = band.mean
            text[i][j] = f"{band.mean:.{digits}g}"
            if band.n > 1:
                kinds.append(band.kind)
                text[i][j] += f"\n[{band.low:.{digits}g}, {band.high:.{digits}g}]"
            text[i][j] += f"\nn={band.n}"
    image = ax.imshow(np.ma.masked_invalid(means), cmap="viridis", aspect="auto")
    label = colorbar_label or metric.replace("_", " ")
    if kinds:
        label += "\n[" + band_description(kinds, confidence).replace("\n", "; ") + "]"
    ax.figure.colorbar(image, ax=ax, label=label)
    finite = means[np.isfinite(means)]
    middle = (finite.min() + finite.max()) / 2 if finite.size else 0.0
    for i in range(len(names)):
        for j in range(len(columns)):
            dark = np.isfinite(means[i, j]) and means[i, j] < middle
            ax.text(j, i, text[i][j], ha="center", va="center", fontsize=5.5,
                    color="white" if dark else "black")
    ax.set_xticks(range(len(columns)), columns, rotation=30, ha="right")
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel(column)
    ax.set_ylabel(row)
    ax.grid(False)
    return ax




# ------------------------------------------------------------------------------------------
# training curves and estimates against theory (the Kyle study; any train rows)
# ------------------------------------------------------------------------------------------

def plot_exploitability_curves(rows: Sequence[Any], *, ax: Axes | None = None, x: str = "step",
                               y: str = "nash_conv", group: str = "algorithm",
                               groups: Sequence[str] | None = None, log: bool = True,
                               confidence: float = 0.95, xlabel: str | None = None,
                               ylabel: str | None = None,
                               floor: float | None = None,
                               bounds: tuple[float | None, float | None] = (0.0, None)) -> Axes:
    """Mean of ``y`` across seeds against ``x``, one line per ``group``, with a band (:func:`seed_band`).

    On a log axis (``log``, the default) the line is the geometric mean across seeds and the band
    the t-interval on the log scale (positive, so it stays on the axis); on a linear axis, the
    arithmetic mean and its t-interval clipped to ``bounds``.

    Parameters
    ----------
    rows : sequence of mapping
        Tidy rows with columns ``x``, ``y``, ``group`` and ``seed`` (e.g. the rows of every
        train cell of a study). Rows whose ``y`` is missing are ignored.
    log : bool
        Logarithmic ``y`` axis.
    confidence : float
        Level of the Student-t interval (from :data:`MIN_SEEDS_FOR_INTERVAL` seeds; fewer seeds
        show their range).
    floor : float, optional
        A dashed horizontal reference line (e.g. the NashConv of the projected theoretical
        equilibrium on the grid).
    bounds : (low, high)
        The metric's range; intervals are clipped to it (NashConv is never below 0).

    The legend gives each line's number of seeds ``n``, and its title says what the lines and
    the bands are.
    """
    ax = _axes(ax)
    usable = [r for r in rows if not np.isnan(_number(r.get(y)))
              and not np.isnan(_number(r.get(x)))]
    curves = []
    for name in _ordered((r[group] for r in usable), groups):
        members = [r for r in usable if str(r[group]) == name]
        xs = sorted({_number(r[x]) for r in members})
        bands = [seed_band([r[y] for r in members if _number(r[x]) == value],
                           confidence=confidence, bounds=bounds, log=log) for value in xs]
        curves.append((name, xs, bands, len({str(r.get("seed", "")) for r in members})))
    positive = [_number(r[y]) for r in usable if _number(r[y]) > 0]
    positive += [b.low for _, _, bands, _ in curves for b in bands if b.low > 0]
    if floor is not None and floor > 0:
        positive.append(floor)
    # on a log axis a band reaching zero (a seed at exactly 0, so a linear interval) runs to the
    # bottom of the axes
    bottom = 0.5 * min(positive) if positive else 1e-12
    kinds = []
    for k, (name, xs, bands, seeds) in enumerate(curves):
        kinds += [band.kind for band in bands if band.n > 1]
        colour = PALETTE[k % len(PALETTE)]
        ax.plot(xs, [band.mean for band in bands], color=colour, label=f"{name} (n={seeds})")
        low = np.array([band.low for band in bands])
        low = np.maximum(low, bottom) if log else low
        ax.fill_between(xs, low, [band.high for band in bands], color=colour, alpha=0.2,
                        linewidth=0)
    if floor is not None:
        ax.axhline(floor, color=PALETTE[7], linestyle="--", linewidth=0.8,
                   label="equilibrium (theory, on the grid)")
    if log:
        ax.set_yscale("log")
        ax.set_ylim(bottom=bottom)
    if usable and max(abs(_number(r[x])) for r in usable) >= 1e4:
        from matplotlib.ticker import EngFormatter, MaxNLocator

        # 20k, 40k, ... instead of colliding 20000, 40000 tick labels
        ax.xaxis.set_major_locator(MaxNLocator(5))
        ax.xaxis.set_major_formatter(EngFormatter(sep=""))
    ax.set_xlabel(xlabel if xlabel is not None else
                  ("environment steps" if x == "step" else x.replace("_", " ")))
    ax.set_ylabel(ylabel if ylabel is not None else
                  ("NashConv" if y == "nash_conv" else y.replace("_", " ")))
    # beside the axes: inside, it would cover the curves or the equilibrium's reference line
    ax.legend(frameon=False, title=band_description(kinds, confidence) or None,
              title_fontsize=6, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    return ax


def plot_estimates_vs_theory(rows: Sequence[Any], *, estimates: Sequence[str] = ("lambda",
                                                                                  "beta"),
                             theory: Mapping[str, float] | None = None,
                             group: str = "algorithm", groups: Sequence[str] | None = None,
                             names: Mapping[str, str] | None = None, confidence: float = 0.95,
                             ylabel: str | None = None, exact: Sequence[str] = (),
                             theory_label: str = "theory", ax: Axes | None = None) -> Axes:
    """Learned statistics per seed (dots) and their mean with a band (bars) against theory.

    Statistics with different units (a price impact, a trading intensity) never share an axis:
    with several ``estimates`` the area of ``ax`` is split into one panel per estimate, each with
    its own y axis labelled by its name (the panels are ``ax.child_axes``; ``ax`` itself keeps
    only its title).

    Parameters
    ----------
    rows : sequence of mapping
        Rows carrying the ``estimates`` columns (for a study, the final row of every seed; rows
        where an estimate is missing are ignored for it), plus ``group`` and ``seed``.
    estimates : sequence of str
        Columns to draw, one panel each.
    theory : mapping, optional
        Theoretical value of each estimate, drawn as a dashed line across its panel;
        default: the rows' ``reference_<estimate>`` column when present.
    names : mapping, optional
        Display names of the estimates (e.g. ``{"lambda": "price impact λ"}``).
    confidence : float
        Level of the Student-t interval (from :data:`MIN_SEEDS_FOR_INTERVAL` seeds; fewer seeds:
        their range), see :func:`seed_band`.
    ylabel : str, optional
        Label of the y axis when there is one estimate (default: its name).
    exact : sequence of str
        Groups whose value is computed, not sampled across seeds (e.g. the theoretical
        equilibrium projected on a grid): drawn as one diamond, without ``n`` or a band.
    theory_label : str
        Legend entry of the dashed theory line.

    Returns
    -------
    Axes
        ``ax`` (or the new axes); with several estimates its panels are ``ax.child_axes``.
    """
    ax = _axes(ax)
    members = _ordered((r[group] for r in rows
                        if any(not np.isnan(_number(r.get(e))) for e in estimates)), groups)
    if len(estimates) == 1:
        panels = [ax]
    else:
        ax.axis("off")
        gap = 0.35 / len(estimates)
        width = (1.0 - gap * (len(estimates) - 1)) / len(estimates)
        panels = [ax.inset_axes((j * (width + gap), 0.0, width, 1.0))
                  for j in range(len(estimates))]
    kinds: list[str] = []
    handles: dict[str, Any] = {}
    for j, (estimate, panel) in enumerate(zip(estimates, panels)):
        for k, name in enumerate(members):
            values = [_number(r.get(estimate)) for r in rows if str(r[group]) == name]
            values = [v for v in values if not np.isnan(v)]
            if not values:
                continue
            colour = PALETTE[k % len(PALETTE)]
            if name in exact:
                handles.setdefault(name, panel.plot([k], [values[-1]], linestyle="none",
                                                    marker="D", markersize=4,
                                                    color=colour)[0])
                continue
            spread = np.linspace(-0.2, 0.2, len(values)) if len(values) > 1 else [0.0]
            panel.plot(k + np.asarray(spread), values, linestyle="none", marker="o",
                       markersize=2.5, color=colour, alpha=0.6)
            band = seed_band(values, confidence=confidence)
            if band.n > 1:
                kinds.append(band.kind)
            handle = panel.errorbar([k], [band.mean], yerr=[[band.mean - band.low],
                                                            [band.high - band.mean]],
                                    marker="s", markersize=4, color=colour, capsize=2,
                                    linewidth=1)
            handles.setdefault(f"{name} (n={band.n})", handle)
        target = None if theory is None else theory.get(estimate)
        if target is None:
            known = [_number(r.get(f"reference_{estimate}")) for r in rows]
            known = [v for v in known if not np.isnan(v)]
            target = known[0] if known else None
        if target is not None:
            handles.setdefault(theory_label, panel.axhline(target, color=PALETTE[7],
                                                           linestyle="--", linewidth=1))
        label = (names or {}).get(estimate, estimate)
        panel.set_xticks(range(len(members)), members, rotation=30, ha="right")
        panel.set_xlim(-0.6, len(members) - 0.4)
        panel.set_ylabel(ylabel if ylabel is not None and len(estimates) == 1 else label)
    title = "\n".join(part for part in (band_description(kinds, confidence),
                                         "dots: one per seed" if kinds else "") if part)
    panels[-1].legend(list(handles.values()), list(handles), frameon=False,
                      loc="upper left", bbox_to_anchor=(1.02, 1.0), title=title or None,
                      title_fontsize=6)
    return ax


def plot_policy_vs_equilibrium(policy: Any, equilibrium: Any, *, ax: Axes | None = None,
                               observation_labels: Sequence[str] | None = None,
                               action_labels: Sequence[str] | None = None,
                               tol: float = 1e-9) -> Axes:
    """Heatmap of a (learned) policy with the equilibrium's support outlined.

    Parameters
    ----------
    policy, equilibrium : array_like, shape (O, n)
        One player's action probabilities per observation.
    tol : float
        Probabilities above ``tol`` count as the equilibrium's support.
    """
    learned = np.asarray(policy, dtype=float)
    reference = np.asarray(equilibrium, dtype=float)
    if learned.shape != reference.shape or learned.ndim != 2:
        raise ValueError(f"policy and equilibrium must have the same shape (O, n), got "
                         f"{learned.shape} and {reference.shape}")
    ax = _axes(ax)
    image = ax.imshow(learned, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto",
                      origin="upper")
    ax.figure.colorbar(image, ax=ax, label="probability (learned)")
    rows, cols = learned.shape
    for r, c in zip(*np.nonzero(reference > tol)):
        ax.add_patch(plt.Rectangle((c - 0.5, r - 0.5), 1, 1, fill=False,
                                   edgecolor=PALETTE[3], linewidth=1.5))
    ax.set_xticks(range(cols), [str(a) for a in action_labels] if action_labels is not None
                  else [str(c) for c in range(cols)], rotation=90)
    if observation_labels is not None:
        ax.set_yticks(range(rows), observation_labels)
    ax.set_xlabel("action")
    ax.set_ylabel("observation")
    ax.grid(False)
    ax.set_title("learned policy; equilibrium support outlined", fontsize=7)
    return ax


def plot_solver_benchmark(rows: Sequence[Any], *, ax: Axes | None = None, x: str = "size",
                          y: str = "seconds", group: str = "solver", log: bool = True,
                          incomplete: str | None = "incomplete") -> Axes:
    """Solver time against problem size, one line per solver (benchmark tables).

    ``rows`` are mappings with columns ``x``, ``y`` and ``group``; a truthy ``incomplete`` column
    marks runs that missed equilibria (drawn as open markers).
    """
    ax = _axes(ax)
    groups = list(dict.fromkeys(str(r[group]) for r in rows))
    for k, name in enumerate(groups):
        mine = sorted((r for r in rows if str(r[group]) == name), key=lambda r: float(r[x]))
        sizes = [float(r[x]) for r in mine]
        times = [float(r[y]) for r in mine]
        color = PALETTE[k % len(PALETTE)]
        ax.plot(sizes, times, marker="o", color=color, label=name)
        if incomplete is not None:
            missed = [(s, t) for s, t, r in zip(sizes, times, mine) if r.get(incomplete)]
            if missed:
                ax.scatter([m[0] for m in missed], [m[1] for m in missed], s=40,
                           facecolors="white", edgecolors=color, zorder=3)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel(x)
    ax.set_ylabel(f"{y} (log scale)" if log else y)
    ax.legend(frameon=False)
    return ax
