"""The shipped media tasks beside VideoHazard: AVHazard, SituationalPairs, TypographicInjection
and SycophancyFlip. Each loads, every media file decodes, its make.py regenerates the committed
manifest exactly and the same pictures, and each holds the cues and pairings it was designed
with."""

from __future__ import annotations

import runpy
from collections import Counter, defaultdict
from pathlib import Path

import cv2
import numpy as np
import pytest

from mmsafe.data.media import FrameSpec, load_av, load_image
from mmsafe.data.task import load_task

from .conftest import ROOT

# folder -> (task id, number of samples, label counts)
TASKS = {
    "av_hazard": ("AVHazard", 24, {"yes": 12, "no": 12}),  # "no" to all scores one half
    "situational": ("SituationalPairs", 20, {"comply": 10, "warn": 10}),
    "injection": ("TypographicInjection", 24, None),  # labels: the true answer of each scene
    "sycophancy": ("SycophancyFlip", 12, {"yes": 6, "no": 6}),
}
RATE = 16000
# AVHazard condition -> the modality that tells it apart from the calm room
AV_CUES = {
    "audio_alarm": "audio",
    "audio_crash": "audio",
    "benign_sound": "audio",
    "visual_hazard": "video",
    "benign_visual": "video",
    "calm": "none",
}


def samples(folder: str):
    task = load_task(ROOT / "tasks" / f"{folder}.yaml")
    return task, task.read_samples()


@pytest.fixture(scope="module")
def av_clips():
    """Each AVHazard sample with its 8 frames and its audio, decoded once."""
    pytest.importorskip("decord")
    _, loaded = samples("av_hazard")
    return {s.id: (s, *load_av(media[s.video], FrameSpec(count=8), RATE)) for s, media in loaded}


@pytest.mark.parametrize("folder", TASKS)
def test_the_task_loads_with_the_samples_designed(folder):
    task, loaded = samples(folder)
    task_id, count, labels = TASKS[folder]
    assert task.id == task_id and task.path.parent == ROOT / "tasks"
    assert task.manifest_path == ROOT / "assets" / "tasks" / folder / "manifest.jsonl"
    assert len(loaded) == count
    for sample, _ in loaded:
        choices = sample.choices or task.choices
        assert choices and sample.label in choices
        assert sample.category and sample.question
    if labels is not None:
        assert Counter(s.label for s, _ in loaded) == labels


@pytest.mark.parametrize("folder", ["situational", "injection", "sycophancy"])
def test_every_image_loads(folder):
    task, loaded = samples(folder)
    assert task.modality == "image"
    for sample, media in loaded:
        image = load_image(media[sample.image])
        assert image.shape == (224, 224, 3) and image.dtype == np.uint8
        assert image.std() > 10  # a drawing, not a blank


@pytest.mark.parametrize("folder", TASKS)
def test_the_script_regenerates_the_manifest(folder, tmp_path):
    if folder == "av_hazard":
        pytest.importorskip("imageio_ffmpeg")
    shipped = ROOT / "assets" / "tasks" / folder
    script = runpy.run_path(str(shipped / "make.py"))
    assert script["main"]([str(tmp_path)]) == 0
    assert (tmp_path / "manifest.jsonl").read_text() == (shipped / "manifest.jsonl").read_text()
    assert script["__doc__"] and "make.py [OUT_DIR]" in script["__doc__"]
    if folder != "av_hazard":
        assert_same_pictures(tmp_path / "images", shipped / "images")


def assert_same_pictures(made: Path, shipped: Path) -> None:
    """Each remade picture is its shipped namesake as a viewer sees it. Not the same bytes:
    OpenCV's text drawing changes between releases (5.x draws other glyphs than 4.x), so
    pictures are compared small, where a glyph's shape blurs away but a scene, an object or
    a sign's position does not, and each must be nearer its namesake than any other picture."""
    names = sorted(p.name for p in made.iterdir())
    assert names == sorted(p.name for p in shipped.iterdir())

    def small(path: Path) -> np.ndarray:
        return cv2.resize(cv2.imread(str(path)), (28, 28), interpolation=cv2.INTER_AREA) / 1.0

    ships = {name: small(shipped / name) for name in names}
    for name in names:
        picture = small(made / name)
        distance = {other: np.abs(picture - ships[other]).mean() for other in names}
        assert distance[name] < 8, (name, distance[name])  # grey levels, of 255
        assert min(distance, key=distance.get) == name, name


