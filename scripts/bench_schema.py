"""The size of what the model is told about a database (goexdb.schema), in characters and
estimated tokens (4 characters each), on two schemas built in the same run:

* rental — 15 tables, an enum, a domain, two views, and a payment table of 54 monthly
  partitions (the shape of issue 15's sample schema);
* wide   — 500 tables of ten columns.

Each is described two ways: the baseline — one line per relation, partitions included, nothing
left out (what goex told the model before) — and goex's description with the default budget
(``[model] schema_budget``, 4,000 tokens) and a task naming two kinds of table.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' schema builders

from pg_server import postgres_dsn

from core.config import ModelConfig
from goexdb.backends.postgres import queries
from goexdb.schema import CHARS_PER_TOKEN, read_schema
from tests.goexdb.schemas import rental_schema, wide_schema

TASK = "total of every invoice per shipment"


def measure(dsn: str, name: str, statements: list[str]) -> None:
    with psycopg.connect(dsn, autocommit=True) as con:
        con.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
        con.execute(f"CREATE SCHEMA {name}")
        for statement in statements:
            con.execute(statement)
        con.execute("ANALYZE")

        def rows(query: str) -> list[tuple[object, ...]]:
            return [r for r in con.execute(query).fetchall() if str(r[0]).startswith(f"{name}.")]

        relations = rows(queries.RELATIONS)
        baseline = read_schema(
            [(n, k, False, None, 0, r) for n, k, _, _, _, r in relations],
            rows(queries.COLUMNS),
            rows(queries.CONSTRAINTS),
        ).describe(budget=10**9)
        schema = read_schema(
            relations, rows(queries.COLUMNS), rows(queries.CONSTRAINTS), rows(queries.TYPES)
        )
        budget = ModelConfig.schema_budget
        plain = schema.describe(budget)
        tasked = schema.describe(budget, TASK)
        con.execute(f"DROP SCHEMA {name} CASCADE")
    print(f"{name}: {len(relations)} relations")
    for label, text in (("baseline", baseline), ("goex", plain), ("goex+task", tasked)):
        lines = text.count("\n") + 1
        tokens = len(text) // CHARS_PER_TOKEN
        ratio = len(text) / len(baseline)
        print(
            f"  {label:10} {len(text):7} chars  ~{tokens:6} tokens  {lines:4} lines  {ratio:.2f}x"
        )


def main() -> int:
    with (
        tempfile.TemporaryDirectory(prefix="goex-bench-schema-") as tmp,
        postgres_dsn(Path(tmp)) as dsn,
    ):
        run(dsn)
    return 0


def run(dsn: str) -> None:
    measure(dsn, "rental", rental_schema("rental"))
    measure(dsn, "wide", wide_schema("wide"))


if __name__ == "__main__":
    sys.exit(main())
