"""Where the journal lives (a SQLite file, or the PostgreSQL database of ``[journal] url``),
how it is opened and migrated, and how one write is made."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from core.action import Kind
from core.errors import JournalError
from core.journal.backend import Location, Store, is_url, journal_exists
from core.journal.schema import MIGRATIONS, SCHEMA_VERSION
from core.journal.sqlite import BUSY_TIMEOUT_MS, SqliteStore

FILENAME = "journal.sqlite3"
__all__ = [
    "BUSY_TIMEOUT_MS",
    "FILENAME",
    "Connection",
    "Location",
    "Store",
    "default_path",
    "journal_exists",
]


def state_home() -> Path:
    """``$GOEX_HOME``, else ``$XDG_STATE_HOME/goex``, else ``~/.local/state/goex``."""
    if home := os.environ.get("GOEX_HOME"):
        return Path(home)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "goex"


def default_path(kind: Kind, project: Path | None = None) -> Location:
    """goex-fs keeps its journal in ``<project>/.goex/``; goex-db in the user state directory.

    ``GOEX_HOME`` overrides both, and ``[journal] url`` (operator-only) both and it: every
    journal is then the one in that PostgreSQL database.
    """
    from core.config import load_config  # (the configuration names the journal, not the reverse)

    if url := load_config().journal.url:
        if not is_url(url):
            raise JournalError(f"[journal] url must be a postgresql:// URL, not {url[:40]!r}")
        return url
    if os.environ.get("GOEX_HOME") or kind is Kind.DB or project is None:
        return state_home() / FILENAME
    return project / ".goex" / FILENAME


class Connection:
    """A connection to one journal. Not shared between threads; cheap to open."""

    def __init__(self, location: Location) -> None:
        self._batching = False  # writes share one transaction until flush() (``batch``)
        self._synced = True  # whether a write waits for the disk (``commit_point``)
        if is_url(location):
            from core.journal.postgres import PostgresStore  # psycopg only when asked for

            self._db: Store = PostgresStore(str(location))
        else:
            self._db = SqliteStore(Path(location))
        self.path = self._db.name
        try:
            self._migrate()
        except self._db.errors as exc:
            self._db.close()
            raise JournalError(f"cannot open journal {self.path}: {exc}") from exc

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Writes in the block share one transaction (one sync to disk), made durable at
        ``flush()`` and when the block ends, however it ends. For a few writes in quick
        succession only: the journal is locked for other writers until then."""
        self._batching = True
        try:
            yield
        finally:
            self._batching = False
            try:
                self.flush()
            finally:
                self._synced = True

    def commit_point(self) -> None:
        """In a ``batch``, just before what it journals is carried out: make what the batch
        wrote so far durable now (the intent), and let what it writes after (the records that
        say the step is done) commit without waiting for the disk. Those become durable with
        the journal's next synced write; a machine crash before it loses them as if it had
        come just before they were written, which ``recover`` already handles."""
        self.flush()
        self._synced = not self._batching

    def flush(self) -> None:
        """Make what a ``batch`` wrote so far durable."""
        if self._db.in_transaction:
            try:
                self._db.commit()
            except self._db.errors as exc:
                self._rollback_quietly()
                raise JournalError(f"cannot write journal {self.path}: {exc}") from exc

    @contextmanager
    def _write(self) -> Iterator[Store]:
        batched = self._batching
        if not (batched and self._db.in_transaction):
            try:
                self._db.begin(self._synced)
            except self._db.errors as exc:
                raise JournalError(f"journal {self.path} is locked or unwritable: {exc}") from exc
        try:
            yield self._db
            if not batched:
                self._db.commit()
        except self._db.errors as exc:
            self._rollback_quietly()
            raise JournalError(f"cannot write journal {self.path}: {exc}") from exc
        except BaseException:
            self._rollback_quietly()
            raise

    def _rollback_quietly(self) -> None:
        """End a failed write without hiding the error that stopped it (cf. psycopg)."""
        with suppress(*self._db.errors):
            self._db.rollback()

    def _migrate(self) -> None:
        with self._write() as db:
            version = db.version()
            if version > SCHEMA_VERSION:
                raise JournalError(
                    f"journal {self.path} has schema version {version}, newer than this goex "
                    f"({SCHEMA_VERSION}); upgrade goex"
                )
            for step in MIGRATIONS[version:]:
                step(db)
            db.set_version(SCHEMA_VERSION)

    def integrity_ok(self) -> bool:
        return self._db.integrity_ok()

    def wait_for_change(self, timeout: float) -> None:
        """Wait until another process may have written (a decision recorded): at most
        ``timeout`` seconds, less on a database journal, which is told at once."""
        self._db.wait_for_change(timeout)
