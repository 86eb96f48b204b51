"""What ``goex-fs diff`` prints for every kind of change, names that cannot be printed as they
are, and the JSON names of the run report."""

from __future__ import annotations

from core.redact import Redactor
from goexfs.render import change_json
from goexfs.tree.diff import diff_text_plain, shown_path, stat_text
from goexfs.tree.effects import Change, ChangeKind, describe
from goexfs.tree.manifest import Entry, EntryType

FILE = Entry(EntryType.FILE, 0o644, size=4, sha256="a" * 64)
EXE = Entry(EntryType.FILE, 0o755, size=4, sha256="a" * 64)
DIR = Entry(EntryType.DIR, 0o755)
LINK = Entry(EntryType.SYMLINK, 0o777, target="README.md")
MOVED = Entry(EntryType.SYMLINK, 0o777, target="docs/README.md")


def test_names_are_quoted_only_when_they_must_be() -> None:
    assert shown_path("src/app.py") == "src/app.py"
    assert shown_path("sp ace/café.txt") == "sp ace/café.txt"
    assert shown_path("odd\nname") == '"odd\\nname"'
    assert shown_path("tab\there") == '"tab\\there"'
    assert shown_path('say "hi"') == '"say \\"hi\\""'
    assert shown_path("bad\udcff.bin") == '"bad\\377.bin"'  # a byte that is not UTF-8


def test_every_kind_of_change_is_shown() -> None:
    changes = [
        Change("new-dir", ChangeKind.ADDED, None, DIR),
        Change("run.sh", ChangeKind.MODE, FILE, EXE),
        Change("link", ChangeKind.SYMLINK, LINK, MOVED),
        Change("src", ChangeKind.TYPE, DIR, FILE),
        Change("gone", ChangeKind.DELETED, LINK, None),
        describe(
            Change("blob", ChangeKind.MODIFIED, FILE, Entry(EntryType.FILE, 0o644, 3, 0, "b" * 64)),
            b"\x00abc",
            b"\x01\x02\x03",
        ),
        describe(Change("odd\nname", ChangeKind.MODIFIED, FILE, FILE), b"one\n", b"one\ntwo\n"),
    ]
    text = diff_text_plain(changes, Redactor())
    assert text.split("diff ")[1:] == [
        "new-dir\nnew directory mode 0755\n(directory)\n",
        "run.sh\nold mode 0644\nnew mode 0755\n",
        "link\n-symlink -> README.md\n+symlink -> docs/README.md\n",
        "src\ntype changed: directory → file\nold mode 0755\nnew mode 0644\n",
        "gone\ndeleted symlink\n-symlink -> README.md\n",
        "blob\nbinary file differs: 4 bytes, sha256 aaaaaaaaaaaa → 3 bytes, sha256 bbbbbbbbbbbb\n",
        '"odd\\nname"\n--- "a/odd\\nname"\n+++ "b/odd\\nname"\n@@ -1 +1,2 @@\n one\n+two\n',
    ]
    stat = stat_text(changes, Redactor()).splitlines()
    assert stat[1] == "mode      file                     4  run.sh"
    assert stat[-1] == "7 change(s): 1 added, 2 modified, 1 deleted, 1 mode, 1 symlink, 1 type"


def test_json_change_names() -> None:
    change = Change("run.sh", ChangeKind.MODE, FILE, EXE).to_json()
    shown = change_json(change)
    assert {k: shown[k] for k in ("path", "kind", "old_mode", "new_mode", "size", "binary")} == {
        "path": "run.sh",
        "kind": "mode_changed",
        "old_mode": "0644",
        "new_mode": "0755",
        "size": 4,
        "binary": False,
    }
    assert change_json(Change("x", ChangeKind.TYPE, DIR, FILE).to_json())["kind"] == "type_changed"
    gone = change_json(Change("x", ChangeKind.DELETED, FILE, None).to_json())
    assert (gone["kind"], gone["new_mode"], gone["size"]) == ("deleted", None, 4)
