"""goex-mcp: serve goex's tools to agents over MCP (stdio by default, or streamable HTTP)."""

from __future__ import annotations

import secrets
import sys
from contextlib import suppress
from pathlib import Path
from typing import Annotated

import anyio
import typer

from core.action import Mode
from core.cli import PolicyOption, host_and_port, new_app, run_app
from core.config import load_config
from core.errors import ConfigError, UsageError
from core.interrupt import signal_name
from core.llm import Model
from core.mcp.handles import Handles
from core.mcp.held import Decider
from core.mcp.server import Options, build, load_toolsets, serve_http, serve_stdio, stop
from core.secrets import SecretStore

TOKEN_SECRET = "GOEX_SECRET_MCP_TOKEN"  # in the secrets file: the bearer token --http requires
DECIDERS = (Mode.POLICY, Mode.LLM, Mode.PERSON)


def serve_command(
    dsn: Annotated[
        str | None, typer.Option(help="the database for the db_* tools (PostgreSQL or duckdb:)")
    ] = None,
    directory: Annotated[
        Path | None, typer.Option("--dir", "-C", help="the project directory for the fs_* tools")
    ] = None,
    http: Annotated[
        str | None,
        typer.Option(
            help="serve streamable HTTP on HOST:PORT (loopback only) instead of stdio; clients "
            f"send the bearer token {TOKEN_SECRET} of the secrets file, or the one printed"
        ),
    ] = None,
    policy: PolicyOption = None,
    commit: Annotated[
        str,
        typer.Option(help="who decides a commit: policy, llm (the judge model) or person"),
    ] = "policy",
) -> None:
    """Serve goex's tools over MCP: SQL held in a transaction across calls and shell commands
    on a staged copy, committed only by the decider given here — never by the agent."""
    if commit not in DECIDERS:
        raise UsageError(f"--commit must be policy, llm or person, not {commit!r}")
    address = _address(http) if http is not None else None
    root = directory.resolve() if directory is not None else None
    config = load_config(root, policy_file=policy)
    mode = Mode(commit)
    judge = Model(config.model, SecretStore.load().redactor()) if mode is Mode.LLM else None
    decider = Decider(mode, judge, config.review.timeout)
    handles = Handles(lease=config.mcp.lease, max_handles=config.mcp.max_handles)
    server = build(load_toolsets(Options(dsn, root, config, decider), handles))
    try:
        if address is None:
            anyio.run(serve_stdio, server, handles)
        else:
            anyio.run(serve_http, server, handles, *address, _token())
    except KeyboardInterrupt as signalled:  # SIGINT or SIGTERM: the way a server is stopped
        stop(handles, signal_name(signalled))
    finally:
        handles.close_all("goex-mcp stopped")


def _address(http: str) -> tuple[str, int]:
    host, port = host_and_port(http, "--http")
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise UsageError(f"--http serves on loopback only (127.0.0.1, ::1), not {host!r}")
    return host, port


def _token() -> str:
    with suppress(ConfigError):  # none configured: a new one, shown once
        return SecretStore.load().value(TOKEN_SECRET)
    token = secrets.token_urlsafe(32)
    sys.stderr.write(f"goex-mcp: bearer token (shown once): {token}\n")
    sys.stderr.flush()
    return token


app = new_app(
    "goex-mcp",
    "goex's tools for agents over the Model Context Protocol.",
    [("serve", serve_command)],
)


def main() -> None:
    run_app(app)
