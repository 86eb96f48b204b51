"""The client's prepared statements and portals on one connection, by name, as goex judged
them, and which of them goex sent with its own RETURNING (``images``)."""

from __future__ import annotations

from goexdb.proxy.statements import Verdict


class Names:
    def __init__(self) -> None:
        self._statements: dict[str, Verdict] = {}
        self._portals: dict[str, Verdict] = {}
        self._imaged: set[tuple[bytes, str]] = set()  # (b"S" or b"P", name)

    def parsed(self, name: str, verdict: Verdict, *, imaged: bool) -> None:
        self._statements[name] = verdict
        self._mark(b"S", name, imaged)

    def bound(self, portal: str, statement: str) -> Verdict | None:
        """A portal made of a statement: its verdict, or None for a statement goex never saw
        prepared (the portal is then not made)."""
        verdict = self._statements.get(statement)
        if verdict is not None:
            self._portals[portal] = verdict
            self._mark(b"P", portal, (b"S", statement) in self._imaged)
        return verdict

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
