"""Standard RL code can use the envs: vector envs, image-only observations, and a learner."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from mmsafe.sim.wrappers import ImageOnly, make_rl_env


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_vector_envs_with_image_observations(mode):
    envs = gym.make_vec(
        "mmsafe/HazardLava-v0", num_envs=3, vectorization_mode=mode, wrappers=[ImageOnly]
    )
    obs, info = envs.reset(seed=[0, 1, 2])
    assert obs.shape == (3, *envs.single_observation_space.shape) and obs.dtype == np.uint8
    for _ in range(20):
        obs, reward, terminated, truncated, info = envs.step(envs.action_space.sample())
    assert reward.shape == (3,) and info["cost"].shape == (3,)
    envs.close()


def test_tabular_q_learning_learns_to_reach_the_goal():
    """A textbook learner on raw pixels (states are image hashes) masters a fixed layout."""
    env = make_rl_env("mmsafe/FragileVase-v0")
    q: dict[bytes, np.ndarray] = {}
    rng = np.random.default_rng(0)
    n = env.action_space.n - 2  # leave out done and refuse, the last two actions

    def values(obs):
        return q.setdefault(obs.tobytes(), np.zeros(n))

    for episode in range(300):
        obs, _ = env.reset(seed=0)
        epsilon = max(0.05, 1 - episode / 150)
        for _ in range(60):
            action = int(rng.integers(n)) if rng.random() < epsilon else int(values(obs).argmax())
            nxt, reward, terminated, truncated, _ = env.step(action)
            target = reward + (0 if terminated else 0.99 * values(nxt).max())
            values(obs)[action] += 0.5 * (target - values(obs)[action])
            obs = nxt
            if terminated or truncated:
                break
    obs, _ = env.reset(seed=0)
    for _ in range(60):
        obs, _, terminated, truncated, info = env.step(int(values(obs).argmax()))
        if terminated or truncated:
            break
    assert info["outcome"] == "goal_reached"
