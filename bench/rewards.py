"""Benchmark the CLIP reward model: batched scoring against one forward pass per frame.

    python bench/rewards.py                     # the tiny CLIP, built into a temp dir (~1 min)
    python bench/rewards.py --quick             # fewer frames and rounds (smoke run, seconds)
    python bench/rewards.py --model ViT-B-32/laion2b_s34b_b79k --frames 512 --batch 128

Each row scores the same frames (top-down renders of real episodes, cut into episodes of
--episode frames) twice in the same run, calls interleaved round-robin: mmsafe's
`ClipRewardJudge.judge` embedding every frame of the batch in passes of --batch frames, and the
peer, the same judge at one frame per forward pass (how a per-step reward is usually computed
inside an RL loop). Both include the PIL preprocessing, which is the same work on both sides.
frames/s is frames over the median call; the check is that both give the same rewards
(allclose, atol 1e-4). Rows for the CPU, and for CUDA when torch sees a GPU. Exit status 1 when
a check fails. --model takes any open_clip ARCH/PRETRAINED tag, hf-hub: name or local folder
(a released tag downloads unless it is already in the Hugging Face cache).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
from _harness import Row, Rows, machine, nothing, report, timed  # noqa: E402

ENVS = ("mmsafe/RewardGaming-v1", "mmsafe/HazardLava-v1", "mmsafe/FragileVase-v1")
NOTES = """\
ms: median per call (all frames). peer/mm: median over rounds of peer time / mmsafe time in
the same round (> 1: batching is faster); range: lowest-highest round ratio. n: timed calls.
batched: every frame of the call's episodes embedded in passes of --batch frames; peer: the
same judge with one frame per forward pass. Text embeddings are cached on both sides."""


def tiny_clip(out: Path) -> Path:
    path = HERE.parent / "assets" / "models" / "make_tiny_clip.py"
    spec = importlib.util.spec_from_file_location("make_tiny_clip", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build(out)


def episode_frames(count: int) -> list[tuple[str, list[np.ndarray]]]:
    """`count` top-down renders of seeded random walks, as (mission, frames) per episode."""
    import gymnasium as gym

    import mmsafe

    mmsafe.register_envs()
    rng = np.random.default_rng(0)
    out: list[tuple[str, list[np.ndarray]]] = []
    seed = 0
    while sum(len(f) for _, f in out) < count:
        env = gym.make(ENVS[seed % len(ENVS)])
        obs, _ = env.reset(seed=seed)
        frames, ended = [obs["image"]], False
        while not ended and len(frames) < 61:
            obs, _, done, cut, _ = env.step(int(rng.integers(0, 6)))  # moves, interact, wait
            frames.append(obs["image"])
            ended = done or cut
        out.append((obs["mission"], frames))
        env.close()
        seed += 1
    return out


def items_of(episodes: list[tuple[str, list[np.ndarray]]], count: int, size: int) -> list:
    """JudgeItems of `size` frames each (the last one shorter), `count` frames in all."""
    from mmsafe.core import EpisodeRecord, StepRecord
    from mmsafe.judges.base import JudgeItem

    flat = [(mission, f) for mission, frames in episodes for f in frames][:count]
    items = []
    for n, at in enumerate(range(0, len(flat), size)):
        chunk = flat[at : at + size]
        record = EpisodeRecord(
            key=f"bench#seed={n}", source="bench", seed=n, agent="bench", outcome="timeout",
            steps=[StepRecord(t=t, action="wait") for t in range(1, len(chunk))],
            success=False, total_reward=0.0, total_cost=0.0,
        )  # fmt: skip
        items.append(JudgeItem(record, prompt=chunk[0][0], frames=tuple(f for _, f in chunk)))
    return items


def scores(verdicts: list[list]) -> np.ndarray:
    return np.array([v.score for vs in verdicts for v in vs], np.float64)


def device_rows(model: str, device: str, items: list, batch: int, repeat: int | None) -> Row:
    from mmsafe.judges.clip_reward import ClipRewardJudge

    batched = ClipRewardJudge(model=model, device=device, batch_size=batch)
    single = ClipRewardJudge(model=model, device=device, batch_size=1)
    frames = sum(len(i.frames) for i in items)
    timings = timed(
        {"batched": lambda: batched.judge(items), "single": lambda: single.judge(items)},
        repeat,
        nothing,
    )
    a, b = scores(timings.first["batched"]), scores(timings.first["single"])
    ok = a.shape == b.shape and np.allclose(a, b, atol=1e-4)
    worst = float(np.abs(a - b).max()) if a.shape == b.shape else float("nan")
    check = f"{'allclose' if ok else 'MISMATCH'} max|d|={worst:.2g}"
    rows = Rows("rewards")
    mm_fps = frames / np.median(timings["batched"])
    peer_fps = frames / np.median(timings["single"])
    rows.add(
        f"{device} {frames} frames",
        f"batched {batch}/pass {mm_fps:,.0f} f/s",
        timings["batched"],
        f"1/pass {peer_fps:,.0f} f/s",
        timings["single"],
        check,
        ok,
    )
    batched.close()
    single.close()
    return rows[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/rewards.py", description=__doc__.split("\n")[0])
    parser.add_argument("--model", help="an open_clip model (default: the tiny CLIP)")
    parser.add_argument("--frames", type=int, default=256, help="frames scored per call (256)")
    parser.add_argument("--batch", type=int, default=64, help="frames per forward pass (64)")
    parser.add_argument("--episode", type=int, default=32, help="frames per episode (32)")
    parser.add_argument("--repeat", type=int, help="timed rounds (default: 9, or 5 if slow)")
    parser.add_argument("--quick", action="store_true", help="64 frames, 3 rounds")
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # bench/run.py hands every benchmark the options of all of them
        print(f"bench/rewards.py: ignoring {' '.join(unknown)}")
    if args.quick:
        args.frames, args.repeat = min(args.frames, 64), args.repeat or 3
    if min(args.frames, args.batch, args.episode, args.repeat or 1) < 1:
        parser.error("--frames, --batch, --episode and --repeat must be >= 1")
    try:
        import open_clip
        import torch
    except ImportError as e:
        print(f"bench/rewards.py needs mmsafe[clip] (open_clip): {e}", file=sys.stderr)
        return 2

    start = time.perf_counter()
    libs = [f"torch {torch.__version__} ({torch.get_num_threads()} threads)",
            f"open_clip {open_clip.__version__}"]  # fmt: skip
    devices = ["cpu"]
    if torch.cuda.is_available():
        devices.append("cuda")
        libs.append(f"cuda {torch.version.cuda} on {torch.cuda.get_device_name(0)}")
    print(machine(libs))
    with tempfile.TemporaryDirectory(prefix="mmsafe-bench-") as tmp:
        model = args.model or str(tiny_clip(Path(tmp)))
        print(f"model: {args.model or 'tiny CLIP (random weights, 32 px, assets/models)'}")
        items = items_of(episode_frames(args.frames), args.frames, args.episode)
        shape = items[0].frames[0].shape
        print(f"frames: {args.frames} renders {shape[1]}x{shape[0]} in {len(items)} episodes")
        print()
        rows = [device_rows(model, d, items, args.batch, args.repeat) for d in devices]
    return report(rows, NOTES, start)


if __name__ == "__main__":
    sys.exit(main())
