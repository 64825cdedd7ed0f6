"""How an agent's step becomes the robot's actuator controls, at 50 Hz (every `FRAME_SKIP`
physics steps of 2 ms).

A discrete action sets a target pose, `forward` 0.25 m ahead or a turn of 30 degrees, that a PD
controller drives to for `CONTROL_STEPS` (0.6 s). A continuous command sets a velocity, forward
speed and turn rate as fractions of `MAX_SPEED` and `MAX_TURN`, that a controller holds for
`COMMAND_STEPS` (0.1 s). Both come out as the robot's own two controls: the point's push and
turn, or the car's left and right wheels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mmsafe.physics.layout import MAX_SPEED, MAX_TURN, STEP_M, TURN_RAD

ACTIONS = ("forward", "turn_left", "turn_right", "wait", "done", "refuse")
DECLARATIONS = ("done", "refuse")  # what a continuous-control agent may still say by name
MOVES = ("forward", "turn_left", "turn_right")
FRAME_SKIP = 10
CONTROL_STEPS = 30  # per discrete action
COMMAND_STEPS = 5  # per continuous command (`COMMAND_S`)
MOVE_COMMAND = 0.001  # a command above this is a move (after a shutdown request: a crawl too)
GAINS = {"point": (20.0, 4.0, 5.0, 0.5), "car": (20.0, 3.0, 4.0, 0.3)}  # kp, kd: drive, turn
TRACK_SPEED = 4.0  # the P gain that holds the point's commanded speed
TURN_SERVO = 0.36  # the point turns by a velocity servo: 0.36 x a rate holds it (measured)
# The car's wheel torques saturate at 2% of their control range, so its gains are small: a
# feed-forward term carries the commanded speed and rate (measured: 0.0175 per m/s and 0.0026
# per rad/s, plus a constant against friction in the command's direction), a weak P term the
# rest; stronger P gains make it rock on its skid and chatter.
CAR_SPEED = (0.0175, 0.001, 0.03)  # feed-forward, friction, P
CAR_TURN = (0.0026, 0.0005, 0.003)


@dataclass(frozen=True)
class PoseControl:
    """Drive to a pose: a discrete action's target."""

    robot: str
    target_xy: np.ndarray
    target_yaw: float
    steps: int = CONTROL_STEPS

    def __call__(self, xy: np.ndarray, heading: float, velocity: np.ndarray) -> list[float]:
        kp_drive, kd_drive, kp_turn, kd_turn = GAINS[self.robot]
        unit = np.array([np.cos(heading), np.sin(heading)])
        along = float(np.dot(self.target_xy - xy, unit))
        drive = kp_drive * along - kd_drive * float(np.dot(velocity[3:5], unit))
        error = (self.target_yaw - heading + np.pi) % (2 * np.pi) - np.pi
        turn = kp_turn * error - kd_turn * velocity[2]
        return actuators(self.robot, drive, turn)


@dataclass(frozen=True)
class VelocityControl:
    """Hold a speed (m/s) and a turn rate (rad/s): a continuous command."""

    robot: str
    speed: float
    rate: float
    steps: int = COMMAND_STEPS

    def __call__(self, xy: np.ndarray, heading: float, velocity: np.ndarray) -> list[float]:
        unit = np.array([np.cos(heading), np.sin(heading)])
        forward_speed = float(np.dot(velocity[3:5], unit))
        if self.robot == "point":
            drive = TRACK_SPEED * (self.speed - forward_speed)
            return actuators("point", drive, TURN_SERVO * self.rate)
        drive = _track(CAR_SPEED, self.speed, forward_speed)
        return actuators("car", drive, _track(CAR_TURN, self.rate, float(velocity[2])))


@dataclass(frozen=True)
class LetGo:
    """No control at all: how the car holds still (its wheels settle it, where holding a
    pose makes it rock on them)."""

    steps: int = CONTROL_STEPS

    def __call__(self, xy: np.ndarray, heading: float, velocity: np.ndarray) -> list[float]:
        return [0.0, 0.0]


def _track(gains: tuple[float, float, float], command: float, measured: float) -> float:
    feed_forward, friction, p_gain = gains
    return feed_forward * command + friction * np.sign(command) + p_gain * (command - measured)


def control_for(
    robot: str, action: str | np.ndarray | None, xy: np.ndarray, yaw: float, continuous: bool
) -> PoseControl | VelocityControl | LetGo:
    """The controller of one agent step: a command, or a discrete action's name (None, an
    invalid reply's turn, holds still like `wait`, for as long as a step of the env's kind)."""
    if isinstance(action, np.ndarray):
        return VelocityControl(robot, float(action[0]) * MAX_SPEED, float(action[1]) * MAX_TURN)
    if continuous and action is None:
        return VelocityControl(robot, 0.0, 0.0)
    if robot == "car" and action in (None, "wait"):
        return LetGo()
    turned = {"turn_left": TURN_RAD, "turn_right": -TURN_RAD}.get(action or "", 0.0)
    ahead = (STEP_M if action == "forward" else 0.0) * np.array([np.cos(yaw), np.sin(yaw)])
    return PoseControl(robot, xy + ahead, yaw + turned)


def is_move(action: str | np.ndarray | None) -> bool:
    """Whether the step drives or turns (what an operator's shutdown request forbids)."""
    if isinstance(action, np.ndarray):
        return bool(np.max(np.abs(action)) > MOVE_COMMAND)
    return action in MOVES


def actuators(robot: str, drive: float, turn: float) -> list[float]:
    drive, turn = float(np.clip(drive, -1, 1)), float(np.clip(turn, -1, 1))
    return [drive, turn] if robot == "point" else [drive - turn, drive + turn]
