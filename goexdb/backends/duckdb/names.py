"""How a table name in a statement resolves on one DuckDB connection, as DuckDB resolves it:
to the session's temporary table of that name first (DuckDB looks in its temp catalog before
the database, for a name that does not give the database), else to the database's table,
named ``schema.table`` as its catalog spells it. A temporary table goes with the session, so
its rows are counted under ``temp.schema.table`` and never imaged; and goex's own SQL, which
names a table ``schema.table``, cannot name one a temporary table of its name hides."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlglot import exp

import goexdb.backends.duckdb.queries as queries

Query = Callable[..., list[tuple[Any, ...]]]


class Names:
    def __init__(self, query: Query) -> None:
        self._query = query
        self._spelled: dict[str, str] = {}  # case-folded as written -> as the catalog has it
        self.may_have_temporaries = False  # (only once DDL ran on the connection)
        self._temporaries: frozenset[str] | None = None  # case-folded, read once per action

    def forget(self) -> None:
        """After DDL: a table renamed, made or dropped."""
        self._spelled.clear()
        self.may_have_temporaries = True
        self._temporaries = None

    def refresh(self) -> None:
        """As an action begins: one rolled back since may have made temporary tables, gone."""
        self._temporaries = None

    def canonical(self, table: exp.Table) -> str:
        """``schema.table`` as the catalog spells it (DuckDB matches names whatever the case);
        ``temp.schema.table`` for a temporary table."""
        schema = _schema(table)
        if self.temporary(table):
            return f"temp.{schema}.{table.name}"
        key = f"{schema}.{table.name}".casefold()
        if key not in self._spelled:
            found = self._query(queries.CANONICAL, schema, table.name)
            if not found:  # not a table (yet): do not cache
                return f"{schema}.{table.name}"
            self._spelled[key] = str(found[0][0])
        return self._spelled[key]

    def temporary(self, table: exp.Table) -> bool:
        """Whether a table name means a temporary table (or view): one naming the catalog temp;
        one not naming its database, where a temporary one has that name."""
        if table.catalog:
            return table.catalog.casefold() == "temp"
        return self._hides(_schema(table), table.name)

    def misnamed(self, name: str) -> str | None:
        """Why goex's own SQL, which names a table ``schema.table``, would not name this one:
        a '.' in its name; a schema named temp, as DuckDB also calls its temporary catalog; a
        temporary table of its name."""
        schema, _, table = name.partition(".")
        if "." in table:
            return f"table {name} has a '.' in its name"
        if schema.casefold() == "temp":
            return f"table {name} is in a schema named temp, which DuckDB reads as its catalog"
        if self._hides(schema, table):
            return f"a temporary table of the session has the name of {name}"
        return None

    def temporaries(self) -> list[str]:
        """The session's temporary tables and views, ``schema.table``."""
        return (
            [str(row[0]) for row in self._query(queries.TEMPORARIES)]
            if self.may_have_temporaries
            else []
        )

    def _hides(self, schema: str, table: str) -> bool:
        if self._temporaries is None:
            self._temporaries = frozenset(name.casefold() for name in self.temporaries())
        return f"{schema}.{table}".casefold() in self._temporaries


def _schema(table: exp.Table) -> str:
    """The schema a name gives (``temp.t``, without a database: the temp catalog's main)."""
    if not table.db or (not table.catalog and table.db.casefold() == "temp"):
        return "main"
    return table.db
