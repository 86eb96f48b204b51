"""goex-db lint over the migrations a path names: each file, in the order a tool applies them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from core.config import LintConfig
from goexdb.lint.engine import LintOptions, lint_file
from goexdb.migrations.discover import discover
from goexdb.reports.model import Report


def lint(
    paths: Sequence[Path],
    config: LintConfig | None = None,
    *,
    server_version: tuple[int, int] | None = None,
) -> Report:
    """Lint the migrations under ``paths`` (see ``goexdb.migrations.discover``)."""
    options = LintOptions.from_config(config or LintConfig(), server_version)
    files = [lint_file(path, options) for path in discover(paths)]
    notes = []
    if options.disabled:
        notes.append(f"rules disabled by configuration: {', '.join(sorted(options.disabled))}")
    if server_version is not None:
        notes.append(f"checked for PostgreSQL {server_version[0]}")
    return Report(tool="lint", files=files, notes=notes)
