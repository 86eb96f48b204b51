"""The catalogue of lint rule ids: id, default severity, what it means, a line of help.

It is derived, once, from the static rules (``goexdb.lint.rules``) and the ids that are not
static checks (``NOT_STATIC``: ``syntax-error``, ``not-linted``, ``migration-error`` and
dry-run's measured rules), so that every report format can describe every finding and
``[lint]`` configuration can name any of them. It imports nothing of the reports or of the lint
engine.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from core.policy import Severity
from goexdb.lint.base import RuleInfo
from goexdb.lint.rules import FILE_RULES, STATEMENT_RULES

SYNTAX_ERROR = RuleInfo(
    "syntax-error",
    Severity.ERROR,
    "a statement or file that PostgreSQL's own parser cannot parse",
    "fix the SQL; nothing else in the statement is checked until it parses",
)
NOT_LINTED = RuleInfo(
    "not-linted",
    Severity.WARNING,
    "a statement PostgreSQL's parser accepts that goex's linter (sqlglot) cannot read: only "
    "the rules that read tokens checked it",
    "review the statement by hand; goex still classifies it by PostgreSQL's own parser",
    squawk=False,
)
MIGRATION_ERROR = RuleInfo(
    "migration-error",
    Severity.ERROR,
    "the migration failed when dry-run ran it",
    "read the database's error, fix the migration, and run dry-run again",
    squawk=False,
)
# Measured by goex-db dry-run (goexdb.migrations.dryrun), not checked statically.
LONG_EXCLUSIVE_LOCK = RuleInfo(
    "long-exclusive-lock",
    Severity.ERROR,
    "dry-run measured an ACCESS EXCLUSIVE lock on a large table held past the configured time",
    "split the migration, or make the change in steps that need weaker locks",
    squawk=False,
)
LARGE_TABLE_REWRITE = RuleInfo(
    "large-table-rewrite",
    Severity.ERROR,
    "dry-run measured a rewrite of every row of a large table",
    "avoid the rewrite (e.g. add a nullable column, backfill in batches, then constrain)",
    squawk=False,
)
DRY_RUN_REFUSED = RuleInfo(
    "dry-run-refused",
    Severity.ERROR,
    "the file holds a statement goex does not run, even in a dry-run",
    "remove the statement, or run this migration outside goex",
    squawk=False,
)

NOT_STATIC: tuple[RuleInfo, ...] = (
    SYNTAX_ERROR,
    NOT_LINTED,
    MIGRATION_ERROR,
    LONG_EXCLUSIVE_LOCK,
    LARGE_TABLE_REWRITE,
    DRY_RUN_REFUSED,
)


def _by_id(infos: Iterable[RuleInfo]) -> dict[str, RuleInfo]:
    found: dict[str, RuleInfo] = {}
    for info in infos:
        if info.id in found:
            raise ValueError(f"lint rule id {info.id} is used twice")
        found[info.id] = info
    return found


_CATALOGUE = _by_id(
    (
        *(rule.info for rule in STATEMENT_RULES),
        *(rule.info for rule in FILE_RULES),
        *NOT_STATIC,
    )
)


def describe(rule_id: str) -> RuleInfo | None:
    return _CATALOGUE.get(rule_id)


def catalogue() -> Iterator[RuleInfo]:
    """Every rule id, static or not, by id."""
    yield from sorted(_CATALOGUE.values(), key=lambda info: info.id)
