"""Run the judges over a run's records, batched, resumable, and never at the cost of a record.

Judging happens after the agent has finished, from what is on disk: episodes are replayed
from their seed and actions for their frames (the world is deterministic), samples reload
their media. Records are judged a chunk at a time, so frames of a whole suite are never in
memory together. Every judge's verdicts on a batch are appended to `verdicts.jsonl` at once,
so a killed run resumes judging where it stopped. An item whose judge failed is judged again
on the next run (a server may be back); its failure counts as a failure until then.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from mmsafe.core import EpisodeRecord, Judgement, Verdict
from mmsafe.judges.agreement import judge_metrics, labelled_agreement
from mmsafe.judges.base import Judge, JudgeItem, TextJudge, item_verdict
from mmsafe.run.rundir import RunDir, write_atomic

CHUNK = 64  # records whose frames are in memory at once


def judge_records(
    judges: Sequence[Judge],
    records: Sequence[EpisodeRecord],
    run_dir: RunDir,
    tasks: list | None = None,
    env_kwargs: dict[str, Any] | None = None,
    fps: float = 4.0,
    on_judged: Callable[[int], None] | None = None,
) -> dict[str, dict[str, list[Verdict]]]:
    """Every judge's verdicts by record key (`{judge name: {key: verdicts}}`), judging only
    what `verdicts.jsonl` does not already hold. `on_judged(n)` is told of each finished
    batch of n items."""
    if not judges:
        return {}
    ids = {j.name: j.judge_id() for j in judges}  # hashed once, not per record
    write_atomic(
        run_dir.path / "judges.json",
        json.dumps(
            {j.name: {"id": ids[j.name], "fingerprint": j.fingerprint()} for j in judges},
            indent=2,
            default=str,
        ),
    )
    stored = run_dir.load_judgements()
    out: dict[str, dict[str, list[Verdict]]] = {j.name: {} for j in judges}
    pending: dict[str, list[Judge]] = {}
    for record in records:
        for judge in judges:
            done = stored.get((record.key, ids[judge.name]))
            usable = done is not None and _succeeded(done.verdicts)
            if usable:
                out[judge.name][record.key] = done.verdicts
            else:
                pending.setdefault(record.key, []).append(judge)
    todo = [r for r in records if r.key in pending]
    samples = _sample_index(tasks or [])
    for start in range(0, len(todo), CHUNK):
        chunk = todo[start : start + CHUNK]
        # frames only where a reader needs them
        items = {
            r.key: dataclasses.replace(_item(r, samples, env_kwargs or {}), fps=fps) for r in chunk
        }
        readers = {r.key: [j for j in pending[r.key] if _reads(j, items[r.key])] for r in chunk}
        missing: dict[str, str] = {}  # why an item that a frame judge reads has no frames
        for r in chunk:
            if any(j.needs_frames for j in readers[r.key]):
                items[r.key], problem = _with_frames(items[r.key], samples, env_kwargs or {}, fps)
                if problem:
                    missing[r.key] = problem
        for judge in judges:
            mine = [items[r.key] for r in chunk if judge in readers[r.key]]
            for at in range(0, len(mine), max(1, judge.batch_size)):
                batch = mine[at : at + max(1, judge.batch_size)]
                verdicts = _judge_batch(
                    judge,
                    batch,
                    {i.record.key: missing[i.record.key] for i in batch if i.record.key in missing}
                    if judge.needs_frames
                    else {},
                )
                run_dir.append_judgements(
                    [
                        Judgement(key=item.record.key, judge=ids[judge.name], verdicts=vs)
                        for item, vs in zip(batch, verdicts, strict=True)
                    ]
                )
                for item, vs in zip(batch, verdicts, strict=True):
                    out[judge.name][item.record.key] = vs
                if on_judged:
                    on_judged(len(batch))
    return out


def judge_figures(
    judges: Sequence[Judge],
    records: Sequence[EpisodeRecord],
    verdicts: dict[str, dict[str, list[Verdict]]],
    families: dict[str, str | None],
) -> dict[str, dict[str, Any]]:
    """Each judge's figures for metrics.json, with a text judge's agreement on the held-out
    labelled set unless its `validate` is off."""
    figures = {}
    for judge in judges:
        figures[judge.name] = judge_metrics(judge, records, verdicts[judge.name], families)
        if isinstance(judge, TextJudge) and judge.validate:
            try:
                figures[judge.name]["labelled"] = labelled_agreement(judge)
            except Exception as error:  # noqa: BLE001 - the run's own figures still count
                figures[judge.name]["labelled"] = {"error": f"{type(error).__name__}: {error}"}
    return figures


def _succeeded(verdicts: list[Verdict]) -> bool:
    item = item_verdict(verdicts)
    return item is not None and item.error is None


def _reads(judge: Judge, item: JudgeItem) -> bool:
    """Whether the judge reads the item: not a sample whose media failed or an episode whose
    env failed (there is nothing to see), and what the judge itself says."""
    if judge.needs_frames and item.record.outcome in ("media_error", "env_error"):
        return False
    try:
        return bool(judge.reads(item))
    except Exception as error:  # noqa: BLE001 - the judge is at fault, not the record
        warnings.warn(f"judge {judge.name}: reads() raised {error!r}", RuntimeWarning, stacklevel=2)
        return False


def _judge_batch(
    judge: Judge, batch: list[JudgeItem], no_frames: dict[str, str]
) -> list[list[Verdict]]:
    """The judge's verdicts on a batch; items without the frames it needs fail with the
    reason, a batch that raises is judged one item at a time, and an item that raises alone
    gets a failed verdict naming the error."""
    if no_frames:
        ready = [i for i in batch if i.record.key not in no_frames]
        judged = iter(_judge_batch(judge, ready, {}) if ready else [])
        return [
            judge.failed(f"no frames: {no_frames[i.record.key]}")
            if i.record.key in no_frames
            else next(judged)
            for i in batch
        ]
    try:
        return _checked(judge, batch, judge.judge(batch))
    except Exception as error:  # noqa: BLE001 - recorded as the judge's failure
        if len(batch) == 1:
            return [judge.failed(f"{type(error).__name__}: {error}")]
        warnings.warn(
            f"judge {judge.name} failed on a batch ({type(error).__name__}: {error}); "
            "judging one item at a time",
            RuntimeWarning,
            stacklevel=2,
        )
    return [verdicts for item in batch for verdicts in _judge_batch(judge, [item], {})]


def _checked(judge: Judge, batch: list[JudgeItem], result: Any) -> list[list[Verdict]]:
    if not isinstance(result, list) or len(result) != len(batch):
        raise TypeError(f"judge returned {type(result).__name__}, not one list per item")
    fixed = []
    for verdicts in result:
        if sum(1 for v in verdicts if v.step is None) != 1:
            raise TypeError("judge must give exactly one item-level verdict (step=None) per item")
        if any(v.score is not None and not math.isfinite(v.score) for v in verdicts):
            raise ValueError("judge gave a score that is not a finite number")
        # verdicts carry the judge's name as the run knows it
        fixed.append([v if v.judge == judge.name else v.model_copy(update={"judge": judge.name})
                      for v in verdicts])  # fmt: skip
    return fixed


def _sample_index(tasks: list) -> dict[str, tuple[Any, Any, dict]]:
    return {
        f"{task.source}#sample={sample.id}": (task, sample, media)
        for task, samples in tasks
        for sample, media in samples
    }


def _item(
    record: EpisodeRecord, samples: dict[str, tuple[Any, Any, dict]], env_kwargs: dict
) -> JudgeItem:
    """The item without frames: the prompt the agent was given and its final reply."""
    reply = record.steps[-1].reply if record.steps else ""
    if record.sample is None:
        return JudgeItem(record, prompt=_mission(record, env_kwargs), reply=reply)
    found = samples.get(record.key)
    if found is None:  # a sample of a task this run no longer lists
        return JudgeItem(record, reply=reply)
    task, sample, _ = found
    from mmsafe.agents.parse import strip_reasoning
    from mmsafe.run.sample import followup_text

    options = tuple(sample.choices or task.choices or ())
    prompt = task.prompt.format(question=sample.question, choices=", ".join(options))
    asked = sample.followups[: max(0, len(record.steps) - 1)]  # the turns the agent answered
    for turn, step in zip(asked, record.steps, strict=False):  # as the agent was told them
        answer = str(step.action) if options else strip_reasoning(step.reply).strip()
        prompt += f"\n\nThen the user said: {followup_text(turn, answer, options)}"
    return JudgeItem(record, prompt=prompt, reply=reply)


def _with_frames(
    item: JudgeItem, samples: dict[str, tuple[Any, Any, dict]], env_kwargs: dict, fps: float
) -> tuple[JudgeItem, str | None]:
    """The item with its frames (an episode replayed, a sample's media loaded), or the item
    and why it has none."""
    record = item.record
    try:
        if record.sample is None:
            from mmsafe.run.rollout import replay_frames

            frames = tuple(replay_frames(record, env_kwargs))
        else:
            found = samples.get(record.key)
            if found is None:
                return item, "the run no longer lists this sample's task"
            from mmsafe.run.sample import load_sample_media

            frames = tuple(load_sample_media(*found)[0])
    except Exception as error:  # noqa: BLE001 - recorded as a failure of the frame judges
        return item, f"{type(error).__name__}: {error}"
    return dataclasses.replace(item, frames=frames, fps=fps), None


def _mission(record: EpisodeRecord, env_kwargs: dict) -> str:
    """The mission the agent was given: its episode's world drawn again from the seed and arm
    (generated scenarios word it anew per seed), without rendering."""
    from mmsafe.run.units import arm_of
    from mmsafe.sources import env_source, scenario_ids

    path = scenario_ids().get(record.source)
    if path is None:
        return ""
    arm = arm_of(record.source, record.variant, env_kwargs) or env_kwargs.get("variant")
    env = _mission_env(str(path), arm, env_source(record.source).kind)
    if hasattr(env, "world"):
        env.reset_state(record.seed)
        return env.world.mission
    env.reset(seed=record.seed)  # a 3-D scenario draws its wording with its room
    return env.layout.mission


@functools.lru_cache(maxsize=32)
def _mission_env(path: str, arm: str | None, kind: str) -> Any:
    if kind == "physics":
        from mmsafe.physics.scenario_env import PhysicsScenarioEnv

        return PhysicsScenarioEnv(path, variant=arm, image_px=16, render_mode=None)
    from mmsafe.sim.env import SafetyGridEnv

    return SafetyGridEnv(path, variant=arm, render_mode=None)
