from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import settings

import mmsafe

# CI replays the same examples every run, so that a red run means a change broke something and
# not that the search happened on a new input; elsewhere every run explores fresh inputs (and
# pins what it finds with @example).
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")

ROOT = Path(__file__).resolve().parents[1]
ENV_IDS = mmsafe.register_envs()


def registered_grid_ids() -> list[str]:
    """The grid worlds gymnasium knows: the shipped ones and any a test registered (the physics
    worlds have their own tests)."""
    import gymnasium as gym

    from mmsafe.physics import physics_env_ids

    physics = set(physics_env_ids())
    return sorted(i for i in gym.registry if i.startswith("mmsafe/") and i not in physics)


@pytest.fixture
def cli_env() -> dict[str, str]:
    """Environment for running the `mmsafe` CLI in a subprocess."""
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def mmsafe_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "mmsafe.cli", *args]


def read_episodes(run_dir: Path) -> list[dict]:
    """The records of a run directory's episodes.jsonl, in order (none if it has none)."""
    import json

    path = run_dir / "episodes.jsonl"
    return [json.loads(line) for line in path.open()] if path.exists() else []


# The files that take longest, longest first. The run gives each file to one worker as workers
# free up (`--dist loadfile`), in collection order: starting the long ones first keeps one
# worker from being left with a long file at the end while the other idles.
LONGEST_FIRST = (
    "test_interrupt.py", "test_docs_models.py", "test_docs.py", "test_shortcuts.py",
    "reliability/test_crash_safety.py", "test_leaderboard.py", "test_ray_runner.py",
    "reliability/test_disk_full.py", "test_cli.py", "test_agents.py", "test_offline.py",
)  # fmt: skip


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--slow", action="store_true",
        help="also run the tests marked slow, which the default run leaves out (CI runs them)",
    )  # fmt: skip


def _runs_slow(config: pytest.Config) -> bool:
    """Slow tests run with --slow, or where -m chooses by marker (`-m slow` runs only them)."""
    return bool(config.getoption("--slow") or config.option.markexpr)


def pytest_report_header(config: pytest.Config) -> str | None:
    if _runs_slow(config):
        return None
    return "slow tests are left out: `pytest --slow` runs everything, `pytest -m slow` only them"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not _runs_slow(config):
        slow = [item for item in items if item.get_closest_marker("slow")]
        if slow:
            config.hook.pytest_deselected(items=slow)
            items[:] = [item for item in items if not item.get_closest_marker("slow")]
    order = {name: index for index, name in enumerate(LONGEST_FIRST)}
    tests = Path(__file__).resolve().parent

    def rank(item: pytest.Item) -> int:
        try:
            name = item.path.resolve().relative_to(tests).as_posix()
        except ValueError:
            return len(order)
        return order.get(name, len(order))

    items.sort(key=rank)  # stable: within a file, and among the rest, the usual order


def known_ids(out: Path, keys: list[str]) -> dict[str, str]:
    """Fix the id secret of the run `out` will hold, before it starts, and return {the id an
    agent is shown: episode key}: agents are never shown keys, so a test agent that must
    misbehave on chosen episodes looks them up here."""
    from mmsafe.run.rollout import observed_id
    from mmsafe.run.runner import ID_SECRET_FILE

    out.mkdir(parents=True, exist_ok=True)
    (out / ID_SECRET_FILE).write_text("test-secret")
    return {observed_id(key, b"test-secret"): key for key in keys}


def run_mmsafe(*args: str, env: dict[str, str] | None = None, timeout: float = 600):
    """Run the `mmsafe` CLI in a subprocess and capture its output."""
    return subprocess.run(
        mmsafe_cmd(*args), capture_output=True, text=True, env=env, timeout=timeout
    )


def _load_script(path: Path):
    import importlib.util

    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def tiny_vlms(tmp_path_factory) -> dict[str, Path]:
    """Tiny random Idefics3 and Qwen2-VL models with processors, built offline."""
    pytest.importorskip("transformers")
    out = tmp_path_factory.mktemp("tiny-vlms")
    script = _load_script(ROOT / "assets" / "models" / "make_tiny_vlms.py")
    assert script.main([str(out)]) == 0
    return {family: out / folder for family, folder in script.FAMILIES.items()}


@pytest.fixture(scope="session")
def tiny_clip(tmp_path_factory) -> Path:
    """A tiny random open_clip model saved as open_clip loads local folders."""
    pytest.importorskip("open_clip")
    out = tmp_path_factory.mktemp("tiny-clip")
    return _load_script(ROOT / "assets" / "models" / "make_tiny_clip.py").build(out)
