"""The one error tree of goex, and the exit codes.

Every failure goex reports is a ``GoexError``; foreign exceptions (psycopg, duckdb, openai,
sqlite3, OSError) are translated once, where they cross into goex, with ``raise ... from exc``.
The CLIs catch ``GoexError`` only and print ``error: <message>`` — so every message is one
sentence that says what went wrong and, where it helps, what to do.

::

    GoexError                       exit 1 unless noted
    ├── UsageError                  exit 2: a bad flag, argument or combination
    ├── ConfigError                 goex.toml, GOEX_* environment, secrets file
    ├── TargetError                 a DSN or directory that is missing, malformed or unreachable
    │   └── OutcomeUnknown          the connection broke during COMMIT: committed or not, unknown
    ├── LLMError                    the model could not give a usable answer
    │   ├── LLMConfigError          no key / model configured
    │   ├── LLMUnavailable          unreachable, timed out, kept failing (429/5xx)
    │   └── LLMReplyError           malformed reply, no code block, several code blocks
    ├── StatementError              SQL that cannot be run          (.statement, .sqlstate)
    │   ├── StatementDenied         exit 4: refused before running  (.rule)
    │   └── ExecutionError          the database raised             (.sqlstate)
    ├── PathError                   a path outside the root, through a symlink, denied (.path)
    ├── SandboxError                the sandbox is missing or could not start
    ├── ConflictError               the target changed since staging (.path / .details)
    ├── PolicyRejected              exit 4: a policy rule blocked the action (.violations)
    ├── StateError                  an illegal status transition, an unknown action id
    ├── JournalError                the journal cannot be opened, read or written
    └── Interrupted                 exit 130: SIGINT or SIGTERM; the staged work was rolled back
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import IntEnum
from typing import Any


class ExitCode(IntEnum):
    """Process exit codes shared by goex-db and goex-fs (documented in README.md)."""

    OK = 0
    ERROR = 1
    USAGE = 2
    ROLLED_BACK = 3
    REJECTED = 4
    KEPT_STAGED = 5
    INTERRUPTED = 130


class GoexError(Exception):
    """Base of every error goex raises on purpose."""

    exit_code: ExitCode = ExitCode.ERROR

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UsageError(GoexError):
    exit_code = ExitCode.USAGE


class ConfigError(GoexError):
    def __init__(self, message: str, *, path: str | None = None, key: str | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.key = key


class TargetError(GoexError):
    pass


class OutcomeUnknown(TargetError):
    """The connection broke while COMMIT was on its way: whether it committed is unknown, so the
    action is journaled ``outcome_unknown`` and never retried by goex."""


class LLMError(GoexError):
    pass


class LLMConfigError(LLMError):
    pass


class LLMUnavailable(LLMError):
    pass


class LLMReplyError(LLMError):
    def __init__(self, message: str, *, reply: str | None = None) -> None:
        super().__init__(message)
        self.reply = reply


class StatementError(GoexError):
    def __init__(
        self,
        message: str,
        *,
        statement: str | None = None,
        sqlstate: str | None = None,
        position: int | None = None,
    ) -> None:
        super().__init__(message)
        self.statement = statement
        self.sqlstate = sqlstate
        self.position = position  # 1-based character of the statement the error points at


class StatementDenied(StatementError):
    exit_code = ExitCode.REJECTED

    def __init__(self, message: str, *, statement: str | None = None, rule: str) -> None:
        super().__init__(message, statement=statement)
        self.rule = rule


class ExecutionError(StatementError):
    pass


class PathError(GoexError):
    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class SandboxError(GoexError):
    pass


class ConflictError(GoexError):
    def __init__(
        self, message: str, *, path: str | None = None, details: Sequence[Any] = ()
    ) -> None:
        super().__init__(message)
        self.path = path
        self.details = list(details)


class PolicyRejected(GoexError):
    exit_code = ExitCode.REJECTED

    def __init__(self, message: str, *, violations: Sequence[Any] = ()) -> None:
        super().__init__(message)
        self.violations = list(violations)


class StateError(GoexError):
    pass


class JournalError(GoexError):
    pass


class Interrupted(GoexError, KeyboardInterrupt):
    """SIGINT (Ctrl-C) or SIGTERM arrived; the message says what became of the action. Also a
    ``KeyboardInterrupt``, so a caller that stops on Ctrl-C still stops."""

    exit_code = ExitCode.INTERRUPTED
