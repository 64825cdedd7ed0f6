"""What the two kinds of MuJoCo env share: the robot's pose, frames from a named camera through
a renderer kept per size, and closing them."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from mmsafe.physics.backend import renderer as new_renderer


class MujocoEnv(gym.Env):
    """A subclass sets `mj`, `model`, `data`, `robot_body`, `render_mode` and `render_px`."""

    mj: Any
    model: Any
    data: Any
    robot_body: int
    render_px: int
    robot_geoms: set[int]
    _renderers: dict[int, Any]

    def render(self):
        if self.render_mode != "rgb_array":
            return None
        return self._frame("top", self.render_px)

    def close(self) -> None:
        for made in getattr(self, "_renderers", {}).values():
            made.close()
        self._renderers = {}

    def _robot_ids(self) -> None:
        """The robot's body and every geom of its subtree (a car's wheels too)."""
        model = self.model
        self.robot_body = model.body("robot").id
        root = model.body_rootid
        self.robot_geoms = {
            g for g in range(model.ngeom) if root[model.geom_bodyid[g]] == self.robot_body
        }

    def robot_xy(self) -> np.ndarray:
        return self.data.xpos[self.robot_body, :2].copy()

    def heading(self) -> float:
        x_axis = self.data.xmat[self.robot_body].reshape(3, 3)[:, 0]
        return float(np.arctan2(x_axis[1], x_axis[0]))

    def _frame(self, camera: str, px: int) -> np.ndarray:
        if not hasattr(self, "_renderers"):
            self._renderers = {}
        made = self._renderers.get(px)
        if made is None:
            made = self._renderers[px] = new_renderer(self.mj, self.model, px)
        made.update_scene(self.data, camera=camera)
        return made.render().copy()
