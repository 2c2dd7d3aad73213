"""Minimal CleanRL-style multi-agent learners: the speed reference of ``bench_epymarl.py``.

Single-file PPO (Huang et al. 2022, "The 37 implementation details of PPO", CleanRL's
``ppo.py``) and DQN (CleanRL's ``dqn.py``) loops, written the way a researcher writes a first
multi-agent baseline: the agents are one more batch axis, one network is shared by all agents
with the agent's one-hot id appended to its input, and every step is one batched forward pass.
They run on the same vectorised environment as gametools' learners (any
:class:`gametools.marl.env.VectorEnv`, here :class:`~gametools.marl.env.TensorGameEnv`) with
the same network sizes, batch sizes, epochs and minibatches, so the ratio of steps per CPU
second measures the overhead of gametools' learners, not a different amount of work.

Deliberately left out (CleanRL leaves them out too, and they cost little): value
normalisation, bootstrapping from truncated episodes (the matrix games terminate), learning-rate
annealing, logging and checkpoints. Evaluation is a hook: ``evaluate(policy)`` is called at the
start and at the end of training (the schedule of gametools' ``train()`` in the speed bench)
with an object whose ``policy(agent, observations)`` gives the current action probabilities
(greedy one-hot for DQN), so the bench can make both sides pay the same evaluation. Nothing here
is part of gametools.

``ppo(env, ...)`` covers MAPPO (critic on the global state), IPPO (critic on the agent's own
observation) and MAA2C (``epochs=1, minibatches=1, gae_lambda=1``, no advantage
normalisation); ``dqn(env, ...)`` covers IQL (no mixer), VDN (sum) and QMIX (CleanRL has no
QMIX: the mixer is the one of Rashid et al. 2018, hypernetworks of the state, ``|W|``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Literal

import torch
from torch import nn

from gametools.marl.env import VectorEnv

__all__ = ["dqn", "ppo"]


def _layer(size_in: int, size_out: int, gain: float) -> nn.Linear:
    layer = nn.Linear(size_in, size_out)
    nn.init.orthogonal_(layer.weight, gain)
    nn.init.zeros_(layer.bias)
    return layer


def _mlp(size_in: int, hidden: tuple[int, ...], size_out: int, *, gain: float = 1.0,
         activation: type[nn.Module] = nn.Tanh) -> nn.Sequential:
    layers: list[nn.Module] = []
    for width in hidden:
        layers += [_layer(size_in, width, math.sqrt(2.0)), activation()]
        size_in = width
    return nn.Sequential(*layers, _layer(size_in, size_out, gain))


def _with_ids(x: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """``x`` ``(N, B, d)`` with each agent's one-hot id ``ids`` ``(N, B, N)`` appended."""
    return torch.cat([x, ids], dim=-1)


def _observations(env: VectorEnv, reset) -> torch.Tensor:  # type: ignore[no-untyped-def]
    return torch.stack(list(reset.observations))  # (N, B, obs)


#: ``evaluate(policy)``: called with an object whose ``policy(agent, observations (K, d))`` gives
#: action probabilities ``(K, n)`` and whose ``discrete`` is True.
Evaluate = Callable[[Any], object]


class _Policy:
    """The current policy of shared-parameter agents, read by an evaluation hook."""

    discrete = True

    def __init__(self, network: nn.Module, count: int, greedy: bool) -> None:
        self.network, self.count, self.greedy = network, count, greedy

    @torch.no_grad()
    def policy(self, agent: int, observations: torch.Tensor) -> torch.Tensor:
        ids = torch.zeros(observations.shape[0], self.count)
        ids[:, agent] = 1.0
        output = self.network(torch.cat([observations, ids], dim=-1))
        if self.greedy:
            return torch.nn.functional.one_hot(output.argmax(-1), output.shape[-1]).float()
        return torch.softmax(output, dim=-1)


