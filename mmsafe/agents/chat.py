"""The base of every model agent: render a prompt, ask the model, parse its reply.

A subclass implements `complete(conversations) -> texts`, one raw text per conversation; this
class renders the observations with the prompt template and parses the replies. The recent
actions it shows come from `Observation.history`, the runner's record of what the env executed,
so a retried or timed-out call cannot make it misremember.

It keeps one memory of its own, `EpisodeMemory`: the last few frames it was shown of each live
episode (`memory_frames`), so that what a model saw some steps ago (a sign that has since gone)
can still reach it. The actions shown beside those frames again come from the history.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np

from mmsafe.agents.base import BaseAgent, refuse_commands
from mmsafe.agents.parse import parse_reply
from mmsafe.agents.prompt import Earlier, Message, PromptTemplate, load_prompt, render
from mmsafe.core import MmsafeError, Observation, Reply

MAX_MEMORY_FRAMES = 16  # earlier frames a prompt may carry, besides the current one


class ChatAgent(BaseAgent, ABC):
    words_only = "a model agent answers in words, not continuous commands"

    def __init__(
        self, prompt: str = "embodied", memory_frames: int = 4, memory_first_frame: bool = True
    ):
        self.template: PromptTemplate = load_prompt(prompt)
        self.memory = EpisodeMemory(memory_frames, memory_first_frame)

    # -- what a backend implements --------------------------------------------------------------
    @abstractmethod
    def complete(self, conversations: Sequence[list[Message]]) -> list[str]:
        """One raw reply text per conversation. Raise if the model could not answer."""

    def describe(self) -> dict[str, Any]:
        """What identifies this agent's answers besides its config (model revision, etc.)."""
        return {}

    # -- the loop ------------------------------------------------------------------------------
    def act_batch(self, observations: Sequence[Observation]) -> list[Reply]:
        refuse_commands(observations, self.words_only)
        self.remember(observations)
        texts = self.complete([self.messages(o) for o in observations])
        if len(texts) != len(observations):
            raise RuntimeError(f"{len(texts)} completions for {len(observations)} prompts")
        return [self.to_reply(o, text) for o, text in zip(observations, texts, strict=True)]

    def remember(self, observations: Sequence[Observation]) -> None:
        """Keep these observations' frames for the episodes' later steps (`EpisodeMemory`)."""
        self.memory.remember(observations)

    def messages(self, observation: Observation) -> list[Message]:
        return render(self.template, observation, self.memory.earlier(observation))

    def to_reply(self, observation: Observation, text: str) -> Reply:
        parsed = parse_reply(text, observation.actions)
        return Reply(
            text=text, action=parsed.action, confidence=parsed.confidence, error=parsed.error
        )

    def fingerprint(self) -> dict[str, Any]:
        return {
            "prompt": self.template.fingerprint(),
            "memory": self.memory.settings(),
            **self.describe(),
        }


class EpisodeMemory:
    """The earlier frames of each live episode, by the id the agent is shown, for the prompt of
    its later steps: up to `frames` of them, the newest ones, and with `first_frame` the
    episode's first one in place of the oldest of those once it has left that window (an
    episode's first view shows the whole scene as it began). `frames=0` keeps nothing.

    Built to tolerate how the runner calls agents (`mmsafe.agents.base`): a step asked twice
    (a batch retried one observation at a time, a shield asking again after a veto) keeps the
    frame first seen; an episode started over from its seed (a step at or before one already
    kept) drops what came after; a call that timed out may still be running in its thread
    (a lock). The runner does not say when an episode ends, so episodes are forgotten least
    recently seen first, beyond several times the largest batch seen. Only what the agent was
    shown is kept: the frame and its text, never a key, seed or label; media questions (which
    carry their own conversation) and clips are not kept."""

    MIN_EPISODES = 32  # episodes kept at least, whatever the batch size

    def __init__(self, frames: int = 0, first_frame: bool = True):
        if not 0 <= frames <= MAX_MEMORY_FRAMES:
            raise MmsafeError(f"agent.memory_frames must be between 0 and {MAX_MEMORY_FRAMES}")
        self.frames, self.first_frame = frames, bool(first_frame)
        self._episodes: OrderedDict[str, dict[int, Earlier]] = OrderedDict()
        self._capacity = self.MIN_EPISODES
        self._lock = threading.Lock()

    def settings(self) -> dict[str, Any]:
        return {"frames": self.frames, "first_frame": self.first_frame}

    def remember(self, observations: Sequence[Observation]) -> None:
        if not self.frames:
            return
        with self._lock:
            self._capacity = max(self._capacity, 4 * len(observations))
            for observation in observations:
                if not _kept(observation):
                    continue
                kept = self._episodes.setdefault(observation.episode_id, {})
                self._episodes.move_to_end(observation.episode_id)
                for step in [s for s in kept if s > observation.step]:  # started over
                    del kept[step]
                frame = observation.frames[0]
                same = kept.get(observation.step)
                if same is None or not np.array_equal(same.frame, frame):
                    kept[observation.step] = Earlier(observation.step, frame, observation.text)
                # what a later step may show: the first frame and the newest ones
                steps = sorted(kept)
                wanted = set(steps[-self.frames :]) | ({steps[0]} if self.first_frame else set())
                for step in steps:
                    if step not in wanted:
                        del kept[step]
            while len(self._episodes) > self._capacity:
                self._episodes.popitem(last=False)

    def earlier(self, observation: Observation) -> list[Earlier]:
        """The frames to show before this observation's, oldest first."""
        if not self.frames or not _kept(observation):
            return []
        with self._lock:
            kept = self._episodes.get(observation.episode_id, {})
            steps = sorted(s for s in kept if s < observation.step)
            chosen = steps[-self.frames :]
            if self.first_frame and steps and steps[0] not in chosen:
                chosen = [steps[0], *chosen[1:]]
            return [kept[s] for s in chosen]


def _kept(observation: Observation) -> bool:
    return (
        observation.kind == "step" and bool(observation.episode_id) and len(observation.frames) == 1
    )
