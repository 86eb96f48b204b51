"""`make demo`: the misunderstanding from the GoEx blog post, replayed against real targets.

A user asks an agent to *let the team know that order 1042 shipped*. The agent does far more
than asked: it marks every order shipped and clears the notification outbox; on disk it
rewrites every note and deletes the archive. goex runs both actions staged, measures what they
did, policy flags it, and goex rolls back — the database and the directory are unchanged.

No API key is needed. With OPENAI_API_KEY set, the demo also lets a real model write SQL for the
same request.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "demo-work"
REQUEST = "Let the team know that order 1042 shipped"

AGENT_SQL = """\
UPDATE orders SET status = 'shipped';
DELETE FROM notifications;
INSERT INTO notifications (id, channel, message) VALUES (1, 'team', 'Order 1042 shipped');
"""

RIGHT_SQL = """\
UPDATE orders SET status = 'shipped' WHERE id = 1042;
INSERT INTO notifications (id, channel, message) VALUES (41, 'team', 'Order 1042 shipped');
"""

AGENT_CMD = (
    "for f in notes/*.md; do echo 'Order 1042 shipped' > \"$f\"; done; "
    "rm -rf notes/archive; echo 'team notified'"
)

POLICY = """\
[policy]
max_rows_per_table = 20
max_files_changed = 2
allow_file_deletes = false
"""


def banner(text: str) -> None:
    print(f"\n\033[1m== {text}\033[0m" if sys.stdout.isatty() else f"\n== {text}", flush=True)


def make_shop(path: Path) -> None:
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT, email TEXT)")
        con.execute(
            "CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER, status TEXT)"
        )
        con.execute(
            "CREATE TABLE notifications (id INTEGER PRIMARY KEY, channel TEXT, message TEXT)"
        )
        con.execute(
            "INSERT INTO customers SELECT i, 'Customer ' || i, 'c' || i || '@shop.example' "
            "FROM range(1, 51) t(i)"
        )
        con.execute(
            "INSERT INTO orders SELECT i, 1 + i % 50, CASE WHEN i % 3 = 0 THEN 'shipped' "
            "ELSE 'paid' END FROM range(1001, 1201) t(i)"
        )
        con.execute(
            "INSERT INTO notifications SELECT i, 'customer', 'Your order ' || (1000 + i) "
            "|| ' is on its way' FROM range(1, 41) t(i)"
        )


def shop_fingerprint(path: Path) -> str:
    with duckdb.connect(str(path), read_only=True) as con:
        rows = [
            con.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()
            for table in ("customers", "orders", "notifications")
        ]
    return hashlib.sha256(repr(rows).encode()).hexdigest()[:16]


def make_project(path: Path) -> None:
    files = {
        "README.md": "# shop-ops\nOperational notes for the shop team.\n",
        "notes/team.md": "# Team updates\n- 2026-11-20: inventory count done\n",
        "notes/oncall.md": "# On-call\nThis week: Dana\n",
        "notes/customers.md": "# Customer escalations\n- none open\n",
        "notes/archive/2025-q4.md": "# Archive 2025 Q4\nShipped 4,210 orders.\n",
        "notes/archive/2026-q1.md": "# Archive 2026 Q1\nShipped 5,034 orders.\n",
    }
    for name, text in files.items():
        target = path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    (path / "goex.toml").write_text(POLICY)


def tree_fingerprint(path: Path) -> str:
    digest = hashlib.sha256()
    for item in sorted(p for p in path.rglob("*") if ".goex" not in p.parts):
        digest.update(str(item.relative_to(path)).encode())
        if item.is_file():
            digest.update(item.read_bytes())
    return digest.hexdigest()[:16]


def latest_action(cwd: Path) -> str:
    listed = subprocess.run(
        [sys.executable, "-m", "goexdb.cli", "log", "--format", "json", "--limit", "1"],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    )
    return str(json.loads(listed.stdout)[0]["id"])


def goex(side: str, *args: str, cwd: Path) -> int:
    shown = " ".join(shlex.quote(a) for a in args)
    print(f"$ goex-{side} {shown}", flush=True)
    done = subprocess.run([sys.executable, "-m", f"goex{side}.cli", *args], cwd=cwd, check=False)
    print(f"(exit code {done.returncode})", flush=True)
    return done.returncode


def main() -> int:
    shutil.rmtree(WORK, ignore_errors=True)
    project = WORK / "project"
    project.mkdir(parents=True)
    shop = WORK / "shop.duckdb"
    make_shop(shop)
    make_project(project)
    os.environ["GOEX_HOME"] = str(WORK / "state")  # keep the demo's journal in demo-work/
    if shutil.which("bwrap") is None:
        print(
            "note: bubblewrap is not installed, so the file action runs in the staged copy "
            "without a sandbox (install bubblewrap for confinement)"
        )
        os.environ["GOEX_FS_SANDBOX"] = "none"
    failures = []

    def run_sql(sql: str) -> int:
        """The agent's SQL for the request, decided by the demo project's policy."""
        policy = str(project / "goex.toml")
        dsn = f"duckdb:{shop}"
        return goex(
            "db",
            "run",
            REQUEST,
            "--dsn",
            dsn,
            "--sql",
            sql,
            "--decide",
            "policy",
            "--policy",
            policy,
            cwd=WORK,
        )

    banner(f'The request: "{REQUEST}"')
    print("The agent answers with SQL that marks EVERY order shipped and empties the outbox.")
    before = shop_fingerprint(shop)
    code = run_sql(AGENT_SQL)
    unchanged = shop_fingerprint(shop) == before
    print(f"database unchanged after goex: {'yes' if unchanged else 'NO'}")
    if code != 4 or not unchanged:
        failures.append("goex-db did not reject and roll back the agent's SQL")

    banner("What was asked for: one order, one notification; committed, then undone")
    before = shop_fingerprint(shop)
    code = run_sql(RIGHT_SQL)
    committed = code == 0 and shop_fingerprint(shop) != before
    print(f"committed: {'yes' if committed else 'NO'}")
    code = goex("db", "undo", latest_action(WORK), "--decide", "commit", cwd=WORK)
    restored = code == 0 and shop_fingerprint(shop) == before
    print(f"database back as it was before the action: {'yes' if restored else 'NO'}")
    if not (committed and restored):
        failures.append("goex-db did not commit and then undo the narrow action")

    banner(f"The same request, as a shell command in {project.name}/")
    print("The agent overwrites every note and deletes the archive.")
    before = tree_fingerprint(project)
    code = goex("fs", "run", REQUEST, "--cmd", AGENT_CMD, "--decide", "policy", cwd=project)
    unchanged = tree_fingerprint(project) == before
    print(f"directory unchanged after goex: {'yes' if unchanged else 'NO'}")
    if code != 4 or not unchanged:
        failures.append("goex-fs did not reject and discard the agent's command")

    if os.environ.get("OPENAI_API_KEY"):
        banner("With a real model: the same request in words")
        goex("db", "run", REQUEST, "--dsn", f"duckdb:{shop}", "--decide", "policy", cwd=WORK)
    else:
        print("\n(set OPENAI_API_KEY to also let a real model write SQL for the request)")

    banner("The journal keeps every decision")
    goex("db", "log", cwd=WORK)
    goex("fs", "log", cwd=project)
    if failures:
        print("\ndemo FAILED: " + "; ".join(failures), file=sys.stderr)
        return 1
    print(
        "\ndemo done: the overreach was measured, flagged by policy and rolled back on both "
        "sides; the narrow action was committed and undone."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
