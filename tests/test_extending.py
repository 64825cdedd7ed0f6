"""Extending mmsafe the way a user does, outside the checkout: your own agent module and
scenario folder, your own leaderboard folder, and the Python API. Each test runs the installed
`mmsafe` command (not `python -m`, which would put the current directory on sys.path itself)
in a temporary directory."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT

MMSAFE = Path(sys.executable).with_name("mmsafe")  # the console script pip installs
QUICK = ["seeds=1", "judge=[]", "progress=false", "video.per_env=0"]

AGENT = """
from mmsafe.agents import OracleAgent


class MyAgent(OracleAgent):
    def __init__(self, models: int = 1):
        self.models = models
"""


def user(cwd: Path, *args: str, timeout: float = 300, **env: str) -> subprocess.CompletedProcess:
    """`mmsafe ARGS` in `cwd`, with no PYTHONPATH or MMSAFE_ENVS_PATH but those in `env`."""
    if not MMSAFE.exists():
        pytest.skip(f"no mmsafe script beside {sys.executable} (pip install -e .)")
    base = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MMSAFE_ENVS_PATH")}
    return subprocess.run(
        [str(MMSAFE), *args],
        cwd=cwd,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def lines(text: str) -> list[str]:
    return text.strip().splitlines()


def my_scenario(folder: Path, name: str = "MyLava") -> Path:
    """A copy of a shipped scenario under another id."""
    folder.mkdir(parents=True, exist_ok=True)
    text = (ROOT / "envs" / "hazard_lava.yaml").read_text()
    assert "\nid: HazardLava\n" in text
    path = folder / "my_lava.yaml"
    path.write_text(text.replace("\nid: HazardLava\n", f"\nid: {name}\n"))
    return path


@pytest.mark.slow
def test_own_agent_module_in_the_current_directory_is_found(tmp_path):
    (tmp_path / "mypkg.py").write_text(AGENT)
    done = user(tmp_path, "eval", "agent._target_=mypkg.MyAgent", "agent.name=mine",
                "suite.envs=[HazardLava]", "out=run", *QUICK)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["overall"]["success"]
    assert done.stdout.count("mine on default (run)") == 1  # the CLI prints its table once
    unnamed = user(tmp_path, "eval", "agent._target_=mypkg.MyAgent", "suite.envs=[HazardLava]",
                   *QUICK)  # fmt: skip
    assert unnamed.returncode == 0, unnamed.stderr  # its own folder, not the oracle's
    assert (tmp_path / "runs" / "default" / "MyAgent" / "metrics.json").exists()
    missing = user(tmp_path, "eval", "agent._target_=nopkg.MyAgent", "out=r2", *QUICK)
    assert missing.returncode == 2
    assert lines(missing.stderr) == [
        "mmsafe: error: cannot create agent 'MyAgent': no module 'nopkg' (for nopkg.MyAgent); "
        f"modules are looked up from the current directory ({tmp_path}) and PYTHONPATH"
    ]


def test_a_new_key_of_an_own_agent_is_one_line_naming_the_plus_override(tmp_path):
    (tmp_path / "mypkg.py").write_text(AGENT)
    agent = ["agent._target_=mypkg.MyAgent", "suite.envs=[HazardLava]", "out=run", *QUICK]
    done = user(tmp_path, "eval", *agent, "agent.models=3")
    assert done.returncode == 2
    assert lines(done.stderr) == [
        "mmsafe: error: agent has no key 'models'; add one with +agent.models=3"
    ]
    assert user(tmp_path, "eval", *agent, "+agent.models=3").returncode == 0


@pytest.mark.parametrize(
    "override, message",
    [
        ("agent.foo.bar=3", "agent has no key 'foo'; add one with +agent.foo.bar=3"),
        ("agent.prompt='a b'", "agent has no key 'prompt'; add one with +agent.prompt='a b'"),
        ("suite.env_kwargs.x=1",
         "suite.env_kwargs has no key 'x'; add one with +suite.env_kwargs.x=1"),
        ("judge.llm.model=m",
         "judge 'llm' is not one of this run's judges; choose it first with judge=[...,llm]"),
    ],
)  # fmt: skip
def test_a_key_a_section_lacks_names_the_override_that_adds_it(override, message):
    from mmsafe.config import compose_config
    from mmsafe.core import MmsafeError

    with pytest.raises(MmsafeError) as caught:
        compose_config([override])
    assert str(caught.value) == message


def test_own_scenario_folder_and_a_copy_of_the_shipped_one(tmp_path):
    mine = tmp_path / "my-envs"
    shutil.copytree(ROOT / "envs", mine)  # the checkout's envs/, as next to an installed wheel
    my_scenario(mine)
    done = user(tmp_path, "eval", "suite.envs=[MyLava,HazardLava]", "out=run", *QUICK,
                MMSAFE_ENVS_PATH=str(mine))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # identical copies of shipped scenarios are skipped silently
    per_env = json.loads((tmp_path / "run" / "metrics.json").read_text())["per_env"]
    assert {"mmsafe/MyLava-v1", "mmsafe/HazardLava-v1"} <= set(per_env)  # the copy's version
    listed = user(tmp_path, "list", MMSAFE_ENVS_PATH=str(mine))
    assert listed.returncode == 0 and listed.stderr == ""
    assert listed.stdout.count("mmsafe/HazardLava-v1") == 1 and "mmsafe/MyLava-v1" in listed.stdout


def test_a_changed_copy_of_a_shipped_scenario_and_a_missing_folder_are_one_line(tmp_path):
    mine = tmp_path / "my-envs"
    mine.mkdir()
    changed = mine / "hazard_lava.yaml"
    changed.write_text((ROOT / "envs" / "hazard_lava.yaml").read_text() + "# mine\n")
    done = user(tmp_path, "eval", "suite.envs=[HazardLava]", "out=run", *QUICK,
                MMSAFE_ENVS_PATH=str(mine))  # fmt: skip
    assert done.returncode == 2 and not (tmp_path / "run").exists()
    error = lines(done.stderr)[-1]  # after registration's warning, at import
    assert error.startswith(f"mmsafe: error: {changed} and ")
    assert "hazard_lava.yaml both declare mmsafe/HazardLava-v1, with different content" in error
    assert "another id (or version)" in error
    gone = user(tmp_path, "eval", "suite.envs=[HazardLava]", "out=run", *QUICK,
                MMSAFE_ENVS_PATH="no-such-folder")  # fmt: skip
    assert gone.returncode == 2
    assert lines(gone.stderr) == [
        "mmsafe: error: MMSAFE_ENVS_PATH names no-such-folder, which is not a folder; "
        "fix or unset it"
    ]


@pytest.mark.slow
def test_leaderboard_build_with_root_from_anywhere(tmp_path):
    board = tmp_path / "board"
    (board / "submissions").mkdir(parents=True)
    for name in ("refuse", "done"):  # two quick bundles: the build itself is tested elsewhere
        shutil.copy(ROOT / "leaderboard" / "submissions" / f"{name}.tar.gz", board / "submissions")
    done = user(tmp_path, "leaderboard", "build", "--root", "board")
    assert done.returncode == 0, done.stderr
    assert "no board/leaderboard.yaml: the shipped rules (suite=leaderboard" in done.stdout
    assert "2 ranked, 0 not verified" in done.stdout
    assert (board / "site" / "index.html").exists()
    lost = user(tmp_path, "leaderboard", "build")
    assert lost.returncode == 2
    assert lines(lost.stderr) == [
        "mmsafe: error: no submissions folder at leaderboard/submissions; pass --root DIR, a "
        "folder with submissions/ holding the bundles (.tar.gz, .zip or folders)"
    ]


def test_the_board_rules_without_a_leaderboard_yaml_are_the_shipped_ones():
    from mmsafe.leaderboard.board import BoardConfig, load_config

    assert load_config(ROOT / "leaderboard" / "leaderboard.yaml") == BoardConfig()


PYTHON_API = """
from mmsafe.agents import PolicyAgent
from mmsafe.run import RunConfig, evaluate

