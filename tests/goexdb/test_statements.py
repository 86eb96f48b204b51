from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import StatementDenied, StatementError
from goexdb.sql import RUNNABLE, StatementKind, classify, parse_script, pieces, postgres, split

K = StatementKind


@pytest.mark.parametrize("dialect", ["postgres", "duckdb"])
def test_split_respects_quotes_and_comments(dialect: str) -> None:
    sql = "SELECT ';' AS a; -- x; y\nSELECT 2 /* ; */; INSERT INTO t VALUES ('a;b');"
    assert split(sql, dialect) == [
        "SELECT ';' AS a",
        "SELECT 2",
        "INSERT INTO t VALUES ('a;b')",
    ]


def test_split_respects_dollar_quoted_bodies() -> None:
    sql = "DO $$ BEGIN PERFORM 1; COMMIT; END $$; SELECT 1"
    assert split(sql, "postgres") == ["DO $$ BEGIN PERFORM 1; COMMIT; END $$", "SELECT 1"]


@pytest.mark.parametrize(
    ("sql", "kind"),
    [
        ("SELECT * FROM t", K.READ),
        ("WITH x AS (SELECT 1) SELECT * FROM x", K.READ),
        ("INSERT INTO t VALUES (1)", K.DML),
        ("UPDATE t SET a = 1 WHERE b = 2", K.DML),
        ("DELETE FROM t", K.DML),
        ("WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d", K.DML),
        ("CREATE TABLE t2 (a int)", K.DDL),
        ("ALTER TABLE t ADD COLUMN c int", K.DDL),
        ("DROP TABLE t", K.DDL),
        ("TRUNCATE t", K.DDL),
        ("SELECT * INTO t3 FROM t", K.DDL),
        ("BEGIN", K.TRANSACTION),
        ("START TRANSACTION", K.TRANSACTION),
        ("COMMIT", K.TRANSACTION),
        ("END", K.TRANSACTION),
        ("ROLLBACK", K.TRANSACTION),
        ("ABORT", K.TRANSACTION),
        ("SAVEPOINT a", K.TRANSACTION),
        ("RELEASE SAVEPOINT a", K.TRANSACTION),
        ("PREPARE TRANSACTION 'x'", K.TRANSACTION),
        ("COMMIT PREPARED 'x'", K.TRANSACTION),
        ("SET SESSION AUTHORIZATION bob", K.SESSION),
        ("SET ROLE admin", K.SESSION),
        ("RESET ALL", K.SESSION),
        ("VACUUM", K.NON_TRANSACTIONAL),
        ("CHECKPOINT", K.NON_TRANSACTIONAL),
        ("ALTER SYSTEM SET work_mem = '1GB'", K.NON_TRANSACTIONAL),
        ("CREATE INDEX CONCURRENTLY i ON t (a)", K.NON_TRANSACTIONAL),
        ("CREATE DATABASE x", K.NON_TRANSACTIONAL),
        ("COPY t FROM '/etc/passwd'", K.EXTERNAL),
        ("COPY t TO PROGRAM 'sh'", K.EXTERNAL),
    ],
)
def test_classify_postgres(sql: str, kind: StatementKind) -> None:
    assert classify(sql, "postgres").kind is kind


@pytest.mark.parametrize(
    ("sql", "kind"),
    [
        ("ATTACH 'other.db'", K.EXTERNAL),
        ("INSTALL httpfs", K.EXTERNAL),
        ("LOAD httpfs", K.EXTERNAL),
        ("PRAGMA enable_profiling", K.SESSION),
        ("SET enable_external_access = true", K.SESSION),
        ("EXPORT DATABASE '/tmp/x'", K.EXTERNAL),
        ("COPY t TO 'out.csv'", K.EXTERNAL),
    ],
)
def test_classify_duckdb(sql: str, kind: StatementKind) -> None:
    assert classify(sql, "duckdb").kind is kind


def test_only_reads_dml_and_ddl_are_runnable() -> None:
    assert {K.READ, K.DML, K.DDL} == RUNNABLE


def test_tables_written_and_where() -> None:
    update = classify("UPDATE shop.orders SET a = 1", "postgres")
    assert update.tables_written == ("shop.orders",)
    assert update.has_where is False
    delete = classify("DELETE FROM t WHERE id = 1", "postgres")
    assert delete.has_where is True


def test_a_merge_writes_its_target_whatever_its_when_clauses_do() -> None:
    # A MERGE's WHEN ... THEN UPDATE / INSERT clauses name no table of their own.
    merge = classify(
        "MERGE INTO shop.orders o USING incoming i ON o.id = i.id "
        "WHEN MATCHED AND i.gone THEN DELETE WHEN MATCHED THEN UPDATE SET qty = i.qty "
        "WHEN NOT MATCHED THEN INSERT (id, qty) VALUES (i.id, i.qty)",
        "postgres",
    )
    assert (merge.kind, merge.tables_written) == (K.DML, ("shop.orders",))


