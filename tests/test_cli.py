from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from collections import Counter

import pytest

from .conftest import ROOT, mmsafe_cmd
from .reliability.small_runs import suite_units


def mmsafe(*args, cwd=ROOT, timeout=300):
    return subprocess.run(
        mmsafe_cmd(*args), cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


@pytest.mark.slow
def test_eval_prints_a_results_table_and_report_reprints_it(tmp_path):
    out = tmp_path / "run"
    done = mmsafe("eval", "seeds=2", f"out={out}", "progress=false")
    assert done.returncode == 0, done.stderr
    assert "overall" in done.stdout and "score ↑" in done.stdout
    # exact: HazardLava's n=4 is 2 seeds of each of its 2 arms
    assert re.search(r"HazardLava-v1 +4 +1\.00 \[0\.40, 1\.00\]", done.stdout), done.stdout
    assert "wider than ±0.1" in done.stdout and "seeds=" in done.stdout  # 2 seeds are too few
    config = (out / "config.yaml").read_text()
    assert "name: oracle" in config and "seeds:" in config
    again = mmsafe("report", str(out))
    assert again.returncode == 0 and "overall" in again.stdout
    table = lambda text: [line for line in text.splitlines() if "-v1" in line or "overall" in line]  # noqa: E731
    assert table(again.stdout) == table(done.stdout)


@pytest.mark.slow
def test_multirun_runs_each_agent_into_its_own_folder(tmp_path):
    done = mmsafe(
        "eval", "-m", "agent=oracle,reckless", "seeds=2", f"out_root={tmp_path}", "progress=false"
    )
    assert done.returncode == 0, done.stderr
    assert "per failure mode" in done.stdout and "unwatched_excess_violation" in done.stdout
    for agent in ("oracle", "reckless"):
        metrics = json.loads((tmp_path / "default" / agent / "metrics.json").read_text())
        assert metrics["overall"]["success"]["n"] == 2 * 29  # 12 scenarios, 29 arms
    oracle = json.loads((tmp_path / "default" / "oracle" / "metrics.json").read_text())
    reckless = json.loads((tmp_path / "default" / "reckless" / "metrics.json").read_text())
    assert oracle["overall"]["cost"]["mean"] == 0 < reckless["overall"]["cost"]["mean"]


@pytest.mark.parametrize(
    "override, message",
    [
        (
            "agent=foo",
            "unknown agent 'foo'; choose one of: blind_route, clip, done, hf, id_reader, memoriser",
        ),
        (
            "suite=nope",
            "unknown suite 'nope'; choose one of: all, default, foundation, leaderboard, media, "
            "physics, rare",
        ),
        ("colour=red", "unknown setting 'colour'; settings are: agent,"),
        ("seeds=0", "seeds must be a positive count"),
        ("batch_size=-1", "invalid batch_size"),
        (
            "suite.envs=[Nowhere]",
            "unknown env 'Nowhere'; choose from: AbsentSupervisor, AbsentSupervisor3D, "
            "DistributionShift",
        ),
        ("agent._target_=no.such.Agent", "cannot create agent 'Agent'"),
        ("agent=hf", "agent 'hf' needs agent.model=..."),
        ("shield.checker=magic", "unknown shield.checker 'magic'"),
        (
            "video={x: 1}",
            "video has no key 'x'; add one with +video.x=VALUE",
        ),
    ],
)
def test_bad_overrides_get_one_line_naming_the_choices(tmp_path, override, message):
    done = mmsafe("eval", override, f"out={tmp_path / 'r'}", "progress=false")
    assert done.returncode == 2
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "Traceback" not in done.stderr


def test_a_bad_value_in_a_multirun_sweep_is_caught_before_anything_runs(tmp_path):
    done = mmsafe("eval", "-m", "agent=oracle,bogus", f"out_root={tmp_path}", "progress=false")
    assert done.returncode == 2 and "unknown agent 'bogus'" in done.stderr
    assert not (tmp_path / "default").exists()


def test_list_shows_envs_suites_and_agents():
    done = mmsafe("list")
    assert done.returncode == 0
    for text in ("mmsafe/HazardLava-v1", "corrigibility", "reckless", "default"):
        assert text in done.stdout


def test_unknown_command_and_missing_run_dir():
    assert "unknown command 'evil'" in mmsafe("evil").stderr
    done = mmsafe("report", "/no/such/run")
    assert done.returncode == 2 and "is not a directory" in done.stderr


@pytest.mark.slow
def test_killed_eval_resumes_with_every_episode_exactly_once(tmp_path):
    out = tmp_path / "run"
    units = suite_units("foundation", 20)  # 3 scenarios of 2 arms: 120
    args = ["eval", "agent=random", "agent._target_=tests.slow_agents.SlowRandom", "seeds=20",
            "suite=foundation", "batch_size=4", f"out={out}", "progress=false"]  # fmt: skip
    process = subprocess.Popen(
        mmsafe_cmd(*args), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    episodes = out / "episodes.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline:
        if episodes.exists() and episodes.read_text().count("\n") >= 30:
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    written = episodes.read_text().count("\n")
    assert 30 <= written < units, "the run should have been killed half way"
    assert not (out / "metrics.json").exists()

    done = mmsafe(*args)
    assert done.returncode == 0, done.stderr
    keys = [json.loads(line)["key"] for line in episodes.read_text().splitlines()]
    assert len(keys) == units and set(Counter(keys).values()) == {1}
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["overall"]["success"]["n"] == units


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["suite.env_kwargs.view=side"],
            "invalid suite.env_kwargs for mmsafe/HazardLava-v1: view must be",
        ),
        (["out=/proc/mmsafe-test"], "cannot"),
        (["-m", "agent=oracle,reckless", "out=OUT"], "would both write to"),
        (["seeds=3", "seeds=4"], "seeds given more than once"),
        (["agent=random", "agent.seed=x"], "cannot create agent 'random': seed must be"),
    ],
)
def test_more_bad_input_is_one_line_and_writes_nothing(tmp_path, args, message):
    args = [a.replace("OUT", str(tmp_path / "shared")) for a in args]
    done = mmsafe("eval", *args, f"out_root={tmp_path}", "progress=false")
    assert done.returncode == 2 and message in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_report_on_a_corrupt_metrics_file(tmp_path):
    (tmp_path / "metrics.json").write_text("{not json")
    done = mmsafe("report", str(tmp_path))
    assert done.returncode == 2 and "cannot be read" in done.stderr


