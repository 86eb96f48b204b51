"""The staging backends' contract: the same tests, run on every backend (overlay, btrfs,
reflink, git, copy), each on a filesystem where it really works — btrfs and reflink on a
loop-mounted btrfs image, the others on the test's temporary directory.

With GOEX_REQUIRE_ALL=1 a backend that cannot run here fails its tests instead of skipping.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.action import Kind, Status, Verdict
from core.errors import ConfigError, ConflictError
from core.journal import Journal, default_path
from core.secrets import SecretStore
from goexfs.apply.commit import commit
from goexfs.backends import (
    AutoStager,
    BackendUnavailable,
    CopyStager,
    Staging,
    TreeStaging,
    overlay,
    resume,
    stager_for,
    unavailable,
)
from goexfs.backends import before as before_module
from goexfs.backends.before import LookupBefore, stage_mark, unknown_entry
from goexfs.backends.overlay import OverlayStaging
from goexfs.backends.watch import OVERFLOW_LOGGER
from goexfs.project import workspace_for
from goexfs.sandbox.bwrap import run_command
from goexfs.session import reopen
from goexfs.tree.effects import ChangeKind
from goexfs.tree.manifest import EntryType
from tests.goexfs.conftest import Runner, decision_for, snapshot
from tests.goexfs.test_cli import goex_fs
from tests.support import require

BACKENDS = ("overlay", "btrfs", "reflink", "git", "copy")
ON_BTRFS = ("btrfs", "reflink")
RECORDED = ("reflink", "git", "copy")  # btrfs asks btrfs send instead

ODD = "sp ace\nnew-line \udcff.txt"  # a space, a newline and a byte that is not UTF-8
BACKSLASH = "back\\slash\ttab=x"


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def place(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    """A fresh directory on a filesystem where the backend works."""
    if backend not in ON_BTRFS:
        return tmp_path
    mount: Path = request.getfixturevalue("btrfs_mount")
    path = mount / uuid.uuid4().hex
    path.mkdir()
    return path


@pytest.fixture
def project(backend: str, place: Path) -> Iterator[Path]:
    """The usual small project (see conftest), as a btrfs subvolume for the btrfs backend."""
    root = place / "project"
    if backend == "btrfs":
        subprocess.run(["btrfs", "subvolume", "create", str(root)], check=True, capture_output=True)
    else:
        root.mkdir()
    (root / "src").mkdir()
    (root / "README.md").write_text("# demo\n")
    (root / "src" / "app.py").write_text("print('hello')\n")
    (root / "src" / "old.txt").write_text("obsolete\n")
    (root / "run.sh").write_text("#!/bin/sh\necho run\n")
    (root / "run.sh").chmod(0o755)
    (root / "link-to-readme").symlink_to("README.md")
    (root / "private.txt").write_text("mine\n")
    (root / "private.txt").chmod(0o600)
    (root / "empty").mkdir()
    reason = unavailable(backend, root)
    require(reason is None, f"the {backend} backend cannot run here: {reason}")
    yield root
    shutil.rmtree(root)  # nested subvolumes (.goex/staged, .goex/git) and all, as root may


@pytest.fixture
def run_on(backend: str, run_cmd: Runner) -> Runner:
    """Stage with this backend and run a command in bubblewrap (conftest's runner)."""

    def run(command: str) -> object:
        return run_cmd(command, stager=stager_for(backend))

    return run  # type: ignore[return-value]


def kinds(changes: object) -> dict[str, str]:
    return {c.path: c.kind.value for c in changes}  # type: ignore[attr-defined]


def mounts_under(path: Path) -> list[str]:
    with open("/proc/self/mountinfo", encoding="utf-8") as handle:
        return [line for line in handle if str(path) in line]


def stage(backend: str, root: Path) -> Staging:
    return stager_for(backend).stage(root, workspace_for(root))


def sandboxed(staged: Staging, command: str, bwrap: str) -> None:
    secrets = SecretStore.load()
    run_command(
        command,
        root=staged.root,
        tree=staged.tree,
        mode="bwrap",
        timeout=60,
        secrets=secrets,
        redactor=secrets.redactor(),
        bwrap=bwrap,
        enter=staged.enter,
    )


def test_staged_tree_is_the_project_and_hides_goex(backend: str, project: Path) -> None:
    (project / ".goex").mkdir()
    (project / ".goex" / "secret-state").write_text("journal")
    os.utime(project / "README.md", ns=(1_000_000_000, 1_000_000_000))
    staged = stage(backend, project)
    try:
        assert staged.backend == backend
        assert snapshot(staged.view) == snapshot(project)
        assert not os.path.lexists(staged.view / ".goex")
        assert (staged.view / "link-to-readme").is_symlink()
        assert staged.changes() == []
        assert (staged.location / "manifest.json").is_file()
    finally:
        staged.rollback()
    assert not staged.location.exists()
    assert mounts_under(staged.location) == []


EDIT = (
    "echo changed >> README.md; rm src/old.txt; chmod 700 run.sh; chmod 711 src; "
    "mkdir -p docs/deep; echo guide > docs/deep/guide.md; mkdir void; rmdir empty; "
    "mv src/app.py src/main.py; mv docs manual; rm link-to-readme; "
    "ln -s src/main.py link-to-readme; ln -s {outside}/precious.txt out-link; "
    "printf '\\000\\001\\377' > blob.bin; printf odd > \"$(printf 'sp ace\\nnew-line \\377.txt')\""
)


def test_every_kind_of_change_is_measured_and_committed_exactly(
    project: Path, outside: Path, run_on: Runner, journal: Journal
) -> None:
    run = run_on(EDIT.format(outside=outside))
    assert run.result.exit_status == 0, run.result.stderr
    assert kinds(run.changes) == {
        "README.md": "modified",
        "blob.bin": "added",
        "empty": "deleted",
        "link-to-readme": "symlink",
        "manual": "added",
        "manual/deep": "added",
        "manual/deep/guide.md": "added",
        "out-link": "added",
        "run.sh": "mode",
        "src": "mode",
        "src/app.py": "deleted",
        "src/main.py": "added",
        "src/old.txt": "deleted",
        "void": "added",
        ODD: "added",
    }
    blob = next(c for c in run.changes if c.path == "blob.bin")
    assert blob.binary
    expected = snapshot(run.staging.view)
    assert run.carry_out(decision_for(run, Verdict.COMMIT)) is Status.COMMITTED
    assert snapshot(project) == expected
    assert os.readlink(project / "out-link") == f"{outside}/precious.txt"
    assert snapshot(outside) == {"precious.txt": ("file", 0o644, b"do not touch\n")}
    assert not run.staging.location.exists()


def test_rollback_changes_nothing_and_leaves_nothing_behind(
    project: Path, run_on: Runner, journal: Journal
) -> None:
    before = snapshot(project)
    run = run_on("rm -rf src; echo x > README.md; chmod 000 run.sh")
    assert run.carry_out(decision_for(run, Verdict.ROLLBACK)) is Status.ROLLED_BACK
    assert snapshot(project) == before
    assert not run.staging.location.exists()
    assert mounts_under(run.staging.location) == []
    assert os.listdir(project / ".goex" / "staged") == []


def test_escape_attempts_change_nothing_outside(
    project: Path, outside: Path, run_on: Runner, journal: Journal
) -> None:
    (project / "door").symlink_to(outside)
    try:
        os.link(outside / "precious.txt", project / "hardlink.txt")
    except OSError as exc:  # btrfs: no hard link reaches across subvolumes
        assert exc.errno == errno.EXDEV
        (project / "hardlink.txt").write_text("do not touch\n")
    before = snapshot(outside)
    run = run_on(
        f"echo x > /etc/goex-escape; echo x > ../escape.txt; echo x > {outside}/new.txt; "
        f"echo x >> {outside}/precious.txt; echo x >> door/precious.txt; echo x > door/via.txt; "
        f"ln {outside}/precious.txt stolen; echo pwned >> hardlink.txt; true"
    )
    assert kinds(run.changes) == {"hardlink.txt": "modified"}
    run.carry_out(decision_for(run, Verdict.COMMIT))
    assert (project / "hardlink.txt").read_text() == "do not touch\npwned\n"
    assert snapshot(outside) == before
    assert not Path("/etc/goex-escape").exists()
    assert not (project.parent / "escape.txt").exists()


def test_network_is_unreachable(run_on: Runner) -> None:
    run = run_on("cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d ' '")
    assert run.result.stdout.split() == ["lo"]


def test_real_edit_during_staging_refuses_the_commit(
    project: Path, run_on: Runner, journal: Journal
) -> None:
    run = run_on("echo agent >> README.md; echo new > new.txt; echo y >> src/app.py")
    (project / "README.md").write_text("# the user's edit\n")
    (project / "src" / "app.py").write_text("print('user')\n")  # a file the action did not touch
    with pytest.raises(ConflictError, match=r"README\.md"):
        run.carry_out(decision_for(run, Verdict.COMMIT))
    assert (project / "README.md").read_text() == "# the user's edit\n"
    assert not (project / "new.txt").exists()


def test_real_edit_seen_by_the_action_still_refuses(
    backend: str, project: Path, bwrap: str, journal: Journal, run_cmd: Runner
) -> None:
    """The user edits a file after staging and before the action writes it (an overlay shows
    the edit through): its stage-time identity is unknown, so the commit refuses."""
    staged = stage(backend, project)
    try:
        (project / "README.md").write_text("# edited during staging\n")
        sandboxed(staged, "echo agent >> README.md", bwrap)
        changes = staged.changes()
        assert kinds(changes) == {"README.md": "modified"}
        run = run_cmd("true")  # only for an action id in the journal
        with pytest.raises(ConflictError, match=r"README\.md"):
            commit(staged, changes, journal=journal, action_id=run.action.id)
        assert (project / "README.md").read_text() == "# edited during staging\n"
    finally:
        staged.rollback()


def test_unrelated_real_edit_is_kept(project: Path, run_on: Runner, journal: Journal) -> None:
    run = run_on("echo agent > agent.txt")
    (project / "src" / "app.py").write_text("print('user')\n")
    assert run.carry_out(decision_for(run, Verdict.COMMIT)) is Status.COMMITTED
    assert (project / "agent.txt").read_text() == "agent\n"
    assert (project / "src" / "app.py").read_text() == "print('user')\n"


def test_kept_staging_resumes_and_commits_from_a_fresh_process(
    project: Path, run_on: Runner, journal: Journal, tmp_path: Path
) -> None:
    run = run_on("echo later > later.txt; rm src/old.txt; chmod 644 run.sh")
    assert run.carry_out(decision_for(run, Verdict.KEEP)) is Status.STAGED
    expected = snapshot(run.staging.view)
    script = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from core.journal import Journal, default_path\n"
        "from goexfs.apply.commit import commit\n"
        "from goexfs.backends import resume\n"
        "staged = resume(Path(sys.argv[1]))\n"
        "changes = staged.changes()\n"
        "with Journal(Path(sys.argv[2])) as journal:\n"
        "    commit(staged, changes, journal=journal, action_id=sys.argv[3])\n"
        "staged.rollback()\n"
        "print(json.dumps(sorted(c.path for c in changes)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(run.staging.location), journal.path, run.action.id],
        capture_output=True,
        text=True,
        cwd=Path(__file__).parents[2],
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == ["later.txt", "run.sh", "src/old.txt"]
    assert snapshot(project) == expected
    assert not run.staging.location.exists()
    assert mounts_under(run.staging.location) == []


@pytest.mark.parametrize("backend", RECORDED)
def test_recorder_sees_the_sandboxed_command(
    backend: str, project: Path, bwrap: str, run_on: Runner
) -> None:
    """inotify watches inodes, so writes made inside bubblewrap's mount namespace are seen:
    the diff looks only at the paths the run touched."""
    run = run_on("echo x >> README.md; mkdir d; echo y > d/f")
    staged = run.staging
    assert isinstance(staged, TreeStaging) and staged.candidates is not None
    touched = staged.candidates.paths | staged.candidates.subtrees
    assert {"README.md", "d"} <= touched and "src/app.py" not in touched
    assert kinds(run.changes) == {"README.md": "modified", "d": "added", "d/f": "added"}


@pytest.mark.parametrize("backend", RECORDED)
def test_recorder_overflow_falls_back_to_a_full_compare(
    backend: str, project: Path, bwrap: str, run_cmd: Runner
) -> None:
    staged = stage(backend, project)
    try:
        sandboxed(staged, "echo x >> README.md; rm src/old.txt", bwrap)
        # what watchdog logs when the kernel's inotify queue overflowed
        logging.getLogger(OVERFLOW_LOGGER).warning("Inotify queue overflowed; events were lost")
        changes = staged.changes()
        assert isinstance(staged, TreeStaging) and staged.candidates is None
        assert kinds(changes) == {"README.md": "modified", "src/old.txt": "deleted"}
    finally:
        staged.rollback()


@pytest.mark.parametrize("backend", ["btrfs"])
def test_btrfs_diff_comes_from_btrfs_send(backend: str, project: Path, run_on: Runner) -> None:
    run = run_on(
        "echo x >> README.md; mv src source; rm empty/../private.txt; "
        "printf odd > \"$(printf 'sp ace\\nnew-line \\377.txt')\"; "
        "printf odd > \"$(printf 'back\\\\slash\\ttab=x')\""
    )
    staged = run.staging
    assert isinstance(staged, TreeStaging) and staged.candidates is not None
    touched = staged.candidates.paths | staged.candidates.subtrees
    assert {"README.md", "src", "source", "private.txt", ODD, BACKSLASH} <= touched
    assert "run.sh" not in touched
    assert kinds(run.changes) == {
        "README.md": "modified",
        "private.txt": "deleted",
        "source": "added",
        "source/app.py": "added",
        "source/old.txt": "added",
        "src": "deleted",
        "src/app.py": "deleted",
        "src/old.txt": "deleted",
        ODD: "added",
        BACKSLASH: "added",
    }


@pytest.mark.needs("git")
@pytest.mark.parametrize("backend", ["btrfs"])
def test_btrfs_snapshots_leave_goex_state_out(backend: str, project: Path, run_on: Runner) -> None:
    """goex's staging area and the git backend's shadow repository are subvolumes of their
    own on btrfs, so a snapshot of the project does not carry them."""
    stager_for("git").stage(project, workspace_for(project)).rollback()
    kept = run_on("echo kept > kept.txt")
    assert (project / ".goex" / "staged").stat().st_ino == 256
    assert (project / ".goex" / "git").stat().st_ino == 256
    snapshot_of = kept.staging.location / "base" / ".goex"
    assert os.listdir(snapshot_of / "staged") == [] and os.listdir(snapshot_of / "git") == []


@pytest.mark.parametrize("backend", ["git"])
def test_git_backend_stages_ignored_files_and_never_touches_the_users_repository(
    backend: str, project: Path, run_on: Runner, journal: Journal
) -> None:
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull}
    subprocess.run(["git", "init", "-q", str(project)], check=True, env=env)
    (project / ".gitignore").write_text("build/\n")
    (project / "build").mkdir()
    (project / "build" / "out.txt").write_text("generated\n")
    user_repo = snapshot(project / ".git")
    run = run_on("cat build/out.txt; ls -a; echo more >> build/out.txt")
    assert run.result.stdout.startswith("generated\n")
    assert ".git\n" not in run.result.stdout  # the user's repository is not staged
    assert kinds(run.changes) == {"build/out.txt": "modified"}
    run.carry_out(decision_for(run, Verdict.COMMIT))
    assert (project / "build" / "out.txt").read_text() == "generated\nmore\n"
    assert snapshot(project / ".git") == user_repo
    assert (project / ".goex" / "git" / "HEAD").is_file()


