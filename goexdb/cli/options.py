"""Options and helpers the goex-db commands share."""

from typing import Annotated

import typer

from core.action import Kind
from core.journal import Journal, default_path
from core.render import CopyProgress, make_console

DsnOption = Annotated[
    str | None,
    typer.Option(
        help="postgresql:// URL, libpq key=value string or duckdb:PATH "
        "(default: GOEX_DSN, then DATABASE_URL)"
    ),
]
ActionDsnOption = Annotated[
    str | None,
    typer.Option(
        "--dsn", help="the action's database (default: GOEX_DSN, DATABASE_URL, its target)"
    ),
]


def journal() -> Journal:
    """goex-db's journal (in the user's state directory, or GOEX_HOME)."""
    return Journal(default_path(Kind.DB))


def clone_progress() -> CopyProgress:
    """The bar shown on stderr while a clone is made by pg_dump | pg_restore (the slow way)."""
    return CopyProgress(make_console(stderr=True), "cloning by pg_dump | pg_restore")
