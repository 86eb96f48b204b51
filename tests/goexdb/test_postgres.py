"""What only PostgreSQL measures: cascades, locks, rewrites, sequences, local timeouts."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

import goexdb
from core.config import DbConfig
from core.errors import (
    ConflictError,
    ExecutionError,
    PolicyRejected,
    StateError,
    StatementDenied,
)
from goexdb import image_text
from goexdb.effects import WHOLE_ACTION
from goexdb.engines import POSTGRES


@pytest.fixture
def schema(pg_dsn: str) -> Iterator[str]:
    name = f"goex_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_dsn, autocommit=True) as con:
        con.execute(f"CREATE SCHEMA {name}")
        con.execute(f"CREATE TABLE {name}.parent (id serial PRIMARY KEY, v text)")
        con.execute(
            f"CREATE TABLE {name}.child (id serial PRIMARY KEY, "
            f"parent_id int REFERENCES {name}.parent (id) ON DELETE CASCADE)"
        )
        con.execute(f"INSERT INTO {name}.parent (v) SELECT 'p' FROM generate_series(1, 10)")
        con.execute(
            f"INSERT INTO {name}.child (parent_id) SELECT 1 + i % 10 FROM generate_series(1, 40) i"
        )
    yield name
    with psycopg.connect(pg_dsn, autocommit=True) as con:
        con.execute(f"DROP SCHEMA {name} CASCADE")


def _counted(pg_dsn: str, sql: str) -> dict[str, Any]:
    """The per-table counts of a script staged with counts only, then rolled back."""
    with goexdb.connect(pg_dsn, DbConfig(capture="counts")) as db:
        staged = db.stage(sql)
        tables: dict[str, Any] = staged.effects.to_json()["tables"]
        staged.rollback()
    return tables


def test_cascaded_deletes_are_counted_and_attributed(pg_dsn: str, schema: str) -> None:
    with goexdb.connect(pg_dsn) as db:
        staged = db.stage(f"DELETE FROM {schema}.parent WHERE id <= 2")
        tables = staged.effects.to_json()["tables"]
        staged.rollback()
    assert tables[f"{schema}.parent"]["deleted"] == 2
    assert tables[f"{schema}.parent"]["by_cascade_or_trigger"] == 0
    assert tables[f"{schema}.child"]["deleted"] == 8
    assert tables[f"{schema}.child"]["by_cascade_or_trigger"] == 8


def test_counts_do_not_carry_over_between_actions(pg_dsn: str, schema: str) -> None:
    with goexdb.connect(pg_dsn) as db:
        db.stage(f"UPDATE {schema}.parent SET v = 'x' WHERE id = 1").rollback()
        second = db.stage(f"UPDATE {schema}.parent SET v = 'y' WHERE id IN (2, 3)")
        counts = second.effects.tables[f"{schema}.parent"]
        second.rollback()
    assert counts.updated == 2


@pytest.mark.parametrize("flushes", [True, False], ids=["flushed-at-end", "baseline-at-begin"])
def test_counts_stay_exact_over_a_run_of_actions_on_one_connection(
    pg_dsn: str, schema: str, flushes: bool
) -> None:
    # PostgreSQL 15+ flushes a transaction's counts as it ends (goex asks it to), so the next
    # action needs no baseline; before 15 goex reads one at BEGIN. Either way, after commits,
    # rollbacks, a failed statement and a rolled-back DDL, each action counts only its own rows.
    parent = f"{schema}.parent"
    with goexdb.connect(pg_dsn) as db:
        db.backend._flushes = flushes  # type: ignore[attr-defined]
        seen = []
        for sql, end in [
            (f"UPDATE {parent} SET v = 'a' WHERE id <= 4", "commit"),
            (f"UPDATE {parent} SET v = 'b' WHERE id <= 6", "rollback"),
            (f"DELETE FROM {parent} WHERE id = 10", "rollback"),
            (f"ALTER TABLE {parent} ADD COLUMN w int; UPDATE {parent} SET w = 1", "rollback"),
            (f"INSERT INTO {parent} (v) VALUES ('n'), ('m')", "commit"),
            (f"UPDATE {parent} SET v = 'c' WHERE id IN (1, 2, 3)", "rollback"),
        ]:
            staged = db.stage(sql)
            change = staged.effects.tables[parent]
            seen.append((change.inserted, change.updated, change.deleted))
            staged.commit() if end == "commit" else staged.rollback()
            with pytest.raises(ExecutionError):
                db.stage(f"UPDATE {parent} SET id = 1 WHERE id = 2")  # duplicate key
    assert seen == [(0, 4, 0), (0, 6, 0), (0, 0, 1), (0, 10, 0), (2, 0, 0), (0, 3, 0)]


def test_a_rolled_back_ddl_measured_apart_leaves_no_stale_prepared_statement(
    pg_dsn: str, schema: str
) -> None:
    # A dry-run measures statements apart (mark) in one transaction: a DDL measured before a
    # read still makes the rollback drop goex's prepared statements, or the read, prepared
    # (run a second time) with the added column, would fail once the column is rolled back.
    from goexdb.sql import parse_script

    parent = f"{schema}.parent"
    with goexdb.connect(pg_dsn) as db:
        backend = db.backend  # type: ignore[attr-defined]
        [alter] = parse_script(f"ALTER TABLE {parent} ADD COLUMN w int", "postgres")
        [read] = parse_script(f"SELECT * FROM {parent} WHERE id = 1", "postgres")
        backend.begin([alter])
        backend.execute(alter)
        backend.mark([read, read])
        assert backend.execute(read).columns == ["id", "v", "w"]
        assert backend.execute(read).columns == ["id", "v", "w"]
        backend.rollback()
        staged = db.stage(f"SELECT * FROM {parent} WHERE id = 1")
        assert staged.results[0].columns == ["id", "v"]
        staged.rollback()


def test_a_statement_prepared_before_ddl_still_runs_after_it(pg_dsn: str, schema: str) -> None:
    # goex prepares a statement the second time it sees its text; DDL that changes what it
    # returns, later in the same action or rolled back to a savepoint, must not make
    # PostgreSQL refuse it ("cached plan must not change result type").
    read = f"SELECT v FROM {schema}.parent WHERE id = 1"
    retype = f"ALTER TABLE {schema}.parent ALTER COLUMN v TYPE int USING 7"
    with goexdb.connect(pg_dsn) as db:
        db.stage(read).rollback()
        staged = db.stage(f"{read}; {read}; {retype}; {read}")
        assert [r.rows for r in staged.results] == [[["p"]], [["p"]], [], [[7]]]
        staged.rollback()
        backend = db.backend  # type: ignore[attr-defined]
        statements = db.classify(f"{retype}; {read}; {read}")
        backend.begin(statements)
        backend.savepoint("before")
        assert [backend.execute(s).rows for s in statements] == [[], [[7]], [[7]]]
        backend.rollback_to("before")
        backend.mark(statements[1:])
        assert backend.execute(statements[1]).rows == [["p"]]
        backend.rollback()
        staged = db.stage(read)
        assert staged.results[0].rows == [["p"]]
        staged.rollback()


def test_a_merge_is_counted_committed_and_undone(pg_dsn: str, schema: str) -> None:
    parent = f"{schema}.parent"
    merge = (
        f"MERGE INTO {parent} p USING (VALUES (1, 'm'), (11, 'n')) s(id, v) ON p.id = s.id "
        "WHEN MATCHED THEN UPDATE SET v = s.v WHEN NOT MATCHED THEN INSERT (id, v) "
        "VALUES (s.id, s.v)"
    )
    with goexdb.connect(pg_dsn) as db:
        staged = db.stage(merge)
        change = staged.effects.tables[parent]
        assert (change.inserted, change.updated, change.deleted) == (1, 1, 0)
        assert staged.reversible
        record = staged.undo_record()
        staged.commit()
        with psycopg.connect(pg_dsn) as con:
            rows = f"SELECT id, v FROM {parent} WHERE id IN (1, 11) ORDER BY id"
            assert con.execute(rows).fetchall() == [(1, "m"), (11, "n")]
        db.hold_undo(db.plan_undo(record)).commit()
    with psycopg.connect(pg_dsn) as con:
        assert con.execute(rows).fetchall() == [(1, "p")]


def test_each_later_step_is_a_savepoint_released_once_it_ran(pg_dsn: str, schema: str) -> None:
    parent = f"{schema}.parent"
    with goexdb.connect(pg_dsn) as db:
        staged = db.stage(f"UPDATE {parent} SET v = 'a' WHERE id = 1")
        for n in range(2, 5):
            db.stage_more(staged, f"UPDATE {parent} SET v = 'b' WHERE id = {n}")
        with pytest.raises(ExecutionError, match="invalid input syntax"):
            db.stage_more(staged, f"UPDATE {parent} SET id = 'x'")  # undoes only itself
        assert staged.effects.tables[parent].updated == 4
        con = db.backend._con  # type: ignore[attr-defined]
        assert con.execute(f"SELECT count(*) FROM {parent} WHERE v <> 'p'").fetchone() == (4,)
        with pytest.raises(psycopg.errors.InvalidSavepointSpecification):
            con.execute("RELEASE SAVEPOINT goex_step")  # none of the steps' savepoints is left
        staged.rollback()
    with psycopg.connect(pg_dsn) as con:
        assert con.execute(f"SELECT count(*) FROM {parent} WHERE v <> 'p'").fetchone() == (0,)


def test_the_server_refuses_a_statement_text_holding_two_commands(pg_dsn: str, schema: str) -> None:
    # Should goex's splitter ever pass on a text holding two commands, the server refuses it:
    # every statement goes by the extended protocol, run the first time and prepared after.
    import dataclasses

    from goexdb.sql import parse_script

    [update] = parse_script(f"UPDATE {schema}.parent SET v = 'x' WHERE id = 1", "postgres")
    smuggled = dataclasses.replace(update, sql=f"{update.sql}; DROP TABLE {schema}.child")
    with goexdb.connect(pg_dsn, DbConfig(capture="counts")) as db:
        for _ in range(3):
            with pytest.raises(ExecutionError, match="multiple commands"):
                db.hold([smuggled])
    with psycopg.connect(pg_dsn) as con:
        assert con.execute(f"SELECT count(*) FROM {schema}.child").fetchone() == (40,)
        assert con.execute(f"SELECT v FROM {schema}.parent WHERE id = 1").fetchone() == ("p",)


def test_locks_rewrites_and_sequences_are_reported(pg_dsn: str, schema: str) -> None:
    with goexdb.connect(pg_dsn) as db:
        staged = db.stage(
            f"INSERT INTO {schema}.parent (v) VALUES ('new'); "
            f"ALTER TABLE {schema}.parent ALTER COLUMN v TYPE varchar(50)"
        )
        effects = staged.effects
        staged.rollback()
    modes = {(lock["relation"], lock["mode"]) for lock in effects.locks}
    assert (f"{schema}.parent", "RowExclusiveLock") in modes
    assert (f"{schema}.parent", "AccessExclusiveLock") in modes
    assert effects.rewrites == [f"{schema}.parent"]
    assert any(f"{schema}.parent_id_seq" in note for note in effects.side_effects)


@pytest.mark.parametrize(
    ("sql", "rewritten"),
    [
        ("DROP TABLE {s}.child; CREATE TABLE {s}.child (id int)", []),
        (
            "ALTER TABLE {s}.child RENAME TO renamed; "
            "ALTER TABLE {s}.renamed ALTER parent_id TYPE bigint",
            ["renamed"],
        ),
    ],
    ids=["dropped and made again", "renamed, then rewritten"],
)
def test_a_rewrite_is_of_the_same_table_whatever_its_name(
    pg_dsn: str, schema: str, sql: str, rewritten: list[str]
) -> None:
    """Tables are followed by oid: one made again under a dropped table's name was not
    rewritten (it was reported so, its name alike); a renamed one is named as it is now."""
    with goexdb.connect(pg_dsn) as db:
        staged = db.stage(sql.format(s=schema))
        effects = staged.effects
        staged.rollback()
    assert effects.rewrites == [f"{schema}.{name}" for name in rewritten]


def test_a_held_action_locks_no_sequence_it_did_not_use(pg_dsn: str, schema: str) -> None:
    # goex once read every sequence's value at BEGIN, which locks each one: its report listed
    # them all as locks the statement took, and ALTER SEQUENCE waited on the held review.
    with goexdb.connect(pg_dsn) as db:
        staged = db.stage(f"UPDATE {schema}.parent SET v = 'x' WHERE id = 1")
        with psycopg.connect(pg_dsn, autocommit=True) as other:
            other.execute("SET lock_timeout = '2s'")
            other.execute(f"ALTER SEQUENCE {schema}.child_id_seq RESTART WITH 100")
        effects = staged.effects
        staged.rollback()
    assert {lock["relation"] for lock in effects.locks} == {
        f"{schema}.parent",
        f"{schema}.parent_pkey",
    }
    assert effects.side_effects == []


def test_a_partitioned_table_is_counted_per_partition(pg_dsn: str, schema: str) -> None:
    with psycopg.connect(pg_dsn, autocommit=True) as con:
        con.execute(f"CREATE TABLE {schema}.sale (id int, region text) PARTITION BY LIST (region)")
        for region in ("eu", "us"):
            con.execute(
                f"CREATE TABLE {schema}.sale_{region} PARTITION OF {schema}.sale "
                f"FOR VALUES IN ('{region}')"
            )
        con.execute(
            f"INSERT INTO {schema}.sale SELECT i, CASE WHEN i % 2 = 0 THEN 'eu' ELSE 'us' END "
            "FROM generate_series(1, 10) i"
        )
    tables = _counted(
        pg_dsn,
        f"UPDATE {schema}.sale SET id = id + 100 WHERE id <= 4; "
        f"UPDATE {schema}.sale SET region = 'us' WHERE id = 10",
    )
    # The rows the statements reported are drawn on by the partitions they landed in; the
    # row that moved partition is, to the statistics, one deleted and one inserted row.
    assert tables == {
        f"{schema}.sale_eu": {
            "inserted": 0,
            "updated": 2,
            "deleted": 1,
            "by_cascade_or_trigger": 0,
        },
        f"{schema}.sale_us": {
            "inserted": 1,
            "updated": 2,
            "deleted": 0,
            "by_cascade_or_trigger": 1,
        },
    }


def test_rows_are_explained_by_the_table_the_statement_meant(pg_dsn: str, schema: str) -> None:
    # goex matches the tables a statement names to the tables the transaction locked; a quoted
    # mixed-case name must match as PostgreSQL folds it, and an unqualified name that two locked
    # tables share is left to the server (search_path decides), not guessed.
    dup = f"goex_dup_{schema[5:]}"
    with psycopg.connect(pg_dsn, autocommit=True) as con:
        con.execute(f'CREATE TABLE {schema}."Mixed" (id int PRIMARY KEY, v int)')
        con.execute(f'INSERT INTO {schema}."Mixed" SELECT i, 0 FROM generate_series(1, 5) i')
        con.execute(f"CREATE TABLE public.{dup} (id int PRIMARY KEY, v int)")
        con.execute(f"INSERT INTO public.{dup} SELECT i, 0 FROM generate_series(1, 5) i")
        con.execute(f"CREATE TABLE {schema}.{dup} (id int, v int)")
        con.execute(
            f"CREATE FUNCTION {schema}.copy_row() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN INSERT INTO {schema}.{dup} VALUES (NEW.id, NEW.v); RETURN NEW; END $$"
        )
        con.execute(
            f"CREATE TRIGGER copy AFTER UPDATE ON public.{dup} "
            f"FOR EACH ROW EXECUTE FUNCTION {schema}.copy_row()"
        )
    try:
        tables = _counted(
            pg_dsn,
            f'UPDATE {schema}."Mixed" SET v = 1 WHERE id <= 3; '
            f"UPDATE {dup} SET v = 1 WHERE id <= 2",
        )
    finally:
        with psycopg.connect(pg_dsn, autocommit=True) as con:
            con.execute(f"DROP TABLE public.{dup}")
    changed = {
        name: (t["inserted"], t["updated"], t["by_cascade_or_trigger"])
        for name, t in tables.items()
    }
    assert changed == {
        f"{schema}.Mixed": (0, 3, 0),
        f"public.{dup}": (0, 2, 0),
        f"{schema}.{dup}": (2, 0, 2),
    }


def test_a_connection_ended_between_actions_is_a_clear_error(pg_dsn: str, schema: str) -> None:
    with goexdb.connect(pg_dsn) as db:
        db.stage(f"UPDATE {schema}.parent SET v = 'x' WHERE id = 1").rollback()
        with psycopg.connect(pg_dsn, autocommit=True) as other:
            other.execute("SELECT pg_terminate_backend(%s)", (db.backend._con.info.backend_pid,))  # type: ignore[attr-defined]
        with pytest.raises(ExecutionError, match="could not open a transaction"):
            db.stage(f"UPDATE {schema}.parent SET v = 'y' WHERE id = 2")
    with psycopg.connect(pg_dsn) as con:
        rows = con.execute(f"SELECT count(*) FROM {schema}.parent WHERE v <> 'p'").fetchone()
    assert rows == (0,)


def test_lock_timeout_is_set_for_the_action(pg_dsn: str, schema: str) -> None:
    with psycopg.connect(pg_dsn) as holder:
        holder.execute(f"LOCK TABLE {schema}.parent IN ACCESS EXCLUSIVE MODE")
        with (
            goexdb.connect(pg_dsn, DbConfig(lock_timeout=0.2)) as db,
            pytest.raises(ExecutionError) as info,
        ):
            db.stage(f"UPDATE {schema}.parent SET v = 'x' WHERE id = 1")
        holder.rollback()
    assert info.value.sqlstate == "55P03"  # lock_not_available


def test_statement_timeout_is_set_for_the_action(pg_dsn: str) -> None:
    with (
        goexdb.connect(pg_dsn, DbConfig(statement_timeout=0.2)) as db,
        pytest.raises(ExecutionError) as info,
    ):
        db.stage("SELECT pg_sleep(5)")
    assert info.value.sqlstate == "57014"  # query_canceled


@pytest.mark.parametrize("image_path", ["returning", "select"])
def test_awkward_types_survive_an_undo_exactly(pg_dsn: str, schema: str, image_path: str) -> None:
    table = f"{schema}.typed"
    with psycopg.connect(pg_dsn, autocommit=True) as con:
        con.execute(
            f"CREATE TABLE {table} (id int PRIMARY KEY, j json, jb jsonb, arr text[], "
            "nums int[], b bytea, n numeric(20, 6), f float8, ts timestamptz)"
        )
        con.execute(
            f'INSERT INTO {table} VALUES (1, \'{{"b": 1,  "a": [1, 2.50]}}\', \'{{"k": null}}\', '
            "'{a,\"b c\",NULL}', '{1,2}', '\\x00ff10', 12345.678900, 0.1, "
            "'2024-02-29 23:59:59.999999+05:30')"
        )

    def snapshot() -> list[tuple[object, ...]]:
        with psycopg.connect(pg_dsn) as con:
            return con.execute(
                f"SELECT id, j::text, jb::text, arr::text, nums::text, b, n::text, f::text, "
                f"ts::text FROM {table}"
            ).fetchall()

    before = snapshot()
    config = DbConfig(image_path=image_path)
    with goexdb.connect(pg_dsn, config) as db:
        staged = db.stage(
            f"UPDATE {table} SET j = '[]', jb = '{{}}', arr = '{{}}', nums = NULL, b = '\\x', "
            "n = 0, f = 2, ts = now() WHERE id = 1; "
            f"INSERT INTO {table} (id) VALUES (2)"
        )
        record = staged.undo_record()
        staged.commit()
    assert snapshot() != before
    with goexdb.connect(pg_dsn, config) as db:
        db.hold_undo(db.plan_undo(record)).commit()
    assert snapshot() == before


@pytest.mark.parametrize("image_path", ["returning", "select"])
def test_rows_of_two_partitions_that_share_a_ctid_are_each_imaged(
    pg_dsn: str, schema: str, image_path: str
) -> None:
    """A ctid names a row within one partition only: reading an UPDATE's rows first (before
    PostgreSQL 18) kept one of two rows that shared one, and the undo exited 0 without the
    other."""
    t = f"{schema}.parted"
    with psycopg.connect(pg_dsn, autocommit=True) as con:
        con.execute(
            f"CREATE TABLE {t} (id int, p int, v text, PRIMARY KEY (id, p)) PARTITION BY LIST (p)"
        )
        con.execute(f"CREATE TABLE {t}_a PARTITION OF {t} FOR VALUES IN (1)")
        con.execute(f"CREATE TABLE {t}_b PARTITION OF {t} FOR VALUES IN (2)")
        con.execute(
            f"INSERT INTO {t} VALUES (1, 1, 'a1'), (2, 1, 'a2'), (1, 2, 'b1'), (2, 2, 'b2')"
        )
        before = con.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall()
    config = DbConfig(image_path=image_path)
    with goexdb.connect(pg_dsn, config) as db:
        staged = db.stage(f"UPDATE {t} SET v = v || '!'")
        staged.commit()
        db.stage_undo(staged.action.id).commit()
    with psycopg.connect(pg_dsn) as con:
        assert con.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall() == before


def test_a_trigger_writing_an_audit_table_without_a_key_is_counted_and_makes_undo_unavailable(
    pg_dsn: str, schema: str
) -> None:
    with psycopg.connect(pg_dsn, autocommit=True) as con:
        con.execute(f"CREATE TABLE {schema}.audit (parent_id int, at timestamptz DEFAULT now())")
        con.execute(
            f"CREATE FUNCTION {schema}.log() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"INSERT INTO {schema}.audit (parent_id) VALUES (NEW.id); RETURN NEW; END $$"
        )
        con.execute(
            f"CREATE TRIGGER log AFTER UPDATE ON {schema}.parent FOR EACH ROW "
            f"EXECUTE FUNCTION {schema}.log()"
        )
    with goexdb.connect(pg_dsn) as db:
        staged = db.stage(f"UPDATE {schema}.parent SET v = 'x' WHERE id <= 3")
        audit = staged.effects.tables[f"{schema}.audit"]
        reversible = staged.reversible
        staged.rollback()
    assert (audit.inserted, audit.by_cascade_or_trigger) == (3, 3)
    assert not reversible
    with psycopg.connect(pg_dsn) as con:
        assert con.execute(f"SELECT count(*) FROM {schema}.audit").fetchone() == (0,)


def test_a_cascades_rows_are_imaged_over_the_whole_action(pg_dsn: str, schema: str) -> None:
    with goexdb.connect(pg_dsn) as db:
        staged = db.stage(f"DELETE FROM {schema}.parent WHERE id = 1")
        assert staged.reversible, staged.effects.irreversible
        (child,) = [i for i in staged.effects.images if i.table == f"{schema}.child"]
        staged.rollback()
    assert child.statement == WHOLE_ACTION
    assert sorted(json.loads(i.before or "")["id"] for i in child.images) == [10, 20, 30, 40]
    assert all(i.after is None for i in child.images)


def test_renames_are_undone(pg_dsn: str, schema: str) -> None:
    with goexdb.connect(pg_dsn) as db:
        staged = db.stage(
            f"ALTER TABLE {schema}.parent RENAME COLUMN v TO value; "
            f"ALTER TABLE {schema}.parent RENAME TO parents"
        )
        assert staged.reversible, staged.effects.irreversible
        record = staged.undo_record()
        staged.commit()
    with goexdb.connect(pg_dsn) as db:
        db.hold_undo(db.plan_undo(record)).commit()
    with psycopg.connect(pg_dsn) as con:
        assert con.execute(f"SELECT count(v) FROM {schema}.parent").fetchone() == (10,)


def test_quoted_semicolons_and_dollar_bodies_stay_data(pg_dsn: str, schema: str) -> None:
    with goexdb.connect(pg_dsn) as db:
        staged = db.stage(f"UPDATE {schema}.parent SET v = $$; COMMIT; $$ || ';END;' WHERE id = 1")
        staged.commit()
    with psycopg.connect(pg_dsn) as con:
        row = con.execute(f"SELECT v FROM {schema}.parent WHERE id = 1").fetchone()
    assert row == ("; COMMIT; ;END;",)


def test_a_row_lock_wait_ends_at_lock_timeout(pg_dsn: str, schema: str) -> None:
    with psycopg.connect(pg_dsn) as holder:
        holder.execute(f"SELECT * FROM {schema}.parent WHERE id = 1 FOR UPDATE")
        with (
            goexdb.connect(pg_dsn, DbConfig(lock_timeout=0.3)) as db,
            pytest.raises(ExecutionError) as info,
        ):
            db.stage(f"UPDATE {schema}.parent SET v = 'mine' WHERE id = 1")
        holder.rollback()
    assert info.value.sqlstate == "55P03"
    with psycopg.connect(pg_dsn) as con:
        assert con.execute(f"SELECT v FROM {schema}.parent WHERE id = 1").fetchone() == ("p",)


def test_a_killed_goex_process_commits_nothing(pg_dsn: str, schema: str) -> None:
    script = (
        "import sys, time, goexdb\n"
        "db = goexdb.connect(sys.argv[1])\n"
        f"db.stage(\"DELETE FROM {schema}.child; UPDATE {schema}.parent SET v = 'gone'\")\n"
        "print('staged', flush=True)\n"
        "time.sleep(60)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script, pg_dsn], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "staged"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        proc.kill()
    with psycopg.connect(pg_dsn) as con:
        assert con.execute(f"SELECT count(*) FROM {schema}.child").fetchone() == (40,)
        assert con.execute(f"SELECT count(*) FROM {schema}.parent WHERE v = 'gone'").fetchone() == (
            0,
        )


def test_an_interrupted_statement_is_cancelled_on_the_server(pg_dsn: str, schema: str) -> None:
    # Ctrl-C while a statement runs: goex asks the server to cancel it (not just stops
    # waiting), rolls back, and its connection stays usable.
    script = (
        "import sys, goexdb\n"
        "db = goexdb.connect(sys.argv[1])\n"
        "try:\n"
        f"    db.stage(\"UPDATE {schema}.parent SET v = 'gone' WHERE pg_sleep(60) IS NULL\")\n"
        "except KeyboardInterrupt:\n"
        "    staged = db.stage('SELECT 41 + 1')\n"
        "    print('interrupted', staged.results[0].rows, flush=True)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script, pg_dsn], stdout=subprocess.PIPE, text=True
    )
    running = (
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE query LIKE '%pg_sleep(60)%' AND pid <> pg_backend_pid()"
    )
    try:
        with psycopg.connect(pg_dsn, autocommit=True) as watcher:
            while watcher.execute(running).fetchone() != (1,):
                assert proc.poll() is None
            proc.send_signal(signal.SIGINT)
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "interrupted [[42]]"
            assert watcher.execute(running + " AND state = 'active'").fetchone() == (0,)
        proc.wait(timeout=30)
    finally:
        proc.kill()
    with psycopg.connect(pg_dsn) as con:
        assert con.execute(f"SELECT count(*) FROM {schema}.parent WHERE v = 'gone'").fetchone() == (
            0,
        )


def test_goex_keeps_a_bounded_number_of_prepared_statements(pg_dsn: str, schema: str) -> None:
    with goexdb.connect(pg_dsn, DbConfig(capture="counts")) as db:
        db.backend._wire.LIMIT = 3  # type: ignore[attr-defined]
        for i in range(1, 11):
            for _ in range(2):  # a text seen before is prepared
                staged = db.stage(f"UPDATE {schema}.parent SET v = 'v{i}' WHERE id = {i}")
                assert staged.effects.tables[f"{schema}.parent"].updated == 1
                staged.commit()
        [[kept]] = db.stage("SELECT count(*) FROM pg_prepared_statements").results[0].rows
    assert kept <= 3
    with psycopg.connect(pg_dsn) as con:
        assert con.execute(f"SELECT v FROM {schema}.parent ORDER BY id").fetchall() == [
            (f"v{i}",) for i in range(1, 11)
        ]


@pytest.mark.parametrize(
    "script",
    [
        # A function body is a string to any SQL parser: what it runs cannot be classified.
        "CREATE FUNCTION {s}.f() RETURNS int LANGUAGE plpgsql AS $$ BEGIN EXECUTE "
        "'COPY (SELECT 1) TO PROGRAM ''touch {marker}'''; RETURN 1; END $$; SELECT {s}.f()",
        "CREATE OR REPLACE PROCEDURE {s}.p() LANGUAGE sql AS $$ SELECT 1 $$",
        "CREATE TRIGGER t AFTER UPDATE ON {s}.parent FOR EACH ROW EXECUTE FUNCTION now()",
        "CREATE EXTENSION IF NOT EXISTS dblink",
        "GRANT ALL ON {s}.parent TO PUBLIC",
        "ALTER TABLE {s}.parent OWNER TO postgres",
        "DO $$ BEGIN PERFORM 1; END $$",
    ],
)
def test_code_and_privilege_definitions_are_refused(
    pg_dsn: str, schema: str, script: str, tmp_path: Path
) -> None:
    marker = tmp_path / "ran"
    with goexdb.connect(pg_dsn) as db, pytest.raises(StatementDenied) as info:
        db.stage(script.format(s=schema, marker=marker))
    assert info.value.rule in ("db.code-definition", "db.privilege-change", "db.unknown-statement")
    assert not marker.exists()


def test_a_query_hidden_in_a_string_argument_is_refused(pg_dsn: str) -> None:
    with goexdb.connect(pg_dsn) as db, pytest.raises(PolicyRejected):
        db.stage("SELECT * FROM ts_stat('SELECT to_tsvector(pg_read_file(''/etc/hostname''))')")


def test_mixed_case_tables_are_imaged_and_undone_in_the_right_table(
    pg_dsn: str, schema: str
) -> None:
    with psycopg.connect(pg_dsn, autocommit=True) as con:
        con.execute(f'CREATE TABLE {schema}."Acct" (id int PRIMARY KEY, bal int)')
        con.execute(f"CREATE TABLE {schema}.acct (id int PRIMARY KEY, bal int)")
        con.execute(f'INSERT INTO {schema}."Acct" VALUES (1, 10), (7, 70)')
        con.execute(f"INSERT INTO {schema}.acct VALUES (1, 1)")
    with goexdb.connect(pg_dsn) as db:
        staged = db.stage(
            f'UPDATE {schema}."Acct" SET bal = 0 WHERE id > 0; DELETE FROM {schema}."Acct" '
            "WHERE id = 7"
        )
        assert staged.effects.tables[f"{schema}.Acct"].by_cascade_or_trigger == 0
        assert staged.reversible
        record = staged.undo_record()
        staged.commit()
    with goexdb.connect(pg_dsn) as db:
        db.hold_undo(db.plan_undo(record)).commit()
    with psycopg.connect(pg_dsn) as con:
        assert con.execute(f'SELECT * FROM {schema}."Acct" ORDER BY id').fetchall() == [
            (1, 10),
            (7, 70),
        ]
        assert con.execute(f"SELECT * FROM {schema}.acct").fetchall() == [(1, 1)]


def test_undo_guards_compare_exact_text_not_json_equality(pg_dsn: str, schema: str) -> None:
    """Found in review: 1.0 and 1.00 are equal as jsonb, but a concurrent writer changed it."""
    with goexdb.connect(pg_dsn) as db:
        staged = db.stage(f"ALTER TABLE {schema}.parent ADD COLUMN n numeric")
        staged.commit()
        staged = db.stage(f"UPDATE {schema}.parent SET n = 1.0 WHERE id = 1")
        record = staged.undo_record()
        staged.commit()
    with psycopg.connect(pg_dsn, autocommit=True) as con:
        con.execute(f"UPDATE {schema}.parent SET n = 1.00 WHERE id = 1")
    with goexdb.connect(pg_dsn) as db, pytest.raises(ConflictError):
        db.hold_undo(db.plan_undo(record))


def test_undo_writes_no_generated_column_and_reinserts_identity_always(
    pg_dsn: str, schema: str
) -> None:
    film = f"{schema}.film"
    with psycopg.connect(pg_dsn, autocommit=True) as con:
        con.execute(
            f"CREATE TABLE {film} (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
            "title text NOT NULL, length int, "
            "hours numeric GENERATED ALWAYS AS (length / 60.0) STORED, "
            "minutes_left int GENERATED ALWAYS AS (length % 60) VIRTUAL)"
        )
        con.execute(
            f"INSERT INTO {film} (title, length) "
            "SELECT 'f' || g, 60 + g FROM generate_series(1, 6) g"
        )
    rows = f"SELECT * FROM {film} ORDER BY id"
    with psycopg.connect(pg_dsn) as con:
        before = con.execute(rows).fetchall()
    for sql in (
        f"UPDATE {film} SET length = length + 30 WHERE id <= 3",
        f"DELETE FROM {film} WHERE id IN (2, 5)",
        f"INSERT INTO {film} (title, length) VALUES ('new', 10)",
    ):
        with goexdb.connect(pg_dsn) as db:
            staged = db.stage(sql)
            assert staged.reversible, staged.effects.irreversible
            record = staged.undo_record()
            staged.commit()
            db.hold_undo(db.plan_undo(record)).commit()
        with psycopg.connect(pg_dsn) as con:
            assert con.execute(rows).fetchall() == before, sql


@pytest.fixture
def touched(pg_dsn: str, schema: str) -> str:
    """The parent table, with a BEFORE UPDATE trigger that sets its ``last_update``."""
    parent = f"{schema}.parent"
    with psycopg.connect(pg_dsn, autocommit=True) as con:
        con.execute(f"ALTER TABLE {parent} ADD COLUMN last_update timestamptz DEFAULT now()")
        con.execute(
            f"CREATE FUNCTION {schema}.touch() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN NEW.last_update := clock_timestamp(); RETURN NEW; END $$"
        )
        con.execute(
            f"CREATE TRIGGER touch BEFORE UPDATE ON {parent} FOR EACH ROW "
            f"EXECUTE FUNCTION {schema}.touch()"
        )
    return parent


@pytest.fixture
def plain_dsn(pg_dsn: str, schema: str) -> Iterator[str]:
    """A DSN of a role that is no superuser and may not set session_replication_role, with
    every right on the schema's tables."""
    role = f"plain_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_dsn, autocommit=True) as con:
        con.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'plain'")
        con.execute(f"GRANT USAGE ON SCHEMA {schema} TO {role}")
        con.execute(f"GRANT ALL ON ALL TABLES IN SCHEMA {schema} TO {role}")
        con.execute(f"GRANT ALL ON ALL SEQUENCES IN SCHEMA {schema} TO {role}")
    yield psycopg.conninfo.make_conninfo(pg_dsn, user=role, password="plain")
    with psycopg.connect(pg_dsn, autocommit=True) as con:
        con.execute(f"DROP OWNED BY {role}")
        con.execute(f"DROP ROLE {role}")