def test_a_file_with_two_names_changes_under_both(
    backend: str, project: Path, run_on: Runner, journal: Journal
) -> None:
    os.link(project / "README.md", project / "README-too.md")
    run = run_on("echo more >> README.md")
    expected = snapshot(run.staging.view)
    assert expected["README.md"] == expected["README-too.md"] or backend != "btrfs"
    run.carry_out(decision_for(run, Verdict.COMMIT))
    assert snapshot(project) == expected


def test_same_mtime_edit_is_still_seen(backend: str, project: Path) -> None:
    """Contents are hashed: resetting the mtime cannot hide an edit of the same size."""
    staged = stage(backend, project)
    try:
        target = staged.view / "src" / "app.py"
        before = target.stat()
        target.write_text("print('HELLO')\n")
        os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))
        assert kinds(staged.changes()) == {"src/app.py": "modified"}
    finally:
        staged.rollback()


def test_rollback_survives_unwritable_dirs(backend: str, project: Path) -> None:
    staged = stage(backend, project)
    (staged.view / "src").chmod(0o500)
    staged.rollback()
    assert not staged.location.exists()
    assert mounts_under(staged.location) == []


def test_fifo_in_project_is_not_a_deletion(backend: str, project: Path) -> None:
    os.mkfifo(project / "pipe")
    staged = stage(backend, project)
    try:
        assert staged.changes() == []
    finally:
        staged.rollback()


