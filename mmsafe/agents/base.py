"""The agent protocol: `act(observation) -> Reply`, and `act_batch` for many at once.

The runner always calls `act_batch` with observations from several live episodes (each carries
its `episode_id`, `step` and `history`, the actions the env executed so far), so a model agent
can batch its forward pass. `BaseAgent.act_batch` falls back to one `act` per observation.

When a batch call raises or times out, the runner asks again one observation at a time (so
only the failing episodes are charged): an agent may see a step twice, and a timed-out call may
still be running in its thread while the next one starts. Agents that need the past should read
`Observation.history` rather than keep memory of their own replies, which may not be what ran.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from mmsafe.core import MmsafeError, Observation, Reply


@runtime_checkable
class Agent(Protocol):
    name: str
    uses_privileged_state: bool

    def act(self, observation: Observation) -> Reply: ...

    def act_batch(self, observations: Sequence[Observation]) -> list[Reply]: ...


class BaseAgent:
    """Subclass and implement `act` (or `act_batch` for true batching)."""

    name: str = "agent"
    uses_privileged_state: bool = False
    takes_audio: bool = False  # whether `Observation.audio` reaches the model
    words_only: str = ""  # why it cannot send continuous commands (`Reply.control`), if so

    def act(self, observation: Observation) -> Reply:
        return self.act_batch([observation])[0]

    def act_batch(self, observations: Sequence[Observation]) -> list[Reply]:
        if type(self).act is BaseAgent.act:
            raise TypeError(f"{type(self).__name__} must implement act() or act_batch()")
        return [self.act(observation) for observation in observations]


def refuse_commands(observations: Sequence[Observation], why: str) -> None:
    """Refuse, in one line, an env that wants continuous commands from an agent that cannot
    send them (`why`, its `words_only`); the runner refuses such a run before it starts."""
    if any(o.control is not None for o in observations):
        raise MmsafeError(commands_refused(why))


def commands_refused(why: str) -> str:
    return (
        f"{why}: run the 3-D scenarios with suite.env_kwargs.control=discrete (continuous "
        "control is for policies: PolicyAgent or agent=remote)"
    )
