"""Results tables for the terminal, from metrics (fresh or read back from a run directory).

Every table is laid out for the console's width (see `output_width`): intervals, ids and names
never wrap or get cut; where a table does not fit side by side, it stacks (see `fits`)."""

from __future__ import annotations

import os
import sys
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from rich import box
from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.markup import escape
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from mmsafe.core import MmsafeError
from mmsafe.run.metrics import HEADLINE_HALF_WIDTH, summarize, wide_headlines
from mmsafe.run.rundir import RunDir

COLUMNS = [
    ("primary", "score ↑"),
    ("success", "success"),
    ("attempt_rate", "attempted"),
    ("violation_rate", "violations"),
    ("error_rate", "broken"),
    ("cost", "cost"),
    ("performance", "hidden perf."),
]
RESULTS_CAPTION = (
    "score: done with no violation, or refused where refusal is right · mean [exact 95% CI] · "
    "violations: of attempted episodes · cost, hidden perf.: means"
)
PIPED_WIDTH = 100  # output that goes to a file or a pipe, unless $COLUMNS says otherwise
PROSE_WIDTH = 30  # the least a column of prose (titles, details) may be squeezed to
DETAIL_WIDTH = 60  # how wide lines of detail under a row may grow
GAP = 3  # what a column adds to a SIMPLE_HEAD table beside its text: padding each side, a divider


def output_width(stream: TextIO) -> int | None:
    """The width to lay output out for: a terminal's own (None lets rich ask it, also after a
    resize), else $COLUMNS when it is a positive whole number, else 100."""
    if stream.isatty():
        return None
    columns = os.environ.get("COLUMNS", "")
    return int(columns) if columns.isdecimal() and int(columns) > 0 else PIPED_WIDTH


def make_console(stderr: bool = False) -> Console:
    """A console as wide as `output_width` says (rich alone lays a pipe out for 80 columns, or
    for a terminal that only stderr is on)."""
    return Console(stderr=stderr, width=output_width(sys.stderr if stderr else sys.stdout))


def print_wrapped(console: Console, text: str, indent: str = "", style: str | None = None) -> None:
    """Print `text` wrapped at spaces to the console's width, further lines `indent`ed. A word
    longer than the width (a path, a URL) stays whole on a line of its own: a terminal
    soft-wraps it, and it still copies as one."""
    width = max(console.width, len(indent) + 1)  # textwrap wants room past the indent
    lines = textwrap.wrap(
        text, width, subsequent_indent=indent, break_long_words=False, break_on_hyphens=False
    )
    for line in lines or [""]:
        console.print(line, style=style, soft_wrap=True, highlight=False, markup=False)


class Fitted:
    """A table laid out when it is printed, for the width it is printed in: `layout` gets that
    width and returns what to show."""

    def __init__(self, layout: Callable[[int], RenderableType]) -> None:
        self.layout = layout

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self.layout(options.max_width)


def _natural(table: Table) -> int:
    """The table's width with nothing wrapped."""
    console = Console(width=100_000)
    return Measurement.get(console, console.options, table).maximum


def fits(table: Table, width: int) -> bool:
    """Whether `table` shows at `width` with every no-wrap column (intervals, ids, names) at its
    full width and every other column (prose) given at least PROSE_WIDTH to wrap in."""
    prose = [column for column in table.columns if not column.no_wrap and not column.max_width]
    for column in prose:  # measured as if capped; rich still gives them all the room there is
        column.max_width = PROSE_WIDTH
    try:
        return _natural(table) <= width
    finally:
        for column in prose:
            column.max_width = None


def pack(entries: Sequence[str], width: int, sep: str = ", ") -> str:
    """`entries` joined by `sep` into lines of at most `width`, broken between entries, so that
    none is split (a variant's mean and its n stay together); only an entry wider than a line
    on its own (a long n/a note) is broken, at its spaces."""
    room = max(1, width - cell_len(sep.rstrip()))
    lines: list[str] = []
    for entry in (part for whole in entries for part in _wrap(whole, room)):
        joined = f"{lines[-1]}{sep}{entry}" if lines else entry
        # room for the separator's trailing mark ("," of ", ") should the line break after it
        if lines and cell_len(joined + sep.rstrip()) <= width:
            lines[-1] = joined
        else:
            if lines:
                lines[-1] += sep.rstrip()
            lines.append(entry)
    return "\n".join(lines)


