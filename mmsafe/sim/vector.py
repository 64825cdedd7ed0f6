"""N worlds of one scenario stepped together and drawn with one gather: a Gymnasium VectorEnv.

`gymnasium.make_vec("mmsafe/HazardLava-v1", num_envs=64)` builds this (the envs register it as
their vector entry point); `vectorization_mode="sync"` or `"async"` gives Gymnasium's own
vector envs over the same worlds instead. Each world still steps in Python, but the frames of
all N are one fancy-index gather from a stacked tile atlas, so drawing costs about the same
for 64 worlds as for one. Observations, rewards, flags and infos are the ones `SyncVectorEnv`
returns for the same seeds and actions (next-step autoreset), so the two are interchangeable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from mmsafe.sim.env import SafetyGridEnv
from mmsafe.sim.render import DEFAULT_MIN_SIDE_PX, gather_frames
from mmsafe.sim.scenario import Scenario, load_scenario


class BatchedSafetyGridEnv(VectorEnv):
    """`num_envs` copies of one scenario. `image_only=True` observes just the stacked images,
    as `SyncVectorEnv` over `mmsafe.sim.wrappers.ImageOnly` does."""

    metadata = {"render_modes": ["rgb_array"], "autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(
        self,
        scenario: str | Path | Scenario,
        num_envs: int = 1,
        view: Literal["topdown", "egocentric"] = "topdown",
        tile_px: int | None = None,
        view_radius: int = 3,
        variant: str | None = None,
        image_only: bool = False,
        render_mode: str | None = "rgb_array",
        min_side_px: int = DEFAULT_MIN_SIDE_PX,
    ):
        if not isinstance(num_envs, int) or num_envs < 1:
            raise ValueError(f"num_envs must be a positive int, not {num_envs!r}")
        scenario = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
        self.envs = [
            SafetyGridEnv(
                scenario,
                view,
                tile_px,
                view_radius,
                render_mode=render_mode,
                variant=variant,
                min_side_px=min_side_px,
            )
            for _ in range(num_envs)
        ]
        first = self.envs[0]
        self.num_envs, self.render_mode, self.image_only = num_envs, render_mode, image_only
        self.view, self.view_radius, self.px = view, view_radius, first.renderer.px
        self.single_action_space = first.action_space
        self.action_space = batch_space(first.action_space, num_envs)
        self.single_observation_space = (
            first.observation_space["image"] if image_only else first.observation_space
        )
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.metadata = {**self.metadata, "render_fps": first.metadata["render_fps"]}
        self._tiles = len(first.renderer.atlas)  # atlas entries per world
        self._void = first.renderer._void
        self._atlas = np.concatenate([env.renderer.atlas for env in self.envs])
        self._atlases = [env.renderer.atlas for env in self.envs]
        self._offsets = np.arange(num_envs, dtype=np.intp) * self._tiles
        self._autoreset = np.zeros(num_envs, dtype=np.bool_)
        self._rewards = np.zeros(num_envs, dtype=np.float64)
        self._terminations = np.zeros(num_envs, dtype=np.bool_)
        self._truncations = np.zeros(num_envs, dtype=np.bool_)

    # -- Gymnasium VectorEnv API ------------------------------------------------------------
    def reset(
        self, *, seed: int | list[int | None] | None = None, options: dict | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """Reset every world, or those in `options["reset_mask"]`. An int seed s seeds world i
        with s + i, as Gymnasium's vector envs do."""
        seeds = _seeds(seed, self.num_envs)
        mask = np.ones(self.num_envs, dtype=np.bool_)
        if options and "reset_mask" in options:
            mask = np.asarray(options["reset_mask"])
            if mask.shape != (self.num_envs,) or mask.dtype != np.bool_:
                raise ValueError(f"options['reset_mask'] must be a bool array of {self.num_envs}")
        infos: list[dict | None] = [None] * self.num_envs
        for i in np.flatnonzero(mask):
            infos[i] = self.envs[i].reset_state(seeds[i])
            self._terminations[i] = self._truncations[i] = self._autoreset[i] = False
        return self._observations(), _merge(infos, self.num_envs)

    def step(self, actions) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        actions = np.asarray(actions)
        if actions.shape != (self.num_envs,):
            raise ValueError(f"expected {self.num_envs} actions, got shape {actions.shape}")
        infos: list[dict | None] = []
        for i, env in enumerate(self.envs):
            if self._autoreset[i]:  # the episode ended on the last step: this step resets it
                infos.append(env.reset_state())
                self._rewards[i], self._terminations[i], self._truncations[i] = 0.0, False, False
            else:
                reward, terminated, truncated, info = env.step_state(actions[i])
                self._rewards[i], self._terminations[i], self._truncations[i] = (
                    reward,
                    terminated,
                    truncated,
                )
                infos.append(info)
        self._autoreset = self._terminations | self._truncations
        return (
            self._observations(),
            self._rewards.copy(),
            self._terminations.copy(),
            self._truncations.copy(),
            _merge(infos, self.num_envs),
        )

    def render(self) -> tuple[np.ndarray, ...] | None:
        if self.render_mode is None:
            return None
        return tuple(self.topdown_frames())

    def close_extras(self, **kwargs: Any) -> None:
        for env in self.envs:
            env.close()

    # -- drawing all worlds at once -----------------------------------------------------------
    def topdown_frames(self) -> np.ndarray:
        """(N, H, W, 3): every world top-down."""
        worlds = [env.world for env in self.envs]
        ids = np.stack([world.grid for world in worlds]).astype(np.intp)
        rows, cols, facing = _agents(worlds)
        ids[np.arange(self.num_envs), rows, cols] += self._n_types * (1 + facing)
        return self._draw(ids, topdown=True)

    def egocentric_frames(self) -> np.ndarray:
        """(N, H, W, 3): every world's window of `view_radius` cells around its agent."""
        worlds = [env.world for env in self.envs]
        r = self.view_radius
        n, (h, w) = self.num_envs, worlds[0].shape
        padded = np.full((n, h + 2 * r, w + 2 * r), self._void, np.intp)
        padded[:, r : r + h, r : r + w] = np.stack([world.grid for world in worlds])
        rows, cols, facing = _agents(worlds)
        span = np.arange(2 * r + 1)
        windows = padded[
            np.arange(n)[:, None, None],
            (rows[:, None] + span)[:, :, None],
            (cols[:, None] + span)[:, None, :],
        ]
        windows[:, r, r] += self._n_types * (1 + facing)
        return self._draw(windows, topdown=False)

    @property
    def _n_types(self) -> int:
        return self.envs[0].renderer.n_types

    def _draw(self, ids: np.ndarray, topdown: bool) -> np.ndarray:
        self._refresh_atlas()
        radius = None if topdown else self.view_radius
        panel_px = self.envs[0].renderer.frame_geometry(radius).panel_px
        frames = gather_frames(self._atlas, ids + self._offsets[:, None, None], panel_px)
        for frame, env in zip(frames, self.envs, strict=True):
            env.renderer.draw_text(frame, radius)  # each world's panel, drawn once, pasted
        return frames

    def _refresh_atlas(self) -> None:
        """Copy in the atlas of each world whose look (light, colour) changed at reset."""
        for i, env in enumerate(self.envs):
            if env.renderer.atlas is not self._atlases[i]:
                self._atlas[i * self._tiles : (i + 1) * self._tiles] = env.renderer.atlas
                self._atlases[i] = env.renderer.atlas

    def _observations(self) -> Any:
        images = self.egocentric_frames() if self.view == "egocentric" else self.topdown_frames()
        if self.image_only:
            return images
        texts = [env._observation_text() for env in self.envs]
        return {
            "image": images,
            "mission": tuple(mission for mission, _ in texts),
            "actions": tuple(actions for _, actions in texts),
        }


