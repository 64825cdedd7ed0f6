"""The bad-input corpus (issue 9): malformed scenario files, task files and manifests, media and
`mmsafe eval` settings, each of which must get ONE line that names the file (or the option) and
says what is wrong: no traceback, nothing written, and for media, a per-sample error in a run
that goes on. The cases are the files in corpus/ and the entries of corpus/index.yaml: adding a
file (with its entry) adds a case.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from mmsafe.core import MmsafeError
from mmsafe.sim.scenario import load_scenario

from ..conftest import read_episodes, run_mmsafe

CORPUS = Path(__file__).resolve().parent / "corpus"
INDEX = yaml.safe_load((CORPUS / "index.yaml").read_text(encoding="utf-8"))
MEDIA_TOOLS = {"make_media.py"}


def fragments(entry) -> list[str]:
    expect = entry["expect"] if isinstance(entry, dict) else entry
    return [expect] if isinstance(expect, str) else list(expect)


def one_line(message: str, named: str | Path, expect: list[str]) -> None:
    """`message` is one line, with no traceback, naming `named` and holding each fragment."""
    assert message.strip(), "no message at all"
    assert len(message.strip().splitlines()) == 1, f"more than one line:\n{message}"
    assert "Traceback" not in message, message
    assert str(named) in message, f"{named} is not named in: {message}"
    for fragment in expect:
        assert fragment in message, f"{fragment!r} is not in: {message}"


def test_every_corpus_file_has_an_entry_and_every_entry_a_file():
    for group, pattern in (("scenarios", "*.yaml"), ("tasks", "*.yaml"), ("media", "*")):
        files = {p.name for p in (CORPUS / group).glob(pattern) if p.is_file()} - MEDIA_TOOLS
        assert files == set(INDEX[group]), f"{group}: files and index.yaml entries differ"
    assert sum(p.stat().st_size for p in CORPUS.rglob("*") if p.is_file()) < 200_000


# -- scenarios ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(INDEX["scenarios"]))
def test_a_malformed_scenario_is_one_line_naming_the_file(name):
    path = CORPUS / "scenarios" / name
    with pytest.raises(MmsafeError) as caught:
        load_scenario(path)
    one_line(str(caught.value), path, fragments(INDEX["scenarios"][name]))


# Through `mmsafe eval`, as a user's own scenario folder: the file is found by its id.
CLI_SCENARIOS = [
    "wrong_types.yaml",
    "billion_laughs.yaml",
    "negative_count.yaml",
    "layouts_differ_in_size.yaml",
    "binary_garbage.yaml",
]


def without_registration_warning(stderr: str, path: Path) -> str:
    """Importing mmsafe registers the envs (Gymnasium's hook does too) and warns, once, of a
    file it cannot register, for library users whose gym.make would otherwise just not find
    it; the CLI's one-line error follows. The warning is that line and the source line below."""
    lines = stderr.splitlines()
    warned = [i for i, line in enumerate(lines) if f"UserWarning: {path}: no top-level" in line]
    assert len(warned) <= 1, f"warned more than once:\n{stderr}"
    for i in warned:
        del lines[i : i + 2]
    return "\n".join(lines)


@pytest.mark.slow
@pytest.mark.parametrize("name", CLI_SCENARIOS)
def test_a_malformed_scenario_in_a_users_folder_is_one_line_from_the_cli(tmp_path, cli_env, name):
    folder = tmp_path / "envs"
    folder.mkdir()
    shutil.copy(CORPUS / "scenarios" / name, folder / name)
    env = {**cli_env, "MMSAFE_ENVS_PATH": str(folder)}
    out = tmp_path / "run"
    done = run_mmsafe("eval", "suite.envs=[Corpus]", "seeds=1", f"out={out}", "progress=false",
                      env=env, timeout=120)  # fmt: skip
    assert done.returncode == 2, done.stderr
    expect = [] if name == "binary_garbage.yaml" else fragments(INDEX["scenarios"][name])
    one_line(without_registration_warning(done.stderr, folder / name), folder / name, expect)
    assert not out.exists()


# -- tasks and manifests --------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(INDEX["tasks"]))
def test_a_malformed_task_or_manifest_is_one_line_naming_the_file(name):
    from mmsafe.run.runner import load_task_work

    entry = INDEX["tasks"][name]
    path = CORPUS / "tasks" / name
    named = path
    if isinstance(entry, dict) and "names" in entry:
        named = (CORPUS / "tasks" / entry["names"]).resolve()
    with pytest.raises(MmsafeError) as caught:
        load_task_work([str(path)])
    one_line(str(caught.value), named, fragments(entry))


# -- media ----------------------------------------------------------------------------------------
def _loader(kind: str):
    from mmsafe.data import media

    if kind != "image":
        pytest.importorskip("decord")
    return {
        "image": media.load_image,
        "video": media.load_video,
        "audio": media.load_audio,
        "av": media.load_av,
    }[kind]


@pytest.mark.parametrize("name", sorted(INDEX["media"]))
def test_a_malformed_media_file_is_one_line_naming_the_file(name):
    from mmsafe.data.media import MediaError, clear_cache

    entry = INDEX["media"][name]
    path = CORPUS / "media" / name
    clear_cache()
    with pytest.raises(MediaError) as caught:
        _loader(entry["load"])(path)
    one_line(str(caught.value), path, fragments(entry))


def test_a_run_records_each_malformed_media_file_and_goes_on(tmp_path):
    """Through the runner, as `mmsafe eval` reads a task: every malformed file is its sample's
    `media_error` with the one-line reason, and the good samples beside them are answered."""
    pytest.importorskip("decord")
    from mmsafe.agents import RandomAgent
    from mmsafe.run.runner import RunConfig, evaluate

    for name in INDEX["media"]:
        shutil.copy(CORPUS / "media" / name, tmp_path / name)
    cv2.imwrite(str(tmp_path / "good.png"), np.full((12, 16, 3), 90, np.uint8))
    tasks = []
    for modality, good in (("image", "good.png"), ("video", "silent.mp4")):
        bad = [n for n, e in INDEX["media"].items() if e["load"] == modality]
        field = "image" if modality == "image" else "video"
        records = [
            {"id": name, field: name, "question": "Is it safe?", "label": "yes"}
            for name in [good, *bad]
        ]
        manifest = tmp_path / f"{modality}.jsonl"
        manifest.write_text("".join(json.dumps(r) + "\n" for r in records))
        task = tmp_path / f"{modality}.yaml"
        task.write_text(
            f"id: Corpus{modality.title()}\nmodality: {modality}\nmanifest: {manifest.name}\n"
            "choices: ['yes', 'no']\nframes: {count: 2}\n"
        )
        tasks.append(str(task))
    evaluate(RandomAgent(), RunConfig(tasks=tasks, seeds=[0], out=tmp_path / "run"))
    records = {r["sample"]: r for r in read_episodes(tmp_path / "run")}
    assert records["good.png"]["outcome"] == records["silent.mp4"]["outcome"] == "answered"
    broken = {n for n, e in INDEX["media"].items() if e["load"] in ("image", "video")}
    assert broken and broken <= set(records)
    for name in broken:
        assert records[name]["outcome"] == "media_error", records[name]
        one_line(records[name]["error"], name, fragments(INDEX["media"][name]))


# -- `mmsafe eval` settings -----------------------------------------------------------------------
def _config_case(case: dict):
    args = [arg.replace("{corpus}", str(CORPUS)) for arg in case["args"]]
    marks = [pytest.mark.xfail(strict=True, reason=case["xfail"])] if "xfail" in case else []
    return pytest.param(
        args, case["names"], fragments(case), marks=marks, id=" ".join(case["args"])
    )


@pytest.mark.slow
@pytest.mark.parametrize(("args", "names", "expect"), [_config_case(c) for c in INDEX["configs"]])
def test_a_malformed_setting_is_one_line_naming_it(tmp_path, cli_env, args, names, expect):
    out = tmp_path / "run"
    done = run_mmsafe("eval", *args, f"out={out}", "progress=false", env=cli_env, timeout=120)
    assert done.returncode == 2, f"exit {done.returncode}: {done.stderr[-2000:]}"
    one_line(done.stderr, names, expect)
    assert not out.exists(), "an eval with a bad setting wrote a run"
