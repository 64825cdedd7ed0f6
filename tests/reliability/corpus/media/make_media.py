"""Make the malformed media of the bad-input corpus from small real media (run from anywhere:
`python tests/reliability/corpus/media/make_media.py`). Needs imageio-ffmpeg, OpenCV, numpy.

Each file is a real file broken in one way; index.yaml (one folder up) says which loader reads
it and what its error must say. Keep them small: the whole corpus stays under 200 kB.
"""

from __future__ import annotations

import subprocess
import sys
import zlib
from pathlib import Path

import cv2
import numpy as np

HERE = Path(__file__).resolve().parent


def ffmpeg(*args: str) -> None:
    import imageio_ffmpeg

    exe = imageio_ffmpeg.get_ffmpeg_exe()
    subprocess.run([exe, "-loglevel", "error", "-y", *args], check=True)


def real_video(path: Path, audio: bool) -> bytes:
    """One second of a 32x24 test pattern at 10 fps (H.264), with a tone when `audio`."""
    video = ["-f", "lavfi", "-i", "testsrc=size=32x24:rate=10:duration=1"]
    sound = ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=8000:duration=1"]
    codecs = ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-threads", "1", "-bitexact"]
    ffmpeg(*video, *(sound if audio else []), *codecs, *(["-c:a", "aac"] if audio else []),
           "-shortest", str(path))  # fmt: skip
    return path.read_bytes()


def png_with_corrupt_body(width: int = 24, height: int = 16) -> bytes:
    """A PNG whose signature, header and chunk CRCs are right but whose image data is not a zlib
    stream: it looks like a PNG to everything that checks only the header."""
    pixels = np.random.default_rng(0).integers(0, 255, (height, width, 3), np.uint8)
    good = cv2.imencode(".png", pixels)[1].tobytes()
    at = good.index(b"IDAT") - 4
    length = int.from_bytes(good[at : at + 4], "big")
    body = bytes(b ^ 0x5A for b in good[at + 8 : at + 8 + length])  # scrambled, same length
    crc = zlib.crc32(b"IDAT" + body).to_bytes(4, "big")
    return good[:at] + good[at : at + 8] + body + crc + good[at + 12 + length :]


def main() -> int:
    scratch = HERE / ".scratch.mp4"
    try:
        with_audio = real_video(scratch, audio=True)
        (HERE / "truncated.mp4").write_bytes(with_audio[: len(with_audio) // 2])
        # cut near the end: the sound track's last packets are missing
        (HERE / "cut_short_sound.mp4").write_bytes(with_audio[: len(with_audio) * 9 // 10])
        (HERE / "silent.mp4").write_bytes(real_video(scratch, audio=False))
        ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:sample_rate=8000:duration=0.5",
               "-c:a", "aac", "-f", "mp4", str(scratch))  # fmt: skip
        (HERE / "sound_only.mp4").write_bytes(scratch.read_bytes())
    finally:
        scratch.unlink(missing_ok=True)
    (HERE / "text.mp4").write_text("This is a text file, not a video.\n")
    (HERE / "zero_bytes.jpg").write_bytes(b"")
    (HERE / "corrupt_body.png").write_bytes(png_with_corrupt_body())
    jpeg = cv2.imencode(".jpg", np.full((16, 16, 3), 128, np.uint8))[1].tobytes()
    (HERE / "header_only.jpg").write_bytes(jpeg[:20])  # the JPEG markers, no image data
    (HERE / "text.png").write_text("<html>not an image</html>\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
