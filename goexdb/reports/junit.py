"""The JUnit XML format: one testcase per migration file, for CI test reporters."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from core.policy import Severity
from goexdb.reports.model import Report, measurements
from goexdb.reports.text import finding_line, first_line


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
            element.text = finding_line(file.error)
        if findings and file.error is None:
            failures += 1
            worst = (
                Severity.ERROR
                if any(f.severity == Severity.ERROR for f in findings)
                else Severity.WARNING
            )
            failure = ET.SubElement(
                case, "failure", message=f"{len(findings)} finding(s)", type=worst
            )
            failure.text = "\n".join(finding_line(f) for f in findings)
        elif findings:
            extra = ET.SubElement(case, "system-err")
            extra.text = "\n".join(finding_line(f) for f in findings)
        facts = [
            f"{s.line}:{s.column} {first_line(s.sql)}: {fact}"
            for s in file.statements
            for fact in measurements(s)
        ]
        facts += [f"silenced by goex:ignore: {finding_line(f)}" for f in file.suppressed()]
        if facts:
            ET.SubElement(case, "system-out").text = "\n".join(facts)
    for element in (suites, suite):
        element.set("tests", str(len(report.files)))
        element.set("failures", str(failures))
        element.set("errors", str(errors))
        element.set("time", f"{total_ms / 1000:.3f}")
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"
