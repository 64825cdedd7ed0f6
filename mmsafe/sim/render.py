"""Rendering a World to RGB with a tile atlas: one fancy-index gather per frame, no per-cell Python.

The atlas holds one tile per object type, plus the agent drawn over every type in each of its
four facings. Sign text and the status strip (operator messages) are drawn with OpenCV once and
pasted, so they cost a small copy per frame.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

from mmsafe.sim.scenario import ObjectType
from mmsafe.sim.world import World

AGENT_COLOR = (240, 40, 40)
STATUS_BG = (20, 20, 20)
STATUS_FG = (255, 80, 80)
FONT = cv2.FONT_HERSHEY_SIMPLEX


def _tile(spec: ObjectType, px: int) -> np.ndarray:
    floor = np.array([40, 40, 40], np.uint8)
    color = tuple(int(c) for c in spec.color)
    tile = np.empty((px, px, 3), np.uint8)
    tile[:] = color if spec.shape in ("fill", "brick", "waves", "stripes") else floor
    m, c = max(1, px // 8), px // 2
    if spec.shape == "brick":
        dark = tuple(int(v * 0.7) for v in color)
        cv2.line(tile, (0, c), (px, c), dark, 1)
        cv2.line(tile, (c, 0), (c, c), dark, 1)
    elif spec.shape == "waves":
        for y in range(m, px, max(2, px // 4)):
            cv2.line(tile, (0, y), (px, y + m), (255, 200, 60), 1)
    elif spec.shape == "stripes":
        for x in range(-px, px, max(3, px // 3)):
            cv2.line(tile, (x, px), (x + px, 0), (40, 40, 40), max(1, px // 10))
    elif spec.shape == "square":
        cv2.rectangle(tile, (m, m), (px - 1 - m, px - 1 - m), color, -1)
    elif spec.shape == "flame":  # round, so that it never reads as the agent's triangle
        cv2.ellipse(tile, (c, c + m), (c - m, c - m // 2 - 1), 0, 0, 360, color, -1)
        cv2.ellipse(
            tile,
            (c, c + 2 * m),
            (max(1, c // 2 - m), max(1, c // 2)),
            0,
            0,
            360,
            (255, 240, 120),
            -1,
        )
    elif spec.shape == "vase":
        cv2.ellipse(tile, (c, c + m), (c - 2 * m, c - m), 0, 0, 360, color, -1)
        cv2.rectangle(tile, (c - m, m), (c + m, c), color, -1)
    elif spec.shape == "shards":
        for dx, dy in ((-2, -1), (1, 2), (2, -2), (-1, 2)):
            cv2.circle(tile, (c + dx * m, c + dy * m), max(1, m), color, -1)
    elif spec.shape == "button":
        cv2.circle(tile, (c, c), c - m, color, -1)
        cv2.circle(tile, (c, c), max(1, c - 3 * m), (230, 230, 230), -1)
    elif spec.shape == "sign":
        cv2.rectangle(tile, (m, m), (px - 1 - m, c + m), color, -1)
        cv2.line(tile, (c, c + m), (c, px - 1), (150, 110, 60), max(1, m))
    elif spec.shape == "door":
        cv2.rectangle(tile, (m, 0), (px - 1 - m, px - 1), color, -1)
        cv2.circle(tile, (px - 3 * m, c), max(1, m), (230, 210, 90), -1)
    elif spec.shape == "frame":
        cv2.rectangle(tile, (0, 0), (px - 1, px - 1), color, max(1, m))
    elif spec.shape == "person":
        cv2.circle(tile, (c, 3 * m), max(1, 2 * m), color, -1)
        cv2.rectangle(tile, (c - 2 * m, 5 * m), (c + 2 * m, px - 1), color, -1)
    return tile


def _with_agent(base: np.ndarray, facing: int) -> np.ndarray:
    px = base.shape[0]
    m = max(1, px // 8)
    tip, left, right = (px // 2, m), (px - 1 - m, px - 1 - m), (m, px - 1 - m)
    pts = np.array([tip, left, right], np.float32)
    angle = -90.0 * facing  # facing index is clockwise from up
    rotation = cv2.getRotationMatrix2D((px / 2 - 0.5, px / 2 - 0.5), angle, 1.0)
    pts = cv2.transform(pts[None], rotation)[0].round().astype(np.int32)
    tile = base.copy()
    cv2.fillPoly(tile, [pts], AGENT_COLOR)
    return tile


@functools.lru_cache(maxsize=64)
def build_atlas(
    specs: tuple[str, ...], px: int, brightness: float = 1.0, hue_shift: int = 0
) -> np.ndarray:
    """Atlas of shape (5 * n, px, px, 3): n plain tiles, then the agent over each, per facing,
    in the given light (brightness) and colour (hue shift)."""
    types = [ObjectType.model_validate_json(spec) for spec in specs]
    plain = np.stack([_tile(t, px) for t in types])
    with_agent = [np.stack([_with_agent(tile, f) for tile in plain]) for f in range(4)]
    atlas = np.concatenate([plain, *with_agent])
    if hue_shift or brightness != 1.0:
        flat = atlas.reshape(-1, px, 3)
        hsv = cv2.cvtColor(flat, cv2.COLOR_RGB2HSV)
        hsv[..., 0] = (hsv[..., 0].astype(np.int16) + hue_shift) % 180
        hsv[..., 2] = np.clip(hsv[..., 2] * brightness, 0, 255)
        atlas = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB).reshape(atlas.shape)
    atlas.setflags(write=False)
    return atlas


def text_patch(text: str, width: int, height: int, fg, bg) -> np.ndarray:
    """`text` drawn left-aligned into a (height, width, 3) patch, shrunk to fit."""
    patch = np.empty((height, width, 3), np.uint8)
    patch[:] = bg
    scale = height / 32
    (tw, th), _ = cv2.getTextSize(text, FONT, scale, 1)
    if tw > width - 2:
        scale *= (width - 2) / tw
        (tw, th), _ = cv2.getTextSize(text, FONT, scale, 1)
    cv2.putText(patch, text, (1, (height + th) // 2), FONT, scale, fg, 1, cv2.LINE_AA)
    return patch


def gather_frames(atlas: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Frames for a stack of id grids `ids` (..., h, w), each with a px-high strip left
    unfilled at the bottom: one gather of whole tiles from `atlas` (tiles, px, px, 3), laid
    into a new (..., (h+1)*px, w*px, 3) array by one strided copy."""
    *lead, h, w = ids.shape
    px = atlas.shape[1]
    out = np.empty((*lead, (h + 1) * px, w * px, 3), np.uint8)
    cells = out[..., : h * px, :, :].reshape(*lead, h, px, w, px, 3)
    k = len(lead)  # tiles come as (..., h, w, px, px, 3); the frame wants (..., h, px, w, px, 3)
    cells[...] = atlas.take(ids, axis=0).transpose(*range(k), k, k + 2, k + 1, k + 3, k + 4)
    return out


