from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer
from rich.console import Console
from typer.testing import CliRunner

from core.action import Action, Decision, Kind, Status, Verdict
from core.cli import EXIT_FOR_STATUS, add_journal_commands, exit_code_for, new_app, run_app
from core.errors import ExitCode, PolicyRejected, StateError, UsageError
from core.journal import Journal
from core.policy import Violation
from core.redact import Redactor
from core.render import render_report


@pytest.mark.parametrize(
    ("status", "verdict", "code"),
    [
        (Status.COMMITTED, Verdict.COMMIT, ExitCode.OK),
        (Status.UNDONE, None, ExitCode.OK),
        (Status.ROLLED_BACK, Verdict.ROLLBACK, ExitCode.ROLLED_BACK),
        (Status.REJECTED, Verdict.REJECT, ExitCode.REJECTED),
        (Status.REJECTED, None, ExitCode.REJECTED),
        (Status.STAGED, Verdict.KEEP, ExitCode.KEPT_STAGED),
        (Status.STAGED, Verdict.COMMIT, ExitCode.ERROR),  # staged but not by choice
        (Status.STAGED, None, ExitCode.ERROR),
        (Status.FAILED, None, ExitCode.ERROR),
        (Status.PROPOSED, None, ExitCode.ERROR),
    ],
)
def test_exit_code_for(status: Status, verdict: Verdict | None, code: ExitCode) -> None:
    assert exit_code_for(status, verdict) is code


def test_every_status_has_an_exit_code() -> None:
    assert set(EXIT_FOR_STATUS) == set(Status)


def failing_app(error: BaseException) -> typer.Typer:
    app = new_app("goex-test", "test app")

    @app.command()
    def boom() -> None:
        raise error

    @app.command()
    def fine() -> None:
        pass

    return app


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (StateError("no action with id 'x'"), 1),
        (UsageError("--sql and a prompt\n   cannot be combined"), 2),
        (PolicyRejected("policy violations: db.max-rows"), 4),
    ],
)
def test_run_app_prints_one_line_and_exits(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    error: Exception,
    code: int,
) -> None:
    monkeypatch.setattr("sys.argv", ["goex-test", "boom"])
    with pytest.raises(SystemExit) as info:
        run_app(failing_app(error))
    assert info.value.code == code
    err = capsys.readouterr().err
    assert err == f"error: {' '.join(str(error).split())}\n"


def test_run_app_interrupted(monkeypatch: pytest.MonkeyPatch) -> None:
    # Typer turns an interrupt inside a command into exit 130 (128 + SIGINT) itself.
    monkeypatch.setattr("sys.argv", ["goex-test", "boom"])
    with pytest.raises(SystemExit) as info:
        run_app(failing_app(KeyboardInterrupt()))
    assert info.value.code not in (None, 0)


def test_run_app_success(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.argv", ["goex-test", "fine"])
    with pytest.raises(SystemExit) as info:
        run_app(failing_app(RuntimeError("unused")))
    assert info.value.code == 0


def test_foreign_errors_are_not_swallowed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.argv", ["goex-test", "boom"])
    with pytest.raises(RuntimeError, match="a bug"):
        run_app(failing_app(RuntimeError("a bug")))


class PlainView:
    """The least a side's view shows: header, code and findings (core.render)."""

    def __init__(self, action: Action, recorded: dict[str, Any], redactor: Redactor) -> None:
        self.action, self.recorded, self.redactor = action, recorded, redactor

    def report(self, console: Console) -> None:
        violations = [Violation.from_json(v) for v in self.recorded.get("violations", [])]
        render_report(console, self.action, [], violations, self.redactor, code_language="sql")

    def details(self, console: Console) -> None:
        return None

    def to_json(self) -> dict[str, Any]:
        return self.action.to_json()

    def outcome(self) -> str | None:
        return None


@pytest.fixture
def journal_app(tmp_path: Path) -> tuple[typer.Typer, Path, Action]:
    path = tmp_path / "journal.sqlite3"
    action = Action(
        Kind.DB,
        "postgresql://app:pa55word@db/prod",
        "UPDATE users SET active = true WHERE id < 4",
        prompt="activate users 1-3",
    )
    other = Action(Kind.FS, "/project", "touch x", id="0000000000")
    with Journal(path) as journal:
        digest = action.bind({"rows": 3})
        action.advance(Status.STAGED)
        action.decide(Decision("user", Verdict.COMMIT, "chose commit at the prompt", digest))
        action.advance(Status.COMMITTED)
        journal.save(action)
        journal.set_effects(
            action.id,
            {
                "tables": {"users": {"updated": 3}},
                "violations": [{"rule": "db.x", "severity": "warning", "message": "careful"}],
            },
        )
        journal.save(other)
    app = new_app("goex-test", "test app")
    add_journal_commands(app, Kind.DB, lambda _: path, str.strip, "--target", PlainView)
    return app, path, action


def test_log_json(journal_app: tuple[typer.Typer, Path, Action]) -> None:
    app, _, action = journal_app
    result = CliRunner().invoke(app, ["log", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [a["id"] for a in data] == [action.id]  # only this side's actions
    assert data[0]["status"] == "committed"
    assert "pa55word" not in result.stdout


def test_log_text(journal_app: tuple[typer.Typer, Path, Action]) -> None:
    app, _, action = journal_app
    result = CliRunner().invoke(app, ["log"])
    assert result.exit_code == 0, result.output
    assert action.id in result.stdout and "committed" in result.stdout


def test_show_json_by_prefix(journal_app: tuple[typer.Typer, Path, Action]) -> None:
    app, _, action = journal_app
    result = CliRunner().invoke(app, ["show", action.id[:9], "-f", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["id"] == action.id
    assert data["effects"]["tables"] == {"users": {"updated": 3}}
    assert data["decision"]["verdict"] == "commit"


def test_show_text(journal_app: tuple[typer.Typer, Path, Action]) -> None:
    app, _, action = journal_app
    result = CliRunner().invoke(app, ["show", action.id])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "UPDATE users SET active = true" in out
    assert "careful" in out and "db.x" in out
    assert "decision: commit by user" in out
    assert "pa55word" not in out


def test_show_unknown_id_raises_the_goex_error(
    journal_app: tuple[typer.Typer, Path, Action],
) -> None:
    app, _, _ = journal_app
    result = CliRunner().invoke(app, ["show", "nope"])
    assert isinstance(result.exception, StateError)
