"""Undo: a commit's pre-images put back exactly, refused over later edits unless forced,
journaled as an action of its own linked to the original."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from core.action import Status, Verdict
from core.errors import ConflictError, StateError
from core.journal import Journal
from goexfs.session import Staged, undo
from tests.goexfs.conftest import Runner, decision_for, snapshot

EDIT = (
    "echo changed >> README.md; rm src/old.txt; chmod 700 run.sh; mkdir -p docs/deep; "
    "echo guide > docs/deep/guide.md; rm link-to-readme; ln -s src/app.py link-to-readme; "
    "printf '\\000\\001' > blob.bin; rm -r src && echo now-a-file > src"
)


def committed(run: Staged, journal: Journal) -> Staged:
    assert run.carry_out(decision_for(run, Verdict.COMMIT)) is Status.COMMITTED
    return run


def test_undo_restores_the_before_state_exactly(
    project: Path, run_cmd: Runner, journal: Journal
) -> None:
    before = snapshot(project)
    run = committed(run_cmd(EDIT), journal)
    assert snapshot(project) != before
    outcome = undo(project, run.action.id, journal=journal)
    assert snapshot(project) == before
    assert outcome.left == []
    assert not list(project.glob("**/.goex-*.tmp"))
    # journaled: the undo is its own committed action; the original is undone
    assert journal.get(run.action.id).status is Status.UNDONE
    undo_action = journal.get(outcome.action.id)
    assert undo_action.status is Status.COMMITTED
    assert undo_action.prompt == f"undo {run.action.id}"
    effects = journal.effects(undo_action.id)
    assert effects is not None and effects["undoes"] == run.action.id
    kinds = {c["path"]: c["kind"] for c in effects["changes"]}
    assert kinds["docs"] == "deleted" and kinds["src/old.txt"] == "added"
    assert journal.pending_intents() == []
    # and it cannot be undone twice
    with pytest.raises(StateError, match="is undone; only a committed action"):
        undo(project, run.action.id, journal=journal)


def test_undo_refuses_over_a_later_edit_and_changes_nothing(
    project: Path, run_cmd: Runner, journal: Journal
) -> None:
    run = committed(run_cmd("echo agent > README.md; mkdir new; echo x > new/a"), journal)
    (project / "README.md").write_text("the user's edit\n")
    (project / "new" / "mine.txt").write_text("mine\n")
    now = snapshot(project)
    with pytest.raises(ConflictError, match="undo refused: 2 path") as info:
        undo(project, run.action.id, journal=journal)
    assert info.value.details == [
        "README.md: changed since the commit",
        "new: holds entries the commit did not create (mine.txt)",
    ]
    assert snapshot(project) == now
    assert journal.get(run.action.id).status is Status.COMMITTED
    failed = journal.recent(limit=1)[0]
    assert failed.prompt == f"undo {run.action.id}" and failed.status is Status.FAILED
    assert journal.pending_intents() == []


def test_force_puts_back_what_it_can_and_reports_the_rest(
    project: Path, run_cmd: Runner, journal: Journal
) -> None:
    run = committed(run_cmd("echo agent > README.md; mkdir new; echo x > new/a"), journal)
    (project / "README.md").write_text("the user's edit\n")
    (project / "new" / "mine.txt").write_text("mine\n")
    outcome = undo(project, run.action.id, journal=journal, force=True)
    assert (project / "README.md").read_text() == "# demo\n"
    assert outcome.left == ["new"]
    assert sorted(os.listdir(project / "new")) == ["mine.txt"]  # never someone else's file
    assert journal.get(run.action.id).status is Status.UNDONE


@pytest.mark.parametrize(
    "meddle",
    [
        lambda root: (root / "gone.txt").write_text("back"),
        lambda root: (root / "added.txt").unlink(),
        lambda root: (root / "run.sh").chmod(0o644),
        lambda root: (root / "link-to-readme").unlink() or (root / "link-to-readme").mkdir(),
    ],
)
def test_every_kind_of_later_change_is_a_conflict(
    project: Path, run_cmd: Runner, journal: Journal, meddle: object
) -> None:
    (project / "gone.txt").write_text("to delete\n")
    run = committed(
        run_cmd("rm gone.txt; echo a > added.txt; chmod 700 run.sh; ln -sf src link-to-readme"),
        journal,
    )
    assert callable(meddle)
    meddle(project)
    now = snapshot(project)
    with pytest.raises(ConflictError, match="undo refused"):
        undo(project, run.action.id, journal=journal)
    assert snapshot(project) == now


def test_undo_never_writes_through_a_symlinked_parent(
    project: Path, outside: Path, run_cmd: Runner, journal: Journal
) -> None:
    run = committed(run_cmd("rm src/old.txt"), journal)
    os.rename(project / "src", project / "src-moved")
    (project / "src").symlink_to(outside)
    before = snapshot(outside)
    with pytest.raises(ConflictError, match=r"src/old\.txt: a parent directory is now a symlink"):
        undo(project, run.action.id, journal=journal)
    outcome = undo(project, run.action.id, journal=journal, force=True)
    assert outcome.left == ["src/old.txt"]
    assert snapshot(outside) == before
    assert journal.pending_intents() == []


def test_undo_needs_its_pre_images(project: Path, run_cmd: Runner, journal: Journal) -> None:
    run = committed(run_cmd("echo x > new.txt"), journal)
    assert run.undo_dir is not None
    shutil.rmtree(run.undo_dir)
    with pytest.raises(StateError, match=r"pre-images of action .* are gone"):
        undo(project, run.action.id, journal=journal)
    assert (project / "new.txt").exists()


def test_only_committed_actions_of_this_directory(
    project: Path, tmp_path: Path, run_cmd: Runner, journal: Journal
) -> None:
    run = run_cmd("echo x > new.txt")
    run.carry_out(decision_for(run, Verdict.ROLLBACK))
    with pytest.raises(StateError, match="is rolled_back"):
        undo(project, run.action.id, journal=journal)
    with pytest.raises(StateError, match="did not change"):
        undo(tmp_path, run.action.id, journal=journal)
