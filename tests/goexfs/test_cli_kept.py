"""goex-fs keep, list, diff, commit [PATH...], rollback, undo, recover and gc, as separate
processes: exit codes, what the directory holds afterwards, what the journal says."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from tests.goexfs.conftest import snapshot
from tests.goexfs.test_cli import goex_fs

EDIT = (
    "echo more >> README.md; rm src/old.txt; mkdir -p docs/new; "
    "printf x > \"$(printf 'odd\\nname')\"; chmod 700 run.sh; ln -sf src/app.py link-to-readme"
)


def keep(project: Path, cmd: str = EDIT, *extra: str) -> str:
    proc = goex_fs("run", "-C", str(project), "--cmd", cmd, "--decide", "keep", *extra)
    assert proc.returncode == 5, proc.stderr
    assert "kept staged" in proc.stdout
    listed = kept(project)
    assert listed, "the kept action is listed"
    return str(listed[0]["id"])


def kept(project: Path) -> list[dict[str, Any]]:
    proc = goex_fs("list", "-C", str(project), "--format", "json")
    assert proc.returncode == 0, proc.stderr
    result: list[dict[str, Any]] = json.loads(proc.stdout)
    return result


def test_keep_diff_commit_some_paths_then_undo(project: Path, bwrap: str) -> None:
    before = snapshot(project)
    action_id = keep(project)
    assert snapshot(project) == before  # kept: nothing applied

    diff = goex_fs("diff", action_id, "-C", str(project))
    assert diff.returncode == 0, diff.stderr
    for expected in (
        "diff README.md\n--- a/README.md\n+++ b/README.md",
        "+more",
        "diff src/old.txt\ndeleted file mode 0644",
        "diff docs/new\nnew directory mode 0755",
        'diff "odd\\nname"\nnew file mode 0644',
        "diff run.sh\nold mode 0755\nnew mode 0700",
        "diff link-to-readme\n-symlink -> README.md\n+symlink -> src/app.py",
    ):
        assert expected in diff.stdout, expected
    stat = goex_fs("diff", action_id, "--stat", "-C", str(project))
    assert stat.stdout.splitlines()[-1] == (
        "7 change(s): 3 added, 1 modified, 1 deleted, 1 mode, 1 symlink"
    )

    done = goex_fs("commit", action_id, "README.md", "docs", "-C", str(project))
    assert done.returncode == 0, done.stderr
    assert "committed: 3 change(s)" in done.stdout
    assert (project / "README.md").read_text() == "# demo\nmore\n"
    assert (project / "docs" / "new").is_dir()
    assert (project / "src" / "old.txt").exists()  # not selected: not applied
    assert not (project / "odd\nname").exists()
    assert os.readlink(project / "link-to-readme") == "README.md"
    assert kept(project) == []  # the rest was discarded
    shown = json.loads(goex_fs("show", action_id, "--format", "json").stdout)
    assert shown["status"] == "committed"
    assert (
        shown["decision"]["reason"] == "goex-fs commit of 3 of 7 changes: README.md, docs, docs/new"
    )

    undone = goex_fs("undo", action_id, "-C", str(project), "--format", "json")
    assert undone.returncode == 0, undone.stderr
    report = json.loads(undone.stdout)
    assert report["undoes"] == action_id and report["status"] == "committed"
    assert snapshot(project) == before
    log = json.loads(goex_fs("log", "--format", "json").stdout)
    assert [a["status"] for a in log[:2]] == ["committed", "undone"]
    assert log[0]["prompt"] == f"undo {action_id}"


def test_deletions_need_a_person(project: Path, bwrap: str) -> None:
    before = snapshot(project)
    proc = goex_fs(
        "run", "-C", str(project), "--cmd", "rm src/old.txt; echo x > new.txt", "--decide", "policy"
    )
    assert proc.returncode == 5, proc.stderr
    assert "needs a person to review: fs.review-deletes" in proc.stdout
    action_id = kept(project)[0]["id"]
    refused = goex_fs("commit", action_id, "-C", str(project))  # no terminal: no person
    assert refused.returncode == 5
    assert "deletes src/old.txt needs a person" in refused.stderr
    assert snapshot(project) == before and kept(project)[0]["id"] == action_id
    # the part that needs no person can go in
    assert goex_fs("commit", action_id, "new.txt", "-C", str(project)).returncode == 0
    assert (project / "new.txt").read_text() == "x\n" and (project / "src" / "old.txt").exists()


def test_commit_is_judged_by_policy_again(project: Path, tmp_path: Path, bwrap: str) -> None:
    action_id = keep(project, "echo x >> README.md; echo y > notes.txt")
    strict = tmp_path / "strict.toml"
    strict.write_text('[policy]\ndeny_paths = ["README.md"]\n')
    before = snapshot(project)
    refused = goex_fs("commit", action_id, "-C", str(project), "--policy", str(strict))
    assert refused.returncode == 4
    assert "policy refuses this commit" in refused.stderr and "README.md" in refused.stderr
    assert snapshot(project) == before and kept(project)[0]["id"] == action_id
    ok = goex_fs("commit", action_id, "notes.txt", "-C", str(project), "--policy", str(strict))
    assert ok.returncode == 0, ok.stderr
    assert (project / "notes.txt").exists() and snapshot(project)["README.md"] == before[
        "README.md"
    ]


def test_bad_commit_paths_and_ids_change_nothing(project: Path, bwrap: str) -> None:
    action_id = keep(project, "echo x > new.txt")
    before = snapshot(project)
    for args, code, message in (
        (("commit", action_id, "nope.txt"), 2, "nope.txt is not among the changes"),
        (("commit", action_id, "../outside"), 1, "outside the project"),
        (("commit", "zzzzzz"), 1, "no action with id 'zzzzzz'"),
        (("undo", action_id), 1, "is staged; only a committed action can be undone"),
    ):
        proc = goex_fs(*args, "-C", str(project))
        assert proc.returncode == code, (args, proc.stderr)
        assert message in proc.stderr
        assert proc.stderr.startswith("error: ")
    assert snapshot(project) == before and kept(project)[0]["id"] == action_id


def test_rollback_discards_the_staged_copy(project: Path, bwrap: str) -> None:
    before = snapshot(project)
    action_id = keep(project, "echo x > new.txt")
    location = Path(kept(project)[0]["staged"])
    assert location.exists()
    proc = goex_fs("rollback", action_id, "-C", str(project))
    assert proc.returncode == 3, proc.stderr
    assert not location.exists() and kept(project) == [] and snapshot(project) == before
    again = goex_fs("commit", action_id, "-C", str(project))
    assert again.returncode == 1 and "is rolled_back, not kept staged" in again.stderr


def test_undo_conflict_on_the_command_line(project: Path, bwrap: str) -> None:
    proc = goex_fs("run", "-C", str(project), "--cmd", "echo x > new.txt", "--decide", "commit")
    assert proc.returncode == 0, proc.stderr
    action_id = json.loads(goex_fs("log", "--format", "json").stdout)[0]["id"]
    (project / "new.txt").write_text("edited by the user\n")
    refused = goex_fs("undo", action_id, "-C", str(project))
    assert refused.returncode == 1
    assert "new.txt: changed since the commit" in refused.stderr
    assert (project / "new.txt").read_text() == "edited by the user\n"
    forced = goex_fs("undo", action_id, "--force", "-C", str(project))
    assert forced.returncode == 0, forced.stderr
    assert not (project / "new.txt").exists()


def test_recover_with_nothing_to_do(project: Path) -> None:
    proc = goex_fs("recover", "-C", str(project))
    assert proc.returncode == 0 and "nothing to recover" in proc.stdout
    assert json.loads(goex_fs("recover", "-C", str(project), "-f", "json").stdout) == []


def test_gc_removes_what_is_past_the_budget(project: Path, bwrap: str) -> None:
    committed = goex_fs(
        "run", "-C", str(project), "--cmd", "echo x >> README.md", "--decide", "commit"
    )
    assert committed.returncode == 0, committed.stderr
    old_commit = json.loads(goex_fs("log", "--format", "json").stdout)[0]["id"]
    old_kept = keep(project, "echo old > a.txt")
    young_kept = keep(project, "echo young > b.txt")
    month_ago = time.time() - 30 * 86_400
    stale = [Path(k["staged"]) for k in kept(project) if k["id"] == old_kept]
    for path in (*stale, project / ".goex" / "undo" / old_commit):
        os.utime(path, (month_ago, month_ago))
    before = snapshot(project)

    proc = goex_fs("gc", "-C", str(project), "--max-age-days", "14", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    removed = {(r["kind"], r["action"]) for r in report["removed"]}
    assert removed == {("staged", old_kept), ("preimages", old_commit)}
    assert report["freed_bytes"] > 0
    assert snapshot(project) == before  # gc never touches the project itself
    assert [k["id"] for k in kept(project)] == [young_kept]
    shown = json.loads(goex_fs("show", old_kept, "--format", "json").stdout)
    assert shown["status"] == "rolled_back" and shown["decision"]["by"] == "gc"
    undo = goex_fs("undo", old_commit, "-C", str(project))
    assert undo.returncode == 1 and "gone" in undo.stderr

    # the size budget takes pre-images, never a young kept staging
    squeeze = goex_fs("gc", "-C", str(project), "--max-bytes", "0", "--format", "json")
    assert json.loads(squeeze.stdout)["removed"] == []
    assert [k["id"] for k in kept(project)] == [young_kept]
    assert goex_fs("gc", "-C", str(project), "--max-age-days", "-1").returncode == 2


def test_a_failed_command_is_not_committed_automatically(project: Path, bwrap: str) -> None:
    before = snapshot(project)
    for decide in ("commit", "policy"):
        proc = goex_fs(
            "run", "-C", str(project), "--cmd", "echo half > half.txt; exit 2", "--decide", decide
        )
        assert proc.returncode == 5, proc.stderr
        assert "needs a person to review: fs.command-failed" in proc.stdout
        assert snapshot(project) == before
    first, second = (str(a["id"]) for a in kept(project))
    assert goex_fs("rollback", second, "-C", str(project)).returncode == 3  # rolled back
    approved = goex_fs("approve", first, "-C", str(project))  # a person may still commit it
    assert approved.returncode == 0, approved.stderr + approved.stdout
    assert (project / "half.txt").read_text() == "half\n"
    shown = json.loads(goex_fs("show", first, "--format", "json").stdout)
    assert shown["status"] == "committed"
    assert shown["effects"]["exit_status"] == 2
