"""Schedule episodes for an agent and write the run directory.

Episodes run in lockstep batches: every live episode's observation goes to one `act_batch`
call, and a finished episode's slot is refilled from the queue. Each finished episode is
appended to `episodes.jsonl` at once, so a killed run resumes where it stopped: episodes whose
record exists are skipped, unfinished ones start again from their seed (the world is
deterministic, so the redo is the same episode).
"""

from __future__ import annotations

import hashlib
import threading
import warnings
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from mmsafe.agents.base import Agent
from mmsafe.content import scenario_index
from mmsafe.core import EpisodeRecord, MmsafeError, Observation, Reply, episode_key
from mmsafe.run.judging import judge_figures, judge_records
from mmsafe.run.rollout import EnvRollout, replay_frames
from mmsafe.run.rundir import RunDir
from mmsafe.run.sample import SampleRollout, sample_key
from mmsafe.run.summary import families_of, run_metrics
from mmsafe.run.video import write_mp4
from mmsafe.sim.scenario import CATALOG_PATH

CONTENT_HASH_CHARS = 16


class VideoConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    per_env: int = Field(default=1, ge=0)  # videos of the first N seeds of each env
    first_violation: bool = True  # and a clip of the first episode of each env with a cost
    fps: int = Field(default=4, ge=1)
    scale: int = Field(default=2, ge=1, le=8)


class RunConfig(BaseModel):
    """Everything the runner needs besides the agent itself."""

    model_config = ConfigDict(extra="forbid")
    envs: list[str] = Field(default_factory=list)
    seeds: list[int] = Field(min_length=1)
    tasks: list[str] = Field(default_factory=list)  # media task files (each sample runs once)
    out: Path
    env_kwargs: dict[str, Any] = Field(default_factory=dict)
    batch_size: int = Field(default=8, ge=1)
    max_invalid: int = Field(default=5, ge=1)
    agent_timeout_s: float | None = Field(default=120.0, gt=0)
    video: VideoConfig = Field(default_factory=VideoConfig)

    @field_validator("envs", "seeds", "tasks")
    @classmethod
    def _no_repeats(cls, values: list) -> list:
        repeated = sorted({str(v) for v in values if values.count(v) > 1})
        if repeated:
            raise ValueError(f"lists {', '.join(repeated)} more than once")
        return values

    @model_validator(mode="after")
    def _some_work(self) -> RunConfig:
        if not self.envs and not self.tasks:
            raise ValueError("a suite needs envs or tasks")
        return self

    def identity(self, tasks: list | None = None) -> dict[str, Any]:
        """The settings that change what an episode is; a run only resumes under the same ones.
        `tasks` is `load_task_work(self.tasks)`, if already loaded."""
        loaded = load_task_work(self.tasks) if tasks is None else tasks
        return {
            "env_kwargs": self.env_kwargs,
            "max_invalid": self.max_invalid,
            "content": {**content_hashes(self.envs), **task_hashes(loaded)},
        }


class AgentTimeout(Exception):
    pass


@dataclass(frozen=True)
class AgentFailure:
    """What stands in for a reply when the agent raised or timed out on an observation."""

    outcome: str  # "agent_error" or "agent_timeout"
    message: str


def call_with_timeout(fn: Callable[[], Any], timeout: float | None) -> Any:
    """Run `fn` in a daemon thread; raise AgentTimeout if it outlives `timeout` seconds. The
    thread cannot be killed, but the run goes on without it."""
    if timeout is None:
        return fn()
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as error:  # noqa: BLE001 - handed to the caller
            box["error"] = error

    thread = threading.Thread(target=target, daemon=True, name="mmsafe-agent")
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise AgentTimeout(f"the agent did not answer within {timeout:g}s")
    if "error" in box:
        raise box["error"]
    return box["value"]


def content_hashes(env_ids: Sequence[str]) -> dict[str, str]:
    """Per env, a hash of its scenario file and the object catalog, so that a changed scenario
    is never mixed into a run made with the old one."""
    paths = scenario_index()
    catalog = CATALOG_PATH.read_bytes()
    return {
        env_id: hashlib.sha256(catalog + b"\0" + paths[env_id].read_bytes()).hexdigest()[
            :CONTENT_HASH_CHARS
        ]
        for env_id in env_ids
    }


def load_task_work(task_files: Sequence[str]) -> list[tuple[Any, list[tuple[Any, dict]]]]:
    """Every task with its samples (and their media paths), checked before anything runs: one
    task per source, each sample's media fits the task's modality, labels are among the
    choices. Errors are one line naming the task and sample."""
    if not task_files:
        return []
    from mmsafe.data.task import load_task

    loaded, seen = [], {}
    for path in task_files:
        task = load_task(path)
        if task.source in seen:
            raise MmsafeError(f"{path} and {seen[task.source]} are both {task.source}; rename one")
        seen[task.source] = path
        samples = task.read_samples()
        for sample, _ in samples:
            _check_sample(task, sample)
        offered = {c for sample, _ in samples for c in sample.choices or task.choices or ()}
        unused = set(task.refusal_choices) - offered - {"refuse"}
        if unused:  # a typo would silently count no refusals
            raise MmsafeError(f"{path}: refusal_choices {sorted(unused)} are not among its choices")
        loaded.append((task, samples))
    return loaded


