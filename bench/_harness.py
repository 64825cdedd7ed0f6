"""Shared timing and table code for the bench scripts: mmsafe against a plain peer, same run.

timed() interleaves the calls round-robin after one untimed warm-up each; timed_warm() times
cache hits; Row/Rows hold one mmsafe-vs-peer comparison each, with same()/diff() as the check;
table() and machine() print the report; ffmpeg(), make_video() and make_image() generate inputs.
A benchmark imports this with bench/ on sys.path (see loaders.py); run.py skips it ("_" name).
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

SLOW_CALL_S = 0.2  # with no repeat: 5 timed rounds when a call takes longer, else 9
WARM_CALLS = 200  # timed cache hits per warm row


# --- timing ---------------------------------------------------------------------------------
class Timings:
    """Seconds per timed call of each named call, round by round, and each one's first result."""

    def __init__(self, times: dict[str, list[float]], first: dict[str, Any]) -> None:
        self.times, self.first = times, first

    def __getitem__(self, name: str) -> list[float]:
        return self.times[name]


def timed(
    calls: dict[str, Callable[[], Any]], repeat: int | None, before: Callable[[], None]
) -> Timings:
    """Time each of `calls` over the same rounds.

    One untimed warm-up call each (page cache, lazy imports; its result is what gets checked),
    then `repeat` rounds calling each once, in an order rotated every round so that none always
    runs first. `before` runs untimed before every call. With no `repeat`: 9 rounds, or 5 when a
    warm-up call took SLOW_CALL_S or more.
    """
    first: dict[str, Any] = {}
    slowest = 0.0
    for name, fn in calls.items():
        before()
        t0 = time.perf_counter()
        first[name] = fn()
        slowest = max(slowest, time.perf_counter() - t0)
    n = repeat or (9 if slowest < SLOW_CALL_S else 5)
    names = list(calls)
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(n):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            before()
            t0 = time.perf_counter()
            out = calls[name]()
            times[name].append(time.perf_counter() - t0)
            del out  # freeing the result is not part of the call
    return Timings(times, first)


def timed_warm(fn: Callable[[], Any], calls: int = WARM_CALLS) -> tuple[list[float], bool]:
    """Seconds per cache hit: one call fills the cache, then `calls` timed calls, which must all
    return that same object (else they were not cache hits: the second value is False)."""
    filled = fn()
    times, hits = [], True
    for _ in range(calls):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
        hits = hits and _same_objects(out, filled)
    return times, hits


def _same_objects(a: Any, b: Any) -> bool:
    if isinstance(a, tuple) and isinstance(b, tuple):  # load_av's (clip, audio)
        return len(a) == len(b) and all(x is y for x, y in zip(a, b, strict=True))
    return a is b


def nothing() -> None:
    pass


# --- rows and checks ------------------------------------------------------------------------
@dataclass
class Row:
    file: str
    case: str
    mm: str
    mm_s: list[float]
    peer: str
    peer_s: list[float]
    check: str
    ok: bool = True
    paired: bool = True  # both timed in the same rounds: the ratio is the median of round ratios

    @property
    def mm_ms(self) -> float:
        return statistics.median(self.mm_s) * 1e3

    @property
    def peer_ms(self) -> float:
        return statistics.median(self.peer_s) * 1e3

    @property
    def ratios(self) -> list[float]:
        return [p / m for p, m in zip(self.peer_s, self.mm_s, strict=True)] if self.paired else []

    @property
    def ratio(self) -> float:
        return statistics.median(self.ratios) if self.paired else self.peer_ms / self.mm_ms

    @property
    def n(self) -> int:
        return len(self.mm_s)


class Rows(list):
    def __init__(self, file: str) -> None:
        super().__init__()
        self.file = file

    def add(
        self, case: str, mm: str, mm_s: list[float], peer: str, peer_s: list[float],
        check: str, ok: bool = True, paired: bool = True,
    ) -> None:  # fmt: skip
        self.append(Row(self.file, case, mm, mm_s, peer, peer_s, check, ok, paired))

    def warm(self, case: str, mm: str, warm: tuple[list[float], bool], peer: str,
             peer_s: list[float], check: str = "", ok: bool = True) -> None:  # fmt: skip
        times, hits = warm
        check = f"{check}; cache hit" if hits else f"{check}; NOT A CACHE HIT"
        self.add(case, mm, times, peer, peer_s, check.lstrip("; "), ok and hits, paired=False)


def stack(frames: Any) -> np.ndarray:
    return np.stack(list(frames)) if len(frames) else np.zeros((0, 0, 0, 3), np.uint8)


