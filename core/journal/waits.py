"""The queue of actions waiting for a person, and the one decision that answers each.

An action joins the queue when it is held by a live process (``--decide person``: the
``holder`` is ``pid@host`` and the holder rolls it back at ``deadline``) or kept staged to
decide later (``holder`` is None). A decision recorded from anywhere — ``goex-db approve``,
``goex-fs reject``, later the review page — is checked and stored in one write: the action must
still wait, must not have been answered already (a decision is single-use), and the decision
must be bound to the digest the action has now (a stale digest is refused). The holder polls
``answer_of`` and carries the answer out; for a kept action whoever answered carries it out —
and should that process die before the action reaches a final status, its claim lapses and the
kept action can be decided again.
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass

from core.action import Decision, Kind, Verdict, now_iso
from core.errors import StateError
from core.journal.backend import Store
from core.journal.connection import Connection


@dataclass(frozen=True)
class Waiting:
    """An action waiting for a person: held by a live process, or kept staged."""

    action_id: str
    holder: str | None  # "pid@host" of the process holding the staged work; None: kept
    since: str
    deadline: str | None  # when the holder rolls it back (None: kept, until gc's age budget)
    answer: Decision | None

    @property
    def kept(self) -> bool:
        return self.holder is None


def this_holder() -> str:
    """How this process names itself as the holder of an action it keeps staged."""
    return f"{os.getpid()}@{socket.gethostname()}"


def holder_gone(holder: str) -> bool:
    """Whether the holder process has ended (only knowable on its own host)."""
    pid, _, host = holder.partition("@")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, someone else's
        return False
    return False


def insert_decision(db: Store, action_id: str, decision: Decision) -> int:
    """Append a decision to the action's decisions; returns its seq."""
    row = db.execute(
        """INSERT INTO decisions (action_id, seq, "by", verdict, reason, digest, at, paths)
           VALUES (?, (SELECT COUNT(*) FROM decisions WHERE action_id = ?), ?, ?, ?, ?, ?, ?)
           RETURNING seq""",
        (
            action_id,
            action_id,
            decision.by,
            decision.verdict.value,
            decision.reason,
            decision.digest,
            decision.at,
            json.dumps(list(decision.paths)) if decision.paths else None,
        ),
    ).fetchone()
    return int(row[0])


def decision_at(db: Store, action_id: str, seq: int | None = None) -> Decision | None:
    """The action's decision with this seq, or its last one."""
    query = 'SELECT "by", verdict, reason, digest, at, paths FROM decisions WHERE action_id = ? '
    params: tuple[object, ...] = (action_id,)
    if seq is None:
        query += "ORDER BY seq DESC LIMIT 1"
    else:
        query += "AND seq = ?"
        params += (seq,)
    row = db.execute(query, params).fetchone()
    if row is None:
        return None
    by, verdict, reason, digest, at, paths = row
    return Decision(
        by, Verdict(verdict), reason, digest, at, tuple(json.loads(paths)) if paths else ()
    )


