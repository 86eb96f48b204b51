"""The client's prepared statements and portals on one connection, by name, as goex judged
them, and which of them goex sent with its own RETURNING (``images``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from goexdb.proxy.messages import Message
from goexdb.proxy.statements import Verdict

Settle = Callable[[Message | None, list[Message]], None]


@dataclass(frozen=True)
class _Made:
    """A verdict as one Parse or Bind recorded it: its own object, so that a later answer
    undoes only what its own message recorded."""

    verdict: Verdict

    def __post_init__(self) -> None:
        object.__setattr__(self, "verdict", replace(self.verdict))


class Names:
    def __init__(self) -> None:
        self._statements: dict[str, Verdict] = {}
        self._portals: dict[str, Verdict] = {}
        self._imaged: set[tuple[bytes, str]] = set()  # (b"S" or b"P", name)

    def parsed(self, name: str, verdict: Verdict, *, imaged: bool) -> Settle:
        """A statement sent to be parsed; what to call with the server's answer, which undoes
        this unless the server parsed it (it refused, or skipped it after an error)."""
        return self._made(self._statements, b"S", name, verdict, imaged)

    def bound(self, portal: str, statement: str) -> Settle | None:
        """A portal sent to be made of a statement (what to call with the answer), or None for
        a statement goex never saw prepared: then nothing is sent."""
        verdict = self._statements.get(statement)
        if verdict is None:
            return None
        return self._made(self._portals, b"P", portal, verdict, (b"S", statement) in self._imaged)

    def _made(
        self, names: dict[str, Verdict], kind: bytes, name: str, verdict: Verdict, imaged: bool
    ) -> Settle:
        before = names.get(name), (kind, name) in self._imaged
        made = _Made(verdict)
        names[name] = made.verdict
        self._mark(kind, name, imaged)
        done = {b"S": b"1", b"P": b"2"}[kind]

        def settle(final: Message | None, _: list[Message]) -> None:
            if (final is None or final.type != done) and names.get(name) is made.verdict:
                if before[0] is None:
                    names.pop(name, None)
                else:
                    names[name] = before[0]
                self._mark(kind, name, before[1])

        return settle

    def portal(self, name: str) -> Verdict | None:
        return self._portals.get(name)

    def copies_in(self, portal: str) -> bool:
        """Whether the portal runs COPY FROM STDIN (the client's data comes next)."""
        verdict = self._portals.get(portal)
        statement = verdict.statement if verdict is not None else None
        return (
            verdict is not None
            and verdict.writes
            and statement is not None
            and (statement.verb == "copy")
        )

    def imaged(self, kind: bytes, name: str) -> bool:
        return (kind, name) in self._imaged

    def closed(self, kind: bytes, name: str) -> None:
        (self._statements if kind == b"S" else self._portals).pop(name, None)
        self._imaged.discard((kind, name))

    def _mark(self, kind: bytes, name: str, imaged: bool) -> None:
        if imaged:
            self._imaged.add((kind, name))
        else:
            self._imaged.discard((kind, name))


def ours(name: str) -> bool:
    """goex's own prepared statements and portal on the connection, which a client may not
    name (it could close or replace them)."""
    return name == "goex" or name.startswith("goex_")
