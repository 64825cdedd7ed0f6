"""Benchmark the MuJoCo physics worlds against bare MuJoCo doing the same simulation work.

    python bench/physics.py               # point and car at level 2, 3 rows each (~4 min, 2 cores)
    python bench/physics.py --quick       # 200 steps a call (50 with frames), 3 rounds (~30 s)
    python bench/physics.py --steps 2400 --repeat 9

Rows: `gym.make("mmsafe/Safe{Point,Car}Goal2-v0")` (state only), and its `...Vision-v0` with
64x64 and 224x224 camera frames, each stepping a seeded walk of random actions (`reset(seed=0)`
at the start of each call, a reset whenever an episode ends), against bare MuJoCo on the env's
own compiled model: the same `frame_skip` `mj_step` calls per env step from the same states
(each state the env reset to is put back with `mj_setState`) and, with frames, the same
`mujoco.Renderer` render of camera "vision" at the same size, shadows and reflections off; no
contacts loop, events, lidar or observation. The goal is env/bare >= 0.8. Check: both end in
the same qpos (and frame). One cProfile'd env call per row shows where the rest goes. A row
against MiniWorld runs where `miniworld` imports. The header names the GL backend and OpenGL
renderer (llvmpipe: Mesa on the CPU); with MUJOCO_GL=egl on an NVIDIA GPU the same rows run there.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
from _harness import Row, Rows, machine, nothing, report, same, timed  # noqa: E402

GOAL = 0.8  # env steps/s over bare MuJoCo's, the target
SEED = 0
TOP = 4  # costs shown per row
FRAME_SHARE = 4  # frame rows run --steps / 4 steps a call: a render costs several env steps
NOTES = f"""\
ms: median time of one call (--steps env steps, a quarter of them for frame rows). peer/mm:
median over rounds of bare time / env time in the same round, i.e. env steps/s over bare
steps/s (1.00: the env adds nothing; the goal is {GOAL}x); range: lowest-highest round ratio;
n: timed rounds."""
COSTS = """\
Where the rest goes, us per env step: the gap (env - bare, median over rounds); under cProfile, the
env's time outside mj_step and the render, then the functions with the most own time there
(callees apart) and their share of it (cProfile slows Python calls more than C calls):"""


def walk(env: Any, actions: np.ndarray) -> Callable[[], tuple[np.ndarray | None, Any]]:
    """An env call: reset(seed), step through `actions`, reset when an episode ends (not after
    the last step); returns the final qpos and frame."""

    def call() -> tuple[np.ndarray | None, Any]:
        env.reset(seed=SEED)
        last = len(actions) - 1
        obs = None
        for t, action in enumerate(actions):
            obs, _, terminated, truncated, _ = env.step(action)
            if (terminated or truncated) and t < last:
                env.reset()
        data = getattr(env.unwrapped, "data", None)  # MuJoCo's (MiniWorld has none)
        qpos = None if data is None else data.qpos.copy()
        return qpos, obs["image"] if isinstance(obs, dict) else None

    return call


def bare(mj: Any, env: Any, actions: np.ndarray, px: int | None) -> tuple[Callable, Any]:
    """The bare call on the env's model, and its renderer (to close): the env's mj_step calls
    (and render) from the env's states after each reset, recorded here by stepping the env."""
    inner, spec = env.unwrapped, mj.mjtState.mjSTATE_INTEGRATION.value
    model, data, skip = inner.model, mj.MjData(inner.model), inner.task.frame_skip

    def state() -> np.ndarray:
        out = np.empty(mj.mj_stateSize(model, spec))
        mj.mj_getState(model, inner.data, out, spec)
        return out

    env.reset(seed=SEED)
    starts = {-1: state()}  # -1: after reset(seed); t: after the reset that followed step t
    for t, action in enumerate(actions[:-1]):
        if any(env.step(action)[2:4]):
            env.reset()
            starts[t] = state()
    renderer = None
    if px:  # as the env's: shadows and reflections off
        renderer = mj.Renderer(model, px, px)
        for flag in (mj.mjtRndFlag.mjRND_SHADOW, mj.mjtRndFlag.mjRND_REFLECTION):
            renderer.scene.flags[flag] = False
    step, set_state = mj.mj_step, mj.mj_setState

    def call() -> tuple[np.ndarray, Any]:
        set_state(model, data, starts[-1], spec)
        frame = None
        for t, action in enumerate(actions):
            data.ctrl[:] = action
            for _ in range(skip):
                step(model, data)
            if renderer is not None:
                renderer.update_scene(data, camera="vision")
                frame = renderer.render()
            if t in starts:
                set_state(model, data, starts[t], spec)
        return data.qpos.copy(), frame

    return call, renderer


