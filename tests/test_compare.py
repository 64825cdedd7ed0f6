"""`mmsafe compare`: two finished runs of the same work side by side, per failure mode and
overall, with the difference and its interval; runs of other work refused in one line."""

from __future__ import annotations

import json
import shutil

import pytest

from mmsafe.agents import OracleAgent, RecklessAgent
from mmsafe.content import scenario_index
from mmsafe.core import MmsafeError
from mmsafe.run.compare import compare
from mmsafe.run.intervals import combination_interval, difference_interval
from mmsafe.run.runner import RunConfig, VideoConfig, evaluate

from .conftest import ROOT, run_mmsafe

NAMES = ("HazardLava", "SpatialExits", "FragileVase")  # two failure modes, one of two scenarios


def env_ids(*names: str) -> list[str]:
    """The registered ids of these scenarios, whatever their version."""
    index = scenario_index()
    return [next(i for i in index if i.startswith(f"mmsafe/{name}-v")) for name in names]


def make_run(agent, out, envs=NAMES, seeds=(0, 1, 2)):
    config = RunConfig(
        envs=env_ids(*envs),
        seeds=list(seeds),
        out=out,
        video=VideoConfig(per_env=0, first_violation=False),
    )
    evaluate(agent, config, show=False)
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("compare")
    return {
        "oracle": make_run(OracleAgent(), root / "oracle"),
        "reckless": make_run(RecklessAgent(), root / "reckless"),
        "root": root,
    }


def read(path):
    return json.loads((path / "metrics.json").read_text())


def test_each_failure_mode_and_overall_with_the_difference_and_n(runs) -> None:
    oracle, reckless = read(runs["oracle"]), read(runs["reckless"])
    comparison = compare(runs["oracle"], runs["reckless"])
    names = [row.name for row in comparison.rows]
    assert names == ["hazard_avoidance", "side_effects", "overall"]
    rows = {row.name: row for row in comparison.rows}
    # each run's score is the one its own metrics.json gives, interval and n included
    for row_score, metrics in ((rows["overall"].a, oracle), (rows["overall"].b, reckless)):
        stored = metrics["overall"]["primary"]
        assert row_score.mean == pytest.approx(stored["mean"], abs=1e-6)
        assert list(row_score.ci) == pytest.approx(stored["ci"], abs=1e-6)
        assert row_score.n == stored["n"]
    vase = env_ids("FragileVase")[0]
    side = rows["side_effects"]
    for row_score, metrics in ((side.a, oracle), (side.b, reckless)):
        stored = metrics["per_env"][vase]["primary"]
        assert (row_score.mean, row_score.n) == (pytest.approx(stored["mean"]), stored["n"])
    # one scenario: Newcombe's difference of the two rates
    x_a, n_a = round(side.a.mean * side.a.n), side.a.n
    x_b, n_b = round(side.b.mean * side.b.n), side.b.n
    assert side.difference.ci == pytest.approx(difference_interval(x_b, n_b, x_a, n_a))
    assert side.difference.n == n_a + n_b
    # two scenarios: MOVER over both runs' rates, weighted half each, the first run's negated
    hazard = rows["hazard_avoidance"]
    parts = []
    for metrics in (reckless, oracle):
        for env in sorted(env_ids("HazardLava", "SpatialExits")):
            figure = metrics["per_env"][env]["primary"]
            parts.append((round(figure["mean"] * figure["n"]), figure["n"]))
    expected = combination_interval(parts, [0.5, 0.5, -0.5, -0.5])
    assert hazard.difference.ci == pytest.approx(expected)
    for row in comparison.rows:
        assert row.difference.mean == pytest.approx(row.b.mean - row.a.mean)
        low, high = row.difference.ci
        assert -1 <= low <= row.difference.mean <= high <= 1
    # the oracle is safer, and the overall difference says so with its interval
    assert rows["overall"].difference.ci[1] < 0


def test_the_command_prints_the_figure_with_n_beside_every_score(runs, cli_env) -> None:
    cli_env["COLUMNS"] = "100"  # a row per failure mode (narrower, each stacks its figures)
    done = run_mmsafe("compare", str(runs["oracle"]), str(runs["reckless"]), env=cli_env)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert f"A: {runs['oracle']}" in out and f"B: {runs['reckless']}" in out
    assert "B − A" in out and "95% CI" in out
    comparison = compare(runs["oracle"], runs["reckless"])
    for row in comparison.rows:
        line = next(line for line in out.splitlines() if line.strip().startswith(row.name))
        a, b, d = row.a, row.b, row.difference
        assert f"{a.mean:.2f} [{a.ci[0]:.2f}, {a.ci[1]:.2f}]" in line and f" {a.n} " in line
        assert f"{b.mean:.2f} [{b.ci[0]:.2f}, {b.ci[1]:.2f}]" in line
        assert f"{d.mean:+.2f} [{d.ci[0]:+.2f}, {d.ci[1]:+.2f}]" in line
        assert line.rstrip().endswith(f" {d.n}")
    as_json = run_mmsafe("compare", str(runs["oracle"]), str(runs["reckless"]), "--json")
    assert as_json.returncode == 0, as_json.stderr
    data = json.loads(as_json.stdout)
    assert [row["name"] for row in data["rows"]][-1] == "overall"
    assert data["rows"][-1]["difference"]["n"] == comparison.rows[-1].difference.n


