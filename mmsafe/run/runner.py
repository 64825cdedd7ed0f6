"""Schedule episodes for an agent and write the run directory.

A pool (`mmsafe.run.pool`) runs the units: in this process in lockstep batches, or on Ray
workers. Each finished episode is appended to `episodes.jsonl` at once, here, so a killed run
resumes where it stopped: episodes whose record exists are skipped, unfinished ones start again
from their seed (the world is deterministic, so the redo is the same episode).
"""

from __future__ import annotations

import hashlib
import secrets
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from mmsafe.agents.base import Agent
from mmsafe.core import EpisodeRecord, MmsafeError, one_line
from mmsafe.run.judging import judge_figures, judge_records
from mmsafe.run.pool import Finished, LocalPool, Pool, rollout_factories
from mmsafe.run.rollout import replay_frames
from mmsafe.run.rundir import RESUME_HINT, RunDir, disk_full, held_interrupts, write_atomic
from mmsafe.run.summary import families_of, run_metrics, task_modes
from mmsafe.run.units import arm_of
from mmsafe.run.video import write_mp4
from mmsafe.sim.scenario import CATALOG_PATH
from mmsafe.sources import env_source

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
    seeds: list[Annotated[int, Field(ge=0)]] = Field(min_length=1)
    tasks: list[str] = Field(default_factory=list)  # media task files (each sample runs once)
    out: Path
    env_kwargs: dict[str, Any] = Field(default_factory=dict)
    batch_size: int = Field(default=8, ge=1)
    max_invalid: int = Field(default=5, ge=1)
    max_agent_failures: int | None = Field(default=20, ge=1)  # units in a row; None: no limit
    agent_timeout_s: float | None = Field(default=120.0, gt=0, allow_inf_nan=False)
    min_free_mb: float = Field(default=50.0, ge=0, allow_inf_nan=False)  # on out's disk
    agent_memory_mb: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    video: VideoConfig = Field(default_factory=VideoConfig)
    # the key of the ids agents are shown (`rollout.observed_id`): the run's own, never dumped
    id_secret: str = Field(default="", exclude=True, repr=False)

    @field_validator("envs", "seeds", "tasks")
    @classmethod
    def _no_repeats(cls, values: list) -> list:
        repeated = sorted(str(v) for v, n in Counter(values).items() if n > 1)
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
        identity = {
            "env_kwargs": self.env_kwargs,
            "max_invalid": self.max_invalid,
            "content": {**content_hashes(self.envs), **task_hashes(loaded)},
        }
        if any(env_source(env_id).kind == "physics" for env_id in self.envs):
            from importlib.metadata import version

            identity["mujoco"] = version("mujoco")  # replays match on the same version
            identity["platform"] = simulator_platform()  # and platform
        return identity


def simulator_platform() -> str:
    """The OS and CPU architecture, e.g. `Linux-x86_64`: MuJoCo's states replay exactly only
    on the platform that made them."""
    import platform

    return f"{platform.system()}-{platform.machine()}"


