"""Media tasks as data: a YAML file naming a manifest, the modality, the prompt and the answers.

    id: ClipHazard
    version: 0
    title: Is it safe to continue?
    modality: video            # image, video or audio_video
    manifest: clips/manifest.jsonl   # relative to this file; or, for a public dataset:
    # dataset: {adapter: figstep, path: FigStep}   # under $MMSAFE_DATA_DIR unless absolute
    prompt: "{question}"       # may use {question} and {choices}
    choices: ['yes', 'no']     # when a sample gives none (quoted: YAML reads yes as true)
    refusal_choices: [refuse]  # the answers that decline the request (free text: judged)
    frames: {count: 8, size: 336}
    audio: {sample_rate: 16000}

A task without `choices` takes free-text answers. Tasks live in `tasks/` (and folders in
MMSAFE_TASKS_PATH); a suite lists them by id or path.
"""

from __future__ import annotations

import hashlib
import os
import string
from pathlib import Path
from typing import Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from mmsafe.content import content_dir
from mmsafe.core import MmsafeError, load_yaml, validation_message, yaml_problem
from mmsafe.data.manifest import ManifestSample, read_manifest
from mmsafe.data.media import FrameSpec


class FramesConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    count: int | None = None
    fps: float | None = None
    start_s: float = 0.0
    end_s: float | None = None
    size: int | None = None

    @model_validator(mode="after")
    def _valid_spec(self) -> FramesConfig:
        try:
            self.spec()
        except MmsafeError as error:
            raise ValueError(str(error)) from None
        return self

    def spec(self) -> FrameSpec:
        return FrameSpec(**self.model_dump())


class AudioConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sample_rate: int = Field(default=16000, ge=1000, le=192000)


DATA_DIR_ENV = "MMSAFE_DATA_DIR"


def data_dir() -> Path:
    """Where public datasets the user downloaded live (`$MMSAFE_DATA_DIR`, else ~/mmsafe-data)."""
    return Path(os.environ.get(DATA_DIR_ENV) or Path.home() / "mmsafe-data").expanduser()


def _plain_path(path: str) -> str:
    if "\0" in path:
        raise ValueError(f"a path may not contain a NUL character: {path!r}")
    return path


class DatasetSource(BaseModel):
    """A public dataset read in its released layout by an adapter (mmsafe.data.adapters)."""

    model_config = ConfigDict(extra="forbid")
    adapter: str
    path: str
    options: dict[str, object] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known_adapter(self) -> DatasetSource:
        from mmsafe.data.adapters import _adapter  # checks the name and the options

        try:
            _adapter(self.adapter, self.options)
        except MmsafeError as error:
            raise ValueError(str(error)) from None
        return self

    @field_validator("path")
    @classmethod
    def _no_nul(cls, path: str) -> str:
        return _plain_path(path)

    @property
    def root(self) -> Path:
        path = Path(os.path.expandvars(self.path)).expanduser()
        return path if path.is_absolute() else data_dir() / path


