"""goex-db dry-run: migrations measured on real databases, which are unchanged afterwards."""

from __future__ import annotations

import json
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import duckdb
import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from core.config import Config, LintConfig
from goexdb.dsn import parse_dsn
from goexdb.migrations import dry_run
from goexdb.reports import Report, StatementReport, report_from_json
from tests.goexdb.test_cli import goex_db

ROWS = 100_000
# What a checksum of the whole database covers: every row, and the schema as the catalog has it.
CHECKSUM = """
    SELECT (SELECT md5(string_agg(a::text, ',' ORDER BY id)) FROM accounts a),
           (SELECT md5(string_agg(concat_ws(' ', table_name, column_name, data_type,
                                            column_default, is_nullable), ',' ORDER BY 1))
            FROM information_schema.columns WHERE table_schema = 'public'),
           (SELECT md5(coalesce(string_agg(indexdef, ',' ORDER BY 1), ''))
            FROM pg_indexes WHERE schemaname = 'public')
"""


@pytest.fixture
def accounts_db(pg_dsn: str) -> Iterator[str]:
    """A database of its own holding ``accounts``, 100,000 rows, analysed."""
    name = f"goex_dry_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_dsn, autocommit=True) as con:
        con.execute(f"CREATE DATABASE {name}")
    dsn = make_conninfo(pg_dsn, dbname=name)
    with psycopg.connect(dsn, autocommit=True) as con:
        con.execute("CREATE TABLE accounts (id int PRIMARY KEY, balance int NOT NULL)")
        con.execute(f"INSERT INTO accounts SELECT g, g % 100 FROM generate_series(1, {ROWS}) g")
        con.execute("ANALYZE accounts")
    try:
        yield dsn
    finally:
        with psycopg.connect(pg_dsn, autocommit=True) as con:
            con.execute(f"DROP DATABASE {name} WITH (FORCE)")


def checksum(dsn: str) -> tuple[str, ...]:
    with psycopg.connect(dsn) as con:
        row = con.execute(CHECKSUM).fetchone()
    assert row is not None
    return tuple(row)


