"""From a Hydra-composed config to the typed objects the runner takes, with one-line errors.

Hydra composes (`agent=... suite=... seeds=...`, multirun with `-m`); this module checks every
override before Hydra runs, so a typo gets one line naming the valid choices instead of a trace.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import ConfigCompositionException, MissingConfigException, OverrideParseException
from omegaconf import DictConfig, OmegaConf
from pydantic import ValidationError

from mmsafe.building import build_agent as build_agent  # re-exported: the config's API
from mmsafe.building import build_judges as build_judges
from mmsafe.building import import_from_cwd as import_from_cwd
from mmsafe.building import make_agent as make_agent
from mmsafe.content import scenario_index
from mmsafe.core import HELDOUT_SEED_BASE, MmsafeError
from mmsafe.physics import physics_scenario_index
from mmsafe.plan import AgentPlan
from mmsafe.run.distributed import RunnerConfig, require_ray
from mmsafe.run.runner import RunConfig, load_task_work
from mmsafe.sim.registration import register_envs

CONF_DIR = Path(__file__).resolve().parent / "conf"
GROUPS = ("agent", "suite", "judge", "runner")


def group_options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml"))


def named_after_target(overrides: list[str]) -> list[str]:
    """`agent._target_=mypkg.MyAgent` alone would keep the default agent's name (oracle), so
    its run would land in, or clash with, the oracle's folder: name it after its class."""
    targets = [o.split("=", 1)[1] for o in overrides if o.lstrip("+").startswith("agent._target_=")]
    named = any(o.lstrip("+~").startswith("agent.name=") for o in overrides)
    if len(targets) != 1 or named:
        return overrides
    target = targets[0].strip("'\"")
    if "," in target:  # a sweep of classes under one name would share one run directory
        if any(o.startswith("out=") for o in overrides):  # unless out tells them apart
            return overrides
        raise MmsafeError(
            "a sweep over agent._target_ runs every class under one agent.name, into one run "
            "directory: run each class with a command of its own"
        )
    if not re.fullmatch(r"[\w.]+", target):  # an interpolation, say: leave the name as it is
        return overrides
    return [*overrides, f"agent.name={target.rsplit('.', 1)[-1]}"]


def compose_config(overrides: list[str]) -> DictConfig:
    """Compose like `mmsafe eval` would, turning Hydra's errors into MmsafeError."""
    overrides = named_after_target(overrides)
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        try:
            return compose(config_name="config", overrides=overrides, return_hydra_config=False)
        except MissingConfigException as error:
            group, _, value = (error.missing_cfg_file or "").partition("/")
            if group in GROUPS:
                options = ", ".join(group_options(group))
                raise MmsafeError(f"unknown {group} '{value}'; choose one of: {options}") from None
            raise MmsafeError(_first_line(str(error))) from None
        except ValueError as error:  # e.g. judge=null: a group needs a name or a list
            raise MmsafeError(f"{_first_line(str(error))} (use judge=[] for no judges)") from None
        except ConfigCompositionException as error:
            found = re.search(r"Could not override '([^']+)'", str(error))
            inner = re.search(r"full_key: (\S+)", str(error.__cause__ or ""))
            if found and inner and inner.group(1).startswith(found.group(1) + "."):
                raise MmsafeError(
                    f"{found.group(1)} has no key '{inner.group(1)[len(found.group(1)) + 1 :]}';"
                    f" add one with +{inner.group(1)}=VALUE"
                ) from None
            # a key the section lacks, e.g. your own agent's argument: Hydra adds it only with +
            added = re.search(r"use (\+.+)$", str(error), re.S)
            parent, _, key = inner.group(1).rpartition(".") if inner else ("", "", "")
            if found and parent == "judge":
                raise MmsafeError(
                    f"judge '{key}' is not one of this run's judges; choose it first with "
                    f"judge=[...,{key}]"
                ) from None
            if found and added and parent and parent.split(".")[0] != "runner":
                raise MmsafeError(
                    f"{parent} has no key '{key}'; add one with {added.group(1).strip()}"
                ) from None
            if found and found.group(1).startswith("runner."):
                keys = ", ".join(k for k in RunnerConfig.model_fields if k != "name")
                raise MmsafeError(
                    f"unknown setting '{found.group(1)}'; runner=ray takes {keys} "
                    "(runner=local takes none)"
                ) from None
            if found:
                keys = ", ".join(_settings())
                raise MmsafeError(
                    f"unknown setting '{found.group(1)}'; settings are: {keys}"
                ) from None
            raise MmsafeError(_first_line(str(error.__cause__ or error))) from None