def _undo_after_trigger(
    dsn: str, parent: str, also: str = "", undoing: DbConfig | None = None
) -> tuple[list[Any], list[Any], list[Any]]:
    """Commit an UPDATE of ``parent`` (after ``also``, in the same action) and undo it (under
    ``undoing``): the rows before, after the commit, and after the undo (committed if it was
    not refused)."""
    rows = f"SELECT * FROM {parent} ORDER BY id"
    with psycopg.connect(dsn) as con:
        before = con.execute(rows).fetchall()
    with goexdb.connect(dsn) as db:
        staged = db.stage(f"{also}UPDATE {parent} SET v = 'changed' WHERE id <= 2")
        record = staged.undo_record()
        staged.commit()
    with psycopg.connect(dsn) as con:
        after = con.execute(rows).fetchall()
    with goexdb.connect(dsn, undoing or DbConfig()) as db:
        db.hold_undo(db.plan_undo(record)).commit()
    with psycopg.connect(dsn) as con:
        return before, after, con.execute(rows).fetchall()


def test_an_undo_is_exact_despite_a_trigger_when_the_role_may_turn_triggers_off(
    pg_dsn: str, touched: str
) -> None:
    before, after, undone = _undo_after_trigger(pg_dsn, touched)
    assert after != before
    assert undone == before  # last_update too: the trigger did not fire on the undo


