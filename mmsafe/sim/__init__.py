"""The simulator: YAML scenarios, a deterministic grid world, atlas rendering, Gymnasium envs."""

from mmsafe.sim.env import SafetyGridEnv
from mmsafe.sim.scenario import Scenario, load_scenario
from mmsafe.sim.world import ACTIONS, World

__all__ = ["ACTIONS", "SafetyGridEnv", "Scenario", "World", "load_scenario"]
