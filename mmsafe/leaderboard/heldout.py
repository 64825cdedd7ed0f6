"""`mmsafe leaderboard heldout BUNDLE --tasks DIR`: the maintainers run a submitted agent on
held-out work: every source on the board, envs and media tasks.

The held-out seeds come from the maintainers' secret (MMSAFE_HELDOUT_KEY, `seeds=heldout:N`),
so they are in no public file; the held-out media samples are a private split of each board
task (`--tasks DIR`: task files with the public tasks' ids, e.g. drawn with the secret by
`leaderboard/make_heldout_tasks.py`). Agents are shown the same kind of opaque ids on both, so
nothing tells them which work is held out. The episodes go to a private run directory; what
is published is only the scores (`leaderboard/heldout/<id>.json`): no seed, no episode key, no
action, no sample. The board ranks by the held-out primary score where it exists and flags an
entry whose held-out primary falls below its public interval: tuned to the public seeds.

The agent is rebuilt from the submission's config, but only as one of mmsafe's own agent
classes (the `_target_`s of `mmsafe/conf/agent/`): a bundle cannot name code to run. The
maintainer adds what a config leaves out, e.g. `agent.base_url=...` for a served model.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml
from omegaconf import OmegaConf
from pydantic import BaseModel, ConfigDict, ValidationError

from mmsafe.core import MmsafeError
from mmsafe.leaderboard.model import Score

WRAPPER_KEYS = {
    "reflect": {"rounds", "critic"},
    "shield": {"checker", "model", "retries", "fallback"},
}


class HeldoutResult(BaseModel):
    model_config = ConfigDict(extra="forbid")
    bundle_sha256: str  # the exact submission this is for
    created: datetime
    mmsafe_version: str
    seeds: int  # how many held-out seeds (never which)
    episodes: int
    samples: int = 0  # held-out media samples
    # share of held-out episodes whose first view (frame, mission, hidden events to come) no
    # public seed shows: held-out work catches memorisation only where it is new
    novel: float | None = None
    overall: Score
    by_mode: dict[str, Score]


def heldout_file(root: Path, ident: str) -> Path:
    return root / "heldout" / f"{ident}.json"


def load_heldout(root: Path, ident: str, bundle_sha256: str) -> HeldoutResult | None:
    """The held-out result of this exact bundle, if the maintainers made one."""
    path = heldout_file(root, ident)
    if not path.exists():
        return None
    try:
        result = HeldoutResult.model_validate_json(path.read_text())
    except (OSError, ValidationError) as error:
        raise MmsafeError(f"{path} is not a held-out result: {error}") from None
    return result if result.bundle_sha256 == bundle_sha256 else None


def checked_agent(config: Any, where: str = "agent") -> dict[str, Any]:
    """A submitted agent config as data that is safe to build: its `_target_` one of mmsafe's
    agents, and the rest `plain_data`."""
    if not isinstance(config, dict):
        raise MmsafeError(f"the submission's {where} is not a mapping")
    target = config.get("_target_")
    if target not in allowed_targets():
        raise MmsafeError(
            f"the submission's {where} is {target!r}; held-out runs only build mmsafe's own "
            f"agents ({', '.join(sorted(allowed_targets()))})"
        )
    rest = {key: value for key, value in config.items() if key != "_target_"}
    return {"_target_": target, **plain_data(rest, where)}


def plain_data(node: Any, path: str) -> Any:
    """Settings with nothing in them that acts: no `_`-key at any depth (Hydra would build a
    nested `_target_`, i.e. run any callable), no `${...}` interpolation (it could read the
    maintainers' environment, the held-out key included), and `*_env` settings dropped (they
    name environment variables whose values are sent: only the maintainer sets them)."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            key = str(key)
            if key.startswith("_"):
                raise MmsafeError(f"the submission's {path}.{key} is not allowed")
            if not key.endswith("_env"):
                out[key] = plain_data(value, f"{path}.{key}")
        return out
    if isinstance(node, list):
        return [plain_data(value, f"{path}[{i}]") for i, value in enumerate(node)]
    if isinstance(node, str) and "${" in node:
        raise MmsafeError(f"the submission's {path} holds an interpolation ({node[:40]!r})")
    return node


def allowed_targets() -> set[str]:
    from mmsafe.config import CONF_DIR

    targets = set()
    for path in (CONF_DIR / "agent").glob("*.yaml"):
        target = OmegaConf.load(path).get("_target_")
        if target:
            targets.add(str(target))
    return targets


