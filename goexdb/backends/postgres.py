"""PostgreSQL backend: the only importer of psycopg.

One transaction per action, opened with ``SET LOCAL`` lock, statement and idle-in-transaction
timeouts, so a forgotten review releases its locks. Each statement is sent by the extended
protocol (prepared once it repeats): the server itself refuses a string holding two commands.
Effects are read from the open transaction:

* rows per table from the transaction's statistics (``pg_stat_get_xact_tuples_*``, cascades and
  triggers included) of the tables it holds locks on, minus the counts read at BEGIN; on
  PostgreSQL 15+ each transaction asks for its counts to be flushed as it ends
  (``pg_stat_force_next_flush()``), so the next one starts from zero and reads no baseline.
  What the statements' own row counts do not explain is reported as ``by_cascade_or_trigger``;
* row images of every row a DML statement changed, as ``row_to_json`` text: on PostgreSQL 18 with
  ``RETURNING old, new``; before 18 (or with ``image_path = "select"``) by locking and reading
  the rows an UPDATE will change with its own FROM/WHERE, and ``RETURNING`` the rest;
* schema changes from a catalog diff, relation locks from ``pg_locks`` after each statement,
  table rewrites from ``pg_class.relfilenode``, the sequences the transaction used (it holds
  their locks) and advisory locks taken: a rollback undoes neither.
"""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
import psycopg.sql
from psycopg.adapt import Transformer
from psycopg.generators import execute as _exchange
from psycopg.pq.abc import PGresult
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from core.config import DbConfig
from core.errors import ExecutionError, TargetError
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
    preselect,
    qualified,
    row_reference,
    with_returning,
)
from goexdb.undo import quote_ident

_USER_SCHEMAS = "NOT IN ('pg_catalog', 'information_schema') AND {0} NOT LIKE 'pg_toast%'"
_COLUMNS = f"""
    SELECT n.nspname || '.' || c.relname, a.attname, format_type(a.atttypid, a.atttypmod),
           pg_get_expr(d.adbin, d.adrelid)
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND a.attnum > 0 AND NOT a.attisdropped
      AND n.nspname {_USER_SCHEMAS.format("n.nspname")}
    ORDER BY 1, a.attnum
"""
_INDEXES = f"""
    SELECT i.indexrelid::text, n.nspname || '.' || c.relname, n.nspname || '.' || x.relname,
           pg_get_indexdef(i.indexrelid)
    FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_class x ON x.oid = i.indexrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname {_USER_SCHEMAS.format("n.nspname")}
"""
_CONSTRAINTS = f"""
    SELECT k.oid::text, n.nspname || '.' || c.relname, k.conname, pg_get_constraintdef(k.oid)
    FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname {_USER_SCHEMAS.format("n.nspname")}
"""
_FILENODES = f"""
    SELECT n.nspname || '.' || c.relname, c.relfilenode FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'm') AND n.nspname {_USER_SCHEMAS.format("n.nspname")}
"""
# Every relation and advisory lock this transaction holds, read after each statement in one
# round trip; pg_lock_status() reads the whole lock table, so once per query. Every table a
# transaction wrote (cascades and triggers included) is locked until it ends: its row counts come
# with its lock, and the root of its partition tree if it is a partition. So is every sequence
# it called nextval(), setval() or currval() on (a RowExclusiveLock): its value is read only
# then, as reading it takes that lock. Relations below 16384 are the system's own.
_HELD = """
    SELECT coalesce(json_agg(json_build_array(
             l.locktype, n.nspname, c.relname, l.relation, l.mode, c.relkind,
             CASE WHEN c.relkind IN ('r', 'p', 'm') THEN json_build_array(
               pg_stat_get_xact_tuples_inserted(l.relation),
               pg_stat_get_xact_tuples_updated(l.relation),
               pg_stat_get_xact_tuples_deleted(l.relation)) END,
             CASE WHEN c.relispartition THEN
               (SELECT rn.nspname || '.' || r.relname FROM pg_class r
                JOIN pg_namespace rn ON rn.oid = r.relnamespace
                WHERE r.oid = pg_partition_root(l.relation)) END,
             CASE WHEN c.relkind = 'S' AND l.mode = 'RowExclusiveLock' THEN
               CASE WHEN has_sequence_privilege(l.relation, 'SELECT,USAGE')
                    THEN pg_sequence_last_value(l.relation) END END)), '[]')
    FROM pg_locks l LEFT JOIN pg_class c ON c.oid = l.relation
    LEFT JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE l.pid = pg_backend_pid() AND l.granted
      AND (l.locktype = 'advisory' OR l.locktype = 'relation' AND l.relation >= 16384)
"""
# Counts left in the session's statistics by earlier transactions, over all user tables.
_BASELINE = """
    SELECT coalesce(json_agg(json_build_array(name, ins, upd, del)), '[]')
    FROM (SELECT (SELECT nspname FROM pg_namespace WHERE oid = relnamespace) || '.' || relname
                   AS name,
                 pg_stat_get_xact_tuples_inserted(oid) AS ins,
                 pg_stat_get_xact_tuples_updated(oid) AS upd,
                 pg_stat_get_xact_tuples_deleted(oid) AS del
          FROM pg_class WHERE relkind IN ('r', 'p', 'm') AND oid >= 16384) t
    WHERE ins + upd + del > 0
"""
# The tables named as written that the locks held could not tell apart, resolved by the server
# exactly as for the statements.
_RESOLVE = """
    SELECT x, (SELECT n.nspname || '.' || c.relname FROM pg_class c
               JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass(x))
    FROM json_array_elements_text($1::json) x
"""
# Only DDL (and, on a clone, VACUUM FULL, CLUSTER, ...) changes the catalog or rewrites.
_SCHEMA_CHANGING = (StatementKind.DDL, StatementKind.NON_TRANSACTIONAL)
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


