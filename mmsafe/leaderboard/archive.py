"""Reading and writing leaderboard submission bundles, safely.

A bundle comes from a stranger, so reading one trusts nothing in it: nothing is extracted to
disk, executed or unpickled; every name and member type is checked before any content is read;
declared sizes are checked before reading and real sizes while reading (headers can lie); and
the decompressed stream of a .tar.gz is bounded as a whole. Each refusal is one BundleError line
naming the bundle, the member and the rule. Writing is deterministic (same files, same bytes),
so that a bundle's hash identifies its content.
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import itertools
import lzma
import os
import stat
import struct
import tarfile
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import IO, NoReturn

from mmsafe.core import MmsafeError

REQUIRED_FILES = ("submission.json", "manifest.json", "episodes.jsonl", "metrics.json")
BUNDLE_FILES = (*REQUIRED_FILES, "verdicts.jsonl", "judges.json")
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar", ".zip")
HINT = "pack bundles with `mmsafe leaderboard pack`"
NOT_A_BUNDLE = "not a bundle: expected a folder, .tar.gz, .tar or .zip"

_MIB = 2**20
_CHUNK = 2**16
_HEADER_ROOM = 2**16  # stream bytes allowed per entry for its headers (tar blocks, pax records)
_EPOCH = 315532800  # 1980-01-01 UTC: the earliest time a zip can hold; used for tar too
# Compressed tars by magic: they are read through the counted stream, never handed to
# tarfile.is_tarfile, which would decompress a first header of any size.
_COMPRESSED = {b"\x1f\x8b": gzip.open, b"BZh": bz2.open, b"\xfd7zXZ\x00": lzma.open}
# What the decoders raise on corrupt input: "cannot read", never a traceback.
_READ_ERRORS = (OSError, EOFError, ValueError, RuntimeError, NotImplementedError, struct.error)
_READ_ERRORS += (tarfile.TarError, zipfile.BadZipFile, zlib.error, lzma.LZMAError)
_TAR_KINDS = dict.fromkeys((tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.CONTTYPE), "file")
_TAR_KINDS |= {tarfile.DIRTYPE: "dir", tarfile.SYMTYPE: "symlink", tarfile.LNKTYPE: "hard link"}
_TAR_KINDS |= {tarfile.CHRTYPE: "device", tarfile.BLKTYPE: "device", tarfile.FIFOTYPE: "FIFO"}
_MODE_KINDS = {stat.S_IFLNK: "symlink", stat.S_IFCHR: "device", stat.S_IFBLK: "device"}
_MODE_KINDS |= {stat.S_IFIFO: "FIFO", stat.S_IFSOCK: "socket"}


class BundleError(MmsafeError):
    """A bundle that cannot be read or written safely: one line naming the bundle and member."""


def _refuse(where: str, what: str) -> NoReturn:
    raise BundleError(f"{where}: {what}; {HINT}")


@dataclass(frozen=True)
class Limits:
    """What reading one bundle may cost at most; a bundle past any bound is refused."""

    member_bytes: int = 256 * _MIB  # one file
    total_bytes: int = 512 * _MIB  # all files together
    members: int = 64  # entries in an archive, directories included
    # uncompressed/compressed above this is a bomb: a zip member over 1 MiB, or a compressed
    # tar's stream once past 4 MiB (real bundles compress 10 to 50 times)
    ratio: int = 200

    @property
    def stream_bytes(self) -> int:
        """The most an archive file or its decompressed stream may hold: files plus headers."""
        return self.total_bytes + (self.members + 1) * _HEADER_ROOM


class _Bundle:
    """The files read so far and the rules every entry must pass, for folders and archives."""

    def __init__(self, where: str, limits: Limits) -> None:
        self.where, self.limits = where, limits
        self.files: dict[str, bytes] = {}
        self.seen: set[str] = set()
        self.folder: str | None = None  # the one top-level folder; "" for flat names
        self.count = self.declared = self.total = 0
        self.current = ""  # the entry being checked or read, for messages

    def fail(self, member: str, what: str) -> NoReturn:
        _refuse(self.where, f"member {member!r} {what}")

    def member(self, name: str, kind: str, size: int) -> str | None:
        """Check one entry before any of its content is read: the bundle file it holds, or
        None for a directory."""
        self.current, self.count, lim = name, self.count + 1, self.limits
        if self.count > lim.members:
            self.fail(name, f"is past the limit of {lim.members} entries")
        parts = self._parts(name)
        if kind not in ("file", "dir"):
            self.fail(name, f"is a {kind}; a bundle holds only regular files")
        if not parts:
            return None if kind == "dir" else self.fail(name, "has an empty name")
        depth = len(parts) + (kind == "dir")  # 1: a flat file; 2: in the top-level folder
        if depth > 2:
            self.fail(name, "is nested too deep; put the files flat or in one top-level folder")
        folder = parts[0] if depth == 2 else ""
        if self.folder is not None and folder != self.folder:
            first = f"folder {self.folder!r}" if self.folder else "the top level"
            self.fail(name, f"is not in the same folder as the other members ({first})")
        self.folder, key = folder, "/".join(parts)
        if key in self.seen:
            self.fail(name, "appears twice")
        self.seen.add(key)
        if kind == "dir":
            return None
        if parts[-1] not in BUNDLE_FILES:
            self.fail(name, f"is not a bundle file (expected {', '.join(BUNDLE_FILES)})")
        if size > lim.member_bytes:
            self.fail(name, f"is {size} bytes, above the limit of {lim.member_bytes} per file")
        self.declared += size
        if self.declared > lim.total_bytes:
            self.fail(name, f"brings the bundle past the limit of {lim.total_bytes} bytes")
        return parts[-1]

    def _parts(self, name: str) -> list[str]:
        """The name's path parts; refuses any name that could point outside the bundle."""
        if not name.isprintable():
            self.fail(name, "has a NUL or control character in its name")
        if "\\" in name:
            self.fail(name, "has a backslash in its name")
        if name.startswith("/") or (name[:1].isalpha() and name[1:2] == ":"):
            self.fail(name, "is an absolute path")
        parts = [part for part in name.split("/") if part not in ("", ".")]
        if ".." in parts:
            self.fail(name, "escapes the bundle")
        return parts

    def read(self, leaf: str, stream: IO[bytes]) -> None:
        """Read one file in chunks, stopping as soon as it passes a limit: its header may lie."""
        cap = min(self.limits.member_bytes, self.limits.total_bytes - self.total)
        data = _read_capped(stream, cap)
        if data is None:
            self.fail(self.current, f"holds more than the {cap} bytes left under the limits")
        self.files[leaf] = data
        self.total += len(data)

    def done(self) -> dict[str, bytes]:
        if missing := [name for name in REQUIRED_FILES if name not in self.files]:
            needs = ", ".join(REQUIRED_FILES)
            _refuse(self.where, f"missing {', '.join(missing)} (a bundle needs {needs})")
        return {name: self.files[name] for name in BUNDLE_FILES if name in self.files}


