"""Media loading: video frames and audio via decord, images via OpenCV (Pillow as a fallback).

Every problem with a file (missing, corrupt, truncated, no audio track, ...) is raised as a
one-line `MediaError` naming the file, so the runner can mark that sample failed and go on.
A missing optional dependency is an `MmsafeError` instead: it is not the sample's fault.
"""

from __future__ import annotations

import math
import os
import re
import stat
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from mmsafe.core import MmsafeError

_EPS = 1e-6  # tolerance when comparing float seconds with frame timestamps


DEFAULT_FRAMES = 8


class MediaError(MmsafeError):
    """A media file cannot be used: names the file and the problem, in one line."""


@dataclass(frozen=True)
class FrameSpec:
    """Which frames to take from a video.

    At most one of `count` (k frames spread uniformly over the window) and `fps` (one frame every
    1/fps seconds) is set; with neither, 8 frames are taken uniformly. `start_s`/`end_s` bound
    the window in seconds (end None = end of video). `size` resizes so the longer side is `size`
    pixels.
    """

    count: int | None = None
    fps: float | None = None
    start_s: float = 0.0
    end_s: float | None = None
    size: int | None = None

    def __post_init__(self) -> None:
        def bad(problem: str) -> MediaError:
            return MediaError(f"bad frame sampling settings: {problem}")

        if self.count is not None and self.fps is not None:
            raise bad("set count (uniform) or fps (fixed rate), not both")
        if self.count is None and self.fps is None:
            object.__setattr__(self, "count", DEFAULT_FRAMES)
        if self.count is not None and not _is_pos_int(self.count):
            raise bad(f"count must be a positive integer, got {self.count!r}")
        if self.fps is not None and not (self.fps > 0 and math.isfinite(self.fps)):
            raise bad(f"fps must be a positive number, got {self.fps!r}")
        _check_window(self.start_s, self.end_s, bad)
        if self.size is not None and not _is_pos_int(self.size):
            raise bad(f"size must be a positive integer, got {self.size!r}")


@dataclass(frozen=True)
class VideoClip:
    """Sampled frames (RGB uint8 HxWx3, read-only: clips are shared through the cache)."""

    frames: tuple[np.ndarray, ...]
    timestamps: tuple[float, ...]  # presentation time of each frame, seconds from the start
    fps: float  # the source's average frame rate
    duration_s: float  # the source's duration


@dataclass(frozen=True)
class Audio:
    samples: np.ndarray  # float32 mono, 1-D, read-only
    sample_rate: int


def _is_pos_int(x: Any) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, bool) and x >= 1


def _check_window(start_s: float, end_s: float | None, bad: Any) -> None:
    if not (math.isfinite(start_s) and start_s >= 0):
        raise bad(f"start_s must be >= 0, got {start_s!r}")
    if end_s is not None and not (math.isfinite(end_s) and end_s > start_s):
        raise bad(f"end_s must be greater than start_s ({start_s}), got {end_s!r}")


# --- cache ----------------------------------------------------------------------------------
# Decoding dominates the cost of a media sample, and the same sample is often loaded more than
# once (several agents, retries, judges). Bounded by entries and bytes so long runs stay flat.
_CACHE_MAX_ENTRIES = 64
_CACHE_MAX_BYTES = 512 * 2**20
_cache: OrderedDict[tuple, tuple[Any, int]] = OrderedDict()
_cache_bytes = 0
_cache_lock = threading.Lock()


def clear_cache() -> None:
    """Forget every decoded clip and audio track."""
    global _cache_bytes
    with _cache_lock:
        _cache.clear()
        _cache_bytes = 0


def _cached(key: tuple, nbytes: Any, make: Any) -> Any:
    global _cache_bytes
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key][0]
    value = make()  # decode outside the lock: two threads may decode the same file once each
    size = nbytes(value)
    with _cache_lock:
        if key not in _cache and size <= _CACHE_MAX_BYTES:
            _cache[key] = (value, size)
            _cache_bytes += size
            while len(_cache) > _CACHE_MAX_ENTRIES or _cache_bytes > _CACHE_MAX_BYTES:
                _cache_bytes -= _cache.popitem(last=False)[1][1]
    return value


