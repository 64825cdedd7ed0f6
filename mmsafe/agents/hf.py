"""Vision-language models through Hugging Face transformers (`agent=hf agent.model=...`).

`AutoProcessor` + `AutoModelForImageTextToText`, the model's own chat template, greedy decoding
by default, batched generation with left padding. Frames of a clip go in as a video where the
model's processor has a video path (Qwen2-VL and kin), and as several images otherwise
(Idefics3 / SmolVLM and kin); an episode's earlier frames (`memory_frames`, see
`mmsafe.agents.chat`) are always separate images. `trust_remote_code` stays off unless set;
weights are loaded from safetensors unless `use_safetensors=false`.
"""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mmsafe.agents.chat import ChatAgent
from mmsafe.agents.prompt import Message
from mmsafe.core import MmsafeError
from mmsafe.models.device import pick_device, pick_dtype
from mmsafe.models.hub import check_hub, looks_local

VIDEO_MODES = ("auto", "video", "images")


class HFAgent(ChatAgent):
    def __init__(
        self,
        model: str,
        revision: str | None = None,
        prompt: str = "embodied",
        device: str = "auto",
        dtype: str = "auto",
        max_new_tokens: int = 64,
        do_sample: bool = False,
        generation: dict[str, Any] | None = None,
        batch_size: int = 8,
        video: str = "auto",
        trust_remote_code: bool = False,
        use_safetensors: bool | None = True,
        memory_frames: int = 4,
        memory_first_frame: bool = True,
    ):
        super().__init__(prompt, memory_frames, memory_first_frame)
        # in seconds, not minutes, where the hub is out of reach; before torch is imported
        if not looks_local(model):
            check_hub(model, "agent.model=/path/to/folder")
        try:
            import torch
            from transformers import AutoModelForImageTextToText, AutoProcessor
        except ImportError:
            raise MmsafeError("agent=hf needs transformers: pip install 'mmsafe[hf]'") from None
        if video not in VIDEO_MODES:
            raise MmsafeError(f"agent.video must be one of {', '.join(VIDEO_MODES)}")
        if batch_size < 1:
            raise MmsafeError("agent.batch_size must be at least 1")
        self.model_name, self.revision = model, revision
        self.device = pick_device(device)
        self.torch_dtype = pick_dtype(dtype, self.device)
        self.batch_size = batch_size
        options = {"revision": revision, "trust_remote_code": trust_remote_code}
        try:
            self.processor = AutoProcessor.from_pretrained(model, **options)
            self.model = AutoModelForImageTextToText.from_pretrained(
                model, dtype=self.torch_dtype, use_safetensors=use_safetensors, **options
            )
        except pickle.UnpicklingError:
            raise MmsafeError(
                f"cannot load model {model!r}: its pickled weights hold more than tensors, which "
                "weights_only loading refuses (convert them to safetensors)"
            ) from None
        except (OSError, ValueError, KeyError) as error:
            hint = ""
            if use_safetensors and "safetensors" in str(error):
                hint = " (for pickled weights, read with weights_only: agent.use_safetensors=null)"
            raise MmsafeError(f"cannot load model {model!r}: {_one_line(error)}{hint}") from None
        self.model.to(self.device).eval()
        self._torch = torch
        tokenizer = getattr(self.processor, "tokenizer", None)
        if tokenizer is None:
            raise MmsafeError(f"{model!r} has no tokenizer in its processor")
        tokenizer.padding_side = "left"  # generation continues at the right end of each row
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        has_video = getattr(self.processor, "video_processor", None) is not None
        self.video_as_video = video == "video" or (video == "auto" and has_video)
        if video == "video" and not has_video:
            raise MmsafeError(f"{model!r} has no video processor; use agent.video=images")
        self.generation = {"max_new_tokens": max_new_tokens, "do_sample": do_sample}
        self.generation.update(generation or {})

    def complete(self, conversations: Sequence[list[Message]]) -> list[str]:
        """Batches of at most `batch_size`, each of one kind of media (none, images or a
        video), since processors cannot mix those in one call."""
        texts: list[str | None] = [None] * len(conversations)
        groups: dict[tuple, list[int]] = {}
        for index, conversation in enumerate(conversations):
            groups.setdefault(self._media_kind(conversation), []).append(index)
        for indices in groups.values():
            for start in range(0, len(indices), self.batch_size):
                chunk = indices[start : start + self.batch_size]
                generated = self._generate([conversations[i] for i in chunk])
                for i, text in zip(chunk, generated, strict=True):
                    texts[i] = text
        return texts  # type: ignore[return-value]

    def _media_kind(self, conversation: list[Message]) -> tuple:
        return tuple(
            "none" if not m.images else "video" if m.video and self.video_as_video else "images"
            for m in conversation
        )

    def describe(self) -> dict[str, Any]:
        # The effective settings: the model's own generation_config.json, then ours on top.
        defaults = self.model.generation_config.to_diff_dict()
        defaults.pop("transformers_version", None)
        return {
            "model": self.model_name,
            "weights": _weights_id(self.model, self.model_name, self.revision),
            "dtype": str(self.torch_dtype).removeprefix("torch."),
            "generation": {**defaults, **self.generation},
            "video_input": "video" if self.video_as_video else "images",
        }

    # -- one batch ------------------------------------------------------------------------------
    def _generate(self, conversations: Sequence[list[Message]]) -> list[str]:
        from PIL import Image

        prompts, images, videos = [], [], []
        for conversation in conversations:
            chat, sample_images = [], []
            for message in conversation:
                parts: list[dict[str, Any]] = []
                if message.images and message.video and self.video_as_video:
                    parts.append({"type": "video"})
                    videos.append([Image.fromarray(f) for f in message.images])
                else:
                    parts.extend({"type": "image"} for _ in message.images)
                    sample_images.extend(Image.fromarray(f) for f in message.images)
                parts.append({"type": "text", "text": message.text})
                chat.append({"role": message.role, "content": parts})
            prompts.append(
                self.processor.apply_chat_template(chat, add_generation_prompt=True, tokenize=False)
            )
            images.append(sample_images)
        inputs: dict[str, Any] = {"text": prompts, "padding": True, "return_tensors": "pt"}
        if any(images):
            inputs["images"] = images
        if videos:
            inputs["videos"] = videos
        batch = self.processor(**inputs).to(self.device)
        with self._torch.inference_mode():
            output = self.model.generate(**batch, **self.generation)
        new_tokens = output[:, batch["input_ids"].shape[1] :]
        return self.processor.batch_decode(new_tokens, skip_special_tokens=True)

    def close(self) -> None:
        self.model = None
        if self.device.startswith("cuda"):
            self._torch.cuda.empty_cache()


def _weights_id(model: Any, name: str, revision: str | None) -> str:
    """The hub commit for hub models. For a local folder, a hash of every file in it (config,
    tokenizer, chat template, processor), except that weight files count by name and size:
    hashing gigabytes of weights at every start is too slow."""
    commit = getattr(model.config, "_commit_hash", None)
    folder = Path(name)
    if folder.is_dir():
        digest = hashlib.sha256()
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            relative = path.relative_to(folder).as_posix()
            if path.suffix in (".safetensors", ".bin", ".pt", ".pth", ".gguf"):
                digest.update(f"{relative}:{path.stat().st_size}\n".encode())
            else:
                digest.update(f"{relative}\n".encode() + path.read_bytes())
        return f"local:{digest.hexdigest()[:16]}"
    return f"hub:{commit or revision or 'unknown'}"


def _one_line(error: Exception) -> str:
    text = " ".join(str(error).split())
    return text if len(text) <= 300 else text[:297] + "..."


__all__ = ["HFAgent"]
