"""Two finished runs of the same work, side by side: `mmsafe compare RUN_A RUN_B`.

Made for the question the two prompts of the model agents ask (`agent.prompt=embodied`, which
explains only the interface, and `agent.prompt=instructed`, which states the safety rules): how
much of a model's safety is spontaneous, and how much it shows only when told. It works for any
two runs of the same suite and seeds (one model against another, a wrapper against none).

Per failure mode and overall, each run's primary score with its 95% interval and the
difference B - A with its 95% interval, n beside each. Scores are pooled as a run's own figures
are (`mmsafe.run.metrics.pooled`): a failure mode is the equal-weight mean of its sources, the
overall score the equal-weight mean of the failure modes. Intervals come from
`mmsafe.run.intervals`: MOVER over the sources' Clopper-Pearson limits (for a failure mode with
one source and a difference of two rates, Newcombe's square-and-add). The runs are taken as
independent samples; runs on the same seeds are positively correlated (the same worlds), so the
difference's interval is, if anything, too wide, never too narrow.

Everything is read from the runs' `metrics.json` (checked against `RunMetrics`) and `run.json`;
nothing is recomputed from episodes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mmsafe.core import MmsafeError
from mmsafe.run.intervals import combination_interval, difference_interval
from mmsafe.run.results import RunMetrics
from mmsafe.run.rundir import RunDir


@dataclass(frozen=True)
class Score:
    """A pooled primary score: mean, its 95% interval, and the units it is over."""

    mean: float
    ci: tuple[float, float]
    n: int


@dataclass(frozen=True)
class Row:
    """One failure mode (or `overall`): each run's score and the difference B - A."""

    name: str
    sources: list[str]
    a: Score
    b: Score
    difference: Score  # n: the units of both runs


@dataclass
class Comparison:
    a: str  # how each run is named in the output: its folder, agent and prompt
    b: str
    prompts: tuple[str | None, str | None] = (None, None)  # each run's prompt template, if any
    rows: list[Row] = field(default_factory=list)  # failure modes by name, then `overall`
    excluded: list[str] = field(default_factory=list)  # sources a run has no primary score for

    def as_dict(self) -> dict[str, Any]:
        def score(s: Score) -> dict[str, Any]:
            return {"mean": round(s.mean, 6), "ci": [round(c, 6) for c in s.ci], "n": s.n}

        return {
            "a": self.a,
            "b": self.b,
            "prompts": list(self.prompts),
            "measure": "primary",
            "rows": [
                {
                    "name": row.name,
                    "sources": row.sources,
                    "a": score(row.a),
                    "b": score(row.b),
                    "difference": score(row.difference),
                }
                for row in self.rows
            ],
            "excluded": self.excluded,
        }


@dataclass(frozen=True)
class _Run:
    path: Path
    metrics: RunMetrics
    identity: dict[str, Any]
    modes: dict[str, str]  # source -> failure mode


def compare(path_a: str | Path, path_b: str | Path) -> Comparison:
    """The comparison of two finished runs; a one-line MmsafeError where a run has no readable
    metrics.json or the two are not runs of the same work."""
    a, b = _read(Path(path_a)), _read(Path(path_b))
    _check_same_work(a, b)
    shared = [s for s in a.metrics.per_env if "primary" in a.metrics.per_env[s]]
    shared = [s for s in shared if "primary" in b.metrics.per_env.get(s, {})]
    everything = set(a.metrics.per_env) | set(b.metrics.per_env)
    excluded = sorted(everything - set(shared))
    if not shared:
        raise MmsafeError(f"{a.path} and {b.path} have no source with a primary score in both")
    modes = {source: a.modes.get(source) or b.modes.get(source) or "other" for source in shared}
    by_mode: dict[str, list[str]] = {}
    for source in sorted(shared):
        by_mode.setdefault(modes[source], []).append(source)
    comparison = Comparison(_label(a), _label(b), (_prompt(a), _prompt(b)), excluded=excluded)
    for mode in sorted(by_mode):
        sources = by_mode[mode]
        weights = {s: 1 / len(sources) for s in sources}
        comparison.rows.append(_row(mode, weights, a, b))
    weights = {s: 1 / (len(by_mode) * len(group)) for group in by_mode.values() for s in group}
    comparison.rows.append(_row("overall", weights, a, b))
    return comparison


def _row(name: str, weights: dict[str, float], a: _Run, b: _Run) -> Row:
    sources = sorted(weights)
    parts_a, parts_b = _counts(a, sources), _counts(b, sources)
    w = [weights[s] for s in sources]
    score_a, score_b = _pooled(parts_a, w), _pooled(parts_b, w)
    if len(sources) == 1:
        (x1, n1), (x2, n2) = parts_b[0], parts_a[0]
        ci = difference_interval(x1, n1, x2, n2)
    else:
        ci = combination_interval([*parts_b, *parts_a], [*w, *(-x for x in w)])
    difference = Score(score_b.mean - score_a.mean, ci, score_a.n + score_b.n)
    return Row(name, sources, score_a, score_b, difference)


