"""goex-mcp driven by the official ``mcp`` client SDK: over stdio (the server a subprocess of
the test, as an agent's host starts it) and over streamable HTTP."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import httpx2
from mcp import Client, StdioServerParameters

from tests.goexdb.conftest import duckdb_shop, pg_shop  # noqa: F401 - fixtures used here
from tests.goexfs.conftest import outside, place, project  # noqa: F401 - fixtures used here

T = TypeVar("T")
TOKEN_LINE = re.compile(r"bearer token \(shown once\): (\S+)")


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


def server_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "core.mcp", *args]


@asynccontextmanager
async def stdio_client(*args: str, **env: str) -> AsyncIterator[Client]:
    """A client of a goex-mcp started over stdio with these arguments (and environment)."""
    command = server_command(*args)
    params = StdioServerParameters(command=command[0], args=command[1:], env={**os.environ, **env})
    async with Client(params, read_timeout_seconds=120) as client:
        yield client


async def call(client: Client, tool: str, **arguments: Any) -> dict[str, Any]:
    """A tool's structured result; the call must not be an error."""
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.content
    assert isinstance(result.structured_content, dict)
    return result.structured_content


async def refusal(client: Client, tool: str, **arguments: Any) -> str:
    """The text of a tool error; the call must be one."""
    result = await client.call_tool(tool, arguments)
    assert result.is_error, result.structured_content
    text = result.content[0]
    assert text.type == "text"
    return text.text


class HttpServer:
    """goex-mcp --http as a background process; its URL and the bearer token it printed."""

    def __init__(self, *args: str, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}/mcp"
        self.proc = subprocess.Popen(
            server_command(*args, "--http", f"127.0.0.1:{port}"),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stderr is not None
        line = self.proc.stderr.readline()
        found = TOKEN_LINE.search(line)
        assert found, f"no token printed: {line!r}"
        self.token = found.group(1)
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx2.get(self.url, timeout=1)
                break
            except httpx2.TransportError:
                assert time.monotonic() < deadline and self.proc.poll() is None, "no server"
                time.sleep(0.1)

    def client(self, token: str | None = None) -> Client:
        headers = {"Authorization": f"Bearer {token or self.token}"}
        http = httpx2.AsyncClient(headers=headers, timeout=120)
        from mcp.client.streamable_http import streamable_http_client

        return Client(streamable_http_client(self.url, http_client=http), read_timeout_seconds=120)

    def stop(self) -> tuple[int, str]:
        self.proc.terminate()
        try:
            _, err = self.proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise
        return self.proc.returncode, err
