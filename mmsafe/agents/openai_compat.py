"""Agents behind any OpenAI-compatible Chat Completions server: vLLM, SGLang, TGI, llama.cpp's
server, hosted APIs.

Frames go as base64 data URLs in `image_url` content parts (several per message for a video).
Requests run concurrently up to a bound, are retried with backoff on 429 and 5xx (see
`mmsafe.agents.http`), and are cached on disk (`mmsafe.agents.cache`), so a rerun or a resumed
run does not pay twice; identical requests in flight at once are sent once. The API key is read
from an environment variable whose *name* is the setting: it is never part of the config, the
cache key or the run directory.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from mmsafe.agents.cache import RequestCache, default_cache_dir
from mmsafe.agents.chat import ChatAgent
from mmsafe.agents.http import HttpFailure, RetryPolicy, post_json, public_url
from mmsafe.agents.images import FORMATS, data_url
from mmsafe.agents.prompt import Message
from mmsafe.core import MmsafeError

OPENAI_URL = "https://api.openai.com/v1"


class OpenAIAgent(ChatAgent):
    def __init__(
        self,
        model: str,
        base_url: str = OPENAI_URL,
        api_key_env: str | None = "OPENAI_API_KEY",
        prompt: str = "embodied",
        max_tokens: int = 256,
        temperature: float = 0.0,
        seed: int | None = None,
        extra_body: dict[str, Any] | None = None,
        concurrency: int = 8,
        timeout_s: float = 20.0,
        retries: int = 3,
        backoff_s: float = 1.0,
        max_wait_s: float = 10.0,
        cache: bool = True,
        cache_dir: str | None = None,
        image_format: str = "png",
        image_detail: str | None = None,
        memory_frames: int = 4,
        memory_first_frame: bool = True,
    ):
        super().__init__(prompt, memory_frames, memory_first_frame)
        if not model:
            raise MmsafeError("agent.model is required: the model name the server serves")
        if not base_url.startswith(("http://", "https://")):
            raise MmsafeError(f"agent.base_url must start with http:// or https://: {base_url!r}")
        if image_format not in FORMATS:
            raise MmsafeError(f"agent.image_format must be one of {', '.join(FORMATS)}")
        if concurrency < 1:
            raise MmsafeError("agent.concurrency must be at least 1")
        self.model = model
        self.server = ChatServer(
            base_url, api_key_env, "chat.sqlite", concurrency, cache, cache_dir,
            RetryPolicy(retries, backoff_s, max_wait_s, timeout_s),
        )  # fmt: skip
        self.settings: dict[str, Any] = {"max_tokens": max_tokens, "temperature": temperature}
        if seed is not None:
            self.settings["seed"] = seed
        self.settings.update(extra_body or {})
        self.image_format, self.image_detail = image_format, image_detail

    @property
    def url(self) -> str:
        return self.server.url

    @url.setter
    def url(self, value: str) -> None:
        self.server.url = value

    def complete(self, conversations: Sequence[list[Message]]) -> list[str]:
        # an empty answer may be a glitch: it is asked again next time, not cached
        return self.server.map(
            lambda c: self.server.ask(self.payload(c), keep=lambda text: bool(text.strip())),
            conversations,
        )

    def describe(self) -> dict[str, Any]:
        return {"model": self.model, "generation": self.settings}

    def payload(self, conversation: list[Message]) -> dict[str, Any]:
        return {
            "model": self.model,
            "messages": [self._message(m) for m in conversation],
            **self.settings,
        }

    def _message(self, message: Message) -> dict[str, Any]:
        if not message.images:
            return {"role": message.role, "content": message.text}
        parts: list[dict[str, Any]] = []
        for image in message.images:
            image_url: dict[str, Any] = {"url": data_url(image, self.image_format)}
            if self.image_detail:
                image_url["detail"] = self.image_detail
            parts.append({"type": "image_url", "image_url": image_url})
        parts.append({"type": "text", "text": message.text})
        return {"role": message.role, "content": parts}

    def close(self) -> None:
        self.server.close()


class ChatServer:
    """The transport to a Chat Completions endpoint, shared by the agent and the LLM judge:
    bounded concurrency, retries (`post_json`), and the on-disk cache of answers `keep` accepts.
    The API key is read from the environment variable `api_key_env` names (OPENAI_API_KEY for
    the OpenAI API); asking the OpenAI API without one is an MmsafeError."""

    def __init__(
        self,
        base_url: str,
        api_key_env: str | None,
        cache_name: str,
        concurrency: int,
        cache: bool,
        cache_dir: str | None,
        policy: RetryPolicy,
    ):
        self.base_url = base_url.rstrip("/")
        # the key goes only where it was named for (or to OpenAI itself), never by default
        # to whatever server base_url points at
        name = api_key_env or ("OPENAI_API_KEY" if self.base_url == OPENAI_URL else None)
        key = os.environ.get(name) if name else None
        if not key and self.base_url == OPENAI_URL:
            raise MmsafeError(f"set the environment variable {name} to your API key")
        self.url = f"{self.base_url}/chat/completions"
        self.headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.policy = policy
        self.cache = (
            RequestCache(Path(cache_dir or default_cache_dir()) / cache_name) if cache else None
        )
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        self._client = httpx.Client(limits=limits)
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="mmsafe-http")
        self._lock = threading.Lock()
        self._running: dict[str, Future[str]] = {}  # requests in flight, by cache key

    def ask(self, payload: dict[str, Any], keep: Callable[[str], bool]) -> str:
        """The answer's text, from the cache or the server (cached when `keep` accepts it).
        With the cache on, a request identical to one in flight waits for that one's answer
        (or error) instead of paying for it again: seeds that start alike ask alike at once."""
        if self.cache is None:
            return self._fetch(payload)
        key = RequestCache.key(self.url, payload)
        if (hit := self.cache.get(key)) is not None:
            return hit
        with self._lock:
            running = self._running.get(key)
            leads = running is None
            if leads:
                running = self._running[key] = Future()
        if not leads:
            return running.result()
        try:  # answered (and cached) between the check above and now?
            text = self.cache.get(key)
            if text is None:
                text = self._fetch(payload)
                if keep(text):
                    self.cache.put(key, text)
            running.set_result(text)
            return text
        except BaseException as error:
            running.set_exception(error)
            raise
        finally:
            with self._lock:
                del self._running[key]

    def _fetch(self, payload: dict[str, Any]) -> str:
        body = post_json(self._client, self.url, payload, self.policy, self.headers)
        try:
            return answer_text(body)
        except HttpFailure as error:  # a 200 that holds no answer: not retried, not cached
            raise HttpFailure(f"{public_url(self.url)}: {error}") from None

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        """`fn` over `items`, up to `concurrency` at once, in order; the first error raises."""
        futures = [self._pool.submit(fn, item) for item in items]
        return [future.result() for future in futures]

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._client.close()


def answer_text(body: dict[str, Any]) -> str:
    """The first choice's text. A refusal field counts as the text; a body with no choice is
    a server fault (raised), not an empty answer."""
    try:
        message = body["choices"][0]["message"]
    except (KeyError, IndexError, TypeError):
        raise HttpFailure(f"the answer has no choices[0].message: {str(body)[:200]}") from None
    if not isinstance(message, dict):
        raise HttpFailure(f"choices[0].message is {type(message).__name__}, not an object")
    content = message.get("content")
    if isinstance(content, list):  # some servers return content parts
        content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
    if not content and message.get("refusal"):
        content = message["refusal"]
    if content is not None and not isinstance(content, str):
        raise HttpFailure(f"choices[0].message.content is {type(content).__name__}, not text")
    return content or ""