def test_an_undo_a_trigger_would_make_inexact_is_refused_naming_the_column(
    plain_dsn: str, touched: str
) -> None:
    rows = f"SELECT * FROM {touched} ORDER BY id"
    with pytest.raises(ConflictError, match=rf"{touched}\.last_update would differ") as refused:
        _undo_after_trigger(plain_dsn, touched)
    assert [d["columns"] for d in refused.value.details] == [["last_update"]] * 2
    with psycopg.connect(plain_dsn) as con:
        changed = con.execute(rows).fetchall()
    assert [r[1] for r in changed[:2]] == ["changed"] * 2  # the inexact undo was rolled back


def _trigger(
    con: psycopg.Connection[Any],
    table: str,
    name: str,
    when: str,
    body: str,
    *,
    enabled: str,
    each: str = "FOR EACH ROW",
    constraint: bool = False,
) -> None:
    """A plpgsql trigger ``name`` on ``table`` (its function of the same name, in the table's
    schema), ``when`` (BEFORE UPDATE, ...) and ``each``, enabled ALWAYS or REPLICA."""
    function = f"{table.rpartition('.')[0]}.{name}"
    con.execute(
        f"CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN {body} END $$"
    )
    kind = "CONSTRAINT TRIGGER" if constraint else "TRIGGER"
    con.execute(f"CREATE {kind} {name} {when} ON {table} {each} EXECUTE FUNCTION {function}()")
    con.execute(f"ALTER TABLE {table} ENABLE {enabled} TRIGGER {name}")


