"""Readable plain-text output of ``gametools solve`` and ``gametools exploit`` (without ``--json``).

Numbers print with 6 significant digits (exact rationals as ``p/q``), never as ``-0``; strategies
print as their supports with the game's action labels (``4/5 T + 1/5 M``) instead of full
probability vectors; a Markov game's policy prints one row per state (or observation) up to a
limit, and a scenario's statistics print beside its closed form in one table with the relative
error. ``--json`` output does not go through this module.

>>> print(render_table(["player", "payoff"], [["Row", format_number(-0.0)], ["Column", "14/5"]]))
player  payoff
------  ------
Row     0
Column  14/5
>>> format_strategy([0.8, 0.2, 0.0], ("T", "M", "B"))
'0.8 T + 0.2 M'
"""

from __future__ import annotations

import decimal
import math
from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any

import numpy as np

from gametools._io import fraction_text

__all__ = ["MAX_ROWS", "comparison_table", "continuum_table", "exploit_report", "format_number",
           "format_strategy", "render_table", "solve_report"]

#: Rows of a policy table printed before the rest is elided (``--json`` prints everything).
MAX_ROWS = 12

# probabilities below this print as outside the support (the certified regret covers the rest)
_SUPPORT_TOLERANCE = 1e-9


def format_number(value: Any, digits: int = 6) -> str:
    """``value`` with ``digits`` significant digits; fractions as ``p/q``; never ``-0``.

    >>> [format_number(v) for v in (-0.0, Fraction(-0), 1/3, Fraction(14, 5), -1e-17)]
    ['0', '0', '0.333333', '14/5', '-1e-17']
    """
    if isinstance(value, Fraction):
        text = fraction_text(value)
        if len(text) <= 40:
            return text
        # a long exact number (such as 1e-5000) as a decimal: float would round it to 0 or inf
        exact = decimal.Context(prec=digits, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN)
        quotient = exact.divide(exact.create_decimal(value.numerator),
                                exact.create_decimal(value.denominator))
        return f"{quotient:.{digits}g} (exact value in --json)"
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    number = float(value)
    if math.isnan(number) or math.isinf(number):
        return str(number)
    text = f"{number:.{digits}g}"
    if text.lstrip("-").strip("0.") == "" or text in ("-0", "-0.0"):
        return "0"
    return text


