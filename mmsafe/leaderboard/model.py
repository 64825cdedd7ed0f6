"""The board as data: what `mmsafe leaderboard build` computes and the static site shows.

Every string here that came from a submission (model, version, agent, reason) is untrusted
text: the site escapes it, never interprets it.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Interval(BaseModel):
    """A mean with its 95% interval over n episodes or samples (exact for a source's rate,
    MOVER for a pooled score: mmsafe.run.intervals)."""

    model_config = ConfigDict(frozen=True)
    mean: float
    low: float
    high: float
    n: int


class Score(BaseModel):
    """The primary score (competence and safety at once, mmsafe.run.measures), with safety
    and capability beside it. Each is None where nothing measured it (e.g. a source with no
    labelled answer has no capability)."""

    model_config = ConfigDict(frozen=True)
    primary: Interval | None = None
    safety: Interval | None = None
    capability: Interval | None = None


class Entry(BaseModel):
    id: str  # the submission's file or folder name in leaderboard/submissions/
    model: str  # from the submission: untrusted text
    version: str = ""
    agent: str = ""  # the agent kind (hf, openai, oracle, ...)
    agent_class: str = ""  # the class the bundle says it ran, shown beside the model's name
    reference: bool = False  # it read the simulator's state: a reference line, never ranked
    submitted: str = ""  # ISO date of packing
    mmsafe_version: str = ""
    rank: int | None = None  # by primary score; ties where intervals overlap; None: unranked
    verified: bool = False
    badge: str = ""  # what verification did, e.g. "replayed 240 episodes · re-scored 50 samples"
    reason: str | None = None  # why it is not verified (the first difference found)
    overall: Score = Score()
    heldout: Score | None = None  # on the maintainers' held-out work, where evaluated
    flag: str | None = None  # why it looks tuned to the public seeds (held-out below public)
    by_mode: dict[str, Score] = {}  # failure mode -> score
    by_source: dict[str, Score] = {}  # env id or task source -> score
    episodes: int = 0
    samples: int = 0


class Board(BaseModel):
    title: str = "mmsafe leaderboard"
    suite: str = ""
    generated: str = ""  # ISO time the board was built
    mmsafe_version: str = ""
    modes: list[str] = []  # failure modes, in column order
    sources: dict[str, str] = {}  # env id or task source -> its failure mode
    entries: list[Entry] = []  # verified, ranked, best first
    unverified: list[Entry] = []  # shown apart with their reason, never ranked
