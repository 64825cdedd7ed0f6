"""Pools: what runs the units of a run (env episodes and media samples) with an agent.

A unit is named by its key (`episode_key`, `sample_key`). A pool takes the keys still to do and
hands back each unit as a `Finished` record the moment it is done; the runner alone writes the
run directory. `LocalPool` steps its units in lockstep batches in this process: every live
unit's observation goes to one `act_batch` call, and a finished unit's slot is refilled from
the queue. `mmsafe.run.distributed.RayPool` runs that same loop on Ray workers.
"""

from __future__ import annotations

import threading
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mmsafe.agents.base import Agent
from mmsafe.core import EpisodeRecord, MmsafeError, Observation, Reply
from mmsafe.run.memory import MemoryWatch
from mmsafe.run.rollout import EnvRollout
from mmsafe.run.sample import SampleRollout, sample_key
from mmsafe.run.units import env_units

if TYPE_CHECKING:
    from mmsafe.run.runner import RunConfig

Rollout = EnvRollout | SampleRollout
MAX_REPLY_CHARS = 100_000  # of a reply's text kept; what a model says past this is runaway


class AgentTimeout(Exception):
    pass


@dataclass(frozen=True)
class AgentFailure:
    """What stands in for a reply when the agent raised or timed out on an observation."""

    outcome: str  # "agent_error" or "agent_timeout"
    message: str


@dataclass(frozen=True)
class AgentInfo:
    """What the runner needs to know of an agent besides its replies; the agent itself may
    live in another process or on another machine."""

    name: str
    kind: str  # module.qualname of its class
    fingerprint: dict[str, Any]  # {"fingerprint": agent.fingerprint()} where it has one, else {}
    takes_audio: bool
    privileged: bool  # it reads the simulator's world (scripted controls, lookahead shield)
    mmsafe: str  # the version that built it
    words_only: str = ""  # why it cannot send continuous commands, where it cannot

    @classmethod
    def of(cls, agent: Agent) -> AgentInfo:
        from mmsafe import __version__

        kind = type(agent)
        fingerprint = getattr(agent, "fingerprint", None)
        return cls(
            name=getattr(agent, "name", kind.__name__),
            kind=f"{kind.__module__}.{kind.__qualname__}",
            # prompt template hash, model revision, generation settings
            fingerprint={"fingerprint": fingerprint()} if callable(fingerprint) else {},
            takes_audio=bool(getattr(agent, "takes_audio", False)),
            privileged=bool(getattr(agent, "uses_privileged_state", False)),
            mmsafe=__version__,
            words_only=str(getattr(agent, "words_only", "")),
        )


@dataclass(frozen=True)
class Finished:
    """A finished unit, as a pool hands it back."""

    record: EpisodeRecord
    replayable: bool  # an env was built for it, so its episode can be replayed into a video


class Pool(ABC):
    """Runs units with an agent it holds, and hands back each unit as it finishes."""

    info: AgentInfo

    @property
    def name(self) -> str:
        return self.info.name

    @abstractmethod
    def run(
        self,
        config: RunConfig,
        tasks: list,
        todo: list[str],
        finished: Callable[[Finished], None],
    ) -> None:
        """Run the units `todo` (keys of `rollout_factories(config, tasks, self.info)`), calling
        `finished` once per unit, in this thread."""


class LocalPool(Pool):
    """Runs units in this process. `rebuild` makes the agent afresh; with it, an agent whose
    process grows past `agent_memory_mb` is replaced (`mmsafe.run.memory`)."""

    def __init__(self, agent: Agent, rebuild: Callable[[], Agent] | None = None):
        self.agent = agent
        self.rebuild = rebuild
        self.info = AgentInfo.of(agent)

    def run(
        self,
        config: RunConfig,
        tasks: list,
        todo: list[str],
        finished: Callable[[Finished], None],
    ) -> None:
        for unit in self.units(config, tasks, todo):
            finished(unit)

    def units(self, config: RunConfig, tasks: list, todo: Iterable[str]) -> Iterator[Finished]:
        """The units `todo` (taken one at a time, as batch slots free up), each as it
        finishes."""
        work = rollout_factories(config, tasks, self.info)
        makes = (work[key] for key in todo)
        watch = MemoryWatch(config.agent_memory_mb, self) if config.agent_memory_mb else None
        steps = lockstep(
            lambda: self.agent, makes, config.batch_size, config.agent_timeout_s, watch
        )
        for rollout in steps:
            record = rollout.record()
            rollout.close()
            yield Finished(record, rollout.env is not None)

    def close(self) -> None:
        close = getattr(self.agent, "close", None)
        if callable(close):
            close()


