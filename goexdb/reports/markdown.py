"""The Markdown format (GitHub-flavoured), for a PR comment or $GITHUB_STEP_SUMMARY."""

from __future__ import annotations

from core.policy import Severity
from goexdb.reports.model import FileReport, Report, describe_change, measured
from goexdb.reports.text import first_line, summary, title


def markdown(report: Report) -> str:
    """GitHub-flavoured Markdown, for a PR comment or $GITHUB_STEP_SUMMARY."""
    lines = [f"### {_md(title(report))}", "", f"**{summary(report)}**", ""]
    lines.extend(f"> {_md(note)}" for note in report.notes)
    if report.notes:
        lines.append("")
    for file in report.files:
        lines.extend(_markdown_file(file))
    return "\n".join(lines).rstrip() + "\n"


def _markdown_file(file: FileReport) -> list[str]:
    found = file.findings()
    mark = "❌" if any(f.severity == Severity.ERROR for f in found) else "⚠️" if found else "✅"
    duration = f" — {file.duration_ms:.0f} ms" if file.duration_ms is not None else ""
    lines = [f"#### {mark} `{file.path}`{duration}", ""]
    if found:
        lines += ["| severity | rule | line | message | help |", "|---|---|---|---|---|"]
        lines += [
            f"| {f.severity} | `{f.rule}` | {f.line}:{f.column} | {_md(f.message)} | "
            f"{_md(f.help)} |"
            for f in found
        ]
        lines.append("")
    rows = [s for s in file.statements if measured(s)]
    if rows:
        lines += ["| line | statement | ms | rows | locks (held ms) | rewrites | schema / error |"]
        lines += ["|---|---|---|---|---|---|---|"]
        for s in rows:
            locks = ", ".join(
                f"{lock.get('mode')} {lock.get('relation')}"
                + (f" ({lock['held_ms']:.0f})" if lock.get("held_ms") is not None else "")
                for lock in s.locks
            )
            other = [describe_change(c) for c in s.schema_changes]
            if s.error:
                other.append(f"error: {s.error}")
            lines.append(
                f"| {s.line} | `{_md(first_line(s.sql, 60))}` | "
                f"{'' if s.duration_ms is None else f'{s.duration_ms:.1f}'} | "
                f"{'' if s.rowcount is None else s.rowcount} | {_md(locks)} | "
                f"{_md(', '.join(s.rewrites))} | {_md('; '.join(other))} |"
            )
        lines.append("")
    silenced = file.suppressed()
    if silenced:
        lines += ["Silenced by `goex:ignore`:", ""]
        lines += [f"- `{f.rule}` at {f.line}:{f.column}: {_md(f.message)}" for f in silenced]
        lines.append("")
    if not found and not rows and not silenced:
        lines += ["no findings", ""]
    return lines


def _md(value: str) -> str:
    """Text safe inside a Markdown table cell: no pipes, no line breaks, no raw HTML."""
    return (
        value.replace("\\", "\\\\")
        .replace("|", "\\|")
        .replace("<", "&lt;")
        .replace("\n", " ")
        .replace("`", "'")
    )
