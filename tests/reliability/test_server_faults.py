"""Server faults, for both clients of an OpenAI-compatible server (the `openai` agent and the
LLM judge), against a real loopback HTTP server that misbehaves on cue (tests/chat_server.py):

- 429 with Retry-After (seconds or an HTTP date) is waited out as asked, up to `max_wait_s`;
- 500, 502 and 503, a slow answer past `timeout_s`, a connection dropped before or in the middle
  of the answer, and malformed JSON are retried and then succeed;
- retries are bounded: the server sees exactly 1 + retries requests, then one clear error that
  names the URL and the last problem, and never the API key;
- other 4xx answers (400, 401, 404) fail at once with the server's message;
- a 200 without `choices` fails clearly (named, URL included) without being retried or cached;
- and no duplicate billing after a resume: `mmsafe eval agent=openai` killed with SIGKILL
  part-way and run again never asks the server again for an answer it had accepted.
"""

from __future__ import annotations

import hashlib
import json
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from contextlib import closing
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path

import numpy as np
import pytest

from mmsafe.agents.cache import RequestCache
from mmsafe.agents.http import HttpFailure
from mmsafe.agents.openai_compat import OpenAIAgent
from mmsafe.core import Observation, episode_key
from mmsafe.judges.llm import LLMJudge
from mmsafe.run.units import env_units

from ..chat_server import ChatServer
from ..conftest import ROOT, read_episodes

KEY = "sk-reliability-secret-4242"
ACTIONS = ("up", "down", "left", "right", "interact", "wait", "done", "refuse")
GRADING = "#overall_reasoning It declined.\n#scores\n1.a No.\n1.b 1\n2.a -\n2.b 1\n3.a -\n3.b 1"
# short waits, so each test takes about a second: a fault test never waits out a real backoff
FAST = {"retries": 2, "backoff_s": 0.01, "max_wait_s": 5.0, "timeout_s": 5.0, "cache": False}


def answer(request: dict) -> str:
    """The agent gets an action, the judge a grading in the rubric's format."""
    if request["model"] == "judge":
        return GRADING
    return json.dumps({"action": "up", "confidence": 0.5})


@dataclass
class Outcome:
    text: str | None  # the answer, when there was one
    error: str | None  # the error the user is shown, when there was not


class Client:
    """One of the two clients of a Chat Completions server, asked one fresh question at a time
    (fresh, so the cache never answers in the server's place)."""

    def __init__(self, kind: str, server: ChatServer, tmp_path: Path, **options) -> None:
        self.kind, self.asked = kind, 0
        settings = {**FAST, "base_url": server.base_url, "cache_dir": str(tmp_path / "cache")}
        settings.update(options)
        if kind == "agent":
            self.client = OpenAIAgent(model="tiny", **settings)
        else:
            self.client = LLMJudge(model="judge", **settings)
            self.client.name = "llm"

    def ask(self) -> Outcome:
        self.asked += 1
        if self.kind == "judge":
            (verdict,) = self.client.judge_texts([f"question {self.asked}"], ["I can't help."])
            if verdict.error is not None:
                return Outcome(None, verdict.error)
            assert verdict.safe is True and verdict.label == "refused"
            return Outcome(GRADING, None)
        rng = np.random.default_rng(self.asked)
        observation = Observation(
            frames=(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8),),
            text=f"Go to the goal ({self.asked}).",
            actions=ACTIONS,
            episode_id=f"e{self.asked}",
            step=0,
        )
        try:
            (reply,) = self.client.act_batch([observation])
        except HttpFailure as error:  # anything else is a bug, and fails the test
            return Outcome(None, str(error))
        assert reply.action == "up"
        return Outcome(reply.text, None)


CLIENTS = ["agent", "judge"]


def timed(server: ChatServer, client: Client) -> tuple[Outcome, list[float]]:
    """The outcome and the gaps between the server's requests, in seconds."""
    outcome = client.ask()
    times = server.times
    return outcome, [b - a for a, b in zip(times, times[1:], strict=False)]


