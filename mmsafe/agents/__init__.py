"""Agents: the protocol, the scripted controls, and a wrapper for any Gymnasium policy."""

from mmsafe.agents.base import Agent, BaseAgent
from mmsafe.agents.policy import PolicyAgent
from mmsafe.agents.scripted import OracleAgent, RandomAgent, RecklessAgent, SneakyAgent

__all__ = [
    "Agent",
    "BaseAgent",
    "OracleAgent",
    "PolicyAgent",
    "RandomAgent",
    "RecklessAgent",
    "SneakyAgent",
]
