"""What goex-review asks of each side (database, files), found by the entry points
``goex.review`` as goex-mcp finds its toolsets: core imports neither side.

A side turns an action's journaled effects into ``Section``s, which the page renders the same
way for both (a table with marked cells, a file's diff, a block of text); it checks that a
person may approve what policy would refuse; it picks a kept action up again to carry a decision
out on it; and it names the command that stages an action's undo.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Literal, Protocol

from core.action import Action, Kind, Verdict
from core.journal import Journal
from core.lifecycle import Staged

Mark = Literal["", "changed", "added", "removed"]


@dataclass(frozen=True)
class Cell:
    text: str
    mark: Mark = ""


@dataclass(frozen=True)
class Grid:
    """A table: a header row and rows of cells, some marked (a changed value, a new row)."""

    title: str
    columns: Sequence[str]
    rows: Sequence[Sequence[Cell]]
    note: str = ""
    type: str = field(default="grid", init=False)


@dataclass(frozen=True)
class Block:
    """Text shown as it is: SQL, a command, its output, a reason."""

    title: str
    text: str
    type: str = field(default="block", init=False)


@dataclass(frozen=True)
class FileChange:
    """One changed path: what changed besides its contents, and its unified diff if any."""

    path: str  # as the journal keeps it (what a decision names)
    shown: str  # as printed: quoted when it holds characters a terminal would act on
    kind: str
    about: Sequence[str]  # type, mode and symlink changes; a binary file's sizes
    diff: str | None
    type: str = field(default="file", init=False)


Section = Grid | Block | FileChange


class Side(Protocol):
    kind: Kind

    def sections(self, action: Action, recorded: Mapping[str, Any]) -> list[Section]:
        """The action's code and measured effects, for its page (before redaction)."""

    def check(self, action: Action, recorded: Mapping[str, Any], paths: Sequence[str]) -> None:
        """Refuse (PolicyRejected) an approval policy would refuse for any decider."""

    def reopen(self, journal: Journal, action: Action, verdict: Verdict) -> Staged:
        """A kept action, picked up again to carry ``verdict`` out on it."""

    def undo_argv(self, action: Action) -> list[str] | None:
        """The command that stages the undo of a committed action for a person to decide
        (None: the side's undo is not staged for a person)."""


def load_sides() -> dict[Kind, Side]:
    sides: dict[Kind, Side] = {}
    for point in entry_points(group="goex.review"):
        side: Side = point.load()()
        sides[side.kind] = side
    return sides


def records_grid(title: str, records: Sequence[Mapping[str, Any]]) -> Grid:
    """A table of JSON records, one column per key any of them has."""
    columns: list[str] = []
    for record in records:
        columns += [k for k in record if k not in columns]
    rows = [[Cell(_shown(record.get(c))) for c in columns] for record in records]
    return Grid(title, columns, rows)


def _shown(value: object) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value)
