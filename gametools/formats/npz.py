"""Games and profiles as NumPy ``.npz`` archives.

Every archive is read with ``np.load(..., allow_pickle=False)``: object arrays (which need pickle,
and so can run code) are refused, and every array must have the dtype listed below. Writes are
atomic: the archive is written to a temporary file in the destination's directory and moved into
place with :func:`os.replace`, so a reader sees either the old file or the complete new one. The
file is written at exactly the given path (no ``.npz`` suffix is appended).

Layout of a Markov game
-----------------------
``transitions``   float ``(S, n_1, ..., n_N, S)``: dense ``P(s' | s, a)``; *or*, for a game that
                  holds its transitions sparsely, the CSR matrix ``(S * A, S)`` (row
                  ``s * A + a``, joint action ``a`` in C order, ``A = n_1 * ... * n_N``) as four
                  arrays: ``transitions_data`` float ``(nnz,)``, ``transitions_indices`` int
                  ``(nnz,)``, ``transitions_indptr`` int ``(S * A + 1,)`` and
                  ``transitions_shape`` int ``(2,)`` (the three CSR arrays of
                  :class:`scipy.sparse.csr_array` and its shape).
``rewards``       float ``(N, S, n_1, ..., n_N)``
``initial``       float ``(S,)``
``discount``      float, 0-d
``terminal``      bool ``(S,)``, optional (default: no terminal state)
``observations``  int ``(N, S)``, optional; absent means fully observed
``state_labels``  unicode ``(S,)``, optional; ``player_labels`` unicode ``(N,)``, optional;
``action_labels_<i>`` unicode ``(n_i,)``, optional (all players or none)

Layout of a normal-form game
----------------------------
``payoffs``       ``(N, n_1, ..., n_N)``: int64 when the game has exact integer payoffs that fit
                  in int64 (loaded back as exact), float64 otherwise;
``payoffs_numerator``, ``payoffs_denominator``  int64 ``(N, n_1, ..., n_N)`` instead of
                  ``payoffs`` for exact rational payoffs (denominators positive);
``payoffs_rational``  unicode ``(N, n_1, ..., n_N)`` of ``"p/q"`` strings instead, for exact
                  payoffs whose numerators or denominators do not fit in int64;
``title`` unicode 0-d, ``player_labels`` and ``action_labels_<i>`` as above, all optional.

Layout of a profile
-------------------
``policy_0``, ..., ``policy_{N-1}``: float arrays, strategies ``(n_i,)`` or policies
``(O_i, n_i)``.

Any other array name is an error, so a misspelt optional array (``observation``) cannot be
silently ignored.

Errors
------
:class:`FileFormatError` (a ``ValueError``) names the file and what is wrong: not an ``.npz``
archive, a missing or unexpected array (named), an object array, a wrong dtype or shape. A game
whose arrays break a rule of the model raises the model's
:class:`~gametools.errors.GameValidationError` (array, index, rule) with a note naming the file;
a profile that does not fit the given game raises
:class:`~gametools.errors.PolicyValidationError`.

Examples
--------
>>> import os, tempfile
>>> import numpy as np
>>> from gametools import NormalFormGame
>>> from gametools.formats.npz import load_game, load_profile, save_game, save_profile
>>> pennies = NormalFormGame.zero_sum([[1, -1], [-1, 1]])
>>> folder = tempfile.mkdtemp()
>>> save_game(os.path.join(folder, "pennies.npz"), pennies)
>>> loaded = load_game(os.path.join(folder, "pennies.npz"))
>>> loaded.is_exact, loaded.payoffs[0].tolist()
(True, [[1.0, -1.0], [-1.0, 1.0]])
>>> save_profile(os.path.join(folder, "half.npz"), (np.array([0.5, 0.5]), np.array([0.5, 0.5])))
>>> [p.tolist() for p in load_profile(os.path.join(folder, "half.npz"), game=loaded)]
[[0.5, 0.5], [0.5, 0.5]]
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any

import numpy as np
import scipy.sparse as sp

from gametools._io import atomic_open
from gametools.errors import GametoolsError, GameValidationError
from gametools.limits import check, check_number_text
from gametools.model import MarkovGame, NormalFormGame
from gametools.policies import validate_profile

__all__ = ["FileFormatError", "load_game", "load_profile", "save_game", "save_profile"]

PathLike = str | os.PathLike[str]

_INT64 = np.iinfo(np.int64)
_SPARSE_NAMES = ("transitions_data", "transitions_indices", "transitions_indptr",
                 "transitions_shape")
_MARKOV_NAMES = {"transitions", *_SPARSE_NAMES, "rewards", "initial", "discount", "terminal",
                 "observations", "state_labels", "player_labels"}
_NORMAL_NAMES = {"payoffs", "payoffs_numerator", "payoffs_denominator", "payoffs_rational",
                 "title", "player_labels"}
_ACTION_LABELS = re.compile(r"action_labels_(0|[1-9][0-9]*)")
_POLICY = re.compile(r"policy_(0|[1-9][0-9]*)")


class FileFormatError(GametoolsError, ValueError):
    """An ``.npz`` file is not a valid gametools archive.

    Attributes
    ----------
    path : str
        The file.
    array : str or None
        The array concerned, when the problem is about one array.
    reason : str
        What is wrong, in words.
    """

    def __init__(self, path: PathLike, reason: str, array: str | None = None) -> None:
        self.path = os.fspath(path)
        self.array = array
        self.reason = reason
        where = self.path if array is None else f"{self.path}: array {array!r}"
        super().__init__(f"{where}: {reason}")


# --------------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------------

def _write_atomic(path: PathLike, arrays: Mapping[str, np.ndarray], compressed: bool) -> None:
    writer: Any = np.savez_compressed if compressed else np.savez
    with atomic_open(path, "wb") as handle:
        writer(handle, **arrays)


def _unicode(labels: Sequence[str]) -> np.ndarray:
    # an explicit unicode dtype: an empty tuple would otherwise become float64
    return np.array([str(label) for label in labels], dtype=np.str_) if labels else \
        np.zeros(0, dtype="<U1")


def _label_arrays(player_labels: Sequence[str], action_labels: Sequence[Sequence[str]]
                  ) -> dict[str, np.ndarray]:
    arrays = {"player_labels": _unicode(player_labels)}
    for i, labels in enumerate(action_labels):
        arrays[f"action_labels_{i}"] = _unicode(labels)
    return arrays


def _normal_form_arrays(game: NormalFormGame) -> dict[str, np.ndarray]:
    arrays: dict[str, np.ndarray] = {}
    exact = game.payoffs_exact
    if exact is None:
        arrays["payoffs"] = np.asarray(game.payoffs, dtype=np.float64)
    else:
        values = list(exact.ravel())
        numerators = [v.numerator for v in values]
        denominators = [v.denominator for v in values]
        fits = all(_INT64.min <= n <= _INT64.max for n in numerators) and \
            all(d <= _INT64.max for d in denominators)
        if fits and all(d == 1 for d in denominators):
            arrays["payoffs"] = np.array(numerators, dtype=np.int64).reshape(exact.shape)
        elif fits:
            arrays["payoffs_numerator"] = np.array(numerators, dtype=np.int64).reshape(exact.shape)
            arrays["payoffs_denominator"] = np.array(denominators,
                                                     dtype=np.int64).reshape(exact.shape)
        else:
            arrays["payoffs_rational"] = np.array([f"{n}/{d}" for n, d in zip(
                numerators, denominators)], dtype=np.str_).reshape(exact.shape)
    arrays["title"] = np.array(game.title, dtype=np.str_)
    arrays.update(_label_arrays(game.player_labels, game.action_labels))
    return arrays


def _markov_arrays(game: MarkovGame) -> dict[str, np.ndarray]:
    arrays: dict[str, np.ndarray] = {}
    if game.is_sparse:
        matrix = sp.csr_array(game.transitions)
        arrays["transitions_data"] = np.asarray(matrix.data, dtype=np.float64)
        arrays["transitions_indices"] = np.asarray(matrix.indices, dtype=np.int64)
        arrays["transitions_indptr"] = np.asarray(matrix.indptr, dtype=np.int64)
        arrays["transitions_shape"] = np.array(matrix.shape, dtype=np.int64)
    else:
        arrays["transitions"] = np.asarray(game.transitions, dtype=np.float64)
    arrays["rewards"] = np.asarray(game.rewards, dtype=np.float64)
    arrays["initial"] = np.asarray(game.initial, dtype=np.float64)
    arrays["discount"] = np.array(game.discount, dtype=np.float64)
    arrays["terminal"] = np.asarray(game.terminal, dtype=bool)
    if not game.fully_observed:
        arrays["observations"] = np.asarray(game.observations, dtype=np.int64)
    arrays["state_labels"] = _unicode(game.state_labels)
    arrays.update(_label_arrays(game.player_labels, game.action_labels))
    return arrays


def save_game(path: PathLike, game: MarkovGame | NormalFormGame, *,
              compressed: bool = True) -> None:
    """Write a game to an ``.npz`` archive, atomically (layout in the module docstring).

    Parameters
    ----------
    path : str or path-like
        Destination file, written as given (no suffix is appended).
    game : MarkovGame or NormalFormGame
        Sparse Markov games keep their CSR storage; exact normal-form payoffs stay exact.
    compressed : bool
        Deflate the arrays (``np.savez_compressed``); ``False`` writes faster, larger files.

    Raises
    ------
    TypeError
        If ``game`` is not a MarkovGame or NormalFormGame.
    """
    if isinstance(game, MarkovGame):
        arrays = _markov_arrays(game)
    elif isinstance(game, NormalFormGame):
        arrays = _normal_form_arrays(game)
    else:
        raise TypeError(f"expected a MarkovGame or NormalFormGame, got {type(game).__name__}")
    _write_atomic(path, arrays, compressed)


def save_profile(path: PathLike, profile: Sequence[Any], *, compressed: bool = True) -> None:
    """Write a profile as ``policy_0 ... policy_{N-1}`` float arrays, atomically.

    Parameters
    ----------
    path : str or path-like
    profile : sequence of array_like
        Strategies ``(n_i,)`` or policies ``(O_i, n_i)``, one per player. Only the numbers are
        checked here (real and finite); check against a game with ``load_profile(..., game=)``
        or :func:`gametools.validate_profile`.
    compressed : bool

    Raises
    ------
    PolicyValidationError
        If an entry is not an array of finite real numbers.
    """
    from gametools.errors import PolicyValidationError

    if isinstance(profile, np.ndarray) or len(profile) == 0:
        raise PolicyValidationError("profile", "must be a non-empty sequence with one array per "
                                    "player")
    arrays = {}
    for i, values in enumerate(profile):
        name = f"policy_{i}"
        array = np.asarray(values)
        if array.dtype.kind not in "iuf":
            raise PolicyValidationError(name, "must be an array of real numbers", None,
                                        str(array.dtype))
        array = array.astype(np.float64)
        if array.ndim not in (1, 2):
            raise PolicyValidationError(name, "must have shape (n_i,) or (O_i, n_i)", None,
                                        array.shape)
        if not np.isfinite(array).all():
            raise PolicyValidationError(name, "must be finite")
        arrays[name] = array
    _write_atomic(path, arrays, compressed)


# --------------------------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------------------------

def _read_arrays(path: PathLike) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` archive, never unpickling anything.

    Sizes are checked before anything is decompressed: each member's declared size against
    ``max_array_bytes`` of :mod:`gametools.limits` (the zip reader never inflates past it, so a
    zip bomb stops there), and each ``.npy`` header's shape against the member's size (a header
    claiming 10^12 entries in a small member is refused, not allocated).
    """
    name = os.fspath(path)
    if not os.path.exists(name):
        raise FileNotFoundError(f"{name}: no such file")
    if not zipfile.is_zipfile(name):
        raise FileFormatError(path, "not an .npz archive (not a zip file)")
    arrays: dict[str, np.ndarray] = {}
    try:
        with zipfile.ZipFile(name) as archive:
            for info in archive.infolist():
                key = info.filename.removesuffix(".npy")
                if key in arrays:
                    raise FileFormatError(path, "the archive holds this array twice", key)
                arrays[key] = _read_member(path, archive, info, key)
    except (zipfile.BadZipFile, zlib.error, NotImplementedError, EOFError, OSError,
            RuntimeError, UnicodeDecodeError) as exc:
        # corrupt data, unknown compression methods, encrypted members, member names flagged
        # UTF-8 that are not: one line, not a trace
        raise FileFormatError(path, f"not a readable .npz archive ({type(exc).__name__}: "
                              f"{str(exc)[:200]})") from None
    return arrays


