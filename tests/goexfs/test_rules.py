"""Policy rules over measured file changes, and the model prompt built from a tree."""

from __future__ import annotations

from pathlib import Path

from core.policy import PolicySettings, Severity, blocking, evaluate, needing_person
from core.secrets import SecretStore
from goexfs.prompt import SYSTEM, build_prompt
from goexfs.rules import RULES, points_outside
from goexfs.tree.effects import Change, ChangeKind
from goexfs.tree.manifest import Entry, EntryType

FILE = Entry(EntryType.FILE, 0o644, size=1, sha256="x")


def added(path: str, entry: Entry = FILE) -> Change:
    return Change(path, ChangeKind.ADDED, None, entry)


def deleted(path: str) -> Change:
    return Change(path, ChangeKind.DELETED, FILE, None)


def rules_hit(changes: list[Change], settings: PolicySettings) -> set[str]:
    return {v.rule for v in evaluate(RULES, changes, settings)}


def test_clean_changes_pass() -> None:
    assert evaluate(RULES, [added("src/a.py"), added("docs/b.md")], PolicySettings()) == []


def test_deletions_and_binary_changes_need_a_person() -> None:
    binary = Change("logo.png", ChangeKind.MODIFIED, FILE, FILE, binary=True)
    swap = Change("x", ChangeKind.TYPE, FILE, Entry(EntryType.DIR, 0o755))
    found = evaluate(RULES, [deleted("old.txt"), swap, binary, added("a.txt")], PolicySettings())
    assert [(v.rule, v.severity, v.message) for v in found] == [
        ("fs.review-deletes", Severity.REVIEW, "deletes old.txt"),
        ("fs.review-deletes", Severity.REVIEW, "replaces x"),
        ("fs.review-binary", Severity.REVIEW, "modified binary file logo.png"),
    ]
    assert needing_person(found) == found and blocking(found) == []
    huge = Entry(EntryType.FILE, 0o644, size=5 << 20, sha256="z")
    assert [v.message for v in evaluate(RULES, [added("dump.sql", huge)], PolicySettings())] == [
        f"added large file dump.sql ({5 << 20} bytes)"
    ]
    off = PolicySettings(disable=("fs.review-deletes", "fs.review-binary"))
    assert evaluate(RULES, [deleted("old.txt"), binary], off) == []
    # refused outright when deletes are not allowed: no second finding for the same thing
    refused = evaluate(RULES, [deleted("a")], PolicySettings(allow_file_deletes=False))
    assert [v.rule for v in refused] == ["fs.deletes"]


def test_allowed_paths() -> None:
    settings = PolicySettings(allow_paths=("src/**", "docs/*.md"))
    found = evaluate(RULES, [added("src/a/b.py"), added("docs/x.md"), added("setup.py")], settings)
    assert [(v.rule, v.message) for v in found] == [
        ("fs.allowed-paths", "added setup.py: outside allow_paths")
    ]


def test_max_bytes_written() -> None:
    big = Entry(EntryType.FILE, 0o644, size=600, sha256="y")
    changes = [added("a", big), added("b", big), deleted("c")]
    settings = PolicySettings(max_bytes_written=1000, disable=("fs.review-deletes",))
    assert [v.message for v in evaluate(RULES, changes, settings)] == [
        "1200 bytes written, more than max_bytes_written = 1000"
    ]
    assert evaluate(RULES, changes[:1], settings) == []


def test_executables_and_git_hooks_are_flagged() -> None:
    script = Entry(EntryType.FILE, 0o755, size=1, sha256="x")
    changes = [
        added("tools/run.sh", script),
        Change("build.sh", ChangeKind.MODE, FILE, script),
        added(".git/hooks/pre-commit", script),
        added("vendor/lib/.git/config"),
    ]
    settings = PolicySettings(deny_paths=())
    found = {(v.rule, v.severity, v.message) for v in evaluate(RULES, changes, settings)}
    assert found == {
        ("fs.executable", Severity.WARNING, "added executable tools/run.sh (0755)"),
        ("fs.executable", Severity.WARNING, "mode executable build.sh (0755)"),
        ("fs.executable", Severity.WARNING, "added executable .git/hooks/pre-commit (0755)"),
        (
            "fs.git-hooks",
            Severity.ERROR,
            "added .git/hooks/pre-commit: git runs this outside goex's sandbox",
        ),
        (
            "fs.git-hooks",
            Severity.ERROR,
            "added vendor/lib/.git/config: git runs this outside goex's sandbox",
        ),
    }


