"""`runner=ray`: the same run directory, records and metrics as the local runner, on Ray."""

from __future__ import annotations

import builtins
import importlib.util
import os
from collections import Counter
from pathlib import Path

import pytest

from mmsafe.agents import RandomAgent
from mmsafe.cli import run_one
from mmsafe.config import (
    agent_identity,
    agent_spec,
    check_overrides,
    compose_config,
    run_config,
    runner_config,
)
from mmsafe.core import MmsafeError, episode_key
from mmsafe.run.distributed import RayPool, RunnerConfig, require_ray
from mmsafe.run.runner import evaluate
from mmsafe.run.units import env_units

from .conftest import known_ids, read_episodes, run_mmsafe

pytestmark = pytest.mark.slow
needs_ray = pytest.mark.skipif(
    importlib.util.find_spec("ray") is None, reason="runner=ray needs ray (mmsafe[ray])"
)


class CrashOnce(RandomAgent):
    """A random walker whose process dies mid-episode while `flag` exists (it removes it)."""

    def __init__(self, seed: int = 0, terminal_actions: bool = False, flag: str = "", at: str = ""):
        super().__init__(seed, terminal_actions)
        self.flag, self.at = Path(flag), at

    def act(self, observation):
        if observation.episode_id == self.at and observation.step == 2 and self.flag.exists():
            self.flag.unlink()
            os._exit(3)
        return super().act(observation)


@needs_ray
def test_more_than_the_cluster_holds_is_one_line():
    """Before the module's cluster starts, the pool starts its own and checks it (a local
    cluster never grows); with a cluster already up, the workers time out being placed."""
    settings = RunnerConfig(name="ray", workers=2, cpus_per_worker=4096, start_timeout_s=5)
    pattern = r"2 (workers x 4096 CPU but this machine's Ray cluster has|Ray workers of 4096 CPU)"
    with pytest.raises(MmsafeError, match=pattern):
        RayPool(settings, agent_spec(compose_config([])))


