"""Read and write Gambit's strategic-form ``.nfg`` file format.

Both versions of the format are supported, for any number of players:

* the *payoff version*, which lists every player's payoff for every strategy profile::

      NFG 1 R "Prisoner's dilemma" { "Row" "Col" } { 2 2 }
      -1 -1  0 -3  -3 0  -2 -2

* the *outcome version*, which defines numbered outcomes and then gives, for every strategy
  profile, the index of its outcome (``0`` is the null outcome, all payoffs zero)::

      NFG 1 R "Prisoner's dilemma" { "Row" "Col" }
      { { "C" "D" } { "C" "D" } }
      "an optional comment"
      { { "" -1, -1 } { "" 0, -3 } { "" -3, 0 } { "" -2, -2 } }
      1 2 3 4

In both, strategy profiles are listed with the FIRST player's strategy changing fastest
(then the second player's, and so on), which is the column-major (Fortran) order of the
``(n_1, ..., n_N)`` table.

Payoffs are read exactly, as :class:`fractions.Fraction`: ``0.1`` reads as ``Fraction(1, 10)``
(not as the nearest double), ``3/4`` as ``Fraction(3, 4)`` and ``1.5e3`` as ``Fraction(1500)``.
Floats are written as their shortest round-trip decimal (``repr``), so ``0.1`` is written as
``0.1`` and read back as ``Fraction(1, 10)``; since ``float(Fraction("0.1")) == 0.1``, a float
array survives a write/read/``astype(float)`` round trip bit for bit.

Example
-------
>>> from gametools.formats.nfg import parse_nfg
>>> game = parse_nfg('NFG 1 R "PD" { "Row" "Col" } { 2 2 }  -1 -1  0 -3  -3 0  -2 -2')
>>> game.payoffs.shape
(2, 2, 2)
>>> game.payoffs[:, 1, 0].tolist()   # Row plays her 2nd strategy, Col his 1st
[Fraction(0, 1), Fraction(-3, 1)]

Notes
-----
Where this module differs from Gambit's own reader (``src/games/file.cc``):

* Inside quoted strings ``\\"`` is a quote and ``\\\\`` is one backslash; a backslash before
  any other character is kept as is.  Gambit keeps ``\\\\`` as two backslashes, so labels
  that contain a backslash followed by a quote or another backslash, or that end with a
  backslash, may read differently in Gambit (Gambit cannot represent the last case at all).
  The writer escapes a backslash only in those cases, so other labels with backslashes are
  read identically by both.
* Strategy counts and outcome indices must be plain non-negative integers (Gambit silently
  truncates ``2.5`` to ``2``); NaN and infinite payoffs are rejected.
* Sizes are checked against :mod:`gametools.limits` before anything is built: players,
  strategies per player, payoff-table entries, outcomes, and each number's digits and decimal
  exponent (``|e| <= 10000`` by default), so a hostile file cannot make the reader allocate
  gigabytes or build an astronomically large integer; the error names the limit and how to
  raise it.
"""

from __future__ import annotations

import decimal
import math
import numbers
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from gametools._io import atomic_write
from gametools.errors import GametoolsError, GameValidationError, ResourceLimitError
from gametools.limits import check, check_number_text, parse_count

__all__ = [
    "NfgData",
    "NfgFormatError",
    "format_nfg",
    "parse_nfg",
    "read_nfg",
    "write_nfg",
]

_DIGITS = frozenset("0123456789")

#: numpy arrays have at most 64 axes; the payoff table has N + 1.
_MOST_PLAYERS = 63


class NfgFormatError(GametoolsError, ValueError):
    """A ``.nfg`` text is malformed.

    The message says what is wrong and where (``"line 3: expected '{' to open the player list,
    found 'x'"``); when raised by :func:`read_nfg` it starts with the file name.

    Attributes
    ----------
    reason : str
        What is wrong, without the location.
    line : int or None
        1-based line of the offending token (or of the end of the file).
    source : str or None
        The file name, when reading from a file.
    """

    def __init__(self, reason: str, line: int | None = None, source: str | None = None) -> None:
        self.reason = reason
        self.line = line
        self.source = source
        where = "" if line is None else f"line {line}: "
        prefix = "" if source is None else f"{source}: "
        super().__init__(f"{prefix}{where}{reason}")