def _file_key(path: str | Path) -> tuple[Path, int, int]:
    """Check the file exists and is a non-empty regular file; key it by content identity.
    One resolve and one stat: this is most of the cost of a cache hit."""
    try:
        resolved = Path(path).resolve()
        st = resolved.stat()
    except (FileNotFoundError, NotADirectoryError):
        raise MediaError(f"{path}: no such file") from None
    except OSError as e:
        raise MediaError(f"{path}: cannot read file ({e.strerror or e})") from None
    if stat.S_ISDIR(st.st_mode):
        raise MediaError(f"{path}: is a directory, not a file")
    if not stat.S_ISREG(st.st_mode):
        raise MediaError(f"{path}: not a regular file")
    if not os.access(resolved, os.R_OK):
        raise MediaError(f"{path}: permission denied")
    if st.st_size == 0:
        raise MediaError(f"{path}: file is empty (0 bytes)")
    return resolved, st.st_size, st.st_mtime_ns


# --- decord ---------------------------------------------------------------------------------
def _decord() -> Any:
    try:
        import decord
    except ImportError:
        msg = "loading video or audio needs decord: pip install 'mmsafe[video]'"
        raise MmsafeError(msg) from None
    # FFmpeg logs every corrupt packet to stderr; failures reach the user as MediaError instead.
    decord.logging.set_level(decord.logging.QUIET)
    return decord


# Top-level box types of MP4/MOV files (ISO/IEC 14496-12 and QuickTime): only a box of one of
# these that runs past the end of the file says it was cut; other bytes after the last box
# (a phone's trailer, say) are left for decord to judge.
_TOP_BOXES = {
    b"ftyp", b"moov", b"mdat", b"moof", b"mfra", b"free", b"skip", b"wide", b"uuid", b"sidx",
    b"ssix", b"styp", b"meta", b"pdin", b"emsg", b"prft", b"pnot", b"udta",
}  # fmt: skip


