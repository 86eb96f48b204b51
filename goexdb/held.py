"""A held transaction: statements run one at a time inside it, their effects measured, and
nothing made permanent until ``commit``. The unit every goexdb action, replay and undo stages
on; ``goexdb.session`` journals it as an action.

Every statement is classified before any runs; one that may not run in a held transaction
(transaction control, session changes, external access, unknown) refuses the whole script and
nothing executes. A statement that fails rolls the whole transaction back.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from core.config import Capture, DbConfig
from core.errors import StateError
from goexdb import reversible
from goexdb.backends.base import Backend
from goexdb.dsn import Engine, Target
from goexdb.effects import WHOLE_ACTION, Effects, StatementResult, many_images
from goexdb.sql import Statement


def open_backend(target: Target, config: DbConfig) -> Backend:
    if target.engine is Engine.DUCKDB:
        from goexdb.backends.duckdb import DuckDBBackend

        return DuckDBBackend(target, config)
    from goexdb.backends.postgres import PostgresBackend

    return PostgresBackend(target, config)


class Transaction(Protocol):
    """What a held transaction needs of what holds it: a backend, or a proxied connection."""

    dialect: str

    def settle(self) -> None: ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...


class Held:
    """One script run in a held-open transaction: its statements, results and measured effects."""

    def __init__(
        self,
        backend: Transaction,
        statements: Sequence[Statement],
        results: Sequence[StatementResult],
        effects: Effects,
        capture: Capture = Capture.IMAGES,
    ) -> None:
        self.backend = backend
        self.capture = capture
        self.statements = list(statements)
        self.results = list(results)
        self.effects = effects
        self._note_results()
        self.open = True
        # rows whose foreign key finds no row now, where it was not checked (an undo's)
        self.dangling: list[dict[str, object]] = []
        # rows not restored exactly, per table (an undo's: ``undo.unrestored``)
        self.unrestored: list[tuple[str, list[tuple[Any, ...]]]] = []

    def _note_results(self) -> None:
        self.effects.results = [
            {"columns": r.columns, "rows": r.rows, "truncated": r.truncated}
            for r in self.results
            if r.columns and r.rowcount is None
        ]

    def extend(
        self,
        statements: Sequence[Statement],
        results: Sequence[StatementResult],
        effects: Effects,
    ) -> None:
        """Add a later step run in this same transaction (``backend.mark``-ed apart) to what
        the transaction did: counts added, images renumbered after the earlier statements."""
        offset = len(self.statements)
        total = self.effects
        for images in effects.images:
            images.statement += offset if images.statement != WHOLE_ACTION else 0
        for name, change in effects.tables.items():
            table = total.table(name)
            table.inserted += change.inserted
            table.updated += change.updated
            table.deleted += change.deleted
            table.by_cascade_or_trigger += change.by_cascade_or_trigger
        total.schema_changes += effects.schema_changes
        total.locks += [lock for lock in effects.locks if lock not in total.locks]
        total.rewrites = sorted({*total.rewrites, *effects.rewrites})
        total.side_effects = list(dict.fromkeys([*total.side_effects, *effects.side_effects]))
        # images of the whole action so far replace the earlier ones of their table
        whole = {i.table for i in effects.images if i.statement == WHOLE_ACTION}
        total.images = [i for i in total.images if i.table not in whole] + effects.images
        self.statements += statements
        self.results += results
        self._note_results()

    @property
    def reversible(self) -> bool:
        self.settle()
        return self.effects.reversible

    def settle(self) -> None:
        """Read the row images the backend left for later (an UPDATE's on DuckDB), while the
        transaction is still open, and judge again whether the action can be undone: images
        that could not be read make it irreversible. Rolling back without settling costs
        nothing; commit, ``reversible`` and ``undo_record`` settle first."""
        if self.open:
            self.backend.settle()
            reversible.assess(self.statements, self.effects, self.capture, self.backend.dialect)

    def effects_json(self) -> dict[str, Any]:
        """What is journaled and shown: each statement, the effects, and whether undo can work."""
        reversible = self.reversible  # judged first: it sets effects.irreversible
        return {
            "statements": [r.to_json() for r in self.results],
            "effects": self.effects.to_json(),
            "images": self.effects.shown_images(),
            "reversible": reversible,
        }

    def undo_record(self) -> dict[str, Any]:
        """What the journal keeps so that this action can be undone after it is committed."""
        self.settle()
        with many_images():
            return reversible.record(self.statements, self.effects, self.backend.dialect)

    def commit(self) -> None:
        self.settle()
        self._end(self.backend.commit)

    def rollback(self) -> None:
        self._end(self.backend.rollback)

    def _end(self, how: Callable[[], None]) -> None:
        if not self.open:
            raise StateError("this staged transaction has already ended")
        self.open = False
        how()
