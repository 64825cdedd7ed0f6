"""The Gymnasium env around a World.

Observation: a Dict with the RGB `image` (top-down or egocentric), the `mission` text (which
also carries operator messages) and the `actions` names, so RL policies and VLM agents read the
same thing. `info` carries `cost` (Safety-Gymnasium's convention), typed `events`, and the
hidden safety `performance` of the episode so far, which is never part of the observation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from mmsafe.sim.render import Renderer
from mmsafe.sim.scenario import MISSION_CHARSET, Scenario, load_scenario
from mmsafe.sim.world import ACTIONS, IDLE, World

MAX_TEXT = 512


class SafetyGridEnv(gym.Env):
    metadata = {"render_modes": ["rgb_array"], "render_fps": 4}

    def __init__(
        self,
        scenario: str | Path | Scenario,
        view: Literal["topdown", "egocentric"] = "topdown",
        tile_px: int = 16,
        view_radius: int = 3,
        render_mode: str | None = "rgb_array",
        variant: str | None = None,
    ):
        if view not in ("topdown", "egocentric"):
            raise ValueError(f"view must be 'topdown' or 'egocentric', not {view!r}")
        if tile_px < 4:
            raise ValueError(f"tile_px must be at least 4, not {tile_px}")
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', not {render_mode!r}")
        self.scenario = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
        self.view, self.view_radius, self.render_mode = view, view_radius, render_mode
        self.variant = variant  # draw only layouts of this variant (e.g. a rare-event split)
        self.world = World(self.scenario)
        self.renderer = Renderer(self.world, tile_px)
        self.action_names: tuple[str, ...] = ACTIONS
        self.action_space = spaces.Discrete(len(ACTIONS))
        self.observation_space = spaces.Dict(
            {
                "image": spaces.Box(0, 255, self._image_shape(tile_px), np.uint8),
                "mission": spaces.Text(MAX_TEXT, min_length=1, charset=MISSION_CHARSET),
                "actions": spaces.Text(MAX_TEXT, min_length=1, charset=MISSION_CHARSET),
            }
        )
        self._performance = 0.0
        # so that render() and shapes work before reset(), and a bad variant fails here
        self.world.reset(np.random.default_rng(0), variant)
        self.renderer.reset()

    def _image_shape(self, px: int) -> tuple[int, int, int]:
        if self.view == "egocentric":
            side = (2 * self.view_radius + 1) * px
            return (side + px, side, 3)
        heights = {len(layout.map.strip("\n").split("\n")) for layout in self.scenario.layouts}
        widths = {len(layout.map.strip("\n").split("\n")[0]) for layout in self.scenario.layouts}
        if len(heights) != 1 or len(widths) != 1:
            raise ValueError(
                f"{self.scenario.id}: all layouts must have the same size for a fixed image shape"
            )
        return (heights.pop() * px + px, widths.pop() * px, 3)

    # -- Gymnasium API ------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        info = self.reset_state(seed)
        return self._observation(), info

    def step(self, action):
        reward, terminated, truncated, info = self.step_state(action)
        return self._observation(), reward, terminated, truncated, info

    def idle(self):
        """Pass a turn in which the agent did nothing valid (the runner's answer to an invalid
        reply). Time runs on, but idling neither waits out an operator's stop nor ignores it."""
        if self.world.done:
            raise RuntimeError("idle() called after the episode ended; call reset()")
        reward, terminated, truncated, info = self.idle_state()
        return self._observation(), reward, terminated, truncated, info

    def idle_state(self) -> tuple[float, bool, bool, dict[str, Any]]:
        """`idle` without drawing the observation (a replay needs none)."""
        if self.world.done:
            raise RuntimeError("idle() called after the episode ended; call reset()")
        return self._advance(IDLE)

    # -- the same without drawing, for the batched vector env, which draws all worlds at once --
    def reset_state(self, seed: int | None = None) -> dict[str, Any]:
        super().reset(seed=seed)
        self.world.reset(self.np_random, self.variant)
        self.renderer.reset()
        self._performance = 0.0
        return self._info(cost=0.0, events=[])

    def step_state(self, action) -> tuple[float, bool, bool, dict[str, Any]]:
        if isinstance(action, np.ndarray) and action.shape == ():
            action = action.item()
        if not (isinstance(action, (int, np.integer)) and 0 <= action < len(ACTIONS)):
            raise ValueError(f"invalid action {action!r}; expected an int in [0, {len(ACTIONS)})")
        if self.world.done:
            raise RuntimeError("step() called after the episode ended; call reset()")
        return self._advance(ACTIONS[int(action)])

    def _advance(self, action: str) -> tuple[float, bool, bool, dict[str, Any]]:
        result = self.world.step(action)
        self._performance += result.performance
        truncated = not result.terminated and self.world.t >= self.scenario.max_steps
        if truncated:
            self.world.done = True
        info = self._info(cost=result.cost, events=[event.model_dump() for event in result.events])
        if result.terminated or truncated:
            info["outcome"] = result.outcome or "timeout"
            info["success"] = result.success
            info["expect_refusal"] = self.world.expect_refusal  # revealed only at the end
            info["variant"] = self.world.variant
        return float(result.reward), result.terminated, truncated, info

    def render(self) -> np.ndarray | None:
        if self.render_mode is None:
            return None
        return self.renderer.topdown()

    # -- helpers --------------------------------------------------------------------------------
    def _observation(self) -> dict[str, Any]:
        image = (
            self.renderer.egocentric(self.view_radius)
            if self.view == "egocentric"
            else self.renderer.topdown()
        )
        mission, actions = self._observation_text()
        return {"image": image, "mission": mission, "actions": actions}

    def _observation_text(self) -> tuple[str, str]:
        return self.world.mission_text()[:MAX_TEXT], ", ".join(self.action_names)

    def _info(self, cost: float, events: list[dict]) -> dict[str, Any]:
        return {
            "cost": float(cost),
            "events": events,
            "performance": float(self._performance),
            "step": self.world.t,
        }
