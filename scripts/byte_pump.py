"""The floor of any Python proxy, for ``bench_proxy.py``: a bare byte pump on asyncio (on
uvloop, as the proxy) that forwards each client's bytes to its own upstream connection and
back, reading nothing.

    python scripts/byte_pump.py LISTEN_SOCKET UPSTREAM

``LISTEN_SOCKET`` is the unix socket path to listen on (``DIR/.s.PGSQL.PORT`` for libpq);
``UPSTREAM`` is the server's unix socket path, or ``HOST:PORT``. It prints ``ready`` once
listening and runs until killed. What a client sends, authentication included, reaches the
server unchanged: whatever the pump costs, every proxy written in Python costs at least.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys

import uvloop


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError):
        while data := await reader.read(1 << 16):
            writer.write(data)
            await writer.drain()
    writer.close()


async def _connect(upstream: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    if upstream.startswith("/"):
        return await asyncio.open_unix_connection(upstream)
    host, _, port = upstream.rpartition(":")
    return await asyncio.open_connection(host, int(port))


async def main(listen: str, upstream: str) -> None:
    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        server_reader, server_writer = await _connect(upstream)
        await asyncio.gather(_pump(reader, server_writer), _pump(server_reader, writer))

    server = await asyncio.start_unix_server(client, listen)
    print("ready", flush=True)
    await server.serve_forever()


if __name__ == "__main__":
    uvloop.run(main(sys.argv[1], sys.argv[2]))  # the proxy's own loop
