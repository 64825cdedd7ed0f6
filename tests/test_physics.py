"""The MuJoCo worlds: every id builds and passes Gymnasium's and SB3's env checkers, an episode
replays exactly from its seed and actions, and costs and events come from the simulation
(entering a hazard, bumping a vase hard enough to break it, which stays broken)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest

from mmsafe.physics import physics_env_ids
from mmsafe.physics.env import SafeNavigationEnv
from mmsafe.physics.wrappers import SafetyGymnasiumStep

from .conftest import ROOT

# not importorskip: importing mujoco here, before mmsafe picks its headless renderer, is what
# a user must not do either (MUJOCO_GL is read at mujoco's first import)
pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("mujoco") is None, reason="the physics extra is not installed"
)

TASK = ROOT / "envs" / "physics" / "safe_goal.yaml"


@pytest.fixture
def point():
    env = SafeNavigationEnv(TASK, robot="point", level=2)
    yield env
    env.close()


def put_robot(env: SafeNavigationEnv, xy, yaw: float = 0.0) -> None:
    env.data.qpos[0:3] = [*xy, yaw]
    env.mj.mj_forward(env.model, env.data)


@pytest.mark.parametrize("env_id", [i for i in physics_env_ids() if i.startswith("mmsafe/Safe")])
def test_every_navigation_env_passes_gymnasiums_checker(env_id):
    from gymnasium.utils.env_checker import check_env

    env = gym.make(env_id)
    with pytest.warns(UserWarning):  # unbounded sensor readings: Box(-inf, inf), as intended
        check_env(env.unwrapped, skip_render_check=True)
    assert env.spec.max_episode_steps == 1000
    env.close()


@pytest.mark.parametrize("env_id", ["mmsafe/SafePointGoal1Vision-v0", "mmsafe/SafeCarGoal2-v0"])
def test_sb3_checks_a_vision_and_a_state_env(env_id):
    from stable_baselines3.common.env_checker import check_env

    env = gym.make(env_id).unwrapped
    check_env(env)
    env.close()


def test_an_episode_replays_exactly_from_its_seed_and_actions():
    actions = np.random.default_rng(0).uniform(-1, 1, size=(150, 2))

    def run(robot: str) -> tuple[np.ndarray, list]:
        env = SafeNavigationEnv(TASK, robot=robot, level=2)
        env.reset(seed=11)
        costs = [env.step(a)[4]["cost"] for a in actions]
        state = env.data.qpos.copy()
        env.close()
        return state, costs

    for robot in ("point", "car"):
        first, again = run(robot), run(robot)
        assert np.array_equal(first[0], again[0]) and first[1] == again[1]
    a, b = SafeNavigationEnv(TASK, level=2), SafeNavigationEnv(TASK, level=2)
    a.reset(seed=1)
    b.reset(seed=2)
    assert not np.allclose(a.object_xy("hazards"), b.object_xy("hazards"))  # seeds differ


def test_entering_a_hazard_costs_and_says_which(point):
    point.reset(seed=0)
    assert point.step([0, 0])[4]["cost"] == 0.0  # the layout keeps the robot out at the start
    hazard = point.object_xy("hazards")[3]
    put_robot(point, hazard)
    info = point.step([0, 0])[4]
    assert info["cost"] == 1.0 and info["cost_hazards"] == 1.0
    assert [e["object"] for e in info["events"] if e["kind"] == "hazard"] == ["hazards3"]


def bump_vase(env: SafeNavigationEnv, gap: float, push: float, steps: int) -> list[str]:
    """Put the robot `gap` m (centre to centre) before vase 0, facing it, push for `steps`
    steps; the vase events of those steps, in order."""
    put_robot(env, env.object_xy("vases")[0] - [gap, 0.0])
    kinds = []
    for _ in range(steps):
        kinds += [e["kind"] for e in env.step([push, 0.0])[4]["events"] if "vase" in e["kind"]]
    return kinds


def test_a_hard_bump_breaks_a_vase_and_it_stays_broken(point):
    point.reset(seed=1)
    kinds = bump_vase(point, gap=0.6, push=1.0, steps=60)
    assert "touched_vase" in kinds and kinds.count("broke_vase") == 1
    assert point.broken[0] and sum(point.broken) == 1
    broken_colour = point.model.geom_rgba[point.vase_geoms[0]].copy()
    for _ in range(20):
        point.step([-1.0, 0.0])
    assert point.broken[0]
    assert np.array_equal(point.model.geom_rgba[point.vase_geoms[0]], broken_colour)
    point.reset(seed=1)
    assert not any(point.broken)  # a new episode has whole vases


def test_a_gentle_push_moves_a_vase_without_breaking_it(point):
    point.reset(seed=1)
    vase = point.object_xy("vases")[0]
    kinds = bump_vase(point, gap=0.22, push=0.05, steps=30)
    assert "touched_vase" in kinds and not point.broken[0]
    assert np.hypot(*(point.object_xy("vases")[0] - vase)) > 0.01  # pushed along, whole


def test_doing_nothing_is_safe_and_earns_nothing():
    env = gym.make("mmsafe/SafePointGoal2-v0")
    env.reset(seed=0)
    costs, truncated = 0.0, False
    while not truncated:
        _, _, _, truncated, info = env.step(np.zeros(2))
        costs += info["cost"]
    assert costs == 0 and info["goals"] == 0 and info["performance"] == 0
    assert info["outcome"] == "timeout" and not info["success"]
    env.close()


def test_progress_to_the_goal_is_rewarded_and_reaching_it_draws_a_new_one():
    env = SafeNavigationEnv(TASK, robot="point", level=0)
    env.reset(seed=5)
    goal = env.goal_xy()
    toward = goal - env.robot_xy()
    put_robot(env, env.robot_xy(), float(np.arctan2(toward[1], toward[0])))
    rewards, goals = [], 0
    for _ in range(200):
        _, reward, _, _, info = env.step([1.0, 0.0])
        rewards.append(reward)
        goals = info["goals"]
        if goals:
            break
    assert goals == 1 and sum(rewards) > 1.0 and not np.allclose(env.goal_xy(), goal)
    env.close()


def test_the_six_tuple_and_the_cost_budget(point):
    env = SafetyGymnasiumStep(point, cost_limit=25)
    env.reset(seed=0)
    put_robot(point, point.object_xy("hazards")[0])
    obs, reward, cost, terminated, truncated, info = env.step([0, 0])
    assert cost == 1.0 and info["cost_budget_left"] == 24.0 and obs.shape == (60,)


def blue(image: np.ndarray) -> int:
    """Pixels of the hazards' blue (neither the floor, the cyan vases, the goal nor the robot)."""
    r, g, b = (image[..., i].astype(int) for i in range(3))
    return int(((b > 150) & (r < 170) & (g < 190)).sum())


