"""What a clone is, for every engine: a throwaway copy of the target database that an action or
a dry-run may change freely, named so that ``goexdb.gc.collect`` finds the ones a crash left.

The engines' own ways of cloning (``postgres/clone.py``, ``duckdb/clone.py``) make a ``Clone``;
``goexdb.clone`` picks the engine. Nothing here imports a backend.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from core.errors import UsageError
from goexdb.dsn import Target

CLONE_PREFIX = "goex_clone_"

# progress(done, total) while a slow copy runs; total is an estimate (0 when unknown)
Progress = Callable[[int, int], None]


@dataclass
class Clone:
    """A copy of ``source`` reachable as ``target``, dropped by ``drop()`` (idempotent)."""

    source: Target
    target: Target
    name: str
    strategy: str
    reason: str
    seconds: float
    _drop: Callable[[], None] = field(repr=False)
    dropped: bool = False

    def drop(self) -> None:
        if not self.dropped:
            self._drop()
            self.dropped = True

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "strategy": self.strategy,
            "reason": self.reason,
            "seconds": round(self.seconds, 3),
        }


def clone_name(tag: str) -> str:
    name = CLONE_PREFIX + tag.lower()
    if not re.fullmatch(r"[a-z0-9_]{1,63}", name):
        raise UsageError(f"{tag!r} cannot name a clone: use letters, digits and _ only")
    return name