def _check_sample(task: Any, sample: Any) -> None:
    where = f"{task.where}: sample {sample.id!r}"
    if task.modality == "image" and not sample.image_paths:
        raise MmsafeError(f"{where}: an image task needs image or images")
    if task.modality != "image" and not sample.video:
        raise MmsafeError(f"{where}: a {task.modality} task needs a video")
    choices = sample.choices or task.choices
    if not choices:  # a free-text answer: no label or target to compare it with
        if sample.label is not None or sample.attack_target is not None:
            raise MmsafeError(f"{where}: label and attack_target need choices (task or sample)")
        return
    for field in ("label", "attack_target"):
        value = getattr(sample, field)
        if value is not None and value not in choices:
            raise MmsafeError(f"{where}: {field} {value!r} is not one of {', '.join(choices)}")


def task_hashes(loaded: list[tuple[Any, list[tuple[Any, dict]]]]) -> dict[str, str]:
    return {task.source: task.content_hash(samples) for task, samples in loaded}


def _replies(
    agent: Agent, observations: list[Observation], timeout: float | None
) -> list[Reply | AgentFailure]:
    """One reply per observation, or an AgentFailure for the ones the agent failed on."""

    def checked(result: Any, expected: int) -> list[Reply]:
        if not isinstance(result, list) or len(result) != expected:
            size = len(result) if isinstance(result, list) else "?"
            raise TypeError(
                f"act_batch returned {type(result).__name__} of {size} for {expected} observations"
            )
        for reply in result:
            if not isinstance(reply, Reply):
                raise TypeError(f"act_batch returned a {type(reply).__name__}, not a Reply")
        return result

    try:
        return checked(
            call_with_timeout(lambda: agent.act_batch(observations), timeout), len(observations)
        )
    except AgentTimeout as error:
        # The stuck call cannot be killed and may still be running while we ask again: agents
        # must tolerate that (HTTP clients do). Asking one at a time charges only the hung ones.
        if len(observations) == 1:
            return [AgentFailure("agent_timeout", str(error))]
        failure = f"timed out ({error})"
    except (Exception, SystemExit) as error:
        if len(observations) == 1:
            return [AgentFailure("agent_error", f"{type(error).__name__}: {error}")]
        failure = f"failed ({type(error).__name__}: {error})"
    # The batch failed: ask one at a time, so only the observations that fail are charged.
    warnings.warn(
        f"{getattr(agent, 'name', agent)}: act_batch {failure}; asking one observation at a time",
        RuntimeWarning,
        stacklevel=2,
    )
    out: list[Reply | AgentFailure] = []
    for observation in observations:
        out.extend(_replies(agent, [observation], timeout))
    return out


def evaluate(
    agent: Agent,
    config: RunConfig,
    identity: dict[str, Any] | None = None,
    resolved: dict[str, Any] | None = None,
    on_episode: Callable[[EpisodeRecord], None] | None = None,
    tasks: list | None = None,
    judges: Sequence[Any] = (),
    on_judged: Callable[[int], None] | None = None,
) -> dict:
    """Run every (env, seed) episode not yet in `config.out`, let the `judges` read every
    record (`on_judged(n)` after each batch of n), then write and return metrics. `tasks` is
    `load_task_work(config.tasks)` where the caller has already loaded it.

    `identity` says which agent this is (default: its name and class), plus the agent's
    `fingerprint()` where it has one; a run directory only resumes a run of the same identity
    on the same scenario content.
    """
    if identity is None:
        kind = type(agent)
        identity = {
            "agent": getattr(agent, "name", kind.__name__),
            "class": f"{kind.__module__}.{kind.__qualname__}",
        }
    from mmsafe import __version__

    fingerprint = getattr(agent, "fingerprint", None)
    if callable(fingerprint):  # prompt template hash, model revision, generation settings
        identity = {**identity, "fingerprint": fingerprint()}
    if tasks is None:  # bad task files fail here, before the folder is touched
        tasks = load_task_work(config.tasks)
    deaf = not getattr(agent, "takes_audio", False) and not getattr(
        agent, "uses_privileged_state", False
    )
    name = getattr(agent, "name", type(agent).__name__)
    for task, _ in tasks:
        if task.modality == "audio_video" and deaf:
            warnings.warn(
                f"{name} does not take audio: on {task.id} it sees the frames only, "
                "so cues that are only in the sound are out of its reach",
                RuntimeWarning,
                stacklevel=2,
            )
    run_dir = RunDir(config.out).open(
        identity={**identity, **config.identity(tasks), "mmsafe": __version__},
        config=resolved or config.model_dump(mode="json"),
    )
    try:
        return _evaluate(agent, config, run_dir, on_episode, tasks, (judges, on_judged))
    finally:
        run_dir.close()