def _read_capped(stream: IO[bytes], cap: int) -> bytes | None:
    """Up to `cap` bytes of `stream`, or None as soon as it holds more."""
    chunks, n = [], 0
    while chunk := stream.read(min(_CHUNK, cap - n + 1)):
        n += len(chunk)
        if n > cap:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


class _Counted:
    """A stream that refuses to yield more than the limits allow in all: it bounds a tar's
    decompressed stream, headers included, whatever those headers claim. With `packed`, the
    compressed file it comes from, it also refuses a stream that expands past the ratio."""

    def __init__(self, raw: IO[bytes], bundle: _Bundle, packed: IO[bytes] | None = None) -> None:
        self.raw, self.bundle, self.packed, self.seen = raw, bundle, packed, 0

    def read(self, n: int | None = _CHUNK) -> bytes:
        data = self.raw.read(n if n is not None and 0 <= n <= 4 * _CHUNK else _CHUNK)
        self.seen += len(data)
        at = f" (at member {self.bundle.current!r})" if self.bundle.current else ""
        if self.seen > (cap := self.bundle.limits.stream_bytes):
            _refuse(self.bundle.where, f"the archive unpacks to more than {cap} bytes{at}")
        ratio = self.bundle.limits.ratio
        packed = max(self.packed.tell(), 1) if self.packed is not None else self.seen
        if self.seen > 4 * _MIB and self.seen > ratio * packed:
            _refuse(self.bundle.where, f"the archive expands more than {ratio} times{at}; "
                    "refused as a zip bomb")  # fmt: skip
        return data


