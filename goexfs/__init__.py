"""goex-fs: shell commands run sandboxed against a staged copy of a directory, measured, and
committed to the real directory only after review.

The library API under the ``goex-fs`` CLI::

    import goexfs

    staged = goexfs.stage(root, "sed -i s/foo/bar/ app.py", config=config, secrets=secrets,
                          journal=journal)
    staged.conclude(Mode.POLICY)       # or .commit(), .rollback(), .keep()
    goexfs.reopen(root, journal, action_id).commit(paths=["app.py"])   # a kept one, later

``Staged`` is the lifecycle of ``core.lifecycle``, the same as ``goexdb.Staged``. The
subpackages, by job: ``tree`` (paths, manifests, the measured effects and their text),
``backends`` (staging), ``sandbox`` (running the command), ``apply`` (commit, undo, recover and
the safe filesystem operations under them); ``gc`` cleans up.
"""

from goexfs.apply.recover import Recovered, ensure_nothing_pending, recover
from goexfs.gc import collect
from goexfs.project import project_root
from goexfs.sandbox.bwrap import SandboxResult
from goexfs.session import Staged, reopen, stage, stage_undo, undo
from goexfs.tree.effects import Change, ChangeKind

__all__ = [
    "Change",
    "ChangeKind",
    "Recovered",
    "SandboxResult",
    "Staged",
    "collect",
    "ensure_nothing_pending",
    "project_root",
    "recover",
    "reopen",
    "stage",
    "stage_undo",
    "undo",
]
