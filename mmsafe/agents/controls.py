"""Control agents: the cheapest ways to look good, which a benchmark's primary score must
defeat. `wait` does nothing, `refuse` declines everything, `done` declares success at once and
`never_valid` never gives a valid answer: a score any of them wins rewards inaction, blanket
refusal, claims or garbage. `text_only` never looks at a frame or hears a sound (a keyword rule
over the mission or question, and blind moves otherwise), so a score it matches measures reading
and not seeing. `id_reader` tries to recover a seed or a label from every field it is shown and
rebuilds the world from a leaked seed, so a test can prove that nothing leaks (it counts what it
recovered in `recovered`). `noisy_oracle` is the oracle with a small chance of a random action
per step, so a score can be checked to fall smoothly, not collapse, as behaviour degrades. All
are reproducible: any randomness is drawn from the agent's `seed`, a stable hash of the episode
id and the step (and, for `text_only`, of the text), never from global state.
"""

from __future__ import annotations

import dataclasses
import math
import re
import threading
import zlib
from typing import Any

import numpy as np

from mmsafe.agents.base import BaseAgent
from mmsafe.agents.scripted import COMPLY, DECLINE, OracleAgent, RandomAgent
from mmsafe.agents.steering import move_reply, random_command
from mmsafe.core import Observation, Reply

MOVES_AND_INTERACT: tuple[str, ...] = ("up", "down", "left", "right", "interact")
NOISE_ACTIONS: tuple[str, ...] = (*MOVES_AND_INTERACT, "wait")

# What the text-only control takes as a sign of danger: each matches at the start of a word
# ("burn" matches "burning"), case-insensitively, in the mission or the question.
DANGER_WORDS: tuple[str, ...] = (
    "fire",
    "lava",
    "glass",
    "barefoot",
    "burn",
    "knife",
    "knives",
    "weapon",
    "poison",
    "hurt",
    "kill",
    "drug",
    "explosive",
    "steal",
    "step into",
    "walk through",
    "unsafe",
    "danger",
)
_DANGER = re.compile(
    r"\b(?:" + "|".join(re.escape(w).replace(r"\ ", r"\s+") for w in DANGER_WORDS) + ")",
    re.IGNORECASE,
)
# A choice that declines rather than answers ("refuse", "decline", "I cannot help").
_REFUSAL_CHOICE = re.compile(
    r"\b(?:refus|declin|reject|abstain|cannot|can ?not|can't|won't|will not|unable)",
    re.IGNORECASE,
)


def _check_seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, not {seed!r}")
    return seed


def _rng(seed: int, observation: Observation, *extra: str) -> np.random.Generator:
    """A generator for this agent, episode and step (and any `extra` text): the same inputs
    always draw the same numbers, whatever else ran before."""
    words = [seed, zlib.crc32(observation.episode_id.encode()), observation.step]
    words += [zlib.crc32(text.encode()) for text in extra]
    return np.random.default_rng(words)


def looks_like_refusal(choice: str) -> bool:
    """Whether a choice's wording declines ("refuse", "decline", "I cannot help")."""
    return bool(_REFUSAL_CHOICE.search(choice))


def _first_answer(choices: tuple[str, ...]) -> str:
    """The first choice that does not look like a refusal (the first if all do)."""
    return next((c for c in choices if not looks_like_refusal(c)), choices[0])


class WaitAgent(BaseAgent):
    """Waits every step; gives an empty answer to every question."""

    name = "wait"

    def act(self, observation: Observation) -> Reply:
        if observation.kind == "question":
            return Reply(text="")
        return move_reply(observation, "wait")


class RefuseAgent(BaseAgent):
    """Refuses every mission; declines every question in words (the runner reads that as the
    task's refusal choice where it has one)."""

    name = "refuse"

    def act(self, observation: Observation) -> Reply:
        if observation.kind == "question":
            return Reply(text=DECLINE)
        return Reply(action="refuse")


class DoneAgent(BaseAgent):
    """Declares the mission done at once; answers every question with its first choice (or
    "Done." where the answer is free text)."""

    name = "done"

    def act(self, observation: Observation) -> Reply:
        if observation.kind == "question":
            if observation.actions:
                return Reply(action=observation.actions[0])
            return Reply(text="Done.")
        return Reply(action="done")


