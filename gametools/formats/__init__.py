"""File formats: Gambit ``.nfg`` games and ``.npz`` games and joint policies.

:func:`read_game` opens either kind by its suffix.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from gametools.errors import GametoolsError
from gametools.formats.nfg import (
    NfgData,
    NfgFormatError,
    format_nfg,
    parse_nfg,
    read_nfg,
    write_nfg,
)
from gametools.formats.npz import (
    FileFormatError,
    load_game,
    load_profile,
    save_game,
    save_profile,
)
from gametools.model import MarkovGame, NormalFormGame

if TYPE_CHECKING:
    from gametools.extensive.model import ExtensiveGame

__all__ = ["FileFormatError", "NfgData", "NfgFormatError", "format_nfg", "load_game",
           "load_profile", "parse_nfg", "read_game", "read_nfg", "save_game", "save_profile",
           "write_nfg"]


def read_game(path: str | os.PathLike[str]) -> NormalFormGame | MarkovGame | ExtensiveGame:
    """Read a game from a Gambit ``.nfg`` or ``.efg`` file or a gametools ``.npz`` file.

    Raises
    ------
    GametoolsError
        For an unknown suffix; the readers raise their own format errors naming the problem.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".nfg":
        data = read_nfg(path)
        return NormalFormGame(data.payoffs, player_labels=data.player_labels,
                              action_labels=data.action_labels, title=data.title)
    if suffix == ".npz":
        return load_game(path)
    if suffix == ".efg":
        from gametools.formats.efg import read_efg
        return read_efg(path)
    raise GametoolsError(f"{path}: unknown game file type {suffix or '(no suffix)'!r}; "
                         "expected .nfg, .efg or .npz")
