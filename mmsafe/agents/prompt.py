"""The prompt renderer: one observation (plus the episode's recent actions, and the earlier
frames an agent keeps in memory) into chat messages.

Templates are YAML files (`mmsafe/agents/prompts/NAME.yaml`, or any path), validated on load:
a template that uses a field the renderer does not fill is an error naming the file. A run
records each template's name, version and content hash (`PromptTemplate.fingerprint`).

The default template (`embodied`) explains the interface only: what a frame shows, what each
action does, how to answer. `instructed` is the same with the safety rules stated in its system
prompt, so that comparing the two runs (`mmsafe compare`) separates safety a model shows
unprompted from safety it shows when told. Every template keeps `rules` for the explicit safety
wrappers (self-reflection's critique, the model shield's check), which state them by design.
"""

from __future__ import annotations

import hashlib
import json
import string
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from mmsafe.core import MmsafeError, Observation, validation_message

PROMPTS_DIR = Path(__file__).parent / "prompts"
MEMORY_TEXT_CHARS = 512  # of an earlier text shown beside its frame (an env's texts are shorter)

# The fields each formatted template string may use (write {{ and }} for literal braces there).
# `rules`, `one_frame`, `no_frames` and `no_history` are inserted as they are.
FIELDS = {
    "system": {"rules", "actions"},
    "user": {"mission", "media", "history", "actions", "step"},
    "memory": {"count", "items", "index", "step"},
    "memory_item": {"index", "step", "text", "action"},
    "memory_text": {"text"},
    "many_frames": {"count"},
    "history_item": {"step", "action"},
    "reflect": {"proposal", "mission", "rules", "actions"},
    "veto": {"action", "reason"},
    "check": {"mission", "action", "rules"},
    "question_system": set(),
    "question_user": {"media", "question", "answer"},
    "with_choices": {"choices", "example"},
    "free_text": set(),
}


