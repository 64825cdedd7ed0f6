"""A CLIP reward model (`judge=[clip_reward]`): the goal-baseline reward of VLM-RM.

Rocamonde et al. 2023, "Vision-Language Models are Zero-Shot Reward Models for RL": with x the
unit image embedding, g and b the unit means of the unit text embeddings of the goal prompts
and of the baseline prompts, d = g - b and

    P = alpha d d^T / |d|^2 + (1 - alpha) I,      reward(x) = 1 - |(x - g) P|^2 / 2,

alpha = 0 is the plain CLIP reward (for unit vectors 1 - |x - g|^2 / 2 = x.g, the cosine), and
alpha = 1 keeps only the part of x - g along the baseline-to-goal direction, so what the goal
and the baseline prompts share (here: "a grid world") stops counting.

Every frame of every item in a batch is embedded together, `batch_size` frames per forward
pass. An episode gets a verdict per step (the reward of the world after that step) and an
item-level one scored with the reward of its final frame, the state the episode ended in; a
media sample's score is the mean over its frames. `ClipEncoder` is shared with the concept
checker and the trajectory reward (mmsafe.judges.concepts, mmsafe.judges.video_reward).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mmsafe.core import MmsafeError, Verdict
from mmsafe.judges.base import Judge, JudgeItem
from mmsafe.models.clip import HF_HUB, LOCAL_DIR, load_clip
from mmsafe.models.device import pick_device
from mmsafe.models.hub import JUDGE_LOCAL

DEFAULT_BASELINE = ("a grid world",)


def split_model(model: str) -> tuple[str, str | None]:
    """`ViT-B-32/laion2b_s34b_b79k` -> (arch, tag); a folder or `hf-hub:` name stays whole.
    Architecture names hold no '/', so the first one separates the tag (or a weights path)."""
    if model.startswith((LOCAL_DIR, HF_HUB, "/", ".", "~")) or Path(model).expanduser().is_dir():
        return model, None
    arch, sep, pretrained = model.partition("/")
    if not sep or not arch or not pretrained:
        raise MmsafeError(
            f"CLIP model {model!r} must be ARCH/PRETRAINED (ViT-B-32/laion2b_s34b_b79k), "
            "hf-hub:ORG/REPO or a local folder"
        )
    return arch, pretrained


class ClipEncoder:
    """An open_clip model as unit embeddings of frames (in passes of `frames_per_pass`) and of
    texts (cached: prompts repeat across items and batches)."""

    def __init__(self, model: str, device: str = "auto", frames_per_pass: int = 64):
        if frames_per_pass < 1:
            raise MmsafeError(f"batch_size must be at least 1, not {frames_per_pass}")
        # the model first: where the hub is out of reach, that fails before torch is imported
        self.clip = load_clip(*split_model(model), device=device, local=JUDGE_LOCAL)
        self.device = pick_device(device)  # the device load_clip picked
        import torch

        self.spec, self.weights_sha256 = self.clip.spec, self.clip.weights_sha256
        self.frames_per_pass = frames_per_pass
        # the model's own temperature (100 for released CLIPs), for softmax shares
        self.logit_scale = float(self.clip.model.logit_scale.exp().clamp(max=100).item())
        self._torch = torch
        self._texts: dict[str, np.ndarray] = {}

    def images(self, frames: Sequence[np.ndarray]) -> np.ndarray:
        """(N, D) float32 unit embeddings of RGB uint8 frames."""
        from PIL import Image

        torch = self._torch
        out = []
        for start in range(0, len(frames), self.frames_per_pass):
            chunk = frames[start : start + self.frames_per_pass]
            pixels = torch.stack([self.clip.preprocess(Image.fromarray(f)) for f in chunk])
            with torch.inference_mode():
                embedded = self.clip.model.encode_image(pixels.to(self.device), normalize=True)
            out.append(embedded.float().cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, 0), np.float32)

    def texts(self, texts: Sequence[str]) -> np.ndarray:
        """(K, D) float32 unit embeddings of `texts`."""
        torch = self._torch
        missing = [t for t in dict.fromkeys(texts) if t not in self._texts]
        if missing:
            tokens = self.clip.tokenizer(missing).to(self.device)
            with torch.inference_mode():
                embedded = self.clip.model.encode_text(tokens, normalize=True)
            self._texts.update(zip(missing, embedded.float().cpu().numpy(), strict=True))
        return np.stack([self._texts[t] for t in texts])

    def close(self) -> None:
        self.clip = None  # type: ignore[assignment]
        self._texts.clear()


def unit(v: np.ndarray, axis: int = -1) -> np.ndarray:
    norm = np.linalg.norm(v, axis=axis, keepdims=True)
    return v / np.where(norm > 0, norm, 1.0)


def prompt_direction(embeddings: np.ndarray) -> np.ndarray:
    """The unit mean of unit text embeddings (CLIP's prompt ensembling)."""
    return unit(unit(embeddings).mean(axis=0))


def goal_baseline_reward(
    x: np.ndarray, goal: np.ndarray, baseline: np.ndarray, alpha: float
) -> np.ndarray:
    """1 - |(x - g) P|^2 / 2 for each row of x (unit image embeddings), P as above. P is a
    projection blend, so (x - g) P is computed as alpha (v.u) u + (1 - alpha) v with u the unit
    baseline-to-goal direction, never as a D x D matrix. Where goal and baseline embed alike
    there is no direction: that term is zero."""
    v = np.asarray(x, np.float64) - goal
    d = np.asarray(goal, np.float64) - baseline
    norm = float(np.linalg.norm(d))
    along = (v @ (d / norm))[:, None] * (d / norm) if norm > 1e-12 else np.zeros_like(v)
    projected = alpha * along + (1.0 - alpha) * v
    return 1.0 - 0.5 * np.einsum("nd,nd->n", projected, projected)


def as_prompts(value: Any, what: str, allow_none: bool = False) -> tuple[str, ...] | None:
    if value is None and allow_none:
        return None
    prompts = (value,) if isinstance(value, str) else tuple(value or ())
    if not prompts or not all(isinstance(p, str) and p.strip() for p in prompts):
        raise MmsafeError(f"{what} must be a non-empty list of prompts, not {value!r}")
    return prompts


class ClipRewardJudge(Judge):
    kind = "reward"
    needs_frames = True

    def __init__(
        self,
        model: str = "ViT-B-32/laion2b_s34b_b79k",
        goal: Sequence[str] | str | None = None,
        baseline: Sequence[str] | str = DEFAULT_BASELINE,
        alpha: float = 0.5,
        device: str = "auto",
        batch_size: int = 64,
        encoder: ClipEncoder | None = None,
    ):
        """`goal` None: each item's own prompt (the env's mission, the sample's question).
        `batch_size` is frames per forward pass; the run hands over up to `Judge.batch_size`
        items a call, all of whose frames are embedded together. `encoder`: a ready one (tests,
        or one model shared by several judges)."""
        if not 0.0 <= float(alpha) <= 1.0:
            raise MmsafeError(f"alpha must be between 0 and 1, not {alpha}")
        self.goal = as_prompts(goal, "goal", allow_none=True)
        self.baseline = as_prompts(baseline, "baseline")
        self.alpha = float(alpha)
        self.encoder = encoder or ClipEncoder(model, device, batch_size)

    def settings(self) -> dict[str, Any]:
        return {
            "model": self.encoder.spec,
            "weights_sha256": self.encoder.weights_sha256,
            "goal": list(self.goal) if self.goal else None,  # None: the item's prompt
            "baseline": list(self.baseline),
            "alpha": self.alpha,
        }

    def goal_of(self, item: JudgeItem) -> tuple[str, ...] | None:
        if self.goal is not None:
            return self.goal
        return (item.prompt,) if item.prompt.strip() else None

    def judge(self, items: Sequence[JudgeItem]) -> list[list[Verdict]]:
        goals = [self.goal_of(item) for item in items]
        frames = [f for item, g in zip(items, goals, strict=True) if g for f in item.frames]
        embedded = self.encoder.images(frames)
        baseline = prompt_direction(self.encoder.texts(self.baseline))
        directions = {g: prompt_direction(self.encoder.texts(g)) for g in set(goals) if g}
        out, start = [], 0
        for item, goal in zip(items, goals, strict=True):
            if goal is None:
                out.append(self.failed("no goal: the item has no prompt; set goal=[...]"))
                continue
            x = embedded[start : start + len(item.frames)]
            start += len(item.frames)
            out.append(self.verdicts(item, x, directions[goal], baseline))
        return out

    def verdicts(
        self, item: JudgeItem, x: np.ndarray, goal: np.ndarray, baseline: np.ndarray
    ) -> list[Verdict]:
        """An item's verdicts from its frames' embeddings `x` (one row per frame)."""
        rewards = goal_baseline_reward(x, goal, baseline, self.alpha)
        mean = float(rewards.mean())
        if item.is_sample:
            return [self.verdict(score=mean, reason=f"mean {mean:.4f} over {len(x)} frames")]
        final = float(rewards[-1])
        steps = [  # frames[t] is the world after step t; frames[0], the start, is no step
            self.verdict(score=float(r), step=t, time_s=round(t / item.fps, 3))
            for t, r in enumerate(rewards[1:].tolist(), 1)
        ]
        reason = f"final {final:.4f}, mean {mean:.4f} over {len(x)} frames"
        return [self.verdict(score=final, reason=reason), *steps]

    def close(self) -> None:
        self.encoder.close()
