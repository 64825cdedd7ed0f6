"""The runner: schedules episodes, writes the run directory, computes metrics."""

from mmsafe.run.metrics import summarize
from mmsafe.run.rundir import RunDir
from mmsafe.run.runner import RunConfig, VideoConfig, evaluate

__all__ = ["RunConfig", "RunDir", "VideoConfig", "evaluate", "summarize"]