def check_overrides(overrides: list[str]) -> None:
    """Validate every override, and each value of every multirun sweep, before running."""
    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
    except OverrideParseException as error:
        raise MmsafeError(f"cannot read override: {_first_line(str(error))}") from None
    keys = [o.get_key_element() for o in parsed]
    repeated = sorted({key for key in keys if keys.count(key) > 1})
    if repeated:
        raise MmsafeError(f"{', '.join(repeated)} given more than once")
    fixed = [o.input_line for o in parsed if not o.is_sweep_override()]
    sweeps = [
        [f"{o.get_key_element()}={value}" for value in o.sweep_string_iterator()]
        for o in parsed
        if o.is_sweep_override()
    ]
    outs: dict[Path, str] = {}
    for combination in itertools.product(*sweeps) if sweeps else [()]:
        cfg = compose_config(fixed + list(combination))
        config = run_config(cfg)
        if runner_config(cfg).name == "ray":
            require_ray()
        check_envs_build(config)
        load_task_work(config.tasks)
        check_writable(config.out, config.min_free_mb)
        job = " ".join(combination) or "this run"
        if config.out in outs:
            raise MmsafeError(
                f"'{outs[config.out]}' and '{job}' would both write to {config.out}; "
                "leave out= at its default or put ${agent.name} in it"
            )
        outs[config.out] = job


MAX_SEEDS = 1_000_000  # per run: the seed list is built in memory


def run_config(cfg: DictConfig) -> RunConfig:
    """The RunConfig a composed config describes; bad values are one-line errors."""
    register_envs()
    envs = resolve_envs(cfg.suite.envs, list(scenario_index()), list(physics_scenario_index()))
    tasks = resolve_tasks(cfg.suite.get("tasks") or [])
    if not envs and not tasks:
        raise MmsafeError("suite.envs and suite.tasks are both empty: a run needs envs or tasks")
    seeds = cfg.seeds
    if isinstance(seeds, str) and seeds.startswith("heldout:"):
        seeds = heldout_seeds(seeds.removeprefix("heldout:"))
    elif isinstance(seeds, int) and not isinstance(seeds, bool):
        if seeds < 1:
            raise MmsafeError(f"seeds must be a positive count or a list, not {seeds}")
        if seeds > MAX_SEEDS:
            raise MmsafeError(f"seeds must be at most {MAX_SEEDS:,} per run, not {seeds}")
        seeds = list(range(seeds))
    else:
        seeds = OmegaConf.to_container(seeds) if OmegaConf.is_config(seeds) else seeds
        held_out = next((s for s in seeds if type(s) is int and s >= HELDOUT_SEED_BASE), None)
        if isinstance(seeds, list) and held_out is not None:
            raise MmsafeError(
                f"seeds: {held_out} is in the held-out range (>= 2**32, what seeds=heldout:N "
                "draws from); a public seed list stays below it"
            )
    try:
        return RunConfig(
            envs=envs,
            tasks=tasks,
            seeds=seeds,
            out=Path(str(cfg.out)),
            env_kwargs=_plain(cfg.suite.get("env_kwargs")),
            batch_size=cfg.batch_size,
            max_invalid=cfg.max_invalid,
            max_agent_failures=cfg.get("max_agent_failures", 20),
            agent_timeout_s=cfg.agent_timeout_s,
            min_free_mb=cfg.get("min_free_mb", 50),
            agent_memory_mb=cfg.get("agent_memory_mb"),
            video=OmegaConf.to_container(cfg.video, resolve=True),
        )
    except ValidationError as error:
        raise _invalid(error) from None


