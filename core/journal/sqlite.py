"""The journal in a SQLite file (the default): WAL mode, ``synchronous=FULL``, one writer at a
time by ``BEGIN IMMEDIATE``, the schema version in ``PRAGMA user_version``.

Writers in one process (the proxy's sessions, each with its own connection in its own thread)
queue on a lock of the file's own before SQLite's: SQLite's busy handler polls, sleeping up to
100 ms between tries, so under contention a write waited many times longer than the one ahead
of it took. Other processes still meet at SQLite's lock, with its busy timeout."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from contextlib import suppress
from pathlib import Path
from typing import Any

from core.errors import JournalError

BUSY_TIMEOUT_MS = 30_000

_writers: dict[str, threading.Lock] = {}  # one per journal file, for this process's writers
_writers_lock = threading.Lock()


def _writer_lock(path: Path) -> threading.Lock:
    key = os.path.realpath(path)
    with _writers_lock:
        return _writers.setdefault(key, threading.Lock())


class SqliteStore:
    errors: tuple[type[Exception], ...] = (sqlite3.Error,)

    def __init__(self, path: Path) -> None:
        self.name = str(path)
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            # Create the file 0600 before SQLite does, so it is never world-readable. Never
            # open and close an existing journal here: closing any descriptor of a file drops
            # every POSIX lock this process holds on it, another connection's too (SQLite's
            # documented pitfall), and a second process may then delete the WAL in use.
            if not path.exists():
                with suppress(FileExistsError):
                    os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600))
            os.chmod(path, 0o600)
            self._writer = _writer_lock(path)
            self._writing = False
            self._unsynced = False
            self._db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
            self._db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            mode = self._enable_wal()
            if mode != "wal":
                raise JournalError(f"journal {path} cannot use WAL mode (got {mode})")
            self._db.execute("PRAGMA synchronous = FULL")
            self._db.execute("PRAGMA foreign_keys = ON")
        except sqlite3.Error as exc:
            raise JournalError(f"cannot open journal {path}: {exc}") from exc
        except OSError as exc:
            raise JournalError(f"cannot open journal {path}: {exc.strerror}") from exc

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

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        return self._db.execute(sql, params)

    def executemany(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        self._db.executemany(sql, rows)

    @property
    def in_transaction(self) -> bool:
        return self._db.in_transaction

    def begin(self, synced: bool = True) -> None:
        """Begin a write. Unsynced, its COMMIT returns without waiting for the disk (WAL with
        ``synchronous=NORMAL``): it survives this process ending, and a crash of the machine
        only until the next synced write, which syncs the log it is in."""
        if not self._writing:  # (a BEGIN inside this connection's own write fails in SQLite)
            if not self._writer.acquire(timeout=BUSY_TIMEOUT_MS / 1000):
                raise sqlite3.OperationalError("database is locked by a writer of this process")
            self._writing = True
        try:
            if not synced:  # (SQLite allows no change of it inside a transaction)
                self._db.execute("PRAGMA synchronous = NORMAL")
                self._unsynced = True
            self._db.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._stop_writing()
            raise

    def commit(self) -> None:
        try:
            self._db.execute("COMMIT")
        finally:  # (an interrupt just after it must not keep the lock)
            self._stop_writing()

    def rollback(self) -> None:
        try:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
        finally:
            self._stop_writing()

    def _stop_writing(self) -> None:
        """Once the write ended: synced again, and the lock let go (whatever fails)."""
        if self._db.in_transaction:
            return
        try:
            if self._unsynced:
                self._unsynced = False
                self._db.execute("PRAGMA synchronous = FULL")
        finally:
            self._let_go()

    def _let_go(self) -> None:
        if self._writing:
            self._writing = False
            self._writer.release()

    def version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def set_version(self, version: int) -> None:
        self._db.execute(f"PRAGMA user_version = {int(version)}")

    def integrity_ok(self) -> bool:
        return bool(self._db.execute("PRAGMA integrity_check").fetchone()[0] == "ok")

    def notify(self) -> None:
        """Nothing to do: other processes look again (``wait_for_change``)."""

    def wait_for_change(self, timeout: float) -> None:
        time.sleep(timeout)

    def close(self) -> None:
        try:
            self._db.close()
        finally:
            self._let_go()
