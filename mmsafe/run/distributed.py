"""Distributed evaluation on Ray: `mmsafe eval runner=ray`.

The driver (this process) stays the only writer of the run directory, so resume, the lock and
the progress bar work as with the local runner. Each worker is a Ray actor that builds the agent
once from the resolved config, then runs the local runner's lockstep loop (`LocalPool.units`)
on units it takes from a shared queue, one whenever a slot of its batch frees up, and streams
back every finished record; the driver appends each as it arrives. So batches stay full, no
worker idles while units are left, and a worker that dies costs only the units it held. Ray is
imported only here, and only when a pool is made.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from mmsafe.core import MmsafeError
from mmsafe.run.pool import AgentInfo, Finished, LocalPool, Pool

if TYPE_CHECKING:
    from mmsafe.plan import AgentPlan
    from mmsafe.run.runner import RunConfig

INSTALL_HINT = "runner=ray needs Ray: pip install 'mmsafe[ray]'"
PROBE_TIMEOUT_S = 10.0
CLOSE_TIMEOUT_S = 30.0  # for the workers to close their agents before they are killed
SHOWN_KEYS = 3  # failed units named in an error, before "(+N more)"


class RunnerConfig(BaseModel):
    """The `runner` config group: `local` (this process) or `ray`."""

    model_config = ConfigDict(extra="forbid")
    name: Literal["local", "ray"] = "local"
    address: str | None = None  # None: a local cluster (or $RAY_ADDRESS); auto, HOST:PORT, ray://
    workers: int = Field(default=2, ge=1)
    cpus_per_worker: float = Field(default=1.0, gt=0)
    gpus_per_worker: float = Field(default=0.0, ge=0)
    start_timeout_s: float = Field(default=300.0, gt=0)  # for the cluster to place the workers
    runtime_env: dict[str, Any] | None = None  # Ray's runtime_env for the workers


def require_ray() -> Any:
    """The ray module, or a one-line MmsafeError saying how to install it."""
    try:
        import ray
    except ImportError:
        raise MmsafeError(INSTALL_HINT) from None
    return ray


class RayPool(Pool):
    """`settings.workers` Ray actors, each holding the agent `agent` plans (built from the
    plan's plain data by `mmsafe.building.build_agent`, on the worker). Starts (and at
    `close`, stops) a local Ray cluster unless Ray is already running."""

    def __init__(self, settings: RunnerConfig, agent_spec: AgentPlan):
        self.ray = require_ray()
        self.settings = settings
        self.workers: list[Any] = []
        self.queue: Any = None
        self.started_ray = _connect(self.ray, settings)
        try:
            self.info = self._start(agent_spec)
        except BaseException:
            self.close()
            raise

    def _start(self, agent_spec: AgentPlan) -> AgentInfo:
        ray, s = self.ray, self.settings
        remote = ray.remote(_Worker).options(num_cpus=s.cpus_per_worker, num_gpus=s.gpus_per_worker)
        threads = max(1, int(s.cpus_per_worker))
        self.workers = [remote.remote(agent_spec, threads) for _ in range(s.workers)]
        from ray.util.queue import Queue

        # the units of a run, taken by the workers as they have room (an actor of its own)
        self.queue = Queue(actor_options={"num_cpus": 0})
        try:  # placed: the constructor does no work, so this waits for resources only
            ray.get([w.ready.remote() for w in self.workers], timeout=s.start_timeout_s)
        except ray.exceptions.GetTimeoutError:
            raise MmsafeError(
                f"{s.workers} Ray workers of {s.cpus_per_worker:g} CPU and "
                f"{s.gpus_per_worker:g} GPU did not start within {s.start_timeout_s:g}s; the "
                f"cluster has {_resources(ray)} (lower runner.workers or the resources asked)"
            ) from None
        infos = self._get([w.start.remote() for w in self.workers])
        if any(info != infos[0] for info in infos):
            different = "; ".join(f"worker {i}: {info}" for i, info in enumerate(infos))
            raise MmsafeError(f"the Ray workers built different agents ({different})")
        return infos[0]

    def _get(self, refs: list) -> list:
        """ray.get, with an error raised in a worker (e.g. an agent that cannot be built) as
        its own one-line message."""
        try:
            return self.ray.get(refs)
        except self.ray.exceptions.RayTaskError as error:
            cause = error.cause
            if isinstance(cause, MmsafeError):
                raise MmsafeError(str(cause)) from None
            raise MmsafeError(f"a Ray worker failed: {_one_line(cause or error)}") from None

    def run(
        self,
        config: RunConfig,
        tasks: list,
        todo: list[str],
        finished: Callable[[Finished], None],
    ) -> None:
        if not todo:
            return
        shared = self.ray.put((config, tasks))  # sent once, not with every unit
        self._get([w.prepare.remote(shared) for w in self.workers])
        self.queue.get_nowait_batch(self.queue.qsize())  # what an earlier, failed run left
        self.queue.put_nowait_batch(todo)
        streams = {
            w.run.options(num_returns="streaming").remote(self.queue): i
            for i, w in enumerate(self.workers)
        }
        received, failures = self._drain(streams, finished)
        missing = [key for key in todo if key not in received]
        if missing:
            raise MmsafeError(_failure_message(failures, missing))

    def _drain(
        self, streams: dict[Any, int], finished: Callable[[Finished], None]
    ) -> tuple[set[str], list[str]]:
        """Hand on each unit as a worker yields it; the keys received and the failures."""
        ray = self.ray
        received: set[str] = set()
        failures = []
        while streams:
            [stream], _ = ray.wait(list(streams), num_returns=1)
            try:
                unit = ray.get(next(stream))
            except StopIteration:  # the queue is empty and this worker's units are done
                del streams[stream]
                continue
            except ray.exceptions.RayError as error:  # it died or raised: the others go on
                worker = streams.pop(stream)
                if isinstance(error, ray.exceptions.RayActorError):
                    failures.append(f"Ray worker {worker} died (its process ended; see Ray's log)")
                else:
                    cause = getattr(error, "cause", None) or error
                    failures.append(f"Ray worker {worker} failed: {_one_line(cause)}")
                continue
            received.add(unit.record.key)
            finished(unit)
        return received, failures

    def close(self) -> None:
        """Close the workers' agents and stop the workers (and Ray, if this pool started it)."""
        ray = self.ray
        if ray.is_initialized():
            if self.queue is not None:  # first, so that workers of a broken-off run stop
                self.queue.shutdown()
            if self.workers:
                try:
                    closing = [w.close.remote() for w in self.workers]
                    ray.wait(closing, num_returns=len(closing), timeout=CLOSE_TIMEOUT_S)
                finally:
                    for worker in self.workers:
                        ray.kill(worker)
        self.queue, self.workers = None, []
        if self.started_ray and ray.is_initialized():
            ray.shutdown()
        self.started_ray = False


