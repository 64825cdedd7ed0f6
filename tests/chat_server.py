"""A local server that speaks the OpenAI Chat Completions protocol, for tests.

It answers with `answer(request) -> str` (by default: a fixed policy that picks the first move
from the "Allowed actions" line), checks requests the way real servers do (model, messages,
image_url data URLs) and can be told to misbehave: `faults` is a queue of what the next
requests get instead of an answer (one of FAULTS; "429:VALUE" sends `Retry-After: VALUE`, in
seconds or as an HTTP date). `times` keeps when each request arrived (time.monotonic()).
"""

from __future__ import annotations

import base64
import json
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

FAULTS = ("429", "500", "502", "503", "400", "401", "404", "slow", "drip", "drop", "cut")
FAULTS += ("badjson", "nochoices", "empty")


def first_move(request: dict[str, Any]) -> str:
    text = json.dumps(request["messages"][-1])
    allowed = re.search(r"Allowed actions: ([a-z, ]+)", text)
    actions = allowed.group(1).split(", ") if allowed else ["wait"]
    return json.dumps({"action": actions[0], "confidence": 0.5})


class ChatServer:
    def __init__(self, answer: Callable[[dict], str] = first_move, slow_s: float = 2.0):
        self.answer = answer
        self.slow_s = slow_s
        self.faults: deque[str] = deque()
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        self.times: list[float] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                server._handle(self)

            def log_message(self, *args) -> None:
                pass

        self._http = _QuietServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self._http.server_port}/v1"
        self._thread = threading.Thread(  # a short poll: shutting down takes no half second
            target=self._http.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> ChatServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._http.shutdown()
        self._http.server_close()

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        body = handler.rfile.read(int(handler.headers.get("Content-Length", 0)))
        with self._lock:
            self.times.append(time.monotonic())
            fault = self.faults.popleft() if self.faults else None
        if handler.path != "/v1/chat/completions":
            return _send(handler, 404, {"error": {"message": "not found"}})
        request = json.loads(body)
        with self._lock:
            self.requests.append(request)
            self.headers.append(dict(handler.headers))
        problem = _invalid(request)
        if problem:
            return _send(handler, 400, {"error": {"message": problem, "type": "invalid_request"}})
        if fault is not None and fault.startswith("429"):
            wait = {"Retry-After": fault.partition(":")[2] or "0"}
            return _send(handler, 429, {"error": {"message": "rate limited"}}, wait)
        if fault in ("500", "502", "503"):
            return _send(handler, int(fault), {"error": {"message": "server overloaded"}})
        if fault in ("400", "401", "404"):
            # a careless proxy that echoes the credentials it was sent
            said = handler.headers.get("Authorization", "none")
            message = f"request rejected ({fault}); you sent authorization {said}"
            return _send(handler, int(fault), {"error": {"message": message}})
        if fault == "slow":
            time.sleep(self.slow_s)
        if fault == "drip":  # a byte at a time: each read is quick, the answer never ends
            handler.send_response(200)
            handler.send_header("Content-Length", "100000")
            handler.end_headers()
            for _ in range(200):
                handler.wfile.write(b" ")
                handler.wfile.flush()
                time.sleep(0.05)
            return None
        if fault == "drop":
            handler.close_connection = True
            handler.connection.close()
            return None
        if fault == "cut":  # headers and half the promised body, then the socket closes
            data = json.dumps(_completion(request, self.answer(request), 0)).encode()
            handler.send_response(200)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data[: len(data) // 2])
            handler.wfile.flush()
            handler.close_connection = True
            handler.connection.shutdown(socket.SHUT_RDWR)
            handler.connection.close()
            return None
        if fault == "badjson":
            return _send_raw(handler, 200, b'{"choices": [ this is not json')
        if fault == "nochoices":
            return _send(handler, 200, {"object": "chat.completion", "choices": []})
        content = "" if fault == "empty" else self.answer(request)
        return _send(handler, 200, _completion(request, content, len(self.requests)))


def _completion(request: dict, content: str, number: int) -> dict:
    return {
        "id": f"chatcmpl-{number}",
        "object": "chat.completion",
        "model": request["model"],
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
    }


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        pass  # a dropped connection is a fault we inject on purpose


def _invalid(request: dict) -> str | None:
    if not request.get("model"):
        return "model is required"
    messages = request.get("messages")
    if not isinstance(messages, list) or not messages:
        return "messages must be a non-empty list"
    for message in messages:
        if message.get("role") not in ("system", "user", "assistant"):
            return f"bad role {message.get('role')!r}"
        content = message.get("content")
        if isinstance(content, list):
            for part in content:
                if part.get("type") == "image_url":
                    url = part["image_url"]["url"]
                    if not url.startswith("data:image/png;base64,"):
                        return "image_url must be a PNG data URL"
                    base64.b64decode(url.split(",", 1)[1], validate=True)
                elif part.get("type") != "text":
                    return f"unknown content part {part.get('type')!r}"
        elif not isinstance(content, str):
            return "content must be text or a list of parts"
    return None


def _send(handler, status: int, body: dict, headers: dict | None = None) -> None:
    _send_raw(handler, status, json.dumps(body).encode(), headers)


def _send_raw(handler, status: int, data: bytes, headers: dict | None = None) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    for key, value in (headers or {}).items():
        handler.send_header(key, value)
    handler.end_headers()
    handler.wfile.write(data)
