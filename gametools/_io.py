"""Atomic file writing, used by every writer in the package.

A reader of a file written here sees either the old file or the complete new one, never a
partial write: data goes to a temporary file beside the target, is flushed to disk, and then
replaces the target with :func:`os.replace`. A failure leaves the target untouched.
"""

from __future__ import annotations

import contextlib
import decimal
import os
import tempfile
from collections.abc import Iterator, Mapping
from fractions import Fraction
from pathlib import Path
from typing import IO, Any

import numpy as np

__all__ = ["atomic_open", "atomic_write", "jsonable", "fraction_text", "integer_text"]


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


def integer_text(value: int) -> str:
    """Decimal digits of an integer of any size.

    ``str(int)`` refuses integers beyond ``sys.get_int_max_str_digits()`` (4300 digits), a guard
    against quadratic-time conversions of untrusted text; exact payoffs such as ``1e-5000`` are
    legitimately longer, so they go through :mod:`decimal`, whose conversion is not limited.
    """
    if -10**4000 < value < 10**4000:
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
