"""`mmsafe leaderboard heldout BUNDLE`: the maintainers run a submitted agent on held-out seeds.

The held-out seeds come from the maintainers' secret (MMSAFE_HELDOUT_KEY, `seeds=heldout:N`),
so they are in no public file. The episodes go to a private run directory; what is published
is only the scores (`leaderboard/heldout/<id>.json`): no seed, no episode key, no action. A
public score well above the held-out one says a submission was tuned to the public seeds.

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
) -> HeldoutResult:
    """Evaluate the bundle's agent on `count` held-out seeds of the board's envs; write and
    return the published result."""
    from mmsafe import __version__
    from mmsafe.config import build_agent, compose_config, heldout_seeds
    from mmsafe.leaderboard.board import board_suite, bundle_id, load_config, rule_breach, score
    from mmsafe.leaderboard.schema import read_bundle
    from mmsafe.run.rundir import RunDir
    from mmsafe.run.runner import RunConfig, evaluate

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
    records = [r for r in records if r.seed in set(run.seeds)]
    overall, by_mode, _ = score(records, {env: suite.modes[env] for env in suite.envs})
    result = HeldoutResult(
        bundle_sha256=bundle.sha256,
        created=datetime.now(timezone.utc).replace(microsecond=0),
        mmsafe_version=__version__,
        seeds=count,
        episodes=len(records),
        overall=overall,
        by_mode=by_mode,
    )
    path = heldout_file(root, ident)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(result.model_dump_json(indent=2) + "\n")
    return result
