"""Models named on the Hugging Face hub, checked before a loader asks the hub for them.

Without a network transformers and open_clip retry every file for a minute or more before
failing. So a hub name is checked first, in seconds: with HF_HUB_OFFLINE=1 set it must be in
the Hugging Face cache; otherwise the hub (HF_ENDPOINT, by default https://huggingface.co)
must answer within PROBE_TIMEOUT_S. Either failure is one line that says what to do: pass a
local folder, or, for weights already in the cache, set HF_HUB_OFFLINE=1. Local folders are
never checked, and never touch the network.
"""

from __future__ import annotations

import os
import ssl
import threading
import urllib.error
import urllib.request
from pathlib import Path

from mmsafe.core import MmsafeError

PROBE_TIMEOUT_S = 3.0
JUDGE_LOCAL = "judge.<name>.model=/path/to/folder"  # a judge does not know its config key
_TRUE = {"1", "ON", "YES", "TRUE"}  # as huggingface_hub reads its switches


def looks_local(name: str) -> bool:
    """Whether `name` is a folder rather than a hub id (`owner/name`): one that exists, or one
    written as a path (a typo there is the loader's "no such folder", not a hub question)."""
    return (
        Path(name).expanduser().exists()
        or name.startswith((".", "/", "~"))
        or name.count("/") > 1
        or "\\" in name
    )


def offline() -> bool:
    """HF_HUB_OFFLINE (or the older TRANSFORMERS_OFFLINE) is set: read the cache only."""
    switch = os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE") or ""
    return switch.upper() in _TRUE


def endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")


def cache_dir() -> Path:
    """Where huggingface_hub keeps downloads (HF_HUB_CACHE, else HF_HOME/hub)."""
    named = os.environ.get("HF_HUB_CACHE") or os.environ.get("HUGGINGFACE_HUB_CACHE")
    if named:
        return Path(named).expanduser()
    home = os.environ.get("HF_HOME") or Path(
        os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache", "huggingface"
    )
    return Path(home).expanduser() / "hub"


def cached(repo_id: str) -> bool:
    """Whether some snapshot of the model `repo_id` is in the cache (it may lack files)."""
    snapshots = cache_dir() / f"models--{repo_id.replace('/', '--')}" / "snapshots"
    return snapshots.is_dir() and any(snapshots.iterdir())


def reachable(url: str, timeout: float = PROBE_TIMEOUT_S) -> bool:
    """Whether `url` answers HTTP within `timeout` seconds (any status: it is up), through the
    proxy the environment names. In a thread, since a name lookup ignores socket timeouts."""
    answered: list[bool] = []

    def probe() -> None:
        try:
            urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout)
            answered.append(True)
        except urllib.error.HTTPError:  # a status code is an answer
            answered.append(True)
        except (OSError, ValueError) as error:  # refused, timed out, no route, no such host
            # a TLS handshake that failed here was answered: Python's own certificates may be
            # missing where the hub client's (certifi) work, so that client decides
            if isinstance(getattr(error, "reason", error), ssl.SSLError):
                answered.append(True)

    thread = threading.Thread(target=probe, daemon=True, name="mmsafe-hub-probe")
    thread.start()
    thread.join(timeout + 1.0)
    return bool(answered)


def check_hub(repo_id: str, local: str = "model=/path/to/folder") -> None:
    """Return if a loader may ask for the hub model `repo_id`, else raise a one-line
    MmsafeError; `local` is the setting that loads a local folder instead."""
    check_cached(repo_id, local)
    check_reachable(repo_id, local)


def check_cached(repo_id: str, local: str) -> None:
    """With HF_HUB_OFFLINE set, raise a one-line MmsafeError unless `repo_id` is cached."""
    if offline() and not cached(repo_id):
        raise MmsafeError(
            f"{repo_id} is not in the Hugging Face cache ({cache_dir()}) and HF_HUB_OFFLINE=1 is "
            f"set: pass a local folder instead ({local}), or unset HF_HUB_OFFLINE where the hub "
            "is reachable to download it"
        )


def check_reachable(shown: str, local: str) -> None:
    """Unless HF_HUB_OFFLINE is set, raise a one-line MmsafeError if the hub does not answer
    (`shown` names the model in it)."""
    if not offline() and not reachable(endpoint()):
        raise MmsafeError(
            f"cannot reach the Hugging Face hub at {endpoint()} to get {shown}: pass a local "
            f"folder instead ({local}), or, if its weights are already in the Hugging Face "
            "cache, set HF_HUB_OFFLINE=1"
        )