def profile(call: Callable[[], Any], gap_us: float, steps: int) -> str:
    """One cProfile'd call: the TOP functions by own time outside the bare work (mj_step, the
    Renderer's update_scene and render, and what only they call), in us per env step."""
    profiler = cProfile.Profile()
    profiler.runcall(call)
    entries = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    inside = {  # the Renderer's methods: in mujoco/renderer.py or mujoco/rendering/...
        k
        for k in entries
        if k[2] == "<built-in method mujoco._functions.mj_step>"
        or (k[2] in ("render", "update_scene") and "mujoco" in Path(k[0]).parts)
    }
    while more := {
        k for k, v in entries.items() if k not in inside and v[4] and set(v[4]) <= inside
    }:
        inside |= more
    own = {  # a function also called from the bare work: the env's calls only
        key: sum(v[2] for c, v in callers.items() if c not in inside) if callers else tottime
        for key, (_, _, tottime, _, callers) in entries.items()
        if key not in inside
    }
    total = sum(own.values())
    parts = []
    for key, seconds in sorted(own.items(), key=lambda kv: -kv[1])[:TOP]:
        name = key[2] if key[0] == "~" else f"{Path(key[0]).stem}.{key[2]}"
        parts.append(f"{name} {seconds / steps * 1e6:.0f} ({seconds / total:.0%})")
    return f"gap {gap_us:.0f}; profiled {total / steps * 1e6:.0f}: " + ", ".join(parts)


