"""What both CLIs share: the error and signal boundary, ``--format``, finishing a staged action,
deciding from another process, and the journal commands.

The CLIs stay thin: parse flags, call the library, render through the side's ``View``. Only
``GoexError`` is caught, and printed as ``error: <one sentence>`` on stderr with the error's exit
code; SIGINT and SIGTERM become ``Interrupted`` (exit 130) once the lifecycle has rolled the
action back.

(No ``from __future__ import annotations`` here: Typer reads the annotations at run time, and
the journal commands' option names are closure variables.)
"""

import getpass
import socket
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn, Protocol

import typer
from rich.console import Console

from core.action import Action, Decision, Kind, Mode, Status, Verdict
from core.config import Config
from core.errors import ExitCode, GoexError, Interrupted, StateError, UsageError
from core.interrupt import signal_name, signals_interrupt
from core.journal import Journal, Location
from core.lifecycle import Staged
from core.llm import judge_model
from core.redact import Redactor
from core.render import decision_text, make_console, print_json, render_log


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
        help="who decides: ask, commit, rollback, policy, llm, person (wait for goex-db/fs "
        "approve or reject from elsewhere) or keep (stay staged) (default: [review] decide in "
        "goex.toml, else ask)",
    ),
]
PolicyOption = Annotated[
    Path | None,
    typer.Option("--policy", help="a TOML file with a [policy] table, over goex.toml"),
]
IdArgument = Annotated[str, typer.Argument(help="an action id, or a unique prefix of one")]
DigestOption = Annotated[
    str | None,
    typer.Option(
        "--digest",
        help="the digest you were shown (goex show ID); a decision for another digest is "
        "refused (default: show the action here and decide on what is shown)",
    ),
]
ReasonOption = Annotated[str | None, typer.Option("--reason", help="why, for the journal")]

EXIT_FOR_STATUS = {
    Status.COMMITTED: ExitCode.OK,
    Status.UNDONE: ExitCode.OK,
    Status.ROLLED_BACK: ExitCode.ROLLED_BACK,
    Status.REJECTED: ExitCode.REJECTED,
    Status.STAGED: ExitCode.KEPT_STAGED,
    Status.FAILED: ExitCode.ERROR,
    Status.OUTCOME_UNKNOWN: ExitCode.ERROR,
    Status.PROPOSED: ExitCode.ERROR,
}


def exit_code_for(status: Status, verdict: Verdict | None = None) -> ExitCode:
    if status is Status.STAGED and verdict is not Verdict.KEEP:
        return ExitCode.ERROR
    return EXIT_FOR_STATUS[status]


class View(Protocol):
    """How a side shows one action (``goexdb.render.View``, ``goexfs.render.View``)."""

    def report(self, console: Console) -> None:
        """Header, code, measured effects and policy findings."""

    def details(self, console: Console) -> None:
        """What ``[d]etails`` adds: row images, or every file's diff."""

    def to_json(self) -> dict[str, Any]:
        """The one JSON object of ``--format json``."""

    def outcome(self) -> str | None:
        """One line on what became of the target, once decided (or None)."""


OUTCOME_WAIT = 5.0  # seconds approve/reject waits to report what the holding process did


class ViewOf(Protocol):
    """A side's ``View``: one action, from what the journal recorded (and the staged action
    itself, when there is one)."""

    def __call__(
        self,
        action: Action,
        recorded: Mapping[str, Any],
        redactor: Redactor,
        live: Any = None,
    ) -> View: ...


def new_app(
    name: str,
    help_text: str,
    commands: Sequence[tuple[str, Callable[..., None]]] = (),
    *,
    default: Callable[..., None] | None = None,
) -> typer.Typer:
    """A command line with these commands, in this order (``--help`` lists them so), and
    ``default`` run when it is given no command (else it prints its help)."""
    app = typer.Typer(
        name=name,
        help=help_text,
        no_args_is_help=default is None,
        invoke_without_command=default is not None,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
    )
    if default is not None:
        app.callback()(default)
    for command_name, command in commands:
        app.command(command_name)(command)
    return app


def host_and_port(value: str, flag: str, *, any_port: bool = False) -> tuple[str, int]:
    """``HOST:PORT`` as a server takes it: ``[::1]:PORT`` for IPv6, the host 127.0.0.1 when
    left out; port 0 (any free one) only with ``any_port``."""
    host, _, port = value.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    lowest = 0 if any_port else 1
    if not port.isdigit() or not lowest <= int(port) < 65536:
        raise UsageError(f"{flag} needs HOST:PORT with a port number, not {value!r}")
    return host, int(port)


def run_app(app: typer.Typer) -> None:
    """Run a Typer app: every GoexError becomes ``error: ...`` and its exit code; SIGINT and
    SIGTERM raise in the main thread (``core.interrupt``). The lifecycle turns one that lands
    while an action exists into ``Interrupted``; one before that (Typer makes it exit 130) gets
    its line here."""
    try:
        with signals_interrupt():
            app()
    except GoexError as exc:
        _line(f"error: {exc.message}")
        sys.exit(int(exc.exit_code))
    except SystemExit as exc:
        # Typer turns every KeyboardInterrupt, ``Interrupted`` included, into exit 130.
        interrupt = exc.__context__.__cause__ if exc.__context__ is not None else None
        if isinstance(interrupt, Interrupted):
            _line(interrupt.message)
        elif exc.code == ExitCode.INTERRUPTED and isinstance(interrupt, KeyboardInterrupt):
            _line(f"interrupted ({signal_name(interrupt)})")
        raise


def _line(message: str) -> None:
    """One unwrapped line on stderr, whatever the terminal width."""
    sys.stderr.write(" ".join(message.split()) + "\n")
    sys.stderr.flush()


