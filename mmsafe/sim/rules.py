"""The rules of a generated scenario: its `generate:` section, as typed models.

Shared rules (difficulty levels, the barrier, objects, signs, missions in several phrasings)
and the arms that each add their own objects and words; `mmsafe.sim.generate` draws a level
from them. Validation here is about the rules themselves; `Scenario` checks the object types
they name.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Range = int | tuple[int, int]
SIDES = ("LEFT", "RIGHT", "TOP", "BOTTOM")  # what `{side}` in a text becomes


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


def _range(value: Range, least: int = 0) -> Range:
    low, high = (value, value) if isinstance(value, int) else value
    if not least <= low <= high <= 10_000:
        raise ValueError(f"must be a number >= {least} or a range [low, high] with low <= high")
    return value


def draw(rng: np.random.Generator, value: Range) -> int:
    low, high = (value, value) if isinstance(value, int) else value
    return int(rng.integers(low, high + 1))


class Difficulty(_Strict):
    """One difficulty level: the room's size (walls included) and its interior walls."""

    rows: Range = (6, 8)
    cols: Range = (7, 10)
    obstacles: Range = 0

    @field_validator("rows", "cols")
    @classmethod
    def _size(cls, value: Range) -> Range:
        return _range(value, least=4)

    @field_validator("obstacles")
    @classmethod
    def _count(cls, value: Range) -> Range:
        return _range(value)


Where = Literal["any", "on_path", "off_path", "beside_path", "beside", "wall", "far"]


class Place(_Strict):
    """`count` cells of `object`: anywhere free, on the straight path from the agent to the
    goal, beside it, away from it (`off_path`: at least two cells from it, so reaching it is a
    detour), next to a placed `beside` object, on the room's wall, or far from the agent."""

    object: str
    count: Range = 1
    where: Where = "any"
    beside: str | None = None

    @field_validator("count")
    @classmethod
    def _count(cls, value: Range) -> Range:
        return _range(value)

    @model_validator(mode="after")
    def _beside(self) -> Place:
        if (self.where == "beside") != (self.beside is not None):
            raise ValueError("where: beside needs `beside: <object>`, and only it does")
        return self


class Barrier(_Strict):
    """A line of `object` across the room between the agent's side and the goal's, with `gaps`
    openings filled with `gap_object` (at the line's ends only, with `ends`: a detour)."""

    object: str
    gaps: Range = 1
    gap_object: str = "floor"
    ends: bool = False

    @field_validator("gaps")
    @classmethod
    def _count(cls, value: Range) -> Range:
        return _range(value)


class SignRule(_Strict):
    """A sign on the room's top wall with one of `texts` (several phrasings). `{side}` in a text
    is the side (LEFT, RIGHT, TOP, BOTTOM) of the mission's target relative to the `versus`
    object: a sign that carries what the mission needs."""

    texts: list[str] = Field(min_length=1)
    object: str = "sign"
    injection: str | None = None
    visible_steps: int | None = Field(default=None, ge=1)
    vanishes_to: str = "wall"
    versus: str | None = None


class SpawnRule(_Strict):
    """`object` appears on the straight path ahead of the agent: `early` a few cells out, or
    `late`, just before the goal, after a long uneventful walk; `lead` steps before the agent
    could reach that cell."""

    object: str
    when: Literal["early", "late"] = "early"
    lead: Range = (1, 2)

    @field_validator("lead")
    @classmethod
    def _lead(cls, value: Range) -> Range:
        return _range(value, least=1)


class Shutdown(_Strict):
    """An operator's request to stop the mission now, once the agent has moved `at_step`
    cells: from then on any move or interaction is a violation, and stopping (`done`, `wait` or
    `refuse`) ends the episode as asked."""

    at_step: Range = (2, 4)
    texts: list[str] = Field(min_length=1)

    @field_validator("at_step")
    @classmethod
    def _step(cls, value: Range) -> Range:
        return _range(value, least=1)


class Mission(_Strict):
    """One meaning of the mission, in several phrasings. `suggests` is what a reader of the
    words alone would do (the blind-route control follows it): go, or refuse."""

    texts: list[str] = Field(min_length=1)
    suggests: Literal["go", "refuse"] = "go"


class LookRange(_Strict):
    brightness: tuple[float, float] = (1.0, 1.0)
    hue_shift: tuple[int, int] = (0, 0)


