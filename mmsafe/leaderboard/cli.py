"""`mmsafe leaderboard ...`: pack, validate, verify, build, heldout and schema."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.text import Text

from mmsafe.core import MmsafeError

USAGE = "mmsafe leaderboard {pack,validate,verify,build,heldout,schema} ..."
SCHEMA_DIR = Path("leaderboard") / "schema" / "v1"


def leaderboard_command(args: list[str], console: Console) -> int:
    parser = argparse.ArgumentParser(
        prog="mmsafe leaderboard", description="Submissions: pack, check, rank, publish."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    pack = commands.add_parser("pack", help="make a submission bundle of a finished run")
    pack.add_argument("run_dir")
    pack.add_argument("-o", "--out", help="bundle path (.tar.gz, .zip, or a folder)")
    pack.add_argument("--model", help="the model's name on the board (default: from the config)")
    pack.add_argument("--model-version", help="the model's version (default: its revision)")
    validate = commands.add_parser("validate", help="check a bundle against the schema")
    validate.add_argument("bundle")
    verify = commands.add_parser("verify", help="replay a bundle and recompute its metrics")
    verify.add_argument("bundle")
    verify.add_argument("--root", default="leaderboard", help="the folder with leaderboard.yaml")
    build = commands.add_parser("build", help="rank the submissions and write the static site")
    build.add_argument(
        "--root",
        default="leaderboard",
        help="a folder with submissions/ (and, optionally, leaderboard.yaml with the rules and "
        "heldout/); default: ./leaderboard, as in a checkout",
    )
    build.add_argument("--site", help="where the site goes (default ROOT/site)")
    heldout = commands.add_parser(
        "heldout", help="(maintainers) run a submitted agent on the held-out seeds"
    )
    heldout.add_argument("bundle")
    heldout.add_argument(
        "-n", "--seeds", type=int, default=100, help="held-out seeds per env (and arm)"
    )
    heldout.add_argument("--root", default="leaderboard")
    heldout.add_argument("--out", help="the private run directory (default runs/heldout/ID)")
    heldout.add_argument(
        "--tasks", help="the private split of the board's media tasks: a folder of task files"
    )
    heldout.add_argument("overrides", nargs="*", help="agent.KEY=VALUE, e.g. agent.base_url=...")
    schema = commands.add_parser("schema", help="write the bundle's JSON Schema files")
    schema.add_argument("--out", default=str(SCHEMA_DIR))
    parsed = parser.parse_args(args)
    return {
        "pack": _pack,
        "validate": _validate,
        "verify": _verify,
        "build": _build,
        "heldout": _heldout,
        "schema": _schema,
    }[parsed.command](parsed, console)


def _pack(parsed: argparse.Namespace, console: Console) -> int:
    from mmsafe.leaderboard.pack import pack
    from mmsafe.leaderboard.schema import read_bundle

    path = pack(parsed.run_dir, parsed.out, parsed.model, parsed.model_version)
    bundle = read_bundle(path)  # what we wrote must read back
    console.print(f"packed {_counts(bundle)} into {path}", highlight=False, markup=False)
    return 0


def _counts(bundle) -> str:
    samples = sum(r.sample is not None for r in bundle.episodes)
    return f"{bundle.model_name!r}: {len(bundle.episodes) - samples} episodes, {samples} samples"


def _validate(parsed: argparse.Namespace, console: Console) -> int:
    from mmsafe.leaderboard.schema import read_bundle

    bundle = read_bundle(parsed.bundle)
    console.print(f"valid: {_counts(bundle)}", highlight=False, markup=False)
    return 0


def _verify(parsed: argparse.Namespace, console: Console) -> int:
    from mmsafe.leaderboard.board import load_config
    from mmsafe.leaderboard.schema import read_bundle
    from mmsafe.leaderboard.verify import verify
    from mmsafe.report import Fitted, Row, detailed_table, first_fitting, print_wrapped

    config_path = Path(parsed.root) / "leaderboard.yaml"
    judges = load_config(config_path).judges if config_path.exists() else ["events", "refusal"]
    bundle = read_bundle(parsed.bundle)
    result = verify(bundle, judges).verification
    # the bundle's path and the details (episode keys, figures) wrap at spaces only, so that
    # they stay whole; narrow, each detail goes under its check
    print_wrapped(console, f"verification of {parsed.bundle}", style="table.title")
    rows = [
        Row([Text(check.name), "ok" if check.ok else "DIFFERS"], check.detail.split())
        for check in result.checks
    ]
    console.print(
        Fitted(
            lambda width: first_fitting(
                width,
                detailed_table(None, ["check", ""], rows, width, detail="detail", sep=" "),
                detailed_table(None, ["check\n  detail", ""], rows, width, sep=" "),
            )
        )
    )
    if result.verified:
        print_wrapped(console, f"verified: {_counts(bundle)}")
        return 0
    print_wrapped(console, f"NOT verified: {result.first_difference}")
    return 1


def _build(parsed: argparse.Namespace, console: Console) -> int:
    from mmsafe.leaderboard.board import build

    try:
        board = build(parsed.root, parsed.site, log=lambda line: console.print(line, markup=False))
    except KeyboardInterrupt as stopped:  # build writes the site last, and whole
        said = str(stopped) or "nothing was published: the site is as it was"
        raise KeyboardInterrupt(said) from None
    references = sum(entry.reference for entry in board.entries)
    shown = f"{len(board.entries) - references} ranked, " + (
        f"{references} reference lines, " if references else ""
    )
    console.print(f"{shown}{len(board.unverified)} not verified")
    return 0


def _heldout(parsed: argparse.Namespace, console: Console) -> int:
    from mmsafe.leaderboard.board import bundle_id
    from mmsafe.leaderboard.heldout import heldout_file, run_heldout

    if parsed.seeds < 1:
        raise MmsafeError("--seeds must be at least 1")
    result = run_heldout(
        parsed.bundle, parsed.seeds, parsed.root, parsed.out, parsed.overrides, parsed.tasks
    )
    primary = result.overall.primary
    shown = f"{primary.mean:.3f} [{primary.low:.3f}, {primary.high:.3f}]" if primary else "-"
    path = heldout_file(Path(parsed.root), bundle_id(Path(parsed.bundle)))
    console.print(
        f"held-out score {shown} over {result.episodes} episodes and {result.samples} samples "
        f"({_share(result.novel)} of the episodes in worlds no public seed shows); written to "
        f"{path}",
        highlight=False,
        markup=False,
    )
    return 0


def _schema(parsed: argparse.Namespace, console: Console) -> int:
    from mmsafe.leaderboard.schema import export_schemas

    for path in export_schemas(Path(parsed.out)):
        console.print(f"wrote {path}", highlight=False)
    return 0


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"
