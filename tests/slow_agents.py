"""Agents used by the CLI tests through `agent._target_=tests.slow_agents.<Name>`, and a slow
judge through `judge.events._target_=tests.slow_agents.SlowEvents`."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

from mmsafe.agents import RandomAgent
from mmsafe.judges.env import EnvEventsJudge


class SlowRandom(RandomAgent):
    """A random walker that takes a little time per step, so a test can kill a run mid-way."""

    def act(self, observation):
        time.sleep(0.002)
        return super().act(observation)


HOARD: list = []  # what GlobalLeakyRandom leaks: outside the agent, so rebuilding it frees nothing


class LeakyRandom(RandomAgent):
    """A random walker that keeps `leak_mb` MB more after every act_batch call and never lets
    go, as an agent with an ever-growing history or cache does. Each one built leaves a file in
    the folder `births`, if given, so a test can count rebuilds across processes."""

    def __init__(self, *args, leak_mb: int = 50, births: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.leak_mb, self.hoard = leak_mb, []
        if births:
            Path(births, f"{os.getpid()}-{uuid.uuid4().hex}").touch()

    def act_batch(self, observations):
        self.hoard.append(bytearray(b"\1") * (self.leak_mb * 2**20))  # touched: resident
        return super().act_batch(observations)


class GlobalLeakyRandom(LeakyRandom):
    def act_batch(self, observations):
        HOARD.append(bytearray(b"\1") * (self.leak_mb * 2**20))
        return RandomAgent.act_batch(self, observations)


class Unreachable(RandomAgent):
    """An agent whose server is down: every call fails."""

    def act_batch(self, observations):
        raise ConnectionError("connection refused by localhost:9")


class DownWhileFlagged(RandomAgent):
    """A random walker whose server is down while the file `flag` exists."""

    def __init__(self, *args, flag: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.flag = flag

    def act_batch(self, observations):
        if self.flag and os.path.exists(self.flag):
            raise ConnectionError("connection refused by localhost:9")
        return super().act_batch(observations)


class SlowEvents(EnvEventsJudge):
    """The events judge taking a little time per item and judging 4 at a time, so that a test
    can stop a run while it judges."""

    batch_size = 4

    def judge(self, items):
        time.sleep(0.03 * len(items))
        return super().judge(items)
