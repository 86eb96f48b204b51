"""Signals: SIGINT (Ctrl-C) and SIGTERM end an action cleanly, never half-way.

While a CLI runs (``signals_interrupt``) both signals raise ``Signalled``, a
``KeyboardInterrupt``, in the main thread: whatever is staging or waiting unwinds, and the
lifecycle rolls the action back and journals it (``core.lifecycle``). Psycopg treats it as it
treats Ctrl-C: it cancels the statement on the server. Where stopping half-way would leave a
target in neither its before- nor its after-state — a commit being made, the clean-up after an
interrupt — the signal is held (``deferred``) and raised when the block is done.

Outside the main thread (an MCP server's worker, a test) these are no-ops: Python delivers
signals to the main thread only.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Signalled(KeyboardInterrupt):
    """A SIGINT or SIGTERM, raised where the program was."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name


def signal_name(exc: KeyboardInterrupt) -> str:
    return exc.name if isinstance(exc, Signalled) else "SIGINT"


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _raise(signum: int, frame: FrameType | None) -> None:
    raise Signalled(signum)


@contextmanager
def signals_interrupt() -> Iterator[None]:
    """For the block (a CLI's whole run): SIGINT and SIGTERM raise ``Signalled``."""
    if not _in_main_thread():
        yield
        return
    previous = {signum: signal.signal(signum, _raise) for signum in SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


_held: list[int] = []
_depth = 0


def _hold(signum: int, frame: FrameType | None) -> None:
    _held.append(signum)


@contextmanager
def deferred() -> Iterator[None]:
    """Hold SIGINT and SIGTERM until the block ends, then raise the first as ``Signalled``.

    Nested blocks hold until the outermost ends. If the block raises, its exception wins."""
    global _depth
    if not _in_main_thread():
        yield
        return
    if _depth:
        _depth += 1
        try:
            yield
        finally:
            _depth -= 1
        return
    previous = {signum: signal.signal(signum, _hold) for signum in SIGNALS}
    _depth = 1
    try:
        yield
    finally:
        _depth = 0
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        held = list(_held)
        _held.clear()
    if held:
        raise Signalled(held[0])
