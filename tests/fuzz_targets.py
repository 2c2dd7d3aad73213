"""Fuzz targets for the file readers, shared by tests/test_fuzz_readers.py and bench/fuzz_readers.py.

Each target takes bytes (or text) built by a hypothesis strategy and feeds them to one reader.
The property: the reader returns a valid object or raises one of the project's error types
(:class:`gametools.errors.GametoolsError` subclasses), within bounded time and memory, and never
anything else (no ``zlib.error``, ``KeyError``, ``MemoryError``, bare ``ValueError``, ...).
"""

from __future__ import annotations

import io
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import strategies as st

from gametools import NormalFormGame
from gametools.errors import GametoolsError
from gametools.formats.nfg import format_nfg, parse_nfg
from gametools.formats.npz import load_game, load_profile, save_game, save_profile
from gametools.model import MarkovGame

# ------------------------------------------------------------------------------------------
# .nfg text
# ------------------------------------------------------------------------------------------

_VALID_NFG = [
    format_nfg(np.array([[[1, -1], [-1, 1]], [[-1, 1], [1, -1]]]), title="pennies"),
    'NFG 1 R "o" { "a" "b" } { { "x" "y" } { "z" } }\n{ { "" 1 , 2 } { "w" 3/4 -1e2 } }\n1 2\n',
    'NFG 1 D "three" { "1" "2" "3" } { 2 1 2 }\n' + " ".join(str(k) for k in range(12)) + "\n",
]

_TOKENS = ["NFG", "1", "R", "D", "{", "}", '"p"', '""', '"a\\"b"', "0", "2", "3/4", "-1e2",
           "1e99999", "1e-5000", "1" * 5000, "9" * 30, "nan", "inf", ".5", "1e", "/", "3/0",
           ",", "\n", " ", "EFG", "1000000000", "+7", "-0", "\ufeff", "\\", '"unterminated']


@st.composite
def nfg_texts(draw: Any) -> str:
    """Valid files, token soups and valid files with tokens spliced in or cut out."""
    kind = draw(st.integers(0, 2))
    if kind == 0:
        return draw(st.text(max_size=200))
    if kind == 1:
        return " ".join(draw(st.lists(st.sampled_from(_TOKENS), max_size=60)))
    words = draw(st.sampled_from(_VALID_NFG)).split(" ")
    for _ in range(draw(st.integers(1, 4))):
        position = draw(st.integers(0, len(words)))
        if draw(st.booleans()) and words:
            del words[min(position, len(words) - 1)]
        else:
            words.insert(position, draw(st.sampled_from(_TOKENS)))
    return " ".join(words)


def check_nfg(text: str) -> None:
    try:
        data = parse_nfg(text)
    except GametoolsError:
        return
    assert data.payoffs.shape[0] == data.num_players


# ------------------------------------------------------------------------------------------
# .npz archives (games and profiles)
# ------------------------------------------------------------------------------------------

def _archive(write: Any) -> bytes:
    folder = tempfile.mkdtemp()
    path = os.path.join(folder, "a.npz")
    write(path)
    data = Path(path).read_bytes()
    os.unlink(path)
    os.rmdir(folder)
    return data


def _markov() -> MarkovGame:
    transitions = np.zeros((2, 2, 1, 2))
    transitions[0, :, :, 1] = 1.0
    transitions[1, :, :, 1] = 1.0
    return MarkovGame(transitions, np.arange(8.0).reshape(2, 2, 2, 1), [1.0, 0.0], 1.0,
                      terminal=[False, True], observations=[[0, 0], [0, 1]])


VALID_GAME_ARCHIVES = [
    _archive(lambda p: save_game(p, NormalFormGame.zero_sum([[1, -1], [-1, 1]]))),
    _archive(lambda p: save_game(p, NormalFormGame([[[0.5, 1e12]], [[-3.0, 2.0]]]),
                                 compressed=False)),
    _archive(lambda p: save_game(p, _markov())),
]
VALID_PROFILE_ARCHIVES = [
    _archive(lambda p: save_profile(p, (np.array([0.5, 0.5]), np.array([[1.0, 0.0]])))),
    _archive(lambda p: save_profile(p, (np.full(300, 1 / 300),), compressed=False)),
]

_NAMES = ["payoffs", "payoffs_numerator", "payoffs_denominator", "payoffs_rational", "title",
          "transitions", "rewards", "initial", "discount", "terminal", "observations",
          "transitions_data", "transitions_indices", "transitions_indptr", "transitions_shape",
          "policy_0", "policy_1", "policy_10", "action_labels_0", "player_labels", "other"]


