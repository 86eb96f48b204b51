"""The adversarial SQL corpus: one file per case, a header that says what it tries and what
must happen, then the SQL.

::

    -- tries: COMMIT after a DELETE, to end goex's transaction early and keep the delete
    -- expect: refused                  refused | neutralised | harmless
    -- backends: postgres, duckdb
    -- message: goex owns the transaction
    -- decide: commit                   optional; the agent's own choice (default commit)
    -- exit: 4                          optional; default from expect and decide (_default_exit)
    -- measured: orders.deleted = 3     optional, repeatable: what the staged run measured
    -- survives: sequences              optional: parts of the fingerprint a rollback cannot
                                        restore; goex must report them as not undone
    DELETE FROM orders WHERE id < 4;
    COMMIT;

* **refused**: nothing runs; one ``error: ...`` line holding the message; the action, if
  journaled at all, never reached ``staged``.
* **neutralised**: it runs inside the held transaction, its effects are measured, and it is
  rolled back or rejected (the message is in the decision or the violations).
* **harmless**: it must run (no false refusal for a keyword hidden in a string) and change
  nothing.

The body may hold ``{{repeat N:TEXT}}`` (TEXT N times), ``{{byte XX}}`` (one raw byte, for NUL
and invalid UTF-8, which a text file in git should not hold) and ``{{tmp}}`` (a scratch
directory that must stay empty: a file written there is an escape).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

CORPUS = Path(__file__).parent / "sql"
BACKENDS = ("postgres", "duckdb")
EXPECTATIONS = ("refused", "neutralised", "harmless")
DECISIONS = ("commit", "rollback", "policy")

_HEADER = re.compile(rb"^-- ([a-z]+): ?(.*)$")
_MACRO = re.compile(rb"\{\{(repeat (\d+):(.*?)|byte ([0-9a-fA-F]{2})|tmp)\}\}", re.DOTALL)


@dataclass(frozen=True)
class Measured:
    table: str  # bare name, matched against schema.table
    column: str  # inserted | updated | deleted
    rows: int


@dataclass(frozen=True)
class Case:
    name: str
    tries: str
    expect: str
    backends: tuple[str, ...]
    message: str
    decide: str
    exit_code: int
    measured: tuple[Measured, ...] = ()
    survives: tuple[str, ...] = ()
    body: bytes = field(default=b"", repr=False)

    def sql(self, tmp: Path) -> bytes:
        """The SQL to run, macros expanded."""

        def expand(match: re.Match[bytes]) -> bytes:
            if match.group(2) is not None:
                return match.group(3) * int(match.group(2))
            if match.group(4) is not None:
                return bytes.fromhex(match.group(4).decode())
            return str(tmp).encode()

        return _MACRO.sub(expand, self.body)


class CorpusError(ValueError):
    pass


def parse_case(path: Path) -> Case:
    header: dict[str, list[str]] = {}
    lines = path.read_bytes().split(b"\n")
    body_start = 0
    for number, line in enumerate(lines):
        match = _HEADER.match(line)
        if match is None:
            body_start = number
            break
        header.setdefault(match.group(1).decode(), []).append(match.group(2).decode().strip())
    else:
        raise CorpusError(f"{path.name}: no SQL after the header")
    body = b"\n".join(lines[body_start:]).strip()

    def one(key: str, default: str | None = None) -> str:
        values = header.pop(key, [] if default is None else [default])
        if len(values) != 1 or not values[0]:
            raise CorpusError(f"{path.name}: exactly one non-empty '-- {key}:' line is needed")
        return values[0]

    tries, expect, message = one("tries"), one("expect"), one("message")
    backends = tuple(b.strip() for b in one("backends").split(","))
    decide = one("decide", "commit")
    exit_code = int(one("exit", str(_default_exit(expect, decide))))
    measured = tuple(_measured(path, text) for text in header.pop("measured", []))
    survives = tuple(p.strip() for text in header.pop("survives", []) for p in text.split(","))
    if header:
        raise CorpusError(f"{path.name}: unknown header line(s) {sorted(header)}")
    if expect not in EXPECTATIONS:
        raise CorpusError(f"{path.name}: expect must be one of {sorted(EXPECTATIONS)}")
    if not set(backends) <= set(BACKENDS) or not backends:
        raise CorpusError(f"{path.name}: backends must be among {BACKENDS}")
    if decide not in DECISIONS:
        raise CorpusError(f"{path.name}: decide must be one of {DECISIONS}")
    if not body:
        raise CorpusError(f"{path.name}: no SQL after the header")
    return Case(
        path.stem, tries, expect, backends, message, decide, exit_code, measured, survives, body
    )


def _default_exit(expect: str, decide: str) -> int:
    """Refused: 4. Neutralised: 3 when rolled back, 4 when policy rejects it. Harmless: 0 when
    committed, 3 when rolled back."""
    if expect == "refused":
        return 4
    if expect == "neutralised":
        return 3 if decide == "rollback" else 4
    return 0 if decide == "commit" else 3


def _measured(path: Path, text: str) -> Measured:
    match = re.fullmatch(r"(\w+)\.(inserted|updated|deleted) = (\d+)", text)
    if match is None:
        raise CorpusError(f"{path.name}: measured must read 'table.deleted = N', not {text!r}")
    return Measured(match.group(1), match.group(2), int(match.group(3)))


def load_cases(directory: Path = CORPUS) -> list[Case]:
    return [parse_case(path) for path in sorted(directory.glob("*.sql"))]
