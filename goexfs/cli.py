"""goex-fs: run an agent's shell command on a staged copy of a directory; commit after review.

Thin by design: parse flags, call the library (``goexfs.session``, ``kept``, ``undo``,
``recover``, ``gc``), render with ``goexfs.report``. Exit codes (``core.errors.ExitCode``):
0 committed / done, 1 error, 2 usage, 3 rolled back, 4 rejected by policy, 5 kept staged.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from core.action import Kind, Status, Verdict
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
from core.errors import ExitCode, GoexError, PolicyRejected, UsageError
from core.journal import Journal, default_path
from core.llm import Model, judge_model
from core.policy import Violation, blocking, evaluate, needing_person
from core.redact import Redactor
from core.render import decision_text, make_console, print_json, render_report
from core.review import Mode, TerminalPrompter, decide
from core.secrets import SecretStore
from goexfs.apply.recover import ensure_nothing_pending, recover
from goexfs.apply.undo import undo
from goexfs.backends import BACKENDS
from goexfs.gc import collect
from goexfs.kept import commit_kept, kept_actions, load_kept, rollback_kept, select
from goexfs.prompt import build_prompt
from goexfs.report import (
    diff_text_plain,
    diffs,
    kept_json,
    kept_table,
    report_json,
    sections,
    shown_path,
    stat_text,
)
from goexfs.rules import RULES
from goexfs.session import FsRun, finish, project_root, stage_and_run
from goexfs.tree.paths import relative_to

DirOption = Annotated[
    Path | None, typer.Option("--dir", "-C", help="the project directory (default: current)")
]
IdArgument = Annotated[str, typer.Argument(help="an action id, or a unique prefix of one")]

app = new_app(
    "goex-fs",
    "Run an agent's shell command sandboxed against a staged copy of a directory, see what it "
    "changed, then commit, roll back or keep it staged.",
)


@app.command("run")
def run(
    prompt: Annotated[
        str | None, typer.Argument(help="what to do, in words; a model writes the command")
    ] = None,
    cmd: Annotated[
        str | None, typer.Option("--cmd", help="the shell command to run (no model involved)")
    ] = None,
    directory: DirOption = None,
    decide_mode: DecideOption = None,
    policy: PolicyOption = None,
    fmt: FormatOption = Format.TEXT,
    timeout: Annotated[
        float | None, typer.Option("--timeout", help="seconds before the command is killed")
    ] = None,
    backend: Annotated[
        str | None,
        typer.Option(
            "--backend", help="how to stage: auto | overlay | btrfs | reflink | git | copy"
        ),
    ] = None,
    network: Annotated[
        bool, typer.Option("--network", help="let the sandboxed command reach the network")
    ] = False,
    unsandboxed: Annotated[
        bool,
        typer.Option(
            "--unsandboxed", help="run without bubblewrap (unsafe: see the warning it prints)"
        ),
    ] = False,
) -> None:
    """Stage the directory, run the command in a sandbox, show the changes, then decide."""
    if prompt is None and cmd is None:
        raise UsageError("give a PROMPT for the model to turn into a command, or --cmd COMMAND")
    if cmd is not None and not cmd.strip():
        raise UsageError("--cmd is empty; give the shell command to run")
    if timeout is not None and timeout <= 0:
        raise UsageError(f"--timeout must be a positive number of seconds, not {timeout:g}")
    root = project_root(directory or Path.cwd())
    overrides: dict[str, object] = {}
    if decide_mode is not None:
        overrides["review.decide"] = decide_mode.value
    if timeout is not None:
        overrides["fs.timeout"] = timeout
    if backend is not None:
        if backend not in BACKENDS:
            raise UsageError(f"--backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
        overrides["fs.backend"] = backend
    if network:
        overrides["fs.network"] = True
    if unsandboxed:
        overrides["fs.sandbox"] = "none"
    config = load_config(root, overrides=overrides, policy_file=policy)
    secrets = SecretStore.load()
    redactor = secrets.redactor()
    mode = Mode(config.review.decide)
    judge = judge_model(config, redactor) if mode is Mode.LLM else None
    command = cmd if cmd is not None else _ask_model(root, prompt or "", config, secrets, redactor)
    if config.fs.sandbox == "none":
        make_console(stderr=True).print(
            "warning: unsandboxed: the command runs unconfined, as you, in the staged copy: it "
            "can change files outside it, read your home and secret files, reach the network "
            "and see other processes; only what it changes inside the copy is measured and "
            "reviewed",
            markup=False,
        )
    with Journal(default_path(Kind.FS, root)) as journal:
        ensure_nothing_pending(journal, root)
        fs_run = stage_and_run(
            root,
            command,
            config=config,
            secrets=secrets,
            journal=journal,
            prompt=prompt,
            redactor=redactor,
        )
        if fmt is Format.TEXT:
            make_console(stderr=True).print(f"staging: {fs_run.staged.reason}", markup=False)
        status = _review_and_finish(fs_run, mode, judge, journal, redactor, fmt)
    assert fs_run.action.decision is not None
    raise typer.Exit(int(exit_code_for(status, fs_run.action.decision.verdict)))


def _project(directory: str | None) -> str:
    return str(Path(directory or Path.cwd()).resolve())


add_journal_commands(
    app,
    Kind.FS,
    lambda directory: default_path(Kind.FS, Path(_project(directory))),
    "sh",
    _project,
    "--dir",
)


def _ask_model(
    root: Path, request: str, config: Config, secrets: SecretStore, redactor: Redactor
) -> str:
    prompt = build_prompt(root, request, secrets)
    return Model(config.model, redactor).code(prompt.system, prompt.user, "sh").code


def _review_and_finish(
    fs_run: FsRun,
    mode: Mode,
    judge: Model | None,
    journal: Journal,
    redactor: Redactor,
    fmt: Format,
) -> Status:
    console = make_console()
    action = fs_run.action

    def report() -> None:
        render_report(
            console,
            action,
            sections(fs_run, redactor),
            fs_run.violations,
            redactor,
            code_language="sh",
        )

    if mode is Mode.ASK and fmt is Format.TEXT:
        report()  # the person sees everything before being asked
    decision = decide(
        mode,
        fs_run.review(),
        judge=judge,
        show_details=lambda: console.print(diffs(fs_run.changes, redactor)),
    )
    try:
        status = finish(fs_run, decision, journal)
    except GoexError as exc:
        if fmt is Format.JSON:
            print_json({**report_json(fs_run), "error": exc.message}, redactor)
        raise
    if fmt is Format.JSON:
        print_json(report_json(fs_run), redactor)
        return status
    if mode is Mode.ASK:
        console.print(decision_text(action))
    else:
        report()
    console.print(_outcome(fs_run, status), markup=False, highlight=False)
    return status


def _outcome(fs_run: FsRun, status: Status) -> str:
    root = fs_run.staged.root
    n = len(fs_run.changes)
    if status is Status.COMMITTED:
        return f"committed: {n} change(s) applied to {root}; pre-images kept in {fs_run.undo}"
    if status is Status.ROLLED_BACK:
        return f"rolled back: {root} was not changed"
    if status is Status.REJECTED:
        return f"rejected: {root} was not changed"
    decision = fs_run.action.decision
    if status is Status.STAGED and decision is not None and decision.verdict is Verdict.KEEP:
        return (
            f"kept staged ({decision.reason}): {root} was not changed; see it with goex-fs diff "
            f"{fs_run.action.id}, then goex-fs commit or rollback {fs_run.action.id}"
        )
    return f"{status.value}: {root}"


@app.command("list")
def list_command(directory: DirOption = None, fmt: FormatOption = Format.TEXT) -> None:
    """List the actions kept staged (--decide keep), newest first."""
    root = project_root(directory or Path.cwd())
    redactor = Redactor()
    with Journal(default_path(Kind.FS, root)) as journal:
        rows = [(a, journal.effects(a.id) or {}) for a in kept_actions(journal, root)]
    if fmt is Format.JSON:
        print_json([kept_json(a, e) for a, e in rows], redactor)
    else:
        make_console().print(kept_table(rows, redactor))


@app.command("diff")
def diff_command(
    action_id: IdArgument,
    stat: Annotated[bool, typer.Option("--stat", help="one line per changed path")] = False,
    directory: DirOption = None,
    fmt: FormatOption = Format.TEXT,
) -> None:
    """Show what a kept action changed in its staged copy: a unified diff per text file, a
    summary per binary file, and mode, symlink and type changes."""
    root = project_root(directory or Path.cwd())
    redactor = SecretStore.load().redactor()
    with Journal(default_path(Kind.FS, root)) as journal:
        fs_run = load_kept(journal, root, action_id)
    changes = fs_run.changes
    if fmt is Format.JSON:
        print_json({"id": fs_run.action.id, "changes": [c.to_json() for c in changes]}, redactor)
        return
    text = stat_text(changes, redactor) if stat else diff_text_plain(changes, redactor)
    sys.stdout.write(text)


@app.command("commit")
def commit_command(
    action_id: IdArgument,
    paths: Annotated[
        list[str] | None,
        typer.Argument(
            help="commit only these paths (and what is under them); the rest is discarded"
        ),
    ] = None,
    directory: DirOption = None,
    policy: PolicyOption = None,
    fmt: FormatOption = Format.TEXT,
) -> None:
    """Commit a kept action to the directory, all of it or only PATHs; policy judges what is
    committed again, and the commit is conflict-checked like any other."""
    root = project_root(directory or Path.cwd())
    config = load_config(root, policy_file=policy)
    redactor = SecretStore.load().redactor()
    with Journal(default_path(Kind.FS, root)) as journal:
        ensure_nothing_pending(journal, root)
        fs_run = load_kept(journal, root, action_id)
        chosen = fs_run.changes
        if paths:
            chosen = select(fs_run.changes, [relative_to(root, Path(p)) for p in paths])
        violations = evaluate(RULES, chosen, config.policy)
        if errors := blocking(violations):
            raise PolicyRejected(
                f"policy refuses this commit ({'; '.join(v.message for v in errors[:3])}); "
                f"action {fs_run.action.id} stays kept",
                violations=errors,
            )
        if (person := needing_person(violations)) and not _confirmed(person):
            make_console(stderr=True).print(
                f"kept staged: {'; '.join(v.message for v in person[:3])} needs a person; run "
                f"goex-fs commit {fs_run.action.id} on a terminal to approve it",
                markup=False,
            )
            raise typer.Exit(int(ExitCode.KEPT_STAGED))
        status = commit_kept(fs_run, journal, chosen)
    if fmt is Format.JSON:
        print_json(
            {
                "id": fs_run.action.id,
                "status": status.value,
                "changes": [c.path for c in chosen],
                "violations": [v.to_json() for v in violations],
                "undo": str(fs_run.undo),
            },
            redactor,
        )
    else:
        make_console().print(_outcome(fs_run, status), markup=False, highlight=False)
    raise typer.Exit(int(exit_code_for(status)))


def _confirmed(findings: list[Violation]) -> bool:
    prompter = TerminalPrompter()
    if not prompter.interactive():
        return False
    for finding in findings:
        sys.stderr.write(f"needs a person: {finding.message}\n")
    answer = prompter.choose("Commit anyway?", {"c": "commit", "k": "keep staged"})
    return answer == "c"


@app.command("rollback")
def rollback_command(
    action_id: IdArgument, directory: DirOption = None, fmt: FormatOption = Format.TEXT
) -> None:
    """Discard a kept action's staged copy; the directory was never touched."""
    root = project_root(directory or Path.cwd())
    with Journal(default_path(Kind.FS, root)) as journal:
        action = rollback_kept(journal, root, action_id)
    if fmt is Format.JSON:
        print_json({"id": action.id, "status": action.status.value}, Redactor())
    else:
        make_console().print(f"rolled back: {root} was not changed", markup=False)
    raise typer.Exit(int(exit_code_for(action.status)))


