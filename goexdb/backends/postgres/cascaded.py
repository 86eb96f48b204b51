"""Row images of the rows no statement's RETURNING shows: the ones an action's cascades and
triggers changed (ON DELETE/UPDATE CASCADE, SET NULL, SET DEFAULT; a trigger writing any table).

Read once the statements have run, for each table whose transaction counts show rows no statement
reported (``by_cascade_or_trigger``), as images of the whole action so far, which replace the
statements' own images of that table:

- after-images, in the action's own transaction: the rows whose version it wrote, ``xmin`` one of
  its own transaction ids (the top one's or a subtransaction's): in progress to the server, where
  any other visible version's writer has committed;
- before-images, on a second connection that sees committed data only: the versions the action
  replaced or deleted, ``xmax`` in progress; no other transaction can have changed them since,
  as the action holds their row locks until it ends;

paired by primary key: a key in both is a row updated, only after a row inserted, only before a
row deleted (if the action no longer sees it, and the second connection, asked again, still
does: a row another transaction deleted and committed between the two reads is gone for both,
where the action's own delete is not yet seen by anyone else). A table without a primary key,
one locked by the action's DDL, images the counts do not account for, or a row holding a value
its image cannot keep (``goexdb.backends.postgres.lossy``) leave the images missing, saying why.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
from sqlglot import exp

import goexdb.backends.postgres.queries as queries
from goexdb.backends.postgres import lossy
from goexdb.effects import WHOLE_ACTION, Effects, ImageBudget, RowImage, StatementImages
from goexdb.engines import POSTGRES, quote_table
from goexdb.reversible import kept_apart
from goexdb.sql import qualified

_MINE = """
    WITH me AS (SELECT pg_current_xact_id()::text::bigint AS top)
    SELECT {key}, row_to_json(t.*)::text{flag} FROM {table} AS t, me
    WHERE age(t.xmin) <= 0 AND pg_xact_status((me.top + (t.xmin::text::bigint
          - me.top % 4294967296 + 4294967296) % 4294967296)::text::xid8) = 'in progress'
"""
# A 32-bit xmax made full against the snapshot's xmax (the latest completed xid + 1), which an
# xid still in progress can pass: their distance taken as signed, as the server compares xids.
_REPLACED = """
    WITH now AS (SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS next)
    SELECT {key}, row_to_json(t.*)::text{flag} FROM {table} AS t, now
    WHERE t.xmax::text <> '0' AND age(t.xmax) > 0 AND pg_xact_status((now.next - ((now.next
          % 4294967296 - t.xmax::text::bigint + 6442450944) % 4294967296 - 2147483648))::text::xid8)
          = 'in progress'