@dataclass(frozen=True, eq=False)
class NfgData:
    """A strategic-form game read from a ``.nfg`` file.

    Attributes
    ----------
    title : str
        The game's title.
    comment : str
        The optional comment ("" when absent).
    player_labels : tuple of str, length N
        One label per player.
    action_labels : tuple of tuple of str
        ``action_labels[i]`` has ``n_i`` labels, one per strategy of player ``i``; for a
        payoff-version file that gives only counts they are ``"1", "2", ...``.
    payoffs : numpy.ndarray of fractions.Fraction, shape (N, n_1, ..., n_N), read-only
        ``payoffs[i, a_1, ..., a_N]`` is player ``i``'s exact payoff at the profile
        ``(a_1, ..., a_N)`` (0-based strategy indices).  Object dtype; every entry is a
        :class:`fractions.Fraction`.  Use ``payoffs.astype(float)`` for a float array.
    """

    title: str
    comment: str
    player_labels: tuple[str, ...]
    action_labels: tuple[tuple[str, ...], ...]
    payoffs: np.ndarray

    @property
    def num_players(self) -> int:
        """Number of players N."""
        return len(self.player_labels)

    @property
    def num_actions(self) -> tuple[int, ...]:
        """``(n_1, ..., n_N)``, the number of strategies of each player."""
        return tuple(len(labels) for labels in self.action_labels)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, NfgData):
            return NotImplemented
        return (
            self.title == other.title
            and self.comment == other.comment
            and self.player_labels == other.player_labels
            and self.action_labels == other.action_labels
            and self.payoffs.shape == other.payoffs.shape
            and bool(np.all(self.payoffs == other.payoffs))
        )

    __hash__ = None  # type: ignore[assignment]


# ----------------------------------------------------------------------------------------------
# Tokenizer
# ----------------------------------------------------------------------------------------------

class _Token(NamedTuple):
    kind: str  # one of "{", "}", ",", "string", "word", "eof"
    text: str  # the string's content (unescaped) or the word; "" for the others
    line: int


# Leading whitespace, then one alternative per token kind (none at the end of the text).  A word
# is any run of characters that are not whitespace, braces, commas or quotes (numbers and the
# header symbols NFG/1/R are words).  Inside strings a backslash pairs with the next character.
_TOKEN_RE = re.compile(
    r"""
    (?P<space>\s*)
    (?:
        (?P<punct>[{},])
      | (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<open_string>")
      | (?P<word>[^\s{},"]+)
    )?
    """,
    re.VERBOSE | re.DOTALL,
)
_ESCAPE_RE = re.compile(r'\\(["\\])')


def _tokenize(text: str) -> Iterator[_Token]:
    line = 1
    pos = 0
    match_at = _TOKEN_RE.match
    while True:
        match = match_at(text, pos)
        assert match is not None  # every alternative is optional: the pattern always matches
        line += match.group("space").count("\n")
        kind = match.lastgroup
        pos = match.end()
        if kind == "word":
            yield _Token("word", match.group("word"), line)
        elif kind == "punct":
            yield _Token(match.group("punct"), "", line)
        elif kind == "string":
            value = match.group("string")
            yield _Token("string", _ESCAPE_RE.sub(r"\1", value[1:-1]), line)
            line += value.count("\n")
        elif kind == "open_string":
            raise NfgFormatError("unterminated string: no closing '\"' before the end of the file",
                                 line)
        else:  # only whitespace was left
            yield _Token("eof", "", line)
            return


def _describe(token: _Token) -> str:
    if token.kind == "eof":
        return "end of file"
    if token.kind == "string":
        shown = token.text if len(token.text) <= 40 else token.text[:37] + "..."
        return f'the string "{shown}"'
    if token.kind == "word":
        shown = token.text if len(token.text) <= 40 else token.text[:37] + "..."
        return f"'{shown}'"
    return f"'{token.kind}'"


# ----------------------------------------------------------------------------------------------
# Numbers
# ----------------------------------------------------------------------------------------------

def _all_digits(s: str) -> bool:
    return bool(s) and all(c in _DIGITS for c in s)


def _to_int(digits: str) -> int:
    """``int(digits)`` for any length the limits allow (``int`` refuses over 4300 digits)."""
    if len(digits) <= 4000:
        return int(digits)
    return int(decimal.Decimal(digits))


