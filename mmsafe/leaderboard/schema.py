"""The submission bundle's schema (version 1), as pydantic models, and its validation.

A bundle is a few flat files (see `archive.BUNDLE_FILES`):

- `submission.json`: `Submission`: who (model, version, agent config), on what (suite, seeds).
- `manifest.json`: `Manifest`: SHA-256 of every other file and of the suite content it ran on.
- `episodes.jsonl`: one `BundleEpisode` per line: each env episode's seed and actions, each
  media sample's replies.
- `metrics.json`: the figures the run claims (verification recomputes them).
- `verdicts.jsonl`, `judges.json`: the submitter's judges' verdicts and fingerprints (optional).

Every model forbids unknown fields, so JSON that is not the schema is refused, not half-read.
`validate_bundle` reports every problem with where it is and how to fix it. The JSON Schema
files in `leaderboard/schema/v1/` are exported from these models (`mmsafe leaderboard schema`).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from mmsafe.core import (
    HELDOUT_SEED_BASE,
    EpisodeRecord,
    Event,
    Judgement,
    MmsafeError,
    StepRecord,
    TraceEntry,
    episode_key,
)
from mmsafe.leaderboard.archive import Limits, read_bundle_files
from mmsafe.run.results import RunMetrics
from mmsafe.run.units import arm_of, env_units

SCHEMA_VERSION = 1
SCHEMA_DOCS = "leaderboard/schema/v1/"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ModelInfo(_Strict):
    name: str = Field(min_length=1, max_length=200)  # shown on the board as text
    version: str = Field(default="", max_length=200)


EnvId = Annotated[str, Field(pattern=r"^mmsafe/[A-Za-z0-9]+-v[0-9]+$")]
TaskSource = Annotated[str, Field(pattern=r"^task/[A-Za-z0-9]+-v[0-9]+$")]
Seed = Annotated[int, Field(strict=True, ge=0, lt=HELDOUT_SEED_BASE)]


class SuiteInfo(_Strict):
    name: str = Field(max_length=200)
    envs: list[EnvId] = Field(default=[], max_length=1000)  # env ids
    seeds: list[Seed] = Field(default=[], max_length=100_000)  # public seeds only
    tasks: list[TaskSource] = Field(default=[], max_length=1000)  # media task sources
    env_kwargs: dict[str, Any] = {}
    max_invalid: int = Field(default=5, ge=1)

    @field_validator("envs", "seeds", "tasks")
    @classmethod
    def _once_each(cls, values: list) -> list:
        if len(set(values)) != len(values):
            raise ValueError("lists an item more than once")
        return values


class Submission(_Strict):
    format: Literal["mmsafe-submission"] = "mmsafe-submission"
    schema_version: Literal[1] = SCHEMA_VERSION
    mmsafe_version: str = Field(max_length=50)
    created: datetime
    model: ModelInfo
    agent: dict[str, Any]  # the agent's config as run; data only, never instantiated from here
    agent_class: str = Field(default="", max_length=300)  # module.qualname of the agent run
    privileged: bool = False  # the agent read the simulator's state (a reference, not a model)
    wrappers: dict[str, Any] = {}  # reflect / shield sections, where the run used them
    agent_fingerprint: dict[str, Any] | None = None  # prompt template hash, weights, settings
    prompt_sha256: str | None = None
    # what the run's states came from, where a simulator replays only on its own version:
    # {"mujoco": "3.3.5", "platform": "Linux-x86_64"}
    simulator: dict[str, str] = {}
    suite: SuiteInfo


class Manifest(_Strict):
    schema_version: Literal[1] = SCHEMA_VERSION
    files: dict[str, str]  # bundle file -> SHA-256 of its bytes
    suite: dict[str, str]  # suite content (env:, catalog, task:, samples:, media:) -> SHA-256


# Episode records as a bundle holds them: the run's own models, with unknown fields refused.
class BundleEvent(Event):
    model_config = ConfigDict(extra="forbid")


class BundleTrace(TraceEntry):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BundleStep(StepRecord):
    model_config = ConfigDict(extra="forbid")
    events: list[BundleEvent] = []
    trace: list[BundleTrace] = []


class BundleEpisode(EpisodeRecord):
    model_config = ConfigDict(extra="forbid")
    steps: list[BundleStep]


class BundleJudgement(Judgement):
    model_config = ConfigDict(extra="forbid")


SCHEMAS: dict[str, type[BaseModel]] = {
    "metrics": RunMetrics,
    "submission": Submission,
    "manifest": Manifest,
    "episode": BundleEpisode,
    "judgement": BundleJudgement,
}


def export_schemas(folder: Path) -> list[Path]:
    """Write `<name>.schema.json` for each model into `folder`; returns the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, model in SCHEMAS.items():
        schema = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"https://mmsafe.dev/schema/v{SCHEMA_VERSION}/{name}.schema.json",
            **model.model_json_schema(),
        }
        path = folder / f"{name}.schema.json"
        path.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")
        written.append(path)
    return written


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a bundle: where (file and field), what, and how to fix it."""

    where: str
    what: str
    fix: str = ""

    def __str__(self) -> str:
        return f"{self.where}: {self.what}" + (f" (fix: {self.fix})" if self.fix else "")


@dataclass
class Bundle:
    """A bundle read and checked against the schema (not yet verified by replay)."""

    path: Path
    submission: Submission
    manifest: Manifest
    episodes: list[EpisodeRecord]
    metrics: dict[str, Any]
    judgements: list[Judgement]
    judges: dict[str, Any]
    sha256: str  # of manifest.json: one hash that names this exact bundle

    @property
    def model_name(self) -> str:
        return self.submission.model.name


class InvalidBundle(MmsafeError):
    def __init__(self, path: Path, problems: list[Problem]):
        self.problems = problems
        shown = "\n  ".join(str(p) for p in problems[:20])
        more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
        super().__init__(f"{path} is not a valid submission bundle:\n  {shown}{more}")


def _fix_for(error: dict) -> str:
    kind = error["type"]
    if kind == "missing":
        return f"add this field (see {SCHEMA_DOCS})"
    if kind == "extra_forbidden":
        return f"remove it; schema v{SCHEMA_VERSION} has no such field"
    if kind == "literal_error":
        return "pack the run again with `mmsafe leaderboard pack`"
    return f"see {SCHEMA_DOCS} for the field's type"


def _problems(where: str, error: ValidationError) -> list[Problem]:
    out = []
    for item in error.errors()[:5]:
        field = _shown(".".join(str(part) for part in item["loc"]))
        message = _shown(item["msg"].removeprefix("Value error, "), 300)
        out.append(Problem(f"{where}: {field}" if field else where, message, _fix_for(item)))
    return out


def _json_object(name: str, data: bytes, problems: list[Problem]) -> dict | None:
    try:
        value = json.loads(data)
    except RecursionError:
        problems.append(Problem(name, "nested too deeply to be an mmsafe file", "pack again"))
        return None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        problems.append(Problem(name, f"not JSON ({error})", "pack the run again"))
        return None
    except ValueError:  # a number of thousands of digits
        problems.append(Problem(name, "holds a number too long to read", "pack the run again"))
        return None
    if not isinstance(value, dict):
        problems.append(Problem(name, "must be a JSON object", "pack the run again"))
        return None
    return value


_TEXT = re.compile(rb"[^\r\n]+")


def _numbered_lines(data: bytes) -> Iterator[tuple[int, bytes]]:
    """(number, line) of each non-empty line, numbered as `data.splitlines()` would, one at a
    time: a file of millions of empty lines never becomes a list of millions."""
    number, at = 1, 0
    for match in _TEXT.finditer(data):
        start = match.start()
        breaks = data.count(b"\n", at, start) + data.count(b"\r", at, start)
        number += breaks - data.count(b"\r\n", at, start)
        at = start
        yield number, match.group()


def _lines(name: str, data: bytes, model: type[BaseModel], problems: list[Problem]) -> list:
    out = []
    for number, line in _numbered_lines(data):
        if not line.strip():
            continue
        try:
            out.append(model.model_validate_json(line))
        except RecursionError:
            problems.append(Problem(f"{name} line {number}", "nested too deeply", "pack again"))
            break
        except ValidationError as error:
            problems.extend(_problems(f"{name} line {number}", error))
            if len(problems) > 50:
                break
    return out


def read_bundle(path: str | Path, limits: Limits = Limits()) -> Bundle:
    """Read a bundle (folder or archive) safely and check it against the schema and its own
    manifest. Raises BundleError for an unsafe archive, InvalidBundle listing every problem."""
    path = Path(path)
    files = read_bundle_files(path, limits)
    problems: list[Problem] = []
    raw_manifest = _json_object("manifest.json", files["manifest.json"], problems)
    raw_submission = _json_object("submission.json", files["submission.json"], problems)
    metrics = _json_object("metrics.json", files["metrics.json"], problems)
    manifest = submission = None
    if raw_manifest is not None:
        try:
            manifest = Manifest.model_validate(raw_manifest)
        except ValidationError as error:
            problems.extend(_problems("manifest.json", error))
    if raw_submission is not None:
        try:
            submission = Submission.model_validate(raw_submission)
        except ValidationError as error:
            problems.extend(_problems("submission.json", error))
    if manifest is not None:
        problems += _check_hashes(files, manifest)
    episodes = [
        EpisodeRecord.model_validate(e.model_dump())
        for e in _lines("episodes.jsonl", files["episodes.jsonl"], BundleEpisode, problems)
    ]
    judgements = [
        Judgement.model_validate(j.model_dump())
        for j in _lines(
            "verdicts.jsonl", files.get("verdicts.jsonl", b""), BundleJudgement, problems
        )
    ]
    judges = {}
    if "judges.json" in files:
        judges = _json_object("judges.json", files["judges.json"], problems) or {}
    if submission is not None and not problems:
        problems += _check_episodes(submission, episodes)
    if metrics is not None:
        try:
            RunMetrics.model_validate(metrics)
        except ValidationError as error:
            problems.extend(_problems("metrics.json", error))
    if any(not isinstance(entry, dict) for entry in judges.values()):
        problems.append(Problem("judges.json", "each judge must be an object", "pack again"))
    if problems:
        raise InvalidBundle(path, problems)
    assert manifest is not None and submission is not None and metrics is not None
    return Bundle(
        path=path,
        submission=submission,
        manifest=manifest,
        episodes=episodes,
        metrics=metrics,
        judgements=judgements,
        judges=judges,
        sha256=hashlib.sha256(files["manifest.json"]).hexdigest(),
    )


def _check_hashes(files: dict[str, bytes], manifest: Manifest) -> list[Problem]:
    problems = []
    listed = set(manifest.files)
    for name, data in sorted(files.items()):
        if name == "manifest.json":
            continue
        if name not in listed:
            problems.append(Problem(f"manifest.json: files.{name}", "missing", "pack again"))
        elif hashlib.sha256(data).hexdigest() != manifest.files[name]:
            problems.append(
                Problem(
                    name,
                    "its SHA-256 does not match manifest.json: the file changed after packing",
                    "pack the run again with `mmsafe leaderboard pack`",
                )
            )
    for name in sorted(listed - set(files) - {"manifest.json"}):
        problems.append(
            Problem(name, "listed in manifest.json but not in the bundle", "pack again")
        )
    return problems


def _shown(text: str, limit: int = 100) -> str:
    """Submitted text as a problem shows it: control characters escaped (a newline or a terminal
    escape cannot break or forge the report's lines), cut to `limit` characters."""
    shown = repr(text)[1:-1]
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."


def _check_episodes(submission: Submission, episodes: list[EpisodeRecord]) -> list[Problem]:
    """The records are exactly the suite's work: every (env, seed) once, samples only of the
    named tasks, keys that say what they are, and a state digest on every env step."""
    suite, problems = submission.suite, []
    seen: set[str] = set()
    for number, record in enumerate(episodes, 1):
        where = f"episodes.jsonl line {number} ({_shown(record.key)})"
        if record.key in seen:
            problems.append(Problem(where, "a second record of this episode", "keep one"))
        seen.add(record.key)
        if record.sample is None:
            if record.source not in suite.envs or record.seed not in suite.seeds:
                problems.append(
                    Problem(where, "not one of submission.json's suite.envs x suite.seeds")
                )
            arm = arm_of(record.source, record.variant, suite.env_kwargs)
            if record.key != episode_key(record.source, record.seed, arm):
                problems.append(
                    Problem(f"{where}: key", "does not match its source, variant and seed")
                )
            if any(step.state is None for step in record.steps):
                problems.append(
                    Problem(
                        f"{where}: steps.state",
                        "missing (the replay checks each step's world state)",
                        "run the episodes again with this mmsafe version",
                    )
                )
        else:
            if record.source not in suite.tasks:
                problems.append(Problem(f"{where}: source", "not one of suite.tasks"))
            if record.key != f"{record.source}#sample={record.sample}":
                problems.append(Problem(f"{where}: key", "does not match its source and sample"))
    wanted = {unit.key for unit in env_units(suite.envs, suite.seeds, suite.env_kwargs)}
    missing = sorted(wanted - seen)
    if missing:
        problems.append(
            Problem(
                "episodes.jsonl",
                f"{len(missing)} episodes of the suite are missing, e.g. {missing[0]}",
                "submit every seed of every env (a run cannot leave episodes out)",
            )
        )
    return problems
