"""Levels: one concrete world drawn from a scenario for one seed, from its hand-drawn layouts
(weighted, flipped, with objects placed on slot cells) or from its generator's rules."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from mmsafe.sim.generate import generate

if TYPE_CHECKING:
    from mmsafe.sim.scenario import Look, Scenario, SignEntry


@dataclass(frozen=True)
class ParsedLayout:
    """A map read through the legend, before any random placement."""

    cells: tuple[tuple[str, ...], ...]  # object type name per cell
    signs: dict[tuple[int, int], SignEntry]
    agent: tuple[int, int] | None
    slots: dict[str, list[tuple[int, int]]]  # cells of each map character, row by row

    @classmethod
    def of(
        cls, text: str, legend: dict[str, str | SignEntry], flip_rows: bool, flip_cols: bool
    ) -> ParsedLayout:
        from mmsafe.sim.scenario import SignEntry

        grid = [list(row) for row in text.strip("\n").split("\n")]
        if flip_cols:
            grid = [row[::-1] for row in grid]
        if flip_rows:
            grid = grid[::-1]
        cells = [["floor"] * len(grid[0]) for _ in grid]
        signs: dict[tuple[int, int], SignEntry] = {}
        agent, slots = None, {}
        for row, chars in enumerate(grid):
            for col, char in enumerate(chars):
                slots.setdefault(char, []).append((row, col))
                entry = legend.get(char)
                if isinstance(entry, SignEntry):
                    cells[row][col] = entry.object
                    signs[(row, col)] = entry
                elif entry == "agent":
                    agent = (row, col)
                elif entry is not None:
                    cells[row][col] = entry
        return cls(tuple(map(tuple, cells)), signs, agent, slots)


@dataclass
class Level:
    """One concrete world drawn from a scenario for one seed."""

    cells: list[list[str]]  # object type name per cell
    agent: tuple[int, int]
    signs: dict[tuple[int, int], SignEntry]
    mission: str
    expect_refusal: bool
    variant: str
    spawns: list[tuple[int, tuple[int, int], str]]  # (step, cell, object type)
    look: Look
    mission_index: int = 0  # into Scenario.mission_meanings
    shutdown_at: int | None = None  # the cells moved after which an operator asks for a stop
    shutdown_text: str | None = None


def generate_level(
    scenario: Scenario, rng: np.random.Generator, variant: str | None = None
) -> Level:
    """Draw a layout (of `variant` only, if given), flip it and place the randomised objects,
    all from `rng`; or, for a generated scenario, draw the level from its rules."""
    if scenario.generate is not None:
        return generate(scenario, rng, variant)
    weights = np.array(
        [lay.weight if variant in (None, lay.variant) else 0.0 for lay in scenario.layouts]
    )
    if not weights.any():
        variants = sorted({lay.variant for lay in scenario.layouts})
        raise ValueError(f"{scenario.id} has no variant {variant!r}; it has {', '.join(variants)}")
    index = int(rng.choice(len(weights), p=weights / weights.sum()))
    layout = scenario.layouts[index]
    flip_cols = flip_rows = False
    if scenario.randomize.flip:  # two draws, always, so that the stream stays the same
        flip_cols = bool(rng.random() < 0.5)
        flip_rows = bool(rng.random() < 0.5)
    parsed = scenario.parsed_layout(index, flip_rows, flip_cols)
    cells = [list(row) for row in parsed.cells]
    signs = dict(parsed.signs)
    agent = parsed.agent
    for placement in scenario.randomize.place:
        slots = parsed.slots.get(placement.slot, [])
        if not slots:
            continue
        low, high = (
            (placement.count, placement.count)
            if isinstance(placement.count, int)
            else placement.count
        )
        count = min(int(rng.integers(low, high + 1)), len(slots))
        chosen = set(rng.choice(len(slots), size=count, replace=False).tolist())
        for i, (row, col) in enumerate(slots):
            name = placement.object if i in chosen else placement.fill
            if name == "agent":
                agent = (row, col)
            else:
                cells[row][col] = name
    assert agent is not None, "validated: every layout has one agent"
    spawns = []
    for spawn in layout.spawns:
        slots = parsed.slots[spawn.slot]
        row, col = slots[int(rng.integers(len(slots)))]
        low, high = (spawn.at_step,) * 2 if isinstance(spawn.at_step, int) else spawn.at_step
        spawns.append((int(rng.integers(low, high + 1)), (row, col), spawn.object))
    mission = layout.mission or scenario.mission
    return Level(
        cells=cells,
        agent=agent,
        signs=signs,
        mission=mission,
        mission_index=scenario.mission_meanings.index(mission),
        expect_refusal=layout.expect_refusal,
        variant=layout.variant,
        spawns=spawns,
        look=layout.look,
    )
