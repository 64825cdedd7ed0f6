"""A rollout for one media sample: load its frames (and audio), ask, record the answers.

Same interface as `EnvRollout` (start, advance, fail, record, close), so the runner schedules
samples and episodes alike. A sample with `followups` is a conversation: after each valid
answer the next follow-up (e.g. a user's pushback) is asked with the earlier turns, and the
final answer is the sample's answer. A follow-up may challenge whatever the agent said:
`{answer}` in it is the answer just given and `{other}` another choice (`followup_text`), so
that pushback tests a right answer's holding and a wrong one's correction alike. A missing or
corrupt file fails the sample with `media_error` and the file's problem; the run goes on.
"""

from __future__ import annotations

import dataclasses
import time

from mmsafe.agents.parse import strip_reasoning
from mmsafe.core import EpisodeRecord, Observation, Reply, SampleTruth, StepRecord, TraceEntry
from mmsafe.data.manifest import ManifestSample
from mmsafe.data.media import MediaError, load_audio, load_av, load_image, load_video
from mmsafe.data.task import Task
from mmsafe.judges.agreement import WRITTEN_REFUSAL
from mmsafe.judges.refusal import is_refusal
from mmsafe.run.rollout import observed_id


def sample_key(task: Task, sample_id: str) -> str:
    return f"{task.source}#sample={sample_id}"


def followup_text(template: str, answer: str, choices: tuple[str, ...]) -> str:
    """A follow-up turn as the user says it after `answer`: `{answer}` is that answer and
    `{other}` the choice after it in `choices` (the other one of two; "something else" for a
    free-text answer). Any other braces are left as written."""
    if answer in choices:
        other = choices[(choices.index(answer) + 1) % len(choices)]
    else:
        other = "something else"
    return template.replace("{answer}", answer).replace("{other}", other)


def load_sample_media(task: Task, sample: ManifestSample, media: dict) -> tuple:
    """(frames, audio, sample rate) as the task's modality asks; the runner has already
    checked that the sample has the media its modality needs. Raises MediaError."""
    if task.modality == "image":
        size = task.frames.size
        return tuple(load_image(media[p], size) for p in sample.image_paths), None, None
    video, spec = media[sample.video], task.frames.spec()
    if task.modality == "video":
        return load_video(video, spec).frames, None, None
    if sample.audio:  # a separate audio file, cut to the frames' window
        clip = load_video(video, spec)
        end = clip.duration_s if spec.end_s is None else min(spec.end_s, clip.duration_s)
        sound = load_audio(media[sample.audio], task.audio.sample_rate, spec.start_s, end)
    else:
        clip, sound = load_av(video, spec, task.audio.sample_rate)
    return clip.frames, sound.samples, sound.sample_rate


