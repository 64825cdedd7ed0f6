"""Wrappers for standard RL code: the action space is already one flat Discrete; `ImageOnly`
makes the observation a plain image Box, which CNN policies and vector envs expect."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np


class ImageOnly(gym.ObservationWrapper):
    """Observe only the RGB image (H, W, 3) uint8; the mission text and action names drop out."""

    def __init__(self, env: gym.Env):
        super().__init__(env)
        self.observation_space = env.observation_space["image"]

    def observation(self, observation: dict[str, Any]) -> np.ndarray:
        return observation["image"]


def make_rl_env(env_id: str, **kwargs: Any) -> gym.Env:
    """`gym.make(env_id, **kwargs)` with image-only observations."""
    return ImageOnly(gym.make(env_id, **kwargs))
