"""The plumbing of one proxied connection: the client's stream read a batch of messages at a
time and each handed to its handler (``handlers``), what goes to the server sent a batch at a
time (``Outbox``), the server's answers routed by a task of their own (``Router``), goex's own
statements (``Own``), the connection's worker thread; and its end, however it comes: the
client leaving, the server lost, or the proxy stopping.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping

from goexdb.proxy import messages as m
from goexdb.proxy.action import Worker
from goexdb.proxy.messages import Message
from goexdb.proxy.own import Own
from goexdb.proxy.pending import Client
from goexdb.proxy.routing import Discarded, Outbox, Router, Sink
from goexdb.proxy.upstream import Upstream

_HIGH_WATER = 1 << 20  # bytes waiting to be sent upstream before the proxy waits
Handler = Callable[[Message], Awaitable[None] | None]


class Relay:
    """A client and its upstream connection; a subclass says what each message does
    (``handlers``) and what ends with the connection (``_ended``)."""

    def __init__(
        self,
        client: Client,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        upstream: Upstream,
    ) -> None:
        self.client = client
        self._reader = reader
        self._writer = writer
        self.upstream = upstream
        self.router = Router(upstream.reader, writer, self._status, self._parameter)
        self.outbox = Outbox(upstream.writer)
        self.own = Own(self.router, self.outbox, self._say)
        self.status = b"I"  # the server's, as of its last ReadyForQuery
        self._discarding = False  # after a refusal: the client's messages until Sync
        self._background: set[asyncio.Future[object]] = set()
        self.worker = Worker()
        self.stopping = ""
        self._server_lost = False

    def handlers(self) -> Mapping[bytes, Handler]:
        """Each message type's handler: it returns None when done, else what to await."""
        raise NotImplementedError

    async def _ended(self) -> None:
        """The connection ended (``server_lost``, ``stopping`` say how)."""

    @property
    def server_lost(self) -> bool:
        """The server ended the connection: it closed it, or told the client FATAL (which ends
        it) before the client's side, going first, stopped reading the server."""
        return self._server_lost or self.router.told_fatal

    # -- the server's side ------------------------------------------------------------------------

    def _status(self, status: bytes) -> None:
        self.status = status

    def _parameter(self, message: Message) -> None:
        name, at = m.cstring(message.body)
        if name == "application_name":
            self.client.application_name = m.cstring(message.body, at)[0]

    def _send(self, data: bytes) -> None:
        self.outbox.write(data)

    def _expect(self, kind: str, **how: object) -> Sink:
        return self.router.expect(kind, **how)

    async def _ran(self, sent: Sink) -> bool:
        """Whether the server ran a statement sent (a BEGIN, COMMIT or ROLLBACK, whose answer
        the transaction's state follows): it skips one after an error, up to the Sync."""
        try:
            return (await self.own.answer(sent)).type == b"C"
        except (Discarded, ConnectionError):
            return False

    # -- the client's side ------------------------------------------------------------------------

    async def serve(self) -> None:
        """Relay until either side goes; whatever is held then is rolled back and journaled."""
        pump = asyncio.create_task(self.router.run())
        pump.add_done_callback(self._server_gone)
        try:
            await self._serve()
        finally:
            pump.cancel()
            with contextlib.suppress(BaseException):
                await pump
            self.router.abandon()
            await self._ended()
            for task in list(self._background):
                with contextlib.suppress(BaseException):
                    await task
            await self.worker.close()

    def _server_gone(self, pump: asyncio.Task[None]) -> None:
        """The server closed the connection (or the proxy stopped): whatever waits on an answer
        learns it (a COMMIT on its way is then of unknown outcome), the client is told, and its
        connection closed, which ends ``serve``."""
        self.router.abandon()
        self._server_lost = not pump.cancelled()
        if not pump.cancelled() and not (self.router.told_fatal and not self.stopping):
            why = self.stopping or "goex: the connection to the server was lost"
            self._tell("57P01" if self.stopping else "08006", why)
        self._writer.close()

    def stop(self, why: str) -> None:
        """The proxy stops: the server connection goes (the server rolls back what it holds)."""
        self.stopping = why
        self.upstream.writer.close()

    def background(self, work: Awaitable[object]) -> None:
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _serve(self) -> None:
        handlers = self.handlers()
        framer = m.Framer(self._reader)
        while True:
            try:
                batch = await framer.batch()
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            except m.ProtocolError as exc:
                self._tell("08P01", f"goex: {exc}")
                return
            for message in batch:
                if message.type == b"X":
                    return
                if self._discarding and message.type != b"S":
                    continue
                handler = handlers.get(message.type)
                if handler is None:
                    self._tell("08P01", f"goex: unexpected message type {message.type!r}")
                    return
                result = handler(message)
                if result is not None:
                    await result
            self.outbox.flush()
            if self.upstream.writer.transport.get_write_buffer_size() > _HIGH_WATER:
                with contextlib.suppress(ConnectionError):
                    await self.upstream.writer.drain()

    def _tell(self, sqlstate: str, text: str, *, severity: str = "FATAL") -> None:
        self._say(m.error(sqlstate, text, severity=severity))

    def _say(self, data: bytes) -> None:
        """Write to the client, unless its connection is closing (the server's loss closes
        it: ``_server_gone``), where a write would raise."""
        if not self._writer.is_closing():
            self._writer.write(data)
