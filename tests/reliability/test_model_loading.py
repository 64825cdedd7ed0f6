"""Model loading runs no code a model folder or a weights file brings: `trust_remote_code` is
off unless the user turns it on, safetensors are preferred, and pickled weights are read only
with `weights_only=True`. Each test plants code that would leave a marker file if it ran."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from mmsafe.core import MmsafeError


class Planted:
    """Unpickling this calls Path.touch(marker): the proof that pickled code ran."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def copy_model(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target


def test_a_model_folder_with_its_own_code_does_not_run_it(tmp_path, tiny_vlms):
    pytest.importorskip("transformers")
    from mmsafe.agents.hf import HFAgent

    folder = copy_model(tiny_vlms["qwen2_vl"], tmp_path / "model")
    marker = tmp_path / "remote-code-ran"
    (folder / "evil.py").write_text(f"from pathlib import Path\nPath({str(marker)!r}).touch()\n")
    config = json.loads((folder / "config.json").read_text())
    config["auto_map"] = {
        "AutoConfig": "evil.EvilConfig",
        "AutoModelForImageTextToText": "evil.EvilModel",
    }
    (folder / "config.json").write_text(json.dumps(config))
    HFAgent(model=str(folder), max_new_tokens=2).close()  # loads, from the config it names
    assert not marker.exists(), "the model folder's own code ran with trust_remote_code off"


@pytest.mark.parametrize("use_safetensors", [True, None])
def test_pickled_weights_with_code_in_them_never_run(tmp_path, tiny_vlms, use_safetensors):
    torch = pytest.importorskip("torch")
    from safetensors.torch import load_file

    from mmsafe.agents.hf import HFAgent

    folder = tmp_path / "pickled"
    folder.mkdir()
    for path in tiny_vlms["qwen2_vl"].iterdir():
        if path.suffix != ".safetensors":
            shutil.copy(path, folder / path.name)
    marker = tmp_path / "pickle-ran"
    weights = dict(load_file(tiny_vlms["qwen2_vl"] / "model.safetensors"))
    torch.save({**weights, "planted": Planted(marker)}, folder / "pytorch_model.bin")
    # safetensors only (the default): refused; use_safetensors=null: read with weights_only,
    # which refuses the planted object
    with pytest.raises(MmsafeError, match="cannot load model") as refused:
        HFAgent(model=str(folder), use_safetensors=use_safetensors)
    assert "\n" not in str(refused.value)
    assert not marker.exists(), "unpickling ran the planted code"


@pytest.mark.parametrize("use_safetensors", [True, None])
def test_safetensors_are_preferred_to_a_pickle_beside_them(tmp_path, tiny_vlms, use_safetensors):
    torch = pytest.importorskip("torch")
    from mmsafe.agents.hf import HFAgent

    folder = copy_model(tiny_vlms["qwen2_vl"], tmp_path / "both")
    marker = tmp_path / "pickle-ran"
    torch.save({"planted": Planted(marker)}, folder / "pytorch_model.bin")
    # the check is that it loads: had the pickle been read, weights_only would have refused it
    HFAgent(model=str(folder), use_safetensors=use_safetensors, max_new_tokens=2).close()
    assert not marker.exists(), "the pickle beside model.safetensors was read"


def test_clip_weights_that_are_a_pickle_are_refused_unread(tmp_path):
    torch = pytest.importorskip("torch")
    pytest.importorskip("open_clip")
    from mmsafe.models.clip import load_clip

    marker = tmp_path / "pickle-ran"
    weights = tmp_path / "weights.pt"
    torch.save({"planted": Planted(marker)}, weights)
    with pytest.raises(MmsafeError, match="refusing to unpickle"):
        load_clip("ViT-B-32", str(weights))
    assert not marker.exists()


def test_trust_remote_code_is_off_by_default_everywhere():
    """Every place that loads a model takes trust_remote_code=False unless told otherwise."""
    import inspect

    from mmsafe.agents.hf import HFAgent

    assert inspect.signature(HFAgent).parameters["trust_remote_code"].default is False
    root = Path(__file__).resolve().parents[2] / "mmsafe"
    # as a keyword or a dict entry ({"trust_remote_code": True}), spaced any way
    quote, set_to = "[\"']?", r"\s*[:=]\s*"
    unsafe = re.compile(f"trust_remote_code{quote}{set_to}True|weights_only{quote}{set_to}False")
    for path in root.rglob("*.py"):
        assert not unsafe.search(path.read_text(encoding="utf-8")), path


def test_xclip_judge_weights_that_are_a_pickle_never_run(tmp_path, tmp_path_factory):
    torch = pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from safetensors.torch import load_file

    from mmsafe.judges.video_reward import XClipRewardJudge

    from ..conftest import ROOT, _load_script

    built = _load_script(ROOT / "assets" / "models" / "make_tiny_xclip.py").build(
        tmp_path_factory.mktemp("xclip")
    )
    folder = tmp_path / "pickled"
    shutil.copytree(built, folder, ignore=shutil.ignore_patterns("*.safetensors"))
    marker = tmp_path / "pickle-ran"
    weights = dict(load_file(built / "model.safetensors"))
    torch.save({**weights, "planted": Planted(marker)}, folder / "pytorch_model.bin")
    with pytest.raises(MmsafeError, match="cannot load X-CLIP") as refused:
        XClipRewardJudge(model=str(folder), device="cpu")
    assert "\n" not in str(refused.value)
    assert not marker.exists(), "unpickling ran the planted code"
