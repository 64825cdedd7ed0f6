"""`agent_memory_mb`: an agent whose process outgrows it is rebuilt and the run goes on; the
units in flight start over (once) with the new agent; what a rebuild cannot cure stops the run
with one line, and the same command resumes."""

from __future__ import annotations

import subprocess

import pytest

from mmsafe.agents import OracleAgent, RandomAgent
from mmsafe.core import MmsafeError
from mmsafe.run import RunConfig, evaluate
from mmsafe.run.memory import release_freed_memory, resident_mb
from mmsafe.run.pool import AgentInfo, LocalPool, lockstep, rollout_factories
from mmsafe.run.rollout import EnvRollout as Rollout

from ..conftest import ROOT, mmsafe_cmd
from ..conftest import read_episodes as records
from ..slow_agents import HOARD, GlobalLeakyRandom, LeakyRandom
from .small_runs import ENVS, LEAKY_EVAL, LEAKY_UNITS, SEEDS, UNITS, config


def baseline_mb() -> float:
    """This process's memory without the garbage earlier tests left, which the watch frees
    (so a limit set from it is one it reaches)."""
    release_freed_memory()
    return resident_mb()


class WorkingSet(RandomAgent):
    """Needs 300 MB to work, taken at its first call (a cache it warms, say): it leaks nothing.
    (More than an earlier test in the process may have freed but left resident.)"""

    weights = b""

    def act_batch(self, observations):
        self.weights = self.weights or bytearray(b"\1") * (300 * 2**20)
        return super().act_batch(observations)


@pytest.mark.slow
def test_an_agent_that_leaks_memory_is_rebuilt_and_every_unit_finishes(tmp_path):
    out, built = tmp_path / "run", 0

    def build() -> LeakyRandom:
        nonlocal built
        built += 1  # counted, not kept: a reference here would keep its leak alive
        return LeakyRandom(seed=built, leak_mb=1)

    limit = baseline_mb() + 160  # about 160 steps of leaking (the world itself grows some MB);
    # an episode takes at most 80
    metrics = evaluate(LocalPool(build(), rebuild=build), config(out, agent_memory_mb=limit))
    assert built >= 2  # rebuilt
    assert resident_mb() < limit  # what each dropped agent held was freed
    keys = [r["key"] for r in records(out)]
    assert len(keys) == len(set(keys)) == UNITS
    # the units in flight at a rebuild started over and finished with the new agent
    assert metrics["counts"]["agent_errors"] == 0


def test_units_cut_short_start_over_once_and_are_recorded_if_cut_again(tmp_path):
    """lockstep with a scripted checkup: rebuilds at chosen steps, no memory needed."""
    run = RunConfig(envs=ENVS, seeds=SEEDS, out=tmp_path, batch_size=2)
    agent = OracleAgent()
    work = rollout_factories(run, [], AgentInfo.of(agent))
    steps, ended, fired = 0, [], []  # fired: how many units had ended at each rebuild

    def checkup() -> str | None:
        nonlocal steps
        steps += 1
        again = len(fired) == 1 and len(ended) > fired[0]  # a unit ended since the first
        if steps == 3 or again:
            fired.append(len(ended))
            return "memory: scripted"
        return None

    for rollout in lockstep(lambda: agent, work.values(), 2, None, checkup):
        ended.append(rollout.record())
    assert len(fired) == 2
    assert sorted(r.key for r in ended) == sorted(work)  # every unit once
    cut_twice = [r for r in ended if r.error == "memory: scripted"]
    assert cut_twice and all(r.outcome == "agent_error" for r in cut_twice)
    # cut short once, started over from its seed: the same episode as without any rebuild
    clean = {r.key: r for r in map(Rollout.record, lockstep(lambda: agent, work.values(), 2, None))}
    for record in ended:
        if record not in cut_twice:
            assert record.actions == clean[record.key].actions
            assert record.outcome == clean[record.key].outcome


@pytest.mark.slow
def test_an_agent_that_needs_more_than_the_limit_stops_the_run_with_one_line(tmp_path):
    """A limit below the agent's working size: a rebuild cannot help, and no unit ends
    between two rebuilds; nothing is recorded as a failure, so a higher limit resumes."""
    out = tmp_path / "run"
    limit = baseline_mb() + 30
    with pytest.raises(MmsafeError, match="second time with no unit ended") as stopped:
        evaluate(LocalPool(WorkingSet(), rebuild=WorkingSet), config(out, agent_memory_mb=limit))
    assert "\n" not in str(stopped.value) and "raise the limit" in str(stopped.value)
    assert records(out) == []
    evaluate(LocalPool(WorkingSet(), rebuild=WorkingSet), config(out, agent_memory_mb=limit * 9))
    assert len(records(out)) == UNITS


@pytest.mark.slow
def test_a_leak_that_rebuilding_does_not_free_stops_the_run_and_the_rerun_finishes(tmp_path):
    out = tmp_path / "run"
    limit = baseline_mb() + 100

    def build() -> GlobalLeakyRandom:
        return GlobalLeakyRandom(leak_mb=2)

    try:
        with pytest.raises(MmsafeError, match="still holds .* with the agent rebuilt: ") as stopped:
            evaluate(LocalPool(build(), rebuild=build), config(out, agent_memory_mb=limit))
        assert "\n" not in str(stopped.value) and "same command to resume" in str(stopped.value)
    finally:
        HOARD.clear()  # what a fresh process starts without
    before = [r["key"] for r in records(out)]
    assert len(before) < UNITS
    evaluate(LocalPool(build(), rebuild=build), config(out, agent_memory_mb=limit * 9))
    HOARD.clear()
    keys = [r["key"] for r in records(out)]
    assert keys[: len(before)] == before and len(keys) == len(set(keys)) == UNITS


def test_a_rebuild_that_fails_stops_the_run_with_one_line(tmp_path):
    def cannot() -> RandomAgent:
        raise RuntimeError("CUDA out of memory.\nTried to allocate 2.00 GiB")

    with pytest.raises(MmsafeError, match="rebuilding the agent failed .*CUDA out of") as stopped:
        evaluate(
            LocalPool(LeakyRandom(leak_mb=2), rebuild=cannot),
            config(tmp_path, agent_memory_mb=baseline_mb() + 20),
        )
    assert "\n" not in str(stopped.value)


def test_a_leaking_agent_that_cannot_be_rebuilt_stops_the_run_with_one_line(tmp_path):
    with pytest.raises(MmsafeError, match="cannot be rebuilt here") as stopped:
        evaluate(LeakyRandom(leak_mb=2), config(tmp_path, agent_memory_mb=baseline_mb() + 20))
    assert "\n" not in str(stopped.value)


@pytest.mark.slow
def test_mmsafe_eval_rebuilds_an_agent_that_outgrows_agent_memory_mb(tmp_path):
    out, births = tmp_path / "run", tmp_path / "births"
    births.mkdir()
    done = subprocess.run(
        mmsafe_cmd("eval", *LEAKY_EVAL, f"+agent.births={births}", "progress=false", f"out={out}"),
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert len(list(births.iterdir())) >= 2  # built, then rebuilt
    done_units = records(out)
    assert len(done_units) == len({r["key"] for r in done_units}) == LEAKY_UNITS
    assert not [r for r in done_units if r["outcome"] == "agent_error"]  # restarted, finished
    assert "rebuilt" in done.stderr  # the user is told
