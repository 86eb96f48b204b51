"""The DuckDB backend, the only importer of duckdb: ``backend`` (the held transaction),
``deferred`` (UPDATE images read when needed), ``queries`` (catalog SQL), ``errors`` (duckdb's
errors in goex's words) and ``clone`` (the file checkpointed, then reflinked or copied).

The connection is opened with ``enable_external_access = false`` and ``lock_configuration =
true`` (and extension auto-loading off), so the SQL can neither read or write files nor turn that
back on. Each statement is checked a second time with DuckDB's own parser
(``extract_statements``): it must be exactly one statement, of a type that agrees with goex's
classification, or it is refused.

Row counts come from DuckDB itself: a DML statement answers one ``Count`` row, or with RETURNING
the rows it changed. Row images are ``to_json`` text: an UPDATE's rows are read (``rowid, *``)
before it runs, and RETURNING gives the rest. An UPDATE that keeps its rows' ids (it changes no
indexed column) and is the only statement of the action writing its table leaves its images to
``settle``: before it runs, the ids of its rows go to a temporary table and a snapshot is pinned
on a connection of goex's own; ``settle`` (commit does it first) reads the before images from
the snapshot and the after images from the transaction. DuckDB has no triggers and no cascading
foreign keys, so counts and images are complete.
"""

from goexdb.backends.duckdb.backend import CONFIG, DuckDBBackend

__all__ = ["CONFIG", "DuckDBBackend"]
