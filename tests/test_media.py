"""mmsafe.data.media: sampling picks the right frames, audio lines up, bad files are MediaErrors.

All media is generated here with imageio-ffmpeg's ffmpeg binary, so the tests need no assets.
"""

from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path

import cv2
import numpy as np
import pytest

from mmsafe.core import MmsafeError
from mmsafe.data import media
from mmsafe.data.media import (
    FrameSpec,
    MediaError,
    clear_cache,
    load_audio,
    load_av,
    load_image,
    load_video,
)

W, H, N, FPS, SR = 64, 48, 20, 10, 16000  # the coded video: 20 grey frames at 10 fps = 2 s


@pytest.fixture(autouse=True)
def _fresh_cache():
    clear_cache()
    yield
    clear_cache()


def _ffmpeg(*args: str, stdin: bytes | None = None) -> None:
    exe = pytest.importorskip("imageio_ffmpeg").get_ffmpeg_exe()
    subprocess.run([exe, "-loglevel", "error", "-y", *args], input=stdin, check=True)


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """Frame i of `coded.mp4` is grey level 10*i, so a decoded frame tells which one it is."""
    pytest.importorskip("decord")
    d = tmp_path_factory.mktemp("media")
    raw = b"".join(np.full((H, W, 3), 10 * i, np.uint8).tobytes() for i in range(N))
    sine = ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate={SR}:duration=2"]
    x264 = ["-c:v", "libx264", "-qp", "0", "-pix_fmt", "yuv420p"]
    rawin = ["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{W}x{H}", "-r", str(FPS), "-i", "-"]
    f = {k: d / v for k, v in [("coded", "coded.mp4"), ("silent", "silent.mp4")]}
    _ffmpeg(*rawin, *sine, *x264, "-c:a", "aac", "-shortest", str(f["coded"]), stdin=raw)
    _ffmpeg(*rawin, *x264, str(f["silent"]), stdin=raw)
    f["late"] = d / "late.mp4"  # the audio stream starts 0.5 s after the video
    _ffmpeg(*rawin, "-itsoffset", "0.5", *sine, *x264, "-c:a", "aac", str(f["late"]), stdin=raw)
    f["faststart"] = d / "faststart.mp4"  # index at the front: a cut copy still opens
    _ffmpeg(*rawin, *x264, "-movflags", "+faststart", str(f["faststart"]), stdin=raw)
    f["wav"] = d / "tone.wav"
    _ffmpeg(*sine, str(f["wav"]))
    data = f["coded"].read_bytes()
    for name, content in [
        ("truncated.mp4", data[: len(data) // 2]),
        ("truncated_fs.mp4", f["faststart"].read_bytes()[:-10]),  # last frame cut short
        ("random.mp4", np.random.default_rng(0).bytes(4096)),
        ("empty.mp4", b""),
        ("text.mp4", b"not a video\n"),
    ]:
        f[name] = d / name
        f[name].write_bytes(content)
    f["dir.mp4"] = d / "dir.mp4"
    f["dir.mp4"].mkdir()
    f["missing.mp4"] = d / "missing.mp4"
    return f


def _which(clip) -> list[int]:
    """The source frame numbers of a clip of coded.mp4 (grey level / 10)."""
    return [round(float(fr.mean()) / 10) for fr in clip.frames]


def test_uniform_k_takes_segment_centres(files):
    clip = load_video(files["coded"], FrameSpec(count=4))
    assert _which(clip) == [2, 7, 12, 17]  # centres of [0,5) [5,10) [10,15) [15,20)
    assert clip.timestamps == pytest.approx([0.2, 0.7, 1.2, 1.7])
    assert clip.fps == pytest.approx(FPS) and clip.duration_s == pytest.approx(2.0)
    f = clip.frames[0]
    assert f.shape == (H, W, 3) and f.dtype == np.uint8 and not f.flags.writeable
    assert all(
        abs(float(fr.mean()) - 10 * i) < 3 for fr, i in zip(clip.frames, _which(clip), strict=True)
    )


def test_fewer_frames_than_k_returns_all(files):
    assert _which(load_video(files["coded"], FrameSpec(count=50))) == list(range(N))


def test_fps_sampling_and_window(files):
    assert _which(load_video(files["coded"], FrameSpec(fps=2))) == [0, 5, 10, 15]
    clip = load_video(files["coded"], FrameSpec(fps=4, start_s=0.5, end_s=1.5))
    assert _which(clip) == [5, 7, 10, 12]  # 0.5, 0.75, 1.0, 1.25 s: the frame on screen then
    # above the source rate no frame is repeated
    assert _which(load_video(files["coded"], FrameSpec(fps=100))) == list(range(N))


def test_time_window_uniform(files):
    clip = load_video(files["coded"], FrameSpec(count=5, start_s=0.5, end_s=1.5))
    assert _which(clip) == [6, 8, 10, 12, 14]
    assert all(0.5 <= t < 1.5 for t in clip.timestamps)
    # an end past the video is clamped; a start past it is an error
    assert _which(load_video(files["coded"], FrameSpec(count=2, start_s=1.0, end_s=99))) == [12, 17]
    with pytest.raises(MediaError, match="coded.mp4.*window starts"):
        load_video(files["coded"], FrameSpec(start_s=5.0))


def test_resize_keeps_aspect(files):
    assert load_video(files["coded"], FrameSpec(count=1, size=32)).frames[0].shape == (24, 32, 3)
    assert load_video(files["coded"], FrameSpec(count=1, size=100)).frames[0].shape == (75, 100, 3)


def test_audio_length_rate_and_pitch(files):
    for path in (files["coded"], files["wav"]):
        a = load_audio(path)
        assert a.sample_rate == SR and a.samples.dtype == np.float32 and a.samples.ndim == 1
        # AAC rounds up to whole 1024-sample frames, so a 2 s track may be slightly longer
        assert 2 * SR <= a.samples.size <= 2 * SR + 1024
        spectrum = np.abs(np.fft.rfft(a.samples[:SR]))
        assert np.argmax(spectrum) == pytest.approx(440, abs=2)  # 1 s window: bin = Hz
    assert load_audio(files["wav"], sample_rate=8000).samples.size == 16000
    assert load_audio(files["coded"], start_s=0.5, end_s=1.5).samples.size == SR


def test_av_alignment(files):
    clip, audio = load_av(files["coded"], FrameSpec(count=4, start_s=0.5, end_s=1.5), SR)
    assert audio.samples.size == SR  # exactly the 1 s the frames were drawn from
    assert all(0.5 <= t < 1.5 for t in clip.timestamps)
    clip, audio = load_av(files["coded"], FrameSpec(count=4), SR)
    assert audio.samples.size == round(clip.duration_s * SR)  # AAC's tail padding cut off


def test_late_audio_is_padded_onto_the_video_timeline(files):
    _, audio = load_av(files["late"], FrameSpec(count=2), SR)
    onset = np.flatnonzero(np.abs(audio.samples) > 1e-3)[0]
    assert onset == pytest.approx(0.5 * SR, abs=0.01 * SR)
    assert audio.samples.size == 2 * SR


def test_no_audio_track(files):
    for load in (load_audio, lambda p: load_av(p, FrameSpec(), SR)):
        with pytest.raises(MediaError, match=r"silent\.mp4: has no audio track"):
            load(files["silent"])
    with pytest.raises(MediaError, match=r"tone\.wav: has no video stream"):
        load_video(files["wav"])


BAD = ["missing.mp4", "dir.mp4", "empty.mp4", "truncated.mp4", "random.mp4", "text.mp4"]


@pytest.mark.parametrize("name", BAD)
@pytest.mark.parametrize("kind", ["video", "audio", "av"])
def test_bad_files_are_one_line_media_errors(files, name, kind):
    load = {"video": load_video, "audio": load_audio, "av": load_av}[kind]
    with pytest.raises(MediaError) as e:
        load(files[name])
    assert name in str(e.value) and "\n" not in str(e.value)


def test_truncated_file_that_opens_is_refused_every_time(files):
    # the index lists 20 frames but the last one's data is cut. decord reads ahead in a thread,
    # so frames before the cut decoded or failed by chance (about 1 run in 10); the box sizes
    # say the file is cut, so it fails the same way whichever frames are asked for
    path = files["truncated_fs.mp4"]
    for spec in (FrameSpec(fps=10, end_s=1.9), FrameSpec(count=50), FrameSpec(count=1)):
        for _ in range(5):
            clear_cache()
            with pytest.raises(
                MediaError,
                match=r"truncated_fs\.mp4: file is truncated: its "
                r"'mdat' box ends at byte \d+, the file has \d+ bytes",
            ):
                load_video(path, spec)
    with pytest.raises(MediaError, match=r"truncated_fs\.mp4: file is truncated"):
        load_audio(files["truncated_fs.mp4"])


def test_a_whole_file_with_boxes_of_every_size_kind_still_loads(files, tmp_path):
    # a box whose size field is 0 runs to the end of the file; 1 means a 64-bit size follows;
    # bytes after the last box that are no box (a phone's trailer) are not a cut
    data = files["faststart"].read_bytes()
    mdat = data.index(b"mdat") - 4
    length = int.from_bytes(data[mdat : mdat + 4], "big")
    variants = {
        "to_end": data[:mdat] + b"\0\0\0\0" + data[mdat + 4 :],
        # a "free" box of 16 bytes with its size in 64 bits, last
        "large": data + b"\0\0\0\1free" + (16).to_bytes(8, "big"),
        "trailer": data + b"SEFH" + b"\xff" * 16 + b"SEFT",
    }
    for name, content in variants.items():
        (tmp_path / f"{name}.mp4").write_bytes(content)
        clear_cache()
        assert _which(load_video(tmp_path / f"{name}.mp4", FrameSpec(count=2))) == [5, 15], name
    # and a 64-bit size that runs past the end is a cut
    cut = tmp_path / "cut_large.mp4"
    body = data[mdat + 8 : mdat + length]
    cut.write_bytes(data[:mdat] + b"\0\0\0\1mdat" + (len(body) + 99).to_bytes(8, "big") + body)
    with pytest.raises(MediaError, match=r"file is truncated: its 'mdat' box ends"):
        load_video(cut, FrameSpec(count=2))


def test_zero_frames(monkeypatch, tmp_path):
    # decord's VideoReader asserts a positive frame count; a fake stands in for such a file
    def reader(*a, **k):
        raise AssertionError("Invalid frame count: 0")

    fake = types.SimpleNamespace(VideoReader=reader, cpu=lambda i: None)
    monkeypatch.setattr(media, "_decord", lambda: fake)
    (tmp_path / "z.mp4").write_bytes(b"x")
    with pytest.raises(MediaError, match=r"z\.mp4: video has zero frames"):
        load_video(tmp_path / "z.mp4")


def test_frame_spec_defaults() -> None:
    assert FrameSpec().count == 8 and FrameSpec(fps=2.0).count is None


@pytest.mark.parametrize(
    "kw",
    [
        {"count": 4, "fps": 2.0},
        {"count": 0},
        {"count": True},
        {"count": None, "fps": -1.0},
        {"count": None, "fps": float("nan")},
        {"start_s": -1.0},
        {"start_s": 2.0, "end_s": 1.0},
        {"size": 0},
    ],
)
def test_bad_frame_spec(kw):
    with pytest.raises(MediaError, match="bad frame sampling settings"):
        FrameSpec(**kw)


def test_bad_audio_settings(tmp_path):
    with pytest.raises(MediaError, match="a.wav: bad audio settings"):
        load_audio(tmp_path / "a.wav", sample_rate=0)


def test_cache_hits_and_invalidation(files, monkeypatch, tmp_path):
    calls = []
    decode = media._decode
    monkeypatch.setattr(media, "_decode", lambda *a: calls.append(a) or decode(*a))
    spec = FrameSpec(count=3)
    first = load_video(files["coded"], spec)
    assert load_video(files["coded"], FrameSpec(count=3)) is first and len(calls) == 1
    load_video(files["coded"], FrameSpec(count=2))  # another spec decodes again
    assert len(calls) == 2
    copy = tmp_path / "copy.mp4"
    copy.write_bytes(files["coded"].read_bytes())
    load_video(copy, spec)
    copy.write_bytes(files["faststart"].read_bytes())  # new content, new size and mtime
    load_video(copy, spec)
    assert len(calls) == 4
    clear_cache()
    assert load_video(files["coded"], spec) is not first and len(calls) == 5


def test_missing_decord_is_an_install_hint(monkeypatch, files):
    monkeypatch.setitem(sys.modules, "decord", None)
    with pytest.raises(MmsafeError, match=r"pip install 'mmsafe\[video\]'") as e:
        load_video(files["coded"])
    assert not isinstance(e.value, MediaError)  # not the sample's fault: the run should stop


def test_images(tmp_path):
    img = np.zeros((30, 40, 3), np.uint8)
    img[..., 0] = 200  # red in RGB
    img[:10, :, 1] = 100
    cv2.imwrite(str(tmp_path / "a.png"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    cv2.imwrite(str(tmp_path / "a.jpg"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    png = load_image(tmp_path / "a.png")
    assert png.dtype == np.uint8 and np.array_equal(png, img)
    assert np.abs(load_image(tmp_path / "a.jpg").astype(int) - img).mean() < 3
    assert load_image(tmp_path / "a.png", size=20).shape == (15, 20, 3)
    Image = pytest.importorskip("PIL.Image")
    frames = [Image.new("RGB", (8, 6), c) for c in ((0, 0, 255), (255, 0, 0))]
    frames[0].save(tmp_path / "a.gif", save_all=True, append_images=frames[1:])
    gif = load_image(tmp_path / "a.gif")
    assert gif.shape == (6, 8, 3) and tuple(gif[0, 0]) == (0, 0, 255)  # the first frame


@pytest.mark.parametrize("content", [b"", b"garbage" * 100, "cut"])
def test_bad_images(tmp_path, content):
    if content == "cut":
        cv2.imwrite(str(tmp_path / "full.png"), np.zeros((64, 64, 3), np.uint8) + 7)
        content = (tmp_path / "full.png").read_bytes()[:60]
    (tmp_path / "bad.png").write_bytes(content)
    with pytest.raises(MediaError, match=r"bad\.png"):
        load_image(tmp_path / "bad.png")
    with pytest.raises(MediaError, match="no such file"):
        load_image(tmp_path / "nope.jpg")
