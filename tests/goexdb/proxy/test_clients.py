"""goex-db proxy with real clients: psycopg 3 (text and binary, prepared statements, pipeline
mode, autocommit, cancel), asyncpg (the binary extended protocol), SQLAlchemy's ORM with
savepoints, and alembic; and what happens when a client, the proxy or the server goes away in
the middle of a transaction. Every outcome is checked past goex (``direct``) and in the journal.

A client call that could hang runs with a deadline (``bounded``, ``run``): past it the proxy is
killed (which frees the client and any lock it held upstream) and the test fails with the
proxy's stderr.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import asyncpg  # type: ignore[import-untyped]
import psycopg
import pytest
from alembic import command
from alembic.config import Config
from psycopg.pq import TransactionStatus
from sqlalchemy import create_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from sqlalchemy.pool import NullPool

from core.action import Action, Status
from tests.goexdb.proxy.conftest import RunningProxy

T = TypeVar("T")
UNDECIDED = (Status.PROPOSED, Status.STAGED)


# -- helpers ---------------------------------------------------------------------------------------


def _hung(proxy: RunningProxy, what: str, timeout: float) -> None:
    """A client call did not return: kill the proxy (freeing the client and the upstream
    locks it held) and fail with what the proxy wrote."""
    proxy.process.proc.kill()
    code, _, err = proxy.process.finish(timeout=10)
    pytest.fail(f"{what}: no answer in {timeout}s; proxy killed (exit {code}); stderr:\n{err}")


def bounded(proxy: RunningProxy, work: Callable[[], T], timeout: float = 10) -> T:
    """Run a blocking client call; a hang fails the test instead of blocking the suite."""
    pool = ThreadPoolExecutor(1)
    future = pool.submit(work)
    try:
        return future.result(timeout)
    except FutureTimeout:
        _hung(proxy, getattr(work, "__name__", "client call"), timeout)
        raise  # not reached
    finally:
        pool.shutdown(wait=False)


def run(proxy: RunningProxy, coroutine: Coroutine[Any, Any, T], timeout: float = 20) -> T:
    """Run an asyncpg test's coroutine with a deadline."""

    async def within() -> T:
        async with asyncio.timeout(timeout):
            return await coroutine

    try:
        return asyncio.run(within())
    except TimeoutError:
        _hung(proxy, "asyncpg", timeout)
        raise  # not reached


def actions(proxy: RunningProxy, limit: int = 20, timeout: float = 5) -> list[Action]:
    """The newest journaled actions, once each is decided (the proxy journals a commit's end
    after the client has its COMMIT). A committed action is not ``is_final`` (it may yet be
    undone), so "decided" is: past proposed and staged."""
    deadline = time.monotonic() + timeout
    while True:
        with proxy.journal() as journal:
            found = journal.recent(limit=limit)
        if all(a.status not in UNDECIDED for a in found) or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def about(proxy: RunningProxy, text: str, limit: int = 20) -> list[Action]:
    """The journaled actions whose code mentions ``text``, newest first."""
    return [a for a in actions(proxy, limit) if text in a.code]


