"""Bad input, property by property (issue 9): whatever a model, a user or a submitter feeds the
four readers, each gives its documented result or its own one-line error naming the file, never
a traceback, and never a value that crashes whatever reads it next.

- the action parser (`mmsafe.agents.parse`): any reply is an allowed action or no action with a
  reason; the same reply always parses the same way; one answer in a documented shape is found;
- the manifest reader and the public-dataset adapters (`mmsafe.data`): any bytes, JSON or CSV
  give samples whose media paths stay in the folder and resolve, or an MmsafeError naming the file;
- the scenario loader (`mmsafe.sim.scenario`): any YAML, and any mutation of a shipped scenario,
  loads or is an MmsafeError naming the file; a scenario that loads runs in the Gymnasium env;
- the submission validator (`mmsafe.leaderboard.schema`): any JSON in a bundle's files is read
  or refused with InvalidBundle, each problem naming the file (and the field).
"""

from __future__ import annotations

import copy
import csv
import hashlib
import io
import json
import os
import string
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import event as hypothesis_event
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context

from mmsafe.agents.parse import MAX_CHARS, Parsed, parse_reply
from mmsafe.core import MmsafeError
from mmsafe.data.adapters import ADAPTERS, check_dataset, read_dataset
from mmsafe.data.manifest import read_manifest
from mmsafe.leaderboard.archive import BUNDLE_FILES, read_bundle_files
from mmsafe.leaderboard.schema import (
    Bundle,
    BundleEpisode,
    InvalidBundle,
    Manifest,
    Submission,
    read_bundle,
)
from mmsafe.sim.env import SafetyGridEnv
from mmsafe.sim.scenario import Scenario, SignEntry, load_scenario
from mmsafe.sim.world import ACTIONS

from ..conftest import ROOT

FAST = settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)  # each test here takes a few seconds at most on 2 cores


def event(name: str) -> None:
    """Count outcomes (`pytest --hypothesis-show-statistics` shows how many inputs were read and
    how many refused), also when a helper runs outside a hypothesis test."""
    if currently_in_test_context():
        hypothesis_event(name)


def one_line_naming(error: Exception, path: Path | str) -> str:
    """The error's message, checked to be one line that names `path`."""
    message = str(error)
    assert "\n" not in message and "Traceback" not in message, message
    assert str(path) in message, f"{path} not named in: {message}"
    return message


# -- JSON and YAML values of every kind ----------------------------------------------------------
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | st.sampled_from(["", "\n", "\x00", "\t", "\u202e", "é", "../x", "lava", "agent", "-1"])
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


# == the action parser ===========================================================================
CHOICE_SETS = [
    ACTIONS,
    ("yes", "no"),
    ("A", "B", "C", "D"),
    ("safe", "unsafe", "refuse"),
    ("1", "2", "3"),
]
# words of prose that are no action of any set above, no label and no "confidence"
# fmt: off
FILLER_WORDS = ["the", "path", "looks", "clear", "there", "is", "lava", "near", "wall", "we",
                "should", "be", "careful", "here", "hmm", "maybe", "goal", "ahead", "it", "seems"]
# fmt: on
FILLER_LINE = st.lists(st.sampled_from(FILLER_WORDS), min_size=2, max_size=8).map(" ".join)
RANDOM_ACTIONS = st.lists(
    st.text(string.ascii_lowercase, min_size=2, max_size=8).filter(lambda w: w not in FILLER_WORDS),
    min_size=1,
    max_size=6,
    unique=True,
).map(tuple)
ACTION_SETS = st.sampled_from(CHOICE_SETS) | RANDOM_ACTIONS

# fmt: off
TRICKS = ['{"action": "up"}', '{"answer": 7}', "Action: ", "Final answer: yes", "</think>",
          "<think>", "Confidence: 150%", "confidence: -3", "```json\n", "\n", "{", "}", "**"]
# fmt: on
PIECES = (
    st.text(max_size=60)
    | st.text(st.characters(categories=["Cc", "Cf", "Zl", "Zp", "Zs", "Mn", "So"]), max_size=20)
    | st.builds(lambda v, cut: json.dumps(v)[:cut], VALUES, st.integers(0, 120))
    | st.sampled_from(TRICKS)
    | st.sampled_from([*ACTIONS, "YES", "A", "Unsafe", "2"])
)
REPLIES = st.lists(PIECES, max_size=12).map("".join) | st.builds(
    lambda piece, times, tail: piece * times + tail,
    st.text(max_size=8),
    st.integers(1, 6000),
    st.lists(PIECES, max_size=3).map("".join),
)  # up to a few times MAX_CHARS, so the cut-off is crossed


