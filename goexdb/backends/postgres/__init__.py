"""The PostgreSQL backend, the only importer of psycopg: ``backend`` (the held transaction),
``wire`` (libpq and the prepared-statement cache), ``queries`` (catalog and held-state SQL),
``held`` (what the transaction holds), ``errors`` (psycopg's errors in goex's words) and
``clone`` (template copies and pg_dump | pg_restore).

One transaction per action, opened with ``SET LOCAL`` lock, statement and idle-in-transaction
timeouts, so a forgotten review releases its locks. Each statement is sent by the extended
protocol (prepared once it repeats): the server itself refuses a string holding two commands.
Effects are read from the open transaction:

* rows per table from the transaction's statistics (``pg_stat_get_xact_tuples_*``, cascades and
  triggers included) of the tables it holds locks on, minus the counts read at BEGIN; on
  PostgreSQL 15+ each transaction asks for its counts to be flushed as it ends
  (``pg_stat_force_next_flush()``), so the next one starts from zero and reads no baseline.
  What the statements' own row counts do not explain is reported as ``by_cascade_or_trigger``;
* row images of every row a DML statement changed, as ``row_to_json`` text: on PostgreSQL 18 with
  ``RETURNING old, new``; before 18 (or with ``image_path = "select"``) by locking and reading
  the rows an UPDATE will change with its own FROM/WHERE, and ``RETURNING`` the rest;
* schema changes from a catalog diff, relation locks from ``pg_locks`` after each statement,
  table rewrites from ``pg_class.relfilenode``, the sequences the transaction used (it holds
  their locks) and advisory locks taken: a rollback undoes neither.
"""

from goexdb.backends.postgres.backend import PostgresBackend

__all__ = ["PostgresBackend"]
