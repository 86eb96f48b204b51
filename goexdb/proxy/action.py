"""A proxied transaction as a goex action: its statements as the client sent them, measured from
inside the transaction at its end, then decided and carried out by the one pipeline every front
end uses (``core.lifecycle`` through ``goexdb.staged``), journaled like ``goex-db run``'s.

The pipeline runs on each connection's own worker thread (its journal connection is not shared);
when it commits or rolls back, the work is done on the event loop, on the held connection.
Measured: rows inserted, updated and deleted per table (cascades and triggers included), locks,
sequences, advisory locks, and schema changes and rewrites when a statement was DDL. Row images
(PostgreSQL 18, ``[db] capture = "images"``): each statement that writes is sent with goex's own
RETURNING, the rows cascades and triggers changed are read at the end as ``goex-db run`` reads
them (``Cascaded``), and the rows a TRUNCATE empties just before it is relayed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol, TypeVar

from core.action import Action, Decision, Kind, Mode, Status, Verdict
from core.config import Capture, Config
from core.errors import ExecutionError, GoexError, OutcomeUnknown, StatementDenied
from core.journal import Journal, default_path
from core.llm import Model
from core.policy import evaluate
from core.redact import Redactor
from goexdb.backends.postgres.cascaded import Cascaded
from goexdb.effects import Effects, StatementResult
from goexdb.engines import POSTGRES
from goexdb.held import Held
from goexdb.proxy import messages as m
from goexdb.proxy.measure import Bridged, measure
from goexdb.proxy.messages import Message
from goexdb.proxy.own import Own, Skipped
from goexdb.proxy.pending import Client, Pending
from goexdb.proxy.routing import Discarded, failed
from goexdb.proxy.statements import Judge
from goexdb.proxy.statements import Verdict as StatementVerdict
from goexdb.proxy.upstream import Upstream
from goexdb.rules import RULES, Outcome
from goexdb.staged import Staged

T = TypeVar("T")
DIALECT = POSTGRES.dialect


class Connection(Protocol):
    """What a proxied action needs of its client's connection."""

    client: Client
    worker: Worker
    own: Own
    images: bool  # the statements that write are sent imaged (PostgreSQL 18+, [db] capture)
    deciding: Action | None  # the action being decided, while it is

    def background(self, work: Awaitable[object]) -> None: ...


