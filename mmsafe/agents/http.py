"""JSON over HTTP with bounded retries, shared by the OpenAI-compatible and remote agents.

Retried: timeouts, dropped connections, malformed JSON, and HTTP 408, 409, 425, 429 and 5xx,
waiting as the server's `Retry-After` asks (capped) or with exponential backoff. Other 4xx
answers are the caller's mistake and raise at once with the server's message.

An error names the URL without its credentials (user:password@, query string), and no header
value sent (an API key) ever appears in it, even where the server's message echoes it back.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import httpx

RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


class HttpFailure(RuntimeError):
    """The server did not give a usable answer (after retries where retrying made sense)."""


@dataclass(frozen=True)
class RetryPolicy:
    retries: int = 4  # attempts after the first
    backoff_s: float = 1.0  # the first wait; doubled after each failure
    max_wait_s: float = 60.0  # no wait is longer, whatever Retry-After says
    timeout_s: float = 120.0  # per request


def post_json(
    client: httpx.Client,
    url: str,
    payload: dict[str, Any],
    policy: RetryPolicy,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    problem, secrets = "no attempt made", _secrets(url, headers)
    shown = public_url(url)
    for attempt in range(policy.retries + 1):
        wait = min(policy.backoff_s * 2**attempt, policy.max_wait_s)
        try:
            response = _post(client, url, payload, headers, policy.timeout_s)
        except (httpx.TimeoutException, _Deadline):
            problem = f"no answer within {policy.timeout_s:g}s"
        except httpx.TransportError as error:
            problem = f"connection failed ({type(error).__name__}: {error})"
        else:
            status = response.status_code
            if status == 200:
                try:
                    body = response.json()
                except ValueError:
                    body = None
                if isinstance(body, dict):
                    return body
                text = _snippet(redact(response.text, secrets))
                problem = f"malformed JSON in the answer: {text}"
            elif status in RETRY_STATUS:
                problem = f"HTTP {status}: {server_message(response, secrets)}"
                asked = retry_after(response)
                if asked is not None:
                    wait = min(asked, policy.max_wait_s)
            else:
                message = f"{shown}: HTTP {status}: {server_message(response, secrets)}"
                raise HttpFailure(redact(message, secrets))
        if attempt < policy.retries:
            time.sleep(wait * random.uniform(1.0, 1.1))
    message = f"{shown}: {problem} (gave up after {policy.retries + 1} attempts)"
    raise HttpFailure(redact(message, secrets))


def public_url(url: str) -> str:
    """The URL as an error may show it: without user:password@, query string or fragment."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, "", ""))


def _secrets(url: str, headers: dict[str, str] | None) -> tuple[str, ...]:
    """What must never be shown: every header value sent (and its last word, the token of
    `Bearer TOKEN`), and the URL's credentials and query values."""
    parts, found = urlsplit(url), set()
    for value in (headers or {}).values():
        found.update((value, value.split()[-1] if value.split() else value))
    found.update(filter(None, (parts.username, parts.password)))
    found.update(value for _, value in parse_qsl(parts.query))
    # longest first, so that a token inside a header value is not left half-replaced
    return tuple(sorted((s for s in found if len(s) >= 4), key=len, reverse=True))


def redact(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


class _Deadline(Exception):
    pass


def _post(
    client: httpx.Client,
    url: str,
    payload: dict[str, Any],
    headers: dict[str, str] | None,
    timeout_s: float,
) -> httpx.Response:
    """POST and read the answer within `timeout_s` in all (httpx's own timeouts are per read,
    so a server that trickles bytes would otherwise hold a request for ever)."""
    deadline = time.monotonic() + timeout_s
    with client.stream("POST", url, json=payload, headers=headers, timeout=timeout_s) as response:
        chunks: list[bytes] = []
        for chunk in response.iter_bytes():
            chunks.append(chunk)
            if time.monotonic() > deadline:
                raise _Deadline
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            content=b"".join(chunks),
            request=response.request,
        )


def retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def server_message(response: httpx.Response, secrets: tuple[str, ...] = ()) -> str:
    """The error message in an OpenAI-style error body, else the start of the body; `secrets`
    are redacted before it is cut short, so none can survive in part."""
    try:
        body = response.json()
        error = body.get("error") if isinstance(body, dict) else None
        message = error.get("message") if isinstance(error, dict) else error or body.get("detail")
        if message:
            return _snippet(redact(str(message), secrets))
    except (ValueError, AttributeError):
        pass
    return _snippet(redact(response.text, secrets)) or response.reason_phrase


def _snippet(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
