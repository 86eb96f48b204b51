"""The report formats other than JSON: rich text, JUnit XML, GitHub Markdown, SARIF 2.1.0.

Each takes a ``goexdb.reports.Report`` and returns the document as text. Measured facts (from
dry-run) are shown whenever they are present, so one set of renderers serves lint and dry-run.
"""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.text import Text

from goexdb.lint import describe
from goexdb.reports import (
    FileReport,
    Finding,
    Report,
    describe_change,
    measured,
    measurements,
)

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_STYLE = {"error": "red", "warning": "yellow"}
_IN_SOURCE = {"kind": "inSource", "justification": "a goex:ignore comment above the statement"}


def _title(report: Report) -> str:
    parts = [f"goex-db {report.tool}"]
    if report.target:
        parts.append(f"on {report.target}")
    if report.strategy:
        parts.append(f"· {report.strategy}")
    return " ".join(parts)


def _summary(report: Report) -> str:
    counts = report.counts()
    return (
        f"{counts['files']} file(s), {counts['statements']} statement(s): "
        f"{counts['errors']} error(s), {counts['warnings']} warning(s)"
        + (f", {counts['suppressed']} silenced by goex:ignore" if counts["suppressed"] else "")
    )


def _location(finding: Finding) -> str:
    return f"{finding.file}:{finding.line}:{finding.column}"


def _first_line(sql: str, width: int = 80) -> str:
    line = " ".join(sql.split())
    return line if len(line) <= width else line[: width - 1] + "…"


# --- text ------------------------------------------------------------------------------------


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
    console.print(Text(_title(report), style="bold"))
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
                Text(f"  {statement.line}:{statement.column} {_first_line(statement.sql)}")
            )
            for fact in measurements(statement):
                console.print(Text(f"      {fact}", style="cyan"))
            for finding in statement.findings:
                console.print(_finding_text(finding))
            for finding in statement.suppressed:
                console.print(Text(f"    silenced {_finding_line(finding)}", style="dim"))
        if not file.findings() and not any(measured(s) for s in file.statements):
            console.print(Text("  no findings", style="green"))
    console.print(Text(f"\n{_summary(report)}", style="bold"))
    return buffer.getvalue()


def _finding_text(finding: Finding) -> Text:
    line = Text("    ")
    line.append(f"{finding.severity} ", style=_STYLE.get(finding.severity, "red"))
    line.append(f"[{finding.rule}] ", style="bold")
    line.append(f"{_location(finding)} {finding.message}")
    if finding.help:
        line.append(f"\n      help: {finding.help}", style="dim")
    return line


# --- JUnit -----------------------------------------------------------------------------------


def junit(report: Report) -> str:
    """JUnit XML: one testcase per migration file; a file whose migration failed to run gets an
    <error>, a file with findings one <failure> listing them all (JUnit allows one per case)."""
    name = f"goex-db {report.tool}"
    suites = ET.Element("testsuites", name=name)
    suite = ET.SubElement(suites, "testsuite", name=name)
    failures = errors = 0
    total_ms = 0.0
    for file in report.files:
        case = ET.SubElement(suite, "testcase", name=file.path, classname=f"goex-db.{report.tool}")
        if file.duration_ms is not None:
            case.set("time", f"{file.duration_ms / 1000:.3f}")
            total_ms += file.duration_ms
        findings = [f for s in file.statements for f in s.findings]
        if file.error is not None:
            kind = "error" if file.error.rule == "migration-error" else "failure"
            errors += kind == "error"
            failures += kind == "failure"
            element = ET.SubElement(case, kind, message=file.error.message, type=file.error.rule)
            element.text = _finding_line(file.error)
        if findings and file.error is None:
            failures += 1
            worst = "error" if any(f.severity == "error" for f in findings) else "warning"
            failure = ET.SubElement(
                case, "failure", message=f"{len(findings)} finding(s)", type=worst
            )
            failure.text = "\n".join(_finding_line(f) for f in findings)
        elif findings:
            extra = ET.SubElement(case, "system-err")
            extra.text = "\n".join(_finding_line(f) for f in findings)
        facts = [
            f"{s.line}:{s.column} {_first_line(s.sql)}: {fact}"
            for s in file.statements
            for fact in measurements(s)
        ]
        facts += [f"silenced by goex:ignore: {_finding_line(f)}" for f in _suppressed(file)]
        if facts:
            ET.SubElement(case, "system-out").text = "\n".join(facts)
    for element in (suites, suite):
        element.set("tests", str(len(report.files)))
        element.set("failures", str(failures))
        element.set("errors", str(errors))
        element.set("time", f"{total_ms / 1000:.3f}")
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


