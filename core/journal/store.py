"""The journal's records: actions and their transitions, decisions, effects, undo data and
intents (see ``core.journal``)."""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Mapping
from typing import Any

from core.action import Action, Decision, Kind, Status, new_action_id, now_iso
from core.errors import StateError
from core.journal.backend import Store
from core.journal.waits import Waits, decision_at, insert_decision

# An undo record holds every row image of an action, as JSON text: several times the rows'
# size. It is kept compressed (zlib, then base64 to stay text in either journal's column),
# marked by this prefix; a record written without it (before) is read as it was. Level 1:
# 100,000 images compress in a third of level 6's time, to a record 10% larger.
PACKED = "zlib:"


def packed(data: Mapping[str, Any]) -> str:
    text = json.dumps(data, default=str, separators=(",", ":")).encode()
    return PACKED + base64.b64encode(zlib.compress(text, 1)).decode("ascii")


def unpacked(stored: str) -> dict[str, Any]:
    if stored.startswith(PACKED):
        stored = zlib.decompress(base64.b64decode(stored[len(PACKED) :])).decode()
    return dict(json.loads(stored))


class Journal(Waits):
    """A connection to one journal file. Not shared between threads; cheap to open."""

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- actions -------------------------------------------------------------------------------

    def save(self, action: Action) -> None:
        """Insert or update an action and append its new status transitions.

        Refuses (StateError) when another process has moved the action on since it was read,
        so two writers can never both commit the same action.
        """
        with self._write() as db:
            stored, last = self._claim_id(db, action)
            if stored > len(action.history) or (
                stored and last != action.history[stored - 1][0].value
            ):
                raise StateError(f"action {action.id} was changed by another process; reload it")
            db.execute(
                """INSERT INTO actions (id, kind, target, prompt, code, digest, status,
                                        created_at, updated_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (id) DO UPDATE SET code = excluded.code, digest = excluded.digest,
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
            # only a staged action can wait, and only one saved before can be in the queue
            if stored and action.status is not Status.STAGED:
                db.execute("DELETE FROM waits WHERE action_id = ?", (action.id,))

    @staticmethod
    def _claim_id(db: Store, action: Action) -> tuple[int, str | None]:
        """How many transitions of this action are stored, and the last one's status; a new
        action whose id another process took in the same millisecond gets a fresh id instead
        of merging into it. (The code of an action staged in steps only grows: what is stored
        starts what is saved.)"""
        while True:
            row = db.execute(
                """SELECT a.kind, a.target, a.created_at, a.code,
                          (SELECT COUNT(*) FROM transitions t WHERE t.action_id = a.id),
                          (SELECT t.status FROM transitions t WHERE t.action_id = a.id
                           ORDER BY t.seq DESC LIMIT 1)
                   FROM actions a WHERE a.id = ?""",
                (action.id,),
            ).fetchone()
            if row is None:
                return 0, None
            if row[:3] == (action.kind.value, action.target, action.history[0][1]) and (
                action.code.startswith(row[3])
            ):
                return int(row[4]), row[5]
            if len(action.history) > 1:  # saved before under this id: never merge the two
                raise StateError(f"action id {action.id} is already used by another action")
            action.id = new_action_id()

    @staticmethod
    def _save_decision(db: Store, action_id: str, decision: Decision) -> None:
        """Append the decision unless it is the last one already (recorded by ``answer``)."""
        if decision_at(db, action_id) != decision:
            insert_decision(db, action_id, decision)

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

    def status_of(self, action_id: str) -> Status | None:
        """The action's status as journaled now (None when it is not in the journal yet)."""
        row = self._db.execute("SELECT status FROM actions WHERE id = ?", (action_id,)).fetchone()
        return None if row is None else Status(row[0])

    def recent(
        self, kind: Kind | None = None, limit: int = 50, target: str | None = None
    ) -> list[Action]:
        """The most recent actions first, of one kind and on one target if given."""
        query = (
            "SELECT id, kind, target, prompt, code, digest FROM actions "
            "WHERE (CAST(? AS TEXT) IS NULL OR kind = ?) "
            "AND (CAST(? AS TEXT) IS NULL OR target = ?) ORDER BY id DESC LIMIT ?"
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
        decision = decision_at(self._db, action_id)
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
                (action_id, None if data is None else packed(data), pointer),
            )

    def undo_size(self, action_id: str) -> int:
        """What an action's undo record takes in the journal, in characters (compressed)."""
        row = self._db.execute(
            "SELECT length(data) FROM undo WHERE action_id = ?", (action_id,)
        ).fetchone()
        return int(row[0] or 0) if row else 0

    def undo_data(self, action_id: str) -> tuple[dict[str, Any] | None, str | None]:
        row = self._db.execute(
            "SELECT data, pointer FROM undo WHERE action_id = ?", (action_id,)
        ).fetchone()
        if row is None:
            return None, None
        return (None if row[0] is None else unpacked(row[0])), row[1]

    # -- intents -------------------------------------------------------------------------------

    def begin_intent(self, action_id: str, step: str, data: Mapping[str, Any]) -> int:
        with self._write() as db:
            row = db.execute(
                "INSERT INTO intents (action_id, step, data, started_at) VALUES (?, ?, ?, ?) "
                "RETURNING id",
                (action_id, step, json.dumps(data, default=str), now_iso()),
            ).fetchone()
            return int(row[0])

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


def _like_prefix(prefix: str) -> str:
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"
