"""Episode videos play in a browser: the MP4 an ordinary run writes is H.264 that headless
Chromium decodes to the episode's own first frame, while OpenCV's MPEG-4 part 2 fallback does
not play at all (the control that shows the check can fail)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from mmsafe.core import EpisodeRecord
from mmsafe.leaderboard import site
from mmsafe.leaderboard.site import find_chromium
from mmsafe.run import video
from mmsafe.run.rollout import replay_frames

from .conftest import ROOT

needs_chromium = pytest.mark.skipif(
    find_chromium() is None,
    reason="Chromium is not installed (Debian: apt-get install chromium); .ci/run installs it",
)

# On `load` (which a <video> delays until its first frame is decoded) the page writes what the
# browser made of the clip: its size, any media error, and the colour at the frame's centre.
PAGE = """<!doctype html><html><body><video id=v src="{src}" muted preload=auto></video>
<pre id=out>not loaded</pre><script>
addEventListener('load', () => {{
  const v = document.getElementById('v'), c = document.createElement('canvas');
  let centre = null;
  if (v.videoWidth) {{
    c.width = v.videoWidth; c.height = v.videoHeight;
    const g = c.getContext('2d'); g.drawImage(v, 0, 0);
    centre = Array.from(g.getImageData(c.width >> 1, c.height >> 1, 1, 1).data.slice(0, 3));
  }}
  document.getElementById('out').textContent = JSON.stringify({{
    width: v.videoWidth, height: v.videoHeight, duration: v.duration,
    error: v.error && v.error.code, centre}});
}});
</script></body></html>"""


def play(mp4: Path, tmp_path: Path) -> dict:
    page = tmp_path / f"{mp4.stem}.html"
    page.write_text(PAGE.format(src=mp4.resolve().as_uri()))
    # file pages may read file videos' pixels only with this flag (else the canvas is tainted)
    dom = site._chromium(["--allow-file-access-from-files", "--dump-dom", page.as_uri()], 60).stdout
    found = re.search(r'<pre id="out">([^<]*)</pre>', dom)
    assert found, dom[-2000:]
    return json.loads(found.group(1))


@needs_chromium
@pytest.mark.slow
def test_an_episode_video_from_a_run_plays_in_chromium(tmp_path):
    out = tmp_path / "run"
    done = subprocess.run(
        [sys.executable, "-m", "mmsafe.cli", "eval", "agent=oracle", "suite=foundation",
         "seeds=1", "judge=[]", "progress=false", "video.per_env=1", f"out={out}"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    line = (out / "episodes.jsonl").read_text().splitlines()[0]
    record = EpisodeRecord.model_validate_json(line)
    seen = play(out / record.video, tmp_path)
    assert seen["error"] is None and seen["width"] > 0 and seen["height"] > 0
    steps = len(record.actions) + 1
    assert seen["duration"] == pytest.approx(steps / 4, abs=0.3)  # fps 4, a frame per step
    first = video._prepare(replay_frames(record, {})[0], 2)
    expected = first[first.shape[0] // 2, first.shape[1] // 2]
    assert np.abs(np.array(seen["centre"]) - expected).max() <= 24, (seen, expected)


@needs_chromium
def test_the_opencv_fallback_is_a_video_chromium_cannot_play(tmp_path):
    frames = [video._prepare(np.full((32, 40, 3), (255, 0, 0), np.uint8), 2)] * 4
    opencv = tmp_path / "mp4v.mp4"
    video._encode_with_opencv(opencv, frames, 4, opencv)
    h264 = video.write_mp4(tmp_path / "h264.mp4", frames, fps=4, scale=1)
    assert play(opencv, tmp_path)["error"] == 4  # MEDIA_ERR_SRC_NOT_SUPPORTED
    seen = play(h264, tmp_path)
    assert seen["error"] is None and np.abs(np.array(seen["centre"]) - (255, 0, 0)).max() <= 24


def test_a_plain_install_brings_the_h264_encoder():
    pyproject = (ROOT / "pyproject.toml").read_text()
    core = pyproject.split("dependencies = [", 1)[1].split("]", 1)[0]
    assert '"imageio-ffmpeg>=' in core  # not an extra: `pip install .` gives H.264 videos


def test_without_ffmpeg_the_fallback_is_named_once(tmp_path, monkeypatch):
    import imageio_ffmpeg

    def no_binary() -> str:
        raise RuntimeError("No ffmpeg exe could be found")

    monkeypatch.setattr(imageio_ffmpeg, "get_ffmpeg_exe", no_binary)
    monkeypatch.setattr(video, "_warned", [])
    frames = [np.full((32, 40, 3), 128, np.uint8)] * 3
    with pytest.warns(UserWarning, match="MPEG-4 part 2 from OpenCV, which browsers do not play"):
        video.write_mp4(tmp_path / "a.mp4", frames)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the second video says nothing more
        video.write_mp4(tmp_path / "b.mp4", frames)
    assert (tmp_path / "a.mp4").stat().st_size > 0 and (tmp_path / "b.mp4").exists()
