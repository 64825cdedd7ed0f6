"""Make the maintainers' held-out copies of the generated media tasks: for each task, another
set of samples of the same kind and size, drawn by its generator (assets/tasks/<dir>/make.py
--seed S) with a seed derived from the maintainers' secret, and a copy of its task YAML whose
manifest is the new one. A submitted agent run on these is scored on work it cannot have seen,
so an agent tuned to (or memorising) the public samples shows a public score well above its
held-out one. Env episodes have held-out seeds already (`seeds=heldout:N`); this is the same
for the media tasks.

    MMSAFE_HELDOUT_KEY=the-maintainers-secret \\
        python leaderboard/make_heldout_tasks.py OUT_DIR [--tasks VideoHazard,AVHazard,...]

OUT_DIR gets one folder of media and manifest per task and one YAML per task, named as in
tasks/, with the public task's id, version, prompt and choices: its source (`task/<Id>-v<N>`)
is the public one, so its scores sit beside the public scores. Run an agent on them by path,
e.g. `mmsafe eval agent=... suite.envs=[] 'suite.tasks=[OUT_DIR/injection.yaml,...]'` (not
through MMSAFE_TASKS_PATH, where they would clash with the public tasks of the same source).
The default is every task in tasks/ whose manifest a generator makes (the five media tasks).
A task's seed is sha256(f"{key}:task:{task_id}") as an integer modulo 2**31, so one key always
gives the same held-out set.

OUT_DIR is the maintainers' secret, like the key: never publish it, commit it or share its
samples (keep it outside the repository, or under the ignored runs/), or the held-out set is
public and catches nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import os
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
TASKS = ROOT / "tasks"
KEY = "MMSAFE_HELDOUT_KEY"


def task_seed(key: str, task_id: str) -> int:
    digest = hashlib.sha256(f"{key}:task:{task_id}".encode()).digest()
    return int.from_bytes(digest, "big") % 2**31


def generated_tasks() -> dict[str, tuple[Path, Path]]:
    """Task id -> (its YAML in tasks/, the generator of its manifest), for every public task whose
    manifest sits next to a make.py."""
    found = {}
    for path in sorted(TASKS.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or not data.get("manifest"):
            continue
        generator = (path.parent / data["manifest"]).resolve().parent / "make.py"
        if generator.is_file():
            found[str(data["id"])] = (path, generator)
    return found


def run_generator(generator: Path, out: Path, seed: int) -> None:
    """The generator's main(), imported from its file, writing into `out`."""
    name = f"heldout_{generator.parent.name}_make"
    spec = importlib.util.spec_from_file_location(name, generator)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    if module.main([str(out), "--seed", str(seed)]) != 0:
        raise SystemExit(f"error: {generator} failed")


def private_yaml(public: Path, manifest: str) -> str:
    """The public task file with its `manifest:` line pointing at `manifest`, and a header."""
    text, count = re.subn(
        r"^manifest:.*$", f"manifest: {manifest}", public.read_text(encoding="utf-8"), flags=re.M
    )
    if count != 1:
        raise SystemExit(f"error: {public} has {count} top-level manifest lines, not one")
    header = (
        f"# HELD-OUT copy of tasks/{public.name} made by leaderboard/make_heldout_tasks.py:\n"
        "# the maintainers' secret, never to be published.\n"
    )
    return header + text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path, help="where the private tasks go (keep it secret)")
    parser.add_argument("--tasks", help="comma-separated task ids (default: every generated task)")
    args = parser.parse_args(argv)
    key = os.environ.get(KEY)
    if not key:
        print(f"error: set {KEY} to the maintainers' secret key", file=sys.stderr)
        return 2
    known = generated_tasks()
    wanted = [t.strip() for t in args.tasks.split(",") if t.strip()] if args.tasks else list(known)
    unknown = [t for t in wanted if t not in known]
    if unknown or not wanted:
        choices = ", ".join(known)
        print(f"error: unknown task {', '.join(unknown) or '(none)'}; choose from {choices}",
              file=sys.stderr)  # fmt: skip
        return 2
    out = args.out_dir.resolve()
    out.mkdir(parents=True, exist_ok=True)
    for task_id in wanted:
        public, generator = known[task_id]
        folder = generator.parent.name
        run_generator(generator, out / folder, task_seed(key, task_id))
        (out / public.name).write_text(
            private_yaml(public, f"{folder}/manifest.jsonl"), encoding="utf-8"
        )
        print(f"{task_id}: {out / public.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
