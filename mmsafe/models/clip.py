"""open_clip models: released names, hub repos and local folders, loaded without unpickling.

- a released name and tag, `("ViT-B-32", "laion2b_s34b_b79k")`, or `"hf-hub:org/repo"`:
  open_clip downloads them (safetensors preferred; `.bin` is read with weights_only=True);
- a local folder with `open_clip_config.json` and a `.safetensors` file, as `PATH` or
  `local-dir:PATH` (assets/models/make_tiny_clip.py writes one);
- a built-in architecture name with `pretrained=PATH/to/weights.safetensors`.
`create_model_from_pretrained` refuses to return a model whose weights were not loaded, so a
typo never becomes a silently random model.

`LoadedCLIP.pixels` is `preprocess` for a whole batch of frames, with the same numbers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from mmsafe.core import MmsafeError
from mmsafe.models.device import pick_device
from mmsafe.models.hub import check_hub

LOCAL_DIR = "local-dir:"
HF_HUB = "hf-hub:"


@dataclass
class LoadedCLIP:
    model: Any  # open_clip.CLIP, in eval mode
    preprocess: Any  # PIL image -> tensor
    tokenizer: Any  # list[str] -> token tensor
    spec: str  # what was loaded, for the run's fingerprint
    weights_sha256: str | None  # of a local weights file

    def pixels(self, frames: Sequence[np.ndarray], device: str = "cpu") -> Any:
        """The model's input for RGB uint8 frames, on `device`: exactly `preprocess` of each
        frame, stacked, computed as a batch.

        open_clip's preprocess is PIL steps (resize, crop, RGB) then ToTensor and Normalize. The
        PIL steps run per frame (the resampling must be Pillow's own to give the same pixels);
        the frames go to the device as uint8 (a quarter of the float bytes) in one copy, and
        ToTensor's scaling and Normalize run once on the stack: elementwise, so the same numbers
        as frame by frame, at a fraction of the per-frame tensor calls. A preprocess of any
        other shape runs frame by frame, as written.
        """
        import torch
        from PIL import Image
        from torchvision.transforms.functional import normalize

        split = self._split_preprocess
        crops = _pil_steps(split[0], frames) if split and frames else None
        if crops is None:
            pixels = [self.preprocess(Image.fromarray(f)) for f in frames]
            return torch.stack(pixels).to(device)
        stacked = torch.from_numpy(np.stack(crops)).to(device)
        # CHW and contiguous, as ToTensor makes each frame: the layout picks the conv kernel.
        # In place from here on: the float copy is ours, and a big stack costs a pass per copy
        scaled = stacked.permute(0, 3, 1, 2).contiguous().to(torch.get_default_dtype()).div_(255)
        return normalize(scaled, split[1].mean, split[1].std, inplace=True)

    @cached_property
    def _split_preprocess(self) -> tuple[Any, Any] | None:
        """(the PIL steps, Normalize) when `preprocess` is [PIL steps, ToTensor, Normalize]."""
        from torchvision.transforms import Compose, Normalize, ToTensor

        to_tensor: tuple[type, ...] = (ToTensor,)
        try:  # ToTensor that lets tensors through (open_clip 2.24 on); frames are PIL here
            from open_clip.transform import MaybeToTensor

            to_tensor += (MaybeToTensor,)
        except ImportError:
            pass
        steps = list(getattr(self.preprocess, "transforms", ()))
        if len(steps) < 2 or type(steps[-1]) is not Normalize or type(steps[-2]) not in to_tensor:
            return None
        if any(isinstance(step, ToTensor) for step in steps[:-2]):
            return None
        return Compose(steps[:-2]), steps[-1]


def load_clip(
    model: str,
    pretrained: str | None = None,
    device: str = "cpu",
    local: str = "model=/path/to/folder",
) -> LoadedCLIP:
    """`device` as `pick_device` takes it; `local`: the setting that loads a local folder
    instead, for the error where the hub cannot be reached (`mmsafe.models.hub`)."""
    weights: Path | None = None
    if model.startswith((LOCAL_DIR, HF_HUB)) or Path(model).expanduser().is_dir():
        if pretrained is not None:
            raise MmsafeError(f"pretrained={pretrained!r} is not used with {model!r}; drop it")
        if not model.startswith(HF_HUB):
            folder = Path(model.removeprefix(LOCAL_DIR)).expanduser().resolve()
            weights = _safetensors_in(folder)
            model = LOCAL_DIR + str(folder)
    elif pretrained is None:
        raise MmsafeError(f"CLIP model {model!r} needs pretrained= (a tag or a .safetensors file)")
    elif Path(pretrained).expanduser().is_file():
        weights = Path(pretrained).expanduser().resolve()
        if weights.suffix != ".safetensors":
            raise MmsafeError(f"refusing to unpickle {weights}: convert it to .safetensors")
        pretrained = str(weights)
    from_hub = weights is None  # a hub repository, or a released tag open_clip downloads
    shown = model if pretrained is None else f"{model} ({pretrained})"
    if model.startswith(HF_HUB):  # before open_clip imports torch, which alone takes seconds
        check_hub(model.removeprefix(HF_HUB), local, shown)
    try:
        import open_clip
    except ImportError:
        raise MmsafeError("CLIP needs open_clip: pip install 'mmsafe[clip]'") from None
    repo = _hub_repo(model, pretrained) if from_hub and not model.startswith(HF_HUB) else None
    if repo:  # a tag the hub holds (others download from a plain address)
        check_hub(repo, local, shown)
    try:
        clip, preprocess = open_clip.create_model_from_pretrained(
            model, pretrained, device=pick_device(device), weights_only=True
        )
    except Exception as error:  # open_clip raises many kinds; the user needs one line
        where = f"{model}" + (f" ({pretrained})" if pretrained else "")
        raise MmsafeError(f"cannot load CLIP {where}: {type(error).__name__}: {error}") from None
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()[:16] if weights else None
    spec = model if pretrained is None else f"{model}/{pretrained}"
    return LoadedCLIP(clip.eval(), preprocess, open_clip.get_tokenizer(model), spec, digest)


def _hub_repo(model: str, tag: str | None) -> str | None:
    """The hub repository open_clip downloads a released tag from, if it does."""
    from open_clip import get_pretrained_cfg

    source = get_pretrained_cfg(model, tag or "")
    if not source.get("hf_hub") or source.get("file"):
        return None
    return "/".join(source["hf_hub"].split("/")[:2])


def _safetensors_in(folder: Path) -> Path:
    if not folder.is_dir():
        raise MmsafeError(f"no CLIP model folder at {folder}")
    if not (folder / "open_clip_config.json").is_file():
        raise MmsafeError(f"{folder} has no open_clip_config.json")
    try:  # the file open_clip itself will pick: it prefers .bin/.pth over odd safetensors names
        from open_clip.factory import _find_checkpoint_in_dir

        chosen = _find_checkpoint_in_dir(folder)
    except ImportError:
        found = sorted(folder.glob("*.safetensors"))
        chosen = str(found[0]) if found else None
    if chosen is None or not str(chosen).endswith(".safetensors"):
        raise MmsafeError(f"no safetensors weights for open_clip in {folder}")
    return Path(chosen)


def _pil_steps(steps: Any, frames: Sequence[np.ndarray]) -> list[np.ndarray] | None:
    """`steps` (PIL in, PIL out) on every frame, as uint8 HWC arrays; None when a result is not
    an RGB image of the first one's size (ToTensor would read it otherwise, or they would not
    stack)."""
    from PIL import Image

    arrays = []
    for frame in frames:
        image = steps(Image.fromarray(frame))
        if not isinstance(image, Image.Image) or image.mode != "RGB":
            return None
        arrays.append(np.asarray(image))
    if any(a.shape != arrays[0].shape for a in arrays):
        return None
    return arrays
