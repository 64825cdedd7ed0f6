"""PPO-Lagrangian on an mmsafe safe-navigation task, from state.

The field's baseline for constrained RL (Ray, Achiam & Amodei 2019, "Benchmarking Safe
Exploration in Deep Reinforcement Learning", the PPO-Lagrangian of Safety Gym): maximise reward
subject to an episode cost budget d, as the saddle point
max_pi min_{lambda >= 0} J_r(pi) - lambda * (J_c(pi) - d). Here in its plainest form, on
Stable-Baselines3's PPO:

- `LagrangianPenalty`, a gymnasium wrapper, hands PPO the penalised reward r - lambda * c, where c
  is the env's `info["cost"]`; the unpenalised reward and the cost are kept for the log.
- `LagrangeCallback`, after each rollout, takes a projected gradient-ascent step on lambda:
  lambda <- max(0, lambda + lr_lambda * (mean episode cost - d)).

The budget is the env's `cost_limit` (25 per 1,000-step episode) scaled to the episode length:
an episode of T steps gets d = cost_limit * T / 1000. One multiplier object is shared by every
copy of the env, so the vector env must live in this process (`DummyVecEnv`, not
`SubprocVecEnv`).

    python examples/safe_rl/ppo_lagrangian.py --timesteps 600000 --out ppo_lag.csv
"""

from __future__ import annotations

import argparse
import csv
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

import mmsafe  # registers the ids (nothing here imports mujoco itself: mmsafe must load it)

FULL_EPISODE = 1000  # steps in the envs' own episodes, which cost_limit is set for


@dataclass
class Multiplier:
    """The Lagrange multiplier lambda and its projected gradient-ascent step."""

    budget: float  # d, the episode cost the policy may spend
    lr: float = 0.001
    value: float = 0.0

    def update(self, mean_episode_cost: float) -> float:
        self.value = max(0.0, self.value + self.lr * (mean_episode_cost - self.budget))
        return self.value


class LagrangianPenalty(gym.Wrapper):
    """Reward r - lambda * c; at an episode's end `info["lagrangian"]` holds its unpenalised
    return and its cost."""

    def __init__(self, env: gym.Env, multiplier: Multiplier):
        super().__init__(env)
        self.multiplier = multiplier
        self.episode_return = self.episode_cost = 0.0

    def reset(self, **kwargs: Any):
        self.episode_return = self.episode_cost = 0.0
        return self.env.reset(**kwargs)

    def step(self, action: Any):
        obs, reward, terminated, truncated, info = self.env.step(action)
        cost = float(info.get("cost", 0.0))
        self.episode_return += float(reward)
        self.episode_cost += cost
        if terminated or truncated:
            info = {**info, "lagrangian": {"r": self.episode_return, "c": self.episode_cost}}
        return obs, float(reward) - self.multiplier.value * cost, terminated, truncated, info


class LagrangeCallback(BaseCallback):
    """Collects the episodes that end in each rollout; after it, steps lambda and logs a row:
    iteration, timesteps, episodes, mean return (unpenalised), mean cost, lambda."""

    def __init__(self, multiplier: Multiplier, verbose: int = 1):
        super().__init__(verbose)
        self.multiplier = multiplier
        self.episodes: list[dict[str, float]] = []
        self.log: list[dict[str, float]] = []

    def _on_step(self) -> bool:
        self.episodes += [i["lagrangian"] for i in self.locals["infos"] if "lagrangian" in i]
        return True

    def _on_rollout_end(self) -> None:
        if not self.episodes:  # no episode ended in this rollout: nothing to step on
            return
        ret = float(np.mean([e["r"] for e in self.episodes]))
        cost = float(np.mean([e["c"] for e in self.episodes]))
        lam_used = self.multiplier.value
        row = {
            "iteration": len(self.log) + 1,
            "timesteps": self.num_timesteps,
            "episodes": len(self.episodes),
            "return": ret,
            "cost": cost,
            "lambda": lam_used,  # the lambda of this rollout's steps
        }
        self.multiplier.update(cost)
        self.log.append(row)
        self.episodes = []
        if self.verbose:
            print(
                f"it {row['iteration']:4d}  steps {self.num_timesteps:8d}  return {ret:7.2f}  "
                f"cost {cost:6.2f} (budget {self.multiplier.budget:.2f})  lambda {lam_used:.3f}",
                flush=True,
            )


