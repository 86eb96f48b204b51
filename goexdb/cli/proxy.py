"""goex-db proxy: a PostgreSQL wire-protocol proxy that stages every client's transactions and
decides at COMMIT (``goexdb.proxy``)."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer
import uvloop
from psycopg.conninfo import conninfo_to_dict

from core.action import Mode
from core.cli import DecideOption, PolicyOption, host_and_port
from core.config import load_config
from core.errors import UsageError
from core.secrets import SecretStore
from goexdb.cli.options import DsnOption
from goexdb.cli.run import held_for
from goexdb.dsn import Engine
from goexdb.proxy.action import ProxyContext
from goexdb.proxy.clientauth import server_tls_context
from goexdb.proxy.server import Listen, Proxy
from goexdb.session import resolve_target, target_redactor


def proxy_command(
    dsn: DsnOption = None,
    listen: Annotated[
        str, typer.Option(help="HOST:PORT to listen on for clients")
    ] = "127.0.0.1:6543",
    socket_dir: Annotated[
        Path | None,
        typer.Option("--socket-dir", help="also listen on a unix socket in this directory"),
    ] = None,
    trust_socket: Annotated[
        bool,
        typer.Option("--trust-socket", help="clients on the unix socket need no password (trust)"),
    ] = False,
    decide: DecideOption = None,
    policy: PolicyOption = None,
    tls_cert: Annotated[
        Path | None, typer.Option("--tls-cert", help="certificate for TLS to clients")
    ] = None,
    tls_key: Annotated[Path | None, typer.Option("--tls-key", help="its private key")] = None,
) -> None:
    """Proxy PostgreSQL clients to the database: each transaction that writes is held, measured
    at COMMIT and decided (by policy unless --decide or [review] decide says otherwise); clients
    log in as [proxy.users] of the secrets file."""
    config = load_config(overrides={"review.decide": decide}, policy_file=policy)
    if config.review.decide in (Mode.ASK, Mode.KEEP):
        if decide is not None:
            raise UsageError(
                f"goex-db proxy cannot --decide {decide}: a held transaction has no terminal to "
                "ask on and cannot outlive its client; use policy, llm, person, commit or rollback"
            )
        config = replace(config, review=replace(config.review, decide=Mode.POLICY))
    target = resolve_target(dsn)
    if target.engine is not Engine.POSTGRES:
        raise UsageError("goex-db proxy serves PostgreSQL only; give a postgresql:// --dsn")
    host, port = host_and_port(listen, "--listen")
    if (tls_cert is None) != (tls_key is None):
        raise UsageError("give --tls-cert and --tls-key together")
    tls = server_tls_context(tls_cert, tls_key) if tls_cert and tls_key else None
    store = SecretStore.load()
    users = store.proxy_users()
    if not users and not trust_socket:
        raise UsageError(
            "no client could log in: add users to [proxy.users] of the secrets file, or give "
            "--socket-dir with --trust-socket"
        )
    config = replace(config, db=held_for(config))
    context = ProxyContext(config, target.display, target_redactor(target), target.conninfo)
    database = conninfo_to_dict(target.conninfo).get("dbname") or ""
    where = Listen(host, port, socket_dir, tls, trust_socket)
    proxy = Proxy(context, target.conninfo, str(database or _user(target.conninfo)), users, where)
    uvloop.run(_serve(proxy, config.review.decide.value))  # libuv's loop: less per message


def _user(conninfo: str) -> str:
    import getpass

    return str(conninfo_to_dict(conninfo).get("user") or getpass.getuser())


async def _serve(proxy: Proxy, mode: str) -> None:
    where = await proxy.start()
    print(
        f"goex-db proxy: listening on {', '.join(where)}; deciding by {mode}",
        file=sys.stderr,
        flush=True,
    )
    await proxy.serve_until_stopped()
