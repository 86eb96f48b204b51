from __future__ import annotations

import inspect

import pytest

from core import errors
from core.errors import (
    ConfigError,
    ConflictError,
    ExecutionError,
    ExitCode,
    GoexError,
    Interrupted,
    JournalError,
    LLMConfigError,
    LLMError,
    LLMReplyError,
    LLMUnavailable,
    PathError,
    PolicyRejected,
    SandboxError,
    StateError,
    StatementDenied,
    StatementError,
    TargetError,
    UsageError,
)

ERROR_CLASSES = [
    cls
    for _, cls in inspect.getmembers(errors, inspect.isclass)
    if issubclass(cls, Exception) and cls.__module__ == errors.__name__
]


def test_exit_codes_are_the_documented_ones() -> None:
    assert {code.name: int(code) for code in ExitCode} == {
        "OK": 0,
        "ERROR": 1,
        "USAGE": 2,
        "ROLLED_BACK": 3,
        "REJECTED": 4,
        "KEPT_STAGED": 5,
        "INTERRUPTED": 130,
    }


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=lambda c: c.__name__)
def test_every_error_is_a_goex_error_and_drawn_in_the_tree(cls: type[Exception]) -> None:
    assert issubclass(cls, GoexError)
    assert f"── {cls.__name__}" in (errors.__doc__ or "") or cls is GoexError


def test_the_tree_matches_the_docstring() -> None:
    assert issubclass(LLMConfigError, LLMError)
    assert issubclass(LLMUnavailable, LLMError)
    assert issubclass(LLMReplyError, LLMError)
    assert issubclass(StatementDenied, StatementError)
    assert issubclass(ExecutionError, StatementError)
    direct: tuple[type[GoexError], ...] = (
        UsageError,
        ConfigError,
        TargetError,
        LLMError,
        StatementError,
        PathError,
        SandboxError,
        ConflictError,
        PolicyRejected,
        StateError,
        JournalError,
    )
    for cls in direct:
        assert cls.__bases__ == (GoexError,)
    assert Interrupted.__bases__ == (GoexError, KeyboardInterrupt)


def test_exit_code_of_each_error() -> None:
    assert GoexError("x").exit_code is ExitCode.ERROR
    assert UsageError("x").exit_code is ExitCode.USAGE
    assert PolicyRejected("x").exit_code is ExitCode.REJECTED
    for cls in (ConfigError, TargetError, LLMUnavailable, StateError, JournalError, PathError):
        assert cls("x").exit_code is ExitCode.ERROR


def test_message_is_the_string() -> None:
    error = TargetError("database db.example is unreachable")
    assert str(error) == error.message == "database db.example is unreachable"
    assert error.args == ("database db.example is unreachable",)


def test_fields() -> None:
    config = ConfigError("bad", path="/x/goex.toml", key="db.lock_timeout")
    assert (config.path, config.key) == ("/x/goex.toml", "db.lock_timeout")
    assert ConfigError("bad").path is None

    statement = ExecutionError("boom", statement="SELECT 1/0", sqlstate="22012")
    assert (statement.statement, statement.sqlstate) == ("SELECT 1/0", "22012")

    denied = StatementDenied("no", statement="COMMIT", rule="transaction-control")
    assert (denied.statement, denied.rule, denied.sqlstate) == (
        "COMMIT",
        "transaction-control",
        None,
    )

    assert PathError("outside", path="../x").path == "../x"
    conflict = ConflictError("changed", path="a.txt", details=("a", "b"))
    assert conflict.details == ["a", "b"]
    assert ConflictError("changed").details == []

    rejected = PolicyRejected("blocked", violations=("v1",))
    assert rejected.violations == ["v1"]
    assert LLMReplyError("no block", reply="hello").reply == "hello"
