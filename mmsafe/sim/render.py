"""Rendering a World to RGB with a tile atlas: one fancy-index gather per frame, no per-cell Python.

The atlas holds one tile per object type, plus the agent drawn over every type in each of its
four facings. Below the map, a text panel carries what the signs in view say (`SIGN: "..."`,
numbered on the signs where several texts show) and the operator's message, wrapped over as
many lines as they need at one legible size: the frame never cuts a text, and a text that
cannot fit at all is an error when the env is built. Each distinct panel is drawn with OpenCV
once and pasted, so text costs a copy per frame.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from mmsafe.sim.scenario import ObjectType, Scenario, SignEntry
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


def gather_frames(atlas: np.ndarray, ids: np.ndarray, panel_px: int) -> np.ndarray:
    """Frames for a stack of id grids `ids` (..., h, w), each with a `panel_px`-high text panel
    left unfilled below the map: one gather of whole tiles from `atlas` (tiles, px, px, 3), laid
    into a new (..., h*px + panel_px, w*px, 3) array by one strided copy."""
    *lead, h, w = ids.shape
    px = atlas.shape[1]
    out = np.empty((*lead, h * px + panel_px, w * px, 3), np.uint8)
    cells = out[..., : h * px, :, :].reshape(*lead, h, px, w, px, 3)
    k = len(lead)  # tiles come as (..., h, w, px, px, 3); the frame wants (..., h, px, w, px, 3)
    cells[...] = atlas.take(ids, axis=0).transpose(*range(k), k, k + 2, k + 1, k + 3, k + 4)
    return out


# -- text: what signs say and the operator's messages, in a panel below the map ---------------
SIGN_FG = (20, 20, 20)
SIGN_BG = (230, 230, 200)
MIN_TILE_PX = 4
DEFAULT_MIN_SIDE_PX = 224  # what vision-language models are given at the least
TEXT_SCALE_MAX = 0.5  # Hershey simplex at 0.5: capitals 14 px high, about 10 px a letter
TEXT_SCALE_MIN = 0.25  # capitals 7 px high: smaller is not text any more
TEXT_WIDTH_PER_SCALE = 448  # between the two, the scale is the frame's width over this
DESCENDERS = "gjpqy,;_()[]{}|"  # the glyphs reaching lowest below the baseline
SIDES = ("LEFT", "RIGHT", "TOP", "BOTTOM")  # what `{side}` in a generated sign's text becomes
PANELS_SHARED = 256  # drawn panels kept (a few MB), shared by every renderer
PANELS_OWN = 32  # each renderer's own references to them, looked up by content alone


class TextFitError(ValueError):
    """A text that cannot be drawn whole in the frame at its size."""


@dataclass(frozen=True)
class TextStyle:
    scale: float
    thickness: int
    cap: int  # a capital's height above the baseline
    descent: int  # the lowest glyph's depth below it
    pad: int  # above and below each line
    margin: int  # between the text and the panel's edges, and between its two blocks

    @property
    def line_px(self) -> int:
        return self.cap + self.descent + 2 * self.pad

    def width(self, text: str) -> int:
        return cv2.getTextSize(text, FONT, self.scale, self.thickness)[0][0]


@functools.lru_cache(maxsize=256)
def text_style(width_px: int) -> TextStyle:
    """The text style of a frame `width_px` wide: one legible size (as in a 224 px frame),
    smaller in narrower frames, down to the smallest that is still text."""
    scale = min(TEXT_SCALE_MAX, max(TEXT_SCALE_MIN, width_px / TEXT_WIDTH_PER_SCALE))
    (_, cap), descent = cv2.getTextSize("H" + DESCENDERS, FONT, scale, 1)
    return TextStyle(scale, 1, cap, descent, pad=max(1, cap // 4), margin=max(1, round(8 * scale)))


@functools.lru_cache(maxsize=4096)
def wrap_text(text: str, style: TextStyle, width_px: int) -> tuple[str, ...]:
    """`text` in lines no wider than `width_px`: broken at white space, and inside a word only
    where the word alone is wider than a line. Nothing is dropped but the white space; a glyph
    wider than a line raises TextFitError."""
    lines: list[str] = []
    line = ""
    for word in text.split():
        joined = f"{line} {word}" if line else word
        if style.width(joined) <= width_px:
            line = joined
            continue
        if line:
            lines.append(line)
        while style.width(word) > width_px:
            cut = next(
                (k for k in range(len(word) - 1, 0, -1) if style.width(word[:k]) <= width_px), 0
            )
            if not cut:
                wide = style.width(word[0])
                raise TextFitError(
                    f"the letter {word[0]!r} is {wide} px wide, a line {width_px} px"
                )
            lines.append(word[:cut])
            word = word[cut:]
        line = word
    if line:
        lines.append(line)
    return tuple(lines)


def sign_captions(texts: Sequence[str]) -> tuple[str, ...]:
    """The panel's line for each distinct sign text, in order: `SIGN: "..."`, or numbered
    (`SIGN 2: "..."`, the number drawn on the sign) where several texts show at once."""
    distinct = list(dict.fromkeys(texts))
    if len(distinct) == 1:
        return (sign_caption(distinct[0], None),)
    return tuple(sign_caption(text, n) for n, text in enumerate(distinct, 1))


def sign_caption(text: str, number: int | None) -> str:
    """One sign's line in the panel; the text-fit check measures the same lines."""
    return f'SIGN: "{text}"' if number is None else f'SIGN {number}: "{text}"'


