"""A rollout turns one unit of work (an env episode; later, a media sample) into turns.

The runner only needs `start() -> Observation`, `advance(reply) -> Observation | None` (None
once finished), `fail(outcome, error)` and `record() -> EpisodeRecord`, so a media task adds a
rollout class, not a new runner.

`EnvRollout` runs any Gymnasium env that keeps the contract of docs/physics.md ("Your own env"):
a `Discrete` action space named by `action_names` (or a `Box`: agents answer with a command,
clipped to its bounds, or with one of `action_names`, passed to `step` by name), observations
with an `image` and a
`mission`, and `info` with `cost`, `events`, `performance`, and at the end `outcome` and
`success`. What the grid and the 3-D scenarios add is optional: `idle()` (an invalid reply's
turn; else the env is not stepped), `state_digest()` (checked on replay), `expect_refusal`,
`arm` and `privileged()` (what scripted agents read).
"""

from __future__ import annotations

import hmac
import time
from typing import Any

import gymnasium as gym
import numpy as np

from mmsafe.core import (
    ControlSpace,
    EpisodeRecord,
    Event,
    Observation,
    Reply,
    StepRecord,
    episode_key,
)
from mmsafe.run.units import arm_of

# what an env may say an episode ended in; anything else is recorded as `terminated`
ENV_OUTCOMES = ("goal_reached", "refused", "declared_done", "shut_down", "terminated", "timeout")


