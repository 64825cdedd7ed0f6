"""Register mmsafe's envs whenever `gymnasium.envs` is imported, without importing mmsafe.

Gymnasium >= 1.0 removed the `gymnasium.envs` entry-point plugin loader, so
`gymnasium.make("mmsafe/HazardLava-v1")` would otherwise need `import mmsafe` first. The
`mmsafe-gymnasium.pth` file imports this module at interpreter start-up; it only installs a
finder that waits for `gymnasium.envs` and costs nothing else. Set MMSAFE_NO_GYMNASIUM_HOOK=1
to turn it off.
"""

import importlib.machinery
import os
import sys
import warnings

_TARGET = "gymnasium.envs"


class _RegisterAfterGymnasiumEnvs:  # a meta-path finder; importlib.abc would cost 17 ms a start
    def find_spec(self, fullname, path, target=None):
        if fullname != _TARGET:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return spec
        original_exec = spec.loader.exec_module

        def exec_module(module):
            original_exec(module)
            if "mmsafe.sim.registration" in sys.modules:
                return  # mmsafe itself is importing gymnasium; it registers its envs next
            try:
                from mmsafe.sim.registration import register_envs

                register_envs()
            except Exception as error:  # never break gymnasium because of us
                warnings.warn(f"mmsafe could not register its envs: {error}", stacklevel=2)

        spec.loader.exec_module = exec_module
        return spec


if not os.environ.get("MMSAFE_NO_GYMNASIUM_HOOK") and _TARGET not in sys.modules:
    sys.meta_path.insert(0, _RegisterAfterGymnasiumEnvs())
