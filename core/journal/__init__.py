"""The journal: a SQLite (WAL) record of actions, effects, undo data, decisions, intents and
the actions waiting for a person — or, with ``[journal] url``, the same records in a PostgreSQL
database a team shares (``core.journal.postgres``).

It is the one writer of goex state. Properties the rest of goex relies on:

* file mode 0600 in a 0700 directory (it holds prompts, code and row images);
* WAL mode with ``synchronous=FULL``: a committed write survives a killed process, and readers
  never block the writer;
* every write is one ``BEGIN IMMEDIATE`` transaction, so two processes writing at once serialise
  on SQLite's lock (``busy_timeout``) instead of failing or interleaving;
* the schema carries a version (``PRAGMA user_version``) and a migration step per version
  (``schema``).

Intents: before a step that makes something final (commit, undo), the caller writes an intent;
when the step is done it finishes the intent. ``pending_intents()`` is what ``recover`` reads.

Waits (``waits``): the queue of actions a person decides, and the single-use decision that
answers each, from any process.
"""

from core.journal.backend import Location, journal_exists
from core.journal.connection import BUSY_TIMEOUT_MS, FILENAME, default_path, state_home
from core.journal.schema import SCHEMA_VERSION
from core.journal.store import Journal
from core.journal.waits import Waiting, holder_gone, this_holder

__all__ = [
    "BUSY_TIMEOUT_MS",
    "FILENAME",
    "SCHEMA_VERSION",
    "Journal",
    "Location",
    "Waiting",
    "default_path",
    "holder_gone",
    "journal_exists",
    "state_home",
    "this_holder",
]