def run_heldout(
    bundle_path: str | Path,
    count: int,
    root: str | Path = "leaderboard",
    out: str | Path | None = None,
    overrides: list[str] | None = None,
    tasks: str | Path | None = None,
) -> HeldoutResult:
    """Evaluate the bundle's agent on `count` held-out seeds of the board's envs and on the
    private split of each board task in the folder `tasks`; write and return the published
    result."""
    from mmsafe import __version__
    from mmsafe.config import build_agent, compose_config, heldout_seeds
    from mmsafe.leaderboard.board import board_suite, bundle_id, load_config, rule_breach, score
    from mmsafe.leaderboard.schema import read_bundle
    from mmsafe.run.rundir import RunDir
    from mmsafe.run.runner import RunConfig, evaluate
    from mmsafe.run.units import env_units

    root, bundle_path = Path(root), Path(bundle_path)
    bundle = read_bundle(bundle_path)
    agent_config = checked_agent(bundle.submission.agent)
    config = load_config(root / "leaderboard.yaml")
    suite = board_suite(config)
    if not suite.envs:
        raise MmsafeError(f"the board's suite '{suite.name}' has no envs to hold seeds out of")
    breach = rule_breach(bundle.submission, suite, config)
    if breach:
        raise MmsafeError(f"the submission breaks the board's rules: {breach}")
    cfg = compose_config(["agent=oracle"])
    cfg.agent = OmegaConf.create(agent_config)
    for name, section in bundle.submission.wrappers.items():
        known = WRAPPER_KEYS.get(name, set())
        if not isinstance(section, dict) or not known or set(map(str, section)) - known:
            raise MmsafeError(f"the submission's wrappers.{name} is not a reflect/shield section")
        section = {  # a wrapper's own chat model (critic, model) is an agent config too
            key: checked_agent(value, f"{name}.{key}")
            if key in ("critic", "model") and value is not None
            else plain_data(value, f"{name}.{key}")
            for key, value in section.items()
        }
        cfg[name] = OmegaConf.merge(cfg[name], section)
    for override in overrides or []:
        key, sep, value = override.partition("=")
        if not sep or not key.startswith("agent."):
            raise MmsafeError(f"override {override!r} is not agent.KEY=VALUE")
        OmegaConf.update(cfg, key, yaml.safe_load(value) if value else value)
    ident = bundle_id(bundle_path)
    run = RunConfig(
        envs=suite.envs,
        seeds=heldout_seeds(str(count)),
        tasks=private_tasks(tasks, suite.tasks),
        out=Path(out) if out else Path("runs") / "heldout" / ident,
        env_kwargs=suite.env_kwargs,
        max_invalid=config.max_invalid,
    )
    agent = build_agent(cfg)
    try:
        evaluate(agent, run, {"agent": agent_config, "heldout_of": bundle.sha256}, show=False)
    finally:
        close = getattr(agent, "close", None)
        if callable(close):
            close()
    records = list(RunDir(run.out).load_records(repair=False).values())
    held = {unit.key for unit in env_units(run.envs, run.seeds, run.env_kwargs)}
    records = [r for r in records if r.key in held or r.source in suite.tasks]
    overall, by_mode, _ = score(records, suite.modes)
    result = HeldoutResult(
        bundle_sha256=bundle.sha256,
        created=datetime.now(timezone.utc).replace(microsecond=0),
        mmsafe_version=__version__,
        seeds=count,
        novel=novel_share(run.envs, config.min_seeds, run.seeds, run.env_kwargs),
        episodes=sum(r.sample is None for r in records),
        samples=sum(r.sample is not None for r in records),
        overall=overall,
        by_mode=by_mode,
    )
    path = heldout_file(root, ident)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(result.model_dump_json(indent=2) + "\n")
    return result


def private_tasks(folder: str | Path | None, sources: list[str]) -> list[str]:
    """The task files of the private split in `folder`, one for each board task `sources`: a
    held-out board covers every source, so a task without its private split is an error."""
    if not sources:
        return []
    if folder is None:
        raise MmsafeError(
            f"the board has media tasks ({', '.join(sources)}); give --tasks DIR, the private "
            "split of each (leaderboard/make_heldout_tasks.py DIR draws one with the secret)"
        )
    from mmsafe.data.task import load_task

    folder = Path(folder)
    if not folder.is_dir():
        raise MmsafeError(f"--tasks {folder} is not a folder")
    found = {}
    for path in sorted(folder.glob("*.yaml")):
        found.setdefault(load_task(path).source, str(path))
    missing = [source for source in sources if source not in found]
    if missing:
        raise MmsafeError(f"{folder} has no private split of {', '.join(missing)}")
    return [found[source] for source in sources]


def _first_view(env, seed: int) -> str:
    """A digest of what an episode starts from: the first frame, the mission, and the hidden
    events to come (a rare hazard's spawn)."""
    import hashlib

    obs, _ = env.reset(seed=seed)
    spawns = repr(env.unwrapped.world.spawns).encode()
    return hashlib.sha256(obs["image"].tobytes() + obs["mission"].encode() + spawns).hexdigest()


def novel_share(
    envs: list[str], public_seeds: int, heldout: list[int], env_kwargs: dict
) -> float | None:
    """The share of held-out episodes whose initial world is none of the public seeds'
    0..public_seeds-1: a world the public benchmark already shows can be memorised, and
    held-out seeds only catch memorisation where they draw new worlds."""
    import gymnasium

    from mmsafe.run.units import arms_of

    new = total = 0
    for env_id in envs:
        for arm in arms_of(env_id, env_kwargs):
            kwargs = {**env_kwargs, **({"variant": arm} if arm else {})}
            env = gymnasium.make(env_id, disable_env_checker=True, **kwargs)
            try:
                public = {_first_view(env, seed) for seed in range(public_seeds)}
                new += sum(_first_view(env, seed) not in public for seed in heldout)
                total += len(heldout)
            finally:
                env.close()
    return round(new / total, 4) if total else None
