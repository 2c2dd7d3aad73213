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
from gametools.optional import require

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
    device : str, optional
        A torch device (``"cuda"``, ``"cuda:1"``, ``"cpu"``): the passes over the transition
        matrix then run there (:class:`_DeviceKernels`, float64 arithmetic on torch sparse CSR
        tensors), while the Krylov steps, the policy updates and every error bound stay here,
        the same code for both. None (default): compiled kernels (numba) or NumPy.
    """

    def __init__(self, transitions: sp.csr_array, num_actions: Sequence[int],
                 discount: float, *, device: str | None = None) -> None:
        if not discount < 1.0:
            raise GametoolsError("JointChain needs a discount below 1")
        self.transitions = transitions
        self.num_actions = tuple(int(n) for n in num_actions)
        self.num_joint = int(np.prod(self.num_actions))
        self.num_states = transitions.shape[1]
        self.discount = float(discount)
        self.kernels = (None if device is None
                        else _DeviceKernels(transitions, self.num_actions, device))
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
        weights = joint[None] if joint.ndim == 2 else joint
        return self._sweep(weights, values)[0]  # type: ignore[return-value]

    def _sweep(self, weights: np.ndarray, values: np.ndarray, *,
               players: Sequence[int] | None = None,
               rewards: np.ndarray | None = None, products: bool = True
               ) -> tuple[np.ndarray | None, list[np.ndarray] | None]:
        """Policy products and action values in one pass over the transition matrix.

        Parameters
        ----------
        weights : ndarray, shape (k, S, A) or (1, S, A)
            Column ``c`` of ``values`` ``(S, k)`` is weighted by ``weights[c]`` (by
            ``weights[0]`` for every column when there is one).
        players : sequence of int, optional
            Column ``c``'s player (needed with ``rewards``).
        rewards : ndarray, shape (k, S, A), optional
            When given, the players' action values are returned too.
        products : bool
            Whether the products are wanted.

        Returns
        -------
        products : ndarray, shape (S, k), or None
            ``P @ values[:, c]`` under column ``c``'s policy.
        tables : list of ndarray, shape (S, n_i) each, or None
            ``sum_{a_-i} weights[c] * (rewards[c] + discount * E[values[:, c]])`` by the
            player's action (as :meth:`player_q`).
        """
        count = values.shape[1]
        shared = weights.shape[0] == 1 and count > 1
        if shared and rewards is not None:
            raise ValueError("one weight table serves several columns only for plain products")
        if self.kernels is not None:
            return self.kernels.sweep(weights, values, self.discount, players=players,
                                      rewards=rewards, products=products)
        own = (np.stack([self._own_index(i) for i in players]) if players is not None
               else np.zeros((len(weights), self.num_joint), dtype=np.int64))
        kernel = _compiled_kernels()
        if kernel is None:
            expected = self.expected(values)  # (S, A, k)
            out_products = None
            if products:
                effective = np.broadcast_to(weights, (count, *weights.shape[1:]))
                out_products = np.einsum("ksa,sak->sk", effective, expected)
            out_tables = None
            if rewards is not None and players is not None:
                out_tables = [self._contract(weights[c] * (rewards[c] + self.discount
                                                           * expected[:, :, c]), player)
                              for c, player in enumerate(players)]
            return out_products, out_tables
        matrix = self.transitions
        weights = np.ascontiguousarray(weights, dtype=float)
        rew = (np.ascontiguousarray(rewards, dtype=float) if rewards is not None
               else np.zeros((0, 0, 0)))
        table = (np.zeros((count, self.num_states, max(self.num_actions)))
                 if rewards is not None else np.zeros((0, 0, 0)))
        out = np.empty((self.num_states, count)) if products else None
        two = np.empty((self.num_states, 2)) if products else np.zeros((0, 2))
        block = np.asarray(values, dtype=float)
        for pair in _column_pairs(count):
            slots = np.zeros(2, dtype=np.int64) if shared else pair
            kernel(matrix.indptr, matrix.indices, matrix.data, weights, slots, own, rew,
                   np.ascontiguousarray(block[:, pair]), self.discount, two, table)
            if out is not None:
                out[:, pair] = two
        tables = (None if rewards is None or players is None
                  else [table[c, :, :self.num_actions[i]] for c, i in enumerate(players)])
        return out, tables

    def _own_index(self, player: int) -> np.ndarray:
        """``(A,)``: the player's action in every joint action (C order)."""
        return np.unravel_index(np.arange(self.num_joint), self.num_actions)[player].astype(
            np.int64)

    def evaluate(self, joint: np.ndarray, rewards: np.ndarray,
                 start: np.ndarray | None = None) -> Evaluation:
        """Solve ``(I - discount * P_pi) V = rewards`` (``rewards`` ``(S, k)``), as
        :func:`evaluate_policy` does; ``joint`` as in :meth:`apply`, ``start`` ``(S, k)`` an
        initial guess.

        The ``k`` systems are solved together by restarted GMRES in lockstep (each iteration
        one pass over the transition matrix for all columns), then the residual is recomputed
        and bounds the error: ``(residual + gamma_{w+3} * magnitude) / (1 - discount)``.
        """
        staged = self.stage(joint)
        return self._solve(lambda block: self.apply(staged, block), rewards, start, self.width,
                           _EVALUATION_TOLERANCE)

    def stage(self, array: np.ndarray) -> Any:
        """``array`` where the passes read it: itself, or a float64 copy on the device (made
        once for the weights and rewards that many passes read)."""
        return array if self.kernels is None else self.kernels.stage(array)

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
            solution += _lockstep_gmres(operator, residual, _SLACK * target)
            residual = rewards - operator(solution)
        if not np.all(np.isfinite(solution)):
            raise GametoolsError(_SINGULAR)
        amplification = 1.0 / (1.0 - discount)
        magnitude = scale + 2.0 * (float(np.abs(solution).max()) if solution.size else 0.0)
        computed = float(np.abs(residual).max()) if residual.size else 0.0
        error = (computed + gamma(width + 3) * magnitude) * amplification
        return Evaluation(solution.T, error, amplification)

    def own_chain(self, weights: np.ndarray, player: int, actions: np.ndarray,
                  previous: tuple[sp.csr_array, np.ndarray] | None = None) -> sp.csr_array:
        """The chain ``(S, S)`` when ``player`` plays ``actions`` ``(S,)`` and the others play
        ``weights`` ``(S, A)``: ``sum_{a_-i} weights[s, (a_i(s), a_-i)] P(. | s, a_i(s), a_-i)``.

        Only ``A / n_i`` transition rows per state (a quarter of the game at 4 x 4 actions),
        each scaled by its weight; duplicate columns are left unmerged. Every Krylov step is
        then one compiled sparse product over it (at ``10^6`` states a third of the time of a
        pass that picks the same rows out of the game's matrix). ``previous`` ``(chain,
        actions)``, the chain of the same player against the same weights under other
        actions, is updated in place where the states whose action changed keep their number
        of entries (in the later rounds of policy iteration only a few states change).
        """
        joint_actions = self._own_joint_actions(player)[actions]  # (S, A / n_i)
        matrix = self.transitions
        num_states = self.num_states
        kernel = _compiled_own_rows()
        if kernel is None:
            chosen = np.take_along_axis(weights, joint_actions, axis=1)
            rows = (np.arange(num_states)[:, None] * self.num_joint + joint_actions).ravel()
            mixer = sp.csr_array((chosen.ravel(), rows,
                                  np.arange(0, rows.size + 1, joint_actions.shape[1])),
                                 shape=(num_states, matrix.shape[0]))
            return sp.csr_array(mixer @ matrix)
        lengths = np.diff(matrix.indptr).reshape(num_states, self.num_joint)
        if previous is not None:
            chain, before = previous
            changed = np.flatnonzero(before != actions)
            rows = joint_actions[changed]
            counts = (np.take_along_axis(lengths[changed], rows, axis=1)
                      * (np.take_along_axis(weights[changed], rows, axis=1) != 0)).sum(axis=1)
            if np.array_equal(counts, np.diff(chain.indptr)[changed]):
                kernel(matrix.indptr, matrix.indices, matrix.data, weights,
                       np.ascontiguousarray(joint_actions), changed.astype(np.int64),
                       self.num_joint, chain.indptr, chain.indices, chain.data)
                return chain
        chosen = np.take_along_axis(weights, joint_actions, axis=1)
        counts = (np.take_along_axis(lengths, joint_actions, axis=1) * (chosen != 0)).sum(axis=1)
        del chosen
        index = matrix.indices.dtype
        indptr = np.zeros(num_states + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        if indptr[-1] < 2**31 - 1:
            indptr = indptr.astype(index)
        out_indices = np.empty(int(indptr[-1]), dtype=index)
        out_data = np.empty(int(indptr[-1]))
        kernel(matrix.indptr, matrix.indices, matrix.data, weights,
               np.ascontiguousarray(joint_actions), np.arange(num_states, dtype=np.int64),
               self.num_joint, indptr, out_indices, out_data)
        return sp.csr_array((out_data, out_indices, indptr), shape=(num_states, num_states))

    def _own_joint_actions(self, player: int) -> np.ndarray:
        """``(n_i, A / n_i)``: the joint actions in which ``player`` plays each of its actions."""
        own = self._own_index(player)
        return np.stack([np.flatnonzero(own == a) for a in range(self.num_actions[player])])

    def player_q(self, weights: np.ndarray, player: int, rewards: np.ndarray,
                 values: np.ndarray) -> np.ndarray:
        """Player ``i``'s action values ``(S, n_i)`` against the others' ``weights`` ``(S, A)``.

        ``rewards`` ``(S, A)`` is the player's reward table, ``values`` ``(S,)`` its
        continuation values: ``sum_{a_-i} weights * (rewards + discount * E[values])``.
        """
        tables = self._sweep(weights[None], values[:, None], players=[player],
                             rewards=rewards[None], products=False)[1]
        return tables[0]  # type: ignore[index]

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
        policy starts greedy at it; at zero values when None).

        Returns
        -------
        values : ndarray, shape (S,)
        actions : ndarray of int, shape (S,)
        tolerance : float
        """
        return self.best_responses([weights], [player], [rewards], [start],
                                   max_iterations=max_iterations)[0]

    def evaluate_and_respond(self, joint: np.ndarray, weights: np.ndarray,
                             players: Sequence[int], rewards: np.ndarray,
                             policies: Sequence[np.ndarray], *, max_iterations: int = 1000
                             ) -> tuple[Evaluation, list[tuple[np.ndarray, np.ndarray, float]]]:
        """The profile's values and every player's best response, one pass fewer than
        :meth:`evaluate` followed by :meth:`best_responses`.

        ``joint`` ``(S, A)`` is the profile's joint policy, ``weights`` ``(k, S, A)`` the
        others' weights of each player in ``players``, ``rewards`` ``(k, S, A)`` their reward
        tables and ``policies`` their own action distributions ``(S, n_i)``. The evaluation's
        residual is not recomputed after its solve: the best responses' first pass computes
        every player's action values at the evaluated values, and
        ``sum_a pi_i(a | s) Q_i(s, a) - V_i(s)`` is that residual (bounded as in
        :meth:`best_responses`). Returns the evaluation (values ``(k, S)``) and the best
        responses.
        """
        evaluation_rewards = np.einsum("ksa,sa->sk", rewards, joint)
        size = float(np.abs(evaluation_rewards).max()) if evaluation_rewards.size else 0.0
        target = _EVALUATION_TOLERANCE * (size + 1e-300)

        staged = self.stage(joint)

        def operator(block: np.ndarray) -> np.ndarray:
            return block - self.discount * self.apply(staged, block)

        # from zero: the residual is the right-hand side, no pass; one GMRES cycle
        solution = (_lockstep_gmres(operator, evaluation_rewards, _SLACK * target)
                    if evaluation_rewards.size and size > 0 else np.zeros_like(evaluation_rewards))
        found, checked = self._respond(weights, players, rewards, list(solution.T),
                                       policies=policies, max_iterations=max_iterations)
        assert checked is not None
        residual, rounding = checked
        if not np.all(np.isfinite(solution)):
            raise GametoolsError(_SINGULAR)
        amplification = 1.0 / (1.0 - self.discount)
        if residual > target:  # one cycle did not reach the target: refine as evaluate does
            return self._solve(lambda block: self.apply(staged, block), evaluation_rewards,
                               solution, self.width, _EVALUATION_TOLERANCE), found
        return Evaluation(solution.T, (residual + rounding) * amplification, amplification), found

    def best_responses(self, weights: Sequence[np.ndarray] | np.ndarray, players: Sequence[int],
                       rewards: Sequence[np.ndarray] | np.ndarray,
                       starts: Sequence[np.ndarray | None],
                       *, max_iterations: int = 1000
                       ) -> list[tuple[np.ndarray, np.ndarray, float]]:
        """:meth:`policy_iteration` for several players at once (see :meth:`_respond`)."""
        return self._respond(weights, players, rewards, starts,
                             max_iterations=max_iterations)[0]

    def _respond(self, weights: Sequence[np.ndarray] | np.ndarray, players: Sequence[int],
                 rewards: Sequence[np.ndarray] | np.ndarray, starts: Sequence[np.ndarray | None],
                 *, policies: Sequence[np.ndarray] | None = None, max_iterations: int = 1000
                 ) -> tuple[list[tuple[np.ndarray, np.ndarray, float]],
                            tuple[float, float] | None]:
        """:meth:`policy_iteration` for several players at once; with ``policies`` (the
        players' own action distributions ``(S, n_i)``, of which ``starts`` are evaluations)
        also the largest computed residual of the starts' evaluation equations and the bound on
        its rounding (None without).

        Every round improves the values of each pending player's current deterministic policy
        by lockstep GMRES on the correction ``(I - discount * P_mu) d = residual`` over the
        player's own chain (:meth:`own_chain`: ``A / n_i`` transition rows per state, formed
        once and then rewritten only where the policy changed), then computes all players'
        action values ``Q`` in one pass over the transition matrix (:func:`_sweep`). That
        pass also gives the residual of the values for free: ``Q(s, mu(s)) - V(s)`` is
        ``r_mu + discount * P_mu V - V`` (computed in another order, with a rounding bound
        of the same kind), for the current policy and, after an improvement, for the new one,
        so the next correction starts without a pass of its own.

        Rounds that change a policy need no accurate values: the values are first brought to a
        loose residual (:data:`_LOOSE_TOLERANCE`), and an action replaces the current one only
        when it is better by more than twice the error of that round's ``Q`` (so every change
        is a true improvement and policy iteration's monotonicity holds). Only when no action
        passes this test are the values refined to full accuracy, and only such a round can
        end the iteration. With ``e`` the bound on ``|V - V^mu|`` from the residual and
        ``g`` the largest computed gain ``max_a Q(s, a) - Q(s, mu(s))``, the exact gain of any
        action is at most ``g + 2 (discount * e + rounding)``, so ``V* - V^mu`` is at most
        ``amplification`` times that, and the values' error is that plus ``e``.
        """
        num_states = self.num_states
        count = len(players)
        everywhere = np.arange(num_states)
        # arrays (k, S, A) are used as they are; sequences are stacked
        stacked_weights = np.asarray(weights, dtype=float)
        stacked_rewards = np.asarray(rewards, dtype=float)
        # where the passes read them (the same arrays without a device)
        staged_weights = self.stage(stacked_weights)
        staged_rewards = self.stage(stacked_rewards)
        values = np.zeros((num_states, count))
        for c, start in enumerate(starts):
            if start is not None:
                values[:, c] = start
        amplification = 1.0 / (1.0 - self.discount)
        # rounding depth of one computed Q-value minus V(s): the K products and sums of a
        # transition row, the discount, the reward, the weight, the A / n_i terms, the
        # subtraction (bounded by A for every player)
        depth = gamma(self.widest + self.num_joint + 6)
        sizes = [float(np.abs(stacked_rewards[c]).max()) if stacked_rewards[c].size else 0.0
                 for c in range(count)]
        # greedy at the starting values: one pass for all players
        tables = self._sweep(staged_weights, values, players=players,
                             rewards=staged_rewards, products=False)[1]
        assert tables is not None
        checked = None
        if policies is not None:
            # sum_a pi_i(a | s) Q_i(s, a) - V_i(s): the residual of the starting values as the
            # evaluation of pi; its rounding depth adds the n_i products and sums, and the
            # rounding of the joint weights, to a Q-value's
            worst = 0.0
            bound = 0.0
            for c, (q, policy) in enumerate(zip(tables, policies)):
                worst = max(worst, float(np.abs(np.einsum("sa,sa->s", q, policy)
                                                - values[:, c]).max()))
                magnitude = sizes[c] + 2.0 * float(np.abs(values[:, c]).max())
                bound = max(bound, gamma(self.widest + self.num_joint + 2 * max(
                    self.num_actions) + 8) * magnitude)
            checked = (worst, bound)
        actions = np.stack([np.argmax(q, axis=1) for q in tables]).astype(np.int64)
        residual = np.stack([q[everywhere, actions[c]] for c, q in enumerate(tables)],
                            axis=1) - values
        del tables
        results: list[tuple[np.ndarray, np.ndarray, float] | None] = [None] * count
        precise = [False] * count  # bring the current values to full accuracy
        refinements = [0] * count  # full-accuracy rounds that did not reach the target
        # each player's own chain and the actions it was formed for
        chains: list[Any] = [None] * count
        for _ in range(max_iterations):
            pending = [c for c in range(count) if results[c] is None]
            if not pending:
                return [r for r in results if r is not None], checked
            every = len(pending) == count  # no copy of the stacked tables then
            pending_weights = staged_weights if every else staged_weights[pending]
            pending_players = [players[c] for c in pending]
            accurate = any(precise[c] for c in pending)
            start = residual[:, pending]
            size = max(sizes[c] for c in pending) + 1e-300
            target = (_KRYLOV_TOLERANCE if accurate else _LOOSE_TOLERANCE) * size
            if float(np.abs(start).max()) > target:
                operator = self._own_operator(pending_weights, stacked_weights, pending,
                                              players, actions, chains)
                # below the target with room to spare: the Q pass must not find it missed
                values[:, pending] += _lockstep_gmres(operator, start, _SLACK * target)
                del operator
            tables = self._sweep(pending_weights, values[:, pending], players=pending_players,
                                 rewards=staged_rewards if every else staged_rewards[pending],
                                 products=False)[1]
            assert tables is not None
            for q, c in zip(tables, pending):
                current = q[everywhere, actions[c]]
                residual[:, c] = current - values[:, c]
                magnitude = sizes[c] + 2.0 * float(np.abs(values[:, c]).max())
                rounding = depth * magnitude
                computed = float(np.abs(residual[:, c]).max())
                error = (computed + rounding) * amplification  # |V - V^mu|
                margin = 2.0 * (self.discount * error + rounding)
                best = np.argmax(q, axis=1)
                gain = q[everywhere, best] - current
                improve = gain > margin
                if improve.any():
                    actions[c] = np.where(improve, best, actions[c])
                    residual[:, c] = q[everywhere, actions[c]] - values[:, c]
                    precise[c] = False
                elif (computed <= _KRYLOV_TOLERANCE * (sizes[c] + 1e-300)
                      or refinements[c] >= _REFINEMENTS):
                    # the bound holds at any residual; the full-accuracy target (or, failing
                    # it, a few refinements) only keeps it small
                    bound = error + amplification * (max(float(gain.max()), 0.0) + margin)
                    results[c] = (values[:, c].copy(), actions[c].copy(), bound)
                    chains[c] = None
                else:
                    refinements[c] += int(precise[c])
                    precise[c] = True
        raise GametoolsError("policy iteration did not converge; the game may be numerically "
                             "ill-conditioned (discount too close to 1)")

    def _own_operator(self, pending_weights: Any, stacked_weights: np.ndarray,
                      pending: list[int], players: Sequence[int], actions: np.ndarray,
                      chains: list[Any]) -> Callable[[np.ndarray], np.ndarray]:
        """``X -> X - discount * P_mu X`` for the pending players' current policies ``mu``
        (column ``j`` under pending player ``j``'s), the operator of their corrections.

        Here: over each player's own chain (:meth:`own_chain`, kept in ``chains`` and updated
        where the policy changed). On a device: over own chains formed there for the round
        (:meth:`_DeviceKernels.own_chains`). Only the Krylov steps use it; every bound is
        computed from the action-value passes.
        """
        discount = self.discount
        kernels = self.kernels
        if kernels is not None:
            joint_actions = [self._own_joint_actions(players[c])[actions[c]] for c in pending]
            own = kernels.own_chains(pending_weights, joint_actions)
            return lambda block: block - discount * kernels.own_products(own, block)
        for c in pending:  # the pending players' own chains, updated where changed
            chains[c] = (self.own_chain(stacked_weights[c], players[c], actions[c],
                                        chains[c]), actions[c].copy())
        matrices = [chains[c][0] for c in pending]

        def operator(block: np.ndarray) -> np.ndarray:
            product = np.column_stack([_own_product(matrix, block[:, j])
                                       for j, matrix in enumerate(matrices)])
            return block - discount * product

        return operator


def _sweep(indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, weights: np.ndarray,
           slots: np.ndarray, own: np.ndarray, rewards: np.ndarray, values: np.ndarray,
           discount: float, products: np.ndarray,
           tables: np.ndarray) -> None:  # pragma: no cover - compiled by numba
    """One pass over the transition matrix for the two value columns ``values`` ``(S, 2)``.

    Column ``j`` uses the weights ``w = weights[slots[j]]`` ``(S, A)`` (``slots`` equal when
    one policy serves both columns, or when one column is doubled). With
    ``E_j(s, a) = sum_t P[s * A + a, t] values[t, j]``:

    - ``products`` ``(S, 2)`` (skipped when it has no rows):
      ``products[s, j] = sum_a w[s, a] E_j(s, a)``, the policy chain's product;
    - ``tables`` ``(k, S, n)`` (skipped when it has no rows), starting at zero:
      ``tables[slot, s, own[slot, a]] += w[s, a] * (rewards[slot, s, a] + discount * E_j)``,
      the slot's player's action values (``own[slot, a]`` its action in joint action ``a``;
      once when the two slots are equal).

    Per row the ``K`` products are summed, then weighted: the rounding depth of
    :class:`JointChain`'s bounds. Rows of weight zero (in every output) are skipped. The loops
    run on int64 positions and unsigned indices (no wraparound test): written with ``range``
    on the int32 bounds, the same loop ran at half the speed of scipy's. The successor values
    ``_PREFETCH_DISTANCE`` entries ahead are prefetched (:func:`_prefetch_row`): at ``10^6``
    states the values no longer stay in cache, and the random reads then halved the speed.
    """
    left = slots[0]
    right = slots[1]
    num_joint = weights.shape[2]
    want_products = products.shape[0] > 0
    want_tables = tables.shape[0] > 0
    last = np.int64(indptr[indptr.shape[0] - 1])
    for s in range(values.shape[0]):
        total_left = 0.0
        total_right = 0.0
        base = s * num_joint
        position = np.int64(indptr[base])
        for a in range(num_joint):
            stop = np.int64(indptr[base + a + 1])
            weight_left = weights[left, s, a]
            weight_right = weights[right, s, a]
            if weight_left == 0.0 and weight_right == 0.0:
                position = stop
                continue
            acc_left = 0.0
            acc_right = 0.0
            while position < stop:
                ahead = position + _PREFETCH_DISTANCE
                if ahead < last:
                    _prefetch_row(values, np.uint64(indices[ahead]))
                probability = np.float64(data[position])
                successor = np.uint64(indices[position])
                acc_left += probability * values[successor, 0]
                acc_right += probability * values[successor, 1]
                position += 1
            total_left += weight_left * acc_left
            total_right += weight_right * acc_right
            if want_tables:
                tables[left, s, own[left, a]] += weight_left * (rewards[left, s, a]
                                                                + discount * acc_left)
                if right != left:
                    tables[right, s, own[right, a]] += weight_right * (
                        rewards[right, s, a] + discount * acc_right)
        if want_products:
            products[s, 0] = total_left
            products[s, 1] = total_right


def _matvec(indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, vector: np.ndarray,
            out: np.ndarray) -> None:  # pragma: no cover - compiled by numba
    """``out = M @ vector`` for a CSR matrix ``M`` (an own chain, :meth:`JointChain.own_chain`),
    ``vector`` ``(S, 1)``; the loop and the prefetching of :func:`_sweep`."""
    last = np.int64(indptr[indptr.shape[0] - 1])
    position = np.int64(indptr[0])
    for s in range(out.shape[0]):
        stop = np.int64(indptr[s + 1])
        total = 0.0
        while position < stop:
            ahead = position + _PREFETCH_DISTANCE
            if ahead < last:
                _prefetch_row(vector, np.uint64(indices[ahead]))
            total += np.float64(data[position]) * vector[np.uint64(indices[position]), 0]
            position += 1
        out[s] = total


def _own_rows(indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, weights: np.ndarray,
              joint_actions: np.ndarray, states: np.ndarray, num_joint: int,
              out_indptr: np.ndarray, out_indices: np.ndarray,
              out_data: np.ndarray) -> None:  # pragma: no cover - compiled by numba
    """Fill the rows ``states`` of :meth:`JointChain.own_chain`'s arrays (from
    ``out_indptr[s]`` on): state ``s`` gets the rows ``s * A + joint_actions[s, t]`` of nonzero
    weight ``weights[s, t']`` (``t'`` that row's joint action), scaled by it."""
    for s in states:
        position = np.int64(out_indptr[s])
        for t in range(joint_actions.shape[1]):
            joint = joint_actions[s, t]
            weight = weights[s, joint]
            if weight == 0.0:
                continue
            row = s * num_joint + joint
            source = np.int64(indptr[row])
            stop = np.int64(indptr[row + 1])
            while source < stop:
                out_indices[position] = indices[source]
                out_data[position] = weight * np.float64(data[source])
                position += 1
                source += 1


def _own_product(matrix: sp.csr_array, vector: np.ndarray) -> np.ndarray:
    """``matrix @ vector`` by :func:`_matvec` (scipy's product without numba)."""
    if _compiled_kernels() is None:
        return np.asarray(matrix @ vector)
    out = np.empty(matrix.shape[0])
    _MATVEC_KERNEL[0](matrix.indptr, matrix.indices, matrix.data,
                      np.ascontiguousarray(vector, dtype=float).reshape(-1, 1), out)
    return out


#: Matrix entries one device pass handles at a time: the float64 copy of a chunk's ``float32``
#: probabilities and its products ``(rows, k)`` exist only during that chunk's product.
_DEVICE_CHUNK = 1 << 24


class _DeviceKernels:
    """:class:`JointChain`'s passes over the transition matrix on a torch device.

    The matrix is copied to the device once, as it is stored (``float32`` or ``float64``
    probabilities, ``int32`` or ``int64`` indices; on the CPU the arrays are shared, not
    copied), in chunks of whole states of at most :data:`_DEVICE_CHUNK` entries. A pass
    computes, chunk by chunk, ``E = P_chunk @ values`` ``(rows, k)`` by torch's sparse CSR
    product in float64 (``float32`` probabilities are converted to ``float64``, exactly, one
    chunk at a time), then the weighted sums of the NumPy route of :meth:`JointChain._sweep`:
    ``products[s, c] = sum_a w_c[s, a] E[s, a, c]`` and each player's action values. Each
    result is a float64 inner product of the same terms as on that route, in another order;
    Higham's bound ``gamma_n`` on an inner product of ``n`` terms holds for any summation order
    (and with fused multiply-adds), so the rounding depths behind :class:`JointChain`'s error
    bounds hold unchanged. The values go to the device and the results come back every pass
    (``S * k`` numbers each way); the weights and rewards are staged once per solve.
    """

    def __init__(self, transitions: sp.csr_array, num_actions: tuple[int, ...],
                 device: str) -> None:
        torch = require("torch", extra="marl")
        self.torch = torch
        try:
            self.device = torch.device(device)
        except (RuntimeError, TypeError, ValueError):
            raise GametoolsError(f"device must name a torch device such as 'cpu' or 'cuda', "
                                 f"got {device!r}") from None
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise GametoolsError(f"device {str(device)!r}: CUDA is not available here (torch "
                                 f"{torch.__version__})")
        self.num_actions = num_actions
        self.num_joint = int(np.prod(num_actions))
        self.num_states = transitions.shape[1]
        indptr = transitions.indptr
        # chunk boundaries at whole states: positions of the states' first entries
        firsts = indptr[::self.num_joint]
        self.chunks: list[tuple[int, int, int, int, Any]] = []
        start = 0
        while start < self.num_states:
            stop = int(np.searchsorted(firsts, int(firsts[start]) + _DEVICE_CHUNK, side="right"))
            stop = min(max(stop - 1, start + 1), self.num_states)
            low, high = int(firsts[start]), int(firsts[stop])
            rows = indptr[start * self.num_joint:stop * self.num_joint + 1]
            # rebased row pointers, in the matrix's own index type
            pointers = self._tensor(np.asarray(rows - rows[0], dtype=indptr.dtype))
            self.chunks.append((start, stop, low, high, pointers))
            start = stop
        self.indices = self._tensor(transitions.indices)
        self.data = self._tensor(transitions.data)

    def _tensor(self, array: np.ndarray) -> Any:
        """``array`` on the device; on the CPU its memory, shared (never written: the game's
        arrays are read-only, and torch's warning about that is silenced)."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            return self.torch.from_numpy(np.ascontiguousarray(array)).to(self.device)

    def _csr(self, pointers: Any, indices: Any, data: Any, rows: int) -> Any:
        """A sparse CSR tensor ``(rows, S)`` of these arrays (not copied, not checked)."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "sparse CSR support is in beta"
            return self.torch.sparse_csr_tensor(pointers, indices, data,
                                                size=(rows, self.num_states),
                                                check_invariants=False)

    def stage(self, array: Any) -> Any:
        """A float64 tensor on the device (a tensor passes unchanged)."""
        if isinstance(array, self.torch.Tensor):
            return array
        return self._tensor(np.asarray(array, dtype=np.float64))

    def own_chains(self, weights: Any, joint_actions: Sequence[np.ndarray]) -> list[list[Any]]:
        """Each column's own chain on the device, chunk by chunk (as
        :meth:`JointChain.own_chain`): column ``c``'s state ``s`` gets the transition rows
        ``s * A + joint_actions[c, s, t]``, each scaled by its weight ``weights[c, s, .]``.

        ``weights`` ``(k, S, A)`` (staged), ``joint_actions[c]`` ``(S, A / n_i)``. Float64
        entries; ``A / n_i`` rows per state instead of ``A``.
        """
        torch = self.torch
        chains: list[list[Any]] = []
        for c, actions in enumerate(joint_actions):
            chosen = torch.from_numpy(np.ascontiguousarray(actions, dtype=np.int64)).to(
                self.device)
            parts = []
            for start, stop, low, high, pointers in self.chunks:
                local = chosen[start:stop]  # (states, A / n_i)
                rows = (torch.arange(stop - start, device=self.device)[:, None] * self.num_joint
                        + local).reshape(-1)
                begins = pointers[rows].to(torch.int64)
                lengths = pointers[rows + 1].to(torch.int64) - begins
                total = int(lengths.sum())
                offsets = torch.cumsum(lengths, 0) - lengths
                positions = (torch.repeat_interleave(begins - offsets, lengths)
                             + torch.arange(total, device=self.device))
                scale = torch.repeat_interleave(
                    torch.gather(weights[c, start:stop], 1, local).reshape(-1), lengths)
                row_pointers = torch.zeros(stop - start + 1, dtype=torch.int64,
                                           device=self.device)
                torch.cumsum(lengths.reshape(stop - start, -1).sum(dim=1), 0,
                             out=row_pointers[1:])
                entries = self.indices[low:high][positions]
                probabilities = self.data[low:high][positions].to(torch.float64) * scale
                del positions, scale
                parts.append(self._csr(row_pointers.to(entries.dtype), entries, probabilities,
                                       stop - start))
            chains.append(parts)
        return chains

    def own_products(self, chains: list[list[Any]], values: np.ndarray) -> np.ndarray:
        """``P_c @ values[:, c]`` for every column's own chain, shape ``(S, k)``."""
        torch = self.torch
        block = self.stage(values)
        out = torch.empty(block.shape, dtype=torch.float64, device=self.device)
        for c, parts in enumerate(chains):
            column = block[:, c:c + 1]
            for (start, stop, _, _, _), part in zip(self.chunks, parts):
                out[start:stop, c:c + 1] = part @ column
        return out.cpu().numpy()  # type: ignore[no-any-return]

    def sweep(self, weights: Any, values: np.ndarray, discount: float, *,
              players: Sequence[int] | None, rewards: Any, products: bool
              ) -> tuple[np.ndarray | None, list[np.ndarray] | None]:
        """:meth:`JointChain._sweep` on the device (same arguments and results)."""
        torch = self.torch
        block = self.stage(values)
        count = block.shape[1]
        weights = self.stage(weights)
        staged_rewards = None if rewards is None else self.stage(rewards)
        out = (torch.empty((self.num_states, count), dtype=torch.float64, device=self.device)
               if products else None)
        want_tables = staged_rewards is not None and players is not None
        tables = ([torch.empty((self.num_states, self.num_actions[i]), dtype=torch.float64,
                               device=self.device) for i in players]
                  if want_tables and players is not None else [])
        shape = tuple(self.num_actions)
        for start, stop, low, high, pointers in self.chunks:
            # float32 probabilities become float64 exactly (a no-op for float64 storage)
            chunk = self._csr(pointers, self.indices[low:high],
                              self.data[low:high].to(torch.float64),
                              (stop - start) * self.num_joint)
            expected = (chunk @ block).reshape(stop - start, self.num_joint, count)
            del chunk
            local = weights[:, start:stop]
            if out is not None:
                out[start:stop] = torch.einsum("ksa,sak->sk", local.expand(count, -1, -1),
                                               expected)
            if want_tables and players is not None and staged_rewards is not None:
                for c, player in enumerate(players):
                    terms = local[c] * (staged_rewards[c, start:stop]
                                        + discount * expected[:, :, c])
                    axes = tuple(1 + j for j in range(len(shape)) if j != player)
                    full = terms.reshape(stop - start, *shape)
                    tables[c][start:stop] = full.sum(dim=axes) if axes else full
        return (None if out is None else out.cpu().numpy(),
                [t.cpu().numpy() for t in tables] if want_tables else None)


def _column_pairs(count: int) -> list[np.ndarray]:
    """Columns ``0 .. count - 1`` in pairs, the last one doubled when ``count`` is odd."""
    return [np.array([c, min(c + 1, count - 1)], dtype=np.int64) for c in range(0, count, 2)]


#: How many matrix entries ahead :func:`_sweep` prefetches the successor's values (about ten
#: transition rows: far enough to hide a memory access at 10^6 states, measured 16-96).
_PREFETCH_DISTANCE = 96


def _prefetch_row(values: np.ndarray, row: Any) -> None:  # pragma: no cover - replaced
    """Hint that ``values[row]`` will be read soon (compiled: LLVM's prefetch; no effect)."""


def _prefetch_intrinsic() -> Any:
    """:func:`_prefetch_row` as a numba intrinsic: ``llvm.prefetch`` (read, high locality) of
    the address of ``values[row, 0]``, no bounds check (the caller passes matrix indices)."""
    from llvmlite import ir
    from numba import types
    from numba.core import cgutils
    from numba.extending import intrinsic

    @intrinsic  # type: ignore[misc]
    def prefetch_row(typingctx: Any, values: Any, row: Any) -> Any:
        def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
            array_type = signature.args[0]
            array = context.make_array(array_type)(context, builder, args[0])
            zero = context.get_constant(types.intp, 0)
            pointer = cgutils.get_item_pointer(context, builder, array_type, array,
                                               [args[1], zero], wraparound=False,
                                               boundscheck=False)
            byte_pointer = ir.IntType(8).as_pointer()
            word = ir.IntType(32)
            function = cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(ir.VoidType(), [byte_pointer, word, word, word]),
                "llvm.prefetch.p0i8")
            builder.call(function, [builder.bitcast(pointer, byte_pointer), ir.Constant(word, 0),
                                    ir.Constant(word, 3), ir.Constant(word, 1)])
            return context.get_dummy_value()

        return types.void(values, row), codegen

    return prefetch_row


