"""Long fuzz runs of the readers, for a time budget per target, with counts.

Usage::

    python bench/fuzz_readers.py [--minutes 30] [--targets nfg,efg,npz_game,npz_profile,checkpoint]
                                 [--case-cpu-seconds 10] [--case-wall-seconds 120]
                                 [--memory-limit-gb 4]

Each target draws inputs from the hypothesis strategies of tests/fuzz_targets.py (random seeds,
not derandomised) until its budget is spent, and reports the number of cases run, how many were
accepted or refused with a project error, every other exception (a failure of the reliability
contract) and every hang, with the input that caused it written to bench/fuzz_failures/.

A hang is a case that uses more than ``--case-cpu-seconds`` of CPU time (``ITIMER_PROF``, so a
busy machine does not cause false hangs) or ``--case-wall-seconds`` of wall time; it is
interrupted, counted and recorded as a failure. A case stuck in C code, where Python's signal
handler cannot run, is caught by ``faulthandler`` at three times the wall limit: it dumps every
thread's stack and exits the process; the input being run is then in ``<target>-current.input``.
``--memory-limit-gb`` caps the address space (``RLIMIT_AS``), so runaway allocation shows as a
``MemoryError`` failure rather than exhausting the machine; peak RSS is reported per target.
"""

from __future__ import annotations

import argparse
import faulthandler
import resource
import signal
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from fuzz_targets import (
    VALID_GAME_ARCHIVES,
    VALID_PROFILE_ARCHIVES,
    check_efg,
    check_nfg,
    check_npz_game,
    check_npz_profile,
    efg_texts,
    mutated,
    nfg_texts,
    npz_structured,
)
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st


def _checkpoint() -> tuple[Any, Callable[[Any], str]]:
    from fuzz_targets import CheckpointTarget

    target = CheckpointTarget(Path(tempfile.mkdtemp(prefix="fuzz-checkpoint-")))
    return target.cases(), target.check


TARGETS: dict[str, Callable[[], tuple[Any, Callable[[Any], str]]]] = {
    "nfg": lambda: (nfg_texts(), check_nfg),
    "efg": lambda: (efg_texts(), check_efg),
    "npz_game": lambda: (st.one_of(mutated(VALID_GAME_ARCHIVES), npz_structured()),
                         check_npz_game),
    "npz_profile": lambda: (st.one_of(mutated(VALID_PROFILE_ARCHIVES), npz_structured()),
                            check_npz_profile),
    "checkpoint": _checkpoint,
}
#: Examples per hypothesis run; runs repeat until the budget is spent (bounds hypothesis' own
#: bookkeeping, so the peak RSS measures the readers).
CHUNK = 2000


class _Budget(Exception):
    pass


class _Hang(BaseException):
    """Raised by the per-case timers; a BaseException, so readers' ``except Exception`` miss it."""


def _on_timer(signum: int, frame: Any) -> None:
    raise _Hang("CPU" if signum == signal.SIGPROF else "wall")


def _usage() -> tuple[float, int]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime, usage.ru_maxrss  # seconds, KiB on Linux


