"""Hypothesis: for random trees and random change sets — files, directories, symlinks, modes,
binary contents, odd names (spaces, newlines, bytes that are not UTF-8) — a commit makes the
real directory exactly the staged one, and undo then restores the original exactly, modes and
symlinks included."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.action import Action, Kind, Status
from core.journal import Journal
from goexfs.apply.commit import commit
from goexfs.backends import CopyStager
from goexfs.project import workspace_for
from goexfs.session import undo
from tests.goexfs.conftest import snapshot

NAMES = st.sampled_from(["a", "b", "sp ace", "nl\nx", "caf\xe9", "bad\udcff", ".hid", "-d"])
FILE_MODES = st.sampled_from([0o644, 0o755, 0o600, 0o444, 0o700])
DIR_MODES = st.sampled_from([0o755, 0o700, 0o555])
TARGETS = st.sampled_from(["a", "../outside", "/etc/passwd", "b/a", "nl\nx", "missing"])
CONTENTS = st.one_of(st.binary(max_size=48), st.text(max_size=48).map(str.encode))
KINDS = st.sampled_from(["file", "dir", "link"])

Spec = tuple[list[str], str, bytes, int, int, str]
SPEC = st.tuples(
    st.lists(NAMES, min_size=1, max_size=3), KINDS, CONTENTS, FILE_MODES, DIR_MODES, TARGETS
)


def make(root: Path, spec: Spec) -> None:
    """Create one entry (and its missing parent directories); skip it where it cannot be."""
    parts, kind, content, file_mode, dir_mode, target = spec
    path = root.joinpath(*parts)
    for parent in reversed(path.relative_to(root).parents):
        where = root / parent
        if where.is_symlink() or (where.exists() and not where.is_dir()):
            return
        if not where.exists():
            where.mkdir()
    if os.path.lexists(path):
        return
    if kind == "file":
        path.write_bytes(content)
        path.chmod(file_mode)
    elif kind == "dir":
        path.mkdir()
        path.chmod(dir_mode)
    else:
        path.symlink_to(target)


def remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def existing(root: Path) -> list[Path]:
    return sorted(
        Path(dirpath) / name
        for dirpath, dirnames, filenames in os.walk(root)
        for name in dirnames + filenames
    )


def mutate(tree: Path, data: st.DataObject) -> None:
    """A random change set, made directly in the staged tree."""
    for _ in range(data.draw(st.integers(1, 6), label="changes")):
        paths = existing(tree)
        op = data.draw(st.sampled_from(["add", "write", "chmod", "delete", "retype"]))
        if op == "add" or not paths:
            make(tree, data.draw(SPEC, label="new"))
            continue
        path = data.draw(st.sampled_from(paths), label="path")
        is_file = path.is_file() and not path.is_symlink()
        if op == "write" and is_file:
            path.write_bytes(data.draw(CONTENTS))
        elif op == "chmod" and not path.is_symlink():
            path.chmod(data.draw(FILE_MODES if is_file else DIR_MODES))
        elif op == "delete":
            remove(path)
        elif op == "retype":
            remove(path)
            spec = data.draw(SPEC, label="retyped")
            make(tree, (list(path.relative_to(tree).parts), *spec[1:]))


@settings(
    max_examples=int(os.environ.get("GOEX_ROUNDTRIP_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(tree=st.lists(SPEC, max_size=12), data=st.data())
def test_commit_then_undo_restores_the_original_exactly(
    tree: list[Spec], data: st.DataObject
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "project"
        root.mkdir()
        for spec in tree:
            make(root, spec)
        original = snapshot(root)
        staged = CopyStager().stage(root, workspace_for(root))
        mutate(staged.view, data)
        changes = staged.changes()
        expected = snapshot(staged.view)
        with Journal(Path(tmp) / "journal.sqlite3") as journal:
            action = Action(Kind.FS, str(root), "random change set")
            action.advance(Status.STAGED)
            journal.save(action)
            commit(staged, changes, journal=journal, action_id=action.id)
            action.advance(Status.COMMITTED)
            journal.save(action)
            assert snapshot(root) == expected
            outcome = undo(root, action.id, journal=journal)
            assert outcome.left == []
            assert snapshot(root) == original
            assert journal.get(action.id).status is Status.UNDONE
            assert journal.pending_intents() == []
