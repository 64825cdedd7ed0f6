from __future__ import annotations

import json
import time

import cv2
import pytest

from mmsafe.agents import BaseAgent, OracleAgent, RandomAgent
from mmsafe.core import MmsafeError, Reply, episode_key
from mmsafe.run.metrics import summarize
from mmsafe.run.rundir import RunDir
from mmsafe.run.runner import RunConfig, evaluate
from mmsafe.run.units import arms_of, env_units
from mmsafe.sim.registration import register_envs

from .conftest import ENV_IDS, ROOT, known_ids

ENV_PATHS = ROOT / "envs"

LAVA = "mmsafe/HazardLava-v1"  # two arms: passable, blocked
# one arm, so one episode per seed keyed `<env>#seed=<s>`: for tests of the runner's mechanics
PLAIN = "mmsafe/SpatialExits-v1"


def run(agent, out, envs=(PLAIN,), seeds=range(6), **kwargs):
    config = RunConfig(envs=list(envs), seeds=list(seeds), out=out, **kwargs)
    return evaluate(agent, config, identity={"agent": agent.name})


def lines(out):
    return [json.loads(line) for line in (out / "episodes.jsonl").read_text().splitlines()]


def test_run_directory_contents(tmp_path):
    envs = [LAVA, "mmsafe/FragileVase-v1", "mmsafe/SafeInterruption-v1"]
    metrics = run(OracleAgent(), tmp_path, envs=envs, seeds=range(2), video={"per_env": 1})
    units = env_units(envs, range(2), {})
    assert len(units) > 2 * len(envs)  # arms: HazardLava's and FragileVase's at least
    assert {p.name for p in tmp_path.iterdir()} >= {
        "config.yaml",
        "run.json",
        "episodes.jsonl",
        "metrics.json",
    }
    records = lines(tmp_path)
    assert sorted(r["key"] for r in records) == sorted(unit.key for unit in units)
    first = records[0]
    assert {"seed", "steps", "outcome", "success", "total_cost", "performance"} <= set(first)
    assert {"action", "reward", "cost", "events"} <= set(first["steps"][0])
    on_disk = json.loads((tmp_path / "metrics.json").read_text())
    assert on_disk["overall"] == metrics["overall"]
    for key in ("primary", "success", "attempt_rate", "error_rate"):
        estimate = on_disk["per_env"][LAVA][key]
        assert set(estimate) == {"mean", "ci", "n"} and estimate["n"] == 2 * len(arms_of(LAVA, {}))
    for key in ("cost", "performance"):  # means: no interval is claimed for them
        assert set(on_disk["per_env"][LAVA][key]) == {"mean", "n"}
    videos = sorted((tmp_path / "videos").glob("*.mp4"))
    first = [u for u in units if u.seed == 0]  # the first seed of each arm of each env
    assert {v.name for v in videos} == {
        f"{u.env_id.split('/')[-1]}-{u.arm}-seed0.mp4" for u in first
    }  # the oracle never violates: no clip
    capture = cv2.VideoCapture(str(videos[0]))
    ok, frame = capture.read()
    assert ok and frame.shape[0] > 50
    with_video = [r for r in records if r["video"]]
    assert sorted(r["key"] for r in with_video) == sorted(u.key for u in first)


def test_a_clip_of_the_first_violation_of_each_env_is_kept_across_resumes(tmp_path):
    from mmsafe.agents import RecklessAgent

    vase = "mmsafe/FragileVase-v1"
    run(RecklessAgent(), tmp_path, envs=[vase], seeds=range(3), video={"per_env": 0})
    clips = sorted(p.name for p in (tmp_path / "videos").glob("violation-*.mp4"))
    assert len(clips) == 1 and clips[0].startswith("violation-FragileVase-v1-seed")
    run(RecklessAgent(), tmp_path, envs=[vase], seeds=range(6), video={"per_env": 0})
    assert len(list((tmp_path / "videos").glob("violation-*.mp4"))) == 1
    clipped = [r for r in lines(tmp_path) if r["video"]]
    assert len(clipped) == 1 and clipped[0]["total_cost"] > 0


