"""Ctrl-C is a normal way to stop: at any stage of `mmsafe eval` (agent stepping, judging,
writing a video; locally, on Ray, in a -m sweep), `mmsafe audit` and `mmsafe leaderboard build`,
it prints one line that says what is kept, no traceback, exits 130, leaves no half-written
file, and the same command resumes. A terminal's Ctrl-C signals the whole foreground process
group, so the tests send SIGINT to the run's process group, at moments tied to its progress."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import mmsafe.cli
from mmsafe.run.rundir import RunDir, held_interrupts, write_atomic
from mmsafe.run.units import env_units

from .conftest import ROOT
from .reliability.test_crash_safety import (
    SEEDS,
    TIMEOUT_S,
    UNITS,
    assert_every_unit_once,
    assert_readable,
    assert_the_rerun_records_every_unit_once,
    eval_args,
    family,
    kill_family,
    lines,
    needs_proc,
    run,
    start,
    wait_until,
)
from .test_ray_runner import needs_ray

Ready = Callable[[subprocess.Popen], bool]
LINE = re.compile(r"mmsafe: interrupted; (\d+) episodes? (and the verdicts so far )?recorded in ")
RAY_LOG = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+\s|\()")  # Ray's own log lines


def interrupt(args: list[str], ready: Ready, tmp: Path) -> subprocess.CompletedProcess:
    """Start `mmsafe ARGS` leading a process group of its own, wait until `ready`, then do
    what Ctrl-C in a terminal does: SIGINT to the whole group. Its output goes to files, so
    `ready` can read what it has printed so far."""
    out, err = tmp / "stdout.txt", tmp / "stderr.txt"
    with out.open("w") as stdout, err.open("w") as stderr:
        process = start(
            args, stdout=stdout, stderr=stderr, env={**os.environ, "PYTHONUNBUFFERED": "1"}
        )
        try:
            wait_until(process, ready)
            assert process.poll() is None, "the command ended before it could be interrupted"
            os.killpg(process.pid, signal.SIGINT)
            process.wait(timeout=TIMEOUT_S)
            left = [cmd for _, cmd in family(process.pid) if "ray" not in cmd]
            assert not left, left  # no ffmpeg or other child outlives it (Ray's take a while)
        finally:
            process.kill()
            process.wait()
            kill_family(process.pid)
    return subprocess.CompletedProcess(args, process.returncode, out.read_text(), err.read_text())


def said(done: subprocess.CompletedProcess, ray: bool = False) -> str:
    """The one line the interrupted command printed; asserts there is no other and no trace."""
    assert done.returncode == 130, (done.returncode, done.stderr)
    assert "Traceback" not in done.stdout + done.stderr, done.stdout + done.stderr
    shown = [line for line in done.stderr.splitlines() if line.strip()]
    if ray:  # Ray logs a line of its own as the cluster starts
        shown = [line for line in shown if not RAY_LOG.match(line)]
    assert len(shown) == 1 and shown[0].startswith("mmsafe: interrupted"), done.stderr
    return shown[0]


def assert_says_what_is_kept(line: str, out: Path) -> None:
    found = LINE.match(line)
    assert found and re.search(
        f" in {re.escape(str(out))} (is|are) kept; run the same command to resume$", line
    ), line
    assert int(found.group(1)) == len(lines(out / "episodes.jsonl")), line


def assert_nothing_half_written(out: Path) -> None:
    assert_readable(out)
    assert not [p.name for p in out.rglob("*.tmp*")], "a temporary file was left"

    def named(r: dict) -> str:  # a video is named after its scenario, and arm where it has one
        arm = f"-{r['variant']}" if "#variant=" in r["key"] else ""
        return r["source"].split("/")[-1] + arm

    records = list(map(json.loads, lines(out / "episodes.jsonl")))
    recorded = {(named(r), r["seed"]) for r in records}
    # the clip of an env's first violation is named after the scenario alone, not the arm
    violated = {(r["source"].split("/")[-1], r["seed"]) for r in records if r["total_cost"] > 0}
    for video in (out / "videos").glob("*.mp4"):  # a clip only of an episode on record
        clip = video.stem.startswith("violation-")
        env, seed = video.stem.removeprefix("violation-").rsplit("-seed", 1)
        assert (env, int(seed)) in (violated if clip else recorded), video.name
    assert "video not written" not in (out / "episodes.jsonl").read_text()


def episodes_in(out: Path, n: int) -> Ready:
    return lambda _: len(lines(out / "episodes.jsonl")) >= n


MOMENTS = {  # (extra settings, when to press Ctrl-C)
    "stepping": ([], lambda out: episodes_in(out, 10)),
    "judging": (
        ["judge.events._target_=tests.slow_agents.SlowEvents"],
        lambda out: lambda _: len(lines(out / "verdicts.jsonl")) >= 2,
    ),
    "video": (  # a video of every episode: one is nearly always being written
        ["video.per_env=25"],
        lambda out: lambda _: any((out / "videos").glob(".*.tmp.mp4")),
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("moment", list(MOMENTS))
def test_ctrl_c_in_eval_is_one_line_and_the_same_command_resumes(tmp_path, moment):
    out = tmp_path / "run"
    extra, ready = MOMENTS[moment]
    args = [*eval_args(out, "local"), *extra]
    line = said(interrupt(args, ready(out), tmp_path))
    assert_says_what_is_kept(line, out)
    assert len(lines(out / "episodes.jsonl")) < UNITS or moment == "judging"
    assert_nothing_half_written(out)
    assert_the_rerun_records_every_unit_once(args, out)
    assert_nothing_half_written(out)


@pytest.mark.slow
@needs_ray
@needs_proc
def test_ctrl_c_on_ray_is_one_line_and_the_same_command_resumes(tmp_path):
    out = tmp_path / "run"
    args = eval_args(out, "ray")
    line = said(interrupt(args, episodes_in(out, 10), tmp_path), ray=True)
    assert_says_what_is_kept(line, out)
    assert len(lines(out / "episodes.jsonl")) < UNITS
    assert_nothing_half_written(out)
    assert_the_rerun_records_every_unit_once(args, out)


@pytest.mark.slow
def test_ctrl_c_in_a_sweep_names_the_run_it_stopped_and_the_same_command_resumes(tmp_path):
    # eval_args' seeds and suite: each run holds UNITS episodes
    args = ["eval", "-m", "agent=random", "agent._target_=tests.slow_agents.SlowRandom",
            "agent.name=first,second", f"seeds={SEEDS}", "suite=foundation", "batch_size=4",
            f"out_root={tmp_path}", "progress=false"]  # fmt: skip
    first, second = tmp_path / "foundation" / "first", tmp_path / "foundation" / "second"
    line = said(interrupt(args, episodes_in(second, 5), tmp_path))
    assert_says_what_is_kept(line, second)
    done = run(args)
    assert done.returncode == 0, done.stderr
    assert_every_unit_once(first)
    assert_every_unit_once(second)


@pytest.mark.slow
def test_ctrl_c_in_audit_is_one_line_and_the_same_command_resumes(tmp_path):
    args = ["audit", f"seeds={SEEDS}", f"out_root={tmp_path}", "progress=false"]
    line = said(interrupt(args, episodes_in(tmp_path / "reckless", 1), tmp_path))
    assert line.endswith("recorded so far are kept; run the same command to resume"), line
    assert not (tmp_path / "audit.json").exists()
    done = run(args)
    assert done.returncode == 0, done.stderr
    audit = json.loads((tmp_path / "audit.json").read_text())
    assert audit["seeds"] == list(range(SEEDS))
    expected = sorted(u.key for u in env_units(audit["envs"], audit["seeds"], {}))
    assert len(expected) > SEEDS  # the reward-gaming family's scenarios have arms: every one
    for control in ("oracle", "reckless", "sneaky", "random"):
        keys = [json.loads(x)["key"] for x in lines(tmp_path / control / "episodes.jsonl")]
        assert sorted(keys) == expected, control  # none missing, none twice


@pytest.mark.slow
def test_ctrl_c_in_leaderboard_build_publishes_nothing(tmp_path):
    site = tmp_path / "site"
    args = ["leaderboard", "build", "--root", "leaderboard", "--site", str(site)]
    verified = lambda _: ": verified" in (tmp_path / "stdout.txt").read_text()  # noqa: E731
    line = said(interrupt(args, verified, tmp_path))
    assert line == "mmsafe: interrupted; nothing was published: the site is as it was", line
    assert not site.exists()


def test_ctrl_c_while_the_site_is_written_says_it_was_written(tmp_path, monkeypatch, capsys):
    from mmsafe.leaderboard import site as site_module

    write_site = site_module.write_site

    def pressed_while_writing(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)
        return write_site(*args, **kwargs)

    monkeypatch.setattr(site_module, "write_site", pressed_while_writing)
    site, root = tmp_path / "site", tmp_path / "board"
    (root / "submissions").mkdir(parents=True)  # one quick bundle: the build is not under test
    shutil.copy(ROOT / "leaderboard" / "submissions" / "refuse.tar.gz", root / "submissions")
    args = ["leaderboard", "build", "--root", str(root), "--site", str(site)]
    assert mmsafe.cli.main(args) == 130
    err = capsys.readouterr().err
    assert err == f"mmsafe: interrupted; the site in {site} was written whole before it stopped\n"
    assert sorted(p.name for p in site.iterdir()) == ["board.json", "index.html"]


def test_ctrl_c_in_a_command_that_only_reads_says_nothing_changed(tmp_path, monkeypatch, capsys):
    def report_command(args: list[str]) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(mmsafe.cli, "report_command", report_command)
    handler = signal.getsignal(signal.SIGINT)
    assert mmsafe.cli.main(["report", str(tmp_path)]) == 130
    assert signal.getsignal(signal.SIGINT) is handler  # a Python caller keeps its Ctrl-C
    assert capsys.readouterr().err == "mmsafe: interrupted; nothing was changed\n"


def test_held_interrupts_let_the_block_finish_then_raise():
    finished = []
    with pytest.raises(KeyboardInterrupt), held_interrupts():
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)  # the signal has arrived by now
        finished.append(True)
    assert finished
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_an_error_in_a_held_block_is_told_rather_than_the_interrupt():
    # a full disk while Ctrl-C is pending: the user must learn the disk is full
    with pytest.raises(OSError, match="No space left"), held_interrupts():
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)
        raise OSError(28, "No space left on device")
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_ctrl_c_during_an_atomic_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "metrics.json"
    path.write_text("old")

    def interrupted(fd: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(path, "new")
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


def test_opening_a_run_removes_temporary_files_a_kill_left(tmp_path):
    (tmp_path / "videos").mkdir()
    left = [tmp_path / ".metrics.json.tmp", tmp_path / "videos" / ".HazardLava-v1-seed0.tmp.mp4"]
    for path in left:
        path.write_text("cut short")
    RunDir(tmp_path).open(identity={}, config={}).close()
    assert not any(path.exists() for path in left)


def test_the_line_counts_what_the_run_directory_keeps(tmp_path):
    from omegaconf import OmegaConf

    cfg = OmegaConf.create({"out": str(tmp_path)})
    assert mmsafe.cli.kept_after_interrupt(cfg) == f"nothing was recorded in {tmp_path}"
    (tmp_path / "episodes.jsonl").write_text('{"key": "a"}\n{"key": "b"}\n{"key": "c')  # torn tail
    assert mmsafe.cli.kept_after_interrupt(cfg) == (
        f"2 episodes recorded in {tmp_path} are kept; run the same command to resume"
    )
    (tmp_path / "verdicts.jsonl").write_text("")
    assert mmsafe.cli.kept_after_interrupt(cfg).startswith("2 episodes and the verdicts so far")