def test_changes_record_the_before_side_for_the_commit(backend: str, project: Path) -> None:
    staged = stage(backend, project)
    try:
        (staged.view / "src" / "app.py").write_text("changed\n")
        (change,) = staged.changes()
        assert change.kind is ChangeKind.MODIFIED
        assert staged.manifest["src/app.py"] == change.before
        assert staged.manifest["src"].type is EntryType.DIR
    finally:
        staged.rollback()


def test_stager_names_and_auto(project: Path) -> None:
    for name in BACKENDS:
        assert stager_for(name).name == name
    assert isinstance(stager_for("copy"), CopyStager)
    with pytest.raises(ConfigError, match="not one of"):
        stager_for("nonsense")
    staged = AutoStager().stage(project, workspace_for(project))
    try:
        assert staged.reason.startswith(f"auto chose {staged.backend}")
    finally:
        staged.rollback()


def test_auto_stages_with_overlay_for_root_and_ordinary_users_alike(tmp_path: Path) -> None:
    """As root the overlay is mounted here; for anyone else in a user namespace of its own, held
    by a process of goex's, with nothing mounted in this one (tests/goexfs/test_ordinary_user
    runs this as a user who is not root)."""
    root = tmp_path / "project"
    root.mkdir()
    (root / "f").write_text("x")
    staged = AutoStager().stage(root, workspace_for(root))
    assert isinstance(staged, OverlayStaging)
    try:
        assert staged.reason == "auto chose overlay, the cheapest backend, which works here"
        assert (staged.view / "f").read_text() == "x"
        holder = staged.holder
        if os.geteuid() == 0:
            assert mounts_under(staged.tree) and staged.view == staged.tree and not staged.enter
        else:
            assert holder is not None and not mounts_under(staged.tree)
            assert staged.view == Path(f"/proc/{holder.pid}/root") / staged.tree.relative_to("/")
    finally:
        staged.rollback()
    assert holder is None or holder.poll() is not None  # the namespace ended with the staging
    assert os.listdir(root / ".goex" / "staged") == []