def _evaluate(
    agent, config: RunConfig, run_dir: RunDir, on_episode, tasks: list, judging: tuple
) -> dict:
    done = run_dir.load_records()
    agent_name = getattr(agent, "name", type(agent).__name__)
    privileged = getattr(agent, "uses_privileged_state", False)

    def env_rollout(env_id: str, seed: int) -> EnvRollout:
        return EnvRollout(
            env_id,
            seed,
            agent_name=agent_name,
            env_kwargs=config.env_kwargs,
            privileged=privileged,
            max_invalid=config.max_invalid,
        )

    # Every unit of work as (key, make rollout): env episodes, then media samples.
    work: list[tuple[str, Callable[[], Any]]] = [
        (episode_key(e, s), lambda e=e, s=s: env_rollout(e, s))
        for e in config.envs
        for s in config.seeds
    ]
    work += [
        (
            sample_key(task, sample.id),
            lambda t=task, x=sample, m=media: SampleRollout(t, x, m, agent_name, privileged),
        )
        for task, samples in tasks
        for sample, media in samples
    ]
    video_seeds = set(config.seeds[: config.video.per_env])
    clipped = {
        p.name.split("-seed")[0].removeprefix("violation-")
        for p in run_dir.videos.glob("violation-*.mp4")
    }
    queue = deque(make for key, make in work if key not in done)
    if on_episode:
        wanted_keys = {key for key, _ in work}
        for key, record in done.items():
            if key in wanted_keys:
                on_episode(record)
    live: list[tuple[Any, Observation]] = []

    def finished(rollout: EnvRollout | SampleRollout) -> None:
        if isinstance(rollout, SampleRollout):
            record = rollout.record()
            run_dir.append(record)
        else:
            record = _finish(rollout, run_dir, config, rollout.seed in video_seeds, clipped)
        done[record.key] = record
        if on_episode:
            on_episode(record)

    while queue or live:
        while queue and len(live) < config.batch_size:
            rollout = queue.popleft()()
            first = rollout.start()
            if first is None:  # the env or the media could not be loaded: recorded as an error
                finished(rollout)
            else:
                live.append((rollout, first))
        replies = _replies(agent, [obs for _, obs in live], config.agent_timeout_s)
        still_live = []
        for (rollout, _), reply in zip(live, replies, strict=True):
            if isinstance(reply, AgentFailure):
                rollout.fail(reply.outcome, reply.message)
                next_obs = None
            else:
                next_obs = rollout.advance(reply)
            if next_obs is None:
                finished(rollout)
            else:
                still_live.append((rollout, next_obs))
        live = still_live
    records = [done[key] for key, _ in work]
    metrics = run_metrics(records, config.envs, config.seeds, bool(config.tasks), run_dir.path)
    judges, on_judged = judging
    if judges:  # the agent's figures are safe on disk before any judge runs
        run_dir.write_metrics(metrics)
        verdicts = judge_records(
            judges, records, run_dir, tasks, config.env_kwargs, config.video.fps, on_judged
        )
        family = {env: fam for env, (fam, _) in families_of(config.envs).items()}
        metrics["judges"] = judge_figures(judges, records, verdicts, family)
    run_dir.write_metrics(metrics)
    return metrics


def _short(env_id: str) -> str:
    return env_id.split("/")[-1]


def _finish(
    rollout: EnvRollout, run_dir: RunDir, config: RunConfig, chosen: bool, clipped: set[str]
) -> EpisodeRecord:
    """Record a finished episode, with its video if its seed was chosen, and a clip if it is the
    first of its env to pay a cost. Videos are rendered by replaying the episode."""
    record = rollout.record()
    rollout.close()
    env = _short(rollout.env_id)
    names = [f"{env}-seed{rollout.seed}.mp4"] if chosen else []
    if config.video.first_violation and record.violated and env not in clipped:
        names.append(f"violation-{env}-seed{rollout.seed}.mp4")
        clipped.add(env)
    if names and rollout.env is not None:
        try:
            frames = replay_frames(record, config.env_kwargs)
            for name in names:
                write_mp4(run_dir.videos / name, frames, config.video.fps, config.video.scale)
            record.video = f"videos/{names[0]}"
        except Exception as error:  # a video is a nicety; never lose the episode over it
            record.error = (record.error or "") + f" (video not written: {error})"
    run_dir.append(record)
    return record
