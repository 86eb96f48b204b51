"""Databases for the adversarial tests: a dedicated PostgreSQL database on the session server,
a DuckDB template file, and goex-db run in this process through its real entry point."""

from __future__ import annotations

import shutil
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import duckdb
import psycopg
import pytest

from goexdb.cli import main

TABLES = [
    "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT)",
    "CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER, status TEXT)",
    "CREATE SEQUENCE adv_seq",
    "INSERT INTO customers SELECT i, 'customer ' || i, 'c' || i || '@example.com' "
    "FROM generate_series(1, 30) AS t(i)",
    "INSERT INTO orders SELECT i, 1 + i % 30, 'new' FROM generate_series(1, 90) AS t(i)",
]
# Server-side code an agent may try to CALL: it ends the transaction or changes the session.
POSTGRES_ONLY = [
    "CREATE PROCEDURE finish_early() LANGUAGE plpgsql AS $$ BEGIN "
    "DELETE FROM orders WHERE id = 1; COMMIT; END $$",
    "CREATE PROCEDURE become_superuser() LANGUAGE plpgsql AS $$ BEGIN "
    "EXECUTE 'SET SESSION AUTHORIZATION DEFAULT'; RESET ALL; END $$",
]


def database_dsn(server_dsn: str, name: str) -> str:
    """The server's URL with another database name."""
    parts = urlsplit(server_dsn)
    return urlunsplit(parts._replace(path=f"/{name}"))


@pytest.fixture(scope="session")
def corpus_pg(pg_dsn: str) -> Iterator[str]:
    """A database of its own on the session server, holding the shop tables in public."""
    name = f"goex_adv_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_dsn, autocommit=True) as con:
        con.execute(f"CREATE DATABASE {name}")
    dsn = database_dsn(pg_dsn, name)
    with psycopg.connect(dsn, autocommit=True) as con:
        for statement in TABLES + POSTGRES_ONLY:
            con.execute(statement)
    try:
        yield dsn
    finally:
        with psycopg.connect(pg_dsn, autocommit=True) as con:
            con.execute(f"DROP DATABASE {name} WITH (FORCE)")


@pytest.fixture(scope="session")
def duckdb_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("duck-template") / "shop.duckdb"
    with duckdb.connect(str(path)) as con:
        for statement in TABLES:
            con.execute(statement)
    return path


@pytest.fixture
def corpus_duckdb(duckdb_template: Path, tmp_path: Path) -> Path:
    """A fresh copy of the template for one test."""
    path = tmp_path / "db" / "shop.duckdb"
    path.parent.mkdir()
    shutil.copy(duckdb_template, path)
    return path


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str


GoexDb = Callable[..., Run]


@pytest.fixture
def goex_db_here(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> GoexDb:
    """``goex-db ARGS`` through its console entry point (``goexdb.cli:main``), in this process:
    the same parsing, error boundary and exit codes as the installed command, without a
    process start per case."""

    def run(*args: str) -> Run:
        capsys.readouterr()
        monkeypatch.setattr(sys, "argv", ["goex-db", *args])
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return run