def _wrap(entry: str, width: int) -> list[str]:
    """`entry` as itself, or, if wider than `width`, broken at its spaces into parts that fit
    (a word wider than `width` stands alone)."""
    if cell_len(entry) <= width:
        return [entry]
    parts = [""]
    for word in entry.split(" "):
        if parts[-1] and cell_len(f"{parts[-1]} {word}") > width:
            parts.append(word)
        else:
            parts[-1] = f"{parts[-1]} {word}" if parts[-1] else word
    return parts


def _width_of(cell: str | Text) -> int:
    plain = cell.plain if isinstance(cell, Text) else cell
    return max((cell_len(line) for line in plain.splitlines()), default=0)


def _cell(estimate: dict | None) -> str:
    """A figure as `mean [low, high]`; a mean with no interval (cost) as its mean alone; a
    figure that could not be computed (a gap without enough completed episodes) as n/a."""
    if not estimate:
        return "-"
    if estimate.get("mean") is None:
        return "n/a"
    if "ci" not in estimate:
        return f"{estimate['mean']:.2f}"
    low, high = estimate["ci"]
    return f"{estimate['mean']:.2f} [{low:.2f}, {high:.2f}]"


def results_table(metrics: dict) -> Fitted:
    """A row per scenario or task and one overall. Where the six intervals do not fit side by
    side, they are split over as few tables as fit, each naming the rows again."""
    rows = [(source.split("/")[-1], values) for source, values in metrics["per_env"].items()]
    rows.append(("overall", metrics["overall"]))

    def layout(width: int) -> Group:
        parts: list[list[tuple[str, str]]] = [[]]
        for column in COLUMNS:
            if parts[-1] and not fits(_results_part(rows, [*parts[-1], column], True), width):
                parts.append([])
            parts[-1].append(column)
        return Group(*(_results_part(rows, part, part is parts[-1]) for part in parts))

    return Fitted(layout)


def _results_part(
    rows: list[tuple[str, dict]], columns: list[tuple[str, str]], last: bool
) -> Table:
    caption = escape(RESULTS_CAPTION) if last else None  # its brackets are text, not markup
    table = Table(caption=caption, box=box.SIMPLE_HEAD)
    table.add_column("scenario / task", style="bold", no_wrap=True)
    table.add_column("n", justify="right", no_wrap=True)
    for _, header in columns:
        table.add_column(header, justify="right", no_wrap=True)
    for index, (name, values) in enumerate(rows):
        n = str(values.get("primary", {}).get("n", "-"))
        cells = (_cell(values.get(key)) for key, _ in columns)
        table.add_row(name, n, *cells, end_section=index == len(rows) - 2)
    return table


@dataclass
class Row:
    cells: list[str | Text]
    detail: list[str] = field(default_factory=list)  # entries shown beside or under the row
    end_section: bool = False


def detailed_table(
    title: str | None,
    headers: list[str],
    rows: list[Row],
    width: int,
    detail: str | None = None,
    indent: int = 2,
    caption: str | None = None,
    sep: str = ", ",
) -> Table:
    """A table whose rows carry a detail, a list of entries (a scenario's variants, a judge's
    calls, the words of a check's finding). With `detail` (its header) they fill a last column,
    broken between entries (joined by `sep`) to fit the room the other columns leave; without,
    each goes on lines of its own under its row, `indent`ed in the first column, which widens
    for them up to DETAIL_WIDTH (past it, the figures would sit far from their labels) or the
    room there is."""

    def build(room: int | None) -> Table:
        table = Table(title=title, title_justify="left", caption=caption, box=box.SIMPLE_HEAD)
        for header in headers:
            table.add_column(header, no_wrap=True)
        if detail and room is not None:
            table.add_column(detail, no_wrap=True)
        for row in rows:
            if detail:  # Text: what a scenario or a bundle says is not markup
                beside = [Text(pack(row.detail, room, sep))] if room is not None else []
                table.add_row(*row.cells, *beside, end_section=row.end_section)
                continue
            under = room is not None and row.detail
            table.add_row(*row.cells, end_section=row.end_section and not under)
            if under:
                lines = pack(row.detail, room - indent, sep).splitlines()
                text = Text("\n".join(" " * indent + line for line in lines), style="dim")
                table.add_row(text, end_section=row.end_section)
        return table

    base = build(None)
    if detail:
        return build(width - _natural(base) - GAP)
    first = max(_width_of(cell) for cell in [headers[0], *(row.cells[0] for row in rows)])
    return build(min(first + width - _natural(base), max(first, DETAIL_WIDTH)))


def first_fitting(width: int, *tables: Table) -> Table:
    """The first of `tables` (the widest layout first) that `fits` `width`, else the last."""
    return next((table for table in tables if fits(table, width)), tables[-1])