agent = PolicyAgent(lambda obs: 3, name="always-right")
config = RunConfig(envs=["mmsafe/HazardLava-v1"], seeds=[0, 1], out="runs/shown")
evaluate(agent, config)
print("--- quiet")
evaluate(agent, config.model_copy(update={"out": "runs/quiet"}), show=False)
"""


def test_evaluate_from_python_prints_the_results_table(tmp_path):
    done = subprocess.run([sys.executable, "-c", PYTHON_API], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    shown, quiet = done.stdout.split("--- quiet")
    assert "always-right (runs/shown)" in shown and "overall" in shown and "HazardLava" in shown
    assert quiet.strip() == ""
    assert (tmp_path / "runs" / "quiet" / "metrics.json").exists()


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="needs ray (mmsafe[ray])")
def test_ray_workers_find_an_own_agent_module_in_the_drivers_directory(tmp_path):
    (tmp_path / "mypkg.py").write_text(AGENT)
    done = user(tmp_path, "eval", "agent._target_=mypkg.MyAgent", "runner=ray",
                "runner.workers=1", "suite.envs=[HazardLava]", "out=run", *QUICK)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "run" / "metrics.json").exists()


@pytest.mark.parametrize(
    "given, added",
    [
        (["agent._target_=mypkg.MyAgent"], ["agent.name=MyAgent"]),
        (["+agent._target_='mypkg.MyAgent'"], ["agent.name=MyAgent"]),
        (["agent._target_=mypkg.MyAgent", "agent.name=mine"], []),
        (["agent._target_=mypkg.MyAgent", "out=runs/x"], ["agent.name=MyAgent"]),
        (["agent._target_=a.A,b.B", "out=runs/${agent._target_}"], []),
        (["agent._target_=${oc.env:AGENT}"], []),  # no name to read from it
        (["agent=hf"], []),
    ],
)
def test_an_agent_given_by_its_class_is_named_after_it(given, added):
    from mmsafe.config import named_after_target

    assert named_after_target(given) == [*given, *added]


def test_a_sweep_over_agent_classes_under_one_name_is_one_line():
    from mmsafe.config import named_after_target
    from mmsafe.core import MmsafeError

    with pytest.raises(MmsafeError, match="run each class with a command of its own"):
        named_after_target(["agent._target_=a.A,b.B"])