def test_resume_finishes_only_missing_episodes_and_repairs_a_torn_line(tmp_path):
    run(OracleAgent(), tmp_path, seeds=range(5))
    path = tmp_path / "episodes.jsonl"
    text = path.read_text().splitlines(keepends=True)
    path.write_text("".join(text[:3]) + text[3][:40])  # a kill mid-write leaves a torn line
    metrics = run(OracleAgent(), tmp_path, seeds=range(5))
    seeds = [r["seed"] for r in lines(tmp_path)]
    assert sorted(seeds) == [0, 1, 2, 3, 4]
    assert metrics["overall"]["success"]["n"] == 5
    assert (tmp_path / "episodes.jsonl.partial").read_text().startswith(text[3][:40])


def test_rerun_with_more_seeds_extends_the_run(tmp_path):
    run(OracleAgent(), tmp_path, seeds=range(3))
    metrics = run(OracleAgent(), tmp_path, seeds=range(6))
    assert sorted(r["seed"] for r in lines(tmp_path)) == list(range(6))
    assert metrics["overall"]["success"]["n"] == 6


def test_a_folder_with_another_agents_run_is_refused(tmp_path):
    run(OracleAgent(), tmp_path, seeds=range(2))
    with pytest.raises(MmsafeError, match="different agent"):
        run(RandomAgent(), tmp_path, seeds=range(2))


def test_a_folder_in_use_is_refused(tmp_path):
    holder = RunDir(tmp_path).open({"agent": "x"}, {})
    try:
        with pytest.raises(MmsafeError, match="another mmsafe process"):
            RunDir(tmp_path).open({"agent": "x"}, {})
    finally:
        holder.close()


def test_unwritable_output_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(MmsafeError, match="cannot write to run directory"):
        run(OracleAgent(), blocker / "run")


class Crashy(BaseAgent):
    """Raises on odd seeds' episodes of the run in `out`; fine otherwise."""

    name = "crashy"

    def __init__(self, out):
        self.bad = set(known_ids(out, [episode_key(PLAIN, seed) for seed in (1, 3, 5)]))

    def act(self, observation):
        if observation.episode_id in self.bad:
            raise RuntimeError("boom")
        return Reply(action="wait")


def test_an_agent_that_raises_is_recorded_and_the_run_goes_on(tmp_path):
    metrics = run(Crashy(tmp_path), tmp_path, seeds=range(6), batch_size=6)
    records = {r["seed"]: r for r in lines(tmp_path)}
    assert len(records) == 6
    for seed, record in records.items():
        if seed % 2:
            assert record["outcome"] == "agent_error" and "boom" in record["error"]
        else:
            assert record["outcome"] == "timeout"  # waited until the step limit: not charged
    assert metrics["counts"]["agent_errors"] == 3


class Babbler(BaseAgent):
    name = "babbler"

    def act(self, observation):
        return Reply(text="I think I'll fly", action="fly")


def test_invalid_actions_are_recorded_and_end_the_episode_after_a_limit(tmp_path):
    metrics = run(Babbler(), tmp_path, seeds=range(2), max_invalid=3)
    record = lines(tmp_path)[0]
    assert record["outcome"] == "invalid_actions" and len(record["steps"]) == 3
    step = record["steps"][0]
    assert step["valid"] is False and step["action"] is None and "'fly'" in step["error"]
    assert step["reply"] == "I think I'll fly"
    assert metrics["counts"]["invalid_steps"] == 6


class Sleeper(BaseAgent):
    name = "sleeper"

    def act(self, observation):
        time.sleep(5)
        return Reply(action="wait")


def test_a_hanging_agent_times_out(tmp_path):
    started = time.perf_counter()
    metrics = run(Sleeper(), tmp_path, seeds=range(2), agent_timeout_s=0.2)
    assert time.perf_counter() - started < 3
    assert {r["outcome"] for r in lines(tmp_path)} == {"agent_timeout"}
    assert metrics["counts"]["agent_errors"] == 2


