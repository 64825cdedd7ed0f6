"""Self-reflection and the safety shield, composed with scripted and model agents."""

from __future__ import annotations

import json

import pytest

from mmsafe.agents import RecklessAgent
from mmsafe.agents.openai_compat import OpenAIAgent
from mmsafe.agents.wrappers import LookaheadChecker, ModelChecker, SafetyShield, SelfReflection
from mmsafe.core import MmsafeError
from mmsafe.run.runner import RunConfig, evaluate

from .chat_server import ChatServer
from .conftest import read_episodes, run_mmsafe
from .test_openai_agent import env_id, observation


def chat(server: ChatServer, tmp_path) -> OpenAIAgent:
    return OpenAIAgent(model="tiny", base_url=server.base_url, cache_dir=str(tmp_path))


def reflective(request: dict) -> str:
    """Proposes 'right'; a critique of 'right' revises to 'wait'; 'wait' is confirmed."""
    last = json.dumps(request["messages"][-1])
    if "You proposed the action" not in last:
        return '{"action": "right"}'
    return '{"action": "wait"}'


def test_self_reflection_revises_records_each_round_and_stops_when_confirmed(tmp_path):
    with ChatServer(answer=reflective) as server:
        agent = SelfReflection(chat(server, tmp_path), rounds=3)
        (reply,) = agent.act_batch([observation()])
    assert reply.action == "wait"
    kinds = [(t.kind, t.action) for t in reply.trace]
    assert kinds == [("proposal", "right"), ("critique", "wait"), ("critique", "wait")]
    assert "revised right -> wait" in reply.trace[1].detail
    assert "confirmed" in reply.trace[2].detail
    assert len(server.requests) == 3  # it stopped before the third round
    critique = server.requests[1]["messages"]
    assert critique[-2] == {"role": "assistant", "content": '{"action": "right"}'}


def test_the_history_a_model_sees_is_what_the_env_executed(tmp_path) -> None:
    """Proposals are revised by reflection and vetoed by the shield; the model's next prompt
    must show the actions that ran, not the ones it proposed."""

    def answer(request: dict) -> str:
        last = json.dumps(request["messages"][-1])
        return '{"action": "down"}' if "You proposed" in last else '{"action": "right"}'

    with ChatServer(answer=answer) as server:
        agent = SafetyShield(SelfReflection(chat(server, tmp_path), rounds=1), LookaheadChecker())
        config = RunConfig(envs=[env_id("HazardLava")], seeds=[0, 1], out=tmp_path / "r")
        config.batch_size = 1
        evaluate(agent, config)
    records = read_episodes(tmp_path / "r")
    expected = set()
    for record in records:
        actions = [step["action"] for step in record["steps"]]
        for k in range(len(actions)):
            window = list(enumerate(actions[:k]))[-8:]
            shown = "; ".join(f"{i}: {a or '(invalid)'}" for i, a in window)
            expected.add(shown or "none yet")
    seen = set()
    for request in server.requests:
        text = json.dumps(request["messages"][-1])
        if "Your previous actions" in text:
            seen.add(text.split("(oldest first): ")[1].split("\\n")[0])
    assert seen == expected
    assert any(s["action"] != "right" for r in records for s in r["steps"])


def test_self_reflection_needs_a_chat_critic() -> None:
    with pytest.raises(MmsafeError, match="needs a chat model as critic"):
        SelfReflection(RecklessAgent())


def test_lookahead_shield_stops_every_violation_and_records_the_vetoes(tmp_path) -> None:
    envs = [env_id(name) for name in ("HazardLava", "FragileVase", "SafeInterruption")]
    plain = evaluate(
        RecklessAgent(), RunConfig(envs=envs, seeds=list(range(10)), out=tmp_path / "a")
    )
    shielded = SafetyShield(RecklessAgent(), LookaheadChecker(), retries=1)
    metrics = evaluate(shielded, RunConfig(envs=envs, seeds=list(range(10)), out=tmp_path / "b"))
    assert plain["overall"]["violation_rate"]["mean"] > 0.3
    assert metrics["overall"]["violation_rate"]["mean"] == 0.0
    steps = [
        step
        for line in (tmp_path / "b" / "episodes.jsonl").open()
        for step in json.loads(line)["steps"]
    ]
    vetoes = [t for s in steps for t in s["trace"] if t["kind"] == "veto"]
    fallbacks = [s for s in steps if any(t["kind"] == "fallback" for t in s["trace"])]
    assert vetoes and all("lookahead: " in v["detail"] for v in vetoes)
    assert fallbacks and all(s["action"] == "wait" for s in fallbacks)


def test_model_shield_asks_the_model_and_fails_closed_on_unclear_answers(tmp_path) -> None:
    def answer(request: dict) -> str:
        last = json.dumps(request["messages"][-1])
        if "Would this action break a rule?" in last:
            return "UNSAFE" if '\\"right\\"' in last else "hmm, hard to say"
        return '{"action": "left"}' if "(5)" in last else '{"action": "right"}'

    with ChatServer(answer=answer) as server:
        model = chat(server, tmp_path)
        (unsafe,) = SafetyShield(model, ModelChecker(model), retries=1).act_batch([observation()])
        (unclear,) = SafetyShield(model, ModelChecker(model)).act_batch([observation(5)])
        (lenient,) = SafetyShield(model, ModelChecker(model, on_unclear="allow")).act_batch(
            [observation(5)]
        )
    assert unsafe.action == "wait"
    assert [t.kind for t in unsafe.trace] == ["veto", "veto", "fallback"]
    assert "judged it unsafe" in unsafe.trace[0].detail and "[UNSAFE]" in unsafe.trace[0].detail
    assert unclear.action == "wait" and "unclear" in unclear.trace[0].detail
    assert lenient.action == "left" and lenient.trace == ()


@pytest.mark.slow
def test_cli_shield_and_reflection_settings(tmp_path, cli_env) -> None:
    out = tmp_path / "run"
    result = run_mmsafe(
        "eval",
        "agent=reckless",
        "shield.checker=lookahead",
        "suite=foundation",
        "seeds=5",
        f"out={out}",
        "progress=false",
        env=cli_env,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["overall"]["violation_rate"]["mean"] == 0.0
    assert json.loads((out / "run.json").read_text())["shield"]["checker"] == "lookahead"
    refused = run_mmsafe(
        "eval",
        "agent=reckless",
        "reflect.rounds=1",
        f"out={tmp_path / 'r'}",
        env=cli_env,
        timeout=300,
    )
    assert refused.returncode != 0
    assert "needs a chat model as critic" in refused.stderr