@app.command("undo")
def undo_command(
    action_id: IdArgument,
    force: Annotated[
        bool, typer.Option("--force", help="put paths back even if they changed since")
    ] = False,
    directory: DirOption = None,
    fmt: FormatOption = Format.TEXT,
) -> None:
    """Undo a committed action: restore its pre-images and remove what it added, refused if a
    path changed since the commit (unless --force). The undo is journaled as its own action."""
    root = project_root(directory or Path.cwd())
    redactor = SecretStore.load().redactor()
    with Journal(default_path(Kind.FS, root)) as journal:
        ensure_nothing_pending(journal, root)
        outcome = undo(root, action_id, journal=journal, force=force, redactor=redactor)
    if fmt is Format.JSON:
        print_json(
            {
                "id": outcome.action.id,
                "undoes": outcome.original.id,
                "status": outcome.action.status.value,
                "changes": [c.path for c in outcome.changes],
                "left": outcome.left,
            },
            redactor,
        )
    else:
        console = make_console()
        console.print(
            f"undone: action {outcome.original.id} ({len(outcome.changes)} change(s)) reverted "
            f"in {root}, journaled as action {outcome.action.id}",
            markup=False,
            highlight=False,
        )
        for path in outcome.left:
            console.print(f"left as it is: {shown_path(path)}", markup=False)
    raise typer.Exit(int(ExitCode.OK))