def render_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns separated by two spaces, a dashed rule under the headers."""
    widths = [len(h) for h in headers]
    for row in rows:
        for k, cell in enumerate(row):
            widths[k] = max(widths[k], len(cell))
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip(),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
    return "\n".join(lines)


def _action_name(label: str, index: int) -> str:
    if not label:
        return f"#{index + 1}"
    try:  # numeric labels (prices, quantities on a grid) print with 4 significant digits
        return format_number(float(label), 4)
    except ValueError:
        return label


def format_strategy(strategy: Sequence[Any] | np.ndarray, labels: Sequence[str], *, max_terms: int = 4) -> str:
    """The support of a mixed strategy with its probabilities: ``"2/3 L + 1/3 R"``, or ``"L"``.

    Parameters
    ----------
    strategy : sequence of float or Fraction, length n
    labels : sequence of str, length n
        Action labels (``""`` entries print as the 1-based action number ``#k``; numeric labels
        with 4 significant digits).
    max_terms : int
        Larger supports print their ``max_terms - 1`` most likely actions and a count of the
        rest; a uniform strategy over every action prints as ``uniform over n actions``.

    >>> format_strategy([Fraction(1, 3), Fraction(2, 3)], ("L", "R"))
    '1/3 L + 2/3 R'
    >>> format_strategy([0.25] * 4, ("a", "b", "c", "d"))
    'uniform over 4 actions'
    >>> format_strategy([0.1, 0.2, 0.3, 0.25, 0.15], ("0.1", "0.2", "0.3", "0.4", "0.5"))
    '0.3 0.3 + 0.25 0.4 + 0.2 0.2 + 2 more actions'
    """
    names = [_action_name(label, k) for k, label in enumerate(labels)]
    support = [(p, names[k]) for k, p in enumerate(strategy)
               if (p != 0 if isinstance(p, Fraction) else float(p) > _SUPPORT_TOLERANCE)]
    if not support:
        return "(empty)"
    if len(support) == 1 and (support[0][0] == 1 if isinstance(support[0][0], Fraction)
                              else abs(float(support[0][0]) - 1) <= _SUPPORT_TOLERANCE):
        return support[0][1]
    probabilities = np.array([float(p) for p, _ in support])
    if len(support) == len(names) > 2 and np.ptp(probabilities) <= _SUPPORT_TOLERANCE:
        return f"uniform over {len(names)} actions"
    if len(support) > max_terms:
        order = np.argsort(-probabilities, kind="stable")[:max_terms - 1]
        shown = " + ".join(f"{format_number(support[k][0], 4)} {support[k][1]}" for k in order)
        return f"{shown} + {len(support) - len(order)} more actions"
    return " + ".join(f"{format_number(p, 4)} {name}" for p, name in support)


def _row_labels(game: Any, player: int) -> list[str]:
    """Labels of the rows of player ``player``'s policy: state labels, or the observed states."""
    if getattr(game, "fully_observed", True):
        return list(game.state_labels)
    observed = np.asarray(game.observations[player])
    labels = []
    for o in range(int(observed.max()) + 1):
        states = np.flatnonzero(observed == o)
        labels.append(game.state_labels[int(states[0])] if len(states) == 1 else f"obs {o}")
    return labels


def _strategy_cells(game: Any, equilibrium: Any, player: int) -> list[tuple[str, str]]:
    """``(row label, support)`` pairs of one player's strategy (one pair for a normal form)."""
    labels = game.action_labels[player]
    strategy = np.asarray(equilibrium.strategies[player], dtype=float)
    if strategy.ndim == 1:
        exact = equilibrium.strategies_exact
        shown = exact[player] if exact is not None and len(exact[player]) == len(strategy) \
            else strategy
        return [("", format_strategy(shown, labels))]
    row_labels = _row_labels(game, player)
    return [(row_labels[o] if o < len(row_labels) else f"obs {o}",
             format_strategy(strategy[o], labels)) for o in range(strategy.shape[0])]


def _equilibrium_block(game: Any, equilibrium: Any, index: int, count: int,
                       certified: bool = True) -> list[str]:
    payoffs = (equilibrium.payoffs_exact if equilibrium.payoffs_exact is not None
               else equilibrium.payoffs)
    regret = "0 (exact)" if equilibrium.exact and equilibrium.regret == 0 \
        else format_number(equilibrium.regret, 3)
    title = "equilibrium" if certified else "NOT CERTIFIED: best point reached"
    lines = [f"{title} {index + 1} of {count}   regret {regret}"]
    normal_form = np.asarray(equilibrium.strategies[0]).ndim == 1
    if normal_form:
        rows = [[game.player_labels[i], format_number(payoffs[i]),
                 _strategy_cells(game, equilibrium, i)[0][1]] for i in range(game.num_players)]
        lines.append(render_table(["player", "payoff", "strategy (support)"], rows))
        return lines
    header = ["player", "payoff (value from the start)"]
    lines.append(render_table(header, [[game.player_labels[i], format_number(payoffs[i])]
                                       for i in range(game.num_players)]))
    fully_observed = getattr(game, "fully_observed", True)
    for i in range(game.num_players):
        cells = _strategy_cells(game, equilibrium, i)
        strategy = np.asarray(equilibrium.strategies[i], dtype=float)
        pure = int(np.sum(np.max(strategy, axis=1) >= 1 - _SUPPORT_TOLERANCE))
        uniform = [np.ptp(row) <= _SUPPORT_TOLERANCE and len(row) > 1 for row in strategy]
        # the rows where the policy commits to something come first; uniform rows (often states
        # that are never reached) after them
        order = [k for k in range(len(cells)) if not uniform[k]] + \
                [k for k in range(len(cells)) if uniform[k]]
        shown = order[:MAX_ROWS]
        lines.append("")
        lines.append(f"{game.player_labels[i]}: policy, {len(cells)} "
                     f"{'states' if fully_observed else 'observations'} ({pure} pure, "
                     f"{sum(uniform)} uniform, {len(cells) - pure - sum(uniform)} mixed)")
        lines.append(render_table(["state" if fully_observed else "observation",
                                   "strategy (support)"], [list(cells[k]) for k in shown]))
        if len(cells) > len(shown):
            hidden_uniform = sum(uniform[k] for k in order[MAX_ROWS:])
            lines.append(f"... {len(cells) - len(shown)} more rows, {hidden_uniform} of them "
                         "uniform (--json prints every row)")
    return lines