@FAST
@given(reply=REPLIES | st.none() | st.integers() | st.binary(max_size=20), actions=ACTION_SETS)
def test_any_reply_parses_to_an_allowed_action_or_no_action_with_a_reason(reply, actions):
    """The runner records what comes back: an action it can execute, or an invalid reply with a
    reason (one line, stored in episodes.jsonl). Never an exception, never a guessed action."""
    parsed = parse_reply(reply, actions)
    assert isinstance(parsed, Parsed)
    assert parse_reply(reply, actions) == parsed  # the same reply always reads the same way
    if parsed.action is None:
        assert isinstance(parsed.error, str) and parsed.error.strip()
        if actions in CHOICE_SETS:
            assert "\n" not in parsed.error
    else:
        assert parsed.action in actions and parsed.error is None
    assert parsed.confidence is None or 0.0 <= parsed.confidence <= 1.0


def _answer_line(draw, action: str) -> tuple[str, float | None]:
    """`action` in one of the documented shapes, in any case, with markup; and the confidence
    the line states (None if it states none)."""
    name = draw(st.sampled_from([action, action.upper(), action.lower(), action.title()]))
    mark = draw(st.sampled_from(["", "**", "`", '"', "'", "*", "_"]))
    named = f"{mark}{name}{mark}"
    shape = draw(st.sampled_from(["bare", "labelled", "json", "fenced json"]))
    if shape == "bare":
        return named, None
    if shape == "labelled":
        labels = ["Action:", "action =", "**Action:**", "Final answer:", "ANSWER:", "- Decision:"]
        label = draw(st.sampled_from([*labels, "Move:"]))
        tail = draw(st.sampled_from(["", " (it looks clear)", " - since it seems safe", ", then"]))
        return f"{label} {named}{tail}", None
    key = draw(st.sampled_from(["action", "answer", "Action"]))
    confidence = draw(st.none() | st.floats(0, 1))
    obj = {key: name} | ({"confidence": confidence} if confidence is not None else {})
    text = json.dumps(obj)
    if shape == "fenced json":
        return f"```json\n{text}\n```", confidence
    return f"{draw(FILLER_LINE)} {text}", confidence


