"""The report of ``goex-db lint`` and ``goex-db dry-run``: one model, five formats.

A ``Report`` holds one ``FileReport`` per migration file and one ``StatementReport`` per
statement. Lint fills the static part (findings, positions, kinds); dry-run also fills what it
measured (durations, rows, locks held, rewrites, schema changes, errors), and every renderer
shows those when present. ``render(report, fmt)`` gives text, json, junit, markdown or sarif
(see ``goexdb.report_formats``); ``report_from_json`` reads the JSON back.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from core.errors import ExitCode, UsageError

Severity = Literal["error", "warning"]
FailOn = Literal["error", "warning", "never"]
FORMATS = ("text", "json", "junit", "markdown", "sarif")
FAIL_ON = ("error", "warning", "never")
_RANK = {"warning": 1, "error": 2}


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: str  # "error" | "warning"
    file: str
    line: int
    column: int
    message: str
    help: str

    def at_least(self, level: str) -> bool:
        """Whether the finding counts at ``--fail-on level`` (never: nothing counts)."""
        return level != "never" and _RANK.get(self.severity, 2) >= _RANK[level]


@dataclass
class StatementReport:
    sql: str
    line: int
    column: int
    kind: str
    findings: list[Finding] = field(default_factory=list)
    # Measured by dry-run; None / empty under lint.
    duration_ms: float | None = None
    rowcount: int | None = None
    locks: list[dict[str, Any]] = field(default_factory=list)  # {"relation", "mode", "held_ms"}
    rewrites: list[str] = field(default_factory=list)
    schema_changes: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    # Findings silenced by a goex:ignore comment: shown, never counted (added after the
    # measured fields so positional construction keeps the documented order).
    suppressed: list[Finding] = field(default_factory=list)


@dataclass
class FileReport:
    path: str
    statements: list[StatementReport] = field(default_factory=list)
    duration_ms: float | None = None
    # The migration failed to run (rule "migration-error") or could not be read or tokenised.
    error: Finding | None = None

    def findings(self) -> list[Finding]:
        found = [f for s in self.statements for f in s.findings]
        return [self.error, *found] if self.error is not None else found


@dataclass
class Report:
    tool: str  # "lint" | "dry-run"
    files: list[FileReport] = field(default_factory=list)
    target: str | None = None
    strategy: str | None = None  # e.g. "transaction (rolled back)" / "clone (file_copy)"
    notes: list[str] = field(default_factory=list)

    def findings(self) -> list[Finding]:
        """Every finding, file errors included, in file and statement order."""
        return [f for file in self.files for f in file.findings()]

    def suppressed(self) -> list[Finding]:
        """Findings silenced by goex:ignore comments."""
        return [f for file in self.files for s in file.statements for f in s.suppressed]

    def counts(self) -> dict[str, int]:
        found = self.findings()
        return {
            "files": len(self.files),
            "statements": sum(len(f.statements) for f in self.files),
            "errors": sum(1 for f in found if f.severity == "error"),
            "warnings": sum(1 for f in found if f.severity == "warning"),
            "suppressed": len(self.suppressed()),
        }


def exit_code(report: Report, fail_on: str = "error") -> ExitCode:
    """1 when a migration failed to run, else 4 when a finding is at or above ``fail_on``,
    else 0."""
    if fail_on not in FAIL_ON:
        raise UsageError(f"--fail-on must be one of {', '.join(FAIL_ON)}, not {fail_on!r}")
    if any(f.error is not None and f.error.rule == "migration-error" for f in report.files):
        return ExitCode.ERROR
    if any(f.at_least(fail_on) for f in report.findings()):
        return ExitCode.REJECTED
    return ExitCode.OK


def report_to_dict(report: Report) -> dict[str, Any]:
    data = asdict(report)
    data["summary"] = report.counts()
    return data


def report_from_json(text: str) -> Report:
    """The report a ``render(report, "json")`` produced."""
    data = json.loads(text)
    return Report(
        tool=data["tool"],
        files=[_file(f) for f in data["files"]],
        target=data.get("target"),
        strategy=data.get("strategy"),
        notes=list(data.get("notes", [])),
    )


def _file(data: Mapping[str, Any]) -> FileReport:
    error = data.get("error")
    return FileReport(
        path=data["path"],
        statements=[_statement(s) for s in data["statements"]],
        duration_ms=data.get("duration_ms"),
        error=Finding(**error) if error else None,
    )


def _statement(data: Mapping[str, Any]) -> StatementReport:
    values = dict(data)
    values["findings"] = [Finding(**f) for f in data.get("findings", [])]
    values["suppressed"] = [Finding(**f) for f in data.get("suppressed", [])]
    return StatementReport(**values)


def measured(statement: StatementReport) -> bool:
    """Whether dry-run measured anything for the statement."""
    return any(
        (
            statement.duration_ms is not None,
            statement.rowcount is not None,
            statement.locks,
            statement.rewrites,
            statement.schema_changes,
            statement.error,
        )
    )


def measurements(statement: StatementReport) -> Iterator[str]:
    """The measured facts of a statement as short lines, for the text formats."""
    if statement.error:
        yield f"error: {statement.error}"
    if statement.duration_ms is not None:
        yield f"took {statement.duration_ms:.1f} ms"
    if statement.rowcount is not None:
        yield f"{statement.rowcount} row(s) affected"
    for lock in statement.locks:
        held = lock.get("held_ms")
        until = f", held {held:.0f} ms" if isinstance(held, int | float) else ""
        yield f"lock {lock.get('mode')} on {lock.get('relation')}{until}"
    for table in statement.rewrites:
        yield f"rewrites {table}"
    for change in statement.schema_changes:
        yield f"schema: {describe_change(change)}"


def describe_change(change: Mapping[str, Any]) -> str:
    """A measured schema change in words: its values in order (``add_column orders note``)."""
    return " ".join(str(v) for v in change.values() if v is not None)


def render(report: Report, fmt: str, *, color: bool = False) -> str:
    """The report in one of ``FORMATS``."""
    from goexdb import report_formats

    renderers = {
        "text": lambda r: report_formats.text(r, color=color),
        "json": lambda r: json.dumps(report_to_dict(r), indent=2) + "\n",
        "junit": report_formats.junit,
        "markdown": report_formats.markdown,
        "sarif": report_formats.sarif,
    }
    if fmt not in renderers:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    return renderers[fmt](report)
