"""`agent_memory_mb`: the memory of the process that runs the agent, checked after every step.

An agent that leaks (a history it never clears, a cache that only grows) would otherwise take
the machine's memory until the kernel kills the run. Past the limit, the agent is rebuilt from
its config, which frees what it held; the units it was in the middle of are recorded as
`agent_error` (a rebuilt agent has lost their context) and the run goes on. Memory the rebuilt
agent does not free (a leak outside the agent object) stops the run with one line; the same
command then resumes it in a fresh process.

GPU memory is not watched here: torch raises `OutOfMemoryError` in the agent's call, which is
contained like any other error of the agent.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
from typing import TYPE_CHECKING

from mmsafe.core import MmsafeError

if TYPE_CHECKING:
    from mmsafe.run.pool import LocalPool

REBUILT = "memory: "  # how the error of a unit failed by a rebuild begins


def resident_mb() -> float:
    """This process's resident memory, in MB."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        pass
    try:
        import psutil
    except ImportError:
        raise MmsafeError(
            "agent_memory_mb needs /proc (Linux) or psutil here: pip install psutil"
        ) from None
    return psutil.Process().memory_info().rss / 2**20


def _release_freed_memory() -> None:
    gc.collect()
    # glibc keeps freed heap pages for reuse; hand them back so the check sees them go
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).malloc_trim(0)


class MemoryWatch:
    """Called after every lockstep step of `pool`: None while the process stays within
    `limit_mb`; else it replaces `pool.agent` with a rebuilt one and says why the units in
    flight were failed."""

    def __init__(self, limit_mb: float, pool: LocalPool):
        self.limit_mb, self.pool = limit_mb, pool
        resident_mb()  # an unsupported platform fails now, not after the first step

    def __call__(self) -> str | None:
        used = resident_mb()
        if used <= self.limit_mb:
            return None
        grown = f"the agent's process grew to {used:.1f} MB (agent_memory_mb={self.limit_mb:g})"
        if self.pool.rebuild is None:
            raise MmsafeError(
                f"stopped: {grown}, and this agent cannot be rebuilt here (give evaluate a "
                "LocalPool(agent, rebuild=...)); run the same command to resume in a fresh process"
            )
        self.pool.close()
        self.pool.agent = None  # type: ignore[assignment]  # its last reference, before the build
        _release_freed_memory()
        self.pool.agent = self.pool.rebuild()
        after = resident_mb()
        if after > self.limit_mb:
            raise MmsafeError(
                f"stopped: {grown}, and it still holds {after:.1f} MB with the agent rebuilt, so "
                "the memory is held outside the agent; the units in flight are not recorded: run "
                "the same command to resume in a fresh process (or raise agent_memory_mb)"
            )
        return f"{REBUILT}{grown}; the agent was rebuilt"
