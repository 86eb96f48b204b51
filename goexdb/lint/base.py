"""What a lint rule is: its description (``RuleInfo``) and its check, as a plain object.

A statement rule is ``Rule(RuleInfo(...), check)``, a rule over a whole file's end state is
``FileRule(RuleInfo(...), check)``. Each module of ``goexdb.lint.rules`` defines its rules this
way and lists them in a ``RULES`` tuple; nothing registers itself by being imported.
Ids and meanings follow squawk (https://squawkhq.com/docs/rules), so configs carry over.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeAlias

from sqlglot import exp

from core.policy import Severity
from goexdb.lint.context import Context, FileState

SQUAWK_DOCS = "https://squawkhq.com/docs/"

# A statement rule yields one message per problem it sees in the statement, alone (reported at
# the statement's start) or with the node it is about (reported at that node: the column).
Problem: TypeAlias = str | tuple[str, exp.Expr]
Check = Callable[[Context], Iterable[Problem]]
# A file rule looks at what the whole file left behind; it yields (message, line, column).
FileCheck = Callable[[FileState], Iterable[tuple[str, int, int]]]


@dataclass(frozen=True)
class RuleInfo:
    id: str
    severity: Severity  # the default; ``[lint.severity]`` may re-grade it (ERROR or WARNING)
    summary: str  # what the rule finds, one line (README table, SARIF shortDescription)
    help: str  # what to do instead, one line
    squawk: bool = True  # the id and meaning are squawk's

    @property
    def help_uri(self) -> str | None:
        """squawk's page for a squawk rule; goex's own rules are documented in the README."""
        return f"{SQUAWK_DOCS}{self.id}" if self.squawk else None


@dataclass(frozen=True)
class Rule:
    """A statement rule: shown every statement of a file, with what the file did before it."""

    info: RuleInfo
    check: Check


@dataclass(frozen=True)
class FileRule:
    """A rule over what a whole file left behind (checked after its last statement)."""

    info: RuleInfo
    check: FileCheck
