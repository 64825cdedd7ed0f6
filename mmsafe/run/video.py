"""MP4 episode videos: H.264 (plays in browsers) through the ffmpeg that imageio-ffmpeg, a core
dependency, ships. Where it has no ffmpeg for the platform, OpenCV's built-in MPEG-4 part 2
encoder is the named fallback: the file is whole, but browsers do not play it."""

from __future__ import annotations

import os
import re
import subprocess
import warnings
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np


def _prepare(frame: np.ndarray, scale: int) -> np.ndarray:
    if scale > 1:
        frame = cv2.resize(frame, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
    h, w = frame.shape[:2]
    return np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0)))  # yuv420p needs even sides


def write_mp4(path: Path, frames: Sequence[np.ndarray], fps: int = 4, scale: int = 2) -> Path:
    """Write RGB frames to `path` atomically (a temporary file renamed into place)."""
    if not frames:
        raise ValueError("no frames to write")
    frames = [_prepare(f, scale) for f in frames]
    tmp = path.with_name(f".{path.stem}.tmp.mp4")
    try:
        _encode(tmp, frames, fps, path)
        os.replace(tmp, path)
    except BaseException:  # a full disk, a failed encoder or Ctrl-C: no partial file is left
        tmp.unlink(missing_ok=True)
        raise
    return path


def _encode(path: Path, frames: list[np.ndarray], fps: int, final: Path) -> None:
    h, w = frames[0].shape[:2]
    try:
        from imageio_ffmpeg import get_ffmpeg_exe

        ffmpeg = get_ffmpeg_exe()
    except (ImportError, RuntimeError) as error:  # RuntimeError: no binary for this platform
        _warn_fallback(error)
        _encode_with_opencv(path, frames, fps, final)
        return
    # ffmpeg itself rather than imageio_ffmpeg.write_frames, which ignores ffmpeg's exit status
    # and so renames a file cut short by a full disk into place as if it were whole.
    command = [
        ffmpeg, "-y", "-v", "error",
        "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", str(fps), "-i", "-",
        "-an", "-vcodec", "libx264", "-pix_fmt", "yuv420p", "-crf", "25",
        "-threads", "1",  # x264 output depends on the thread count
        str(path),
    ]  # fmt: skip
    raw = b"".join(np.ascontiguousarray(frame).tobytes() for frame in frames)
    # A session of its own: Ctrl-C in a terminal signals the whole foreground process group,
    # and an ffmpeg stopped by it fails the video. The runner lets the episode's videos finish
    # before the interrupt takes effect; elsewhere subprocess.run kills ffmpeg on Ctrl-C.
    done = subprocess.run(
        command, input=raw, capture_output=True, check=False, start_new_session=True
    )
    if done.returncode != 0:
        said = [
            line
            for line in done.stderr.decode(errors="replace").strip().splitlines()
            if "Last message repeated" not in line
        ] or [f"exit status {done.returncode}"]
        # the line that names a full disk, wherever ffmpeg put it (it may say more after it)
        full = [line for line in said if "No space left" in line or "quota" in line.lower()]
        reason = re.sub(r"^\[[^]]*\]\s*", "", (full or said)[-1])  # "[muxer @ 0x...]" prefix
        raise OSError(f"ffmpeg could not write {final}: {reason}")


_warned: list[bool] = []


def _warn_fallback(error: Exception) -> None:
    if not _warned:  # once a process, not once a video
        _warned.append(True)
        warnings.warn(
            f"no ffmpeg from imageio-ffmpeg ({error}): episode videos are MPEG-4 part 2 from "
            "OpenCV, which browsers do not play; set IMAGEIO_FFMPEG_EXE to an ffmpeg with "
            "libx264 for H.264",
            stacklevel=3,
        )


def _encode_with_opencv(path: Path, frames: list[np.ndarray], fps: int, final: Path) -> None:
    h, w = frames[0].shape[:2]
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    if not out.isOpened():
        raise RuntimeError("OpenCV could not open an MP4 writer")
    for frame in frames:
        out.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    out.release()
    written = cv2.VideoCapture(str(path))  # OpenCV does not say whether its writes failed
    count = int(written.get(cv2.CAP_PROP_FRAME_COUNT)) if written.isOpened() else 0
    written.release()
    if count != len(frames):
        raise OSError(f"OpenCV could not write {final} ({count} of {len(frames)} frames)")
