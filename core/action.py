"""The Action record, its Status state machine, the decide Mode and the Decision bound to it.

One lifecycle for both sides::

    proposed ─► staged ─► committed ─► undone
        │          ├────► rolled_back      (also straight from proposed: interrupted)
        │          ├────► rejected
        └──────────┴────► failed

An illegal transition raises ``StateError``: nothing can jump from ``rolled_back`` back to
``committed``, or commit something that was never staged.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from core.errors import StateError
from core.redact import redact_target


class Kind(StrEnum):
    DB = "db"
    FS = "fs"


class Status(StrEnum):
    PROPOSED = "proposed"
    STAGED = "staged"
    COMMITTED = "committed"
    ROLLED_BACK = "rolled_back"
    REJECTED = "rejected"
    FAILED = "failed"
    OUTCOME_UNKNOWN = "outcome_unknown"  # the connection was lost during COMMIT
    UNDONE = "undone"

    @property
    def is_final(self) -> bool:
        return not TRANSITIONS[self]


TRANSITIONS: Mapping[Status, frozenset[Status]] = {
    # rolled back before it was staged: interrupted while its work was being staged
    Status.PROPOSED: frozenset({Status.STAGED, Status.ROLLED_BACK, Status.REJECTED, Status.FAILED}),
    Status.STAGED: frozenset(
        {
            Status.COMMITTED,
            Status.ROLLED_BACK,
            Status.REJECTED,
            Status.FAILED,
            Status.OUTCOME_UNKNOWN,
        }
    ),
    Status.COMMITTED: frozenset({Status.UNDONE}),
    Status.ROLLED_BACK: frozenset(),
    Status.REJECTED: frozenset(),
    Status.FAILED: frozenset(),
    Status.OUTCOME_UNKNOWN: frozenset(),
    Status.UNDONE: frozenset(),
}


class Mode(StrEnum):
    """Who decides (``--decide``, ``[review] decide``); see ``core.review``."""

    ASK = "ask"
    COMMIT = "commit"
    ROLLBACK = "rollback"
    POLICY = "policy"
    LLM = "llm"
    KEEP = "keep"
    PERSON = "person"


class Verdict(StrEnum):
    """What a reviewer decided: the four outcomes of review."""

    COMMIT = "commit"
    ROLLBACK = "rollback"
    REJECT = "reject"
    KEEP = "keep"


@dataclass(frozen=True)
class Decision:
    """Who decided what and why, bound to the digest of what they saw (invariant 5).

    ``paths`` narrows a file action's commit to those paths (and what is under them); empty
    means all of it."""

    by: str
    verdict: Verdict
    reason: str
    digest: str
    at: str = field(default_factory=lambda: now_iso())
    paths: tuple[str, ...] = ()

    def carries_out(self, answer: Decision | None) -> bool:
        """Whether this is the recorded ``answer`` as it is carried out: the same decision, or
        its commit of everything narrowed to some paths (by whoever asked for the commit)."""
        if answer is None:
            return False
        narrowed = answer.verdict is Verdict.COMMIT and not answer.paths
        return self == answer or (narrowed and replace(self, paths=()) == answer)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "by": self.by,
            "verdict": self.verdict.value,
            "reason": self.reason,
            "digest": self.digest,
            "at": self.at,
        }
        if self.paths:
            data["paths"] = list(self.paths)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Decision:
        return cls(
            by=str(data["by"]),
            verdict=Verdict(data["verdict"]),
            reason=str(data["reason"]),
            digest=str(data["digest"]),
            at=str(data["at"]),
            paths=tuple(str(p) for p in data.get("paths") or ()),
        )


_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower case
_EPOCH_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z


_TAILS = 32 * 32
_last_lock = threading.Lock()
_last = (0, 0)  # (ms, tail) of the last id this process made for "now"


def _forget_last() -> None:
    global _last
    _last = (0, 0)


os.register_at_fork(after_in_child=_forget_last)  # a child must not continue the parent's run


def new_action_id(now_ms: int | None = None) -> str:
    """A 10-character id: 8 of milliseconds since 2024 (sorts by time until 2058) + 2 random.

    Ids made for "now" strictly increase within a process: another id in the same millisecond
    takes the next tail rather than a random one, which would repeat one time in 1024.
    """
    global _last
    tail = secrets.randbelow(_TAILS)
    if now_ms is None:
        with _last_lock:
            ms = time.time_ns() // 1_000_000
            last_ms, last_tail = _last
            if ms <= last_ms:
                ms, tail = last_ms, last_tail + 1
                if tail == _TAILS:  # a full millisecond: borrow the next one
                    ms, tail = last_ms + 1, secrets.randbelow(_TAILS)
            _last = (ms, tail)
    else:
        ms = now_ms
    value = (ms - _EPOCH_MS) * _TAILS + tail
    digits = []
    for _ in range(10):
        value, rem = divmod(value, 32)
        digits.append(_ALPHABET[rem])
    return "".join(reversed(digits))


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def digest_of(code: str, effects: Mapping[str, Any] | None) -> str:
    """sha256 of the code and its measured effects, canonically serialised."""
    blob = json.dumps(
        {"code": code, "effects": effects or {}}, sort_keys=True, separators=(",", ":"), default=str
    )
    return hashlib.sha256(blob.encode()).hexdigest()


@dataclass
class Action:
    """One agent action on one target, from proposal to its final status."""

    kind: Kind
    target: str
    code: str
    prompt: str | None = None
    id: str = field(default_factory=new_action_id)
    digest: str | None = None
    history: list[tuple[Status, str]] = field(default_factory=list)
    decision: Decision | None = None

    def __post_init__(self) -> None:
        self.target = redact_target(self.target)
        if not self.history:
            self.history.append((Status.PROPOSED, now_iso()))

    @property
    def status(self) -> Status:
        return self.history[-1][0]

    def advance(self, status: Status) -> None:
        if status not in TRANSITIONS[self.status]:
            raise StateError(
                f"action {self.id} cannot go from {self.status.value} to {status.value}"
            )
        self.history.append((status, now_iso()))

    def bind(self, effects: Mapping[str, Any] | None) -> str:
        """Compute and keep the digest of this action's code and measured effects."""
        self.digest = digest_of(self.code, effects)
        return self.digest

    def decide(self, decision: Decision) -> None:
        """Attach a decision; it must have been made on exactly what is bound now."""
        if self.digest is None or decision.digest != self.digest:
            raise StateError(
                f"decision for action {self.id} was made on different code or effects "
                "than were measured; review again"
            )
        self.decision = decision

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind.value,
            "target": self.target,
            "prompt": self.prompt,
            "code": self.code,
            "digest": self.digest,
            "status": self.status.value,
            "history": [{"status": s.value, "at": at} for s, at in self.history],
            "decision": self.decision.to_json() if self.decision else None,
        }
