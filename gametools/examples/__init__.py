"""Sample game files shipped with gametools, so that the README's commands run as written.

============  ==================================================================================
file          what it holds
============  ==================================================================================
game.nfg      von Stengel's 3x2 bimatrix game (Gambit ``.nfg``), three equilibria, labelled
              actions (``T M B`` / ``L R``)
game.npz      the Big Match (Gillette 1957) as a discounted Markov game, discount 0.9
policy.npz    a joint policy of ``game.npz``: the row player tops with probability 1/2 in the
              playing state, the column player mixes 1/2-1/2 (exploitable)
============  ==================================================================================

``gametools examples`` prints their paths; ``gametools examples --copy DIR`` copies them into
``DIR``, after which ``gametools solve game.nfg --all`` and ``gametools exploit game.npz
policy.npz`` run there as written.

>>> from gametools.examples import example_path
>>> example_path("game.nfg").name
'game.nfg'
"""

from __future__ import annotations

import shutil
from pathlib import Path

from gametools.errors import InvalidArgumentError

__all__ = ["EXAMPLES", "copy_examples", "example_path"]

#: The shipped files and what each holds.
EXAMPLES: dict[str, str] = {
    "game.nfg": "von Stengel's 3x2 bimatrix game with three equilibria (Gambit .nfg)",
    "game.npz": "the Big Match, a discounted zero-sum Markov game (discount 0.9)",
    "policy.npz": "an exploitable joint policy of game.npz",
}

_FOLDER = Path(__file__).resolve().parent


def example_path(name: str) -> Path:
    """Path of the shipped example file ``name`` (one of :data:`EXAMPLES`).

    Raises
    ------
    InvalidArgumentError
        For a name that is not shipped.
    """
    if name not in EXAMPLES:
        raise InvalidArgumentError(f"no example named {name!r}; examples: {', '.join(EXAMPLES)}")
    return _FOLDER / name


def copy_examples(directory: str | Path) -> list[Path]:
    """Copy every example file into ``directory`` (created if needed); returns the new paths.

    Existing files of the same name are replaced.
    """
    target = Path(directory)
    if target.exists() and not target.is_dir():
        raise InvalidArgumentError(f"{directory} exists and is not a directory")
    target.mkdir(parents=True, exist_ok=True)
    copied = []
    for name in EXAMPLES:
        destination = target / name
        shutil.copyfile(example_path(name), destination)
        copied.append(destination)
    return copied