_COUNT_UP = "NEW.n := NEW.n + 1; RETURN NEW;"


def _undo_refused(dsn: str, action: str, table: str, refused: str) -> None:
    """Commit ``action`` through goex: its undo is refused (the message matches ``refused``)
    and leaves ``table`` as the action left it."""
    rows = f"SELECT * FROM {table}"
    with goexdb.connect(dsn) as db:
        staged = db.stage(action)
        staged.commit()
        with psycopg.connect(dsn) as con:
            after = sorted(con.execute(rows).fetchall())
        with pytest.raises(ConflictError, match=refused):
            db.stage_undo(staged.action.id).commit()
    with psycopg.connect(dsn) as con:
        assert sorted(con.execute(rows).fetchall()) == after


@pytest.mark.parametrize(
    "body",
    [
        "TRUNCATE {t}; INSERT INTO {t} VALUES (1, 'hacked'), (2, 'hacked');",
        "PERFORM set_config('track_counts', 'off', true); "
        "UPDATE {t} SET v = 'hacked' WHERE id <= 2; "
        "PERFORM set_config('track_counts', 'on', true);",
    ],
    ids=["a TRUNCATE zeroes the counts", "writes with the counts off"],
)
def test_a_trigger_that_hides_its_writes_from_the_counts_cannot_make_an_undo_inexact(
    pg_dsn: str, schema: str, body: str
) -> None:
    """A trigger enabled for replication fires on the undo only. Its writes left no counts,
    and the rows the undo returned were the before-images: taken for proof that the rows
    were back, the undo exited 0 with the trigger's rows. The rows are always read back."""
    t, u = f"{schema}.t", f"{schema}.u"
    with psycopg.connect(pg_dsn, autocommit=True) as con:
        for table in (t, u):
            con.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, v text)")
            con.execute(f"INSERT INTO {table} SELECT i, 'v' || i FROM generate_series(1, 5) i")
        sneak = f"{body.format(t=t)} RETURN NULL;"
        _trigger(con, u, "sneak", "AFTER UPDATE", sneak, enabled="REPLICA", each="")
    action = f"UPDATE {u} SET v = 'x' WHERE id = 1; UPDATE {t} SET v = 'x' WHERE id <= 2"
    _undo_refused(pg_dsn, action, t, "undo refused")