def conclude(staged: Staged, view: View, *, mode: Mode, fmt: Format, config: Config) -> NoReturn:
    """Show a staged action, have ``mode`` decide, carry it out, report and exit with its code.

    The report comes first (a person deciding, here or elsewhere, sees it); a judge model, a
    person's terminal and the wait for a person's decision are the lifecycle's."""
    console = make_console()
    if fmt is Format.TEXT:
        view.report(console)
    try:
        staged.conclude(
            mode,
            judge=judge_model(config, staged.redactor) if mode is Mode.LLM else None,
            show_details=lambda: view.details(console),
            timeout=config.review.timeout,
            on_wait=lambda deadline: _waiting_line(staged, deadline),
        )
    except GoexError as exc:
        if fmt is Format.JSON:
            print_json({**view.to_json(), "error": exc.message}, staged.redactor)
        raise
    finished(staged.action, view, fmt, staged.redactor)


def finished(action: Action, view: View, fmt: Format, redactor: Redactor) -> NoReturn:
    """Report what was decided and carried out, and exit with the status's code."""
    if fmt is Format.JSON:
        print_json(view.to_json(), redactor)
    else:
        console = make_console()
        console.print(decision_text(action))
        if line := view.outcome():
            console.print(line, markup=False, highlight=False)
    verdict = action.decision.verdict if action.decision else None
    raise typer.Exit(int(exit_code_for(action.status, verdict)))


def _waiting_line(staged: Staged, deadline: datetime) -> None:
    action = staged.action
    tool = "goex-db" if action.kind is Kind.DB else "goex-fs"
    until = deadline.astimezone().strftime("%H:%M:%S")
    _line(
        f"waiting for a person until {until}: {tool} approve {action.id} --digest "
        f"{staged.digest} (or {tool} reject {action.id}); then it is rolled back"
    )


def person() -> str:
    """Who records a decision from this process, as the journal keeps it."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"person:{user}@{socket.gethostname()}"


def decide_from_elsewhere(
    journal: Journal,
    action: Action,
    verdict: Verdict,
    *,
    digest: str,
    reason: str,
    paths: tuple[str, ...] = (),
    reopen: Callable[[Action], Staged],
    view_of: ViewOf,
    fmt: Format,
    redactor: Redactor,
) -> NoReturn:
    """A person's decision on a waiting action (``approve``, ``reject``): for a kept action,
    which nobody holds, carried out here; otherwise recorded for the process that holds it,
    and what became of the action is reported once that process has carried it out (or that
    it is recorded, should the holder take longer than ``OUTCOME_WAIT``). Exits with the
    action's code, as ``commit``/``rollback`` do."""
    waiting = journal.waiting_for(action.id)
    if waiting is None:
        raise StateError(f"action {action.id} is {action.status.value}, not waiting for a decision")
    decision = Decision(person(), verdict, reason, digest, paths=paths)
    if waiting.kept:
        staged = reopen(action)
        staged.carry_out(decision)
        finished(staged.action, view_of(staged.action, staged.recorded, redactor, staged), fmt,
                 redactor)  # fmt: skip
    journal.answer(action.id, decision)
    ends = time.monotonic() + OUTCOME_WAIT
    while (now := journal.status_of(action.id)) is Status.STAGED and time.monotonic() < ends:
        time.sleep(0.05)
    if now is Status.STAGED:
        done = "approved" if verdict is Verdict.COMMIT else "rejected"
        _line(
            f"{done}: action {action.id}; its process ({waiting.holder}) has not carried the "
            "decision out yet"
        )
        raise typer.Exit(int(ExitCode.OK))
    ended = journal.get(action.id)
    finished(ended, view_of(ended, journal.effects(ended.id) or {}, redactor), fmt, redactor)


def add_journal_commands(
    app: typer.Typer,
    kind: Kind,
    journal_for: Callable[[str | None], Location],
    target_of: Callable[[str], str],
    target_flag: str,
    view_of: ViewOf,
    target_short: str | None = None,
) -> None:
    """``log`` and ``show``: the same for both sides, reading the side's journal.

    ``target_flag`` (``--dsn``, ``--dir``) names the target: ``log`` lists only its actions,
    ``target_of`` turns the flag's value into the target as journaled (a DSN without its
    password, a full path); ``journal_for`` finds the journal for a target (or for none given);
    ``view_of`` renders one action as the side's ``run`` does.
    """
    flags = (target_flag, target_short) if target_short else (target_flag,)

    @app.command("log")
    def log_command(
        target: Annotated[
            str | None, typer.Option(*flags, help="only the actions on this target")
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
        action_id: IdArgument,
        target: Annotated[
            str | None, typer.Option(*flags, help="where the action's journal is")
        ] = None,
        fmt: FormatOption = Format.TEXT,
    ) -> None:
        """Show one action as run shows it: code, measured effects, decision, status."""
        redactor = Redactor()
        with Journal(journal_for(target)) as journal:
            action = journal.get(action_id)
            effects = journal.effects(action.id) or {}
        if fmt is Format.JSON:
            print_json({**action.to_json(), "effects": effects}, redactor)
            return
        console = make_console()
        view_of(action, effects, redactor).report(console)
        console.print(decision_text(action))


def kept_rows(
    journal: Journal, kind: Kind, target: str | None = None
) -> list[tuple[Action, dict[str, Any]]]:
    """The actions (on ``target``) kept staged, newest first, with their journaled effects."""
    rows = []
    for waiting in reversed(journal.waiting(kind, target)):
        if waiting.kept:
            action = journal.get(waiting.action_id)
            rows.append((action, journal.effects(action.id) or {}))
    return rows
