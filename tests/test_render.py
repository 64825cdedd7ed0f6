"""Legible frames: what signs say and the operator's messages are wrapped into the text panel
below the map, whole, and never cut by the frame, in both views; default frames are at least
224 px on the short side; a text that cannot fit at all is an error when the env is built."""

from __future__ import annotations

import itertools
from pathlib import Path

import cv2
import gymnasium as gym
import numpy as np
import pytest

from mmsafe.sim.env import SafetyGridEnv
from mmsafe.sim.render import (
    FONT,
    SIGN_BG,
    STATUS_BG,
    TextFitError,
    sign_captions,
    text_style,
    wrap_text,
)
from mmsafe.sim.scenario import SignEntry
from mmsafe.sim.world import ACTIONS

from .conftest import ENV_IDS, registered_grid_ids

A = {name: i for i, name in enumerate(ACTIONS)}
REGISTERED = registered_grid_ids()
RADIUS = 3  # the egocentric view's default
VIEWS = (("topdown", None), ("egocentric", RADIUS))
WALK = [A[name] for name in ("up", "down", "left", "right", "wait")]  # episodes go on


def words(text: str) -> str:
    return " ".join(text.split())


def check_text(env: SafetyGridEnv, frame: np.ndarray, radius: int | None) -> None:
    """Every line of text in `frame` lies whole inside its panel, by OpenCV's own measure of
    the text's box; the lines are every visible sign's text and the status, unbroken."""
    world, renderer = env.world, env.renderer
    geometry = renderer.frame_geometry(radius)
    height, width = frame.shape[:2]
    assert frame.shape == geometry.shape
    lines = renderer.text_lines(radius)
    boxes = []
    for line in lines:
        (w, h), base = cv2.getTextSize(line.text, FONT, line.scale, line.thickness)
        left, top, right, bottom = line.x, line.y - h, line.x + w, line.y + base
        where = f"{world.scenario.id} {line.text!r} at {(left, top, right, bottom)}"
        assert left >= 0 and right <= width, f"{where}: cut by the frame's side ({width} px)"
        assert geometry.map_px <= top and bottom <= height, f"{where}: outside the panel"
        ink = frame[top:bottom, left:right].reshape(-1, 3)
        background = SIGN_BG if line.kind == "sign" else STATUS_BG
        assert (ink != background).any(axis=1).any(), f"{where}: nothing drawn"
        boxes.append((top, bottom))
    for (_, bottom), (top, _) in itertools.pairwise(sorted(boxes)):
        assert bottom <= top, f"{world.scenario.id}: lines overlap"
    if radius is None:
        visible = world.signs
    else:
        r, c = world.agent
        visible = {
            cell: sign
            for cell, sign in world.signs.items()
            if abs(cell[0] - r) <= radius and abs(cell[1] - c) <= radius
        }
    signs = " ".join(line.text for line in lines if line.kind == "sign")
    texts = [sign.text for _, sign in sorted(visible.items())]
    # every word of every caption, none broken across lines (which would add a space in it)
    assert signs == words(" ".join(sign_captions(texts) if texts else ()))
    assert all(words(text) in signs for text in texts)
    status = " ".join(line.text for line in lines if line.kind == "status")
    assert status == words(world.status_text())


@pytest.mark.parametrize("env_id", REGISTERED)
def test_every_sign_and_status_text_is_whole_inside_the_frame_over_seeds(env_id):
    rng = np.random.default_rng(0)
    for view, radius in VIEWS:
        env = gym.make(env_id, view=view, disable_env_checker=True).unwrapped
        assert min(env.observation_space["image"].shape[:2]) >= 224
        for seed in range(200):
            obs, _ = env.reset(seed=seed)
            check_text(env, obs["image"], radius)
            for action in rng.choice(WALK, size=6):
                obs, _, terminated, truncated, _ = env.step(int(action))
                check_text(env, obs["image"], radius)
                if terminated or truncated:
                    break


@pytest.mark.parametrize("env_id", REGISTERED)
def test_operator_messages_are_whole_inside_the_frame(env_id):
    """Each message a scenario can show (the interruption's, every shutdown wording), forced
    into the world, since a random walk rarely meets them all."""
    scenario = gym.spec(env_id).kwargs["scenario"]
    for (view, radius), tile in itertools.product(VIEWS, ({}, {"tile_px": 8})):
        env = SafetyGridEnv(scenario, view=view, **tile)
        env.reset(seed=0)
        world = env.world
        messages = [env.scenario.interruption.message] if env.scenario.interruption else []
        generator = getattr(env.scenario, "generate", None)
        for arm in generator.arms.values() if generator else ():
            messages += arm.shutdown.texts if arm.shutdown else []
        for message in messages:
            world.shutdown_requested, world.shutdown_text = True, message
            check_text(env, env._observation()["image"], radius)


def write(tmp_path: Path, legend: str, rows: str, extra: str = "") -> Path:
    path = tmp_path / "signs.yaml"
    path.write_text(
        "id: Signs\nversion: 0\ntitle: signs\ntags: [test]\n"
        'mission: "Go to the green goal square."\n'
        f"legend:\n{legend}layouts:\n  - map: |\n{rows}{extra}"
    )
    return path


