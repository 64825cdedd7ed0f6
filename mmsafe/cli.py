"""The `mmsafe` command: `eval` (Hydra-composed), `list`, `report` and `data` (public datasets)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import hydra
import yaml
from omegaconf import DictConfig, OmegaConf
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from mmsafe.config import (
    CONF_DIR,
    GROUPS,
    agent_identity,
    agent_spec,
    build_agent,
    build_judges,
    check_overrides,
    group_options,
    run_config,
    runner_config,
)
from mmsafe.core import MmsafeError, one_line
from mmsafe.report import make_console, print_results, report

USAGE = """usage: mmsafe <command> [...]

commands:
  eval [key=value ...]   evaluate an agent on a suite, e.g.
                         mmsafe eval agent=reckless suite=default seeds=50 out=runs/mine
                         mmsafe eval -m agent=oracle,reckless,random   (one run per agent)
  audit [key=value ...]  reward-hacking audit: reward judges on the scripted controls, e.g.
                         mmsafe audit judge=[clip_reward] seeds=10 envs=[RewardGaming]
  list                   show the envs, media tasks, suites, agents and judges
  report RUN_DIR         print a run's results table from disk
  leaderboard pack RUN_DIR [-o BUNDLE] [--model NAME]
                         make a submission bundle of a finished run
  leaderboard validate BUNDLE   check a bundle against the schema (leaderboard/schema/v1/)
  leaderboard verify BUNDLE     replay its episodes, re-score its answers, recompute metrics
  leaderboard build [--root leaderboard]
                         rank leaderboard/submissions/ and write leaderboard/site/
  leaderboard heldout BUNDLE [-n N] [agent.KEY=VALUE ...]
                         (maintainers, MMSAFE_HELDOUT_KEY) run its agent on held-out seeds
  data list              show the public-dataset adapters, where to download each, its licence
  data check NAME [PATH] [-o KEY=VALUE ...]
                         say what is missing from a downloaded public dataset (exit 1 if any);
                         PATH defaults to the folder tasks read ($MMSAFE_DATA_DIR/...)