def run_target(name: str, seconds: float, failures: Path, *, cpu_limit: float = 10.0,
               wall_limit: float = 120.0, report_every: float = 60.0) -> dict[str, Any]:
    setup = time.monotonic()
    strategy, check = TARGETS[name]()
    print(f"  {name}: set up in {time.monotonic() - setup:.0f} s", flush=True)
    counts: dict[str, Any] = {"cases": 0, "accepted": 0, "refused": 0, "failures": 0,
                              "hangs": 0, "slowest_case_s": 0.0}
    started = time.monotonic()
    deadline = started + seconds
    next_report = started + report_every
    failures.mkdir(parents=True, exist_ok=True)
    current = failures / f"{name}-current.input"
    previous = signal.signal(signal.SIGPROF, _on_timer), signal.signal(signal.SIGALRM, _on_timer)

    def record(kind: str, data: bytes, text: str) -> None:
        stem = failures / f"{name}-{kind}-{counts['cases']}"  # numbered by case
        stem.with_suffix(".input").write_bytes(data)
        stem.with_suffix(".txt").write_text(text)

    # generation only: no shrinking (a failure is recorded as drawn; the budget's _Budget
    # would otherwise be shrunk, replaying examples past the deadline)
    @settings(max_examples=CHUNK, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def fuzz(value: object) -> None:
        nonlocal next_report
        now = time.monotonic()
        if now > deadline:
            raise _Budget
        if now > next_report:
            next_report = now + report_every
            print(f"  {name}: {progress(counts, started)}", flush=True)
        counts["cases"] += 1
        data = value if isinstance(value, bytes) else str(value).encode("utf-8", "replace")
        current.write_bytes(data)
        faulthandler.dump_traceback_later(3 * wall_limit, exit=True)
        case_started = time.monotonic()
        try:
            signal.setitimer(signal.ITIMER_PROF, cpu_limit)
            signal.setitimer(signal.ITIMER_REAL, wall_limit)
            try:
                counts[check(value)] += 1
            finally:
                signal.setitimer(signal.ITIMER_PROF, 0)
                signal.setitimer(signal.ITIMER_REAL, 0)
        except _Hang as exc:
            counts["hangs"] += 1
            record("hang", data, f"over the {exc} time limit\n{traceback.format_exc()}")
        except Exception:  # noqa: BLE001 - recorded, then the run goes on
            counts["failures"] += 1
            record("failure", data, traceback.format_exc())
        finally:
            faulthandler.cancel_dump_traceback_later()
        counts["slowest_case_s"] = max(counts["slowest_case_s"], time.monotonic() - case_started)

    try:
        while time.monotonic() < deadline:
            try:
                fuzz()
            except BaseException:
                # the budget ends a run by raising _Budget, which hypothesis reports (possibly
                # wrapped in an exception group); failures of the target were recorded above
                if time.monotonic() > deadline:
                    break
                raise
    finally:
        signal.signal(signal.SIGPROF, previous[0])
        signal.signal(signal.SIGALRM, previous[1])
    current.unlink(missing_ok=True)
    return counts


def progress(counts: dict[str, Any], started: float) -> str:
    cpu, rss = _usage()
    return (f"{counts['cases']} cases ({counts['accepted']} accepted, {counts['refused']} "
            f"refused), {counts['failures']} failures, {counts['hangs']} hangs, slowest case "
            f"{counts['slowest_case_s']:.2f} s, wall {(time.monotonic() - started) / 60:.1f} min, "
            f"CPU {cpu / 60:.1f} min, peak RSS {rss / 1024:.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0, help="budget per target")
    parser.add_argument("--targets", default=",".join(TARGETS))
    parser.add_argument("--case-cpu-seconds", type=float, default=10.0,
                        help="CPU time after which a case counts as a hang")
    parser.add_argument("--case-wall-seconds", type=float, default=120.0,
                        help="wall time after which a case counts as a hang")
    parser.add_argument("--memory-limit-gb", type=float, default=None,
                        help="address-space limit of this process (RLIMIT_AS)")
    parser.add_argument("--failures", type=Path,
                        default=Path(__file__).resolve().parent / "fuzz_failures")
    args = parser.parse_args()
    # hypothesis' note on the repr of large strategies, torch's on pickle protocols: noise here
    warnings.filterwarnings("ignore", message="Generating overly large repr")
    warnings.filterwarnings("ignore", message="Detected pickle protocol")
    if args.memory_limit_gb:
        limit = int(args.memory_limit_gb * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    for name in args.targets.split(","):
        if name not in TARGETS:
            parser.error(f"unknown target {name!r} (known: {', '.join(TARGETS)})")
    for name in args.targets.split(","):
        started = time.monotonic()
        counts = run_target(name, args.minutes * 60, args.failures,
                            cpu_limit=args.case_cpu_seconds, wall_limit=args.case_wall_seconds)
        # peak RSS and CPU are the process's: run one target per process for per-target numbers
        print(f"{name}: {progress(counts, started)}", flush=True)


if __name__ == "__main__":
    main()
