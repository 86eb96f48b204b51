"""Journal write cost: goex's durable journal against a bare SQLite baseline, same run.

Baseline: the same rows inserted into a plain SQLite table with default settings (rollback
journal, synchronous=FULL), one transaction per row. goex: Journal.save() of an action and its
two status transitions (WAL, synchronous=FULL, BEGIN IMMEDIATE, stale-write check).
"""

from __future__ import annotations

import sqlite3
import tempfile
import time
from pathlib import Path

from core.action import Action, Kind, Status
from core.journal import Journal

N = 300


def baseline(path: Path) -> float:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("CREATE TABLE t (id TEXT PRIMARY KEY, kind TEXT, target TEXT, code TEXT, s TEXT)")
    start = time.perf_counter()
    for i in range(N):
        db.execute("BEGIN")
        db.execute("INSERT INTO t VALUES (?, 'db', 'duckdb:/x', 'SELECT 1', 'staged')", (str(i),))
        db.execute("COMMIT")
    elapsed = time.perf_counter() - start
    db.close()
    return elapsed


def goex(path: Path) -> float:
    journal = Journal(path)
    start = time.perf_counter()
    for _ in range(N):
        action = Action(kind=Kind.DB, target="duckdb:/x", code="SELECT 1")
        action.advance(Status.STAGED)
        journal.save(action)
    elapsed = time.perf_counter() - start
    journal.close()
    return elapsed


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        base = baseline(Path(tmp) / "baseline.sqlite3")
        ours = goex(Path(tmp) / "journal.sqlite3")
    print(f"journal: {N} saves")
    print(f"  baseline sqlite insert : {base / N * 1e3:8.3f} ms/row")
    print(f"  goex Journal.save      : {ours / N * 1e3:8.3f} ms/action")
    print(f"  ratio goex/baseline    : {ours / base:8.2f}x")


if __name__ == "__main__":
    main()
