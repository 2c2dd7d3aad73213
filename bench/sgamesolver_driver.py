"""Run sgamesolver's QRE homotopy on one game stored as ``.npz``; write its strategies as ``.npz``.

Usage (in a virtual environment where sgamesolver is installed; it needs ``numpy < 2``, so it
cannot share the package's environment)::

    python bench/sgamesolver_driver.py GAME.npz OUT.npz [CONVERGENCE_TOL]

``GAME.npz`` holds ``transitions`` ``(S, n_1, ..., n_N, S)``, ``rewards`` ``(N, S, n_1, ...,
n_N)`` and ``discount`` (the neutral format written by ``bench/bench_stochastic.py``).
``OUT.npz`` receives ``strategies`` ``(S, N, max n)`` as sgamesolver reports them (the last
point of its path when it found no equilibrium), ``success`` (whether sgamesolver reports an
equilibrium), ``wall_s`` and ``cpu_s`` of the solve (set-up included) and ``setup_s``.
``CONVERGENCE_TOL`` replaces sgamesolver's default stopping criterion (``convergence_tol``
1e-7: the change of the strategies along the path per unit of its parameter). This script imports neither gametools nor anything outside sgamesolver and NumPy:
the caller certifies the strategies with its own exact evaluator.
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np


def main() -> None:
    game_path, out_path = sys.argv[1], sys.argv[2]
    convergence_tol = float(sys.argv[3]) if len(sys.argv) > 3 else None
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
    if convergence_tol is not None:
        qre.solver.convergence_tol = convergence_tol
    setup = time.perf_counter() - wall
    qre.solve()  # stores qre.equilibrium when the path converged
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    success = qre.equilibrium is not None
    if success:
        strategies = np.asarray(qre.equilibrium.strategies, dtype=float)
    else:
        strategies = np.asarray(qre.y_to_sigma_V_t(qre.solver.y)[0], dtype=float)
    temporary = out_path + ".tmp.npz"
    np.savez(temporary, strategies=strategies, success=success, wall_s=wall, cpu_s=cpu,
             setup_s=setup)
    os.replace(temporary, out_path)


if __name__ == "__main__":
    main()