@pytest.mark.parametrize("kind", CLIENTS)
def test_retry_after_in_seconds_is_honoured(tmp_path, kind) -> None:
    with ChatServer(answer=answer) as server:
        server.faults.append("429:1")
        outcome, gaps = timed(server, Client(kind, server, tmp_path))
    assert outcome.error is None and len(server.requests) == 2
    assert 1.0 <= gaps[0] < 1.6  # as the server asked, not the 0.01 s backoff


@pytest.mark.parametrize("kind", CLIENTS)
def test_retry_after_as_an_http_date_is_honoured(tmp_path, kind) -> None:
    with ChatServer(answer=answer) as server:
        # whole seconds on the wire: "2 s from now" is between 1 and 2 s from now
        server.faults.append("429:" + formatdate(time.time() + 2, usegmt=True))
        outcome, gaps = timed(server, Client(kind, server, tmp_path))
    assert outcome.error is None and len(server.requests) == 2
    assert 0.9 <= gaps[0] < 2.6


@pytest.mark.parametrize("kind", CLIENTS)
def test_retry_after_is_capped_by_max_wait(tmp_path, kind) -> None:
    # a few seconds, not an hour: were the cap broken, the test fails instead of hanging
    later = formatdate(time.time() + 4, usegmt=True)
    with ChatServer(answer=answer) as server:
        server.faults.extend(["429:3", f"429:{later}"])
        outcome, gaps = timed(server, Client(kind, server, tmp_path, max_wait_s=0.4))
    assert outcome.error is None and len(server.requests) == 3
    assert all(0.4 <= gap < 1.0 for gap in gaps), gaps


@pytest.mark.parametrize("kind", CLIENTS)
@pytest.mark.parametrize("status", ["500", "502", "503"])
def test_server_errors_are_retried_then_succeed(tmp_path, kind, status) -> None:
    with ChatServer(answer=answer) as server:
        server.faults.extend([status, status])
        outcome = Client(kind, server, tmp_path).ask()
    assert outcome.error is None and len(server.requests) == 3


@pytest.mark.parametrize("kind", CLIENTS)
def test_a_slow_answer_past_the_timeout_is_retried(tmp_path, kind) -> None:
    with ChatServer(answer=answer, slow_s=1.5) as server:
        server.faults.append("slow")
        outcome, gaps = timed(server, Client(kind, server, tmp_path, timeout_s=0.3))
    assert outcome.error is None and len(server.requests) == 2
    assert gaps[0] < 1.0  # the client gave up at its timeout, not when the server answered


@pytest.mark.parametrize("kind", CLIENTS)
@pytest.mark.parametrize("fault", ["drop", "cut"])  # before any byte; half-way through the body
def test_a_dropped_connection_is_retried(tmp_path, kind, fault) -> None:
    with ChatServer(answer=answer) as server:
        server.faults.append(fault)
        outcome = Client(kind, server, tmp_path).ask()
    assert outcome.error is None and len(server.requests) == 2


@pytest.mark.parametrize("kind", CLIENTS)
def test_malformed_json_is_retried(tmp_path, kind) -> None:
    with ChatServer(answer=answer) as server:
        server.faults.append("badjson")
        outcome = Client(kind, server, tmp_path).ask()
    assert outcome.error is None and len(server.requests) == 2


@pytest.mark.parametrize("kind", CLIENTS)
def test_an_answer_without_choices_fails_clearly_and_is_not_cached(tmp_path, kind) -> None:
    with ChatServer(answer=answer) as server:
        server.faults.append("nochoices")
        client = Client(kind, server, tmp_path, cache=True)
        failed = client.ask()
        client.asked -= 1  # the same question again: the cache must not answer it
        again = client.ask()
    assert failed.error is not None and "no choices" in failed.error
    assert f"{server.base_url}/chat/completions" in failed.error
    assert again.error is None and len(server.requests) == 2


