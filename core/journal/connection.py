"""The journal's SQLite file: where it lives, how it is opened, how one write is made."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from core.action import Kind
from core.errors import JournalError
from core.journal.schema import MIGRATIONS, SCHEMA_VERSION

FILENAME = "journal.sqlite3"
BUSY_TIMEOUT_MS = 30_000


def state_home() -> Path:
    """``$GOEX_HOME``, else ``$XDG_STATE_HOME/goex``, else ``~/.local/state/goex``."""
    if home := os.environ.get("GOEX_HOME"):
        return Path(home)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "goex"


def default_path(kind: Kind, project: Path | None = None) -> Path:
    """goex-fs keeps its journal in ``<project>/.goex/``; goex-db in the user state directory.

    ``GOEX_HOME`` overrides both.
    """
    if os.environ.get("GOEX_HOME") or kind is Kind.DB or project is None:
        return state_home() / FILENAME
    return project / ".goex" / FILENAME


class Connection:
    """A connection to one journal file. Not shared between threads; cheap to open."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._batching = False  # writes share one transaction until flush() (``batch``)
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            # Create the file 0600 before SQLite does, so it is never world-readable. Never
            # open and close an existing journal here: closing any descriptor of a file drops
            # every POSIX lock this process holds on it, another connection's too (SQLite's
            # documented pitfall), and a second process may then delete the WAL in use.
            if not self.path.exists():
                with suppress(FileExistsError):
                    os.close(os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600))
            os.chmod(self.path, 0o600)
            self._db = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None
            )
            self._db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            mode = self._enable_wal()
            if mode != "wal":
                raise JournalError(f"journal {self.path} cannot use WAL mode (got {mode})")
            self._db.execute("PRAGMA synchronous = FULL")
            self._db.execute("PRAGMA foreign_keys = ON")
            self._migrate()
        except sqlite3.Error as exc:
            raise JournalError(f"cannot open journal {self.path}: {exc}") from exc
        except OSError as exc:
            raise JournalError(f"cannot open journal {self.path}: {exc.strerror}") from exc

    def _enable_wal(self) -> str:
        """Switch to WAL. Two processes opening a new journal at once can make this fail with
        SQLITE_BUSY at once (SQLite does not wait on it), so wait here, as busy_timeout would."""
        deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
        while True:
            try:
                return str(self._db.execute("PRAGMA journal_mode = WAL").fetchone()[0])
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Writes in the block share one SQLite transaction (one sync to disk), made durable at
        ``flush()`` and when the block ends, however it ends. For a few writes in quick
        succession only: the journal is locked for other writers until then."""
        self._batching = True
        try:
            yield
        finally:
            self._batching = False
            self.flush()

    def flush(self) -> None:
        """Make what a ``batch`` wrote so far durable."""
        if self._db.in_transaction:
            try:
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback_quietly()
                raise JournalError(f"cannot write journal {self.path}: {exc}") from exc

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        batched = self._batching
        if not (batched and self._db.in_transaction):
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise JournalError(f"journal {self.path} is locked or unwritable: {exc}") from exc
        try:
            yield self._db
            if not batched:
                self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            self._rollback_quietly()
            raise JournalError(f"cannot write journal {self.path}: {exc}") from exc
        except BaseException:
            self._rollback_quietly()
            raise

    def _rollback_quietly(self) -> None:
        """End a failed write without hiding the error that stopped it (cf. psycopg)."""
        if self._db.in_transaction:
            with suppress(sqlite3.Error):
                self._db.execute("ROLLBACK")

    def _migrate(self) -> None:
        with self._write() as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise JournalError(
                    f"journal {self.path} has schema version {version}, newer than this goex "
                    f"({SCHEMA_VERSION}); upgrade goex"
                )
            for step in MIGRATIONS[version:]:
                step(db)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def integrity_ok(self) -> bool:
        return bool(self._db.execute("PRAGMA integrity_check").fetchone()[0] == "ok")
