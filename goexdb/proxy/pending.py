"""A proxied transaction while it is held: its client, its statements as they were sent and
the command tag and row images each got back, and the catalog before its first DDL."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from goexdb.backends.postgres.holdings import SchemaWatch
from goexdb.catalog import Catalog
from goexdb.effects import RowImage, StatementImages
from goexdb.proxy.images import rows_of
from goexdb.proxy.messages import Message
from goexdb.proxy.routing import tag_of
from goexdb.proxy.statements import Verdict
from goexdb.sql import StatementKind

Counts = dict[str, tuple[int, int, int]]  # rows inserted, updated, deleted per table
_NONE = (0, 0, 0)
_NAME = r'("(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)'
_SAVEPOINTS = (
    ("savepoint", re.compile(rf"^\s*savepoint\s+{_NAME}", re.I)),
    ("release", re.compile(rf"^\s*release\s+(?:savepoint\s+)?{_NAME}", re.I)),
    (
        "rollback to",
        re.compile(
            rf"^\s*rollback\s+(?:work\s+|transaction\s+)?to\s+(?:savepoint\s+)?{_NAME}", re.I
        ),
    ),
)


def savepoint_of(sql: str) -> tuple[str, str] | None:
    """What a SAVEPOINT, RELEASE or ROLLBACK TO does, and to which savepoint (its name as the
    server folds it)."""
    for what, pattern in _SAVEPOINTS:
        found = pattern.match(sql)
        if found:
            name = found[1]
            quoted = name.startswith('"')
            return what, name[1:-1].replace('""', '"') if quoted else name.lower()
    return None


@dataclass
class Client:
    """Who is connected, as journaled with each action."""

    address: str
    user: str
    application_name: str = ""


@dataclass
class Pending:
    """A transaction that wrote, held until it is decided."""

    client: Client
    statements: list[Verdict] = field(default_factory=list)
    tags: list[str | None] = field(default_factory=list)
    catalog: Catalog | None = None  # before the first DDL statement
    filenodes: list[tuple[Any, ...]] = field(default_factory=list)  # queries.FILENODES
    imaged: set[int] = field(default_factory=set)  # statements sent with goex's RETURNING
    images: dict[int, list[RowImage]] = field(default_factory=dict)
    maybe: dict[int, set[str]] = field(default_factory=dict)  # what of their rows may not be kept
    # a TRUNCATE's rows, read before it ran: its images by table
    emptied: dict[int, list[StatementImages]] = field(default_factory=dict)
    # savepoints set since it wrote: name, statements before it, the row counts then
    # and the rows discounted then
    savepoints: list[tuple[str, int, Counts, Counts]] = field(default_factory=list)
    undone: set[int] = field(default_factory=set)  # statements a ROLLBACK TO took back
    discounted: Counts = field(default_factory=dict)  # their rows, which the counts still hold
    baseline: Counts = field(default_factory=dict)  # rows of earlier transactions, not flushed
    # the catalog rows written, counted from the baseline and past each DDL statement
    watch: SchemaWatch = field(default_factory=SchemaWatch)

    def add(self, verdict: Verdict) -> Callable[[Message | None, list[Message]], None]:
        """Add a statement; what to call with its final reply (its command tag) and the rows
        goex kept of it (its row images, when it was sent imaged)."""
        index = len(self.statements)
        self.statements.append(verdict)
        self.tags.append(None)

        def note(final: Message | None, kept: list[Message]) -> None:
            self.tags[index] = tag_of(final) if final is not None else None
            if index in self.imaged:
                self.images[index], self.maybe[index] = rows_of(kept)

        return note

    def savepoint(self, name: str, counts: Counts) -> None:
        self.savepoints.append((name, len(self.statements), counts, dict(self.discounted)))

    def release(self, name: str) -> None:
        """RELEASE: the savepoint and every later one go; what they hold stays."""
        named = [i for i, saved in enumerate(self.savepoints) if saved[0] == name]
        if named:
            del self.savepoints[named[-1] :]

    def rolled_back_to(self, name: str, counts: Counts) -> None:
        """After ROLLBACK TO: what ran since the savepoint was taken back (a savepoint set before
        the transaction wrote: all it wrote). PostgreSQL's statistics still count its rows, so
        all rows counted since the savepoint are discounted; its images go. The savepoint stays,
        from here."""
        named = [i for i, saved in enumerate(self.savepoints) if saved[0] == name]
        at = named[-1] if named else None
        start, then, discounted = (0, {}, {}) if at is None else self.savepoints[at][1:]
        for index in range(start, len(self.statements)):
            self.undone.add(index)
            self.imaged.discard(index)
            self.images.pop(index, None)
            self.maybe.pop(index, None)
            self.emptied.pop(index, None)
        self.discounted = dict(discounted)
        for table, now in counts.items():
            before, taken = then.get(table, _NONE), discounted.get(table, _NONE)
            ins, upd, dele = (t + n - b for t, n, b in zip(taken, now, before, strict=True))
            self.discounted[table] = (ins, upd, dele)
        if at is not None:
            del self.savepoints[at:]
        self.savepoint(name, counts)

    @property
    def code(self) -> str:
        return "\n".join(s.sql.rstrip().rstrip(";") + ";" for s in self.statements)

    @property
    def changes_rows(self) -> bool:
        """Whether a statement of its own writes (DML, DDL, COPY FROM STDIN), not only a query
        that calls functions."""
        return any(
            v.statement is not None and v.statement.kind is not StatementKind.READ
            for v in self.statements
            if v.writes
        )