def _read_member(path: PathLike, archive: zipfile.ZipFile, info: zipfile.ZipInfo, key: str
                 ) -> np.ndarray:
    """One ``.npy`` member, its size checked from the zip directory and the npy header first."""
    check("max_array_bytes", info.file_size, f"{os.fspath(path)}: array {key!r} "
          "(decompressed bytes)")
    if not info.filename.endswith(".npy"):
        raise FileFormatError(path, "not an .npz archive: member is not a .npy array", key)
    with archive.open(info) as member:
        try:
            version = np.lib.format.read_magic(member)
            header = (np.lib.format.read_array_header_1_0 if version == (1, 0) else
                      np.lib.format.read_array_header_2_0)
            if version not in ((1, 0), (2, 0), (3, 0)):
                raise ValueError(f"unsupported .npy version {version}")
            shape, _, dtype = header(member, max_header_size=10_000)
        except ValueError as exc:
            raise FileFormatError(path, f"unreadable array header ({str(exc)[:200]})",
                                  key) from None
        if dtype.hasobject:
            raise FileFormatError(path, "object arrays are refused (they need pickle, which "
                                  "can run arbitrary code); store numbers or unicode strings",
                                  key)
        entries = math.prod(shape)
        if entries * dtype.itemsize > info.file_size:
            raise FileFormatError(path, f"the header claims shape {shape} of {dtype} "
                                  f"({entries * dtype.itemsize} bytes) but the member holds "
                                  f"{info.file_size} bytes", key)
    with archive.open(info) as member:
        try:
            return np.lib.format.read_array(member, allow_pickle=False)
        except ValueError as exc:
            raise FileFormatError(path, f"unreadable array ({str(exc)[:200]})", key) from None


