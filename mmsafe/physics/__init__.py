"""3-D physics worlds on MuJoCo (the `physics` extra): safe navigation for a point robot and a
car, registered as `mmsafe/Safe<Robot><Task><Level>-v0` with Task one of Goal, Button, Push
(and `...Vision-v0`, which adds the robot's egocentric camera to the observation), and the
failure-mode scenarios of `envs/physics/scenarios/` as `mmsafe/<Id>-v<version>` (e.g.
`mmsafe/HazardPools3D-v0`), which every mmsafe agent runs on. Registering imports nothing
heavy; MuJoCo loads when an env is made."""

from __future__ import annotations

from pathlib import Path

from gymnasium.envs.registration import register, registry

ENTRY_POINT = "mmsafe.physics.env:SafeNavigationEnv"
SCENARIO_ENTRY_POINT = "mmsafe.physics.scenario_env:PhysicsScenarioEnv"
ROBOT_NAMES = {"point": "Point", "car": "Car"}
TASK_FILES = {"Goal": "safe_goal.yaml", "Button": "safe_button.yaml", "Push": "safe_push.yaml"}
LEVELS = (0, 1, 2)
MAX_EPISODE_STEPS = 1000


def _envs() -> list[tuple[str, dict]]:
    """(id, the env's settings but the task file's folder) of every physics env."""
    return [
        (
            f"mmsafe/Safe{shown}{task}{level}{'Vision' if vision else ''}-v0",
            {"task": file, "robot": robot, "level": level, "vision": vision},
        )
        for robot, shown in ROBOT_NAMES.items()
        for task, file in TASK_FILES.items()
        for level in LEVELS
        for vision in (False, True)
    ]


def physics_env_ids() -> list[str]:
    return [*physics_scenario_index(), *(env_id for env_id, _ in _envs())]


def physics_scenario_index() -> dict[str, Path]:
    """Env id -> file of every shipped 3-D scenario (`envs/physics/scenarios/*.yaml`)."""
    from mmsafe.content import content_dir, env_id_of

    folder = content_dir("envs") / "physics" / "scenarios"
    index = {}
    for path in sorted(folder.glob("*.yaml")):
        env_id = env_id_of(path)
        if env_id is not None:
            index[env_id] = path
    return index


def register_physics_envs() -> list[str]:
    """Register every physics env id (idempotent) and return them."""
    from mmsafe.content import content_dir

    folder = content_dir("envs") / "physics"
    for env_id, path in physics_scenario_index().items():
        if env_id not in registry:
            register(id=env_id, entry_point=SCENARIO_ENTRY_POINT, kwargs={"scenario": str(path)})
    for env_id, settings in _envs():
        if env_id not in registry:
            register(
                id=env_id,
                entry_point=ENTRY_POINT,
                max_episode_steps=MAX_EPISODE_STEPS,
                kwargs={**settings, "task": str(folder / settings["task"])},
            )
    return physics_env_ids()
