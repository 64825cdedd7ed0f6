"""`SB3VecEnv` makes both simulators' Gymnasium vector envs Stable-Baselines3 `VecEnv`s: it
returns what SB3's `DummyVecEnv` over the same single envs returns, step for step (a finished
world reset on the step it finishes, its last observation in `terminal_observation`), PPO learns
on it, and what it cannot take it refuses in one line."""

from __future__ import annotations

import importlib.util

import gymnasium as gym
import numpy as np
import pytest

pytest.importorskip("stable_baselines3")

from stable_baselines3.common.vec_env import DummyVecEnv, VecMonitor  # noqa: E402

from mmsafe.sb3 import SB3VecEnv  # noqa: E402
from mmsafe.sim.vector import BatchedSafetyGridEnv  # noqa: E402
from mmsafe.sim.world import ACTIONS  # noqa: E402
from mmsafe.sim.wrappers import ImageOnly, RLObservation, make_rl_env  # noqa: E402

GRID = "mmsafe/HazardLava-v1"
WAIT = ACTIONS.index("wait")
# not importorskip: importing mujoco before mmsafe picks its headless renderer is what a user
# must not do either (MUJOCO_GL is read at mujoco's first import)
needs_mujoco = pytest.mark.skipif(
    importlib.util.find_spec("mujoco") is None, reason="the physics extra is not installed"
)


def assert_same(a, b, where: str) -> None:
    """Observations equal in value, dtype and structure (a dict of arrays for Dict spaces)."""
    if isinstance(b, dict):
        assert isinstance(a, dict) and list(a) == list(b), where
        for key in b:
            assert_same(a[key], b[key], f"{where} [{key}]")
    else:
        a, b = np.asarray(a), np.asarray(b)
        assert a.dtype == b.dtype, f"{where}: {a.dtype} != {b.dtype}"
        np.testing.assert_array_equal(a, b, err_msg=where)


def assert_lockstep(ours: SB3VecEnv, dummy: DummyVecEnv, actions, seed: int = 3) -> tuple:
    """Seed both, reset, and step both through `actions` (one row per step): everything SB3
    sees must match. Returns how many episodes ended, and how many by the time limit."""
    assert ours.observation_space == dummy.observation_space
    assert ours.action_space == dummy.action_space
    assert ours.seed(seed) == dummy.seed(seed)
    assert_same(ours.reset(), dummy.reset(), "reset")
    assert ours.reset_infos == dummy.reset_infos
    ends = truncations = 0
    for t, action in enumerate(actions):
        (obs_a, rew_a, done_a, infos_a), (obs_b, rew_b, done_b, infos_b) = (
            ours.step(action),
            dummy.step(action),
        )
        assert_same(obs_a, obs_b, f"step {t}")
        assert_same(rew_a, rew_b, f"step {t} rewards")
        assert_same(done_a, done_b, f"step {t} dones")
        for i, (info_a, info_b) in enumerate(zip(infos_a, infos_b, strict=True)):
            assert set(info_a) == set(info_b), (t, i, set(info_a) ^ set(info_b))
            for key, value in info_b.items():
                if key == "terminal_observation":
                    assert_same(info_a[key], value, f"step {t} env {i} terminal_observation")
                else:
                    assert info_a[key] == value, (t, i, key, info_a[key], value)
            truncations += info_b["TimeLimit.truncated"]
        assert ours.reset_infos == dummy.reset_infos, t
        ends += int(done_b.sum())
    return ends, truncations


def grid_actions(n: int, steps: int, seed: int = 0) -> np.ndarray:
    """World 0 waits (to its time limit, 80 steps); the others move at random, now and then
    ending the episode themselves (done, refuse)."""
    rng = np.random.default_rng(seed)
    walk = [0.24, 0.24, 0.24, 0.24, 0.02, 0.0, 0.01, 0.01]
    actions = rng.choice(len(ACTIONS), size=(steps, n), p=walk)
    actions[:, 0] = WAIT
    return actions


def test_native_grid_vector_env_matches_dummy_vec_env():
    n = 4
    envs = gym.make_vec(GRID, num_envs=n, image_only=True, tile_px=8)
    assert isinstance(envs.unwrapped, BatchedSafetyGridEnv)
    ours = SB3VecEnv(envs)
    dummy = DummyVecEnv([lambda: ImageOnly(gym.make(GRID, tile_px=8)) for _ in range(n)])
    ends, truncations = assert_lockstep(ours, dummy, grid_actions(n, 300))
    assert ends >= 20 and truncations >= 3, (ends, truncations)
    # and again from new seeds, after a reset in the middle of episodes
    assert_lockstep(ours, dummy, grid_actions(n, 40, seed=1), seed=100)
    ours.close()


def test_grid_rl_observation_in_a_sync_vector_env_matches_dummy_vec_env():
    """A Dict observation (image, mission and status indices), with options set per world."""
    n = 3
    envs = gym.make_vec(
        GRID, num_envs=n, vectorization_mode="sync", wrappers=[RLObservation], tile_px=8
    )
    ours = SB3VecEnv(envs)
    dummy = DummyVecEnv([lambda: make_rl_env(GRID, tile_px=8) for _ in range(n)])
    for env in (ours, dummy):
        env.set_options([{"world": i} for i in range(n)])  # the envs ignore them
    ends, _ = assert_lockstep(ours, dummy, grid_actions(n, 150, seed=2))
    assert ends >= 10
    ours.close()