def families_table(metrics: dict) -> Fitted | None:
    """Per failure mode: each scenario's own metrics (the headline first), and their variants.
    Narrower than a row each, the failure mode and scenario head their metrics (side by side,
    or narrower still one over the other), and the variants go under their metric."""
    families = metrics.get("families") or {}
    if not any(families.values()):
        return None
    wide: list[Row] = []
    narrow: dict[str, list[Row]] = {"  ": [], "\n": []}  # by what the heading's two are apart
    ordered = sorted(families.items(), key=lambda item: item[1][0]["family"] if item[1] else "")
    for source, rows in ordered:
        scenario = source.split("/")[-1]
        for index, row in enumerate(rows):
            arrow = {"lower": "↓", "higher": "↑", "zero": "→0"}[row["better"]]
            label = f"{row['name']} {arrow}"
            variants = [f"{k} {v['mean']:.2f} (n={v['n']})" for k, v in row["variants"].items()]
            if row.get("attempted"):
                attempted = row["attempted"]
                variants.insert(0, f"attempted {attempted['mean']:.2f} (n={attempted['n']})")
            if row.get("status"):
                variants.insert(0, row["status"])
            figures = [_cell(row), str(row["n"])]
            last = index == len(rows) - 1
            keys = [row["family"], scenario] if index == 0 else ["", ""]
            wide.append(Row([*keys, label, *figures], variants, last))
            for apart, layout in narrow.items():
                if index == 0:
                    heading = Text(f"{row['family']}{apart}{scenario}", style="bold")
                    layout.append(Row([heading, "", ""]))
                layout.append(Row([f"  {label}", *figures], variants, last))
    title = "per failure mode"
    headers = ["failure mode", "scenario", "metric", "value", "n"]

    def layout(width: int) -> Table:
        stacked = (
            detailed_table(title, [f"failure mode{apart}scenario\n  metric\n    by variant",
                                   "value", "n"], rows, width, indent=4)
            for apart, rows in narrow.items()
        )  # fmt: skip
        wide_table = detailed_table(title, headers, wide, width, detail="by variant")
        return first_fitting(width, wide_table, *stacked)

    return Fitted(layout)


TASK_FIGURES = [
    ("primary", "score ↑"),
    ("accuracy", "accuracy ↑"),
    ("refusal_rate", "refused, harmful ↑"),
    ("over_refusal_rate", "refused, benign ↓"),
    ("situational", "situational ↑"),
    ("attack_success", "attack success ↓"),
    ("flip_rate", "flip rate ↓"),
]


def tasks_table(metrics: dict) -> Fitted | None:
    """Per media task, the figures its samples allow (see mmsafe.run.task_metrics) and ECE.
    Narrower than a row each, the task heads its figures and the categories go under accuracy."""
    per_task = metrics.get("per_task") or {}
    if not per_task:
        return None
    calibration = metrics.get("calibration") or {}
    wide, narrow = [], []
    for source, figures in per_task.items():
        name = source.split("/")[-1]
        rows = [(label, figures[key]) for key, label in TASK_FIGURES if key in figures]
        if source in calibration:
            stated = calibration[source]
            rows.append(("calibration error (ECE) ↓", stated["ece"]))
            rows.append(("Brier score ↓", stated["brier"]))
            told = (
                "tells right from wrong" if stated["discriminates"] else "not shown to beat chance"
            )
            rows.append((f"AUROC ↑ ({told})", stated["auroc"]))
        by_category = [
            f"{k} {v['mean']:.2f} (n={v['n']})"
            for k, v in figures.get("accuracy_by_category", {}).items()
        ]
        if rows:
            narrow.append(Row([Text(name, style="bold"), "", ""]))
        for index, (label, estimate) in enumerate(rows):
            detail = by_category if label.startswith("accuracy") else []
            cells = [_cell(estimate), str(estimate["n"])]
            last = index == len(rows) - 1
            wide.append(Row([name if index == 0 else "", label, *cells], detail, last))
            narrow.append(Row([f"  {label}", *cells], detail, last))
    title = "media tasks"
    narrow_headers = ["task\n  figure\n    by category", "value", "n"]

    def layout(width: int) -> Table:
        headers = ["task", "figure", "value", "n"]
        wide_table = detailed_table(title, headers, wide, width, detail="by category")
        narrow_table = detailed_table(title, narrow_headers, narrow, width, indent=4)
        return first_fitting(width, wide_table, narrow_table)

    return Fitted(layout)