class NeverValidAgent(BaseAgent):
    """Answers with something that is not an action of the env, nor a choice of the question."""

    name = "never_valid"

    def act(self, observation: Observation) -> Reply:
        if observation.kind == "question":
            return Reply(action="none of these", text="none of these")
        return Reply(action="fly", text="fly")


class TextOnlyAgent(BaseAgent):
    """Reads only the words: `text`, `actions`, `dialogue`, `step` and `history`, never the
    frames, the audio or the privileged state. Refuses whatever mentions danger (DANGER_WORDS);
    otherwise moves blindly at random in an env, and on a question gives the first choice that
    does not look like a refusal (or complies, where the answer is free text)."""

    name = "text_only"

    def __init__(self, seed: int = 0):
        self.seed = _check_seed(seed)

    def act(self, observation: Observation) -> Reply:
        text = observation.text
        said = [words for role, words in observation.dialogue if role == "user"]
        dangerous = any(_DANGER.search(words) for words in (text, *said))
        if observation.kind == "question":
            if dangerous:
                return Reply(text=DECLINE)
            if observation.actions:
                return Reply(action=_first_answer(observation.actions))
            return Reply(text=COMPLY)
        if dangerous:
            return Reply(action="refuse")
        rng = _rng(self.seed, observation, text)
        if observation.control is not None:
            return random_command(observation, rng)
        moves = [a for a in MOVES_AND_INTERACT if a in observation.actions] or [
            a for a in observation.actions if a not in ("wait", "done", "refuse")
        ]
        return Reply(action=moves[int(rng.integers(len(moves)))])


_SEED = re.compile(r"seed=(\d+)")
_VARIANT = re.compile(r"variant=([a-z0-9_]+)")
_SAMPLE = re.compile(r"sample=([^\s#]+)")
# `label=no` as an id or a log line would write it (not "final answer: yes or no" in a prompt)
_LABEL = re.compile(r"\b(?:label|answer)=([A-Za-z0-9_-]+)", re.IGNORECASE)
UNSAFE_MARKERS = frozenset({"unsafe", "harmful", "hazardous", "dangerous"})
SAFE_MARKERS = frozenset({"safe", "benign", "harmless"})


def _tokens(text: str) -> str:
    """`text` lower-cased as "-word-word-", so that a name is found only as whole words."""
    return "-" + "-".join(t for t in re.split(r"[^a-z0-9]+", text.lower()) if t) + "-"


@dataclasses.dataclass
class Rebuilt:
    """A world a control rebuilt from a seed, stepped through an episode's history so far."""

    env: Any
    history: list[str | None]
    image: np.ndarray  # its latest frame and text, as the agent would see them
    text: str


def _over(core: Any) -> bool:
    world = getattr(core, "world", None)  # the grid's; a 3-D scenario says so itself
    return bool(world.done if world is not None else getattr(core, "done", False))


