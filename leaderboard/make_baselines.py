"""Re-make the reference submissions in leaderboard/submissions/: the scripted controls
(oracle: the upper control; reckless and random: lower ones) on the board's suite.

    python leaderboard/make_baselines.py

Run it after changing a scenario, a task or the object catalog: submissions made on the old
content no longer verify (tests/test_leaderboard.py says so), and these are the board's anchors.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
AGENTS = ("oracle", "reckless", "random")


def main() -> None:
    rules = yaml.safe_load((HERE / "leaderboard.yaml").read_text())
    with tempfile.TemporaryDirectory() as scratch:
        for agent in AGENTS:
            run = Path(scratch) / agent
            mmsafe = [sys.executable, "-m", "mmsafe.cli"]
            subprocess.run(
                [
                    *mmsafe,
                    "eval",
                    f"agent={agent}",
                    f"suite={rules['suite']}",
                    f"seeds={rules['min_seeds']}",
                    "progress=false",
                    f"out={run}",
                ],
                check=True,
                stdout=subprocess.DEVNULL,
            )
            bundle = HERE / "submissions" / f"{agent}.tar.gz"
            bundle.unlink(missing_ok=True)
            pack = [*mmsafe, "leaderboard", "pack", str(run), "-o", str(bundle)]
            subprocess.run(pack, check=True)


if __name__ == "__main__":
    main()