_CHAIN_KERNEL: list[Any] = []
_MATVEC_KERNEL: list[Any] = []


def _compiled_kernels() -> Any:
    """:func:`_sweep` compiled by numba (cached on disk), or None without numba."""
    if not _CHAIN_KERNEL:
        import importlib.util

        if importlib.util.find_spec("numba") is None:
            _CHAIN_KERNEL.append(None)
        else:
            import numba

            # the kernel's global name, resolved when numba compiles it
            globals()["_prefetch_row"] = _prefetch_intrinsic()
            compile_ = numba.njit(cache=True, nogil=True)
            _CHAIN_KERNEL.append(compile_(_sweep))
            _MATVEC_KERNEL.append(compile_(_matvec))
    return _CHAIN_KERNEL[0]


_ROWS_KERNEL: list[Any] = []


def _compiled_own_rows() -> Any:
    """:func:`_own_rows` compiled by numba (cached on disk), or None without numba."""
    if _compiled_kernels() is None:
        return None
    if not _ROWS_KERNEL:
        import numba

        _ROWS_KERNEL.append(numba.njit(cache=True, nogil=True)(_own_rows))
    return _ROWS_KERNEL[0]


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

#: Policy evaluations (:meth:`JointChain.evaluate`) stop at this relative residual: their
#: error bound is then still below a tenth of a best response's, whose final evaluation also
#: enters its improvement margin (``1 / (1 - discount)`` times its error).
_EVALUATION_TOLERANCE = 1e-12

#: GMRES aims this far below its target, so that the recomputed residual (which differs from
#: GMRES's estimate by rounding) meets the target without another round.
_SLACK = 0.5


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
    is then within ``(gain + margin) * amplification`` of optimal (``gain`` the largest
    computed one left, at most ``margin``), which the error bound includes.
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
        gain = q[np.arange(num_states), best] - current
        improve = gain > margin
        if not improve.any():
            # the exact gain of any action is at most the computed one plus the margin
            return values, actions, tolerance + (max(float(gain.max()), 0.0) + margin) \
                * amplification
        actions = np.where(improve, best, actions)
    raise GametoolsError("policy iteration did not converge; the game may be numerically "
                         "ill-conditioned (discount too close to 1)")
