"""Benchmark `mmsafe eval runner=ray` against the local runner on a CPU-bound agent.

    python bench/ray_eval.py                   # tiny CLIP agent, suite=default x 30 seeds (~5 min)
    python bench/ray_eval.py --quick           # suite=foundation x 8 seeds, one round (~40 s)
    python bench/ray_eval.py --workers 1 2 4 --seeds 40 --repeat 5

Every round evaluates the same episodes (no judges, no videos: both run in the driver either
way) with the local runner, with the local runner at one torch thread (what each Ray worker
uses, to tell threading from distribution apart), and with runner=ray at each --workers
count, each into a fresh run directory, and checks that every run's records equal the local
runner's (actions, replies, rewards, outcomes; all but the timings). The agent is the CLIP
zero-shot agent on the tiny random CLIP of assets/models (or --model), on the CPU: image
preprocessing and the forward pass per step, plus the simulator, all in the agent's process.
A Ray cluster (one CPU per worker) is started after the local runs of a round and stopped at
its end; its start and stop, and each pool's workers starting (a process each, importing
torch and open_clip and building the agent), are timed apart from the evaluation.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
from _harness import Row, Rows, machine, table  # noqa: E402

NOTES = """\
ms: median seconds x 1000 of the evaluation (evaluate(): every episode run and appended).
peer/mm: the local runner's time over this row's, the median over rounds (each round times
all rows): the speed-up, > 1 when faster than the local runner; range: lowest-highest round.
"eval only" rows leave Ray's startup out; "with start" rows add, for Ray, the cluster's start
and stop and the workers' start (process, imports, agent build), and for the local runner its
agent build in this process (cold imports, timed once). check: records equal to the local
runner's."""


def build_tiny_clip(out: Path) -> str:
    """The tiny CLIP, built in a child process so that this one imports torch and open_clip
    first in the local agent's timed build, as a fresh `mmsafe eval` would."""
    script = HERE.parent / "assets" / "models" / "make_tiny_clip.py"
    subprocess.run([sys.executable, str(script), str(out)], check=True, capture_output=True)
    return str(out / "tiny-clip")


def content(run_dir: Path) -> dict[str, str]:
    """A run's records by key, without what may differ between equal runs (timings, and the
    violation clip named after whichever episode happened to finish first)."""
    out = {}
    for line in (run_dir / "episodes.jsonl").open():
        record = json.loads(line)
        record.pop("duration_s", None)
        record.pop("video", None)
        out[record["key"]] = json.dumps(record, sort_keys=True)
    return out


def compare(got: dict[str, str], want: dict[str, str]) -> str:
    if got.keys() != want.keys():
        return f"MISMATCH keys ({len(got)} vs {len(want)})"
    differ = [key for key in want if got[key] != want[key]]
    return f"MISMATCH {len(differ)} records, e.g. {differ[0]}" if differ else "records equal"