def _read_tar(path: Path, bundle: _Bundle, head: bytes) -> None:
    """Stream the tar once, front to back, through a counted decompressor: nothing seeks, and
    no more decompressed bytes are read than the limits allow."""
    opener = next((op for magic, op in _COMPRESSED.items() if head.startswith(magic)), None)
    with open(path, "rb") as raw, opener(raw) if opener else contextlib.nullcontext(raw) as plain:
        stream = _Counted(plain, bundle, raw if opener else None)
        with tarfile.open(fileobj=stream, mode="r|") as tar:  # type: ignore[call-overload]
            for info in tar:
                kind = _TAR_KINDS.get(info.type, f"member of type {info.type!r}")
                if (leaf := bundle.member(info.name, kind, info.size)) is not None:
                    bundle.read(leaf, tar.extractfile(info))
        while stream.read(_CHUNK):  # the rest must decompress too (and pass its checksum)
            pass


def _zip_kind(info: zipfile.ZipInfo) -> str:
    """The entry's type from its unix mode, where the zip records one."""
    fmt = stat.S_IFMT(info.external_attr >> 16)
    if fmt not in (0, stat.S_IFREG, stat.S_IFDIR):
        return _MODE_KINDS.get(fmt, "special file")
    return "dir" if fmt == stat.S_IFDIR or info.orig_filename.endswith("/") else "file"


def _read_zip(path: Path, bundle: _Bundle) -> None:
    """Check every entry's name, type, declared size, ratio and encryption before reading any."""
    lim = bundle.limits
    with open(path, "rb") as f:  # zipfile loads the whole central directory: bound it first
        f.seek(max(0, path.stat().st_size - 22 - 0xFFFF))
        tail = f.read()
    if (at := tail.rfind(b"PK\x05\x06")) >= 0 and len(tail) >= at + 22:
        entries = struct.unpack_from("<H", tail, at + 10)[0]
        if tail[max(0, at - 20) : at - 16] == b"PK\x06\x07":  # its end record could say anything
            _refuse(bundle.where, "the zip uses zip64, which no bundle needs")
        if entries > lim.members:
            _refuse(bundle.where, f"the zip declares {entries} entries, above {lim.members}")
    with zipfile.ZipFile(path) as zf:
        wanted = []
        for info in zf.infolist():
            name = info.orig_filename  # as stored: zipfile cuts `filename` at a NUL
            if (leaf := bundle.member(name, _zip_kind(info), info.file_size)) is None:
                continue
            if info.flag_bits & 0x1:
                bundle.fail(name, "is encrypted; bundles hold plain files")
            if info.file_size > _MIB and info.file_size > lim.ratio * max(info.compress_size, 1):
                bundle.fail(name, f"expands more than {lim.ratio} times; refused as a zip bomb")
            wanted.append((info, leaf))
        for info, leaf in wanted:
            bundle.current = info.orig_filename
            with zf.open(info) as member:
                bundle.read(leaf, member)


