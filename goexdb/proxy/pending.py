"""A proxied transaction while it is held: its client, its statements as they were sent and
the command tag and row images each got back, and the catalog before its first DDL."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from goexdb.effects import Catalog, RowImage
from goexdb.proxy.images import rows_of
from goexdb.proxy.messages import Message
from goexdb.proxy.routing import tag_of
from goexdb.proxy.statements import Verdict
from goexdb.sql import StatementKind


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
    filenodes: dict[str, str] = field(default_factory=dict)
    imaged: set[int] = field(default_factory=set)  # statements sent with goex's RETURNING
    images: dict[int, list[RowImage]] = field(default_factory=dict)

    def add(self, verdict: Verdict) -> Callable[[Message, list[Message]], None]:
        """Add a statement; what to call with its final reply (its command tag) and the rows
        goex kept of it (its row images, when it was sent imaged)."""
        index = len(self.statements)
        self.statements.append(verdict)
        self.tags.append(None)

        def note(final: Message, kept: list[Message]) -> None:
            self.tags[index] = tag_of(final)
            if index in self.imaged:
                self.images[index] = rows_of(kept)

        return note

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
