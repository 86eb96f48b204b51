"""Undo after commit, on every capture path: PostgreSQL 18's RETURNING old/new, the pre-18 way
(forced with image_path = "select"), and DuckDB. Every check reads the database through a
connection of its own."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pytest

import goexdb
from core.config import DbConfig
from core.errors import ConflictError, StateError


@dataclass
class Case:
    dsn: str
    config: DbConfig
    schema: str  # '' on DuckDB
    run: Callable[[str], list[tuple[Any, ...]]]  # another connection, autocommit

    def t(self, name: str) -> str:
        return f"{self.schema}{name}"

    def rows(self, table: str) -> list[tuple[Any, ...]]:
        return self.run(f"SELECT * FROM {self.t(table)} ORDER BY ALL")


PATHS = ["pg-returning", "pg-select", "duckdb"]


@pytest.fixture(params=PATHS)
def case(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Case]:
    if request.param == "duckdb":
        path = tmp_path / "undo.duckdb"
        duckdb.connect(str(path)).close()

        def run_duck(sql: str) -> list[tuple[Any, ...]]:
            with duckdb.connect(str(path)) as con:
                cursor = con.execute(sql)
                return cursor.fetchall() if cursor.description else []

        yield Case(f"duckdb:{path}", DbConfig(), "", run_duck)
        return
    dsn = request.getfixturevalue("pg_dsn")
    schema = f"undo_{uuid.uuid4().hex[:8]}"

    def run_pg(sql: str) -> list[tuple[Any, ...]]:
        with psycopg.connect(dsn, autocommit=True) as con:
            cursor = con.execute(sql.replace("ORDER BY ALL", "ORDER BY 1, 2"))
            return cursor.fetchall() if cursor.description else []

    run_pg(f"CREATE SCHEMA {schema}")
    path = "returning" if request.param == "pg-returning" else "select"
    yield Case(dsn, DbConfig(image_path=path), f"{schema}.", run_pg)
    run_pg(f"DROP SCHEMA {schema} CASCADE")


def commit(case: Case, sql: str) -> dict[str, Any]:
    with goexdb.connect(case.dsn, case.config) as db:
        staged = db.stage(sql)
        record = staged.undo_record()
        staged.commit()
    return record


def undo(case: Case, record: dict[str, Any]) -> None:
    with goexdb.connect(case.dsn, case.config) as db:
        db.hold_undo(db.plan_undo(record)).commit()


def make_orders(case: Case) -> None:
    case.run(
        f"CREATE TABLE {case.t('orders')} (id INTEGER PRIMARY KEY, status TEXT, total "
        "DECIMAL(12, 2))"
    )
    case.run(
        f"INSERT INTO {case.t('orders')} VALUES (1, 'new', 10.50), (2, 'new', 20.00), "
        "(3, 'paid', 30.25), (4, 'paid', 0.01)"
    )


def test_the_clumsy_update_of_every_row_is_undone_exactly(case: Case) -> None:
    make_orders(case)
    before = case.rows("orders")
    record = commit(case, f"UPDATE {case.t('orders')} SET status = 'shipped', total = 0")
    assert {r[1] for r in case.rows("orders")} == {"shipped"}
    undo(case, record)
    assert case.rows("orders") == before


def test_inserts_deletes_and_updates_together(case: Case) -> None:
    make_orders(case)
    before = case.rows("orders")
    record = commit(
        case,
        f"INSERT INTO {case.t('orders')} VALUES (9, 'new', 1.00); "
        f"DELETE FROM {case.t('orders')} WHERE id = 3; "
        f"UPDATE {case.t('orders')} SET total = total * 2 WHERE id IN (1, 9)",
    )
    undo(case, record)
    assert case.rows("orders") == before


def test_a_table_without_a_primary_key_with_duplicate_rows(case: Case) -> None:
    case.run(f"CREATE TABLE {case.t('events')} (kind TEXT, n INTEGER)")
    case.run(f"INSERT INTO {case.t('events')} VALUES ('a', 1), ('a', 1), ('b', 2)")
    before = case.rows("events")
    record = commit(case, f"UPDATE {case.t('events')} SET n = 5 WHERE kind = 'a'")
    assert case.rows("events") == [("a", 5), ("a", 5), ("b", 2)]
    undo(case, record)
    assert case.rows("events") == before


def test_rows_alike_without_a_key_are_undone_as_many_as_the_action_changed(case: Case) -> None:
    """Rows of a keyless table are told apart by nothing but their values: the undo takes back
    as many of the rows alike as the action made, and leaves the one that was there before."""
    case.run(f"CREATE TABLE {case.t('events')} (kind TEXT, n INTEGER)")
    case.run(f"INSERT INTO {case.t('events')} VALUES ('a', 1), ('a', 1), ('a', 5), ('b', 2)")
    before = case.rows("events")
    record = commit(case, f"UPDATE {case.t('events')} SET n = 5 WHERE n = 1")
    assert case.rows("events") == [("a", 5), ("a", 5), ("a", 5), ("b", 2)]
    undo(case, record)
    assert case.rows("events") == before


def test_a_keyless_row_changed_since_refuses_the_undo_and_is_named(case: Case) -> None:
    case.run(f"CREATE TABLE {case.t('events')} (kind TEXT, n INTEGER)")
    case.run(f"INSERT INTO {case.t('events')} VALUES ('a', 1), ('a', 1), ('b', 2)")
    record = commit(case, f"UPDATE {case.t('events')} SET n = 5 WHERE kind = 'a'")
    row_id = "ctid" if case.schema else "rowid"  # one of the two rows alike changes
    case.run(
        f"UPDATE {case.t('events')} SET n = 6 WHERE {row_id} = (SELECT {row_id} "
        f"FROM {case.t('events')} WHERE n = 5 LIMIT 1)"
    )
    after_concurrent = case.rows("events")
    with pytest.raises(ConflictError) as info:
        undo(case, record)
    assert [json.loads(d["row"]) for d in info.value.details] == [{"kind": "a", "n": 5}]
    assert case.rows("events") == after_concurrent


def test_a_composite_key(case: Case) -> None:
    case.run(
        f"CREATE TABLE {case.t('lines')} (order_id INTEGER, line INTEGER, qty INTEGER, "
        "PRIMARY KEY (order_id, line))"
    )
    case.run(f"INSERT INTO {case.t('lines')} VALUES (1, 1, 5), (1, 2, 6), (2, 1, 7)")
    before = case.rows("lines")
    record = commit(
        case,
        f"UPDATE {case.t('lines')} SET qty = qty + 1 WHERE order_id = 1; "
        f"DELETE FROM {case.t('lines')} WHERE order_id = 2",
    )
    undo(case, record)
    assert case.rows("lines") == before


def test_ddl_mixed_with_dml_is_undone(case: Case) -> None:
    make_orders(case)
    before = case.rows("orders")
    record = commit(
        case,
        f"ALTER TABLE {case.t('orders')} ADD COLUMN note TEXT; "
        f"UPDATE {case.t('orders')} SET note = 'x' WHERE id = 1; "
        f"CREATE TABLE {case.t('audit')} (id INTEGER); "
        f"INSERT INTO {case.t('audit')} VALUES (1); "
        f"CREATE INDEX orders_status ON {case.t('orders')} (status)",
    )
    undo(case, record)
    assert case.rows("orders") == before
    tables = case.run(
        "SELECT table_name FROM information_schema.tables WHERE table_name IN ('audit')"
        + (f" AND table_schema = '{case.schema[:-1]}'" if case.schema else "")
    )
    assert tables == []


def test_undo_is_refused_after_a_concurrent_change_and_changes_nothing(case: Case) -> None:
    make_orders(case)
    record = commit(case, f"UPDATE {case.t('orders')} SET status = 'sent' WHERE id IN (1, 2)")
    case.run(f"UPDATE {case.t('orders')} SET status = 'returned' WHERE id = 2")
    after_concurrent = case.rows("orders")
    with pytest.raises(ConflictError) as info:
        undo(case, record)
    assert len(info.value.details) == 1
    assert '"returned"' not in info.value.details[0]["row"]  # the after-image it expected
    assert case.rows("orders") == after_concurrent


def test_undo_of_a_reinsert_is_refused_when_the_key_was_taken_again(case: Case) -> None:
    make_orders(case)
    record = commit(case, f"DELETE FROM {case.t('orders')} WHERE id = 4")
    case.run(f"INSERT INTO {case.t('orders')} VALUES (4, 'someone else', 99.00)")
    with pytest.raises(ConflictError):
        undo(case, record)
    assert (4, "someone else") in [r[:2] for r in case.rows("orders")]


def test_irreversible_actions_say_so_at_review_time(case: Case) -> None:
    make_orders(case)
    with goexdb.connect(case.dsn, case.config) as db:
        staged = db.stage(f"DROP TABLE {case.t('orders')}")
        assert not staged.reversible
        assert any("dropped" in reason for reason in staged.effects.irreversible)
        staged.rollback()
        staged = db.stage(f"ALTER TABLE {case.t('orders')} DROP COLUMN total")
        assert not staged.reversible
        record = staged.undo_record()
        staged.rollback()
        with pytest.raises(StateError, match="cannot be undone"):
            db.plan_undo(record)


def test_images_past_the_cap_make_undo_unavailable(case: Case) -> None:
    make_orders(case)
    config = DbConfig(image_path=case.config.image_path, max_row_images=3)
    with goexdb.connect(case.dsn, config) as db:
        staged = db.stage(f"UPDATE {case.t('orders')} SET status = 'x'")
        assert staged.results[0].rowcount == 4
        assert not staged.reversible
        assert "max_row_images" in staged.effects.irreversible[0]
        staged.rollback()
        # the cap is the action's: two steps under it each are over it together
        staged = db.stage(f"UPDATE {case.t('orders')} SET status = 'y' WHERE id <= 2")
        assert staged.reversible, staged.effects.irreversible
        db.stage_more(staged, f"UPDATE {case.t('orders')} SET status = 'y' WHERE id > 2")
        assert not staged.reversible
        assert "max_row_images" in staged.effects.irreversible[0]
        staged.rollback()


def test_an_update_choosing_rows_at_random_is_undone_only_when_read_exactly(case: Case) -> None:
    # Reading such an UPDATE's rows before it runs could find other rows than it changes, so
    # only PostgreSQL 18's RETURNING old/new (the changed rows themselves) gives images.
    make_orders(case)
    before = case.rows("orders")
    sql = f"UPDATE {case.t('orders')} SET status = 'lucky' WHERE random() < 2"
    with goexdb.connect(case.dsn, case.config) as db:
        staged = db.stage(sql)
        assert staged.reversible is (case.config.image_path == "returning")
        record = staged.undo_record()
        staged.commit()
    if case.config.image_path != "returning":
        assert "volatile function" in " ".join(record["irreversible"])
        return
    undo(case, record)
    assert case.rows("orders") == before


def test_a_mixed_case_table_named_in_another_case(case: Case) -> None:
    case.run(
        f"CREATE TABLE {case.t(chr(34) + 'Ledger' + chr(34))} (id INTEGER PRIMARY KEY, n INTEGER)"
    )
    case.run(f"INSERT INTO {case.t(chr(34) + 'Ledger' + chr(34))} VALUES (1, 1), (2, 2)")
    before = case.run(f"SELECT * FROM {case.t(chr(34) + 'Ledger' + chr(34))} ORDER BY 1")
    # DuckDB matches names case-insensitively; PostgreSQL needs the quotes as created.
    name = case.t("ledger") if not case.schema else case.t('"Ledger"')
    record = commit(case, f"DELETE FROM {name} WHERE id = 2")
    undo(case, record)
    assert case.run(f"SELECT * FROM {case.t(chr(34) + 'Ledger' + chr(34))} ORDER BY 1") == before


def test_rows_changed_before_a_rename_of_their_column_are_put_back_under_its_new_name(
    case: Case,
) -> None:
    """Their images name a column the action renamed after them: the undo writes them back
    under the name the action left (their values' text untouched), then renames it back."""
    make_orders(case)
    orders = case.t("orders")
    before = case.rows("orders")
    renaming = f"UPDATE {orders} SET total = 0, status = 'void' WHERE id <= 2; "
    renaming += f"ALTER TABLE {orders} RENAME COLUMN status TO state; "
    renaming += f"UPDATE {orders} SET state = 'late' WHERE id = 3; "
    renaming += f'ALTER TABLE {orders} RENAME COLUMN state TO "Phase"; '
    renaming += f"DELETE FROM {orders} WHERE id = 4"
    with goexdb.connect(case.dsn, case.config) as db:
        staged = db.stage(renaming)
        assert staged.reversible, staged.effects.irreversible
        record = staged.undo_record()
        staged.commit()
    assert case.run(f'SELECT id, "Phase" FROM {orders} ORDER BY 1') == [
        (1, "void"),
        (2, "void"),
        (3, "late"),
    ]
    undo(case, record)
    assert case.rows("orders") == before
    assert case.run(f"SELECT status FROM {orders} ORDER BY id")[0] == ("new",)


def test_rows_changed_before_or_after_a_rename_of_their_table_are_put_back(case: Case) -> None:
    """Before: their images name the old table; they are written back under the new name, then
    the name is put back (it used to be declared irreversible). After: the undo took the
    renamed table for one the action created, and renamed it back without its rows, exit 0."""
    make_orders(case)
    orders = case.t("orders")
    before = case.rows("orders")
    sql = f"DELETE FROM {orders} WHERE id > 2; UPDATE {orders} SET total = 0 WHERE id = 1; "
    sql += f"ALTER TABLE {orders} RENAME TO bills; DELETE FROM {case.t('bills')} WHERE id = 2"
    record = commit(case, sql)
    assert case.rows("bills") == [(1, "new", 0)]
    undo(case, record)
    assert case.rows("orders") == before


def test_a_row_changed_since_under_its_new_name_still_refuses_the_undo(case: Case) -> None:
    make_orders(case)
    orders = case.t("orders")
    sql = f"UPDATE {orders} SET total = 0 WHERE id = 1; "
    record = commit(case, sql + f"ALTER TABLE {orders} RENAME COLUMN total TO amount")
    case.run(f"UPDATE {orders} SET amount = 5 WHERE id = 1")
    after = case.rows("orders")
    with pytest.raises(ConflictError, match="changed since"):
        undo(case, record)
    assert case.rows("orders") == after


def test_a_column_the_action_added_and_renamed_is_dropped_by_the_undo(case: Case) -> None:
    """Its rename is not a rename of a column that was there before: the undo drops it (it
    used to rename it back and leave it, with what the action wrote in it)."""
    make_orders(case)
    orders = case.t("orders")
    before = case.rows("orders")
    adding = f"ALTER TABLE {orders} ADD COLUMN note TEXT; "
    adding += f"UPDATE {orders} SET note = 'x', total = 1 WHERE id = 1; "
    adding += f"ALTER TABLE {orders} RENAME COLUMN note TO remark; "
    adding += f"ALTER TABLE {orders} RENAME COLUMN status TO state"
    record = commit(case, adding)
    assert case.run(f"SELECT remark, state FROM {orders} WHERE id = 1") == [("x", "new")]
    undo(case, record)
    assert case.rows("orders") == before
    assert case.run(f"SELECT * FROM {orders} WHERE id = 1") == [before[0]]


def test_a_rename_is_undone_whatever_was_written_in_the_column_since(case: Case) -> None:
    """The undo renames the column back; it drops nothing, so what was written there since
    stays (it used to be refused as data a drop would lose)."""
    make_orders(case)
    orders = case.t("orders")
    record = commit(case, f"ALTER TABLE {orders} RENAME COLUMN total TO amount")
    case.run(f"UPDATE {orders} SET amount = 99 WHERE id = 1")
    undo(case, record)
    assert case.run(f"SELECT total FROM {orders} WHERE id = 1") == [(99,)]


def test_a_table_rename_is_undone_with_its_constraints(case: Case) -> None:
    """DuckDB names a table's constraints after it: the rename reads as each dropped and made
    again under the new name, which the undo took for changes of their own (and failed)."""
    orders = case.t("orders")
    case.run(
        f"CREATE TABLE {orders} (id INTEGER PRIMARY KEY, code TEXT UNIQUE, "
        "total INTEGER CHECK (total >= 0))"
    )
    case.run(f"INSERT INTO {orders} VALUES (1, 'a', 1), (2, 'b', 2)")
    before = case.rows("orders")
    with goexdb.connect(case.dsn, case.config) as db:
        staged = db.stage(f"ALTER TABLE {orders} RENAME TO bills")
        assert staged.reversible, staged.effects.irreversible
        staged.commit()
        db.stage_undo(staged.action.id).commit()
    assert case.rows("orders") == before
    for broken in ("(1, 'c', 3)", "(3, 'a', 3)", "(3, 'c', -1)"):  # key, unique, check
        with pytest.raises((duckdb.Error, psycopg.Error)):
            case.run(f"INSERT INTO {orders} VALUES {broken}")


def test_a_column_that_passes_through_a_name_the_action_added_keeps_its_data(
    case: Case,
) -> None:
    """Columns are followed through the renames as themselves: ``status`` goes by way of
    ``note`` (a name an added column left) to ``state``, and the added one ends as ``note``.
    Undone, the added one is dropped and ``status`` renamed back with its data (followed by
    name, ``state`` was taken for the added column and dropped, its data with it)."""
    make_orders(case)
    orders = case.t("orders")
    before = case.rows("orders")
    steps = ("ADD COLUMN note TEXT", "RENAME COLUMN note TO tmp", "RENAME COLUMN status TO note")
    steps += ("RENAME COLUMN note TO state", "RENAME COLUMN tmp TO note")
    record = commit(case, "; ".join(f"ALTER TABLE {orders} {step}" for step in steps))
    undo(case, record)
    assert case.rows("orders") == before
    assert case.run(f"SELECT status FROM {orders} WHERE id = 4") == [("paid",)]


def test_the_undo_of_an_undo_is_exact(case: Case) -> None:
    """Before PostgreSQL 18 (image_path = "select") the undo's own UPDATE changed rows goex had
    not read first; paired with nothing they read as inserted, and undoing the undo deleted
    them, exit 0; later its images were missing, and the undo's undo refused. The undo's own
    images are its plan's now (``UndoPlan.known``): its undo is exact on every path."""
    make_orders(case)
    orders = case.t("orders")
    with goexdb.connect(case.dsn, case.config) as db:
        staged = db.stage(f"UPDATE {orders} SET total = 0 WHERE id = 1")
        staged.commit()
    after = case.rows("orders")
    with goexdb.connect(case.dsn, case.config) as db:
        undone = db.stage_undo(staged.action.id)
        undone.commit()
    with goexdb.connect(case.dsn, case.config) as db:
        db.stage_undo(undone.action.id).commit()
    assert case.rows("orders") == after


def test_an_undo_of_rows_keeps_the_images_its_guards_checked_and_undoes_them_in_turn(
    case: Case,
) -> None:
    """An undo's own images are those of its plan (the rows its guards found as the action
    left them, put back as they were before it), not read again from the database: undone
    in turn, three levels down, each level puts back the one before it, exactly."""
    make_orders(case)
    orders = case.t("orders")
    before = case.rows("orders")
    sql = f"UPDATE {orders} SET total = total + 1, status = 'x' WHERE id <= 2; "
    sql += f"DELETE FROM {orders} WHERE id = 3; INSERT INTO {orders} VALUES (5, 'new', 5.00); "
    sql += f"UPDATE {orders} SET total = 0 WHERE id = 1"
    with goexdb.connect(case.dsn, case.config) as db:
        staged = db.stage(sql)
        assert staged.reversible, staged.effects.irreversible
        staged.commit()
    after, undoing = case.rows("orders"), staged.action.id
    for wanted in (before, after, before):
        with goexdb.connect(case.dsn, case.config) as db:
            undone = db.stage_undo(undoing)
            assert undone.reversible, undone.effects.irreversible
            undone.commit()
        assert case.rows("orders") == wanted
        undoing = undone.action.id


@pytest.mark.parametrize(
    ("action", "since"),
    [
        ("UPDATE {o} SET id = 10 WHERE id = 1", "UPDATE {o} SET n = 99 WHERE id = 10"),
        ("DELETE FROM {o} WHERE id = 1", ""),
    ],
    ids=["key changed", "deleted"],
)
def test_a_column_added_since_the_commit_is_in_the_images_of_the_undo_and_its_undo(
    case: Case, action: str, since: str
) -> None:
    """The undo's own images were its plan's, made of the action's images: a column added
    after the commit was in none of them, so undoing the undo wrote the rows back without its
    values, exit 0 (helper-26: the value set since, or one its default drew from a sequence).
    Where the table's columns are not the images', the undo's own images are read back:
    three levels down, each is as before the one it undoes."""
    make_orders(case)
    orders = case.t("orders")
    with goexdb.connect(case.dsn, case.config) as db:
        staged = db.stage(action.format(o=orders))
        staged.commit()
    case.run(f"CREATE SEQUENCE {case.t('drawn')}")
    case.run(f"ALTER TABLE {orders} ADD COLUMN n INTEGER DEFAULT nextval('{case.t('drawn')}')")
    if since:
        case.run(since.format(o=orders))
    undoing, states = staged.action.id, [case.rows("orders")]
    for _ in range(3):
        with goexdb.connect(case.dsn, case.config) as db:
            undone = db.stage_undo(undoing)
            undone.commit()
        states.append(case.rows("orders"))
        undoing = undone.action.id
    assert (states[2], states[3]) == (states[0], states[1])


@pytest.mark.parametrize(
    "rename", ["RENAME COLUMN status TO state", "RENAME TO moved"], ids=["column", "table"]
)
def test_the_undo_of_an_undo_of_rows_and_a_rename_is_exact(case: Case, rename: str) -> None:
    """The undo named its rows' table as the catalog does ("public"."orders") and its rename
    back as the action wrote it (orders, on the search path): its own undo could not tell they
    were one table, and was refused. It names both alike now; three levels, each exact."""
    make_orders(case)
    if case.schema:  # the action names the table unqualified, found on its search path
        path = f"-c search_path={case.schema[:-1]}"
        case = replace(case, dsn=psycopg.conninfo.make_conninfo(case.dsn, options=path))

    def state() -> tuple[Any, ...]:
        table = "moved" if columns_of(case, "moved") else "orders"
        return table, columns_of(case, table), case.rows(table)

    before = state()
    with goexdb.connect(case.dsn, case.config) as db:
        staged = db.stage(f"UPDATE orders SET total = 0 WHERE id <= 2; ALTER TABLE orders {rename}")
        staged.commit()
    after = state()
    assert after != before
    expected, undoing = [before, after, before], staged.action.id
    for level, wanted in enumerate(expected):
        with goexdb.connect(case.dsn, case.config) as db:
            try:
                undone = db.stage_undo(undoing)
            except StateError as exc:  # (pre-18: the undo's own images are missing)
                assert level and case.config.image_path == "select", exc.message
                return
            undone.commit()
        assert state() == wanted, f"level {level + 1}"
        undoing = undone.action.id


@pytest.mark.parametrize("then", ["DROP COLUMN total", "ALTER COLUMN total TYPE TEXT"])
def test_a_renamed_tables_other_schema_changes_make_the_action_irreversible(
    case: Case, then: str
) -> None:
    """The catalog diff shows a renamed table as dropped and created, and nothing of its
    columns: undone, the column stayed dropped, exit 0 (from a second reading)."""
    make_orders(case)
    orders, bills = case.t("orders"), case.t("bills")
    with goexdb.connect(case.dsn, case.config) as db:
        staged = db.stage(f"ALTER TABLE {orders} RENAME TO bills; ALTER TABLE {bills} {then}")
        assert not staged.reversible
        assert "changes a table the action renames" in "; ".join(staged.effects.irreversible)
        staged.rollback()


def test_a_rename_in_one_schema_does_not_hide_a_drop_in_another(case: Case) -> None:
    other = f"o{uuid.uuid4().hex[:8]}"
    case.run(f"CREATE SCHEMA {other}")
    case.run(f"CREATE TABLE {other}.orders (id INTEGER PRIMARY KEY, status TEXT)")
    make_orders(case)
    orders = case.t("orders") if case.schema else "main.orders"
    with goexdb.connect(case.dsn, case.config) as db:
        for sql in (
            f"ALTER TABLE {orders} RENAME TO bills; DROP TABLE {other}.orders",
            f"ALTER TABLE {orders} RENAME COLUMN status TO state; "
            f"ALTER TABLE {other}.orders DROP COLUMN status",
        ):
            staged = db.stage(sql)
            assert not staged.reversible, sql
            assert "was dropped" in "; ".join(staged.effects.irreversible)
            staged.rollback()


def test_a_key_and_not_null_column_renamed_on_duckdb_is_undone(case: Case) -> None:
    """DuckDB names those constraints after the column (``ck_a_pkey``, ``ck_v_not_null``): the
    rename reads as them dropped and made again, which the undo tried to add back, and failed."""
    ck = case.t("ck")
    case.run(f"CREATE TABLE {ck} (a INTEGER PRIMARY KEY, v INTEGER NOT NULL)")
    case.run(f"INSERT INTO {ck} VALUES (1, 1), (2, 2)")
    before = case.rows("ck")
    steps = f"UPDATE {ck} SET v = 9 WHERE a = 1; ALTER TABLE {ck} RENAME COLUMN v TO vv; "
    undo(case, commit(case, steps + f"ALTER TABLE {ck} RENAME COLUMN a TO aa"))
    assert case.rows("ck") == before
    with pytest.raises((duckdb.Error, psycopg.Error)):
        case.run(f"INSERT INTO {ck} VALUES (1, 5)")


REUSED_COLUMN = (
    "ALTER TABLE {o} RENAME COLUMN status TO state; ALTER TABLE {o} ADD COLUMN status TEXT; "
    "UPDATE {o} SET status = 'x'"
)


@pytest.mark.parametrize(
    "sql",
    [
        REUSED_COLUMN,
        "ALTER TABLE {o} RENAME TO a1; ALTER TABLE {a1} RENAME TO b1; CREATE TABLE {a1} (x INT)",
    ],
    ids=["a column", "a table"],
)
def test_a_name_a_rename_vacated_and_the_action_reused_makes_it_irreversible(
    case: Case, sql: str
) -> None:
    """The catalog, read by name, sees the new one as the old one unchanged: the undo was
    reported possible and failed on the name taken. (PostgreSQL's follows a column by its
    number: there the column is undone, below.)"""
    if sql == REUSED_COLUMN and case.schema:
        pytest.skip("PostgreSQL's catalog tells the two columns apart: see the next test")
    make_orders(case)
    with goexdb.connect(case.dsn, case.config) as db:
        staged = db.stage(sql.format(o=case.t("orders"), a1=case.t("a1")))
        assert not staged.reversible, staged.effects.irreversible
        staged.rollback()


def test_a_column_added_under_a_name_a_rename_vacated_is_told_apart_and_undone(
    case: Case,
) -> None:
    """PostgreSQL follows a column through a rename by its number (attnum): the one renamed is
    renamed back, the one added under its old name is dropped, with what the action wrote."""
    if not case.schema:
        pytest.skip("DuckDB numbers a column by position: irreversible, above")
    make_orders(case)
    before = case.rows("orders")
    with goexdb.connect(case.dsn, case.config) as db:
        staged = db.stage(REUSED_COLUMN.format(o=case.t("orders")))
        changes = {(c.change, c.name, c.before) for c in staged.effects.schema_changes}
        assert changes == {("column_renamed", "state", "status"), ("column_added", "status", None)}
        assert staged.reversible, staged.effects.irreversible
        staged.commit()
        db.stage_undo(staged.action.id).commit()
    assert case.rows("orders") == before
    assert columns_of(case, "orders") == ["id", "status", "total"]


def columns_of(case: Case, table: str) -> list[str]:
    schema = case.schema.rstrip(".") or "main"
    return [
        name
        for (name,) in case.run(
            "SELECT column_name FROM information_schema.columns "
            f"WHERE table_schema = '{schema}' AND table_name = '{table}' ORDER BY ordinal_position"
        )
    ]


@pytest.mark.parametrize(
    "sql",
    [
        "DROP TABLE {o}; CREATE TABLE {o} (id INTEGER PRIMARY KEY, status TEXT, total "
        "DECIMAL(12, 2))",
        "ALTER TABLE {o} DROP COLUMN total; ALTER TABLE {o} ADD COLUMN total DECIMAL(12, 2)",
    ],
    ids=["a table", "a column"],
)
def test_a_table_or_column_dropped_and_made_again_under_its_name_is_irreversible(
    case: Case, sql: str
) -> None:
    """Read by name, the catalog saw the new one as the old one: the action was reported as
    changing nothing, reversible, and its data was gone for good."""
    make_orders(case)
    with goexdb.connect(case.dsn, case.config) as db:
        staged = db.stage(sql.format(o=case.t("orders")))
        assert not staged.reversible
        assert any("dropped" in why for why in staged.effects.irreversible)
        staged.rollback()
    assert len(case.rows("orders")) == 4


def test_an_action_journaled_when_the_catalog_was_diffed_by_name_is_still_undone(
    case: Case,
) -> None:
    """A record of version 1 shows a rename as a drop and a create (its undo must not take
    them for ones); version 2 follows the table, and on PostgreSQL the column, instead."""
    make_orders(case)
    before = case.rows("orders")
    orders = case.t("orders")
    record = commit(
        case,
        f"UPDATE {orders} SET total = 0 WHERE id = 2; "
        f"ALTER TABLE {orders} RENAME COLUMN status TO state; "
        f"ALTER TABLE {orders} RENAME TO orders_kept",
    )
    assert record["version"] == 2
    assert {c["change"] for c in record["schema_changes"]} >= {"table_renamed"}
    by_name = []
    for change in record["schema_changes"]:
        if change["change"] == "table_renamed":
            by_name += [{**change, "change": "table_dropped", "table": change["before"]}]
            by_name += [{**change, "change": "table_created"}]
        elif change["change"] == "column_renamed":
            by_name += [{**change, "change": "column_dropped", "name": change["before"]}]
            by_name += [{**change, "change": "column_added"}]
        else:
            by_name.append(change)
    undo(case, {**record, "version": 1, "schema_changes": by_name})
    assert case.rows("orders") == before
    assert columns_of(case, "orders") == ["id", "status", "total"]


@pytest.mark.parametrize(
    "sql",
    [
        "CREATE SEQUENCE {p}made_seq",
        "CREATE OR REPLACE VIEW {p}made_view AS SELECT 1 AS one",
        "COMMENT ON TABLE {o} IS 'noted'",
        "ALTER TABLE {o} ALTER COLUMN total TYPE DECIMAL(12, 2) USING 0",
        'ALTER TABLE {o} ALTER COLUMN status TYPE TEXT COLLATE "C"',
    ],
    ids=["sequence", "view", "comment", "type kept, values rewritten", "collation"],
)
def test_ddl_whose_changes_the_catalog_diff_does_not_see_is_irreversible(
    case: Case, sql: str
) -> None:
    """The catalog diff sees tables, columns, indexes and constraints: what else a statement
    changed was shown as nothing, reported reversible, and left in place by its undo."""
    make_orders(case)
    with goexdb.connect(case.dsn, case.config) as db:
        staged = db.stage(sql.format(o=case.t("orders"), p=case.schema))
        assert not staged.reversible
        assert "catalog diff does not see all it changes" in "; ".join(staged.effects.irreversible)
        staged.rollback()
    assert case.run(f"SELECT sum(total) FROM {case.t('orders')}") == [(Decimal("60.76"),)]


@pytest.mark.parametrize(
    "sql",
    [
        "ALTER TABLE {o} DROP COLUMN status; ALTER TABLE {o} RENAME COLUMN total TO status",
        "ALTER TABLE {o} RENAME COLUMN status TO x; ALTER TABLE {o} RENAME COLUMN total TO status; "
        "ALTER TABLE {o} DROP COLUMN x",
    ],
    ids=["dropped, then its name taken", "renamed away, its name taken, then dropped"],
)
def test_a_column_dropped_and_its_name_taken_by_a_rename_is_irreversible(
    case: Case, sql: str
) -> None:
    """DuckDB's catalog, read by name, showed only the renamed column's old name gone, which
    the rename explained: the undo renamed it back, exit 0, and the dropped column was lost."""
    make_orders(case)
    orders = case.t("orders")
    with goexdb.connect(case.dsn, case.config) as db:
        staged = db.stage(sql.format(o=orders))
        assert not staged.reversible
        assert "dropped" in "; ".join(staged.effects.irreversible)
        staged.rollback()


def test_a_renamed_columns_new_default_is_undone_or_the_action_irreversible(case: Case) -> None:
    """PostgreSQL follows the column by its number and puts the default back; DuckDB's catalog
    by name does not see it (the undo left the default in place), so there it is refused."""
    make_orders(case)
    orders = case.t("orders")
    sql = (
        f"ALTER TABLE {orders} RENAME COLUMN status TO state; "
        f"ALTER TABLE {orders} ALTER COLUMN state SET DEFAULT 'x'"
    )
    with goexdb.connect(case.dsn, case.config) as db:
        staged = db.stage(sql)
        if not case.schema:
            assert not staged.reversible
            assert "renamed and altered" in "; ".join(staged.effects.irreversible)
            staged.rollback()
            return
        assert staged.reversible, staged.effects.irreversible
        staged.commit()
        db.stage_undo(staged.action.id).commit()
    assert columns_of(case, "orders") == ["id", "status", "total"]
    schema = case.schema.rstrip(".")
    defaults = case.run(
        "SELECT column_default FROM information_schema.columns "
        f"WHERE table_schema = '{schema}' AND table_name = 'orders' AND column_name = 'status'"
    )
    assert defaults == [(None,)]


@pytest.mark.parametrize(
    "renames",
    [
        "ALTER TABLE {o} RENAME COLUMN status TO s; ALTER TABLE {o} RENAME COLUMN total TO status; "
        "ALTER TABLE {o} RENAME COLUMN s TO total",
        "ALTER TABLE {o} RENAME TO moved",
    ],
    ids=["columns swapped", "table renamed"],
)
def test_an_index_dropped_beside_renames_is_made_again_as_it_was(case: Case, renames: str) -> None:
    """The undo made a dropped index again from its definition before it put the names back:
    on the column that had taken its column's name (exit 0), or on a table not yet there."""
    if "RENAME COLUMN" in renames and not case.schema:
        pytest.skip("DuckDB's catalog, by name, sees the swapped columns' types change")
    make_orders(case)
    orders = case.t("orders")
    case.run(f"CREATE INDEX orders_status ON {orders} (status)")
    indexes = "SELECT sql FROM duckdb_indexes() ORDER BY 1"
    if case.schema:
        indexes = "SELECT indexdef FROM pg_indexes "
        indexes += f"WHERE schemaname = '{case.schema[:-1]}' ORDER BY 1"
    before = case.run(indexes)
    drop = f"DROP INDEX {case.t('orders_status')}"
    with goexdb.connect(case.dsn, case.config) as db:
        staged = db.stage(f"{drop}; {renames.format(o=orders)}")  # (DuckDB: in this order)
        assert staged.reversible, staged.effects.irreversible
        staged.commit()
        db.stage_undo(staged.action.id).commit()
    assert columns_of(case, "orders") == ["id", "status", "total"]
    assert case.run(indexes) == before


@pytest.mark.parametrize(
    ("index", "sql"),
    [
        ('"orders.status"', "ALTER TABLE {o} ADD COLUMN note TEXT"),
        (
            '"orders.status"',
            "DROP INDEX {i}; ALTER TABLE {o} RENAME COLUMN total TO amount; "
            "ALTER TABLE {o} ALTER COLUMN status SET NOT NULL; CREATE INDEX {n} ON {o} (status)",
        ),
        (
            "by_status",
            "DROP INDEX {i}; ALTER TABLE {o} RENAME COLUMN status TO state; "
            "CREATE INDEX {n} ON {o} (state)",
        ),
    ],
    ids=[
        "a column added",
        "renamed and not null, the index dropped and made again",
        "the index made again on the renamed column",
    ],
)
def test_a_table_with_an_index_is_put_back_and_keeps_the_index(
    case: Case, index: str, sql: str
) -> None:
    """DuckDB alters no table with an index but to add a column: the undo's DROP COLUMN,
    RENAME COLUMN and DROP NOT NULL failed (reported reversible). The undo now drops the index
    and makes it again, as it was: its name quoted as a name (a dot in it), and as it was
    before the action where the action made it again on a renamed column."""
    make_orders(case)
    orders = case.t("orders")
    case.run(f"CREATE INDEX {index} ON {orders} (status)")
    indexes = "SELECT index_name, sql FROM duckdb_indexes() ORDER BY 1"
    if case.schema:
        indexes = "SELECT indexname, indexdef FROM pg_indexes "
        indexes += f"WHERE schemaname = '{case.schema[:-1]}' ORDER BY 1"
    nullable = "SELECT column_name, is_nullable FROM information_schema.columns WHERE "
    nullable += f"table_name = 'orders' AND table_schema = '{case.schema[:-1] or 'main'}' "
    nullable += "ORDER BY ordinal_position"
    before = case.run(indexes), case.run(nullable), case.rows("orders")
    with goexdb.connect(case.dsn, case.config) as db:
        staged = db.stage(sql.format(o=orders, i=case.t(index), n=index))
        assert staged.reversible, staged.effects.irreversible
        staged.commit()
        db.stage_undo(staged.action.id).commit()
    assert (case.run(indexes), case.run(nullable), case.rows("orders")) == before


@pytest.mark.parametrize("column", ["r", "t", "old", "new", "rs"])
def test_a_table_with_a_column_named_as_goex_names_a_row_is_undone(case: Case, column: str) -> None:
    """goex read a row as JSON by a name a column can take the place of: the subquery r, the
    alias t (rows a cascade changed), old and new (RETURNING), the table's own name (before
    PostgreSQL 18). Such a table was reported reversible and its undo failed, or could not be
    written at all. Rows are read by the whole-row reference (``t.*``) now."""
    case.run(f'CREATE TABLE {case.t("rs")} (id INTEGER PRIMARY KEY, "{column}" TEXT)')
    case.run(f"INSERT INTO {case.t('rs')} VALUES (1, 'a'), (2, 'b')")
    before = case.rows("rs")
    rs = case.t("rs")
    record = commit(case, f"UPDATE {rs} SET \"{column}\" = 'x'; DELETE FROM {rs} WHERE id = 2")
    undo(case, record)
    assert case.rows("rs") == before


@pytest.mark.parametrize("index", ["made", '"orders.made"'])
def test_an_index_the_action_made_is_dropped_by_its_undo(case: Case, index: str) -> None:
    """Its name as the catalog gives it (schema.name) was quoted as if each dot parted names:
    one named with a dot was reported reversible, and its undo failed."""
    make_orders(case)
    indexes = "SELECT index_name FROM duckdb_indexes() ORDER BY 1"
    if case.schema:
        indexes = "SELECT indexname FROM pg_indexes "
        indexes += f"WHERE schemaname = '{case.schema[:-1]}' ORDER BY 1"
    before = case.run(indexes)
    record = commit(case, f"CREATE INDEX {index} ON {case.t('orders')} (status)")
    assert case.run(indexes) != before
    undo(case, record)
    assert case.run(indexes) == before


@pytest.mark.parametrize("indexed", ["note", "status"])
def test_a_column_added_and_indexed_is_undone_where_the_engine_can_drop_it(
    case: Case, indexed: str
) -> None:
    """DuckDB cannot drop a column in the transaction that dropped an index on it: the undo
    of a column added and indexed failed (reported reversible). There it is irreversible;
    an index on another column is no matter, and PostgreSQL undoes both."""
    make_orders(case)
    orders = case.t("orders")
    before = columns_of(case, "orders"), case.rows("orders")
    with goexdb.connect(case.dsn, case.config) as db:
        staged = db.stage(
            f"ALTER TABLE {orders} ADD COLUMN note TEXT; CREATE INDEX made ON {orders} ({indexed})"
        )
        if indexed == "note" and not case.schema:
            assert "cannot drop a column in the transaction" in staged.effects.irreversible[0]
            staged.rollback()
            return
        assert staged.reversible, staged.effects.irreversible
        staged.commit()
        db.stage_undo(staged.action.id).commit()
    assert (columns_of(case, "orders"), case.rows("orders")) == before


@pytest.mark.parametrize(
    "sql",
    [
        "ALTER TABLE {o} ALTER COLUMN status SET NOT NULL",
        "ALTER TABLE {o} ALTER COLUMN status SET NOT NULL; "
        "ALTER TABLE {o} ALTER COLUMN status DROP NOT NULL; "
        "ALTER TABLE {o} ALTER COLUMN id DROP NOT NULL",
        "CREATE TABLE {p}made (x INTEGER); ALTER TABLE {p}made RENAME COLUMN x TO y",
    ],
    ids=["not null set", "not null dropped", "a column of a table made renamed"],
)
def test_not_null_and_a_made_tables_renamed_column_are_undone(case: Case, sql: str) -> None:
    """Both engines refused the undo's ADD CONSTRAINT ... NOT NULL and DROP CONSTRAINT of a
    NOT NULL; and the undo dropped a table the action made, then renamed its column back."""
    make_orders(case)
    nullable = "SELECT column_name, is_nullable FROM information_schema.columns "
    nullable += f"WHERE table_name = 'orders' AND table_schema = '{case.schema[:-1] or 'main'}'"
    before = sorted(case.run(nullable))
    if "DROP NOT NULL" in sql:  # (on a key column DuckDB cannot drop it)
        case.run(f"ALTER TABLE {case.t('orders')} ADD COLUMN kept INTEGER NOT NULL DEFAULT 0")
        before = sorted(case.run(nullable))
        sql = sql.replace("COLUMN id", "COLUMN kept")
    with goexdb.connect(case.dsn, case.config) as db:
        staged = db.stage(sql.format(o=case.t("orders"), p=case.schema))
        assert staged.reversible, staged.effects.irreversible
        staged.commit()
        db.stage_undo(staged.action.id).commit()
    assert sorted(case.run(nullable)) == before
    assert not case.run(
        "SELECT table_name FROM information_schema.tables WHERE table_name = 'made'"
    )


def test_a_not_null_constraint_of_its_own_name_dropped_is_irreversible(
    pg_dsn: str,
) -> None:
    """Set again on the column, it would come back as table_column_not_null."""
    schema = f"nn_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_dsn, autocommit=True) as con:
        con.execute(f"CREATE SCHEMA {schema}")
        con.execute(f"CREATE TABLE {schema}.t (v int CONSTRAINT v_required NOT NULL)")
    with goexdb.connect(pg_dsn) as db:
        staged = db.stage(f"ALTER TABLE {schema}.t ALTER COLUMN v DROP NOT NULL")
        assert not staged.reversible
        assert "would come back named otherwise" in staged.effects.irreversible[0]
        staged.rollback()


@pytest.mark.parametrize(
    ("table", "column"),
    [("nn", '"MiXed"'), ('"Long' + "x" * 40 + '"', '"Ünï' + "é" * 30 + '"')],
    ids=["mixed case", "long names"],
)
def test_a_not_null_dropped_under_the_name_its_engine_gives_is_undone(
    case: Case, table: str, column: str
) -> None:
    """DuckDB names a NOT NULL after its column in ASCII lower case, PostgreSQL cuts the
    names to fit 63 bytes: such a NOT NULL dropped was taken for one of its own name
    (irreversible). It comes back under the same name."""
    named = case.t(table)
    case.run(f"CREATE TABLE {named} (id INTEGER PRIMARY KEY, {column} INTEGER NOT NULL)")
    case.run(f"INSERT INTO {named} VALUES (1, 2)")
    names = "SELECT constraint_name FROM information_schema.table_constraints WHERE "
    names += f"table_schema = '{case.schema[:-1] or 'main'}' AND constraint_name LIKE '%not_null'"
    names += " ORDER BY 1"
    before = case.run(names), case.run(f"SELECT * FROM {named}")
    assert len(before[0]) == 2  # (the key's, and the column's)
    with goexdb.connect(case.dsn, case.config) as db:
        staged = db.stage(f"ALTER TABLE {named} ALTER COLUMN {column} DROP NOT NULL")
        assert staged.reversible, staged.effects.irreversible
        staged.commit()
        db.stage_undo(staged.action.id).commit()
    assert (case.run(names), case.run(f"SELECT * FROM {named}")) == before


def test_a_view_the_action_made_is_dropped_by_its_undo_and_one_it_dropped_is_irreversible(
    case: Case,
) -> None:
    """A view read as a table made: its undo's DROP TABLE failed (and, once DDL the catalog
    diff cannot see was irreversible, every CREATE VIEW was)."""
    make_orders(case)
    views = ["CREATE VIEW {p}open_orders AS SELECT id FROM {o} WHERE status = 'new'"]
    if case.schema:
        views.append("CREATE MATERIALIZED VIEW {p}totals AS SELECT sum(total) AS s FROM {o}")
    record = commit(case, "; ".join(views).format(p=case.schema, o=case.t("orders")))
    assert {c["change"] for c in record["schema_changes"]} == {"view_created"}
    assert not record["irreversible"]
    assert case.run(f"SELECT count(*) FROM {case.t('open_orders')}") == [(2,)]
    undo(case, record)
    assert not case.run(
        "SELECT table_name FROM information_schema.tables WHERE table_name = 'open_orders'"
    )
    case.run(f"CREATE VIEW {case.t('kept')} AS SELECT id FROM {case.t('orders')}")
    with goexdb.connect(case.dsn, case.config) as db:
        staged = db.stage(f"DROP VIEW {case.t('kept')}")
        assert staged.effects.irreversible == [f"view {case.schema or 'main.'}kept was dropped"]
        staged.rollback()


@pytest.mark.parametrize(
    "sql",
    [
        "ALTER TABLE {o} ADD CONSTRAINT orders_status_key UNIQUE (status)",
        "ALTER TABLE {o} ADD COLUMN code INTEGER UNIQUE",
        "ALTER TABLE {o} ADD COLUMN n INTEGER GENERATED ALWAYS AS IDENTITY",
    ],
    ids=["a unique constraint", "a unique column", "an identity column"],
)
def test_what_goes_with_a_constraint_or_column_the_action_added_is_not_undone_twice(
    case: Case, sql: str
) -> None:
    """Found by a second reading: the undo dropped the constraint, then its index (which had
    gone with it), or an added identity column's NOT NULL (refused): reported reversible,
    the undo failed."""
    if not case.schema:
        pytest.skip("DuckDB adds no constraint to a table (and has no identity columns)")
    make_orders(case)
    if "UNIQUE (status)" in sql:
        case.run(f"UPDATE {case.t('orders')} SET status = status || id")
    before = case.rows("orders")
    record = commit(case, sql.format(o=case.t("orders")))
    assert not record["irreversible"]
    undo(case, record)
    assert case.rows("orders") == before
    assert columns_of(case, "orders") == ["id", "status", "total"]


def test_a_constraint_added_is_irreversible_where_the_engine_cannot_drop_one(
    case: Case,
) -> None:
    """DuckDB has no DROP CONSTRAINT: the undo of an added key failed."""
    case.run(f"CREATE TABLE {case.t('keyless')} (id INTEGER, v TEXT)")
    with goexdb.connect(case.dsn, case.config) as db:
        staged = db.stage(f"ALTER TABLE {case.t('keyless')} ADD PRIMARY KEY (id)")
        assert staged.reversible is bool(case.schema), staged.effects.irreversible
        staged.rollback()


@pytest.mark.parametrize("renamed", [False, True])
def test_a_column_added_written_and_dropped_again_in_the_action_is_irreversible(
    case: Case, renamed: bool
) -> None:
    """The rows written while it was there are imaged with it, and the undo wrote them back
    into a table that no longer has it: reported reversible, the undo failed (also where it
    was renamed before its drop, or the table named otherwise: DuckDB's main.orders). Written
    after its drop, the rows are undone."""
    make_orders(case)
    orders = case.t("orders")
    named = orders if case.schema else f"main.{orders}"
    dropped = "y" if renamed else "z"
    rename = f"ALTER TABLE {orders} RENAME COLUMN z TO y; " if renamed else ""
    with goexdb.connect(case.dsn, case.config) as db:
        staged = db.stage(
            f"ALTER TABLE {named} ADD COLUMN z INTEGER; UPDATE {orders} SET z = 1, status = 'x' "
            f"WHERE id = 1; {rename}ALTER TABLE {orders} DROP COLUMN {dropped}"
        )
        assert not staged.reversible
        assert any("added and dropped again" in why for why in staged.effects.irreversible)
        staged.rollback()
    before = case.rows("orders")
    record = commit(
        case,
        f"ALTER TABLE {orders} ADD COLUMN z INTEGER; ALTER TABLE {orders} DROP COLUMN z; "
        f"UPDATE {orders} SET status = 'x' WHERE id = 1",
    )
    undo(case, record)
    assert case.rows("orders") == before
