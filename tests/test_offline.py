"""Offline is a first-class case: a model named on the Hugging Face hub that cannot be reached
(a hub that never answers, one that refuses, or HF_HUB_OFFLINE=1 with the model not cached)
fails in seconds with one line that says what to do, instead of retrying for minutes; with the
model in the cache, HF_HUB_OFFLINE=1 runs. No test reaches a real host: HF_ENDPOINT points at
loopback and HF_HOME at a temporary folder, so no real cache is read either."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from mmsafe.core import MmsafeError
from mmsafe.models import hub

from .conftest import ROOT, mmsafe_cmd

LIMIT_S = 15.0  # from starting `mmsafe eval` to its error, on a loaded machine
SETTINGS = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE")
PROXIES = ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")


@pytest.fixture(scope="module")
def blackhole() -> Iterator[str]:
    """A hub that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held, stop = [], threading.Event()

    def hold() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:  # the timeout, or the socket closed
                continue

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join()
    for connection in held:
        connection.close()
    server.close()


@pytest.fixture(scope="module")
def refusing() -> str:
    """A hub whose port nobody listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def isolated(tmp_path, monkeypatch) -> Path:
    """This process's view of the hub: an empty cache, no offline switch, no proxy."""
    for name in (*SETTINGS, *PROXIES):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    return tmp_path / "hf" / "hub"


def environment(tmp_path: Path, endpoint: str, offline: bool = False) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in (*SETTINGS, *PROXIES)}
    env.update(HF_HOME=str(tmp_path / "hf"), HF_ENDPOINT=endpoint, PYTHONUNBUFFERED="1")
    if offline:
        env["HF_HUB_OFFLINE"] = "1"
    return env


