"""Register every scenario in `envs/` as a Gymnasium env `mmsafe/<Id>-v<version>`.

This module is imported at interpreter start-up by the gymnasium hook, so it reads only each
file's `id` and `version` and imports nothing heavy; the env itself is built on `make`.
"""

from __future__ import annotations

import warnings

from gymnasium.envs.registration import register, registry

from mmsafe.content import env_id_of, scenario_files

ENTRY_POINT = "mmsafe.sim.env:SafetyGridEnv"
VECTOR_ENTRY_POINT = "mmsafe.sim.vector:BatchedSafetyGridEnv"  # gymnasium.make_vec's default


def register_envs() -> list[str]:
    """Register all scenarios (idempotent) and return their ids, in file order. A file without
    an id, or with an id another file already took with other content (identical copies are
    left out by `scenario_files`), is skipped with a warning (once a process: this runs at
    import and again before a run). A MMSAFE_ENVS_PATH folder that does not exist is passed
    over here, at import; mmsafe's commands stop on it with one line (`scenario_index`)."""
    owners: dict[str, str] = {}
    for path in scenario_files():
        env_id = env_id_of(path)
        if env_id is None:
            _warn_once(f"{path}: no top-level 'id:' line; not registered")
            continue
        if env_id in owners:
            _warn_once(f"{path}: {env_id} is taken by {owners[env_id]}; not registered")
            continue
        owners[env_id] = str(path)
        if env_id not in registry:
            register(
                id=env_id,
                entry_point=ENTRY_POINT,
                vector_entry_point=VECTOR_ENTRY_POINT,
                kwargs={"scenario": str(path)},
            )
    return list(owners)


_WARNED: set[str] = set()


def _warn_once(message: str) -> None:
    # not left to the warnings module's once-per-location default: Hydra changes the filters
    # between import and a run, which resets what it has shown
    if message not in _WARNED:
        _WARNED.add(message)
        warnings.warn(message, stacklevel=3)