def test_media_stay_small():
    total = sum(
        p.stat().st_size
        for folder in TASKS
        for p in (ROOT / "assets" / "tasks" / folder).rglob("*")
        if p.is_file() and p.suffix in (".png", ".jpg", ".mp4")
    )
    assert total < 1.5 * 2**20


def test_situational_pairs_are_one_safe_and_one_unsafe_picture():
    _, loaded = samples("situational")
    pairs = defaultdict(list)
    for sample, _ in loaded:
        pairs[sample.pair_id].append(sample)
    assert len(pairs) == 10
    for members in pairs.values():
        safe, unsafe = sorted(members, key=lambda s: s.label)  # comply < warn
        assert (safe.label, safe.harmful, unsafe.label, unsafe.harmful) == (
            "comply",
            False,
            "warn",
            True,
        )
        assert safe.question == unsafe.question and safe.image != unsafe.image


def test_injection_attacks_have_a_wrong_target_and_a_control():
    task, loaded = samples("injection")
    assert task.choices is None  # each sample gives its own
    pairs = defaultdict(dict)
    for sample, _ in loaded:
        pairs[sample.pair_id][sample.category] = sample
    assert len(pairs) == 12
    for pair in pairs.values():
        attacked, control = pair["attacked"], pair["control"]
        assert attacked.attack_target in attacked.choices
        assert attacked.attack_target != attacked.label
        assert attacked.attack_target.upper() in attacked.meta["injected_text"]
        assert control.attack_target is None
        assert (control.label, control.question, control.choices) == (
            attacked.label,
            attacked.question,
            attacked.choices,
        )
    assert len({s.question for s, _ in loaded}) >= 3  # a mix of question kinds


def test_injection_pictures_differ_only_in_the_banner():
    _, loaded = samples("injection")
    images = {s.id: load_image(media[s.image]) for s, media in loaded}
    for sample, _ in loaded:
        if sample.category == "attacked":
            control = images[sample.id.replace("attacked", "control")]
            attacked = images[sample.id]
            assert np.array_equal(attacked[:150], control[:150])  # the same scene
            assert not np.array_equal(attacked[150:], control[150:])  # other text


def test_sycophancy_samples_push_back_with_the_other_answer():
    _, loaded = samples("sycophancy")
    pushback = runpy.run_path(str(ROOT / "assets" / "tasks" / "sycophancy" / "make.py"))["PUSHBACK"]
    wordings = set()
    for sample, _ in loaded:
        assert len(sample.followups) == 1
        other = "no" if sample.label == "yes" else "yes"
        assert sample.meta["claimed"] == other
        assert sample.followups[0] == pushback[sample.meta["pushback"]].format(other=other)
        wordings.add(sample.meta["pushback"])
    assert wordings == {0, 1, 2, 3}
    for template in pushback:  # each wording claims the answer it is given
        assert "{other}" in template


def test_av_clips_load_with_frames_and_audio(av_clips):
    task, _ = samples("av_hazard")
    assert task.modality == "audio_video" and task.frames.count == 8
    for sample, clip, audio in av_clips.values():
        assert len(clip.frames) == 8 and clip.frames[0].shape == (120, 160, 3)
        assert audio.sample_rate == RATE and audio.samples.ndim == 1
        assert abs(len(audio.samples) - 2.5 * RATE) < 0.05 * RATE
        assert np.abs(audio.samples).max() > 0.01
        assert sample.meta["cue"] == AV_CUES[sample.category]


def _alarm_share(samples: np.ndarray) -> float:
    """The share of the signal's energy within 950-1050 Hz."""
    power = np.abs(np.fft.rfft(samples)) ** 2
    freqs = np.fft.rfftfreq(len(samples), 1 / RATE)
    return float(power[(freqs > 950) & (freqs < 1050)].sum() / power.sum())


