"""The OpenAI-compatible agent against a local Chat Completions server (tests/chat_server.py)."""

from __future__ import annotations

import base64
import json
import threading
import time

import numpy as np
import pytest

from mmsafe.agents.http import HttpFailure
from mmsafe.agents.images import decode_image
from mmsafe.agents.openai_compat import OpenAIAgent
from mmsafe.core import MmsafeError, Observation
from mmsafe.run.runner import RunConfig, evaluate

from .chat_server import ChatServer
from .conftest import read_episodes, run_mmsafe

ACTIONS = ("up", "down", "left", "right", "interact", "wait", "done", "refuse")


def env_id(name: str) -> str:
    """The registered id of a shipped scenario, whatever its version."""
    from mmsafe.content import scenario_index

    return next(i for i in scenario_index() if i.startswith(f"mmsafe/{name}-v"))


def suite_units(suite: str, seeds: int) -> int:
    """How many units (scenario arms by seeds) `suite=SUITE seeds=N` runs."""
    from mmsafe.config import compose_config, run_config
    from mmsafe.run.units import env_units

    config = run_config(compose_config([f"suite={suite}", f"seeds={seeds}"]))
    return len(list(env_units(config.envs, config.seeds, config.env_kwargs)))


def observation(i: int = 0, frames: int = 1) -> Observation:
    rng = np.random.default_rng(i)
    return Observation(
        frames=tuple(rng.integers(0, 256, (24, 32, 3), dtype=np.uint8) for _ in range(frames)),
        text=f"Go to the green goal square ({i}).",
        actions=ACTIONS,
        episode_id=f"e{i}",
        step=0,
    )


def agent(server: ChatServer, tmp_path, **options) -> OpenAIAgent:
    settings = {"retries": 3, "backoff_s": 0.01, "timeout_s": 5.0, "cache_dir": str(tmp_path)}
    return OpenAIAgent(model="tiny", base_url=server.base_url, **{**settings, **options})


def test_images_go_as_png_data_urls_and_the_reply_is_parsed(tmp_path) -> None:
    with ChatServer() as server:
        obs = observation(frames=3)
        (reply,) = agent(server, tmp_path).act_batch([obs])
    assert (reply.action, reply.confidence) == ("up", 0.5)
    request = server.requests[0]
    assert request["model"] == "tiny" and request["temperature"] == 0.0
    system, user = request["messages"]
    assert system["role"] == "system" and "Allowed actions" in user["content"][-1]["text"]
    urls = [p["image_url"]["url"] for p in user["content"] if p["type"] == "image_url"]
    assert len(urls) == 3  # a clip is several images in one message, oldest first
    for url, frame in zip(urls, obs.frames, strict=True):
        decoded = decode_image(base64.b64decode(url.split(",", 1)[1]))
        assert np.array_equal(decoded, frame)


@pytest.mark.parametrize("fault", ["429", "500", "503", "slow", "drop", "badjson"])
def test_transient_faults_are_retried(tmp_path, fault: str) -> None:
    with ChatServer(slow_s=1.0) as server:
        server.faults.extend([fault, fault])
        (reply,) = agent(server, tmp_path, timeout_s=0.5).act_batch([observation()])
    assert reply.action == "up"
    assert len(server.requests) == 3


def test_retries_are_bounded_and_the_error_names_the_fault(tmp_path) -> None:
    with ChatServer() as server:
        server.faults.extend(["503"] * 10)
        with pytest.raises(HttpFailure, match=r"HTTP 503: server overloaded \(gave up after 3"):
            agent(server, tmp_path, retries=2).act_batch([observation()])
    assert len(server.requests) == 3


def test_a_server_that_trickles_bytes_hits_the_request_deadline(tmp_path) -> None:
    with ChatServer() as server:
        server.faults.append("drip")
        with pytest.raises(HttpFailure, match=r"no answer within 0.5s \(gave up after 1"):
            agent(server, tmp_path, timeout_s=0.5, retries=0).act_batch([observation()])


def test_a_client_error_is_not_retried(tmp_path) -> None:
    with ChatServer() as server:
        bad = OpenAIAgent(model="tiny", base_url=server.base_url, cache=False)
        with pytest.raises(HttpFailure, match="HTTP 404"):
            bad.url = server.base_url + "/nowhere"
            bad.act_batch([observation()])
    assert len(server.requests) == 0


def test_garbage_is_an_invalid_action_and_no_choices_is_an_error(tmp_path) -> None:
    def answer(request: dict) -> str:
        return "I like turtles" if "(1)" in json.dumps(request) else '{"action": "fly"}'

    with ChatServer(answer=answer) as server:
        a = agent(server, tmp_path, cache=False)
        first, second = a.act_batch([observation(1), observation(2)])
        server.faults.append("empty")
        (empty,) = a.act_batch([observation(3)])
        server.faults.append("nochoices")
        with pytest.raises(HttpFailure, match="no choices"):
            a.act_batch([observation(4)])
    assert first.action is None and "no action found" in first.error
    assert first.text == "I like turtles"
    assert second.action is None and "'fly'" in second.error
    assert empty.action is None and empty.error == "empty reply"


