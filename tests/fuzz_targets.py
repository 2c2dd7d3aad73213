"""Fuzz targets for the file readers, shared by tests/test_fuzz_readers.py and bench/fuzz_readers.py.

Each target takes bytes (or text) built by a hypothesis strategy and feeds them to one reader:
``.nfg`` text, ``.efg`` text, ``.npz`` games, ``.npz`` profiles and training checkpoints.
The property: the reader returns a valid object or raises one of the project's error types
(:class:`gametools.errors.GametoolsError` subclasses), within bounded time and memory, and never
anything else (no ``zlib.error``, ``KeyError``, ``MemoryError``, bare ``ValueError``, ...); a
checkpoint never runs code. Each ``check_*`` returns ``"accepted"`` or ``"refused"`` (the runner
counts them) and raises for a broken contract.
"""

from __future__ import annotations

import io
import os
import pickle
import re
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import strategies as st

from gametools import NormalFormGame
from gametools.errors import GametoolsError
from gametools.extensive.model import ExtensiveGame
from gametools.formats.efg import format_efg, parse_efg
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


def check_nfg(text: str) -> str:
    try:
        data = parse_nfg(text)
    except GametoolsError:
        return "refused"
    assert data.payoffs.shape[0] == data.num_players
    return "accepted"


# ------------------------------------------------------------------------------------------
# .efg text
# ------------------------------------------------------------------------------------------

VALID_EFG = [
    # chance at the root with rational probabilities, one infoset reused (Gambit's format docs)
    ('EFG 2 R "A chance move, then a guess" { "Player 1" "Player 2" }\n"a comment"\n\n'
     'c "" 1 "" { "H" 1/2 "T" 1/2 } 0\np "" 1 1 "guess" { "h" "t" } 0\n'
     't "" 1 "right" { 1, -1 }\nt "" 2 "wrong" { -1, 1 }\np "" 1 1 "guess" { "h" "t" } 0\n'
     't "" 2\nt "" 1\n'),
    # perfect information, rational payoffs, outcome labels with escaped quotes
    ('EFG 2 R "sequential" { "A" "B" }\np "root" 1 1 "r" { "L" "R" } 0\n'
     'p "" 2 1 "c" { "l" "r" } 0\nt "" 1 "o \\"1\\"" { 3/2, -3/2 }\nt "" 2 "o2" { 0 0 }\n'
     't "" 3 "o3" { -1/3 1/3 }\n'),
    # three players, decimal file, an outcome at an internal node, chance 1/3 - 2/3
    ('EFG 2 D "three" { "x" "y" "z" }\nc "deal" 1 "" { "a" 1/3 "b" 2/3 } 1 "ante" { 1 1 -2 }\n'
     'p "" 1 1 "" { "u" "d" } 0\np "" 3 1 "" { "s" } 0\nt "" 2 "" { 0.5 -1.5e2 1 }\n'
     't "" 3 "" { 0 0 0 }\np "" 2 1 "" { "f" "g" "h" } 0\nt "" 2\nt "" 3\nt "" 0\n'),
    # imperfect information: player 2 does not see player 1's move
    ('EFG 2 R "matching" { "1" "2" }\np "" 1 1 "" { "H" "T" } 0\n'
     'p "" 2 1 "" { "h" "t" } 0\nt "" 1 "" { 1 -1 }\nt "" 2 "" { -1 1 }\n'
     'p "" 2 1 0\nt "" 2\nt "" 1\n'),
]

_EFG_NUMBERS = ["0", "1", "2", "3", "4", "-1", "1/2", "1/3", "2/3", "0.5", "-0", "+1", "1e10000",
                "1e10001", "1e-10000", "-1e400", "1e400", "9" * 5000, "1/" + "9" * 5000, "1/0",
                "3/0", "1.5/2", "1e5/3", "99999999999999999", "9999999999999999999",
                "1000000000", "nan", "inf"]
_EFG_TOKENS = ["EFG", "2", "R", "D", "c", "p", "t", '""', '"x"', '"a\\"b"', "{", "}", ",",
               *_EFG_NUMBERS, "\\", '"unterminated', "\x00", "\ufeff", "\u00e9", "\n", "NFG", "q",
               "c c", "{ }", '{ "a" 1 }', '{ "a" }']


@st.composite
def efg_texts(draw: Any) -> str:
    """Valid files with tokens spliced in, cut, swapped or repeated; token soups; free text."""
    kind = draw(st.integers(0, 5))
    if kind == 0:
        return draw(st.text(max_size=200))
    if kind == 1:
        return " ".join(draw(st.lists(st.sampled_from(_EFG_TOKENS), max_size=80)))
    text = draw(st.sampled_from(VALID_EFG))
    if kind == 2:  # characters changed in place
        chars = list(text)
        for _ in range(draw(st.integers(1, 4))):
            position = draw(st.integers(0, len(chars) - 1))
            chars[position] = draw(st.characters(max_codepoint=0x7F))
        return "".join(chars)
    words = text.split(" ")
    for _ in range(draw(st.integers(1, 5))):
        position = draw(st.integers(0, max(0, len(words) - 1)))
        operation = draw(st.integers(0, 3))
        if operation == 0 and words:
            del words[position]
        elif operation == 1:
            words.insert(position, draw(st.sampled_from(_EFG_TOKENS)))
        elif operation == 2:  # a number (payoff, probability, count) replaced by another
            numbers = [k for k, word in enumerate(words) if re.fullmatch(r"[-+0-9./eE]+,?", word)]
            if numbers:
                words[draw(st.sampled_from(numbers))] = draw(st.sampled_from(_EFG_NUMBERS))
        else:  # a run of tokens (often a subtree) repeated
            length = draw(st.integers(1, 12))
            words[position:position] = words[position:position + length]
    return " ".join(words)


