from __future__ import annotations

import io
import json

import pytest
from rich.console import Console
from rich.text import Text

from core.action import Action, Decision, Kind, Status, Verdict
from core.policy import Severity, Violation
from core.redact import Redactor
from core.render import (
    decision_text,
    make_console,
    print_json,
    render_log,
    render_report,
    violations_table,
)

SECRET = "s3cr3t-value-9876"


def console(width: int = 120) -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=width, no_color=True, highlight=False), out


def action_with_secret() -> Action:
    action = Action(
        Kind.DB,
        "postgresql://app:pa55word@db/prod",
        f"ALTER ROLE app PASSWORD '{SECRET}'",
        prompt=f"set the password to {SECRET}",
    )
    action.advance(Status.STAGED)
    return action


def test_print_json_redacts(capsys: pytest.CaptureFixture[str]) -> None:
    redactor = Redactor({"GOEX_SECRET_X": SECRET})
    print_json(
        {"code": f"echo {SECRET}", "list": [SECRET, 1], "token": "ghp_" + "x" * 36}, redactor
    )
    out = capsys.readouterr().out
    assert out.endswith("}\n")
    data = json.loads(out)
    assert data == {
        "code": "echo [REDACTED:GOEX_SECRET_X]",
        "list": ["[REDACTED:GOEX_SECRET_X]", 1],
        "token": "[REDACTED]",
    }


def test_make_console_honours_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    assert make_console().no_color
    monkeypatch.delenv("NO_COLOR")
    assert not make_console().no_color
    assert make_console(stderr=True).stderr


def test_no_color_removes_every_style_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    def styled() -> str:
        console = make_console()
        console.file = io.StringIO()
        console.print(Text("bold", style="bold"), Text("dim red", style="dim red"))
        return console.file.getvalue()

    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.setenv("FORCE_COLOR", "1")  # as on a real terminal
    assert "\x1b[" in styled()
    monkeypatch.setenv("NO_COLOR", "1")
    assert "\x1b[" not in styled() and "bold" in styled()


def test_report_never_shows_a_secret() -> None:
    redactor = Redactor({"GOEX_SECRET_X": SECRET})
    con, out = console()
    render_report(
        con,
        action_with_secret(),
        [f"plain section with {SECRET}", Text(f"text section with {SECRET}")],
        [Violation("db.x", Severity.ERROR, "something bad")],
        redactor,
        code_language="sql",
    )
    text = out.getvalue()
    assert SECRET not in text and "pa55word" not in text
    assert "[REDACTED:GOEX_SECRET_X]" in text
    assert "ALTER ROLE app PASSWORD" in text
    assert "db.x" in text and "something bad" in text


def test_violations_table() -> None:
    con, out = console()
    con.print(violations_table([]))
    con.print(violations_table([Violation("fs.max-files", Severity.WARNING, "too many")]))
    text = out.getvalue()
    assert "policy: no violations" in text
    assert "warning" in text and "fs.max-files" in text and "too many" in text


def test_decision_text() -> None:
    action = action_with_secret()
    assert "no decision yet" in str(decision_text(action))
    digest = action.bind({})
    action.decide(Decision("user", Verdict.ROLLBACK, "chose rollback at the prompt", digest))
    action.advance(Status.ROLLED_BACK)
    text = decision_text(action)
    assert isinstance(text, Text)
    assert text.plain == "decision: rollback by user — chose rollback at the prompt → rolled_back"


def test_log() -> None:
    redactor = Redactor({"GOEX_SECRET_X": SECRET})
    con, out = console()
    render_log(con, [], redactor)
    assert "no actions in the journal yet" in out.getvalue()

    # The summary is cut at 80 characters: here in the middle of the secret.
    long_prompt = Action(Kind.FS, "/project", "true", prompt="x" * 70 + f" {SECRET} and more")
    listed = action_with_secret()
    con, out = console(width=300)
    render_log(con, [listed, long_prompt], redactor)
    text = out.getvalue()
    assert listed.id in text and long_prompt.id in text
    assert "x" * 70 in text
    assert SECRET[:4] not in text  # not even the start of it
    assert "pa55word" not in text
