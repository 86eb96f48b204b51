"""goex-db overhead: an UPDATE of 1,000 and of 100,000 rows, measured several ways in one run.

* plain   — the driver alone, used as its documentation shows: BEGIN, the UPDATE, ROLLBACK
  (psycopg: ``execute`` then ``rollback``, which sends the statement unprepared each time;
  duckdb: ``begin``, ``execute``, ``rollback``);
* counts  — goex with ``capture = "counts"``: classify, held transaction with local timeouts,
  measured per-table counts, locks, side effects; then rollback;
* images  — goex with full row images (what undo needs); then rollback. On DuckDB an UPDATE's
  images are captured as it runs (the ids of its rows, and a pinned snapshot) and read as JSON
  text only when something needs them: commit, ``reversible``, ``undo_record``;
* +record — images, then ``undo_record()`` (every image read as JSON text, as a commit does
  before it journals the undo record), then rollback.

On DuckDB a last line gives the floor of images, without goex, for 100,000 rows: the UPDATE
with its rows' JSON text before and after it, made by DuckDB and only counted, or fetched into
Python (as an undo record needs them); or its rows before and after it written by DuckDB to
Parquet files, its own binary columnar form (the least a record kept beyond the transaction
can cost, in any form).

Each goex way is the held transaction under an action (``Session.hold``): what goex adds to the
database round trips. The journal's writes per action are measured by ``bench_journal.py``.

The ways take turns, in a rotating order, so that a machine getting busier or quieter weighs on
all of them alike; the medians and the ratios to plain are printed. Each way runs on an open
connection (connecting costs the same for all). The same statement text is run again and again,
as an agent retrying it would; a last line per size gives the cost when every run's text is new
(the plain driver then prepares each afresh too). Targets: counts <= 1.15x, images <= 2.5x.
PostgreSQL is the embedded PostgreSQL 18 server (or GOEX_TEST_DSN).
"""

from __future__ import annotations

import itertools
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import duckdb
import psycopg
from pg_server import postgres_dsn

import goexdb
from core.config import DbConfig
from goexdb.backends.duckdb import CONFIG as DUCKDB_CONFIG

SIZES = (1_000, 100_000)
UPDATE = "UPDATE bench SET qty = qty + 1, note = 'touched' WHERE id <= {n}"
COUNTS = DbConfig(capture="counts")
IMAGES = DbConfig(max_row_images=200_000)


def medians(ways: dict[str, Callable[[], None]], repeat: int) -> dict[str, float]:
    """Each way's median seconds, the ways taking turns in a rotating order."""
    for run in ways.values():
        run()  # warm up caches and prepared statements
    times: dict[str, list[float]] = {name: [] for name in ways}
    names = list(ways)
    for turn in range(repeat):
        for name in names[turn % len(names) :] + names[: turn % len(names)]:
            start = time.perf_counter()
            ways[name]()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def report(engine: str, n: int, found: dict[str, float]) -> None:
    plain = found["plain"]
    cells = [f"plain {plain * 1e3:8.2f} ms"] + [
        f"{name} {seconds * 1e3:8.2f} ms ({seconds / plain:5.2f}x)"
        for name, seconds in found.items()
        if name != "plain"
    ]
    print(f"{engine:8} {n:>7} rows  " + "   ".join(cells))


def report_new_text(engine: str, n: int, found: dict[str, float]) -> None:
    plain, counts = found["plain"], found["counts"]
    print(
        f"{engine:8} {n:>7} rows  new text each run: plain {plain * 1e3:8.2f} ms   "
        f"counts {counts * 1e3:8.2f} ms ({counts / plain:5.2f}x)"
    )


def fresh_texts(sql: str) -> Iterator[str]:
    """The same statement, with a comment inside it that makes each text new."""
    verb, rest = sql.split(" ", 1)
    return (f"{verb} /* run {i} */ {rest}" for i in itertools.count())


def goex_ways(stack: ExitStack, dsn: str, sql: str) -> dict[str, Callable[[], None]]:
    counts = stack.enter_context(goexdb.connect(dsn, COUNTS))
    images = stack.enter_context(goexdb.connect(dsn, IMAGES))
    recorded = stack.enter_context(goexdb.connect(dsn, IMAGES))

    def with_record() -> None:
        staged = recorded.hold(sql)
        staged.undo_record()
        staged.rollback()

    return {
        "counts": lambda: counts.hold(sql).rollback(),
        "images": lambda: images.hold(sql).rollback(),
        "+record": with_record,
    }


