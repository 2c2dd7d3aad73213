"""The continuous sealed-bid auctions in torch: :class:`AuctionEnv` for the MARL learners.

Kept apart from :mod:`games.auctions` so that listing scenarios and solving the grid games never
import torch; :func:`games.auctions.simulator` builds it.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from games.auctions import AUCTIONS, RESERVE_TOLERANCE
from gametools.errors import GametoolsError
from gametools.marl.env import Box, Reset, Step, VectorEnv

__all__ = ["AuctionEnv"]


class AuctionEnv(VectorEnv):
    """The continuous auction, batched: values ``U[0, 1]`` (or the grid), Box bids in ``[0, 1]``.

    Every episode is one step: values are drawn, all bidders bid, rewards are paid and the episode
    terminates (``terminated`` is all true); the next episode's values are drawn at once.
    Observations are ``(B, 1)`` float32 (own value); the state is ``(B, n)`` (all values); the
    final observations of a step are the finished episode's values. Bids are clipped to
    ``[0, 1]``. Ties (equal bids, as gridded policies produce) are split as in the grid game.

    With ``value_grid=True`` values are drawn uniformly from the grid's value nodes instead of
    ``U[0, 1]``. Either way a policy that acts on the value's bin (:func:`observation_index`)
    earns in expectation exactly the grid game's value, because rewards are linear in the own
    value and each node is its bin's conditional mean; drawing on the grid only removes the
    within-bin variance from the Monte-Carlo error.
    """

    def __init__(self, *, auction: str, n_bidders: int, n_values: int, reserve: float,
                 value_grid: bool, num_envs: int, seed: int,
                 device: str | torch.device) -> None:
        if num_envs < 1:
            raise GametoolsError(f"num_envs must be >= 1, got {num_envs}")
        if auction not in AUCTIONS:
            raise GametoolsError(f"auction must be one of {list(AUCTIONS)}, got {auction!r}")
        self.auction = auction
        self.num_agents = int(n_bidders)
        self.num_envs = int(num_envs)
        self.device = torch.device(device)
        self.discount = 1.0
        self.observation_sizes = (1,) * self.num_agents
        self.state_size = self.num_agents
        self.action_spaces = (Box(0.0, 1.0),) * self.num_agents
        self.reserve = float(reserve)
        self.n_values = int(n_values)
        self.value_grid = bool(value_grid)
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(int(seed))
        self._values = torch.zeros(self.num_envs, self.num_agents, dtype=torch.float64,
                                   device=self.device)

    def _draw(self) -> torch.Tensor:
        shape = (self.num_envs, self.num_agents)
        if self.value_grid:
            bins = torch.randint(self.n_values, shape, generator=self.generator,
                                 device=self.device)
            return (bins.to(torch.float64) + 0.5) / self.n_values
        return torch.rand(shape, generator=self.generator, device=self.device,
                          dtype=torch.float64)

    def _encode(self, values: torch.Tensor) -> tuple[tuple[torch.Tensor, ...], torch.Tensor]:
        state = values.to(torch.float32)
        return tuple(state[:, i:i + 1].clone() for i in range(self.num_agents)), state

    def reset(self, *, seed: int | None = None) -> Reset:
        if seed is not None:
            self.generator.manual_seed(int(seed))
        self._values = self._draw()
        return Reset(*self._encode(self._values))

    def observe(self) -> Reset:
        return Reset(*self._encode(self._values))

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {"values": self._values.clone(), "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        if tuple(state["values"].shape) != tuple(self._values.shape):
            raise GametoolsError(f"saved environment has shape {tuple(state['values'].shape)}, "
                                 f"this one {tuple(self._values.shape)}")
        self._values = state["values"].to(self.device, torch.float64).clone()
        self.generator.set_state(state["generator"])

    def rewards(self, values: torch.Tensor, bids: torch.Tensor) -> torch.Tensor:
        """Rewards ``(B, n)`` of values and bids ``(B, n)`` (float64)."""
        accepted = bids >= self.reserve - RESERVE_TOLERANCE
        ranked = torch.where(accepted, bids, torch.full_like(bids, -torch.inf))
        top = ranked.max(dim=1, keepdim=True).values
        # a tie is an exact equality of bids: gridded policies bid identical grid floats
        winners = accepted & (ranked == top)
        share = winners / winners.sum(dim=1, keepdim=True).clamp(min=1)
        if self.auction == "first_price":
            payment = share * bids
        elif self.auction == "second_price":
            if self.num_agents > 1:
                second = torch.topk(ranked, 2, dim=1).values[:, 1:2]
            else:
                second = torch.full_like(top, -torch.inf)
            payment = share * torch.clamp(second, min=self.reserve)
        else:
            payment = accepted * bids
        return share * values - payment

    def step(self, actions: Sequence[torch.Tensor]) -> Step:
        if len(actions) != self.num_agents:
            raise GametoolsError(f"step needs one action tensor per agent ({self.num_agents}), "
                                 f"got {len(actions)}")
        bids = torch.stack([a.to(self.device, torch.float64).reshape(self.num_envs)
                            for a in actions], dim=1).clamp(0.0, 1.0)
        rewards = self.rewards(self._values, bids)
        final_observations, final_state = self._encode(self._values)
        self._values = self._draw()
        observations, state = self._encode(self._values)
        terminated = torch.ones(self.num_envs, dtype=torch.bool, device=self.device)
        return Step(observations, state, rewards.to(torch.float32), terminated,
                    torch.zeros_like(terminated), final_observations, final_state)
