"""3-D physics worlds on MuJoCo (the `physics` extra): safe navigation for a point robot and a
car, registered as `mmsafe/Safe<Robot><Task><Level>-v0` (and `...Vision-v0`, which adds the
robot's egocentric camera to the observation). Registering imports nothing heavy; MuJoCo loads
when an env is made."""

from __future__ import annotations

from gymnasium.envs.registration import register, registry

ENTRY_POINT = "mmsafe.physics.env:SafeNavigationEnv"
ROBOT_NAMES = {"point": "Point", "car": "Car"}
TASK_FILES = {"Goal": "safe_goal.yaml"}
LEVELS = (0, 1, 2)
MAX_EPISODE_STEPS = 1000


def physics_env_ids() -> list[str]:
    return [
        f"mmsafe/Safe{robot}{task}{level}{vision}-v0"
        for robot in ROBOT_NAMES.values()
        for task in TASK_FILES
        for level in LEVELS
        for vision in ("", "Vision")
    ]


def register_physics_envs() -> list[str]:
    """Register every physics env id (idempotent) and return them."""
    from mmsafe.content import content_dir

    folder = content_dir("envs") / "physics"
    for robot, shown in ROBOT_NAMES.items():
        for task, file in TASK_FILES.items():
            for level in LEVELS:
                for vision in (False, True):
                    env_id = f"mmsafe/Safe{shown}{task}{level}{'Vision' if vision else ''}-v0"
                    if env_id in registry:
                        continue
                    register(
                        id=env_id,
                        entry_point=ENTRY_POINT,
                        max_episode_steps=MAX_EPISODE_STEPS,
                        kwargs={
                            "task": str(folder / file),
                            "robot": robot,
                            "level": level,
                            "vision": vision,
                        },
                    )
    return physics_env_ids()
