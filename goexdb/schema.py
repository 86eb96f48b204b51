"""What the model is told about a database — ``goex-db run PROMPT`` and goex-mcp's
``db_schema`` alike: compact and bounded, and never a row of data.

A partitioned table appears once, with its partition key and how many partitions it has (its
partitions repeat its columns, and are left out); enum and domain types are listed once, before
the tables; views with their columns. Over the budget (``[model] schema_budget``, in estimated
tokens: four characters each) the relations most relevant to the task come first, described in
full while the budget lasts, and the rest are named only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

CHARS_PER_TOKEN = 4
TAIL = 100  # characters kept for the line that names what did not fit
KEY_KINDS = ("PRIMARY KEY", "FOREIGN KEY", "UNIQUE")
_WORD = re.compile(r"[a-z0-9]{3,}")
# relkind (PostgreSQL) or the engine's own word -> how a relation is written
KINDS = {
    "r": "TABLE",
    "p": "TABLE",
    "v": "VIEW",
    "m": "MATERIALIZED VIEW",
    "f": "FOREIGN TABLE",
    "table": "TABLE",
    "view": "VIEW",
}


@dataclass
class Relation:
    name: str  # schema.name
    kind: str  # TABLE, VIEW, MATERIALIZED VIEW, FOREIGN TABLE
    columns: list[tuple[str, str]] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    rows: int = -1  # approximate; negative when the engine does not know
    partition_key: str | None = None
    partitions: int = 0

    def line(self) -> str:
        columns = ", ".join(f"{name} {dtype}" for name, dtype in self.columns)
        keys = "".join(f"; {key}" for key in self.keys)
        text = f"{self.kind} {self.name}({columns}{keys})"
        if self.partition_key:
            text += f" PARTITION BY {self.partition_key}, {self.partitions} partitions"
        return text + (f" (~{self.rows} rows)" if self.rows >= 0 else "")

    def relevance(self, words: set[str]) -> int:
        """How much the task's words name this relation (3 each) or its columns (1 each)."""
        bare = self.name.rpartition(".")[2].lower()
        score = 3 * sum(_names(word, bare) for word in words)
        return score + sum(_names(w, c.lower()) for w in words for c, _ in self.columns)


def _names(word: str, name: str) -> bool:
    """A word of the task names this (orders ~ order, customer_id ~ customer)."""
    return any(part.startswith(word) or word.startswith(part) for part in _WORD.findall(name))


@dataclass
class Schema:
    relations: list[Relation] = field(default_factory=list)
    types: list[tuple[str, str]] = field(default_factory=list)  # enum and domain definitions

    def describe(self, budget: int, task: str | None = None) -> str:
        """The text for the model, at most about ``budget`` tokens."""
        limit = budget * CHARS_PER_TOKEN
        lines = [f"TYPE {name} AS {definition}" for name, definition in self.types]
        used = sum(len(line) + 1 for line in lines)
        relations = self._by_relevance(task)
        for index, relation in enumerate(relations):
            line = relation.line()
            if used + len(line) + 1 > limit - TAIL:
                lines.append(_named_only(relations[index:], limit - used))
                break
            lines.append(line)
            used += len(line) + 1
        return "\n".join(lines) or "(no tables)"

    def _by_relevance(self, task: str | None) -> list[Relation]:
        words = set(_WORD.findall(task.lower())) if task else set()
        if not words:
            return list(self.relations)
        return sorted(self.relations, key=lambda r: -r.relevance(words))


def _named_only(rest: Sequence[Relation], room: int) -> str:
    """The last line: the relations left out, named while there is room (``TAIL`` at least)."""
    head = f"-- {len(rest)} more relations, over the schema budget (named only):"
    names: list[str] = []
    used = len(head) + len(" … and 99999 more")
    for relation in rest:
        if used + len(relation.name) + 2 > room:
            break
        names.append(relation.name)
        used += len(relation.name) + 2
    more = f" … and {len(rest) - len(names)} more" if len(names) < len(rest) else ""
    return f"{head} {', '.join(names)}{more}"


def read_schema(
    relations: Iterable[Sequence[Any]],
    columns: Iterable[Sequence[Any]],
    constraints: Iterable[Sequence[Any]],
    types: Iterable[Sequence[Any]] = (),
) -> Schema:
    """A schema from an engine's rows: relations (name, kind, is a partition, partition key,
    partitions, approximate rows), columns (relation, name, type, ...), constraints (key,
    relation, name, definition) and types (name, definition)."""
    found: dict[str, Relation] = {}
    for name, kind, partition, key, partitions, rows in relations:
        if not partition:
            found[name] = Relation(
                name,
                KINDS.get(kind, "TABLE"),
                rows=int(rows),
                partition_key=key,
                partitions=int(partitions or 0),
            )
    for relation, column, dtype, *_ in columns:
        if relation in found:
            found[relation].columns.append((column, dtype))
    for _, relation, _, definition in sorted(constraints, key=lambda c: (c[1], c[2])):
        if relation in found and str(definition).startswith(KEY_KINDS):
            found[relation].keys.append(definition)
    return Schema(list(found.values()), [(str(n), str(d)) for n, d in types])