def test_max_files() -> None:
    changes = [added(f"f{i}") for i in range(4)]
    assert rules_hit(changes, PolicySettings(max_files_changed=3)) == {"fs.max-files"}
    assert rules_hit(changes, PolicySettings(max_files_changed=None)) == set()


def test_deletes_when_not_allowed() -> None:
    settings = PolicySettings(allow_file_deletes=False)
    swap = Change("x", ChangeKind.TYPE, FILE, Entry(EntryType.DIR, 0o755))
    found = evaluate(RULES, [deleted("a"), swap, added("b")], settings)
    assert [v.message for v in found] == [
        "deletes a (allow_file_deletes = false)",
        "replaces x (allow_file_deletes = false)",
    ]


def test_denied_paths_default_globs() -> None:
    changes = [added(".env"), added("config/.env.local"), added(".git/HEAD"), added("k/a.pem")]
    found = evaluate(RULES, changes, PolicySettings())
    assert {v.rule for v in found} == {"fs.denied-path"}
    assert len(found) == 4
    assert all(v.severity is Severity.ERROR for v in blocking(found))


def test_messages_are_capped() -> None:
    found = evaluate(RULES, [added(f".git/o{i}") for i in range(30)], PolicySettings())
    assert len(found) == 21 and found[-1].message == "... and 10 more"


def test_disable_and_severity_override() -> None:
    settings = PolicySettings(
        disable=("fs.denied-path",), severity={"fs.max-files": Severity.WARNING}
    )
    changes = [added(".env"), added("a"), added("b")]
    found = evaluate(
        RULES, changes, PolicySettings(**{**settings.__dict__, "max_files_changed": 1})
    )
    assert [(v.rule, v.severity) for v in found] == [("fs.max-files", Severity.WARNING)]


def test_special_files_and_outward_symlinks() -> None:
    fifo = added("pipe", Entry(EntryType.OTHER, 0o644))
    link = added("sub/up", Entry(EntryType.SYMLINK, 0o777, target="../../etc"))
    found = evaluate(RULES, [fifo, link], PolicySettings())
    assert {(v.rule, v.severity) for v in found} == {
        ("fs.special-file", Severity.ERROR),
        ("fs.symlink-outside", Severity.WARNING),
    }


def test_points_outside() -> None:
    assert points_outside("a", "/etc/passwd")
    assert points_outside("a/b", "../../x")
    assert not points_outside("a/b", "../x")
    assert not points_outside("a", "b/c")


def test_prompt_lists_files_and_hides_secret_contents(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("# project readme\n")
    (tmp_path / ".env").write_text("DATABASE_PASSWORD=swordfish-swordfish\n")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (tmp_path / ".goex").mkdir()
    (tmp_path / ".goex" / "journal.sqlite3").write_text("private state")
    (tmp_path / "data.bin").write_bytes(b"\0\1\2")
    secrets = SecretStore({"GOEX_SECRET_DEPLOY_KEY": "deploy-key-value-1234"})
    prompt = build_prompt(tmp_path, "rename the readme", secrets)
    assert prompt.system == SYSTEM and "```sh" in SYSTEM
    user = prompt.user
    assert "README.md" in user and "# project readme" in user
    assert ".env" in user and "swordfish" not in user
    assert ".git/" in user and "refs/heads" not in user
    assert ".goex" not in user and "private state" not in user
    assert "$GOEX_SECRET_DEPLOY_KEY" in user and "deploy-key-value" not in user
    assert user.endswith("Request: rename the readme")


def test_prompt_listing_is_bounded(tmp_path: Path) -> None:
    for i in range(400):
        (tmp_path / f"f{i:03}.txt").write_text("x")
    user = build_prompt(tmp_path, "x", SecretStore()).user
    assert "more paths not listed" in user
    assert user.count(".txt") < 350
