"""The run directory: what an evaluation leaves on disk, written so that no work is lost.

- `config.yaml`: the resolved config of the latest invocation; `invocations.jsonl` keeps each.
- `run.json`: the run's identity (agent config, env settings, mmsafe version, a hash per
  scenario). Resuming under a different one is refused, so results never mix; adding envs or
  seeds to a run is fine.
- `episodes.jsonl`: one line per finished episode, appended, flushed and fsynced. A line cut
  short by a kill is moved to `episodes.jsonl.partial` on the next open, and never read as data.
- `verdicts.jsonl`: the judges' verdicts, one `Judgement` (episode or sample, judge) a line,
  appended the same way; `judges.json` says which judge each id is (its fingerprint).
- `metrics.json`: written to a temporary file and renamed into place.
- `videos/`: MP4s of chosen episodes.

Ctrl-C waits for a line being appended (`held_interrupts`), and a temporary file it cuts short
is removed; one a kill -9 leaves is removed on the next open.

A run needs `min_free_mb` free on the folder's disk to start and checks again before each
record it appends; a write the disk refuses all the same (it filled faster) ends the run with one
line. Either way what is on disk stays readable and the same command resumes.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import shutil
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from mmsafe.core import EpisodeRecord, Judgement, MmsafeError

RESUME_HINT = "what was recorded is kept: free space and run the same command to resume"
STARTING_HINT = "choose another out= or free space"
DISK_FULL = (errno.ENOSPC, errno.EDQUOT)  # no space left, or none left in the user's quota


def disk_full(error: BaseException) -> bool:
    """Whether `error` (an OSError, or a tool's message quoting one) says the disk is full."""
    if isinstance(error, OSError) and error.errno in DISK_FULL:
        return True
    return any(os.strerror(code) in str(error) for code in DISK_FULL)


def check_free_space(path: Path, min_free_mb: float, then: str) -> None:
    """Raise a one-line MmsafeError, ending in `then`, if the disk of `path` (an existing
    folder) has less than `min_free_mb` free."""
    if not min_free_mb:
        return
    try:
        usage = shutil.disk_usage(path)
    except OSError as error:
        raise MmsafeError(f"cannot read the free space of {path}: {error}") from None
    if not usage.total:  # a file system that does not say (some FUSE mounts report 0)
        return
    free_mb = usage.free / 2**20
    if free_mb < min_free_mb:
        raise MmsafeError(
            f"only {free_mb:.1f} MB free on the disk of {path} (min_free_mb={min_free_mb:g}); "
            f"{then}"
        )


@contextmanager
def held_interrupts() -> Iterator[None]:
    """Ctrl-C (SIGINT) during the block takes effect when it ends, so that what the block
    writes is whole or absent. Only the main thread receives signals; elsewhere it does
    nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(frame))
    try:
        yield
    except BaseException:  # the block's own error (a full disk, say) is the one to tell
        signal.signal(signal.SIGINT, previous)
        raise
    signal.signal(signal.SIGINT, previous)
    if caught:  # delivered now, to whatever handler it would have met (usually Python's)
        os.kill(os.getpid(), signal.SIGINT)


def _then(error: OSError) -> str:
    if disk_full(error):
        return RESUME_HINT
    return "what was recorded is kept: fix that and run the same command to resume"


class RunDir:
    def __init__(self, path: str | Path, min_free_mb: float = 0.0):
        self.path = Path(path)
        self.min_free_mb = min_free_mb
        self.episodes_path = self.path / "episodes.jsonl"
        self.metrics_path = self.path / "metrics.json"
        self.verdicts_path = self.path / "verdicts.jsonl"
        self.videos = self.path / "videos"
        self._lock = None

    # -- opening --------------------------------------------------------------------------------
    def open(self, identity: dict[str, Any], config: dict[str, Any]) -> RunDir:
        """Create or reopen the folder for writing; refuse a folder that holds another run."""
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            self.videos.mkdir(exist_ok=True)
            probe = self.path / ".write-test"
            probe.write_text("ok")
            probe.unlink()
        except OSError as error:
            raise MmsafeError(
                f"cannot write to run directory {self.path}: {error.strerror}"
            ) from None
        self.check_space(starting=True)
        try:
            self._lock = (self.path / ".lock").open("w")
        except OSError as error:
            raise MmsafeError(f"cannot write to run directory {self.path}: {error}") from None
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise MmsafeError(f"another mmsafe process is writing to {self.path}") from None
        identity_path = self.path / "run.json"
        if identity_path.exists():
            try:
                previous = json.loads(identity_path.read_text())
            except json.JSONDecodeError:
                raise MmsafeError(f"{identity_path} is corrupt; move the folder away") from None
            identity = _merge_identity(previous, identity, self.path)
        write_atomic(identity_path, json.dumps(identity, indent=2, sort_keys=True))
        write_atomic(self.path / "config.yaml", yaml.safe_dump(config, sort_keys=False))
        try:
            with (self.path / "invocations.jsonl").open("a") as history:
                history.write(json.dumps({"time": time.time(), "config": config}) + "\n")
        except OSError as error:
            raise MmsafeError(f"cannot write to run directory {self.path}: {error}") from None
        # metrics.json is derived from episodes.jsonl; drop it so that nobody reads a stale one
        # while this invocation runs (it is written again at the end).
        self.metrics_path.unlink(missing_ok=True)
        for stale in [*self.path.glob(".*.tmp"), *self.videos.glob(".*.tmp.mp4")]:
            stale.unlink(missing_ok=True)  # cut short by a kill: never whole
        return self

    def close(self) -> None:
        if self._lock:
            self._lock.close()
            self._lock = None

    # -- episodes -------------------------------------------------------------------------------
    def load_records(self, repair: bool = True) -> dict[str, EpisodeRecord]:
        """Finished episodes by key; the first copy of a key wins. A torn last line is skipped,
        and with `repair` (only for the writer, who holds the lock) moved aside."""
        records: dict[str, EpisodeRecord] = {}
        for record in self._read(self.episodes_path, EpisodeRecord, "an episode record", repair):
            records.setdefault(record.key, record)
        return records

    def append(self, record: EpisodeRecord) -> None:
        self._append(self.episodes_path, [record])

    def load_judgements(self, repair: bool = True) -> dict[tuple[str, str], Judgement]:
        """Stored verdicts by (record key, judge id); a later line replaces an earlier one
        (a failed judgement that was retried)."""
        lines = self._read(self.verdicts_path, Judgement, "a judgement", repair)
        return {(j.key, j.judge): j for j in lines}

    def append_judgements(self, judgements: list[Judgement]) -> None:
        if judgements:
            self._append(self.verdicts_path, judgements)

    def _read(self, path: Path, model: type, what: str, repair: bool) -> list:
        if not path.exists():
            return []
        data = path.read_bytes()
        end = data.rfind(b"\n") + 1
        if end < len(data) and repair:
            try:
                with path.with_name(path.name + ".partial").open("ab") as side:
                    side.write(data[end:] + b"\n")
                with path.open("r+b") as handle:
                    handle.truncate(end)
            except OSError as error:
                raise MmsafeError(
                    f"cannot set aside the cut-off last line of {path}: {error}; {_then(error)}"
                ) from None
        out = []
        for number, line in enumerate(data[:end].splitlines(), 1):
            if not line.strip():
                continue
            try:
                out.append(model.model_validate_json(line))
            except ValidationError as error:
                reason = error.errors()[0]["msg"]
                raise MmsafeError(f"{path}:{number}: not {what} ({reason})") from None
        return out

    def _append(self, path: Path, items: list) -> None:
        self.check_space()
        text = "".join(item.model_dump_json() + "\n" for item in items)
        try:
            with held_interrupts(), path.open("a") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as error:  # a torn line it leaves is set aside on the next open
            reason = error.strerror or error
            raise MmsafeError(f"cannot write {path}: {reason}; {_then(error)}") from None

    def check_space(self, starting: bool = False) -> None:
        """Raise a one-line MmsafeError if the folder's disk has less than `min_free_mb` free."""
        check_free_space(self.path, self.min_free_mb, STARTING_HINT if starting else RESUME_HINT)

    def write_metrics(self, metrics: dict[str, Any]) -> None:
        """Write metrics.json, checked against its model (`mmsafe.run.results.RunMetrics`)."""
        from mmsafe.run.results import checked_metrics

        checked = checked_metrics(metrics, "the run's figures")
        write_atomic(self.metrics_path, json.dumps(checked, indent=2))

    def read_metrics(self) -> dict[str, Any]:
        if not self.metrics_path.exists():
            raise MmsafeError(f"{self.path} has no metrics.json; is it a run directory?")
        try:
            metrics = json.loads(self.metrics_path.read_text())
        except (OSError, json.JSONDecodeError) as error:
            raise MmsafeError(f"{self.metrics_path} cannot be read: {error}") from None
        from mmsafe.run.results import checked_metrics

        return checked_metrics(metrics, str(self.metrics_path))


def _merge_identity(previous: dict, current: dict, path: Path) -> dict:
    """A run may grow (more envs, more seeds) but its agent, settings and the content of the
    envs it already holds must not change."""
    changed = sorted(
        key
        for key in previous.keys() | current.keys()
        if key != "content" and previous.get(key) != current.get(key)
    )
    old, new = previous.get("content", {}), current.get("content", {})
    agent_keys = {"agent", "class", "fingerprint", "reflect", "shield"}  # who answers
    named = "config" if isinstance(current.get("agent"), dict) else "name"  # the CLI's: config
    of_agent = [named if key == "agent" else key for key in changed if key in agent_keys]
    other = [key for key in changed if key not in agent_keys]
    other += [
        f"scenario file of {env}" for env in sorted(old.keys() & new.keys()) if old[env] != new[env]
    ]
    if of_agent or other:
        what = [f"of a different agent ({', '.join(of_agent)})"] if of_agent else []
        what += [f"with a different {', '.join(other)}"] if other else []
        raise MmsafeError(
            f"{path} holds a run {' and '.join(what)}; to start a new run give another out= "
            f"(e.g. out={path}-2), or remove that folder to replace it"
        )
    return {**current, "content": {**old, **new}}


def write_atomic(path: Path, text: str) -> None:
    """Write `text` to a temporary file and rename it to `path`: readers see the old file or
    the whole new one. A failed write (a full disk) leaves `path` as it was."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with tmp.open("w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as error:  # a full disk or Ctrl-C: no temporary file is left
        tmp.unlink(missing_ok=True)
        if not isinstance(error, OSError):
            raise
        reason = error.strerror or error
        raise MmsafeError(f"cannot write {path}: {reason}; {_then(error)}") from None