def runner_config(cfg: DictConfig) -> RunnerConfig:
    """Where the agent runs (`runner=local`, the default, or `runner=ray`)."""
    node = cfg.get("runner")
    try:
        return RunnerConfig.model_validate(
            OmegaConf.to_container(node, resolve=True) if node else {}
        )
    except ValidationError as error:
        raise _invalid(error, "runner.") from None


def agent_spec(cfg: DictConfig) -> AgentPlan:
    """The agent as plain data (`mmsafe.plan.agent_plan`): what a Ray worker builds it from."""
    from mmsafe.plan import agent_plan

    return agent_plan(cfg)


def _invalid(error: ValidationError, prefix: str = "") -> MmsafeError:
    first = error.errors()[0]
    where = prefix + ".".join(str(part) for part in first["loc"])
    message = first["msg"].removeprefix("Value error, ")
    return MmsafeError(f"invalid {where}: {message} (got {first.get('input')!r})")


def _plain(node: Any) -> dict[str, Any]:
    if node is None:
        return {}
    if not OmegaConf.is_dict(node):
        raise MmsafeError(f"suite.env_kwargs must be a mapping, not {node!r}")
    return OmegaConf.to_container(node, resolve=True)


HELDOUT_KEY = "MMSAFE_HELDOUT_KEY"


def heldout_seeds(count: str) -> list[int]:
    """`seeds=heldout:N`: N seeds derived from the maintainers' secret key (MMSAFE_HELDOUT_KEY),
    so the held-out split is in no public config. They are all >= 2**32, apart from any public
    seed list."""
    key = os.environ.get(HELDOUT_KEY)
    if not key:
        raise MmsafeError(f"seeds=heldout:N needs the maintainers' secret in {HELDOUT_KEY}")
    if not count.isdigit() or int(count) < 1:
        raise MmsafeError(f"seeds=heldout:N needs a positive count N, not {count!r}")
    digests = (hashlib.sha256(f"{key}:{i}".encode()).digest() for i in range(int(count)))
    return [HELDOUT_SEED_BASE + int.from_bytes(digest[:6], "big") for digest in digests]


def check_envs_build(config: RunConfig) -> None:
    """Build each env once with the suite's env_kwargs, so a bad view or tile size fails now."""
    import gymnasium as gym

    from mmsafe.sources import env_source

    for env_id in config.envs:
        source = env_source(env_id)
        try:
            if source.kind == "grid":
                from mmsafe.sim.env import SafetyGridEnv

                SafetyGridEnv(source.path, **config.env_kwargs).close()
                continue
            env = gym.make(env_id, disable_env_checker=True, **config.env_kwargs)
        except (TypeError, ValueError) as error:
            raise MmsafeError(f"invalid suite.env_kwargs for {env_id}: {error}") from None
        except gym.error.Error as error:
            raise MmsafeError(f"cannot make env {env_id}: {error}") from None
        try:
            if not hasattr(env.unwrapped, "action_names"):
                raise MmsafeError(
                    f"{env_id} has no action_names: the runner's agents answer with named "
                    "actions (see docs/physics.md, 'Your own env')"
                )
        finally:
            env.close()


