"""The catalogue commands: `mmsafe list` (envs, media tasks and the config groups' options)
and `mmsafe data` (the public-dataset adapters: where to get each, what a download lacks)."""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml
from omegaconf import OmegaConf
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from mmsafe.config import CONF_DIR, GROUPS, group_options
from mmsafe.core import MmsafeError
from mmsafe.report import Fitted, fits, print_wrapped


def list_command(args: list[str], console: Console) -> int:
    argparse.ArgumentParser(
        prog="mmsafe list", description="Show envs, media tasks, suites and agents."
    ).parse_args(args)
    from mmsafe.content import scenario_index
    from mmsafe.sim.scenario import load_scenario

    envs = []
    for path in scenario_index().values():
        scenario = load_scenario(path)
        tags = ", ".join(scenario.tags)
        envs.append([scenario.env_id, scenario.family or "-", scenario.title, tags])
    console.print(_listing("envs", ["id", "family", "title", "tags"], envs))
    from mmsafe.data.task import load_task, task_index

    tasks = []
    for name, path in task_index().items():
        if name.startswith("task/"):
            continue
        task = load_task(path)
        origin = f"{task.dataset.adapter} (download)" if task.dataset else "shipped"
        tasks.append([task.id, task.family or "-", task.title, task.modality, origin])
    headers = ["id", "family", "title", "modality", "data"]
    console.print(_listing("media tasks (suite.tasks=[...])", headers, tasks))
    for group in GROUPS:
        rows = []
        for name in group_options(group):
            spec = OmegaConf.load(CONF_DIR / group / f"{name}.yaml")
            if group == "judge":  # a judge's file holds one judge under its name
                details = next(iter(spec.values())).get("_target_")
            elif group == "runner":
                shown = ("address", "workers", "cpus_per_worker", "gpus_per_worker")
                details = ", ".join(f"{k}={spec[k]}" for k in shown if k in spec)
                details = f"Ray: {details}" if details else "this process"
            else:
                details = spec.get("_target_") if group == "agent" else spec.get("envs")
            shown = OmegaConf.to_container(details) if OmegaConf.is_config(details) else details
            rows.append([name, str(shown)])
        title = f"{group}s (choose with {group}=NAME)"
        console.print(_listing(title, ["name", "details"], rows))
    return 0


def _listing(title: str, headers: list[str], rows: list[list[str]]) -> Fitted:
    """A table of `mmsafe list`: the first column (what is typed: an id, a name) never wraps,
    the others are prose that wraps at spaces. Too narrow for a column each, the second goes
    under the first (an env's family under its id) and the rest under the third (its tags
    under its title)."""

    def build(headers: list[str], rows: list[list[str | Text]]) -> Table:
        table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
        table.add_column(headers[0], no_wrap=True)
        for header in headers[1:]:
            table.add_column(header, overflow="fold")  # never "…": nothing is hidden
        for row in rows:
            table.add_row(*row)
        return table

    def layout(width: int) -> Table:
        wide = build(headers, rows)
        if len(headers) < 3 or fits(wide, width):
            return wide
        first = [f"{headers[0]}\n  {headers[1]}", f"{headers[2]}\n{', '.join(headers[3:])}"]
        return build(first, [
            [f"{row[0]}\n  {row[1]}", Text.assemble(row[2], "\n", (", ".join(row[3:]), "dim"))]
            for row in rows
        ])  # fmt: skip

    return Fitted(layout)


def data_command(args: list[str], console: Console) -> int:
    parser = argparse.ArgumentParser(
        prog="mmsafe data", description="Public datasets read from a folder you downloaded."
    )
    actions = parser.add_subparsers(dest="action", required=True)
    actions.add_parser("list", help="show the adapters, where to download each, its licence")
    check = actions.add_parser("check", help="say what is missing from a downloaded dataset")
    check.add_argument("name", help="the adapter (see `mmsafe data list`)")
    check.add_argument("path", nargs="?", help="the folder (default: where tasks look for it)")
    check.add_argument(
        "-o", "--option", action="append", default=[], metavar="KEY=VALUE", help="an option"
    )
    parsed = parser.parse_args(args)
    from mmsafe.data.adapters import ADAPTERS, check_dataset, get_adapter
    from mmsafe.data.task import DATA_DIR_ENV, data_dir

    if parsed.action == "list":
        # wrapped to the width at spaces, so the URLs and folders stay whole
        print_wrapped(
            console, f"public datasets, read from folders under ${DATA_DIR_ENV} ({data_dir()}):"
        )
        for name, adapter in ADAPTERS.items():
            fields = adapter.Options.model_fields.items()
            options = ", ".join(f"{key}={field.default}" for key, field in fields)
            console.print()
            print_wrapped(console, f"{name}: {adapter.TITLE} (licence: {adapter.LICENSE})", "    ")
            for key, value in (
                ("download", adapter.URL),
                ("folder", adapter.FOLDER),
                ("options", options),
            ):
                print_wrapped(console, f"  {key + ':':<10}{value}", " " * 12)
        return 0
    adapter = get_adapter(parsed.name)
    options: dict[str, object] = {}
    for option in parsed.option:
        key, sep, value = option.partition("=")
        if not sep or not key:
            raise MmsafeError(f"option {option!r} is not KEY=VALUE")
        try:
            options[key] = yaml.safe_load(value) if value else value  # tiny=true is a bool
        except yaml.YAMLError:
            options[key] = value
    root = Path(parsed.path) if parsed.path else data_dir() / adapter.FOLDER
    result = check_dataset(parsed.name, root, options)
    for line in result.lines():
        console.print(line, highlight=False, soft_wrap=True, markup=False)
    return 0 if result.ok else 1