def eventually(check: Callable[[], bool], what: str, timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"waited {timeout}s for {what}"
        time.sleep(0.05)


def rows(proxy: RunningProxy, table: str) -> list[tuple[Any, ...]]:
    return proxy.direct(f"SELECT id, v FROM {table} ORDER BY id")


def locks_held_on(proxy: RunningProxy, table: str) -> int:
    """Locks on the table held by any backend other than the one asking."""
    found = proxy.direct(
        "SELECT count(*) FROM pg_locks WHERE relation = %s::regclass AND pid <> pg_backend_pid()",
        table,
    )
    return int(found[0][0])


# -- psycopg 3 -------------------------------------------------------------------------------------


def test_psycopg_text_and_binary_results_and_parameters(proxy: RunningProxy, table: str) -> None:
    with psycopg.connect(proxy.dsn()) as con:
        text = con.execute(f"SELECT id, v FROM {table} WHERE id = %s", (3,)).fetchall()
        assert text == [(3, "v3")]
        with con.cursor(binary=True) as cur:
            cur.execute(
                f"SELECT id, v, %s::numeric, %s::bytea FROM {table} WHERE id = ANY(%s) ORDER BY id",
                (Decimal("1.25"), b"\x00\xff", [4, 5]),
            )
            assert cur.fetchall() == [
                (4, "v4", Decimal("1.25"), b"\x00\xff"),
                (5, "v5", Decimal("1.25"), b"\x00\xff"),
            ]
            cur.execute(f"UPDATE {table} SET v = %s WHERE id = %s", ("binary", 6))
            assert cur.rowcount == 1
        con.execute(f"UPDATE {table} SET v = %s WHERE id = %s", ("text", 7))
        con.commit()
    assert proxy.direct(f"SELECT id, v FROM {table} WHERE id IN (6, 7) ORDER BY id") == [
        (6, "binary"),
        (7, "text"),
    ]
    (action,) = about(proxy, table)
    assert action.status is Status.COMMITTED


def test_psycopg_prepared_statements_are_repeated(proxy: RunningProxy, table: str) -> None:
    with psycopg.connect(proxy.dsn()) as con:
        for i in range(1, 6):
            con.execute(f"UPDATE {table} SET v = %s WHERE id = %s", (f"p{i}", i), prepare=True)
        for i in range(1, 6):
            got = con.execute(f"SELECT v FROM {table} WHERE id = %s", (i,), prepare=True)
            assert got.fetchone() == (f"p{i}",)
        prepared = con.execute("SELECT statement FROM pg_prepared_statements").fetchall()
        assert any(f"UPDATE {table}" in s for (s,) in prepared), prepared
        assert any(f"SELECT v FROM {table}" in s for (s,) in prepared), prepared
        con.commit()
        # the prepared statements outlive the transaction and are used again
        con.execute(f"UPDATE {table} SET v = %s WHERE id = %s", ("again", 1), prepare=True)
        con.commit()
    assert rows(proxy, table)[:5] == [(1, "again"), (2, "p2"), (3, "p3"), (4, "p4"), (5, "p5")]
    assert [a.status for a in about(proxy, table)] == [Status.COMMITTED, Status.COMMITTED]


def test_psycopg_pipeline_commits(proxy: RunningProxy, table: str) -> None:
    with psycopg.connect(proxy.dsn()) as con:

        def pipelined() -> list[tuple[Any, ...]]:
            with con.pipeline():
                con.execute(f"UPDATE {table} SET v = 'one' WHERE id = 1")
                con.execute(f"UPDATE {table} SET v = %s WHERE id = %s", ("two", 2))
                con.execute(f"INSERT INTO {table} VALUES (%s, %s)", (21, "new"))
                with con.cursor() as cur:
                    cur.executemany(
                        f"UPDATE {table} SET v = %s WHERE id = %s", [("m3", 3), ("m4", 4)]
                    )
                seen = con.execute(f"SELECT id, v FROM {table} WHERE id <= 4 ORDER BY id")
                con.commit()
            return seen.fetchall()

        seen = bounded(proxy, pipelined)
    assert seen == [(1, "one"), (2, "two"), (3, "m3"), (4, "m4")]
    assert rows(proxy, table)[:4] == seen
    assert proxy.direct(f"SELECT v FROM {table} WHERE id = 21") == [("new",)]
    (action,) = about(proxy, table)
    assert action.status is Status.COMMITTED


@pytest.mark.parametrize("refused", ["SET ROLE postgres", "COPY {table} TO '/tmp/goex-px-copy'"])
def test_psycopg_a_refusal_inside_a_pipeline_fails_the_transaction(
    proxy: RunningProxy, table: str, refused: str
) -> None:
    before = rows(proxy, table)
    refused = refused.format(table=table)
    with psycopg.connect(proxy.dsn()) as con:

        def pipelined() -> None:
            refusal = pytest.raises(psycopg.errors.InsufficientPrivilege, match="goex: ")
            with refusal, con.pipeline():
                con.execute(f"UPDATE {table} SET v = 'first' WHERE id = 1")
                con.execute(refused)
                con.execute(f"UPDATE {table} SET v = 'second' WHERE id = 2")
            assert con.info.transaction_status is TransactionStatus.INERROR
            # the failed transaction refuses everything until it is rolled back
            with pytest.raises(psycopg.errors.InFailedSqlTransaction):
                con.execute("SELECT 1")
            con.rollback()
            assert con.execute(f"SELECT v FROM {table} WHERE id = 1").fetchone() == ("v1",)
            con.execute(f"UPDATE {table} SET v = 'after' WHERE id = 3")
            con.commit()

        bounded(proxy, pipelined)
    after = rows(proxy, table)
    assert after[2] == (3, "after")
    assert after[:2] == before[:2] and after[3:] == before[3:]
    mine = actions(proxy)
    refusal = [a for a in mine if a.code.strip().rstrip(";") == refused]
    assert [a.status for a in refusal] == [Status.REJECTED]
    held = [a for a in mine if "'first'" in a.code]
    assert [a.status for a in held] == [Status.ROLLED_BACK]
    assert not any("'second'" in a.code for a in mine)


def test_psycopg_autocommit_each_statement_is_an_action(proxy: RunningProxy, table: str) -> None:
    with psycopg.connect(proxy.dsn(), autocommit=True) as con:
        con.execute(f"UPDATE {table} SET v = %s WHERE id = %s", ("auto", 8))
        assert proxy.direct(f"SELECT v FROM {table} WHERE id = 8") == [("auto",)]
        before = rows(proxy, table)
        with pytest.raises(psycopg.errors.TransactionRollback, match="rejected by policy") as info:
            con.execute(f"DELETE FROM {table}")
        assert info.value.sqlstate == "40000"
        assert con.info.transaction_status is TransactionStatus.IDLE
        assert con.execute(f"SELECT count(*) FROM {table}").fetchone() == (20,)
        con.execute(f"UPDATE {table} SET v = 'still' WHERE id = 9")
    assert rows(proxy, table) == [r if r[0] != 9 else (9, "still") for r in before]
    statuses = [(a.code.split()[0].upper(), a.status) for a in about(proxy, table)]
    assert statuses == [
        ("UPDATE", Status.COMMITTED),
        ("DELETE", Status.REJECTED),
        ("UPDATE", Status.COMMITTED),
    ]


def test_psycopg_autocommit_a_failing_write_is_answered(proxy: RunningProxy, table: str) -> None:
    """A write that fails in the implicit transaction goex opened (here a duplicate key) gets
    the server's error, and the connection goes on."""
    before = rows(proxy, table)
    with psycopg.connect(proxy.dsn(), autocommit=True) as con:

        def failing() -> None:
            with pytest.raises(psycopg.errors.UniqueViolation):
                con.execute(f"UPDATE {table} SET id = 1 WHERE id = 2")
            assert con.info.transaction_status is TransactionStatus.IDLE
            con.execute(f"UPDATE {table} SET v = 'then' WHERE id = 3")

        bounded(proxy, failing, timeout=5)
    assert rows(proxy, table) == [r if r[0] != 3 else (3, "then") for r in before]
    statuses = [a.status for a in about(proxy, table)]
    assert statuses[0] is Status.COMMITTED and Status.COMMITTED not in statuses[1:], statuses


def test_psycopg_a_rejected_commit_leaves_the_connection_usable(
    proxy: RunningProxy, table: str
) -> None:
    before = rows(proxy, table)
    with psycopg.connect(proxy.dsn()) as con:
        con.execute(f"UPDATE {table} SET v = 'kept?' WHERE id = 1")
        con.execute(f"UPDATE {table} SET v = 'everything'")  # no WHERE: rejected at COMMIT
        with pytest.raises(psycopg.errors.TransactionRollback, match="rejected by policy"):
            con.commit()
        assert con.info.transaction_status is TransactionStatus.IDLE
        assert rows(proxy, table) == before
        assert con.execute(f"SELECT v FROM {table} WHERE id = 1").fetchone() == ("v1",)
        con.execute(f"UPDATE {table} SET v = 'next' WHERE id = 2")
        con.commit()
    assert proxy.direct(f"SELECT v FROM {table} WHERE id IN (1, 2) ORDER BY id") == [
        ("v1",),
        ("next",),
    ]
    assert [a.status for a in about(proxy, table)] == [Status.COMMITTED, Status.REJECTED]


# -- asyncpg ---------------------------------------------------------------------------------------


def test_asyncpg_fetch_prepare_and_executemany(proxy: RunningProxy, table: str) -> None:
    async def scenario() -> None:
        con = await asyncpg.connect(proxy.url())
        try:
            got = await con.fetch(f"SELECT id, v FROM {table} WHERE id BETWEEN $1 AND $2", 2, 3)
            assert sorted(tuple(r) for r in got) == [(2, "v2"), (3, "v3")]
            assert await con.fetchval("SELECT $1::numeric * 2", Decimal("1.5")) == Decimal("3.0")
            select = await con.prepare(f"SELECT v FROM {table} WHERE id = $1")
            for i in (4, 5, 6):
                assert await select.fetchval(i) == f"v{i}"
            update = await con.prepare(f"UPDATE {table} SET v = $1 WHERE id = $2")
            await update.fetch("prepared", 10)  # autocommit: an action of its own
            # one implicit transaction of several Binds and one Sync
            await con.executemany(
                f"UPDATE {table} SET v = $1 WHERE id = $2", [(f"many{i}", i) for i in (11, 12, 13)]
            )
            await con.executemany(f"INSERT INTO {table} VALUES ($1, $2)", [(21, "a"), (22, "b")])
            assert await con.fetchval(f"SELECT count(*) FROM {table}") == 22
        finally:
            await con.close()

    run(proxy, scenario())
    assert proxy.direct(f"SELECT id, v FROM {table} WHERE id >= 10 AND id <= 13 ORDER BY id") == [
        (10, "prepared"),
        (11, "many11"),
        (12, "many12"),
        (13, "many13"),
    ]
    assert proxy.direct(f"SELECT id, v FROM {table} WHERE id > 20 ORDER BY id") == [
        (21, "a"),
        (22, "b"),
    ]
    statuses = [a.status for a in about(proxy, table)]
    assert statuses == [Status.COMMITTED] * 3


def test_asyncpg_type_introspection(proxy: RunningProxy, table: str) -> None:
    """An array (or enum, domain, composite) parameter or result makes asyncpg read the type
    from pg_type first, with JIT switched off around that query
    (``SELECT current_setting('jit'), set_config('jit', 'off', false)``, then set back):
    ordinary driver bookkeeping that has to pass for asyncpg to be usable."""

    async def scenario() -> None:
        con = await asyncpg.connect(proxy.url())
        try:
            got = await con.fetch(
                f"SELECT id, v FROM {table} WHERE id = ANY($1) ORDER BY id", [2, 3]
            )
            assert [tuple(r) for r in got] == [(2, "v2"), (3, "v3")]
            ids = await con.fetchval(f"SELECT array_agg(id ORDER BY id) FROM {table}")
            assert ids == list(range(1, 21))
        finally:
            await con.close()

    run(proxy, scenario())
    assert not [a for a in about(proxy, table) if a.status is Status.COMMITTED]


def test_asyncpg_transactions_commit_or_are_rejected(proxy: RunningProxy, table: str) -> None:
    async def scenario() -> None:
        con = await asyncpg.connect(proxy.url())
        try:
            async with con.transaction():
                await con.execute(f"UPDATE {table} SET v = $1 WHERE id = $2", "tx", 1)
                await con.execute(f"INSERT INTO {table} VALUES ($1, $2)", 21, "tx")
            with pytest.raises(asyncpg.PostgresError, match="rejected by policy") as info:
                async with con.transaction():
                    await con.execute(f"UPDATE {table} SET v = 'x' WHERE id = 2")
                    await con.execute(f"DELETE FROM {table}")
            assert info.value.sqlstate == "40000"
            assert not con.is_in_transaction()
            assert await con.fetchval(f"SELECT count(*) FROM {table}") == 21
        finally:
            await con.close()

    run(proxy, scenario())
    assert proxy.direct(f"SELECT id, v FROM {table} WHERE id IN (1, 2, 21) ORDER BY id") == [
        (1, "tx"),
        (2, "v2"),
        (21, "tx"),
    ]
    assert [a.status for a in about(proxy, table)] == [Status.REJECTED, Status.COMMITTED]


# -- SQLAlchemy and alembic ------------------------------------------------------------------------


def test_sqlalchemy_orm_with_savepoints(proxy: RunningProxy, table: str) -> None:
    class Base(DeclarativeBase):
        pass

    class Row(Base):
        __tablename__ = table
        id: Mapped[int] = mapped_column(primary_key=True)
        v: Mapped[str]

    engine = create_engine(proxy.url("postgresql+psycopg"), poolclass=NullPool)

    def work() -> None:
        with Session(engine) as session:
            session.add(Row(id=21, v="added"))
            one = session.get(Row, 1)
            assert one is not None
            one.v = "orm"
            session.commit()
        with Session(engine) as session:
            session.add(Row(id=22, v="outer"))
            session.flush()
            dropped = session.begin_nested()
            two = session.get(Row, 2)
            assert two is not None
            two.v = "dropped"
            session.add(Row(id=23, v="dropped"))
            session.flush()
            dropped.rollback()
            with session.begin_nested():
                three = session.get(Row, 3)
                assert three is not None
                three.v = "kept"
                session.add(Row(id=24, v="kept"))
            session.commit()

    try:
        bounded(proxy, work, timeout=20)
    finally:
        engine.dispose()
    after = dict(rows(proxy, table))
    assert sorted(after) == [*range(1, 23), 24]
    assert (after[1], after[2], after[3]) == ("orm", "v2", "kept")
    assert (after[21], after[22], after[24]) == ("added", "outer", "kept")
    assert [a.status for a in about(proxy, table)] == [Status.COMMITTED, Status.COMMITTED]


MIGRATION = """\
import sqlalchemy as sa
from alembic import op

revision = "{revision}"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "{name}",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
    )
    op.add_column("{name}", sa.Column("note", sa.Text))
    op.create_index("{name}_name", "{name}", ["name"])


def downgrade() -> None:
    op.drop_table("{name}")
"""

ENV = """\
from alembic import context
from sqlalchemy import create_engine, pool

url = context.config.get_main_option("sqlalchemy.url")
engine = create_engine(url, poolclass=pool.NullPool)
with engine.connect() as connection:
    context.configure(connection=connection, version_table="{version_table}")
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
"""


@pytest.fixture
def migrated_names(proxy: RunningProxy) -> Iterator[tuple[str, str]]:
    """A table and a version table for one migration, dropped after the test."""
    suffix = uuid.uuid4().hex[:10]
    name, version_table = f"px_mig_{suffix}", f"px_alembic_{suffix}"
    yield name, version_table
    proxy.direct(f"DROP TABLE IF EXISTS {name}")
    proxy.direct(f"DROP TABLE IF EXISTS {version_table}")


def test_alembic_upgrade_through_the_proxy(
    proxy: RunningProxy, migrated_names: tuple[str, str], tmp_path: Path
) -> None:
    name, version_table = migrated_names
    revision = uuid.uuid4().hex[:12]
    scripts = tmp_path / "migrations"
    (scripts / "versions").mkdir(parents=True)
    (scripts / "env.py").write_text(ENV.format(version_table=version_table))
    (scripts / "script.py.mako").write_text("")
    (scripts / "versions" / f"{revision}_create.py").write_text(
        MIGRATION.format(revision=revision, name=name)
    )
    config = Config()
    config.set_main_option("script_location", str(scripts))
    config.set_main_option("sqlalchemy.url", proxy.url("postgresql+psycopg"))

    bounded(proxy, lambda: command.upgrade(config, "head"), timeout=20)

    columns = proxy.direct(
        "SELECT column_name FROM information_schema.columns WHERE table_name = %s "
        "ORDER BY ordinal_position",
        name,
    )
    assert columns == [("id",), ("name",), ("note",)]
    indexes = proxy.direct("SELECT indexname FROM pg_indexes WHERE tablename = %s", name)
    assert (f"{name}_name",) in indexes
    assert proxy.direct(f"SELECT version_num FROM {version_table}") == [(revision,)]
    migration = about(proxy, name)
    assert migration, [a.code for a in actions(proxy)]
    assert all(a.status is Status.COMMITTED for a in migration), [
        (a.status, a.code) for a in migration
    ]
    assert any(f"CREATE TABLE {name}" in a.code for a in migration)
    assert any(version_table in a.code and revision in a.code for a in migration)


# -- cancel, disconnects, stops --------------------------------------------------------------------


@pytest.mark.parametrize("autocommit", [False, True], ids=["in-transaction", "autocommit"])
def test_psycopg_cancel_interrupts_a_query(proxy: RunningProxy, autocommit: bool) -> None:
    with psycopg.connect(proxy.dsn(), autocommit=autocommit) as con:
        canceller = threading.Timer(0.5, lambda: con.cancel_safe(timeout=5))
        started = time.monotonic()
        canceller.start()

        def sleep() -> None:
            with pytest.raises(psycopg.errors.QueryCanceled):
                con.execute("SELECT pg_sleep(20)")

        try:
            bounded(proxy, sleep, timeout=8)
        finally:
            canceller.cancel()
        assert time.monotonic() - started < 5
        if not autocommit:
            assert con.info.transaction_status is TransactionStatus.INERROR
            con.rollback()
        assert con.execute("SELECT 41 + 1").fetchone() == (42,)


def _update_held_by_psycopg(proxy: RunningProxy, table: str) -> Callable[[], None]:
    """A psycopg client's uncommitted UPDATE; closing it sends Terminate."""
    con = psycopg.connect(proxy.dsn())
    con.execute(f"UPDATE {table} SET v = 'gone' WHERE id = 5")
    return con.close


def _update_held_by_psql(proxy: RunningProxy, table: str) -> Callable[[], None]:
    """A psql's uncommitted UPDATE; SIGKILL closes its socket with no Terminate."""
    psql = subprocess.Popen(
        ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", proxy.dsn()],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert psql.stdin is not None and psql.stdout is not None
    psql.stdin.write(f"BEGIN;\nUPDATE {table} SET v = 'gone' WHERE id = 5;\n\\echo held\n")
    psql.stdin.flush()
    line = bounded(proxy, psql.stdout.readline, timeout=10)
    assert line.strip() == "held", line

    def kill() -> None:
        psql.kill()
        psql.wait()
        for stream in (psql.stdin, psql.stdout, psql.stderr):
            if stream is not None:
                stream.close()

    return kill


@pytest.mark.needs("psql")
@pytest.mark.parametrize("client", ["psycopg-close", "psql-killed"])
def test_a_client_gone_mid_transaction_leaves_nothing(
    proxy: RunningProxy, table: str, client: str
) -> None:
    held = {"psycopg-close": _update_held_by_psycopg, "psql-killed": _update_held_by_psql}[client]
    close = held(proxy, table)
    assert locks_held_on(proxy, table) > 0  # the proxy's upstream session holds the row
    close()
    eventually(lambda: locks_held_on(proxy, table) == 0, "the upstream locks to go")
    assert proxy.direct(f"SELECT v FROM {table} WHERE id = 5") == [("v5",)]

    def rolled_back() -> bool:
        return [a.status for a in about(proxy, table)] == [Status.ROLLED_BACK]

    eventually(rolled_back, "the action journaled rolled back")


def test_sigterm_with_a_transaction_held(proxy: RunningProxy, table: str) -> None:
    con = psycopg.connect(proxy.dsn())
    try:
        con.execute(f"UPDATE {table} SET v = 'held' WHERE id = 5")
        code, out, err = proxy.stop(signal.SIGTERM)
        print(f"proxy exit {code}; stdout {out!r}; stderr:\n{err}")
        assert code == 0, err

        def next_call() -> None:
            with pytest.raises(psycopg.OperationalError) as info:
                con.execute("SELECT 1")
            print(f"the client saw: {type(info.value).__name__}: {info.value}")

        bounded(proxy, next_call, timeout=5)
    finally:
        con.close()
    assert proxy.direct(f"SELECT v FROM {table} WHERE id = 5") == [("v5",)]
    assert locks_held_on(proxy, table) == 0
    (action,) = about(proxy, table)
    assert action.status is Status.ROLLED_BACK


def test_fifty_concurrent_transactions(proxy: RunningProxy, table: str) -> None:
    proxy.direct(f"INSERT INTO {table} SELECT i, 'v' || i FROM generate_series(21, 50) i")

    async def one(i: int) -> None:
        con = await asyncpg.connect(proxy.url())
        try:
            async with con.transaction():
                await con.execute(f"UPDATE {table} SET v = $1 WHERE id = $2", f"c{i}", i)
        finally:
            await con.close()

    async def all_of_them() -> list[BaseException | None]:
        return await asyncio.gather(*(one(i) for i in range(1, 51)), return_exceptions=True)

    outcomes = run(proxy, all_of_them(), timeout=30)
    failed = [(i, repr(o)) for i, o in enumerate(outcomes, 1) if o is not None]
    assert not failed
    assert rows(proxy, table) == [(i, f"c{i}") for i in range(1, 51)]
    statuses = [a.status for a in about(proxy, table, limit=200)]
    assert statuses == [Status.COMMITTED] * 50


def test_the_upstream_connection_lost_mid_transaction(proxy: RunningProxy, table: str) -> None:
    name = f"px-lost-{uuid.uuid4().hex[:8]}"
    con = psycopg.connect(proxy.dsn(application_name=name))
    try:
        con.execute(f"UPDATE {table} SET v = 'lost' WHERE id = 5")
        killed = proxy.direct(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
            name,
        )
        assert killed == [(True,)]

        def commit() -> None:
            with pytest.raises(psycopg.OperationalError) as info:
                con.commit()
            print(f"the client saw: {type(info.value).__name__}: {info.value}")

        bounded(proxy, commit, timeout=5)
    finally:
        con.close()
    _unchanged_and_journaled_failed(proxy, table)


def _unchanged_and_journaled_failed(proxy: RunningProxy, table: str) -> None:
    """After the server was lost: row 5 as it was, the action journaled failed, and no
    session left behind (the proxy stops promptly, no session ended on an exception)."""
    assert proxy.direct(f"SELECT v FROM {table} WHERE id = 5") == [("v5",)]

    def journaled() -> bool:
        return [a.status for a in about(proxy, table)] == [Status.FAILED]

    eventually(journaled, "the action journaled failed")
    proxy.process.signal(signal.SIGTERM)
    code, _, err = proxy.process.finish(timeout=5)
    assert code == 0 and "ended:" not in err, err


def test_an_error_before_the_commit_in_one_query_fails_the_action(
    proxy: RunningProxy, table: str
) -> None:
    """``SELECT 1/0; COMMIT`` in a held transaction: the server skips the COMMIT (and goex's
    measuring query, sent after the error) up to the Sync. The client hears the error and
    rolls back; the action is journaled so. The session once ended there, journaling nothing
    (``test_failures.py``: what else may follow)."""
    with psycopg.connect(proxy.dsn()) as con:
        con.execute(f"UPDATE {table} SET v = 'x' WHERE id = 5")
        with pytest.raises(psycopg.errors.DivisionByZero):
            bounded(proxy, lambda: con.execute("SELECT 1/0; COMMIT"))
        con.rollback()
        assert con.execute("SELECT v FROM " + table + " WHERE id = 5").fetchall() == [("v5",)]
    assert [a.status for a in about(proxy, table)] == [Status.ROLLED_BACK]
    assert proxy.direct(f"SELECT v FROM {table} WHERE id = 5") == [("v5",)]


def test_the_upstream_connection_lost_while_goex_measures(proxy: RunningProxy, table: str) -> None:
    """The server goes while the transaction's last write runs, with the client's COMMIT, and
    so goex's measuring query, queued behind it: the server answers the write with its FATAL
    and reads nothing more. The held transaction is journaled failed all the same (the session
    once ended on the COMMIT skipped after the error, journaling nothing)."""
    name = f"px-lost-{uuid.uuid4().hex[:8]}"
    con = psycopg.connect(proxy.dsn(application_name=name))
    pool = ThreadPoolExecutor(1)
    try:
        con.execute("SELECT 1")  # the block is open
        slow = "(SELECT true FROM pg_sleep(30))"
        write = f"UPDATE {table} SET v = 'lost' WHERE id = 5 AND {slow}; COMMIT"
        sent = pool.submit(con.execute, write)
        sleeping = (
            "SELECT pid FROM pg_stat_activity"
            " WHERE application_name = %s AND wait_event = 'PgSleep'"
        )
        eventually(lambda: bool(proxy.direct(sleeping, name)), "the write under way")
        proxy.direct(f"SELECT pg_terminate_backend(({sleeping}))", name)
        with pytest.raises(psycopg.OperationalError):
            sent.result(timeout=10)
    finally:
        pool.shutdown(wait=False)
        con.close()
    _unchanged_and_journaled_failed(proxy, table)