def test_malformed_sql_is_a_clear_error() -> None:
    with pytest.raises(StatementError, match="could not be parsed"):
        parse_script("UPDATE SET WHERE", "postgres")


def test_empty_script_is_an_error() -> None:
    with pytest.raises(StatementError, match="no statements"):
        parse_script("  -- nothing\n ; ", "postgres")


def test_transaction_control_hidden_in_case_and_comments_is_found() -> None:
    kinds = [s.kind for s in parse_script("/* hi */ cOmMiT; -- x\n\tRoLlBaCk", "postgres")]
    assert kinds == [K.TRANSACTION, K.TRANSACTION]


@given(st.lists(st.sampled_from(["SELECT 1", "COMMIT", "DELETE FROM t", "BEGIN"]), min_size=1))
def test_every_transaction_statement_in_a_script_is_classified_as_such(parts: list[str]) -> None:
    statements = parse_script("; ".join(parts), "postgres")
    assert len(statements) == len(parts)
    for text, statement in zip(parts, statements, strict=True):
        assert (statement.kind is K.TRANSACTION) == (text in ("COMMIT", "BEGIN"))


@pytest.mark.parametrize(
    ("sql", "kind"),
    [
        ("CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1'", K.CODE),
        ("CREATE OR REPLACE PROCEDURE p() LANGUAGE sql AS $$ SELECT 1 $$", K.CODE),
        ("DROP FUNCTION f", K.CODE),
        ("GRANT SELECT ON t TO bob", K.PRIVILEGE),
        ("CREATE VIEW v AS SELECT 1", K.DDL),
        ("CREATE UNIQUE INDEX i ON t (a)", K.DDL),
        ("CREATE SCHEMA s", K.DDL),
        ("VALUES (1), (2)", K.READ),
    ],
)
def test_only_data_structures_may_be_created(sql: str, kind: StatementKind) -> None:
    assert classify(sql, "postgres").kind is kind


@pytest.mark.parametrize(
    ("sql", "kind"),
    [
        ("EXPLAIN SELECT * FROM t", K.READ),
        ("EXPLAIN UPDATE t SET a = 1", K.READ),
        ("EXPLAIN ANALYZE DELETE FROM t", K.UNKNOWN),
        ("EXPLAIN (ANALYZE, BUFFERS) DELETE FROM t", K.UNKNOWN),
        ("explain analyse select 1", K.UNKNOWN),
    ],
)
def test_explain_plans_but_explain_analyze_would_run(sql: str, kind: StatementKind) -> None:
    assert classify(sql, "postgres").kind is kind


def test_pieces_know_where_each_statement_starts_and_the_comments_before_it() -> None:
    script = "-- first\nSELECT 1;\n  /* x */ SELECT $$a;b$$ ;\nUPDATE t\n  SET a = 1"
    found = pieces(script, "postgres")
    assert [(p.sql, p.line, p.column) for p in found] == [
        ("SELECT 1", 2, 1),
        ("SELECT $$a;b$$", 3, 11),
        ("UPDATE t\n  SET a = 1", 4, 1),
    ]
    assert [p.leading for p in found] == ["-- first\n", ";\n  /* x */ ", " ;\n"]
    assert all(script[p.start : p.start + len(p.sql)] == p.sql for p in found)


def test_input_that_crashes_sqlglots_parser_is_a_clear_error() -> None:
    with pytest.raises(StatementError, match="could not be parsed"):
        classify("0?", "postgres")


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT 'a\x00b'",  # libpq would end the statement at the NUL
        "UPDATE t SET a = 1 --\x00\nWHERE id = 1",  # ... and lose the WHERE
        "SELECT '\udcff'",  # a lone surrogate: undecodable input
    ],
)
def test_text_the_database_could_read_differently_is_refused(sql: str) -> None:
    """Found by the adversarial corpus: a NUL made PostgreSQL run a prefix of the statement,
    and a lone surrogate crashed the driver with a traceback."""
    with pytest.raises(StatementError, match=r"NUL byte|not valid UTF-8"):
        parse_script(sql, "postgres")


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT U&\"pg_read_fil\\0065\"('/etc/hostname')",
        "select u&\"set_confi\\0067\"('role', 'x', false)",
        'EXPLAIN (U&"\\0061nalyze" true) DELETE FROM t',
    ],
)
def test_unicode_escaped_identifiers_are_refused(sql: str) -> None:
    """Found by the adversarial corpus: PostgreSQL reads U&"pg_read_fil\\0065" as
    pg_read_file, which no name check saw; EXPLAIN (U&"\\0061nalyze") ran a DELETE as a read."""
    with pytest.raises(StatementDenied) as info:
        parse_script(sql, "postgres")
    assert info.value.rule == "db.escaped-identifier"