def check_efg(text: str) -> str:
    try:
        game = parse_efg(text)
    except GametoolsError:
        return "refused"
    assert isinstance(game, ExtensiveGame)
    # an accepted game is a valid one: writing it and reading it back gives the same game (the
    # writer may refuse, with a project error, an exact number too long for the reader's limits)
    try:
        written = format_efg(game)
    except GametoolsError:
        return "accepted"
    again = parse_efg(written)
    assert again.num_nodes == game.num_nodes and again.num_infosets == game.num_infosets
    assert np.array_equal(again.payoffs, game.payoffs)
    assert again.chance_exact == game.chance_exact
    return "accepted"


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


def check_npz_game(data: bytes) -> str:
    try:
        game = _with_file(data, load_game)
    except GametoolsError:
        return "refused"
    assert isinstance(game, (NormalFormGame, MarkovGame))
    return "accepted"


def check_npz_profile(data: bytes) -> str:
    try:
        profile = _with_file(data, load_profile)
    except GametoolsError:
        return "refused"
    assert all(isinstance(policy, np.ndarray) for policy in profile)
    return "accepted"


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


class RunsCode:
    """Pickles to a call of ``os.mkdir(marker)``: a checkpoint holding it must not run it."""

    def __init__(self, marker: Path, via_eval: bool = False) -> None:
        self.marker, self.via_eval = str(marker), via_eval

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        if self.via_eval:
            return eval, (f"__import__('os').mkdir({self.marker!r})",)
        return os.mkdir, (self.marker,)


class CheckpointTarget:
    """A finished tiny training run, resumed from damaged copies of its checkpoint.

    The reader under test is ``train(..., resume=True)``: it must refuse a damaged checkpoint
    with a :class:`GametoolsError` (or resume from a still-usable one), and never run code from
    it (a marker folder that the malicious pickles would create must not appear).
    """

    def __init__(self, root: Path) -> None:
        import torch

        from gametools.marl.train import make_config, train

        torch.set_num_threads(1)
        self.root = Path(root)
        self.marker = self.root / "code-ran"
        # row's action 1 strictly dominates (by hand); a one-shot game as a Markov game
        self.game = NormalFormGame(np.array([[[0.0, 0.0], [1.0, 1.0]],
                                             [[0.0, 1.0], [0.0, 1.0]]])).to_markov_game()
        self.config = make_config("mappo", total_steps=256, num_envs=8, rollout_steps=8,
                                  eval_interval=256, checkpoint_interval=128)
        self.folder = self.root / "run"
        train(self.game, self.config, algorithm="mappo", seed=0, out=self.folder)
        self.data = (self.folder / "checkpoint.pt").read_bytes()
        self.document = torch.load(self.folder / "checkpoint.pt", weights_only=True)
        self.paths = leaf_paths(self.document)

    def save_document(self, document: Any) -> bytes:
        import torch

        buffer = io.BytesIO()
        torch.save(document, buffer)
        return buffer.getvalue()

    def cases(self) -> st.SearchStrategy[bytes]:
        """Tampered documents, mutated or truncated files, and pickles that would run code."""
        tampered = st.builds(lambda path, damage: self.save_document(tamper(self.document, path, damage)),
                             st.sampled_from(self.paths), _DAMAGE)
        truncated = st.integers(0, len(self.data) - 1).map(lambda n: self.data[:n])
        malicious = st.one_of(
            st.builds(self._malicious, st.sampled_from([(), *self.paths]), st.booleans()),
            st.just(pickle.dumps(RunsCode(self.marker))))  # a plain pickle, not a torch archive
        return st.one_of(tampered, mutated([self.data]), truncated, malicious)

    def _malicious(self, path: tuple[Any, ...], via_eval: bool) -> bytes:
        import copy

        payload = RunsCode(self.marker, via_eval)
        if not path:
            return self.save_document(payload)
        document = copy.deepcopy(self.document)
        parent: Any = document
        for key in path[:-1]:
            parent = parent[key]
        parent[path[-1]] = payload
        return self.save_document(document)

    def check(self, data: bytes) -> str:
        from gametools.marl.train import train

        case = self.root / "case"
        shutil.rmtree(case, ignore_errors=True)
        case.mkdir()
        (case / "checkpoint.pt").write_bytes(data)
        try:
            train(self.game, self.config, algorithm="mappo", seed=0, out=case, resume=True)
            outcome = "accepted"
        except GametoolsError:
            outcome = "refused"
        finally:
            ran = self.marker.exists()
            if ran:
                os.rmdir(self.marker)
        assert not ran, "a checkpoint ran code while being loaded"
        return outcome

