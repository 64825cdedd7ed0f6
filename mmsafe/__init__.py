"""mmsafe: a multimodal and embodied AI-safety benchmark suite."""

from mmsafe.core import EpisodeRecord, MmsafeError, Observation, Reply, StepRecord, Verdict
from mmsafe.sim.registration import register_envs

__version__ = "0.1.0"

register_envs()

__all__ = [
    "EpisodeRecord",
    "MmsafeError",
    "Observation",
    "Reply",
    "StepRecord",
    "Verdict",
    "__version__",
    "register_envs",
]
