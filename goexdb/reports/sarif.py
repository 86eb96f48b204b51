"""The SARIF 2.1.0 format, for code scanning (GitHub uploads it with upload-sarif).

Rules are described from the lint catalogue (``goexdb.lint.catalogue``), which imports nothing
of the reports or the lint engine; a rule id it does not know is described by its first finding.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from core.policy import Severity
from goexdb.lint.catalogue import describe
from goexdb.reports.model import Finding, Report

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_IN_SOURCE = {"kind": "inSource", "justification": "a goex:ignore comment above the statement"}


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
        "level": "error" if finding.severity == Severity.ERROR else "warning",
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
