"""The text format (rich, colour only when asked for), and the wording the other text-like
formats (JUnit, Markdown) share with it: title, summary, a finding on one line.

Measured facts (from dry-run) are shown whenever they are present, so one set of formats
serves lint and dry-run.
"""

from __future__ import annotations

import io

from rich.console import Console
from rich.text import Text

from core.policy import Severity
from goexdb.reports.model import Finding, Report, measured, measurements

_STYLE = {Severity.ERROR: "red", Severity.WARNING: "yellow"}


def title(report: Report) -> str:
    parts = [f"goex-db {report.tool}"]
    if report.target:
        parts.append(f"on {report.target}")
    if report.strategy:
        parts.append(f"· {report.strategy}")
    return " ".join(parts)


def summary(report: Report) -> str:
    counts = report.counts()
    return (
        f"{counts['files']} file(s), {counts['statements']} statement(s): "
        f"{counts['errors']} error(s), {counts['warnings']} warning(s)"
        + (f", {counts['suppressed']} silenced by goex:ignore" if counts["suppressed"] else "")
    )


def location(finding: Finding) -> str:
    return f"{finding.file}:{finding.line}:{finding.column}"


def first_line(sql: str, width: int = 80) -> str:
    line = " ".join(sql.split())
    return line if len(line) <= width else line[: width - 1] + "…"


def finding_line(finding: Finding) -> str:
    help = f" (help: {finding.help})" if finding.help else ""
    return f"{location(finding)} {finding.severity} [{finding.rule}] {finding.message}{help}"


def text(report: Report, *, color: bool = False) -> str:
    """Human-readable text, rendered with rich (colour only when asked for)."""
    buffer = io.StringIO()
    console = Console(
        file=buffer,
        force_terminal=color,
        no_color=not color,
        width=120,
        highlight=False,
        soft_wrap=True,
    )
    console.print(Text(title(report), style="bold"))
    for note in report.notes:
        console.print(Text(f"note: {note}", style="dim"))
    for file in report.files:
        duration = f" ({file.duration_ms:.0f} ms)" if file.duration_ms is not None else ""
        console.print(Text(f"\n{file.path}{duration}", style="bold"))
        if file.error is not None:
            console.print(_finding_text(file.error))
        for statement in file.statements:
            if not statement.findings and not statement.suppressed and not measured(statement):
                continue
            console.print(
                Text(f"  {statement.line}:{statement.column} {first_line(statement.sql)}")
            )
            for fact in measurements(statement):
                console.print(Text(f"      {fact}", style="cyan"))
            for finding in statement.findings:
                console.print(_finding_text(finding))
            for finding in statement.suppressed:
                console.print(Text(f"    silenced {finding_line(finding)}", style="dim"))
        if not file.findings() and not any(measured(s) for s in file.statements):
            console.print(Text("  no findings", style="green"))
    console.print(Text(f"\n{summary(report)}", style="bold"))
    return buffer.getvalue()


def _finding_text(finding: Finding) -> Text:
    line = Text("    ")
    line.append(f"{finding.severity} ", style=_STYLE.get(finding.severity, "red"))
    line.append(f"[{finding.rule}] ", style="bold")
    line.append(f"{location(finding)} {finding.message}")
    if finding.help:
        line.append(f"\n      help: {finding.help}", style="dim")
    return line
