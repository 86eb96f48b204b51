"""A real ``goex-db proxy`` process in front of the shared PostgreSQL, for the proxy's tests.

``proxy_factory(decide="commit", policy=None)`` starts one (TCP on a free port of 127.0.0.1 and
a unix socket in a private directory, both asking a password of the user in [proxy.users]) and
gives a ``RunningProxy``: conninfo strings for clients, ``direct`` to read the database past
goex, and the journal goex wrote. Every proxy started is stopped after the test.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from core.action import Action, Kind, Status
from core.journal import Journal, default_path
from tests.processes import Running

USER = "agent"
PASSWORD = "proxy-test-password-7f3a"
READY = re.compile(r"goex-db proxy: listening on (\S+)")


@dataclass
class RunningProxy:
    process: Running
    port: int
    socket_dir: Path
    upstream: str  # the real database's conninfo
    database: str

    def dsn(self, **extra: Any) -> str:
        """A client's conninfo: TCP on the proxy's port, as [proxy.users]'s user."""
        params = {
            "host": "127.0.0.1",
            "port": self.port,
            "dbname": self.database,
            "user": USER,
            "password": PASSWORD,
            "connect_timeout": 10,
            **extra,
        }
        return make_conninfo("", **params)

    def url(self, driver: str = "postgresql") -> str:
        return f"{driver}://{USER}:{PASSWORD}@127.0.0.1:{self.port}/{self.database}"

    def direct(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        """Read (or set up) the database past goex."""
        with psycopg.connect(self.upstream, autocommit=True) as con:
            cur = con.execute(sql, params or None)
            return cur.fetchall() if cur.description else []

    def journal(self) -> Journal:
        return Journal(default_path(Kind.DB))

    def actions(self, limit: int = 1, timeout: float = 10.0) -> list[Action]:
        """The newest actions, once each has its final status: the proxy journals a commit's
        end after the client has its COMMIT."""
        deadline = time.monotonic() + timeout
        while True:
            with self.journal() as journal:
                found = journal.recent(limit=limit)
            settled = all(a.status not in (Status.PROPOSED, Status.STAGED) for a in found)
            if settled or time.monotonic() > deadline:
                return found
            time.sleep(0.05)

    def recorded(self, action: Action) -> dict[str, Any]:
        """What the journal recorded of an action: statements, effects, reversible."""
        with self.journal() as journal:
            return journal.effects(action.id) or {}

    def stop(self, signum: int = signal.SIGTERM) -> tuple[int, str, str]:
        if self.process.proc.poll() is None:
            self.process.signal(signum)
        return self.process.finish(timeout=30)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def proxy_factory(
    pg_dsn: str, isolated_environment: dict[str, Path], tmp_path: Path
) -> Iterator[Callable[..., RunningProxy]]:
    config = isolated_environment["XDG_CONFIG_HOME"] / "goex"
    config.mkdir(parents=True, exist_ok=True)
    secrets = config / "secrets.toml"
    secrets.write_text(f'[proxy.users]\n{USER} = "{PASSWORD}"\n')
    secrets.chmod(0o600)
    started: list[RunningProxy] = []
    database = str(conninfo_to_dict(pg_dsn).get("dbname") or "postgres")

    def start(decide: str = "commit", policy: Path | None = None, *args: str) -> RunningProxy:
        port = free_port()
        sockets = Path(f"/tmp/goex-px-{uuid.uuid4().hex[:8]}")
        sockets.mkdir(mode=0o700)
        argv = [sys.executable, "-m", "goexdb.cli", "proxy", "--dsn", pg_dsn]
        argv += ["--listen", f"127.0.0.1:{port}", "--socket-dir", str(sockets)]
        argv += ["--decide", decide, *args]
        if policy is not None:
            argv += ["--policy", str(policy)]
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=dict(os.environ),
            cwd=tmp_path,
        )
        running = RunningProxy(Running(proc), port, sockets, pg_dsn, database)
        started.append(running)
        running.process.read_err_until(READY, timeout=60)
        return running

    yield start
    for running in started:
        if running.process.proc.poll() is None:
            running.process.proc.kill()
            running.process.proc.wait()
        for leftover in running.socket_dir.glob("*"):
            leftover.unlink()
        running.socket_dir.rmdir()


@pytest.fixture
def proxy(proxy_factory: Callable[..., RunningProxy]) -> RunningProxy:
    """A proxy deciding by policy (the default rules)."""
    return proxy_factory("policy")


@pytest.fixture
def table(proxy: RunningProxy) -> Iterator[str]:
    """A fresh table of 20 rows (id, v), made past goex; its qualified name."""
    name = f"px_{uuid.uuid4().hex[:10]}"
    proxy.direct(f"CREATE TABLE {name} (id int PRIMARY KEY, v text NOT NULL)")
    proxy.direct(f"INSERT INTO {name} SELECT i, 'v' || i FROM generate_series(1, 20) i")
    yield name
    proxy.direct(f"DROP TABLE IF EXISTS {name}")