@FAST
@given(data=st.data(), actions=ACTION_SETS)
def test_one_answer_in_a_documented_shape_is_the_action(data, actions):
    """A reply whose only answer is in a shape the README documents parses to that action, where
    ever it stands among prose, after a <think> block that names others, after an earlier answer
    it replaces, behind a preamble longer than the part that is read."""
    draw = data.draw
    action = draw(st.sampled_from(actions))
    before = draw(st.lists(FILLER_LINE, max_size=4))
    after = draw(st.lists(FILLER_LINE, max_size=3))
    line, confidence = _answer_line(draw, action)
    lines = [*before, line, *after]
    if draw(st.booleans()):  # an earlier answer, superseded: the last one counts
        other = draw(st.sampled_from(actions))
        lines.insert(0, _answer_line(draw, other)[0])
    text = "\n".join(lines)
    if draw(st.booleans()):
        musing = "\n".join(f"Action: {a}" for a in actions if a != action)
        text = f'<think>{musing} {{"action": "{actions[0]}"}}</think>\n{text}'
    if draw(st.booleans()):
        text = "we should be careful here\n" * (MAX_CHARS // 20) + text
    parsed = parse_reply(text, actions)
    assert (parsed.action, parsed.error) == (action, None), text[-400:]
    if confidence is not None:
        assert parsed.confidence == pytest.approx(confidence)


@FAST
@given(
    actions=ACTION_SETS,
    lines=st.lists(
        FILLER_LINE
        | FILLER_LINE.map(lambda line: f"Action: {line}")
        | FILLER_LINE.map(lambda line: json.dumps({"action": line, "confidence": 0.9}))
        | FILLER_LINE.map(lambda line: json.dumps({"thought": line})),
        max_size=5,
    ),
)
def test_a_reply_without_an_allowed_action_is_no_action(actions, lines):
    """Prose, labels and JSON that name no allowed action are an invalid reply with a reason:
    the parser never guesses an action (the runner would execute it)."""
    parsed = parse_reply("\n".join(lines), actions)
    assert parsed.action is None and parsed.error


# == the manifest reader and the dataset adapters ================================================
# fmt: off
BAD_PATHS = ["../up.png", "/etc/passwd", "", " ", "a\x00b.png", "sub/../../x.png", "sub\\x.png",
             "out/x.png", ".", "sub/..", "~/x.png"]
# fmt: on
MEDIA_PATHS = (
    st.sampled_from(["a.png", "clips/a.mp4", "sound.wav", "ünï.png", "sub/../a.png"])
    | st.sampled_from(BAD_PATHS)
    | st.text(max_size=12)
)
TEXT = st.text(max_size=20)
ANSWERS = st.sampled_from(["yes", "no", "maybe", ""])
SAMPLE_FIELDS = {  # each field with values of its own type (content right or wrong)
    "id": st.sampled_from(["a", "b", "c"]) | TEXT,
    "question": st.sampled_from(["Safe?", "Is it safe to go on?", "Describe it."]),
    "instruction": TEXT,
    "video": MEDIA_PATHS,
    "image": MEDIA_PATHS,
    "images": st.lists(MEDIA_PATHS, max_size=3),
    "audio": MEDIA_PATHS,
    "choices": st.lists(ANSWERS, max_size=3),
    "label": ANSWERS,
    "harmful": st.booleans(),
    "category": TEXT,
    "pair_id": TEXT,
    "attack_target": ANSWERS,
    "followups": st.lists(TEXT, max_size=2),
    "meta": st.dictionaries(TEXT, VALUES, max_size=2),
}


@st.composite
def samples(draw) -> dict:
    """A manifest record: typed fields, now and then one of them (or an unknown key) given any
    JSON value at all."""
    keys = ["id", "question", *draw(st.sets(st.sampled_from(sorted(SAMPLE_FIELDS)), max_size=4))]
    record = {key: draw(SAMPLE_FIELDS[key]) for key in keys}
    if "instruction" in record and draw(st.booleans()):
        del record["question"]
    if draw(st.integers(0, 3)) == 0:
        record[draw(st.sampled_from([*SAMPLE_FIELDS, "colour"]))] = draw(VALUES)
    return record


@st.composite
def manifest_lines(draw) -> list[str]:
    """Records (most with ids of their own), now and then a line that is no record at all."""
    lines = []
    for number in range(draw(st.integers(0, 4))):
        record = draw(samples())
        if draw(st.integers(0, 3)):
            record["id"] = f"s{number}"
        lines.append(json.dumps(record))
    if draw(st.integers(0, 3)) == 0:
        junk = VALUES.map(json.dumps) | st.text(max_size=40)
        lines.insert(draw(st.integers(0, len(lines))), draw(junk))
    return lines


@pytest.fixture(scope="module")
def data_folder(tmp_path_factory) -> Path:
    """A manifest folder with a symbolic link `out` that points outside it."""
    folder = tmp_path_factory.mktemp("manifest") / "data"
    folder.mkdir()
    os.symlink(folder.parent, folder / "out")
    return folder


def check_manifest(path: Path) -> None:
    try:
        samples = read_manifest(path)
    except MmsafeError as error:
        one_line_naming(error, path)
        event("refused")
        return
    event("read")
    root = path.parent.resolve()
    assert len({sample.id for sample, _ in samples}) == len(samples)
    for sample, media in samples:
        # every file the loaders ask for (sample.py) is resolved, inside the folder
        wanted = {*sample.image_paths, sample.video, sample.audio} - {None}
        assert wanted <= set(media), (sample, media)
        assert all(p.is_relative_to(root) for p in media.values())


@FAST
@example(lines=['{"id": "a", "question": "Safe?", "video": ""}'], ending="\n")  # was a KeyError
@example(lines=['{"id": "a", "question": "Safe?", "images": ["", "a.png"]}'], ending="\n")
@given(lines=manifest_lines(), ending=st.sampled_from(["\n", "\r\n", "\r"]))
def test_any_manifest_reads_to_usable_samples_or_one_line_naming_the_file(
    data_folder, lines, ending
):
    path = data_folder / "manifest.jsonl"
    path.write_text(ending.join(lines), encoding="utf-8", newline="")
    check_manifest(path)


@FAST
@given(raw=st.binary(max_size=300) | st.text(max_size=100).map(lambda t: t.encode("utf-16")))
def test_any_bytes_as_a_manifest_read_or_refused_naming_the_file(data_folder, raw):
    path = data_folder / "bytes.jsonl"
    path.write_bytes(raw)
    check_manifest(path)


def _csv_text(rows: list[list[str]], header: bool) -> str:
    out = io.StringIO()
    columns = ["dataset", "category_id", "task_id", "category_name", "question", "instruction"]
    csv.writer(out).writerows([columns, *rows] if header else rows)
    return out.getvalue()


CELLS = st.sampled_from(["ForbidQI", "1", "2", "x", "", "../..", "a/b", "١", "²"]) | TEXT
CSV_ROWS = st.lists(st.lists(CELLS, max_size=7), max_size=4)
RECORD_KEYS = st.sampled_from(["0", "1", "01", "²", "١", "x", "", "-1", " 2"])
MM_RECORD = st.fixed_dictionaries(
    {}, optional={"Rephrased Question": TEXT | VALUES, "Rephrased Question(SD)": TEXT}
)
MSS_RECORD = st.fixed_dictionaries(
    {},
    optional={
        "safe_image_path": MEDIA_PATHS | VALUES,
        "unsafe_image_path": MEDIA_PATHS,
        "intent": TEXT,
        "queries": st.lists(TEXT, max_size=2) | VALUES,
        "Type": TEXT | VALUES,
        "safe": MEDIA_PATHS,
        "unsafe": MEDIA_PATHS | VALUES,
        "task": TEXT,
        "safe_instructions": st.lists(TEXT, max_size=2) | VALUES,
        "unsafe_instruction": TEXT,
        "category": TEXT | VALUES,
    },
)
VSB_RECORD = st.fixed_dictionaries(
    {},
    optional={
        "question": TEXT,
        "harmful_intention": TEXT,
        "video_path": MEDIA_PATHS | VALUES,
        "question_type": st.sampled_from(["harmful", "benign", "other"]) | VALUES,
        "question_id": VALUES,
        "category": TEXT | VALUES,
    },
)


def dataset_files(adapter: str) -> st.SearchStrategy[tuple[dict[str, str], dict]]:
    """(files relative to the dataset folder -> text, adapter options) in roughly the released
    layout, with anything at all in the fields."""
    raw = VALUES.map(json.dumps) | st.text(max_size=30)
    if adapter == "figstep":
        index = "data/question/safebench.csv"
        return st.tuples(
            st.builds(
                lambda rows, header: {index: _csv_text(rows, header)}, CSV_ROWS, st.booleans()
            )
            | raw.map(lambda text: {index: text}),
            st.just({}),
        )
    if adapter == "mm_safetybench":
        index = "data/processed_questions/01-Illegal_Activitiy.json"
        records = st.dictionaries(RECORD_KEYS | TEXT, MM_RECORD | VALUES, max_size=4)
        records = st.dictionaries(RECORD_KEYS, MM_RECORD, min_size=1, max_size=4) | records
        records = records.map(json.dumps)
        tiny = st.lists(
            st.fixed_dictionaries(
                {
                    "Scenario": st.just("01-Illegal_Activitiy") | VALUES,
                    "Sampled_ID_List": st.lists(RECORD_KEYS, max_size=3) | VALUES,
                }
            )
            | VALUES,
            max_size=2,
        ).map(json.dumps)
        return st.tuples(
            st.fixed_dictionaries({index: records | raw, "TinyVersion_ID_List.json": tiny | raw}),
            st.fixed_dictionaries({}, optional={"tiny": st.booleans()}),
        )
    if adapter == "mssbench":
        split = st.sampled_from(["chat", "embodied"])
        content = st.dictionaries(split, st.lists(MSS_RECORD | VALUES, max_size=3), max_size=2)
        return st.tuples(
            st.fixed_dictionaries({"combined.json": content.map(json.dumps) | raw}),
            st.fixed_dictionaries({}, optional={"split": split}),
        )
    assert adapter == "video_safetybench"
    records = st.lists(VSB_RECORD | VALUES, max_size=3)
    as_lines = records.map(lambda rs: "\n".join(json.dumps(r) for r in rs))
    return st.tuples(
        st.fixed_dictionaries(
            {"harmful_data.json": records.map(json.dumps) | as_lines | raw},
            optional={"benign_data.json": records.map(json.dumps) | raw},
        ),
        st.fixed_dictionaries({}, optional={"split": st.sampled_from(["harmful", "benign"])}),
    )


@pytest.mark.parametrize("adapter", sorted(ADAPTERS))
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_any_public_dataset_index_reads_or_is_refused_naming_the_file(tmp_path, adapter, data):
    """`read_dataset` (what a run uses) gives usable samples or one line naming a file of the
    dataset; `check_dataset` (what `mmsafe data check` prints) never raises."""
    files, options = data.draw(dataset_files(adapter))
    root = tmp_path / f"{adapter}-{data.draw(st.integers(0, 10**9))}"
    for relative, text in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text, encoding="utf-8")
    try:
        samples = read_dataset(adapter, root, options)
    except MmsafeError as error:
        one_line_naming(error, root)
    else:
        for sample, media in samples:
            assert {*sample.image_paths, sample.video, sample.audio} - {None} <= set(media)
            assert all(p.is_relative_to(root.resolve()) for p in media.values())
    result = check_dataset(adapter, root, options)
    assert all("\n" not in line for line in result.lines())