def _number_problem(text: str) -> tuple[Fraction | None, str]:
    """Exact value of a Gambit number token, or ``(None, why it is not one)``.

    Accepted: ``[+-]`` then either ``digits/digits`` or a decimal ``digits[.digits]`` /
    ``.digits`` with an optional exponent ``[eE][+-]digits``.
    """
    body = text
    negative = False
    if body[:1] in ("+", "-"):
        negative = body[0] == "-"
        body = body[1:]
    if body.lower() in ("nan", "inf", "infinity"):
        return None, "NaN and infinite payoffs are not allowed"
    check_number_text(body, f"the number {text[:20]}{'...' if len(text) > 20 else ''}")
    if "/" in body:
        num, _, den = body.partition("/")
        if not (_all_digits(num) and _all_digits(den)):
            return None, "a rational must look like 3/4 or -7/2"
        if _to_int(den) == 0:
            return None, "zero denominator"
        value = Fraction(_to_int(num), _to_int(den))
        return (-value if negative else value), ""
    mantissa, exponent = body, 0
    for marker in ("e", "E"):
        if marker in body:
            mantissa, _, exp_text = body.partition(marker)
            exp_digits = exp_text[1:] if exp_text[:1] in ("+", "-") else exp_text
            if not _all_digits(exp_digits):
                return None, "malformed exponent"
            exponent = int(exp_text)  # short: check_number_text bounded it
            break
    int_part, _, frac_part = mantissa.partition(".")
    if not (int_part or frac_part) or not all(c in _DIGITS for c in int_part + frac_part):
        return None, "not an integer, decimal or rational"
    exponent -= len(frac_part)
    digits = _to_int(int_part + frac_part)
    if negative:
        digits = -digits
    if exponent >= 0:
        return Fraction(digits * 10**exponent), ""
    return Fraction(digits, 10**-exponent), ""


# ----------------------------------------------------------------------------------------------
# Parser
# ----------------------------------------------------------------------------------------------

