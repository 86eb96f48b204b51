"""goex-fs recover and gc: finish what a crash interrupted, and clean up what is left over."""

from __future__ import annotations

from typing import Annotated

import typer

from core.cli import Format, FormatOption
from core.config import load_config
from core.errors import UsageError
from core.redact import Redactor
from core.render import make_console, print_json
from goexfs.apply.recover import recover
from goexfs.cli.options import DirOption, journal, root_of
from goexfs.gc import collect
from goexfs.tree.diff import shown_path


def recover_command(directory: DirOption = None, fmt: FormatOption = Format.TEXT) -> None:
    """Finish or revert a commit or undo that a crash interrupted: an undo is finished; a
    commit is finished if its staged copy is intact, else reverted from its pre-images."""
    root = root_of(directory)
    with journal(root) as log:
        results = recover(root, log)
    if fmt is Format.JSON:
        print_json([r.to_json() for r in results], Redactor())
        return
    console = make_console()
    if not results:
        console.print(f"nothing to recover in {root}", markup=False)
    for result in results:
        console.print(
            f"{result.step} of action {result.action_id}: {result.outcome}; now "
            f"{result.status.value}",
            markup=False,
            highlight=False,
        )
        for path in result.left:
            console.print(f"left as it is: {shown_path(path)}", markup=False)


def gc_command(
    max_age_days: Annotated[
        float | None,
        typer.Option("--max-age-days", help="age budget (default: [fs] gc_max_age_days)"),
    ] = None,
    max_bytes: Annotated[
        int | None, typer.Option("--max-bytes", help="size budget (default: [fs] gc_max_bytes)")
    ] = None,
    directory: DirOption = None,
    fmt: FormatOption = Format.TEXT,
) -> None:
    """Remove staged copies and pre-images goex no longer needs or that are past the age or
    size budget; never those an interrupted commit or a young kept action needs."""
    root = root_of(directory)
    if max_age_days is not None and max_age_days < 0:
        raise UsageError(f"--max-age-days must not be negative, not {max_age_days:g}")
    if max_bytes is not None and max_bytes < 0:
        raise UsageError(f"--max-bytes must not be negative, not {max_bytes}")
    config = load_config(root)
    with journal(root) as log:
        freed = collect(
            root,
            log,
            max_age_days=config.fs.gc_max_age_days if max_age_days is None else max_age_days,
            max_bytes=config.fs.gc_max_bytes if max_bytes is None else max_bytes,
        )
    total = sum(f.item.size for f in freed)
    if fmt is Format.JSON:
        print_json(
            {"freed_bytes": total, "removed": [f.item.to_json(f.reason) for f in freed]},
            Redactor(),
        )
        return
    console = make_console()
    for f in freed:
        console.print(
            f"removed {f.item.kind} {f.item.path} ({f.item.size} bytes): {f.reason}",
            markup=False,
            highlight=False,
        )
    console.print(f"freed {total} bytes in {len(freed)} item(s)", markup=False, highlight=False)
