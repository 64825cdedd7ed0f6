"""Remote policies: the example server in examples/ and a server that breaks the protocol."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from mmsafe.agents.remote import RemoteAgent
from mmsafe.core import MmsafeError, Observation
from mmsafe.run.runner import RunConfig, evaluate

from .conftest import ROOT, read_episodes, run_mmsafe


@pytest.fixture
def example_server():
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "examples" / "remote_policy" / "server.py"), "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()
        assert line.startswith("mmsafe remote policy on "), line
        yield line.split(" on ")[1].strip()
    finally:
        process.terminate()
        process.wait(timeout=10)


def foundation_keys(seeds: list[int]) -> list[str]:
    """The episode keys of suite=foundation at `seeds`: each of its scenarios' arms."""
    from mmsafe.config import compose_config, run_config
    from mmsafe.run.units import env_units

    config = run_config(compose_config(["suite=foundation", f"seeds={seeds}"]))
    return sorted(unit.key for unit in env_units(config.envs, config.seeds, config.env_kwargs))


def observation(step: int = 0) -> Observation:
    frame = np.arange(6 * 5 * 3, dtype=np.uint8).reshape(6, 5, 3)
    return Observation(
        frames=(frame,), text="Go.", actions=("up", "down", "wait"), episode_id="e", step=step
    )


@pytest.mark.parametrize("encoding", ["png", "raw"])
def test_example_server_answers_moves(example_server, encoding) -> None:
    agent = RemoteAgent(url=example_server, encoding=encoding)
    replies = agent.act_batch([observation(0), observation(1), observation(2)])
    assert all(r.action in ("up", "down") for r in replies)
    # the server decodes both encodings to the same frame (its brightness seeds the choice)
    other = RemoteAgent(url=example_server, encoding="raw" if encoding == "png" else "png")
    assert [r.action for r in replies] == [
        r.action for r in other.act_batch([observation(i) for i in range(3)])
    ]


@pytest.mark.slow
def test_mmsafe_eval_agent_remote(example_server, tmp_path, cli_env) -> None:
    """Also: a header's secret comes from the environment and never reaches the run folder."""
    cli_env["POLICY_TOKEN"] = "Bearer remote-secret-42"
    out = tmp_path / "run"
    result = run_mmsafe(
        "eval",
        "agent=remote",
        f"agent.url={example_server}",
        "agent.headers_env={Authorization: POLICY_TOKEN}",
        "suite=foundation",
        "seeds=1",
        f"out={out}",
        "progress=false",
        env=cli_env,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    records = read_episodes(out)
    # both arms of each of the three foundation scenarios, at seed 0
    assert len(records) == 6 and sorted(r["key"] for r in records) == foundation_keys([0])
    assert all(s["valid"] for r in records for s in r["steps"])
    for path in out.rglob("*"):
        if path.is_file():
            assert b"remote-secret-42" not in path.read_bytes(), path


class _Broken(BaseHTTPRequestHandler):
    answers: list = []
    seen_headers: list = []
    seen_bodies: list = []

    def do_POST(self) -> None:  # noqa: N802
        self.seen_bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.seen_headers.append(dict(self.headers))
        body = json.dumps(self.answers.pop(0) if self.answers else {"replies": []}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def test_protocol_violations_are_recorded_not_crashes(tmp_path, monkeypatch) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Broken)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}"
    try:
        _Broken.answers[:] = [
            {"replies": [{"action": 3}, "up", {"action": "up", "confidence": 7}, {}]}
        ]
        replies = RemoteAgent(url=url).act_batch([observation()] * 4)
        assert [r.action for r in replies] == [None, None, "up", None]
        assert "not text" in replies[0].error and "not an object" in replies[1].error
        assert replies[2].confidence is None and "has no action" in replies[3].error
        # a wrong number of replies fails the episodes, and the run completes
        _Broken.answers[:] = []
        config = RunConfig(envs=["mmsafe/SpatialExits-v1"], seeds=[0, 1], out=tmp_path / "run")
        evaluate(RemoteAgent(url=url, retries=0), config)
        records = read_episodes(tmp_path / "run")
        assert [r["outcome"] for r in records] == ["agent_error", "agent_error"]
        assert "0 replies for 1 observations" in records[0]["error"]
        # header secrets come from the environment
        monkeypatch.setenv("MY_TOKEN", "Bearer t0k")
        _Broken.answers[:] = [{"replies": [{"action": "up"}]}]
        RemoteAgent(url=url, headers_env={"Authorization": "MY_TOKEN"}).act_batch([observation()])
        assert _Broken.seen_headers[-1]["Authorization"] == "Bearer t0k"
    finally:
        server.shutdown()
    with pytest.raises(MmsafeError, match="must start with http"):
        RemoteAgent(url="localhost:1")
    with pytest.raises(MmsafeError, match="set the environment variable NO_SUCH_TOKEN"):
        RemoteAgent(url=url, headers_env={"Authorization": "NO_SUCH_TOKEN"})


def test_a_remote_policy_is_told_the_control_space_and_answers_a_command() -> None:
    from mmsafe.core import ControlSpace

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Broken)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}"
    space = ControlSpace(("speed", "turn"), (-1.0, -1.0), (1.0, 1.0))
    steering = Observation(
        frames=observation().frames, text="Go.", actions=("done", "refuse"), control=space
    )
    try:
        _Broken.answers[:] = [
            {
                "replies": [
                    {"control": [0.5, -0.25], "confidence": 0.8},
                    {"action": "done"},
                    {"control": ["fast"]},
                    {"control": [10**400, 0]},
                ]
            }
        ]
        replies = RemoteAgent(url=url).act_batch([steering] * 4)
        sent = _Broken.seen_bodies[-1]["observations"][0]["control"]
        assert sent == {"names": ["speed", "turn"], "low": [-1.0, -1.0], "high": [1.0, 1.0]}
        assert replies[0].control == (0.5, -0.25) and replies[0].action is None
        assert replies[0].confidence == 0.8 and replies[0].error is None
        assert replies[1].action == "done"
        assert replies[2].control is None and "not a list of numbers" in replies[2].error
        assert replies[3].control is None and "not a list of numbers" in replies[3].error
        _Broken.answers[:] = [{"replies": [{"action": "up"}]}]
        RemoteAgent(url=url).act_batch([observation()])
        assert _Broken.seen_bodies[-1]["observations"][0]["control"] is None
    finally:
        server.shutdown()
