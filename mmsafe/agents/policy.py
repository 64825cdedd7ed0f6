"""Evaluate any Gymnasium policy: a callable from the env's observation dict to an action.

A run directory resumes only a run of the same agent, so a `PolicyAgent` has a fingerprint: a
digest of what decides its actions (see `PolicyAgent.fingerprint`). A policy whose parameters
and code cannot be read (a C builtin, a callable object of a library class) needs a `version`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from mmsafe.agents.base import BaseAgent
from mmsafe.agents.fingerprint import PolicyDigest, owner_name
from mmsafe.core import Observation, Reply


class PolicyAgent(BaseAgent):
    """Wrap `policy(obs) -> action`, where `obs` is the env's Dict observation (`image`,
    `mission`, `actions`) and the action is an index into `obs["actions"]` or an action name.
    On an env with continuous control (`control=continuous`) the action is a command instead:
    a sequence or array of one number per dimension (a 3-D scenario's `speed, turn`), or one of
    the words in `obs["actions"]`. Policies from any framework fit: call your network inside
    `policy`.

    `fingerprint()` digests the policy's parameters (a torch module, an object with
    `state_dict()`, a Stable-Baselines3 model, numpy arrays) and its own Python code, looked
    for on the policy, on the object of a bound method (`model.predict`), and in a function's
    defaults, closure and the module-level values it names; a run only resumes with the same
    digest. State the digest cannot read (a scikit-learn model, a file the policy opens) is not
    covered: then pass `version`, a string you change whenever the policy changes. A policy with
    nothing to digest at all needs one."""

    def __init__(
        self,
        policy: Callable[[dict[str, Any]], int | str],
        name: str = "policy",
        version: str | None = None,
    ):
        if version is not None and (not isinstance(version, str) or not version.strip()):
            raise ValueError(f'version must be a non-empty string such as "v1", not {version!r}')
        self.policy = policy
        self.name = name
        self.version = version
        if version is None and not PolicyDigest(probe=True).policy(policy).found:
            raise ValueError(
                f"PolicyAgent cannot fingerprint {owner_name(policy)}: it has no parameters "
                "(torch module, state_dict, numpy arrays) or Python code of its own to digest; "
                'pass version="..." (a string you change whenever the policy changes)'
            )

    def fingerprint(self) -> dict[str, str]:
        """`policy`: the module.qualname of the policy (or of its owner's class); `parameters`:
        a sha256 of its parameters and code, where it has any; `version`: where given."""
        digest = PolicyDigest().policy(self.policy)
        out = {"policy": owner_name(self.policy)}
        if digest.found:
            out["parameters"] = digest.hexdigest()
        if self.version is not None:
            out["version"] = self.version
        return out

    def act(self, observation: Observation) -> Reply:
        obs = {
            "image": observation.image,
            "mission": observation.text,
            "actions": ", ".join(observation.actions)
            if observation.control is None
            else observation.control.summary(observation.actions),
        }
        action = self.policy(obs)
        if hasattr(action, "detach"):  # a torch tensor, gradients and device and all
            action = action.detach().cpu().numpy()
        if isinstance(action, np.ndarray) and action.dtype.kind in "US" and action.size == 1:
            action = str(action.item())  # a word in an array
        if observation.control is not None and not isinstance(action, str):
            return _command_reply(action, len(observation.control.names))
        if isinstance(action, np.ndarray) and action.size == 1:
            action = action.item()
        if isinstance(action, (int, np.integer)) and not isinstance(action, bool):
            index = int(action)
            if not 0 <= index < len(observation.actions):
                return Reply(text=str(index), action=None)
            return Reply(action=observation.actions[index])
        return Reply(action=str(action))


def _command_reply(action: Any, size: int) -> Reply:
    """A policy's continuous command as a reply; the runner checks its size and values."""
    try:
        values = np.asarray(action, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        return Reply(text=repr(action)[:200], error=f"not a command of {size} numbers: {action!r}")
    return Reply(control=tuple(float(v) for v in values))
