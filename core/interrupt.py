"""Signals: SIGINT (Ctrl-C) and SIGTERM end an action cleanly, never half-way.

While a CLI runs (``signals_interrupt``) both signals raise ``Signalled``, a
``KeyboardInterrupt``, in the main thread: whatever is staging or waiting unwinds, and the
lifecycle rolls the action back and journals it (``core.lifecycle``). Psycopg treats it as it
treats Ctrl-C: it cancels the statement on the server. Where stopping half-way would leave a
target in neither its before- nor its after-state — a commit being made, the clean-up after an
interrupt — the signal is held (``deferred``) and raised when the block is done. Handlers are
swapped with both signals blocked, so none is lost or half-handled in between.

Outside the main thread (an MCP server's worker, a test) these are no-ops: Python delivers
signals to the main thread only.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

SIGNALS = (signal.SIGINT, signal.SIGTERM)
Handler = Callable[[int, FrameType | None], object] | int | None


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
def _blocked() -> Iterator[None]:
    """Both signals blocked for the block: they wait in the kernel, none is lost."""
    before = signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)


def _install(handler: Handler) -> dict[int, Handler]:
    with _blocked():
        return {signum: signal.signal(signum, handler) for signum in SIGNALS}


def _restore(previous: dict[int, Handler]) -> None:
    with _blocked():
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextmanager
def signals_interrupt() -> Iterator[None]:
    """For the block (a CLI's whole run): SIGINT and SIGTERM raise ``Signalled``."""
    if not _in_main_thread():
        yield
        return
    previous = _install(_raise)
    try:
        yield
    finally:
        _restore(previous)


_held: list[int] = []
_depth = 0


def _hold(signum: int, frame: FrameType | None) -> None:
    _held.append(signum)


@contextmanager
def deferred(*, swallow: bool = False) -> Iterator[None]:
    """Hold SIGINT and SIGTERM until the block ends, then raise the first as ``Signalled``
    (chained to the block's own exception, if it raised one: the interrupt is what the person
    asked for). ``swallow`` drops them instead (clean-up that an interrupt itself started).

    Nested blocks hold until the outermost ends."""
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
    previous = _install(_hold)
    _depth = 1
    try:
        yield
    except Exception as exc:
        held = _release(previous)
        if held and not swallow:
            raise Signalled(held[0]) from exc
        raise
    except BaseException:
        _release(previous)
        raise
    held = _release(previous)
    if held and not swallow:
        raise Signalled(held[0])


def _release(previous: dict[int, Handler]) -> list[int]:
    """Restore the handlers and hand over what was held, with both signals blocked."""
    global _depth
    with _blocked():
        _depth = 0
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        held = list(_held)
        _held.clear()
    return held
