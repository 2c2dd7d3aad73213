"""Read and write Gambit's extensive-form ``.efg`` file format.

A file is a header and the game tree in preorder, one node per entry::

    EFG 2 R "A chance move, then a guess" { "Player 1" "Player 2" }
    "an optional comment"

    c "" 1 "" { "H" 1/2 "T" 1/2 } 0
    p "" 1 1 "guess" { "h" "t" } 0
    t "" 1 "right" { 1, -1 }
    t "" 2 "wrong" { -1, 1 }
    p "" 1 1 "guess" { "h" "t" } 0
    t "" 2
    t "" 1

Entries: ``c "label" chance_infoset ["infoset label" { "action" probability ... }] outcome``,
``p "label" player infoset ["infoset label" { "action" ... }] outcome`` and
``t "label" outcome``, where ``outcome`` is ``0`` (none) or a number optionally followed by
``"outcome label" { payoff, ... }`` on its first use. The infoset's label and actions may be
omitted after the first node of the infoset. Numbers are read exactly (``1/3``, ``0.1``,
``1.5e3``); ``R`` (rational) and ``D`` (decimal) files are both accepted.

What is kept: the tree, players and their labels, infosets with labels and action labels, chance
probabilities (exact), payoffs (exact; an outcome at a non-terminal node is added to the payoffs
of every terminal below it, which leaves every expected payoff unchanged), node labels and the
title. Duplicate labels (players, actions, outcomes) are accepted, unlike pygambit 17.
Imperfect-recall games are read; ``game.perfect_recall`` flags them and the solvers that need
perfect recall refuse them.

Bounds (a hostile file cannot exhaust memory or time): files above :data:`MAX_FILE_BYTES`,
more than :data:`MAX_PLAYERS` players and decimal exponents beyond ``+-10000`` are refused
before anything is allocated; the parser is iterative, so deep trees cannot overflow the stack.

Legacy format (``EFG 1``). Gambit's first file format, written and read by Gambit from June to
July 1995 (``sources/readefg.yy`` and ``BaseExtForm::WriteEfgFile`` in ``sources/efg.cc`` at
commit 9f5053985 of github:gambitproject/gambit; the numbered format, version 2, replaced it on
1995-07-31 in c7b63f55b, and no reader since accepts version 1). It refers to players,
infosets and outcomes by name instead of number, has no comment field, and its lexer skipped
``//`` and ``/* */`` comments::

    EFG 1 R "A chance move, then a guess" { "Player 1" "Player 2" }

    c "" "coin" { "H" 1/2 "T" 1/2 } ""
    p "" "Player 1" "guess" { "h" "t" } ""
    t "" "right" { 1 -1 }
    t "" "wrong" { -1 1 }
    p "" "Player 1" "guess" ""
    t "" "wrong"
    t "" "right"

Entries: ``c "label" "chance infoset" [{ "action" probability ... }] "outcome" [{ payoffs }]``,
``p "label" "player" "infoset" [{ "action" ... }] "outcome" [{ payoffs }]`` and
``t "label" "outcome" [{ payoffs }]``. An infoset is named per player (chance included); its
action list may be left out after its first node, and where repeated it must be identical (the
same labels, and for chance the same probabilities). An outcome is named across the game; the
name ``""`` is no outcome, or, with a payoff list, an outcome used only there. Where this reader
is stricter than Gambit's 1995 parser, which accepted these and built something else: a player
name shared by two players (Gambit took the first), an outcome used before its payoffs are
given (Gambit gave it default payoffs until a later node overwrote them for every node,
earlier ones included), an outcome given again with other payoffs, and a file that ends before the tree
is complete (Gambit left the missing nodes as terminals without payoffs) are errors.
``format_efg(game, version=1)`` writes the legacy format.

Its first variant had no version number (``EFG R "title" { players }``, read as version ``0``):
Gambit's reader of 1995-05-30 (``sources/readefg.yy`` at 6990b9e08, its first revision) and its
writer of 1995-06-01 (``BaseExtForm::WriteEfgFile`` in ``sources/efg.cc`` at a40a8ded9) used it
until the version field was added the same day (4275be822, "Added version field to the .efg
file format"). The body is the legacy one above, unchanged by that commit; that reader crashed
on an outcome ``""`` with payoffs (it wrote them through a null outcome), which is read here as
in version 1. ``format_efg(game, version=0)`` writes it. (Gambit's files of 1994 to early 1995,
read by ``sources/efg.yy`` and ``ExtForm::ReadEfgFile``, are a different language, a nested list
of games and numbered outcomes without the ``EFG`` header; they are not read.)

Where this reader differs from Gambit's current one (``src/games/file.cc``): it also reads
version 1 (Gambit 16 and 17 read only version 2; every file in Gambit's collection is version
2); the outcome placed at internal nodes is folded into the terminal payoffs, so writing back
places every outcome at a terminal node.

Example
-------
>>> from gametools.formats.efg import parse_efg
>>> game = parse_efg('EFG 2 R "" { "A" "B" } c "" 1 "" { "x" 1/3 "y" 2/3 } 0 '
...                  't "" 1 "o" { 1 -1 } t "" 2 "p" { 0 0 }')
>>> game.chance_exact[1:], game.payoffs_exact[0].tolist()
((Fraction(1, 3), Fraction(2, 3)), [Fraction(1, 1), Fraction(0, 1)])
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any, NamedTuple, Protocol

import numpy as np

from gametools._io import atomic_write
from gametools.errors import GametoolsError, ResourceLimitError
from gametools.extensive.model import CHANCE, TERMINAL, ExtensiveGame, TreeBuilder
from gametools.limits import check_number_text, current

__all__ = [
    "MAX_FILE_BYTES",
    "EfgFormatError",
    "format_efg",
    "parse_efg",
    "read_efg",
    "write_efg",
]

#: Largest ``.efg`` file read (bytes).
MAX_FILE_BYTES = 512 * 1024 * 1024
#: Largest number of players accepted.
MAX_PLAYERS = 1000
_MAX_EXPONENT = 10_000


class EfgFormatError(GametoolsError, ValueError):
    """A malformed ``.efg`` file; the message gives the line and what was expected."""


_TOKEN_BODY = r'''(?:
      (?P<string>"(?:[^"\\]|\\.)*")
    | (?P<brace>[{}])
    | (?P<comma>,)
    | (?P<number>[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?(?:/\d+)?)
    | (?P<symbol>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<eof>\Z)
    | (?P<bad>.)
    )
'''
_TOKEN = re.compile(r"\s*" + _TOKEN_BODY, re.VERBOSE | re.DOTALL)
# the legacy format's lexer also skipped // line and /* block */ comments
_TOKEN_WITH_COMMENTS = re.compile(r"(?:\s+|//[^\n]*|/\*.*?\*/)*" + _TOKEN_BODY,
                                  re.VERBOSE | re.DOTALL)
_LEGACY_HEADER = re.compile(r"\s*EFG\s+(?:1\s|[RD][\s\"])")


class _Tokens:
    """Tokens of a file; line numbers are computed only for messages."""

    def __init__(self, text: str, *, comments: bool = False) -> None:
        self.text = text
        self.iterator = (_TOKEN_WITH_COMMENTS if comments else _TOKEN).finditer(text)
        self.current: tuple[str, str, int] = ("", "", 0)
        self.advance()

    def advance(self) -> tuple[str, str, int]:
        match = next(self.iterator, None)
        if match is None:
            self.current = ("eof", "", len(self.text))
            return self.current
        kind = match.lastgroup or "eof"
        value = match.group(kind) if kind != "eof" else ""
        if kind == "bad":
            raise EfgFormatError(f"line {self.line_at(match.start(kind))}: unexpected "
                                 f"character {value!r}")
        self.current = (kind, value, match.start(kind) if kind != "eof" else len(self.text))
        return self.current

    def line_at(self, position: int) -> int:
        return self.text.count("\n", 0, position) + 1

    def expect(self, kind: str, what: str) -> str:
        got_kind, value, _ = self.current
        if got_kind != kind:
            shown = "end of file" if got_kind == "eof" else repr(value)
            raise EfgFormatError(f"line {self.line}: expected {what}, got {shown}")
        self.advance()
        return value

    def string(self, what: str) -> str:
        raw = self.expect("string", what)[1:-1]
        return re.sub(r'\\(["\\])', r"\1", raw) if "\\" in raw else raw

    def number(self, what: str) -> Fraction:
        start = self.current[2]
        text = self.expect("number", what)
        try:
            return _parse_number(text)
        except EfgFormatError as exc:
            raise EfgFormatError(f"line {self.line_at(start)}: {exc}") from None
        except ResourceLimitError as exc:
            raise ResourceLimitError(f"line {self.line_at(start)}: {exc}") from None

    def integer(self, what: str) -> int:
        text = self.current[1]
        if self.current[0] != "number" or not re.fullmatch(r"\+?\d{1,18}", text):
            raise EfgFormatError(f"line {self.line}: expected {what} (a non-negative integer),"
                                 f" got {text!r}")
        self.advance()
        return int(text)

    @property
    def line(self) -> int:
        return self.line_at(self.current[2])


def _parse_number(text: str) -> Fraction:
    if "e" in text or "E" in text:
        exponent = re.search(r"[eE][-+]?(\d+)", text)
        # more than 18 digits: beyond any limit, and int() refuses over 4300 digits
        if exponent and (len(exponent.group(1)) > 18 or int(exponent.group(1)) > _MAX_EXPONENT):
            raise EfgFormatError(f"exponent beyond +-{_MAX_EXPONENT} in {text[:40]!r}")
    # digits within gametools.limits before converting (Fraction() refuses over 4300 digits
    # with a ValueError; the limit makes the refusal a project error naming the limit)
    check_number_text(text.lstrip("+-"), f"the number {text[:20]}{'...' if len(text) > 20 else ''}")
    try:
        return Fraction(text)
    except (ValueError, ZeroDivisionError):
        raise EfgFormatError(f"{text!r} is not a number") from None


def _payoffs(tokens: _Tokens, num_players: int) -> tuple[Fraction, ...]:
    tokens.expect("brace", "'{' before the payoffs")
    values = []
    while tokens.current[0] != "brace":
        values.append(tokens.number("a payoff"))
        if tokens.current[0] == "comma":
            tokens.advance()
        if len(values) > num_players:
            break
    if len(values) != num_players or tokens.current[1] != "}":
        raise EfgFormatError(f"line {tokens.line}: an outcome needs exactly {num_players} "
                             "payoffs, then '}'")
    tokens.advance()
    return tuple(values)


def parse_efg(text: str) -> ExtensiveGame:
    """Parse the text of an ``.efg`` file (module docstring) into an ExtensiveGame.

    The current format (``EFG 2``) and Gambit's legacy one (``EFG 1``, and its first variant
    without a version number, ``EFG R``; module docstring) are read; the header decides.

    Raises
    ------
    EfgFormatError
        Naming the line and what was expected.
    GameValidationError
        For a tree that parses but breaks the model (e.g. chance probabilities not summing
        to 1).
    """
    if len(text) > MAX_FILE_BYTES:
        raise EfgFormatError(f"file larger than {MAX_FILE_BYTES} bytes")
    legacy = _LEGACY_HEADER.match(text) is not None
    tokens = _Tokens(text, comments=legacy)
    if tokens.expect("symbol", "'EFG'") != "EFG":
        raise EfgFormatError("line 1: an .efg file starts with 'EFG'")
    # the first legacy variant has no version number: the data type follows 'EFG'
    numbered = tokens.current[0] != "symbol"
    version = tokens.integer("the format version") if numbered else 0
    if version not in ((1, 2) if numbered else (0,)):
        raise EfgFormatError(f"line {tokens.line}: EFG versions 1 (legacy) and 2 are defined "
                             f"(and the legacy header without a version), got {version}")
    kind = tokens.expect("symbol", "'R' or 'D'")
    if kind not in ("R", "D"):
        raise EfgFormatError(f"line {tokens.line}: the data type must be R or D, got {kind!r}")
    title = tokens.string("the game title")
    tokens.expect("brace", "'{' before the player names")
    players: list[str] = []
    while tokens.current[0] == "string":
        players.append(tokens.string("a player name"))
        if len(players) > MAX_PLAYERS:
            raise EfgFormatError(f"more than {MAX_PLAYERS} players")
    if tokens.expect("brace", "'}' after the player names") != "}":
        raise EfgFormatError(f"line {tokens.line}: expected '}}' after the player names")
    if not players:
        raise EfgFormatError("the game needs at least one player")
    num_players = len(players)
    read_entry: _EntryReader
    if version == 2:
        if tokens.current[0] == "string":
            tokens.string("the comment")
        read_entry = _CurrentEntries(num_players)
    else:
        read_entry = _LegacyEntries(players)
    builder = TreeBuilder(num_players)
    # (node, children attached so far, number of children) of the open nodes, in preorder
    open_nodes: list[list[int]] = []
    zero = (Fraction(0),) * num_players
    accumulated: list[tuple[Fraction, ...]] = []  # payoffs of outcomes on the path, per open node
    first = True
    while first or open_nodes:
        if tokens.current[0] == "eof":
            raise EfgFormatError(f"line {tokens.line}: the file ends inside the tree")
        at: tuple[int, int] | None = None
        inherited = zero
        if open_nodes:
            parent, used, total = open_nodes[-1]
            at = (parent, used)
            inherited = accumulated[-1]
            open_nodes[-1][1] += 1
            if used + 1 == total:
                open_nodes.pop()
                accumulated.pop()
        first = False
        entry = read_entry(tokens)
        payoff = tuple(a + b for a, b in zip(inherited, entry.payoffs))
        if entry.owner is None:
            builder.terminal(at, payoffs=payoff, label=entry.label)
            continue
        if entry.owner == 0:
            node = builder.chance(at, probabilities=entry.probabilities, labels=entry.actions,
                                  label=entry.label, chance_infoset=entry.infoset)
        else:
            node = builder.decision(at, player=entry.owner - 1, infoset=entry.infoset,
                                    actions=entry.actions, infoset_label=entry.infoset_label,
                                    label=entry.label)
        open_nodes.append([node, 0, len(entry.actions)])
        accumulated.append(payoff)
    if tokens.current[0] != "eof":
        raise EfgFormatError(f"line {tokens.line}: text after the end of the tree")
    return builder.build(title=title, player_labels=players)


class _Entry(NamedTuple):
    """One node of the file: ``owner`` None (terminal), 0 (chance) or the player 1..N."""

    label: str
    owner: int | None
    payoffs: tuple[Fraction, ...]
    infoset: int = 0
    infoset_label: str = ""
    actions: tuple[str, ...] = ()
    probabilities: tuple[Fraction, ...] = ()


class _EntryReader(Protocol):
    def __call__(self, tokens: _Tokens) -> _Entry: ...


def _moves(tokens: _Tokens, chance: bool, start: int
           ) -> tuple[tuple[str, ...], tuple[Fraction, ...]]:
    """``{ "action" [probability] ... }``: action labels (and chance probabilities)."""
    tokens.expect("brace", "'{' before the actions")
    actions: list[str] = []
    probabilities: list[Fraction] = []
    while tokens.current[0] == "string":
        actions.append(tokens.string("an action label"))
        if chance:
            probabilities.append(tokens.number("a chance probability"))
    if tokens.expect("brace", "'}' after the actions") != "}":
        raise EfgFormatError(f"line {tokens.line}: expected '}}' after the actions")
    if not actions:
        raise EfgFormatError(f"line {tokens.line_at(start)}: a move needs at least one action")
    return tuple(actions), tuple(probabilities)


def _owner_name(owner: int) -> str:
    return "chance" if owner == 0 else f"player {owner}"


class _CurrentEntries:
    """Nodes of the current format: players, infosets and outcomes referred to by number."""

    def __init__(self, num_players: int) -> None:
        self.num_players = num_players
        self.outcomes: dict[int, tuple[Fraction, ...]] = {}
        self.infosets: dict[tuple[int, int],
                            tuple[str, tuple[str, ...], tuple[Fraction, ...]]] = {}

    def __call__(self, tokens: _Tokens) -> _Entry:
        start = tokens.current[2]
        node_type = tokens.expect("symbol", "a node type (c, p or t)")
        label = tokens.string("the node label")
        if node_type == "t":
            return _Entry(label, None, self.outcome(tokens))
        if node_type == "c":
            owner = 0
        elif node_type == "p":
            owner = tokens.integer("the player number")
            if not 1 <= owner <= self.num_players:
                raise EfgFormatError(f"line {tokens.line_at(start)}: player {owner} does not "
                                     f"exist (players are 1..{self.num_players})")
        else:
            raise EfgFormatError(f"line {tokens.line_at(start)}: unknown node type "
                                 f"{node_type!r} (c, p or t)")
        number = tokens.integer("the infoset number")
        key = (owner, number)
        if tokens.current[0] == "string":
            infoset_label = tokens.string("the infoset label")
            actions, probabilities = _moves(tokens, owner == 0, start)
            known = self.infosets.get(key)
            if known is not None and len(known[1]) != len(actions):
                raise EfgFormatError(f"line {tokens.line_at(start)}: infoset {number} of "
                                     f"{_owner_name(owner)} was defined with {len(known[1])} "
                                     f"actions, here {len(actions)}")
            if known is not None and owner == 0 and known[2] != probabilities:
                raise EfgFormatError(f"line {tokens.line_at(start)}: chance infoset {number} "
                                     "was defined with other probabilities")
            self.infosets.setdefault(key, (infoset_label, actions, probabilities))
        elif key not in self.infosets:
            raise EfgFormatError(f"line {tokens.line_at(start)}: infoset {number} of "
                                 f"{_owner_name(owner)} is used before its actions are given")
        infoset_label, actions, probabilities = self.infosets[key]
        return _Entry(label, owner, self.outcome(tokens), number, infoset_label, actions,
                      probabilities)

    def outcome(self, tokens: _Tokens) -> tuple[Fraction, ...]:
        start = tokens.current[2]
        number = tokens.integer("the outcome number")
        if tokens.current[0] == "string":
            if number == 0:
                raise EfgFormatError(f"line {tokens.line_at(start)}: outcome 0 is the null "
                                     "outcome and takes no payoffs")
            tokens.string("the outcome label")
            payoffs = _payoffs(tokens, self.num_players)
            if number in self.outcomes and self.outcomes[number] != payoffs:
                raise EfgFormatError(f"line {tokens.line_at(start)}: outcome {number} was "
                                     "defined with other payoffs")
            self.outcomes[number] = payoffs
        elif number != 0 and number not in self.outcomes:
            raise EfgFormatError(f"line {tokens.line_at(start)}: outcome {number} is used "
                                 "before its payoffs are given")
        return self.outcomes[number] if number else (Fraction(0),) * self.num_players


class _LegacyEntries:
    """Nodes of the legacy format: players, infosets and outcomes referred to by name."""

    def __init__(self, players: list[str]) -> None:
        self.num_players = len(players)
        self.players: dict[str, int] = {}
        self.ambiguous: set[str] = set()
        for number, name in enumerate(players, start=1):
            if name in self.players:
                self.ambiguous.add(name)
            self.players.setdefault(name, number)
        self.outcomes: dict[str, tuple[Fraction, ...]] = {}
        # (owner, infoset name) -> (number, actions, probabilities); numbers 1.. per owner
        self.infosets: dict[tuple[int, str], tuple[int, tuple[str, ...], tuple[Fraction, ...]]]
        self.infosets = {}
        self.counts = [0] * (self.num_players + 1)

    def __call__(self, tokens: _Tokens) -> _Entry:
        start = tokens.current[2]
        node_type = tokens.expect("symbol", "a node type (c, p or t)")
        label = tokens.string("the node label")
        if node_type == "t":
            return _Entry(label, None, self.outcome(tokens))
        if node_type == "c":
            owner = 0
        elif node_type == "p":
            name = tokens.string("the player name")
            if name in self.ambiguous:
                raise EfgFormatError(f"line {tokens.line_at(start)}: two players are named "
                                     f"{name!r}; the legacy format refers to players by name")
            if name not in self.players:
                raise EfgFormatError(f"line {tokens.line_at(start)}: no player is named "
                                     f"{name!r}")
            owner = self.players[name]
        else:
            raise EfgFormatError(f"line {tokens.line_at(start)}: unknown node type "
                                 f"{node_type!r} (c, p or t)")
        infoset_label = tokens.string("the infoset name")
        key = (owner, infoset_label)
        known = self.infosets.get(key)
        if tokens.current[0] == "brace":
            actions, probabilities = _moves(tokens, owner == 0, start)
            if known is not None and known[1] != actions:
                raise EfgFormatError(f"line {tokens.line_at(start)}: infoset "
                                     f"{infoset_label!r} of {_owner_name(owner)} was defined "
                                     f"with the actions {list(known[1])}, here {list(actions)}")
            if known is not None and known[2] != probabilities:
                raise EfgFormatError(f"line {tokens.line_at(start)}: chance infoset "
                                     f"{infoset_label!r} was defined with other probabilities")
            if known is None:
                self.counts[owner] += 1
                known = self.infosets[key] = (self.counts[owner], actions, probabilities)
        elif known is None:
            raise EfgFormatError(f"line {tokens.line_at(start)}: infoset {infoset_label!r} of "
                                 f"{_owner_name(owner)} is used before its actions are given")
        number, actions, probabilities = known
        return _Entry(label, owner, self.outcome(tokens), number, infoset_label, actions,
                      probabilities)

    def outcome(self, tokens: _Tokens) -> tuple[Fraction, ...]:
        start = tokens.current[2]
        name = tokens.string("the outcome name")
        if tokens.current[0] == "brace" and tokens.current[1] == "{":
            payoffs = _payoffs(tokens, self.num_players)
            if name == "":
                return payoffs
            if name in self.outcomes and self.outcomes[name] != payoffs:
                raise EfgFormatError(f"line {tokens.line_at(start)}: outcome {name!r} was "
                                     "defined with other payoffs")
            self.outcomes[name] = payoffs
        elif name != "" and name not in self.outcomes:
            raise EfgFormatError(f"line {tokens.line_at(start)}: outcome {name!r} is used "
                                 "before its payoffs are given")
        return self.outcomes[name] if name else (Fraction(0),) * self.num_players


def read_efg(path: str | os.PathLike[str]) -> ExtensiveGame:
    """Read an ``.efg`` file (see :func:`parse_efg`); the size is checked before reading."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise EfgFormatError(f"{path}: file larger than {MAX_FILE_BYTES} bytes")
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise EfgFormatError(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        return parse_efg(text)
    except EfgFormatError as exc:
        raise EfgFormatError(f"{path}: {exc}") from None


# --------------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------------

def _quote(label: str) -> str:
    return '"' + label.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _number(value: Any) -> str:
    if isinstance(value, Fraction):
        limit = 10 ** current().max_number_digits
        numerator, denominator = value.numerator, value.denominator
        if abs(numerator) < limit and denominator < limit:
            return str(numerator) if denominator == 1 else f"{numerator}/{denominator}"
        # e.g. 1e-5000 read from a file: p/q would have more digits than the reader accepts,
        # but a power-of-ten denominator can be written back as it was read
        twos = (denominator & -denominator).bit_length() - 1
        rest = denominator >> twos
        estimate = round((rest.bit_length() - 1) / math.log2(5))  # rest == 5**fives, if any
        fives = next((k for k in (estimate, estimate + 1, estimate - 1) if 5**max(k, 0) == rest),
                     -1)
        shift = max(twos, fives)
        if fives >= 0 and shift <= current().max_exponent:
            mantissa = numerator * (10**shift // denominator)
            if abs(mantissa) < limit:
                return f"{mantissa}e-{shift}"
        digits = max(abs(numerator), denominator).bit_length() * math.log10(2)
        raise EfgFormatError(f"cannot write an exact number of about {digits:.0f} digits "
                             "within the reader's limits on digits and exponents "
                             "(gametools.limits)")
    number = float(value)
    if not np.isfinite(number):
        raise EfgFormatError(f"cannot write the non-finite number {number}")
    return repr(number)


def _distinct_names(labels: Sequence[str]) -> list[str]:
    """Labels made unique and nonempty as Gambit's ``NormalizeLabels`` does (file.cc).

    A label used once (and not empty) is kept; the others become ``label_1``, ``label_2``, ...
    skipping names already taken.
    """
    counts: dict[str, int] = {}
    for label in labels:
        counts[label] = counts.get(label, 0) + 1
    used = set(labels)
    visited: dict[str, int] = {}
    names = []
    for label in labels:
        if counts[label] == 1 and label != "":
            names.append(label)
            continue
        while True:
            visited[label] = visited.get(label, 0) + 1
            candidate = f"{label}_{visited[label]}"
            if candidate not in used:
                break
        used.add(candidate)
        names.append(candidate)
    return names


def format_efg(game: ExtensiveGame, *, comment: str = "", version: int = 2) -> str:
    """The ``.efg`` text of a game (exact numbers where the game has them).

    Every terminal gets its own outcome; infoset labels and actions are repeated at every node
    (allowed by the format, and what Gambit writes). Chance infosets are numbered 1.. in the
    order met, one per distinct pair (the game's ``chance_infoset`` id, moves and
    probabilities), so that every chance infoset written has one list of moves, as Gambit
    requires; a chance node with id 0 (none given) gets an infoset of its own.

    ``version=1`` writes Gambit's legacy format (see the module docstring), which names
    players, infosets and outcomes instead of numbering them: player names and each player's
    infoset labels are then made unique and nonempty as Gambit 16+ does on reading (``x``,
    ``x`` -> ``x_1``, ``x_2``; ``""`` -> ``_1``), chance infosets and outcomes are named by
    their numbers; that format has no comment, so ``comment`` must be empty. ``version=0``
    writes the same without the version number, as Gambit's writer of 1 June 1995 did.
    """
    if version not in (0, 1, 2):
        raise EfgFormatError(f"EFG versions 0 and 1 (legacy) and 2 are defined, got {version}")
    legacy = version in (0, 1)
    if legacy and comment:
        raise EfgFormatError(f"the legacy EFG format (version {version}) has no comment field")
    player_names = _distinct_names(game.player_labels) if legacy else list(game.player_labels)
    header = ("EFG R " if version == 0 else f"EFG {version} R ") + f"{_quote(game.title)} {{ " \
        + " ".join(_quote(p) for p in player_names) + " }"
    lines = [header, ""] if legacy else [header, _quote(comment), ""]
    terminal_index = np.full(game.num_nodes, -1, dtype=np.int64)
    terminal_index[game.terminals] = np.arange(game.num_terminals)
    # per-player infoset numbers 1.. in id order (names in the legacy format)
    numbers = np.zeros(game.num_infosets, dtype=np.int64)
    infoset_names = list(game.infoset_labels)
    for i in range(game.num_players):
        mine = game.player_infosets(i)
        numbers[mine] = np.arange(1, mine.size + 1)
        if legacy:
            own = mine.tolist()
            for infoset, name in zip(own, _distinct_names([game.infoset_labels[k] for k in own])):
                infoset_names[infoset] = name
    exact_payoffs = game.payoffs_exact
    chance_values: Any = game.chance_exact if game.chance_exact is not None \
        else game.chance_probabilities
    chance_numbers: dict[tuple[int, str], int] = {}  # (game's id, moves) -> number in the file
    stack = [0]
    while stack:
        v = stack.pop()
        kind = int(game.player[v])
        label = _quote(game.node_labels[v])
        if kind == TERMINAL:
            z = int(terminal_index[v])
            payoffs = exact_payoffs[:, z] if exact_payoffs is not None else game.payoffs[:, z]
            values = ", ".join(_number(x) for x in payoffs)
            outcome = f'"{z + 1}"' if legacy else f'{z + 1} ""'
            lines.append(f"t {label} {outcome} {{ {values} }}")
            continue
        start = int(game.first_child[v])
        children = range(start, start + int(game.num_children[v]))
        if kind == CHANCE:
            moves = " ".join(f"{_quote(game.chance_labels[c])} {_number(chance_values[c])}"
                             for c in children)
            # chance nodes of one chance infoset must have the same moves; id 0 (TreeBuilder's
            # default, as in OpenSpiel imports) means none: such a node gets its own infoset
            # (Gambit counts a chance infoset spanning two deals as imperfect recall)
            identity = int(game.chance_infoset[v])
            number = chance_numbers.setdefault((identity, moves) if identity else (0, str(v)),
                                               len(chance_numbers) + 1)
            if legacy:
                lines.append(f'c {label} "{number}" {{ {moves} }} ""')
            else:
                lines.append(f'c {label} {number} "" {{ {moves} }} 0')
        else:
            infoset = int(game.infoset[v])
            actions = " ".join(_quote(a) for a in game.action_labels[infoset])
            if legacy:
                lines.append(f"p {label} {_quote(player_names[kind])} "
                             f'{_quote(infoset_names[infoset])} {{ {actions} }} ""')
            else:
                lines.append(f"p {label} {kind + 1} {int(numbers[infoset])} "
                             f"{_quote(game.infoset_labels[infoset])} {{ {actions} }} 0")
        stack.extend(reversed(children))
    return "\n".join(lines) + "\n"


def write_efg(path: str | os.PathLike[str], game: ExtensiveGame, *, comment: str = "",
              version: int = 2) -> None:
    """Write :func:`format_efg` atomically to ``path`` (``version=1`` or ``0``: the legacy
    format, with or without its version number)."""
    atomic_write(path, format_efg(game, comment=comment, version=version))