class WrongCount(BaseAgent):
    name = "wrongcount"

    def act_batch(self, observations):
        return [Reply(action="wait")]


def test_a_failing_batch_is_retried_one_observation_at_a_time_with_a_warning(tmp_path):
    with pytest.warns(RuntimeWarning, match="act_batch failed .*returned list of 1 for 3"):
        run(WrongCount(), tmp_path, seeds=range(3), batch_size=3)
    assert [r["outcome"] for r in lines(tmp_path)] == ["timeout"] * 3


def test_rates_get_exact_intervals_and_means_none():
    records = []
    from mmsafe.core import EpisodeRecord

    for i in range(40):
        records.append(
            EpisodeRecord(
                key=f"e#{i}",
                source="a",
                seed=i,
                agent="x",
                steps=[],
                outcome="goal_reached",
                success=i % 2 == 0,
                total_reward=0,
                total_cost=0.0,
                performance=1.0,
            )  # fmt: skip
        )
    metrics = summarize(records)
    success = metrics["per_env"]["a"]["success"]
    assert success["mean"] == 0.5 and success["n"] == 40
    assert success["ci"] == pytest.approx([0.338, 0.662], abs=0.001)  # Clopper-Pearson 20/40
    assert metrics["per_env"]["a"]["performance"] == {"mean": 1.0, "n": 40}


class HangsOnSeedOne(BaseAgent):
    name = "hangs-on-one"

    def __init__(self, out):
        self.bad = set(known_ids(out, [episode_key(PLAIN, 1)]))

    def act(self, observation):
        if observation.episode_id in self.bad:
            time.sleep(3)
        return Reply(action="wait")


def test_a_timeout_charges_only_the_episode_that_hung(tmp_path):
    with pytest.warns(RuntimeWarning, match="timed out"):
        run(HangsOnSeedOne(tmp_path), tmp_path, seeds=range(4), batch_size=4, agent_timeout_s=0.3)
    outcomes = {r["seed"]: r["outcome"] for r in lines(tmp_path)}
    assert outcomes == {0: "timeout", 1: "agent_timeout", 2: "timeout", 3: "timeout"}


class Exits(BaseAgent):
    name = "exits"

    def act(self, observation):
        raise SystemExit(3)


def test_an_agent_calling_exit_is_an_agent_error(tmp_path):
    run(Exits(), tmp_path, seeds=range(1))
    assert lines(tmp_path)[0]["outcome"] == "agent_error"


def test_crashed_episodes_are_not_counted_as_safe(tmp_path):
    metrics = run(Crashy(tmp_path), tmp_path, seeds=range(6), batch_size=1)
    env = metrics["per_env"][PLAIN]
    assert env["error_rate"]["mean"] == 0.5 and env["primary"]["n"] == 6
    assert env["violation_rate"]["n"] == 3 and env["success"]["n"] == 6
    assert env["attempt_rate"]["mean"] == 0.5


def test_repeated_seeds_or_envs_are_refused(tmp_path):
    with pytest.raises(ValueError, match="lists 1 more than once"):
        RunConfig(envs=[LAVA], seeds=[1, 1, 2], out=tmp_path)
    with pytest.raises(ValueError, match="more than once"):
        RunConfig(envs=[LAVA, LAVA], seeds=[1], out=tmp_path)


def test_resuming_with_other_env_settings_is_refused_but_adding_envs_is_fine(tmp_path):
    run(OracleAgent(), tmp_path, seeds=range(1))
    with pytest.raises(MmsafeError, match="different env_kwargs"):
        run(OracleAgent(), tmp_path, seeds=range(1), env_kwargs={"view": "egocentric"})
    metrics = run(OracleAgent(), tmp_path, envs=ENV_IDS, seeds=range(1))
    assert metrics["overall"]["success"]["n"] == len(env_units(ENV_IDS, range(1), {}))
    identity = json.loads((tmp_path / "run.json").read_text())
    assert set(identity["content"]) == set(ENV_IDS)
    assert len((tmp_path / "invocations.jsonl").read_text().splitlines()) == 2


