"""Agents used by the CLI tests through `agent._target_=tests.slow_agents.<Name>`."""

from __future__ import annotations

import time

from mmsafe.agents import RandomAgent


class SlowRandom(RandomAgent):
    """A random walker that takes a little time per step, so a test can kill a run mid-way."""

    def act(self, observation):
        time.sleep(0.002)
        return super().act(observation)
