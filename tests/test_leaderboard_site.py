"""The leaderboard's static site: structure and escaping without a browser (the primary score
first, reference lines unranked, agent classes and held-out flags beside the names), then the
page as headless Chromium runs it (sorting script, hostile names kept as text, the layout at
1280 and 1920 px, a screenshot)."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import pytest

from mmsafe.leaderboard.model import Board, Entry, Interval, Score
from mmsafe.leaderboard.site import (
    dump_dom,
    find_chromium,
    measure_page,
    public_board,
    screenshot_site,
    short_class,
    write_site,
)

SCRIPT_NAME = "<script>document.title='pwned'</script>"
IMG_NAME = '"><img src=x onerror="document.title=\'pwned\'">'
HOSTILE_REASON = "replayed cost differs </li><script>document.title='pwned'</script>"
HOSTILE_CLASS = 'evil.mod."><b onclick="alert(1)">Agent'
HOSTILE_FLAG = "held-out score 0.10 (n=50) is below [0.25, 0.35] </span><script>x()</script>"
ORACLE_CLASS = "mmsafe.agents.ScriptedOracle"
MODES = ["harmful_compliance", "side_effects"]
SOURCES = {"mmsafe/FragileVase-v1": "side_effects", "tasks/figstep": "harmful_compliance"}


def iv(mean: float, half: float = 0.05, n: int = 100) -> Interval:
    return Interval(mean=mean, low=max(0.0, mean - half), high=min(1.0, mean + half), n=n)


def make_board() -> Board:
    """In board order, by the primary score: a reference line (the oracle, unranked) above
    three ranked entries; safety and capability orders differ from the primary's, the first
    ranked lacks capability and has a held-out result, the third is flagged."""

    def entry(i, model, primary, safety, capability, rank=None, **kw) -> Entry:
        cap = iv(capability) if capability is not None else None
        return Entry(
            id=f"sub-{i}", model=model, version=f"v{i}", rank=rank, verified=True,
            badge="replayed 20 episodes · re-scored 10 samples",
            overall=Score(primary=iv(primary), safety=iv(safety), capability=cap),
            by_mode={m: Score(primary=iv(primary - 0.1 * k), safety=iv(safety - 0.1 * k),
                              capability=cap) for k, m in enumerate(MODES)},
            by_source={s: Score(primary=iv(primary), safety=iv(safety)) for s in SOURCES},
            episodes=20, samples=10, **{"agent": "hf", **kw},
        )  # fmt: skip

    return Board(
        title="test board", suite="default", generated="2025-05-02T10:00:00Z",
        mmsafe_version="0.1.0", modes=MODES, sources=SOURCES,
        entries=[
            entry(0, "oracle", 0.97, 1.0, 0.98, agent="oracle", agent_class=ORACLE_CLASS,
                  reference=True),
            entry(1, "plain-vl", 0.70, 0.95, None, rank=1, agent_class="mmsafe.agents.HFAgent",
                  heldout=Score(primary=iv(0.68), safety=iv(0.9), capability=iv(0.75))),
            entry(2, SCRIPT_NAME, 0.55, 0.80, 0.90, rank=2,
                  agent_class="mmsafe.agents.RandomAgent"),
            entry(3, IMG_NAME, 0.30, 0.60, 0.40, rank=3, agent_class=HOSTILE_CLASS,
                  flag=HOSTILE_FLAG),
        ],
        unverified=[Entry(id="bad", model="sneaky-vl", version="0.3", reason=HOSTILE_REASON)],
    )  # fmt: skip


class Node:
    def __init__(self, tag: str, attrs: dict[str, str | None]):
        self.tag, self.attrs, self.children = tag, attrs, []

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def find_all(self, tag: str, **attrs: str) -> list[Node]:
        found = []
        for c in self.children:
            if isinstance(c, Node):
                # class_="x" matches class="x", data_key="x" matches data-key="x"
                want = {k.rstrip("_").replace("_", "-"): v for k, v in attrs.items()}
                if c.tag == tag and all(c.attrs.get(k) == v for k, v in want.items()):
                    found.append(c)
                found.extend(c.find_all(tag, **attrs))
        return found

    def find(self, tag: str, **attrs: str) -> Node:
        (node,) = self.find_all(tag, **attrs)
        return node


class TreeBuilder(HTMLParser):
    """Just enough of a DOM from html.parser: elements, attributes and text."""

    VOID = {"meta", "link", "br", "hr", "img", "input", "wbr", "source", "col", "area", "base"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {})
        self.stack = [self.root]
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        node = Node(tag, dict(attrs))
        self.tags.append((tag, node.attrs))
        self.stack[-1].children.append(node)
        if tag not in self.VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self.stack[-1].children.append(Node(tag, dict(attrs)))

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                return

    def handle_data(self, data):
        self.stack[-1].children.append(data)


def parse(html: str) -> TreeBuilder:
    builder = TreeBuilder()
    builder.feed(html)
    builder.close()
    return builder


def rows(doc: Node, table: str) -> list[Node]:
    return doc.find("table", id=table).find("tbody").find_all("tr")


def cell(row: Node, key: str) -> Node:
    (td,) = [td for td in row.find_all("td") if td.attrs.get("data-col") == key]
    return td


def assert_safe(parsed: TreeBuilder) -> None:
    """No hostile string became an element: one script (ours), no <img>, no handlers."""
    tags = [t for t, _ in parsed.tags]
    assert tags.count("script") == 1 and "img" not in tags
    assert not any(k.startswith("on") for _, attrs in parsed.tags for k in attrs)
    assert parsed.root.find("head").find("title").text() == "test board"


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    return write_site(make_board(), tmp_path_factory.mktemp("site"))


def test_writes_index_and_board_json(site: Path) -> None:
    assert site.name == "index.html" and site.is_file()
    board = json.loads((site.parent / "board.json").read_text())
    assert Board.model_validate(board) == make_board()


def test_hostile_strings_are_escaped_text(site: Path) -> None:
    html = site.read_text()
    assert "&lt;script&gt;document.title=" in html and "<script>document.title" not in html
    assert "<img" not in html and "&lt;/li&gt;&lt;script&gt;" in html
    parsed = parse(html)
    assert_safe(parsed)
    doc = parsed.root
    models = [cell(r, "model").find("span", class_="name").text() for r in rows(doc, "ranking")]
    assert models == ["oracle", "plain-vl", SCRIPT_NAME, IMG_NAME]
    labels = [t.text() for t in doc.find("svg", id="scatter").find_all("text", class_="label")]
    assert labels == ["oracle v0", f"{SCRIPT_NAME} v2", f"{IMG_NAME} v3"]
    assert HOSTILE_REASON in doc.find("section", id="unverified").text()
    assert "&gt;&lt;b onclick=" in html and "<b onclick" not in html
    assert "&lt;/span&gt;&lt;script&gt;x()&lt;/script&gt;" in html
    verified = cell(rows(doc, "ranking")[1], "verified").find("span")
    assert verified.attrs["title"] == "replayed 20 episodes · re-scored 10 samples"


def ranking_keys(doc: Node) -> list[str]:
    """The ranking's columns, left to right (a row's cells: the headers span two rows)."""
    return [td.attrs["data-col"] for td in rows(doc, "ranking")[0].find_all("td")]


def test_tables_show_intervals_modes_and_sources(site: Path) -> None:
    doc = parse(site.read_text()).root
    ranking = rows(doc, "ranking")
    assert len(ranking) == 4
    assert " ".join(cell(ranking[2], "score").text().split()) == "0.55 [0.50, 0.60]"
    assert " ".join(cell(ranking[2], "safety").text().split()) == "0.80 [0.75, 0.85]"
    assert cell(ranking[1], "capability").text() == "–"
    assert cell(ranking[1], "capability").attrs["data-sort"] == ""
    held = [cell(ranking[1], f"heldout:{k}").text().split()[0] for k in KINDS]
    assert held == ["0.68", "0.90", "0.75"]
    assert [cell(ranking[2], f"heldout:{k}").text() for k in KINDS] == ["–"] * 3
    mode_cell = cell(ranking[2], "mode:side_effects:safety")
    assert mode_cell.text() == "0.70" and "[0.650, 0.750]" in mode_cell.attrs["title"]
    mode_cell = cell(ranking[2], "mode:side_effects:score")
    assert mode_cell.text() == "0.45" and "[0.400, 0.500]" in mode_cell.attrs["title"]
    keys = ranking_keys(doc)
    assert {"mode:harmful_compliance:capability", "verified", "episodes"} <= set(keys)
    sources = doc.find("table", id="sources")
    groups = [th.text() for th in sources.find_all("th", scope="colgroup")]
    assert groups == ["FragileVase-v1side_effects", "figstepharmful_compliance"]
    assert [th.text() for th in sources.find_all("th") if "data-key" in th.attrs][1:4] == [
        "score", "safety", "capab.",
    ]  # fmt: skip
    assert cell(rows(doc, "sources")[3], "source:tasks/figstep:safety").text() == "0.60"
    assert cell(rows(doc, "sources")[3], "source:tasks/figstep:score").text() == "0.30"


KINDS = ("score", "safety", "capability")


def test_ranking_leads_with_the_primary_score(site: Path) -> None:
    doc = parse(site.read_text()).root
    keys = ranking_keys(doc)
    assert keys[:9] == ["rank", "model", "agent"] + list(KINDS) + [f"heldout:{k}" for k in KINDS]
    assert keys[9:12] == [f"mode:harmful_compliance:{k}" for k in KINDS]
    row = rows(doc, "ranking")[1]
    first = [td for td in row.find_all("td") if "num" in td.attrs.get("class", "").split()][1]
    assert first.attrs["data-col"] == "score" and first.text().split()[0] == "0.70"
    groups = [th.text() for th in doc.find("table", id="ranking").find_all("th", scope="colgroup")]
    assert groups[:2] == ["public", "held-out"]
    explain = " ".join(doc.find("p", class_="explain").text().split())
    for words in ("Rank is by the score", "refusing everything scores 0", "Clopper-Pearson",
                  "MOVER", "held-out score", "never ranked"):  # fmt: skip
        assert words in explain
    assert "bootstrap" not in site.read_text()


def test_a_reference_entry_is_shown_but_never_ranked(site: Path) -> None:
    doc = parse(site.read_text()).root
    ranking = rows(doc, "ranking")
    assert [r.attrs.get("class") for r in ranking] == ["reference", None, None, "flagged"]
    rank = cell(ranking[0], "rank")
    assert rank.text() == "ref" and rank.attrs["data-sort"] == ""
    assert [cell(r, "rank").text() for r in ranking[1:]] == ["1", "2", "3"]
    tag = cell(ranking[0], "model").find("span", class_="tag ref")
    assert tag.text() == "reference" and "never ranked" in tag.attrs["title"]
    assert not any(r.find_all("span", class_="tag ref") for r in ranking[1:])
    assert rows(doc, "sources")[0].attrs["class"] == "reference"
    point = doc.find("svg", id="scatter").find("g", class_="point ref")
    assert point.attrs["data-entry"] == "sub-0"
    legend = doc.find("svg", id="modes").find("g", class_="legend").find_all("text")
    assert legend[0].text() == "oracle v0 (ref)"
    assert "1 reference" in doc.find("dl", class_="meta").text()


def test_the_agent_class_is_shown_beside_the_model(site: Path) -> None:
    doc = parse(site.read_text()).root
    shown = [cell(r, "model").find("span", class_="class mono") for r in rows(doc, "ranking")]
    assert [s.text() for s in shown] == [
        "ScriptedOracle", "HFAgent", "RandomAgent", '"><b onclick="alert(1)">Agent',
    ]  # fmt: skip
    assert shown[2].attrs["title"] == "agent class: mmsafe.agents.RandomAgent"
    assert shown[3].attrs["title"] == f"agent class: {HOSTILE_CLASS}"
    assert "b" not in [t for t, _ in parse(site.read_text()).tags]


def test_a_flagged_entry_shows_its_flag_escaped(site: Path) -> None:
    html = site.read_text()
    doc = parse(html).root
    ranking = rows(doc, "ranking")
    flag = cell(ranking[3], "model").find("span", class_="tag flag")
    assert flag.text() == "⚠ held-out drop" and flag.attrs["title"] == HOSTILE_FLAG
    assert not any(cell(r, "model").find_all("span", class_="tag flag") for r in ranking[:3])
    listed = doc.find("ul", id="flags").find_all("li")
    assert len(listed) == 1 and HOSTILE_FLAG in listed[0].text() and IMG_NAME in listed[0].text()
    assert HOSTILE_FLAG not in html  # only ever as escaped text
    assert_safe(parse(html))


def test_submitted_class_and_flag_are_bounded_and_visible() -> None:
    """The agent class and the flag go through the same bounding as every submitted string:
    a right-to-left override cannot reorder its neighbours, a long name cannot flood a cell."""
    board = make_board()
    sneaky = Entry(id="s", model="m", agent_class="a.\u202eAgent" + "x" * 500, flag="\u202egalf")
    shown = public_board(board.model_copy(update={"entries": [sneaky]})).entries[0]
    assert shown.agent_class.startswith("a.\ufffdAgent") and len(shown.agent_class) == 200
    assert shown.flag == "\ufffdgalf"
    assert short_class("mmsafe.agents.RandomAgent") == "RandomAgent"
    assert short_class("my_pkg.agents:Mine") == "Mine" and short_class("Plain") == "Plain"


def test_plots_draw_entries_with_both_scores_and_note_the_rest(site: Path) -> None:
    doc = parse(site.read_text()).root
    scatter = doc.find("svg", id="scatter")
    points = [g for g in scatter.find_all("g") if "point" in g.attrs.get("class", "")]
    assert [g.attrs["data-entry"] for g in points] == ["sub-0", "sub-2", "sub-3"]
    assert len(scatter.find_all("circle")) == 3
    assert all(len(g.find_all("line")) == 2 and g.find("title").text() for g in points)
    assert "plain-vl v1" in doc.find("p", id="scatter-skipped").text()
    modes = doc.find("svg", id="modes")
    assert modes.find("title", id="modes-title").text().startswith("The primary score per")
    assert [g.attrs["data-mode"] for g in modes.find_all("g", class_="mode")] == MODES
    bars = [g for g in modes.find_all("g") if "bar" in g.attrs.get("class", "").split()]
    assert len(bars) == len(MODES) * 4
    tips = [g.find("title").text() for g in bars]
    assert tips[3] == f"{IMG_NAME} v3 · harmful_compliance: score 0.30 [0.25, 0.35]"
    assert tips[0].startswith("oracle v0 (reference, not ranked) · harmful_compliance: score 0.97")
    legend = [t.text() for t in modes.find("g", class_="legend").find_all("text")]
    assert legend == ["oracle v0 (ref)", "plain-vl v1", f"{SCRIPT_NAME} v2", f"{IMG_NAME} v3"]


def test_empty_board_renders(tmp_path: Path) -> None:
    doc = parse(write_site(Board(), tmp_path).read_text()).root
    assert "No verified entries yet." in doc.text() and "None: every" in doc.text()
    assert not doc.find("svg", id="scatter").find_all("circle")


# In headless Chromium: the page as it runs. Skipped, with the reason, where none is installed.
needs_chromium = pytest.mark.skipif(
    find_chromium() is None,
    reason="Chromium is not installed (Debian: apt-get install chromium); "
    "the site's browser test needs it",
)


def sort_values(doc: Node, key: str) -> list[float | None]:
    return [
        float(v) if (v := cell(r, key).attrs["data-sort"]) else None for r in rows(doc, "ranking")
    ]


@needs_chromium
def test_browser_runs_the_page_safely(site: Path) -> None:
    parsed = parse(dump_dom(site))
    assert_safe(parsed)
    doc = parsed.root
    assert len(rows(doc, "ranking")) == 4 and len(rows(doc, "sources")) == 4
    assert len(doc.find("svg", id="scatter").find_all("circle")) == 3
    names = [cell(r, "model").find("span", class_="name").text() for r in rows(doc, "ranking")]
    assert names == ["oracle", "plain-vl", SCRIPT_NAME, IMG_NAME]


@needs_chromium
def test_browser_sorts_from_the_url_hash(site: Path) -> None:
    doc = parse(dump_dom(site, "sort=ranking:capability:asc")).root
    assert sort_values(doc, "capability") == [0.4, 0.9, 0.98, None]  # missing last
    th = [t for t in doc.find_all("th") if t.attrs.get("data-key") == "capability"]
    assert th[0].attrs["aria-sort"] == "ascending"
    doc = parse(dump_dom(site, "sort=ranking:score:asc")).root
    assert sort_values(doc, "score") == [0.3, 0.55, 0.7, 0.97]
    doc = parse(dump_dom(site, "sort=ranking:heldout%3Ascore:desc")).root
    assert sort_values(doc, "heldout:score") == [0.68, None, None, None]
    doc = parse(dump_dom(site, "sort=ranking:mode%3Aside_effects%3Ascore:desc")).root
    assert sort_values(doc, "mode:side_effects:score") == pytest.approx([0.87, 0.6, 0.45, 0.2])
    doc = parse(dump_dom(site, "sort=ranking:rank:asc")).root
    assert sort_values(doc, "rank") == [1.0, 2.0, 3.0, None]  # the reference line: never ranked
    doc = parse(dump_dom(site, "sort=ranking:nonsense:asc")).root
    assert sort_values(doc, "rank") == [None, 1.0, 2.0, 3.0]  # board order


@needs_chromium
def test_browser_sorts_on_header_clicks(site: Path, tmp_path: Path) -> None:
    """Clicks on the model header: first ascending, then reversed (a script added to a copy)."""
    click = "document.querySelector('#sources th[data-key=model] button')"
    page = site.read_text().replace(
        "</body>", f"<script>{click}.click(); {click}.click();</script></body>"
    )
    (tmp_path / "index.html").write_text(page)
    doc = parse(dump_dom(tmp_path / "index.html")).root
    names = [cell(r, "model").attrs["data-sort"] for r in rows(doc, "sources")]
    assert names == sorted(names, key=str.lower, reverse=True)
    th = doc.find("table", id="sources").find("th", data_key="model")
    assert th.attrs["aria-sort"] == "descending"


@needs_chromium
def test_browser_screenshot(site: Path, tmp_path: Path) -> None:
    png = screenshot_site(site, tmp_path / "shot.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


# The shipped suite's eleven failure modes: long names, too many columns for a 1280 px window.
WIDE_MODES = [
    "hazard_avoidance", "side_effects", "corrigibility", "absent_supervisor", "reward_gaming",
    "sycophancy", "hazardous_instructions", "prompt_injection", "memory_injection",
    "rare_events", "distribution_shift",
]  # fmt: skip
LONG_NAME = "oracle-with-a-rather-long-model-name-2025-preview"


def wide_board() -> Board:
    """The layout's hard cases: a long-named reference line at the best corner (1, 1), two
    entries with the same scores (one named with markup, one flagged), and one scoring 0
    everywhere but one mode, which nothing measured; every entry with its agent class."""

    def entry(i, model, score, safety, capability, skip="", rank=None, **kw) -> Entry:
        scores = Score(primary=iv(score), safety=iv(safety), capability=iv(capability))
        return Entry(
            id=f"sub-{i}", model=model, version=f"v{i}", agent="hf", rank=rank, verified=True,
            overall=scores, heldout=scores, by_mode={m: scores for m in WIDE_MODES if m != skip},
            episodes=240, samples=100, **{"agent_class": "mmsafe.agents.HuggingFaceAgent", **kw},
        )  # fmt: skip

    return Board(
        title="wide board", modes=WIDE_MODES,
        entries=[
            entry(1, LONG_NAME, 1.0, 1.0, 1.0, reference=True,
                  agent_class="mmsafe.agents.ScriptedOracle"),
            entry(2, "twin-vl", 0.3, 0.6, 0.4, rank=1, flag="held-out score 0.10 is below"),
            entry(3, SCRIPT_NAME, 0.3, 0.6, 0.4, rank=1),
            entry(4, "zero-vl", 0.0, 0.0, 0.0, skip="sycophancy", rank=3),
        ],
    )  # fmt: skip


# Run in the page (see measure_page): boxes of what the layout tests check, in CSS px.
LAYOUT_JS = """
function box(el) {
  var b = el.getBoundingClientRect();
  return {l: b.left, t: b.top, r: b.right, b: b.bottom, w: b.width, h: b.height};
}
function all(sel) { return Array.prototype.slice.call(document.querySelectorAll(sel)); }
var table = document.getElementById("ranking"), wrap = table.parentNode;
var toggle = document.getElementById("ranking-modes");
var shown = function () { return all("#ranking th.detail").filter(function (th) {
  return th.getBoundingClientRect().width > 0; }).length; };
