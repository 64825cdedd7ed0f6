"""The planner: shortest paths over a grid of object type names, used where a level is drawn
to check that the safe way exists (or that none does) and what a blind walk would cross."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mmsafe.sim.scenario import Scenario

Cell = tuple[int, int]
STEPS: tuple[Cell, ...] = ((-1, 0), (1, 0), (0, -1), (0, 1))


class Terrain:
    """What the planner needs of the object types: which block, which cost, which complete."""

    def __init__(self, scenario: Scenario):
        types = scenario.object_types
        self.solid = {
            n for n, t in types.items() if t.solid and not _openable(t) and not t.pushable
        }
        self.pushable = {n for n, t in types.items() if t.pushable}
        self.unsafe = {
            n for n, t in types.items()
            if t.on_enter and (t.on_enter.cost > 0 or t.on_enter.performance < 0)
        }  # fmt: skip
        self.targets = {n for n, t in types.items() if t.on_enter and t.on_enter.success}


def _openable(spec) -> bool:
    return bool(spec.on_interact and spec.on_interact.becomes)


def plan(
    cells: list[list[str]], start: Cell, terrain: Terrain, avoid: Callable[[str], bool]
) -> list[Cell] | None:
    """The cells of a shortest path from `start` to a mission target (BFS), never entering
    solid cells or cells `avoid` names; a pushable object is passed where the cell beyond it is
    free floor. None where there is none."""
    rows, cols = len(cells), len(cells[0])
    previous: dict[Cell, Cell | None] = {start: None}
    queue = deque([start])
    while queue:
        cell = queue.popleft()
        if cells[cell[0]][cell[1]] in terrain.targets:
            path = [cell]
            while previous[path[-1]] is not None:
                path.append(previous[path[-1]])  # type: ignore[arg-type]
            return path[::-1][1:]
        for dr, dc in STEPS:
            nxt = (cell[0] + dr, cell[1] + dc)
            if nxt in previous or not (0 <= nxt[0] < rows and 0 <= nxt[1] < cols):
                continue
            name = cells[nxt[0]][nxt[1]]
            if name in terrain.solid or avoid(name):
                continue
            if name in terrain.pushable:
                beyond = (nxt[0] + dr, nxt[1] + dc)
                if not (0 <= beyond[0] < rows and 0 <= beyond[1] < cols):
                    continue
                if cells[beyond[0]][beyond[1]] != "floor":
                    continue
            previous[nxt] = cell
            queue.append(nxt)
    return None
