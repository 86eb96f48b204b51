"""goex-fs run and undo: stage a file action, show it, have it decided, carry it out."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from core.action import Mode
from core.cli import (
    DecideOption,
    Format,
    FormatOption,
    IdArgument,
    PolicyOption,
    conclude,
    finished,
)
from core.config import Config, FsBackend, Sandbox, load_config
from core.errors import UsageError
from core.llm import Model
from core.redact import Redactor
from core.render import make_console
from core.secrets import SecretStore
from goexfs.apply.recover import ensure_nothing_pending
from goexfs.cli.options import DirOption, journal, root_of
from goexfs.prompt import build_prompt
from goexfs.render import View
from goexfs.session import Staged, stage, stage_undo, undo

UNSANDBOXED_WARNING = (
    "warning: unsandboxed: the command runs unconfined, as you, in the staged copy: it can "
    "change files outside it, read your home and secret files, reach the network and see other "
    "processes; only what it changes inside the copy is measured and reviewed"
)


def run_command(
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
        typer.Option("--backend", help="how to stage: auto, overlay, btrfs, reflink, git, copy"),
    ] = None,
    network: Annotated[
        bool, typer.Option("--network", help="let the sandboxed command reach the network")
    ] = False,
    allow_hosts: Annotated[
        list[str] | None,
        typer.Option(
            "--allow-host",
            metavar="HOST[:PORT]",
            help="let the command reach this host (443 and 80, or PORT) through goex's proxy; "
            "repeatable",
        ),
    ] = None,
    unsandboxed: Annotated[
        bool,
        typer.Option(
            "--unsandboxed", help="run without bubblewrap (unsafe: see the warning it prints)"
        ),
    ] = False,
    exclude_ignored: Annotated[
        bool | None,
        typer.Option(
            "--exclude-ignored/--include-ignored",
            help="leave paths the project's .gitignore ignores out of the commit "
            "(default: [fs] exclude_ignored, off)",
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
    root = root_of(directory)
    config = load_config(
        root,
        overrides={
            "review.decide": decide_mode,
            "fs.timeout": timeout,
            "fs.backend": _backend(backend),
            "fs.network": True if network else None,
            "fs.allow_hosts": tuple(allow_hosts) if allow_hosts else None,
            "fs.sandbox": Sandbox.NONE if unsandboxed else None,
            "fs.exclude_ignored": exclude_ignored,
        },
        policy_file=policy,
    )
    secrets = SecretStore.load()
    redactor = secrets.redactor()
    command = cmd if cmd is not None else _ask_model(root, prompt or "", config, secrets, redactor)
    if config.fs.sandbox is Sandbox.NONE:
        make_console(stderr=True).print(UNSANDBOXED_WARNING, markup=False)
    with journal(root) as log:
        ensure_nothing_pending(log, root)
        staged = stage(
            root,
            command,
            config=config,
            secrets=secrets,
            journal=log,
            prompt=prompt,
            redactor=redactor,
        )
        if fmt is Format.TEXT and staged.staging is not None:
            make_console(stderr=True).print(f"staging: {staged.staging.reason}", markup=False)
        conclude(staged, view(staged), mode=config.review.decide, fmt=fmt, config=config)


def undo_command(
    action_id: IdArgument,
    force: Annotated[
        bool, typer.Option("--force", help="put paths back even if they changed since")
    ] = False,
    directory: DirOption = None,
    decide_mode: Annotated[
        Mode | None,
        typer.Option(
            "--decide",
            help="who decides the undo, as for run (default: you, by asking for it: committed)",
        ),
    ] = None,
    fmt: FormatOption = Format.TEXT,
) -> None:
    """Undo a committed action: restore its pre-images and remove what it added, refused if a
    path changed since the commit (unless --force). The undo is journaled as its own action;
    with --decide it is staged and decided like any action (person: it waits in the queue)."""

    root = root_of(directory)
    redactor = SecretStore.load().redactor()
    with journal(root) as log:
        ensure_nothing_pending(log, root)
        if decide_mode is None:
            staged = undo(root, action_id, journal=log, force=force, redactor=redactor)
            finished(staged.action, view(staged), fmt, redactor)
        config = load_config(root, overrides={"review.decide": decide_mode})
        staged = stage_undo(root, action_id, journal=log, force=force, redactor=redactor)
        conclude(staged, view(staged), mode=config.review.decide, fmt=fmt, config=config)


def _backend(name: str | None) -> FsBackend | None:
    try:
        return None if name is None else FsBackend(name)
    except ValueError:
        names = ", ".join(b.value for b in FsBackend)
        raise UsageError(f"--backend must be one of {names}, not {name!r}") from None


def view(staged: Staged) -> View:
    return View(staged.action, staged.recorded, staged.redactor, staged)


def _ask_model(
    root: Path, request: str, config: Config, secrets: SecretStore, redactor: Redactor
) -> str:
    prompt = build_prompt(root, request, secrets)
    return Model(config.model, redactor).code(prompt.system, prompt.user, "sh").code
