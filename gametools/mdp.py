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
    rewards = game.rewards.reshape(game.num_players, game.num_states, num_joint)
    if not live.all():  # otherwise share the game's (read-only) rewards too
        rewards = rewards * live[None, :, None]
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
    successors per joint action): at ``10^6`` states and 16 joint actions, as much memory as
    the game. Here ``P_pi @ V`` is computed row by row as the ``joint``-weighted sum of the
    transition rows' products with ``V`` (one pass over the game's matrix for a block of ``k``
    value columns, each under its own policy if wanted; rows of weight zero are skipped), and a
    player's action values against the others' weights the same way, so nothing larger than
    ``(S, A)`` is ever formed. The linear systems are solved by restarted GMRES on blocks of
    columns in lockstep, warm-started and refined, with the same residual-based error bound as
    :func:`evaluate_policy` (discount below 1 only). The matrix may hold ``float32``
    probabilities (:func:`gametools.model.compact_transitions`): each is converted exactly to
    ``float64`` where it is used, so the bound is unchanged.

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
        self.widest = int(np.diff(transitions.indptr).max()) if transitions.nnz else 0
        self.width = self.widest + self.num_joint + 2

    def expected(self, values: np.ndarray) -> np.ndarray:
        """``E[values(s') | s, a]``, shape ``(S, A, k)`` for ``values`` ``(S, k)``."""
        # one sparse product per column: scipy's multi-column kernel is slower than k single ones
        columns = [np.asarray(self.transitions @ np.ascontiguousarray(values[:, c], dtype=float))
                   for c in range(values.shape[1])]
        return np.stack(columns, axis=-1).reshape(self.num_states, self.num_joint, -1)

    def apply(self, joint: np.ndarray, values: np.ndarray) -> np.ndarray:
        """``P_pi @ values`` for ``values`` ``(S, k)``: shape ``(S, k)``.

        ``joint`` is ``(S, A)`` (one policy for every column) or ``(k, S, A)`` (column ``c``
        under policy ``joint[c]``); one pass over the transition matrix serves all columns.
        """
        kernels = _compiled_kernels()
        if kernels is not None:
            block = np.ascontiguousarray(values, dtype=float)
            weights = np.ascontiguousarray(joint[None] if joint.ndim == 2 else joint,
                                           dtype=float)
            out = np.empty((self.num_states, block.shape[1]))
            matrix = self.transitions
            two = np.empty((self.num_states, 2))
            for pair in _column_pairs(block.shape[1]):
                first, second = (weights[0], weights[0]) if len(weights) == 1 \
                    else (weights[pair[0]], weights[pair[1]])
                kernels[0](matrix.indptr, matrix.indices, matrix.data, first, second,
                           np.ascontiguousarray(block[:, pair]), self.num_joint, two)
                out[:, pair] = two
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
        one pass over the transition matrix for all columns), then the residual is recomputed
        and bounds the error: ``(residual + gamma_{w+3} * magnitude) / (1 - discount)``.
        """
        return self._solve(lambda block: self.apply(joint, block), rewards, start, self.width)

    def _solve(self, product: Callable[[np.ndarray], np.ndarray], rewards: np.ndarray,
               start: np.ndarray | None, width: int, relative: float = 0.0) -> Evaluation:
        """:meth:`evaluate` with ``P_pi @ block`` computed by ``product``, whose rounding depth
        per entry (products and sums along one row) is at most ``width``; the solve stops at a
        residual of ``relative`` times the rewards' size (default the full-accuracy target),
        and the bound returned is computed from the residual reached either way."""
        size, count = rewards.shape
        discount = self.discount

        def operator(block: np.ndarray) -> np.ndarray:
            return block - discount * product(block)

        solution = (np.zeros((size, count)) if start is None
                    else np.array(start, dtype=float).reshape(size, count))
        scale = float(np.abs(rewards).max()) if rewards.size else 0.0
        target = (relative or _KRYLOV_TOLERANCE) * (scale + 1e-300)
        # from zero the residual is the right-hand side: no pass over the matrix
        residual = np.array(rewards, dtype=float) if start is None \
            else rewards - operator(solution)
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
        error = (computed + gamma(width + 3) * magnitude) * amplification
        return Evaluation(solution.T, error, amplification)

    def own_chain(self, weights: np.ndarray, player: int, actions: np.ndarray
                  ) -> sp.csr_array:
        """The chain ``(S, S)`` when ``player`` plays ``actions`` ``(S,)`` and the others play
        ``weights`` ``(S, A)``: ``sum_{a_-i} weights[s, (a_i(s), a_-i)] P(. | s, a_i(s), a_-i)``.

        Formed once per policy-iteration round: only ``A / n_i`` transition rows per state
        (a quarter of the game at 4 x 4 actions), each scaled by its weight; duplicate columns
        are left unmerged. Every Krylov step is then one compiled sparse product over it.
        """
        joint_actions = _own_joint_actions(self.num_actions, player)[actions]  # (S, A / n_i)
        matrix = self.transitions
        num_states = self.num_states
        chosen = np.take_along_axis(weights, joint_actions, axis=1)
        kernels = _compiled_kernels()
        if kernels is None:
            rows = (np.arange(num_states)[:, None] * self.num_joint + joint_actions).ravel()
            mixer = sp.csr_array((chosen.ravel(), rows,
                                  np.arange(0, rows.size + 1, joint_actions.shape[1])),
                                 shape=(num_states, matrix.shape[0]))
            return sp.csr_array(mixer @ matrix)
        lengths = np.diff(matrix.indptr).reshape(num_states, self.num_joint)
        counts = (np.take_along_axis(lengths, joint_actions, axis=1) * (chosen != 0)).sum(axis=1)
        index = matrix.indices.dtype
        indptr = np.zeros(num_states + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        if indptr[-1] < 2**31 - 1:
            indptr = indptr.astype(index)
        out_indices = np.empty(int(indptr[-1]), dtype=index)
        out_data = np.empty(int(indptr[-1]))
        kernels[2](matrix.indptr, matrix.indices, matrix.data, chosen,
                   np.ascontiguousarray(joint_actions), self.num_joint, out_indices, out_data)
        return sp.csr_array((out_data, out_indices, indptr), shape=(num_states, num_states))

    def player_q(self, weights: np.ndarray, player: int, rewards: np.ndarray,
                 values: np.ndarray) -> np.ndarray:
        """Player ``i``'s action values ``(S, n_i)`` against the others' ``weights`` ``(S, A)``.

        ``rewards`` ``(S, A)`` is the player's reward table, ``values`` ``(S,)`` its
        continuation values: ``sum_{a_-i} weights * (rewards + discount * E[values])``.
        """
        return self._action_values(weights[None], [player], rewards[None], values[:, None])[0]

    def _action_values(self, weights: np.ndarray, players: Sequence[int], rewards: np.ndarray,
                       values: np.ndarray) -> list[np.ndarray]:
        """:meth:`player_q` for several players, one pass over the transition matrix.

        ``weights`` and ``rewards`` are ``(k, S, A)``, ``values`` ``(S, k)``; returns the ``k``
        tables ``(S, n_i)``. Per entry the same operations in the same order as the formula
        (``K`` products, the discount, the reward, the weight, the sum over ``a_-i``), so
        :attr:`width` bounds the rounding depth either way.
        """
        kernels = _compiled_kernels()
        if kernels is None:
            out = []
            for c, player in enumerate(players):
                stage = rewards[c] + self.discount * self.expected(values[:, c:c + 1])[:, :, 0]
                out.append(self._contract(weights[c] * stage, player))
            return out
        own = np.stack([np.unravel_index(np.arange(self.num_joint), self.num_actions)[i]
                        for i in players]).astype(np.int64)
        table = np.zeros((len(players), self.num_states, max(self.num_actions)))
        matrix = self.transitions
        weights = np.ascontiguousarray(weights, dtype=float)
        rewards = np.ascontiguousarray(rewards, dtype=float)
        block = np.ascontiguousarray(values, dtype=float)
        for pair in _column_pairs(len(players)):
            kernels[1](matrix.indptr, matrix.indices, matrix.data, weights, rewards, own,
                       np.ascontiguousarray(block[:, pair]), pair, self.discount, table)
        return [table[c, :, :self.num_actions[i]] for c, i in enumerate(players)]

    def _own_rewards(self, weights: np.ndarray, rewards: np.ndarray, player: int,
                     actions: np.ndarray) -> np.ndarray:
        """``sum_{a_-i} weights * rewards`` at the player's ``actions``, shape ``(S,)``."""
        joint_actions = _own_joint_actions(self.num_actions, player)[actions]
        return np.einsum("sa,sa->s", np.take_along_axis(weights, joint_actions, axis=1),
                         np.take_along_axis(rewards, joint_actions, axis=1))

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

    def best_responses(self, weights: Sequence[np.ndarray] | np.ndarray, players: Sequence[int],
                       rewards: Sequence[np.ndarray] | np.ndarray,
                       starts: Sequence[np.ndarray | None],
                       *, max_iterations: int = 1000
                       ) -> list[tuple[np.ndarray, np.ndarray, float]]:
        """:meth:`policy_iteration` for several players at once.

        Every round forms the chain of each pending player's current deterministic policy
        against the others (:meth:`own_chain`, ``A / n_i`` transition rows per state), solves
        all of them in one lockstep GMRES, then computes all their action values in one pass
        over the transition matrix and improves.

        Rounds that change a policy need no accurate values: a policy is first evaluated to a
        loose residual (:data:`_LOOSE_TOLERANCE`), and an action replaces the current one only
        when it is better by more than twice the error bound of that evaluation, so every
        change is a true improvement (policy iteration's monotonicity holds). Only when no
        action passes this test is the same policy evaluated again to full accuracy, and only
        such an evaluation can end the iteration: the result carries the same bound as
        :func:`policy_iteration`'s.
        """
        num_states = self.num_states
        everywhere = np.arange(num_states)
        # arrays (k, S, A) are used as they are; sequences are stacked
        stacked_weights = np.asarray(weights, dtype=float)
        stacked_rewards = np.asarray(rewards, dtype=float)
        actions = [np.zeros(num_states, dtype=np.int64) for _ in players]
        guesses = [np.zeros(num_states) if start is None else np.asarray(start, dtype=float)
                   for start in starts]
        started = [c for c, start in enumerate(starts) if start is not None]
        if started:  # greedy at the guesses: one pass for all players
            tables = self._action_values(stacked_weights[started], [players[c] for c in started],
                                         stacked_rewards[started],
                                         np.stack([guesses[c] for c in started], axis=1))
            for c, q in zip(started, tables):
                actions[c] = np.argmax(q, axis=1)
        results: list[tuple[np.ndarray, np.ndarray, float] | None] = [None] * len(players)
        precise = [False] * len(players)  # evaluate the current policy to full accuracy
        for _ in range(max_iterations):
            pending = [c for c in range(len(players)) if results[c] is None]
            if not pending:
                return [r for r in results if r is not None]
            accurate = any(precise[c] for c in pending)
            # the pending players' own policies' chains, formed once per round
            chains = [self.own_chain(stacked_weights[c], players[c], actions[c])
                      for c in pending]
            own_rewards = np.stack([self._own_rewards(stacked_weights[c], stacked_rewards[c],
                                                      players[c], actions[c])
                                    for c in pending], axis=1)
            # rounding depth of one row of an own chain: its (unmerged) entries are a weight
            # times a probability, each multiplied by a value and summed along the row
            width = max(self.num_joint // self.num_actions[players[c]] for c in pending) \
                * self.widest + 2

            def product(block: np.ndarray, chains: list[sp.csr_array] = chains) -> np.ndarray:
                return np.column_stack([chain @ block[:, j] for j, chain in enumerate(chains)])

            solution, tolerance, amplification = self._solve(
                product, own_rewards, np.stack([guesses[c] for c in pending], axis=1), width,
                0.0 if accurate else _LOOSE_TOLERANCE)
            del chains, product  # the closure holds the chains: free them before the next round
            every = len(pending) == len(players)  # no copy of the stacked tables then
            tables = self._action_values(stacked_weights if every else stacked_weights[pending],
                                         [players[c] for c in pending],
                                         stacked_rewards if every else stacked_rewards[pending],
                                         solution.T)
            for values, q, c in zip(solution, tables, pending):
                current = q[everywhere, actions[c]]
                best = np.argmax(q, axis=1)
                magnitude = (float(np.abs(stacked_rewards[c]).max())
                             if stacked_rewards[c].size else 0.0) \
                    + 2.0 * float(np.abs(values).max())
                margin = 2.0 * (tolerance + gamma(max(self.width, width) + 3) * magnitude)
                improve = q[everywhere, best] > current + margin
                guesses[c] = values
                if improve.any():
                    actions[c] = np.where(improve, best, actions[c])
                    precise[c] = False
                elif accurate:
                    results[c] = (values, actions[c], tolerance + margin * amplification)
                else:
                    precise[c] = True
        raise GametoolsError("policy iteration did not converge; the game may be numerically "
                             "ill-conditioned (discount too close to 1)")


def _chain_product(indptr: np.ndarray, indices: np.ndarray, data: np.ndarray,
                   first: np.ndarray, second: np.ndarray, values: np.ndarray, num_joint: int,
                   out: np.ndarray) -> None:  # pragma: no cover - compiled by numba
    """``out[s, c] = sum_a w_c[s, a] sum_j P[s * A + a, j] values[j, c]`` for the two columns
    of ``values`` ``(S, 2)``, ``w`` = ``first`` and ``second`` ``(S, A)``.

    One pass over the matrix for both columns (``values`` row-major, so a successor's two
    values share a cache line), scalar accumulators; a row whose weight is zero in both
    columns is skipped (a deterministic own policy uses one action in ``n_i``). Per row the
    ``K`` products are summed, then weighted: the rounding depth of :class:`JointChain`'s bound.
    The loops run on int64 positions and unsigned indices (no wraparound test): written with
    ``range`` on the int32 bounds, the same loop ran at half the speed of scipy's.
    """
    for s in range(out.shape[0]):
        total_left = 0.0
        total_right = 0.0
        base = s * num_joint
        position = np.int64(indptr[base])
        for a in range(num_joint):
            stop = np.int64(indptr[base + a + 1])
            weight_left = first[s, a]
            weight_right = second[s, a]
            if weight_left == 0.0 and weight_right == 0.0:
                position = stop
                continue
            acc_left = 0.0
            acc_right = 0.0
            while position < stop:
                probability = np.float64(data[position])
                successor = np.uint64(indices[position])
                acc_left += probability * values[successor, 0]
                acc_right += probability * values[successor, 1]
                position += 1
            total_left += weight_left * acc_left
            total_right += weight_right * acc_right
        out[s, 0] = total_left
        out[s, 1] = total_right


def _action_value_tables(indptr: np.ndarray, indices: np.ndarray, data: np.ndarray,
                         weights: np.ndarray, rewards: np.ndarray, own: np.ndarray,
                         values: np.ndarray, columns: np.ndarray, discount: float,
                         out: np.ndarray) -> None:  # pragma: no cover - compiled by numba
    """``out[c, s, own[c, a]] += weights[c, s, a] * (rewards[c, s, a] + discount * E_c)`` for
    the two columns ``c`` in ``columns`` (equal for a single one), ``values`` ``(S, 2)`` their
    continuation values.

    ``E_c = sum_j P[s * A + a, j] values[j, c]``; ``out`` starts at zero. One pass over the
    matrix for both columns, loops as in :func:`_chain_product`.
    """
    left, right = columns[0], columns[1]
    num_joint = weights.shape[2]
    for s in range(out.shape[1]):
        base = s * num_joint
        position = np.int64(indptr[base])
        for a in range(num_joint):
            stop = np.int64(indptr[base + a + 1])
            acc_left = 0.0
            acc_right = 0.0
            while position < stop:
                probability = np.float64(data[position])
                successor = np.uint64(indices[position])
                acc_left += probability * values[successor, 0]
                acc_right += probability * values[successor, 1]
                position += 1
            out[left, s, own[left, a]] += weights[left, s, a] * (rewards[left, s, a]
                                                                 + discount * acc_left)
            if right != left:
                out[right, s, own[right, a]] += weights[right, s, a] * (
                    rewards[right, s, a] + discount * acc_right)


def _own_rows(indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, weights: np.ndarray,
              joint_actions: np.ndarray, num_joint: int, out_indices: np.ndarray,
              out_data: np.ndarray) -> None:  # pragma: no cover - compiled by numba
    """Fill :meth:`JointChain.own_chain`'s arrays: state ``s`` gets the rows
    ``s * A + joint_actions[s, t]`` of nonzero weight ``weights[s, t]``, scaled by it."""
    position = 0
    for s in range(joint_actions.shape[0]):
        for t in range(joint_actions.shape[1]):
            weight = weights[s, t]
            if weight == 0.0:
                continue
            row = s * num_joint + joint_actions[s, t]
            source = np.int64(indptr[row])
            stop = np.int64(indptr[row + 1])
            while source < stop:
                out_indices[position] = indices[source]
                out_data[position] = weight * np.float64(data[source])
                position += 1
                source += 1


def _own_joint_actions(num_actions: tuple[int, ...], player: int) -> np.ndarray:
    """``(n_i, A / n_i)``: the joint actions in which ``player`` plays each of its actions."""
    own = np.unravel_index(np.arange(int(np.prod(num_actions))), num_actions)[player]
    return np.stack([np.flatnonzero(own == a) for a in range(num_actions[player])])


def _column_pairs(count: int) -> list[np.ndarray]:
    """Columns ``0 .. count - 1`` in pairs, the last one doubled when ``count`` is odd."""
    return [np.array([c, min(c + 1, count - 1)], dtype=np.int64) for c in range(0, count, 2)]


_CHAIN_KERNEL: list[Any] = []


def _compiled_kernels() -> Any:
    """(:func:`_chain_product`, :func:`_action_value_tables`, :func:`_own_rows`) compiled by
    numba (cached on disk), or None without numba."""
    if not _CHAIN_KERNEL:
        import importlib.util

        if importlib.util.find_spec("numba") is None:
            _CHAIN_KERNEL.append(None)
        else:
            import numba

            compile_ = numba.njit(cache=True, nogil=True)
            _CHAIN_KERNEL.append((compile_(_chain_product), compile_(_action_value_tables),
                                  compile_(_own_rows)))
    return _CHAIN_KERNEL[0]


def _lockstep_gmres(operator: Callable[[np.ndarray], np.ndarray], rhs: np.ndarray,
                    target: float, restart: int = 24) -> np.ndarray:
    """Approximate solutions ``X`` ``(S, k)`` of ``operator(X[:, c]) = rhs[:, c]``, column by
    column but with one call of ``operator`` (a block of ``k`` columns) per step.

    GMRES (Saad and Schultz 1986), each column its own Krylov space, orthogonalised by
    classical Gram-Schmidt applied twice (two matrix-vector products with the basis per step
    instead of one pass per basis vector, and as stable as modified Gram-Schmidt: Giraud,
    Langou and Rozloznik 2005); one cycle of at most ``restart`` steps, stopped when every
    column's residual estimate is below ``target`` (the caller recomputes the true residual
    and restarts).
    """
    size, count = rhs.shape
    root = float(np.sqrt(size))
    beta = np.linalg.norm(rhs, axis=0)
    basis = np.empty((count, restart + 1, size))
    basis[:, 0] = (rhs / np.where(beta > 0, beta, 1.0)).T
    hessenberg = np.zeros((count, restart + 1, restart))
    steps = 0
    coefficients: list[np.ndarray] = [np.zeros(0)] * count
    for j in range(restart):
        w = np.ascontiguousarray(operator(np.ascontiguousarray(basis[:, j].T)).T)
        for c in range(count):
            vectors = basis[c, :j + 1]
            for _ in range(2):
                h = vectors @ w[c]
                w[c] -= h @ vectors
                hessenberg[c, :j + 1, j] += h
        norm = np.linalg.norm(w, axis=1)
        hessenberg[:, j + 1, j] = norm
        basis[:, j + 1] = w / np.where(norm > 0, norm, 1.0)[:, None]
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
    return np.stack([coefficients[c] @ basis[c, :steps] for c in range(count)], axis=1)


#: Relative residual the matrix-free solves aim for, and the refinement rounds allowed.
_KRYLOV_TOLERANCE = 1e-13
_REFINEMENTS = 4

#: Relative residual of the evaluations inside policy iteration that may change the policy
#: (:meth:`JointChain.best_responses`); the last evaluation is always to full accuracy.
_LOOSE_TOLERANCE = 1e-7


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
