"""Models named on the Hugging Face hub, checked before a loader asks the hub for them.

Without a network transformers and open_clip retry every file for a minute or more before
failing. So a hub name is checked first, in seconds: with HF_HUB_OFFLINE=1 set it must be in
the Hugging Face cache; otherwise the hub (HF_ENDPOINT, by default https://huggingface.co)
must answer within PROBE_TIMEOUT_S, or else hold the model in its cache (the run then reads
only the cache, as with HF_HUB_OFFLINE=1). A failure is one line that says what to do: pass a
local folder, or download the weights where the hub is reachable. Local folders are never
checked, and never touch the network.
"""

from __future__ import annotations

import os
import ssl
import sys
import threading
import urllib.error
import urllib.request
import warnings
from pathlib import Path

from mmsafe.core import MmsafeError

# Seconds the hub has to answer; MMSAFE_HUB_TIMEOUT_S raises it where name lookups are slow.
PROBE_TIMEOUT_S = float(os.environ.get("MMSAFE_HUB_TIMEOUT_S") or 3.0)
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


def reachable(url: str, timeout: float | None = None) -> bool:
    """Whether `url` answers HTTP within `timeout` seconds (any status: it is up), through the
    proxy the environment names. In a thread, since a name lookup ignores socket timeouts."""
    timeout = PROBE_TIMEOUT_S if timeout is None else timeout
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


def check_hub(repo_id: str, local: str = "model=/path/to/folder", shown: str = "") -> None:
    """Return if a loader may ask for the hub model `repo_id`, else raise a one-line
    MmsafeError. `local` is the setting that loads a local folder instead; `shown` names the
    model in messages (default `repo_id`). Where the hub does not answer but the cache holds
    the model, the run goes on offline, as HF_HUB_OFFLINE=1 would have it."""
    shown = shown or repo_id
    if offline():
        if not cached(repo_id):
            raise MmsafeError(
                f"{shown} is not in the Hugging Face cache ({cache_dir()}) and HF_HUB_OFFLINE=1 "
                f"is set: pass a local folder instead ({local}), or unset HF_HUB_OFFLINE where "
                "the hub is reachable to download it"
            )
        return
    if reachable(endpoint()):
        return
    if cached(repo_id):
        go_offline()
        warnings.warn(
            f"the Hugging Face hub at {endpoint()} does not answer: {shown} is read from the "
            f"cache ({cache_dir()}), as with HF_HUB_OFFLINE=1",
            stacklevel=2,
        )
        return
    raise MmsafeError(
        f"cannot reach the Hugging Face hub at {endpoint()} to get {shown}: pass a local "
        f"folder instead ({local}), or, if its weights are already in the Hugging Face cache, "
        "set HF_HUB_OFFLINE=1"
    )


def go_offline() -> None:
    """Read only the cache from here on: huggingface_hub (and transformers through it) reads
    the switch when it is imported, so one already imported is switched too."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    constants = sys.modules.get("huggingface_hub.constants")
    if constants is not None:
        constants.HF_HUB_OFFLINE = True
