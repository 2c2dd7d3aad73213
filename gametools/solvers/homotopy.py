"""Stationary Markov perfect equilibria of discounted stochastic games by the logit QRE homotopy.

The same machinery also follows the logit tracing procedure from a prior
(:func:`markov_tracing`, see its docstring), the fallback of :func:`gametools.solvers.solve` when
the QRE path does not certify: another path to another (prior-selected) equilibrium.

Definitions
-----------
For a fully observed discounted Markov game, a stationary profile ``sigma`` (``sigma_i(s)`` on
the simplex of player ``i``'s actions in state ``s``) with values ``V_i(s)`` defines the
*continuation payoffs*

    Q_i(s, a_i) = E_{a_-i ~ sigma_-i(s)} [ r_i(s, a) + gamma * sum_s' P(s' | s, a) V_i(s') ].

A *logit Markov quantal response equilibrium* (Markov QRE) at precision ``lam >= 0`` solves, in
every state and for every player,

    sigma_i(s) = softmax(lam * Q_i(s, .)),        V_i(s) = sum_a sigma_i(s, a) Q_i(s, a).

At ``lam = 0`` it is unique: uniform policies, with values solving the linear system
``(I - gamma P_sigma) V_i = r_i^sigma``. For generic games the Markov QRE correspondence contains
a smooth curve from there whose limit as ``lam -> infinity`` is a stationary (Markov perfect)
equilibrium (Eibelshaeuser and Poensgen 2019; McKelvey and Palfrey 1995 for one state).

The curve is traced in ``y = (beta, V, lam)`` with ``beta = log sigma`` and the equations (per
state ``s`` and player ``i``)

    sum_a exp(beta_i(s, a)) - 1 = 0,
    beta_i(s, a) - beta_i(s, 0) - lam * (Q_i(s, a) - Q_i(s, 0)) = 0      (a >= 1),
    V_i(s) - sum_a exp(beta_i(s, a)) Q_i(s, a) = 0.

``lam`` itself is the path parameter: as ``lam`` grows the curve becomes a straight ray
(``beta`` of inferior actions falls linearly in ``lam``), so the step size grows geometrically
and large precisions are reached in few steps; progress is shown as the bounded
``t = lam / (1 + lam)`` (``lam`` relative to the reward range).

Numerics
--------
- The path is followed by the package's continuation engine
  (:func:`gametools.solvers._continuation.trace_path`, shared with the normal-form logit path):
  Euler predictor, chord-Newton corrector, step control, orientation by the sign of the
  bordered Jacobian's determinant, turning-point counts and branch switching at simple
  bifurcations. When the path does not reach a certified equilibrium (a collapsed step or
  ``max_iterations``: games with ties, e.g. integer rewards, have paths that fold back and forth),
  it is traced once more on a game whose rewards are perturbed by ``1e-3`` of their range,
  and what that path finds is polished and certified on the original game.
- The analytic Jacobian has block structure: the strategy rows of state ``s`` depend on
  ``beta(s)`` only (``S`` blocks of size ``sum_i n_i``) and on the values of all states; the
  value rows couple through ``I - gamma P_sigma``. Linear solves eliminate the per-state blocks
  (batched small inverses) and factor the Schur complement of size ``N * S + 1`` with LAPACK;
  the local unknowns of a state whose block is singular or ill-conditioned stay in the Schur
  complement instead (a player can be held indifferent in one state by play elsewhere).
- Every residual and Jacobian block is vectorised over states with ``einsum``.
- Rewards are divided by the reward range internally; ``lam`` is reported in payoff units.
- A QRE at precision ``lam`` is only ``O(1 / lam)`` from equilibrium. Along the path a *support
  polish* solves the equilibrium equations on the support the path is heading for (each player
  indifferent on her support in every state, values consistent) by Newton's method. The
  support is read from the tangent: the log-probability ratio of a vanishing action falls like
  ``-gap * lam`` (elasticity ``lam * d/dlam`` tending to ``-infinity``) while that of a support
  action converges, which separates supports once ``lam * gap`` is of order one. Players whose
  choice cannot matter in a state (absorbing or terminal states) keep the path's strategy there.
  A polished profile becomes the answer only if its exact NashConv (from
  :func:`gametools.solvers.result.make_markov_equilibrium`) is at most ``tol`` and the
  path keeps approaching it while ``lam`` doubles (so the path, not luck, selects it). A polish
  is attempted at most once per 1.25x growth of the largest ``lam`` tried, so a path that folds
  back and forth in ``lam`` (large games: thousands of steps) does not polish at every step.

References
----------
- S. Eibelshaeuser and D. Poensgen (2019), Markov quantal response equilibrium and a homotopy
  method for computing and selecting Markov perfect equilibria of dynamic stochastic games,
  SSRN 3314404; the ``sgamesolver`` package (``sgamesolver.homotopy.QRE``).
- R. D. McKelvey and T. R. Palfrey (1995), Quantal response equilibria for normal form games,
  Games and Economic Behavior 10, 6-38.
- E. L. Allgower and K. Georg (2003), Introduction to Numerical Continuation Methods, SIAM.
- J. C. Harsanyi and R. Selten (1988), A General Theory of Equilibrium Selection in Games, MIT
  Press (the tracing procedure); P. J.-J. Herings and R. Peeters (2004), Stationary equilibria in
  stochastic games: structure, selection, and computation, Journal of Economic Theory 118,
  32-60.

Examples
--------
Matching pennies repeated forever (one state that loops to itself): the stationary equilibrium
mixes evenly and is worth 0 to both players.

>>> import numpy as np
>>> from gametools import MarkovGame
>>> from gametools.solvers.homotopy import markov_qre_homotopy
>>> pennies = np.array([[1.0, -1.0], [-1.0, 1.0]])
>>> game = MarkovGame(np.ones((1, 2, 2, 1)), np.stack([pennies, -pennies])[:, None], [1.0], 0.9)
>>> result = markov_qre_homotopy(game)
>>> result.status, result.max_regret <= 1e-8
('success', True)
>>> [np.round(p, 6).tolist() for p in result.equilibria[0].strategies]
[[[0.5, 0.5]], [[0.5, 0.5]]]
"""

from __future__ import annotations

import dataclasses
import math
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.linalg
import scipy.sparse

from gametools.errors import InvalidArgumentError
from gametools.mdp import contract_players
from gametools.model import MarkovGame
from gametools.solvers._continuation import PathState, StepControl, trace_path
from gametools.solvers.result import (
    Equilibrium,
    SolverResult,
    make_markov_equilibrium,
    reward_range,
)
from gametools.solvers.support import lift_to_observations
from gametools.structure import sees_state, state_game

__all__ = ["markov_qre_homotopy", "markov_tracing", "HomotopyInputError"]


#: Per-state blocks whose condition number exceeds this are not eliminated (dense fallback).
_CONDITION_LIMIT = 1e9

#: Nominal first corrector distance, chord contraction rate and tangent turning angle (radians):
#: the step size is adapted so that they approach these values and a step is rejected when one
#: exceeds twice its value (Allgower and Georg 2003, sec. 6.1).
_STEP_CONTROL = (0.3, 0.3, 0.3)
#: Relative size (of the reward range) of the random reward perturbation of the recovery path.
_RECOVERY_PERTURBATION = 1e-3
#: The corrector stops at this step length: only staying on the path matters, since the answer
#: comes from the support polish (or is certified directly).
_CORRECTOR_TOL = 1e-7
#: Share of ``cpu_seconds`` for the path of the original game; the recovery path gets the rest.
#: Long paths (128 states, 3 players: thousands of steps through folds) are slow, not broken:
#: restarting on a perturbed game does not shorten them, so the first path gets most.
_FIRST_PATH_SHARE = 0.85
#: A support polish is attempted only once lam exceeds this factor times the largest lam of an
#: earlier attempt (see ``_follow``).
_POLISH_GROWTH = 1.25
#: Transitions with at most this fraction of nonzeros are multiplied as a sparse matrix.
_SPARSE_DENSITY = 0.25


class HomotopyInputError(InvalidArgumentError):
    """The game or an option is outside what the homotopy handles (the message says why)."""


# ---------------------------------------------------------------------------------------------
# tensor helpers
# ---------------------------------------------------------------------------------------------

