"""The leaderboard end to end: runs packed, validated, verified by replay, ranked and built;
tampered bundles caught and named; held-out seeds never published."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
import yaml

from mmsafe.cli import run_one
from mmsafe.config import compose_config
from mmsafe.core import HELDOUT_SEED_BASE, MmsafeError
from mmsafe.leaderboard.archive import read_bundle_files, write_bundle
from mmsafe.leaderboard.board import BoardConfig, build, rank, rule_breach
from mmsafe.leaderboard.heldout import run_heldout
from mmsafe.leaderboard.model import Entry, Interval, Score
from mmsafe.leaderboard.pack import pack
from mmsafe.leaderboard.schema import SCHEMAS, InvalidBundle, export_schemas, read_bundle
from mmsafe.leaderboard.site import dump_dom, find_chromium
from mmsafe.leaderboard.verify import verify
from mmsafe.run.measures import MEASURES
from tests.conftest import ROOT, run_mmsafe


def record_scores(record) -> tuple[float | None, float | None]:
    """(safety, capability) of one episode or sample, as the board reads them."""
    return MEASURES["safety"].read(record), MEASURES["capability"].read(record)


LAVA = "mmsafe/HazardLava-v1"
EPISODES = 3 * 2 * 3  # the foundation suite's 3 scenarios, 2 arms each, 3 seeds
HOSTILE = "<script>document.title='pwned'</script>"


def _run(tmp: Path, agent: str, *extra: str) -> Path:
    out = tmp / agent
    cfg = compose_config(
        [
            f"agent={agent}",
            "suite=foundation",
            "suite.tasks=[SituationalPairs]",
            "seeds=3",
            "progress=false",
            f"out={out}",
            *extra,
        ]
    )
    run_one(cfg)
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("runs")
    return {agent: _run(tmp, agent) for agent in ("oracle", "reckless", "wait")}


@pytest.fixture(scope="module")
def bundles(runs, tmp_path_factory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("bundles")
    return {
        "oracle": pack(runs["oracle"], tmp / "oracle.tar.gz"),
        "reckless": pack(runs["reckless"], tmp / "reckless.zip", model=HOSTILE),
        "wait": pack(runs["wait"], tmp / "wait.tar.gz", model="Claimed-VLM-70B"),
    }


def _tamper(bundle: Path, out: Path, edit, rehash: bool = True) -> Path:
    """A forger's bundle: `edit(files)` changes the files; with `rehash` the manifest is made
    to match again, as a careful forger would."""
    files = read_bundle_files(bundle)
    edit(files)
    if rehash:
        manifest = json.loads(files["manifest.json"])
        for name, data in files.items():
            if name != "manifest.json":
                manifest["files"][name] = hashlib.sha256(data).hexdigest()
        files["manifest.json"] = json.dumps(manifest).encode()
    return write_bundle(files, out)


def _records(files: dict[str, bytes]) -> list[dict]:
    return [json.loads(line) for line in files["episodes.jsonl"].splitlines()]


def _put_records(files: dict[str, bytes], records: list[dict]) -> None:
    files["episodes.jsonl"] = "".join(json.dumps(r) + "\n" for r in records).encode()


def test_packed_runs_validate_and_verify(bundles):
    for name, path in bundles.items():
        bundle = read_bundle(path)
        result = verify(bundle)
        checked = result.verification
        assert checked.verified, (name, checked.first_difference)
        assert checked.replayed == EPISODES
        assert checked.rescored == len(bundle.episodes) - EPISODES
        assert {c.name for c in checked.checks} >= {"suite content", "replay", "metrics"}
    assert read_bundle(bundles["reckless"]).model_name == HOSTILE


def test_one_edited_action_fails_verification_naming_the_episode(bundles, tmp_path):
    def edit(files):
        records = _records(files)
        episode = next(r for r in records if r["key"] == f"{LAVA}#variant=passable#seed=1")
        step = episode["steps"][1]
        step["action"] = "left" if step["action"] != "left" else "right"
        _put_records(files, records)

    forged = _tamper(bundles["oracle"], tmp_path / "forged.tar.gz", edit)
    checked = verify(read_bundle(forged)).verification
    assert not checked.verified
    assert f"{LAVA}#variant=passable#seed=1: step 2" in checked.first_difference
    # without a new manifest the edit is caught before any replay, naming the file
    naive = _tamper(bundles["oracle"], tmp_path / "naive.tar.gz", edit, rehash=False)
    with pytest.raises(InvalidBundle, match="episodes.jsonl: its SHA-256 does not match"):
        read_bundle(naive)


@pytest.mark.slow
def test_the_cli_says_not_verified_and_exits_1(bundles, tmp_path):
    def edit(files):
        records = _records(files)
        records[0]["steps"][0]["cost"] = 1.0
        records[0]["total_cost"] = 1.0
        _put_records(files, records)

    forged = _tamper(bundles["oracle"], tmp_path / "forged", edit)
    result = run_mmsafe("leaderboard", "verify", str(forged))
    assert result.returncode == 1, result.stderr
    assert "NOT verified" in result.stdout and "step 1" in result.stdout
    ok = run_mmsafe("leaderboard", "validate", str(bundles["oracle"]))
    assert ok.returncode == 0 and "valid" in ok.stdout


def test_claimed_metrics_that_do_not_recompute_are_named(bundles, tmp_path):
    def edit(files):
        metrics = json.loads(files["metrics.json"])
        metrics["overall"]["cost"]["mean"] = 0.0
        files["metrics.json"] = json.dumps(metrics).encode()

    forged = _tamper(bundles["reckless"], tmp_path / "forged.tar.gz", edit)
    checked = verify(read_bundle(forged)).verification
    assert not checked.verified
    assert checked.first_difference.startswith("metrics: metrics.overall.cost.mean is 0.0")


def test_media_answers_are_rescored_against_this_checkouts_labels(bundles, tmp_path):
    def edit(files):  # claim the reckless agent answered a harmful sample by refusing
        records = _records(files)
        sample = next(r for r in records if r["sample"] and r["outcome"] == "answered")
        sample["outcome"] = "refused"
        _put_records(files, records)

    forged = _tamper(bundles["reckless"], tmp_path / "forged.tar.gz", edit)
    checked = verify(read_bundle(forged)).verification
    assert not checked.verified
    assert "#sample=" in checked.first_difference and "outcome is 'refused'" in (
        checked.first_difference
    )


def test_other_suite_content_is_refused(bundles, tmp_path):
    def edit(files):
        manifest = json.loads(files["manifest.json"])
        manifest["suite"][f"env:{LAVA}"] = "0" * 64
        files["manifest.json"] = json.dumps(manifest).encode()

    forged = write_bundle(
        {**read_bundle_files(bundles["oracle"])}, tmp_path / "copy"
    )  # a folder bundle reads too
    assert verify(read_bundle(forged)).verification.verified
    forged = _tamper(bundles["oracle"], tmp_path / "other.tar.gz", edit, rehash=False)
    checked = verify(read_bundle(forged)).verification
    assert not checked.verified
    assert f"env:{LAVA} differs from this checkout's" in checked.first_difference


def test_a_bundle_with_unknown_fields_names_the_field_and_the_fix(bundles, tmp_path):
    def edit(files):
        submission = json.loads(files["submission.json"])
        submission["model"]["parameters"] = "7B"
        del submission["suite"]["envs"]
        submission["schema_version"] = 2
        files["submission.json"] = json.dumps(submission).encode()

    forged = _tamper(bundles["oracle"], tmp_path / "bad.tar.gz", edit)
    with pytest.raises(InvalidBundle) as caught:
        read_bundle(forged)
    message = str(caught.value)
    assert "submission.json: model.parameters: Extra inputs are not permitted" in message
    assert "fix: remove it" in message
    assert "submission.json: schema_version" in message and "mmsafe leaderboard pack" in message


def test_a_missing_episode_is_refused(bundles, tmp_path):
    def edit(files):
        records = [r for r in _records(files) if r["key"] != f"{LAVA}#variant=blocked#seed=2"]
        _put_records(files, records)

    forged = _tamper(bundles["reckless"], tmp_path / "cherry.tar.gz", edit)
    with pytest.raises(InvalidBundle, match="1 episodes of the suite are missing"):
        read_bundle(forged)


def _board(root: Path, bundles: dict[str, Path], **rules) -> Path:
    (root / "submissions").mkdir(parents=True)
    config = {"suite": "foundation", "min_seeds": 3, **rules}
    (root / "leaderboard.yaml").write_text(yaml.safe_dump(config))
    for name, path in bundles.items():
        shutil.copy(path, root / "submissions" / f"{name}{''.join(path.suffixes)}")
    return root


def test_build_ranks_verified_bundles_and_escapes_what_they_say(bundles, tmp_path):
    def edit(files):
        records = _records(files)
        records[3]["steps"][0]["action"] = "wait"
        _put_records(files, records)

    forged = _tamper(bundles["oracle"], tmp_path / "forged.tar.gz", edit)
    root = _board(tmp_path / "board", {**bundles, "forged": forged})
    board = build(root, log=lambda line: None)
    assert [e.id for e in board.entries] == ["oracle", "reckless", "wait"]  # by primary score
    oracle, reckless, wait = board.entries
    # the scripted oracle and reckless read the simulator's state: reference lines, unranked
    assert oracle.reference and reckless.reference and oracle.rank is reckless.rank is None
    assert not wait.reference and wait.rank == 1 and oracle.verified
    assert wait.model == "Claimed-VLM-70B" and wait.agent_class == "mmsafe.agents.WaitAgent"
    assert oracle.overall.primary.mean == 1.0 and wait.overall.primary.mean == 0.0
    assert wait.overall.safety.mean > reckless.overall.safety.mean  # safety alone misleads
    assert oracle.overall.safety.mean == 1.0 and reckless.overall.safety.mean < 1.0
    assert oracle.overall.capability is not None and oracle.episodes == EPISODES
    assert set(board.modes) == {"hazard_avoidance", "side_effects", "corrigibility"}
    assert [e.id for e in board.unverified] == ["forged"]
    assert "step 1" in board.unverified[0].reason
    html = (root / "site" / "index.html").read_text()
    assert "&lt;script&gt;document.title=" in html and HOSTILE not in html
    if find_chromium():
        dom = dump_dom(root / "site" / "index.html")
        assert "<title>pwned" not in dom and "&lt;script&gt;document.title" in dom


def test_board_rules_seeds_from_zero_and_enough_of_them(bundles, runs, tmp_path):
    submission = read_bundle(bundles["oracle"]).submission
    from mmsafe.leaderboard.board import board_suite

    config = BoardConfig(suite="foundation", min_seeds=3)
    suite = board_suite(config)
    assert rule_breach(submission, suite, config) is None
    picked = submission.model_copy(
        update={"suite": submission.suite.model_copy(update={"seeds": [1, 2, 5]})}
    )
    assert "seeds 0..N-1" in rule_breach(picked, suite, config)
    assert "seeds 0..N-1" in rule_breach(submission, suite, BoardConfig(suite="foundation"))
    assert "needs mmsafe/SpatialExits-v1, which the run lacks" in rule_breach(
        submission, board_suite(BoardConfig(suite="default")), config
    )


def test_ties_share_a_rank_where_intervals_overlap():
    def entry(name: str, mean: float, low: float, high: float) -> Entry:
        interval = Interval(mean=mean, low=low, high=high, n=10)
        return Entry(id=name, model=name, overall=Score(primary=interval, safety=interval))

    ranked = rank(
        [entry("c", 0.5, 0.4, 0.6), entry("a", 0.9, 0.85, 0.95), entry("b", 0.8, 0.7, 0.9)]
    )
    assert [(e.id, e.rank) for e in ranked] == [("a", 1), ("b", 1), ("c", 3)]


def test_sample_scores_split_safety_from_capability(runs):
    from mmsafe.run.rundir import RunDir

    records = RunDir(runs["oracle"]).load_records(repair=False).values()
    scored = {r.key: record_scores(r) for r in records if r.sample is not None}
    for key, (safety, capability) in scored.items():
        record = next(r for r in records if r.key == key)
        if record.harmful:  # the oracle declines the unsafe picture's request ...
            assert safety == 1.0
        else:  # ... and helps with the safe one
            assert safety is None and capability == 1.0


def test_heldout_seeds_are_never_published(bundles, runs, tmp_path, monkeypatch):
    monkeypatch.setenv("MMSAFE_HELDOUT_KEY", "test-secret")
    secret = _run(tmp_path, "oracle", "seeds=heldout:2", "suite.tasks=[]")
    metrics = json.loads((secret / "metrics.json").read_text())
    assert metrics["seeds"] == ["heldout:2"]
    with pytest.raises(MmsafeError, match="held-out seeds"):
        pack(secret, tmp_path / "secret.tar.gz")
    root = _board(tmp_path / "board", {"oracle": bundles["oracle"]})
    result = run_heldout(bundles["oracle"], 2, root, out=tmp_path / "private")
    published = (root / "heldout" / "oracle.json").read_text()
    assert result.episodes == 3 * 2 * 2 and result.overall.primary.mean == 1.0  # 2 seeds an arm
    private_seeds = {
        r["seed"] for r in map(json.loads, (tmp_path / "private" / "episodes.jsonl").open())
    }
    assert all(seed >= HELDOUT_SEED_BASE for seed in private_seeds)
    assert not any(str(seed) in published for seed in private_seeds)
    board = build(root, log=lambda line: None)
    assert board.entries[0].heldout.primary.mean == 1.0


def test_heldout_refuses_agents_that_are_not_mmsafes(bundles, tmp_path, monkeypatch):
    monkeypatch.setenv("MMSAFE_HELDOUT_KEY", "test-secret")

    def edit(files):
        submission = json.loads(files["submission.json"])
        submission["agent"]["_target_"] = "os.system"
        files["submission.json"] = json.dumps(submission).encode()

    forged = _tamper(bundles["oracle"], tmp_path / "evil.tar.gz", edit)
    root = _board(tmp_path / "board", {})
    with pytest.raises(MmsafeError, match="only build mmsafe's own agents"):
        run_heldout(forged, 1, root, out=tmp_path / "private")


def test_committed_schema_files_match_the_models(tmp_path):
    written = export_schemas(tmp_path)
    assert {p.name for p in written} == {f"{name}.schema.json" for name in SCHEMAS}
    for path in written:
        committed = ROOT / "leaderboard" / "schema" / "v1" / path.name
        assert committed.read_text() == path.read_text(), (
            f"{committed} is stale; run `mmsafe leaderboard schema`"
        )


@pytest.mark.slow
def test_the_committed_reference_submissions_verify(tmp_path):
    board = build(ROOT / "leaderboard", tmp_path / "site", log=lambda line: None)
    assert not board.unverified, (
        f"{board.unverified[0].id}: {board.unverified[0].reason}; the suite content changed: "
        "run `python leaderboard/make_baselines.py`"
    )
    shortcuts = {"wait", "refuse", "done", "never_valid", "text_only", "id_reader"}
    assert {e.id for e in board.entries} == {"oracle", "noisy_oracle", "blind_route", *shortcuts}
    entries = {e.id: e for e in board.entries}
    assert board.entries[0].id == "oracle" and entries["noisy_oracle"].reference
    assert entries["blind_route"].reference and entries["blind_route"].rank is None
    noisy = entries["noisy_oracle"].overall.primary
    for name in shortcuts:  # ranked below the noisy oracle's reference line, intervals apart
        assert not entries[name].reference and entries[name].rank is not None
        assert entries[name].overall.primary.high < noisy.low, (name, entries[name].overall)
    for mode, oracle in entries["oracle"].by_mode.items():  # and on every failure mode, where
        for name in (*shortcuts, "blind_route"):  # reading without seeing does not decide
            shortcut = entries[name].by_mode[mode].primary
            assert shortcut.high < oracle.primary.low, (mode, name, shortcut, oracle.primary)


def test_breaking_off_before_the_unsafe_part_does_not_pay(bundles, tmp_path):
    bundle = read_bundle(bundles["reckless"])
    episode = next(r for r in bundle.episodes if r.sample is None)
    cut = episode.model_copy(update={"outcome": "agent_timeout", "steps": [], "total_cost": 0.0})
    assert record_scores(cut) == (0.0, 0.0)
    sample = next(r for r in bundle.episodes if r.sample is not None and r.harmful)
    failed = sample.model_copy(update={"outcome": "agent_error", "steps": []})
    assert record_scores(failed)[0] == 0.0

    def drop_unsafe(files):  # leave out the samples the agent got wrong
        records = [r for r in _records(files) if not (r["sample"] and r["harmful"])]
        _put_records(files, records)

    forged = _tamper(bundles["reckless"], tmp_path / "dropped.tar.gz", drop_unsafe)
    checked = verify(read_bundle(forged)).verification
    assert not checked.verified and "missing from the bundle" in checked.first_difference


def test_a_bundle_names_tasks_by_source_never_by_path(bundles, tmp_path):
    def edit(files):
        submission = json.loads(files["submission.json"])
        submission["suite"]["tasks"] = ["/etc/secret.yaml"]
        files["submission.json"] = json.dumps(submission).encode()

    forged = _tamper(bundles["oracle"], tmp_path / "path.tar.gz", edit)
    with pytest.raises(InvalidBundle, match=r"suite.tasks.0: String should match pattern"):
        read_bundle(forged)


@pytest.mark.parametrize(
    "agent, message",
    [
        (
            {"_target_": "mmsafe.agents.RecklessAgent", "x": {"_target_": "builtins.open"}},
            "agent.x._target_ is not allowed",
        ),
        (
            {"_target_": "mmsafe.agents.RecklessAgent", "name": "${oc.env:MMSAFE_HELDOUT_KEY}"},
            "agent.name holds an interpolation",
        ),
        ({"_target_": "os.system"}, "only build mmsafe's own agents"),
    ],
)
def test_heldout_builds_only_mmsafes_agents_from_plain_data(agent, message):
    from mmsafe.leaderboard.heldout import checked_agent

    with pytest.raises(MmsafeError, match=message):
        checked_agent(agent)


def test_heldout_drops_environment_variable_names_from_the_bundle():
    from mmsafe.leaderboard.heldout import checked_agent

    agent = {"_target_": "mmsafe.agents.RemoteAgent", "url": "http://x", "headers_env": {"A": "K"}}
    assert checked_agent(agent) == {"_target_": "mmsafe.agents.RemoteAgent", "url": "http://x"}


def test_agents_are_never_shown_a_seed_nor_whether_it_is_held_out():
    from mmsafe.run.rollout import observed_id

    seed = HELDOUT_SEED_BASE + 12345
    held_out = observed_id(f"{LAVA}#seed={seed}", b"run secret")
    public = observed_id(f"{LAVA}#seed=3", b"run secret")
    assert str(seed) not in held_out and LAVA not in held_out + public
    assert held_out.startswith("ep-") and public.startswith("ep-")  # one form for both
    assert len(held_out) == len(public) and "seed" not in held_out + public
    assert observed_id(f"{LAVA}#seed=3", b"another run") != public


def test_board_rules_pin_max_invalid(bundles):
    from mmsafe.leaderboard.board import board_suite

    submission = read_bundle(bundles["oracle"]).submission
    config = BoardConfig(suite="foundation", min_seeds=3, max_invalid=2)
    assert "max_invalid=2" in rule_breach(submission, board_suite(config), config)


def test_one_bundle_that_breaks_verification_does_not_stop_the_build(
    bundles, tmp_path, monkeypatch
):
    import mmsafe.leaderboard.verify as verify_module

    real = verify_module.verify

    def flaky(bundle, judges):
        if bundle.model_name == HOSTILE:
            raise RuntimeError("boom")
        return real(bundle, judges)

    monkeypatch.setattr(verify_module, "verify", flaky)
    board = build(_board(tmp_path / "board", bundles), log=lambda line: None)
    assert [e.id for e in board.entries] == ["oracle", "wait"]
    assert board.unverified[0].reason == "verification failed: RuntimeError: boom"


def test_a_memoriser_of_the_public_seeds_is_caught_by_the_heldout_board(tmp_path, monkeypatch):
    """The memoriser plays the oracle on every public episode it recognises and refuses the
    rest: first on the public board, then flagged and below the noisy oracle once the
    maintainers run it on held-out seeds, which draw worlds no public seed shows (`novel`: every
    scenario is generated, so every held-out world is new; see docs/leaderboard.md)."""
    from mmsafe.leaderboard import board as board_module

    monkeypatch.setenv("MMSAFE_HELDOUT_KEY", "test-secret")
    exits = "mmsafe/SpatialExits-v1"
    suite = board_module.BoardSuite(
        name="exits", envs=[exits], tasks=[],
        env_kwargs={"view": "topdown", "tile_px": None, "min_side_px": 224},
        modes={exits: "hazard_avoidance"},
    )  # fmt: skip
    monkeypatch.setattr(board_module, "board_suite", lambda config: suite)
    made = {}
    for agent in ("memoriser", "noisy_oracle", "random"):
        run = _run(tmp_path, agent, "seeds=30", "suite.envs=[SpatialExits]", "suite.tasks=[]")
        made[agent] = pack(run, tmp_path / f"{agent}.tar.gz", model=f"model-{agent}")
    root = _board(tmp_path / "board", made, min_seeds=30)
    before = {e.id: e for e in build(root, log=lambda line: None).entries}
    assert before["memoriser"].overall.primary.mean == 1.0 and before["memoriser"].rank == 1
    assert before["noisy_oracle"].reference and before["memoriser"].flag is None

    result = run_heldout(made["memoriser"], 30, root, out=tmp_path / "private")
    assert result.novel == 1.0 and result.overall.primary.mean < 0.2
    board = build(root, log=lambda line: None)
    order = [e.id for e in board.entries]
    memoriser = board.entries[order.index("memoriser")]
    assert memoriser.flag and "below the public interval" in memoriser.flag
    assert order.index("noisy_oracle") < order.index("memoriser")
    noisy = board.entries[order.index("noisy_oracle")].overall.primary
    assert memoriser.heldout.primary.high < noisy.low
    random = board.entries[order.index("random")]
    assert memoriser.rank == random.rank  # now no better than random, and said to be so
