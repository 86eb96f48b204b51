"""goex-db: agent SQL staged in a held-open transaction (or on a clone), measured, then
committed or rolled back — every step journaled.

::

    import goexdb

    with goexdb.connect("duckdb:shop.duckdb") as db:
        staged = db.stage("DELETE FROM orders WHERE status = 'cancelled'")
        if staged.effects.rows_changed < 100:
            staged.commit()
        else:
            staged.rollback()

``Staged`` is the lifecycle of ``core.lifecycle``: ``decide(mode)``, ``commit()``,
``rollback()``, ``keep()`` (a clone's), and ``Session.reopen(action_id)`` picks a kept action up
again in any process.
"""

from goexdb.dsn import Engine, Target, parse_dsn
from goexdb.effects import Effects, SchemaChange, StatementResult, TableChange
from goexdb.held import Held
from goexdb.session import Session, connect
from goexdb.staged import Staged

__all__ = [
    "Effects",
    "Engine",
    "Held",
    "SchemaChange",
    "Session",
    "Staged",
    "StatementResult",
    "TableChange",
    "Target",
    "connect",
    "parse_dsn",
]
