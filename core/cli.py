"""What both CLIs share: the error boundary, ``--format``, and the journal commands.

The CLIs stay thin: parse flags, call the library, render. Only ``GoexError`` is caught, and
printed as ``error: <one sentence>`` on stderr with the error's exit code.

(No ``from __future__ import annotations`` here: Typer reads the annotations at run time, and
the journal commands' option names are closure variables.)
"""

import sys
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.pretty import Pretty

from core.action import Kind, Status, Verdict
from core.errors import ExitCode, GoexError
from core.journal import Journal
from core.policy import Severity, Violation
from core.redact import Redactor
from core.render import decision_text, make_console, print_json, render_log, render_report
from core.review import Mode


class Format(StrEnum):
    TEXT = "text"
    JSON = "json"


FormatOption = Annotated[
    Format, typer.Option("--format", "-f", help="text for people, json for scripts")
]
DecideOption = Annotated[
    Mode | None,
    typer.Option(
        "--decide",
        help="who decides: ask, commit, rollback, policy, llm or keep (stay staged; goex-fs "
        "only) (default: [review] decide in goex.toml, else ask)",
    ),
]
PolicyOption = Annotated[
    Path | None,
    typer.Option("--policy", help="a TOML file with a [policy] table, over goex.toml"),
]

EXIT_FOR_STATUS = {
    Status.COMMITTED: ExitCode.OK,
    Status.UNDONE: ExitCode.OK,
    Status.ROLLED_BACK: ExitCode.ROLLED_BACK,
    Status.REJECTED: ExitCode.REJECTED,
    Status.STAGED: ExitCode.KEPT_STAGED,
    Status.FAILED: ExitCode.ERROR,
    Status.PROPOSED: ExitCode.ERROR,
}


def exit_code_for(status: Status, verdict: Verdict | None = None) -> ExitCode:
    if status is Status.STAGED and verdict is not Verdict.KEEP:
        return ExitCode.ERROR
    return EXIT_FOR_STATUS[status]


def new_app(name: str, help_text: str) -> typer.Typer:
    return typer.Typer(
        name=name,
        help=help_text,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
    )


def run_app(app: typer.Typer) -> None:
    """Run a Typer app, turning every GoexError into ``error: ...`` and its exit code."""
    try:
        app()
    except GoexError as exc:
        _error_line(exc.message)
        sys.exit(int(exc.exit_code))


def _error_line(message: str) -> None:
    """One unwrapped line on stderr, whatever the terminal width."""
    one_line = " ".join(message.split())
    sys.stderr.write(f"error: {one_line}\n")
    sys.stderr.flush()


def add_journal_commands(
    app: typer.Typer,
    kind: Kind,
    journal_for: Callable[[str | None], Path],
    code_language: str,
    target_of: Callable[[str], str],
    target_flag: str,
) -> None:
    """``log`` and ``show``: the same for both sides, reading the side's journal.

    ``target_flag`` (``--dsn``, ``--dir``) filters the log to one target; ``target_of`` turns
    the flag's value into the target as journaled (a DSN without its password, a full path);
    ``journal_for`` finds the journal for a target (or for none given).
    """

    @app.command("log")
    def log_command(
        target: Annotated[
            str | None, typer.Option(target_flag, help="only the actions on this target")
        ] = None,
        fmt: FormatOption = Format.TEXT,
        limit: Annotated[int, typer.Option(help="how many recent actions")] = 20,
    ) -> None:
        """List recent actions, newest first."""
        redactor = Redactor()
        with Journal(journal_for(target)) as journal:
            actions = journal.recent(kind, limit, None if target is None else target_of(target))
        if fmt is Format.JSON:
            print_json([a.to_json() for a in actions], redactor)
        else:
            render_log(make_console(), actions, redactor)

    @app.command("show")
    def show_command(
        action_id: Annotated[str, typer.Argument(help="an action id, or a unique prefix of one")],
        fmt: FormatOption = Format.TEXT,
    ) -> None:
        """Show one action: code, measured effects, decision and status history."""
        redactor = Redactor()
        with Journal(journal_for(None)) as journal:
            action = journal.get(action_id)
            effects = journal.effects(action.id) or {}
        if fmt is Format.JSON:
            print_json({**action.to_json(), "effects": effects}, redactor)
            return
        violations = [
            Violation(v["rule"], Severity(v["severity"]), v["message"])
            for v in effects.get("violations", [])
        ]
        render_report(
            make_console(),
            action,
            [Pretty(redactor.redact_obj({k: v for k, v in effects.items() if k != "violations"}))],
            violations,
            redactor,
            code_language=code_language,
        )
        make_console().print(decision_text(action))
