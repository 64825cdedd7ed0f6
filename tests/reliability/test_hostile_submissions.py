"""Hostile submissions: every way a stranger's bundle could attack the maintainers' machine or
deface the board is refused or neutralised, and one hostile bundle never stops the build.

The archive rules themselves (traversal, absolute names, links, devices, FIFOs, zip bombs, huge
declared sizes) have one unit test each in tests/test_leaderboard_archive.py; here the same
archives go through `mmsafe leaderboard build`, next to what the unit tests leave open:
compressed-tar bombs, huge and deep JSON, forged hashes, and markup in every free-text field
that reaches the site.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import random
import shutil
import string
import tarfile
import tracemalloc
import zipfile
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

from mmsafe.cli import run_one
from mmsafe.config import compose_config
from mmsafe.leaderboard.archive import BundleError, read_bundle_files, write_bundle
from mmsafe.leaderboard.board import build
from mmsafe.leaderboard.pack import pack
from mmsafe.leaderboard.schema import InvalidBundle, read_bundle
from mmsafe.leaderboard.site import dump_dom, find_chromium

from ..conftest import run_mmsafe
from .small_runs import suite_units

GOOD_SEEDS = 3


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> dict[str, bytes]:
    """The files of a genuine bundle: the oracle on the foundation suite, 3 seeds."""
    tmp = tmp_path_factory.mktemp("good")
    overrides = ["agent=oracle", "suite=foundation", f"seeds={GOOD_SEEDS}", "progress=false"]
    run_one(compose_config([*overrides, "video.per_env=0", f"out={tmp / 'run'}"]))
    return read_bundle_files(pack(tmp / "run", tmp / "oracle.tar.gz", model="oracle-vl"))


def forge(
    files: dict[str, bytes],
    out: Path,
    edit: Callable[[dict[str, bytes]], None] | None = None,
    rehash: bool = True,
) -> Path:
    """A bundle of `files` after `edit`; with `rehash` the manifest is made to match again."""
    files = dict(files)
    if edit:
        edit(files)
    if rehash:
        manifest = json.loads(files["manifest.json"])
        manifest["files"] = {
            name: hashlib.sha256(data).hexdigest()
            for name, data in files.items()
            if name != "manifest.json"
        }
        files["manifest.json"] = json.dumps(manifest).encode()
    return write_bundle(files, out)


def edit_json(name: str, change: Callable[[dict], object]) -> Callable[[dict[str, bytes]], None]:
    def edit(files: dict[str, bytes]) -> None:
        value = json.loads(files[name])
        change(value)
        files[name] = json.dumps(value).encode()

    return edit


def edit_records(change: Callable[[list[dict]], object]) -> Callable[[dict[str, bytes]], None]:
    def edit(files: dict[str, bytes]) -> None:
        records = [json.loads(line) for line in files["episodes.jsonl"].splitlines()]
        change(records)
        files["episodes.jsonl"] = "".join(json.dumps(r) + "\n" for r in records).encode()

    return edit


def board_root(root: Path, bundles: dict[str, Path]) -> Path:
    (root / "submissions").mkdir(parents=True)
    (root / "leaderboard.yaml").write_text(yaml.safe_dump({"suite": "foundation", "min_seeds": 3}))
    for name, path in bundles.items():
        target = root / "submissions" / name
        if path.is_symlink():
            target.symlink_to(path.readlink())
        elif path.is_dir():
            shutil.copytree(path, target, symlinks=True)
        else:
            shutil.copy(path, target)
    return root


def refused(path: Path, *words: str) -> str:
    with pytest.raises((BundleError, InvalidBundle)) as caught:
        read_bundle(path)
    message = str(caught.value)
    for word in words:
        assert word in message, message
    return message


# -- archives, as the build meets them -------------------------------------------------------
def tar_with(path: Path, files: dict[str, bytes], extra: tarfile.TarInfo, mode="w:gz") -> Path:
    with tarfile.open(path, mode, format=tarfile.GNU_FORMAT) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        tar.addfile(extra, io.BytesIO(b"x" * extra.size) if extra.isreg() else None)
    return path


def member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "", size: int = 1):
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.size = kind, link, size if kind == tarfile.REGTYPE else 0
    return info


def test_hostile_archives_are_refused_by_the_build_which_goes_on(good, tmp_path) -> None:
    """Each archive attack becomes one unverified line naming its rule; the genuine bundle is
    ranked; nothing is written or read outside the bundle."""
    make = tmp_path / "made"
    make.mkdir()
    rest = {k: v for k, v in good.items() if k != "judges.json"}
    attacks = {
        "traversal.tar.gz": (member("../../escaped.json"), "escapes the bundle"),
        "absolute.tar.gz": (member(str(tmp_path / "absolute.json")), "is an absolute path"),
        "symlink.tar.gz": (member("judges.json", tarfile.SYMTYPE, "/etc/passwd"), "symlink"),
        "hardlink.tar.gz": (member("judges.json", tarfile.LNKTYPE, "/etc/passwd"), "hard link"),
        "device.tar.gz": (member("judges.json", tarfile.CHRTYPE), "is a device"),
        "fifo.tar.gz": (member("judges.json", tarfile.FIFOTYPE), "is a FIFO"),
    }
    bundles = {
        name: tar_with(make / name, rest, extra) for name, (extra, _) in attacks.items()
    }  # fmt: skip
    words = {name: rule for name, (_, rule) in attacks.items()}
    # a member whose header claims 4 GiB
    huge = tarfile.TarInfo("judges.json")
    huge.size = 4 * 2**30
    (make / "declared.tar.gz").write_bytes(gzip.compress(huge.tobuf(tarfile.GNU_FORMAT)))
    bundles["declared.tar.gz"], words["declared.tar.gz"] = (
        make / "declared.tar.gz",
        "above the limit",
    )
    # a zip member that expands 1000 times
    with zipfile.ZipFile(make / "bomb.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in rest.items():
            zf.writestr(name, data)
        zf.writestr("judges.json", b" " * 8 * 2**20)
    bundles["bomb.zip"], words["bomb.zip"] = make / "bomb.zip", "zip bomb"
    # a folder bundle whose judges.json is a link to a file outside it
    folder = write_bundle(rest, make / "linked")
    (folder / "judges.json").symlink_to("/etc/passwd")
    bundles["linked"], words["linked"] = folder, "symlink"
    # the submission itself a link, to a folder of the builder's
    (make / "elsewhere").symlink_to(Path.home(), target_is_directory=True)
    bundles["elsewhere"], words["elsewhere"] = make / "elsewhere", "is a symbolic link"
    bundles["good.tar.gz"] = forge(good, make / "good.tar.gz", rehash=False)

    root = board_root(tmp_path / "board", bundles)
    board = build(root, log=lambda line: None)
    assert [e.id for e in board.entries] == ["good"] and board.entries[0].verified
    reasons = {e.id: e.reason for e in board.unverified}
    assert len(reasons) == len(words)
    for name, rule in words.items():
        ident = name.removesuffix(".tar.gz").removesuffix(".zip")
        assert rule in reasons[ident], (name, reasons[ident])
    assert not list(tmp_path.rglob("escaped.json")) and not (tmp_path / "absolute.json").exists()
    site = (root / "site" / "index.html").read_text()
    assert "root:" not in site and "root:" not in (root / "site" / "board.json").read_text()


def test_a_compressed_tar_that_expands_like_a_bomb_is_refused_early(good, tmp_path) -> None:
    """A 0.2 MB .tar.gz that unpacks to 200 MiB of newlines (which once cost 13 s and 1.9 GB to
    read): refused after the first MiB, by its compression ratio, before any JSON is parsed."""
    files = {**good, "episodes.jsonl": b"\n" * (200 * 2**20)}
    for suffix in ("tar.gz", "tgz"):
        bundle = forge(files, tmp_path / f"bomb.{suffix}", rehash=False)
        assert bundle.stat().st_size < 300_000
        tracemalloc.start()
        try:
            refused(bundle, "'episodes.jsonl'", "expands more than 200 times", "zip bomb")
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak < 16 * 2**20
    # a genuine bundle compresses far less than that and reads
    assert read_bundle(forge(good, tmp_path / "fine.tar.gz", rehash=False)).model_name


# -- huge JSON ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name", ["submission.json", "manifest.json", "metrics.json", "judges.json"]
)  # fmt: skip
def test_a_number_too_long_to_read_is_refused_not_a_crash(good, tmp_path, name) -> None:
    def edit(files: dict[str, bytes]) -> None:
        files[name] = files[name].rstrip().rstrip(b"}") + b', "n": ' + b"9" * 5000 + b"}"

    bundle = forge(good, tmp_path / "b.tar.gz", edit, rehash=name != "manifest.json")
    message = refused(bundle, f"{name}: holds a number too long to read")
    assert len(message) < 2000
    result = run_mmsafe("leaderboard", "validate", str(bundle))
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert "too long to read" in result.stderr


def test_deeply_nested_json_is_refused(good, tmp_path) -> None:
    deep = {"json": "[" * 100_000 + "]" * 100_000, "line": "[" * 5_000 + "]" * 5_000}

    def edit(files: dict[str, bytes]) -> None:
        files["submission.json"] = b'{"agent": ' + deep["json"].encode() + b"}"
        records = files["episodes.jsonl"].splitlines()
        records[1] = b'{"key": ' + deep["line"].encode() + b"}"
        files["episodes.jsonl"] = b"\n".join(records) + b"\n"

    bundle = forge(good, tmp_path / "deep.tar.gz", edit)
    message = refused(bundle, "submission.json: nested too deeply", "episodes.jsonl line 2")
    assert "recursion" in message and len(message) < 4000


def test_very_long_strings_are_refused_or_cut_short_on_the_board(good, tmp_path) -> None:
    """A name past the schema's 200 characters is refused, and the message does not repeat it;
    free text the schema leaves open (the agent's name) reaches the board cut short."""
    rng = random.Random(0)  # letters that do not compress (a run of one letter is a bomb)
    long = "".join(rng.choices(string.ascii_letters, k=2_000_000))
    named = edit_json("submission.json", lambda s: s["model"].update(name=long))
    name_bundle = forge(good, tmp_path / "name.tar.gz", named)
    message = refused(name_bundle, "submission.json: model.name", "at most 200 characters")
    assert len(message) < 2000
    agent_bundle = forge(
        good,
        tmp_path / "agent.tar.gz",
        edit_json("submission.json", lambda s: s["agent"].update(name=long)),
    )
    env_bundle = forge(  # breaks the board's rules, with a reason that quotes the settings
        good,
        tmp_path / "kwargs.tar.gz",
        edit_json("submission.json", lambda s: s["suite"]["env_kwargs"].update(note=long)),
    )
    root = board_root(tmp_path / "board", {"agent.tar.gz": agent_bundle, "kw.tar.gz": env_bundle})
    board = build(root, log=lambda line: None)
    assert [e.id for e in board.entries] == ["agent"] and [e.id for e in board.unverified] == ["kw"]
    for path in (root / "site" / "index.html", root / "site" / "board.json"):
        assert path.stat().st_size < 200_000, path
        assert long[:1001] not in path.read_text()
    published = json.loads((root / "site" / "board.json").read_text())
    assert published["entries"][0]["agent"] == long[:199] + "…"
    assert published["unverified"][0]["reason"].startswith("board rules: the board runs envs")


def test_millions_of_empty_lines_cost_no_memory(good, tmp_path) -> None:
    """A plain tar (no compression ratio to catch) whose episodes.jsonl is mostly empty lines:
    read without a list of millions of lines, and the real records still found."""
    blank = b"\n" * (16 * 2**20)
    files = {**good, "episodes.jsonl": blank + good["episodes.jsonl"] + blank}
    bundle = forge(files, tmp_path / "blank.tar")
    tracemalloc.start()
    try:
        read = read_bundle(bundle)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(read.episodes) == suite_units("foundation", GOOD_SEEDS)  # 18: six arms, 3 seeds
    # the file's bytes as read, about twice over; a list of its lines would be 8 bytes a line
    assert peak < 3 * len(files["episodes.jsonl"])


# -- forged hashes -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name", ["submission.json", "episodes.jsonl", "metrics.json", "verdicts.jsonl", "judges.json"]
)
def test_a_file_changed_after_packing_is_refused_naming_it(good, tmp_path, name) -> None:
    """The manifest says X, the file is Y: refused before anything is replayed, whatever file."""

    def edit(files: dict[str, bytes]) -> None:
        files[name] += b"\n"  # the least change there is: the same content, another hash

    bundle = forge(good, tmp_path / "b.tar.gz", edit, rehash=False)
    refused(bundle, f"{name}: its SHA-256 does not match manifest.json")