def migrations(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir(exist_ok=True)
    for name, sql in files.items():
        (directory / name).write_text(sql, encoding="utf-8")
    return directory


def statement(report: Report, file_suffix: str, index: int = 0) -> StatementReport:
    file = next(f for f in report.files if f.path.endswith(file_suffix))
    return file.statements[index]


def measured_config(**lint: int) -> Config:
    return Config(lint=replace(LintConfig(), **lint))


def test_a_type_change_rewrites_and_locks_and_a_constant_default_does_not(
    accounts_db: str, tmp_path: Path
) -> None:
    before = checksum(accounts_db)
    folder = migrations(
        tmp_path / "m",
        {
            "V1__widen.sql": "ALTER TABLE accounts ALTER COLUMN balance TYPE bigint;",
            "V2__flag.sql": "ALTER TABLE accounts ADD COLUMN flagged int DEFAULT 0;",
        },
    )
    config = measured_config(max_exclusive_lock_ms=0, large_table_rows=ROWS - 1)
    report = dry_run([folder], parse_dsn(accounts_db), config)

    widen = statement(report, "V1__widen.sql")
    assert {"relation": "public.accounts", "mode": "AccessExclusiveLock"} in [
        {k: lock[k] for k in ("relation", "mode")} for lock in widen.locks
    ]
    assert all(lock["held_ms"] >= 0 for lock in widen.locks)
    assert widen.rewrites == ["public.accounts"]
    assert [c["change"] for c in widen.schema_changes] == ["type_changed"]
    measured_rules = {f.rule for f in widen.findings}
    assert {"large-table-rewrite", "long-exclusive-lock", "changing-column-type"} <= measured_rules

    flag = statement(report, "V2__flag.sql")
    assert flag.rewrites == []  # a constant default is only catalog metadata since PostgreSQL 11
    assert "large-table-rewrite" not in {f.rule for f in flag.findings}
    assert [c["change"] for c in flag.schema_changes] == ["column_added"]
    assert report.strategy is not None and "rolled back" in report.strategy

    assert checksum(accounts_db) == before  # content and schema exactly as they were


def test_a_failing_file_is_located_and_the_next_still_runs(
    accounts_db: str, tmp_path: Path
) -> None:
    before = checksum(accounts_db)
    folder = migrations(
        tmp_path / "m",
        {
            "1_ok.sql": "UPDATE accounts SET balance = 0 WHERE id <= 10;",
            "2_bad.sql": "SELECT 1;\nUPDATE accounts\n   SET nope = 1 WHERE id = 3;",
            "3_after.sql": "DELETE FROM accounts WHERE id = 5;",
        },
    )
    report = dry_run([folder], parse_dsn(accounts_db), Config())
    bad = next(f for f in report.files if f.path.endswith("2_bad.sql"))
    assert bad.error is not None and bad.error.rule == "migration-error"
    assert (bad.error.line, bad.error.column) == (3, 8)  # where PostgreSQL points: "nope"
    assert "nope" in bad.error.message
    assert statement(report, "1_ok.sql").rowcount == 10
    assert statement(report, "3_after.sql").rowcount == 1  # rolled back to its savepoint only
    assert checksum(accounts_db) == before


def test_non_transactional_statements_move_the_run_to_a_clone(
    accounts_db: str, tmp_path: Path
) -> None:
    before = checksum(accounts_db)
    folder = migrations(
        tmp_path / "m",
        {
            "1_index.sql": "CREATE INDEX CONCURRENTLY accounts_balance ON accounts (balance);",
            "2_use.sql": "UPDATE accounts SET balance = 1 WHERE balance = 0;",
        },
    )
    report = dry_run([folder], parse_dsn(accounts_db), Config())
    assert report.strategy is not None and report.strategy.startswith("clone")
    index = statement(report, "1_index.sql")
    assert [c["change"] for c in index.schema_changes] == ["index_created"]
    assert statement(report, "2_use.sql").rowcount == ROWS // 100
    assert checksum(accounts_db) == before
    with psycopg.connect(accounts_db) as con:
        left = con.execute(
            "SELECT count(*) FROM pg_database WHERE datname LIKE 'goex_clone_%'"
        ).fetchone()
    assert left == (0,)


def test_a_busy_database_is_cloned_by_dump_and_restore(accounts_db: str, tmp_path: Path) -> None:
    folder = migrations(tmp_path / "m", {"1.sql": "DELETE FROM accounts WHERE id < 100;"})
    with psycopg.connect(accounts_db) as other_session:
        other_session.execute("SELECT 1")
        report = dry_run([folder], parse_dsn(accounts_db), Config(), clone=True)
    assert report.strategy is not None and "pg_dump | pg_restore" in report.strategy
    assert any("other sessions" in note for note in report.notes)
    assert statement(report, "1.sql").rowcount == 99
    assert checksum(accounts_db)[0] is not None
    with psycopg.connect(accounts_db) as con:
        assert con.execute("SELECT count(*) FROM accounts").fetchone() == (ROWS,)


def test_a_refused_statement_stops_its_file_before_anything_runs(
    accounts_db: str, tmp_path: Path
) -> None:
    before = checksum(accounts_db)
    folder = migrations(
        tmp_path / "m",
        {"1.sql": "DELETE FROM accounts;\nCOPY accounts TO PROGRAM 'cat > /tmp/leak';"},
    )
    report = dry_run([folder], parse_dsn(accounts_db), Config())
    file = report.files[0]
    assert file.error is not None and file.error.rule == "dry-run-refused"
    assert file.error.line == 2
    assert all(s.duration_ms is None for s in file.statements)  # nothing ran
    assert checksum(accounts_db) == before


def test_duckdb_dry_run(tmp_path: Path) -> None:
    path = tmp_path / "app.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE items AS SELECT range AS id, 'x' AS name FROM range(1000)")
    folder = migrations(
        tmp_path / "m",
        {
            "001_add.sql": "ALTER TABLE items ADD COLUMN price DOUBLE;\n"
            "UPDATE items SET price = 1.5 WHERE id < 10;",
            "002_bad.sql": "UPDATE nowhere SET x = 1;",
            "003_never.sql": "DELETE FROM items;",
        },
    )
    report = dry_run([folder], parse_dsn(f"duckdb:{path}"), Config())
    assert [c["change"] for c in statement(report, "001_add.sql").schema_changes] == [
        "column_added"
    ]
    assert statement(report, "001_add.sql", 1).rowcount == 10
    bad = next(f for f in report.files if f.path.endswith("002_bad.sql"))
    assert bad.error is not None and bad.error.rule == "migration-error"
    assert any("003_never.sql: not run" in note for note in report.notes)
    with duckdb.connect(str(path), read_only=True) as con:
        columns = [r[0] for r in con.execute("DESCRIBE items").fetchall()]
        assert columns == ["id", "name"]
        assert con.execute("SELECT count(*) FROM items").fetchone() == (1000,)


