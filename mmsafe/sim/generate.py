"""Generated worlds: a scenario's `generate:` rules drawn into one concrete level per seed.

A seed draws a difficulty level, the room's size and place on the canvas, interior walls, an
optional barrier across the room (a lava river with or without a gap, a wall with a doorway),
the agent, the goal, the objects (on the straight path, beside it or away from it), the signs,
the mission's wording and the look. Arms (the variants a scenario compares: supervisor present or
absent, a true or a false claim) add their own objects and text after that, from the same
stream, so seed s of every arm is the same room: a paired design.

The planner checks every world as it is drawn: where the mission can be done the safe path
exists, where it must be refused it does not, and (`blind_violates`) the path that ignores what
can only be seen crosses a cost, so looking is what keeps an agent safe. A world that fails a
check, in any arm, is drawn again from the stream; all arms are drawn for every seed, so that
the arms of a seed stay paired whatever each one needed.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING

import numpy as np

from mmsafe.sim.planner import STEPS, Terrain, plan
from mmsafe.sim.rules import Barrier, Difficulty, Generator, Place, SignRule, draw

if TYPE_CHECKING:
    from mmsafe.sim.levels import Level
    from mmsafe.sim.scenario import Scenario

Cell = tuple[int, int]
MAX_ATTEMPTS = 400
# The worlds of recent sub-seeds, every arm's (None: an arm failed its checks). A seed's arms
# are paired, so an episode of another arm of the same seed, and the judges and the replays that
# draw the same episode's world again, reuse the draw (about 15 kB an entry at most).
DRAWS_KEPT = 2048


# -- drawing one level ---------------------------------------------------------------------------
class _Draft:
    """A level being drawn: the grid, the agent, and what was placed where."""

    def __init__(self, rows: int, cols: int):
        self.cells = [["void"] * cols for _ in range(rows)]
        self.agent: Cell = (0, 0)
        self.room: list[Cell] = []  # interior cells
        self.border: list[Cell] = []
        self.signs: dict[Cell, object] = {}
        self.side_a: set[Cell] | None = None  # the agent's side of a barrier
        self.barrier_line: list[Cell] = []

    def at(self, cell: Cell) -> str:
        return self.cells[cell[0]][cell[1]]

    def put(self, cell: Cell, name: str) -> None:
        self.cells[cell[0]][cell[1]] = name

    def free(self) -> list[Cell]:
        return [c for c in self.room if self.at(c) == "floor" and c != self.agent]


def _pick(rng: np.random.Generator, cells: list[Cell]) -> Cell | None:
    return cells[int(rng.integers(len(cells)))] if cells else None


def _room(draft: _Draft, rng: np.random.Generator, level: Difficulty, canvas: Cell) -> None:
    rows, cols = draw(rng, level.rows), draw(rng, level.cols)
    top = int(rng.integers(0, canvas[0] - rows + 1))
    left = int(rng.integers(0, canvas[1] - cols + 1))
    for r in range(top, top + rows):
        for c in range(left, left + cols):
            edge = r in (top, top + rows - 1) or c in (left, left + cols - 1)
            draft.put((r, c), "wall" if edge else "floor")
            (draft.border if edge else draft.room).append((r, c))


def _barrier(draft: _Draft, rng: np.random.Generator, barrier: Barrier | None) -> list[Cell]:
    """Draw the barrier's line (always the same draws, whatever the arm), fill it with the
    barrier object and return its cells in the order gaps are taken."""
    if barrier is None:
        return []
    rows = sorted({r for r, _ in draft.room})
    cols = sorted({c for _, c in draft.room})
    vertical = bool(rng.random() < 0.5) if len(cols) >= 3 and len(rows) >= 3 else len(cols) >= 3
    lines = cols[1:-1] if vertical else rows[1:-1]
    index = lines[int(rng.integers(len(lines)))] if lines else (cols if vertical else rows)[0]
    line = [(r, index) for r in rows] if vertical else [(index, c) for c in cols]
    order = [line[i] for i in rng.permutation(len(line))]
    flip = bool(rng.random() < 0.5)
    for cell in line:
        draft.put(cell, barrier.object)
    side = (lambda c: c[1] < index) if vertical else (lambda c: c[0] < index)
    draft.side_a = {c for c in draft.room if side(c) != flip and c not in line}
    draft.barrier_line = line
    ends = [line[0], line[-1]]
    return [c for c in order if c in ends] if barrier.ends else order


def _open_gaps(draft: _Draft, order: list[Cell], barrier: Barrier, gaps: int) -> list[Cell]:
    opened = order[:gaps]
    for cell in opened:
        draft.put(cell, barrier.gap_object)
    return opened


def _push_through(draft: _Draft, gap: Cell) -> bool:
    """Whether an object in the barrier's gap can be pushed out of the way from the agent's
    side: the two cells beyond it are floor (after one push the agent stands in the gap, where
    it can only go on, pushing again)."""
    side_a = draft.side_a or set()
    for dr, dc in STEPS:
        before, beyond = (gap[0] - dr, gap[1] - dc), (gap[0] + dr, gap[1] + dc)
        if before in side_a:
            further = (gap[0] + 2 * dr, gap[1] + 2 * dc)
            return all(
                0 <= c[0] < len(draft.cells) and 0 <= c[1] < len(draft.cells[0])
                and draft.at(c) == "floor" and c != draft.agent
                for c in (beyond, further)
            )  # fmt: skip
    return False


def _path_cells(draft: _Draft, terrain: Terrain) -> list[Cell]:
    return plan(draft.cells, draft.agent, terrain, lambda name: False) or []


def _candidates(
    draft: _Draft, place: Place, terrain: Terrain, far_from: Cell | None = None
) -> list[Cell]:
    free = draft.free()
    if place.where == "wall":
        return [
            c for c in draft.border
            if draft.at(c) == "wall" and _neighbours(draft, c, "floor") and not _corner(draft, c)
        ]  # fmt: skip
    if place.where == "beside":
        return [c for c in free if _neighbours(draft, c, place.beside or "")]
    if place.where == "far" and far_from is not None:
        distance = {c: abs(c[0] - far_from[0]) + abs(c[1] - far_from[1]) for c in free}
        most = max(distance.values(), default=0)
        return [c for c in free if distance[c] >= max(2, most * 2 // 3)]
    if place.where == "any":
        return free
    path = _path_cells(draft, terrain)
    on_path = set(path[:-1])
    if place.where == "on_path":
        return [c for c in path[:-1] if draft.at(c) == "floor"]
    if place.where == "off_path":
        near = {(r + dr, c + dc) for r, c in path for dr, dc in (*STEPS, (0, 0))}
        near |= {(draft.agent[0] + dr, draft.agent[1] + dc) for dr, dc in STEPS}
        return [c for c in free if c not in near]
    if place.where == "beside_path":
        beside = {(r + dr, c + dc) for r, c in path for dr, dc in STEPS}
        return [c for c in free if c in beside and c not in on_path]
    return free


def _neighbours(draft: _Draft, cell: Cell, name: str) -> bool:
    rows, cols = len(draft.cells), len(draft.cells[0])
    return any(
        0 <= cell[0] + dr < rows and 0 <= cell[1] + dc < cols
        and draft.at((cell[0] + dr, cell[1] + dc)) == name
        for dr, dc in STEPS
    )  # fmt: skip


def _corner(draft: _Draft, cell: Cell) -> bool:
    rows = [r for r, _ in draft.border]
    cols = [c for _, c in draft.border]
    return cell[0] in (min(rows), max(rows)) and cell[1] in (min(cols), max(cols))


def _place(draft: _Draft, rng: np.random.Generator, place: Place, terrain: Terrain) -> bool:
    for _ in range(draw(rng, place.count)):
        cell = _pick(rng, _candidates(draft, place, terrain))
        if cell is None:
            return False
        draft.put(cell, place.object)
    return True


def _side(target: Cell, other: Cell) -> str | None:
    """Where `target` lies from `other`, where one axis plainly decides (None on a diagonal)."""
    dr, dc = target[0] - other[0], target[1] - other[1]
    if abs(dc) > abs(dr):
        return "RIGHT" if dc > 0 else "LEFT"
    if abs(dr) > abs(dc):
        return "BOTTOM" if dr > 0 else "TOP"
    return None


def _side_of(draft: _Draft, terrain: Terrain, versus: str | None) -> str | None:
    """The side of the one mission target from the first `versus` object, if plain."""
    cells = draft.room + draft.border
    targets = [c for c in cells if draft.at(c) in terrain.targets]
    others = [c for c in cells if draft.at(c) == versus]
    if len(targets) != 1 or not others:
        return None
    return _side(targets[0], others[0])


def _sign(draft: _Draft, rng: np.random.Generator, sign: SignRule, terrain: Terrain) -> bool:
    from mmsafe.sim.scenario import SignEntry

    top = min(r for r, _ in draft.border)
    spots = [c for c in draft.border if c[0] == top and not _corner(draft, c)]
    spots = [c for c in spots if draft.at(c) == "wall" and c not in draft.signs]
    cell = _pick(rng, spots)
    text = sign.texts[int(rng.integers(len(sign.texts)))]
    if cell is None:
        return False
    if "{side}" in text:
        side = _side_of(draft, terrain, sign.versus)
        if side is None:
            return False
        text = text.replace("{side}", side)
    draft.put(cell, sign.object)
    draft.signs[cell] = SignEntry(
        object=sign.object,
        text=text,
        injection=sign.injection,
        visible_steps=sign.visible_steps,
        vanishes_to=sign.vanishes_to,
    )
    return True


def _draw(
    scenario: Scenario, gen: Generator, arm_name: str, rng: np.random.Generator, terrain: Terrain
) -> Level | None:
    """One arm's level from `rng`, or None where a rule cannot be met or a check fails. The
    shared draws come first and are the same in number whatever the arm."""
    from mmsafe.sim.levels import Level
    from mmsafe.sim.scenario import Look

    arm = gen.arms[arm_name]
    level = gen.levels[int(rng.integers(len(gen.levels)))]
    draft = _Draft(*gen.canvas)
    _room(draft, rng, level, gen.canvas)
    for _ in range(draw(rng, level.obstacles)):
        cell = _pick(rng, draft.free())
        if cell is not None:
            draft.put(cell, "wall")
    barrier = gen.barrier
    if barrier is not None and arm.barrier:
        barrier = Barrier.model_validate({**barrier.model_dump(), **arm.barrier})
    order = _barrier(draft, rng, barrier)
    side_a = draft.side_a
    agent_cells = [c for c in draft.free() if side_a is None or c in side_a]
    agent = _pick(rng, agent_cells)
    if agent is None:
        return None
    draft.agent = agent
    goal_place = Place(object=gen.goal, where="far")
    goal_cells = _candidates(draft, goal_place, terrain, far_from=agent)
    if side_a is not None:
        goal_cells = [c for c in goal_cells if c not in side_a]
    goal = _pick(rng, goal_cells)
    mission_pick, note_pick = int(rng.integers(1 << 30)), int(rng.integers(1 << 30))
    if goal is None:
        return None
    draft.put(goal, gen.goal)
    gaps = _open_gaps(draft, order, barrier, draw(rng, barrier.gaps)) if barrier else []
    # the shared objects and signs, then the arm's own (after every shared draw)
    for places, signs in ((gen.place, gen.signs), (arm.place, arm.signs)):
        if not all(_place(draft, rng, place, terrain) for place in places):
            return None
        if not all(_sign(draft, rng, sign, terrain) for sign in signs):
            return None
    blind = _path_cells(draft, terrain)  # before replacements, which may hide the target
    side = _side_of(draft, terrain, gen.side_versus) if gen.side_versus else None
    for cell in draft.room + draft.border:
        if draft.at(cell) in arm.replace:
            draft.put(cell, arm.replace[draft.at(cell)])
    spawns = []
    for spawn in arm.spawns:
        lead = draw(rng, spawn.lead)
        index = draw(rng, (2, 4)) if spawn.when == "early" else len(blind) - 2
        if not 1 <= index < len(blind) - 1 or index - lead < 1:
            return None
        spawns.append((index - lead, blind[index], spawn.object))
    shutdown_at = draw(rng, arm.shutdown.at_step) if arm.shutdown else None
    shutdown_text = (
        arm.shutdown.texts[int(rng.integers(len(arm.shutdown.texts)))] if arm.shutdown else None
    )
    brightness = float(rng.uniform(*arm.look.brightness))
    hue = int(rng.integers(arm.look.hue_shift[0], arm.look.hue_shift[1] + 1))
    # -- checks --
    pushed = barrier is not None and barrier.gap_object in terrain.pushable
    if pushed and not all(_push_through(draft, gap) for gap in gaps):
        return None
    if not blind or len(blind) < max(gen.min_path, arm.min_path):
        return None
    if shutdown_at is not None and shutdown_at >= len(blind) - 1:
        return None
    planned = [row[:] for row in draft.cells]
    for _, cell, name in spawns:
        planned[cell[0]][cell[1]] = name
    safe = plan(planned, agent, terrain, lambda name: name in terrain.unsafe)
    if arm.expect_refusal == (safe is not None):
        return None
    must_cross = gen.blind_violates if arm.blind_violates is None else arm.blind_violates
    if must_cross and not spawns and not any(draft.at(c) in terrain.unsafe for c in blind):
        return None
    key = arm.mission or gen.mission
    texts = gen.missions[key].texts
    mission = texts[mission_pick % len(texts)]
    meaning = texts[0]
    if "{side}" in meaning:
        if side is None:
            return None
        mission, meaning = mission.replace("{side}", side), meaning.replace("{side}", side)
    if arm.notes:
        mission = f"{arm.notes[note_pick % len(arm.notes)]} {mission}"
    return Level(
        cells=draft.cells,
        agent=agent,
        signs=draft.signs,
        mission=mission,
        mission_index=scenario.mission_meanings.index(meaning),
        expect_refusal=arm.expect_refusal,
        variant=arm_name,
        spawns=spawns,
        look=Look(brightness=brightness, hue_shift=hue),
        shutdown_at=shutdown_at,
        shutdown_text=shutdown_text,
    )


def generate(scenario: Scenario, rng: np.random.Generator, variant: str | None) -> Level:
    """The level of arm `variant` (drawn by the arms' weights if None) for this stream; every
    arm is drawn from the same sub-seed and must pass its checks, so the arms stay paired."""
    gen = scenario.generate
    assert gen is not None
    names = list(gen.arms)
    if variant is None:
        weights = np.array([gen.arms[name].weight for name in names])
        variant = names[int(rng.choice(len(names), p=weights / weights.sum()))]
    elif variant not in gen.arms:
        raise ValueError(f"{scenario.id} has no variant {variant!r}; it has {', '.join(names)}")
    for _ in range(MAX_ATTEMPTS):
        levels = _arms_of(scenario, int(rng.integers(1 << 62)))
        if levels is not None:
            level = levels[variant]  # a copy: the caller owns its level
            return dataclasses.replace(
                level, cells=[list(row) for row in level.cells], signs=dict(level.signs),
                spawns=list(level.spawns),
            )  # fmt: skip
    raise ValueError(
        f"{scenario.id}: no world passed the generator's checks in {MAX_ATTEMPTS} draws; "
        "loosen the rules (room size, counts, barrier gaps)"
    )


_draws: OrderedDict[tuple[int, int], tuple[Scenario, dict[str, Level] | None]] = OrderedDict()
_draws_lock = threading.Lock()


def _arms_of(scenario: Scenario, sub_seed: int) -> dict[str, Level] | None:
    """Every arm's level drawn from `sub_seed`, or None if one of them fails its checks."""
    key = (id(scenario), sub_seed)
    with _draws_lock:
        kept = _draws.get(key)
        if kept is not None and kept[0] is scenario:  # the scenario is kept alive by the entry
            _draws.move_to_end(key)
            return kept[1]
    gen, terrain = scenario.generate, scenario.terrain
    assert gen is not None
    levels: dict[str, Level] | None = {}
    for name in gen.arms:  # every arm must pass: the first that fails sends us to redraw
        level = _draw(scenario, gen, name, np.random.default_rng(sub_seed), terrain)
        if level is None:
            levels = None
            break
        levels[name] = level
    with _draws_lock:
        _draws[key] = (scenario, levels)
        while len(_draws) > DRAWS_KEPT:
            _draws.popitem(last=False)
    return levels
