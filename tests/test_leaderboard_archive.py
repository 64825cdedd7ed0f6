"""Bundles come from strangers: every hostile archive or folder is refused with one line that
names the member and the rule, and a well-formed bundle reads back exactly what was written."""

from __future__ import annotations

import gzip
import io
import os
import random
import shutil
import stat
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mmsafe.leaderboard import archive
from mmsafe.leaderboard.archive import (
    BUNDLE_FILES,
    BundleError,
    Limits,
    _read_capped,
    read_bundle_files,
    write_bundle,
)

GOOD = {
    "submission.json": b'{"model": "tiny", "version": "1"}\n',
    "manifest.json": b'{"suite": "smoke"}\n',
    "episodes.jsonl": b'{"episode_id": "e0"}\n{"episode_id": "e1"}\n',
    "metrics.json": b'{"safety": 0.5}\n',
}
FULL = GOOD | {"verdicts.jsonl": b'{"verdict": "safe"}\n', "judges.json": b"{}\n"}


def member(name: str, data: bytes = b"", kind: bytes = tarfile.REGTYPE, link: str = ""):
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.size = kind, link, len(data)
    return info, data


def good_members(prefix: str = "") -> list:
    return [member(prefix + name, data) for name, data in GOOD.items()]


def make_tar(path: Path, members: list, mode: str = "w:gz") -> Path:
    with tarfile.open(path, mode, format=tarfile.GNU_FORMAT) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return path


