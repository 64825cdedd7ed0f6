"""The Hugging Face agent on tiny local models of two architecture families."""

from __future__ import annotations

import dataclasses
import json

import gymnasium as gym
import numpy as np
import pytest

from mmsafe.core import MmsafeError, Observation

from .conftest import read_episodes, run_mmsafe

pytest.importorskip("transformers")

from mmsafe.agents.hf import HFAgent  # noqa: E402

FAMILIES = ["idefics3", "qwen2_vl"]


def env_id(name: str) -> str:
    """The registered id of a shipped scenario, whatever its version."""
    from mmsafe.content import scenario_index

    return next(i for i in scenario_index() if i.startswith(f"mmsafe/{name}-v"))


def suite_units(suite: str, seeds: int) -> int:
    """How many units (scenario arms by seeds) `suite=SUITE seeds=N` runs."""
    from mmsafe.config import compose_config, run_config
    from mmsafe.run.units import env_units

    config = run_config(compose_config([f"suite={suite}", f"seeds={seeds}"]))
    return len(list(env_units(config.envs, config.seeds, config.env_kwargs)))


def env_observations(count: int, frames: int = 1) -> list[Observation]:
    out = []
    for seed in range(count):
        env = gym.make(env_id("HazardLava") if seed % 2 else env_id("FragileVase"))
        obs, _ = env.reset(seed=seed)
        out.append(
            Observation(
                frames=(obs["image"],) * frames,
                text=obs["mission"] + " " * seed * 7,  # prompts of different lengths
                actions=tuple(obs["actions"].split(", ")),
                episode_id=f"e{seed}",
            )
        )
    return out


@pytest.mark.parametrize("family", FAMILIES)
def test_batched_generation_matches_one_at_a_time(tiny_vlms, family) -> None:
    agent = HFAgent(model=str(tiny_vlms[family]), max_new_tokens=12, batch_size=8)
    observations = env_observations(3)
    conversations = [agent.messages(o) for o in observations]
    batched = agent.complete(conversations)
    alone = [agent.complete([c])[0] for c in conversations]
    assert batched == alone
    assert len(set(batched)) > 1  # different prompts, different outputs: the test can fail
    replies = agent.act_batch(observations)
    assert [r.text for r in replies] == batched
    for reply in replies:  # random weights: an invalid action, with the parser's reason
        assert reply.action in (*observations[0].actions, None)
        assert reply.action is not None or reply.error


@pytest.mark.parametrize("family", FAMILIES)
def test_a_follow_up_is_asked_in_the_same_conversation(tiny_vlms, family) -> None:
    """The chat template takes the earlier turns (the model's own answer, then the user's
    pushback) with the picture in the first turn; the follow-up changes what is generated."""
    agent = HFAgent(model=str(tiny_vlms[family]), max_new_tokens=8)
    image = env_observations(1)[0].frames
    first = Observation(
        frames=image, text="Is it red?", actions=("yes", "no"), kind="question", episode_id="q"
    )
    follow_up = Observation(
        frames=image,
        text="I am sure it is not. Final answer?",
        actions=("yes", "no"),
        kind="question",
        episode_id="q",
        step=1,
        dialogue=(("user", "Is it red?"), ("assistant", '{"answer": "yes"}')),
    )
    conversation = agent.messages(follow_up)
    assert [m.role for m in conversation] == ["system", "user", "assistant", "user"]
    texts = agent.complete([agent.messages(first), conversation])
    assert all(isinstance(t, str) for t in texts) and texts[0] != texts[1]


class SpyProcessor:
    """Passes everything to the real processor and keeps the media each call was given."""

    def __init__(self, processor):
        self.processor, self.calls = processor, []

    def __call__(self, **inputs):
        self.calls.append({k: inputs.get(k) for k in ("images", "videos")})
        return self.processor(**inputs)

    def __getattr__(self, name):
        return getattr(self.processor, name)


@pytest.mark.parametrize(("family", "mode"), [("idefics3", "images"), ("qwen2_vl", "video")])
def test_frames_go_in_as_the_family_expects(tiny_vlms, family, mode) -> None:
    agent = HFAgent(model=str(tiny_vlms[family]), max_new_tokens=6)
    agent.processor = SpyProcessor(agent.processor)
    clip, still = env_observations(2, frames=4)[0], env_observations(1)[0]
    replies = agent.act_batch([clip, still, clip])
    assert len(replies) == 3 and replies[0].text == replies[2].text
    assert agent.describe()["video_input"] == mode
    calls = agent.processor.calls
    if mode == "video":  # the clip as one video per prompt; the still frame as an image
        videos = [c for c in calls if c["videos"]]
        assert len(videos) == 1 and [len(v) for v in videos[0]["videos"]] == [4, 4]
        assert any(c["images"] == [[c["images"][0][0]]] for c in calls if c["images"])
    else:  # four images in one prompt
        sizes = sorted(len(sample) for c in calls for sample in c["images"])
        assert sizes == [1, 4, 4] and not any(c["videos"] for c in calls)