@pytest.fixture(scope="module")
def cluster():
    """One small local Ray cluster for the module; pools join it rather than start their own."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR")
    yield ray
    ray.shutdown()


def evaluate_with(runner: str, out: Path, *overrides: str) -> dict:
    cfg = compose_config([f"runner={runner}", f"out={out}", "progress=false", *overrides])
    return run_one(cfg)


def units_of(*overrides: str) -> list[str]:
    """The keys of the episodes `mmsafe eval OVERRIDES` runs, in the run's order: every seed of
    every arm of every env."""
    config = run_config(compose_config(list(overrides)))
    return [unit.key for unit in env_units(config.envs, config.seeds, config.env_kwargs)]


def content(out: Path) -> dict[str, dict]:
    """Records by key without their timings, and without the violation clip, which names the
    first episode of an env to finish with a cost (an order that differs between runners)."""
    records = {}
    for record in read_episodes(out):
        record.pop("duration_s")
        record.pop("video")
        records[record["key"]] = record
    return records


@needs_ray
@pytest.mark.parametrize(
    "agent", [["agent=oracle"], ["agent=reckless"], ["agent=random", "agent.seed=7"]]
)
def test_ray_gives_the_local_runners_records_metrics_and_identity(cluster, tmp_path, agent):
    common = ["suite=foundation", "seeds=3", "batch_size=3", *agent]  # 18 units: 6 arms
    local = evaluate_with("local", tmp_path / "local", *common)
    ray = evaluate_with("ray", tmp_path / "ray", *common)
    assert ray == local
    assert content(tmp_path / "ray") == content(tmp_path / "local")
    for name in ("metrics.json", "run.json"):  # resume needs the same identity under both
        assert (tmp_path / "ray" / name).read_text() == (tmp_path / "local" / name).read_text()


@needs_ray
def test_media_tasks_run_on_ray_like_locally(cluster, tmp_path):
    common = ["suite=foundation", "suite.tasks=[SituationalPairs,SycophancyFlip]", "seeds=2"]
    local = evaluate_with("local", tmp_path / "local", "agent=random", *common)
    ray = evaluate_with("ray", tmp_path / "ray", "agent=random", *common)
    assert ray == local and ray["per_task"]
    records = content(tmp_path / "ray")
    assert records == content(tmp_path / "local")
    assert sum("#sample=" in key for key in records) > 10


@needs_ray
def test_a_local_run_resumes_on_ray_with_every_unit_once_and_progress_for_each(cluster, tmp_path):
    out = tmp_path / "run"
    evaluate_with("local", out, "agent=random", "suite=foundation", "seeds=1")
    on_disk = len(read_episodes(out))
    cfg = compose_config(["agent=random", "suite=foundation", "seeds=3", "runner=ray"])
    config = run_config(cfg).model_copy(update={"out": out})
    pool = RayPool(runner_config(cfg), agent_spec(cfg))
    seen = []
    try:
        metrics = evaluate(pool, config, agent_identity(cfg), on_episode=seen.append)
    finally:
        pool.close()
    keys = [record["key"] for record in read_episodes(out)]
    units = units_of("suite=foundation", "seeds=3")
    assert 0 < on_disk < len(units) // 2  # a third on disk: the rest run on Ray
    assert sorted(keys) == sorted(units) and set(Counter(keys).values()) == {1}
    assert sorted(r.key for r in seen) == sorted(keys)  # those on disk, then those run on Ray
    assert metrics["overall"]["success"]["n"] == len(units)
    assert cluster.is_initialized()  # a pool leaves a cluster it did not start running


@needs_ray
def test_a_worker_that_dies_loses_only_its_units_and_the_rerun_finishes(cluster, tmp_path):
    flag = tmp_path / "crash"
    flag.touch()
    out = tmp_path / "run"
    crash = episode_key("mmsafe/HazardLava-v1", 2, "passable")  # the run's third unit
    (shown,) = known_ids(out, [crash])  # the id the agent will see
    args = [
        "agent=random",
        f"agent._target_={__name__}.CrashOnce",
        f"+agent.flag={flag}",
        f"+agent.at={shown}",
        "suite=foundation",
        "seeds=4",
        "batch_size=4",
    ]
    units = units_of("suite=foundation", "seeds=4")
    assert len(units) == 24 and units.index(crash) == 2
    with pytest.raises(MmsafeError) as failed:
        evaluate_with("ray", out, *args)
    message = str(failed.value)
    assert "died" in message and crash in message
    assert "rerun the same command" in message and "\n" not in message
    saved = read_episodes(out)
    assert 8 <= len(saved) <= 20  # the other worker ran on; only the dead one's batch is lost
    assert crash not in {record["key"] for record in saved}
    assert not (out / "metrics.json").exists()
    evaluate_with("ray", out, *args)
    keys = [record["key"] for record in read_episodes(out)]
    assert sorted(keys) == sorted(units) and set(Counter(keys).values()) == {1}


@needs_ray
def test_an_agent_a_worker_cannot_build_is_one_line(cluster, tmp_path):
    with pytest.raises(MmsafeError, match=r"^agent 'hf' needs agent\.model=\.\.\.$"):
        evaluate_with("ray", tmp_path, "agent=hf", "suite=foundation", "seeds=1")


@needs_ray
@pytest.mark.parametrize(
    "override, message",
    [
        ("runner.address=127.0.0.1:9", "cannot reach the Ray cluster at 127.0.0.1:9"),
        ("runner.address=nowhere", "is not auto, HOST:PORT or ray://HOST:PORT"),
    ],
)
def test_a_cluster_that_cannot_serve_is_one_line(tmp_path, cli_env, override, message):
    cli_env.pop("RAY_ADDRESS", None)
    args = ["eval", "runner=ray", override, "suite=foundation", "seeds=1", f"out={tmp_path}"]
    done = run_mmsafe(*args, env=cli_env, timeout=120)
    error = [line for line in done.stderr.splitlines() if line.startswith("mmsafe: error")]
    assert done.returncode == 2 and len(error) == 1 and message in error[0], done.stderr


def test_without_ray_runner_ray_says_how_to_install_it(monkeypatch, tmp_path):
    real_import = builtins.__import__

    def no_ray(name, *args, **kwargs):
        if name == "ray" or name.startswith("ray."):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    hint = "runner=ray needs Ray: pip install 'mmsafe[ray]'"
    with pytest.raises(MmsafeError, match=r"pip install 'mmsafe\[ray\]'$"):
        require_ray()
    with pytest.raises(MmsafeError) as failed:
        check_overrides(["runner=ray", "suite=foundation", "seeds=1", f"out={tmp_path}"])
    assert str(failed.value) == hint
    check_overrides(["runner=local", "suite=foundation", "seeds=1", f"out={tmp_path}"])


@needs_ray
def test_a_ray_worker_rebuilds_an_agent_that_outgrows_agent_memory_mb(cluster, tmp_path):
    """Each worker watches its own process."""
    from .reliability.small_runs import LEAKY_EVAL

    out, births = tmp_path / "run", tmp_path / "births"
    births.mkdir()
    # half LEAKY_EVAL's seeds (24 units: 2 arms of each scenario), stepped 4 at a time rather
    # than 8, so that each worker's agent still takes enough steps to outgrow the limit
    resized = ("seeds=", "batch_size=")
    args = [*(a for a in LEAKY_EVAL if not a.startswith(resized)), "seeds=4", "batch_size=4"]
    evaluate_with("ray", out, *args, f"+agent.births={births}")
    assert len(list(births.iterdir())) >= 3  # two workers' agents, and a rebuild
    records = read_episodes(out)
    keys = [r["key"] for r in records]
    assert sorted(keys) == sorted(units_of("suite=foundation", "seeds=4"))
    assert not [r for r in records if r["outcome"] == "agent_error"]


@needs_ray
def test_an_agent_that_only_fails_on_ray_stops_the_run_and_the_rerun_finishes(cluster, tmp_path):
    out, down = tmp_path / "run", tmp_path / "server-down"
    down.touch()
    args = ["agent=random", "agent._target_=tests.slow_agents.DownWhileFlagged",
            f"+agent.flag={down}", "max_agent_failures=4", "suite=foundation", "seeds=2",
            "judge=[]"]  # fmt: skip
    with pytest.raises(MmsafeError, match="failed on 4 units in a row") as stopped:
        evaluate_with("ray", out, *args)
    assert "connection refused by localhost:9" in str(stopped.value)
    assert read_episodes(out) == []  # the failed streak is held back, not recorded
    down.unlink()  # the server is back
    evaluate_with("ray", out, *args)
    keys = [r["key"] for r in read_episodes(out)]
    assert sorted(keys) == sorted(units_of("suite=foundation", "seeds=2"))  # each once
