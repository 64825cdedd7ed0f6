"""The configuration, resolved once: what a run is, as typed data.

Hydra composes the config (`mmsafe.config.compose_config`); `resolve` reads it, once, before
anything runs, into an `EvalPlan`: the run (`RunConfig`: envs, seeds, media tasks, limits,
videos), where each env comes from (`EnvSource`: a grid scenario, a 3-D scenario or a user's
Gymnasium env), where the agent runs (`RunnerConfig`), the agent and its wrappers as plain data
(`AgentPlan`, built in this process or on a Ray worker), the judges, and what the run directory
records. The builders (`mmsafe.building`), the pools, the runner and the rollouts receive these;
none of them reads Hydra's config.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from omegaconf import DictConfig, OmegaConf

from mmsafe.core import MmsafeError
from mmsafe.run.distributed import RunnerConfig
from mmsafe.run.runner import RunConfig
from mmsafe.sources import EnvSource, env_source


@dataclass(frozen=True)
class AgentPlan:
    """The agent as plain data: its config section (`_target_` and arguments, resolved), the
    self-reflection and shield wrappers' sections, the directory its own modules are imported
    from, and what identifies its answers in the run directory."""

    agent: dict[str, Any]
    reflect: dict[str, Any] | None = None
    shield: dict[str, Any] | None = None
    cwd: str = field(default_factory=os.getcwd)
    identity: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return str(self.agent.get("name") or "agent")


@dataclass(frozen=True)
class EvalPlan:
    run: RunConfig
    sources: tuple[EnvSource, ...]
    runner: RunnerConfig
    agent: AgentPlan
    judges: dict[str, dict[str, Any]]  # name -> `_target_` and arguments, in config order
    suite: str
    progress: bool
    resolved: dict[str, Any]  # the whole config, as the run directory's config.yaml keeps it


def resolve(cfg: DictConfig) -> EvalPlan:
    """Everything `mmsafe eval` needs from a composed config; bad values are one-line errors."""
    from mmsafe.config import run_config, runner_config

    run = run_config(cfg)
    return EvalPlan(
        run=run,
        sources=tuple(env_source(env_id) for env_id in run.envs),
        runner=runner_config(cfg),
        agent=agent_plan(cfg),
        judges=judge_specs(cfg),
        suite=str(cfg.suite.name),
        progress=bool(cfg.get("progress", True)),
        resolved=OmegaConf.to_container(cfg, resolve=True),  # type: ignore[arg-type]
    )


def agent_plan(cfg: DictConfig) -> AgentPlan:
    """The `agent`, `reflect` and `shield` sections, checked and resolved against the whole
    config (so that ${...} to other settings survive a trip to a Ray worker)."""
    from mmsafe.config import agent_identity

    agent = _section(cfg.agent, "agent")
    for key, inner in (("reflect", "critic"), ("shield", "model")):  # agents of their own
        section = cfg.get(key)
        if section is not None and section.get(inner) is not None:
            _missing(section.get(inner), "agent")
    reflect, shield = _plain(cfg.get("reflect")), _plain(cfg.get("shield"))
    return AgentPlan(agent, reflect, shield, os.getcwd(), agent_identity(cfg))


def judge_specs(cfg: DictConfig) -> dict[str, dict[str, Any]]:
    """The judges `judge=...` names, each its `_target_` and arguments, in config order."""
    node = cfg.get("judge")
    if not node:
        return {}
    if not OmegaConf.is_dict(node):
        raise MmsafeError(f"judge must name judges (judge=[events,refusal]), not {node!r}")
    specs = {}
    for name, spec in node.items():
        if not OmegaConf.is_dict(spec) or "_target_" not in spec:
            raise MmsafeError(f"judge.{name} needs a _target_ (see mmsafe/conf/judge/)")
        specs[str(name)] = _section(spec, f"judge '{name}'", prefix=f"judge.{name}.")
    return specs


def _section(node: Any, what: str, prefix: str = "agent.") -> dict[str, Any]:
    _missing(node, what, prefix)
    return OmegaConf.to_container(node, resolve=True)  # type: ignore[return-value]


def _missing(node: Any, what: str, prefix: str = "agent.") -> None:
    if not OmegaConf.is_config(node):
        return
    missing = sorted(OmegaConf.missing_keys(node))
    if missing:
        who = f"agent '{node.get('name') or 'agent'}'" if what == "agent" else what
        needed = " ".join(f"{prefix}{key.removeprefix(prefix)}=..." for key in missing)
        raise MmsafeError(f"{who} needs {needed}")


def _plain(node: Any) -> dict[str, Any] | None:
    if node is None:
        return None
    if OmegaConf.is_config(node):
        return OmegaConf.to_container(node, resolve=True)  # type: ignore[return-value]
    return dict(node)