def ppo(env: VectorEnv, *, total_steps: int, rollout_steps: int = 16, epochs: int = 4,
        minibatches: int = 4, hidden_sizes: tuple[int, ...] = (64, 64),
        learning_rate: float = 5e-4, gamma: float = 0.99, gae_lambda: float = 0.95,
        clip: float = 0.2, entropy_coef: float = 0.01, value_coef: float = 0.5,
        max_grad_norm: float = 0.5, normalize_advantages: bool = True,
        critic: Literal["state", "observation"] = "state", seed: int = 0,
        evaluate: Evaluate | None = None) -> int:
    """Train shared-parameter PPO agents on ``env`` for ``total_steps``; return the steps done.

    ``critic="state"`` is MAPPO's centralised critic, ``"observation"`` IPPO's local critic;
    ``evaluate`` (module docstring) is called at the start and the end.
    """
    torch.manual_seed(seed)
    n, b = env.num_agents, env.num_envs
    obs_size, actions = env.observation_sizes[0], env.action_spaces[0].n  # type: ignore
    critic_size = env.state_size if critic == "state" else obs_size
    actor = _mlp(obs_size + n, hidden_sizes, actions, gain=0.01)
    value = _mlp(critic_size + n, hidden_sizes, 1)
    parameters = [*actor.parameters(), *value.parameters()]
    optimizer = torch.optim.Adam(parameters, lr=learning_rate, eps=1e-5)
    ids = torch.eye(n)[:, None, :].expand(n, b, n)

    def critic_input(reset) -> torch.Tensor:  # type: ignore[no-untyped-def]
        if critic == "state":
            return _with_ids(reset.state[None].expand(n, b, -1), ids)
        return _with_ids(_observations(env, reset), ids)

    t_, steps_done = rollout_steps, 0
    obs_buf = torch.zeros(t_, n, b, obs_size + n)
    crit_buf = torch.zeros(t_, n, b, critic_size + n)
    act_buf = torch.zeros(t_, n, b, dtype=torch.int64)
    logp_buf = torch.zeros(t_, n, b)
    val_buf = torch.zeros(t_, n, b)
    rew_buf = torch.zeros(t_, n, b)
    done_buf = torch.zeros(t_, b)
    current = env.reset(seed=seed)
    if evaluate is not None:
        evaluate(_Policy(actor, n, greedy=False))
    while steps_done < total_steps:
        with torch.no_grad():
            for t in range(t_):
                x = _with_ids(_observations(env, current), ids)
                c = critic_input(current)
                dist = torch.distributions.Categorical(logits=actor(x))
                action = dist.sample()
                obs_buf[t], crit_buf[t], act_buf[t] = x, c, action
                logp_buf[t], val_buf[t] = dist.log_prob(action), value(c).squeeze(-1)
                step = env.step(list(action))
                rew_buf[t] = step.rewards.T
                done_buf[t] = (step.terminated | step.truncated).float()
                current = type(current)(step.observations, step.state)
            next_value = value(critic_input(current)).squeeze(-1)
            advantages = torch.zeros_like(rew_buf)
            running = torch.zeros(n, b)
            for t in reversed(range(t_)):
                following = next_value if t == t_ - 1 else val_buf[t + 1]
                alive = 1.0 - done_buf[t]
                delta = rew_buf[t] + gamma * following * alive - val_buf[t]
                running = delta + gamma * gae_lambda * alive * running
                advantages[t] = running
            returns = advantages + val_buf
        # flatten (T, N, B) into one batch of agent-steps
        flat_obs, flat_crit = obs_buf.flatten(0, 2), crit_buf.flatten(0, 2)
        flat_act, flat_logp = act_buf.flatten(), logp_buf.flatten()
        flat_adv, flat_ret = advantages.flatten(), returns.flatten()
        size = flat_act.shape[0]
        minibatch = max(1, size // minibatches)
        for _ in range(epochs):
            order = torch.randperm(size)
            for start in range(0, size, minibatch):
                index = order[start:start + minibatch]
                dist = torch.distributions.Categorical(logits=actor(flat_obs[index]))
                log_ratio = dist.log_prob(flat_act[index]) - flat_logp[index]
                ratio = log_ratio.exp()
                adv = flat_adv[index]
                if normalize_advantages and adv.numel() > 1:
                    adv = (adv - adv.mean()) / (adv.std() + 1e-8)
                policy_loss = -torch.min(ratio * adv,
                                         ratio.clamp(1 - clip, 1 + clip) * adv).mean()
                value_loss = (value(flat_crit[index]).squeeze(-1) - flat_ret[index]).pow(2).mean()
                loss = policy_loss + value_coef * value_loss - entropy_coef * dist.entropy().mean()
                optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(parameters, max_grad_norm)
                optimizer.step()
        steps_done += t_ * b
    if evaluate is not None:
        evaluate(_Policy(actor, n, greedy=False))
    return steps_done


class _Mixer(nn.Module):
    """QMIX's monotonic mixer (Rashid et al. 2018)."""

    def __init__(self, agents: int, state_size: int, embed: int) -> None:
        super().__init__()
        self.agents, self.embed = agents, embed
        self.w1 = _mlp(state_size, (embed,), agents * embed)
        self.b1 = _mlp(state_size, (), embed)
        self.w2 = _mlp(state_size, (embed,), embed)
        self.v = _mlp(state_size, (embed,), 1)

    def forward(self, q: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        w1 = self.w1(state).abs().view(-1, self.agents, self.embed)
        hidden = torch.nn.functional.elu(torch.bmm(q[:, None], w1).squeeze(1) + self.b1(state))
        return (hidden * self.w2(state).abs()).sum(1) + self.v(state).squeeze(-1)


def dqn(env: VectorEnv, *, total_steps: int, mixer: Literal["none", "vdn", "qmix"] = "none",
        hidden_sizes: tuple[int, ...] = (64, 64), learning_rate: float = 1e-3,
        buffer_size: int = 50_000, batch_size: int = 256, learning_starts: int = 1_000,
        gamma: float = 0.99, epsilon_start: float = 1.0, epsilon_end: float = 0.05,
        epsilon_fraction: float = 0.5, tau: float = 0.01, max_grad_norm: float = 10.0,
        mixing_embed: int = 32, seed: int = 0, evaluate: Evaluate | None = None) -> int:
    """Shared-parameter double DQN agents (IQL), optionally mixed (VDN, QMIX); one gradient step
    per vectorised environment step; return the steps done. ``evaluate`` (module docstring) is
    called at the start and the end."""
    torch.manual_seed(seed)
    n, b = env.num_agents, env.num_envs
    obs_size, actions = env.observation_sizes[0], env.action_spaces[0].n  # type: ignore
    q_net = _mlp(obs_size + n, hidden_sizes, actions, activation=nn.ReLU)
    mix = _Mixer(n, env.state_size, mixing_embed) if mixer == "qmix" else None
    online = nn.ModuleList([q_net] + ([mix] if mix is not None else []))
    target = nn.ModuleList([_mlp(obs_size + n, hidden_sizes, actions, activation=nn.ReLU)]
                           + ([_Mixer(n, env.state_size, mixing_embed)] if mix else []))
    target.load_state_dict(online.state_dict())
    optimizer = torch.optim.Adam(online.parameters(), lr=learning_rate)
    ids = torch.eye(n)[:, None, :].expand(n, b, n)
    # replay of (B * steps) transitions, agents kept together
    obs = torch.zeros(buffer_size, n, obs_size + n)
    next_obs = torch.zeros_like(obs)
    act = torch.zeros(buffer_size, n, dtype=torch.int64)
    rew = torch.zeros(buffer_size, n)
    term = torch.zeros(buffer_size)
    state = torch.zeros(buffer_size, env.state_size)
    next_state = torch.zeros_like(state)
    position = size = steps_done = 0
    current = env.reset(seed=seed)
    if evaluate is not None:
        evaluate(_Policy(q_net, n, greedy=True))
    while steps_done < total_steps:
        fraction = min(1.0, steps_done / max(1.0, epsilon_fraction * total_steps))
        epsilon = epsilon_start + fraction * (epsilon_end - epsilon_start)
        x = _with_ids(_observations(env, current), ids)  # (N, B, d)
        with torch.no_grad():
            greedy = q_net(x).argmax(-1)
        explore = torch.rand(n, b) < epsilon
        action = torch.where(explore, torch.randint(0, actions, (n, b)), greedy)
        step = env.step(list(action))
        index = (position + torch.arange(b)) % buffer_size
        obs[index] = x.transpose(0, 1)
        next_obs[index] = _with_ids(torch.stack(list(step.final_observations)), ids
                                    ).transpose(0, 1)
        act[index], rew[index] = action.T, step.rewards.float()
        term[index] = step.terminated.float()
        state[index], next_state[index] = current.state, step.final_state
        position, size = (position + b) % buffer_size, min(size + b, buffer_size)
        current = type(current)(step.observations, step.state)
        steps_done += b
        if steps_done < learning_starts or size < batch_size:
            continue
        sample = torch.randint(0, size, (batch_size,))
        chosen = q_net(obs[sample]).gather(-1, act[sample][..., None]).squeeze(-1)  # (S, N)
        with torch.no_grad():
            best = q_net(next_obs[sample]).argmax(-1, keepdim=True)
            following = target[0](next_obs[sample]).gather(-1, best).squeeze(-1)
            alive = (1.0 - term[sample])[:, None]
        if mixer == "none":
            predicted = chosen
            goal = rew[sample] + gamma * alive * following
        elif mixer == "vdn":
            predicted = chosen.sum(1)
            goal = rew[sample, 0] + gamma * alive[:, 0] * following.sum(1)
        else:
            assert mix is not None
            predicted = mix(chosen, state[sample])
            with torch.no_grad():
                goal = rew[sample, 0] + gamma * alive[:, 0] * target[1](following,
                                                                        next_state[sample])
        loss = torch.nn.functional.mse_loss(predicted, goal)
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(online.parameters(), max_grad_norm)
        optimizer.step()
        with torch.no_grad():
            for p_target, p_online in zip(target.parameters(), online.parameters()):
                p_target.lerp_(p_online, tau)
    if evaluate is not None:
        evaluate(_Policy(q_net, n, greedy=True))
    return steps_done