def _require(path: PathLike, arrays: Mapping[str, np.ndarray], name: str) -> np.ndarray:
    if name not in arrays:
        raise FileFormatError(path, f"missing array {name!r} (arrays present: "
                              f"{', '.join(sorted(arrays)) or 'none'})")
    return arrays[name]


def _check_kind(path: PathLike, name: str, array: np.ndarray, kinds: str, what: str) -> np.ndarray:
    if array.dtype.kind not in kinds:
        raise FileFormatError(path, f"wrong dtype {array.dtype}: must be {what}", name)
    return array


def _real(path: PathLike, name: str, array: np.ndarray) -> np.ndarray:
    return _check_kind(path, name, array, "iuf", "real numbers (float or int)")


def _integers(path: PathLike, name: str, array: np.ndarray) -> np.ndarray:
    return _check_kind(path, name, array, "iu", "integers")


def _text(path: PathLike, name: str, array: np.ndarray, ndim: int = 1) -> np.ndarray:
    _check_kind(path, name, array, "U", "unicode strings")
    if array.ndim != ndim:
        raise FileFormatError(path, f"must have {ndim} dimension(s), got shape {array.shape}",
                              name)
    return array


def _labels(path: PathLike, arrays: Mapping[str, np.ndarray], num_players: int
            ) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "player_labels" in arrays:
        out["player_labels"] = _text(path, "player_labels", arrays["player_labels"]).tolist()
    present = sorted(int(m.group(1)) for key in arrays if (m := _ACTION_LABELS.fullmatch(key)))
    if present:
        for i in range(num_players):
            _require(path, arrays, f"action_labels_{i}")
        if present[-1] >= num_players:
            raise FileFormatError(path, f"unexpected array for a {num_players}-player game",
                                  f"action_labels_{present[-1]}")
        out["action_labels"] = [_text(path, f"action_labels_{i}",
                                      arrays[f"action_labels_{i}"]).tolist()
                                for i in range(num_players)]
    return out


