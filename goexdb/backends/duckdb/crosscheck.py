"""Each statement goex runs on DuckDB read again by DuckDB's own parser: one statement where
goex split one, of a type that agrees with goex's classification; else refused."""

from __future__ import annotations

from collections.abc import Mapping

import duckdb

from core.errors import StatementDenied
from goexdb.backends.duckdb.errors import translated
from goexdb.sql import Statement, StatementKind

# DuckDB's own statement type -> the goex kinds it may be classified as.
_AGREES: Mapping[str, frozenset[StatementKind]] = {
    name: frozenset({kind})
    for kind, names in (
        (StatementKind.READ, ("SELECT", "EXPLAIN")),
        (StatementKind.DML, ("INSERT", "UPDATE", "DELETE", "MERGE_INTO")),
        (StatementKind.DDL, ("CREATE", "DROP", "ALTER")),
    )
    for name in names
}


class CrossCheck:
    """The check, remembering the statements that passed it (a thousand at most)."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self._con = con
        self._agreed: set[tuple[str, StatementKind]] = set()

    def __call__(self, statement: Statement) -> None:
        if (statement.sql, statement.kind) in self._agreed:
            return
        with translated("DuckDB cannot parse the statement", statement=statement.sql):
            parsed = self._con.extract_statements(statement.sql)
        if len(parsed) != 1:
            raise StatementDenied(
                f"DuckDB reads {len(parsed)} statements where goex split one; refused",
                statement=statement.sql,
                rule="db.split-mismatch",
            )
        try:
            duck_type = parsed[0].type.name
        except ValueError:  # a type this duckdb module cannot name (UPDATE EXTENSIONS is 29)
            duck_type = "UNNAMED"
        if statement.kind not in _AGREES.get(duck_type, frozenset()):
            raise StatementDenied(
                f"DuckDB reads this {statement.verb.upper()} statement as {duck_type}, which does "
                f"not agree with goex's classification ({statement.kind.value}); refused",
                statement=statement.sql,
                rule="db.classification-mismatch",
            )
        if len(self._agreed) >= 1024:
            self._agreed.clear()
        self._agreed.add((statement.sql, statement.kind))
