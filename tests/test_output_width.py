"""Every table and listing fits the width it is printed in (a terminal's, else $COLUMNS, else
100), keeps each interval on one line and every id a user copies whole, and at 160 columns
uses the room: a row per scenario, nothing stacked."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from rich.cells import cell_len
from rich.console import Console

from mmsafe.report import COLUMNS, TASK_FIGURES, output_width
from mmsafe.run.measures import MEASURES

from .conftest import ROOT, mmsafe_cmd

WIDTHS = (80, 100, 160)
INTERVAL = re.compile(r"\d\.\d\d \[-?\d\.\d\d, -?\d\.\d\d\]")
INTERVAL_START = re.compile(r"\d\.\d\d \[")  # an interval's start: whole or not, one per interval


def piped(*args: str, width: int | None, cwd: Path = ROOT) -> str:
    """`mmsafe ARGS` with its output piped, with COLUMNS=width (unset for None)."""
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    if width is not None:
        env["COLUMNS"] = str(width)
    done = subprocess.run(
        mmsafe_cmd(*args), cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def assert_fits(text: str, width: int) -> list[str]:
    """Every line fits, but for a path or id longer than the width itself: that is printed
    whole on a line of its own, since a cut one could not be copied."""
    lines = text.splitlines()
    alone = re.compile(r"\s*\S*/\S*\s*")  # one path and nothing else on the line
    too_wide = [line for line in lines if cell_len(line) > width and not alone.fullmatch(line)]
    assert not too_wide, f"{len(too_wide)} lines wider than {width}:\n" + "\n".join(too_wide)
    assert "…" not in text, text  # nothing cut short
    return lines


def shown_intervals(metrics: dict) -> set[str]:
    """Every interval the report shows: the results, failure modes, tasks and calibration."""

    def interval(estimate: dict) -> str:
        low, high = estimate["ci"]
        return f"{estimate['mean']:.2f} [{low:.2f}, {high:.2f}]"

    estimates = [
        values[key]
        for values in [*metrics["per_env"].values(), metrics["overall"]]
        for key, _ in COLUMNS
        if values.get(key)
    ]
    estimates += [row for rows in (metrics.get("families") or {}).values() for row in rows]
    for figures in (metrics.get("per_task") or {}).values():
        estimates += [figures[key] for key, _ in TASK_FIGURES if key in figures]
    return {interval(estimate) for estimate in estimates if estimate.get("ci")}


def assert_intervals_whole(text: str, metrics: dict) -> None:
    lines = text.splitlines()
    for interval in shown_intervals(metrics):
        assert any(interval in line for line in lines), interval
    # none broken: every interval that starts on a line ends on it
    assert len(INTERVAL_START.findall(text)) == len(INTERVAL.findall(text)), text


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """Two small runs of the default suite (reckless fails, random has negative means) and one
    of the media tasks with a safety, a refusal and a reward judge; and the eval's output.
    No videos: no output shows them, and they were most of the runs' time."""
    root = tmp_path_factory.mktemp("widths")
    eval_output = piped(
        "eval", "-m", "agent=reckless,random", "seeds=2", "progress=false",
        "video.per_env=0", f"out_root={root}", width=100,
    )  # fmt: skip
    media = root / "media"
    piped(
        "eval", "agent=random", "suite=media", "seeds=1", "progress=false", f"out={media}",
        "judge=[events,refusal,env_reward]", width=100,
    )  # fmt: skip
    (root / "eval.txt").write_text(eval_output)
    return {
        "reckless": root / "default" / "reckless",
        "random": root / "default" / "random",
        "media": media,
        "eval_output": root / "eval.txt",
    }


def test_piped_output_is_as_wide_as_COLUMNS_says_else_100(monkeypatch):
    class Stream:
        def __init__(self, tty: bool) -> None:
            self.tty = tty

        def isatty(self) -> bool:
            return self.tty

    for columns, width in [(None, 100), ("123", 123), ("80", 80), ("wide", 100), ("0", 100)]:
        if columns is None:
            monkeypatch.delenv("COLUMNS", raising=False)
        else:
            monkeypatch.setenv("COLUMNS", columns)
        assert output_width(Stream(tty=False)) == width
    assert output_width(Stream(tty=True)) is None  # a terminal's own width, asked by rich


@pytest.mark.slow
def test_eval_output_fits_100_columns(runs):
    text = runs["eval_output"].read_text()
    assert_fits(text, 100)
    for agent in ("reckless", "random"):
        metrics = json.loads((runs[agent] / "metrics.json").read_text())
        assert_intervals_whole(text, metrics)


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("run", ["reckless", "random", "media"])
@pytest.mark.slow
def test_report_fits_and_keeps_intervals_whole(runs, run, width):
    text = piped("report", str(runs[run]), width=width)
    assert_fits(text, width)
    metrics = json.loads((runs[run] / "metrics.json").read_text())
    assert_intervals_whole(text, metrics)
    names = [source.split("/")[-1] for source in metrics["per_env"]]
    for name in names:
        assert re.search(rf"(?m)^\s+{re.escape(name)}\s", text), name
    if run == "media":
        for judge in ("events", "refusal", "env_reward"):
            assert re.search(rf"(?m)^\s+{judge}\s", text), judge
    else:  # every variant's figure and n together on a line
        for rows in metrics["families"].values():
            for row in rows:
                for variant, figures in row["variants"].items():
                    assert f"{variant} {figures['mean']:.2f} (n={figures['n']})" in text


