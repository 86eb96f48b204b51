"""goex-review's file side (``core.web.sides``): a file action's page — the command, its
output, each changed path with its diff — and the kept actions a person approves (all of them
or some paths) or rejects there."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from core.action import Action, Kind, Verdict
from core.config import load_config
from core.journal import Journal
from core.web.sides import Block, Cell, FileChange, Grid, Section
from goexfs.apply.recover import ensure_nothing_pending
from goexfs.kept import judge_selection
from goexfs.sandbox.allow import network_hint, network_lines
from goexfs.session import Staged, recorded, reopen
from goexfs.tree.diff import binary_summary, change_header, shown_path
from goexfs.tree.effects import Change
from goexfs.tree.groups import set_apart


def side() -> FsSide:
    """The entry point ``goex.review``/``fs``."""
    return FsSide()


class FsSide:
    kind = Kind.FS

    def sections(self, action: Action, recorded: Mapping[str, Any]) -> list[Section]:
        shown: list[Section] = []
        if "exit_status" in recorded:
            output = recorded.get("output") or {}
            shown.append(Grid("command", ("exit status",), [[Cell(str(recorded["exit_status"]))]]))
            shown += [
                Block(name, output[name]) for name in ("stdout", "stderr") if output.get(name)
            ]
        network = recorded.get("network") or []
        if network:
            lines = network_lines(network)
            hint = network_hint(
                int(recorded.get("exit_status", 0)), network, str(output.get("stderr", ""))
            )
            shown.append(
                Block("network, through goex's proxy", "\n".join([*lines, *filter(None, [hint])]))
            )
        if hidden := recorded.get("hidden"):
            shown.append(Block("secret files the command could not read", "\n".join(hidden)))
        if "error" in recorded:
            shown.append(Block("error", str(recorded["error"])))
        changes = [Change.from_json(data) for data in recorded.get("changes", [])]
        apart = set_apart(changes, recorded)
        for change in apart.one_by_one:
            about = change_header(change)[1:]
            if change.binary:
                about.append(binary_summary(change))
            shown.append(
                FileChange(
                    change.path, shown_path(change.path), change.kind.value, about, change.diff
                )
            )
        shown += [Block(title.rstrip(":"), "\n".join(lines)) for title, lines in apart.sections]
        return shown

    def check(self, action: Action, recorded: Mapping[str, Any], paths: Sequence[str]) -> None:
        changes = [Change.from_json(c) for c in recorded.get("changes", [])]
        policy = load_config(Path(action.target)).policy
        judge_selection(changes, list(paths), policy, action.id)

    def reopen(self, journal: Journal, action: Action, verdict: Verdict) -> Staged:
        root = Path(action.target)
        if verdict is not Verdict.COMMIT:  # only found, to throw it away
            return recorded(root, journal, action)
        ensure_nothing_pending(journal, root)
        return reopen(root, journal, action.id)

    def undo_argv(self, action: Action) -> list[str] | None:
        argv = [sys.executable, "-m", "goexfs.cli", "undo", action.id, "-C", action.target]
        return [*argv, "--decide", "person"]
