"""What a PostgreSQL transaction holds, read in one round trip after each statement (``HELD``):
its relation locks, the row counts of the tables it wrote, the sequences it used and its advisory
locks; and which held relation a table name as written means (a renamed one: by its new name).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from goexdb.effects import Effects, SchemaChange
from goexdb.engines import POSTGRES, quote_table
from goexdb.sql import Statement, StatementKind

CATALOG = "(catalog)"  # the catalogs DDL writes, in queries.BASELINE's rows beside the tables
# what changes the schema as it runs, its own catalog diff measured
SCHEMA_CHANGING = (StatementKind.DDL, StatementKind.NON_TRANSACTIONAL)

# Locks no SELECT, INSERT, UPDATE, DELETE or MERGE takes: DDL's (or ANALYZE's, or LOCK's)
SCHEMA_LOCKS = frozenset(
    (
        "ShareUpdateExclusiveLock",
        "ShareLock",
        "ShareRowExclusiveLock",
        "ExclusiveLock",
        "AccessExclusiveLock",
    )
)


def unread_schema_changes(locks: Iterable[Mapping[str, Any]]) -> list[SchemaChange]:
    """What an action that ran no DDL statement locked as DDL does (``Effects.locks``):
    a function or trigger it called may have changed the schema, and goex reads the catalog
    around DDL statements only. Each is a ``schema_unread`` change: shown, and irreversible."""
    return [
        SchemaChange("schema_unread", relation, after=f"locked {mode}")
        for relation, mode in sorted({(lock["relation"], lock["mode"]) for lock in locks})
        if mode in SCHEMA_LOCKS
    ]


class SchemaWatch:
    """Schema changes no DDL statement made: the catalogs DDL writes
    (``queries.SCHEMA_CATALOGS``) written beyond what was counted so far (``writes``, their
    rows), while a statement that is not DDL ran, by a function it called or a trigger it
    fired."""

    def __init__(self, writes: int = 0) -> None:
        self.writes = writes
        self.unread: list[SchemaChange] = []

    @classmethod
    def since(cls, baseline: Mapping[str, tuple[int, int, int]]) -> SchemaWatch:
        """Counting from the rows earlier transactions left (``queries.BASELINE``'s)."""
        return cls(baseline.get(CATALOG, (0, 0, 0))[0])

    def changes(self, locks: Iterable[Mapping[str, Any]]) -> list[SchemaChange]:
        """What it saw, and what ``locks`` show (``unread_schema_changes``: those of an action
        with no DDL statement, whose own are no sign)."""
        return unread_schema_changes(locks) + self.unread

    def beyond(self, writes: int, what: str) -> None:
        """The catalog rows written now (``writes``): any beyond those counted so far are no
        DDL statement's (``what``: when they were written, or by what)."""
        if writes > self.writes:
            where = f"the catalog written {what}"
            self.unread.append(SchemaChange("schema_unread", where, after="by no DDL statement"))
        self.writes = writes

    def saw(self, writes: int, statement: Statement) -> None:
        """The catalog rows written once ``statement`` ran."""
        if statement.kind in SCHEMA_CHANGING:
            self.writes = writes
        else:
            self.beyond(writes, f"by {statement.sql.strip()[:60]}")


@dataclass
class Holdings:
    """What the transaction holds, from one reading of ``queries.HELD``."""

    locks: list[tuple[str, str]] = field(default_factory=list)  # relation, mode
    relations: set[tuple[str, str]] = field(default_factory=set)  # schema, name
    counts: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    roots: dict[str, str] = field(default_factory=dict)  # partition: root of its tree
    sequences: dict[str, int | None] = field(default_factory=dict)  # used: value, if readable
    advisory: int = 0
    catalog_writes: int = 0  # rows of the catalogs DDL writes (``queries.SCHEMA_CATALOGS``)

    @classmethod
    def read(cls, rows: Sequence[Sequence[Any]]) -> Holdings:
        held = cls()
        for locktype, schema, relname, oid, mode, kind, counts, root, value in rows:
            if locktype == "advisory":
                held.advisory += 1
                continue
            if locktype == "catalog":
                held.catalog_writes = int(counts or 0)
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

    def note(
        self,
        effects: Effects,
        changes: dict[str, tuple[int, int, int]],
        explained: dict[str, int],
        sequences: dict[str, int | None] | None = None,
    ) -> None:
        """Add to ``effects`` the rows each table gained, changed and lost (``changes``), the
        part of them no statement reported (``explained``: rows reported per catalog name, used
        up here) counted as by a cascade or trigger; then the sequences used and the advisory
        locks held, which a rollback does not put back."""
        for name, change in sorted(changes.items()):
            if any(change):
                table = effects.table(name)
                table.inserted, table.updated, table.deleted = change
                named = name if name in explained else self.roots.get(name)
                covered = min(sum(change), explained.get(named, 0)) if named else 0
                if covered:
                    explained[named or name] -= covered
                table.by_cascade_or_trigger = sum(change) - covered
        for name, value in sorted({**(sequences or {}), **self.sequences}.items()):
            now = "" if value is None else f", now at {value}"
            effects.side_effects.append(
                f"sequence {name} used by nextval(), setval() or currval(){now}: "
                "a rollback does not put it back"
            )
        if self.advisory:
            effects.side_effects.append(
                f"{self.advisory} advisory lock(s) held past the transaction"
            )

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
    return POSTGRES.catalog_name(identifier)


def follow_table_renames(
    explained: dict[str, int],
    renamed: Sequence[tuple[str, str]],
    resolve: Callable[[list[str]], dict[str, str | None]],
) -> dict[str, int]:
    """The rows the statements so far reported (``explained``: by the table name each wrote),
    just before a statement renames tables (``renamed``: each as written and its new name):
    by the table each name means now, quoted, a renamed one by its new name. Resolved at the
    end, an old name would name no table (or one made since under it)."""
    names = resolve([*explained, *(old for old, _ in renamed)])  # written -> schema.name
    moved: dict[str, str] = {}
    for old, new in renamed:
        if (found := names.get(old)) is not None:
            name = POSTGRES.written_name(new)
            moved[found] = f"{found.rpartition('.')[0]}.{name}"
    named: dict[str, int] = {}
    for written, rows in explained.items():
        found = names.get(written)
        key = quote_table(moved.get(found, found)) if found is not None else written
        named[key] = named.get(key, 0) + rows
    return named
