"""Whether goex's reading of a PostgreSQL statement (sqlglot's) and PostgreSQL's own agree:
what runs must be what was classified."""

from __future__ import annotations

from sqlglot import exp

from core.errors import StatementDenied, StatementError
from goexdb.sql.kinds import RUNNABLE, StatementKind
from goexdb.sql.postgres import Reading
from goexdb.sql.syntax import postgres_problem


def agree(
    sql: str,
    verb: str,
    kind: StatementKind,
    tree: exp.Expr,
    reading: Reading | None,
    line: int,
    column: int,
) -> None:
    """Refuse a statement goex would run whose kind PostgreSQL's parser reads otherwise, or
    which it cannot parse at all: what runs must be what was classified."""
    if reading is None:
        problem = postgres_problem(sql, line=line, column=column)
        raise StatementError(f"the SQL could not be parsed: {problem}", statement=sql)
    if kind in RUNNABLE and reading.kind is not kind:
        raise StatementDenied(
            f"PostgreSQL reads this {verb.upper()} statement as {reading.kind.value}, which does "
            f"not agree with goex's classification ({kind.value}); refused",
            statement=sql,
            rule="db.classification-mismatch",
        )
    _agree_on_renames(sql, tree, reading)


def _agree_on_renames(sql: str, tree: exp.Expr, reading: Reading | None) -> None:
    """Refuse a rename goex reads as a table's that PostgreSQL reads as a column's (``ALTER
    TABLE t RENAME a TO b`` renames column a; sqlglot reads table t renamed to a)."""
    actions = tree.args.get("actions") or [] if isinstance(tree, exp.Alter) else []
    table_renamed = any(isinstance(a, exp.AlterRename) for a in actions)
    if reading is not None and table_renamed and reading.renamed == "OBJECT_COLUMN":
        raise StatementDenied(
            "PostgreSQL reads this ALTER TABLE as renaming a column, and goex as renaming the "
            "table; write RENAME COLUMN",
            statement=sql,
            rule="db.classification-mismatch",
        )
