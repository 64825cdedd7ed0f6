"""Held-out media tasks (leaderboard/make_heldout_tasks.py): each generated task drawn again from
a seed derived from the maintainers' key is a private task of the same source, size and label
balance, with no public picture or clip, other question texts, and labels right (the oracle,
which answers the label, scores 1.0 through the real runner). Without --seed a generator still
writes the shipped manifest."""

from __future__ import annotations

import hashlib
import importlib.util
import re
from collections import Counter
from pathlib import Path

import pytest

from mmsafe.agents import OracleAgent
from mmsafe.data.task import load_task
from mmsafe.run.runner import RunConfig, evaluate

ROOT = Path(__file__).resolve().parents[1]
FILES = {
    "VideoHazard": "video_hazard.yaml",
    "AVHazard": "av_hazard.yaml",
    "SituationalPairs": "situational.yaml",
    "TypographicInjection": "injection.yaml",
    "SycophancyFlip": "sycophancy.yaml",
}
DRAWN = ("SituationalPairs", "TypographicInjection", "SycophancyFlip")  # questions reworded


def load_script(path: Path):
    spec = importlib.util.spec_from_file_location(f"script_{path.parent.name}_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MAKE_HELDOUT = load_script(ROOT / "leaderboard" / "make_heldout_tasks.py")


@pytest.fixture(scope="module")
def heldout(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("heldout")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MMSAFE_HELDOUT_KEY", "test-key")
        assert MAKE_HELDOUT.main([str(out)]) == 0
    return out


def media_hashes(samples) -> set[str]:
    return {
        hashlib.sha256(path.read_bytes()).hexdigest()
        for _, media in samples
        for path in media.values()
    }


def balance(task, samples) -> dict:
    """Per set of choices: the number of samples and how often each label comes (sorted), and
    the categories' counts."""
    groups: dict[tuple, Counter] = {}
    for sample, _ in samples:
        choices = tuple(sorted(sample.choices or task.choices or ()))
        groups.setdefault(choices, Counter())[sample.label] += 1
    by_choices = {c: (sum(n.values()), sorted(n.values())) for c, n in groups.items()}
    return {"labels": by_choices, "categories": Counter(s.category for s, _ in samples)}


def test_every_generated_task_is_made(heldout):
    assert sorted(p.name for p in heldout.glob("*.yaml")) == sorted(FILES.values())


@pytest.mark.parametrize("task_id", list(FILES))
def test_a_heldout_task_is_the_public_task_on_other_samples(heldout, task_id):
    public = load_task(ROOT / "tasks" / FILES[task_id])
    private = load_task(heldout / FILES[task_id])
    assert private.id == task_id and private.source == public.source
    assert private.manifest_path.is_relative_to(heldout)
    ours, theirs = private.read_samples(), public.read_samples()
    assert len(ours) == len(theirs)
    assert balance(private, ours) == balance(public, theirs)
    assert not media_hashes(ours) & media_hashes(theirs), "a public media file is reused"
    assert len({s.id for s, _ in ours} & {s.id for s, _ in theirs}) == 0
    if task_id in DRAWN:
        public_questions = {s.question for s, _ in theirs}
        new = sum(s.question not in public_questions for s, _ in ours)
        assert new >= len(ours) / 2
    for sample, _ in ours:  # opaque ids (and media names): no label, no kind
        assert re.fullmatch(r"h\d+", sample.id)
        assert all(Path(p).stem == sample.id for p in sample.media)
        if sample.attack_target is not None:
            assert sample.attack_target != sample.label


def test_heldout_tasks_keep_the_public_designs(heldout):
    """What decides an AVHazard label, and a SycophancyFlip pushback that challenges whatever
    was answered, are as in the public tasks."""
    av = {
        task: Counter((s.category, s.meta["decided_by"]) for s, _ in load_task(task).read_samples())
        for task in (ROOT / "tasks" / "av_hazard.yaml", heldout / "av_hazard.yaml")
    }
    assert len(set(map(frozenset, (c.items() for c in av.values())))) == 1
    for sample, _ in load_task(heldout / "sycophancy.yaml").read_samples():
        assert len(sample.followups) == 1
        assert "{answer}" in sample.followups[0] and "{other}" in sample.followups[0]


def test_the_oracle_scores_one_on_every_heldout_task(heldout, tmp_path):
    yamls = sorted(heldout.glob("*.yaml"))
    config = RunConfig(
        tasks=[str(p) for p in yamls],
        seeds=[0],
        out=tmp_path / "run",
        video={"per_env": 0, "first_violation": False},
        min_free_mb=0,
    )
    metrics = evaluate(OracleAgent(), config, show=False)
    for path in yamls:
        task = load_task(path)
        figures = metrics["per_task"][task.source]
        assert figures["primary"]["mean"] == 1.0, task.source
        assert figures["primary"]["n"] == len(task.read_samples()), "a media file did not load"


def test_the_key_decides_the_heldout_set(heldout, tmp_path, monkeypatch):
    def injection(key: str, out: Path) -> bytes:
        monkeypatch.setenv("MMSAFE_HELDOUT_KEY", key)
        assert MAKE_HELDOUT.main([str(out), "--tasks", "TypographicInjection"]) == 0
        return (out / "injection" / "manifest.jsonl").read_bytes()

    first = (heldout / "injection" / "manifest.jsonl").read_bytes()
    assert injection("test-key", tmp_path / "same") == first
    assert injection("another-key", tmp_path / "other") != first


def test_no_key_is_a_one_line_error(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("MMSAFE_HELDOUT_KEY", raising=False)
    assert MAKE_HELDOUT.main([str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "MMSAFE_HELDOUT_KEY" in err and err.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_without_a_seed_a_generator_writes_the_shipped_manifest(tmp_path):
    make = load_script(ROOT / "assets" / "tasks" / "injection" / "make.py")
    assert make.main([str(tmp_path)]) == 0
    shipped = ROOT / "assets" / "tasks" / "injection" / "manifest.jsonl"
    assert (tmp_path / "manifest.jsonl").read_bytes() == shipped.read_bytes()
