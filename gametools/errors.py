"""Error types shared by the whole package.

Every validation failure names the array, the offending index and the rule that was broken, so a
user can find the bad entry without reading the code.
"""

from __future__ import annotations

from typing import Any

__all__ = ["GameValidationError", "PolicyValidationError", "GametoolsError",
           "InvalidArgumentError", "UnsupportedGameError", "ResourceLimitError"]


class GametoolsError(Exception):
    """Base class of every error raised on purpose by gametools."""


class InvalidArgumentError(GametoolsError, ValueError):
    """An argument or option has a value the function cannot accept (the message says which)."""


class UnsupportedGameError(InvalidArgumentError):
    """The game lacks a property the method needs (zero-sum, fully observed, acyclic, ...)."""


class ResourceLimitError(InvalidArgumentError):
    """An input asks for more memory or work than a limit of :mod:`gametools.limits` allows.

    The message names the limit and how to raise it.
    """


class _NamedValueError(GametoolsError, ValueError):
    def __init__(self, array: str, rule: str, index: tuple[int, ...] | int | None = None,
                 value: Any = None) -> None:
        self.array = array
        self.rule = rule
        self.index = index
        self.value = value
        where = array if index is None else f"{array}[{_format_index(index)}]"
        got = "" if value is None else f" (got {value!r})"
        super().__init__(f"{where}: {rule}{got}")


class GameValidationError(_NamedValueError):
    """A game's arrays break a rule of the model (shape, finiteness, probabilities, ...).

    Attributes
    ----------
    array : str
        Name of the offending array (``"transitions"``, ``"rewards"``, ...).
    rule : str
        The rule that was broken, in words.
    index : tuple of int or None
        The first offending index, when the rule is about an entry.
    """


class PolicyValidationError(_NamedValueError):
    """A strategy, policy or profile is malformed (shape, negative entries, rows off the simplex)."""


def _format_index(index: tuple[int, ...] | int) -> str:
    if isinstance(index, tuple):
        return ", ".join(str(int(i)) for i in index)
    return str(int(index))