def cache_model(cache: Path, repo_id: str, folder: Path) -> None:
    """`folder` as huggingface_hub would have downloaded `repo_id` (revision main)."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    shutil.copytree(folder, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)


AGENTS = {
    "hf": ["agent=hf", "agent.model=some-org/some-model"],
    "clip": ["agent=clip"],  # ViT-B-32 with the laion2b_s34b_b79k tag, from the hub
}


@pytest.mark.slow
@pytest.mark.parametrize("hub_is", ["silent", "refusing", "offline"])
@pytest.mark.parametrize("agent", list(AGENTS))
def test_a_model_command_without_its_hub_fails_in_seconds_in_one_line(
    tmp_path, blackhole, refusing, agent, hub_is
):
    import subprocess

    endpoint = refusing if hub_is == "refusing" else blackhole
    args = ["eval", *AGENTS[agent], "suite=foundation", "seeds=1", f"out={tmp_path / 'run'}"]
    started = time.monotonic()
    done = subprocess.run(
        mmsafe_cmd(*args, "progress=false"),
        cwd=ROOT,
        env=environment(tmp_path, endpoint, offline=hub_is == "offline"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    took = time.monotonic() - started
    shown = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2 and len(shown) == 1, done.stderr
    assert took < LIMIT_S, f"took {took:.1f}s"
    line = shown[0]
    assert line.startswith(f"mmsafe: error: cannot create agent '{agent}': "), line
    assert "HF_HUB_OFFLINE" in line and "agent.model=/path/to/folder" in line, line
    if hub_is == "offline":
        assert f"not in the Hugging Face cache ({tmp_path / 'hf' / 'hub'})" in line, line
    else:
        assert f"cannot reach the Hugging Face hub at {endpoint}" in line, line
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
@pytest.mark.parametrize("switch", ["HF_HUB_OFFLINE=1", "no switch, the hub silent"])
def test_a_cached_model_runs_without_its_hub(tmp_path, refusing, blackhole, tiny_vlms, switch):
    """The advice holds: with the weights in the cache, HF_HUB_OFFLINE=1 runs the model; and a
    hub that does not answer is no error either when the cache holds the model (a compute node
    without internet), only a warning that the cache is read."""
    import subprocess

    cache_model(tmp_path / "hf" / "hub", "tiny-org/tiny-qwen", tiny_vlms["qwen2_vl"])
    args = ["eval", "agent=hf", "agent.model=tiny-org/tiny-qwen", "agent.max_new_tokens=2",
            "suite=foundation", "suite.envs=[HazardLava]", "seeds=1", "judge=[events]",
            "video.per_env=0", f"out={tmp_path / 'run'}", "progress=false"]  # fmt: skip
    offline = switch.startswith("HF_HUB_OFFLINE")
    started = time.monotonic()
    done = subprocess.run(
        mmsafe_cmd(*args),
        cwd=ROOT,
        env=environment(tmp_path, refusing if offline else blackhole, offline=offline),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "run" / "metrics.json").exists()
    if not offline:
        assert "tiny-org/tiny-qwen is read from the cache" in done.stderr, done.stderr
        assert time.monotonic() - started < 120  # no minutes of retries against the hub


def test_the_probe_tells_a_hub_that_answers_from_one_that_does_not(blackhole, refusing):
    class NotFound(BaseHTTPRequestHandler):
        def do_HEAD(self) -> None:  # noqa: N802
            self.send_response(404)  # any status: the hub is up
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), NotFound)
    thread = threading.Thread(target=server.handle_request, daemon=True)
    thread.start()
    try:
        assert hub.reachable(f"http://127.0.0.1:{server.server_port}")
    finally:
        thread.join()
        server.server_close()
    started = time.monotonic()
    assert not hub.reachable(refusing)
    assert not hub.reachable(blackhole, timeout=0.5)
    assert time.monotonic() - started < 3.0


def clip_from_a_hub_repo():
    from mmsafe.models.clip import load_clip

    return load_clip("hf-hub:org/clip")


def clip_judges_encoder():  # clip_reward, video_reward and clip_concepts load through it
    from mmsafe.judges.clip_reward import ClipEncoder

    return ClipEncoder("ViT-B-32/laion2b_s34b_b79k", device="cpu")


def xclip_judge():
    from mmsafe.judges.video_reward import XClipRewardJudge

    return XClipRewardJudge(device="cpu")


@pytest.mark.parametrize("make", [clip_from_a_hub_repo, clip_judges_encoder, xclip_judge])
def test_judge_and_clip_loaders_check_the_hub_first(isolated, refusing, monkeypatch, make):
    monkeypatch.setenv("HF_ENDPOINT", refusing)
    with pytest.raises(MmsafeError, match="cannot reach the Hugging Face hub") as error:
        make()
    assert "HF_HUB_OFFLINE=1" in str(error.value) and "model=/path/to/folder" in str(error.value)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(MmsafeError, match="is not in the Hugging Face cache"):
        make()


def test_guard_judges_check_the_hub_first(isolated, refusing, monkeypatch):
    pytest.importorskip("transformers")
    from mmsafe.judges.guard import ShieldGemma2Judge

    monkeypatch.setenv("HF_ENDPOINT", refusing)
    with pytest.raises(MmsafeError, match="cannot reach the Hugging Face hub"):
        ShieldGemma2Judge(device="cpu")


def test_offline_needs_the_model_in_the_cache(isolated, monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(MmsafeError) as error:
        hub.check_hub("some-org/some-model", "agent.model=/path/to/folder")
    assert str(error.value) == (
        f"some-org/some-model is not in the Hugging Face cache ({isolated}) and HF_HUB_OFFLINE=1 "
        "is set: pass a local folder instead (agent.model=/path/to/folder), or unset "
        "HF_HUB_OFFLINE where the hub is reachable to download it"
    )
    (tmp_path / "weights").mkdir()
    cache_model(isolated, "some-org/some-model", tmp_path / "weights")
    hub.check_hub("some-org/some-model")  # cached: the loader reads it, offline
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "elsewhere"))
    assert not hub.cached("some-org/some-model")


def test_only_hub_ids_are_checked(tmp_path):
    assert hub.looks_local(str(tmp_path))
    assert hub.looks_local("./models/tiny") and hub.looks_local("~/models/tiny")
    assert hub.looks_local("/no/such/folder") and hub.looks_local("a/b/c")
    assert not hub.looks_local("HuggingFaceTB/SmolVLM-256M-Instruct")
