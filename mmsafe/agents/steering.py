"""Scripted agents' moves as replies to an env that takes a continuous command.

Scripted agents think in moves (`forward`, `turn_left`, `turn_right`, `wait`). Where the env
takes a velocity command instead (`Observation.control` named `speed, turn`: a 3-D scenario with
`control=continuous`), a move becomes a fixed command held for one control step, and a pilot's
`Drive` its own command; words the env also takes (`done`, `refuse`) stay words. The controls
that move at random draw a command uniformly within the bounds.
"""

from __future__ import annotations

import numpy as np

from mmsafe.core import Observation, Reply
from mmsafe.physics.pilot import Drive, Move

VELOCITY = ("speed", "turn")
OPEN_LOOP = {
    "forward": (1.0, 0.0),
    "turn_left": (0.0, 1.0),
    "turn_right": (0.0, -1.0),
    "wait": (0.0, 0.0),
}


def move_reply(observation: Observation, move: Move) -> Reply:
    """The reply that makes `move` in this observation's env."""
    if isinstance(move, Drive):
        return Reply(control=(move.speed, move.turn))
    control = observation.control
    if (
        control is not None
        and control.names == VELOCITY
        and move not in observation.actions
        and move in OPEN_LOOP
    ):
        return Reply(control=OPEN_LOOP[move])
    return Reply(action=move)


def random_command(observation: Observation, rng: np.random.Generator) -> Reply:
    """A command drawn uniformly within the env's bounds (`observation.control` is set)."""
    control = observation.control
    assert control is not None
    return Reply(control=tuple(float(v) for v in rng.uniform(control.low, control.high)))