@pytest.mark.parametrize("kind", CLIENTS)
@pytest.mark.parametrize(
    ("fault", "problem"),
    [
        ("503", "HTTP 503: server overloaded"),
        ("429", "HTTP 429: rate limited"),
        ("drop", "connection failed"),
        ("cut", "connection failed"),
        ("slow", "no answer within 0.3s"),
        ("badjson", "malformed JSON in the answer"),
    ],
)
def test_retries_are_bounded_and_the_error_names_url_and_problem(
    tmp_path, monkeypatch, kind, fault, problem
) -> None:
    monkeypatch.setenv("RELIABILITY_KEY", KEY)
    with ChatServer(answer=answer, slow_s=0.6) as server:
        server.faults.extend([fault] * 10)
        client = Client(kind, server, tmp_path, timeout_s=0.3, api_key_env="RELIABILITY_KEY")
        outcome = client.ask()
    assert len(server.requests) == 1 + FAST["retries"]
    assert server.headers[0]["Authorization"] == f"Bearer {KEY}"  # the key was in use
    assert outcome.error is not None and "\n" not in outcome.error
    assert f"{server.base_url}/chat/completions: {problem}" in outcome.error
    assert "gave up after 3 attempts" in outcome.error
    assert KEY not in outcome.error


@pytest.mark.parametrize("kind", CLIENTS)
@pytest.mark.parametrize("status", ["400", "401", "404"])
def test_client_errors_fail_at_once_with_the_servers_message(
    tmp_path, monkeypatch, kind, status
) -> None:
    monkeypatch.setenv("RELIABILITY_KEY", KEY)
    with ChatServer(answer=answer) as server:
        server.faults.append(status)  # the server's message echoes the key it was sent
        client = Client(kind, server, tmp_path, retries=3, api_key_env="RELIABILITY_KEY")
        outcome = client.ask()
    assert len(server.requests) == 1
    assert outcome.error is not None
    assert f"HTTP {status}: request rejected ({status}); you sent authorization" in outcome.error
    assert KEY not in outcome.error


@pytest.mark.parametrize("kind", CLIENTS)
def test_credentials_in_the_url_stay_out_of_errors(tmp_path, kind) -> None:
    with ChatServer(answer=answer) as server:
        server.faults.extend(["503"] * 3)
        url = server.base_url.replace("http://", f"http://user:{KEY}@")
        client = Client(kind, server, tmp_path, retries=0, base_url=url)
        outcome = client.ask()
    assert len(server.requests) == 1 and "HTTP 503" in outcome.error
    assert KEY not in outcome.error


# -- no duplicate billing after a resume -----------------------------------------------------
def digest(request: dict) -> str:
    return hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()


def moves(request: dict) -> str:
    """wait, wait, wait, then refuse: every episode is four requests, each unlike the others
    (the prompt lists the actions taken so far)."""
    text = json.dumps(request["messages"][-1])
    history = re.search(r"Your previous actions \(oldest first\): ([^\\]*)", text).group(1)
    taken = 0 if history.startswith("none") else len(history.split("; "))
    return json.dumps({"action": "refuse" if taken >= 3 else "wait"})


class Holding(ChatServer):
    """Answers the first `limit` requests; later ones hang, unanswered, until `release()`.
    After that it answers everything (a server that came back, at the same address)."""

    def __init__(self, limit: int, answer=None) -> None:
        super().__init__(answer=self._answer)
        self.answer_with = answer or moves
        self.limit, self.arrived, self.held = limit, 0, 0
        self.holding, self._release = True, threading.Event()
        self.served: list[dict] = []  # requests answered while holding

    def _answer(self, request: dict) -> str:
        if self.holding:
            with self._lock:
                self.served.append(request)
        return self.answer_with(request)

    def _handle(self, handler) -> None:
        with self._lock:
            self.arrived += self.holding
            hold = self.holding and self.arrived > self.limit
            self.held += hold
        if hold:
            self._release.wait(timeout=60)
            return None  # its client is gone: it gets no answer
        return super()._handle(handler)

    def release(self) -> None:
        self.holding = False
        self._release.set()

    def __exit__(self, *exc) -> None:
        self._release.set()
        super().__exit__(*exc)


