"""Extensive-form games: exact NashConv and CFR speed against OpenSpiel, in the same run.

Usage::

    python bench/bench_extensive.py            # quick: Kuhn, Leduc, goofspiel 4
    python bench/bench_extensive.py --full     # adds goofspiel 5 and Liar's dice (minutes)
    python bench/bench_extensive.py --big-only # the large game OpenSpiel cannot finish (--big:
                                               # after the other rows)

For every game, each measurement runs in a fresh subprocess so that peak memory (resident set
size above the process's size after imports and game loading) is its own:

- ``ours``: :func:`gametools.extensive.nash_conv` of the uniform profile on the tree unrolled
  by :func:`~gametools.interop.openspiel.extensive_from_openspiel` (``unroll_s`` is the one-off
  tree walk, ``first_s`` the first evaluation, which also builds the game's sequence tables
  once, ``seconds`` a repeated evaluation of another profile on the same game);
- ``openspiel-python``: ``open_spiel.python.algorithms.exploitability.nash_conv`` (Python
  best response, which walks every history);
- ``openspiel-cpp``: ``pyspiel.nash_conv`` (C++ ``TabularBestResponse``) on the tabular
  uniform policy.

CFR+: iterations per second (wall and CPU) of :func:`gametools.extensive.cfr.cfr_iterations`
against OpenSpiel's C++ ``pyspiel.CFRPlusSolver`` and Python ``CFRPlusSolver`` (identical
iterates), after a warm-up iteration each, in one subprocess per game: ours as the compiled loop
over a batch of iterations, the same loop called once per iteration (as OpenSpiel's ``evaluate_and_update_policy``), and the NumPy
route; ``first_s`` is our first call (importing numba and loading the kernel from its on-disk
cache, or compiling it when there is none). Every rate repeats its step until half a second of
wall time has passed.

Sequence form against Gambit (only when pygambit is importable; it is a benchmark peer, never a
dependency: ``pip install --pre pygambit==17.0.0b2``): the same tree, written by
:func:`gametools.formats.efg.format_efg` and read by ``pygambit.read_efg``, solved by
:func:`gametools.extensive.solve.sequence_form_lp` (HiGHS, then an exact certificate;
``solve_s`` is the LP alone, ``seconds`` includes the certificate)
against ``pygambit.nash.lp_solve`` (floating point and rational), and by
:func:`gametools.extensive.lcp.sequence_form_lcp` (exact Lemke) against
``pygambit.nash.lcp_solve`` (floating point and rational). Each row runs in its own
subprocess with a time limit; it reports the first player's equilibrium payoff and the
solver's own regret measure (ours: exact NashConv; Gambit: ``max_regret``).

Opt-in large rows (``--big``): a game whose tree OpenSpiel's best responses cannot evaluate
in 10 minutes of CPU time (by default goofspiel with 7 cards in descending point order, 5
rounds: 9.4 million tree nodes). Each implementation runs once in a fresh process and reports
the whole job, loading included: ours unrolls the tree and evaluates NashConv (peak memory is
the process's maximum resident set, ``getrusage``); OpenSpiel's Python
``exploitability.nash_conv`` and C++ ``pyspiel.nash_conv`` run under a CPU-time limit
(``--big-cpu``, default 600 s, so that a loaded machine does not decide the outcome), an
address-space cap (``--memory-cap``, default 6 GB, so that they cannot take a shared machine
down) and a wall-clock limit (``--big-wall``); a row says how each ended (finished, CPU limit,
out of memory under the cap, wall-clock limit), with the CPU seconds, peak memory and the load
average before and after. ``--big-games`` takes several games (the smaller member
``goofspiel(num_cards=7,points_order=descending,num_turns=4)``, 937k nodes, is where OpenSpiel
finishes and the values are compared); ``--big-impls`` picks and orders the implementations.

Timings depend on the machine and its load: compare rows of the same run only.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from typing import Any

QUICK_GAMES = ["kuhn_poker", "leduc_poker", "goofspiel(num_cards=4)",
               "goofspiel(num_cards=4,imp_info=True)"]
FULL_GAMES = QUICK_GAMES + ["goofspiel(num_cards=5,points_order=descending)",
                            "liars_dice(numdice=1,dice_sides=4)"]
CFR_GAMES = {"kuhn_poker": 2000, "leduc_poker": 20}
#: ``--big``: goofspiel with 7 cards in descending point order, stopped after 5 of its 6 rounds:
#: 9,404,235 tree nodes (simultaneous moves split into the two players' decisions), 6,350,400
#: terminal histories. Its smaller member with 4 rounds (937,035 nodes) is where OpenSpiel
#: finishes and the values are compared (``--big-games`` takes both)
BIG_GAMES = ["goofspiel(num_cards=7,points_order=descending,num_turns=5)"]
BIG_IMPLEMENTATIONS = ("ours", "openspiel-cpp", "openspiel-python")
#: (game, implementations) of the sequence-form comparison with pygambit; quick mode runs the
#: first entry only. Our exact LCP on Leduc (a dense rational tableau) is left out: minutes.
GAMBIT_GAMES = [
    ("kuhn_poker", ("ours-lp", "gambit-lp-float", "gambit-lp-rational", "ours-lcp",
                    "gambit-lcp-float", "gambit-lcp-rational")),
    ("first_sealed_auction(max_value=3)", ("ours-lcp", "gambit-lcp-float",
                                           "gambit-lcp-rational")),
    ("leduc_poker", ("ours-lp", "gambit-lp-float", "gambit-lp-rational")),
]


def _rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        pages = int(handle.read().split()[1])
    return pages * resource.getpagesize() / 2 ** 20


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _per_call(call: Any, min_seconds: float = 0.2) -> tuple[float, float]:
    """Wall and CPU seconds per call of ``call()``, repeated until ``min_seconds`` of wall time
    have passed, at least 3 times unless the first call took ``min_seconds`` already."""
    wall, cpu = time.perf_counter(), time.process_time()
    repeats, first = 0, 0.0
    while True:
        call()
        repeats += 1
        elapsed = time.perf_counter() - wall
        first = first or elapsed
        if elapsed >= min_seconds and (repeats >= 3 or first >= min_seconds):
            break
    return elapsed / repeats, (time.process_time() - cpu) / repeats


def measure(implementation: str, name: str) -> dict[str, Any]:
    """One measurement (run in a subprocess by :func:`main`)."""
    import pyspiel
    from open_spiel.python import policy as os_policy

    game = pyspiel.load_game(name)
    out: dict[str, Any] = {"game": name, "implementation": implementation}
    if implementation == "ours":
        from gametools.extensive import nash_conv
        from gametools.interop.openspiel import extensive_from_openspiel

        base = _rss_mb()
        start = time.perf_counter()
        tree = extensive_from_openspiel(game)
        out["unroll_s"] = time.perf_counter() - start
        start = time.perf_counter()
        value = nash_conv(tree.game, tree.game.uniform_profile()).nash_conv
        out["first_nash_conv_s"] = time.perf_counter() - start  # builds the sequence tables
        profile = tree.game.uniform_profile()
        out["nash_conv_s"], out["nash_conv_cpu_s"] = _per_call(
            lambda: nash_conv(tree.game, profile))
        out["nodes"] = tree.game.num_nodes
    elif implementation == "openspiel-python":
        from open_spiel.python.algorithms import exploitability

        base = _rss_mb()
        uniform = os_policy.UniformRandomPolicy(game)
        value = 0.0

        def python_nash_conv() -> None:
            nonlocal value
            value = exploitability.nash_conv(game, uniform)

        out["nash_conv_s"], out["nash_conv_cpu_s"] = _per_call(python_nash_conv)
    else:
        if game.get_type().dynamics == pyspiel.GameType.Dynamics.SIMULTANEOUS:
            # the C++ best response handles turn-based games only; OpenSpiel's own conversion
            game = pyspiel.convert_to_turn_based(game)
            out["note"] = "convert_to_turn_based"
        tabular = os_policy.python_policy_to_pyspiel_policy(os_policy.TabularPolicy(game))
        base = _rss_mb()
        value = 0.0

        def cpp_nash_conv() -> None:
            nonlocal value
            value = pyspiel.nash_conv(game, tabular)

        out["nash_conv_s"], out["nash_conv_cpu_s"] = _per_call(cpp_nash_conv)
    out["nash_conv"] = float(value)
    out["peak_mb"] = max(0.0, _peak_mb() - base)
    return out


def measure_big(implementation: str, name: str) -> dict[str, Any]:
    """One whole NashConv job of the uniform profile, loading included (run in a fresh
    process by :func:`big_table`, which reads its peak memory and CPU time)."""
    import pyspiel
    from open_spiel.python import policy as os_policy

    out: dict[str, Any] = {"game": name, "implementation": implementation}
    game = pyspiel.load_game(name)
    wall, cpu = time.perf_counter(), time.process_time()
    if implementation == "ours":
        from gametools.extensive import nash_conv
        from gametools.interop.openspiel import extensive_from_openspiel

        tree = extensive_from_openspiel(game, max_nodes=50_000_000)
        out["unroll_s"], out["unroll_cpu_s"] = (time.perf_counter() - wall,
                                                time.process_time() - cpu)
        out["nodes"] = int(tree.game.num_nodes)
        start, start_cpu = time.perf_counter(), time.process_time()
        value = nash_conv(tree.game, tree.game.uniform_profile()).nash_conv
        out["nash_conv_s"], out["nash_conv_cpu_s"] = (time.perf_counter() - start,
                                                      time.process_time() - start_cpu)
    elif implementation == "openspiel-python":
        from open_spiel.python.algorithms import exploitability

        value = exploitability.nash_conv(game, os_policy.UniformRandomPolicy(game))
    else:
        if game.get_type().dynamics == pyspiel.GameType.Dynamics.SIMULTANEOUS:
            game = pyspiel.convert_to_turn_based(game)
        tabular = os_policy.python_policy_to_pyspiel_policy(os_policy.TabularPolicy(game))
        value = pyspiel.nash_conv(game, tabular)
    out["total_s"], out["total_cpu_s"] = time.perf_counter() - wall, time.process_time() - cpu
    out["nash_conv"] = float(value)
    return out


def _limited_subprocess(implementation: str, name: str, cpu_s: float | None,
                        memory_bytes: int | None, wall_s: float) -> dict[str, Any]:
    """Run ``--one big-IMPLEMENTATION NAME`` under CPU and address-space limits; its CPU time
    and peak resident set come from ``wait4`` (also when it was killed)."""
    import signal
    import tempfile

    def limits() -> None:
        if cpu_s is not None:
            resource.setrlimit(resource.RLIMIT_CPU, (int(cpu_s), int(cpu_s) + 5))
        if memory_bytes is not None:
            resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))

    row: dict[str, Any] = {"game": name, "implementation": implementation}
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        # preexec_fn is safe here: this process runs no threads
        child = subprocess.Popen([sys.executable, __file__, "--one", "big-" + implementation,
                                  name], stdout=out, stderr=err,
                                 preexec_fn=limits)  # noqa: PLW1509
        while True:
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() - start > wall_s:
                child.kill()
                pid, status, usage = os.wait4(child.pid, 0)
                row["ended"] = f"wall-clock limit {wall_s:.0f} s"
                break
            time.sleep(0.5)
        child.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        row["wall_s"] = time.perf_counter() - start
        row["cpu_s"] = usage.ru_utime + usage.ru_stime
        row["peak_mb"] = usage.ru_maxrss / 1024
        out.seek(0)
        err.seek(0)
        lines = out.read().strip().splitlines()
        error = err.read()
    if "ended" in row:
        return row
    if status and ("MemoryError" in error or "bad_alloc" in error):
        # Python's MemoryError, or C++'s std::bad_alloc (uncaught: SIGABRT)
        row["ended"] = f"out of memory under the {(memory_bytes or 0) / 1e9:.1f} GB cap"
    elif os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        last = (error.strip().splitlines() or [""])[-1][:60]
        # OpenSpiel's C++ best response has been seen to abort with "free(): double free"
        # when an allocation fails under the address-space cap
        row["ended"] = (f"CPU-time limit {cpu_s:.0f} s" if number == signal.SIGXCPU
                        else f"killed by {signal.Signals(number).name} {last!r} (address-space "
                        f"cap {(memory_bytes or 0) / 1e9:.1f} GB)")
    elif os.WEXITSTATUS(status) != 0:
        row["ended"] = "failed: " + (error.strip().splitlines() or ["?"])[-1][:80]
    else:
        row.update(json.loads(lines[-1]))
        row["ended"] = "finished"
    return row


def big_table(games: list[str], cpu_s: float, memory_gb: float,
              implementations: tuple[str, ...] = BIG_IMPLEMENTATIONS,
              wall_s: float | None = None) -> None:
    """Print the ``--big`` rows: ours without limits beyond the machine's, OpenSpiel's under
    ``cpu_s`` CPU seconds and ``memory_gb`` of address space each (one after the other, with
    the load average before and after each run)."""
    print()
    print(f"{'big game':26s} {'impl':17s} {'NashConv':>20s} {'wall_s':>8s} {'cpu_s':>8s} "
          f"{'peak MB':>8s} {'load':>9s}  ended")
    for name in games:
        rows = []
        for implementation in implementations:
            before = os.getloadavg()[0]
            if implementation == "ours":
                row = _limited_subprocess("ours", name, None, None, 4 * 3600)
            else:
                row = _limited_subprocess(implementation, name, cpu_s, int(memory_gb * 1e9),
                                          wall_s or max(4 * cpu_s, 1800.0))
            row["load"] = f"{before:.1f}-{os.getloadavg()[0]:.1f}"
            rows.append(row)
            value = f"{row['nash_conv']:.15f}" if "nash_conv" in row else "-"
            print(f"{name:26s} {row['implementation']:17s} {value:>20s} {row['wall_s']:8.1f} "
                  f"{row['cpu_s']:8.1f} {row['peak_mb']:8.0f} {row['load']:>9s}  "
                  f"{row['ended']}", flush=True)
        if not rows or rows[0]["implementation"] != "ours":
            continue
        ours = rows[0]
        if "nodes" in ours:
            print(f"  ours: {ours['nodes']} nodes; unrolling {ours['unroll_s']:.1f} s "
                  f"({ours['unroll_cpu_s']:.1f} CPU-s), NashConv {ours['nash_conv_s']:.2f} s "
                  f"({ours['nash_conv_cpu_s']:.2f} CPU-s)")
        for row in rows[1:]:
            if "nash_conv" in row and "nash_conv" in ours:
                print(f"  |{row['implementation']} - ours| = "
                      f"{abs(row['nash_conv'] - ours['nash_conv']):.1e}")


def measure_sequence_form(implementation: str, name: str) -> dict[str, Any]:
    """One sequence-form solve, ours or Gambit's (run in a subprocess by :func:`main`)."""
    import io

    from gametools.interop.openspiel import extensive_from_openspiel

    tree = extensive_from_openspiel(name).game
    sequences = sum(1 + sum(len(tree.action_labels[k]) for k in tree.player_infosets(i))
                    for i in range(tree.num_players))
    out: dict[str, Any] = {"game": name, "implementation": implementation,
                           "sequences": int(sequences)}
    if implementation.startswith("ours"):
        from gametools.extensive import nash_conv
        from gametools.extensive.lcp import sequence_form_lcp
        from gametools.extensive.solve import sequence_form_lp

        solver = sequence_form_lp if implementation == "ours-lp" else sequence_form_lcp
        start = time.perf_counter()
        result = solver(tree)
        out["seconds"] = time.perf_counter() - start
        # the solve alone, without the exact certificate (rational arithmetic) that follows it
        out["solve_s"] = float(result.extra.get("seconds", out["seconds"]))
        out["payoff"] = float(result.equilibria[0].payoffs[0]) if result.equilibria else None
        out["regret"] = float(nash_conv(tree, result.equilibria[0].strategies).nash_conv) \
            if result.equilibria else float("nan")
        out["exact"] = bool(result.exact)
        out["status"] = result.status
        return out
    import pygambit as gbt

    from gametools.formats.efg import format_efg

    game = gbt.read_efg(io.StringIO(format_efg(tree)))
    rational = implementation.endswith("rational")
    start = time.perf_counter()
    if "-lp-" in implementation:
        equilibrium = gbt.nash.lp_solve(game, rational=rational).equilibrium
    else:
        equilibrium = gbt.nash.lcp_solve(game, rational=rational).equilibrium
    out["seconds"] = time.perf_counter() - start
    out["payoff"] = float(next(iter(equilibrium.payoffs))[1])  # (label, payoff) pairs
    out["regret"] = float(equilibrium.max_regret())
    out["exact"] = rational
    out["status"] = "success"
    return out


