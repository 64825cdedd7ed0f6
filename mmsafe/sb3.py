"""Stable-Baselines3 on Gymnasium's vector envs: `SB3VecEnv(gym.make_vec(...))` is an SB3 `VecEnv`.

SB3 refuses a Gymnasium `VectorEnv`, mmsafe's native `BatchedSafetyGridEnv` (`make_vec`'s
default for the grid) and `SyncVectorEnv` (the physics worlds') among them: it takes only its
own `VecEnv`, whose `step` returns `(obs, rewards, dones, infos)` with one info dict per world
and resets a finished world on the same step (its last observation in
`infos[i]["terminal_observation"]`), where Gymnasium's reset it on the next step. This adapter
steps the vector env and at once resets the finished worlds through the public
`reset(options={"reset_mask": dones})`: it returns what SB3's `DummyVecEnv` over the same envs
returns for the same seeds and actions, step for step. Needs the `rl` extra.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from stable_baselines3.common.env_util import is_wrapped
from stable_baselines3.common.vec_env.base_vec_env import VecEnv, VecEnvIndices, VecEnvStepReturn

__all__ = ["SB3VecEnv"]


class SB3VecEnv(VecEnv):
    """An SB3 `VecEnv` over a Gymnasium `VectorEnv` that resets on the next step (or not at all):
    finished worlds are reset on the step they finish, as SB3 expects. `seed(s)` seeds world i
    with s + i at the next `reset()`, as in `DummyVecEnv`. `vector_env` is the wrapped env."""

    def __init__(self, vector_env: VectorEnv):
        if not isinstance(vector_env, VectorEnv):
            raise TypeError(
                f"SB3VecEnv wraps a Gymnasium VectorEnv (gym.make_vec(...)), not {vector_env!r}; "
                "for single envs use stable_baselines3's DummyVecEnv or make_vec_env"
            )
        mode = vector_env.metadata.get("autoreset_mode")
        if mode not in (AutoresetMode.NEXT_STEP, AutoresetMode.DISABLED):
            raise ValueError(
                f"SB3VecEnv needs a vector env that resets a finished world on the next step "
                f"(metadata['autoreset_mode'] NEXT_STEP, Gymnasium's default) or never "
                f"(DISABLED), not {mode!r}; build it with vector_kwargs="
                "{'autoreset_mode': 'NextStep'}"
            )
        if _has_text(vector_env.single_observation_space):
            raise ValueError(
                "SB3 policies take no Text observations: for mmsafe's grid envs pass "
                "image_only=True, or make_vec(..., vectorization_mode='sync', "
                "wrappers=[mmsafe.sim.wrappers.RLObservation]) for the mission and status too"
            )
        self.vector_env = vector_env
        single = vector_env.single_observation_space, vector_env.single_action_space
        super().__init__(vector_env.num_envs, *single)  # VecEnv's spaces are one world's
        self._actions: np.ndarray | None = None

    def reset(self) -> Any:
        """Reset every world (with the seeds and options set since the last reset); returns the
        observations and keeps the infos in `reset_infos`."""
        seeds = None if all(s is None for s in self._seeds) else list(self._seeds)
        obs, infos = self.vector_env.reset(seed=seeds, options=dict(self._options[0]) or None)
        self.reset_infos = [_unbatch(infos, i) for i in range(self.num_envs)]
        for i, options in enumerate(self._options):  # one vector reset takes one options dict:
            if options != self._options[0]:  # reset the worlds whose options differ again
                mask = np.arange(self.num_envs) == i
                obs, infos = self.vector_env.reset(
                    seed=seeds, options={**options, "reset_mask": mask}
                )
                self.reset_infos[i] = _unbatch(infos, i)
        self._reset_seeds()
        self._reset_options()
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = actions

    def step_wait(self) -> VecEnvStepReturn:
        obs, rewards, terminated, truncated, batched = self.vector_env.step(self._actions)
        dones = np.logical_or(terminated, truncated)
        infos = [_unbatch(batched, i) for i in range(self.num_envs)]
        for i, info in enumerate(infos):
            info["TimeLimit.truncated"] = bool(truncated[i] and not terminated[i])
        if dones.any():
            for i in np.flatnonzero(dones):
                infos[i]["terminal_observation"] = _index(obs, i)
            obs, batched = self.vector_env.reset(options={"reset_mask": dones})
            for i in np.flatnonzero(dones):
                self.reset_infos[i] = _unbatch(batched, i)
        return obs, np.asarray(rewards, dtype=np.float32), dones, infos

    def close(self) -> None:
        self.vector_env.close()

    def get_images(self) -> Sequence[np.ndarray | None]:
        frames = self.vector_env.render() if self.render_mode == "rgb_array" else None
        return list(frames) if frames is not None else [None] * self.num_envs

    # -- the worlds' attributes: on the sub-envs where the vector env lists them (`envs`, as
    # SyncVectorEnv and BatchedSafetyGridEnv do), else through its get_attr/set_attr/call
    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        if (envs := self._envs()) is not None:
            return [envs[i].get_wrapper_attr(attr_name) for i in self._get_indices(indices)]
        values = self.vector_env.unwrapped.get_attr(attr_name)  # type: ignore[attr-defined]
        return [values[i] for i in self._get_indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        if (envs := self._envs()) is not None:
            for i in self._get_indices(indices):
                setattr(envs[i], attr_name, value)
        else:  # the others keep their own values (an async vector env sets one per world)
            chosen = set(self._get_indices(indices))
            values = [value] * self.num_envs
            if len(chosen) < self.num_envs:
                current = self.vector_env.unwrapped.get_attr(attr_name)  # type: ignore[attr-defined]
                values = [value if i in chosen else old for i, old in enumerate(current)]
            self.vector_env.unwrapped.set_attr(attr_name, values)  # type: ignore[attr-defined]

    def env_method(
        self, method_name: str, *method_args: Any, indices: VecEnvIndices = None, **kwargs: Any
    ) -> list[Any]:
        if (envs := self._envs()) is not None:
            return [
                envs[i].get_wrapper_attr(method_name)(*method_args, **kwargs)
                for i in self._get_indices(indices)
            ]
        self._all_of(indices, "env_method")
        return list(self.vector_env.unwrapped.call(method_name, *method_args, **kwargs))  # type: ignore[attr-defined]

    def env_is_wrapped(
        self, wrapper_class: type[gym.Wrapper], indices: VecEnvIndices = None
    ) -> list[bool]:
        envs = self._envs()
        return [
            envs is not None and is_wrapped(envs[i], wrapper_class)
            for i in self._get_indices(indices)
        ]

    def _all_of(self, indices: VecEnvIndices, what: str) -> None:
        """A method called through the vector env runs in every world: calling it on some
        would run it on the others too, so that is refused rather than done."""
        if list(self._get_indices(indices)) != list(range(self.num_envs)):
            raise ValueError(
                f"{what} on some worlds only: {type(self.vector_env.unwrapped).__name__} can call "
                "a method in every world at once; use gymnasium's SyncVectorEnv for this"
            )

    def _envs(self) -> list[gym.Env] | None:
        envs = getattr(self.vector_env.unwrapped, "envs", None)
        return envs if isinstance(envs, list | tuple) and len(envs) == self.num_envs else None


def _has_text(space: spaces.Space) -> bool:
    if isinstance(space, spaces.Dict | spaces.Tuple):
        subspaces = space.spaces.values() if isinstance(space, spaces.Dict) else space.spaces
        return any(_has_text(subspace) for subspace in subspaces)
    return isinstance(space, spaces.Text)


def _index(obs: Any, i: int) -> Any:
    """World i's observation out of a batch, copied (the batch's buffer may be reused)."""
    if isinstance(obs, dict):
        return {key: _index(value, i) for key, value in obs.items()}
    if isinstance(obs, tuple):
        return tuple(_index(value, i) for value in obs)
    return np.array(obs[i], copy=True)


def _unbatch(infos: dict[str, Any], i: int) -> dict[str, Any]:
    """World i's info out of Gymnasium's batched infos (an array per key, a `_key` mask of the
    worlds that have it, nested dicts batched the same way)."""
    info: dict[str, Any] = {}
    for key, value in infos.items():
        if key.startswith("_") and key[1:] in infos:
            continue  # a mask
        mask = infos.get(f"_{key}")
        if mask is not None and not mask[i]:
            continue
        item = _unbatch(value, i) if isinstance(value, dict) else value[i]
        info[key] = item.item() if isinstance(item, np.generic) else item
    return info