class PromptTemplate(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    version: int
    history_window: int = Field(default=8, ge=0)
    rules: str
    system: str
    user: str
    one_frame: str
    many_frames: str
    no_frames: str
    history_item: str
    no_history: str
    reflect: str
    veto: str
    check: str
    question_system: str
    question_user: str
    with_choices: str
    free_text: str
    # how the earlier frames an agent remembers are introduced (`ChatAgent(memory_frames=N)`);
    # defaults, so that templates written before memory existed still load
    memory: str = (
        "The first {count} images are earlier views of this episode, each with the action "
        "taken after it:\n{items}\nThe last image (image {index}) is the current view, at "
        "step {step}."
    )
    memory_item: str = "- image {index}, step {step}{text}: then {action}"
    memory_text: str = ', when the text read "{text}"'

    @model_validator(mode="after")
    def _known_fields(self) -> PromptTemplate:
        for key, allowed in FIELDS.items():
            used = _fields(getattr(self, key), key)
            unknown = used - allowed
            if unknown:
                raise ValueError(
                    f"{key} uses {{{', '.join(sorted(unknown))}}}; it may use "
                    + (", ".join(f"{{{f}}}" for f in sorted(allowed)) or "no fields")
                )
        return self

    def sha256(self) -> str:
        canonical = json.dumps(self.model_dump(), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()

    def fingerprint(self) -> dict[str, object]:
        return {"name": self.name, "version": self.version, "sha256": self.sha256()[:16]}


@dataclass(frozen=True)
class Message:
    """A chat message before it is put in a backend's format. Images come before the text;
    `video` says they are frames of one clip (a model family may take those as a video)."""

    role: Literal["system", "user", "assistant"]
    text: str
    images: tuple[np.ndarray, ...] = ()
    video: bool = False


def load_prompt(name_or_path: str | Path = "embodied") -> PromptTemplate:
    """A packaged template by name (`embodied`), or a YAML file by path."""
    path = Path(name_or_path)
    if path.suffix not in (".yaml", ".yml"):
        path = PROMPTS_DIR / f"{name_or_path}.yaml"
        if not path.is_file():
            known = ", ".join(sorted(p.stem for p in PROMPTS_DIR.glob("*.yaml")))
            raise MmsafeError(f"unknown prompt '{name_or_path}'; choose from {known} or a path")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return PromptTemplate.model_validate(data)
    except OSError as error:
        raise MmsafeError(f"cannot read prompt {path}: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise MmsafeError(f"{path}: not valid YAML ({_first(str(error))})") from None
    except ValidationError as error:
        raise MmsafeError(f"{path}: {validation_message(error)}") from None


@dataclass(frozen=True)
class Earlier:
    """A frame an agent saw earlier in the episode, at `step`, with the text shown with it."""

    step: int
    frame: np.ndarray
    text: str


def render(
    template: PromptTemplate, observation: Observation, memory: Sequence[Earlier] = ()
) -> list[Message]:
    """The system message, then one user message with the frames, the mission, the episode's
    recent actions (from `observation.history`) and the allowed actions. `memory` holds earlier
    frames of the episode, oldest first: they go before the current frame, each introduced with
    its step, the action taken after it (again from `observation.history`, so what is shown is
    what ran) and, where it differs from the text now, the text shown with it. A media question
    is rendered as a conversation instead (`render_question`)."""
    if observation.kind == "question":
        return render_question(template, observation)
    actions = ", ".join(observation.actions)
    system = template.system.format(rules=template.rules, actions=actions)
    frames = tuple(observation.frames)
    if not frames:
        media = template.no_frames
    elif len(frames) == 1 and memory:
        media = _memory(template, observation, memory)
        frames = (*(earlier.frame for earlier in memory), *frames)
    elif len(frames) == 1:
        media = template.one_frame
    else:
        media = template.many_frames.format(count=len(frames))
    past = list(enumerate(observation.history))
    window = past[-template.history_window :] if template.history_window else []
    shown = "; ".join(
        template.history_item.format(step=step, action=action or "(invalid)")
        for step, action in window
    )
    user = template.user.format(
        mission=observation.text,
        media=media,
        history=shown or template.no_history,
        actions=actions,
        step=observation.step,
    )
    return [
        Message("system", system),
        # earlier views are separate pictures, not the frames of one clip
        Message("user", user, images=frames, video=len(frames) > 1 and not memory),
    ]


def _memory(template: PromptTemplate, observation: Observation, memory: Sequence[Earlier]) -> str:
    items = []
    for index, earlier in enumerate(memory, start=1):
        if earlier.step < len(observation.history):
            action = observation.history[earlier.step] or "(invalid)"
        else:  # not in the record (a caller that passes no history)
            action = "(unknown)"
        text = _flat(earlier.text)
        changed = (
            template.memory_text.format(text=text[:MEMORY_TEXT_CHARS])
            if text != _flat(observation.text)
            else ""
        )
        items.append(
            template.memory_item.format(index=index, step=earlier.step, text=changed, action=action)
        )
    return template.memory.format(
        count=len(memory), items="\n".join(items), index=len(memory) + 1, step=observation.step
    )


def _flat(text: str) -> str:
    """`text` on one line (a mission with an operator's message has two)."""
    return " ".join(text.split())


def render_question(template: PromptTemplate, observation: Observation) -> list[Message]:
    """The system message, the first user turn with the frames and the question, then the
    earlier turns of the conversation (`observation.dialogue`) and the current user turn.
    Every user turn ends with how to answer: one of the choices, or free text."""
    if observation.actions:
        # a placeholder, not a real choice: an example answer would anchor the model on it
        answer = template.with_choices.format(
            choices=", ".join(observation.actions), example="<your answer>"
        )
    else:
        answer = template.free_text
    frames = tuple(observation.frames)
    turns = [*observation.dialogue, ("user", observation.text)]
    messages = [Message("system", template.question_system)]
    for index, (role, text) in enumerate(turns):
        if index == 0:
            # one picture needs no introduction; frames of a clip do
            media = template.many_frames.format(count=len(frames)) if len(frames) > 1 else ""
            user = template.question_user.format(media=media, question=text, answer=answer)
            user = user.strip()
            messages.append(Message("user", user, images=frames, video=len(frames) > 1))
        elif role == "user":
            messages.append(Message("user", f"{text}\n{answer}"))
        else:
            messages.append(Message("assistant", text))
    return messages


def _fields(text: str, key: str) -> set[str]:
    try:
        return {field for _, field, _, _ in string.Formatter().parse(text) if field is not None}
    except ValueError as error:  # an unmatched brace
        raise ValueError(f"{key}: {error} (write {{{{ and }}}} for literal braces)") from None


def _first(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), text)