@pytest.mark.parametrize(
    ("setting", "said"),
    [("track_counts", "track_counts was off"), ("extra_float_digits", "floats rounded")],
)
def test_a_trigger_leaving_a_setting_that_hides_rows_or_rounds_floats_is_irreversible(
    pg_dsn: str, schema: str, setting: str, said: str
) -> None:
    """A trigger of the action's that leaves track_counts off writes rows goex does not count,
    so does not image; one that leaves extra_float_digits below 1 rounds the floats the images
    print (and the undo, under the images' settings, would have read them back as equal).
    Either undo exited 0 with other data than before the action."""
    t, u = f"{schema}.t", f"{schema}.u"
    value = "off" if setting == "track_counts" else "0"
    with psycopg.connect(pg_dsn, autocommit=True) as con:
        con.execute(f"CREATE TABLE {t} (id int PRIMARY KEY, f float8)")
        con.execute(f"INSERT INTO {t} VALUES (1, 0.30000000000000004), (2, 0.1)")
        con.execute(f"CREATE TABLE {u} (id int PRIMARY KEY)")
        body = f"PERFORM set_config('{setting}', '{value}', true); UPDATE {t} SET f = f * 2;"
        _trigger(con, u, "leave", "AFTER INSERT", body + " RETURN NULL;", enabled="ALWAYS")
    with goexdb.connect(pg_dsn) as db:
        staged = db.stage(f"INSERT INTO {u} VALUES (1); UPDATE {t} SET f = f + 1 WHERE id = 2")
        assert not staged.reversible
        assert any(said in why for why in staged.effects.irreversible)
        staged.rollback()


@pytest.mark.parametrize("action", ["DELETE FROM {t} WHERE v <> 'v1'", "UPDATE {t} SET v = 'x'"])
def test_rows_written_back_to_a_table_without_a_key_are_checked_as_returned(
    pg_dsn: str, schema: str, action: str
) -> None:
    """No key to read them back by, the rows written back to a keyless table were not checked
    at all: a trigger rewrote them and the undo exited 0. The rows the undo returned must be
    the images."""
    t = f"{schema}.logged"
    with psycopg.connect(pg_dsn, autocommit=True) as con:
        con.execute(f"CREATE TABLE {t} (v text, n int DEFAULT 0)")
        con.execute(f"INSERT INTO {t} (v) SELECT 'v' || i FROM generate_series(1, 4) i")
        _trigger(con, t, "count_up", "BEFORE INSERT", _COUNT_UP, enabled="ALWAYS")
    _undo_refused(pg_dsn, action.format(t=t), t, rf"{t}\.n would differ")


