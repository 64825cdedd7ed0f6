"""The core protocol every part of mmsafe speaks.

One loop drives both sources of work (DESIGN.md): an episode of an env and a sample of a media
task are each a sequence of turns. In a turn the agent sees an `Observation` and answers with a
`Reply`; the runner stores a `StepRecord` per turn and an `EpisodeRecord` per episode or sample;
judges turn records into `Verdict`s, stored as `Judgement`s next to the records.

Observations hold numpy arrays and live in memory only, so they are dataclasses. Everything
that is written to or read from disk is a pydantic model, validated on the way back in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError


class MmsafeError(Exception):
    """A problem the user can fix (bad config, missing file, bad scenario). Shown as one line."""


def validation_message(error: ValidationError) -> str:
    """The first problem pydantic found, as one line: `field.path: what is wrong`."""
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    message = first["msg"].removeprefix("Value error, ")
    return one_line(f"{where}: {message}" if where else message)


_CONTROL = {code: f"\\x{code:02x}" for code in [*range(32), 127]} | {10: "\\n", 13: "\\r", 9: "\\t"}


def one_line(text: str) -> str:
    """`text` with control characters escaped (a newline shows as \\n), so that a value a user
    wrote can never break an error message into several lines or restyle a terminal."""
    return text.translate(_CONTROL)


MAX_YAML_VALUES = 100_000  # values a YAML document may expand to, its aliases followed


def load_yaml(text: str) -> Any:
    """`yaml.safe_load` for files users write: one that nests too deeply, or whose aliases
    expand to more than MAX_YAML_VALUES values (a "billion laughs" bomb) or contain
    themselves, is a `yaml.YAMLError` like any malformed document, never a RecursionError
    or a structure that hangs whoever walks it."""
    loader = yaml.SafeLoader(text)
    try:
        try:
            node = loader.get_single_node()
            if node is None:
                return None
            _check_expansion(node)
            return loader.construct_document(node)
        except RecursionError:
            raise yaml.YAMLError("nested too deeply") from None
    finally:
        loader.dispose()


def yaml_problem(error: yaml.YAMLError, text: str = "") -> str:
    """A YAML error as one line: ` at line N: what is wrong` (the line where known)."""
    mark = getattr(error, "problem_mark", None)
    line = mark.line + 1 if mark is not None else None
    if isinstance(error, yaml.reader.ReaderError):  # a character YAML does not allow
        line = text.count("\n", 0, error.position) + 1 if text else None
        code = error.character if isinstance(error.character, int) else ord(error.character)
        problem = f"{error.reason} (character {code:#x})"
    else:
        problem = getattr(error, "problem", None) or str(error)
    problem = " ".join(problem.split())[:200]
    return (f" at line {line}" if line else "") + f": {problem}"


def _check_expansion(root: yaml.Node) -> None:
    """Count the values `root` expands to, each alias followed, without expanding them."""

    def children(node: yaml.Node) -> list[yaml.Node]:
        if isinstance(node, yaml.MappingNode):
            return [part for pair in node.value for part in pair]
        return list(node.value) if isinstance(node, yaml.SequenceNode) else []

    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        if finished:
            open_nodes.discard(key)
            sizes[key] = 1 + sum(sizes[id(child)] for child in children(node))
            if sizes[key] > MAX_YAML_VALUES:
                raise yaml.YAMLError(
                    f"its aliases expand to more than {MAX_YAML_VALUES} values "
                    "(a 'billion laughs' document?)"
                )
        elif key in open_nodes:
            raise yaml.YAMLError("an alias refers to the node that contains it")
        elif key not in sizes:
            open_nodes.add(key)
            stack.append((node, True))
            stack.extend((child, False) for child in children(node))


@dataclass(frozen=True)
class ControlSpace:
    """An env's continuous action: one number per name, each within its bounds (a Gymnasium
    `Box`). Agents answer it with `Reply.control`; `Observation.actions` then names only the
    words they may say instead (such as `done` and `refuse`)."""

    names: tuple[str, ...]
    low: tuple[float, ...]
    high: tuple[float, ...]

    def summary(self, words: Sequence[str] = ()) -> str:
        """The space as an env's `actions` text says it: `speed, turn in [-1, 1]; or done`."""
        if len(set(self.low)) == 1 and len(set(self.high)) == 1:
            text = f"{', '.join(self.names)} in [{self.low[0]:g}, {self.high[0]:g}]"
        else:
            bounds = zip(self.names, self.low, self.high, strict=True)
            text = ", ".join(f"{name} in [{lo:g}, {hi:g}]" for name, lo, hi in bounds)
        return f"{text}; or {', '.join(words)}" if words else text

    def describe(self, values: Sequence[float]) -> str:
        """A command as people read it, e.g. `speed 0.50, turn -0.20`."""
        return ", ".join(f"{n} {v:.2f}" for n, v in zip(self.names, values, strict=True))


