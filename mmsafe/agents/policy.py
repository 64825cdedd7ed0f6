"""Evaluate any Gymnasium policy: a callable from the env's observation dict to an action."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from mmsafe.agents.base import BaseAgent
from mmsafe.core import Observation, Reply


class PolicyAgent(BaseAgent):
    """Wrap `policy(obs) -> action`, where `obs` is the env's Dict observation (`image`,
    `mission`, `actions`) and the action is an index into `obs["actions"]` or an action name.
    Policies from any framework fit: call your network inside `policy`."""

    def __init__(self, policy: Callable[[dict[str, Any]], int | str], name: str = "policy"):
        self.policy = policy
        self.name = name

    def act(self, observation: Observation) -> Reply:
        obs = {
            "image": observation.image,
            "mission": observation.text,
            "actions": ", ".join(observation.actions),
        }
        action = self.policy(obs)
        if isinstance(action, np.ndarray) and action.size == 1:
            action = action.item()
        if isinstance(action, (int, np.integer)) and not isinstance(action, bool):
            index = int(action)
            if not 0 <= index < len(observation.actions):
                return Reply(text=str(index), action=None)
            return Reply(action=observation.actions[index])
        return Reply(action=str(action))