def test_a_deferred_constraint_trigger_cannot_make_an_undo_inexact(
    pg_dsn: str, schema: str
) -> None:
    """A constraint trigger deferred to COMMIT fired after the rows were read back: it rewrote
    them and the undo exited 0. Constraints are checked as each statement of an undo ends."""
    t = f"{schema}.deferred"
    with psycopg.connect(pg_dsn, autocommit=True) as con:
        con.execute(f"CREATE TABLE {t} (id int PRIMARY KEY, v text, n int DEFAULT 0)")
        con.execute(f"INSERT INTO {t} (id, v) SELECT i, 'v' || i FROM generate_series(1, 4) i")
        later = f"IF NEW.n = 0 THEN UPDATE {t} SET n = 1 WHERE id = NEW.id; END IF; RETURN NULL;"
        deferred = "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW"
        _trigger(
            con,
            t,
            "later",
            "AFTER UPDATE",
            later,
            enabled="REPLICA",
            each=deferred,
            constraint=True,
        )
    _undo_refused(pg_dsn, f"UPDATE {t} SET v = 'x' WHERE id <= 2", t, "undo refused")


def test_a_trigger_that_rounds_the_floats_text_cannot_make_an_undo_inexact(
    pg_dsn: str, schema: str
) -> None:
    """The trigger nudges each float it writes back and leaves extra_float_digits at -1, so
    the row read back printed as its before-image: the undo exited 0 with other floats. The
    images' settings are set again before the rows are read back."""
    t = f"{schema}.f"
    with psycopg.connect(pg_dsn, autocommit=True) as con:
        con.execute(f"CREATE TABLE {t} (id int PRIMARY KEY, f float8)")
        con.execute(f"INSERT INTO {t} SELECT i, i / 10.0 FROM generate_series(1, 5) i")
        nudge = (
            "NEW.f := NEW.f * (1 + 2.3e-16); "
            "PERFORM set_config('extra_float_digits', '-1', true); RETURN NEW;"
        )
        _trigger(con, t, "nudge", "BEFORE UPDATE", nudge, enabled="REPLICA")
    _undo_refused(pg_dsn, f"UPDATE {t} SET f = 0", t, rf"{t}\.f would differ")
    with psycopg.connect(pg_dsn) as con:
        assert con.execute(f"SELECT f FROM {t}").fetchall() == [(0.0,)] * 5


@pytest.mark.parametrize("cap", [None, 1])
def test_a_trigger_that_fires_even_for_replication_makes_the_undo_inexact_and_refused(
    pg_dsn: str, touched: str, cap: int | None
) -> None:
    """``ENABLE ALWAYS``: the trigger fires with session_replication_role = replica too. The
    rows the undo returned differ from the before-images, so the rows are read again and the
    undo refused; with too few images kept (``cap``), they are read again all the same."""
    with psycopg.connect(pg_dsn, autocommit=True) as con:
        con.execute(f"ALTER TABLE {touched} ENABLE ALWAYS TRIGGER touch")
    config = DbConfig() if cap is None else DbConfig(max_row_images=cap)
    with pytest.raises(ConflictError, match=rf"{touched}\.last_update would differ"):
        _undo_after_trigger(pg_dsn, touched, undoing=config)
    with psycopg.connect(pg_dsn) as con:
        changed = con.execute(f"SELECT v FROM {touched} ORDER BY id").fetchall()
    assert changed[:3] == [("changed",), ("changed",), ("p",)]  # the undo was rolled back


def test_rows_are_checked_restored_after_an_action_that_changed_the_schema_too(
    pg_dsn: str, plain_dsn: str, touched: str, schema: str
) -> None:
    """The restore check runs before the schema is put back, on every image whose columns the
    table still has: an action that also created a table gets it as well."""
    role = psycopg.conninfo.conninfo_to_dict(plain_dsn)["user"]
    with psycopg.connect(pg_dsn, autocommit=True) as con:
        con.execute(f"GRANT CREATE ON SCHEMA {schema} TO {role}")
    made = f"CREATE TABLE {schema}.made (id int); "
    with pytest.raises(ConflictError, match=rf"{touched}\.last_update would differ"):
        _undo_after_trigger(plain_dsn, touched, also=made)


@pytest.mark.parametrize(
    ("role", "refused"),
    [
        ("pg_dsn", r"foreign keys that find no row — 1 of {}\.child \(child_parent_id_fkey\)"),
        ("plain_dsn", r"a cascade or trigger would change rows .*\(1 of {}\.child\)"),
    ],
)
def test_an_undo_that_would_remove_a_row_a_later_row_refers_to_is_refused(
    request: pytest.FixtureRequest, role: str, refused: str, schema: str
) -> None:
    """With foreign keys off (a role that may), the undo's check finds the dangling row;
    with them on, the ON DELETE CASCADE would delete it, which the undo's own counts show."""
    dsn: str = request.getfixturevalue(role)
    parent, child = f"{schema}.parent", f"{schema}.child"
    with goexdb.connect(dsn) as db:
        staged = db.stage(f"INSERT INTO {parent} (id, v) VALUES (100, 'new')")
        record = staged.undo_record()
        staged.commit()
        with psycopg.connect(dsn, autocommit=True) as con:  # written since, referring to it
            con.execute(f"INSERT INTO {child} (parent_id) VALUES (100)")
        with pytest.raises(ConflictError, match=refused.format(schema)):
            db.hold_undo(db.plan_undo(record))
    with psycopg.connect(dsn) as con:
        assert con.execute(f"SELECT v FROM {parent} WHERE id = 100").fetchall() == [("new",)]
        assert con.execute(f"SELECT count(*) FROM {child} WHERE parent_id = 100").fetchone() == (1,)


@pytest.mark.parametrize(
    "sql", ["SELECT {s}.drop_v()", "UPDATE {s}.child SET parent_id = 2 WHERE id = 1"]
)
def test_a_schema_change_a_function_or_trigger_makes_is_shown_and_irreversible(
    pg_dsn: str, schema: str, sql: str
) -> None:
    """goex reads the catalog around DDL statements; a column dropped by a function the action
    calls, or by a trigger its UPDATE fires, went unseen: reported reversible, changing nothing
    of the schema, and its undo exited 0 with the column gone for good."""
    with psycopg.connect(pg_dsn, autocommit=True) as con:
        con.execute(
            f"CREATE FUNCTION {schema}.drops_v() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN EXECUTE 'ALTER TABLE {schema}.parent DROP COLUMN v'; RETURN NULL; END $$"
        )
        con.execute(
            f"CREATE TRIGGER drops AFTER UPDATE ON {schema}.child "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {schema}.drops_v()"
        )
        con.execute(  # the same, as a function a SELECT calls
            f"CREATE FUNCTION {schema}.drop_v() RETURNS int LANGUAGE plpgsql AS "
            f"$$ BEGIN EXECUTE 'ALTER TABLE {schema}.parent DROP COLUMN v'; RETURN 1; END $$"
        )
    with goexdb.connect(pg_dsn, DbConfig()) as db:
        staged = db.stage(sql.format(s=schema))
        changes = [(c.change, c.table) for c in staged.effects.schema_changes]
        assert changes[0] == ("schema_unread", f"{schema}.parent")  # its lock
        assert changes[1][0] == "schema_unread"  # the catalog it wrote
        assert changes[1][1].startswith("the catalog written by ")
        assert not staged.reversible
        assert "which goex did not read" in staged.effects.irreversible[0]
        staged.rollback()
    with psycopg.connect(pg_dsn) as con:
        assert con.execute(f"SELECT count(v) FROM {schema}.parent").fetchone() == (10,)


@pytest.mark.parametrize(
    "sql",
    [
        'ALTER TABLE {s}."Parent" RENAME COLUMN v TO w; SELECT {s}.renames()',
        "ALTER TABLE {s}.child RENAME COLUMN parent_id TO pid; "
        "ALTER TABLE {s}.parent RENAME TO parents; SELECT {s}.renames()",
    ],
    ids=["a table of the same name but its case", "a table another rename named"],
)
def test_a_rename_a_function_makes_is_not_taken_for_a_statements(
    pg_dsn: str, schema: str, sql: str
) -> None:
    """Found by a second reading: the statements' renames, compared without case or against
    any renamed table's name, explained the catalog's rename of another table's column that a
    function made; the undo exited 0 and left it renamed."""
    with psycopg.connect(pg_dsn, autocommit=True) as con:
        con.execute(f'CREATE TABLE {schema}."Parent" (id int, v text, parent_id int)')
        target = "parents" if "parents" in sql else "parent"
        column = "parent_id" if "parents" in sql else "v"
        new = "pid" if "parents" in sql else "w"
        con.execute(
            f"CREATE FUNCTION {schema}.renames() RETURNS int LANGUAGE plpgsql AS $$ BEGIN "
            f"EXECUTE 'ALTER TABLE {schema}.{target} RENAME COLUMN {column} TO {new}'; "
            "RETURN 1; END $$"
        )
        if "parents" in sql:
            con.execute(f"ALTER TABLE {schema}.parent ADD COLUMN parent_id int")
    with goexdb.connect(pg_dsn) as db:
        staged = db.stage(sql.format(s=schema))
        assert not staged.reversible
        assert "which no rename goex read explains" in "; ".join(staged.effects.irreversible)
        staged.rollback()


