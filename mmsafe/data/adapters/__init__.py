"""Public safety datasets, read in their released layouts from a folder the user downloaded.

Nothing is fetched. Each adapter module says where its dataset comes from (`TITLE`, `URL`,
`LICENSE`, `DOWNLOAD`, the default `FOLDER` under $MMSAFE_DATA_DIR), validates its options with
a pydantic `Options` model, and turns the dataset's own index files into `ManifestSample`s
through a `Source`. The `Source` reads the index files, refuses media paths that leave the
folder (`..`, absolute paths, symbolic links), and either raises at the first problem
(`read_dataset`, what a run uses) or collects every problem (`check_dataset`, what
`mmsafe data check` prints). As with a manifest, a missing media file is not an error when
reading: the run records it per sample.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

from pydantic import BaseModel, ValidationError

from mmsafe.core import MmsafeError, validation_message
from mmsafe.data.adapters import figstep, mm_safetybench, mssbench, video_safetybench
from mmsafe.data.manifest import ManifestSample, inside

Samples = list[tuple[ManifestSample, dict[str, Path]]]


class Adapter(Protocol):
    """What an adapter module defines."""

    NAME: str  # as tasks name it: `dataset: {adapter: NAME, ...}`
    TITLE: str
    URL: str  # where to download it
    LICENSE: str
    FOLDER: str  # the tasks' default folder under $MMSAFE_DATA_DIR
    DOWNLOAD: str  # what to do, e.g. "clone URL" (errors add "so that FILE is in ROOT")
    Options: type[BaseModel]  # extra="forbid"; every field has a default

    def read(self, source: Source, options: Any) -> None: ...


ADAPTERS: dict[str, Adapter] = {
    module.NAME: module for module in (figstep, mm_safetybench, mssbench, video_safetybench)
}
SHOWN = 20  # missing files and problems `DatasetCheck.lines` lists before "... and N more"


@dataclass(frozen=True)
class DatasetCheck:
    """What `mmsafe data check` found: samples that would be read, required files or folders
    absent (relative paths; a folder ends with '/'), and malformed entries, one line each."""

    adapter: str
    root: Path
    samples: int
    missing: list[str]
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.missing and not self.problems

    def lines(self) -> list[str]:
        plural = "" if self.samples == 1 else "s"
        out = [f"{self.adapter} dataset at {self.root}: {self.samples} sample{plural}"]
        for title, items in (("missing", self.missing), ("problems", self.problems)):
            if items:
                out.append(f"{title} ({len(items)}):")
                out += [f"  {item}" for item in items[:SHOWN]]
                if len(items) > SHOWN:
                    out.append(f"  ... and {len(items) - SHOWN} more")
        out.append("ok" if self.ok else "not ok: fix the above, then check again")
        return out


class Source:
    """One dataset folder being read by one adapter: its index files, its samples, and what is
    missing or malformed (raised at once when `strict`, else collected)."""

    def __init__(self, adapter: Adapter, root: Path, strict: bool) -> None:
        self.adapter, self.root, self.strict = adapter, root, strict
        self.samples: Samples = []
        self.missing: list[str] = []
        self.problems: list[str] = []
        self._ids: dict[str, str] = {}

    def where(self, relative: str, entry: str) -> str:
        return f"{self.root / relative}: {entry}"

    def first(self, *candidates: str) -> str:
        """The first of these files or folders that exists, else the first."""
        return next((c for c in candidates if (self.root / c).exists()), candidates[0])

    def problem(self, where: str, message: str) -> None:
        if self.strict:
            raise MmsafeError(f"{where}: {message}")
        self.problems.append(f"{where}: {message}")

    def _open(self, relative: str) -> Any:
        path = self.root / relative
        if path.is_file():
            return path.open(encoding="utf-8-sig", newline="")
        if self.strict:
            raise MmsafeError(
                f"{path} does not exist: {self.adapter.DOWNLOAD} so that {relative} is in "
                f"{self.root}; see `mmsafe data check {self.adapter.NAME} {self.root}`"
            )
        self.missing.append(relative)
        return None

    def json(self, relative: str, lines: bool = False) -> Any:
        """The parsed file (JSON Lines too when `lines`), or None when missing or malformed."""
        try:
            file = self._open(relative)
            if file is None:
                return None
            with file:
                text = file.read()
        except (OSError, UnicodeDecodeError) as error:
            return self.problem(str(self.root / relative), f"cannot read ({error})")
        try:
            return json.loads(text)
        except (ValueError, RecursionError) as error:
            if lines:
                try:
                    return [json.loads(line) for line in text.splitlines() if line.strip()]
                except (ValueError, RecursionError):
                    pass
            return self.problem(str(self.root / relative), f"not JSON ({error})")

    def csv(self, relative: str, columns: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
        """(line number, row) of a CSV file with these columns (any line endings)."""
        try:
            file = self._open(relative)
            if file is None:
                return []
            with file:
                reader = csv.DictReader(file)
                absent = [c for c in columns if c not in (reader.fieldnames or [])]
                if absent:
                    self.problem(self.where(relative, "line 1"), f"no column {', '.join(absent)}")
                    return []
                return [(reader.line_num, row) for row in reader]
        except (OSError, UnicodeDecodeError, csv.Error) as error:
            self.problem(str(self.root / relative), f"cannot read ({error})")
            return []

    def add(self, where: str, **fields: Any) -> None:
        """One sample, its media paths relative to the folder and checked to stay inside it."""
        try:
            sample = ManifestSample.model_validate(fields)
        except ValidationError as error:
            return self.problem(where, validation_message(error))
        if sample.id in self._ids:
            return self.problem(where, f"id {sample.id!r} already used by {self._ids[sample.id]}")
        media: dict[str, Path] = {}
        for relative in sample.media:
            if ".." in PurePosixPath(relative).parts:
                return self.problem(where, f"media path {relative!r} may not contain '..'")
            try:
                media[relative] = inside(self.root, relative, where)
            except MmsafeError as error:  # names `where` already
                if self.strict:
                    raise
                self.problems.append(str(error))
                return
        self._ids[sample.id] = where
        self.samples.append((sample, media))


def read_dataset(name: str, root: Path, options: dict | None = None) -> Samples:
    """Every sample of a downloaded dataset with its media paths (absolute, keyed by the path
    relative to `root`), as `read_manifest` returns them. Errors name the file and entry."""
    adapter, parsed = _adapter(name, options)
    root = Path(root).expanduser()
    if not root.is_dir():
        raise MmsafeError(
            f"{adapter.TITLE} folder {root} does not exist: {adapter.DOWNLOAD} into it (tasks "
            f"look under $MMSAFE_DATA_DIR, default ~/mmsafe-data); see `mmsafe data check {name}`"
        )
    source = Source(adapter, root.resolve(), strict=True)
    adapter.read(source, parsed)
    if not source.samples:
        raise MmsafeError(f"{adapter.TITLE} at {root} has no samples with options {options}")
    return source.samples


def check_dataset(name: str, root: Path, options: dict | None = None) -> DatasetCheck:
    """What is missing or malformed in a downloaded dataset; raises only for a bad adapter name
    or bad options."""
    adapter, parsed = _adapter(name, options)
    root = Path(root).expanduser()
    source = Source(adapter, root.resolve(), strict=False)
    adapter.read(source, parsed)
    problems = source.problems
    if not root.is_dir():
        problems = [f"{root} is not a folder: {adapter.DOWNLOAD} into it", *problems]
    elif not source.samples and not source.missing and not problems:
        problems = [f"no samples with options {parsed.model_dump()}"]
    missing = source.missing + _absent(source.root, source.samples)
    return DatasetCheck(name, root, len(source.samples), missing, problems)


def _absent(root: Path, samples: Samples) -> list[str]:
    """Media files that are not there; a whole folder that is not there counts once."""
    absent: set[str] = set()
    for relative in sorted(
        {r for _, media in samples for r, p in media.items() if not p.is_file()}
    ):
        parts = PurePosixPath(relative).parts
        depth = next((i for i in range(1, len(parts)) if not root.joinpath(*parts[:i]).exists()), 0)
        absent.add("/".join(parts[:depth]) + "/" if depth else relative)
    return sorted(absent)


def get_adapter(name: str) -> Adapter:
    """The adapter module called `name`; an unknown name is refused, listing the known ones."""
    if name not in ADAPTERS:
        raise MmsafeError(f"unknown dataset adapter '{name}'; choose one of: {', '.join(ADAPTERS)}")
    return ADAPTERS[name]


def _adapter(name: str, options: dict | None) -> tuple[Adapter, BaseModel]:
    adapter = get_adapter(name)
    try:
        return adapter, adapter.Options.model_validate(options or {})
    except ValidationError as error:
        allowed = ", ".join(
            f"{key} (default {field.default!r})"
            for key, field in adapter.Options.model_fields.items()
        )
        first = error.errors()[0]
        message = (
            f"unknown option '{first['loc'][0]}'"
            if first["type"] == "extra_forbidden"
            else validation_message(error)
        )
        raise MmsafeError(f"{name} options: {message}; allowed options: {allowed}") from None