@dataclass(frozen=True)
class Observation:
    """What an agent sees in one turn.

    `frames` are RGB uint8 arrays of shape (H, W, 3), oldest first: one for an env step, several
    for a video sample. `actions` names what the agent may answer; it is empty where a free-text
    answer is expected. `history` is what the environment executed in the earlier steps of this
    episode (None for an invalid reply), as recorded by the runner: an agent that shows its
    model the recent past reads it here, so what it shows is always what happened.
    `privileged` is the simulator's ground-truth state (for a media question, its
    `SampleTruth`), handed only to agents that declare `uses_privileged_state` (the scripted
    controls); model agents never see it.

    A media task's question has `kind="question"`: `text` is the question, `actions` its
    choices (empty for a free-text answer), and `dialogue` the earlier turns of the same
    conversation as (role, text) pairs, oldest first; the frames belong to its first user turn.

    `control` is set where the env takes a continuous command (a 3-D scenario with
    `control=continuous`): the agent answers with `Reply.control`, or with one of `actions`.
    """

    frames: tuple[np.ndarray, ...]
    text: str
    actions: tuple[str, ...] = ()
    audio: np.ndarray | None = None
    sample_rate: int | None = None
    source: str = ""
    episode_id: str = ""
    step: int = 0
    history: tuple[str | None, ...] = ()
    kind: Literal["step", "question"] = "step"
    dialogue: tuple[tuple[Literal["user", "assistant"], str], ...] = ()
    privileged: Any = field(default=None, repr=False, compare=False)
    control: ControlSpace | None = None

    @property
    def image(self) -> np.ndarray:
        """The newest frame."""
        return self.frames[-1]


@dataclass(frozen=True)
class SampleTruth:
    """What is known to be right about a media question: the privileged state of a sample, for
    the scripted controls only (as the simulator's state is for an env)."""

    label: str | None
    harmful: bool | None
    attack_target: str | None
    followups: int
    refusal_choices: tuple[str, ...] = ()


class TraceEntry(BaseModel):
    """One intermediate step behind a reply: a self-reflection round, a shield's veto, a retry.
    Stored with the step, so a reader can see how the final action came about."""

    model_config = ConfigDict(frozen=True)

    kind: str  # e.g. "proposal", "critique", "veto", "fallback"
    text: str = ""  # the raw model text of this step, if any
    action: str | None = None
    detail: str | None = None


class Reply(BaseModel):
    """An agent's answer to one observation.

    `text` is the raw output of a model (empty for scripted or RL policies). `action` is the parsed
    action name, or None when none could be parsed: the runner records that as an invalid action,
    it never guesses one, and `error` says why no action was parsed. `confidence` is the agent's
    stated probability that it is right, if any. `trace` holds the rounds of wrappers.
    `control` is a continuous command, for an observation with a `control` space (then `action`
    is None, or one of the words the env also takes).
    """

    model_config = ConfigDict(frozen=True)

    text: str = ""
    action: str | None = None
    confidence: float | None = Field(default=None, ge=0.0, le=1.0)
    error: str | None = None
    trace: tuple[TraceEntry, ...] = ()
    control: tuple[float, ...] | None = None


class Event(BaseModel):
    """A typed event in an episode: a safety violation (cost > 0) or a notable state change."""

    kind: str
    step: int
    cost: float = 0.0
    object: str | None = None
    position: tuple[int, int] | None = None
    detail: str | None = None


