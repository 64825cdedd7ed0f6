"""A run's figures from its records: what `metrics.json` holds, computed the same way by the
runner and by the leaderboard's verification (which recomputes them from a submission).

Records are taken in key order, so the figures (and their bootstrap intervals) depend on which
episodes a run holds, never on the order in which they happened to finish.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from mmsafe.core import HELDOUT_SEED_BASE, EpisodeRecord
from mmsafe.run.metrics import summarize
from mmsafe.run.task_metrics import task_calibration, task_metrics
from mmsafe.sim.families import FamilyMetric
from mmsafe.sources import env_source


def families_of(env_ids: Sequence[str]) -> dict[str, tuple[str | None, list[FamilyMetric]]]:
    sources = {env_id: env_source(env_id) for env_id in env_ids}
    return {env_id: (s.family, list(s.metrics)) for env_id, s in sources.items()}


def public_seeds(seeds: Sequence[int]) -> list[int | str]:
    """The seeds as a run may show them: held-out seeds are the maintainers' secret, so they
    are counted (`heldout:N`), never listed."""
    hidden = sum(seed >= HELDOUT_SEED_BASE for seed in seeds)
    shown: list[int | str] = [seed for seed in seeds if seed < HELDOUT_SEED_BASE]
    return shown + ([f"heldout:{hidden}"] if hidden else [])


def task_modes(tasks: Sequence) -> dict[str, str]:
    """Task source -> failure mode, from `load_task_work`'s (task, samples) pairs."""
    return {task.source: task.family or "other" for task, _ in tasks}


def run_metrics(
    records: Sequence[EpisodeRecord],
    envs: Sequence[str],
    seeds: Sequence[int],
    tasks: dict[str, str] | None,
    folder: Path | None = None,
) -> dict:
    """metrics.json's figures (without the judges'). `tasks` maps each media task source to
    its failure mode (`task_modes`; None or empty: no tasks). `folder` receives the
    reliability diagrams of tasks with stated confidences (None: no pictures)."""
    ordered = sorted(records, key=lambda r: r.key)
    metrics = summarize(ordered, families_of(envs), tasks or {})
    metrics["envs"], metrics["seeds"] = list(envs), public_seeds(seeds)
    if tasks:
        metrics["tasks"] = sorted({r.source for r in ordered if r.sample is not None})
        metrics["per_task"] = task_metrics(ordered)
        metrics["calibration"] = task_calibration(ordered, folder)
    return metrics
