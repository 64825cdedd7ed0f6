"""Re-make the anchor submissions in leaderboard/submissions/ on the board's suite: the
oracle, the noisy oracle and the blind route (reference lines: they read the simulator's state,
so the board shows them but never ranks them) and the six shortcuts the primary score must
defeat (wait, refuse, done, never_valid, text_only, id_reader), which the board ranks like any
submission.

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
AGENTS = (
    "oracle", "noisy_oracle", "blind_route", "wait", "refuse", "done", "never_valid", "text_only",
    "id_reader",
)  # fmt: skip


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
                    "video.per_env=0",  # a bundle carries no videos
                    "video.first_violation=false",
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