class _Worker:
    """A Ray actor: builds the agent once, then runs units with the local lockstep loop."""

    def __init__(self, agent_spec: AgentPlan, threads: int):
        self.agent_spec, self.threads = agent_spec, threads
        self.pool: LocalPool | None = None
        self.work: tuple[Any, list] | None = None

    def ready(self) -> bool:
        return True

    def start(self) -> AgentInfo:
        from mmsafe.building import build_agent, import_from_cwd
        from mmsafe.sim.registration import register_envs

        register_envs()
        import_from_cwd(self.agent_spec.cwd)  # the driver's: the user's own modules
        plan = self.agent_spec
        self.pool = LocalPool(build_agent(plan), rebuild=lambda: build_agent(plan))
        torch = sys.modules.get("torch")
        if torch is not None:  # the agent uses torch: one thread per CPU this worker reserved
            torch.set_num_threads(self.threads)
        return self.pool.info

    def prepare(self, shared: tuple[Any, list]) -> None:
        self.work = shared  # (RunConfig, loaded tasks): the same for every unit of the run

    def run(self, queue: Any) -> Iterator[Finished]:
        """The units this worker takes from `queue`, one whenever a slot of its lockstep batch
        is free (so batches stay full and no worker idles while units are left), each yielded
        as it finishes."""
        from ray.util.queue import Empty

        assert self.pool is not None and self.work is not None, "start() and prepare() first"

        def keys() -> Iterator[str]:
            while True:
                try:
                    yield queue.get_nowait()
                except Empty:
                    return

        config, tasks = self.work
        yield from self.pool.units(config, tasks, keys())

    def close(self) -> None:
        if self.pool:
            self.pool.close()


def _connect(ray: Any, settings: RunnerConfig) -> bool:
    """Start or join Ray; True when this call started it (so the pool stops it again)."""
    if ray.is_initialized():  # the caller's own ray.init(...) wins
        return False
    address = settings.address
    if address not in (None, "auto", "local"):
        _probe(address)
    try:
        ray.init(
            address=address,
            include_dashboard=False,
            logging_level="WARNING",
            runtime_env=settings.runtime_env,
        )
    except Exception as error:
        where = f"the Ray cluster at {address}" if address else "a local Ray cluster"
        raise MmsafeError(f"cannot start or reach {where}: {_one_line(error)}") from None
    local = address in (None, "local") and not (address is None and os.environ.get("RAY_ADDRESS"))
    if local:  # a local cluster never grows: asking for more than it has would wait forever
        total = ray.cluster_resources()
        asked = (("CPU", settings.cpus_per_worker), ("GPU", settings.gpus_per_worker))
        for resource, each in asked:
            need, have = settings.workers * each, total.get(resource, 0)
            if need > have:
                ray.shutdown()
                raise MmsafeError(
                    f"runner=ray asks for {settings.workers} workers x {each:g} {resource} but "
                    f"this machine's Ray cluster has {have:g}; lower runner.workers or "
                    f"runner.{resource.lower()}s_per_worker (e.g. 0.5 for agents that wait on a "
                    "server)"
                )
    return True


def _probe(address: str) -> None:
    """Fail in seconds on an address nothing listens at (ray.init retries for minutes)."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise MmsafeError(f"runner.address {address!r} is not auto, HOST:PORT or ray://HOST:PORT")
    try:
        socket.create_connection((host, int(port)), timeout=PROBE_TIMEOUT_S).close()
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise MmsafeError(f"cannot reach the Ray cluster at {address}: {reason}") from None


def _resources(ray: Any) -> str:
    total = ray.cluster_resources()
    return ", ".join(f"{total.get(r, 0):g} {r}" for r in ("CPU", "GPU"))


def _failure_message(failures: list[str], missing: list[str]) -> str:
    shown = ", ".join(missing[:SHOWN_KEYS])
    more = f" (+{len(missing) - SHOWN_KEYS} more)" if len(missing) > SHOWN_KEYS else ""
    return (
        f"{'; '.join(failures) or 'Ray workers stopped early'}; {len(missing)} units not "
        f"finished: {shown}{more}; the finished ones are saved: rerun the same command to resume"
    )


def _one_line(error: BaseException, limit: int = 300) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    text = f"{type(error).__name__}: {text}" if not text.startswith(type(error).__name__) else text
    return text if len(text) <= limit else text[: limit - 3] + "..."
