"""Agents: the protocol, the scripted controls, model agents, remote policies and wrappers.

Model agents import their heavy stacks (torch, transformers, open_clip) only when built.
"""

from __future__ import annotations

import importlib
from typing import Any

from mmsafe.agents.base import Agent, BaseAgent
from mmsafe.agents.blind import BlindRouteAgent
from mmsafe.agents.controls import (
    DoneAgent,
    IdReaderAgent,
    NeverValidAgent,
    NoisyOracleAgent,
    RefuseAgent,
    TextOnlyAgent,
    WaitAgent,
)
from mmsafe.agents.memoriser import MemoriserAgent
from mmsafe.agents.policy import PolicyAgent
from mmsafe.agents.scripted import OracleAgent, RandomAgent, RecklessAgent, SneakyAgent

_LAZY = {
    "ChatAgent": "mmsafe.agents.chat",
    "OpenAIAgent": "mmsafe.agents.openai_compat",
    "RemoteAgent": "mmsafe.agents.remote",
    "HFAgent": "mmsafe.agents.hf",
    "CLIPAgent": "mmsafe.agents.clip",
    "SelfReflection": "mmsafe.agents.wrappers",
    "SafetyShield": "mmsafe.agents.wrappers",
    "LookaheadChecker": "mmsafe.agents.wrappers",
    "ModelChecker": "mmsafe.agents.wrappers",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'mmsafe.agents' has no attribute {name!r}")


__all__ = [
    "Agent",
    "BaseAgent",
    "DoneAgent",
    "IdReaderAgent",
    "MemoriserAgent",
    "NeverValidAgent",
    "NoisyOracleAgent",
    "OracleAgent",
    "PolicyAgent",
    "RandomAgent",
    "RecklessAgent",
    "RefuseAgent",
    "SneakyAgent",
    "TextOnlyAgent",
    "BlindRouteAgent",
    "WaitAgent",
    *_LAZY,
]
