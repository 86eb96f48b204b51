"""goex-mcp over streamable HTTP (bearer token, ten clients at once), and what happens to held
transactions when the client or the server goes away."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx2
import psycopg
from mcp import Client, StdioServerParameters

from tests import processes
from tests.goexdb.conftest import ShopDB
from tests.mcp.conftest import HttpServer, call, run, server_command
from tests.mcp.test_mcp_db import idle_in_transaction


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_ten_clients_at_once_over_http_and_a_token_is_required(pg_shop: ShopDB) -> None:
    orders = pg_shop.table("orders")
    server = HttpServer("--dsn", pg_shop.dsn, port=free_port())
    try:
        refused = httpx2.post(server.url, json={}, headers={"Authorization": "Bearer nope"})
        assert refused.status_code == 401
        assert httpx2.post(server.url, json={}).status_code == 401

        async def one(n: int) -> dict[str, object]:
            async with server.client() as client:
                staged = await call(
                    client, "db_stage", sql=f"UPDATE {orders} SET status = 'c{n}' WHERE id = {n}"
                )
                await call(
                    client,
                    "db_stage",
                    handle=staged["handle"],
                    sql=f"UPDATE {orders} SET customer_id = 1 WHERE id = {n}",
                )
                return await call(client, "db_commit", handle=staged["handle"])

        async def all_of_them() -> list[dict[str, object]]:
            return await asyncio.gather(*(one(n) for n in range(1, 11)))

        outcomes = run(all_of_them())
        assert [o["status"] for o in outcomes] == ["committed"] * 10
        assert len({o["action_id"] for o in outcomes}) == 10
        assert pg_shop.query(
            f"SELECT id, status, customer_id FROM {orders} WHERE id <= 10 ORDER BY id"
        ) == [(n, f"c{n}", 1) for n in range(1, 11)]
    finally:
        code, err = server.stop()
    assert code == 0, err


def test_sigterm_rolls_back_what_the_server_holds(pg_shop: ShopDB) -> None:
    orders = pg_shop.table("orders")
    server = HttpServer("--dsn", pg_shop.dsn, port=free_port())
    try:

        async def stage() -> dict[str, object]:
            async with server.client() as client:
                return await call(client, "db_stage", sql=f"DELETE FROM {orders}")

        staged = run(stage())
        assert idle_in_transaction(pg_shop.dsn) == 1
    finally:
        code, err = server.stop()
    assert code == 0, err
    assert pg_shop.query(f"SELECT count(*) FROM {orders}") == [(90,)]
    assert idle_in_transaction(pg_shop.dsn) == 0
    assert processes.shown("goexdb.cli", str(staged["action_id"]))["status"] == "rolled_back"


CLIENT = """
import asyncio, os, sys
from mcp import Client, StdioServerParameters

async def main():
    params = StdioServerParameters(command=sys.argv[1], args=sys.argv[2:], env=dict(os.environ))
    async with Client(params) as client:
        result = await client.call_tool("db_stage", {"sql": os.environ["SQL"]})
        print(result.structured_content["action_id"], flush=True)
        await asyncio.sleep(3600)

asyncio.run(main())
"""


def test_a_client_killed_mid_transaction_leaves_nothing_held(
    pg_shop: ShopDB, tmp_path: Path
) -> None:
    orders = pg_shop.table("orders")
    script = tmp_path / "agent.py"
    script.write_text(textwrap.dedent(CLIENT))
    agent = subprocess.Popen(
        [sys.executable, str(script), *server_command("--dsn", pg_shop.dsn)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "SQL": f"DELETE FROM {orders} WHERE id > 1"},
        start_new_session=True,
    )
    try:
        assert agent.stdout is not None
        action_id = agent.stdout.readline().strip()
        assert action_id, "the agent staged nothing"
        assert idle_in_transaction(pg_shop.dsn) == 1
        os.kill(agent.pid, signal.SIGKILL)  # the agent's host dies; its server sees stdin close
        agent.wait()
        processes.until(
            lambda: idle_in_transaction(pg_shop.dsn) == 0, what="the held transaction to end"
        )
        processes.until(
            lambda: processes.shown("goexdb.cli", action_id)["status"] == "rolled_back",
            what="the action to be journaled rolled back",
        )
    finally:
        if agent.poll() is None:
            agent.kill()
    with psycopg.connect(pg_shop.dsn) as con:
        assert con.execute(f"SELECT count(*) FROM {orders}").fetchone() == (90,)


def sleeping(dsn: str) -> bool:
    with psycopg.connect(dsn) as con:
        row = con.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep'"
        ).fetchone()
        return row is not None and row[0] > 0


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


def statuses() -> dict[str, str]:
    listed = processes.run("goexdb.cli", "log", "--format", "json", "--limit", "5")
    assert listed.returncode == 0, listed.stderr
    return {a["id"]: a["status"] for a in json.loads(listed.stdout)}


def test_sigterm_during_a_call_over_stdio_rolls_back_and_exits_while_stdin_stays_open(
    pg_shop: ShopDB, tmp_path: Path
) -> None:
    orders = pg_shop.table("orders")
    pidfile = tmp_path / "server.pid"
    params = StdioServerParameters(
        command="sh",
        args=["-c", f'echo $$ > {pidfile}; exec "$@"', "sh", *server_command("--dsn", pg_shop.dsn)],
        env=dict(os.environ),
    )
    slow = f"DELETE FROM {orders} WHERE id > 80 AND (SELECT pg_sleep(2)) IS NOT NULL"
    seen: dict[str, object] = {}

    async def scenario() -> None:
        async with Client(params, read_timeout_seconds=120) as client:
            held = await call(client, "db_stage", sql=f"DELETE FROM {orders} WHERE id < 10")
            seen["held"] = held["action_id"]
            running = asyncio.ensure_future(client.call_tool("db_stage", {"sql": slow}))
            await asyncio.to_thread(processes.until, lambda: sleeping(pg_shop.dsn))
            pid = int(pidfile.read_text())
            os.kill(pid, signal.SIGTERM)  # while the slow call runs; the client keeps stdin open
            await asyncio.to_thread(processes.until, lambda: not alive(pid), 30)
            seen["exited"] = True
            running.cancel()

    with contextlib.suppress(Exception):  # the server went away under its client
        run(scenario())
    assert seen.get("exited"), "the server did not exit within 30 s of SIGTERM"
    journaled = statuses()
    assert journaled[str(seen["held"])] == "rolled_back"
    assert list(journaled.values()).count("rolled_back") == 2, journaled  # the slow one too
    assert pg_shop.query(f"SELECT count(*) FROM {orders}") == [(90,)]
    assert idle_in_transaction(pg_shop.dsn) == 0
