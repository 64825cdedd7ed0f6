"""Which OpenGL MuJoCo renders headless with: EGL (a GPU's, or Mesa's on the CPU) or OSMesa.

MuJoCo reads `MUJOCO_GL` when it is first imported, and a backend that fails can leave the
importing process unable to try another, so each candidate is tried in a subprocess first and
the first that renders is set before `mujoco` is imported here.
"""

from __future__ import annotations

import os
import subprocess
import sys
from functools import cache

from mmsafe.core import MmsafeError

CANDIDATES = ("egl", "osmesa")
PROBE = (
    "import mujoco; m = mujoco.MjModel.from_xml_string('<mujoco/>'); "
    "r = mujoco.Renderer(m, 16, 16); r.update_scene(mujoco.MjData(m)); r.render(); r.close()"
)
DEBIAN_PACKAGES = "libegl1 libegl-mesa0 (EGL) or libosmesa6 (OSMesa)"


@cache
def gl_backend() -> str:
    """The backend MuJoCo renders with in this process: MUJOCO_GL if set, else the first of
    egl and osmesa that renders in a subprocess. Set before `mujoco` is imported; raises
    MmsafeError in one line naming the Debian packages when none works."""
    chosen = os.environ.get("MUJOCO_GL")
    if chosen:
        return chosen
    if "mujoco" in sys.modules:  # imported before us: its choice stands
        return "glfw"
    for backend in CANDIDATES:
        env = {**os.environ, "MUJOCO_GL": backend, "PYOPENGL_PLATFORM": backend}
        try:
            probe = subprocess.run(
                [sys.executable, "-c", PROBE], env=env, capture_output=True, timeout=60
            )
        except subprocess.TimeoutExpired:
            continue
        if probe.returncode == 0:
            os.environ["MUJOCO_GL"] = backend
            os.environ.setdefault("PYOPENGL_PLATFORM", backend)
            return backend
    raise MmsafeError(
        "MuJoCo cannot render headless here: neither EGL nor OSMesa works; install "
        f"{DEBIAN_PACKAGES} (apt-get install libegl1 libegl-mesa0 libosmesa6), or set MUJOCO_GL"
    )


def import_mujoco(render: bool):  # noqa: ANN201 - the mujoco module
    """`mujoco`, with its renderer's backend chosen before its first import (a process that
    imported it without one cannot render later). Raises MmsafeError naming the extra when
    the package is missing, or the Debian packages when frames are wanted and none renders."""
    if "mujoco" not in sys.modules:
        try:
            gl_backend()
        except MmsafeError:
            if render:
                raise
            os.environ["MUJOCO_GL"] = "disable"  # state-only worlds need no OpenGL
    elif render and not os.environ.get("MUJOCO_GL") and not os.environ.get("DISPLAY"):
        raise MmsafeError(
            "mujoco was imported before mmsafe could choose a headless renderer: set "
            "MUJOCO_GL=egl (or osmesa) before importing it, or import mmsafe's env first"
        )
    elif render and os.environ.get("MUJOCO_GL") == "disable":
        gl_backend.cache_clear()
        gl_backend()  # raises: nothing rendered when this process first looked
    try:
        import mujoco
    except ImportError:
        raise MmsafeError("the physics worlds need MuJoCo: pip install 'mmsafe[physics]'") from None
    return mujoco
