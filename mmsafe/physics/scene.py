"""A physics task's YAML (`envs/physics/*.yaml`) and the scene it compiles to through MjSpec.

The scene holds every object a level has, compiled once per env; a reset moves them (static
bodies by their model position, free ones by their joint) to where the seed's layout puts them,
which is far cheaper than compiling a new model per episode.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mmsafe.core import MmsafeError
from mmsafe.physics.robots import ROBOTS

KINDS = ("hazards", "vases", "pillars", "buttons", "gremlins")  # in lidar order, after the goal
COLOURS = {
    "goal": [0.2, 0.8, 0.2, 0.35],
    "hazards": [0.2, 0.3, 1.0, 0.45],
    "vases": [0.2, 0.9, 0.9, 1.0],
    "pillars": [0.5, 0.4, 0.3, 1.0],
    "buttons": [1.0, 0.5, 0.0, 1.0],
    "goal_button": [0.2, 0.9, 0.2, 1.0],  # the button to press now
    "gremlins": [0.55, 0.2, 0.7, 1.0],
    "box": [1.0, 1.0, 0.3, 1.0],
}
BROKEN = [0.35, 0.1, 0.1, 1.0]


class ObjectRule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    count: int = Field(default=0, ge=0, le=64)
    size: float = Field(default=0.2, gt=0, le=1)  # radius (hazard, pillar) or half-side (vase)
    keepout: float = Field(default=0.2, ge=0, le=2)  # no other object's centre this close
    cost: float = Field(default=1.0, ge=0)  # 0: present but not constrained
    # N of contact force that breaks a vase: a full-speed bump of the point robot (3 mN on an
    # 8 mg Safety Gym vase) breaks it, a slow push (<= 1 mN) does not
    break_force: float = Field(default=0.0025, gt=0)


class LevelRule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    extents: float = Field(gt=0, le=10)  # objects are placed in [-extents, extents]^2
    hazards: ObjectRule = Field(default_factory=ObjectRule)
    vases: ObjectRule = Field(default_factory=lambda: ObjectRule(size=0.1, keepout=0.15))
    pillars: ObjectRule = Field(default_factory=lambda: ObjectRule(keepout=0.3))
    # Button: the goal is one of the buttons; pressing another costs (where `cost` > 0)
    buttons: ObjectRule = Field(default_factory=lambda: ObjectRule(size=0.1, keepout=0.2))
    # moving boxes that circle their place `travel` m away; touching one costs
    gremlins: ObjectRule = Field(default_factory=lambda: ObjectRule(size=0.1, keepout=0.5))


class Goal(BaseModel):
    model_config = ConfigDict(extra="forbid")
    size: float = Field(default=0.3, gt=0)
    keepout: float = Field(default=0.305, ge=0)


class Box(BaseModel):
    """Push: the box to push into the goal."""

    model_config = ConfigDict(extra="forbid")
    size: float = Field(default=0.2, gt=0, le=1)  # half its side
    keepout: float = Field(default=0.2, ge=0)
    density: float = Field(default=0.001, gt=0)


class PhysicsTask(BaseModel):
    """One task file: the task, its goal and its levels."""

    model_config = ConfigDict(extra="forbid")
    id: str
    version: int = Field(ge=0)
    task: Literal["goal", "button", "push"]
    goal: Goal = Field(default_factory=Goal)
    box: Box = Field(default_factory=Box)
    gremlin_travel: float = Field(default=0.35, ge=0)  # radius of a gremlin's circle, m
    button_delay: int = Field(default=10, ge=0)  # steps after a press when buttons do nothing
    max_steps: int = Field(default=1000, ge=1)
    frame_skip: int = Field(default=10, ge=1)
    timestep: float = Field(default=0.002, gt=0, le=0.05)
    levels: dict[int, LevelRule]


def load_task(path: str | Path) -> PhysicsTask:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return PhysicsTask.model_validate(data)
    except (OSError, yaml.YAMLError, ValidationError) as error:
        first = str(error).strip().splitlines()
        raise MmsafeError(f"{path}: not a physics task ({' '.join(first[:3])})") from None


def base_spec(mujoco: Any, half: float, image_px: int, sky: bool = False) -> Any:
    """A spec with a checkered floor `half` m either way, a light without shadows and the
    `top` camera; `sky` adds a pale gradient above the horizon (else it renders black)."""
    spec = mujoco.MjSpec()
    spec.visual.quality.shadowsize = 0  # the shadow map makes CPU rendering ~20x slower
    spec.visual.quality.offsamples = 0  # and 4x multisampling ~3x slower (4.7 vs 1.5 ms, 64 px)
    spec.visual.global_.offwidth = spec.visual.global_.offheight = max(image_px, 640)
    spec.add_texture(
        name="grid", type=mujoco.mjtTexture.mjTEXTURE_2D,
        builtin=mujoco.mjtBuiltin.mjBUILTIN_CHECKER, width=64, height=64,
        rgb1=[0.86, 0.84, 0.77], rgb2=[0.95, 0.91, 0.86],
    )  # fmt: skip
    if sky:
        spec.add_texture(
            name="sky", type=mujoco.mjtTexture.mjTEXTURE_SKYBOX,
            builtin=mujoco.mjtBuiltin.mjBUILTIN_GRADIENT, width=64, height=64,
            rgb1=[0.62, 0.76, 0.9], rgb2=[0.97, 0.97, 0.97],
        )  # fmt: skip
    floor = spec.add_material(name="grid", texrepeat=[4, 4])
    floor.textures[mujoco.mjtTextureRole.mjTEXROLE_RGB] = "grid"
    world = spec.worldbody
    world.add_geom(
        name="floor", type=mujoco.mjtGeom.mjGEOM_PLANE, size=[half, half, 0.1], material="grid"
    )
    world.add_light(
        name="sun", pos=[0, 0, 4], dir=[0, 0, -1], castshadow=False,
        type=mujoco.mjtLightType.mjLIGHT_DIRECTIONAL,
    )  # fmt: skip
    world.add_camera(name="top", pos=[0, 0, 2.2 * half], xyaxes=[1, 0, 0, 0, 1, 0], fovy=50)
    return spec


def build_model(mujoco: Any, task: PhysicsTask, level: int, robot: str, image_px: int) -> Any:
    """The compiled MjModel of a level: floor, light, cameras, the robot, the goal and every
    object the level has (placed at the origin until a reset lays them out)."""
    rule = task.levels[level]
    spec = base_spec(mujoco, rule.extents + 1.0, image_px, sky=True)
    spec.option.timestep = task.timestep
    world = spec.worldbody
    ROBOTS[robot].add(mujoco, spec)
    goal = world.add_body(name="goal", pos=[0, 0, 0.15])
    goal.add_geom(
        name="goal", type=mujoco.mjtGeom.mjGEOM_CYLINDER, size=[task.goal.size, 0.15, 0],
        contype=0, conaffinity=0, rgba=COLOURS["goal"],
    )  # fmt: skip
    for i in range(rule.hazards.count):
        body = world.add_body(name=f"hazards{i}", pos=[0, 0, 0.02])
        body.add_geom(
            name=f"hazards{i}", type=mujoco.mjtGeom.mjGEOM_CYLINDER,
            size=[rule.hazards.size, 0.01, 0], contype=0, conaffinity=0, rgba=COLOURS["hazards"],
        )  # fmt: skip
    for i in range(rule.pillars.count):
        body = world.add_body(name=f"pillars{i}", pos=[0, 0, 0.5])
        body.add_geom(
            name=f"pillars{i}", type=mujoco.mjtGeom.mjGEOM_CYLINDER,
            size=[rule.pillars.size, 0.5, 0], rgba=COLOURS["pillars"],
        )  # fmt: skip
    for i in range(rule.buttons.count):
        body = world.add_body(name=f"buttons{i}", pos=[0, 0, 0.05])
        body.add_geom(
            name=f"buttons{i}", type=mujoco.mjtGeom.mjGEOM_CYLINDER,
            size=[rule.buttons.size, 0.05, 0], rgba=COLOURS["buttons"],
        )  # fmt: skip
    for i in range(rule.gremlins.count):
        size = rule.gremlins.size
        body = world.add_body(name=f"gremlins{i}", pos=[0, 0, size], mocap=True)
        body.add_geom(
            name=f"gremlins{i}", type=mujoco.mjtGeom.mjGEOM_BOX, size=[size, size, size],
            rgba=COLOURS["gremlins"],
        )  # fmt: skip
    if task.task == "push":
        size = task.box.size
        body = world.add_body(name="box", pos=[0, 0, size])
        body.add_freejoint(name="box")
        body.add_geom(
            name="box", type=mujoco.mjtGeom.mjGEOM_BOX, size=[size, size, size],
            density=task.box.density, rgba=COLOURS["box"],
        )  # fmt: skip
    for i in range(rule.vases.count):
        size = rule.vases.size
        body = world.add_body(name=f"vases{i}", pos=[0, 0, size])
        body.add_freejoint(name=f"vases{i}")
        body.add_geom(
            name=f"vases{i}", type=mujoco.mjtGeom.mjGEOM_BOX, size=[size, size, size],
            density=0.001, rgba=COLOURS["vases"],  # light, as Safety Gym's
        )  # fmt: skip
    return spec.compile()


ROBOT_KEEPOUT = 0.4


def place(
    rng: np.random.Generator, extents: float, keepout: float,
    placed: list[tuple[np.ndarray, float]], tries: int = 100,
) -> np.ndarray | None:  # fmt: skip
    """A point uniform in [-extents, extents]^2 (less its keepout) at least the sum of two
    keepouts from every placed (point, keepout) (Safety Gym's rejection rule), or None."""
    for _ in range(tries):
        xy = rng.uniform(-extents + keepout, extents - keepout, size=2)
        if all(np.hypot(*(xy - p)) >= keepout + k for p, k in placed):
            return xy
    return None


def sample_layout(rng: np.random.Generator, task: PhysicsTask, level: int) -> dict[str, np.ndarray]:
    """Positions (n, 2) per name (`robot`, `goal` (none for Button, whose goal is a button),
    `box` (Push only), each kind), drawn by `place` in order."""
    rule = task.levels[level]
    wanted = [("robot", 1, ROBOT_KEEPOUT), ("goal", int(task.task != "button"), task.goal.keepout)]
    wanted += [("box", int(task.task == "push"), task.box.keepout)]
    wanted += [(kind, getattr(rule, kind).count, getattr(rule, kind).keepout) for kind in KINDS]
    for _ in range(1000):
        placed: list[tuple[np.ndarray, float]] = []
        out: dict[str, list[np.ndarray]] = {name: [] for name, _, _ in wanted}
        for name, count, keepout in wanted:
            for _ in range(count):
                xy = place(rng, rule.extents, keepout, placed)
                if xy is None:
                    break
                placed.append((xy, keepout))
                out[name].append(xy)
        if len(placed) == sum(count for _, count, _ in wanted):
            return {name: np.array(xys).reshape(-1, 2) for name, xys in out.items()}
    raise MmsafeError(f"{task.id} level {level}: no layout fits its objects; widen `extents`")
