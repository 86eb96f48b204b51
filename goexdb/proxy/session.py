"""One client connection of the proxy: every message it sends, judged and relayed to its own
upstream connection, and every transaction that writes held there as a goex action until it is
decided (``goexdb.proxy.action``).

* The extended protocol is relayed message by message. A Parse is judged (``statements``)
  before it reaches the server; a refused one is answered by the server itself with goex's
  error (a ``DO`` block that raises it), so the transaction fails exactly as PostgreSQL fails
  it, and the proxy then discards until Sync, as the server does.
* A simple query is relayed as the extended messages that mean the same (Parse, Bind, Describe,
  Execute per statement, then Sync), without their bookkeeping replies: the server then runs
  exactly the statements goex judged, one command each, and refuses a text that goex split
  differently. A text with one refused statement is refused whole.
* A transaction that writes is an action: outside a transaction block goex opens one first
  (so that a Sync cannot commit it), and at the client's COMMIT — or at the Sync or end of
  query that ends an implicit one — goex measures it, decides, and commits or rolls back.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Mapping

from sqlglot import exp

from core.action import Action
from core.errors import ExecutionError, TargetError
from goexdb.backends.postgres.holdings import SchemaWatch
from goexdb.effects import ImageBudget
from goexdb.proxy import messages as m
from goexdb.proxy.action import ProxyContext
from goexdb.proxy.images import imaged
from goexdb.proxy.measure import (
    after_ddl,
    at_savepoint,
    catalog_writes,
    counts_now,
    read_catalog,
    refused_now,
)
from goexdb.proxy.messages import Message
from goexdb.proxy.names import Names, Settle, ours
from goexdb.proxy.own import UNANSWERED, Skipped
from goexdb.proxy.pending import Client, Pending
from goexdb.proxy.refusals import EMPTY, RESERVED_NAME, SEVERAL, UNSEEN, raising
from goexdb.proxy.relay import Handler, Relay
from goexdb.proxy.statements import Role, Verdict
from goexdb.proxy.upstream import Upstream
from goexdb.sql import StatementKind

DDL = StatementKind.DDL
REJECTED_STATE = "40000"  # transaction_rollback: a COMMIT goex rolled back


class ProxySession(Relay):
    def __init__(
        self,
        context: ProxyContext,
        client: Client,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        upstream: Upstream,
    ) -> None:
        super().__init__(client, reader, writer, upstream)
        self.context = context
        self.names = Names()  # the client's prepared statements and portals
        self._block = False  # the client opened a transaction block
        self._pending: Pending | None = None  # the transaction being held, once it writes
        self._implicit = False  # goex opened the block the pending transaction runs in
        self._after_copy: list[Message] = []  # a simple query's rest, after its COPY's data
        self._copy_in = False  # COPY FROM STDIN under way: the client's data is relayed
        self.images = context.images_on(upstream)
        # the session's statistics hold no row counts of an earlier transaction: they were
        # flushed when it went idle after goex asked for it (``_flush``)
        self._counts_clean = True
        self._flush_asked = False
        self.deciding: Action | None = None  # set by the pipeline's thread while it decides

    def handlers(self) -> Mapping[bytes, Handler]:
        return {
            b"Q": self._query,
            b"P": self._parse,
            b"B": self._bind,
            b"D": self._describe,
            b"E": self._execute,
            b"C": self._close,
            b"H": self._flush,
            b"S": self._sync,
            b"d": self._copy,
            b"c": self._copy_end,
            b"f": self._copy_end,
            b"F": self._function_call,
        }

    async def _ended(self) -> None:
        """Whatever was held is rolled back with the connection, and journaled so."""
        if self._pending is not None:
            pending, self._pending = self._pending, None
            if self.server_lost and not self.stopping:
                lost = TargetError("the connection to PostgreSQL was lost; nothing committed")
                await self.context.failed(self, pending, lost)
            else:
                await self.context.abandon(self, pending, self.stopping or "the client went away")

    # -- the simple protocol ----------------------------------------------------------------------

    async def _query(self, message: Message) -> None:
        self._discarding = False
        sql = m.query_text(message)
        verdicts = self.context.judge(sql)
        if not verdicts:  # no statement (comments at most): the server answers an empty one
            self._send(m.query(""))
            self._expect("query")
            return
        refused = next((v for v in verdicts if v.role is Role.REFUSED), None)
        if refused is not None:
            self._refuse_whole(refused)
            return
        await self._run_quietly(m.as_extended([v.sql for v in verdicts]))

    async def _run_quietly(self, batch: list[Message]) -> None:
        """Handle a simple query's extended messages; after a COPY FROM STDIN, the rest waits
        for its data (the server ignores a Sync sent during COPY)."""
        for index, message in enumerate(batch):
            if self._discarding and message.type != b"S":
                continue
            if message.type == b"P":
                self._parse(message, quiet=True)
            elif message.type == b"B":
                self._bind(message, quiet=True)
            elif message.type == b"D":
                self._describe(message, quiet=True)
            elif message.type == b"E":
                if self.names.copies_in(""):
                    self._after_copy = batch[index + 1 :]
                    await self._execute(message, quiet=True)
                    return
                await self._execute(message, quiet=True)
            elif (ending := self._sync(message, quiet=True)) is not None:
                await ending

    # -- the extended protocol --------------------------------------------------------------------

    def _parse(self, message: Message, *, quiet: bool = False) -> None:
        name, sql = m.parse_fields(message)
        verdicts = (RESERVED_NAME,) if ours(name) else self.context.judge(sql)
        if len(verdicts) == 1 and verdicts[0].role is Role.REFUSED:
            self._refuse(verdicts[0], quiet=quiet)
            return
        if not verdicts:  # no statement (comments at most): an empty one, as goex read it
            message = Message(b"P", m.parse_body(name, ""))
            verdicts = (EMPTY,)
        # several statements: the server refuses them in one Parse (and goex any Execute)
        rewritten = imaged(verdicts[0]) if self.images and len(verdicts) == 1 else None
        if rewritten is not None:
            message = m.with_sql(message, rewritten)
        verdict = verdicts[0] if len(verdicts) == 1 else SEVERAL
        settle = self.names.parsed(name, verdict, imaged=rewritten is not None)
        self._send(message.raw)
        self._expect("parse", quiet=quiet, on_final=settle)

    def _bind(self, message: Message, *, quiet: bool = False) -> None:
        portal, statement = m.bind_names(message)
        if ours(portal) or ours(statement):
            self._refuse(RESERVED_NAME, quiet=quiet)
            return
        settle = self.names.bound(portal, statement)
        if settle is None:  # never seen prepared (SQL PREPARE is refused)
            self._refuse(UNSEEN, quiet=quiet)
            return
        self._send(message.raw)
        self._expect("bind", quiet=quiet, on_final=settle)

    def _describe(self, message: Message, *, quiet: bool = False) -> None:
        self._send(message.raw)
        self._expect("describe", quiet=quiet, no_data=self.names.imaged(*m.target_of(message)))

    def _close(self, message: Message) -> None:
        kind, name = m.target_of(message)
        if ours(name):
            self._refuse(RESERVED_NAME, quiet=False)
            return
        self.names.closed(kind, name)
        self._send(message.raw)
        self._expect("close")

    def _flush(self, message: Message) -> None:
        self._send(message.raw)

    async def _execute(self, message: Message, *, quiet: bool = False) -> None:
        portal = m.execute_portal(message)
        verdict = self.names.portal(portal) or UNSEEN
        role = verdict.role
        if role is Role.REFUSED:  # a portal goex never saw bound, or of several statements
            self._refuse(verdict, quiet=quiet)
            return
        if role is Role.COMMIT and self._pending is not None:
            await self._conclude(message, quiet=quiet)
            return
        note: Settle | None = None
        keep_rows = self.names.imaged(b"P", portal)
        if refusal := await refused_now(self.own, verdict, held=self._pending is not None):
            self._refuse(refusal, quiet=quiet)
            return
        if role is Role.WRITE:
            note = await self._hold(verdict, imaged=keep_rows)
        elif self._pending is not None and verdict.sql:
            self._pending.add(verdict)
        if keep_rows:  # all of its rows at once: they are goex's, its tag the client's
            message = Message(b"E", m.execute_body(portal, 0))
        if self.names.copies_in(portal):  # the client's data comes next
            self._copy_in = True
            note = self._copy_ended(note)
        self._send(message.raw)
        counted = role is Role.SAVEPOINT and self._pending is not None  # counts read after it
        ddl = verdict.statement is not None and verdict.statement.kind is DDL and role is Role.WRITE
        control = role in (Role.BEGIN, Role.COMMIT, Role.ROLLBACK)
        ran = self._expect(
            "execute",
            quiet=quiet,
            on_final=note,
            keep_rows=keep_rows,
            waited=counted or ddl or control,
        )
        if counted and self._pending is not None:
            await at_savepoint(self.own, self._pending, verdict.sql, ran)
        elif ddl and self._pending is not None:  # the catalog rows written so far are DDL's
            await after_ddl(self.own, self._pending, ran)
        elif control and not await self._ran(ran):
            return  # skipped after an error (or failed): the transaction is as it was
        elif role is Role.BEGIN:
            self._block = True
            self._implicit = False  # a BEGIN after writes: the block goes on past the Sync
        elif role in (Role.COMMIT, Role.ROLLBACK):
            self._block = False
            if self._pending is not None:
                pending, self._pending = self._pending, None
                self._ask_flush()
                await self.context.abandon(self, pending, "rolled back by the client")
        elif role is Role.FORGET:
            self.own.forget()

    async def _hold(self, verdict: Verdict, *, imaged: bool) -> Settle:
        """A statement that writes: the transaction becomes an action (in a block goex opens
        first, outside one), and the statement is part of it. Before its first DDL statement,
        the catalog is read, to measure the schema changes against."""
        if self._pending is None:
            self._pending = Pending(self.client)
            if not self._block:
                self.own.send("goex_begin", "BEGIN")
                self._implicit = True
            if not self._counts_clean:  # an earlier transaction's rows, not yet flushed
                with contextlib.suppress(*UNANSWERED):
                    self._pending.baseline = await counts_now(self.own)
                    self._pending.watch = SchemaWatch.since(self._pending.baseline)
            self._counts_clean = False
        pending = self._pending
        statement = verdict.statement
        if statement is not None and statement.kind is DDL:
            # a failure means the transaction failed already; so does its measure, later
            with contextlib.suppress(*UNANSWERED):
                if pending.catalog is None:
                    pending.catalog, pending.filenodes = await read_catalog(self.own)
                pending.watch.beyond(await catalog_writes(self.own), "before a DDL statement")
        if imaged:
            pending.imaged.add(len(pending.statements))
        if statement is not None and isinstance(statement.ast, exp.TruncateTable):
            await self._read_emptied(pending, statement.ast)
        return pending.add(verdict)

    async def _read_emptied(self, pending: Pending, truncate: exp.TruncateTable) -> None:
        """Before a TRUNCATE is relayed, where images are taken: every row of every table it
        will empty (a failure means the transaction failed already: so does its measure)."""
        budget = ImageBudget(self.context.config.db.max_row_images)
        index = len(pending.statements)
        with (
            contextlib.suppress(*UNANSWERED),
            self.context.cascaded_for(self) as cascaded,
        ):
            if cascaded is not None:
                found = await asyncio.to_thread(cascaded.emptied, truncate, index, budget)
                pending.emptied[index] = found

    def _status(self, status: bytes) -> None:
        super()._status(status)
        if status == b"I" and self._flush_asked:  # idle: PostgreSQL flushed as asked
            self._counts_clean, self._flush_asked = True, False

    def _ask_flush(self) -> None:
        """Ask that the session's row counts be flushed when it next goes idle."""
        self.own.send("goex_flush", "SELECT pg_stat_force_next_flush()")
        self._flush_asked = True

    def _sync(self, message: Message, *, quiet: bool = False) -> Awaitable[None] | None:
        self._discarding = False
        self._send(message.raw)
        if self._copy_in:  # the server ignores a Sync during COPY FROM STDIN
            return None
        if self._pending is None or not self._implicit:
            self._expect("sync")
            return None
        return self._end_implicit(quiet)

    async def _end_implicit(self, quiet: bool) -> None:
        """The Sync that ends a transaction goex opened: decided once the server is ready."""
        held = self._expect("sync", hold=True)
        try:
            ready = await self.outbox.answer(held)
        except ConnectionError:
            return
        if ready.body[:1] == b"T":
            await self._conclude(None, quiet=quiet)
        else:  # it failed (or goex's BEGIN was skipped after an error): nothing to decide
            pending, self._pending = self._pending, None
            assert pending is not None  # (nothing else runs while this waits)
            self._block = self._implicit = False
            if ready.body[:1] == b"E":
                await self.own.roll_back()
            self._ask_flush()
            failure = ExecutionError("the transaction failed on the server; nothing committed")
            await self.context.failed(self, pending, failure)
        self._say(m.ready(b"I"))

    def _copy(self, message: Message) -> None:
        self._send(message.raw)

    async def _copy_end(self, message: Message) -> None:
        self._send(message.raw)
        await self._after_copying()

    async def _after_copying(self) -> None:
        """COPY FROM STDIN is over (done, failed, or refused before it began): a simple query's
        rest goes on."""
        self._copy_in = False
        rest, self._after_copy = self._after_copy, []
        if rest:
            await self._run_quietly(rest)
            self.outbox.flush()

    def _copy_ended(self, note: Settle | None) -> Settle:
        """The COPY's answer: an error before its data (a missing table) ends it at once."""

        def ended(final: Message | None, kept: list[Message]) -> None:
            if note is not None:
                note(final, kept)
            if final is None or final.type == b"E":
                self.background(self._after_copying())

        return ended

    def _function_call(self, message: Message) -> None:
        """The fast-path function call reaches functions no statement names: refused."""
        refusal = Verdict(
            Role.REFUSED,
            "",
            rule="db.function-call",
            reason="the fast-path FunctionCall message is refused: call functions in SQL",
        )
        self._refuse_whole(refusal)

    # -- refusals and goex's own statements --------------------------------------------------------

    def _refuse_whole(self, verdict: Verdict) -> None:
        """Refuse a message answered with ReadyForQuery (a simple query, a function call)."""
        self._refuse(verdict, quiet=True)
        self._discarding = False
        self._send(m.sync())
        self._expect("sync")

    def _refuse(self, verdict: Verdict, *, quiet: bool) -> None:
        """The server raises goex's refusal in place of the statement, so the transaction fails
        as it would for any error; then the client's messages are discarded until Sync."""
        self._send(raising(verdict))
        self._expect("parse", goex=True)
        self._expect("bind", goex=True)
        self._expect("execute", quiet=quiet)
        self._discarding = True
        self.context.refused(self, verdict)

    # -- deciding ---------------------------------------------------------------------------------

    async def _conclude(self, commit: Message | None, *, quiet: bool) -> None:
        """Measure the pending transaction, decide, and carry the decision out: ``commit`` is
        the client's own COMMIT (relayed if goex commits), or None at the end of an implicit
        transaction (goex commits it)."""
        pending, self._pending = self._pending, None
        was = self._block, self._implicit
        self._block = self._implicit = False
        assert pending is not None
        self._flush_asked = True  # the measure asks it
        try:
            outcome = await self.context.conclude(self, pending, commit, quiet=quiet)
        except Skipped:  # the server skipped the COMMIT: the transaction is still open
            self._pending = pending
            self._block, self._implicit = was
            return
        if outcome is not None:  # rolled back instead of the client's COMMIT: goex says why
            self._say(m.error(REJECTED_STATE, outcome))
            if commit is not None:
                self._discarding = True
