"""What only PostgreSQL measures: cascades, locks, rewrites, sequences, local timeouts."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest

import goexdb
from core.config import DbConfig
from core.errors import ExecutionError


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
