"""The shared fixtures behave as the other test packages rely on."""

from __future__ import annotations

import http.client
import json
import os
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.conftest import FAKE_API_KEY
from tests.fake_llm import FakeLLM


def post(url: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers.items()), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers.items()), exc.read()


def test_isolated_environment(isolated_environment: dict[str, Path]) -> None:
    for name, path in isolated_environment.items():
        assert os.environ[name] == str(path)
    assert Path.home() == isolated_environment["HOME"]
    assert not [n for n in os.environ if n.startswith("OPENAI_")]
    assert not [
        n
        for n in os.environ
        if n.startswith("GOEX_") and n not in ("GOEX_HOME", "GOEX_REQUIRE_ALL", "GOEX_TEST_DSN")
    ]


def test_duckdb_path(duckdb_path: Path, tmp_path: Path) -> None:
    assert duckdb_path.parent == tmp_path
    assert not duckdb_path.exists()


def test_fake_llm_environment(fake_llm: FakeLLM) -> None:
    assert os.environ["OPENAI_API_KEY"] == FAKE_API_KEY
    assert os.environ["OPENAI_BASE_URL"] == fake_llm.base_url
    assert fake_llm.base_url.startswith("http://127.0.0.1:")
    assert fake_llm.base_url.endswith("/v1")


def test_fake_llm_queue(fake_llm: FakeLLM) -> None:
    fake_llm.reply("one").fail(429, headers={"retry-after-ms": "10"}).raw(b"<x>", status=502)
    assert fake_llm.pending == 3
    base = fake_llm.base_url
    status, _, body = post(base + "/chat/completions", b'{"model": "m", "messages": []}')
    assert status == 200
    assert json.loads(body)["choices"][0]["message"]["content"] == "one"
    status, headers, _ = post(base.removesuffix("/v1") + "/chat/completions", b"{}")
    assert status == 429
    assert {k.lower(): v for k, v in headers.items()}["retry-after-ms"] == "10"
    assert post(base + "/chat/completions", b"not json")[:3:2] == (502, b"<x>")
    status, _, body = post(base + "/chat/completions", b"{}")
    assert status == 500
    assert "no scripted reply" in json.loads(body)["error"]["message"]
    assert post(base + "/embeddings", b"{}")[0] == 404

    assert len(fake_llm.requests) == 5
    first = fake_llm.requests[0]
    assert first.path == "/v1/chat/completions"
    assert first.json == {"model": "m", "messages": []}
    assert first.raw == b'{"model": "m", "messages": []}'
    assert fake_llm.requests[2].json is None  # not JSON: kept as raw bytes only
    assert b"not json" in fake_llm.received_bytes()


def test_fake_llm_stop_releases_a_delayed_reply() -> None:
    fake = FakeLLM().start()
    fake.delay(600)
    outcome: list[object] = []

    def call() -> None:
        try:
            outcome.append(post(fake.base_url + "/chat/completions", b"{}"))
        except (OSError, http.client.HTTPException) as exc:
            outcome.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    while not fake.requests:  # the request is in; its reply is being held back
        time.sleep(0.01)
    fake.stop()
    caller.join(timeout=30)
    assert not caller.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], Exception)  # dropped, never answered
