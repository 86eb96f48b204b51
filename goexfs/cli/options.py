"""Options and helpers the goex-fs commands share."""

from pathlib import Path
from typing import Annotated

import typer

from core.action import Kind
from core.errors import StateError
from core.journal import Journal, Location, default_path, journal_exists
from goexfs.project import project_root

DirOption = Annotated[
    Path | None, typer.Option("--dir", "-C", help="the project directory (default: current)")
]


def root_of(directory: Path | str | None) -> Path:
    return project_root(Path(directory) if directory else Path.cwd())


def journal(root: Path) -> Journal:
    """The project's goex-fs journal (``<root>/.goex/``, or GOEX_HOME)."""
    return Journal(default_path(Kind.FS, root))


def existing_journal(directory: str | None) -> Location:
    """The journal of an existing project, for the commands that only read it: never a new,
    stray journal in whatever directory they were run from."""
    root = root_of(directory)
    path = default_path(Kind.FS, root)
    if not journal_exists(path):
        raise StateError(
            f"{root} has no goex-fs journal ({path}); run there, or name the project with -C DIR"
        )
    return path
