"""A held transaction's end after errors, through the proxy with real clients: the state goex
keeps follows what the server ran (it skips a BEGIN, COMMIT, ROLLBACK or RELEASE after an
error, up to the Sync), so no write is ever committed without a decision; a statement of goex's
own that fails is said to the client; and the session lives on. Each case reads the table, the
journal, and the proxy's stderr (a session ended by an exception says so there)."""

from __future__ import annotations

import signal

import psycopg
import pytest

from core.action import Status
from tests.goexdb.proxy.conftest import RunningProxy
from tests.goexdb.proxy.test_clients import about, bounded, rows

# An UPDATE of every row: the default policy rejects it (an unfiltered write) at the COMMIT.
EVERYTHING = "UPDATE {t} SET v = 'everything'"


def changed(proxy: RunningProxy, table: str) -> list[tuple[object, ...]]:
    return [r for r in rows(proxy, table) if r[1] != f"v{r[0]}"]


def stopped_cleanly(proxy: RunningProxy) -> None:
    """No session of the proxy ended on an exception."""
    proxy.process.signal(signal.SIGTERM)
    code, _, err = proxy.process.finish(timeout=15)
    assert code == 0 and "ended:" not in err, err


@pytest.mark.parametrize("ending", ["COMMIT", "ROLLBACK"])
def test_an_ending_skipped_after_an_error_leaves_the_transaction_held(
    proxy: RunningProxy, table: str, ending: str
) -> None:
    """``SELECT 1/0; COMMIT`` (or ROLLBACK): the server skipped the ending, and the client
    takes the transaction up again with ROLLBACK TO, then commits: goex decides that COMMIT
    (the policy rejects the write), where it once relayed it undecided."""
    with psycopg.connect(proxy.dsn()) as con:
        con.execute(EVERYTHING.format(t=table))
        con.execute("SAVEPOINT s")
        with pytest.raises(psycopg.errors.DivisionByZero):
            bounded(proxy, lambda: con.execute(f"SELECT 1/0; {ending}"))
        bounded(proxy, lambda: con.execute("ROLLBACK TO s"))
        with pytest.raises(psycopg.errors.TransactionRollback, match="unfiltered"):
            bounded(proxy, con.commit)
        assert con.execute("SELECT 1").fetchall() == [(1,)]
    assert changed(proxy, table) == []
    assert [a.status for a in about(proxy, table)] == [Status.REJECTED]
    stopped_cleanly(proxy)


def test_a_write_after_a_skipped_commit_stays_in_the_clients_block(
    proxy: RunningProxy, table: str
) -> None:
    """After the skipped COMMIT and ROLLBACK TO the block is the client's still: its next
    write is not put in a transaction of goex's and committed at the Sync; the client's
    ROLLBACK rolls it back."""
    with psycopg.connect(proxy.dsn()) as con:
        con.execute("SAVEPOINT s")
        with pytest.raises(psycopg.errors.DivisionByZero):
            bounded(proxy, lambda: con.execute("SELECT 1/0; COMMIT"))
        bounded(proxy, lambda: con.execute("ROLLBACK TO s"))
        bounded(proxy, lambda: con.execute(f"UPDATE {table} SET v = 'x' WHERE id = 5"))
        bounded(proxy, con.rollback)
    assert changed(proxy, table) == []
    assert [a.status for a in about(proxy, table)] == [Status.ROLLED_BACK]
    stopped_cleanly(proxy)


def test_a_write_after_a_skipped_begin_is_held(proxy: RunningProxy, table: str) -> None:
    """``SELECT 1/0; BEGIN`` from an autocommit client: no block is open, so goex opens its
    own for the next write and decides it (the policy rejects it), where it once let the
    server run it alone, committed."""
    with psycopg.connect(proxy.dsn(), autocommit=True) as con:
        with pytest.raises(psycopg.errors.DivisionByZero):
            bounded(proxy, lambda: con.execute("SELECT 1/0; BEGIN"))
        with pytest.raises(psycopg.errors.TransactionRollback, match="unfiltered"):
            bounded(proxy, lambda: con.execute(EVERYTHING.format(t=table)))
    assert changed(proxy, table) == []
    assert [a.status for a in about(proxy, table)] == [Status.REJECTED]
    stopped_cleanly(proxy)


def test_a_release_skipped_keeps_its_savepoint(proxy: RunningProxy, table: str) -> None:
    """``SELECT 1/0; RELEASE a`` then ROLLBACK TO a: the savepoint is still there, and only
    what came after it is taken back. goex once forgot it at the RELEASE, took the whole
    transaction for rolled back, and let 2,000 rows the policy rejects be committed."""
    with psycopg.connect(proxy.dsn()) as con:
        con.execute(f"INSERT INTO {table} SELECT g, 'bulk' FROM generate_series(100, 2099) g")
        con.execute("SAVEPOINT a")
        con.execute(f"UPDATE {table} SET v = 'y' WHERE id = 6")
        with pytest.raises(psycopg.errors.DivisionByZero):
            bounded(proxy, lambda: con.execute("SELECT 1/0; RELEASE a"))
        bounded(proxy, lambda: con.execute("ROLLBACK TO a"))
        with pytest.raises(psycopg.errors.TransactionRollback):
            bounded(proxy, con.commit)
    assert len(rows(proxy, table)) == 20 and changed(proxy, table) == []
    assert [a.status for a in about(proxy, table)] == [Status.REJECTED]
    stopped_cleanly(proxy)


