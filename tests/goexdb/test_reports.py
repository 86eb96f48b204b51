"""The report model and its five formats, for a lint-like and a dry-run-like report."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from core.errors import ExitCode, UsageError
from goexdb.lint.engine import lint_sql
from goexdb.reports import (
    FileReport,
    Finding,
    Report,
    StatementReport,
    exit_code,
    render,
    report_from_json,
)
from goexdb.reports.sarif import sarif


def dry_run_report(base: Path) -> Report:
    """Two files as dry-run would report them: one with a measured rewrite and a lint finding
    whose message has Markdown and XML metacharacters, one that failed to run."""
    first = str(base / "migrations" / "V1__retype.sql")
    finding = Finding(
        "changing-column-type",
        "error",
        first,
        3,
        5,
        "changing the type of column <id> | rewrites",
        "add a new column",
    )
    retype = StatementReport(
        "ALTER TABLE orders ALTER COLUMN id TYPE bigint",
        3,
        5,
        "ddl",
        [finding],
        duration_ms=812.5,
        rowcount=None,
        locks=[{"relation": "orders", "mode": "AccessExclusiveLock", "held_ms": 901.0}],
        rewrites=["orders"],
        schema_changes=[{"change": "column_type", "table": "orders", "name": "id"}],
    )
    update = StatementReport("UPDATE orders SET qty = 0", 5, 1, "dml", [], 12.0, 100000)
    second = str(base / "migrations" / "V2__broken.sql")
    failed = Finding("migration-error", "error", second, 1, 8, 'relation "nope" does not exist', "")
    broken = StatementReport("DROP TABLE nope", 1, 1, "ddl", [], error=failed.message)
    return Report(
        tool="dry-run",
        files=[
            FileReport(first, [retype, update], duration_ms=830.0),
            FileReport(second, [broken], error=failed),
        ],
        target="postgresql://ci@localhost/shop",
        strategy="transaction (rolled back)",
        notes=["a note"],
    )


def lint_report() -> Report:
    sql = (
        "SET lock_timeout='1s';\nSET statement_timeout='1s';\nCREATE TABLE t (a varchar(9));\n"
        "-- goex:ignore prefer-bigint-over-int\nCREATE TABLE u (a int);\n"
    )
    return Report("lint", [lint_sql(sql, "V1__t.sql"), lint_sql("SELECT 1;\n", "V2__ok.sql")])


@pytest.mark.parametrize("make", [lint_report, lambda: dry_run_report(Path.cwd())])
def test_json_round_trips(make: object) -> None:
    report = make()  # type: ignore[operator]
    text = render(report, "json")
    assert report_from_json(text) == report
    assert json.loads(text)["summary"]["files"] == len(report.files)


def test_junit_has_a_testcase_per_file_with_failures_and_errors(tmp_path: Path) -> None:
    report = dry_run_report(tmp_path)
    root = ET.fromstring(render(report, "junit"))
    suite = root.find("testsuite")
    assert suite is not None
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == [f.path for f in report.files]
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("2", "1", "1")
    failure = cases[0].find("failure")
    assert failure is not None and "changing-column-type" in (failure.text or "")
    assert "<id>" in (failure.text or "")  # escaped on the way out, intact on the way in
    out = cases[0].findtext("system-out") or ""
    assert "AccessExclusiveLock on orders, held 901 ms" in out and "rewrites orders" in out
    assert "100000 row(s)" in out
    assert cases[0].get("time") == "0.830"
    error = cases[1].find("error")
    assert error is not None and error.get("type") == "migration-error"


def test_junit_of_a_clean_lint_has_no_failures() -> None:
    clean = Report("lint", [lint_sql("SELECT 1;\n", "ok.sql")])
    suite = ET.fromstring(render(clean, "junit")).find("testsuite")
    assert suite is not None and suite.get("failures") == "0"
    assert suite.find("testcase/failure") is None


def test_sarif_has_the_required_fields_and_relative_regions(tmp_path: Path) -> None:
    report = dry_run_report(tmp_path)
    document = json.loads(sarif(report, base=tmp_path))
    assert document["version"] == "2.1.0" and "sarif-2.1.0" in document["$schema"]
    (run,) = document["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "goex-db"
    rules = {r["id"]: r for r in driver["rules"]}
    assert set(rules) == {"changing-column-type", "migration-error"}
    for rule in rules.values():
        assert rule["shortDescription"]["text"] and rule["help"]["text"]
        assert rule["defaultConfiguration"]["level"] in ("error", "warning")
    assert rules["changing-column-type"]["helpUri"].startswith("https://squawkhq.com/")
    assert "helpUri" not in rules["migration-error"]  # goex's own rule: no invented address
    results = run["results"]
    assert [r["ruleId"] for r in results] == ["changing-column-type", "migration-error"]
    for result in results:
        assert driver["rules"][result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["level"] == "error" and result["message"]["text"]
    location = results[0]["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "migrations/V1__retype.sql"
    assert location["region"] == {"startLine": 3, "startColumn": 5}


def test_sarif_of_a_file_outside_the_repository_is_a_file_uri(tmp_path: Path) -> None:
    report = dry_run_report(tmp_path / "elsewhere")
    document = json.loads(sarif(report, base=tmp_path / "repo"))
    uri = document["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
    assert uri["artifactLocation"]["uri"].startswith("file:///")


def test_markdown_lists_findings_and_measurements_safely(tmp_path: Path) -> None:
    report = dry_run_report(tmp_path)
    text = render(report, "markdown")
    assert "`changing-column-type`" in text and "`migration-error`" in text
    assert "changing the type of column &lt;id> \\| rewrites" in text  # no broken table
    assert "AccessExclusiveLock orders (901)" in text and "| orders |" in text
    assert 'relation "nope" does not exist' in text
    assert "1 error(s)" not in text and "2 error(s)" in text


def test_text_shows_findings_help_and_measurements(tmp_path: Path) -> None:
    text = render(dry_run_report(tmp_path), "text")
    assert "error [changing-column-type]" in text and "help: add a new column" in text
    assert "lock AccessExclusiveLock on orders, held 901 ms" in text
    assert "took 812.5 ms" in text and "transaction (rolled back)" in text
    assert "\x1b[" not in text  # no colour unless asked


def test_lint_report_formats_show_the_finding() -> None:
    report = lint_report()
    for fmt in ("text", "markdown", "junit"):
        assert "prefer-text-field" in render(report, fmt)


def test_unknown_format_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        render(lint_report(), "html")


def test_exit_codes(tmp_path: Path) -> None:
    failed = dry_run_report(tmp_path)
    assert exit_code(failed, "never") == ExitCode.ERROR  # a migration failed to run
    warnings_only = lint_report()
    assert {f.severity for f in warnings_only.findings()} == {"warning"}
    assert exit_code(warnings_only, "error") == ExitCode.OK
    assert exit_code(warnings_only, "warning") == ExitCode.REJECTED
    assert exit_code(warnings_only, "never") == ExitCode.OK
    errors = Report("lint", [lint_sql("DROP TABLE a;\n", "a.sql")])
    assert exit_code(errors, "error") == ExitCode.REJECTED
    with pytest.raises(UsageError):
        exit_code(errors, "sometimes")


def test_silenced_findings_are_shown_but_not_counted() -> None:
    report = lint_report()
    assert [f.rule for f in report.suppressed()] == ["prefer-bigint-over-int"]
    assert "prefer-bigint-over-int" not in {f.rule for f in report.findings()}
    assert "1 silenced by goex:ignore" in render(report, "text")
    assert "Silenced by `goex:ignore`" in render(report, "markdown")
    results = json.loads(render(report, "sarif"))["runs"][0]["results"]
    silenced = [r for r in results if r["ruleId"] == "prefer-bigint-over-int"]
    assert silenced and silenced[0]["suppressions"][0]["kind"] == "inSource"
    assert all("suppressions" not in r for r in results if r["ruleId"] != "prefer-bigint-over-int")


def test_reports_import_without_the_lint_engine_and_describe_every_rule_id() -> None:
    """The formats describe rules from the catalogue alone (no import cycle through the engine),
    and the catalogue knows dry-run's measured ids without dry-run being imported."""
    code = (
        "import sys, goexdb.reports\n"
        "from goexdb.lint import describe\n"
        "assert 'goexdb.lint.engine' not in sys.modules, 'engine imported'\n"
        "assert not any(m.startswith('goexdb.migrations') for m in sys.modules), 'migrations'\n"
        "for rule in ('syntax-error', 'migration-error', 'long-exclusive-lock',\n"
        "             'large-table-rewrite', 'dry-run-refused', 'ban-drop-table'):\n"
        "    assert describe(rule) is not None, rule\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