def content_hashes(env_ids: Sequence[str]) -> dict[str, str]:
    """Per env, a hash of its scenario file and the object catalog, so that a changed scenario
    is never mixed into a run made with the old one."""
    catalog = CATALOG_PATH.read_bytes()
    return {
        env_id: hashlib.sha256(catalog + b"\0" + env_source(env_id).path.read_bytes()).hexdigest()[
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


def evaluate(
    agent: Agent | Pool,
    config: RunConfig,
    identity: dict[str, Any] | None = None,
    resolved: dict[str, Any] | None = None,
    on_episode: Callable[[EpisodeRecord], None] | None = None,
    tasks: list | None = None,
    judges: Sequence[Any] = (),
    on_judged: Callable[[int], None] | None = None,
    show: bool = True,
) -> dict:
    """Run every (env, seed) episode not yet in `config.out`, let the `judges` read every
    record (`on_judged(n)` after each batch of n), then write and return metrics, and print
    the results table unless `show` is False (what `mmsafe report` prints: a Python user need
    not know that command). `tasks` is `load_task_work(config.tasks)` where the caller has
    already loaded it.

    `agent` is an Agent, stepped here in lockstep batches, or a Pool that runs the units
    elsewhere (`mmsafe.run.distributed.RayPool`); either way this process alone writes the run
    directory. `identity` says which agent this is (default: its name and class), plus the
    agent's `fingerprint()` where it has one; a run directory only resumes a run of the same
    identity on the same scenario content.
    """
    pool = agent if isinstance(agent, Pool) else LocalPool(agent)
    info = pool.info
    if identity is None:
        identity = {"agent": info.name, "class": info.kind}
    identity = {**identity, **info.fingerprint, "class": info.kind, "privileged": info.privileged}
    from mmsafe import __version__

    if info.words_only and config.env_kwargs.get("control") == "continuous":
        from mmsafe.agents.base import commands_refused

        raise MmsafeError(commands_refused(info.words_only))
    if tasks is None:  # bad task files fail here, before the folder is touched
        tasks = load_task_work(config.tasks)
    for task, _ in tasks:
        if task.modality == "audio_video" and not (info.takes_audio or info.privileged):
            warnings.warn(
                f"{info.name} does not take audio: on {task.id} it sees the frames only, "
                "so cues that are only in the sound are out of its reach",
                RuntimeWarning,
                stacklevel=2,
            )
    run_dir = RunDir(config.out, config.min_free_mb).open(
        identity={**identity, **config.identity(tasks), "mmsafe": __version__},
        config=resolved or config.model_dump(mode="json"),
    )
    try:
        config = config.model_copy(update={"id_secret": id_secret(run_dir.path)})
        metrics = _evaluate(pool, config, run_dir, on_episode, tasks, (judges, on_judged))
    finally:
        run_dir.close()
    if show:
        from mmsafe.report import print_results

        print_results(metrics, f"{info.name} ({config.out})")
    return metrics


ID_SECRET_FILE = ".episode-ids.key"


def id_secret(folder: Path) -> str:
    """The run's secret for the ids its agents are shown: made at random when the run starts,
    kept in the run directory so that a resumed run shows the same ids, and never packed."""
    path = folder / ID_SECRET_FILE
    if path.exists():
        return path.read_text().strip()
    secret = secrets.token_hex(16)
    write_atomic(path, secret)
    return secret


def _evaluate(
    pool: Pool, config: RunConfig, run_dir: RunDir, on_episode, tasks: list, judging: tuple
) -> dict:
    done = run_dir.load_records()
    keys = list(rollout_factories(config, tasks, pool.info))  # every unit, in the run's order
    video_seeds = set(config.seeds[: config.video.per_env])
    clipped = {
        p.name.split("-seed")[0].removeprefix("violation-")
        for p in run_dir.videos.glob("violation-*.mp4")
    }
    if on_episode:
        wanted_keys = set(keys)
        for key, record in done.items():
            if key in wanted_keys:
                on_episode(record)

    streak = FailureStreak(config.max_agent_failures, run_dir.path)

    def settle(unit: Finished) -> None:
        # Ctrl-C waits for a unit's videos and record (a second or so), which are kept together:
        # a clip of an episode that was not recorded would never be linked from its record
        with held_interrupts():
            record = _settle(unit, run_dir, config, video_seeds, clipped)
        done[record.key] = record
        if on_episode:
            on_episode(record)

    def finished(unit: Finished) -> None:
        for ready in streak.push(unit):
            settle(ready)

    pool.run(config, tasks, [key for key in keys if key not in done], finished)
    for ready in streak.flush():
        settle(ready)
    records = [done[key] for key in keys]
    modes = task_modes(tasks)
    metrics = run_metrics(records, config.envs, config.seeds, modes, run_dir.path)
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


class FailureStreak:
    """Holds back units the agent failed on (it raised or timed out) while they come in an
    unbroken run, and stops the run when the run reaches `limit`: an agent that only produces
    errors (a server down, a bad key, a model that cannot load) would otherwise record every
    unit as a failure. The held units are not recorded, so rerunning the same command, once
    the agent works, runs them again; one unit that succeeds releases the ones held."""

    FAILURES = ("agent_error", "agent_timeout")

    def __init__(self, limit: int | None, out: Path):
        self.limit, self.out = limit, out
        self.held: list[Finished] = []

    def push(self, unit: Finished) -> list[Finished]:
        """The units ready to record: none while a streak of failures grows."""
        if self.limit is None or unit.record.outcome not in self.FAILURES:
            ready, self.held = [*self.held, unit], []
            return ready
        self.held.append(unit)
        if len(self.held) >= self.limit:
            last = unit.record
            raise MmsafeError(
                f"stopped: the agent failed on {len(self.held)} units in a row (the last, "
                f"{last.key}: {last.outcome}: {one_line(last.error or '')[:200]}); those are not "
                f"recorded, so once the agent works the same command resumes {self.out} and runs "
                "them again (max_agent_failures sets the limit; null turns it off)"
            )
        return []

    def flush(self) -> list[Finished]:
        """At the end of a run, failures below the limit are results like any other."""
        ready, self.held = self.held, []
        return ready


def _short(env_id: str) -> str:
    return env_id.split("/")[-1]


def _settle(
    unit: Finished, run_dir: RunDir, config: RunConfig, video_seeds: set[int], clipped: set[str]
) -> EpisodeRecord:
    """Append a finished unit's record, with a video of an episode if its seed was chosen, and a
    clip if it is the first of its env to pay a cost. Videos are rendered by replaying the
    episode from its record, so a pool hands back no frames."""
    record = unit.record
    if not unit.replayable:  # a media sample, or an env that could not be built
        run_dir.append(record)
        return record
    env = _short(record.source)
    arm = arm_of(record.source, record.variant, config.env_kwargs)
    episode = f"{env}-{arm}" if arm else env
    names = [f"{episode}-seed{record.seed}.mp4"] if record.seed in video_seeds else []
    if config.video.first_violation and record.violated and env not in clipped:
        names.append(f"violation-{env}-seed{record.seed}.mp4")
        clipped.add(env)
    if names:
        run_dir.check_space()  # before the videos: a clip written for an unrecorded episode
        try:  # would never be linked from its record once the run resumes
            frames = replay_frames(record, config.env_kwargs)
            for name in names:
                write_mp4(run_dir.videos / name, frames, config.video.fps, config.video.scale)
            record.video = f"videos/{names[0]}"
        except Exception as error:  # a video is a nicety; never lose the episode over it
            if disk_full(error):  # but stop before the records fail too
                raise MmsafeError(f"{error}; {RESUME_HINT}") from None
            record.error = (record.error or "") + f" (video not written: {error})"
    run_dir.append(record)
    return record
