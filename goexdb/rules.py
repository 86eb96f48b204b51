"""Database policy rules, over what a staged action measurably did.

Each rule reads the classified statements and the measured effects of one staged action and
yields a message for each thing it objects to; ``core.policy`` turns those into Violations.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from core.policy import PolicySettings, Rule, Severity, rule
from goexdb.effects import Effects, SchemaChange
from goexdb.engines import engine_facts
from goexdb.explained import explained_by_renames
from goexdb.renames import renames
from goexdb.sql import Statement, StatementKind


@dataclass(frozen=True)
class Outcome:
    """What the rules judge: the statements as classified and the effects as measured."""

    statements: Sequence[Statement]
    effects: Effects
    dialect: str = "postgres"
    undone: tuple[SchemaChange, ...] = ()  # an undo's: the schema changes of what it undoes

    def tables_touched(self) -> set[str]:
        names = set(self.effects.tables)
        names.update(change.table for change in self.effects.schema_changes)
        return names


def _matches(name: str, patterns: Sequence[str]) -> bool:
    bare = name.rpartition(".")[2]
    return any(p.lower() in (name.lower(), bare.lower()) for p in patterns)


@rule("db.denied-function")
def denied_function(outcome: Outcome, settings: PolicySettings) -> Iterator[str]:
    for statement in outcome.statements:
        for name in statement.functions_called:
            if any(fnmatch.fnmatchcase(name, p.lower()) for p in settings.deny_functions):
                yield f"function {name}() is denied: it reaches outside the transaction"


@rule("db.read-only")
def read_only(outcome: Outcome, settings: PolicySettings) -> Iterator[str]:
    if not settings.read_only:
        return
    writes = [s for s in outcome.statements if s.kind is not StatementKind.READ]
    if writes or outcome.effects.rows_changed or outcome.effects.schema_changes:
        yield f"read-only mode, but {len(writes)} statement(s) write"


@rule("db.dml-only")
def dml_only(outcome: Outcome, settings: PolicySettings) -> Iterator[str]:
    if settings.dml_only and outcome.effects.schema_changes:
        yield f"DML-only mode, but the schema changed ({len(outcome.effects.schema_changes)})"


@rule("db.max-rows-table")
def max_rows_table(outcome: Outcome, settings: PolicySettings) -> Iterator[str]:
    limit = settings.max_rows_per_table
    if limit is None:
        return
    for name, change in sorted(outcome.effects.tables.items()):
        if change.total > limit:
            yield f"{change.total} rows changed in {name}, more than the limit of {limit}"


@rule("db.max-rows-total")
def max_rows_total(outcome: Outcome, settings: PolicySettings) -> Iterator[str]:
    limit = settings.max_rows_total
    if limit is not None and outcome.effects.rows_changed > limit:
        yield f"{outcome.effects.rows_changed} rows changed in all, more than the limit of {limit}"


@rule("db.denied-table")
def denied_table(outcome: Outcome, settings: PolicySettings) -> Iterator[str]:
    for name in sorted(outcome.tables_touched()):
        if _matches(name, settings.deny_tables):
            yield f"table {name} is denied by policy"


@rule("db.denied-column")
def denied_column(outcome: Outcome, settings: PolicySettings) -> Iterator[str]:
    if not settings.deny_columns:
        return
    for statement in outcome.statements:
        for full in statement.columns_named:
            name = full.rpartition(".")[2]
            if _matches(full, settings.deny_columns) or name in settings.deny_columns:
                yield f"column {full} is denied by policy"


@rule("db.unfiltered-write")
def unfiltered_write(outcome: Outcome, settings: PolicySettings) -> Iterator[str]:
    if settings.allow_unfiltered_writes:
        return
    for statement in outcome.statements:
        if statement.has_where is False:
            tables = ", ".join(statement.tables_written) or "a table"
            yield f"{statement.verb.upper()} of {tables} has no WHERE clause"


@rule("db.drop")
def drop(outcome: Outcome, settings: PolicySettings) -> Iterator[str]:
    if settings.allow_drop or _drops_only_what_it_undoes(outcome):
        return
    for statement in outcome.statements:
        if statement.destroys:
            yield f"{statement.verb.upper()} destroys data: {statement.sql.strip()[:80]}"
    moved = renames(outcome.statements, outcome.dialect)
    facts, changes = engine_facts(outcome.dialect), outcome.effects.schema_changes
    for change in changes:
        # (DuckDB's catalog shows a renamed column as dropped and added: its data stays)
        if change.change == "column_dropped" and not explained_by_renames(
            change, moved, changes, facts
        ):
            yield f"column {change.table}.{change.name} was dropped, with its data"


# What an undo may drop without a person: what the action it undoes created, holding no data
# written since (a table or column: checked by its fingerprint, ``goexdb.undo``, before the
# undo may go on; ``Outcome.undone`` lists only what was checked so).
CREATED_BY = {
    "index_dropped": "index_created",
    "constraint_dropped": "constraint_created",
    "table_dropped": "table_created",
    "view_dropped": "view_created",
    "column_dropped": "column_added",
}


def _drops_only_what_it_undoes(outcome: Outcome) -> bool:
    """An undo whose every drop removes what the undone action created."""
    created = {(c.change, c.table, c.name) for c in outcome.undone}
    drops = [c for c in outcome.effects.schema_changes if c.change.endswith("_dropped")]
    own = all((CREATED_BY.get(c.change), c.table, c.name) in created for c in drops)
    truncates = any(s.truncates for s in outcome.statements)
    return bool(outcome.undone) and own and not truncates


@rule("db.schema-change", Severity.WARNING)
def schema_change(outcome: Outcome, settings: PolicySettings) -> Iterator[str]:
    for change in outcome.effects.schema_changes:
        yield f"schema change: {change.describe()}"


# Judged on the statements alone, before anything runs: their harm would not roll back.
BEFORE_RUNNING: tuple[Rule[Outcome], ...] = (denied_function,)

RULES: tuple[Rule[Outcome], ...] = (
    *BEFORE_RUNNING,
    read_only,
    dml_only,
    max_rows_table,
    max_rows_total,
    denied_table,
    denied_column,
    unfiltered_write,
    drop,
    schema_change,
)
