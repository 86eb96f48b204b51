"""goex-db lint and dry-run: migrations checked statically, or run and measured, for CI."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from core.config import load_config
from core.errors import UsageError
from goexdb.cli.options import clone_progress
from goexdb.dsn import parse_dsn
from goexdb.migrations import dry_run, lint
from goexdb.reports import FailOn, Report, ReportFormat, exit_code, render

MigrationPaths = Annotated[
    list[Path], typer.Argument(help="migration .sql files or directories of them")
]
ReportFormatOption = Annotated[
    ReportFormat, typer.Option("--format", "-f", help="text, json, junit, markdown or sarif")
]
OutputOption = Annotated[
    Path | None, typer.Option("--output", "-o", help="write the report here, not stdout")
]
FailOnOption = Annotated[
    FailOn, typer.Option("--fail-on", help="exit 4 on findings at this level or above")
]


def lint_command(
    paths: MigrationPaths,
    fmt: ReportFormatOption = ReportFormat.TEXT,
    output: OutputOption = None,
    fail_on: FailOnOption = FailOn.ERROR,
    pg_version: Annotated[
        int | None,
        typer.Option("--pg-version", min=9, help="PostgreSQL major version (default: newest)"),
    ] = None,
) -> None:
    """Check migrations statically, without a database. Exit codes: 0 clean at the --fail-on
    level, 4 findings at or above it, 2 usage."""
    config = load_config()
    report = lint(paths, config.lint, server_version=(pg_version, 0) if pg_version else None)
    write_report(report, fmt, output)
    raise typer.Exit(int(exit_code(report, fail_on)))


def dry_run_command(
    paths: MigrationPaths,
    dsn: Annotated[
        str | None,
        typer.Option(help="the database to measure against (default: GOEX_DSN, DATABASE_URL)"),
    ] = None,
    clone: Annotated[
        bool, typer.Option("--clone", help="run on a clone, each file committed there")
    ] = False,
    fmt: ReportFormatOption = ReportFormat.TEXT,
    output: OutputOption = None,
    fail_on: FailOnOption = FailOn.ERROR,
) -> None:
    """Run migrations against a database in a transaction that is always rolled back (or on a
    clone that is dropped), measure every statement, and report with the lint findings. Exit
    codes: 0 clean at the --fail-on level, 1 a migration failed to run, 4 findings at or above
    it, 2 usage."""
    config = load_config()
    progress = clone_progress()
    report = dry_run(paths, parse_dsn(dsn), config, clone=clone, progress=progress)
    write_report(report, fmt, output)
    raise typer.Exit(int(exit_code(report, fail_on)))


def write_report(report: Report, fmt: ReportFormat, output: Path | None) -> None:
    """The report to ``output`` (a file) or stdout, in colour only on a terminal."""
    if output is None:
        color = fmt is ReportFormat.TEXT and sys.stdout.isatty() and not os.environ.get("NO_COLOR")
        sys.stdout.write(render(report, fmt, color=color))
        return
    try:
        output.write_text(render(report, fmt), encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write --output {output}: {exc.strerror}") from None
