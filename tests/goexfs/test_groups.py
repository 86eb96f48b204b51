"""Readable reviews of big changes (goexfs.tree.groups): generated trees collapse to one line
each, paths the project's .gitignore ignores are set apart and, with --exclude-ignored, left out
of the commit — and neither can be used by an action to hide an edit of the project."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from core.config import load_config
from core.web.sides import Block, FileChange
from goexfs.review import side
from goexfs.tree.effects import Change, ChangeKind
from goexfs.tree.groups import GeneratedTree, ignored, set_apart, without_ignored
from goexfs.tree.manifest import Entry, EntryType
from tests.fake_llm import FakeLLM
from tests.goexfs.conftest import Runner
from tests.goexfs.test_cli import goex_fs, run_json

VENV = (
    "mkdir -p .venv/lib/site-packages && echo 'home = /usr/bin' > .venv/pyvenv.cfg && "
    "for i in $(seq 300); do echo $i > .venv/lib/site-packages/m$i.py; done && "
    "mkdir -p node_modules/left-pad && echo 'module.exports=1' > node_modules/left-pad/index.js"
)


def test_generated_trees_collapse_to_one_line_each_and_are_committed_whole(
    project: Path, bwrap: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOEX_POLICY_MAX_FILES_CHANGED", "1000")  # 307 paths; 200 by default
    command = f"{VENV} && echo 'print(2)' > src/app.py"
    proc = goex_fs("run", "--dir", str(project), "--cmd", command, "--decide", "commit")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.partition("command exit status")[2]  # the review, after the command
    assert ".venv/  (a virtualenv): 304 added; 301 files" in out
    assert "node_modules/  (generated): 3 added; 1 files, 17 bytes" in out
    assert "site-packages/m" not in out and "left-pad" not in out  # no line per generated path
    assert "src/app.py" in out and "+print(2)" in out  # the project's own change in full
    assert (project / ".venv" / "lib" / "site-packages" / "m300.py").read_text() == "300\n"
    assert (project / "node_modules" / "left-pad" / "index.js").is_file()


def test_the_json_report_and_goex_fs_diff_still_list_every_path(project: Path, bwrap: str) -> None:
    code, report = run_json(project, "--cmd", VENV, "--decide", "keep")
    assert code == 5
    assert len(report["changes"]) == 304 + 3
    assert [(g["path"], g["why"], g["files"]) for g in report["generated"]] == [
        (".venv", "a virtualenv", 301),
        ("node_modules", "generated", 1),
    ]
    listed = goex_fs("diff", "--dir", str(project), report["id"], "--stat").stdout
    assert ".venv/lib/site-packages/m17.py" in listed
    assert goex_fs("rollback", "--dir", str(project), report["id"]).returncode == 3


def test_a_cache_tag_dropped_into_an_existing_directory_hides_nothing(
    project: Path, bwrap: str
) -> None:
    code, report = run_json(
        project, "--cmd", "touch src/CACHEDIR.TAG && echo evil > src/app.py", "--decide", "keep"
    )
    assert code == 5 and report["generated"] == []
    proc = goex_fs("show", "--dir", str(project), report["id"])
    assert "+evil" in proc.stdout
    goex_fs("rollback", "--dir", str(project), report["id"])


def test_ignored_paths_are_set_apart_and_left_out_with_exclude_ignored(
    project: Path, bwrap: str
) -> None:
    (project / ".gitignore").write_text("build/\n*.log\n")
    command = "mkdir build && echo o > build/out.o && echo l > app.log && echo x > src/app.py"
    code, report = run_json(project, "--exclude-ignored", "--cmd", command, "--decide", "commit")
    assert code == 0, report
    assert report["ignored"] == ["app.log", "build", "build/out.o"]
    assert report["left_out"] == report["ignored"]
    assert (project / "src" / "app.py").read_text() == "x\n"
    assert not (project / "build").exists() and not (project / "app.log").exists()


def test_ignored_paths_are_committed_unless_excluded_and_the_review_says_which(
    project: Path, bwrap: str
) -> None:
    (project / ".gitignore").write_text("*.log\n")
    proc = goex_fs("run", "--dir", str(project), "--cmd", "echo l > app.log", "--decide", "commit")
    assert proc.returncode == 0, proc.stderr
    assert "ignored by .gitignore, committed with the rest" in proc.stdout
    assert (project / "app.log").read_text() == "l\n"


def test_an_action_cannot_make_its_own_edit_look_ignored(project: Path, bwrap: str) -> None:
    command = "echo '*.py' > .gitignore && echo evil > src/app.py"
    code, report = run_json(project, "--exclude-ignored", "--cmd", command, "--decide", "keep")
    assert code == 5
    assert report["ignored"] == [] and report["left_out"] == []  # the real directory's rules
    goex_fs("rollback", "--dir", str(project), report["id"])


def _change(
    path: str, kind: ChangeKind, before: EntryType | None, after: EntryType | None
) -> Change:
    def entry(kind: EntryType | None) -> Entry | None:
        return None if kind is None else Entry(kind, 0o755 if kind is EntryType.DIR else 0o644)

    return Change(path, kind, entry(before), entry(after))


def test_a_removed_directory_takes_its_ignored_contents_with_it() -> None:
    changes = [
        _change("old", ChangeKind.DELETED, EntryType.DIR, None),
        _change("old/__pycache__", ChangeKind.DELETED, EntryType.DIR, None),
        _change("old/__pycache__/a.pyc", ChangeKind.DELETED, EntryType.FILE, None),
        _change("app.log", ChangeKind.ADDED, None, EntryType.FILE),
    ]
    ignored = {"old/__pycache__", "old/__pycache__/a.pyc", "app.log"}
    assert [c.path for c in without_ignored(changes, ignored)] == [
        "old",
        "old/__pycache__",
        "old/__pycache__/a.pyc",
    ]


def test_a_generated_tree_reads_the_same_from_the_journal() -> None:
    tree = GeneratedTree(".venv", "a virtualenv", {"added": 3}, 2, 2_500_000)
    data: Any = json.loads(json.dumps(tree.to_json()))
    assert GeneratedTree.from_json(data) == tree
    assert tree.describe() == "(a virtualenv): 3 added; 2 files, 2.5 MB"


def test_the_review_page_and_the_mcp_result_set_apart_the_same(
    run_cmd: Runner, tmp_path: Path
) -> None:
    config = load_config(tmp_path, overrides={"policy.max_files_changed": 1000})
    run = run_cmd(f"{VENV} && echo x > src/app.py", config=config)
    sections = side().sections(run.action, run.recorded)
    files = [s.path for s in sections if isinstance(s, FileChange)]
    assert files == ["src/app.py"]  # one by one: only the project's own change
    blocks = {s.title: s.text for s in sections if isinstance(s, Block)}
    generated = blocks["generated trees, collapsed (goex-fs diff lists every path)"]
    assert generated.splitlines() == [
        ".venv/  (a virtualenv): 304 added; 301 files, 1.1 kB",  # 16 + 1,092 bytes
        "node_modules/  (generated): 3 added; 1 files, 17 bytes",
    ]
    apart = set_apart(run.changes, run.recorded)
    assert [c.path for c in apart.one_by_one] == files


def test_a_judge_model_reads_the_changes_as_the_review_shows_them(
    project: Path, bwrap: str, fake_llm: FakeLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOEX_POLICY_MAX_FILES_CHANGED", "1000")
    fake_llm.reply('```json\n{"verdict": "commit", "reason": "a virtualenv and the fix"}\n```')
    command = f"{VENV} && echo 'print(2)' > src/app.py"
    code, report = run_json(project, "--cmd", command, "--decide", "llm")
    assert code == 0, report
    asked = json.loads(fake_llm.requests[0].json["messages"][-1]["content"])
    assert [c["path"] for c in asked["effects"]["changes"]] == ["src/app.py"]
    [generated] = asked["effects"]["set_apart"]
    assert generated["lines"][0].startswith(".venv/  (a virtualenv): 304 added")
    assert len(report["changes"]) == 304 + 3 + 1  # the report keeps every change


def test_only_paths_added_or_deleted_are_set_apart_never_an_edit(
    run_cmd: Runner, project: Path
) -> None:
    (project / "node_modules" / "pkg").mkdir(parents=True)
    (project / "node_modules" / "pkg" / "index.js").write_text("ok\n")
    run = run_cmd(
        "echo evil > node_modules/pkg/index.js && mkdir node_modules/new && echo n > "
        "node_modules/new/a.js && mkdir made && touch made/CACHEDIR.TAG && echo x > made/ci.yml"
    )
    apart = set_apart(run.changes, run.recorded)
    shown = [c.path for c in apart.one_by_one]
    assert "node_modules/pkg/index.js" in shown  # the edit, with its diff
    assert "made/ci.yml" in shown  # an unsigned CACHEDIR.TAG makes no cache
    assert apart.sections == [
        (
            "generated trees, collapsed (goex-fs diff lists every path):",
            ["node_modules/  (generated): 2 added; 1 files, 2 bytes"],
        )
    ]


def test_ignored_reads_every_name_as_a_path_never_a_pathspec(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "project"
    (root / "sub").mkdir(parents=True)
    (root / ".gitignore").write_text("/top.txt\n*.log\n")
    names = [":(top)notes", ":!x", ":(attr:y)z", "top.txt", "sub/top.txt", "sub/a.log"]
    changes = [_change(name, ChangeKind.ADDED, None, EntryType.FILE) for name in names]
    monkeypatch.chdir(root / "sub")  # goex run from a subdirectory of the project
    assert ignored(root, changes) == {"top.txt", "sub/a.log"}
