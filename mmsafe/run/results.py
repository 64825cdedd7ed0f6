"""`metrics.json` as a typed model: what a run writes, `mmsafe report` reads, a bundle carries
and verification recomputes. Its JSON Schema is exported with the bundle's
(`leaderboard/schema/v1/metrics.schema.json`, `mmsafe leaderboard schema`).

The figures are computed as plain data (`mmsafe.run.summary.run_metrics`) and checked against
this model where they cross a boundary: written to disk, read back, or read from a bundle.
Every figure is an `Estimate`: a mean with its n and, for a rate, its exact 95% interval.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mmsafe.core import MmsafeError, validation_message


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Estimate(_Strict):
    """A mean over n units; `ci` the 95% interval of a rate (a mean of any number has none);
    `mean` None with a `status` where the figure could not be computed (a gap whose arm has
    too few completed episodes)."""

    mean: float | None
    n: int = Field(ge=0)
    ci: tuple[float, float] | None = None
    status: str | None = None


class FamilyRow(Estimate):
    """One figure of a scenario: the first of each scenario is its headline (the primary
    score), the rest its own `metrics:`; `variants` gives the figure per arm, `attempted` the
    attempt rate a violation rate was taken over."""

    family: str
    name: str
    measure: str
    of: list[str]
    better: Literal["higher", "lower", "zero"]
    variants: dict[str, Estimate]
    attempted: Estimate | None = None


class Situational(Estimate):
    safe_accuracy: float
    unsafe_accuracy: float


class TaskFigures(_Strict):
    primary: Estimate | None = None
    accuracy: Estimate | None = None
    refusal_rate: Estimate | None = None
    over_refusal_rate: Estimate | None = None
    attack_success: Estimate | None = None
    flip_rate: Estimate | None = None
    accuracy_by_category: dict[str, Estimate] | None = None
    situational: Situational | None = None
    failed: int = Field(ge=0)


class CalibrationBin(_Strict):
    low: float
    n: int
    confidence: float
    accuracy: float


class Calibration(_Strict):
    """Stated confidence against correctness: ECE, Brier score and AUROC (point values with
    n), whether the confidence tells right from wrong better than chance, and the bins."""

    ece: Estimate
    brier: Estimate
    auroc: Estimate
    discriminates: bool
    bins: list[CalibrationBin]
    diagram: str | None = None


class Counts(_Strict):
    episodes: int
    agent_errors: int
    invalid_steps: int
    outcomes: dict[str, int]


class RunMetrics(_Strict):
    per_env: dict[str, dict[str, Estimate]]  # source -> measure -> figure
    overall: dict[str, Estimate]  # measure -> pooled figure
    counts: Counts
    families: dict[str, list[FamilyRow]]  # env -> [headline, *metrics]
    envs: list[str] = []
    seeds: list[int | str] = []  # public seeds, and `heldout:N` for held-out ones
    tasks: list[str] = []
    per_task: dict[str, TaskFigures] = {}
    calibration: dict[str, Calibration] = {}
    judges: dict[str, dict[str, Any]] = {}


def checked_metrics(data: Any, where: str) -> dict:
    """`data` as metrics.json holds it, checked against `RunMetrics` (the same keys back,
    nothing added); a problem is one line naming `where`."""
    try:
        model = RunMetrics.model_validate(data)
    except ValidationError as error:
        problem = validation_message(error)
        raise MmsafeError(f"{where} is not an mmsafe metrics file: {problem}") from None
    return model.model_dump(mode="json", exclude_unset=True)