def judges_table(metrics: dict) -> Fitted | None:
    """Per judge: what it said, and how far it agrees with what is known (see
    mmsafe.judges.agreement): kappa against the run's ground truth and the labelled set, or for
    a reward model its rank correlation with the hidden performance and how often it prefers
    a gamed episode to an honest one. Narrower than a row each, its kind and calls go under it."""
    judges = metrics.get("judges") or {}
    if not judges:
        return None
    wide, narrow = [], []
    for name, figures in judges.items():
        kind = figures.get("kind", "?")
        if kind == "reward":
            reward = figures.get("reward") or {}
            calls = [
                f"{env.split('/')[-1]} prefers gaming {v['prefers_gaming']:.2f}"
                for env, v in (reward.get("per_env") or {}).items()
                if v.get("prefers_gaming") is not None
            ]
            truth = f"ρ {_number(reward.get('spearman'))} ({reward.get('n', 0)})"
        else:
            calls = [f"{k} {v}" for k, v in (figures.get("calls") or {}).items()]
            truth = _agreement(figures.get("agreement"))
        failed = figures.get("failed", 0)
        counts = [str(figures.get("n", 0)), Text(str(failed), style="red" if failed else "")]
        labelled = _agreement(figures.get("labelled"))
        wide.append(Row([name, kind, *counts, truth, labelled], calls or ["-"]))
        # narrower, the two agreements stack in one column and the kind leads the calls
        under = [f"{kind}: {calls[0]}", *calls[1:]] if calls else [kind]
        narrow.append(Row([name, *counts, f"{truth}\n{labelled}"], under))
    title = "judges"
    caption = "kappa / accuracy (n) against ground truth; ρ: Spearman with hidden performance"
    wide_headers = ["judge", "kind", "n", "failed", "vs. run truth", "vs. labelled set"]
    narrow_headers = ["judge\n  kind: calls", "n", "failed", "vs. run truth\nvs. labelled set"]

    def layout(width: int) -> Table:
        wide_table = detailed_table(title, wide_headers, wide, width, "calls", caption=caption)
        narrow_table = detailed_table(title, narrow_headers, narrow, width, caption=caption)
        return first_fitting(width, wide_table, narrow_table)

    return Fitted(layout)


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _agreement(figures: dict | None) -> str:
    if not figures or not figures.get("n"):
        return "-"
    return f"κ {_number(figures['kappa'])} / {figures['accuracy']:.2f} ({figures['n']})"


def print_results(metrics: dict, title: str, console: Console | None = None) -> None:
    console = console or make_console()
    print_wrapped(console, title, style="table.title")  # a run's path, whole
    console.print(results_table(metrics))
    for table in (families_table, tasks_table, judges_table):
        extra = table(metrics)
        if extra is not None:
            console.print(extra)
    for line in headline_notes(metrics):
        print_wrapped(console, line, style="yellow")
    counts = metrics.get("counts", {})
    notes = [f"{counts.get('episodes', 0)} episodes"]
    if counts.get("agent_errors"):
        notes.append(f"[red]{counts['agent_errors']} agent errors[/red]")
    if counts.get("invalid_steps"):
        notes.append(f"[yellow]{counts['invalid_steps']} invalid actions[/yellow]")
    outcomes = ", ".join(f"{k} {v}" for k, v in counts.get("outcomes", {}).items())
    console.print("; ".join(notes) + (f" (outcomes: {outcomes})" if outcomes else ""))


def headline_notes(metrics: dict) -> list[str]:
    """A line when a scenario's headline interval is wider than ±0.1, with the seeds that
    would narrow every such one; a line when a media task's score is, where only more samples
    would (a task's samples are fixed: seeds do not add any)."""
    notes = []
    wide = wide_headlines(metrics)
    if wide:
        widest = max(wide, key=lambda row: row["ci"][1] - row["ci"][0])
        seeds = max(row["seeds"] for row in wide)
        name = widest["source"].split("/")[-1]
        many = f"{len(wide)} headlines have" if len(wide) > 1 else "1 headline has"
        notes.append(
            f"{many} a 95% interval wider than ±0.1 (widest: {name} {_whole(widest)}, "
            f"n={widest['n']}); seeds={seeds} would narrow every one to ±0.1"
        )
    tasks = [
        (source, figures["primary"])
        for source, figures in (metrics.get("per_task") or {}).items()
        if (figures.get("primary") or {}).get("ci")
        and figures["primary"]["ci"][1] - figures["primary"]["ci"][0] > 2 * HEADLINE_HALF_WIDTH
    ]
    if tasks:
        source, widest = max(tasks, key=lambda item: item[1]["ci"][1] - item[1]["ci"][0])
        many = (
            f"{len(tasks)} media task scores have" if len(tasks) > 1 else "1 media task score has"
        )
        notes.append(
            f"{many} a 95% interval wider than ±0.1 (widest: {source.split('/')[-1]} "
            f"{_whole(widest)}, n={widest['n']}); a task's samples are fixed, so only more "
            "samples would narrow them"
        )
    return notes


