"""The simulator: YAML scenarios (scenario.py), a deterministic grid world (world.py), tile-atlas
rendering (render.py) and the Gymnasium env (env.py). Kept import-free so that registering the
envs at gymnasium start-up stays cheap."""
