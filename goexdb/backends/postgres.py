"""PostgreSQL backend: the only importer of psycopg.

One transaction per action, opened with ``SET LOCAL`` lock, statement and idle-in-transaction
timeouts, so a forgotten review releases its locks. Effects are read from the open transaction:

* rows per table from ``pg_stat_xact_user_tables`` (cascades and triggers included), minus the
  counts read at BEGIN; what the statements' own row counts do not explain is reported as
  ``by_cascade_or_trigger``;
* schema changes from a catalog diff, relation locks from ``pg_locks`` after each statement,
  table rewrites from ``pg_class.relfilenode``, and sequences that advanced (a rollback does not
  undo those).
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql as pgsql

from core.config import DbConfig
from core.errors import ExecutionError, TargetError
from goexdb.dsn import Target
from goexdb.effects import MAX_RESULT_ROWS, Effects, StatementResult, diff_catalog
from goexdb.statements import Statement, StatementKind

_COUNTS = """
    SELECT schemaname || '.' || relname, n_tup_ins, n_tup_upd, n_tup_del
    FROM pg_stat_xact_user_tables
"""
_CATALOG = """
    SELECT c.table_schema || '.' || c.table_name, c.column_name,
           format_type(a.atttypid, a.atttypmod) || coalesce(' default ' || c.column_default, '')
    FROM information_schema.columns c
    JOIN pg_attribute a ON a.attrelid = (quote_ident(c.table_schema) || '.'
                                         || quote_ident(c.table_name))::regclass
                       AND a.attname = c.column_name
    WHERE c.table_schema NOT IN ('pg_catalog', 'information_schema')
    ORDER BY 1, c.ordinal_position
"""
_FILENODES = """
    SELECT n.nspname || '.' || c.relname, c.relfilenode FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'm', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
      AND n.nspname NOT LIKE 'pg_toast%'
"""
_LOCKS = """
    SELECT coalesce(n.nspname || '.' || c.relname, l.relation::text), l.mode
    FROM pg_locks l LEFT JOIN pg_class c ON c.oid = l.relation
    LEFT JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE l.pid = pg_backend_pid() AND l.locktype = 'relation' AND l.granted
      AND coalesce(n.nspname, '') NOT IN ('pg_catalog', 'information_schema')
