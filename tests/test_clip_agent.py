"""CLIP zero-shot on a tiny local open_clip model, and the open_clip loading rules."""

from __future__ import annotations

import json

import gymnasium as gym
import pytest

from mmsafe.core import MmsafeError, Observation

from .conftest import read_episodes, run_mmsafe

open_clip = pytest.importorskip("open_clip")

from mmsafe.agents.clip import CLIPAgent  # noqa: E402
from mmsafe.models.clip import load_clip  # noqa: E402


def observations() -> list[Observation]:
    out = []
    for seed, env_id in enumerate(["mmsafe/HazardLava-v1", "mmsafe/SafeInterruption-v1"]):
        obs, _ = gym.make(env_id).reset(seed=seed)
        out.append(
            Observation(
                frames=(obs["image"],),
                text=obs["mission"],
                actions=tuple(obs["actions"].split(", ")),
            )
        )
    return out


def test_clip_picks_the_action_open_clip_scores_highest(tiny_clip) -> None:
    import torch
    from PIL import Image

    descriptions = {"up": "climb the stairs", "wait": "sit still"}
    agent = CLIPAgent(
        model=str(tiny_clip), pretrained=None, device="cpu", descriptions=descriptions
    )
    replies = agent.act_batch(observations())
    # the same scores, computed straight from open_clip
    model, preprocess = open_clip.create_model_from_pretrained(f"local-dir:{tiny_clip}")
    tokenizer = open_clip.get_tokenizer(f"local-dir:{tiny_clip}")
    for obs, reply in zip(observations(), replies, strict=True):
        prompts = [
            f"{obs.text} Next, the agent will {descriptions.get(a, a)}." for a in obs.actions
        ]
        with torch.no_grad():
            logits, _ = model.get_logits(
                preprocess(Image.fromarray(obs.image))[None], tokenizer(prompts)
            )
        expected = torch.softmax(logits[0], dim=0)
        # ties between near-equal random embeddings may break either way: compare scores
        chosen = obs.actions.index(reply.action)
        assert float(expected[chosen]) == pytest.approx(float(expected.max()), abs=1e-5)
        assert reply.confidence == pytest.approx(float(expected.max()), abs=1e-4)
        scores = json.loads(reply.text)["probabilities"]
        assert list(scores) == list(obs.actions)
    assert agent.fingerprint()["weights_sha256"]


def test_open_clip_loading_refuses_what_it_should(tiny_clip, tmp_path) -> None:
    with pytest.raises(MmsafeError, match="needs pretrained="):
        load_clip("ViT-B-32", None)
    with pytest.raises(MmsafeError, match="no CLIP model folder"):
        load_clip(f"local-dir:{tmp_path / 'missing'}")
    pickled = tmp_path / "weights.bin"
    pickled.write_bytes(b"not really a pickle")
    with pytest.raises(MmsafeError, match="refusing to unpickle"):
        load_clip("ViT-B-32", str(pickled))
    folder = tmp_path / "no-weights"
    folder.mkdir()
    (folder / "open_clip_config.json").write_text((tiny_clip / "open_clip_config.json").read_text())
    with pytest.raises(MmsafeError, match="no safetensors weights"):
        load_clip(str(folder))
    with pytest.raises(MmsafeError, match="is not used with"):
        load_clip(str(tiny_clip), "laion2b_s34b_b79k")


