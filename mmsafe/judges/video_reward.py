"""Trajectory reward models, reported at the episode's end (one item-level verdict each).

- `FrameAggregateRewardJudge` (`judge=[video_reward]`): CLIP frame embeddings over the whole
  trajectory, read through the goal-baseline reward of mmsafe.judges.clip_reward. `aggregate`
  says how: `mean`, `max` or `last` of the per-frame rewards, or `mean_embedding`, the reward of
  the unit mean of the frame embeddings (the trajectory as one image).
- `XClipRewardJudge` (`judge=[xclip]`): a video-text model (X-CLIP, transformers) reads
  `num_frames` frames sampled uniformly over the episode, first and last included, as one
  clip. Its score is the softmax share of the goal prompts against the goal and baseline
  prompts together, over X-CLIP's logits_per_video (its cosines times its logit scale): the
  probability that the clip shows the goal rather than the baseline. X-CLIP's text embeddings
  are conditioned on the video (its prompt generator), so goal and baseline are scored in the
  same forward pass as the clip, never from cached text embeddings.
"""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mmsafe.core import MmsafeError, Verdict, one_line
from mmsafe.judges.base import Judge, JudgeItem
from mmsafe.judges.clip_reward import (
    DEFAULT_BASELINE,
    ClipRewardJudge,
    as_prompts,
    goal_baseline_reward,
    unit,
)
from mmsafe.models.device import pick_device, pick_dtype
from mmsafe.models.hub import JUDGE_LOCAL, check_hub, looks_local

AGGREGATES = ("mean", "max", "last", "mean_embedding")


class FrameAggregateRewardJudge(ClipRewardJudge):
    """ClipRewardJudge's settings, plus `aggregate`; no step verdicts."""

    def __init__(self, *args: Any, aggregate: str = "mean", **kwargs: Any):
        if aggregate not in AGGREGATES:
            raise MmsafeError(
                f"aggregate must be one of {', '.join(AGGREGATES)}, not {aggregate!r}"
            )
        super().__init__(*args, **kwargs)
        self.aggregate = aggregate

    def settings(self) -> dict[str, Any]:
        return {**super().settings(), "aggregate": self.aggregate}

    def verdicts(
        self, item: JudgeItem, x: np.ndarray, goal: np.ndarray, baseline: np.ndarray
    ) -> list[Verdict]:
        if self.aggregate == "mean_embedding":
            pooled = unit(x.astype(np.float64).mean(axis=0))[None]
            score = float(goal_baseline_reward(pooled, goal, baseline, self.alpha)[0])
        else:
            rewards = goal_baseline_reward(x, goal, baseline, self.alpha)
            pick = {"mean": np.mean, "max": np.max, "last": lambda r: r[-1]}[self.aggregate]
            score = float(pick(rewards))
        reason = f"{self.aggregate} over {len(x)} frames: {score:.4f}"
        return [self.verdict(score=score, reason=reason)]


def uniform_indices(n: int, k: int) -> list[int]:
    """k frame indices spread evenly over n frames, first and last included (the end state is
    what a reward at the episode's end must see); frames repeat when n < k."""
    return np.linspace(0, n - 1, k).round().astype(int).tolist()


