"""The connection to the server cut while a COMMIT is on its way: the client gets an error,
never a COMMIT, and the action is journaled ``outcome_unknown`` (goex cannot know whether the
server committed). The proxy reaches the server through a forwarder the test can cut, and a
deferred trigger holds the COMMIT long enough to cut it then."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from core.action import Status
from tests.goexdb.proxy.conftest import RunningProxy


class Forwarder:
    """127.0.0.1:port → the server's unix socket, both ways, until ``cut()``."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.socket(socket.AF_UNIX)
            server.connect(self.target)
            self.sockets += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass

    def cut(self) -> None:
        for s in self.sockets:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def close(self) -> None:
        self.listener.close()
        self.cut()


@pytest.fixture
def forwarder(pg_dsn: str) -> Iterator[Forwarder]:
    params = conninfo_to_dict(pg_dsn)
    host, port = str(params.get("host") or ""), str(params.get("port") or 5432)
    if not host.startswith("/"):
        pytest.skip("the forwarder needs the test server's unix socket")
    forwarder = Forwarder(f"{host}/.s.PGSQL.{port}")
    yield forwarder
    forwarder.close()


def test_a_commit_cut_on_its_way_is_journaled_outcome_unknown(
    proxy_factory: Any, forwarder: Forwarder, pg_dsn: str, table: str
) -> None:
    params = conninfo_to_dict(pg_dsn)
    through = make_conninfo(
        "", host="127.0.0.1", port=forwarder.port, dbname=params.get("dbname"),
        user=params.get("user"),
    )  # fmt: skip
    proxy: RunningProxy = proxy_factory("commit", None, "--dsn", through)
    slow = f"px_slow_{uuid.uuid4().hex[:6]}"
    proxy.direct(
        f"CREATE FUNCTION {slow}() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN PERFORM pg_sleep(2); RETURN NULL; END $$"
    )
    proxy.direct(
        f"CREATE CONSTRAINT TRIGGER {slow} AFTER UPDATE ON {table} DEFERRABLE INITIALLY "
        f"DEFERRED FOR EACH ROW EXECUTE FUNCTION {slow}()"
    )
    try:
        with psycopg.connect(proxy.dsn()) as con, ThreadPoolExecutor(1) as pool:
            con.execute(f"UPDATE {table} SET v = 'unknown' WHERE id = 3")
            committing = pool.submit(con.commit)
            deadline = time.monotonic() + 10
            while not proxy.direct(
                "SELECT 1 FROM pg_stat_activity WHERE query = 'COMMIT' AND state = 'active'"
            ):
                assert time.monotonic() < deadline, "the COMMIT never started"
                time.sleep(0.05)
            forwarder.cut()
            with pytest.raises(psycopg.OperationalError):
                committing.result(timeout=10)
    finally:
        proxy.direct(f"DROP FUNCTION {slow}() CASCADE")
    action = proxy.actions()[0]
    assert action.status is Status.OUTCOME_UNKNOWN
