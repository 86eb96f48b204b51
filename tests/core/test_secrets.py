from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.errors import ConfigError
from core.secrets import SecretStore, default_secrets_file

DB_PASSWORD = "correct-horse-battery-staple"
API_TOKEN = "tok_9f8e7d6c5b4a"


def write_secrets(text: str, mode: int = 0o600, path: Path | None = None) -> Path:
    path = path or default_secrets_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.chmod(path, mode)
    return path


def test_default_file_follows_xdg() -> None:
    assert default_secrets_file() == Path(os.environ["XDG_CONFIG_HOME"]) / "goex" / "secrets.toml"


def test_no_secrets() -> None:
    store = SecretStore.load(environ={})
    assert store.names == []
    assert store.environment() == {}
    assert store.describe_for_model() == "No credentials are available."


def test_environment_secrets() -> None:
    store = SecretStore.load(
        environ={
            "GOEX_SECRET_DB_PASSWORD": DB_PASSWORD,
            "GOEX_SECRET_API_TOKEN": API_TOKEN,
            "GOEX_SECRET_": "ignored-empty-name",
            "OTHER": "not-a-secret-of-ours",
        }
    )
    assert store.names == ["GOEX_SECRET_API_TOKEN", "GOEX_SECRET_DB_PASSWORD"]
    assert store.environment() == {
        "GOEX_SECRET_API_TOKEN": API_TOKEN,
        "GOEX_SECRET_DB_PASSWORD": DB_PASSWORD,
    }
    assert store.value("db_password") == DB_PASSWORD
    assert store.value("GOEX_SECRET_API_TOKEN") == API_TOKEN


def test_process_environment_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOEX_SECRET_DB_PASSWORD", DB_PASSWORD)
    assert SecretStore.load().environment() == {"GOEX_SECRET_DB_PASSWORD": DB_PASSWORD}


def test_the_model_sees_names_never_values() -> None:
    store = SecretStore.load(
        environ={"GOEX_SECRET_DB_PASSWORD": DB_PASSWORD, "GOEX_SECRET_API_TOKEN": API_TOKEN}
    )
    text = store.describe_for_model()
    assert "$GOEX_SECRET_DB_PASSWORD" in text and "$GOEX_SECRET_API_TOKEN" in text
    assert DB_PASSWORD not in text and API_TOKEN not in text
    assert store.references() == ["$GOEX_SECRET_API_TOKEN", "$GOEX_SECRET_DB_PASSWORD"]
    assert DB_PASSWORD not in repr(store)


def test_referenced() -> None:
    store = SecretStore.load(environ={"GOEX_SECRET_DB_PASSWORD": DB_PASSWORD})
    code = 'psql "password=$GOEX_SECRET_DB_PASSWORD" -c "${GOEX_SECRET_DB_PASSWORD}" $GOEX_SECRET_X'
    assert store.referenced(code) == ["GOEX_SECRET_DB_PASSWORD"]
    assert store.referenced("echo hello") == []


def test_unknown_secret() -> None:
    with pytest.raises(ConfigError, match="no secret named GOEX_SECRET_NOPE"):
        SecretStore.load(environ={}).value("nope")


def test_redactor_masks_values() -> None:
    store = SecretStore.load(environ={"GOEX_SECRET_DB_PASSWORD": DB_PASSWORD})
    masked = store.redactor().redact(f"connecting with {DB_PASSWORD} now")
    assert masked == "connecting with [REDACTED:GOEX_SECRET_DB_PASSWORD] now"


def test_file_at_0600_is_read() -> None:
    write_secrets(f'db_password = "{DB_PASSWORD}"\nGOEX_SECRET_API_TOKEN = "{API_TOKEN}"\n')
    store = SecretStore.load(environ={})
    assert store.environment() == {
        "GOEX_SECRET_DB_PASSWORD": DB_PASSWORD,
        "GOEX_SECRET_API_TOKEN": API_TOKEN,
    }


def test_file_with_a_secrets_table(tmp_path: Path) -> None:
    path = write_secrets(f'[secrets]\napi_token = "{API_TOKEN}"\n', path=tmp_path / "s.toml")
    assert SecretStore.load(environ={}, file=path).names == ["GOEX_SECRET_API_TOKEN"]


def test_environment_overrides_file() -> None:
    write_secrets(f'api_token = "{API_TOKEN}"\n')
    store = SecretStore.load(environ={"GOEX_SECRET_API_TOKEN": "from-the-environment"})
    assert store.value("api_token") == "from-the-environment"


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_file_readable_by_others_is_refused(mode: int) -> None:
    path = write_secrets(f'db_password = "{DB_PASSWORD}"\n', mode=mode)
    with pytest.raises(ConfigError, match="readable by others") as info:
        SecretStore.load(environ={})
    assert f"chmod 600 {path}" in str(info.value)
    assert DB_PASSWORD not in str(info.value)
    assert info.value.path == str(path)


def test_symlink_is_refused(tmp_path: Path) -> None:
    real = write_secrets(f'db_password = "{DB_PASSWORD}"\n', path=tmp_path / "real.toml")
    link = default_secrets_file()
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(real)
    with pytest.raises(ConfigError, match="not a regular file"):
        SecretStore.load(environ={})


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a file to another user")
def test_file_owned_by_someone_else_is_refused() -> None:
    path = write_secrets(f'db_password = "{DB_PASSWORD}"\n')
    os.chown(path, 4321, -1)
    with pytest.raises(ConfigError, match="not owned by you"):
        SecretStore.load(environ={})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("db_password = ", "not valid TOML"),
        ('"bad-name" = "long-enough-value"', "must be a name of letters, digits and _"),
        ("db_password = 12345678", "with a string value"),
        ('[secrets]\nnested = { a = "long-enough-value" }', "with a string value"),
    ],
)
def test_bad_file_contents(text: str, message: str) -> None:
    write_secrets(text + "\n")
    with pytest.raises(ConfigError, match=message):
        SecretStore.load(environ={})


def test_short_secrets_are_refused() -> None:
    with pytest.raises(ConfigError, match="shorter than 4 characters") as info:
        SecretStore.load(environ={"GOEX_SECRET_PIN": "123"})
    assert info.value.key == "GOEX_SECRET_PIN"
    assert "123" not in str(info.value)
    write_secrets('pin = "abc"\n')
    with pytest.raises(ConfigError, match="shorter than"):
        SecretStore.load(environ={})
