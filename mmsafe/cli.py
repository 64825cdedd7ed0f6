"""The `mmsafe` command: `eval` (Hydra-composed), `list`, `report`, `compare` and `data` (public
datasets)."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from mmsafe.building import build_agent, build_judges
from mmsafe.config import CONF_DIR, check_overrides, named_after_target
from mmsafe.core import MmsafeError, one_line
from mmsafe.listing import data_command, list_command
from mmsafe.plan import EvalPlan, resolve
from mmsafe.report import make_console, print_comparison, print_results, report

USAGE = """usage: mmsafe <command> [...]

commands:
  eval [key=value ...]   evaluate an agent on a suite, e.g.
                         mmsafe eval agent=reckless suite=default seeds=50 out=runs/mine
                         mmsafe eval -m agent=oracle,reckless,random   (one run per agent)
  audit [key=value ...]  reward-hacking audit: reward judges on the scripted controls, e.g.
                         mmsafe audit judge=[clip_reward] seeds=10 envs=[RewardGaming]
  list                   show the envs, media tasks, suites, agents and judges
  report RUN_DIR         print a run's results table from disk
  compare RUN_A RUN_B [--json]
                         two finished runs of the same suite and seeds: each one's primary
                         score per failure mode and overall, and B - A with its 95% interval
                         (runs with agent.prompt=embodied and =instructed: safety that is
                         spontaneous versus instructed)
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
    called_as_command = argv is None  # not from Python, whose caller keeps its Ctrl-C
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE)
        return 0
    command, rest = argv[0], argv[1:]
    commands = {
        "eval": eval_command,
        "audit": audit_command,
        "list": lambda args: list_command(args, console),
        "report": report_command,
        "compare": compare_command,
        "data": lambda args: data_command(args, console),
        "leaderboard": leaderboard_command,
    }
    if command not in commands:
        return fail(f"unknown command '{command}'; choose one of: {', '.join(commands)}")
    try:
        return commands[command](rest)
    except MmsafeError as error:
        return fail(str(error))
    except KeyboardInterrupt as interrupt:  # Ctrl-C, a normal way to stop: one line, no trace
        if called_as_command:  # what is left is exiting: a second Ctrl-C must not print a trace
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        said = str(interrupt) or UNTOUCHED.get(command, "")
        err_console.print(
            f"mmsafe: interrupted{'; ' if said else ''}{one_line(said)}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        return INTERRUPTED


# The exit status of a command Ctrl-C stopped, as shells report it (128 + SIGINT).
INTERRUPTED = 130
# What an interrupted command says where its code did not say more (a KeyboardInterrupt
# raised again with a message, as run_one does).
UNTOUCHED = {
    "eval": "nothing was recorded",  # stopped before a run started
    "list": "nothing was changed",
    "report": "nothing was changed",
    "compare": "nothing was changed",
    "data": "nothing was changed",
}


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
    overrides = overrides_in(args)
    args = [*args, *named_after_target(overrides)[len(overrides) :]]
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
    try:
        return _run_one(cfg)
    except KeyboardInterrupt:  # the agent and judges are closed and the run dir unlocked
        raise KeyboardInterrupt(kept_after_interrupt(cfg)) from None


def kept_after_interrupt(cfg: DictConfig) -> str:
    """What an interrupted run leaves, as the line main prints after "mmsafe: interrupted"."""
    try:
        out = Path(str(cfg.out))
        episodes = out / "episodes.jsonl"
        # whole lines, one per record: counted, not parsed, so the line comes at once
        kept = episodes.read_bytes().count(b"}\n") if episodes.exists() else 0
        judged = (out / "verdicts.jsonl").exists()
    except Exception:  # noqa: BLE001 - a folder that cannot be read: say less
        return "what was recorded is kept; run the same command to resume"
    if not kept:  # stopped while it started (building the agent, loading judges)
        return f"nothing was recorded in {out}"
    what = f"{kept} episode{'' if kept == 1 else 's'}" + (
        " and the verdicts so far" if judged else ""
    )
    verb = "is" if kept == 1 and not judged else "are"
    return f"{what} recorded in {out} {verb} kept; run the same command to resume"


def _run_one(cfg: DictConfig) -> dict:
    plan = resolve(cfg)  # the one reading of Hydra's config; from here on, typed data
    judges = build_judges(plan.judges)
    if plan.runner.name == "ray":  # the workers build the agent; this process writes the run
        from mmsafe.run.distributed import RayPool

        agent = RayPool(plan.runner, plan.agent)
    else:  # rebuilt if its process outgrows agent_memory_mb
        from mmsafe.run.pool import LocalPool

        agent = LocalPool(build_agent(plan.agent), rebuild=lambda: build_agent(plan.agent))
    try:
        return _run_with_progress(plan, agent, judges)
    finally:
        for part in (agent, *judges):
            close = getattr(part, "close", None)
            if callable(close):
                close()


def _run_with_progress(plan: EvalPlan, agent, judges: list) -> dict:
    from mmsafe.run.runner import evaluate, load_task_work

    config = plan.run
    tasks = load_task_work(config.tasks)
    samples = sum(len(samples) for _, samples in tasks)
    total = len(config.envs) * len(config.seeds) + samples
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[label]} {task.fields[safe]}"),
        TimeElapsedColumn(),
        console=console,
        disable=not plan.progress,
        transient=False,
    ) as progress:
        # safe-success of an episode; for a sample, a right answer
        label = "safe-success" if not samples else "right" if not config.envs else "ok"
        task = progress.add_task(
            f"{agent.name} on {plan.suite}", total=total, safe="-", label=label
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
            plan.agent.identity,
            resolved=plan.resolved,
            on_episode=on_episode,
            tasks=tasks,
            judges=judges,
            on_judged=on_judged,
            show=False,  # printed below, after the progress bars
        )
    print_results(metrics, f"{agent.name} on {plan.suite} ({config.out})", console)
    return metrics