def test_a_measure_that_fails_is_said_to_the_client(proxy: RunningProxy, table: str) -> None:
    """The client's statement_timeout stops goex's own measuring query at its COMMIT: the
    transaction is rolled back and the client told so (its COMMIT once went unanswered, and
    a ROLLBACK TO then revived the transaction), and the session goes on."""
    with psycopg.connect(proxy.dsn()) as con:
        con.execute(f"UPDATE {table} SET v = 'x' WHERE id = 5")
        con.execute("SET LOCAL statement_timeout = '1ms'")
        with pytest.raises(psycopg.errors.TransactionRollback, match="could not measure"):
            bounded(proxy, con.commit)
        assert con.execute("SELECT count(*) FROM " + table).fetchall() == [(20,)]
    assert changed(proxy, table) == []
    assert [a.status for a in about(proxy, table)] == [Status.FAILED]
    stopped_cleanly(proxy)


def test_an_autocommit_client_is_told_what_became_of_each_write(
    proxy: RunningProxy, table: str
) -> None:
    """A timeout of 1 ms stops now the client's UPDATE, now goex's measure of it: whichever,
    the client is told the truth (it was once told UPDATE 1 of a write goex rolled back)."""
    told_done = set()
    with psycopg.connect(proxy.dsn(), autocommit=True) as con:
        con.execute("SET statement_timeout = '1ms'")
        for i in range(1, 9):
            try:
                write = f"UPDATE {table} SET v = 'x' WHERE id = {i}"
                bounded(proxy, lambda write=write: con.execute(write))
                told_done.add(i)
            except (psycopg.errors.QueryCanceled, psycopg.errors.InFailedSqlTransaction):
                pass  # (the second: a query of goex's before the write was stopped)
            except psycopg.errors.TransactionRollback as exc:
                assert "could not measure" in str(exc)
    assert told_done == {r[0] for r in changed(proxy, table)}
    stopped_cleanly(proxy)


def test_a_commit_of_goex_that_fails_leaves_the_next_query_running(
    proxy: RunningProxy, table: str
) -> None:
    """An autocommit write whose COMMIT (goex's) breaks a deferred constraint: the client
    hears the violation, and its next query runs (the server once skipped it, unanswered,
    waiting for a Sync of goex's)."""
    proxy.direct(
        f"ALTER TABLE {table} ADD CONSTRAINT {table}_u UNIQUE (v) DEFERRABLE INITIALLY DEFERRED"
    )
    with psycopg.connect(proxy.dsn(), autocommit=True) as con:
        with pytest.raises(psycopg.errors.UniqueViolation):
            bounded(proxy, lambda: con.execute(f"UPDATE {table} SET v = 'v1' WHERE id = 5"))
        cur = bounded(proxy, lambda: con.execute(f"UPDATE {table} SET v = 'ok' WHERE id = 6"))
        assert cur.statusmessage == "UPDATE 1"
    assert changed(proxy, table) == [(6, "ok")]
    assert sorted(a.status.value for a in about(proxy, table)) == ["committed", "failed"]
    stopped_cleanly(proxy)


def test_a_timeout_below_a_millisecond_is_refused(proxy: RunningProxy) -> None:
    """PostgreSQL rounds '1us' to 0, which turns the timeout off: goex's limit would go."""
    with psycopg.connect(proxy.dsn(), autocommit=True) as con:
        with pytest.raises(psycopg.Error, match="only a value up to"):
            con.execute("SET statement_timeout = '1us'")
        assert con.execute("SHOW statement_timeout").fetchone() != ("0",)
    stopped_cleanly(proxy)


def test_a_large_object_is_not_written_past_the_journal(proxy: RunningProxy) -> None:
    """Large objects live in a catalog goex does not measure: ``lo_unlink`` and the other
    writing functions are refused (one once deleted an object, journaling nothing)."""
    oid = proxy.direct("SELECT lo_from_bytea(0, 'precious')")[0][0]
    with psycopg.connect(proxy.dsn(), autocommit=True) as con:
        for sql in (f"SELECT lo_unlink({oid})", f"SELECT lo_put({oid}, 0, 'zz')"):
            with pytest.raises(psycopg.Error, match="lo_"):
                con.execute(sql)
    assert proxy.direct("SELECT lo_get(%s)", oid) == [(b"precious",)]
    stopped_cleanly(proxy)
