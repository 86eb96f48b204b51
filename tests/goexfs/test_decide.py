"""goex-fs --decide person: the action waits, held, for approve or reject from another process,
each through real goex-fs processes on a real directory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.goexfs.conftest import snapshot
from tests.goexfs.test_cli_kept import keep
from tests.processes import Held, run, shown, start_held

FS = "goexfs.cli"
EDIT = "echo more >> README.md; echo new > added.txt; mkdir -p docs; echo d > docs/guide.md"


def held(project: Path, cmd: str = EDIT) -> Held:
    return start_held(FS, "run", "-C", str(project), "--cmd", cmd, "--format", "json")


def test_a_person_approves_from_another_process(project: Path, bwrap: str) -> None:
    before = snapshot(project)
    waiting = held(project)
    assert snapshot(project) == before  # staged, waiting: nothing applied
    approve = run(FS, "approve", waiting.action_id, "--digest", waiting.digest, "-C", str(project))
    assert approve.returncode == 0, approve.stderr
    assert "decision: commit by person:" in approve.stdout  # what the holder did, reported
    assert "committed: 4 change(s) applied" in approve.stdout
    code, out, err = waiting.running.finish()
    assert code == 0, err
    report = json.loads(out)
    assert report["status"] == "committed"
    assert report["decision"]["by"].startswith("person:")
    assert (project / "added.txt").read_text() == "new\n"
    assert (project / "README.md").read_text() == "# demo\nmore\n"


def test_a_person_approves_only_some_paths(project: Path, bwrap: str) -> None:
    waiting = held(project)
    approve = run(
        FS, "approve", waiting.action_id, "docs", "--digest", waiting.digest, "-C", str(project)
    )
    assert approve.returncode == 0, approve.stderr
    code, _, err = waiting.running.finish()
    assert code == 0, err
    assert (project / "docs" / "guide.md").read_text() == "d\n"
    assert not (project / "added.txt").exists()
    assert (project / "README.md").read_text() == "# demo\n"
    decision = shown(FS, waiting.action_id, "-C", str(project))["decision"]
    assert decision["paths"] == ["docs"]
    assert decision["reason"].startswith("goex-fs approve of 2 of 4 changes: docs")


def test_approving_what_policy_refuses_records_nothing(
    project: Path, tmp_path: Path, bwrap: str
) -> None:
    before = snapshot(project)
    waiting = held(project, "echo fine > ok.txt; echo more > notes.txt")
    strict = tmp_path / "strict.toml"  # the approver's policy: ok.txt may not change
    strict.write_text('[policy]\ndeny_paths = ["ok.txt"]\n')
    refused = run(FS, "approve", waiting.action_id, "ok.txt", "--digest", waiting.digest,
                  "--policy", str(strict), "-C", str(project))  # fmt: skip
    assert refused.returncode == 4
    assert refused.stderr.startswith("error: policy refuses this commit")
    assert waiting.running.proc.poll() is None  # still waiting for a decision
    assert run(FS, "reject", waiting.action_id, "-C", str(project)).returncode == 4
    code, _, _ = waiting.running.finish()
    assert code == 4
    assert snapshot(project) == before


def test_a_person_rejects_and_a_stale_digest_is_refused(project: Path, bwrap: str) -> None:
    before = snapshot(project)
    waiting = held(project)
    stale = run(FS, "approve", waiting.action_id, "--digest", "ab" * 32, "-C", str(project))
    assert stale.returncode == 1
    assert "its code or effects are not what was shown" in stale.stderr
    assert waiting.running.proc.poll() is None
    reject = run(FS, "reject", waiting.action_id, "--reason", "not now", "-C", str(project))
    assert reject.returncode == 4, reject.stderr
    code, out, _ = waiting.running.finish()
    assert code == 4
    assert json.loads(out)["status"] == "rejected"
    assert snapshot(project) == before
    assert not list((project / ".goex" / "staged").iterdir())  # the staged copy is gone


def test_the_timeout_rolls_back(project: Path, bwrap: str, monkeypatch: pytest.MonkeyPatch) -> None:
    before = snapshot(project)
    monkeypatch.setenv("GOEX_REVIEW_TIMEOUT", "1")
    waiting = held(project)
    code, out, _ = waiting.running.finish()
    assert code == 3
    assert json.loads(out)["decision"]["by"] == "timeout"
    assert snapshot(project) == before


def test_approve_commits_a_kept_action_here(project: Path, bwrap: str) -> None:
    action_id = keep(project, "echo kept > kept.txt")
    digest = shown(FS, action_id, "-C", str(project))["digest"]
    approve = run(FS, "approve", action_id, "--digest", digest, "-C", str(project))
    assert approve.returncode == 0, approve.stderr
    assert (project / "kept.txt").read_text() == "kept\n"
    assert shown(FS, action_id, "-C", str(project))["status"] == "committed"
    again = run(FS, "approve", action_id, "--digest", digest, "-C", str(project))
    assert again.returncode == 1 and "not waiting for a decision" in again.stderr


def test_show_and_log_elsewhere_make_no_journal(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for args in (("show", "0000000000"), ("log",)):
        done = run(FS, *args, cwd=elsewhere)
        assert done.returncode == 1
        assert "has no goex-fs journal" in done.stderr
    assert not (elsewhere / ".goex").exists()