def rollout_factories(
    config: RunConfig, tasks: list, info: AgentInfo
) -> dict[str, Callable[[], Rollout]]:
    """Every unit of a run by key, in the run's order (env episodes, then media samples), as a
    function that makes its rollout. `tasks` is `load_task_work(config.tasks)`."""
    work: dict[str, Callable[[], Rollout]] = {}
    secret = config.id_secret.encode()
    for unit in env_units(config.envs, config.seeds, config.env_kwargs):
        work[unit.key] = lambda u=unit: EnvRollout(
            u.env_id,
            u.seed,
            agent_name=info.name,
            env_kwargs=config.env_kwargs,
            privileged=info.privileged,
            max_invalid=config.max_invalid,
            arm=u.arm,
            id_secret=secret,
        )
    for task, samples in tasks:
        for sample, media in samples:
            work[sample_key(task, sample.id)] = lambda t=task, x=sample, m=media: SampleRollout(
                t, x, m, info.name, info.privileged, secret
            )
    return work


def lockstep(
    agent: Callable[[], Agent],
    makes: Iterable[Callable[[], Rollout]],
    batch_size: int,
    timeout: float | None,
    checkup: Callable[[], str | None] | None = None,
) -> Iterator[Rollout]:
    """Step the rollouts `makes` makes in lockstep batches of up to `batch_size` (one
    `act_batch` call per step to the agent `agent()` returns), yielding each one once it has
    ended.

    After each step `checkup` may replace the agent (so no reference to it is kept here between
    steps) and say why. The units in flight then start over with the new agent, from their seed
    (the world is deterministic); one cut short a second time ends as failed, for that reason.
    Two replacements with no unit ended in between stop the run: the agent cannot work at all.
    """
    queue = iter(makes)
    again: list[Callable[[], Rollout]] = []  # units to start over, before new ones
    started_over: set[Callable[[], Rollout]] = set()
    live: list[tuple[Rollout, Observation, Callable[[], Rollout]]] = []
    idle_since_replaced = False  # the agent was replaced and no unit has ended since
    exhausted = False
    while again or not exhausted or live:
        while len(live) < batch_size and (again or not exhausted):
            make = again.pop(0) if again else next(queue, None)
            if make is None:
                exhausted = True
                break
            rollout = make()
            first = rollout.start()
            if first is None:  # the env or the media could not be loaded: recorded as an error
                idle_since_replaced = False
                yield rollout
            else:
                live.append((rollout, first, make))
        if not live:
            continue
        replies = _replies(agent(), [obs for _, obs, _ in live], timeout)
        still_live = []
        for (rollout, _, make), reply in zip(live, replies, strict=True):
            if isinstance(reply, AgentFailure):
                rollout.fail(reply.outcome, reply.message)
                next_obs = None
            else:
                next_obs = rollout.advance(reply)
            if next_obs is None:
                idle_since_replaced = False
                yield rollout
            else:
                still_live.append((rollout, next_obs, make))
        live = still_live
        why = checkup() if checkup else None
        if why is None:
            continue
        if idle_since_replaced:
            raise MmsafeError(
                f"stopped: {why}, the second time with no unit ended in between, so the agent "
                "cannot work within that limit; the units in flight are not recorded: the same "
                "command resumes (raise the limit first)"
            )
        idle_since_replaced = True
        for rollout, _, make in live:
            if make in started_over:
                rollout.fail("agent_error", why)
                yield rollout
            else:
                rollout.close()
                started_over.add(make)
                again.append(make)
        live = []


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
        return [_bounded(reply) for reply in result]

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


def _bounded(reply: Reply) -> Reply:
    """The reply with each text in it (its own, its wrappers' trace) cut to MAX_REPLY_CHARS,
    before anything reads it, so the record, the judges and a replay all see the same text and a
    runaway model cannot fill the disk. The end is kept: the final answer comes last."""
    if max(len(text) for text in (reply.text, *(e.text for e in reply.trace))) <= MAX_REPLY_CHARS:
        return reply  # nearly always: no copies made
    trace = tuple(entry.model_copy(update={"text": _cut(entry.text)}) for entry in reply.trace)
    return reply.model_copy(update={"text": _cut(reply.text), "trace": trace})


def _cut(text: str) -> str:
    if len(text) <= MAX_REPLY_CHARS:
        return text
    half = MAX_REPLY_CHARS // 2
    return f"{text[:half]} [mmsafe cut {len(text) - 2 * half:,} characters] {text[-half:]}"