def _reject_unknown(path: PathLike, arrays: Mapping[str, np.ndarray], known: set[str]) -> None:
    unknown = sorted(key for key in arrays
                     if key not in known and not _ACTION_LABELS.fullmatch(key))
    if unknown:
        raise FileFormatError(path, f"unexpected array(s) {', '.join(map(repr, unknown))}; "
                              f"allowed: {', '.join(sorted(known))}, action_labels_<i>")


def _load_normal_form(path: PathLike, arrays: Mapping[str, np.ndarray]) -> NormalFormGame:
    _reject_unknown(path, arrays, _NORMAL_NAMES)
    forms = [key for key in ("payoffs", "payoffs_numerator", "payoffs_rational") if key in arrays]
    if len(forms) > 1:
        raise FileFormatError(path, f"holds payoffs twice ({' and '.join(forms)}); keep one")
    payoffs: Any
    if "payoffs" in arrays:
        if "payoffs_denominator" in arrays:
            raise FileFormatError(path, "payoffs_denominator without payoffs_numerator",
                                  "payoffs_denominator")
        payoffs = _real(path, "payoffs", arrays["payoffs"])
    elif "payoffs_numerator" in arrays:
        numerator = _integers(path, "payoffs_numerator", arrays["payoffs_numerator"])
        denominator = _integers(path, "payoffs_denominator",
                                _require(path, arrays, "payoffs_denominator"))
        if numerator.shape != denominator.shape:
            raise FileFormatError(path, f"shape {denominator.shape} differs from "
                                  f"payoffs_numerator's {numerator.shape}", "payoffs_denominator")
        if (denominator <= 0).any():
            index = tuple(int(i) for i in np.argwhere(denominator <= 0)[0])
            raise FileFormatError(path, f"denominators must be positive (entry {index} is "
                                  f"{int(denominator[index])})", "payoffs_denominator")
        payoffs = np.empty(numerator.shape, dtype=object)
        payoffs.ravel()[:] = [Fraction(int(n), int(d)) for n, d in
                              zip(numerator.ravel(), denominator.ravel())]
    elif "payoffs_rational" in arrays:
        text = _check_kind(path, "payoffs_rational", arrays["payoffs_rational"], "U",
                           "unicode strings 'p/q'")
        payoffs = np.empty(text.shape, dtype=object)
        entries = [str(v) for v in text.ravel()]
        for entry in entries:  # before converting: "1e100000000" would take minutes
            check_number_text(entry, f"{os.fspath(path)}: a payoffs_rational entry")
        try:
            payoffs.ravel()[:] = [Fraction(entry) for entry in entries]
        except (ValueError, ZeroDivisionError) as exc:
            raise FileFormatError(path, f"entries must be rationals 'p/q' ({exc})",
                                  "payoffs_rational") from None
    else:
        raise FileFormatError(path, "missing array 'payoffs' (or 'payoffs_numerator' and "
                              "'payoffs_denominator')")
    num_players = int(np.shape(payoffs)[0]) if np.ndim(payoffs) else 0
    options = _labels(path, arrays, num_players)
    if "title" in arrays:
        options["title"] = str(_text(path, "title", arrays["title"], ndim=0))
    with _note(path):
        return NormalFormGame(payoffs, **options)


