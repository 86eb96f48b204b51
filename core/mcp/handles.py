"""Handles: the names under which goex-mcp holds an agent's staged actions between its calls.

The 2026-07-28 MCP revision has no protocol sessions, so state that spans calls is an explicit
handle: unguessable (``secrets.token_urlsafe``), good only in the server process that made it,
and leased. Each handle owns one worker thread, where every call on it runs — one at a time, on
the handle's own database connection and journal connection (neither is shared between
threads). The sweeper rolls back what outlived its lease ([mcp] lease seconds since its last
call) and carries out a person's decision on what waits for one. ``close_all`` rolls back every
held action when the server stops or its client goes away.
"""

from __future__ import annotations

import asyncio
import functools
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent import futures
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

from core.errors import UsageError

T = TypeVar("T")
SWEEP_SECONDS = 0.2  # how often leases and a person's decisions are looked at
ENDED_KEPT = 1024  # ended handles remembered, so that a retried call gets the same outcome
CLOSE_SECONDS = 30.0  # what a handle's rollback may take when the server stops


class Work(Protocol):
    """What a handle holds: one staged action and its connections (``core.mcp.held``)."""

    outcome: dict[str, Any] | None  # set once the action has its final status
    pending: bool  # waiting for a person's decision

    def commit(self, paths: Sequence[str] = ()) -> dict[str, Any]:
        """Ask the decider to commit: the outcome, or ``pending``."""

    def rollback(self) -> dict[str, Any]:
        """Roll back at the agent's request: the outcome."""

    def poll(self) -> None:
        """Carry out a person's decision if one was recorded (or the timeout's rollback)."""

    def expire(self, why: str) -> None:
        """Roll back: the lease ran out."""

    def close(self, why: str) -> None:
        """Roll back whatever is still held, and release the connections (which the work
        also does itself once it has its outcome)."""


class Handle:
    def __init__(self, kind: str, lease: float) -> None:
        self.id = f"{kind}_{secrets.token_urlsafe(24)}"
        self.kind = kind
        self.lease = lease
        self.work: Work | None = None
        self.last_used = time.monotonic()
        self.busy = 0
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"goex-{kind}")

    @property
    def expires_at(self) -> str:
        left = self.lease - (time.monotonic() - self.last_used)
        return (datetime.now(UTC) + timedelta(seconds=max(left, 0))).isoformat(timespec="seconds")

    @property
    def ended(self) -> bool:
        return self.work is not None and self.work.outcome is not None

    async def run(self, call: Callable[[], T]) -> T:
        """Run ``call`` on this handle's thread, after any call already running there."""
        self.busy += 1
        try:
            return await asyncio.wrap_future(self._worker.submit(call))
        finally:
            self.busy -= 1
            self.last_used = time.monotonic()

    def retire(self) -> None:
        """Stop the thread once what it runs now is done (the action has ended)."""
        self._worker.shutdown(wait=False)

    def closing(self, why: str) -> Future[None]:
        """Roll back on this handle's thread, after the call running there (which may be the
        one still staging the work), then stop the thread."""

        def close_work() -> None:
            if self.work is not None:
                self.work.close(why)

        closed = self._worker.submit(close_work)
        self.retire()
        return closed


class Handles:
    """The live handles of one server, at most ``max_handles``, and the recently ended ones."""

    def __init__(self, *, lease: float, max_handles: int) -> None:
        self.lease = lease
        self.max_handles = max_handles
        self._live: dict[str, Handle] = {}
        self._ended: OrderedDict[str, Handle] = OrderedDict()

    def open(self, kind: str) -> Handle:
        if len(self._live) >= self.max_handles:
            raise UsageError(
                f"{self.max_handles} actions are held already ([mcp] max_handles): commit or "
                "roll one back first"
            )
        handle = Handle(kind, self.lease)
        self._live[handle.id] = handle
        return handle

    def get(self, handle_id: str, kind: str) -> Handle:
        handle = self._live.get(handle_id) or self._ended.get(handle_id)
        if handle is None or handle.kind != kind:
            raise UsageError(
                f"no {kind} handle {handle_id[:60]!r} in this server: handles are good only in "
                "the server process that made them"
            )
        return handle

    def settle(self, handle: Handle) -> None:
        """Move a handle whose action ended (or never staged) out of the live ones."""
        if self._live.pop(handle.id, None) is None:
            return
        handle.retire()
        if handle.work is not None:
            self._ended[handle.id] = handle
            while len(self._ended) > ENDED_KEPT:
                self._ended.popitem(last=False)

    async def start(self, kind: str, stage: Callable[[Handle], T]) -> T:
        """Open a handle and stage its action (``stage`` sets ``handle.work``) on its thread;
        a handle whose action could not be staged, or ended at once, is not kept live."""
        handle = self.open(kind)
        try:
            return await handle.run(functools.partial(stage, handle))
        finally:
            if handle.work is None or handle.ended:
                self.settle(handle)

    async def on(self, handle_id: str, kind: str, call: Callable[[Handle], T]) -> T:
        """Run ``call`` on the thread of a live handle."""
        handle = self.get(handle_id, kind)
        if handle.work is None or handle.ended:
            raise UsageError(f"the action of handle {handle_id[:60]!r} has ended")
        return await handle.run(functools.partial(call, handle))

    async def commit(self, handle_id: str, kind: str, paths: Sequence[str] = ()) -> dict[str, Any]:
        return await self._decide(handle_id, kind, lambda work: work.commit(paths))

    async def rollback(self, handle_id: str, kind: str) -> dict[str, Any]:
        return await self._decide(handle_id, kind, lambda work: work.rollback())

    async def _decide(
        self, handle_id: str, kind: str, step: Callable[[Work], dict[str, Any]]
    ) -> dict[str, Any]:
        """The outcome (the same one however often asked), or ``pending``."""
        handle = self.get(handle_id, kind)
        work = handle.work
        assert work is not None  # a handle is kept only once it has work
        if work.outcome is not None:
            return work.outcome
        try:
            return await handle.run(functools.partial(step, work))
        finally:
            if handle.ended:
                self.settle(handle)

    @property
    def live(self) -> list[Handle]:
        return list(self._live.values())

    async def sweep(self) -> None:
        """Forever: carry out a person's decisions; roll back what outlived its lease. Each
        handle is looked at on its own thread, so one slow rollback holds up no other."""
        looking: set[asyncio.Task[None]] = set()
        while True:
            await asyncio.sleep(SWEEP_SECONDS)
            for handle in self.live:
                if handle.work is not None and not handle.busy:
                    handle.busy += 1  # until it has been looked at: not looked at twice
                    task = asyncio.ensure_future(self._look_at(handle))
                    looking.add(task)
                    task.add_done_callback(looking.discard)

    async def _look_at(self, handle: Handle) -> None:
        work = handle.work
        assert work is not None
        try:
            with suppress(Exception):  # what failed is in the work's outcome
                if work.pending:
                    await handle.run(work.poll)
                elif time.monotonic() - handle.last_used > handle.lease:
                    why = f"its lease ran out ({handle.lease:g} s without a call)"
                    await handle.run(functools.partial(work.expire, why))
        finally:
            handle.busy -= 1
        if handle.ended:
            self.settle(handle)

    def close_all(self, why: str) -> None:
        """Roll back every held action, all at once; waits at most CLOSE_SECONDS, never raises
        (a connection left open by one that took longer drops as the process ends)."""
        closing = [handle.closing(why) for handle in self.live]
        self._live.clear()
        futures.wait(closing, timeout=CLOSE_SECONDS)