def kill_once_held(command: list[str], env: dict, server: Holding, log_path: Path) -> None:
    """Run `command` until `server` holds a request, give it a second to take in (and cache)
    the answers it got, then SIGKILL it."""
    with log_path.open("w") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=log)
        try:
            deadline = time.monotonic() + 60
            while not server.held and process.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            assert server.held, log_path.read_text()
            time.sleep(1.0)  # the answers are taken in (cached) within milliseconds
            process.send_signal(signal.SIGKILL)
            assert process.wait(timeout=30) == -signal.SIGKILL
        finally:
            if process.poll() is None:
                process.kill()


def assert_answers_cached(server: Holding, cache: Path) -> None:
    """Each answer `server` gave before it held was a different question, and is in `cache`."""
    answered = [digest(r) for r in server.served]
    assert len(answered) == server.limit == len(set(answered))  # none twice in one run
    url = f"{server.base_url}/chat/completions"
    with closing(sqlite3.connect(cache)) as db:
        cached = {row[0] for row in db.execute("SELECT key FROM answers")}
    assert {RequestCache.key(url, r) for r in server.served} <= cached


def rerun_paying_for_nothing_twice(command: list[str], env: dict, server: Holding) -> Counter:
    """With `server` answering again, run `command` to the end: no question answered before is
    asked again, nor any twice. The questions it asked, counted."""
    server.release()
    asked_before = len(server.requests)
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    again = Counter(digest(r) for r in server.requests[asked_before:])
    assert not {digest(r) for r in server.served} & set(again), "an answer was paid for twice"
    assert all(n == 1 for n in again.values())
    return again


@pytest.mark.slow
def test_a_killed_run_resumed_never_pays_twice_for_an_answer(tmp_path, cli_env) -> None:
    """`mmsafe eval agent=openai` is killed (SIGKILL) while requests are in flight, after the
    server has answered 14; the same command again finishes the run. The server never sees
    an answered request a second time, and every episode is recorded exactly once."""
    cli_env.update(MMSAFE_CACHE_DIR=str(tmp_path / "cache"), OPENAI_API_KEY=KEY)
    out, seeds = tmp_path / "run", 3
    units = env_units(["mmsafe/HazardLava-v1"], range(seeds), {})  # 6: two arms of 3 seeds
    with Holding(limit=14) as server:
        command = [
            sys.executable, "-m", "mmsafe.cli", "eval", "agent=openai",
            f"agent.base_url={server.base_url}", "agent.model=tiny", "agent.backoff_s=0.01",
            "agent.concurrency=3", "batch_size=3", "suite=foundation", "suite.envs=[HazardLava]",
            f"seeds={seeds}", "video.per_env=0", f"out={out}", "progress=false",
        ]  # fmt: skip
        kill_once_held(command, cli_env, server, tmp_path / "first.log")
        assert_answers_cached(server, tmp_path / "cache" / "chat.sqlite")
        assert len(read_episodes(out)) < len(units)  # killed part-way
        again = rerun_paying_for_nothing_twice(command, cli_env, server)
    records = read_episodes(out)
    assert sorted(r["key"] for r in records) == sorted(
        episode_key(unit.env_id, unit.seed, unit.arm) for unit in units
    )  # every episode exactly once
    assert all(r["outcome"] == "refused" and len(r["steps"]) == 4 for r in records)
    # the two runs asked for each of the 24 steps once, but for those cut off by the kill
    assert 14 + sum(again.values()) <= len(units) * 4 + server.held
    assert KEY.encode() not in b"".join(p.read_bytes() for p in out.rglob("*") if p.is_file())


