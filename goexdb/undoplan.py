"""The plan an undo runs: its statements, the guards that must each change so many rows, and
the checks that must each find none (``goexdb.compensate`` makes one; ``goexdb.undo.refusal``
reads its results)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from goexdb.effects import StatementImages, StatementResult
from goexdb.sql import Statement


@dataclass(frozen=True)
class Guard:
    """A plan statement that must change ``rows`` rows, as many as its images: fewer, and rows
    changed since the action (a ``changed`` check, in the listing plan, says which)."""

    statement: int
    table: str
    rows: int


@dataclass(frozen=True)
class Check:
    """A plan statement that lists rows of a table it found wrong, expecting none: ``changed``
    — rows not as the action left them (their after-image), or whose key is taken again;
    ``held``, run first — a created table or column the undo drops that holds data written
    since (its name); ``relabelled``, run first — enum members whose label changed since;
    ``inexact``, after an action that changed the schema too, run before the
    schema is put back — rows not restored exactly (before-image, the row now; otherwise
    ``Restored`` checks them once the plan ran)."""

    statement: int
    table: str
    finds: str


@dataclass(frozen=True)
class Restored:
    """A check, once the undo has run, that rows of a table are back exactly: ``query`` lists
    each row that is not (its before-image, the row now; ``goexdb.undo.unrestored``), with the
    texts it binds."""

    table: str
    query: Callable[[], tuple[str, list[str]]]  # made when it is run: megabytes of images


@dataclass
class UndoPlan:
    statements: list[str] = field(default_factory=list)
    guards: list[Guard] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    restored: list[Restored] = field(default_factory=list)  # checked after the plan ran
    # the rows written back to a table without a key, as images: the rows its statements return
    # must be these (no key to read them back by)
    reinserted: dict[str, list[str]] = field(default_factory=dict)
    # what goex's classifier reads instead of a statement, as the same statement on the same
    # table: without a clause sqlglot cannot parse (INSERT ... OVERRIDING SYSTEM VALUE); and
    # ``light``, also without its images (a JSON literal of megabytes)
    readable: dict[int, str] = field(default_factory=dict)
    light: dict[int, str] = field(default_factory=dict)
    # ``shown``: as the undo action is journaled and reviewed (its code, its statements), each
    # JSON literal of images described, not written out: megabytes nobody reads, which the
    # undo record of the action undone keeps already
    shown: dict[int, str] = field(default_factory=dict)
    # a plan whose guards alone refuse (no ``changed`` checks, one pass over the images less):
    # how to make the plan that also lists the rows changed since, run once it is refused
    listing: Callable[[], UndoPlan] | None = None
    settings: dict[str, str] = field(default_factory=dict)  # the images' (``Effects.settings``)
    # the images a statement makes if its guard holds, by its text: the rows it changes are
    # those of its images, as they are (the guard compares their text), and become as their
    # other images (the next statement's guard on a row, or the check of rows restored, reads
    # them); so the undo's own images need not be read back from the database
    known: dict[str, StatementImages] = field(default_factory=dict)

    def failed(self, results: Sequence[StatementResult]) -> list[Guard]:
        """The guards whose statement did not change as many rows as it should: rows changed
        since the action."""
        return [g for g in self.guards if results[g.statement].rowcount != g.rows]

    def classified(
        self, classify: Callable[[str], list[Statement]], *, light: bool
    ) -> list[Statement]:
        """The statements as goex's classifier reads them, each with its own text to run.
        ``light`` only where the engine takes the undo's own row images from RETURNING, never
        by re-reading a statement's FROM and WHERE (whose tree would then lack the images), or
        where the plan knows them (``known``)."""
        statements: list[Statement] = []
        for index, text in enumerate(self.statements):
            lighter = light or text in self.known
            read = (self.light.get(index) if lighter else None) or self.readable.get(index)
            found = classify(text if read is None else read)
            statements.extend(s if read is None else replace(s, sql=text) for s in found)
        return statements

    @property
    def sql(self) -> str:
        return _script(self.statements)

    @property
    def shown_sql(self) -> str:
        return _script([self.shown.get(i, s) for i, s in enumerate(self.statements)])

    def show(self, results: Sequence[StatementResult]) -> None:
        """The results of the plan's statements, each with its SQL as shown (``shown``)."""
        by_text = {self.statements[i]: text for i, text in self.shown.items()}
        for result in results:
            result.sql = by_text.get(result.sql, result.sql)


def _script(statements: list[str]) -> str:
    return ";\n".join(statements) + ";\n" if statements else ""
