"""The DuckDB backend: one held transaction per action, on a connection that can neither read
or write files nor turn that back on, with each statement checked again by DuckDB's own parser
(the package docstring says what is measured, and how).
"""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
from sqlglot import exp

import goexdb.backends.duckdb.queries as queries
from core.config import Capture, DbConfig
from core.errors import StateError, TargetError
from goexdb.backends.base import refuse_temporary_alter
from goexdb.backends.duckdb.crosscheck import CrossCheck
from goexdb.backends.duckdb.deferred import DeferredImages, keeps_rowids
from goexdb.backends.duckdb.errors import ignored_if_no_transaction, translated
from goexdb.backends.duckdb.names import Names
from goexdb.catalog import Catalog, diff_catalog
from goexdb.dsn import Target
from goexdb.duckdb_json import duckdb_json_unkept
from goexdb.effects import (
    MAX_RESULT_ROWS,
    Effects,
    ImageBudget,
    RowImage,
    StatementImages,
    StatementResult,
    TableColumns,
    fingerprint_created,
    images_of,
)
from goexdb.engines import DUCKDB, quote_table
from goexdb.schema import Schema
from goexdb.sql import (
    UNREPEATABLE_ROWS,
    Statement,
    StatementKind,
    preselect,
    row_reference,
    with_returning,
)

CONFIG: Mapping[str, Any] = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "lock_configuration": True,
}

# The translation of goex's own queries' errors, made once: it wraps many queries an action.
_MEASURING = translated("goex could not measure on DuckDB")


@dataclass(frozen=True)
class _TableMeta:
    types: dict[str, str]
    key: tuple[str, ...]
    indexed: frozenset[str] | None  # None: an expression index covers unknown columns