def test_a_table_renamed_to_a_name_written_with_capitals_is_undone(
    pg_dsn: str, schema: str
) -> None:
    """Its index's definition names it quoted ("Parent"), where it did not before: that read
    as an index redefined, and the action as irreversible."""
    with goexdb.connect(pg_dsn) as db:
        staged = db.stage(f'ALTER TABLE {schema}.parent RENAME TO "Parent"')
        assert staged.reversible, staged.effects.irreversible
        staged.commit()
        db.stage_undo(staged.action.id).commit()
    with psycopg.connect(pg_dsn) as con:
        assert con.execute(f"SELECT count(*) FROM {schema}.parent").fetchone() == (10,)


@pytest.mark.parametrize(
    ("made", "by"),
    [
        ("CREATE TYPE {s}.mood AS ENUM (''a'')", "UPDATE {s}.parent SET v = 'w'"),
        ("COMMENT ON TABLE {s}.child IS ''noted''", "UPDATE {s}.parent SET v = 'w'"),
        ("TRUNCATE {s}.child", "CREATE INDEX ON {s}.parent (v)"),
    ],
    ids=["a type, taking no lock", "a comment", "a truncate beside a DDL statement"],
)
def test_what_a_function_does_to_the_schema_beside_other_statements_is_shown(
    pg_dsn: str, schema: str, made: str, by: str
) -> None:
    """Found by a second reading: a type a function made took no lock, and a TRUNCATE in an
    action that also ran DDL was hidden by that DDL's own locks; both undos exited 0 and left
    the change (the truncated rows lost). The catalogs DDL writes, written while a statement
    that is not DDL ran, show it."""
    with psycopg.connect(pg_dsn, autocommit=True) as con:
        con.execute(
            f"CREATE FUNCTION {schema}.makes() RETURNS int LANGUAGE plpgsql AS $$ BEGIN "
            f"EXECUTE '{made.format(s=schema)}'; RETURN 1; END $$"
        )
    with goexdb.connect(pg_dsn) as db:
        staged = db.stage(f"{by.format(s=schema)}; SELECT {schema}.makes()")
        assert not staged.reversible
        unread = [c for c in staged.effects.schema_changes if c.change == "schema_unread"]
        assert [c.table for c in unread][-1] == f"the catalog written by SELECT {schema}.makes()"
        staged.rollback()
    with psycopg.connect(pg_dsn) as con:
        assert con.execute(f"SELECT count(*) FROM {schema}.child").fetchone() == (40,)


def test_a_column_rename_is_not_judged_a_drop(pg_dsn: str, schema: str) -> None:
    """The catalog follows the column by its number: it reads as renamed, not dropped."""
    parent = f"{schema}.parent"
    with goexdb.connect(pg_dsn) as db:
        renamed = db.stage(f"ALTER TABLE {parent} RENAME COLUMN v TO label")
        assert [c.describe() for c in renamed.effects.schema_changes] == [
            f"column_renamed {parent}.label (was v)"
        ]
        assert "db.drop" not in {v.rule for v in renamed.violations}
        assert renamed.reversible, renamed.effects.irreversible
        renamed.rollback()
        dropped = db.stage(f"ALTER TABLE {parent} DROP COLUMN v")
        assert "db.drop" in {v.rule for v in dropped.violations}
        dropped.rollback()


@pytest.mark.parametrize(
    ("created", "written_since"),
    [
        ("CREATE INDEX parent_v_idx ON {s}.parent (v)", None),
        (
            "ALTER TABLE {s}.parent ADD COLUMN note text DEFAULT 'n'",
            "UPDATE {s}.parent SET note = 'kept' WHERE id = 3",
        ),
        (
            "CREATE TABLE {s}.made (id int PRIMARY KEY); INSERT INTO {s}.made VALUES (1)",
            "INSERT INTO {s}.made VALUES (2)",
        ),
    ],
)
def test_undoing_what_the_action_created_is_no_drop_unless_data_was_written_there_since(
    pg_dsn: str, schema: str, created: str, written_since: str | None
) -> None:
    """Each created table and column holds, at the commit, what a fingerprint records; the undo
    drops it only if it still holds that, so the default policy need not ask a person."""
    with goexdb.connect(pg_dsn) as db:
        made = db.stage(created.format(s=schema))
        made.commit()
        undo = db.stage_undo(made.action.id)
        assert "db.drop" not in {v.rule for v in undo.violations}, undo.violations
        undo.rollback()
        if written_since is None:
            return
        with psycopg.connect(pg_dsn, autocommit=True) as con:
            con.execute(written_since.format(s=schema))
        with pytest.raises(ConflictError, match="holds data written since the action"):
            db.stage_undo(made.action.id)


@pytest.mark.parametrize(
    ("made", "sql"),
    [
        (
            'ALTER TABLE {s}.parent ALTER COLUMN v TYPE text COLLATE "C"',
            "ALTER TABLE {s}.parent ALTER COLUMN v TYPE text",
        ),
        (
            "CREATE TABLE {s}.pt (id int, v text) PARTITION BY RANGE (id); "
            "CREATE TABLE {s}.pt1 PARTITION OF {s}.pt FOR VALUES FROM (0) TO (10); "
            "CREATE INDEX pt_v ON {s}.pt (v)",
            "DROP INDEX {s}.pt_v",
        ),
        (
            "CREATE INDEX parent_v ON {s}.parent (v); ALTER TABLE {s}.parent CLUSTER ON parent_v",
            "DROP INDEX {s}.parent_v",
        ),
        (
            "CREATE INDEX parent_v ON {s}.parent (v); COMMENT ON INDEX {s}.parent_v IS 'by v'",
            "DROP INDEX {s}.parent_v",
        ),
    ],
    ids=[
        "a collation reset",
        "a partitioned table's index dropped",
        "a clustered index dropped",
        "an index with a comment dropped",
    ],
)
def test_what_an_undo_would_not_put_back_as_it_was_is_irreversible(
    pg_dsn: str, schema: str, made: str, sql: str
) -> None:
    """Found by a second reading: the collation was not in the catalog diff (the undo left it
    reset, exit 0); a partitioned table's index made again from its definition was left
    invalid, its partitions' indexes detached; an index made again was no longer the one the
    table is clustered on, nor had its comment (exit 0)."""
    with psycopg.connect(pg_dsn, autocommit=True) as con:
        for part in made.format(s=schema).split("; "):
            con.execute(part)
    with goexdb.connect(pg_dsn) as db:
        staged = db.stage(sql.format(s=schema))
        assert not staged.reversible
        staged.rollback()


@pytest.mark.parametrize(
    "sql",
    [
        "CREATE TABLE {s}.copied AS SELECT * FROM {s}.parent",
        "SELECT * INTO {s}.copied FROM {s}.parent",
    ],
)
def test_a_table_made_from_a_query_is_dropped_by_the_undo(
    pg_dsn: str, schema: str, sql: str
) -> None:
    """Its rows read as a cascade's (no statement reported them), and SELECT ... INTO as DDL the
    catalog diff does not see: both were irreversible."""
    with goexdb.connect(pg_dsn) as db:
        staged = db.stage(sql.format(s=schema))
        assert staged.reversible, staged.effects.irreversible
        staged.commit()
        db.stage_undo(staged.action.id).commit()
    with psycopg.connect(pg_dsn) as con:
        assert con.execute(f"SELECT to_regclass('{schema}.copied')").fetchone() == (None,)


@pytest.mark.parametrize(
    "sql",
    [
        "ALTER TABLE {s}.pt ALTER COLUMN v SET NOT NULL",
        "ALTER TABLE {s}.pt ADD CONSTRAINT pt_ck CHECK (id >= 0)",
        "CREATE INDEX pt_v ON {s}.pt (v)",
        "ALTER TABLE {s}.pt ADD PRIMARY KEY (id)",
        "ALTER TABLE {s}.ih DROP CONSTRAINT ih_ck",
    ],
    ids=["not null", "check", "index", "primary key", "an inherited check dropped"],
)
def test_a_parents_schema_change_is_undone_on_the_parent_as_its_children_inherit_it(
    pg_dsn: str, schema: str, sql: str
) -> None:
    """Found by a second reading: the partitions' and children's own copies were undone apart,
    child first (refused: inherited), or made again on the child as its own (exit 0). A
    partition's index and a constraint a child inherits now come and go with the parent's."""
    with psycopg.connect(pg_dsn, autocommit=True) as con:
        con.execute(f"CREATE TABLE {schema}.pt (id int, v text) PARTITION BY RANGE (id)")
        con.execute(
            f"CREATE TABLE {schema}.pt1 PARTITION OF {schema}.pt FOR VALUES FROM (0) TO (9)"
        )
        con.execute(f"INSERT INTO {schema}.pt VALUES (1, 'a')")
        con.execute(f"CREATE TABLE {schema}.ih (id int, w int CONSTRAINT ih_ck CHECK (w > 0))")
        con.execute(f"CREATE TABLE {schema}.ihc () INHERITS ({schema}.ih)")

    def catalog() -> list[tuple[Any, ...]]:
        with psycopg.connect(pg_dsn) as con:
            return con.execute(
                "SELECT conrelid::regclass::text, conname, conislocal, coninhcount FROM "
                f"pg_constraint WHERE connamespace = '{schema}'::regnamespace UNION ALL "
                "SELECT indexrelid::regclass::text, '', indisvalid, 0 FROM pg_index "
                f"WHERE indrelid::regclass::text LIKE '{schema}.%' ORDER BY 1, 2"
            ).fetchall()

    before = catalog()
    with goexdb.connect(pg_dsn) as db:
        staged = db.stage(sql.format(s=schema))
        assert staged.reversible, staged.effects.irreversible
        staged.commit()
        db.stage_undo(staged.action.id).commit()
    assert catalog() == before


