"""How every statement reaches PostgreSQL: libpq's extended protocol, with a prepared-statement
cache of goex's own. This is the backend's hot path (scripts/bench_db.py): keep it lean.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import psycopg
from psycopg.adapt import Transformer
from psycopg.generators import execute as _exchange
from psycopg.pq.abc import PGresult

from goexdb.backends.postgres.errors import ignored


class Wire:
    """How every statement reaches the server: through libpq, with the extended protocol, so
    that the server itself refuses a text holding two commands. A text seen before is run as a
    prepared statement of goex's own (named once per session, at most ``LIMIT`` kept), so goex's
    measuring queries and an agent's repeated statement are planned once. Rows are loaded with
    psycopg's adapters. psycopg's own statement cache is off: nothing else prepares or
    deallocates on the connection, and psycopg's per-cursor machinery stays out of every round
    trip."""

    LIMIT = 256

    def __init__(self, con: psycopg.Connection[Any]) -> None:
        self._con = con
        con.prepare_threshold = None
        self._seen: dict[bytes, None] = {}  # run once, unnamed
        self._names: dict[bytes, bytes] = {}  # prepared: text -> name
        self._made = 0

    def run(self, text: bytes, params: Sequence[bytes] = ()) -> PGresult:
        pgconn = self._con.pgconn
        name = self._names.get(text)
        if name is None and text in self._seen:
            name = self._prepare(text)
        if name is None:
            _remember(self._seen, text, None, self.LIMIT)
            return self._answer(pgconn.send_query_params, text, params)
        return self._answer(pgconn.send_query_prepared, name, params)

    def command(self, text: bytes) -> PGresult:
        """Send goex's own command text as it is (several commands may share it)."""
        return self._answer(self._con.pgconn.send_query, text)

    def _prepare(self, text: bytes) -> bytes:
        name = b"goex_%d" % self._made
        self._made += 1
        self._answer(self._con.pgconn.send_prepare, name, text)
        evicted = _remember(self._names, text, name, self.LIMIT)
        if evicted is not None:
            self.command(b"DEALLOCATE " + evicted)
        return name

    def _answer(self, send: Callable[..., None], *args: Any) -> PGresult:
        """Send, then wait for the server's answer, raised as psycopg's error if it is one."""
        try:
            send(*args)
            results: list[PGresult] = self._con.wait(_exchange(self._con.pgconn))
        except (KeyboardInterrupt, SystemExit):
            self._stop()
            raise
        if not results:
            raise psycopg.InternalError("PostgreSQL sent no answer")
        result = results[-1]
        if result.status == psycopg.pq.ExecStatus.FATAL_ERROR:
            raise psycopg.errors.error_from_result(result, self._con.info.encoding)
        if result.status not in _ANSWERS:  # COPY: the classifier never lets one through
            self._con.close()
            status = psycopg.pq.ExecStatus(result.status).name
            raise psycopg.OperationalError(
                f"PostgreSQL answered {status}, which goex does not handle; the connection "
                "was closed, so nothing was committed"
            )
        return result

    def _stop(self) -> None:
        """Interrupted (Ctrl-C) with a statement sent: psycopg cancels it on the server if it
        was waiting for it; if the interruption came before, cancel it here and read its
        answer. If even that fails, close the connection, which ends the transaction."""
        if self._con.pgconn.transaction_status != psycopg.pq.TransactionStatus.ACTIVE:
            return
        try:
            self._con.cancel_safe(timeout=5.0)
            self._con.wait(_exchange(self._con.pgconn), timeout=5.0)
        except BaseException:
            self._con.close()

    def rows(self, result: PGresult, limit: int | None = None) -> list[tuple[Any, ...]]:
        if not result.nfields:
            return []
        loader = Transformer.from_context(self._con)
        loader.set_pgresult(result)
        count = result.ntuples if limit is None else min(result.ntuples, limit)
        return loader.load_rows(0, count, tuple)

    def columns(self, result: PGresult) -> list[str]:
        encoding = self._con.info.encoding
        return [(result.fname(i) or b"").decode(encoding) for i in range(result.nfields)]

    def forget(self) -> None:
        """Deallocate every prepared statement: DDL (run, or rolled back) may have changed
        what one returns, and PostgreSQL refuses a cached plan whose result changed."""
        if self._names:
            self._names.clear()
            with ignored():  # a session that ended has none left
                self.command(b"DEALLOCATE ALL")


def _remember(cache: dict[bytes, Any], key: bytes, value: Any, limit: int) -> Any:
    """Add to a first-in first-out cache; the value pushed out, if one was."""
    cache[key] = value
    if len(cache) > limit:
        return cache.pop(next(iter(cache)))
    return None


_ANSWERS = (
    psycopg.pq.ExecStatus.COMMAND_OK,
    psycopg.pq.ExecStatus.TUPLES_OK,
    psycopg.pq.ExecStatus.EMPTY_QUERY,
)
