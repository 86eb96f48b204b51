"""The library API under ``goex-fs run``: stage, run sandboxed, measure, then finish.

::

    with Journal(default_path(Kind.FS, root)) as journal:
        run = stage_and_run(root, "sed -i s/foo/bar/ app.py", config=config,
                            secrets=secrets, journal=journal)
        decision = review.decide(Mode.POLICY, run.review())
        finish(run, decision, journal)        # commit, roll back, reject or keep staged

Between ``stage_and_run`` and ``finish`` nothing has reached the real directory; an agent
framework can hold a run as long as it likes and look at ``run.changes`` before deciding.
Every step is journaled: the action with its measured effects when staged, the decision, and
the final status.
"""

from __future__ import annotations

import contextlib
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.action import Action, Decision, Kind, Status
from core.config import Config
from core.errors import ConflictError, GoexError, PathError, TargetError
from core.journal import Journal
from core.lifecycle import carry_out, fail, record_staged
from core.policy import Violation, evaluate
from core.redact import Redactor
from core.review import Review
from core.secrets import SecretStore
from goexfs.apply.commit import commit
from goexfs.apply.lock import project_lock
from goexfs.backends import Stager, Staging, stager_for
from goexfs.rules import RULES
from goexfs.sandbox.bwrap import SandboxResult, run_command
from goexfs.tree.effects import Change, summary
from goexfs.tree.paths import INTERNAL_DIR, is_secret_looking

STAGING_DIR = "staged"


@dataclass
class FsRun:
    """One staged and measured action, waiting for its decision."""

    action: Action
    staged: Staging
    result: SandboxResult
    changes: list[Change]
    violations: list[Violation]
    effects: dict[str, Any]
    undo: Path | None = field(default=None)

    def review(self) -> Review:
        return Review(self.action, self.effects, self.violations)


def project_root(directory: Path) -> Path:
    """The project directory, absolute and with symlinks resolved, or TargetError."""
    try:
        root = directory.expanduser().resolve(strict=True)
    except (OSError, RuntimeError):
        raise TargetError(f"directory {directory} does not exist") from None
    if not root.is_dir():
        raise TargetError(f"{directory} is not a directory")
    if root == Path("/"):
        raise TargetError("goex-fs will not stage the whole filesystem; pick a project directory")
    return root


def workspace_for(root: Path) -> Path:
    """``<root>/.goex/staged``: staged copies live with the project (same filesystem)."""
    internal = root / INTERNAL_DIR
    try:
        internal.mkdir(mode=0o700, exist_ok=True)
        info = internal.lstat()
    except OSError as exc:
        raise PathError(f"cannot create {internal}: {exc.strerror}", path=str(internal)) from exc
    if not stat.S_ISDIR(info.st_mode):
        raise PathError(
            f"{internal} is a symlink or a file; goex keeps its state only in a real directory",
            path=str(internal),
        )
    ignore = internal / ".gitignore"
    if not ignore.exists():
        ignore.write_text("*\n", encoding="utf-8")
    return internal / STAGING_DIR


def secret_files(root: Path) -> list[str]:
    """The project's secret-looking regular files, which the sandbox makes unreadable.

    Read from the directory itself by name (no stat, no hashing), since a lazy backend's
    stage-time manifest holds only what a diff has asked for."""
    found: list[str] = []
    stack = [""]
    while stack:
        rel_dir = stack.pop()
        try:
            entries = list(os.scandir(root / rel_dir if rel_dir else root))
        except OSError:
            continue  # unreadable: the command cannot read it either
        for entry in entries:
            rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
            if rel == INTERNAL_DIR:
                continue
            if entry.is_dir(follow_symlinks=False):
                stack.append(rel)
            elif entry.is_file(follow_symlinks=False) and is_secret_looking(rel):
                found.append(rel)
    return sorted(found)


def stage_and_run(
    root: Path,
    command: str,
    *,
    config: Config,
    secrets: SecretStore,
    journal: Journal,
    prompt: str | None = None,
    redactor: Redactor | None = None,
    stager: Stager | None = None,
    bwrap: str | None = None,
) -> FsRun:
    """Stage root, run command against the staged tree, measure and journal the effects."""
    redactor = redactor or secrets.redactor()
    stager = stager or stager_for(config.fs.backend)
    action = Action(kind=Kind.FS, target=str(root), code=command, prompt=prompt)
    staged = stager.stage(root, workspace_for(root))
    try:
        result = run_command(
            command,
            root=root,
            tree=staged.tree,
            mode=config.fs.sandbox,
            timeout=config.fs.timeout,
            secrets=secrets,
            redactor=redactor,
            bwrap=bwrap,
            hidden_files=secret_files(root),
            network=config.fs.network,
        )
        changes = staged.changes()
    except GoexError as exc:
        staged.rollback()
        fail(action, journal, exc, redactor)
        raise
    violations = evaluate(RULES, changes, config.policy)
    try:
        effects = record_staged(
            action,
            {
                "changes": [change.to_json() for change in changes],
                "summary": summary(changes),
                "exit_status": result.exit_status,
                "output": {
                    "stdout": result.stdout,
                    "stderr": result.stderr,
                    "truncated": result.truncated,
                },
                "sandbox": result.sandbox,
                "stage": {
                    "backend": staged.backend,
                    "location": str(staged.location),
                    "reason": staged.reason,
                },
            },
            violations,
            journal,
            redactor,
        )
    except GoexError as exc:
        # Nobody can decide on an action that is not journaled, and its staged copy may be
        # what filled the disk (the journal lives in the project's .goex): free it first.
        staged.rollback()
        with contextlib.suppress(GoexError):
            fail(action, journal, exc, redactor)
        raise
    return FsRun(action, staged, result, changes, violations, effects)


def finish(run: FsRun, decision: Decision, journal: Journal) -> Status:
    """Carry out a decision: commit (apply), roll back or reject (discard), or keep staged."""
    with project_lock(run.staged.root):
        return carry_out(run.action, decision, StagedTree(run, journal), journal)


@dataclass
class StagedTree:
    """A staged tree as the lifecycle's Work: commit applies it, rollback discards it."""

    run: FsRun
    journal: Journal

    def commit(self) -> None:
        run = self.run
        try:
            run.undo = commit(
                run.staged, run.changes, journal=self.journal, action_id=run.action.id
            )
        except ConflictError:
            run.staged.rollback()  # nothing was written; the staged result can never apply now
            raise
        # Any other failure keeps the staged tree and the pre-images, for recovery.
        run.staged.rollback()

    def rollback(self) -> None:
        self.run.staged.rollback()
