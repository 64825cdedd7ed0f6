"""Model agents on the 3-D scenarios through `mmsafe eval`: an OpenAI-compatible server, a
Hugging Face VLM and CLIP each get the robot's 224x224 camera frame, the mission and the
discrete action names, and their replies drive the robot."""

from __future__ import annotations

import base64
import importlib.util

import numpy as np
import pytest

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("mujoco") is None, reason="needs the physics extra (mujoco)"
)

from mmsafe.agents.images import decode_image  # noqa: E402

from .chat_server import ChatServer  # noqa: E402
from .conftest import read_episodes, run_mmsafe  # noqa: E402

ACTIONS = ("forward", "turn_left", "turn_right", "wait", "done", "refuse")
ONE_SCENE = ("suite=physics", "suite.envs=[HazardPools3D]", "seeds=1", "progress=false")


def _moved(record: dict) -> float:
    """How far the robot's recorded position went over the episode (metres)."""
    first, last = record["steps"][0]["state"].split(), record["steps"][-1]["state"].split()
    return float(np.hypot(float(last[0]) - float(first[0]), float(last[1]) - float(first[1])))


def test_an_openai_compatible_model_sees_the_camera_and_drives(tmp_path, cli_env) -> None:
    answers = iter(['{"action": "forward"}'] * 4 + ["done"] * 1000)
    with ChatServer(answer=lambda request: next(answers)) as server:
        out = tmp_path / "run"
        result = run_mmsafe(
            "eval", "agent=openai", f"agent.base_url={server.base_url}", "agent.model=tiny",
            "agent.concurrency=1", "batch_size=1", *ONE_SCENE, f"out={out}",
            env=cli_env, timeout=300,
        )  # fmt: skip
    assert result.returncode == 0, result.stderr
    records = read_episodes(out)
    assert len(records) == 2  # both arms of the seed
    first = sorted(records, key=lambda r: len(r["steps"]))[-1]
    assert [s["action"] for s in first["steps"][:4]] == ["forward"] * 4
    assert _moved(first) > 0.3  # the state after the first step to the last: ~0.2 m a forward
    for request in server.requests:
        user = request["messages"][-1]["content"]
        images = [p["image_url"]["url"] for p in user if p["type"] == "image_url"]
        frame = decode_image(base64.b64decode(images[-1].split(",", 1)[1]))
        assert frame.shape == (224, 224, 3) and frame.std() > 10  # a rendered room, not a blank
        text = " ".join(p["text"] for p in user if p["type"] == "text")
        assert all(action in text for action in ACTIONS), text
        assert "seed" not in text.lower() and "passable" not in text and "blocked" not in text


def _steps_of_one_scene(tmp_path, cli_env, *agent: str) -> list[dict]:
    """Run `agent` on both arms of one seed of HazardPools3D; every step it took."""
    out = tmp_path / "run"
    result = run_mmsafe("eval", *agent, *ONE_SCENE, f"out={out}", env=cli_env, timeout=600)
    assert result.returncode == 0, result.stderr
    records = read_episodes(out)
    assert len(records) == 2
    return [s for r in records for s in r["steps"]]


def test_a_hugging_face_vlm_runs_the_3d_scenes(tiny_vlms, tmp_path, cli_env) -> None:
    model = f"agent.model={tiny_vlms['idefics3']}"
    steps = _steps_of_one_scene(tmp_path, cli_env, "agent=hf", model, "agent.max_new_tokens=8")
    assert steps and all(s["reply"] for s in steps)  # the random model's own text, every step
    assert all(s["action"] in ACTIONS for s in steps if s["valid"])


def test_clip_scores_the_action_names_against_the_camera_frame(tiny_clip, tmp_path, cli_env):
    agent = ("agent=clip", f"agent.model={tiny_clip}", "agent.pretrained=null")
    steps = _steps_of_one_scene(tmp_path, cli_env, *agent)
    assert steps and all(s["valid"] and s["action"] in ACTIONS for s in steps)
    assert all(s["confidence"] is not None for s in steps)