def test_overlay_says_why_a_user_who_is_not_root_cannot_have_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    monkeypatch.setattr(overlay, "ROOTLESS_KERNEL", (99, 0))
    assert unavailable("overlay", tmp_path) == (
        f"kernel {os.uname().release} cannot mount overlayfs without root (5.11+ can)"
    )


@pytest.mark.needs("git")
def test_auto_says_why_it_passed_backends_over(tmp_path: Path) -> None:
    root = tmp_path / "a,b"  # overlayfs mount options cannot carry a comma
    root.mkdir()
    (root / "f").write_text("x")
    staged = AutoStager().stage(root, workspace_for(root))
    try:
        # git here; reflink where the temporary directory is on btrfs or xfs
        assert staged.backend in ("reflink", "git")
        assert staged.reason.startswith(f"auto chose {staged.backend}; passed over overlay: ")
        assert "mount options" in staged.reason
        assert "btrfs: " in staged.reason
    finally:
        staged.rollback()


@pytest.mark.needs("btrfs")
def test_unavailable_backend_is_a_clear_error(tmp_path: Path) -> None:
    root = tmp_path / "plain"
    root.mkdir()
    with pytest.raises(
        BackendUnavailable, match=r"cannot stage here: .*(not btrfs|not a subvolume)"
    ):
        stager_for("btrfs").stage(root, workspace_for(root))
    assert not (root / ".goex" / "staged").exists() or not os.listdir(root / ".goex" / "staged")


