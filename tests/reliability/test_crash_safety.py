"""kill -9 during `mmsafe eval` (while it starts, twice while episodes run, once they are all
in, and locally as the judges start: points drawn from a fixed seed and tied to the run's
progress), then run again: every episode and verdict is recorded exactly once, whatever is on
disk reads back, and metrics.json is whole or absent. (A line cut short is set aside, never read:
these kills rarely leave one, so tests/test_runner.py makes one on purpose.) With `runner=ray`
the same holds for the driver (the only writer of the run directory), and a killed Ray worker
ends the run with one line that says to rerun, after which the rerun finishes."""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from ..conftest import ROOT, mmsafe_cmd
from ..test_ray_runner import needs_ray
from .small_runs import suite_units

SEEDS = 12
UNITS = suite_units("foundation", SEEDS)  # 72: six arms of three envs, twelve seeds
TIMEOUT_S = 300.0  # bounded, but generous on a loaded machine (Ray takes ~10s to start)
needs_proc = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")


def eval_args(out: Path, runner: str) -> list[str]:
    workers = ["runner.workers=2"] if runner == "ray" else []
    return ["eval", "agent=random", "agent._target_=tests.slow_agents.SlowRandom", f"seeds={SEEDS}",
            "suite=foundation", "batch_size=4", f"out={out}", "progress=false",
            f"runner={runner}", *workers]  # fmt: skip


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def family(leader: int) -> list[tuple[int, str]]:
    """(pid, command line) of the live processes left by `leader`, started as a session leader:
    those of its session and their descendants. Ray's raylet spawns the workers, and whatever
    outlives its parent is re-parented to init, so `leader`'s own process tree misses them."""
    procs = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            stat, cmdline = (entry / "stat").read_text(), (entry / "cmdline").read_bytes()
        except OSError:  # it ended meanwhile
            continue
        state, ppid, _, sid = stat[stat.rindex(")") + 2 :].split()[:4]
        command = cmdline.replace(b"\0", b" ").decode(errors="replace").strip()
        procs[int(entry.name)] = (state, int(ppid), int(sid), command)

    def left_by_leader(pid: int) -> bool:
        seen = set()
        while pid in procs and pid not in seen:
            seen.add(pid)
            state, ppid, sid, _ = procs[pid]
            if sid == leader or ppid == leader:
                return True
            pid = ppid
        return False

    return [
        (pid, proc[3])
        for pid, proc in procs.items()
        if pid != leader and proc[0] != "Z" and left_by_leader(pid)
    ]


def kill_family(leader: int) -> None:
    """SIGKILL what `leader` left running. A killed driver leaves its Ray cluster's processes
    behind: the workers for seconds, the dashboard and runtime-env agents for about a minute."""
    deadline = time.monotonic() + 30
    while (left := family(leader)) and time.monotonic() < deadline:
        for pid, _ in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.1)
    assert not family(leader), family(leader)


Ready = Callable[[subprocess.Popen], bool]  # whether a run has got as far as to be killed


def start(args: list[str], **kwargs) -> subprocess.Popen:
    """`mmsafe ...` leading a session of its own, so what it starts can be found and killed."""
    return subprocess.Popen(mmsafe_cmd(*args), cwd=ROOT, start_new_session=True, **kwargs)


def wait_until(process: subprocess.Popen, ready: Ready) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while process.poll() is None and not ready(process):
        assert time.monotonic() < deadline, "the run made no progress"
        time.sleep(0.02)


