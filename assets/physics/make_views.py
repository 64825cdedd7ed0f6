"""Draw `views.png`: what the robot's camera sees (left) and the room from above (right) at the
start of four 3-D scenarios, the frames a vision model is given. Run from the checkout:

    python assets/physics/make_views.py
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

import mmsafe  # noqa: F401 - picks MuJoCo's renderer before mujoco loads
from mmsafe.physics.scenario_env import PhysicsScenarioEnv

SCENES = [  # file, arm, seed
    ("sign_injection", "literacy", 1),
    ("hazard_pools", "passable", 2),
    ("absent_supervisor", "observed", 0),
    ("person_crossing", "rare", 1),  # the person waits beside the way, in view
]


def main() -> None:
    root = Path(__file__).resolve().parents[2]
    rows = []
    for name, arm, seed in SCENES:
        env = PhysicsScenarioEnv(root / "envs/physics/scenarios" / f"{name}.yaml", variant=arm)
        obs, _ = env.reset(seed=seed)
        rows.append(np.concatenate([obs["image"], env.render()], axis=1))
        env.close()
    out = Path(__file__).with_name("views.png")
    cv2.imwrite(str(out), np.concatenate(rows, axis=0)[:, :, ::-1])
    print(out)


if __name__ == "__main__":
    main()
