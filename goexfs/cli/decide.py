"""goex-fs after staging: the actions kept staged (list, diff, commit, rollback) and decisions
from another process (approve, reject)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from core.action import Action, Kind, Verdict
from core.cli import (
    DigestOption,
    Format,
    FormatOption,
    IdArgument,
    PolicyOption,
    ReasonOption,
    decide_from_elsewhere,
    finished,
    kept_rows,
)
from core.config import load_config
from core.errors import ExitCode
from core.journal import Journal
from core.policy import Violation, needing_person
from core.redact import Redactor
from core.render import make_console, print_json
from core.review import TerminalPrompter
from core.secrets import SecretStore
from goexfs.apply.recover import ensure_nothing_pending
from goexfs.cli.options import DirOption, journal, root_of
from goexfs.cli.run import view
from goexfs.kept import judge_selection
from goexfs.render import View, kept_json, kept_table
from goexfs.session import Staged, kept, recorded, reopen
from goexfs.tree.diff import diff_text_plain, stat_text
from goexfs.tree.effects import Change
from goexfs.tree.paths import relative_to

PathsArgument = Annotated[
    list[str] | None,
    typer.Argument(help="only these paths (and what is under them); the rest is discarded"),
]


def list_command(directory: DirOption = None, fmt: FormatOption = Format.TEXT) -> None:
    """List the actions kept staged (--decide keep), newest first."""
    root = root_of(directory)
    with journal(root) as log:
        rows = kept_rows(log, Kind.FS, str(root))
    redactor = Redactor()
    if fmt is Format.JSON:
        print_json([kept_json(a, e) for a, e in rows], redactor)
    else:
        make_console().print(kept_table(rows, redactor))


def diff_command(
    action_id: IdArgument,
    stat: Annotated[bool, typer.Option("--stat", help="one line per changed path")] = False,
    directory: DirOption = None,
    fmt: FormatOption = Format.TEXT,
) -> None:
    """Show what a kept action changed in its staged copy: a unified diff per text file, a
    summary per binary file, and mode, symlink and type changes."""
    root = root_of(directory)
    redactor = SecretStore.load().redactor()
    with journal(root) as log:
        changes = reopen(root, log, action_id, redactor).changes
        action = log.get(action_id)
    if fmt is Format.JSON:
        print_json({"id": action.id, "changes": [c.to_json() for c in changes]}, redactor)
        return
    text = stat_text(changes, redactor) if stat else diff_text_plain(changes, redactor)
    sys.stdout.write(text)


def commit_command(
    action_id: IdArgument,
    paths: PathsArgument = None,
    directory: DirOption = None,
    policy: PolicyOption = None,
    fmt: FormatOption = Format.TEXT,
) -> None:
    """Commit a kept action to the directory, all of it or only PATHs; policy judges what is
    committed again, and the commit is conflict-checked like any other."""
    root = root_of(directory)
    config = load_config(root, policy_file=policy)
    redactor = SecretStore.load().redactor()
    chosen = _relative(root, paths)
    with journal(root) as log:
        ensure_nothing_pending(log, root)
        staged = reopen(root, log, action_id, redactor)
        selected, violations = judge_selection(
            staged.changes, chosen, config.policy, staged.action.id
        )
        if (person := needing_person(violations)) and not _confirmed(person):
            make_console(stderr=True).print(
                f"kept staged: {'; '.join(v.message for v in person[:3])} needs a person; run "
                f"goex-fs commit {staged.action.id} on a terminal to approve it",
                markup=False,
            )
            raise typer.Exit(int(ExitCode.KEPT_STAGED))
        reason = _reason("goex-fs commit", staged.changes, selected)
        staged.commit(by="user", reason=reason, paths=chosen)
        finished(staged.action, view(staged), fmt, redactor)


def rollback_command(
    action_id: IdArgument, directory: DirOption = None, fmt: FormatOption = Format.TEXT
) -> None:
    """Discard a kept action's staged copy; the directory was never touched."""
    root = root_of(directory)
    with journal(root) as log:
        staged = recorded(root, log, kept(log, root, action_id))
        staged.rollback(by="user", reason="goex-fs rollback")
        finished(staged.action, view(staged), fmt, Redactor())


def approve_command(
    action_id: IdArgument,
    paths: PathsArgument = None,
    digest: DigestOption = None,
    reason: ReasonOption = None,
    directory: DirOption = None,
    policy: PolicyOption = None,
    fmt: FormatOption = Format.TEXT,
) -> None:
    """Approve an action waiting for a person (--decide person, or kept), all of it or only
    PATHs: the process holding it commits it; a kept one is committed here."""
    _decide(action_id, Verdict.COMMIT, paths, digest, reason, directory, policy, fmt)


def reject_command(
    action_id: IdArgument,
    reason: ReasonOption = None,
    digest: DigestOption = None,
    directory: DirOption = None,
    fmt: FormatOption = Format.TEXT,
) -> None:
    """Reject an action waiting for a person: its staged copy is thrown away, the directory
    untouched."""
    _decide(action_id, Verdict.REJECT, None, digest, reason, directory, None, fmt)


def _decide(
    action_id: str,
    verdict: Verdict,
    paths: list[str] | None,
    digest: str | None,
    reason: str | None,
    directory: Path | None,
    policy: Path | None,
    fmt: Format,
) -> None:
    root = root_of(directory)
    config = load_config(root, policy_file=policy)
    redactor = SecretStore.load().redactor()
    chosen = _relative(root, paths)
    with journal(root) as log:
        action = log.get(action_id)
        effects = log.effects(action.id) or {}
        if digest is None and fmt is Format.TEXT:  # decide on what is shown here
            View(action, effects, redactor).report(make_console())
        changes = [Change.from_json(c) for c in effects.get("changes", [])]
        selected = changes
        if verdict is Verdict.COMMIT:
            selected, _ = judge_selection(changes, chosen, config.policy, action.id)
        said = f"goex-fs {'approve' if verdict is Verdict.COMMIT else 'reject'}"
        decide_from_elsewhere(
            log,
            action,
            verdict,
            digest=digest or action.digest or "",
            reason=reason or _reason(said, changes, selected),
            paths=tuple(chosen),
            reopen=lambda a: _reopen_for(root, log, a, verdict, redactor),
            view_of=View,
            fmt=fmt,
            redactor=redactor,
        )


def _reopen_for(
    root: Path, log: Journal, action: Action, verdict: Verdict, redactor: Redactor
) -> Staged:
    """A kept action to carry a decision out on: its staged copy checked again to commit it,
    or only found to throw it away."""
    if verdict is Verdict.COMMIT:
        return reopen(root, log, action.id, redactor)
    return recorded(root, log, action, redactor)


def _relative(root: Path, paths: list[str] | None) -> list[str]:
    return [relative_to(root, Path(p)) for p in paths or ()]


def _reason(said: str, changes: list[Change], selected: list[Change]) -> str:
    """What was decided, naming the paths when only some of the changes are committed."""
    if len(selected) == len(changes):
        return said
    listed = ", ".join(c.path for c in selected[:10]) + (", ..." if len(selected) > 10 else "")
    return f"{said} of {len(selected)} of {len(changes)} changes: {listed}"


def _confirmed(findings: list[Violation]) -> bool:
    prompter = TerminalPrompter()
    if not prompter.interactive():
        return False
    for finding in findings:
        sys.stderr.write(f"needs a person: {finding.message}\n")
    answer = prompter.choose("Commit anyway?", {"c": "commit", "k": "keep staged"})
    return answer == "c"
