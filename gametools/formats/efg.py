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

Where this reader differs from Gambit's (``src/games/file.cc``): only version 2 exists in
Gambit's collection and is read (Gambit 16 and 17 read only version 2 too); the outcome placed
at internal nodes is folded into the terminal payoffs, so writing back places every outcome at
a terminal node.

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
from fractions import Fraction
from pathlib import Path
from typing import Any

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


_TOKEN = re.compile(r'''
    \s*(?:
      (?P<string>"(?:[^"\\]|\\.)*")
    | (?P<brace>[{}])
    | (?P<comma>,)
    | (?P<number>[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?(?:/\d+)?)
    | (?P<symbol>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<eof>\Z)
    | (?P<bad>.)
    )
''', re.VERBOSE | re.DOTALL)


class _Tokens:
    """Tokens of a file; line numbers are computed only for messages."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.iterator = _TOKEN.finditer(text)
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
            raise EfgFormatError(f"line {self._line_at(match.start(kind))}: unexpected "
                                 f"character {value!r}")
        self.current = (kind, value, match.start(kind) if kind != "eof" else len(self.text))
        return self.current

    def _line_at(self, position: int) -> int:
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
            raise EfgFormatError(f"line {self._line_at(start)}: {exc}") from None
        except ResourceLimitError as exc:
            raise ResourceLimitError(f"line {self._line_at(start)}: {exc}") from None

    def integer(self, what: str) -> int:
        text = self.current[1]
        if self.current[0] != "number" or not re.fullmatch(r"\+?\d{1,18}", text):
            raise EfgFormatError(f"line {self.line}: expected {what} (a non-negative integer),"
                                 f" got {text!r}")
        self.advance()
        return int(text)

    @property
    def line(self) -> int:
        return self._line_at(self.current[2])


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
    tokens = _Tokens(text)
    if tokens.expect("symbol", "'EFG'") != "EFG":
        raise EfgFormatError("line 1: an .efg file starts with 'EFG'")
    version = tokens.integer("the format version")
    if version != 2:
        raise EfgFormatError(f"line {tokens.line}: only EFG version 2 is defined, got "
                             f"{version}")
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
    if tokens.current[0] == "string":
        tokens.string("the comment")
    builder = TreeBuilder(num_players)
    outcomes: dict[int, tuple[Fraction, ...]] = {}
    infosets: dict[tuple[int, int], tuple[str, tuple[str, ...], tuple[Fraction, ...]]] = {}
    # (node, remaining children) of the open nodes; children attach in preorder
    open_nodes: list[list[int]] = []
    zero = (Fraction(0),) * num_players
    accumulated: list[tuple[Fraction, ...]] = []  # payoffs of outcomes on the path, per open node
    leaf_count = 0
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
        start = tokens.current[2]
        node_type = tokens.expect("symbol", "a node type (c, p or t)")
        label = tokens.string("the node label")
        if node_type == "t":
            payoff = _outcome(tokens, outcomes, num_players)
            total_payoff = tuple(a + b for a, b in zip(inherited, payoff))
            builder.terminal(at, payoffs=total_payoff, label=label)
            leaf_count += 1
            continue
        if node_type == "c":
            owner = 0
        elif node_type == "p":
            owner = tokens.integer("the player number")
            if not 1 <= owner <= num_players:
                raise EfgFormatError(f"line {tokens._line_at(start)}: player {owner} does not exist (players are "
                                     f"1..{num_players})")
        else:
            raise EfgFormatError(f"line {tokens._line_at(start)}: unknown node type {node_type!r} (c, p or t)")
        number = tokens.integer("the infoset number")
        key = (owner, number)
        if tokens.current[0] == "string":
            infoset_label = tokens.string("the infoset label")
            tokens.expect("brace", "'{' before the actions")
            actions: list[str] = []
            probabilities: list[Fraction] = []
            while tokens.current[0] == "string":
                actions.append(tokens.string("an action label"))
                if owner == 0:
                    probabilities.append(tokens.number("a chance probability"))
            if tokens.expect("brace", "'}' after the actions") != "}":
                raise EfgFormatError(f"line {tokens.line}: expected '}}' after the actions")
            if not actions:
                raise EfgFormatError(f"line {tokens._line_at(start)}: a move needs at least one action")
            entry = (infoset_label, tuple(actions), tuple(probabilities))
            if key in infosets and len(infosets[key][1]) != len(actions):
                raise EfgFormatError(f"line {tokens._line_at(start)}: infoset {number} of "
                                     f"{'chance' if owner == 0 else f'player {owner}'} was "
                                     f"defined with {len(infosets[key][1])} actions, here "
                                     f"{len(actions)}")
            if key in infosets and owner == 0 and infosets[key][2] != entry[2]:
                raise EfgFormatError(f"line {tokens._line_at(start)}: chance infoset {number} was defined with "
                                     "other probabilities")
            infosets.setdefault(key, entry)
        elif key not in infosets:
            raise EfgFormatError(f"line {tokens._line_at(start)}: infoset {number} of "
                                 f"{'chance' if owner == 0 else f'player {owner}'} is used "
                                 "before its actions are given")
        infoset_label, action_labels, probs = infosets[key]
        payoff = _outcome(tokens, outcomes, num_players)
        if owner == 0:
            node = builder.chance(at, probabilities=probs, labels=action_labels, label=label,
                                  chance_infoset=number)
        else:
            node = builder.decision(at, player=owner - 1, infoset=number, actions=action_labels,
                                    infoset_label=infoset_label, label=label)
        open_nodes.append([node, 0, len(action_labels)])
        accumulated.append(tuple(a + b for a, b in zip(inherited, payoff)))
    if tokens.current[0] != "eof":
        raise EfgFormatError(f"line {tokens.line}: text after the end of the tree")
    return builder.build(title=title, player_labels=players)


def _outcome(tokens: _Tokens, outcomes: dict[int, tuple[Fraction, ...]], num_players: int
             ) -> tuple[Fraction, ...]:
    start = tokens.current[2]
    number = tokens.integer("the outcome number")
    if tokens.current[0] == "string":
        if number == 0:
            raise EfgFormatError(f"line {tokens._line_at(start)}: outcome 0 is the null outcome and takes no "
                                 "payoffs")
        tokens.string("the outcome label")
        payoffs = _payoffs(tokens, num_players)
        if number in outcomes and outcomes[number] != payoffs:
            raise EfgFormatError(f"line {tokens._line_at(start)}: outcome {number} was defined with other "
                                 "payoffs")
        outcomes[number] = payoffs
    elif number != 0 and number not in outcomes:
        raise EfgFormatError(f"line {tokens._line_at(start)}: outcome {number} is used before its payoffs are "
                             "given")
    return outcomes[number] if number else (Fraction(0),) * num_players


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


def format_efg(game: ExtensiveGame, *, comment: str = "") -> str:
    """The ``.efg`` text of a game (exact numbers where the game has them).

    Every terminal gets its own outcome; infoset labels and actions are repeated at every node
    (allowed by the format, and what Gambit writes).
    """
    lines = [f"EFG 2 R {_quote(game.title)} {{ "
             + " ".join(_quote(p) for p in game.player_labels) + " }", _quote(comment), ""]
    terminal_index = np.full(game.num_nodes, -1, dtype=np.int64)
    terminal_index[game.terminals] = np.arange(game.num_terminals)
    # per-player infoset numbers 1.. in id order
    numbers = np.zeros(game.num_infosets, dtype=np.int64)
    for i in range(game.num_players):
        mine = game.player_infosets(i)
        numbers[mine] = np.arange(1, mine.size + 1)
    exact_payoffs = game.payoffs_exact
    chance_values: Any = game.chance_exact if game.chance_exact is not None \
        else game.chance_probabilities
    stack = [0]
    while stack:
        v = stack.pop()
        kind = int(game.player[v])
        label = _quote(game.node_labels[v])
        if kind == TERMINAL:
            z = int(terminal_index[v])
            payoffs = exact_payoffs[:, z] if exact_payoffs is not None else game.payoffs[:, z]
            lines.append(f"t {label} {z + 1} \"\" {{ "
                         + ", ".join(_number(x) for x in payoffs) + " }")
            continue
        start = int(game.first_child[v])
        children = range(start, start + int(game.num_children[v]))
        if kind == CHANCE:
            moves = " ".join(f"{_quote(game.chance_labels[c])} {_number(chance_values[c])}"
                             for c in children)
            lines.append(f"c {label} {int(game.chance_infoset[v])} \"\" {{ {moves} }} 0")
        else:
            infoset = int(game.infoset[v])
            actions = " ".join(_quote(a) for a in game.action_labels[infoset])
            lines.append(f"p {label} {kind + 1} {int(numbers[infoset])} "
                         f"{_quote(game.infoset_labels[infoset])} {{ {actions} }} 0")
        stack.extend(reversed(children))
    return "\n".join(lines) + "\n"


def write_efg(path: str | os.PathLike[str], game: ExtensiveGame, *, comment: str = "") -> None:
    """Write :func:`format_efg` atomically to ``path``."""
    atomic_write(path, format_efg(game, comment=comment))