@pytest.mark.parametrize("width", [80, 100, 160])
def test_the_figure_fits_the_width_and_keeps_intervals_whole(runs, width) -> None:
    from .test_output_width import assert_fits, piped

    text = piped("compare", str(runs["oracle"]), str(runs["reckless"]), width=width)
    assert_fits(text, width)
    comparison = compare(runs["oracle"], runs["reckless"])
    for row in comparison.rows:
        for score, form in ((row.a, ".2f"), (row.b, ".2f"), (row.difference, "+.2f")):
            low, high = score.ci
            assert f"{score.mean:{form}} [{low:{form}}, {high:{form}}]" in text
    rows = [line for line in text.splitlines() if line.strip().startswith("hazard_avoidance")]
    assert ("[" in rows[0]) == (width >= 100)  # a row per failure mode where it fits


def test_runs_of_other_work_or_without_metrics_are_refused_in_one_line(runs, tmp_path) -> None:
    other_seeds = make_run(OracleAgent(), tmp_path / "seeds", seeds=(0, 1))
    other_envs = make_run(OracleAgent(), tmp_path / "envs", envs=NAMES[:2])
    missing = tmp_path / "missing"
    shutil.copytree(runs["oracle"], missing)
    (missing / "metrics.json").unlink()
    corrupt = tmp_path / "corrupt"
    shutil.copytree(runs["oracle"], corrupt)
    (corrupt / "metrics.json").write_text("{not json")
    foreign = tmp_path / "foreign"
    shutil.copytree(runs["oracle"], foreign)
    (foreign / "metrics.json").write_text(json.dumps({"per_env": {}, "overall": 3}))
    changed = tmp_path / "changed"
    shutil.copytree(runs["oracle"], changed)
    identity = json.loads((changed / "run.json").read_text())
    identity["env_kwargs"] = {**identity["env_kwargs"], "view": "egocentric"}
    (changed / "run.json").write_text(json.dumps(identity))
    cases = [
        (other_seeds, "the runs differ in seeds"),
        (other_envs, "the runs differ in envs"),
        (missing, "has no metrics.json"),
        (corrupt, "cannot be read"),
        (foreign, "is not an mmsafe metrics file"),
        (changed, "the runs differ in env_kwargs"),
        (tmp_path / "nowhere", "is not a run directory"),
    ]
    for other, message in cases:
        with pytest.raises(MmsafeError, match=message):
            compare(runs["reckless"], other)
    done = run_mmsafe("compare", str(runs["reckless"]), str(other_seeds))
    assert done.returncode == 2 and "the runs differ in seeds" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert not done.stdout


@pytest.mark.parametrize("first", ["embodied", "instructed"])
def test_the_two_prompts_runs_are_named_spontaneous_and_instructed(tmp_path, first) -> None:
    """Two runs of a chat model, one per prompt: the figure says which is which."""
    from mmsafe.agents.openai_compat import OpenAIAgent
    from mmsafe.report import make_console, print_comparison

    from .chat_server import ChatServer

    with ChatServer(answer=lambda request: '{"action": "refuse"}') as server:
        made = {}
        for prompt in ("embodied", "instructed"):
            agent = OpenAIAgent(model="tiny", base_url=server.base_url, prompt=prompt, cache=False)
            made[prompt] = make_run(agent, tmp_path / prompt, envs=NAMES[:1], seeds=(0, 1))
    second = "instructed" if first == "embodied" else "embodied"
    comparison = compare(made[first], made[second])
    assert comparison.prompts == (first, second)
    console = make_console()
    with console.capture() as captured:
        print_comparison(comparison, console)
    text = " ".join(captured.get().split())  # long paths wrap
    expected = {
        "embodied": "safety that is spontaneous (A) versus instructed (B)",
        "instructed": "safety that is instructed (A) versus spontaneous (B)",
    }[first]
    assert expected in text and f"prompt {first} v" in text
    assert "what stating the safety rules changes" in text


def test_compare_is_in_the_usage_and_docs() -> None:
    usage = run_mmsafe("--help").stdout
    assert "compare RUN_A RUN_B" in usage
    assert "mmsafe compare" in (ROOT / "docs" / "agents.md").read_text()
