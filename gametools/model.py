"""The game model: normal-form games and finite Markov (stochastic) games.

Definitions
-----------
A *normal-form game* with ``N`` players, player ``i`` having ``n_i`` actions, is a payoff tensor of
shape ``(N, n_1, ..., n_N)``: ``payoffs[i, a_1, ..., a_N]`` is player ``i``'s payoff when the joint
action is ``(a_1, ..., a_N)``. The player axis comes first, as in OpenSpiel's payoff tensors.

A *Markov game* (stochastic game) has finitely many states ``S`` and, in every state, the same
action sets. It is given by

- ``transitions`` ``(S, n_1, ..., n_N, S)``: ``P(s' | s, a)``; every non-terminal row sums to 1,
- ``rewards`` ``(N, S, n_1, ..., n_N)``: ``r_i(s, a)``, paid on leaving ``s``,
- ``initial`` ``(S,)``: the start distribution,
- ``discount`` ``gamma`` in ``[0, 1]`` (1 only when every joint policy terminates almost surely),
- ``terminal`` ``(S,)`` bool: an episode ends on reaching a terminal state, which pays nothing,
- ``observations`` ``(N, S)`` int, optional: player ``i`` acts on ``observations[i, s]``.

Player ``i``'s value of a joint policy is ``E[sum_t gamma^t r_i(s_t, a_t)]`` with ``s_0 ~ initial``.
Large games hold their transitions sparsely as a ``(S * A, S)`` matrix whose row ``s * A + a``
is ``P(. | s, a)`` for the joint action ``a`` flattened in C order (``A = n_1 * ... * n_N``).

Validation happens at construction. A bad game raises :class:`~gametools.errors.GameValidationError`
naming the array, the index and the rule; nothing is silently renormalised or clipped.

Examples
--------
>>> import numpy as np
>>> from gametools import NormalFormGame
>>> pennies = NormalFormGame.zero_sum([[1, -1], [-1, 1]])
>>> pennies.num_players, pennies.num_actions
(2, (2, 2))
>>> pennies.expected_payoffs((np.array([0.5, 0.5]), np.array([0.5, 0.5]))).tolist()
[0.0, 0.0]
>>> game = pennies.to_markov_game()
>>> game.num_states, game.discount, game.terminal.tolist()
(2, 1.0, [False, True])
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

import numpy as np
import scipy.sparse as sp

from gametools.errors import GameValidationError
from gametools.limits import check

__all__ = ["NormalFormGame", "MarkovGame", "time_indexed", "compact_transitions", "contract_others",
           "ROW_SUM_TOLERANCE",
           "EXIT_PROBABILITY_FLOOR"]

#: Absolute tolerance on probability rows summing to one (inputs are never renormalised).
ROW_SUM_TOLERANCE = 1e-9

#: With discount 1, a set of states left with at most this probability per step counts as a
#: trap (its expected stay, over 1e12 steps, leaves float64 values without correct digits).
EXIT_PROBABILITY_FLOOR = 1e-12


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------

def _readonly(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


def _freeze(matrix: sp.csr_array) -> None:
    for array in (matrix.data, matrix.indices, matrix.indptr):
        array.flags.writeable = False


def _first_index(mask: np.ndarray) -> tuple[int, ...]:
    return tuple(int(i) for i in np.unravel_index(int(np.flatnonzero(mask.ravel())[0]), mask.shape))


def _as_float_array(name: str, values: Any, error: type[GameValidationError] = GameValidationError
                    ) -> np.ndarray:
    try:
        array = np.array(values, dtype=float)
    except OverflowError:
        raise error(name, "must be finite (an entry is too large for a float)") from None
    except (TypeError, ValueError) as exc:
        raise error(name, f"must be an array of real numbers ({exc})") from None
    bad = ~np.isfinite(array)
    if bad.any():
        index = _first_index(bad)
        raise error(name, "must be finite", index, float(array[index]))
    return array


def _exact_array(values: Any) -> np.ndarray | None:
    """Object array of Fractions when every entry is an integer, Fraction or Decimal; else None."""
    array = np.asarray(values)
    if array.dtype.kind in "iub":
        return np.vectorize(Fraction, otypes=[object])(array.astype(object)) if array.size else \
            np.empty(array.shape, dtype=object)
    if array.dtype.kind != "O":
        return None
    flat = array.ravel()
    if not all(isinstance(v, (int, Fraction, Decimal, np.integer)) for v in flat):
        return None
    if any(isinstance(v, Decimal) and not v.is_finite() for v in flat):
        return None  # reported as a non-finite payoff by the float validation
    exact = np.empty(array.shape, dtype=object)
    exact.ravel()[:] = [Fraction(int(v)) if isinstance(v, (np.integer, bool)) else Fraction(v)
                        for v in flat]
    return exact


def _small_integer_array(values: Any) -> np.ndarray | None:
    """``values`` as a read-only int64 array when given as an integer (or bool) array whose
    magnitudes stay below 2^62, else None (no scan of Python objects: decided by the dtype)."""
    if not isinstance(values, np.ndarray) or values.dtype.kind not in "iub" or not values.size:
        return None
    if int(values.min()) <= -2 ** 62 or int(values.max()) >= 2 ** 62:
        return None
    return _readonly(values.astype(np.int64))


def _check_range(name: str, array: np.ndarray) -> None:
    # differences of payoffs (regrets, NashConv) must stay finite
    if array.size and not np.isfinite(float(array.max()) - float(array.min())):
        raise GameValidationError(name, "the range max - min overflows float64; rescale the "
                                  "values")


def _check_probabilities(name: str, array: np.ndarray) -> None:
    low = array < 0
    if low.any():
        index = _first_index(low)
        raise GameValidationError(name, "probabilities must be in [0, 1]", index, float(array[index]))
    high = array > 1
    if high.any():
        index = _first_index(high)
        raise GameValidationError(name, "probabilities must be in [0, 1]", index, float(array[index]))

#: Stored entries (and rows) examined at once by the sparse validation: it allocates no
#: temporary as large as the matrix (at 10^6 states the matrix alone is gigabytes).
_CHECK_CHUNK = 1 << 22
_CHECK_ROWS = 1 << 20

#: Rows given to :func:`compact_transitions` summing to 1 within this are corrected.
_COMPACT_ROW_TOLERANCE = 1e-6


def _private_csr(transitions: Any) -> sp.csr_array:
    """A private CSR copy of a sparse matrix in its compact storage, duplicates summed.

    The caller's matrix must not be able to change a validated game, so the arrays are always
    copied, once: ``float32`` probabilities stay ``float32`` (every other type becomes
    ``float64``), and indices are ``int32`` whenever the entry count and the shape allow it
    (scipy widens both index arrays to ``int64`` as soon as one of them is).
    """
    source = transitions if isinstance(transitions, (sp.csr_array, sp.csr_matrix)) \
        else sp.csr_array(transitions)
    dtype = np.float32 if source.dtype == np.float32 else np.float64
    fits = max(int(source.nnz), int(source.shape[0]) + 1, int(source.shape[1])) < 2**31 - 1
    index = np.int32 if fits else np.int64
    matrix = sp.csr_array((np.array(source.data, dtype=dtype),
                           np.array(source.indices, dtype=index),
                           np.array(source.indptr, dtype=index)), shape=source.shape, copy=False)
    matrix.sum_duplicates()  # in place; a no-op for a matrix already in canonical form
    return matrix


def _row_sums(data: np.ndarray, indptr: np.ndarray, start: int, stop: int) -> np.ndarray:
    """Sums of rows ``start:stop`` of a CSR matrix, accumulated in float64, ``(stop - start,)``."""
    low, high = int(indptr[start]), int(indptr[stop])
    lengths = np.diff(indptr[start:stop + 1])
    labels = np.repeat(np.arange(stop - start), lengths)
    return np.bincount(labels, weights=data[low:high].astype(np.float64),
                       minlength=stop - start)


def _raise_bad_entry(matrix: sp.csr_array, num_actions: tuple[int, ...]) -> None:
    """Raise the error for the first non-finite entry, else the first outside ``[0, 1]``."""
    data = matrix.data
    num_joint = math.prod(num_actions)
    for rule, bad in (("must be finite", ~np.isfinite(data)),
                      ("probabilities must be in [0, 1]", (data < 0) | (data > 1))):
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            row = int(np.searchsorted(matrix.indptr, k, side="right")) - 1
            state, joint = divmod(row, num_joint)
            actions = tuple(int(i) for i in np.unravel_index(joint, num_actions))
            raise GameValidationError("transitions", rule,
                                      (state, *actions, int(matrix.indices[k])),
                                      float(data[k]))



def _labels(name: str, labels: Sequence[Any] | None, count: int, default: str) -> tuple[str, ...]:
    if labels is None:
        return tuple(f"{default}{k}" for k in range(count))
    out = tuple(str(label) for label in labels)
    if len(out) != count:
        raise GameValidationError(name, f"needs {count} labels, one per entry", None, len(out))
    return out


def _action_labels(labels: Sequence[Sequence[Any]] | None, num_actions: tuple[int, ...]
                   ) -> tuple[tuple[str, ...], ...]:
    if labels is None:
        return tuple(tuple(str(a) for a in range(n)) for n in num_actions)
    if len(labels) != len(num_actions):
        raise GameValidationError("action_labels", "needs one list of labels per player", None,
                                  len(labels))
    return tuple(_labels(f"action_labels[{i}]", player, n, "")
                 for i, (player, n) in enumerate(zip(labels, num_actions)))


def contract_others(tensor: np.ndarray, strategies: Sequence[np.ndarray], keep: int) -> np.ndarray:
    """Contract axes ``j != keep`` of ``tensor`` (shape ``(n_1, ..., n_N)``) with ``strategies[j]``.

    Returns player ``keep``'s payoff of each own action, shape ``(n_keep,)``, when ``tensor``
    holds that player's payoffs.
    """
    out = tensor
    for j in reversed(range(len(strategies))):
        if j != keep:
            out = np.tensordot(out, strategies[j], axes=([j], [0]))
    return out


# --------------------------------------------------------------------------------------------
# normal-form games
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False, init=False)
class NormalFormGame:
    """A finite normal-form game with the player axis first.

    Parameters
    ----------
    payoffs : array_like, shape (N, n_1, ..., n_N)
        ``payoffs[i, a_1, ..., a_N]`` is player ``i``'s payoff. Integer, ``Fraction`` or
        ``Decimal`` entries are kept exactly in :attr:`payoffs_exact` so equilibria can be
        certified in rational arithmetic.
    player_labels : sequence of str, optional
    action_labels : sequence of sequences of str, optional
        One sequence of ``n_i`` labels per player.
    title : str, optional

    Attributes
    ----------
    payoffs : ndarray of float, shape (N, n_1, ..., n_N), read-only
    payoffs_exact : ndarray of Fraction, shape (N, n_1, ..., n_N), or None
        The exact payoffs when they were given exactly.

    Raises
    ------
    GameValidationError
        On a wrong shape, a non-finite payoff or mismatched labels.
    """

    payoffs: np.ndarray
    payoffs_exact: np.ndarray | None
    player_labels: tuple[str, ...]
    action_labels: tuple[tuple[str, ...], ...]
    title: str

    def __init__(self, payoffs: Any, *, player_labels: Sequence[str] | None = None,
                 action_labels: Sequence[Sequence[str]] | None = None, title: str = "") -> None:
        exact = _exact_array(payoffs)
        array = _as_float_array("payoffs", payoffs)
        if array.ndim < 2:
            raise GameValidationError(
                "payoffs", "must have shape (num_players, n_1, ..., n_N): player axis first",
                None, array.shape)
        if array.shape[0] != array.ndim - 1:
            raise GameValidationError(
                "payoffs", f"has {array.ndim - 1} action axes but {array.shape[0]} players on axis 0;"
                " the shape must be (num_players, n_1, ..., n_N)", None, array.shape)
        if min(array.shape[1:]) < 1:
            raise GameValidationError("payoffs", "every player needs at least one action", None,
                                      array.shape)
        _check_range("payoffs", array)
        num_actions = tuple(int(n) for n in array.shape[1:])
        object.__setattr__(self, "payoffs", _readonly(array))
        object.__setattr__(self, "payoffs_exact", None if exact is None else _readonly(exact))
        object.__setattr__(self, "_integers", _small_integer_array(payoffs))
        object.__setattr__(self, "player_labels",
                           _labels("player_labels", player_labels, array.shape[0], "player "))
        object.__setattr__(self, "action_labels", _action_labels(action_labels, num_actions))
        object.__setattr__(self, "title", str(title))

    # constructors -----------------------------------------------------------------------------

    @classmethod
    def from_bimatrix(cls, row_payoffs: Any, column_payoffs: Any, **labels: Any) -> NormalFormGame:
        """Two-player game from the row player's matrix ``A`` and the column player's ``B``.

        Parameters
        ----------
        row_payoffs, column_payoffs : array_like, shape (n_1, n_2)
        """
        a, b = np.asarray(row_payoffs), np.asarray(column_payoffs)
        if a.ndim != 2 or a.shape != b.shape:
            raise GameValidationError("payoffs", "a bimatrix game needs two matrices of the same "
                                      "shape (n_1, n_2)", None, (a.shape, b.shape))
        if a.dtype.kind in "iub" and b.dtype.kind in "iub":  # integers stay an integer array
            return cls(np.stack([a, b]), **labels)
        dtype = object if (_exact_array(a) is not None and _exact_array(b) is not None) else float
        return cls(np.stack([a.astype(dtype), b.astype(dtype)]), **labels)

    @classmethod
    def zero_sum(cls, row_payoffs: Any, **labels: Any) -> NormalFormGame:
        """Two-player zero-sum game: the row player receives ``A``, the column player ``-A``."""
        a = np.asarray(row_payoffs)
        return cls.from_bimatrix(a, -a if a.dtype.kind != "O" else np.vectorize(
            lambda v: -v, otypes=[object])(a), **labels)

    @classmethod
    def symmetric(cls, row_payoffs: Any, **labels: Any) -> NormalFormGame:
        """Symmetric two-player game: the column player's matrix is ``A`` transposed."""
        a = np.asarray(row_payoffs)
        return cls.from_bimatrix(a, a.T, **labels)

    # properties -------------------------------------------------------------------------------

    @property
    def num_players(self) -> int:
        return int(self.payoffs.shape[0])

    @property
    def num_actions(self) -> tuple[int, ...]:
        return tuple(int(n) for n in self.payoffs.shape[1:])

    @property
    def integer_payoffs(self) -> np.ndarray | None:
        """The payoffs as a read-only int64 array (same shape as :attr:`payoffs`) when they were
        given as an integer NumPy array with every magnitude below 2^62, else None.

        Equal to :attr:`payoffs_exact` entry by entry where set; exact solvers use it for
        integer arithmetic without reading ``Fraction`` objects. None says nothing about the
        values (integer payoffs given as Python objects or Fractions also leave it None).
        """
        integers: np.ndarray | None = self.__dict__.get("_integers")
        return integers

    @property
    def is_exact(self) -> bool:
        """Whether the payoffs were given exactly (integers or rationals)."""
        return self.payoffs_exact is not None

    def payoff_range(self) -> float:
        """``max - min`` over all payoffs of all players (1.0 for a constant game)."""
        spread = float(self.payoffs.max() - self.payoffs.min())
        return spread if spread > 0 else 1.0

    def is_zero_sum(self, *, tol: float = 0.0) -> bool:
        """Whether payoffs sum to zero over players at every joint action (exactly when exact)."""
        if self.payoffs_exact is not None and tol == 0.0:
            return all(v == 0 for v in self.payoffs_exact.sum(axis=0).ravel())
        return bool(np.all(np.abs(self.payoffs.sum(axis=0)) <= tol))

    # evaluation -------------------------------------------------------------------------------

    def action_payoffs(self, profile: Sequence[np.ndarray]) -> tuple[np.ndarray, ...]:
        """Each player's payoff of each own pure action against the others' strategies.

        Parameters
        ----------
        profile : sequence of ndarray, shapes (n_i,)

        Returns
        -------
        tuple of ndarray, shapes (n_i,)
        """
        strategies = [np.asarray(x, dtype=float) for x in profile]
        return tuple(contract_others(self.payoffs[i], strategies, i)
                     for i in range(self.num_players))

    def expected_payoffs(self, profile: Sequence[np.ndarray]) -> np.ndarray:
        """Expected payoff of every player, shape ``(N,)``."""
        strategies = [np.asarray(x, dtype=float) for x in profile]
        return np.array([float(u @ strategies[i])
                         for i, u in enumerate(self.action_payoffs(strategies))])

    def to_markov_game(self) -> MarkovGame:
        """The one-shot game as a Markov game: one playing state, then a terminal state."""
        shape = self.num_actions
        transitions = np.zeros((2, *shape, 2))
        transitions[(slice(None),) * (len(shape) + 1) + (1,)] = 1.0
        rewards = np.zeros((self.num_players, 2, *shape))
        rewards[:, 0] = self.payoffs
        return MarkovGame(transitions, rewards, [1.0, 0.0], 1.0, terminal=[False, True],
                          state_labels=["play", "end"], action_labels=self.action_labels,
                          player_labels=self.player_labels)

    def __repr__(self) -> str:
        kind = "exact" if self.is_exact else "float"
        return f"NormalFormGame(num_actions={self.num_actions}, {kind} payoffs)"


