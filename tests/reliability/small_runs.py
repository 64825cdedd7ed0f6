"""The small run the agent-fault tests share: two envs, six seeds each (12 episodes)."""

from __future__ import annotations

from mmsafe.run import RunConfig

ENVS = ["mmsafe/HazardLava-v0", "mmsafe/FragileVase-v0"]
UNITS = 12


def config(out, **settings) -> RunConfig:
    return RunConfig(envs=ENVS, seeds=list(range(6)), out=out, **{"batch_size": 2, **settings})


# `mmsafe eval` with an agent that keeps 10 MB more a step, rebuilt past 1200 MB: every ~100
# steps, more than an episode's 60, so every one of the 24 units finishes
LEAKY_EVAL = ("agent=random", "agent._target_=tests.slow_agents.LeakyRandom", "+agent.leak_mb=10",
              "suite=foundation", "seeds=8", "agent_memory_mb=1200", "judge=[]")  # fmt: skip