def _check_whole(path: str | Path) -> None:
    """Refuse an MP4/MOV (ISO base media file) whose top-level boxes end past the end of the
    file: a download or copy cut short. decord reads such a file in a thread of its own, so
    whether frames before the cut decode was a race (the same file loaded or failed from one
    run to the next); checking the box sizes makes it fail the same way every time."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if f.read(8)[4:8] not in _TOP_BOXES:
            return  # not an ISO base media file (WebM, AVI, ...): decord alone judges it
        offset = 0
        for _ in range(100_000):  # a few boxes in practice; the bound stops a crafted loop
            f.seek(offset)
            header = f.read(16)
            kind = header[4:8]
            if len(header) < 8 or kind not in _TOP_BOXES:
                return  # the end, or bytes that are no box: decord judges them
            length = int.from_bytes(header[:4], "big")
            if length == 1:  # a 64-bit size follows the type (a file cut inside it is cut)
                length = int.from_bytes(header[8:16], "big") if len(header) == 16 else size + 1
            elif length == 0:  # the box runs to the end of the file
                return
            elif length < 8:
                return  # not a box size; leave the verdict to decord
            if offset + length > size:
                raise MediaError(
                    f"{path}: file is truncated: its '{kind.decode()}' box ends at byte "
                    f"{offset + length}, the file has {size} bytes"
                )
            offset += length


def _decord_error(path: str | Path, what: str, e: BaseException) -> MediaError:
    # decord messages look like "[12:00:00] /src/a.cc:9: [12:00:00] /src/b.cc:7: Check failed:
    # call(x) >= 0 (-22 vs. 0) Error while ...": keep the words after the C++ noise, on one line.
    lines = str(e).strip().splitlines()
    msg = re.sub(r"\[[\d:]+\] \S+:\d+: ", "", lines[0] if lines else "")
    msg = re.sub(r"Check failed: .*?\(-?\d+ vs\. -?\d+\) ?", "", msg).strip()
    if "find audio stream" in msg:
        return MediaError(f"{path}: has no audio track")
    if "find video stream" in msg:
        return MediaError(f"{path}: has no video stream")
    if "frame count" in msg:  # decord asserts a positive frame count when opening
        return MediaError(f"{path}: video has zero frames")
    detail = f" ({type(e).__name__}: {msg[:160]})" if msg else f" ({type(e).__name__})"
    return MediaError(f"{path}: {what}, the file may be corrupt or truncated{detail}")


def _resize(img: np.ndarray, size: int | None) -> np.ndarray:
    h, w = img.shape[:2]
    if size is None or max(h, w) == size:
        return img
    scale = size / max(h, w)
    new = (max(1, round(w * scale)), max(1, round(h * scale)))
    # INTER_AREA averages source pixels when shrinking (no aliasing); it is blocky when enlarging.
    return cv2.resize(img, new, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)


def _pick(starts: np.ndarray, spec: FrameSpec, duration: float) -> np.ndarray:
    """Frame indices for `spec`, given each frame's start time in seconds."""
    end = duration if spec.end_s is None else min(spec.end_s, duration)
    if spec.fps is not None:
        # one target time every 1/fps s; each takes the frame on screen at that time. Above the
        # source rate targets repeat frames: those are dropped, so no frame appears twice.
        times = spec.start_s + np.arange(math.ceil((end - spec.start_s) * spec.fps)) / spec.fps
        idx = np.searchsorted(starts, times[times < end] + _EPS, side="right") - 1
        return np.unique(np.clip(idx, 0, len(starts) - 1))
    window = np.flatnonzero((starts >= spec.start_s - _EPS) & (starts < end - _EPS))
    if len(window) == 0:  # window narrower than one frame: the frame on screen at start_s
        window = np.array([max(0, np.searchsorted(starts, spec.start_s + _EPS, "right") - 1)])
    k = spec.count or 1
    if len(window) <= k:
        return window
    # the centre frame of each of k equal segments (as in TSN and common video-QA benchmarks)
    return window[((np.arange(k) + 0.5) * len(window) / k).astype(int)]


def load_video(path: str | Path, spec: FrameSpec | None = None) -> VideoClip:
    """Decode the frames `spec` selects (default: 8 uniform frames over the whole video)."""
    spec = spec or FrameSpec()
    key = ("video", *_file_key(path), spec)
    return _cached(key, lambda c: sum(f.nbytes for f in c.frames), lambda: _decode(path, spec))


def _decode(path: str | Path, spec: FrameSpec) -> VideoClip:
    decord = _decord()
    _check_whole(path)
    try:
        vr = decord.VideoReader(str(path), ctx=decord.cpu(0))
        n = len(vr)
        pts = vr.get_frame_timestamp(np.arange(n)) if n else np.zeros((0, 2))
        src_fps = float(vr.get_avg_fps())
    except Exception as e:  # DECORDError, RuntimeError, AssertionError ("frame count: 0")
        raise _decord_error(path, "cannot open video", e) from None
    if n == 0:
        raise MediaError(f"{path}: video has zero frames")
    duration = float(pts[-1, 1]) if pts[-1, 1] > 0 else n / (src_fps or 1.0)
    if spec.start_s >= duration:
        raise MediaError(f"{path}: window starts at {spec.start_s}s, video is {duration:.3f}s")
    idx = _pick(pts[:, 0], spec, duration)
    try:
        # The container's index can list frames whose data is cut off or corrupt: get_batch is
        # where that shows, so a truncated file fails here and not at open.
        batch = vr.get_batch(idx.tolist()).asnumpy()
    except Exception as e:
        raise _decord_error(path, "cannot decode video frames", e) from None
    frames = []
    for f in batch:
        f = np.ascontiguousarray(_resize(f, spec.size))
        f.flags.writeable = False
        frames.append(f)
    return VideoClip(tuple(frames), tuple(float(t) for t in pts[idx, 0]), src_fps, duration)