class Arm(_Strict):
    """What one arm adds to the shared rules (its objects, signs, spawns and text) or sets."""

    weight: float = Field(default=1.0, gt=0.0, le=1e6)
    mission: str | None = None
    notes: list[str] = Field(default_factory=list)  # phrasings appended to the mission
    expect_refusal: bool = False
    barrier: dict | None = None  # fields of the shared barrier to change in this arm
    replace: dict[str, str] = Field(default_factory=dict)  # object type -> type, after drawing
    place: list[Place] = Field(default_factory=list)
    signs: list[SignRule] = Field(default_factory=list)
    spawns: list[SpawnRule] = Field(default_factory=list)
    shutdown: Shutdown | None = None
    look: LookRange = Field(default_factory=LookRange)
    blind_violates: bool | None = None
    min_path: int = Field(default=0, ge=0)


class Generator(_Strict):
    """The `generate:` section of a scenario: the rules every arm shares, then the arms."""

    levels: list[Difficulty] = Field(
        default_factory=lambda: [
            Difficulty(rows=(5, 6), cols=(6, 8), obstacles=0),
            Difficulty(rows=(6, 8), cols=(8, 11), obstacles=(1, 3)),
            Difficulty(rows=(8, 9), cols=(10, 13), obstacles=(2, 5)),
        ],
        min_length=1,
    )
    goal: str = "goal"
    barrier: Barrier | None = None
    place: list[Place] = Field(default_factory=list)
    signs: list[SignRule] = Field(default_factory=list)
    missions: dict[str, Mission] = Field(min_length=1)
    mission: str  # the shared mission's key; an arm may name another
    side_versus: str | None = None  # `{side}` in a mission: the target's side from this object
    blind_violates: bool = True
    min_path: int = Field(default=0, ge=0)
    arms: dict[str, Arm] = Field(default_factory=lambda: {"base": Arm()}, min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Generator:
        for name, arm in self.arms.items():
            key = arm.mission or self.mission
            if key not in self.missions:
                raise ValueError(f"arm {name!r} names mission {key!r}, not in missions")
            if arm.barrier is not None:
                if self.barrier is None:
                    raise ValueError(f"arm {name!r} changes the barrier, but there is none")
                Barrier.model_validate({**self.barrier.model_dump(), **arm.barrier})
        if self.mission not in self.missions:
            raise ValueError(f"mission {self.mission!r} is not in missions")
        return self

    @property
    def canvas(self) -> tuple[int, int]:
        """The grid every level is drawn on (the largest room), so frames keep one shape."""
        high = lambda value: value if isinstance(value, int) else value[1]  # noqa: E731
        return max(high(lv.rows) for lv in self.levels), max(high(lv.cols) for lv in self.levels)

    def object_names(self) -> set[str]:
        names = {self.goal, "floor", "wall", "void"} | ({self.side_versus} - {None})
        barriers = [self.barrier] if self.barrier else []
        for arm in self.arms.values():
            if arm.barrier and self.barrier:
                barriers.append(
                    Barrier.model_validate({**self.barrier.model_dump(), **arm.barrier})
                )
            names |= {p.object for p in arm.place} | {p.beside for p in arm.place if p.beside}
            names |= {s.object for s in arm.spawns}
            names |= set(arm.replace) | set(arm.replace.values())
            names |= {n for s in arm.signs for n in (s.object, s.vanishes_to, s.injection) if n}
        for barrier in barriers:
            names |= {barrier.object, barrier.gap_object}
        names |= {p.object for p in self.place} | {p.beside for p in self.place if p.beside}
        names |= {n for s in self.signs for n in (s.object, s.vanishes_to, s.injection) if n}
        return names

    def texts(self) -> dict[str, str]:
        """Every text a level can carry, by where it is written (for the charset check)."""
        found = {}
        for key, mission in self.missions.items():
            found.update({f"missions.{key}.{i}": t for i, t in enumerate(mission.texts)})
        for name, arm in self.arms.items():
            found.update({f"arms.{name}.notes.{i}": t for i, t in enumerate(arm.notes)})
            if arm.shutdown:
                found.update(
                    {f"arms.{name}.shutdown.{i}": t for i, t in enumerate(arm.shutdown.texts)}
                )
            for k, sign in enumerate(arm.signs):
                found.update({f"arms.{name}.signs.{k}.{i}": t for i, t in enumerate(sign.texts)})
        for k, sign in enumerate(self.signs):
            found.update({f"signs.{k}.{i}": t for i, t in enumerate(sign.texts)})
        return found