def _finding_line(finding: Finding) -> str:
    help = f" (help: {finding.help})" if finding.help else ""
    return f"{_location(finding)} {finding.severity} [{finding.rule}] {finding.message}{help}"


# --- Markdown --------------------------------------------------------------------------------


def markdown(report: Report) -> str:
    """GitHub-flavoured Markdown, for a PR comment or $GITHUB_STEP_SUMMARY."""
    lines = [f"### {_md(_title(report))}", "", f"**{_summary(report)}**", ""]
    lines.extend(f"> {_md(note)}" for note in report.notes)
    if report.notes:
        lines.append("")
    for file in report.files:
        lines.extend(_markdown_file(file))
    return "\n".join(lines).rstrip() + "\n"


def _markdown_file(file: FileReport) -> list[str]:
    found = file.findings()
    mark = "❌" if any(f.severity == "error" for f in found) else "⚠️" if found else "✅"
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
                f"| {s.line} | `{_md(_first_line(s.sql, 60))}` | "
                f"{'' if s.duration_ms is None else f'{s.duration_ms:.1f}'} | "
                f"{'' if s.rowcount is None else s.rowcount} | {_md(locks)} | "
                f"{_md(', '.join(s.rewrites))} | {_md('; '.join(other))} |"
            )
        lines.append("")
    silenced = _suppressed(file)
    if silenced:
        lines += ["Silenced by `goex:ignore`:", ""]
        lines += [f"- `{f.rule}` at {f.line}:{f.column}: {_md(f.message)}" for f in silenced]
        lines.append("")
    if not found and not rows and not silenced:
        lines += ["no findings", ""]
    return lines


def _suppressed(file: FileReport) -> list[Finding]:
    return [f for s in file.statements for f in s.suppressed]


def _md(value: str) -> str:
    """Text safe inside a Markdown table cell: no pipes, no line breaks, no raw HTML."""
    return (
        value.replace("\\", "\\\\")
        .replace("|", "\\|")
        .replace("<", "&lt;")
        .replace("\n", " ")
        .replace("`", "'")
    )


# --- SARIF -----------------------------------------------------------------------------------


def sarif(report: Report, *, base: Path | None = None) -> str:
    """SARIF 2.1.0 for code scanning; file URIs are relative to ``base`` (the working
    directory) when the file is under it."""
    base = (base or Path.cwd()).resolve()
    shown, silenced = report.findings(), report.suppressed()
    found = shown + silenced
    rule_ids = sorted({f.rule for f in found})
    index = {rule_id: i for i, rule_id in enumerate(rule_ids)}
    document: dict[str, Any] = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "goex-db",
                        "rules": [_sarif_rule(rule_id, found) for rule_id in rule_ids],
                    }
                },
                "results": [_sarif_result(f, index[f.rule], base) for f in shown]
                + [
                    {**_sarif_result(f, index[f.rule], base), "suppressions": [_IN_SOURCE]}
                    for f in silenced
                ],
            }
        ],
    }
    return json.dumps(document, indent=2) + "\n"


def _sarif_rule(rule_id: str, found: list[Finding]) -> dict[str, Any]:
    info = describe(rule_id)
    example = next(f for f in found if f.rule == rule_id)
    summary = info.summary if info else example.message
    rule: dict[str, Any] = {
        "id": rule_id,
        "name": rule_id,
        "shortDescription": {"text": summary},
        "help": {"text": info.help if info else example.help},
        "defaultConfiguration": {"level": info.severity if info else example.severity},
    }
    if info and info.help_uri:
        rule["helpUri"] = info.help_uri
    return rule


def _sarif_result(finding: Finding, rule_index: int, base: Path) -> dict[str, Any]:
    return {
        "ruleId": finding.rule,
        "ruleIndex": rule_index,
        "level": "error" if finding.severity == "error" else "warning",
        "message": {"text": finding.message + (f" (help: {finding.help})" if finding.help else "")},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": _uri(finding.file, base)},
                    "region": {
                        "startLine": max(finding.line, 1),
                        "startColumn": max(finding.column, 1),
                    },
                }
            }
        ],
    }


def _uri(file: str, base: Path) -> str:
    """Relative to the repository (the working directory) when under it, else a file: URI."""
    resolved = Path(file).resolve()
    if resolved.is_relative_to(base):
        return resolved.relative_to(base).as_posix()
    return resolved.as_uri()