@app.command("recover")
def recover_command(directory: DirOption = None, fmt: FormatOption = Format.TEXT) -> None:
    """Finish or revert a commit or undo that a crash interrupted: an undo is finished; a
    commit is finished if its staged copy is intact, else reverted from its pre-images."""
    root = project_root(directory or Path.cwd())
    with Journal(default_path(Kind.FS, root)) as journal:
        results = recover(root, journal)
    if fmt is Format.JSON:
        print_json([r.to_json() for r in results], Redactor())
        return
    console = make_console()
    if not results:
        console.print(f"nothing to recover in {root}", markup=False)
    for result in results:
        console.print(
            f"{result.step} of action {result.action_id}: {result.outcome}; now "
            f"{result.status.value}",
            markup=False,
            highlight=False,
        )
        for path in result.left:
            console.print(f"left as it is: {shown_path(path)}", markup=False)


@app.command("gc")
def gc_command(
    max_age_days: Annotated[
        float | None,
        typer.Option("--max-age-days", help="age budget (default: [fs] gc_max_age_days)"),
    ] = None,
    max_bytes: Annotated[
        int | None, typer.Option("--max-bytes", help="size budget (default: [fs] gc_max_bytes)")
    ] = None,
    directory: DirOption = None,
    fmt: FormatOption = Format.TEXT,
) -> None:
    """Remove staged copies and pre-images goex no longer needs or that are past the age or
    size budget; never those an interrupted commit or a young kept action needs."""
    root = project_root(directory or Path.cwd())
    if max_age_days is not None and max_age_days < 0:
        raise UsageError(f"--max-age-days must not be negative, not {max_age_days:g}")
    if max_bytes is not None and max_bytes < 0:
        raise UsageError(f"--max-bytes must not be negative, not {max_bytes}")
    config = load_config(root)
    with Journal(default_path(Kind.FS, root)) as journal:
        freed = collect(
            root,
            journal,
            max_age_days=config.fs.gc_max_age_days if max_age_days is None else max_age_days,
            max_bytes=config.fs.gc_max_bytes if max_bytes is None else max_bytes,
        )
    total = sum(f.item.size for f in freed)
    if fmt is Format.JSON:
        print_json(
            {"freed_bytes": total, "removed": [f.item.to_json(f.reason) for f in freed]},
            Redactor(),
        )
        return
    console = make_console()
    for f in freed:
        console.print(
            f"removed {f.item.kind} {f.item.path} ({f.item.size} bytes): {f.reason}",
            markup=False,
            highlight=False,
        )
    console.print(f"freed {total} bytes in {len(freed)} item(s)", markup=False, highlight=False)


def main() -> None:
    run_app(app)


if __name__ == "__main__":
    main()
