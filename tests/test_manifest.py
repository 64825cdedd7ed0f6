"""The JSONL manifest reader: user data in, clear errors for anything malformed."""

from __future__ import annotations

import json
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmsafe.core import MmsafeError
from mmsafe.data.manifest import read_manifest


def write(folder, *records) -> object:
    path = folder / "manifest.jsonl"
    lines = [r if isinstance(r, str) else json.dumps(r) for r in records]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_reads_samples_and_resolves_media_inside_the_folder(tmp_path) -> None:
    path = write(
        tmp_path,
        {
            "id": "a",
            "video": "clips/a.mp4",
            "question": "Safe?",
            "choices": ["yes", "no"],
            "label": "no",
            "harmful": False,
            "category": "traffic",
            "pair_id": "p1",
        },
        "",
        {"id": "b", "images": ["x.png", "y.png"], "instruction": "Describe.", "meta": {"k": 1}},
    )
    (a, a_media), (b, b_media) = read_manifest(path)
    assert a.label == "no" and a.harmful is False and a.pair_id == "p1"
    assert a_media == {"clips/a.mp4": tmp_path.resolve() / "clips" / "a.mp4"}
    assert b.question == "Describe." and b.image_paths == ["x.png", "y.png"]
    assert set(b_media) == {"x.png", "y.png"} and b.meta == {"k": 1}


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ('{"id": "a", "question": "q"', "manifest.jsonl:2: not JSON"),
        ("[1, 2]", "manifest.jsonl:2: expected a JSON object"),
        ({"id": "a", "question": "q"}, "manifest.jsonl:2: id 'a' already used on line 1"),
        ({"id": "b"}, "manifest.jsonl:2: question (or instruction) is required"),
        ({"id": "b", "question": "q", "colour": 1}, "manifest.jsonl:2: colour: Extra inputs"),
        ({"id": "b", "question": "q", "video": "../x.mp4"}, "leaves the folder"),
        ({"id": "b", "question": "q", "image": "/etc/passwd"}, "must be relative"),
        ({"id": "b", "question": "q", "choices": ["y", "n"], "label": "m"}, "label 'm' is not"),
        ({"id": "b", "question": "q", "video": "v.mp4", "image": "i.png"}, "not both"),
        ({"id": "", "question": "q"}, "manifest.jsonl:2: id:"),
    ],
)
def test_malformed_lines_are_one_line_errors_naming_file_and_line(tmp_path, record, message):
    path = write(tmp_path, {"id": "a", "question": "q"}, record)
    with pytest.raises(MmsafeError, match=".*") as error:
        read_manifest(path)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_a_symbolic_link_out_of_the_folder_is_refused(tmp_path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    os.symlink(tmp_path, data / "up")
    path = write(data, {"id": "a", "question": "q", "image": "up/secret.png"})
    with pytest.raises(MmsafeError, match="leaves the folder"):
        read_manifest(path)


def test_missing_and_empty_manifests(tmp_path) -> None:
    with pytest.raises(MmsafeError, match="does not exist"):
        read_manifest(tmp_path / "nope.jsonl")
    (tmp_path / "empty.jsonl").write_text("\n\n")
    with pytest.raises(MmsafeError, match="has no samples"):
        read_manifest(tmp_path / "empty.jsonl")


def test_missing_media_is_not_a_manifest_error(tmp_path) -> None:
    """A missing file is a per-sample error at load time, so the rest of the run goes on."""
    ((sample, media),) = read_manifest(
        write(tmp_path, {"id": "a", "question": "q", "video": "gone.mp4"})
    )
    assert not media["gone.mp4"].exists()


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_any_line_is_read_or_refused_cleanly(tmp_path_factory, line: str) -> None:
    folder = tmp_path_factory.mktemp("m")
    path = folder / "manifest.jsonl"
    path.write_text(line, encoding="utf-8")
    try:
        read_manifest(path)
    except MmsafeError as error:
        assert str(error)
