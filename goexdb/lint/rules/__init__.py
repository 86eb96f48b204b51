"""Every lint rule, in the one order they run in (and their findings are listed in).

Each module defines its rules as plain objects, ``Rule(RuleInfo(...), check)``, and lists them
in ``RULES`` (and ``FILE_RULES``); this module composes those tuples. Importing a module
registers nothing: a rule runs because it is in ``STATEMENT_RULES`` or ``FILE_RULES``.
"""

from goexdb.lint.base import FileRule, Rule
from goexdb.lint.rules import compat, locking, transactions, types

STATEMENT_RULES: tuple[Rule, ...] = (
    *compat.RULES,
    *locking.RULES,
    *transactions.RULES,
    *types.RULES,
)
FILE_RULES: tuple[FileRule, ...] = (*transactions.FILE_RULES,)

__all__ = ["FILE_RULES", "STATEMENT_RULES"]