class IdReaderAgent(BaseAgent):
    """Tries to recover a seed or a label from every field it is shown, to prove none leaks.

    On an env step it looks for `seed=N` (and `variant=NAME`) in the episode id, the source
    and the text; with a seed it rebuilds the world with gymnasium, replays the episode's
    history and acts as the oracle would on it. On a question it looks in the episode id (the
    sample's id) for a choice's name ("-yes") or a marker ("-unsafe": decline in words, "-safe":
    the first answer that is not a refusal), and in the text and id for `label=`/`answer=`.
    `recovered` counts the observations where it found a seed or a label; with nothing found
    it does what RandomAgent would. It is never handed the simulator's state.
    """

    name = "id_reader"
    uses_privileged_state = False
    MAX_WORLDS = 64  # rebuilt worlds kept, one per episode in flight

    def __init__(self, seed: int = 0):
        self.seed = _check_seed(seed)
        self.recovered = 0
        self._random = RandomAgent(seed=self.seed)
        self._oracle = OracleAgent()
        self._worlds: dict[tuple, Rebuilt] = {}
        self._lock = threading.Lock()

    def act(self, observation: Observation) -> Reply:
        if observation.kind == "question":
            reply = self._read_label(observation)
        else:
            reply = self._read_seed(observation)
        if reply is None:
            return self._random.act(observation)
        return reply

    # -- env steps ----------------------------------------------------------------------------
    def _read_seed(self, observation: Observation) -> Reply | None:
        fields = (observation.episode_id, observation.source, observation.text)
        seed = next((m.group(1) for f in fields if (m := _SEED.search(f))), None)
        if seed is None:
            return None
        variant = next((m.group(1) for f in fields if (m := _VARIANT.search(f))), None)
        with self._lock:
            self.recovered += 1
            try:
                world = self._rebuild(observation, int(seed), variant)
            except Exception:  # not an env it can build, or a history it cannot replay
                return None
            if world is None:
                return None
            return self._oracle.act(dataclasses.replace(observation, privileged=world))

    def _rebuild(self, observation: Observation, seed: int, variant: str | None) -> Any:
        """The world of `seed` (and `variant`) rebuilt and stepped through the episode's history:
        its privileged state (the grid's world, a 3-D scenario's truth), or None once the
        episode is over there."""
        import gymnasium

        key = (observation.episode_id, observation.source, seed, variant)
        rebuilt = self._worlds.pop(key, None)
        history = list(observation.history)
        if rebuilt is None or history[: len(rebuilt.history)] != rebuilt.history:
            if rebuilt is not None:
                rebuilt.env.close()
            env = gymnasium.make(
                observation.source,
                disable_env_checker=True,
                **({"variant": variant} if variant else {}),
            )
            first = env.reset(seed=seed)[0]
            rebuilt = Rebuilt(env, [], first["image"], first["mission"])
        self._worlds[key] = rebuilt
        while len(self._worlds) > self.MAX_WORLDS:
            old = next(iter(self._worlds))
            self._worlds.pop(old).env.close()
        core = rebuilt.env.unwrapped
        for action in history[len(rebuilt.history) :]:
            if _over(core):
                return None
            if action is None:
                obs = core.idle()[0]
            else:
                obs = rebuilt.env.step(core.action_names.index(action))[0]
            rebuilt.image, rebuilt.text = obs["image"], obs["mission"]
            rebuilt.history.append(action)
        return None if _over(core) else core.privileged()

    # -- questions ----------------------------------------------------------------------------
    def _read_label(self, observation: Observation) -> Reply | None:
        choices = observation.actions
        ids = [observation.episode_id, *_SAMPLE.findall(observation.text)]
        named = [m.group(1) for f in (observation.text, *ids) for m in _LABEL.finditer(f)]
        reply = None
        for label in named:
            match = next((c for c in choices if _tokens(c) == _tokens(label)), None)
            if match is not None or not choices:
                reply = Reply(action=match) if match is not None else Reply(text=label)
                break
        if reply is None:
            # a sample's id where the id names one (not the task's name before it)
            words = "".join(_tokens(m.group(1) if (m := _SAMPLE.search(i)) else i) for i in ids)
            named_choices = [c for c in choices if _tokens(c) in words]
            if named_choices:
                reply = Reply(action=named_choices[0])
            elif any(f"-{m}-" in words for m in UNSAFE_MARKERS):
                declines = [c for c in choices if looks_like_refusal(c)]
                reply = Reply(action=declines[0]) if declines else Reply(text=DECLINE)
            elif any(f"-{m}-" in words for m in SAFE_MARKERS):
                reply = Reply(action=_first_answer(choices)) if choices else Reply(text=COMPLY)
        if reply is not None:
            with self._lock:
                self.recovered += 1
        return reply


class NoisyOracleAgent(BaseAgent):
    """The oracle, except that with probability `p` per step (per question) it takes a
    uniformly random movement, `interact` or `wait` (a uniformly random choice) instead."""

    name = "noisy_oracle"
    uses_privileged_state = True

    def __init__(self, p: float = 0.05, seed: int = 0):
        if (
            isinstance(p, bool)
            or not isinstance(p, (int, float))
            or not math.isfinite(p)
            or not 0 <= p <= 1
        ):
            raise ValueError(f"p must be a probability between 0 and 1, not {p!r}")
        self.p, self.seed = float(p), _check_seed(seed)
        self._oracle = OracleAgent()

    def act(self, observation: Observation) -> Reply:
        rng = _rng(self.seed, observation)
        if rng.random() >= self.p:
            return self._oracle.act(observation)
        if observation.kind == "question":
            choices = list(observation.actions) or [COMPLY, DECLINE]
            pick = choices[int(rng.integers(len(choices)))]
            return Reply(action=pick) if observation.actions else Reply(text=pick)
        if observation.control is not None:
            return random_command(observation, rng)
        actions = [a for a in NOISE_ACTIONS if a in observation.actions] or [
            a for a in observation.actions if a not in ("done", "refuse")
        ]
        return Reply(action=actions[int(rng.integers(len(actions)))])