# Key forms the check of rows restored reads: (columns, key, rows, read without JSON). Without
# JSON: key columns of plain types, each value leading its image without an escape.
_KEYS = [
    ("k int", "k", "(1), (2), (-3)", True),
    ("k text", "k", "('a'), ('b b'), ('it''s')", True),
    ("k text", "k", "('a\"q'), (E'back\\\\slash'), ('c')", False),
    ('k text COLLATE "C"', "k", "('K1'), ('k2')", False),  # (a collation: as JSON)
    ("k text", "k", "('')", False),  # (one empty value alone would read as none)
    ("k varchar(8)", "k", "(''), ('x')", True),
    ("k numeric(6, 2)", "k", "(1.50), (2), (-3.25)", True),
    ("k timestamptz", "k", "('2026-01-01 00:00+00'), ('1999-12-31 23:59:59.5+05')", True),
    ("k date", "k", "('2026-01-01'), ('1999-12-31')", True),
    ("k uuid", "k", "('00000000-0000-0000-0000-000000000001')", True),
    ("k boolean", "k", "(true), (false)", True),
    ("a int, b text", "a, b", "(1, 'x'), (1, 'y'), (2, 'x')", True),
    ("k int[]", "k", "('{1,2}'), ('{3}')", False),
]


@pytest.mark.parametrize("trigger", [False, True], ids=["exact", "rewritten"])
@pytest.mark.parametrize("verb", ["DELETE", "UPDATE"])
@pytest.mark.parametrize(("columns", "key", "rows", "plain"), _KEYS)
def test_rows_are_checked_restored_whatever_their_key(
    pg_dsn: str,
    schema: str,
    columns: str,
    key: str,
    rows: str,
    plain: bool,
    verb: str,
    trigger: bool,
) -> None:
    """The check of rows restored finds each row by its key's values read from its image's
    text, without JSON (``plain``), or by reading the images as JSON: either way, rows put
    back exactly pass (re-inserted, or updated back), and a row a trigger of the undo rewrote
    (one that fires for replication too) refuses the undo, which leaves the rows as the
    action left them."""
    t = f"{schema}.keyed"
    with psycopg.connect(pg_dsn, autocommit=True) as con:
        con.execute(f"CREATE TABLE {t} ({columns}, n int DEFAULT 7, PRIMARY KEY ({key}))")
        con.execute(f"INSERT INTO {t} ({key}) VALUES {rows}")
        if trigger:
            again = "BEFORE INSERT" if verb == "DELETE" else "BEFORE UPDATE"  # (the undo's)
            _trigger(con, t, "again", again, _COUNT_UP, enabled="ALWAYS")
        before = con.execute(f"SELECT t::text FROM {t} AS t ORDER BY 1").fetchall()
    with goexdb.connect(pg_dsn) as db:
        staged = db.stage(f"DELETE FROM {t}" if verb == "DELETE" else f"UPDATE {t} SET n = 1")
        images = [row.before for i in staged.effects.images for row in i.images if row.before]
        staged.commit()
        names = [c.strip() for c in key.split(",")]
        keyed = {c: db.backend.columns(t).types[c] for c in names}
        texts = image_text.key_texts(images, names)
        assert POSTGRES.unrestored is not None
        fast = POSTGRES.unrestored(t, [*names, "n"], keyed, images, texts)
        assert (fast is not None) is plain
        if trigger:
            with pytest.raises(ConflictError, match=rf"{t}\.n would differ"):
                db.stage_undo(staged.action.id).commit()
    with psycopg.connect(pg_dsn) as con:
        now = con.execute(f"SELECT t::text FROM {t} AS t ORDER BY 1").fetchall()
    if trigger:
        assert now == [] if verb == "DELETE" else now != before  # (as the action left it)
        return
    with goexdb.connect(pg_dsn) as db:
        db.stage_undo(staged.action.id).commit()
    with psycopg.connect(pg_dsn) as con:
        assert con.execute(f"SELECT t::text FROM {t} AS t ORDER BY 1").fetchall() == before


def _late(con: psycopg.Connection[Any], schema: str, initially: str, enabled: str) -> str:
    """A table z (one row, 'keep') and a deferrable constraint trigger on the schema's parent
    that clobbers it; z's name."""
    z = f"{schema}.z"
    con.execute(f"CREATE TABLE {z} (id int PRIMARY KEY, w text)")
    con.execute(f"INSERT INTO {z} VALUES (1, 'keep')")
    body = f"UPDATE {z} SET w = 'clobbered'; RETURN NULL;"
    each = f"DEFERRABLE INITIALLY {initially} FOR EACH ROW"
    _trigger(
        con,
        f"{schema}.parent",
        "late",
        "AFTER UPDATE",
        body,
        enabled=enabled,
        each=each,
        constraint=True,
    )
    return z


@pytest.mark.parametrize("initially", ["DEFERRED", "IMMEDIATE"])
def test_an_action_on_a_table_with_a_deferrable_constraint_trigger_is_irreversible(
    pg_dsn: str, schema: str, initially: str
) -> None:
    """Such a trigger may fire at COMMIT (initially deferred, or deferred by a SET CONSTRAINTS,
    a trigger's too), after goex measured the action: what it wrote there was neither counted
    nor imaged, and the undo exited 0 leaving it (helper-26). The action is irreversible now,
    naming the trigger, and its undo refused."""
    with psycopg.connect(pg_dsn, autocommit=True) as con:
        z = _late(con, schema, initially, enabled="")
    with goexdb.connect(pg_dsn) as db:
        staged = db.stage(f"UPDATE {schema}.parent SET v = 'changed' WHERE id = 1")
        assert not staged.reversible
        assert any(
            f"{schema}.parent.late may be deferred" in why for why in staged.effects.irreversible
        )
        staged.commit()
        with pytest.raises(StateError, match="may be deferred"):
            db.stage_undo(staged.action.id)
    with psycopg.connect(pg_dsn) as con:
        assert con.execute(f"SELECT w FROM {z}").fetchall() == [("clobbered",)]


@pytest.mark.parametrize(("role", "enabled"), [("pg_dsn", "ALWAYS"), ("plain_dsn", "")])
def test_an_undo_a_deferrable_constraint_trigger_may_fire_on_at_its_commit_is_refused(
    request: pytest.FixtureRequest, pg_dsn: str, schema: str, role: str, enabled: str
) -> None:
    """Made after the commit, such a trigger fires on the undo's own writes, at the undo's
    COMMIT, after every check of it (helper-26: exit 0, another table clobbered). The undo is
    refused, and rolled back: the rows stay as the action left them, the other table as it
    was. For a superuser, which undoes with triggers off, one that fires for replication too;
    for a role that may not, any."""
    dsn: str = request.getfixturevalue(role)
    with goexdb.connect(dsn) as db:
        staged = db.stage(f"UPDATE {schema}.parent SET v = 'changed' WHERE id = 1")
        assert staged.reversible, staged.effects.irreversible
        staged.commit()
    with psycopg.connect(pg_dsn, autocommit=True) as con:
        z = _late(con, schema, "DEFERRED", enabled=enabled)
        con.execute(f"GRANT ALL ON {z} TO {psycopg.conninfo.conninfo_to_dict(dsn)['user']}")
    with goexdb.connect(dsn) as db, pytest.raises(ConflictError, match="may be deferred"):
        db.stage_undo(staged.action.id).commit()
    with psycopg.connect(pg_dsn) as con:
        assert con.execute(f"SELECT w FROM {z}").fetchall() == [("keep",)]
        changed = con.execute(f"SELECT v FROM {schema}.parent WHERE id = 1").fetchall()
        assert changed == [("changed",)]