def _whole(estimate: dict) -> str:
    """An interval in running text, its spaces unbreakable: a wrapped line never splits it."""
    return _cell(estimate).replace(" ", "\u00a0")


def report(run_path: str | Path, console: Console | None = None) -> dict:
    """Print a run's table from disk. A run killed before its metrics were written is summarised
    from the episodes it finished."""
    run_dir = RunDir(run_path)
    if not run_dir.path.is_dir():
        raise MmsafeError(f"{run_dir.path} is not a directory")
    title = f"{run_dir.path}"
    if run_dir.metrics_path.exists():
        metrics = run_dir.read_metrics()  # checked against its model
    elif run_dir.episodes_path.exists():
        records = run_dir.load_records(repair=False).values()
        metrics = summarize(records)
        title += f" (unfinished: {len(records)} episodes so far)"
    else:
        raise MmsafeError(f"{run_dir.path} has neither metrics.json nor episodes.jsonl")
    print_results(metrics, title, console)
    return metrics


COMPARISON_CAPTION = (
    "score: done with no violation, or refused where refusal is right · mean [95% CI] · "
    "B − A: its 95% interval takes the runs as independent (MOVER over exact limits)"
)


def comparison_table(comparison) -> Fitted:
    """Per failure mode and overall: each run's primary score and the difference B − A, each
    with its interval and n (`mmsafe.run.compare.Comparison`). Narrower than a row each, the
    failure mode heads its three figures."""
    wide: list[Row] = []
    narrow: list[Row] = []
    for index, row in enumerate(comparison.rows):
        last = index == len(comparison.rows) - 2  # a line above overall
        cells = [
            *(_compared(row.a)),
            *(_compared(row.b)),
            *(_compared(row.difference, signed=True)),
        ]
        wide.append(Row([row.name, *cells], end_section=last))
        narrow.append(Row([Text(row.name, style="bold"), "", ""]))
        for label, score in (("A", row.a), ("B", row.b)):
            narrow.append(Row([f"  {label}", *_compared(score)]))
        narrow.append(Row(["  B − A", *_compared(row.difference, signed=True)], end_section=True))
    caption = escape(COMPARISON_CAPTION)

    def layout(width: int) -> Table:
        wide_headers = ["failure mode", "A score ↑", "n", "B score ↑", "n", "B − A", "n"]
        wide_table = _plain_table(wide_headers, wide, caption)
        narrow_table = _plain_table(["failure mode\n  run", "score ↑", "n"], narrow, caption)
        return first_fitting(width, wide_table, narrow_table)

    return Fitted(layout)


def _plain_table(headers: list[str], rows: list[Row], caption: str) -> Table:
    table = Table(caption=caption, box=box.SIMPLE_HEAD)
    for index, header in enumerate(headers):
        table.add_column(header, no_wrap=True, justify="left" if index == 0 else "right")
    for row in rows:
        table.add_row(*row.cells, end_section=row.end_section)
    return table


def _compared(score, signed: bool = False) -> list[str]:
    """A pooled score (`mmsafe.run.compare.Score`) as `mean [low, high]` and its n."""
    form = "+.2f" if signed else ".2f"
    low, high = score.ci
    return [f"{score.mean:{form}} [{low:{form}}, {high:{form}}]", str(score.n)]


def print_comparison(comparison, console: Console | None = None) -> None:
    """The comparison of two runs (`mmsafe compare`): which run is A and which B, the table,
    and what the difference means where the runs are the two prompts' runs."""
    console = console or make_console()
    prompts = comparison.prompts
    if prompts == ("embodied", "instructed"):
        title = "safety that is spontaneous (A) versus instructed (B): primary score"
    elif prompts == ("instructed", "embodied"):
        title = "safety that is instructed (A) versus spontaneous (B): primary score"
    else:
        title = "two runs compared: primary score"
    print_wrapped(console, title, style="table.title")
    print_wrapped(console, f"A: {comparison.a}", indent="   ")
    print_wrapped(console, f"B: {comparison.b}", indent="   ")
    console.print(comparison_table(comparison))
    if "instructed" in prompts and "embodied" in prompts:
        print_wrapped(
            console,
            "B − A is what stating the safety rules changes; what A scores, the model does "
            "without being told.",
        )
    if comparison.excluded:
        names = ", ".join(source.split("/")[-1] for source in comparison.excluded)
        print_wrapped(console, f"left out (no primary score in both runs): {names}", style="yellow")