def scenario_texts(scenario: Scenario) -> tuple[list[list[tuple[str, ...]]], list[str]]:
    """What a scenario's frames may have to show: for each layout (or generated arm), its signs,
    each as the texts it may carry; and the operator's messages, shown one at a time."""
    legend = scenario.full_legend()
    sets: list[list[tuple[str, ...]]] = []
    for layout in scenario.layouts:
        entries = [legend.get(char) for char in dict.fromkeys(layout.map)]
        texts = dict.fromkeys(e.text for e in entries if isinstance(e, SignEntry))
        sets.append([(text,) for text in texts])
    statuses = [scenario.interruption.message] if scenario.interruption else []
    generator = getattr(scenario, "generate", None)
    if generator is not None:
        for arm in generator.arms.values():
            signs = [*generator.signs, *arm.signs]
            sets.append([tuple(_with_sides(sign.texts)) for sign in signs])
            if arm.shutdown is not None:
                statuses += arm.shutdown.texts
    if getattr(scenario, "show_score", False):
        # about as wide as its scores get; a wider one is checked as it is drawn, like any text
        statuses.append(f"SCORE: {-(scenario.max_steps * abs(scenario.step_reward) + 100):.2f}")
    return sets, statuses


def _with_sides(texts: Sequence[str]) -> list[str]:
    return [t.replace("{side}", s) for t in texts for s in (SIDES if "{side}" in t else ("",))]


@dataclass(frozen=True)
class Geometry:
    """A frame's layout: `rows` x `cols` cells of `px` pixels, then the text panel below them,
    `panel_px` high: sign captions from its top, the operator's message at its bottom."""

    rows: int
    cols: int
    px: int
    panel_px: int
    style: TextStyle

    @property
    def map_px(self) -> int:
        return self.rows * self.px

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.map_px + self.panel_px, self.cols * self.px, 3)

    @property
    def text_px(self) -> int:
        """The width a line of text may take."""
        return self.cols * self.px - 2 * self.style.margin


def panel_height(style: TextStyle, sign_lines: int, status_lines: int) -> int:
    blocks = [n * style.line_px for n in (sign_lines, status_lines) if n]
    return sum(blocks) + (len(blocks) + 1) * style.margin if blocks else 0


@dataclass(frozen=True)
class PlacedLine:
    """One line of text as drawn: its baseline starts at (x, y) in the frame."""

    text: str
    x: int
    y: int
    kind: str  # "sign" or "status"
    scale: float
    thickness: int


def layout_panel(
    geometry: Geometry, captions: Sequence[str], status: str
) -> tuple[PlacedLine, ...]:
    """Where each line of the captions (from the panel's top) and of the status (at its
    bottom) goes; TextFitError where they need more room than the panel has."""
    style, width = geometry.style, geometry.text_px
    sign_lines = [line for caption in captions for line in wrap_text(caption, style, width)]
    status_lines = wrap_text(status, style, width) if status else ()
    need = panel_height(style, len(sign_lines), len(status_lines))
    if need > geometry.panel_px:
        raise TextFitError(
            f"these texts need a panel {need} px high and the frame has {geometry.panel_px} px: "
            f"{[*captions, status]}"
        )
    placed = []
    top = geometry.map_px + style.margin
    for i, line in enumerate(sign_lines):
        y = top + i * style.line_px + style.pad + style.cap
        placed.append(PlacedLine(line, style.margin, y, "sign", style.scale, style.thickness))
    top = geometry.shape[0] - style.margin - len(status_lines) * style.line_px
    for i, line in enumerate(status_lines):
        y = top + i * style.line_px + style.pad + style.cap
        placed.append(PlacedLine(line, style.margin, y, "status", style.scale, style.thickness))
    return tuple(placed)


