"""Robots, each added to a scene through MuJoCo's model-editing API (MjSpec).

A robot is a body named `robot` with a site `robot` (where its sensors sit), a forward-looking
camera `vision`, and two actuators taking controls in [-1, 1]. A manipulator would add itself the
same way: its bodies under `robot`, its actuators in `ACTUATED` order, its own sensors.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

HEIGHT = {"point": 0.1, "car": 0.06}  # the robot body's rest height
# how far ahead of the body's origin the robot turns about (the car: its wheels' axle), where
# its speed is measured: turning in place is not moving
PIVOT = {"point": 0.0, "car": 0.03}


@dataclass(frozen=True)
class Robot:
    name: str
    add: Callable[[Any, Any], None]  # (mujoco, spec) -> None
    actions: tuple[str, str]  # what each control does, for people
    free: bool  # a free joint (7 qpos) or planar x, y, yaw joints


def _sensors(mujoco: Any, spec: Any) -> None:
    for kind in ("ACCELEROMETER", "VELOCIMETER", "GYRO", "MAGNETOMETER"):
        spec.add_sensor(
            name=kind.lower(),
            type=getattr(mujoco.mjtSensor, f"mjSENS_{kind}"),
            objtype=mujoco.mjtObj.mjOBJ_SITE,
            objname="robot",
        )


def _camera(body: Any, z: float) -> None:
    # looking along the robot's +x, tilted a little down
    body.add_camera(name="vision", pos=[0.12, 0, z], xyaxes=[0, -1, 0, 0.4, 0, 1], fovy=90)


def add_point(mujoco: Any, spec: Any) -> None:
    """A ball that pushes itself along its heading and turns (after Safety Gym's Point)."""
    body = spec.worldbody.add_body(name="robot", pos=[0, 0, HEIGHT["point"]])
    for name, kind, axis, damping in (
        ("x", mujoco.mjtJoint.mjJNT_SLIDE, [1, 0, 0], 0.01),
        ("y", mujoco.mjtJoint.mjJNT_SLIDE, [0, 1, 0], 0.01),
        ("yaw", mujoco.mjtJoint.mjJNT_HINGE, [0, 0, 1], 0.005),
    ):
        body.add_joint(name=name, type=kind, axis=axis, damping=damping)
    body.add_geom(
        name="robot", type=mujoco.mjtGeom.mjGEOM_SPHERE, size=[0.1, 0, 0],
        rgba=[0.8, 0.3, 0.3, 1], density=1.0, friction=[1, 0.01, 0.01],
    )  # fmt: skip
    body.add_geom(
        name="robot_nose", type=mujoco.mjtGeom.mjGEOM_BOX, size=[0.05, 0.05, 0.05],
        pos=[0.1, 0, 0], rgba=[0.9, 0.5, 0.5, 1], density=1.0, contype=0, conaffinity=0,
    )  # fmt: skip
    body.add_site(name="robot", size=[0.02, 0, 0])
    _camera(body, 0.15)
    spec.add_actuator(
        name="forward", trntype=mujoco.mjtTrn.mjTRN_SITE, target="robot",
        gear=[0.3, 0, 0, 0, 0, 0], ctrllimited=True, ctrlrange=[-1, 1],
        forcelimited=True, forcerange=[-0.05, 0.05],
    )  # fmt: skip
    turn = spec.add_actuator(
        name="turn", trntype=mujoco.mjtTrn.mjTRN_JOINT, target="yaw",
        gear=[0.3, 0, 0, 0, 0, 0], ctrllimited=True, ctrlrange=[-1, 1],
        forcelimited=True, forcerange=[-0.05, 0.05],
    )  # fmt: skip
    turn.set_to_velocity(kv=1)
    _sensors(mujoco, spec)


def add_car(mujoco: Any, spec: Any) -> None:
    """A box on two driven wheels and a sliding rear skid: differential drive."""
    body = spec.worldbody.add_body(name="robot", pos=[0, 0, HEIGHT["car"]])
    body.add_freejoint(name="robot")
    body.add_geom(
        name="robot", type=mujoco.mjtGeom.mjGEOM_BOX, size=[0.1, 0.08, 0.03],
        rgba=[0.8, 0.3, 0.3, 1], density=5.0,
    )  # fmt: skip
    body.add_geom(
        name="robot_skid", type=mujoco.mjtGeom.mjGEOM_SPHERE, size=[0.03, 0, 0],
        pos=[-0.08, 0, -0.03], friction=[0.001, 0.001, 0.001], density=5.0,
    )  # fmt: skip
    for side, y in (("left", 0.1), ("right", -0.1)):
        wheel = body.add_body(name=f"wheel_{side}", pos=[0.03, y, 0])
        wheel.add_joint(name=side, type=mujoco.mjtJoint.mjJNT_HINGE, axis=[0, 1, 0], damping=0.001)
        wheel.add_geom(
            name=f"wheel_{side}", type=mujoco.mjtGeom.mjGEOM_CYLINDER, size=[0.06, 0.015, 0],
            quat=[0.7071068, 0.7071068, 0, 0], rgba=[0.2, 0.2, 0.2, 1], density=5.0,
            friction=[1.5, 0.01, 0.01],
        )  # fmt: skip
    body.add_site(name="robot", size=[0.02, 0, 0])
    _camera(body, 0.1)
    for side in ("left", "right"):
        spec.add_actuator(
            name=side, trntype=mujoco.mjtTrn.mjTRN_JOINT, target=side,
            gear=[1, 0, 0, 0, 0, 0], ctrllimited=True, ctrlrange=[-1, 1],
            forcelimited=True, forcerange=[-0.02, 0.02],
        )  # fmt: skip
    _sensors(mujoco, spec)


ROBOTS = {
    "point": Robot("point", add_point, ("push forward or back", "turn left or right"), False),
    "car": Robot("car", add_car, ("left wheel", "right wheel"), True),
}