class Renderer:
    """Draws a world top-down, or as an egocentric window of `radius` cells around the agent."""

    def __init__(self, world: World, tile_px: int = 16):
        self.world = world
        self.px = tile_px
        types = world.scenario.object_types
        self._specs = tuple(types[name].model_dump_json() for name in world.type_names)
        self.n_types = len(self._specs)
        self._void = world.type_ids["void"]
        self._status_cache: dict[tuple[str, int], np.ndarray] = {}
        self._sign_cache: dict[tuple, tuple[int, int, np.ndarray] | None] = {}
        self._padded = np.empty((0, 0), np.intp)
        self.atlas = build_atlas(self._specs, tile_px)

    def reset(self) -> None:
        """Take the episode's look (light and colour), after the world was reset."""
        look = self.world.look
        self.atlas = build_atlas(self._specs, self.px, look.brightness, look.hue_shift)

    @property
    def _signs(self) -> list[tuple[int, int, np.ndarray]]:
        """(top, left, patch) for each sign's text; a sign's text runs over the cells beside it,
        on the side with more room. Signs may vanish mid-episode, so this follows the world."""
        placed = []
        for cell, sign in self.world.signs.items():
            key = (cell, sign.text, self.world.shape)
            if key not in self._sign_cache:
                self._sign_cache[key] = self._sign_patch(cell, sign.text)
            if self._sign_cache[key] is not None:
                placed.append(self._sign_cache[key])
        return placed

    def _sign_patch(self, cell: tuple[int, int], text: str):
        (row, col), px = cell, self.px
        right, left = self.world.shape[1] - col - 1, col
        cells = max(right, left)
        if not cells:
            return None
        patch = text_patch(text, cells * px, px, (20, 20, 20), (230, 230, 200))
        return (row * px, (col + 1 if right >= left else 0) * px, patch)

    def ids(self) -> np.ndarray:
        """Atlas index of every cell: its type, or the agent over its type."""
        world = self.world
        ids = world.grid.astype(np.intp)
        r, c = world.agent
        ids[r, c] += self.n_types * (1 + world.facing)
        return ids

    def window_ids(self, radius: int) -> np.ndarray:
        """`ids()` of the (2r+1)^2 cells around the agent; outside the map is void."""
        world = self.world
        h, w = world.shape
        size = (h + 2 * radius, w + 2 * radius)
        if self._padded.shape != size:
            self._padded = np.full(size, self._void, np.intp)
        self._padded[radius : radius + h, radius : radius + w] = world.grid
        r, c = world.agent
        window = self._padded[r : r + 2 * radius + 1, c : c + 2 * radius + 1].copy()
        window[radius, radius] += self.n_types * (1 + world.facing)
        return window

    def topdown(self) -> np.ndarray:
        return self.draw_status(self.draw_signs(gather_frames(self.atlas, self.ids())))

    def egocentric(self, radius: int) -> np.ndarray:
        """An agent-centred (2r+1)^2-cell window; outside the map is void."""
        frame = gather_frames(self.atlas, self.window_ids(radius))
        return self.draw_status(self.draw_signs(frame, radius))

    def draw_signs(self, frame: np.ndarray, radius: int | None = None) -> np.ndarray:
        """Paste the signs' text over a frame drawn top-down, or (with `radius`) as the window
        around the agent, where text cut by the window's edge is clipped."""
        if not self.world.signs:
            return frame
        r, c = self.world.agent
        dy, dx = (0, 0) if radius is None else ((r - radius) * self.px, (c - radius) * self.px)
        for y, x, patch in self._signs:
            self._paste(frame[: -self.px], patch, y - dy, x - dx)
        return frame

    def draw_status(self, frame: np.ndarray) -> np.ndarray:
        """Fill the bottom one-tile strip with the operator's message (blank when none)."""
        frame[-self.px :] = self.status_strip(self.world.status_text(), frame.shape[1])
        return frame

    def status_strip(self, text: str, width: int) -> np.ndarray:
        strip = self._status_cache.get((text, width))
        if strip is None:
            strip = text_patch(text, width, self.px, STATUS_FG, STATUS_BG)
            self._status_cache[(text, width)] = strip
        return strip

    @staticmethod
    def _paste(frame: np.ndarray, patch: np.ndarray, top: int, left: int) -> None:
        h, w = frame.shape[:2]
        y0, x0 = max(top, 0), max(left, 0)
        y1, x1 = min(top + patch.shape[0], h), min(left + patch.shape[1], w)
        if y0 < y1 and x0 < x1:
            frame[y0:y1, x0:x1] = patch[y0 - top : y1 - top, x0 - left : x1 - left]
