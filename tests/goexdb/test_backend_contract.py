"""The contract every database backend passes: the same tests on DuckDB and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

import goexdb
from core.errors import ConflictError, ExecutionError, StateError, StatementDenied
from tests.goexdb.conftest import ShopDB


def test_rollback_leaves_every_row_as_it_was(shop: ShopDB) -> None:
    before = shop.snapshot()
    with goexdb.connect(shop.dsn) as db:
        staged = db.stage(
            f"UPDATE {shop.table('orders')} SET status = 'sent'; "
            f"DELETE FROM {shop.table('customers')} WHERE id > 20; "
            f"INSERT INTO {shop.table('customers')} VALUES (100, 'new', NULL)"
        )
        staged.rollback()
    assert shop.snapshot() == before


def test_counts_are_measured_per_table(shop: ShopDB) -> None:
    with goexdb.connect(shop.dsn) as db:
        staged = db.stage(
            f"UPDATE {shop.table('orders')} SET status = 'sent' WHERE id <= 12; "
            f"DELETE FROM {shop.table('customers')} WHERE id > 25; "
            f"INSERT INTO {shop.table('customers')} VALUES (100, 'a', NULL), (101, 'b', NULL)"
        )
        tables = staged.effects.to_json()["tables"]
        staged.rollback()
    orders = next(v for k, v in tables.items() if k.endswith(".orders"))
    customers = next(v for k, v in tables.items() if k.endswith(".customers"))
    assert orders == {"inserted": 0, "updated": 12, "deleted": 0, "by_cascade_or_trigger": 0}
    assert customers == {"inserted": 2, "updated": 0, "deleted": 5, "by_cascade_or_trigger": 0}
    assert [r.rowcount for r in staged.results] == [12, 5, 2]


def test_commit_makes_exactly_the_staged_change(shop: ShopDB) -> None:
    before = shop.snapshot()
    with goexdb.connect(shop.dsn) as db:
        db.stage(f"UPDATE {shop.table('orders')} SET status = 'sent' WHERE id = 7").commit()
    after = shop.snapshot()
    changed = [(b, a) for b, a in zip(before, after, strict=True) if b != a]
    assert changed == [(("o", 7, "new", "8"), ("o", 7, "sent", "8"))]


def test_schema_changes_come_from_the_catalog(shop: ShopDB) -> None:
    with goexdb.connect(shop.dsn) as db:
        staged = db.stage(
            f"ALTER TABLE {shop.table('orders')} ADD COLUMN note TEXT; "
            f"CREATE TABLE {shop.table('audit')} (id INTEGER)"
        )
        changes = {
            (c.change, c.table.rpartition(".")[2], c.name) for c in staged.effects.schema_changes
        }
        staged.rollback()
    assert changes == {("column_added", "orders", "note"), ("table_created", "audit", None)}
    assert not shop.query("SELECT 1 FROM information_schema.tables WHERE table_name = 'audit'")


def test_reads_return_bounded_rows_and_change_nothing(shop: ShopDB) -> None:
    with goexdb.connect(shop.dsn) as db:
        staged = db.stage(f"SELECT id FROM {shop.table('orders')} ORDER BY id")
        staged.rollback()
    (result,) = staged.results
    assert result.rowcount is None
    assert result.rows[0] == [1]
    assert result.truncated  # 90 rows, more than the display bound
    assert staged.effects.rows_changed == 0


@pytest.mark.parametrize(
    "sql",
    [
        "COMMIT",
        "BEGIN",
        "ROLLBACK",
        "END",
        "SAVEPOINT s1",
        "SET search_path = x",
        "VACUUM",
        "CHECKPOINT",
        "PREPARE TRANSACTION 'x'",
    ],
)
def test_a_refused_statement_runs_nothing_before_it(shop: ShopDB, sql: str) -> None:
    before = shop.snapshot()
    with goexdb.connect(shop.dsn) as db, pytest.raises(StatementDenied):
        db.stage(f"DELETE FROM {shop.table('orders')}; {sql}")
    assert shop.snapshot() == before


def test_a_failing_statement_rolls_back_the_ones_before_it(shop: ShopDB) -> None:
    before = shop.snapshot()
    with goexdb.connect(shop.dsn) as db, pytest.raises(ExecutionError):
        db.stage(
            f"DELETE FROM {shop.table('orders')}; "
            f"INSERT INTO {shop.table('customers')} VALUES (1, 'duplicate key', NULL)"
        )
    assert shop.snapshot() == before


def test_describe_gives_schema_without_data(shop: ShopDB) -> None:
    with goexdb.connect(shop.dsn) as db:
        text = db.describe()
    assert "customers" in text and "email" in text
    assert "@example.com" not in text


def test_explain_shows_a_plan_and_changes_nothing(shop: ShopDB) -> None:
    before = shop.snapshot()
    with goexdb.connect(shop.dsn) as db:
        staged = db.stage(f"EXPLAIN DELETE FROM {shop.table('orders')}")
        staged.rollback()
    assert staged.results[0].rows
    assert shop.snapshot() == before


@pytest.mark.parametrize(
    ("created", "written_since", "kept"),
    [
        (
            "ALTER TABLE {orders} ADD COLUMN note TEXT",
            "UPDATE {orders} SET note = 'x' WHERE id = 3",
            "SELECT note FROM {orders} WHERE note IS NOT NULL",
        ),
        (
            "CREATE TABLE {audit} (id INTEGER); INSERT INTO {audit} VALUES (1)",
            "INSERT INTO {audit} VALUES (2)",
            "SELECT count(*) FROM {audit}",
        ),
    ],
)
def test_undoing_what_the_action_created_is_no_drop_unless_data_was_written_there_since(
    shop: ShopDB, created: str, written_since: str, kept: str
) -> None:
    """Each created table and column holds, at the commit, what a fingerprint records; the undo
    drops it only if it still holds that, so the default policy need not ask a person."""
    names = {"orders": shop.table("orders"), "audit": shop.table("audit")}
    with goexdb.connect(shop.dsn) as db:
        made = db.stage(created.format(**names))
        made.commit()
        undo = db.stage_undo(made.action.id)
        assert "db.drop" not in {v.rule for v in undo.violations}, undo.violations
        undo.rollback()
    shop.write(written_since.format(**names))
    refused = pytest.raises(ConflictError, match="holds data written since the action")
    with goexdb.connect(shop.dsn) as db, refused:
        db.stage_undo(made.action.id)
    assert [tuple(map(str, row)) for row in shop.query(kept.format(**names))] in (
        [("x",)],
        [("2",)],
    )  # what was written since is still there


def test_a_temporary_table_of_a_tables_name_is_shown_as_temporary_and_never_undone(
    shop: ShopDB,
) -> None:
    """A name that does not give its database (DuckDB) or schema (PostgreSQL) means the
    session's temporary table of that name first. Its rows go with the session: goex shows
    them under the temporary table's name and keeps no image of them. On DuckDB they were once
    counted and imaged as the real table's, and the undo, in a session of its own, deleted the
    real row they copied."""
    orders = shop.table("orders")
    before = shop.snapshot()
    with goexdb.connect(shop.dsn) as db:
        staged = db.stage(
            f"CREATE TEMP TABLE orders AS SELECT * FROM {orders} WHERE id = 7; "
            f"INSERT INTO orders SELECT * FROM {orders} WHERE id = 7"
        )
        tables = staged.effects.to_json()["tables"]
        staged.commit()
    temporary = "temp.main.orders" if shop.engine == "duckdb" else "pg_temp_"
    assert tables and all(name.startswith(temporary) for name in tables), tables
    copied = 1 if shop.engine == "duckdb" else 2  # (PostgreSQL counts the CREATE's row too)
    assert sum(t["inserted"] for t in tables.values()) == copied
    with goexdb.connect(shop.dsn) as db, pytest.raises(StateError, match="nothing to undo"):
        db.stage_undo(staged.action.id)
    assert shop.snapshot() == before


def test_an_action_that_works_through_a_temporary_table_is_undone_in_a_session_of_its_own(
    shop: ShopDB,
) -> None:
    """The temporary table is gone when the undo runs: it is no schema change to take back
    (PostgreSQL's undo once failed on dropping it: no such relation)."""
    orders = shop.table("orders")
    before = shop.snapshot()
    with goexdb.connect(shop.dsn) as db:
        staged = db.stage(
            f"CREATE TEMP TABLE picked AS SELECT id FROM {orders} WHERE id <= 3; "
            f"UPDATE {orders} SET status = 'sent' WHERE id IN (SELECT id FROM picked)"
        )
        assert staged.effects.schema_changes == []
        staged.commit()
    assert shop.snapshot() != before
    with goexdb.connect(shop.dsn) as db:
        db.stage_undo(staged.action.id).commit()
    assert shop.snapshot() == before


@pytest.mark.parametrize(
    "alter",
    [
        "ALTER TABLE orders RENAME COLUMN status TO was",
        "ALTER TABLE orders RENAME TO orders_then",
        "ALTER TABLE orders ADD COLUMN note TEXT",
    ],
)
def test_an_alter_of_a_temporary_table_is_refused(shop: ShopDB, alter: str) -> None:
    """goex reads renames from the statements: those of a temporary table of a lasting table's
    name were once taken for the lasting table's, and its undo swapped the real table's
    columns (helper-28)."""
    before = shop.snapshot()
    temporary = f"CREATE TEMP TABLE orders AS SELECT * FROM {shop.table('orders')}"
    with goexdb.connect(shop.dsn) as db, pytest.raises(StatementDenied) as refused:
        db.stage(f"{temporary}; {alter}")
    assert refused.value.rule == "db.temporary-alter"
    assert shop.snapshot() == before


def test_a_write_to_a_table_a_temporary_one_hides_is_not_imaged(tmp_path: Path) -> None:
    """DuckDB: with a temporary t, goex's own reads of "main"."t" read that one; a write to
    the real t by its database's name was imaged from the temporary table, and the undo
    deleted a real row the action never touched (helper-28). Now it is irreversible, and an
    undo refuses to run in a session with temporary tables."""
    path = tmp_path / "hidden.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE t (id INTEGER, v INTEGER); INSERT INTO t VALUES (1, 10)")
    dsn = f"duckdb:{path}"
    with goexdb.connect(dsn) as db:
        earlier = db.stage("UPDATE t SET v = 11")
        earlier.commit()
        db.stage("CREATE TEMP TABLE t (id INTEGER, v INTEGER)").commit()
        staged = db.stage(f"UPDATE {path.stem}.main.t SET v = v + 1")
        assert not staged.reversible
        assert "a temporary table of the session has the name of main.t" in str(
            staged.effects.irreversible
        )
        staged.rollback()
        with pytest.raises(StateError, match=r"without temporary tables: main\.t"):
            db.stage_undo(earlier.action.id)
    with goexdb.connect(dsn) as db:
        db.stage_undo(earlier.action.id).commit()
    with duckdb.connect(str(path)) as con:
        assert con.execute("SELECT * FROM t").fetchall() == [(1, 10)]