def _load_markov(path: PathLike, arrays: Mapping[str, np.ndarray]) -> MarkovGame:
    _reject_unknown(path, arrays, _MARKOV_NAMES)
    sparse_present = [key for key in _SPARSE_NAMES if key in arrays]
    if "transitions" in arrays and sparse_present:
        raise FileFormatError(path, f"holds transitions twice (dense 'transitions' and sparse "
                              f"{', '.join(map(repr, sparse_present))}); keep one")
    transitions: Any
    if sparse_present:
        data = _real(path, "transitions_data", _require(path, arrays, "transitions_data"))
        indices = _integers(path, "transitions_indices",
                            _require(path, arrays, "transitions_indices"))
        indptr = _integers(path, "transitions_indptr",
                           _require(path, arrays, "transitions_indptr"))
        shape = _integers(path, "transitions_shape", _require(path, arrays, "transitions_shape"))
        if shape.shape != (2,) or (shape < 0).any():
            raise FileFormatError(path, f"must be two non-negative integers (rows, columns), "
                                  f"got {shape.tolist()}", "transitions_shape")
        for name, array in (("transitions_data", data), ("transitions_indices", indices),
                            ("transitions_indptr", indptr)):
            if array.ndim != 1:
                raise FileFormatError(path, f"must be one-dimensional, got shape {array.shape}",
                                      name)
        rows, columns = int(shape[0]), int(shape[1])
        problem = None
        if indptr.size != rows + 1:
            problem = f"transitions_indptr needs rows + 1 = {rows + 1} entries, has {indptr.size}"
        elif indptr[0] != 0 or indptr[-1] != data.size or (np.diff(indptr) < 0).any():
            problem = ("transitions_indptr must start at 0, be non-decreasing and end at "
                       f"len(transitions_data) = {data.size}")
        elif indices.size != data.size:
            problem = (f"transitions_indices has {indices.size} entries but transitions_data "
                       f"has {data.size}")
        elif indices.size and (indices.min() < 0 or indices.max() >= columns):
            problem = f"transitions_indices must be column numbers in [0, {columns})"
        if problem is not None:
            raise FileFormatError(path, f"malformed sparse transition matrix: {problem}")
        transitions = sp.csr_array((data.astype(np.float64), indices.astype(np.int64),
                                    indptr.astype(np.int64)), shape=(rows, columns))
    else:
        transitions = _real(path, "transitions", _require(path, arrays, "transitions"))
    rewards = _real(path, "rewards", _require(path, arrays, "rewards"))
    initial = _real(path, "initial", _require(path, arrays, "initial"))
    discount = _real(path, "discount", _require(path, arrays, "discount"))
    if discount.shape != ():
        raise FileFormatError(path, f"must be a scalar (0-d array), got shape {discount.shape}",
                              "discount")
    options: dict[str, Any] = {}
    if "terminal" in arrays:
        options["terminal"] = _check_kind(path, "terminal", arrays["terminal"], "b",
                                          "bool")
    if "observations" in arrays:
        options["observations"] = _integers(path, "observations", arrays["observations"])
    if "state_labels" in arrays:
        options["state_labels"] = _text(path, "state_labels", arrays["state_labels"]).tolist()
    num_players = int(rewards.shape[0]) if rewards.ndim else 0
    options.update(_labels(path, arrays, num_players))
    with _note(path):
        return MarkovGame(transitions, rewards, initial, float(discount), **options)


