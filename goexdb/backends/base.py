"""The Backend contract: one held transaction on one database.

A backend begins a transaction, executes one classified statement at a time, measures what the
transaction did so far (from the database itself, invariant 4), and ends it exactly once, by
commit or rollback. It translates its driver's exceptions into ``core.errors`` at this boundary,
in one place per engine (``postgres/errors.py``, ``duckdb/errors.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from sqlglot import exp

from core.errors import StatementDenied
from goexdb.effects import Effects, StatementImages, StatementResult, TableColumns
from goexdb.engines import EngineFacts
from goexdb.schema import Schema
from goexdb.sql import Statement

# goex reads an action's renames from its statements: those of a temporary table would be taken
# for the lasting table of its name, which an undo (in a session of its own) would rename
TEMPORARY_RULE = "db.temporary-alter"
TEMPORARY_ALTER = (
    "ALTER of a temporary table is refused: goex reads an action's renames from its statements, "
    "and an undo, in a session of its own, would take them for the lasting table's"
)


def altered(statement: Statement) -> exp.Table | None:
    """The relation an ALTER statement alters (None for any other statement)."""
    tree = statement.ast
    return tree.this if isinstance(tree, exp.Alter) and isinstance(tree.this, exp.Table) else None


def refuse_temporary_alter(statement: Statement, temporary: Callable[[exp.Table], bool]) -> None:
    """Refuse an ALTER of a relation the engine's session finds to be a temporary one."""
    if (table := altered(statement)) is not None and temporary(table):
        raise StatementDenied(TEMPORARY_ALTER, statement=statement.sql, rule=TEMPORARY_RULE)


class Backend(Protocol):
    facts: EngineFacts  # what goex knows about the engine (row id, savepoints, versions, ...)
    dialect: str  # facts.dialect
    server_version: int | None  # PostgreSQL's server_version_num; None for DuckDB

    def begin(self, statements: Sequence[Statement], *, read_only: bool = False) -> None:
        """Open the action's transaction for these statements, and read the baselines that
        measuring them needs (a catalog snapshot only when some statement is DDL); READ ONLY
        where the engine has such transactions (PostgreSQL), when ``read_only``."""

    def restoring(self, settings: Mapping[str, str]) -> bool:
        """In the open transaction, write rows back as they were, as logical replication
        applies them: triggers, rules and foreign-key actions off (PostgreSQL's
        ``session_replication_role = replica``), where the role may; whether it could.
        ``settings``: those the images were read under (``Effects.settings``), set again."""

    def dangling(self, tables: Sequence[str]) -> list[dict[str, object]]:
        """The foreign keys into or out of these tables that rows now break (checked when
        ``restoring``, which leaves the foreign keys unchecked): constraint, table, keys."""

    def query(self, sql: str, /, *params: Any) -> list[tuple[Any, ...]]:
        """The rows of a query of goex's own, not one of the action's, with the values it binds:
        a check in the open transaction once ``measure`` ran, or what an undo's plan reads of
        the database."""

    def mark(self, statements: Sequence[Statement]) -> None:
        """Inside the open transaction, measure from here: what executes next (these
        statements) is measured against the database as it is now (a dry-run's per-statement
        effects)."""

    def execute(
        self, statement: Statement, known: StatementImages | None = None
    ) -> StatementResult:
        """Run one statement inside the transaction; a runnable statement only. ``known``: the
        row images it makes if it changes as many rows (an undo's, ``UndoPlan.known``), kept
        as its images instead of reading them (with ``missing`` said if it changes more or
        fewer)."""

    def measure(self) -> Effects:
        """The effects of everything executed so far, read from the open transaction."""

    def settle(self) -> None:
        """Read the row images left to be read later (DuckDB leaves an UPDATE's), while the
        transaction is open; commit settles first, rollback forgets them."""

    def commit(self) -> None: ...

    def rollback(self) -> None: ...

    def close(self) -> None:
        """Release the connection; an open transaction is rolled back."""

    def temporary_tables(self) -> list[str]:
        """The session's temporary tables and views, ``schema.table``: a name in an undo's SQL
        could mean one (a rename's, as the action wrote it; on DuckDB, whose temporary tables
        share the schema name ``main``, any)."""

    def columns(self, table: str) -> TableColumns:
        """The columns of ``schema.table``, as the catalog has them now: their types, and
        which are generated (PostgreSQL; DuckDB's are not told apart yet)."""

    def table_sizes(self) -> dict[str, int]:
        """Approximate rows per ``schema.table`` (negative when the engine does not know)."""

    def savepoint(self, name: str) -> None:
        """Mark a point the transaction can return to (PostgreSQL; DuckDB has none)."""

    def release(self, name: str) -> None:
        """Keep what ran since ``savepoint(name)``, and forget the savepoint."""

    def rollback_to(self, name: str) -> None:
        """Undo what ran since ``savepoint(name)``, and forget the savepoint; the transaction
        stays usable."""

    def describe(self) -> Schema:
        """The schema for the model (``goexdb.schema``): relations, columns, types, keys,
        approximate sizes; never data rows."""
