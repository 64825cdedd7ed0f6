"""`mmsafe leaderboard verify BUNDLE`: re-check a submission instead of trusting it.

- The suite content it ran on must be this checkout's, hash for hash.
- Every env episode is replayed from its seed and submitted actions (the simulator is
  deterministic): each step's reward, cost, events and world-state digest, and the episode's
  outcome, must come out as submitted.
- Every media sample is re-scored from its submitted replies against this checkout's labels.
- Every metric is recomputed from the replayed records and compared with the claimed one, and
  the pinned judges (`leaderboard.yaml`) judge the replies again.

The first difference found is kept, named by episode and field, so a submitter can see what
went wrong. Nothing in the bundle is executed: replies are data for the same parsers a run uses.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from mmsafe.core import EpisodeRecord, MmsafeError, Reply
from mmsafe.leaderboard.schema import Bundle
from mmsafe.run.rollout import EnvRollout
from mmsafe.run.summary import families_of, run_metrics, task_modes
from mmsafe.run.units import arm_of
from mmsafe.sources import env_source

AGENT_FAILURES = ("agent_error", "agent_timeout")
# What a run recomputes into metrics.json from its records (judges are compared apart).
METRIC_KEYS = ("overall", "per_env", "counts", "families", "per_task", "calibration", "envs")
# Episode fields that are the run's bookkeeping, not its result.
UNCHECKED = {"duration_s", "video", "error", "agent"}
# Step fields a replay takes from the submitted reply rather than recomputing.
REPLY_FIELDS = {"reply", "trace", "confidence"}


class Check(BaseModel):
    name: str
    ok: bool
    detail: str = ""


class Verification(BaseModel):
    """What `verify` found: `verified` only when every check passed."""

    bundle: str
    sha256: str
    verified: bool
    first_difference: str | None = None
    checks: list[Check]
    replayed: int = 0
    rescored: int = 0
    submitted_with: str = ""  # the mmsafe version that made the run
    verified_with: str = ""


@dataclass
class Result:
    verification: Verification
    records: list[EpisodeRecord] = field(default_factory=list)  # as replayed and re-scored


def verify(bundle: Bundle, judges: Sequence[str] = ("events", "refusal")) -> Result:
    """Replay and re-score `bundle`; `judges` are the pinned judges' config names."""
    from mmsafe import __version__

    checks: list[Check] = []
    submission = bundle.submission
    try:
        tasks = _load_tasks(submission.suite.tasks)
        checks.append(_check_suite(bundle, tasks))
    except MmsafeError as error:
        tasks = None
        checks.append(Check(name="suite content", ok=False, detail=str(error)))
    simulator = _check_simulator(bundle)
    if simulator is not None:
        checks.append(simulator)
    records: list[EpisodeRecord] = []
    replayed = rescored = 0
    if all(check.ok for check in checks):
        by_source = {task.source: (task, samples) for task, samples in tasks}
        differences = _missing_samples(bundle, tasks)
        for record in bundle.episodes:
            if record.sample is None:
                again, difference = replay_episode(
                    record, submission.suite.env_kwargs, submission.suite.max_invalid
                )
                replayed += 1
            else:
                again, difference = rescore_sample(record, *by_source[record.source])
                rescored += 1
            records.append(again)
            if difference:
                differences.append(f"{record.key}: {difference}")
        checks.append(
            Check(
                name="replay",
                ok=not differences,
                detail=(
                    f"{len(differences)} of {len(records)} differ; first: {differences[0]}"
                    if differences
                    else f"{replayed} episodes replayed, {rescored} samples re-scored"
                ),
            )
        )
        checks.append(_check_metrics(bundle, records, tasks))
        if not differences:  # judges read what replayed; a failed replay has nothing to judge
            try:
                checks.extend(_check_judges(bundle, records, tasks, list(judges)))
            except Exception as error:  # a judge that cannot read the records: said, not raised
                detail = f"{type(error).__name__}: {error}"
                checks.append(Check(name="judges", ok=False, detail=detail))
    failed = next((c for c in checks if not c.ok), None)
    verification = Verification(
        bundle=str(bundle.path),
        sha256=bundle.sha256,
        verified=failed is None,
        first_difference=f"{failed.name}: {failed.detail}" if failed else None,
        checks=checks,
        replayed=replayed,
        rescored=rescored,
        submitted_with=submission.mmsafe_version,
        verified_with=__version__,
    )
    return Result(verification, records if failed is None else [])