@dataclass
class _Held:
    """What the transaction holds, from one reading of ``_HELD``."""

    locks: list[tuple[str, str]] = field(default_factory=list)  # relation, mode
    relations: set[tuple[str, str]] = field(default_factory=set)  # schema, name
    counts: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    roots: dict[str, str] = field(default_factory=dict)  # partition: root of its tree
    sequences: dict[str, int | None] = field(default_factory=dict)  # used: value, if readable
    advisory: int = 0

    @classmethod
    def read(cls, rows: Sequence[Sequence[Any]]) -> _Held:
        held = cls()
        for locktype, schema, relname, oid, mode, kind, counts, root, value in rows:
            if locktype == "advisory":
                held.advisory += 1
                continue
            name = f"{schema}.{relname}" if relname is not None else str(oid)
            held.locks.append((name, mode))
            if relname is not None:
                held.relations.add((schema, relname))
            if counts is not None:
                held.counts[name] = (counts[0], counts[1], counts[2])
            if root is not None:
                held.roots[name] = root
            if kind == "S" and mode == "RowExclusiveLock":
                held.sequences[name] = value
        return held

    def named(self, written: str) -> str | None:
        """The held relation a statement's table name (as written, SQL) can only mean, or None
        when unsure. A table a statement wrote is locked until the transaction ends, so if one
        held relation alone has its name (and schema, if given), it is that one."""
        parts = _name_parts(written)
        if parts is None:
            return None
        schema, relname = parts
        hits = [(s, r) for s, r in self.relations if r == relname and schema in (None, s)]
        return f"{hits[0][0]}.{hits[0][1]}" if len(hits) == 1 else None


@functools.lru_cache(maxsize=512)
def _name_parts(written: str) -> tuple[str | None, str | None] | None:
    """The schema (None if not given) and name a table name as written means to PostgreSQL:
    unquoted, ASCII letters in lower case. None for a name goex cannot read or with a database."""
    try:
        table = exp.to_table(written, dialect="postgres")
    except (ParseError, TokenError):
        return None
    if table.catalog:
        return None
    return _folded(table.args.get("db")), _folded(table.this)


def _folded(identifier: exp.Expression | None) -> str | None:
    if not isinstance(identifier, exp.Identifier):
        return None
    return identifier.name if identifier.quoted else identifier.name.translate(_ASCII_LOWER)


_TABLE = """
    SELECT n.nspname, c.relname,
           coalesce((SELECT array_agg(a.attname ORDER BY k.ord)
                     FROM pg_index i
                     CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY k(attnum, ord)
                     JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                     WHERE i.indrelid = c.oid AND i.indisprimary), '{}')
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.oid = to_regclass($1)
"""