def _read_folder(path: Path, bundle: _Bundle) -> None:
    """Entries are judged by lstat and opened with O_NOFOLLOW: a link is never followed."""
    with os.scandir(path) as it:
        first = itertools.islice(it, bundle.limits.members + 1)  # a huge folder fails fast
        entries = sorted((e.name, e.stat(follow_symlinks=False)) for e in first)
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    for name, st in entries:
        fmt = stat.S_IFMT(st.st_mode)
        kind = {stat.S_IFREG: "file", stat.S_IFDIR: "subfolder"}.get(fmt)
        leaf = bundle.member(name, kind or _MODE_KINDS.get(fmt, "special file"), st.st_size)
        if leaf is None:  # never: a subfolder is refused
            continue
        with os.fdopen(os.open(path / name, flags), "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                bundle.fail(name, "changed while being read")
            bundle.read(leaf, f)


def _archive_kind(path: Path, head: bytes) -> str | None:
    """'tar' or 'zip' by content (the suffix breaks a tie), or None for neither."""
    try:
        is_tar = any(head.startswith(m) for m in _COMPRESSED) or tarfile.is_tarfile(path)
    except _READ_ERRORS:
        is_tar = False
    is_zip = head.startswith(b"PK\x03\x04") or zipfile.is_zipfile(path)
    if is_tar and not (is_zip and path.name.lower().endswith(".zip")):
        return "tar"
    return "zip" if is_zip else None


def read_bundle_files(path: str | Path, limits: Limits = Limits()) -> dict[str, bytes]:
    """name -> content of each bundle file, from a folder or an archive, read into memory only.

    Raises BundleError for anything that is not a well-formed bundle within `limits`."""
    p, bundle = Path(path), _Bundle(str(path), limits)
    if p.is_symlink():  # in a submissions folder it could point anywhere on the builder
        _refuse(str(path), "is a symbolic link; give the bundle itself")
    if not p.is_dir():
        if not p.exists():
            raise BundleError(f"{path}: no such file or folder")
        if not p.is_file() or not p.name.lower().endswith(ARCHIVE_SUFFIXES):
            raise BundleError(f"{path}: {NOT_A_BUNDLE}")
        if (size := p.stat().st_size) > limits.stream_bytes:
            cap = limits.stream_bytes
            _refuse(str(path), f"the archive is {size} bytes, above the limit of {cap}")
    try:
        if p.is_dir():
            _read_folder(p, bundle)
        else:
            with open(p, "rb") as f:
                head = f.read(8)
            if (kind := _archive_kind(p, head)) is None:
                raise BundleError(f"{path}: {NOT_A_BUNDLE}")
            _read_zip(p, bundle) if kind == "zip" else _read_tar(p, bundle, head)
    except _READ_ERRORS as e:
        at = f" at member {bundle.current!r}" if bundle.current else ""
        reason = " ".join(str(e).split()) or type(e).__name__
        raise BundleError(f"{path}: cannot read the bundle{at}: {reason}; {HINT}") from None
    return bundle.done()


def _write_archive(kind: str, files: dict[str, bytes], f: IO[bytes]) -> None:
    """Same files, same bytes: sorted names, fixed times, no owners, gzip without name/mtime."""
    if kind == "zip":
        with zipfile.ZipFile(f, "w") as zf:
            for name in sorted(files):
                info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type, info.create_system = zipfile.ZIP_DEFLATED, 3  # 3: unix
                info.external_attr = (stat.S_IFREG | 0o644) << 16
                zf.writestr(info, files[name], compresslevel=9)
        return
    gz = gzip.GzipFile(filename="", mode="wb", fileobj=f, mtime=0) if kind != "tar" else None
    with (
        gz or contextlib.nullcontext(f) as out,
        tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tar,
    ):
        for name in sorted(files):
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(files[name]), _EPOCH, 0o644
            info.uid, info.gid, info.uname, info.gname = 0, 0, "", ""
            tar.addfile(info, BytesIO(files[name]))


def write_bundle(files: dict[str, bytes], out: str | Path) -> Path:
    """Write a bundle: an archive when `out` ends in .tar.gz/.tgz/.tar/.zip, else a folder.

    Archives are byte-for-byte deterministic. Refuses to overwrite an existing path, and writes
    in a temporary folder beside `out`, then renames, so no half-written bundle is ever seen.
    Only the names in BUNDLE_FILES may be written; REQUIRED_FILES are not enforced here, so
    tests can build incomplete bundles (read_bundle_files refuses those)."""
    out = Path(out)
    if bad := sorted(set(files) - set(BUNDLE_FILES)):
        raise BundleError(f"{out}: cannot write {bad[0]!r}: not a bundle file")
    exists = f"{out}: already exists; remove it or choose another path"
    if os.path.lexists(out):
        raise BundleError(exists)
    kind = next(
        (k for k in ("tar.gz", "tgz", "tar", "zip") if out.name.lower().endswith("." + k)), None
    )
    try:
        with tempfile.TemporaryDirectory(prefix=f".{out.name}.", dir=out.parent) as staging:
            tmp = Path(staging) / out.name
            if kind is None:
                tmp.mkdir()
                for name in sorted(files):
                    (tmp / name).write_bytes(files[name])
            else:
                with open(tmp, "wb") as f:
                    _write_archive(kind, files, f)
                    f.flush()
                    os.fsync(f.fileno())
            if os.path.lexists(out):  # appeared while we wrote
                raise BundleError(exists)
            os.rename(tmp, out)
    except OSError as e:
        raise BundleError(f"{out}: cannot write the bundle: {e.strerror or e}") from None
    return out
