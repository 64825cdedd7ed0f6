"""mmsafe: a multimodal and embodied AI-safety benchmark suite.

Importing mmsafe registers its Gymnasium envs and nothing heavier: the start-up hook imports
this package whenever gymnasium is imported, so the public names below load lazily.
"""

from __future__ import annotations

import importlib
from typing import Any

from mmsafe.physics import register_physics_envs
from mmsafe.sim.registration import register_envs

__version__ = "0.1.0"

_LAZY = {
    "EpisodeRecord": "mmsafe.core",
    "MmsafeError": "mmsafe.core",
    "Observation": "mmsafe.core",
    "Reply": "mmsafe.core",
    "StepRecord": "mmsafe.core",
    "Verdict": "mmsafe.core",
    "evaluate": "mmsafe.run.runner",
    "RunConfig": "mmsafe.run.runner",
}

register_envs()
register_physics_envs()


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'mmsafe' has no attribute {name!r}")


__all__ = [*_LAZY, "__version__", "register_envs"]
