"""Where each message the server sends goes: to the client, or to goex's own waiting query.

The server answers the messages it is sent in order, so the proxy keeps one ``Sink`` per
message that gets an answer, in the order sent (``Router.pending``), and one task reads the
server and hands each message to the oldest sink. A sink is the client's (relayed as it came,
unless the sink is ``quiet`` about the protocol's bookkeeping) or goex's (kept, and awaited).
After an error in the extended protocol the server skips every message up to the next Sync, so
the router drops their sinks too. Notices, notifications and parameter changes go to the
client whenever they come.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from goexdb.proxy.messages import Message, command_tag, read_message

# The message that ends each kind of answer.
_FINAL = {
    "parse": b"1E",
    "bind": b"2E",
    "describe": b"TnE",
    "execute": b"CIsE",
    "close": b"3E",
    "sync": b"Z",
    "query": b"Z",
}
_EXTENDED = ("parse", "bind", "describe", "execute", "close")
_QUIET = (b"1", b"2", b"n")  # ParseComplete, BindComplete, NoData: a simple query has none
_HIGH_WATER = 1 << 20  # bytes waiting for the client before the router waits for it


class Discarded(Exception):
    """The server skipped goex's message: an error came before it, since the last Sync."""


@dataclass(eq=False)
class Sink:
    kind: str
    goex: bool = False  # kept for goex instead of relayed
    quiet: bool = False  # a simple query relayed as extended messages: no bookkeeping replies
    hold: bool = False  # a Sync whose ReadyForQuery goex answers itself
    on_final: Callable[[Message], None] | None = None
    replies: list[Message] = field(default_factory=list)
    done: asyncio.Future[Message] | None = None

    def finished(self, final: Message) -> None:
        if self.on_final is not None:
            self.on_final(final)
        if self.done is not None and not self.done.done():
            self.done.set_result(final)

    def dropped(self) -> None:
        if self.done is not None and not self.done.done():
            self.done.set_exception(Discarded())


class Router:
    """The pending answers of one upstream connection, and the task that routes them."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        client: asyncio.StreamWriter,
        on_status: Callable[[bytes], None],
        on_parameter: Callable[[Message], None],
    ) -> None:
        self._reader = reader
        self._client = client
        self._to_client = client.write
        self._on_status = on_status
        self._on_parameter = on_parameter
        self.pending: deque[Sink] = deque()
        self.errored = False  # an error came since the last ReadyForQuery

    def expect(self, kind: str, **how: object) -> Sink:
        sink = Sink(kind, **how)  # type: ignore[arg-type]
        if sink.goex or sink.hold or sink.on_final is not None:
            sink.done = asyncio.get_running_loop().create_future()
        self.pending.append(sink)
        return sink

    async def run(self) -> None:
        """Route every message the server sends until it closes (then raises)."""
        read, pending = self._reader, self.pending
        while True:
            message = await read_message(read)
            kind = message.type
            if kind in b"NAS":  # notice, notification, parameter: the client's
                if kind == b"S":
                    self._on_parameter(message)
                self._to_client(message.raw)
                continue
            if not pending:
                self._to_client(message.raw)
                continue
            sink = pending[0]
            if sink.goex:
                sink.replies.append(message)
            elif kind == b"Z" and sink.hold:
                pass
            elif not (sink.quiet and kind in _QUIET):
                self._to_client(message.raw)
            if kind not in _FINAL[sink.kind]:
                if kind == b"D" and self._client.transport.get_write_buffer_size() > _HIGH_WATER:
                    await self._client.drain()  # a slow client: read the server no faster
                continue
            pending.popleft()
            if kind == b"Z":
                self.errored = False
                self._on_status(message.body[:1])
            elif kind == b"E":
                self.errored = True
                if sink.kind in _EXTENDED:
                    while pending and pending[0].kind in _EXTENDED:
                        pending.popleft().dropped()
            sink.finished(message)

    def abandon(self) -> None:
        """The connection is gone: every waiting sink learns it."""
        while self.pending:
            sink = self.pending.popleft()
            if sink.done is not None and not sink.done.done():
                sink.done.set_exception(ConnectionError("the server closed the connection"))


def failed(final: Message) -> bool:
    return final.type == b"E"


def tag_of(final: Message) -> str | None:
    return command_tag(final) if final.type == b"C" else None