class SampleRollout:
    def __init__(
        self,
        task: Task,
        sample: ManifestSample,
        media: dict,
        agent_name: str,
        privileged: bool = False,
        id_secret: bytes = b"",
    ):
        self.task, self.sample, self.media, self.agent_name = task, sample, media, agent_name
        self.key = sample_key(task, sample.id)
        self.shown_id = observed_id(self.key, id_secret)  # a sample's id may name its label
        self.env = None  # no simulator behind a sample (the runner renders no video)
        self.steps: list[StepRecord] = []
        self.outcome: str | None = None
        self.success = False
        self.error: str | None = None
        self.choices = tuple(sample.choices or task.choices or ())
        self.privileged = privileged
        self._observation: Observation | None = None
        self._started = 0.0

    def start(self, load_media: bool = True) -> Observation | None:
        """The question, or None when its media failed to load. Without `load_media` the
        question comes without frames (to re-score submitted answers, which need none)."""
        self._started = time.perf_counter()
        frames, audio, rate = (), None, None
        try:
            if load_media:
                frames, audio, rate = load_sample_media(self.task, self.sample, self.media)
        except MediaError as error:
            self.fail("media_error", str(error))
            return None
        sample = self.sample
        text = self.task.prompt.format(question=sample.question, choices=", ".join(self.choices))
        truth = SampleTruth(
            label=sample.label,
            harmful=sample.harmful,
            attack_target=sample.attack_target,
            followups=len(sample.followups),
            refusal_choices=tuple(self.task.refusal_choices),
        )
        self._observation = Observation(
            frames=frames,
            text=text,
            actions=self.choices,
            audio=audio,
            sample_rate=rate,
            source=self.task.source,
            episode_id=self.shown_id,
            kind="question",
            privileged=truth if self.privileged else None,
        )
        return self._observation

    def advance(self, reply: Reply) -> Observation | None:
        """Record the answer; the next follow-up turn, or None when the sample is done."""
        reply = self._written_refusal(reply)
        # a reply that is only (unfinished) reasoning is no answer
        answered = bool(strip_reasoning(reply.text).strip())
        valid = reply.action in self.choices if self.choices else answered
        error = None
        if not valid:
            error = (
                reply.error or f"answer {reply.action!r} is not one of {', '.join(self.choices)}"
            )
        self.steps.append(
            StepRecord(
                t=len(self.steps) + 1,
                action=reply.action if valid and self.choices else None,
                valid=valid,
                reply=reply.text,
                confidence=reply.confidence,
                error=error,
                trace=list(reply.trace),
            )
        )
        if not valid:
            self.outcome, self.success = "invalid_actions", False
            return None
        turn = len(self.steps)
        if turn <= len(self.sample.followups):
            asked = self._observation
            assert asked is not None
            said = reply.text.strip() or str(reply.action)
            answer = str(reply.action) if self.choices else strip_reasoning(reply.text).strip()
            self._observation = dataclasses.replace(
                asked,
                text=followup_text(self.sample.followups[turn - 1], answer, self.choices),
                dialogue=(*asked.dialogue, ("user", asked.text), ("assistant", said)),
                step=turn,
            )
            return self._observation
        self.outcome = "refused" if self._declined(reply) else "answered"
        self.success = self.sample.label is not None and reply.action == self.sample.label
        return None

    def _written_refusal(self, reply: Reply) -> Reply:
        """On a choice question, a reply that declines in words instead of naming a choice is
        taken as the task's refusal choice (if it offers one): declining is an answer."""
        if not self.choices or reply.action in self.choices or not is_refusal(reply.text):
            return reply
        declines = [c for c in self.choices if c in self.task.refusal_choices]
        if not declines:
            return reply
        # marked, so that judge agreement does not take the keyword judge's reading as truth
        read = TraceEntry(kind=WRITTEN_REFUSAL, action=declines[0], detail="a refusal in words")
        return reply.model_copy(
            update={"action": declines[0], "error": None, "trace": (*reply.trace, read)}
        )

    def _declined(self, reply: Reply) -> bool:
        if self.choices:
            return reply.action in self.task.refusal_choices
        return is_refusal(reply.text)

    def fail(self, outcome: str, error: str) -> None:
        self.outcome, self.success, self.error = outcome, False, error

    def record(self) -> EpisodeRecord:
        assert self.outcome is not None, "record() before the sample finished"
        return EpisodeRecord(
            key=self.key,
            source=self.task.source,
            seed=0,
            sample=self.sample.id,
            label=self.sample.label,
            harmful=self.sample.harmful,
            pair_id=self.sample.pair_id,
            attack_target=self.sample.attack_target,
            agent=self.agent_name,
            steps=self.steps,
            outcome=self.outcome,  # type: ignore[arg-type]
            success=self.success,
            total_reward=0.0,
            total_cost=0.0,
            performance=None,
            expect_refusal=self.sample.harmful is True,
            variant=self.sample.category or "base",
            error=self.error,
            duration_s=round(time.perf_counter() - self._started, 4),
        )

    def close(self) -> None:
        pass
