"""Where the suite's content lives: `envs/` and `tasks/` from a checkout or an installed wheel.

A wheel carries the folders as `mmsafe/_content/<name>`; a checkout (or an editable install) has
them at the repository root. `MMSAFE_ENVS_PATH` adds folders of your own scenarios (separated by
the OS path separator), so a new scenario needs a YAML file and nothing else.
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def content_dir(name: str) -> Path:
    """The built-in `envs` or `tasks` folder."""
    for candidate in (PACKAGE_DIR / "_content" / name, PACKAGE_DIR.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        f"mmsafe's '{name}' folder is missing from {PACKAGE_DIR}; reinstall mmsafe"
    )


def scenario_dirs() -> list[Path]:
    extra = [Path(p) for p in os.environ.get("MMSAFE_ENVS_PATH", "").split(os.pathsep) if p]
    return [content_dir("envs"), *extra]


def scenario_files() -> list[Path]:
    """Every scenario file, built-in first; files starting with '_' are not scenarios."""
    files: list[Path] = []
    for folder in scenario_dirs():
        files.extend(sorted(p for p in folder.glob("*.yaml") if not p.name.startswith("_")))
    return files