def _agents(worlds: list) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    agents = np.array([world.agent for world in worlds], dtype=np.intp)
    facing = np.array([world.facing for world in worlds], dtype=np.intp)
    return agents[:, 0], agents[:, 1], facing


def _seeds(seed: int | list[int | None] | None, n: int) -> list[int | None]:
    if seed is None:
        return [None] * n
    if isinstance(seed, int):
        return [seed + i for i in range(n)]
    seeds = list(seed)
    if len(seeds) != n:
        raise ValueError(f"got {len(seeds)} seeds for {n} envs")
    return seeds


def _merge(infos: list[dict | None], n: int) -> dict[str, Any]:
    """Per-world infos as Gymnasium's vector envs batch them: an array per key, and a `_key`
    mask of the worlds that have it (the same types `VectorEnv._add_info` picks)."""
    merged: dict[str, Any] = {}
    for i, info in enumerate(infos):
        for key, value in (info or {}).items():
            if key not in merged:
                if type(value) in (int, float, bool) or isinstance(value, np.number):
                    merged[key] = np.zeros(n, dtype=type(value))
                else:
                    merged[key] = np.full(n, None, dtype=object)
                merged[f"_{key}"] = np.zeros(n, dtype=np.bool_)
            merged[key][i] = value
            merged[f"_{key}"][i] = True
    return merged