class Worker:
    """One connection's thread for the pipeline, and the journal connection it owns."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="goex-proxy")
        self._journal: Journal | None = None

    @property
    def journal(self) -> Journal:
        if self._journal is None:
            self._journal = Journal(default_path(Kind.DB))
        return self._journal

    async def run(self, work: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, work)

    async def close(self) -> None:
        if self._journal is not None:
            await self.run(self._journal.close)
        self._pool.shutdown(wait=False)


class ProxyContext:
    """What every connection of one proxy shares: its settings, judge, target and redactor."""

    def __init__(
        self, config: Config, target_display: str, redactor: Redactor, conninfo: str = ""
    ) -> None:
        self.config = config
        self.target = target_display
        self.conninfo = conninfo  # goex's own, for the second connection of ``Cascaded``
        self.redactor = redactor
        self.mode = config.review.decide
        limits = {
            "statement_timeout": config.db.statement_timeout * 1000,
            "lock_timeout": config.db.lock_timeout * 1000,
            "idle_in_transaction_session_timeout": config.db.idle_timeout * 1000,
        }
        self.judge = Judge(config.policy, limits)
        self.limits = limits

    def images_on(self, upstream: Upstream) -> bool:
        """Whether row images are taken on this connection: RETURNING OLD and NEW are new in
        PostgreSQL 18; ``[db] capture = "counts"`` turns them off."""
        major = upstream.parameters.get("server_version", "0").split(".")[0].split()[0]
        return self.config.db.capture is Capture.IMAGES and major.isdigit() and int(major) >= 18

    @contextlib.contextmanager
    def cascaded_for(self, session: Connection) -> Iterator[Cascaded | None]:
        """Where images are taken: how to read the rows no statement's RETURNING shows (on the
        held connection, from a thread of its own), and a TRUNCATE's before it runs; what it
        prepared there is closed once it is done."""
        if not (session.images and self.conninfo):
            yield None
            return
        rows = Bridged(session.own, asyncio.get_running_loop())
        yield Cascaded(rows, self.conninfo, self.config.db.lock_timeout)
        rows.done()  # (not after a failure: the server takes nothing but a ROLLBACK then)

    def refused(self, session: Connection, verdict: StatementVerdict) -> None:
        """Journal a refused statement as a rejected action (in the background)."""
        error = StatementDenied(verdict.reason, statement=verdict.sql, rule=verdict.rule)
        action = self._action(session.client, verdict.sql)

        def record() -> None:
            staged = Staged(action, session.worker.journal, self.redactor)
            staged.abandon(error)

        session.background(session.worker.run(record))

    def _action(self, client: Client, code: str) -> Action:
        who = f"proxy client {client.user} from {client.address}"
        if client.application_name:
            who += f" ({client.application_name})"
        return Action(Kind.DB, self.target, code, prompt=who)

    async def abandon(self, session: Connection, pending: Pending, why: str) -> None:
        """A held transaction that ended without a decision (the client rolled it back or
        went away): journaled rolled back."""
        action = self._action(pending.client, pending.code)

        def record() -> None:
            action.decision = Decision("client", Verdict.ROLLBACK, why, "")
            action.advance(Status.ROLLED_BACK)
            session.worker.journal.save(action)

        await session.worker.run(record)

    async def conclude(
        self, session: Connection, pending: Pending, commit: Message | None, *, quiet: bool
    ) -> str | None:
        """Measure, decide, carry out. None when the client's COMMIT went through (or the
        transaction had failed, which the server already told); else the reason goex rolled it
        back, for the client's error."""
        try:
            with self.cascaded_for(session) as cascaded:
                max_images = self.config.db.max_row_images
                effects = await measure(session.own, pending, max_images, cascaded)
        except GoexError as exc:  # the transaction failed, or could not be measured
            if isinstance(exc.__cause__, Skipped) and commit is not None:
                # An error of the client's came before its COMMIT: the server skips that too,
                # and the transaction stays open, failed, for the client to end or to take up
                # again (ROLLBACK TO): still held. The COMMIT is relayed, to be skipped.
                with contextlib.suppress(ConnectionError, Discarded):
                    await session.own.commit(commit, quiet)
                raise exc.__cause__ from None
            await session.own.roll_back()
            await self.failed(session, pending, exc)
            told = isinstance(exc.__cause__, Skipped | ConnectionError | Discarded)
            return None if told else f"goex: {exc.message}; rolled back"
        if not pending.changes_rows and _nothing(effects):  # queries calling functions, only
            await session.own.commit(commit, quiet)  # a failure, the server tells the client
            return None
        transaction = Relayed(session, asyncio.get_running_loop(), commit, quiet)
        capture = Capture.IMAGES if session.images else Capture.COUNTS
        held = Held(transaction, _statements(pending), _results(pending), effects, capture)
        action = self._action(pending.client, pending.code)

        def decide() -> Status:
            session.deciding = action
            journal = session.worker.journal
            transaction.before_commit = journal.commit_point  # the commit's intent first
            # Nobody waits on a decision by policy or by flag: its records share two syncs.
            waits = self.mode in (Mode.PERSON, Mode.LLM, Mode.ASK)
            with contextlib.nullcontext() if waits else journal.batch():
                staged = Staged(action, journal, self.redactor)
                with staged.being_staged():
                    staged.held = held
                    outcome = Outcome(held.statements, held.effects, DIALECT)
                    violations = evaluate(RULES, outcome, self.config.policy)
                    staged.record(held.effects_json(), violations)
                judge = Model(self.config.model, self.redactor) if self.mode is Mode.LLM else None
                return staged.conclude(self.mode, judge=judge, timeout=self.config.review.timeout)

        deciding = asyncio.ensure_future(session.worker.run(decide))
        committed = asyncio.ensure_future(transaction.committed.wait())
        await asyncio.wait({deciding, committed}, return_when=asyncio.FIRST_COMPLETED)
        if not deciding.done():  # committed: the journal's last words need not hold the client
            committed.cancel()
            session.background(_quietly(deciding))
            return None
        committed.cancel()
        session.deciding = None
        try:
            status = deciding.result()
        except (ExecutionError, OutcomeUnknown):  # the COMMIT failed: the server said why
            return None
        except GoexError as exc:
            if transaction.open:
                await session.own.roll_back()
            return f"goex: {exc.message}"
        if status is Status.COMMITTED:
            return None
        decision = action.decision
        by, reason = (decision.by, decision.reason) if decision else ("goex", status.value)
        return f"goex: {status.value.replace('_', ' ')} by {by}: {reason}"

    async def failed(self, session: Connection, pending: Pending, error: Exception) -> None:
        """A held transaction that failed (or lost its server): journaled failed."""
        action = self._action(pending.client, pending.code)

        def record() -> None:
            Staged(action, session.worker.journal, self.redactor).abandon(error)

        await session.worker.run(record)


