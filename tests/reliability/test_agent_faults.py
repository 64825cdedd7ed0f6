"""Agent faults are contained per unit and recorded; an agent that only produces errors stops
the run, with nothing of the failed streak recorded, so the same command resumes once it works."""

from __future__ import annotations

import re
import subprocess
import time

import pytest

from mmsafe.agents import BaseAgent, RandomAgent
from mmsafe.core import MmsafeError, Reply
from mmsafe.run import RunConfig, evaluate
from mmsafe.run.units import env_units

from ..conftest import ROOT, known_ids, mmsafe_cmd
from ..conftest import read_episodes as records
from .small_runs import ENVS, SEEDS, UNITS, config


class Switchable(BaseAgent):
    """Walks at random, or fails in the chosen way while `fault` is set."""

    name = "switchable"

    def __init__(self, fault: str | None = None, odd: set[str] = frozenset()):
        self.fault, self.walker = fault, RandomAgent(seed=0)
        self.odd = odd  # the ids this run shows for the odd seeds' episodes

    def act(self, observation):
        if self.fault == "raise":
            raise ConnectionError("server down:\nconnection refused")  # two lines
        if self.fault == "hang":
            time.sleep(0.3)
        if self.fault == "every_other" and observation.episode_id in self.odd:
            raise RuntimeError("flaky")  # the odd seeds' episodes
        if self.fault == "empty":
            return Reply(text="")
        if self.fault == "enormous":
            return Reply(text="wait " * 200_000)
        return self.walker.act(observation)


@pytest.mark.parametrize("fault", ["raise", "hang"])
def test_an_agent_that_only_fails_stops_the_run_and_the_rerun_finishes_it(tmp_path, fault):
    out = tmp_path / "run"
    timeout = 0.1 if fault == "hang" else 120.0
    with pytest.raises(MmsafeError, match="failed on 4 units in a row") as stopped:
        evaluate(Switchable(fault), config(out, max_agent_failures=4, agent_timeout_s=timeout))
    assert str(out) in str(stopped.value) and "\n" not in str(stopped.value)
    assert records(out) == []  # the failed streak is held back, not recorded as results
    assert not (out / "metrics.json").exists()
    metrics = evaluate(Switchable(None), config(out, max_agent_failures=4))
    keys = [r["key"] for r in records(out)]
    assert len(keys) == len(set(keys)) == UNITS  # every episode exactly once
    assert metrics["counts"]["agent_errors"] == 0


def test_failures_between_successes_are_recorded_and_the_run_goes_on(tmp_path):
    out = tmp_path / "run"
    odd = [u.key for u in env_units(ENVS, SEEDS, {}) if u.seed % 2]
    agent = Switchable("every_other", set(known_ids(out, odd)))
    metrics = evaluate(agent, config(out, max_agent_failures=2, batch_size=1))
    outcomes = [r["outcome"] for r in records(out)]
    assert len(outcomes) == UNITS and "agent_error" in outcomes
    assert any("flaky" in (r["error"] or "") for r in records(out))
    assert metrics["counts"]["agent_errors"] == outcomes.count("agent_error")


def test_a_streak_below_the_limit_at_the_end_is_recorded(tmp_path):
    out = tmp_path / "run"
    evaluate(Switchable("raise"), config(out, max_agent_failures=UNITS + 1))
    assert [r["outcome"] for r in records(out)] == ["agent_error"] * UNITS
    evaluate(Switchable("raise"), config(tmp_path / "unlimited", max_agent_failures=None))
    assert [r["outcome"] for r in records(tmp_path / "unlimited")] == ["agent_error"] * UNITS


def test_mmsafe_eval_stops_an_agent_that_only_fails_with_one_line(tmp_path):
    out = tmp_path / "run"
    done = subprocess.run(
        mmsafe_cmd(
            "eval",
            "agent=random",
            "agent._target_=tests.slow_agents.Unreachable",
            "suite=foundation",
            "seeds=5",
            "max_agent_failures=4",
            "progress=false",
            f"out={out}",
        ),  # fmt: skip
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2
    [line] = [x for x in done.stderr.splitlines() if x.startswith("mmsafe: error:")]
    assert "stopped: the agent failed on 4 units in a row" in line
    assert "connection refused by localhost:9" in line and "max_agent_failures" in line
    assert "Traceback" not in done.stderr and records(out) == []


@pytest.mark.parametrize("fault", ["empty", "enormous"])
def test_empty_and_enormous_replies_are_invalid_turns_not_crashes(tmp_path, fault):
    out = tmp_path / "run"
    evaluate(Switchable(fault), config(out, max_invalid=2))
    assert len(records(out)) == UNITS
    for record in records(out):
        assert record["outcome"] == "invalid_actions"
        assert all(not step["valid"] and step["error"] for step in record["steps"])
        for step in record["steps"]:  # a runaway reply is cut, and says so
            assert len(step["reply"]) < 100_100
            assert ("[mmsafe cut 900,000 characters]" in step["reply"]) == (fault == "enormous")
    assert (out / "metrics.json").exists()


def first_samples(name: str, n: int, folder) -> str:
    """A copy of a shipped task with only its first `n` samples (and their media)."""
    import json
    import shutil

    from mmsafe.data.task import resolve_task

    shipped = resolve_task(name).path
    text = shipped.read_text()
    manifest = shipped.parent / re.search(r"^manifest: (\S+)$", text, re.M).group(1)
    lines = manifest.read_text().splitlines()[:n]
    copy = folder / name
    copy.mkdir()
    for line in lines:
        media = json.loads(line).get("image")
        (copy / media).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(manifest.parent / media, copy / media)
    (copy / "manifest.jsonl").write_text("\n".join(lines) + "\n")
    task = folder / f"{name}.yaml"
    pointed = re.sub(r"^manifest: \S+$", f"manifest: {name}/manifest.jsonl", text, flags=re.M)
    task.write_text(pointed)
    return str(task)


@pytest.mark.parametrize("fault", ["raise", "hang", "empty"])
@pytest.mark.slow
def test_an_agent_failing_on_media_samples_is_recorded_per_sample(tmp_path, fault):
    out = tmp_path / "run"
    tasks = [first_samples(name, 6, tmp_path) for name in ("SituationalPairs", "SycophancyFlip")]
    metrics = evaluate(
        Switchable(fault),
        RunConfig(
            tasks=tasks,
            seeds=[0],
            out=out,
            batch_size=4,
            max_agent_failures=None,
            agent_timeout_s=0.1 if fault == "hang" else 120.0,
        ),  # fmt: skip
    )
    done = records(out)
    assert done and len(done) == len({r["key"] for r in done})
    expected = {"raise": "agent_error", "hang": "agent_timeout", "empty": "invalid_actions"}
    assert {r["outcome"] for r in done} == {expected[fault]}
    assert all(r["sample"] for r in done)  # media samples, each recorded on its own
    assert metrics["per_task"]


def test_every_text_of_a_runaway_reply_is_cut_keeping_its_end():
    from mmsafe.core import TraceEntry
    from mmsafe.run.pool import MAX_REPLY_CHARS, _bounded

    runaway = "think " * 100_000 + "so: wait"
    reply = Reply(text=runaway, action="wait", trace=(TraceEntry(kind="proposal", text=runaway),))
    cut = _bounded(reply)
    for text in (cut.text, cut.trace[0].text):
        assert len(text) < MAX_REPLY_CHARS + 100 and "[mmsafe cut" in text
        assert text.startswith("think think") and text.endswith("so: wait")  # the answer kept
    assert cut.action == "wait" and _bounded(Reply(text="short")) == Reply(text="short")
