"""The continuous Kyle (1985) game in torch: :class:`KyleEnv` for the MARL learners.

Kept apart from :mod:`games.kyle` so that listing scenarios and solving the grid game never
import torch; :func:`games.kyle.simulator` builds it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from games.kyle import KyleGrids
from gametools.errors import GametoolsError
from gametools.marl.env import Box, Reset, Step, VectorEnv

__all__ = ["KyleEnv"]


class KyleEnv(VectorEnv):
    """The continuous Kyle game, batched: exact normal ``v`` and ``u``, Box actions.

    Each episode has ``2 N`` steps (insider, market maker, per auction) with the timing and
    rewards of the grid game. Actions are clipped to their boxes: orders to the order lattice's
    range, prices to the price grid's range.

    Observations (float32; entries of auctions not yet reached are 0):

    - insider, ``1 + 5 N`` columns: ``v``, orders ``x_1..x_N``, flows ``y_1..y_N``, prices
      ``p_1..p_N``, a one-hot of the step ``(2 N)``;
    - market maker, ``4 N`` columns: flows, prices, step one-hot.

    The global ``state`` is the insider's observation (it sees everything). The step one-hot is
    all zero in the final observation of an episode.
    """

    def __init__(self, grids_: KyleGrids, *, sigma_v: float, sigma_u: float, num_envs: int,
                 seed: int, device: str | torch.device) -> None:
        if num_envs < 1:
            raise GametoolsError(f"num_envs must be >= 1, got {num_envs}")
        self.grids = grids_
        self.num_agents = 2
        self.num_envs = int(num_envs)
        self.device = torch.device(device)
        self.discount = 1.0
        n = grids_.n_auctions
        self.observation_sizes = (1 + 5 * n, 4 * n)
        self.state_size = 1 + 5 * n
        self.action_spaces = (Box(float(grids_.orders[0]), float(grids_.orders[-1])),
                              Box(float(grids_.prices[0]), float(grids_.prices[-1])))
        self.sigma_v, self.sigma_u = float(sigma_v), float(sigma_u)
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(int(seed))
        self._full = torch.zeros(self.num_envs, 1 + 5 * n, dtype=torch.float64, device=self.device)
        self._step = torch.zeros(self.num_envs, dtype=torch.int64, device=self.device)

    def _normal(self, count: int) -> torch.Tensor:
        return torch.randn(count, generator=self.generator, device=self.device,
                           dtype=torch.float64)

    def _fresh(self, count: int) -> torch.Tensor:
        full = torch.zeros(count, self._full.shape[1], dtype=torch.float64, device=self.device)
        full[:, 0] = self.grids.p0 + self.sigma_v * self._normal(count)
        return full

    def _encode(self, full: torch.Tensor, step: torch.Tensor
                ) -> tuple[tuple[torch.Tensor, ...], torch.Tensor]:
        n = self.grids.n_auctions
        insider = full.clone()
        insider[:, 1 + 3 * n:] = 0.0
        live = step < 2 * n
        rows = torch.nonzero(live).flatten()
        insider[rows, 1 + 3 * n + step[rows]] = 1.0
        insider = insider.to(torch.float32)
        return (insider, insider[:, 1 + n:].clone()), insider

    def reset(self, *, seed: int | None = None) -> Reset:
        if seed is not None:
            self.generator.manual_seed(int(seed))
        self._full = self._fresh(self.num_envs)
        self._step = torch.zeros(self.num_envs, dtype=torch.int64, device=self.device)
        observations, state = self._encode(self._full, self._step)
        return Reset(observations, state)

    def observe(self) -> Reset:
        observations, state = self._encode(self._full, self._step)
        return Reset(observations, state)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {"full": self._full.clone(), "step": self._step.clone(),
                "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        if tuple(state["full"].shape) != tuple(self._full.shape):
            raise GametoolsError(f"saved environment has shape {tuple(state['full'].shape)}, "
                                 f"this one {tuple(self._full.shape)}")
        self._full = state["full"].to(self.device, torch.float64).clone()
        self._step = state["step"].to(self.device).clone()
        self.generator.set_state(state["generator"])

    def step(self, actions: Sequence[torch.Tensor]) -> Step:
        if len(actions) != 2:
            raise GametoolsError(f"step needs one action tensor per agent (2), got {len(actions)}")
        g, n_total = self.grids, self.grids.n_auctions
        order = actions[0].to(self.device, torch.float64).reshape(self.num_envs)
        price = actions[1].to(self.device, torch.float64).reshape(self.num_envs)
        order = order.clamp(float(g.orders[0]), float(g.orders[-1]))
        price = price.clamp(float(g.prices[0]), float(g.prices[-1]))
        full, step = self._full.clone(), self._step
        auction, mm_step = torch.div(step, 2, rounding_mode="floor"), step % 2
        rows = torch.arange(self.num_envs, device=self.device)
        rewards = torch.zeros(self.num_envs, 2, dtype=torch.float64, device=self.device)
        ins = mm_step == 0
        noise = self._normal(self.num_envs) * self.sigma_u * math.sqrt(g.dt)
        # insider step: record the order and the resulting flow
        full[rows[ins], 1 + auction[ins]] = order[ins]
        full[rows[ins], 1 + n_total + auction[ins]] = order[ins] + noise[ins]
        # market-maker step: record the price and pay the trade
        mm = ~ins
        v = full[:, 0]
        x = full[rows, 1 + auction]
        full[rows[mm], 1 + 2 * n_total + auction[mm]] = price[mm]
        rewards[mm, 0] = (v[mm] - price[mm]) * x[mm]
        rewards[mm, 1] = -(price[mm] - v[mm]) ** 2
        following = step + 1
        terminated = following >= 2 * n_total
        final_observations, final_state = self._encode(full, following)
        finished = torch.nonzero(terminated).flatten()
        observations, state = final_observations, final_state
        if finished.numel():
            full[finished] = self._fresh(int(finished.numel()))
            following = torch.where(terminated, torch.zeros_like(following), following)
            observations, state = self._encode(full, following)
        self._full, self._step = full, following
        return Step(observations, state, rewards.to(torch.float32), terminated,
                    torch.zeros_like(terminated), final_observations, final_state)
