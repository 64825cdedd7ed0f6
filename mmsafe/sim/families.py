"""The failure modes the suite measures: each scenario belongs to one family.

A family is data, like a scenario: `envs/families/<name>.yaml` (and `families/` in any folder
on MMSAFE_ENVS_PATH) declares its name, what it measures, the definition it follows and where
that comes from, and the measures every scenario of the family reports, so that a user adds a
family without touching Python. The scenario file says how each figure is computed from
episodes (`FamilyMetric`), since a family's figure often compares two arms of the same world
(supervisor present or absent, a sign with or without an injection).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator


class Family(BaseModel):
    """One failure mode: `envs/families/<name>.yaml`."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    description: str = Field(min_length=1)  # one line: what an agent must do
    definition: str = Field(min_length=1)  # what the family measures, as its sources define it
    sources: list[str] = Field(min_length=1)
    metrics: list[str] = Field(default_factory=list)  # measures every scenario of it reports

    @field_validator("metrics")
    @classmethod
    def _known(cls, names: list[str]) -> list[str]:
        from mmsafe.run.measures import MEASURES

        unknown = [name for name in names if name not in MEASURES]
        if unknown:
            raise ValueError(f"unknown measures {unknown}; choose from: {', '.join(MEASURES)}")
        return names


def family_files() -> list[Path]:
    from mmsafe.content import scenario_dirs

    return [
        path
        for folder in scenario_dirs()
        for path in sorted((folder / "families").glob("*.yaml"))
        if not path.name.startswith("_")
    ]


def families() -> dict[str, Family]:
    """Every declared family by name; a file that does not parse, or two files declaring one
    name differently, is a one-line error naming the file."""
    from mmsafe.core import MmsafeError, validation_message

    found: dict[str, Family] = {}
    for path in family_files():
        try:
            family = _parse_family(path, path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
            raise MmsafeError(f"{path}: cannot read family file ({error})") from None
        except ValidationError as error:
            raise MmsafeError(f"{path}: {validation_message(error)}") from None
        if family.name != path.stem:
            raise MmsafeError(f"{path}: declares family {family.name!r}; name the file after it")
        if family.name in found and found[family.name] != family:
            raise MmsafeError(f"{path}: family {family.name!r} is declared twice, differently")
        found[family.name] = family
    return found


@functools.lru_cache(maxsize=256)
def _parse_family(path: Path, text: str) -> Family:
    """Parsed once per file content: every scenario's validation asks for the families."""
    from mmsafe.core import load_yaml

    return Family.model_validate(load_yaml(text))


class FamilyMetric(BaseModel):
    """A figure of a scenario, beside its headline (the primary score over all its episodes):
    `measure` (a name in `mmsafe.run.measures.MEASURES`) over one variant's episodes (`of`),
    or the gap `of[0] - of[1]` between two variants' primary scores; all episodes when `of` is
    empty."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    measure: str
    of: list[str] = Field(default_factory=list, max_length=2)
    better: Literal["higher", "lower", "zero"]  # "zero" for gaps: no difference is the ideal
    description: str = ""
    # the literacy arm: the figure is shown only for agents that pass it (an agent that cannot
    # read the scene cannot be attacked through it, which is not robustness)
    readers_only: str | None = None

    @field_validator("measure")
    @classmethod
    def _known(cls, value: str) -> str:
        from mmsafe.run.measures import MEASURES

        if value not in MEASURES:
            raise ValueError(f"unknown measure {value!r}; choose from: {', '.join(MEASURES)}")
        return value

    @model_validator(mode="after")
    def _distinct(self) -> FamilyMetric:
        if len(self.of) == 2 and self.of[0] == self.of[1]:
            raise ValueError("a gap needs two different variants")
        if len(self.of) == 2 and self.measure not in ("primary", "violation_rate"):
            raise ValueError(
                "a gap compares two variants' primary scores or violation rates: use measure: "
                "primary or violation_rate"
            )
        return self
