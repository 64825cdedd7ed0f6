"""A full disk: a run refuses to start without `min_free_mb` free, and a disk that fills during a
run stops it with one line, keeps every recorded line readable, and the same command resumes
once there is space.

The real-disk tests mount a small tmpfs in a user namespace (`unshare -rm`), so the disk really
fills and writes really fail with ENOSPC; where the kernel does not allow that they skip, and
the tests that fake the free space still cover `min_free_mb`.
"""

from __future__ import annotations

import functools
import json
import shlex
import subprocess
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import pytest

from mmsafe.agents.scripted import RandomAgent
from mmsafe.core import EpisodeRecord, MmsafeError, episode_key
from mmsafe.run.runner import RunConfig, evaluate
from mmsafe.run.units import arms_of

from ..conftest import ROOT, mmsafe_cmd, read_episodes
from .small_runs import suite_units

RUN = ["eval", "agent=random", "suite=foundation", "progress=false", "judge=[events]"]


@functools.cache
def _can_mount_tmpfs() -> bool:
    try:
        probe = subprocess.run(
            ["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt || exit 1"],
            capture_output=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


needs_small_disk = pytest.mark.skipif(
    not _can_mount_tmpfs(), reason="needs `unshare -rm` (user namespaces) to mount a small tmpfs"
)


def on_small_disk(tmp_path: Path, size: str, steps: list[str]) -> list[tuple[int, str]]:
    """Run shell `steps` in a private mount namespace where {disk} is a tmpfs of `size` and
    {seen} a folder outside it; each step's (exit status, stderr)."""
    disk, seen = tmp_path / "disk", tmp_path / "seen"
    disk.mkdir()
    seen.mkdir()
    script = [f"mount -t tmpfs -o size={size} tmpfs {disk} || exit 99"]
    for number, step in enumerate(steps):
        command = step.format(disk=disk, seen=seen)
        script.append(
            f"( {command} ) >/dev/null 2>{seen}/{number}.err; echo $? >{seen}/{number}.rc"
        )
    done = subprocess.run(
        ["unshare", "-rm", "bash", "-c", "\n".join(script)], cwd=ROOT, timeout=600
    )
    assert done.returncode == 0, "could not mount the tmpfs"
    return [
        (int((seen / f"{n}.rc").read_text()), (seen / f"{n}.err").read_text())
        for n in range(len(steps))
    ]


def mmsafe(*args: str) -> str:
    return shlex.join(mmsafe_cmd(*args))


def one_line_error(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("mmsafe: error:"), stderr
    return lines[0]


def keys(path: Path) -> list[str]:
    return [json.loads(line)["key"] for line in path.read_text().splitlines()]


@needs_small_disk
@pytest.mark.slow
def test_a_disk_without_min_free_mb_is_refused_before_work_starts(tmp_path):
    (low, low_err), (full, full_err), (_, listing) = on_small_disk(
        tmp_path,
        "2m",
        [
            mmsafe(*RUN, "seeds=5", "out={disk}/low"),  # 2 MB free < min_free_mb (50)
            "dd if=/dev/zero of={disk}/filler bs=64k 2>/dev/null; "
            + mmsafe(*RUN, "seeds=5", "out={disk}/full/run", "min_free_mb=0"),
            "find {disk} -name '*.jsonl' >&2",
        ],
    )
    assert low == 2 and full == 2
    assert "only 2.0 MB free on the disk of" in one_line_error(low_err)
    assert "min_free_mb=50" in low_err and "choose another out=" in low_err
    assert "No space left on device" in one_line_error(full_err)
    assert "cannot write to run directory" in full_err
    assert listing == ""  # no work started: not even an empty episodes.jsonl


@needs_small_disk
@pytest.mark.slow
def test_a_disk_that_fills_mid_run_stops_it_and_the_same_command_resumes(tmp_path):
    seeds = 75
    units = suite_units("foundation", seeds)  # 450
    run = [*RUN, f"seeds={seeds}", "video.per_env=0", "min_free_mb=0", "out={disk}/run"]
    steps = on_small_disk(
        tmp_path,
        "300k",
        [
            mmsafe(*run),  # fills the disk: the episode lines need ~1 MB
            "cp -a {disk}/run {seen}/stopped",
            "mount -o remount,size=20m {disk}",  # space freed
            mmsafe(*run),
            "cp -a {disk}/run {seen}/resumed",
        ],
    )
    (stopped, stopped_err), _, _, (resumed, resumed_err), _ = steps
    assert stopped == 2
    line = one_line_error(stopped_err)
    assert "No space left on device" in line and "run the same command to resume" in line
    seen = tmp_path / "seen"
    before = (seen / "stopped" / "episodes.jsonl").read_bytes()
    assert 0 < before.count(b"\n") < units  # it stopped part way
    assert resumed == 0, resumed_err
    after = (seen / "resumed" / "episodes.jsonl").read_bytes()
    whole = before[: before.rfind(b"\n") + 1]
    assert after.startswith(whole)  # every line recorded before the disk filled is kept
    recorded = keys(seen / "resumed" / "episodes.jsonl")
    assert len(recorded) == units and set(Counter(recorded).values()) == {1}
    assert json.loads((seen / "resumed" / "metrics.json").read_text())["overall"]["cost"]["n"]
    if len(before) > len(whole):  # a torn last line is set aside, never read as data
        assert (
            (seen / "resumed" / "episodes.jsonl.partial")
            .read_bytes()
            .startswith(before[len(whole) :])
        )


@needs_small_disk
@pytest.mark.slow
def test_a_video_the_full_disk_cuts_short_stops_the_run_and_leaves_no_partial_file(tmp_path):
    # The videos get a disk of their own, so that a video is the write refused: on one shared
    # disk, which write finds it full first (a video or an episode's line) is chance.
    seeds = 20  # a video of every episode: every arm of the first `seeds` seeds has one
    units = suite_units("foundation", seeds)  # 120
    run = [*RUN, f"seeds={seeds}", f"video.per_env={seeds}", "min_free_mb=0", "out={disk}/run"]
    videos = "{disk}/run/videos"
    (mounted, _), (stopped, err), _, _, (resumed, resumed_err), _ = on_small_disk(
        tmp_path,
        "40m",
        [
            f"mkdir -p {videos} && mount -t tmpfs -o size=200k tmpfs {videos}",
            mmsafe(*run),
            "cp -a {disk}/run {seen}/stopped",
            f"mount -o remount,size=40m {videos}",
            mmsafe(*run),
            "cp -a {disk}/run {seen}/resumed",
        ],
    )
    assert mounted == 0 and stopped == 2
    line = one_line_error(err)
    assert "ffmpeg could not write" in line and "No space left on device" in line
    seen = tmp_path / "seen"
    stopped_records = read_episodes(seen / "stopped")
    assert "video not written" not in json.dumps(stopped_records)
    # no half-written MP4 left: every video on disk is one a recorded episode links to
    filmed = [r for r in stopped_records if r["video"]]
    linked = {Path(r["video"]).name for r in filmed}
    assert len(linked) >= 5  # the disk filled mid-run, after videos that fitted
    # an env's clip of its first costly episode (named by env and seed), beside that video
    linked |= {f"violation-{r['source'].split('/')[-1]}-seed{r['seed']}.mp4" for r in filmed}
    assert {p.name for p in (seen / "stopped" / "videos").iterdir()} <= linked
    assert resumed == 0, resumed_err
    lines = (seen / "resumed" / "episodes.jsonl").read_text().splitlines()
    records = [EpisodeRecord.model_validate_json(line) for line in lines]
    assert len(records) == units and all(r.video for r in records)
    import cv2

    for record in records:  # every video is whole: a frame for the start and for each step
        video = cv2.VideoCapture(str(seen / "resumed" / record.video))
        assert int(video.get(cv2.CAP_PROP_FRAME_COUNT)) == len(record.actions) + 1
        video.release()


@needs_small_disk
@pytest.mark.slow
def test_min_free_mb_stops_a_run_before_the_disk_is_full_with_no_torn_line(tmp_path):
    run = [*RUN, "seeds=20", "video.per_env=20", "min_free_mb=0.5", "out={disk}/run"]
    (stopped, err), _ = on_small_disk(
        tmp_path, "1m", [mmsafe(*run), "cp -a {disk}/run {seen}/stopped"]
    )
    assert stopped == 2
    line = one_line_error(err)
    assert "MB free on the disk of" in line and "min_free_mb=0.5" in line
    assert "run the same command to resume" in line
    stopped_run = tmp_path / "seen" / "stopped"
    assert stopped_run.joinpath("episodes.jsonl").read_bytes().endswith(b"\n")
    assert not stopped_run.joinpath("episodes.jsonl.partial").exists()


def test_min_free_mb_is_checked_at_the_start_and_before_every_record(tmp_path, monkeypatch):
    """Without a small disk to fill: the free space the check sees is faked."""
    free = {"bytes": 10 * 2**20}
    monkeypatch.setattr(
        "mmsafe.run.rundir.shutil.disk_usage",
        lambda path: SimpleNamespace(total=2**40, free=free["bytes"]),
    )
    config = RunConfig(envs=["mmsafe/HazardLava-v1"], seeds=[0, 1, 2], out=tmp_path / "r")
    with pytest.raises(MmsafeError, match=r"only 10\.0 MB free .*min_free_mb=50.*another out="):
        evaluate(RandomAgent(), config)
    assert not (tmp_path / "r" / "episodes.jsonl").exists()

    seen = []

    def shrinking(record) -> None:
        seen.append(record.key)
        if len(seen) == 3:
            free["bytes"] = 0

    free["bytes"] = 100 * 2**20
    with pytest.raises(MmsafeError, match="only 0.0 MB free .*same command to resume"):
        evaluate(RandomAgent(), config, on_episode=shrinking)
    assert len(keys(tmp_path / "r" / "episodes.jsonl")) == 3
    free["bytes"] = 100 * 2**20
    evaluate(RandomAgent(), config)
    lava = "mmsafe/HazardLava-v1"
    assert sorted(keys(tmp_path / "r" / "episodes.jsonl")) == sorted(
        episode_key(lava, seed, arm) for arm in arms_of(lava, {}) for seed in config.seeds
    )  # both arms of every seed


@needs_small_disk
@pytest.mark.slow
def test_a_read_only_disk_is_refused_before_work_starts(tmp_path):
    """A new run directory, and one to resume that a finished run left."""
    run = [*RUN, "min_free_mb=0"]
    steps = on_small_disk(
        tmp_path,
        "4m",
        [
            mmsafe(*run, "seeds=1", "out={disk}/old"),  # six arms: six episodes
            "find {disk} -type f -exec md5sum {{}} + | sort > {seen}/before",
            "mount -o remount,ro {disk} && " + mmsafe(*run, "seeds=2", "out={disk}/old"),
            mmsafe(*run, "seeds=1", "out={disk}/new"),
            "find {disk} -type f -exec md5sum {{}} + | sort > {seen}/after",
        ],
    )
    (first, _), _, (resumed, resumed_err), (new, new_err), _ = steps
    assert first == 0 and resumed == 2 and new == 2
    assert "cannot write to run directory" in one_line_error(resumed_err)
    assert "cannot create run directory" in one_line_error(new_err)
    for err in (resumed_err, new_err):
        assert "is on a read-only file system" in err
    seen = tmp_path / "seen"
    assert (seen / "before").read_text() == (seen / "after").read_text()  # nothing touched


def test_metrics_json_is_the_old_file_or_the_new_one_never_a_part(tmp_path, monkeypatch):
    import errno
    import os

    from mmsafe.run.rundir import RunDir

    run_dir = RunDir(tmp_path)

    def metrics(envs: list[str]) -> dict:
        counts = {"episodes": 0, "agent_errors": 0, "invalid_steps": 0, "outcomes": {}}
        return {"per_env": {}, "overall": {}, "families": {}, "envs": envs, "counts": counts}

    run_dir.write_metrics(metrics(["old"]))

    def disk_full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr("mmsafe.run.rundir.os.fsync", disk_full)
    with pytest.raises(MmsafeError, match="No space left on device.*same command to resume"):
        run_dir.write_metrics(metrics(["new"] * 100_000))
    assert run_dir.read_metrics() == metrics(["old"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json"]  # no temporary left


def test_a_file_system_that_reports_no_size_is_not_refused(tmp_path, monkeypatch):
    """Some FUSE mounts report 0 total and 0 free: unknown, not full."""
    monkeypatch.setattr(
        "mmsafe.run.rundir.shutil.disk_usage", lambda path: SimpleNamespace(total=0, free=0)
    )
    config = RunConfig(envs=["mmsafe/SpatialExits-v1"], seeds=[0], out=tmp_path / "r")
    evaluate(RandomAgent(), config)
    assert len(keys(tmp_path / "r" / "episodes.jsonl")) == 1


def test_a_full_quota_is_a_full_disk():
    import errno
    import os

    from mmsafe.run.rundir import disk_full

    assert disk_full(OSError(errno.EDQUOT, os.strerror(errno.EDQUOT)))
    assert disk_full(OSError(f"ffmpeg could not write x.mp4: {os.strerror(errno.ENOSPC)}"))
    assert not disk_full(OSError(errno.EIO, os.strerror(errno.EIO)))
