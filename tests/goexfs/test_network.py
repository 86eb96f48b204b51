"""Network by allow-list (goexfs.sandbox.network): the sandbox has no network of its own; the
hosts allowed with --allow-host are reached through goex's proxy, every other host is refused
and recorded. Local servers on loopback stand in for a package index and for a TLS server."""

from __future__ import annotations

import base64
import hashlib
import socketserver
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from core.config import load_config
from core.errors import UsageError
from goexfs.sandbox.allow import AllowedHost
from tests.goexfs.conftest import Runner, python_read_paths, sandboxed_python
from tests.goexfs.test_cli import goex_fs

WHEEL = "goexdemo-1.0-py3-none-any.whl"


@dataclass
class Index:
    """A package index (PEP 503) on loopback, serving one pure-Python wheel."""

    port: int
    requests: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/simple/"


def _build_wheel(path: Path) -> None:
    files = {
        "goexdemo.py": b"ANSWER = 42\n",
        "goexdemo-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: goexdemo\nVersion: 1.0\n",
        "goexdemo-1.0.dist-info/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: goex-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = []
    for name, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(data)}")
    record.append("goexdemo-1.0.dist-info/RECORD,,")
    with zipfile.ZipFile(path, "w") as wheel:
        for name, data in files.items():
            wheel.writestr(name, data)
        wheel.writestr("goexdemo-1.0.dist-info/RECORD", "\n".join(record) + "\n")


@pytest.fixture
def index(tmp_path: Path) -> Iterator[Index]:
    served = tmp_path / "index"
    (served / "simple" / "goexdemo").mkdir(parents=True)
    (served / "files").mkdir()
    _build_wheel(served / "files" / WHEEL)
    (served / "simple" / "goexdemo" / "index.html").write_text(
        f'<html><body><a href="../../files/{WHEEL}">{WHEEL}</a></body></html>\n'
    )
    seen: list[str] = []

    class Handler(SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(served), **kwargs)

        def log_message(self, format: str, *args: Any) -> None:
            seen.append(self.path)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Index(server.server_address[1], seen)
    server.shutdown()
    server.server_close()


