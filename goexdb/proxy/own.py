"""goex's own statements on a held connection: the measuring queries, BEGIN, COMMIT and
ROLLBACK that goex sends between a client's messages.

Each is prepared once per connection under a name of goex's and run in a portal of goex's own,
with the extended protocol and no Sync, so it fits anywhere in a client's pipeline without
touching the client's unnamed statement or portal, or ending its implicit transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from goexdb.proxy import messages as m
from goexdb.proxy.messages import Message
from goexdb.proxy.routing import Discarded, Outbox, Router, Sink, failed

_PORTAL = "goex"


class GoexQueryFailed(Exception):
    """A query of goex's own failed on the server; the message is the server's."""


# What a statement of goex's may end in besides its answer: it failed, the server skipped it
# after an error (up to a Sync), or the server went.
UNANSWERED = (GoexQueryFailed, Discarded, ConnectionError)


class Own:
    def __init__(self, router: Router, upstream: Outbox, client: asyncio.StreamWriter) -> None:
        self._router = router
        self._upstream = upstream
        self._client = client
        self._prepared: set[str] = set()

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

    def send(self, name: str, sql: str, params: tuple[str, ...] = ()) -> tuple[Sink, Sink]:
        """Send one statement of goex's own (prepared once per connection, run in a portal of
        its own, so the client's unnamed statement and portal are never touched)."""
        data = b""
        if name not in self._prepared:
            data += m.parse(name, sql)
            self._router.expect("parse", goex=True, on_final=self._confirm(name))
            self._prepared.add(name)
        data += m.bind(_PORTAL, name, params) + m.execute(_PORTAL) + m.close(b"P", _PORTAL)
        self._router.expect("bind", goex=True)
        ran = self._router.expect("execute", goex=True)
        closed = self._router.expect("close", goex=True)
        self._upstream.write(data)
        return ran, closed

    async def rows(
        self, name: str, sql: str, params: tuple[str, ...] = ()
    ) -> list[list[bytes | None]]:
        """Run a query of goex's own now, and its rows (as text)."""
        ran, closed = self.send(name, sql, params)
        self._upstream.write(m.flush())
        try:
            final = await self._upstream.answer(ran)
            await self._upstream.answer(closed)
        except Discarded:  # an error came before: the server skips everything up to a Sync
            final = None
        if final is None or failed(final):
            if final is not None:  # its own error: the server skips until a Sync of goex's
                await self.resync()
            why = "the transaction had failed" if final is None else m.error_fields(final).get("M")
            raise GoexQueryFailed(why or "failed")
        return [m.data_row(r) for r in ran.replies if r.type == b"D"]

    async def resync(self) -> None:
        """After goex's own statement failed: a Sync of goex's, so the server reads on."""
        self._upstream.write(m.sync())
        await self._upstream.answer(self._router.expect("sync", goex=True))

    async def commit(self, commit: Message | None, quiet: bool) -> Message:
        """COMMIT on the server (the client's own, when it sent one): the final reply."""
        if commit is None:
            ran, _ = self.send("goex_commit", "COMMIT")
            self._upstream.write(m.flush())
        else:
            self._upstream.write(commit.raw)
            ran = self._router.expect("execute", quiet=quiet, waited=True)
            self._upstream.write(m.flush())
        final = await self._upstream.answer(ran)
        if commit is None and failed(final):  # the client hears why, as for its own COMMIT
            self._client.write(final.raw)
        return final

    async def roll_back(self) -> None:
        """ROLLBACK; a connection already gone has rolled back on its own."""
        with contextlib.suppress(*UNANSWERED):
            await self.rows("goex_rollback", "ROLLBACK")