@pytest.mark.slow
def test_at_160_columns_the_report_uses_the_room(runs):
    text = piped("report", str(runs["reckless"]), width=160)
    lines = text.splitlines()
    metrics = json.loads((runs["reckless"] / "metrics.json").read_text())
    # one results table: a header with every column, a line per scenario with an interval for
    # each rate (cost and hidden performance are means, shown without one)
    headers = [line for line in lines if "scenario / task" in line]
    assert len(headers) == 1 and all(header in headers[0] for _, header in COLUMNS)
    rates = [key for key, _ in COLUMNS if MEASURES[key].kind == "rate"]
    for source in metrics["per_env"]:
        rows = [line for line in lines if f"  {source.split('/')[-1]} " in line]
        assert len(INTERVAL.findall(rows[0])) == len(rates), rows
    # per failure mode: a row each, with its scenario, interval and first variant on it
    for source, rows in metrics["families"].items():
        if not rows:
            continue
        scenario = source.split("/")[-1]
        first = next(line for line in lines if scenario in line and f"{rows[0]['name']} " in line)
        variant, figures = next(iter(rows[0]["variants"].items()))
        assert INTERVAL.search(first)
        assert f"{variant} {figures['mean']:.2f}" in first, first


def ids_in_the_listing() -> dict[str, list[str]]:
    from mmsafe.config import GROUPS, group_options
    from mmsafe.content import scenario_index
    from mmsafe.data.task import load_task, task_index
    from mmsafe.sim.scenario import load_scenario

    ids = {"env": [load_scenario(path).env_id for path in scenario_index().values()]}
    ids["task"] = [load_task(p).id for n, p in task_index().items() if not n.startswith("task/")]
    for group in GROUPS:
        ids[group] = group_options(group)
    return ids


@pytest.mark.parametrize("width", WIDTHS)
def test_list_fits_and_keeps_every_id_whole(width):
    text = piped("list", width=width)
    lines = assert_fits(text, width)
    for kind, ids in ids_in_the_listing().items():
        for name in ids:  # whole, as a word of its own at the start of a line
            assert any(re.match(rf"\s+{re.escape(name)}(\s|$)", line) for line in lines), (
                kind,
                name,
            )
    if width == 160:  # a row per env: its id, family and title on one line
        from mmsafe.content import scenario_index
        from mmsafe.sim.scenario import load_scenario

        for path in scenario_index().values():
            scenario = load_scenario(path)
            line = next(line for line in lines if f" {scenario.env_id} " in line)
            assert scenario.family in line and scenario.title.split()[0] in line


@pytest.mark.parametrize("width", WIDTHS)
def test_data_list_fits_and_keeps_urls_whole(width):
    from mmsafe.data.adapters import ADAPTERS

    text = piped("data", "list", width=width)
    assert_fits(text, width)
    for name, adapter in ADAPTERS.items():
        assert re.search(rf"(?m)^{re.escape(name)}: ", text)
        assert f"download: {adapter.URL}\n" in text


@pytest.fixture(scope="module")
def audit_result(tmp_path_factory) -> dict:
    from mmsafe.judges.audit import audit

    root = tmp_path_factory.mktemp("audit")
    args = [f"out_root={root}", "seeds=2", "judge=[env_reward]", "video.per_env=0"]
    return audit([*args, "envs=[RewardGaming,HazardousInstructions]"], log=lambda line: None)


def render(renderable, width: int) -> str:
    console = Console(width=width, record=True, file=open(os.devnull, "w"))  # noqa: SIM115
    console.print(renderable)
    return console.export_text()


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.slow
def test_audit_table_fits(audit_result, width):
    from mmsafe.judges.audit import audit_table

    lines = assert_fits(render(audit_table(audit_result), width), width)
    for name, figures in audit_result["judges"].items():
        assert any(re.match(rf"\s+{name}\s", line) for line in lines)
        for env in figures["per_env"]:
            assert any(f" {env.split('/')[-1]} " in line for line in lines), env


@pytest.mark.slow
def test_verification_table_fits(runs, tmp_path):
    from mmsafe.leaderboard.cli import leaderboard_command
    from mmsafe.leaderboard.pack import pack

    bundle = pack(runs["reckless"], tmp_path / "bundle.tar.gz")
    for width in WIDTHS:
        console = Console(width=width, record=True, file=open(os.devnull, "w"))  # noqa: SIM115
        assert leaderboard_command(["verify", str(bundle)], console) == 0
        text = console.export_text()
        assert_fits(text, width)
        assert "verified:" in text and re.search(r"(?m)^\s+replay\s+ok", text), text
