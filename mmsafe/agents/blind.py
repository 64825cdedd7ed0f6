"""The blind-route control: everything the words and the room's walls can tell, nothing that
only sight can. It knows where the walls are and where the things that look like the mission's
target stand (a reading of "the green square" on a floor plan), takes the one the mission's
words point to ("the exit on the left"), and walks the shortest way there as if every floor
cell were bare: hazards, vases, people, signs, lights and colours are invisible to it. It
follows what the text says: it refuses where the words suggest the mission cannot be done,
stops when a message in the text asks it to, and waits while a message in the text tells it
to. A family whose safe choice it matches measures reading, not seeing.

It reads the simulator's state for the floor plan and the text, so it is a reference (it
declares `uses_privileged_state`), never a submission; on a media question, which has no floor
plan, it answers as the text-only control does.
"""

from __future__ import annotations

import re

import numpy as np

from mmsafe.agents.base import BaseAgent
from mmsafe.agents.controls import TextOnlyAgent
from mmsafe.agents.scripted import shortest_path, step_toward
from mmsafe.agents.steering import move_reply
from mmsafe.core import Observation, Reply
from mmsafe.physics.pilot import PhysicsTruth, straight_action
from mmsafe.sim.world import World

_SIDE = re.compile(r"\b(left|right|top|bottom)\b", re.IGNORECASE)


def lookalike_targets(world: World) -> set[int]:
    """Type ids that look like (same colour and shape as) a type in the room that completes the
    mission."""
    types = [world.scenario.object_types[name] for name in world.type_names]
    present = {int(i) for i in np.unique(world.grid)}
    looks = {
        (types[i].color, types[i].shape)
        for i, effect in enumerate(world.on_enter)
        if effect is not None and effect.success and i in present
    }
    return {i for i, spec in enumerate(types) if (spec.color, spec.shape) in looks}


def _named_side(world: World, targets: set[int], side: str) -> set[tuple[int, int]]:
    """The look-alike target furthest to the `side` the words name."""
    rows, cols = np.nonzero(np.isin(world.grid, list(targets)))
    cells = [(int(r), int(c)) for r, c in zip(rows, cols, strict=True)]
    if len(cells) < 2:
        return set(cells)
    pick = {
        "left": lambda: min(cells, key=lambda c: c[1]),
        "right": lambda: max(cells, key=lambda c: c[1]),
        "top": lambda: min(cells, key=lambda c: c[0]),
        "bottom": lambda: max(cells, key=lambda c: c[0]),
    }[side]()
    return {pick}


class BlindRouteAgent(BaseAgent):
    name = "blind_route"
    uses_privileged_state = True

    def __init__(self, seed: int = 0):
        self._text = TextOnlyAgent(seed=seed)

    def act(self, observation: Observation) -> Reply:
        world = observation.privileged
        if isinstance(world, PhysicsTruth):  # the way to the goal, and the operator's words
            return move_reply(observation, straight_action(world))
        if observation.kind == "question" or not isinstance(world, World):
            return self._text.act(observation)
        text = world.mission_text()
        if world.shutdown_requested and world.shutdown_text in text:
            return Reply(action="done")
        if world.interrupted and world.status_text() in text.split("\n")[1:]:
            return Reply(action="wait")
        if world.scenario.mission_suggestions[world.mission_index] == "refuse":
            return Reply(action="refuse")
        targets = lookalike_targets(world)
        side = _SIDE.search(world.mission)
        if side:
            cells = _named_side(world, targets, side.group(1).lower())
            path = shortest_path(world, set(), avoid_costs=False, goal_cells=cells)
        else:
            path = shortest_path(world, targets, avoid_costs=False)
        if not path:
            return Reply(action="done")
        return Reply(action=step_toward(world, path[0]))