@pytest.fixture
def echo_port() -> Iterator[int]:
    """A TCP server on loopback that echoes what it gets (the far end of a CONNECT tunnel)."""

    class Echo(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            while data := self.request.recv(65536):
                self.request.sendall(data)

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def pip_install(url: str) -> str:
    host = url.split("/")[2].rsplit(":", 1)[0]  # plain http: pip wants it named trusted
    return sandboxed_python(
        "-m pip install --no-cache-dir --disable-pip-version-check --retries 0 "
        f"--index-url {url} --trusted-host {host} --target vendor goexdemo"
    )


def allowing(tmp_path: Path, *hosts: str) -> Any:
    # the interpreter may live in the hidden home (pyenv): read-only, as [fs] read_paths does
    return load_config(
        tmp_path, overrides={"fs.allow_hosts": hosts, "fs.read_paths": python_read_paths()}
    )


def test_pip_installs_from_an_allowed_index_and_the_host_is_recorded(
    run_cmd: Runner, index: Index, tmp_path: Path
) -> None:
    run = run_cmd(pip_install(index.url), config=allowing(tmp_path, f"127.0.0.1:{index.port}"))
    assert run.result is not None
    assert run.result.exit_status == 0, run.result.stderr
    assert "vendor/goexdemo.py" in {c.path for c in run.changes}
    assert f"/files/{WHEEL}" in index.requests
    [entry] = run.recorded["network"]
    assert (entry["host"], entry["port"], entry["allowed"]) == ("127.0.0.1", index.port, True)
    assert entry["connections"] >= 2 and entry["received"] > 1000 and entry["sent"] > 0


def test_a_host_not_allowed_is_refused_recorded_and_named_in_the_review(
    project: Path, index: Index, bwrap: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A name the proxy refuses before resolving it (the sandbox reaches its own loopback, not
    the host's, without the proxy: NO_PROXY)."""
    monkeypatch.setenv("GOEX_FS_READ_PATHS", ",".join(python_read_paths()))
    elsewhere = f"http://index.goex.invalid:{index.port}/simple/"
    proc = goex_fs(
        "run", "--dir", str(project), "--cmd", pip_install(elsewhere), "--decide", "rollback"
    )
    assert proc.returncode == 3, proc.stderr
    assert f"index.goex.invalid:{index.port}  denied: " in proc.stdout
    hint = f"network is off; `--allow-host index.goex.invalid:{index.port}` would allow it"
    assert hint in proc.stdout


def test_https_is_tunnelled_only_to_allowed_hosts(
    run_cmd: Runner, echo_port: int, tmp_path: Path
) -> None:
    client = (
        "import socket; s = socket.create_connection(('127.0.0.1', 3128)); "
        f"s.sendall(b'CONNECT 127.0.0.1:{echo_port} HTTP/1.1\\r\\n\\r\\n'); "
        "head = s.recv(4096); print(head.split(b'\\r\\n')[0].decode()); "
        "s.sendall(b'ping') if b' 200 ' in head else None; "
        "print(s.recv(4096).decode() if b' 200 ' in head else '')"
    )
    command = sandboxed_python(f'-c "{client}"')
    run = run_cmd(command, config=allowing(tmp_path, f"127.0.0.1:{echo_port}"))
    assert run.result is not None
    assert run.result.stdout.split() == ["HTTP/1.1", "200", "Connection", "established", "ping"]
    [entry] = run.recorded["network"]
    assert (entry["allowed"], entry["sent"], entry["received"]) == (True, 4, 4)
    refused = run_cmd(command, config=allowing(tmp_path, "127.0.0.1:1"))
    assert refused.result is not None
    assert refused.result.stdout.startswith("HTTP/1.1 403 Forbidden")
    assert refused.recorded["network"][0]["allowed"] is False


def test_the_sandboxes_own_loopback_is_reached_directly(run_cmd: Runner, tmp_path: Path) -> None:
    """A test suite's local server in the sandbox is no business of the proxy's (NO_PROXY)."""
    serve = (
        "import http.server, threading, urllib.request; "
        "from http.server import SimpleHTTPRequestHandler as H; "
        "s = http.server.ThreadingHTTPServer(('127.0.0.1', 0), H); "
        "threading.Thread(target=s.serve_forever, daemon=True).start(); "
        "print(urllib.request.urlopen(f'http://127.0.0.1:{s.server_address[1]}/').status)"
    )
    run = run_cmd(sandboxed_python(f'-c "{serve}"'), config=allowing(tmp_path))
    assert run.result is not None and run.result.stdout.strip() == "200", run.result.stderr
    assert run.recorded["network"] == []


def test_host_names_the_proxy_will_not_take_are_refused_and_not_recorded(
    run_cmd: Runner, project: Path, tmp_path: Path
) -> None:
    """An escape sequence or 60 kB in a host name never reaches the review or the journal."""
    ask = (
        "import socket\n"
        "for name in [b'\\x1b[8mhidden', b'a' * 60000, b'ok.example']:\n"
        "    s = socket.create_connection(('127.0.0.1', 3128))\n"
        "    s.sendall(b'CONNECT ' + name + b':443 HTTP/1.1\\r\\n\\r\\n')\n"
        "    print(s.recv(100).split(b'\\r\\n')[0].decode())\n"
    )
    (project / "ask.py").write_text(ask)
    run = run_cmd(sandboxed_python("ask.py"), config=allowing(tmp_path))
    assert run.result is not None
    assert run.result.stdout.split("\n")[:3] == [
        "HTTP/1.1 400 Bad Request",
        "HTTP/1.1 400 Bad Request",
        "HTTP/1.1 403 Forbidden",
    ], run.result.stderr
    assert [e["host"] for e in run.recorded["network"]] == ["ok.example"]


def test_without_the_proxy_the_sandbox_has_no_network(
    run_cmd: Runner, index: Index, tmp_path: Path
) -> None:
    """A tool that ignores HTTP_PROXY finds no network at all, even to an allowed host."""
    fetch = f"import socket; socket.create_connection(('127.0.0.1', {index.port}), timeout=5)"
    command = "env -u HTTP_PROXY -u http_proxy " + sandboxed_python(f'-c "{fetch}"')
    run = run_cmd(command, config=allowing(tmp_path, f"127.0.0.1:{index.port}"))
    assert run.result is not None and run.result.exit_status != 0
    assert "Connection refused" in run.result.stderr and index.requests == []
    assert run.recorded["network"] == []


def test_a_flood_of_connections_gets_no_thread_each_and_goex_finishes(
    run_cmd: Runner, tmp_path: Path
) -> None:
    flood = (
        "import socket; held = [socket.create_connection(('127.0.0.1', 3128)) "
        "for _ in range(500)]; print(len(held))"
    )
    before = threading.active_count()
    run = run_cmd(sandboxed_python(f'-c "{flood}"'), config=allowing(tmp_path))
    assert run.result is not None and run.result.stdout.strip() == "500", run.result.stderr
    assert run.recorded["network"] == []  # they asked for nothing
    assert threading.active_count() <= before + 2  # the proxy's threads are gone


@pytest.mark.parametrize(
    ("text", "host", "port"),
    [("pypi.org", "pypi.org", None), ("PyPI.org.:8080", "pypi.org", 8080), ("[::1]:80", "::1", 80)],
)
def test_allowed_hosts_parse(text: str, host: str, port: int | None) -> None:
    assert AllowedHost.parse(text) == AllowedHost(host, port)


def test_an_allowed_host_matches_exactly() -> None:
    rule = AllowedHost.parse("pypi.org")
    assert rule.allows("pypi.org", 443) and rule.allows("pypi.org", 80)
    assert not rule.allows("pypi.org", 22)
    assert not rule.allows("pypi.org.evil.example", 443)
    assert not rule.allows("files.pythonhosted.org", 443)


@pytest.mark.parametrize("text", ["http://pypi.org", "pypi.org:http", "", "a b", "pypi.org:70000"])
def test_a_bad_allow_host_is_a_usage_error_and_nothing_runs(text: str, project: Path) -> None:
    with pytest.raises(UsageError, match="--allow-host takes HOST or HOST:PORT"):
        AllowedHost.parse(text)
    proc = goex_fs("run", "--dir", str(project), "--allow-host", text or " ", "--cmd", "touch x")
    assert proc.returncode == 2 and "--allow-host takes HOST or HOST:PORT" in proc.stderr
    assert not (project / "x").exists() and not (project / ".goex" / "staged").exists()


def test_a_project_file_cannot_allow_hosts(project: Path) -> None:
    (project / "goex.toml").write_text('[fs]\nallow_hosts = ["evil.example"]\n')
    proc = goex_fs("run", "--dir", str(project), "--cmd", "true", "--decide", "rollback")
    assert proc.returncode != 0 and "fs.allow_hosts may only be set in" in proc.stderr
