from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import TargetError
from goexdb.dsn import Engine, parse_dsn


def test_url_password_is_kept_out_of_display() -> None:
    target = parse_dsn("postgresql://app:s3cr%40t@db.example:5432/shop?sslmode=require")
    assert target.engine is Engine.POSTGRES
    assert target.display == "postgresql://app@db.example:5432/shop?sslmode=require"
    assert target.secrets["DSN_PASSWORD"] == "s3cr@t"
    assert "s3cr" not in repr(target)


def test_postgres_scheme_and_query_password() -> None:
    target = parse_dsn("postgres://app@h/db?password=hunter22&sslmode=disable")
    assert "hunter22" not in target.display
    assert target.secrets["DSN_PASSWORD"] == "hunter22"


def test_keyvalue_password_is_removed() -> None:
    target = parse_dsn("host=db port=5432 dbname=shop user=app password='it\\'s a pw'")
    assert target.display == "host=db port=5432 dbname=shop user=app"
    assert target.secrets["DSN_PASSWORD"] == "it's a pw"


def test_pgpassword_is_registered_as_a_secret() -> None:
    target = parse_dsn("host=db dbname=shop", {"PGPASSWORD": "from-env-pw"})
    assert target.secrets["PGPASSWORD"] == "from-env-pw"


def test_duckdb_relative_path_is_made_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    target = parse_dsn("duckdb:shop.duckdb")
    assert target.engine is Engine.DUCKDB
    assert target.path == tmp_path / "shop.duckdb"


def test_dsn_falls_back_to_environment() -> None:
    assert parse_dsn(None, {"DATABASE_URL": "duckdb:/x.db"}).display == "duckdb:/x.db"
    assert parse_dsn(
        None, {"GOEX_DSN": "duckdb:/a.db", "DATABASE_URL": "duckdb:/b.db"}
    ).display == ("duckdb:/a.db")


@pytest.mark.parametrize(
    ("dsn", "message"),
    [
        (None, "no database given"),
        ("mysql://x", "neither"),
        ("postgresql://h:notaport/db", "malformed"),
        ("duckdb:", "needs a database file"),
        ("host=x password='hunter2 secret", "malformed"),
    ],
)
def test_bad_dsns_get_one_clear_sentence(dsn: str | None, message: str) -> None:
    with pytest.raises(TargetError, match=message) as info:
        parse_dsn(dsn, {})
    assert "\n" not in str(info.value)
    assert "hunter2" not in str(info.value)


def test_ssl_key_passwords_are_secrets_too() -> None:
    kv = parse_dsn("host=db sslpassword=keypass99 dbname=x")
    assert kv.display == "host=db dbname=x"
    assert kv.secrets["DSN_SSLPASSWORD"] == "keypass99"
    url = parse_dsn("postgresql://h/db?sslpassword=keypass99&sslmode=require")
    assert "keypass99" not in url.display
    assert url.secrets["DSN_SSLPASSWORD"] == "keypass99"