def _pair(tensor: np.ndarray, sigmas: Sequence[np.ndarray], i: int, j: int) -> np.ndarray:
    """``tensor`` with every player but ``i`` and ``j`` contracted, axes ``(S, n_i, n_j, ...)``."""
    block = contract_players(tensor, sigmas, (i, j))
    return block if i < j else np.swapaxes(block, 1, 2)


# ---------------------------------------------------------------------------------------------
# block-structured linear systems
# ---------------------------------------------------------------------------------------------

@dataclass
class _Blocks:
    """Jacobian of a system in ``(x, v[, lam])`` with per-state unknowns ``x`` ``(S, m)``.

    ``local`` rows (``S x m``) depend on ``x(s)`` through ``A`` ``(S, m, m)`` and on the global
    unknowns ``v`` ``(K,)`` through ``B`` ``(S, m, K)``; ``global`` rows ``(K,)`` (ordered
    ``i * S + s``) depend on ``x(s)`` through ``C`` ``(S, N, m)`` and on ``v`` through ``D``
    ``(K, K)``. ``c`` ``(S, m)`` is the derivative of the local rows in ``lam``, None for square
    systems; ``d`` ``(K,)`` that of the global rows (None: they do not depend on ``lam``).
    """

    A: np.ndarray
    B: np.ndarray
    C: np.ndarray
    D: np.ndarray
    c: np.ndarray | None = None
    d: np.ndarray | None = None

    def dense(self) -> np.ndarray:
        """The full matrix ``(S*m + K, S*m + K [+ 1])``."""
        num_states, m, _ = self.A.shape
        k = self.D.shape[0]
        local = num_states * m
        width = local + k + (0 if self.c is None else 1)
        out = np.zeros((local + k, width))
        rows = np.arange(local).reshape(num_states, m)
        out[rows[:, :, None], rows[:, None, :]] = self.A
        out[:local, local:local + k] = self.B.reshape(local, k)
        num_players = self.C.shape[1]
        global_rows = local + (np.arange(num_players)[None, :] * num_states
                               + np.arange(num_states)[:, None])  # (S, N)
        out[global_rows[:, :, None], rows[:, None, :]] = self.C
        out[local:, local:local + k] = self.D
        if self.c is not None:
            out[:local, -1] = self.c.ravel()
            if self.d is not None:
                out[local:, -1] = self.d
        return out


class _Factorization:
    """Solves a system given by :class:`_Blocks`, bordered by a row when ``c`` is present.

    The per-state blocks ``A(s)`` that are well conditioned are eliminated (batched inverses
    from one batched SVD); the remaining unknowns (the values, ``lam``, and the local unknowns
    of states whose block is singular or ill-conditioned) form a Schur complement that is
    LU-factored densely. Singular blocks are legitimate: in a stochastic game a player can be
    kept indifferent in a state by the others' play elsewhere, through the values.
    """

    def __init__(self, blocks: _Blocks, border: np.ndarray | None = None) -> None:
        self.blocks = blocks
        num_states, m, _ = blocks.A.shape
        k = blocks.D.shape[0]
        self.shape, self.size_k = (num_states, m), k
        self.bordered = blocks.c is not None
        with np.errstate(all="ignore"):
            try:
                inverse = np.linalg.inv(blocks.A)
                # inf-norm condition numbers, cheap to get once the inverses are known
                condition = (np.abs(blocks.A).sum(axis=2).max(axis=1)
                             * np.abs(inverse).sum(axis=2).max(axis=1))
                good = np.isfinite(condition) & (condition <= _CONDITION_LIMIT)
            except np.linalg.LinAlgError:  # some block is exactly singular
                u, singular, vt = np.linalg.svd(blocks.A)
                good = ((singular[:, -1] > 0)
                        & (singular[:, 0] <= _CONDITION_LIMIT * singular[:, -1])
                        & np.all(np.isfinite(singular), axis=1))
                inverse = np.zeros_like(blocks.A)
                inverse[good] = np.einsum("sji,sj,skj->sik", vt[good], 1.0 / singular[good],
                                          u[good])
        self.good = np.flatnonzero(good)
        self.bad = np.flatnonzero(~good)
        self.num_bad = len(self.bad)
        g = self.good
        every = self.num_bad == 0  # the usual case: index with slices, not copies
        self.inverse = inverse if every else inverse[g]
        self.columns = blocks.B if every else blocks.B[g]  # (G, m, K)
        c_good = None if blocks.c is None else (blocks.c if every else blocks.c[g])
        self.c_good = c_good
        # The Schur complement needs C(s) A(s)^-1 [B(s) c(s)] and the border's
        # b(s) A(s)^-1 [B(s) c(s)]: multiplying A(s)^-1 into the few rows first (N rows of C,
        # one border row) costs a fraction of forming A(s)^-1 B(s) (m rows); the solves apply
        # A(s)^-1 after B(s) instead.
        c_inverse = (blocks.C if every else blocks.C[g]) @ self.inverse  # (G, N, m)
        # unknowns of the reduced system: local unknowns of bad states, values, [lam]
        nb = self.num_bad * m
        size = nb + k + (1 if self.bordered else 0)
        reduced = np.zeros((size, size))
        bad_rows = np.arange(nb).reshape(self.num_bad, m)
        if self.num_bad:
            reduced[bad_rows[:, :, None], bad_rows[:, None, :]] = blocks.A[self.bad]
            reduced[:nb, nb:nb + k] = blocks.B[self.bad].reshape(nb, k)
            if self.bordered:
                reduced[:nb, -1] = blocks.c[self.bad].ravel()  # type: ignore[index]
            global_rows = nb + (np.arange(blocks.C.shape[1])[None, :] * num_states
                                + self.bad[:, None])  # (Bd, N)
            reduced[global_rows[:, :, None], bad_rows[:, None, :]] = blocks.C[self.bad]
        # global rows of good states lose C(s) A(s)^-1 [B(s) c(s)]
        num_players = blocks.C.shape[1]
        correction = np.zeros((num_players, num_states, size - nb))
        correction[:, g, :k] = np.swapaxes(c_inverse @ self.columns, 0, 1)
        if c_good is not None:
            correction[:, g, k] = np.einsum("sim,sm->is", c_inverse, c_good)
        reduced[nb:nb + k, nb:] -= correction.reshape(k, -1)
        reduced[nb:nb + k, nb:nb + k] += blocks.D
        if self.bordered and blocks.d is not None:
            reduced[nb:nb + k, -1] += blocks.d
        if self.bordered:
            assert border is not None and c_good is not None
            local = num_states * m
            border_x = border[:local].reshape(num_states, m)
            self.border_good = border_x[g]
            if self.num_bad:
                reduced[-1, :nb] = border_x[self.bad].ravel()
            border_inverse = np.einsum("sm,smn->sn", self.border_good, self.inverse)
            reduced[-1, nb:nb + k] = border[local:local + k] - border_inverse.ravel() @ \
                self.columns.reshape(-1, k)
            reduced[-1, -1] = border[-1] - float(np.sum(border_inverse * c_good))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)  # checked just below
            self.lu = scipy.linalg.lu_factor(reduced, check_finite=False)
        if not np.all(np.isfinite(self.lu[0])) or np.any(np.diag(self.lu[0]) == 0):
            raise np.linalg.LinAlgError("singular Jacobian")
        self._good_blocks = blocks.A[g]

    def determinant_sign(self) -> float:
        """Sign of the determinant of the (bordered) matrix.

        The eliminated unknowns and their rows are permuted together (a similarity), so the
        determinant is the product of the eliminated blocks' determinants and the Schur
        complement's.
        """
        signs = np.linalg.slogdet(self._good_blocks)[0] if len(self._good_blocks) else [1.0]
        diagonal = np.diag(self.lu[0])
        swaps = int(np.count_nonzero(self.lu[1] != np.arange(len(self.lu[1]))))
        return float(np.prod(signs) * np.prod(np.sign(diagonal)) * (-1.0) ** swaps)

    @property
    def dense(self) -> bool:
        """Whether some per-state block could not be eliminated."""
        return self.num_bad > 0

    def solve(self, rhs: np.ndarray) -> np.ndarray:
        """Solve for a right-hand side laid out like the unknowns ``(x, v[, lam])``."""
        num_states, m = self.shape
        local = num_states * m
        f_local = rhs[:local].reshape(num_states, m)
        g = np.einsum("smn,sn->sm", self.inverse, f_local[self.good])
        tail_rhs = np.concatenate([f_local[self.bad].ravel(), rhs[local:]])
        nb = self.num_bad * m
        contribution = np.zeros((self.blocks.C.shape[1], num_states))
        contribution[:, self.good] = np.einsum("sim,sm->is", self.blocks.C[self.good], g)
        tail_rhs[nb:nb + self.size_k] -= contribution.ravel()
        if self.bordered:
            tail_rhs[-1] -= float(np.sum(self.border_good * g))
        tail = scipy.linalg.lu_solve(self.lu, tail_rhs, check_finite=False)
        x = np.empty((num_states, m))
        coupled = (self.columns.reshape(-1, self.size_k) @ tail[nb:nb + self.size_k]
                   ).reshape(-1, m)
        if self.bordered:
            coupled += self.c_good * tail[-1]
        x[self.good] = g - np.einsum("smn,sn->sm", self.inverse, coupled)
        x[self.bad] = tail[:nb].reshape(self.num_bad, m)
        return np.concatenate([x.ravel(), tail[nb:]])


