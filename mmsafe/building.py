"""Agents and judges built from their config sections (`_target_` plus keyword arguments), with
the wrappers `reflect` and `shield` asked for; a `_target_` module is looked up from the
current directory too. Every failure is one line."""

from __future__ import annotations

import os
import re
import sys
from typing import Any

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from mmsafe.agents.base import Agent
from mmsafe.core import MmsafeError
from mmsafe.plan import AgentPlan
from mmsafe.sim.world import ACTIONS


def import_from_cwd(folder: str | None = None) -> None:
    """Let `_target_=mypkg.MyAgent` find mypkg in the current directory, as `python -m` would:
    the `mmsafe` script alone looks only in PYTHONPATH and the installed packages. A Ray worker
    passes the driver's directory (`agent_spec`'s cwd), as its own may be elsewhere."""
    folder = os.path.abspath(folder or os.getcwd())
    if folder not in sys.path:  # last: a stray transformers.py here must not shadow the library
        sys.path.append(folder)


def _why_not(error: Exception) -> str:
    """Why Hydra could not instantiate a `_target_`, in one line. A module that is nowhere says
    where it was looked for; Hydra's own text asks whether it is installed."""
    target = re.search(r"Error loading '([^']+)'", str(error.__cause__ or error))
    cause: BaseException | None = error
    while cause is not None and not isinstance(cause, ModuleNotFoundError):
        cause = cause.__cause__ or cause.__context__
    if target and cause is not None and cause.name:
        module, _, leaf = cause.name.rpartition(".")
        if module in sys.modules:  # found, but without the name asked for
            return f"{module} ({getattr(sys.modules[module], '__file__', '?')}) has no '{leaf}'"
        if f"{target.group(1)}.".startswith(f"{cause.name}."):  # the target's own module
            return (
                f"no module '{cause.name}' (for {target.group(1)}); modules are looked up "
                f"from the current directory ({os.getcwd()}) and PYTHONPATH"
            )
        return f"loading {target.group(1)}: no module named '{cause.name}' (not installed?)"
    return _one_line(str(error.__cause__ or error))


def make_agent(spec: dict[str, Any] | DictConfig) -> Agent:
    """Build the agent a config section names (`_target_` plus keyword arguments)."""
    if OmegaConf.is_config(spec):
        from mmsafe.plan import _section

        spec = _section(spec, "agent")
    spec = dict(spec)
    name = spec.pop("name", None) or "agent"
    import_from_cwd()
    try:
        agent = instantiate(spec, _convert_="all")
    except Exception as error:
        raise MmsafeError(f"cannot create agent '{name}': {_why_not(error)}") from None
    agent.name = name
    if not hasattr(agent, "act_batch"):
        raise MmsafeError(
            f"agent '{name}' ({type(agent).__name__}) has no act_batch(); subclass BaseAgent"
        )
    return agent


def build_agent(plan: AgentPlan | DictConfig) -> Agent:
    """The planned agent (`mmsafe.plan.AgentPlan`; a composed config is resolved first),
    wrapped in self-reflection and a safety shield when asked for."""
    from mmsafe.agents.wrappers import LookaheadChecker, ModelChecker, SafetyShield, SelfReflection

    if not isinstance(plan, AgentPlan):
        from mmsafe.plan import agent_plan

        plan = agent_plan(plan)
    reflect, shield = plan.reflect or {}, plan.shield or {}
    for key, section in (("reflect.rounds", reflect), ("shield.retries", shield)):
        value = section.get(key.split(".")[1])
        if value is not None and (type(value) is not int or value < 0):
            raise MmsafeError(f"{key} must be a whole number >= 0, not {value!r}")
    agent = make_agent(plan.agent)
    if reflect.get("rounds"):
        critic = make_agent(reflect["critic"]) if reflect.get("critic") else None
        agent = SelfReflection(agent, rounds=int(reflect["rounds"]), critic=critic)
    if shield.get("checker"):
        if shield["checker"] == "lookahead":
            checker = LookaheadChecker()
        elif shield["checker"] == "model":
            judge = make_agent(shield["model"]) if shield.get("model") else _innermost(agent)
            checker = ModelChecker(judge)
        else:
            raise MmsafeError(
                f"unknown shield.checker '{shield['checker']}'; choose lookahead, model or null"
            )
        fallback = shield.get("fallback")
        if fallback is not None and fallback not in ACTIONS:  # a typo would void every veto
            raise MmsafeError(
                f"shield.fallback {fallback!r} is not an action; choose one of "
                f"{', '.join(ACTIONS)} or null"
            )
        name = agent.name
        agent = SafetyShield(agent, checker, int(shield["retries"]), fallback)
        agent.name = name
    return agent


def build_judges(specs: dict[str, dict[str, Any]] | DictConfig) -> list:
    """The judges of `mmsafe.plan.judge_specs` (a composed config's `judge=...` is read
    first), each `_target_` plus keyword arguments, in config order."""
    from mmsafe.judges.base import Judge

    if OmegaConf.is_config(specs):
        from mmsafe.plan import judge_specs

        specs = judge_specs(specs)
    judges = []
    for name, spec in specs.items():
        import_from_cwd()
        try:
            judge = instantiate(spec, _convert_="all")
        except Exception as error:
            raise MmsafeError(f"cannot create judge '{name}': {_why_not(error)}") from None
        if not isinstance(judge, Judge):
            raise MmsafeError(f"judge '{name}' ({type(judge).__name__}) is not a mmsafe Judge")
        judge.name = str(name)
        judges.append(judge)
    return judges


def _innermost(agent: Agent) -> Agent:
    while hasattr(agent, "agent"):
        agent = agent.agent
    return agent


def _one_line(text: str, limit: int = 300) -> str:
    joined = " ".join(line.strip() for line in text.splitlines() if line.strip())
    return joined if len(joined) <= limit else joined[: limit - 3] + "..."
