"""The memoriser: a control that learns the public benchmark by heart and nothing else.

Public seeds are public: anyone can render every public episode's first frame and every public
media sample, and look up what the oracle would do. The memoriser does exactly that. On an env
episode it matches the first frame and mission against the public seeds' (0..`public_seeds`-1,
every arm), rebuilds that world and plays the oracle on it; on a media question it matches the
frames and question against the public samples and gives their labelled answer. On anything it
has not memorised it refuses. It scores like the oracle on the public board and collapses on
held-out work, which is what the held-out board must catch (`mmsafe leaderboard heldout`, the
overfitting flag). It is never handed the simulator's state: everything it uses is public.
"""

from __future__ import annotations

import hashlib
import threading
from typing import Any

import numpy as np

from mmsafe.agents.controls import IdReaderAgent
from mmsafe.agents.scripted import COMPLY, DECLINE
from mmsafe.core import Observation, Reply


def _digest(frames: tuple[np.ndarray, ...], text: str, audio: np.ndarray | None = None) -> str:
    digest = hashlib.sha256(text.encode())
    for frame in (*frames, *(() if audio is None else (audio,))):
        digest.update(np.ascontiguousarray(frame).tobytes())
    return digest.hexdigest()


class MemoriserAgent(IdReaderAgent):
    name = "memoriser"
    uses_privileged_state = False

    def __init__(self, public_seeds: int = 100, seed: int = 0):
        super().__init__(seed)
        if isinstance(public_seeds, bool) or not isinstance(public_seeds, int) or public_seeds < 1:
            raise ValueError(f"public_seeds must be a positive integer, not {public_seeds!r}")
        self.public_seeds = public_seeds
        # source -> first view -> the public (seed, arm)s that start so (a rare event may come
        # later in an episode that starts like a common one)
        self._episodes: dict[str, dict[str, list[tuple[int, str | None]]]] = {}
        self._answers: dict[str, dict[str, Reply]] = {}  # task source -> question view -> answer
        self._known: dict[str, list[tuple[int, str | None]]] = {}  # episode id -> candidates
        self._learn_lock = threading.Lock()

    def act(self, observation: Observation) -> Reply:
        if observation.kind == "question":
            reply = self._answers_of(observation.source).get(self._question_view(observation))
            if reply is None:
                return Reply(text=DECLINE)
            with self._lock:
                self.recovered += 1
            return reply
        if observation.step == 0:
            view = _digest(observation.frames, observation.text)
            found = self._episodes_of(observation.source).get(view, [])
            with self._lock:
                self._known[observation.episode_id] = list(found)
        with self._lock:
            for seed, arm in self._known.get(observation.episode_id, []):
                try:
                    world = self._rebuild(observation, seed, arm)
                except Exception:  # a world it cannot rebuild: it knows nothing of it
                    continue
                seen = self._worlds[(observation.episode_id, observation.source, seed, arm)]
                same = seen.text == observation.text  # (paired arms differ only in words)
                if world is not None and same and np.array_equal(seen.image, observation.image):
                    self.recovered += 1
                    return self._oracle.act(_with_world(observation, world))
        return Reply(action="refuse")

    # -- what it learns by heart ----------------------------------------------------------------
    def _episodes_of(self, source: str) -> dict[str, list[tuple[int, str | None]]]:
        with self._learn_lock:
            if source not in self._episodes:
                self._episodes[source] = self._render_public(source)
            return self._episodes[source]

    def _render_public(self, source: str) -> dict[str, list[tuple[int, str | None]]]:
        import gymnasium

        from mmsafe.run.units import arms_of

        table: dict[str, list[tuple[int, str | None]]] = {}
        for arm in arms_of(source, {}):
            kwargs = {"variant": arm} if arm else {}
            env = gymnasium.make(source, disable_env_checker=True, **kwargs)
            try:
                for seed in range(self.public_seeds):
                    obs, _ = env.reset(seed=seed)
                    view = _digest((obs["image"],), obs["mission"])
                    table.setdefault(view, []).append((seed, arm))
            finally:
                env.close()
        return table

    def _answers_of(self, source: str) -> dict[str, Reply]:
        with self._learn_lock:
            if source not in self._answers:
                self._answers[source] = self._read_public_task(source)
            return self._answers[source]

    def _read_public_task(self, source: str) -> dict[str, Reply]:
        from mmsafe.data.media import MediaError
        from mmsafe.data.task import load_task, task_index
        from mmsafe.run.sample import load_sample_media

        index = task_index()
        if source not in index:
            return {}
        task = load_task(index[source])
        answers: dict[str, Reply] = {}
        for sample, media in task.read_samples():
            try:
                frames, audio, _ = load_sample_media(task, sample, media)
            except MediaError:
                continue
            choices = tuple(sample.choices or task.choices or ())
            text = task.prompt.format(question=sample.question, choices=", ".join(choices))
            view = _digest(tuple(frames), text, audio)
            answers[view] = _answer(sample, choices, task.refusal_choices)
        return answers

    @staticmethod
    def _question_view(observation: Observation) -> str:
        first = observation.dialogue[0][1] if observation.dialogue else observation.text
        return _digest(observation.frames, first, observation.audio)


def _answer(sample: Any, choices: tuple[str, ...], refusal_choices: list[str]) -> Reply:
    if sample.label is not None:
        return Reply(action=sample.label, confidence=1.0)
    if not choices:
        return Reply(text=DECLINE if sample.harmful else COMPLY)
    declines = [c for c in choices if c in refusal_choices]
    if sample.harmful and declines:
        return Reply(action=declines[0])
    return Reply(action=next((c for c in choices if c not in refusal_choices), choices[0]))


def _with_world(observation: Observation, world: Any) -> Observation:
    import dataclasses

    return dataclasses.replace(observation, privileged=world)
