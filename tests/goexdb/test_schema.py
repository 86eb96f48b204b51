"""What the model is told about a database (goexdb.schema): partitions folded into their table,
types once, views with their columns, bounded by the budget with the relevant tables first."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import duckdb
import psycopg
import pytest

import goexdb
from goexdb.schema import CHARS_PER_TOKEN
from tests.goexdb.schemas import MONTHS, RENTAL_TABLES, rental_schema, wide_schema


def built(dsn: str, statements: list[str]) -> Iterator[str]:
    schema = f"goex_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(dsn, autocommit=True) as con:
        con.execute(f"CREATE SCHEMA {schema}")
        for statement in statements:
            con.execute(statement.replace("{schema}", schema))
        con.execute("ANALYZE")
    try:
        yield schema
    finally:
        with psycopg.connect(dsn, autocommit=True) as con:
            con.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def rental(pg_dsn: str) -> Iterator[str]:
    yield from built(pg_dsn, rental_schema("{schema}"))


@pytest.fixture
def wide(pg_dsn: str) -> Iterator[str]:
    yield from built(pg_dsn, wide_schema("{schema}"))


def test_partitions_fold_into_their_table_and_types_appear_once(pg_dsn: str, rental: str) -> None:
    with goexdb.connect(pg_dsn) as db:
        text = db.describe()
    mine = [line for line in text.splitlines() if f"{rental}." in line]
    assert not any("payment_p20" in line for line in mine)  # no partition listed
    (payment,) = [line for line in mine if line.startswith(f"TABLE {rental}.payment(")]
    assert f"PARTITION BY RANGE (payment_date), {MONTHS} partitions" in payment
    assert f"TYPE {rental}.mpaa_rating AS ENUM ('G', 'PG', 'PG-13', 'R', 'NC-17')" in mine
    assert any(line.startswith(f"TYPE {rental}.year AS DOMAIN integer CHECK") for line in mine)
    assert sum(f"{rental}.mpaa_rating" in line for line in mine) == 2  # the type, and film's column
    (view,) = [line for line in mine if line.startswith(f"VIEW {rental}.customer_list(")]
    assert "id integer, name text, address text, phone text" in view
    tables = [line for line in mine if line.startswith("TABLE ")]
    assert len(tables) == len(RENTAL_TABLES) + 1
    assert any("FOREIGN KEY (film_id) REFERENCES" in line for line in tables)
    assert len("\n".join(mine)) < 6_000  # ~19,000 characters with a line per partition


def test_over_the_budget_the_relevant_tables_come_first(pg_dsn: str, wide: str) -> None:
    budget = 1_000
    with goexdb.connect(pg_dsn) as db:
        text = db.describe("total of every invoice per shipment for table 417", budget)
    assert len(text) <= budget * CHARS_PER_TOKEN
    lines = text.splitlines()
    described = [line for line in lines if line.startswith("TABLE ")]
    assert described and all("invoice" in line or "shipment" in line for line in described[:5])
    assert lines[-1].startswith("-- ") and "named only" in lines[-1] and "more" in lines[-1]
    with goexdb.connect(pg_dsn) as db:
        whole = db.describe(budget=1_000_000)
    assert sum(f"TABLE {wide}." in line for line in whole.splitlines()) == 500


def test_duckdb_views_and_tables(tmp_path: object) -> None:
    path = f"{tmp_path}/shop.duckdb"
    with duckdb.connect(path) as con:
        con.execute("CREATE TYPE mood AS ENUM ('sad', 'ok')")
        con.execute("CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT, feeling mood)")
        con.execute("CREATE VIEW named AS SELECT name FROM people")
    with goexdb.connect(f"duckdb:{path}") as db:
        text = db.describe()
    assert "TABLE main.people(id INTEGER, name VARCHAR, feeling" in text
    assert "PRIMARY KEY(id)" in text
    assert "VIEW main.named(name VARCHAR)" in text
