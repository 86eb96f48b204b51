"""Change model and diffs (goexfs.tree.effects), and the copy stager measuring a real tree."""

from __future__ import annotations

from pathlib import Path

from goexfs.tree.effects import (
    MAX_DIFF_LINES,
    Change,
    ChangeKind,
    compare,
    describe,
    limit_total,
    summary,
)
from goexfs.tree.manifest import Entry, EntryType, scan


def file_entry(sha: str, mode: int = 0o644, size: int = 1) -> Entry:
    return Entry(EntryType.FILE, mode, size=size, sha256=sha)


def test_compare_kinds() -> None:
    before = {
        "same": file_entry("a"),
        "edit": file_entry("a"),
        "chmod": file_entry("a"),
        "gone": file_entry("a"),
        "link": Entry(EntryType.SYMLINK, 0o777, target="x"),
        "swap": file_entry("a"),
        "fifo": Entry(EntryType.OTHER, 0o644),
    }
    after = {
        "same": file_entry("a"),
        "edit": file_entry("b"),
        "chmod": file_entry("a", mode=0o755),
        "link": Entry(EntryType.SYMLINK, 0o777, target="y"),
        "swap": Entry(EntryType.DIR, 0o755),
        "swap/inner": file_entry("c"),
        "new": file_entry("d"),
    }
    kinds = {c.path: c.kind for c in compare(before, after)}
    assert kinds == {
        "edit": ChangeKind.MODIFIED,
        "chmod": ChangeKind.MODE,
        "gone": ChangeKind.DELETED,
        "link": ChangeKind.SYMLINK,
        "swap": ChangeKind.TYPE,
        "swap/inner": ChangeKind.ADDED,
        "new": ChangeKind.ADDED,
    }


def test_compare_orders_parents_before_children() -> None:
    after = {"b": file_entry("x"), "a/z": file_entry("x"), "a": Entry(EntryType.DIR, 0o755)}
    assert [c.path for c in compare({}, after)] == ["a", "a/z", "b"]


def test_describe_text_diff() -> None:
    change = Change("f.txt", ChangeKind.MODIFIED, file_entry("a"), file_entry("b"))
    described = describe(change, b"one\ntwo\n", b"one\nthree\n")
    assert not described.binary
    assert described.diff is not None
    assert "-two\n" in described.diff and "+three\n" in described.diff
    assert described.diff.startswith("--- a/f.txt\n+++ b/f.txt\n")


def test_describe_binary_and_secret_files() -> None:
    change = Change("img.bin", ChangeKind.MODIFIED, file_entry("a"), file_entry("b"))
    assert describe(change, b"\x00\x01", b"\x00\x02").diff == "binary file img.bin differs"
    assert describe(change, b"\xff\xfe", b"ok").binary
    secret = Change(".env", ChangeKind.ADDED, None, file_entry("b"))
    described = describe(secret, None, b"TOKEN=hunter2-hunter2\n")
    assert described.diff is not None and "hunter2" not in described.diff


def test_diffs_are_bounded() -> None:
    change = Change("big.txt", ChangeKind.ADDED, None, file_entry("b"))
    described = describe(change, None, "".join(f"{i}\n" for i in range(5000)).encode())
    assert described.diff is not None
    assert "diff truncated" in described.diff
    assert described.diff.count("\n") <= MAX_DIFF_LINES + 2
    many = limit_total([described] * 100, budget=10_000)
    assert any("budget" in (c.diff or "") for c in many)


def test_change_json_round_trip() -> None:
    change = Change("a/b", ChangeKind.MODE, file_entry("a"), file_entry("a", mode=0o755))
    data = change.to_json()
    assert data["kind"] == "mode" and data["after"]["mode"] == "0755"
    assert Change.from_json(data) == change
    assert summary([change, change]) == {"mode": 2}


def test_scan_skips_internal_only_at_top(tmp_path: Path) -> None:
    (tmp_path / ".goex").mkdir()
    (tmp_path / "sub" / ".goex").mkdir(parents=True)
    assert set(scan(tmp_path)) == {"sub", "sub/.goex"}
