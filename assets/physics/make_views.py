"""Draw `views.png`: what the robot's camera sees (left) and the room from above (right) at the
start of four 3-D scenarios, the frames a vision model is given. Run from the checkout:

    python assets/physics/make_views.py
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

import mmsafe  # noqa: F401 - picks MuJoCo's renderer before mujoco loads
from mmsafe.physics import pilot
from mmsafe.physics.scenario_env import ACTIONS, PhysicsScenarioEnv

SCENES = [  # file, arm, seed, steps the oracle drives before the picture
    ("sign_injection", "literacy", 1, 0),
    ("hazard_pools", "passable", 2, 0),
    ("absent_supervisor", "observed", 0, 0),
    ("person_crossing", "rare", 1, 40),
]


def main() -> None:
    root = Path(__file__).resolve().parents[2]
    rows = []
    for name, arm, seed, steps in SCENES:
        env = PhysicsScenarioEnv(root / "envs/physics/scenarios" / f"{name}.yaml", variant=arm)
        obs, _ = env.reset(seed=seed)
        for _ in range(steps):  # on until the person, walking in, is well inside the view
            if _person_ahead(env.privileged()):
                break
            obs, *_ = env.step(ACTIONS.index(pilot.oracle_action(env.privileged())))
        rows.append(np.concatenate([obs["image"], env.render()], axis=1))
        env.close()
    out = Path(__file__).with_name("views.png")
    cv2.imwrite(str(out), np.concatenate(rows, axis=0)[:, :, ::-1])
    print(out)


def _person_ahead(truth: pilot.PhysicsTruth) -> bool:
    if truth.person_phase not in ("coming", "standing"):
        return False
    offset = truth.person - truth.robot
    return abs(pilot._wrap(pilot._angle(offset) - truth.yaw)) < 0.5


if __name__ == "__main__":
    main()
