"""goex-fs: shell commands run sandboxed against a staged copy of a directory, measured, and
committed to the real directory only after review.

The library API under the ``goex-fs`` CLI::

    from goexfs import stage_and_run, finish

See ``goexfs.session`` for the lifecycle and ``goexfs.apply`` for what a commit guarantees.
"""

from goexfs.apply import commit, find_conflicts, undo_dir_for
from goexfs.backends import CopyStager, Staged, Stager, TreeStaged, stager_for
from goexfs.changes import Change, ChangeKind, compare, describe
from goexfs.manifest import Entry, EntryType, Manifest, scan
from goexfs.paths import (
    is_secret_looking,
    match_glob,
    normalize,
    relative_to,
    resolve_within,
)
from goexfs.prompt import ProjectPrompt, build_prompt
from goexfs.rules import RULES
from goexfs.sandbox import SandboxResult, bwrap_argv, run_command
from goexfs.session import FsRun, finish, project_root, stage_and_run

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
    "SandboxResult",
    "Staged",
    "Stager",
    "TreeStaged",
    "build_prompt",
    "bwrap_argv",
    "commit",
    "compare",
    "describe",
    "find_conflicts",
    "finish",
    "is_secret_looking",
    "match_glob",
    "normalize",
    "project_root",
    "relative_to",
    "resolve_within",
    "run_command",
    "scan",
    "stage_and_run",
    "stager_for",
    "undo_dir_for",
]