def bench_size(engine: str, dsn: str, n: int, plain: Callable[[str], None]) -> None:
    """Report one size: the ways on the same text, then plain and counts on new texts."""
    sql = UPDATE.format(n=n)
    start = time.perf_counter()
    plain(sql)
    # About a second of plain runs per way (at least 11, at most 301): short runs are noisy.
    repeat = max(11, min(301, int(1.0 / (time.perf_counter() - start))))
    with ExitStack() as stack:
        ways = {"plain": lambda: plain(sql), **goex_ways(stack, dsn, sql)}
        report(engine, n, medians(ways, repeat))
        counts = stack.enter_context(goexdb.connect(dsn, COUNTS))
        plain_texts, goex_texts = fresh_texts(sql), fresh_texts(sql)
        new_text = {
            "plain": lambda: plain(next(plain_texts)),
            "counts": lambda: counts.hold(next(goex_texts)).rollback(),
        }
        report_new_text(engine, n, medians(new_text, repeat))


def bench_postgres(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as con:
        con.execute("DROP TABLE IF EXISTS bench")
        con.execute("CREATE TABLE bench (id int PRIMARY KEY, qty int, note text, price numeric)")
        con.execute(
            "INSERT INTO bench SELECT i, i % 7, 'row ' || i, i * 1.5 "
            "FROM generate_series(1, 100000) i"
        )
        con.execute("VACUUM ANALYZE bench")
    with psycopg.connect(dsn) as plain_con:

        def plain(text: str) -> None:
            plain_con.execute(text.encode())
            plain_con.rollback()

        for n in SIZES:
            bench_size("postgres", dsn, n, plain)


def fill_duckdb(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        "CREATE TABLE bench (id INTEGER PRIMARY KEY, qty INTEGER, note TEXT, price DECIMAL(12, 2))"
    )
    con.execute(
        "INSERT INTO bench SELECT i, i % 7, 'row ' || i, i * 1.5 FROM range(1, 100001) t(i)"
    )


def bench_duckdb(path: Path) -> None:
    with duckdb.connect(str(path)) as con:
        fill_duckdb(con)
    # The plain connection opens the file with goex's settings, so that all ways share one
    # database instance (DuckDB takes one configuration per file and process).
    with duckdb.connect(str(path), config=dict(DUCKDB_CONFIG)) as plain_con:

        def plain(text: str) -> None:
            plain_con.begin()
            plain_con.execute(text).fetchall()
            plain_con.rollback()

        for n in SIZES:
            bench_size("duckdb", f"duckdb:{path}", n, plain)
        duckdb_floor(plain_con, SIZES[-1], plain)
    parquet_floor(SIZES[-1], path.parent)


def duckdb_floor(con: duckdb.DuckDBPyConnection, n: int, plain: Callable[[str], None]) -> None:
    """The least exact images can cost on DuckDB, against the UPDATE alone: the UPDATE with
    its rows' JSON text before and after it, made by DuckDB and counted there (no Python
    object per row), or fetched into Python, where goex's undo record needs them."""
    sql = UPDATE.format(n=n)
    text = f"SELECT to_json(b)::VARCHAR FROM bench AS b WHERE id <= {n}"
    ways = {
        "plain": lambda: plain(sql),
        "text counted": imaged(con, sql, lambda _: f"SELECT count(t) FROM ({text}) AS x(t)"),
        "text fetched": imaged(con, sql, lambda _: text),
    }
    report("duckdb", n, medians(ways, 21))
    print(f"{'':8} {'':>7}       (the floor of images as JSON text: made, or fetched; no goex)")


def parquet_floor(n: int, tmp: Path) -> None:
    """The least images in any form kept beyond the transaction can cost on DuckDB: the rows
    before and after the UPDATE written by DuckDB itself to a Parquet file each (its binary
    columnar form: no text, no Python object per row). goex opens DuckDB with file access
    off, so this runs on a database of its own (in memory, the same table), against the
    plain UPDATE there."""
    sql = UPDATE.format(n=n)
    rows = f"SELECT rowid, * FROM bench WHERE id <= {n}"
    with duckdb.connect() as con:
        fill_duckdb(con)

        def plain() -> None:
            con.begin()
            con.execute(sql).fetchall()
            con.rollback()

        ways = {
            "plain": plain,
            "parquet": imaged(
                con, sql, lambda side: f"COPY ({rows}) TO '{tmp / side}.parquet' (FORMAT parquet)"
            ),
        }
        report("duckdb", n, medians(ways, 21))
    print(f"{'':8} {'':>7}       (the floor of images as Parquet DuckDB writes; no goex)")


def imaged(
    con: duckdb.DuckDBPyConnection, sql: str, read: Callable[[str], str]
) -> Callable[[], None]:
    """The UPDATE with ``read("before")`` before it and ``read("after")`` after it, rolled back."""

    def run() -> None:
        con.begin()
        con.execute(read("before")).fetchall()
        con.execute(sql).fetchall()
        con.execute(read("after")).fetchall()
        con.rollback()

    return run


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        bench_duckdb(Path(tmp) / "bench.duckdb")
        with postgres_dsn(Path(tmp)) as dsn:
            bench_postgres(dsn)
    return 0


if __name__ == "__main__":
    sys.exit(main())