class EnvRollout:
    def __init__(
        self,
        env_id: str,
        seed: int,
        agent_name: str,
        env_kwargs: dict[str, Any] | None = None,
        privileged: bool = False,
        max_invalid: int = 5,
        arm: str | None = None,
        id_secret: bytes = b"",
        draw: bool = True,
    ):
        self.env_id, self.seed, self.agent_name = env_id, seed, agent_name
        self.key = episode_key(env_id, seed, arm)
        self.env_kwargs = {**(env_kwargs or {}), **({"variant": arm} if arm else {})}
        self.shown_id = observed_id(self.key, id_secret)
        self.draw = draw  # False: a replay from recorded actions, whose observations are unseen
        self.env: gym.Env | None = None
        self.privileged = privileged
        self.max_invalid = max_invalid
        self.steps: list[StepRecord] = []
        self.outcome: str | None = None
        self.success = False
        self.error: str | None = None
        self.performance = 0.0
        self._invalid_run = 0
        self._history: tuple[str | None, ...] = ()
        self._started = 0.0

    def start(self) -> Observation | None:
        """The first observation, or None if the env could not be built or reset (then the
        rollout has failed with `env_error`)."""
        self._started = time.perf_counter()
        try:
            self.env = gym.make(self.env_id, disable_env_checker=True, **self.env_kwargs)
            self.core: Any = self.env.unwrapped
            self.control = control_space(self.env.action_space, self.core)
            names = getattr(self.core, "action_names", ()) if self.control else None
            self.action_names: tuple[str, ...] = tuple(
                self.core.action_names if names is None else names
            )
            if not self.draw and hasattr(self.core, "reset_state"):
                self.core.reset_state(self.seed)  # a replay looks at nothing: skip the drawing
                obs = None
            else:
                obs, _ = self.env.reset(seed=self.seed)
                obs = obs if self.draw else None
            self._last_obs = obs
            return self._observation(obs)
        except Exception as exc:  # a bad env, or one that breaks the contract
            self.fail("env_error", f"{type(exc).__name__}: {exc}")
            return None

    def advance(self, reply: Reply) -> Observation | None:
        names, command = self.action_names, None
        valid = reply.action in names
        if valid:
            error = None
        elif self.control is not None and reply.action is None and reply.control is not None:
            command, error = _command(reply.control, self.control, self.env.action_space.dtype)
            valid = command is not None
        elif reply.action is None and reply.error:
            error = reply.error
        else:
            error = f"invalid action {reply.action!r}; expected one of {self._expected()}"
        try:  # an env bug, or an env that breaks the contract, must not take the run down
            if command is not None:
                obs, reward, terminated, truncated, info = self._step(command)
            elif valid and self.control is not None:  # a word a continuous env also takes
                obs, reward, terminated, truncated, info = self._step(reply.action)
            elif valid:
                obs, reward, terminated, truncated, info = self._step(names.index(reply.action))
            else:
                obs, reward, terminated, truncated, info = self._idle()
            return self._record_step(
                reply, valid, error, obs, reward, terminated, truncated, info, command
            )
        except Exception as exc:
            self.fail("env_error", f"{type(exc).__name__}: {exc}")
            return None

    def _expected(self) -> str:
        words = ", ".join(self.action_names)
        if self.control is None:
            return words
        named = ", ".join(self.control.names)
        command = f"a command of {len(self.control.names)} numbers ({named})"
        return f"{command} or {words}" if words else command

    def _record_step(
        self, reply: Reply, valid: bool, error: str | None, obs: Any, reward: float,
        terminated: bool, truncated: bool, info: dict, command: np.ndarray | None = None,
    ) -> Observation | None:  # fmt: skip
        self.performance = float(info.get("performance", 0.0))
        digest = getattr(self.core, "state_digest", None)
        self.steps.append(
            StepRecord(
                t=len(self.steps) + 1,
                action=reply.action if valid and command is None else None,
                control=None if command is None else [float(v) for v in command],
                valid=valid,
                reply=reply.text,
                confidence=reply.confidence,
                reward=float(reward),
                cost=float(info.get("cost", 0.0)),
                events=[Event.model_validate(e) for e in info.get("events", [])],
                error=error,
                trace=list(reply.trace),
                state=digest() if digest is not None else None,
            )
        )
        shown = self.steps[-1].action  # what agents are shown of the step
        if command is not None and self.control is not None:
            shown = self.control.describe(self.steps[-1].control or [])
        self._history = (*self._history, shown)
        self._invalid_run = 0 if valid else self._invalid_run + 1
        if terminated or truncated:
            outcome = info.get("outcome") or ("timeout" if truncated else "terminated")
            self.outcome = outcome if outcome in ENV_OUTCOMES else "terminated"
            self.success = bool(info.get("success", False))
            return None
        if self._invalid_run >= self.max_invalid:
            self.fail(
                "invalid_actions", f"{self._invalid_run} invalid actions in a row; last: {error}"
            )
            return None
        return self._observation(obs)

    def _step(self, index: int | str | np.ndarray) -> tuple:
        if not self.draw and hasattr(self.core, "step_state"):
            return (None, *self.core.step_state(index))
        obs, *rest = self.env.step(index)
        self._last_obs = obs
        return (obs if self.draw else None, *rest)

    def _idle(self) -> tuple:
        """An invalid reply's turn: the env's own idle turn where it has one (time runs on),
        else the env is not stepped."""
        if not self.draw and hasattr(self.core, "idle_state"):
            return (None, *self.core.idle_state())
        idle = getattr(self.core, "idle", None)
        if idle is None:
            info = {"cost": 0.0, "events": [], "performance": self.performance}
            return self._last_obs if self.draw else None, 0.0, False, False, info
        obs, *rest = idle()
        self._last_obs = obs
        return (obs if self.draw else None, *rest)

    def fail(self, outcome: str, error: str) -> None:
        self.outcome, self.success, self.error = outcome, False, error

    def record(self) -> EpisodeRecord:
        assert self.outcome is not None, "record() before the rollout finished"
        return EpisodeRecord(
            key=self.key,
            source=self.env_id,
            seed=self.seed,
            agent=self.agent_name,
            steps=self.steps,
            outcome=self.outcome,  # type: ignore[arg-type]
            success=self.success,
            total_reward=float(sum(s.reward for s in self.steps)),
            total_cost=float(sum(s.cost for s in self.steps)),
            performance=self.performance,
            expect_refusal=self.env is not None
            and bool(getattr(self.core, "expect_refusal", False)),
            variant=str(getattr(self.core, "arm", "base")) if self.env is not None else "base",
            error=self.error,
            duration_s=round(time.perf_counter() - self._started, 4),
        )

    def close(self) -> None:
        if self.env is not None:
            self.env.close()

    def _privileged(self) -> Any:
        read = getattr(self.core, "privileged", None) if self.privileged else None
        return read() if read is not None else None

    def _observation(self, obs: dict | None) -> Observation:
        if obs is None:  # not drawn: a replay, fed recorded actions, looks at nothing
            return Observation(frames=(), text="", source=self.env_id, step=len(self.steps))
        return Observation(
            frames=(obs["image"],),
            text=obs["mission"],
            actions=self.action_names,
            source=self.env_id,
            episode_id=self.shown_id,
            step=len(self.steps),
            history=self._history,
            privileged=self._privileged(),
            control=self.control,
        )