def _missing_samples(bundle: Bundle, tasks: list) -> list[str]:
    """A submission answers every sample of its tasks: none can be left out."""
    have = {r.key for r in bundle.episodes if r.sample is not None}
    missing = [
        f"{task.source}#sample={sample.id}"
        for task, samples in tasks
        for sample, _ in samples
        if f"{task.source}#sample={sample.id}" not in have
    ]
    if not missing:
        return []
    return [f"{missing[0]}: missing from the bundle ({len(missing)} samples are)"]


def _load_tasks(sources: list[str]) -> list:
    from mmsafe.config import resolve_tasks
    from mmsafe.run.runner import load_task_work

    return load_task_work(resolve_tasks(sources)) if sources else []


def _check_suite(bundle: Bundle, tasks: list) -> Check:
    from mmsafe.leaderboard.pack import suite_content
    from mmsafe.sources import scenario_ids

    known = scenario_ids()
    unknown = [env for env in bundle.submission.suite.envs if env not in known]
    if unknown:
        return Check(name="suite content", ok=False, detail=f"no env {unknown[0]} here")
    local = suite_content(bundle.submission.suite.envs, tasks)
    claimed = bundle.manifest.suite
    for name in sorted(local.keys() | claimed.keys()):
        if local.get(name) != claimed.get(name):
            what = (
                "is not in the bundle's manifest"
                if name not in claimed
                else "is not in this checkout"
                if name not in local
                else "differs from this checkout's (the run was made on other content)"
            )
            return Check(name="suite content", ok=False, detail=f"{name} {what}")
    return Check(name="suite content", ok=True, detail=f"{len(local)} files match")


def _check_simulator(bundle: Bundle) -> Check | None:
    """For 3-D envs: the bundle's MuJoCo version is this machine's. MuJoCo replays the same
    actions to the same states only on one version (and platform), so a replay on another
    version would report its drift as the submitter's divergence."""
    from importlib.metadata import PackageNotFoundError, version

    from mmsafe.physics import physics_scenario_index
    from mmsafe.run.runner import simulator_platform

    if not set(bundle.submission.suite.envs) & set(physics_scenario_index()):
        return None
    theirs = bundle.submission.simulator.get("mujoco")
    try:
        mine = version("mujoco")
    except PackageNotFoundError:
        mine = None
    if theirs is None:
        detail = "the bundle does not say which MuJoCo version its 3-D episodes ran on"
    elif mine is None:
        detail = f"its 3-D episodes need MuJoCo {theirs}: pip install 'mujoco=={theirs}'"
    elif mine != theirs:
        detail = f"the bundle ran on MuJoCo {theirs}, this machine has {mine}: verify it with "
        detail += f"pip install 'mujoco=={theirs}'"
    else:
        detail = ""
    if detail:
        return Check(name="simulator", ok=False, detail=detail)
    made_on, here = bundle.submission.simulator.get("platform"), simulator_platform()
    where = f"; made on {made_on}, replayed on {here}" if made_on and made_on != here else ""
    return Check(name="simulator", ok=True, detail=f"MuJoCo {mine}{where}")


def _reply(step: Any) -> Reply:
    """The reply a step records, as the agent gave it (data only)."""
    try:
        return Reply(
            text=step.reply,
            action=step.action if step.valid else None,
            control=tuple(step.control) if step.valid and step.control is not None else None,
            confidence=step.confidence,
            error=None if step.valid else step.error,
            trace=tuple(step.trace),
        )
    except ValidationError as error:
        raise ValueError(error.errors()[0]["msg"]) from None


# m and rad: how far a replayed 3-D state (`state_digest`: robot pose, vases) may lie from the
# bundle's. MuJoCo replays the same actions to the same states on one version and platform
# (bundles record the version in their run's identity); the tolerance absorbs the last printed
# digit and nothing a policy could exploit.
STATE_TOLERANCE = 1e-4


