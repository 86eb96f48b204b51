"""goex-fs: shell commands run sandboxed against a staged copy of a directory, measured, and
committed to the real directory only after review.

The library API under the ``goex-fs`` CLI::

    from goexfs import stage_and_run, finish          # run, then commit / roll back / keep
    from goexfs import load_kept, commit_kept, undo, recover, collect

See ``goexfs.session`` for the lifecycle, ``goexfs.apply.commit`` for what a commit
guarantees, ``goexfs.apply.undo`` and ``goexfs.apply.recover`` for putting it back,
``goexfs.gc`` for clean-up. The subpackages, by job: ``tree`` (paths, manifests, the measured
effects), ``backends`` (staging), ``sandbox`` (running the command), ``apply`` (commit, undo,
recover and the safe filesystem operations under them).
"""

from goexfs.apply.commit import commit, find_conflicts, undo_dir_for
from goexfs.apply.converge import Wanted, converge
from goexfs.apply.recover import Recovered, ensure_nothing_pending, recover
from goexfs.apply.undo import UndoOutcome, undo
from goexfs.backends import CopyStager, Stager, Staging, TreeStaging, stager_for
from goexfs.gc import collect
from goexfs.kept import commit_kept, kept_actions, load_kept, rollback_kept, select
from goexfs.prompt import ProjectPrompt, build_prompt
from goexfs.rules import RULES
from goexfs.sandbox.bwrap import SandboxResult, bwrap_argv, run_command
from goexfs.session import FsRun, finish, project_root, stage_and_run
from goexfs.tree.effects import Change, ChangeKind, compare, describe
from goexfs.tree.manifest import Entry, EntryType, Manifest, scan
from goexfs.tree.paths import (
    is_secret_looking,
    match_glob,
    normalize,
    relative_to,
    resolve_within,
)

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
    "Stager",
    "Staging",
    "TreeStaging",
    "UndoOutcome",
    "Wanted",
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