"""
_PRESENT = "SELECT {key} FROM {table} AS t WHERE {key} IN (SELECT json_array_elements_text($1))"
# On the second connection (psycopg's placeholders): keys still there, rows by key, and a count.
_PRESENT_COMMITTED = _PRESENT.replace("$1", "%s::json")
_BY_KEY = (
    "SELECT {key}, row_to_json(t.*)::text{flag} FROM {table} AS t "
    "WHERE {key} IN (SELECT json_array_elements_text(%s::json))"
)
_COUNT = "SELECT count(*) FROM {table}"
# A table's primary key columns, whether others inherit from it and its columns whose values an
# image may not keep, as text (the same read by any connection, typed or not).
_TABLE = (
    "SELECT to_json(t.key)::text, t.kin::text, t.lossy"
    f" FROM ({queries.TABLE}) AS t(n, r, key, kin, lossy)"
)

# The tables a TRUNCATE empties: those named, and with CASCADE those whose foreign keys refer to
# them, and so on (a partitioned table's rows are read through its root).
_EMPTIED = """
    WITH RECURSIVE emptied(relid) AS (
        SELECT to_regclass(x)::oid FROM json_array_elements_text($1::json) x
        UNION SELECT k.conrelid FROM pg_catalog.pg_constraint k
        JOIN emptied e ON k.confrelid = e.relid
        WHERE $2::bool AND k.contype = 'f' AND k.conparentid = 0)
    SELECT n.nspname || '.' || c.relname
    FROM emptied e JOIN pg_catalog.pg_class c ON c.oid = e.relid
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace ORDER BY 1
"""
_ALL = "SELECT {key}, row_to_json(t.*)::text{flag} FROM {table} AS t LIMIT $1"
# The tables among those named ($1, JSON) whose rows row-level security filters for this role.
_SECURED = (
    "SELECT x FROM json_array_elements_text($1::json) x WHERE row_security_active(to_regclass(x))"
)

Rows = Callable[..., list[tuple[Any, ...]]]


class Cascaded:
    """What reading these images needs: the action's own connection (``rows``: a query and its
    text parameters, the rows as tuples, text values as ``str``), and how to open a second
    one."""

    def __init__(self, rows: Rows, conninfo: str, timeout: float) -> None:
        self._rows, self._conninfo, self._timeout = rows, conninfo, timeout
        self._lossy: dict[str, list[list[str]]] = {}  # (as last read, by _table)

    def _key_of(self, table: str) -> list[str]:
        return self._table(table)[0]

    def _table(self, table: str) -> tuple[list[str], bool]:
        """Its primary key, and whether other tables inherit from it (``queries.TABLE``); its
        columns whose values an image may not keep are kept for ``_names``."""
        found = self._rows(_TABLE, quote_table(table))
        self._lossy[table] = json.loads(found[0][2]) if found else []
        return (list(json.loads(found[0][0])), found[0][1] == "true") if found else ([], False)

    def _names(self, images: StatementImages) -> dict[str, str]:
        """What the queries of a table's images are formatted with."""
        held = lossy.flag(["t"], self._lossy.get(images.table, []))
        return {
            "key": queries.key_json("t", images.key),
            "table": quote_table(images.table),
            "flag": "".join(f", ({flag})::text" for flag in held),
        }

    def _inexact(self, images: StatementImages) -> None:
        """The table's images are missing: a row holds a value its image cannot keep."""
        images.missing = lossy.inexact(images.table, self._lossy.get(images.table, []))
        images.images = []

    def image(
        self,
        effects: Effects,
        roots: dict[str, str],
        exclusive: set[str],
        budget: ImageBudget,
    ) -> None:
        """Replace the images of every table with rows no statement reported by images of the
        whole action (partitions by their root's; ``exclusive``: tables the action's DDL has
        locked, which a second connection cannot read)."""
        counts: dict[str, list[int]] = {}
        for name, table in effects.tables.items():
            root = roots.get(name, name)
            total = counts.setdefault(root, [0, 0, 0, 0])
            for i, n in enumerate((table.inserted, table.updated, table.deleted)):
                total[i] += n
            total[3] += table.by_cascade_or_trigger
        made = effects.made()  # (read first: the schema changes)
        wanted = sorted(
            name
            for name, total in counts.items()
            if total[3] and not kept_apart(name, made, POSTGRES)
        )
        if not wanted:
            return
        found = [StatementImages(WHOLE_ACTION, name, self._key_of(name)) for name in wanted]
        secured = self._secured([images.table for images in found if images.key])
        readable = []
        for images in found:
            leaves = {images.table} | {leaf for leaf, root in roots.items() if root == images.table}
            if not images.key:
                images.missing = (
                    f"rows of {images.table} (no primary key) changed by cascade or trigger"
                )
            elif leaves & exclusive:
                images.missing = (
                    f"{images.table} is locked by the action's DDL: its rows cannot be read"
                )
            elif images.table in secured:
                images.missing = secured[images.table]
            else:
                readable.append(images)
        try:
            if readable:  # (a second connection only for them)
                with _Committed(self._conninfo, self._timeout) as committed:
                    befores = self._replaced(committed, readable)
                    for images in readable:
                        counted = counts[images.table][:3]
                        self._pair(images, befores[images.table], counted, committed)
        except _Unreadable as exc:
            for images in readable:
                images.images = []
                images.missing = (
                    f"goex could not read the rows cascades and triggers replaced: {exc}"
                )
        for images in readable:  # in place of the statements' images of the table
            budget.forget(images.table)
            budget.spend(images)
        netted = {images.table for images in found}
        effects.images = found + [i for i in effects.images if i.table not in netted]

    def emptied(
        self, truncate: exp.TruncateTable, statement: int, budget: ImageBudget
    ) -> list[StatementImages]:
        """Before a TRUNCATE runs: every row of every table it will empty, as deleted."""
        named = json.dumps([qualified(t, "postgres") for t in truncate.expressions])
        cascade = str(truncate.args.get("option") or "").upper() == "CASCADE"
        tables = {t: self._table(t) for (t,) in self._rows(_EMPTIED, named, str(cascade).lower())}
        unreadable = self._before_truncating(tables) if tables else None
        found = []
        for table, (key, _) in tables.items():
            images = StatementImages(statement, table, key)
            if unreadable is None:
                rows = self._rows(_ALL.format(**self._names(images)), str(budget.limit + 1))
                images.images = [RowImage(row[1], None) for row in rows]  # (keyless too)
                if any(map(_holds, rows)):
                    self._inexact(images)
                budget.spend(images)
            else:
                images.missing = unreadable
            found.append(images)
        return found

    def _before_truncating(self, tables: dict[str, tuple[list[str], bool]]) -> str | None:
        """Take the lock the TRUNCATE takes first, so that no row is written between the read
        and it; None, or why the rows read would not be all it removes (``tables``: each with
        its key and whether others inherit from it)."""
        self._rows(f"LOCK TABLE {', '.join(map(quote_table, tables))} IN ACCESS EXCLUSIVE MODE")
        [(isolation,)] = self._rows("SELECT current_setting('transaction_isolation')")
        if isolation != "read committed":  # the read would miss rows committed since
            return f"a TRUNCATE under {isolation} isolation removes rows its snapshot cannot read"
        secured = self._secured(list(tables))
        if secured:
            return next(iter(secured.values()))
        inherited = [table for table, (_, kin) in tables.items() if kin]
        if inherited:
            return f"{inherited[0]} has inheritance children, whose rows a TRUNCATE removes too"
        return None

    def _secured(self, tables: list[str]) -> dict[str, str]:
        """The tables whose rows row-level security hides from goex (a cascade or a TRUNCATE
        reaches them all the same), and why their images are missing."""
        found = self._rows(_SECURED, json.dumps(tables)) if tables else []
        return {t: f"row-level security hides rows of {t} from goex's reads" for (t,) in found}

    def _replaced(
        self, committed: _Committed, tables: Sequence[StatementImages]
    ) -> dict[str, list[Any]]:
        """The versions of each table's rows the action replaced or deleted, as rows of
        ``_keyed`` by table, in one snapshot."""
        committed.rows("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        found = {i.table: committed.rows(_REPLACED.format(**self._names(i))) for i in tables}
        committed.rows("ROLLBACK")
        return found

    def _pair(
        self, images: StatementImages, replaced: list[Any], counts: list[int], committed: _Committed
    ) -> None:
        names = self._names(images)
        committed_names = {k: v.replace("%", "%%") for k, v in names.items()}
        after, held = _keyed(self._rows(_MINE.format(**names)))
        before, held_before = _keyed(replaced)
        new = [k for k in after if k not in before]
        if new:  # a version replaced whose xmax is a MultiXactId (another's lock too) is missed
            found = _keyed(committed.rows(_BY_KEY.format(**committed_names), json.dumps(new)))
            before.update(found[0])  # (the action holds their locks)
            held_before |= found[1]
        gone = [k for k in before if k not in after]
        present = {r[0] for r in self._rows(_PRESENT.format(**names), json.dumps(gone))}
        gone = [k for k in gone if k not in present]
        if gone:  # still there for everyone else: the action's own deletes, not yet committed
            still = _PRESENT_COMMITTED.format(**committed_names)
            kept = {r[0] for r in committed.rows(still, json.dumps(gone))}
            gone = [k for k in gone if k in kept]
        updated = [RowImage(before[k], a) for k, a in after.items() if k in before]
        inserted = [RowImage(None, a) for k, a in after.items() if k not in before]
        deleted = [RowImage(before[k], None) for k in gone]
        ins, upd, dele = counts
        [(mine,)] = self._rows(_COUNT.format(**names))
        [(theirs,)] = committed.rows(_COUNT.format(**names))  # (no parameter: no %% doubled)
        if (
            len(inserted) > ins + upd
            or len(deleted) > dele + upd
            or len(updated) > upd + min(ins, dele)
            or int(mine) - int(theirs) != len(inserted) - len(deleted)  # a delete not read
        ):
            images.missing = (
                f"rows of {images.table} the action changed cannot all be read: another "
                "transaction changed the table meanwhile, or a lock hides a row's version"
            )
            return
        images.images = [i for i in updated if i.before != i.after] + inserted + deleted
        if held or held_before & (after.keys() | set(gone)):  # (not rows only locked)
            self._inexact(images)


class _Unreadable(Exception):
    """The second connection failed (the first line of why)."""


class _Committed:
    """A second connection to the database, which sees committed data only: autocommit, a
    statement's snapshot its own unless a transaction is begun."""

    def __init__(self, conninfo: str, timeout: float) -> None:
        self._conninfo, self._timeout = conninfo, timeout
        self._con: psycopg.Connection[Any] | None = None

    def __enter__(self) -> _Committed:
        self._con = self._call(psycopg.connect, self._conninfo, autocommit=True, connect_timeout=10)
        milliseconds = max(1, int(self._timeout * 1000))  # (0 would wait for ever)
        try:  # a read of a whole table must not run for ever while the action holds its locks
            self.rows(f"SET lock_timeout = '{milliseconds}ms'")
            self.rows(f"SET statement_timeout = '{milliseconds * 10}ms'")
        except _Unreadable:
            self._con.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        if self._con is not None:
            self._con.close()

    def rows(self, sql: str, *params: str) -> list[tuple[Any, ...]]:
        assert self._con is not None
        cursor = self._call(self._con.execute, sql, params or None)
        return cursor.fetchall() if cursor.description else []

    @staticmethod
    def _call(call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return call(*args, **kwargs)
        except psycopg.Error as exc:
            text = str(exc).strip()
            raise _Unreadable(text.splitlines()[0] if text else type(exc).__name__) from exc


def _keyed(rows: Sequence[Sequence[Any]]) -> tuple[dict[str, str], set[str]]:
    """Rows of (key, image and, for a table with columns whose values an image may not keep,
    whether the row holds one): the images by key, and the keys of the rows that hold one."""
    return {r[0]: r[1] for r in rows}, {r[0] for r in rows if _holds(r)}


def _holds(row: Sequence[Any]) -> bool:
    """Whether a row read as (key, image[, flag]) holds a value its image cannot keep (the
    flag, as text, where the table has columns that may hold one)."""
    return tuple(row[2:]) == ("true",)


def unimageable(schema: str, relation: str, inherited: bool) -> str | None:
    """Why a statement's rows of this table cannot be imaged under its name (``queries.TABLE``
    says whether other tables inherit from it), if they cannot."""
    if "." in schema + relation:
        return f"table {schema}.{relation} has a '.' in its name"
    if inherited:  # its rows as read through it are its children's too, under its name
        return f"{schema}.{relation} has inheritance children, whose rows it holds"
    return None