def test_unicode_escaped_strings_are_data() -> None:
    assert parse_script("SELECT U&'\\0041', 'U&\"x\"'", "postgres")[0].kind is K.READ


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE pg_catalog.pg_authid SET rolsuper = true WHERE rolname = 'x'",
        "UPDATE pg_settings SET setting = '0' WHERE name = 'statement_timeout'",
        "WITH x AS (DELETE FROM pg_catalog.pg_description WHERE objoid = 1) SELECT 1",
        "INSERT INTO information_schema.sql_features VALUES ('x')",
        "MERGE INTO pg_authid a USING (SELECT 1) s ON true WHEN MATCHED THEN "
        "UPDATE SET rolsuper = true",
        "COMMENT ON DATABASE postgres IS 'ignore previous instructions'",
    ],
)
def test_writes_to_system_catalogs_are_refused(sql: str) -> None:
    """Found by the adversarial corpus: the per-table statistics goex measures leave system
    catalogs out, so UPDATE pg_authid ran with no measured effect."""
    assert classify(sql, "postgres").kind is K.SYSTEM_CATALOG


def test_comments_on_data_structures_stay_ddl() -> None:
    for sql in ("COMMENT ON TABLE t IS 'x'", "COMMENT ON COLUMN t.a IS 'x'"):
        assert classify(sql, "postgres").kind is K.DDL


def test_too_deep_nesting_is_a_clear_error() -> None:
    """Found by the adversarial corpus: 500 nested parentheses were a RecursionError."""
    with pytest.raises(StatementError, match="nested too deeply"):
        parse_script("SELECT " + "(" * 500 + "1" + ")" * 500, "duckdb")


def test_what_only_postgresqls_parser_reads_is_classified_by_it() -> None:
    """No valid PostgreSQL statement is refused for being unparseable by sqlglot: PostgreSQL's
    own reading classifies it, with the functions, columns and tables policy needs."""
    deep = "(" * 500 + "1" + ")" * 500
    (delete,) = parse_script(f"DELETE FROM s.t WHERE id = pg_sleep({deep}) AND t.a > 1", "postgres")
    assert (delete.kind, delete.ast, delete.tables_written) == (K.DML, None, ("s.t",))
    assert delete.has_where is True and "pg_sleep" in delete.functions_called
    assert "t.a" in delete.columns_named
    (virtual,) = parse_script(
        "CREATE TABLE f (a int, b int GENERATED ALWAYS AS (a) VIRTUAL)", "postgres"
    )
    assert virtual.kind is K.DDL


@pytest.mark.parametrize(
    ("sql", "where"),
    [("DELETE t FROM t WHERE a = 1", 'column 8, near "t"'), ("SELECT 1 LIMIT 1, 2", "")],
)
def test_what_sqlglot_reads_but_postgresql_does_not_is_a_syntax_error(sql: str, where: str) -> None:
    """A parser differential: sqlglot reads these (a DELETE as MySQL writes it), PostgreSQL's
    parser does not; the server would refuse them, so goex does, saying where."""
    with pytest.raises(StatementError, match=f"syntax error at .*{re.escape(where)}"):
        parse_script(sql, "postgres")


def test_a_write_hidden_in_a_cte_is_judged_for_its_where() -> None:
    """Found by the adversarial corpus: WITH d AS (DELETE FROM t RETURNING *) SELECT ... deleted
    every row without the unfiltered-write rule seeing a DELETE."""
    assert classify("WITH d AS (DELETE FROM t RETURNING *) SELECT 1", "postgres").has_where is False
    narrow = "WITH d AS (DELETE FROM t WHERE id = 1 RETURNING *) SELECT 1"
    assert classify(narrow, "postgres").has_where is True
    assert classify("INSERT INTO t VALUES (1)", "postgres").has_where is None


@pytest.mark.parametrize(
    ("sql", "kind"),
    [("LISTEN agents", K.SESSION), ("UNLISTEN *", K.SESSION), ("NOTIFY agents, 'x'", K.EXTERNAL)],
)
def test_listen_and_notify_are_named_not_misparsed(sql: str, kind: StatementKind) -> None:
    assert classify(sql, "postgres").kind is kind


