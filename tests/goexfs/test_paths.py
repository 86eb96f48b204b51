"""Pure path logic: normalisation, containment, symlink-safe resolution (pyfakefs), globs."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyfakefs.fake_filesystem import FakeFilesystem

from core.errors import PathError
from goexfs.tree.paths import (
    SecretPaths,
    contains,
    is_internal,
    is_secret_looking,
    match_glob,
    normalize,
    parents_of,
    relative_to,
    resolve_within,
)


@pytest.mark.parametrize(
    ("given", "expected"),
    [("a/b", "a/b"), ("./a//b/", "a/b"), ("a/./b", "a/b"), (".", ""), ("", "")],
)
def test_normalize(given: str, expected: str) -> None:
    assert normalize(given, allow_root=True) == expected


@pytest.mark.parametrize("bad", ["../x", "a/../../b", "a/..", "/etc/passwd", "a\0b"])
def test_normalize_rejects_escapes(bad: str) -> None:
    with pytest.raises(PathError):
        normalize(bad)


def test_normalize_rejects_root_unless_allowed() -> None:
    with pytest.raises(PathError, match="root"):
        normalize(".")


def test_contains_is_lexical_and_not_a_prefix_match() -> None:
    assert contains(Path("/p/root"), Path("/p/root/a/../b"))
    assert contains(Path("/p/root"), Path("/p/root"))
    assert not contains(Path("/p/root"), Path("/p/rootother/x"))
    assert not contains(Path("/p/root"), Path("/p/root/../x"))


def test_relative_to() -> None:
    root = Path("/p/root")
    assert relative_to(root, Path("/p/root/a/b")) == "a/b"
    assert relative_to(root, Path("a/./b")) == "a/b"
    assert relative_to(root, root) == ""
    with pytest.raises(PathError, match="outside"):
        relative_to(root, Path("/p/other"))
    with pytest.raises(PathError, match="outside"):
        relative_to(root, Path("../x"))


def test_parents_and_internal() -> None:
    assert parents_of("a/b/c") == ["a", "a/b"]
    assert parents_of("a") == []
    assert is_internal(".goex/journal.sqlite3")
    assert is_internal(".goex")
    assert not is_internal("sub/.goex")


def test_resolve_within_follows_inside_symlinks(fs: FakeFilesystem) -> None:
    fs.create_file("/proj/real/file.txt")
    fs.create_symlink("/proj/alias", "real")
    fs.create_symlink("/proj/abs-alias", "/proj/real")
    assert resolve_within(Path("/proj"), "alias/file.txt") == Path("/proj/real/file.txt")
    assert resolve_within(Path("/proj"), "abs-alias/file.txt") == Path("/proj/real/file.txt")
    assert resolve_within(Path("/proj"), "missing/x") == Path("/proj/missing/x")


def test_resolve_within_refuses_symlinks_out(fs: FakeFilesystem) -> None:
    fs.create_file("/etc/passwd")
    fs.create_dir("/proj")
    fs.create_symlink("/proj/etc", "/etc")
    fs.create_symlink("/proj/up", "../")
    with pytest.raises(PathError, match="outside"):
        resolve_within(Path("/proj"), "etc/passwd")
    with pytest.raises(PathError, match="outside"):
        resolve_within(Path("/proj"), "up/etc")


def test_resolve_within_detects_loops(fs: FakeFilesystem) -> None:
    fs.create_dir("/proj")
    fs.create_symlink("/proj/a", "b")
    fs.create_symlink("/proj/b", "a")
    with pytest.raises(PathError, match="too many symlinks"):
        resolve_within(Path("/proj"), "a/x")


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        (".env", ".env", True),
        (".env", "config/.env", True),  # no slash: any depth
        (".env", ".envrc", False),
        (".env.*", "app/.env.local", True),
        (".git/**", ".git", True),
        (".git/**", ".git/objects/ab/cd", True),
        (".git/**", "sub/.git/config", False),  # anchored: it has a slash
        ("**/*.pem", "a/b/key.pem", True),
        ("**/*.pem", "key.pem", True),
        ("src/*.py", "src/app.py", True),
        ("src/*.py", "src/pkg/app.py", False),  # * never crosses /
        ("src/**/test_*.py", "src/test_a.py", True),
        ("src/**/test_*.py", "src/x/y/test_a.py", True),
        ("build/", "out/build", True),
        ("file?.txt", "file1.txt", True),
        ("file?.txt", "file/.txt", False),
        ("[ab].txt", "a.txt", True),
        ("[!ab].txt", "c.txt", True),
        ("[!ab].txt", "a.txt", False),
        ("/top.txt", "top.txt", True),
        ("a+b(1).txt", "a+b(1).txt", True),
    ],
)
def test_match_glob(pattern: str, path: str, expected: bool) -> None:
    assert match_glob(pattern, path) is expected


def test_secret_looking() -> None:
    for path in (
        ".env",
        "app/.env.production",
        "certs/server.pem",
        "id_rsa",
        ".ssh/config",
        "config/secrets.toml",
        "credentials.json",
        "deploy/credentials",
    ):
        assert is_secret_looking(path), path
    # never source code for its name alone
    for path in ("README.md", "src/env.py", "keys.txt", "core/secrets.py", "lib/credentials.ts"):
        assert not is_secret_looking(path), path
    operator = SecretPaths(added=("config/*.yaml",), removed=("tests/fixtures/*.pem",))
    assert operator.covers("config/app.yaml") and not is_secret_looking("config/app.yaml")
    assert not operator.covers("tests/fixtures/test.pem") and operator.covers("certs/server.pem")
