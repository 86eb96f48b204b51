"""goex-db: run agent SQL in a held-open transaction, show what it did, then decide.

Thin: parse flags, call the library (``goexdb.session``, ``core.lifecycle``), render.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from contextlib import ExitStack
from enum import StrEnum
from functools import partial
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import RenderableType
from rich.table import Table

from core.action import Action, Kind, Status
from core.cli import (
    DecideOption,
    Format,
    FormatOption,
    PolicyOption,
    add_journal_commands,
    exit_code_for,
    new_app,
    run_app,
)
from core.config import Config, load_config
from core.errors import GoexError, StateError, UsageError
from core.journal import Journal, default_path
from core.lifecycle import conclude, fail
from core.llm import Model, judge_model
from core.policy import evaluate
from core.redact import Redactor
from core.render import (
    CopyProgress,
    decision_text,
    make_console,
    print_json,
    render_report,
)
from core.review import Mode
from core.secrets import SecretStore
from goexdb import prompt as prompts
from goexdb.clone import collect_garbage
from goexdb.cloned import ClonedStaged, stage_on_clone
from goexdb.dsn import DSN_ENV, Target, parse_dsn
from goexdb.migrations import dry_run, lint
from goexdb.reports import FailOn, Report, ReportFormat, exit_code, render
from goexdb.rules import RULES, Outcome
from goexdb.session import Staged, connect


class RunMode(StrEnum):
    TXN = "txn"
    CLONE = "clone"


app = new_app(
    "goex-db",
    "Run agent-written SQL in a held-open transaction, measure its effects, then commit or "
    "roll back. Exit codes: 0 committed, 1 error, 2 usage, 3 rolled back, 4 rejected by "
    "policy, 5 kept staged.",
)


def journal_path() -> Path:
    return default_path(Kind.DB)


add_journal_commands(
    app, Kind.DB, lambda _: journal_path(), "sql", lambda dsn: parse_dsn(dsn).display, "--dsn"
)


@app.command("run")
def run_command(
    prompt: Annotated[
        str | None, typer.Argument(help="the task in words, for the model to write SQL for")
    ] = None,
    dsn: Annotated[
        str | None,
        typer.Option(
            help="postgresql:// URL, libpq key=value string or duckdb:PATH "
            "(default: GOEX_DSN, then DATABASE_URL)"
        ),
    ] = None,
    sql: Annotated[str | None, typer.Option(help="the agent's SQL, run as it is")] = None,
    sql_file: Annotated[
        str | None, typer.Option("--sql-file", help="read the agent's SQL from a file, - for stdin")
    ] = None,
    decide: DecideOption = None,
    policy: PolicyOption = None,
    fmt: FormatOption = Format.TEXT,
    timeout: Annotated[
        float | None, typer.Option(help="statement timeout in seconds (PostgreSQL)")
    ] = None,
    mode: Annotated[
        RunMode,
        typer.Option(
            help="txn: hold a transaction on the database; clone: run on a throwaway clone and "
            "replay on the database only if the decision is commit"
        ),
    ] = RunMode.TXN,
) -> None:
    """Stage SQL (the agent's, or the model's for PROMPT), show its effects, and decide."""
    code = _read_sql(sql, sql_file)
    if code is None and not prompt:
        raise UsageError("give a PROMPT for the model, or the agent's SQL with --sql/--sql-file")
    config = load_config(
        overrides={
            "review.decide": decide.value if decide else None,
            "db.statement_timeout": timeout,
        },
        policy_file=policy,
    )
    target = parse_dsn(dsn)
    secrets = SecretStore.load()
    redactor = _redactor(secrets, target)
    console = make_console()
    with ExitStack() as stack, Journal(journal_path()) as journal:
        db = stack.enter_context(connect(target, config.db, config.policy))
        if code is None:
            assert prompt is not None
            model = Model(config.model, redactor)
            if fmt is Format.TEXT:
                console.print(f"asking {model.name} for SQL …", style="dim")
            code = model.code(
                prompts.system_prompt(db.target.dialect),
                prompts.user_prompt(prompt, db.describe(), secrets),
                "sql",
            ).code
        action = Action(kind=Kind.DB, target=target.display, code=code, prompt=prompt)
        stage: Callable[[], Staged] = partial(db.stage, code)
        if mode is RunMode.CLONE:
            stack.close()  # PostgreSQL clones only a database no session is connected to
            stage = partial(
                stage_on_clone,
                target,
                code,
                tag=action.id,
                config=config.db,
                policy=config.policy,
                progress=_clone_progress() if fmt is Format.TEXT else None,
            )
        _review(action, stage, config, journal, redactor, fmt)


@app.command("undo")
def undo_command(
    action_id: Annotated[str, typer.Argument(help="the committed action, or a unique prefix")],
    dsn: Annotated[
        str | None,
        typer.Option(help="the action's database (default: GOEX_DSN, DATABASE_URL, its target)"),
    ] = None,
    decide: DecideOption = None,
    policy: PolicyOption = None,
    fmt: FormatOption = Format.TEXT,
) -> None:
    """Undo a committed action: compensating SQL from its row images, staged and reviewed like
    any action, refused if any row it changed has changed since."""
    config = load_config(
        overrides={"review.decide": decide.value if decide else None}, policy_file=policy
    )
    with Journal(journal_path()) as journal:
        original = journal.get(action_id)
        if original.status is not Status.COMMITTED:
            raise StateError(
                f"action {original.id} is {original.status.value}; only a committed action can "
                "be undone"
            )
        record, _ = journal.undo_data(original.id)
        if record is None:
            raise StateError(f"action {original.id} has no undo data in the journal")
        target = parse_dsn(dsn or _dsn_from_environment() or original.target)
        if target.display != original.target:
            raise UsageError(
                f"action {original.id} ran on {original.target}, not on {target.display}"
            )
        redactor = _redactor(SecretStore.load(), target)
        with connect(target, config.db, config.policy) as db:
            plan = db.plan_undo(record)
            action = Action(
                kind=Kind.DB, target=target.display, code=plan.sql, prompt=f"undo {original.id}"
            )
            _review(
                action,
                partial(db.stage_undo, plan),
                config,
                journal,
                redactor,
                fmt,
                undoes=original,
            )


@app.command("gc")
def gc_command(
    dsn: Annotated[
        str | None,
        typer.Option(help="the database whose clones to drop (default: GOEX_DSN, DATABASE_URL)"),
    ] = None,
    fmt: FormatOption = Format.TEXT,
) -> None:
    """Drop the clones a crashed run left behind (named goex_clone_*); a clone that a session
    is still connected to is kept and listed."""
    dropped, in_use = collect_garbage(parse_dsn(dsn))
    if fmt is Format.JSON:
        print_json({"dropped": dropped, "in_use": in_use}, Redactor())
        return
    console = make_console()
    for name in dropped:
        console.print(f"dropped {name}")
    for name in in_use:
        console.print(f"kept {name}: a session is connected to it", style="yellow")
    if not dropped and not in_use:
        console.print("no clones left behind")


def _review(
    action: Action,
    stage: Callable[[], Staged],
    config: Config,
    journal: Journal,
    redactor: Redactor,
    fmt: Format,
    undoes: Action | None = None,
) -> NoReturn:
    """Stage, measure, judge, decide and finish one action, then exit with its code."""
    console = make_console()
    journal.save(action)
    try:
        staged = stage()
    except GoexError as exc:
        fail(action, journal, exc)
        raise
    violations = evaluate(RULES, Outcome(staged.statements, staged.effects), config.policy)
    journal.set_undo(action.id, data=staged.undo_record())

    def show() -> None:
        render_report(console, action, _sections(staged), violations, redactor, code_language="sql")

    if fmt is Format.TEXT:
        show()
    mode = Mode(config.review.decide)
    recorded = conclude(
        action,
        staged,
        staged.effects_json(),
        violations,
        mode=mode,
        journal=journal,
        redactor=redactor,
        judge=judge_model(config, redactor) if mode is Mode.LLM else None,
        show_details=show,
        can_keep=False,
        intent={"undoes": undoes.id} if undoes else None,
        after_commit=partial(_after_commit, action, staged, journal, undoes),
    )
    if fmt is Format.JSON:
        print_json(_report(action, recorded), redactor)
    else:
        console.print(decision_text(action))
    raise typer.Exit(int(exit_code_for(action.status)))


def _after_commit(action: Action, staged: Staged, journal: Journal, undoes: Action | None) -> None:
    if isinstance(staged, ClonedStaged):  # undo needs the real database's rows, not the clone's
        journal.set_undo(action.id, data=staged.undo_record())
    if undoes is not None:
        undoes.advance(Status.UNDONE)
        journal.save(undoes)


def _clone_progress() -> CopyProgress:
    """The bar shown on stderr while a clone is made by pg_dump | pg_restore (the slow way)."""
    return CopyProgress(make_console(stderr=True), "cloning by pg_dump | pg_restore")


def _redactor(secrets: SecretStore, target: Target) -> Redactor:
    redactor = secrets.redactor()
    for name, value in target.secrets.items():
        redactor.add(name, value)
    return redactor


def _dsn_from_environment() -> str | None:
    return next((os.environ[n] for n in DSN_ENV if os.environ.get(n)), None)


def _read_sql(sql: str | None, sql_file: str | None) -> str | None:
    if sql is not None and sql_file is not None:
        raise UsageError("give --sql or --sql-file, not both")
    if sql_file == "-":
        return sys.stdin.read()
    if sql_file is not None:
        try:
            return Path(sql_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read --sql-file {sql_file}: {exc}") from exc
    return sql


def _report(action: Action, recorded: dict[str, Any]) -> dict[str, Any]:
    decision = action.decision
    return {
        "id": action.id,
        "status": action.status.value,
        "target": action.target,
        "statements": recorded["statements"],
        "effects": recorded["effects"],
        "violations": recorded["violations"],
        "reversible": recorded["reversible"],
        "decision": None
        if decision is None
        else {"by": decision.by, "verdict": decision.verdict.value, "reason": decision.reason},
        "digest": action.digest,
        **({"clone": recorded["clone"]} if "clone" in recorded else {}),
    }


def _sections(staged: Staged) -> list[RenderableType]:
    sections: list[RenderableType] = []
    statements = Table(title="statements", title_justify="left", show_edge=False)
    for column in ("#", "kind", "rows", "sql"):
        statements.add_column(column, overflow="fold" if column == "sql" else "ellipsis")
    for i, result in enumerate(staged.results, 1):
        rows = "" if result.rowcount is None else str(result.rowcount)
        statements.add_row(str(i), result.kind.value, rows, result.sql.strip()[:200])
    sections.append(statements)
    tables = Table(title="rows changed (measured)", title_justify="left", show_edge=False)
    for column in ("table", "inserted", "updated", "deleted", "by cascade/trigger"):
        tables.add_column(column, justify="left" if column == "table" else "right")
    for name, change in sorted(staged.effects.tables.items()):
        tables.add_row(
            name,
            str(change.inserted),
            str(change.updated),
            str(change.deleted),
            str(change.by_cascade_or_trigger),
        )
    if not staged.effects.tables:
        tables.add_row("(none)", "0", "0", "0", "0")
    sections.append(tables)
    for schema_change in staged.effects.schema_changes:
        column = f".{schema_change.name}" if schema_change.name else ""
        sections.append(f"schema: {schema_change.change} {schema_change.table}{column}")
    if isinstance(staged, ClonedStaged):
        clone = staged.clone
        sections.append(
            f"measured on clone {clone.name} ({clone.strategy}, {clone.seconds:.2f} s: "
            f"{clone.reason}); commit replays it on the database and checks the effects match"
        )
    for note in staged.effects.side_effects:
        sections.append(f"not undone by rollback: {note}")
    if staged.effects.rows_changed or staged.effects.schema_changes:
        reasons = staged.effects.irreversible
        sections.append(
            "undo after commit: "
            + ("possible" if not reasons else "impossible — " + "; ".join(reasons))
        )
    return sections


# --- goex-db lint ----------------------------------------------------------------------------


MigrationPaths = Annotated[
    list[Path], typer.Argument(help="migration .sql files or directories of them")
]
ReportFormatOption = Annotated[
    ReportFormat, typer.Option("--format", "-f", help="text, json, junit, markdown or sarif")
]
OutputOption = Annotated[
    Path | None, typer.Option("--output", "-o", help="write the report here, not stdout")
]
FailOnOption = Annotated[
    FailOn, typer.Option("--fail-on", help="exit 4 on findings at this level or above")
]


@app.command("lint")
def lint_command(
    paths: MigrationPaths,
    fmt: ReportFormatOption = ReportFormat.TEXT,
    output: OutputOption = None,
    fail_on: FailOnOption = FailOn.ERROR,
    pg_version: Annotated[
        int | None,
        typer.Option("--pg-version", min=9, help="PostgreSQL major version (default: newest)"),
    ] = None,
) -> None:
    """Check migrations statically, without a database. Exit codes: 0 clean at the --fail-on
    level, 4 findings at or above it, 2 usage."""
    config = load_config()
    report = lint(paths, config.lint, server_version=(pg_version, 0) if pg_version else None)
    write_report(report, fmt, output)
    raise typer.Exit(int(exit_code(report, fail_on)))


@app.command("dry-run")
def dry_run_command(
    paths: MigrationPaths,
    dsn: Annotated[
        str | None,
        typer.Option(help="the database to measure against (default: GOEX_DSN, DATABASE_URL)"),
    ] = None,
    clone: Annotated[
        bool, typer.Option("--clone", help="run on a clone, each file committed there")
    ] = False,
    fmt: ReportFormatOption = ReportFormat.TEXT,
    output: OutputOption = None,
    fail_on: FailOnOption = FailOn.ERROR,
) -> None:
    """Run migrations against a database in a transaction that is always rolled back (or on a
    clone that is dropped), measure every statement, and report with the lint findings. Exit
    codes: 0 clean at the --fail-on level, 1 a migration failed to run, 4 findings at or above
    it, 2 usage."""
    config = load_config()
    progress = _clone_progress()
    report = dry_run(paths, parse_dsn(dsn), config, clone=clone, progress=progress)
    write_report(report, fmt, output)
    raise typer.Exit(int(exit_code(report, fail_on)))


def write_report(report: Report, fmt: ReportFormat, output: Path | None) -> None:
    """The report to ``output`` (a file) or stdout, in colour only on a terminal."""
    if output is None:
        color = fmt is ReportFormat.TEXT and sys.stdout.isatty() and not os.environ.get("NO_COLOR")
        sys.stdout.write(render(report, fmt, color=color))
        return
    try:
        output.write_text(render(report, fmt), encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write --output {output}: {exc.strerror}") from None


def main() -> None:
    run_app(app)


if __name__ == "__main__":
    main()
