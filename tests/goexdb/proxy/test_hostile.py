"""A client that plays with the protocol to get a statement past goex, or to make goex measure
or journal the wrong thing: each attempt is refused, held, or measured as what ran."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import psycopg
import pytest

from core.action import Status
from goexdb.proxy import messages as m
from goexdb.proxy.statements import _setting_refusal
from tests.goexdb.proxy.conftest import RunningProxy
from tests.goexdb.proxy.test_relay import run_tool


def results(con: psycopg.Connection[Any]) -> list[Any]:
    found = []
    while (result := con.pgconn.get_result()) is not None:
        found.append(result)
    return found


def test_a_parse_the_server_refused_does_not_rename_a_held_statement(
    proxy_factory: Any, table: str
) -> None:
    proxy: RunningProxy = proxy_factory("rollback")  # every write is rolled back
    with psycopg.connect(proxy.dsn(), autocommit=True) as con:
        pgconn = con.pgconn
        pgconn.send_prepare(b"s", f"DELETE FROM {table} WHERE id = 1".encode())
        assert results(con)[0].error_message == b""
        pgconn.send_prepare(b"s", b"SELECT 1")  # the server refuses: "s" exists
        assert b"already exists" in results(con)[0].error_message
        pgconn.send_query_prepared(b"s", [])  # still the DELETE, so still held
        assert any(b"rolled back" in r.error_message for r in results(con))
    assert proxy.direct(f"SELECT count(*) FROM {table} WHERE id = 1") == [(1,)]


def test_goexs_own_statement_names_are_refused(proxy: RunningProxy) -> None:
    with psycopg.connect(proxy.dsn(), autocommit=True) as con:
        con.pgconn.send_prepare(b"goex_begin", b"SELECT 1")
        assert b"db.goex-names" in results(con)[0].error_message
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match=r"goex-names"):
            con.execute("DEALLOCATE goex_begin")
        assert con.execute("SELECT 1").fetchone() == (1,)


def test_two_writes_alike_but_for_a_number_each_run_as_written(
    proxy_factory: Any, table: str
) -> None:
    proxy: RunningProxy = proxy_factory("commit")
    with psycopg.connect(proxy.dsn(), autocommit=True) as con:
        for row in (1, 2, 3):
            con.execute(f"DELETE FROM {table} WHERE id = {row}", prepare=False)
    assert proxy.direct(f"SELECT min(id), count(*) FROM {table}") == [(4, 17)]


@pytest.mark.parametrize(
    "statement",
    [
        "COPY (WITH d AS (DELETE FROM {t} RETURNING *) SELECT * FROM d) TO STDOUT",
        "DISCARD ALL",
        "COMMIT AND CHAIN",
    ],
)
def test_what_would_slip_past_the_held_transaction_is_refused(
    proxy: RunningProxy, table: str, statement: str
) -> None:
    with (
        psycopg.connect(proxy.dsn(), autocommit=True) as con,
        pytest.raises(psycopg.errors.InsufficientPrivilege),
    ):
        con.execute(statement.format(t=table))
    assert proxy.direct(f"SELECT count(*) FROM {table}") == [(20,)]


def test_a_copy_into_a_missing_table_is_answered(proxy: RunningProxy) -> None:
    done = run_tool(
        proxy, "psql", "-X", "-d", proxy.database, "-c", "\\copy px_nowhere FROM stdin",
        stdin="1\n\\.\n",
    )  # fmt: skip
    assert done.returncode != 0 and "px_nowhere" in done.stderr, done.stderr


def test_nested_savepoints_rolled_back_are_discounted_once(proxy: RunningProxy, table: str) -> None:
    with psycopg.connect(proxy.dsn()) as con:
        con.execute(f"INSERT INTO {table} VALUES (100, 'kept')")
        con.execute("SAVEPOINT a")
        con.execute(f"INSERT INTO {table} VALUES (101, 'gone')")
        con.execute("SAVEPOINT b")
        con.execute(f"INSERT INTO {table} VALUES (102, 'gone')")
        con.execute("ROLLBACK TO b")
        con.execute("ROLLBACK TO a")
        con.commit()
    action = proxy.actions()[0]
    assert action.status is Status.COMMITTED
    counts = proxy.recorded(action)["effects"]["tables"][f"public.{table}"]
    assert (counts["inserted"], counts["by_cascade_or_trigger"]) == (1, 0)
    assert proxy.direct(f"SELECT id FROM {table} WHERE id >= 100") == [(100,)]


def test_an_error_inside_a_savepoint_then_rollback_to_is_discounted(
    proxy: RunningProxy, table: str
) -> None:
    with psycopg.connect(proxy.dsn()) as con:
        con.execute("SAVEPOINT a")
        con.execute(f"UPDATE {table} SET v = 'gone' WHERE id = 2")
        with pytest.raises(psycopg.errors.UniqueViolation):
            con.execute(f"UPDATE {table} SET id = 3 WHERE id = 2")
        con.execute("ROLLBACK TO a")
        con.execute(f"UPDATE {table} SET v = 'kept' WHERE id = 4")
        con.commit()
    action = proxy.actions()[0]
    recorded = proxy.recorded(action)
    counts = recorded["effects"]["tables"][f"public.{table}"]
    assert (counts["updated"], counts["by_cascade_or_trigger"]) == (1, 0)
    assert recorded["reversible"] is True, recorded["effects"]["irreversible"]


def test_two_transactions_in_one_query_are_each_measured_alone(
    proxy_factory: Any, table: str
) -> None:
    proxy: RunningProxy = proxy_factory("commit")
    both = (
        f"BEGIN; INSERT INTO {table} VALUES (200, 'a'); COMMIT; "
        f"BEGIN; DELETE FROM {table} WHERE id = 5; COMMIT;"
    )
    done = run_tool(proxy, "psql", "-X", "-d", proxy.database, "-c", both)
    assert done.returncode == 0, done.stderr
    deleting, inserting = proxy.actions(limit=2)
    with proxy.journal() as journal:
        counted = [
            (journal.effects(a.id) or {})["effects"]["tables"][f"public.{table}"]
            for a in (inserting, deleting)
        ]
    assert [(c["inserted"], c["deleted"]) for c in counted] == [(1, 0), (0, 1)]


@pytest.mark.parametrize(
    "blind",
    [
        "CREATE TEMP VIEW pg_locks AS SELECT * FROM pg_catalog.pg_locks WHERE false",
        "CREATE TEMP TABLE pg_class AS SELECT * FROM pg_catalog.pg_class WHERE false",
    ],
)
def test_a_temporary_relation_named_as_a_catalog_does_not_blind_the_measure(
    proxy_factory: Any, table: str, blind: str
) -> None:
    """PostgreSQL searches the session's temporary relations before pg_catalog: a client's
    temporary pg_locks (or pg_class) took the place of the catalog in goex's own queries on
    the session, and the rows written were measured as none."""
    proxy: RunningProxy = proxy_factory("commit")
    sql = f"{blind}; UPDATE {table} SET v = 'x' WHERE id <= 3"
    done = run_tool(proxy, "psql", "-X", "-d", proxy.database, "-c", sql)
    assert done.returncode == 0, done.stderr
    (action,) = proxy.actions(limit=1)
    with proxy.journal() as journal:
        tables = (journal.effects(action.id) or {})["effects"]["tables"]
    assert tables[f"public.{table}"]["updated"] == 3, tables


def test_rows_copied_into_named_columns_are_the_copys_own(proxy_factory: Any, table: str) -> None:
    proxy: RunningProxy = proxy_factory("commit")
    done = run_tool(
        proxy, "psql", "-X", "-d", proxy.database, "-c", f"\\copy {table} (id, v) FROM stdin",
        stdin="300\tthree hundred\n\\.\n",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    action = proxy.actions()[0]
    recorded = proxy.recorded(action)
    counts = recorded["effects"]["tables"][f"public.{table}"]
    assert (counts["inserted"], counts["by_cascade_or_trigger"]) == (1, 0)
    assert any("left no row images" in r for r in recorded["effects"]["irreversible"])


@pytest.mark.parametrize("body", ["TRUNCATE {t}", "DROP TABLE {t}"])
def test_a_function_that_truncates_or_drops_is_journaled_and_decided(
    proxy: RunningProxy, table: str, body: str
) -> None:
    """A query calling a function that empties or drops a table writes no row counts: the
    lock it left says something happened, so the action is journaled and decided, and the
    table is as its decision says. (It committed with nothing journaled.)"""
    function = f"{table}_f"
    proxy.direct(
        f"CREATE FUNCTION {function}() RETURNS void LANGUAGE sql AS $$ {body.format(t=table)} $$"
    )
    try:
        with psycopg.connect(proxy.dsn()) as con:
            con.execute(f"SELECT {function}()")
            with contextlib.suppress(psycopg.errors.TransactionRollback):
                con.commit()
        actions = proxy.actions()
        assert actions and function in actions[0].code and actions[0].decision is not None
        status = actions[0].status
        assert status in (Status.COMMITTED, Status.REJECTED, Status.ROLLED_BACK)
        exists = proxy.direct(f"SELECT to_regclass('{table}') IS NOT NULL")[0][0]
        rows = proxy.direct(f"SELECT count(*) FROM {table}")[0][0] if exists else 0
        assert (status is Status.COMMITTED) == (rows == 0)
    finally:
        proxy.direct(f"DROP FUNCTION {function}()")


@pytest.mark.parametrize("cut", [1, 3, 7, 1000])
def test_messages_are_framed_whole_however_the_stream_cuts_them(cut: int) -> None:
    """A read ends anywhere: inside a header, inside a body, after several messages; a 20 MB
    message comes in some 300 reads, and grows where its parts are kept."""
    wanted = [m.query("SELECT 1"), m.sync(), m.query("SELECT 2"), m.query("x" * 20_000_000)]
    wanted.append(m.sync())
    stream = b"".join(wanted)
    head = 40  # cut into pieces of ``cut`` bytes; the rest comes as it is read, 64 KB at a time
    pieces = [stream[at : min(at + cut, head)] for at in range(0, head, cut)] + [stream[head:]]

    async def framed() -> list[bytes]:
        reader = asyncio.StreamReader(limit=1 << 26)

        async def feed() -> None:
            for piece in pieces:
                reader.feed_data(piece)
                await asyncio.sleep(0)  # the framer reads what is there so far
            reader.feed_eof()

        feeding = asyncio.ensure_future(feed())
        framer, got = m.Framer(reader), []
        while len(got) < len(wanted):
            got += [message.raw for message in await framer.batch()]
        await feeding
        return got

    assert asyncio.run(framed()) == wanted


@pytest.mark.parametrize(
    ("path", "refused"),
    [
        ("public", False),
        ('"$user", public', False),
        ("pg_catalog, public", False),
        ("pg_temp, pg_catalog, x", False),  # (pg_temp is never searched for functions)
        ('"PG_CATALOG", x', False),  # (another schema: pg_catalog is searched first)
        ("'x'", False),
        ("''", False),
        ("public, pg_catalog", True),
        ("x,PG_CATALOG", True),
        ("'public', 'pg_catalog'", True),  # (passed the first reading, helper-28)
        ("\"public\", 'pg_catalog'", True),
        ("$$public, pg_catalog$$", True),  # (not read: refused)
        ("E'pg\\x5fcatalog'", True),
        ("'public, pg_catalog'", True),
    ],
)
def test_a_search_path_is_read_entry_by_entry(path: str, refused: bool) -> None:
    assert (_setting_refusal("search_path", path, {}) is not None) is refused


@pytest.mark.parametrize("tables", ["two schemas", "a temporary table"])
def test_the_search_path_may_not_change_once_a_transaction_has_written(
    proxy: RunningProxy, table: str, tables: str
) -> None:
    """The proxy names the tables of a transaction's row images by the search path at its
    end: a DELETE under one path, the path then changed, was imaged as the table the name
    meant at the end, and the undo put the row into that table (another schema's, or the
    lasting table for a temporary one's row; helper-30)."""
    other = f"{table}_s"
    if tables == "two schemas":
        proxy.direct(f"CREATE SCHEMA {other}")
        proxy.direct(f"CREATE TABLE {other}.{table} (id int PRIMARY KEY, v text NOT NULL)")
        proxy.direct(f"INSERT INTO {other}.{table} VALUES (3, 'only here')")
        first, then = f"SET search_path = {other}; ", "SET search_path = public"
    else:
        first, then = "", "SET search_path = public, pg_temp"
    every = f"SELECT * FROM public.{table} ORDER BY id"
    kept = f"SELECT * FROM {other}.{table}" if tables == "two schemas" else "SELECT 1"
    before = proxy.direct(every), proxy.direct(kept)
    with psycopg.connect(proxy.dsn(), autocommit=True) as con:
        if tables == "a temporary table":
            con.execute(f"CREATE TEMP TABLE {table} (id int PRIMARY KEY, v text NOT NULL)")
            con.execute(f"INSERT INTO {table} VALUES (3, 'temporary')")
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="may not change"):
            con.execute(f"BEGIN; {first}DELETE FROM {table} WHERE id = 3; {then}; COMMIT")
        con.execute("ROLLBACK")
    assert (proxy.direct(every), proxy.direct(kept)) == before
    if tables == "two schemas":
        proxy.direct(f"DROP SCHEMA {other} CASCADE")