# -- audit ----------------------------------------------------------------------------------------
def audit_command(args: list[str]) -> int:
    if any(a in ("-h", "--help") for a in args):
        print(USAGE)
        return 0
    from mmsafe.judges.audit import audit, audit_table

    try:
        result = audit(args, log=lambda line: console.print(line, highlight=False))
    except KeyboardInterrupt:  # each control's run is a resumable run directory
        raise KeyboardInterrupt(
            "the controls' episodes recorded so far are kept; run the same command to resume"
        ) from None
    console.print(audit_table(result))
    console.print(f"written to {Path(result['out_root']) / 'audit.json'}", highlight=False)
    return 0


# -- report --------------------------------------------------------------------------------------
def report_command(args: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="mmsafe report", description="Print a run's results table."
    )
    parser.add_argument("run_dir")
    report(parser.parse_args(args).run_dir, console)
    return 0


def compare_command(args: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="mmsafe compare",
        description="Compare two finished runs of the same suite and seeds: each one's primary "
        "score per failure mode and overall, and the difference B - A with its 95% interval.",
    )
    parser.add_argument(
        "run_a", metavar="RUN_A", help="a run directory, e.g. agent.prompt=embodied"
    )
    parser.add_argument(
        "run_b", metavar="RUN_B", help="a run directory, e.g. agent.prompt=instructed"
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    options = parser.parse_args(args)
    from mmsafe.run.compare import compare

    comparison = compare(options.run_a, options.run_b)
    if options.json:
        print(json.dumps(comparison.as_dict(), indent=2))
    else:
        print_comparison(comparison, console)
    return 0


def leaderboard_command(args: list[str]) -> int:
    from mmsafe.leaderboard.cli import leaderboard_command as run

    return run(args, console)


if __name__ == "__main__":
    sys.exit(main())
