"""Plain-text report of an extensive-form solve: one table of infosets per player.

The command line prints it for game trees (``.efg`` files, ``openspiel:GAME``); the table
helpers are those of :mod:`gametools.cli.tables`, so it reads like the other reports.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gametools.extensive.model import ExtensiveGame

__all__ = ["extensive_solve_report"]

#: Infoset rows shown per player (``--json`` prints every entry).
MAX_ROWS = 12


def extensive_solve_report(game: ExtensiveGame, result: Any) -> str:
    """Method line, then per equilibrium the payoffs and each player's behaviour strategy
    (infoset label and the support of its action distribution, exact where known)."""
    from gametools.cli.tables import format_number, format_strategy, render_table

    status = [f"method {result.method}", f"status {result.status}",
              "exact" if result.exact else "floating point"]
    lines = ["   ".join(status), str(game)]
    if result.message:
        lines.append(result.message)
    for k, equilibrium in enumerate(result.equilibria):
        payoffs = (equilibrium.payoffs_exact if equilibrium.payoffs_exact is not None
                   else equilibrium.payoffs)
        regret = "0 (exact)" if equilibrium.exact and equilibrium.regret == 0 \
            else format_number(equilibrium.regret, 3)
        title = "equilibrium" if result.certified else "NOT CERTIFIED: best point reached"
        lines += ["", f"{title} {k + 1} of {len(result.equilibria)}   regret {regret}",
                  render_table(["player", "payoff"],
                               [[game.player_labels[i], format_number(payoffs[i])]
                                for i in range(game.num_players)])]
        exact = equilibrium.strategies_exact
        for i in range(game.num_players):
            infosets = game.player_infosets(i)
            rows = []
            for infoset in infosets[:MAX_ROWS]:
                part = game.infoset_slice(int(infoset))
                shown: Any = (exact[i][part] if exact is not None
                              else np.asarray(equilibrium.strategies[i])[part])
                rows.append([game.infoset_labels[infoset].replace("\n", " ")[:48]
                             or f"#{int(infoset)}",
                             format_strategy(shown, game.action_labels[infoset])])
            lines += ["", f"{game.player_labels[i]}: {len(infosets)} information sets",
                      render_table(["information set", "strategy (support)"], rows)]
            if len(infosets) > MAX_ROWS:
                lines.append(f"... {len(infosets) - MAX_ROWS} more (--json prints every one)")
    if not result.equilibria:
        lines.append("no equilibrium found")
    return "\n".join(lines)