# --------------------------------------------------------------------------------------------
# Markov games
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False, init=False)
class MarkovGame:
    """A finite Markov (stochastic) game, validated at construction.

    Parameters
    ----------
    transitions : array_like, shape (S, n_1, ..., n_N, S), or scipy sparse matrix, shape (S * A, S)
        ``P(s' | s, a)``. A sparse matrix holds row ``s * A + a`` for the joint action ``a``
        flattened in C order. Rows of non-terminal states sum to 1 (within
        :data:`ROW_SUM_TOLERANCE`); rows of terminal states are never used. A sparse matrix is
        copied once into compact storage: ``int32`` indices whenever they fit, and ``float32``
        probabilities kept as ``float32`` (the stored numbers are the probabilities, read
        exactly by every evaluator; :func:`compact_transitions` rounds a ``float64`` matrix so
        that its rows still sum to 1); any other type becomes ``float64``.
    rewards : array_like, shape (N, S, n_1, ..., n_N)
        ``r_i(s, a)``, paid on leaving ``s``; rewards of terminal states are never paid.
    initial : array_like, shape (S,)
        Start distribution.
    discount : float
        In ``[0, 1]``; 1 only when every joint policy reaches a terminal state almost surely.
    terminal : array_like of bool, shape (S,), optional
        Absorbing end states (none by default).
    observations : array_like of int, shape (N, S), optional
        Player ``i`` acts on ``observations[i, s]``. Absent means fully observed.
    state_labels, player_labels : sequence of str, optional
    action_labels : sequence of sequences of str, optional

    Attributes
    ----------
    transitions : ndarray (S, n_1, ..., n_N, S) or scipy.sparse.csr_array (S * A, S), read-only
    rewards : ndarray, shape (N, S, n_1, ..., n_N), read-only
    initial : ndarray, shape (S,), read-only
    discount : float
    terminal : ndarray of bool, shape (S,), read-only
    observations : ndarray of int, shape (N, S), read-only (identity rows when fully observed)

    Raises
    ------
    GameValidationError
        Naming the array, the first offending index and the rule, for any broken rule.
    """

    transitions: Any
    rewards: np.ndarray
    initial: np.ndarray
    discount: float
    terminal: np.ndarray
    observations: np.ndarray
    fully_observed: bool
    state_labels: tuple[str, ...]
    player_labels: tuple[str, ...]
    action_labels: tuple[tuple[str, ...], ...]

    def __init__(self, transitions: Any, rewards: Any, initial: Any, discount: float, *,
                 terminal: Any = None, observations: Any = None,
                 state_labels: Sequence[str] | None = None,
                 player_labels: Sequence[str] | None = None,
                 action_labels: Sequence[Sequence[str]] | None = None) -> None:
        rewards_array = _as_float_array("rewards", rewards)
        if rewards_array.ndim < 3 or rewards_array.shape[0] != rewards_array.ndim - 2:
            raise GameValidationError(
                "rewards", "must have shape (num_players, S, n_1, ..., n_N) with one action axis "
                "per player", None, rewards_array.shape)
        num_players, num_states = int(rewards_array.shape[0]), int(rewards_array.shape[1])
        num_actions = tuple(int(n) for n in rewards_array.shape[2:])
        if num_states < 1 or min(num_actions) < 1:
            raise GameValidationError("rewards", "needs at least one state and one action per "
                                      "player", None, rewards_array.shape)
        _check_range("rewards", rewards_array)
        set_ = functools.partial(object.__setattr__, self)
        set_("rewards", _readonly(rewards_array))

        terminal_array = self._validate_terminal(terminal, num_states)
        set_("terminal", _readonly(terminal_array))
        if sp.issparse(transitions):
            set_("transitions", self._validate_sparse(transitions, num_states, num_actions,
                                                      terminal_array))
        else:
            set_("transitions", _readonly(self._validate_dense(
                transitions, num_states, num_actions, terminal_array)))

        initial_array = _as_float_array("initial", initial)
        if initial_array.shape != (num_states,):
            raise GameValidationError("initial", f"must have shape (S,) = ({num_states},)", None,
                                      initial_array.shape)
        _check_probabilities("initial", initial_array)
        if abs(initial_array.sum() - 1.0) > ROW_SUM_TOLERANCE:
            raise GameValidationError("initial", "must sum to 1", None, float(initial_array.sum()))
        set_("initial", _readonly(initial_array))

        try:
            gamma = float(discount)
        except (TypeError, ValueError):
            raise GameValidationError("discount", "must be a real number in [0, 1]", None,
                                      discount) from None
        if not math.isfinite(gamma) or not 0.0 <= gamma <= 1.0:
            raise GameValidationError("discount", "must be in [0, 1]", None, gamma)
        set_("discount", gamma)

        fully_observed = observations is None
        obs = (np.broadcast_to(np.arange(num_states), (num_players, num_states)).copy()
               if fully_observed else self._validate_observations(observations, num_players,
                                                                   num_states))
        set_("observations", _readonly(obs))
        set_("fully_observed", fully_observed)
        set_("state_labels", _labels("state_labels", state_labels, num_states, "s"))
        set_("player_labels", _labels("player_labels", player_labels, num_players, "player "))
        set_("action_labels", _action_labels(action_labels, num_actions))
        if gamma == 1.0:
            self._check_termination()

    # validation -------------------------------------------------------------------------------

    @staticmethod
    def _validate_terminal(terminal: Any, num_states: int) -> np.ndarray:
        if terminal is None:
            return np.zeros(num_states, dtype=bool)
        array = np.asarray(terminal)
        if array.shape != (num_states,):
            raise GameValidationError("terminal", f"must have shape (S,) = ({num_states},)", None,
                                      array.shape)
        if array.dtype != bool:
            if array.dtype.kind not in "iuf" or not np.isin(array, (0, 1)).all():
                raise GameValidationError("terminal", "must be booleans (or 0/1)")
            array = array.astype(bool)
        return array.copy()

    @staticmethod
    def _validate_dense(transitions: Any, num_states: int, num_actions: tuple[int, ...],
                        terminal: np.ndarray) -> np.ndarray:
        array = _as_float_array("transitions", transitions)
        expected = (num_states, *num_actions, num_states)
        if array.shape != expected:
            raise GameValidationError("transitions", f"must have shape (S, n_1, ..., n_N, S) = "
                                      f"{expected} to match rewards", None, array.shape)
        _check_probabilities("transitions", array)
        sums = array.sum(axis=-1)
        bad = (np.abs(sums - 1.0) > ROW_SUM_TOLERANCE) & ~terminal.reshape(
            (num_states,) + (1,) * len(num_actions))
        if bad.any():
            index = _first_index(bad)
            raise GameValidationError("transitions", "each row P(. | s, a) of a non-terminal state "
                                      "must sum to 1", index, float(sums[index]))
        return array

    @staticmethod
    def _validate_sparse(transitions: Any, num_states: int, num_actions: tuple[int, ...],
                         terminal: np.ndarray) -> sp.csr_array:
        num_joint = math.prod(num_actions)
        shape = tuple(int(n) for n in transitions.shape)
        if shape != (num_states * num_joint, num_states):
            raise GameValidationError(
                "transitions", f"a sparse transition matrix must have shape (S * A, S) = "
                f"({num_states * num_joint}, {num_states})", None, shape)
        matrix = _private_csr(transitions)
        data, indptr = matrix.data, matrix.indptr
        for start in range(0, data.size, _CHECK_CHUNK):
            chunk = data[start:start + _CHECK_CHUNK]
            if not ((chunk >= 0) & (chunk <= 1)).all():  # NaN fails both comparisons
                _raise_bad_entry(matrix, num_actions)
        nonterminal = ~np.repeat(terminal, num_joint)
        for start in range(0, matrix.shape[0], _CHECK_ROWS):
            stop = min(start + _CHECK_ROWS, matrix.shape[0])
            sums = _row_sums(data, indptr, start, stop)
            bad = (np.abs(sums - 1.0) > ROW_SUM_TOLERANCE) & nonterminal[start:stop]
            if bad.any():
                row = start + int(np.flatnonzero(bad)[0])
                state, joint = divmod(row, num_joint)
                index = (state, *(int(i) for i in np.unravel_index(joint, num_actions)))
                raise GameValidationError("transitions", "each row P(. | s, a) of a non-terminal "
                                          "state must sum to 1", index, float(sums[row - start]))
        _freeze(matrix)
        return matrix

    @staticmethod
    def _validate_observations(observations: Any, num_players: int, num_states: int) -> np.ndarray:
        array = np.asarray(observations)
        if array.shape != (num_players, num_states):
            raise GameValidationError("observations", f"must have shape (N, S) = ({num_players}, "
                                      f"{num_states})", None, array.shape)
        if array.dtype.kind not in "iu":
            if array.dtype.kind != "f" or not np.all(np.isfinite(array)) or \
                    not np.all(array == np.round(array)):
                raise GameValidationError("observations", "must be integers (observation ids)")
        array = array.astype(np.int64)
        if array.size:
            # policies get one row per observation id: an id of 10^12 would ask for terabytes
            check("max_observation_id", int(array.max()), "largest observation id")
        negative = array < 0
        if negative.any():
            index = _first_index(negative)
            raise GameValidationError("observations", "observation ids must be >= 0", index,
                                      int(array[index]))
        return array

    def _check_termination(self) -> None:
        """Reject discount 1 unless every joint policy terminates almost surely.

        The players can avoid termination forever exactly from the states in the greatest set
        ``W`` of non-terminal states such that every state of ``W`` has a joint action whose
        successors all lie in ``W``. We compute ``W`` restricted to reachable states.
        """
        matrix = self.transition_matrix
        num_joint = self.num_joint_actions
        reachable = self.reachable_states()
        safe = reachable & ~self.terminal
        while True:
            # leaving with a probability that float64 cannot tell from 0 counts as staying: the
            # evaluation system would be numerically singular
            leaves = (matrix @ (~safe).astype(float)) > EXIT_PROBABILITY_FLOOR
            stays = safe & (~leaves.reshape(self.num_states, num_joint)).any(axis=1)
            if np.array_equal(stays, safe):
                break
            safe = stays
        if safe.any():
            state = int(np.flatnonzero(safe)[0])
            raise GameValidationError(
                "discount", "discount = 1 needs every joint policy to terminate almost surely, but "
                f"from reachable state {state} ({self.state_labels[state]!r}) the players can stay "
                "among non-terminal states forever (or leave with probability below "
                f"{EXIT_PROBABILITY_FLOOR:g} per step); use a discount < 1 or add termination",
                None, 1.0)

    # structure --------------------------------------------------------------------------------

    @property
    def num_players(self) -> int:
        return int(self.rewards.shape[0])

    @property
    def num_states(self) -> int:
        return int(self.rewards.shape[1])

    @property
    def num_actions(self) -> tuple[int, ...]:
        return tuple(int(n) for n in self.rewards.shape[2:])

    @property
    def num_joint_actions(self) -> int:
        return math.prod(self.num_actions)

    @property
    def num_observations(self) -> tuple[int, ...]:
        return tuple(int(row.max()) + 1 for row in self.observations)

    @property
    def is_sparse(self) -> bool:
        return sp.issparse(self.transitions)

    @functools.cached_property
    def transition_matrix(self) -> sp.csr_array:
        """Transitions as a sparse ``(S * A, S)`` matrix, row ``s * A + a`` (``a`` in C order)."""
        if self.is_sparse:
            return self.transitions
        matrix = sp.csr_array(self.transitions.reshape(-1, self.num_states))
        _freeze(matrix)
        return matrix

    def dense_transitions(self) -> np.ndarray:
        """Transitions as a dense ``(S, n_1, ..., n_N, S)`` float64 array (materialised if
        sparse; compact ``float32`` entries are converted exactly, so dense solvers never
        compute in single precision)."""
        if not self.is_sparse:
            return self.transitions
        return self.transitions.toarray().astype(np.float64, copy=False).reshape(
            self.num_states, *self.num_actions, self.num_states)

    def reachable_states(self) -> np.ndarray:
        """Boolean mask ``(S,)`` of states reachable from the support of ``initial``."""
        return self._reachable.copy()

    @functools.cached_property
    def _reachable(self) -> np.ndarray:
        matrix = self.transition_matrix
        # state -> successor adjacency over all joint actions
        rows = np.repeat(np.arange(matrix.shape[0]) // self.num_joint_actions,
                         np.diff(matrix.indptr))
        step = sp.csr_array((np.ones(rows.size), (rows, matrix.indices)),
                            shape=(self.num_states, self.num_states)).T.tocsr()
        reached = self.initial > 0
        frontier = reached.copy()
        while frontier.any():
            nxt = (step @ (frontier & ~self.terminal).astype(float)) > 0
            frontier = nxt & ~reached
            reached |= nxt
        return reached

    def stage_game(self, state: int, values: Any) -> NormalFormGame:
        """The normal-form game ``r(s, .) + gamma * E[values(s') | s, .]`` played in ``state``.

        Parameters
        ----------
        state : int
        values : array_like, shape (N, S)
            Continuation values; entries of terminal states are ignored (taken as zero).

        Returns
        -------
        NormalFormGame
            Payoffs of shape ``(N, n_1, ..., n_N)``.
        """
        if not 0 <= int(state) < self.num_states:
            raise GameValidationError("state", f"must be in [0, {self.num_states})", None, state)
        values_array = _as_float_array("values", values)
        if values_array.shape != (self.num_players, self.num_states):
            raise GameValidationError("values", f"must have shape (N, S) = ({self.num_players}, "
                                      f"{self.num_states})", None, values_array.shape)
        continuation = np.where(self.terminal, 0.0, values_array)  # (N, S)
        num_joint = self.num_joint_actions
        rows = self.transition_matrix[int(state) * num_joint:(int(state) + 1) * num_joint]
        expected = (rows @ continuation.T).T.reshape(self.num_players, *self.num_actions)
        payoffs = self.rewards[:, int(state)] + self.discount * expected
        return NormalFormGame(payoffs, player_labels=self.player_labels,
                              action_labels=self.action_labels,
                              title=f"stage game at {self.state_labels[int(state)]}")

    def __repr__(self) -> str:
        storage = "sparse" if self.is_sparse else "dense"
        observed = "fully observed" if self.fully_observed else "partially observed"
        return (f"MarkovGame(num_states={self.num_states}, num_actions={self.num_actions}, "
                f"discount={self.discount}, {storage}, {observed})")