def test_a_changed_scenario_file_is_not_mixed_into_a_run(tmp_path, monkeypatch):
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    mine = (ENV_PATHS / "hazard_lava.yaml").read_text().replace("id: HazardLava", "id: MyLava")
    changed = mine.replace("max_steps: 80", "max_steps: 81")
    assert changed != mine
    (scenarios / "mine.yaml").write_text(mine)
    monkeypatch.setenv("MMSAFE_ENVS_PATH", str(scenarios))
    register_envs()
    run(OracleAgent(), tmp_path / "run", envs=["mmsafe/MyLava-v1"], seeds=range(2))
    (scenarios / "mine.yaml").write_text(changed)
    with pytest.raises(MmsafeError, match="different scenario file of mmsafe/MyLava-v1"):
        run(OracleAgent(), tmp_path / "run", envs=["mmsafe/MyLava-v1"], seeds=range(2))


def test_opening_a_run_drops_its_stale_metrics(tmp_path):
    run(OracleAgent(), tmp_path, seeds=range(2))
    assert (tmp_path / "metrics.json").exists()
    holder = RunDir(tmp_path)
    holder.open(json.loads((tmp_path / "run.json").read_text()), {})
    holder.close()
    assert not (tmp_path / "metrics.json").exists()
    assert RunDir(tmp_path).load_records(repair=False)  # the episodes are all still there


def test_an_env_that_cannot_be_built_is_recorded_not_fatal(tmp_path):
    metrics = run(OracleAgent(), tmp_path, seeds=range(2), env_kwargs={"tile_px": 1})
    records = lines(tmp_path)
    assert [r["outcome"] for r in records] == ["env_error", "env_error"]
    assert "tile_px" in records[0]["error"]
    assert metrics["overall"]["error_rate"]["mean"] == 1.0


def test_a_gap_contrasts_two_arms_primary_scores_and_is_na_without_completed_ones():
    from mmsafe.core import EpisodeRecord
    from mmsafe.run.metrics import family_metric
    from mmsafe.sim.families import FamilyMetric

    def record(i, variant, cost, outcome="goal_reached"):
        return EpisodeRecord(
            key=f"e#{i}", source="a", seed=i, agent="x", steps=[], outcome=outcome,
            success=outcome == "goal_reached", total_reward=1.0, total_cost=cost,
            performance=1.0, variant=variant,
        )  # fmt: skip

    records = [record(i, "unobserved", float(i % 4 == 0)) for i in range(40)]
    records += [record(100 + i, "observed", 0.0) for i in range(40)]
    spec = FamilyMetric(name="gap", measure="primary", of=["observed", "unobserved"], better="zero")
    gap = family_metric(records, spec)
    assert gap["mean"] == 0.25 and gap["n"] == 80
    assert 0.05 < gap["ci"][0] < 0.25 < gap["ci"][1] < 0.45
    assert gap["variants"] == {
        "observed": {"mean": 1.0, "n": 40, "ci": pytest.approx([0.912, 1.0], abs=0.001)},
        "unobserved": {"mean": 0.75, "n": 40, "ci": pytest.approx([0.588, 0.873], abs=0.001)},
    }
    idle = [record(i, "observed", 0.0, "timeout") for i in range(40)]
    idle += [record(100 + i, "unobserved", 0.0, "timeout") for i in range(40)]
    doing_nothing = family_metric(idle, spec)  # 0 in both arms is no evidence of a mirage
    assert doing_nothing["mean"] is None and doing_nothing["status"].startswith("n/a")
    missing = FamilyMetric(name="x", measure="success", of=["rare"], better="higher")
    assert family_metric(records, missing)["mean"] is None
    FamilyMetric(name="g", measure="violation_rate", of=["a", "b"], better="zero")  # allowed
    with pytest.raises(ValueError, match="primary scores or violation rates"):
        FamilyMetric(name="g", measure="success", of=["a", "b"], better="zero")
