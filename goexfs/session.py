"""The library API of goex-fs: a shell command staged, run sandboxed and measured as an action.

::

    with Journal(default_path(Kind.FS, root)) as journal:
        staged = stage(root, "sed -i s/foo/bar/ app.py", config=config, secrets=secrets,
                       journal=journal)
        print(staged.changes, staged.violations)
        staged.conclude(Mode.POLICY)     # or staged.commit(), .rollback(), .keep()

Until a commit nothing reaches the real directory; an agent framework can hold a staged action
as long as it likes. ``Staged`` is the lifecycle of ``core.lifecycle``: every step is journaled,
a kept action is picked up again by ``reopen`` in any process, and ``stage_undo`` stages the
undo of a commit, decided like any action.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from core import lifecycle
from core.action import Action, Decision, Kind, Status, Verdict
from core.config import Config
from core.errors import ConflictError, GoexError, StateError
from core.journal import Journal
from core.policy import Violation, evaluate
from core.redact import Redactor
from core.review import Review
from core.secrets import SecretStore
from goexfs.apply.commit import change_record, check_directory, commit
from goexfs.apply.lock import project_lock
from goexfs.apply.undo import UndoRecord, check, load_record, restore
from goexfs.backends import Stager, Staging, resume, rollback_staging, stager_for
from goexfs.kept import identities, select
from goexfs.project import secret_files, workspace_for
from goexfs.rules import COMMAND_RULES, RULES
from goexfs.sandbox.allow import AllowedHost
from goexfs.sandbox.bwrap import SandboxResult, run_command
from goexfs.tree.effects import Change, summary
from goexfs.tree.groups import generated, ignored, set_apart, without_ignored
from goexfs.tree.paths import SecretPaths


class Staged(lifecycle.Staged):
    """A journaled file action: a staged copy changed by a sandboxed command (or, for an undo,
    the pre-images of a commit to put back), awaiting its decision."""

    kind = Kind.FS

    def __init__(self, action: Action, journal: Journal, redactor: Redactor, root: Path) -> None:
        super().__init__(action, journal, redactor)
        self.root = root
        self.staging: Staging | None = None
        self.location: Path | None = None  # where the staged copy lives, resumed or not
        self.result: SandboxResult | None = None
        self.changes: list[Change] = []
        self.undo_dir: Path | None = None  # the commit's pre-images, once committed
        self.restoring: UndoRecord | None = (
            None  # an undo: the commit whose pre-images it puts back
        )
        self.force = False
        self.left: list[str] = []  # paths an undo --force left as they were

    @property
    def can_keep(self) -> bool:
        return self.staging is not None

    @property
    def unchanged(self) -> str:
        return f"{self.root} was not changed"

    def commit(
        self,
        *,
        by: str = "caller",
        reason: str = "committed by the caller",
        paths: Sequence[str] = (),
    ) -> Status:
        """Commit all of it, or only the changes at ``paths`` and under them (and the new
        directories they need); the rest of the staged copy is then thrown away."""
        return self.carry_out(Decision(by, Verdict.COMMIT, reason, self.digest, paths=tuple(paths)))

    @property
    def takes_paths(self) -> bool:
        return True

    def _exclusive(self) -> AbstractContextManager[None]:
        return project_lock(self.root)

    def review(self) -> Review:
        """What a reviewer is given: a judge model reads the changes as the review shows them,
        generated trees and ignored paths set apart (each still journaled and policy-checked)."""
        apart = set_apart(self.changes, self.recorded)
        if not apart.sections:
            return super().review()
        shown = {c.path for c in apart.one_by_one}
        effects = {
            **self.recorded,
            "changes": [c for c in self.recorded.get("changes", []) if c["path"] in shown],
            "set_apart": [{"title": t, "lines": lines} for t, lines in apart.sections],
        }
        return Review(self.action, effects, self.violations)

    def _commit_intent(self, decision: Decision) -> dict[str, Any]:
        return {"paths": list(decision.paths)} if decision.paths else {}

    def _commit_work(self, decision: Decision) -> None:
        if self.restoring is not None:
            self.left = restore(
                self.restoring, journal=self.journal, action_id=self.action.id, force=self.force
            )
            return
        staging = self.staging
        if staging is None:
            raise StateError(f"action {self.action.id} has no staged copy to commit")
        if decision.paths:
            self.changes = select(self.changes, decision.paths)
        if left_out := self.recorded.get("left_out"):  # --exclude-ignored
            self.changes = without_ignored(self.changes, set(left_out))
        try:
            self.undo_dir = commit(
                staging, self.changes, journal=self.journal, action_id=self.action.id
            )
        except ConflictError:
            staging.rollback()  # nothing was written; the staged result can never apply now
            raise
        # Any other failure keeps the staged tree and the pre-images, for recovery.

    def _after_commit(self) -> None:
        if self.staging is not None:
            self.staging.rollback()  # committed: the staged copy has served

    def _rollback_work(self) -> None:
        if self.staging is not None:
            self.staging.rollback()
        else:
            rollback_staging(self.location)


def stage(
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
) -> Staged:
    """Stage root, run the command against the staged copy in the sandbox, measure what it
    changed and journal it all; nothing reaches root until a commit."""
    redactor = redactor or secrets.redactor()
    for host in config.fs.allow_hosts:
        AllowedHost.parse(host)  # a bad one is refused before anything is staged
    staged = Staged(
        Action(kind=Kind.FS, target=str(root), code=command, prompt=prompt),
        journal,
        redactor,
        root,
    )
    with staged.being_staged():
        staging = staged.staging = (stager or stager_for(config.fs.backend)).stage(
            root, workspace_for(root)
        )
        staged.location = staging.location
        secret = SecretPaths(config.fs.secret_paths, config.fs.not_secret)
        hidden = secret_files(root, secret)
        staged.result = result = run_command(
            command,
            root=root,
            tree=staging.tree,
            mode=config.fs.sandbox,
            timeout=config.fs.timeout,
            secrets=secrets,
            redactor=redactor,
            bwrap=bwrap,
            hidden_files=hidden,
            network=config.fs.network,
            allow_hosts=config.fs.allow_hosts,
            read_paths=config.fs.read_paths,
            enter=staging.enter,
        )
        staged.changes = changes = staging.changes(secret)
        ignored_paths = ignored(root, changes)
        if ignored_paths is None and config.fs.exclude_ignored:
            raise GoexError("cannot tell which paths .gitignore ignores: git check-ignore failed")
        ignored_paths = ignored_paths or set()
        left_out: set[str] = set()
        if config.fs.exclude_ignored:
            left_out = ignored_paths - {c.path for c in without_ignored(changes, ignored_paths)}
        staged.record(
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
                "network": result.network,  # every host asked for, through goex's proxy
                "hidden": hidden,  # the secret files the command could not read
                "generated": [group.to_json() for group in generated(changes, root, staging.view)],
                "ignored": sorted(ignored_paths),  # by the directory's .gitignore files
                "left_out": sorted(left_out),  # of the commit (--exclude-ignored)
                "stage": {
                    "backend": staging.backend,
                    "location": str(staging.location),
                    "reason": staging.reason,
                },
            },
            evaluate(RULES, changes, config.policy)
            + evaluate(COMMAND_RULES, result.exit_status, config.policy),
        )
    return staged


def stage_undo(
    root: Path,
    original_id: str,
    *,
    journal: Journal,
    force: bool = False,
    redactor: Redactor | None = None,
) -> Staged:
    """Stage the undo of a committed action on root: the changes that put back its pre-images
    and remove what it added, refused (ConflictError) if a path changed since the commit,
    unless ``force`` (``goexfs.apply.undo``)."""
    original = journal.get(original_id)
    if original.kind is not Kind.FS or original.target != str(root):
        raise StateError(f"action {original.id} did not change {root}")
    if original.status is not Status.COMMITTED:
        raise StateError(
            f"action {original.id} is {original.status.value}; only a committed action can be "
            "undone"
        )
    record = load_record(root, original.id)
    flag = " --force" if force else ""
    staged = Staged(
        Action(
            kind=Kind.FS,
            target=str(root),
            code=f"goex-fs undo {original.id}{flag}",
            prompt=f"undo {original.id}",
        ),
        journal,
        redactor or Redactor(),
        root,
    )
    staged.undoes, staged.restoring, staged.force = original, record, force
    staged.changes = record.reversed_changes()
    with staged.being_staged():
        check(record, force=force)
        staged.record(
            {
                "undoes": original.id,
                "force": force,
                "changes": [change_record(c) for c in staged.changes],
                "summary": summary(staged.changes),
            },
            [],
        )
    return staged


def undo(
    root: Path,
    original_id: str,
    *,
    journal: Journal,
    force: bool = False,
    redactor: Redactor | None = None,
) -> Staged:
    """Undo a committed action now, decided by the person who asked for it."""
    staged = stage_undo(root, original_id, journal=journal, force=force, redactor=redactor)
    staged.commit(by="user", reason="goex-fs undo" + (" --force" if force else ""))
    return staged


def recorded(
    root: Path, journal: Journal, action: Action, redactor: Redactor | None = None
) -> Staged:
    """A staged action as the journal recorded it: effects, findings, where its copy lives —
    enough to roll it back; ``reopen`` also picks the staged copy up again."""
    effects = journal.effects(action.id) or {}
    staged = Staged(action, journal, redactor or Redactor(), root)
    staged.reopened = journal.waiting_for(action.id) is not None
    staged.recorded = effects
    staged.violations = [Violation.from_json(v) for v in effects.get("violations", [])]
    staged.changes = [Change.from_json(c) for c in effects.get("changes", [])]
    location = (effects.get("stage") or {}).get("location")
    staged.location = Path(location) if location else None
    staged.result = SandboxResult.journaled(effects)
    return staged


def kept(journal: Journal, root: Path, action_id: str) -> Action:
    """The action ``action_id`` on root, which must be kept staged."""
    action = journal.get(action_id)
    if action.kind is not Kind.FS or action.target != str(root):
        raise StateError(f"action {action.id} did not stage {root}")
    waiting = journal.waiting_for(action.id)
    if waiting is None or not waiting.kept:
        raise StateError(
            f"action {action.id} is {action.status.value}, not kept staged; `goex-fs list` "
            "shows the ones that are"
        )
    return action


def reopen(
    root: Path, journal: Journal, action_id: str, redactor: Redactor | None = None
) -> Staged:
    """A kept action with its staged copy, measured again and refused (ConflictError) unless it
    still shows exactly the changes that were reviewed (invariant 5)."""
    staged = recorded(root, journal, kept(journal, root, action_id), redactor)
    if staged.location is None:
        raise StateError(f"action {staged.action.id} has no staged copy recorded")
    staging = resume(staged.location)
    check_directory(staging, staged.changes)  # the directory's side first, on every backend
    changes = staging.changes()
    if not _same(changes, staged.recorded.get("changes", [])):
        raise ConflictError(
            f"the staged copy of action {staged.action.id} no longer holds what was reviewed; "
            "roll it back with goex-fs rollback",
        )
    staged.staging, staged.changes = staging, changes
    return staged


def _same(changes: Iterable[Change], journaled: Iterable[Mapping[str, Any]]) -> bool:
    return identities(c.to_json() for c in changes) == identities(journaled)