def _rate(step: Any, iterations: int, min_seconds: float = 0.5) -> tuple[float, float]:
    """Iterations per wall second and per CPU second of ``step(iterations)``, repeated until
    ``min_seconds`` of wall time have passed (a loaded machine makes short runs noisy)."""
    wall, cpu = time.perf_counter(), time.process_time()
    done = 0
    while done == 0 or time.perf_counter() - wall < min_seconds:
        step(iterations)
        done += iterations
    return (done / (time.perf_counter() - wall), done / max(time.process_time() - cpu, 1e-9))


def cfr_speed(name: str, iterations: int) -> dict[str, Any]:
    """CFR+ iterations per second, ours and OpenSpiel's, in one process (run by :func:`main`
    in a subprocess, so that ``first_s`` includes loading the compiled kernel)."""
    import pyspiel
    from open_spiel.python.algorithms import cfr as os_cfr

    from gametools.extensive.cfr import cfr_iterations, new_state
    from gametools.interop.openspiel import extensive_from_openspiel

    game = pyspiel.load_game(name)
    tree = extensive_from_openspiel(game).game
    out: dict[str, Any] = {"game": name, "iterations": iterations}
    state = new_state(tree)
    start = time.perf_counter()
    cfr_iterations(tree, state, 1, compiled=True)
    out["first_s"] = time.perf_counter() - start  # imports numba, loads (or compiles) the kernel

    def batch(n: int) -> None:
        cfr_iterations(tree, state, n, compiled=True)

    def one_per_call(n: int) -> None:
        for _ in range(n):
            cfr_iterations(tree, state, 1, compiled=True)

    numpy_state = new_state(tree)
    cfr_iterations(tree, numpy_state, 1, compiled=False)

    def numpy_route(n: int) -> None:
        cfr_iterations(tree, numpy_state, n, compiled=False)

    cpp = pyspiel.CFRPlusSolver(game)
    cpp.evaluate_and_update_policy()

    def openspiel_cpp(n: int) -> None:
        for _ in range(n):
            cpp.evaluate_and_update_policy()

    python = os_cfr.CFRPlusSolver(game)
    python.evaluate_and_update_policy()

    def openspiel_python(n: int) -> None:
        for _ in range(n):
            python.evaluate_and_update_policy()

    for key, step, count in (("ours", batch, iterations),
                             ("ours_one_per_call", one_per_call, iterations),
                             ("ours_numpy", numpy_route, iterations),
                             ("openspiel_cpp", openspiel_cpp, iterations),
                             ("openspiel_python", openspiel_python, 1)):
        out[key + "_it_s"], out[key + "_cpu_it_s"] = _rate(step, count)
    return out