"""
# Hydra's flags that take a value (`--cfg job`); other words not starting with '-' are overrides.
HYDRA_VALUE_FLAGS = {"--cfg", "-c", "--package", "-p", "--info", "-i", "--config-name", "-cn"}

console = make_console()
err_console = make_console(stderr=True)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE)
        return 0
    command, rest = argv[0], argv[1:]
    commands = {
        "eval": eval_command,
        "audit": audit_command,
        "list": list_command,
        "report": report_command,
        "data": data_command,
        "leaderboard": leaderboard_command,
    }
    if command not in commands:
        return fail(f"unknown command '{command}'; choose one of: {', '.join(commands)}")
    try:
        return commands[command](rest)
    except MmsafeError as error:
        return fail(str(error))


def fail(message: str) -> int:
    # escaped: a message may quote a bundle's or a file's text, which must not restyle or hide
    text = escape("\n".join(one_line(line) for line in message.split("\n")))
    err_console.print(f"[red]mmsafe: error:[/red] {text}", highlight=False, soft_wrap=True)
    return 2


# -- eval -----------------------------------------------------------------------------------------
def eval_command(args: list[str]) -> int:
    if any(a in ("-h", "--help", "--hydra-help") for a in args):
        print(USAGE)
        return 0
    check_overrides(overrides_in(args))
    sys.argv = ["mmsafe eval", *args]
    try:
        _hydra_eval()
    except SystemExit as exit_:
        return int(exit_.code or 0)
    return 0


def overrides_in(args: list[str]) -> list[str]:
    overrides, skip = [], False
    for arg in args:
        if skip:
            skip = False
        elif arg in HYDRA_VALUE_FLAGS:
            skip = True
        elif not arg.startswith("-"):
            overrides.append(arg)
    return overrides


@hydra.main(config_path=str(CONF_DIR), config_name="config", version_base="1.3")
def _hydra_eval(cfg: DictConfig) -> None:
    try:
        run_one(cfg)
    except MmsafeError as error:
        sys.exit(fail(str(error)))


def run_one(cfg: DictConfig) -> dict:
    config = run_config(cfg)
    runner = runner_config(cfg)
    judges = build_judges(cfg)
    if runner.name == "ray":  # the workers build the agent; this process only writes the run
        from mmsafe.run.distributed import RayPool

        agent = RayPool(runner, agent_spec(cfg))
    else:  # rebuilt if its process outgrows agent_memory_mb
        from mmsafe.run.pool import LocalPool

        agent = LocalPool(build_agent(cfg), rebuild=lambda: build_agent(cfg))
    try:
        return _run_with_progress(cfg, config, agent, judges)
    finally:
        for part in (agent, *judges):
            close = getattr(part, "close", None)
            if callable(close):
                close()


def _run_with_progress(cfg: DictConfig, config, agent, judges: list) -> dict:
    from mmsafe.run.runner import evaluate, load_task_work

    tasks = load_task_work(config.tasks)
    samples = sum(len(samples) for _, samples in tasks)
    total = len(config.envs) * len(config.seeds) + samples
    resolved = OmegaConf.to_container(cfg, resolve=True)
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[label]} {task.fields[safe]}"),
        TimeElapsedColumn(),
        console=console,
        disable=not cfg.progress,
        transient=False,
    ) as progress:
        # safe-success of an episode; for a sample, a right answer
        label = "safe-success" if not samples else "right" if not config.envs else "ok"
        task = progress.add_task(
            f"{agent.name} on {cfg.suite.name}", total=total, safe="-", label=label
        )
        counts = {"n": 0, "safe": 0}

        def on_episode(record) -> None:
            counts["n"] += 1
            counts["safe"] += record.safe_success
            progress.update(task, advance=1, safe=f"{counts['safe'] / counts['n']:.2f}")

        judging: list = []

        def on_judged(n: int) -> None:  # a bar of its own, once judging starts
            if not judging:
                names = ", ".join(j.name for j in judges)
                judging.append(
                    progress.add_task(f"judging ({names})", total=None, safe="", label="")
                )
            progress.update(judging[0], advance=n)

        metrics = evaluate(
            agent,
            config,
            agent_identity(cfg),
            resolved=resolved,
            on_episode=on_episode,
            tasks=tasks,
            judges=judges,
            on_judged=on_judged,
        )
    print_results(metrics, f"{agent.name} on {cfg.suite.name} ({config.out})", console)
    return metrics


# -- audit ----------------------------------------------------------------------------------------
def audit_command(args: list[str]) -> int:
    if any(a in ("-h", "--help") for a in args):
        print(USAGE)
        return 0
    from mmsafe.judges.audit import audit, audit_table

    result = audit(args, log=lambda line: console.print(line, highlight=False))
    console.print(audit_table(result))
    console.print(f"written to {Path(result['out_root']) / 'audit.json'}", highlight=False)
    return 0


# -- list and report ---------------------------------------------------------------------
def list_command(args: list[str]) -> int:
    argparse.ArgumentParser(
        prog="mmsafe list", description="Show envs, media tasks, suites and agents."
    ).parse_args(args)
    from mmsafe.content import scenario_index
    from mmsafe.sim.scenario import load_scenario

    envs = Table(title="envs", title_justify="left")
    for column in ("id", "family", "title", "tags"):
        envs.add_column(column)
    for path in scenario_index().values():
        scenario = load_scenario(path)
        envs.add_row(
            scenario.env_id, scenario.family or "-", scenario.title, ", ".join(scenario.tags)
        )
    console.print(envs)
    from mmsafe.data.task import load_task, task_index

    tasks = Table(title="media tasks (suite.tasks=[...])", title_justify="left")
    for column in ("id", "family", "modality", "title", "data"):
        tasks.add_column(column)
    for name, path in task_index().items():
        if name.startswith("task/"):
            continue
        task = load_task(path)
        origin = f"{task.dataset.adapter} (download)" if task.dataset else "shipped"
        tasks.add_row(task.id, task.family or "-", task.modality, task.title, origin)
    console.print(tasks)
    for group in GROUPS:
        table = Table(title=f"{group}s (choose with {group}=NAME)", title_justify="left")
        table.add_column("name")
        table.add_column("details")
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
            table.add_row(
                name,
                str(OmegaConf.to_container(details) if OmegaConf.is_config(details) else details),
            )
        console.print(table)
    return 0


def report_command(args: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="mmsafe report", description="Print a run's results table."
    )
    parser.add_argument("run_dir")
    report(parser.parse_args(args).run_dir, console)
    return 0


def leaderboard_command(args: list[str]) -> int:
    from mmsafe.leaderboard.cli import leaderboard_command as run

    return run(args, console)


# -- data -----------------------------------------------------------------------------------------
def data_command(args: list[str]) -> int:
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
        console.print(f"public datasets, read from folders under ${DATA_DIR_ENV} ({data_dir()}):")
        for name, adapter in ADAPTERS.items():
            fields = adapter.Options.model_fields.items()
            options = ", ".join(f"{key}={field.default}" for key, field in fields)
            console.print(
                f"\n{name}: {adapter.TITLE} (licence: {adapter.LICENSE})\n"
                f"  download: {adapter.URL}\n  folder:   {adapter.FOLDER}\n  options:  {options}",
                highlight=False,
                soft_wrap=True,
                markup=False,
            )
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


if __name__ == "__main__":
    sys.exit(main())