class _Parser:
    def __init__(self, text: str) -> None:
        self._tokens = _tokenize(text)
        self._peeked: _Token | None = None
        self._numbers: dict[str, Fraction] = {}

    # -- token access ---------------------------------------------------------------------------
    def _next(self) -> _Token:
        if self._peeked is not None:
            token, self._peeked = self._peeked, None
            return token
        return next(self._tokens)  # never exhausted: the stream ends with an "eof" token

    def _peek(self) -> _Token:
        if self._peeked is None:
            self._peeked = next(self._tokens)
        return self._peeked

    @staticmethod
    def _fail(token: _Token, reason: str) -> NfgFormatError:
        return NfgFormatError(reason, token.line)

    def _expect(self, kind: str, what: str) -> _Token:
        token = self._next()
        if token.kind != kind:
            raise self._fail(token, f"expected {what}, found {_describe(token)}")
        return token

    def _number(self, token: _Token, what: str) -> Fraction:
        if token.kind != "word":
            raise self._fail(token, f"expected {what}, found {_describe(token)}")
        cached = self._numbers.get(token.text)  # payoff files repeat the same few numbers
        if cached is not None:
            return cached
        try:
            value, why = _number_problem(token.text)
        except ResourceLimitError as exc:
            raise ResourceLimitError(f"line {token.line}: {exc}") from None
        if value is None:
            raise self._fail(token, f"bad number token '{token.text}' for {what}: {why}")
        if len(self._numbers) < 100_000:
            self._numbers[token.text] = value
        return value

    def _natural(self, token: _Token, what: str, limit: str) -> int:
        """A non-negative integer token (an optional leading '+' is allowed), at most the
        limit named ``limit`` of :mod:`gametools.limits`."""
        text = token.text.removeprefix("+")
        if token.kind != "word" or not _all_digits(text):
            raise self._fail(token, f"expected {what} (a non-negative integer), "
                                    f"found {_describe(token)}")
        try:
            return parse_count(text, limit, what)
        except ResourceLimitError as exc:
            raise ResourceLimitError(f"line {token.line}: {exc}") from None

    @staticmethod
    def _check(token: _Token, limit: str, value: int, what: str) -> None:
        try:
            check(limit, value, what)
        except ResourceLimitError as exc:
            raise ResourceLimitError(f"line {token.line}: {exc}") from None

    # -- grammar ----------------------------------------------------------------------------------
    def parse(self) -> NfgData:
        title = self._header()
        players = self._players()
        actions = self._strategies(players)
        comment = ""
        if self._peek().kind == "string":
            comment = self._next().text
        shape = tuple(len(a) for a in actions)
        body = self._peek()
        self._check(body, "max_payoff_entries", len(players) * math.prod(shape),
                    f"payoff table of {len(players)} players x {' x '.join(map(str, shape))} "
                    "strategies")
        if body.kind == "{":
            flat = self._outcome_body(len(players), shape)
        elif body.kind == "word":
            flat = self._payoff_body(len(players), shape)
        else:
            raise self._fail(body, "expected '{' to open the outcome list or a payoff number "
                                   f"after the strategy block, found {_describe(body)}")
        return NfgData(title, comment, tuple(players), actions, _to_table(flat, shape))

    def _header(self) -> str:
        token = self._next()
        if token.kind != "word" or token.text != "NFG":
            hint = " (that is an extensive-form .efg file)" if token.text == "EFG" else ""
            raise self._fail(token, "unknown header: expected 'NFG' at the start of a Gambit "
                                    f"strategic-form file, found {_describe(token)}{hint}")
        token = self._next()
        if token.kind != "word" or token.text != "1":
            raise self._fail(token, f"unsupported NFG version {_describe(token)}: "
                                    "expected 'NFG 1'")
        token = self._next()
        if token.kind != "word" or token.text not in ("R", "D"):
            raise self._fail(token, "expected the number type 'R' or 'D' after 'NFG 1', "
                                    f"found {_describe(token)}")
        return self._expect("string", "the quoted game title").text

    def _players(self) -> list[str]:
        self._expect("{", "'{' to open the player list")
        players: list[str] = []
        while True:
            token = self._next()
            if token.kind == "}":
                break
            if token.kind != "string":
                raise self._fail(token, "expected a quoted player name or '}' to close the "
                                        f"player list, found {_describe(token)}")
            players.append(token.text)
            self._check(token, "max_players", len(players), "players in the player list")
            if len(players) > _MOST_PLAYERS:
                raise self._fail(token, f"more than {_MOST_PLAYERS} players: a payoff table has "
                                        "one axis per player plus one, and numpy arrays have at "
                                        "most 64 axes")
        if not players:
            raise self._fail(token, "the player list is empty: a game needs at least one player")
        return players

    def _strategies(self, players: list[str]) -> tuple[tuple[str, ...], ...]:
        self._expect("{", "'{' to open the strategy block")
        first = self._peek()
        if first.kind == "{":
            actions = tuple(self._strategy_list(i, name) for i, name in enumerate(players))
            closing = self._next()
            if closing.kind != "}":
                extra = " (more strategy lists than players)" if closing.kind == "{" else ""
                raise self._fail(closing, f"expected '}}' to close the strategy block after "
                                          f"{len(players)} strategy lists{extra}, "
                                          f"found {_describe(closing)}")
            return actions
        if first.kind != "word":
            raise self._fail(first, "expected '{' (strategy labels) or a number (strategy "
                                    f"counts) in the strategy block, found {_describe(first)}")
        counts = []
        for i in range(len(players)):
            token = self._next()
            if token.kind == "}":
                raise self._fail(token, f"the strategy block gives {i} strategy count(s) but "
                                        f"there are {len(players)} players")
            count = self._natural(token, f"the number of strategies of player {i + 1}",
                                  "max_actions")
            if count == 0:
                raise self._fail(token, f"player {i + 1} has no strategies (count 0)")
            counts.append(count)
        closing = self._next()
        if closing.kind != "}":
            extra = " (more strategy counts than players)" if closing.kind == "word" else ""
            raise self._fail(closing, f"expected '}}' to close the strategy block after "
                                      f"{len(players)} counts{extra}, found {_describe(closing)}")
        return tuple(tuple(str(k) for k in range(1, n + 1)) for n in counts)

    def _strategy_list(self, i: int, name: str) -> tuple[str, ...]:
        token = self._next()
        if token.kind != "{":
            hint = (f" (the strategy block lists {i} player(s), the player list has more)"
                    if token.kind == "}" else "")
            raise self._fail(token, f"expected '{{' to open the strategy list of player {i + 1} "
                                    f'("{name}"), found {_describe(token)}{hint}')
        labels = []
        while True:
            token = self._next()
            if token.kind == "}":
                break
            if token.kind != "string":
                raise self._fail(token, "expected a quoted strategy label or '}' to close the "
                                        f"strategy list of player {i + 1}, "
                                        f"found {_describe(token)}")
            labels.append(token.text)
            self._check(token, "max_actions", len(labels),
                        f"strategy labels of player {i + 1}")
        if not labels:
            raise self._fail(token, f'player {i + 1} ("{name}") has no strategies')
        return tuple(labels)

    def _outcome_body(self, n_players: int, shape: tuple[int, ...]) -> list[Fraction]:
        self._expect("{", "'{' to open the outcome list")
        zero = Fraction(0)
        outcomes: list[tuple[Fraction, ...]] = [(zero,) * n_players]  # index 0: null outcome
        while True:
            token = self._next()
            if token.kind == "}":
                break
            k = len(outcomes)
            if token.kind != "{":
                raise self._fail(token, f"expected '{{' to open outcome {k} or '}}' to close "
                                        f"the outcome list, found {_describe(token)}")
            self._expect("string", f"the quoted name of outcome {k} after '{{' "
                                   '(use "" for none)')
            payoffs = []
            while True:
                token = self._next()
                if token.kind == "}":
                    break
                if token.kind != "word":
                    raise self._fail(token, f"expected a payoff or '}}' to close outcome {k}, "
                                            f"found {_describe(token)}")
                payoffs.append(self._number(token, f"a payoff of outcome {k}"))
                self._check(token, "max_players", len(payoffs), f"payoffs of outcome {k}")
                if self._peek().kind == ",":
                    self._next()
            if len(payoffs) != n_players:
                raise self._fail(token, f"outcome {k} has {len(payoffs)} payoff(s), expected "
                                        f"{n_players} (one per player)")
            outcomes.append(tuple(payoffs))
            self._check(token, "max_payoff_entries", len(outcomes) * n_players,
                        "payoffs in the outcome list")
        n_profiles = math.prod(shape)
        flat: list[Fraction] = []
        found = 0
        where = token  # reported on a count mismatch: the first extra or the last index
        while True:
            token = self._next()
            if token.kind == "eof":
                break
            index = self._natural(token, "an outcome index", "max_payoff_entries")
            if index >= len(outcomes):
                raise self._fail(token, f"outcome index {index} out of range: the file defines "
                                        f"{len(outcomes) - 1} outcome(s) (1..{len(outcomes) - 1};"
                                        " 0 is the null outcome)")
            found += 1
            if found <= n_profiles:
                flat.extend(outcomes[index])
                where = token
            elif found == n_profiles + 1:
                where = token
        if found != n_profiles:
            raise self._fail(where, f"expected {n_profiles} outcome indices (one per strategy "
                                    f"profile: {' x '.join(map(str, shape))}), found {found}")
        return flat

    def _payoff_body(self, n_players: int, shape: tuple[int, ...]) -> list[Fraction]:
        n_profiles = math.prod(shape)
        expected = n_players * n_profiles
        flat: list[Fraction] = []
        found = 0
        where = self._peek()  # reported on a count mismatch: the first extra or the last payoff
        while True:
            token = self._next()
            if token.kind == "eof":
                break
            value = self._number(token, "a payoff number")
            found += 1
            if found <= expected:
                flat.append(value)
                where = token
            elif found == expected + 1:
                where = token
        if found != expected:
            raise self._fail(where, f"expected {expected} payoffs ({n_players} player(s) x "
                                    f"{n_profiles} strategy profile(s)), found {found}")
        return flat