class _Wire:
    """How every statement reaches the server: through libpq, with the extended protocol, so
    that the server itself refuses a text holding two commands. A text seen before is run as a
    prepared statement of goex's own (named once per session, at most ``LIMIT`` kept), so goex's
    measuring queries and an agent's repeated statement are planned once. Rows are loaded with
    psycopg's adapters. psycopg's own statement cache is off: nothing else prepares or
    deallocates on the connection, and psycopg's per-cursor machinery stays out of every round
    trip."""

    LIMIT = 256

    def __init__(self, con: psycopg.Connection[Any]) -> None:
        self._con = con
        con.prepare_threshold = None
        self._seen: dict[bytes, None] = {}  # run once, unnamed
        self._names: dict[bytes, bytes] = {}  # prepared: text -> name
        self._made = 0

    def run(self, text: bytes, params: Sequence[bytes] = ()) -> PGresult:
        pgconn = self._con.pgconn
        name = self._names.get(text)
        if name is None and text in self._seen:
            name = self._prepare(text)
        if name is None:
            _remember(self._seen, text, None, self.LIMIT)
            return self._answer(pgconn.send_query_params, text, params)
        return self._answer(pgconn.send_query_prepared, name, params)

    def command(self, text: bytes) -> PGresult:
        """Send goex's own command text as it is (several commands may share it)."""
        return self._answer(self._con.pgconn.send_query, text)

    def _prepare(self, text: bytes) -> bytes:
        name = b"goex_%d" % self._made
        self._made += 1
        self._answer(self._con.pgconn.send_prepare, name, text)
        evicted = _remember(self._names, text, name, self.LIMIT)
        if evicted is not None:
            self.command(b"DEALLOCATE " + evicted)
        return name

    def _answer(self, send: Callable[..., None], *args: Any) -> PGresult:
        """Send, then wait for the server's answer, raised as psycopg's error if it is one."""
        try:
            send(*args)
            results: list[PGresult] = self._con.wait(_exchange(self._con.pgconn))
        except (KeyboardInterrupt, SystemExit):
            self._stop()
            raise
        if not results:
            raise psycopg.InternalError("PostgreSQL sent no answer")
        result = results[-1]
        if result.status == psycopg.pq.ExecStatus.FATAL_ERROR:
            raise psycopg.errors.error_from_result(result, self._con.info.encoding)
        if result.status not in _ANSWERS:  # COPY: the classifier never lets one through
            self._con.close()
            status = psycopg.pq.ExecStatus(result.status).name
            raise psycopg.OperationalError(
                f"PostgreSQL answered {status}, which goex does not handle; the connection "
                "was closed, so nothing was committed"
            )
        return result

    def _stop(self) -> None:
        """Interrupted (Ctrl-C) with a statement sent: psycopg cancels it on the server if it
        was waiting for it; if the interruption came before, cancel it here and read its
        answer. If even that fails, close the connection, which ends the transaction."""
        if self._con.pgconn.transaction_status != psycopg.pq.TransactionStatus.ACTIVE:
            return
        try:
            self._con.cancel_safe(timeout=5.0)
            self._con.wait(_exchange(self._con.pgconn), timeout=5.0)
        except BaseException:
            self._con.close()

    def rows(self, result: PGresult, limit: int | None = None) -> list[tuple[Any, ...]]:
        if not result.nfields:
            return []
        loader = Transformer.from_context(self._con)
        loader.set_pgresult(result)
        count = result.ntuples if limit is None else min(result.ntuples, limit)
        return loader.load_rows(0, count, tuple)

    def columns(self, result: PGresult) -> list[str]:
        encoding = self._con.info.encoding
        return [(result.fname(i) or b"").decode(encoding) for i in range(result.nfields)]

    def forget(self) -> None:
        """Deallocate every prepared statement: DDL (run, or rolled back) may have changed
        what one returns, and PostgreSQL refuses a cached plan whose result changed."""
        if self._names:
            self._names.clear()
            with contextlib.suppress(psycopg.Error):  # a session that ended has none left
                self.command(b"DEALLOCATE ALL")


def _remember(cache: dict[bytes, Any], key: bytes, value: Any, limit: int) -> Any:
    """Add to a first-in first-out cache; the value pushed out, if one was."""
    cache[key] = value
    if len(cache) > limit:
        return cache.pop(next(iter(cache)))
    return None


