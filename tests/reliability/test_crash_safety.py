"""kill -9 at random points of `mmsafe eval` (while episodes run, while judges run, while
metrics are written), then run again: every episode and verdict is recorded exactly once, a
torn line is never read as data, and metrics.json is whole or absent."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import time
from collections import Counter

import pytest

from ..conftest import ROOT, mmsafe_cmd


@pytest.mark.slow
def test_kill_9_at_random_points_then_rerun_records_everything_once(tmp_path):
    out = tmp_path / "run"
    args = ["eval", "agent=random", "agent._target_=tests.slow_agents.SlowRandom", "seeds=25",
            "suite=foundation", "batch_size=4", f"out={out}", "progress=false"]  # fmt: skip
    rng = random.Random(9)
    episodes, metrics = out / "episodes.jsonl", out / "metrics.json"
    for _ in range(4):  # each run is killed after a random time: before, during or after work
        process = subprocess.Popen(
            mmsafe_cmd(*args), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        time.sleep(rng.uniform(0.5, 6.0))
        process.send_signal(signal.SIGKILL)
        process.wait()
        if metrics.exists():  # written whole by a rename, or not at all
            json.loads(metrics.read_text())
        if episodes.exists():  # whatever is on disk reads back; a torn tail is set aside
            lines = episodes.read_text().splitlines()
            for line in lines[:-1]:
                json.loads(line)
    done = subprocess.run(mmsafe_cmd(*args), cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    keys = [json.loads(line)["key"] for line in episodes.read_text().splitlines()]
    assert len(keys) == 75 and set(Counter(keys).values()) == {1}
    verdicts = [json.loads(line) for line in (out / "verdicts.jsonl").read_text().splitlines()]
    pairs = Counter((v["key"], v["judge"]) for v in verdicts)
    assert set(pairs.values()) == {1}  # no verdict twice
    assert {key for key, judge in pairs if judge.startswith("events@")} == set(keys)
    assert json.loads(metrics.read_text())["overall"]["success"]["n"] == 75