class Bench:
    """One agent config evaluated by each runner into fresh run directories under `root`."""

    def __init__(self, overrides: list[str], root: Path):
        from mmsafe.config import agent_spec, build_agent, compose_config, run_config

        self.root = root
        self.cfg = compose_config(overrides)
        self.config = run_config(self.cfg)
        self.spec = agent_spec(self.cfg)
        t0 = time.perf_counter()
        self.agent = build_agent(self.cfg)  # the first torch/open_clip import in this process
        self.build_s = time.perf_counter() - t0
        self.episodes = len(self.config.envs) * len(self.config.seeds)

    def fresh(self, name: str) -> Any:
        out = self.root / name
        shutil.rmtree(out, ignore_errors=True)
        return self.config.model_copy(update={"out": out})

    def local(self, name: str, threads: int | None) -> tuple[float, dict]:
        import torch

        from mmsafe.run.runner import evaluate

        config, before = self.fresh(name), torch.get_num_threads()
        torch.set_num_threads(threads or before)
        try:
            t0 = time.perf_counter()
            evaluate(self.agent, config, show=False)  # timed: no table printing
            took = time.perf_counter() - t0
        finally:
            torch.set_num_threads(before)
        return took, content(config.out)

    def ray(self, workers: int) -> tuple[float, float, float, dict]:
        """(workers' start, evaluation, pool close) seconds and the records."""
        from mmsafe.run.distributed import RayPool, RunnerConfig
        from mmsafe.run.runner import evaluate

        config = self.fresh(f"ray{workers}")
        t0 = time.perf_counter()
        pool = RayPool(RunnerConfig(name="ray", workers=workers), self.spec)
        t1 = time.perf_counter()
        try:
            evaluate(pool, config, show=False)
            t2 = time.perf_counter()
        finally:
            pool.close()
        return t1 - t0, t2 - t1, time.perf_counter() - t2, content(config.out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/ray_eval.py", description=__doc__.split("\n")[0])
    parser.add_argument("--suite", default="default", help="the suite (default)")
    parser.add_argument("--seeds", type=int, default=30, help="seeds per env (30)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="Ray workers (1 2)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds (3)")
    parser.add_argument("--model", help="an open_clip model (default: the tiny CLIP)")
    parser.add_argument("--quick", action="store_true", help="suite=foundation, 8 seeds, 1 round")
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # bench/run.py hands every benchmark the options of all of them
        print(f"bench/ray_eval.py: ignoring {' '.join(unknown)}")
    if args.quick:
        args.suite, args.seeds, args.repeat = "foundation", min(args.seeds, 8), 1
    if min(args.seeds, args.repeat, *args.workers) < 1:
        parser.error("--seeds, --repeat and --workers must be >= 1")
    lacking = [m for m in ("ray", "open_clip") if importlib.util.find_spec(m) is None]
    if lacking:  # found, not imported: the local agent's build below is timed cold
        print(f"bench/ray_eval.py needs mmsafe[ray,clip] ({', '.join(lacking)})", file=sys.stderr)
        return 2

    start = time.perf_counter()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    workers = [n for n in dict.fromkeys(args.workers) if n <= cores]
    with tempfile.TemporaryDirectory(prefix="mmsafe-bench-") as tmp:
        model = args.model or build_tiny_clip(Path(tmp))
        overrides = ["agent=clip", f"agent.model={model}", "agent.device=cpu", "judge=[]",
                     f"suite={args.suite}", f"seeds={args.seeds}", "video.per_env=0",
                     "+video.first_violation=false", "progress=false"]  # fmt: skip
        if not args.model:
            overrides.append("agent.pretrained=null")
        bench = Bench(overrides, Path(tmp) / "runs")
        import open_clip
        import ray
        import torch

        libs = [f"ray {ray.__version__}", f"torch {torch.__version__}",
                f"open_clip {open_clip.__version__}"]  # fmt: skip
        print(machine(libs))
        if len(workers) < len(set(args.workers)):
            print(f"skipping workers above {cores}: a local cluster has one CPU per core")
        print(f"model: {args.model or 'tiny CLIP (random weights, 32 px, assets/models)'}")
        print(f"work: suite={args.suite}, {bench.episodes} episodes, batch_size 8, "
              f"{args.repeat} round(s); torch {torch.get_num_threads()} threads locally, "
              f"1 per Ray worker; local agent build {bench.build_s:.1f} s")  # fmt: skip
        print()
        times: dict[str, list[float]] = {}
        checks: dict[str, str] = {}
        want: dict[str, str] = {}

        def note(name: str, seconds: float, records: dict[str, str]) -> None:
            times.setdefault(name, []).append(seconds)
            if not want:
                want.update(records)
            if checks.get(name, "records equal") == "records equal":
                checks[name] = compare(records, want)

        for r in range(args.repeat):
            locals_ = [("local", None), ("local1", 1)]
            for name, threads in locals_[r % 2 :] + locals_[: r % 2]:
                note(name, *bench.local(name, threads))
            t0 = time.perf_counter()
            ray.init(num_cpus=cores, include_dashboard=False, logging_level="ERROR")
            cluster_start = time.perf_counter() - t0
            counts = workers[r % len(workers) :] + workers[: r % len(workers)]
            runs = [(n, *bench.ray(n)) for n in counts]
            t0 = time.perf_counter()
            ray.shutdown()
            cluster = cluster_start + time.perf_counter() - t0
            times.setdefault("cluster", []).append(cluster)
            for n, started, took, closed, records in runs:
                note(f"ray{n}", took, records)
                times.setdefault(f"ray{n}-start", []).append(cluster + started + closed)
    rows = rows_of(times, checks, bench)
    print(table(rows))
    print()
    print(phases(times, workers))
    print()
    print(NOTES)
    bad = [name for name, check in checks.items() if check != "records equal"]
    for name in bad:
        print(f"CHECK FAILED: {name}: {checks[name]}")
    print(f"total {time.perf_counter() - start:.0f} s")
    return 1 if bad else 0


def rows_of(times: dict[str, list[float]], checks: dict[str, str], bench: Bench) -> list[Row]:
    rows = Rows("ray_eval")
    local = times["local"]
    local_start = [t + bench.build_s for t in local]

    def rate(seconds: list[float]) -> str:
        return f"{bench.episodes / statistics.median(seconds):.1f} ep/s"

    rows.add("eval only", f"local, 1 thread {rate(times['local1'])}", times["local1"],
             f"local {rate(local)}", local, checks["local1"])  # fmt: skip
    workers = sorted(int(k[3:]) for k in times if k.startswith("ray") and k[3:].isdigit())
    for n in workers:
        rows.add("eval only", f"ray x{n} {rate(times[f'ray{n}'])}", times[f"ray{n}"],
                 f"local {rate(local)}", local, checks[f"ray{n}"])  # fmt: skip
    for n in workers:
        total = [a + b for a, b in zip(times[f"ray{n}"], times[f"ray{n}-start"], strict=True)]
        rows.add("with start", f"ray x{n} {rate(total)}", total,
                 f"local {rate(local_start)}", local_start, checks[f"ray{n}"])  # fmt: skip
    return rows


def phases(times: dict[str, list[float]], workers: list[int]) -> str:
    cluster = statistics.median(times["cluster"])
    lines = [f"Ray's overhead per run, median: cluster start + stop {cluster:.1f} s"]
    for n in sorted(workers):
        start = statistics.median(times[f"ray{n}-start"])
        lines.append(f"  x{n}: with the workers' start and stop {start:.1f} s")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
