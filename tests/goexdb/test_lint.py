"""Lint beyond single rules: configuration, goex:ignore, server versions, positions, files."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.config import LintConfig, load_config
from core.errors import ConfigError
from goexdb.lint import catalogue
from goexdb.lint.engine import LintOptions, lint_sql
from goexdb.migrations import lint

MIGRATION = """\
SET lock_timeout = '1s';
SET statement_timeout = '5s';
CREATE INDEX email_idx ON app_user (email);
DROP TABLE old_orders;
"""


def rules(sql: str, options: LintOptions | None = None) -> list[tuple[str, str, int]]:
    return [(f.rule, f.severity, f.line) for f in lint_sql(sql, "m.sql", options).findings()]


def test_findings_carry_rule_severity_position_and_help() -> None:
    findings = lint_sql(MIGRATION, "m.sql").findings()
    by_rule = {f.rule: f for f in findings}
    index = by_rule["require-concurrent-index-creation"]
    assert (index.severity, index.file, index.line, index.column) == ("error", "m.sql", 3, 1)
    assert "CONCURRENTLY" in index.help
    assert by_rule["ban-drop-table"].line == 4


def test_config_disables_and_regrades_rules(tmp_path: Path) -> None:
    (tmp_path / "goex.toml").write_text(
        '[lint]\ndisable = ["ban-drop-table"]\n'
        '[lint.severity]\nrequire-concurrent-index-creation = "warning"\n'
    )
    config = load_config(tmp_path, environ={})
    found = rules(MIGRATION, LintOptions.from_config(config.lint))
    assert ("require-concurrent-index-creation", "warning", 3) in found
    assert not any(rule == "ban-drop-table" for rule, _, _ in found)


def test_config_lint_thresholds_have_defaults_and_can_be_set(tmp_path: Path) -> None:
    assert load_config(tmp_path, environ={}).lint.max_exclusive_lock_ms == 1000
    (tmp_path / "goex.toml").write_text("[lint]\nmax_exclusive_lock_ms = 250\n")
    lint_config = load_config(tmp_path, environ={"GOEX_LINT_LARGE_TABLE_ROWS": "500"}).lint
    assert (lint_config.max_exclusive_lock_ms, lint_config.large_table_rows) == (250, 500)


@pytest.mark.parametrize(
    "toml",
    [
        '[lint]\ndisable = ["no-such-rule"]\n',
        '[lint.severity]\nno-such-rule = "error"\n',
    ],
)
def test_unknown_rule_in_config_is_a_config_error(tmp_path: Path, toml: str) -> None:
    (tmp_path / "goex.toml").write_text(toml)
    config = load_config(tmp_path, environ={})
    with pytest.raises(ConfigError, match="no-such-rule"):
        LintOptions.from_config(config.lint)


def test_bad_severity_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "goex.toml").write_text('[lint.severity]\nban-drop-table = "fatal"\n')
    with pytest.raises(ConfigError, match="error or warning"):
        load_config(tmp_path, environ={})


def test_goex_ignore_silences_the_named_rules_for_the_next_statement_only() -> None:
    sql = (
        "SET lock_timeout = '1s';\nSET statement_timeout = '5s';\n"
        "-- goex:ignore ban-drop-table, prefer-robust-stmts\n"
        "DROP TABLE a;\n"
        "DROP TABLE b;\n"
    )
    found = rules(sql)
    silenced = lint_sql(sql, "m.sql").statements[2].suppressed
    assert {f.rule for f in silenced} == {"ban-drop-table", "prefer-robust-stmts"}
    assert ("ban-drop-table", "error", 4) not in found
    assert ("ban-drop-table", "error", 5) in found
    assert ("prefer-robust-stmts", "warning", 4) not in found
    assert ("prefer-robust-stmts", "warning", 5) in found


def test_goex_ignore_inside_a_string_is_not_a_comment() -> None:
    sql = "SELECT '-- goex:ignore ban-drop-table';\nDROP TABLE a;\n"
    assert any(rule == "ban-drop-table" for rule, _, _ in rules(sql))


def test_constant_default_rewrites_only_before_postgresql_11() -> None:
    sql = "ALTER TABLE orders ADD COLUMN flag boolean DEFAULT false;\n"
    old = LintOptions(server_version=(10, 0))
    assert "adding-field-with-default" in {r for r, _, _ in rules(sql, old)}
    assert "adding-field-with-default" not in {r for r, _, _ in rules(sql)}
    volatile = "ALTER TABLE orders ADD COLUMN r float DEFAULT random();\n"
    assert "adding-field-with-default" in {r for r, _, _ in rules(volatile)}


def test_concurrent_options_are_not_demanded_of_servers_without_them() -> None:
    sql = "REINDEX TABLE t;\nALTER TABLE m DETACH PARTITION p;\n"
    assert {"require-concurrent-reindex", "require-concurrent-partition-detach"} <= {
        r for r, _, _ in rules(sql)
    }
    found = {r for r, _, _ in rules(sql, LintOptions(server_version=(11, 0)))}
    assert not {"require-concurrent-reindex", "require-concurrent-partition-detach"} & found


def test_a_statement_that_does_not_parse_does_not_stop_the_rest() -> None:
    sql = "SELECT FROM WHERE;\n\n  DROP TABLE a;\n"
    found = lint_sql(sql, "m.sql").findings()
    syntax = next(f for f in found if f.rule == "syntax-error")
    assert (syntax.line, syntax.column) == (1, 13)
    assert any(f.rule == "ban-drop-table" and (f.line, f.column) == (3, 3) for f in found)


def test_unterminated_string_makes_the_whole_file_a_syntax_error() -> None:
    report = lint_sql("DROP TABLE a;\nSELECT 'oops;\n", "m.sql")
    assert report.error is not None and report.error.rule == "syntax-error"
    assert report.statements == []


def test_lint_over_paths_orders_files_and_notes_disabled_rules(tmp_path: Path) -> None:
    (tmp_path / "V2__drop.sql").write_text("DROP TABLE a;\n")
    (tmp_path / "V1__make.sql").write_text("CREATE TABLE a (id bigint);\n")
    (tmp_path / "V1__make.down.sql").write_text("DROP TABLE a;\n")
    report = lint([tmp_path], LintConfig(disable=("prefer-robust-stmts",)), server_version=(16, 0))
    assert [Path(f.path).name for f in report.files] == ["V1__make.sql", "V2__drop.sql"]
    assert [f.rule for f in report.findings()] == ["ban-drop-table", "require-timeout-settings"]
    assert any("prefer-robust-stmts" in note for note in report.notes)


def test_undecodable_file_is_a_syntax_error_finding(tmp_path: Path) -> None:
    path = tmp_path / "1.sql"
    path.write_bytes(b"SELECT '\xff';\n")
    report = lint([path])
    assert [f.rule for f in report.findings()] == ["syntax-error"]


def test_every_rule_has_a_summary_help_and_severity() -> None:
    for info in catalogue():
        assert info.summary and info.help and info.severity in ("error", "warning")
        assert info.help_uri is None if not info.squawk else info.help_uri.startswith("https://")


def test_readme_documents_every_rule() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("## goex-db lint", 1)[1].split("\n## ", 1)[0]
    for info in catalogue():
        assert f"| `{info.id}` | {info.severity} |" in section, info.id


def test_goex_ignore_above_begin_silences_the_uncommitted_transaction() -> None:
    sql = "-- goex:ignore ban-uncommitted-transaction\nBEGIN;\nCREATE TABLE t (id bigint);\n"
    assert "ban-uncommitted-transaction" not in {r for r, _, _ in rules(sql)}
    assert "ban-uncommitted-transaction" in {r for r, _, _ in rules(sql.split("\n", 1)[1])}


SQLISH = st.lists(
    st.sampled_from(
        [
            "ALTER",
            "TABLE",
            "t",
            "ADD",
            "COLUMN",
            "DROP",
            "INDEX",
            "CREATE",
            "REINDEX",
            "BEGIN",
            "COMMIT",
            "DEFAULT",
            "random()",
            "NOT",
            "NULL",
            "CONCURRENTLY",
            "DETACH",
            "PARTITION",
            "TYPE",
            "VALUE",
            "'x'",
            '"q"',
            "(",
            ")",
            ",",
            ";",
            "--",
            "$$",
            "/*",
            "*/",
            "\n",
            "int",
        ]
    ),
    max_size=30,
).map(" ".join)


@settings(max_examples=150, deadline=None)
@given(st.one_of(SQLISH, st.text(max_size=80)))
def test_lint_never_crashes_on_any_text(sql: str) -> None:
    report = lint_sql(sql, "fuzz.sql")
    for finding in report.findings():
        assert finding.line >= 1 and finding.column >= 1


def test_column_findings_point_at_the_column() -> None:
    sql = "SELECT 1;\n  CREATE TABLE t (\n  id bigint,\n    name varchar(20), at timestamp\n);\n"
    found = {f.rule: (f.line, f.column) for f in lint_sql(sql, "m.sql").findings()}
    assert found["prefer-text-field"] == (4, 5)
    assert found["prefer-timestamptz"] == (4, 23)
    assert found["prefer-robust-stmts"] == (2, 3)  # about the statement: where it starts


def test_too_deeply_nested_statement_postgresql_parses_is_named_as_not_linted() -> None:
    sql = "SELECT " + "(" * 3000 + "1" + ")" * 3000 + ";\nDROP TABLE a;\n"
    found = lint_sql(sql, "deep.sql").findings()
    assert [(f.rule, f.line) for f in found][:1] == [("not-linted", 1)]
    assert "ban-drop-table" in {f.rule for f in found}


def test_valid_postgresql_18_sqlglot_cannot_read_is_no_syntax_error() -> None:
    sql = (
        "CREATE TABLE f (a int, hours numeric GENERATED ALWAYS AS (a / 60.0) VIRTUAL);\n"
        "INSERT INTO f OVERRIDING SYSTEM VALUE SELECT 1;\n"
        "SELECT FROM WHERE;\n"
    )
    found = {(f.rule, f.line) for f in lint_sql(sql, "pg18.sql").findings()}
    assert ("syntax-error", 3) in found
    assert not {f for f in found if f[0] == "syntax-error" and f[1] < 3}


def test_work_on_a_table_created_in_the_same_file_needs_no_timeouts() -> None:
    new = (
        "CREATE TABLE t (id bigint);\nCREATE INDEX i ON t (id);\nALTER TABLE t ADD COLUMN x text;\n"
    )
    assert "require-timeout-settings" not in {r for r, _, _ in rules(new)}
    old = new.replace("ON t", "ON old")
    assert ("require-timeout-settings", "warning", 2) in rules(old)