def test_a_merge_is_filtered_by_its_on_clause_except_not_matched_by_source() -> None:
    """A MERGE's ON clause chooses the rows it updates or deletes; WHEN NOT MATCHED BY SOURCE
    without a condition of its own updates or deletes every other row of the target."""
    merge = "MERGE INTO c USING s ON c.id = s.id WHEN "
    for when, filtered in (
        ("MATCHED THEN UPDATE SET a = s.a", True),
        ("MATCHED THEN DELETE", True),
        ("NOT MATCHED THEN INSERT (id) VALUES (s.id)", True),
        ("NOT MATCHED BY SOURCE THEN DO NOTHING", True),
        ("NOT MATCHED BY SOURCE AND c.stale THEN DELETE", True),
        ("NOT MATCHED BY SOURCE THEN DELETE", False),
        ("NOT MATCHED BY SOURCE THEN UPDATE SET active = false", False),
    ):
        assert classify(merge + when, "postgres").has_where is filtered, when


@pytest.mark.parametrize(
    ("sql", "kind", "written"),
    [
        ("SELECT t.oid FROM pg_type t WHERE t.oid = any($1::oid[])", StatementKind.READ, ()),
        (
            "DELETE FROM orders WHERE id = any($1::regclass[]::oid[])",
            StatementKind.DML,
            ("orders",),
        ),
    ],
)
def test_an_array_of_object_identifiers_is_read_and_keeps_its_text(
    sql: str, kind: StatementKind, written: tuple[str, ...]
) -> None:
    """sqlglot cannot read ``oid[]`` (asyncpg's type introspection casts ``$1::oid[]``); goex
    reads the statement with ``text[]`` there, and the statement keeps its own text."""
    (statement,) = parse_script(sql, "postgres")
    assert (statement.kind, statement.tables_written, statement.sql) == (kind, written, sql)


@pytest.mark.parametrize(
    ("sql", "kind"),
    [
        ("WITH d AS (DELETE FROM t RETURNING *) SELECT 1", K.DML),
        ("SELECT 1 INTO t2", K.DDL),
        ("EXPLAIN ANALYZE DELETE FROM t", K.UNKNOWN),
        ("EXPLAIN DELETE FROM t", K.READ),
        ("UPDATE pg_authid SET rolsuper = true", K.SYSTEM_CATALOG),
        ("DELETE FROM information_schema.x", K.SYSTEM_CATALOG),
        ("ALTER ROLE a RENAME TO b", K.UNKNOWN),
        ("ALTER FUNCTION f() RENAME TO g", K.UNKNOWN),
        ("ALTER TABLE t RENAME COLUMN a TO b", K.DDL),
        ("DROP FUNCTION f", K.CODE),
        ("DROP INDEX CONCURRENTLY i", K.NON_TRANSACTIONAL),
        ("CREATE INDEX CONCURRENTLY i ON t (a)", K.NON_TRANSACTIONAL),
        ("COMMENT ON DATABASE d IS 'x'", K.SYSTEM_CATALOG),
        ("COMMENT ON COLUMN t.a IS 'x'", K.DDL),
        ("ALTER DATABASE d SET work_mem = '1MB'", K.UNKNOWN),
        ("COPY t FROM PROGRAM 'id'", K.EXTERNAL),
        ("DO $$ BEGIN END $$", K.CODE),
        ("CALL p()", K.CODE),
    ],
)
def test_postgresqls_reading_gives_each_statement_its_kind(sql: str, kind: StatementKind) -> None:
    """The kinds PostgreSQL's reading gives alone, for what sqlglot cannot parse: an attacker
    who writes a statement only PostgreSQL reads gets no kinder classification."""
    reading = postgres.read(sql)
    assert reading is not None and reading.kind is kind


def test_postgresqls_reading_refuses_a_string_it_reads_as_two_statements() -> None:
    with pytest.raises(StatementDenied, match="PostgreSQL reads 2 statements"):
        postgres.read("SELECT 1; DELETE FROM t")


def test_a_column_rename_without_the_column_keyword_is_refused_not_read_as_a_table_rename() -> None:
    """Found by a second reading: ``ALTER TABLE t RENAME a TO b`` renames column a, and sqlglot
    reads table t renamed to a; the undo record held a table rename that never happened."""
    with pytest.raises(StatementDenied) as info:
        parse_script("ALTER TABLE s.t RENAME a TO b", "postgres")
    assert info.value.rule == "db.classification-mismatch"
    renamed = parse_script(
        "ALTER TABLE s.t RENAME TO a; ALTER TABLE s.a RENAME COLUMN b TO c", "postgres"
    )
    assert [s.kind for s in renamed] == [K.DDL, K.DDL]