def test_frames_show_the_hazards_from_above_and_from_the_robot(tmp_path):
    one = tmp_path / "one_hazard.yaml"
    one.write_text(
        "id: OneHazard\nversion: 0\ntask: goal\nlevels:\n"
        "  0: {extents: 1.0}\n  1: {extents: 1.5, hazards: {count: 1, size: 0.3}}\n"
    )
    views = {}
    for level in (0, 1):
        env = SafeNavigationEnv(one, level=level, vision=True, render_mode="rgb_array")
        obs, _ = env.reset(seed=0)
        views[level] = env.render()
        assert views[level].shape == (224, 224, 3) and obs["image"].shape == (64, 64, 3)
        if level == 0:
            env.close()
    assert blue(views[0]) == 0 and blue(views[1]) > 200  # the disc, from above, only in level 1
    hazard = env.object_xy("hazards")[0]
    put_robot(env, hazard - [0.6, 0.0], 0.0)  # before the hazard, facing it
    facing = env.step([0, 0])[0]["image"]
    put_robot(env, hazard - [0.6, 0.0], np.pi)  # the same place, its back to it
    away = env.step([0, 0])[0]["image"]
    assert blue(facing) > 100 and blue(away) < 10  # an edge pixel or so of the robot's own
    env.close()


BUTTON = ROOT / "envs" / "physics" / "safe_button.yaml"
PUSH = ROOT / "envs" / "physics" / "safe_push.yaml"


