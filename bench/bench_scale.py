"""NashConv of large sparse discounted games: time and peak memory against the number of states.

The game (issue 12 item 7): 2 players, 4 x 4 actions, 10 random successors per (state, joint
action) with probability 1/10 each, standard normal rewards, discount 0.95, the uniform
profile. Sizes 10^4, 10^5 and 10^6 states (10^6 only without ``--quick``). The transitions are
built as the user would hand them over (``float64`` probabilities, ``int32`` indices) and, with
``--compact``, also in compact storage (``float32`` probabilities on the ``2**-24`` grid, as
:func:`gametools.model.compact_transitions` makes them: nine entries ``1677722 / 2**24`` and one
``1677718 / 2**24``, so each row sums to 1 exactly; a slightly different game, whose NashConv is
printed beside).

Each size runs in a fresh process so its peak resident memory (``getrusage``'s ``ru_maxrss``:
the caller's matrix, the game's validated private copy and ``nash_conv`` together) is its own;
``+GB`` is the peak of the arrays ``nash_conv`` itself allocates (``tracemalloc``, which NumPy
reports to), on top of the game. CPU time is printed beside wall time because the machine may be
shared (the load average is printed too); the log-log slopes of both against the number of
states are printed last. Imports and the compiled kernels' first load are warmed up on a
two-state game and not timed. At the smallest size (at most 10^5) the formed-chain path (dense
or sparse factorisations on the explicit policy chain) runs too, as the peer of the matrix-free
path, and the two NashConvs must agree within the sum of their tolerances.

With ``--device DEVICE`` (``cpu``, ``cuda``, ...) every matrix-free run is repeated through
``nash_conv(..., device=DEVICE)``: the passes over the transition matrix on torch sparse CSR
tensors (torch limited to one thread, like the compiled kernels), beside the compiled (numba)
kernels in the same run; the ratio of the two and, on a GPU, the device's peak memory
(``torch.cuda.max_memory_allocated``) are printed too. Both NashConvs must agree within the sum
of their tolerances.

Usage::

    python bench/bench_scale.py [--quick] [--compact] [--sizes 1e4,1e5] [--device cpu]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import tracemalloc

import numpy as np


def _worker(num_states: int, matrix_free: bool, compact: bool, device: str | None
            ) -> dict[str, float]:
    import scipy.sparse as sp

    import gametools.exploitability as exploitability
    from gametools import MarkovGame
    from gametools.exploitability import nash_conv

    exploitability.MATRIX_FREE_STATE_LIMIT = 0 if matrix_free else 10**12
    n, successors = 4, 10
    joint = n * n
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    entries = num_states * joint * successors
    columns = rng.integers(0, num_states, size=entries, dtype=np.int32)
    # int32 like the columns: scipy widens both index arrays to int64 when one of them is
    indptr = np.arange(0, entries + 1, successors, dtype=np.int32)
    if compact:  # the 2**-24 grid: 9 * 1677722 + 1677718 = 2**24, each row sums to 1 exactly
        probabilities = np.full(entries, 1677722 / 2**24, dtype=np.float32)
        probabilities[successors - 1::successors] = 1677718 / 2**24
    else:
        probabilities = np.full(entries, 1.0 / successors)
    matrix = sp.csr_array((probabilities, columns, indptr),
                          shape=(num_states * joint, num_states))
    rewards = rng.standard_normal((2, num_states, n, n))
    initial = np.zeros(num_states)
    initial[0] = 1.0
    game = MarkovGame(matrix, rewards, initial, 0.95)  # validates a private copy
    del matrix, columns, indptr, probabilities
    built = time.perf_counter() - start
    stored = game.transition_matrix
    game_bytes = (stored.data.nbytes + stored.indices.nbytes + stored.indptr.nbytes
                  + game.rewards.nbytes)
    profile = [np.full((num_states, n), 1.0 / n)] * 2
    # warm-up on a tiny game stored alike: imports and the compiled kernels' first load (one
    # per storage type) are not timed
    tiny = MarkovGame(sp.csr_array(np.full((2 * joint, 2), 0.5, dtype=stored.dtype)),
                      np.zeros((2, 2, n, n)), [1.0, 0.0], 0.5)
    limit = exploitability.MATRIX_FREE_STATE_LIMIT
    exploitability.MATRIX_FREE_STATE_LIMIT = 0 if matrix_free else 10**12
    cuda = False
    if device is not None:
        import torch

        torch.set_num_threads(1)
        cuda = torch.device(device).type == "cuda"
    nash_conv(tiny, [np.full((2, n), 1.0 / n)] * 2, device=device)
    exploitability.MATRIX_FREE_STATE_LIMIT = limit
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    wall, cpu = time.perf_counter(), time.process_time()
    result = nash_conv(game, profile, device=device)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    extra = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    device_gb = torch.cuda.max_memory_allocated() / 1e9 if cuda else 0.0
    return {"states": num_states, "matrix_free": matrix_free, "compact": compact,
            "device": device or "", "build_s": built, "wall_s": wall,
            "cpu_s": cpu, "peak_rss_gb": peak / 1e6, "rss_before_gb": before / 1e6,
            "extra_gb": extra / 1e9, "game_gb": game_bytes / 1e9, "device_gb": device_gb,
            "nash_conv": result.nash_conv, "tolerance": result.tolerance}


def _run(num_states: int, matrix_free: bool, compact: bool, device: str | None
         ) -> dict[str, float]:
    command = [sys.executable, __file__, "--worker", str(num_states),
               "1" if matrix_free else "0", "1" if compact else "0", device or "-"]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"worker for {num_states} states failed: {done.stderr.strip()[-400:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10^4 and 10^5 states only")
    parser.add_argument("--sizes", help="comma-separated state counts (overrides --quick)")
    parser.add_argument("--compact", action="store_true",
                        help="also run every size with float32 probabilities")
    parser.add_argument("--device",
                        help="also run every matrix-free size through nash_conv(device=DEVICE) "
                             "(torch: cpu, cuda, ...)")
    parser.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(_worker(int(args.worker[0]), args.worker[1] == "1",
                                 args.worker[2] == "1",
                                 None if args.worker[3] == "-" else args.worker[3])))
        return 0
    if args.sizes:
        try:
            sizes = [int(float(x)) for x in args.sizes.split(",")]
        except ValueError:
            print("bench_scale: --sizes must be numbers like 1e4,1e5", file=sys.stderr)
            return 2
    else:
        sizes = [10**4, 10**5] if args.quick else [10**4, 10**5, 10**6]
    print(f"load average at start: {os.getloadavg()}  cores: {os.cpu_count()}")
    header = (f"{'states':>9} {'path':>12} {'storage':>8} {'build s':>8} {'wall s':>8} "
              f"{'cpu s':>8} {'peak GB':>8} {'+GB':>6} {'game GB':>8} {'dev GB':>6} "
              f"{'NashConv':>12} {'tolerance':>10}")
    print(header)
    rows = []
    storages = [False, True] if args.compact else [False]
    for num_states in sizes:
        # the formed-chain peer only at the smallest size, and never past 10^5 states (at 10^6
        # its policy chain alone needs more than 15 GB)
        paths = [True, False] if num_states == sizes[0] and num_states <= 10**5 else [True]
        for matrix_free in paths:
            for compact in storages if matrix_free else [False]:
                for device in ([None, args.device] if matrix_free and args.device else [None]):
                    row = _run(num_states, matrix_free, compact, device)
                    rows.append(row)
                    path = (f"torch:{device}" if device
                            else "matrix-free" if matrix_free else "formed")
                    print(f"{row['states']:>9} {path:>12} "
                          f"{'float32' if compact else 'float64':>8} "
                          f"{row['build_s']:8.2f} {row['wall_s']:8.2f} {row['cpu_s']:8.2f} "
                          f"{row['peak_rss_gb']:8.2f} {row['extra_gb']:6.2f} "
                          f"{row['game_gb']:8.2f} {row['device_gb']:6.2f} "
                          f"{row['nash_conv']:12.9g} {row['tolerance']:10.2g}", flush=True)
                    if device:
                        peer = rows[-2]
                        difference = abs(row["nash_conv"] - peer["nash_conv"])
                        bound = row["tolerance"] + peer["tolerance"]
                        print(f"{'':>9} torch:{device} / compiled: wall "
                              f"{row['wall_s'] / peer['wall_s']:.2f}, cpu "
                              f"{row['cpu_s'] / peer['cpu_s']:.2f}; |NashConv difference| "
                              f"{difference:.2g}: "
                              f"{'agree' if difference <= bound else 'DISAGREE'}", flush=True)
    for device in [None, args.device] if args.device else [None]:
        for compact in storages:
            free = [r for r in rows if r["matrix_free"] and r["compact"] == compact
                    and r["device"] == (device or "")]
            if len(free) >= 2:
                x = np.log([r["states"] for r in free])
                slopes = [f"{key} {float(np.polyfit(x, np.log([r[key] for r in free]), 1)[0]):.2f}"
                          for key in ("cpu_s", "wall_s", "peak_rss_gb", "extra_gb")]
                print(f"log-log slope against states ({f'torch:{device}' if device else 'compiled'}"
                      f", {'float32' if compact else 'float64'}, "
                      f"{free[0]['states']}-{free[-1]['states']}): " + ", ".join(slopes))
    formed = [r for r in rows if not r["matrix_free"]]
    if formed:
        same = next(r for r in rows if r["matrix_free"] and not r["compact"]
                    and not r["device"] and r["states"] == formed[0]["states"])
        difference = abs(same["nash_conv"] - formed[0]["nash_conv"])
        bound = same["tolerance"] + formed[0]["tolerance"]
        print(f"at {same['states']} states: matrix-free / formed wall time "
              f"{same['wall_s'] / formed[0]['wall_s']:.2f}, cpu time "
              f"{same['cpu_s'] / formed[0]['cpu_s']:.2f}; |NashConv difference| "
              f"{difference:.2g} (tolerances {same['tolerance']:.2g} + "
              f"{formed[0]['tolerance']:.2g}): {'agree' if difference <= bound else 'DISAGREE'}")
    print(f"load average at end: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