@pytest.mark.parametrize("schema", ['"temp"', '"s.x"'])
def test_a_duckdb_schema_goexs_sql_cannot_name_is_irreversible(tmp_path: Path, schema: str) -> None:
    """A schema named temp (DuckDB's name for its temporary catalog too) or with a '.' in its
    name: not imaged, and said so; an UPDATE of one once ended in a traceback (helper-28)."""
    path = tmp_path / "odd.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute(f"CREATE SCHEMA {schema}; CREATE TABLE {path.stem}.{schema}.t (id INTEGER)")
        con.execute(f"INSERT INTO {path.stem}.{schema}.t VALUES (1), (2)")
    why = "in a schema named temp" if schema == '"temp"' else "has a '.' in its name"
    with goexdb.connect(f"duckdb:{path}") as db:
        for sql in ("UPDATE {}.t SET id = id + 10", "DELETE FROM {}.t WHERE id = 1"):
            staged = db.stage(sql.format(f"{path.stem}.{schema}"))
            assert not staged.reversible
            assert why in str(staged.effects.irreversible)
            staged.rollback()


def test_a_rename_of_a_temporary_view_is_refused(shop: ShopDB) -> None:
    """A temporary view's rename was read as the lasting table's of the name it took, and the
    undo, in a session of its own, renamed that table (DuckDB, helper-29)."""
    orders = shop.table("orders")
    with goexdb.connect(shop.dsn) as db:
        db.stage("CREATE TEMP VIEW shown AS SELECT 1 AS one").commit()
        with pytest.raises(StatementDenied) as refused:
            db.stage("ALTER VIEW shown RENAME TO orders_then")
        assert refused.value.rule == "db.temporary-alter"
        written = db.stage(f"UPDATE {orders} SET status = 'x' WHERE id = 1")
        written.commit()
        with pytest.raises(StateError, match=r"without temporary tables: .*shown"):
            db.stage_undo(written.action.id)


