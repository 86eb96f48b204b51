"""DuckDB's errors in goex's words: the one place duckdb's exceptions are caught.

As httpx maps its transport's exceptions in one context manager, ``translated`` turns a duckdb
error raised in its block into ``core.errors`` (``raise ... from exc``): an ``ExecutionError``
(DuckDB gives no SQLSTATE) or a ``TargetError``. ``ignored`` and ``ignored_if_no_transaction``
are for the places where a failure is expected, not reported.
"""

from __future__ import annotations

import contextlib
from types import TracebackType

import duckdb

from core.errors import ExecutionError, TargetError


def translated(
    describe: str,
    error: type[ExecutionError] | type[TargetError] = ExecutionError,
    *,
    statement: str | None = None,
) -> _Translated:
    """Raise a duckdb error from the block as ``error``, with the message ``<describe>: <DuckDB's
    reason>``; ``statement`` is the SQL the error is about."""
    return _Translated(describe, error, statement)


class _Translated:
    """``translated``'s context manager: a class, not a generator, as it wraps every statement
    and query (a generator-based one costs several times as much to enter)."""

    __slots__ = ("describe", "error", "statement")

    def __init__(
        self,
        describe: str,
        error: type[ExecutionError] | type[TargetError],
        statement: str | None,
    ) -> None:
        self.describe = describe
        self.error = error
        self.statement = statement

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if isinstance(exc, duckdb.Error):
            message = f"{self.describe}: {error_reason(exc)}"
            if issubclass(self.error, TargetError):
                raise self.error(message) from exc
            raise self.error(message, statement=self.statement) from exc


def ignored() -> contextlib.suppress:
    """Ignore a duckdb error from the block: for what may fail without harm."""
    return contextlib.suppress(duckdb.Error)


def ignored_if_no_transaction() -> contextlib.suppress:
    """Ignore DuckDB's refusal to end a transaction when none is open (nothing to undo)."""
    return contextlib.suppress(duckdb.TransactionException)


def error_reason(exc: BaseException) -> str:
    """DuckDB's one-line reason for an error."""
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
