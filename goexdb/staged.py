"""A journaled SQL action (``core.lifecycle.Staged``): held in a transaction, on a clone, or
kept, until its decision is carried out. ``goexdb.session`` stages it."""

from __future__ import annotations

from typing import Any

from core import lifecycle
from core.action import Action, Decision, Kind
from core.errors import StateError
from core.journal import Journal
from core.redact import Redactor
from goexdb.clone import Clone
from goexdb.cloned import ClonedHeld, KeptClone
from goexdb.effects import Effects, StatementResult
from goexdb.held import Held
from goexdb.sql import Statement


class Staged(lifecycle.Staged):
    """A journaled SQL action, staged in a held transaction or on a clone, awaiting a decision."""

    kind = Kind.DB

    def __init__(self, action: Action, journal: Journal, redactor: Redactor) -> None:
        super().__init__(action, journal, redactor)
        self.held: Held | ClonedHeld | KeptClone | None = None

    @property
    def work(self) -> Held | ClonedHeld | KeptClone:
        if self.held is None:
            raise StateError(f"action {self.action.id} has nothing staged")
        return self.held

    @property
    def effects(self) -> Effects:
        return self.work.effects

    @property
    def statements(self) -> list[Statement]:
        return self.work.statements

    @property
    def results(self) -> list[StatementResult]:
        return self.work.results

    @property
    def clone(self) -> Clone | None:
        work = self.held
        return work.clone if isinstance(work, ClonedHeld | KeptClone) else None

    def undo_record(self) -> dict[str, Any]:
        return self.work.undo_record()

    @property
    def can_keep(self) -> bool:
        return self.clone is not None

    @property
    def unchanged(self) -> str:
        return "the database was not changed"

    def _commit_work(self, decision: Decision) -> None:
        work = self.work
        if isinstance(work, ClonedHeld | KeptClone):
            work.commit()  # replayed on the real database: undo needs its rows (after)
            return
        try:
            record = work.undo_record()
        except BaseException:
            work.rollback()
            raise
        self.journal.set_undo(self.action.id, data=record)
        work.commit()

    def _after_commit(self) -> None:
        if isinstance(self.held, ClonedHeld | KeptClone):
            self.journal.set_undo(self.action.id, data=self.held.undo_record())

    def _rollback_work(self) -> None:
        if self.held is not None and self.held.open:
            self.held.rollback()

    def _keep_work(self) -> None:
        if isinstance(self.held, ClonedHeld):
            self.held.keep()
