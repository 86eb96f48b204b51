"""goex-mcp's file tools (``core.mcp``): an agent's shell command run sandboxed on a staged copy
of the project directory, held behind a handle until the server's decider commits it.

``fs_run`` stages and runs (``goexfs.stage``), ``fs_diff`` shows a staged change in full,
``fs_commit`` asks the decider to apply all of it or some paths, ``fs_rollback`` throws the
staged copy away. Nothing reaches the directory before a commit (invariant 2).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from mcp.server.mcpserver import MCPServer

from core.action import Kind, Status
from core.journal import Journal, default_path
from core.mcp.handles import Handle, Handles
from core.mcp.held import HeldAction
from core.mcp.server import (
    COMMITS,
    ENDS,
    READS,
    STAGES,
    Options,
    as_data,
    journal_actions,
    journal_knows,
    tool_errors,
)
from core.secrets import SecretStore
from goexfs.apply.recover import ensure_nothing_pending
from goexfs.kept import select
from goexfs.project import project_root
from goexfs.render import change_json
from goexfs.session import Staged, stage, stage_undo
from goexfs.tree.diff import diff_text_plain
from goexfs.tree.groups import set_apart

DIFF_CHARS = 8_000  # of the diff shown with fs_run's result (fs_diff shows a path in full)
OUTPUT_CHARS = 4_000  # of each of stdout and stderr
CHANGES_SHOWN = 200  # changed paths listed (the summary counts them all)


def toolset(options: Options, handles: Handles) -> FsToolset | None:
    """The entry point ``goex.mcp``/``fs``: file tools when a directory was given."""
    return None if options.directory is None else FsToolset(options, handles)


class FsToolset:
    def __init__(self, options: Options, handles: Handles) -> None:
        self.options = options
        self.handles = handles
        self.root = project_root(Path(options.directory or "."))
        self.secrets = SecretStore.load()
        self.redactor = self.secrets.redactor()
        self.hint = (
            f"a person runs `goex-fs approve {{id}} -C {self.root}` (optionally with the paths "
            f"to commit) or `goex-fs reject {{id}} -C {self.root} --reason WHY`"
        )

    def register(self, server: MCPServer) -> None:
        server.add_tool(tool_errors(self.fs_run), name="fs_run", annotations=STAGES)
        server.add_tool(tool_errors(self.fs_diff), name="fs_diff", annotations=READS)
        server.add_tool(tool_errors(self.fs_commit), name="fs_commit", annotations=COMMITS)
        server.add_tool(tool_errors(self.fs_rollback), name="fs_rollback", annotations=ENDS)

    async def fs_run(self, command: str) -> dict[str, Any]:
        """Run a shell command in a sandbox against a staged copy of the project: the real
        directory is not changed. Returns a handle, the exit status, output, the changed
        paths, a diff excerpt and policy findings. Then fs_commit or fs_rollback."""
        return await self.handles.start("fs", lambda opened: self._run(opened, command))

    async def fs_diff(self, handle: str, path: str | None = None) -> dict[str, Any]:
        """The staged changes of a handle as a diff: all of them, or those at and under path."""
        return await self.handles.on(handle, "fs", lambda held: self._diff(held, path))

    async def fs_commit(self, handle: str, paths: list[str] | None = None) -> dict[str, Any]:
        """Ask goex's decider (never you) to apply the staged changes to the directory — all,
        or only those at and under ``paths``: the outcome, or 'pending' while a person
        decides (call again later for the outcome)."""
        return await self.handles.commit(handle, "fs", paths or ())

    async def fs_rollback(self, handle: str) -> dict[str, Any]:
        """Throw the staged changes away: the directory stays as it is."""
        return await self.handles.rollback(handle, "fs")

    # -- the common tools' side ------------------------------------------------------------------

    def knows(self, action_id: str) -> bool:
        return journal_knows(default_path(Kind.FS, self.root), action_id, Kind.FS, str(self.root))

    async def undo(self, action_id: str) -> dict[str, Any]:
        return await self.handles.start("fs", lambda opened: self._undo(opened, action_id))

    def actions(self, status: str | None) -> list[dict[str, Any]]:
        path = default_path(Kind.FS, self.root)
        return journal_actions(path, Kind.FS, str(self.root), status, self.redactor)

    # -- on a handle's thread ------------------------------------------------------------------

    def _journal(self) -> Journal:
        journal = Journal(default_path(Kind.FS, self.root))
        try:
            ensure_nothing_pending(journal, self.root)
        except BaseException:
            journal.close()
            raise
        return journal

    def _held(self, handle: Handle, stage: Callable[[Journal], Staged]) -> HeldAction:
        """Stage an action with a journal connection of the handle's, which then holds it."""
        journal = self._journal()
        try:
            staged = stage(journal)
        except BaseException:
            journal.close()
            raise
        work = HeldAction(staged, self.options.decider, journal.close, self.hint)
        handle.work = work
        return work

    def _run(self, handle: Handle, command: str) -> dict[str, Any]:
        work = self._held(
            handle,
            lambda journal: stage(
                self.root,
                command,
                config=self.options.config,
                secrets=self.secrets,
                journal=journal,
                redactor=self.redactor,
            ),
        )
        return self._staged(handle, _staged_files(work))

    def _undo(self, handle: Handle, action_id: str) -> dict[str, Any]:
        work = self._held(
            handle,
            lambda journal: stage_undo(
                self.root, action_id, journal=journal, redactor=self.redactor
            ),
        )
        return {**self._staged(handle, _staged_files(work)), "outcome": work.commit()}

    def _staged(self, handle: Handle, staged: Staged) -> dict[str, Any]:
        recorded = staged.recorded
        apart = set_apart(staged.changes, recorded)  # generated trees and ignored paths aside
        diff = diff_text_plain(apart.one_by_one, self.redactor)
        output = recorded.get("output") or {}
        one_by_one = {c.path for c in apart.one_by_one}
        changes = [c for c in recorded.get("changes", []) if c["path"] in one_by_one]
        return as_data(
            {
                "handle": handle.id,
                "action_id": staged.action.id,
                "status": Status.STAGED.value,
                "exit_status": recorded.get("exit_status"),
                "stdout": str(output.get("stdout", ""))[:OUTPUT_CHARS],
                "stderr": str(output.get("stderr", ""))[:OUTPUT_CHARS],
                "changes": [change_json(c) for c in changes[:CHANGES_SHOWN]],
                "changes_not_shown": max(len(changes) - CHANGES_SHOWN, 0),
                "summary": recorded.get("summary"),
                "diff": diff[:DIFF_CHARS],
                "diff_truncated": len(diff) > DIFF_CHARS,
                "findings": recorded.get("violations", []),
                "hidden": recorded.get("hidden", []),
                "set_apart": [{"title": t, "lines": lines} for t, lines in apart.sections],
                "network": recorded.get("network", []),
                "lease_expires_at": handle.expires_at,
            }
        )

    def _diff(self, handle: Handle, path: str | None) -> dict[str, Any]:
        staged = _staged_files(_work(handle))
        changes = staged.changes if path is None else select(staged.changes, [path])
        return {"handle": handle.id, "diff": diff_text_plain(changes, self.redactor)}


def _work(handle: Handle) -> HeldAction:
    assert isinstance(handle.work, HeldAction)
    return handle.work


def _staged_files(work: HeldAction) -> Staged:
    assert isinstance(work.staged, Staged)
    return work.staged
