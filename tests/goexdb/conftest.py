"""A shop database on every backend, for the contract suite and the CLI tests."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pytest
from psycopg.conninfo import make_conninfo

SCHEMA = [
    "CREATE TABLE {s}customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT)",
    "CREATE TABLE {s}orders (id INTEGER PRIMARY KEY, customer_id INTEGER, status TEXT)",
]
ROWS = [
    "INSERT INTO {s}customers SELECT i, 'customer ' || i, 'c' || i || '@example.com' "
    "FROM generate_series(1, 30) AS t(i)",
    "INSERT INTO {s}orders SELECT i, 1 + i % 30, 'new' FROM generate_series(1, 90) AS t(i)",
]


@dataclass
class ShopDB:
    """A real database holding the shop tables, and a way to read it outside goex."""

    engine: str
    dsn: str
    schema: str  # qualified prefix used in SQL: '' for duckdb, 'goex_xxx.' for postgres
    query: Callable[[str], list[tuple[Any, ...]]]

    def table(self, name: str) -> str:
        return f"{self.schema}{name}"

    def snapshot(self) -> list[tuple[Any, ...]]:
        """Every row of both tables, to compare before and after."""
        return self.query(
            f"SELECT 'c', id, name, email FROM {self.table('customers')} UNION ALL "
            f"SELECT 'o', id, status, CAST(customer_id AS TEXT) FROM {self.table('orders')} "
            "ORDER BY 1, 2"
        )

    def write(self, sql: str) -> None:
        """Run a write outside goex (another client, say), committed."""
        if self.engine == "duckdb":
            with duckdb.connect(self.dsn.removeprefix("duckdb:")) as con:
                con.execute(sql)
            return
        with psycopg.connect(self.dsn, autocommit=True) as con:
            con.execute(sql)


def _duckdb_shop(path: Path) -> ShopDB:
    with duckdb.connect(str(path)) as con:
        for statement in SCHEMA + ROWS:
            con.execute(statement.format(s=""))

    def query(sql: str) -> list[tuple[Any, ...]]:
        with duckdb.connect(str(path), read_only=True) as con:
            return con.execute(sql).fetchall()

    return ShopDB("duckdb", f"duckdb:{path}", "", query)


def _postgres_shop(dsn: str) -> tuple[ShopDB, Callable[[], None]]:
    schema = f"goex_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(dsn, autocommit=True) as con:
        con.execute(f"CREATE SCHEMA {schema}")
        for statement in SCHEMA + ROWS:
            con.execute(statement.format(s=f"{schema}."))

    def query(sql: str) -> list[tuple[Any, ...]]:
        with psycopg.connect(dsn) as con:
            return con.execute(sql).fetchall()

    def drop() -> None:
        with psycopg.connect(dsn, autocommit=True) as con:
            con.execute(f"DROP SCHEMA {schema} CASCADE")

    return ShopDB("postgres", dsn, f"{schema}.", query), drop


@pytest.fixture(params=["duckdb", "postgres"])
def shop(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ShopDB]:
    """The same shop on each backend: every contract test runs once per backend."""
    if request.param == "duckdb":
        yield _duckdb_shop(tmp_path / "shop.duckdb")
        return
    db, drop = _postgres_shop(request.getfixturevalue("pg_dsn"))
    try:
        yield db
    finally:
        drop()


@pytest.fixture
def duckdb_shop(duckdb_path: Path) -> ShopDB:
    return _duckdb_shop(duckdb_path)


def _postgres_database_shop(dsn: str) -> tuple[ShopDB, Callable[[], None]]:
    """The shop in a database of its own (a clone's template must be a whole database)."""
    name = f"goex_test_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(dsn, autocommit=True) as con:
        con.execute(f"CREATE DATABASE {name}")
    own = make_conninfo(dsn, dbname=name)
    with psycopg.connect(own, autocommit=True) as con:
        for statement in SCHEMA + ROWS:
            con.execute(statement.format(s=""))

    def query(sql: str) -> list[tuple[Any, ...]]:
        with psycopg.connect(own) as con:
            return con.execute(sql).fetchall()

    def drop() -> None:
        with psycopg.connect(dsn, autocommit=True) as con:
            con.execute(f"DROP DATABASE {name} WITH (FORCE)")

    return ShopDB("postgres", own, "", query), drop


@pytest.fixture(params=["duckdb", "postgres"])
def shop_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ShopDB]:
    """The shop as a whole database on each backend, for clone mode."""
    if request.param == "duckdb":
        yield _duckdb_shop(tmp_path / "shop.duckdb")
        return
    db, drop = _postgres_database_shop(request.getfixturevalue("pg_dsn"))
    try:
        yield db
    finally:
        drop()


@pytest.fixture
def pg_shop(pg_dsn: str) -> Iterator[ShopDB]:
    shop, drop = _postgres_shop(pg_dsn)
    try:
        yield shop
    finally:
        drop()


@pytest.fixture
def pg_shop_database(pg_dsn: str) -> Iterator[ShopDB]:
    shop, drop = _postgres_database_shop(pg_dsn)
    try:
        yield shop
    finally:
        drop()
