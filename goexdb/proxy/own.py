"""goex's own statements on a held connection: the measuring queries, BEGIN, COMMIT and
ROLLBACK that goex sends between a client's messages.

Each is prepared once per connection under a name of goex's and run in a portal of goex's own,
with the extended protocol and no Sync, so it fits anywhere in a client's pipeline without
touching the client's unnamed statement or portal, or ending its implicit transaction.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass

from goexdb.proxy import messages as m
from goexdb.proxy.messages import Message
from goexdb.proxy.routing import Discarded, Outbox, Router, Sink, failed

_PORTAL = "goex"


class GoexQueryFailed(Exception):
    """A query of goex's own failed on the server; the message is the server's."""


class Skipped(GoexQueryFailed):
    """The server skipped a query of goex's: an error of the client's came before it, since the
    client's last Sync (which the client was told, and which failed its transaction)."""


# What a statement of goex's may end in besides its answer: it failed, the server skipped it
# after an error (up to a Sync), or the server went.
UNANSWERED = (GoexQueryFailed, Discarded, ConnectionError)


@dataclass
class Sent:
    """The sinks of one statement of goex's (its Parse's, if it was parsed now)."""

    parsed: Sink | None
    bound: Sink
    ran: Sink
    closed: Sink

    def refused(self) -> Message | None:
        """The error its own Parse or Bind got, if one did (else the server skipped them)."""
        for sink in (self.parsed, self.bound):
            done = sink.done if sink is not None else None
            if done is not None and done.done() and not done.exception() and failed(done.result()):
                return done.result()
        return None


class Own:
    def __init__(self, router: Router, upstream: Outbox, say: Callable[[bytes], None]) -> None:
        self._router = router
        self._upstream = upstream
        self._say = say  # to the client (nothing once its connection is closing)
        self._prepared: set[str] = set()
        self._portal_left = False  # goex's portal left open by an Execute that failed

    def _confirm(self, name: str) -> Callable[[Message | None, list[Message]], None]:
        """A Parse of goex's that the server skipped or refused made nothing: parse it again."""

        def settle(final: Message | None, _: list[Message]) -> None:
            if final is None or final.type != b"1":
                self._prepared.discard(name)

        return settle

    async def answer(self, sink: Sink) -> Message:
        """The final answer to a message sent (everything before it sent, with a Flush: the
        server keeps its answers until a Sync or a Flush)."""
        self._upstream.write(m.flush())
        return await self._upstream.answer(sink)

    def forget(self) -> None:
        """The session's prepared statements are gone (DEALLOCATE ALL, DISCARD ALL)."""
        self._prepared.clear()

    def deallocate(self, names: set[str]) -> None:
        """Close statements of goex's it will not run again (with the next message sent)."""
        for name in sorted(names & self._prepared):
            self._prepared.discard(name)
            self._upstream.write(m.close(b"S", name))
            self._router.expect("close", goex=True)

    def send(self, name: str, sql: str, params: tuple[str, ...] = ()) -> Sent:
        """Send one statement of goex's own (prepared once per connection, run in a portal of
        its own, so the client's unnamed statement and portal are never touched)."""
        data = b""
        if self._portal_left:  # an Execute of goex's failed: its Close was skipped
            data += m.close(b"P", _PORTAL)
            self._router.expect("close", goex=True)
            self._portal_left = False
        parsed = None
        if name not in self._prepared:
            data += m.parse(name, sql)
            parsed = self._router.expect("parse", goex=True, on_final=self._confirm(name))
            self._prepared.add(name)
        data += m.bind(_PORTAL, name, params) + m.execute(_PORTAL) + m.close(b"P", _PORTAL)
        bound = self._router.expect("bind", goex=True)
        ran = self._router.expect("execute", goex=True)
        closed = self._router.expect("close", goex=True)
        self._upstream.write(data)
        return Sent(parsed, bound, ran, closed)

    async def rows(
        self, name: str, sql: str, params: tuple[str, ...] = ()
    ) -> list[list[bytes | None]]:
        """Run a query of goex's own now, and its rows (as text)."""
        sent = self.send(name, sql, params)
        self._upstream.write(m.flush())
        try:
            final: Message | None = await self._upstream.answer(sent.ran)
        except Discarded:  # its own Parse or Bind failed, or an error came before it
            final = sent.refused()
        if final is not None and not failed(final):
            await self._upstream.answer(sent.closed)
            return [m.data_row(r) for r in sent.ran.replies if r.type == b"D"]
        if final is None:  # the server skips everything up to the client's Sync
            raise Skipped("the transaction had failed")
        self._portal_left = True  # (a Bind or Execute that failed may leave it)
        await self.resync()  # its own error: the server skips until a Sync of goex's
        raise GoexQueryFailed(m.error_fields(final).get("M") or "failed")

    async def resync(self) -> None:
        """After goex's own statement failed: a Sync of goex's, so the server reads on."""
        self._upstream.write(m.sync())
        await self._upstream.answer(self._router.expect("sync", goex=True))

    async def commit(self, commit: Message | None, quiet: bool) -> Message:
        """COMMIT on the server (the client's own, when it sent one): the final reply."""
        if commit is None:
            ran = self.send("goex_commit", "COMMIT").ran
            self._upstream.write(m.flush())
        else:
            self._upstream.write(commit.raw)
            ran = self._router.expect("execute", quiet=quiet, waited=True)
            self._upstream.write(m.flush())
        final = await self._upstream.answer(ran)
        if commit is None and failed(final):  # the client hears why, as for its own COMMIT
            self._say(final.raw)
            self._portal_left = True
            with contextlib.suppress(ConnectionError):  # (gone: the COMMIT failed all the same)
                await self.resync()  # the server skips until a Sync: the client's came before
        return final

    async def roll_back(self) -> None:
        """ROLLBACK; a connection already gone has rolled back on its own."""
        with contextlib.suppress(*UNANSWERED):
            await self.rows("goex_rollback", "ROLLBACK")