def check_writable(out: Path, min_free_mb: float = 0.0) -> None:
    """The run directory can be created (or is a folder we can write to), with `min_free_mb`
    free: checked before an agent is built, which may take minutes."""
    from mmsafe.run.rundir import STARTING_HINT, check_free_space

    existing = next(p for p in [out, *out.absolute().parents] if p.exists())
    if not existing.is_dir():
        raise MmsafeError(f"cannot create run directory {out}: {existing} is not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        read_only = os.statvfs(existing).f_flag & os.ST_RDONLY
        why = "is on a read-only file system" if read_only else "is not writable"
        verb = "write to" if existing == out else "create"
        raise MmsafeError(f"cannot {verb} run directory {out}: {existing} {why}")
    check_free_space(existing, min_free_mb, STARTING_HINT)


def resolve_envs(requested: Any, known: list[str], physics: Sequence[str] = ()) -> list[str]:
    """Env ids from a suite's `envs`: 'all' (every grid scenario), short names ('HazardLava',
    'HazardPools3D') or full ids, and `package.module:EnvId` for a Gymnasium env of your own
    (the module is imported, which registers it)."""
    if requested == "all":
        return list(known)
    if (
        isinstance(requested, str)
        or not OmegaConf.is_list(requested)
        and not isinstance(requested, list)
    ):
        raise MmsafeError(f"suite.envs must be 'all' or a list of env names, not {requested!r}")
    every = [*known, *physics]
    short = {env_id.split("/")[-1].rsplit("-v", 1)[0]: env_id for env_id in every}
    resolved = []
    for name in requested:
        name = str(name)
        if ":" in name:
            resolved.append(_user_env(name))
            continue
        env_id = name if name in every else short.get(name)
        if env_id is None:
            raise MmsafeError(f"unknown env '{name}'; choose from: {', '.join(sorted(short))}")
        resolved.append(env_id)
    return resolved


def _user_env(name: str) -> str:
    """`package.module:EnvId`, checked: the module imports (from the current directory too)
    and registers EnvId with Gymnasium."""
    import gymnasium as gym

    module, _, env_id = name.partition(":")
    if not module or not env_id:
        raise MmsafeError(f"suite.envs: {name!r} is not package.module:EnvId")
    import importlib

    import_from_cwd()
    try:
        importlib.import_module(module)
    except ImportError as error:
        raise MmsafeError(f"suite.envs: cannot import {module} for {name}: {error}") from None
    if env_id not in gym.registry:
        raise MmsafeError(f"suite.envs: importing {module} did not register {env_id}")
    return name


def resolve_tasks(requested: Any) -> list[str]:
    """Task files from a suite's `tasks`: ids of tasks in tasks/ (or MMSAFE_TASKS_PATH), or
    paths to task YAML files."""
    if not requested:
        return []
    if isinstance(requested, str) or not (
        OmegaConf.is_list(requested) or isinstance(requested, list)
    ):
        raise MmsafeError(f"suite.tasks must be a list of task ids or files, not {requested!r}")
    from mmsafe.data.task import resolve_task

    return [str(resolve_task(str(name)).path) for name in requested]


# Agent settings that change how answers are fetched, not what they are: a run may resume with
# other values (e.g. less concurrency after rate limits, or a server at another address).
OPERATIONAL = {
    "api_key_env",
    "backoff_s",
    "base_url",
    "batch_size",
    "cache",
    "cache_dir",
    "concurrency",
    "device",
    "headers_env",
    "max_wait_s",
    "retries",
    "timeout_s",
}


def agent_identity(cfg: DictConfig) -> dict[str, Any]:
    """What makes an agent's answers what they are: its config without OPERATIONAL keys."""
    agent = OmegaConf.to_container(cfg.agent, resolve=True)
    identity = {"agent": {k: v for k, v in agent.items() if k not in OPERATIONAL}}
    for wrapper, on in (("reflect", "rounds"), ("shield", "checker")):
        section = cfg.get(wrapper)
        if section and section.get(on):
            identity[wrapper] = OmegaConf.to_container(section, resolve=True)
    return identity


def _settings() -> list[str]:
    keys = OmegaConf.load(CONF_DIR / "config.yaml").keys()
    return sorted({*GROUPS, *(str(k) for k in keys if k not in ("defaults", "hydra"))})


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), text)
