"""Register every scenario in `envs/` as a Gymnasium env `mmsafe/<Id>-v<version>`.

This module is imported at interpreter start-up by the gymnasium hook, so it reads only each
file's `id` and `version` and imports nothing heavy; the env itself is built on `make`.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

from gymnasium.envs.registration import register, registry

from mmsafe.content import scenario_files

ENTRY_POINT = "mmsafe.sim.env:SafetyGridEnv"
_ID = re.compile(r"^id:\s*['\"]?([A-Za-z0-9]+)['\"]?\s*$", re.MULTILINE)
_VERSION = re.compile(r"^version:\s*(\d+)\s*$", re.MULTILINE)


def env_id_of(path: Path) -> str | None:
    """The env id a scenario file declares, read without parsing the whole file."""
    text = path.read_text()
    found = _ID.search(text)
    if not found:
        return None
    version = _VERSION.search(text)
    return f"mmsafe/{found.group(1)}-v{version.group(1) if version else 0}"


def register_envs() -> list[str]:
    """Register all scenarios (idempotent) and return their ids, in file order."""
    ids = []
    for path in scenario_files():
        env_id = env_id_of(path)
        if env_id is None:
            warnings.warn(f"{path}: no top-level 'id:' line; not registered", stacklevel=2)
            continue
        if env_id not in registry:
            register(id=env_id, entry_point=ENTRY_POINT, kwargs={"scenario": str(path)})
        ids.append(env_id)
    return ids