@needs_mujoco
@pytest.mark.parametrize("env_id", ["mmsafe/SafePointGoal1-v0", "mmsafe/SafeCarGoal1Vision-v0"])
def test_physics_sync_vector_env_matches_dummy_vec_env(env_id):
    n, limit = 3, 40
    ours = SB3VecEnv(
        gym.make_vec(env_id, num_envs=n, vectorization_mode="sync", max_episode_steps=limit)
    )
    dummy = DummyVecEnv([lambda: gym.make(env_id, max_episode_steps=limit) for _ in range(n)])
    rng = np.random.default_rng(0)
    actions = rng.uniform(-1, 1, size=(150, n, 2)).astype(np.float32)
    try:
        ends, truncations = assert_lockstep(ours, dummy, actions)
    finally:
        ours.close()
        dummy.close()
    assert ends >= 9 and truncations >= 9, (ends, truncations)


def ppo_learns(envs: SB3VecEnv, policy: str) -> None:
    torch = pytest.importorskip("torch")
    from stable_baselines3 import PPO

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a test worker's share of the cores
    try:
        monitored = VecMonitor(envs)  # episode returns for SB3's logs (no Monitor per world)
        model = PPO(policy, monitored, n_steps=64, batch_size=64, n_epochs=1, seed=0, device="cpu")
        model.learn(256)
    finally:
        torch.set_num_threads(threads)
        envs.close()
    assert model.num_timesteps == 256 and len(model.ep_info_buffer) > 0


def test_ppo_learns_on_the_native_grid_vector_env():
    envs = gym.make_vec(GRID, num_envs=4, image_only=True, tile_px=8)
    ppo_learns(SB3VecEnv(envs), "CnnPolicy")


@needs_mujoco
def test_ppo_learns_on_the_physics_vector_env():
    envs = gym.make_vec(
        "mmsafe/SafePointGoal1-v0", num_envs=4, vectorization_mode="sync", max_episode_steps=50
    )
    ppo_learns(SB3VecEnv(envs), "MlpPolicy")


@pytest.mark.parametrize("native", [True, False])
def test_attributes_methods_and_images_of_the_worlds(native):
    kwargs = (
        {"image_only": True} if native else {"vectorization_mode": "sync", "wrappers": [ImageOnly]}
    )
    ours = SB3VecEnv(gym.make_vec(GRID, num_envs=3, tile_px=8, **kwargs))
    ours.reset()
    assert ours.render_mode == "rgb_array" and ours.get_attr("render_mode") == ["rgb_array"] * 3
    assert ours.env_is_wrapped(ImageOnly) == [not native] * 3
    ours.set_attr("label", "b", indices=[1])
    assert ours.get_attr("label", indices=1) == ["b"]
    assert ours.env_method("get_wrapper_attr", "label", indices=[1]) == ["b"]
    images = ours.get_images()
    assert len(images) == 3 and images[0].ndim == 3 and images[0].dtype == np.uint8
    assert ours.render().shape[2] == 3  # SB3 tiles them into one frame
    ours.close()


def test_what_it_cannot_take_it_refuses_in_one_line():
    single = gym.make(GRID)
    with pytest.raises(TypeError, match="DummyVecEnv"):
        SB3VecEnv(single)
    same_step = gym.make_vec(
        GRID, num_envs=2, vectorization_mode="sync", vector_kwargs={"autoreset_mode": "SameStep"}
    )
    with pytest.raises(ValueError, match="NextStep"):
        SB3VecEnv(same_step)
    with pytest.raises(ValueError, match="image_only=True"):
        SB3VecEnv(gym.make_vec(GRID, num_envs=2))  # the mission text is a Text space
    disabled = gym.make_vec(
        GRID, num_envs=2, vectorization_mode="sync", vector_kwargs={"autoreset_mode": "Disabled"}
    )
    # a vector env that never resets by itself is taken: the adapter resets it
    ours = SB3VecEnv(gym.wrappers.vector.FilterObservation(disabled, ["image"]))
    ours.reset()
    for _ in range(3):
        *_, dones, infos = ours.step(np.full(2, ACTIONS.index("done")))
        assert dones.all() and "terminal_observation" in infos[0]
    for env in (single, same_step, ours):
        env.close()


def test_an_async_vector_env_sets_some_worlds_and_refuses_a_call_on_some():
    envs = gym.make_vec(
        GRID, num_envs=2, vectorization_mode="async", wrappers=[ImageOnly], tile_px=8
    )
    ours = SB3VecEnv(envs)
    try:
        ours.reset()
        ours.set_attr("label", "a")
        ours.set_attr("label", "b", indices=[1])
        assert ours.get_attr("label") == ["a", "b"]  # world 0 kept its own
        with pytest.raises(ValueError, match="every world at once"):
            ours.env_method("get_wrapper_attr", "label", indices=[1])
        assert ours.env_method("get_wrapper_attr", "label") == ["a", "b"]
    finally:
        ours.close()
