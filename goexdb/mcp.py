"""goex-mcp's database tools (``core.mcp``): an agent's SQL held in a transaction across calls.

``db_stage`` opens an action behind a new handle, or runs more SQL in the same held transaction
(``Session.stage_more``); ``db_commit`` asks the server's decider, ``db_rollback`` withdraws.
``db_query`` reads in a READ ONLY transaction that is always rolled back; ``db_schema``
describes the database, never its rows. Everything ``goex-db run`` refuses is refused here too:
the statements pass the same classifier and policy.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

from mcp.server.mcpserver import MCPServer

from core.action import Kind, Status
from core.errors import GoexError, UsageError
from core.journal import Journal, default_path
from core.mcp.handles import Handle, Handles
from core.mcp.held import HeldAction
from core.mcp.server import (
    COMMITS,
    ENDS,
    READS,
    STAGES,
    Options,
    as_data,
    journal_actions,
    journal_knows,
    tool_errors,
)
from goexdb.dsn import parse_dsn
from goexdb.effects import StatementResult
from goexdb.session import Session, target_redactor
from goexdb.staged import Staged

HELD_MARGIN = 30.0  # seconds a held transaction outlives its lease or a person's wait
APPROVE = "a person runs `goex-db approve {id}` or `goex-db reject {id} --reason WHY`"
SHOWN_EFFECTS = ("tables", "schema_changes", "locks", "rewrites", "side_effects")


class HeldSql(HeldAction):
    """A held SQL action and the session (connection and journal) it is held on."""

    def __init__(self, session: Session, staged: Staged, options: Options) -> None:
        super().__init__(staged, options.decider, _closer(session), APPROVE)
        self.session = session
        self.sql_staged = staged


def toolset(options: Options, handles: Handles) -> DbToolset | None:
    """The entry point ``goex.mcp``/``db``: database tools when a DSN was given."""
    return None if options.dsn is None else DbToolset(options, handles)


class DbToolset:
    def __init__(self, options: Options, handles: Handles) -> None:
        self.options = options
        self.handles = handles
        self.target = parse_dsn(options.dsn)
        config = options.config
        # a held transaction stays open on the server while it is leased or waits for a person
        hold = max(config.mcp.lease, options.decider.timeout) + HELD_MARGIN
        self.db_config = replace(config.db, idle_timeout=max(config.db.idle_timeout, hold))
        self.redactor = target_redactor(self.target)
        self.max_rows = config.mcp.max_rows
        self._reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="goex-db-read")
        self._reading: Session | None = None

    def register(self, server: MCPServer) -> None:
        server.add_tool(tool_errors(self.db_schema), name="db_schema", annotations=READS)
        server.add_tool(tool_errors(self.db_query), name="db_query", annotations=READS)
        server.add_tool(tool_errors(self.db_stage), name="db_stage", annotations=STAGES)
        server.add_tool(tool_errors(self.db_commit), name="db_commit", annotations=COMMITS)
        server.add_tool(tool_errors(self.db_rollback), name="db_rollback", annotations=ENDS)

    # -- the tools -----------------------------------------------------------------------------

    async def db_schema(self, task: str | None = None) -> dict[str, Any]:
        """The database's tables, columns, types, keys and approximate row counts; no rows.
        Over the schema budget, the tables most relevant to ``task`` (in words) come first and
        the rest are named only."""
        budget = self.options.config.model.schema_budget
        description = await self._read(lambda session: session.describe(task, budget))
        return {"dialect": self.target.dialect, "schema": description}

    async def db_query(self, sql: str) -> dict[str, Any]:
        """Run read-only SQL (queries only, in a READ ONLY transaction, rolled back); each
        result's rows are capped."""
        results = await self._read(lambda session: session.query(sql, self.max_rows))
        return {"results": [self._result(r) for r in results]}

    async def db_stage(self, sql: str, handle: str | None = None) -> dict[str, Any]:
        """Run SQL in a held transaction: a new one (its handle is returned), or the one of
        ``handle``, after what ran there before. Nothing is committed: the result shows each
        statement's result, the effects measured so far, policy findings and whether it can be
        undone. Then db_commit or db_rollback."""
        if handle is not None:
            return await self.handles.on(handle, "db", lambda held: self._stage_more(held, sql))
        return await self.handles.start("db", lambda opened: self._stage_new(opened, sql))

    async def db_commit(self, handle: str) -> dict[str, Any]:
        """Ask goex's decider (never you) to commit the handle's transaction: the outcome, or
        'pending' while a person decides (call again later for the outcome)."""
        return await self.handles.commit(handle, "db")

    async def db_rollback(self, handle: str) -> dict[str, Any]:
        """Roll the handle's transaction back: nothing it did stays."""
        return await self.handles.rollback(handle, "db")

    # -- the common tools' side ------------------------------------------------------------------

    def knows(self, action_id: str) -> bool:
        return journal_knows(default_path(Kind.DB), action_id, Kind.DB)

    async def undo(self, action_id: str) -> dict[str, Any]:
        return await self.handles.start("db", lambda opened: self._undo(opened, action_id))

    def actions(self, status: str | None) -> list[dict[str, Any]]:
        path = default_path(Kind.DB)
        return journal_actions(path, Kind.DB, self.target.display, status, self.redactor)

    # -- on a handle's thread ------------------------------------------------------------------

    def _stage_new(self, handle: Handle, sql: str) -> dict[str, Any]:
        work = self._hold(handle, lambda session: session.stage(sql))
        return self._staged(handle, work, work.sql_staged.results)

    def _stage_more(self, handle: Handle, sql: str) -> dict[str, Any]:
        work = self._work(handle)
        if work.outcome is not None or work.pending:
            state = "waits for a person's decision" if work.pending else "has ended"
            raise UsageError(
                f"action {work.action_id} {state}: no more SQL can be staged into it; call "
                "db_stage without a handle to start a new action"
            )
        try:
            results = work.session.stage_more(work.sql_staged, sql)
        except Exception as exc:
            # not confined to the step (DuckDB; a connection lost): the whole action failed
            if work.staged.status.is_final:
                work.ended_by(exc if isinstance(exc, GoexError) else None)
            raise
        return self._staged(handle, work, results)

    def _undo(self, handle: Handle, action_id: str) -> dict[str, Any]:
        work = self._hold(handle, lambda session: session.stage_undo(action_id))
        shown = self._staged(handle, work, work.sql_staged.results)
        return {**shown, "outcome": work.commit()}

    def _hold(self, handle: Handle, stage: Callable[[Session], Staged]) -> HeldSql:
        """Stage an action on a new session of the handle's, which then holds it."""
        session = self._session()
        try:
            staged = stage(session)
        except BaseException:
            _closer(session)()  # its journal too: a refused action must not leak a connection
            raise
        work = HeldSql(session, staged, self.options)
        handle.work = work
        return work

    def _session(self) -> Session:
        journal = Journal(default_path(Kind.DB))
        try:
            return Session(
                self.target,
                self.db_config,
                self.options.config.policy,
                journal=journal,
                redactor=self.redactor,
            )
        except BaseException:
            journal.close()
            raise

    def _staged(
        self, handle: Handle, work: HeldSql, results: list[StatementResult]
    ) -> dict[str, Any]:
        recorded = work.staged.recorded
        effects = recorded.get("effects", {})
        return as_data(
            {
                "handle": handle.id,
                "action_id": work.action_id,
                "status": Status.STAGED.value,
                "results": [self._result(r) for r in results],
                "effects": {key: effects.get(key) for key in SHOWN_EFFECTS},
                "reversible": recorded.get("reversible", False),
                "irreversible": effects.get("irreversible", []),
                "findings": recorded.get("violations", []),
                "lease_expires_at": handle.expires_at,
            }
        )

    def _result(self, result: StatementResult) -> dict[str, Any]:
        shown = result.rows[: self.max_rows]
        return as_data(
            {
                "sql": self.redactor.redact(result.sql),
                "kind": result.kind.value,
                "rowcount": result.rowcount,
                "columns": result.columns,
                "rows": self.redactor.redact_obj(as_data(shown)),
                "truncated": result.truncated or len(result.rows) > len(shown),
            }
        )

    @staticmethod
    def _work(handle: Handle) -> HeldSql:
        assert isinstance(handle.work, HeldSql)
        return handle.work

    async def _read(self, read: Callable[[Session], Any]) -> Any:
        def on_reader() -> Any:
            if self._reading is None:
                self._reading = Session(self.target, self.options.config.db, redactor=self.redactor)
            return read(self._reading)

        return await asyncio.wrap_future(self._reader.submit(on_reader))


def _closer(session: Session) -> Callable[[], None]:
    """Close the session and its journal, once (the journal was opened for this handle)."""
    journal = session.journal

    def close() -> None:
        session.close()
        journal.close()

    return close
