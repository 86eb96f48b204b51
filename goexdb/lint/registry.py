"""The catalogue of lint rules: id, default severity, what it means, a line of help.

Static rules register themselves with ``@rule`` (one function per rule, see ``rules_*.py``);
ids that are not static checks (``syntax-error``, ``migration-error``, dry-run's measured rules)
are registered with ``register`` so that every report format can describe every finding.
Ids and meanings follow squawk (https://squawkhq.com/docs/rules), so configs carry over.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, TypeAlias

from sqlglot import exp

if TYPE_CHECKING:
    from goexdb.lint.context import Context, FileState

Severity = Literal["error", "warning"]
SEVERITIES: tuple[Severity, ...] = ("error", "warning")
SQUAWK_DOCS = "https://squawkhq.com/docs/"

# A statement rule yields one message per problem it sees in the statement, alone (reported at
# the statement's start) or with the node it is about (reported at that node: the column).
Problem: TypeAlias = str | tuple[str, exp.Expr]
Check = Callable[["Context"], Iterable[Problem]]
# A file rule looks at what the whole file left behind; it yields (message, line, column).
FileCheck = Callable[["FileState"], Iterable[tuple[str, int, int]]]


@dataclass(frozen=True)
class RuleInfo:
    id: str
    severity: Severity
    summary: str  # what the rule finds, one line (README table, SARIF shortDescription)
    help: str  # what to do instead, one line
    squawk: bool = True  # the id and meaning are squawk's

    @property
    def help_uri(self) -> str | None:
        """squawk's page for a squawk rule; goex's own rules are documented in the README."""
        return f"{SQUAWK_DOCS}{self.id}" if self.squawk else None


@dataclass(frozen=True)
class Rule:
    info: RuleInfo
    check: Check


@dataclass(frozen=True)
class FileRule:
    info: RuleInfo
    check: FileCheck


_CATALOGUE: dict[str, RuleInfo] = {}
STATEMENT_RULES: list[Rule] = []
FILE_RULES: list[FileRule] = []


def register(info: RuleInfo) -> RuleInfo:
    """Add a rule id to the catalogue (ids are unique)."""
    if info.id in _CATALOGUE and _CATALOGUE[info.id] != info:
        raise ValueError(f"lint rule {info.id} is registered twice")
    _CATALOGUE[info.id] = info
    return info


def rule(
    id: str, severity: Severity, summary: str, help: str, *, squawk: bool = True
) -> Callable[[Check], Check]:
    """Register a statement rule: ``@rule("ban-drop-table", "error", "...", "...")``."""

    def decorate(check: Check) -> Check:
        STATEMENT_RULES.append(Rule(register(RuleInfo(id, severity, summary, help, squawk)), check))
        return check

    return decorate


def file_rule(
    id: str, severity: Severity, summary: str, help: str
) -> Callable[[FileCheck], FileCheck]:
    """Register a rule over a whole file's end state."""

    def decorate(check: FileCheck) -> FileCheck:
        FILE_RULES.append(FileRule(register(RuleInfo(id, severity, summary, help)), check))
        return check

    return decorate


def describe(rule_id: str) -> RuleInfo | None:
    return _CATALOGUE.get(rule_id)


def catalogue() -> Iterator[RuleInfo]:
    """Every registered rule, by id."""
    yield from sorted(_CATALOGUE.values(), key=lambda info: info.id)


SYNTAX_ERROR = register(
    RuleInfo(
        "syntax-error",
        "error",
        "a statement or file that PostgreSQL's grammar (as sqlglot reads it) cannot parse",
        "fix the SQL; nothing else in the statement is checked until it parses",
    )
)
MIGRATION_ERROR = register(
    RuleInfo(
        "migration-error",
        "error",
        "the migration failed when dry-run ran it",
        "read the database's error, fix the migration, and run dry-run again",
        squawk=False,
    )
)
