"""DuckDB backend: the only importer of duckdb.

The connection is opened with ``enable_external_access = false`` and ``lock_configuration =
true`` (and extension auto-loading off), so the SQL can neither read or write files nor turn that
back on. Each statement is checked a second time with DuckDB's own parser
(``extract_statements``): it must be exactly one statement, of a type that agrees with goex's
classification, or it is refused.

Row counts come from DuckDB itself: a DML statement without RETURNING answers one ``Count`` row;
with RETURNING, the rows returned are counted. DuckDB has no triggers and no cascading foreign
keys, so the per-table counts are complete.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

import duckdb

from core.errors import ExecutionError, StatementDenied, TargetError
from goexdb.dsn import Target
from goexdb.effects import MAX_RESULT_ROWS, Effects, StatementResult, diff_catalog
from goexdb.statements import Statement, StatementKind

CONFIG: Mapping[str, Any] = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "lock_configuration": True,
}

# DuckDB's own statement type -> the goex kinds it may be classified as.
_AGREES: Mapping[str, frozenset[StatementKind]] = {
    "SELECT": frozenset({StatementKind.READ}),
    "EXPLAIN": frozenset({StatementKind.READ}),
    "INSERT": frozenset({StatementKind.DML}),
    "UPDATE": frozenset({StatementKind.DML}),
    "DELETE": frozenset({StatementKind.DML}),
    "MERGE_INTO": frozenset({StatementKind.DML}),
    "CREATE": frozenset({StatementKind.DDL}),
    "DROP": frozenset({StatementKind.DDL}),
    "ALTER": frozenset({StatementKind.DDL}),
    "PREPARE": frozenset(),
}

_CATALOG = """
    SELECT schema_name || '.' || table_name, column_name, data_type
    FROM duckdb_columns() WHERE NOT internal AND database_name = current_database()
    ORDER BY 1, column_index
"""


class DuckDBBackend:
    dialect = "duckdb"

    def __init__(self, target: Target) -> None:
        assert target.path is not None
        if not target.path.exists():
            raise TargetError(f"DuckDB database {target.path} does not exist")
        try:
            self._con = duckdb.connect(str(target.path), config=dict(CONFIG))
        except duckdb.Error as exc:
            raise TargetError(f"cannot open DuckDB database {target.path}: {_first(exc)}") from exc
        self._effects = Effects()
        self._catalog_before: dict[str, dict[str, str]] = {}

    def begin(self) -> None:
        self._catalog_before = self._catalog()
        self._effects = Effects()
        self._con.begin()

    def execute(self, statement: Statement) -> StatementResult:
        self._cross_check(statement)
        try:
            cursor = self._con.execute(statement.sql)
            columns = [d[0] for d in cursor.description or []]
            rows = cursor.fetchmany(MAX_RESULT_ROWS + 1)
            more = len(rows) > MAX_RESULT_ROWS or bool(cursor.fetchone())
            if statement.kind is StatementKind.DML and not statement.has_returning:
                count = int(rows[0][0]) if rows else 0
                result = StatementResult(statement.sql, statement.kind, count)
            else:
                counted = len(rows) + (len(cursor.fetchall()) + 1 if more else 0)
                result = StatementResult(
                    statement.sql,
                    statement.kind,
                    counted if statement.kind is StatementKind.DML else None,
                    columns,
                    [list(r) for r in rows[:MAX_RESULT_ROWS]],
                    more,
                )
        except duckdb.Error as exc:
            raise ExecutionError(
                f"DuckDB refused the statement: {_first(exc)}", statement=statement.sql
            ) from exc
        if statement.kind is StatementKind.DML and result.rowcount:
            self._attribute(statement, result.rowcount)
        return result

    def _cross_check(self, statement: Statement) -> None:
        try:
            parsed = self._con.extract_statements(statement.sql)
        except duckdb.Error as exc:
            raise ExecutionError(
                f"DuckDB cannot parse the statement: {_first(exc)}", statement=statement.sql
            ) from exc
        if len(parsed) != 1:
            raise StatementDenied(
                f"DuckDB reads {len(parsed)} statements where goex split one; refused",
                statement=statement.sql,
                rule="db.split-mismatch",
            )
        duck_type = parsed[0].type.name
        if statement.kind not in _AGREES.get(duck_type, frozenset()):
            raise StatementDenied(
                f"DuckDB reads this {statement.verb.upper()} statement as {duck_type}, which does "
                f"not agree with goex's classification ({statement.kind.value}); refused",
                statement=statement.sql,
                rule="db.classification-mismatch",
            )

    def _attribute(self, statement: Statement, rows: int) -> None:
        if len(statement.tables_written) != 1:
            self._effects.side_effects.append(
                f"{rows} rows changed by a statement writing "
                f"{', '.join(statement.tables_written) or 'unknown tables'}"
            )
            return
        name = statement.tables_written[0]
        table = self._effects.table(name if "." in name else f"main.{name}")
        verb = statement.verb
        if verb == "insert":
            table.inserted += rows
        elif verb == "update":
            table.updated += rows
        elif verb == "delete":
            table.deleted += rows
        else:  # MERGE: DuckDB reports one count for inserts and updates together
            table.updated += rows
            self._effects.side_effects.append(
                f"{rows} rows of {name} inserted or updated by {verb.upper()}"
            )

    def measure(self) -> Effects:
        self._effects.schema_changes = diff_catalog(self._catalog_before, self._catalog())
        return self._effects

    def _catalog(self) -> dict[str, dict[str, str]]:
        catalog: dict[str, dict[str, str]] = {}
        try:
            for table, column, dtype in self._con.execute(_CATALOG).fetchall():
                catalog.setdefault(table, {})[column] = dtype
        except duckdb.Error as exc:
            raise ExecutionError(f"cannot read the DuckDB catalog: {_first(exc)}") from exc
        return catalog

    def commit(self) -> None:
        try:
            self._con.commit()
        except duckdb.Error as exc:
            raise ExecutionError(f"DuckDB could not commit: {_first(exc)}") from exc

    def rollback(self) -> None:
        with contextlib.suppress(duckdb.TransactionException):  # none open: nothing to undo
            self._con.rollback()

    def close(self) -> None:
        self._con.close()

    def describe(self) -> str:
        lines = []
        for table, columns in self._catalog().items():
            count = self._con.execute(
                "SELECT estimated_size FROM duckdb_tables() "
                "WHERE schema_name || '.' || table_name = ?",
                [table],
            ).fetchone()
            cols = ", ".join(f"{name} {dtype}" for name, dtype in columns.items())
            rows = f" (~{count[0]} rows)" if count else ""
            lines.append(f"TABLE {table}({cols}){rows}")
        return "\n".join(lines) or "(no tables)"


def _first(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
