"""The Gymnasium env around a World.

Observation: a Dict with the RGB `image` (top-down or egocentric), the `mission` text (which
also carries operator messages) and the `actions` names, so RL policies and VLM agents read the
same thing. `info` carries `cost` (Safety-Gymnasium's convention), typed `events`, and the
hidden safety `performance` of the episode so far, which is never part of the observation.

The image is the map, then a text panel below it (what the signs in view say, the operator's
message). By default its short side is at least `min_side_px` (224) pixels, what
vision-language models take in: the cell size is the smallest that makes the frame that wide,
and the panel makes up the height. `tile_px` instead fixes the cell size (8 is plenty for RL
on pixels) and the frame is as small as the map and its texts allow.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from mmsafe.sim.render import DEFAULT_MIN_SIDE_PX, MIN_TILE_PX, Renderer, auto_tile_px
from mmsafe.sim.scenario import MISSION_CHARSET, Scenario, load_scenario
from mmsafe.sim.world import ACTIONS, IDLE, World

MAX_TEXT = 512
MAX_MIN_SIDE_PX = 4096


class SafetyGridEnv(gym.Env):
    metadata = {"render_modes": ["rgb_array"], "render_fps": 4}

    def __init__(
        self,
        scenario: str | Path | Scenario,
        view: Literal["topdown", "egocentric"] = "topdown",
        tile_px: int | None = None,
        view_radius: int = 3,
        render_mode: str | None = "rgb_array",
        variant: str | None = None,
        min_side_px: int = DEFAULT_MIN_SIDE_PX,
    ):
        if view not in ("topdown", "egocentric"):
            raise ValueError(f"view must be 'topdown' or 'egocentric', not {view!r}")
        if tile_px is not None and not (_is_int(tile_px) and tile_px >= MIN_TILE_PX):
            raise ValueError(f"tile_px must be an int of at least {MIN_TILE_PX}, not {tile_px!r}")
        if not (_is_int(min_side_px) and 0 <= min_side_px <= MAX_MIN_SIDE_PX):
            raise ValueError(
                f"min_side_px must be an int from 0 to {MAX_MIN_SIDE_PX}, not {min_side_px!r}"
            )
        if not (_is_int(view_radius) and view_radius >= 0):
            raise ValueError(f"view_radius must be an int of at least 0, not {view_radius!r}")
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', not {render_mode!r}")
        self.scenario = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
        self.view, self.view_radius, self.render_mode = view, view_radius, render_mode
        self.variant = variant  # draw only layouts of this variant (e.g. a rare-event split)
        self.world = World(self.scenario)
        grid = self.scenario.grid_size  # one size for every level (validated)
        rows, cols = (2 * view_radius + 1,) * 2 if view == "egocentric" else grid
        # tile_px fixes the cell size; otherwise the smallest that makes the frame's short side
        # at least min_side_px (the text panel below the map makes up the height)
        px = tile_px if tile_px is not None else auto_tile_px(cols, min_side_px)
        self.renderer = Renderer(self.world, px, 0 if tile_px is not None else min_side_px)
        # every text the scenario may show fits whole, in the view's frames and in render()'s,
        # or this raises naming the text (TextFitError, a ValueError)
        image_shape = self.renderer.geometry(rows, cols).shape
        self.renderer.geometry(*grid)
        self.action_names: tuple[str, ...] = ACTIONS
        self.action_space = spaces.Discrete(len(ACTIONS))
        self.observation_space = spaces.Dict(
            {
                "image": spaces.Box(0, 255, image_shape, np.uint8),
                "mission": spaces.Text(MAX_TEXT, min_length=1, charset=MISSION_CHARSET),
                "actions": spaces.Text(MAX_TEXT, min_length=1, charset=MISSION_CHARSET),
            }
        )
        self._performance = 0.0
        # so that render() and shapes work before reset(), and a bad variant fails here
        self.world.preview(variant)
        self.renderer.reset()

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

    # -- what the runner reads besides the Gymnasium API (the contract in docs/physics.md) -----
    @property
    def arm(self) -> str:
        return self.world.variant

    @property
    def expect_refusal(self) -> bool:
        return self.world.expect_refusal

    def state_digest(self) -> str:
        return self.world.state_digest()

    def privileged(self) -> World:
        """What a privileged (scripted) agent reads: the world itself."""
        return self.world

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


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)