def _to_table(flat: list[Fraction], shape: tuple[int, ...]) -> np.ndarray:
    """Profile-major list (first player's strategy fastest) -> read-only (N, n_1, ..., n_N)."""
    n_players = len(shape)
    rows = np.empty(len(flat), dtype=object)
    rows[:] = flat
    table = rows.reshape((math.prod(shape), n_players))
    # Profile index c = a_1 + n_1 * (a_2 + n_2 * (...)) is the column-major index of the table.
    payoffs = np.moveaxis(table.reshape((*shape, n_players), order="F"), -1, 0).copy()
    payoffs.flags.writeable = False
    return payoffs


def parse_nfg(text: str) -> NfgData:
    """Parse the text of a Gambit ``.nfg`` file (payoff or outcome version).

    Parameters
    ----------
    text : str
        The whole file.  Any whitespace (including newlines) may separate tokens.

    Returns
    -------
    NfgData
        Title, comment, labels and the exact payoff table of shape ``(N, n_1, ..., n_N)``.

    Raises
    ------
    NfgFormatError
        If the text is not a valid ``.nfg`` file; the message names the problem and its line.
    """
    return _Parser(text.removeprefix("\ufeff")).parse()


def read_nfg(path: str | os.PathLike[str]) -> NfgData:
    """Read a Gambit ``.nfg`` file.

    The file is decoded as UTF-8 (a byte-order mark is ignored), falling back to Latin-1.

    Parameters
    ----------
    path : str or path-like
        The file to read.

    Returns
    -------
    NfgData
        See :func:`parse_nfg`.

    Raises
    ------
    NfgFormatError
        If the file is malformed; the message starts with the file name and the line.
    OSError
        If the file cannot be read.
    """
    raw = Path(path).read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    try:
        return parse_nfg(text)
    except NfgFormatError as exc:
        raise NfgFormatError(exc.reason, exc.line, os.fspath(path)) from None