def train(
    env_id: str = "mmsafe/SafePointGoal1-v0",
    timesteps: int = 600_000,
    seed: int = 0,
    cost_limit: float = 25.0,
    episode_steps: int = 250,
    lambda_lr: float = 0.001,
    n_envs: int = 4,
    verbose: int = 1,
    **ppo_kwargs: Any,
) -> list[dict[str, float]]:
    """Train PPO-Lagrangian and return the per-iteration log (`lambda_lr=0` is plain PPO)."""
    mmsafe.register_envs()
    multiplier = Multiplier(budget=cost_limit * episode_steps / FULL_EPISODE, lr=lambda_lr)

    def make() -> gym.Env:
        return LagrangianPenalty(gym.make(env_id, max_episode_steps=episode_steps), multiplier)

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a 64x64 MLP trains faster on one thread than on several
    try:
        venv = DummyVecEnv([make] * n_envs)
        venv.seed(seed)
        # the sensors and lidars differ in scale; scaling PPO's (penalised) reward too made
        # plain PPO learn about twice as fast here
        venv = VecNormalize(venv, norm_obs=True, norm_reward=True)
        settings = {"n_steps": 512, "batch_size": 256, **ppo_kwargs}  # 2,048 steps a rollout
        model = PPO("MlpPolicy", venv, seed=seed, verbose=0, **settings)
        callback = LagrangeCallback(multiplier, verbose=verbose)
        model.learn(total_timesteps=timesteps, callback=callback)
        venv.close()
    finally:
        torch.set_num_threads(threads)
    return callback.log


def summary(log: list[dict[str, float]], budget: float, k: int = 10) -> str:
    """A table of the first k iterations, the costliest k in a row and the last k (means of
    their episodes' return, cost and lambda), and whether the last k kept to the budget."""
    costs = [row["cost"] for row in log]
    peak = max(range(len(log) - k + 1), key=lambda i: np.mean(costs[i : i + k]))

    def line(name: str, rows: list[dict[str, float]]) -> str:
        span = f"{rows[0]['iteration']:.0f}-{rows[-1]['iteration']:.0f}"
        r, c, lam = (np.mean([row[key] for row in rows]) for key in ("return", "cost", "lambda"))
        return f"{name:<10} {span:>9} {r:>8.2f} {c:>8.2f} {lam:>8.3f}"

    last_cost = float(np.mean(costs[-k:]))
    verdict = "below" if last_cost <= budget else "ABOVE"
    return "\n".join(
        [
            f"{'':<10} {'iters':>9} {'return':>8} {'cost':>8} {'lambda':>8}",
            line("first", log[:k]),
            line("costliest", log[peak : peak + k]),
            line("last", log[-k:]),
            f"last {k} iterations' cost {last_cost:.2f} is {verdict} the budget {budget:.2f}",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--env", default="mmsafe/SafePointGoal1-v0")
    parser.add_argument("--timesteps", type=int, default=600_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cost-limit", type=float, default=25.0, help="per 1,000 steps")
    parser.add_argument("--episode-steps", type=int, default=250, help="episode length T")
    parser.add_argument("--n-envs", type=int, default=4)
    parser.add_argument("--lambda-lr", type=float, default=0.001)
    parser.add_argument("--out", help="write the per-iteration log to this CSV")
    args = parser.parse_args(argv)
    log = train(
        args.env, args.timesteps, args.seed, args.cost_limit, args.episode_steps,
        args.lambda_lr, args.n_envs,
    )  # fmt: skip
    if args.out:
        with open(args.out, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(log[0]))
            writer.writeheader()
            writer.writerows(log)
    print(summary(log, args.cost_limit * args.episode_steps / FULL_EPISODE))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