@pytest.mark.parametrize("family", FAMILIES)
def test_earlier_frames_go_in_as_images_beside_prompts_with_fewer(tiny_vlms, family) -> None:
    """An episode's earlier frames (memory) are images of their own, never a video, and a
    prompt with them batches with one that has none: the answers are those asked alone."""
    agent = HFAgent(model=str(tiny_vlms[family]), max_new_tokens=6, memory_frames=2)
    agent.processor = SpyProcessor(agent.processor)
    first, other = env_observations(2)
    steps = [dataclasses.replace(first, step=s, history=("wait",) * s) for s in range(4)]
    for step in steps[:3]:
        agent.act_batch([step])
    replies = agent.act_batch([steps[3], other])
    last = agent.processor.calls[-1]
    assert sorted(len(sample) for sample in last["images"]) == [1, 3] and not last["videos"]
    conversation = agent.messages(steps[3])
    assert "The first 2 images are earlier views" in conversation[-1].text
    assert [r.text for r in replies] == [
        agent.complete([conversation])[0],
        agent.complete([agent.messages(other)])[0],
    ]


def test_describe_records_generation_weights_and_prompt(tiny_vlms, tmp_path) -> None:
    agent = HFAgent(model=str(tiny_vlms["qwen2_vl"]), generation={"repetition_penalty": 1.1})
    fingerprint = agent.fingerprint()
    generation = fingerprint["generation"]
    assert generation["max_new_tokens"] == 64 and generation["do_sample"] is False
    assert generation["repetition_penalty"] == 1.1 and "eos_token_id" in generation
    assert fingerprint["weights"].startswith("local:") and fingerprint["dtype"] == "float32"
    assert fingerprint["prompt"]["name"] == "embodied"
    assert fingerprint["memory"] == {"frames": 4, "first_frame": True}
    # a copy with another chat template or generation default is another model
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(tiny_vlms["qwen2_vl"], copy)
    assert (
        HFAgent(model=str(copy)).describe()["weights"]
        == HFAgent(model=str(tiny_vlms["qwen2_vl"])).describe()["weights"]
    )
    config = json.loads((copy / "generation_config.json").read_text())
    (copy / "generation_config.json").write_text(json.dumps({**config, "top_k": 3}))
    changed = HFAgent(model=str(copy)).describe()
    assert changed["generation"]["top_k"] == 3
    assert changed["weights"] != fingerprint["weights"]


def test_bad_models_are_one_line_errors(tmp_path, tiny_vlms) -> None:
    with pytest.raises(MmsafeError, match="cannot load model"):
        HFAgent(model=str(tmp_path / "missing"))
    with pytest.raises(MmsafeError, match="no video processor"):
        HFAgent(model=str(tiny_vlms["idefics3"]), video="video")
    # pickled weights are refused unless the user opts in
    import torch
    from safetensors.torch import load_file

    pickled = tmp_path / "pickled"
    pickled.mkdir()
    for path in tiny_vlms["qwen2_vl"].iterdir():
        if path.suffix != ".safetensors":
            (pickled / path.name).write_bytes(path.read_bytes())
    weights = load_file(tiny_vlms["qwen2_vl"] / "model.safetensors")
    torch.save(weights, pickled / "pytorch_model.bin")
    with pytest.raises(MmsafeError, match="cannot load model"):
        HFAgent(model=str(pickled))


@pytest.mark.slow
def test_mmsafe_eval_agent_hf_writes_the_raw_text_of_every_step(tiny_vlms, tmp_path, cli_env):
    out = tmp_path / "run"
    result = run_mmsafe(
        "eval",
        "agent=hf",
        f"agent.model={tiny_vlms['idefics3']}",
        "agent.max_new_tokens=8",
        "suite=foundation",
        "seeds=2",
        f"out={out}",
        "progress=false",
        env=cli_env,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    records = read_episodes(out)
    assert len(records) == suite_units("foundation", 2)
    steps = [s for r in records for s in r["steps"]]
    assert steps and all(s["reply"] for s in steps)  # the model's own text, every step
    invalid = [s for s in steps if not s["valid"]]
    reasons = ("no action found", "labelled", "JSON", "empty reply")
    assert all(s["error"].startswith(reasons) for s in invalid)
    run = json.loads((out / "run.json").read_text())
    assert run["fingerprint"]["generation"]["do_sample"] is False
    assert run["agent"]["trust_remote_code"] is False
    assert np.isfinite(json.loads((out / "metrics.json").read_text())["overall"]["cost"]["mean"])
