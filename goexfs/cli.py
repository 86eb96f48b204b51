"""goex-fs: run an agent's shell command on a staged copy of a directory; commit after review.

Thin by design: parse flags, call ``goexfs.session``, render with ``goexfs.report``. Exit codes
(``core.errors.ExitCode``): 0 committed, 1 error, 2 usage, 3 rolled back, 4 rejected by policy,
5 kept staged.
"""

from __future__ import annotations

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
from core.errors import GoexError, UsageError
from core.journal import Journal, default_path
from core.llm import Model, judge_model
from core.redact import Redactor
from core.render import decision_text, make_console, print_json, render_report
from core.review import Mode, decide
from core.secrets import SecretStore
from goexfs.backends import BACKENDS
from goexfs.prompt import build_prompt
from goexfs.report import diffs, report_json, sections
from goexfs.session import FsRun, finish, project_root, stage_and_run

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
    directory: Annotated[
        Path | None, typer.Option("--dir", help="the project directory (default: current)")
    ] = None,
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
    config = load_config(root, overrides=overrides, policy_file=policy)
    secrets = SecretStore.load()
    redactor = secrets.redactor()
    mode = Mode(config.review.decide)
    judge = judge_model(config, redactor) if mode is Mode.LLM else None
    command = cmd if cmd is not None else _ask_model(root, prompt or "", config, secrets, redactor)
    if config.fs.sandbox == "none":
        make_console(stderr=True).print(
            'warning: [fs] sandbox = "none": the command runs unconfined and can change files '
            "outside the staged copy",
            markup=False,
        )
    with Journal(default_path(Kind.FS, root)) as journal:
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
        return f"kept staged: the changed copy is at {fs_run.staged.tree}; {root} was not changed"
    return f"{status.value}: {root}"


def main() -> None:
    run_app(app)


if __name__ == "__main__":
    main()
