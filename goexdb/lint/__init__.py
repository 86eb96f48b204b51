"""goex-db lint: static rules over migration files, with squawk's rule ids.

::

    from goexdb.lint import lint
    report = lint([Path("migrations")], server_version=(16, 0))
    for finding in report.findings():
        print(finding.file, finding.line, finding.rule, finding.message)
"""

from goexdb.lint.engine import LintOptions, lint, lint_file, lint_sql
from goexdb.lint.registry import (
    FILE_RULES,
    STATEMENT_RULES,
    RuleInfo,
    catalogue,
    describe,
    register,
)

__all__ = [
    "FILE_RULES",
    "STATEMENT_RULES",
    "LintOptions",
    "RuleInfo",
    "catalogue",
    "describe",
    "lint",
    "lint_file",
    "lint_sql",
    "register",
]
