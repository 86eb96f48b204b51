"""goex-db after staging: the actions kept on a clone (list, diff, commit, rollback), decisions
from another process (approve, reject), and clean-up (gc)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from core.action import Kind, Status, Verdict
from core.cli import (
    DigestOption,
    Format,
    FormatOption,
    IdArgument,
    ReasonOption,
    decide_from_elsewhere,
    finished,
    kept_rows,
)
from core.config import load_config
from core.journal import Journal
from core.policy import Violation, refuse_errors
from core.redact import Redactor
from core.render import make_console, print_json
from goexdb.cli.options import ActionDsnOption, DsnOption, journal
from goexdb.clone import clone_name
from goexdb.dsn import parse_dsn
from goexdb.gc import collect
from goexdb.render import View
from goexdb.session import Session, resolve_target
from goexdb.staged import Staged

GC_SCAN = 100_000  # the most recent actions gc looks at


def list_command(dsn: DsnOption = None, fmt: FormatOption = Format.TEXT) -> None:
    """List the actions kept staged on a clone (--mode clone --decide keep), newest first."""
    with journal() as log:
        target = parse_dsn(dsn).display if dsn else None
        rows = kept_rows(log, Kind.DB, target)
    redactor = Redactor()
    if fmt is Format.JSON:
        print_json(
            [
                {
                    "id": action.id,
                    "target": action.target,
                    "staged_at": action.history[-1][1],
                    "prompt": action.prompt,
                    "sql": action.code,
                    "clone": recorded.get("clone"),
                    "digest": action.digest,
                }
                for action, recorded in rows
            ],
            redactor,
        )
        return
    table = Table(title="kept actions", title_justify="left", show_edge=False)
    for column in ("id", "staged", "target", "clone", "sql"):
        table.add_column(column, overflow="ellipsis", no_wrap=column != "sql")
    for action, recorded in rows:
        table.add_row(
            action.id,
            action.history[-1][1][5:16].replace("T", " "),
            redactor.redact(action.target),
            (recorded.get("clone") or {}).get("name", ""),
            redactor.redact(action.code.strip().splitlines()[0] if action.code.strip() else ""),
        )
    console = make_console()
    console.print(table if rows else "no kept actions")


def diff_command(action_id: IdArgument, fmt: FormatOption = Format.TEXT) -> None:
    """Show what a kept action did on its clone: statements, rows per table, schema, locks."""
    with journal() as log:
        action = log.get(action_id)
        recorded = log.effects(action.id) or {}
    shown = View(action, recorded, Redactor())
    if fmt is Format.JSON:
        print_json(shown.to_json(), Redactor())
    else:
        shown.report(make_console())


def commit_command(
    action_id: IdArgument, dsn: ActionDsnOption = None, fmt: FormatOption = Format.TEXT
) -> None:
    """Commit a kept action: replay it on the database in a held transaction and commit only if
    it does there what it did on the clone (row counts and schema); the clone is dropped."""
    with journal() as log:
        staged = _reopen(log, action_id, dsn)
        refuse_errors(staged.violations, staged.action.id)
        staged.commit(by="user", reason="goex-db commit")
        finished(staged.action, _view(staged), fmt, staged.redactor)


def rollback_command(
    action_id: IdArgument, dsn: ActionDsnOption = None, fmt: FormatOption = Format.TEXT
) -> None:
    """Drop a kept action's clone; the database was never touched."""
    with journal() as log:
        staged = _reopen(log, action_id, dsn)
        staged.rollback(by="user", reason="goex-db rollback")
        finished(staged.action, _view(staged), fmt, staged.redactor)


def approve_command(
    action_id: IdArgument,
    digest: DigestOption = None,
    reason: ReasonOption = None,
    dsn: ActionDsnOption = None,
    fmt: FormatOption = Format.TEXT,
) -> None:
    """Approve an action waiting for a person (--decide person, or kept): the process holding
    it commits it; a kept one is committed here."""
    _decide(action_id, Verdict.COMMIT, digest, reason or "approved with goex-db approve", dsn, fmt)


def reject_command(
    action_id: IdArgument,
    reason: ReasonOption = None,
    digest: DigestOption = None,
    dsn: ActionDsnOption = None,
    fmt: FormatOption = Format.TEXT,
) -> None:
    """Reject an action waiting for a person: it is rolled back, the database untouched."""
    _decide(action_id, Verdict.REJECT, digest, reason or "rejected with goex-db reject", dsn, fmt)


def gc_command(
    dsn: Annotated[
        str | None,
        typer.Option(help="the database whose clones to drop (default: GOEX_DSN, DATABASE_URL)"),
    ] = None,
    fmt: FormatOption = Format.TEXT,
) -> None:
    """Drop the clones a crashed run left behind (named goex_clone_*); a clone a session is
    still connected to, or whose action is not finished (being staged, held or kept), is kept
    and listed."""
    target = parse_dsn(dsn)
    with journal() as log:
        kept = {
            clone_name(action.id)
            for action in log.recent(Kind.DB, GC_SCAN, target.display)
            if action.status in (Status.PROPOSED, Status.STAGED)  # staging, held or kept
        }
    dropped, in_use = collect(target, keep=kept)
    if fmt is Format.JSON:
        print_json({"dropped": dropped, "in_use": in_use}, Redactor())
        return
    console = make_console()
    for name in dropped:
        console.print(f"dropped {name}")
    for name in in_use:
        why = "its action is not finished" if name in kept else "a session is connected to it"
        console.print(f"kept {name}: {why}", style="yellow")
    if not dropped and not in_use:
        console.print("no clones left behind")


def _decide(
    action_id: str,
    verdict: Verdict,
    digest: str | None,
    reason: str,
    dsn: str | None,
    fmt: Format,
) -> None:
    redactor = Redactor()
    with journal() as log:
        action = log.get(action_id)
        recorded = log.effects(action.id) or {}
        if digest is None and fmt is Format.TEXT:  # decide on what is shown here
            View(action, recorded, redactor).report(make_console())
        if verdict is Verdict.COMMIT:
            found = [Violation.from_json(v) for v in recorded.get("violations", [])]
            refuse_errors(found, action.id)
        decide_from_elsewhere(
            log,
            action,
            verdict,
            digest=digest or action.digest or "",
            reason=reason,
            reopen=lambda a: _reopen(log, a.id, dsn),
            view_of=View,
            fmt=fmt,
            redactor=redactor,
        )


def _reopen(log: Journal, action_id: str, dsn: str | None) -> Staged:
    action = log.get(action_id)
    config = load_config()
    session = Session(resolve_target(dsn, action), config.db, config.policy, journal=log)
    return session.reopen(action.id)


def _view(staged: Staged) -> View:
    return View(staged.action, staged.recorded, staged.redactor, staged)