class StepRecord(BaseModel):
    """One turn as stored in the run directory.

    `action` is what the environment executed, or `control` where it was a continuous command
    (clipped to the env's bounds). When the agent's reply was invalid, `action` and `control`
    are None, `valid` is False, `error` says why, and the env passed an idle turn: time runs on,
    but idling is neither waiting nor moving (so garbage cannot pass for obeying an operator).
    """

    t: int
    action: str | None
    valid: bool = True
    reply: str = ""
    confidence: float | None = None
    reward: float = 0.0
    cost: float = 0.0
    events: list[Event] = Field(default_factory=list)
    error: str | None = None
    trace: list[TraceEntry] = Field(default_factory=list)
    state: str | None = None  # the world's state digest after an env step (replay checks it)
    control: list[float] | None = None


Outcome = Literal[
    "goal_reached",  # the env's mission completed
    "refused",  # the agent declined the mission
    "declared_done",  # the agent said it was done before completing the mission
    "shut_down",  # the agent stopped when its operator asked it to (what the mission then was)
    "terminated",  # the env ended the episode (e.g. the agent entered lava)
    "timeout",  # the step limit ran out
    "invalid_actions",  # too many invalid replies in a row
    "agent_error",  # the agent raised
    "agent_timeout",  # the agent took longer than its time limit
    "env_error",  # the environment raised
    "answered",  # a media sample got a valid answer (`success`: it was the labelled one)
    # (a media sample whose answer declines the request is "refused")
    "media_error",  # a media sample's file was missing or could not be decoded
]


class Verdict(BaseModel):
    """A judge's reading of an episode, a sample, or one step of either.

    `step` is None for the verdict on the whole episode or sample (every judge gives exactly
    one of those per item it reads) and the step's `t` otherwise; `time_s` is where that step
    is in the episode video. `score` is the judge's number (a reward, a harm score, a
    probability), `safe` its safety call where it makes one, `label` its class where it has
    classes ("refused" / "answered", a guard model's category). A judge that failed on an item
    says so in `error` and makes no call: a failure is counted as a failure, never as safe or
    unsafe.
    """

    model_config = ConfigDict(frozen=True)

    judge: str
    score: float | None = None
    safe: bool | None = None
    label: str | None = None
    reason: str = ""
    step: int | None = None
    time_s: float | None = None
    error: str | None = None


class Judgement(BaseModel):
    """One judge's verdicts on one episode or sample: one line of `verdicts.jsonl`. `judge` is
    the judge's id (`name@hash` of its fingerprint), so a changed judge's verdicts never pass
    for the old one's."""

    key: str
    judge: str
    verdicts: list[Verdict]


class EpisodeRecord(BaseModel):
    """One finished episode (or media sample): one line of `episodes.jsonl`."""

    key: str
    source: str
    seed: int
    agent: str
    sample: str | None = None  # the manifest id, for a media sample
    label: str | None = None  # the sample's correct answer, if it has one
    harmful: bool | None = None  # a sample that should be refused (True) or answered (False)
    pair_id: str | None = None  # links a sample's safe and unsafe versions
    attack_target: str | None = None  # the answer an injected instruction asked for
    steps: list[StepRecord]
    outcome: Outcome
    success: bool
    total_reward: float
    total_cost: float
    performance: float | None = None
    expect_refusal: bool = False
    variant: str = "base"
    error: str | None = None
    video: str | None = None
    duration_s: float = 0.0

    @property
    def safe_success(self) -> bool:
        return self.success and self.total_cost == 0.0

    @property
    def violated(self) -> bool:
        return self.total_cost > 0.0

    @property
    def actions(self) -> list[str | None]:
        return [step.action for step in self.steps]


# Held-out seeds (`seeds=heldout:N`) are drawn at or above this; public seeds stay below it.
HELDOUT_SEED_BASE = 2**32


def episode_key(source: str, seed: int, arm: str | None = None) -> str:
    """The identity of an episode in a run: the same source, arm (the variant the runner
    assigned, see `mmsafe.run.units`) and seed is the same episode."""
    return f"{source}#seed={seed}" if arm is None else f"{source}#variant={arm}#seed={seed}"
