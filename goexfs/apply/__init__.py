"""Carrying a staged result out on the real directory, and putting it back.

* ``safefs`` — filesystem operations that never pass through a symlink or leave the root;
* ``converge`` — bring paths to a ``Wanted`` state from wherever they are (commit, undo and
  recover all use it);
* ``commit`` — the journaled, conflict-checked commit of a staging;
* ``undo`` — restore the pre-images of a commit, with a conflict check (the undo as an action
  is ``goexfs.session.stage_undo``);
* ``recover`` — finish or revert what a crash interrupted;
* ``lock`` — one writer per project; ``faults`` — the crash tests' kill points.

``recover`` is not re-exported here: it resumes kept stagings (``goexfs.backends``, which read
the real root through ``safefs``), so importing it from this ``__init__`` would make
``goexfs.apply`` and ``goexfs.backends`` import each other. Import it from
``goexfs.apply.recover`` (or ``goexfs``).
"""

from goexfs.apply.commit import commit, find_conflicts, undo_dir_for
from goexfs.apply.converge import Wanted, converge
from goexfs.apply.lock import project_lock
from goexfs.apply.undo import UndoRecord, check, load_record, restore

__all__ = [
    "UndoRecord",
    "Wanted",
    "check",
    "commit",
    "converge",
    "find_conflicts",
    "load_record",
    "project_lock",
    "restore",
    "undo_dir_for",
]
