"""A unified diff as the review page shows it: line by line with its kind, or side by side."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Line:
    kind: str  # "add", "del", "ctx", "hunk", "file"
    text: str


@dataclass(frozen=True)
class Pair:
    """One row of the side-by-side view: the old line and the new, either may be absent."""

    old: Line | None
    new: Line | None


def unified_view(diff: str) -> list[Line]:
    return [_line(text) for text in diff.splitlines()]


def split_view(diff: str) -> list[Pair]:
    """Removed lines beside the added lines that replace them; context on both sides."""
    rows: list[Pair] = []
    removed: list[Line] = []
    added: list[Line] = []

    def flush() -> None:
        for i in range(max(len(removed), len(added))):
            rows.append(
                Pair(removed[i] if i < len(removed) else None, added[i] if i < len(added) else None)
            )
        removed.clear()
        added.clear()

    for line in unified_view(diff):
        if line.kind == "del":
            if added:
                flush()
            removed.append(line)
        elif line.kind == "add":
            added.append(line)
        else:
            flush()
            rows.append(Pair(line, line))
    flush()
    return rows


def _line(text: str) -> Line:
    if text.startswith(("--- ", "+++ ")):
        return Line("file", text)
    if text.startswith("@@"):
        return Line("hunk", text)
    if text.startswith("+"):
        return Line("add", text[1:])
    if text.startswith("-"):
        return Line("del", text[1:])
    return Line("ctx", text[1:] if text.startswith(" ") else text)
