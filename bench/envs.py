"""Benchmark the worlds: env steps per second with an RGB observation, against MiniGrid.

    python bench/envs.py                  # single envs and vector envs (~1 min on 2 cores)
    python bench/envs.py --quick          # fewer steps and rounds (seconds)
    python bench/envs.py --steps 5000 --repeat 9

Single env, one process, through `gymnasium.make` on both sides (so both pay Gymnasium's
wrappers), a random walk of movement actions with a reset whenever an episode ends:

- partial view: mmsafe `HazardLava` egocentric (radius 3, 8 px tiles: a 56x56 view, plus the
  text panel below it where a scenario has text) against MiniGrid `LavaCrossingS9N1-v0` under
  `RGBImgPartialObsWrapper` (7x7 cells of 8 px: 56x56), the lava map closest to ours;
- full view: the same two maps top-down (mmsafe's whole grid; MiniGrid 9x9 cells, 72x72) under
  `RGBImgObsWrapper` (the table's check column gives both frame sizes);
- the same two views at the frame size model agents get by default (mmsafe's `min_side_px`
  224: the smallest cells that make the short side 224 px, the text panel making up the height)
  against MiniGrid with the tile size that makes its frame 224 px or just over.

Vector envs: mmsafe's native batched env (`gymnasium.make_vec`, every frame drawn in one
gather) against Gymnasium's `SyncVectorEnv` over the same worlds, for N = 1, 8 and 64, plus
`AsyncVectorEnv` at N = 8. The check is that the native env returns the same images, rewards
and flags as `SyncVectorEnv` for the same seeds and actions (a mismatch fails with exit 1).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
from _harness import Row, Rows, machine, nothing, report, timed  # noqa: E402

MMSAFE_ENV = "mmsafe/HazardLava-v1"  # the version registered is looked up in main()
MINIGRID_ENV = "MiniGrid-LavaCrossingS9N1-v0"
TILE_PX = 8
MIN_SIDE_PX = 224  # mmsafe's default frame: what vision-language models take in
NOTES = """\
ms: median time of one call (--steps steps; for vector envs, --steps / N steps of N worlds).
peer/mm: median over rounds of peer time / mmsafe time in the same round (> 1: mmsafe is
faster); range: lowest-highest round ratio; n: timed rounds. steps/s and frames/s count RGB
observations returned, resets included."""


def walker(env, moves: list[int], steps: int, seed: int) -> Callable[[], int]:
    """A call that steps `env` `steps` times on a seeded random walk over `moves`, resetting
    when an episode ends; returns the number of episodes that ended."""
    rng = np.random.default_rng(seed)
    env.reset(seed=seed)

    def call() -> int:
        ended = 0
        for action in rng.choice(moves, size=steps):
            _, _, terminated, truncated, _ = env.step(int(action))
            if terminated or truncated:
                env.reset()
                ended += 1
        return ended

    return call


def single_rows(steps: int, repeat: int | None) -> Rows:
    import gymnasium as gym
    import minigrid  # noqa: F401 - registers MiniGrid's envs
    from minigrid.wrappers import RGBImgObsWrapper, RGBImgPartialObsWrapper

    import mmsafe

    mmsafe.register_envs()
    rows = Rows("envs")
    cases = [
        (
            "partial view",
            gym.make(MMSAFE_ENV, view="egocentric", view_radius=3, tile_px=TILE_PX),
            RGBImgPartialObsWrapper(gym.make(MINIGRID_ENV), tile_size=TILE_PX),
            "RGBImgPartialObs",
        ),
        (
            "full view",
            gym.make(MMSAFE_ENV, view="topdown", tile_px=TILE_PX),
            RGBImgObsWrapper(gym.make(MINIGRID_ENV), tile_size=TILE_PX),
            "RGBImgObs",
        ),
    ]
    ego = gym.make(MMSAFE_ENV, view="egocentric", view_radius=3, min_side_px=MIN_SIDE_PX)
    top = gym.make(MMSAFE_ENV, view="topdown", min_side_px=MIN_SIDE_PX)
    cases += [
        (
            f"partial view {MIN_SIDE_PX} px",
            ego,
            RGBImgPartialObsWrapper(gym.make(MINIGRID_ENV), tile_size=-(-MIN_SIDE_PX // 7)),
            "RGBImgPartialObs",
        ),
        (
            f"full view {MIN_SIDE_PX} px",
            top,
            RGBImgObsWrapper(gym.make(MINIGRID_ENV), tile_size=-(-MIN_SIDE_PX // 9)),
            "RGBImgObs",
        ),
    ]
    for case, ours, theirs, wrapper in cases:
        # movement only on both sides: up/down/left/right; MiniGrid's turn left/right/forward
        mm = walker(ours, [0, 1, 2, 3], steps, seed=0)
        peer = walker(theirs, [0, 1, 2], steps, seed=0)
        timings = timed({"mm": mm, "peer": peer}, repeat, nothing)
        mm_rate = steps / np.median(timings["mm"])
        peer_rate = steps / np.median(timings["peer"])
        shapes = [env.observation_space["image"].shape for env in (ours, theirs)]
        ok = all(len(s) == 3 and s[2] == 3 for s in shapes)
        rows.add(
            f"{case} 1 env",
            f"mmsafe {mm_rate:,.0f} steps/s",
            timings["mm"],
            f"MiniGrid {wrapper} {peer_rate:,.0f} steps/s",
            timings["peer"],
            f"RGB {_size(shapes[0])} vs {_size(shapes[1])}",
            ok,
        )
    return rows


def _size(shape: tuple[int, ...]) -> str:
    return f"{shape[1]}x{shape[0]}"


def vector_rows(steps: int, repeat: int | None, counts: list[int]) -> Rows:
    import gymnasium as gym

    import mmsafe
    from mmsafe.sim.wrappers import ImageOnly

    mmsafe.register_envs()
    rows = Rows("envs")
    kwargs = {"view": "topdown", "tile_px": TILE_PX}
    modes = [(n, "sync") for n in counts] + [(8, "async")] * (8 in counts)
    for n, mode in modes:
        native = gym.make_vec(MMSAFE_ENV, num_envs=n, image_only=True, **kwargs)
        other = gym.make_vec(
            MMSAFE_ENV, num_envs=n, vectorization_mode=mode, wrappers=[ImageOnly], **kwargs
        )
        ok, where = same_rollout(native, other, n)
        calls = max(1, steps // n)
        timings = timed(
            {"mm": vector_walker(native, n, calls), "peer": vector_walker(other, n, calls)},
            repeat,
            nothing,
        )
        frames = calls * n
        mm_rate = frames / np.median(timings["mm"])
        peer_rate = frames / np.median(timings["peer"])
        rows.add(
            f"vector N={n}",
            f"native {mm_rate:,.0f} frames/s",
            timings["mm"],
            f"{mode.capitalize()}VectorEnv {peer_rate:,.0f} frames/s",
            timings["peer"],
            "same obs, rewards, flags" if ok else f"MISMATCH at {where}",
            ok,
        )
        native.close()
        other.close()
    return rows


def vector_walker(env, n: int, calls: int) -> Callable[[], None]:
    rng = np.random.default_rng(1)
    env.reset(seed=0)

    def call() -> None:
        for actions in rng.integers(0, 4, size=(calls, n)):
            env.step(actions)

    return call


def same_rollout(a, b, n: int, steps: int = 60) -> tuple[bool, str]:
    """Both vector envs, same seeds and actions (all eight, so episodes end and reset): the
    same images, rewards, terminations and truncations at every step?"""
    rng = np.random.default_rng(2)
    obs_a, _ = a.reset(seed=100)
    obs_b, _ = b.reset(seed=100)
    if not np.array_equal(obs_a, obs_b):
        return False, "reset"
    for t in range(steps):
        actions = rng.integers(0, 8, size=n)
        out_a, out_b = a.step(actions), b.step(actions)
        names = ("image", "reward", "terminated", "truncated")
        for name, x, y in zip(names, out_a[:4], out_b[:4], strict=True):
            if not np.array_equal(x, y):
                return False, f"step {t} ({name})"
    return True, ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/envs.py", description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=4000, help="steps per timed call (4000)")
    parser.add_argument("--repeat", type=int, help="timed rounds (default: 9, or 5 if slow)")
    parser.add_argument("--quick", action="store_true", help="1000 steps, 3 rounds")
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # bench/run.py hands every benchmark the options of all of them
        print(f"bench/envs.py: ignoring {' '.join(unknown)}")
    if args.quick:
        args.steps, args.repeat = min(args.steps, 1000), args.repeat or 3
    if min(args.steps, args.repeat or 1) < 1:
        parser.error("--steps and --repeat must be >= 1")
    try:
        import gymnasium
        import minigrid
    except ImportError as error:
        print(f"bench/envs.py needs MiniGrid (pip install -e '.[bench]'): {error}", file=sys.stderr)
        return 2

    import mmsafe

    global MMSAFE_ENV
    name = MMSAFE_ENV.rsplit("-v", 1)[0] + "-v"
    MMSAFE_ENV = next((i for i in mmsafe.register_envs() if i.startswith(name)), MMSAFE_ENV)
    start = time.perf_counter()
    print(machine([f"gymnasium {gymnasium.__version__}", f"minigrid {minigrid.__version__}"]))
    print(f"maps: mmsafe {MMSAFE_ENV} against MiniGrid {MINIGRID_ENV}, {TILE_PX} px tiles")
    print()
    rows: list[Row] = [*single_rows(args.steps, args.repeat)]
    rows += vector_rows(args.steps, args.repeat, [1, 8, 64])
    return report(rows, NOTES, start)


if __name__ == "__main__":
    sys.exit(main())