def _flatten(document: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts as dotted keys; lists and numbers stay values."""
    if isinstance(document, Mapping):
        out: dict[str, Any] = {}
        for key, value in document.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if key == "":
                name = f"{prefix}.(start)" if prefix else "(start)"
            out.update(_flatten(value, name))
        return out
    return {prefix: document}


def _numbers(value: Any) -> np.ndarray | None:
    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        return None
    return array if array.size else None


def _cell(value: Any) -> str:
    array = _numbers(value)
    if array is None:
        return str(value)
    if array.ndim == 0:
        return format_number(float(array))
    return ", ".join(format_number(v) for v in array.ravel())


def _relative_error(value: Any, reference: Any) -> str:
    """``max |value - reference| / |reference|`` over entries (scalars broadcast); "" if n/a."""
    a, b = _numbers(value), _numbers(reference)
    if a is None or b is None:
        return ""
    try:
        a, b = np.broadcast_arrays(a, b)
    except ValueError:
        return ""
    gap = np.abs(a - b)
    scale = np.abs(b)
    if np.all(scale > 0):
        return f"{format_number(float(np.max(gap / scale)) * 100, 3)}%"
    return f"{format_number(float(np.max(gap)), 3)} (absolute)"


def comparison_table(summary: Mapping[str, Any] | None,
                     reference: Mapping[str, Any] | None) -> str:
    """One table: each statistic of the computed equilibrium beside the closed form.

    The relative error is ``max |computed - closed form| / |closed form|`` over the entries
    (a scalar closed form is compared with every entry of a per-player vector); where the closed
    form is 0 the absolute error is shown instead.

    >>> print(comparison_table({"price": 40.0, "quantity": [25.0, 35.0]},
    ...                        {"price": 40.0, "quantity": 30.0}))
    statistic  equilibrium  closed form  relative error
    ---------  -----------  -----------  --------------
    price      40           40           0%
    quantity   25, 35       30           16.7%
    """
    computed = _flatten(summary or {})
    closed = _flatten(reference or {})
    # text entries (a scenario's notes on its grid error) print below the table, not in a column
    notes = [f"{name}: {value}" for name, value in computed.items() if isinstance(value, str)]
    computed = {name: value for name, value in computed.items() if not isinstance(value, str)}
    names = list(computed) + [name for name in closed if name not in computed]
    rows = [[name, _cell(computed[name]) if name in computed else "-",
             _cell(closed[name]) if name in closed else "-",
             _relative_error(computed[name], closed[name])
             if name in computed and name in closed else ""] for name in names]
    table = render_table(["statistic", "equilibrium", "closed form", "relative error"], rows)
    return "\n".join([table, *notes])


def continuum_table(continuum: Mapping[str, Any], summary: Mapping[str, Any] | None) -> str:
    """A scenario's continuum solution (no grid) beside the grid equilibrium's statistics.

    ``continuum`` holds ``summary`` (the continuum equilibrium's statistics) and optionally
    ``discretisation_error`` (grid minus continuum, per statistic); its other entries print as
    ``key: value`` lines above the table.

    >>> print(continuum_table({"method": "linear fixed point", "nash_conv": 0.0,
    ...                        "summary": {"lambda": 0.5}, "discretisation_error": {"lambda": -0.04}},
    ...                       {"lambda": 0.46}))
    method: linear fixed point
    nash_conv: 0
    statistic  continuum  grid equilibrium  grid - continuum
    ---------  ---------  ----------------  ----------------
    lambda     0.5        0.46              -0.04
    """
    lines = [f"{key}: {_cell(value)}" for key, value in continuum.items()
             if key not in ("summary", "discretisation_error")]
    solved = _flatten(continuum.get("summary") or {})
    grid = _flatten(summary or {})
    error = _flatten(continuum.get("discretisation_error") or {})
    rows = [[name, _cell(value), _cell(grid[name]) if name in grid else "-",
             _cell(error[name]) if name in error else ""] for name, value in solved.items()]
    if rows:
        lines.append(render_table(["statistic", "continuum", "grid equilibrium",
                                   "grid - continuum"], rows))
    return "\n".join(lines)


def solve_report(game: Any, result: Any, *, summary: Mapping[str, Any] | None = None,
                 reference: Mapping[str, Any] | None = None,
                 continuum: Mapping[str, Any] | None = None) -> str:
    """The plain-text report of ``gametools solve``.

    Parameters
    ----------
    game : NormalFormGame or MarkovGame
        Supplies the player and action labels.
    result : SolverResult
    summary, reference : mapping, optional
        A scenario's statistics of the first equilibrium and its closed form.
    continuum : mapping, optional
        A scenario's solution without a grid (:func:`continuum_table`).
    """
    count = len(result.equilibria)
    status = [f"method {result.method}", f"status {result.status}",
              "exact" if result.exact else "floating point"]
    if result.complete:
        status.append("complete (every equilibrium of the kind is listed)")
    lines = ["   ".join(status)]
    if result.message:
        lines.append(result.message)
    for k, equilibrium in enumerate(result.equilibria):
        lines.append("")
        lines += _equilibrium_block(game, equilibrium, k, count, result.certified)
    if result.correlated is not None:  # ce / cce: a joint distribution, not a profile
        lines.append(f"correlated distribution: payoffs {result.correlated.payoffs.tolist()}  "
                     f"max violation {result.correlated.max_violation:.2e}")
    elif not result.equilibria:
        lines.append("no equilibrium found" + (" (the set is complete: there is none of this "
                                               "kind)" if result.complete else ""))
    if summary is not None or reference is not None:
        lines.append("")
        lines.append("the first equilibrium in the scenario's terms"
                     + (", against the closed form" if reference is not None else ""))
        lines.append(comparison_table(summary, reference))
    if continuum is not None:
        lines.append("")
        lines.append("solved in the continuum (no grid), beside the grid equilibrium")
        lines.append(continuum_table(continuum, summary))
    return "\n".join(lines)


def exploit_report(game: Any, result: Any) -> str:
    """The plain-text report of ``gametools exploit``: NashConv, then one row per player."""
    tolerance = (f", tolerance {format_number(result.tolerance, 2)}"
                 if result.tolerance else "")
    headline = (f"NashConv {format_number(result.nash_conv, 10)} ({result.kind}{tolerance})   "
                f"exploitability (NashConv / N) {format_number(result.exploitability, 10)}")
    lines = [headline]
    rows = [[game.player_labels[i], format_number(result.values[i], 10),
             format_number(result.best_response_values[i], 10),
             format_number(result.per_player[i], 10), result.per_player_kind[i]]
            for i in range(len(result.per_player))]
    lines.append(render_table(["player", "value", "best response", "gain", "kind"], rows))
    return "\n".join(lines)
