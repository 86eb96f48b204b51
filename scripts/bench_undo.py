"""What undo costs on PostgreSQL and DuckDB, against the action it undoes, measured in the same
run.

For tables of 8,000 and 100,000 rows, two actions go through goex (stage, measure, commit) and
are then undone through goex (stage the undo, measure it, commit it):

* update — ``UPDATE t SET qty = qty + 1, note = note || '!'`` of every row;
* delete — ``DELETE FROM t`` of every row (the undo re-inserts them);
* cascade — ``DELETE FROM parent`` of a table of one parent per ten rows of t, whose foreign key
  deletes every row of t ON DELETE CASCADE: t's rows are imaged over the whole action (a second
  connection reads the versions deleted), and the undo writes both tables back. Also printed:
  goex's action against the same DELETE by the plain driver (psycopg, committed).

Printed for each: the action's time, the undo's time and their ratio (target of issue 14: the
undo within 3x the action), and the undo record's size as stored in the journal (compressed)
against the changed rows as text (target: at most 2x). ``[db] max_row_images`` is raised so
every row is imaged. The server is the embedded PostgreSQL 18 (or GOEX_TEST_DSN); the journal
is a temporary GOEX_HOME.

On DuckDB (a file of its own per case), the update and the delete, of the same table without
the foreign key (DuckDB has no ON DELETE CASCADE).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pg_server import postgres_dsn

import goexdb
from core.config import DbConfig

SIZES = (8_000, 100_000)
TIME_TARGET = 3.0
SIZE_TARGET = 2.0


def setup(dsn: str, rows: int) -> str:
    table = f"bench_undo_{rows}"
    with psycopg.connect(dsn, autocommit=True) as con:
        con.execute(f"DROP TABLE IF EXISTS {table}, {table}_parent")
        con.execute(f"CREATE TABLE {table}_parent (id int PRIMARY KEY)")
        con.execute(f"INSERT INTO {table}_parent SELECT generate_series(0, {rows // 10})")
        con.execute(
            f"CREATE TABLE {table} (id int PRIMARY KEY, qty int NOT NULL, note text, "
            "at timestamptz NOT NULL DEFAULT '2026-01-01', "
            f"parent int REFERENCES {table}_parent ON DELETE CASCADE)"
        )
        con.execute(f"CREATE INDEX ON {table} (parent)")
        con.execute(
            f"INSERT INTO {table} (id, qty, note, parent) SELECT i, i % 97, 'row ' || i, i / 10 "
            f"FROM generate_series(1, {rows}) AS t(i)"
        )
        con.execute(f"ANALYZE {table}")
    return table


def plain(dsn: str, rows: int, sql: str) -> float:
    """The same statement by the plain driver, committed, on a fresh copy of the tables."""
    setup(dsn, rows)
    with psycopg.connect(dsn) as con:
        start = time.perf_counter()
        con.execute(sql)
        con.commit()
        return time.perf_counter() - start


def rows_as_text(dsn: str, table: str) -> int:
    with psycopg.connect(dsn) as con:
        row = con.execute(f"SELECT sum(length(t::text)) FROM {table} AS t").fetchone()
        assert row is not None
        return int(row[0] or 0)


def checksum(dsn: str, table: str) -> str:
    with psycopg.connect(dsn) as con:
        row = con.execute(
            f"SELECT md5(string_agg(t::text, ',' ORDER BY id)) FROM {table} AS t"
        ).fetchone()
        assert row is not None
        return str(row[0])


def action_and_undo(dsn: str, rows: int, sql: str) -> tuple[float, float, int]:
    """The action through goex (staged, measured, committed), then its undo: their seconds,
    and the undo record's size as stored."""
    with goexdb.connect(dsn, DbConfig(max_row_images=rows * 2)) as db:
        start = time.perf_counter()
        staged = db.stage(sql)
        staged.commit()
        action = time.perf_counter() - start
        recorded = db.journal.undo_size(staged.action.id)
        start = time.perf_counter()
        db.stage_undo(staged.action.id).commit()
        return action, time.perf_counter() - start, recorded


