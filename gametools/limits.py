"""Resource limits checked before anything is allocated.

Every reader and every entry point that sizes memory from its input (a file header, an array
shape, a parameter, a command-line count) checks the size here first, so a hostile or mistaken
input fails within milliseconds with one line naming the limit, instead of exhausting memory
or hanging. The defaults fit a laptop (a few GiB); raise them when a genuine input needs more.

Raising a limit
---------------
- Environment: ``GAMETOOLS_<NAME>=<value>`` (upper case), e.g. ``GAMETOOLS_MAX_PLAYERS=200`` or
  ``GAMETOOLS_MAX_MEMORY_BYTES=16e9``; read at each check, so it also reaches worker processes.
- Python: ``gametools.limits.set_limits(max_players=200)`` for the process, or
  ``with gametools.limits.raised(max_players=200): ...`` for one block.

Threads
-------
:func:`available_cpus` counts the CPUs this process may really use: its CPU affinity mask, the
cgroup CPU quota of a container (``cpu.max``, or ``cpu.cfs_quota_us`` on cgroup v1) and, inside
a Ray task, the CPUs Ray assigned to it. :func:`configure_threads` sets torch's intra-op thread
count (and BLAS/OpenMP through ``threadpoolctl`` when installed, otherwise through the
``OMP_NUM_THREADS``-style variables inherited by child processes) to that number or to an
explicit ``--threads``. Torch's own default is the machine's core count, which on a shared node
or in a one-CPU Ray task oversubscribes the CPUs: training ran 20x slower that way.

Limits
------
======================  ==============  ===========================================================
name                    default         what it bounds
======================  ==============  ===========================================================
max_players             32              players of a game read from a file (numpy arrays have
                                        at most 64 axes, so never more than 63)
max_actions             1_000_000       strategies (and labels) of one player
max_payoff_entries      50_000_000      entries ``N * n_1 * ... * n_N`` of a payoff table
max_number_digits       4_000           digits of one exact number's mantissa/numerator/denominator
max_exponent            10_000          decimal exponent of one exact number
max_array_bytes         1 GiB           decompressed size of one ``.npz`` member / ``.npy`` array
max_observation_id      10_000_000      observation ids (policies are sized by the largest id)
max_memory_bytes        4 GiB           estimated size of a game a scenario would build
max_seeds               10_000          ``--seeds`` of one command
max_workers             1_024           worker processes of one study
max_num_envs            65_536          parallel environments of one learner
max_hidden_size         65_536          width of one hidden layer
max_parameters          100_000_000     parameters of one network
max_tree_nodes          2_000_000       nodes of a game tree unrolled from OpenSpiel
======================  ==============  ===========================================================
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, fields, replace
from typing import Any

from gametools.errors import ResourceLimitError

__all__ = ["Limits", "available_cpus", "check", "check_memory", "check_number_text",
           "configure_threads", "current", "parse_count", "raised", "set_limits"]


@dataclass(frozen=True)
class Limits:
    """The resource limits (see the module docstring for each one's meaning)."""

    max_players: int = 32
    max_actions: int = 1_000_000
    max_payoff_entries: int = 50_000_000
    max_number_digits: int = 4_000
    max_exponent: int = 10_000
    max_array_bytes: int = 1024**3
    max_observation_id: int = 10_000_000
    max_memory_bytes: int = 4 * 1024**3
    max_seeds: int = 10_000
    max_workers: int = 1_024
    max_num_envs: int = 65_536
    max_hidden_size: int = 65_536
    max_parameters: int = 100_000_000
    max_tree_nodes: int = 2_000_000


_NAMES = tuple(f.name for f in fields(Limits))
_overrides: dict[str, int] = {}


def _environment_value(name: str) -> int | None:
    text = os.environ.get(f"GAMETOOLS_{name.upper()}")
    if text is None or not text.strip():
        return None
    try:
        value = float(text)
    except ValueError:
        raise ResourceLimitError(f"GAMETOOLS_{name.upper()}={text!r} is not a number") from None
    if not math.isfinite(value) or value < 1:
        raise ResourceLimitError(f"GAMETOOLS_{name.upper()}={text!r} must be a number >= 1")
    return int(value)


def current() -> Limits:
    """The limits in force: defaults, then ``GAMETOOLS_*`` variables, then :func:`set_limits`."""
    values: dict[str, int] = {}
    for name in _NAMES:
        from_environment = _environment_value(name)
        if from_environment is not None:
            values[name] = from_environment
    values.update(_overrides)
    return replace(Limits(), **values)


def _validated(changes: dict[str, Any]) -> dict[str, int]:
    out = {}
    for name, value in changes.items():
        if name not in _NAMES:
            raise ResourceLimitError(f"unknown limit {name!r}; limits: {', '.join(_NAMES)}")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                not math.isfinite(value) or value < 1:
            raise ResourceLimitError(f"limit {name} must be a number >= 1, got {value!r}")
        out[name] = int(value)
    return out


def set_limits(**changes: int) -> None:
    """Change limits for the rest of the process (they take precedence over the environment)."""
    _overrides.update(_validated(changes))


@contextlib.contextmanager
def raised(**changes: int) -> Iterator[Limits]:
    """Change limits inside a ``with`` block only."""
    saved = dict(_overrides)
    _overrides.update(_validated(changes))
    try:
        yield current()
    finally:
        _overrides.clear()
        _overrides.update(saved)


def _how_to_raise(name: str) -> str:
    return (f"raise it with GAMETOOLS_{name.upper()}=... or "
            f"gametools.limits.set_limits({name}=...)")


def check(name: str, value: float, what: str) -> None:
    """Raise :class:`ResourceLimitError` when ``value`` exceeds the limit ``name``.

    Parameters
    ----------
    name : str
        A field of :class:`Limits`, e.g. ``"max_players"``.
    value : int or float
        The size asked for (checked before allocating it).
    what : str
        What the value counts, for the message (``"players in the .nfg header"``).
    """
    limit = getattr(current(), name)
    if value > limit:
        raise ResourceLimitError(f"{what}: {_size_text(value)} exceeds the limit {name} = "
                                 f"{_size_text(limit)}; {_how_to_raise(name)}")


def check_memory(estimated_bytes: float, what: str) -> None:
    """Refuse building something whose estimated size exceeds ``max_memory_bytes``."""
    limit = current().max_memory_bytes
    if not estimated_bytes <= limit:  # also catches NaN and inf
        raise ResourceLimitError(f"{what} would need about {_bytes_text(estimated_bytes)}, more "
                                 f"than the limit max_memory_bytes = {_bytes_text(limit)}; "
                                 f"{_how_to_raise('max_memory_bytes')}")


def check_number_text(text: str, what: str = "number") -> None:
    """Check the digit count and exponent of a decimal or ``p/q`` number *before* converting it.

    ``Fraction("1e100000000")`` builds a 100-million-digit integer (minutes of CPU, 40 MB) from
    12 bytes of text; this check makes such a number fail at once.
    """
    limits = current()
    mantissa, exponent_text = text, ""
    for marker in ("e", "E"):
        if marker in text:
            mantissa, _, exponent_text = text.partition(marker)
            break
    digits = sum(c.isdigit() for c in mantissa)
    longest = max((sum(c.isdigit() for c in part) for part in mantissa.split("/")), default=0)
    if longest > limits.max_number_digits:
        raise ResourceLimitError(f"{what} has {digits} digits, more than the limit "
                                 f"max_number_digits = {limits.max_number_digits}; "
                                 f"{_how_to_raise('max_number_digits')}")
    exponent_digits = exponent_text.lstrip("+-")
    # a malformed exponent is the caller's grammar problem, not a size problem
    if exponent_digits.isascii() and exponent_digits.isdigit() and (
            len(exponent_digits) > 18 or int(exponent_digits) > limits.max_exponent):
        raise ResourceLimitError(f"{what} has exponent {exponent_text[:20]}, beyond the limit "
                                 f"max_exponent = +-{limits.max_exponent}; "
                                 f"{_how_to_raise('max_exponent')}")


def parse_count(text: str, name: str, what: str) -> int:
    """A non-negative integer from text, checked against the limit ``name`` before conversion.

    Refuses digit strings too long to be any allowed count without converting them (``int`` of a
    5000-digit string raises ``ValueError``; of a million digits, it takes seconds).
    """
    digits = text.removeprefix("+")
    if not digits.isascii() or not digits.isdigit():
        raise ResourceLimitError(f"{what}: expected a non-negative integer, got {text[:40]!r}")
    limit = getattr(current(), name)
    if len(digits.lstrip("0")) > len(str(limit)):
        raise ResourceLimitError(f"{what}: {digits[:20]}{'...' if len(digits) > 20 else ''} "
                                 f"exceeds the limit {name} = {_size_text(limit)}; "
                                 f"{_how_to_raise(name)}")
    value = int(digits)
    check(name, value, what)
    return value


def _size_text(value: float) -> str:
    return f"{int(value):,}" if float(value) < 1e18 else f"{float(value):.3g}"


def _bytes_text(value: float) -> str:
    if not math.isfinite(value):
        return "an unbounded amount of memory"
    for unit, size in (("TiB", 1024**4), ("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if value >= size:
            return f"{value / size:.3g} {unit}"
    return f"{int(value)} bytes"


# ------------------------------------------------------------------------------------------
# threads
# ------------------------------------------------------------------------------------------

_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                     "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


def available_cpus() -> int:
    """CPUs this process may use: affinity mask, cgroup quota and Ray allocation (at least 1)."""
    try:
        count = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        count = os.cpu_count() or 1
    quota = _cgroup_quota()
    if quota is not None:
        count = min(count, max(1, math.floor(quota)))
    ray_cpus = _ray_cpus()
    if ray_cpus is not None:
        count = min(count, max(1, math.floor(ray_cpus)))
    return max(1, count)


def _cgroup_quota() -> float | None:
    """The container's CPU quota in CPUs (cgroup v2 ``cpu.max`` or v1 CFS files), or None."""
    try:
        with open("/sys/fs/cgroup/cpu.max", encoding="ascii") as handle:
            quota, _, period = handle.read().strip().partition(" ")
        if quota != "max" and float(period) > 0:
            return float(quota) / float(period)
        return None
    except (OSError, ValueError):
        pass
    try:
        with open("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", encoding="ascii") as handle:
            quota_us = float(handle.read())
        with open("/sys/fs/cgroup/cpu/cpu.cfs_period_us", encoding="ascii") as handle:
            period_us = float(handle.read())
    except (OSError, ValueError):
        return None
    return quota_us / period_us if quota_us > 0 and period_us > 0 else None


def _ray_cpus() -> float | None:
    """CPUs assigned to the current Ray task or actor, or None outside Ray."""
    ray = sys.modules.get("ray")
    if ray is None:
        return None
    try:
        if not ray.is_initialized():
            return None
        context = ray.get_runtime_context()
        if context.worker.mode != ray.WORKER_MODE:
            return None
        cpus = context.get_assigned_resources().get("CPU")
    except Exception:  # noqa: BLE001 - Ray internals vary by version; no Ray allocation then
        return None
    return float(cpus) if cpus else None


def configure_threads(threads: int | None = None) -> int:
    """Set torch and BLAS/OpenMP thread counts; return the count used.

    Parameters
    ----------
    threads : int, optional
        Threads to use (``--threads``); default :func:`available_cpus`.

    Raises
    ------
    ResourceLimitError
        When ``threads`` is not a positive integer.
    """
    if threads is None:
        threads = available_cpus()
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ResourceLimitError(f"threads must be a positive integer, got {threads!r}")
    for name in _THREAD_VARIABLES:  # inherited by worker processes started later
        os.environ[name] = str(threads)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(threads)
    try:
        import threadpoolctl
    except ImportError:
        pass
    else:
        threadpoolctl.threadpool_limits(threads)
    return threads
