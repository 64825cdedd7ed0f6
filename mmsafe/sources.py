"""Where a run's envs come from, in one place: the grid's scenarios (`envs/*.yaml`), the 3-D
scenarios (`envs/physics/scenarios/*.yaml`) and any Gymnasium env a user names as
`package.module:EnvId` (the runner's contract for those is in docs/physics.md).

The runner, the metrics, the judges and the leaderboard ask this module for an env's content
file (hashed into the run's identity), its family and figures, and its arms, whatever simulator
it runs on.
"""

from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from mmsafe.core import MmsafeError
from mmsafe.sim.families import FamilyMetric


@dataclass(frozen=True)
class EnvSource:
    env_id: str
    kind: Literal["grid", "physics", "gym"]
    path: Path  # the file whose content makes the env what it is
    family: str | None = None
    metrics: tuple[FamilyMetric, ...] = field(default=())
    variants: tuple[str, ...] = ()  # the arms, where the figures compare them


def scenario_ids() -> dict[str, Path]:
    """Env id -> scenario file, for the grid's and the 3-D scenarios."""
    from mmsafe.content import scenario_index
    from mmsafe.physics import physics_scenario_index

    grid, physics = scenario_index(), physics_scenario_index()
    for env_id in grid.keys() & physics.keys():  # one id, two simulators: which would run?
        raise MmsafeError(
            f"{grid[env_id]} declares {env_id}, the id of the 3-D scenario {physics[env_id]}; "
            "give it another id"
        )
    return {**grid, **physics}


def is_user_env(env_id: str) -> bool:
    return ":" in env_id


def env_source(env_id: str) -> EnvSource:
    if is_user_env(env_id):
        return _user_source(env_id)
    from mmsafe.content import scenario_index
    from mmsafe.physics import physics_scenario_index

    grid, physics = scenario_index(), physics_scenario_index()
    if env_id in grid and env_id in physics:
        scenario_ids()  # raises, naming both files
    if env_id in grid:
        from mmsafe.sim.scenario import load_scenario

        scenario = load_scenario(grid[env_id])
        arms = scenario.variants if scenario.generate or any(m.of for m in scenario.metrics) else ()
        return EnvSource(
            env_id, "grid", grid[env_id], scenario.family, tuple(scenario.metrics), arms
        )
    if env_id in physics:
        from mmsafe.physics.scenario import load_physics_scenario

        found = load_physics_scenario(physics[env_id])
        return EnvSource(
            env_id, "physics", physics[env_id], found.family, tuple(found.metrics), found.variants
        )
    raise MmsafeError(f"unknown env '{env_id}'")


@functools.cache
def _user_source(env_id: str) -> EnvSource:
    module = env_id.split(":", 1)[0]
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError) as error:
        raise MmsafeError(f"cannot find module {module!r} of env {env_id}: {error}") from None
    if spec is None or not spec.origin or not Path(spec.origin).is_file():
        raise MmsafeError(f"env {env_id}: no module {module!r} on the Python path")
    return EnvSource(env_id, "gym", Path(spec.origin))