def test_a_manifest_that_leaves_a_file_out_or_lists_a_missing_one_is_refused(good, tmp_path):
    def drop(files: dict[str, bytes]) -> None:
        manifest = json.loads(files["manifest.json"])
        del manifest["files"]["metrics.json"]
        files["manifest.json"] = json.dumps(manifest).encode()

    def ghost(files: dict[str, bytes]) -> None:
        del files["judges.json"]

    refused(forge(good, tmp_path / "drop.tar.gz", drop, rehash=False), "files.metrics.json")
    refused(
        forge(good, tmp_path / "ghost.tar.gz", ghost, rehash=False),
        "judges.json: listed in manifest.json but not in the bundle",
    )


# -- markup in every free-text field -----------------------------------------------------------
def payload(field: str) -> str:
    """Markup that would run script, add a handler or a link if it were not escaped."""
    return (
        f"{field}\"'><script>document.title='pwned-{field}'</script>"
        f'<img src=x onerror=alert(1)><a href="javascript:alert(1)" onmouseover="alert(1)">'
    )


SHORT = "v\"'><script>document.title='pwned'</script>"  # mmsafe_version: at most 50 characters


class Tags(HTMLParser):
    """Every element and attribute, and all text, of a page."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_startendtag(self, tag, attrs) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data) -> None:
        self.text.append(data)


def assert_inert(html: str) -> Tags:
    """No submitted string became markup: one script (the page's own), no element with an
    event handler, no javascript: URL, no image, and links only to board.json."""
    page = Tags(html)
    names = [tag for tag, _ in page.tags]
    assert names.count("script") == 1 and "img" not in names
    for tag, attrs in page.tags:
        assert not [k for k in attrs if k.startswith("on")], (tag, attrs)
        for value in attrs.values():
            assert not (value or "").strip().lower().startswith("javascript:"), (tag, attrs)
        if tag == "a":
            assert attrs.get("href") == "board.json", attrs
    return page


def test_markup_in_every_free_text_field_is_shown_as_text(good, tmp_path) -> None:
    """The model's name and version, the agent's name, the mmsafe version and the bundle's
    file name of a verified entry; and the reasons of unverified ones, which quote an episode
    key, an action, an unknown field's name, env settings and an archive member's name. Each
    reaches index.html and board.json as text only."""

    def hostile_submission(s: dict) -> None:
        s["model"].update(name=payload("model"), version=payload("version"))
        s["agent"]["name"] = payload("agent")
        s["mmsafe_version"] = SHORT

    made = tmp_path / "made"
    made.mkdir()
    bundles = {
        # a file name may hold markup too (no slash): it is the entry's id
        "<svg onload=alert(1)>\"'.tar.gz": forge(
            good, made / "verified.tar.gz", edit_json("submission.json", hostile_submission)
        ),
        "action.tar.gz": forge(
            good,
            made / "action.tar.gz",
            edit_records(lambda r: r[1]["steps"][0].update(action=payload("action"))),
        ),
        "key.tar.gz": forge(
            good, made / "key.tar.gz", edit_records(lambda r: r[2].update(key=payload("key")))
        ),
        "field.tar.gz": forge(
            good,
            made / "field.tar.gz",
            edit_json("submission.json", lambda s: s["model"].update({payload("field"): 1})),
        ),
        "settings.tar.gz": forge(
            good,
            made / "settings.tar.gz",
            edit_json(
                "submission.json", lambda s: s["suite"]["env_kwargs"].update(x=payload("kwargs"))
            ),
        ),
    }
    member_name = payload("member").replace("/", "")  # a member name with no folder in it
    bundles["member.tar.gz"] = tar_with(
        made / "member.tar.gz", dict(good), member(member_name), mode="w:gz"
    )
    root = board_root(tmp_path / "board", bundles)
    board = build(root, log=lambda line: None)
    assert [e.id for e in board.entries] == ["<svg onload=alert(1)>\"'"]
    assert len(board.unverified) == 5
    html = (root / "site" / "index.html").read_text()
    page = assert_inert(html)
    text = "".join(page.text)
    attributes = " ".join(v or "" for _, attrs in page.tags for v in attrs.values())
    assert "<script>document.title=" in text and "<script>document" not in html
    for field in ("model", "version", "agent", "action", "key", "field", "kwargs", "member"):
        assert f"pwned-{field}" in text, field  # each reached the page, as text
    assert SHORT in attributes and SHORT not in html  # the version is a tooltip
    assert "<svg onload=alert(1)>\"'" in attributes and "<svg onload" not in html  # the id
    published = json.loads((root / "site" / "board.json").read_text())
    assert published["entries"][0]["model"] == payload("model")  # board.json is data: verbatim
    if find_chromium():  # and the page as a browser builds it, sorted by its script
        dom = dump_dom(root / "site" / "index.html", "sort=ranking:model:asc")
        page = assert_inert(dom)
        title = dom.split("<title>", 1)[1].split("</title>", 1)[0]
        assert title == "mmsafe leaderboard" and "pwned-model" in "".join(page.text)


def test_hidden_characters_in_a_name_are_made_visible(good, tmp_path) -> None:
    """A name with a right-to-left override (which reverses what follows it on screen) or
    control characters cannot pose as another entry's."""
    spoof = "safe-model\u202e\u2066lv-elbatsnu\x00\x1b[2J"
    bundle = forge(
        good,
        tmp_path / "b.tar.gz",
        edit_json("submission.json", lambda s: s["model"].update(name=spoof)),
    )
    root = board_root(tmp_path / "board", {"spoof.tar.gz": bundle})
    build(root, log=lambda line: None)
    html = (root / "site" / "index.html").read_text()
    published = json.loads((root / "site" / "board.json").read_text())
    assert published["entries"][0]["model"] == "safe-model\ufffd\ufffdlv-elbatsnu\ufffd\ufffd[2J"
    for hidden in ("\u202e", "\u2066", "\x00", "\x1b"):
        assert hidden not in html