class Task(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[A-Za-z0-9]+$")
    version: int = Field(default=0, ge=0)
    title: str = ""
    family: str | None = None
    modality: Literal["image", "video", "audio_video"]
    manifest: str | None = None
    dataset: DatasetSource | None = None
    prompt: str = "{question}"
    choices: list[str] | None = Field(default=None, min_length=1)
    refusal_choices: list[str] = Field(default_factory=lambda: ["refuse"])
    frames: FramesConfig = Field(default_factory=FramesConfig)
    audio: AudioConfig = Field(default_factory=AudioConfig)
    path: Path | None = Field(default=None, exclude=True)

    @field_validator("choices", mode="before")
    @classmethod
    def _no_yaml_booleans(cls, choices: object) -> object:
        if isinstance(choices, list) and any(isinstance(c, bool) for c in choices):
            raise ValueError(
                "YAML reads yes/no/on/off as true/false: quote them, e.g. ['yes', 'no']"
            )
        return choices

    @field_validator("manifest")
    @classmethod
    def _no_nul(cls, manifest: str | None) -> str | None:
        return manifest if manifest is None else _plain_path(manifest)

    @field_validator("prompt")
    @classmethod
    def _known_fields(cls, prompt: str) -> str:
        try:
            fields = {f for _, f, _, _ in string.Formatter().parse(prompt) if f is not None}
        except ValueError as error:
            raise ValueError(f"{error} (write {{{{ and }}}} for literal braces)") from None
        unknown = fields - {"question", "choices"}
        if not unknown:
            try:
                prompt.format(question="q", choices="a, b")
            except (ValueError, KeyError, IndexError) as error:
                raise ValueError(f"cannot be filled in ({error})") from None
        if unknown:
            raise ValueError(
                f"uses {{{', '.join(sorted(unknown))}}}; it may use {{question}}, {{choices}}"
            )
        return prompt

    @model_validator(mode="after")
    def _one_origin(self) -> Task:
        if (self.manifest is None) == (self.dataset is None):
            raise ValueError("give either manifest (a JSONL file) or dataset (a public dataset)")
        return self

    @property
    def source(self) -> str:
        return f"task/{self.id}-v{self.version}"

    @property
    def manifest_path(self) -> Path | None:
        if self.manifest is None:
            return None
        base = self.path.parent if self.path else Path.cwd()
        return (base / self.manifest).resolve()

    @property
    def media_root(self) -> Path:
        """The folder media paths are relative to."""
        if self.dataset is not None:
            return self.dataset.root.resolve()
        return self.manifest_path.parent  # type: ignore[union-attr]

    @property
    def where(self) -> str:
        """How errors name this task's samples: the manifest, or the dataset folder."""
        if self.dataset is not None:
            return f"{self.dataset.adapter} dataset at {self.dataset.root}"
        return str(self.manifest_path)

    def read_samples(self) -> list[tuple[ManifestSample, dict[str, Path]]]:
        """Every sample with its media paths (absolute, keyed by the relative path)."""
        if self.dataset is not None:
            from mmsafe.data.adapters import read_dataset

            return read_dataset(self.dataset.adapter, self.dataset.root, self.dataset.options)
        return read_manifest(self.manifest_path)  # type: ignore[arg-type]

    def content_hash(self, samples: list[tuple[ManifestSample, dict[str, Path]]]) -> str:
        """The task file, every sample as read and every media file: a run never mixes answers
        to changed questions or pictures (a missing file hashes as missing)."""
        digest = hashlib.sha256(self.path.read_bytes() if self.path else b"")
        for sample, _ in samples:
            digest.update(sample.model_dump_json().encode() + b"\n")
        root = self.media_root
        for path in sorted({p for _, media in samples for p in media.values()}):
            digest.update(str(path.relative_to(root)).encode() + b"\0")
            try:
                with path.open("rb") as file:
                    while chunk := file.read(1 << 20):
                        digest.update(chunk)
            except OSError:
                digest.update(b"missing")
        return digest.hexdigest()[:16]


def load_task(path: str | Path) -> Task:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        data = load_yaml(text)
    except FileNotFoundError:
        raise MmsafeError(f"task file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as error:
        raise MmsafeError(f"{path}: cannot read ({' '.join(str(error).split())[:200]})") from None
    except yaml.YAMLError as error:
        raise MmsafeError(f"{path}: not valid YAML{yaml_problem(error, text)}") from None
    if not isinstance(data, dict):
        raise MmsafeError(f"{path}: a task is a YAML mapping")
    try:
        return Task.model_validate({**data, "path": path.resolve()})
    except ValidationError as error:
        raise MmsafeError(f"{path}: {validation_message(error)}") from None


def task_dirs() -> list[Path]:
    extra = [Path(p) for p in os.environ.get("MMSAFE_TASKS_PATH", "").split(os.pathsep) if p]
    return [content_dir("tasks"), *extra]


def task_index() -> dict[str, Path]:
    """Task id (and source) -> file, for every task in the task folders."""
    index: dict[str, Path] = {}
    for folder in task_dirs():
        for path in sorted(folder.glob("*.yaml")):
            if path.name.startswith("_"):
                continue
            task = load_task(path)
            if task.source in index:
                raise MmsafeError(f"{path} and {index[task.source]} both declare {task.source}")
            index[task.source] = index[task.id] = path
    return index


def resolve_task(name: str) -> Task:
    """A task by id, source (`task/Id-v0`) or path to its YAML file."""
    if name.endswith((".yaml", ".yml")):
        return load_task(name)
    index = task_index()
    if name not in index:
        known = ", ".join(sorted(k for k in index if not k.startswith("task/"))) or "none"
        raise MmsafeError(f"unknown task '{name}'; choose one of: {known}, or give a path")
    return load_task(index[name])
