"""The client's prepared statements and portals on one connection, by name, as goex judged
them, and which of them goex sent with its own RETURNING (``images``)."""

from __future__ import annotations

from collections.abc import Callable

from goexdb.proxy.messages import Message
from goexdb.proxy.statements import Verdict

Settle = Callable[[Message | None, list[Message]], None]


class _Made:
    """A verdict as one Parse or Bind recorded it, and whether goex sent it imaged: its own
    object, so that a later answer undoes only what its own message recorded."""

    __slots__ = ("imaged", "verdict")

    def __init__(self, verdict: Verdict, imaged: bool) -> None:
        self.verdict = verdict
        self.imaged = imaged


class Names:
    def __init__(self) -> None:
        self._statements: dict[str, _Made] = {}
        self._portals: dict[str, _Made] = {}

    def parsed(self, name: str, verdict: Verdict, *, imaged: bool) -> Settle:
        """A statement sent to be parsed; what to call with the server's answer, which undoes
        this unless the server parsed it (it refused, or skipped it after an error)."""
        return self._made(self._statements, b"1", name, _Made(verdict, imaged))

    def bound(self, portal: str, statement: str) -> Settle | None:
        """A portal sent to be made of a statement (what to call with the answer), or None for
        a statement goex never saw prepared: then nothing is sent."""
        made = self._statements.get(statement)
        if made is None:
            return None
        return self._made(self._portals, b"2", portal, _Made(made.verdict, made.imaged))

    @staticmethod
    def _made(names: dict[str, _Made], done: bytes, name: str, made: _Made) -> Settle:
        before = names.get(name)
        names[name] = made

        def settle(final: Message | None, _: list[Message]) -> None:
            if (final is None or final.type != done) and names.get(name) is made:
                if before is None:
                    names.pop(name, None)
                else:
                    names[name] = before

        return settle

    def portal(self, name: str) -> Verdict | None:
        made = self._portals.get(name)
        return None if made is None else made.verdict

    def copies_in(self, portal: str) -> bool:
        """Whether the portal runs COPY FROM STDIN (the client's data comes next)."""
        verdict = self.portal(portal)
        statement = verdict.statement if verdict is not None else None
        return (
            verdict is not None
            and verdict.writes
            and statement is not None
            and (statement.verb == "copy")
        )

    def imaged(self, kind: bytes, name: str) -> bool:
        made = (self._statements if kind == b"S" else self._portals).get(name)
        return made is not None and made.imaged

    def closed(self, kind: bytes, name: str) -> None:
        (self._statements if kind == b"S" else self._portals).pop(name, None)


def ours(name: str) -> bool:
    """goex's own prepared statements and portal on the connection, which a client may not
    name (it could close or replace them)."""
    return name == "goex" or name.startswith("goex_")
