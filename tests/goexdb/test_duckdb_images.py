"""DuckDB reads an UPDATE's row images when they are needed, not while it stages it.

Before the UPDATE runs goex keeps the ids of the rows it will change (in a temporary table
named with a secret of the action's) and pins a snapshot; commit, ``reversible`` and
``undo_record`` read the images from the snapshot and the transaction. These tests check the
images against the table read through a connection of its own, and what is left behind."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

import goexdb
from core.config import DbConfig
from core.errors import ExecutionError


@pytest.fixture
def dsn(tmp_path: Path) -> str:
    path = tmp_path / "images.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute(
            "CREATE TABLE item (id INTEGER PRIMARY KEY, qty INTEGER, note TEXT, price DECIMAL(9,2))"
        )
        con.execute(
            "INSERT INTO item SELECT i, i % 7, 'row ' || i, i * 1.25 FROM range(1, 301) t(i)"
        )
        con.execute("CREATE TABLE side (id INTEGER, flag BOOLEAN)")
        con.execute("INSERT INTO side SELECT i, i % 2 = 0 FROM range(1, 301) t(i)")
    return f"duckdb:{path}"


def read(dsn: str, sql: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(dsn.removeprefix("duckdb:")) as con:
        return con.execute(sql).fetchall()


def rows_by_id(dsn: str) -> dict[int, dict[str, Any]]:
    return {
        r[0]: {"id": r[0], "qty": r[1], "note": r[2], "price": r[3]}
        for r in read(dsn, "SELECT id, qty, note, price FROM item")
    }


def as_rows(images: list[Any], side: int) -> dict[int, dict[str, Any]]:
    found = {}
    for image in images:
        row = json.loads(image[side], parse_float=Decimal)
        found[row["id"]] = row
    return found


def test_the_images_read_later_are_the_rows_before_and_after(dsn: str) -> None:
    before = rows_by_id(dsn)
    with goexdb.connect(dsn) as db:
        staged = db.hold("UPDATE item SET qty = qty + 1, note = 'touched' WHERE id % 3 = 0")
        assert staged.effects.images[0].images == []  # nothing read yet
        record = staged.undo_record()
        staged.commit()
    after = rows_by_id(dsn)
    images = record["images"][0]["images"]
    changed = {i for i in before if i % 3 == 0}
    assert len(images) == len(changed) == 100
    assert as_rows(images, 0) == {i: before[i] for i in changed}
    assert as_rows(images, 1) == {i: after[i] for i in changed}
    assert all(after[i]["note"] == "touched" for i in changed)


def test_each_rows_two_images_are_paired(tmp_path: Path) -> None:
    """The images are read as two texts in the order of the rows' ids, not of their keys:
    with rows stored out of key order, and a choice of them in many runs, each pair is still
    one row before and after."""
    path = tmp_path / "shuffled.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE item (id INTEGER PRIMARY KEY, qty INTEGER)")
        con.execute("INSERT INTO item SELECT i, i FROM range(1, 2001) t(i) ORDER BY hash(i)")
    with goexdb.connect(f"duckdb:{path}") as db:
        staged = db.hold("UPDATE item SET qty = qty * 10 WHERE id % 7 IN (1, 2, 4)")
        pairs = [
            (json.loads(b), json.loads(a)) for b, a in staged.undo_record()["images"][0]["images"]
        ]
        staged.rollback()
    assert len(pairs) == len([i for i in range(1, 2001) if i % 7 in (1, 2, 4)])
    assert all(b["id"] == a["id"] and a["qty"] == 10 * b["qty"] == 10 * b["id"] for b, a in pairs)


def test_an_update_with_from_is_read_once_per_row(dsn: str) -> None:
    with goexdb.connect(dsn) as db:
        staged = db.hold(
            "UPDATE item SET qty = 0 FROM side WHERE side.id % 10 = item.id % 10 AND side.flag"
        )
        changed = staged.results[0].rowcount
        record = staged.undo_record()
        staged.rollback()
    ids = [json.loads(b)["id"] for b, _ in record["images"][0]["images"]]
    assert len(ids) == len(set(ids)) == changed == 150


def test_an_update_with_from_read_at_once_counts_each_row_once(dsn: str) -> None:
    # A second writer of item reads the first UPDATE's images as it runs. DuckDB counts an
    # UPDATE ... FROM once per join match in most releases; goex reports each row once.
    with goexdb.connect(dsn) as db:
        staged = db.stage(
            "UPDATE item SET qty = 0 FROM side WHERE side.id % 10 = item.id % 10 AND side.flag; "
            "UPDATE item SET note = 'x' WHERE id = 1"
        )
        changed = staged.results[0].rowcount
        images = staged.effects.images[0]
        staged.rollback()
    ids = [json.loads(b)["id"] for b, _ in images.images]
    assert images.missing is None
    assert len(ids) == len(set(ids)) == changed == 150


def test_a_temporary_table_is_written_without_images(dsn: str) -> None:
    # An agent's own temporary table goes with the session, and an undo runs in one of its own:
    # its rows are counted under its name (temp. first), never imaged, and nothing to undo.
    with goexdb.connect(dsn) as db:
        staged = db.stage(
            "CREATE TEMP TABLE scratch (a INTEGER); INSERT INTO scratch VALUES (1), (2); "
            "DELETE FROM scratch WHERE a = 1"
        )
        assert [r.rowcount for r in staged.results[1:]] == [2, 1]
        assert staged.effects.images == []
        tables = staged.effects.to_json()["tables"]
        assert tables == {
            "temp.main.scratch": {
                "inserted": 2,
                "updated": 0,
                "deleted": 1,
                "by_cascade_or_trigger": 0,
            }
        }
        assert staged.reversible
        staged.rollback()
        with pytest.raises(ExecutionError, match="does not exist"):
            db.stage("DELETE FROM no_such_table")


def test_rollback_without_reading_leaves_nothing(dsn: str) -> None:
    before = rows_by_id(dsn)
    with goexdb.connect(dsn) as db:
        staged = db.hold("UPDATE item SET qty = -1")
        staged.rollback()
        assert "rolled back" in (staged.effects.images[0].missing or "")
        temporary = db.hold("SELECT count(*) FROM duckdb_tables() WHERE temporary")
        assert temporary.results[0].rows == [[0]]
        temporary.rollback()
    assert rows_by_id(dsn) == before


def test_commit_drops_the_temporary_tables(dsn: str) -> None:
    with goexdb.connect(dsn) as db:
        db.hold("UPDATE item SET qty = 1 WHERE id < 10").commit()
        temporary = db.hold("SELECT count(*) FROM duckdb_tables() WHERE temporary")
        assert temporary.results[0].rows == [[0]]
        temporary.rollback()
    assert read(dsn, "SELECT count(*) FROM item WHERE qty = 1 AND id < 10") == [(9,)]


def test_an_update_choosing_its_rows_at_random_has_no_images(dsn: str) -> None:
    # random() would pick other rows if the WHERE were read again: such an UPDATE is said to
    # be irreversible instead of being given the images of other rows.
    before = rows_by_id(dsn)
    with goexdb.connect(dsn) as db:
        staged = db.hold("UPDATE item SET note = 'lucky' WHERE random() < 0.5")
        assert staged.results[0].rowcount
        assert not staged.reversible
        assert "volatile function" in " ".join(staged.effects.irreversible)
        assert staged.undo_record()["images"][0]["images"] == []
        staged.rollback()
    assert rows_by_id(dsn) == before


def test_a_table_written_twice_reads_its_images_at_once(dsn: str) -> None:
    # A second writer of the same table would change what the snapshot or the transaction
    # shows, so both UPDATEs are imaged as they run; undo restores the first state.
    before = rows_by_id(dsn)
    with goexdb.connect(dsn) as db:
        staged = db.hold(
            "UPDATE item SET qty = 100 WHERE id <= 5; UPDATE item SET qty = qty + 1 WHERE id <= 3"
        )
        assert [len(i.images) for i in staged.effects.images] == [5, 3]
        record = staged.undo_record()
        staged.commit()
    assert (
        read(dsn, "SELECT qty FROM item WHERE id <= 5 ORDER BY id") == [(101,)] * 3 + [(100,)] * 2
    )
    with goexdb.connect(dsn) as db:
        db.hold_undo(db.plan_undo(record)).commit()
    assert rows_by_id(dsn) == before


def test_the_image_cap_applies_to_updates_read_later(dsn: str) -> None:
    with goexdb.connect(dsn, DbConfig(max_row_images=50)) as db:
        staged = db.hold("UPDATE item SET qty = 0 WHERE id <= 60")
        assert not staged.reversible
        assert "max_row_images" in (staged.effects.images[0].missing or "")
        staged.commit()
    assert read(dsn, "SELECT count(*) FROM item WHERE qty = 0 AND id <= 60") == [(60,)]


def test_the_temporary_table_is_out_of_the_agents_reach(dsn: str) -> None:
    # Its name is a secret of the action's: a script can only list it, after the fact, and a
    # name seen in one action's results is no use in the next.
    with goexdb.connect(dsn) as db:
        staged = db.hold(
            "UPDATE item SET qty = 5 WHERE id <= 4; "
            "SELECT table_name FROM duckdb_tables() WHERE temporary"
        )
        [[seen]] = staged.results[1].rows
        staged.rollback()
        with pytest.raises(ExecutionError, match="does not exist"):
            db.hold(f"UPDATE item SET qty = 6 WHERE id <= 4; DELETE FROM {seen}")
        staged = db.hold("UPDATE item SET qty = 7 WHERE id <= 4")
        record = staged.undo_record()
        staged.rollback()
    assert [json.loads(a)["qty"] for _, a in record["images"][0]["images"]] == [7] * 4
    assert read(dsn, "SELECT qty FROM item WHERE id <= 4") == [(1,), (2,), (3,), (4,)]


def made(path: Path, *setup: str) -> str:
    """A DuckDB file at ``path`` made by the ``setup`` statements: its DSN."""
    with duckdb.connect(str(path)) as con:
        for sql in setup:
            con.execute(sql)
    return f"duckdb:{path}"


def commit_and_undo(dsn: str, action: str) -> None:
    """``action`` staged and committed through goex, then its undo committed."""
    with goexdb.connect(dsn) as db:
        staged = db.stage(action)
        staged.commit()
        db.stage_undo(staged.action.id).commit()


AWKWARD = (
    "CREATE TABLE typed (id INTEGER PRIMARY KEY, j JSON, b BLOB, s VARCHAR, d DOUBLE, "
    "n DECIMAL(20, 6), h HUGEINT, ts TIMESTAMP, tz TIMESTAMPTZ, day DATE, span INTERVAL, "
    "l INTEGER[], st STRUCT(a VARCHAR, b INTEGER[]), u UUID, ok BOOLEAN, jl JSON[])"
)
# Line breaks, quotes, a NUL byte, backslashes and non-ASCII in text, JSON and bytes; numbers
# whose text a round trip through a float would change; NULLs inside lists and structs.
AWKWARD_ROWS = """INSERT INTO typed VALUES
    (1, '{"b": 1,\n  "a": [1, 2.50]}', '\\x00\\x0A''\\xFF'::BLOB, e'two\\nlines, a '' and \\\\',
     0.1, 12345.678900, 170141183460469231731687303715884105727, '2024-02-29 23:59:59.999999',
     '2024-02-29 23:59:59.999999+05:30', '2024-02-29', INTERVAL '1 month 2 days 3 microseconds',
     [1, NULL, 3], {'a': 'é\n', 'b': [NULL, 2]}, '00000000-0000-0000-0000-000000000001', true,
     ['{ "x" :  1 }', ' [1, 2] ']),
    (2, NULL, NULL, NULL, -0.0, NULL, -1, NULL, NULL, NULL, NULL, [], {'a': NULL, 'b': NULL},
     NULL, NULL, NULL)"""


@pytest.mark.parametrize(
    ("action", "sets"),
    [
        (
            "UPDATE typed SET j = '[]', b = ''::BLOB, s = 'x', d = 2, n = 0, h = 0, ts = now(), "
            "tz = now(), day = NULL, span = NULL, l = NULL, st = NULL, u = NULL, ok = NULL, "
            "jl = NULL",
            1,
        ),
        ("DELETE FROM typed", 1),
        ("UPDATE typed SET L = [7], ST = NULL", 1),  # (names in another case: moved rows)
        (
            "DELETE FROM typed WHERE id = 1; INSERT INTO typed (id, s) VALUES (1, 'new'), (3, 'x')",
            2,
        ),
    ],
)
def test_awkward_values_survive_an_undo_in_sets_exactly(
    tmp_path: Path, action: str, sets: int
) -> None:
    """An undo puts a statement's rows back set by set, its images travelling as text literals
    a line each: values that hold line breaks, quotes or bytes come back byte for byte."""
    dsn = made(tmp_path / "typed.duckdb", AWKWARD, AWKWARD_ROWS)
    every = "SELECT id, j::VARCHAR, b, s, d::VARCHAR, n, h, ts, tz, day, span, l, st, u, ok, jl"
    before = read(dsn, f"{every} FROM typed ORDER BY id")
    with goexdb.connect(dsn) as db:
        staged = db.stage(action)
        assert staged.reversible, staged.effects.irreversible
        staged.commit()
    assert read(dsn, f"{every} FROM typed ORDER BY id") != before
    with goexdb.connect(dsn) as db:
        plan = db.plan_undo(db.journal.undo_data(staged.action.id)[0])
        assert len(plan.statements) == sets  # a statement per set of rows, not per row
        db.stage_undo(staged.action.id).commit()
    assert read(dsn, f"{every} FROM typed ORDER BY id") == before


@pytest.mark.parametrize(
    "action",
    ["UPDATE g SET a = a + 10", "DELETE FROM g WHERE id = 1", "INSERT INTO g (id) VALUES (3)"],
)
def test_an_undo_never_writes_a_generated_column(tmp_path: Path, action: str) -> None:
    """DuckDB refuses a write to a generated column: the undo leaves it to be computed."""
    dsn = made(
        tmp_path / "generated.duckdb",
        "CREATE TABLE g (id INTEGER PRIMARY KEY, a INTEGER, "
        "b INTEGER GENERATED ALWAYS AS (a * 2) VIRTUAL)",
        "INSERT INTO g (id, a) VALUES (1, 1), (2, 2)",
    )
    before = read(dsn, "SELECT * FROM g ORDER BY id")
    commit_and_undo(dsn, action)
    assert read(dsn, "SELECT * FROM g ORDER BY id") == before


@pytest.mark.parametrize("action", ["UPDATE t SET v = 'y', b = '1'::BIT, n = 1", "DELETE FROM t"])
def test_bits_and_big_numbers_are_put_back(tmp_path: Path, action: str) -> None:
    """json_transform reads no BIT or BIGNUM: the action was reported reversible, committed,
    and its undo failed (after a DELETE, the rows were gone for good)."""
    dsn = made(
        tmp_path / "bits.duckdb",
        "CREATE TABLE t (id INTEGER PRIMARY KEY, b BIT, n VARINT, v VARCHAR)",
        "INSERT INTO t VALUES (1, '101'::BIT, 123456789012345678901234567890, 'x')",
    )
    before = read(dsn, "SELECT id, b::VARCHAR, n::VARCHAR, v FROM t")
    commit_and_undo(dsn, action)
    assert read(dsn, "SELECT id, b::VARCHAR, n::VARCHAR, v FROM t") == before


def test_a_column_added_after_the_action_is_left_out_of_its_undo(tmp_path: Path) -> None:
    """The undo reads its images as their own columns: a column added since, of a type JSON
    cannot carry (BIT), is not read from them."""
    path = tmp_path / "added.duckdb"
    dsn = made(
        path,
        "CREATE TABLE t (id INTEGER PRIMARY KEY, v VARCHAR)",
        "INSERT INTO t VALUES (1, 'v1'), (2, 'v2')",
    )
    with goexdb.connect(dsn) as db:
        staged = db.stage("UPDATE t SET v = v || '!'")
        staged.commit()
    with duckdb.connect(str(path)) as con:
        con.execute("ALTER TABLE t ADD COLUMN b BIT")
    with goexdb.connect(dsn) as db:
        db.stage_undo(staged.action.id).commit()
    assert read(dsn, "SELECT id, v, b FROM t ORDER BY id") == [(1, "v1", None), (2, "v2", None)]


def test_json_inside_a_struct_leaves_the_action_irreversible(tmp_path: Path) -> None:
    """DuckDB writes JSON inside a struct anew (its spaces, its order): an undo would put back
    other text, so such rows are not imaged, and the action says why before the decision."""
    dsn = made(
        tmp_path / "nested.duckdb",
        "CREATE TABLE t (id INTEGER PRIMARY KEY, st STRUCT(j JSON), n INTEGER)",
        """INSERT INTO t VALUES (1, {'j': '{ "a" :  1 }'}, 0)""",
    )
    with goexdb.connect(dsn) as db:
        staged = db.stage("UPDATE t SET n = 1")
        assert not staged.reversible
        assert "holds JSON inside a struct or map" in "; ".join(staged.effects.irreversible)
        staged.rollback()
