"""Discovery of registered objects (scenarios, studies) through entry points.

A library registers a sequence of named objects under an entry-point group; gametools finds them
without importing the library by name, so dependencies keep pointing one way.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Protocol, TypeVar

__all__ = ["load_registered"]


class _Named(Protocol):
    @property
    def name(self) -> str: ...


T = TypeVar("T", bound=_Named)


def load_registered(group: str, kind: type[T], error: type[Exception]) -> dict[str, T]:
    """Every ``kind`` object registered under ``group``, by its ``name``, in registration order.

    Raises ``error`` for an entry that holds something else or a name registered twice.
    """
    found: dict[str, T] = {}
    for entry in entry_points(group=group):
        for item in entry.load():
            if not isinstance(item, kind):
                raise error(f"entry point {entry.name!r} of {group!r} holds "
                            f"{type(item).__name__}, not {kind.__name__}")
            name = item.name
            if name in found:
                raise error(f"{kind.__name__.lower()} {name!r} is registered twice (entry "
                            f"point {entry.name!r})")
            found[name] = item
    return found