def test_resume_of_an_unknown_backend_is_refused(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text(json.dumps({"backend": "zfs"}))
    with pytest.raises(ConfigError, match="unknown backend"):
        resume(tmp_path)


def test_cli_backend_flag_stages_with_it_and_says_why(
    backend: str, project: Path, bwrap: str
) -> None:
    proc = goex_fs(
        "run",
        "--dir",
        str(project),
        "--cmd",
        "echo hi > hi.txt",
        "--decide",
        "commit",
        "--backend",
        backend,
    )
    assert proc.returncode == 0, proc.stderr
    assert f"staging: fs backend {backend} was chosen" in proc.stderr
    assert (project / "hi.txt").read_text() == "hi\n"
    with Journal(default_path(Kind.FS, project)) as journal:
        (action,) = journal.recent()
        effects = journal.effects(action.id)
    assert effects is not None
    assert effects["stage"]["backend"] == backend
    assert effects["stage"]["reason"] == f"fs backend {backend} was chosen"


def test_cli_json_names_the_backend(project: Path, bwrap: str) -> None:
    proc = goex_fs(
        "run",
        "--dir",
        str(project),
        "--cmd",
        "true",
        "--decide",
        "rollback",
        "--backend",
        "copy",
        "--format",
        "json",
    )
    assert proc.returncode == 3, proc.stderr
    assert json.loads(proc.stdout)["backend"] == "copy"
    assert "staging:" not in proc.stderr  # JSON mode keeps stderr for errors


def test_cli_auto_reason_is_journaled(tmp_path: Path, bwrap: str) -> None:
    root = tmp_path / "a,b"
    root.mkdir()
    proc = goex_fs("run", "--dir", str(root), "--cmd", "true", "--decide", "rollback")
    assert proc.returncode == 3, proc.stderr
    assert "; passed over overlay: " in proc.stderr and "staging: auto chose " in proc.stderr
    with Journal(default_path(Kind.FS, root)) as journal:
        (action,) = journal.recent()
        effects = journal.effects(action.id)
    assert effects is not None
    assert effects["stage"]["reason"].startswith(f"auto chose {effects['stage']['backend']};")


def test_cli_bad_backend_is_a_usage_error(project: Path) -> None:
    before = snapshot(project)
    proc = goex_fs("run", "--dir", str(project), "--cmd", "true", "--backend", "zfs")
    assert proc.returncode == 2
    assert "--backend must be one of" in proc.stderr
    assert snapshot(project) == before


def test_a_kept_action_whose_directory_changed_is_refused_alike_on_every_backend(
    project: Path, run_on: Runner, journal: Journal
) -> None:
    """The same words on every backend — the path, and that it changed in the directory — and
    the same outcome: nothing applied, the action still kept until it is rolled back. (An
    overlay's view of its staged copy changes with the directory beneath it; it used to be
    blamed on the staged copy.)"""
    run = run_on("echo agent >> README.md; echo new > new.txt")
    assert run.carry_out(decision_for(run, Verdict.KEEP)) is Status.STAGED
    (project / "README.md").write_text("# the user's edit\n")
    with pytest.raises(ConflictError, match=r"README\.md: .*") as refused:
        reopen(project, journal, run.action.id)
    assert "changed in the directory since the action was staged" in str(refused.value)
    assert (project / "README.md").read_text() == "# the user's edit\n"
    assert not (project / "new.txt").exists()
    waiting = journal.waiting_for(run.action.id)
    assert waiting is not None and waiting.kept


def test_a_path_replaced_while_its_before_side_is_read_is_doubtful(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by ten concurrent sessions in CI: another session's commit renamed README.md over
    itself between the stat and the hash of this session's read of the before side, which then
    paired the old file's ctime with the new file's contents; this session's later commit saw
    no conflict and overwrote that change. Now the path is doubtful and the commit refuses."""
    root = tmp_path / "project"
    root.mkdir()
    (root / "README.md").write_text("# shared\n")
    location = tmp_path / "staging"
    location.mkdir()
    time.sleep(0.05)  # past the filesystem clock's tick: README.md is older than the mark
    before = LookupBefore(root, stage_mark(location))
    real_entry_at = before_module.entry_at

    def committed_meanwhile(name: str, *, dir_fd: int) -> object:
        (root / "new").write_text("session 1\n")
        os.rename(root / "new", root / "README.md")  # as a commit does
        return real_entry_at(name, dir_fd=dir_fd)

    monkeypatch.setattr(before_module, "entry_at", committed_meanwhile)
    before.entry("README.md")
    assert before.recorded()["README.md"] == unknown_entry(EntryType.FILE)