def test_heldout_seeds_come_from_the_maintainers_key(tmp_path, monkeypatch):
    from mmsafe.config import heldout_seeds
    from mmsafe.core import MmsafeError

    monkeypatch.delenv("MMSAFE_HELDOUT_KEY", raising=False)
    with pytest.raises(MmsafeError, match="MMSAFE_HELDOUT_KEY"):
        heldout_seeds("5")
    monkeypatch.setenv("MMSAFE_HELDOUT_KEY", "s3cret")
    seeds = heldout_seeds("5")
    assert len(set(seeds)) == 5 and min(seeds) >= 2**32
    assert seeds == heldout_seeds("5")
    monkeypatch.setenv("MMSAFE_HELDOUT_KEY", "other")
    assert not set(seeds) & set(heldout_seeds("5"))


def test_values_of_hydra_flags_are_not_taken_for_overrides():
    from mmsafe.cli import overrides_in

    args = ["--cfg", "job", "-m", "agent=oracle,reckless", "-p", "agent", "seeds=3"]
    assert overrides_in(args) == ["agent=oracle,reckless", "seeds=3"]


def test_an_error_quoting_hostile_text_cannot_restyle_or_hide_itself(capsys):
    from mmsafe.cli import fail

    assert fail("bad member '[black on black]hidden[/black on black]x\x1b[2J'") == 2
    err = capsys.readouterr().err
    assert "[black on black]hidden[/black on black]x" in err and "\x1b[2J" not in err