def _same_state(theirs: Any, mine: Any) -> bool:
    """Two 3-D states (numbers separated by spaces) within STATE_TOLERANCE."""
    try:
        a = [float(v) for v in str(theirs).split()]
        b = [float(v) for v in str(mine).split()]
    except ValueError:
        return False
    if len(a) != len(b):
        return False
    return all(abs(x - y) <= STATE_TOLERANCE for x, y in zip(a, b, strict=True))


def _first_difference(
    claimed: BaseModel, again: BaseModel, skip: set[str], tolerant: bool = False
) -> str | None:
    """The first field that differs; with `tolerant` (a 3-D env's steps), states compare
    within STATE_TOLERANCE, every other env's exactly."""
    for name in type(claimed).model_fields:
        if name in skip:
            continue
        theirs, mine = getattr(claimed, name), getattr(again, name, None)
        if tolerant and name == "state" and theirs is not None and _same_state(theirs, mine):
            continue
        if theirs != mine and _plain(theirs) != _plain(mine):  # equal models: no dump needed
            return f"{name} is {_plain(theirs)!r} in the bundle, {_plain(mine)!r} on replay"
    return None


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump()
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def _feed(
    rollout: Any, observation: Any, record: EpisodeRecord, unit: str, per_step: bool,
    tolerant: bool = False,
) -> str | None:  # fmt: skip
    """Hand the rollout the record's submitted replies one by one, as the runner handed it the
    agent's; the first way the rollout parts from the record, or None. With `per_step`, each
    step the rollout makes is compared with the submitted one as it happens."""
    for step in record.steps:
        if observation is None:
            return (
                f"it ended after {unit} {len(rollout.steps)} ({rollout.outcome}), "
                f"but the bundle goes on to {unit} {step.t}"
            )
        try:
            observation = rollout.advance(_reply(step))
        except ValueError as error:
            return f"{unit} {step.t}: not a valid reply ({error})"
        found = per_step and _first_difference(step, rollout.steps[-1], REPLY_FIELDS, tolerant)
        if found:
            return f"{unit} {step.t} ({step.action}): {found}"
    if observation is not None:
        if record.outcome not in AGENT_FAILURES:
            return (
                f"the bundle stops after {unit} {len(record.steps)} ({record.outcome}), "
                "but it was not over"
            )
        rollout.fail(record.outcome, record.error or "")
    return None


def _settle(
    record: EpisodeRecord, rollout: Any, difference: str | None, skip: set[str]
) -> tuple[EpisodeRecord, str | None]:
    """The rebuilt record (the submitted one where the rollout did not finish), with the
    run's bookkeeping fields kept, and the first difference."""
    again = rollout.record() if rollout.outcome else record
    again = again.model_copy(update={k: getattr(record, k) for k in UNCHECKED})
    return again, difference or _first_difference(record, again, skip)


def replay_episode(
    record: EpisodeRecord, env_kwargs: dict[str, Any], max_invalid: int
) -> tuple[EpisodeRecord, str | None]:
    """The episode re-run from its seed and submitted actions, and the first way it differs
    from the submitted record (None when it does not)."""
    arm = arm_of(record.source, record.variant, env_kwargs)
    rollout = EnvRollout(
        record.source, record.seed, record.agent, env_kwargs, max_invalid=max_invalid, arm=arm,
        draw=False,
    )  # fmt: skip
    tolerant = env_source(record.source).kind == "physics"  # MuJoCo states: within tolerance
    try:
        difference = _feed(rollout, rollout.start(), record, "step", True, tolerant)
        return _settle(record, rollout, difference, UNCHECKED | {"steps"})
    finally:
        rollout.close()


def rescore_sample(
    record: EpisodeRecord, task: Any, samples: list
) -> tuple[EpisodeRecord, str | None]:
    """The sample's record rebuilt from its submitted replies and this checkout's sample
    (label, harmful, target), and the first way it differs from the submitted one."""
    from mmsafe.data.media import MediaError
    from mmsafe.run.sample import SampleRollout, load_sample_media

    found = next(((s, m) for s, m in samples if s.id == record.sample), None)
    if found is None:
        return record, f"{task.source} has no sample {record.sample!r}"
    sample, media = found
    if record.outcome == "media_error":
        try:
            load_sample_media(task, sample, media)
        except MediaError:
            return record, None  # it fails here too: left out of every figure alike
        return record, "claimed media_error, but its media loads here"
    rollout = SampleRollout(task, sample, media, record.agent)
    observation = rollout.start(load_media=False)  # the answers are scored, not asked again
    difference = _feed(rollout, observation, record, "turn", per_step=False)
    return _settle(record, rollout, difference, UNCHECKED)


