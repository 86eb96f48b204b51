"""Clone mode: stage an action on a clone of the database, and commit it by replaying it.

::

    staged = stage_on_clone(target, "CREATE INDEX CONCURRENTLY ...", tag=action.id)
    print(staged.effects.to_json(), staged.clone.strategy)
    staged.commit()      # or staged.rollback(); either way the clone is dropped

On the clone anything that touches only that database may run, even statements that cannot run in
a transaction block. Rollback drops the clone: the real database was never touched. Commit replays
the statements on the real database inside a held transaction, measures them again, and commits
only if the per-table row counts and the schema changes match the clone's; otherwise it rolls the
replay back and says what differed. A script with a statement that cannot run in a transaction
cannot be replayed that way, so its commit is refused: clone mode has measured it, a migration
tool must apply it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from core.config import DbConfig
from core.errors import ConflictError, StateError
from core.policy import PolicySettings
from goexdb.clone import Clone, Progress, make_clone
from goexdb.dsn import Target
from goexdb.effects import Effects
from goexdb.session import Database, Staged
from goexdb.sql import Statement, StatementKind, parse_script


class ClonedStaged(Staged):
    """An action staged on a clone; commit replays it on the real database."""

    def __init__(
        self, on_clone: Staged, database: Database, clone: Clone, real: Callable[[], Database]
    ) -> None:
        super().__init__(
            on_clone.backend,
            on_clone.statements,
            on_clone.results,
            on_clone.effects,
            on_clone.capture,
        )
        self._on_clone = on_clone
        self._clone_database = database
        self._real = real
        self.clone = clone
        self.replayed: Staged | None = None

    def effects_json(self) -> dict[str, Any]:
        return {**super().effects_json(), "clone": self.clone.to_json()}

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

    def _discard(self) -> None:
        try:
            self._clone_database.close()  # rolls back what is still open on the clone
        finally:
            self.clone.drop()

    def _replay(self) -> None:
        self._discard()
        outside = [s for s in self.statements if s.kind is StatementKind.NON_TRANSACTIONAL]
        if outside:
            raise StateError(
                f"commit refused: {outside[0].verb.upper()} cannot run inside a transaction "
                "block, so it cannot be replayed on the real database with the rest held; clone "
                "mode measured it, apply it with your migration tool"
            )
        with self._real() as real:
            replayed = real.stage(self.statements)
            differences = effect_differences(self.effects, replayed.effects)
            if differences:
                replayed.rollback()
                raise ConflictError(
                    "commit refused and rolled back: on the real database the statements did not "
                    "do what they did on the clone (" + "; ".join(differences) + ")",
                    details=differences,
                )
            replayed.commit()
        self.replayed = replayed


def stage_on_clone(
    target: Target,
    sql: str | Sequence[Statement],
    *,
    tag: str,
    config: DbConfig | None = None,
    policy: PolicySettings | None = None,
    progress: Progress | None = None,
) -> ClonedStaged:
    """Clone ``target``, stage ``sql`` on the clone and measure it; see the module docstring.

    Nothing may be connected to the real database meanwhile (PostgreSQL copies only a template
    no session uses); it is connected to again for the replay, after the decision.
    """
    statements = parse_script(sql, target.dialect) if isinstance(sql, str) else list(sql)
    clone = make_clone(target, tag, progress)
    try:
        database = Database(clone.target, config, policy, on_clone=True)
    except BaseException:
        clone.drop()
        raise
    try:
        staged = database.stage(statements)
    except BaseException:
        database.close()
        clone.drop()
        raise
    return ClonedStaged(staged, database, clone, lambda: Database(target, config, policy))


def effect_differences(clone: Effects, real: Effects) -> list[str]:
    """What the real run did differently from the clone's: row counts per table, schema."""
    differences = []
    for table in sorted(clone.tables.keys() | real.tables.keys()):
        on_clone, on_real = (
            e.tables[table].to_json() if table in e.tables else {} for e in (clone, real)
        )
        for count in ("inserted", "updated", "deleted"):
            a, b = on_clone.get(count, 0), on_real.get(count, 0)
            if a != b:
                differences.append(f"{table}: {b} rows {count}, {a} on the clone")
    schema_clone = sorted(_schema(clone))
    schema_real = sorted(_schema(real))
    if schema_clone != schema_real:
        only_real = [c for c in schema_real if c not in schema_clone]
        only_clone = [c for c in schema_clone if c not in schema_real]
        differences.append(
            "schema changes differ"
            + (f"; only on the real database: {', '.join(only_real)}" if only_real else "")
            + (f"; only on the clone: {', '.join(only_clone)}" if only_clone else "")
        )
    return differences


def _schema(effects: Effects) -> list[str]:
    return [
        " ".join(filter(None, (c.change, c.table, c.name, c.after))) for c in effects.schema_changes
    ]