# ----------------------------------------------------------------------------------------------
# Writer
# ----------------------------------------------------------------------------------------------

def _quote(label: str) -> str:
    """Quote a label so that this module's reader returns it unchanged."""
    out = ['"']
    for i, ch in enumerate(label):
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            following = label[i + 1:i + 2]
            out.append("\\\\" if following in ("", '"', "\\") else "\\")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


class _BadPayoff(Exception):
    """Internal: a payoff that cannot be written (the caller adds its index)."""


def _format_number(value: Any) -> str:
    if isinstance(value, (bool, np.bool_)):
        return "1" if value else "0"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, decimal.Decimal):
        if not value.is_finite():
            raise _BadPayoff("payoffs must be finite")
        value = Fraction(value)
    if isinstance(value, numbers.Rational):
        num, den = int(value.numerator), int(value.denominator)
        return str(num) if den == 1 else f"{num}/{den}"
    if isinstance(value, numbers.Real):
        x = float(value)
        if not math.isfinite(x):
            raise _BadPayoff("payoffs must be finite")
        # Shortest decimal that round-trips, like 0.1, 1e-05 or 1e+16; 3.0 is written 3.
        text = repr(x).removesuffix(".0")
        return "0" if text == "-0" else text
    raise _BadPayoff("payoffs must be real numbers (int, float, Fraction or Decimal)")


def _check_labels(labels: Sequence[str], count: int, name: str) -> tuple[str, ...]:
    if isinstance(labels, str):
        raise GameValidationError(name, "must be a sequence of str, not one str", value=labels)
    checked = tuple(labels)
    if len(checked) != count:
        raise GameValidationError(name, f"needs exactly {count} labels, got {len(checked)}",
                                  value=checked)
    for k, label in enumerate(checked):
        if not isinstance(label, str):
            raise GameValidationError(name, "labels must be str", k, label)
    return checked