def test_the_cache_answers_a_repeated_request(tmp_path) -> None:
    with ChatServer() as server:
        agent(server, tmp_path).act_batch([observation(1), observation(2)])
        again = agent(server, tmp_path)  # a new process would do the same: the cache is on disk
        replies = again.act_batch([observation(1), observation(2)])
        assert len(server.requests) == 2
        agent(server, tmp_path, temperature=0.5).act_batch([observation(1)])
        assert len(server.requests) == 3  # other settings are another request
    assert [r.action for r in replies] == ["up", "up"]


def test_concurrency_is_bounded(tmp_path) -> None:
    state = {"now": 0, "most": 0}
    lock = threading.Lock()

    def slow_answer(request: dict) -> str:
        with lock:
            state["now"] += 1
            state["most"] = max(state["most"], state["now"])
        time.sleep(0.15)
        with lock:
            state["now"] -= 1
        return "wait"

    with ChatServer(answer=slow_answer) as server:
        replies = agent(server, tmp_path, concurrency=3, cache=False).act_batch(
            [observation(i) for i in range(9)]
        )
    assert [r.action for r in replies] == ["wait"] * 9
    assert state["most"] == 3


def test_api_key_comes_from_the_environment_only(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(MmsafeError, match="set the environment variable OPENAI_API_KEY"):
        OpenAIAgent(model="gpt-x")
    monkeypatch.setenv("MY_KEY", "sk-test-123")
    with ChatServer() as server:
        agent(server, tmp_path, api_key_env="MY_KEY").act_batch([observation()])
    assert server.headers[0]["Authorization"] == "Bearer sk-test-123"


def test_a_failing_server_is_recorded_per_episode_and_the_run_goes_on(tmp_path) -> None:
    with ChatServer() as server:
        server.faults.extend(["500"] * 2)  # the first request fails for good (retries=1)
        config = RunConfig(
            envs=[env_id("HazardLava")], seeds=[0, 1], out=tmp_path / "run", batch_size=1
        )
        metrics = evaluate(agent(server, tmp_path, retries=1, cache=False), config)
    lines = read_episodes(tmp_path / "run")
    assert [r["outcome"] for r in lines][0] == "agent_error"
    assert "HTTP 500" in lines[0]["error"]
    assert lines[1]["outcome"] != "agent_error" and lines[1]["steps"]
    assert metrics["overall"]["success"]["n"] == len(lines) >= 2


@pytest.mark.slow
def test_mmsafe_eval_agent_openai_completes_a_suite(tmp_path, cli_env) -> None:
    cli_env.update(MMSAFE_CACHE_DIR=str(tmp_path / "cache"), OPENAI_API_KEY="sk-secret-777")
    answers = ['{"action": "right"}', "Hmm.", '{"action": "up"}', "Action: left"]
    count = iter(range(10**6))

    def answer(request: dict) -> str:
        return answers[next(count) % len(answers)]

    with ChatServer(answer=answer) as server:
        server.faults.extend(["429", "drop"])
        out = tmp_path / "run"
        result = run_mmsafe(
            "eval",
            "agent=openai",
            f"agent.base_url={server.base_url}",
            "agent.model=tiny",
            "agent.backoff_s=0.01",
            "suite=foundation",
            "seeds=2",
            f"out={out}",
            "progress=false",
            env=cli_env,
            timeout=300,
        )
    assert result.returncode == 0, result.stderr
    records = read_episodes(out)
    assert len(records) == suite_units("foundation", 2)
    steps = [step for record in records for step in record["steps"]]
    assert steps and all(step["reply"] in answers for step in steps)
    assert any(not step["valid"] and step["error"] for step in steps)
    run = json.loads((out / "run.json").read_text())
    assert run["fingerprint"]["prompt"]["name"] == "embodied"
    assert len(run["fingerprint"]["prompt"]["sha256"]) == 16
    assert server.headers[0]["Authorization"] == "Bearer sk-secret-777"
    for path in out.rglob("*"):
        if path.is_file():
            assert b"sk-secret-777" not in path.read_bytes(), path


def test_operational_settings_do_not_change_the_run_identity() -> None:
    """Resuming with less concurrency or another server address is fine; another
    temperature is another run."""
    from mmsafe.config import agent_identity, compose_config

    base = ["agent=openai", "agent.model=m"]
    identity = agent_identity(compose_config(base))
    operational = ["agent.concurrency=2", "agent.timeout_s=60", "agent.base_url=http://x/v1"]
    assert agent_identity(compose_config(base + operational)) == identity
    assert agent_identity(compose_config([*base, "agent.temperature=0.5"])) != identity