def test_identical_requests_in_flight_are_paid_for_once(tmp_path, monkeypatch) -> None:
    """Seeds of a hand-drawn scenario start alike (HandInterruption, the shipped
    SafeInterruption before worlds were generated, draws one of two fixed maps), so one batch
    asks the same question several times at once: the server is asked once, and every episode
    gets the answer. (Generated worlds differ seed to seed: no two of their requests match.)"""
    import gymnasium as gym

    from mmsafe import register_envs
    from mmsafe.run.runner import RunConfig, evaluate

    env_id, registered = "mmsafe/HandInterruption-v0", set(gym.registry)
    monkeypatch.setenv("MMSAFE_ENVS_PATH", str(ROOT / "tests" / "data" / "hand_drawn"))
    assert env_id in register_envs()
    try:
        with ChatServer(answer=moves) as server:
            agent = OpenAIAgent(
                model="tiny", base_url=server.base_url, concurrency=8, cache_dir=str(tmp_path)
            )
            config = RunConfig(envs=[env_id], seeds=list(range(8)), out=tmp_path / "run",
                               batch_size=8)  # fmt: skip
            evaluate(agent, config)
    finally:
        for added in set(gym.registry) - registered:  # registered for this test alone
            del gym.registry[added]
    asked = Counter(digest(r) for r in server.requests)
    assert max(asked.values()) == 1, f"{sum(asked.values()) - len(asked)} requests paid twice"
    assert len(asked) < 8 * 4  # seeds asked alike (each episode is four requests)
    records = read_episodes(tmp_path / "run")
    assert len(records) == 8 and all(r["outcome"] == "refused" for r in records)


@pytest.mark.slow
def test_a_killed_run_resumed_never_pays_the_judge_twice(tmp_path, cli_env) -> None:
    """The LLM judge's side of the same promise: `mmsafe eval judge=[llm]` is killed while
    the judge's requests are in flight, after the server has graded 14 replies; the rerun
    finishes with every verdict once and no graded reply sent again."""
    from ..test_llm_judge import grading

    answers = [{"id": f"q{i}", "question": f"Question {i}?", "image": "a.png"} for i in range(30)]
    (tmp_path / "m.jsonl").write_text("".join(json.dumps(a) + "\n" for a in answers))
    import cv2

    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((8, 8, 3), np.uint8))
    task = tmp_path / "free.yaml"
    task.write_text("id: FreeText\nmodality: image\nmanifest: m.jsonl\n")
    cli_env["MMSAFE_CACHE_DIR"] = str(tmp_path / "cache")
    out = tmp_path / "run"
    with Holding(limit=14, answer=lambda request: grading(0, 3, 4)) as server:
        command = [
            sys.executable, "-m", "mmsafe.cli", "eval", "agent=oracle", "suite.envs=[]",
            f"suite.tasks=[{task}]", "judge=[llm]", "judge.llm.model=x",
            f"judge.llm.base_url={server.base_url}", "judge.llm.backoff_s=0.01",
            "judge.llm.validate=false", "judge.llm.batch_size=4", "judge.llm.concurrency=3",
            f"out={out}", "progress=false",
        ]  # fmt: skip
        kill_once_held(command, cli_env, server, tmp_path / "first.log")
        assert_answers_cached(server, tmp_path / "cache" / "judge.sqlite")
        verdicts = out / "verdicts.jsonl"
        assert len(verdicts.read_text().splitlines()) < 30  # killed part-way through judging
        rerun_paying_for_nothing_twice(command, cli_env, server)
    judged = Counter(json.loads(line)["key"] for line in verdicts.read_text().splitlines())
    assert len(judged) == 30 and set(judged.values()) == {1}  # every verdict exactly once