class DuckDBBackend:
    facts = DUCKDB
    dialect = DUCKDB.dialect
    server_version: int | None = None

    def __init__(self, target: Target, config: DbConfig) -> None:
        assert target.path is not None
        if not target.path.exists():
            raise TargetError(f"DuckDB database {target.path} does not exist")
        with translated(f"cannot open DuckDB database {target.path}", TargetError):
            self._con = duckdb.connect(str(target.path), config=dict(CONFIG))
        self._config = config
        self._tables: dict[str, _TableMeta] = {}
        self._names = Names(self.query)
        self._cross_check = CrossCheck(self._con)
        self._deferred = DeferredImages(self._con, self.query, lambda t: self._table(t).types)
        self._reset()

    def _reset(self) -> None:
        self._effects = Effects()
        self._catalog_before = Catalog()
        self._index = 0
        self._ddl = False
        self._writers: Counter[str] = Counter()  # DML statements per target table
        # Temporary tables of row ids are named with a secret of this action's, which SQL
        # written before the action ran cannot know.
        self._private = f"goex_{secrets.token_hex(8)}"
        self._names.refresh()
        self._deferred.drop("the action ended before its row images were read", tables=True)

    def begin(self, statements: Sequence[Statement], *, read_only: bool = False) -> None:
        self._budget = ImageBudget(self._config.max_row_images)  # the action's, over its steps
        self.mark(statements)  # DuckDB has no READ ONLY transaction: read_only changes nothing
        self._con.begin()

    def mark(self, statements: Sequence[Statement]) -> None:
        self._reset()
        self._ddl = any(
            s.kind in (StatementKind.DDL, StatementKind.NON_TRANSACTIONAL) for s in statements
        )
        if self._ddl:
            self._forget_tables()
            self._catalog_before = self._catalog()
        for statement in statements:
            if statement.kind is StatementKind.DML:
                target = statement.image_target
                self._writers[self._names.canonical(target) if target is not None else "*"] += 1

    def execute(
        self, statement: Statement, known: StatementImages | None = None
    ) -> StatementResult:
        self._cross_check(statement)
        refuse_temporary_alter(statement, self._names.temporary)
        index, self._index = self._index, self._index + 1
        table = statement.image_target
        if statement.kind is StatementKind.NON_TRANSACTIONAL:
            # Only on a clone (the session allows nothing else): end the transaction so far,
            # run the statement on its own, and go on in a new one. Counts are the backend's
            # own, so nothing measured is lost.
            self.commit()
            result = self._execute_plain(statement)
            self._con.begin()
        elif (
            statement.kind is StatementKind.DML
            and self._config.capture is Capture.IMAGES
            and table
            and not self._names.temporary(table)  # (its rows go with the session: no undo's)
        ):
            if known is None:
                result = self._execute_imaged(statement, table, index)
            else:
                result = self._execute_plain(statement)
                self._keep(known.ran(index, result.rowcount))
        else:
            result = self._execute_plain(statement)
            if statement.kind is StatementKind.DDL:  # a table renamed, a column added, ...
                self._forget_tables()
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
        name = self._names.canonical(table)
        meta = self._table(name)
        images = StatementImages(index, name, list(meta.key))
        update = isinstance(statement.ast, exp.Update)
        # Not a table of this database's catalog (none by that name): there are no columns to
        # read. The statement runs as written, so DuckDB says what is wrong. (Nor can rows with
        # JSON inside a struct or map be imaged exactly.)
        catalog = f"table {name} is not in the database's catalog"
        unreadable = self._names.misnamed(name) or (
            duckdb_json_unkept(meta.types) if meta.types else catalog
        )
        if unreadable or (update and statement.chooses_rows_unrepeatably):
            images.missing = unreadable or UNREPEATABLE_ROWS
            result = self._execute_plain(statement)
            self._keep(images)
            return result
        in_place = update and keeps_rowids(statement, meta.types, meta.indexed)
        if in_place and not statement.has_returning:
            if self._deferrable(name):
                return self._execute_update_deferred(statement, images)
            return self._execute_update_in_place(statement, images)
        query = preselect(statement, DUCKDB, self._key_and_row(images), lock=False)
        before_rows = self.query(query) if query is not None and update else []
        befores = list({rowid: (k, image) for rowid, k, image in before_rows}.values())
        returning = self._key_and_row(images)(row_reference(table, self.dialect))
        cursor = self._run(statement, with_returning(statement, *returning))
        columns = [d[0] for d in cursor.description or []]
        rows = cursor.fetchall()
        tails = [(r[-2], r[-1]) for r in rows]
        images_of(images, statement, befores, tails)
        if statement.is_upsert:
            images.missing = "an upsert's replaced rows cannot be read on DuckDB"
        self._keep(images)
        return StatementResult.returned(statement, columns, rows, extra=2)

    def _key_and_row(self, images: StatementImages) -> Callable[[str], tuple[str, str]]:
        """SQL for a row's primary key and the whole row as JSON text, given its alias."""
        types = self._table(images.table).types

        def key_and_row(alias: str) -> tuple[str, str]:
            return (
                DUCKDB.row_json(alias, images.key, types) if images.key else "NULL::VARCHAR",
                DUCKDB.row_json(alias, list(types), types),
            )

        return key_and_row

    def _keep(self, images: StatementImages, count: int | None = None) -> None:
        self._budget.spend(images, count)
        self._effects.images.append(images)

    def _table(self, name: str) -> _TableMeta:
        """Columns, key and indexed columns of a table; cached until DDL runs (read slowly)."""
        if name not in self._tables:
            indexed: set[str] | None = set()
            for (columns,) in self.query(queries.INDEXED, name, name):
                names = [c.strip().strip('"') for c in str(columns).strip("[]").split(",")]
                if indexed is not None and all(n.isidentifier() for n in names):
                    indexed.update(names)
                else:
                    indexed = None  # an expression index: any column may be in it
            key = self.query(queries.KEY, name)
            meta = _TableMeta(
                dict(self.query(queries.TABLE_COLUMNS, name)),
                tuple(key[0][0]) if key else (),
                None if indexed is None else frozenset(indexed),
            )
            if not meta.types:  # not a table (yet): not cached
                return meta
            self._tables[name] = meta
        return self._tables[name]

    def _forget_tables(self) -> None:
        self._tables.clear()
        self._names.forget()

    def _deferrable(self, table: str) -> bool:
        """Whether an UPDATE of ``table`` may leave its images to ``settle``: no DDL in the
        action, and no other statement of it writing that table (or writing through a CTE), so
        the table is as the snapshot has it until the UPDATE, and as it left it afterwards."""
        return not self._ddl and self._writers[table] == 1 and "*" not in self._writers

    def _execute_update_deferred(
        self, statement: Statement, images: StatementImages
    ) -> StatementResult:
        rowids = f"{self._private}_{images.statement}"
        rows = self._deferred.prepare(statement, images, rowids)
        count = int(self._run(statement, statement.sql).fetchall()[0][0])
        count = self._deferred.counted(statement, rowids, rows, count)
        self._keep(images, count)
        self._deferred.hold(images, statement, rowids, count)
        return StatementResult(statement.sql, statement.kind, count)

    def settle(self) -> None:
        self._deferred.settle()

    def _execute_update_in_place(
        self, statement: Statement, images: StatementImages
    ) -> StatementResult:
        """An UPDATE whose images are read now: the rows before it runs, by the statement's
        own FROM/WHERE, then the same rows after it, by row id."""
        key_and_row = self._key_and_row(images)
        query = preselect(statement, DUCKDB, key_and_row, lock=False)
        assert query is not None
        matches = self.query(query)  # with FROM, a row once per join match
        befores = {rowid: image for rowid, _, image in matches}
        count = int(self._run(statement, statement.sql).fetchall()[0][0])
        if count == len(matches) != len(befores):  # DuckDB counted each join match
            count = len(befores)
        after_rows = self.query(
            f"SELECT t.rowid, {key_and_row('t')[1]} FROM {quote_table(images.table)} AS t "
            "WHERE t.rowid IN (SELECT unnest(?))",
            list(befores),
        )
        if count == len(befores) == len(after_rows):
            images.images = [RowImage(befores[rowid], image) for rowid, image in after_rows]
        else:
            images.missing = f"the rows of {images.table} could not be re-read after the UPDATE"
        self._keep(images)
        return StatementResult(statement.sql, statement.kind, count)

    def _run(self, statement: Statement, text: str) -> duckdb.DuckDBPyConnection:
        with translated("DuckDB refused the statement", statement=statement.sql):
            return self._con.execute(text)

    def temporary_tables(self) -> list[str]:
        return self._names.temporaries()

    def _attribute(self, statement: Statement, rows: int) -> None:
        target = statement.image_target
        if target is None:
            self._effects.side_effects.append(
                f"{rows} rows changed by a statement writing "
                f"{', '.join(statement.tables_written) or 'unknown tables'}"
            )
            return
        name = self._names.canonical(target)
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
            fingerprint_created(
                self._effects,
                DUCKDB,
                lambda sql: self.query(sql)[0][0],
                lambda table: self._names.misnamed(table) is not None,
            )
        return self._effects

    def _catalog(self) -> Catalog:
        return queries.read_catalog(self.query)

    def query(self, sql: str, /, *params: Any) -> list[tuple[Any, ...]]:
        with _MEASURING:
            return self._con.execute(sql, list(params)).fetchall()

    def restoring(self, settings: Mapping[str, str]) -> bool:
        return False  # DuckDB has no triggers, rules or foreign-key actions to turn off

    def dangling(self, tables: Sequence[str]) -> list[dict[str, object]]:
        return []  # DuckDB checks every foreign key as each row is written

    def savepoint(self, name: str) -> None:
        raise StateError("DuckDB has no savepoints")

    release = rollback_to = savepoint

    def commit(self) -> None:
        self.settle()
        with translated("DuckDB could not commit"):
            self._con.commit()

    def rollback(self) -> None:
        # The temporary tables go with the transaction.
        self._deferred.drop("the action was rolled back before its row images were read")
        with ignored_if_no_transaction():  # none open: nothing to undo
            self._con.rollback()

    def close(self) -> None:
        self._deferred.close()
        self._con.close()

    def columns(self, table: str) -> TableColumns:
        generated = self.query(queries.GENERATED_COLUMNS, table)
        types = dict(self.query(queries.TABLE_COLUMNS, table))
        return TableColumns(types, frozenset(name for (name,) in generated))

    def table_sizes(self) -> dict[str, int]:
        """Approximate rows per table."""
        return dict(self.query(queries.TABLE_SIZES))

    def describe(self) -> Schema:
        return queries.read_schema(self.query)