# ---------------------------------------------------------------------------------------------
# the Markov QRE system
# ---------------------------------------------------------------------------------------------

class _MarkovQRE:
    """The Markov QRE equations in ``y = (beta (S, m), V (N, S), lam)``, rewards scaled."""

    def __init__(self, game: MarkovGame) -> None:
        self.num_players = game.num_players
        self.num_states = game.num_states
        self.num_actions = game.num_actions
        self.offsets = np.concatenate([[0], np.cumsum(self.num_actions)]).astype(int)
        self.m = int(self.offsets[-1])
        self.scale = reward_range(game)
        self.discount = game.discount
        live = ~game.terminal
        # terminal states pay nothing and lead nowhere: their values solve V = 0 and their
        # policies stay uniform, so they need no special equations
        shape = (self.num_states,) + (1,) * len(self.num_actions)
        self.rewards = game.rewards / self.scale * live.reshape(shape)[None]
        self.transitions = game.dense_transitions() * live.reshape(shape)[..., None]
        self.transition_rows = self.transitions.reshape(-1, self.num_states)
        # sparse transitions (few successors per state and joint action): the products with
        # the transition rows, done at every residual and Jacobian, use their nonzeros only
        self.sparse_rows: scipy.sparse.csr_array | None = None
        nonzero = np.count_nonzero(self.transition_rows)
        if nonzero <= _SPARSE_DENSITY * self.transition_rows.size:
            self.sparse_rows = scipy.sparse.csr_array(self.transition_rows)
            rows = np.repeat(np.arange(self.transition_rows.shape[0]),
                             np.diff(self.sparse_rows.indptr))
            joint = rows % int(np.prod(self.num_actions))
            self._nonzero_state = rows // int(np.prod(self.num_actions))
            # each player's action in the joint action of every nonzero (C order)
            self._nonzero_actions = np.unravel_index(joint, tuple(self.num_actions))
        self.size_local = self.num_states * self.m
        self.irrelevant = []
        for i in range(self.num_players):
            axis = 1 + i
            same_reward = np.ptp(self.rewards[i], axis=axis) <= 1e-12
            same_move = np.ptp(self.transitions, axis=axis) <= 1e-12
            self.irrelevant.append(
                same_reward.reshape(self.num_states, -1).all(axis=1)
                & same_move.reshape(self.num_states, -1).all(axis=1))
        self.size_k = self.num_players * self.num_states
        self.dim = self.size_local + self.size_k
        self.dense_fallbacks = 0

    # unknown vector ---------------------------------------------------------------------

    def split(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        local = y[:self.size_local].reshape(self.num_states, self.m)
        values = y[self.size_local:self.dim].reshape(self.num_players, self.num_states)
        return local, values

    def per_player(self, local: np.ndarray) -> list[np.ndarray]:
        return [local[:, self.offsets[i]:self.offsets[i + 1]] for i in range(self.num_players)]

    def continuation(self, values: np.ndarray) -> np.ndarray:
        """``u_i(s, a) = r_i(s, a) + gamma E[V_i(s') | s, a]``, shape ``(N, S, n_1..n_N)``."""
        rows = self.transition_rows if self.sparse_rows is None else self.sparse_rows
        expected = np.asarray(rows @ values.T).T.reshape(self.rewards.shape)
        return self.rewards + self.discount * expected

    def own_chain(self, sigmas: Sequence[np.ndarray], i: int) -> np.ndarray:
        """``P(s' | s, a_i)`` with the other players mixed by ``sigmas``, ``(S, n_i, S)``."""
        if self.sparse_rows is None:
            return contract_players(self.transitions, sigmas, (i,))
        state = self._nonzero_state
        weight = self.sparse_rows.data.copy()
        for j, sigma in enumerate(sigmas):
            if j != i:
                weight *= sigma[state, self._nonzero_actions[j]]
        n = self.num_actions[i]
        target = ((state * n + self._nonzero_actions[i]) * self.num_states
                  + self.sparse_rows.indices)
        return np.bincount(target, weights=weight,
                           minlength=self.num_states * n * self.num_states
                           ).reshape(self.num_states, n, self.num_states)

    def start(self) -> np.ndarray:
        sigmas = [np.full((self.num_states, n), 1.0 / n) for n in self.num_actions]
        chain = contract_players(self.transitions, sigmas, ())
        matrix = np.eye(self.num_states) - self.discount * chain
        mean_rewards = np.stack([contract_players(r, sigmas, ()) for r in self.rewards])
        values = np.linalg.solve(matrix, mean_rewards.T).T
        beta = np.concatenate([np.full((self.num_states, n), -math.log(n))
                               for n in self.num_actions], axis=1)
        return np.concatenate([beta.ravel(), values.ravel(), [0.0]])

    # QRE residual and Jacobian ----------------------------------------------------------

    def residual(self, y: np.ndarray) -> np.ndarray:
        return self._evaluate(y, jacobian=False)[0]

    def linearize(self, y: np.ndarray, border: np.ndarray) -> tuple[np.ndarray, _Factorization]:
        """Residual and factorized bordered Jacobian (the continuation engine's interface)."""
        residual, blocks = self.evaluate(y)
        factorization = _Factorization(blocks, border)
        self.dense_fallbacks += factorization.dense
        return residual, factorization

    def jacobian(self, y: np.ndarray) -> np.ndarray:
        """The dense Jacobian (the engine needs it only at bifurcation points)."""
        return self.evaluate(y)[1].dense()

    def evaluate(self, y: np.ndarray) -> tuple[np.ndarray, _Blocks]:
        residual, blocks = self._evaluate(y, jacobian=True)
        assert blocks is not None
        return residual, blocks

    def unpack(self, y: np.ndarray) -> tuple[float, np.ndarray, list[np.ndarray],
                                             list[np.ndarray], np.ndarray]:
        """``(lam, values, log-probabilities, probabilities, continuation payoffs)`` at the
        path point ``y``; log-probabilities and probabilities as one ``(S, n_i)`` array per
        player."""
        beta, values = self.split(y)
        return (float(y[-1]), values, self.per_player(beta), self.per_player(np.exp(beta)),
                self.continuation(values))

    def _evaluate(self, y: np.ndarray, *, jacobian: bool) -> tuple[np.ndarray, _Blocks | None]:
        lam, values, betas, sigmas, payoffs = self.unpack(y)
        num_states, num_players, m = self.num_states, self.num_players, self.m
        local = np.empty((num_states, m))
        value_rows = np.empty((num_players, num_states))
        q_values = []
        for i in range(num_players):
            o, n = self.offsets[i], self.num_actions[i]
            q = contract_players(payoffs[i], sigmas, (i,))
            q_values.append(q)
            local[:, o] = sigmas[i].sum(axis=1) - 1.0
            local[:, o + 1:o + n] = (betas[i][:, 1:] - betas[i][:, :1]
                                     - lam * (q[:, 1:] - q[:, :1]))
            value_rows[i] = values[i] - np.sum(sigmas[i] * q, axis=1)
        residual = np.concatenate([local.ravel(), value_rows.ravel()])
        if not jacobian:
            return residual, None
        gamma = self.discount
        A = np.zeros((num_states, m, m))
        B = np.zeros((num_states, m, self.size_k))
        C = np.zeros((num_states, num_players, m))
        D = np.zeros((self.size_k, self.size_k))
        c = np.zeros((num_states, m))
        chain = None
        for i in range(num_players):
            o, n = self.offsets[i], self.num_actions[i]
            q = q_values[i]
            A[:, o, o:o + n] = sigmas[i]
            A[:, o + 1:o + n, o + 1:o + n] += np.eye(n - 1)
            A[:, o + 1:o + n, o] -= 1.0
            C[:, i, o:o + n] = -sigmas[i] * q
            for j in range(num_players):
                if j == i:
                    continue
                oj, nj = self.offsets[j], self.num_actions[j]
                # d Q_i(s, a) / d beta_j(s, b) = sigma_j(s, b) * u_i(s, a, b | others mixed)
                pair = _pair(payoffs[i], sigmas, i, j)
                A[:, o + 1:o + n, oj:oj + nj] = (-lam * (pair[:, 1:, :] - pair[:, :1, :])
                                                 * sigmas[j][:, None, :])
                C[:, i, oj:oj + nj] = -sigmas[j] * np.einsum("sab,sa->sb", pair, sigmas[i])
            own_chain = self.own_chain(sigmas, i)  # (S, n_i, S)
            B[:, o + 1:o + n, i * num_states:(i + 1) * num_states] = (
                -lam * gamma * (own_chain[:, 1:, :] - own_chain[:, :1, :]))
            c[:, o + 1:o + n] = -(q[:, 1:] - q[:, :1])
            if chain is None:
                chain = np.einsum("sat,sa->st", own_chain, sigmas[i])
        assert chain is not None
        block = np.eye(num_states) - gamma * chain
        for i in range(num_players):
            D[i * num_states:(i + 1) * num_states, i * num_states:(i + 1) * num_states] = block
        return residual, _Blocks(A, B, C, D, c)

    def policies(self, y: np.ndarray) -> list[np.ndarray]:
        sigma = np.exp(self.split(y)[0])
        out = []
        for x in self.per_player(sigma):
            out.append(x / x.sum(axis=1, keepdims=True))
        return out

    # support polish -----------------------------------------------------------------------

    def polish(self, policies: Sequence[np.ndarray], values: np.ndarray,
               supports: Sequence[np.ndarray], *, max_iterations: int = 12,
               tol: float = 1e-13) -> tuple[list[np.ndarray], np.ndarray, bool, int]:
        """Newton's method on the equilibrium equations restricted to ``supports``.

        Unknowns: probabilities ``sigma`` ``(S, m)`` (zero off the supports) and values ``V``.
        Per state and player, with ``a0`` the most likely action: ``Q(a) - Q(a0) = 0`` on the
        support, ``sigma(a) = 0`` off it, ``sum sigma = 1`` (in row ``a0``), and the value row
        ``V - Q(a0) = 0``. Returns policies, values, whether Newton converged, iterations.
        """
        num_states, num_players, m = self.num_states, self.num_players, self.m
        gamma = self.discount
        # A player whose choice cannot matter in a state (rewards and transitions independent
        # of her action, e.g. absorbing or terminal states) is indifferent between all actions
        # whatever the others do: her indifference equations vanish identically, so her
        # strategy there is frozen at the path's (any strategy is a best response).
        supports = [np.where(frozen[:, None], True, s)
                    for s, frozen in zip(supports, self.irrelevant)]
        sigma = np.concatenate([np.where(s, p, 0.0) for p, s in zip(policies, supports)], axis=1)
        sigma /= np.concatenate([np.repeat(x.sum(axis=1, keepdims=True), x.shape[1], axis=1)
                                 for x in self.per_player(sigma)], axis=1)
        anchors = [np.argmax(p, axis=1) for p in policies]
        differences, anchor_rows, off, targets = [], [], [], []
        for i, start in enumerate(self.per_player(sigma)):
            n = self.num_actions[i]
            one_hot = np.eye(n)[anchors[i]]  # (S, n)
            frozen = self.irrelevant[i][:, None]
            inside = supports[i] & (one_hot == 0) & ~frozen
            # T(s): row a = e_a - e_a0 for support actions other than a0, zero elsewhere
            differences.append(inside[:, :, None] * (np.eye(n)[None] - one_hot[:, None, :]))
            anchor_rows.append(one_hot)
            # rows "sigma(a) = target(a)": 0 off the support, the start where frozen
            off.append((~supports[i] | frozen) & (one_hot == 0))
            targets.append(np.where(frozen, start, 0.0))
        y = np.concatenate([sigma.ravel(), values.ravel()])
        converged = False
        iteration, previous_size = 0, math.inf
        for iteration in range(1, max_iterations + 1):
            local_x, v = y[:self.size_local].reshape(num_states, m), y[self.size_local:]
            v = v.reshape(num_players, num_states)
            sigmas = self.per_player(local_x)
            payoffs = self.continuation(v)
            local = np.empty((num_states, m))
            value_rows = np.empty((num_players, num_states))
            A = np.zeros((num_states, m, m))
            B = np.zeros((num_states, m, self.size_k))
            C = np.zeros((num_states, num_players, m))
            D = np.zeros((self.size_k, self.size_k))
            for i in range(num_players):
                o, n = self.offsets[i], self.num_actions[i]
                t, one_hot = differences[i], anchor_rows[i]
                q = contract_players(payoffs[i], sigmas, (i,))
                local[:, o:o + n] = (np.einsum("sab,sb->sa", t, q)
                                     + off[i] * (sigmas[i] - targets[i])
                                     + one_hot * (sigmas[i].sum(axis=1, keepdims=True) - 1.0))
                value_rows[i] = v[i] - np.sum(one_hot * q, axis=1)
                A[:, o:o + n, o:o + n] = (off[i][:, :, None] * np.eye(n)[None]
                                          + one_hot[:, :, None])
                for j in range(num_players):
                    if j == i:
                        continue
                    oj, nj = self.offsets[j], self.num_actions[j]
                    pair = _pair(payoffs[i], sigmas, i, j)
                    A[:, o:o + n, oj:oj + nj] = np.einsum("sab,sbc->sac", t, pair)
                    C[:, i, oj:oj + nj] = -np.einsum("sa,sab->sb", one_hot, pair)
                own_chain = self.own_chain(sigmas, i)
                cols = slice(i * num_states, (i + 1) * num_states)
                B[:, o:o + n, cols] = gamma * np.einsum("sab,sbt->sat", t, own_chain)
                D[cols, cols] = (np.eye(num_states)
                                 - gamma * np.einsum("sa,sat->st", one_hot, own_chain))
            residual = np.concatenate([local.ravel(), value_rows.ravel()])
            if not np.all(np.isfinite(residual)):
                break
            size = float(np.abs(residual).max())
            if size <= tol * (1.0 + np.abs(v).max()):
                converged = True
                break
            # Newton converges quadratically from a good start; slow progress means a wrong
            # support (or a start too far away), and the attempt is not worth finishing
            if iteration >= 3 and size > 0.25 * previous_size:
                break
            previous_size = size
            with np.errstate(all="ignore"):
                try:
                    step = _Factorization(_Blocks(A, B, C, D)).solve(-residual)
                except (np.linalg.LinAlgError, ValueError):
                    break  # singular: the support cannot be that of a regular equilibrium
            if not np.all(np.isfinite(step)):
                break
            y = y + step
            if np.abs(step).max() > 10.0:  # Newton is diverging: the support is wrong
                break
        local_x, v = y[:self.size_local].reshape(num_states, m), y[self.size_local:]
        return self.per_player(local_x), v.reshape(num_players, num_states), converged, iteration

    def gains(self, policies: Sequence[np.ndarray], values: np.ndarray) -> float:
        """Largest one-shot deviation gain ``max_a Q_i(s, a) - V_i(s)`` (scaled rewards)."""
        payoffs = self.continuation(values)
        worst = 0.0
        for i in range(self.num_players):
            q = contract_players(payoffs[i], list(policies), (i,))
            worst = max(worst, float((q.max(axis=1) - np.sum(policies[i] * q, axis=1)).max()),
                        float(np.abs(np.sum(policies[i] * q, axis=1) - values[i]).max()))
        return worst


class _MarkovTracing(_MarkovQRE):
    """The logit tracing equations in ``y = (beta (S, m), V (N, S), lam)``, rewards scaled.

    With precision ``p = (1 + lam) / eta`` and prior weight ``w = 1 / (1 + lam)``, player ``i``
    faces the others playing ``sigma_-i`` with probability ``1 - w`` and the prior ``rho_-i``
    with probability ``w`` (Harsanyi and Selten's mixture, in every state), and plays the
    entropy-smoothed best reply ``sigma_i(s) = softmax(p * Q~_i(s, .))`` with soft values
    ``V_i(s) = sum_a sigma_i(s, a) (Q~_i(s, a) - log sigma_i(s, a) / p)``.
    """

    def __init__(self, game: MarkovGame, prior: Sequence[np.ndarray], eta: float) -> None:
        super().__init__(game)
        self.eta = float(eta)
        self.prior = [np.asarray(p, dtype=float) for p in prior]
        # the prior's contractions do not change along the path
        self.prior_rewards = [contract_players(self.rewards[i], self.prior, (i,))
                              for i in range(self.num_players)]
        self.prior_chains = [self.own_chain(self.prior, i) for i in range(self.num_players)]

    def _prior_q(self, i: int, values: np.ndarray) -> np.ndarray:
        return self.prior_rewards[i] + self.discount * np.einsum(
            "sat,t->sa", self.prior_chains[i], values[i])

    def start(self) -> np.ndarray:
        """Every player's soft best reply to the prior (a single-agent problem each: unique)."""
        p = 1.0 / self.eta
        gamma = self.discount
        beta_blocks, value_rows = [], []
        for i in range(self.num_players):
            values = np.zeros((self.num_players, self.num_states))
            sigma = np.full((self.num_states, self.num_actions[i]), 1.0 / self.num_actions[i])
            for _ in range(200):  # soft policy iteration: quadratic near the fixed point
                chain = np.einsum("sat,sa->st", self.prior_chains[i], sigma)
                logs = np.log(np.maximum(sigma, 1e-300))
                gain = np.sum(sigma * (self.prior_rewards[i] - logs / p), axis=1)
                values[i] = np.linalg.solve(np.eye(self.num_states) - gamma * chain, gain)
                q = self._prior_q(i, values)
                z = p * (q - q.max(axis=1, keepdims=True))
                new = np.exp(z)
                new /= new.sum(axis=1, keepdims=True)
                change = float(np.abs(new - sigma).max())
                sigma = new
                if change <= 1e-15:
                    break
            # finish with soft value iteration steps (a contraction) so the residual is tiny
            for _ in range(3):
                q = self._prior_q(i, values)
                top = q.max(axis=1, keepdims=True)
                z = p * (q - top)
                log_norm = np.log(np.exp(z).sum(axis=1, keepdims=True))
                values[i] = (top[:, 0] + log_norm[:, 0] / p)
            q = self._prior_q(i, values)
            z = p * (q - q.max(axis=1, keepdims=True))
            beta_blocks.append(z - np.log(np.exp(z).sum(axis=1, keepdims=True)))
            value_rows.append(values[i])
        beta = np.concatenate(beta_blocks, axis=1)
        return np.concatenate([beta.ravel(), np.concatenate(value_rows), [0.0]])

    def _evaluate(self, y: np.ndarray, *, jacobian: bool) -> tuple[np.ndarray, _Blocks | None]:
        lam, values, betas, sigmas, payoffs = self.unpack(y)
        p, w = (1.0 + lam) / self.eta, 1.0 / (1.0 + lam)
        num_states, num_players, m = self.num_states, self.num_players, self.m
        local = np.empty((num_states, m))
        value_rows = np.empty((num_players, num_states))
        q_pairs = []
        for i in range(num_players):
            o, n = self.offsets[i], self.num_actions[i]
            q_sigma = contract_players(payoffs[i], sigmas, (i,))
            q_prior = self._prior_q(i, values)
            q = (1.0 - w) * q_sigma + w * q_prior
            q_pairs.append((q, q_sigma - q_prior))
            local[:, o] = sigmas[i].sum(axis=1) - 1.0
            local[:, o + 1:o + n] = betas[i][:, 1:] - betas[i][:, :1] - p * (q[:, 1:] - q[:, :1])
            value_rows[i] = values[i] - np.sum(sigmas[i] * (q - betas[i] / p), axis=1)
        residual = np.concatenate([local.ravel(), value_rows.ravel()])
        if not jacobian:
            return residual, None
        gamma = self.discount
        dp = 1.0 / self.eta  # dp / dlam; dw / dlam = -w^2
        A = np.zeros((num_states, m, m))
        B = np.zeros((num_states, m, self.size_k))
        C = np.zeros((num_states, num_players, m))
        D = np.zeros((self.size_k, self.size_k))
        c = np.zeros((num_states, m))
        d = np.zeros((num_players, num_states))
        for i in range(num_players):
            o, n = self.offsets[i], self.num_actions[i]
            q, spread = q_pairs[i]
            dq = w * w * spread  # d Q~ / d lam
            A[:, o, o:o + n] = sigmas[i]
            A[:, o + 1:o + n, o + 1:o + n] += np.eye(n - 1)
            A[:, o + 1:o + n, o] -= 1.0
            C[:, i, o:o + n] = -sigmas[i] * (q - betas[i] / p) + sigmas[i] / p
            for j in range(num_players):
                if j == i:
                    continue
                oj, nj = self.offsets[j], self.num_actions[j]
                pair = _pair(payoffs[i], sigmas, i, j)
                A[:, o + 1:o + n, oj:oj + nj] = (-p * (1.0 - w) * (pair[:, 1:, :] - pair[:, :1, :])
                                                 * sigmas[j][:, None, :])
                C[:, i, oj:oj + nj] = (-(1.0 - w) * sigmas[j]
                                       * np.einsum("sab,sa->sb", pair, sigmas[i]))
            mixed_chain = ((1.0 - w) * self.own_chain(sigmas, i)
                           + w * self.prior_chains[i])  # (S, n_i, S)
            B[:, o + 1:o + n, i * num_states:(i + 1) * num_states] = (
                -p * gamma * (mixed_chain[:, 1:, :] - mixed_chain[:, :1, :]))
            c[:, o + 1:o + n] = -dp * (q[:, 1:] - q[:, :1]) - p * (dq[:, 1:] - dq[:, :1])
            cols = slice(i * num_states, (i + 1) * num_states)
            D[cols, cols] = np.eye(num_states) - gamma * np.einsum("sat,sa->st", mixed_chain,
                                                                     sigmas[i])
            d[i] = -np.sum(sigmas[i] * dq, axis=1) - np.sum(sigmas[i] * betas[i], axis=1) \
                * dp / (p * p)
        return residual, _Blocks(A, B, C, D, c, d.ravel())


# ---------------------------------------------------------------------------------------------
# path following
# ---------------------------------------------------------------------------------------------

class _Progress:
    """tqdm bar of ``t = lam / (1 + lam)`` when tqdm is installed, else lines on stderr."""

    def __init__(self, enabled: bool) -> None:
        self.bar = None
        self.enabled = enabled
        self.last_print = -math.inf
        if not enabled:
            return
        try:
            from tqdm.auto import tqdm
        except ImportError:  # tqdm is optional: fall back to plain lines
            return
        self.bar = tqdm(total=1.0, desc="Markov QRE path t", unit="",
                        bar_format="{desc}: {n:.6f} |{bar}| [{elapsed}] {postfix}")

    def update(self, t: float, lam: float, steps: int) -> None:
        if not self.enabled or time.monotonic() - self.last_print < 0.1:
            return
        self.last_print = time.monotonic()
        if self.bar is not None:
            self.bar.n = min(t, 1.0)  # t can fall back where the path turns in lam
            self.bar.set_postfix_str(f"lambda={lam:.4g} steps={steps}", refresh=False)
            self.bar.refresh()
        else:
            print(f"markov_qre_homotopy: step {steps:6d}  t {t:.6f}  lambda {lam:.6g}",
                  file=sys.stderr)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _check_options(**options: float) -> None:
    for name, value in options.items():
        if not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            raise HomotopyInputError(f"{name} must be a finite number > 0 (got {value!r})")


def _check_game(game: Any) -> MarkovGame:
    if not isinstance(game, MarkovGame):
        raise TypeError(f"markov_qre_homotopy needs a MarkovGame, got {type(game).__name__}; "
                        "for a normal-form game use gametools.solvers.logit.logit_solve")
    if not sees_state(game):
        raise HomotopyInputError(
            "markov_qre_homotopy needs a fully observed game (stationary Markov equilibria "
            "condition on the state); in this game some player's observation is shared by "
            "several reachable states, so players act on information sets and the Markov QRE "
            "equations do not apply")
    if game.discount >= 1.0:
        raise HomotopyInputError(
            "markov_qre_homotopy needs discount < 1 (got 1.0): an undiscounted terminating game "
            "is solved by backward induction over its finite horizon (unroll it with "
            "gametools.time_indexed and solve the stage games from the end)")
    return game


def markov_qre_homotopy(game: MarkovGame, *, tol: float = 1e-8,
                        first_step: float = 0.1, max_accel: float = 2.0,
                        max_iterations: int = 10000, max_lambda: float | None = None,
                        cpu_seconds: float | None = None,
                        polish: bool = True, return_path: bool = False,
                        progress: bool | Callable[[int, float], None] = False
                        ) -> SolverResult:
    """A stationary Markov perfect equilibrium at the end of the logit Markov-QRE path.

    Parameters
    ----------
    game : MarkovGame
        Every player sees the state (:func:`gametools.structure.sees_state`), ``discount < 1``; dense or sparse transitions (materialised densely,
        ``S * prod(n_i) * S`` floats).
    tol : float
        Succeed when the exact NashConv-type regret (largest per-player deviation gain divided
        by the reward range, :func:`~gametools.solvers.result.make_markov_equilibrium`) is at
        most this.
    first_step : float
        First arclength step in ``(log sigma, V / range, lam * range)`` coordinates.
    max_accel : float
        Largest factor (> 1) by which the step may grow from one step to the next.
    max_iterations : int
        Give up (status ``"max_iterations"``) after this many accepted steps.
    max_lambda : float, optional
        Give up (status ``"max_iterations"``) when ``lam`` exceeds this, in payoff units;
        default ``1e12 / reward_range``.
    cpu_seconds : float, optional
        CPU-time budget of the call (process time, independent of the machine's load). The
        path of the original game gets 85% of it; the recovery path (a perturbed game,
        see the module docstring) starts when the first path ends without an equilibrium and
        gets what is left. When the budget runs out, a support-polished profile found along the
        way that is certified (exact regret at most ``tol``) but not yet confirmed by the path
        is returned with status ``"success"`` (its message says so); otherwise the status is
        ``"failed"``. None: no budget.
    polish : bool
        Try the support polish (module docstring). Without it the path alone must reach
        ``tol``, which needs ``lam`` of order ``1 / ((1 - discount) * tol)``.
    return_path : bool
        Store the accepted points in ``extra["path"]``: ``{"lambda": (K,), "policies":
        [(K, S, n_i), ...], "values": (K, N, S)}`` (payoff units), starting at ``lam = 0``.
    progress : bool or callable
        True shows a tqdm bar of ``t = lam / (1 + lam)`` (relative precision, in ``[0, 1)``);
        a callable is called after every accepted step with ``(step, lam)``.

    Returns
    -------
    SolverResult
        One equilibrium (the best point found, certified by the exact evaluator, with
        ``state_values`` ``(N, S)``); policies ``(S, n_i)`` (``(O_i, n_i)`` for a game with
        observations). Status ``"success"`` iff its
        regret is at most ``tol``; ``"failed"`` when the step size collapsed,
        ``"max_iterations"`` when ``max_iterations`` or ``max_lambda`` ran out. ``extra``: ``steps``,
        ``rejected_steps``, ``corrector_iterations``, ``jacobians``, ``dense_fallbacks``,
        ``polish_attempts``, ``polish_iterations``, ``polished``, ``lambda`` (payoff units),
        ``t``, ``arc_length``, ``time_s``.

    Raises
    ------
    TypeError
        If ``game`` is not a MarkovGame.
    HomotopyInputError
        For partially observed games, ``discount == 1`` or invalid options.
    """
    started = time.perf_counter()
    game = _check_game(game)
    if not game.fully_observed:
        # every player sees the state: solve on the states, lift the policies onto observations
        result = markov_qre_homotopy(state_game(game), tol=tol, first_step=first_step,
                                     max_accel=max_accel, max_iterations=max_iterations,
                                     max_lambda=max_lambda, cpu_seconds=cpu_seconds,
                                     polish=polish,
                                     return_path=return_path, progress=progress)
        return lift_to_observations(game, result)
    _check_options(tol=tol, first_step=first_step, max_iterations=max_iterations)
    cpu_start = time.process_time()
    if cpu_seconds is not None:
        _check_options(cpu_seconds=cpu_seconds)
    if not isinstance(max_accel, (int, float)) or not max_accel > 1.0:
        raise HomotopyInputError(f"max_accel must be > 1 (got {max_accel!r})")
    lam_limit_units = None if max_lambda is None else float(max_lambda)
    if lam_limit_units is not None:
        _check_options(max_lambda=lam_limit_units)
    callback = progress if callable(progress) else None
    bar = _Progress(bool(progress) and callback is None)
    original = _MarkovQRE(game)
    control = StepControl(*_STEP_CONTROL, max_accel=float(max_accel),
                          corrector_tol=_CORRECTOR_TOL)
    outcome = _follow(game, original, original, tol=tol, first_step=first_step,
                      max_iterations=max_iterations, lam_limit_units=lam_limit_units, polish=polish,
                      control=control, bar=bar, callback=callback, record=return_path,
                      deadline=None if cpu_seconds is None
                      else cpu_start + _FIRST_PATH_SHARE * cpu_seconds)
    recoveries = 0
    deadline = None if cpu_seconds is None else cpu_start + cpu_seconds
    if outcome.best is None and polish and outcome.state.status in ("collapsed", "max_iterations") \
            and not outcome.candidates and (deadline is None or time.process_time() < deadline):
        # recovery: trace a perturbed game (a generic one: games with ties, such as integer
        # rewards, have paths that fold back and forth or meet singular points) and polish and
        # certify what it finds on the original game (Gambit's and sgamesolver's remedy)
        recoveries = 1
        generator = np.random.default_rng(0)
        perturbed = MarkovGame(game.transitions, game.rewards + _RECOVERY_PERTURBATION
                               * original.scale
                               * generator.uniform(-1.0, 1.0, game.rewards.shape),
                               game.initial, game.discount, terminal=game.terminal)
        retry = _follow(game, _MarkovQRE(perturbed), original, tol=tol,
                        first_step=first_step, max_iterations=max_iterations,
                        lam_limit_units=lam_limit_units, polish=polish, control=control,
                        bar=bar, callback=callback, record=return_path, deadline=deadline)
        retry.message = (f"{retry.message} (on a perturbed game after the path of the "
                         f"original ended: {outcome.state.message})")
        outcome = retry if retry.best is not None else outcome
    bar.close()
    return _summarize(game, outcome, tol=tol, started=started, recoveries=recoveries,
                      return_path=return_path, method="homotopy")


def markov_tracing(game: MarkovGame, *, prior: str | Sequence[np.ndarray] = "centroid",
                   eta: float = 0.1, restarts: int = 4, seed: int = 0, tol: float = 1e-8,
                   first_step: float = 0.1, max_accel: float = 2.0,
                   max_iterations: int = 10000, cpu_seconds: float | None = None,
                   progress: bool | Callable[[int, float], None] = False) -> SolverResult:
    """A stationary Markov perfect equilibrium by the logit tracing procedure from a prior.

    Harsanyi and Selten's tracing procedure, smoothed by entropy as the logarithmic tracing
    procedure is by a logarithmic barrier, in every state of the discounted game (Herings and
    Peeters 2004; Eibelshaeuser and Poensgen 2019, ``sgamesolver.homotopy.LogTracing``). With
    path parameter ``lam >= 0``, precision ``p = (1 + lam) / eta`` (rewards divided by their
    range) and prior weight ``w = 1 / (1 + lam)``, player ``i`` in state ``s`` faces the others
    playing the profile ``sigma_-i(s)`` with probability ``1 - w`` and the prior ``rho_-i(s)``
    with probability ``w``, and plays

        sigma_i(s) = softmax(p * Q~_i(s, .)),
        V_i(s) = sum_a sigma_i(s, a) (Q~_i(s, a) - log sigma_i(s, a) / p),

    where ``Q~_i`` are the continuation payoffs against that mixture. At ``lam = 0`` each
    player solves her own entropy-regularised MDP against the prior (unique); as
    ``lam -> infinity`` the mixture becomes ``sigma`` and the smoothing vanishes, so the path
    ends at a stationary equilibrium, the one the prior selects. The path is followed by the
    package's continuation engine with the same block-eliminated Jacobian, support polish and
    exact certificate as :func:`markov_qre_homotopy`. Its shape depends on the prior: where one
    path is long (folds back and forth in ``lam``), another prior gives another path.

    Parameters
    ----------
    game : MarkovGame
        As for :func:`markov_qre_homotopy`.
    prior : "centroid" or sequence of arrays
        The first path's prior: uniform policies, or one ``(S, n_i)`` policy per player (rows on
        the simplex, every entry > 0).
    eta : float
        Entropy weight at the start, relative to the reward range (> 0). Small values start
        near the best reply to the prior (the linear tracing procedure); large ones near
        uniform play.
    restarts : int
        Further paths, each from a random prior (Dirichlet(1) rows drawn with ``seed``), tried
        in turn while no path has certified an equilibrium.
    seed : int
        Seed of the random priors.
    tol, first_step, max_accel, max_iterations, progress
        As for :func:`markov_qre_homotopy` (``max_iterations`` per path).
    cpu_seconds : float, optional
        CPU-time budget of the call, shared equally by the paths still to run.

    Returns
    -------
    SolverResult
        As :func:`markov_qre_homotopy`; status ``"success"`` only for a profile whose exact
        regret is at most ``tol``. ``extra`` adds ``paths`` (how many were traced) and
        ``prior`` (``"centroid"``, ``"given"`` or ``"random k"``: the one that certified, or the
        last one).

    Raises
    ------
    TypeError
        If ``game`` is not a MarkovGame.
    HomotopyInputError
        For partially observed games, ``discount == 1`` or invalid options.

    Examples
    --------
    Stag hunt repeated forever: against the uniform prior hare (3) beats stag (2), so the
    procedure selects (hare, hare); a prior that expects stag selects (stag, stag).

    >>> import numpy as np
    >>> from gametools import MarkovGame
    >>> from gametools.solvers.homotopy import markov_tracing
    >>> row = np.array([[4.0, 0.0], [3.0, 3.0]])
    >>> game = MarkovGame(np.ones((1, 2, 2, 1)), np.stack([row, row.T])[:, None], [1.0], 0.9)
    >>> [np.round(p, 6).tolist() for p in markov_tracing(game).equilibria[0].strategies]
    [[[0.0, 1.0]], [[0.0, 1.0]]]
    >>> stag = markov_tracing(game, prior=[np.array([[0.9, 0.1]])] * 2)
    >>> [np.round(p, 6).tolist() for p in stag.equilibria[0].strategies]
    [[[1.0, 0.0]], [[1.0, 0.0]]]
    """
    started = time.perf_counter()
    game = _check_game(game)
    if not game.fully_observed:
        result = markov_tracing(state_game(game), prior=prior, eta=eta, restarts=restarts,
                                seed=seed, tol=tol, first_step=first_step, max_accel=max_accel,
                                max_iterations=max_iterations, cpu_seconds=cpu_seconds,
                                progress=progress)
        return lift_to_observations(game, result)
    _check_options(tol=tol, first_step=first_step, max_iterations=max_iterations, eta=eta)
    if cpu_seconds is not None:
        _check_options(cpu_seconds=cpu_seconds)
    if not isinstance(max_accel, (int, float)) or not max_accel > 1.0:
        raise HomotopyInputError(f"max_accel must be > 1 (got {max_accel!r})")
    if not isinstance(restarts, int) or restarts < 0:
        raise HomotopyInputError(f"restarts must be an integer >= 0 (got {restarts!r})")
    if isinstance(prior, str) and prior != "centroid":
        raise HomotopyInputError(f"prior must be 'centroid' or one policy per player "
                                 f"(got {prior!r})")
    priors: list[tuple[str, Sequence[np.ndarray] | None]] = [
        ("centroid", None) if isinstance(prior, str) else ("given", _check_prior(game, prior))]
    generator = np.random.default_rng(seed)
    priors += [(f"random {k + 1}", None) for k in range(restarts)]
    cpu_start = time.process_time()
    callback = progress if callable(progress) else None
    bar = _Progress(bool(progress) and callback is None)
    target = _MarkovQRE(game)
    control = StepControl(*_STEP_CONTROL, max_accel=float(max_accel),
                          corrector_tol=_CORRECTOR_TOL)
    outcome, name, paths = None, "centroid", 0
    for index, (name, policies) in enumerate(priors):
        if policies is None:
            policies = ([np.full((game.num_states, n), 1.0 / n) for n in game.num_actions]
                        if name == "centroid" else
                        [generator.dirichlet(np.ones(n), size=game.num_states)
                         for n in game.num_actions])
        deadline = None
        if cpu_seconds is not None:
            left = cpu_start + cpu_seconds - time.process_time()
            if left <= 0.0:
                break
            deadline = time.process_time() + left / (len(priors) - index)
        paths += 1
        system = _MarkovTracing(game, policies, eta)
        attempt = _follow(game, system, target, tol=tol, first_step=first_step,
                          max_iterations=max_iterations, lam_limit_units=None, polish=True,
                          control=control, bar=bar, callback=callback, record=False,
                          deadline=deadline)
        if attempt.best is None and attempt.candidates:
            # a certified polish the path had not yet confirmed: certified all the same
            attempt.best, attempt.polished, attempt.status = attempt.candidates[0][0], True, \
                "success"
            attempt.message = ("support polish along the path (not confirmed by the path: "
                               + attempt.state.message + ")")
        outcome = attempt
        if attempt.best is not None and attempt.best.regret <= tol:
            break
        # the profile where a failed path ended may still be certified
        ended = make_markov_equilibrium(game, system.policies(attempt.state.point))
        if ended.regret <= tol:
            attempt.best, attempt.status, attempt.message = ended, "success", \
                "reached tol on the path"
            break
    bar.close()
    if outcome is None:  # the budget ran out before a path started
        equilibrium = make_markov_equilibrium(game, [np.full((game.num_states, n), 1.0 / n)
                                                     for n in game.num_actions])
        return SolverResult((equilibrium,), method="tracing", status="failed", iterations=0,
                            message="CPU-time budget (cpu_seconds) ran out before a path "
                                    "started", extra={"paths": 0, "prior": name})
    result = _summarize(game, outcome, tol=tol, started=started, recoveries=0,
                        return_path=False, method="tracing")
    message = result.message if paths == 1 else f"{result.message} (path {paths}, prior {name})"
    return dataclasses.replace(result, message=message,
                               extra=dict(result.extra, paths=paths, prior=name))


def _check_prior(game: MarkovGame, prior: Sequence[np.ndarray]) -> list[np.ndarray]:
    policies = [np.asarray(p, dtype=float) for p in prior]
    if len(policies) != game.num_players or any(
            p.shape != (game.num_states, n) for p, n in zip(policies, game.num_actions)):
        raise HomotopyInputError("prior must hold one (num_states, num_actions[i]) policy per "
                                 "player")
    for p in policies:
        if not np.all(np.isfinite(p)) or p.min() <= 0.0 \
                or np.abs(p.sum(axis=1) - 1.0).max() > 1e-9:
            raise HomotopyInputError("every prior row must be a distribution with entries > 0")
    return policies


def _summarize(game: MarkovGame, outcome: _Outcome, *, tol: float, started: float,
               recoveries: int, return_path: bool, method: str) -> SolverResult:
    """The result of a traced path: its certified profile (or best point) and statistics."""
    system, state, stats = outcome.system, outcome.state, outcome
    scale = system.scale
    best, polished_found, status, message = (outcome.best, outcome.polished, outcome.status,
                                             outcome.message)
    y = state.point
    if best is None:
        best = make_markov_equilibrium(game, system.policies(y))
        if best.regret <= tol:
            status, message = "success", "reached tol on the path"
        for entry in outcome.candidates:  # unconfirmed but certified candidates beat a failure
            if best.regret > tol and entry[0].regret <= tol:
                best, polished_found = entry[0], True
                status = "success"
                message = ("support polish along the path (not confirmed by the path: "
                           + message + ")")
    if best.regret > tol or status != "success":
        status = "failed"
    lam = float(y[-1])
    extra: dict[str, Any] = {
        "steps": state.steps, "rejected_steps": state.rejected,
        "corrector_iterations": state.corrector_iterations, "jacobians": state.jacobians,
        "dense_fallbacks": system.dense_fallbacks, "polish_attempts": stats.polish_attempts,
        "polish_iterations": stats.polish_iterations, "polished": polished_found,
        "turning_points": state.turning_points, "bifurcations": state.bifurcations,
        "branch_switches": state.branch_switches,
        "recoveries": recoveries, "lambda": lam / scale, "t": lam / (1.0 + lam),
        "arc_length": state.arc_length, "time_s": time.perf_counter() - started}
    if return_path:
        points = np.asarray(state.path)
        beta = points[:, :system.size_local].reshape(len(points), system.num_states, system.m)
        extra["path"] = {
            "lambda": points[:, -1] / scale,
            "policies": [np.exp(beta[..., o:e]) / np.exp(beta[..., o:e]).sum(axis=2, keepdims=True)
                         for o, e in zip(system.offsets[:-1], system.offsets[1:])],
            "values": points[:, system.size_local:system.dim].reshape(
                len(points), system.num_players, system.num_states) * scale}
    return SolverResult((best,), method=method, status=status,  # type: ignore[arg-type]
                        iterations=state.steps, message=message, extra=extra)


@dataclass
class _Outcome:
    """What one traced path produced (certified on the original game)."""

    system: _MarkovQRE
    state: PathState
    best: Equilibrium | None = None
    polished: bool = False
    status: str = "failed"
    message: str = ""
    candidates: list[list[Any]] = field(default_factory=list)
    polish_attempts: int = 0
    polish_iterations: int = 0


def _follow(game: MarkovGame, system: _MarkovQRE, target: _MarkovQRE, *, tol: float,
            first_step: float, max_iterations: int, lam_limit_units: float | None, polish: bool,
            control: StepControl, bar: _Progress, callback: Callable[[int, float], None] | None,
            record: bool, deadline: float | None = None) -> _Outcome:
    """Trace the Markov-QRE path of ``system``; polish and certify on ``target`` (``game``).

    ``target`` is ``system`` itself, or the original game when ``system`` is a perturbed copy.
    """
    scale = system.scale
    lam_limit = 1e12 if lam_limit_units is None else lam_limit_units * scale
    outcome = _Outcome(system, PathState(system.start(), np.zeros(system.dim + 1),
                                         system.start()))
    candidates = outcome.candidates  # [equilibrium, lam_ref, distance_ref]
    tried: dict[bytes, float] = {}
    highest = [0.0]  # the largest lam at which a polish was attempted
    previous_keys: list[bytes] = []
    value_ratio = system.scale / target.scale

    def try_polish(point: np.ndarray, direction: np.ndarray) -> None:
        lam = float(point[-1])
        policies = system.policies(point)
        beta, _ = system.split(point)
        beta_rate, _ = system.split(direction)
        # The support the path is heading for: along the path, the log-probability ratio
        # d = beta(a) - max beta of an action that vanishes falls like -gap * lam, so its
        # elasticity lam * dd/dlam tends to -infinity, while the ratio of a support action
        # converges (elasticity -> 0). This separates supports once lam * gap is of order 1,
        # long before the probabilities themselves are small.
        elasticity = []
        for b, rate in zip(system.per_player(beta), system.per_player(beta_rate)):
            top = np.argmax(b, axis=1)[:, None]
            elasticity.append(lam * (rate - np.take_along_axis(rate, top, axis=1))
                              / float(direction[-1]))
        keys = []
        for kappa in (1.0, 4.0):
            supports = [(e > -kappa) & (p >= 1e-12 * p.max(axis=1, keepdims=True))
                        for e, p in zip(elasticity, policies)]
            key = b"".join(np.packbits(s).tobytes() for s in supports)
            keys.append(key)
            # polish a support only once the path has suggested it twice in a row: Newton
            # steps cost as much as path steps, and a support still in flux is rarely right
            if key in previous_keys:
                attempt(key, lam, policies, system.split(point)[1] * value_ratio, supports)
        previous_keys[:] = keys

    def attempt(key: bytes, lam: float, policies: list[np.ndarray], values: np.ndarray,
                supports: list[np.ndarray]) -> None:
        if key in tried and lam < 2.0 * tried[key]:
            return
        # On a path that folds back and forth in lam the suggested supports change all the
        # time; polishing each (a few Newton steps, each as dear as a path step) would cost
        # more than the path. One attempt per _POLISH_GROWTH increase of the largest lam tried:
        # on the straight stretch towards the end lam grows faster than that per step anyway.
        if lam < _POLISH_GROWTH * highest[0]:
            return
        highest[0] = lam
        tried[key] = lam
        outcome.polish_attempts += 1
        polished, polished_values, converged, iterations = target.polish(
            policies, values.copy(), supports)
        outcome.polish_iterations += iterations
        if not converged or min(float(p.min()) for p in polished) < -1e-9:
            return
        cleaned = [np.clip(p, 0.0, None) for p in polished]
        cleaned = [p / p.sum(axis=1, keepdims=True) for p in cleaned]
        # one-shot deviation gains bound the exact regret by gain / (1 - gamma): screen cheaply
        if target.gains(cleaned, polished_values) > 10.0 * tol:
            return
        equilibrium = make_markov_equilibrium(game, cleaned)
        if equilibrium.regret > tol:
            return
        distance = max(float(np.abs(a - b).max()) for a, b in zip(cleaned, policies))
        candidates.append([equilibrium, lam, distance])

    def confirmed(point: np.ndarray, lam_velocity: float) -> Equilibrium | None:
        """A candidate the path keeps approaching while lam doubles (see module docstring)."""
        lam = float(point[-1])
        policies = system.policies(point)
        kept = []
        for candidate in candidates:
            equilibrium, lam_ref, distance_ref = candidate
            distance = max(float(np.abs(a - b).max())
                           for a, b in zip(equilibrium.strategies, policies))
            if distance <= 1e-9:
                return equilibrium  # the path itself has arrived there
            if lam < 2.0 * lam_ref:
                kept.append(candidate)
                continue
            if lam_velocity > 0 and distance <= 0.6 * distance_ref:
                return equilibrium
        candidates[:] = kept
        return None

    reported = [0]

    def stop(state: PathState) -> bool:
        y, tangent = state.point, state.tangent
        lam = float(y[-1])
        bar.update(lam / (1.0 + lam), lam / scale, state.steps)
        if callback is not None and state.steps > reported[0]:
            reported[0] = state.steps
            callback(state.steps, lam / scale)
        if polish and state.steps > 0 and tangent[-1] > 0:
            found = confirmed(y, float(tangent[-1]))
            if found is not None:
                outcome.best, outcome.polished, outcome.status = found, True, "success"
                outcome.message = "support polish of the path's end, confirmed along the path"
                return True
            try_polish(y, tangent)
        if lam > lam_limit:
            outcome.message = "lambda exceeded max_lambda before reaching tol"
            return True
        if deadline is not None and time.process_time() > deadline:
            state.status = "max_iterations"
            state.message = (f"CPU-time budget (cpu_seconds) ran out after {state.steps} steps "
                             f"at lambda {lam / scale:.6g}")
            return True
        return False

    outcome.state = trace_path(system, system.start(), first_step=first_step,
                               max_iterations=max_iterations, stop=stop, control=control,
                               lambda_min=0.0, record=record)
    if outcome.best is None and outcome.state.status != "stopped":
        outcome.message = outcome.state.message
    return outcome