def _next_to(env: SafeNavigationEnv, xy, gap: float) -> None:
    """The point robot `gap` m from `xy`'s centre, on the side towards the room's middle."""
    away = -np.asarray(xy) / max(np.hypot(*xy), 1e-6)
    put_robot(env, np.asarray(xy) + gap * away)


def test_button_pressing_the_lit_button_scores_and_lights_another_the_others_cost():
    env = SafeNavigationEnv(BUTTON, robot="point", level=1)
    env.reset(seed=1)
    lit = env.goal_button
    wrong = next(i for i in range(4) if i != lit)
    _next_to(env, env.object_xy("buttons")[wrong], 0.19)
    _, _, _, _, info = env.step([0, 0])
    assert info["cost"] == 1.0 and [e["kind"] for e in info["events"]] == ["pressed_wrong_button"]
    _next_to(env, env.goal_xy(), 0.19)
    _, reward, _, _, info = env.step([0, 0])
    assert info["goals"] == 1 and reward > 0.5 and env.goal_button != lit
    assert info["cost"] == 0.0  # the lit button costs nothing
    _next_to(env, env.goal_xy(), 0.19)  # just after a press no button responds
    _, _, _, _, info = env.step([0, 0])
    assert info["goals"] == 1 and info["cost"] == 0.0
    env.close()
    free = SafeNavigationEnv(BUTTON, robot="point", level=0)
    free.reset(seed=1)
    wrong = next(i for i in range(4) if i != free.goal_button)
    _next_to(free, free.object_xy("buttons")[wrong], 0.19)
    assert free.step([0, 0])[-1]["cost"] == 0.0  # level 0: nothing costs
    free.close()


def test_button_gremlins_circle_their_place_and_touching_one_costs():
    env = SafeNavigationEnv(BUTTON, robot="point", level=2)
    env.reset(seed=0)
    before = env.object_xy("gremlins")
    for _ in range(20):
        env.step([0, 0])
    after = env.object_xy("gremlins")
    moved = np.hypot(*(after - before).T)
    assert np.all(moved > 0.05) and np.allclose(np.hypot(*(after - env.gremlin_home).T), 0.35)
    _next_to(env, after[0], 0.2)
    kinds = [e["kind"] for e in env.step([0, 0])[-1]["events"]]
    assert "touched_gremlin" in kinds
    env.close()


def test_push_rewards_the_box_reaching_the_goal_not_the_robot():
    env = SafeNavigationEnv(PUSH, robot="point", level=0)
    env.reset(seed=2)
    put_robot(env, env.goal_xy())  # the robot in the goal scores nothing
    _, _, _, _, info = env.step([0, 0])
    assert info["goals"] == 0
    goal = env.goal_xy()
    env.data.qpos[env.box_qpos : env.box_qpos + 2] = goal + [0.05, 0.0]
    put_robot(env, goal + [1.0, 0.0])
    env.mj.mj_forward(env.model, env.data)
    _, _, _, _, info = env.step([0, 0])
    assert info["goals"] == 1 and not np.allclose(env.goal_xy(), goal)
    assert env.observation_space.shape == (44,)  # sensors, and a lidar each for goal and box
    env.close()


@pytest.mark.skipif(importlib.util.find_spec("triton") is None, reason="triton is not installed")
@pytest.mark.parametrize(
    "first",
    [
        "gym.make('mmsafe/SafePointGoal1Vision-v0').reset(seed=0)",
        # MuJoCo imported for state alone, frames later (as a test session or notebook does)
        "gym.make('mmsafe/SafePointGoal1-v0').reset(seed=0)\n"
        "gym.make('mmsafe/SafePointGoal1Vision-v0').reset(seed=0)",
    ],
    ids=["frames", "state-then-frames"],
)
def test_torch_can_load_triton_after_a_frame_is_rendered(first: str):
    """Mesa's llvmpipe loads its LLVM with the first OpenGL context; triton's, loaded after it
    (torch's first optimizer step), used to segfault the process: a vision policy trained with
    torch crashed on its first update."""
    code = f"import gymnasium as gym, mmsafe\n{first}\nimport triton\nprint('trained on')\n"
    ran = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert ran.returncode == 0 and "trained on" in ran.stdout, ran.stderr[-800:]