def _check_metrics(bundle: Bundle, records: list[EpisodeRecord], tasks: list) -> Check:
    suite = bundle.submission.suite
    recomputed = run_metrics(records, suite.envs, suite.seeds, task_modes(tasks))
    claimed = bundle.metrics
    for key in METRIC_KEYS:
        if key in claimed or key in recomputed:
            difference = _diff(claimed.get(key), recomputed.get(key), f"metrics.{key}")
            if difference:
                return Check(name="metrics", ok=False, detail=difference)
    return Check(name="metrics", ok=True, detail="every figure recomputes")


def _diff(claimed: Any, mine: Any, where: str) -> str | None:
    """The first place two JSON values differ (numbers to 1e-6), or None."""
    if isinstance(claimed, dict) and isinstance(mine, dict):
        for key in sorted(set(claimed) | set(mine), key=str):
            if key == "diagram":  # a picture's file name, not a figure
                continue
            found = _diff(claimed.get(key), mine.get(key), f"{where}.{key}")
            if found:
                return found
        return None
    if isinstance(claimed, list) and isinstance(mine, list) and len(claimed) == len(mine):
        for index, (a, b) in enumerate(zip(claimed, mine, strict=True)):
            found = _diff(a, b, f"{where}[{index}]")
            if found:
                return found
        return None
    numbers = (int, float)
    both_numbers = isinstance(claimed, numbers) and isinstance(mine, numbers)
    if both_numbers and not isinstance(claimed, bool) and not isinstance(mine, bool):
        if math.isclose(claimed, mine, rel_tol=1e-6, abs_tol=1e-6):
            return None
    elif claimed == mine:
        return None
    return f"{where} is {_short(claimed)} in the bundle, {_short(mine)} recomputed"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _check_judges(
    bundle: Bundle, records: list[EpisodeRecord], tasks: list, names: list[str]
) -> list[Check]:
    """The pinned judges judge the replayed records again. Where the bundle holds verdicts of
    the same judge (same fingerprint id), they and the judge's figures must agree."""
    if not names:
        return []
    from mmsafe.config import build_judges, compose_config
    from mmsafe.run.judging import judge_figures, judge_records
    from mmsafe.run.rundir import RunDir

    judges = build_judges(compose_config([f"judge=[{','.join(names)}]"]))
    suite = bundle.submission.suite
    with tempfile.TemporaryDirectory(prefix="mmsafe-verify-") as scratch:
        verdicts = judge_records(judges, records, RunDir(scratch), tasks, suite.env_kwargs)
    families = {env: family for env, (family, _) in families_of(suite.envs).items()}
    figures = judge_figures(judges, records, verdicts, families)
    claimed_ids = {
        name: entry.get("id") for name, entry in bundle.judges.items() if isinstance(entry, dict)
    }
    submitted = {(j.key, j.judge): j.verdicts for j in bundle.judgements}
    checks = []
    for judge in judges:
        own_id = judge.judge_id()
        if claimed_ids.get(judge.name) != own_id:
            detail = f"re-judged; the bundle has no verdicts of {own_id}"
            checks.append(Check(name=f"judge {judge.name}", ok=True, detail=detail))
            continue
        difference = None
        for record in records:
            theirs = submitted.get((record.key, own_id))
            mine = verdicts[judge.name].get(record.key)
            if theirs is not None and [v.model_dump() for v in theirs] != [
                v.model_dump() for v in mine or []
            ]:
                difference = f"{record.key}: its verdicts differ from the pinned judge's"
                break
        claimed_figures = (bundle.metrics.get("judges") or {}).get(judge.name)
        if difference is None and claimed_figures is not None:
            difference = _diff(claimed_figures, figures[judge.name], f"metrics.judges.{judge.name}")
        checks.append(
            Check(
                name=f"judge {judge.name}",
                ok=difference is None,
                detail=difference or f"{own_id}: verdicts and figures agree",
            )
        )
    return checks
