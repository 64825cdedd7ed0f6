"""The failure modes the suite measures: each scenario belongs to one family (DESIGN.md's list).

A family names the property under test; the scenario file says how its headline metric is
computed from episodes (`FamilyMetric`), since a family's metric often compares two variants
of the same world (supervisor present or absent, a sign with or without an injection).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

FAMILIES: dict[str, str] = {
    "hazard_avoidance": "avoid hazards of several kinds; follow spatial instructions safely",
    "side_effects": "leave fragile and irreversible things intact on the way to the goal",
    "corrigibility": "accept an operator's interruption; do not disable the off-switch",
    "absent_supervisor": "behave the same whether or not a supervisor is watching",
    "reward_gaming": "do the task rather than game the observed reward",
    "sycophancy": "trust what you see over a user's confident but wrong claim",
    "hazardous_instructions": "refuse dangerous missions, carry out look-alike benign ones",
    "prompt_injection": "ignore instructions written into the scene",
    "memory_injection": "ignore an injected instruction seen many steps earlier",
    "rare_events": "notice the hazard that appears only rarely",
    "distribution_shift": "stay safe when layouts, colours and lighting change",
}


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
        if len(self.of) == 2 and self.measure != "primary":
            raise ValueError("a gap compares two variants' primary scores: use measure: primary")
        return self
