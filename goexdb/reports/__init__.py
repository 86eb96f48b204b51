"""The report of ``goex-db lint`` and ``goex-db dry-run``: one model, five formats.

The model is ``goexdb.reports.model``; ``render(report, fmt)`` gives it as text, json, junit,
markdown or sarif (``ReportFormat``), and ``report_from_json`` reads the JSON back. Nothing
here imports the lint engine: SARIF describes rules from ``goexdb.lint.catalogue``.
"""

from __future__ import annotations

from goexdb.reports import junit, markdown, sarif, text
from goexdb.reports.model import (
    FailOn,
    FileReport,
    Finding,
    Report,
    ReportFormat,
    StatementReport,
    choose,
    describe_change,
    exit_code,
    measured,
    measurements,
    report_from_json,
    report_to_dict,
    report_to_json,
)


def render(report: Report, fmt: ReportFormat | str, *, color: bool = False) -> str:
    """The report in one of the ``ReportFormat`` formats (colour applies to text only)."""
    match choose(ReportFormat, fmt, "--format"):
        case ReportFormat.TEXT:
            return text.text(report, color=color)
        case ReportFormat.JSON:
            return report_to_json(report)
        case ReportFormat.JUNIT:
            return junit.junit(report)
        case ReportFormat.MARKDOWN:
            return markdown.markdown(report)
        case ReportFormat.SARIF:
            return sarif.sarif(report)


__all__ = [
    "FailOn",
    "FileReport",
    "Finding",
    "Report",
    "ReportFormat",
    "StatementReport",
    "describe_change",
    "exit_code",
    "measured",
    "measurements",
    "render",
    "report_from_json",
    "report_to_dict",
    "report_to_json",
]