# == the scenario loader ==========================================================================
SCENARIO_FILES = sorted((ROOT / "envs").glob("*.yaml"))
SCENARIO_KEYS = list(Scenario.model_fields)
# fmt: off
ODD = [None, -1, 0, 1, 2, 10**30, -(10**30), 1e308, float("nan"), float("inf"), "", "x", "lava",
       "agent", "wall", [], {}, True, [1, 2], [3, 1], [-1, 5], "\t", "é", "A", "a\nb", {"x": 1}]
# fmt: on
NASTY = st.sampled_from(ODD).map(copy.deepcopy) | VALUES  # a fresh [] or {} each draw
# fmt: off
NUMBERS = st.sampled_from([-1, 0, 2, 300, 10**30, -(10**30), 1e308, float("nan"), float("inf"),
                           0.5, [3, 1], [-1, 5], [0, 10**30], [1, 1], [2, 9]]).map(copy.deepcopy)
# fmt: on
MAP_CHARS = st.sampled_from(list("#.AGZ \té?a") + ["\x7f"])


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path (keys and indices) into a YAML structure."""
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            out += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            out += _paths(item, (*prefix, index))
    return out


def _parent(data: Any, path: tuple) -> Any:
    for part in path[:-1]:
        data = data[part]
    return data


def _map_chars(data: dict) -> list[str]:
    layouts = data.get("layouts")
    layouts = layouts if isinstance(layouts, list) else []
    maps = [lay.get("map") for lay in layouts if isinstance(lay, dict)]
    return sorted({char for text in maps if isinstance(text, str) for char in text} - {"\n"})


# fmt: off
MUTATIONS = ["drop", "replace", "number", "number", "map", "row", "resize", "legend", "object",
             "agent", "add"]
# fmt: on


def mutate_scenario(draw, data: dict) -> dict:
    """One or two edits of a real scenario: a key dropped; a value replaced by one of another
    type or size; a number made negative, huge, infinite or a reversed range; a map character
    changed or a row cut (ragged); a layout of another size; an unknown legend character or
    object type; the agent placed twice, never, or as a sign; a spawn or placement added."""
    data = copy.deepcopy(data)
    for _ in range(draw(st.integers(1, 2))):
        paths = _paths(data)
        numbers = [
            p
            for p in paths
            if isinstance(value := _parent(data, p)[p[-1]], (int, float, list))
            and not isinstance(value, bool)
            and all(isinstance(v, (int, float)) for v in (value if isinstance(value, list) else []))
        ]
        maps = [
            p for p in paths if p and p[-1] == "map" and isinstance(_parent(data, p)[p[-1]], str)
        ]
        chars = _map_chars(data) or ["."]
        kind = draw(st.sampled_from(MUTATIONS))
        if kind in ("drop", "replace") and paths:
            path = draw(st.sampled_from(paths))
            parent = _parent(data, path)
            if kind == "drop":
                del parent[path[-1]]
            else:
                parent[path[-1]] = draw(NASTY)
        elif kind == "number" and numbers:
            path = draw(st.sampled_from(numbers))
            _parent(data, path)[path[-1]] = draw(NUMBERS)
        elif kind in ("map", "row", "resize") and maps:
            path = draw(st.sampled_from(maps))
            rows = _parent(data, path)[path[-1]].strip("\n").split("\n")
            row = draw(st.integers(0, len(rows) - 1))
            if kind == "map":
                col = draw(st.integers(0, len(rows[row]) - 1)) if rows[row] else 0
                char = draw(MAP_CHARS | st.sampled_from(chars))
                rows[row] = rows[row][:col] + char + rows[row][col + 1 :]
            elif kind == "row":
                rows[row] = draw(st.sampled_from([rows[row][:-1], rows[row] + "#", "", "A"]))
            else:  # the same layout, a row or a column shorter or longer: still rectangular
                rows = draw(st.sampled_from([rows[:-1], rows + rows[-1:], [r + "#" for r in rows]]))
            _parent(data, path)[path[-1]] = "\n".join(rows) + "\n"
        elif kind == "legend" and isinstance(data.get("legend", {}), dict):
            entry = st.sampled_from(["lava", "agent", "dragon", "goal"]) | NASTY
            sign = st.fixed_dictionaries(
                {"text": st.just("HI") | NASTY},
                optional={
                    "object": st.sampled_from(["sign", "agent", "wall"]),
                    "vanishes_to": st.sampled_from(["wall", "agent", "nope"]),
                    "visible_steps": NUMBERS,
                    "injection": st.sampled_from(["lava", "agent"]),
                },
            )
            data.setdefault("legend", {})[draw(MAP_CHARS | st.sampled_from(chars))] = draw(
                entry | sign
            )
        elif kind == "object" and isinstance(data.get("objects", {}), dict):
            effect = st.fixed_dictionaries(
                {"event": st.just("hit") | NASTY},
                optional={"cost": NUMBERS, "reward": NUMBERS, "terminal": NASTY, "becomes": NASTY},
            )
            spec = st.fixed_dictionaries(
                {},
                optional={
                    "color": st.lists(st.integers(-5, 300), min_size=3, max_size=3) | NASTY,
                    "shape": st.sampled_from(["fill", "flame", "blob"]) | NASTY,
                    "solid": st.booleans() | NASTY,
                    "on_enter": effect | NASTY,
                },
            )
            data.setdefault("objects", {})[draw(st.sampled_from(["lava", "newthing"]))] = draw(spec)
        elif kind == "agent":
            placement = {"slot": draw(st.sampled_from(chars)), "object": "agent"}
            placement |= draw(
                st.fixed_dictionaries({}, optional={"count": NUMBERS, "fill": st.just("agent")})
            )
            randomize = data.setdefault("randomize", {})
            if isinstance(randomize, dict) and isinstance(randomize.setdefault("place", []), list):
                randomize["place"].append(placement)
        elif kind == "add":
            layout = draw(st.sampled_from(data.get("layouts") or [{}]))
            if isinstance(layout, dict) and isinstance(layout.setdefault("spawns", []), list):
                layout["spawns"].append(
                    {
                        "object": draw(st.sampled_from(["lava", "pet", "agent"]) | NASTY),
                        "slot": draw(st.sampled_from(chars)),
                        "at_step": draw(NUMBERS),
                    }
                )
            randomize = data.setdefault("randomize", {})
            if isinstance(randomize, dict) and isinstance(randomize.setdefault("place", []), list):
                randomize["place"].append(
                    {
                        "slot": draw(st.sampled_from(chars)),
                        "object": draw(st.sampled_from(["vase", "lava", "nope"])),
                        "count": draw(NUMBERS),
                    }
                )
    return data


def runs_in_the_env(scenario: Scenario, seed: int) -> None:
    """Reset for a few seeds and step random actions: what every run and replay does."""
    rng = np.random.default_rng(seed)
    for view in ("topdown", "egocentric"):
        env = SafetyGridEnv(scenario, view=view, tile_px=4)
        for episode in range(2):
            obs, _ = env.reset(seed=seed + episode)
            assert env.observation_space.contains(obs)
            for _ in range(25):
                obs, reward, terminated, truncated, info = env.step(int(rng.integers(len(ACTIONS))))
                assert env.observation_space.contains(obs)
                assert np.isfinite(reward) and np.isfinite(info["cost"])
                if terminated or truncated:
                    break


def check_scenario(path: Path, seed: int = 0) -> Scenario | None:
    try:
        scenario = load_scenario(path)
    except MmsafeError as error:
        one_line_naming(error, path)
        event("refused")
        return None
    event("loaded")
    runs_in_the_env(scenario, seed)
    return scenario


@pytest.fixture(scope="module")
def scenario_folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("scenarios")


@FAST
@given(
    document=st.dictionaries(
        st.sampled_from(SCENARIO_KEYS) | st.text(max_size=6), VALUES, max_size=8
    )
    | VALUES
)
def test_any_yaml_document_loads_or_is_refused_naming_the_file(scenario_folder, document):
    path = scenario_folder / "any.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    check_scenario(path)


@FAST
@example(text=b"\xff\xfe\x00id: X\n")  # was a UnicodeDecodeError
@example(text="title: " + "[" * 3000 + "]" * 3000)  # was a RecursionError
@example(text="tags: &a [*a, *a]\nid: A\n")  # an alias inside itself
@given(text=st.text(max_size=200) | st.binary(max_size=200))
def test_any_text_or_bytes_as_a_scenario_loads_or_is_refused_naming_the_file(scenario_folder, text):
    path = scenario_folder / "raw.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    check_scenario(path)


_SHIPPED = {path.name: yaml.safe_load(path.read_text(encoding="utf-8")) for path in SCENARIO_FILES}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), name=st.sampled_from(sorted(_SHIPPED)), seed=st.integers(0, 2**31))
def test_a_mutated_scenario_is_refused_naming_the_file_or_runs(scenario_folder, data, name, seed):
    """Dropped keys, wrong types, bad map characters, ragged maps, unknown object types, huge and
    negative numbers: the loader refuses them in one line naming the file, or the scenario it
    accepts resets and steps in the Gymnasium env (top-down and egocentric) without crashing."""
    mutated = mutate_scenario(data.draw, _SHIPPED[name])
    path = scenario_folder / name
    path.write_text(yaml.safe_dump(mutated, sort_keys=False, allow_unicode=True), encoding="utf-8")
    check_scenario(path, seed)


def test_every_shipped_scenario_runs_and_a_crash_would_be_caught():
    """The shipped scenarios pass `check_scenario`; and it fails when the env crashes (here: a
    sign drawn as the agent, which the loader refuses, set after loading)."""
    for path in SCENARIO_FILES:
        assert check_scenario(path) is not None
    text = (ROOT / "tests" / "data" / "hand_drawn" / "hazard_lava.yaml").read_text(encoding="utf-8")
    scenario = Scenario.model_validate(yaml.safe_load(text))  # a private copy to spoil
    scenario.legend["S"] = SignEntry(object="agent", text="HI")
    with pytest.raises(KeyError):
        runs_in_the_env(scenario, 0)


# == the submission validator =====================================================================
def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _small_bundle() -> dict[str, bytes]:
    """The shipped oracle bundle cut down to one env, two seeds and one task, re-hashed: a valid
    bundle small enough to read a few hundred times."""
    files = read_bundle_files(ROOT / "leaderboard" / "submissions" / "oracle.tar.gz")
    submission = json.loads(files["submission.json"])
    env, task = submission["suite"]["envs"][0], submission["suite"]["tasks"][0]
    submission["suite"].update(envs=[env], seeds=[0, 1], tasks=[task])
    episodes = [json.loads(line) for line in files["episodes.jsonl"].splitlines()]
    kept = [e for e in episodes if (e["source"], e["seed"]) in {(env, 0), (env, 1)}]
    kept += [e for e in episodes if e["source"] == task][:3]
    keys = {e["key"] for e in kept}
    verdicts = [
        line for line in files["verdicts.jsonl"].splitlines() if json.loads(line)["key"] in keys
    ]
    out = dict(files)
    out["submission.json"] = json.dumps(submission).encode()
    out["episodes.jsonl"] = b"".join(json.dumps(e).encode() + b"\n" for e in kept)
    out["verdicts.jsonl"] = b"".join(line + b"\n" for line in verdicts)
    return _rehash(out)


def _rehash(files: dict[str, bytes]) -> dict[str, bytes]:
    manifest = json.loads(files["manifest.json"])
    manifest["files"] = {
        name: _sha(data) for name, data in files.items() if name != "manifest.json"
    }
    return {**files, "manifest.json": json.dumps(manifest).encode()}


SMALL = _small_bundle()


@pytest.fixture(scope="module")
def bundle_folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("bundle") / "b"


def write_bundle_folder(folder: Path, files: dict[str, bytes]) -> Path:
    folder.mkdir(exist_ok=True)
    for name in BUNDLE_FILES:
        (folder / name).unlink(missing_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder


def check_bundle(folder: Path) -> list:
    """The problems read_bundle names (none for a valid bundle), each checked to be one line
    that starts with the bundle file it is in."""
    try:
        assert isinstance(read_bundle(folder), Bundle)
        event("read")
    except InvalidBundle as error:
        event("refused")
        assert error.problems
        for problem in error.problems:
            assert "\n" not in str(problem) and problem.what, problem
            assert problem.where.split(":")[0].split(" ")[0] in BUNDLE_FILES, problem
        return error.problems
    return []


def test_the_small_bundle_is_valid(bundle_folder):
    assert check_bundle(write_bundle_folder(bundle_folder, SMALL)) == []


def mutate_json(draw, value: Any) -> Any:
    """A value replaced wholesale, or one key dropped, added or set to another value."""
    value = copy.deepcopy(value)
    paths = _paths(value)
    kind = draw(st.sampled_from(["whole", "drop", "replace", "add"]))
    if kind == "whole" or not paths:
        return draw(VALUES)
    path = draw(st.sampled_from(paths))
    parent = _parent(value, path)
    if kind == "drop":
        del parent[path[-1]]
    elif kind == "replace":
        parent[path[-1]] = draw(NASTY)
    elif isinstance(parent, dict):
        parent[draw(st.text(max_size=8))] = draw(VALUES)
    return value


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), name=st.sampled_from([n for n in BUNDLE_FILES if n in SMALL]))
def test_any_json_in_a_bundle_is_read_or_refused_naming_the_file(bundle_folder, data, name):
    """One file of a valid bundle edited (re-hashed as a packer would, or not): read_bundle
    reads it or raises InvalidBundle whose every problem names its file, never another error."""
    files = dict(SMALL)
    draw = data.draw
    if name.endswith(".jsonl"):
        lines = files[name].splitlines()
        index = draw(st.integers(0, len(lines)))
        edit = draw(st.sampled_from(["line", "raw", "duplicate"]))
        if edit == "line" and index < len(lines):
            lines[index] = json.dumps(mutate_json(draw, json.loads(lines[index]))).encode()
        elif edit == "raw":
            lines.insert(
                index, draw(st.binary(max_size=40) | VALUES.map(lambda v: json.dumps(v).encode()))
            )
        elif lines:
            lines.insert(index, lines[index % len(lines)])
        files[name] = b"\n".join(lines) + b"\n"
    elif draw(st.booleans()):
        files[name] = json.dumps(mutate_json(draw, json.loads(files[name]))).encode()
    else:
        files[name] = draw(st.binary(max_size=60))
    if name != "manifest.json" and draw(st.booleans()):
        files = _rehash(files)
    check_bundle(write_bundle_folder(bundle_folder, files))


# A value of the wrong type for every field of each file (a list where no field takes one,
# an object where no episode field takes one).
WRONG = {"submission.json": [[1]], "manifest.json": [[1]], "episodes.jsonl": {"x": [1]}}
MODELS = {"submission.json": Submission, "manifest.json": Manifest, "episodes.jsonl": BundleEpisode}
FIELD_CASES = [
    pytest.param(name, field, edit, id=f"{name}:{field}:{edit}")
    for name, model in MODELS.items()
    for field, info in model.model_fields.items()
    for edit in ("wrong type", "missing")
    if edit == "wrong type" or info.is_required()
]


@pytest.mark.parametrize(("name", "field", "edit"), FIELD_CASES)
def test_a_field_of_the_wrong_type_or_missing_is_named_with_its_file(
    bundle_folder, name, field, edit
):
    files = dict(SMALL)
    first, *rest = files[name].splitlines(keepends=True)
    value = json.loads(first)
    if edit == "missing":
        del value[field]
    else:
        value[field] = WRONG[name]
    files[name] = b"".join([json.dumps(value).encode() + b"\n", *rest])
    if name != "manifest.json":
        files = _rehash(files)
    problems = check_bundle(write_bundle_folder(bundle_folder, files))
    where = f"{name} line 1: {field}" if name.endswith(".jsonl") else f"{name}: {field}"
    assert any(p.where == where or p.where.startswith(where + ".") for p in problems), problems


@pytest.mark.parametrize("key", ["evil\n\x1b[31mforged line", "x" * 10_000])
def test_submitted_text_in_a_problem_is_escaped_and_short(bundle_folder, key):
    """A problem quotes the record's key: a newline or a terminal escape in it is shown escaped,
    so a submission cannot break or forge lines of the validation report."""
    files = dict(SMALL)
    first, *rest = files["episodes.jsonl"].splitlines(keepends=True)
    files["episodes.jsonl"] = b"".join(
        [json.dumps(json.loads(first) | {"key": key}).encode() + b"\n", *rest]
    )
    problems = check_bundle(write_bundle_folder(bundle_folder, _rehash(files)))
    assert any(p.where.endswith(": key") for p in problems), problems
    assert all(len(str(p)) < 400 for p in problems), problems
