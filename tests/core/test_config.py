from __future__ import annotations

from pathlib import Path

import pytest

from core.config import (
    Config,
    DbConfig,
    ModelConfig,
    find_project_file,
    load_config,
    user_config_file,
)
from core.errors import ConfigError
from core.policy import PolicySettings, Severity


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project with goex.toml at its root; tests run from a directory two levels down."""
    root = tmp_path / "project"
    (root / "src" / "deep").mkdir(parents=True)
    return root


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_defaults(tmp_path: Path) -> None:
    config = load_config(tmp_path, environ={})
    assert config == Config()
    assert config.model == ModelConfig()
    assert config.db.lock_timeout == 5.0
    assert config.review.decide == "ask"
    assert config.policy == PolicySettings()
    assert config.sources == ()


def test_user_config_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert user_config_file() == tmp_path / "xdg" / "goex" / "config.toml"
    monkeypatch.delenv("XDG_CONFIG_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert user_config_file() == tmp_path / "home" / ".config" / "goex" / "config.toml"


def test_project_file_is_found_in_a_parent(project: Path) -> None:
    project_file = write(project / "goex.toml", "")
    assert find_project_file(project / "src" / "deep") == project_file
    nearer = write(project / "src" / "goex.toml", "")
    assert find_project_file(project / "src" / "deep") == nearer
    (project / "src" / "deep" / "goex.toml").mkdir()  # a directory of that name is not a file
    assert find_project_file(project / "src" / "deep") == nearer


def test_precedence_flag_env_project_user_default(project: Path) -> None:
    cwd = project / "src" / "deep"
    user = write(user_config_file(), "[db]\nlock_timeout = 1\nstatement_timeout = 11\n")
    proj = write(project / "goex.toml", "[db]\nlock_timeout = 2\n")
    env = {"GOEX_DB_LOCK_TIMEOUT": "3"}
    flags = {"db.lock_timeout": 4.0}

    config = load_config(cwd, environ=env, overrides=flags)
    assert config.db.lock_timeout == 4.0
    assert config.db.statement_timeout == 11.0  # only the user file sets it
    assert config.sources == (str(user), str(proj), "environment", "flags")

    assert load_config(cwd, environ=env).db.lock_timeout == 3.0
    assert load_config(cwd, environ={}).db.lock_timeout == 2.0
    proj.unlink()
    assert load_config(cwd, environ={}).db.lock_timeout == 1.0
    user.unlink()
    assert load_config(cwd, environ={}).db.lock_timeout == DbConfig().lock_timeout == 5.0


def test_unset_flags_do_not_override(project: Path) -> None:
    write(project / "goex.toml", '[review]\ndecide = "policy"\n')
    config = load_config(project, environ={}, overrides={"review.decide": None})
    assert config.review.decide == "policy"


def test_process_environment_is_the_default(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOEX_DECIDE", "rollback")
    assert load_config(project).review.decide == "rollback"


def test_short_environment_names(tmp_path: Path) -> None:
    config = load_config(
        tmp_path,
        environ={
            "GOEX_MODEL": "llama3",
            "GOEX_DECIDE": "commit",
            "OPENAI_BASE_URL": "http://localhost:11434/v1",
        },
    )
    assert config.model.name == "llama3"
    assert config.review.decide == "commit"
    assert config.model.base_url == "http://localhost:11434/v1"
    # the long name wins over the short one
    config = load_config(tmp_path, environ={"GOEX_MODEL": "a", "GOEX_MODEL_NAME": "b"})
    assert config.model.name == "b"


def test_environment_values_are_coerced(tmp_path: Path) -> None:
    config = load_config(
        tmp_path,
        environ={
            "GOEX_DB_LOCK_TIMEOUT": "2.5",
            "GOEX_DB_MAX_ROW_IMAGES": "20",
            "GOEX_MODEL_MAX_RETRIES": "0",
            "GOEX_MODEL_JUDGE": "gpt-4o",
            "GOEX_POLICY_DENY_TABLES": "a, b,",
            "GOEX_POLICY_MAX_ROWS_TOTAL": "none",
            "GOEX_POLICY_MAX_ROWS_PER_TABLE": "7",
            "GOEX_POLICY_READ_ONLY": "yes",
            "GOEX_POLICY_ALLOW_FILE_DELETES": "false",
            "GOEX_FS_BACKEND": "copy",
        },
    )
    assert config.db.lock_timeout == 2.5
    assert config.db.max_row_images == 20
    assert config.model.max_retries == 0
    assert config.model.judge == "gpt-4o"
    assert config.policy.deny_tables == ("a", "b")
    assert config.policy.max_rows_total is None
    assert config.policy.max_rows_per_table == 7
    assert config.policy.read_only is True
    assert config.policy.allow_file_deletes is False
    assert config.fs.backend == "copy"
    assert config.sources == ("environment",)


def test_policy_from_project_file_and_policy_file(project: Path, tmp_path: Path) -> None:
    write(
        project / "goex.toml",
        "[policy]\nmax_rows_per_table = 100\ndeny_tables = ['public.payments']\n"
        "disable = ['db.update-without-where']\n"
        "[policy.severity]\n'fs.max-files' = 'warning'\n",
    )
    config = load_config(project, environ={})
    assert config.policy.max_rows_per_table == 100
    assert config.policy.deny_tables == ("public.payments",)
    assert config.policy.disable == ("db.update-without-where",)
    assert config.policy.severity == {"fs.max-files": Severity.WARNING}

    bare = write(tmp_path / "bare.toml", "max_rows_total = 5\n")
    assert load_config(project, environ={}, policy_file=bare).policy.max_rows_total == 5
    table = write(tmp_path / "table.toml", "[policy]\nallow_drop = true\n")
    config = load_config(project, environ={}, policy_file=table)
    assert config.policy.allow_drop is True
    assert config.policy.max_rows_per_table == 100  # the project file still applies
    assert str(table) in config.sources


def test_missing_policy_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist") as info:
        load_config(tmp_path, environ={}, policy_file=tmp_path / "nope.toml")
    assert info.value.path == str(tmp_path / "nope.toml")


@pytest.mark.parametrize(
    ("text", "message", "key"),
    [
        ("[db\nlock_timeout = 1\n", "is not valid TOML", None),
        ("[database]\nlock_timeout = 1\n", r"unknown section \[database\]", "database"),
        ("db = 3\n", r"\[db\] must be a table", "db"),
        ("[db]\nlock_timout = 1\n", r"\[db\]: unknown setting 'lock_timout'", "db.lock_timout"),
        ('[db]\nlock_timeout = "soon"\n', "lock_timeout must be a number, not 'soon'", None),
        ("[db]\nlock_timeout = true\n", "lock_timeout has the wrong type", None),
        ("[db]\nlock_timeout = 0\n", "lock_timeout must be positive", None),
        ("[review]\ntimeout = inf\n", "timeout must be positive and finite, not inf", None),
        ("[review]\ntimeout = nan\n", "timeout must be positive and finite, not nan", None),
        ("[db]\nmax_row_images = -1\n", "max_row_images must not be negative", None),
        ("[model]\nname = 4\n", "name has the wrong type", None),
        ('[review]\ndecide = "maybe"\n', "decide mode 'maybe' is not one of ask, commit", None),
        ("[policy]\nmax_rows_totl = 1\n", "unknown policy setting 'max_rows_totl'", None),
        ("[policy]\nread_only = 1\n", "read_only must be a bool", None),
        ("[policy]\nmax_rows_total = -5\n", "max_rows_total must be", None),
        (
            "[policy.severity]\n'db.x' = 'fatal'\n",
            "severity levels are 'warning', 'review' or 'error'",
            None,
        ),
    ],
)
def test_bad_files_give_a_useful_error(
    project: Path, text: str, message: str, key: str | None
) -> None:
    path = write(project / "goex.toml", text)
    with pytest.raises(ConfigError, match=message) as info:
        load_config(project / "src", environ={})
    if key is not None:
        assert info.value.key == key
    if "TOML" in message or "section" in message:
        assert str(path) in str(info.value)


def test_bad_user_file_is_named(tmp_path: Path) -> None:
    path = write(user_config_file(), "[fs]\nbackend = \n")
    with pytest.raises(ConfigError, match="not valid TOML") as info:
        load_config(tmp_path, environ={})
    assert info.value.path == str(path)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("GOEX_DB_LOCK_TIMEOUT", "fast", "lock_timeout must be a number, not 'fast'"),
        ("GOEX_DB_LOCK_TIMEOUT", "-1", "lock_timeout must be positive"),
        ("GOEX_MODEL_MAX_RETRIES", "2.5", "max_retries must be a number"),
        ("GOEX_POLICY_READ_ONLY", "maybe", "read_only must be true or false"),
        ("GOEX_POLICY_MAX_ROWS_TOTAL", "lots", "max_rows_total must be a number"),
        ("GOEX_DECIDE", "yolo", "decide mode 'yolo' is not one of"),
    ],
)
def test_bad_environment_values(tmp_path: Path, name: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(tmp_path, environ={name: value})


def test_config_is_immutable(tmp_path: Path) -> None:
    config = load_config(tmp_path, environ={})
    with pytest.raises(AttributeError):
        config.db.lock_timeout = 1.0  # type: ignore[misc]


def test_a_project_file_cannot_switch_the_sandbox_off(tmp_path: Path) -> None:
    (tmp_path / "goex.toml").write_text('[fs]\nsandbox = "none"\n')
    with pytest.raises(ConfigError, match=r"fs\.sandbox may only be set in"):
        load_config(tmp_path, environ={})
    # The operator's own environment may (on a machine without bubblewrap).
    (tmp_path / "goex.toml").write_text('[review]\ndecide = "policy"\n')
    assert load_config(tmp_path, environ={"GOEX_FS_SANDBOX": "none"}).fs.sandbox == "none"


def test_which_files_are_secret_is_the_operators_to_say(tmp_path: Path) -> None:
    for key in ("secret_paths", "not_secret", "read_paths"):
        (tmp_path / "goex.toml").write_text(f'[fs]\n{key} = ["src/**"]\n')
        with pytest.raises(ConfigError, match=rf"fs\.{key} may only be set in"):
            load_config(tmp_path, environ={})
    (tmp_path / "goex.toml").unlink()
    user = user_config_file()  # the operator's, in this test's XDG_CONFIG_HOME
    user.parent.mkdir(parents=True, exist_ok=True)
    user.write_text('[fs]\nsecret_paths = ["config/*.yaml", "*.sqlite"]\n')
    assert load_config(tmp_path, environ={}).fs.secret_paths == ("config/*.yaml", "*.sqlite")
    environ = {"GOEX_FS_NOT_SECRET": "fixtures/*.pem, test.key"}
    assert load_config(tmp_path, environ=environ).fs.not_secret == ("fixtures/*.pem", "test.key")
    user.write_text("[fs]\nsecret_paths = [1]\n")
    with pytest.raises(ConfigError, match="wrong type"):
        load_config(tmp_path, environ={})


def test_switches_are_booleans_from_any_source(tmp_path: Path) -> None:
    environ = {"GOEX_DB_DRY_RUN_CODE": "yes", "GOEX_FS_NETWORK": "0"}
    config = load_config(tmp_path, environ=environ)
    assert config.db.dry_run_code is True and config.fs.network is False
    assert load_config(tmp_path, environ={}, overrides={"fs.network": True}).fs.network is True
    with pytest.raises(ConfigError, match="true or false"):
        load_config(tmp_path, environ={"GOEX_FS_NETWORK": "sometimes"})
