"""The report of ``goex-db lint`` and ``goex-db dry-run``: one model for five formats.

A ``Report`` holds one ``FileReport`` per migration file and one ``StatementReport`` per
statement. Lint fills the static part (findings, positions, kinds); dry-run also fills what it
measured (durations, rows, locks held, rewrites, schema changes, errors), and every format
shows those when present. ``report_to_json`` writes the JSON format and ``report_from_json``
reads it back. Severities are ``core.policy.Severity`` (only ERROR and WARNING occur here).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

from core.errors import ExitCode, UsageError
from core.policy import Severity


class ReportFormat(StrEnum):
    TEXT = "text"
    JSON = "json"
    JUNIT = "junit"
    MARKDOWN = "markdown"
    SARIF = "sarif"


class FailOn(StrEnum):
    """The lowest severity that fails the run (exit 4); NEVER: findings never fail it."""

    ERROR = "error"
    WARNING = "warning"
    NEVER = "never"


_RANK = {Severity.WARNING: 1, Severity.ERROR: 2}
_THRESHOLD = {FailOn.WARNING: 1, FailOn.ERROR: 2, FailOn.NEVER: 3}  # NEVER: above every rank
_Choice = TypeVar("_Choice", bound=StrEnum)


def choose(kind: type[_Choice], value: str, option: str) -> _Choice:
    """``value`` as a member of ``kind``; anything else is a usage error naming ``option``."""
    try:
        return kind(value)
    except ValueError:
        raise UsageError(f"{option} must be one of {', '.join(kind)}, not {value!r}") from None


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: Severity  # ERROR or WARNING
    file: str
    line: int
    column: int
    message: str
    help: str

    def at_least(self, level: FailOn) -> bool:
        """Whether the finding counts at ``--fail-on level`` (never: nothing counts)."""
        return _RANK.get(self.severity, 2) >= _THRESHOLD[level]


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

    def suppressed(self) -> list[Finding]:
        """Findings silenced by goex:ignore comments."""
        return [f for s in self.statements for f in s.suppressed]


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
        return [f for file in self.files for f in file.suppressed()]

    def counts(self) -> dict[str, int]:
        found = self.findings()
        return {
            "files": len(self.files),
            "statements": sum(len(f.statements) for f in self.files),
            "errors": sum(1 for f in found if f.severity == Severity.ERROR),
            "warnings": sum(1 for f in found if f.severity == Severity.WARNING),
            "suppressed": len(self.suppressed()),
        }


def exit_code(report: Report, fail_on: FailOn | str = FailOn.ERROR) -> ExitCode:
    """1 when a migration failed to run, else 4 when a finding is at or above ``fail_on``,
    else 0."""
    level = choose(FailOn, fail_on, "--fail-on")
    if any(f.error is not None and f.error.rule == "migration-error" for f in report.files):
        return ExitCode.ERROR
    if any(f.at_least(level) for f in report.findings()):
        return ExitCode.REJECTED
    return ExitCode.OK


def report_to_dict(report: Report) -> dict[str, Any]:
    data = asdict(report)
    data["summary"] = report.counts()
    return data


def report_to_json(report: Report) -> str:
    """The JSON format: the model as it is, with a summary of the counts."""
    return json.dumps(report_to_dict(report), indent=2) + "\n"


def report_from_json(text: str) -> Report:
    """The report a ``render(report, "json")`` (``report_to_json``) produced."""
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
        error=_finding(error) if error else None,
    )


def _statement(data: Mapping[str, Any]) -> StatementReport:
    values = dict(data)
    values["findings"] = [_finding(f) for f in data.get("findings", [])]
    values["suppressed"] = [_finding(f) for f in data.get("suppressed", [])]
    return StatementReport(**values)


def _finding(data: Mapping[str, Any]) -> Finding:
    return Finding(**{**data, "severity": Severity(data["severity"])})


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
