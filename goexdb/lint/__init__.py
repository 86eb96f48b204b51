"""goex-db lint's rules, with squawk's rule ids, and the catalogue that describes every id.

The rules are plain objects in explicit, ordered tuples (``STATEMENT_RULES``, ``FILE_RULES``);
``goexdb.lint.engine`` runs them over one migration's text or file, and
``goexdb.migrations.lint`` over the migrations a path names::

    from goexdb.migrations import lint
    report = lint([Path("migrations")], server_version=(16, 0))
    for finding in report.findings():
        print(finding.file, finding.line, finding.rule, finding.message)

This ``__init__`` and what it imports (``base``, ``rules``, ``catalogue``) import nothing of the
engine or the reports, so the report formats can describe a finding (``describe``) without
importing the engine (which imports the reports' model).
"""

from goexdb.lint.base import FileRule, Rule, RuleInfo
from goexdb.lint.catalogue import catalogue, describe
from goexdb.lint.rules import FILE_RULES, STATEMENT_RULES

__all__ = [
    "FILE_RULES",
    "STATEMENT_RULES",
    "FileRule",
    "Rule",
    "RuleInfo",
    "catalogue",
    "describe",
]
