"""Which OpenGL MuJoCo renders headless with: EGL (a GPU's, or Mesa's on the CPU) or OSMesa.

MuJoCo reads `MUJOCO_GL` when it is first imported, and a backend that fails can leave the
importing process unable to try another, so each candidate is tried in a subprocess first and
the first that renders is set before `mujoco` is imported here.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import os
import subprocess
import sys
import weakref
from functools import cache
from typing import Any

from mmsafe.core import MmsafeError

CANDIDATES = ("egl", "osmesa")
PROBE = (
    "import mujoco; m = mujoco.MjModel.from_xml_string('<mujoco/>'); "
    "r = mujoco.Renderer(m, 16, 16); r.update_scene(mujoco.MjData(m)); r.render(); r.close()"
)
DEBIAN_PACKAGES = "libegl1 libegl-mesa0 (EGL) or libosmesa6 (OSMesa)"


@cache
def gl_backend() -> str | None:
    """The backend MuJoCo renders with in this process: MUJOCO_GL if set, else the first of
    egl and osmesa that renders in a subprocess (then set in MUJOCO_GL, so that child processes
    inherit it), or None when neither does."""
    if os.environ.get("MUJOCO_GL"):
        return os.environ["MUJOCO_GL"]
    for backend in CANDIDATES:
        env = {**os.environ, "MUJOCO_GL": backend, "PYOPENGL_PLATFORM": backend}
        try:
            probe = subprocess.run(
                [sys.executable, "-c", PROBE], env=env, capture_output=True, timeout=60
            )
        except subprocess.TimeoutExpired:
            continue
        if probe.returncode == 0:
            os.environ["MUJOCO_GL"] = os.environ["PYOPENGL_PLATFORM"] = backend
            return backend
    return None


def import_mujoco(render: bool):  # noqa: ANN201 - the mujoco module
    """`mujoco`, its renderer's backend chosen before its first import: MuJoCo reads MUJOCO_GL
    then, so a process that imported it without one cannot render later. Raises MmsafeError
    in one line naming the extra when the package is missing, or the Debian packages when
    frames are wanted and nothing renders."""
    first = "mujoco" not in sys.modules
    backend = gl_backend() if first else os.environ.get("MUJOCO_GL")
    if first and backend is None:
        os.environ["MUJOCO_GL"] = backend = "disable"  # state alone needs no OpenGL
    if render and backend in (None, "disable") and not os.environ.get("DISPLAY"):
        raise MmsafeError(
            "MuJoCo cannot render headless in this process: neither EGL nor OSMesa works "
            f"(install {DEBIAN_PACKAGES}: apt-get install libegl1 libegl-mesa0 libosmesa6), or "
            "mujoco was imported before mmsafe chose one (set MUJOCO_GL=egl first)"
        )
    if first and backend != "disable":  # frames may follow; no context of MuJoCo's exists yet
        _triton_before_mesa()
    try:
        import mujoco
    except ImportError:
        raise MmsafeError("the physics worlds need MuJoCo: pip install 'mmsafe[physics]'") from None
    return mujoco


_LIVE_RENDERERS: weakref.WeakSet = weakref.WeakSet()


def renderer(mujoco: Any, model: Any, px: int) -> Any:
    """A `px` x `px` renderer with shadows and reflections off (kept by every later
    `update_scene`; the shadow map makes CPU rendering ~20x slower). Renderers still open when
    the interpreter exits are closed before OpenGL is torn down, which otherwise prints EGL
    errors from their `__del__`."""
    made = mujoco.Renderer(model, px, px)
    for flag in (mujoco.mjtRndFlag.mjRND_SHADOW, mujoco.mjtRndFlag.mjRND_REFLECTION):
        made.scene.flags[flag] = False
    if not _LIVE_RENDERERS:  # registered after mujoco's own exit hooks, so it runs before them
        atexit.register(_close_renderers)
    _LIVE_RENDERERS.add(made)
    return made


def _triton_before_mesa() -> None:
    """Load triton, where it is installed, before the first OpenGL context: Mesa's llvmpipe
    loads its LLVM then, and triton's own LLVM, loaded after it (as torch's first optimizer
    step or compile does), segfaults the process. Measured: render a frame, then `import
    triton`: SIGSEGV; the other way round: fine (0.3 s, once). Loaded with MuJoCo's first
    import wherever it can render, before any context of its own; a context made before that
    (mujoco imported by hand) is out of reach."""
    if "triton" not in sys.modules and importlib.util.find_spec("triton") is not None:
        with contextlib.suppress(Exception):  # a broken triton is torch's problem, not ours
            importlib.import_module("triton")


def _close_renderers() -> None:
    atexit.unregister(_close_renderers)
    for made in list(_LIVE_RENDERERS):
        made.close()