@pytest.mark.slow
def test_mmsafe_eval_agent_clip(tiny_clip, tmp_path, cli_env) -> None:
    out = tmp_path / "run"
    result = run_mmsafe(
        "eval",
        "agent=clip",
        f"agent.model={tiny_clip}",
        "agent.pretrained=null",
        "suite=foundation",
        "seeds=1",  # both arms of each of its three scenarios
        f"out={out}",
        "progress=false",
        env=cli_env,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    records = read_episodes(out)
    assert len(records) == 6
    assert all(s["valid"] and s["confidence"] is not None for r in records for s in r["steps"])


def test_a_small_text_cache_evicts_without_losing_what_a_call_needs(tiny_clip, monkeypatch):
    import mmsafe.agents.clip as clip_module

    monkeypatch.setattr(clip_module, "TEXT_CACHE", 3)
    agent = CLIPAgent(model=str(tiny_clip), pretrained=None, device="cpu")
    first = agent.act_batch(observations())  # 16 prompts through a cache of 3
    again = agent.act_batch(observations())
    assert [r.confidence for r in again] == pytest.approx([r.confidence for r in first])
    assert len(agent._texts) == 3


def test_batched_preprocessing_gives_open_clips_own_pixels(tiny_clip) -> None:
    """`LoadedCLIP.pixels` (PIL steps per frame, ToTensor and Normalize on the stack) is
    exactly `preprocess` frame by frame, for frames of mixed sizes, and so is its fallback for
    a preprocess of another shape."""
    import numpy as np
    import torch
    from PIL import Image

    clip = load_clip(str(tiny_clip))
    assert clip._split_preprocess is not None  # the batched path is the one tested
    rng = np.random.default_rng(0)
    shapes = [(128, 176, 3), (224, 224, 3), (33, 47, 3), (5, 3, 3), (160, 384, 3)] * 3
    frames = [rng.integers(0, 256, s, dtype=np.uint8) for s in shapes]
    expected = torch.stack([clip.preprocess(Image.fromarray(f)) for f in frames])
    for batch in (frames, frames[:1]):
        pixels = clip.pixels(batch)
        assert pixels.is_contiguous() and torch.equal(pixels, expected[: len(batch)])
    clip.preprocess = lambda image: torch.from_numpy(np.array(image.resize((8, 8)))).float()
    del clip._split_preprocess  # drop the cached split: this preprocess has no steps
    assert clip._split_preprocess is None
    plain = torch.stack([clip.preprocess(Image.fromarray(f)) for f in frames])
    assert torch.equal(clip.pixels(frames), plain)


def test_a_batch_scores_every_observation_as_it_would_alone(tiny_clip) -> None:
    """Batched scoring (all candidates at once, padded), the mean over a clip's frames, an
    observation with no actions in the batch, and cached text features all give what each
    observation gets alone from a fresh agent, which matches open_clip's own scores."""
    import numpy as np
    import torch
    from PIL import Image

    # short prompts: the tiny CLIP reads 16 tokens, and a long mission would cut the action
    # off, so that every candidate would tie and any choice would pass
    short = {"prompt": "{action}", "question_prompt": "{action}"}
    agent = CLIPAgent(model=str(tiny_clip), pretrained=None, device="cpu", **short)
    steps = observations()
    clip = tuple(np.roll(steps[0].image, shift, axis=1) for shift in (0, 7, 19))
    question = Observation(frames=clip, text="Safe?", actions=("yes", "no"), kind="question")
    silent = Observation(frames=steps[1].frames, text="Describe it.")
    batch = [steps[0], question, silent, steps[1]]
    replies = agent.act_batch(batch)
    assert replies[2].action is None and "candidate actions" in replies[2].error
    again = agent.act_batch(batch)  # text features from the cache now
    for observation, reply, cached in zip(batch, replies, again, strict=True):
        if not observation.actions:
            continue
        fresh = CLIPAgent(model=str(tiny_clip), pretrained=None, device="cpu", **short)
        (alone,) = fresh.act_batch([observation])
        assert reply.action == alone.action == cached.action
        assert reply.confidence == pytest.approx(alone.confidence, abs=1e-6)
        assert cached.confidence == pytest.approx(reply.confidence, abs=1e-6)
        # open_clip's own numbers: the frames' mean embedding against each action's text
        model, loaded = agent.clip.model, agent.clip
        with torch.no_grad():
            pixels = torch.stack(
                [loaded.preprocess(Image.fromarray(f)) for f in observation.frames]
            )
            image = model.encode_image(pixels, normalize=True).mean(dim=0)
            texts = model.encode_text(loaded.tokenizer(list(observation.actions)), normalize=True)
            expected = torch.softmax(model.logit_scale.exp() * texts @ (image / image.norm()), 0)
        assert float(expected.max() - expected.min()) > 1e-3  # not a tie: the test can fail
        assert observation.actions[int(expected.argmax())] == reply.action
        assert reply.confidence == pytest.approx(float(expected.max()), abs=1e-5)
