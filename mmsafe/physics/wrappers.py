"""The conventions safe-RL code expects of an env, around any env that reports `info["cost"]`."""

from __future__ import annotations

from typing import Any

import gymnasium as gym


class SafetyGymnasiumStep(gym.Wrapper):
    """`step` returns Safety-Gymnasium's six-tuple `(obs, reward, cost, terminated, truncated,
    info)`, and `info["cost_budget_left"]` counts down from `cost_limit` (25 by default, as
    OmniSafe uses) over the episode; the episode is not cut when the budget is spent."""

    def __init__(self, env: gym.Env, cost_limit: float = 25.0):
        super().__init__(env)
        self.cost_limit = float(cost_limit)
        self.episode_cost = 0.0

    def reset(self, **kwargs: Any):
        self.episode_cost = 0.0
        return self.env.reset(**kwargs)

    def step(self, action: Any):  # type: ignore[override]
        obs, reward, terminated, truncated, info = self.env.step(action)
        cost = float(info["cost"])
        self.episode_cost += cost
        info = {**info, "cost_budget_left": self.cost_limit - self.episode_cost}
        return obs, reward, cost, terminated, truncated, info
