"""Wrappers that compose with any agent: self-reflection and a safety shield.

Both record what they did in `Reply.trace` (stored with the step): every proposal, critique,
veto and fallback, with the raw model text.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Sequence
from typing import Protocol

from mmsafe.agents.base import Agent, BaseAgent, refuse_commands
from mmsafe.agents.chat import ChatAgent
from mmsafe.agents.parse import parse_reply
from mmsafe.agents.prompt import Message, PromptTemplate, load_prompt
from mmsafe.core import MmsafeError, Observation, Reply, TraceEntry


def _template_of(agent: object) -> PromptTemplate:
    """The prompt template of the chat model inside any wrapping, else the default."""
    while not isinstance(agent, ChatAgent) and hasattr(agent, "agent"):
        agent = agent.agent
    return agent.template if isinstance(agent, ChatAgent) else load_prompt()


def _proposal_text(reply: Reply) -> str:
    return reply.text or f'{{"action": "{reply.action}"}}'


class SelfReflection(BaseAgent):
    """Propose, then critique the proposal against the mission and the rules and revise it, up
    to `rounds` times per step; a round that confirms the action ends the loop. The critic is a
    chat model: the agent itself when it is one, or the `critic` given. It is an explicit safety
    layer: the critique (`reflect` in the template) states the template's `rules` whichever
    prompt the agent acts under, the default one included."""

    def __init__(self, agent: Agent, rounds: int = 1, critic: ChatAgent | None = None):
        critic = critic or agent
        if not isinstance(critic, ChatAgent):
            raise MmsafeError(
                f"self-reflection needs a chat model as critic; {type(agent).__name__} is not "
                "one, so give reflect.critic"
            )
        if rounds < 1:
            raise MmsafeError("reflection rounds must be at least 1")
        self.agent, self.critic, self.rounds = agent, critic, rounds
        self.name = getattr(agent, "name", "agent")
        self.uses_privileged_state = getattr(agent, "uses_privileged_state", False)
        self.takes_audio = getattr(agent, "takes_audio", False)
        self.words_only = "self-reflection critiques named actions, not continuous commands"

    def act_batch(self, observations: Sequence[Observation]) -> list[Reply]:
        refuse_commands(observations, self.words_only)
        if self.critic is not self.agent:  # a critic of its own sees the same earlier frames
            self.critic.remember(observations)
        replies = list(self.agent.act_batch(observations))
        traces = [
            [*r.trace, TraceEntry(kind="proposal", text=r.text, action=r.action)] for r in replies
        ]
        # Reflection critiques an action against the rules of acting in a world; a media
        # question's answer is passed through as it is (it has no action to act on).
        open_ = [
            i
            for i, r in enumerate(replies)
            if r.action is not None and observations[i].kind == "step"
        ]
        template = self.critic.template
        for round_ in range(1, self.rounds + 1):
            if not open_:
                break
            conversations = []
            for i in open_:
                obs = observations[i]
                critique = template.reflect.format(
                    proposal=replies[i].action,
                    mission=obs.text,
                    rules=template.rules,
                    actions=", ".join(obs.actions),
                )
                conversations.append(
                    [
                        *self.critic.messages(obs),
                        Message("assistant", _proposal_text(replies[i])),
                        Message("user", critique),
                    ]
                )
            texts = self.critic.complete(conversations)
            still_open = []
            for i, text in zip(open_, texts, strict=True):
                parsed = parse_reply(text, observations[i].actions)
                if parsed.action is None:
                    detail = f"round {round_}: no action in the critique ({parsed.error}); kept"
                elif parsed.action == replies[i].action:
                    detail = f"round {round_}: confirmed"
                else:
                    detail = f"round {round_}: revised {replies[i].action} -> {parsed.action}"
                    replies[i] = Reply(
                        text=text, action=parsed.action, confidence=parsed.confidence
                    )
                    still_open.append(i)
                traces[i].append(
                    TraceEntry(kind="critique", text=text, action=parsed.action, detail=detail)
                )
            open_ = still_open
        return [
            reply.model_copy(update={"trace": tuple(trace)})
            for reply, trace in zip(replies, traces, strict=True)
        ]

    def fingerprint(self) -> dict:
        return {"reflect": self.rounds, **_fingerprint(self.agent)}

    def close(self) -> None:
        _close(self.agent)
        if self.critic is not self.agent:
            _close(self.critic)


@dataclasses.dataclass(frozen=True)
class Check:
    vetoed: bool
    reason: str = ""
    text: str = ""  # the checker's raw output, if it is a model


class Checker(Protocol):
    name: str
    uses_privileged_state: bool

    def check_batch(
        self, observations: Sequence[Observation], actions: Sequence[str]
    ) -> list[Check]: ...


class SafetyShield(BaseAgent):
    """A checker vetoes an action before the env sees it. The agent is told why and asked
    again (up to `retries` times); if every proposal is vetoed, the shield takes `fallback`
    (or, where that action is not allowed, passes no action, which the runner counts as
    invalid). Invalid proposals are not checked: they never reach the env anyway; nor are
    answers to media questions, which act on nothing."""

    def __init__(
        self, agent: Agent, checker: Checker, retries: int = 1, fallback: str | None = "wait"
    ):
        if retries < 0:
            raise MmsafeError("shield retries must be 0 or more")
        self.agent, self.checker, self.retries, self.fallback = agent, checker, retries, fallback
        self.name = getattr(agent, "name", "agent")
        self.takes_audio = getattr(agent, "takes_audio", False)
        self.words_only = "a safety shield checks named actions, not continuous commands"
        self.uses_privileged_state = getattr(agent, "uses_privileged_state", False) or getattr(
            checker, "uses_privileged_state", False
        )
        self._agent_sees_state = getattr(agent, "uses_privileged_state", False)

    def act_batch(self, observations: Sequence[Observation]) -> list[Reply]:
        refuse_commands(observations, self.words_only)
        shown = [self._for_agent(o) for o in observations]
        replies = list(self.agent.act_batch(shown))
        traces: list[list[TraceEntry]] = [list(r.trace) for r in replies]
        # a media question has no world to act in: there is nothing for a shield to guard
        pending = [i for i, o in enumerate(observations) if o.kind == "step"]
        template = _template_of(self.agent)
        for attempt in range(self.retries + 1):
            checkable = [i for i in pending if replies[i].action in observations[i].actions]
            checks = (
                self.checker.check_batch(
                    [observations[i] for i in checkable], [replies[i].action for i in checkable]
                )
                if checkable
                else []
            )
            vetoed = []
            for i, check in zip(checkable, checks, strict=True):
                if check.vetoed:
                    traces[i].append(
                        TraceEntry(
                            kind="veto",
                            text=replies[i].text,
                            action=replies[i].action,
                            detail=f"{self.checker.name}: {check.reason}"
                            + (f" [{check.text}]" if check.text else ""),
                        )
                    )
                    vetoed.append(i)
            pending = vetoed
            if not pending or attempt == self.retries:
                break
            asked = [
                dataclasses.replace(
                    shown[i],
                    text=shown[i].text
                    + "\n"
                    + template.veto.format(
                        action=replies[i].action, reason=checks[checkable.index(i)].reason
                    ),
                )
                for i in pending
            ]
            for i, reply in zip(pending, self.agent.act_batch(asked), strict=True):
                replies[i] = reply
                traces[i].extend(reply.trace)
        for i in pending:
            allowed = self.fallback is not None and self.fallback in observations[i].actions
            traces[i].append(
                TraceEntry(
                    kind="fallback",
                    action=self.fallback if allowed else None,
                    detail="every proposal was vetoed",
                )
            )
            replies[i] = Reply(
                text=replies[i].text,
                action=self.fallback if allowed else None,
                error=None if allowed else "every proposal was vetoed and no fallback is allowed",
            )
        return [
            r.model_copy(update={"trace": tuple(t)}) for r, t in zip(replies, traces, strict=True)
        ]

    def close(self) -> None:
        _close(self.agent)
        _close(getattr(self.checker, "model", None))

    def _for_agent(self, observation: Observation) -> Observation:
        if self._agent_sees_state:
            return observation
        return dataclasses.replace(observation, privileged=None)

    def fingerprint(self) -> dict:
        return {
            "shield": {
                "checker": self.checker.name,
                "retries": self.retries,
                "fallback": self.fallback,
            },
            **_fingerprint(self.agent),
        }


class LookaheadChecker:
    """Vetoes an action that would cost, by trying it on a copy of the simulator's true state:
    the perfect safety layer, an upper bound for what a shield can do (it needs privileged
    state, so it only works on the embodied envs)."""

    name = "lookahead"
    uses_privileged_state = True

    def check_batch(
        self, observations: Sequence[Observation], actions: Sequence[str]
    ) -> list[Check]:
        checks = []
        for observation, action in zip(observations, actions, strict=True):
            world = observation.privileged
            if world is None or not hasattr(world, "step"):
                raise MmsafeError("the lookahead shield needs the simulator's state (an env)")
            trial = copy.copy(world)
            trial.grid, trial.signs = world.grid.copy(), dict(world.signs)
            result = trial.step(action)
            if result.cost > 0:
                kinds = ", ".join(sorted({e.kind for e in result.events if e.cost > 0}))
                checks.append(Check(True, f"'{action}' would cause {kinds}"))
            else:
                checks.append(Check(False))
        return checks


class ModelChecker:
    """Asks a chat model whether the proposed action breaks a rule (answer SAFE or UNSAFE),
    stating the template's `rules` (`check`) whichever prompt the agent acts under. An answer
    that is neither counts as `on_unclear` (veto by default: fail closed)."""

    uses_privileged_state = False

    def __init__(self, model: ChatAgent, on_unclear: str = "veto"):
        if not isinstance(model, ChatAgent):
            raise MmsafeError("the model shield needs a chat model (agent=hf or agent=openai)")
        if on_unclear not in ("veto", "allow"):
            raise MmsafeError("shield on_unclear must be 'veto' or 'allow'")
        self.model, self.on_unclear = model, on_unclear
        self.name = f"model:{getattr(model, 'name', type(model).__name__)}"

    def check_batch(
        self, observations: Sequence[Observation], actions: Sequence[str]
    ) -> list[Check]:
        # No system message: the agent's system prompt asks for an action, not a verdict.
        template = self.model.template
        conversations = [
            [
                Message(
                    "user",
                    template.check.format(mission=o.text, action=a, rules=template.rules),
                    images=tuple(o.frames),
                    video=len(o.frames) > 1,
                ),
            ]
            for o, a in zip(observations, actions, strict=True)
        ]
        checks = []
        for text in self.model.complete(conversations):
            verdict = parse_reply(text, ("SAFE", "UNSAFE")).action
            if verdict == "UNSAFE":
                checks.append(Check(True, "the checker model judged it unsafe", text))
            elif verdict == "SAFE":
                checks.append(Check(False, text=text))
            else:
                checks.append(
                    Check(self.on_unclear == "veto", "the checker's answer was unclear", text)
                )
        return checks


def _close(agent: object) -> None:
    close = getattr(agent, "close", None)
    if callable(close):
        close()


def _fingerprint(agent: object) -> dict:
    fingerprint = getattr(agent, "fingerprint", None)
    return fingerprint() if callable(fingerprint) else {}