def run(args: list[str]) -> subprocess.CompletedProcess:
    process = start(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        stdout, stderr = process.communicate(timeout=TIMEOUT_S)
    finally:
        process.kill()
        process.wait()
        kill_family(process.pid)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def assert_readable(out: Path) -> None:
    """Whatever is on disk reads back (a torn tail is set aside); metrics.json whole or absent."""
    if (out / "metrics.json").exists():  # written whole by a rename, or not at all
        json.loads((out / "metrics.json").read_text())
    for name in ("episodes.jsonl", "verdicts.jsonl"):
        for line in lines(out / name)[:-1]:
            json.loads(line)


def assert_every_unit_once(out: Path) -> None:
    keys = [json.loads(line)["key"] for line in lines(out / "episodes.jsonl")]
    assert len(keys) == UNITS and set(Counter(keys).values()) == {1}
    verdicts = [json.loads(line) for line in lines(out / "verdicts.jsonl")]
    pairs = Counter((v["key"], v["judge"]) for v in verdicts)
    assert set(pairs.values()) == {1}  # no verdict twice
    assert {key for key, judge in pairs if judge.startswith("events@")} == set(keys)
    assert json.loads((out / "metrics.json").read_text())["overall"]["success"]["n"] == UNITS


def assert_the_rerun_records_every_unit_once(args: list[str], out: Path) -> None:
    """The same command, run again after a stop, finishes the run: every unit once."""
    done = run(args)
    assert done.returncode == 0, done.stderr
    assert_every_unit_once(out)


def kill_moments(runner: str, out: Path) -> list[tuple[Ready, float]]:
    """When to kill each run: `seconds` after `ready(process)` holds. While the run starts (on
    Ray, while the driver starts the cluster), twice while episodes arrive, once they all have,
    and locally once more as the judges start. Tied to progress rather than to the clock, so a
    loaded machine does not move them."""
    rng = random.Random(9)

    def holds(n: int) -> Ready:
        return lambda _: len(lines(out / "episodes.jsonl")) >= n

    if runner == "local":
        starting = (lambda _: True, rng.uniform(0.3, 1.5))
    else:
        starting = (lambda process: bool(family(process.pid)), rng.uniform(0.0, 4.0))
    moments = [
        starting,
        (holds(rng.randint(8, 30)), 0.0),
        (holds(rng.randint(35, 65)), 0.0),
        (holds(UNITS), rng.uniform(0.0, 0.05)),
    ]
    if runner == "local":  # the agent's metrics are written just before the judges run
        moments.append((lambda _: (out / "metrics.json").exists(), 0.0))
    return moments


@pytest.mark.slow
@pytest.mark.parametrize("runner", ["local", pytest.param("ray", marks=[needs_ray, needs_proc])])
def test_kill_9_at_random_points_then_rerun_records_everything_once(tmp_path, runner):
    out = tmp_path / "run"
    args = eval_args(out, runner)
    landed = []
    for ready, seconds in kill_moments(runner, out):
        process = start(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_until(process, ready)
            time.sleep(seconds)
        finally:
            process.kill()
            landed.append(process.wait() == -signal.SIGKILL)  # not ended on its own first
            kill_family(process.pid)  # a killed driver leaves Ray's processes running
        assert_readable(out)
    # all but the kill as the judges start, which a quick judging can finish before
    assert all(landed[:4]), landed
    assert_the_rerun_records_every_unit_once(args, out)


@pytest.mark.slow
@needs_ray
@needs_proc
def test_a_killed_ray_worker_ends_the_run_in_one_line_and_the_rerun_finishes(tmp_path):
    out = tmp_path / "run"
    args = eval_args(out, "ray")
    process = start(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:  # once 10 episodes are in, both workers are mid-batch
        wait_until(process, lambda _: len(lines(out / "episodes.jsonl")) >= 10)
        workers = [pid for pid, cmd in family(process.pid) if cmd.startswith("ray::_Worker")]
        assert len(workers) == 2, family(process.pid)
        os.kill(workers[0], signal.SIGKILL)
        stdout, stderr = process.communicate(timeout=TIMEOUT_S)
    finally:
        process.kill()
        process.wait()
        kill_family(process.pid)
    errors = [line for line in stderr.splitlines() if line.startswith("mmsafe: error")]
    assert process.returncode == 2 and len(errors) == 1, stderr
    assert "Traceback" not in stdout + stderr, stdout + stderr
    assert "Ray worker" in errors[0] and "died" in errors[0], errors[0]
    assert "units not finished: mmsafe/" in errors[0] and "rerun the same command" in errors[0]
    assert len(lines(out / "episodes.jsonl")) < UNITS and not (out / "metrics.json").exists()
    assert_readable(out)
    assert_the_rerun_records_every_unit_once(args, out)
