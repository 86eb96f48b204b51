"""goex-review: the review queue in a browser — people approve or reject what agents staged."""

from __future__ import annotations

import getpass
import ipaddress
import secrets
import socket
import sys
from pathlib import Path
from typing import Annotated

import typer

from core.action import Kind
from core.cli import host_and_port, new_app, run_app
from core.errors import UsageError
from core.journal import default_path
from core.secrets import SecretStore
from core.web.app import Site, build_app
from core.web.auth import Gate
from core.web.journals import Journals
from core.web.passwords import hash_password
from core.web.sides import load_sides

DEFAULT_LISTEN = "127.0.0.1:8765"
LOOPBACK_NAMES = ["127.0.0.1", "localhost", "::1", "[::1]"]


def serve(
    context: typer.Context,
    listen: Annotated[
        str,
        typer.Option(
            help="HOST:PORT to serve on (port 0: a free one); a host not loopback needs TLS"
        ),
    ] = DEFAULT_LISTEN,
    directories: Annotated[
        list[Path] | None,
        typer.Option("--dir", "-C", help="a goex-fs project whose actions to serve (repeatable)"),
    ] = None,
    journals: Annotated[
        list[Path] | None,
        typer.Option("--journal", help="another journal file to serve (repeatable)"),
    ] = None,
    tls_cert: Annotated[Path | None, typer.Option(help="serve HTTPS with this certificate")] = None,
    tls_key: Annotated[Path | None, typer.Option(help="the certificate's private key")] = None,
) -> None:
    """Serve the review queue of goex-db's journal (GOEX_HOME, or the user's state directory)
    and of each -C project: sign in with a [review.users] user of the secrets file or with the
    one-time token printed here."""
    if context.invoked_subcommand is not None:
        return
    host, port = host_and_port(listen, "--listen", any_port=True)
    loopback = _loopback(host)
    if (tls_cert is None) != (tls_key is None):
        raise UsageError("--tls-cert and --tls-key go together")
    if not loopback and tls_cert is None:
        raise UsageError(
            f"goex-review serves {host} only over HTTPS (--tls-cert, --tls-key): its sign-in "
            "and decisions must not cross a network in clear"
        )
    paths = [default_path(Kind.DB)]
    paths += [default_path(Kind.FS, d.resolve()) for d in directories or ()]
    paths += list(journals or ())
    store = SecretStore.load()
    token = secrets.token_urlsafe(24)
    site = Site(
        Journals(paths),
        load_sides(),
        Gate(store.review_users(), token),
        store.redactor(),
        secure_cookie=tls_cert is not None,
    )
    hosts = LOOPBACK_NAMES if loopback else [host]
    listening = _bind(host, port)  # bound before the address is printed: it answers at once
    port = listening.getsockname()[1]
    scheme = "https" if tls_cert else "http"
    shown = f"[{host}]" if ":" in host else host
    sys.stderr.write(
        f"goex-review: serving {len(site.journals.paths)} journal(s) on {scheme}://{shown}:{port}/\n"
        f"goex-review: sign in once with {scheme}://{shown}:{port}/login?token={token}\n"
    )
    sys.stderr.flush()
    import uvicorn

    config = uvicorn.Config(
        build_app(site, hosts),
        log_level="warning",
        ssl_certfile=str(tls_cert) if tls_cert else None,
        ssl_keyfile=str(tls_key) if tls_key else None,
    )
    uvicorn.Server(config).run(sockets=[listening])


def hash_password_command(
    user: Annotated[str, typer.Argument(help="the user name the line is for")],
) -> None:
    """Print a [review.users] line for the secrets file: the user and a scrypt hash of the
    password read from the terminal (or from stdin's first line)."""
    if sys.stdin.isatty():
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            raise UsageError("the passwords differ")
    else:
        password = sys.stdin.readline().rstrip("\n")
    if len(password) < 12:
        raise UsageError("use a password of 12 characters or more")
    sys.stdout.write(f'{_toml_key(user)} = "{hash_password(password)}"\n')


def _toml_key(name: str) -> str:
    if name and all(c.isalnum() or c in "-_" for c in name):
        return name
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listening = socket.socket(family, socket.SOCK_STREAM)
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listening.bind((host, port))
    except OSError as exc:
        listening.close()
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    listening.listen(128)
    return listening


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


app = new_app(
    "goex-review",
    "The review queue in a browser: approve or reject what agents staged.",
    [("hash-password", hash_password_command)],
    default=serve,
)


def main() -> None:
    run_app(app)
