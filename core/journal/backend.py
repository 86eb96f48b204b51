"""What a journal is kept in: a SQLite file (``core.journal.sqlite``) or a PostgreSQL database
(``core.journal.postgres``), each behind the same few calls."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol


class Store(Protocol):
    """Where the journal's records are: a SQLite file, or a PostgreSQL database."""

    name: str  # as messages name the journal (a URL without its password)
    errors: tuple[type[Exception], ...]

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> Any: ...
    def executemany(self, sql: str, rows: list[tuple[Any, ...]]) -> None: ...
    @property
    def in_transaction(self) -> bool: ...
    def begin(self, synced: bool = True) -> None: ...
    def commit(self) -> None: ...
    def rollback(self) -> None: ...
    def version(self) -> int: ...
    def set_version(self, version: int) -> None: ...
    def integrity_ok(self) -> bool: ...
    def notify(self) -> None: ...
    def wait_for_change(self, timeout: float) -> None: ...
    def close(self) -> None: ...


Location = Path | str  # a SQLite file, or a postgresql:// URL


def is_url(location: Location) -> bool:
    return isinstance(location, str) and location.startswith(("postgresql://", "postgres://"))


def journal_exists(location: Location) -> bool:
    """Whether there is a journal there already (a database journal always is)."""
    return is_url(location) or Path(location).exists()
