"""A set of migration files: which ones a path names and in what order (``discover``), their
static lint (``lint``), and their dry-run against a database (``dry_run``).

::

    from goexdb.migrations import dry_run, lint
    report = lint([Path("migrations")], server_version=(16, 0))
    report = dry_run([Path("migrations")], parse_dsn(dsn), load_config())
"""

from goexdb.migrations.discover import discover, is_migration, order_key
from goexdb.migrations.dryrun import Migration, dry_run
from goexdb.migrations.lint import lint

__all__ = ["Migration", "discover", "dry_run", "is_migration", "lint", "order_key"]
