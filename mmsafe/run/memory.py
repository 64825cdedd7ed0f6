"""`agent_memory_mb`: the memory of the process that runs the agent, checked after every step.

An agent that leaks (a history it never clears, a cache that only grows) would otherwise take
the machine's memory until the kernel kills the run. Past the limit, the agent is rebuilt from
its config, which frees what it held, and the run goes on: the units it was in the middle of
start over from their seeds with the new agent (`pool.lockstep`), and one cut short twice is
recorded as `agent_error`. Memory the rebuilt agent does not free (a leak outside the agent
object), a rebuild that fails, or an agent that outgrows the limit again before any unit ends,
stops the run with one line; the same command then resumes it in a fresh process.

GPU memory is not watched here: torch raises `OutOfMemoryError` in the agent's call, which is
contained like any other error of the agent.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import threading
import warnings
from typing import TYPE_CHECKING

from mmsafe.core import MmsafeError, one_line

if TYPE_CHECKING:
    from mmsafe.run.pool import LocalPool


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


def release_freed_memory() -> None:
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
        if used > self.limit_mb:  # freed but not yet returned (e.g. by video rendering)?
            release_freed_memory()
            used = resident_mb()
        if used <= self.limit_mb:
            return None
        grown = f"the agent's process grew to {used:.1f} MB (agent_memory_mb={self.limit_mb:g})"
        if self.pool.rebuild is None:
            raise MmsafeError(
                f"stopped: {grown}, and this agent cannot be rebuilt here (give evaluate a "
                "LocalPool(agent, rebuild=...)); run the same command to resume in a fresh process"
            )
        try:
            self.pool.close()
            self.pool.agent = None  # type: ignore[assignment]  # its last reference, before the build
            release_freed_memory()
            self.pool.agent = self.pool.rebuild()
        except Exception as error:  # e.g. out of GPU memory while the old model is still held
            failure = one_line(f"{type(error).__name__}: {error}")
            raise MmsafeError(
                f"stopped: {grown}, and rebuilding the agent failed ({failure}); the "
                "units in flight are not recorded: run the same command to resume"
            ) from None
        after = resident_mb()
        if after > self.limit_mb:
            raise MmsafeError(
                f"stopped: {grown}, and it still holds {after:.1f} MB with the agent rebuilt: "
                "the agent needs more than that, or the memory is held outside it"
                f"{_hung_calls()}; the units in flight are not recorded: run the same command "
                "to resume in a fresh process (raise agent_memory_mb if it is too low)"
            )
        warnings.warn(
            f"{grown}: the agent was rebuilt, and the units in flight start over",
            RuntimeWarning,
            stacklevel=2,
        )
        return f"memory: {grown}; the agent was rebuilt"


def _hung_calls() -> str:
    """Agent calls that timed out still run, holding the old agent; they may be what holds it."""
    hung = sum(1 for thread in threading.enumerate() if thread.name == "mmsafe-agent")
    return f" (e.g. by {hung} timed-out agent calls still running)" if hung else ""