def test_a_created_table_a_temporary_one_hides_has_no_fingerprint(tmp_path: Path) -> None:
    """DuckDB: the fingerprint of a table the action made was read through "main"."c", which
    a temporary c made after it answered: the undo's check that nothing was written there
    since compared with the temporary table's rows, and dropped data written since
    (helper-31). Now it has none, and the undo's drop is one a person must see."""
    path = tmp_path / "made.duckdb"
    duckdb.connect(str(path)).close()
    with goexdb.connect(f"duckdb:{path}") as db:
        made = db.stage("CREATE TABLE c (a INTEGER); CREATE TEMP TABLE c AS SELECT 42 AS a")
        made.commit()
    assert made.effects.fingerprints == {}
    with duckdb.connect(str(path)) as con:
        con.execute("INSERT INTO c VALUES (42)")  # written since, as the temporary table holds
    with goexdb.connect(f"duckdb:{path}") as db:
        undo = db.stage_undo(made.action.id)
        assert "db.drop" in {v.rule for v in undo.violations}, undo.violations
        undo.rollback()
    with duckdb.connect(str(path)) as con:
        assert con.execute("SELECT * FROM c").fetchall() == [(42,)]


def test_a_schema_named_temp_leaves_goexs_own_temporary_tables_named(tmp_path: Path) -> None:
    """DuckDB: goex keeps an UPDATE's row ids in a temporary table it named temp.<name>,
    which a schema named Temp makes ambiguous: every such UPDATE failed (helper-31)."""
    path = tmp_path / "schema.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute('CREATE SCHEMA "Temp"; CREATE TABLE t (id INTEGER PRIMARY KEY, a INTEGER)')
        con.execute("INSERT INTO t SELECT i, i FROM range(1, 11) r(i)")
    with goexdb.connect(f"duckdb:{path}") as db:
        staged = db.stage("UPDATE t SET a = a + 1")
        assert staged.reversible
        staged.commit()
    with goexdb.connect(f"duckdb:{path}") as db:
        db.stage_undo(staged.action.id).commit()
    with duckdb.connect(str(path)) as con:
        assert con.execute("SELECT id, a FROM t ORDER BY id").fetchall() == [
            (i, i) for i in range(1, 11)
        ]
