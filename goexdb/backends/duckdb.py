"""DuckDB backend: the only importer of duckdb.

The connection is opened with ``enable_external_access = false`` and ``lock_configuration =
true`` (and extension auto-loading off), so the SQL can neither read or write files nor turn that
back on. Each statement is checked a second time with DuckDB's own parser
(``extract_statements``): it must be exactly one statement, of a type that agrees with goex's
classification, or it is refused.

Row counts come from DuckDB itself: a DML statement answers one ``Count`` row, or with RETURNING
the rows it changed. Row images are ``to_json`` text: an UPDATE's rows are read (``rowid, *``)
before it runs, and RETURNING gives the rest. An UPDATE that keeps its rows' ids (it changes no
indexed column) and is the only statement of the action writing its table leaves its images to
``settle``: before it runs, the ids of its rows go to a temporary table and a snapshot is pinned
on a connection of goex's own; ``settle`` (commit does it first) reads the before images from
the snapshot and the after images from the transaction. DuckDB has no triggers and no cascading
foreign keys, so counts and images are complete.
"""

from __future__ import annotations

import contextlib
import secrets
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
from sqlglot import exp

from core.config import DbConfig
from core.errors import ExecutionError, StateError, StatementDenied, TargetError
from goexdb.dsn import Target
from goexdb.effects import (
    MAX_RESULT_ROWS,
    Catalog,
    Effects,
    ImageBudget,
    RowImage,
    StatementImages,
    StatementResult,
    diff_catalog,
    images_of,
    many_images,
)
from goexdb.sql import (
    UNREPEATABLE_ROWS,
    Statement,
    StatementKind,
    matched_row_ids,
    preselect,
    row_reference,
    with_returning,
)
from goexdb.undo import duckdb_row_json, quote_table

CONFIG: Mapping[str, Any] = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "lock_configuration": True,
}

# At most this many runs of consecutive row ids are read as BETWEEN ranges (see _rowid_condition).
_MAX_RUNS = 64

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
}

_COLUMNS = """
    SELECT schema_name || '.' || table_name, column_name, data_type, column_default
    FROM duckdb_columns() WHERE NOT internal AND database_name = current_database()
    ORDER BY 1, column_index
"""
_INDEXES = """
    SELECT schema_name || '.' || index_name, schema_name || '.' || table_name,
           schema_name || '.' || index_name, sql
    FROM duckdb_indexes() WHERE database_name = current_database()
"""
_CONSTRAINTS = """
    SELECT schema_name || '.' || table_name || '.' || constraint_name,
           schema_name || '.' || table_name, constraint_name, constraint_text
    FROM duckdb_constraints() WHERE database_name = current_database()
"""
_TABLE_COLUMNS = """
    SELECT column_name, data_type FROM duckdb_columns()
    WHERE database_name = current_database() AND schema_name || '.' || table_name = ?
    ORDER BY column_index
"""
_INDEXED = """
    SELECT constraint_column_names::VARCHAR FROM duckdb_constraints()
    WHERE database_name = current_database() AND schema_name || '.' || table_name = ?
      AND constraint_type IN ('PRIMARY KEY', 'UNIQUE', 'FOREIGN KEY')
    UNION ALL
    SELECT expressions FROM duckdb_indexes()
    WHERE database_name = current_database() AND schema_name || '.' || table_name = ?
"""
_CANONICAL = """
    SELECT schema_name || '.' || table_name FROM duckdb_tables()
    WHERE database_name = current_database()
      AND lower(schema_name) = lower(?) AND lower(table_name) = lower(?)
"""
_KEY = """
    SELECT constraint_column_names FROM duckdb_constraints()
    WHERE database_name = current_database() AND constraint_type = 'PRIMARY KEY'
      AND schema_name || '.' || table_name = ?
"""


@dataclass(frozen=True)
class _Deferred:
    """An UPDATE whose row images are read when they are needed (``settle``): before it ran, the
    ids of the rows it changes were kept in a temporary table and a snapshot of the database was
    pinned; its before images are read from that snapshot, its after images from the
    transaction, which no later statement of the action writes to that table."""

    images: StatementImages
    statement: Statement
    rowids: str  # the temporary table of the row ids
    count: int  # the rows the UPDATE reported