class Waits(Connection):
    """The queue's part of the journal (see the module docstring)."""

    def wait_for(self, action_id: str, *, holder: str | None, deadline: str | None) -> None:
        """Put a staged action in the queue: held by ``holder`` until ``deadline``, or kept
        (an action already answered otherwise than by keeping it cannot wait again)."""
        with self._write() as db:
            waiting = self._waiting_row(db, action_id)
            answered = None if waiting is None else waiting.answer
            if answered is not None and answered.verdict is not Verdict.KEEP:
                raise StateError(f"action {action_id} was decided already; it cannot wait")
            db.execute(
                """INSERT INTO waits (action_id, holder, since, deadline, answered)
                   VALUES (?, ?, ?, ?, NULL)
                   ON CONFLICT (action_id) DO UPDATE SET holder = excluded.holder,
                        since = excluded.since, deadline = excluded.deadline, answered = NULL,
                        claimed_by = NULL""",
                (action_id, holder, now_iso(), deadline),
            )

    def answer(self, action_id: str, decision: Decision, *, holder: str | None = None) -> Waiting:
        """Record the one decision of a waiting action (module docstring), claimed by this
        process. ``holder`` is given when the holder answers itself (its timeout): it may do so
        past the deadline."""
        with self._write() as db:
            waiting = self._waiting_row(db, action_id)
            row = db.execute(
                "SELECT status, digest FROM actions WHERE id = ?", (action_id,)
            ).fetchone()
            if row is None:
                raise StateError(f"no action with id {action_id!r} in journal {self.path}")
            status, digest = row
            if waiting is None:
                raise StateError(
                    f"action {action_id} is not waiting for a decision (it is {status})"
                )
            if waiting.answer is not None and not self._lapsed(db, action_id, waiting):
                prior = waiting.answer
                raise StateError(
                    f"action {action_id} was already decided: {prior.verdict.value} by "
                    f"{prior.by} at {prior.at}"
                )
            if decision.digest != digest:
                raise StateError(
                    f"digest {decision.digest[:16]} is not that of action {action_id} "
                    f"({str(digest)[:16]}): its code or effects are not what was shown; look "
                    "at it again"
                )
            if waiting.holder is not None and waiting.holder != holder:
                if waiting.deadline is not None and now_iso() >= waiting.deadline:
                    raise StateError(
                        f"action {action_id} waited until {waiting.deadline} for a decision "
                        "and is rolled back"
                    )
                if holder_gone(waiting.holder):
                    raise StateError(
                        f"the process that held action {action_id} ({waiting.holder}) has "
                        "ended without a decision; nothing of it was committed"
                    )
            seq = insert_decision(db, action_id, decision)
            db.execute(
                "UPDATE waits SET answered = ?, claimed_by = ? WHERE action_id = ?",
                (seq, this_holder(), action_id),
            )
            db.notify()  # the holder, when it waits on a database journal
        return Waiting(action_id, waiting.holder, waiting.since, waiting.deadline, decision)

    @staticmethod
    def _lapsed(db: Store, action_id: str, waiting: Waiting) -> bool:
        """Whether a kept action's answer was claimed by a process that died before carrying
        it out (the action would otherwise stay staged, undecidable, for ever)."""
        if not waiting.kept:
            return False
        row = db.execute(
            "SELECT claimed_by FROM waits WHERE action_id = ?", (action_id,)
        ).fetchone()
        return bool(row and row[0] and holder_gone(row[0]))

    def answer_of(self, action_id: str) -> Decision | None:
        """The decision that answered a waiting action, once there is one."""
        waiting = self._waiting_row(self._db, action_id)
        return None if waiting is None else waiting.answer

    def waiting_for(self, action_id: str) -> Waiting | None:
        return self._waiting_row(self._db, action_id)

    def waiting(self, kind: Kind | None = None, target: str | None = None) -> list[Waiting]:
        """The queue, oldest first; of one kind and on one target if given."""
        kind_value = None if kind is None else kind.value
        ids = [
            action_id
            for (action_id,) in self._db.execute(
                """SELECT w.action_id FROM waits w JOIN actions a ON a.id = w.action_id
                   WHERE (CAST(? AS TEXT) IS NULL OR a.kind = ?)
                     AND (CAST(? AS TEXT) IS NULL OR a.target = ?)
                   ORDER BY w.since, w.action_id""",
                (kind_value, kind_value, target, target),
            ).fetchall()
        ]
        return [w for w in (self._waiting_row(self._db, i) for i in ids) if w is not None]

    @staticmethod
    def _waiting_row(db: Store, action_id: str) -> Waiting | None:
        row = db.execute(
            "SELECT holder, since, deadline, answered FROM waits WHERE action_id = ?",
            (action_id,),
        ).fetchone()
        if row is None:
            return None
        holder, since, deadline, answered = row
        answer = None if answered is None else decision_at(db, action_id, answered)
        return Waiting(action_id, holder, since, deadline, answer)