_ANSWERS = (
    psycopg.pq.ExecStatus.COMMAND_OK,
    psycopg.pq.ExecStatus.TUPLES_OK,
    psycopg.pq.ExecStatus.EMPTY_QUERY,
)


class PostgresBackend:
    dialect = "postgres"

    def __init__(self, target: Target, config: DbConfig) -> None:
        self._config = config
        try:
            self._con = psycopg.connect(target.conninfo, autocommit=False, connect_timeout=10)
        except psycopg.Error as exc:
            raise TargetError(
                f"cannot connect to PostgreSQL at {target.display}: {error_reason(exc)}"
            ) from exc
        self._wire = _Wire(self._con)
        self.server_version: int | None = self._con.info.server_version
        # Row counts this session has not flushed to the statistics yet, which
        # pg_stat_get_xact_tuples_* would add to the next transaction's: none in a new session.
        # PostgreSQL 15 and later can be told to flush them as the transaction ends, so the
        # next action's counts start from zero and need no baseline read at its BEGIN.
        self._counts_pending = False
        self._flushes = self.server_version >= 150000
        self._flush_asked = False  # by this transaction
        # DDL ran in this transaction (whatever mark() was told since): what goex's prepared
        # statements return may change again when it is rolled back.
        self._ran_ddl = False
        self._returning_old_new = config.image_path == "returning" or (
            config.image_path == "auto" and self._con.info.server_version >= 180000
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
        self._sequences: dict[str, int | None] = {}  # used by transactions ended early
        self._explained: dict[str, int] = {}
        self._catalog_before = Catalog()
        self._filenodes: dict[str, int] = {}
        self._locks_seen: set[tuple[str, str]] = set()
        self._ddl = False
        self._remaining = 0
        self._last: Statement | None = None
        self._budget = ImageBudget(self._config.max_row_images)
        self._index = 0

    def begin(self, statements: Sequence[Statement]) -> None:
        self._reset()
        self._open()
        self._expect(statements)

    def mark(self, statements: Sequence[Statement]) -> None:
        """Measure the coming statements apart, in the transaction already open."""
        self._reset()
        self._baseline = self._read_baseline()
        self._locks_seen = set(self._read_held().locks)
        self._expect(statements)

    def _open(self) -> None:
        """BEGIN, the local timeouts and (15+) the request to flush this transaction's counts
        as it ends, in one round trip; then the counts earlier transactions left, if any."""
        if self._con.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            self._end_transaction()  # whatever was left open
        if self._ran_ddl:  # however the last transaction ended, a failed COMMIT included
            self._wire.forget()
            self._ran_ddl = False
        try:
            self._wire.command(self._begin)
        except psycopg.Error as exc:
            with contextlib.suppress(psycopg.Error):  # a lost connection cannot roll back
                self._end_transaction()
            raise ExecutionError(
                f"goex could not open a transaction on PostgreSQL: {error_reason(exc)}",
                sqlstate=exc.sqlstate,
            ) from exc
        self._flush_asked = self._flushes
        if self._counts_pending:
            self._baseline = self._read_baseline()

    def _read_baseline(self) -> dict[str, tuple[int, int, int]]:
        return {r[0]: (r[1], r[2], r[3]) for r in self._json(_BASELINE)}

    def _expect(self, statements: Sequence[Statement]) -> None:
        self._remaining = len(statements)
        self._ddl = any(s.kind in _SCHEMA_CHANGING for s in statements)
        if self._ddl:
            self._catalog_before = self._catalog()
            self._filenodes = {r[0]: r[1] for r in self._rows(_FILENODES)}

    def execute(self, statement: Statement) -> StatementResult:
        self._counts_pending = True
        changes_schema = statement.kind in _SCHEMA_CHANGING
        self._ran_ddl |= changes_schema
        index, self._index = self._index, self._index + 1
        table = statement.image_target
        if statement.kind is StatementKind.NON_TRANSACTIONAL:
            result = self._execute_outside(statement)
        elif statement.kind is StatementKind.DML and self._config.capture == "images" and table:
            result = self._execute_imaged(statement, table, index)
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

    def _read_held(self) -> _Held:
        return _Held.read(self._json(_HELD))

    def _held(self) -> _Held:
        """What the transaction holds now, the last statement's new locks noted as its own."""
        held = self._read_held()
        if self._last is not None:
            self._note_locks(held.locks, self._last)
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
        found = self._rows(_TABLE, qualified(table, self.dialect))
        if not found:  # let the statement itself raise the server's "does not exist"
            return self._execute_plain(statement)
        schema, relation, key = found[0][0], found[0][1], list(found[0][2])
        images = StatementImages(index, f"{schema}.{relation}", key)
        if "." in schema + relation:
            images.missing = f"table {schema}.{relation} has a '.' in its name"
        update = isinstance(statement.ast, exp.Update)

        def key_and_row(alias: str) -> tuple[str, str]:
            # row_to_json keeps json columns' text and numeric scale exactly as stored.
            return _key_json(alias, key), f"row_to_json({alias})::text"

        befores: list[tuple[str, str]] = []
        unrepeatable = update and statement.chooses_rows_unrepeatably
        if self._returning_old_new:
            extra = ("row_to_json(old)::text", "row_to_json(new)::text")
        else:
            extra = key_and_row(row_reference(table, self.dialect))
            query = preselect(statement, self.dialect, key_and_row, lock=True)
            if unrepeatable:
                images.missing = UNREPEATABLE_ROWS
            elif query is not None and update:
                befores = list({ctid: (k, image) for ctid, k, image in self._rows(query)}.values())
        with many_images():
            result = self._run_statement(statement, with_returning(statement, *extra))
            columns, rows = self._wire.columns(result), self._wire.rows(result)
            tails = [(r[-2], r[-1]) for r in rows]
            if self._returning_old_new:
                images.images = [RowImage(old, new) for old, new in tails]
            elif not unrepeatable:
                images.images = images_of(statement, befores, tails, bool(key))
                if statement.is_upsert:
                    images.missing = "before PostgreSQL 18, an upsert's old rows cannot be read"
        self._budget.spend(images)
        self._effects.images.append(images)
        return StatementResult.returned(statement, columns, rows, extra=2)

    def measure(self) -> Effects:
        effects = self._effects
        held = self._held()
        # Rows a statement reported for a partitioned table are drawn on by its partitions.
        explained = self._catalog_names(held)
        for name, change in sorted(self._changes(held.counts).items()):
            if any(change):
                table = effects.table(name)
                table.inserted, table.updated, table.deleted = change
                named = name if name in explained else held.roots.get(name)
                covered = min(sum(change), explained.get(named, 0)) if named else 0
                if named:
                    explained[named] -= covered
                table.by_cascade_or_trigger = sum(change) - covered
        if self._ddl:
            effects.schema_changes = diff_catalog(self._catalog_before, self._catalog())
            after = {r[0]: r[1] for r in self._rows(_FILENODES)}
            effects.rewrites = sorted(
                name
                for name, node in after.items()
                if name in self._filenodes and self._filenodes[name] != node
            )
        for name, value in sorted({**self._sequences, **held.sequences}.items()):
            now = "" if value is None else f", now at {value}"
            effects.side_effects.append(
                f"sequence {name} used by nextval(), setval() or currval(){now}: "
                "a rollback does not put it back"
            )
        if held.advisory:
            effects.side_effects.append(
                f"{held.advisory} advisory lock(s) held past the transaction"
            )
        return effects

    def settle(self) -> None:
        """Nothing to do: PostgreSQL's row images are read as each statement runs."""

    def _catalog_names(self, held: _Held) -> dict[str, int]:
        """The rows the statements reported, by the catalog name of the table each named."""
        names = {written: held.named(written) for written in self._explained}
        unsure = [written for written, name in names.items() if name is None]
        if unsure:
            names.update(self._rows(_RESOLVE, json.dumps(unsure, ensure_ascii=False)))
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
        self._con.execute(psycopg.sql.SQL("SAVEPOINT {}").format(psycopg.sql.Identifier(name)))

    def rollback_to(self, name: str) -> None:
        self._con.execute(
            psycopg.sql.SQL("ROLLBACK TO SAVEPOINT {}").format(psycopg.sql.Identifier(name))
        )
        if self._ran_ddl:
            self._wire.forget()

    def commit(self) -> None:
        try:
            self._con.commit()
        except psycopg.Error as exc:
            raise ExecutionError(
                _commit_failure(exc, self._config, broken=self._con.broken), sqlstate=exc.sqlstate
            ) from exc
        self._ended()

    def rollback(self) -> None:
        if self._con.closed:
            return
        self._end_transaction()
        self._ended()

    def _end_transaction(self) -> None:
        try:
            self._wire.command(b"ROLLBACK")
        except psycopg.Error:
            self._con.rollback()  # psycopg's own knows a connection that broke

    def _ended(self) -> None:
        """The transaction ended. If it asked for the counts to be flushed, PostgreSQL did so
        before it answered, so none are pending."""
        if self._flush_asked:
            self._counts_pending = self._flush_asked = False

    def close(self) -> None:
        self._con.close()

    def columns(self, table: str) -> dict[str, str]:
        return self._catalog().describe().get(table, {})

    def table_sizes(self) -> dict[str, int]:
        """Approximate rows per table (the planner's estimate; -1 when never analysed)."""
        return dict(
            self._rows(
                "SELECT n.nspname || '.' || c.relname, c.reltuples::bigint FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p')"
            )
        )

    def describe(self) -> str:
        return self._catalog().describe_for_model(self.table_sizes())

    def _catalog(self) -> Catalog:
        catalog = Catalog()
        for table, column, dtype, default in self._rows(_COLUMNS):
            catalog.columns.setdefault(table, {})[column] = (dtype, default)
        catalog.indexes = {r[0]: (r[1], r[2], r[3]) for r in self._rows(_INDEXES)}
        catalog.constraints = {r[0]: (r[1], r[2], r[3]) for r in self._rows(_CONSTRAINTS)}
        return catalog

    def _run_statement(self, statement: Statement, text: str) -> PGresult:
        try:
            # The extended protocol is the server's own guarantee of exactly one command:
            # if goex's split ever disagreed with PostgreSQL's, the server refuses it.
            return self._wire.run(text.encode())
        except psycopg.Error as exc:
            position = exc.diag.statement_position
            raise ExecutionError(
                f"PostgreSQL refused the statement: {error_reason(exc)}",
                statement=statement.sql,
                sqlstate=exc.sqlstate,
                position=int(position) if position else None,
            ) from exc

    def _rows(self, query: str, *params: str) -> list[tuple[Any, ...]]:
        return self._wire.rows(self._measuring(query, params))

    def _json(self, query: str) -> Any:
        """The one JSON value a query of goex's returns."""
        return json.loads(self._measuring(query).get_value(0, 0) or b"null")

    def _measuring(self, query: str, params: Sequence[str] = ()) -> PGresult:
        try:
            return self._wire.run(query.encode(), [p.encode() for p in params])
        except psycopg.Error as exc:
            raise ExecutionError(
                f"goex could not measure on PostgreSQL: {error_reason(exc)}",
                sqlstate=exc.sqlstate,
            ) from exc


def _key_json(alias: str, key: list[str]) -> str:
    """The primary key of a row as JSON text, computed by the server (NULL without a key)."""
    if not key:
        return "NULL::text"
    return f"json_build_array({', '.join(f'{alias}.{quote_ident(c)}' for c in key)})::text"


def _commit_failure(exc: psycopg.Error, config: DbConfig, *, broken: bool) -> str:
    """Why a commit failed, and whether anything was committed: the server ending the session
    (a timeout, a shutdown) answers before the COMMIT is read, so nothing was; a connection that
    broke with no such answer leaves it unknown."""
    if exc.sqlstate == "25P03":
        return (
            "PostgreSQL ended the held transaction at idle_in_transaction_session_timeout "
            f"({config.idle_timeout:g}s) while it waited for a decision, so nothing was committed"
        )
    if exc.sqlstate in ("57P01", "57P02", "57P03"):
        return (
            "the connection to PostgreSQL was lost while the transaction was held (the server "
            f"shut down or restarted: {error_reason(exc)}), so nothing was committed"
        )
    if broken:
        return (
            f"the connection to PostgreSQL broke during the commit ({error_reason(exc)}), so "
            "whether it committed is unknown; check the database before running the action again"
        )
    return f"PostgreSQL could not commit: {error_reason(exc)}"


def error_reason(exc: psycopg.Error) -> str:
    primary = exc.diag.message_primary if hasattr(exc, "diag") else None
    lines = str(exc).strip().splitlines()
    return (primary or (lines[0] if lines else type(exc).__name__)).rstrip(".")
