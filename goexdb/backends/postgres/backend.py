"""The PostgreSQL backend: one held transaction per action, measured from inside it (the
package docstring says what is measured, and how).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import psycopg
import psycopg.sql
from psycopg.pq.abc import PGresult
from sqlglot import exp

import goexdb.backends.postgres.queries as queries
from core.config import Capture, DbConfig, ImagePath
from core.errors import TargetError
from goexdb.backends.base import refuse_temporary_alter
from goexdb.backends.postgres import lossy
from goexdb.backends.postgres.cascaded import Cascaded
from goexdb.backends.postgres.errors import commit_failure, falling_back, translated
from goexdb.backends.postgres.holdings import (
    SCHEMA_CHANGING,
    Holdings,
    SchemaWatch,
    follow_table_renames,
)
from goexdb.backends.postgres.imaging import Imaging
from goexdb.backends.postgres.wire import Wire
from goexdb.catalog import Catalog, diff_catalog
from goexdb.dsn import Target
from goexdb.effects import (
    MAX_RESULT_ROWS,
    Effects,
    ImageBudget,
    StatementImages,
    StatementResult,
    TableColumns,
    fingerprint_created,
    many_images,
)
from goexdb.engines import POSTGRES
from goexdb.renames import renamed_tables
from goexdb.schema import Schema
from goexdb.sql import (
    Statement,
    StatementKind,
    qualified,
    with_returning,
)

# Only DDL (and, on a clone, VACUUM FULL, CLUSTER, ...) changes the catalog or rewrites.
# The translation of goex's own queries' errors, made once: it wraps several round trips an action.
_MEASURING = translated("goex could not measure on PostgreSQL")


class PostgresBackend:
    facts = POSTGRES
    dialect = POSTGRES.dialect

    def __init__(self, target: Target, config: DbConfig) -> None:
        self._config = config
        with translated(f"cannot connect to PostgreSQL at {target.display}", TargetError):
            self._con = psycopg.connect(target.conninfo, autocommit=False, connect_timeout=10)
        self._wire = Wire(self._con)
        self._cascaded = Cascaded(self.query, target.conninfo, config.lock_timeout)
        self.server_version: int | None = self._con.info.server_version
        # Row counts this session has not flushed to the statistics yet, which
        # pg_stat_get_xact_tuples_* would add to the next transaction's: none in a new session.
        # PostgreSQL 15 and later can be told to flush them as the transaction ends, so the
        # next action's counts start from zero and need no baseline read at its BEGIN.
        self._counts_pending = False
        self._flushes = POSTGRES.flushes_counts(self.server_version)
        self._flush_asked = False  # by this transaction
        # DDL ran in this transaction (whatever mark() was told since): what goex's prepared
        # statements return may change again when it is rolled back.
        self._ran_ddl = False
        self._returning_old_new = config.image_path is ImagePath.RETURNING or (
            config.image_path is ImagePath.AUTO and POSTGRES.returning_old_new(self.server_version)
        )
        timeouts = (
            f"SET LOCAL {name} = '{int(seconds * 1000)}ms'; "
            for name, seconds in (
                ("lock_timeout", config.lock_timeout),
                ("statement_timeout", config.statement_timeout),
                ("idle_in_transaction_session_timeout", config.idle_timeout),
            )
        )
        flush = "SELECT pg_stat_force_next_flush()" if self._flushes else ""
        self._begin = f"BEGIN; {''.join(timeouts)}{flush}".encode()
        self._reset()

    def _reset(self) -> None:
        self._effects = Effects()
        self._baseline: dict[str, tuple[int, int, int]] = {}
        self._carried: dict[str, tuple[int, int, int]] = {}  # counts of transactions ended early
        self._carried_roots: dict[str, str] = {}  # and the partitions' roots they held then
        self._sequences: dict[str, int | None] = {}  # used by transactions ended early
        self._explained: dict[str, int] = {}
        self._catalog_before = Catalog()
        self._filenodes: list[tuple[Any, ...]] = []
        self._locks_seen: set[tuple[str, str]] = set()
        self._ddl = False
        self._remaining = 0
        self._last: Statement | None = None
        self._index = 0

    def begin(self, statements: Sequence[Statement], *, read_only: bool = False) -> None:
        self._budget = ImageBudget(self._config.max_row_images)  # the action's, over its steps
        self._reset()
        self._open(self._begin.replace(b"BEGIN;", b"BEGIN READ ONLY;", 1) if read_only else None)
        self._expect(statements)

    def restoring(self, settings: Mapping[str, str]) -> bool:
        return queries.restoring(self.query, settings, self.server_version)

    def dangling(self, tables: Sequence[str]) -> list[dict[str, object]]:
        return queries.dangling(self.query, tables)

    def mark(self, statements: Sequence[Statement]) -> None:
        """Measure the coming statements apart, in the transaction already open."""
        self._reset()
        self._baseline = self._read_baseline()
        self._locks_seen = set(Holdings.read(self._json(queries.HELD)).locks)
        self._expect(statements)

    def _open(self, begin: bytes | None = None) -> None:
        """BEGIN, the local timeouts and (15+) the request to flush this transaction's counts
        as it ends, in one round trip; then the counts earlier transactions left, if any."""
        if self._con.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            self._end_transaction()  # whatever was left open
        if self._ran_ddl:  # however the last transaction ended, a failed COMMIT included
            self._wire.forget()
            self._ran_ddl = False
        # A lost connection cannot roll back: the failure to BEGIN is the one reported.
        describe = "goex could not open a transaction on PostgreSQL"
        with translated(describe, cleanup=self._end_transaction):
            self._wire.command(begin or self._begin)
        self._flush_asked = self._flushes
        if self._counts_pending:
            self._baseline = self._read_baseline()

    def _read_baseline(self) -> dict[str, tuple[int, int, int]]:
        return {r[0]: (r[1], r[2], r[3]) for r in self._json(queries.BASELINE)}

    def _expect(self, statements: Sequence[Statement]) -> None:
        self._remaining = len(statements)
        self._ddl = any(s.kind in SCHEMA_CHANGING for s in statements)
        self._watch = SchemaWatch.since(self._baseline)
        if self._ddl:
            self._catalog_before = self._catalog()
            self._filenodes = self.query(queries.FILENODES)

    def execute(
        self, statement: Statement, known: StatementImages | None = None
    ) -> StatementResult:
        refuse_temporary_alter(
            statement,
            lambda t: self.query(queries.TEMPORARY, qualified(t, "postgres")) == [(True,)],
        )
        self._counts_pending = True
        changes_schema = statement.kind in SCHEMA_CHANGING
        if isinstance(statement.ast, exp.TruncateTable) and self._config.capture is Capture.IMAGES:
            self._effects.images += self._cascaded.emptied(statement.ast, self._index, self._budget)
        self._ran_ddl |= changes_schema
        index, self._index = self._index, self._index + 1
        table = statement.image_target
        if self._explained and (renamed := renamed_tables(statement, self.dialect)):
            self._explained = follow_table_renames(self._explained, renamed, self._resolve)
        if statement.kind is StatementKind.NON_TRANSACTIONAL:
            result = self._execute_outside(statement)
        elif (
            statement.kind is StatementKind.DML and self._config.capture is Capture.IMAGES and table
        ):
            if known is None:
                result = self._execute_imaged(statement, table, index)
            else:
                result = self._execute_plain(statement)
                self._keep(known.ran(index, result.rowcount))
        else:
            result = self._execute_plain(statement)
        if changes_schema:
            self._wire.forget()
        for name in statement.tables_written:
            self._explained[name] = self._explained.get(name, 0) + max(result.rowcount or 0, 0)
        self._remaining -= 1
        self._last = statement
        if self._remaining > 0:  # the last statement's locks are read with measure()
            self._held()
        return result

    def _note_locks(self, locks: Sequence[Sequence[str]], statement: Statement) -> None:
        """Record the relation locks not held before, as first taken by this statement."""
        for relation, mode in locks:
            if (relation, mode) not in self._locks_seen:
                self._locks_seen.add((relation, mode))
                self._effects.locks.append(
                    {"relation": relation, "mode": mode, "statement": statement.sql.strip()[:200]}
                )

    def _held(self) -> Holdings:
        """What the transaction holds now, the last statement's new locks noted as its own."""
        held = Holdings.read(self._json(queries.HELD))
        if self._last is not None:
            self._note_locks(held.locks, self._last)
            self._watch.saw(held.catalog_writes, self._last)
        return held

    def _execute_plain(self, statement: Statement) -> StatementResult:
        result = self._run_statement(statement, statement.sql)
        rows = self._wire.rows(result, MAX_RESULT_ROWS + 1)
        return StatementResult(
            statement.sql,
            statement.kind,
            result.command_tuples if statement.kind is StatementKind.DML else None,
            self._wire.columns(result),
            [list(r) for r in rows[:MAX_RESULT_ROWS]],
            len(rows) > MAX_RESULT_ROWS,
        )

    def _execute_outside(self, statement: Statement) -> StatementResult:
        """Run a statement that cannot run in a transaction block (the session allows this on a
        clone only): end the transaction so far, keeping what it measured, run the statement
        on its own, and open a new transaction with the same timeouts."""
        held = self._held()
        self._carried = self._changes(held.counts)
        self._carried_roots.update(held.roots)
        self._sequences.update(held.sequences)
        self._con.commit()
        self._con.autocommit = True
        try:
            result = self._execute_plain(statement)
        finally:
            self._con.autocommit = False
        self._counts_pending = True  # the statement ran outside the flush asked for
        self._open()
        self._locks_seen = set()
        return result

    def _execute_imaged(
        self, statement: Statement, table: exp.Table, index: int
    ) -> StatementResult:
        found = self.query(queries.TABLE, qualified(table, self.dialect))
        if not found or POSTGRES.temporary(f"{found[0][0]}.{found[0][1]}"):
            # (no table: let the statement raise the server's "does not exist"; a temporary
            # one: its rows go with the session, and no undo puts them back)
            return self._execute_plain(statement)
        imaging = Imaging(statement, table, index, found[0], self._returning_old_new)
        imaging.read_first(self.query)
        with many_images():
            result = self._run_statement(statement, with_returning(statement, *imaging.extra))
            columns, rows = self._wire.columns(result), self._wire.rows(result)
            images = imaging.returned(rows)
        self._keep(images)
        return StatementResult.returned(statement, columns, rows, extra=len(imaging.extra))

    def _keep(self, images: StatementImages) -> None:
        self._budget.spend(images)
        self._effects.images.append(images)

    def measure(self) -> Effects:
        effects = self._effects
        held = self._held()
        # Rows a statement reported for a partitioned table are drawn on by its partitions.
        explained = self._catalog_names(held)
        held.roots = {**self._carried_roots, **held.roots}
        held.note(effects, self._changes(held.counts), explained, self._sequences)
        effects.schema_changes = self._watch.changes(
            [] if self._ddl else effects.locks
        )  # (DDL's own)
        if self._ddl:
            effects.schema_changes[:0] = diff_catalog(self._catalog_before, self._catalog())
            fingerprint_created(effects, POSTGRES, lambda sql: self.query(sql)[0][0])
            effects.rewrites = queries.rewritten(self._filenodes, self.query(queries.FILENODES))
        # (rows written by a transaction that ended early are no longer the action's to find)
        if self._config.capture is Capture.IMAGES and not self._carried:
            exclusive = {name for name, mode in held.locks if mode == "AccessExclusiveLock"}
            self._cascaded.image(effects, held.roots, exclusive, self._budget)
            effects.settings = json.loads(self.query(queries.SETTINGS)[0][0])
            if (asked := lossy.asked(effects)) is not None:
                lossy.note(effects, self.query(lossy.KEPT, *asked)[0])
        return effects

    def settle(self) -> None:
        """Nothing to do: PostgreSQL's row images are read as each statement runs."""

    def _resolve(self, written: list[str]) -> dict[str, str | None]:
        return dict(self.query(queries.RESOLVE, json.dumps(written, ensure_ascii=False)))

    def _catalog_names(self, held: Holdings) -> dict[str, int]:
        """The rows the statements reported, by the catalog name of the table each named."""
        names = {written: held.named(written) for written in self._explained}
        unsure = [written for written, name in names.items() if name is None]
        if unsure:
            names.update(self._resolve(unsure))
        rows: dict[str, int] = {}
        for written, name in names.items():
            if name is not None:  # None: no such table (any more)
                rows[name] = rows.get(name, 0) + self._explained[written]
        return rows

    def _changes(self, counts: dict[str, tuple[int, int, int]]) -> dict[str, tuple[int, int, int]]:
        """Rows inserted, updated, deleted per table: the transaction's statistics minus those
        read at BEGIN, plus what transactions ended early (on a clone) counted."""
        changes = dict(self._carried)
        for name, now in counts.items():
            before = self._baseline.get(name, (0, 0, 0))
            carried = changes.get(name, (0, 0, 0))
            ins, upd, dele = (c + n - b for c, n, b in zip(carried, now, before, strict=True))
            changes[name] = (ins, upd, dele)
        return changes

    def savepoint(self, name: str) -> None:
        self._at_savepoint("set", "SAVEPOINT {}", name)

    def release(self, name: str) -> None:
        self._at_savepoint("release", "RELEASE SAVEPOINT {}", name)

    def rollback_to(self, name: str) -> None:
        self._at_savepoint("roll back to", "ROLLBACK TO SAVEPOINT {0}; RELEASE SAVEPOINT {0}", name)
        if self._ran_ddl:
            self._wire.forget()

    def _at_savepoint(self, what: str, command: str, name: str) -> None:
        query = psycopg.sql.SQL(command).format(psycopg.sql.Identifier(name))
        with translated(f"goex could not {what} savepoint {name} on PostgreSQL", TargetError):
            self._con.execute(query)

    def commit(self) -> None:
        try:
            self._con.commit()
        except psycopg.Error as exc:
            raise commit_failure(exc, self._config, broken=self._con.broken) from exc
        self._ended()

    def rollback(self) -> None:
        if self._con.closed:
            return
        self._end_transaction()
        self._ended()

    def _end_transaction(self) -> None:
        with falling_back(self._con.rollback):  # psycopg's own knows a connection that broke
            self._wire.command(b"ROLLBACK")

    def _ended(self) -> None:
        """The transaction ended. If it asked for the counts to be flushed, PostgreSQL did so
        before it answered, so none are pending."""
        if self._flush_asked:
            self._counts_pending = self._flush_asked = False

    def close(self) -> None:
        self._con.close()

    def temporary_tables(self) -> list[str]:
        return [str(row[0]) for row in self.query(queries.TEMPORARIES)]

    def columns(self, table: str) -> TableColumns:
        return self._catalog().table_columns(table)

    def table_sizes(self) -> dict[str, int]:
        """Approximate rows per table (the planner's estimate; -1 when never analysed)."""
        return dict(self.query(queries.TABLE_SIZES))

    def describe(self) -> Schema:
        return queries.read_schema(self.query)

    def _catalog(self) -> Catalog:
        return queries.read_catalog(self.query)

    def _run_statement(self, statement: Statement, text: str) -> PGresult:
        with translated("PostgreSQL refused the statement", statement=statement.sql):
            # The extended protocol is the server's own guarantee of exactly one command:
            # if goex's split ever disagreed with PostgreSQL's, the server refuses it.
            return self._wire.run(text.encode())

    def query(self, sql: str, /, *params: str) -> list[tuple[Any, ...]]:
        return self._wire.rows(self._measuring(sql, params))

    def _json(self, query: str) -> Any:
        """The one JSON value a query of goex's returns."""
        return json.loads(self._measuring(query).get_value(0, 0) or b"null")

    def _measuring(self, query: str, params: Sequence[str] = ()) -> PGresult:
        with _MEASURING:
            return self._wire.run(query.encode(), [p.encode() for p in params])