# Locks a query takes to read or to write rows; any stronger one on a table (a TRUNCATE, ALTER,
# DROP or LOCK that a function ran) is no query's doing.
_ROW_LOCKS = frozenset({"AccessShareLock", "RowShareLock", "RowExclusiveLock"})


def _nothing(effects: Effects) -> bool:
    """Whether the queries (that call functions) did nothing a decision is wanted for: no
    rows, no schema change, no side effect, no lock stronger than a write's."""
    strong = any(lock["mode"] not in _ROW_LOCKS for lock in effects.locks)
    return not (effects.tables or effects.schema_changes or effects.side_effects or strong)


async def _quietly(work: Awaitable[object]) -> None:
    """What is left of a committed action's journaling, once the client has its COMMIT: should
    it fail, the action's commit intent stays open in the journal, which says so."""
    with contextlib.suppress(Exception):
        await work


def _statements(pending: Pending) -> list[Any]:
    return [v.statement for v in pending.statements if v.statement is not None]


def _results(pending: Pending) -> list[StatementResult]:
    return [
        StatementResult(v.sql, v.statement.kind, m.row_count(tag or ""), [], [], False)
        for v, tag in zip(pending.statements, pending.tags, strict=True)
        if v.statement is not None
    ]


class Relayed:
    """The held transaction as ``goexdb.held.Held`` ends it, from the pipeline's thread: its
    COMMIT and ROLLBACK are sent on the event loop, on the held connection."""

    dialect = DIALECT

    def __init__(
        self,
        session: Connection,
        loop: asyncio.AbstractEventLoop,
        commit: Message | None,
        quiet: bool,
    ) -> None:
        self._session = session
        self._loop = loop
        self._commit = commit
        self._quiet = quiet
        self.open = True
        self.before_commit: Callable[[], None] = lambda: None
        self.committed = asyncio.Event()  # set on the loop once the server committed

    def settle(self) -> None:
        return None

    def commit(self) -> None:
        self.before_commit()
        self.open = False
        future = asyncio.run_coroutine_threadsafe(
            self._session.own.commit(self._commit, self._quiet), self._loop
        )
        try:
            final = future.result()
        except (ConnectionError, Discarded) as exc:
            raise OutcomeUnknown(
                "the connection to PostgreSQL was lost during COMMIT; whether it committed is "
                "unknown"
            ) from exc
        if not failed(final):
            self._loop.call_soon_threadsafe(self.committed.set)
            return
        fields = m.error_fields(final)
        raise ExecutionError(
            f"PostgreSQL refused the COMMIT: {fields.get('M', '')}", sqlstate=fields.get("C")
        )

    def rollback(self) -> None:
        self.open = False
        asyncio.run_coroutine_threadsafe(self._session.own.roll_back(), self._loop).result()
