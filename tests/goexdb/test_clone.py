"""Clone mode: the action runs on a throwaway copy; the database sees only a replayed commit."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from core.errors import ConflictError, StateError, StatementDenied
from goexdb.clone import CLONE_PREFIX, make_clone
from goexdb.cloned import ClonedHeld
from goexdb.dsn import Engine, Target, parse_dsn
from goexdb.gc import collect
from goexdb.session import Session
from tests.goexdb.conftest import ShopDB
from tests.goexdb.test_cli import goex_db


def hold_on_clone(target: Target, sql: str, *, tag: str) -> ClonedHeld:
    return Session(target).hold_on_clone(sql, tag=tag)


def clones_left(shop: ShopDB) -> list[str]:
    target = parse_dsn(shop.dsn)
    if target.engine is Engine.DUCKDB:
        assert target.path is not None
        return sorted(p.name for p in target.path.parent.glob(f"*{CLONE_PREFIX}*"))
    rows = shop.query(f"SELECT datname FROM pg_database WHERE datname LIKE '{CLONE_PREFIX}%'")
    return [r[0] for r in rows]


def test_rollback_leaves_the_database_untouched_and_drops_the_clone(shop_database: ShopDB) -> None:
    before = shop_database.snapshot()
    staged = hold_on_clone(
        parse_dsn(shop_database.dsn),
        "UPDATE orders SET status = 'sent' WHERE id <= 10; DELETE FROM customers WHERE id = 30",
        tag="t1",
    )
    assert (
        staged.effects.tables[
            "main.orders" if shop_database.engine == "duckdb" else "public.orders"
        ].updated
        == 10
    )
    assert clones_left(shop_database)  # the clone exists while the action waits
    assert shop_database.snapshot() == before  # measured on the clone only
    staged.rollback()
    assert shop_database.snapshot() == before
    assert clones_left(shop_database) == []


def test_commit_replays_on_the_database(shop_database: ShopDB) -> None:
    staged = hold_on_clone(
        parse_dsn(shop_database.dsn), "UPDATE orders SET status = 'sent' WHERE id <= 10", tag="t2"
    )
    staged.commit()
    sent = shop_database.query("SELECT count(*) FROM orders WHERE status = 'sent'")
    assert sent == [(10,)]
    assert clones_left(shop_database) == []
    assert staged.replayed is not None  # undo data comes from the real database's rows
    assert staged.undo_record() == staged.replayed.undo_record()


def test_commit_refuses_when_the_database_changed_since_the_clone(shop_database: ShopDB) -> None:
    staged = hold_on_clone(
        parse_dsn(shop_database.dsn), "DELETE FROM orders WHERE status = 'new'", tag="t3"
    )
    # Meanwhile, someone else ships ten orders on the real database.
    if shop_database.engine == "duckdb":
        import duckdb

        with duckdb.connect(shop_database.dsn.removeprefix("duckdb:")) as con:
            con.execute("UPDATE orders SET status = 'sent' WHERE id <= 10")
    else:
        with psycopg.connect(shop_database.dsn, autocommit=True) as con:
            con.execute("UPDATE orders SET status = 'sent' WHERE id <= 10")
    before = shop_database.snapshot()
    with pytest.raises(ConflictError, match="did not do what they did on the clone"):
        staged.commit()
    assert shop_database.snapshot() == before  # the replay was rolled back
    assert clones_left(shop_database) == []


def test_non_transactional_statements_run_on_the_clone_but_never_replay(pg_dsn: str) -> None:
    from tests.goexdb.conftest import _postgres_database_shop

    shop, drop = _postgres_database_shop(pg_dsn)
    try:
        staged = hold_on_clone(
            parse_dsn(shop.dsn),
            "UPDATE orders SET status = 'x' WHERE id < 4; "
            "CREATE INDEX CONCURRENTLY orders_status ON orders (status); VACUUM orders; "
            "DELETE FROM orders WHERE id = 50",
            tag="t4",
        )
        orders = staged.effects.tables["public.orders"]
        # Counts from both transactions, on either side of the ones that ran outside.
        assert (orders.updated, orders.deleted) == (3, 1)
        assert [c.change for c in staged.effects.schema_changes] == ["index_created"]
        with pytest.raises(StateError, match="cannot run inside a transaction block"):
            staged.commit()
        assert shop.query("SELECT count(*) FROM pg_indexes WHERE indexname = 'orders_status'") == [
            (0,)
        ]
        assert shop.query("SELECT count(*) FROM orders") == [(90,)]
        assert clones_left(shop) == []
    finally:
        drop()


def test_a_partitioned_update_before_a_non_transactional_statement_is_counted_on_its_rows(
    pg_dsn: str,
) -> None:
    """The issue 14 report: the partitions' counts of a transaction that ended early were not
    tied to their root any more, so all 28 rows read as changed by a cascade or trigger."""
    from tests.goexdb.conftest import _postgres_database_shop

    shop, drop = _postgres_database_shop(pg_dsn)
    try:
        with psycopg.connect(shop.dsn, autocommit=True) as con:
            con.execute(
                "CREATE TABLE pay (id int, paid date, amount int, PRIMARY KEY (id, paid)) "
                "PARTITION BY RANGE (paid)"
            )
            for month in (1, 2):
                con.execute(
                    f"CREATE TABLE pay_{month} PARTITION OF pay FOR VALUES FROM "
                    f"('2026-0{month}-01') TO ('2026-0{month + 1}-01')"
                )
            con.execute(
                "INSERT INTO pay SELECT g, date '2026-01-01' + g, g FROM generate_series(1, 50) g"
            )
        staged = hold_on_clone(
            parse_dsn(shop.dsn),
            "UPDATE pay SET amount = amount + 1 WHERE id <= 28; "
            "CREATE INDEX CONCURRENTLY pay_1_amount ON pay_1 (amount)",
            tag="t6",
        )
        tables = staged.effects.tables
        assert sum(t.updated for t in tables.values()) == 28
        assert sum(t.by_cascade_or_trigger for t in tables.values()) == 0
        assert staged.effects.reversible, staged.effects.irreversible
        staged.rollback()
    finally:
        drop()


@pytest.mark.parametrize(
    "sql",
    ["ALTER SYSTEM SET work_mem = '1GB'", "DROP DATABASE postgres", "CHECKPOINT", "COMMIT"],
)
def test_server_wide_statements_are_refused_even_on_a_clone(pg_dsn: str, sql: str) -> None:
    from tests.goexdb.conftest import _postgres_database_shop

    shop, drop = _postgres_database_shop(pg_dsn)
    try:
        with pytest.raises(StatementDenied):
            hold_on_clone(parse_dsn(shop.dsn), sql, tag="t5")
        assert clones_left(shop) == []
    finally:
        drop()


def test_busy_template_falls_back_to_dump_and_restore(pg_dsn: str) -> None:
    from tests.goexdb.conftest import _postgres_database_shop

    shop, drop = _postgres_database_shop(pg_dsn)
    reports: list[tuple[int, int]] = []
    try:
        with psycopg.connect(shop.dsn) as other_session:
            other_session.execute("SELECT 1")
            clone = make_clone(
                parse_dsn(shop.dsn), "t6", lambda done, total: reports.append((done, total))
            )
        try:
            assert clone.strategy == "pg_dump | pg_restore"
            assert "other sessions" in clone.reason
            assert reports and reports[-1][0] > 0  # progress was reported
            with psycopg.connect(clone.target.conninfo) as con:
                assert con.execute("SELECT count(*) FROM orders").fetchone() == (90,)
        finally:
            clone.drop()
        assert clones_left(shop) == []
    finally:
        drop()


def test_template_copy_is_preferred(pg_dsn: str) -> None:
    from tests.goexdb.conftest import _postgres_database_shop

    shop, drop = _postgres_database_shop(pg_dsn)
    try:
        clone = make_clone(parse_dsn(shop.dsn), "t7")
        try:
            assert clone.strategy.startswith("template")
            with psycopg.connect(clone.target.conninfo) as con:
                assert con.execute("SELECT count(*) FROM customers").fetchone() == (30,)
        finally:
            clone.drop()
    finally:
        drop()


def test_duckdb_clone_is_a_checkpointed_copy_next_to_the_file(duckdb_shop: ShopDB) -> None:
    clone = make_clone(parse_dsn(duckdb_shop.dsn), "t8")
    try:
        assert clone.strategy in ("reflink", "copy")
        assert clone.target.path is not None
        assert clone.target.path.parent == Path(duckdb_shop.dsn.removeprefix("duckdb:")).parent
        import duckdb

        with duckdb.connect(str(clone.target.path), read_only=True) as con:
            assert con.execute("SELECT count(*) FROM orders").fetchone() == (90,)
    finally:
        clone.drop()
    assert clones_left(duckdb_shop) == []


def test_gc_drops_clones_left_by_a_crash(shop_database: ShopDB) -> None:
    make_clone(parse_dsn(shop_database.dsn), "crashed")  # never dropped, as after a crash
    assert len(clones_left(shop_database)) == 1
    done = goex_db("gc", "--dsn", shop_database.dsn, "--format", "json")
    assert done.returncode == 0, done.stderr
    dropped = json.loads(done.stdout)["dropped"]
    assert len(dropped) == 1 and dropped[0].endswith(f"{CLONE_PREFIX}crashed")
    assert clones_left(shop_database) == []
    before = shop_database.snapshot()
    assert collect(parse_dsn(shop_database.dsn)) == ([], [])
    assert shop_database.snapshot() == before  # gc never touches the database itself


def test_run_clone_mode_end_to_end(shop_database: ShopDB) -> None:
    before = shop_database.snapshot()
    done = goex_db(
        "run", "--dsn", shop_database.dsn, "--mode", "clone", "--decide", "rollback",
        "--format", "json", "--sql", "UPDATE orders SET status = 'gone' WHERE id < 20",
    )  # fmt: skip
    assert done.returncode == 3, done.stderr
    report = json.loads(done.stdout)
    assert report["clone"]["strategy"]
    assert shop_database.snapshot() == before
    done = goex_db(
        "run", "--dsn", shop_database.dsn, "--mode", "clone", "--decide", "commit",
        "--sql", "UPDATE orders SET status = 'gone' WHERE id < 20",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "measured on clone" in done.stdout
    assert shop_database.query("SELECT count(*) FROM orders WHERE status = 'gone'") == [(19,)]
    assert clones_left(shop_database) == []


def test_a_clone_mode_commit_can_be_undone(shop_database: ShopDB) -> None:
    before = shop_database.snapshot()
    done = goex_db(
        "run", "--dsn", shop_database.dsn, "--mode", "clone", "--decide", "commit",
        "--format", "json", "--sql", "DELETE FROM orders WHERE id > 80",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert shop_database.snapshot() != before
    undo = goex_db("undo", json.loads(done.stdout)["id"], "--decide", "commit")
    assert undo.returncode == 0, undo.stderr + undo.stdout
    assert shop_database.snapshot() == before
