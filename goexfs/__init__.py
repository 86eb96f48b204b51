"""goex-fs: shell commands run sandboxed against a staged copy of a directory, measured, and
committed to the real directory only after review.

The library API under the ``goex-fs`` CLI::

    from goexfs import stage_and_run, finish          # run, then commit / roll back / keep
    from goexfs import load_kept, commit_kept, undo, recover, collect

See ``goexfs.session`` for the lifecycle, ``goexfs.apply`` for what a commit guarantees,
``goexfs.undo`` and ``goexfs.recover`` for putting it back, ``goexfs.gc`` for clean-up.
"""

from goexfs.apply import commit, find_conflicts, undo_dir_for
from goexfs.backends import CopyStager, Staged, Stager, TreeStaged, stager_for
from goexfs.changes import Change, ChangeKind, compare, describe
from goexfs.gc import collect
from goexfs.kept import commit_kept, kept_actions, load_kept, rollback_kept, select
from goexfs.manifest import Entry, EntryType, Manifest, scan
from goexfs.paths import (
    is_secret_looking,
    match_glob,
    normalize,
    relative_to,
    resolve_within,
)
from goexfs.prompt import ProjectPrompt, build_prompt
from goexfs.recover import Recovered, ensure_nothing_pending, recover
from goexfs.restore import Target, converge
from goexfs.rules import RULES
from goexfs.sandbox import SandboxResult, bwrap_argv, run_command
from goexfs.session import FsRun, finish, project_root, stage_and_run
from goexfs.undo import UndoOutcome, undo

__all__ = [
    "RULES",
    "Change",
    "ChangeKind",
    "CopyStager",
    "Entry",
    "EntryType",
    "FsRun",
    "Manifest",
    "ProjectPrompt",
    "Recovered",
    "SandboxResult",
    "Staged",
    "Stager",
    "Target",
    "TreeStaged",
    "UndoOutcome",
    "build_prompt",
    "bwrap_argv",
    "collect",
    "commit",
    "commit_kept",
    "compare",
    "converge",
    "describe",
    "ensure_nothing_pending",
    "find_conflicts",
    "finish",
    "is_secret_looking",
    "kept_actions",
    "load_kept",
    "match_glob",
    "normalize",
    "project_root",
    "recover",
    "relative_to",
    "resolve_within",
    "rollback_kept",
    "run_command",
    "scan",
    "select",
    "stage_and_run",
    "stager_for",
    "undo",
    "undo_dir_for",
]
