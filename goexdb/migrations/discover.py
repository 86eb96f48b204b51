"""Which migration files a PATH names, in the order a migration tool would apply them.

Understood conventions (in one directory, not recursively):

* Flyway: ``V<version>__name.sql`` by version, compared numerically part by part (``V1_1`` and
  ``V1.1`` are 1.1, after ``V1`` and before ``V2`` and ``V10``); ``R__name.sql`` repeatables
  after every versioned file, by name; ``U<version>__`` undo files are not migrations.
* golang-migrate and dbmate: ``<n>_name.up.sql``; ``*.down.sql`` files are not migrations.
* Plain numbered files: ``1.sql``, ``0002_x.sql``, ``20240101120000_x.sql``, by number.
* Any other ``.sql`` file, by natural sort of its name (``a2`` before ``a10``).

Files named explicitly are ordered together with the ones found in directories, not kept in the
order given: a shell glob (``migrations/*.sql``) sorts ``V10`` before ``V2``, and the order that
matters is the tool's. A file named twice is linted once.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from core.errors import UsageError

_FLYWAY_VERSIONED = re.compile(r"^V(?P<version>\d+(?:[._]\d+)*)__.*\.sql$", re.IGNORECASE)
_FLYWAY_REPEATABLE = re.compile(r"^R__.*\.sql$", re.IGNORECASE)
_NOT_MIGRATIONS = re.compile(r"(\.down\.sql$)|(^U\d+(?:[._]\d+)*__.*\.sql$)", re.IGNORECASE)
_LEADING_NUMBER = re.compile(r"^(\d+)")
_DIGITS = re.compile(r"(\d+)")

SortKey = tuple[int, tuple[int, ...], tuple[tuple[int, str], ...], str]


def discover(paths: Sequence[Path]) -> list[Path]:
    """The migration files named by ``paths`` (``.sql`` files or directories), in order."""
    if not paths:
        raise UsageError("give at least one migration file or directory")
    found: dict[Path, None] = {}
    for path in paths:
        if path.is_dir():
            files = [p for p in path.iterdir() if p.is_file() and is_migration(p.name)]
            if not files:
                raise UsageError(f"directory {path} has no migrations (.sql files)")
            found.update(dict.fromkeys(files))
        elif path.is_file():
            found[path] = None
        else:
            raise UsageError(f"migration path {path} does not exist")
    return sorted(found, key=order_key)


def is_migration(name: str) -> bool:
    """Whether a file name found in a directory is a migration to apply."""
    return name.lower().endswith(".sql") and not _NOT_MIGRATIONS.search(name)


def order_key(path: Path) -> SortKey:
    """Repeatables after everything else; then by version (Flyway) or leading number; then by
    natural sort of the name; the full path breaks ties between directories."""
    name = path.name
    natural = tuple(_natural_part(part) for part in _DIGITS.split(name))
    versioned = _FLYWAY_VERSIONED.match(name)
    if versioned:
        version = tuple(int(n) for n in re.split(r"[._]", versioned["version"]))
        return (0, version, natural, str(path))
    if _FLYWAY_REPEATABLE.match(name):
        return (1, (), natural, str(path))
    number = _LEADING_NUMBER.match(name)
    return (0, (int(number[1]),) if number else (), natural, str(path))


def _natural_part(part: str) -> tuple[int, str]:
    return (int(part), "") if part.isdigit() else (-1, part.lower())
