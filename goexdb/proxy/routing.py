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

from goexdb.proxy.messages import NO_DATA, Framer, Message, command_tag

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
    waited: bool = False  # goex waits for its final reply (relayed to the client all the same)
    keep_rows: bool = False  # an Execute's rows are goex's (the row images it added)
    no_data: bool = False  # a Describe's RowDescription is goex's: the client is told NoData
    # called with the final reply and the rows kept, or (None, []) when the server skipped it
    on_final: Callable[[Message | None, list[Message]], None] | None = None
    replies: list[Message] = field(default_factory=list)
    done: asyncio.Future[Message] | None = None

    def finished(self, final: Message) -> None:
        if self.on_final is not None:
            self.on_final(final, self.replies)
        if self.done is not None and not self.done.done():
            self.done.set_result(final)

    def dropped(self, error: Exception | None = None) -> None:
        if self.on_final is not None:
            self.on_final(None, [])
        if self.done is not None and not self.done.done():
            self.done.set_exception(error or Discarded())
            self.done.exception()  # retrieved: whoever awaits it still gets it


# A reply relayed as it comes, with nothing kept or called: one sink of each kind serves all.
_PLAIN = {kind: Sink(kind) for kind in _FINAL}


class Outbox:
    """What goes to the server: kept while a batch of the client's messages is handled, then
    sent in one write; sent at once before anything waits on the server's answer."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self._parts: list[bytes] = []

    def write(self, data: bytes) -> None:
        self._parts.append(data)

    def flush(self) -> None:
        """Send what is kept. Once the server's connection is closing, it is dropped: what
        waits on an answer learns the server went (``Router.abandon``), and a closed
        transport refuses writes (uvloop's raises)."""
        if self._parts:
            if not self.writer.transport.is_closing():
                self.writer.write(b"".join(self._parts))
            self._parts.clear()

    async def answer(self, sink: Sink) -> Message:
        """The final reply to a message sent (and everything before it sent first)."""
        assert sink.done is not None, "a sink nobody waits on"
        self.flush()
        return await sink.done


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
        self._on_status = on_status
        self._on_parameter = on_parameter
        self.pending: deque[Sink] = deque()
        self.closed = False  # the server is gone
        self.skipping = False  # an extended-protocol error came: the server skips to a Sync
        self.told_fatal = False  # the server said why, in a FATAL error relayed to the client

    def expect(self, kind: str, **how: object) -> Sink:
        if not any(how.values()):  # relayed, and nothing to call: the kind's own shared sink
            sink = _PLAIN[kind]
        else:
            sink = Sink(kind, **how)  # type: ignore[arg-type]
            if sink.goex or sink.hold or sink.waited:  # awaited
                sink.done = asyncio.get_running_loop().create_future()
        if self.closed:  # nothing will answer it
            sink.dropped(ConnectionError("the server closed the connection"))
        elif self.skipping and kind in _EXTENDED:  # after an error, skipped up to the Sync
            sink.dropped()
        else:
            self.pending.append(sink)
        return sink

    async def run(self) -> None:
        """Route every message the server sends until it closes (then raises)."""
        framer, pending, client = Framer(self._reader), self.pending, self._client
        while True:
            out: list[bytes] = []
            for message in await framer.batch():
                self._route(message, pending, out)
            if out:
                client.write(b"".join(out))
                if client.transport.get_write_buffer_size() > _HIGH_WATER:
                    await client.drain()  # a slow client: read the server no faster

    def _route(self, message: Message, pending: deque[Sink], out: list[bytes]) -> None:
        kind = message.type
        if kind in b"NAS":  # notice, notification, parameter: the client's
            if kind == b"S":
                self._on_parameter(message)
            out.append(message.raw)
            return
        sink = pending[0] if pending else None
        if sink is not None and (sink.goex or (sink.keep_rows and kind == b"D")):
            sink.replies.append(message)
        elif sink is not None and sink.no_data and kind == b"T":
            if not sink.quiet:
                out.append(NO_DATA)
        elif sink is None or not ((kind == b"Z" and sink.hold) or (sink.quiet and kind in _QUIET)):
            out.append(message.raw)
            if kind == b"E" and message.body.startswith((b"SFATAL", b"SPANIC")):
                self.told_fatal = True
        if sink is None:
            return
        if kind not in _FINAL[sink.kind]:
            return
        pending.popleft()
        if kind == b"Z":
            self.skipping = False
            self._on_status(message.body[:1])
        elif kind == b"E" and sink.kind in _EXTENDED:
            self.skipping = True
            while pending and pending[0].kind in _EXTENDED:
                pending.popleft().dropped()
        sink.finished(message)

    def abandon(self) -> None:
        """The connection is gone: every waiting sink learns it, and every later one."""
        self.closed = True
        while self.pending:
            self.pending.popleft().dropped(ConnectionError("the server closed the connection"))


def failed(final: Message) -> bool:
    return final.type == b"E"


def tag_of(final: Message) -> str | None:
    return command_tag(final) if final.type == b"C" else None