def physics_rows(mj: Any, steps: int, repeat: int | None) -> tuple[Rows, list[str]]:
    import gymnasium as gym

    actions = np.random.default_rng(SEED).uniform(-1, 1, (steps, 2)).astype(np.float32)
    rows, costs = Rows("physics"), []
    for robot in ("Point", "Car"):
        for px in (None, 64, 224):
            n = steps if px is None else max(1, steps // FRAME_SHARE)
            env_id = f"mmsafe/Safe{robot}Goal2{'Vision' if px else ''}-v0"
            env = gym.make(env_id, **({"image_px": px} if px else {}))
            mm = walk(env, actions[:n])
            peer, renderer = bare(mj, env, actions[:n], px)
            timings = timed({"mm": mm, "peer": peer}, repeat, nothing)
            (q_env, f_env), (q_bare, f_bare) = timings.first["mm"], timings.first["peer"]
            check, ok = same(q_env, q_bare)
            if px:
                frame_check, frame_ok = same(f_env, f_bare)
                check, ok = f"qpos {check}, frame {frame_check}", ok and frame_ok
            env_s, bare_s = statistics.median(timings["mm"]), statistics.median(timings["peer"])
            gap = float(np.median(np.subtract(timings["mm"], timings["peer"])))  # paired rounds
            case = f"{robot.lower()} {f'{px}x{px} frames' if px else 'state'}"
            mm_name, peer_name = f"env {n / env_s:,.0f} steps/s", f"bare {n / bare_s:,.0f} steps/s"
            rows.add(case, mm_name, timings["mm"], peer_name, timings["peer"], check, ok)
            costs.append(f"{case}: " + profile(mm, gap / n * 1e6, n))
            env.close()
            if renderer is not None:
                renderer.close()
    return rows, costs


def miniworld_rows(steps: int, repeat: int | None) -> tuple[Rows, str]:
    """mmsafe's point robot with 64x64 frames against MiniWorld's OneRoom at 64x64."""
    rows, steps = Rows("physics"), max(1, steps // FRAME_SHARE)
    try:
        import os

        import gymnasium as gym

        if not os.environ.get("DISPLAY"):  # no X server: MiniWorld's pyglet renders through EGL
            import pyglet

            pyglet.options["headless"] = True
        import miniworld  # noqa: F401 - registers MiniWorld's envs

        theirs = gym.make("MiniWorld-OneRoom-v0", obs_width=64, obs_height=64)
        ours = gym.make("mmsafe/SafePointGoal2Vision-v0", image_px=64)
        actions = np.random.default_rng(SEED).uniform(-1, 1, (steps, 2)).astype(np.float32)
        moves = np.random.default_rng(SEED).integers(0, 3, steps)  # turn left/right, forward
        timings = timed({"mm": walk(ours, actions), "peer": walk(theirs, moves)}, repeat, nothing)
    except Exception as error:  # not installed (no network here), or no GL context for it
        return rows, f"MiniWorld row skipped: {type(error).__name__}: {error}"
    mm_rate, peer_rate = (steps / statistics.median(timings[k]) for k in ("mm", "peer"))
    names = f"env {mm_rate:,.0f} steps/s", f"MiniWorld OneRoom {peer_rate:,.0f} steps/s"
    rows.add("vs MiniWorld 64 px", names[0], timings["mm"], names[1], timings["peer"], "RGB 64x64")
    ours.close()
    theirs.close()
    return rows, "MiniWorld row: peer/mm above 1 means mmsafe is faster."


def gl_renderer(mj: Any) -> str:
    """The OpenGL renderer (llvmpipe: Mesa on the CPU; NVIDIA ...: a GPU), or `unknown`."""
    try:
        from OpenGL import GL

        with mj.Renderer(mj.MjModel.from_xml_string("<mujoco/>"), 16, 16):  # context current
            return GL.glGetString(GL.GL_RENDERER).decode()
    except Exception as error:
        return f"unknown ({type(error).__name__})"


def verdict(row: Row) -> str:
    """Whether a row meets the goal (at the ratio's shown precision), and in how many rounds."""
    spread = f"rounds {min(row.ratios):.2f}-{max(row.ratios):.2f}"
    if round(row.ratio, 2) >= GOAL:
        return f"{row.case}: {row.ratio:.2f}x bare, meets the {GOAL}x goal ({spread})"
    every = "in every round" if max(row.ratios) < GOAL else "but not in every round"
    return f"{row.case}: {row.ratio:.2f}x bare, BELOW the {GOAL}x goal {every} ({spread})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/physics.py", description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=1200, help="env steps a call (1200)")
    parser.add_argument("--repeat", type=int, help="timed rounds (default: 9, or 5 if slow)")
    parser.add_argument("--quick", action="store_true", help="200 steps, 3 rounds")
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # bench/run.py hands every benchmark the options of all of them
        print(f"bench/physics.py: ignoring {' '.join(unknown)}")
    if args.quick:
        args.steps, args.repeat = min(args.steps, 200), args.repeat or 3
    if min(args.steps, args.repeat or 1) < 1:
        parser.error("--steps and --repeat must be >= 1")
    try:
        import gymnasium

        import mmsafe
        from mmsafe.physics.backend import gl_backend, import_mujoco

        mj = import_mujoco(render=True)  # sets MUJOCO_GL before mujoco's first import
    except Exception as error:
        print(f"bench/physics.py needs MuJoCo that renders (mmsafe[physics]): {error}")
        return 2
    mmsafe.register_envs()
    start = time.perf_counter()
    print(machine([f"gymnasium {gymnasium.__version__}", f"mujoco {mj.__version__}"]))
    print(f"GL backend: {gl_backend()} ({gl_renderer(mj)}); robots at level 2, seed {SEED}")
    print()
    rows, costs = physics_rows(mj, args.steps, args.repeat)
    peer_rows, peer_note = miniworld_rows(args.steps, args.repeat)
    notes = [NOTES, "", *map(verdict, rows), "", COSTS, *costs, "", peer_note]
    return report([*rows, *peer_rows], "\n".join(notes), start)


if __name__ == "__main__":
    sys.exit(main())