@st.composite
def npz_structured(draw: Any) -> bytes:
    """Archives of well-formed .npy members with hostile names, dtypes, shapes and values."""
    arrays = {}
    for name in draw(st.lists(st.sampled_from(_NAMES), max_size=5, unique=True)):
        shape = tuple(draw(st.lists(st.integers(0, 3), max_size=4)))
        kind = draw(st.sampled_from(["f8", "i8", "u1", "b1", "U8", "c16", "f2"]))
        size = int(np.prod(shape))
        if kind == "U8":
            values = draw(st.lists(st.sampled_from(["1/2", "1e100000000", "x", "", "3/0",
                                                    "1" * 5000, "-7"]),
                                   min_size=size, max_size=size))
            array = np.array(values, dtype="U5001").reshape(shape)
        else:
            values = draw(st.lists(st.sampled_from([0, 1, -1, 2, 0.5, 1e300, -1e12, 10**12]),
                                   min_size=size, max_size=size))
            with np.errstate(all="ignore"):
                array = np.array(values, dtype=float).astype(kind).reshape(shape)
        arrays[name] = array
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, array in arrays.items():
            member = io.BytesIO()
            np.lib.format.write_array(member, array, allow_pickle=False)
            archive.writestr(f"{name}.npy", member.getvalue())
    return buffer.getvalue()


@st.composite
def mutated(draw: Any, valid: list[bytes]) -> bytes:
    """A valid archive with bytes flipped, overwritten, cut or inserted."""
    data = bytearray(draw(st.sampled_from(valid)))
    for _ in range(draw(st.integers(1, 6))):
        operation = draw(st.integers(0, 3))
        position = draw(st.integers(0, max(0, len(data) - 1)))
        if operation == 0 and data:
            data[position] ^= 1 << draw(st.integers(0, 7))
        elif operation == 1 and data:
            data[position] = draw(st.sampled_from([0x00, 0xFF, 0x7F, 0x80]))
        elif operation == 2:
            del data[position:position + draw(st.integers(1, 64))]
        else:
            data[position:position] = draw(st.binary(max_size=16))
    return bytes(data)


def _with_file(data: bytes, read: Any) -> Any:
    folder = tempfile.mkdtemp()
    path = os.path.join(folder, "f.npz")
    try:
        Path(path).write_bytes(data)
        return read(path)
    finally:
        os.unlink(path)
        os.rmdir(folder)


def check_npz_game(data: bytes) -> None:
    try:
        game = _with_file(data, load_game)
    except GametoolsError:
        return
    assert isinstance(game, (NormalFormGame, MarkovGame))


def check_npz_profile(data: bytes) -> None:
    try:
        profile = _with_file(data, load_profile)
    except GametoolsError:
        return
    assert all(isinstance(policy, np.ndarray) for policy in profile)


# ------------------------------------------------------------------------------------------
# checkpoints
# ------------------------------------------------------------------------------------------

_DAMAGE = st.sampled_from(["delete", "none", "negative", "huge", "string", "shape", "list"])


def tamper(document: dict[str, Any], path: tuple[Any, ...], damage: str) -> dict[str, Any]:
    """A copy of a checkpoint document with the entry at ``path`` damaged."""
    import copy

    import torch

    document = copy.deepcopy(document)
    parent: Any = document
    for key in path[:-1]:
        parent = parent[key]
    key = path[-1]
    if damage == "delete":
        del parent[key]
    else:
        old = parent[key]
        parent[key] = {"none": None, "negative": -5, "huge": 10**12, "string": "x",
                       "list": [1, 2, 3],
                       "shape": torch.zeros(7, 3) if isinstance(old, torch.Tensor) else [[0]],
                       }[damage]
    return document


def leaf_paths(document: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path of a nested dict/list document (the places a tamperer can edit)."""
    out = []
    if isinstance(document, dict):
        items = list(document.items())
    elif isinstance(document, list):
        items = list(enumerate(document))[:3]
    else:
        return []
    for key, value in items:
        if prefix == () and key in ("format", "algorithm", "seed", "config", "game"):
            continue  # the run's identity: changing it is refused by an older, tested check
        out.append((*prefix, key))
        out += leaf_paths(value, (*prefix, key))
    return out


DAMAGES = _DAMAGE