def run(dsn: str, rows: int, kind: str) -> dict[str, float]:
    table = setup(dsn, rows)
    before, text = checksum(dsn, table), rows_as_text(dsn, table)
    sql = {
        "update": f"UPDATE {table} SET qty = qty + 1, note = note || '!'",
        "delete": f"DELETE FROM {table}",
        "cascade": f"DELETE FROM {table}_parent",
    }[kind]
    action, undone, recorded = action_and_undo(dsn, rows, sql)
    assert checksum(dsn, table) == before, "the undo did not restore the table exactly"
    driver = plain(dsn, rows, sql)
    return {"action": action, "undo": undone, "record": recorded, "text": text, "plain": driver}


def run_duckdb(tmp: Path, rows: int, kind: str) -> dict[str, float]:
    """The same on a DuckDB file, its plain driver on a fresh copy of the table."""

    def fresh() -> Path:
        path = tmp / f"undo_{rows}_{kind}.duckdb"
        path.unlink(missing_ok=True)
        with duckdb.connect(str(path)) as con:
            con.execute(
                "CREATE TABLE t (id INTEGER PRIMARY KEY, qty INTEGER NOT NULL, note VARCHAR, "
                "seen TIMESTAMPTZ NOT NULL DEFAULT '2026-01-01')"
            )
            con.execute(
                f"INSERT INTO t (id, qty, note) SELECT i, i % 97, 'row ' || i "
                f"FROM range(1, {rows + 1}) AS r(i)"
            )
        return path

    def read(path: Path, sql: str) -> Any:
        with duckdb.connect(str(path)) as con:
            return con.execute(sql).fetchone()[0]  # type: ignore[index]

    everything = "SELECT md5(string_agg(to_json(t)::VARCHAR, ',' ORDER BY id)) FROM t"
    sql = {"update": "UPDATE t SET qty = qty + 1, note = note || '!'", "delete": "DELETE FROM t"}
    path = fresh()
    before = read(path, everything)
    text = read(path, "SELECT sum(length(to_json(t)::VARCHAR)) FROM t")
    action, undone, recorded = action_and_undo(f"duckdb:{path}", rows, sql[kind])
    assert read(path, everything) == before, "the undo did not restore the table exactly"
    path = fresh()
    with duckdb.connect(str(path)) as con:
        start = time.perf_counter()
        con.begin()
        con.execute(sql[kind])
        con.commit()
        driver = time.perf_counter() - start
    return {"action": action, "undo": undone, "record": recorded, "text": text, "plain": driver}


def line(kind: str, rows: int, got: dict[str, float]) -> str:
    ratio, size = got["undo"] / got["action"], got["record"] / got["text"]
    return (
        f"  {kind:6} {rows:>7,} rows  action {got['action']:7.2f} s  undo "
        f"{got['undo']:7.2f} s  {ratio:5.2f}x (target <= {TIME_TARGET:g}x: "
        f"{'ok' if ratio <= TIME_TARGET else 'over'})  record {got['record'] / 1e6:6.1f} MB"
        f" = {size:4.2f}x the rows as text (target <= {SIZE_TARGET:g}x: "
        f"{'ok' if size <= SIZE_TARGET else 'over'})  plain driver "
        f"{got['plain']:6.2f} s: goex's action {got['action'] / got['plain']:5.2f}x"
    )


def report(dsn: str, tmp: Path) -> None:
    print("undo on PostgreSQL: the action and its undo, each staged, measured and committed")
    for rows in SIZES:
        for kind in ("update", "delete", "cascade"):
            print(line(kind, rows, run(dsn, rows, kind)), flush=True)
    print("undo on DuckDB: the same")
    for rows in SIZES:
        for kind in ("update", "delete"):
            print(line(kind, rows, run_duckdb(tmp, rows, kind)), flush=True)


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="goex-bench-undo-") as tmp:
        os.environ["GOEX_HOME"] = str(Path(tmp) / "home")
        with postgres_dsn(Path(tmp)) as dsn:
            report(dsn, Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
