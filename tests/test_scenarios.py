from __future__ import annotations

import numpy as np
import pytest

from mmsafe.content import scenario_files
from mmsafe.core import MmsafeError
from mmsafe.sim.levels import generate_level
from mmsafe.sim.scenario import load_scenario

from .conftest import ROOT

GOOD = """
id: Tiny
title: tiny
tags: [test]
mission: "Go to the goal."
layouts:
  - map: |
      #####
      #A.G#
      #####
"""


def write(tmp_path, text, name="s.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_every_shipped_scenario_loads():
    files = scenario_files()
    assert len(files) >= 3
    for path in files:
        scenario = load_scenario(path)
        assert scenario.env_id.startswith("mmsafe/")


@pytest.mark.parametrize(
    "change, message",
    [
        (("#A.G#", "#A.X#"), "map characters ['X'] are not in the legend"),
        (("#A.G#", "#..G#"), "needs exactly one agent"),
        (("#A.G#", "#A.G##"), "different widths"),
        (("id: Tiny", "id: tiny"), "id"),
        (("tags: [test]", "tags: []"), "tags"),
        (
            ('mission: "Go to the goal."', 'mission: "Go \u2192 goal"'),
            "mission has characters outside printable ASCII",
        ),
        (
            ("layouts:", "legend: {S: {text: 'caf\u00e9'}}\nlayouts:"),
            "legend.S.text has characters outside",
        ),
        (("layouts:", "legend: {Z: unicorn}\nlayouts:"), "unknown object type 'unicorn'"),
        (("layouts:", "objects: {lava: {cost: 1}}\nlayouts:"), "bad object type"),
        (("layouts:", "max_steps: 0\nlayouts:"), "max_steps"),
    ],
)
def test_malformed_scenarios_name_file_and_problem(tmp_path, change, message):
    path = write(tmp_path, GOOD.replace(*change))
    with pytest.raises(MmsafeError) as caught:
        load_scenario(path)
    text = str(caught.value)
    assert str(path) in text and message in text
    assert "\n" not in text


def test_unreadable_and_non_yaml_files(tmp_path):
    with pytest.raises(MmsafeError, match="cannot read scenario file"):
        load_scenario(tmp_path / "missing.yaml")
    with pytest.raises(MmsafeError, match="not valid YAML at line"):
        load_scenario(write(tmp_path, "id: [unclosed\n"))
    with pytest.raises(MmsafeError, match="must be a YAML mapping"):
        load_scenario(write(tmp_path, "- a\n- b\n"))


def test_levels_are_seeded_and_randomised():
    scenario = load_scenario(ROOT / "tests" / "data" / "hand_drawn" / "hazard_lava.yaml")

    def level(seed):
        return generate_level(scenario, np.random.default_rng(seed))

    assert level(3).cells == level(3).cells and level(3).agent == level(3).agent
    layouts = {str(level(seed).cells) for seed in range(40)}
    assert len(layouts) > 10  # slots move the agent, the goal and the gap
    refusals = sum(level(seed).expect_refusal for seed in range(400))
    assert 30 < refusals < 90  # the no-gap layout has weight 0.15
    for seed in range(40):
        cells = level(seed)
        goals = sum(row.count("goal") for row in cells.cells)
        assert goals == 1


def test_user_scenarios_register_even_with_comments(tmp_path, monkeypatch):
    import gymnasium as gym

    from mmsafe.content import scenario_index
    from mmsafe.sim.registration import register_envs

    text = GOOD.replace("id: Tiny", "id: MyTiny   # a copy").replace(
        "title:", "version: 2  # v2\ntitle:"
    )
    write(tmp_path, text, "mine.yaml")
    monkeypatch.setenv("MMSAFE_ENVS_PATH", str(tmp_path))
    assert "mmsafe/MyTiny-v2" in register_envs()
    assert load_scenario(tmp_path / "mine.yaml").env_id == "mmsafe/MyTiny-v2"
    gym.make("mmsafe/MyTiny-v2").reset(seed=0)
    write(tmp_path, GOOD.replace("id: Tiny", "id: HazardLava\nversion: 1"), "clash.yaml")
    with pytest.raises(MmsafeError, match="both declare mmsafe/HazardLava-v1"):
        scenario_index()
    with pytest.warns(UserWarning, match="is taken by"):
        register_envs()


def test_sign_text_goes_in_the_panel_below_the_map(tmp_path):
    """A sign in the map's corner (no room beside it in the map) has its text whole in the
    panel below the map, inside the frame, and nothing written over the map's cells."""
    import cv2

    from mmsafe.sim.env import SafetyGridEnv
    from mmsafe.sim.render import FONT, SIGN_BG, gather_frames

    text = GOOD.replace("#####\n      #A.G#", "####S\n      #A.G#").replace(
        "layouts:", "legend: {S: {text: 'HI'}}\nlayouts:"
    )
    env = SafetyGridEnv(write(tmp_path, text), tile_px=8)
    env.reset(seed=0)
    frame, renderer = env.render(), env.renderer
    geometry = renderer.frame_geometry()
    assert geometry.map_px == 3 * 8 and frame.shape == geometry.shape
    # the map is its tiles alone: no text over the sign's neighbours (or anywhere on it)
    tiles = gather_frames(renderer.atlas, renderer.ids(), 0)
    assert np.array_equal(frame[: geometry.map_px], tiles)
    # the sign's text is one line in the panel, whole inside the frame, and drawn there
    (line,) = renderer.text_lines()
    assert (line.kind, line.text) == ("sign", 'SIGN: "HI"')
    (w, h), base = cv2.getTextSize(line.text, FONT, line.scale, line.thickness)
    left, top, right, bottom = line.x, line.y - h, line.x + w, line.y + base
    assert left >= 0 and right <= frame.shape[1]
    assert geometry.map_px <= top and bottom <= frame.shape[0]
    assert (frame[top:bottom, left:right] != SIGN_BG).any()
    env.world.signs.clear()  # without the sign's text: the same map, an empty panel
    bare = env.render()
    assert np.array_equal(bare[: geometry.map_px], frame[: geometry.map_px])
    assert not np.array_equal(bare[geometry.map_px :], frame[geometry.map_px :])
