"""goex-mcp's cost over the library: a one-row UPDATE staged through stdio MCP (the official
client, goex-mcp as its subprocess) and through ``goexdb.Session`` in this process, same run.

Two calls an agent makes, each timed both ways, taking turns:

* new    — ``db_stage(sql)``: a new action behind a new handle (a connection of its own, the
  action journaled as proposed and staged), against ``connect`` + ``Session.stage``;
* step   — ``db_stage(sql, handle)``: the next step in a held transaction, against
  ``Session.stage_more``.

What is rolled back after each is not timed. The added median cost of each is printed, with the
target of issue 15: at most 2 ms. A third line, ``floor``, is a goex-mcp call that does no
work (``db_commit`` of an unknown handle, answered with an error at once): what the MCP client,
the stdio pipe and the SDK's server cost before goex does anything. PostgreSQL is the embedded
PostgreSQL 18 (or GOEX_TEST_DSN); the journal is a temporary GOEX_HOME.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import psycopg
from pg_server import postgres_dsn

import goexdb
from goexdb.staged import Staged

ROUNDS = 200
UPDATE = "UPDATE bench SET qty = qty + 1 WHERE id = 7"
TARGET_MS = 2.0


def setup(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as con:
        con.execute("DROP TABLE IF EXISTS bench")
        con.execute("CREATE TABLE bench (id int PRIMARY KEY, qty int NOT NULL)")
        con.execute("INSERT INTO bench SELECT i, 0 FROM generate_series(1, 1000) AS t(i)")


async def timed(call: Callable[[], Awaitable[object]]) -> float:
    start = time.perf_counter()
    await call()
    return time.perf_counter() - start


async def bench(dsn: str) -> dict[str, dict[str, list[float]]]:
    from mcp import Client, StdioServerParameters

    times: dict[str, dict[str, list[float]]] = {
        "new": {"mcp": [], "library": []},
        "step": {"mcp": [], "library": []},
        "floor": {"mcp": [], "library": []},
    }
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "core.mcp", "--dsn", dsn], env=dict(os.environ)
    )
    async with Client(params) as client:

        async def stage(**arguments: str) -> dict[str, str]:
            result = await client.call_tool("db_stage", {"sql": UPDATE, **arguments})
            assert not result.is_error, result.content
            assert isinstance(result.structured_content, dict)
            return result.structured_content

        async def mcp_round() -> None:
            start = time.perf_counter()
            first = await stage()
            times["new"]["mcp"].append(time.perf_counter() - start)
            start = time.perf_counter()
            await stage(handle=first["handle"])
            times["step"]["mcp"].append(time.perf_counter() - start)
            await client.call_tool("db_rollback", {"handle": first["handle"]})
            start = time.perf_counter()
            await client.call_tool("db_commit", {"handle": "db_none"})
            times["floor"]["mcp"].append(time.perf_counter() - start)
            times["floor"]["library"].append(0.0)

        async def library_round() -> None:
            start = time.perf_counter()
            session = goexdb.connect(dsn)
            staged: Staged = session.stage(UPDATE)
            times["new"]["library"].append(time.perf_counter() - start)
            start = time.perf_counter()
            session.stage_more(staged, UPDATE)
            times["step"]["library"].append(time.perf_counter() - start)
            staged.rollback()
            session.close()

        for _ in range(10):  # warm up both
            await mcp_round()
            await library_round()
        for key in times:
            for way in times[key]:
                times[key][way].clear()
        for turn in range(ROUNDS):
            first, second = (mcp_round, library_round) if turn % 2 else (library_round, mcp_round)
            await first()
            await second()
    return times


def report(times: dict[str, dict[str, list[float]]]) -> None:
    print(f"{ROUNDS} rounds, medians in ms (one-row UPDATE on PostgreSQL)")
    floor = statistics.median(times["floor"]["mcp"]) * 1000
    for key, ways in times.items():
        if key == "floor":
            print(f"  floor   a call that does nothing: {floor:6.2f} ms (client, pipe and SDK)")
            continue
        mcp = statistics.median(ways["mcp"]) * 1000
        library = statistics.median(ways["library"]) * 1000
        added = mcp - library
        verdict = "ok" if added <= TARGET_MS else "over"
        print(
            f"  {key:5} library {library:7.2f}   mcp {mcp:7.2f}   added {added:6.2f} ms "
            f"({mcp / library:.2f}x, {added - floor:+.2f} over the floor)   "
            f"target <= {TARGET_MS:g} ms: {verdict}"
        )


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="goex-bench-mcp-") as tmp:
        os.environ["GOEX_HOME"] = str(Path(tmp) / "home")
        with postgres_dsn(Path(tmp)) as dsn:
            setup(dsn)
            report(asyncio.run(bench(dsn)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