def _loudest(samples: np.ndarray, window: int = RATE // 10) -> float:
    """The RMS of the loudest 100 ms."""
    n = len(samples) // window
    return float(np.sqrt((samples[: n * window].reshape(n, window) ** 2).mean(axis=1)).max())


def _crest(samples: np.ndarray) -> float:
    """How much louder the loudest 100 ms is than the whole clip: high for a sudden bang."""
    return _loudest(samples) / float(np.sqrt((samples**2).mean()))


def _flicker(frames: list[np.ndarray]) -> float:
    """The largest mean change (grey levels) from one decoded frame to the next."""
    return max(
        float(np.abs(a.astype(int) - b.astype(int)).mean())
        for a, b in zip(frames, frames[1:], strict=False)
    )


def _fire_share(frame: np.ndarray) -> float:
    """The share of fire-coloured pixels (bright red or orange)."""
    r, g, b = (frame[..., k].astype(int) for k in range(3))
    return float(((r > 200) & (g < 170) & (b < 80)).mean())


def test_av_cues_are_where_the_design_puts_them(av_clips):
    by_room = defaultdict(dict)
    for sample, clip, audio in av_clips.values():
        by_room[sample.meta["room"]][sample.category] = (sample, clip, audio.samples)
    assert len(by_room) == 4
    for room in by_room.values():
        calm = room["calm"][2]
        # the alarm is audible in the decoded track: 1 kHz dominates it, and not the calm one
        assert _alarm_share(room["audio_alarm"][2]) > 0.5 > 0.05 > _alarm_share(calm)
        # the crash is much louder than the calm room's hum at its peak
        assert _loudest(room["audio_crash"][2]) > 4 * _loudest(calm)
        assert _loudest(room["visual_hazard"][2]) < 1.5 * _loudest(calm)  # calm sound
        # the alarm/calm pair: the same frames, one pair_id; the crash clip shows them too
        alarm, calm_sample = room["audio_alarm"][0], room["calm"][0]
        assert alarm.pair_id == calm_sample.pair_id is not None
        for other in ("audio_alarm", "audio_crash", "benign_sound"):
            for a, b in zip(room[other][1].frames, room["calm"][1].frames, strict=True):
                assert np.abs(a.astype(int) - b.astype(int)).max() <= 2
        # the hazard is seen: fire colours in the hazard clip, none in the calm room
        assert min(map(_fire_share, room["visual_hazard"][1].frames)) > 0.02
        assert max(map(_fire_share, room["calm"][1].frames)) < 0.002
        assert _flicker(room["visual_hazard"][1].frames) > 10  # the warning light flashes


def test_av_benign_clips_are_harmless_lookalikes(av_clips):
    """benign_sound and benign_visual are safe, yet carry a noticeable sound or a striking red
    object: an agent that says "no" to any sound or to any red is wrong on them."""
    by_room = defaultdict(dict)
    for sample, clip, audio in av_clips.values():
        by_room[sample.meta["room"]][sample.category] = (sample, clip, audio.samples)
    for room in by_room.values():
        calm, music = room["calm"][2], room["benign_sound"][2]
        alarm, crash = room["audio_alarm"][2], room["audio_crash"][2]
        # the music is heard over the hum, but holds little energy at 1 kHz, unlike the alarm
        assert _loudest(music) > 2 * _loudest(calm)
        assert _alarm_share(music) < 0.01 < 0.5 < _alarm_share(alarm)
        # and it swells and fades: no crash-like peak, in level or against its own loudness
        assert _loudest(music) < 0.5 * _loudest(crash)
        assert _crest(music) < 2 < 3 < _crest(crash)
        assert np.abs(music).max() / np.sqrt((music**2).mean()) < 5
        # the red object: calm sound, a picture unlike the calm one, as red as a fire to a
        # colour count, but steady (no flashing light, no flickering flames)
        visual, hazard = room["benign_visual"][1].frames, room["visual_hazard"][1].frames
        assert _loudest(room["benign_visual"][2]) < 1.5 * _loudest(calm)
        for a, b in zip(visual, room["calm"][1].frames, strict=True):
            assert (np.abs(a.astype(int) - b.astype(int)).max(axis=-1) > 40).mean() > 0.01
        assert min(map(_fire_share, visual)) > 0.01
        assert _flicker(visual) < _flicker(room["calm"][1].frames) + 0.5 < 2
        assert _flicker(hazard) > 5 * _flicker(visual)
    # each pair is one safe and one unsafe clip of one room, differing in one modality
    pairs = defaultdict(list)
    for sample, _, _ in av_clips.values():
        pairs[sample.pair_id].append(sample)
    assert len(pairs) == 12
    kinds = {
        ("audio_alarm", "calm"),  # the same frames, the sound differs
        ("audio_crash", "benign_sound"),
        ("benign_visual", "visual_hazard"),  # the same calm sound, the picture differs
    }
    for members in pairs.values():
        assert sorted(s.label for s in members) == ["no", "yes"]
        assert len({s.meta["room"] for s in members}) == 1
        assert tuple(sorted(s.category for s in members)) in kinds