def draw_panel(geometry: Geometry, lines: Sequence[PlacedLine]) -> np.ndarray:
    """The panel (panel_px, width, 3) with `lines` drawn: sign lines dark on a light band, the
    operator's lines light red on the dark panel."""
    style = geometry.style
    panel = np.empty((geometry.panel_px, geometry.shape[1], 3), np.uint8)
    panel[:] = STATUS_BG
    for line in lines:
        y = line.y - geometry.map_px
        color = STATUS_FG
        if line.kind == "sign":
            top = y - style.cap - style.pad
            panel[top : top + style.line_px] = SIGN_BG
            color = SIGN_FG
        cv2.putText(
            panel, line.text, (line.x, y), FONT, line.scale, color, line.thickness, cv2.LINE_AA
        )
    return panel


@functools.lru_cache(maxsize=PANELS_SHARED)
def panel(
    geometry: Geometry, captions: tuple[str, ...], status: str
) -> tuple[np.ndarray, tuple[PlacedLine, ...]]:
    """The panel drawn (read-only) and its lines, laid out by `layout_panel`."""
    lines = layout_panel(geometry, captions, status)
    drawn = draw_panel(geometry, lines)
    drawn.setflags(write=False)
    return drawn, lines


def auto_tile_px(cols: int, min_side_px: int) -> int:
    """The smallest cell size that makes a frame `cols` cells wide at least `min_side_px` wide
    (the text panel makes up the height)."""
    return max(MIN_TILE_PX, -(-min_side_px // cols))


class Renderer:
    """Draws a world top-down, or as an egocentric window of `radius` cells around the agent,
    each with the text panel below. With `min_side_px`, the panel is made high enough for the
    frame's height to reach it too."""

    def __init__(self, world: World, tile_px: int = 16, min_side_px: int = 0):
        self.world = world
        self.px = tile_px
        self.min_side_px = min_side_px
        types = world.scenario.object_types
        self._specs = tuple(types[name].model_dump_json() for name in world.type_names)
        self.n_types = len(self._specs)
        self._void = world.type_ids["void"]
        self._sign_sets, self._statuses = scenario_texts(world.scenario)
        self._geometries: dict[tuple[int, int], Geometry] = {}
        self._panels: dict[tuple, tuple[np.ndarray, tuple[PlacedLine, ...]]] = {}
        self._labels: dict[tuple[int, int], np.ndarray | None] = {}
        self._padded = np.empty((0, 0), np.intp)
        self.atlas = build_atlas(self._specs, tile_px)

    def reset(self) -> None:
        """Take the episode's look (light and colour), after the world was reset."""
        look = self.world.look
        atlas = build_atlas(self._specs, self.px, look.brightness, look.hue_shift)
        if atlas is not self.atlas:
            self.atlas = atlas
            self._labels.clear()

    # -- layout -----------------------------------------------------------------------------
    def geometry(self, rows: int, cols: int) -> Geometry:
        """The layout of a frame of `rows` x `cols` cells, checked once: every text the scenario
        may show fits whole, or TextFitError says which does not."""
        key = (rows, cols)
        if key not in self._geometries:
            self._geometries[key] = self._layout(rows, cols)
        return self._geometries[key]

    def frame_geometry(self, radius: int | None = None) -> Geometry:
        if radius is None:
            return self.geometry(*self.world.shape)
        return self.geometry(2 * radius + 1, 2 * radius + 1)

    def _layout(self, rows: int, cols: int) -> Geometry:
        width = cols * self.px
        style = text_style(width)
        line = width - 2 * style.margin
        sign_lines = 0
        for signs in self._sign_sets:
            numbered = len(signs) > 1
            lines = 0
            for n, texts in enumerate(signs, 1):
                lines += max(
                    len(self._wrap(sign_caption(t, n if numbered else None), style, line))
                    for t in texts
                )
            sign_lines = max(sign_lines, lines)
        status_lines = max((len(self._wrap(t, style, line)) for t in self._statuses), default=0)
        panel = panel_height(style, sign_lines, status_lines)
        panel = max(panel, self.min_side_px - rows * self.px)
        return Geometry(rows, cols, self.px, panel, style)

    def _wrap(self, text: str, style: TextStyle, width: int) -> tuple[str, ...]:
        try:
            return wrap_text(text, style, width)
        except TextFitError as error:
            raise TextFitError(
                f"{self.world.scenario.id}: {text!r} cannot be drawn whole in a frame "
                f"{width + 2 * style.margin} px wide (tile_px={self.px}): {error}; use a larger "
                "tile_px or a wider view"
            ) from None

    # -- drawing ----------------------------------------------------------------------------
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
        frame = gather_frames(self.atlas, self.ids(), self.frame_geometry().panel_px)
        return self.draw_text(frame)

    def egocentric(self, radius: int) -> np.ndarray:
        """An agent-centred (2r+1)^2-cell window; outside the map is void."""
        frame = gather_frames(
            self.atlas, self.window_ids(radius), self.frame_geometry(radius).panel_px
        )
        return self.draw_text(frame, radius)

    def visible_signs(self, radius: int | None = None) -> list[tuple[tuple[int, int], str]]:
        """(cell, text) of the signs in the frame, in reading order: all of them top-down, those
        in the window around the agent with `radius`. Signs may vanish mid-episode."""
        signs = self.world.signs
        if radius is not None:
            r, c = self.world.agent
            signs = {
                cell: sign
                for cell, sign in signs.items()
                if abs(cell[0] - r) <= radius and abs(cell[1] - c) <= radius
            }
        return sorted((cell, sign.text) for cell, sign in signs.items())

    def text_lines(self, radius: int | None = None) -> tuple[PlacedLine, ...]:
        """The lines of text the current frame carries, where they are drawn."""
        signs = self.visible_signs(radius)
        return self._panel(self.frame_geometry(radius), signs, self.world.status_text())[1]

    def draw_text(self, frame: np.ndarray, radius: int | None = None) -> np.ndarray:
        """Fill the panel below the map of a frame drawn top-down (or, with `radius`, as the
        window around the agent): the captions of the signs in it, and the operator's message;
        where several sign texts show, number their signs."""
        geometry = self.frame_geometry(radius)
        signs = self.visible_signs(radius)
        frame[geometry.map_px :] = self._panel(geometry, signs, self.world.status_text())[0]
        if len({text for _, text in signs}) > 1:
            self._number_signs(frame, signs, radius)
        return frame

    def _panel(self, geometry: Geometry, signs: list, status: str):
        texts = tuple(text for _, text in signs)
        key = (geometry.rows, geometry.cols, texts, status)  # a renderer's geometry follows
        drawn = self._panels.get(key)
        if drawn is None:
            try:
                drawn = panel(geometry, sign_captions(texts) if texts else (), status)
            except TextFitError as error:
                raise TextFitError(f"{self.world.scenario.id}: {error}") from None
            if len(self._panels) >= PANELS_OWN:
                self._panels.clear()
            self._panels[key] = drawn
        return drawn

    def _number_signs(self, frame: np.ndarray, signs: list, radius: int | None) -> None:
        numbers = {text: n for n, text in enumerate(dict.fromkeys(t for _, t in signs), 1)}
        world, px = self.world, self.px
        top, left = (0, 0)
        if radius is not None:
            top, left = world.agent[0] - radius, world.agent[1] - radius
        for cell, text in signs:
            if cell == world.agent:
                continue
            tile = self._label(int(world.grid[cell]), numbers[text])
            if tile is not None:
                y, x = (cell[0] - top) * px, (cell[1] - left) * px
                frame[y : y + px, x : x + px] = tile

    def _label(self, type_id: int, number: int) -> np.ndarray | None:
        """The tile of `type_id` with `number` drawn on it (None where tiles are too small)."""
        key = (type_id, number)
        if key not in self._labels:
            self._labels[key] = label_tile(self.atlas[type_id], str(number))
        return self._labels[key]


def label_tile(tile: np.ndarray, label: str) -> np.ndarray | None:
    """`tile` with `label` drawn whole, dark on a light patch, as large as the tile allows;
    None where the tile is too small for a legible label."""
    px = tile.shape[0]
    room = px - 4  # a pixel of the patch and one of the tile around the label, each side
    (w, h), base = cv2.getTextSize(label, FONT, 1.0, 1)
    scale = min(room / w, room / (h + base), TEXT_SCALE_MAX)
    while scale >= TEXT_SCALE_MIN:
        (w, h), base = cv2.getTextSize(label, FONT, scale, 1)
        if w <= room and h + base <= room:
            out = tile.copy()
            left, top = (px - w) // 2, (px - h - base) // 2
            cv2.rectangle(out, (left - 1, top - 1), (left + w, top + h + base), SIGN_BG, -1)
            cv2.putText(out, label, (left, top + h), FONT, scale, SIGN_FG, 1, cv2.LINE_AA)
            return out
        scale *= 0.9
    return None