def make_zip(path: Path, members: list) -> Path:
    """members: (name or ZipInfo, data); deflated unless a ZipInfo says otherwise."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members:
            zf.writestr(name, data)
    return path


def refused(path: Path, *words: str, limits: Limits = Limits()) -> str:
    with pytest.raises(BundleError) as caught:
        read_bundle_files(path, limits)
    message = str(caught.value)
    assert "\n" not in message and str(path) in message
    for word in words:
        assert word in message, message
    return message


# Hostile tar members: (name, type, link, words the refusal must hold).
HOSTILE_TAR = {
    "traversal": ("../evil", tarfile.REGTYPE, "", ["'../evil'", "escapes the bundle"]),
    "traversal-deep": ("a/../../metrics.json", tarfile.REGTYPE, "", ["escapes"]),
    "absolute": ("/etc/metrics.json", tarfile.REGTYPE, "", ["'/etc/metrics.json'", "absolute"]),
    "drive": ("C:metrics.json", tarfile.REGTYPE, "", ["absolute"]),
    "backslash": ("..\\metrics.json", tarfile.REGTYPE, "", ["backslash"]),
    "control": ("metrics\x1b.json", tarfile.REGTYPE, "", ["control character"]),
    "symlink": ("judges.json", tarfile.SYMTYPE, "/etc/passwd", ["'judges.json'", "symlink"]),
    "hardlink": ("judges.json", tarfile.LNKTYPE, "submission.json", ["hard link"]),
    "chardev": ("judges.json", tarfile.CHRTYPE, "", ["'judges.json'", "device"]),
    "blockdev": ("judges.json", tarfile.BLKTYPE, "", ["device"]),
    "fifo": ("judges.json", tarfile.FIFOTYPE, "", ["'judges.json'", "FIFO"]),
    "sparse": ("judges.json", tarfile.GNUTYPE_SPARSE, "", ["member of type"]),
    "nested": ("a/b/judges.json", tarfile.REGTYPE, "", ["'a/b/judges.json'", "nested"]),
    "unknown": ("evil.py", tarfile.REGTYPE, "", ["'evil.py'", "not a bundle file", *BUNDLE_FILES]),
    "duplicate": ("metrics.json", tarfile.REGTYPE, "", ["'metrics.json'", "appears twice"]),
    "dot-duplicate": ("./metrics.json", tarfile.REGTYPE, "", ["appears twice"]),
    "mixed-folders": ("other/judges.json", tarfile.REGTYPE, "", ["same folder"]),
}


@pytest.mark.parametrize("case", HOSTILE_TAR, ids=list(HOSTILE_TAR))
def test_hostile_tar_member_is_refused(tmp_path: Path, case: str) -> None:
    name, kind, link, words = HOSTILE_TAR[case]
    bundle = make_tar(tmp_path / "b.tar.gz", [*good_members(), member(name, b"x", kind, link)])
    message = refused(bundle, *words)
    assert "mmsafe leaderboard pack" in message


def test_nested_folder_member_is_refused(tmp_path: Path) -> None:
    dirs = [member("top", kind=tarfile.DIRTYPE), member("top/sub", kind=tarfile.DIRTYPE)]
    refused(make_tar(tmp_path / "b.tgz", [*dirs, *good_members("top/")]), "'top/sub'", "nested")


def test_missing_required_file_is_refused(tmp_path: Path) -> None:
    members = [m for m in good_members() if m[0].name != "metrics.json"]
    message = refused(make_tar(tmp_path / "b.tar.gz", members), "missing metrics.json")
    assert "episodes.jsonl" in message  # lists what a bundle needs


def test_too_many_members_is_refused(tmp_path: Path) -> None:
    bundle = make_tar(tmp_path / "b.tar", good_members(), mode="w")
    refused(bundle, "'metrics.json'", "limit of 3 entries", limits=Limits(members=3))
    zipped = make_zip(tmp_path / "b.zip", list(GOOD.items()))  # refused from its end record
    refused(zipped, "declares 4 entries, above 3", limits=Limits(members=3))


def test_zip64_is_refused_before_zipfile_reads_its_directory(tmp_path: Path) -> None:
    """A zip64 end record could declare any number of entries: no bundle needs one."""
    raw = make_zip(tmp_path / "b.zip", list(GOOD.items())).read_bytes()
    end = raw.rindex(b"PK\x05\x06")
    (tmp_path / "b.zip").write_bytes(raw[:end] + b"PK\x06\x07" + bytes(16) + raw[end:])
    refused(tmp_path / "b.zip", "zip64")


def test_archive_file_over_the_limits_is_refused_unread(tmp_path: Path) -> None:
    bundle = tmp_path / "b.tar.gz"
    bundle.write_bytes(bytes(300_000))
    refused(bundle, "the archive is 300000 bytes", limits=Limits(total_bytes=1000, members=2))


def test_oversized_member_is_refused_by_its_header_before_reading(tmp_path: Path) -> None:
    """The header claims 4 GiB and nothing follows: refused by size, not as a truncated file."""
    info = tarfile.TarInfo("episodes.jsonl")
    info.size = 4 * 2**30
    bundle = tmp_path / "b.tar.gz"
    bundle.write_bytes(gzip.compress(info.tobuf(tarfile.GNU_FORMAT)))
    refused(bundle, "'episodes.jsonl'", str(4 * 2**30), "above the limit")


def test_members_over_total_are_refused_by_their_headers(tmp_path: Path) -> None:
    bundle = make_tar(tmp_path / "b.tar.gz", good_members())
    refused(bundle, "past the limit of 60 bytes", limits=Limits(total_bytes=60))


def test_tar_stream_is_bounded_whatever_its_headers_say(tmp_path: Path) -> None:
    """A pax header is no member, yet tarfile reads it into memory: the stream count stops it."""
    big = member("submission.json", GOOD["submission.json"])[0]
    big.pax_headers = {"comment": "x" * 2**20}
    members = [(big, GOOD["submission.json"]), *good_members()[1:]]
    bundle = tmp_path / "b.tar.gz"
    with tarfile.open(bundle, "w:gz", format=tarfile.PAX_FORMAT) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data))
    limits = Limits(total_bytes=4096, members=4)
    refused(bundle, "unpacks to more than", limits=limits)
    assert read_bundle_files(bundle) == GOOD  # within the default limits it is a fine bundle


def test_reading_stops_as_soon_as_a_member_passes_its_cap() -> None:
    """The check behind "headers can lie": content is counted while read, not trusted."""

    class Endless(io.RawIOBase):
        def readinto(self, buffer) -> int:  # type: ignore[override]
            buffer[:] = b"\0" * len(buffer)
            return len(buffer)

    assert _read_capped(Endless(), 10_000) is None
    assert _read_capped(io.BytesIO(b"x" * 10_000), 10_000) == b"x" * 10_000


def test_zip_member_that_lies_about_its_size_is_never_read_past_it(tmp_path: Path) -> None:
    """The central directory says 10 bytes, the data holds 3000: refused, never 3000 read."""
    bundle = make_zip(tmp_path / "b.zip", [*GOOD.items(), ("judges.json", b"y" * 3000)])
    raw = bundle.read_bytes()
    central = raw.rindex(b"PK\x01\x02")  # judges.json is the last entry
    size_at = central + 24  # uncompressed size in the central directory header
    bundle.write_bytes(raw[:size_at] + (10).to_bytes(4, "little") + raw[size_at + 4 :])
    refused(bundle, "'judges.json'", "cannot read")


def test_zip_bomb_is_refused(tmp_path: Path) -> None:
    bundle = make_zip(tmp_path / "b.zip", [*GOOD.items(), ("judges.json", b"\0" * 3 * 2**20)])
    refused(bundle, "'judges.json'", "zip bomb")


def test_encrypted_zip_member_is_refused(tmp_path: Path) -> None:
    bundle = make_zip(tmp_path / "b.zip", list(GOOD.items()))
    raw = bytearray(bundle.read_bytes())
    for signature, flags_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):  # local, central
        at = raw.index(signature)
        raw[at + flags_at] |= 0x1
    bundle.write_bytes(bytes(raw))
    message = refused(bundle, f"'{next(iter(GOOD))}'", "is encrypted")
    assert "cannot read" not in message  # refused by the rule, before zipfile asks a password


@pytest.mark.parametrize(
    ("mode", "words"),
    [
        (stat.S_IFLNK | 0o777, ["symlink"]),
        (stat.S_IFIFO | 0o644, ["FIFO"]),
        (stat.S_IFCHR | 0o644, ["device"]),
    ],
)
def test_zip_special_member_is_refused(tmp_path: Path, mode: int, words: list[str]) -> None:
    info = zipfile.ZipInfo("judges.json")
    info.external_attr = mode << 16
    bundle = make_zip(tmp_path / "b.zip", [*GOOD.items(), (info, b"/etc/passwd")])
    refused(bundle, "'judges.json'", *words)


def test_zip_names_are_checked_as_stored(tmp_path: Path) -> None:
    """zipfile cuts names at a NUL; the stored name, NUL included, is what is judged."""
    bundle = make_zip(tmp_path / "b.zip", [*GOOD.items(), ("judges.jsonXevil", b"{}")])
    bundle.write_bytes(bundle.read_bytes().replace(b"judges.jsonXevil", b"judges.json\0evil"))
    refused(bundle, "judges.json\\x00evil", "NUL")


@pytest.mark.parametrize(
    ("name", "words"),
    [("../evil", ["escapes"]), ("/metrics.json", ["absolute"]), ("a/b/c.json", ["nested"])],
)
def test_hostile_zip_name_is_refused(tmp_path: Path, name: str, words: list[str]) -> None:
    bundle = make_zip(tmp_path / "b.zip", [*GOOD.items(), (name, b"x")])
    refused(bundle, repr(name), *words)


def test_duplicate_zip_member_is_refused(tmp_path: Path) -> None:
    with pytest.warns(UserWarning, match="Duplicate name"):
        bundle = make_zip(tmp_path / "b.zip", [*GOOD.items(), ("metrics.json", b"{}")])
    refused(bundle, "'metrics.json'", "appears twice")


def test_truncated_tar_gz_is_refused(tmp_path: Path) -> None:
    whole = write_bundle(FULL, tmp_path / "whole.tar.gz").read_bytes()
    for cut in (len(whole) // 2, len(whole) - 4):  # inside the data; inside the gzip trailer
        bundle = tmp_path / f"cut{cut}.tar.gz"
        bundle.write_bytes(whole[:cut])
        refused(bundle, "cannot read")


def test_random_bytes_named_zip_is_not_a_bundle(tmp_path: Path) -> None:
    bundle = tmp_path / "b.zip"
    bundle.write_bytes(random.Random(7).randbytes(4096))
    refused(bundle, "not a bundle: expected a folder, .tar.gz, .tar or .zip")


def test_corrupt_zip_is_refused(tmp_path: Path) -> None:
    bundle = tmp_path / "b.zip"
    bundle.write_bytes(b"PK\x03\x04" + b"\xff" * 200)
    refused(bundle, "cannot read")


@pytest.mark.parametrize("name", ["missing.tar.gz", "notes.txt"])
def test_path_that_is_no_bundle(tmp_path: Path, name: str) -> None:
    if name.endswith(".txt"):
        (tmp_path / name).write_text("hello")
    refused(tmp_path / name, "no such file" if name.startswith("missing") else "not a bundle")


def test_folder_with_symlink_is_refused_and_not_followed(tmp_path: Path) -> None:
    bundle = write_bundle(GOOD, tmp_path / "bundle")
    (bundle / "judges.json").symlink_to("/etc/passwd")
    message = refused(bundle, "'judges.json'", "symlink")
    assert "root:" not in message


def test_folder_with_symlinked_required_file_is_refused(tmp_path: Path) -> None:
    bundle = write_bundle({k: v for k, v in GOOD.items() if k != "metrics.json"}, tmp_path / "b")
    (tmp_path / "outside.json").write_bytes(b"{}")
    (bundle / "metrics.json").symlink_to(tmp_path / "outside.json")
    refused(bundle, "'metrics.json'", "symlink")


def test_folder_with_subfolder_or_fifo_or_unknown_file_is_refused(tmp_path: Path) -> None:
    bundle = write_bundle(GOOD, tmp_path / "bundle")
    (bundle / "extra").mkdir()
    refused(bundle, "'extra'", "subfolder")
    (bundle / "extra").rmdir()
    os.mkfifo(bundle / "judges.json")
    refused(bundle, "'judges.json'", "FIFO")
    (bundle / "judges.json").unlink()
    (bundle / ".DS_Store").write_bytes(b"")
    refused(bundle, "'.DS_Store'", "not a bundle file")


def test_folder_file_over_the_limit_is_refused(tmp_path: Path) -> None:
    bundle = write_bundle(GOOD, tmp_path / "bundle")
    refused(bundle, "'episodes.jsonl'", "above the limit of 30", limits=Limits(member_bytes=30))


@pytest.mark.parametrize("name", ["bundle", "b.tar.gz", "b.tgz", "b.tar", "b.zip"])
def test_round_trip(tmp_path: Path, name: str) -> None:
    out = write_bundle(FULL, tmp_path / name)
    assert out == tmp_path / name
    assert read_bundle_files(out) == FULL
    assert read_bundle_files(str(out), Limits(members=6)) == FULL
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no temporary left behind


@pytest.mark.parametrize("name", ["b.tar.gz", "b.zip", "b.tar"])
def test_archives_are_deterministic(tmp_path: Path, name: str) -> None:
    first = write_bundle(FULL, tmp_path / name)
    (tmp_path / "again").mkdir()
    second = write_bundle(dict(reversed(FULL.items())), tmp_path / "again" / name)
    assert first.read_bytes() == second.read_bytes()
    if name.endswith(".tar.gz"):
        raw = gzip.decompress(first.read_bytes())
        assert first.read_bytes()[3:8] == b"\0" * 5  # gzip: no file name flag, mtime 0
        with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
            infos = tar.getmembers()
        assert [i.name for i in infos] == sorted(FULL)
        assert {(i.uid, i.gid, i.uname, i.gname, i.mode) for i in infos} == {(0, 0, "", "", 0o644)}


def test_write_refuses_existing_path_and_bad_names(tmp_path: Path) -> None:
    for name in ("b.zip", "bundle"):
        write_bundle(GOOD, tmp_path / name)
        with pytest.raises(BundleError, match="already exists"):
            write_bundle(GOOD, tmp_path / name)
    with pytest.raises(BundleError, match="'../x'"):
        write_bundle(GOOD | {"../x": b""}, tmp_path / "c.zip")
    with pytest.raises(BundleError, match="cannot write"):
        write_bundle(GOOD, tmp_path / "no" / "such" / "b.zip")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.zip", "bundle"]


@pytest.mark.parametrize("name", ["b.tar.gz", "bundle"])
def test_failed_write_leaves_nothing(tmp_path: Path, monkeypatch, name: str) -> None:
    def disk_full(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(archive, "_write_archive", disk_full)
    monkeypatch.setattr(Path, "write_bytes", disk_full)
    with pytest.raises(BundleError, match="No space left"):
        write_bundle(GOOD, tmp_path / name)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(shutil.which("tar") is None, reason="needs the tar command")
@pytest.mark.parametrize("args", [["mybundle/"], ["-C", "mybundle", "."]])
def test_tar_czf_of_a_folder_reads(tmp_path: Path, args: list[str]) -> None:
    write_bundle(FULL, tmp_path / "mybundle")
    subprocess.run(["tar", "czf", "b.tgz", *args], cwd=tmp_path, check=True)
    assert read_bundle_files(tmp_path / "b.tgz") == FULL


def test_zip_with_one_top_folder_reads(tmp_path: Path) -> None:
    members = [("mine/", b""), *((f"mine/{k}", v) for k, v in GOOD.items())]
    assert read_bundle_files(make_zip(tmp_path / "b.zip", members)) == GOOD


VALID: dict[str, bytes] = {}  # suffix -> a good bundle, for the property test to mutate


def valid_bytes(suffix: str) -> bytes:
    if suffix not in VALID:
        buffer = io.BytesIO()
        if suffix == ".zip":
            make_zip(buffer, list(FULL.items()))  # type: ignore[arg-type]
        else:
            with tarfile.open(fileobj=buffer, mode="w:gz" if suffix == ".tar.gz" else "w") as tar:
                for name, data in FULL.items():
                    tar.addfile(member(name, data)[0], io.BytesIO(data))
        VALID[suffix] = buffer.getvalue()
    return VALID[suffix]


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    suffix=st.sampled_from([".zip", ".tar.gz", ".tar"]),
    noise=st.binary(max_size=600),
    edits=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=6),
    cut=st.one_of(st.none(), st.integers(0, 10**6)),
    mutate=st.booleans(),
)
def test_any_bytes_raise_only_bundle_error(
    tmp_path: Path, suffix: str, noise: bytes, edits: list, cut: int | None, mutate: bool
) -> None:
    if mutate:  # a good archive with a few bytes changed and maybe cut short
        raw = bytearray(valid_bytes(suffix))
        for at, value in edits:
            raw[at % len(raw)] = value
        data = bytes(raw[: cut % (len(raw) + 1)] if cut is not None else raw)
    else:
        data = noise
    path = tmp_path / f"fuzz{suffix}"
    path.write_bytes(data)
    try:
        files = read_bundle_files(path, Limits(member_bytes=2**16, total_bytes=2**17))
    except BundleError as e:
        assert "\n" not in str(e)
    else:
        assert set(files) <= set(BUNDLE_FILES)