@dataclass(frozen=True)
class _TableMeta:
    types: dict[str, str]
    key: tuple[str, ...]
    indexed: frozenset[str] | None  # None: an expression index covers unknown columns


class DuckDBBackend:
    dialect = "duckdb"
    server_version: int | None = None

    def __init__(self, target: Target, config: DbConfig) -> None:
        assert target.path is not None
        if not target.path.exists():
            raise TargetError(f"DuckDB database {target.path} does not exist")
        try:
            self._con = duckdb.connect(str(target.path), config=dict(CONFIG))
        except duckdb.Error as exc:
            raise TargetError(
                f"cannot open DuckDB database {target.path}: {error_reason(exc)}"
            ) from exc
        self._config = config
        self._tables: dict[str, _TableMeta] = {}
        self._names: dict[str, str] = {}  # case-folded as written -> as the catalog has it
        self._agreed: set[tuple[str, StatementKind]] = set()  # passed the cross-check
        self._deferred: list[_Deferred] = []
        self._snapshot = self._con.cursor()  # a connection of goex's own to the same database
        self._pinned = False
        self._reset()

    def _reset(self) -> None:
        self._effects = Effects()
        self._catalog_before = Catalog()
        self._budget = ImageBudget(self._config.max_row_images)
        self._index = 0
        self._ddl = False
        self._writers: Counter[str] = Counter()  # DML statements per target table
        # Temporary tables of row ids are named with a secret of this action's, which SQL
        # written before the action ran cannot know.
        self._private = f"goex_{secrets.token_hex(8)}"
        self._drop_deferred("the action ended before its row images were read", tables=True)

    def begin(self, statements: Sequence[Statement]) -> None:
        self.mark(statements)
        self._con.begin()

    def mark(self, statements: Sequence[Statement]) -> None:
        self._reset()
        self._ddl = any(
            s.kind in (StatementKind.DDL, StatementKind.NON_TRANSACTIONAL) for s in statements
        )
        if self._ddl:
            self._tables.clear()
            self._names.clear()
            self._catalog_before = self._catalog()
        for statement in statements:
            if statement.kind is StatementKind.DML:
                target = statement.image_target
                self._writers[self._canonical(target) if target is not None else "*"] += 1

    def execute(self, statement: Statement) -> StatementResult:
        self._cross_check(statement)
        index, self._index = self._index, self._index + 1
        table = statement.image_target
        if statement.kind is StatementKind.NON_TRANSACTIONAL:
            # Only on a clone (the session allows nothing else): end the transaction so far,
            # run the statement on its own, and go on in a new one. Counts are the backend's
            # own, so nothing measured is lost.
            self.commit()
            result = self._execute_plain(statement)
            self._con.begin()
        elif statement.kind is StatementKind.DML and self._config.capture == "images" and table:
            result = self._execute_imaged(statement, table, index)
        else:
            result = self._execute_plain(statement)
        if statement.kind is StatementKind.DML and result.rowcount:
            self._attribute(statement, result.rowcount)
        return result

    def _execute_plain(self, statement: Statement) -> StatementResult:
        cursor = self._run(statement, statement.sql)
        columns = [d[0] for d in cursor.description or []]
        rows = cursor.fetchmany(MAX_RESULT_ROWS + 1)
        if statement.kind is StatementKind.DML and not statement.has_returning:
            return StatementResult(statement.sql, statement.kind, int(rows[0][0]) if rows else 0)
        more = len(rows) > MAX_RESULT_ROWS
        counted = len(rows) + (len(cursor.fetchall()) if more else 0)
        return StatementResult(
            statement.sql,
            statement.kind,
            counted if statement.kind is StatementKind.DML else None,
            columns,
            [list(r) for r in rows[:MAX_RESULT_ROWS]],
            more,
        )

    def _execute_imaged(
        self, statement: Statement, table: exp.Table, index: int
    ) -> StatementResult:
        name = self._canonical(table)
        meta = self._table(name)
        images = StatementImages(index, name, list(meta.key))
        if name.count(".") != 1:
            images.missing = f"table {name} has a '.' in its name"
        update = isinstance(statement.ast, exp.Update)
        if update and statement.chooses_rows_unrepeatably:
            images.missing = UNREPEATABLE_ROWS
            result = self._execute_plain(statement)
            self._keep(images)
            return result
        if update and not statement.has_returning and self._keeps_rowids(statement, meta):
            if self._deferrable(name):
                return self._execute_update_deferred(statement, images)
            return self._execute_update_in_place(statement, images)
        query = preselect(statement, self.dialect, self._key_and_row(images), lock=False)
        before_rows = self._query(query) if query is not None and update else []
        befores = list({rowid: (k, image) for rowid, k, image in before_rows}.values())
        returning = self._key_and_row(images)(row_reference(table, self.dialect))
        cursor = self._run(statement, with_returning(statement, *returning))
        columns = [d[0] for d in cursor.description or []]
        rows = cursor.fetchall()
        tails = [(r[-2], r[-1]) for r in rows]
        images.images = images_of(statement, befores, tails, bool(images.key))
        if statement.is_upsert:
            images.missing = "an upsert's replaced rows cannot be read on DuckDB"
        self._keep(images)
        return StatementResult.returned(statement, columns, rows, extra=2)

    def _key_and_row(self, images: StatementImages) -> Callable[[str], tuple[str, str]]:
        """SQL for a row's primary key and the whole row as JSON text, given its alias."""
        types = self._table(images.table).types

        def key_and_row(alias: str) -> tuple[str, str]:
            return (
                duckdb_row_json(alias, images.key, types) if images.key else "NULL::VARCHAR",
                duckdb_row_json(alias, list(types), types),
            )

        return key_and_row

    def _keep(self, images: StatementImages, count: int | None = None) -> None:
        self._budget.spend(images, count)
        self._effects.images.append(images)

    def _table(self, name: str) -> _TableMeta:
        """Columns, key and indexed columns of a table; cached until an action runs DDL (the
        catalog functions cost milliseconds each)."""
        if name not in self._tables:
            indexed: set[str] | None = set()
            for (columns,) in self._query(_INDEXED, [name, name]):
                names = [c.strip().strip('"') for c in str(columns).strip("[]").split(",")]
                if indexed is not None and all(n.isidentifier() for n in names):
                    indexed.update(names)
                else:
                    indexed = None  # an expression index: any column may be in it
            key = self._query(_KEY, [name])
            self._tables[name] = _TableMeta(
                dict(self._query(_TABLE_COLUMNS, [name])),
                tuple(key[0][0]) if key else (),
                None if indexed is None else frozenset(indexed),
            )
        return self._tables[name]

    def _keeps_rowids(self, statement: Statement, meta: _TableMeta) -> bool:
        """DuckDB updates rows in place, keeping their rowid, unless an indexed column changes
        (then it deletes and re-inserts). RETURNING is slow in DuckDB, so an UPDATE that keeps
        rowids reads its after images by rowid instead."""
        assert isinstance(statement.ast, exp.Update)
        assigned = {eq.this.name for eq in statement.ast.expressions if isinstance(eq, exp.EQ)}
        return meta.indexed is not None and not assigned & meta.indexed

    def _deferrable(self, table: str) -> bool:
        """Whether an UPDATE of ``table`` may leave its images to ``settle``: no DDL in the
        action, and no other statement of it writing that table (or writing through a CTE), so
        the table is as the snapshot has it until the UPDATE, and as it left it afterwards."""
        return not self._ddl and self._writers[table] == 1 and "*" not in self._writers

    def _execute_update_deferred(
        self, statement: Statement, images: StatementImages
    ) -> StatementResult:
        rowids = f"{self._private}_{images.statement}"
        assert isinstance(statement.ast, exp.Update)
        distinct = "DISTINCT " if statement.ast.args.get("from_") else ""
        matched = matched_row_ids(statement, self.dialect)
        self._query(
            f"CREATE TEMP TABLE {rowids} AS SELECT {distinct}q.rowid AS r FROM ({matched}) AS q"
        )
        if not self._pinned:
            # Pinned after the transaction itself (the query above read the table): a change
            # another connection commits in between makes this UPDATE conflict, never a
            # before image wrong.
            self._snapshot.begin()
            self._snapshot.execute(f"SELECT 1 FROM {quote_table(images.table)} LIMIT 0").fetchall()
            self._pinned = True
        count = int(self._run(statement, statement.sql).fetchall()[0][0])
        self._keep(images, count)
        if images.missing:
            self._query(f"DROP TABLE temp.{rowids}")
        else:
            self._deferred.append(_Deferred(images, statement, rowids, count))
        return StatementResult(statement.sql, statement.kind, count)

    def settle(self) -> None:
        deferred, self._deferred = self._deferred, []
        try:
            with many_images():
                for item in deferred:
                    self._settle(item)
        finally:
            self._release_snapshot()

    def _settle(self, item: _Deferred) -> None:
        images, table = item.images, quote_table(item.images.table)
        row = self._key_and_row(images)("t")[1]
        rowids, params = self._rowid_condition(item.rowids)
        try:
            before_rows = self._snapshot.execute(
                f"SELECT t.rowid, {row} FROM {table} AS t WHERE {rowids}", params
            ).fetchall()
        except duckdb.Error as exc:
            raise ExecutionError(
                f"goex could not read the row images on DuckDB: {error_reason(exc)}"
            ) from exc
        after_rows = self._query(
            f"SELECT t.rowid, {row} FROM {table} AS t SEMI JOIN temp.{item.rowids} AS g "
            "ON t.rowid = g.r"
        )
        self._query(f"DROP TABLE temp.{item.rowids}")
        befores = dict(before_rows)
        if item.count == len(after_rows) == len(befores) and all(
            rowid in befores for rowid, _ in after_rows
        ):
            images.images = [RowImage(befores[rowid], image) for rowid, image in after_rows]
        else:  # not expected: the snapshot or the transaction lost rows the UPDATE changed
            images.missing = f"the updated rows of {images.table} could not be read again"

    def _rowid_condition(self, rowids: str) -> tuple[str, list[Any]]:
        """A condition on ``t.rowid`` selecting the ids kept in the temporary table ``rowids``,
        for another connection (which cannot see it): a few runs of consecutive ids as
        BETWEEN ranges (scanned like a slice of the table), else the ids as a list."""
        runs = self._query(
            f"SELECT min(r), max(r) FROM (SELECT r, r - row_number() OVER (ORDER BY r) AS run "
            f"FROM temp.{rowids}) GROUP BY run ORDER BY 1 LIMIT {_MAX_RUNS + 1}"
        )
        if len(runs) <= _MAX_RUNS:
            ranges = " OR ".join(f"t.rowid BETWEEN {int(a)} AND {int(b)}" for a, b in runs)
            return f"({ranges or 'false'})", []
        [(ids,)] = self._query(f"SELECT list(r) FROM temp.{rowids}")
        return "t.rowid IN (SELECT unnest(?::BIGINT[]))", [ids]

    def _drop_deferred(self, why: str, *, tables: bool = False) -> None:
        """Forget the images not read yet, and with ``tables`` their temporary tables."""
        deferred, self._deferred = self._deferred, []
        for item in deferred:
            item.images.missing = why
            if tables:
                self._query(f"DROP TABLE IF EXISTS temp.{item.rowids}")
        self._release_snapshot()

    def _release_snapshot(self) -> None:
        if self._pinned:
            self._pinned = False
            with contextlib.suppress(duckdb.Error):
                self._snapshot.rollback()

    def _execute_update_in_place(
        self, statement: Statement, images: StatementImages
    ) -> StatementResult:
        """An UPDATE whose images are read now: the rows before it runs, by the statement's
        own FROM/WHERE, then the same rows after it, by row id."""
        key_and_row = self._key_and_row(images)
        query = preselect(statement, self.dialect, key_and_row, lock=False)
        assert query is not None
        befores = {rowid: image for rowid, _, image in self._query(query)}
        count = int(self._run(statement, statement.sql).fetchall()[0][0])
        after_rows = self._query(
            f"SELECT t.rowid, {key_and_row('t')[1]} FROM {quote_table(images.table)} AS t "
            "WHERE t.rowid IN (SELECT unnest(?))",
            [list(befores)],
        )
        if count == len(befores) == len(after_rows):
            images.images = [RowImage(befores[rowid], image) for rowid, image in after_rows]
        else:
            images.missing = f"the rows of {images.table} could not be re-read after the UPDATE"
        self._keep(images)
        return StatementResult(statement.sql, statement.kind, count)

    def _run(self, statement: Statement, text: str) -> duckdb.DuckDBPyConnection:
        try:
            return self._con.execute(text)
        except duckdb.Error as exc:
            raise ExecutionError(
                f"DuckDB refused the statement: {error_reason(exc)}", statement=statement.sql
            ) from exc

    def _cross_check(self, statement: Statement) -> None:
        if (statement.sql, statement.kind) in self._agreed:
            return
        try:
            parsed = self._con.extract_statements(statement.sql)
        except duckdb.Error as exc:
            raise ExecutionError(
                f"DuckDB cannot parse the statement: {error_reason(exc)}", statement=statement.sql
            ) from exc
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

    def _canonical(self, table: exp.Table) -> str:
        """``schema.table`` as the catalog spells it (DuckDB matches names case-insensitively,
        quoted or not)."""
        schema = table.db or "main"
        key = f"{schema}.{table.name}".casefold()
        if key not in self._names:
            found = self._query(_CANONICAL, [schema, table.name])
            if not found:  # not a table (yet): do not cache
                return f"{schema}.{table.name}"
            self._names[key] = str(found[0][0])
        return self._names[key]

    def _attribute(self, statement: Statement, rows: int) -> None:
        target = statement.image_target
        if target is None:
            self._effects.side_effects.append(
                f"{rows} rows changed by a statement writing "
                f"{', '.join(statement.tables_written) or 'unknown tables'}"
            )
            return
        name = self._canonical(target)
        table = self._effects.table(name)
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
        if self._ddl:
            self._effects.schema_changes = diff_catalog(self._catalog_before, self._catalog())
        return self._effects

    def _catalog(self) -> Catalog:
        catalog = Catalog()
        for table, column, dtype, default in self._query(_COLUMNS):
            catalog.columns.setdefault(table, {})[column] = (dtype, default)
        catalog.indexes = {r[0]: (r[1], r[2], r[3]) for r in self._query(_INDEXES)}
        catalog.constraints = {r[0]: (r[1], r[2], r[3]) for r in self._query(_CONSTRAINTS)}
        return catalog

    def _query(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        try:
            return self._con.execute(sql, params).fetchall()
        except duckdb.Error as exc:
            raise ExecutionError(f"goex could not measure on DuckDB: {error_reason(exc)}") from exc

    def savepoint(self, name: str) -> None:
        raise StateError("DuckDB has no savepoints")

    def rollback_to(self, name: str) -> None:
        raise StateError("DuckDB has no savepoints")

    def commit(self) -> None:
        self.settle()
        try:
            self._con.commit()
        except duckdb.Error as exc:
            raise ExecutionError(f"DuckDB could not commit: {error_reason(exc)}") from exc

    def rollback(self) -> None:
        # The temporary tables go with the transaction.
        self._drop_deferred("the action was rolled back before its row images were read")
        with contextlib.suppress(duckdb.TransactionException):  # none open: nothing to undo
            self._con.rollback()

    def close(self) -> None:
        self._release_snapshot()
        self._snapshot.close()
        self._con.close()

    def columns(self, table: str) -> dict[str, str]:
        return dict(self._query(_TABLE_COLUMNS, [table]))

    def table_sizes(self) -> dict[str, int]:
        """Approximate rows per table."""
        return dict(
            self._query(
                "SELECT schema_name || '.' || table_name, estimated_size FROM duckdb_tables() "
                "WHERE database_name = current_database()"
            )
        )

    def describe(self) -> str:
        return self._catalog().describe_for_model(self.table_sizes())


def error_reason(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
