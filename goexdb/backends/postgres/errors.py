"""PostgreSQL's errors in goex's words: the one place psycopg's exceptions are caught.

As httpx maps its transport's exceptions in one context manager, ``translated`` turns a psycopg
error raised in its block into ``core.errors`` (``raise ... from exc``): an ``ExecutionError``
with the server's SQLSTATE (and, for a statement, the position the server points at) or a
``TargetError``. The helpers after it are for the few places where a failure is expected, not
reported: a prepared statement gone with its session, a rollback psycopg must finish, a database
other sessions use.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Any

import psycopg
from psycopg import sql

from core.config import DbConfig
from core.errors import ExecutionError, GoexError, OutcomeUnknown, TargetError


def translated(
    describe: str | Callable[[psycopg.Error], str],
    error: type[ExecutionError] | type[TargetError] = ExecutionError,
    *,
    statement: str | None = None,
    cleanup: Callable[[], object] | None = None,
) -> _Translated:
    """Raise a psycopg error from the block as ``error``: ``describe`` is the message (given the
    psycopg error) or what it starts with, before ``: <the server's reason>``. ``statement`` is
    the SQL the error is about; ``cleanup`` runs first, and a psycopg error of its own is
    ignored, so that the first failure is the one reported."""
    return _Translated(describe, error, statement, cleanup)


class _Translated:
    """``translated``'s context manager: a class, not a generator, as it wraps every round
    trip of the hot path (a generator-based one costs several times as much to enter)."""

    __slots__ = ("cleanup", "describe", "error", "statement")

    def __init__(
        self,
        describe: str | Callable[[psycopg.Error], str],
        error: type[ExecutionError] | type[TargetError],
        statement: str | None,
        cleanup: Callable[[], object] | None,
    ) -> None:
        self.describe = describe
        self.error = error
        self.statement = statement
        self.cleanup = cleanup

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if isinstance(exc, psycopg.Error):
            raise self._translate(exc) from exc

    def _translate(self, exc: psycopg.Error) -> ExecutionError | TargetError:
        if self.cleanup is not None:
            with ignored():
                self.cleanup()
        describe = self.describe
        message = describe(exc) if callable(describe) else f"{describe}: {error_reason(exc)}"
        if issubclass(self.error, TargetError):
            return self.error(message)
        position = exc.diag.statement_position if self.statement is not None else None
        return self.error(
            message,
            statement=self.statement,
            sqlstate=exc.sqlstate,
            position=int(position) if position else None,
        )


def ignored() -> contextlib.suppress:
    """Ignore a psycopg error from the block: for what may fail without harm."""
    return contextlib.suppress(psycopg.Error)


@contextlib.contextmanager
def falling_back(fallback: Callable[[], object]) -> Iterator[None]:
    """If psycopg fails the block, run ``fallback`` instead (a failure of its own is raised)."""
    try:
        yield
    except psycopg.Error:
        fallback()


def refused_in_use(con: psycopg.Connection[Any], statement: sql.Composed) -> str | None:
    """Execute ``statement``: None when it ran; why not (the server's detail, or "") when the
    server refused it because other sessions use the database (SQLSTATE 55006)."""
    try:
        con.execute(statement)
    except psycopg.errors.ObjectInUse as exc:
        return (exc.diag.message_detail or "").rstrip(".")
    return None


def commit_failure(exc: psycopg.Error, config: DbConfig, *, broken: bool) -> GoexError:
    """Why a commit failed, and whether anything was committed: the server ending the session
    (a timeout, a shutdown) answers before the COMMIT is read, so nothing was; a connection that
    broke with no such answer leaves it unknown (``OutcomeUnknown``)."""
    known = _known_commit_failure(exc, config)
    if known is None and broken:
        return OutcomeUnknown(
            f"the connection to PostgreSQL broke during the commit ({error_reason(exc)}), so "
            "whether it committed is unknown; check the database before running the action again"
        )
    return ExecutionError(
        known or f"PostgreSQL could not commit: {error_reason(exc)}", sqlstate=exc.sqlstate
    )


def _known_commit_failure(exc: psycopg.Error, config: DbConfig) -> str | None:
    if exc.sqlstate == "25P03":
        return (
            "PostgreSQL ended the held transaction at idle_in_transaction_session_timeout "
            f"({config.idle_timeout:g}s) while it waited for a decision, so nothing was committed"
        )
    if exc.sqlstate in ("57P01", "57P02", "57P03"):
        return (
            "the connection to PostgreSQL was lost while the transaction was held (the server "
            f"shut down or restarted: {error_reason(exc)}), so nothing was committed"
        )
    return None


def error_reason(exc: psycopg.Error) -> str:
    """The server's one-line reason for an error, without its trailing full stop."""
    primary = exc.diag.message_primary if hasattr(exc, "diag") else None
    lines = str(exc).strip().splitlines()
    return (primary or (lines[0] if lines else type(exc).__name__)).rstrip(".")
