"""Every command in the docs runs, and every relative link in them resolves.

README.md and docs/*.md are read fenced block by fenced block:

- ```python (or ```py) blocks run as a script, in a subprocess. The script is padded with blank
  lines so that its line numbers are the page's: a traceback names the page's line.
- ```bash (or ```sh) blocks run through bash with this environment's bin/ first on PATH. Each
  command (a line with its `\\` continuations and its heredoc) is checked on its own: the first
  that fails ends the block, and the test fails naming the page, the line, the command as run
  and the end of its output. Commands left running in the background (a server started with
  `&`) are stopped when the block ends.
- Blocks with no language tag are output or listings, and yaml, json and the like are file
  contents: they are not commands.
- `<!-- not run by tests: REASON -->` on the line just before a block leaves it out; the reason
  is required, and there may be at most MAX_NOT_RUN such blocks in all the docs.

The blocks of one page run in order in one scratch directory holding copies of the checkout's
content folders (CONTENT), so a page's commands may use `envs/...` or `assets/...`, and what an
earlier block of the page made (a run directory, a bundle, a file written with a heredoc).

Commands that would need the outside world, or would take minutes, are rewritten first by
REWRITES, a fixed table applied in order to each part of an `a && b` chain; a failure message
shows the command as it was run. The environment the commands see (ENVIRONMENT) keeps them off
the network. The README's two fenced commands install from scratch and run the whole suite:
CI (.ci/run) runs those as written, so here their install steps and `pytest` are dropped and
what is left (the first command's evaluation) runs.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from .conftest import ROOT

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# the pages whose commands build model agents run in test_docs_models.py: the test run gives
# each file one worker (--dist loadfile), so the slowest pages are split over two
MODEL_PAGES = [ROOT / "docs" / "agents.md", ROOT / "docs" / "judges.md"]
RUNNABLE = {"bash": "shell", "sh": "shell", "python": "python", "py": "python"}
CONTENT = ("assets", "bench", "envs", "examples", "leaderboard", "tasks")  # copied per page
MAX_NOT_RUN = 5
BLOCK_TIMEOUT_S = 900
NOT_RUN = re.compile(r"^<!--\s*not run by tests:(.*?)-->\s*$")
FENCE = re.compile(r"^(\s*)```([\w+-]*)\s*$")


# --- reading the pages -------------------------------------------------------------------------


@dataclass
class Block:
    page: Path
    line: int  # the page's line number of the block's first line of code
    lang: str
    code: str
    not_run: str | None  # the reason given in the marker before it, if any

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def read_blocks(page: Path) -> list[Block]:
    """The fenced blocks of a page, in order. An unclosed fence fails the test."""
    lines = page.read_text(encoding="utf-8").split("\n")
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        opened = FENCE.match(lines[i])
        if not opened:
            i += 1
            continue
        indent, lang = opened.group(1), opened.group(2)
        before = lines[i - 1].strip() if i > 0 else ""
        marker = NOT_RUN.match(before)
        start = i + 1
        i += 1
        while i < len(lines) and lines[i].strip() != "```":
            i += 1
        assert i < len(lines), f"{page.relative_to(ROOT)}:{start}: the block is never closed"
        code = "\n".join(line[len(indent) :] for line in lines[start:i]) + "\n"
        reason = marker.group(1).strip() if marker else None
        blocks.append(Block(page, start + 1, lang, code, reason))
        i += 1
    return blocks


@dataclass
class Command:
    line: int  # on the page
    head: str  # the command line itself (continuations joined)
    body: str = ""  # a heredoc's lines and its terminator, if any


def read_commands(block: Block) -> list[Command]:
    """A shell block's commands: each line, joined with its `\\` continuations, with its heredoc.
    Blank lines and comment lines are not commands."""
    lines = block.code.rstrip("\n").split("\n")
    commands: list[Command] = []
    i = 0
    while i < len(lines):
        if not lines[i].strip() or lines[i].lstrip().startswith("#"):
            i += 1
            continue
        start, parts = i, [lines[i]]
        while parts[-1].rstrip().endswith("\\") and i + 1 < len(lines):
            i += 1
            parts.append(lines[i])
        head = " ".join(part.rstrip().removesuffix("\\").strip() for part in parts)
        body: list[str] = []
        heredoc = re.search(r"<<-?\s*(['\"]?)(\w+)\1", head)
        if heredoc:
            end = heredoc.group(2)
            while i + 1 < len(lines):
                i += 1
                body.append(lines[i])
                if lines[i].strip() == end:
                    break
            assert body and body[-1].strip() == end, f"{block.where}: heredoc {end} never ends"
        commands.append(Command(block.line + start, head, "\n".join(body)))
        i += 1
    return commands


# --- the rewrite table -------------------------------------------------------------------------


class Context:
    """What rewrites point commands at, made only when a rewrite asks for it."""

    def __init__(self, request: pytest.FixtureRequest, scratch: Path):
        self.request, self.scratch = request, scratch
        self._chat = None
        self._port: int | None = None

    @property
    def tiny_vlm(self) -> str:  # assets/models/make_tiny_vlms.py, built once per session
        return str(self.request.getfixturevalue("tiny_vlms")["qwen2_vl"])

    @property
    def tiny_clip(self) -> str:  # assets/models/make_tiny_clip.py, built once per session
        return str(self.request.getfixturevalue("tiny_clip"))

    @property
    def chat_url(self) -> str:  # an OpenAI-compatible server in this process (chat_server.py)
        if self._chat is None:
            from .chat_server import ChatServer

            self._chat = ChatServer().__enter__()
        return self._chat.base_url

    @property
    def free_port(self) -> str:
        if self._port is None:
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                self._port = probe.getsockname()[1]
        return str(self._port)

    def close(self) -> None:
        if self._chat is not None:
            self._chat.__exit__(None, None, None)


@dataclass
class Rewrite:
    why: str
    applies: Callable[[str], bool]
    change: Callable[[str, Context], str | None]  # None: the part is dropped


def _appending(extra: Callable[[Context], str]) -> Callable[[str, Context], str]:
    def change(part: str, ctx: Context) -> str:
        command, comment = split_comment(part)
        return f"{command} {extra(ctx)}" + (f"  {comment}" if comment else "")

    return change


def _names_judge(part: str, judge: str) -> bool:
    judges = re.search(r"judge=\[([^\]]*)\]", part)
    return (
        bool(judges) and judge in judges.group(1).split(",") and f"judge.{judge}.model=" not in part
    )


INSTALL = re.compile(r"(python3? -m venv|\. \S*activate|source \S*activate|pip install)\b")
EVAL = re.compile(r"\bmmsafe (?:eval|audit)\b")
HUB_VLM = re.compile(r"agent\.model=(?:HuggingFaceTB|Qwen|meta-llama|google|llava-hf)/[\w.-]+")
CLIP_JUDGES = ("clip_reward", "video_reward", "clip_concepts")

REWRITES: list[Rewrite] = [
    Rewrite(
        "installs are dropped: the test runs in the dev environment, which has every extra; CI "
        "(.ci/run) runs the README's two install commands from scratch",
        lambda p: bool(INSTALL.match(p)),
        lambda p, ctx: None,
    ),
    Rewrite(
        "`pytest` (the README's second command) is dropped: it is this test suite; CI runs it",
        lambda p: bool(re.match(r"pytest\b", p)),
        lambda p, ctx: None,
    ),
    Rewrite(
        "a hub VLM for agent=hf becomes the tiny random Qwen2-VL that "
        "assets/models/make_tiny_vlms.py builds, capped at 4 new tokens (random weights never "
        "stop early)",
        lambda p: "agent=hf" in p and bool(HUB_VLM.search(p)),
        lambda p, ctx: HUB_VLM.sub(f"agent.model={ctx.tiny_vlm} agent.max_new_tokens=4", p),
    ),
    Rewrite(
        "agent=clip without agent.model (open_clip's ViT-B-32 from the hub) gets the tiny random "
        "CLIP that assets/models/make_tiny_clip.py builds",
        lambda p: bool(EVAL.search(p)) and "agent=clip" in p and "agent.model=" not in p,
        _appending(lambda ctx: f"agent.model={ctx.tiny_clip} agent.pretrained=null"),
    ),
    *[
        Rewrite(
            f"judge {judge} without a model (ViT-B-32 from the hub) gets the tiny random CLIP",
            lambda p, judge=judge: _names_judge(p, judge),
            _appending(lambda ctx, judge=judge: f"judge.{judge}.model={ctx.tiny_clip}"),
        )
        for judge in CLIP_JUDGES
    ],
    Rewrite(
        "seeds=N above 10 becomes seeds=1, and seeds=heldout:N seeds=heldout:1",
        lambda p: bool(re.search(r"\bseeds=(heldout:)?(1[1-9]|[2-9]\d|\d{3,})\b", p)),
        lambda p, ctx: re.sub(r"\bseeds=(heldout:)?\d+\b", r"seeds=\g<1>1", p),
    ),
    Rewrite(
        "an eval or audit with no seeds= runs 1 seed (the default is 20)",
        lambda p: bool(EVAL.search(p)) and "seeds=" not in p,
        _appending(lambda ctx: "seeds=1"),
    ),
    Rewrite(
        "`leaderboard heldout ... -n N` runs 2 held-out seeds per env",
        lambda p: "leaderboard heldout" in p and bool(re.search(r"\s-n\s+\d+", p)),
        lambda p, ctx: re.sub(r"(\s-n\s+)\d+", r"\g<1>2", p),
    ),
    Rewrite(
        "an OpenAI-compatible server at localhost:8000 becomes tests/chat_server.py's, started "
        "in the test (it answers with the first allowed action)",
        lambda p: bool(re.search(r"http://(localhost|127\.0\.0\.1):8000/v1", p)),
        lambda p, ctx: re.sub(r"http://(localhost|127\.0\.0\.1):8000/v1", ctx.chat_url, p),
    ),
    Rewrite(
        "port 8765 (the example remote policy server) becomes a free port",
        lambda p: bool(re.search(r"\b8765\b", p)),
        lambda p, ctx: re.sub(r"\b8765\b", ctx.free_port, p),
    ),
]

ENVIRONMENT = {
    "HF_HUB_OFFLINE": "1",  # no command may reach the Hugging Face hub
    "COLUMNS": "100",
    "PYTHONUNBUFFERED": "1",
    # MMSAFE_DATA_DIR: miniature copies of the public datasets (tests/public_fixtures.py);
    # MMSAFE_CACHE_DIR: the scratch directory's own. Both are set per page in run_page.
}


def split_comment(command: str) -> tuple[str, str]:
    """`cmd  # note` as (`cmd`, `# note`): the first ` #` outside quotes starts a comment."""
    quote = None
    for i, char in enumerate(command):
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (i == 0 or command[i - 1].isspace()):
            return command[:i].rstrip(), command[i:]
    return command, ""


def rewrite(head: str, ctx: Context) -> str | None:
    """The command as run: REWRITES applied to each part of its `&&` chain; None when every part
    was dropped."""
    command, comment = split_comment(head)
    parts = []
    for part in re.split(r"\s+&&\s+", command):
        for rule in REWRITES:
            if part is not None and rule.applies(part):
                part = rule.change(part, ctx)
        if part is not None:
            parts.append(part)
    if not parts:
        return None
    return " && ".join(parts) + (f"  {comment}" if comment else "")


# --- running a page ----------------------------------------------------------------------------


def run_page(page: Path, request: pytest.FixtureRequest, scratch: Path) -> list[str]:
    """Run every block of the page in order; returns what was run, for the record."""
    for name in CONTENT:
        shutil.copytree(ROOT / name, scratch / name, ignore=shutil.ignore_patterns("site"))
    data = scratch.parent / f"{scratch.name}-data"
    from . import public_fixtures

    public_fixtures.write_figstep(data / "FigStep")
    public_fixtures.write_mm_safetybench(data / "MM-SafetyBench")
    public_fixtures.write_mssbench(data / "MSSBench")
    public_fixtures.write_video_safetybench(data / "Video-SafetyBench")
    env = {
        **os.environ,
        **ENVIRONMENT,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "MMSAFE_DATA_DIR": str(data),
        "MMSAFE_CACHE_DIR": str(scratch / ".cache"),
    }
    for key in ("MMSAFE_ENVS_PATH", "MMSAFE_TASKS_PATH", "MMSAFE_HELDOUT_KEY", "RAY_ADDRESS"):
        env.pop(key, None)
    ctx = Context(request, scratch)
    ran: list[str] = []
    try:
        for block in read_blocks(page):
            kind = RUNNABLE.get(block.lang)
            if kind is None or block.not_run is not None:
                continue
            if kind == "python":
                run_python(block, scratch, env)
                ran.append(f"{block.where}: python block")
            else:
                ran.extend(run_shell(block, scratch, env, ctx))
    finally:
        ctx.close()
    return ran


def _run(args: list[str], cwd: Path, env: dict, timeout: float) -> tuple[int, str]:
    process = subprocess.Popen(
        args, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,  # so that a timeout kills what the block started, too
    )  # fmt: skip
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        return -9, output + f"\n(killed after {timeout} s)"
    return process.returncode, output


def run_python(block: Block, scratch: Path, env: dict) -> None:
    script = scratch / ".docs" / f"{block.page.stem}-{block.line}.py"
    script.parent.mkdir(exist_ok=True)
    script.write_text("\n" * (block.line - 1) + block.code)
    rc, output = _run([sys.executable, str(script)], scratch, env, BLOCK_TIMEOUT_S)
    if rc != 0:  # the last line of the script the traceback names is the page's line
        lines = re.findall(rf'File "{re.escape(str(script))}", line (\d+)', output)
        where = f"{page_id(block.page)}:{lines[-1]}" if lines else block.where
        pytest.fail(f"{where}: the Python block failed (exit {rc}; line numbers in the "
                    f"traceback are the page's):\n{tail(output)}", pytrace=False)  # fmt: skip


def run_shell(block: Block, scratch: Path, env: dict, ctx: Context) -> list[str]:
    """The block as one bash script that checks each command's exit status, so that a failure
    names its command; `set -e` would not see a failure early in an `a && b` chain."""
    (scratch / ".docs").mkdir(exist_ok=True)
    failed = scratch / ".docs" / "failed"  # a command may cd: the path is absolute
    times = scratch / ".docs" / "times"  # each command's seconds, shown with what ran
    script = ["trap 'kill $(jobs -p) 2>/dev/null' EXIT"]
    shown: list[tuple[int, str]] = []
    for command in read_commands(block):
        run = rewrite(command.head, ctx)
        if run is None:
            continue
        shown.append((command.line, run))
        script.append("__t=$EPOCHREALTIME")
        script.append(run + ("\n" + command.body if command.body else ""))
        script.append(
            f'__rc=$?; echo "{len(shown) - 1} $__t $EPOCHREALTIME" >> {times}; '
            f'if [ $__rc -ne 0 ]; then echo "{len(shown) - 1} $__rc" > {failed}; exit 1; fi'
        )
    if not shown:
        return []
    failed.unlink(missing_ok=True)
    path = scratch / ".docs" / f"{block.page.stem}-{block.line}.sh"
    path.write_text("\n".join(script) + "\n")
    rc, output = _run(["bash", str(path)], scratch, env, BLOCK_TIMEOUT_S)
    if rc != 0:
        if failed.exists():
            index, status = failed.read_text().split()
            line, run = shown[int(index)]
            where = f"{block.page.relative_to(ROOT)}:{line}"
            pytest.fail(f"{where}: `{run}` exited {status}:\n{tail(output)}", pytrace=False)
        pytest.fail(f"{block.where}: the block failed (exit {rc}):\n{tail(output)}", pytrace=False)
    seconds = {}
    for row in times.read_text().split("\n") if times.exists() else []:
        if row:
            index, start, end = row.split()
            seconds[int(index)] = float(end) - float(start)
    times.unlink(missing_ok=True)
    return [
        f"{block.page.relative_to(ROOT)}:{line}: {run}  ({seconds.get(i, 0):.1f} s)"
        for i, (line, run) in enumerate(shown)
    ]


def tail(output: str, lines: int = 40) -> str:
    return "\n".join(output.rstrip().split("\n")[-lines:])


# --- the tests ---------------------------------------------------------------------------------


def page_id(page: Path) -> str:
    return str(page.relative_to(ROOT))


@pytest.mark.slow
@pytest.mark.parametrize("page", [p for p in PAGES if p not in MODEL_PAGES], ids=page_id)
def test_every_command_on_the_page_runs(page, request, tmp_path):
    scratch = tmp_path / "work"
    scratch.mkdir()
    ran = run_page(page, request, scratch)
    print("\n".join(ran))  # shown with -s or on failure: what ran, as rewritten


def test_blocks_are_well_formed_and_few_are_left_out():
    """Every block is closed, runnable blocks parse (bash -n, compile), and the blocks left out
    are few and say why."""
    left_out = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8").split("\n")
        blocks = read_blocks(page)
        for block in blocks:
            kind = RUNNABLE.get(block.lang)
            if block.not_run is not None:
                assert block.not_run, f"{block.where}: a block left out must say why"
                assert kind, f"{block.where}: only commands can be left out, not {block.lang!r}"
                left_out.append(f"{block.where}: {block.not_run}")
            if kind == "python":
                compile("\n" * (block.line - 1) + block.code, block.where, "exec")
            elif kind == "shell":
                checked = subprocess.run(["bash", "-n"], input=block.code, text=True,
                                         capture_output=True)  # fmt: skip
                assert checked.returncode == 0, f"{block.where}: {checked.stderr.strip()}"
                read_commands(block)
        markers = [n + 1 for n, line in enumerate(text) if NOT_RUN.match(line.strip())]
        starts = {block.line - 2 for block in blocks if block.not_run is not None}
        for line in markers:  # a marker must sit right before a block, or it marks nothing
            assert line in starts, f"{page_id(page)}:{line}: the marker is not before a block"
    assert len(left_out) <= MAX_NOT_RUN, "too many blocks are not run:\n" + "\n".join(left_out)


class FixedContext(Context):
    """Fixed stand-ins, so that the table can be checked without building a model."""

    tiny_vlm, tiny_clip, chat_url = "TINY_VLM", "TINY_CLIP", "http://127.0.0.1:1/v1"
    free_port = "4321"

    def __init__(self):
        self._chat = None


@pytest.mark.parametrize(
    "written, run",
    [
        ("python3 -m venv .venv && . .venv/bin/activate && pip install . && "
         "mmsafe eval -m agent=oracle,reckless,random",
         "mmsafe eval -m agent=oracle,reckless,random seeds=1"),
        ('python3 -m venv .venv && . .venv/bin/activate && pip install -c constraints.txt -e '
         '".[dev]" && pytest', None),
        ("mmsafe audit judge=[clip_reward] seeds=20  # the audit",
         "mmsafe audit judge=[clip_reward] seeds=1 judge.clip_reward.model=TINY_CLIP  # the audit"),
        ("mmsafe eval agent=clip", "mmsafe eval agent=clip agent.model=TINY_CLIP "
         "agent.pretrained=null seeds=1"),
        ("mmsafe eval agent=hf agent.model=HuggingFaceTB/SmolVLM-256M-Instruct seeds=20",
         "mmsafe eval agent=hf agent.model=TINY_VLM agent.max_new_tokens=4 seeds=1"),
        ("mmsafe eval agent=openai agent.base_url=http://localhost:8000/v1 agent.model=Qwen/Q-3B",
         "mmsafe eval agent=openai agent.base_url=http://127.0.0.1:1/v1 agent.model=Qwen/Q-3B "
         "seeds=1"),
        ("K=x mmsafe eval seeds=heldout:200", "K=x mmsafe eval seeds=heldout:1"),
        ("mmsafe eval seeds=[3,5,8]", "mmsafe eval seeds=[3,5,8]"),
        ("mmsafe eval seeds=10 suite=rare", "mmsafe eval seeds=10 suite=rare"),
        ("mmsafe eval seeds=11 suite=rare", "mmsafe eval seeds=1 suite=rare"),
        ("python server.py --port 8765 &", "python server.py --port 4321 &"),
        ("mmsafe leaderboard heldout b.tar.gz -n 200", "mmsafe leaderboard heldout b.tar.gz -n 2"),
        ("mmsafe list", "mmsafe list"),
    ],
)  # fmt: skip
def test_the_rewrites_do_what_they_say(written, run):
    assert rewrite(written, FixedContext()) == run


def test_comments_and_chains_are_split_outside_quotes():
    assert split_comment("a 'b # c' # d") == ("a 'b # c'", "# d")
    assert split_comment("a#b") == ("a#b", "")
    block = Block(
        ROOT / "README.md",
        10,
        "bash",
        "# a comment\nx \\\n  y\ncat > f <<'EOF'\nz\nEOF\n\nw\n",
        None,
    )
    commands = read_commands(block)
    assert [(c.line, c.head, c.body) for c in commands] == [
        (11, "x y", ""),
        (13, "cat > f <<'EOF'", "z\nEOF"),
        (17, "w", ""),
    ]


# --- links -------------------------------------------------------------------------------------

LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"`|\*\*|__", "", heading.strip().lower())
    kept = "".join(c for c in text if c in " -_" or unicodedata.category(c)[0] in "LN")
    return kept.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    found: set[str] = set()
    counts: dict[str, int] = {}
    inside = False
    for line in page.read_text(encoding="utf-8").split("\n"):
        if FENCE.match(line):
            inside = not inside
            continue
        heading = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if heading and not inside:
            base = slug(heading.group(1))
            n = counts.get(base, 0)
            counts[base] = n + 1
            found.add(base if n == 0 else f"{base}-{n}")
    return found


def prose(page: Path) -> str:
    """The page's text with fenced blocks and inline code blanked out (lines kept, so that a
    position still has its line number); a link may span lines."""
    out, inside = [], False
    for line in page.read_text(encoding="utf-8").split("\n"):
        if FENCE.match(line):
            inside = not inside
            out.append("")
        else:
            out.append("" if inside else line)
    blank = lambda span: re.sub(r"[^\n]", " ", span.group())  # noqa: E731 - keeps the lines
    return re.sub(r"`[^`]*`", blank, "\n".join(out))  # inline code may span lines


def test_every_relative_link_points_to_a_file_and_heading_that_exist():
    problems, checked = [], 0
    for page in PAGES:
        text = prose(page)
        for link in LINK.finditer(text):
            target = link.group(1)
            if re.match(r"[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
                continue
            checked += 1
            path, _, anchor = target.partition("#")
            file = (page.parent / path).resolve() if path else page
            where = f"{page_id(page)}:{text.count(chr(10), 0, link.start()) + 1}: {target}"
            if not file.exists():
                problems.append(f"{where}: no such file")
            elif anchor and file.suffix == ".md" and anchor not in anchors(file):
                problems.append(f"{where}: no heading #{anchor} in {file.name}")
    assert not problems, "\n".join(problems)
    assert checked >= 50  # the pages link each other; a reader that finds none is broken


def test_the_index_links_every_page():
    index = (ROOT / "docs" / "README.md").read_text(encoding="utf-8")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for page in PAGES[1:]:
        if page.name == "README.md":
            continue
        assert f"]({page.name})" in index, f"docs/README.md does not link {page.name}"
        assert f"](docs/{page.name})" in readme, f"README.md does not link docs/{page.name}"