@contextlib.contextmanager
def _note(path: PathLike) -> Any:
    """Add the file name to a validation error raised while building the game."""
    try:
        yield
    except GameValidationError as exc:
        exc.add_note(f"while loading {os.fspath(path)}")
        raise


def load_game(path: PathLike) -> MarkovGame | NormalFormGame:
    """Read a game written by :func:`save_game` (or by hand, following the module layout).

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    MarkovGame or NormalFormGame
        A normal-form game when the archive holds ``payoffs`` (or its exact variants), a Markov
        game when it holds ``transitions`` (dense or sparse).

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    FileFormatError
        Naming the file and what is wrong with the archive.
    GameValidationError
        If the arrays break a rule of the model (array, index and rule named).
    """
    arrays = _read_arrays(path)
    markov = "transitions" in arrays or any(key in arrays for key in _SPARSE_NAMES)
    normal = any(key in arrays for key in ("payoffs", "payoffs_numerator", "payoffs_rational"))
    if markov and normal:
        raise FileFormatError(path, "holds both a Markov game (transitions) and a normal-form "
                              "game (payoffs); keep one")
    if normal:
        return _load_normal_form(path, arrays)
    if markov:
        return _load_markov(path, arrays)
    raise FileFormatError(path, "missing array 'transitions' (Markov game) or 'payoffs' "
                          f"(normal-form game); arrays present: "
                          f"{', '.join(sorted(arrays)) or 'none'}")


def load_profile(path: PathLike, *, game: MarkovGame | NormalFormGame | None = None
                 ) -> tuple[np.ndarray, ...]:
    """Read a profile written by :func:`save_profile`.

    Parameters
    ----------
    path : str or path-like
    game : MarkovGame or NormalFormGame, optional
        When given, the profile is validated against it (shapes, simplex rows).

    Returns
    -------
    tuple of ndarray
        ``(policy_0, ..., policy_{N-1})`` as read-only float arrays.

    Raises
    ------
    FileFormatError
        If the archive is not readable, an array is missing (``policy_k`` with ``k < N``
        absent), unexpected or not real numbers.
    PolicyValidationError
        If ``game`` is given and the profile does not fit it.
    """
    arrays = _read_arrays(path)
    unknown = sorted(key for key in arrays if not _POLICY.fullmatch(key))
    if unknown:
        raise FileFormatError(path, f"unexpected array(s) {', '.join(map(repr, unknown))}; "
                              "a profile holds only policy_0 ... policy_{N-1}")
    if not arrays:
        raise FileFormatError(path, "missing array 'policy_0' (the archive is empty)")
    count = max(int(_POLICY.fullmatch(key).group(1)) for key in arrays) + 1  # type: ignore[union-attr]
    profile = []
    for i in range(count):
        array = _real(path, f"policy_{i}", _require(path, arrays, f"policy_{i}"))
        array = array.astype(np.float64)
        array.flags.writeable = False
        profile.append(array)
    if game is not None:
        return validate_profile(game, profile)
    return tuple(profile)