def test_cli_exit_codes_and_formats(accounts_db: str, tmp_path: Path) -> None:
    clean = migrations(
        tmp_path / "clean",
        {"V1__x.sql": "SET lock_timeout = '1s';\nSELECT count(*) FROM accounts;"},
    )
    done = goex_db("dry-run", str(clean), "--dsn", accounts_db, "--format", "json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    report = report_from_json(done.stdout)
    assert report.tool == "dry-run" and report.files[0].statements[1].duration_ms is not None

    risky = migrations(
        tmp_path / "risky", {"V1__x.sql": "ALTER TABLE accounts ALTER COLUMN balance TYPE bigint;"}
    )
    out = tmp_path / "report.xml"
    done = goex_db(
        "dry-run", str(risky), "--dsn", accounts_db, "--format", "junit", "--output", str(out),
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 4, done.stderr  # changing-column-type is an error
    suite = ET.parse(out).getroot()
    assert suite.iter("testcase") and any(True for _ in suite.iter("failure"))
    done = goex_db(
        "dry-run", str(risky), "--dsn", accounts_db, "--fail-on", "never", "--format", "sarif",
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0
    sarif = json.loads(done.stdout)
    assert sarif["version"] == "2.1.0" and sarif["runs"][0]["results"]

    failing = migrations(tmp_path / "failing", {"V1__x.sql": "SELECT * FROM missing_table;"})
    done = goex_db("dry-run", str(failing), "--dsn", accounts_db, cwd=tmp_path)
    assert done.returncode == 1
    assert "missing_table" in done.stdout

    done = goex_db("dry-run", str(tmp_path / "nothing-here"), "--dsn", accounts_db, cwd=tmp_path)
    assert done.returncode == 2


FUNCTION = (
    "CREATE FUNCTION leak() RETURNS void LANGUAGE plpgsql AS $$ BEGIN "
    "EXECUTE 'COPY (SELECT 1) TO PROGRAM ''true'''; END $$;\nSELECT leak();"
)


def test_code_definitions_are_refused_unless_the_operator_allows_them(
    accounts_db: str, tmp_path: Path
) -> None:
    folder = migrations(tmp_path / "m", {"1.sql": FUNCTION})
    report = dry_run([folder], parse_dsn(accounts_db), Config())
    error = report.files[0].error
    assert error is not None and error.rule == "dry-run-refused"
    assert "server-side code" in error.message
    # A project's goex.toml (which an agent may write) cannot switch it on.
    (tmp_path / "goex.toml").write_text("[db]\ndry_run_code = true\n", encoding="utf-8")
    done = goex_db("dry-run", str(folder), "--dsn", accounts_db, cwd=tmp_path)
    assert done.returncode == 1 and "may only be set" in done.stderr


def test_the_operator_can_allow_code_definitions(accounts_db: str, tmp_path: Path) -> None:
    folder = migrations(
        tmp_path / "m",
        {"1.sql": "CREATE FUNCTION one() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;"},
    )
    config = Config(db=replace(Config().db, dry_run_code=True))
    report = dry_run([folder], parse_dsn(accounts_db), config)
    assert report.files[0].error is None
    assert report.files[0].statements[0].duration_ms is not None
    with psycopg.connect(accounts_db) as con:  # and still nothing is kept
        assert con.execute("SELECT count(*) FROM pg_proc WHERE proname = 'one'").fetchone() == (0,)
