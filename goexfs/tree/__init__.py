"""A project tree as data: paths, what is at them, and what an action changed.

* ``paths`` — pure path logic: normalisation, containment in a root, deny globs;
* ``manifest`` — one ``Entry`` per path, read with ``lstat``;
* ``effects`` — the measured effects of a file action: one ``Change`` per path, with its diff
  (as ``goexdb.effects`` is for SQL).

Nothing here imports the rest of goexfs.
"""

from goexfs.tree.effects import Change, ChangeKind, compare, describe, summary
from goexfs.tree.manifest import Entry, EntryType, Manifest, scan
from goexfs.tree.paths import (
    is_secret_looking,
    match_glob,
    normalize,
    relative_to,
    resolve_within,
)

__all__ = [
    "Change",
    "ChangeKind",
    "Entry",
    "EntryType",
    "Manifest",
    "compare",
    "describe",
    "is_secret_looking",
    "match_glob",
    "normalize",
    "relative_to",
    "resolve_within",
    "scan",
    "summary",
]