def time_indexed(game: MarkovGame, horizon: int) -> MarkovGame:
    """Unroll ``game`` for ``horizon`` steps into time-indexed states.

    State ``(t, s)`` of the result has index ``t * S + s`` for ``t < horizon``; one extra terminal
    state (index ``horizon * S``) ends every episode after ``horizon`` steps. Player ``i`` observes
    ``(t, o_i)`` as ``t * O_i + observations[i, s]``, so the time step is always known. The result
    terminates, so its discount may be 1, and it always holds transitions sparsely.

    Parameters
    ----------
    game : MarkovGame
    horizon : int
        Number of decision steps, at least 1.

    Returns
    -------
    MarkovGame
        With ``horizon * S + 1`` states.

    Examples
    --------
    >>> import numpy as np
    >>> from gametools import MarkovGame, time_indexed
    >>> loop = MarkovGame(np.ones((1, 2, 1)), np.ones((1, 1, 2)), [1.0], 0.9)
    >>> unrolled = time_indexed(loop, 3)
    >>> unrolled.num_states, bool(unrolled.terminal[-1])
    (4, True)
    """
    if int(horizon) != horizon or horizon < 1:
        raise GameValidationError("horizon", "must be a positive integer", None, horizon)
    horizon = int(horizon)
    num_states, num_joint = game.num_states, game.num_joint_actions
    base = game.transition_matrix.tocoo()
    end = horizon * num_states
    rows, cols, data = [], [], []
    for t in range(horizon - 1):
        rows.append(base.row + t * num_states * num_joint)
        cols.append(base.col + (t + 1) * num_states)
        data.append(base.data)
    # the last step goes to the end state with probability exactly 1 (summing the row's
    # probabilities could round to 1 + 1e-16)
    rows.append((horizon - 1) * num_states * num_joint + np.arange(num_states * num_joint))
    cols.append(np.full(num_states * num_joint, end))
    data.append(np.ones(num_states * num_joint))
    transitions = sp.csr_array((np.concatenate(data), (np.concatenate(rows), np.concatenate(cols))),
                               shape=((end + 1) * num_joint, end + 1))
    terminal = np.concatenate([np.tile(game.terminal, horizon), [True]])
    # terminal states of the original game keep no outgoing transitions (they end the episode)
    mask = np.repeat(terminal, num_joint)
    transitions = sp.csr_array(sp.diags_array((~mask).astype(float)) @ transitions)
    transitions.eliminate_zeros()
    rewards = np.concatenate([np.tile(game.rewards, (1, horizon) + (1,) * len(game.num_actions)),
                              np.zeros((game.num_players, 1, *game.num_actions))], axis=1)
    initial = np.concatenate([game.initial, np.zeros(end + 1 - num_states)])
    num_obs = np.array(game.num_observations)[:, None]
    times = np.repeat(np.arange(horizon), num_states)[None, :]
    observations = np.concatenate(
        [times * num_obs + np.tile(game.observations, (1, horizon)),
         (horizon * num_obs)], axis=1)
    labels = [f"t{t}:{label}" for t in range(horizon) for label in game.state_labels] + ["end"]
    return MarkovGame(transitions, rewards, initial, game.discount, terminal=terminal,
                      observations=observations, state_labels=labels,
                      player_labels=game.player_labels, action_labels=game.action_labels)