def _cfr_subprocess(name: str, iterations: int, timeout: float) -> dict[str, Any]:
    return _subprocess("cfr", f"{name}@{iterations}", timeout)


def _subprocess(implementation: str, name: str, timeout: float) -> dict[str, Any]:
    command = [sys.executable, __file__, "--one", implementation, name]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                              check=True)
    except subprocess.TimeoutExpired:
        return {"game": name, "implementation": implementation, "timeout_s": timeout}
    except subprocess.CalledProcessError as exc:
        last = (exc.stderr or "").strip().splitlines()
        return {"game": name, "implementation": implementation,
                "error": last[-1] if last else f"exit {exc.returncode}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true")
    parser.add_argument("--timeout", type=float, default=600.0,
                        help="seconds per OpenSpiel measurement before giving up")
    parser.add_argument("--big", action="store_true",
                        help="add the large game(s) OpenSpiel cannot finish (tens of minutes)")
    parser.add_argument("--big-only", action="store_true", help="only the --big rows")
    parser.add_argument("--big-cpu", type=float, default=600.0,
                        help="CPU seconds allowed to each OpenSpiel run of --big")
    parser.add_argument("--big-games", default=";".join(BIG_GAMES),
                        help="the --big games, separated by ';' (default: %(default)s)")
    parser.add_argument("--memory-cap", type=float, default=6.0,
                        help="GB of address space allowed to each OpenSpiel run of --big")
    parser.add_argument("--big-wall", type=float, default=None,
                        help="wall-clock seconds allowed to each OpenSpiel run of --big "
                        "(default: 4x --big-cpu, at least 1800; raise it on a loaded machine so "
                        "that the CPU-time limit decides)")
    parser.add_argument("--big-impls", default=",".join(BIG_IMPLEMENTATIONS),
                        help="the --big implementations, in order (default: %(default)s)")
    parser.add_argument("--one", nargs=2, metavar=("IMPLEMENTATION", "GAME"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        implementation, name = args.one
        if implementation == "cfr":
            game, _, count = name.rpartition("@")
            print(json.dumps(cfr_speed(game, int(count))))
            return 0
        if implementation.startswith("big-"):
            print(json.dumps(measure_big(implementation[4:], name)))
            return 0
        one = measure_sequence_form if implementation.split("-")[0] in ("gambit", "ours") \
            and implementation != "ours" else measure
        print(json.dumps(one(implementation, name)))
        return 0
    big_games = [name for name in args.big_games.split(";") if name]
    big_impls = tuple(name for name in args.big_impls.split(",") if name)
    unknown = sorted(set(big_impls) - set(BIG_IMPLEMENTATIONS))
    if unknown:
        parser.error(f"unknown --big-impls {unknown}; choose from {BIG_IMPLEMENTATIONS}")
    if args.big_only:
        big_table(big_games, args.big_cpu, args.memory_cap, big_impls, args.big_wall)
        return 0
    games = FULL_GAMES if args.full else QUICK_GAMES
    print(f"{'game':40s} {'impl':17s} {'NashConv':>14s} {'wall_s':>9s} {'cpu_s':>9s} "
          f"{'unroll_s':>9s} {'first_s':>9s} {'peak MB':>8s}")
    for name in games:
        rows = [_subprocess(impl, name, args.timeout)
                for impl in ("ours", "openspiel-cpp", "openspiel-python")]
        for row in rows:
            if "error" in row:
                print(f"{name:40s} {row['implementation']:17s} failed: {row['error'][:60]}")
                continue
            if "timeout_s" in row:
                print(f"{name:40s} {row['implementation']:17s} {'(timeout)':>14s} "
                      f">{row['timeout_s']:.0f}")
                continue
            print(f"{name:40s} {row['implementation']:17s} {row['nash_conv']:14.10f} "
                  f"{row['nash_conv_s']:9.5f} {row['nash_conv_cpu_s']:9.5f} "
                  f"{row.get('unroll_s', float('nan')):9.3f} "
                  f"{row.get('first_nash_conv_s', float('nan')):9.4f} {row['peak_mb']:8.1f}")
        ours = rows[0]
        for row in rows[1:]:
            if "nash_conv_s" in row and "nash_conv_s" in ours:
                print(f"  {row['implementation']} / ours NashConv time: wall "
                      f"{row['nash_conv_s'] / ours['nash_conv_s']:.1f}x, CPU "
                      f"{row['nash_conv_cpu_s'] / max(ours['nash_conv_cpu_s'], 1e-9):.1f}x   "
                      f"|difference| {abs(row['nash_conv'] - ours['nash_conv']):.1e}")
    print()
    print("CFR+ iterations per second, wall (CPU); ours: compiled loop over a batch of iterations, "
          "one iteration per call, NumPy route")
    print(f"{'CFR+ game':12s} {'ours':>18s} {'ours 1/call':>18s} {'ours NumPy':>16s} "
          f"{'OS C++':>16s} {'OS Python':>14s} {'first_s':>8s}  ours/C++ (wall, CPU)")
    for name, iterations in CFR_GAMES.items():
        row = _cfr_subprocess(name, iterations if args.full else max(2, iterations // 4),
                              args.timeout)
        if "error" in row:
            print(f"{name:12s} failed: {row['error'][:80]}")
            continue
        print(f"{name:12s} {_rate_cell(row, 'ours', 18)} "
              f"{_rate_cell(row, 'ours_one_per_call', 18)} {_rate_cell(row, 'ours_numpy', 16)} "
              f"{_rate_cell(row, 'openspiel_cpp', 16)} "
              f"{_rate_cell(row, 'openspiel_python', 14)} {row['first_s']:8.2f}  "
              f"{row['ours_it_s'] / row['openspiel_cpp_it_s']:.1f}x, "
              f"{row['ours_cpu_it_s'] / row['openspiel_cpp_cpu_it_s']:.1f}x")
    gambit_table(GAMBIT_GAMES if args.full else GAMBIT_GAMES[:1], args.timeout)
    if args.big:
        big_table(big_games, args.big_cpu, args.memory_cap, big_impls, args.big_wall)
    return 0


def _rate_cell(row: dict[str, Any], key: str, width: int) -> str:
    return f"{row[key + '_it_s']:.0f} ({row[key + '_cpu_it_s']:.0f})".rjust(width)


def gambit_table(games: list[tuple[str, tuple[str, ...]]], timeout: float) -> None:
    """Print the sequence-form comparison with pygambit (nothing when it is not installed)."""
    import importlib.util

    print()
    if importlib.util.find_spec("pygambit") is None:
        print("sequence form vs Gambit: skipped (pygambit not installed)")
        return
    print(f"{'sequence form game':36s} {'impl':20s} {'seconds':>9s} {'solve_s':>9s} "
          f"{'payoff P1':>14s} {'regret':>9s} exact")
    for name, implementations in games:
        for implementation in implementations:
            row = _subprocess(implementation, name, timeout)
            if "error" in row:
                print(f"{name:36s} {implementation:20s} failed: {row['error'][:60]}")
            elif "timeout_s" in row:
                print(f"{name:36s} {implementation:20s} >{row['timeout_s']:.0f} s (timeout)")
            else:
                payoff = row["payoff"]
                print(f"{name:36s} {implementation:20s} {row['seconds']:9.3f} "
                      f"{row.get('solve_s', row['seconds']):9.3f} "
                      f"{payoff if payoff is not None else float('nan'):14.10f} "
                      f"{row['regret']:9.1e} {row['exact']}")


if __name__ == "__main__":
    sys.exit(main())
