"""Engine facts: one object per engine, read by the SQL layer, undo and the prompt without
loading a driver; each backend exposes its own, and loads only its own driver."""

from __future__ import annotations

import subprocess
import sys

import pytest
from sqlglot import exp

from core.errors import TargetError
from goexdb.backends.duckdb import DuckDBBackend
from goexdb.backends.postgres import PostgresBackend
from goexdb.engines import DUCKDB, ENGINES, POSTGRES, engine_facts
from goexdb.prompt import system_prompt
from goexdb.sql import matched_row_ids, parse_script


def _loaded(code: str) -> set[str]:
    """The drivers loaded after running ``code`` in a fresh interpreter."""
    out = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys\nprint(sorted(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {driver for driver in ("psycopg", "duckdb") if f"'{driver}'" in out}


def test_each_backend_exposes_its_engine_facts() -> None:
    assert PostgresBackend.facts is POSTGRES and PostgresBackend.dialect == "postgres"
    assert DuckDBBackend.facts is DUCKDB and DuckDBBackend.dialect == "duckdb"
    assert (POSTGRES.row_identity, DUCKDB.row_identity) == (("tableoid", "ctid"), ("rowid",))
    assert (POSTGRES.savepoints, DUCKDB.savepoints) == (True, False)
    assert ENGINES == {"postgres": POSTGRES, "duckdb": DUCKDB}


@pytest.mark.parametrize(
    ("version", "expected"), [(None, False), (170005, False), (180000, True), (180001, True)]
)
def test_version_features_are_facts_of_the_engine(version: int | None, expected: bool) -> None:
    assert POSTGRES.returning_old_new(version) is expected
    assert DUCKDB.returning_old_new(version) is False


def test_the_prompt_names_the_engine_as_people_write_it() -> None:
    assert "for the PostgreSQL database" in system_prompt("postgres")
    assert "for the DuckDB database" in system_prompt("duckdb")
    with pytest.raises(TargetError, match="no database engine called 'sqlite'"):
        engine_facts("sqlite")


def test_the_row_id_of_a_rewrite_is_the_engines() -> None:
    [update] = parse_script("UPDATE t AS x SET a = 1 WHERE b = 2", "postgres")
    assert matched_row_ids(update, POSTGRES) == "SELECT x.tableoid, x.ctid FROM t AS x WHERE b = 2"
    [update] = parse_script("UPDATE t AS x SET a = 1 WHERE b = 2", "duckdb")
    assert matched_row_ids(update, DUCKDB) == "SELECT x.rowid FROM t AS x WHERE b = 2"


def test_facts_sql_and_undo_load_no_driver_and_each_backend_only_its_own() -> None:
    assert _loaded("import goexdb.engines, goexdb.sql, goexdb.undo, goexdb.prompt") == set()
    assert _loaded("import goexdb.clone, goexdb.backends.cloning") == set()
    assert _loaded("import goexdb.backends.postgres") == {"psycopg"}
    assert _loaded("import goexdb.backends.duckdb") == {"duckdb"}


def test_names_are_folded_as_each_engine_keeps_them() -> None:
    """PostgreSQL folds the ASCII letters of an unquoted name only (UTF-8); DuckDB keeps it."""
    assert POSTGRES.catalog_name(exp.parse_identifier("Ärger_X", dialect="postgres")) == "Ärger_x"
    assert POSTGRES.catalog_name(exp.parse_identifier('"Ärger_X"', dialect="postgres")) == "Ärger_X"
    assert DUCKDB.catalog_name(exp.parse_identifier("Ärger_X", dialect="duckdb")) == "Ärger_X"
