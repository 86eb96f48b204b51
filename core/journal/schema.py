"""The journal's schema: one migration step per version, applied in order, never edited."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.journal.backend import Store


def _run_script(db: Store, script: str) -> None:
    """Run DDL one statement at a time: ``executescript`` would first COMMIT the open
    migration transaction (and the ``COMMIT`` that ends it would then fail)."""
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)


def _v1(db: Store) -> None:
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
            "by"      TEXT NOT NULL,
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


def _v2(db: Store) -> None:
    """Decisions from another process: the actions waiting for one, and a decision's paths.

    ``waits`` is the queue: an action held by a live process (``holder`` is ``pid@host``,
    rolled back at ``deadline``) or kept staged (``holder`` NULL). ``answered`` is the seq of
    the one decision that answered it, recorded by ``claimed_by`` (``pid@host``): for a kept
    action, the process that carries the decision out. Actions kept before this version join
    the queue."""
    _run_script(
        db,
        """
        ALTER TABLE decisions ADD COLUMN paths TEXT;
        CREATE TABLE waits (
            action_id TEXT PRIMARY KEY REFERENCES actions (id),
            holder    TEXT,
            since     TEXT NOT NULL,
            deadline  TEXT,
            answered  INTEGER,
            claimed_by TEXT
        );
        INSERT INTO waits (action_id, holder, since, deadline, answered)
            SELECT a.id, NULL, a.updated_at, NULL, NULL FROM actions a
            WHERE a.status = 'staged' AND (
                SELECT d.verdict FROM decisions d WHERE d.action_id = a.id
                ORDER BY d.seq DESC LIMIT 1
            ) = 'keep'
        """,
    )


# MIGRATIONS[n] takes the schema from version n to n + 1. Append, never edit.
MIGRATIONS: Sequence[Callable[[Store], None]] = (_v1, _v2)
SCHEMA_VERSION = len(MIGRATIONS)
