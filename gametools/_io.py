"""Atomic file writing, used by every writer in the package.

A reader of a file written here sees either the old file or the complete new one, never a
partial write: data goes to a temporary file beside the target, is flushed to disk, and then
replaces the target with :func:`os.replace`. A failure leaves the target untouched.
"""

from __future__ import annotations

import contextlib
import decimal
import os
import re
import tempfile
from collections.abc import Iterator, Mapping
from fractions import Fraction
from pathlib import Path
from typing import IO, Any

import numpy as np

from gametools.errors import GametoolsError

__all__ = ["FolderInUseError", "atomic_open", "atomic_write", "folder_lock", "fraction_text",
           "integer_text", "jsonable", "remove_stale_temporaries"]


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "wb", **options: Any
                ) -> Iterator[IO[Any]]:
    """Open a temporary file that replaces ``path`` when the ``with`` block ends cleanly.

    The target keeps its permission bits when it exists (0o644 otherwise).
    """
    target = Path(path)
    try:
        permissions = target.stat().st_mode & 0o7777
    except FileNotFoundError:
        permissions = 0o644
    handle_number, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp",
                                                dir=target.parent)
    try:
        with os.fdopen(handle_number, mode, **options) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, permissions)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def atomic_write(path: str | os.PathLike[str], data: bytes | str) -> None:
    """Write ``data`` (text is UTF-8 encoded) to ``path`` atomically."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    with atomic_open(path, "wb") as handle:
        handle.write(payload)


def fraction_text(value: Fraction | int) -> str:
    """``"p/q"`` (or ``"p"`` for an integer), the exact-number format of the JSON output."""
    value = Fraction(value)
    numerator = integer_text(value.numerator)
    return numerator if value.denominator == 1 else f"{numerator}/{integer_text(value.denominator)}"


#: Integers below this magnitude go through ``str`` (computed once: building ``10**4000`` on
#: every call cost more than the conversion itself).
_PLAIN_LIMIT = 10 ** 4000


def integer_text(value: int) -> str:
    """Decimal digits of an integer of any size.

    ``str(int)`` refuses integers beyond ``sys.get_int_max_str_digits()`` (4300 digits), a guard
    against quadratic-time conversions of untrusted text; exact payoffs such as ``1e-5000`` are
    legitimately longer, so they go through :mod:`decimal`, whose conversion is not limited.
    """
    if -_PLAIN_LIMIT < value < _PLAIN_LIMIT:
        return str(value)
    context = decimal.Context(prec=decimal.MAX_PREC, Emax=decimal.MAX_EMAX,
                              Emin=decimal.MIN_EMIN)
    return format(context.create_decimal(value), "f")


def jsonable(value: Any) -> Any:
    """``value`` with arrays, numpy scalars and Fractions turned into JSON types.

    NaN becomes ``None`` (JSON has no NaN); Fractions become ``"p/q"`` strings.
    """
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, Fraction):
        return fraction_text(value)
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value != value:
        return None
    return value


class FolderInUseError(GametoolsError):
    """Another live process holds the lock of an output folder (the message names its pid)."""


_LOCK_NAME = ".gametools.lock"


@contextlib.contextmanager
def folder_lock(folder: str | os.PathLike[str]) -> Iterator[Path]:
    """Hold an exclusive lock on an output folder for the ``with`` block.

    A second process that asks for the same folder is refused at once with
    :class:`FolderInUseError` naming the holder's pid, instead of both writing into it and the
    last one silently overwriting the other's results. The lock is an advisory ``flock`` on
    ``folder/.gametools.lock``: the kernel releases it when the holder exits, even by
    ``kill -9``, so a crashed run never leaves a stale lock. While holding it, temporary files
    that :func:`atomic_open` left behind in the folder (a writer killed mid-write) are removed:
    no live writer can own them.

    Yields the folder's path (created if missing). When the block raises before anything but the
    lock was written, the folders this call created are removed again: a refused run leaves no
    empty output folder behind.
    """
    import fcntl

    path = Path(folder)
    created = [p for p in (path, *path.parents) if not p.exists()]  # deepest first
    path.mkdir(parents=True, exist_ok=True)
    lock_path = path / _LOCK_NAME
    handle = open(lock_path, "a+", encoding="utf-8")  # noqa: SIM115 - held for the whole block
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise FolderInUseError(f"output folder {path} is in use by another gametools "
                                   f"process (pid {holder}); wait for it to finish or choose "
                                   "another folder") from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        remove_stale_temporaries(path)
        yield path
    except BaseException:
        if created and [entry.name for entry in path.iterdir()] == [_LOCK_NAME]:
            lock_path.unlink(missing_ok=True)
            for empty in created:
                try:
                    empty.rmdir()
                except OSError:  # something else was written there meanwhile
                    break
        raise
    finally:
        handle.close()  # releases the flock


def remove_stale_temporaries(folder: str | os.PathLike[str]) -> int:
    """Delete the ``.NAME.*.tmp`` files :func:`atomic_open` leaves when killed; return the count.

    Call only while holding :func:`folder_lock` (no writer can be using them then).
    """
    removed = 0
    for candidate in Path(folder).rglob(".*.tmp"):
        if candidate.is_file() and _TEMPORARY.fullmatch(candidate.name):
            with contextlib.suppress(FileNotFoundError):
                candidate.unlink()
                removed += 1
    return removed


_TEMPORARY = re.compile(r"\..+\.[A-Za-z0-9_]{6,}\.tmp")