def format_nfg(
    payoffs: ArrayLike,
    *,
    title: str = "",
    player_labels: Sequence[str] | None = None,
    action_labels: Sequence[Sequence[str]] | None = None,
    comment: str = "",
    version: Literal["outcome", "payoff"] = "outcome",
) -> str:
    """Format a payoff table as the text of a Gambit ``.nfg`` file.

    Parameters
    ----------
    payoffs : array_like, shape (N, n_1, ..., n_N)
        ``payoffs[i, a_1, ..., a_N]`` is player ``i``'s payoff at profile ``(a_1, ..., a_N)``.
        Integer, float, bool or object dtype (entries int, float, Fraction or Decimal).
        Integers are written as integers, Fractions as ``p/q`` (or an integer), floats as their
        shortest round-trip decimal (``repr``; ``3.0`` as ``3``).
    title : str, optional
        The game's title.
    player_labels : sequence of str, length N, optional
        Defaults to ``"1", ..., "N"``.
    action_labels : sequence of N sequences of str, optional
        ``action_labels[i]`` needs ``n_i`` labels.  Defaults to ``"1", ..., "n_i"``.
    comment : str, optional
        The optional comment written after the strategy block.
    version : {"outcome", "payoff"}, optional
        ``"outcome"`` (default) writes one outcome per strategy profile, byte for byte like
        Gambit 16 does; ``"payoff"`` writes the compact payoff version, with strategy counts
        (``{ 3 2 }``) when the labels are the defaults and labels otherwise (Gambit's reader
        accepts both).

    Returns
    -------
    str
        The file's text, ending with a newline.

    Raises
    ------
    gametools.errors.GameValidationError
        If the shape, a label list or a payoff (NaN, infinity, not a number) is invalid.
    """
    arr = np.asarray(payoffs)
    if arr.dtype.kind not in "biufO":
        raise GameValidationError("payoffs", "payoffs must be real numbers (int, float or "
                                             f"Fraction); got dtype {arr.dtype}")
    if arr.ndim < 2 or arr.shape[0] != arr.ndim - 1 or 0 in arr.shape:
        raise GameValidationError("payoffs", "must have shape (N, n_1, ..., n_N) with N >= 1 "
                                             f"and every n_i >= 1; got shape {arr.shape}")
    if version not in ("outcome", "payoff"):
        raise ValueError(f"version must be 'outcome' or 'payoff', got {version!r}")
    for name, text in (("title", title), ("comment", comment)):
        if not isinstance(text, str):
            raise GameValidationError(name, "must be a str", value=text)
    n_players, shape = arr.shape[0], arr.shape[1:]
    defaults = tuple(tuple(str(k) for k in range(1, n + 1)) for n in shape)
    players = (tuple(str(i) for i in range(1, n_players + 1)) if player_labels is None
               else _check_labels(player_labels, n_players, "player_labels"))
    if action_labels is None:
        actions = defaults
    else:
        action_labels = tuple(action_labels)
        if len(action_labels) != n_players:
            raise GameValidationError("action_labels", f"needs one label list per player "
                                      f"({n_players}), got {len(action_labels)}")
        actions = tuple(_check_labels(labels, n, f"action_labels[{i}]")
                        for i, (labels, n) in enumerate(zip(action_labels, shape, strict=True)))

    # Cells in file order: profiles with the first player's strategy fastest, then players.
    cells = np.moveaxis(arr, 0, -1).reshape((math.prod(shape), n_players), order="F")
    texts: list[list[str]] = []
    for c, row in enumerate(cells):
        texts.append([])
        for i, value in enumerate(row):
            try:
                texts[-1].append(_format_number(value))
            except _BadPayoff as bad:
                index = (i, *(int(a) for a in np.unravel_index(c, shape, order="F")))
                raise GameValidationError("payoffs", str(bad), index, value) from None

    head = f"NFG 1 R {_quote(title)} {{ {' '.join(map(_quote, players))} }}"
    strategy_lists = "".join(
        f"{'{ ' if i == 0 else ''}{{ {' '.join(map(_quote, labels))} }}\n"
        for i, labels in enumerate(actions)
    )
    if version == "outcome":
        lines = [head, "", strategy_lists + "}", _quote(comment), "", "{"]
        lines += [f'{{ "" {", ".join(row)} }}' for row in texts]
        lines.append("}")
        lines.append("".join(f"{c} " for c in range(1, len(texts) + 1)))
        return "\n".join(lines) + "\n"
    if actions == defaults:
        lines = [f"{head} {{ {' '.join(map(str, shape))} }}"]
    else:
        lines = [head, strategy_lists + "}"]
    if comment:
        lines.append(_quote(comment))
    lines.append("")
    lines += [" ".join(row) for row in texts]
    return "\n".join(lines) + "\n"


def write_nfg(
    path: str | os.PathLike[str],
    payoffs: ArrayLike,
    *,
    title: str = "",
    player_labels: Sequence[str] | None = None,
    action_labels: Sequence[Sequence[str]] | None = None,
    comment: str = "",
    version: Literal["outcome", "payoff"] = "outcome",
) -> None:
    """Write a payoff table to a Gambit ``.nfg`` file, atomically.

    The text (see :func:`format_nfg` for the parameters) is written in UTF-8 to a temporary
    file in the destination directory, flushed to disk and moved over ``path`` with
    :func:`os.replace`, so readers see either the old file or the complete new one.  An
    existing file's permission bits are kept; a new file gets mode ``0o644``.

    Parameters
    ----------
    path : str or path-like
        Destination file.
    payoffs : array_like, shape (N, n_1, ..., n_N)
        As for :func:`format_nfg`.
    title, player_labels, action_labels, comment, version
        As for :func:`format_nfg`.

    Raises
    ------
    gametools.errors.GameValidationError
        If the arguments are invalid (nothing is written).
    OSError
        If the file cannot be written (the destination is left untouched).
    """
    data = format_nfg(payoffs, title=title, player_labels=player_labels,
                      action_labels=action_labels, comment=comment,
                      version=version).encode("utf-8")
    atomic_write(path, data)
