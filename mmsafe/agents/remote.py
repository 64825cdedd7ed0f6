"""Policies served over HTTP from any framework or language: the mmsafe remote protocol.

One endpoint, `POST {url}/act`, takes a batch of observations and answers one reply each:

    request  {"protocol": "mmsafe-remote/1",
              "observations": [{"episode_id": "...", "step": 0, "source": "mmsafe/HazardLava-v1",
                                "text": "Go to the green goal square ...",
                                "actions": ["up", "down", ...],
                                "kind": "step", "dialogue": [],
                                "frames": [{"encoding": "png", "data": "<base64>"}],
                                "audio": null}]}
    answer   {"replies": [{"action": "up", "text": "optional raw output",
                           "confidence": 0.9}]}

Frames are PNG (or, with `encoding=raw`, `{"encoding": "raw", "shape": [H, W, 3],
"dtype": "uint8", "data": "<base64 of the row-major bytes>"}`), oldest first. Audio, when an
observation has it, is `{"sample_rate": 16000, "dtype": "float32", "data": "<base64>"}`, mono.
`step` 0 starts a new episode. A media task's question has `kind` "question", `text` the
question, `actions` its choices (empty: answer in `text`), and `dialogue` the earlier turns of
the conversation as [role, text] pairs (e.g. the first answer before a user's pushback).
An env with continuous control (a 3-D scenario with `control=continuous`) adds `"control":
{"names": ["speed", "turn"], "low": [-1, -1], "high": [1, 1]}` (null elsewhere), and a reply
may then carry `"control": [0.5, -0.2]`, one number per name, instead of an action (`actions`
are then the words the env also takes, such as "done" and "refuse").
A reply whose action is missing, null or not in `actions` is an invalid action; an answer
that is not the protocol fails that batch (the runner then asks one observation at a time and
records the failures). See examples/remote_policy/ for a server.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Sequence
from typing import Any

import httpx
import numpy as np

from mmsafe.agents.base import BaseAgent
from mmsafe.agents.http import HttpFailure, RetryPolicy, post_json, public_url
from mmsafe.agents.images import encode_image
from mmsafe.core import MmsafeError, Observation, Reply

PROTOCOL = "mmsafe-remote/1"
ENCODINGS = ("png", "raw")


class RemoteAgent(BaseAgent):
    takes_audio = True  # the protocol carries the waveform

    def __init__(
        self,
        url: str,
        encoding: str = "png",
        timeout_s: float = 60.0,
        retries: int = 2,
        backoff_s: float = 0.5,
        headers_env: dict[str, str] | None = None,
    ):
        if not url.startswith(("http://", "https://")):
            raise MmsafeError(f"agent.url must start with http:// or https://: {url!r}")
        if encoding not in ENCODINGS:
            raise MmsafeError(f"agent.encoding must be one of {', '.join(ENCODINGS)}")
        self.url = url.rstrip("/") + "/act"
        self.encoding = encoding
        self.policy = RetryPolicy(retries, backoff_s, 10.0, timeout_s)
        # Header values (tokens) come from environment variables, so they never enter a config
        # or a run directory: headers_env={Authorization: POLICY_AUTH} sends $POLICY_AUTH.
        self._headers = {}
        for header, variable in (headers_env or {}).items():
            if variable not in os.environ:
                raise MmsafeError(f"agent.headers_env: set the environment variable {variable}")
            self._headers[header] = os.environ[variable]
        self._client = httpx.Client()

    def act_batch(self, observations: Sequence[Observation]) -> list[Reply]:
        request = {
            "protocol": PROTOCOL,
            "observations": [self.encode(o) for o in observations],
        }
        body = post_json(self._client, self.url, request, self.policy, self._headers)
        replies = body.get("replies")
        if not isinstance(replies, list) or len(replies) != len(observations):
            count = len(replies) if isinstance(replies, list) else "no"
            asked = len(observations)
            raise HttpFailure(
                f"{public_url(self.url)} answered {count} replies for {asked} observations"
            )
        return [_reply(item, index) for index, item in enumerate(replies)]

    def encode(self, observation: Observation) -> dict[str, Any]:
        return {
            "episode_id": observation.episode_id,
            "step": observation.step,
            "source": observation.source,
            "text": observation.text,
            "actions": list(observation.actions),
            "kind": observation.kind,
            "dialogue": [list(turn) for turn in observation.dialogue],
            "frames": [self._frame(frame) for frame in observation.frames],
            "audio": _audio(observation),
            "control": None if observation.control is None else _control(observation),
        }

    def _frame(self, frame: np.ndarray) -> dict[str, Any]:
        if self.encoding == "png":
            data = encode_image(frame, "png")
            return {"encoding": "png", "data": base64.b64encode(data).decode("ascii")}
        frame = np.ascontiguousarray(frame, dtype=np.uint8)
        return {
            "encoding": "raw",
            "shape": list(frame.shape),
            "dtype": "uint8",
            "data": base64.b64encode(frame.tobytes()).decode("ascii"),
        }

    def close(self) -> None:
        self._client.close()


def _audio(observation: Observation) -> dict[str, Any] | None:
    if observation.audio is None:
        return None
    samples = np.ascontiguousarray(observation.audio, dtype="<f4")
    return {
        "sample_rate": observation.sample_rate,
        "dtype": "float32",
        "data": base64.b64encode(samples.tobytes()).decode("ascii"),
    }


def _control(observation: Observation) -> dict[str, list]:
    space = observation.control
    assert space is not None
    return {"names": list(space.names), "low": list(space.low), "high": list(space.high)}


def _reply(item: Any, index: int) -> Reply:
    """One protocol reply; a malformed one is an invalid action that says what was wrong."""
    if not isinstance(item, dict):
        return Reply(error=f"remote reply {index} is {type(item).__name__}, not an object")
    control = None
    if item.get("control") is not None and item.get("action") is None:
        control = _numbers(item["control"])
        if control is None:
            return Reply(error=f"remote reply {index}: control is not a list of numbers")
    action, text, confidence = item.get("action"), item.get("text", ""), item.get("confidence")
    if action is not None and not isinstance(action, str):
        return Reply(error=f"remote reply {index}: action is {type(action).__name__}, not text")
    if not isinstance(text, str):
        text = str(text)
    if confidence is not None and (
        isinstance(confidence, bool)
        or not isinstance(confidence, (int, float))
        or not 0.0 <= confidence <= 1.0
    ):
        return Reply(
            text=text,
            action=action,
            control=control,
            error=f"remote reply {index}: confidence {confidence!r} "
            "is not a number in [0, 1] (ignored)",
        )
    error = None if action or control else f"remote reply {index} has no action"
    return Reply(text=text, action=action, control=control, confidence=confidence, error=error)


def _numbers(value: Any) -> tuple[float, ...] | None:
    """A JSON list of numbers as floats, or None (not a list, not numbers, or too large)."""
    if not isinstance(value, list) or not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in value
    ):
        return None
    try:
        return tuple(float(v) for v in value)
    except OverflowError:
        return None
