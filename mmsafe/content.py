"""Where the suite's content lives: `envs/` and `tasks/` from a checkout or an installed wheel.

A wheel carries the folders as `mmsafe/_content/<name>`; a checkout (or an editable install) has
them at the repository root. `MMSAFE_ENVS_PATH` adds folders of your own scenarios (separated by
the OS path separator), so a new scenario needs a YAML file and nothing else. A folder may repeat
the shipped files (a copy of envs/): identical files are skipped; one id with two contents is an
error, as results under an id must mean one scenario.

This module is imported at gymnasium start-up (see mmsafe_gymnasium_hook.py): keep it light.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
_ID = re.compile(r"^id:\s*['\"]?([A-Za-z0-9]+)['\"]?\s*(?:#.*)?$", re.MULTILINE)
_VERSION = re.compile(r"^version:\s*['\"]?(\d+)['\"]?\s*(?:#.*)?$", re.MULTILINE)


def content_dir(name: str) -> Path:
    """The built-in `envs` or `tasks` folder."""
    for candidate in (PACKAGE_DIR / "_content" / name, PACKAGE_DIR.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"mmsafe's '{name}' folder is missing from {PACKAGE_DIR}; reinstall")


ENVS_PATH = "MMSAFE_ENVS_PATH"


def scenario_dirs() -> list[Path]:
    extra = [Path(p) for p in os.environ.get(ENVS_PATH, "").split(os.pathsep) if p]
    return [content_dir("envs"), *extra]


def scenario_files() -> list[Path]:
    """Every scenario file, built-in first; files starting with '_' are not scenarios. A file
    identical to one before it is left out, silently: it adds nothing (a copy of the shipped
    folder on MMSAFE_ENVS_PATH, say the checkout's envs/ next to an installed wheel)."""
    files: list[Path] = []
    seen: set[bytes] = set()
    for folder in scenario_dirs():
        for path in sorted(p for p in folder.glob("*.yaml") if not p.name.startswith("_")):
            try:
                content = path.read_bytes()
            except OSError:  # kept: reading it again names the problem
                files.append(path)
                continue
            if content not in seen:
                seen.add(content)
                files.append(path)
    return files


def env_id_of(path: Path) -> str | None:
    """The env id a scenario file declares, read without parsing the whole file (cheap enough
    for start-up). `load_scenario` checks that the full parse agrees. None for a file with no
    id, or one that is not UTF-8 text (so that gymnasium's start-up never fails on it)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    found = _ID.search(text)
    if not found:
        return None
    version = _VERSION.search(text)
    return f"mmsafe/{found.group(1)}-v{version.group(1) if version else 0}"


def scenario_index() -> dict[str, Path]:
    """Env id -> scenario file. Two files declaring one id are an error, never a silent pick."""
    from mmsafe.core import MmsafeError

    for folder in scenario_dirs()[1:]:  # a typo would silently leave your scenarios out
        if not folder.is_dir():
            raise MmsafeError(f"{ENVS_PATH} names {folder}, which is not a folder; fix or unset it")
    index: dict[str, Path] = {}
    for path in scenario_files():
        env_id = env_id_of(path)
        if env_id is None:
            raise MmsafeError(f"{path}: no top-level 'id:' line (or not readable UTF-8 text)")
        if env_id in index:  # identical copies never get here (scenario_files)
            raise MmsafeError(
                f"{path} and {index[env_id]} both declare {env_id}, with different content; "
                "give one of them another id (or version): an id names one scenario"
            )
        index[env_id] = path
    return index
