"""Real actions for goex-review to show: kept and held by real goex-fs and goex-db processes."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import Path

import psycopg

from tests.processes import Held, run, start_held

FS, DB = "goexfs.cli", "goexdb.cli"


@dataclass(frozen=True)
class Kept:
    action_id: str
    digest: str


def project(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "notes.txt").write_text("first\nsecond\n")
    return root


def keep_fs(root: Path, command: str) -> Kept:
    done = run(FS, "run", "-C", str(root), "--cmd", command, "--decide", "keep", "--format", "json")
    assert done.returncode == 5, done.stderr  # kept staged
    report = json.loads(done.stdout)
    return Kept(report["id"], report["digest"])


def hold_fs(root: Path, command: str) -> Held:
    return start_held(FS, "run", "-C", str(root), "--cmd", command, "--format", "json")


@dataclass(frozen=True)
class Table:
    dsn: str
    name: str

    def rows(self) -> list[tuple[int, str]]:
        with psycopg.connect(self.dsn) as conn:
            found = conn.execute(f"SELECT id, v FROM {self.name} ORDER BY id").fetchall()
        return [(int(i), str(v)) for i, v in found]

    def hold(self, sql: str) -> Held:
        return start_held(DB, "run", "--dsn", self.dsn, "--sql", sql, "--format", "json")


def table(dsn: str, rows: int = 5) -> Table:
    name = f"review_{secrets.token_hex(4)}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE {name} (id int PRIMARY KEY, v text NOT NULL)")
        conn.execute(
            f"INSERT INTO {name} SELECT g, 'value ' || g FROM generate_series(1, {rows}) g"
        )
    return Table(dsn, name)
