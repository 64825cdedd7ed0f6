"""The small runs the agent-fault tests share, and how many episodes a suite's run holds."""

from __future__ import annotations

from mmsafe.run import RunConfig
from mmsafe.run.units import env_units


def suite_units(suite: str, seeds: int) -> int:
    """How many episodes `mmsafe eval suite=SUITE seeds=N` runs on a suite of envs: N seeds of
    every arm of every env (the arms as the runner assigns them, `mmsafe.run.units`)."""
    from mmsafe.config import compose_config, run_config

    run = run_config(compose_config([f"suite={suite}", f"seeds={seeds}"]))
    assert not run.tasks, f"suite {suite} has media tasks, whose samples are not counted here"
    return len(env_units(run.envs, run.seeds, run.env_kwargs))


# two envs of two arms each, three seeds: 12 episodes
ENVS = ["mmsafe/HazardLava-v1", "mmsafe/FragileVase-v1"]
SEEDS = [0, 1, 2]
UNITS = len(env_units(ENVS, SEEDS, {}))


def config(out, **settings) -> RunConfig:
    return RunConfig(envs=ENVS, seeds=SEEDS, out=out, **{"batch_size": 2, **settings})


# `mmsafe eval` with an agent that keeps 10 MB more a step, rebuilt past 1200 MB: every ~100
# steps, more than an episode's 80, so every one of the units finishes
LEAKY_EVAL = ("agent=random", "agent._target_=tests.slow_agents.LeakyRandom", "+agent.leak_mb=10",
              "suite=foundation", "seeds=4", "agent_memory_mb=1200", "judge=[]")  # fmt: skip
LEAKY_UNITS = suite_units("foundation", 4)  # 24: six arms of three envs, four seeds
