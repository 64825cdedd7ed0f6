from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

import mmsafe

ROOT = Path(__file__).resolve().parents[1]
ENV_IDS = mmsafe.register_envs()


@pytest.fixture
def cli_env() -> dict[str, str]:
    """Environment for running the `mmsafe` CLI in a subprocess."""
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def mmsafe_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "mmsafe.cli", *args]
