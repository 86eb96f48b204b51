"""Clone mode: an action staged on a clone of the database, committed by replaying it.

::

    held = session.hold_on_clone("CREATE INDEX CONCURRENTLY ...", tag=action.id)
    print(held.effects.to_json(), held.clone.strategy)
    held.commit()      # or held.rollback(); either way the clone is dropped (or held.keep())

On the clone anything that touches only that database may run, even statements that cannot run in
a transaction block. Rollback drops the clone: the real database was never touched. Commit replays
the statements on the real database inside a held transaction, measures them again, and commits
only if the per-table row counts and the schema changes match the clone's; otherwise it rolls the
replay back and says what differed. A script with a statement that cannot run in a transaction
cannot be replayed that way, so its commit is refused: clone mode has measured it, a migration
tool must apply it.

``keep`` commits the action on the clone (so the clone shows its after-state) and leaves the
clone for a later process: ``KeptClone`` is that clone found again (``Session.reopen``), and
its commit replays exactly as above, compared with the effects the journal recorded.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from core.errors import ConflictError, StateError
from goexdb.clone import Clone
from goexdb.effects import Effects, StatementResult
from goexdb.held import Held
from goexdb.sql import Statement, StatementKind

Redact = Callable[[Any], Any]


class Holder(Protocol):
    """What runs SQL in a held transaction: a ``goexdb.Session``."""

    def hold(self, sql: str | Sequence[Statement]) -> Held: ...

    def close(self) -> None: ...


class ClonedHeld(Held):
    """An action held on a clone; commit replays it on the real database."""

    def __init__(
        self, on_clone: Held, session: Holder, clone: Clone, real: Callable[[], Holder]
    ) -> None:
        super().__init__(
            on_clone.backend,
            on_clone.statements,
            on_clone.results,
            on_clone.effects,
            on_clone.capture,
        )
        self._on_clone = on_clone
        self._clone_session = session
        self._real = real
        self.clone = clone
        self.replayed: Held | None = None

    def settle(self) -> None:
        if self.replayed is None:
            self._on_clone.settle()

    def undo_record(self) -> dict[str, Any]:
        # Row images from the real database once it is committed there; the clone's until then.
        return (self.replayed or self._on_clone).undo_record()

    def commit(self) -> None:
        self._end(self._replay)

    def rollback(self) -> None:
        self._end(self._discard)

    def keep(self) -> None:
        """Commit on the clone and leave it, for a later process (``Session.reopen``)."""
        self._on_clone.commit()
        self._clone_session.close()

    def _discard(self) -> None:
        try:
            self._clone_session.close()  # rolls back what is still open on the clone
        finally:
            self.clone.drop()

    def _replay(self) -> None:
        try:
            self.replayed = replay(self.statements, self.effects.to_json(), self._real, lambda x: x)
        finally:
            self._discard()


class KeptClone:
    """A clone an earlier process kept, with what the journal recorded of its action."""

    def __init__(
        self,
        clone: Clone,
        statements: Sequence[Statement],
        recorded: Mapping[str, Any],
        real: Callable[[], Holder],
        redact: Redact,
    ) -> None:
        self.clone = clone
        self.statements = list(statements)
        self.recorded = recorded
        self.effects = Effects.from_json(recorded["effects"])
        self.results = [
            StatementResult(s["sql"], StatementKind(s["kind"]), s["rowcount"])
            for s in recorded.get("statements", [])
        ]
        self._real = real
        self._redact = redact
        self.replayed: Held | None = None
        self.open = True

    @property
    def reversible(self) -> bool:
        return bool(self.recorded.get("reversible"))

    def undo_record(self) -> dict[str, Any]:
        if self.replayed is None:
            raise StateError("a kept action has no undo record until it is committed")
        return self.replayed.undo_record()

    def commit(self) -> None:
        self._end()
        try:
            self.replayed = replay(
                self.statements, self.recorded["effects"], self._real, self._redact
            )
        finally:
            self.clone.drop()

    def rollback(self) -> None:
        self._end()
        self.clone.drop()

    def _end(self) -> None:
        if not self.open:
            raise StateError("this kept action has already ended")
        self.open = False


def replay(
    statements: Sequence[Statement],
    expected: Mapping[str, Any],
    real: Callable[[], Holder],
    redact: Redact,
) -> Held:
    """Run the statements on the real database and commit them only if they do what they
    did on the clone (``expected``, the clone's effects as JSON); returns the committed run."""
    outside = [s for s in statements if s.kind is StatementKind.NON_TRANSACTIONAL]
    if outside:
        raise StateError(
            f"commit refused: {outside[0].verb.upper()} cannot run inside a transaction "
            "block, so it cannot be replayed on the real database with the rest held; clone "
            "mode measured it, apply it with your migration tool"
        )
    session = real()
    try:
        replayed = session.hold(statements)
        differences = effect_differences(expected, redact(replayed.effects.to_json()))
        if differences:
            replayed.rollback()
            raise ConflictError(
                "commit refused and rolled back: on the real database the statements did not "
                "do what they did on the clone (" + "; ".join(differences) + ")",
                details=differences,
            )
        replayed.commit()
    finally:
        session.close()
    return replayed


def effect_differences(clone: Mapping[str, Any], real: Mapping[str, Any]) -> list[str]:
    """What the real run did differently from the clone's (both as ``Effects.to_json()``):
    row counts per table, schema changes."""
    differences = []
    clone_tables, real_tables = clone.get("tables", {}), real.get("tables", {})
    for table in sorted(clone_tables.keys() | real_tables.keys()):
        on_clone, on_real = clone_tables.get(table, {}), real_tables.get(table, {})
        for count in ("inserted", "updated", "deleted"):
            a, b = on_clone.get(count, 0), on_real.get(count, 0)
            if a != b:
                differences.append(f"{table}: {b} rows {count}, {a} on the clone")
    schema_clone, schema_real = sorted(_schema(clone)), sorted(_schema(real))
    if schema_clone != schema_real:
        only_real = [c for c in schema_real if c not in schema_clone]
        only_clone = [c for c in schema_clone if c not in schema_real]
        differences.append(
            "schema changes differ"
            + (f"; only on the real database: {', '.join(only_real)}" if only_real else "")
            + (f"; only on the clone: {', '.join(only_clone)}" if only_clone else "")
        )
    return differences


def _schema(effects: Mapping[str, Any]) -> list[str]:
    return [
        " ".join(str(c[k]) for k in ("change", "table", "name", "after") if c.get(k))
        for c in effects.get("schema_changes", [])
    ]
