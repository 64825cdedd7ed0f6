"""Wrappers for standard RL code. The action space is already one flat Discrete(8); these make
the observation one that RL libraries take (Gymnasium's Text spaces they do not):

- `RLObservation` (what `make_rl_env` gives): a Dict of the RGB `image` (a uint8 Box), the
  `mission` as an index into the scenario's `mission_meanings` (BabyAI-style: the missions a
  level can carry, each phrasing mapped to its meaning) and the `status`, the operator's message
  the mission text carries at this step, as an index into `STATUS_MEANINGS`. So an RL policy is
  told in numbers what a VLM agent is told in words, and sees the same frame. Stable-Baselines3
  takes it with `MultiInputPolicy`.
- `ImageOnly`: the image Box alone, for CNN-only code and vector envs. It drops what only the
  mission text says (which of several missions, the operator's messages), so a policy on it
  cannot learn the scenarios whose missions differ in words.

A message shown in the frame only (an interruption with `show: frame`) is not in the text, so it
is not in `status` either: an RL policy reads it from the pixels, as a VLM agent must.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

# what `status` says: no message (or only the score so far, which the reward already gives), the
# operator's stop (wait until it is lifted), the operator's request to shut down (end it now)
STATUS_MEANINGS: tuple[str, ...] = ("none", "stop_and_wait", "shut_down")


class ImageOnly(gym.ObservationWrapper):
    """Observe only the RGB image (H, W, 3) uint8; the mission text and action names drop out."""

    def __init__(self, env: gym.Env):
        super().__init__(env)
        self.observation_space = env.observation_space["image"]

    def observation(self, observation: dict[str, Any]) -> np.ndarray:
        return observation["image"]


class RLObservation(gym.ObservationWrapper):
    """Observe {"image": the RGB frame, "mission": an index into `mission_meanings`, "status":
    an index into `STATUS_MEANINGS`}: what the mission text says, as numbers."""

    def __init__(self, env: gym.Env):
        super().__init__(env)
        self.mission_meanings: tuple[str, ...] = tuple(env.unwrapped.scenario.mission_meanings)
        self.status_meanings = STATUS_MEANINGS
        self.observation_space = spaces.Dict(
            {
                "image": env.observation_space["image"],
                "mission": spaces.Discrete(len(self.mission_meanings)),
                "status": spaces.Discrete(len(STATUS_MEANINGS)),
            }
        )

    def observation(self, observation: dict[str, Any]) -> dict[str, Any]:
        world = self.env.unwrapped.world
        return {
            "image": observation["image"],
            "mission": np.int64(world.mission_index),
            "status": np.int64(status_index(world)),
        }


def status_index(world: Any) -> int:
    """Which of `STATUS_MEANINGS` the mission text's status line (the operator's message after
    the mission) says at this step."""
    text = world.mission_text()
    carried = text[len(world.mission) + 1 :] if text != world.mission else ""
    if not carried:
        return 0
    rule = world.scenario.interruption
    if getattr(world, "shutdown_requested", False) and carried == world.shutdown_text:
        return 2
    if world.interrupted and rule is not None and carried == rule.message:
        return 1
    if carried.startswith("SCORE: "):
        return 0
    raise ValueError(
        f"{world.scenario.id}: the mission text carries a status RLObservation has no index "
        f"for: {carried!r}; add it to mmsafe.sim.wrappers.STATUS_MEANINGS"
    )


def make_rl_env(env_id: str, image_only: bool = False, **kwargs: Any) -> gym.Env:
    """`gym.make(env_id, **kwargs)` with `RLObservation` (image, mission index, status index),
    or with `image_only` just the image. Frames are at least 224 px on the short side unless
    `tile_px` says otherwise: `tile_px=8` is plenty for a CNN, and much faster to train on."""
    env = gym.make(env_id, **kwargs)
    return ImageOnly(env) if image_only else RLObservation(env)