var out = {
  content: document.getElementById("overall").clientWidth,
  scroll: wrap.scrollWidth, client: wrap.clientWidth, wrap: box(wrap),
  level: table.className, detail: shown(),
  toggle: {hidden: toggle.hidden, expanded: toggle.getAttribute("aria-expanded")},
  main: all("#ranking th[data-key]:not(.detail)").map(function (th) {
    return [th.getAttribute("data-key"), box(th)]; }),
  frame: box(document.querySelector("#scatter rect.frame")),
  labels: all("#scatter text.label").map(function (t) { return [t.textContent, box(t)]; }),
  points: all("#scatter g.point").map(function (g) {
    return [g.getAttribute("data-entry"), g.querySelector("title").textContent,
            box(g.querySelector("circle"))]; }),
  baseline: box(document.querySelector("#modes line.baseline")),
  zeros: all("#modes rect.zero").map(box),
  zeroLabels: all("#modes text.zero-label").map(function (t) { return t.textContent; }),
  missing: all("#modes text.missing").map(function (t) { return t.lastChild.textContent; }),
  bars: all("#modes g.bar").length,
};
toggle.click();
out.clicked = {expanded: toggle.getAttribute("aria-expanded"), detail: shown()};
return out;
"""


@pytest.fixture(scope="module")
def wide_site(tmp_path_factory) -> Path:
    return write_site(wide_board(), tmp_path_factory.mktemp("wide"))


@pytest.fixture(scope="module")
def layout(wide_site: Path) -> dict[int, dict]:
    """The wide board as headless Chromium lays it out 1280 and 1920 px wide."""
    if find_chromium() is None:
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium)")
    return {w: measure_page(wide_site, LAYOUT_JS, width=w) for w in (1280, 1920)}


def inside(inner: dict, outer: dict, slack: float = 0.5) -> bool:
    return (
        inner["l"] >= outer["l"] - slack
        and inner["r"] <= outer["r"] + slack
        and inner["t"] >= outer["t"] - slack
        and inner["b"] <= outer["b"] + slack
    )


@needs_chromium
def test_browser_ranking_fits_1280_px_with_modes_behind_a_toggle(layout) -> None:
    page = layout[1280]
    assert page["scroll"] <= page["client"]  # no sideways scrolling
    keys = {k for k, _ in page["main"]}
    assert keys == {"rank", "model", "agent", *KINDS, *(f"heldout:{k}" for k in KINDS)} | {
        "verified", "episodes", "samples",
    }  # fmt: skip
    assert all(b["w"] > 0 and b["r"] <= page["wrap"]["r"] + 0.5 for _, b in page["main"])
    assert page["level"] == "sortable brief" and page["detail"] == 0
    assert page["toggle"] == {"hidden": False, "expanded": "false"}
    # one click shows every per-mode column: a group header and score, safety, capability
    assert page["clicked"] == {"expanded": "true", "detail": 4 * len(WIDE_MODES)}


@pytest.fixture(scope="module")
def few_modes_1920(site: Path) -> dict:
    """The two-mode board as headless Chromium lays it out 1920 px wide."""
    if find_chromium() is None:
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium)")
    return measure_page(site, LAYOUT_JS, width=1920)


@needs_chromium
def test_browser_uses_the_width_at_1920_px(layout, few_modes_1920) -> None:
    page = layout[1920]
    assert page["content"] > 1500
    assert page["scroll"] <= page["client"] and page["client"] > 1500
    # eleven modes' 33 columns do not fit beside the twelve main ones: the main ones take
    # the room, wider than at 1280, and the per-mode columns wait behind the toggle
    assert page["level"] == "sortable brief" and page["toggle"]["hidden"] is False
    width = lambda page: sum(b["w"] for _, b in page["main"])  # noqa: E731
    assert width(page) > width(layout[1280]) + 400
    # two modes fit whole: score, safety and capability of each, and no toggle
    few = few_modes_1920
    assert few["scroll"] <= few["client"] and few["level"] == "sortable"
    assert few["detail"] == 4 * len(MODES) and few["toggle"]["hidden"] is True


@needs_chromium
def test_browser_zero_has_a_mark_and_not_measured_has_none(layout) -> None:
    page = layout[1280]
    zeros = len(WIDE_MODES) - 1  # zero-vl: 0 in every mode but sycophancy, not measured
    assert len(page["zeros"]) == zeros and page["zeroLabels"] == ["0"] * zeros
    for mark in page["zeros"]:
        assert mark["w"] > 1 and mark["h"] > 1  # visible, and standing on the axis
        assert abs(mark["b"] - page["baseline"]["t"] - page["baseline"]["h"] / 2) < 1.5
    assert page["missing"] == ["–"] and page["bars"] == 4 * len(WIDE_MODES) - 1


@needs_chromium
def test_browser_scatter_labels_stay_inside_the_frame(layout) -> None:
    for page in layout.values():
        labels = page["labels"]
        assert [t for t, _ in labels] == [
            f"{LONG_NAME} v1", "twin-vl v2", f"{SCRIPT_NAME} v3", "zero-vl v4",
        ]  # fmt: skip
        assert all(inside(b, page["frame"]) for _, b in labels), labels
        for i, (_, a) in enumerate(labels):  # and none overprints another
            for _, b in labels[i + 1 :]:
                assert a["r"] <= b["l"] or b["r"] <= a["l"] or a["b"] <= b["t"] or b["b"] <= a["t"]
        assert all(inside(c, page["frame"]) for _, _, c in page["points"])


@needs_chromium
def test_browser_identical_entries_are_drawn_apart(layout) -> None:
    points = {id_: (title, c) for id_, title, c in layout[1280]["points"]}
    (title2, a), (title3, b) = points["sub-2"], points["sub-3"]
    centre = lambda c: (c["l"] + c["w"] / 2, c["t"] + c["h"] / 2)  # noqa: E731
    (ax, ay), (bx, by) = centre(a), centre(b)
    assert ((ax - bx) ** 2 + (ay - by) ** 2) ** 0.5 >= a["w"]  # side by side, not overlapping
    assert f"same position as {SCRIPT_NAME} v3" in title2 and "same position as twin-vl" in title3


@needs_chromium
def test_browser_sorting_on_a_mode_shows_the_mode_columns(wide_site: Path) -> None:
    doc = parse(dump_dom(wide_site, "sort=ranking:mode%3Aside_effects%3Ascore:asc")).root
    table = doc.find("table", id="ranking")
    assert table.attrs["class"] == "sortable"
    assert table.find("th", data_key="mode:side_effects:score").attrs["aria-sort"] == "ascending"
    scores = [cell(r, "mode:side_effects:score").text() for r in rows(doc, "ranking")]
    assert scores == ["0.00", "0.30", "0.30", "1.00"]
