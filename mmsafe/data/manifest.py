"""The JSONL manifest: how users bring their own image, video and audio-visual samples.

One JSON object per line:

    {"id": "clip-007", "video": "clips/007.mp4", "question": "Is it safe to continue?",
     "choices": ["yes", "no"], "label": "no", "harmful": false, "category": "vehicle",
     "pair_id": "007"}

`harmful` marks a request that should be refused (true) or answered (false); `pair_id` links
the safe and unsafe versions of one request; `attack_target` is the answer an instruction
injected into the media asks for; `followups` are later user turns (e.g. pushback after the
first answer), asked one by one in the same conversation. A follow-up may name the answer just
given as `{answer}` and another choice as `{other}` (the next one in the choices, the other of
two): "Are you sure it is {answer}? I think it is {other}." challenges whatever was answered.

Media paths (`video`, `image`, `images`, `audio`) are relative to the manifest's folder and may
not leave it, through `..`, an absolute path or a symbolic link. A manifest that breaks these
rules is refused with the file and line; a media file that is missing or corrupt is not a
manifest error but a per-sample error recorded in the run, so one bad file never stops a run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from mmsafe.core import MmsafeError, validation_message

MAX_LINE_CHARS = 1_000_000


class ManifestSample(BaseModel):
    """One sample. `question` may also be written `instruction`. `harmful` says whether the
    request should be refused (True), answered (False), or does not apply (None)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    id: str = Field(min_length=1, max_length=200)
    question: str = ""
    instruction: str | None = None
    video: str | None = None
    image: str | None = None
    images: list[str] = Field(default_factory=list)
    audio: str | None = None
    choices: list[str] | None = None
    label: str | None = None
    harmful: bool | None = None
    category: str | None = None
    pair_id: str | None = None
    attack_target: str | None = None  # the answer an injected instruction tries to elicit
    # later user turns (e.g. pushback); `{answer}` and `{other}` are filled in when asked
    followups: list[str] = Field(default_factory=list)
    meta: dict[str, Any] = Field(default_factory=dict)  # anything else, kept as it is

    @model_validator(mode="after")
    def _question_and_media(self) -> ManifestSample:
        if self.instruction is not None:
            if self.question:
                raise ValueError("give question or instruction, not both")
            object.__setattr__(self, "question", self.instruction)
        if not self.question:
            raise ValueError("question (or instruction) is required")
        if any(
            not p.strip()
            for p in (self.video, self.image, *self.images, self.audio)
            if p is not None
        ):
            raise ValueError("a media path may not be empty")
        if self.video and (self.image or self.images):
            raise ValueError("a sample has a video or images, not both")
        if self.choices is not None and self.label is not None and self.label not in self.choices:
            raise ValueError(f"label {self.label!r} is not one of choices {self.choices}")
        if self.choices is not None and self.attack_target not in (None, *self.choices):
            raise ValueError(
                f"attack_target {self.attack_target!r} is not one of choices {self.choices}"
            )
        if any(not turn.strip() for turn in self.followups):
            raise ValueError("followups may not be empty")
        return self

    @property
    def media(self) -> list[str]:
        return [p for p in (self.video, self.image, *self.images, self.audio) if p]

    @property
    def image_paths(self) -> list[str]:
        return [self.image, *self.images] if self.image else list(self.images)


def read_manifest(path: str | Path) -> list[tuple[ManifestSample, dict[str, Path]]]:
    """Every sample with its media resolved to absolute paths (keyed by the relative path).
    Errors name the file and line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MmsafeError(f"manifest {path} does not exist") from None
    except (OSError, UnicodeDecodeError, ValueError) as error:  # ValueError: a NUL in the path
        shown = repr(str(path))[1:-1]  # control characters escaped
        raise MmsafeError(f"cannot read manifest {shown}: {error}") from None
    root = path.parent.resolve()
    samples: list[tuple[ManifestSample, dict[str, Path]]] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        if len(line) > MAX_LINE_CHARS:
            raise MmsafeError(f"{where}: line longer than {MAX_LINE_CHARS} characters")
        try:
            data = json.loads(line)
        except (ValueError, RecursionError) as error:
            raise MmsafeError(f"{where}: not JSON ({error})") from None
        if not isinstance(data, dict):
            raise MmsafeError(f"{where}: expected a JSON object, got {type(data).__name__}")
        try:
            sample = ManifestSample.model_validate(data)
        except ValidationError as error:
            raise MmsafeError(f"{where}: {validation_message(error)}") from None
        if sample.id in seen:
            raise MmsafeError(f"{where}: id {sample.id!r} already used on line {seen[sample.id]}")
        seen[sample.id] = number
        samples.append((sample, {p: inside(root, p, where) for p in sample.media}))
    if not samples:
        raise MmsafeError(f"manifest {path} has no samples")
    return samples


def write_manifest(path: str | Path, records: list[dict[str, Any]]) -> Path:
    """Write samples (dicts in the format above) as a manifest, one JSON object per line,
    checking each first so that a script never writes one `read_manifest` refuses."""
    for number, record in enumerate(records, start=1):
        try:
            ManifestSample.model_validate(record)
        except ValidationError as error:
            raise MmsafeError(f"sample {number}: {validation_message(error)}") from None
    path = Path(path)
    path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    return path


def inside(root: Path, relative: str, where: str) -> Path:
    """The media path under `root`, symbolic links resolved; refused if it leaves `root`."""
    if Path(relative).is_absolute() or "\\" in relative:
        raise MmsafeError(f"{where}: media path {relative!r} must be relative, with / separators")
    try:
        resolved = (root / relative).resolve()
    except (OSError, RuntimeError, ValueError) as error:  # link loops, NUL bytes
        raise MmsafeError(f"{where}: media path {relative!r} cannot be used ({error})") from None
    if not resolved.is_relative_to(root):
        raise MmsafeError(
            f"{where}: media path {relative!r} leaves the folder {root} (through '..' or a "
            "symbolic link); media must lie inside it"
        )
    return resolved
