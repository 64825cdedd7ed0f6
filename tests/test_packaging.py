"""The wheel carries envs/, tasks/ with their media, the Hydra config and the gymnasium hook;
it works outside a checkout."""

from __future__ import annotations

import subprocess
import sys

import pytest

from .conftest import ROOT

CHECK = """
import os, sys, site
sys.path[:] = [p for p in sys.path if p and os.path.realpath(p) != {root!r}]
site.addsitedir({site!r})
sys.path.insert(0, sys.path.pop())
import gymnasium as gym
env = gym.make("mmsafe/HazardLava-v1")   # registered by the hook, mmsafe not imported
env.reset(seed=0)
import mmsafe
from mmsafe.content import content_dir
assert mmsafe.__file__.startswith({site!r}), mmsafe.__file__
assert str(content_dir("envs")).startswith({site!r}), content_dir("envs")
from mmsafe.cli import main
assert main(["eval", "seeds=2", "out={out}", "progress=false"]) == 0
assert main(["eval", "agent=random", "suite=media", "out={out}-media", "progress=false"]) == 0
print("WHEEL-OK")
"""


@pytest.mark.slow
def test_installed_wheel_runs_an_evaluation_outside_the_checkout(tmp_path):
    wheels, site = tmp_path / "wheels", tmp_path / "site"
    build = [
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "-q",
        "--no-deps",
        "--no-build-isolation",
        "-w",
        str(wheels),
        str(ROOT),
    ]
    subprocess.run(build, check=True, capture_output=True)
    (wheel,) = wheels.glob("mmsafe-*.whl")
    install = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "-q",
        "--no-deps",
        "--target",
        str(site),
        str(wheel),
    ]
    subprocess.run(install, check=True, capture_output=True)
    assert (site / "mmsafe" / "_content" / "envs" / "hazard_lava.yaml").exists()
    assert (site / "mmsafe" / "conf" / "config.yaml").exists()
    assert (site / "mmsafe" / "_content" / "assets" / "tasks" / "video_hazard").is_dir()
    code = CHECK.format(root=str(ROOT), site=str(site), out=str(tmp_path / "run"))
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True
    )
    assert "WHEEL-OK" in done.stdout, done.stderr[-3000:]
    assert (tmp_path / "run" / "metrics.json").exists()
    assert (tmp_path / "run-media" / "metrics.json").exists()
