"""The journal: a SQLite (WAL) record of actions, effects, undo data, decisions and intents.

It is the one writer of goex state. Properties the rest of goex relies on:

* file mode 0600 in a 0700 directory (it holds prompts, code and row images);
* WAL mode with ``synchronous=FULL``: a committed write survives a killed process, and readers
  never block the writer;
* every write is one ``BEGIN IMMEDIATE`` transaction, so two processes writing at once serialise
  on SQLite's lock (``busy_timeout``) instead of failing or interleaving;
* the schema carries a version (``PRAGMA user_version``) and a migration step per version.

Intents: before a step that makes something final (commit, undo), the caller writes an intent;
when the step is done it finishes the intent. ``pending_intents()`` is what ``recover`` reads.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from core.action import Action, Decision, Kind, Status, new_action_id, now_iso
from core.errors import JournalError, StateError

FILENAME = "journal.sqlite3"
BUSY_TIMEOUT_MS = 30_000


def _run_script(db: sqlite3.Connection, script: str) -> None:
    """Run DDL one statement at a time: ``executescript`` would first COMMIT the open
    migration transaction (and the ``COMMIT`` that ends it would then fail)."""
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)


def _v1(db: sqlite3.Connection) -> None:
    _run_script(
        db,
        """
        CREATE TABLE actions (
            id         TEXT PRIMARY KEY,
            kind       TEXT NOT NULL CHECK (kind IN ('db', 'fs')),
            target     TEXT NOT NULL,
            prompt     TEXT,
            code       TEXT NOT NULL,
            digest     TEXT,
            status     TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX actions_kind_target ON actions (kind, target);
        CREATE TABLE transitions (
            action_id TEXT NOT NULL REFERENCES actions (id),
            seq       INTEGER NOT NULL,
            status    TEXT NOT NULL,
            at        TEXT NOT NULL,
            PRIMARY KEY (action_id, seq)
        );
        CREATE TABLE effects (
            action_id TEXT PRIMARY KEY REFERENCES actions (id),
            data      TEXT NOT NULL
        );
        CREATE TABLE decisions (
            action_id TEXT NOT NULL REFERENCES actions (id),
            seq       INTEGER NOT NULL,
            by        TEXT NOT NULL,
            verdict   TEXT NOT NULL,
            reason    TEXT NOT NULL,
            digest    TEXT NOT NULL,
            at        TEXT NOT NULL,
            PRIMARY KEY (action_id, seq)
        );
        CREATE TABLE undo (
            action_id TEXT PRIMARY KEY REFERENCES actions (id),
            data      TEXT,
            pointer   TEXT,
            CHECK ((data IS NULL) != (pointer IS NULL))
        );
        CREATE TABLE intents (
            id          INTEGER PRIMARY KEY AUTOINCREMENT,
            action_id   TEXT NOT NULL REFERENCES actions (id),
            step        TEXT NOT NULL,
            data        TEXT NOT NULL,
            started_at  TEXT NOT NULL,
            finished_at TEXT
        );
        """,
    )


# MIGRATIONS[n] takes the schema from version n to n + 1. Append, never edit.
MIGRATIONS: Sequence[Callable[[sqlite3.Connection], None]] = (_v1,)
SCHEMA_VERSION = len(MIGRATIONS)


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


class Journal:
    """A connection to one journal file. Not shared between threads; cheap to open."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
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

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise JournalError(f"journal {self.path} is locked or unwritable: {exc}") from exc
        try:
            yield self._db
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

    # -- actions -------------------------------------------------------------------------------

    def save(self, action: Action) -> None:
        """Insert or update an action and append its new status transitions.

        Refuses (StateError) when another process has moved the action on since it was read,
        so two writers can never both commit the same action.
        """
        with self._write() as db:
            stored = self._claim_id(db, action)
            if stored > len(action.history):
                raise StateError(f"action {action.id} was changed by another process; reload it")
            if (
                stored
                and db.execute(
                    "SELECT status FROM transitions WHERE action_id = ? AND seq = ?",
                    (action.id, stored - 1),
                ).fetchone()[0]
                != action.history[stored - 1][0].value
            ):
                raise StateError(f"action {action.id} was changed by another process; reload it")
            db.execute(
                """INSERT INTO actions (id, kind, target, prompt, code, digest, status,
                                        created_at, updated_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (id) DO UPDATE SET digest = excluded.digest,
                        status = excluded.status, updated_at = excluded.updated_at""",
                (
                    action.id,
                    action.kind.value,
                    action.target,
                    action.prompt,
                    action.code,
                    action.digest,
                    action.status.value,
                    action.history[0][1],
                    action.history[-1][1],
                ),
            )
            db.executemany(
                "INSERT INTO transitions (action_id, seq, status, at) VALUES (?, ?, ?, ?)",
                [
                    (action.id, seq, status.value, at)
                    for seq, (status, at) in enumerate(action.history)
                    if seq >= stored
                ],
            )
            if action.decision is not None:
                self._save_decision(db, action.id, action.decision)

    @staticmethod
    def _claim_id(db: sqlite3.Connection, action: Action) -> int:
        """How many transitions of this action are stored; a new action whose id another
        process took in the same millisecond gets a fresh id instead of merging into it."""
        while True:
            stored: int = db.execute(
                "SELECT COUNT(*) FROM transitions WHERE action_id = ?", (action.id,)
            ).fetchone()[0]
            if not stored or db.execute(
                "SELECT kind, target, code, created_at FROM actions WHERE id = ?", (action.id,)
            ).fetchone() == (action.kind.value, action.target, action.code, action.history[0][1]):
                return stored
            if len(action.history) > 1:  # saved before under this id: never merge the two
                raise StateError(f"action id {action.id} is already used by another action")
            action.id = new_action_id()

    @staticmethod
    def _save_decision(db: sqlite3.Connection, action_id: str, decision: Decision) -> None:
        last = db.execute(
            "SELECT by, verdict, digest, at FROM decisions WHERE action_id = ? "
            "ORDER BY seq DESC LIMIT 1",
            (action_id,),
        ).fetchone()
        if last == (decision.by, decision.verdict.value, decision.digest, decision.at):
            return
        db.execute(
            """INSERT INTO decisions (action_id, seq, by, verdict, reason, digest, at)
               VALUES (?, (SELECT COUNT(*) FROM decisions WHERE action_id = ?), ?, ?, ?, ?, ?)""",
            (
                action_id,
                action_id,
                decision.by,
                decision.verdict.value,
                decision.reason,
                decision.digest,
                decision.at,
            ),
        )

    def get(self, id_or_prefix: str) -> Action:
        """The action with this id, or the only one whose id starts with this prefix."""
        rows = self._db.execute(
            "SELECT id, kind, target, prompt, code, digest FROM actions WHERE id LIKE ? "
            "ESCAPE '\\' ORDER BY id LIMIT 2",
            (_like_prefix(id_or_prefix),),
        ).fetchall()
        if not rows:
            raise StateError(f"no action with id {id_or_prefix!r} in journal {self.path}")
        if len(rows) > 1 and rows[0][0] != id_or_prefix:
            raise StateError(f"action id prefix {id_or_prefix!r} is ambiguous; type more of it")
        return self._load(rows[0])

    def recent(
        self, kind: Kind | None = None, limit: int = 50, target: str | None = None
    ) -> list[Action]:
        """The most recent actions first, of one kind and on one target if given."""
        query = (
            "SELECT id, kind, target, prompt, code, digest FROM actions "
            "WHERE (? IS NULL OR kind = ?) AND (? IS NULL OR target = ?) ORDER BY id DESC LIMIT ?"
        )
        kind_value = None if kind is None else kind.value
        params = (kind_value, kind_value, target, target, limit)
        return [self._load(row) for row in self._db.execute(query, params).fetchall()]

    def _load(self, row: tuple[Any, ...]) -> Action:
        action_id, kind, target, prompt, code, digest = row
        history = [
            (Status(s), at)
            for s, at in self._db.execute(
                "SELECT status, at FROM transitions WHERE action_id = ? ORDER BY seq",
                (action_id,),
            )
        ]
        decision_row = self._db.execute(
            "SELECT by, verdict, reason, digest, at FROM decisions WHERE action_id = ? "
            "ORDER BY seq DESC LIMIT 1",
            (action_id,),
        ).fetchone()
        decision = (
            Decision.from_json(
                dict(zip(("by", "verdict", "reason", "digest", "at"), decision_row, strict=True))
            )
            if decision_row
            else None
        )
        return Action(
            kind=Kind(kind),
            target=target,
            code=code,
            prompt=prompt,
            id=action_id,
            digest=digest,
            history=history,
            decision=decision,
        )

    # -- effects, undo data --------------------------------------------------------------------

    def set_effects(self, action_id: str, effects: Mapping[str, Any]) -> None:
        with self._write() as db:
            db.execute(
                "INSERT INTO effects (action_id, data) VALUES (?, ?) "
                "ON CONFLICT (action_id) DO UPDATE SET data = excluded.data",
                (action_id, json.dumps(effects, sort_keys=True, default=str)),
            )

    def effects(self, action_id: str) -> dict[str, Any] | None:
        row = self._db.execute(
            "SELECT data FROM effects WHERE action_id = ?", (action_id,)
        ).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def set_undo(
        self, action_id: str, *, data: Mapping[str, Any] | None = None, pointer: str | None = None
    ) -> None:
        """Store the data needed to undo an action, inline or as a pointer (a path) to it."""
        if (data is None) == (pointer is None):
            raise ValueError("give exactly one of data and pointer")
        with self._write() as db:
            db.execute(
                "INSERT INTO undo (action_id, data, pointer) VALUES (?, ?, ?) "
                "ON CONFLICT (action_id) DO UPDATE SET data = excluded.data, "
                "pointer = excluded.pointer",
                (action_id, None if data is None else json.dumps(data, default=str), pointer),
            )

    def undo_data(self, action_id: str) -> tuple[dict[str, Any] | None, str | None]:
        row = self._db.execute(
            "SELECT data, pointer FROM undo WHERE action_id = ?", (action_id,)
        ).fetchone()
        if row is None:
            return None, None
        return (None if row[0] is None else dict(json.loads(row[0]))), row[1]

    # -- intents -------------------------------------------------------------------------------

    def begin_intent(self, action_id: str, step: str, data: Mapping[str, Any]) -> int:
        with self._write() as db:
            cursor = db.execute(
                "INSERT INTO intents (action_id, step, data, started_at) VALUES (?, ?, ?, ?)",
                (action_id, step, json.dumps(data, default=str), now_iso()),
            )
            assert cursor.lastrowid is not None
            return cursor.lastrowid

    def finish_intent(self, intent_id: int) -> None:
        with self._write() as db:
            db.execute(
                "UPDATE intents SET finished_at = ? WHERE id = ? AND finished_at IS NULL",
                (now_iso(), intent_id),
            )

    def pending_intents(self) -> list[tuple[int, str, str, dict[str, Any]]]:
        """(intent id, action id, step, data) of every intent that was begun and not finished."""
        return [
            (iid, aid, step, dict(json.loads(data)))
            for iid, aid, step, data in self._db.execute(
                "SELECT id, action_id, step, data FROM intents WHERE finished_at IS NULL "
                "ORDER BY id"
            )
        ]

    def intents_of(self, action_id: str) -> list[tuple[int, str, dict[str, Any], bool]]:
        """(intent id, step, data, finished) of every intent of one action, oldest first:
        ``recover`` tells a step that never began from one that finished before a crash."""
        return [
            (iid, step, dict(json.loads(data)), finished is not None)
            for iid, step, data, finished in self._db.execute(
                "SELECT id, step, data, finished_at FROM intents WHERE action_id = ? ORDER BY id",
                (action_id,),
            )
        ]

    def integrity_ok(self) -> bool:
        return bool(self._db.execute("PRAGMA integrity_check").fetchone()[0] == "ok")


def _like_prefix(prefix: str) -> str:
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"
