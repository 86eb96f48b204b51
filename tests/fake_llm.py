"""A fake OpenAI-compatible chat-completions server for tests, driven by a queue of replies.

It is a real HTTP server on 127.0.0.1 (random port) that the real ``openai`` client talks to::

    fake = FakeLLM().start()
    fake.reply("```sql\\nSELECT 1;\\n```")            # a 200 chat.completion
    fake.fail(429, headers={"retry-after-ms": "10"})  # an error response
    fake.delay(5)                                     # answer only after 5 s (or at stop())
    fake.raw(b"{not json", status=200)                # any body at all
    ...
    fake.requests  # every request received: .path, .headers, .raw (bytes), .json (parsed)
    fake.stop()

Scripted replies are served first-in first-out, one per request. When the queue is empty the
server answers 500 with a JSON error saying so, so a test that makes more requests than it
scripted fails loudly instead of hanging.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

CHAT_PATHS = ("/v1/chat/completions", "/chat/completions")


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    raw: bytes
    json: Any  # the parsed body, or None when it was not JSON

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.json.get("messages", [])) if isinstance(self.json, dict) else []


@dataclass(frozen=True)
class _Scripted:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0


def completion(content: str | None, *, model: str = "fake-model", **extra: Any) -> dict[str, Any]:
    """A chat.completion object as an OpenAI-compatible server sends it."""
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        **extra,
    }


def error_body(status: int, message: str | None = None) -> bytes:
    return json.dumps(
        {
            "error": {
                "message": message or f"scripted HTTP {status}",
                "type": "fake_error",
                "code": status,
            }
        }
    ).encode()


class FakeLLM:
    def __init__(self) -> None:
        self._queue: deque[_Scripted] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self.requests: list[RecordedRequest] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- scripting -------------------------------------------------------------------------

    def reply(self, content: str | None, *, status: int = 200, **extra: Any) -> FakeLLM:
        """Queue a chat.completion whose one choice has this message content."""
        body = json.dumps(completion(content, **extra)).encode()
        return self._push(_Scripted(status, body))

    def fail(
        self,
        status: int,
        *,
        times: int = 1,
        headers: Mapping[str, str] | None = None,
        message: str | None = None,
    ) -> FakeLLM:
        """Queue ``times`` error responses with an OpenAI-style JSON error body."""
        for _ in range(times):
            self._push(_Scripted(status, error_body(status, message), headers=dict(headers or {})))
        return self

    def delay(self, seconds: float, content: str = "```sql\nSELECT 1;\n```") -> FakeLLM:
        """Queue a reply that is sent only after ``seconds`` (or as soon as the server stops)."""
        body = json.dumps(completion(content)).encode()
        return self._push(_Scripted(200, body, delay=seconds))

    def raw(
        self, body: bytes, status: int = 200, content_type: str = "application/json"
    ) -> FakeLLM:
        """Queue a response with exactly this body."""
        return self._push(_Scripted(status, body, content_type=content_type))

    def _push(self, item: _Scripted) -> FakeLLM:
        with self._lock:
            self._queue.append(item)
        return self

    def _pop(self) -> _Scripted:
        with self._lock:
            if self._queue:
                return self._queue.popleft()
        return _Scripted(500, error_body(500, "fake LLM: no scripted reply left"))

    @property
    def pending(self) -> int:
        """How many scripted replies have not been served yet."""
        with self._lock:
            return len(self._queue)

    # -- what was received -----------------------------------------------------------------

    @property
    def bodies(self) -> list[Any]:
        return [r.json for r in self.requests]

    def received_bytes(self) -> bytes:
        """Every request body received, concatenated (for leak checks)."""
        return b"\n".join(r.raw for r in self.requests)

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        assert self._server is not None, "FakeLLM is not started"
        return f"http://127.0.0.1:{self._server.server_port}/v1"

    def start(self) -> FakeLLM:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    parsed = json.loads(raw) if raw else None
                except ValueError:
                    parsed = None
                headers = {k.lower(): v for k, v in self.headers.items()}
                with fake._lock:
                    fake.requests.append(RecordedRequest("POST", self.path, headers, raw, parsed))
                if self.path.split("?")[0] not in CHAT_PATHS:
                    self._send(_Scripted(404, error_body(404, f"no route {self.path}")))
                    return
                scripted = fake._pop()
                if scripted.delay and fake._stopping.wait(scripted.delay):
                    return  # stopping: drop the connection without an answer
                self._send(scripted)

            def _send(self, scripted: _Scripted) -> None:
                try:
                    self.send_response(scripted.status)
                    self.send_header("Content-Type", scripted.content_type)
                    self.send_header("Content-Length", str(len(scripted.body)))
                    for name, value in scripted.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(scripted.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-llm",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeLLM:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
