"""Markov decision processes: exact policy evaluation, policy iteration, a player's MDP.

The pieces every evaluator and solver of Markov games shares:

- :func:`contract_players`: a per-state payoff or transition tensor with some players' policies
  summed out (every player but ``i``: player ``i``'s action values), and
  :func:`joint_distribution`, the per-state product of the players' policies
  (:func:`joint_policy` for observation-indexed policies);
- :func:`markov_arrays`: a game's transitions and rewards with terminal states made absorbing
  and payless (:class:`MarkovArrays`), with :meth:`MarkovArrays.chain`, the state chain of a
  joint policy, and :meth:`MarkovArrays.player_mdp`, player ``i``'s MDP when every other
  player's policy is contracted away;
- :func:`evaluate_policy`: ``(I - gamma P) V = r`` solved by the cheapest exact method (dense
  LU, sparse direct, triangular or Krylov), with a rigorous bound on the error of ``V``;
- :func:`policy_iteration` and :func:`greedy_policy` on an MDP.

References
----------
M. L. Puterman, *Markov Decision Processes*, Wiley 1994, ch. 6 (policy iteration). N. J. Higham,
*Accuracy and Stability of Numerical Algorithms*, 2nd ed., SIAM 2002, sec. 3.1 and 7.1
(residual-based error bounds).

Examples
--------
>>> import numpy as np
>>> import scipy.sparse as sp
>>> from gametools.mdp import evaluate_policy
>>> chain = sp.csr_array(np.array([[0.0, 1.0], [0.0, 1.0]]))  # 0 -> 1, 1 stays
>>> values, error, amplification = evaluate_policy(chain, np.array([[1.0], [1.0]]), 0.5)
>>> values.round(12).tolist(), amplification
([[2.0, 2.0]], 2.0)
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import scipy.sparse as sp

from gametools.errors import GametoolsError
from gametools.model import MarkovGame
from gametools.numerics import gamma

__all__ = ["DENSE_STATE_LIMIT", "Evaluation", "JointChain", "MarkovArrays", "contract_players",
           "evaluate_policy", "greedy_policy", "joint_distribution", "joint_policy",
           "markov_arrays", "policy_iteration"]

#: Games with at most this many states are solved with dense LU factorisations.
DENSE_STATE_LIMIT = 1500


class Evaluation(NamedTuple):
    """Result of :func:`evaluate_policy`.

    Attributes
    ----------
    values : ndarray, shape (k, S)
        One row of state values per reward column.
    error : float
        Bound on ``max |values - exact values|``.
    amplification : float
        ``||(I - discount * P)^{-1}||_inf``.
    """

    values: np.ndarray
    error: float
    amplification: float


def contract_players(tensor: np.ndarray, policies: Sequence[np.ndarray],
                     keep: Sequence[int] = ()) -> np.ndarray:
    """Sum the action axes of ``tensor`` against per-state policies, except the kept players'.

    Parameters
    ----------
    tensor : ndarray, shape (S, n_1, ..., n_N, *rest)
    policies : sequence of ndarray, shape (S, n_k) each
        Player ``k``'s action distribution in every state.
    keep : sequence of int
        Players whose axes stay (``(i,)``: contract every player but ``i``).

    Returns
    -------
    ndarray, shape (S, *n_keep, *rest)
        Kept axes in player order: ``sum_{a_-keep} prod_{k not kept} policies[k][s, a_k]
        tensor[s, a_1, ..., a_N, ...]``.
    """
    num_players = len(policies)
    operands: list[Any] = [tensor, [num_players, *range(num_players), Ellipsis]]
    for k, policy in enumerate(policies):
        if k not in keep:
            operands += [policy, [num_players, k]]
    if len(operands) == 2:
        return tensor
    return np.einsum(*operands, [num_players, *sorted(keep), Ellipsis])


def joint_distribution(policies: Sequence[np.ndarray]) -> np.ndarray:
    """Per-state product distribution ``(S, n_1 * ... * n_N)``, joint actions in C order.

    ``policies[k]`` ``(S, n_k)`` is player ``k``'s action distribution in every state (a row of
    ones stands for a player left out, as in the weights of ``pi_-i``).
    """
    joint = np.asarray(policies[0])
    for policy in policies[1:]:
        joint = (joint[:, :, None] * policy[:, None, :]).reshape(joint.shape[0], -1)
    return joint


def joint_policy(game: MarkovGame, profile: Sequence[np.ndarray], skip: int | None = None
                 ) -> np.ndarray:
    """``P(a | s) = prod_j pi_j(a_j | o_j(s))`` for every state and joint action, ``(S, A)``.

    Parameters
    ----------
    game : MarkovGame
    profile : sequence of ndarray, shape (O_j, n_j) each
        Observation-indexed policies (validated).
    skip : int, optional
        A player whose factor is 1: the result is then the weights of ``pi_-i``.
    """
    return joint_distribution([
        np.ones((game.num_states, game.num_actions[j])) if j == skip
        else np.asarray(policy)[game.observations[j]] for j, policy in enumerate(profile)])


@dataclass(frozen=True)
class MarkovArrays:
    """Flattened arrays of a game; states outside ``live`` pay nothing and lead nowhere.

    Attributes
    ----------
    game : MarkovGame
    live : ndarray of bool, shape (S,)
        The states evaluated (non-terminal by default).
    transitions : scipy.sparse.csr_array, shape (S * A, S)
        Row ``s * A + a`` is ``P(. | s, a)`` for live ``s``, zero otherwise (``A`` joint actions).
    rewards : ndarray, shape (N, S, A)
        ``r_i(s, a)`` at live states, zero otherwise.
    """

    game: MarkovGame
    live: np.ndarray
    transitions: sp.csr_array
    rewards: np.ndarray

    def stage_payoffs(self, values: np.ndarray) -> np.ndarray:
        """``r_i(s, a) + gamma * E[values_i(s') | s, a]`` for all states, shape ``(N, S, A)``.

        ``values`` has shape ``(N, S)``.
        """
        game = self.game
        expected = (self.transitions @ np.asarray(values, dtype=float).T)  # (S * A, N)
        expected = expected.T.reshape(game.num_players, game.num_states, game.num_joint_actions)
        return self.rewards + game.discount * expected

    def chain(self, joint: np.ndarray) -> sp.csr_array:
        """State-to-state transition matrix ``(S, S)`` of a joint policy ``(S, A)``."""
        num_states, num_joint = self.game.num_states, self.game.num_joint_actions
        mixer = sp.csr_array((np.asarray(joint, dtype=float).ravel(), np.arange(joint.size),
                              np.arange(0, joint.size + 1, num_joint)),
                             shape=(num_states, joint.size))
        return sp.csr_array(mixer @ self.transitions)

    def player_mdp(self, weights: np.ndarray, player: int, rewards: np.ndarray | None = None
                   ) -> tuple[sp.csr_array, np.ndarray]:
        """Player ``i``'s MDP when the others play ``weights``: every player but ``i`` contracted.

        Parameters
        ----------
        weights : ndarray, shape (S, A)
            ``prod_{j != i} pi_j(a_j | s)`` for every joint action (player ``i``'s factor 1).
        player : int
        rewards : ndarray, shape (S, A), optional
            The reward table contracted (player ``i``'s own rewards by default).

        Returns
        -------
        transitions : scipy.sparse.csr_array, shape (S * n_i, S)
        rewards : ndarray, shape (S, n_i)
        """
        game = self.game
        num_states, n_i = game.num_states, game.num_actions[player]
        own = np.unravel_index(np.arange(game.num_joint_actions), game.num_actions)[player]
        rows = (np.arange(num_states)[:, None] * n_i + own[None, :]).ravel()
        mixer = sp.csr_array((weights.ravel(), (rows, np.arange(weights.size))),
                             shape=(num_states * n_i, weights.size))
        table = self.rewards[player] if rewards is None else rewards
        return (sp.csr_array(mixer @ self.transitions),
                (mixer @ np.asarray(table).ravel()).reshape(num_states, n_i))


def markov_arrays(game: MarkovGame, live: np.ndarray | None = None) -> MarkovArrays:
    """The game's :class:`MarkovArrays`; ``live`` defaults to the non-terminal states."""
    live = ~game.terminal if live is None else np.asarray(live, dtype=bool)
    num_joint = game.num_joint_actions
    matrix = game.transition_matrix
    if live.all():
        transitions = matrix  # nothing to remove: share the game's matrix (read-only)
    else:
        # drop the rows of states outside ``live`` (no product with a diagonal matrix: at 10^6
        # states that costs another copy of the game and its temporaries)
        keep = np.repeat(np.repeat(live, num_joint), np.diff(matrix.indptr))
        transitions = sp.csr_array((np.where(keep, matrix.data, 0.0), matrix.indices.copy(),
                                    matrix.indptr.copy()), shape=matrix.shape)
        transitions.eliminate_zeros()
    rewards = (game.rewards.reshape(game.num_players, game.num_states, num_joint)
               * live[None, :, None])
    return MarkovArrays(game, live, transitions, rewards)


def evaluate_policy(chain: sp.csr_array, rewards: np.ndarray, discount: float,
                    order: np.ndarray | None = None) -> Evaluation:
    """Solve ``(I - discount * chain) V = rewards`` for every column.

    Returns :class:`Evaluation` ``(values, error, amplification)``: ``values`` is ``V.T``, shape
    ``(k, S)`` for ``rewards`` of shape ``(S, k)``; ``error`` bounds ``max |V - V_true|``;
    ``amplification`` is
    ``||(I - discount * chain)^{-1}||_inf``, the factor turning a per-step error into a value
    error: ``1 / (1 - discount)``, or for discount 1 the largest expected number of steps to
    termination (solved for alongside, as one more right-hand side of ones).

    The error is the computed residual plus a bound on the rounding in computing it (Higham's
    ``gamma_{w+3}`` times the magnitudes, ``w`` the widest row), times the amplification.
    ``order`` lists the states so that every transition goes forward (acyclic games): the
    permuted system is then upper triangular and one back substitution solves it.

    Raises
    ------
    GametoolsError
        When the system is singular or too ill-conditioned for float64 (an expected number of
        steps to termination beyond ``1e12``, as when a stay probability rounds to 1).
    """
    size = chain.shape[0]
    count = rewards.shape[1]
    columns = rewards if discount < 1.0 else np.column_stack([rewards, np.ones(size)])
    solution = _linear_solve(chain, columns, discount, order)
    if not np.all(np.isfinite(solution)):
        raise GametoolsError(_SINGULAR)
    residual = columns - (solution - discount * (chain @ solution))
    if discount < 1.0:
        amplification = 1.0 / (1.0 - discount)
    else:
        steps = solution[:, count]
        step_error = float(np.abs(residual[:, count]).max()) if size else 0.0
        # ||(I - P)^{-1}||_inf = max expected steps; its own error is at most steps * residual
        amplification = max(1.0, float(steps.max()) if size else 1.0) * (1.0 + step_error) + 1.0
        if amplification > _MAX_AMPLIFICATION or step_error > 0.5:
            raise GametoolsError(_SINGULAR)
    values = solution[:, :count]
    width = int(np.diff(chain.indptr).max()) if chain.nnz else 0
    magnitude = ((float(np.abs(rewards).max()) if rewards.size else 0.0)
                 + 2.0 * (float(np.abs(values).max()) if values.size else 0.0))
    computed = float(np.abs(residual[:, :count]).max()) if values.size else 0.0
    error = (computed + gamma(width + 3) * magnitude) * amplification
    return Evaluation(values.T, error, amplification)


#: Largest ``||(I - discount * P)^{-1}||`` evaluated; beyond it float64 values carry no digits.
_MAX_AMPLIFICATION = 1e12

_SINGULAR = ("the policy evaluation system is singular or too ill-conditioned for float64 "
             "(some state is left with probability that rounds to 0, or an expected number of "
             "steps to termination above 1e12); use a discount < 1 or larger exit probabilities")


def _linear_solve(chain: sp.csr_array, columns: np.ndarray, discount: float,
                  order: np.ndarray | None) -> np.ndarray:
    """``(I - discount * chain)^{-1} columns`` by the cheapest exact method; ``(S, k)``."""
    import scipy.linalg  # imported on first use: `gametools solve` on a small file never needs it
    import scipy.sparse.linalg as spla

    size = chain.shape[0]
    with warnings.catch_warnings():
        # singular and ill-conditioned systems are detected from the solution and residual
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
        warnings.simplefilter("ignore", spla.MatrixRankWarning)
        try:
            if order is not None and size > DENSE_STATE_LIMIT:
                system = (sp.eye_array(size, format="csr") - discount * chain)[order][:, order]
                if sp.tril(system, k=-1).nnz == 0:
                    permuted = spla.spsolve_triangular(system.tocsr(), columns[order],
                                                       lower=False)
                    solution = np.empty_like(permuted)
                    solution[order] = permuted
                    return solution
            if size <= DENSE_STATE_LIMIT:
                system = np.eye(size) - discount * chain.toarray()
                return scipy.linalg.solve(system, columns, check_finite=False)
            system = (sp.eye_array(size, format="csc") - discount * chain.tocsc()).tocsc()
            if discount == 1.0:
                return np.asarray(spla.spsolve(system, columns)).reshape(size, -1)
            return np.column_stack([_krylov(system, column, discount) for column in columns.T])
        except (np.linalg.LinAlgError, ValueError, RuntimeError) as exc:
            if isinstance(exc, ValueError) and "singular" not in str(exc).lower():
                raise
            raise GametoolsError(_SINGULAR) from None


def _krylov(system: sp.csc_array, rhs: np.ndarray, discount: float) -> np.ndarray:
    import scipy.sparse.linalg as spla

    scale = float(np.abs(rhs).max()) or 1.0
    solution, info = spla.gmres(system, rhs, rtol=1e-13, atol=1e-14 * scale, restart=60,
                                maxiter=200)
    if info != 0:  # slow Krylov convergence: fall back to a direct factorisation
        solution = spla.spsolve(system, rhs)
    return solution


class JointChain:
    """A game's state-to-state chain under joint policies, applied without forming it.

    Under a joint policy with per-state weights ``joint`` ``(S, A)``,
    ``P_pi[s, s'] = sum_a joint[s, a] P(s' | s, a)`` has up to ``A * K`` entries per row (``K``
    successors per joint action): at ``10^6`` states and 16 joint actions, more memory than the
    game. Here ``P_pi @ V`` is computed as the ``joint``-weighted sum of ``(P @ V)`` reshaped
    ``(S, A, k)``, and a player's MDP against the others' weights the same way, so only
    ``(S, A)``-sized arrays are ever formed. The linear systems are solved by GMRES through a
    :class:`scipy.sparse.linalg.LinearOperator`, warm-started and refined, with the same
    residual-based error bound as :func:`evaluate_policy` (discount below 1 only).

    Parameters
    ----------
    transitions : scipy.sparse.csr_array, shape (S * A, S)
        Row ``s * A + a`` is ``P(. | s, a)`` (zero rows at terminal states).
    num_actions : tuple of int
        Each player's number of actions (``A`` their product, joint actions in C order).
    discount : float
        In ``[0, 1)``.
    """

    def __init__(self, transitions: sp.csr_array, num_actions: Sequence[int],
                 discount: float) -> None:
        if not discount < 1.0:
            raise GametoolsError("JointChain needs a discount below 1")
        self.transitions = transitions
        self.num_actions = tuple(int(n) for n in num_actions)
        self.num_joint = int(np.prod(self.num_actions))
        self.num_states = transitions.shape[1]
        self.discount = float(discount)
        # rounding depth of one row of P_pi @ V: the K products and sums of a transition row,
        # the A weighted terms, and the multiplications by weights
        widest = int(np.diff(transitions.indptr).max()) if transitions.nnz else 0
        self.width = widest + self.num_joint + 2

    def expected(self, values: np.ndarray) -> np.ndarray:
        """``E[values(s') | s, a]``, shape ``(S, A, k)`` for ``values`` ``(S, k)``."""
        # one sparse product per column: scipy's multi-column kernel is slower than k single ones
        columns = [np.asarray(self.transitions @ np.ascontiguousarray(values[:, c]))
                   for c in range(values.shape[1])]
        return np.stack(columns, axis=-1).reshape(self.num_states, self.num_joint, -1)

    def apply(self, joint: np.ndarray, values: np.ndarray) -> np.ndarray:
        """``P_pi @ values`` for ``values`` ``(S, k)``: shape ``(S, k)``.

        ``joint`` is ``(S, A)`` (one policy for every column) or ``(k, S, A)`` (column ``c``
        under policy ``joint[c]``); one product with the transition matrix serves all columns.
        """
        kernel = _compiled_chain_product()
        if kernel is not None:
            block = np.ascontiguousarray(values, dtype=float)
            weights = joint[None] if joint.ndim == 2 else joint
            out = np.zeros((self.num_states, block.shape[1]))
            matrix = self.transitions
            kernel(matrix.indptr, matrix.indices, matrix.data,
                   np.ascontiguousarray(weights, dtype=float), block, self.num_joint, out)
            return out
        expected = self.expected(values)
        if joint.ndim == 2:
            return np.einsum("sa,sak->sk", joint, expected)
        return np.einsum("ksa,sak->sk", joint, expected)

    def evaluate(self, joint: np.ndarray, rewards: np.ndarray,
                 start: np.ndarray | None = None) -> Evaluation:
        """Solve ``(I - discount * P_pi) V = rewards`` (``rewards`` ``(S, k)``), as
        :func:`evaluate_policy` does; ``joint`` as in :meth:`apply`, ``start`` ``(S, k)`` an
        initial guess.

        The ``k`` systems are solved together by restarted GMRES in lockstep (each iteration
        one sparse product for all columns), then the residual is recomputed and bounds the
        error: ``(residual + gamma_{w+3} * magnitude) / (1 - discount)``.
        """
        size, count = rewards.shape
        discount = self.discount

        def operator(block: np.ndarray) -> np.ndarray:
            return block - discount * self.apply(joint, block)

        solution = (np.zeros((size, count)) if start is None
                    else np.array(start, dtype=float).reshape(size, count))
        scale = float(np.abs(rewards).max()) if rewards.size else 0.0
        target = _KRYLOV_TOLERANCE * (scale + 1e-300)
        residual = rewards - operator(solution)
        for _ in range(_REFINEMENTS):
            if not residual.size or float(np.abs(residual).max()) <= target:
                break
            solution += _lockstep_gmres(operator, residual, target)
            residual = rewards - operator(solution)
        if not np.all(np.isfinite(solution)):
            raise GametoolsError(_SINGULAR)
        amplification = 1.0 / (1.0 - discount)
        magnitude = scale + 2.0 * (float(np.abs(solution).max()) if solution.size else 0.0)
        computed = float(np.abs(residual).max()) if residual.size else 0.0
        error = (computed + gamma(self.width + 3) * magnitude) * amplification
        return Evaluation(solution.T, error, amplification)

    def player_q(self, weights: np.ndarray, player: int, rewards: np.ndarray,
                 values: np.ndarray) -> np.ndarray:
        """Player ``i``'s action values ``(S, n_i)`` against the others' ``weights`` ``(S, A)``.

        ``rewards`` ``(S, A)`` is the player's reward table, ``values`` ``(S,)`` its
        continuation values: ``sum_{a_-i} weights * (rewards + discount * E[values])``.
        """
        stage = rewards + self.discount * self.expected(values[:, None])[:, :, 0]
        return self._contract(weights * stage, player)

    def _contract(self, table: np.ndarray, player: int) -> np.ndarray:
        shape = (self.num_states, *self.num_actions)
        axes = tuple(1 + j for j in range(len(self.num_actions)) if j != player)
        return table.reshape(shape).sum(axis=axes)

    def policy_iteration(self, weights: np.ndarray, player: int, rewards: np.ndarray,
                         start: np.ndarray | None = None, *, max_iterations: int = 1000
                         ) -> tuple[np.ndarray, np.ndarray, float]:
        """Player ``i``'s best response to the others' ``weights`` by policy iteration.

        As :func:`policy_iteration` on the player's MDP (same improvement margin and error
        bound), without forming it. ``start`` ``(S,)`` is an initial state value guess (the
        policy starts greedy at it; action 0 everywhere when None).

        Returns
        -------
        values : ndarray, shape (S,)
        actions : ndarray of int, shape (S,)
        tolerance : float
        """
        return self.best_responses([weights], [player], [rewards], [start],
                                   max_iterations=max_iterations)[0]

    def _evaluate_own(self, weights: np.ndarray, player: int, rewards: np.ndarray,
                      actions: np.ndarray, guess: np.ndarray) -> tuple[np.ndarray, float, float]:
        """Values ``(S,)`` of a deterministic policy of ``player`` against ``weights``, with
        :meth:`evaluate`'s error bound and amplification.

        Only the transition rows of the joint actions that include the player's chosen action
        are used (``A / n_i`` per state), copied into a smaller :class:`JointChain`: every
        Krylov step then reads ``1 / n_i`` of the game.
        """
        joint_actions = _own_joint_actions(self.num_actions, player)[actions]  # (S, A / n_i)
        rows = (np.arange(self.num_states)[:, None] * self.num_joint + joint_actions).ravel()
        reduced = JointChain(sp.csr_array(self.transitions[rows]),
                             (joint_actions.shape[1],), self.discount)
        own_weights = np.take_along_axis(weights, joint_actions, axis=1)
        own_rewards = np.einsum("sa,sa->s", own_weights,
                                np.take_along_axis(rewards, joint_actions, axis=1))
        solution, tolerance, amplification = reduced.evaluate(own_weights, own_rewards[:, None],
                                                              guess[:, None])
        return solution[0], tolerance, amplification

    def best_responses(self, weights: Sequence[np.ndarray], players: Sequence[int],
                       rewards: Sequence[np.ndarray], starts: Sequence[np.ndarray | None],
                       *, max_iterations: int = 1000
                       ) -> list[tuple[np.ndarray, np.ndarray, float]]:
        """:meth:`policy_iteration` for several players at once.

        Every round evaluates the current policy of each player not yet done on the transition
        rows that policy uses (:meth:`_evaluate_own`), then improves it.
        """
        num_states = self.num_states
        everywhere = np.arange(num_states)
        actions, guesses = [], []
        for w, i, r, start in zip(weights, players, rewards, starts):
            if start is None:
                actions.append(np.zeros(num_states, dtype=int))
                guesses.append(np.zeros(num_states))
            else:
                actions.append(np.argmax(self.player_q(w, i, r, start), axis=1))
                guesses.append(np.asarray(start, dtype=float))
        results: list[tuple[np.ndarray, np.ndarray, float] | None] = [None] * len(players)
        for _ in range(max_iterations):
            pending = [c for c in range(len(players)) if results[c] is None]
            if not pending:
                return [r for r in results if r is not None]
            for c in pending:
                values, tolerance, amplification = self._evaluate_own(
                    weights[c], players[c], rewards[c], actions[c], guesses[c])
                q = self.player_q(weights[c], players[c], rewards[c], values)
                current = q[everywhere, actions[c]]
                best = np.argmax(q, axis=1)
                magnitude = (float(np.abs(rewards[c]).max()) if rewards[c].size else 0.0) \
                    + 2.0 * float(np.abs(values).max())
                margin = 2.0 * (tolerance + gamma(self.width + 3) * magnitude)
                improve = q[everywhere, best] > current + margin
                if not improve.any():
                    results[c] = (values, actions[c], tolerance + margin * amplification)
                else:
                    actions[c] = np.where(improve, best, actions[c])
                    guesses[c] = values
        raise GametoolsError("policy iteration did not converge; the game may be numerically "
                             "ill-conditioned (discount too close to 1)")


def _own_joint_actions(num_actions: tuple[int, ...], player: int) -> np.ndarray:
    """``(n_i, A / n_i)``: the joint actions in which ``player`` plays each of its actions."""
    own = np.unravel_index(np.arange(int(np.prod(num_actions))), num_actions)[player]
    return np.stack([np.flatnonzero(own == a) for a in range(num_actions[player])])


def _chain_product(indptr: np.ndarray, indices: np.ndarray, data: np.ndarray,
                   joint: np.ndarray, values: np.ndarray, num_joint: int,
                   out: np.ndarray) -> None:  # pragma: no cover - compiled by numba
    """``out[s, c] = sum_a joint[c or 0, s, a] sum_j P[s * A + a, j] values[j, c]``.

    Column by column (scalar accumulators compile to tight loops); rows whose weight is zero
    are skipped (a deterministic own policy uses one action in ``n_i``). Per row the ``K``
    products are summed, then weighted: the rounding depth of :class:`JointChain`'s bound.
    """
    num_states, count = out.shape
    shared = joint.shape[0] == 1
    for c in range(count):
        weights = joint[0] if shared else joint[c]
        column = values[:, c].copy()
        for s in range(num_states):
            total = 0.0
            for a in range(num_joint):
                weight = weights[s, a]
                if weight == 0.0:
                    continue
                row = s * num_joint + a
                acc = 0.0
                for position in range(indptr[row], indptr[row + 1]):
                    acc += data[position] * column[indices[position]]
                total += weight * acc
            out[s, c] = total


_CHAIN_KERNEL: list[Any] = []


def _compiled_chain_product() -> Any:
    """:func:`_chain_product` compiled by numba (cached on disk), or None without numba."""
    if not _CHAIN_KERNEL:
        import importlib.util

        if importlib.util.find_spec("numba") is None:
            _CHAIN_KERNEL.append(None)
        else:
            import numba

            _CHAIN_KERNEL.append(numba.njit(cache=True, nogil=True)(_chain_product))
    return _CHAIN_KERNEL[0]


def _lockstep_gmres(operator: Callable[[np.ndarray], np.ndarray], rhs: np.ndarray,
                    target: float, restart: int = 24) -> np.ndarray:
    """Approximate solutions ``X`` ``(S, k)`` of ``operator(X[:, c]) = rhs[:, c]``, column by
    column but with one call of ``operator`` (a block of ``k`` columns) per step.

    GMRES (Saad and Schultz 1986) with modified Gram-Schmidt, each column its own Krylov space;
    one cycle of at most ``restart`` steps, stopped when every column's residual estimate is
    below ``target`` (the caller recomputes the true residual and restarts).
    """
    size, count = rhs.shape
    root = float(np.sqrt(size))
    beta = np.linalg.norm(rhs, axis=0)
    basis = np.zeros((restart + 1, size, count))
    basis[0] = rhs / np.where(beta > 0, beta, 1.0)
    hessenberg = np.zeros((count, restart + 1, restart))
    steps = 0
    coefficients: list[np.ndarray] = [np.zeros(0)] * count
    for j in range(restart):
        w = operator(basis[j])
        for i in range(j + 1):
            h = np.einsum("sk,sk->k", basis[i], w)
            hessenberg[:, i, j] = h
            w -= basis[i] * h
        norm = np.linalg.norm(w, axis=0)
        hessenberg[:, j + 1, j] = norm
        basis[j + 1] = w / np.where(norm > 0, norm, 1.0)
        steps = j + 1
        done = True
        for c in range(count):
            e1 = np.zeros(steps + 1)
            e1[0] = beta[c]
            y = np.linalg.lstsq(hessenberg[c, :steps + 1, :steps], e1, rcond=None)[0]
            coefficients[c] = y
            # the 2-norm estimate against a max-norm target: the caller checks the max norm
            if np.linalg.norm(hessenberg[c, :steps + 1, :steps] @ y - e1) > target * root:
                done = False
        if done:
            break
    return np.einsum("jsk,kj->sk", basis[:steps],
                     np.array([c if c.size == steps else np.zeros(steps) for c in coefficients]))


#: Relative residual the matrix-free solves aim for, and the refinement rounds allowed.
_KRYLOV_TOLERANCE = 1e-13
_REFINEMENTS = 4


def greedy_policy(transitions: sp.csr_array, rewards: np.ndarray, values: np.ndarray,
                  discount: float) -> np.ndarray:
    """Greedy deterministic policy ``(S,)`` of an MDP ``(S * n, S)`` / ``(S, n)`` at ``values``."""
    q = rewards + discount * (transitions @ values).reshape(rewards.shape)
    return np.argmax(q, axis=1)


def policy_iteration(transitions: sp.csr_array, rewards: np.ndarray, discount: float,
                     start: np.ndarray | None = None, *, max_iterations: int = 1000,
                     order: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, float]:
    """Optimal values ``(S,)``, a deterministic optimal policy ``(S,)`` and the error bound.

    The MDP has transitions ``(S * n, S)`` (row ``s * n + a`` is ``P(. | s, a)``, zero rows at
    terminal states) and rewards ``(S, n)``; ``start`` is the initial policy (action 0
    everywhere by default) and ``order`` as in :func:`evaluate_policy`.

    An action replaces the current one only when its Q-value is higher by more than the
    numerical error of the Q-values (so ties cannot make the iteration cycle); the final policy
    is then within ``margin * amplification`` of optimal, which the error bound includes.
    """
    num_states, n = rewards.shape
    actions = np.zeros(num_states, dtype=int) if start is None else start.astype(int)
    base = np.arange(num_states) * n
    width = int(np.diff(transitions.indptr).max()) if transitions.nnz else 0
    for _ in range(max_iterations):
        chain = transitions[base + actions]
        solution, tolerance, amplification = evaluate_policy(
            chain, rewards[np.arange(num_states), actions][:, None], discount, order)
        values = solution[0]
        q = rewards + discount * (transitions @ values).reshape(num_states, n)
        current = q[np.arange(num_states), actions]
        best = np.argmax(q, axis=1)
        magnitude = float(np.abs(rewards).max()) + 2.0 * float(np.abs(values).max())
        margin = 2.0 * (tolerance + gamma(width + 3) * magnitude)
        improve = q[np.arange(num_states), best] > current + margin
        if not improve.any():
            return values, actions, tolerance + margin * amplification
        actions = np.where(improve, best, actions)
    raise GametoolsError("policy iteration did not converge; the game may be numerically "
                         "ill-conditioned (discount too close to 1)")
