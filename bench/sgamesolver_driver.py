"""Run sgamesolver's QRE homotopy on one game stored as ``.npz``; write its strategies as ``.npz``.

Usage (in a virtual environment where sgamesolver is installed; it needs ``numpy < 2``, so it
cannot share the package's environment)::

    python bench/sgamesolver_driver.py GAME.npz OUT.npz

``GAME.npz`` holds ``transitions`` ``(S, n_1, ..., n_N, S)``, ``rewards`` ``(N, S, n_1, ...,
n_N)`` and ``discount`` (the neutral format written by ``bench/bench_stochastic.py``).
``OUT.npz`` receives ``strategies`` ``(S, N, max n)`` as sgamesolver reports them, ``success``
(sgamesolver's own flag), ``wall_s`` and ``cpu_s`` of the solve (set-up included) and
``setup_s``. This script imports neither gametools nor anything outside sgamesolver and NumPy:
the caller certifies the strategies with its own exact evaluator.
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np


def main() -> None:
    game_path, out_path = sys.argv[1], sys.argv[2]
    import sgamesolver

    with np.load(game_path, allow_pickle=False) as data:
        transitions = np.asarray(data["transitions"], dtype=float)
        rewards = np.asarray(data["rewards"], dtype=float)
        discount = float(data["discount"])
    num_states = transitions.shape[0]
    wall, cpu = time.perf_counter(), time.process_time()
    game = sgamesolver.SGame([rewards[:, s] for s in range(num_states)],
                             [transitions[s] for s in range(num_states)], discount)
    qre = sgamesolver.homotopy.QRE(game)
    qre.solver_setup()
    qre.solver.verbose = 0
    setup = time.perf_counter() - wall
    outcome = qre.solve()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    success = bool(outcome.get("success", False)) if isinstance(outcome, dict) else False
    strategies = np.asarray(qre.equilibrium.strategies, dtype=float)
    temporary = out_path + ".tmp.npz"
    np.savez(temporary, strategies=strategies, success=success, wall_s=wall, cpu_s=cpu,
             setup_s=setup)
    os.replace(temporary, out_path)


if __name__ == "__main__":
    main()
