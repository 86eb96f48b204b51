"""What goex-review reads from the journals it serves, and the decisions it records there.

The server is given journal files (goex-db's, one per goex-fs project, or the one GOEX_HOME
holds for both); every request opens the ones it needs, as the CLIs do, so nothing is shared
between threads. A decision is the same one ``goex-db approve`` or ``goex-fs reject`` records:
bound to the digest the page showed, single-use, and for a kept action carried out here.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from core.action import Action, Decision, Kind, Status, Verdict
from core.errors import GoexError, StateError, UsageError
from core.journal import Journal, Location, Waiting, journal_exists
from core.web.sides import Side

HISTORY_LIMIT = 200


@dataclass(frozen=True)
class Entry:
    """One action as a page lists it."""

    journal: Location
    action: Action
    waiting: Waiting | None

    @property
    def pending(self) -> bool:
        """Waiting for a person and not answered yet."""
        return self.waiting is not None and self.waiting.answer is None

    @property
    def state(self) -> str:
        return "pending" if self.pending else self.action.status.value

    @property
    def staged_at(self) -> str:
        return self.action.history[-1][1] if self.action.history else ""

    def seconds_left(self, now: datetime) -> float | None:
        """Seconds until its holder rolls it back (None: kept, no deadline)."""
        if self.waiting is None or self.waiting.deadline is None:
            return None
        left = datetime.fromisoformat(self.waiting.deadline) - now
        return max(0.0, left.total_seconds())


class Journals:
    def __init__(self, locations: Sequence[Location]) -> None:
        self.paths: list[Location] = list(
            dict.fromkeys(p if isinstance(p, str) else p.resolve() for p in locations)
        )

    @contextmanager
    def _open(self) -> Iterator[list[tuple[Location, Journal]]]:
        opened = [(p, Journal(p)) for p in self.paths if journal_exists(p)]
        try:
            yield opened
        finally:
            for _, journal in opened:
                journal.close()

    def queue(self) -> list[Entry]:
        """Every action waiting for a person, oldest first."""
        entries = []
        with self._open() as journals:
            for path, journal in journals:
                for waiting in journal.waiting():
                    if waiting.answer is None:
                        action = journal.get(waiting.action_id)
                        if action.status is Status.STAGED:
                            entries.append(Entry(path, action, waiting))
        return sorted(entries, key=lambda e: (e.waiting.since if e.waiting else "", e.action.id))

    def history(
        self, status: str | None = None, target: str | None = None, since: str | None = None
    ) -> list[Entry]:
        """The journals' recent actions, newest first: of one status (``pending`` too), on
        targets containing ``target``, and begun at or after ``since`` (an ISO date or time)."""
        entries = []
        with self._open() as journals:
            for path, journal in journals:
                waits = {w.action_id: w for w in journal.waiting()}  # one query, not one each
                for action in journal.recent(limit=HISTORY_LIMIT):
                    entry = Entry(path, action, waits.get(action.id))
                    if status and entry.state != status:
                        continue
                    if target and target not in action.target:
                        continue
                    if since and action.history[0][1] < since:
                        continue
                    entries.append(entry)
        entries.sort(key=lambda e: e.action.history[0][1], reverse=True)
        return entries[:HISTORY_LIMIT]

    def find(self, action_id: str) -> tuple[Entry, dict[str, Any]]:
        """The action with this id and its journaled effects."""
        with self._open() as journals:
            for path, journal in journals:
                try:
                    action = journal.get(action_id)
                except GoexError:
                    continue
                if action.id == action_id:
                    entry = Entry(path, action, journal.waiting_for(action.id))
                    return entry, journal.effects(action.id) or {}
        raise UsageError(f"no action {action_id[:40]!r} in the journals this page serves")

    def decide(self, sides: Mapping[Kind, Side], action_id: str, decision: Decision) -> Status:
        """Record a person's decision (module docstring) with the side of the action's kind;
        the action's status once it is carried out here, or STAGED when the process holding
        it carries it out."""
        entry, recorded = self.find(action_id)
        action, waiting = entry.action, entry.waiting
        side = sides[action.kind]
        if waiting is None or action.status is not Status.STAGED:
            raise StateError(f"action {action.id} is {action.status.value}, not waiting")
        if decision.digest != action.digest:
            raise StateError(
                f"action {action.id} changed since the page was shown (its digest is not the "
                "one you saw); look at it again"
            )
        if decision.verdict is Verdict.COMMIT:
            side.check(action, recorded, decision.paths)
        with Journal(entry.journal) as journal:
            if waiting.kept:
                return side.reopen(journal, action, decision.verdict).carry_out(decision)
            journal.answer(action.id, decision)
            return journal.status_of(action.id) or Status.STAGED


def now() -> datetime:
    return datetime.now(UTC)