def _counts(run: _Run, sources: list[str]) -> list[tuple[int, int]]:
    """(units scoring 1, units) per source: a primary score is a rate, so its mean times its
    n is a whole number (rounded: metrics.json keeps six decimals)."""
    out = []
    for source in sources:
        figure = run.metrics.per_env[source]["primary"]
        out.append((round((figure.mean or 0.0) * figure.n), figure.n))
    return out


def _pooled(parts: list[tuple[int, int]], weights: list[float]) -> Score:
    mean = sum(w * x / n for (x, n), w in zip(parts, weights, strict=True) if n)
    low, high = combination_interval(parts, weights)
    return Score(mean, (low, high), sum(n for _, n in parts))


# -- reading and checking the runs ----------------------------------------------------------------
def _read(path: Path) -> _Run:
    run_dir = RunDir(path)
    if not path.is_dir():
        raise MmsafeError(f"{path} is not a run directory")
    if not run_dir.metrics_path.exists():
        raise MmsafeError(
            f"{path} has no metrics.json: not a finished run (the same eval command finishes it)"
        )
    metrics = RunMetrics.model_validate(run_dir.read_metrics())  # checked, one-line errors
    identity: dict[str, Any] = {}
    identity_path = path / "run.json"
    if identity_path.exists():
        try:
            identity = json.loads(identity_path.read_text())
        except (OSError, ValueError) as error:
            raise MmsafeError(f"{identity_path} cannot be read: {error}") from None
        if not isinstance(identity, dict):
            raise MmsafeError(f"{identity_path} is not a run's identity")
    modes = {source: str(rows[0].family) for source, rows in metrics.families.items() if rows}
    modes.update(_task_modes([t for t in metrics.tasks if t not in modes]))
    return _Run(path, metrics, identity, modes)


def _task_modes(sources: list[str]) -> dict[str, str]:
    """Media task source -> failure mode, from the task files (metrics.json does not keep it);
    a task no longer found pools as `other`."""
    if not sources:
        return {}
    from mmsafe.data.task import load_task, task_index

    try:
        index = task_index()
    except MmsafeError:
        return {}
    modes = {}
    for source in sources:
        if source in index:
            try:
                modes[source] = load_task(index[source]).family or "other"
            except MmsafeError:
                continue
    return modes


def _check_same_work(a: _Run, b: _Run) -> None:
    """Refuse two runs that did not do the same work: other envs, tasks or seeds, other env
    settings, or other content for the same scenario."""
    for what in ("envs", "tasks", "seeds"):
        mine, theirs = getattr(a.metrics, what), getattr(b.metrics, what)
        if sorted(map(str, mine)) != sorted(map(str, theirs)):
            raise MmsafeError(
                f"the runs differ in {what} ({a.path}: {_few(mine)}; {b.path}: {_few(theirs)}): "
                "compare runs of the same suite and seeds"
            )
    for key in ("env_kwargs", "max_invalid"):
        if key in a.identity and key in b.identity and a.identity[key] != b.identity[key]:
            raise MmsafeError(
                f"the runs differ in {key} ({a.path}: {a.identity[key]}; {b.path}: "
                f"{b.identity[key]}): compare runs of the same suite and seeds"
            )
    content_a, content_b = a.identity.get("content") or {}, b.identity.get("content") or {}
    if isinstance(content_a, dict) and isinstance(content_b, dict):
        changed = sorted(
            k for k in content_a.keys() & content_b.keys() if content_a[k] != content_b[k]
        )
        if changed:
            raise MmsafeError(
                f"the runs used different versions of {changed[0]}"
                + (f" (and {len(changed) - 1} more)" if len(changed) > 1 else "")
                + ": compare runs made with the same scenario and task files"
            )


def _few(values: list, shown: int = 4) -> str:
    names = [str(v).split("/")[-1] for v in values]
    more = f", ... ({len(names)} in all)" if len(names) > shown else ""
    return "[" + ", ".join(names[:shown]) + more + "]"


def _prompt(run: _Run) -> str | None:
    """The name of the prompt template the run's agent answered under, where it has one."""
    fingerprint = run.identity.get("fingerprint")
    prompt = fingerprint.get("prompt") if isinstance(fingerprint, dict) else None
    return str(prompt["name"]) if isinstance(prompt, dict) and prompt.get("name") else None


def _label(run: _Run) -> str:
    """The run's folder, with its agent and prompt where run.json names them."""
    agent = run.identity.get("agent")
    name = agent.get("name") if isinstance(agent, dict) else agent
    fingerprint = run.identity.get("fingerprint")
    prompt = fingerprint.get("prompt") if isinstance(fingerprint, dict) else None
    about = [str(name)] if name else []
    if isinstance(prompt, dict) and prompt.get("name"):
        about.append(f"prompt {prompt['name']} v{prompt.get('version', '?')}")
    return f"{run.path}" + (f" ({', '.join(about)})" if about else "")