def same(a: Any, b: Any) -> tuple[str, bool]:
    """Must be identical (both sides decoded the same frames/samples)."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return f"MISMATCH shape {a.shape} vs {b.shape}", False
    if np.array_equal(a, b):
        return "equal", True
    return f"MISMATCH max|d|={np.abs(a.astype(float) - b.astype(float)).max():.3g}", False


def diff(a: Any, b: Any) -> str:
    """May differ (another decoder / another sampling rule): report how much."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return f"differs: shape {a.shape} vs {b.shape}"
    if np.array_equal(a, b):
        return "equal"
    return f"max|d|={np.abs(a.astype(float) - b.astype(float)).max():.3g}"


# --- files ----------------------------------------------------------------------------------
def ffmpeg(*args: str) -> None:
    import imageio_ffmpeg

    exe = imageio_ffmpeg.get_ffmpeg_exe()
    subprocess.run([exe, "-loglevel", "error", "-y", *args], check=True)


def make_video(path: Path, w: int, h: int, fps: int, secs: int, audio: bool) -> Path:
    """testsrc2 (moving, detailed) in H.264 (x264 defaults: keyframe every 250 frames)."""
    args = ["-f", "lavfi", "-i", f"testsrc2=size={w}x{h}:rate={fps}:duration={secs}"]
    if audio:  # a stereo 44.1 kHz tone in AAC, so decoding also downmixes and resamples
        args += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=44100:duration={secs}"]
    args += ["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p"]
    if audio:
        args += ["-c:a", "aac", "-ac", "2", "-shortest"]
    ffmpeg(*args, str(path))
    return path


def make_image(path: Path, w: int, h: int) -> Path:
    """A smooth pattern with noise, so it compresses like a photo, not like flat colour."""
    import cv2

    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.stack([128 + 100 * np.sin(x / 37 + c) * np.cos(y / 53 - c) for c in range(3)], -1)
    noise = np.random.default_rng(0).normal(0, 12, (h, w, 3))
    cv2.imwrite(str(path), np.clip(base + noise, 0, 255).astype(np.uint8))
    return path


# --- report ---------------------------------------------------------------------------------
def machine(libs: Iterable[str] = ()) -> str:
    """The machine, Python and numpy, then `libs`: the benchmark's own "name version" entries."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    versions = [f"python {platform.python_version()}", f"numpy {np.__version__}", *libs]
    return "\n".join(
        [
            f"machine: {platform.platform()}, {cpu}, {os.cpu_count()} CPUs ({cores} usable)",
            ", ".join(versions),
        ]
    )


def fmt_ms(ms: float) -> str:
    if ms >= 100:
        return f"{ms:.0f}"
    if ms >= 10:
        return f"{ms:.1f}"
    if ms >= 0.1:
        return f"{ms:.2f}"
    return f"{ms:.4f}"


def fmt_ratio(r: float) -> str:
    return f"{r:,.0f}x" if r >= 100 else f"{r:.2f}x"


def table(rows: list[Row]) -> str:
    head = ["file", "case", "mmsafe", "ms", "peer", "ms", "peer/mm", "range", "n", "check"]
    body, last = [], (None, None)
    for r in rows:
        file = r.file if r.file != last[0] else ""
        case = r.case if (r.file, r.case) != last else ""
        last = (r.file, r.case)
        spread = f"{min(r.ratios):.2f}-{max(r.ratios):.2f}" if r.paired else "-"
        body.append([file, case, r.mm, fmt_ms(r.mm_ms), r.peer, fmt_ms(r.peer_ms),
                     fmt_ratio(r.ratio), spread, str(r.n), r.check])  # fmt: skip
    widths = [max(len(x[i]) for x in [head, *body]) for i in range(len(head))]
    right = {3, 5, 6, 7, 8}

    def line(cells: list[str]) -> str:
        out = [
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(out).rstrip()

    lines = [line(head), "  ".join("-" * w for w in widths)]
    for cells in body:
        if cells[0] and len(lines) > 2:
            lines.append("")
        lines.append(line(cells))
    return "\n".join(lines)


def report(rows: list[Row], notes: str, start: float) -> int:
    """Print the table, the notes, every failed check and the total time; the exit status is 1
    when a check failed."""
    print(table(rows))
    print()
    print(notes)
    bad = [r for r in rows if not r.ok]
    for r in bad:
        print(f"CHECK FAILED: {r.case}: {r.check}")
    print(f"total {time.perf_counter() - start:.0f} s")
    return 1 if bad else 0
