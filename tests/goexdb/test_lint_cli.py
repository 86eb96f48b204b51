"""goex-db lint: exit codes 0/4/2, formats, --output, goex.toml.

In process (Typer's runner) for speed; one test runs the real process for the error boundary.
"""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from goexdb.cli import app


@dataclass
class Done:
    returncode: int
    stdout: str


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "no-user-config"))
    migrations = tmp_path / "migrations"
    migrations.mkdir()
    (migrations / "V1__table.sql").write_text(
        "SET lock_timeout = '1s';\nSET statement_timeout = '5s';\n"
        "CREATE TABLE IF NOT EXISTS t (id bigint, name varchar(20));\n"
    )
    (migrations / "V2__index.sql").write_text("CREATE INDEX t_name ON t (name);\n")
    return tmp_path


def goex_lint(cwd: Path, *args: str) -> Done:
    assert Path.cwd() == cwd
    result = CliRunner().invoke(app, ["lint", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return Done(result.exit_code, result.stdout)


def test_findings_at_fail_on_level_exit_4_with_a_json_report(project: Path) -> None:
    done = goex_lint(project, "migrations", "--format", "json")
    assert done.returncode == 4, done.stderr
    report = json.loads(done.stdout)
    assert [Path(f["path"]).name for f in report["files"]] == ["V1__table.sql", "V2__index.sql"]
    rules = {
        f["rule"] for file in report["files"] for s in file["statements"] for f in s["findings"]
    }
    assert "require-concurrent-index-creation" in rules


def test_fail_on_never_exits_0_and_output_writes_the_file(project: Path) -> None:
    done = goex_lint(project, "migrations", "--fail-on", "never", "-f", "sarif", "-o", "out.sarif")
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    sarif = json.loads((project / "out.sarif").read_text())
    uris = {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        for r in sarif["runs"][0]["results"]
    }
    assert uris == {"migrations/V1__table.sql", "migrations/V2__index.sql"}


def test_goex_toml_regrades_and_the_pg_version_flag_counts(project: Path) -> None:
    (project / "goex.toml").write_text(
        '[lint.severity]\nrequire-concurrent-index-creation = "warning"\n'
    )
    done = goex_lint(project, "migrations/V2__index.sql", "--format", "junit")
    assert done.returncode == 0, done.stderr
    suite = ET.fromstring(done.stdout).find("testsuite")
    assert suite is not None and suite.get("tests") == "1" and suite.get("failures") == "1"
    (project / "old.sql").write_text("ALTER TABLE t ADD COLUMN f boolean DEFAULT false;\n")
    assert goex_lint(project, "old.sql", "--pg-version", "10").returncode == 4
    assert goex_lint(project, "old.sql", "--pg-version", "16").returncode == 0


@pytest.mark.parametrize("args", [["migrations", "-f", "html"], ["migrations", "--fail-on", "x"]])
def test_bad_flags_exit_2(project: Path, args: list[str]) -> None:
    assert goex_lint(project, *args).returncode == 2


def test_missing_path_is_a_one_sentence_usage_error_from_the_real_process(project: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "goexdb.cli", "lint", "migrations", "missing.sql"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    assert done.returncode == 2
    assert (done.stdout, done.stderr) == ("", "error: migration path missing.sql does not exist\n")
