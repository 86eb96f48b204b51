"""The library API: a database connection that stages SQL in a held-open transaction.

::

    with goexdb.connect("duckdb:shop.duckdb") as db:
        staged = db.stage("UPDATE orders SET status = 'sent' WHERE id = 7")
        print(staged.effects.to_json())
        staged.commit()          # or staged.rollback()

Every statement is classified before any runs; one that may not run in a held transaction
(transaction control, session changes, external access, unknown) refuses the whole script and
nothing executes. A statement that fails rolls the whole transaction back.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any

from core.config import DbConfig
from core.errors import ConflictError, PolicyRejected, StateError
from core.policy import PolicySettings, blocking, evaluate
from goexdb import undo
from goexdb.backends.base import Backend
from goexdb.dsn import Engine, Target, parse_dsn
from goexdb.effects import Effects, StatementResult, many_images
from goexdb.rules import BEFORE_RUNNING, Outcome
from goexdb.sql import Statement, parse_script


def open_backend(target: Target, config: DbConfig) -> Backend:
    if target.engine is Engine.DUCKDB:
        from goexdb.backends.duckdb import DuckDBBackend

        return DuckDBBackend(target, config)
    from goexdb.backends.postgres import PostgresBackend

    return PostgresBackend(target, config)


class Staged:
    """One staged script: its statements, results and measured effects, awaiting a decision."""

    def __init__(
        self,
        backend: Backend,
        statements: Sequence[Statement],
        results: Sequence[StatementResult],
        effects: Effects,
        capture: str = "images",
    ) -> None:
        self.backend = backend
        self.capture = capture
        self.statements = list(statements)
        self.results = list(results)
        self.effects = effects
        self.effects.results = [
            {"columns": r.columns, "rows": r.rows, "truncated": r.truncated}
            for r in self.results
            if r.columns and r.rowcount is None
        ]
        self.open = True

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
            undo.assess(self.statements, self.effects, self.capture, self.backend.dialect)

    def effects_json(self) -> dict[str, Any]:
        return {
            "statements": [r.to_json() for r in self.results],
            "effects": self.effects.to_json(),
            "reversible": self.reversible,
        }

    def undo_record(self) -> dict[str, Any]:
        """What the journal keeps so that this action can be undone after it is committed."""
        self.settle()
        with many_images():
            return undo.record(self.statements, self.effects, self.backend.dialect)

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


class Database:
    def __init__(
        self,
        target: Target,
        config: DbConfig | None = None,
        policy: PolicySettings | None = None,
        *,
        on_clone: bool = False,
    ) -> None:
        self.target = target
        self.config = config or DbConfig()
        self.policy = policy or PolicySettings()
        # A clone may run what cannot run in a transaction block, by ending its transaction.
        self.on_clone = on_clone
        self._backend = open_backend(target, self.config)
        self._staged: Staged | None = None

    def describe(self) -> str:
        return self._backend.describe()

    def classify(self, sql: str) -> list[Statement]:
        return parse_script(sql, self._backend.dialect)

    def stage(self, sql: str | Sequence[Statement]) -> Staged:
        if self._staged is not None and self._staged.open:
            raise StateError("a staged transaction is still open; commit or roll it back first")
        statements = self.classify(sql) if isinstance(sql, str) else list(sql)
        for statement in statements:
            if not (statement.runs_on_clone if self.on_clone else statement.runnable):
                raise statement.denial()
        refused = blocking(evaluate(BEFORE_RUNNING, Outcome(statements, Effects()), self.policy))
        if refused:
            raise PolicyRejected(
                f"refused before running: {refused[0].message}", violations=refused
            )
        self._backend.begin(statements)
        results = []
        try:
            for statement in statements:
                results.append(self._backend.execute(statement))
            effects = self._backend.measure()
        except BaseException:
            self._backend.rollback()
            raise
        undo.assess(statements, effects, self.config.capture, self._backend.dialect)
        self._staged = Staged(self._backend, statements, results, effects, self.config.capture)
        return self._staged

    def plan_undo(self, record: dict[str, Any]) -> undo.UndoPlan:
        """The compensating SQL for a committed action's journaled undo record."""
        if record.get("irreversible"):
            raise StateError("this action cannot be undone: " + "; ".join(record["irreversible"]))
        return undo.plan(record, self._backend.columns)

    def stage_undo(self, plan: undo.UndoPlan) -> Staged:
        """Stage an undo plan; if any row changed since the action, roll back and refuse."""
        if not plan.statements:
            raise StateError("there is nothing to undo: the action changed no rows or schema")
        staged = self.stage(plan.sql)
        changed = [g for g in plan.guards if staged.results[g.statement].rowcount != 1]
        if changed:
            staged.rollback()
            tables = sorted({g.table for g in changed})
            raise ConflictError(
                f"undo refused: {len(changed)} row(s) of {', '.join(tables)} changed since the "
                "action was committed",
                details=[{"table": g.table, "row": g.row} for g in changed],
            )
        return staged

    def close(self) -> None:
        if self._staged is not None and self._staged.open:
            self._staged.rollback()
        self._backend.close()

    def __enter__(self) -> Database:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def connect(
    dsn: str | Target | None = None,
    config: DbConfig | None = None,
    policy: PolicySettings | None = None,
) -> Database:
    """Open a database for staging; ``dsn`` defaults to GOEX_DSN, then DATABASE_URL."""
    target = dsn if isinstance(dsn, Target) else parse_dsn(dsn)
    return Database(target, config, policy)
