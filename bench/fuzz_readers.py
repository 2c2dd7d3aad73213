"""Long fuzz runs of the readers, for a time budget per target, with counts.

Usage::

    python bench/fuzz_readers.py [--minutes 30] [--targets nfg,npz_game,npz_profile,checkpoint]

Each target draws inputs from the hypothesis strategies of tests/fuzz_targets.py (random seeds,
not derandomised) until its budget is spent, and reports the number of cases run, how many were
accepted or refused with a project error, and every other exception (a failure of the
reliability contract) with the input that raised it, written to bench/fuzz_failures/.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from fuzz_targets import (
    VALID_GAME_ARCHIVES,
    VALID_PROFILE_ARCHIVES,
    check_nfg,
    check_npz_game,
    check_npz_profile,
    mutated,
    nfg_texts,
    npz_structured,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

TARGETS = {
    "nfg": (nfg_texts(), check_nfg),
    "npz_game": (st.one_of(mutated(VALID_GAME_ARCHIVES), npz_structured()), check_npz_game),
    "npz_profile": (st.one_of(mutated(VALID_PROFILE_ARCHIVES), npz_structured()),
                    check_npz_profile),
}


class _Budget(Exception):
    pass


def run_target(name: str, seconds: float, failures: Path) -> dict[str, int]:
    strategy, check = TARGETS[name]
    counts = {"cases": 0, "failures": 0}
    deadline = time.monotonic() + seconds

    @settings(max_examples=10**9, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def fuzz(value: object) -> None:
        if time.monotonic() > deadline:
            raise _Budget
        counts["cases"] += 1
        try:
            check(value)
        except Exception:  # noqa: BLE001 - recorded, then the run goes on
            counts["failures"] += 1
            failures.mkdir(parents=True, exist_ok=True)
            stem = failures / f"{name}-{counts['failures']}"
            data = value if isinstance(value, bytes) else str(value).encode("utf-8", "replace")
            stem.with_suffix(".input").write_bytes(data)
            stem.with_suffix(".txt").write_text(traceback.format_exc())

    while time.monotonic() < deadline:
        try:
            fuzz()
        except BaseException:
            # the budget ends a run by raising _Budget, which hypothesis reports (possibly
            # wrapped in an exception group); failures of the target were recorded above
            if time.monotonic() > deadline:
                break
            raise
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0, help="budget per target")
    parser.add_argument("--targets", default=",".join(TARGETS))
    args = parser.parse_args()
    failures = Path(__file__).resolve().parent / "fuzz_failures"
    for name in args.targets.split(","):
        started = time.monotonic()
        counts = run_target(name, args.minutes * 60, failures)
        print(f"{name}: {counts['cases']} cases in {time.monotonic() - started:.0f} s, "
              f"{counts['failures']} outside the project's error types", flush=True)


if __name__ == "__main__":
    main()
