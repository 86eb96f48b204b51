"""The git backend: a shadow repository snapshots the project, and the staged tree is checked
out of it. The user's own ``.git`` is never read, written or used.

The shadow repository is ``<root>/.goex/git`` (``GIT_DIR``), with the project as its work tree
and an index of its own. Each staging runs ``git add --all --force`` there — incremental, as
git's index remembers each file's stat data and rehashes only what changed since the last
staging — then ``git write-tree``, and checks the tree out into the staging directory through
a second, private index (``checkout-index``). ``--force`` means ignored files are in the
snapshot too: the action sees the project as it is, not as ``.gitignore`` describes it.

Git does not record everything a project holds, so a walk of the project (``lstat`` only)
completes the checkout: empty directories, directory modes, and file modes other than 644/755.
Attributes that would rewrite contents on checkout (``text``, ``eol``, ``filter``, ``ident``,
``working-tree-encoding``) are switched off in the shadow repository's ``info/attributes``,
which overrides the project's ``.gitattributes``; hooks and the user's git config are not
used. Not staged: ``.git`` directories (git cannot store them), and so the working files of a
nested repository; the before side skips them too, so they are never reported or committed.

Nothing is hashed twice: the before side is read lazily from the real project for the changed
paths, guarded by the stage mark (``LookupBefore``); the changed paths come from the watchdog
recorder (``goexfs.backends.watch``).
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from core.errors import TargetError
from core.interrupt import deferred
from goexfs.backends.base import BackendUnavailable, refuse_if_unavailable
from goexfs.backends.before import LookupBefore, stage_mark
from goexfs.backends.staging import (
    TreeStaging,
    make_location,
    private_dir,
    remove_tree,
    resume_tree,
)
from goexfs.tree.manifest import walk
from goexfs.tree.paths import INTERNAL_DIR

SHADOW = "git"
NOT_STAGED = (".git",)
ATTRIBUTES = "* -text -eol -filter -ident -working-tree-encoding\n"
CONFIG = (
    "core.autocrlf=false",
    "core.symlinks=true",
    "core.filemode=true",
    "core.hooksPath=/dev/null",
    "core.fsmonitor=false",
    "gc.auto=0",
)
TIMEOUT = 600.0


@dataclass(frozen=True)
class GitStager:
    """Stages a project through a shadow git repository (see the module docstring)."""

    name: ClassVar[str] = "git"
    record: bool = True

    @staticmethod
    def unavailable(root: Path) -> str | None:
        """Why the git backend cannot stage root here (None when it can be tried)."""
        if shutil.which("git") is None:
            return "git is not installed"
        return None

    @staticmethod
    def resume(location: Path) -> TreeStaging:
        """A kept git staging: an ordinary tree (``resume_tree``)."""
        return resume_tree(location)

    def stage(self, root: Path, workspace: Path) -> TreeStaging:
        if not root.is_dir():
            raise TargetError(f"{root} is not a directory")
        refuse_if_unavailable(self.name, self.unavailable(root))
        shadow = _shadow(root)
        location = make_location(workspace, "git-")
        tree = location / "tree"
        try:
            before = LookupBefore(root, stage_mark(location), skip=NOT_STAGED)
            _git(shadow, root, "add", "--all", "--force", "--", ".", f":(exclude){INTERNAL_DIR}")
            tree_id = _git(shadow, root, "write-tree").strip()
            os.mkdir(tree, 0o700)
            private = {"GIT_INDEX_FILE": str(location / "index")}
            _git(shadow, tree, "read-tree", tree_id, env=private)
            _git(shadow, tree, "checkout-index", "--all", "--force", env=private)
            os.unlink(location / "index")
            _complete(root, tree)
            staged = TreeStaging(self.name, root, tree, location, before)
            staged.extra["tree_id"] = tree_id
            staged.ready(record=self.record)
        except BaseException:
            with deferred():  # a second Ctrl-C does not leave half a clean-up
                remove_tree(location)
            raise
        return staged


def _shadow(root: Path) -> Path:
    """The shadow repository, created on first use."""
    shadow = root / INTERNAL_DIR / SHADOW
    if not (shadow / "HEAD").exists():
        shadow.parent.mkdir(mode=0o700, exist_ok=True)
        private_dir(shadow)
        _git(shadow, None, "init", "--quiet", "--bare", str(shadow))
    attributes = shadow / "info" / "attributes"
    attributes.parent.mkdir(mode=0o700, exist_ok=True)
    attributes.write_text(ATTRIBUTES, encoding="utf-8")
    return shadow


def _git(
    shadow: Path, work_tree: Path | None, *args: str, env: dict[str, str] | None = None
) -> str:
    config = [item for pair in CONFIG for item in ("-c", pair)]
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "GIT_DIR": str(shadow),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_ATTR_NOSYSTEM": "1",
        "GIT_TERMINAL_PROMPT": "0",
        "HOME": str(shadow),
        **(env or {}),
    }
    if work_tree is not None:
        environment["GIT_WORK_TREE"] = str(work_tree)
    try:
        done = subprocess.run(
            ["git", *config, *args],
            cwd=work_tree or shadow.parent,
            env=environment,
            capture_output=True,
            timeout=TIMEOUT,
            check=True,
        )
    except subprocess.CalledProcessError as exc:
        detail = os.fsdecode(exc.stderr or b"").strip().splitlines()
        raise BackendUnavailable(
            "git", f"git {args[0]} failed: {detail[-1] if detail else exc.returncode}"
        ) from exc
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BackendUnavailable("git", f"cannot run git {args[0]}: {exc}") from exc
    return os.fsdecode(done.stdout)


def _not_staged(rel: str) -> bool:
    return rel.rsplit("/", 1)[-1] in NOT_STAGED


def _complete(root: Path, tree: Path) -> None:
    """Give the checkout what git does not keep: empty directories and exact modes."""
    directories: list[tuple[Path, int]] = []
    for rel, source in walk(root, skip=(INTERNAL_DIR,), prune=_not_staged):
        if any(part in NOT_STAGED for part in rel.split("/")):
            continue
        info = os.lstat(source)
        target = tree / rel
        mode = stat.S_IMODE(info.st_mode)
        if stat.S_ISDIR(info.st_mode):
            if not os.path.lexists(target):
                os.mkdir(target, 0o700)
            directories.append((target, mode))
        elif stat.S_ISREG(info.st_mode):
            try:
                staged = os.lstat(target)
            except FileNotFoundError:
                continue  # a nested repository's file: git stored a gitlink instead
            if stat.S_ISREG(staged.st_mode) and stat.S_IMODE(staged.st_mode) != mode:
                os.chmod(target, mode)
    for path, mode in reversed(directories):
        if os.path.isdir(path) and not os.path.islink(path):
            os.chmod(path, mode)
    os.chmod(tree, stat.S_IMODE(os.stat(root).st_mode))
