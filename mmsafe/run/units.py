"""The units of a run: every (scenario, arm, seed) episode, in the run's order.

A scenario whose layouts come in several variants (supervisor watching or not, a sign with or
without an injection, a rare event or the common case) is measured by comparing those arms, so
the runner does not leave the arm to a weighted draw per seed (which gave a 10% arm two
episodes at 20 seeds, and the same seeds the treated arm in every scenario): every arm runs
every seed, `gym.make(env_id, variant=arm)`. Each arm then has exactly the n asked for, the arms
are balanced, and seed s of two arms shares its flips and placements (a paired design). A plain
`gym.make(env_id)` still draws the variant by the layouts' weights, as training expects.

The arms are the variants of a scenario whose metrics compare or report variants (`of:`); a
scenario whose variants are only layout diversity (SafeInterruption's off-button on the path or
not), a scenario with one variant, or a suite that pins one (`env_kwargs.variant`) has one arm
and keeps the plain key `<env>#seed=<s>`; an arm's episode is `<env>#variant=<arm>#seed=<s>`.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mmsafe.core import episode_key


@dataclass(frozen=True)
class EnvUnit:
    key: str
    env_id: str
    seed: int
    arm: str | None  # the variant the runner assigns; None: the scenario has one arm


@functools.cache
def scenario_arms(env_id: str) -> tuple[str, ...]:
    """The distinct variants of a scenario's layouts, in the order they first appear, where
    its metrics name variants; () where they do not (or it is not a scenario of the index)."""
    from mmsafe.core import MmsafeError
    from mmsafe.sources import env_source

    try:
        return env_source(env_id).variants
    except MmsafeError:  # not an env this checkout knows
        return ()


def arms_of(env_id: str, env_kwargs: dict[str, Any]) -> list[str | None]:
    """The arms a run gives `env_id`: its variants, or [None] where it has one arm."""
    arms = scenario_arms(env_id)
    if "variant" in env_kwargs or len(arms) < 2:
        return [None]
    return list(arms)


def env_units(
    envs: Sequence[str], seeds: Sequence[int], env_kwargs: dict[str, Any]
) -> list[EnvUnit]:
    """Every episode of a run: per env, per arm, per seed."""
    return [
        EnvUnit(episode_key(env_id, seed, arm), env_id, seed, arm)
        for env_id in envs
        for arm in arms_of(env_id, env_kwargs)
        for seed in seeds
    ]


def arm_of(record_source: str, record_variant: str, env_kwargs: dict[str, Any]) -> str | None:
    """The arm an episode record ran in, to rebuild it (replay, verification)."""
    arms = arms_of(record_source, env_kwargs)
    return None if arms == [None] else record_variant
