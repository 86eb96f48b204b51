"""goex-db: agent SQL staged in a held-open transaction, measured, then committed or rolled back.

::

    import goexdb

    with goexdb.connect("duckdb:shop.duckdb") as db:
        staged = db.stage("DELETE FROM orders WHERE status = 'cancelled'")
        if staged.effects.rows_changed < 100:
            staged.commit()
        else:
            staged.rollback()
"""

from goexdb.dsn import Engine, Target, parse_dsn
from goexdb.effects import Effects, SchemaChange, StatementResult, TableChange
from goexdb.rules import RULES, Outcome
from goexdb.session import Database, Staged, connect
from goexdb.sql import Statement, StatementKind, classify, parse_script, split

__all__ = [
    "RULES",
    "Database",
    "Effects",
    "Engine",
    "Outcome",
    "SchemaChange",
    "Staged",
    "Statement",
    "StatementKind",
    "StatementResult",
    "TableChange",
    "Target",
    "classify",
    "connect",
    "parse_dsn",
    "parse_script",
    "split",
]