class XClipRewardJudge(Judge):
    kind = "reward"
    needs_frames = True

    def __init__(
        self,
        model: str = "microsoft/xclip-base-patch32",
        goal: Sequence[str] | str | None = None,
        baseline: Sequence[str] | str = DEFAULT_BASELINE,
        num_frames: int | None = 8,
        device: str = "auto",
        dtype: str = "auto",
        batch_size: int = 8,
    ):
        """`goal` None: each item's own prompt. `num_frames` must be the model's clip length
        (None: take it from the model). `batch_size`: clips per forward pass."""
        if not looks_local(model):  # in seconds where the hub is out of reach, before torch
            check_hub(model, JUDGE_LOCAL)
        import torch
        from transformers import XCLIPModel, XCLIPProcessor

        self.goal = as_prompts(goal, "goal", allow_none=True)
        self.baseline = as_prompts(baseline, "baseline")
        self.batch_size = max(1, int(batch_size))
        self.device = pick_device(device)
        try:
            self.processor = XCLIPProcessor.from_pretrained(model)
            # safetensors where the folder has them; transformers reads a .bin only with
            # torch.load(weights_only=True), so no pickled code runs either way
            self.model = XCLIPModel.from_pretrained(model, dtype=pick_dtype(dtype, self.device))
        except pickle.UnpicklingError:
            raise MmsafeError(
                f"cannot load X-CLIP {model}: its pickled weights hold more than tensors, which "
                "weights_only loading refuses (convert them to safetensors)"
            ) from None
        except (OSError, ValueError) as error:
            raise MmsafeError(f"cannot load X-CLIP {model}: {one_line(str(error))}") from None
        self.model = self.model.to(self.device).eval()
        length = self.model.config.vision_config.num_frames
        if num_frames not in (None, length):
            raise MmsafeError(
                f"{model} reads clips of {length} frames, not num_frames={num_frames}"
            )
        self.num_frames = length
        self.spec = model
        self.revision = getattr(self.model.config, "_commit_hash", None)
        weights = Path(model) / "model.safetensors"
        self.weights_sha256 = (
            hashlib.sha256(weights.read_bytes()).hexdigest()[:16] if weights.is_file() else None
        )
        self._torch = torch

    def settings(self) -> dict[str, Any]:
        return {
            "model": self.spec,
            "revision": self.revision,
            "weights_sha256": self.weights_sha256,
            "goal": list(self.goal) if self.goal else None,
            "baseline": list(self.baseline),
            "num_frames": self.num_frames,
        }

    def judge(self, items: Sequence[JudgeItem]) -> list[list[Verdict]]:
        goals = [self.goal or ((i.prompt,) if i.prompt.strip() else None) for i in items]
        todo = [(n, item, g) for n, (item, g) in enumerate(zip(items, goals, strict=True)) if g]
        out: list[list[Verdict]] = [
            self.failed("no goal: the item has no prompt; set goal=[...]") for _ in items
        ]
        for at in range(0, len(todo), self.batch_size):
            batch = todo[at : at + self.batch_size]
            for (n, item, _), score in zip(batch, self._score(batch), strict=True):
                reason = (
                    f"p(goal) {score:.4f} against {len(self.baseline)} baseline prompt(s), "
                    f"{self.num_frames} frames sampled from {len(item.frames)}"
                )
                out[n] = [self.verdict(score=score, reason=reason)]
        return out

    def _score(self, batch: list[tuple[int, JudgeItem, tuple[str, ...]]]) -> list[float]:
        torch = self._torch
        texts = list(dict.fromkeys([t for _, _, g in batch for t in g] + list(self.baseline)))
        frames = [
            item.frames[i]
            for _, item, _ in batch
            for i in uniform_indices(len(item.frames), self.num_frames)
        ]
        # XCLIPProcessor (transformers 5) hands videos to the image processor as loose images;
        # the model wants (clips, frames, C, H, W), so the frames are stacked back per clip
        pixels = self.processor.image_processor(images=frames, return_tensors="pt")["pixel_values"]
        pixels = pixels.view(len(batch), self.num_frames, *pixels.shape[1:])
        tokens = self.processor.tokenizer(texts, padding=True, truncation=True, return_tensors="pt")
        with torch.inference_mode():
            logits = (
                self.model(
                    pixel_values=pixels.to(self.device, self.model.dtype),
                    input_ids=tokens["input_ids"].to(self.device),
                    attention_mask=tokens["attention_mask"].to(self.device),
                )
                .logits_per_video.float()
                .cpu()
            )
        base = [texts.index(t) for t in self.baseline]
        scored = []
        for row, (_, _, goal) in zip(logits, batch, strict=True):
            share = torch.softmax(row[[texts.index(t) for t in goal] + base], dim=0)
            scored.append(float(share[: len(goal)].sum()))
        return scored

    def close(self) -> None:
        self.model = None
        self.processor = None