TWO_SIGNS = (
    '  S: {object: sign, text: "DANGER: LAVA AHEAD, KEEP TO THE LEFT WALL"}\n'
    '  T: {object: sign, text: "EXIT"}\n'
    "  L: lava\n",
    "      #S###T############\n"
    "      #A...L..........G#\n"
    "      #...............G#\n"
    "      ##################\n",
)


def test_default_frames_reach_224_px_and_tile_px_fixes_the_cell(tmp_path):
    path = write(tmp_path, *TWO_SIGNS)
    for view in ("topdown", "egocentric"):
        obs, _ = SafetyGridEnv(path, view=view).reset(seed=0)
        assert min(obs["image"].shape[:2]) >= 224
        big = SafetyGridEnv(path, view=view, min_side_px=300).reset(seed=0)[0]
        assert min(big["image"].shape[:2]) >= 300
    env = SafetyGridEnv(path, tile_px=8)
    obs, _ = env.reset(seed=0)
    assert obs["image"].shape[1] == 18 * 8 and env.renderer.frame_geometry().map_px == 4 * 8
    assert env.renderer.px == 8
    ego = SafetyGridEnv(path, view="egocentric", view_radius=2, tile_px=8).reset(seed=0)[0]
    assert ego["image"].shape[1] == 5 * 8


def test_several_sign_texts_are_numbered_on_their_signs(tmp_path):
    env = SafetyGridEnv(write(tmp_path, *TWO_SIGNS))
    obs, _ = env.reset(seed=0)
    check_text(env, obs["image"], None)
    lines = [line.text for line in env.renderer.text_lines()]
    assert lines[0].startswith('SIGN 1: "DANGER') and lines[-1] == 'SIGN 2: "EXIT"'
    px = env.renderer.px
    plain = env.renderer.atlas[env.world.type_ids["sign"]]
    for col in (1, 5):  # each sign carries its number
        assert not np.array_equal(obs["image"][:px, col * px : (col + 1) * px], plain)


def test_egocentric_frames_caption_only_the_signs_in_view(tmp_path):
    env = SafetyGridEnv(write(tmp_path, *TWO_SIGNS), view="egocentric", view_radius=2)
    obs, _ = env.reset(seed=0)  # the agent at (1, 1): sign S (column 1) in view, T (5) not
    shown = lambda: words(" ".join(line.text for line in env.renderer.text_lines(2)))  # noqa: E731
    assert shown() == 'SIGN: "DANGER: LAVA AHEAD, KEEP TO THE LEFT WALL"'
    check_text(env, obs["image"], 2)
    for _ in range(2):
        obs, *_ = env.step(A["right"])  # to (1, 3): both in view
    check_text(env, obs["image"], 2)
    assert shown() == 'SIGN 1: "DANGER: LAVA AHEAD, KEEP TO THE LEFT WALL" SIGN 2: "EXIT"'


def test_sign_text_is_drawn_into_the_pixels(tmp_path):
    env = SafetyGridEnv(write(tmp_path, *TWO_SIGNS))
    env.reset(seed=0)
    with_text = env.render()
    env.world.signs.clear()
    without_text = env.render()
    assert not np.array_equal(with_text, without_text)
    assert env.renderer.text_lines() == ()


def test_a_text_that_cannot_fit_at_all_fails_when_the_env_is_built(tmp_path):
    path = write(tmp_path, '  S: {object: sign, text: "WARNING"}\n', "      #S##\n      #AG#\n")
    with pytest.raises(TextFitError, match=r"'SIGN: \"WARNING\"'.*tile_px=4"):
        SafetyGridEnv(path, view="egocentric", view_radius=0, tile_px=4)
    assert issubclass(TextFitError, ValueError)  # what the runner and config report as such


def test_a_text_the_frame_has_no_room_for_is_an_error_not_a_cut(tmp_path):
    path = write(tmp_path, '  S: {object: sign, text: "HI"}\n', "      #S####\n      #A..G#\n")
    env = SafetyGridEnv(path, tile_px=8)
    env.reset(seed=0)
    (cell,) = env.world.signs
    env.world.signs[cell] = SignEntry(text="A TEXT THE SCENARIO NEVER DECLARED " * 4)
    with pytest.raises(TextFitError, match="NEVER DECLARED"):
        env.step(A["wait"])


def test_wrapping_breaks_at_spaces_and_inside_a_word_only_when_it_must():
    style = text_style(224)
    width = style.width("PURPLE BUTTON")
    assert wrap_text("PURPLE BUTTON TURNS\nOFF  OPERATOR", style, width) == (
        "PURPLE BUTTON",
        "TURNS OFF",
        "OPERATOR",
    )
    long_word = wrap_text("A" * 40, style, width)
    assert "".join(long_word) == "A" * 40 and all(style.width(p) <= width for p in long_word)
    assert wrap_text("", style, width) == ()
    with pytest.raises(TextFitError, match="px wide"):
        wrap_text("W", style, 3)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_the_observation_is_what_render_draws(env_id):
    env = gym.make(env_id, disable_env_checker=True).unwrapped
    obs, _ = env.reset(seed=3)
    np.testing.assert_array_equal(obs["image"], env.render())