def load_audio(
    path: str | Path, sample_rate: int = 16000, start_s: float = 0.0, end_s: float | None = None
) -> Audio:
    """Decode the audio track as float32 mono at `sample_rate`, cut to [start_s, end_s).

    Time 0 is the start of the media timeline: where the audio stream starts late, it is padded
    with silence at the front (decord's own AVReader does the same), so times match the video's.
    """

    def bad(problem: str) -> MediaError:
        return MediaError(f"{path}: bad audio settings: {problem}")

    if not _is_pos_int(sample_rate):
        raise bad(f"sample_rate must be a positive integer, got {sample_rate!r}")
    _check_window(start_s, end_s, bad)
    key = ("audio", *_file_key(path), sample_rate, start_s, end_s)
    return _cached(
        key, lambda a: a.samples.nbytes, lambda: _decode_audio(path, sample_rate, start_s, end_s)
    )


def _decode_audio(path: str | Path, sr: int, start_s: float, end_s: float | None) -> Audio:
    decord = _decord()
    _check_whole(path)
    try:
        # AudioReader decodes and resamples the whole track up front, whatever the window.
        ar = decord.AudioReader(str(path), ctx=decord.cpu(0), sample_rate=sr, mono=True)
        ar.add_padding()
        # Read the padded array directly: decord 0.6's add_padding does not update the length
        # that indexing checks against, so ar[a:b] would drop the last samples.
        track = np.asarray(ar._array, dtype=np.float32).reshape(-1)
    except Exception as e:
        raise _decord_error(path, "cannot decode audio", e) from None
    if track.size == 0:
        raise MediaError(f"{path}: audio track has no samples")
    a = round(start_s * sr)
    b = track.size if end_s is None else min(track.size, round(end_s * sr))
    if a >= track.size:
        raise MediaError(f"{path}: window starts at {start_s}s, audio is {track.size / sr:.3f}s")
    samples = np.array(track[a:b])  # a copy, so the whole track can be freed
    samples.flags.writeable = False
    return Audio(samples, sr)


def load_av(
    path: str | Path, spec: FrameSpec | None = None, sample_rate: int = 16000
) -> tuple[VideoClip, Audio]:
    """Frames as in `load_video`, plus the audio of the same window [start_s, end).

    Uses VideoReader and AudioReader with the same window rather than decord's AVReader, which
    returns audio chopped per frame and reads it through add_padding's stale length. The window
    ends where the frames' window ends (the video's end if `spec.end_s` is None or beyond it),
    so AAC's padding after the last frame is cut off.
    """
    spec = spec or FrameSpec()
    clip = load_video(path, spec)
    end = clip.duration_s if spec.end_s is None else min(spec.end_s, clip.duration_s)
    return clip, load_audio(path, sample_rate, spec.start_s, end)


def load_image(path: str | Path, size: int | None = None) -> np.ndarray:
    """An image as RGB uint8 HxWx3 (the first frame of an animation; alpha dropped)."""
    if size is not None and not _is_pos_int(size):
        raise MediaError(f"{path}: bad image size {size!r}, must be a positive integer")
    _file_key(path)
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is not None and bgr.size:
        return _resize(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), size)
    try:  # OpenCV cannot read e.g. GIF in some builds; Pillow reads more formats
        from PIL import Image
    except ImportError:
        raise MediaError(f"{path}: OpenCV cannot read this image (Pillow reads more)") from None
    try:
        with Image.open(path) as im:
            im.seek(0)
            rgb = np.asarray(im.convert("RGB"), dtype=np.uint8)
    except Exception as e:  # UnidentifiedImageError, truncated data, decompression bomb
        raise MediaError(f"{path}: unsupported or corrupt image ({type(e).__name__})") from None
    return _resize(rgb, size)
