"""The library API of goex-db: a session on one database that stages agent SQL as actions.

::

    with goexdb.connect("duckdb:shop.duckdb") as db:
        staged = db.stage("UPDATE orders SET status = 'sent' WHERE id = 7")
        print(staged.effects.to_json(), staged.violations, staged.reversible)
        staged.commit()          # or staged.rollback(), or staged.conclude(Mode.POLICY)

``stage`` journals the action (proposed, then staged with its measured effects, policy findings
and digest); ``Staged`` (``core.lifecycle``) journals the decision and what became of it.
``stage(sql, clone=True)`` stages on a throwaway clone of the database instead; such an action
can be kept (``staged.keep()``) and finished by another process with ``reopen(action_id)``.
``stage_undo(action_id)`` stages the undo of a committed action, decided like any action.
``hold(sql)`` is the unjournaled held transaction underneath (replays, benchmarks).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from fnmatch import fnmatch
from types import TracebackType
from typing import Any

from core.action import Action, Kind, Status
from core.config import DbConfig, ModelConfig
from core.errors import (
    ExecutionError,
    PolicyRejected,
    StateError,
    StatementDenied,
    UsageError,
)
from core.journal import Journal, default_path
from core.policy import PolicySettings, Violation, blocking, evaluate
from core.redact import Redactor
from core.secrets import SecretStore
from goexdb import reversible, undo
from goexdb.backends.base import Backend
from goexdb.clone import Progress, attach_clone, make_clone
from goexdb.cloned import ClonedHeld, KeptClone
from goexdb.dsn import DSN_ENV, Target, parse_dsn
from goexdb.effects import Effects, SchemaChange, StatementResult, many_images
from goexdb.held import Held, open_backend
from goexdb.rules import BEFORE_RUNNING, RULES, Outcome
from goexdb.sql import Statement, StatementKind, parse_script
from goexdb.staged import Staged
from goexdb.undoplan import UndoPlan

STEP_SAVEPOINT = "goex_step"  # around each later step of an action staged in steps
SESSION_LOCKS = "pg_*advisory_lock*"  # the session-level ones: they outlive a query's rollback


class Session:
    """A connection to one database (opened when first needed) that stages actions on it."""

    def __init__(
        self,
        target: Target,
        config: DbConfig | None = None,
        policy: PolicySettings | None = None,
        *,
        journal: Journal | None = None,
        redactor: Redactor | None = None,
        on_clone: bool = False,
    ) -> None:
        self.target = target
        self.config = config or DbConfig()
        self.policy = policy or PolicySettings()
        # A clone may run what cannot run in a transaction block, by ending its transaction.
        self.on_clone = on_clone
        self._backend: Backend | None = None
        self._journal = journal
        self._own_journal = journal is None
        self._redactor = redactor
        self._held: Held | None = None

    @property
    def backend(self) -> Backend:
        if self._backend is None:
            self._backend = open_backend(self.target, self.config)
        return self._backend

    @property
    def journal(self) -> Journal:
        if self._journal is None:
            self._journal = Journal(default_path(Kind.DB))
        return self._journal

    @property
    def redactor(self) -> Redactor:
        if self._redactor is None:
            self._redactor = target_redactor(self.target)
        return self._redactor

    def describe(self, task: str | None = None, budget: int = ModelConfig.schema_budget) -> str:
        """The schema as the model is told it (``goexdb.schema``), the relations most relevant
        to ``task`` first when it is over ``budget`` tokens."""
        return self.backend.describe().describe(budget, task)

    def classify(self, sql: str) -> list[Statement]:
        return parse_script(sql, self.target.dialect)

    def hold(self, sql: str | Sequence[Statement], *, undoing: UndoPlan | None = None) -> Held:
        """Run SQL in a held transaction and measure it, unjournaled (``stage`` journals);
        ``undoing`` (the plan of an undo): under the settings its images were read under, with
        triggers and foreign-key actions off where the role may, then the foreign keys checked
        (dangling) and the rows restored (``undo.unrestored``)."""
        if self._held is not None and self._held.open:
            raise StateError("a staged transaction is still open; commit or roll it back first")
        statements = self._checked(sql)
        backend = self.backend
        backend.begin(statements)
        results = []
        try:
            raw = undoing is not None and backend.restoring(undoing.settings)
            known = undoing.known if undoing is not None else {}
            for statement in statements:
                results.append(backend.execute(statement, known.get(statement.sql)))
            effects = backend.measure()
            dangling = backend.dangling(sorted(effects.tables)) if raw else []
            unrestored = undo.unrestored(undoing, effects, backend) if undoing else []
        except BaseException:
            backend.rollback()
            raise
        reversible.assess(statements, effects, self.config.capture, backend.dialect)
        self._held = Held(backend, statements, results, effects, self.config.capture)
        self._held.dangling, self._held.unrestored = dangling, unrestored
        return self._held

    def _checked(self, sql: str | Sequence[Statement]) -> list[Statement]:
        """The statements, once each may run here and policy lets them run at all."""
        statements = self.classify(sql) if isinstance(sql, str) else list(sql)
        for statement in statements:
            if not (statement.runs_on_clone if self.on_clone else statement.runnable):
                raise statement.denial()
        refused = blocking(evaluate(BEFORE_RUNNING, Outcome(statements, Effects()), self.policy))
        if refused:
            raise PolicyRejected(
                f"refused before running: {refused[0].message}", violations=refused
            )
        return statements

    def stage(
        self,
        sql: str,
        *,
        prompt: str | None = None,
        clone: bool = False,
        progress: Progress | None = None,
    ) -> Staged:
        """Stage SQL as a journaled action: held, or on a clone (``progress``: a slow copy's)."""
        staged = Staged(
            Action(kind=Kind.DB, target=self.target.display, code=sql, prompt=prompt),
            self.journal,
            self.redactor,
        )
        with staged.being_staged():
            if clone:
                staged.held = self.hold_on_clone(sql, tag=staged.action.id, progress=progress)
            else:
                staged.held = self.hold(sql)
            self._record(staged, staged.held)
        return staged

    def stage_more(self, staged: Staged, sql: str) -> list[StatementResult]:
        """Run more SQL in a staged action's held transaction (an agent's next step), measured
        with what ran before and journaled again (code, effects, findings, digest). A refused
        step runs nothing. On PostgreSQL a failing statement undoes only its own step (a
        savepoint) and raises; the action stays staged as it was. DuckDB has no savepoints:
        there, a failing statement fails the whole action."""
        held = staged.work
        if not isinstance(held, Held) or not held.open or held.backend is not self._backend:
            raise StateError(f"action {staged.action.id} is not held open by this session")
        statements = self._checked(sql)
        backend, confined = self.backend, self.backend.facts.savepoints
        failure: ExecutionError | None = None
        with staged.staging_more():
            backend.settle()  # DuckDB: an earlier UPDATE's images, before more rows change
            if confined:
                backend.savepoint(STEP_SAVEPOINT)
            try:
                # all of the action's statements: what earlier steps wrote is not read later
                # from a snapshot taken before them (DuckDB's deferred images)
                backend.mark([*held.statements, *statements])
                results = [backend.execute(statement) for statement in statements]
                effects = backend.measure()
            except ExecutionError as exc:
                if not confined:
                    held.open = False
                    backend.rollback()
                    raise
                backend.rollback_to(STEP_SAVEPOINT)
                failure = exc
            else:
                if confined:
                    backend.release(STEP_SAVEPOINT)
                held.extend(statements, results, effects)  # judged again as it is recorded
                staged.action.code = _joined(staged.action.code, sql)
                self._record(staged, held)
        if failure is not None:
            raise failure
        return results

    def query(self, sql: str, max_rows: int) -> list[StatementResult]:
        """Run read-only SQL (queries only, in a READ ONLY transaction where the engine has
        one) and roll back; at most ``max_rows`` rows of each result."""
        if self._held is not None and self._held.open:
            raise StateError("a staged transaction is open on this session; query on another")
        statements = self._checked(sql)
        for statement in statements:
            locks = [f for f in statement.functions_called if fnmatch(f, SESSION_LOCKS)]
            if statement.kind is not StatementKind.READ or locks:
                what = f"{locks[0]}() takes a lock that outlives it" if locks else "not a query"
                raise StatementDenied(
                    f"refused: {statement.verb.upper()} is {what}; only read-only SQL runs here",
                    statement=statement.sql,
                    rule="read-only",
                )
        backend = self.backend
        backend.begin(statements, read_only=True)
        try:
            results = [backend.execute(statement) for statement in statements]
        finally:
            backend.rollback()
        for result in results:
            if len(result.rows) > max_rows:
                result.rows, result.truncated = result.rows[:max_rows], True
        return results

    def stage_undo(self, action_id: str) -> Staged:
        """Stage the undo of a committed action: compensating SQL from its journaled row images,
        refused (rolled back, ConflictError) if a row it changed has changed since."""
        original = self.journal.get(action_id)
        if original.kind is not Kind.DB:
            raise StateError(f"action {original.id} is a file action; undo it with goex-fs")
        if (state := original.status) is not Status.COMMITTED:
            what = f"action {original.id} is {state.value}"
            raise StateError(f"{what}; only a committed action can be undone")
        self._check_target(original)
        if hidden := self.backend.temporary_tables():  # (the undo's names could mean them)
            raise StateError(f"undo it in a session without temporary tables: {', '.join(hidden)}")
        with many_images():  # (a hundred thousand images read and planned)
            record, _ = self.journal.undo_data(original.id)
            if record is None:
                raise StateError(f"action {original.id} has no undo data in the journal")
            plan = self.plan_undo(record)
        action = Action(Kind.DB, self.target.display, plan.shown_sql, prompt=f"undo {original.id}")
        staged = Staged(action, self.journal, self.redactor)
        staged.undoes = original
        with staged.being_staged():
            staged.held = self.hold_undo(plan)
            self._record(staged, staged.held, undone=undo.verified_drops(record))
        return staged

    def plan_undo(self, record: dict[str, Any]) -> UndoPlan:
        """The compensating SQL for a committed action's journaled undo record."""
        if record.get("irreversible"):
            raise StateError("this action cannot be undone: " + "; ".join(record["irreversible"]))
        plan = undo.plan(record, self.backend.columns, self.backend.query, listing=False)
        if not plan.statements:
            raise StateError("there is nothing to undo: the action changed no rows or schema")
        return plan

    def hold_undo(self, plan: UndoPlan) -> Held:
        """Run an undo plan held, unjournaled (``stage_undo`` journals); refused (ConflictError,
        rolled back) if a row changed since the action or would not be restored exactly."""
        light = self.backend.facts.returning_old_new(self.backend.server_version)
        held = self.hold(plan.classified(self.classify, light=light), undoing=plan)
        refusal = undo.refusal(plan, held.results, held.effects, held.dangling, held.unrestored)
        if refusal is not None:
            held.rollback()
            if plan.listing is not None and plan.failed(held.results):  # say which rows
                self.hold_undo(plan.listing()).rollback()  # (it may pass: refused anyway)
            raise refusal
        plan.show(held.results)  # journaled and shown with their images described
        return held

    def _record(self, staged: Staged, work: Held, undone: Sequence[SchemaChange] = ()) -> None:
        outcome = Outcome(work.statements, work.effects, self.target.dialect, tuple(undone))
        violations = evaluate(RULES, outcome, self.policy)
        effects = work.effects_json()
        if isinstance(work, ClonedHeld):
            effects["clone"] = work.clone.to_json()
        staged.record(effects, violations)

    def reopen(self, action_id: str) -> Staged:
        """A kept action (staged on a clone by an earlier process), to commit or roll back."""
        action = self.journal.get(action_id)
        waiting = self.journal.waiting_for(action.id)
        if action.kind is not Kind.DB or waiting is None or not waiting.kept:
            raise StateError(
                f"action {action.id} is {action.status.value}, not kept staged; "
                "`goex-db list` shows the ones that are"
            )
        self._check_target(action)
        recorded = self.journal.effects(action.id) or {}
        staged = Staged(action, self.journal, self.redactor)
        staged.reopened = True
        staged.recorded = recorded
        staged.violations = [Violation.from_json(v) for v in recorded.get("violations", [])]
        name = (recorded.get("clone") or {}).get("name")
        if not name:
            raise StateError(f"action {action.id} was not staged on a clone; nothing was kept")
        staged.held = KeptClone(
            attach_clone(self.target, str(name)),
            self.classify(action.code),
            recorded,
            self._real,
            self.redactor.redact_obj,
        )
        return staged

    def _check_target(self, action: Action) -> None:
        if action.target != self.target.display:
            raise UsageError(
                f"action {action.id} ran on {action.target}, not on {self.target.display}"
            )

    def hold_on_clone(
        self, sql: str | Sequence[Statement], *, tag: str, progress: Progress | None = None
    ) -> ClonedHeld:
        """Clone the database, run SQL on the clone and measure it, unjournaled (``stage`` with
        ``clone`` journals); see ``goexdb.cloned``. Nothing may be connected to the database
        meanwhile (PostgreSQL copies only a template no session uses), so this session lets go
        of its connection; it connects again for the replay, after the decision."""
        self._disconnect()
        statements = self.classify(sql) if isinstance(sql, str) else list(sql)
        clone = make_clone(self.target, tag, progress)
        try:
            on_clone = Session(clone.target, self.config, self.policy, on_clone=True)
        except BaseException:
            clone.drop()
            raise
        try:
            held = on_clone.hold(statements)
        except BaseException:
            on_clone.close()
            clone.drop()
            raise
        return ClonedHeld(held, on_clone, clone, self._real)

    def _real(self) -> Session:
        """A new session on this database, for a replay."""
        return Session(self.target, self.config, self.policy)

    def _disconnect(self) -> None:
        if self._backend is not None:
            self._backend.close()
            self._backend = None

    def close(self) -> None:
        if self._held is not None and self._held.open:
            self._held.rollback()
        self._disconnect()
        if self._own_journal and self._journal is not None:
            self._journal.close()
            self._journal = None

    def __enter__(self) -> Session:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _joined(code: str, more: str) -> str:
    """An action's code with a later step's SQL after it, each statement still ended."""
    code = code.rstrip()
    return f"{code}\n{more}" if code.endswith(";") else f"{code}\n;\n{more}"


def target_redactor(target: Target) -> Redactor:
    """The secrets store's redactor, with the target's own secrets (its password) added."""
    redactor = SecretStore.load().redactor()
    for name, value in target.secrets.items():
        redactor.add(name, value)
    return redactor


def resolve_target(dsn: str | None, action: Action | None = None) -> Target:
    """``dsn``, else GOEX_DSN / DATABASE_URL, else the action's own (passwordless) target."""
    if dsn is None and action is not None:
        dsn = next((os.environ[n] for n in DSN_ENV if os.environ.get(n)), None) or action.target
    return parse_dsn(dsn)


def connect(
    dsn: str | Target | None = None,
    config: DbConfig | None = None,
    policy: PolicySettings | None = None,
    *,
    journal: Journal | None = None,
) -> Session:
    """Open a database for staging; ``dsn`` defaults to GOEX_DSN, then DATABASE_URL."""
    target = dsn if isinstance(dsn, Target) else parse_dsn(dsn)
    return Session(target, config, policy, journal=journal)