def compact_transitions(transitions: Any) -> sp.csr_array:
    """A sparse transition matrix rounded to ``float32`` with rows that still sum to 1.

    Half the memory of ``float64`` for the probabilities, and ``int32`` indices (when the
    entry count allows): at ``10^6`` states, 16 joint actions and 10 successors, 1.3 GB instead
    of 2.6 GB. :class:`MarkovGame` stores a ``float32`` matrix as it is, and every evaluator
    reads each entry exactly (converted to ``float64``), so the stored numbers *are* the game's
    probabilities; rounding each one to the nearest ``float32`` would leave rows summing to
    ``1 +- 1e-7``, outside :data:`ROW_SUM_TOLERANCE`. Here every probability is rounded to a
    multiple of ``2**-24`` (all such numbers in ``[0, 1]`` are ``float32``), and the largest
    entry of each row that sums to 1 (within ``1e-6``, so a matrix already held in ``float32``
    can be corrected) takes the others' rounding, so that row sums to 1 exactly. The result is a
    slightly different game, stated here rather than hidden: every entry moves by at most
    ``2**-25``, the largest of a row by at most ``(row length) * 2**-25``; NashConv computed on
    it is exact (to its reported tolerance) for the rounded game. Rows that do not sum to 1
    (terminal states' rows, which are never used) are only rounded.

    Parameters
    ----------
    transitions : scipy sparse matrix or array, shape (S * A, S)

    Returns
    -------
    scipy.sparse.csr_array, shape (S * A, S)
        ``float32`` data, ``int32`` indices where they fit, duplicates summed.

    Raises
    ------
    GameValidationError
        When a positive probability is below ``2**-25`` (it would round to 0 and remove a
        transition), or a row's correction leaves ``[0, 1]``.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> compact = compact_transitions(sp.csr_array(np.full((2, 10), 0.1)))
    >>> compact.dtype, [float(row.astype(float).sum()) for row in compact.data.reshape(2, 10)]
    (dtype('float32'), [1.0, 1.0])
    """
    matrix = _private_csr(transitions if sp.issparse(transitions)
                          else sp.csr_array(np.asarray(transitions, dtype=float)))
    data, indptr = matrix.data, matrix.indptr
    unit = float(2**24)
    rounded = np.empty(data.size, dtype=np.float32)
    for start in range(0, matrix.shape[0], _CHECK_ROWS):
        stop = min(start + _CHECK_ROWS, matrix.shape[0])
        low, high = int(indptr[start]), int(indptr[stop])
        exact = data[low:high].astype(np.float64)
        grid = np.rint(exact * unit)  # integers: the probabilities in units of 2**-24
        lost = (grid == 0) & (exact > 0)
        if lost.any():
            _raise_at(matrix, low + int(np.flatnonzero(lost)[0]), "a positive probability "
                      "below 2**-25 would round to 0 in compact storage (keep float64)")
        lengths = np.diff(indptr[start:stop + 1])
        rows = np.flatnonzero((np.abs(_row_sums(data, indptr, start, stop) - 1.0)
                               <= _COMPACT_ROW_TOLERANCE) & (lengths > 0))
        if rows.size:
            labels = np.repeat(np.arange(stop - start), lengths)
            occupied = lengths > 0
            peaks = np.zeros(stop - start)
            peaks[occupied] = np.maximum.reduceat(grid, (indptr[start:stop] - low)[occupied])
            hits = np.flatnonzero(grid == np.repeat(peaks, lengths))
            _, first = np.unique(labels[hits], return_index=True)
            largest = np.zeros(stop - start, dtype=np.int64)
            largest[labels[hits[first]]] = hits[first]  # the first largest entry of each row
            positions = largest[rows]
            others = np.bincount(labels, weights=grid, minlength=stop - start)[rows] \
                - grid[positions]
            fixed = unit - others
            bad = (fixed < 0) | (fixed > unit)
            if bad.any():
                _raise_at(matrix, low + int(positions[np.flatnonzero(bad)[0]]),
                          "the rounded row cannot sum to 1 in compact storage")
            grid[positions] = fixed
        rounded[low:high] = grid / unit  # exact: integers below 2**24 + 1, a power-of-two scale
    return sp.csr_array((rounded, matrix.indices, matrix.indptr), shape=matrix.shape)


def _raise_at(matrix: sp.csr_array, position: int, rule: str) -> None:
    row = int(np.searchsorted(matrix.indptr, position, side="right")) - 1
    raise GameValidationError("transitions", rule, (row, int(matrix.indices[position])),
                              float(matrix.data[position]))