def control_space(space: gym.Space, core: Any) -> ControlSpace | None:
    """A `Box` action space as agents are told it (its dimensions named by the env's
    `control_names`, else `u0, u1, ...`); None for any other space."""
    if not isinstance(space, gym.spaces.Box):
        return None
    if len(space.shape) != 1:
        raise ValueError(f"a continuous action must be a vector, not of shape {space.shape}")
    names = tuple(getattr(core, "control_names", ()) or (f"u{i}" for i in range(space.shape[0])))
    if len(names) != space.shape[0]:
        raise ValueError(f"control_names has {len(names)} names for {space.shape[0]} numbers")
    return ControlSpace(names, tuple(map(float, space.low)), tuple(map(float, space.high)))


def _command(
    values: tuple[float, ...], space: ControlSpace, dtype: np.dtype
) -> tuple[np.ndarray | None, str | None]:
    """A reply's command clipped to the env's bounds, in the env's dtype (what it is given is
    what is recorded), or None and why it is not one."""
    command = np.asarray(values, dtype=np.float64)
    if command.shape != (len(space.names),):
        return None, f"a command needs {len(space.names)} numbers ({', '.join(space.names)})"
    if not np.all(np.isfinite(command)):
        return None, f"a command's numbers must be finite, not {list(values)}"
    with np.errstate(over="ignore", invalid="ignore"):
        given = np.clip(command, space.low, space.high).astype(dtype)
    if not np.all(np.isfinite(given)):  # beyond the dtype's range (infinite bounds)
        return None, f"a command's numbers must fit the env's {np.dtype(dtype).name}"
    return given, None


def observed_id(key: str, secret: bytes) -> str:
    """The id an agent is shown for an episode or sample: an HMAC of its key under the run's
    secret (`RunDir.id_secret`), one form for public and held-out work. The key itself would
    hand the agent its seed (a policy could rebuild the world and read it) or a sample's id
    (which may name its label), and a `heldout-` prefix would tell it that it is being tested
    on secret work. Stable per unit within a run, so a resumed run shows the same ids."""
    return "ep-" + hmac.new(secret, key.encode(), "sha256").hexdigest()[:16]


def replay_frames(record: EpisodeRecord, env_kwargs: dict[str, Any]) -> list[np.ndarray]:
    """Top-down frames of a finished episode, re-run from its seed and actions. The world is
    deterministic, so no frames need keeping while episodes run; a replay whose cost differs
    from the record's is an error, never a wrong video."""
    arm = arm_of(record.source, record.variant, env_kwargs)
    kwargs = {**env_kwargs, **({"variant": arm} if arm else {})}
    env = gym.make(record.source, disable_env_checker=True, **kwargs)
    core: Any = env.unwrapped
    try:
        drawn = core.render()
    except NotImplementedError:
        drawn = None
    if drawn is None:  # said once, in the record's error, rather than a blank exception
        env.close()
        raise RuntimeError(f"{record.source} draws no frames (its render() gives none)")
    continuous = control_space(env.action_space, core) is not None
    try:
        env.reset(seed=record.seed)
        frames, cost = [core.render()], 0.0
        for step in record.steps:
            if step.control is not None:
                info = env.step(np.asarray(step.control, dtype=np.float32))[-1]
            elif step.action is None:
                info = core.idle()[-1] if hasattr(core, "idle") else {"cost": 0.0}
            elif continuous:
                info = env.step(step.action)[-1]
            else:
                info = env.step(core.action_names.index(step.action))[-1]
            frames.append(core.render())
            cost += info["cost"]
    finally:
        env.close()
    if abs(cost - record.total_cost) > 1e-9:
        raise RuntimeError(f"replay of {record.key} diverged (cost {cost} != {record.total_cost})")
    return frames
