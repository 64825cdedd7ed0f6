"""`mmsafe leaderboard pack RUN_DIR`: a finished run directory as a submission bundle.

The bundle holds what verification needs and nothing private: the agent's config, each env
episode's seed and actions (with the replies and the world-state digest of each step), each
media sample's replies, the claimed metrics, the submitter's verdicts, and a manifest of
SHA-256 hashes of every file and of the suite content the run was made on. A run on held-out
seeds is refused: those seeds are the maintainers' secret.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

from mmsafe.core import HELDOUT_SEED_BASE, MmsafeError
from mmsafe.leaderboard.archive import write_bundle
from mmsafe.leaderboard.schema import Manifest, ModelInfo, Submission, SuiteInfo
from mmsafe.run.rundir import RunDir
from mmsafe.run.units import env_units
from mmsafe.sim.scenario import CATALOG_PATH
from mmsafe.sources import env_source


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def suite_content(envs: list[str], tasks: list) -> dict[str, str]:
    """SHA-256 of everything that decides what the episodes and samples are: the object
    catalog, each scenario file, each task file, its samples as read, and each media file.
    `tasks` is `load_task_work(...)`. A missing media file hashes as `missing`."""
    content = {"catalog": sha256_file(CATALOG_PATH)}
    for env in envs:
        content[f"env:{env}"] = sha256_file(env_source(env).path)
    for task, samples in tasks:
        content[f"task:{task.source}"] = sha256_file(task.path)
        lines = "".join(sample.model_dump_json() + "\n" for sample, _ in samples)
        content[f"samples:{task.source}"] = hashlib.sha256(lines.encode()).hexdigest()
        for path in sorted({p for _, media in samples for p in media.values()}):
            try:
                name = path.relative_to(task.media_root).as_posix()
            except ValueError:
                name = path.name
            try:
                content[f"media:{task.source}:{name}"] = sha256_file(path)
            except OSError:
                content[f"media:{task.source}:{name}"] = "missing"
    return content


def _read_json(path: Path, what: str) -> dict:
    if not path.exists():
        raise MmsafeError(f"{path.parent} has no {path.name}; {what}")
    try:
        value = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise MmsafeError(f"{path} cannot be read: {error}") from None
    if not isinstance(value, dict):
        raise MmsafeError(f"{path} is not an mmsafe file")
    return value


def pack(
    run_dir: str | Path,
    out: str | Path | None = None,
    model: str | None = None,
    version: str | None = None,
) -> Path:
    """Write the bundle of a finished run (default `RUN_DIR.submission.tar.gz`); returns it."""
    from mmsafe import __version__
    from mmsafe.config import resolve_tasks
    from mmsafe.run.runner import content_hashes, load_task_work, task_hashes

    folder = Path(run_dir)
    if not folder.is_dir():
        raise MmsafeError(f"run directory {folder} does not exist")
    identity = _read_json(folder / "run.json", "is it a run directory?")
    metrics = _read_json(folder / "metrics.json", "finish the run first (rerun its command)")
    try:
        config = yaml.safe_load((folder / "config.yaml").read_text()) or {}
    except (OSError, yaml.YAMLError) as error:
        raise MmsafeError(f"{folder / 'config.yaml'} cannot be read: {error}") from None
    if not isinstance(config, dict) or not isinstance(config.get("suite") or {}, dict):
        raise MmsafeError(f"{folder / 'config.yaml'} is not an mmsafe run config")
    seeds = metrics.get("seeds") or []
    if any(isinstance(s, str) or s >= HELDOUT_SEED_BASE for s in seeds):
        raise MmsafeError(
            f"{folder} ran on held-out seeds; those stay with the maintainers and are never "
            "packed (pack a run on public seeds)"
        )
    envs: list[str] = metrics.get("envs") or []
    suite = config.get("suite") or {}
    try:
        tasks = load_task_work(resolve_tasks(suite.get("tasks") or []))
    except MmsafeError as error:
        where = "pack from the folder you ran it in"
        raise MmsafeError(f"cannot load the run's tasks ({error}); {where}") from None
    _check_unchanged(identity, content_hashes(envs), task_hashes(tasks), folder)
    keys = [unit.key for unit in env_units(envs, seeds, identity.get("env_kwargs") or {})]
    keys += [
        f"{task.source}#sample={sample.id}" for task, samples in tasks for sample, _ in samples
    ]
    run = RunDir(folder)
    records = run.load_records(repair=False)
    missing = [key for key in keys if key not in records]
    if missing:
        raise MmsafeError(f"{folder} lacks {len(missing)} episodes (e.g. {missing[0]}); finish it")
    files: dict[str, bytes] = {
        "episodes.jsonl": "".join(records[k].model_dump_json() + "\n" for k in keys).encode(),
        "metrics.json": json.dumps(metrics, indent=2).encode(),
    }
    if (folder / "judges.json").exists():
        judges = _read_json(folder / "judges.json", "")
        ids = {entry.get("id") for entry in judges.values() if isinstance(entry, dict)}
        wanted = set(keys)
        stored = run.load_judgements(repair=False)
        lines = [j for (key, judge), j in sorted(stored.items()) if key in wanted and judge in ids]
        files["judges.json"] = json.dumps(judges, indent=2).encode()
        files["verdicts.jsonl"] = "".join(j.model_dump_json() + "\n" for j in lines).encode()
    submission = Submission(
        mmsafe_version=__version__,
        created=datetime.now(timezone.utc).replace(microsecond=0),
        model=_model_info(config.get("agent") or {}, model, version),
        agent=config.get("agent") or {},
        agent_class=str(identity.get("class") or ""),
        privileged=bool(identity.get("privileged", False)),
        wrappers={
            name: config[name]
            for name, on in (("reflect", "rounds"), ("shield", "checker"))
            if isinstance(config.get(name), dict) and config[name].get(on)
        },
        agent_fingerprint=identity.get("fingerprint"),
        prompt_sha256=_prompt_hash(identity.get("fingerprint")),
        simulator=_simulator(identity),
        suite=SuiteInfo(
            name=str(suite.get("name", "")),
            envs=envs,
            seeds=seeds,
            tasks=[task.source for task, _ in tasks],
            env_kwargs=identity.get("env_kwargs") or {},
            max_invalid=identity.get("max_invalid", 5),
        ),
    )
    files["submission.json"] = submission.model_dump_json(indent=2).encode()
    manifest = Manifest(
        files={name: hashlib.sha256(data).hexdigest() for name, data in sorted(files.items())},
        suite=suite_content(envs, tasks),
    )
    files["manifest.json"] = manifest.model_dump_json(indent=2).encode()
    target = Path(out) if out else folder.with_name(folder.name + ".submission.tar.gz")
    return write_bundle(files, target)


def _simulator(identity: dict) -> dict[str, str]:
    """The MuJoCo version and the platform the run recorded, for a run with 3-D envs: MuJoCo
    replays the same actions to the same states only on one version and platform."""
    if not identity.get("mujoco"):
        return {}
    return {key: str(identity[key]) for key in ("mujoco", "platform") if identity.get(key)}


def _check_unchanged(identity: dict, envs: dict, tasks: dict, folder: Path) -> None:
    """The suite content on disk now is what the run was made on (run.json's hashes)."""
    recorded = identity.get("content") or {}
    for name, now in {**envs, **tasks}.items():
        if recorded.get(name) != now:
            raise MmsafeError(
                f"the content of {name} changed since {folder} was run; "
                "rerun the evaluation on this content (or restore the files) before packing"
            )


def _model_info(agent: dict[str, Any], name: str | None, version: str | None) -> ModelInfo:
    """The model's name and version: given, else the agent config's model and revision, else
    the agent's own name (a scripted control)."""
    found = agent.get("model") or agent.get("name") or "agent"
    revision = agent.get("revision") or agent.get("pretrained") or ""
    return ModelInfo(name=name or str(found), version=str(revision) if version is None else version)


def _prompt_hash(fingerprint: Any) -> str | None:
    if isinstance(fingerprint, dict):
        prompt = fingerprint.get("prompt")
        if isinstance(prompt, dict) and prompt.get("sha256"):
            return str(prompt["sha256"])
        if fingerprint.get("prompt_sha256"):
            return str(fingerprint["prompt_sha256"])
    return None
