"""The board as a static site: one self-contained index.html (tables, inline SVG plots, a small
sorting script; no server, no network, no CDN) and board.json beside it.

Every string on a board came from a submission and is untrusted, so the page is rendered by
Jinja with autoescape on: names reach the HTML, SVG text and attributes only as escaped text.
Before that, each is cut to a bounded length and loses the characters that would let it hide or
reorder its neighbours (controls, bidirectional overrides), in the page and in board.json alike.
The plots are drawn here, server-side, so the page needs no plotting library and reads the same
without JavaScript; the script only reorders table rows and folds the ranking's per-mode columns
away where they do not fit (DOM moves, classes, textContent, attributes).

The board ranks by the primary score (see mmsafe.leaderboard.board); the page leads with it, shows
safety and capability beside it, marks reference lines (agents that read the simulator's state:
never ranked) and flagged entries, and names the agent class each bundle says it ran.
"""

from __future__ import annotations

import html
import json
import math
import os
import re
import shutil
import subprocess
import tempfile
import unicodedata
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup, escape

from mmsafe import __version__
from mmsafe.leaderboard.model import Board, Entry, Interval

MISSING = "–"
# Tableau 10: distinct on white and for most colour-vision deficiencies; cycled by entry index.
PALETTE = (
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
    "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
)  # fmt: skip
TICKS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
TEMPLATES = Path(__file__).parent / "templates"
# The submission's strings on an entry, with the longest each may be shown.
UNTRUSTED = {"id": 200, "model": 200, "version": 200, "agent": 200, "agent_class": 200}
UNTRUSTED |= {"submitted": 40, "mmsafe_version": 50, "badge": 1000, "reason": 1000, "flag": 1000}
# C0 and C1 controls but tab and newline, and the bidi marks, embeddings, overrides, isolates
_HIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def shown_text(text: str, limit: int) -> str:
    """A submitted string as the board shows it: hidden characters made visible (U+FFFD) and
    at most `limit` characters."""
    text = _HIDDEN.sub("\ufffd", text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def public_board(board: Board) -> Board:
    """The board with every submitted string bounded and visible (see `shown_text`)."""

    def entry(e: Entry) -> Entry:
        update = {k: shown_text(v, n) for k, n in UNTRUSTED.items() if (v := getattr(e, k))}
        return e.model_copy(update=update)

    return board.model_copy(
        update={
            "entries": [entry(e) for e in board.entries],
            "unverified": [entry(e) for e in board.unverified],
        }
    )


def _ok(iv: Interval | None) -> bool:
    """An interval worth showing: present and finite (a NaN would poison sorting and plots)."""
    return iv is not None and all(math.isfinite(v) for v in (iv.mean, iv.low, iv.high))


def fmt_interval(iv: Interval | None) -> str:
    """`0.93 [0.88, 0.97]`: the mean always with its 95% interval, or "–" where unmeasured."""
    return f"{iv.mean:.2f} [{iv.low:.2f}, {iv.high:.2f}]" if _ok(iv) else MISSING


def fmt_mean(iv: Interval | None) -> str:
    """The mean alone, for the dense per-mode and per-source cells (interval in the title)."""
    return f"{iv.mean:.2f}" if _ok(iv) else MISSING


def ci_title(iv: Interval | None) -> str:
    """Tooltip text that keeps the interval and n reachable where only the mean is shown."""
    if not _ok(iv):
        return "not measured"
    return f"{iv.mean:.3f}, 95% interval [{iv.low:.3f}, {iv.high:.3f}], n = {iv.n}"


def fmt_range(iv: Interval | None) -> str:
    """`[0.88, 0.97]` alone, so the page can let it wrap under the mean in narrow cells."""
    return f"[{iv.low:.2f}, {iv.high:.2f}]" if _ok(iv) else ""


def sort_value(iv: Interval | None) -> str:
    """The raw number the table script sorts on; empty where missing (sorted last)."""
    return repr(iv.mean) if _ok(iv) else ""


def wbr(text: str) -> Markup:
    """Escape, then allow line breaks after "_" and "/" so long mode and source names wrap
    in narrow column headers instead of widening the table."""
    out = str(escape(text))
    for ch in "_/":
        out = out.replace(ch, ch + "<wbr>")
    return Markup(out)


def short_class(name: str) -> str:
    """The last part of a dotted (or "module:Class") class name: `RandomAgent` of
    `mmsafe.agents.RandomAgent`; the full name goes in a title beside it."""
    return re.split(r"[.:]", name.strip())[-1] or name


def _label(entry: Entry) -> str:
    return f"{entry.model} {entry.version}".strip()


def _tip_name(entry: Entry) -> str:
    """An entry's name in a plot's tooltip, marked where it is a reference line."""
    return _label(entry) + (" (reference, not ranked)" if entry.reference else "")


def _clamp(v: float) -> float:
    return min(1.0, max(0.0, v))


def text_px(text: str, size: float = 12.0) -> float:
    """A generous estimate of `text`'s width in px (SVG text cannot wrap or be measured here):
    wide East Asian characters and m/w a full em, capitals 0.78 em, the rest 0.64 em."""
    em = 0.0
    for ch in text:
        if unicodedata.east_asian_width(ch) in "WF" or ch in "mwMW@%":
            em += 1.0
        else:
            em += 0.78 if ch.isupper() else 0.64
    return em * size


def _fit(text: str, px: float) -> str:
    """`text`, cut with "…" to fit in `px` by `text_px`'s estimate."""
    while len(text) > 1 and text_px(text) > px:
        text = text[:-2] + "…"
    return text


def _wrap(text: str, chars: int = 12) -> list[str]:
    """Lines of at most about `chars` characters, broken after "_", "/", "-" or a space."""
    lines = [""]
    for part in re.split(r"(?<=[_/\- ])", text):
        if lines[-1] and len(lines[-1]) + len(part) > chars:
            lines.append("")
        lines[-1] += part
    return lines


def _spread(points: list[dict]) -> None:
    """Points that would hide one another (equal or nearly equal scores) are set on a small
    ring around their shared position, in board order, each tooltip naming the others."""
    clusters: list[list[dict]] = []
    for p in points:
        near = [c for c in clusters if math.dist((c[0]["x"], c[0]["y"]), (p["x"], p["y"])) < 8]
        if near:
            near[0].append(p)
        else:
            clusters.append([p])
    for group in clusters:
        if len(group) < 2:
            continue
        r = max(7.0, 13 * len(group) / (2 * math.pi))
        for i, p in enumerate(group):
            a = math.pi + 2 * math.pi * i / len(group)  # two: left and right of the spot
            p["cx"] = round(group[0]["x"] + r * math.cos(a), 1)
            p["cy"] = round(group[0]["y"] + r * math.sin(a), 1)
            p["left"] = math.cos(a) < -0.1  # its label on its own side, clear of the others
            others = ", ".join(q["name"] for q in group if q is not p)
            p["tip"] += f" (same position as {others}: points set side by side)"


def _place_labels(points: list[dict], left: float, top: float, right: float, bottom: float):
    """Each label inside the frame: right of its point (left for the left one of points set
    side by side), else on the other side, else above it; moved up or down in 14 px steps (a
    line of 12 px text) where it would overprint a label already placed."""
    placed: list[tuple[float, float, float]] = []  # x0, x1, baseline
    for p in sorted(points, key=lambda p: (p["cy"], p["cx"])):
        w, cx, base = text_px(p["label"]), p["cx"], p["cy"] + 4
        fits_right, fits_left = cx + 9 + w <= right - 4, cx - 9 - w >= left + 4
        if fits_right and not (fits_left and p.get("left")):
            x0, p["lx"], p["anchor"] = cx + 9, cx + 9, "start"
        elif fits_left:
            x0, p["lx"], p["anchor"] = cx - 9 - w, cx - 9, "end"
        else:  # too long for either side: centred above (below near the top), kept in frame
            x0 = min(max(cx - w / 2, left + 4), right - 4 - w)
            p["lx"], p["anchor"] = round(x0, 1), "start"
            base = p["cy"] - 10 if p["cy"] - 10 >= top + 13 else p["cy"] + 20
        for step in range(41):
            y = base + 14 * ((step + 1) // 2) * (1 if step % 2 else -1)  # 0, +14, -14, +28, ...
            y = min(max(y, top + 13), bottom - 5)
            if not any(
                abs(y - qy) < 14 and x0 < q1 + 4 and q0 < x0 + w + 4 for q0, q1, qy in placed
            ):
                break
        p["ly"] = round(y, 1)
        placed.append((x0, x0 + w, y))


def _scatter(board: Board, colours: dict[str, str]) -> dict:
    """Safety (y) against capability (x), both on 0..1 with 4% of padding on each side, with
    95% whiskers both ways. Labels stay inside the frame; coinciding points are spread apart.

    Entries missing either score are listed apart rather than drawn at a made-up position."""
    left, top, pw, ph, pad = 56, 12, 600, 440, 0.04
    sx = lambda v: round(left + (pad + _clamp(v) * (1 - 2 * pad)) * pw, 1)  # noqa: E731
    sy = lambda v: round(top + (1 - pad - _clamp(v) * (1 - 2 * pad)) * ph, 1)  # noqa: E731
    points, skipped = [], []
    for e in board.entries:
        s, c = e.overall.safety, e.overall.capability
        if not (_ok(s) and _ok(c)):
            skipped.append(_label(e))
            continue
        x, y = sx(c.mean), sy(s.mean)
        tip = f"{_tip_name(e)}: safety {fmt_interval(s)}, capability {fmt_interval(c)}"
        points.append(dict(
            id=e.id, name=_label(e), label=_fit(_label(e), pw - 24), tip=tip, ref=e.reference,
            colour=colours[e.id], x=x, y=y, cx=x, cy=y,
            x_lo=sx(c.low), x_hi=sx(c.high), y_lo=sy(s.low), y_hi=sy(s.high),
        ))  # fmt: skip
    _spread(points)
    for p in points:  # a large crowd's ring stays in the frame
        p["cx"] = min(max(p["cx"], left + 6), left + pw - 6)
        p["cy"] = min(max(p["cy"], top + 6), top + ph - 6)
    _place_labels(points, left, top, left + pw, top + ph)
    ticks = [dict(v=f"{t:.1f}", x=sx(t), y=sy(t)) for t in TICKS]
    return dict(
        w=left + pw + 12, h=top + ph + 52, left=left, top=top, right=left + pw,
        bottom=top + ph, ticks=ticks, points=points, skipped=skipped,
    )  # fmt: skip


def _bars(board: Board, colours: dict[str, str]) -> dict:
    """Per failure mode, one bar of the primary score per entry with its 95% whisker, and a
    legend (reference lines drawn lighter and marked "ref" there).

    A measured zero still gets a 3 px bar and a "0" above it, so it never reads as "not
    measured" (which is "–" and no bar). Mode names wrap after "_" under their group; the
    legend wraps into rows using a rough text-width estimate (SVG text cannot wrap)."""
    n = max(1, len(board.entries))
    bw = 18 if n <= 6 else 12 if n <= 12 else 8
    names = {mode: _wrap(mode) for mode in board.modes}
    longest = max((text_px(line, 12.5) for lines in names.values() for line in lines), default=0)
    slot = max(84, n * (bw + 3) + 36, round(longest) + 16)
    left, top, ph = 56, 16, 260
    w = max(640, left + len(board.modes) * slot + 16)
    wrap_at = min(w, 1180)  # the legend stays in view even when the bars scroll sideways
    sy = lambda v: round(top + (1 - _clamp(v)) * ph, 1)  # noqa: E731
    groups = []
    for m, mode in enumerate(board.modes):
        x0 = left + m * slot + (slot - n * (bw + 3) + 3) / 2
        bars = []
        for i, e in enumerate(board.entries):
            iv = e.by_mode.get(mode, None)
            s = iv.primary if iv else None
            bar = dict(x=round(x0 + i * (bw + 3), 1), w=bw, colour=colours[e.id], ok=_ok(s))
            bar.update(ref=e.reference, tip=f"{_tip_name(e)} · {mode}: score {fmt_interval(s)}")
            if _ok(s):
                h = max(3.0, sy(0) - sy(s.mean))
                bar.update(y=round(sy(0) - h, 1), h=round(h, 1), lo=sy(s.low), hi=sy(s.high))
                bar.update(cx=round(bar["x"] + bw / 2, 1), zero=round(s.mean, 2) == 0)
                bar["zy"] = min(sy(0) - 7, sy(s.high) - 4)  # the "0" above bar and whisker
            bars.append(bar)
        groups.append(dict(mode=mode, lines=names[mode], cx=left + m * slot + slot / 2, bars=bars))
    lines = max((len(v) for v in names.values()), default=1)
    legend, x, y = [], left, top + ph + 34 + 15 * lines
    for e in board.entries:
        label = _label(e) + (" (ref)" if e.reference else "")
        width = 30 + text_px(label)
        if x + width > wrap_at - 8 and x > left:
            x, y = left, y + 20
        legend.append(dict(x=round(x, 1), y=y, label=label, colour=colours[e.id], ref=e.reference))
        x += width
    return dict(
        w=w, h=y + 16, left=left, top=top, right=w - 8, bottom=top + ph, groups=groups,
        legend=legend, ticks=[dict(v=f"{t:.1f}", y=sy(t)) for t in TICKS],
    )  # fmt: skip


def _environment() -> jinja2.Environment:
    """Autoescape on for every template (.html, .css, .js alike), so no board string can
    become markup; StrictUndefined so a template typo fails the build instead of going blank."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(interval=fmt_interval, mean=fmt_mean, range=fmt_range, ci=ci_title)
    env.filters.update(sortval=sort_value, wbr=wbr, shortclass=short_class)
    return env


def render_site(board: Board) -> str:
    """The page as one string: CSS and JS are inlined so index.html works from file://."""
    board = public_board(board)
    colours = {e.id: PALETTE[i % len(PALETTE)] for i, e in enumerate(board.entries)}
    sources = [
        dict(id=src, short=src.rsplit("/", 1)[-1], mode=mode) for src, mode in board.sources.items()
    ]
    return (
        _environment()
        .get_template("index.html.j2")
        .render(
            board=board,
            colours=colours,
            sources=sources,
            scatter=_scatter(board, colours),
            bars=_bars(board, colours),
            site_version=__version__,
            missing=MISSING,
        )
    )


def write_site(board: Board, out: Path) -> Path:
    """Write out/index.html and out/board.json (the same board as data); return index.html."""
    out, board = Path(out), public_board(board)
    files = {"board.json": board.model_dump_json(indent=2) + "\n", "index.html": render_site(board)}
    out.mkdir(parents=True, exist_ok=True)
    temporary = {name: out / f".{name}.tmp" for name in files}
    try:  # each file whole, both rendered before either is touched: a full disk or a kill
        for name, text in files.items():  # leaves the old site, never a torn page
            temporary[name].write_text(text, encoding="utf-8")
        for name, tmp in temporary.items():
            os.replace(tmp, out / name)
    finally:
        for tmp in temporary.values():
            tmp.unlink(missing_ok=True)
    return out / "index.html"


def find_chromium() -> str | None:
    """Debian's chromium (CI installs it); None where absent, so callers can skip."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


def _chromium(args: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    """Headless Chromium with what a bare container or CI runner needs: no sandbox (root),
    no GPU, and no background traffic; a throwaway profile so runs never share state."""
    exe = find_chromium()
    if exe is None:
        raise FileNotFoundError("Chromium is not installed (Debian: apt-get install chromium)")
    with tempfile.TemporaryDirectory(prefix="mmsafe-chromium-") as profile:
        cmd = [
            exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--disable-dev-shm-usage", f"--user-data-dir={profile}", *args,
        ]  # fmt: skip
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=True)


def dump_dom(
    index_html: Path, fragment: str = "", timeout: float = 60, width: int = 1280, height: int = 2000
) -> str:
    """The page's DOM after its scripts ran, e.g. with fragment "sort=ranking:safety:asc", in a
    window `width` px wide (the page adapts its layout to the width)."""
    url = Path(index_html).resolve().as_uri() + (f"#{fragment}" if fragment else "")
    return _chromium([f"--window-size={width},{height}", "--dump-dom", url], timeout).stdout


def measure_page(
    index_html: Path, script: str, width: int = 1280, height: int = 2000, timeout: float = 60
) -> Any:
    """What `script` (a JavaScript function body that returns a JSON value) returns when run
    in a copy of the page after the page's own script, laid out `width` px wide: for tests of
    layout (sizes, overflow, positions) that only a browser can answer."""
    page = Path(index_html).read_text(encoding="utf-8")
    probe = (
        "<script>(function () { var out = document.createElement('pre');"
        " out.id = 'mmsafe-measure';"
        f" out.textContent = JSON.stringify((function () {{{script}}})());"
        " document.body.appendChild(out); })();</script>"
    )
    head, _, tail = page.rpartition("</body>")
    with tempfile.TemporaryDirectory(prefix="mmsafe-measure-") as tmp:
        copy = Path(tmp) / "index.html"
        copy.write_text(f"{head}{probe}</body>{tail}", encoding="utf-8")
        dom = dump_dom(copy, timeout=timeout, width=width, height=height)
    found = re.search(r'<pre id="mmsafe-measure">(.*?)</pre>', dom, re.S)
    if found is None:
        raise RuntimeError("the measuring script wrote nothing (a JavaScript error?)")
    return json.loads(html.unescape(found.group(1)))


def screenshot_site(
    index_html: Path, png: Path, width: int = 1280, height: int = 2000, timeout: float = 60
) -> Path:
    """A PNG of the page as a reader at `width` px sees it (for review and the browser test)."""
    png = Path(png).resolve()
    png.parent.mkdir(parents=True, exist_ok=True)
    url = Path(index_html).resolve().as_uri()
    _chromium(
        [f"--screenshot={png}", f"--window-size={width},{height}", "--hide-scrollbars", url],
        timeout,
    )
    return png
