"""Commit: exactly the reviewed changes, only inside the root, never through a symlink, never
over a path that changed since staging (invariant 2), journaled with pre-images."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from core.action import Status, Verdict
from core.errors import ConflictError, PathError
from core.journal import Journal
from goexfs.apply.commit import commit
from goexfs.backends import TreeStaging
from goexfs.backends.before import RecordedBefore
from goexfs.tree.effects import Change, ChangeKind
from goexfs.tree.manifest import Entry, EntryType
from tests.goexfs.conftest import Runner, decision_for, snapshot

EDIT = (
    "echo changed >> README.md; rm src/old.txt; chmod 700 run.sh; mkdir -p docs/deep; "
    "echo guide > docs/deep/guide.md; rm link-to-readme; ln -s src/app.py link-to-readme; "
    "printf '\\000\\001' > blob.bin"
)


def test_rollback_leaves_the_real_directory_unchanged(
    project: Path, run_cmd: Runner, journal: Journal
) -> None:
    before = snapshot(project)
    run = run_cmd(EDIT)
    assert {c.path: c.kind.value for c in run.changes} == {
        "README.md": "modified",
        "blob.bin": "added",
        "docs": "added",
        "docs/deep": "added",
        "docs/deep/guide.md": "added",
        "link-to-readme": "symlink",
        "run.sh": "mode",
        "src/old.txt": "deleted",
    }
    blob = next(c for c in run.changes if c.path == "blob.bin")
    assert blob.binary and blob.diff == "binary file blob.bin differs"
    assert run.carry_out(decision_for(run, Verdict.ROLLBACK)) is Status.ROLLED_BACK
    assert snapshot(project) == before
    assert not run.staging.location.exists()
    assert journal.get(run.action.id).status is Status.ROLLED_BACK


def test_commit_applies_exactly_the_changes(
    project: Path, run_cmd: Runner, journal: Journal
) -> None:
    run = run_cmd(EDIT)
    expected = snapshot(run.staging.view)
    assert run.carry_out(decision_for(run, Verdict.COMMIT)) is Status.COMMITTED
    assert snapshot(project) == expected
    assert (project / "run.sh").stat().st_mode & 0o777 == 0o700
    assert os.readlink(project / "link-to-readme") == "src/app.py"
    assert not list(project.glob("**/.goex-*.tmp"))
    assert not run.staging.location.exists()
    # journaled: status, a finished intent, pre-images of what was overwritten or removed
    assert journal.get(run.action.id).status is Status.COMMITTED
    assert journal.pending_intents() == []
    _, pointer = journal.undo_data(run.action.id)
    assert pointer is not None and Path(pointer) == run.undo_dir
    record = json.loads((Path(pointer) / "undo.json").read_text())
    assert set(record["preimages"]) == {"README.md", "src/old.txt"}
    assert (Path(pointer) / "files" / "README.md").read_text() == "# demo\n"
    assert (Path(pointer) / "files" / "src" / "old.txt").read_text() == "obsolete\n"


def test_type_changes_commit(project: Path, run_cmd: Runner, journal: Journal) -> None:
    run = run_cmd("rm -r src && echo now-a-file > src && rm README.md && mkdir README.md")
    expected = snapshot(run.staging.view)
    run.carry_out(decision_for(run, Verdict.COMMIT))
    assert snapshot(project) == expected
    assert (project / "src").read_text() == "now-a-file\n"


def test_a_file_replaced_by_a_deep_directory_commits(
    project: Path, run_cmd: Runner, journal: Journal
) -> None:
    """Found by hypothesis: the parents of a/b/c were checked below a path that was a file."""
    run = run_cmd("rm README.md && mkdir -p README.md/a && echo deep > README.md/a/b")
    expected = snapshot(run.staging.view)
    run.carry_out(decision_for(run, Verdict.COMMIT))
    assert snapshot(project) == expected


def test_conflict_refuses_the_commit_and_keeps_the_users_edit(
    project: Path, run_cmd: Runner, journal: Journal
) -> None:
    run = run_cmd("echo agent > README.md; echo new > added.txt")
    (project / "README.md").write_text("the user's edit\n")
    with pytest.raises(ConflictError, match=r"README\.md: changed since staging") as info:
        run.carry_out(decision_for(run, Verdict.COMMIT))
    assert info.value.details == ["README.md: changed since staging"]
    assert (project / "README.md").read_text() == "the user's edit\n"
    assert not (project / "added.txt").exists()  # nothing at all was applied
    assert journal.get(run.action.id).status is Status.FAILED
    assert journal.pending_intents() == []


@pytest.mark.parametrize(
    ("meddle", "reason"),
    [
        (lambda root: (root / "added.txt").write_text("mine"), "created since staging"),
        (lambda root: (root / "src" / "old.txt").unlink(), "deleted since staging"),
        (lambda root: (root / "src" / "old.txt").chmod(0o600), "changed since staging"),
        (lambda root: (root / "src" / "extra.txt").write_text("x"), "has new entries"),
    ],
)
def test_every_kind_of_conflict_is_caught(
    project: Path, run_cmd: Runner, journal: Journal, meddle: Callable[[Path], object], reason: str
) -> None:
    run = run_cmd("echo new > added.txt; rm -r src")
    meddle(project)
    before = snapshot(project)
    with pytest.raises(ConflictError, match=reason):
        run.carry_out(decision_for(run, Verdict.COMMIT))
    assert snapshot(project) == before


def test_commit_never_writes_through_a_parent_symlink(
    project: Path, outside: Path, run_cmd: Runner, journal: Journal
) -> None:
    """The user (or an attacker) swaps a directory for a symlink after staging."""
    run = run_cmd("echo new > src/new.txt")
    os.rename(project / "src", project / "src-moved")
    (project / "src").symlink_to(outside)
    before = snapshot(outside)
    with pytest.raises(ConflictError, match="symlink"):
        run.carry_out(decision_for(run, Verdict.COMMIT))
    assert snapshot(outside) == before


def test_apply_itself_refuses_symlinked_parents(
    project: Path, outside: Path, run_cmd: Runner, journal: Journal
) -> None:
    """Even with a manifest that (wrongly) agrees, the walk refuses the symlink."""
    run = run_cmd("echo new > src/new.txt")
    os.rename(project / "src", project / "src-moved")
    (project / "src").symlink_to(outside)
    manifest = dict(run.staging.manifest)
    manifest.pop("src")
    staged = TreeStaging(
        "copy", project, run.staging.tree, run.staging.location, RecordedBefore(manifest)
    )
    journal.save(run.action)
    with pytest.raises((ConflictError, PathError)):
        commit(staged, run.changes, journal=journal, action_id=run.action.id)
    assert snapshot(outside) == {"precious.txt": ("file", 0o644, b"do not touch\n")}


def test_replacing_a_symlink_with_a_directory_writes_inside_the_root(
    project: Path, outside: Path, run_cmd: Runner, journal: Journal
) -> None:
    (project / "out").symlink_to(outside)
    run = run_cmd("rm out && mkdir out && echo inside > out/file.txt")
    run.carry_out(decision_for(run, Verdict.COMMIT))
    assert (project / "out").is_dir() and not (project / "out").is_symlink()
    assert (project / "out" / "file.txt").read_text() == "inside\n"
    assert sorted(os.listdir(outside)) == ["precious.txt"]


def test_committed_symlink_is_created_not_followed(
    project: Path, outside: Path, run_cmd: Runner, journal: Journal
) -> None:
    run = run_cmd(f"ln -s {outside}/precious.txt shortcut")
    run.carry_out(decision_for(run, Verdict.COMMIT))
    assert os.readlink(project / "shortcut") == f"{outside}/precious.txt"
    assert (outside / "precious.txt").read_text() == "do not touch\n"


def test_staged_tree_changed_after_review_is_refused(
    project: Path, run_cmd: Runner, journal: Journal
) -> None:
    run = run_cmd("echo reviewed > new.txt")
    (run.staging.view / "new.txt").write_text("swapped after review\n")
    with pytest.raises(ConflictError, match="changed after it was reviewed"):
        run.carry_out(decision_for(run, Verdict.COMMIT))
    assert not (project / "new.txt").exists()


def test_goex_state_and_bad_paths_are_never_committed(
    project: Path, run_cmd: Runner, journal: Journal
) -> None:
    run = run_cmd("true")
    journal.save(run.action)
    file = Entry(EntryType.FILE, 0o644, size=1, sha256="x")
    for path, message in (
        (".goex/journal.sqlite3", "goex's own"),
        ("a/../b", "leaves the project"),
    ):
        change = Change(path, ChangeKind.ADDED, None, file)
        with pytest.raises(PathError, match=message):
            commit(run.staging, [change], journal=journal, action_id=run.action.id)


def test_keep_leaves_the_staged_copy(project: Path, run_cmd: Runner, journal: Journal) -> None:
    before = snapshot(project)
    run = run_cmd("echo later > later.txt")
    assert run.carry_out(decision_for(run, Verdict.KEEP)) is Status.STAGED
    assert (run.staging.view / "later.txt").read_text() == "later\n"
    assert (run.staging.location / "manifest.json").is_file()
    assert snapshot(project) == before
    run.staging.rollback()