"""
_SEQUENCES = "SELECT schemaname || '.' || sequencename, last_value FROM pg_sequences"


class PostgresBackend:
    dialect = "postgres"

    def __init__(self, target: Target, config: DbConfig) -> None:
        self._config = config
        self._display = target.display
        try:
            self._con = psycopg.connect(target.conninfo, autocommit=False, connect_timeout=10)
        except psycopg.Error as exc:
            raise TargetError(
                f"cannot connect to PostgreSQL at {target.display}: {_reason(exc)}"
            ) from exc
        self._reset()

    def _reset(self) -> None:
        self._effects = Effects()
        self._baseline: dict[str, tuple[int, int, int]] = {}
        self._explained: dict[str, list[int]] = {}
        self._catalog_before: dict[str, dict[str, str]] = {}
        self._filenodes: dict[str, int] = {}
        self._sequences: dict[str, int | None] = {}
        self._locks_seen: set[tuple[str, str]] = set()

    def begin(self) -> None:
        self._reset()
        timeouts = (
            ("lock_timeout", self._config.lock_timeout),
            ("statement_timeout", self._config.statement_timeout),
            ("idle_in_transaction_session_timeout", self._config.idle_timeout),
        )
        for name, seconds in timeouts:
            self._run(
                pgsql.SQL("SELECT set_config({}, {}, true)").format(
                    pgsql.Literal(name), pgsql.Literal(f"{int(seconds * 1000)}ms")
                )
            )
        self._baseline = {r[0]: (r[1], r[2], r[3]) for r in self._rows(_COUNTS)}
        self._catalog_before = self._catalog()
        self._filenodes = {r[0]: r[1] for r in self._rows(_FILENODES)}
        self._sequences = {r[0]: r[1] for r in self._rows(_SEQUENCES)}
        self._locks_seen = {(r[0], r[1]) for r in self._rows(_LOCKS)}

    def execute(self, statement: Statement) -> StatementResult:
        with self._con.cursor() as cur:
            try:
                # A prepared statement is the server's own guarantee of exactly one command:
                # if goex's split ever disagreed with PostgreSQL's, the server refuses it.
                cur.execute(statement.sql.encode(), prepare=True)
            except psycopg.Error as exc:
                raise ExecutionError(
                    f"PostgreSQL refused the statement: {_reason(exc)}",
                    statement=statement.sql,
                    sqlstate=exc.sqlstate,
                ) from exc
            columns = [d.name for d in cur.description or []]
            rows = cur.fetchmany(MAX_RESULT_ROWS + 1) if cur.description else []
            rowcount = cur.rowcount if statement.kind is StatementKind.DML else None
        for table in statement.tables_written:
            self._explained.setdefault(table, []).append(max(rowcount or 0, 0))
        for relation, mode in self._rows(_LOCKS):
            if (relation, mode) not in self._locks_seen:
                self._locks_seen.add((relation, mode))
                self._effects.locks.append(
                    {"relation": relation, "mode": mode, "statement": statement.sql.strip()[:200]}
                )
        return StatementResult(
            statement.sql,
            statement.kind,
            rowcount,
            columns,
            [list(r) for r in rows[:MAX_RESULT_ROWS]],
            len(rows) > MAX_RESULT_ROWS,
        )

    def measure(self) -> Effects:
        effects = self._effects
        for name, ins, upd, dele in self._rows(_COUNTS):
            b_ins, b_upd, b_del = self._baseline.get(name, (0, 0, 0))
            change = (ins - b_ins, upd - b_upd, dele - b_del)
            if any(change):
                table = effects.table(name)
                table.inserted, table.updated, table.deleted = change
                explained = sum(self._explained.get(name, [])) + sum(
                    self._explained.get(name.partition(".")[2], [])
                )
                table.by_cascade_or_trigger = max(sum(change) - explained, 0)
        effects.schema_changes = diff_catalog(self._catalog_before, self._catalog())
        after = {r[0]: r[1] for r in self._rows(_FILENODES)}
        effects.rewrites = sorted(
            name
            for name, node in after.items()
            if name in self._filenodes and self._filenodes[name] != node
        )
        for name, value in self._rows(_SEQUENCES):
            if name in self._sequences and self._sequences[name] != value:
                effects.side_effects.append(f"sequence {name} advanced to {value}")
        return effects

    def commit(self) -> None:
        try:
            self._con.commit()
        except psycopg.Error as exc:
            raise ExecutionError(
                f"PostgreSQL could not commit: {_reason(exc)}", sqlstate=exc.sqlstate
            ) from exc

    def rollback(self) -> None:
        if not self._con.closed:
            self._con.rollback()

    def close(self) -> None:
        self._con.close()

    def describe(self) -> str:
        counts = {
            r[0]: r[1]
            for r in self._rows(
                "SELECT n.nspname || '.' || c.relname, c.reltuples::bigint FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p')"
            )
        }
        keys: dict[str, list[str]] = {}
        for table, definition in self._rows(
            "SELECT conrelid::regclass::text, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE contype IN ('p', 'f', 'u') AND connamespace NOT IN "
            "('pg_catalog'::regnamespace, 'information_schema'::regnamespace)"
        ):
            keys.setdefault(table, []).append(definition)
        lines = []
        for table, columns in self._catalog().items():
            cols = ", ".join(f"{name} {dtype}" for name, dtype in columns.items())
            extra = "; ".join(keys.get(table, keys.get(table.partition(".")[2], [])))
            approx = counts.get(table, -1)
            rows = f" (~{approx} rows)" if approx >= 0 else ""
            lines.append(f"TABLE {table}({cols}{'; ' + extra if extra else ''}){rows}")
        self._con.rollback()
        return "\n".join(lines) or "(no tables)"

    def _catalog(self) -> dict[str, dict[str, str]]:
        catalog: dict[str, dict[str, str]] = {}
        for table, column, dtype in self._rows(_CATALOG):
            catalog.setdefault(table, {})[column] = dtype
        return catalog

    def _rows(self, query: str) -> list[tuple[Any, ...]]:
        with self._con.cursor() as cur:
            self._execute(cur, query)
            return cur.fetchall()

    def _run(self, query: pgsql.Composed) -> None:
        with self._con.cursor() as cur:
            self._execute(cur, query)

    def _execute(self, cur: psycopg.Cursor[Any], query: str | pgsql.Composed) -> None:
        try:
            cur.execute(query)
        except psycopg.Error as exc:
            raise ExecutionError(
                f"goex could not measure on PostgreSQL: {_reason(exc)}", sqlstate=exc.sqlstate
            ) from exc


def _reason(exc: psycopg.Error) -> str:
    primary = exc.diag.message_primary if hasattr(exc, "diag") else None
    lines = str(exc).strip().splitlines()
    return (primary or (lines[0] if lines else type(exc).__name__)).rstrip(".")
