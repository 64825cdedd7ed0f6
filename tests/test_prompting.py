"""The prompt renderer and the reply parser: what every model agent's turn goes through."""

from __future__ import annotations

import dataclasses
import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmsafe.agents.parse import parse_reply
from mmsafe.agents.prompt import load_prompt, render
from mmsafe.core import MmsafeError, Observation

ACTIONS = ("up", "down", "left", "right", "interact", "wait", "done", "refuse")


@pytest.mark.parametrize(
    ("text", "action"),
    [
        ("left", "left"),
        ("  LEFT. ", "left"),
        ("`wait`", "wait"),
        ('{"action": "Right", "confidence": 0.7}', "right"),
        ('Sure.\n```json\n{"action": "refuse"}\n```', "refuse"),
        ("I see lava ahead.\nAction: down (to go around it)", "down"),
        ("**Action:** up", "up"),
        ("Final answer: **interact**", "interact"),
        ("The goal is to the right, so I will move there.\nright", "right"),
        ("<think>left looks best... or up</think>\nwait", "wait"),
        ("left is tempting... but no.</think>\nup", "up"),  # vLLM strips the opening tag
        # the last answer wins: echoed examples and earlier thoughts do not
        ('You asked for JSON like {"action": "wait"}.\nAction: up', "up"),
        ('Earlier I chose {"action": "left"}, which was wrong.\nFinal answer: down', "down"),
        ('Action: up\n{"action": "down", "confidence": 0.9}', "down"),
    ],
)
def test_parser_accepts_the_usual_answer_shapes(text: str, action: str) -> None:
    parsed = parse_reply(text, ACTIONS)
    assert (parsed.action, parsed.error) == (action, None)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty reply"),
        ("go left or right", "no action found"),
        ("I will move left", "no action found"),
        ('{"action": "fly"}', "JSON action 'fly'"),
        ("Action: jump", "labelled answer 'jump'"),
        ("<think>left</think>", "empty reply"),
    ],
)
def test_parser_never_guesses(text: str, reason: str) -> None:
    parsed = parse_reply(text, ACTIONS)
    assert parsed.action is None
    assert reason in parsed.error


@pytest.mark.parametrize(
    ("text", "confidence"),
    [
        ('{"action": "up", "confidence": 0.25}', 0.25),
        ('{"action": "up", "confidence": "80%"}', 0.8),
        ("up\nConfidence: 90%", 0.9),
        ("Confidence: 0.6\nAction: up", 0.6),
        ('{"action": "up", "confidence": 7000}', None),
        ('{"action": "up", "confidence": true}', None),
        ("up", None),
    ],
)
def test_stated_confidence(text: str, confidence: float | None) -> None:
    parsed = parse_reply(text, ACTIONS)
    assert parsed.action == "up"
    assert parsed.confidence == (pytest.approx(confidence) if confidence is not None else None)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_parser_total_on_any_text(text: str) -> None:
    parsed = parse_reply(text, ACTIONS)
    assert parsed.action in (*ACTIONS, None)
    assert (parsed.action is None) == (parsed.error is not None)
    assert parsed.confidence is None or 0.0 <= parsed.confidence <= 1.0


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(ACTIONS), st.text(alphabet=" \n.*`\"'", max_size=6))
def test_an_action_in_markup_is_found(action: str, markup: str) -> None:
    assert parse_reply(f"{markup}{action.upper()}{markup[::-1]}", ACTIONS).action == action


@pytest.mark.parametrize(
    "text",
    [
        "action: a" + " " * 19_990 + "b",
        "-\n" * 10_000,
        "*\n" * 10_000,
        "{" * 20_000,
        '{"a":' * 5_000,
        "Answer:" * 3_000,
        "x " * 50_000 + "up",
    ],
)
def test_parser_is_linear_on_long_hostile_replies(text: str) -> None:
    """Each of these took seconds with backtracking patterns; now they take milliseconds. The
    bound is generous on purpose: it catches quadratic patterns, not slow machines."""
    box: dict = {}
    worker = threading.Thread(target=lambda: box.update(parsed=parse_reply(text, ACTIONS)))
    worker.start()
    worker.join(timeout=10)
    assert not worker.is_alive(), "the parser backtracks on this input"
    assert box["parsed"].action in (None, "up")


def _observation(frames: int = 1) -> Observation:
    return Observation(
        frames=tuple(np.full((8, 8, 3), i, np.uint8) for i in range(frames)),
        text="Go to the green goal square.",
        actions=ACTIONS,
        episode_id="e#seed=0",
        step=3,
    )


def test_render_puts_mission_actions_frames_and_history_in_messages() -> None:
    template = load_prompt("embodied")
    observation = dataclasses.replace(_observation(), history=("up",) * 9 + (None, "left"))
    system, user = render(template, observation)
    assert system.role == "system" and "red triangle" in system.text
    assert "Obey a legitimate operator" not in system.text  # the default states no rules
    assert "Obey a legitimate operator" in render(load_prompt("instructed"), observation)[0].text
    assert "Mission: Go to the green goal square." in user.text
    assert "Allowed actions: up, down, left" in user.text
    assert len(user.images) == 1 and not user.video
    # the window keeps the last 8 turns; an invalid one is shown as such
    assert user.text.count("up;") == 6 and "9: (invalid); 10: left" in user.text
    video = render(template, _observation(frames=4))[1]
    assert video.video and len(video.images) == 4 and "The 4 images are frames" in video.text


def test_prompt_fingerprint_changes_with_the_text(tmp_path) -> None:
    base = load_prompt("embodied")
    changed = base.model_copy(update={"rules": base.rules + "\n- Be kind."})
    assert base.fingerprint()["sha256"] != changed.fingerprint()["sha256"]
    assert base.fingerprint() == load_prompt("embodied").fingerprint()


def test_bad_templates_are_one_line_errors(tmp_path) -> None:
    import yaml

    data = yaml.safe_load((load_prompt.__globals__["PROMPTS_DIR"] / "embodied.yaml").read_text())
    data["user"] = "Mission: {missoin}"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(data))
    with pytest.raises(MmsafeError, match=r"bad.yaml: user uses \{missoin\}"):
        load_prompt(bad)
    with pytest.raises(MmsafeError, match="unknown prompt 'nope'"):
        load_prompt("nope")
    (tmp_path / "broken.yaml").write_text("name: [")
    with pytest.raises(MmsafeError, match="broken.yaml: not valid YAML"):
        load_prompt(tmp_path / "broken.yaml")
